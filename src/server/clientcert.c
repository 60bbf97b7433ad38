/* Client certificates: the policy, the handshake's request, the login check. */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "atrium/log.h"
#include "server/clientcert.h"
#include "server/outbound.h"

enum mode { MODE_OFF, MODE_OPTIONAL, MODE_REQUIRED };

struct clientcert {
	atomic_int refs;
	enum mode mode;
	int crl_required;      /* client_crl_check = require */
	X509_STORE *store;     /* client_ca_file and client_crl_files */
	STACK_OF(X509_NAME) *ca_names; /* what the handshake tells clients */
	char tmpl[256];        /* client_cert_user */
};

#define CRL_MAX_BYTES (8 << 20)
#define CRL_FETCH_SECONDS 10
#define CRL_CACHE_MAX 64
#define CRL_DEFAULT_TTL 3600 /* a CRL without nextUpdate */

/* ---- the policy */

static void
resolve(const char *datadir, const char *path, char *out, size_t len)
{
	if (path[0] == '/' || datadir == NULL)
		snprintf(out, len, "%s", path);
	else
		snprintf(out, len, "%s/%s", datadir, path);
}

/* The placeholders of client_cert_user. */
enum field { F_CN, F_EMAIL, F_UPN, F_UID, F__COUNT };
static const char *const field_names[F__COUNT] = {"{CN}", "{email}", "{upn}", "{uid}"};

static int
template_check(const char *t, struct atr_err *err)
{
	for (const char *p = strchr(t, '{'); p != NULL; p = strchr(p + 1, '{')) {
		int known = 0;
		for (int f = 0; f < F__COUNT; f++)
			known |= strncmp(p, field_names[f], strlen(field_names[f])) == 0;
		if (!known) {
			atr_err_set(err, ATR_E_CONFIG,
			    "client_cert_user: unknown placeholder at \"%s\" (use {CN}, {email}, {upn}, "
			    "{uid})", p);
			return atr_err_set_field(err, "client_cert_user");
		}
	}
	if (strchr(t, '{') == NULL) {
		atr_err_set(err, ATR_E_CONFIG,
		    "client_cert_user names no field of the certificate (use {CN}, {email}, {upn}, "
		    "{uid})");
		return atr_err_set_field(err, "client_cert_user");
	}
	return 0;
}

static int
load_cas(struct clientcert *cc, const char *file, struct atr_err *err)
{
	STACK_OF(X509_INFO) *infos = NULL;
	BIO *bio = BIO_new_file(file, "r");
	int n = 0;

	if (bio != NULL)
		infos = PEM_X509_INFO_read_bio(bio, NULL, NULL, NULL);
	BIO_free(bio);
	for (int i = 0; infos != NULL && i < sk_X509_INFO_num(infos); i++) {
		X509_INFO *xi = sk_X509_INFO_value(infos, i);
		if (xi->x509 == NULL)
			continue;
		X509_STORE_add_cert(cc->store, xi->x509);
		sk_X509_NAME_push(cc->ca_names, X509_NAME_dup(X509_get_subject_name(xi->x509)));
		n++;
	}
	sk_X509_INFO_pop_free(infos, X509_INFO_free);
	ERR_clear_error();
	if (n == 0) {
		atr_err_set(err, ATR_E_CONFIG, "client_ca_file %s: %s", file,
		    bio == NULL ? strerror(errno) : "no PEM certificate in it");
		return atr_err_set_field(err, "client_ca_file");
	}
	return 0;
}

static X509_CRL *
crl_parse(const unsigned char *buf, size_t len)
{
	const unsigned char *p = buf;
	X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long)len);
	BIO *bio;

	if (crl == NULL && (bio = BIO_new_mem_buf(buf, (int)len)) != NULL) {
		crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL);
		BIO_free(bio);
	}
	ERR_clear_error();
	return crl;
}

static int
load_crl_file(struct clientcert *cc, const char *file, struct atr_err *err)
{
	FILE *f = fopen(file, "rb");
	unsigned char *buf = malloc(CRL_MAX_BYTES);
	size_t len = 0;
	X509_CRL *crl = NULL;

	if (f != NULL && buf != NULL)
		len = fread(buf, 1, CRL_MAX_BYTES, f);
	if (f != NULL)
		fclose(f);
	if (len > 0)
		crl = crl_parse(buf, len);
	free(buf);
	if (crl == NULL) {
		atr_err_set(err, ATR_E_CONFIG, "client_crl_files: %s is %s", file,
		    f == NULL ? "not readable" : "not a PEM or DER CRL");
		return atr_err_set_field(err, "client_crl_files");
	}
	X509_STORE_add_crl(cc->store, crl);
	X509_CRL_free(crl);
	return 0;
}

