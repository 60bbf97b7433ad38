/*
 * Client-side TLS: trust anchors and their sources, checking a server's
 * chain, explaining a failed check, and the certs folder's files. See
 * include/atrium/tlsclient.h.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "atrium/ca.h"
#include "atrium/tlsclient.h"
#include "atrium/util.h"
#include "atrium/x509.h"

/* ------------------------------------------------------------ trust */

struct anchor {
	X509 *cert;
	char *from; /* where it came from, for messages */
};

struct atr_trust {
	struct anchor *a;
	size_t n, cap;
	int system;	    /* the system's roots are trusted too */
	X509_STORE *store;  /* built from the above on first use; NULL after a change */
};

struct atr_trust *
atr_trust_new(void)
{
	return calloc(1, sizeof(struct atr_trust));
}

void
atr_trust_free(struct atr_trust *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->n; i++) {
		X509_free(t->a[i].cert);
		free(t->a[i].from);
	}
	free(t->a);
	X509_STORE_free(t->store);
	free(t);
}

void
atr_trust_add_system(struct atr_trust *t)
{
	t->system = 1;
	X509_STORE_free(t->store);
	t->store = NULL;
}

const char *
atr_trust_system_dir(void)
{
	const char *d = getenv(X509_get_default_cert_dir_env());

	return d != NULL && *d != '\0' ? d : X509_get_default_cert_dir();
}

int
atr_trust_add_cert(struct atr_trust *t, X509 *cert, const char *from, struct atr_err *err)
{
	for (size_t i = 0; i < t->n; i++)
		if (X509_cmp(t->a[i].cert, cert) == 0)
			return 0;
	if (t->n == ATR_TRUST_MAX_ANCHORS)
		return atr_err_set(err, ATR_E_TOO_LARGE,
		    "more than %d trusted certificates; %s is one too many", ATR_TRUST_MAX_ANCHORS,
		    from);
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		struct anchor *a = reallocarray(t->a, cap, sizeof(*a));

		if (a == NULL)
			return atr_err_set(err, ATR_E_NOMEM, NULL);
		t->a = a;
		t->cap = cap;
	}
	if ((t->a[t->n].from = strdup(from)) == NULL)
		return atr_err_set(err, ATR_E_NOMEM, NULL);
	if (!X509_up_ref(cert)) {
		free(t->a[t->n].from);
		return atr_err_set(err, ATR_E_NOMEM, NULL);
	}
	t->a[t->n++].cert = cert;
	X509_STORE_free(t->store);
	t->store = NULL;
	return 0;
}

size_t
atr_trust_count(const struct atr_trust *t)
{
	return t->n;
}

X509 *
atr_trust_anchor(const struct atr_trust *t, size_t i, const char **from)
{
	if (i >= t->n)
		return NULL;
	if (from != NULL)
		*from = t->a[i].from;
	return t->a[i].cert;
}

/* Adds the trusted certificates of a keystore file (see atr_trust_add_dir()). */
static int
add_keystore(struct atr_trust *t, const char *dir, const char *path, struct atr_err *err)
{
	char passpath[4200], from[4400];
	char *pass = NULL;
	struct atr_ks *ks = NULL;
	struct atr_err perr;
	int rc = -1;

	snprintf(passpath, sizeof(passpath), "%s/" ATR_TRUST_PASS, dir);
	if ((pass = atr_passfile_read(passpath, &perr)) == NULL && perr.code != ATR_E_NOT_FOUND) {
		if (err != NULL)
			*err = perr;
		return -1;
	}
	if ((ks = atr_ks_load_file(path, pass, err)) == NULL) {
		if (err != NULL && err->code == ATR_E_KS_PASSWORD)
			atr_err_set(err, ATR_E_KS_PASSWORD,
			    "cannot read the trust store %s: its password is not the one in %s", path,
			    passpath);
		else if (pass == NULL)
			atr_err_prefix(err, "cannot read the trust store %s (there is no %s beside "
			    "it)", path, ATR_TRUST_PASS);
		else
			atr_err_prefix(err, "cannot read the trust store %s", path);
		goto out;
	}
	for (size_t i = 0; i < atr_ks_count(ks); i++) {
		const struct atr_ks_entry *e = atr_ks_entry_at(ks, i);
		X509 *c = atr_ks_entry_cert(e);

		/* Java trusts a key entry's own certificate as well. */
		if (c == NULL)
			continue;
		snprintf(from, sizeof(from), "%s (alias %s)", path, atr_ks_entry_alias(e));
		if (atr_trust_add_cert(t, c, from, err) == -1)
			goto out;
	}
	rc = 0;
out:
	atr_ks_free(ks);
	atr_free_secret(pass);
	return rc;
}

