/*
 * Distinguished names as Java writes and reads them (sun.security.x509
 * X500Name, RDN, AVA): parsing keytool's -dname strings into X509_NAME and
 * printing X509_NAME with Java's keywords, order, quoting and escapes.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "atrium/x509.h"
#include "lib/x509_int.h"

/* Keywords Java's AVAKeyword knows. For printing, the last row of an OID
 * wins (ST, DNQ, EMAILADDRESS), as in Java's table. */
static const struct keyword {
	const char *name;
	const char *oid;
} keywords[] = {
	{"CN", "2.5.4.3"},
	{"C", "2.5.4.6"},
	{"L", "2.5.4.7"},
	{"S", "2.5.4.8"},
	{"ST", "2.5.4.8"},
	{"O", "2.5.4.10"},
	{"OU", "2.5.4.11"},
	{"T", "2.5.4.12"},
	{"IP", "1.3.6.1.4.1.42.2.11.2.1"},
	{"STREET", "2.5.4.9"},
	{"DC", "0.9.2342.19200300.100.1.25"},
	{"DNQUALIFIER", "2.5.4.46"},
	{"DNQ", "2.5.4.46"},
	{"SURNAME", "2.5.4.4"},
	{"GIVENNAME", "2.5.4.42"},
	{"INITIALS", "2.5.4.43"},
	{"GENERATION", "2.5.4.44"},
	{"EMAIL", "1.2.840.113549.1.9.1"},
	{"EMAILADDRESS", "1.2.840.113549.1.9.1"},
	{"UID", "0.9.2342.19200300.100.1.1"},
	{"SERIALNUMBER", "2.5.4.5"},
};

#define OID_EMAIL "1.2.840.113549.1.9.1"
#define OID_DC "0.9.2342.19200300.100.1.25"

/* Java's DerValue.isPrintableStringChar(). */
static int
printable_char(unsigned long c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return 1;
	return c != 0 && strchr(" '()+,-./:=?", (int)c) != NULL;
}

static int
is_hex(int c)
{
	return c != -1 && isxdigit(c);
}

static int
hex_val(int c)
{
	return isdigit(c) ? c - '0' : (tolower(c) - 'a') + 10;
}

/* ------------------------------------------------------------ parsing */

/* A reader over one AVA's text (Java's StringReader). */
struct reader {
	const char *s;
	size_t n, pos;
};

static int
rd(struct reader *r)
{
	return r->pos < r->n ? (unsigned char)r->s[r->pos++] : -1;
}

/* One parsed AVA: an OID and a value of a DER string type. */
struct ava {
	ASN1_OBJECT *oid;
	int type;           /* V_ASN1_PRINTABLESTRING, V_ASN1_UTF8STRING, ... */
	struct atr_x509buf val;
};

static void
ava_clear(struct ava *a)
{
	ASN1_OBJECT_free(a->oid);
	a->oid = NULL;
	atr_x509buf_free(&a->val);
}

/* Java's String.trim(): strips characters <= ' ' at both ends. */
static void
trim(const char **s, size_t *n)
{
	while (*n > 0 && (unsigned char)**s <= ' ') {
		(*s)++;
		(*n)--;
	}
	while (*n > 0 && (unsigned char)(*s)[*n - 1] <= ' ')
		(*n)--;
}

/* A dotted OID as Java's ObjectIdentifier.of() accepts it. */
static ASN1_OBJECT *
oid_from_text(const char *s, size_t n)
{
	char buf[256];
	int comps = 0, digits = 0;

	if (n == 0 || n >= sizeof(buf))
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (digits == 0)
				return NULL;
			comps++;
			digits = 0;
		} else if (isdigit((unsigned char)s[i])) {
			digits++;
		} else {
			return NULL;
		}
	}
	if (digits == 0 || comps < 1 || s[0] > '2')
		return NULL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return OBJ_txt2obj(buf, 1);
}

