/*
 * JKS (read and write) and JCEKS (read) keystores, laid out as Java's
 * sun.security.provider.JavaKeyStore and com.sun.crypto.provider.JceKeyStore
 * write them: big-endian integers, modified UTF-8 aliases, a SHA-1 digest
 * keyed with the UTF-16BE store password and "Mighty Aphrodite".
 *
 * Private keys are protected with Sun's KeyProtector (a SHA-1 keystream) in
 * JKS, or with PBEWithMD5AndTripleDES in JCEKS. JCEKS secret-key entries are
 * Java serialization streams; they are parsed only to find where they end,
 * and listed.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "atrium/keystore.h"
#include "atrium/util.h"
#include "lib/keystore_int.h"

#define JKS_MAGIC 0xfeedfeedu
#define JCEKS_MAGIC 0xcecececeu
#define JKS_OID "1.3.6.1.4.1.42.2.17.1.1"
#define JCEKS_OID "1.3.6.1.4.1.42.2.19.1"
#define JKS_SALT 20
#define JKS_CHECK 20
/* Largest keystore we write; far above any real one. */
#define JKS_MAX_OUT (64u * 1024 * 1024)

static const char mighty[] = "Mighty Aphrodite";

/* ---- reading ------------------------------------------------------------ */

struct rd {
	const unsigned char *p;
	size_t len, pos;
};

static int
truncated(const struct rd *r, struct atr_err *err)
{
	atr_err_set(err, ATR_E_KS_TRUNCATED, ATR_KS_CUT_DETAIL, r->pos, r->len);
	return atr_err_prefix(err, "%s", atr_errcode_text(ATR_E_KS_TRUNCATED));
}

static int
rd_bytes(struct rd *r, size_t n, const unsigned char **out, struct atr_err *err)
{
	*out = NULL;
	if (r->len - r->pos < n)
		return truncated(r, err);
	*out = r->p + r->pos;
	r->pos += n;
	return 0;
}

static int
rd_u32(struct rd *r, uint32_t *v, struct atr_err *err)
{
	const unsigned char *b = NULL;

	if (rd_bytes(r, 4, &b, err) == -1)
		return -1;
	*v = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
	return 0;
}

static int
rd_i64(struct rd *r, int64_t *v, struct atr_err *err)
{
	uint32_t hi, lo;

	if (rd_u32(r, &hi, err) == -1 || rd_u32(r, &lo, err) == -1)
		return -1;
	*v = (int64_t)(((uint64_t)hi << 32) | lo);
	return 0;
}

/*
 * Reads a writeUTF() string (u16 length, modified UTF-8) into a new UTF-8
 * string: C0 80 (U+0000) and unpaired surrogates are refused, surrogate
 * pairs become one 4-byte character.
 */
static int
rd_utf(struct rd *r, char **out, struct atr_err *err)
{
	const unsigned char *b = NULL;
	unsigned char *o, *s;
	uint32_t n, pending = 0;
	size_t i = 0;
	const unsigned char *lenb = NULL;

	*out = NULL;
	if (rd_bytes(r, 2, &lenb, err) == -1)
		return -1;
	n = (uint32_t)lenb[0] << 8 | lenb[1];
	if (rd_bytes(r, n, &b, err) == -1)
		return -1;
	if ((s = malloc((size_t)n + 1)) == NULL)
		return atr_err_set(err, ATR_E_NOMEM, NULL);
	o = s;
	while (i < n) {
		uint32_t c = b[i];
		if (c != 0 && c < 0x80) {
			i += 1;
		} else if ((c & 0xe0) == 0xc0 && n - i >= 2 && (b[i + 1] & 0xc0) == 0x80) {
			c = (c & 0x1f) << 6 | (b[i + 1] & 0x3f);
			i += 2;
		} else if ((c & 0xf0) == 0xe0 && n - i >= 3 && (b[i + 1] & 0xc0) == 0x80 &&
		    (b[i + 2] & 0xc0) == 0x80) {
			c = (c & 0x0f) << 12 | (uint32_t)(b[i + 1] & 0x3f) << 6 | (b[i + 2] & 0x3f);
			i += 3;
		} else {
			goto bad;
		}
		if (c == 0)
			goto bad;
		if (pending != 0) {
			if (c < 0xdc00 || c > 0xdfff)
				goto bad;
			c = 0x10000 + ((pending - 0xd800) << 10) + (c - 0xdc00);
			pending = 0;
			*o++ = (unsigned char)(0xf0 | (c >> 18));
			*o++ = (unsigned char)(0x80 | ((c >> 12) & 0x3f));
			*o++ = (unsigned char)(0x80 | ((c >> 6) & 0x3f));
			*o++ = (unsigned char)(0x80 | (c & 0x3f));
			continue;
		}
		if (c >= 0xd800 && c <= 0xdbff) {
			pending = c;
			continue;
		}
		if (c >= 0xdc00 && c <= 0xdfff)
			goto bad;
		if (c < 0x80) {
			*o++ = (unsigned char)c;
		} else if (c < 0x800) {
			*o++ = (unsigned char)(0xc0 | (c >> 6));
			*o++ = (unsigned char)(0x80 | (c & 0x3f));
		} else {
			*o++ = (unsigned char)(0xe0 | (c >> 12));
			*o++ = (unsigned char)(0x80 | ((c >> 6) & 0x3f));
			*o++ = (unsigned char)(0x80 | (c & 0x3f));
		}
	}
	if (pending != 0)
		goto bad;
	*o = '\0';
	*out = (char *)s;
	return 0;
bad:
	free(s);
	return atr_err_set(err, ATR_E_KS_CORRUPT,
	    "the keystore is damaged: a name at byte %zu is not valid modified UTF-8",
	    r->pos - n);
}

