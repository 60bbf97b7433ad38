/*
 * The server's own trust store: the certificates atriumd trusts when it
 * connects out over TLS (integrations, and later the directory and ACME).
 *
 * The store is DIR/tls/truststore.p12, a PKCS#12 file of trusted-
 * certificate entries as Java's keytool writes them (Oracle's
 * trustedKeyUsage attribute, 2.16.840.1.113894.746875.1.1), so an
 * administrator manages it with `atrium keytool` (or Java's keytool) as
 * they managed Java's cacerts; its password is the first line of
 * DIR/tls/truststore.pass (0600, random). Both are made, empty, by
 * truststore_new() when missing.
 *
 * Every use (truststore_get(), truststore_list(), ...) first compares the
 * file's inode, size and modification time (and the password file's) with
 * those it last read; when they differ the file is read again. So a change
 * made by keytool applies to the next outbound connection, without a
 * restart or a signal. A file that cannot be read (damaged, wrong
 * password, missing) never replaces the certificates in use: the last
 * good contents stay in force, the problem is logged once (WARN) and
 * reported by truststore_list() until the file is readable again.
 *
 * Every certificate of the file is a trust anchor, a CA or not, as in
 * Java (OpenSSL's X509_V_FLAG_PARTIAL_CHAIN): trusting a self-signed
 * server certificate or an intermediate works. Certificates of key
 * entries count too, as Java's trust managers count them. With system
 * roots on (`outbound_system_roots`, the default) OpenSSL's default roots
 * (/etc/ssl/certs; $SSL_CERT_FILE and $SSL_CERT_DIR override) are trusted
 * as well.
 *
 * Changes through this module (truststore_import(), truststore_remove(),
 * truststore_fetch() with a fingerprint) read the file as it is now,
 * change it and write it back atomically (a temporary file renamed over
 * it, mode 0600), one change at a time, so a crash never leaves half a
 * file. They log nothing: the caller logs who made the change.
 *
 * Thread-safe: every function may be called from any thread.
 */
#ifndef ATRIUM_SERVER_TRUSTSTORE_H
#define ATRIUM_SERVER_TRUSTSTORE_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509_vfy.h>

#include "atrium/err.h"

struct truststore;

/* Paths inside the data directory. */
#define TRUSTSTORE_FILE "tls/truststore.p12"
#define TRUSTSTORE_PASS "tls/truststore.pass"

/* How long truststore_fetch() waits for the connection and the handshake. */
#define TRUSTSTORE_FETCH_TIMEOUT_MS 10000

/* The longest alias accepted. */
#define TRUSTSTORE_ALIAS_MAX 200

/* A certificate, as plain data for listings and answers. */
struct trust_cert {
	char alias[TRUSTSTORE_ALIAS_MAX + 1]; /* the entry's alias; "" for a fetched one */
	char subject[512];  /* Java style: "CN=a, O=b" */
	char issuer[512];
	char sha256[100];   /* "AB:CD:..." */
	int64_t not_before; /* seconds since 1970 */
	int64_t not_after;
	int is_ca;          /* BasicConstraints CA:true */
	int self_signed;
	int key_entry;      /* a key entry's certificate (the file was changed by hand) */
};

/*
 * Opens the trust store of the data directory datadir: makes DIR/tls
 * (0700), then a missing truststore.pass (random) and a missing
 * truststore.p12 (empty), then reads it. system_roots says whether the
 * system's roots are trusted too. A file that exists but cannot be read
 * is not an error here (the server serves without it; the problem is
 * logged and reported as described above); failing to create the files
 * is (ATR_E_IO), and so is truststore.p12 without truststore.pass, whose
 * password is then unknown. NULL with err set on failure.
 */
struct truststore *truststore_new(const char *datadir, int system_roots, struct atr_err *err);

/* Frees ts. NULL-safe. X509_STOREs handed out stay valid (referenced). */
void truststore_free(struct truststore *ts);

/* Turns the system's roots on or off (a reload of outbound_system_roots);
 * the next truststore_get() builds a new store. */
void truststore_set_system_roots(struct truststore *ts, int on);

/* Whether the system's roots are trusted too (1) or not (0). */
int truststore_system_roots(struct truststore *ts);

