/*
 * PKCS#12 keystores through OpenSSL 3, read and written the way Java 17's
 * sun.security.pkcs12.PKCS12KeyStore does.
 *
 * Reading walks the SafeContents itself (PKCS12_parse() returns one key and
 * loses aliases and trust): pkcs8ShroudedKeyBags become key entries, matched
 * to their leaf certificate by localKeyID and then by friendlyName; chains
 * are rebuilt by issuer search; certificates carrying Oracle's
 * trustedKeyUsage attribute become trusted entries; other certificates that
 * no chain uses are dropped, as Java drops them.
 *
 * Writing produces what keytool writes: key bags first (PBES2, PBKDF2 with
 * HMAC-SHA256, 10000 iterations, 20-byte salt, AES-256-CBC), then one
 * encrypted block of certificate bags with the same scheme, then a SHA-256
 * MacData with a 20-byte salt and 10000 iterations.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pkcs12.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>

#include "atrium/keystore.h"
#include "atrium/util.h"
#include "lib/keystore_int.h"

#define ORACLE_TKU_OID "2.16.840.1.113894.746875.1.1"
#define ANY_EKU_OID "2.5.29.37.0"
#define P12_ITER 10000
#define P12_SALT 20

static const char bad_pass[] = "keystore password was incorrect";

/* ---- helpers ------------------------------------------------------------ */

/*
 * The iteration count of a password-based AlgorithmIdentifier (PBES2 with
 * PBKDF2, or a PKCS#5 v1 / PKCS#12 PBE scheme); 0 when it has none we know
 * how to read (OpenSSL then judges the parameters itself).
 */
static long
alg_iter(const X509_ALGOR *alg)
{
	const ASN1_OBJECT *obj, *kobj;
	const void *pval, *kval;
	int ptype, ktype;
	long iter = 0;

	X509_ALGOR_get0(&obj, &ptype, &pval, alg);
	if (ptype != V_ASN1_SEQUENCE)
		return 0;
	if (OBJ_obj2nid(obj) == NID_pbes2) {
		PBE2PARAM *p2 = ASN1_item_unpack(pval, ASN1_ITEM_rptr(PBE2PARAM));
		if (p2 == NULL)
			goto out;
		X509_ALGOR_get0(&kobj, &ktype, &kval, p2->keyfunc);
		if (OBJ_obj2nid(kobj) == NID_id_pbkdf2 && ktype == V_ASN1_SEQUENCE) {
			PBKDF2PARAM *kdf = ASN1_item_unpack(kval, ASN1_ITEM_rptr(PBKDF2PARAM));
			if (kdf != NULL)
				iter = ASN1_INTEGER_get(kdf->iter);
			PBKDF2PARAM_free(kdf);
		}
		PBE2PARAM_free(p2);
	} else {
		PBEPARAM *pbe = ASN1_item_unpack(pval, ASN1_ITEM_rptr(PBEPARAM));
		if (pbe != NULL)
			iter = ASN1_INTEGER_get(pbe->iter);
		PBEPARAM_free(pbe);
	}
out:
	ERR_clear_error();
	return iter;
}

static int
iter_ok(long iter)
{
	/* -1 is ASN1_INTEGER_get()'s error: a negative or huge count. */
	return iter >= 0 && iter <= ATR_KSI_MAX_ITER;
}

/* Whether alg needs OpenSSL's legacy provider (RC2, RC4, single DES, MD2). */
static int
alg_is_legacy(const X509_ALGOR *alg)
{
	static const int legacy[] = {NID_pbe_WithSHA1And40BitRC2_CBC,
	    NID_pbe_WithSHA1And128BitRC2_CBC, NID_pbe_WithSHA1And40BitRC4,
	    NID_pbe_WithSHA1And128BitRC4, NID_pbeWithMD2AndDES_CBC, NID_pbeWithMD5AndDES_CBC,
	    NID_pbeWithSHA1AndDES_CBC, NID_pbeWithMD2AndRC2_CBC, NID_pbeWithMD5AndRC2_CBC,
	    NID_pbeWithSHA1AndRC2_CBC};
	const ASN1_OBJECT *obj;
	int nid;

	X509_ALGOR_get0(&obj, NULL, NULL, alg);
	nid = OBJ_obj2nid(obj);
	for (size_t i = 0; i < sizeof(legacy) / sizeof(legacy[0]); i++)
		if (nid == legacy[i])
			return 1;
	return 0;
}

static int
legacy_missing(struct atr_err *err)
{
	ERR_clear_error();
	return atr_err_set(err, ATR_E_KS_UNSUPPORTED,
	    "the keystore uses an old PKCS#12 encryption (RC2 or RC4, as older Java "
	    "and 'openssl pkcs12 -legacy' write it) that needs OpenSSL's legacy "
	    "provider, which is not available here; convert the file on a machine "
	    "that has it, or install OpenSSL's legacy module");
}

