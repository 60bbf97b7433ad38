/*
 * keytool's -ext syntax (Main.createV3Extensions): parsing each value into
 * a DER extension the way Java encodes it, the SubjectKeyIdentifier and
 * AuthorityKeyIdentifier keytool adds on its own, "honored=" for requested
 * extensions, and the final order (sorted by OID text).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "atrium/x509.h"
#include "lib/x509_int.h"

/* ------------------------------------------------------------ oneOf */

/* Java's camelCase abbreviation: lower-case letters after the first
 * character removed ("keyCertSign" -> "kCS"). */
static void
abbrev(const char *s, char *out, size_t len)
{
	size_t k = 0;

	for (size_t i = 0; s[i] && k + 1 < len; i++)
		if (i == 0 || !(s[i] >= 'a' && s[i] <= 'z'))
			out[k++] = s[i];
	out[k] = '\0';
}

static int
starts_with(const char *s, const char *prefix, int icase)
{
	size_t n = strlen(prefix);

	return icase ? strncasecmp(s, prefix, n) == 0 : strncmp(s, prefix, n) == 0;
}

/*
 * Java's Main.oneOf(): an exact match, else the single abbreviation or
 * prefix match, else the same ignoring case. list may hold a NULL marking
 * the start of hidden choices. Returns the index, -1 for no match, or -2
 * with err set when the choice is ambiguous.
 */
static int
one_of(const char *s, const char *const *list, size_t n, struct atr_err *err)
{
	size_t experiment = SIZE_MAX;

	for (size_t i = 0; i < n; i++)
		if (list[i] == NULL)
			experiment = i;
		else if (strcmp(s, list[i]) == 0)
			return (int)i;
	for (int icase = 0; icase < 2; icase++) {
		size_t match[16], nmatch = 0;

		for (size_t i = 0; i < n && nmatch < 16; i++) {
			char ab[128];

			if (list[i] == NULL)
				continue;
			abbrev(list[i], ab, sizeof(ab));
			if ((icase ? strcasecmp(s, ab) == 0 : strcmp(s, ab) == 0) ||
			    starts_with(list[i], s, icase))
				match[nmatch++] = i;
		}
		if (nmatch == 1)
			return (int)match[0];
		if (nmatch > 1) {
			char msg[ATR_ERR_MSG_MAX];
			size_t off;

			if (match[1] > experiment)
				return (int)match[0];
			off = (size_t)snprintf(msg, sizeof(msg), "command %s is ambiguous:\n    ", s);
			for (size_t i = 0; i < nmatch && match[i] < experiment && off < sizeof(msg); i++)
				off += (size_t)snprintf(msg + off, sizeof(msg) - off, " %s",
				    list[match[i]]);
			atr_err_set(err, ATR_E_USAGE, "%s", msg);
			return -2;
		}
	}
	return -1;
}

#define ONE_OF(s, arr, err) one_of((s), (arr), sizeof(arr) / sizeof((arr)[0]), (err))

/* ------------------------------------------------------ the ext list */

/* Extensions keyed by OID text; setting an OID again replaces it. */
struct extlist {
	struct entry {
		char oid[128];
		X509_EXTENSION *ext;
	} *v;
	size_t n, cap;
};

static void
extlist_free(struct extlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		X509_EXTENSION_free(l->v[i].ext);
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}

/* Takes ownership of ext. */
static int
extlist_set(struct extlist *l, X509_EXTENSION *ext, struct atr_err *err)
{
	char oid[128];

	if (atr_x509i_oid_text(X509_EXTENSION_get_object(ext), oid, sizeof(oid)) == -1) {
		X509_EXTENSION_free(ext);
		return atr_err_set(err, ATR_E_INTERNAL, "bad extension OID");
	}
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i].oid, oid) == 0) {
			X509_EXTENSION_free(l->v[i].ext);
			l->v[i].ext = ext;
			return 0;
		}
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 8;
		struct entry *v = realloc(l->v, cap * sizeof(*v));
		if (v == NULL) {
			X509_EXTENSION_free(ext);
			return atr_err_set(err, ATR_E_NOMEM, NULL);
		}
		l->v = v;
		l->cap = cap;
	}
	memcpy(l->v[l->n].oid, oid, sizeof(oid));
	l->v[l->n].ext = ext;
	l->n++;
	return 0;
}

