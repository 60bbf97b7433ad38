/* Server TLS contexts with fixed secure defaults, and certificate checks. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "atrium/tls.h"

#define TLS12_CIPHERS                                                       \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"       \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"       \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
#define TLS13_SUITES                                                        \
	"TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
#define GROUPS "X25519:P-256:P-384"

/* Session-ticket keys: the current one seals, both open. */
struct ticket_key {
	unsigned char name[16];
	unsigned char aes[32];
	unsigned char hmac[32];
	int set;
};

static pthread_mutex_t ticket_mu = PTHREAD_MUTEX_INITIALIZER;
static struct ticket_key tickets[2]; /* [0] current, [1] previous */

void
atr_tls_rotate_tickets(void)
{
	struct ticket_key fresh;

	if (RAND_bytes(fresh.name, sizeof(fresh.name)) != 1 ||
	    RAND_bytes(fresh.aes, sizeof(fresh.aes)) != 1 ||
	    RAND_bytes(fresh.hmac, sizeof(fresh.hmac)) != 1)
		return; /* keep the old keys rather than use weak ones */
	fresh.set = 1;
	pthread_mutex_lock(&ticket_mu);
	tickets[1] = tickets[0];
	tickets[0] = fresh;
	pthread_mutex_unlock(&ticket_mu);
	OPENSSL_cleanse(&fresh, sizeof(fresh));
}

static int
ticket_cb(SSL *ssl, unsigned char key_name[16], unsigned char *iv, EVP_CIPHER_CTX *cctx,
    EVP_MAC_CTX *hctx, int enc)
{
	struct ticket_key k;
	OSSL_PARAM params[3];
	int rc = 0;

	(void)ssl;
	pthread_mutex_lock(&ticket_mu);
	if (!tickets[0].set) {
		pthread_mutex_unlock(&ticket_mu);
		atr_tls_rotate_tickets();
		pthread_mutex_lock(&ticket_mu);
	}
	if (enc) {
		k = tickets[0];
		rc = 1;
	} else if (memcmp(key_name, tickets[0].name, 16) == 0) {
		/* Accepted, and renewed: clients (browsers, wrk) use a TLS 1.3
		 * ticket once, so without a fresh one every other connection
		 * would pay for a full handshake. */
		k = tickets[0];
		rc = 2;
	} else if (tickets[1].set && memcmp(key_name, tickets[1].name, 16) == 0) {
		k = tickets[1];
		rc = 2; /* accepted; the new ticket is sealed with the current key */
	}
	pthread_mutex_unlock(&ticket_mu);
	if (rc == 0)
		return 0; /* unknown key: a full handshake */
	params[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, k.hmac, sizeof(k.hmac));
	params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0);
	params[2] = OSSL_PARAM_construct_end();
	if (enc) {
		memcpy(key_name, k.name, 16);
		if (RAND_bytes(iv, 16) != 1 ||
		    EVP_EncryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k.aes, iv) != 1 ||
		    EVP_MAC_CTX_set_params(hctx, params) != 1)
			rc = -1;
	} else if (EVP_DecryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k.aes, iv) != 1 ||
		   EVP_MAC_CTX_set_params(hctx, params) != 1) {
		rc = -1;
	}
	OPENSSL_cleanse(&k, sizeof(k));
	return rc;
}

static int
alpn_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
    unsigned int inlen, void *arg)
{
	static const unsigned char http11[] = "\x08http/1.1";

	(void)ssl;
	(void)arg;
	if (SSL_select_next_proto((unsigned char **)out, outlen, http11, sizeof(http11) - 1, in,
		inlen) == OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_OK;
	return SSL_TLSEXT_ERR_NOACK; /* a client without http/1.1 still gets HTTP/1.1 */
}

SSL_CTX *
atr_tls_server_ctx_new(EVP_PKEY *key, STACK_OF(X509) *chain, struct atr_err *err)
{
	SSL_CTX *ctx;

	ERR_clear_error();
	if (chain == NULL || sk_X509_num(chain) < 1) {
		atr_err_set(err, ATR_E_CERT_INVALID, "there is no certificate to serve");
		return NULL;
	}
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		atr_err_set_ssl(err, ATR_E_TLS, "cannot create a TLS context");
		return NULL;
	}
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) != 1 ||
	    SSL_CTX_set_ciphersuites(ctx, TLS13_SUITES) != 1 ||
	    SSL_CTX_set1_groups_list(ctx, GROUPS) != 1) {
		atr_err_set_ssl(err, ATR_E_TLS, "cannot set the TLS parameters");
		goto fail;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	/* Tickets only: no server-side session cache to grow or share. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(ctx, 1);
	if (SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_cb) != 1) {
		atr_err_set_ssl(err, ATR_E_TLS, "cannot set up session tickets");
		goto fail;
	}
	SSL_CTX_set_alpn_select_cb(ctx, alpn_cb, NULL);
	if (SSL_CTX_use_certificate(ctx, sk_X509_value(chain, 0)) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, key) != 1) {
		atr_err_set_ssl(err, ATR_E_CERT_MISMATCH,
		    "the private key does not match the certificate");
		goto fail;
	}
	/* The whole chain travels, root included: a client that trusts on
	 * first use (`atrium certs trust`) pins the root, so renewals of the
	 * server certificate pass without a warning. It costs a few hundred
	 * bytes per full handshake. */
	for (int i = 1; i < sk_X509_num(chain); i++) {
		X509 *c = sk_X509_value(chain, i);
		if (SSL_CTX_add1_chain_cert(ctx, c) != 1) {
			atr_err_set_ssl(err, ATR_E_TLS, "cannot add the certificate chain");
			goto fail;
		}
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		atr_err_set_ssl(err, ATR_E_CERT_MISMATCH,
		    "the private key does not match the certificate");
		goto fail;
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

int64_t
atr_tls_not_after(X509 *cert)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) != 1)
		return 0;
	return (int64_t)timegm(&tm);
}