struct clientcert *
clientcert_new(const struct atr_config *cfg, const char *datadir, struct atr_err *err)
{
	static const char *const modes[] = {"off", "optional", "required"};
	struct clientcert *cc = calloc(1, sizeof(*cc));
	const char *ca = atr_config_str(cfg, "client_ca_file");
	char path[4400], *list = NULL, *tok, *save = NULL;

	if (cc == NULL) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		return NULL;
	}
	atomic_init(&cc->refs, 1);
	for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++)
		if (strcmp(atr_config_str(cfg, "client_certificates"), modes[m]) == 0)
			cc->mode = (enum mode)m;
	cc->crl_required = strcmp(atr_config_str(cfg, "client_crl_check"), "require") == 0;
	snprintf(cc->tmpl, sizeof(cc->tmpl), "%s", atr_config_str(cfg, "client_cert_user"));
	if (cc->mode == MODE_OFF)
		return cc;
	if (ca[0] == '\0') {
		atr_err_set(err, ATR_E_CONFIG,
		    "client_certificates is %s, and client_ca_file is not set: name the PEM file "
		    "of the CAs that issue your users' certificates",
		    atr_config_str(cfg, "client_certificates"));
		atr_err_set_field(err, "client_ca_file");
		goto fail;
	}
	if (template_check(cc->tmpl, err) == -1)
		goto fail;
	if ((cc->store = X509_STORE_new()) == NULL || (cc->ca_names = sk_X509_NAME_new_null()) == NULL) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		goto fail;
	}
	resolve(datadir, ca, path, sizeof(path));
	if (load_cas(cc, path, err) == -1)
		goto fail;
	if ((list = strdup(atr_config_str(cfg, "client_crl_files"))) == NULL) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		goto fail;
	}
	for (tok = strtok_r(list, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		while (*tok == ' ')
			tok++;
		if (*tok == '\0')
			continue;
		resolve(datadir, tok, path, sizeof(path));
		if (load_crl_file(cc, path, err) == -1)
			goto fail;
	}
	free(list);
	return cc;
fail:
	free(list);
	clientcert_unref(cc);
	return NULL;
}

struct clientcert *
clientcert_ref(struct clientcert *cc)
{
	if (cc != NULL)
		atomic_fetch_add(&cc->refs, 1);
	return cc;
}

void
clientcert_unref(struct clientcert *cc)
{
	if (cc == NULL || atomic_fetch_sub(&cc->refs, 1) != 1)
		return;
	X509_STORE_free(cc->store);
	sk_X509_NAME_pop_free(cc->ca_names, X509_NAME_free);
	free(cc);
}

int
clientcert_enabled(const struct clientcert *cc)
{
	return cc != NULL && cc->mode != MODE_OFF;
}

/* ---- the handshake */

/* optional: any certificate is taken, and judged at login with its reason
 * (a handshake alert says little to a browser's user). */
static int
accept_any(int preverify_ok, X509_STORE_CTX *ctx)
{
	(void)preverify_ok;
	(void)ctx;
	return 1;
}

int
clientcert_setup_ctx(struct clientcert *cc, SSL_CTX *ctx, struct atr_err *err)
{
	unsigned char sid_ctx[32];
	EVP_MD_CTX *md;
	STACK_OF(X509_NAME) *names;

	if (!clientcert_enabled(cc))
		return 0;
	if ((names = sk_X509_NAME_deep_copy(cc->ca_names, X509_NAME_dup, X509_NAME_free)) == NULL)
		return atr_err_set(err, ATR_E_NOMEM, NULL);
	SSL_CTX_set_client_CA_list(ctx, names);
	/* Resumption with a peer certificate needs a session id context. It
	 * is the mode and the CAs' digest: a session made under another
	 * policy (optional, no certificate) is not resumed under this one
	 * (required), it gets a full handshake. */
	if ((md = EVP_MD_CTX_new()) == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(md, &cc->mode, sizeof(cc->mode)) != 1) {
		EVP_MD_CTX_free(md);
		return atr_err_set(err, ATR_E_NOMEM, NULL);
	}
	for (int i = 0; i < sk_X509_NAME_num(cc->ca_names); i++) {
		const unsigned char *der;
		size_t len;
		if (X509_NAME_get0_der(sk_X509_NAME_value(cc->ca_names, i), &der, &len) == 1)
			EVP_DigestUpdate(md, der, len);
	}
	EVP_DigestFinal_ex(md, sid_ctx, NULL);
	EVP_MD_CTX_free(md);
	SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx));
	if (cc->mode == MODE_REQUIRED) {
		/* The chain and dates at the handshake; revocation at login
		 * (its CRLs may need fetching, never on an event loop). */
		X509_STORE_up_ref(cc->store);
		SSL_CTX_set_cert_store(ctx, cc->store);
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	} else {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, accept_any);
	}
	SSL_CTX_set_verify_depth(ctx, 8);
	return 0;
}

