/*
 * The served certificate: the local CA's (default) or the administrator's
 * keystore, checked before use and swapped atomically.
 */
#include <errno.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "atrium/ca.h"
#include "atrium/keystore.h"
#include "atrium/log.h"
#include "atrium/tls.h"
#include "atrium/util.h"
#include "atrium/x509.h"
#include "server/datadir.h"
#include "server/clientcert.h"
#include "server/tlsstate.h"

#define MAX_NAMES 64
#define RENEW_DAYS 30

struct tls_state {
	char *datadir;
	char tlsdir[4096];
	pthread_rwlock_t lock; /* guards ctx and info */
	SSL_CTX *ctx;
	struct tls_info info;
	int have_info;
	unsigned char *crl; /* the local CA's CRL as DER, for GET /ca.crl; guarded by lock */
	size_t crl_len;
	X509 *leaf;               /* the served certificate, for coverage; guarded by lock */
	char *chain_pem;          /* the served chain as PEM; guarded by lock */
	struct tls_coverage names; /* the names clients may use, found at load; guarded by lock */
	struct clientcert *cc;    /* client certificates' policy (clientcert.h); guarded by lock */
};

struct tls_state *
tls_state_new(const char *datadir)
{
	struct tls_state *ts = calloc(1, sizeof(*ts));

	if (ts == NULL || (ts->datadir = strdup(datadir)) == NULL) {
		free(ts);
		return NULL;
	}
	snprintf(ts->tlsdir, sizeof(ts->tlsdir), "%s/tls", datadir);
	pthread_rwlock_init(&ts->lock, NULL);
	return ts;
}

void
tls_state_free(struct tls_state *ts)
{
	if (ts == NULL)
		return;
	SSL_CTX_free(ts->ctx);
	clientcert_unref(ts->cc);
	free(ts->crl);
	X509_free(ts->leaf);
	free(ts->chain_pem);
	pthread_rwlock_destroy(&ts->lock);
	free(ts->datadir);
	free(ts);
}

SSL_CTX *
tls_state_ctx(struct tls_state *ts)
{
	SSL_CTX *ctx;

	pthread_rwlock_rdlock(&ts->lock);
	ctx = ts->ctx;
	if (ctx != NULL)
		SSL_CTX_up_ref(ctx);
	pthread_rwlock_unlock(&ts->lock);
	return ctx;
}

int
tls_state_info(struct tls_state *ts, struct tls_info *out)
{
	int rc = -1;

	pthread_rwlock_rdlock(&ts->lock);
	if (ts->have_info) {
		*out = ts->info;
		rc = 0;
	}
	pthread_rwlock_unlock(&ts->lock);
	return rc;
}

/* ---- the local CA's CRL */

/* Re-signs DIR/tls/ca.crl when due and keeps its DER for GET /ca.crl.
 * ca may be NULL: then it is loaded, and without a local CA there is no
 * CRL to serve. Failures are logged: the old CRL stays served. */
static void
crl_update(struct tls_state *ts, struct atr_ca *ca)
{
	struct atr_ca *own = NULL;
	struct atr_err err;
	char path[4300];
	BIO *bio;
	X509_CRL *crl = NULL;
	unsigned char *der = NULL, *copy = NULL;
	int len, rc;

	if (ca == NULL && (ca = own = atr_ca_load(ts->tlsdir, &err)) == NULL) {
		if (err.code != ATR_E_NOT_FOUND)
			atr_warn("the local CA's CRL: %s", atr_err_msg(&err));
		return;
	}
	if ((rc = atr_ca_crl_refresh(ca, &err)) == -1)
		atr_error("re-signing the local CA's CRL failed (still serving the old one): %s",
		    atr_err_msg(&err));
	else if (rc == 1)
		atr_info("signed the local CA's CRL %s/ca.crl (valid %d days)", ts->tlsdir,
		    ATR_CA_CRL_DAYS);
	atr_ca_free(own);
	snprintf(path, sizeof(path), "%s/ca.crl", ts->tlsdir);
	if ((bio = BIO_new_file(path, "r")) != NULL) {
		crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL);
		BIO_free(bio);
	}
	ERR_clear_error();
	if (crl == NULL || (len = i2d_X509_CRL(crl, &der)) <= 0 ||
	    (copy = malloc((size_t)len)) == NULL) {
		X509_CRL_free(crl);
		OPENSSL_free(der);
		return;
	}
	memcpy(copy, der, (size_t)len);
	OPENSSL_free(der);
	X509_CRL_free(crl);
	pthread_rwlock_wrlock(&ts->lock);
	free(ts->crl);
	ts->crl = copy;
	ts->crl_len = (size_t)len;
	pthread_rwlock_unlock(&ts->lock);
}

int
tls_state_crl(struct tls_state *ts, unsigned char **der, size_t *len)
{
	int rc = -1;

	*der = NULL;
	*len = 0;
	pthread_rwlock_rdlock(&ts->lock);
	if (ts->crl != NULL && (*der = malloc(ts->crl_len)) != NULL) {
		memcpy(*der, ts->crl, ts->crl_len);
		*len = ts->crl_len;
		rc = 0;
	}
	pthread_rwlock_unlock(&ts->lock);
	return rc;
}