static void
extlist_delete(struct extlist *l, const char *oid)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i].oid, oid) == 0) {
			X509_EXTENSION_free(l->v[i].ext);
			memmove(&l->v[i], &l->v[i + 1], (l->n - i - 1) * sizeof(l->v[0]));
			l->n--;
			return;
		}
}

/* Wraps DER value bytes in a new extension and adds it. */
static int
add_der(struct extlist *l, const char *oid, int crit, const unsigned char *der, int len,
    struct atr_err *err)
{
	ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
	ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
	X509_EXTENSION *ext = NULL;

	if (obj != NULL && os != NULL && ASN1_OCTET_STRING_set(os, der, len))
		ext = X509_EXTENSION_create_by_OBJ(NULL, obj, crit, os);
	ASN1_OBJECT_free(obj);
	ASN1_OCTET_STRING_free(os);
	if (ext == NULL)
		return atr_err_set_ssl(err, ATR_E_INTERNAL, "cannot make extension %s", oid);
	return extlist_set(l, ext, err);
}

/* Encodes an ASN.1 value and adds it as an extension. */
static int
add_item(struct extlist *l, const char *oid, int crit, const ASN1_ITEM *it, const void *val,
    struct atr_err *err)
{
	unsigned char *der = NULL;
	int len = ASN1_item_i2d((const ASN1_VALUE *)val, &der, it), rc;

	if (len <= 0)
		rc = atr_err_set_ssl(err, ATR_E_INTERNAL, "cannot encode extension %s", oid);
	else
		rc = add_der(l, oid, crit, der, len, err);
	OPENSSL_free(der);
	return rc;
}

#define ADD_ITEM(l, oid, crit, type, val, err) \
	add_item((l), (oid), (crit), ASN1_ITEM_rptr(type), (val), (err))

/* ------------------------------------------------------ general names */

static int
valid_dns(const char *v, int wildcard)
{
	size_t n = strlen(v), label = 0;

	if (n == 0 || v[0] == '.' || v[n - 1] == '.')
		return 0;
	if (wildcard && strncmp(v, "*.", 2) == 0)
		v += 2;
	for (const char *p = v; *p; p++) {
		if (*p == '.') {
			if (label == 0 || p[-1] == '-')
				return 0;
			label = 0;
			continue;
		}
		if (!(isalnum((unsigned char)*p) || (*p == '-' && label > 0)))
			return 0;
		label++;
	}
	return label > 0;
}

/* Java's createGeneralName(): t is EMAIL, URI, DNS, IP or OID (abbreviated
 * as oneOf allows). */
static GENERAL_NAME *
make_general_name(const char *t, const char *v, int san, struct atr_err *err)
{
	static const char *const types[] = {"EMAIL", "URI", "DNS", "IP", "OID"};
	GENERAL_NAME *gn = GENERAL_NAME_new();
	ASN1_IA5STRING *s = NULL;
	unsigned char addr[16];
	int p = ONE_OF(t, types, err), type;

	if (gn == NULL) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		return NULL;
	}
	if (p == -2)
		goto fail;
	if (p < 0) {
		atr_err_set(err, ATR_E_USAGE, "Unrecognized GeneralName type: %s", t);
		goto fail;
	}
	switch (p) {
	case 0:
	case 1:
	case 2:
		if (p == 2 && !valid_dns(v, san)) {
			atr_err_set(err, ATR_E_USAGE, "DNSName components must begin with a letter, "
			    "digit, or the first component can have only a wildcard character *");
			goto fail;
		}
		if (p == 1 && strchr(v, ':') == NULL) {
			atr_err_set(err, ATR_E_USAGE, "URI name must include scheme:%s", v);
			goto fail;
		}
		if (p == 0 && (v[0] == '\0' || v[0] == '@' || v[strlen(v) - 1] == '@')) {
			atr_err_set(err, ATR_E_USAGE, "RFC822Name may not be null or empty");
			goto fail;
		}
		type = p == 0 ? GEN_EMAIL : p == 1 ? GEN_URI : GEN_DNS;
		if ((s = ASN1_IA5STRING_new()) == NULL || !ASN1_STRING_set(s, v, -1))
			goto nomem;
		GENERAL_NAME_set0_value(gn, type, s);
		return gn;
	case 3: {
		ASN1_OCTET_STRING *ip;
		int len;

		if (inet_pton(AF_INET, v, addr) == 1)
			len = 4;
		else if (inet_pton(AF_INET6, v, addr) == 1)
			len = 16;
		else {
			atr_err_set(err, ATR_E_USAGE, "IPAddress format invalid: %s", v);
			goto fail;
		}
		if ((ip = ASN1_OCTET_STRING_new()) == NULL || !ASN1_OCTET_STRING_set(ip, addr, len)) {
			ASN1_OCTET_STRING_free(ip);
			goto nomem;
		}
		GENERAL_NAME_set0_value(gn, GEN_IPADD, ip);
		return gn;
	}
	default: {
		ASN1_OBJECT *o = OBJ_txt2obj(v, 1);

		if (o == NULL) {
			atr_err_set(err, ATR_E_USAGE, "Unable to create OIDName: %s", v);
			goto fail;
		}
		GENERAL_NAME_set0_value(gn, GEN_RID, o);
		return gn;
	}
	}
