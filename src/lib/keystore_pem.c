/*
 * PEM keystores: private keys (PKCS#8, encrypted or not, or OpenSSL's
 * traditional RSA/EC/DSA forms) and certificates in one text file.
 *
 * Each key becomes a key entry: its leaf is a certificate with the same
 * public key and its chain is found by issuer search among the file's
 * certificates. Certificates no chain uses become trusted entries.
 *
 * The "Bag Attributes" lines `openssl pkcs12 -info` prints before each
 * block are understood and written: friendlyName gives the alias,
 * localKeyID "Time <ms>" the creation time and Oracle's trustedKeyUsage
 * line marks a trusted entry, so a keystore survives a trip through PEM and
 * `openssl pkcs12 -nodes` output of a Java keystore loads with its aliases.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>

#include "atrium/keystore.h"
#include "atrium/util.h"
#include "lib/keystore_int.h"

#define ORACLE_TKU_OID "2.16.840.1.113894.746875.1.1"

struct pblock {
	EVP_PKEY *pkey;          /* a key block, or */
	X509 *x;                 /* a certificate block */
	char *fname;
	unsigned char kid[64];
	size_t kidlen;
	int trusted;
	int used;                /* a leaf or in a chain */
	STACK_OF(X509) *chain;   /* key blocks: the chain found */
};

struct pattrs {
	char *fname;
	unsigned char kid[64];
	size_t kidlen;
	int trusted;
};

struct pld {
	struct pblock *b;
	size_t n, cap;
	size_t nkeys, ncerts;
	const char *pass;
	char skipped[64];        /* a label we ignored, for the error message */
};

static void
attrs_reset(struct pattrs *a)
{
	free(a->fname);
	memset(a, 0, sizeof(*a));
}

static void
pld_free(struct pld *ld)
{
	for (size_t i = 0; i < ld->n; i++) {
		EVP_PKEY_free(ld->b[i].pkey);
		X509_free(ld->b[i].x);
		free(ld->b[i].fname);
		atr_ksi_chain_free(ld->b[i].chain);
	}
	free(ld->b);
}

static int
pass_cb(char *buf, int size, int rwflag, void *u)
{
	size_t n;

	(void)rwflag;
	if (u == NULL)
		return -1;
	n = strlen(u);
	if (n > (size_t)size)
		return -1;
	memcpy(buf, u, n);
	return (int)n;
}

static int
need_pass(struct atr_err *err)
{
	return atr_err_set(err, ATR_E_KS_PASSWORD,
	    "the private key in the PEM file is encrypted; a password is needed");
}

static int
wrong_pass(struct atr_err *err)
{
	ERR_clear_error();
	return atr_err_set(err, ATR_E_KS_PASSWORD,
	    "keystore password was incorrect (the PEM private key cannot be decrypted)");
}

/* Decodes one BEGIN..END block of text into a key or a certificate. */
static int
decode_block(struct pld *ld, const char *text, size_t len, struct pattrs *a,
    struct atr_err *err)
{
	BIO *bio = NULL;
	char *name = NULL, *header = NULL;
	unsigned char *data = NULL;
	long dlen = 0;
	const unsigned char *p;
	struct pblock blk;
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	X509_SIG *sig = NULL;
	EVP_PKEY *tmp = NULL;
	int rc = -1;