static ASN1_OBJECT *
keyword_oid(const char *kw, size_t n, struct atr_err *err)
{
	char up[128];

	trim(&kw, &n);
	if (n >= sizeof(up)) {
		atr_err_set(err, ATR_E_USAGE, "Invalid keyword");
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		up[i] = (char)toupper((unsigned char)kw[i]);
	up[n] = '\0';
	for (size_t i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++)
		if (strcmp(up, keywords[i].name) == 0)
			return OBJ_txt2obj(keywords[i].oid, 1);
	kw = up;
	if (strncmp(up, "OID.", 4) == 0) {
		kw += 4;
		n -= 4;
	}
	if (n == 0 || !isdigit((unsigned char)kw[0])) {
		atr_err_set(err, ATR_E_USAGE, "Invalid keyword \"%s\"", kw);
		return NULL;
	}
	ASN1_OBJECT *o = oid_from_text(kw, n);
	if (o == NULL) {
		/* Java names the first component that is not a number. */
		const char *c = kw;
		size_t k = strcspn(c, ".");

		while (c[k] == '.' && k > 0 && strspn(c, "0123456789") >= k) {
			c += k + 1;
			k = strcspn(c, ".");
		}
		atr_err_set(err, ATR_E_USAGE, "ObjectIdentifier() -- Invalid format: "
		    "java.lang.NumberFormatException: For input string: \"%.*s\"", (int)k, c);
	}
	return o;
}

/*
 * Appends bytes that came from \xx escapes as Java's new String(bytes,
 * UTF_8) would decode them: malformed sequences become U+FFFD.
 */
static void
put_decoded_utf8(struct atr_x509buf *b, const unsigned char *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned char c = p[i];
		size_t need;
		unsigned long cp;

		if (c < 0x80) {
			atr_x509buf_putc(b, (char)c);
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0) {
			need = 1;
			cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			need = 2;
			cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			need = 3;
			cp = c & 0x07;
		} else {
			atr_x509buf_put_utf8(b, 0xfffd);
			i++;
			continue;
		}
		size_t k;
		for (k = 1; k <= need && i + k < n && (p[i + k] & 0xc0) == 0x80; k++)
			cp = (cp << 6) | (p[i + k] & 0x3f);
		if (k <= need || (need == 1 && cp < 0x80) || (need == 2 && cp < 0x800) ||
		    (need == 3 && cp < 0x10000)) {
			atr_x509buf_put_utf8(b, 0xfffd);
			i += k;
			continue;
		}
		atr_x509buf_put_utf8(b, cp);
		i += need + 1;
	}
}

/* Reads "\xx" after a backslash if c is a hex digit: 1 with *byte set,
 * 0 if c is not hex, -1 on a bad second digit. */
static int
embedded_hex(struct reader *r, int c, unsigned char *byte, struct atr_err *err)
{
	int c2;

	if (!is_hex(c))
		return 0;
	if ((c2 = rd(r)) == -1) {
		atr_err_set(err, ATR_E_USAGE,
		    "unexpected EOF - escaped hex value must include two valid digits");
		return -1;
	}
	if (!is_hex(c2)) {
		atr_err_set(err, ATR_E_USAGE, "escaped hex value must include two valid digits");
		return -1;
	}
	*byte = (unsigned char)((hex_val(c) << 4) | hex_val(c2));
	return 1;
}

static int
string_type(const struct ava *a, int printable)
{
	char oid[64];

	if (atr_x509i_oid_text(a->oid, oid, sizeof(oid)) == 0 &&
	    (strcmp(oid, OID_EMAIL) == 0 || strcmp(oid, OID_DC) == 0))
		return V_ASN1_IA5STRING;
	return printable ? V_ASN1_PRINTABLESTRING : V_ASN1_UTF8STRING;
}

