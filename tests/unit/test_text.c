/* Text rules (util_text.c): strict UTF-8, control characters, cuts on
 * character boundaries, scrubbing, password masking. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "atrium/util.h"

struct text_case {
	const char *in;
	size_t len;          /* 0: strlen(in) */
	const char *allow;
	const char *problem; /* NULL: accepted */
	size_t at;
};

static void
test_text_problem(void **state)
{
	static const struct text_case cases[] = {
		{"plain text", 0, NULL, NULL, 0},
		{"ümlaut ключ 漢字 😀", 0, NULL, NULL, 0},
		{"line1\nline2\ttab", 0, "\t\n", NULL, 0},
		{"line1\nline2", 0, NULL, "control", 5},
		{"cr\r\n", 0, "\t\n", "control", 2},
		{"esc\x1b[1m", 0, "\t\n", "control", 3},
		{"del\x7f", 0, "\t\n", "control", 3},
		{"c1 \xc2\x85", 0, "\t\n", "control", 3},
		{"c1 \xc2\x9f", 0, "\t\n", "control", 3},
		{"nbsp \xc2\xa0", 0, NULL, NULL, 0},
		{"nul\0after", 9, "\t\n", "NUL", 3},
		{"\xff\xfe", 0, NULL, "UTF-8", 0},
		{"ab\x80", 0, NULL, "UTF-8", 2},
		{"\xc0\xaf", 0, NULL, "UTF-8", 0},         /* overlong '/' */
		{"\xe0\x80\xaf", 0, NULL, "UTF-8", 0},     /* overlong, 3 bytes */
		{"\xf0\x80\x80\xaf", 0, NULL, "UTF-8", 0}, /* overlong, 4 bytes */
		{"\xed\xa0\x80", 0, NULL, "UTF-8", 0},     /* surrogate U+D800 */
		{"\xf4\x90\x80\x80", 0, NULL, "UTF-8", 0}, /* above U+10FFFF */
		{"\xf4\x8f\xbf\xbf", 0, NULL, NULL, 0},    /* U+10FFFF */
		{"cut \xe2\x82", 0, NULL, "UTF-8", 4},
		{"\xf8\x88\x80\x80\x80", 0, NULL, "UTF-8", 0},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct text_case *c = &cases[i];
		size_t len = c->len ? c->len : strlen(c->in), at = 99;
		const char *p = atr_text_problem(c->in, len, c->allow, &at);
		if (c->problem == NULL) {
			if (p != NULL)
				fail_msg("case %zu refused: %s", i, p);
			/* What passes here, jansson encodes. */
			json_t *s = json_stringn(c->in, len);
			if (s == NULL)
				fail_msg("case %zu accepted but jansson refuses it", i);
			json_decref(s);
		} else {
			if (p == NULL || strstr(p, c->problem) == NULL)
				fail_msg("case %zu: expected '%s', got '%s'", i, c->problem,
				    p ? p : "(accepted)");
			if (at != c->at)
				fail_msg("case %zu: problem at byte %zu, expected %zu", i, at, c->at);
		}
		assert_int_equal(atr_utf8_valid(c->in, len),
		    c->problem == NULL || strstr(c->problem, "UTF-8") == NULL);
	}
}

struct cut_case {
	const char *in;
	size_t max, want;
};

static void
test_utf8_cut(void **state)
{
	static const struct cut_case cases[] = {
		{"short", 200, 5},
		{"exactly", 7, 7},
		{"abc\xc3\xa9", 4, 3},          /* é would be split: left out */
		{"abc\xc3\xa9", 5, 5},
		{"ab\xe2\x82\xac", 3, 2},       /* € split after 1 byte */
		{"ab\xe2\x82\xac", 4, 2},       /* and after 2 */
		{"ab\xe2\x82\xac!", 5, 5},
		{"a\xf0\x9f\x98\x80", 4, 1},    /* 😀 split after 3 */
		{"a\xf0\x9f\x98\x80", 5, 5},
		{"", 10, 0},
		{"\xc3\xa9", 0, 0},
		{"\x80\x80\x80\x80\x80", 4, 1}, /* malformed: at most 3 back */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t got = atr_utf8_cut(cases[i].in, cases[i].max);
		if (got != cases[i].want)
			fail_msg("case %zu: cut at %zu, expected %zu", i, got, cases[i].want);
	}
}

/* The review's case: a cut at byte 200 of a message with a character
 * across it stays valid UTF-8. */
static void
test_cut_stays_utf8(void **state)
{
	char msg[300];

	(void)state;
	memset(msg, 'x', 199);
	strcpy(msg + 199, "\xc3\xa9tail");
	assert_int_equal(atr_utf8_cut(msg, 200), 199);
	assert_true(atr_utf8_valid(msg, atr_utf8_cut(msg, 200)));
	assert_false(atr_utf8_valid(msg, 200));
}

static void
test_scrub(void **state)
{
	static const struct {
		const char *in, *allow, *out;
	} cases[] = {
		{"fine ü", NULL, "fine ü"},
		{"bad \xff\xfe.", NULL, "bad ??."},
		{"c1 \xc2\x85.", NULL, "c1 ??."},
		{"tab\tnl\n", "\t\n", "tab\tnl\n"},
		{"tab\tnl\n", NULL, "tab?nl?"},
		{"cut \xe2\x82", NULL, "cut ??"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char buf[64];
		strcpy(buf, cases[i].in);
		atr_text_scrub(buf, cases[i].allow);
		assert_string_equal(buf, cases[i].out);
	}
}

static void
test_mask_password(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{"sqlite", "sqlite"},
		{"postgresql://atrium@db/atrium", "postgresql://atrium@db/atrium"},
		{"postgresql://atrium:SECRET@db/atrium", "postgresql://atrium:***@db/atrium"},
		{"postgres://u:@h", "postgres://u:***@h"},
		{"postgresql://u:p@ss:x@h1:5432,h2/db", "postgresql://u:***@h1:5432,h2/db"},
		{"postgresql://h/db?user=u&password=SECRET&sslmode=require",
		    "postgresql://h/db?user=u&password=***&sslmode=require"},
		{"postgresql://h/db?sslpassword=K", "postgresql://h/db?sslpassword=***"},
		{"postgresql://h/db?PASSWORD=x#f", "postgresql://h/db?PASSWORD=***#f"},
		{"host=db password=SECRET user=a", "host=db password=*** user=a"},
		{"host=db password = 'se cr\\'et' user=a", "host=db password = *** user=a"},
		{"password=x", "password=***"},
		{"host=db mypassword=x", "host=db mypassword=x"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = atr_mask_password(cases[i].in);
		assert_non_null(got);
		if (strcmp(got, cases[i].out) != 0)
			fail_msg("'%s' masked to '%s', expected '%s'", cases[i].in, got,
			    cases[i].out);
		free(got);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text_problem),
		cmocka_unit_test(test_utf8_cut),
		cmocka_unit_test(test_cut_stays_utf8),
		cmocka_unit_test(test_scrub),
		cmocka_unit_test(test_mask_password),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
