/*
 * Making certificates and PKCS#10 requests the way keytool makes them
 * (-genkeypair, -gencert, -certreq), and keytool's -startdate.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "atrium/util.h"
#include "atrium/x509.h"
#include "lib/x509_int.h"

/* keytool's default validity. */
#define DEFAULT_DAYS 90
/* Most -ext values one certificate may carry. */
#define MAX_SPECS 64

struct atr_x509_builder {
	X509_NAME *subject;                       /* owned copy */
	EVP_PKEY *pubkey;                         /* referenced */
	X509 *issuer;                             /* referenced, NULL: self */
	ASN1_INTEGER *serial;                     /* owned, NULL: random */
	int64_t start_s, days;                    /* validity; days 0: default */
	int validity_set;                         /* start_s given */
	char *specs[MAX_SPECS];                   /* -ext values, owned */
	size_t nspecs;
	STACK_OF(X509_EXTENSION) *requested;      /* from a CSR, owned */
};

/* ---------------------------------------------------------- startdate */

static void
add_months(struct tm *tm, long months)
{
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	long m = (long)tm->tm_year * 12 + tm->tm_mon + months;
	int year, mon, max;

	year = (int)(m >= 0 ? m / 12 : (m - 11) / 12);
	mon = (int)(m - (long)year * 12);
	tm->tm_year = year;
	tm->tm_mon = mon;
	max = mdays[mon];
	if (mon == 1) {
		int y = year + 1900;
		if ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)
			max = 29;
	}
	if (tm->tm_mday > max)
		tm->tm_mday = max;
}

int
atr_x509_parse_startdate(const char *s, int64_t now_ms, int64_t *out_s, struct atr_err *err)
{
	time_t t = (time_t)(now_ms / 1000);
	struct tm tm;
	size_t len;

	if (s == NULL) {
		*out_s = (int64_t)t;
		return 0;
	}
	len = strlen(s);
	if (len == 0 || localtime_r(&t, &tm) == NULL)
		goto bad;
	if (s[0] == '-' || s[0] == '+') {
		size_t i = 0;

		while (i < len) {
			int sign = s[i] == '+' ? 1 : s[i] == '-' ? -1 : 0;
			size_t start = ++i;
			long num = 0;

			if (sign == 0)
				goto bad;
			while (i < len && isdigit((unsigned char)s[i])) {
				num = num * 10 + (s[i] - '0');
				if (num > 100000000L)
					goto bad;
				i++;
			}
			if (i == start || i >= len)
				goto bad;
			num *= sign;
			tm.tm_isdst = -1;
			switch (s[i]) {
			case 'y':
				add_months(&tm, num * 12);
				break;
			case 'm':
				add_months(&tm, num);
				break;
			case 'd':
				tm.tm_mday += (int)num;
				break;
			case 'H':
			case 'M':
			case 'S': {
				time_t cur = mktime(&tm);
				long mul = s[i] == 'H' ? 3600 : s[i] == 'M' ? 60 : 1;

				cur += (time_t)(num * mul);
				if (localtime_r(&cur, &tm) == NULL)
					goto bad;
				break;
			}
			default:
				goto bad;
			}
			/* Normalise now so later months see the right day. */
			tm.tm_isdst = -1;
			{
				time_t cur = mktime(&tm);
				if (cur == (time_t)-1 || localtime_r(&cur, &tm) == NULL)
					goto bad;
			}
			i++;
		}
	} else {
		const char *date = NULL, *time = NULL;

		if (len == 19) {
			if (s[10] != ' ')
				goto bad;
			date = s;
			time = s + 11;
		} else if (len == 10) {
			date = s;
		} else if (len == 8) {
			time = s;
		} else {
			goto bad;
		}
		if (date != NULL) {
			for (int i = 0; i < 10; i++)
				if (i == 4 || i == 7 ? date[i] != '/' : !isdigit((unsigned char)date[i]))
					goto bad;
			tm.tm_year = atoi(date) - 1900;
			tm.tm_mon = atoi(date + 5) - 1;
			tm.tm_mday = atoi(date + 8);
		}
		if (time != NULL) {
			for (int i = 0; i < 8; i++)
				if (i == 2 || i == 5 ? time[i] != ':' : !isdigit((unsigned char)time[i]))
					goto bad;
			tm.tm_hour = atoi(time);
			tm.tm_min = atoi(time + 3);
			tm.tm_sec = atoi(time + 6);
		}
	}
	tm.tm_isdst = -1;
	if ((t = mktime(&tm)) == (time_t)-1)
		goto bad;
	*out_s = (int64_t)t;
	return 0;
bad:
	return atr_err_set(err, ATR_E_USAGE, "Illegal startdate value");
}