static int
rd_cert(struct rd *r, int version, const char *alias, X509 **out, struct atr_err *err)
{
	const unsigned char *der = NULL, *p;
	char *type = NULL;
	uint32_t len;
	X509 *x;

	*out = NULL;
	if (version == 2) {
		if (rd_utf(r, &type, err) == -1)
			return -1;
		if (strcmp(type, "X.509") != 0) {
			atr_err_set(err, ATR_E_KS_UNSUPPORTED,
			    "entry %s holds a certificate of type \"%.*s\"; only X.509 is supported",
			    alias, (int)atr_utf8_cut(type, 40), type);
			free(type);
			return -1;
		}
		free(type);
	}
	if (rd_u32(r, &len, err) == -1 || rd_bytes(r, len, &der, err) == -1)
		return -1;
	p = der;
	if ((x = d2i_X509(NULL, &p, (long)len)) == NULL)
		return atr_err_set_ssl(err, ATR_E_KS_CORRUPT,
		    "the keystore is damaged: a certificate of entry %s cannot be parsed", alias);
	*out = x;
	return 0;
}

/* ---- Java serialization, only to find where a secret-key entry ends ----- */

#define JS_MAX_DEPTH 32
#define JS_BASE_HANDLE 0x7e0000u

struct jcls {
	const unsigned char *name; /* in the input */
	size_t namelen;
	unsigned char flags;
	size_t nfields;
	unsigned char *types;      /* field type codes */
	struct jcls *super;
};

struct js {
	struct rd r;
	struct jcls **h;           /* handle -> class descriptor or NULL */
	size_t nh, caph;
	struct jcls **owned;
	size_t nowned, capowned;
	int depth;
};

static int js_content(struct js *s, struct jcls **cls);

static int
js_u8(struct js *s, unsigned *v)
{
	if (s->r.pos >= s->r.len)
		return -1;
	*v = s->r.p[s->r.pos++];
	return 0;
}

static int
js_skip(struct js *s, uint64_t n)
{
	if (s->r.len - s->r.pos < n)
		return -1;
	s->r.pos += (size_t)n;
	return 0;
}

static int
js_u16(struct js *s, size_t *v)
{
	unsigned a, b;

	if (js_u8(s, &a) == -1 || js_u8(s, &b) == -1)
		return -1;
	*v = a << 8 | b;
	return 0;
}

static int
js_u32(struct js *s, uint32_t *v)
{
	size_t hi, lo;

	if (js_u16(s, &hi) == -1 || js_u16(s, &lo) == -1)
		return -1;
	*v = (uint32_t)(hi << 16 | lo);
	return 0;
}

static int
js_utf(struct js *s, const unsigned char **str, size_t *n)
{
	if (js_u16(s, n) == -1 || s->r.len - s->r.pos < *n)
		return -1;
	*str = s->r.p + s->r.pos;
	s->r.pos += *n;
	return 0;
}

static int
js_handle(struct js *s, struct jcls *c)
{
	if (s->nh == s->caph) {
		size_t ncap = s->caph == 0 ? 16 : s->caph * 2;
		struct jcls **v = realloc(s->h, ncap * sizeof(*v));
		if (v == NULL)
			return -1;
		s->h = v;
		s->caph = ncap;
	}
	s->h[s->nh++] = c;
	return 0;
}