/* Adds every certificate in a PEM, DER or PKCS#7 file. */
static int
add_cert_file(struct atr_trust *t, const char *path, struct atr_err *err)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	STACK_OF(X509) *certs = NULL;
	int rc = -1;

	if (atr_read_file(path, ATR_KS_MAX_FILE, &buf, &len, err) == -1)
		return -1;
	if ((certs = atr_x509_read_certs(buf, len, err)) == NULL) {
		atr_err_prefix(err, "cannot read trusted certificates from %s", path);
		goto out;
	}
	if (sk_X509_num(certs) == 0) {
		atr_err_set(err, ATR_E_CERT_INVALID,
		    "%s holds no certificate; remove it from its certs folder or replace it", path);
		goto out;
	}
	for (int i = 0; i < sk_X509_num(certs); i++)
		if (atr_trust_add_cert(t, sk_X509_value(certs, i), path, err) == -1)
			goto out;
	rc = 0;
out:
	sk_X509_pop_free(certs, X509_free);
	free(buf);
	return rc;
}

static int
cert_file_name(const char *name)
{
	static const char *const ext[] = {".crt", ".pem", ".cer", ".der"};
	size_t n = strlen(name);

	if (name[0] == '.')
		return 0;
	for (size_t i = 0; i < sizeof(ext) / sizeof(ext[0]); i++)
		if (n > 4 && strcasecmp(name + n - 4, ext[i]) == 0)
			return 1;
	return 0;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
atr_trust_add_dir(struct atr_trust *t, const char *dir, struct atr_err *err)
{
	char path[4200];
	char *names[ATR_TRUST_MAX_FILES];
	size_t nnames = 0;
	struct dirent *d;
	DIR *dp;
	int rc = -1;

	if ((dp = opendir(dir)) == NULL) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		return atr_err_set(err, ATR_E_IO, "cannot read the certs folder %s: %s", dir,
		    strerror(errno));
	}
	snprintf(path, sizeof(path), "%s/" ATR_TRUST_JKS, dir);
	if (access(path, F_OK) == 0 && add_keystore(t, dir, path, err) == -1)
		goto out;
	/* Sorted, so that the first file to name a certificate is the one reported. */
	while ((d = readdir(dp)) != NULL) {
		if (!cert_file_name(d->d_name))
			continue;
		if (nnames == ATR_TRUST_MAX_FILES) {
			atr_err_set(err, ATR_E_TOO_LARGE,
			    "the certs folder %s holds more than %d certificate files", dir,
			    ATR_TRUST_MAX_FILES);
			goto out;
		}
		if ((names[nnames] = strdup(d->d_name)) == NULL) {
			atr_err_set(err, ATR_E_NOMEM, NULL);
			goto out;
		}
		nnames++;
	}
	qsort(names, nnames, sizeof(names[0]), name_cmp);
	for (size_t i = 0; i < nnames; i++) {
		struct stat st;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
			continue;
		if (add_cert_file(t, path, err) == -1)
			goto out;
	}
	rc = 0;
out:
	for (size_t i = 0; i < nnames; i++)
		free(names[i]);
	closedir(dp);
	return rc;
}

/* The OpenSSL store for t, built on first use (borrowed). */
static X509_STORE *
trust_store(struct atr_trust *t, struct atr_err *err)
{
	X509_STORE *st;

	if (t->store != NULL)
		return t->store;
	ERR_clear_error();
	if ((st = X509_STORE_new()) == NULL)
		goto fail;
	if (t->system && X509_STORE_set_default_paths(st) != 1)
		goto fail;
	for (size_t i = 0; i < t->n; i++)
		if (X509_STORE_add_cert(st, t->a[i].cert) != 1)
			goto fail;
	t->store = st;
	ERR_clear_error();
	return st;
fail:
	X509_STORE_free(st);
	atr_err_set_ssl(err, ATR_E_NOMEM, "cannot build the trust store");
	return NULL;
}

/* ------------------------------------------------------- certificates */

static int64_t
asn1_time_secs(const ASN1_TIME *at)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (at == NULL || ASN1_TIME_to_tm(at, &tm) != 1)
		return 0;
	return (int64_t)timegm(&tm);
}