/* The server certificate in p12 (with its password in passfile) when ca
 * issued it, else NULL. */
static X509 *
old_leaf(const char *p12, const char *passfile, struct atr_ca *ca)
{
	struct atr_err lerr;
	struct atr_ks *ks = NULL;
	const struct atr_ks_entry *e;
	char *pw;
	X509 *leaf = NULL;

	if (access(p12, F_OK) != 0 || (pw = atr_passfile_read(passfile, &lerr)) == NULL)
		return NULL;
	if ((ks = atr_ks_load_file(p12, pw, &lerr)) != NULL && atr_ks_count(ks) > 0 &&
	    (e = atr_ks_entry_at(ks, 0)) != NULL && (leaf = atr_ks_entry_cert(e)) != NULL &&
	    atr_x509_signed_by(leaf, atr_ca_cert(ca)) && X509_up_ref(leaf))
		;
	else
		leaf = NULL;
	atr_ks_free(ks);
	atr_free_secret(pw);
	return leaf;
}

/* Puts the replaced server certificate on the CRL: after a renewal or
 * reset-tls it is no longer the server's, so clients that check refuse it. */
static void
revoke_old(struct atr_ca *ca, X509 *old)
{
	struct atr_err err;
	char serial[100] = "?";
	BIGNUM *bn;
	char *hex;

	if (old == NULL)
		return;
	if ((bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(old), NULL)) != NULL &&
	    (hex = BN_bn2hex(bn)) != NULL) {
		snprintf(serial, sizeof(serial), "%s", hex);
		OPENSSL_free(hex);
	}
	BN_free(bn);
	if (atr_ca_revoke(ca, old, &err) == -1)
		atr_error("could not revoke the replaced server certificate (serial %s): %s", serial,
		    atr_err_msg(&err));
	else
		atr_info("revoked the replaced server certificate (serial %s) in the local CA's CRL",
		    serial);
}

/* ---- names for the local CA's certificate */

/* A bind address clients cannot use as such: every address, or none. */
static int
wildcard(const char *bind)
{
	return bind[0] == '\0' || strcmp(bind, "0.0.0.0") == 0 || strcmp(bind, "::") == 0 ||
	    strcmp(bind, "*") == 0 || strcmp(bind, "[::]") == 0;
}

/* host's fully qualified name when the resolver knows one other than
 * host itself (it may block on DNS: not on an event loop). */
static int
host_fqdn(const char *host, char *out, size_t len)
{
	struct addrinfo hints, *res = NULL;
	int rc = -1;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_flags = AI_CANONNAME;
	if (getaddrinfo(host, NULL, &hints, &res) != 0)
		return -1;
	if (res != NULL && res->ai_canonname != NULL && strchr(res->ai_canonname, '.') != NULL &&
	    strcasecmp(res->ai_canonname, host) != 0 && strlen(res->ai_canonname) < len) {
		snprintf(out, len, "%s", res->ai_canonname);
		rc = 0;
	}
	freeaddrinfo(res);
	return rc;
}

static void
add_name(char **names, size_t *n, const char *name)
{
	if (*n >= MAX_NAMES || name[0] == '\0')
		return;
	for (size_t i = 0; i < *n; i++)
		if (strcasecmp(names[i], name) == 0)
			return;
	if ((names[*n] = strdup(name)) != NULL)
		(*n)++;
}

/* The machine's interface addresses as text, link-local IPv6 ones left
 * out (no client reaches us by those); at most max. */
static size_t
machine_addresses(char (*out)[INET6_ADDRSTRLEN], size_t max)
{
	struct ifaddrs *ifs = NULL;
	size_t n = 0;

	if (getifaddrs(&ifs) != 0)
		return 0;
	for (struct ifaddrs *i = ifs; i != NULL && n < max; i = i->ifa_next) {
		if (i->ifa_addr == NULL)
			continue;
		if (i->ifa_addr->sa_family == AF_INET) {
			inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, out[n],
			    INET6_ADDRSTRLEN);
		} else if (i->ifa_addr->sa_family == AF_INET6) {
			struct in6_addr *a6 = &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;
			if (IN6_IS_ADDR_LINKLOCAL(a6))
				continue;
			inet_ntop(AF_INET6, a6, out[n], INET6_ADDRSTRLEN);
		} else {
			continue;
		}
		n++;
	}
	freeifaddrs(ifs);
	return n;
}

/* The host name and its FQDN, localhost, the bind address, loopback,
 * every address of the machine (but link-local ones) and tls_san. */
static size_t
local_names(const struct atr_config *cfg, char **names)
{
	char host[256], addrs[MAX_NAMES][INET6_ADDRSTRLEN];
	size_t n = 0, nif;
	char *san, *tok, *save = NULL;

	if (gethostname(host, sizeof(host)) == 0) {
		char fqdn[256];
		host[sizeof(host) - 1] = '\0';
		add_name(names, &n, host);
		if (host_fqdn(host, fqdn, sizeof(fqdn)) == 0)
			add_name(names, &n, fqdn);
	}
	add_name(names, &n, "localhost");
	if (!wildcard(atr_config_str(cfg, "bind")))
		add_name(names, &n, atr_config_str(cfg, "bind"));
	add_name(names, &n, "127.0.0.1");
	add_name(names, &n, "::1");
	nif = machine_addresses(addrs, MAX_NAMES);
	for (size_t i = 0; i < nif; i++)
		add_name(names, &n, addrs[i]);
	if ((san = strdup(atr_config_str(cfg, "tls_san"))) != NULL) {
		for (tok = strtok_r(san, ", \t", &save); tok != NULL; tok = strtok_r(NULL, ", \t", &save))
			add_name(names, &n, tok);
		free(san);
	}
	return n;
}