static struct jcls *
js_newcls(struct js *s)
{
	struct jcls *c;

	if (s->nowned == s->capowned) {
		size_t ncap = s->capowned == 0 ? 8 : s->capowned * 2;
		struct jcls **v = realloc(s->owned, ncap * sizeof(*v));
		if (v == NULL)
			return NULL;
		s->owned = v;
		s->capowned = ncap;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	s->owned[s->nowned++] = c;
	return c;
}

static int
js_annotation(struct js *s)
{
	for (;;) {
		if (s->r.pos >= s->r.len)
			return -1;
		if (s->r.p[s->r.pos] == 0x78) {  /* TC_ENDBLOCKDATA */
			s->r.pos++;
			return 0;
		}
		if (js_content(s, NULL) == -1)
			return -1;
	}
}

/* classDesc: a new or proxy class descriptor, TC_NULL or a reference. */
static int
js_classdesc(struct js *s, struct jcls **out)
{
	unsigned tc, t;
	struct jcls *c;
	uint32_t ref, count;
	size_t n;
	const unsigned char *str;

	*out = NULL;
	if (js_u8(s, &tc) == -1)
		return -1;
	switch (tc) {
	case 0x70: /* TC_NULL */
		return 0;
	case 0x71: /* TC_REFERENCE */
		if (js_u32(s, &ref) == -1 || ref < JS_BASE_HANDLE || ref - JS_BASE_HANDLE >= s->nh)
			return -1;
		if ((*out = s->h[ref - JS_BASE_HANDLE]) == NULL)
			return -1;
		return 0;
	case 0x72: /* TC_CLASSDESC */
		if ((c = js_newcls(s)) == NULL || js_utf(s, &c->name, &c->namelen) == -1 ||
		    js_skip(s, 8) == -1 || js_handle(s, c) == -1 || js_u8(s, &t) == -1 ||
		    js_u16(s, &c->nfields) == -1)
			return -1;
		c->flags = (unsigned char)t;
		if (c->nfields > 0 && (c->types = malloc(c->nfields)) == NULL)
			return -1;
		for (size_t i = 0; i < c->nfields; i++) {
			if (js_u8(s, &t) == -1 || js_utf(s, &str, &n) == -1)
				return -1;
			c->types[i] = (unsigned char)t;
			if (t == 'L' || t == '[') {
				if (js_content(s, NULL) == -1)
					return -1;
			} else if (strchr("BCDFIJSZ", (int)t) == NULL || t == 0) {
				return -1;
			}
		}
		if (js_annotation(s) == -1 || js_classdesc(s, &c->super) == -1)
			return -1;
		*out = c;
		return 0;
	case 0x7d: /* TC_PROXYCLASSDESC */
		if ((c = js_newcls(s)) == NULL || js_handle(s, c) == -1 || js_u32(s, &count) == -1)
			return -1;
		c->flags = 0x02;
		for (uint32_t i = 0; i < count; i++)
			if (js_utf(s, &str, &n) == -1)
				return -1;
		if (js_annotation(s) == -1 || js_classdesc(s, &c->super) == -1)
			return -1;
		*out = c;
		return 0;
	default:
		return -1;
	}
}

static int
js_value(struct js *s, unsigned type)
{
	switch (type) {
	case 'B':
	case 'Z':
		return js_skip(s, 1);
	case 'C':
	case 'S':
		return js_skip(s, 2);
	case 'I':
	case 'F':
		return js_skip(s, 4);
	case 'J':
	case 'D':
		return js_skip(s, 8);
	case 'L':
	case '[':
		return js_content(s, NULL);
	default:
		return -1;
	}
}

static int
js_object(struct js *s)
{
	struct jcls *c, *chain[JS_MAX_DEPTH];
	size_t n = 0;

	if (js_classdesc(s, &c) == -1 || c == NULL || js_handle(s, NULL) == -1)
		return -1;
	for (; c != NULL; c = c->super) {
		if (n == JS_MAX_DEPTH)
			return -1;
		chain[n++] = c;
	}
	while (n-- > 0) {
		c = chain[n];
		if (c->flags & 0x04) {          /* SC_EXTERNALIZABLE */
			if (!(c->flags & 0x08))  /* without SC_BLOCK_DATA: unparseable */
				return -1;
			if (js_annotation(s) == -1)
				return -1;
		} else if (c->flags & 0x02) {   /* SC_SERIALIZABLE */
			for (size_t i = 0; i < c->nfields; i++)
				if (js_value(s, c->types[i]) == -1)
					return -1;
			if ((c->flags & 0x01) && js_annotation(s) == -1) /* SC_WRITE_METHOD */
				return -1;
		}
	}
	return 0;
}

static int
js_array(struct js *s)
{
	struct jcls *c;
	uint32_t count;
	unsigned type;
	static const char prim[] = "BZCSIFJD";
	static const unsigned char size[] = {1, 1, 2, 2, 4, 4, 8, 8};

	if (js_classdesc(s, &c) == -1 || c == NULL || js_handle(s, NULL) == -1 ||
	    js_u32(s, &count) == -1 || c->namelen < 2 || c->name[0] != '[')
		return -1;
	type = c->name[1];
	for (size_t i = 0; i < 8; i++)
		if ((unsigned)prim[i] == type)
			return js_skip(s, (uint64_t)count * size[i]);
	if (type != 'L' && type != '[')
		return -1;
	for (uint32_t i = 0; i < count; i++)
		if (js_content(s, NULL) == -1)
			return -1;
	return 0;
}

static int
js_content(struct js *s, struct jcls **cls)
{
	unsigned tc, b;
	uint32_t ref, n32;
	size_t n;
	const unsigned char *str;
	struct jcls *c;
	int rc = -1;

	if (++s->depth > JS_MAX_DEPTH || s->r.pos >= s->r.len)
		goto out;
	tc = s->r.p[s->r.pos];
	if (tc == 0x72 || tc == 0x7d) {
		rc = js_classdesc(s, &c);
		if (cls != NULL)
			*cls = c;
		goto out;
	}
	s->r.pos++;
	switch (tc) {
	case 0x70: /* TC_NULL */
		rc = 0;
		break;
	case 0x71: /* TC_REFERENCE */
		if (js_u32(s, &ref) == 0 && ref >= JS_BASE_HANDLE && ref - JS_BASE_HANDLE < s->nh)
			rc = 0;
		break;
	case 0x74: /* TC_STRING */
		if (js_utf(s, &str, &n) == 0)
			rc = js_handle(s, NULL);
		break;
	case 0x7c: /* TC_LONGSTRING */
		if (js_u32(s, &ref) == 0 && js_u32(s, &n32) == 0 &&
		    js_skip(s, (uint64_t)ref << 32 | n32) == 0)
			rc = js_handle(s, NULL);
		break;
	case 0x73: /* TC_OBJECT */
		rc = js_object(s);
		break;
	case 0x75: /* TC_ARRAY */
		rc = js_array(s);
		break;
	case 0x76: /* TC_CLASS */
		if (js_classdesc(s, &c) == 0)
			rc = js_handle(s, NULL);
		break;
	case 0x7e: /* TC_ENUM */
		if (js_classdesc(s, &c) == 0 && js_handle(s, NULL) == 0)
			rc = js_content(s, NULL);
		break;
	case 0x77: /* TC_BLOCKDATA */
		if (js_u8(s, &b) == 0)
			rc = js_skip(s, b);
		break;
	case 0x7a: /* TC_BLOCKDATALONG */
		if (js_u32(s, &n32) == 0)
			rc = js_skip(s, n32);
		break;
	case 0x79: /* TC_RESET */
		s->nh = 0;
		rc = 0;
		break;
	default:
		break;
	}
out:
	s->depth--;
	return rc;
}

/*
 * Skips one Java serialization stream (magic, version, one object) at the
 * reader's position, which then points just past it.
 */
static int
skip_serialized(struct rd *r, const char *alias, struct atr_err *err)
{
	struct js s;
	int rc = -1;

	memset(&s, 0, sizeof(s));
	s.r = *r;
	if (s.r.len - s.r.pos >= 4 && memcmp(s.r.p + s.r.pos, "\xac\xed\x00\x05", 4) == 0) {
		s.r.pos += 4;
		rc = js_content(&s, NULL);
	}
	for (size_t i = 0; i < s.nowned; i++) {
		free(s.owned[i]->types);
		free(s.owned[i]);
	}
	free(s.owned);
	free(s.h);
	if (rc == -1)
		return atr_err_set(err, ATR_E_KS_CORRUPT,
		    "the keystore is damaged: the secret key entry %s cannot be parsed", alias);
	r->pos = s.r.pos;
	return 0;
}

/* ---- key protection ------------------------------------------------------ */

static int
sha1_parts(const unsigned char *a, size_t alen, const unsigned char *b, size_t blen,
    unsigned char out[20])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int ok;

	ok = md != NULL && EVP_DigestInit_ex(md, EVP_sha1(), NULL) == 1 &&
	    EVP_DigestUpdate(md, a, alen) == 1 && EVP_DigestUpdate(md, b, blen) == 1 &&
	    EVP_DigestFinal_ex(md, out, NULL) == 1;
	EVP_MD_CTX_free(md);
	return ok ? 0 : -1;
}