/*
 * Decrypts the pkcs8ShroudedKeyBag content prot (an
 * EncryptedPrivateKeyInfo) with pass. A wrong password is
 * ATR_E_KS_KEY_PASSWORD "Cannot recover key". *der is malloc'ed.
 */
int
atr_ksi_p12_recover(const unsigned char *prot, size_t protlen, const char *pass,
    unsigned char **der, size_t *len, struct atr_err *err)
{
	const unsigned char *p = prot;
	const X509_ALGOR *alg;
	X509_SIG *sig = NULL;
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	unsigned char *tmp = NULL;
	int n = 0, rc = -1;

	*der = NULL;
	*len = 0;
	if (pass == NULL)
		return atr_err_set_worded(err, ATR_E_KS_KEY_PASSWORD, ATR_KSI_CANNOT_RECOVER, NULL);
	if (protlen > LONG_MAX || (sig = d2i_X509_SIG(NULL, &p, (long)protlen)) == NULL)
		return atr_err_set_ssl(err, ATR_E_KS_CORRUPT,
		    "the protected key is not an EncryptedPrivateKeyInfo");
	X509_SIG_get0(sig, &alg, NULL);
	if (!iter_ok(alg_iter(alg))) {
		atr_err_set(err, ATR_E_KS_CORRUPT, "key PBE iteration count too large");
		goto out;
	}
	p8 = PKCS8_decrypt_ex(sig, pass, -1, atr_ksi_libctx(), NULL);
	if (p8 == NULL && *pass == '\0')    /* Java retries "" as one NUL char */
		p8 = PKCS8_decrypt_ex(sig, NULL, 0, atr_ksi_libctx(), NULL);
	if (p8 == NULL) {
		if (alg_is_legacy(alg) && !atr_ksi_legacy_available())
			legacy_missing(err);
		else
			atr_err_set_worded(err, ATR_E_KS_KEY_PASSWORD, ATR_KSI_CANNOT_RECOVER, NULL);
		goto out;
	}
	if ((n = i2d_PKCS8_PRIV_KEY_INFO(p8, &tmp)) <= 0) {
		atr_err_set_ssl(err, ATR_E_KS_CORRUPT, "the private key cannot be encoded");
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
	ERR_clear_error();
	if (tmp != NULL)
		OPENSSL_clear_free(tmp, (size_t)n);
	PKCS8_PRIV_KEY_INFO_free(p8);
	X509_SIG_free(sig);
	return rc;
}

/* ---- loading ------------------------------------------------------------ */

struct p12cert {          /* Java's CertEntry for a certificate of a chain */
	X509 *x;
	char *alias;           /* friendlyName or NULL */
	unsigned char *kid;
	size_t kidlen;
};

struct p12key {           /* Java's keyList */
	char *key;             /* the entry's alias (lower-case map key) */
	uint64_t serial;       /* the entry made by this bag, if not replaced */
	char *alias;           /* friendlyName as read, or the counter name */
	unsigned char *kid;
	size_t kidlen;
};

struct p12ld {
	struct atr_ks *ks;     /* entries go straight in: Java's LinkedHashMap */
	const char *pass;
	int mac_ok;
	int counter;           /* Java's unfriendly names: "1", "2", ... */
	int nkeys;             /* Java's privateKeyCount */
	uint64_t serial;
	int64_t now;
	STACK_OF(X509) *all;   /* every certificate, for issuer search */
	struct p12cert *certs;
	size_t ncerts, capcerts;
	struct p12key *keys;
	size_t nkeys_rec, capkeys;
};

static void *
grow(void *v, size_t *cap, size_t n, size_t size)
{
	void *nv;
	size_t ncap;

	if (n < *cap)
		return v;
	ncap = *cap == 0 ? 8 : *cap * 2;
	if ((nv = realloc(v, ncap * size)) == NULL)
		return NULL;
	*cap = ncap;
	return nv;
}

static void
ld_free(struct p12ld *ld)
{
	for (size_t i = 0; i < ld->ncerts; i++) {
		X509_free(ld->certs[i].x);
		free(ld->certs[i].alias);
		free(ld->certs[i].kid);
	}
	for (size_t i = 0; i < ld->nkeys_rec; i++) {
		free(ld->keys[i].key);
		free(ld->keys[i].alias);
		free(ld->keys[i].kid);
	}
	free(ld->certs);
	free(ld->keys);
	atr_ksi_chain_free(ld->all);
}

static int64_t
time_of(const unsigned char *kid, size_t kidlen, int64_t now)
{
	char buf[32], *end;
	long long v;

	if (kid == NULL || kidlen <= 5 || kidlen >= sizeof(buf) || memcmp(kid, "Time ", 5) != 0)
		return now;
	memcpy(buf, kid + 5, kidlen - 5);
	buf[kidlen - 5] = '\0';
	if (buf[0] == '\0' || (buf[0] != '-' && (buf[0] < '0' || buf[0] > '9')))
		return now;
	v = strtoll(buf, &end, 10);
	return *end == '\0' ? (int64_t)v : now;
}

static int
bag_attrs(PKCS12_SAFEBAG *bag, char **fname, unsigned char **kid, size_t *kidlen,
    int *trusted, struct atr_err *err)
{
	const STACK_OF(X509_ATTRIBUTE) *attrs = PKCS12_SAFEBAG_get0_attrs(bag);
	const ASN1_TYPE *t;
	ASN1_OBJECT *tku;
	char *fn;

	*fname = NULL;
	*kid = NULL;
	*kidlen = 0;
	*trusted = 0;
	if ((fn = PKCS12_get_friendlyname(bag)) != NULL) {
		*fname = strdup(fn);
		OPENSSL_free(fn);
		if (*fname == NULL)
			return atr_err_set(err, ATR_E_NOMEM, NULL);
	}
	ERR_clear_error();
	t = PKCS12_SAFEBAG_get0_attr(bag, NID_localKeyID);
	if (t != NULL && t->type == V_ASN1_OCTET_STRING) {
		int n = ASN1_STRING_length(t->value.octet_string);
		if ((*kid = malloc(n > 0 ? (size_t)n : 1)) == NULL)
			return atr_err_set(err, ATR_E_NOMEM, NULL);
		memcpy(*kid, ASN1_STRING_get0_data(t->value.octet_string), (size_t)n);
		*kidlen = (size_t)n;
	}
	if ((tku = OBJ_txt2obj(ORACLE_TKU_OID, 1)) == NULL)
		return atr_err_set_ssl(err, ATR_E_INTERNAL, "cannot make an OID");
	for (int i = 0; i < sk_X509_ATTRIBUTE_num(attrs); i++)
		if (OBJ_cmp(X509_ATTRIBUTE_get0_object(sk_X509_ATTRIBUTE_value(attrs, i)), tku) == 0)
			*trusted = 1;
	ASN1_OBJECT_free(tku);
	return 0;
}

static char *
unfriendly(struct p12ld *ld)
{
	char buf[16];

	snprintf(buf, sizeof(buf), "%d", ++ld->counter);
	return strdup(buf);
}

/* An entry named after alias (lower-cased), remembering alias to write. */
static struct atr_ks_entry *
named_entry(const char *alias, enum atr_ks_kind kind)
{
	struct atr_ks_entry *e;
	char *low;

	if ((low = atr_ksi_lower(alias)) == NULL)
		return NULL;
	e = atr_ksi_entry_new(low, kind);
	free(low);
	if (e != NULL && (e->fname = strdup(alias)) == NULL) {
		atr_ksi_entry_free(e);
		return NULL;
	}
	return e;
}

static int
load_bag(struct p12ld *ld, PKCS12_SAFEBAG *bag, int index, struct atr_err *err)
{
	int nid = PKCS12_SAFEBAG_get_nid(bag), trusted, n;
	char *fname = NULL;
	unsigned char *kid = NULL, *der = NULL;
	size_t kidlen = 0;
	struct atr_ks_entry *e = NULL;
	X509 *x = NULL;
	int rc = -1;

	if (nid != NID_pkcs8ShroudedKeyBag && nid != NID_certBag && nid != NID_secretBag)
		return 0;   /* keyBag and others: Java ignores them */
	if (bag_attrs(bag, &fname, &kid, &kidlen, &trusted, err) == -1)
		goto out;
	if (nid == NID_pkcs8ShroudedKeyBag || nid == NID_secretBag) {
		if (nid == NID_pkcs8ShroudedKeyBag)
			ld->nkeys++;
		if (kid == NULL) {
			const char *fake = nid == NID_secretBag ? "00" : "01";
			if (nid == NID_pkcs8ShroudedKeyBag && ld->nkeys != 1) {
				rc = 0;          /* Java skips it */
				goto out;
			}
			if ((kid = (unsigned char *)strdup(fake)) == NULL)
				goto nomem;
			kidlen = 2;
		}
		if (fname == NULL && (fname = unfriendly(ld)) == NULL)
			goto nomem;
		if ((e = named_entry(fname, nid == NID_secretBag ? ATR_KS_SECRET_KEY :
		    ATR_KS_PRIVATE_KEY)) == NULL)
			goto nomem;
		e->created_ms = time_of(kid, kidlen, ld->now);
		e->serial = ++ld->serial;
		if (nid == NID_pkcs8ShroudedKeyBag) {
			const X509_SIG *sig = PKCS12_SAFEBAG_get0_pkcs8(bag);
			struct p12key *v;
			if (ld->nkeys > ATR_KSI_MAX_KEYS) {
				atr_err_set(err, ATR_E_KS_UNSUPPORTED,
				    "the keystore holds more than %d keys", ATR_KSI_MAX_KEYS);
				goto out;
			}
			if (sig == NULL || (n = i2d_X509_SIG(sig, &der)) <= 0) {
				atr_err_set_ssl(err, ATR_E_KS_CORRUPT,
				    "the keystore is damaged: a key bag cannot be read");
				goto out;
			}
			if ((e->prot = malloc((size_t)n)) == NULL)
				goto nomem;
			memcpy(e->prot, der, (size_t)n);
			e->protlen = (size_t)n;
			e->protkind = ATR_KSI_PROT_P12;
			if ((v = grow(ld->keys, &ld->capkeys, ld->nkeys_rec, sizeof(*v))) == NULL)
				goto nomem;
			ld->keys = v;
			memset(&v[ld->nkeys_rec], 0, sizeof(v[0]));
			if ((v[ld->nkeys_rec].key = strdup(e->alias)) == NULL)
				goto nomem;
			v[ld->nkeys_rec].serial = e->serial;
			v[ld->nkeys_rec].alias = fname;
			v[ld->nkeys_rec].kid = kid;
			v[ld->nkeys_rec].kidlen = kidlen;
			ld->nkeys_rec++;
			fname = NULL;
			kid = NULL;
		}
		rc = atr_ksi_put(ld->ks, e, err);
		e = NULL;
		goto out;
	}
	/* A certificate bag. */
	if (PKCS12_SAFEBAG_get_bag_nid(bag) != NID_x509Certificate) {
		rc = 0;
		goto out;
	}
	if (sk_X509_num(ld->all) >= ATR_KSI_MAX_CERTS) {
		atr_err_set(err, ATR_E_KS_UNSUPPORTED,
		    "the keystore holds more than %d certificates", ATR_KSI_MAX_CERTS);
		goto out;
	}
	if ((x = PKCS12_SAFEBAG_get1_cert(bag)) == NULL) {
		atr_err_set_ssl(err, ATR_E_KS_CORRUPT,
		    "the keystore is damaged: a certificate cannot be parsed");
		goto out;
	}
	if (!X509_up_ref(x))
		goto nomem;
	if (!sk_X509_push(ld->all, x)) {
		X509_free(x);
		goto nomem;
	}
	if (kid == NULL && ld->nkeys == 1 && index == 0) {
		if ((kid = (unsigned char *)strdup("01")) == NULL)
			goto nomem;
		kidlen = 2;
	}
	if (trusted) {
		if (fname == NULL && (fname = unfriendly(ld)) == NULL)
			goto nomem;
		if ((e = named_entry(fname, ATR_KS_TRUSTED_CERT)) == NULL)
			goto nomem;
		e->cert = x;
		x = NULL;
		e->created_ms = ld->now;   /* Java stores no date for these */
		rc = atr_ksi_put(ld->ks, e, err);
		e = NULL;
	} else {
		struct p12cert *v = grow(ld->certs, &ld->capcerts, ld->ncerts, sizeof(*v));
		if (v == NULL)
			goto nomem;
		ld->certs = v;
		v[ld->ncerts].x = x;
		v[ld->ncerts].alias = fname;
		v[ld->ncerts].kid = kid;
		v[ld->ncerts].kidlen = kidlen;
		ld->ncerts++;
		x = NULL;
		fname = NULL;
		kid = NULL;
		rc = 0;
	}
	goto out;
nomem:
	atr_err_set(err, ATR_E_NOMEM, NULL);
out:
	OPENSSL_free(der);
	X509_free(x);
	atr_ksi_entry_free(e);
	free(fname);
	free(kid);
	return rc;
}

static int
load_bags(struct p12ld *ld, STACK_OF(PKCS12_SAFEBAG) *bags, struct atr_err *err)
{
	for (int i = 0; i < sk_PKCS12_SAFEBAG_num(bags); i++)
		if (load_bag(ld, sk_PKCS12_SAFEBAG_value(bags, i), i, err) == -1)
			return -1;
	return 0;
}

static int
load_encrypted(struct p12ld *ld, PKCS7 *p7, struct atr_err *err)
{
	STACK_OF(PKCS12_SAFEBAG) *bags;
	PKCS7_ENC_CONTENT *ec;
	int rc;

	if (ld->pass == NULL)
		return 0;  /* as Java: the certificates stay unread */
	if (p7->d.encrypted == NULL || (ec = p7->d.encrypted->enc_data) == NULL ||
	    ec->algorithm == NULL || ec->enc_data == NULL)
		return atr_err_set(err, ATR_E_KS_CORRUPT,
		    "the keystore is damaged: an encrypted block is incomplete");
	if (!iter_ok(alg_iter(ec->algorithm)))
		return atr_err_set(err, ATR_E_KS_CORRUPT, "cert PBE iteration count too large");
	bags = PKCS12_item_decrypt_d2i_ex(ec->algorithm, ASN1_ITEM_rptr(PKCS12_SAFEBAGS),
	    ld->pass, -1, ec->enc_data, 1, atr_ksi_libctx(), NULL);
	if (bags == NULL && *ld->pass == '\0')
		bags = PKCS12_item_decrypt_d2i_ex(ec->algorithm, ASN1_ITEM_rptr(PKCS12_SAFEBAGS),
		    NULL, 0, ec->enc_data, 1, atr_ksi_libctx(), NULL);
	if (bags == NULL) {
		if (alg_is_legacy(ec->algorithm) && !atr_ksi_legacy_available())
			return legacy_missing(err);
		if (ld->mac_ok)
			return atr_err_set_ssl(err, ATR_E_KS_CORRUPT,
			    "the keystore is damaged: its certificates cannot be decrypted");
		ERR_clear_error();
		return atr_err_set(err, ATR_E_KS_PASSWORD, "%s", bad_pass);
	}
	rc = load_bags(ld, bags, err);
	sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
	return rc;
}

/* Java's findMatchedCertificate(): localKeyID (with the same alias if
 * several), else the same alias. */
static X509 *
matched_cert(struct p12ld *ld, const struct p12key *k)
{
	X509 *idmatch = NULL, *namematch = NULL;

	for (size_t i = 0; i < ld->ncerts; i++) {
		const struct p12cert *c = &ld->certs[i];
		if (c->kid != NULL && c->kidlen == k->kidlen && memcmp(c->kid, k->kid, k->kidlen) == 0) {
			idmatch = c->x;
			if (c->alias != NULL && atr_ksi_same_alias(k->alias, c->alias))
				return c->x;
		} else if (c->alias != NULL && atr_ksi_same_alias(k->alias, c->alias)) {
			namematch = c->x;
		}
	}
	return idmatch != NULL ? idmatch : namematch;
}

static int
verify_mac(PKCS12 *p12, const char *pass, struct atr_err *err)
{
	const ASN1_INTEGER *iter = NULL;
	long n;

	PKCS12_get0_mac(NULL, NULL, NULL, &iter, p12);
	n = iter == NULL ? 1 : ASN1_INTEGER_get(iter);
	if (!iter_ok(n))
		return atr_err_set(err, ATR_E_KS_CORRUPT, "MAC iteration count too large: %ld", n);
	if (PKCS12_verify_mac(p12, pass, -1) == 1)
		return 0;
	if (*pass == '\0' && PKCS12_verify_mac(p12, NULL, 0) == 1)
		return 0;
	ERR_clear_error();
	return atr_err_set(err, ATR_E_KS_PASSWORD, "%s", bad_pass);
}

/*
 * Loads a PKCS#12 file into ks as Java does. With pass, the MAC (if any)
 * must verify ("keystore password was incorrect"); without, encrypted
 * blocks are skipped: key entries keep an empty chain and trusted entries
 * are missing.
 */
int
atr_ksi_p12_load(struct atr_ks *ks, const unsigned char *buf, size_t len, const char *pass,
    struct atr_err *err)
{
	struct p12ld ld;
	const unsigned char *p = buf;
	PKCS12 *p12 = NULL;
	STACK_OF(PKCS7) *safes = NULL;
	int *memo = NULL;
	int rc = -1;

	memset(&ld, 0, sizeof(ld));
	ld.ks = ks;
	ld.pass = pass;
	ld.now = atr_now_ms();
	if ((ld.all = sk_X509_new_null()) == NULL) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		goto out;
	}
	if (len > LONG_MAX || (p12 = d2i_PKCS12(NULL, &p, (long)len)) == NULL) {
		atr_err_set_ssl(err, ATR_E_KS_CORRUPT,
		    "the PKCS#12 keystore is truncated or damaged");
		goto out;
	}
	if (PKCS12_mac_present(p12) && pass != NULL) {
		if (verify_mac(p12, pass, err) == -1)
			goto out;
		ld.mac_ok = 1;
	}
	if ((safes = PKCS12_unpack_authsafes(p12)) == NULL) {
		atr_err_set_ssl(err, ATR_E_KS_UNSUPPORTED,
		    "the PKCS#12 keystore is damaged, or protected with a public key "
		    "(not supported)");
		goto out;
	}
	for (int i = 0; i < sk_PKCS7_num(safes); i++) {
		PKCS7 *p7 = sk_PKCS7_value(safes, i);
		STACK_OF(PKCS12_SAFEBAG) *bags;
		int nid = OBJ_obj2nid(p7->type);

		if (nid == NID_pkcs7_data) {
			if ((bags = PKCS12_unpack_p7data(p7)) == NULL) {
				atr_err_set_ssl(err, ATR_E_KS_CORRUPT,
				    "the keystore is damaged: a block of bags cannot be parsed");
				goto out;
			}
			rc = load_bags(&ld, bags, err);
			sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
			if (rc == -1)
				goto out;
			rc = -1;
		} else if (nid == NID_pkcs7_encrypted) {
			if (load_encrypted(&ld, p7, err) == -1)
				goto out;
		} else {
			atr_err_set(err, ATR_E_KS_UNSUPPORTED,
			    "public key protected PKCS12 not supported");
			goto out;
		}
	}
	/* Match keys with their chains. */
	if ((memo = malloc(((size_t)sk_X509_num(ld.all) + 1) * sizeof(*memo))) == NULL) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		goto out;
	}
	for (int i = 0; i < sk_X509_num(ld.all); i++)
		memo[i] = ATR_KSI_MEMO_UNKNOWN;
	for (size_t i = 0; i < ld.nkeys_rec; i++) {
		struct p12key *k = &ld.keys[i];
		struct atr_ks_entry *e = atr_ksi_find_exact(ks, k->key);
		STACK_OF(X509) *chain;
		X509 *leaf;

		if (e == NULL || e->serial != k->serial || (leaf = matched_cert(&ld, k)) == NULL)
			continue;
		if ((chain = atr_ksi_build_chain(leaf, ld.all, memo)) == NULL) {
			atr_err_set(err, ATR_E_NOMEM, NULL);
			goto out;
		}
		atr_ksi_chain_free(e->chain);
		e->chain = chain;
	}
	ks->verified = ld.mac_ok;
	rc = 0;