	memset(&blk, 0, sizeof(blk));
	if ((bio = BIO_new_mem_buf(text, (int)len)) == NULL)
		return atr_err_set(err, ATR_E_NOMEM, NULL);
	if (!PEM_read_bio(bio, &name, &header, &data, &dlen)) {
		atr_err_set_ssl(err, ATR_E_KS_CORRUPT, "the PEM file is damaged");
		goto out;
	}
	p = data;
	if (strcmp(name, "CERTIFICATE") == 0 || strcmp(name, "X509 CERTIFICATE") == 0) {
		if ((blk.x = d2i_X509(NULL, &p, dlen)) == NULL) {
			atr_err_set_ssl(err, ATR_E_KS_CORRUPT, "a PEM certificate cannot be parsed");
			goto out;
		}
	} else if (strcmp(name, "TRUSTED CERTIFICATE") == 0) {
		if ((blk.x = d2i_X509_AUX(NULL, &p, dlen)) == NULL) {
			atr_err_set_ssl(err, ATR_E_KS_CORRUPT, "a PEM certificate cannot be parsed");
			goto out;
		}
		blk.trusted = 1;
	} else if (strcmp(name, "PRIVATE KEY") == 0) {
		if ((p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, dlen)) == NULL ||
		    (blk.pkey = EVP_PKCS82PKEY_ex(p8, NULL, NULL)) == NULL) {
			atr_err_set_ssl(err, ATR_E_KS_CORRUPT, "a PEM private key cannot be parsed");
			goto out;
		}
	} else if (strcmp(name, "ENCRYPTED PRIVATE KEY") == 0) {
		if ((sig = d2i_X509_SIG(NULL, &p, dlen)) == NULL) {
			atr_err_set_ssl(err, ATR_E_KS_CORRUPT, "a PEM private key cannot be parsed");
			goto out;
		}
		if (ld->pass == NULL) {
			need_pass(err);
			goto out;
		}
		if ((p8 = PKCS8_decrypt_ex(sig, ld->pass, -1, atr_ksi_libctx(), NULL)) == NULL) {
			wrong_pass(err);
			goto out;
		}
		if ((blk.pkey = EVP_PKCS82PKEY_ex(p8, NULL, NULL)) == NULL) {
			atr_err_set_ssl(err, ATR_E_KS_CORRUPT, "a PEM private key cannot be parsed");
			goto out;
		}
	} else if (strcmp(name, "RSA PRIVATE KEY") == 0 || strcmp(name, "EC PRIVATE KEY") == 0 ||
	    strcmp(name, "DSA PRIVATE KEY") == 0) {
		int encrypted = header != NULL && strstr(header, "ENCRYPTED") != NULL;
		if (encrypted && ld->pass == NULL) {
			need_pass(err);
			goto out;
		}
		BIO_free(bio);
		if ((bio = BIO_new_mem_buf(text, (int)len)) == NULL) {
			atr_err_set(err, ATR_E_NOMEM, NULL);
			goto out;
		}
		/* Decrypted in our context (old ciphers), then moved into the
		 * default one like every other key. */
		tmp = PEM_read_bio_PrivateKey_ex(bio, NULL, pass_cb, (void *)ld->pass,
		    atr_ksi_libctx(), NULL);
		if (tmp == NULL) {
			if (encrypted)
				wrong_pass(err);
			else
				atr_err_set_ssl(err, ATR_E_KS_CORRUPT,
				    "a PEM private key cannot be parsed");
			goto out;
		}
		if ((p8 = EVP_PKEY2PKCS8(tmp)) == NULL ||
		    (blk.pkey = EVP_PKCS82PKEY_ex(p8, NULL, NULL)) == NULL) {
			atr_err_set_ssl(err, ATR_E_KS_UNSUPPORTED,
			    "a PEM private key cannot be converted");
			goto out;
		}
	} else {
		snprintf(ld->skipped, sizeof(ld->skipped), "%s", name);
		rc = 0;
		goto out;
	}
	if (blk.pkey != NULL ? ++ld->nkeys > ATR_KSI_MAX_PEM_KEYS : ++ld->ncerts > ATR_KSI_MAX_CERTS) {
		atr_err_set(err, ATR_E_KS_UNSUPPORTED, "the PEM file holds more than %d %s",
		    blk.pkey != NULL ? ATR_KSI_MAX_PEM_KEYS : ATR_KSI_MAX_CERTS,
		    blk.pkey != NULL ? "private keys" : "certificates");
		goto out;
	}
	if (ld->n == ld->cap) {
		size_t ncap = ld->cap == 0 ? 8 : ld->cap * 2;
		struct pblock *v = realloc(ld->b, ncap * sizeof(*v));
		if (v == NULL) {
			atr_err_set(err, ATR_E_NOMEM, NULL);
			goto out;
		}
		ld->b = v;
		ld->cap = ncap;
	}
	blk.fname = a->fname;
	a->fname = NULL;
	memcpy(blk.kid, a->kid, a->kidlen);
	blk.kidlen = a->kidlen;
	blk.trusted |= a->trusted;
	ld->b[ld->n++] = blk;
	memset(&blk, 0, sizeof(blk));
	rc = 0;
