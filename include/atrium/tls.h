/*
 * Server-side TLS: contexts with secure defaults, built from a private key
 * and its certificate chain, and the checks a certificate must pass before
 * a server uses it.
 *
 * Defaults (no way to weaken them from the outside): TLS 1.2 and 1.3 only;
 * ECDHE with AEAD ciphers only (AES-GCM, ChaCha20-Poly1305); the server's
 * cipher order; no compression, no renegotiation; X25519, P-256, P-384;
 * session resumption by tickets whose keys rotate (atr_tls_rotate_tickets);
 * ALPN "http/1.1"; buffers released while a connection is idle.
 */
#ifndef ATRIUM_TLS_H
#define ATRIUM_TLS_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "atrium/err.h"

/*
 * A new server context for key and chain (leaf first; references are
 * taken). The caller owns the result (SSL_CTX_free()).
 */
SSL_CTX *atr_tls_server_ctx_new(EVP_PKEY *key, STACK_OF(X509) *chain, struct atr_err *err);

/*
 * Rotates the session-ticket keys shared by every server context: new
 * tickets are sealed with a fresh key, tickets of the previous key are
 * still accepted (then renewed). Call it periodically (hourly).
 */
void atr_tls_rotate_tickets(void);

/*
 * Checks that key and chain can serve TLS for hostname at time now
 * (seconds): the key belongs to the leaf; each certificate is issued and
 * signed by the next; the leaf is valid now; KeyUsage and
 * ExtendedKeyUsage, when present, allow a TLS server; the leaf is not a
 * CA. Problems that make clients fail are errors (-1, err set: ATR_E_CERT_
 * MISMATCH, ATR_E_CERT_EXPIRED, ATR_E_CERT_INVALID). Problems clients may
 * survive are sentences appended to warnings (separated by "\n"): expiry
 * within 30 days, no SubjectAltName for hostname, a chain that stops at
 * an intermediate. Returns 0 when usable.
 */
int atr_tls_check_server(EVP_PKEY *key, STACK_OF(X509) *chain, const char *hostname,
    int64_t now, char *warnings, size_t wlen, struct atr_err *err);

/* Whole days from now until cert expires (negative when expired). */
int64_t atr_tls_days_left(X509 *cert, int64_t now);

/* The certificate's notAfter as seconds since 1970. */
int64_t atr_tls_not_after(X509 *cert);

#endif