out:
	ERR_clear_error();
	free(memo);
	sk_PKCS7_pop_free(safes, PKCS7_free);
	PKCS12_free(p12);
	ld_free(&ld);
	return rc;
}

/* ---- writing ------------------------------------------------------------- */

/*
 * Java's PBES2 parameters: PBKDF2 (20-byte salt, 10000 iterations,
 * keyLength 32, HMAC-SHA256) with AES-256-CBC and a random IV. The
 * caller owns the result.
 */
X509_ALGOR *
atr_ksi_pbes2_algor(struct atr_err *err)
{
	unsigned char iv[16];
	PBE2PARAM *p2 = NULL;
	ASN1_OCTET_STRING *ivs = NULL;
	ASN1_STRING *params = NULL;
	X509_ALGOR *alg = NULL, *kdf = NULL;

	if (atr_random_bytes(iv, sizeof(iv)) == -1 || (p2 = PBE2PARAM_new()) == NULL ||
	    (kdf = PKCS5_pbkdf2_set_ex(P12_ITER, NULL, P12_SALT, NID_hmacWithSHA256, 32,
	    NULL)) == NULL || (ivs = ASN1_OCTET_STRING_new()) == NULL ||
	    !ASN1_OCTET_STRING_set(ivs, iv, sizeof(iv)))
		goto err;
	X509_ALGOR_free(p2->keyfunc);
	p2->keyfunc = kdf;
	kdf = NULL;
	if (!X509_ALGOR_set0(p2->encryption, OBJ_nid2obj(NID_aes_256_cbc), V_ASN1_OCTET_STRING,
	    ivs))
		goto err;
	ivs = NULL;
	if ((params = ASN1_item_pack(p2, ASN1_ITEM_rptr(PBE2PARAM), NULL)) == NULL ||
	    (alg = X509_ALGOR_new()) == NULL ||
	    !X509_ALGOR_set0(alg, OBJ_nid2obj(NID_pbes2), V_ASN1_SEQUENCE, params))
		goto err;
	PBE2PARAM_free(p2);
	return alg;
err:
	atr_err_set_ssl(err, ATR_E_INTERNAL, "cannot make PBES2 parameters");
	X509_ALGOR_free(alg);
	if (alg == NULL)
		ASN1_STRING_free(params);
	ASN1_OCTET_STRING_free(ivs);
	X509_ALGOR_free(kdf);
	PBE2PARAM_free(p2);
	return NULL;
}