/* XORs n bytes of in with the KeyProtector keystream into out. */
static int
keystream_xor(const unsigned char *pw, size_t pwlen, const unsigned char salt[20],
    const unsigned char *in, size_t n, unsigned char *out)
{
	unsigned char d[20];
	int rc = 0;

	memcpy(d, salt, 20);
	for (size_t off = 0; off < n && rc == 0; off += 20) {
		size_t k = n - off < 20 ? n - off : 20;
		if ((rc = sha1_parts(pw, pwlen, d, 20, d)) == 0)
			for (size_t i = 0; i < k; i++)
				out[off + i] = in[off + i] ^ d[i];
	}
	OPENSSL_cleanse(d, sizeof(d));
	return rc;
}

static size_t
der_len(unsigned char *o, size_t n)
{
	if (n < 0x80) {
		if (o != NULL)
			o[0] = (unsigned char)n;
		return 1;
	}
	size_t k = 0;
	for (size_t t = n; t > 0; t >>= 8)
		k++;
	if (o != NULL) {
		o[0] = (unsigned char)(0x80 | k);
		for (size_t i = 0; i < k; i++)
			o[1 + i] = (unsigned char)(n >> (8 * (k - 1 - i)));
	}
	return 1 + k;
}

/*
 * Protects the PKCS#8 key der with Sun's KeyProtector under pass and
 * returns the EncryptedPrivateKeyInfo Java writes (algorithm
 * 1.3.6.1.4.1.42.2.17.1.1 with NULL parameters). salt20 NULL draws a
 * random salt. *out is malloc'ed.
 */
int
atr_ksi_jks_protect(const unsigned char *der, size_t len, const char *pass,
    const unsigned char *salt20, unsigned char **out, size_t *outlen, struct atr_err *err)
{
	static const unsigned char algid[] = {0x30, 0x0e, 0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04,
	    0x01, 0x2a, 0x02, 0x11, 0x01, 0x01, 0x05, 0x00};
	unsigned char *pw = NULL, *buf = NULL, *o, salt[20];
	size_t pwlen = 0, inner, octet, total, n;

	*out = NULL;
	*outlen = 0;
	if (pass == NULL)
		return atr_err_set(err, ATR_E_USAGE, "a key password is needed to protect the key");
	if (len > JKS_MAX_OUT)
		return atr_err_set(err, ATR_E_KS_UNSUPPORTED, "the private key is too large");
	if (atr_ksi_utf16be(pass, &pw, &pwlen, err) == -1)
		return -1;
	if (salt20 != NULL)
		memcpy(salt, salt20, 20);
	else if (atr_random_bytes(salt, 20) == -1) {
		atr_err_set_ssl(err, ATR_E_INTERNAL, "no random bytes");
		goto err;
	}
	inner = JKS_SALT + len + JKS_CHECK;
	octet = 1 + der_len(NULL, inner) + inner;
	n = sizeof(algid) + octet;
	total = 1 + der_len(NULL, n) + n;
	if ((buf = malloc(total)) == NULL) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		goto err;
	}
	o = buf;
	*o++ = 0x30;
	o += der_len(o, n);
	memcpy(o, algid, sizeof(algid));
	o += sizeof(algid);
	*o++ = 0x04;
	o += der_len(o, inner);
	memcpy(o, salt, 20);
	if (keystream_xor(pw, pwlen, salt, der, len, o + 20) == -1 ||
	    sha1_parts(pw, pwlen, der, len, o + 20 + len) == -1) {
		atr_err_set_ssl(err, ATR_E_INTERNAL, "SHA-1 failed");
		goto err;
	}
	atr_ksi_free_secret_buf(pw, pwlen);
	*out = buf;
	*outlen = total;
	return 0;
err:
	free(buf);
	atr_ksi_free_secret_buf(pw, pwlen);
	return -1;
}