/* ---- describing a certificate */

static int
utf8_of(const ASN1_STRING *s, char *out, size_t len)
{
	unsigned char *u = NULL;
	int n = ASN1_STRING_to_UTF8(&u, s);

	if (n < 0)
		return -1;
	snprintf(out, len, "%.*s", n, (const char *)u);
	OPENSSL_free(u);
	return strlen(out) == (size_t)n && n > 0 ? 0 : -1; /* no NUL inside, not empty */
}

static int
subject_field(X509 *x, int nid, char *out, size_t len)
{
	X509_NAME *n = X509_get_subject_name(x);
	int i = X509_NAME_get_index_by_NID(n, nid, -1);

	if (i < 0)
		return -1;
	return utf8_of(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(n, i)), out, len);
}

/* The first SubjectAltName of type (GEN_EMAIL, or GEN_OTHERNAME with
 * the UPN's type). */
static int
san_field(X509 *x, int type, char *out, size_t len)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	int rc = -1;

	for (int i = 0; gens != NULL && rc == -1 && i < sk_GENERAL_NAME_num(gens); i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		if (g->type != type)
			continue;
		if (type == GEN_EMAIL)
			rc = utf8_of(g->d.rfc822Name, out, len);
		else if (OBJ_obj2nid(g->d.otherName->type_id) == NID_ms_upn &&
			 g->d.otherName->value->type == V_ASN1_UTF8STRING)
			rc = utf8_of(g->d.otherName->value->value.utf8string, out, len);
	}
	GENERAL_NAMES_free(gens);
	return rc;
}

static int
field_value(X509 *x, enum field f, char *out, size_t len)
{
	switch (f) {
	case F_CN:
		return subject_field(x, NID_commonName, out, len);
	case F_EMAIL:
		if (san_field(x, GEN_EMAIL, out, len) == 0)
			return 0;
		return subject_field(x, NID_pkcs9_emailAddress, out, len);
	case F_UPN:
		return san_field(x, GEN_OTHERNAME, out, len);
	case F_UID:
		return subject_field(x, NID_userId, out, len);
	default:
		return -1;
	}
}

int
clientcert_describe(const struct clientcert *cc, X509 *leaf, struct clientcert_id *id,
    struct atr_err *err)
{
	BIO *bio = BIO_new(BIO_s_mem());
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(leaf), NULL);
	char *hex = bn != NULL ? BN_bn2hex(bn) : NULL;
	const char *t = cc->tmpl;
	size_t used = 0;
	int n;

	memset(id, 0, sizeof(*id));
	if (bio != NULL && X509_NAME_print_ex(bio, X509_get_subject_name(leaf), 0,
			       XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
		n = BIO_read(bio, id->subject, sizeof(id->subject) - 1);
		id->subject[n > 0 ? n : 0] = '\0';
	}
	BIO_free(bio);
	snprintf(id->serial, sizeof(id->serial), "%s", hex != NULL ? hex : "?");
	OPENSSL_free(hex);
	BN_free(bn);
	while (*t != '\0') {
		enum field f = F__COUNT;
		char v[256];

		for (int i = 0; i < F__COUNT; i++)
			if (strncmp(t, field_names[i], strlen(field_names[i])) == 0)
				f = (enum field)i;
		if (f == F__COUNT) {
			if (used + 1 < sizeof(id->user))
				id->user[used++] = *t;
			t++;
			continue;
		}
		if (field_value(leaf, f, v, sizeof(v)) == -1) {
			id->user[0] = '\0';
			return atr_err_set(err, ATR_E_CLIENT_CERT_NO_USER,
			    "the certificate (%s) has no %s for the user name (client_cert_user = %s)",
			    id->subject, field_names[f], cc->tmpl);
		}
		used += (size_t)snprintf(id->user + used, sizeof(id->user) - used, "%s", v);
		if (used >= sizeof(id->user))
			used = sizeof(id->user) - 1;
		t += strlen(field_names[f]);
	}
	id->user[used] = '\0';
	return 0;
}