/* ------------------------------------------------------------ builder */

struct atr_x509_builder *
atr_x509_builder_new(void)
{
	return calloc(1, sizeof(struct atr_x509_builder));
}

void
atr_x509_builder_free(struct atr_x509_builder *b)
{
	if (b == NULL)
		return;
	X509_NAME_free(b->subject);
	EVP_PKEY_free(b->pubkey);
	X509_free(b->issuer);
	ASN1_INTEGER_free(b->serial);
	for (size_t i = 0; i < b->nspecs; i++)
		free(b->specs[i]);
	sk_X509_EXTENSION_pop_free(b->requested, X509_EXTENSION_free);
	free(b);
}

int
atr_x509_builder_set_subject(struct atr_x509_builder *b, const X509_NAME *subject,
    struct atr_err *err)
{
	X509_NAME *copy = X509_NAME_dup(subject);

	if (copy == NULL)
		return atr_err_set(err, ATR_E_NOMEM, NULL);
	X509_NAME_free(b->subject);
	b->subject = copy;
	return 0;
}

int
atr_x509_builder_set_pubkey(struct atr_x509_builder *b, EVP_PKEY *key, struct atr_err *err)
{
	if (!EVP_PKEY_up_ref(key))
		return atr_err_set(err, ATR_E_INTERNAL, "cannot reference the key");
	EVP_PKEY_free(b->pubkey);
	b->pubkey = key;
	return 0;
}

int
atr_x509_builder_set_issuer(struct atr_x509_builder *b, X509 *issuer, struct atr_err *err)
{
	if (!X509_up_ref(issuer))
		return atr_err_set(err, ATR_E_INTERNAL, "cannot reference the issuer");
	X509_free(b->issuer);
	b->issuer = issuer;
	return 0;
}

int
atr_x509_builder_set_validity(struct atr_x509_builder *b, int64_t start_s, int64_t days,
    struct atr_err *err)
{
	time_t end;
	struct tm tm;

	if (days <= 0)
		return atr_err_set(err, ATR_E_USAGE, "Validity must be greater than zero");
	if (days > 4000000)
		return atr_err_set(err, ATR_E_CERT_VALIDITY, "Validity period ends at calendar year "
		    "which is greater than 9999");
	end = (time_t)(start_s + days * 86400);
	if (gmtime_r(&end, &tm) == NULL || tm.tm_year + 1900 > 9999)
		return atr_err_set(err, ATR_E_CERT_VALIDITY, "Validity period ends at calendar year %d "
		    "which is greater than 9999", tm.tm_year + 1900);
	b->start_s = start_s;
	b->days = days;
	b->validity_set = 1;
	return 0;
}

int
atr_x509_builder_set_serial(struct atr_x509_builder *b, const ASN1_INTEGER *serial,
    struct atr_err *err)
{
	ASN1_INTEGER *copy = ASN1_INTEGER_dup(serial);

	if (copy == NULL)
		return atr_err_set(err, ATR_E_NOMEM, NULL);
	ASN1_INTEGER_free(b->serial);
	b->serial = copy;
	return 0;
}

int
atr_x509_builder_add_ext(struct atr_x509_builder *b, const char *spec, struct atr_err *err)
{
	if (b->nspecs == MAX_SPECS)
		return atr_err_set(err, ATR_E_USAGE, "too many -ext values");
	if (atr_x509_ext_check(spec, err) == -1)
		return -1;
	if ((b->specs[b->nspecs] = strdup(spec)) == NULL)
		return atr_err_set(err, ATR_E_NOMEM, NULL);
	b->nspecs++;
	return 0;
}

int
atr_x509_builder_set_requested(struct atr_x509_builder *b, const X509_REQ *req,
    struct atr_err *err)
{
	STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions((X509_REQ *)req);