nomem:
	atr_err_set(err, ATR_E_NOMEM, NULL);
fail:
	ASN1_IA5STRING_free(s);
	GENERAL_NAME_free(gn);
	ERR_clear_error();
	return NULL;
}

/* Splits "a,b,c" in place as Java's String.split(","), which drops
 * trailing empty strings. Returns the count. */
static size_t
split(char *s, char sep, char **parts, size_t max)
{
	size_t n = 0;

	for (;;) {
		char *c = strchr(s, sep);
		if (n < max)
			parts[n++] = s;
		if (c == NULL)
			break;
		*c = '\0';
		s = c + 1;
	}
	while (n > 0 && parts[n - 1][0] == '\0')
		n--;
	return n;
}

/* ----------------------------------------------------- each extension */

static int
java_int(const char *s, int *out)
{
	char *end;
	long v;

	errno = 0;
	if (*s == '\0' || isspace((unsigned char)*s))
		return -1;
	v = strtol(s, &end, 10);
	if (*end != '\0' || errno != 0 || v < INT_MIN || v > INT_MAX)
		return -1;
	*out = (int)v;
	return 0;
}

static int
ext_bc(struct extlist *l, const char *spec, char *value, int crit, struct atr_err *err)
{
	unsigned char der[16];
	int pathlen = -1, ca = 0, n = 0;

	if (value == NULL) {
		ca = 1;
	} else if (java_int(value, &pathlen) == 0) {
		ca = 1;
	} else {
		char *parts[16];
		size_t np = split(value, ',', parts, 16);

		pathlen = -1;
		for (size_t i = 0; i < np; i++) {
			char *colon = strchr(parts[i], ':');

			if (colon == NULL || strchr(colon + 1, ':') != NULL || colon == parts[i])
				return atr_err_set(err, ATR_E_USAGE, "Illegal value: %s", spec);
			*colon = '\0';
			if (strcasecmp(parts[i], "ca") == 0) {
				ca = strcasecmp(colon + 1, "true") == 0;
			} else if (strcasecmp(parts[i], "pathlen") == 0) {
				if (java_int(colon + 1, &pathlen) == -1)
					return atr_err_set(err, ATR_E_CERT_NUMBER,
					    "For input string: \"%s\"", colon + 1);
			} else {
				return atr_err_set(err, ATR_E_USAGE, "Illegal value: %s", spec);
			}
		}
	}
	/* SEQUENCE { BOOLEAN TRUE, INTEGER pathlen } only when a CA. */
	der[n++] = 0x30;
	der[n++] = 0;
	if (ca) {
		der[n++] = 0x01;
		der[n++] = 0x01;
		der[n++] = 0xff;
		if (pathlen >= 0) {
			unsigned char tmp[5];
			int k = 0;
			unsigned v = (unsigned)pathlen;

			do {
				tmp[k++] = (unsigned char)(v & 0xff);
				v >>= 8;
			} while (v != 0);
			if (tmp[k - 1] & 0x80)
				tmp[k++] = 0;
			der[n++] = 0x02;
			der[n++] = (unsigned char)k;
			while (k > 0)
				der[n++] = tmp[--k];
		}
	}
	der[1] = (unsigned char)(n - 2);
	return add_der(l, "2.5.29.19", crit, der, n, err);
}

