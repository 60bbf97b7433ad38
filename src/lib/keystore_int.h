/*
 * Keystore internals shared by keystore.c (entry model, common API) and the
 * format files keystore_jks.c, keystore_p12.c and keystore_pem.c. Nothing
 * here is part of the library's API; the atr_ksi_ prefix marks it.
 */
#ifndef ATRIUM_KEYSTORE_INT_H
#define ATRIUM_KEYSTORE_INT_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>
#include <openssl/x509.h>

#include "atrium/err.h"
#include "atrium/keystore.h"

/* Java's limit on PBE and MAC iteration counts (PKCS12KeyStore, JCEKS).
 * Fuzz builds set a small one: an input then costs microseconds, not the
 * milliseconds of 10000 PBKDF rounds (their seeds use 1 to 16 rounds). */
#ifndef ATR_KSI_MAX_ITER
#define ATR_KSI_MAX_ITER 5000000L
#endif

/* Frees a stack of certificates and the references it holds. */
#define atr_ksi_chain_free(c) sk_X509_pop_free((c), X509_free)

/* Most certificates and keys a PKCS#12 or PEM file may hold: chains are
 * rebuilt by issuer search, which is quadratic in the worst case. */
#define ATR_KSI_MAX_CERTS 4096
/* Most entries in any keystore (Java's cacerts has about 150). Alias
 * lookups go through a model of Java's Hashtable, whose chains a crafted
 * file can make as long as it likes; this bounds that work too. */
#define ATR_KSI_MAX_ENTRIES 20000
#define ATR_KSI_MAX_KEYS 4096
#define ATR_KSI_MAX_PEM_KEYS 64

/* The longest chain we build or accept; no real chain comes close. */
#define ATR_KSI_MAX_CHAIN 64

/* How an entry's private key is held when it was read from a file. */
enum atr_ksi_prot {
	ATR_KSI_PROT_NONE = 0, /* nothing stored (a new key lives in pkey) */
	ATR_KSI_PROT_JKS,      /* EncryptedPrivateKeyInfo, Sun KeyProtector */
	ATR_KSI_PROT_JCEKS,    /* EncryptedPrivateKeyInfo, PBEWithMD5AndTripleDES */
	ATR_KSI_PROT_P12,      /* EncryptedPrivateKeyInfo of a pkcs8ShroudedKeyBag */
};

struct atr_ks_entry {
	char *alias;              /* UTF-8, as listed (lower-cased when set) */
	char *fname;              /* PKCS#12 friendlyName to write; NULL: alias */
	enum atr_ks_kind kind;
	int64_t created_ms;
	X509 *cert;               /* trusted entry's certificate */
	STACK_OF(X509) *chain;    /* key entry's chain, leaf first; never NULL */
	EVP_PKEY *pkey;           /* plaintext key given by the caller or read
	                           * from PEM; NULL when only prot is known */
	char *keypass;            /* JKS key password set with the key (wiped) */
	unsigned char *prot;      /* the protected key as read from the file */
	size_t protlen;
	enum atr_ksi_prot protkind;
	uint64_t serial;          /* loaders' bookkeeping: which bag made it */
};

struct atr_ksi_jht;           /* Java Hashtable model, keystore.c */

struct atr_ks {
	enum atr_ks_format fmt;
	struct atr_ks_entry **ents; /* load order, new entries last */
	size_t n, cap;
	char *pass;               /* store password last loaded or saved with */
	char *pass0;              /* store password the file was loaded with */
	int verified;
	struct atr_ksi_jht *order;
};

/* Entries. */
struct atr_ks_entry *atr_ksi_entry_new(const char *alias, enum atr_ks_kind kind);
void atr_ksi_entry_free(struct atr_ks_entry *e);
int atr_ksi_put(struct atr_ks *ks, struct atr_ks_entry *e, struct atr_err *err);
struct atr_ks_entry *atr_ksi_find_exact(const struct atr_ks *ks, const char *alias);
int atr_ksi_same_alias(const char *a, const char *b);
int atr_ksi_java_order(const struct atr_ks *ks, const struct atr_ks_entry ***out,
    struct atr_err *err);
