/*
 * Keystores: the entry model, format detection and the common API. The
 * formats live in keystore_jks.c (JKS, JCEKS), keystore_p12.c (PKCS#12) and
 * keystore_pem.c; they share the declarations in keystore_int.h.
 *
 * Entries are kept in load order (what atr_ks_entry_at() returns). A second
 * structure models the java.util.Hashtable in which Java keeps JKS entries,
 * so that a JKS file is written in the order Java would write it.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/provider.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "atrium/keystore.h"
#include "atrium/util.h"
#include "lib/keystore_int.h"

/* ---- text ---------------------------------------------------------- */

/*
 * Decodes one UTF-8 character at *p (before end) into *cp and advances *p.
 * Rejects overlong forms, surrogates and values above U+10FFFF: -1.
 */
int
atr_ksi_utf8_next(const unsigned char **p, const unsigned char *end, uint32_t *cp)
{
	const unsigned char *s = *p;
	uint32_t c, min;
	size_t n, i;

	if (s >= end)
		return -1;
	c = s[0];
	if (c < 0x80) {
		n = 1;
		min = 0;
	} else if ((c & 0xe0) == 0xc0) {
		n = 2;
		c &= 0x1f;
		min = 0x80;
	} else if ((c & 0xf0) == 0xe0) {
		n = 3;
		c &= 0x0f;
		min = 0x800;
	} else if ((c & 0xf8) == 0xf0) {
		n = 4;
		c &= 0x07;
		min = 0x10000;
	} else {
		return -1;
	}
	if ((size_t)(end - s) < n)
		return -1;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return -1;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return -1;
	*cp = c;
	*p = s + n;
	return 0;
}

/*
 * Encodes a UTF-8 password as Java's chars do for JKS: UTF-16BE code units,
 * surrogate pairs above U+FFFF, no terminator. *out is malloc'ed (wipe and
 * free it with atr_ksi_free_secret_buf()). Invalid UTF-8 is ATR_E_USAGE.
 */
int
atr_ksi_utf16be(const char *s, unsigned char **out, size_t *outlen, struct atr_err *err)
{
	const unsigned char *p = (const unsigned char *)s, *end;
	unsigned char *buf;
	size_t n = 0;
	uint32_t c;

	*out = NULL;
	*outlen = 0;
	end = p + strlen(s);
	/* Each UTF-8 byte yields at most 2 bytes of UTF-16 (4 → 4). */
	if ((buf = malloc(2 * (size_t)(end - p) + 1)) == NULL)
		return atr_err_set(err, ATR_E_NOMEM, NULL);
	while (p < end) {
		if (atr_ksi_utf8_next(&p, end, &c) == -1) {
			atr_ksi_free_secret_buf(buf, 2 * strlen(s) + 1);
			return atr_err_set(err, ATR_E_USAGE, "the password is not valid UTF-8");
		}
		if (c >= 0x10000) {
			uint32_t hi = 0xd800 + ((c - 0x10000) >> 10);
			uint32_t lo = 0xdc00 + ((c - 0x10000) & 0x3ff);
			buf[n++] = (unsigned char)(hi >> 8);
			buf[n++] = (unsigned char)hi;
			buf[n++] = (unsigned char)(lo >> 8);
			buf[n++] = (unsigned char)lo;
		} else {
			buf[n++] = (unsigned char)(c >> 8);
			buf[n++] = (unsigned char)c;
		}
	}
	*out = buf;
	*outlen = n;
	return 0;
}

/* Whether s is plain ASCII. */
int
atr_ksi_is_ascii(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return 0;
	return 1;
}

/*
 * Java's toLowerCase(Locale.ENGLISH) for the scripts aliases are written
 * in: Latin (with Latin-1 and Extended-A/Additional), Greek, Cyrillic,
 * Armenian and fullwidth Latin. Other characters are kept.
 */
static uint32_t
lower_cp(uint32_t c)
{
	if (c < 0x80)
		return c >= 'A' && c <= 'Z' ? c + 32 : c;
	if (c >= 0xc0 && c <= 0xde && c != 0xd7)
		return c + 32;
	if ((c >= 0x100 && c <= 0x12f) || (c >= 0x132 && c <= 0x137) ||
	    (c >= 0x14a && c <= 0x177) || (c >= 0x1e00 && c <= 0x1e95) ||
	    (c >= 0x1ea0 && c <= 0x1eff) || (c >= 0x460 && c <= 0x481) ||
	    (c >= 0x48a && c <= 0x4bf) || (c >= 0x4d0 && c <= 0x52f))
		return (c & 1) == 0 ? c + 1 : c;
	if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17e) ||
	    (c >= 0x4c1 && c <= 0x4ce))
		return (c & 1) == 1 ? c + 1 : c;
	if (c == 0x178)
		return 0xff;
	if (c == 0x4c0)
		return 0x4cf;
	if ((c >= 0x391 && c <= 0x3a9 && c != 0x3a2) || (c >= 0x410 && c <= 0x42f) ||
	    (c >= 0xff21 && c <= 0xff3a))
		return c + 32;
	if (c == 0x386)
		return 0x3ac;
	if (c >= 0x388 && c <= 0x38a)
		return c + 37;
	if (c == 0x38c)
		return 0x3cc;
	if (c == 0x38e || c == 0x38f)
		return c + 63;
	if (c >= 0x400 && c <= 0x40f)
		return c + 80;
	if (c >= 0x531 && c <= 0x556)
		return c + 48;
	return c;
}

static size_t
put_utf8(unsigned char *o, uint32_t c)
{
	if (c < 0x80) {
		o[0] = (unsigned char)c;
		return 1;
	}
	if (c < 0x800) {
		o[0] = (unsigned char)(0xc0 | (c >> 6));
		o[1] = (unsigned char)(0x80 | (c & 0x3f));
		return 2;
	}
	if (c < 0x10000) {
		o[0] = (unsigned char)(0xe0 | (c >> 12));
		o[1] = (unsigned char)(0x80 | ((c >> 6) & 0x3f));
		o[2] = (unsigned char)(0x80 | (c & 0x3f));
		return 3;
	}
	o[0] = (unsigned char)(0xf0 | (c >> 18));
	o[1] = (unsigned char)(0x80 | ((c >> 12) & 0x3f));
	o[2] = (unsigned char)(0x80 | ((c >> 6) & 0x3f));
	o[3] = (unsigned char)(0x80 | (c & 0x3f));
	return 4;
}