/* Appends "sep text" to buf, truncating; control characters become '?'. */
static void
append(char *buf, size_t len, const char *sep, const char *text, size_t tlen)
{
	size_t n = strlen(buf);

	if (n > 0 && n + strlen(sep) < len) {
		memcpy(buf + n, sep, strlen(sep) + 1);
		n += strlen(sep);
	}
	for (size_t i = 0; i < tlen && n + 1 < len; i++) {
		unsigned char c = (unsigned char)text[i];

		buf[n++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	buf[n] = '\0';
}

static void
san_text(X509 *cert, char *buf, size_t len)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);

	buf[0] = '\0';
	for (int i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		char item[300];
		const unsigned char *d;
		int n;

		switch (g->type) {
		case GEN_DNS:
		case GEN_EMAIL:
		case GEN_URI:
			d = ASN1_STRING_get0_data(g->d.ia5);
			n = ASN1_STRING_length(g->d.ia5);
			snprintf(item, sizeof(item), "%s:%.*s",
			    g->type == GEN_DNS ? "DNS" : g->type == GEN_URI ? "URI" : "email",
			    n > 250 ? 250 : n, (const char *)d);
			break;
		case GEN_IPADD: {
			char ip[INET6_ADDRSTRLEN] = "?";

			d = ASN1_STRING_get0_data(g->d.ip);
			n = ASN1_STRING_length(g->d.ip);
			if (n == 4)
				inet_ntop(AF_INET, d, ip, sizeof(ip));
			else if (n == 16)
				inet_ntop(AF_INET6, d, ip, sizeof(ip));
			snprintf(item, sizeof(item), "IP:%s", ip);
			break;
		}
		default:
			continue;
		}
		append(buf, len, ", ", item, strlen(item));
	}
	GENERAL_NAMES_free(gens);
	ERR_clear_error();
}

static void
name_text(const X509_NAME *name, char *buf, size_t len)
{
	char *s = name != NULL ? atr_x509_name_format(name) : NULL;

	buf[0] = '\0';
	if (s != NULL)
		append(buf, len, "", s, strlen(s));
	free(s);
}

/* The last CN of name, as UTF-8, into buf ("" when there is none). */
static void
cn_text(const X509_NAME *name, char *buf, size_t len)
{
	const X509_NAME_ENTRY *e;
	unsigned char *utf8 = NULL;
	int i = -1, last = -1, n;

	buf[0] = '\0';
	while ((i = X509_NAME_get_index_by_NID(name, NID_commonName, i)) >= 0)
		last = i;
	if (last < 0 || (e = X509_NAME_get_entry(name, last)) == NULL ||
	    (n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(e))) < 0)
		return;
	snprintf(buf, len, "%.*s", n, (const char *)utf8);
	OPENSSL_free(utf8);
}

int
atr_cert_info_get(X509 *cert, struct atr_cert_info *info)
{
	EVP_PKEY *pub;

	memset(info, 0, sizeof(*info));
	if (cert == NULL)
		return -1;
	name_text(X509_get_subject_name(cert), info->subject, sizeof(info->subject));
	name_text(X509_get_issuer_name(cert), info->issuer, sizeof(info->issuer));
	san_text(cert, info->names, sizeof(info->names));
	cn_text(X509_get_subject_name(cert), info->cn, sizeof(info->cn));
	if (atr_x509_fingerprint(cert, "SHA-256", info->sha256, sizeof(info->sha256)) == -1 ||
	    atr_x509_fingerprint(cert, "SHA-1", info->sha1, sizeof(info->sha1)) == -1)
		return -1;
	info->not_before = asn1_time_secs(X509_get0_notBefore(cert));
	info->not_after = asn1_time_secs(X509_get0_notAfter(cert));
	info->is_ca = (X509_get_extension_flags(cert) & EXFLAG_CA) != 0;
	info->self_signed = atr_x509_self_signed(cert);
	if ((pub = X509_get0_pubkey(cert)) == NULL ||
	    atr_x509_key_describe(pub, 0, info->keyalg, sizeof(info->keyalg)) == -1)
		snprintf(info->keyalg, sizeof(info->keyalg), "unknown key");
	ERR_clear_error();
	return 0;
}

void
atr_tls_format_time(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL || strftime(buf, len, "%Y-%m-%d %H:%M UTC", &tm) == 0)
		snprintf(buf, len, "%lld", (long long)t);
}

STACK_OF(X509) *
atr_tls_chain_path(STACK_OF(X509) *chain)
{
	int n = sk_X509_num(chain);
	STACK_OF(X509) *path;
	X509 *cur;

	if (n <= 0 || (path = sk_X509_new_null()) == NULL)
		return NULL;
	cur = sk_X509_value(chain, 0);
	/* At most n steps: a chain that loops stops where it began to. */
	for (int step = 0; step < n; step++) {
		X509 *next = NULL;

		if (!X509_up_ref(cur))
			goto fail;
		if (!sk_X509_push(path, cur)) {
			X509_free(cur);
			goto fail;
		}
		if (atr_x509_self_signed(cur))
			break;
		for (int j = 0; j < n && next == NULL; j++) {
			X509 *c = sk_X509_value(chain, j);
			int seen = 0;

			for (int k = 0; k < sk_X509_num(path) && !seen; k++)
				seen = X509_cmp(c, sk_X509_value(path, k)) == 0;
			if (!seen && atr_x509_signed_by(cur, c))
				next = c;
		}
		if (next == NULL)
			break;
		cur = next;
	}
	ERR_clear_error();
	return path;
fail:
	sk_X509_pop_free(path, X509_free);
	ERR_clear_error();
	return NULL;
}