static int
add_attrs(PKCS12_SAFEBAG *bag, const char *fname, int64_t created, int with_kid,
    int trusted, struct atr_err *err)
{
	char kid[32];
	ASN1_OBJECT *any = NULL;
	int n, ok;

	if (fname != NULL && !PKCS12_add_friendlyname_utf8(bag, fname, -1))
		return atr_err_set_ssl(err, ATR_E_KS_UNSUPPORTED,
		    "the alias %s cannot be written to PKCS#12", fname);
	if (with_kid) {
		n = snprintf(kid, sizeof(kid), "Time %lld", (long long)created);
		if (!PKCS12_add_localkeyid(bag, (unsigned char *)kid, n))
			return atr_err_set_ssl(err, ATR_E_INTERNAL, "cannot add a localKeyID");
	}
	if (trusted) {
		ok = (any = OBJ_txt2obj(ANY_EKU_OID, 1)) != NULL &&
		    PKCS12_add1_attr_by_txt(bag, ORACLE_TKU_OID, V_ASN1_OBJECT,
		    (const unsigned char *)any, -1);
		ASN1_OBJECT_free(any);
		if (!ok)
			return atr_err_set_ssl(err, ATR_E_INTERNAL,
			    "cannot add the trustedKeyUsage attribute");
	}
	return 0;
}