static void
free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
}

/* Whether cert names every one of names. */
static int
covers_all(X509 *cert, char **names, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int ok = atr_ca_is_ip(names[i]) ? X509_check_ip_asc(cert, names[i], 0) == 1
						: X509_check_host(cert, names[i], 0, 0, NULL) == 1;
		if (!ok)
			return 0;
	}
	return 1;
}

/* ---- which names clients may use, and which a certificate covers */

static void
cov_add(struct tls_coverage *cov, const char *name, const char *source)
{
	struct tls_name *t;

	if (cov->n >= TLS_NAMES_MAX || name[0] == '\0' || strlen(name) >= sizeof(t->name))
		return;
	for (size_t i = 0; i < cov->n; i++)
		if (strcasecmp(cov->names[i].name, name) == 0)
			return;
	t = &cov->names[cov->n++];
	snprintf(t->name, sizeof(t->name), "%s", name);
	snprintf(t->source, sizeof(t->source), "%s", source);
	t->ip = atr_ca_is_ip(name);
	t->covered = 0;
}

/* Appends the names clients may use but the request's: the host name and
 * its FQDN, the bind address, tls_san, the machine's addresses. */
static void
client_names(const struct atr_config *cfg, struct tls_coverage *cov)
{
	char host[256], fqdn[256], addrs[MAX_NAMES][INET6_ADDRSTRLEN];
	const char *bind = atr_config_str(cfg, "bind");
	size_t nif;
	char *san, *tok, *save = NULL;

	if (gethostname(host, sizeof(host)) == 0) {
		host[sizeof(host) - 1] = '\0';
		cov_add(cov, host, "hostname");
		if (host_fqdn(host, fqdn, sizeof(fqdn)) == 0)
			cov_add(cov, fqdn, "hostname");
	}
	if (!wildcard(bind))
		cov_add(cov, bind, "bind");
	if ((san = strdup(atr_config_str(cfg, "tls_san"))) != NULL) {
		for (tok = strtok_r(san, ", \t", &save); tok != NULL; tok = strtok_r(NULL, ", \t", &save))
			cov_add(cov, tok, "tls_san");
		free(san);
	}
	nif = machine_addresses(addrs, MAX_NAMES);
	for (size_t i = 0; i < nif; i++)
		cov_add(cov, addrs[i], "interface");
}

/* Whether a SubjectAltName of cert covers name. The subject's CN is never
 * looked at: browsers and Java's TLS clients do not either. */
static int
name_covered(X509 *cert, const struct tls_name *t)
{
	if (t->ip)
		return X509_check_ip_asc(cert, t->name, 0) == 1;
	return X509_check_host(cert, t->name, 0, X509_CHECK_FLAG_NEVER_CHECK_SUBJECT, NULL) == 1;
}

/* Marks what cert covers and writes the keytool command that would make
 * a certificate covering every name. */
static void
cov_finish(struct tls_coverage *cov, X509 *cert)
{
	char *h = cov->keytool_hint;
	size_t size = sizeof(cov->keytool_hint), used;
	const char *cn = NULL;

	for (size_t i = 0; i < cov->n; i++) {
		cov->names[i].covered = cert != NULL && name_covered(cert, &cov->names[i]);
		if (cn == NULL && !cov->names[i].ip)
			cn = cov->names[i].name;
	}
	ERR_clear_error();
	if (cn == NULL)
		cn = cov->n > 0 ? cov->names[0].name : "localhost";
	snprintf(h, size,
	    "keytool -genkeypair -alias atrium -keyalg RSA -keysize 2048 -validity 397 "
	    "-keystore keystore.p12 -storetype PKCS12 -dname \"CN=%s\" -ext SAN=",
	    cn);
	for (size_t i = 0; i < cov->n; i++) {
		used = strlen(h);
		snprintf(h + used, size - used, "%s%s:%s", i ? "," : "",
		    cov->names[i].ip ? "ip" : "dns", cov->names[i].name);
	}
}

/* The sentence warning about the uncovered names, appended to warnings. */
static void
cov_warn(const struct tls_coverage *cov, char *warnings, size_t wlen)
{
	char line[1024];
	size_t used = 0, missing = 0;

	line[0] = '\0';
	for (size_t i = 0; i < cov->n; i++) {
		if (cov->names[i].covered)
			continue;
		snprintf(line + used, sizeof(line) - used, "%s%s (%s)", missing ? ", " : "",
		    cov->names[i].name, cov->names[i].source);
		used = strlen(line);
		missing++;
	}
	if (missing == 0)
		return;
	used = strlen(warnings);
	snprintf(warnings + used, wlen - used,
	    "%sno SubjectAltName of the certificate covers %s: clients connecting by %s will "
	    "refuse it; the Certificate page shows the keytool command for one that does",
	    used ? "\n" : "", line, missing == 1 ? "that name" : "those names");
}