/*
 * The X509_STORE for an outbound connection: the file's certificates
 * (re-read when it changed), plus the system's roots when they are on.
 * The caller owns a reference (X509_STORE_free()); the store is never
 * changed once handed out, so it can be shared by connections on several
 * threads (SSL_CTX_set1_cert_store()). NULL only when out of memory.
 */
X509_STORE *truststore_get(struct truststore *ts);

/*
 * Prepares an OpenSSL client SSL_CTX (void *, so that libcurl's
 * CURLOPT_SSL_CTX_FUNCTION can pass what it gets) for an outbound
 * connection: the store of truststore_get(), peer verification on, TLS
 * 1.2 or newer. The caller still sets the host name to check
 * (SSL_set1_host(), or libcurl's CURLOPT_SSL_VERIFYHOST). Returns 0, or
 * -1 with err set. There is no way to turn verification off.
 */
int truststore_setup_ssl_ctx(struct truststore *ts, void *ssl_ctx, struct atr_err *err);

/*
 * The certificates in force, in the file's order: a new array (free())
 * of *n entries. When the file as it is now cannot be read, problem (if
 * not NULL) gets that error, and the list is the last good one; else
 * problem is cleared. Returns 0, or -1 with err set (out of memory).
 */
int truststore_list(struct truststore *ts, struct trust_cert **out, size_t *n,
    struct atr_err *problem, struct atr_err *err);

/*
 * Adds the one certificate in buf (DER, or PEM; a file with several
 * certificates is refused with ATR_E_USAGE) as a trusted entry called
 * alias, or, when alias is NULL or "", an alias made from its subject's
 * CN (else "cert"), lower-cased, with "-2", "-3", ... when taken. Any
 * certificate may be added, as keytool adds any (added->is_ca says
 * whether it is a CA). Refused: an alias already in the store
 * (ATR_E_EXISTS), a certificate already in the store under another alias
 * (ATR_E_EXISTS, naming it), a bad alias (ATR_E_BAD_NAME), a file that
 * cannot be read (its error: ATR_E_KS_CORRUPT, ATR_E_KS_PASSWORD, ...).
 * added (may be NULL) describes the new entry.
 */
int truststore_import(struct truststore *ts, const unsigned char *buf, size_t len,
    const char *alias, struct trust_cert *added, struct atr_err *err);

/* Removes the entry called alias (any kind, as keytool -delete does);
 * ATR_E_KS_NO_ENTRY when there is none. removed (may be NULL) describes
 * it. */
int truststore_remove(struct truststore *ts, const char *alias, struct trust_cert *removed,
    struct atr_err *err);

/* A chain fetched from a server. */
struct trust_fetch {
	struct trust_cert *chain; /* leaf first, the top (root, or highest sent) last */
	size_t n;
	size_t sent;              /* certificates the server sent (some may be off the path) */
	int trusted;              /* index in chain of the certificate added, -1 when none */
	int verified;             /* the chain verifies with the store in force now */
};

struct outbound;

/*
 * Connects from the server to host (a name, or an IPv4 or IPv6 address
 * without brackets) on port, through outbound_connect() of ob (so only
 * where outbound_allow allows: ATR_E_OUTBOUND_DENIED otherwise, before
 * anything is sent), over TLS without verifying anything (it only looks),
 * and describes the path
 * from the leaf to the top of the chain the server presented. With
 * fingerprint (SHA-256 hex, ':' and case ignored) the certificate of that
 * path with that fingerprint is added as truststore_import() adds one
 * (alias as there); when none has it, nothing is added and the call fails
 * with ATR_E_FINGERPRINT, with *out still filled so the caller can show
 * the chain. Network failures are ATR_E_NETWORK or ATR_E_TLS. Free *out
 * with truststore_fetch_clear() in every case.
 */
int truststore_fetch(struct truststore *ts, struct outbound *ob, const char *host, int port,
    const char *fingerprint, const char *alias, struct trust_fetch *out, struct atr_err *err);

/* Frees what truststore_fetch() put in f and zeroes it. NULL-safe. */
void truststore_fetch_clear(struct trust_fetch *f);

#endif