static int
ext_ku(struct extlist *l, const char *spec, char *value, int crit, struct atr_err *err)
{
	static const char *const names[] = {"digitalSignature", "nonRepudiation",
	    "keyEncipherment", "dataEncipherment", "keyAgreement", "keyCertSign", "cRLSign",
	    "encipherOnly", "decipherOnly", "contentCommitment"};
	ASN1_BIT_STRING *bits;
	char *parts[32];
	size_t np;
	int rc;

	if (value == NULL)
		return atr_err_set(err, ATR_E_USAGE, "Illegal value: %s", spec);
	if ((bits = ASN1_BIT_STRING_new()) == NULL)
		return atr_err_set(err, ATR_E_NOMEM, NULL);
	np = split(value, ',', parts, 32);
	for (size_t i = 0; i < np; i++) {
		int p = ONE_OF(parts[i], names, err);

		if (p == -2 || p == -1) {
			ASN1_BIT_STRING_free(bits);
			if (p == -1)
				atr_err_set(err, ATR_E_USAGE, "Unknown keyUsage type: %s", parts[i]);
			return -1;
		}
		if (p == 9)
			p = 1;
		ASN1_BIT_STRING_set_bit(bits, p, 1);
	}
	rc = ADD_ITEM(l, "2.5.29.15", crit, ASN1_BIT_STRING, bits, err);
	ASN1_BIT_STRING_free(bits);
	return rc;
}

static int
ext_eku(struct extlist *l, const char *spec, char *value, int crit, struct atr_err *err)
{
	static const char *const names[] = {"anyExtendedKeyUsage", "serverAuth", "clientAuth",
	    "codeSigning", "emailProtection", "timeStamping", "OCSPSigning"};
	static const char *const oids[] = {"2.5.29.37.0", "1.3.6.1.5.5.7.3.1",
	    "1.3.6.1.5.5.7.3.2", "1.3.6.1.5.5.7.3.3", "1.3.6.1.5.5.7.3.4",
	    "1.3.6.1.5.5.7.3.8", "1.3.6.1.5.5.7.3.9"};
	EXTENDED_KEY_USAGE *eku;
	char *parts[32];
	size_t np;
	int rc;

	if (value == NULL)
		return atr_err_set(err, ATR_E_USAGE, "Illegal value: %s", spec);
	if ((eku = sk_ASN1_OBJECT_new_null()) == NULL)
		return atr_err_set(err, ATR_E_NOMEM, NULL);
	np = split(value, ',', parts, 32);
	for (size_t i = 0; i < np; i++) {
		int p = ONE_OF(parts[i], names, err);
		ASN1_OBJECT *o;

		if (p == -2) {
			sk_ASN1_OBJECT_pop_free(eku, ASN1_OBJECT_free);
			return -1;
		}
		o = OBJ_txt2obj(p >= 0 ? oids[p] : parts[i], 1);
		if (o == NULL || !sk_ASN1_OBJECT_push(eku, o)) {
			ASN1_OBJECT_free(o);
			sk_ASN1_OBJECT_pop_free(eku, ASN1_OBJECT_free);
			ERR_clear_error();
			return atr_err_set(err, ATR_E_USAGE, "Unknown extendedkeyUsage type: %s",
			    parts[i]);
		}
	}
	rc = ADD_ITEM(l, "2.5.29.37", crit, EXTENDED_KEY_USAGE, eku, err);
	sk_ASN1_OBJECT_pop_free(eku, ASN1_OBJECT_free);
	return rc;
}

static int
ext_altname(struct extlist *l, const char *spec, char *value, int crit, int san,
    struct atr_err *err)
{
	GENERAL_NAMES *gns;
	char *parts[64];
	size_t np;
	int rc;

