/*
 * X.509 basics: the module's text buffer, keys and their Java names,
 * signature algorithms, fingerprints, PEM, reading certificates.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "atrium/x509.h"
#include "lib/x509_int.h"

/* ------------------------------------------------------------ buffer */

static int
buf_reserve(struct atr_x509buf *b, size_t more)
{
	size_t need, cap;
	char *p;

	if (b->failed)
		return -1;
	if (more > ATR_X509_MAX_TEXT || b->len + more > ATR_X509_MAX_TEXT) {
		b->failed = 1;
		return -1;
	}
	need = b->len + more + 1;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap *= 2;
	if ((p = realloc(b->p, cap)) == NULL) {
		b->failed = 1;
		return -1;
	}
	b->p = p;
	b->cap = cap;
	return 0;
}

void
atr_x509buf_putn(struct atr_x509buf *b, const char *s, size_t n)
{
	if (buf_reserve(b, n) == -1)
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void
atr_x509buf_put(struct atr_x509buf *b, const char *s)
{
	atr_x509buf_putn(b, s, strlen(s));
}

void
atr_x509buf_putc(struct atr_x509buf *b, char c)
{
	atr_x509buf_putn(b, &c, 1);
}

void
atr_x509buf_printf(struct atr_x509buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->failed = 1;
		return;
	}
	if (buf_reserve(b, (size_t)n) == -1)
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void
atr_x509buf_put_utf8(struct atr_x509buf *b, unsigned long cp)
{
	char u[4];

	if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		cp = 0xfffd;
	if (cp < 0x80) {
		u[0] = (char)cp;
		atr_x509buf_putn(b, u, 1);
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3f));
		atr_x509buf_putn(b, u, 2);
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		atr_x509buf_putn(b, u, 3);
	} else {
		u[0] = (char)(0xf0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		atr_x509buf_putn(b, u, 4);
	}
}

char *
atr_x509buf_take(struct atr_x509buf *b)
{
	char *p;

	if (b->failed) {
		atr_x509buf_free(b);
		return NULL;
	}
	p = b->p != NULL ? b->p : strdup("");
	b->p = NULL;
	b->len = b->cap = 0;
	return p;
}

void
atr_x509buf_free(struct atr_x509buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
	b->failed = 0;
}

int
atr_x509i_oid_text(const ASN1_OBJECT *obj, char *buf, size_t len)
{
	int n = OBJ_obj2txt(buf, (int)len, obj, 1);

	return n <= 0 || (size_t)n >= len ? -1 : 0;
}

static void
hex2(char *out, unsigned char c)
{
	static const char digits[] = "0123456789ABCDEF";

	out[0] = digits[c >> 4];
	out[1] = digits[c & 15];
}

void
atr_x509i_hex_upper(struct atr_x509buf *b, const unsigned char *p, size_t n)
{
	char h[2];

	for (size_t i = 0; i < n; i++) {
		hex2(h, p[i]);
		atr_x509buf_putn(b, h, 2);
	}
}

void
atr_x509i_hexdump(struct atr_x509buf *b, const unsigned char *p, size_t n)
{
	for (size_t off = 0; off < n; off += 16) {
		size_t line = n - off < 16 ? n - off : 16;
		char h[2];

		hex2(h, (unsigned char)((off >> 8) & 0xff));
		atr_x509buf_putn(b, h, 2);
		hex2(h, (unsigned char)(off & 0xff));
		atr_x509buf_putn(b, h, 2);
		atr_x509buf_put(b, ": ");
		for (size_t i = 0; i < line; i++) {
			hex2(h, p[off + i]);
			atr_x509buf_putn(b, h, 2);
			atr_x509buf_putc(b, ' ');
			if (i == 7)
				atr_x509buf_put(b, "  ");
		}
		for (size_t i = line; i < 16; i++) {
			atr_x509buf_put(b, "   ");
			if (i == 7)
				atr_x509buf_put(b, "  ");
		}
		atr_x509buf_putc(b, ' ');
		for (size_t i = 0; i < line; i++) {
			unsigned char c = p[off + i];
			atr_x509buf_putc(b, c < ' ' || c > 'z' ? '.' : (char)c);
		}
		atr_x509buf_putc(b, '\n');
	}
}