int atr_ksi_set_pass(struct atr_ks *ks, const char *pass);

/* Text. */
int atr_ksi_utf8_next(const unsigned char **p, const unsigned char *end, uint32_t *cp);
int atr_ksi_utf16be(const char *s, unsigned char **out, size_t *outlen, struct atr_err *err);
char *atr_ksi_lower(const char *s);
int atr_ksi_is_ascii(const char *s);
int atr_ksi_unique_alias(const struct atr_ks *ks, const char *base, char *out, size_t outsz);

/* Keys. */
int atr_ksi_pkey_to_pk8(EVP_PKEY *pkey, unsigned char **der, size_t *len,
    struct atr_err *err);
EVP_PKEY *atr_ksi_pk8_to_pkey(const unsigned char *der, size_t len, struct atr_err *err);
int atr_ksi_entry_pk8(struct atr_ks *ks, const struct atr_ks_entry *e, const char *keypass,
    unsigned char **der, size_t *len, struct atr_err *err);
void atr_ksi_free_secret_buf(unsigned char *p, size_t n);

/* JKS key protection (keystore_jks.c). */
enum atr_ksi_prot atr_ksi_jks_protkind(const unsigned char *prot, size_t len);
int atr_ksi_jks_recover(const unsigned char *prot, size_t protlen, const char *pass,
    unsigned char **der, size_t *len, struct atr_err *err);
int atr_ksi_jks_protect(const unsigned char *der, size_t len, const char *pass,
    const unsigned char *salt20, unsigned char **out, size_t *outlen, struct atr_err *err);

/* PKCS#12 key bags (keystore_p12.c). */
X509_ALGOR *atr_ksi_pbes2_algor(struct atr_err *err);
int atr_ksi_p12_recover(const unsigned char *prot, size_t protlen, const char *pass,
    unsigned char **der, size_t *len, struct atr_err *err);

/* Chains: Java's issuer search (AKI/SKI first, then DN). */
#define ATR_KSI_MEMO_UNKNOWN (-2)
int atr_ksi_self_signed(X509 *cert);
int atr_ksi_find_issuer(X509 *cert, STACK_OF(X509) *pool);
STACK_OF(X509) *atr_ksi_build_chain(X509 *leaf, STACK_OF(X509) *pool, int *memo);

/* An OpenSSL library context with the default and (if present) legacy
 * providers, for reading old PKCS#12 files; never freed. */
OSSL_LIB_CTX *atr_ksi_libctx(void);
int atr_ksi_legacy_available(void);

/* Format loaders and writers. Loaders fill an empty ks; writers return a
 * malloc'ed buffer. */
int atr_ksi_jks_load(struct atr_ks *ks, const unsigned char *buf, size_t len,
    const char *pass, struct atr_err *err);
int atr_ksi_jks_save(struct atr_ks *ks, const char *pass, unsigned char **out,
    size_t *outlen, struct atr_err *err);
int atr_ksi_p12_load(struct atr_ks *ks, const unsigned char *buf, size_t len,
    const char *pass, struct atr_err *err);
int atr_ksi_p12_save(struct atr_ks *ks, const char *pass, unsigned char **out,
    size_t *outlen, struct atr_err *err);
int atr_ksi_pem_load(struct atr_ks *ks, const unsigned char *buf, size_t len,
    const char *pass, struct atr_err *err);
/* Java's words for a key that does not open (ATR_E_KS_KEY_PASSWORD). */
#define ATR_KSI_CANNOT_RECOVER "Cannot recover key"

/*
 * A file that is not (this kind of) keystore, ATR_E_KS_FORMAT: the detail
 * (printf-style) is the sentence's core, Java's words ("Unrecognized
 * keystore format") go before it. keytool prints the whole sentence; the
 * console puts the error table's sentence before the core instead.
 */
int atr_ksi_format_err(struct atr_err *err, const char *java, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

int atr_ksi_pem_save(struct atr_ks *ks, const char *pass, unsigned char **out,
    size_t *outlen, struct atr_err *err);

#endif