int
tls_state_coverage(struct tls_state *ts, const char *request_host, struct tls_coverage *out)
{
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (request_host != NULL && request_host[0] != '\0')
		cov_add(out, request_host, "request");
	pthread_rwlock_rdlock(&ts->lock);
	if (ts->leaf != NULL) {
		for (size_t i = 0; i < ts->names.n; i++)
			cov_add(out, ts->names.names[i].name, ts->names.names[i].source);
		cov_finish(out, ts->leaf);
		rc = 0;
	}
	pthread_rwlock_unlock(&ts->lock);
	return rc;
}

char *
tls_state_chain_pem(struct tls_state *ts)
{
	char *copy = NULL;

	pthread_rwlock_rdlock(&ts->lock);
	if (ts->chain_pem != NULL)
		copy = strdup(ts->chain_pem);
	pthread_rwlock_unlock(&ts->lock);
	return copy;
}

/* chain as PEM, leaf first (the caller's), or NULL. */
static char *
chain_to_pem(STACK_OF(X509) *chain)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data, *pem = NULL;
	long len;

	if (bio == NULL)
		return NULL;
	for (int i = 0; i < sk_X509_num(chain); i++)
		if (PEM_write_bio_X509(bio, sk_X509_value(chain, i)) != 1)
			goto out;
	if ((len = BIO_get_mem_data(bio, &data)) > 0 && (pem = malloc((size_t)len + 1)) != NULL) {
		memcpy(pem, data, (size_t)len);
		pem[len] = '\0';
	}
out:
	BIO_free(bio);
	ERR_clear_error();
	return pem;
}

static const char *const well_known_passwords[] = {
	"", "nomagic", "changeit", "password", "secret", "changeme", "123456", "admin",
};

int
tls_password_well_known(const char *pw)
{
	if (pw == NULL)
		return 1;
	for (size_t i = 0; i < sizeof(well_known_passwords) / sizeof(well_known_passwords[0]); i++)
		if (strcasecmp(pw, well_known_passwords[i]) == 0)
			return 1;
	return 0;
}

/* Whether cert's first CRL distribution point is url: a certificate
 * from before CRLs, or for another port, is reissued. */
static int
has_crl_url(X509 *cert, const char *url)
{
	CRL_DIST_POINTS *dps = X509_get_ext_d2i(cert, NID_crl_distribution_points, NULL, NULL);
	DIST_POINT *dp = dps != NULL && sk_DIST_POINT_num(dps) > 0 ? sk_DIST_POINT_value(dps, 0)
								   : NULL;
	GENERAL_NAME *gn = NULL;
	int same = 0;

	if (dp != NULL && dp->distpoint != NULL && dp->distpoint->type == 0 &&
	    sk_GENERAL_NAME_num(dp->distpoint->name.fullname) > 0)
		gn = sk_GENERAL_NAME_value(dp->distpoint->name.fullname, 0);
	if (gn != NULL && gn->type == GEN_URI)
		same = (size_t)ASN1_STRING_length(gn->d.uniformResourceIdentifier) == strlen(url) &&
		    memcmp(ASN1_STRING_get0_data(gn->d.uniformResourceIdentifier), url,
			strlen(url)) == 0;
	CRL_DIST_POINTS_free(dps);
	return same;
}

/* ---- small files */

static char *
new_secret(const char *path, struct atr_err *err)
{
	unsigned char raw[12];
	char hex[25], line[27];
	char *s;

	if (atr_random_bytes(raw, sizeof(raw)) == -1) {
		atr_err_set(err, ATR_E_INTERNAL, "no randomness for a password");
		return NULL;
	}
	atr_hex(raw, sizeof(raw), hex);
	snprintf(line, sizeof(line), "%s\n", hex);
	if (atr_write_file_atomic(path, line, strlen(line), 0600, err) == -1)
		return NULL;
	if ((s = strdup(hex)) == NULL)
		atr_err_set(err, ATR_E_NOMEM, NULL);
	atr_wipe(hex, sizeof(hex));
	atr_wipe(line, sizeof(line));
	return s;
}

/* ---- the local CA */

static int
write_client_bundle(const char *tlsdir, X509 *cacert, int replace, struct atr_err *err)
{
	char dir[4300], jks[4400], pass[4400];
	char *pw = NULL;
	struct atr_ks *ks = NULL;
	int rc = -1;

	snprintf(dir, sizeof(dir), "%s/client", tlsdir);
	snprintf(jks, sizeof(jks), "%s/cert.jks", dir);
	snprintf(pass, sizeof(pass), "%s/cert.pass", dir);
	if (!replace && access(jks, F_OK) == 0 && access(pass, F_OK) == 0)
		return 0;
	if (atr_mkdirs(dir, 0700, err) == -1)
		return -1;
	if ((pw = new_secret(pass, err)) == NULL)
		return -1;
	if ((ks = atr_ks_new(ATR_KS_JKS)) == NULL) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		goto out;
	}
	if (atr_ks_set_trusted(ks, "atrium-local-ca", cacert, 0, err) == -1 ||
	    atr_ks_save_file(ks, jks, pw, NULL, err) == -1)
		goto out;
	rc = 0;