	ERR_clear_error();
	if (exts == NULL)
		exts = sk_X509_EXTENSION_new_null();
	if (exts == NULL)
		return atr_err_set(err, ATR_E_NOMEM, NULL);
	sk_X509_EXTENSION_pop_free(b->requested, X509_EXTENSION_free);
	b->requested = exts;
	return 0;
}

int
atr_x509_builder_set_from_csr(struct atr_x509_builder *b, const X509_REQ *req,
    struct atr_err *err)
{
	EVP_PKEY *key = X509_REQ_get0_pubkey((X509_REQ *)req);

	ERR_clear_error();
	if (key == NULL)
		return atr_err_set(err, ATR_E_CERT_INVALID, "the request has no public key");
	if (atr_x509_builder_set_subject(b, X509_REQ_get_subject_name(req), err) == -1 ||
	    atr_x509_builder_set_pubkey(b, key, err) == -1)
		return -1;
	return atr_x509_builder_set_requested(b, req, err);
}

/* Java's CertificateSerialNumber.newRandom64bit(): 64 random bits, not 0. */
static ASN1_INTEGER *
random_serial(void)
{
	unsigned char r[8];
	BIGNUM *bn = NULL;
	ASN1_INTEGER *s = NULL;

	do {
		if (RAND_bytes(r, sizeof(r)) != 1)
			return NULL;
		BN_free(bn);
		if ((bn = BN_bin2bn(r, sizeof(r), NULL)) == NULL)
			return NULL;
	} while (BN_is_zero(bn));
	s = BN_to_ASN1_INTEGER(bn, NULL);
	BN_free(bn);
	return s;
}

X509 *
atr_x509_builder_sign(struct atr_x509_builder *b, EVP_PKEY *signkey, const char *sigalg,
    struct atr_err *err)
{
	STACK_OF(X509_EXTENSION) *exts = NULL;
	ASN1_OCTET_STRING *akid = NULL;
	ASN1_INTEGER *serial = NULL;
	const EVP_MD *md = NULL;
	X509 *x = NULL;
	int64_t start = b->validity_set ? b->start_s : atr_now_ms() / 1000;
	int64_t days = b->validity_set ? b->days : DEFAULT_DAYS;

	ERR_clear_error();
	if (b->subject == NULL || b->pubkey == NULL) {
		atr_err_set(err, ATR_E_INTERNAL, "certificate without subject or key");
		return NULL;
	}
	if (atr_x509i_sigalg_md(sigalg, signkey, &md, err) == -1)
		return NULL;
	if (b->issuer != NULL && EVP_PKEY_eq(X509_get0_pubkey(b->issuer), b->pubkey) != 1) {
		const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(b->issuer);

		akid = ski != NULL ? ASN1_OCTET_STRING_dup(ski) :
		    atr_x509i_key_id(X509_get0_pubkey(b->issuer));
		if (akid == NULL) {
			atr_err_set_ssl(err, ATR_E_INTERNAL, "cannot compute the issuer's key identifier");
			goto fail;
		}
	}
	exts = atr_x509i_make_exts((const char *const *)b->specs, b->nspecs, b->pubkey, akid,
	    b->requested, err);
	if (exts == NULL)
		goto fail;
	serial = b->serial ? ASN1_INTEGER_dup(b->serial) : random_serial();
	if (serial == NULL || (x = X509_new()) == NULL)
		goto ssl;
	if (!X509_set_version(x, X509_VERSION_3) || !X509_set_serialNumber(x, serial) ||
	    !X509_set_issuer_name(x, b->issuer ? X509_get_subject_name(b->issuer) : b->subject) ||
	    !X509_set_subject_name(x, b->subject) || !X509_set_pubkey(x, b->pubkey) ||
	    ASN1_TIME_set(X509_getm_notBefore(x), (time_t)start) == NULL ||
	    ASN1_TIME_set(X509_getm_notAfter(x), (time_t)(start + days * 86400)) == NULL)
		goto ssl;
	for (int i = 0; i < sk_X509_EXTENSION_num(exts); i++)
		if (!X509_add_ext(x, sk_X509_EXTENSION_value(exts, i), -1))
			goto ssl;
	if (X509_sign(x, signkey, md) <= 0)
		goto ssl;
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	ASN1_OCTET_STRING_free(akid);
	ASN1_INTEGER_free(serial);
	return x;
ssl:
	atr_err_set_ssl(err, ATR_E_INTERNAL, "cannot make the certificate");
fail:
	X509_free(x);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	ASN1_OCTET_STRING_free(akid);
	ASN1_INTEGER_free(serial);
	ERR_clear_error();
	return NULL;
}