static int64_t
not_before(X509 *cert)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (ASN1_TIME_to_tm(X509_get0_notBefore(cert), &tm) != 1)
		return 0;
	return (int64_t)timegm(&tm);
}

int64_t
atr_tls_days_left(X509 *cert, int64_t now)
{
	int64_t left = atr_tls_not_after(cert) - now;

	return left >= 0 ? left / 86400 : -((-left + 86399) / 86400);
}

static void
warn(char *warnings, size_t wlen, const char *text)
{
	size_t used;

	if (warnings == NULL || wlen == 0)
		return;
	used = strlen(warnings);
	snprintf(warnings + used, wlen - used, "%s%s", used ? "\n" : "", text);
}

static void
utc(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

int
atr_tls_check_server(EVP_PKEY *key, STACK_OF(X509) *chain, const char *hostname, int64_t now,
    char *warnings, size_t wlen, struct atr_err *err)
{
	X509 *leaf;
	int n = chain != NULL ? sk_X509_num(chain) : 0;
	int64_t nb, na, days;
	char a[40], b[40], line[300];
	uint32_t ku, xku;

	if (warnings != NULL && wlen > 0)
		warnings[0] = '\0';
	if (n < 1)
		return atr_err_set(err, ATR_E_CERT_INVALID,
		    "the keystore entry has no certificate for its key");
	leaf = sk_X509_value(chain, 0);
	ERR_clear_error();
	if (X509_check_private_key(leaf, key) != 1) {
		ERR_clear_error();
		return atr_err_set(err, ATR_E_CERT_MISMATCH,
		    "the private key does not match the certificate: they are not a pair");
	}
	for (int i = 0; i + 1 < n; i++) {
		X509 *c = sk_X509_value(chain, i), *issuer = sk_X509_value(chain, i + 1);
		EVP_PKEY *ipk = X509_get0_pubkey(issuer);
		if (X509_check_issued(issuer, c) != X509_V_OK || ipk == NULL ||
		    X509_verify(c, ipk) != 1) {
			ERR_clear_error();
			return atr_err_set(err, ATR_E_CERT_INVALID,
			    "the certificate chain is out of order or broken: certificate %d is "
			    "not issued by certificate %d; list the server certificate first, "
			    "then each issuer",
			    i + 1, i + 2);
		}
	}
	nb = not_before(leaf);
	na = atr_tls_not_after(leaf);
	utc(nb, a, sizeof(a));
	utc(na, b, sizeof(b));
	if (now < nb)
		return atr_err_set(err, ATR_E_CERT_EXPIRED,
		    "the certificate is not valid yet: it is valid from %s until %s", a, b);
	if (now > na)
		return atr_err_set(err, ATR_E_CERT_EXPIRED,
		    "the certificate has expired: it was valid from %s until %s", a, b);
	ku = X509_get_key_usage(leaf);
	xku = X509_get_extended_key_usage(leaf);
	if (X509_check_ca(leaf) == 1 && X509_get_extension_flags(leaf) & EXFLAG_BCONS &&
	    !(X509_get_extension_flags(leaf) & EXFLAG_SS))
		return atr_err_set(err, ATR_E_CERT_INVALID,
		    "the certificate is a CA certificate (BasicConstraints CA:true), not a "
		    "server certificate; issue a server certificate from this CA");
	if (ku != UINT32_MAX && !(ku & (KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT |
					  KU_KEY_AGREEMENT)))
		return atr_err_set(err, ATR_E_CERT_INVALID,
		    "the certificate's KeyUsage does not allow a TLS server (it needs "
		    "digitalSignature)");
	if (xku != UINT32_MAX && !(xku & (XKU_SSL_SERVER | XKU_ANYEKU)))
		return atr_err_set(err, ATR_E_CERT_INVALID,
		    "the certificate's ExtendedKeyUsage does not include serverAuth, so clients "
		    "will refuse it as a server certificate");
	days = atr_tls_days_left(leaf, now);
	if (days < 30) {
		snprintf(line, sizeof(line),
		    "the certificate expires in %lld day%s (%s); renew it soon", (long long)days,
		    days == 1 ? "" : "s", b);
		warn(warnings, wlen, line);
	}
	if (hostname != NULL && hostname[0] != '\0') {
		int match = X509_check_host(leaf, hostname, 0, 0, NULL) == 1 ||
		    X509_check_ip_asc(leaf, hostname, 0) == 1;
		if (!match) {
			snprintf(line, sizeof(line),
			    "no SubjectAltName of the certificate covers '%s': clients connecting "
			    "by that name will refuse it",
			    hostname);
			warn(warnings, wlen, line);
		}
	}
	if (n >= 1) {
		X509 *last = sk_X509_value(chain, n - 1);
		if (X509_check_issued(last, last) != X509_V_OK) {
			snprintf(line, sizeof(line),
			    "the chain ends at a certificate that is not a root; clients need the "
			    "missing issuer certificates (include the intermediate CAs in the "
			    "keystore)");
			if (n > 1 || X509_check_issued(leaf, leaf) != X509_V_OK)
				warn(warnings, wlen, line);
		}
	}
	ERR_clear_error();
	return 0;
}