static int
keyprotector_recover(const ASN1_OCTET_STRING *data, const char *pass, unsigned char **der,
    size_t *len, struct atr_err *err)
{
	const unsigned char *d = ASN1_STRING_get0_data(data);
	size_t dlen = (size_t)ASN1_STRING_length(data), n;
	unsigned char *pw = NULL, *k = NULL, check[20];
	size_t pwlen = 0;
	int rc = -1;

	if (dlen < JKS_SALT + JKS_CHECK + 1)
		return atr_err_set(err, ATR_E_KS_CORRUPT, "the protected key is damaged");
	n = dlen - JKS_SALT - JKS_CHECK;
	if (atr_ksi_utf16be(pass, &pw, &pwlen, err) == -1)
		return atr_err_set_worded(err, ATR_E_KS_KEY_PASSWORD, ATR_KSI_CANNOT_RECOVER, NULL);
	if ((k = malloc(n)) == NULL) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		goto out;
	}
	if (keystream_xor(pw, pwlen, d, d + JKS_SALT, n, k) == -1 ||
	    sha1_parts(pw, pwlen, k, n, check) == -1) {
		atr_err_set_ssl(err, ATR_E_INTERNAL, "SHA-1 failed");
		goto out;
	}
	if (CRYPTO_memcmp(check, d + JKS_SALT + n, JKS_CHECK) != 0) {
		atr_err_set_worded(err, ATR_E_KS_KEY_PASSWORD, ATR_KSI_CANNOT_RECOVER, NULL);
		goto out;
	}
	*der = k;
	*len = n;
	k = NULL;
	rc = 0;
out:
	atr_ksi_free_secret_buf(k, n);
	atr_ksi_free_secret_buf(pw, pwlen);
	return rc;
}

/* PBEWithMD5AndTripleDES (Sun's PBES1Core for DESede): key and IV. */
static int
jce_derive(const char *pass, const unsigned char salt8[8], long iter, unsigned char out[32])
{
	unsigned char s[8], t[16];
	size_t pwlen = strlen(pass);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int ok = md != NULL;

	memcpy(s, salt8, 8);
	if (memcmp(s, s + 4, 4) == 0) {
		for (int i = 0; i < 2; i++) {
			unsigned char tmp = s[i];
			s[i] = s[3 - i];
			s[3 - i] = tmp;
		}
	}
	for (int half = 0; half < 2 && ok; half++) {
		const unsigned char *in = s + 4 * half;
		size_t inlen = 4;
		for (long i = 0; i < iter && ok; i++) {
			ok = EVP_DigestInit_ex(md, EVP_md5(), NULL) == 1 &&
			    EVP_DigestUpdate(md, in, inlen) == 1 &&
			    EVP_DigestUpdate(md, pass, pwlen) == 1 &&
			    EVP_DigestFinal_ex(md, t, NULL) == 1;
			in = t;
			inlen = 16;
		}
		memcpy(out + 16 * half, t, 16);
	}
	OPENSSL_cleanse(t, sizeof(t));
	EVP_MD_CTX_free(md);
	return ok ? 0 : -1;
}

static int
jce_recover(const X509_ALGOR *alg, const ASN1_OCTET_STRING *data, const char *pass,
    unsigned char **der, size_t *len, struct atr_err *err)
{
	const ASN1_OBJECT *obj;
	const void *pval;
	int ptype, outl = 0, fin = 0, rc = -1;
	PBEPARAM *pbe = NULL;
	long iter;
	unsigned char kiv[32], *plain = NULL;
	size_t plen = 0;
	EVP_CIPHER_CTX *cc = NULL;
	EVP_CIPHER *des3 = NULL;
	const unsigned char *p;
	PKCS8_PRIV_KEY_INFO *p8 = NULL;

	X509_ALGOR_get0(&obj, &ptype, &pval, alg);
	if (ptype == V_ASN1_SEQUENCE) {
		p = ASN1_STRING_get0_data(pval);
		pbe = d2i_PBEPARAM(NULL, &p, ASN1_STRING_length(pval));
	}
	if (pbe == NULL) {
		atr_err_set_ssl(err, ATR_E_KS_CORRUPT, "the protected key's parameters are damaged");
		goto out;
	}
	iter = ASN1_INTEGER_get(pbe->iter);
	if (ASN1_STRING_length(pbe->salt) != 8 || iter < 1 || iter > ATR_KSI_MAX_ITER) {
		atr_err_set(err, ATR_E_KS_CORRUPT, "the protected key's parameters are invalid");
		goto out;
	}
	/* Java's PBEKey takes printable ASCII only. */
	for (const char *c = pass; *c != '\0'; c++) {
		if (*c < 0x20 || *c > 0x7e) {
			atr_err_set_worded(err, ATR_E_KS_KEY_PASSWORD, ATR_KSI_CANNOT_RECOVER, NULL);
			goto out;
		}
	}
	if (jce_derive(pass, ASN1_STRING_get0_data(pbe->salt), iter, kiv) == -1) {
		atr_err_set_ssl(err, ATR_E_INTERNAL, "MD5 failed");
		goto out;
	}
	plen = (size_t)ASN1_STRING_length(data);
	if ((plain = malloc(plen + 8)) == NULL) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		goto out;
	}
	if ((des3 = EVP_CIPHER_fetch(atr_ksi_libctx(), "DES-EDE3-CBC", NULL)) == NULL ||
	    (cc = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_DecryptInit_ex2(cc, des3, kiv, kiv + 24, NULL) != 1) {
		atr_err_set_ssl(err, ATR_E_KS_UNSUPPORTED, "Triple DES is not available");
		goto out;
	}
	if (plen > INT_MAX ||
	    EVP_DecryptUpdate(cc, plain, &outl, ASN1_STRING_get0_data(data), (int)plen) != 1 ||
	    EVP_DecryptFinal_ex(cc, plain + outl, &fin) != 1) {
		ERR_clear_error();
		atr_err_set_worded(err, ATR_E_KS_KEY_PASSWORD, ATR_KSI_CANNOT_RECOVER, NULL);
		goto out;
	}
	/* A wrong password can still end in valid padding: the key must parse. */
	p = plain;
	if ((p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, outl + fin)) == NULL) {
		ERR_clear_error();
		atr_err_set_worded(err, ATR_E_KS_KEY_PASSWORD, ATR_KSI_CANNOT_RECOVER, NULL);
		goto out;
	}
	*der = plain;
	*len = (size_t)(outl + fin);
	plain = NULL;
	rc = 0;