/* ---------------------------------------------------------------- CSR */

X509_REQ *
atr_x509_csr_make(EVP_PKEY *key, const X509_NAME *subject, const char *sigalg,
    const char *const *ext_specs, size_t n, struct atr_err *err)
{
	STACK_OF(X509_EXTENSION) *exts = NULL;
	const EVP_MD *md = NULL;
	X509_REQ *req = NULL;

	ERR_clear_error();
	if (atr_x509i_sigalg_md(sigalg, key, &md, err) == -1)
		return NULL;
	if ((exts = atr_x509i_make_exts(ext_specs, n, key, NULL, NULL, err)) == NULL)
		return NULL;
	if ((req = X509_REQ_new()) == NULL || !X509_REQ_set_version(req, X509_REQ_VERSION_1) ||
	    !X509_REQ_set_subject_name(req, subject) || !X509_REQ_set_pubkey(req, key) ||
	    !X509_REQ_add_extensions(req, exts) || X509_REQ_sign(req, key, md) <= 0) {
		atr_err_set_ssl(err, ATR_E_INTERNAL, "cannot make the certificate request");
		X509_REQ_free(req);
		req = NULL;
	}
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	ERR_clear_error();
	return req;
}

X509_REQ *
atr_x509_csr_read(const unsigned char *buf, size_t len, struct atr_err *err)
{
	const char *s = (const char *)buf, *end = s + len, *line = s;
	struct atr_x509buf b64 = {0};
	unsigned char *der = NULL;
	const unsigned char *p;
	X509_REQ *req = NULL;
	int reading = 0, outl = 0, fin = 0;

	ERR_clear_error();
	if (len > 0 && buf[0] == 0x30) {
		p = buf;
		req = d2i_X509_REQ(NULL, &p, (long)len);
		goto done;
	}
	while (line < end) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		size_t n = nl ? (size_t)(nl - line) : (size_t)(end - line);
		int has_req = 0;

		for (size_t i = 0; i + 7 <= n; i++)
			if (memcmp(line + i, "REQUEST", 7) == 0)
				has_req = 1;
		if (!reading && n >= 10 && memcmp(line, "-----BEGIN", 10) == 0 && has_req) {
			reading = 1;
		} else if (reading && n >= 8 && memcmp(line, "-----END", 8) == 0 && has_req) {
			break;
		} else if (reading) {
			atr_x509buf_putn(&b64, line, n);
		}
		line = nl ? nl + 1 : end;
	}
	if (b64.failed || b64.len == 0) {
		/* What Java's PKCS10 parser says about no data at all. */
		atr_err_set(err, ATR_E_CERT_INVALID, "Too short");
		atr_x509buf_free(&b64);
		ERR_clear_error();
		return NULL;
	}
	if ((der = malloc(b64.len)) != NULL) {
		EVP_ENCODE_CTX *ctx = EVP_ENCODE_CTX_new();

		if (ctx != NULL) {
			EVP_DecodeInit(ctx);
			if (EVP_DecodeUpdate(ctx, der, &outl, (unsigned char *)b64.p, (int)b64.len) >= 0 &&
			    EVP_DecodeFinal(ctx, der + outl, &fin) == 1) {
				p = der;
				req = d2i_X509_REQ(NULL, &p, (long)(outl + fin));
			}
			EVP_ENCODE_CTX_free(ctx);
		}
	}
done:
	free(der);
	atr_x509buf_free(&b64);
	ERR_clear_error();
	if (req == NULL)
		atr_err_set(err, ATR_E_CERT_INVALID, "the input is not a certificate request");
	return req;
}

int
atr_x509_csr_verify(X509_REQ *req)
{
	EVP_PKEY *key = X509_REQ_get0_pubkey(req);
	int ok = key != NULL && X509_REQ_verify(req, key) == 1;

	ERR_clear_error();
	return ok;
}