int
atr_tls_fingerprint_match(X509 *cert, const char *fp)
{
	char want[65], have[100];
	size_t n = 0;

	if (strncasecmp(fp, "SHA256:", 7) == 0)
		fp += 7;
	else if (strncasecmp(fp, "SHA-256:", 8) == 0)
		fp += 8;
	for (; *fp != '\0'; fp++) {
		if (*fp == ':' || *fp == ' ')
			continue;
		if (!isxdigit((unsigned char)*fp) || n == 64)
			return 0;
		want[n++] = (char)toupper((unsigned char)*fp);
	}
	want[n] = '\0';
	if (n != 64 || atr_x509_fingerprint(cert, "SHA-256", have, sizeof(have)) == -1)
		return 0;
	n = 0;
	for (const char *p = have; *p != '\0'; p++)
		if (*p != ':' && (n >= 64 || *p != want[n++]))
			return 0;
	return n == 64;
}

char *
atr_tls_key_pem(EVP_PKEY *key, size_t *len)
{
	BIO *mem = BIO_new(BIO_s_mem());
	char *data, *out = NULL;
	long n;

	if (mem == NULL)
		return NULL;
	if (PEM_write_bio_PrivateKey(mem, key, NULL, NULL, 0, NULL, NULL) == 1 &&
	    (n = BIO_get_mem_data(mem, &data)) > 0 && (out = malloc((size_t)n + 1)) != NULL) {
		memcpy(out, data, (size_t)n);
		out[n] = '\0';
		if (len != NULL)
			*len = (size_t)n;
	}
	if ((n = BIO_get_mem_data(mem, &data)) > 0)
		OPENSSL_cleanse(data, (size_t)n);
	BIO_free(mem);
	ERR_clear_error();
	return out;
}

/* ------------------------------------------------------------ checks */

static CRYPTO_ONCE vx_once = CRYPTO_ONCE_STATIC_INIT;
static int vx_index = -1;

static void
vx_init(void)
{
	vx_index = X509_STORE_CTX_get_ex_new_index(0, (void *)"atrium verdict", NULL, NULL, NULL);
}

static void
copy_text(char *dst, size_t n, const char *src)
{
	dst[0] = '\0';
	append(dst, n, "", src, strlen(src));
}

/* OpenSSL's verify callback: records each problem and goes on, so that a
 * verdict lists all of them, not only the first one OpenSSL meets. */
static int
collect_cb(int ok, X509_STORE_CTX *x)
{
	struct atr_tls_verdict *v = X509_STORE_CTX_get_ex_data(x, vx_index);
	int e = X509_STORE_CTX_get_error(x);
	int depth = X509_STORE_CTX_get_error_depth(x);
	X509 *cert = X509_STORE_CTX_get_current_cert(x);
	unsigned p;

	if (ok || v == NULL)
		return ok;
	switch (e) {
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
	case X509_V_ERR_CERT_UNTRUSTED:
	case X509_V_ERR_CERT_REJECTED:
		p = ATR_TLSV_UNTRUSTED;
		break;
	case X509_V_ERR_CERT_HAS_EXPIRED:
		p = ATR_TLSV_EXPIRED;
		break;
	case X509_V_ERR_CERT_NOT_YET_VALID:
		p = ATR_TLSV_NOT_YET_VALID;
		break;
	case X509_V_ERR_HOSTNAME_MISMATCH:
	case X509_V_ERR_IP_ADDRESS_MISMATCH:
		p = ATR_TLSV_NAME;
		break;
	case X509_V_ERR_INVALID_PURPOSE:
	case X509_V_ERR_INVALID_CA:
	case X509_V_ERR_KEYUSAGE_NO_CERTSIGN:
	case X509_V_ERR_PATH_LENGTH_EXCEEDED:
		p = ATR_TLSV_PURPOSE;
		break;
	default:
		p = ATR_TLSV_OTHER;
		break;
	}
	if ((p & (ATR_TLSV_EXPIRED | ATR_TLSV_NOT_YET_VALID)) && cert != NULL &&
	    (v->bad_subject[0] == '\0' || depth == 0)) {
		name_text(X509_get_subject_name(cert), v->bad_subject, sizeof(v->bad_subject));
		v->bad_not_before = asn1_time_secs(X509_get0_notBefore(cert));
		v->bad_not_after = asn1_time_secs(X509_get0_notAfter(cert));
		v->bad_is_leaf = depth == 0;
	}
	if ((p & (ATR_TLSV_OTHER | ATR_TLSV_PURPOSE)) && v->detail[0] == '\0')
		snprintf(v->detail, sizeof(v->detail), "%s (certificate %d of the chain)",
		    X509_verify_cert_error_string(e), depth + 1);
	if (v->openssl_error == 0)
		v->openssl_error = e;
	v->problems |= p;
	return 1;
}

