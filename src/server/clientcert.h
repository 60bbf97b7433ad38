/*
 * Client certificates (smart-card login, docs/client-certificates.md):
 * the policy built from client_certificates, client_ca_file,
 * client_crl_files, client_crl_check and client_cert_user, what the TLS
 * handshake asks of a client, and the full check at login.
 *
 * The handshake only asks (optional) or insists on a chain to
 * client_ca_file (required); the login check (clientcert_verify) runs on
 * the job pool and decides: the chain, the dates, revocation by the CRL
 * files and by the certificate's CRL distribution points (fetched with
 * libcurl through outbound_allow, cached until their nextUpdate), and the
 * user name from the template. A policy is immutable once built and
 * shared by reference: a reload builds a new one.
 */
#ifndef ATRIUM_SERVER_CLIENTCERT_H
#define ATRIUM_SERVER_CLIENTCERT_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "atrium/config.h"
#include "atrium/err.h"

struct clientcert;
struct outbound;

/* A new policy for cfg (one reference), or NULL with err (ATR_E_CONFIG
 * naming the setting: client_ca_file missing or unreadable, a CRL file
 * that is not one, a template with an unknown placeholder). datadir
 * resolves relative file names. client_certificates = off gives a policy
 * that asks for nothing. */
struct clientcert *clientcert_new(const struct atr_config *cfg, const char *datadir,
    struct atr_err *err);
struct clientcert *clientcert_ref(struct clientcert *cc);
void clientcert_unref(struct clientcert *cc); /* NULL-safe */

/* Whether certificates are asked for at all (not off). */
int clientcert_enabled(const struct clientcert *cc);

/* Makes ctx ask for client certificates as cc says (nothing when off). */
int clientcert_setup_ctx(struct clientcert *cc, SSL_CTX *ctx, struct atr_err *err);

/* Who a certificate is, for log lines and answers. */
struct clientcert_id {
	char subject[512]; /* RFC 2253 */
	char serial[80];   /* hex */
	char user[256];    /* the name client_cert_user made ("" when it could not) */
};

/*
 * Describes leaf (subject, serial, the template's user name) without
 * judging it. -1 with err ATR_E_CLIENT_CERT_NO_USER when the template
 * names a field the certificate lacks (id->user empty, id->subject and
 * serial filled).
 */
int clientcert_describe(const struct clientcert *cc, X509 *leaf, struct clientcert_id *id,
    struct atr_err *err);

/*
 * Verifies leaf (with the untrusted certificates chain, may be NULL) at
 * now (seconds): chained to client_ca_file, dates, usable for a TLS
 * client, not revoked. May fetch CRLs: never call it on an event loop.
 * 0, or -1 with err: ATR_E_CLIENT_CERT_EXPIRED (the dates),
 * _REVOKED (the revocation date), _UNTRUSTED, _NO_CRL (why, with
 * client_crl_check = require), _INVALID (OpenSSL's reason).
 */
int clientcert_verify(struct clientcert *cc, X509 *leaf, STACK_OF(X509) *chain,
    struct outbound *ob, int64_t now, struct atr_err *err);

#endif