out:
	PKCS8_PRIV_KEY_INFO_free(p8);
	atr_ksi_free_secret_buf(plain, plen + 8);
	OPENSSL_cleanse(kiv, sizeof(kiv));
	EVP_CIPHER_CTX_free(cc);
	EVP_CIPHER_free(des3);
	PBEPARAM_free(pbe);
	return rc;
}

static int
oid_is(const ASN1_OBJECT *obj, const char *oid)
{
	char buf[80];
	int n = OBJ_obj2txt(buf, sizeof(buf), obj, 1);

	return n > 0 && (size_t)n < sizeof(buf) && strcmp(buf, oid) == 0;
}

/* Which scheme protects the key bytes prot: JCEKS's, or JKS's otherwise. */
enum atr_ksi_prot
atr_ksi_jks_protkind(const unsigned char *prot, size_t len)
{
	const unsigned char *p = prot;
	const X509_ALGOR *alg;
	const ASN1_OBJECT *obj;
	X509_SIG *sig;
	enum atr_ksi_prot kind = ATR_KSI_PROT_JKS;

	if (len > LONG_MAX || (sig = d2i_X509_SIG(NULL, &p, (long)len)) == NULL) {
		ERR_clear_error();
		return kind;
	}
	X509_SIG_get0(sig, &alg, NULL);
	X509_ALGOR_get0(&obj, NULL, NULL, alg);
	if (oid_is(obj, JCEKS_OID))
		kind = ATR_KSI_PROT_JCEKS;
	X509_SIG_free(sig);
	return kind;
}

/*
 * Recovers the PKCS#8 key from a JKS (KeyProtector) or JCEKS
 * (PBEWithMD5AndTripleDES) EncryptedPrivateKeyInfo. A wrong password is
 * ATR_E_KS_KEY_PASSWORD "Cannot recover key". *der is malloc'ed.
 */
int
atr_ksi_jks_recover(const unsigned char *prot, size_t protlen, const char *pass,
    unsigned char **der, size_t *len, struct atr_err *err)
{
	const unsigned char *p = prot;
	const X509_ALGOR *alg;
	const ASN1_OCTET_STRING *data;
	const ASN1_OBJECT *obj;
	X509_SIG *sig;
	int rc;

	*der = NULL;
	*len = 0;
	if (pass == NULL)
		return atr_err_set_worded(err, ATR_E_KS_KEY_PASSWORD, ATR_KSI_CANNOT_RECOVER, NULL);
	if (protlen > LONG_MAX || (sig = d2i_X509_SIG(NULL, &p, (long)protlen)) == NULL)
		return atr_err_set_ssl(err, ATR_E_KS_CORRUPT,
		    "the protected key is not an EncryptedPrivateKeyInfo");
	X509_SIG_get0(sig, &alg, &data);
	X509_ALGOR_get0(&obj, NULL, NULL, alg);
	if (oid_is(obj, JKS_OID))
		rc = keyprotector_recover(data, pass, der, len, err);
	else if (oid_is(obj, JCEKS_OID))
		rc = jce_recover(alg, data, pass, der, len, err);
	else
		rc = atr_err_set(err, ATR_E_KS_UNSUPPORTED, "Unsupported key protection algorithm");
	X509_SIG_free(sig);
	return rc;
}

/* ---- loading ---------------------------------------------------------------- */

static int
digest_check(const unsigned char *buf, size_t body, const char *pass, unsigned char out[20],
    struct atr_err *err)
{
	unsigned char *pw = NULL;
	size_t pwlen = 0;
	EVP_MD_CTX *md;
	int ok;

	if (atr_ksi_utf16be(pass, &pw, &pwlen, err) == -1)
		return -1;
	md = EVP_MD_CTX_new();
	ok = md != NULL && EVP_DigestInit_ex(md, EVP_sha1(), NULL) == 1 &&
	    EVP_DigestUpdate(md, pw, pwlen) == 1 &&
	    EVP_DigestUpdate(md, mighty, sizeof(mighty) - 1) == 1 &&
	    EVP_DigestUpdate(md, buf, body) == 1 && EVP_DigestFinal_ex(md, out, NULL) == 1;
	EVP_MD_CTX_free(md);
	atr_ksi_free_secret_buf(pw, pwlen);
	if (!ok)
		return atr_err_set_ssl(err, ATR_E_INTERNAL, "SHA-1 failed");
	return 0;
}

