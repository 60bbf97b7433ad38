/*
 * The certificate atriumd serves and the TLS context built from it.
 *
 * By default the certificate comes from a local CA kept in DIR/tls/ (made
 * on first start, with the client bundle DIR/tls/client/cert.jks +
 * cert.pass) and renews itself 30 days before it expires. With
 * `tls_keystore` set it comes from the administrator's JKS, PKCS#12 or
 * PEM file instead. A certificate is checked (atr_tls_check_server) before
 * use; one that fails never replaces the one being served.
 */
#ifndef ATRIUM_SERVER_TLSSTATE_H
#define ATRIUM_SERVER_TLSSTATE_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "atrium/config.h"
#include "atrium/err.h"

struct tls_state;

/* What the certificate in use is, for /healthz, /metrics and the console. */
struct tls_info {
	char subject[512];
	char issuer[512];
	char sans[1024];       /* "DNS:a, IP:127.0.0.1" */
	char sha256[100];      /* "AB:CD:..." */
	int64_t not_before, not_after;
	int from_local_ca;     /* issued by DIR/tls/ca.crt */
	int self_signed;
	char source[4400];     /* the file it was loaded from */
	char warnings[2048];   /* sentences separated by '\n' */
	char ca_sha256[100];   /* the local CA's fingerprint */
	int own_keystore;      /* from tls_keystore (else the local CA's) */
	char format[16];       /* "JKS", "PKCS12", "PEM" */
	char alias[256];       /* the key entry served */
	int weak_password;     /* the keystore's password is a well-known one */
	int trusted_by_local_ca; /* the chain ends at the local CA (clients trust it) */
};

#define TLS_NAMES_MAX 64

/* A name or address clients may use to reach this server. */
struct tls_name {
	char name[256];
	int ip;           /* an IPv4 or IPv6 address, else a DNS name */
	int covered;      /* a SubjectAltName of the certificate covers it */
	char source[16];  /* "request", "hostname", "bind", "tls_san", "interface" */
};

/*
 * Which of the names clients may use a certificate covers: the name the
 * request came with (source "request", first, when known), the host name
 * and its FQDN, the bind address when it is not a wildcard, tls_san and
 * the machine's addresses (link-local IPv6 skipped). Only SubjectAltNames
 * count: browsers and Java clients ignore the subject's CN. keytool_hint
 * is the keytool command that makes a certificate covering all of them.
 */
struct tls_coverage {
	struct tls_name names[TLS_NAMES_MAX];
	size_t n;
	char keytool_hint[4096];
};

struct tls_state *tls_state_new(const char *datadir);
void tls_state_free(struct tls_state *ts);

/*
 * Loads the certificate cfg names (creating the local CA and its server
 * certificate when needed) and makes it the one served. On failure the
 * certificate in use stays and err says why. Main thread only.
 */
int tls_state_load(struct tls_state *ts, const struct atr_config *cfg, struct atr_err *err);

/*
 * Checks a keystore as tls_state_load() would, without using it: for the
 * admin console's Save. request_host (may be NULL) is the name the
 * uploader connected with. Fills info and cov (each may be NULL) on
 * success; an uncovered name is a warning in info, never a refusal here.
 */
int tls_state_check(struct tls_state *ts, const struct atr_config *cfg, const char *request_host,
    struct tls_info *info, struct tls_coverage *cov, struct atr_err *err);

/*
 * The coverage of the certificate in use, for the names found when it
 * was loaded and request_host (may be NULL or ""). Any thread. -1 when
 * there is no certificate.
 */
int tls_state_coverage(struct tls_state *ts, const char *request_host, struct tls_coverage *out);

/* The served chain as PEM, leaf first (the caller's, free()), or NULL.
 * Any thread. */
char *tls_state_chain_pem(struct tls_state *ts);

/*
 * Whether pw (NULL: none) is one of the well-known keystore passwords
 * (vendors' defaults such as Java's "changeit" or Teamwork Cloud's
 * "nomagic", "password", empty, ...; case-insensitive), which protect a
 * key from nobody who has a copy of the file.
 */
int tls_password_well_known(const char *pw);

/* Renews the local CA's server certificate when it expires within 30
 * days (and tls_keystore is not set), and re-signs the local CA's CRL
 * when it is due. Returns 1 when the certificate was renewed. */
int tls_state_renew_if_due(struct tls_state *ts, const struct atr_config *cfg,
    struct atr_err *err);

/* A new reference to the context for a new connection (SSL_CTX_free()),
 * or NULL when TLS has no certificate. Any thread. */
SSL_CTX *tls_state_ctx(struct tls_state *ts);

/* A new reference to the policy of client certificates in use
 * (clientcert_unref()), or NULL before the first load. Any thread. */
struct clientcert *tls_state_clientcert(struct tls_state *ts);

/* A copy of the description of the certificate in use. Any thread.
 * Returns -1 when there is none. */
int tls_state_info(struct tls_state *ts, struct tls_info *out);

/* A copy of the local CA's CRL as DER (free()), for GET /ca.crl. Any
 * thread. Returns -1 when there is none. */
int tls_state_crl(struct tls_state *ts, unsigned char **der, size_t *len);

/* Returns to a fresh certificate from the local CA: removes tls_keystore*
 * from the settings file confpath (keeping its other lines, mode and
 * group) and the server certificate under datadir, which it revokes in
 * the local CA's CRL; the next load issues a new one (offline). */
int tls_reset(const char *datadir, const char *confpath, struct atr_err *err);

#endif