static int
parse_quoted(struct reader *r, struct ava *a, struct atr_err *err)
{
	struct atr_x509buf tmp = {0};
	unsigned char hexbytes[1024];
	size_t nhex = 0;
	int printable = 1, c, rc = -1;

	if ((c = rd(r)) == -1)
		goto eof;
	while (c != '"') {
		if (c == '\\') {
			unsigned char byte;
			int h;

			if ((c = rd(r)) == -1)
				goto eof;
			if ((h = embedded_hex(r, c, &byte, err)) == -1)
				goto out;
			if (h == 1) {
				printable = 0;
				if (nhex == sizeof(hexbytes)) {
					atr_err_set(err, ATR_E_USAGE, "AVA value is too long");
					goto out;
				}
				hexbytes[nhex++] = byte;
				if ((c = rd(r)) == -1)
					goto eof;
				continue;
			}
			if (strchr(",=\n+<>#;\\\"", c) == NULL) {
				atr_err_set(err, ATR_E_USAGE, "Invalid escaped character in AVA: %c", c);
				goto out;
			}
		}
		if (nhex > 0) {
			put_decoded_utf8(&tmp, hexbytes, nhex);
			nhex = 0;
		}
		printable &= printable_char((unsigned long)c);
		atr_x509buf_putc(&tmp, (char)c);
		if ((c = rd(r)) == -1)
			goto eof;
	}
	if (nhex > 0)
		put_decoded_utf8(&tmp, hexbytes, nhex);
	do {
		c = rd(r);
	} while (c == '\n' || c == ' ');
	if (c != -1) {
		atr_err_set(err, ATR_E_USAGE,
		    "AVA had characters other than whitespace after terminating quote");
		goto out;
	}
	{
		const char *v = tmp.p ? tmp.p : "";
		size_t n = tmp.len;

		trim(&v, &n);
		atr_x509buf_putn(&a->val, v, n);
	}
	a->type = string_type(a, printable);
	rc = 0;
	goto out;
eof:
	atr_err_set(err, ATR_E_USAGE, "Quoted string did not end in quote");
out:
	atr_x509buf_free(&tmp);
	return rc;
}

static int
parse_plain(struct reader *r, int c, struct ava *a, struct atr_err *err)
{
	unsigned char hexbytes[1024];
	size_t nhex = 0, spaces = 0;
	int printable = 1;

	do {
		int escape = 0;

		if (c == '\\') {
			unsigned char byte;
			int h;

			escape = 1;
			if ((c = rd(r)) == -1)
				return atr_err_set(err, ATR_E_USAGE, "Invalid trailing backslash");
			if ((h = embedded_hex(r, c, &byte, err)) == -1)
				return -1;
			if (h == 1) {
				printable = 0;
				if (nhex == sizeof(hexbytes))
					return atr_err_set(err, ATR_E_USAGE, "AVA value is too long");
				hexbytes[nhex++] = byte;
				c = rd(r);
				continue;
			}
			if (strchr(",=\n+<>#;\\\" ", c) == NULL)
				return atr_err_set(err, ATR_E_USAGE,
				    "Invalid escaped character in AVA: '%c'", c);
		} else if (strchr(",+<>;\"", c) != NULL) {
			return atr_err_set(err, ATR_E_USAGE,
			    "Character '%c' in AVA appears without escape", c);
		}
		if (nhex > 0) {
			for (; spaces > 0; spaces--)
				atr_x509buf_putc(&a->val, ' ');
			put_decoded_utf8(&a->val, hexbytes, nhex);
			nhex = 0;
		}
		printable &= printable_char((unsigned long)c);
		if (c == ' ' && !escape) {
			spaces++;
		} else {
			for (; spaces > 0; spaces--)
				atr_x509buf_putc(&a->val, ' ');
			atr_x509buf_putc(&a->val, (char)c);
		}
		c = rd(r);
	} while (c != -1 && c != '+' && c != ',' && c != ';');
	if (nhex > 0)
		put_decoded_utf8(&a->val, hexbytes, nhex);
	a->type = string_type(a, printable);
	return 0;
}