/*
 * Verifies the chain x was set up with (its leaf and untrusted
 * certificates, its store) for host, filling v. Used both inside a
 * handshake and on its own, so that both say the same.
 */
static int
run_verify(struct atr_trust *t, X509_STORE_CTX *x, const char *host, int64_t now,
    struct atr_tls_verdict *v, struct atr_err *err)
{
	X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(x);
	STACK_OF(X509) *built;
	X509 *leaf = X509_STORE_CTX_get0_cert(x), *top;
	char ip[INET6_ADDRSTRLEN + 2];
	size_t hl;
	int rc;

	memset(v, 0, sizeof(*v));
	copy_text(v->host, sizeof(v->host), host);
	v->now = now != 0 ? now : (int64_t)time(NULL);
	v->chain_len = sk_X509_num(X509_STORE_CTX_get0_untrusted(x));
	if (leaf == NULL) {
		v->problems = ATR_TLSV_NO_CERT;
		return 0;
	}
	if (v->chain_len == 0)
		v->chain_len = 1;
	atr_cert_info_get(leaf, &v->leaf);
	if (!CRYPTO_THREAD_run_once(&vx_once, vx_init) || vx_index < 0 ||
	    !X509_STORE_CTX_set_ex_data(x, vx_index, v))
		return atr_err_set_ssl(err, ATR_E_NOMEM, "cannot check the certificate");
	/* "[::1]" and "::1" alike. */
	hl = strlen(host);
	if (host[0] == '[' && hl > 2 && hl < sizeof(ip) && host[hl - 1] == ']') {
		memcpy(ip, host + 1, hl - 2);
		ip[hl - 2] = '\0';
	} else {
		snprintf(ip, sizeof(ip), "%s", host);
	}
	X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_PARTIAL_CHAIN);
	X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_SSL_SERVER);
	if (now != 0)
		X509_VERIFY_PARAM_set_time(param, (time_t)now);
	if (atr_ca_is_ip(ip)) {
		if (X509_VERIFY_PARAM_set1_ip_asc(param, ip) != 1)
			return atr_err_set_ssl(err, ATR_E_USAGE, "'%s' is not an address", host);
	} else {
		X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		if (X509_VERIFY_PARAM_set1_host(param, host, 0) != 1)
			return atr_err_set_ssl(err, ATR_E_USAGE, "'%s' is not a host name", host);
	}
	X509_STORE_CTX_set_verify_cb(x, collect_cb);
	ERR_clear_error();
	rc = X509_verify_cert(x);
	X509_STORE_CTX_set_ex_data(x, vx_index, NULL);
	if (rc <= 0 && v->problems == 0) {
		v->problems = ATR_TLSV_OTHER;
		snprintf(v->detail, sizeof(v->detail), "%s",
		    X509_verify_cert_error_string(X509_STORE_CTX_get_error(x)));
		v->openssl_error = X509_STORE_CTX_get_error(x);
	}
	ERR_clear_error();
	built = X509_STORE_CTX_get0_chain(x);
	top = sk_X509_num(built) > 0 ? sk_X509_value(built, sk_X509_num(built) - 1) : leaf;
	name_text(X509_get_subject_name(top), v->top_subject, sizeof(v->top_subject));
	name_text(X509_get_issuer_name(top), v->top_issuer, sizeof(v->top_issuer));
	if (atr_x509_fingerprint(top, "SHA-256", v->top_sha256, sizeof(v->top_sha256)) == -1)
		v->top_sha256[0] = '\0';
	v->top_self_signed = atr_x509_self_signed(top);
	if (!(v->problems & ATR_TLSV_UNTRUSTED)) {
		const char *from = NULL;

		for (size_t i = 0; i < t->n && from == NULL; i++)
			if (X509_cmp(t->a[i].cert, top) == 0)
				from = t->a[i].from;
		if (from != NULL)
			copy_text(v->anchor_from, sizeof(v->anchor_from), from);
		else
			snprintf(v->anchor_from, sizeof(v->anchor_from),
			    "the system's trusted roots (%s)", atr_trust_system_dir());
	}
	ERR_clear_error();
	return 0;
}

int
atr_trust_check(struct atr_trust *t, STACK_OF(X509) *chain, const char *host, int64_t now,
    struct atr_tls_verdict *v, struct atr_err *err)
{
	X509_STORE *st;
	X509_STORE_CTX *x = NULL;
	int rc;