out:
	atr_ks_free(ks);
	atr_free_secret(pw);
	return rc;
}

static void
fingerprint(X509 *cert, char *out, size_t len)
{
	if (atr_x509_fingerprint(cert, "SHA-256", out, len) == -1)
		snprintf(out, len, "?");
}

/* Loads or makes DIR/tls/ca.*, and the server certificate it issues
 * (server.p12 + server.pass), renewing it when due or when the machine's
 * names changed. The key and chain returned are the caller's. */
static int
local_certificate(struct tls_state *ts, const struct atr_config *cfg, int force,
    EVP_PKEY **key, STACK_OF(X509) **chain, struct atr_err *err)
{
	char p12[4300], passfile[4300], host[256] = "localhost", cn[320], fp[100], url[400];
	char *names[MAX_NAMES], *pw = NULL;
	X509 *old = NULL;
	size_t nnames = 0;
	struct atr_ca *ca = NULL;
	struct atr_ks *ks = NULL;
	const struct atr_ks_entry *e;
	int rc = -1, created = 0;
	struct atr_err lerr;

	*key = NULL;
	*chain = NULL;
	if (atr_mkdirs(ts->tlsdir, 0700, err) == -1)
		return -1;
	if ((ca = atr_ca_load(ts->tlsdir, &lerr)) == NULL) {
		if (lerr.code != ATR_E_NOT_FOUND) {
			if (err != NULL)
				*err = lerr;
			return atr_err_prefix(err, "the local CA in %s", ts->tlsdir);
		}
		gethostname(host, sizeof(host));
		host[sizeof(host) - 1] = '\0';
		snprintf(cn, sizeof(cn), "Atrium local CA on %s", host);
		if ((ca = atr_ca_create(ts->tlsdir, cn, "EC", err)) == NULL)
			return -1;
		created = 1;
		fingerprint(atr_ca_cert(ca), fp, sizeof(fp));
		atr_info("created the local CA %s/ca.crt (SHA-256 %s); clients that trust it "
			 "connect without warnings",
		    ts->tlsdir, fp);
	}
	if (write_client_bundle(ts->tlsdir, atr_ca_cert(ca), created, err) == -1)
		goto out;
	nnames = local_names(cfg, names);
	/* The CRL is served on the plain port, under the first name: see
	 * docs/SECURITY.md, "Revocation". */
	atr_ca_crl_url(nnames > 0 ? names[0] : "localhost", (int)atr_config_int(cfg, "port"), url,
	    sizeof(url));
	snprintf(p12, sizeof(p12), "%s/server.p12", ts->tlsdir);
	snprintf(passfile, sizeof(passfile), "%s/server.pass", ts->tlsdir);
	if (!force && !created && access(p12, F_OK) == 0 &&
	    (pw = atr_passfile_read(passfile, &lerr)) != NULL &&
	    (ks = atr_ks_load_file(p12, pw, &lerr)) != NULL && atr_ks_count(ks) > 0 &&
	    (e = atr_ks_entry_at(ks, 0)) != NULL && atr_ks_entry_kind(e) == ATR_KS_PRIVATE_KEY) {
		X509 *leaf = atr_ks_entry_cert(e);
		int64_t now = atr_now_ms() / 1000;
		if (leaf != NULL && atr_tls_days_left(leaf, now) >= RENEW_DAYS &&
		    covers_all(leaf, names, nnames) && atr_x509_signed_by(leaf, atr_ca_cert(ca)) &&
		    has_crl_url(leaf, url) &&
		    (*key = atr_ks_entry_key(ks, e, pw, &lerr)) != NULL) {
			STACK_OF(X509) *c = (STACK_OF(X509) *)atr_ks_entry_chain(e);
			if ((*chain = X509_chain_up_ref(c)) != NULL) {
				rc = 0;
				goto out;
			}
			EVP_PKEY_free(*key);
			*key = NULL;
		}
	}
	/* Make (or remake) the server certificate. */
	atr_ks_free(ks);
	ks = NULL;
	atr_free_secret(pw);
	pw = NULL;
	old = old_leaf(p12, passfile, ca);
	if (atr_ca_issue(ca, (const char *const *)names, nnames, ATR_CA_SERVER_DAYS, "EC", 0, url,
		key, chain, err) == -1)
		goto out;
	if ((pw = new_secret(passfile, err)) == NULL)
		goto out;
	if ((ks = atr_ks_new(ATR_KS_PKCS12)) == NULL) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		goto out;
	}
	if (atr_ks_set_key(ks, "atrium", *key, *chain, pw, 0, err) == -1 ||
	    atr_ks_save_file(ks, p12, pw, NULL, err) == -1)
		goto out;
	atr_info("issued a server certificate from the local CA for %zu names (valid %d days): %s",
	    nnames, ATR_CA_SERVER_DAYS, p12);
	revoke_old(ca, old);
	rc = 0;
out:
	if (ca != NULL)
		crl_update(ts, ca);
	X509_free(old);
	if (rc == -1) {
		EVP_PKEY_free(*key);
		sk_X509_pop_free(*chain, X509_free);
		*key = NULL;
		*chain = NULL;
	}
	atr_ks_free(ks);
	atr_free_secret(pw);
	atr_ca_free(ca);
	free_names(names, nnames);
	return rc;
}