/* "#hex": a DER value; only string types can live in an X509_NAME. */
static int
parse_hex(struct reader *r, struct ava *a, struct atr_err *err)
{
	unsigned char der[4096];
	const unsigned char *p = der;
	size_t n = 0, digits = 0;
	ASN1_TYPE *t;
	int c, hi = 0;

	while ((c = rd(r)) != -1 && c != '+' && c != ',' && c != ';') {
		if (!is_hex(c))
			return atr_err_set(err, ATR_E_USAGE, "AVA parse, invalid hex digit: %c", c);
		if (digits % 2 == 1) {
			if (n == sizeof(der))
				return atr_err_set(err, ATR_E_USAGE, "AVA value is too long");
			der[n++] = (unsigned char)((hi << 4) | hex_val(c));
		} else {
			hi = hex_val(c);
		}
		digits++;
	}
	if (digits == 0)
		return atr_err_set(err, ATR_E_USAGE, "AVA parse, zero hex digits");
	if (digits % 2 == 1)
		return atr_err_set(err, ATR_E_USAGE, "AVA parse, odd number of hex digits");
	if ((t = d2i_ASN1_TYPE(NULL, &p, (long)n)) == NULL || p != der + n) {
		ASN1_TYPE_free(t);
		ERR_clear_error();
		return atr_err_set(err, ATR_E_USAGE, "AVA parse, not a DER value");
	}
	switch (t->type) {
	case V_ASN1_UTF8STRING:
	case V_ASN1_PRINTABLESTRING:
	case V_ASN1_T61STRING:
	case V_ASN1_IA5STRING:
	case V_ASN1_BMPSTRING:
	case V_ASN1_UNIVERSALSTRING:
	case V_ASN1_NUMERICSTRING:
	case V_ASN1_VISIBLESTRING:
	case V_ASN1_GENERALSTRING:
	case V_ASN1_OCTET_STRING:
		a->type = t->type;
		atr_x509buf_putn(&a->val, (const char *)t->value.asn1_string->data,
		    (size_t)t->value.asn1_string->length);
		ASN1_TYPE_free(t);
		return 0;
	default:
		ASN1_TYPE_free(t);
		return atr_err_set(err, ATR_E_USAGE, "AVA parse, unsupported value type");
	}
}

/* Java's AVA(Reader) in the DEFAULT format. */
static int
parse_ava(const char *s, size_t n, struct ava *a, struct atr_err *err)
{
	struct reader r = {s, n, 0};
	const char *eq = memchr(s, '=', n);
	int c;

	if (eq == NULL)
		return atr_err_set(err, ATR_E_USAGE, "Incorrect AVA format");
	if ((a->oid = keyword_oid(s, (size_t)(eq - s), err)) == NULL)
		return -1;
	r.pos = (size_t)(eq - s) + 1;
	do {
		c = rd(&r);
	} while (c == ' ' || c == '\n');
	if (c == -1) {
		a->type = V_ASN1_PRINTABLESTRING;
		return 0;
	}
	if (c == '#')
		return parse_hex(&r, a, err);
	if (c == '"')
		return parse_quoted(&r, a, err);
	return parse_plain(&r, c, a, err);
}

/* Java's X500Name.countQuotes(): quotes in [from, to) not after '\'. */
static int
count_quotes(const char *s, size_t from, size_t to)
{
	int count = 0;

	for (size_t i = from; i < to; i++)
		if (s[i] == '"' && (i == from || s[i - 1] != '\\'))
			count++;
	return count;
}

/* Java's X500Name.escaped(), including its habit of counting every
 * backslash back to the search offset. */
static int
escaped(const char *s, size_t end, size_t from)
{
	if (end == 1 && s[0] == '\\')
		return 1;
	if (end > 1 && s[end - 1] == '\\' && s[end - 2] != '\\')
		return 1;
	if (end > 1 && s[end - 1] == '\\' && s[end - 2] == '\\') {
		int count = 0;
		for (size_t i = end; i-- > from;)
			if (s[i] == '\\')
				count++;
		return count % 2 != 0;
	}
	return 0;
}

/* Adds one RDN (Java's RDN(String)) as a new set at the front of name,
 * because the DER order is the reverse of the string's. */