out:
	EVP_PKEY_free(tmp);
	EVP_PKEY_free(blk.pkey);
	X509_free(blk.x);
	PKCS8_PRIV_KEY_INFO_free(p8);
	X509_SIG_free(sig);
	OPENSSL_free(name);
	OPENSSL_free(header);
	if (data != NULL)
		OPENSSL_clear_free(data, (size_t)dlen);
	BIO_free(bio);
	return rc;
}

/* "  localKeyID: 54 69 6D 65 ..." → bytes. */
static void
parse_kid(const char *s, const char *end, struct pattrs *a)
{
	a->kidlen = 0;
	while (s < end && a->kidlen < sizeof(a->kid)) {
		int hi, lo;
		while (s < end && *s == ' ')
			s++;
		if (end - s < 2)
			break;
		hi = OPENSSL_hexchar2int((unsigned char)s[0]);
		lo = OPENSSL_hexchar2int((unsigned char)s[1]);
		if (hi < 0 || lo < 0)
			break;
		a->kid[a->kidlen++] = (unsigned char)(hi << 4 | lo);
		s += 2;
	}
}

static int
attr_line(const char *s, const char *end, struct pattrs *a, struct atr_err *err)
{
	static const char fn[] = "friendlyName: ", lk[] = "localKeyID: ";
	const char *v;

	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	while (end > s && (end[-1] == '\r' || end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if ((size_t)(end - s) >= sizeof(fn) - 1 && memcmp(s, fn, sizeof(fn) - 1) == 0) {
		v = s + sizeof(fn) - 1;
		free(a->fname);
		if ((a->fname = strndup(v, (size_t)(end - v))) == NULL)
			return atr_err_set(err, ATR_E_NOMEM, NULL);
	} else if ((size_t)(end - s) >= sizeof(lk) - 1 && memcmp(s, lk, sizeof(lk) - 1) == 0) {
		parse_kid(s + sizeof(lk) - 1, end, a);
	} else if ((size_t)(end - s) >= sizeof(ORACLE_TKU_OID) - 1 &&
	    memcmp(s, ORACLE_TKU_OID, sizeof(ORACLE_TKU_OID) - 1) == 0) {
		a->trusted = 1;
	} else if ((size_t)(end - s) >= 14 && memcmp(s, "Bag Attributes", 14) == 0) {
		free(a->fname);
		memset(a, 0, sizeof(*a));
	}
	return 0;
}

static int
scan(struct pld *ld, const char *buf, size_t len, struct atr_err *err)
{
	static const char begin[] = "-----BEGIN ";
	const char *p = buf, *end = buf + len;
	struct pattrs a;
	size_t line = 1;
	int rc = -1;

	memset(&a, 0, sizeof(a));
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *next = eol == NULL ? end : eol + 1;
		if (eol == NULL)
			eol = end;
		if ((size_t)(eol - p) >= sizeof(begin) - 1 &&
		    memcmp(p, begin, sizeof(begin) - 1) == 0) {
			const char *lab = p + sizeof(begin) - 1, *labend, *e;
			char endmark[96];
			int n;

			labend = memmem(lab, (size_t)(eol - lab), "-----", 5);
			if (labend == NULL || labend - lab > 64) {
				atr_err_set(err, ATR_E_KS_CORRUPT,
				    "the PEM file is damaged: bad BEGIN line at line %zu", line);
				goto out;
			}
			n = snprintf(endmark, sizeof(endmark), "-----END %.*s-----",
			    (int)(labend - lab), lab);
			e = memmem(next, (size_t)(end - next), endmark, (size_t)n);
			if (e == NULL) {
				atr_err_set(err, ATR_E_KS_CORRUPT,
				    "the PEM file is truncated: the block at line %zu has no END line",
				    line);
				goto out;
			}
			e += n;
			if ((size_t)(e - p) > INT_MAX || decode_block(ld, p, (size_t)(e - p), &a, err) == -1)
				goto out;
			attrs_reset(&a);
			for (; p < e; p++)
				line += *p == '\n';
			eol = memchr(e, '\n', (size_t)(end - e));
			p = eol == NULL ? end : eol + 1;
			line++;
			continue;
		}
		if (attr_line(p, eol, &a, err) == -1)
			goto out;
		p = next;
		line++;
	}
	rc = 0;
out:
	attrs_reset(&a);
	return rc;
}

/* The certificate block that is key block k's leaf, or NULL. */
static struct pblock *
find_leaf(struct pld *ld, const struct pblock *k)
{
	struct pblock *best = NULL;
	int bestscore = -1;

	for (size_t i = 0; i < ld->n; i++) {
		struct pblock *c = &ld->b[i];
		EVP_PKEY *pub;
		int score;

		if (c->x == NULL || (pub = X509_get0_pubkey(c->x)) == NULL ||
		    EVP_PKEY_eq(pub, k->pkey) != 1)
			continue;
		/* Prefer the same localKeyID, then the same name, then untrusted. */
		score = !c->trusted;
		if (k->kidlen > 0 && c->kidlen == k->kidlen && memcmp(c->kid, k->kid, k->kidlen) == 0)
			score += 4;
		if (k->fname != NULL && c->fname != NULL && atr_ksi_same_alias(k->fname, c->fname))
			score += 2;
		if (score > bestscore) {
			best = c;
			bestscore = score;
		}
	}
	ERR_clear_error();
	return best;
}

/* The block holding cert x, preferring one no chain has used yet and that
 * is not itself a trusted entry. */
static struct pblock *
block_of(struct pld *ld, X509 *x)
{
	struct pblock *best = NULL;
	int bestscore = -1;

	for (size_t i = 0; i < ld->n; i++) {
		struct pblock *c = &ld->b[i];
		int score;
		if (c->x == NULL || X509_cmp(c->x, x) != 0)
			continue;
		score = !c->used * 2 + !c->trusted;
		if (score > bestscore) {
			best = c;
			bestscore = score;
		}
	}
	return best;
}

static int
chains(struct pld *ld, struct atr_err *err)
{
	STACK_OF(X509) *pool;
	int *memo = NULL, rc = -1;

	if ((pool = sk_X509_new_null()) == NULL)
		return atr_err_set(err, ATR_E_NOMEM, NULL);
	for (size_t i = 0; i < ld->n; i++)
		if (ld->b[i].x != NULL && !sk_X509_push(pool, ld->b[i].x))
			goto nomem;
	if ((memo = malloc(((size_t)sk_X509_num(pool) + 1) * sizeof(*memo))) == NULL)
		goto nomem;
	for (int i = 0; i < sk_X509_num(pool); i++)
		memo[i] = ATR_KSI_MEMO_UNKNOWN;
	for (size_t i = 0; i < ld->n; i++) {
		struct pblock *k = &ld->b[i], *leaf;
		STACK_OF(X509) *c;

		if (k->pkey == NULL)
			continue;
		if ((k->chain = sk_X509_new_null()) == NULL)
			goto nomem;
		if ((leaf = find_leaf(ld, k)) == NULL)
			continue;
		if ((c = atr_ksi_build_chain(leaf->x, pool, memo)) == NULL)
			goto nomem;
		atr_ksi_chain_free(k->chain);
		k->chain = c;
		leaf->used = 1;
		for (int j = 1; j < sk_X509_num(c); j++) {
			struct pblock *b = block_of(ld, sk_X509_value(c, j));
			if (b != NULL)
				b->used = 1;
		}
	}
	rc = 0;
	goto out;
nomem:
	atr_err_set(err, ATR_E_NOMEM, NULL);
out:
	free(memo);
	sk_X509_free(pool);
	return rc;
}

static int64_t
time_of(const struct pblock *b, int64_t now)
{
	char buf[32], *end;
	long long v;

	if (b->kidlen <= 5 || b->kidlen >= sizeof(buf) || memcmp(b->kid, "Time ", 5) != 0)
		return now;
	memcpy(buf, b->kid + 5, b->kidlen - 5);
	buf[b->kidlen - 5] = '\0';
	if (buf[0] < '0' || buf[0] > '9')
		return now;
	v = strtoll(buf, &end, 10);
	return *end == '\0' ? (int64_t)v : now;
}

static int
make_entries(struct atr_ks *ks, struct pld *ld, struct atr_err *err)
{
	int64_t now = atr_now_ms();
	unsigned ncert = 0;
	char alias[300], base[280];

	for (size_t i = 0; i < ld->n; i++) {
		struct pblock *b = &ld->b[i];
		struct atr_ks_entry *e;
		char *low;

		if (b->pkey == NULL && !(b->x != NULL && (b->trusted || !b->used)))
			continue;
		if (b->fname != NULL && *b->fname != '\0')
			snprintf(base, sizeof(base), "%s", b->fname);
		else if (b->pkey != NULL)
			snprintf(base, sizeof(base), "mykey");
		else
			snprintf(base, sizeof(base), "cert-%u", ++ncert);
		if ((low = atr_ksi_lower(base)) == NULL)
			return atr_err_set(err, ATR_E_NOMEM, NULL);
		if (atr_ksi_unique_alias(ks, low, alias, sizeof(alias)) == -1) {
			free(low);
			return atr_err_set(err, ATR_E_KS_UNSUPPORTED, "too many entries named %s", base);
		}
		free(low);
		if ((e = atr_ksi_entry_new(alias, b->pkey != NULL ? ATR_KS_PRIVATE_KEY :
		    ATR_KS_TRUSTED_CERT)) == NULL)
			return atr_err_set(err, ATR_E_NOMEM, NULL);
		if (b->fname != NULL && strcmp(b->fname, alias) != 0 &&
		    atr_ksi_same_alias(b->fname, alias) && (e->fname = strdup(b->fname)) == NULL) {
			atr_ksi_entry_free(e);
			return atr_err_set(err, ATR_E_NOMEM, NULL);
		}
		e->created_ms = time_of(b, now);
		if (b->pkey != NULL) {
			e->pkey = b->pkey;
			b->pkey = NULL;
			atr_ksi_chain_free(e->chain);
			e->chain = b->chain;
			b->chain = NULL;
		} else {
			e->cert = b->x;
			b->x = NULL;
		}
		if (atr_ksi_put(ks, e, err) == -1)
			return -1;
	}
	return 0;
}

/*
 * Loads a PEM file into ks. Encrypted keys need pass (a wrong one is
 * ATR_E_KS_PASSWORD); a file without keys or certificates is
 * ATR_E_KS_FORMAT.
 */
int
atr_ksi_pem_load(struct atr_ks *ks, const unsigned char *buf, size_t len, const char *pass,
    struct atr_err *err)
{
	struct pld ld;
	int rc = -1;

	memset(&ld, 0, sizeof(ld));
	ld.pass = pass;
	if (scan(&ld, (const char *)buf, len, err) == -1)
		goto out;
	if (ld.n == 0) {
		if (ld.skipped[0] != '\0')
			atr_ksi_format_err(err, "Unrecognized keystore format",
			    "the PEM file holds no certificate or private key, only \"%s\"", ld.skipped);
		else
			atr_ksi_format_err(err, "Unrecognized keystore format",
			    "the PEM file holds no certificate or private key");
		goto out;
	}
	if (chains(&ld, err) == -1 || make_entries(ks, &ld, err) == -1)
		goto out;
	ks->verified = 0;
	rc = 0;
out:
	ERR_clear_error();
	pld_free(&ld);
	return rc;
}

/* ---- writing ----------------------------------------------------------- */

/* "    friendlyName: <name>": control characters (a crafted alias could
 * hold a newline and a BEGIN line) become '_'. */
static void
put_fname(BIO *b, const char *name)
{
	BIO_puts(b, "    friendlyName: ");
	for (const char *c = name; *c != '\0'; c++) {
		unsigned char u = (unsigned char)*c;
		BIO_write(b, u < 0x20 || u == 0x7f ? "_" : c, 1);
	}
	BIO_puts(b, "\n");
}

static void
put_kid(BIO *b, int64_t created)
{
	char kid[32];
	int n = snprintf(kid, sizeof(kid), "Time %lld", (long long)created);

	BIO_puts(b, "    localKeyID:");
	for (int i = 0; i < n; i++)
		BIO_printf(b, " %02X", (unsigned char)kid[i]);
	BIO_puts(b, " \n");
}

static int
put_cert(BIO *b, X509 *x, const char *fname, int64_t created, int kid, int trusted,
    struct atr_err *err)
{
	BIO_puts(b, "Bag Attributes\n");
	if (fname != NULL)
		put_fname(b, fname);
	if (kid)
		put_kid(b, created);
	if (trusted)
		BIO_puts(b, "    " ORACLE_TKU_OID ": <Unsupported tag 6>\n");
	BIO_puts(b, "subject=");
	X509_NAME_print_ex(b, X509_get_subject_name(x), 0, XN_FLAG_ONELINE & ~ASN1_STRFLGS_ESC_MSB);
	BIO_puts(b, "\nissuer=");
	X509_NAME_print_ex(b, X509_get_issuer_name(x), 0, XN_FLAG_ONELINE & ~ASN1_STRFLGS_ESC_MSB);
	BIO_puts(b, "\n");
	if (!PEM_write_bio_X509(b, x))
		return atr_err_set_ssl(err, ATR_E_INTERNAL, "cannot write a certificate");
	return 0;
}

static int
put_key(struct atr_ks *ks, BIO *b, const struct atr_ks_entry *e, const char *pass,
    struct atr_err *err)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	size_t len = 0;
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	X509_ALGOR *alg = NULL;
	X509_SIG *sig = NULL;
	int rc = -1;

	if (atr_ksi_entry_pk8(ks, e, NULL, &der, &len, err) == -1)
		return atr_err_prefix(err, "cannot write entry %s", e->alias);
	p = der;
	if ((p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)len)) == NULL) {
		atr_err_set_ssl(err, ATR_E_KS_CORRUPT, "the key of entry %s is damaged", e->alias);
		goto out;
	}
	BIO_puts(b, "Bag Attributes\n");
	put_fname(b, e->fname != NULL ? e->fname : e->alias);
	put_kid(b, e->created_ms);
	BIO_puts(b, "Key Attributes: <No Attributes>\n");
	if (pass != NULL && *pass != '\0') {
		if ((alg = atr_ksi_pbes2_algor(err)) == NULL)
			goto out;
		if ((sig = PKCS8_set0_pbe_ex(pass, -1, p8, alg, NULL, NULL)) == NULL) {
			X509_ALGOR_free(alg);
			atr_err_set_ssl(err, ATR_E_INTERNAL, "cannot encrypt the key of entry %s",
			    e->alias);
			goto out;
		}
		if (!PEM_write_bio_PKCS8(b, sig)) {
			atr_err_set_ssl(err, ATR_E_INTERNAL, "cannot write a key");
			goto out;
		}
	} else if (!PEM_write_bio_PKCS8_PRIV_KEY_INFO(b, p8)) {
		atr_err_set_ssl(err, ATR_E_INTERNAL, "cannot write a key");
		goto out;
	}
	rc = 0;
