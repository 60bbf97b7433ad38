/*
 * Private to the x509 module (src/lib/x509*.c): a bounded text buffer and
 * the helpers the module's files share. Not part of the library's API.
 */
#ifndef ATRIUM_X509_INT_H
#define ATRIUM_X509_INT_H

#include <stdarg.h>
#include <stddef.h>

#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "atrium/err.h"
#include "atrium/x509.h"

/*
 * A growable string that never exceeds ATR_X509_MAX_TEXT. Once an append
 * fails (no memory, too big) the buffer stays failed and further appends
 * do nothing, so callers check once at the end.
 */
struct atr_x509buf {
	char *p;     /* NUL-terminated text, or NULL while empty */
	size_t len;  /* bytes used, without the NUL */
	size_t cap;  /* bytes allocated */
	int failed;  /* an append failed */
};

void atr_x509buf_put(struct atr_x509buf *b, const char *s);
void atr_x509buf_putn(struct atr_x509buf *b, const char *s, size_t n);
void atr_x509buf_putc(struct atr_x509buf *b, char c);
void atr_x509buf_printf(struct atr_x509buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Takes the text out of b (an empty string if nothing was added); NULL if
 * b failed. b is left empty. */
char *atr_x509buf_take(struct atr_x509buf *b);

/* Frees b's text. */
void atr_x509buf_free(struct atr_x509buf *b);

/* Appends a Unicode code point as UTF-8. */
void atr_x509buf_put_utf8(struct atr_x509buf *b, unsigned long cp);

/* The dotted text of an OID ("2.5.29.17"). Returns 0 or -1. */
int atr_x509i_oid_text(const ASN1_OBJECT *obj, char *buf, size_t len);

/* Java's HexDumpEncoder.encodeBuffer(): 16 bytes a line, "0000: " offsets,
 * ASCII column; every line ends with "\n". */
void atr_x509i_hexdump(struct atr_x509buf *b, const unsigned char *p, size_t n);

/* Upper-case hex, no separators (Java's HexFormat.of().withUpperCase()). */
void atr_x509i_hex_upper(struct atr_x509buf *b, const unsigned char *p, size_t n);

/*
 * Makes keytool's extension list (createV3Extensions): a SubjectKeyIdentifier
 * for pubkey, an AuthorityKeyIdentifier from akid (if not NULL), the
 * honored requested extensions, and each -ext spec, sorted by OID text.
 * Returns a new stack or NULL with err set.
 */
STACK_OF(X509_EXTENSION) *atr_x509i_make_exts(const char *const *specs, size_t n,
    EVP_PKEY *pubkey, const ASN1_OCTET_STRING *akid,
    const STACK_OF(X509_EXTENSION) *requested, struct atr_err *err);

/* SHA-1 of the subjectPublicKey bits (Java's KeyIdentifier(PublicKey)). */
ASN1_OCTET_STRING *atr_x509i_key_id(EVP_PKEY *key);

/* The message digest for a Java signature algorithm name and the key that
 * will sign; *md is NULL for Ed25519. Sets err on a mismatch. */
int atr_x509i_sigalg_md(const char *sigalg, EVP_PKEY *key, const EVP_MD **md,
    struct atr_err *err);

/* Java's name of a signature algorithm OID ("SHA256withRSA"), or NULL. */
const char *atr_x509i_sigalg_oid_name(const char *oid);

#endif
