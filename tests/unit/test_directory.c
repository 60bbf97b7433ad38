/* The directory_* settings (directory.c): which values directory_check_config()
 * accepts, and that each refusal names its setting, table-driven. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "atrium/config.h"
#include "server/directory.h"

static void
test_settings(void **state)
{
	static const struct {
		const char *key, *value;
		const char *field; /* NULL: accepted */
	} cases[] = {
		{"directory_urls", "", NULL},
		{"directory_urls", "ldaps://dc1.corp.example:636", NULL},
		{"directory_urls", "ldap://dc1.corp.example", NULL},
		{"directory_urls", "ldaps://a:636 ldaps://b:636,ldap://c:389", NULL},
		{"directory_urls", "ldaps://[::1]:636", NULL},
		{"directory_urls", "https://dc1.corp.example", "directory_urls"},
		{"directory_urls", "ldapi:///var/run/slapd.sock", "directory_urls"},
		{"directory_urls", "ldaps://", "directory_urls"},
		{"directory_urls", "dc1.corp.example", "directory_urls"},
		{"directory_urls", "ldaps://dc1/dc=corp,dc=example", "directory_urls"},
		{"directory_urls", "ldaps://a ldaps://b ldaps://c ldaps://d ldaps://e ldaps://f "
		    "ldaps://g ldaps://h ldaps://i", "directory_urls"},
		{"directory_group_map", "", NULL},
		{"directory_group_map", "atrium-admins:admin", NULL},
		{"directory_group_map", " admins : admin ; modelers:user; ", NULL},
		{"directory_group_map", "cn=admins,ou=groups,dc=corp,dc=example:admin", NULL},
		{"directory_group_map", "admins", "directory_group_map"},
		{"directory_group_map", "admins:root", "directory_group_map"},
		{"directory_group_map", "admins:none", "directory_group_map"},
		{"directory_group_map", ":admin", "directory_group_map"},
	};
	struct atr_err err;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct atr_config *cfg = atr_config_new();
		int rc;

		assert_non_null(cfg);
		/* A user base makes the URLs' cases about the URLs alone. */
		assert_int_equal(atr_config_set(cfg, "directory_user_base", "ou=people", "test", &err), 0);
		assert_int_equal(atr_config_set(cfg, cases[i].key, cases[i].value, "test", &err), 0);
		rc = directory_check_config(cfg, &err);
		if ((rc == 0) != (cases[i].field == NULL))
			fail_msg("%s = '%s': %s", cases[i].key, cases[i].value,
			    rc == 0 ? "accepted" : err.msg);
		if (rc == -1) {
			assert_int_equal(err.code, ATR_E_CONFIG);
			assert_string_equal(atr_err_field(&err), cases[i].field);
		}
		atr_config_free(cfg);
	}
}

/* With servers, a user base and a filter with {user} are required. */
static void
test_required(void **state)
{
	static const struct {
		const char *base, *filter, *field;
	} cases[] = {
		{"ou=people", "(uid={user})", NULL},
		{"", "(uid={user})", "directory_user_base"},
		{"ou=people", "(uid=alice)", "directory_user_filter"},
	};
	struct atr_err err;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct atr_config *cfg = atr_config_new();
		int rc;

		assert_non_null(cfg);
		assert_int_equal(atr_config_set(cfg, "directory_urls", "ldaps://dc1:636", "t", &err), 0);
		assert_int_equal(atr_config_set(cfg, "directory_user_base", cases[i].base, "t", &err), 0);
		assert_int_equal(atr_config_set(cfg, "directory_user_filter", cases[i].filter, "t", &err),
		    0);
		rc = directory_check_config(cfg, &err);
		if ((rc == 0) != (cases[i].field == NULL))
			fail_msg("case %zu: %s", i, rc == 0 ? "accepted" : err.msg);
		if (rc == -1)
			assert_string_equal(atr_err_field(&err), cases[i].field);
		atr_config_free(cfg);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_settings),
		cmocka_unit_test(test_required),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