out:
	X509_SIG_free(sig);
	PKCS8_PRIV_KEY_INFO_free(p8);
	atr_ksi_free_secret_buf(der, len);
	return rc;
}

/*
 * Writes ks as PEM: for each key entry its key (PKCS#8, encrypted with
 * PBES2/AES-256 under pass unless pass is NULL or empty) and its chain,
 * then each trusted certificate, each block after OpenSSL-style "Bag
 * Attributes" lines. *out is malloc'ed and may hold plaintext keys.
 */
int
atr_ksi_pem_save(struct atr_ks *ks, const char *pass, unsigned char **out, size_t *outlen,
    struct atr_err *err)
{
	BIO *b;
	char *data;
	long n;
	int rc = -1;

	for (size_t i = 0; i < ks->n; i++)
		if (ks->ents[i]->kind == ATR_KS_SECRET_KEY)
			return atr_err_set(err, ATR_E_KS_UNSUPPORTED,
			    "the secret key entry %s cannot be written to PEM; delete it first",
			    ks->ents[i]->alias);
	if ((b = BIO_new(BIO_s_secmem())) == NULL)
		return atr_err_set(err, ATR_E_NOMEM, NULL);
	for (size_t i = 0; i < ks->n; i++) {
		const struct atr_ks_entry *e = ks->ents[i];
		const char *fname = e->fname != NULL ? e->fname : e->alias;
		if (e->kind == ATR_KS_TRUSTED_CERT) {
			if (put_cert(b, e->cert, fname, e->created_ms, 1, 1, err) == -1)
				goto out;
			continue;
		}
		if (put_key(ks, b, e, pass, err) == -1)
			goto out;
		for (int k = 0; k < sk_X509_num(e->chain); k++)
			if (put_cert(b, sk_X509_value(e->chain, k), k == 0 ? fname : NULL,
			    e->created_ms, k == 0, 0, err) == -1)
				goto out;
	}
	if ((n = BIO_get_mem_data(b, &data)) < 0 || (*out = malloc(n > 0 ? (size_t)n : 1)) == NULL) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		goto out;
	}
	memcpy(*out, data, (size_t)n);
	*outlen = (size_t)n;
	rc = 0;
out:
	BIO_free(b);
	return rc;
}
