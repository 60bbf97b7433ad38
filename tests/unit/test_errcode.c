/* The error table (err.c): every code's wire name maps back to the code,
 * names are unique lower-case words, and exit statuses are the documented
 * 0 (success), 1 (failure) and 2 (usage); and the HTTP reason phrases. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "atrium/err.h"

static void
test_name_round_trip(void **state)
{
	(void)state;
	for (int i = 0; i < ATR_E__COUNT; i++) {
		enum atr_errcode back = ATR_E__COUNT;
		const char *name = atr_errcode_name((enum atr_errcode)i);

		assert_non_null(name);
		if (atr_errcode_from_name(name, &back) != 0 || back != (enum atr_errcode)i)
			fail_msg("code %d: '%s' does not map back", i, name);
		for (const char *p = name; *p != '\0'; p++)
			if (!((*p >= 'a' && *p <= 'z') || *p == '_'))
				fail_msg("code %d: '%s' is not a lower-case wire name", i, name);
	}
}

static void
test_unknown_names(void **state)
{
	static const char *const bad[] = {"", "CONFLICT", "conflict ", "nope", NULL};
	enum atr_errcode code = ATR_E_IO;

	(void)state;
	for (int i = 0; bad[i] != NULL; i++)
		assert_int_equal(atr_errcode_from_name(bad[i], &code), -1);
	assert_int_equal(atr_errcode_from_name(NULL, &code), -1);
	assert_int_equal(code, ATR_E_IO); /* untouched */
	assert_string_equal(atr_errcode_name(ATR_E_CONFLICT), "conflict");
	assert_string_equal(atr_errcode_name(ATR_E_BAD_LOGIN), "bad_login");
}

static void
test_exit_statuses(void **state)
{
	(void)state;
	assert_int_equal(atr_errcode_exit(ATR_E_OK), 0);
	assert_int_equal(atr_errcode_exit(ATR_E_USAGE), 2);
	for (int i = 0; i < ATR_E__COUNT; i++) {
		if (i == ATR_E_OK || i == ATR_E_USAGE)
			continue;
		if (atr_errcode_exit((enum atr_errcode)i) != 1)
			fail_msg("'%s' exits %d; only ok (0) and usage (2) are not 1",
			    atr_errcode_name((enum atr_errcode)i), atr_errcode_exit((enum atr_errcode)i));
	}
}

static void
test_http_reason(void **state)
{
	(void)state;
	assert_string_equal(atr_http_reason(200), "OK");
	assert_string_equal(atr_http_reason(409), "Conflict");
	assert_string_equal(atr_http_reason(431), "Request Header Fields Too Large");
	assert_null(atr_http_reason(418));
	/* Every status the error table answers with has its phrase. */
	for (int i = 0; i < ATR_E__COUNT; i++)
		if (atr_http_reason(atr_errcode_http((enum atr_errcode)i)) == NULL)
			fail_msg("'%s' answers %d, which has no reason phrase",
			    atr_errcode_name((enum atr_errcode)i), atr_errcode_http((enum atr_errcode)i));
}

/* The field an error concerns: set, kept by a prefix, cleared by a new
 * error and by atr_err_clear(), cut to fit. */
static void
test_field(void **state)
{
	static const struct {
		const char *set; /* NULL: atr_err_set_field(err, NULL) */
		const char *want;
	} rows[] = {
		{"tls_port", "tls_port"},
		{"", ""},
		{NULL, ""},
		{"a_key_of_exactly_forty_seven_bytes_for_the_test", "a_key_of_exactly_forty_seven_bytes_for_the_test"},
		{"a_key_longer_than_forty_seven_bytes_is_cut_at_the_end",
		    "a_key_longer_than_forty_seven_bytes_is_cut_at_t"},
	};
	struct atr_err err;

	(void)state;
	atr_err_clear(&err);
	assert_string_equal(atr_err_field(&err), "");
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		atr_err_set(&err, ATR_E_CONFIG, "row %zu", i);
		assert_int_equal(atr_err_set_field(&err, rows[i].set), -1);
		assert_string_equal(atr_err_field(&err), rows[i].want);
		assert_int_equal(err.code, ATR_E_CONFIG); /* code and sentence kept */
		assert_non_null(strstr(atr_err_msg(&err), "row"));
	}
	atr_err_set(&err, ATR_E_CONFIG, "port in use");
	atr_err_set_field(&err, "port");
	atr_err_prefix(&err, "while applying");
	assert_string_equal(atr_err_field(&err), "port");
	assert_string_equal(atr_err_msg(&err), "while applying: port in use");
	atr_err_set(&err, ATR_E_IO, NULL);
	assert_string_equal(atr_err_field(&err), "");
	atr_err_set_field(&err, "port");
	atr_err_clear(&err);
	assert_string_equal(atr_err_field(&err), "");
	assert_int_equal(atr_err_set_field(NULL, "x"), -1);
	assert_string_equal(atr_err_field(NULL), "");
}

/* An error worded twice: keytool's words before its core, the detail. */
static void
test_core(void **state)
{
	struct atr_err err;

	(void)state;
	atr_err_set(&err, ATR_E_IO, "cannot read x");
	assert_string_equal(atr_err_core(&err), "cannot read x");
	atr_err_prefix(&err, "tls_keystore %s", "/d/k.p12");
	assert_string_equal(atr_err_msg(&err), "tls_keystore /d/k.p12: cannot read x");
	assert_string_equal(atr_err_core(&err), "cannot read x");

	atr_err_set_worded(&err, ATR_E_KS_FORMAT, "Unrecognized keystore format", "the file is empty");
	assert_string_equal(atr_err_msg(&err), "Unrecognized keystore format: the file is empty");
	assert_string_equal(atr_err_core(&err), "the file is empty");
	atr_err_prefix(&err, "tls_keystore %s", "/d/k.p12");
	assert_string_equal(atr_err_core(&err), "the file is empty");

	atr_err_set_worded(&err, ATR_E_KS_KEY_PASSWORD, "Cannot recover key", NULL);
	assert_string_equal(atr_err_msg(&err), "Cannot recover key");
	assert_string_equal(atr_err_core(&err), "");

	/* A new error has its whole sentence as core again. */
	atr_err_set(&err, ATR_E_CONFIG, "bad");
	assert_string_equal(atr_err_core(&err), "bad");
	atr_err_clear(&err);
	assert_string_equal(atr_err_core(&err), atr_errcode_text(ATR_E_OK));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_round_trip),
		cmocka_unit_test(test_unknown_names),
		cmocka_unit_test(test_exit_statuses),
		cmocka_unit_test(test_http_reason),
		cmocka_unit_test(test_field),
		cmocka_unit_test(test_core),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