static char *
dn_rfc2253(X509 *x)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *s = NULL, *data;
	long n;

	if (b == NULL)
		return NULL;
	if (X509_NAME_print_ex(b, X509_get_subject_name(x), 0,
	    XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0 &&
	    (n = BIO_get_mem_data(b, &data)) >= 0 && (s = malloc((size_t)n + 1)) != NULL) {
		memcpy(s, data, (size_t)n);
		s[n] = '\0';
	}
	BIO_free(b);
	return s;
}

static int
push_cert(STACK_OF(PKCS12_SAFEBAG) *bags, X509 *x, const char *fname, int64_t created,
    int with_kid, int trusted, struct atr_err *err)
{
	PKCS12_SAFEBAG *bag;

	if ((bag = PKCS12_SAFEBAG_create_cert(x)) == NULL)
		return atr_err_set_ssl(err, ATR_E_INTERNAL, "cannot make a certificate bag");
	if (add_attrs(bag, fname, created, with_kid, trusted, err) == -1 ||
	    !sk_PKCS12_SAFEBAG_push(bags, bag)) {
		PKCS12_SAFEBAG_free(bag);
		return atr_err_set(err, ATR_E_NOMEM, NULL);
	}
	return 0;
}

static X509_SIG *
key_sig(struct atr_ks *ks, const struct atr_ks_entry *e, const char *pass,
    struct atr_err *err)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	size_t len = 0;
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	X509_ALGOR *alg = NULL;
	X509_SIG *sig = NULL;

	/* Java writes the bags it read back unchanged, same salt and all; we
	 * do when the file's MAC proved they are under this password. */
	if (e->pkey == NULL && e->protkind == ATR_KSI_PROT_P12 && ks->verified &&
	    ks->pass0 != NULL && strcmp(ks->pass0, pass) == 0) {
		p = e->prot;
		if ((sig = d2i_X509_SIG(NULL, &p, (long)e->protlen)) == NULL)
			atr_err_set_ssl(err, ATR_E_INTERNAL, "cannot copy a key bag");
		return sig;
	}
	if (atr_ksi_entry_pk8(ks, e, NULL, &der, &len, err) == -1) {
		atr_err_prefix(err, "cannot write entry %s", e->alias);
		return NULL;
	}
	p = der;
	if ((p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)len)) == NULL) {
		atr_err_set_ssl(err, ATR_E_KS_CORRUPT, "the key of entry %s is damaged", e->alias);
		goto out;
	}
	if ((alg = atr_ksi_pbes2_algor(err)) == NULL)
		goto out;
	if ((sig = PKCS8_set0_pbe_ex(pass, -1, p8, alg, NULL, NULL)) == NULL) {
		atr_err_set_ssl(err, ATR_E_INTERNAL, "cannot encrypt the key of entry %s",
		    e->alias);
		X509_ALGOR_free(alg);
	}