	if (value == NULL)
		return atr_err_set(err, ATR_E_USAGE, "Illegal value: %s", spec);
	if ((gns = GENERAL_NAMES_new()) == NULL)
		return atr_err_set(err, ATR_E_NOMEM, NULL);
	np = split(value, ',', parts, 64);
	for (size_t i = 0; i < np; i++) {
		char *colon = strchr(parts[i], ':');
		GENERAL_NAME *gn;

		if (colon == NULL) {
			GENERAL_NAMES_free(gns);
			return atr_err_set(err, ATR_E_USAGE, "Illegal item %s in %s", parts[i], spec);
		}
		*colon = '\0';
		if ((gn = make_general_name(parts[i], colon + 1, san, err)) == NULL ||
		    !sk_GENERAL_NAME_push(gns, gn)) {
			GENERAL_NAME_free(gn);
			GENERAL_NAMES_free(gns);
			return -1;
		}
	}
	rc = ADD_ITEM(l, san ? "2.5.29.17" : "2.5.29.18", crit, GENERAL_NAMES, gns, err);
	GENERAL_NAMES_free(gns);
	return rc;
}

static int
ext_info_access(struct extlist *l, const char *spec, char *value, int crit, int subject,
    struct atr_err *err)
{
	static const char *const methods[] = {"OCSP", "caIssuers", "timeStamping", "caRepository"};
	static const char *const oids[] = {"1.3.6.1.5.5.7.48.1", "1.3.6.1.5.5.7.48.2",
	    "1.3.6.1.5.5.7.48.3", "1.3.6.1.5.5.7.48.5"};
	AUTHORITY_INFO_ACCESS *aia;
	char *parts[32];
	size_t np;
	int rc;

	if (crit)
		return atr_err_set(err, ATR_E_USAGE, "This extension cannot be marked as critical. %s",
		    spec);
	if (value == NULL)
		return atr_err_set(err, ATR_E_USAGE, "Illegal value: %s", spec);
	if ((aia = sk_ACCESS_DESCRIPTION_new_null()) == NULL)
		return atr_err_set(err, ATR_E_NOMEM, NULL);
	np = split(value, ',', parts, 32);
	for (size_t i = 0; i < np; i++) {
		char *c1 = strchr(parts[i], ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		ACCESS_DESCRIPTION *ad;
		int p;

		if (c1 == NULL || c2 == NULL) {
			sk_ACCESS_DESCRIPTION_pop_free(aia, ACCESS_DESCRIPTION_free);
			return atr_err_set(err, ATR_E_USAGE, "Illegal value: %s", spec);
		}
		*c1 = *c2 = '\0';
		if ((p = ONE_OF(parts[i], methods, err)) == -2 ||
		    (ad = ACCESS_DESCRIPTION_new()) == NULL) {
			sk_ACCESS_DESCRIPTION_pop_free(aia, ACCESS_DESCRIPTION_free);
			return -1;
		}
		ASN1_OBJECT_free(ad->method);
		ad->method = OBJ_txt2obj(p >= 0 ? oids[p] : parts[i], 1);
		GENERAL_NAME_free(ad->location);
		ad->location = NULL;
		if (ad->method == NULL) {
			ACCESS_DESCRIPTION_free(ad);
			sk_ACCESS_DESCRIPTION_pop_free(aia, ACCESS_DESCRIPTION_free);
			ERR_clear_error();
			return atr_err_set(err, ATR_E_USAGE, "Unknown AccessDescription type: %s",
			    parts[i]);
		}
		if ((ad->location = make_general_name(c1 + 1, c2 + 1, 0, err)) == NULL ||
		    !sk_ACCESS_DESCRIPTION_push(aia, ad)) {
			ACCESS_DESCRIPTION_free(ad);
			sk_ACCESS_DESCRIPTION_pop_free(aia, ACCESS_DESCRIPTION_free);
			return -1;
		}
	}
	rc = ADD_ITEM(l, subject ? "1.3.6.1.5.5.7.1.11" : "1.3.6.1.5.5.7.1.1", 0,
	    AUTHORITY_INFO_ACCESS, aia, err);
	sk_ACCESS_DESCRIPTION_pop_free(aia, ACCESS_DESCRIPTION_free);
	return rc;
}

static int
ext_crldp(struct extlist *l, const char *spec, char *value, int crit, struct atr_err *err)
{
	CRL_DIST_POINTS *dps = NULL;
	DIST_POINT *dp = NULL;
	GENERAL_NAMES *gns = NULL;
	char *parts[32];
	size_t np;
	int rc = -1;

	if (value == NULL)
		return atr_err_set(err, ATR_E_USAGE, "Illegal value: %s", spec);
	if ((dps = sk_DIST_POINT_new_null()) == NULL || (dp = DIST_POINT_new()) == NULL ||
	    (dp->distpoint = DIST_POINT_NAME_new()) == NULL || (gns = GENERAL_NAMES_new()) == NULL) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		goto out;
	}
	np = split(value, ',', parts, 32);
	for (size_t i = 0; i < np; i++) {
		char *colon = strchr(parts[i], ':');
		GENERAL_NAME *gn;

		if (colon == NULL) {
			atr_err_set(err, ATR_E_USAGE, "Illegal item %s in %s", parts[i], spec);
			goto out;
		}
		*colon = '\0';
		if ((gn = make_general_name(parts[i], colon + 1, 0, err)) == NULL)
			goto out;
		if (!sk_GENERAL_NAME_push(gns, gn)) {
			GENERAL_NAME_free(gn);
			goto out;
		}
	}
	dp->distpoint->type = 0;
	dp->distpoint->name.fullname = gns;
	gns = NULL;
	if (!sk_DIST_POINT_push(dps, dp))
		goto out;
	dp = NULL;
	rc = ADD_ITEM(l, "2.5.29.31", crit, CRL_DIST_POINTS, dps, err);
out:
	GENERAL_NAMES_free(gns);
	DIST_POINT_free(dp);
	sk_DIST_POINT_pop_free(dps, DIST_POINT_free);
	return rc;
}