/*
 * A malloc'ed copy of the UTF-8 string s lower-cased as Java's
 * toLowerCase(Locale.ENGLISH) does (see lower_cp()); U+0130 becomes
 * "i" + U+0307 as in Java. Bytes that are not UTF-8 are copied. NULL only
 * when out of memory.
 */
char *
atr_ksi_lower(const char *s)
{
	const unsigned char *p = (const unsigned char *)s, *end;
	unsigned char *out, *o;
	size_t len = strlen(s);
	uint32_t c;

	/* A lower-case character never needs more bytes, except U+0130 (2 → 3). */
	if ((out = malloc(len * 2 + 1)) == NULL)
		return NULL;
	o = out;
	end = p + len;
	while (p < end) {
		if (atr_ksi_utf8_next(&p, end, &c) == -1) {
			*o++ = *p++;
			continue;
		}
		if (c == 0x130) {
			*o++ = 'i';
			o += put_utf8(o, 0x307);
			continue;
		}
		o += put_utf8(o, lower_cp(c));
	}
	*o = '\0';
	return (char *)out;
}

/* Java String.hashCode() over the UTF-16 code units of a UTF-8 string. */
static uint32_t
java_hash(const char *s)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + strlen(s);
	uint32_t h = 0, c;

	while (p < end) {
		if (atr_ksi_utf8_next(&p, end, &c) == -1)
			c = *p++;
		if (c >= 0x10000) {
			h = 31 * h + (0xd800 + ((c - 0x10000) >> 10));
			h = 31 * h + (0xdc00 + ((c - 0x10000) & 0x3ff));
		} else {
			h = 31 * h + c;
		}
	}
	return h;
}

/* Wipes and frees a malloc'ed buffer of n bytes. NULL-safe. */
void
atr_ksi_free_secret_buf(unsigned char *p, size_t n)
{
	if (p == NULL)
		return;
	OPENSSL_cleanse(p, n);
	free(p);
}

static char *
dup_secret(const char *s)
{
	return s == NULL ? NULL : strdup(s);
}

/* ---- Java Hashtable model ---------------------------------------------- */

struct jnode {
	char *key;
	uint32_t hash;
	struct atr_ks_entry *e;   /* the entry called key */
	struct jnode *next;
};

struct atr_ksi_jht {
	struct jnode **b;
	size_t cap, count, threshold;
};

static struct atr_ksi_jht *
jht_new(void)
{
	struct atr_ksi_jht *t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->cap = 11;
	t->threshold = 8;
	if ((t->b = calloc(t->cap, sizeof(*t->b))) == NULL) {
		free(t);
		return NULL;
	}
	return t;
}

static void
jht_free(struct atr_ksi_jht *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->cap; i++) {
		struct jnode *n = t->b[i], *next;
		for (; n != NULL; n = next) {
			next = n->next;
			free(n->key);
			free(n);
		}
	}
	free(t->b);
	free(t);
}

static int
jht_rehash(struct atr_ksi_jht *t)
{
	size_t ncap = 2 * t->cap + 1;
	struct jnode **nb;

	if ((nb = calloc(ncap, sizeof(*nb))) == NULL)
		return -1;
	for (size_t i = t->cap; i-- > 0;) {
		struct jnode *n = t->b[i], *next;
		for (; n != NULL; n = next) {
			size_t idx = (n->hash & 0x7fffffffu) % ncap;
			next = n->next;
			n->next = nb[idx];
			nb[idx] = n;
		}
	}
	free(t->b);
	t->b = nb;
	t->cap = ncap;
	t->threshold = ncap * 3 / 4;
	return 0;
}

static struct jnode *
jht_find(const struct atr_ksi_jht *t, const char *key)
{
	uint32_t h = java_hash(key);
	struct jnode *n;

	for (n = t->b[(h & 0x7fffffffu) % t->cap]; n != NULL; n = n->next)
		if (n->hash == h && strcmp(n->key, key) == 0)
			return n;
	return NULL;
}

/* Hashtable.put(key) for a key not in t (a new node at its bucket's head). */
static int
jht_put(struct atr_ksi_jht *t, const char *key, struct atr_ks_entry *e)
{
	uint32_t h = java_hash(key);
	struct jnode *n;
	size_t idx;

	if (t->count >= t->threshold && jht_rehash(t) == -1)
		return -1;
	if ((n = calloc(1, sizeof(*n))) == NULL || (n->key = strdup(key)) == NULL) {
		free(n);
		return -1;
	}
	idx = (h & 0x7fffffffu) % t->cap;
	n->hash = h;
	n->e = e;
	n->next = t->b[idx];
	t->b[idx] = n;
	t->count++;
	return 0;
}

static void
jht_remove(struct atr_ksi_jht *t, const char *key)
{
	uint32_t h = java_hash(key);
	struct jnode **pp = &t->b[(h & 0x7fffffffu) % t->cap];

	for (; *pp != NULL; pp = &(*pp)->next) {
		struct jnode *n = *pp;
		if (n->hash == h && strcmp(n->key, key) == 0) {
			*pp = n->next;
			free(n->key);
			free(n);
			t->count--;
			return;
		}
	}
}

/*
 * The entries in the order Java's Hashtable iterates them: buckets from
 * the last to the first, each chain head first. *out is malloc'ed and
 * borrows the entries.
 */
int
atr_ksi_java_order(const struct atr_ks *ks, const struct atr_ks_entry ***out,
    struct atr_err *err)
{
	const struct atr_ks_entry **v;
	size_t k = 0;

	*out = NULL;
	if ((v = calloc(ks->n + 1, sizeof(*v))) == NULL)
		return atr_err_set(err, ATR_E_NOMEM, NULL);
	for (size_t i = ks->order->cap; i-- > 0;) {
		for (struct jnode *n = ks->order->b[i]; n != NULL; n = n->next) {
			if (k >= ks->n) {
				free(v);
				return atr_err_set(err, ATR_E_INTERNAL,
				    "keystore entry order is inconsistent");
			}
			v[k++] = n->e;
		}
	}
	if (k != ks->n) {
		free(v);
		return atr_err_set(err, ATR_E_INTERNAL, "keystore entry order is inconsistent");
	}
	*out = v;
	return 0;
}

