/*
 * The deliverer's TLS: what a transfer trusts and how its failures are
 * worded (deliver_int.h).
 *
 * Trust, one of three per integration, never none:
 *   - the server trust store (truststore.h), the default;
 *   - the integration's ca_pem: those certificates alone are the anchors
 *     (any of them may be an intermediate or the receiver's own: partial
 *     chains are accepted, as the trust store accepts them);
 *   - its pin: the SHA-256 of the DER of one certificate the receiver
 *     presents, leaf or any other it sends. That certificate becomes the
 *     only anchor, so the path from the leaf up to it must still verify
 *     (signatures, validity dates), and the host name is still checked
 *     against the leaf: a pin says whom to trust, not where we connected.
 *     Pinning a leaf survives a change of CA; pinning the CA a receiver
 *     sends survives a renewal of the leaf.
 * The whole check is done here, in a certificate verification callback
 * (SSL_CTX_set_cert_verify_callback), so that what failed, on which
 * certificate, is known exactly; libcurl's own host name check stays on
 * behind it.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "atrium/x509.h"
#include "server/deliver_int.h"
#include "server/truststore.h"

void
dtls_init(struct dtls *t)
{
	t->setup_error[0] = '\0';
	t->verdict = DTLS_NOT_RUN;
	t->verify_error = 0;
	t->leaf = t->top = t->bad = NULL;
	t->anchors = NULL;
	t->alert = -1;
	t->cert_requested = t->closed = 0;
}

void
dtls_clear(struct dtls *t)
{
	X509_free(t->leaf);
	X509_free(t->top);
	X509_free(t->bad);
	X509_STORE_free(t->anchors);
	t->leaf = t->top = t->bad = NULL;
	t->anchors = NULL;
}

static int ex_index = -1;
static pthread_once_t ex_once = PTHREAD_ONCE_INIT;

static void
ex_init(void)
{
	ex_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

static void
keep(void **slot, X509 *c)
{
	if (*slot != NULL || c == NULL)
		return;
	X509_up_ref(c);
	*slot = c;
}

static void
hex_sha256(X509 *c, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	out[0] = '\0';
	if (X509_digest(c, EVP_sha256(), md, &n) != 1)
		return;
	for (unsigned int i = 0; i < n && i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static enum dtls_verdict
verdict_of(int e)
{
	switch (e) {
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
	case X509_V_ERR_CERT_UNTRUSTED:
		return DTLS_UNTRUSTED;
	case X509_V_ERR_CERT_HAS_EXPIRED:
		return DTLS_EXPIRED;
	case X509_V_ERR_CERT_NOT_YET_VALID:
		return DTLS_NOT_YET;
	case X509_V_ERR_HOSTNAME_MISMATCH:
	case X509_V_ERR_IP_ADDRESS_MISMATCH:
		return DTLS_NAME;
	default:
		return DTLS_OTHER;
	}
}

static int
host_matches(X509 *leaf, const char *host)
{
	unsigned char buf[16];

	if (inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1)
		return X509_check_ip_asc(leaf, host, 0) == 1;
	return X509_check_host(leaf, host, 0, 0, NULL) == 1;
}

/*
 * The whole verification of the receiver's chain (see the top), in an
 * X509_STORE_CTX of our own over t->anchors: libcurl may put a store of
 * its own (its CA cache) into the SSL_CTX after our set-up, so what the
 * handshake's context would verify against is not ours to decide.
 */
