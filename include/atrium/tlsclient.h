/*
 * Client-side TLS: which roots a client trusts, how a server's chain is
 * checked against them, and sentences a person can act on when the check
 * fails.
 *
 * Trust (struct atr_trust) is a set of trust anchors: the system's roots
 * (OpenSSL's default paths, /etc/ssl/certs on Debian), and certificates
 * from "certs" folders laid out as the reference clients lay them out:
 * cert.jks with its password in cert.pass, plus any *.crt, *.pem, *.cer
 * or *.der files. Every anchor remembers where it came from, so a verdict
 * can say "trusted because of ~/.atrium/certs/cert.jks (alias x)".
 *
 * As in Java, any certificate in a trust store is an anchor, a CA or not
 * (OpenSSL's X509_V_FLAG_PARTIAL_CHAIN): trusting a self-signed server
 * certificate works, and so does trusting a server's intermediate.
 *
 * A check (atr_trust_check) verifies a chain for a host name or an IP
 * address at a time: chain to an anchor, validity dates, the TLS server
 * purpose, the name. Every problem found is recorded in a struct
 * atr_tls_verdict (plain data, no pointers), which atr_tls_verdict_explain()
 * turns into one sentence. A connection (struct atr_tlsc) runs the same
 * check inside the TLS handshake, so a failed connection explains itself
 * exactly as `atrium certs show` does.
 *
 * Ownership: certificates passed in are borrowed (a reference is taken
 * where one is kept); returned pointers to non-const objects are the
 * caller's. Nothing here prints.
 */
#ifndef ATRIUM_TLSCLIENT_H
#define ATRIUM_TLSCLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "atrium/err.h"
#include "atrium/keystore.h"

/* The file names of a certs folder, as the reference clients name them. */
#define ATR_TRUST_JKS "cert.jks"
#define ATR_TRUST_PASS "cert.pass"

/* Most files read from one certs folder, and most anchors in a trust. */
#define ATR_TRUST_MAX_FILES 256
#define ATR_TRUST_MAX_ANCHORS 4096

/* ------------------------------------------------------------ trust */

struct atr_trust;

/* An empty trust (nothing trusted). NULL when out of memory. */
struct atr_trust *atr_trust_new(void);

/* Frees t. NULL-safe. */
void atr_trust_free(struct atr_trust *t);

/*
 * Adds the system's roots: OpenSSL's default file and directory, which
 * $SSL_CERT_FILE and $SSL_CERT_DIR override. They are looked up lazily
 * during a check, so a missing system store is not an error.
 */
void atr_trust_add_system(struct atr_trust *t);

/* Where the system's roots are read from ("/usr/lib/ssl/certs"), borrowed. */
const char *atr_trust_system_dir(void);

/*
 * Adds one certificate as an anchor; from says where it came from, for
 * messages ("/home/a/.atrium/certs/cert.jks (alias x)"). A certificate
 * already present is not added twice.
 */
int atr_trust_add_cert(struct atr_trust *t, X509 *cert, const char *from, struct atr_err *err);

/*
 * Adds a certs folder: the trusted entries of dir/cert.jks (any keystore
 * format; the certificates of key entries count too, as in Java), opened
 * with the password in dir/cert.pass (its first line; without cert.pass a
 * JKS is read without checking its integrity, as Java does), and every
 * certificate in dir/ *.crt, *.pem, *.cer, *.der. A missing dir is not an
 * error. A store or file that cannot be read fails, naming the file: a
 * trust store that silently trusts less than it says is worse than none.
 */
int atr_trust_add_dir(struct atr_trust *t, const char *dir, struct atr_err *err);

/* Number of anchors added by atr_trust_add_cert()/_add_dir() (not the
 * system's). */
size_t atr_trust_count(const struct atr_trust *t);

/* The anchor at index i (borrowed) and where it came from; NULL past the end. */
X509 *atr_trust_anchor(const struct atr_trust *t, size_t i, const char **from);

/* ------------------------------------------------------- certificates */

/* What a person wants to see of a certificate. */
struct atr_cert_info {
	char subject[512];   /* Java style: "CN=a, O=b" */
	char issuer[512];
	char names[1024];    /* SubjectAltNames: "DNS:a, IP:127.0.0.1"; "" if none */
	char cn[256];        /* the subject's (last) common name; "" if none */
	char sha256[100];    /* "AB:CD:..." */
	char sha1[64];
	int64_t not_before;  /* seconds since 1970 */
	int64_t not_after;
	int is_ca;           /* BasicConstraints CA:true */
	int self_signed;
	char keyalg[64];     /* "256-bit EC (secp256r1) key" */
};

/* Fills info from cert. Returns 0, or -1 when cert cannot be read. */
int atr_cert_info_get(X509 *cert, struct atr_cert_info *info);

/* "2026-11-27 06:20 UTC": a time as the messages print it. */
void atr_tls_format_time(int64_t t, char *buf, size_t len);

/*
 * The path a person trusts when they trust a server: starting from
 * chain's leaf, follow issuers within chain (by name and signature) to the
 * top, a self-signed root or the highest certificate the server sent.
 * Certificates the server sent that are not on that path are left out.
 * Returns a new stack, leaf first, top last (sk_X509_pop_free()); NULL
 * when chain is empty or memory is short.
 */
STACK_OF(X509) *atr_tls_chain_path(STACK_OF(X509) *chain);

/*
 * Whether fp (SHA-256 as hex, with or without ':' or spaces, any case,
 * optionally prefixed "SHA256:" or "SHA-256:") is cert's SHA-256
 * fingerprint.
 */
int atr_tls_fingerprint_match(X509 *cert, const char *fp);