static int
load_entry(struct atr_ks *ks, struct rd *r, int version, int jceks, struct atr_err *err)
{
	struct atr_ks_entry *e = NULL;
	char *alias = NULL;
	uint32_t tag, n;
	int64_t created;
	const unsigned char *b = NULL;
	X509 *x;

	if (rd_u32(r, &tag, err) == -1)
		return -1;
	if (tag < 1 || tag > 3 || (tag == 3 && !jceks))
		return atr_err_set(err, ATR_E_KS_CORRUPT,
		    "the keystore is damaged: Unrecognized keystore entry: %u", tag);
	if (rd_utf(r, &alias, err) == -1 || rd_i64(r, &created, err) == -1)
		goto err;
	if ((e = atr_ksi_entry_new(alias, tag == 1 ? ATR_KS_PRIVATE_KEY :
	    tag == 2 ? ATR_KS_TRUSTED_CERT : ATR_KS_SECRET_KEY)) == NULL) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		goto err;
	}
	e->created_ms = created;
	switch (tag) {
	case 1:
		if (rd_u32(r, &n, err) == -1 || rd_bytes(r, n, &b, err) == -1)
			goto err;
		if ((e->prot = malloc(n > 0 ? n : 1)) == NULL) {
			atr_err_set(err, ATR_E_NOMEM, NULL);
			goto err;
		}
		memcpy(e->prot, b, n);
		e->protlen = n;
		e->protkind = atr_ksi_jks_protkind(b, n);
		if (rd_u32(r, &n, err) == -1)
			goto err;
		/* Each certificate takes at least 4 bytes: no huge allocation. */
		if (n > (r->len - r->pos) / 4) {
			truncated(r, err);
			goto err;
		}
		for (uint32_t i = 0; i < n; i++) {
			if (rd_cert(r, version, alias, &x, err) == -1)
				goto err;
			if (!sk_X509_push(e->chain, x)) {
				X509_free(x);
				atr_err_set(err, ATR_E_NOMEM, NULL);
				goto err;
			}
		}
		break;
	case 2:
		if (rd_cert(r, version, alias, &e->cert, err) == -1)
			goto err;
		break;
	default:
		if (skip_serialized(r, alias, err) == -1)
			goto err;
		break;
	}
	free(alias);
	return atr_ksi_put(ks, e, err);
err:
	free(alias);
	atr_ksi_entry_free(e);
	return -1;
}

/*
 * Loads a JKS or JCEKS file into ks. With pass, the trailing digest must
 * match ("Keystore was tampered with, or password was incorrect");
 * without, it is not even read, as in Java.
 */
int
atr_ksi_jks_load(struct atr_ks *ks, const unsigned char *buf, size_t len, const char *pass,
    struct atr_err *err)
{
	struct rd r = {buf, len, 0};
	uint32_t magic, version, count;
	unsigned char want[20];
	const unsigned char *got;
	int jceks;

	if (rd_u32(&r, &magic, err) == -1 || rd_u32(&r, &version, err) == -1)
		return -1;
	jceks = magic == JCEKS_MAGIC;
	if (version != 1 && version != 2)
		return atr_ksi_format_err(err, "Invalid keystore format",
		    "%s version %u is not supported",
		    jceks ? "JCEKS" : "JKS", version);
	if (rd_u32(&r, &count, err) == -1)
		return -1;
	/* An entry takes at least 16 bytes. */
	if (count > (len - r.pos) / 16)
		return truncated(&r, err);
	ks->fmt = jceks ? ATR_KS_JCEKS : ATR_KS_JKS;
	for (uint32_t i = 0; i < count; i++)
		if (load_entry(ks, &r, (int)version, jceks, err) == -1)
			return -1;
	ks->verified = 0;
	if (pass == NULL)
		return 0;
	if (r.len - r.pos < 20)
		return truncated(&r, err);
	got = buf + r.pos;
	if (digest_check(buf, r.pos, pass, want, err) == -1)
		return -1;
	if (CRYPTO_memcmp(want, got, 20) != 0)
		return atr_err_set(err, ATR_E_KS_PASSWORD,
		    "Keystore was tampered with, or password was incorrect");
	ks->verified = 1;
	return 0;
}

/* ---- writing ------------------------------------------------------------------ */

struct wb {
	unsigned char *p;
	size_t len, cap;
	int failed;
};

static void
wb_put(struct wb *w, const void *d, size_t n)
{
	if (w->failed)
		return;
	if (n > JKS_MAX_OUT - w->len) {
		w->failed = 1;
		return;
	}
	if (w->len + n > w->cap) {
		size_t ncap = w->cap == 0 ? 4096 : w->cap;
		unsigned char *v;
		while (ncap < w->len + n)
			ncap *= 2;
		if ((v = realloc(w->p, ncap)) == NULL) {
			w->failed = 1;
			return;
		}
		w->p = v;
		w->cap = ncap;
	}
	memcpy(w->p + w->len, d, n);
	w->len += n;
}

static void
wb_u32(struct wb *w, uint32_t v)
{
	unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
	    (unsigned char)(v >> 8), (unsigned char)v};

	wb_put(w, b, 4);
}

static void
wb_i64(struct wb *w, int64_t v)
{
	wb_u32(w, (uint32_t)((uint64_t)v >> 32));
	wb_u32(w, (uint32_t)v);
}