/* ---- the administrator's keystore */

static void
resolve(const char *datadir, const char *path, char *out, size_t len)
{
	if (path[0] == '/')
		snprintf(out, len, "%s", path);
	else
		snprintf(out, len, "%s/%s", datadir, path);
}

static int
keystore_certificate(struct tls_state *ts, const struct atr_config *cfg, char *source,
    size_t srclen, struct tls_info *info, EVP_PKEY **key, STACK_OF(X509) **chain,
    struct atr_err *err)
{
	const char *alias = atr_config_str(cfg, "tls_keystore_alias");
	const char *pwfile = atr_config_str(cfg, "tls_keystore_password_file");
	char *pw = NULL, pwpath[4200];
	struct atr_ks *ks = NULL;
	const struct atr_ks_entry *e = NULL;
	int rc = -1;

	*key = NULL;
	*chain = NULL;
	resolve(ts->datadir, atr_config_str(cfg, "tls_keystore"), source, srclen);
	if (pwfile[0] != '\0') {
		resolve(ts->datadir, pwfile, pwpath, sizeof(pwpath));
		if (datadir_check_secret(pwpath, "tls_keystore_password_file", 1, err) == -1)
			return -1;
		if ((pw = atr_passfile_read(pwpath, err)) == NULL)
			return atr_err_prefix(err, "tls_keystore_password_file");
	} else if ((pw = strdup(atr_config_str(cfg, "tls_keystore_password"))) == NULL) {
		return atr_err_set(err, ATR_E_NOMEM, NULL);
	}
	info->weak_password = tls_password_well_known(pw);
	datadir_check_secret(source, "tls_keystore", 0, NULL);
	if ((ks = atr_ks_load_file(source, pw[0] ? pw : NULL, err)) == NULL) {
		atr_err_prefix(err, "tls_keystore %s", source);
		goto out;
	}
	if (alias[0] != '\0') {
		if ((e = atr_ks_find(ks, alias)) == NULL ||
		    atr_ks_entry_kind(e) != ATR_KS_PRIVATE_KEY) {
			atr_err_set(err, ATR_E_KS_NO_ENTRY,
			    "tls_keystore %s has no key entry named '%s'", source, alias);
			goto out;
		}
	} else {
		int keys = 0;
		for (size_t i = 0; i < atr_ks_count(ks); i++) {
			const struct atr_ks_entry *x = atr_ks_entry_at(ks, i);
			if (atr_ks_entry_kind(x) == ATR_KS_PRIVATE_KEY) {
				keys++;
				if (e == NULL)
					e = x;
			}
		}
		if (keys != 1) {
			atr_err_set(err, ATR_E_KS_NO_ENTRY,
			    keys == 0 ? "tls_keystore %s holds no private key entry (only trusted "
					"certificates); it needs the server's key and certificate"
				      : "tls_keystore %s holds several key entries; choose one with "
					"tls_keystore_alias",
			    source);
			goto out;
		}
	}
	snprintf(info->format, sizeof(info->format), "%s", atr_ks_format_name(atr_ks_format(ks)));
	snprintf(info->alias, sizeof(info->alias), "%s", atr_ks_entry_alias(e));
	if ((*key = atr_ks_entry_key(ks, e, pw[0] ? pw : NULL, err)) == NULL) {
		atr_err_prefix(err, "tls_keystore %s, entry '%s'", source, atr_ks_entry_alias(e));
		goto out;
	}
	if (atr_ks_entry_chain(e) == NULL || sk_X509_num(atr_ks_entry_chain(e)) == 0 ||
	    (*chain = X509_chain_up_ref((STACK_OF(X509) *)atr_ks_entry_chain(e))) == NULL) {
		atr_err_set(err, ATR_E_CERT_MISMATCH,
		    "tls_keystore %s: no certificate in the file matches the private key of entry "
		    "'%s'; the key and the certificate do not belong together",
		    source, atr_ks_entry_alias(e));
		EVP_PKEY_free(*key);
		*key = NULL;
		goto out;
	}
	rc = 0;
out:
	atr_ks_free(ks);
	atr_free_secret(pw);
	return rc;
}

/* ---- building and swapping */

static void
describe(struct tls_state *ts, STACK_OF(X509) *chain, const char *source, const char *warnings,
    struct tls_info *info)
{
	X509 *leaf = sk_X509_value(chain, 0), *last = sk_X509_value(chain, sk_X509_num(chain) - 1);
	char *s;
	GENERAL_NAMES *gens;
	X509 *ca = NULL;
	char path[4300];
	BIO *bio;

