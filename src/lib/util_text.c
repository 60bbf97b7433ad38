/* Text rules: strict UTF-8, control characters, cuts on character
 * boundaries. One implementation for the server's request boundary, its
 * name checks and its error sentences (jansson refuses to encode what
 * these refuse, so a text that passes here always reaches JSON). And the
 * one masking of passwords inside settings that are shown. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "atrium/util.h"

/* The length of the well-formed UTF-8 sequence at p (at most left bytes)
 * and its code point; 0 when it is malformed: a stray continuation byte,
 * a truncated sequence, an overlong form, a surrogate or > U+10FFFF. */
static size_t
utf8_seq(const unsigned char *p, size_t left, uint32_t *cp)
{
	/* The smallest code point each length may encode (overlong forms). */
	static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
	size_t n = p[0] < 0x80 ? 1 : (p[0] & 0xe0) == 0xc0 ? 2 : (p[0] & 0xf0) == 0xe0 ? 3
	    : (p[0] & 0xf8) == 0xf0 ? 4 : 0;
	uint32_t c;

	if (n == 0 || n > left)
		return 0;
	c = n == 1 ? p[0] : (uint32_t)(p[0] & (0x7f >> n));
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (p[i] & 0x3f);
	}
	if (c < min[n] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

int
atr_utf8_valid(const char *text, size_t len)
{
	const unsigned char *p = (const unsigned char *)text;
	uint32_t cp;

	for (size_t i = 0, n; i < len; i += n)
		if ((n = utf8_seq(p + i, len - i, &cp)) == 0)
			return 0;
	return 1;
}

/* C0 (with NUL), DEL and C1: what a terminal or a log line acts on. */
static int
is_control(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f);
}

const char *
atr_text_problem(const char *text, size_t len, const char *allow, size_t *at)
{
	const unsigned char *p = (const unsigned char *)text;
	uint32_t cp;

	for (size_t i = 0, n; i < len; i += n) {
		if (at != NULL)
			*at = i;
		if ((n = utf8_seq(p + i, len - i, &cp)) == 0)
			return "is not valid UTF-8";
		if (cp == 0)
			return "contains a NUL byte";
		if (is_control(cp) && (cp >= 0x80 || allow == NULL || strchr(allow, (int)cp) == NULL))
			return "contains a control character";
	}
	return NULL;
}

void
atr_text_scrub(char *text, const char *allow)
{
	unsigned char *p = (unsigned char *)text;
	size_t len = strlen(text);
	uint32_t cp;

	for (size_t i = 0, n; i < len; i += n) {
		if ((n = utf8_seq(p + i, len - i, &cp)) == 0) {
			p[i] = '?';
			n = 1;
		} else if (is_control(cp) &&
		    (cp >= 0x80 || allow == NULL || strchr(allow, (int)cp) == NULL)) {
			memset(p + i, '?', n);
		}
	}
}

size_t
atr_utf8_cut(const char *text, size_t max)
{
	const unsigned char *p = (const unsigned char *)text;
	size_t n = strnlen(text, max), back = 0;

	if (n < max)
		return n;
	/* p[n] is the first byte left out: while it continues a character,
	 * that character's start is left out too (at most 3 bytes back). */
	while (n > 0 && back < 3 && (p[n] & 0xc0) == 0x80) {
		n--;
		back++;
	}
	return n;
}

/* libpq keywords whose value is a secret (conninfo or URL query). */
static const char *const secret_keywords[] = {"password", "sslpassword"};

#define MASK "***"

/* Appends n bytes of s to *o (the buffer is large enough). */
static void
put(char **o, const char *s, size_t n)
{
	memcpy(*o, s, n);
	*o += n;
}

/* At p (a keyword's start in text), the length of "keyword =" when it
 * names a secret; 0 otherwise. */
static size_t
secret_keyword_at(const char *text, const char *p)
{
	if (p != text && strchr(" \t?&", p[-1]) == NULL)
		return 0;
	for (size_t k = 0; k < sizeof(secret_keywords) / sizeof(secret_keywords[0]); k++) {
		size_t kl = strlen(secret_keywords[k]), i;
		if (strncasecmp(p, secret_keywords[k], kl) != 0)
			continue;
		for (i = kl; p[i] == ' ' || p[i] == '\t'; i++)
			;
		if (p[i] != '=')
			continue;
		for (i++; p[i] == ' ' || p[i] == '\t'; i++)
			;
		return i;
	}
	return 0;
}

/* The length of the value at p: a quoted conninfo value with its quotes
 * and escapes, else up to a separator (URL: & or #; conninfo: a blank). */
static size_t
value_len(const char *p, int url)
{
	size_t i = 0;

	if (!url && *p == '\'') {
		for (i = 1; p[i] != '\0' && p[i] != '\''; i++)
			if (p[i] == '\\' && p[i + 1] != '\0')
				i++;
		return p[i] == '\'' ? i + 1 : i;
	}
	while (p[i] != '\0' && strchr(url ? "&#" : " \t", p[i]) == NULL)
		i++;
	return i;
}

char *
atr_mask_password(const char *text)
{
	size_t len = strlen(text);
	const char *scheme = strstr(text, "://"), *p = text;
	/* Each mask adds at most its own length (an empty password). */
	char *out = malloc(len + (len / 2 + 1) * sizeof(MASK)), *o = out;
	int url = scheme != NULL;

	if (out == NULL)
		return NULL;
	if (url) {
		/* scheme://user:PASSWORD@host...: userinfo ends at the last '@'
		 * of the authority. */
		const char *auth = scheme + 3, *end = auth + strcspn(auth, "/?#"), *at = NULL, *colon;
		for (const char *q = auth; q < end; q++)
			if (*q == '@')
				at = q;
		colon = at != NULL ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
		if (colon != NULL) {
			put(&o, text, (size_t)(colon + 1 - text));
			put(&o, MASK, strlen(MASK));
			p = at;
		}
	}
	while (*p != '\0') {
		size_t kw = secret_keyword_at(text, p);
		if (kw == 0) {
			*o++ = *p++;
			continue;
		}
		put(&o, p, kw);
		p += kw;
		put(&o, MASK, strlen(MASK));
		p += value_len(p, url);
	}
	*o = '\0';
	return out;
}