/* ---- CRL distribution points: fetched, cached */

struct crl_entry {
	char *url;
	X509_CRL *crl;
	int64_t until; /* refetch from then: the CRL's nextUpdate */
};

static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static struct crl_entry cache[CRL_CACHE_MAX];

struct fetch {
	struct outbound *ob;
	char host[256];
	unsigned char *buf;
	size_t len;
	int denied;
};

static size_t
on_data(char *p, size_t size, size_t nmemb, void *arg)
{
	struct fetch *f = arg;
	size_t n = size * nmemb;
	unsigned char *nb;

	if (f->len + n > CRL_MAX_BYTES || (nb = realloc(f->buf, f->len + n)) == NULL)
		return 0;
	f->buf = nb;
	memcpy(f->buf + f->len, p, n);
	f->len += n;
	return n;
}

/* The address checked is the address connected (as deliver.c). */
static curl_socket_t
on_open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct fetch *f = arg;

	(void)purpose;
	if (!outbound_allowed(f->ob, f->host, &a->addr)) {
		f->denied = 1;
		return CURL_SOCKET_BAD;
	}
	return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

static X509_CRL *
crl_fetch(struct outbound *ob, const char *url, char *why, size_t wlen)
{
	struct fetch f = {.ob = ob};
	CURL *e = curl_easy_init();
	CURLU *u = curl_url();
	char *host = NULL;
	long status = 0;
	CURLcode rc = CURLE_FAILED_INIT;
	X509_CRL *crl = NULL;

	if (e == NULL || u == NULL || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		snprintf(why, wlen, "the distribution point %.300s is not a URL", url);
		goto out;
	}
	/* outbound_allow compares the address without brackets. */
	snprintf(f.host, sizeof(f.host), "%.*s", (int)strcspn(host + (host[0] == '['), "]"),
	    host + (host[0] == '['));
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT, (long)CRL_FETCH_SECONDS);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &f);
	curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
	curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, &f);
	curl_easy_setopt(e, CURLOPT_PROXY, "");
	rc = curl_easy_perform(e);
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
	if (f.denied)
		snprintf(why, wlen, "outbound_allow does not allow fetching %.300s", url);
	else if (rc != CURLE_OK)
		snprintf(why, wlen, "fetching %.300s failed: %s", url, curl_easy_strerror(rc));
	else if (status != 200)
		snprintf(why, wlen, "fetching %.300s answered HTTP %ld", url, status);
	else if ((crl = crl_parse(f.buf, f.len)) == NULL)
		snprintf(why, wlen, "%.300s is not a PEM or DER CRL", url);
out:
	curl_free(host);
	curl_url_cleanup(u);
	curl_easy_cleanup(e);
	free(f.buf);
	return crl;
}

static int64_t
asn1_seconds(const ASN1_TIME *t)
{
	struct tm tm;

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return -1;
	return (int64_t)timegm(&tm);
}

/* The CRL at url, from the cache while it is current, else fetched (and
 * cached). A new reference, or NULL with why. */
static X509_CRL *
crl_get(struct outbound *ob, const char *url, int64_t now, char *why, size_t wlen)
{
	X509_CRL *crl = NULL;
	int64_t next;
	int slot = -1, oldest = 0;

	pthread_mutex_lock(&cache_mu);
	for (int i = 0; i < CRL_CACHE_MAX && crl == NULL; i++)
		if (cache[i].url != NULL && strcmp(cache[i].url, url) == 0 && now < cache[i].until &&
		    X509_CRL_up_ref(cache[i].crl))
			crl = cache[i].crl;
	pthread_mutex_unlock(&cache_mu);
	if (crl != NULL)
		return crl;
	if ((crl = crl_fetch(ob, url, why, wlen)) == NULL)
		return NULL;
	next = asn1_seconds(X509_CRL_get0_nextUpdate(crl));
	atr_info("client certificates: fetched the CRL %s (next update %s)", url,
	    next > 0 ? "in the CRL" : "not given: kept an hour");
	pthread_mutex_lock(&cache_mu);
	for (int i = 0; i < CRL_CACHE_MAX; i++) {
		if (cache[i].url != NULL && strcmp(cache[i].url, url) == 0) {
			slot = i;
			break;
		}
		if (slot == -1 && cache[i].url == NULL)
			slot = i;
		if (cache[i].until < cache[oldest].until)
			oldest = i;
	}
	if (slot == -1)
		slot = oldest;
	if (cache[slot].url == NULL || strcmp(cache[slot].url, url) != 0) {
		free(cache[slot].url);
		cache[slot].url = strdup(url);
	}
	X509_CRL_free(cache[slot].crl);
	cache[slot].crl = NULL;
	if (cache[slot].url != NULL && X509_CRL_up_ref(crl)) {
		cache[slot].crl = crl;
		cache[slot].until = next > now ? next : now + CRL_DEFAULT_TTL;
	}
	pthread_mutex_unlock(&cache_mu);
	return crl;
}