/* ---- entries ------------------------------------------------------------ */

/* A new entry called alias (copied), or NULL when out of memory. */
struct atr_ks_entry *
atr_ksi_entry_new(const char *alias, enum atr_ks_kind kind)
{
	struct atr_ks_entry *e;

	if ((e = calloc(1, sizeof(*e))) == NULL)
		return NULL;
	e->kind = kind;
	if ((e->alias = strdup(alias)) == NULL || (e->chain = sk_X509_new_null()) == NULL) {
		free(e->alias);
		free(e);
		return NULL;
	}
	return e;
}

/* Frees e, wiping its key material. NULL-safe. */
void
atr_ksi_entry_free(struct atr_ks_entry *e)
{
	if (e == NULL)
		return;
	free(e->alias);
	free(e->fname);
	X509_free(e->cert);
	atr_ksi_chain_free(e->chain);
	EVP_PKEY_free(e->pkey);
	atr_free_secret(e->keypass);
	atr_ksi_free_secret_buf(e->prot, e->protlen);
	free(e);
}

static ssize_t
index_of_entry(const struct atr_ks *ks, const struct atr_ks_entry *e)
{
	for (size_t i = 0; i < ks->n; i++)
		if (ks->ents[i] == e)
			return (ssize_t)i;
	return -1;
}

/* Java's equalsIgnoreCase() for the characters lower_cp() knows. */
int
atr_ksi_same_alias(const char *a, const char *b)
{
	const unsigned char *p = (const unsigned char *)a, *pe = p + strlen(a);
	const unsigned char *q = (const unsigned char *)b, *qe = q + strlen(b);
	uint32_t c, d;

	while (p < pe && q < qe) {
		if (atr_ksi_utf8_next(&p, pe, &c) == -1)
			c = 0x110000u + *p++;
		if (atr_ksi_utf8_next(&q, qe, &d) == -1)
			d = 0x110000u + *q++;
		if (c != d && lower_cp(c) != lower_cp(d))
			return 0;
	}
	return p == pe && q == qe;
}

/* The index of the entry called alias: exactly, else ignoring case. */
static ssize_t
index_of(const struct atr_ks *ks, const char *alias)
{
	struct jnode *n;

	if (alias == NULL)
		return -1;
	if ((n = jht_find(ks->order, alias)) != NULL)
		return index_of_entry(ks, n->e);
	for (size_t i = 0; i < ks->n; i++)
		if (atr_ksi_same_alias(ks->ents[i]->alias, alias))
			return (ssize_t)i;
	return -1;
}

/* The entry whose alias is exactly alias, or NULL. */
struct atr_ks_entry *
atr_ksi_find_exact(const struct atr_ks *ks, const char *alias)
{
	struct jnode *n = jht_find(ks->order, alias);

	return n == NULL ? NULL : n->e;
}

/*
 * Adds e to ks, or replaces the entry with exactly the same alias in its
 * place (as Java's Hashtable and LinkedHashMap do). Takes e in every case.
 */
int
atr_ksi_put(struct atr_ks *ks, struct atr_ks_entry *e, struct atr_err *err)
{
	struct jnode *n = jht_find(ks->order, e->alias);
	ssize_t i;

	if (n != NULL) {
		if ((i = index_of_entry(ks, n->e)) < 0) {
			atr_ksi_entry_free(e);
			return atr_err_set(err, ATR_E_INTERNAL, "keystore index is inconsistent");
		}
		atr_ksi_entry_free(ks->ents[i]);
		ks->ents[i] = e;
		n->e = e;
		return 0;
	}
	if (ks->n >= ATR_KSI_MAX_ENTRIES) {
		atr_ksi_entry_free(e);
		return atr_err_set(err, ATR_E_KS_UNSUPPORTED,
		    "a keystore may hold at most %d entries", ATR_KSI_MAX_ENTRIES);
	}
	if (ks->n == ks->cap) {
		size_t ncap = ks->cap == 0 ? 8 : ks->cap * 2;
		struct atr_ks_entry **v = realloc(ks->ents, ncap * sizeof(*v));
		if (v == NULL)
			goto nomem;
		ks->ents = v;
		ks->cap = ncap;
	}
	if (jht_put(ks->order, e->alias, e) == -1)
		goto nomem;
	ks->ents[ks->n++] = e;
	return 0;
nomem:
	atr_ksi_entry_free(e);
	return atr_err_set(err, ATR_E_NOMEM, NULL);
}

/*
 * Writes into out an alias based on base that no entry has exactly: base
 * itself, else base-2, base-3, ... (callers keep every alias lower-case,
 * so this is also unique ignoring case). Returns 0, or -1 if none fits.
 */
int
atr_ksi_unique_alias(const struct atr_ks *ks, const char *base, char *out, size_t outsz)
{
	int n;

	if ((size_t)snprintf(out, outsz, "%s", base) >= outsz)
		return -1;
	for (unsigned k = 2; jht_find(ks->order, out) != NULL; k++) {
		n = snprintf(out, outsz, "%s-%u", base, k);
		if (n < 0 || (size_t)n >= outsz || k > 1000000)
			return -1;
	}
	return 0;
}

/* Remembers pass as the store password last used (pass NULL keeps the old). */
int
atr_ksi_set_pass(struct atr_ks *ks, const char *pass)
{
	char *copy;

	if (pass == NULL)
		return 0;
	if ((copy = strdup(pass)) == NULL)
		return -1;
	atr_free_secret(ks->pass);
	ks->pass = copy;
	return 0;
}

/* ---- keys -------------------------------------------------------------- */

/*
 * Encodes pkey as a PKCS#8 PrivateKeyInfo the way Java does: EC keys
 * without the public key and without curve parameters inside ECPrivateKey,
 * everything else as OpenSSL encodes it (identical for RSA). *der is
 * malloc'ed; wipe it with atr_ksi_free_secret_buf().
 */
