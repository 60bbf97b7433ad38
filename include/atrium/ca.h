/*
 * A small certificate authority: the server's local CA (DIR/tls/) and
 * `atrium ca` for administrators who want their own root.
 *
 * A CA is a directory holding ca.key (PEM, mode 0600) and ca.crt (PEM).
 * Roots are ECDSA P-256 (or RSA), valid 10 years, with BasicConstraints
 * CA:true, pathlen:0 and KeyUsage keyCertSign, cRLSign (both critical).
 * Server certificates carry the names given as SubjectAltNames (DNS names
 * and IP addresses told apart automatically), KeyUsage digitalSignature
 * (plus keyEncipherment for RSA), ExtendedKeyUsage serverAuth (and
 * clientAuth on request) and BasicConstraints CA:false.
 *
 * Revocation: the CA keeps ca.revoked (one "SERIAL-HEX UNIX-TIME" line per
 * revoked certificate) and ca.crl, a PEM CRL over that list signed by the
 * CA key and valid ATR_CA_CRL_DAYS, to be re-signed (atr_ca_crl_refresh)
 * before it runs out. Certificates issued with a CRL URL carry it as
 * their crlDistributionPoints.
 */
#ifndef ATRIUM_CA_H
#define ATRIUM_CA_H

#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "atrium/err.h"

struct atr_ca;

#define ATR_CA_ROOT_DAYS 3650
#define ATR_CA_SERVER_DAYS 397
#define ATR_CA_CRL_DAYS 7       /* a CRL's nextUpdate */
#define ATR_CA_CRL_RENEW_DAYS 3 /* re-signed when fewer days are left */

/* Loads the CA in dir. ATR_E_NOT_FOUND when dir holds none. */
struct atr_ca *atr_ca_load(const char *dir, struct atr_err *err);

/*
 * Creates a new root in dir (created 0700 if missing) with the common name
 * cn; keyalg "EC" (P-256) or "RSA" (3072 bits). Refuses (ATR_E_EXISTS) to
 * replace an existing ca.key.
 */
struct atr_ca *atr_ca_create(const char *dir, const char *cn, const char *keyalg,
    struct atr_err *err);

void atr_ca_free(struct atr_ca *ca);

/* The root certificate (borrowed). */
X509 *atr_ca_cert(const struct atr_ca *ca);

#define ATR_CA_CLIENT_AUTH 0x1 /* also usable as a TLS client certificate */

/*
 * Issues a certificate for names (DNS names or IP addresses; the first is
 * also the subject's CN) valid for days, with a new key of keyalg ("EC" =
 * P-256, "RSA" = 2048 bits), and crl_url (may be NULL) as its CRL
 * distribution point. *key and *chain (leaf, then the root) are the
 * caller's.
 */
int atr_ca_issue(struct atr_ca *ca, const char *const *names, size_t nnames, int days,
    const char *keyalg, unsigned flags, const char *crl_url, EVP_PKEY **key,
    STACK_OF(X509) **chain, struct atr_err *err);

/*
 * The CRL URL for a certificate whose first name is host, served on port:
 * "http://host:port/ca.crl" (IPv6 addresses in brackets).
 */
void atr_ca_crl_url(const char *host, int port, char *out, size_t len);

/*
 * Adds cert (issued by this CA) to ca.revoked and re-signs ca.crl.
 * Revoking a serial twice is not an error. ATR_E_CERT_INVALID when ca did
 * not sign cert.
 */
int atr_ca_revoke(struct atr_ca *ca, X509 *cert, struct atr_err *err);

/*
 * Re-signs ca.crl when it is missing, unreadable, not this CA's, or has
 * fewer than ATR_CA_CRL_RENEW_DAYS left. Returns 1 when it wrote a new
 * one, 0 when the old one stands, -1 on error.
 */
int atr_ca_crl_refresh(struct atr_ca *ca, struct atr_err *err);

/*
 * Retires the CA in dir for good (its key is thought leaked): re-signs its
 * CRL one last time, moves ca.crt, ca.crl and ca.revoked into archive
 * (created 0700; it must not hold a CA yet) and destroys ca.key (zeroed,
 * then removed), so that atr_ca_create() can make a new CA in dir. What is
 * revoked stays revoked in the archived ca.crl, which nothing re-signs:
 * clients must stop trusting the old root. On failure before ca.key is
 * destroyed, dir still holds the CA (files already moved are moved back).
 */
int atr_ca_retire(struct atr_ca *ca, const char *archive, struct atr_err *err);

/* Whether text is an IPv4 or IPv6 address. */
int atr_ca_is_ip(const char *text);

#endif