static int
verify_cb(X509_STORE_CTX *sctx, void *arg)
{
	struct dtls *t = arg;
	X509 *leaf = X509_STORE_CTX_get0_cert(sctx);
	STACK_OF(X509) *sent = X509_STORE_CTX_get0_untrusted(sctx);
	STACK_OF(X509) *anchors = NULL;
	X509_STORE_CTX *v = NULL;
	int n = sent != NULL ? sk_X509_num(sent) : 0, ok = 0;

	keep(&t->leaf, leaf);
	keep(&t->top, n > 0 ? sk_X509_value(sent, n - 1) : leaf);
	t->verdict = DTLS_OTHER;
	t->verify_error = X509_V_ERR_UNSPECIFIED;
	if ((v = X509_STORE_CTX_new()) == NULL || t->anchors == NULL ||
	    !X509_STORE_CTX_init(v, t->anchors, leaf, sent) ||
	    !X509_STORE_CTX_set_default(v, "ssl_server"))
		goto out;
	if (t->pin != NULL && t->pin[0] != '\0') {
		X509 *pinned = NULL;
		char fp[65];

		hex_sha256(leaf, fp);
		if (strcmp(fp, t->pin) == 0)
			pinned = leaf;
		for (int i = 0; pinned == NULL && i < n; i++) {
			hex_sha256(sk_X509_value(sent, i), fp);
			if (strcmp(fp, t->pin) == 0)
				pinned = sk_X509_value(sent, i);
		}
		if (pinned == NULL) {
			t->verdict = DTLS_PIN;
			t->verify_error = X509_V_ERR_APPLICATION_VERIFICATION;
			goto out;
		}
		if ((anchors = sk_X509_new_null()) == NULL || !sk_X509_push(anchors, pinned))
			goto out;
		X509_STORE_CTX_set0_trusted_stack(v, anchors);
		X509_VERIFY_PARAM_set_flags(X509_STORE_CTX_get0_param(v), X509_V_FLAG_PARTIAL_CHAIN);
	}
	if (X509_verify_cert(v) != 1) {
		t->verify_error = X509_STORE_CTX_get_error(v);
		t->verdict = verdict_of(t->verify_error);
		keep(&t->bad, X509_STORE_CTX_get_current_cert(v));
	} else if (!host_matches(leaf, t->host)) {
		t->verdict = DTLS_NAME;
		t->verify_error = X509_V_ERR_HOSTNAME_MISMATCH;
	} else {
		t->verdict = DTLS_OK;
		t->verify_error = X509_V_OK;
		ok = 1;
	}
out:
	X509_STORE_CTX_free(v);
	sk_X509_free(anchors); /* the stack only: its certificate is the chain's */
	ERR_clear_error();
	X509_STORE_CTX_set_error(sctx, t->verify_error);
	return ok;
}

/* Alerts the receiver sends: how a refused client certificate shows,
 * in TLS 1.3 only after the handshake looked complete to us. */
static void
info_cb(const SSL *ssl, int where, int ret)
{
	struct dtls *t;

	if (!(where & SSL_CB_READ_ALERT) || (ret & 0xff) == SSL_AD_CLOSE_NOTIFY)
		return;
	if ((t = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ex_index)) != NULL)
		t->alert = ret & 0xff;
}

/* Whether the receiver asks for a client certificate (its
 * CertificateRequest): a receiver that refuses one may just hang up. */
static void
msg_cb(int write_p, int version, int content_type, const void *buf, size_t len, SSL *ssl,
    void *arg)
{
	struct dtls *t = arg;

	(void)version;
	(void)ssl;
	if (!write_p && content_type == SSL3_RT_HANDSHAKE && len > 0 &&
	    ((const unsigned char *)buf)[0] == SSL3_MT_CERTIFICATE_REQUEST)
		t->cert_requested = 1;
}