int
atr_ksi_pkey_to_pk8(EVP_PKEY *pkey, unsigned char **der, size_t *len, struct atr_err *err)
{
	EVP_PKEY *dup = NULL, *use = pkey;
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	unsigned char *tmp = NULL;
	int n, rc = -1;

	*der = NULL;
	*len = 0;
	if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_EC && (dup = EVP_PKEY_dup(pkey)) != NULL &&
	    EVP_PKEY_set_int_param(dup, OSSL_PKEY_PARAM_EC_INCLUDE_PUBLIC, 0) == 1)
		use = dup;
	ERR_clear_error();
	if ((p8 = EVP_PKEY2PKCS8(use)) == NULL || (n = i2d_PKCS8_PRIV_KEY_INFO(p8, &tmp)) <= 0) {
		atr_err_set_ssl(err, ATR_E_KS_UNSUPPORTED,
		    "the private key cannot be encoded as PKCS#8");
		goto out;
	}
	if ((*der = malloc((size_t)n)) == NULL) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		goto out;
	}
	memcpy(*der, tmp, (size_t)n);
	*len = (size_t)n;
	rc = 0;
out:
	if (tmp != NULL)
		OPENSSL_clear_free(tmp, (size_t)n);
	PKCS8_PRIV_KEY_INFO_free(p8);
	EVP_PKEY_free(dup);
	return rc;
}

/*
 * Parses a plaintext PKCS#8 PrivateKeyInfo into a key of OpenSSL's default
 * library context (the one TLS uses; atr_ksi_libctx() only decrypts).
 * Failure is ATR_E_KS_CORRUPT.
 */
EVP_PKEY *
atr_ksi_pk8_to_pkey(const unsigned char *der, size_t len, struct atr_err *err)
{
	const unsigned char *p = der;
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	EVP_PKEY *pkey = NULL;

	if (len > LONG_MAX || (p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)len)) == NULL ||
	    (pkey = EVP_PKCS82PKEY_ex(p8, NULL, NULL)) == NULL)
		atr_err_set_ssl(err, ATR_E_KS_CORRUPT, "the private key is not a valid PKCS#8 key");
	if (p8 != NULL)
		PKCS8_PRIV_KEY_INFO_free(p8);
	return pkey;
}

static int
recover_with(const struct atr_ks_entry *e, const char *pass, unsigned char **der,
    size_t *len, struct atr_err *err)
{
	if (e->protkind == ATR_KSI_PROT_P12)
		return atr_ksi_p12_recover(e->prot, e->protlen, pass, der, len, err);
	return atr_ksi_jks_recover(e->prot, e->protlen, pass, der, len, err);
}

/*
 * The plaintext PKCS#8 of key entry e. keypass NULL tries the entry's own
 * key password and the store passwords known to ks. *der is malloc'ed.
 */
int
atr_ksi_entry_pk8(struct atr_ks *ks, const struct atr_ks_entry *e, const char *keypass,
    unsigned char **der, size_t *len, struct atr_err *err)
{
	const char *cand[3];
	size_t nc = 0;

	*der = NULL;
	*len = 0;
	if (e->kind != ATR_KS_PRIVATE_KEY)
		return atr_err_set(err, ATR_E_USAGE, "%s is not a private key entry", e->alias);
	if (e->pkey != NULL) {
		if (keypass != NULL && e->keypass != NULL && strcmp(keypass, e->keypass) != 0)
			return atr_err_set_worded(err, ATR_E_KS_KEY_PASSWORD, ATR_KSI_CANNOT_RECOVER, NULL);
		return atr_ksi_pkey_to_pk8(e->pkey, der, len, err);
	}
	if (e->prot == NULL)
		return atr_err_set(err, ATR_E_KS_UNSUPPORTED, "entry %s holds no private key",
		    e->alias);
	if (keypass != NULL) {
		cand[nc++] = keypass;
	} else {
		const char *all[3] = {e->keypass, ks->pass, ks->pass0};
		for (size_t i = 0; i < 3; i++) {
			int seen = all[i] == NULL;
			for (size_t j = 0; j < nc && !seen; j++)
				seen = strcmp(cand[j], all[i]) == 0;
			if (!seen)
				cand[nc++] = all[i];
		}
	}
	if (nc == 0) {
		char detail[300];

		snprintf(detail, sizeof(detail), "no password is known for entry %s", e->alias);
		return atr_err_set_worded(err, ATR_E_KS_KEY_PASSWORD, ATR_KSI_CANNOT_RECOVER, detail);
	}
	for (size_t i = 0; i < nc; i++) {
		if (recover_with(e, cand[i], der, len, err) == 0)
			return 0;
		if (err != NULL && err->code != ATR_E_KS_KEY_PASSWORD)
			return -1;
	}
	return -1;
}

/* ---- chains ------------------------------------------------------------ */

/* Java's KeyStoreUtil.isSelfSigned(): subject equals issuer and the
 * certificate verifies with its own key. */
int
atr_ksi_self_signed(X509 *cert)
{
	EVP_PKEY *pub;
	int ok;

	if (X509_NAME_cmp(X509_get_subject_name(cert), X509_get_issuer_name(cert)) != 0)
		return 0;
	if ((pub = X509_get0_pubkey(cert)) == NULL) {
		ERR_clear_error();
		return 0;
	}
	ok = X509_verify(cert, pub) == 1;
	ERR_clear_error();
	return ok;
}

/*
 * Java's PKCS12KeyStore.findIssuer(): among pool, a certificate whose
 * subject is cert's issuer; with an authority key id, the one whose
 * subject key id equals it, else the last such certificate that has no
 * subject key id; without one, the first. Its index, or -1.
 */
int
atr_ksi_find_issuer(X509 *cert, STACK_OF(X509) *pool)
{
	const X509_NAME *issuer = X509_get_issuer_name(cert);
	const ASN1_OCTET_STRING *akid = X509_get0_authority_key_id(cert);
	int fallback = -1;

	for (int i = 0; i < sk_X509_num(pool); i++) {
		X509 *c = sk_X509_value(pool, i);
		const ASN1_OCTET_STRING *skid;

		if (X509_NAME_cmp(X509_get_subject_name(c), issuer) != 0)
			continue;
		if (akid == NULL)
			return i;
		if ((skid = X509_get0_subject_key_id(c)) != NULL) {
			if (ASN1_OCTET_STRING_cmp(akid, skid) == 0)
				return i;
			continue;
		}
		fallback = i;
	}
	ERR_clear_error();
	return fallback;
}

#define MEMO_SELF (-3)