	memset(info, 0, sizeof(*info));
	if ((s = atr_x509_name_format(X509_get_subject_name(leaf))) != NULL) {
		snprintf(info->subject, sizeof(info->subject), "%s", s);
		free(s);
	}
	if ((s = atr_x509_name_format(X509_get_issuer_name(leaf))) != NULL) {
		snprintf(info->issuer, sizeof(info->issuer), "%s", s);
		free(s);
	}
	gens = X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL);
	for (int i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		size_t used = strlen(info->sans);
		char item[300] = "";
		if (g->type == GEN_DNS)
			snprintf(item, sizeof(item), "DNS:%.*s", ASN1_STRING_length(g->d.dNSName),
			    (const char *)ASN1_STRING_get0_data(g->d.dNSName));
		else if (g->type == GEN_IPADD) {
			char a[INET6_ADDRSTRLEN] = "?";
			int l = ASN1_STRING_length(g->d.iPAddress);
			inet_ntop(l == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(g->d.iPAddress), a,
			    sizeof(a));
			snprintf(item, sizeof(item), "IP:%s", a);
		}
		if (item[0] != '\0')
			snprintf(info->sans + used, sizeof(info->sans) - used, "%s%s",
			    used ? ", " : "", item);
	}
	GENERAL_NAMES_free(gens);
	fingerprint(leaf, info->sha256, sizeof(info->sha256));
	info->not_after = atr_tls_not_after(leaf);
	{
		const ASN1_TIME *nb = X509_get0_notBefore(leaf);
		struct tm tm;
		memset(&tm, 0, sizeof(tm));
		if (ASN1_TIME_to_tm(nb, &tm) == 1)
			info->not_before = (int64_t)timegm(&tm);
	}
	info->self_signed = atr_x509_self_signed(leaf);
	snprintf(info->source, sizeof(info->source), "%s", source);
	snprintf(info->warnings, sizeof(info->warnings), "%s", warnings);
	snprintf(path, sizeof(path), "%s/ca.crt", ts->tlsdir);
	if ((bio = BIO_new_file(path, "r")) != NULL) {
		ca = PEM_read_bio_X509(bio, NULL, NULL, NULL);
		BIO_free(bio);
	}
	ERR_clear_error();
	if (ca != NULL) {
		info->from_local_ca = atr_x509_signed_by(leaf, ca);
		info->trusted_by_local_ca = X509_cmp(last, ca) == 0 || atr_x509_signed_by(last, ca);
		fingerprint(ca, info->ca_sha256, sizeof(info->ca_sha256));
		X509_free(ca);
	}
}

/* Gets, checks and builds the certificate cfg names; ctx_out and info are
 * filled on success. */
static int
prepare(struct tls_state *ts, const struct atr_config *cfg, int force_local,
    const char *request_host, SSL_CTX **ctx_out, struct tls_info *info, struct tls_coverage *cov,
    STACK_OF(X509) **chain_out, struct atr_err *err)
{
	EVP_PKEY *key = NULL;
	STACK_OF(X509) *chain = NULL;
	char source[4400], warnings[2048];
	struct tls_info ks;
	int rc = -1, own = 0;

	memset(&ks, 0, sizeof(ks));
	if (atr_config_str(cfg, "tls_keystore")[0] != '\0' && !force_local) {
		if (keystore_certificate(ts, cfg, source, sizeof(source), &ks, &key, &chain, err) ==
		    -1)
			return -1;
		own = 1;
	} else {
		snprintf(source, sizeof(source), "%s/server.p12", ts->tlsdir);
		if (local_certificate(ts, cfg, force_local, &key, &chain, err) == -1)
			return -1;
	}
	/* The names are checked here, all of them, not by the library for
	 * the host name alone. */
	if (atr_tls_check_server(key, chain, NULL, atr_now_ms() / 1000, warnings, sizeof(warnings),
		err) == -1)
		goto out;
	if (own && ks.weak_password) {
		size_t used = strlen(warnings);
		snprintf(warnings + used, sizeof(warnings) - used,
		    "%sthe keystore is protected by a well-known password (a vendor's default or "
		    "an obvious one): anyone with a copy of the file, a backup for instance, can "
		    "read its private key; re-protect it (upload it again with \"re-protect\") or "
		    "export it with a strong password",
		    used ? "\n" : "");
	}
	if (cov != NULL) {
		memset(cov, 0, sizeof(*cov));
		if (request_host != NULL && request_host[0] != '\0')
			cov_add(cov, request_host, "request");
		client_names(cfg, cov);
		cov_finish(cov, sk_X509_value(chain, 0));
		cov_warn(cov, warnings, sizeof(warnings));
	}
	if (ctx_out != NULL && (*ctx_out = atr_tls_server_ctx_new(key, chain, err)) == NULL)
		goto out;
	if (info != NULL) {
		describe(ts, chain, source, warnings, info);
		info->own_keystore = own;
		info->weak_password = own && ks.weak_password;
		snprintf(info->format, sizeof(info->format), "%s", own ? ks.format : "PKCS12");
		snprintf(info->alias, sizeof(info->alias), "%s", own ? ks.alias : "atrium");
	}
	if (chain_out != NULL) {
		*chain_out = chain;
		chain = NULL;
	}
	rc = 0;
out:
	EVP_PKEY_free(key);
	sk_X509_pop_free(chain, X509_free);
	return rc;
}