/* "OID=hex": the hex bytes wrapped in an OCTET STRING, as keytool does. */
static int
ext_raw(struct extlist *l, const char *name, const char *spec, const char *value, int crit,
    struct atr_err *err)
{
	ASN1_OBJECT *o;
	unsigned char *data;
	size_t pos = 0, cap = value ? strlen(value) / 2 + 1 : 1;
	int rc;

	if ((o = OBJ_txt2obj(name, 1)) == NULL || !isdigit((unsigned char)name[0])) {
		ASN1_OBJECT_free(o);
		ERR_clear_error();
		return atr_err_set(err, ATR_E_CERT_EXT_UNKNOWN, "Unknown extension type: %s", spec);
	}
	ASN1_OBJECT_free(o);
	if ((data = calloc(cap, 1)) == NULL)
		return atr_err_set(err, ATR_E_NOMEM, NULL);
	for (const char *p = value ? value : ""; *p; p++) {
		int h;

		if (!isxdigit((unsigned char)*p))
			continue;
		h = isdigit((unsigned char)*p) ? *p - '0' : (tolower((unsigned char)*p) - 'a') + 10;
		if (pos % 2 == 0)
			data[pos / 2] = (unsigned char)(h << 4);
		else
			data[pos / 2] = (unsigned char)(data[pos / 2] + h);
		pos++;
	}
	if (pos % 2 != 0) {
		free(data);
		return atr_err_set(err, ATR_E_USAGE, "Odd number of hex digits found: %s", spec);
	}
	/* The bytes are the extension value itself (Java's Extension()
	 * constructor strips the OCTET STRING keytool wraps them in). */
	rc = add_der(l, name, crit, data, (int)(pos / 2), err);
	free(data);
	return rc;
}

static const char *const ext_supported[] = {"BasicConstraints", "KeyUsage", "ExtendedKeyUsage",
    "SubjectAlternativeName", "IssuerAlternativeName", "SubjectInfoAccess",
    "AuthorityInfoAccess", NULL, "CRLDistributionPoints"};
static const char *const ext_oids[] = {"2.5.29.19", "2.5.29.15", "2.5.29.37", "2.5.29.17",
    "2.5.29.18", "1.3.6.1.5.5.7.1.11", "1.3.6.1.5.5.7.1.1", NULL, "2.5.29.31"};

