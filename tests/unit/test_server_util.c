/* Small server pieces: name rules, percent-decoding, password hashes, error answers. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "server/api.h"
#include "server/password.h"
#include "server/req_int.h"

struct name_case {
	const char *name;
	const char *problem; /* NULL: allowed */
};

static void
test_names(void **state)
{
	static const struct name_case cases[] = {
		{"model", NULL},
		{"Model A", NULL},
		{"plant-2026_v1.x", NULL},
		{"ümlaut ключ", NULL},
		{"", "empty"},
		{".", "'.' and '..'"},
		{"..", "'.' and '..'"},
		{"a/b", "'/'"},
		{"a\\b", "'/'"},
		{"tab\there", "control character"},
		{"del\x7f", "control character"},
		{" lead", "space"},
		{"trail ", "space"},
		{"\xc3\x28", "UTF-8"},
		{"\xc0\xaf", "UTF-8"},
		{"\xe2\x82", "UTF-8"},
		{"1234567890123456789012345678901234567890123456789012345678901234", NULL},
		{"12345678901234567890123456789012345678901234567890123456789012345", "64 bytes"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *p = api_name_problem(cases[i].name);
		if (cases[i].problem == NULL) {
			if (p != NULL)
				fail_msg("'%s' refused: %s", cases[i].name, p);
		} else if (p == NULL || strstr(p, cases[i].problem) == NULL) {
			fail_msg("'%s': expected '%s', got '%s'", cases[i].name, cases[i].problem,
			    p ? p : "(allowed)");
		}
	}
}

struct decode_case {
	const char *in;
	int plus;
	const char *out; /* NULL: malformed */
};

static void
test_decode(void **state)
{
	static const struct decode_case cases[] = {
		{"abc", 0, "abc"},
		{"a%20b", 0, "a b"},
		{"a+b", 0, "a+b"},
		{"a+b", 1, "a b"},
		{"%C3%BC", 0, "\xc3\xbc"},
		{"%2e%2E", 0, ".."},
		{"%", 0, NULL},
		{"%2", 0, NULL},
		{"%zz", 0, NULL},
		{"a%00b", 0, NULL},
		{"", 0, ""},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = req_decode(cases[i].in, strlen(cases[i].in), cases[i].plus);
		if (cases[i].out == NULL) {
			if (got != NULL)
				fail_msg("'%s' decoded to '%s'", cases[i].in, got);
		} else {
			assert_non_null(got);
			assert_string_equal(got, cases[i].out);
		}
		free(got);
	}
}

static void
test_passwords(void **state)
{
	char h1[PASSWORD_HASH_MAX], h2[PASSWORD_HASH_MAX];

	(void)state;
	assert_int_equal(password_hash("correct horse", h1, sizeof(h1)), 0);
	assert_int_equal(password_hash("correct horse", h2, sizeof(h2)), 0);
	assert_string_not_equal(h1, h2); /* salted */
	assert_int_equal(strncmp(h1, "scrypt$16384$8$1$", 17), 0);
	assert_true(password_verify("correct horse", h1));
	assert_false(password_verify("correct horsE", h1));
	assert_false(password_verify("", h1));
	assert_false(password_verify("x", "garbage"));
	assert_false(password_verify("x", "scrypt$99999999999$8$1$00$00"));
	assert_non_null(password_weakness("short"));
	assert_null(password_weakness("long enough"));
}

static void
no_callback(struct req *r)
{
	(void)r;
}

/* An error's JSON answer: the table's status and code, and the setting it
 * is about when the error names one. */
static void
test_error_answers(void **state)
{
	static const struct req_owner owner = {.finish = no_callback, .begun = no_callback};
	struct runtime rt = {0};
	struct req_env env = {.rt = &rt};
	struct atr_err err;
	struct req *r;
	json_t *j;

	(void)state;
	for (int with_field = 0; with_field < 2; with_field++) {
		assert_non_null(r = req_new(&owner, &env, "127.0.0.1", 0));
		atr_err_set(&err, ATR_E_CONFIG, "port 70000 is not from 1 to 65535");
		if (with_field)
			atr_err_set_field(&err, "tls_port");
		resp_err(r, &err);
		assert_int_equal(r->status, atr_errcode_http(ATR_E_CONFIG));
		assert_non_null(j = json_loadb((const char *)evbuffer_pullup(r->rbody, -1),
		    evbuffer_get_length(r->rbody), 0, NULL));
		assert_string_equal(json_string_value(json_object_get(j, "code")), "config");
		assert_string_equal(json_string_value(json_object_get(j, "error")),
		    "port 70000 is not from 1 to 65535");
		if (with_field)
			assert_string_equal(json_string_value(json_object_get(j, "field")), "tls_port");
		else
			assert_null(json_object_get(j, "field"));
		json_decref(j);
		req_free(r);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_decode),
		cmocka_unit_test(test_passwords),
		cmocka_unit_test(test_error_answers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