/*
 * The chain from leaf up through pool: issuers until a self-signed
 * certificate, no certificate twice, at most ATR_KSI_MAX_CHAIN long. memo,
 * if not NULL, has one int per pool certificate, ATR_KSI_MEMO_UNKNOWN at first, and
 * remembers each one's issuer across calls. A new stack holding new
 * references, or NULL when out of memory.
 */
STACK_OF(X509) *
atr_ksi_build_chain(X509 *leaf, STACK_OF(X509) *pool, int *memo)
{
	STACK_OF(X509) *chain;
	X509 *c = leaf;
	int ci = -1, next;

	if ((chain = sk_X509_new_null()) == NULL)
		return NULL;
	for (int i = 0; i < sk_X509_num(pool) && ci < 0; i++)
		if (sk_X509_value(pool, i) == leaf)
			ci = i;
	while (c != NULL && sk_X509_num(chain) < ATR_KSI_MAX_CHAIN) {
		int seen = 0;
		for (int i = 0; i < sk_X509_num(chain) && !seen; i++)
			seen = X509_cmp(sk_X509_value(chain, i), c) == 0;
		if (seen)
			break;
		if (!X509_up_ref(c) || !sk_X509_push(chain, c)) {
			X509_free(c);
			atr_ksi_chain_free(chain);
			return NULL;
		}
		if (memo != NULL && ci >= 0 && memo[ci] != ATR_KSI_MEMO_UNKNOWN) {
			next = memo[ci];
		} else {
			next = atr_ksi_self_signed(c) ? MEMO_SELF : atr_ksi_find_issuer(c, pool);
			if (memo != NULL && ci >= 0)
				memo[ci] = next;
		}
		if (next < 0)
			break;
		c = sk_X509_value(pool, next);
		ci = next;
	}
	return chain;
}

/* ---- the OpenSSL context for reading -------------------------------------- */

static CRYPTO_ONCE libctx_once = CRYPTO_ONCE_STATIC_INIT;
static OSSL_LIB_CTX *ks_libctx;
static int ks_legacy;

static void
libctx_init(void)
{
	OSSL_LIB_CTX *ctx = OSSL_LIB_CTX_new();

	if (ctx == NULL)
		return;
	if (OSSL_PROVIDER_load(ctx, "default") == NULL) {
		OSSL_LIB_CTX_free(ctx);
		ERR_clear_error();
		return;
	}
	/* RC2-40 and friends, for old Java and OpenSSL PKCS#12 files. */
	ks_legacy = OSSL_PROVIDER_load(ctx, "legacy") != NULL;
	ERR_clear_error();
	ks_libctx = ctx;
}

/*
 * The library context used to decrypt keystores: OpenSSL's default
 * provider plus the legacy one when it can be loaded. It is separate from
 * the process's default context, so loading the legacy provider never
 * changes what TLS may negotiate. NULL (OpenSSL's default context) if it
 * could not be made.
 */
OSSL_LIB_CTX *
atr_ksi_libctx(void)
{
	if (!CRYPTO_THREAD_run_once(&libctx_once, libctx_init))
		return NULL;
	return ks_libctx;
}

/* Whether OpenSSL's legacy provider is loaded in atr_ksi_libctx(). */
int
atr_ksi_legacy_available(void)
{
	(void)atr_ksi_libctx();
	return ks_legacy;
}

/* ---- the API -------------------------------------------------------------- */

static int
p12_header(const unsigned char *b, size_t len)
{
	size_t i = 2, n;

	if (len < 5 || b[0] != 0x30)
		return 0;
	if (b[1] == 0x80) {
		i = 2;              /* BER indefinite length */
	} else if (b[1] & 0x80) {
		n = b[1] & 0x7f;
		if (n == 0 || n > 4)
			return 0;
		i = 2 + n;
	}
	return len >= i + 3 && b[i] == 0x02 && b[i + 1] == 0x01 && b[i + 2] == 0x03;
}

/* Guesses the format from the first bytes: see keystore.h. */
enum atr_ks_format
atr_ks_detect(const unsigned char *buf, size_t len)
{
	static const char armour[] = "-----BEGIN ";

	if (buf == NULL)
		return ATR_KS_UNKNOWN;
	if (len >= 4 && memcmp(buf, "\xfe\xed\xfe\xed", 4) == 0)
		return ATR_KS_JKS;
	if (len >= 4 && memcmp(buf, "\xce\xce\xce\xce", 4) == 0)
		return ATR_KS_JCEKS;
	if (p12_header(buf, len))
		return ATR_KS_PKCS12;
	if (len >= sizeof(armour) - 1 && memmem(buf, len, armour, sizeof(armour) - 1) != NULL)
		return ATR_KS_PEM;
	return ATR_KS_UNKNOWN;
}

/* keytool's spelling of fmt; "UNKNOWN" for anything else. */
const char *
atr_ks_format_name(enum atr_ks_format fmt)
{
	switch (fmt) {
	case ATR_KS_JKS:
		return "JKS";
	case ATR_KS_JCEKS:
		return "JCEKS";
	case ATR_KS_PKCS12:
		return "PKCS12";
	case ATR_KS_PEM:
		return "PEM";
	default:
		return "UNKNOWN";
	}
}

/* keytool's -storetype value, case-insensitively; UNKNOWN if none. */
enum atr_ks_format
atr_ks_format_parse(const char *name)
{
	static const struct {
		const char *name;
		enum atr_ks_format fmt;
	} tab[] = {
		{"JKS", ATR_KS_JKS},
		{"JCEKS", ATR_KS_JCEKS},
		{"PKCS12", ATR_KS_PKCS12},
		{"PEM", ATR_KS_PEM},
	};

	if (name == NULL)
		return ATR_KS_UNKNOWN;
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (strcasecmp(name, tab[i].name) == 0)
			return tab[i].fmt;
	return ATR_KS_UNKNOWN;
}

/* A new, empty keystore in format fmt; NULL when out of memory. */
struct atr_ks *
atr_ks_new(enum atr_ks_format fmt)
{
	struct atr_ks *ks;

	if ((ks = calloc(1, sizeof(*ks))) == NULL)
		return NULL;
	ks->fmt = fmt;
	if ((ks->order = jht_new()) == NULL) {
		free(ks);
		return NULL;
	}
	return ks;
}