/* One "name[:critical][=value]" from -ext. */
static int
add_spec(struct extlist *l, const char *spec, struct atr_err *err)
{
	char *copy = strdup(spec), *name, *value = NULL, *eq, *colon;
	int crit = 0, type, rc = -1;

	if (copy == NULL)
		return atr_err_set(err, ATR_E_NOMEM, NULL);
	name = copy;
	if ((eq = strchr(copy, '=')) != NULL) {
		*eq = '\0';
		value = eq + 1;
	}
	if ((colon = strchr(name, ':')) != NULL) {
		static const char *const critical[] = {"critical"};
		int c = ONE_OF(colon + 1, critical, err);

		if (c == -2)
			goto out;
		crit = c == 0;
		*colon = '\0';
	}
	if (strcasecmp(name, "honored") == 0) {
		rc = 0;
		goto out;
	}
	type = ONE_OF(name, ext_supported, err);
	switch (type) {
	case -2:
		break;
	case 0:
		rc = ext_bc(l, spec, value, crit, err);
		break;
	case 1:
		rc = ext_ku(l, spec, value, crit, err);
		break;
	case 2:
		rc = ext_eku(l, spec, value, crit, err);
		break;
	case 3:
	case 4:
		rc = ext_altname(l, spec, value, crit, type == 3, err);
		break;
	case 5:
	case 6:
		rc = ext_info_access(l, spec, value, crit, type == 5, err);
		break;
	case 8:
		rc = ext_crldp(l, spec, value, crit, err);
		break;
	default:
		rc = ext_raw(l, name, spec, value, crit, err);
		break;
	}
out:
	free(copy);
	return rc;
}

int
atr_x509_ext_check(const char *spec, struct atr_err *err)
{
	struct extlist l = {0};
	int rc = 0;

	if (strncasecmp(spec, "honored=", 8) != 0 && strcasecmp(spec, "honored") != 0)
		rc = add_spec(&l, spec, err);
	extlist_free(&l);
	ERR_clear_error();
	return rc;
}

/* The OID text for a -ext name in "honored=" (a known name or an OID). */
static int
honored_oid(const char *type, char *out, size_t len, struct atr_err *err)
{
	int p = ONE_OF(type, ext_supported, err);

	if (p == -2)
		return -1;
	if (p >= 0 && ext_oids[p] != NULL) {
		snprintf(out, len, "%s", ext_oids[p]);
		return 0;
	}
	snprintf(out, len, "%s", type);
	return 0;
}

static const X509_EXTENSION *
find_ext(const STACK_OF(X509_EXTENSION) *exts, const char *oid)
{
	for (int i = 0; i < sk_X509_EXTENSION_num(exts); i++) {
		const X509_EXTENSION *e = sk_X509_EXTENSION_value(exts, i);
		char s[128];

		if (atr_x509i_oid_text(X509_EXTENSION_get_object((X509_EXTENSION *)e), s, sizeof(s)) == 0 &&
		    strcmp(s, oid) == 0)
			return e;
	}
	return NULL;
}

static int
apply_honored(struct extlist *l, const char *spec, const STACK_OF(X509_EXTENSION) *req,
    struct atr_err *err)
{
	char *copy = strdup(spec + 8), *parts[32];
	size_t np;
	int rc = -1;

