/*
 * Keystores: JKS (and reading JCEKS), PKCS#12 and PEM behind one entry model.
 *
 * A keystore maps aliases to entries. An entry is a private key with its
 * certificate chain (leaf first), a trusted certificate, or (JCEKS only,
 * read-only) a secret key. Every entry has a creation time.
 *
 * The format of a file is detected from its content, never from its name.
 * The server, the keytool command and the client trust store all use this
 * module, so they can never disagree about a file.
 *
 * Ownership: functions returning a pointer to a const object lend it; it
 * lives as long as the keystore (or until the entry is changed or deleted).
 * Objects passed to setters are copied (reference counted): the caller
 * keeps its own reference. Everything returned non-const is the caller's.
 *
 * Passwords are NUL-terminated UTF-8. JKS encodes them as Java does
 * (UTF-16 code units); PKCS#12 as OpenSSL and Java do for ASCII. A NULL
 * store password loads without checking integrity (as keytool does when
 * Enter is pressed at the prompt): for JKS every entry is still listed; for
 * PKCS#12 only what is not encrypted can be read.
 *
 * PEM files hold no aliases of their own: an alias comes from the
 * "friendlyName:" line `openssl pkcs12` prints before a block (and we
 * write), else "mykey" for a key and "cert-1", "cert-2", ... for
 * certificates. A key's chain is its certificate plus issuers found in the
 * file; certificates no chain uses are trusted entries.
 *
 * Limits: ATR_KS_MAX_FILE bytes, 20000 entries, and for PKCS#12 and PEM
 * 4096 certificates (PEM: 64 keys); beyond them loading fails with
 * ATR_E_KS_UNSUPPORTED.
 */
#ifndef ATRIUM_KEYSTORE_H
#define ATRIUM_KEYSTORE_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "atrium/err.h"

struct atr_ks;       /* a keystore in memory */
struct atr_ks_entry; /* one entry, owned by its keystore */

enum atr_ks_format {
	ATR_KS_UNKNOWN = 0,
	ATR_KS_JKS,
	ATR_KS_JCEKS,  /* read only; saved as JKS */
	ATR_KS_PKCS12,
	ATR_KS_PEM,
};

enum atr_ks_kind {
	ATR_KS_PRIVATE_KEY, /* Java's PrivateKeyEntry */
	ATR_KS_TRUSTED_CERT, /* Java's trustedCertEntry */
	ATR_KS_SECRET_KEY,  /* Java's SecretKeyEntry (JCEKS), listed only */
};

/* Largest keystore file the loaders accept. */
#define ATR_KS_MAX_FILE (16u * 1024 * 1024)

/*
 * A JKS or JCEKS file that ends inside a record is ATR_E_KS_TRUNCATED: the
 * table's sentence (what to do) before its core, where the file ends,
 * ATR_KS_CUT_DETAIL, which keytool shows alone, as it always has.
 */
#define ATR_KS_CUT_DETAIL "the keystore is truncated or damaged (it ends inside a record at " \
	"byte %zu of %zu)"

/* Guesses the format from the first bytes: JKS/JCEKS magic, a DER
 * SEQUENCE holding a PKCS#12 PFX, or PEM armour. */
enum atr_ks_format atr_ks_detect(const unsigned char *buf, size_t len);

/* "JKS", "JCEKS", "PKCS12", "PEM" (keytool's spelling). */
const char *atr_ks_format_name(enum atr_ks_format fmt);

/* Parses keytool's -storetype value, case-insensitively; UNKNOWN if none. */
enum atr_ks_format atr_ks_format_parse(const char *name);

/* A new, empty keystore that will be saved in format fmt. */
struct atr_ks *atr_ks_new(enum atr_ks_format fmt);

/* Frees ks and wipes any key material it holds. NULL-safe. */
void atr_ks_free(struct atr_ks *ks);

/*
 * Loads a keystore from memory or a file. The format is detected from the
 * content. Wrong password: ATR_E_KS_PASSWORD "keystore password was
 * incorrect" (for JKS, Java's "Keystore was tampered with, or password was
 * incorrect"). Not a keystore: ATR_E_KS_FORMAT. Truncated or damaged:
 * ATR_E_KS_CORRUPT. Never reads past len.
 */
struct atr_ks *atr_ks_load_mem(const unsigned char *buf, size_t len, const char *storepass,
    struct atr_err *err);
struct atr_ks *atr_ks_load_file(const char *path, const char *storepass, struct atr_err *err);

/*
 * Serialises ks in its format (atr_ks_format()) with storepass. JKS and
 * PKCS#12 need a storepass (ATR_E_USAGE); PEM writes keys unencrypted when
 * it is NULL or empty. JKS entries read from a JKS file keep their bytes
 * (protected key, certificates, creation time) and are written in the order
 * Java's Hashtable gives, so keytool would write the same file; other keys
 * are protected with their key password, or storepass. A key whose password
 * is not known fails with ATR_E_KS_KEY_PASSWORD (re-protect it with
 * atr_ks_change_keypass() first); JCEKS secret keys cannot be written
 * (ATR_E_KS_UNSUPPORTED). PKCS#12 is
 * written as Java 17's keytool writes it: PBES2 AES-256-CBC with
 * PBKDF2-HMAC-SHA256 (10000 iterations) for keys and for the single
 * certificate block, an HMAC-SHA256 MacData, trusted entries marked with
 * Oracle's trustedKeyUsage attribute. A PKCS#12 with a non-ASCII password
 * is written but sets *warning (if given) to a sentence saying Java will
 * not open it. The returned buffer is the caller's (free()).
 */