static X509_STORE *
store_from_pem(const char *pem)
{
	X509_STORE *st = X509_STORE_new();
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *c;
	int n = 0;

	if (st == NULL || b == NULL)
		goto fail;
	while ((c = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
		int added = X509_STORE_add_cert(st, c);
		X509_free(c);
		if (!added)
			goto fail;
		n++;
	}
	ERR_clear_error(); /* the end of the text reads as an error */
	if (n == 0)
		goto fail;
	X509_STORE_set_flags(st, X509_V_FLAG_PARTIAL_CHAIN);
	BIO_free(b);
	return st;
fail:
	BIO_free(b);
	X509_STORE_free(st);
	return NULL;
}

/* The certificate chain and key of pem as ctx's client certificate. */
static int
use_client_pem(SSL_CTX *ctx, const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *key = NULL;
	X509 *c;
	int ok = 0, first = 1;

	if (b == NULL)
		return 0;
	if ((key = PEM_read_bio_PrivateKey(b, NULL, NULL, (void *)"")) == NULL)
		goto out;
	BIO_free(b);
	if ((b = BIO_new_mem_buf(pem, -1)) == NULL)
		goto out;
	while ((c = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
		int r = first ? SSL_CTX_use_certificate(ctx, c) : SSL_CTX_add1_chain_cert(ctx, c);
		X509_free(c);
		if (r != 1)
			goto out;
		first = 0;
	}
	ERR_clear_error();
	ok = !first && SSL_CTX_use_PrivateKey(ctx, key) == 1 && SSL_CTX_check_private_key(ctx) == 1;
out:
	EVP_PKEY_free(key);
	BIO_free(b);
	return ok;
}

CURLcode
dtls_ctx_function(CURL *curl, void *ssl_ctx, void *arg)
{
	struct dtls *t = arg;
	SSL_CTX *ctx = ssl_ctx;
	struct atr_err err;

	(void)curl;
	pthread_once(&ex_once, ex_init);
	ERR_clear_error();
	if (truststore_setup_ssl_ctx(t->trust, ctx, &err) == -1) {
		snprintf(t->setup_error, sizeof(t->setup_error), "%s", atr_err_msg(&err));
		return CURLE_SSL_CERTPROBLEM;
	}
	X509_STORE_free(t->anchors);
	if (t->ca_pem != NULL && t->ca_pem[0] != '\0')
		t->anchors = store_from_pem(t->ca_pem);
	else
		t->anchors = truststore_get(t->trust);
	if (t->anchors == NULL) {
		snprintf(t->setup_error, sizeof(t->setup_error), t->ca_pem != NULL &&
		    t->ca_pem[0] != '\0' ? "the integration's CA certificates (ca_pem) cannot be read"
					 : "out of memory");
		return CURLE_SSL_CERTPROBLEM;
	}
	if (t->client_pem != NULL && t->client_pem[0] != '\0' && !use_client_pem(ctx, t->client_pem)) {
		ERR_clear_error();
		snprintf(t->setup_error, sizeof(t->setup_error),
		    "the integration's client certificate cannot be used (its key is missing, "
		    "encrypted or does not match it)");
		return CURLE_SSL_CERTPROBLEM;
	}
	SSL_CTX_set_ex_data(ctx, ex_index, t);
	SSL_CTX_set_info_callback(ctx, info_cb);
	SSL_CTX_set_msg_callback(ctx, msg_cb);
	SSL_CTX_set_msg_callback_arg(ctx, t);
	SSL_CTX_set_cert_verify_callback(ctx, verify_cb, t);
	return CURLE_OK;
}

/* ---- wording */

static void
subject_of(X509 *c, int issuer, char *out, size_t size)
{
	char *s = c != NULL ? atr_x509_name_format(issuer ? X509_get_issuer_name(c)
							  : X509_get_subject_name(c)) : NULL;

	snprintf(out, size, "%s", s != NULL ? s : "?");
	free(s);
}

static void
date_of(const ASN1_TIME *tm, char *out, size_t size)
{
	struct tm t;

	if (tm == NULL || ASN1_TIME_to_tm(tm, &t) != 1) {
		snprintf(out, size, "?");
		return;
	}
	strftime(out, size, "%Y-%m-%d %H:%M:%S UTC", &t);
}

/* The names a certificate is for: its DNS and IP subjectAltNames, or its
 * CN when it has none (what X509_check_host() would use). */
static void
names_of(X509 *c, char *out, size_t size)
{
	GENERAL_NAMES *sans = X509_get_ext_d2i(c, NID_subject_alt_name, NULL, NULL);
	size_t pos = 0;

	out[0] = '\0';
	for (int i = 0; sans != NULL && i < sk_GENERAL_NAME_num(sans); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);
		char one[64] = "";
		if (g->type == GEN_DNS) {
			snprintf(one, sizeof(one), "%.*s", ASN1_STRING_length(g->d.dNSName),
			    (const char *)ASN1_STRING_get0_data(g->d.dNSName));
		} else if (g->type == GEN_IPADD) {
			int len = ASN1_STRING_length(g->d.iPAddress);
			const unsigned char *p = ASN1_STRING_get0_data(g->d.iPAddress);
			if (len == 4 || len == 16)
				inet_ntop(len == 4 ? AF_INET : AF_INET6, p, one, sizeof(one));
		}
		if (one[0] != '\0' && pos + strlen(one) + 3 < size)
			pos += (size_t)snprintf(out + pos, size - pos, "%s%s", pos ? ", " : "", one);
	}
	GENERAL_NAMES_free(sans);
	if (pos == 0) {
		char cn[256];
		if (X509_NAME_get_text_by_NID(X509_get_subject_name(c), NID_commonName, cn,
			sizeof(cn)) > 0)
			snprintf(out, size, "%s (its CN; it has no subjectAltName)", cn);
		else
			snprintf(out, size, "no name at all");
	}
}

/* The alerts by which receivers refuse a client certificate (or its
 * absence), by their RFC 8446 names: OpenSSL 3.0 names 116 "unknown". */
static const struct {
	int code;
	const char *name;
} cert_alerts[] = {
	{SSL_AD_HANDSHAKE_FAILURE, "handshake_failure"},
	{SSL_AD_BAD_CERTIFICATE, "bad_certificate"},
	{SSL_AD_UNSUPPORTED_CERTIFICATE, "unsupported_certificate"},
	{SSL_AD_CERTIFICATE_REVOKED, "certificate_revoked"},
	{SSL_AD_CERTIFICATE_EXPIRED, "certificate_expired"},
	{SSL_AD_CERTIFICATE_UNKNOWN, "certificate_unknown"},
	{SSL_AD_UNKNOWN_CA, "unknown_ca"},
	{SSL_AD_ACCESS_DENIED, "access_denied"},
	{SSL_AD_CERTIFICATE_REQUIRED, "certificate_required"},
};

static const char *
cert_alert(int a)
{
	for (size_t i = 0; i < sizeof(cert_alerts) / sizeof(cert_alerts[0]); i++)
		if (cert_alerts[i].code == a)
			return cert_alerts[i].name;
	return NULL;
}

/* The pin as fingerprints are shown elsewhere: "AB:CD:...". */
static void
pin_shown(const char *pin, char *out, size_t size)
{
	size_t k = 0;

	for (size_t i = 0; pin[i] != '\0' && pin[i + 1] != '\0' && k + 4 < size; i += 2) {
		if (k > 0)
			out[k++] = ':';
		out[k++] = (char)toupper((unsigned char)pin[i]);
		out[k++] = (char)toupper((unsigned char)pin[i + 1]);
	}
	out[k] = '\0';
}

int
dtls_explain(const struct dtls *t, char *out, size_t size)
{
	char subj[512], iss[512], fp[100], hp[300];
	X509 *bad = t->bad != NULL ? t->bad : t->leaf;

	snprintf(hp, sizeof(hp), strchr(t->host, ':') ? "[%s]:%d" : "%s:%d", t->host, t->port);
	if (t->setup_error[0] != '\0') {
		snprintf(out, size, "%s", t->setup_error);
		return 1;
	}
	switch (t->verdict) {
	case DTLS_NOT_RUN:
	case DTLS_OK:
		break;
	case DTLS_UNTRUSTED:
		subject_of(t->leaf, 0, subj, sizeof(subj));
		subject_of(t->leaf, 1, iss, sizeof(iss));
		if (atr_x509_fingerprint(t->top, "SHA-256", fp, sizeof(fp)) == -1)
			snprintf(fp, sizeof(fp), "?");
		{
			char top[512];
			subject_of(t->top, 0, top, sizeof(top));
			if (t->ca_pem != NULL && t->ca_pem[0] != '\0')
				snprintf(out, size, "the receiver's certificate (subject %s, issuer %s) is "
				    "not signed by the integration's CA certificates; the top of the chain "
				    "it presented is %s, SHA-256 %s. Give the integration the CA that "
				    "signed it (ca_pem)", subj, iss, top, fp);
			else
				snprintf(out, size, "the receiver's certificate is not trusted: subject %s, "
				    "issuer %s; the top of the chain it presented is %s, SHA-256 %s. "
				    "Check that fingerprint with the receiver's administrator, then trust "
				    "it with `atrium admin trust fetch %s --fingerprint %s` (or run "
				    "`atrium admin trust fetch %s` to see the chain and be asked)",
				    subj, iss, top, fp, hp, fp, hp);
		}
		return 1;
	case DTLS_EXPIRED:
	case DTLS_NOT_YET: {
		char from[40], until[40];
		subject_of(bad, 0, subj, sizeof(subj));
		date_of(bad != NULL ? X509_get0_notBefore(bad) : NULL, from, sizeof(from));
		date_of(bad != NULL ? X509_get0_notAfter(bad) : NULL, until, sizeof(until));
		snprintf(out, size, "%s (subject %s) %s: it is valid from %s until %s. Renew %s%s",
		    bad == t->leaf ? "the receiver's certificate" : "a certificate of the receiver's chain",
		    subj, t->verdict == DTLS_EXPIRED ? "has expired" : "is not valid yet", from, until,
		    bad == t->leaf ? "the receiver's certificate" : "that certificate",
		    t->verdict == DTLS_NOT_YET ? ", or check the clocks" : "");
		return 1;
	}
	case DTLS_NAME: {
		char names[600];
		names_of(t->leaf, names, sizeof(names));
		snprintf(out, size, "the receiver's certificate does not match the name %s: it is for "
		    "%s. Use one of those names in the URL, or give the receiver a certificate for %s",
		    t->host, names, t->host);
		return 1;
	}
	case DTLS_PIN: {
		char leaf[100], pin[100];
		pin_shown(t->pin, pin, sizeof(pin));
		if (atr_x509_fingerprint(t->leaf, "SHA-256", leaf, sizeof(leaf)) == -1)
			snprintf(leaf, sizeof(leaf), "?");
		if (atr_x509_fingerprint(t->top, "SHA-256", fp, sizeof(fp)) == -1)
			snprintf(fp, sizeof(fp), "?");
		subject_of(t->leaf, 0, subj, sizeof(subj));
		snprintf(out, size, "no certificate the receiver presented has the pinned SHA-256 %s: "
		    "its certificate (subject %s) is %s%s%s. If the receiver's certificate was "
		    "changed on purpose, pin the new one", pin, subj, leaf,
		    t->top != t->leaf ? ", the top of its chain " : "", t->top != t->leaf ? fp : "");
		return 1;
	}
	case DTLS_OTHER:
		subject_of(bad, 0, subj, sizeof(subj));
		snprintf(out, size, "the receiver's certificate (subject %s) was refused: %s", subj,
		    X509_verify_cert_error_string(t->verify_error));
		return 1;
	}
	if (t->alert >= 0) {
		const char *name = cert_alert(t->alert);
		int have = t->client_pem != NULL && t->client_pem[0] != '\0';
		if (name != NULL && have)
			snprintf(out, size, "the receiver refused the client certificate (TLS alert "
			    "%s): check that it trusts the certificate's issuer and that the "
			    "certificate is valid and meant for clients", name);
		else if (t->alert == SSL_AD_CERTIFICATE_REQUIRED)
			snprintf(out, size, "the receiver requires a client certificate (TLS alert "
			    "certificate_required): give the integration one (client_keystore)");
		else if (name != NULL)
			snprintf(out, size, "the receiver ended the TLS handshake (alert %s); it may "
			    "want a client certificate: give the integration one (client_keystore)", name);
		else
			snprintf(out, size, "the receiver ended the TLS connection (alert %d: %s)",
			    t->alert, SSL_alert_desc_string_long(t->alert));
		return 1;
	}
	if (t->closed && t->cert_requested && t->client_pem != NULL && t->client_pem[0] != '\0') {
		snprintf(out, size, "the receiver asked for a client certificate, got the "
		    "integration's, and closed the connection without answering: it probably refused "
		    "the certificate; check that it trusts the certificate's issuer and that the "
		    "certificate is valid and meant for clients");
		return 1;
	}
	return 0;
}