static int
install(struct tls_state *ts, const struct atr_config *cfg, int force_local, struct atr_err *err)
{
	SSL_CTX *ctx = NULL, *old;
	struct tls_info info;
	struct tls_coverage *cov = calloc(1, sizeof(*cov));
	STACK_OF(X509) *chain = NULL;
	X509 *oldleaf = NULL;
	char *line, *save = NULL, *pem, *oldpem;
	struct clientcert *cc, *oldcc;

	if (cov == NULL)
		return atr_err_set(err, ATR_E_NOMEM, NULL);
	if (prepare(ts, cfg, force_local, NULL, &ctx, &info, cov, &chain, err) == -1) {
		free(cov);
		return -1;
	}
	/* The same context serves the TLS port and the console: one policy
	 * of client certificates for both. */
	if ((cc = clientcert_new(cfg, ts->datadir, err)) == NULL ||
	    clientcert_setup_ctx(cc, ctx, err) == -1) {
		clientcert_unref(cc);
		SSL_CTX_free(ctx);
		sk_X509_pop_free(chain, X509_free);
		free(cov);
		return -1;
	}
	pem = chain_to_pem(chain);
	pthread_rwlock_wrlock(&ts->lock);
	old = ts->ctx;
	ts->ctx = ctx;
	ts->info = info;
	ts->have_info = 1;
	oldleaf = ts->leaf;
	ts->leaf = sk_X509_value(chain, 0);
	X509_up_ref(ts->leaf);
	oldpem = ts->chain_pem;
	ts->chain_pem = pem;
	ts->names = *cov;
	oldcc = ts->cc;
	ts->cc = cc;
	pthread_rwlock_unlock(&ts->lock);
	clientcert_unref(oldcc);
	SSL_CTX_free(old); /* open connections keep their own reference */
	X509_free(oldleaf);
	free(oldpem);
	free(cov);
	sk_X509_pop_free(chain, X509_free);
	atr_info("serving the certificate '%s' from %s (SHA-256 %s, %lld days left)", info.subject,
	    info.source, info.sha256, (long long)((info.not_after - atr_now_ms() / 1000) / 86400));
	if (info.from_local_ca)
		atr_info("it is issued by the local CA (SHA-256 %s); give clients "
			 "%s/client/cert.jks and cert.pass, or %s/ca.crt",
		    info.ca_sha256, ts->tlsdir, ts->tlsdir);
	for (line = strtok_r(info.warnings, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save))
		atr_warn("certificate: %s", line);
	return 0;
}

int
tls_state_load(struct tls_state *ts, const struct atr_config *cfg, struct atr_err *err)
{
	if (install(ts, cfg, 0, err) == -1)
		return -1;
	/* The local CA's certificates stay revocable with a keystore in use. */
	if (atr_config_str(cfg, "tls_keystore")[0] != '\0')
		crl_update(ts, NULL);
	return 0;
}

struct clientcert *
tls_state_clientcert(struct tls_state *ts)
{
	struct clientcert *cc;

	pthread_rwlock_rdlock(&ts->lock);
	cc = clientcert_ref(ts->cc);
	pthread_rwlock_unlock(&ts->lock);
	return cc;
}

int
tls_state_check(struct tls_state *ts, const struct atr_config *cfg, const char *request_host,
    struct tls_info *info, struct tls_coverage *cov, struct atr_err *err)
{
	SSL_CTX *ctx = NULL;
	int rc = prepare(ts, cfg, 0, request_host, &ctx, info, cov, NULL, err);

	SSL_CTX_free(ctx);
	return rc;
}

int
tls_state_renew_if_due(struct tls_state *ts, const struct atr_config *cfg, struct atr_err *err)
{
	struct tls_info info;

	crl_update(ts, NULL); /* re-signed before its nextUpdate, keystore or not */
	if (atr_config_str(cfg, "tls_keystore")[0] != '\0')
		return 0;
	if (tls_state_info(ts, &info) == 0 &&
	    (info.not_after - atr_now_ms() / 1000) / 86400 >= RENEW_DAYS)
		return 0;
	atr_info("the server certificate expires within %d days: renewing it", RENEW_DAYS);
	if (install(ts, cfg, 1, err) == -1)
		return -1;
	return 1;
}

int
tls_reset(const char *datadir, const char *confpath, struct atr_err *err)
{
	char tlsdir[4200], p12[4300], passfile[4300];
	struct atr_ca *ca = NULL;
	struct atr_err lerr;
	X509 *old = NULL;
	int rc = -1;
	static const char *const keys[] = {"tls_keystore", "tls_keystore_password",
		"tls_keystore_password_file", "tls_keystore_alias"};

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (atr_config_file_update(confpath, keys[i], NULL, err) == -1)
			return -1;
	snprintf(tlsdir, sizeof(tlsdir), "%s/tls", datadir);
	snprintf(p12, sizeof(p12), "%s/server.p12", tlsdir);
	snprintf(passfile, sizeof(passfile), "%s/server.pass", tlsdir);
	/* The certificate given up is revoked now: the server may be stopped. */
	if ((ca = atr_ca_load(tlsdir, &lerr)) != NULL) {
		old = old_leaf(p12, passfile, ca);
		if (old != NULL && atr_ca_revoke(ca, old, err) == -1) {
			atr_err_prefix(err, "revoking the old server certificate");
			goto out;
		}
	}
	if (unlink(p12) == -1 && errno != ENOENT) {
		atr_err_set(err, ATR_E_IO, "cannot remove %s: %s", p12, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	X509_free(old);
	atr_ca_free(ca);
	return rc;
}