/* The CRLs of leaf's distribution points (URIs only). */
static STACK_OF(X509_CRL) *
cdp_crls(X509 *leaf, struct outbound *ob, int64_t now, int *named, char *why, size_t wlen)
{
	STACK_OF(DIST_POINT) *dps = X509_get_ext_d2i(leaf, NID_crl_distribution_points, NULL, NULL);
	STACK_OF(X509_CRL) *out = sk_X509_CRL_new_null();

	*named = 0;
	for (int i = 0; out != NULL && dps != NULL && i < sk_DIST_POINT_num(dps); i++) {
		DIST_POINT *dp = sk_DIST_POINT_value(dps, i);
		if (dp->distpoint == NULL || dp->distpoint->type != 0)
			continue;
		for (int j = 0; j < sk_GENERAL_NAME_num(dp->distpoint->name.fullname); j++) {
			GENERAL_NAME *g = sk_GENERAL_NAME_value(dp->distpoint->name.fullname, j);
			char url[2048];
			X509_CRL *crl;

			if (g->type != GEN_URI || utf8_of(g->d.uniformResourceIdentifier, url,
						      sizeof(url)) == -1 ||
			    (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0))
				continue;
			(*named)++;
			if ((crl = crl_get(ob, url, now, why, wlen)) != NULL &&
			    sk_X509_CRL_push(out, crl) <= 0)
				X509_CRL_free(crl);
		}
	}
	sk_DIST_POINT_pop_free(dps, DIST_POINT_free);
	return out;
}

/* ---- the login check */

static void
time_text(const ASN1_TIME *t, char *out, size_t len)
{
	int64_t s = asn1_seconds(t);
	struct tm tm;
	time_t tt = (time_t)s;

	if (s < 0 || gmtime_r(&tt, &tm) == NULL)
		snprintf(out, len, "?");
	else
		strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* How OpenSSL's verdicts become our codes. */
static const struct {
	int verr;
	enum atr_errcode code;
} verdicts[] = {
	{X509_V_ERR_CERT_HAS_EXPIRED, ATR_E_CLIENT_CERT_EXPIRED},
	{X509_V_ERR_CERT_NOT_YET_VALID, ATR_E_CLIENT_CERT_EXPIRED},
	{X509_V_ERR_CERT_REVOKED, ATR_E_CLIENT_CERT_REVOKED},
	{X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT, ATR_E_CLIENT_CERT_UNTRUSTED},
	{X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, ATR_E_CLIENT_CERT_UNTRUSTED},
	{X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE, ATR_E_CLIENT_CERT_UNTRUSTED},
	{X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, ATR_E_CLIENT_CERT_UNTRUSTED},
	{X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN, ATR_E_CLIENT_CERT_UNTRUSTED},
	{X509_V_ERR_CERT_UNTRUSTED, ATR_E_CLIENT_CERT_UNTRUSTED},
	{X509_V_ERR_UNABLE_TO_GET_CRL, ATR_E_CLIENT_CERT_NO_CRL},
	{X509_V_ERR_CRL_HAS_EXPIRED, ATR_E_CLIENT_CERT_NO_CRL},
	{X509_V_ERR_CRL_NOT_YET_VALID, ATR_E_CLIENT_CERT_NO_CRL},
};

static enum atr_errcode
verdict(int verr)
{
	for (size_t i = 0; i < sizeof(verdicts) / sizeof(verdicts[0]); i++)
		if (verdicts[i].verr == verr)
			return verdicts[i].code;
	return ATR_E_CLIENT_CERT_INVALID;
}

/* One verification; the OpenSSL verdict (X509_V_OK), with the revoked
 * entry's date in revoked_at. */
static int
verify_once(struct clientcert *cc, X509 *leaf, STACK_OF(X509) *chain, STACK_OF(X509_CRL) *crls,
    int check_crl, int64_t now, char *revoked_at, size_t rlen)
{
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int verr = X509_V_ERR_UNSPECIFIED;

	if (ctx == NULL || X509_STORE_CTX_init(ctx, cc->store, leaf, chain) != 1)
		goto out;
	X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT);
	X509_STORE_CTX_set_time(ctx, 0, (time_t)now);
	if (crls != NULL)
		X509_STORE_CTX_set0_crls(ctx, crls);
	if (check_crl)
		X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_CRL_CHECK);
	verr = X509_verify_cert(ctx) == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
	if (verr == X509_V_ERR_CERT_REVOKED) {
		/* The entry's date: from the fetched CRLs or the files'. */
		STACK_OF(X509_CRL) *files = X509_STORE_CTX_get1_crls(ctx, X509_get_issuer_name(leaf));
		for (int k = 0; k < 2; k++) {
			STACK_OF(X509_CRL) *sk = k == 0 ? crls : files;
			for (int i = 0; sk != NULL && i < sk_X509_CRL_num(sk); i++) {
				X509_REVOKED *rev = NULL;
				if (X509_CRL_get0_by_cert(sk_X509_CRL_value(sk, i), &rev, leaf) == 1 &&
				    rev != NULL)
					time_text(X509_REVOKED_get0_revocationDate(rev), revoked_at, rlen);
			}
		}
		sk_X509_CRL_pop_free(files, X509_CRL_free);
	}