/* -------------------------------------------------------------- keys */

/* Java's EC curve names for the curves keytool can generate. */
static const struct curve {
	const char *java;  /* NamedCurve.getNameAndAliases()[0] */
	const char *ossl;  /* OpenSSL group name */
	int bits;
	const char *alias1, *alias2;
} curves[] = {
	{"secp256r1", "P-256", 256, "NIST P-256", "X9.62 prime256v1"},
	{"secp384r1", "P-384", 384, "NIST P-384", NULL},
	{"secp521r1", "P-521", 521, "NIST P-521", NULL},
};

static const struct curve *
curve_by_name(const char *name)
{
	for (size_t i = 0; i < sizeof(curves) / sizeof(curves[0]); i++) {
		const struct curve *c = &curves[i];
		if (strcasecmp(name, c->java) == 0 ||
		    (c->alias1 && strcasecmp(name, c->alias1) == 0) ||
		    (c->alias2 && strcasecmp(name, c->alias2) == 0) ||
		    strcasecmp(name, c->ossl) == 0)
			return c;
	}
	return NULL;
}

EVP_PKEY *
atr_x509_key_generate(const char *keyalg, int keysize, const char *group, struct atr_err *err)
{
	EVP_PKEY *key = NULL;

	if (keyalg == NULL) {
		atr_err_set(err, ATR_E_USAGE, "The -keyalg option must be specified.");
		return NULL;
	}
	if (group != NULL && keysize != -1) {
		atr_err_set(err, ATR_E_USAGE, "Cannot specify both -groupname and -keysize");
		return NULL;
	}
	ERR_clear_error();
	if (strcasecmp(keyalg, "RSA") == 0) {
		if (group != NULL) {
			atr_err_set(err, ATR_E_USAGE, "Unknown curve name: %s", group);
			return NULL;
		}
		if (keysize == -1)
			keysize = 2048;
		if (keysize < 512 || keysize > 16384) {
			atr_err_set(err, ATR_E_USAGE, "Invalid key sizes");
			return NULL;
		}
		key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)keysize);
	} else if (strcasecmp(keyalg, "EC") == 0) {
		const struct curve *c = NULL;

		if (group != NULL) {
			if ((c = curve_by_name(group)) == NULL) {
				atr_err_set(err, ATR_E_USAGE, "Unknown curve name: %s", group);
				return NULL;
			}
		} else {
			if (keysize == -1)
				keysize = 256;
			for (size_t i = 0; i < sizeof(curves) / sizeof(curves[0]); i++)
				if (curves[i].bits == keysize)
					c = &curves[i];
			if (c == NULL) {
				atr_err_set(err, ATR_E_USAGE, "Unsupported size: %d", keysize);
				return NULL;
			}
		}
		key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", c->ossl);
	} else if (strcasecmp(keyalg, "Ed25519") == 0 || strcasecmp(keyalg, "EdDSA") == 0) {
		if (group != NULL && strcasecmp(group, "Ed25519") != 0) {
			atr_err_set(err, ATR_E_USAGE, "Unknown curve name: %s", group);
			return NULL;
		}
		if (keysize != -1 && keysize != 255) {
			atr_err_set(err, ATR_E_USAGE, "Unsupported size: %d", keysize);
			return NULL;
		}
		key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	} else {
		atr_err_set(err, ATR_E_USAGE, "%s KeyPairGenerator not available", keyalg);
		return NULL;
	}
	if (key == NULL)
		atr_err_set_ssl(err, ATR_E_INTERNAL, "key generation failed");
	return key;
}