/* writeUTF(): UTF-8 to modified UTF-8 with a u16 length. */
static int
wb_utf(struct wb *w, const char *s, struct atr_err *err)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + strlen(s);
	unsigned char *m, *o;
	uint32_t c;
	size_t n;

	if ((m = malloc(2 * (size_t)(end - p) + 2)) == NULL)
		return atr_err_set(err, ATR_E_NOMEM, NULL);
	o = m + 2;
	while (p < end) {
		if (atr_ksi_utf8_next(&p, end, &c) == -1) {
			free(m);
			return atr_err_set(err, ATR_E_BAD_NAME, "the alias is not valid UTF-8");
		}
		if (c >= 0x10000) {
			uint32_t u[2] = {0xd800 + ((c - 0x10000) >> 10), 0xdc00 + ((c - 0x10000) & 0x3ff)};
			for (int i = 0; i < 2; i++) {
				*o++ = (unsigned char)(0xe0 | (u[i] >> 12));
				*o++ = (unsigned char)(0x80 | ((u[i] >> 6) & 0x3f));
				*o++ = (unsigned char)(0x80 | (u[i] & 0x3f));
			}
		} else if (c >= 0x80) {
			if (c < 0x800) {
				*o++ = (unsigned char)(0xc0 | (c >> 6));
				*o++ = (unsigned char)(0x80 | (c & 0x3f));
			} else {
				*o++ = (unsigned char)(0xe0 | (c >> 12));
				*o++ = (unsigned char)(0x80 | ((c >> 6) & 0x3f));
				*o++ = (unsigned char)(0x80 | (c & 0x3f));
			}
		} else {
			*o++ = (unsigned char)c;
		}
	}
	n = (size_t)(o - m - 2);
	if (n > 0xffff) {
		free(m);
		return atr_err_set(err, ATR_E_BAD_NAME, "the alias is too long for JKS");
	}
	m[0] = (unsigned char)(n >> 8);
	m[1] = (unsigned char)n;
	wb_put(w, m, n + 2);
	free(m);
	return 0;
}

static int
wb_cert(struct wb *w, X509 *x, struct atr_err *err)
{
	unsigned char *der = NULL;
	int n;

	if ((n = i2d_X509(x, &der)) <= 0)
		return atr_err_set_ssl(err, ATR_E_INTERNAL, "cannot encode a certificate");
	if (wb_utf(w, "X.509", err) == -1) {
		OPENSSL_free(der);
		return -1;
	}
	wb_u32(w, (uint32_t)n);
	wb_put(w, der, (size_t)n);
	OPENSSL_free(der);
	return 0;
}

static int
save_key(struct atr_ks *ks, struct wb *w, const struct atr_ks_entry *e, const char *pass,
    struct atr_err *err)
{
	unsigned char *der = NULL, *prot = NULL;
	size_t len = 0, protlen = 0;

	if (e->prot != NULL && e->protkind == ATR_KSI_PROT_JKS && e->pkey == NULL) {
		wb_u32(w, (uint32_t)e->protlen);
		wb_put(w, e->prot, e->protlen);
	} else {
		if (atr_ksi_entry_pk8(ks, e, NULL, &der, &len, err) == -1)
			return atr_err_prefix(err, "cannot write entry %s", e->alias);
		if (atr_ksi_jks_protect(der, len, e->keypass != NULL ? e->keypass : pass, NULL,
		    &prot, &protlen, err) == -1) {
			atr_ksi_free_secret_buf(der, len);
			return -1;
		}
		atr_ksi_free_secret_buf(der, len);
		wb_u32(w, (uint32_t)protlen);
		wb_put(w, prot, protlen);
		free(prot);
	}
	wb_u32(w, (uint32_t)sk_X509_num(e->chain));
	for (int i = 0; i < sk_X509_num(e->chain); i++)
		if (wb_cert(w, sk_X509_value(e->chain, i), err) == -1)
			return -1;
	return 0;
}

/*
 * Writes ks as a JKS file (version 2) under pass, entries in Java's
 * Hashtable order. Keys read from a JKS file are written back byte for
 * byte; other keys are protected with their own key password, or pass.
 */
int
atr_ksi_jks_save(struct atr_ks *ks, const char *pass, unsigned char **out, size_t *outlen,
    struct atr_err *err)
{
	const struct atr_ks_entry **order = NULL;
	struct wb w = {NULL, 0, 0, 0};
	unsigned char digest[20];

	if (pass == NULL)
		return atr_err_set(err, ATR_E_USAGE, "a JKS keystore needs a store password");
	for (size_t i = 0; i < ks->n; i++)
		if (ks->ents[i]->kind == ATR_KS_SECRET_KEY)
			return atr_err_set(err, ATR_E_KS_UNSUPPORTED,
			    "JKS cannot hold the secret key entry %s; delete it first or keep "
			    "the JCEKS file", ks->ents[i]->alias);
	if (atr_ksi_java_order(ks, &order, err) == -1)
		return -1;
	wb_u32(&w, JKS_MAGIC);
	wb_u32(&w, 2);
	wb_u32(&w, (uint32_t)ks->n);
	for (size_t i = 0; i < ks->n; i++) {
		const struct atr_ks_entry *e = order[i];
		wb_u32(&w, e->kind == ATR_KS_PRIVATE_KEY ? 1 : 2);
		if (wb_utf(&w, e->alias, err) == -1)
			goto err;
		wb_i64(&w, e->created_ms);
		if (e->kind == ATR_KS_PRIVATE_KEY) {
			if (save_key(ks, &w, e, pass, err) == -1)
				goto err;
		} else if (wb_cert(&w, e->cert, err) == -1) {
			goto err;
		}
	}
	if (w.failed) {
		atr_err_set(err, ATR_E_NOMEM, "the keystore is too large to write");
		goto err;
	}
	if (digest_check(w.p, w.len, pass, digest, err) == -1)
		goto err;
	wb_put(&w, digest, sizeof(digest));
	if (w.failed) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		goto err;
	}
	free(order);
	*out = w.p;
	*outlen = w.len;
	return 0;
err:
	free(order);
	free(w.p);
	return -1;
}