/* Frees ks and wipes its keys and passwords. NULL-safe. */
void
atr_ks_free(struct atr_ks *ks)
{
	if (ks == NULL)
		return;
	for (size_t i = 0; i < ks->n; i++)
		atr_ksi_entry_free(ks->ents[i]);
	free(ks->ents);
	jht_free(ks->order);
	atr_free_secret(ks->pass);
	atr_free_secret(ks->pass0);
	free(ks);
}

#define UNRECOGNIZED "Unrecognized keystore format" /* Java's words */

int
atr_ksi_format_err(struct atr_err *err, const char *java, const char *fmt, ...)
{
	char detail[ATR_ERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	return atr_err_set_worded(err, ATR_E_KS_FORMAT, java, detail);
}

static int
unknown_format(const unsigned char *buf, size_t len, struct atr_err *err)
{
	const unsigned char *p = buf;
	X509 *x;

	if (len == 0)
		return atr_ksi_format_err(err, UNRECOGNIZED, "the file is empty");
	if (len <= LONG_MAX && (x = d2i_X509(NULL, &p, (long)len)) != NULL) {
		X509_free(x);
		return atr_ksi_format_err(err, UNRECOGNIZED, "this is a single DER certificate, "
		    "not a keystore; import it as a trusted certificate instead");
	}
	ERR_clear_error();
	return atr_ksi_format_err(err, UNRECOGNIZED, "the file is neither JKS, JCEKS, PKCS#12 "
	    "nor PEM");
}

/* Loads a keystore from buf: see keystore.h. */
struct atr_ks *
atr_ks_load_mem(const unsigned char *buf, size_t len, const char *storepass,
    struct atr_err *err)
{
	enum atr_ks_format fmt;
	struct atr_ks *ks = NULL;
	int rc;

	if (buf == NULL && len > 0) {
		atr_err_set(err, ATR_E_USAGE, "no keystore data");
		return NULL;
	}
	if (len > ATR_KS_MAX_FILE) {
		atr_err_set(err, ATR_E_TOO_LARGE, "the keystore is larger than %u bytes",
		    ATR_KS_MAX_FILE);
		return NULL;
	}
	ERR_clear_error();
	fmt = atr_ks_detect(buf, len);
	if (fmt == ATR_KS_UNKNOWN) {
		unknown_format(buf, len, err);
		return NULL;
	}
	if ((ks = atr_ks_new(fmt)) == NULL)
		goto nomem;
	if (storepass != NULL &&
	    ((ks->pass = strdup(storepass)) == NULL || (ks->pass0 = strdup(storepass)) == NULL))
		goto nomem;
	switch (fmt) {
	case ATR_KS_JKS:
	case ATR_KS_JCEKS:
		rc = atr_ksi_jks_load(ks, buf, len, storepass, err);
		break;
	case ATR_KS_PKCS12:
		rc = atr_ksi_p12_load(ks, buf, len, storepass, err);
		break;
	default:
		rc = atr_ksi_pem_load(ks, buf, len, storepass, err);
		break;
	}
	ERR_clear_error();
	if (rc == -1) {
		atr_ks_free(ks);
		return NULL;
	}
	return ks;
nomem:
	atr_ks_free(ks);
	atr_err_set(err, ATR_E_NOMEM, NULL);
	return NULL;
}

/* Reads path (at most ATR_KS_MAX_FILE bytes) and loads it. */
struct atr_ks *
atr_ks_load_file(const char *path, const char *storepass, struct atr_err *err)
{
	unsigned char *buf;
	size_t len;
	struct atr_ks *ks;

	if (atr_read_file(path, ATR_KS_MAX_FILE, &buf, &len, err) == -1)
		return NULL;
	/* No path prefix: keytool prints these sentences exactly as Java does. */
	ks = atr_ks_load_mem(buf, len, storepass, err);
	atr_ksi_free_secret_buf(buf, len);
	return ks;
}

static const char p12_nonascii_warning[] =
    "The PKCS#12 keystore was written with a password that is not plain ASCII; "
    "Java 17 (keytool and Java clients) cannot open it. Use an ASCII password if "
    "Java must read this file.";

/* Serialises ks in its format: see keystore.h. */
int
atr_ks_save_mem(struct atr_ks *ks, const char *storepass, unsigned char **out,
    size_t *outlen, const char **warning, struct atr_err *err)
{
	int rc;

	*out = NULL;
	*outlen = 0;
	if (warning != NULL)
		*warning = NULL;
	ERR_clear_error();
	switch (ks->fmt) {
	case ATR_KS_JKS:
	case ATR_KS_JCEKS:
		rc = atr_ksi_jks_save(ks, storepass, out, outlen, err);
		break;
	case ATR_KS_PKCS12:
		rc = atr_ksi_p12_save(ks, storepass, out, outlen, err);
		if (rc == 0 && warning != NULL && storepass != NULL && !atr_ksi_is_ascii(storepass))
			*warning = p12_nonascii_warning;
		break;
	case ATR_KS_PEM:
		rc = atr_ksi_pem_save(ks, storepass, out, outlen, err);
		break;
	default:
		rc = atr_err_set(err, ATR_E_USAGE, "the keystore has no format to be saved in");
		break;
	}
	ERR_clear_error();
	if (rc == 0 && atr_ksi_set_pass(ks, storepass) == -1) {
		free(*out);
		*out = NULL;
		*outlen = 0;
		return atr_err_set(err, ATR_E_NOMEM, NULL);
	}
	return rc;
}

/* Saves ks atomically to path with mode 0600. */
int
atr_ks_save_file(struct atr_ks *ks, const char *path, const char *storepass,
    const char **warning, struct atr_err *err)
{
	unsigned char *buf;
	size_t len;
	int rc;

	if (atr_ks_save_mem(ks, storepass, &buf, &len, warning, err) == -1)
		return -1;
	rc = atr_write_file_atomic(path, buf, len, 0600, err);
	/* PEM output may hold unencrypted keys. */
	atr_ksi_free_secret_buf(buf, len);
	return rc;
}

/* The format ks is saved in. */
enum atr_ks_format
atr_ks_format(const struct atr_ks *ks)
{
	return ks->fmt;
}

/* Changes the format ks will be saved in. */
void
atr_ks_set_format(struct atr_ks *ks, enum atr_ks_format fmt)
{
	ks->fmt = fmt;
}

/* Number of entries. */
size_t
atr_ks_count(const struct atr_ks *ks)
{
	return ks->n;
}

/* The entry at i in load order, or NULL. */
const struct atr_ks_entry *
atr_ks_entry_at(const struct atr_ks *ks, size_t i)
{
	return i < ks->n ? ks->ents[i] : NULL;
}

/* The entry called alias (exactly, else ignoring case), or NULL. */
const struct atr_ks_entry *
atr_ks_find(const struct atr_ks *ks, const char *alias)
{
	ssize_t i = index_of(ks, alias);

	return i < 0 ? NULL : ks->ents[i];
}

/* The entry's alias. */
const char *
atr_ks_entry_alias(const struct atr_ks_entry *e)
{
	return e->alias;
}

/* The entry's kind. */
enum atr_ks_kind
atr_ks_entry_kind(const struct atr_ks_entry *e)
{
	return e->kind;
}

/* The entry's creation time in ms since the epoch. */
int64_t
atr_ks_entry_created_ms(const struct atr_ks_entry *e)
{
	return e->created_ms;
}

/* The trusted certificate, or the leaf of a key entry; borrowed. */
X509 *
atr_ks_entry_cert(const struct atr_ks_entry *e)
{
	if (e->kind == ATR_KS_TRUSTED_CERT)
		return e->cert;
	if (e->kind == ATR_KS_PRIVATE_KEY && sk_X509_num(e->chain) > 0)
		return sk_X509_value(e->chain, 0);
	return NULL;
}

/* A key entry's chain; borrowed. */
const STACK_OF(X509) *
atr_ks_entry_chain(const struct atr_ks_entry *e)
{
	return e->kind == ATR_KS_PRIVATE_KEY ? e->chain : NULL;
}

/* Recovers a key entry's private key: see keystore.h. */
EVP_PKEY *
atr_ks_entry_key(struct atr_ks *ks, const struct atr_ks_entry *e, const char *keypass,
    struct atr_err *err)
{
	unsigned char *der = NULL;
	size_t len = 0;
	EVP_PKEY *pkey;

	ERR_clear_error();
	if (e->kind == ATR_KS_PRIVATE_KEY && e->pkey != NULL &&
	    (keypass == NULL || e->keypass == NULL || strcmp(keypass, e->keypass) == 0)) {
		if (!EVP_PKEY_up_ref(e->pkey)) {
			atr_err_set(err, ATR_E_INTERNAL, "cannot take a key reference");
			return NULL;
		}
		return e->pkey;
	}
	if (atr_ksi_entry_pk8(ks, e, keypass, &der, &len, err) == -1)
		return NULL;
	pkey = atr_ksi_pk8_to_pkey(der, len, err);
	atr_ksi_free_secret_buf(der, len);
	ERR_clear_error();
	return pkey;
}

static int
check_alias(const char *alias, struct atr_err *err)
{
	const unsigned char *p = (const unsigned char *)alias, *end;
	uint32_t c;

	if (alias == NULL || *alias == '\0')
		return atr_err_set(err, ATR_E_BAD_NAME, "an alias must not be empty");
	end = p + strlen(alias);
	while (p < end)
		if (atr_ksi_utf8_next(&p, end, &c) == -1)
			return atr_err_set(err, ATR_E_BAD_NAME, "the alias is not valid UTF-8");
	return 0;
}

static X509 *
leaf_of(STACK_OF(X509) *chain)
{
	return chain != NULL && sk_X509_num(chain) > 0 ? sk_X509_value(chain, 0) : NULL;
}

/* Adds or replaces a key entry: see keystore.h. */
int
atr_ks_set_key(struct atr_ks *ks, const char *alias, EVP_PKEY *key, STACK_OF(X509) *chain,
    const char *keypass, int64_t created_ms, struct atr_err *err)
{
	struct atr_ks_entry *e = NULL;
	char *low = NULL;
	X509 *leaf = leaf_of(chain);

	if (check_alias(alias, err) == -1)
		return -1;
	if (key == NULL)
		return atr_err_set(err, ATR_E_USAGE, "no private key given");
	if (leaf == NULL)
		return atr_err_set(err, ATR_E_USAGE,
		    "a private key must be accompanied by its certificate chain");
	if (X509_get0_pubkey(leaf) == NULL || EVP_PKEY_eq(X509_get0_pubkey(leaf), key) != 1) {
		ERR_clear_error();
		return atr_err_set(err, ATR_E_CERT_MISMATCH,
		    "the private key does not match the first certificate of the chain");
	}
	if ((low = atr_ksi_lower(alias)) == NULL ||
	    (e = atr_ksi_entry_new(low, ATR_KS_PRIVATE_KEY)) == NULL)
		goto nomem;
	atr_ksi_chain_free(e->chain);
	if ((e->chain = X509_chain_up_ref(chain)) == NULL)
		goto nomem;
	if (!EVP_PKEY_up_ref(key))
		goto nomem;
	e->pkey = key;
	if (keypass != NULL && (e->keypass = dup_secret(keypass)) == NULL)
		goto nomem;
	e->created_ms = created_ms != 0 ? created_ms : atr_now_ms();
	free(low);
	return atr_ksi_put(ks, e, err);
nomem:
	free(low);
	atr_ksi_entry_free(e);
	return atr_err_set(err, ATR_E_NOMEM, NULL);
}

/* Replaces the chain of an existing key entry: see keystore.h. */
int
atr_ks_set_chain(struct atr_ks *ks, const char *alias, STACK_OF(X509) *chain,
    struct atr_err *err)
{
	ssize_t i = index_of(ks, alias);
	struct atr_ks_entry *e;
	STACK_OF(X509) *copy;
	X509 *leaf = leaf_of(chain), *old;
	EVP_PKEY *want = NULL;

	if (i < 0)
		return atr_err_set(err, ATR_E_KS_NO_ENTRY, "Alias <%s> does not exist",
		    alias != NULL ? alias : "");
	e = ks->ents[i];
	if (e->kind != ATR_KS_PRIVATE_KEY)
		return atr_err_set(err, ATR_E_USAGE, "Alias <%s> has no key", e->alias);
	if (leaf == NULL)
		return atr_err_set(err, ATR_E_USAGE, "the certificate chain is empty");
	if ((old = leaf_of(e->chain)) != NULL)
		want = X509_get0_pubkey(old);
	else
		want = e->pkey;
	if (want != NULL &&
	    (X509_get0_pubkey(leaf) == NULL || EVP_PKEY_eq(X509_get0_pubkey(leaf), want) != 1)) {
		ERR_clear_error();
		return atr_err_set(err, ATR_E_CERT_MISMATCH,
		    "Public keys in reply and keystore don't match");
	}
	if ((copy = X509_chain_up_ref(chain)) == NULL)
		return atr_err_set(err, ATR_E_NOMEM, NULL);
	atr_ksi_chain_free(e->chain);
	e->chain = copy;
	return 0;
}

/* Adds or replaces a trusted certificate entry: see keystore.h. */
int
atr_ks_set_trusted(struct atr_ks *ks, const char *alias, X509 *cert, int64_t created_ms,
    struct atr_err *err)
{
	struct atr_ks_entry *e = NULL;
	char *low = NULL;

	if (check_alias(alias, err) == -1)
		return -1;
	if (cert == NULL)
		return atr_err_set(err, ATR_E_USAGE, "no certificate given");
	if ((low = atr_ksi_lower(alias)) == NULL ||
	    (e = atr_ksi_entry_new(low, ATR_KS_TRUSTED_CERT)) == NULL ||
	    (e->fname = strdup(alias)) == NULL || !X509_up_ref(cert))
		goto nomem;
	e->cert = cert;
	e->created_ms = created_ms != 0 ? created_ms : atr_now_ms();
	free(low);
	return atr_ksi_put(ks, e, err);
nomem:
	free(low);
	atr_ksi_entry_free(e);
	return atr_err_set(err, ATR_E_NOMEM, NULL);
}

/* Removes an entry: see keystore.h. */
int
atr_ks_delete(struct atr_ks *ks, const char *alias, struct atr_err *err)
{
	ssize_t i = index_of(ks, alias);
	struct atr_ks_entry *e;

	if (i < 0)
		return atr_err_set(err, ATR_E_KS_NO_ENTRY, "Alias <%s> does not exist",
		    alias != NULL ? alias : "");
	e = ks->ents[i];
	jht_remove(ks->order, e->alias);
	memmove(&ks->ents[i], &ks->ents[i + 1], (ks->n - (size_t)i - 1) * sizeof(*ks->ents));
	ks->n--;
	atr_ksi_entry_free(e);
	return 0;
}

/*
 * Renames an entry as keytool -changealias does: the entry moves to the
 * end (a new insertion in Java's tables) and keeps its key, chain and
 * creation time.
 */
int
atr_ks_rename(struct atr_ks *ks, const char *alias, const char *newalias,
    struct atr_err *err)
{
	ssize_t i = index_of(ks, alias), j;
	struct atr_ks_entry *e;
	char *low = NULL, *fname = NULL;

	if (check_alias(newalias, err) == -1)
		return -1;
	if (i < 0)
		return atr_err_set(err, ATR_E_KS_NO_ENTRY, "Alias <%s> does not exist",
		    alias != NULL ? alias : "");
	e = ks->ents[i];
	j = index_of(ks, newalias);
	if (j >= 0 && j != i)
		return atr_err_set(err, ATR_E_EXISTS, "Target alias <%s> already exists",
		    newalias);
	if ((low = atr_ksi_lower(newalias)) == NULL)
		goto nomem;
	if (e->kind == ATR_KS_TRUSTED_CERT && (fname = strdup(newalias)) == NULL)
		goto nomem;
	if (strcmp(low, e->alias) != 0) {
		if (jht_put(ks->order, low, e) == -1)
			goto nomem;
		jht_remove(ks->order, e->alias);
		memmove(&ks->ents[i], &ks->ents[i + 1], (ks->n - (size_t)i - 1) * sizeof(*ks->ents));
		ks->ents[ks->n - 1] = e;
		free(e->alias);
		e->alias = low;
		low = NULL;
	}
	free(e->fname);
	e->fname = fname;
	free(low);
	return 0;
nomem:
	free(low);
	free(fname);
	return atr_err_set(err, ATR_E_NOMEM, NULL);
}

/* Re-protects a JKS key entry under newpass: see keystore.h. */
int
atr_ks_change_keypass(struct atr_ks *ks, const char *alias, const char *oldpass,
    const char *newpass, struct atr_err *err)
{
	ssize_t i = index_of(ks, alias);
	struct atr_ks_entry *e;
	unsigned char *der = NULL, *prot = NULL;
	size_t len = 0, protlen = 0;
	char *np = NULL;

	if (i < 0)
		return atr_err_set(err, ATR_E_KS_NO_ENTRY, "Alias <%s> does not exist",
		    alias != NULL ? alias : "");
	e = ks->ents[i];
	if (ks->fmt != ATR_KS_JKS && ks->fmt != ATR_KS_JCEKS)
		return atr_err_set(err, ATR_E_KS_UNSUPPORTED,
		    "%s keystores have no separate key passwords; change the store "
		    "password instead", atr_ks_format_name(ks->fmt));
	if (e->kind != ATR_KS_PRIVATE_KEY)
		return atr_err_set(err, ATR_E_USAGE, "Alias <%s> has no key", e->alias);
	if (newpass == NULL)
		return atr_err_set(err, ATR_E_USAGE, "no new key password given");
	if (atr_ksi_entry_pk8(ks, e, oldpass, &der, &len, err) == -1)
		return -1;
	if ((np = dup_secret(newpass)) == NULL) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		goto err;
	}
	if (e->pkey == NULL) {
		if (atr_ksi_jks_protect(der, len, newpass, NULL, &prot, &protlen, err) == -1)
			goto err;
		atr_ksi_free_secret_buf(e->prot, e->protlen);
		e->prot = prot;
		e->protlen = protlen;
		e->protkind = ATR_KSI_PROT_JKS;
	}
	atr_free_secret(e->keypass);
	e->keypass = np;
	atr_ksi_free_secret_buf(der, len);
	return 0;
err:
	atr_free_secret(np);
	atr_ksi_free_secret_buf(der, len);
	return -1;
}

/* Whether the store's integrity was checked when it was loaded. */
int
atr_ks_verified(const struct atr_ks *ks)
{
	return ks->verified;
}
