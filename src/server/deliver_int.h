/*
 * The deliverer's TLS (deliver_tls.c), shared with its loop (deliver.c):
 * what one transfer trusts, and what its handshake saw, so that a failure
 * is worded from the certificates themselves and never from libcurl's
 * message text.
 */
#ifndef ATRIUM_SERVER_DELIVER_INT_H
#define ATRIUM_SERVER_DELIVER_INT_H

#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

struct truststore;

/* Why the verification of the receiver's chain failed. */
enum dtls_verdict {
	DTLS_NOT_RUN,     /* no certificate was checked (no handshake, or it failed before) */
	DTLS_OK,
	DTLS_UNTRUSTED,   /* no path to a trusted certificate */
	DTLS_EXPIRED,     /* a certificate of the path is past its notAfter */
	DTLS_NOT_YET,     /* ... or before its notBefore */
	DTLS_NAME,        /* the chain is trusted, the leaf is not for the host */
	DTLS_PIN,         /* no certificate presented has the pinned fingerprint */
	DTLS_OTHER,       /* anything else X509_verify_cert() refused */
};

/* One transfer's TLS. The first block is set by deliver.c before the
 * transfer; the rest is filled during the handshake and freed by
 * dtls_clear(). */
struct dtls {
	const char *host;            /* as in the URL, without brackets */
	int port;
	struct truststore *trust;    /* used when neither ca_pem nor pin is set */
	const char *ca_pem;          /* the integration's own CAs */
	const char *pin;             /* 64 lower-case hex, or "" */
	const char *client_pem;      /* chain + key, or NULL */

	char setup_error[256];       /* the SSL_CTX could not be prepared (bad ca_pem, key...) */
	enum dtls_verdict verdict;
	int verify_error;            /* X509_V_ERR_* */
	void *leaf, *top, *bad;      /* X509 *: presented leaf, top of what was presented,
	                              * the certificate the error is about */
	int alert;                   /* the last TLS alert the receiver sent, -1 none */
	void *anchors;               /* X509_STORE *: what the chain must lead to */
	int cert_requested;          /* the receiver asked for a client certificate */
	int closed;                  /* set by the caller: closed with no answer after TLS */
};

/* Zeroes t's results (alert -1). */
void dtls_init(struct dtls *t);

/* Frees what the handshake left in t. */
void dtls_clear(struct dtls *t);

/* libcurl's CURLOPT_SSL_CTX_FUNCTION: prepares ssl_ctx (SSL_CTX *) for
 * t (void *): trust, verification callback, alert capture, client
 * certificate. CURLE_OK or CURLE_SSL_CERTPROBLEM (t->setup_error says why). */
CURLcode dtls_ctx_function(CURL *curl, void *ssl_ctx, void *t);

/* Words the TLS failure t saw into out: 1 when it had one to word, 0 when
 * the handshake recorded nothing (out untouched). */
int dtls_explain(const struct dtls *t, char *out, size_t size);

struct runtime;
struct store_conn;

/* deliver_cert.c: writes certificate.renewed and certificate.expiring
 * (30, 7, 1 days left, each once per certificate) for the served
 * certificate, as DIR/tls/certificate-events.json says what was sent;
 * only when force is set or the served certificate is not seen (its
 * SHA-256, which it then writes there). Whether it looked. */
int deliver_cert_check(struct runtime *rt, struct store_conn *sc, int64_t now_ms, char *seen,
    size_t seen_size, int force);

#endif