out:
	PKCS8_PRIV_KEY_INFO_free(p8);
	atr_ksi_free_secret_buf(der, len);
	return sig;
}

static PKCS7 *
pack_encrypted(STACK_OF(PKCS12_SAFEBAG) *bags, const char *pass, struct atr_err *err)
{
	X509_ALGOR *alg;
	ASN1_OCTET_STRING *enc = NULL;
	PKCS7 *p7 = NULL;

	if ((alg = atr_ksi_pbes2_algor(err)) == NULL)
		return NULL;
	if ((enc = PKCS12_item_i2d_encrypt_ex(alg, ASN1_ITEM_rptr(PKCS12_SAFEBAGS), pass, -1,
	    bags, 1, NULL, NULL)) == NULL || (p7 = PKCS7_new()) == NULL ||
	    !PKCS7_set_type(p7, NID_pkcs7_encrypted)) {
		atr_err_set_ssl(err, ATR_E_INTERNAL, "cannot encrypt the certificates");
		ASN1_OCTET_STRING_free(enc);
		X509_ALGOR_free(alg);
		PKCS7_free(p7);
		return NULL;
	}
	X509_ALGOR_free(p7->d.encrypted->enc_data->algorithm);
	p7->d.encrypted->enc_data->algorithm = alg;
	ASN1_OCTET_STRING_free(p7->d.encrypted->enc_data->enc_data);
	p7->d.encrypted->enc_data->enc_data = enc;
	return p7;
}