/* The private key as unencrypted PKCS#8 PEM, for PostgreSQL and other
 * servers that read key files. New string (wipe it: it is a secret). */
char *atr_tls_key_pem(EVP_PKEY *key, size_t *len);

/* ------------------------------------------------------------ checks */

/* Problems a check can find; a verdict holds any combination. */
#define ATR_TLSV_UNTRUSTED 0x01     /* does not chain to a trusted anchor */
#define ATR_TLSV_EXPIRED 0x02       /* a certificate in the chain expired */
#define ATR_TLSV_NOT_YET_VALID 0x04 /* a certificate is not valid yet */
#define ATR_TLSV_NAME 0x08          /* the leaf does not name the host */
#define ATR_TLSV_PURPOSE 0x10       /* not for TLS servers, or a bad CA */
#define ATR_TLSV_OTHER 0x20         /* bad signature and the like: see detail */
#define ATR_TLSV_NO_CERT 0x40       /* the server sent no certificate */

/* The outcome of a check, as plain data. */
struct atr_tls_verdict {
	unsigned problems;         /* 0: trusted for host */
	char host[256];            /* what was checked: a name or an address */
	struct atr_cert_info leaf; /* the server's own certificate */
	int chain_len;             /* certificates the server sent */
	char top_subject[512];     /* the top of the chain that was built */
	char top_issuer[512];      /* its issuer (itself when self-signed) */
	char top_sha256[100];
	int top_self_signed;
	char anchor_from[512];     /* where the trusted anchor came from ("" if untrusted) */
	char bad_subject[512];     /* the certificate with bad dates */
	int64_t bad_not_before, bad_not_after;
	int bad_is_leaf;
	int64_t now;               /* when the check ran */
	char detail[256];          /* OpenSSL's words for ATR_TLSV_OTHER/PURPOSE */
	int openssl_error;         /* the first X509_V_ERR_* met, 0 if none */
};

/*
 * Checks chain (leaf first; the rest may come in any order) for host (a
 * DNS name, or an IPv4/IPv6 address, with or without brackets) at time
 * now (seconds; 0 for the current time) against t. Fills v and returns 0
 * whatever the verdict; -1 with err set only when the check could not
 * run (out of memory).
 */
int atr_trust_check(struct atr_trust *t, STACK_OF(X509) *chain, const char *host, int64_t now,
    struct atr_tls_verdict *v, struct atr_err *err);

/* Flags for atr_tls_verdict_explain(). */
#define ATR_TLSV_KNOWN 0x1 /* this server was trusted before: say it changed */

/*
 * One sentence for a failed verdict, naming hostport ("host:port") and
 * saying what to do: for an untrusted chain its SHA-256 fingerprint and
 * the command `atrium certs trust HOST:PORT`; for a name mismatch the
 * names a client would accept: the SubjectAltNames, else the subject's CN
 * when it is a host name or an address, else that the certificate names no
 * address at all; for bad dates the dates. Writes "" for a
 * verdict without problems. Returns the error code that fits best
 * (ATR_E_CERT_UNTRUSTED, ATR_E_CERT_EXPIRED, ATR_E_CERT_INVALID).
 */
enum atr_errcode atr_tls_verdict_explain(const struct atr_tls_verdict *v, const char *hostport,
    unsigned flags, char *buf, size_t len);

/* ------------------------------------------------------- connections */

/* A client connection's checker: the trust, the host, the last verdict. */
struct atr_tlsc;

/*
 * A checker for connections to host with trust t (borrowed: it must
 * outlive the checker). NULL with err set when out of memory.
 */
struct atr_tlsc *atr_tlsc_new(struct atr_trust *t, const char *host, struct atr_err *err);

/* Frees c. NULL-safe. */
void atr_tlsc_free(struct atr_tlsc *c);

/*
 * Prepares an OpenSSL client SSL_CTX (passed as void * so that libcurl's
 * CURLOPT_SSL_CTX_FUNCTION can hand it over as it gets it): TLS 1.2 or
 * newer, the trust's store, and a verification that runs
 * atr_trust_check() in the handshake and records its verdict; record
 * buffers are kept for the connection's life (no allocation per record).
 * Forgets the previous verdict. Returns 0, or -1 with err set.
 */
int atr_tlsc_setup(struct atr_tlsc *c, void *ssl_ctx, struct atr_err *err);

/*
 * The verdict of the last handshake's check (borrowed), or NULL when no
 * certificate was checked since atr_tlsc_setup() (the handshake failed
 * before, or the connection was reused).
 */
const struct atr_tls_verdict *atr_tlsc_verdict(const struct atr_tlsc *c);

/* ------------------------------------------------------- small files */

/* atr_passfile_read() is in util.h. */

/*
 * Makes a random password (24 hex digits), writes it with a newline to
 * path (mode 0600, atomically; refuses to replace an existing file), and
 * returns it (atr_free_secret()). NULL with err set on failure.
 */
char *atr_passfile_create(const char *path, struct atr_err *err);

/*
 * Opens the trust store dir/cert.jks for changing it, with its password
 * from dir/cert.pass. With create, a missing store is made empty (JKS)
 * with a new random password in cert.pass, dir made 0700 (nothing is
 * written until atr_trust_store_save()). Fails when cert.jks exists
 * without cert.pass (its password is unknown). *ks and *pass are the
 * caller's (atr_ks_free(), atr_free_secret()).
 */
int atr_trust_store_open(const char *dir, int create, struct atr_ks **ks, char **pass,
    struct atr_err *err);

/* Writes ks to dir/cert.jks (0600, atomically), and pass to dir/cert.pass
 * when that file does not exist yet. */
int atr_trust_store_save(const char *dir, struct atr_ks *ks, const char *pass,
    struct atr_err *err);

#endif