out:
	X509_STORE_CTX_free(ctx);
	ERR_clear_error();
	return verr;
}

int
clientcert_verify(struct clientcert *cc, X509 *leaf, STACK_OF(X509) *chain,
    struct outbound *ob, int64_t now, struct atr_err *err)
{
	STACK_OF(X509_CRL) *crls;
	char why[600] = "", revoked_at[40] = "?", nb[40], na[40];
	int named, verr;
	enum atr_errcode code;

	if (!clientcert_enabled(cc))
		return atr_err_set(err, ATR_E_BAD_REQUEST,
		    "certificate login is off on this server (client_certificates)");
	/* Chain and dates first: an untrusted certificate's distribution
	 * points are not fetched. */
	verr = verify_once(cc, leaf, chain, NULL, 0, now, revoked_at, sizeof(revoked_at));
	if (verr == X509_V_OK) {
		crls = cdp_crls(leaf, ob, now, &named, why, sizeof(why));
		verr = verify_once(cc, leaf, chain, crls, 1, now, revoked_at, sizeof(revoked_at));
		sk_X509_CRL_pop_free(crls, X509_CRL_free);
	}
	code = verr == X509_V_OK ? ATR_E_OK : verdict(verr);
	if (code == ATR_E_CLIENT_CERT_NO_CRL && !cc->crl_required) {
		atr_warn("client certificates: no current CRL (%s); allowed, as client_crl_check "
			 "is if-available",
		    why[0] ? why : X509_verify_cert_error_string(verr));
		return 0;
	}
	time_text(X509_get0_notBefore(leaf), nb, sizeof(nb));
	time_text(X509_get0_notAfter(leaf), na, sizeof(na));
	switch (code) {
	case ATR_E_OK:
		return 0;
	case ATR_E_CLIENT_CERT_EXPIRED:
		return atr_err_set(err, code,
		    "the certificate has expired or is not valid yet: valid from %s to %s", nb, na);
	case ATR_E_CLIENT_CERT_REVOKED:
		return atr_err_set(err, code, "the certificate is revoked (since %s, by its CRL)",
		    revoked_at);
	case ATR_E_CLIENT_CERT_UNTRUSTED:
		return atr_err_set(err, code,
		    "the certificate's issuer is unknown: it does not chain to a CA of "
		    "client_ca_file (%s)", X509_verify_cert_error_string(verr));
	case ATR_E_CLIENT_CERT_NO_CRL:
		return atr_err_set(err, code,
		    "the certificate's revocation cannot be checked (%s%s%s), and client_crl_check "
		    "is require", X509_verify_cert_error_string(verr), why[0] ? "; " : "", why);
	default:
		return atr_err_set(err, code, "the certificate is not valid: %s",
		    X509_verify_cert_error_string(verr));
	}
}