	if (copy == NULL)
		return atr_err_set(err, ATR_E_NOMEM, NULL);
	for (char *p = copy; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	np = split(copy, ',', parts, 32);
	for (size_t i = 0; i < np; i++)
		if (strcmp(parts[i], "all") == 0)
			for (int k = 0; k < sk_X509_EXTENSION_num(req); k++) {
				X509_EXTENSION *d = X509_EXTENSION_dup(sk_X509_EXTENSION_value(req, k));
				if (d == NULL || extlist_set(l, d, err) == -1)
					goto out;
			}
	for (size_t i = 0; i < np; i++) {
		char *item = parts[i], oid[128], *colon;
		int action = -1;
		const X509_EXTENSION *e;
		X509_EXTENSION *d;

		if (strcmp(item, "all") == 0)
			continue;
		if (item[0] == '-') {
			if (honored_oid(item + 1, oid, sizeof(oid), err) == -1)
				goto out;
			extlist_delete(l, oid);
			continue;
		}
		if ((colon = strchr(item, ':')) != NULL) {
			static const char *const acts[] = {"critical", "non-critical"};

			*colon = '\0';
			if ((action = ONE_OF(colon + 1, acts, err)) == -2)
				goto out;
			if (action == -1) {
				atr_err_set(err, ATR_E_USAGE, "Illegal value: %s:%s", item, colon + 1);
				goto out;
			}
		}
		if (honored_oid(item, oid, sizeof(oid), err) == -1)
			goto out;
		if ((e = find_ext(req, oid)) == NULL) {
			atr_err_set(err, ATR_E_USAGE, "The request has no %s extension", item);
			goto out;
		}
		if ((d = X509_EXTENSION_dup(e)) == NULL)
			goto out;
		if (action == 0)
			X509_EXTENSION_set_critical(d, 1);
		else if (action == 1)
			X509_EXTENSION_set_critical(d, 0);
		if (extlist_set(l, d, err) == -1)
			goto out;
	}
	rc = 0;
out:
	free(copy);
	return rc;
}

ASN1_OCTET_STRING *
atr_x509i_key_id(EVP_PKEY *key)
{
	X509_PUBKEY *pub = NULL;
	const unsigned char *bits;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	int n;
	ASN1_OCTET_STRING *id = NULL;

	if (!X509_PUBKEY_set(&pub, key) || !X509_PUBKEY_get0_param(NULL, &bits, &n, NULL, pub))
		goto out;
	if (EVP_Digest(bits, (size_t)n, md, &mdlen, EVP_sha1(), NULL) != 1)
		goto out;
	if ((id = ASN1_OCTET_STRING_new()) != NULL && !ASN1_OCTET_STRING_set(id, md, (int)mdlen)) {
		ASN1_OCTET_STRING_free(id);
		id = NULL;
	}
out:
	X509_PUBKEY_free(pub);
	return id;
}

static int
entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->oid, ((const struct entry *)b)->oid);
}

STACK_OF(X509_EXTENSION) *
atr_x509i_make_exts(const char *const *specs, size_t n, EVP_PKEY *pubkey,
    const ASN1_OCTET_STRING *akid, const STACK_OF(X509_EXTENSION) *requested,
    struct atr_err *err)
{
	struct extlist l = {0};
	STACK_OF(X509_EXTENSION) *out = NULL;
	ASN1_OCTET_STRING *ski = NULL;

	ERR_clear_error();
	if ((ski = atr_x509i_key_id(pubkey)) == NULL) {
		atr_err_set_ssl(err, ATR_E_INTERNAL, "cannot compute the key identifier");
		goto fail;
	}
	if (ADD_ITEM(&l, "2.5.29.14", 0, ASN1_OCTET_STRING, ski, err) == -1)
		goto fail;
	if (akid != NULL) {
		AUTHORITY_KEYID *aki = AUTHORITY_KEYID_new();
		int rc;

		if (aki == NULL || (aki->keyid = ASN1_OCTET_STRING_dup(akid)) == NULL) {
			AUTHORITY_KEYID_free(aki);
			atr_err_set(err, ATR_E_NOMEM, NULL);
			goto fail;
		}
		rc = ADD_ITEM(&l, "2.5.29.35", 0, AUTHORITY_KEYID, aki, err);
		AUTHORITY_KEYID_free(aki);
		if (rc == -1)
			goto fail;
	}
	if (requested != NULL)
		for (size_t i = 0; i < n; i++)
			if (strncasecmp(specs[i], "honored=", 8) == 0) {
				if (apply_honored(&l, specs[i], requested, err) == -1)
					goto fail;
				break;
			}
	for (size_t i = 0; i < n; i++)
		if (add_spec(&l, specs[i], err) == -1)
			goto fail;
	qsort(l.v, l.n, sizeof(l.v[0]), entry_cmp);
	if ((out = sk_X509_EXTENSION_new_null()) == NULL) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		goto fail;
	}
	for (size_t i = 0; i < l.n; i++) {
		if (!sk_X509_EXTENSION_push(out, l.v[i].ext)) {
			atr_err_set(err, ATR_E_NOMEM, NULL);
			goto fail;
		}
		l.v[i].ext = NULL;
	}
	extlist_free(&l);
	ASN1_OCTET_STRING_free(ski);
	return out;
fail:
	sk_X509_EXTENSION_pop_free(out, X509_EXTENSION_free);
	extlist_free(&l);
	ASN1_OCTET_STRING_free(ski);
	ERR_clear_error();
	return NULL;
}