	memset(v, 0, sizeof(*v));
	if (sk_X509_num(chain) <= 0) {
		copy_text(v->host, sizeof(v->host), host);
		v->now = now;
		v->problems = ATR_TLSV_NO_CERT;
		return 0;
	}
	if ((st = trust_store(t, err)) == NULL)
		return -1;
	if ((x = X509_STORE_CTX_new()) == NULL ||
	    X509_STORE_CTX_init(x, st, sk_X509_value(chain, 0), chain) != 1) {
		X509_STORE_CTX_free(x);
		return atr_err_set_ssl(err, ATR_E_NOMEM, "cannot check the certificate");
	}
	rc = run_verify(t, x, host, now, v, err);
	X509_STORE_CTX_free(x);
	return rc;
}

/* Shortens long names for one-sentence messages. */
static const char *
short_name(const char *s, char *buf, size_t len)
{
	if (strlen(s) < len)
		return s;
	snprintf(buf, len, "%.*s...", (int)len - 4, s);
	return buf;
}

/*
 * Whether s could be what a client connects with: a DNS name (letters,
 * digits, '-', dots; a leading "*." wildcard) or an IP address. A person's
 * name ("John Smith") or an organisation is not.
 */
static int
address_like(const char *s)
{
	size_t n = strlen(s), label = 0;

	if (atr_ca_is_ip(s))
		return 1;
	if (strncmp(s, "*.", 2) == 0)
		s += 2;
	if (n == 0 || n > 253 || *s == '\0')
		return 0;
	for (; *s != '\0'; s++) {
		if (*s == '.') {
			if (label == 0)
				return 0;
			label = 0;
		} else if (isalnum((unsigned char)*s) || *s == '-' || *s == '_') {
			if (++label > 63)
				return 0;
		} else {
			return 0;
		}
	}
	return label > 0;
}

enum atr_errcode
atr_tls_verdict_explain(const struct atr_tls_verdict *v, const char *hostport, unsigned flags,
    char *buf, size_t len)
{
	char a[40], b[40], now[40], s1[100], s2[100];
	enum atr_errcode code = ATR_E_CERT_INVALID;
	size_t n;

	buf[0] = '\0';
	if (v->problems == 0)
		return ATR_E_OK;
#define ADD(...)                                                               \
	do {                                                                   \
		n = strlen(buf);                                               \
		if (n < len)                                                   \
			snprintf(buf + n, len - n, __VA_ARGS__);               \
	} while (0)
	if (v->problems & ATR_TLSV_NO_CERT) {
		ADD("%s sent no certificate; it cannot be verified", hostport);
		return ATR_E_TLS;
	}
	/* "Changed" only for a chain that no longer reaches a trusted root. */
	if ((flags & ATR_TLSV_KNOWN) && (v->problems & ATR_TLSV_UNTRUSTED))
		ADD("WARNING: the certificate of %s has changed since you last connected, and",
		    hostport);
	else
		ADD("the certificate of %s", hostport);
	if (v->problems & ATR_TLSV_NAME) {
		if (v->leaf.names[0] != '\0')
			ADD(" is for %s, not for %s; connect with one of those names, or have its "
			    "administrator add %s to the certificate",
			    v->leaf.names, v->host, v->host);
		else if (atr_ca_is_ip(v->leaf.cn))
			/* An address is matched in a SubjectAltName only, never in the CN. */
			ADD(" has the address %s in its CN only and no SubjectAltName, and clients "
			    "match addresses in SubjectAltNames only: no name works, %s included; "
			    "have its administrator make one with keytool -ext SAN=%s:%s",
			    v->leaf.cn, v->host, atr_ca_is_ip(v->host) ? "ip" : "dns", v->host);
		else if (address_like(v->leaf.cn))
			/* No SAN: the CN is the only name a client may match. */
			ADD(" is for %s only (it has no SubjectAltName), not for %s; connect with "
			    "%s, or have its administrator make one that names %s too "
			    "(keytool -ext SAN=%s:%s,%s:%s)",
			    short_name(v->leaf.cn, s1, sizeof(s1)), v->host,
			    short_name(v->leaf.cn, s1, sizeof(s1)), v->host,
			    atr_ca_is_ip(v->leaf.cn) ? "ip" : "dns", v->leaf.cn,
			    atr_ca_is_ip(v->host) ? "ip" : "dns", v->host);
		else
			ADD(" names no address at all: it has no SubjectAltName, and %s%s%s is not a "
			    "host name or an address, so no name works, %s included; have its "
			    "administrator make one that names %s (keytool -ext SAN=%s:%s)",
			    v->leaf.cn[0] != '\0' ? "its CN '" : "",
			    v->leaf.cn[0] != '\0' ? short_name(v->leaf.cn, s1, sizeof(s1)) :
			    "its subject (no CN)",
			    v->leaf.cn[0] != '\0' ? "'" : "",
			    v->host, v->host, atr_ca_is_ip(v->host) ? "ip" : "dns", v->host);
		code = ATR_E_CERT_INVALID;
	}
	if (v->problems & (ATR_TLSV_EXPIRED | ATR_TLSV_NOT_YET_VALID)) {
		atr_tls_format_time(v->bad_not_before, a, sizeof(a));
		atr_tls_format_time(v->bad_not_after, b, sizeof(b));
		atr_tls_format_time(v->now, now, sizeof(now));
		if (v->problems & ATR_TLSV_NAME)
			ADD("; it also");
		if (!v->bad_is_leaf)
			ADD(" has a CA certificate in its chain, %s, that",
			    short_name(v->bad_subject, s1, sizeof(s1)));
		if (v->problems & ATR_TLSV_EXPIRED)
			ADD(" expired on %s (valid from %s until %s); its administrator must renew it",
			    b, a, b);
		else
			ADD(" is not valid before %s (valid from %s until %s; it is now %s): check "
			    "this computer's clock", a, a, b, now);
		if (!(v->problems & ATR_TLSV_NAME))
			code = ATR_E_CERT_EXPIRED;
	}
	if (v->problems & (ATR_TLSV_PURPOSE | ATR_TLSV_OTHER)) {
		if (v->problems & (ATR_TLSV_NAME | ATR_TLSV_EXPIRED | ATR_TLSV_NOT_YET_VALID))
			ADD("; it also");
		ADD(" is not valid for a TLS server: %s", v->detail);
	}
	if (v->problems & ATR_TLSV_UNTRUSTED) {
		if (v->problems & ~(unsigned)ATR_TLSV_UNTRUSTED)
			ADD("; and it");
		if (v->chain_len == 1 && v->leaf.self_signed)
			ADD(" is self-signed and not trusted");
		else if (v->top_self_signed)
			ADD(" is not trusted: it chains to the root %s, which is not one of your "
			    "trusted roots", short_name(v->top_subject, s2, sizeof(s2)));
		else
			ADD(" is not trusted: it is issued by %s, which is not one of your trusted "
			    "roots", short_name(v->top_issuer, s2, sizeof(s2)));
		ADD(" (SHA-256 fingerprint of the server's certificate: %s). %s, then run: atrium "
		    "certs trust %s",
		    v->leaf.sha256,
		    (flags & ATR_TLSV_KNOWN) ?
			"This may be an attack: trust it only if the server's administrator "
			"confirms that fingerprint" :
			"If this is your server, compare that fingerprint with the one its "
			"administrator sees",
		    hostport);
		code = ATR_E_CERT_UNTRUSTED;
	}
#undef ADD
	return code;
}