/*
 * Writes ks as Java 17's keytool writes a PKCS#12 file, under pass. Every
 * key is encrypted with pass: keys read from a PKCS#12 file loaded with
 * the same password are copied unchanged, others are recovered and
 * re-encrypted.
 */
int
atr_ksi_p12_save(struct atr_ks *ks, const char *pass, unsigned char **out, size_t *outlen,
    struct atr_err *err)
{
	STACK_OF(PKCS12_SAFEBAG) *keybags = NULL, *certbags = NULL;
	STACK_OF(PKCS7) *safes = NULL;
	PKCS7 *p7 = NULL;
	PKCS12 *p12 = NULL;
	unsigned char *der = NULL;
	int n = 0, rc = -1;

	if (pass == NULL)
		return atr_err_set(err, ATR_E_USAGE, "a PKCS#12 keystore needs a password");
	for (size_t i = 0; i < ks->n; i++)
		if (ks->ents[i]->kind == ATR_KS_SECRET_KEY)
			return atr_err_set(err, ATR_E_KS_UNSUPPORTED,
			    "the secret key entry %s cannot be written; delete it first or keep "
			    "the JCEKS file", ks->ents[i]->alias);
	if ((keybags = sk_PKCS12_SAFEBAG_new_null()) == NULL ||
	    (certbags = sk_PKCS12_SAFEBAG_new_null()) == NULL ||
	    (safes = sk_PKCS7_new_null()) == NULL)
		goto nomem;
	for (size_t i = 0; i < ks->n; i++) {
		const struct atr_ks_entry *e = ks->ents[i];
		const char *fname = e->fname != NULL ? e->fname : e->alias;

		if (e->kind == ATR_KS_TRUSTED_CERT) {
			if (push_cert(certbags, e->cert, fname, 0, 0, 1, err) == -1)
				goto out;
			continue;
		}
		X509_SIG *sig = key_sig(ks, e, pass, err);
		PKCS12_SAFEBAG *bag;
		if (sig == NULL)
			goto out;
		if ((bag = PKCS12_SAFEBAG_create0_pkcs8(sig)) == NULL) {
			X509_SIG_free(sig);
			goto nomem;
		}
		if (add_attrs(bag, fname, e->created_ms, 1, 0, err) == -1 ||
		    !sk_PKCS12_SAFEBAG_push(keybags, bag)) {
			PKCS12_SAFEBAG_free(bag);
			atr_err_set(err, ATR_E_NOMEM, NULL);
			goto out;
		}
		for (int k = 0; k < sk_X509_num(e->chain); k++) {
			X509 *x = sk_X509_value(e->chain, k);
			char *dn = NULL;
			int r;
			if (k > 0 && (dn = dn_rfc2253(x)) == NULL)
				goto nomem;
			r = push_cert(certbags, x, k == 0 ? fname : dn, e->created_ms, k == 0, 0, err);
			free(dn);
			if (r == -1)
				goto out;
		}
	}
	if (sk_PKCS12_SAFEBAG_num(keybags) > 0) {
		if ((p7 = PKCS12_pack_p7data(keybags)) == NULL || !sk_PKCS7_push(safes, p7))
			goto nomem;
		p7 = NULL;
	}
	if (sk_PKCS12_SAFEBAG_num(certbags) > 0) {
		if ((p7 = pack_encrypted(certbags, pass, err)) == NULL)
			goto out;
		if (!sk_PKCS7_push(safes, p7))
			goto nomem;
		p7 = NULL;
	}
	if ((p12 = PKCS12_add_safes(safes, 0)) == NULL ||
	    !PKCS12_set_mac(p12, pass, -1, NULL, P12_SALT, P12_ITER, EVP_sha256()) ||
	    (n = i2d_PKCS12(p12, &der)) <= 0) {
		atr_err_set_ssl(err, ATR_E_INTERNAL, "cannot assemble the PKCS#12 file");
		goto out;
	}
	if ((*out = malloc((size_t)n)) == NULL)
		goto nomem;
	memcpy(*out, der, (size_t)n);
	*outlen = (size_t)n;
	rc = 0;
	goto out;
nomem:
	atr_err_set(err, ATR_E_NOMEM, NULL);
out:
	OPENSSL_free(der);
	PKCS12_free(p12);
	PKCS7_free(p7);
	sk_PKCS7_pop_free(safes, PKCS7_free);
	sk_PKCS12_SAFEBAG_pop_free(keybags, PKCS12_SAFEBAG_free);
	sk_PKCS12_SAFEBAG_pop_free(certbags, PKCS12_SAFEBAG_free);
	return rc;
}