/* Java's name for an EC key's named curve, or NULL. */
static const char *
ec_curve_name(EVP_PKEY *key, char *buf, size_t len)
{
	size_t got = 0;
	int nid;

	if (!EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, buf, len, &got))
		return NULL;
	nid = OBJ_txt2nid(buf);
	if (nid == NID_undef)
		nid = EC_curve_nist2nid(buf);
	switch (nid) {
	case NID_X9_62_prime256v1:
		return "secp256r1";
	case NID_X9_62_prime192v1:
		return "secp192r1";
	case NID_undef:
		return NULL;
	default:
		return OBJ_nid2sn(nid);
	}
}

int
atr_x509_key_bits(EVP_PKEY *key)
{
	switch (EVP_PKEY_get_base_id(key)) {
	case EVP_PKEY_ED25519:
	case EVP_PKEY_X25519:
		return 255;
	case EVP_PKEY_ED448:
	case EVP_PKEY_X448:
		return 448;
	case EVP_PKEY_RSA:
	case EVP_PKEY_RSA_PSS:
	case EVP_PKEY_DSA:
	case EVP_PKEY_EC:
	case EVP_PKEY_DH:
		return EVP_PKEY_get_bits(key);
	default:
		return -1;
	}
}

int
atr_x509_key_algname(EVP_PKEY *key, char *buf, size_t len)
{
	char group[80];
	const char *name, *curve;
	int n;

	switch (EVP_PKEY_get_base_id(key)) {
	case EVP_PKEY_RSA:
		name = "RSA";
		break;
	case EVP_PKEY_RSA_PSS:
		name = "RSASSA-PSS";
		break;
	case EVP_PKEY_DSA:
		name = "DSA";
		break;
	case EVP_PKEY_ED25519:
		name = "Ed25519";
		break;
	case EVP_PKEY_ED448:
		name = "Ed448";
		break;
	case EVP_PKEY_X25519:
		name = "X25519";
		break;
	case EVP_PKEY_X448:
		name = "X448";
		break;
	case EVP_PKEY_DH:
		name = "DH";
		break;
	case EVP_PKEY_EC:
		if ((curve = ec_curve_name(key, group, sizeof(group))) != NULL) {
			n = snprintf(buf, len, "EC (%s)", curve);
			return n < 0 || (size_t)n >= len ? -1 : 0;
		}
		name = "EC";
		break;
	default:
		name = OBJ_nid2sn(EVP_PKEY_get_base_id(key));
		if (name == NULL)
			name = "unknown";
		break;
	}
	n = snprintf(buf, len, "%s", name);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

enum atr_x509_strength
atr_x509_key_strength(EVP_PKEY *key)
{
	int bits = atr_x509_key_bits(key);

	switch (EVP_PKEY_get_base_id(key)) {
	case EVP_PKEY_RSA:
	case EVP_PKEY_RSA_PSS:
	case EVP_PKEY_DSA:
		if (bits < 1024)
			return ATR_X509_DISABLED;
		if (bits < 2048)
			return ATR_X509_WEAK;
		return ATR_X509_STRONG;
	case EVP_PKEY_EC:
		return bits < 224 ? ATR_X509_DISABLED : ATR_X509_STRONG;
	default:
		return ATR_X509_STRONG;
	}
}

int
atr_x509_key_describe(EVP_PKEY *key, int mark, char *buf, size_t len)
{
	static const char *const marks[] = {"", " (weak)", " (disabled)"};
	char alg[96];
	int bits = atr_x509_key_bits(key), n;
	enum atr_x509_strength s = mark ? atr_x509_key_strength(key) : ATR_X509_STRONG;

	if (atr_x509_key_algname(key, alg, sizeof(alg)) == -1)
		return -1;
	if (bits >= 0 || s != ATR_X509_STRONG)
		n = snprintf(buf, len, "%d-bit %s key%s", bits, alg, marks[s]);
	else
		n = snprintf(buf, len, "%s key of unknown size", alg);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

const char *
atr_x509_default_sigalg(EVP_PKEY *key)
{
	int bits = atr_x509_key_bits(key);

	switch (EVP_PKEY_get_base_id(key)) {
	case EVP_PKEY_RSA:
		return bits <= 3072 ? "SHA256withRSA" : bits <= 7680 ? "SHA384withRSA"
		    : "SHA512withRSA";
	case EVP_PKEY_RSA_PSS:
		return "RSASSA-PSS";
	case EVP_PKEY_EC:
		return bits >= 512 ? "SHA512withECDSA" : bits >= 384 ? "SHA384withECDSA"
		    : "SHA256withECDSA";
	case EVP_PKEY_DSA:
		return "SHA256withDSA";
	case EVP_PKEY_ED25519:
		return "Ed25519";
	case EVP_PKEY_ED448:
		return "Ed448";
	default:
		return NULL;
	}
}

/* ------------------------------------------------ signature algorithms */

static const struct sigalg {
	const char *java; /* Java's standard name */
	const char *md;   /* OpenSSL digest name, NULL for EdDSA */
	int keytype;      /* EVP_PKEY_* of the signing key */
} sigalgs[] = {
	{"SHA256withRSA", "SHA256", EVP_PKEY_RSA},
	{"SHA384withRSA", "SHA384", EVP_PKEY_RSA},
	{"SHA512withRSA", "SHA512", EVP_PKEY_RSA},
	{"SHA224withRSA", "SHA224", EVP_PKEY_RSA},
	{"SHA1withRSA", "SHA1", EVP_PKEY_RSA},
	{"SHA256withECDSA", "SHA256", EVP_PKEY_EC},
	{"SHA384withECDSA", "SHA384", EVP_PKEY_EC},
	{"SHA512withECDSA", "SHA512", EVP_PKEY_EC},
	{"SHA224withECDSA", "SHA224", EVP_PKEY_EC},
	{"SHA1withECDSA", "SHA1", EVP_PKEY_EC},
	{"SHA256withDSA", "SHA256", EVP_PKEY_DSA},
	{"SHA1withDSA", "SHA1", EVP_PKEY_DSA},
	{"Ed25519", NULL, EVP_PKEY_ED25519},
	{"EdDSA", NULL, EVP_PKEY_ED25519},
	{"Ed448", NULL, EVP_PKEY_ED448},
};

int
atr_x509i_sigalg_md(const char *name, EVP_PKEY *key, const EVP_MD **md, struct atr_err *err)
{
	int type = EVP_PKEY_get_base_id(key);

	*md = NULL;
	if (name == NULL && (name = atr_x509_default_sigalg(key)) == NULL)
		return atr_err_set(err, ATR_E_USAGE, "Cannot derive signature algorithm");
	for (size_t i = 0; i < sizeof(sigalgs) / sizeof(sigalgs[0]); i++) {
		const struct sigalg *s = &sigalgs[i];
		if (strcasecmp(name, s->java) != 0)
			continue;
		if (s->keytype == EVP_PKEY_ED25519 && type == EVP_PKEY_ED448 &&
		    strcasecmp(name, "EdDSA") == 0)
			return 0;
		if (s->keytype != type)
			return atr_err_set(err, ATR_E_CERT_SIGALG_KEY,
			    "Signature algorithm %s is not compatible with the key", name);
		if (s->md != NULL && (*md = EVP_get_digestbyname(s->md)) == NULL)
			return atr_err_set(err, ATR_E_INTERNAL, "digest %s is not available", s->md);
		return 0;
	}
	return atr_err_set(err, ATR_E_CERT_SIGALG, "%s Signature not available", name);
}

/* Java's names of signature algorithm OIDs (KnownOIDs stdName). */
static const struct {
	const char *oid, *name;
} signames[] = {
	{"1.2.840.113549.1.1.2", "MD2withRSA"},
	{"1.2.840.113549.1.1.4", "MD5withRSA"},
	{"1.2.840.113549.1.1.5", "SHA1withRSA"},
	{"1.2.840.113549.1.1.10", "RSASSA-PSS"},
	{"1.2.840.113549.1.1.11", "SHA256withRSA"},
	{"1.2.840.113549.1.1.12", "SHA384withRSA"},
	{"1.2.840.113549.1.1.13", "SHA512withRSA"},
	{"1.2.840.113549.1.1.14", "SHA224withRSA"},
	{"1.2.840.113549.1.1.15", "SHA512/224withRSA"},
	{"1.2.840.113549.1.1.16", "SHA512/256withRSA"},
	{"1.2.840.10040.4.3", "SHA1withDSA"},
	{"2.16.840.1.101.3.4.3.1", "SHA224withDSA"},
	{"2.16.840.1.101.3.4.3.2", "SHA256withDSA"},
	{"2.16.840.1.101.3.4.3.3", "SHA384withDSA"},
	{"2.16.840.1.101.3.4.3.4", "SHA512withDSA"},
	{"2.16.840.1.101.3.4.3.9", "SHA3-224withECDSA"},
	{"2.16.840.1.101.3.4.3.10", "SHA3-256withECDSA"},
	{"2.16.840.1.101.3.4.3.11", "SHA3-384withECDSA"},
	{"2.16.840.1.101.3.4.3.12", "SHA3-512withECDSA"},
	{"2.16.840.1.101.3.4.3.13", "SHA3-224withRSA"},
	{"2.16.840.1.101.3.4.3.14", "SHA3-256withRSA"},
	{"2.16.840.1.101.3.4.3.15", "SHA3-384withRSA"},
	{"2.16.840.1.101.3.4.3.16", "SHA3-512withRSA"},
	{"1.2.840.10045.4.1", "SHA1withECDSA"},
	{"1.2.840.10045.4.3.1", "SHA224withECDSA"},
	{"1.2.840.10045.4.3.2", "SHA256withECDSA"},
	{"1.2.840.10045.4.3.3", "SHA384withECDSA"},
	{"1.2.840.10045.4.3.4", "SHA512withECDSA"},
	{"1.3.101.112", "Ed25519"},
	{"1.3.101.113", "Ed448"},
	{"1.3.14.3.2.29", "SHA1withRSA"},
};

const char *
atr_x509i_sigalg_oid_name(const char *oid)
{
	for (size_t i = 0; i < sizeof(signames) / sizeof(signames[0]); i++)
		if (strcmp(oid, signames[i].oid) == 0)
			return signames[i].name;
	return NULL;
}

int
atr_x509_sigalg_name(const X509 *cert, char *buf, size_t len)
{
	const X509_ALGOR *alg = NULL;
	const ASN1_OBJECT *obj = NULL;
	char oid[128];
	int n;

	X509_get0_signature(NULL, &alg, cert);
	if (alg == NULL)
		return -1;
	X509_ALGOR_get0(&obj, NULL, NULL, alg);
	if (atr_x509i_oid_text(obj, oid, sizeof(oid)) == -1)
		return -1;
	for (size_t i = 0; i < sizeof(signames) / sizeof(signames[0]); i++)
		if (strcmp(oid, signames[i].oid) == 0) {
			n = snprintf(buf, len, "%s", signames[i].name);
			return n < 0 || (size_t)n >= len ? -1 : 0;
		}
	n = snprintf(buf, len, "%s", oid);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

int
atr_x509_csr_sigalg_name(const X509_REQ *req, char *buf, size_t len)
{
	const X509_ALGOR *alg = NULL;
	const ASN1_OBJECT *obj = NULL;
	const char *name;
	char oid[128];
	int n;

	X509_REQ_get0_signature(req, NULL, &alg);
	if (alg == NULL)
		return -1;
	X509_ALGOR_get0(&obj, NULL, NULL, alg);
	if (atr_x509i_oid_text(obj, oid, sizeof(oid)) == -1)
		return -1;
	name = atr_x509i_sigalg_oid_name(oid);
	n = snprintf(buf, len, "%s", name ? name : oid);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/*
 * Java splits "SHA1withRSA" into its parts and checks each against the
 * disabled and legacy lists: MD2 and MD5 are disabled, SHA1 is legacy.
 */
enum atr_x509_strength
atr_x509_sig_strength(const X509 *cert)
{
	char name[128];

	if (atr_x509_sigalg_name(cert, name, sizeof(name)) == -1)
		return ATR_X509_STRONG;
	if (strncmp(name, "MD2with", 7) == 0 || strncmp(name, "MD5with", 7) == 0)
		return ATR_X509_DISABLED;
	if (strncmp(name, "SHA1with", 8) == 0)
		return ATR_X509_WEAK;
	return ATR_X509_STRONG;
}

/* ------------------------------------------------------ fingerprints */

int
atr_x509_fingerprint(X509 *cert, const char *mdname, char *buf, size_t len)
{
	static const struct {
		const char *java, *ossl;
	} mds[] = {
		{"SHA-1", "SHA1"}, {"SHA1", "SHA1"}, {"SHA-256", "SHA256"},
		{"SHA256", "SHA256"}, {"SHA-384", "SHA384"}, {"SHA-512", "SHA512"},
		{"MD5", "MD5"},
	};
	unsigned char *der = NULL, md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	const EVP_MD *type = NULL;
	size_t derlen;
	int rc = -1;

	for (size_t i = 0; i < sizeof(mds) / sizeof(mds[0]); i++)
		if (strcasecmp(mdname, mds[i].java) == 0)
			type = EVP_get_digestbyname(mds[i].ossl);
	if (type == NULL || atr_x509_cert_der(cert, &der, &derlen) == -1)
		return -1;
	if (EVP_Digest(der, derlen, md, &mdlen, type, NULL) != 1 || len < 3 * (size_t)mdlen)
		goto out;
	for (unsigned int i = 0; i < mdlen; i++) {
		hex2(buf + 3 * i, md[i]);
		buf[3 * i + 2] = i + 1 < mdlen ? ':' : '\0';
	}
	rc = 0;
out:
	free(der);
	ERR_clear_error();
	return rc;
}

int
atr_x509_cert_der(X509 *cert, unsigned char **der, size_t *len)
{
	unsigned char *p = NULL;
	int n = i2d_X509(cert, &p);

	*der = NULL;
	*len = 0;
	if (n <= 0)
		return -1;
	/* Hand out malloc() memory so callers can free() it. */
	if ((*der = malloc((size_t)n)) == NULL) {
		OPENSSL_free(p);
		return -1;
	}
	memcpy(*der, p, (size_t)n);
	OPENSSL_free(p);
	*len = (size_t)n;
	return 0;
}

/* --------------------------------------------------------------- PEM */

char *
atr_x509_pem_encode(const unsigned char *der, size_t len, const char *label, size_t *outlen)
{
	struct atr_x509buf b = {0};
	unsigned char *b64;
	size_t b64len, bodylen;

	if (len > ATR_X509_MAX_TEXT / 2)
		return NULL;
	b64len = 4 * ((len + 2) / 3);
	if ((b64 = malloc(b64len + 1)) == NULL)
		return NULL;
	bodylen = (size_t)EVP_EncodeBlock(b64, der, (int)len);
	atr_x509buf_printf(&b, "-----BEGIN %s-----\n", label);
	for (size_t off = 0; off < bodylen; off += 64) {
		if (off > 0)
			atr_x509buf_put(&b, "\r\n");
		atr_x509buf_putn(&b, (const char *)b64 + off, bodylen - off < 64 ? bodylen - off : 64);
	}
	atr_x509buf_printf(&b, "\n-----END %s-----\n", label);
	free(b64);
	if (outlen != NULL)
		*outlen = b.failed ? 0 : b.len;
	return atr_x509buf_take(&b);
}

char *
atr_x509_cert_pem(X509 *cert, size_t *outlen)
{
	unsigned char *der;
	size_t len;
	char *pem;

	if (atr_x509_cert_der(cert, &der, &len) == -1)
		return NULL;
	pem = atr_x509_pem_encode(der, len, "CERTIFICATE", outlen);
	free(der);
	return pem;
}

char *
atr_x509_csr_pem(X509_REQ *req, size_t *outlen)
{
	unsigned char *der = NULL;
	char *pem;
	int n = i2d_X509_REQ(req, &der);

	if (n <= 0)
		return NULL;
	pem = atr_x509_pem_encode(der, (size_t)n, "NEW CERTIFICATE REQUEST", outlen);
	OPENSSL_free(der);
	return pem;
}

/* ----------------------------------------------------- reading certs */

/* Decodes base64 text, skipping whitespace. Returns the byte count or -1. */
static long
b64_decode(const char *s, size_t n, unsigned char *out)
{
	EVP_ENCODE_CTX *ctx = EVP_ENCODE_CTX_new();
	int outl = 0, fin = 0;
	long total;

	if (ctx == NULL)
		return -1;
	EVP_DecodeInit(ctx);
	if (EVP_DecodeUpdate(ctx, out, &outl, (const unsigned char *)s, (int)n) < 0 ||
	    EVP_DecodeFinal(ctx, out + outl, &fin) != 1) {
		EVP_ENCODE_CTX_free(ctx);
		return -1;
	}
	EVP_ENCODE_CTX_free(ctx);
	total = (long)outl + fin;
	return total;
}

/*
 * Whether Java's X509CertInfo would accept the certificate: a non-empty
 * issuer; a v1 certificate needs a subject; a v3 one with an empty subject
 * needs a critical, non-empty SubjectAlternativeName.
 */
static int
java_accepts(X509 *c)
{
	GENERAL_NAMES *san;
	int crit = -1, ok;

	if (X509_NAME_entry_count(X509_get_issuer_name(c)) == 0)
		return 0;
	if (X509_NAME_entry_count(X509_get_subject_name(c)) > 0)
		return 1;
	if (X509_get_version(c) != X509_VERSION_3)
		return 0;
	san = X509_get_ext_d2i(c, NID_subject_alt_name, &crit, NULL);
	ok = san != NULL && sk_GENERAL_NAME_num(san) > 0 && crit == 1;
	GENERAL_NAMES_free(san);
	return ok;
}

/* Appends every certificate of a DER PKCS#7 SignedData to certs. */
static int
push_pkcs7(STACK_OF(X509) *certs, const unsigned char *der, size_t len)
{
	const unsigned char *p = der;
	PKCS7 *p7 = d2i_PKCS7(NULL, &p, (long)len);
	STACK_OF(X509) *in = NULL;
	int rc = -1;

	if (p7 == NULL)
		return -1;
	if (PKCS7_type_is_signed(p7) && p7->d.sign != NULL)
		in = p7->d.sign->cert;
	for (int i = 0; in != NULL && i < sk_X509_num(in); i++) {
		X509 *c = sk_X509_value(in, i);
		if (!java_accepts(c) || !X509_up_ref(c))
			goto out;
		if (!sk_X509_push(certs, c)) {
			X509_free(c);
			goto out;
		}
	}
	rc = 0;
out:
	PKCS7_free(p7);
	return rc;
}

/* Appends the certificates in one DER blob: certificates back to back, or
 * one PKCS#7. */
static int
push_der(STACK_OF(X509) *certs, const unsigned char *der, size_t len)
{
	const unsigned char *p = der, *end = der + len;
	int got = 0;

	while (p < end) {
		const unsigned char *start = p;
		X509 *c = d2i_X509(NULL, &p, (long)(end - p));
		if (c == NULL) {
			if (got == 0)
				return push_pkcs7(certs, start, (size_t)(end - start));
			return -1;
		}
		if (!java_accepts(c) || !sk_X509_push(certs, c)) {
			X509_free(c);
			return -1;
		}
		got++;
		while (p < end && (*p == '\r' || *p == '\n' || *p == ' ' || *p == '\t'))
			p++;
	}
	return 0;
}

static const char *
memfind(const char *hay, size_t n, const char *needle)
{
	size_t k = strlen(needle);

	for (size_t i = 0; i + k <= n; i++)
		if (memcmp(hay + i, needle, k) == 0)
			return hay + i;
	return NULL;
}

STACK_OF(X509) *
atr_x509_read_certs(const unsigned char *buf, size_t len, struct atr_err *err)
{
	STACK_OF(X509) *certs = sk_X509_new_null();
	const char *s = (const char *)buf, *end = s + len, *p;
	unsigned char *der = NULL;
	int blocks = 0;

	if (certs == NULL) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		return NULL;
	}
	ERR_clear_error();
	p = s;
	while (p < end && isspace((unsigned char)*p))
		p++;
	if (p == end)
		return certs;
	if ((unsigned char)*p == 0x30) {
		if (push_der(certs, (const unsigned char *)p, (size_t)(end - p)) == -1)
			goto bad;
		return certs;
	}
	while ((p = memfind(p, (size_t)(end - p), "-----BEGIN ")) != NULL) {
		const char *hdr_end, *body, *stop;
		long n;

		if ((hdr_end = memfind(p + 11, (size_t)(end - p - 11), "-----")) == NULL)
			goto bad;
		body = hdr_end + 5;
		if ((stop = memfind(body, (size_t)(end - body), "-----END")) == NULL)
			goto bad;
		free(der);
		if ((der = malloc((size_t)(stop - body) + 3)) == NULL)
			goto nomem;
		if ((n = b64_decode(body, (size_t)(stop - body), der)) <= 0)
			goto bad;
		if (push_der(certs, der, (size_t)n) == -1)
			goto bad;
		blocks++;
		p = stop + 8;
	}
	if (blocks == 0)
		goto bad;
	free(der);
	return certs;
nomem:
	atr_err_set(err, ATR_E_NOMEM, NULL);
	goto fail;
bad:
	atr_err_set(err, ATR_E_CERT_INVALID, "Failed to parse input");
fail:
	free(der);
	sk_X509_pop_free(certs, X509_free);
	ERR_clear_error();
	return NULL;
}

/* ------------------------------------------------------------ chains */

int
atr_x509_signed_by(X509 *cert, X509 *issuer)
{
	EVP_PKEY *key;
	int ok;

	if (X509_NAME_cmp(X509_get_issuer_name(cert), X509_get_subject_name(issuer)) != 0)
		return 0;
	if ((key = X509_get0_pubkey(issuer)) == NULL)
		return 0;
	ok = X509_verify(cert, key) == 1;
	ERR_clear_error();
	return ok;
}

int
atr_x509_self_signed(X509 *cert)
{
	return atr_x509_signed_by(cert, cert);
}

int
atr_x509_verifies(X509 *cert, EVP_PKEY *key)
{
	int ok = key != NULL && X509_verify(cert, key) == 1;

	ERR_clear_error();
	return ok;
}

int
atr_x509_equal(const X509 *a, const X509 *b)
{
	return a != NULL && b != NULL && X509_cmp(a, b) == 0;
}

int
atr_x509_key_equal(const EVP_PKEY *a, const EVP_PKEY *b)
{
	int eq = a != NULL && b != NULL && EVP_PKEY_eq(a, b) == 1;

	ERR_clear_error();
	return eq;
}