/* ------------------------------------------------------- connections */

struct atr_tlsc {
	struct atr_trust *trust;      /* borrowed */
	char host[256];
	struct atr_tls_verdict v;     /* of the last handshake */
	int checked;                  /* v is set */
};

struct atr_tlsc *
atr_tlsc_new(struct atr_trust *t, const char *host, struct atr_err *err)
{
	struct atr_tlsc *c;

	if (strlen(host) >= sizeof(c->host)) {
		atr_err_set(err, ATR_E_USAGE, "the host name is too long");
		return NULL;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		return NULL;
	}
	c->trust = t;
	snprintf(c->host, sizeof(c->host), "%s", host);
	return c;
}

void
atr_tlsc_free(struct atr_tlsc *c)
{
	free(c);
}

/* Replaces OpenSSL's X509_verify_cert() in the handshake with run_verify(). */
static int
app_verify(X509_STORE_CTX *x, void *arg)
{
	struct atr_tlsc *c = arg;

	if (run_verify(c->trust, x, c->host, 0, &c->v, NULL) == -1) {
		X509_STORE_CTX_set_error(x, X509_V_ERR_OUT_OF_MEM);
		return 0;
	}
	c->checked = 1;
	if (c->v.problems != 0) {
		X509_STORE_CTX_set_error(x, c->v.openssl_error != 0 ? c->v.openssl_error :
		    X509_V_ERR_APPLICATION_VERIFICATION);
		return 0;
	}
	X509_STORE_CTX_set_error(x, X509_V_OK);
	return 1;
}

int
atr_tlsc_setup(struct atr_tlsc *c, void *ssl_ctx, struct atr_err *err)
{
	SSL_CTX *ctx = ssl_ctx;
	X509_STORE *st;

	c->checked = 0;
	if ((st = trust_store(c->trust, err)) == NULL)
		return -1;
	ERR_clear_error();
	SSL_CTX_set1_cert_store(ctx, st);
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1)
		return atr_err_set_ssl(err, ATR_E_TLS, "cannot set up TLS");
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_cert_verify_callback(ctx, app_verify, c);
	/*
	 * libcurl asks OpenSSL to release its record buffers whenever they are
	 * empty; for a client streaming hundreds of MB that is a malloc and a
	 * free of 16 KiB per record. Keep them: 34 KiB for the connection.
	 */
	SSL_CTX_clear_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	return 0;
}