int atr_ks_save_mem(struct atr_ks *ks, const char *storepass, unsigned char **out,
    size_t *outlen, const char **warning, struct atr_err *err);

/* Like atr_ks_save_mem(), written atomically to path with mode 0600. */
int atr_ks_save_file(struct atr_ks *ks, const char *path, const char *storepass,
    const char **warning, struct atr_err *err);

enum atr_ks_format atr_ks_format(const struct atr_ks *ks);
void atr_ks_set_format(struct atr_ks *ks, enum atr_ks_format fmt);

/* Number of entries, and the entry at index i in load order (new entries
 * last). atr_ks_entry_at() returns NULL when i is out of range. */
size_t atr_ks_count(const struct atr_ks *ks);
const struct atr_ks_entry *atr_ks_entry_at(const struct atr_ks *ks, size_t i);

/* The entry called alias, or NULL: an exact match first, else one that
 * differs only in case (Java's toLowerCase(Locale.ENGLISH) for Latin,
 * Greek, Cyrillic and Armenian letters), as Java looks aliases up. */
const struct atr_ks_entry *atr_ks_find(const struct atr_ks *ks, const char *alias);

const char *atr_ks_entry_alias(const struct atr_ks_entry *e);
enum atr_ks_kind atr_ks_entry_kind(const struct atr_ks_entry *e);
int64_t atr_ks_entry_created_ms(const struct atr_ks_entry *e);

/* The certificate of a trusted entry, or the leaf of a key entry's chain;
 * NULL for a secret key or a key entry with an empty chain. Borrowed. */
X509 *atr_ks_entry_cert(const struct atr_ks_entry *e);

/* A key entry's chain, leaf first (may be empty); NULL otherwise. Borrowed. */
const STACK_OF(X509) *atr_ks_entry_chain(const struct atr_ks_entry *e);

/*
 * Recovers a key entry's private key. keypass NULL means the entry's own
 * key password if one was set (atr_ks_set_key(), atr_ks_change_keypass()),
 * else the store password the keystore was last saved or loaded with. A
 * wrong key password is ATR_E_KS_KEY_PASSWORD ("Cannot recover key"), for
 * every format. A key given to atr_ks_set_key() is returned as given. The
 * returned key is the caller's (EVP_PKEY_free()).
 */
EVP_PKEY *atr_ks_entry_key(struct atr_ks *ks, const struct atr_ks_entry *e, const char *keypass,
    struct atr_err *err);

/*
 * Adds or replaces a key entry. chain runs from the leaf (whose public key
 * must match key) towards the root. keypass protects the key in JKS; for
 * PKCS#12 the store password is used and keypass is ignored. created_ms 0
 * means now. JKS aliases are lower-cased as Java does.
 */
int atr_ks_set_key(struct atr_ks *ks, const char *alias, EVP_PKEY *key, STACK_OF(X509) *chain,
    const char *keypass, int64_t created_ms, struct atr_err *err);

/* Replaces only the chain of an existing key entry (installing a CA reply). */
int atr_ks_set_chain(struct atr_ks *ks, const char *alias, STACK_OF(X509) *chain,
    struct atr_err *err);

/* Adds or replaces (whatever its kind) a trusted certificate entry. The
 * alias is listed lower-cased; PKCS#12 files keep it as given, as keytool
 * does. created_ms 0 means now. */
int atr_ks_set_trusted(struct atr_ks *ks, const char *alias, X509 *cert, int64_t created_ms,
    struct atr_err *err);

/* Removes an entry; ATR_E_KS_NO_ENTRY when there is none. */
int atr_ks_delete(struct atr_ks *ks, const char *alias, struct atr_err *err);

/* Renames an entry (keytool -changealias): it keeps its key, chain and
 * creation time and moves to the end of the load order. Fails with
 * ATR_E_EXISTS if another entry is called newalias. */
int atr_ks_rename(struct atr_ks *ks, const char *alias, const char *newalias,
    struct atr_err *err);

/* Re-protects a JKS (or JCEKS) key entry's key under a new key password;
 * oldpass as keypass in atr_ks_entry_key(). PKCS#12 and PEM have one
 * password for everything: ATR_E_KS_UNSUPPORTED. */
int atr_ks_change_keypass(struct atr_ks *ks, const char *alias, const char *oldpass,
    const char *newpass, struct atr_err *err);

/* Whether the store's integrity was checked at load (a password was given). */
int atr_ks_verified(const struct atr_ks *ks);

#endif