static int
add_rdn(X509_NAME *name, const char *s, size_t n, struct atr_err *err)
{
	size_t from = 0, search = 0;
	int quotes = 0, first = 1;

	for (;;) {
		const char *plus = memchr(s + search, '+', n - search);
		size_t end;
		struct ava a = {0};
		X509_NAME_ENTRY *ne;
		int loc;

		if (plus != NULL) {
			end = (size_t)(plus - s);
			quotes += count_quotes(s, search, end);
			if (!(end > 0 && s[end - 1] != '\\' && quotes != 1)) {
				search = end + 1;
				continue;
			}
		} else {
			end = n;
		}
		if (end == from)
			return atr_err_set(err, ATR_E_USAGE, "empty AVA in RDN \"%.*s\"", (int)n, s);
		if (parse_ava(s + from, end - from, &a, err) == -1) {
			ava_clear(&a);
			return -1;
		}
		ne = X509_NAME_ENTRY_create_by_OBJ(NULL, a.oid, a.type,
		    (const unsigned char *)(a.val.p ? a.val.p : ""), (int)a.val.len);
		ava_clear(&a);
		if (ne == NULL)
			return atr_err_set_ssl(err, ATR_E_USAGE, "bad AVA value");
		/* A new RDN goes first (the DER order is the reverse of the
		 * string's); its later AVAs join it, after the ones already in. */
		loc = 0;
		while (!first && loc < X509_NAME_entry_count(name) &&
		    X509_NAME_ENTRY_set(X509_NAME_get_entry(name, loc)) == 0)
			loc++;
		if (!X509_NAME_add_entry(name, ne, loc, first ? 0 : -1)) {
			X509_NAME_ENTRY_free(ne);
			return atr_err_set_ssl(err, ATR_E_INTERNAL, "cannot build the name");
		}
		X509_NAME_ENTRY_free(ne);
		first = 0;
		if (plus == NULL)
			return 0;
		from = search = end + 1;
		quotes = 0;
	}
}

X509_NAME *
atr_x509_name_parse(const char *dname, struct atr_err *err)
{
	X509_NAME *name = X509_NAME_new();
	size_t n = strlen(dname), from = 0, search = 0;
	int quotes = 0;

	if (name == NULL) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		return NULL;
	}
	ERR_clear_error();
	if (n == 0)
		return name;
	for (;;) {
		size_t end = search;

		while (end < n && dname[end] != ',' && dname[end] != ';')
			end++;
		if (end == n)
			break;
		quotes += count_quotes(dname, search, end);
		if (quotes != 1 && !escaped(dname, end, search)) {
			if (add_rdn(name, dname + from, end - from, err) == -1)
				goto fail;
			from = end + 1;
			quotes = 0;
		}
		search = end + 1;
	}
	if (add_rdn(name, dname + from, n - from, err) == -1)
		goto fail;
	return name;
fail:
	X509_NAME_free(name);
	ERR_clear_error();
	return NULL;
}

X509_NAME *
atr_x509_name_from_parts(const char *cn, const char *ou, const char *o, const char *l,
    const char *st, const char *c, struct atr_err *err)
{
	const char *oids[6] = {"2.5.4.6", "2.5.4.8", "2.5.4.7", "2.5.4.10", "2.5.4.11", "2.5.4.3"};
	const char *vals[6] = {c, st, l, o, ou, cn};
	X509_NAME *name = X509_NAME_new();

	if (name == NULL) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		return NULL;
	}
	for (int i = 0; i < 6; i++) {
		int printable = 1;

		for (const char *p = vals[i]; *p; p++)
			printable &= printable_char((unsigned char)*p);
		if (!X509_NAME_add_entry_by_txt(name, oids[i],
		    printable ? V_ASN1_PRINTABLESTRING : V_ASN1_UTF8STRING,
		    (const unsigned char *)vals[i], (int)strlen(vals[i]), -1, 0)) {
			X509_NAME_free(name);
			atr_err_set_ssl(err, ATR_E_INTERNAL, "cannot build the name");
			return NULL;
		}
	}
	return name;
}

/* ----------------------------------------------------------- printing */

/* Decodes a DER string value to code points as Java's getAsString() does.
 * Returns the count, or -1 when Java has no string for the type. */