const struct atr_tls_verdict *
atr_tlsc_verdict(const struct atr_tlsc *c)
{
	return c->checked ? &c->v : NULL;
}

/* ------------------------------------------------------- small files */


char *
atr_passfile_create(const char *path, struct atr_err *err)
{
	unsigned char raw[12];
	char line[2 * sizeof(raw) + 2];
	char *s = NULL;
	size_t n;
	int fd;

	if (atr_random_bytes(raw, sizeof(raw)) == -1) {
		atr_err_set(err, ATR_E_INTERNAL, "no randomness for a password");
		return NULL;
	}
	atr_hex(raw, sizeof(raw), line);
	atr_wipe(raw, sizeof(raw));
	n = strlen(line);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) == -1) {
		atr_err_set(err, errno == EEXIST ? ATR_E_EXISTS : ATR_E_IO, "cannot create %s: %s",
		    path, strerror(errno));
		goto out;
	}
	line[n] = '\n';
	if (write(fd, line, n + 1) != (ssize_t)(n + 1) || fsync(fd) == -1) {
		atr_err_set(err, ATR_E_IO, "cannot write %s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		goto out;
	}
	close(fd);
	atr_fsync_dir_of(path);
	line[n] = '\0';
	if ((s = strdup(line)) == NULL)
		atr_err_set(err, ATR_E_NOMEM, NULL);
out:
	atr_wipe(line, sizeof(line));
	return s;
}

int
atr_trust_store_open(const char *dir, int create, struct atr_ks **ks, char **pass,
    struct atr_err *err)
{
	char jks[4200], pp[4200];
	struct atr_err perr;
	unsigned char raw[12];
	char hex[2 * sizeof(raw) + 1];

	*ks = NULL;
	*pass = NULL;
	snprintf(jks, sizeof(jks), "%s/" ATR_TRUST_JKS, dir);
	snprintf(pp, sizeof(pp), "%s/" ATR_TRUST_PASS, dir);
	if ((*pass = atr_passfile_read(pp, &perr)) == NULL && perr.code != ATR_E_NOT_FOUND) {
		if (err != NULL)
			*err = perr;
		return -1;
	}
	if (access(jks, F_OK) == 0) {
		if (*pass == NULL)
			return atr_err_set(err, ATR_E_CONFIG,
			    "%s has no %s beside it, so it cannot be changed: put its password in %s",
			    jks, ATR_TRUST_PASS, pp);
		if ((*ks = atr_ks_load_file(jks, *pass, err)) == NULL) {
			if (err != NULL && err->code == ATR_E_KS_PASSWORD)
				atr_err_set(err, ATR_E_KS_PASSWORD,
				    "cannot open the trust store %s: its password is not the one in %s",
				    jks, pp);
			else
				atr_err_prefix(err, "cannot open the trust store %s", jks);
			goto fail;
		}
		return 0;
	}
	if (!create)
		return atr_err_set(err, ATR_E_NOT_FOUND,
		    "there is no trust store %s yet; atrium certs trust or atrium certs import "
		    "make one", jks);
	if (*pass == NULL) {
		if (atr_random_bytes(raw, sizeof(raw)) == -1)
			return atr_err_set(err, ATR_E_INTERNAL, "no randomness for a password");
		atr_hex(raw, sizeof(raw), hex);
		atr_wipe(raw, sizeof(raw));
		*pass = strdup(hex);
		atr_wipe(hex, sizeof(hex));
		if (*pass == NULL)
			return atr_err_set(err, ATR_E_NOMEM, NULL);
	}
	if ((*ks = atr_ks_new(ATR_KS_JKS)) == NULL) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		goto fail;
	}
	return 0;
fail:
	atr_free_secret(*pass);
	*pass = NULL;
	return -1;
}

int
atr_trust_store_save(const char *dir, struct atr_ks *ks, const char *pass, struct atr_err *err)
{
	char jks[4200], pp[4200], line[512];
	size_t n = strlen(pass);
	int rc;

	if (n + 2 > sizeof(line))
		return atr_err_set(err, ATR_E_USAGE, "the trust store's password is too long");
	if (atr_mkdirs(dir, 0700, err) == -1)
		return -1;
	snprintf(jks, sizeof(jks), "%s/" ATR_TRUST_JKS, dir);
	snprintf(pp, sizeof(pp), "%s/" ATR_TRUST_PASS, dir);
	/* The password first: a cert.jks without its cert.pass is of no use. */
	if (access(pp, F_OK) != 0) {
		memcpy(line, pass, n);
		line[n] = '\n';
		rc = atr_write_file_atomic(pp, line, n + 1, 0600, err);
		atr_wipe(line, sizeof(line));
		if (rc == -1)
			return -1;
	}
	if (atr_ks_save_file(ks, jks, pass, NULL, err) == -1)
		return atr_err_prefix(err, "cannot write %s", jks);
	return 0;
}