static long
decode_value(const ASN1_STRING *v, unsigned long **out)
{
	const unsigned char *p = ASN1_STRING_get0_data(v);
	size_t n = (size_t)ASN1_STRING_length(v), k = 0;
	unsigned long *cps;

	*out = NULL;
	switch (ASN1_STRING_type(v)) {
	case V_ASN1_UTF8STRING:
	case V_ASN1_PRINTABLESTRING:
	case V_ASN1_T61STRING:
	case V_ASN1_IA5STRING:
	case V_ASN1_UNIVERSALSTRING:
	case V_ASN1_BMPSTRING:
	case V_ASN1_GENERALSTRING:
		break;
	default:
		return -1;
	}
	if ((cps = calloc(n + 1, sizeof(*cps))) == NULL)
		return -2;
	switch (ASN1_STRING_type(v)) {
	case V_ASN1_UTF8STRING: {
		struct atr_x509buf tmp = {0};
		size_t i = 0;

		/* Normalise malformed input to U+FFFD first. */
		put_decoded_utf8(&tmp, p, n);
		while (tmp.p != NULL && i < tmp.len) {
			unsigned char c = (unsigned char)tmp.p[i];
			unsigned long cp;
			size_t len = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;

			cp = len == 1 ? c : len == 2 ? c & 0x1f : len == 3 ? c & 0x0f : c & 0x07;
			for (size_t j = 1; j < len && i + j < tmp.len; j++)
				cp = (cp << 6) | ((unsigned char)tmp.p[i + j] & 0x3f);
			cps[k++] = cp;
			i += len;
		}
		atr_x509buf_free(&tmp);
		break;
	}
	case V_ASN1_PRINTABLESTRING:
	case V_ASN1_IA5STRING:
	case V_ASN1_GENERALSTRING:
		for (size_t i = 0; i < n; i++)
			cps[k++] = p[i] < 0x80 ? p[i] : 0xfffd;
		break;
	case V_ASN1_T61STRING:
		for (size_t i = 0; i < n; i++)
			cps[k++] = p[i];
		break;
	case V_ASN1_BMPSTRING:
		for (size_t i = 0; i + 1 < n; i += 2) {
			unsigned long u = ((unsigned long)p[i] << 8) | p[i + 1];
			if (u >= 0xd800 && u <= 0xdbff && i + 3 < n) {
				unsigned long lo = ((unsigned long)p[i + 2] << 8) | p[i + 3];
				if (lo >= 0xdc00 && lo <= 0xdfff) {
					u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
					i += 2;
				}
			}
			cps[k++] = u;
		}
		break;
	case V_ASN1_UNIVERSALSTRING:
		for (size_t i = 0; i + 3 < n; i += 4)
			cps[k++] = ((unsigned long)p[i] << 24) | ((unsigned long)p[i + 1] << 16) |
			    ((unsigned long)p[i + 2] << 8) | p[i + 3];
		break;
	}
	*out = cps;
	return (long)k;
}

/* DER of a primitive universal string value, as lower-case hex. */
static void
put_der_hex(struct atr_x509buf *b, const ASN1_STRING *v)
{
	static const char digits[] = "0123456789abcdef";
	unsigned char hdr[6];
	size_t h = 0, n = (size_t)ASN1_STRING_length(v);
	const unsigned char *p = ASN1_STRING_get0_data(v);

	hdr[h++] = (unsigned char)(ASN1_STRING_type(v) & 0x1f);
	if (n < 0x80) {
		hdr[h++] = (unsigned char)n;
	} else if (n < 0x100) {
		hdr[h++] = 0x81;
		hdr[h++] = (unsigned char)n;
	} else if (n < 0x10000) {
		hdr[h++] = 0x82;
		hdr[h++] = (unsigned char)(n >> 8);
		hdr[h++] = (unsigned char)n;
	} else {
		hdr[h++] = 0x83;
		hdr[h++] = (unsigned char)(n >> 16);
		hdr[h++] = (unsigned char)(n >> 8);
		hdr[h++] = (unsigned char)n;
	}
	for (size_t i = 0; i < h; i++) {
		atr_x509buf_putc(b, digits[hdr[i] >> 4]);
		atr_x509buf_putc(b, digits[hdr[i] & 15]);
	}
	for (size_t i = 0; i < n; i++) {
		atr_x509buf_putc(b, digits[p[i] >> 4]);
		atr_x509buf_putc(b, digits[p[i] & 15]);
	}
}

/* Java's AVA.toKeywordValueString() for the value part. */
static void
put_value(struct atr_x509buf *b, const unsigned long *v, size_t n)
{
	struct atr_x509buf tmp = {0};
	const char *escapees = ",+=\n<>#;\\\"";
	int quote = 0, prev_white = 0, already = n > 1 && v[0] == '"' && v[n - 1] == '"';
	unsigned long last = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned long c = v[i];
		int special = c < 0x80 && c != 0 && strchr(escapees, (int)c) != NULL;

		if (already && (i == 0 || i == n - 1)) {
			atr_x509buf_put_utf8(&tmp, c);
			last = c;
			continue;
		}
		if (printable_char(c) || special) {
			if (!quote && ((i == 0 && (c == ' ' || c == '\n')) || special))
				quote = 1;
			if (!(c == ' ' || c == '\n')) {
				if (c == '"' || c == '\\')
					atr_x509buf_putc(&tmp, '\\');
				prev_white = 0;
			} else {
				if (!quote && prev_white)
					quote = 1;
				prev_white = 1;
			}
			atr_x509buf_put_utf8(&tmp, c);
		} else {
			prev_white = 0;
			atr_x509buf_put_utf8(&tmp, c);
		}
		last = c;
	}
	if (tmp.len > 0 && (last == ' ' || last == '\n'))
		quote = 1;
	if (!already && quote)
		atr_x509buf_putc(b, '"');
	if (tmp.p != NULL)
		atr_x509buf_putn(b, tmp.p, tmp.len);
	if (!already && quote)
		atr_x509buf_putc(b, '"');
	if (tmp.failed)
		b->failed = 1;
	atr_x509buf_free(&tmp);
}

static void
put_ava(struct atr_x509buf *b, const X509_NAME_ENTRY *ne)
{
	const ASN1_OBJECT *obj = X509_NAME_ENTRY_get_object(ne);
	const ASN1_STRING *v = X509_NAME_ENTRY_get_data(ne);
	const char *kw = NULL;
	char oid[128];
	unsigned long *cps;
	long n;

	if (atr_x509i_oid_text(obj, oid, sizeof(oid)) == -1) {
		b->failed = 1;
		return;
	}
	for (size_t i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++)
		if (strcmp(oid, keywords[i].oid) == 0)
			kw = keywords[i].name;
	if (kw != NULL)
		atr_x509buf_printf(b, "%s=", kw);
	else
		atr_x509buf_printf(b, "OID.%s=", oid);
	n = decode_value(v, &cps);
	if (n == -2) {
		b->failed = 1;
		return;
	}
	if (n < 0) {
		atr_x509buf_putc(b, '#');
		put_der_hex(b, v);
		return;
	}
	put_value(b, cps, (size_t)n);
	free(cps);
}

char *
atr_x509_name_format(const X509_NAME *name)
{
	struct atr_x509buf b = {0};
	int count = X509_NAME_entry_count(name), end = count;

	/* RDNs from the last (most specific) to the first; AVAs in order. */
	while (end > 0) {
		int set = X509_NAME_ENTRY_set(X509_NAME_get_entry(name, end - 1)), start = end - 1;

		while (start > 0 && X509_NAME_ENTRY_set(X509_NAME_get_entry(name, start - 1)) == set)
			start--;
		if (end < count)
			atr_x509buf_put(&b, ", ");
		for (int i = start; i < end; i++) {
			if (i > start)
				atr_x509buf_put(&b, " + ");
			put_ava(&b, X509_NAME_get_entry(name, i));
		}
		end = start;
	}
	return atr_x509buf_take(&b);
}
