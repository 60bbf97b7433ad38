/* The settings table, the key = value parser and the in-place file editor. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atrium/config.h"
#include "atrium/util.h"

static char dir[] = "/tmp/atrium-test-config-XXXXXX";

static void
write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void
test_defaults(void **state)
{
	struct atr_config *cfg = atr_config_new();

	(void)state;
	assert_string_equal(atr_config_str(cfg, "bind"), "127.0.0.1");
	assert_int_equal(atr_config_int(cfg, "port"), 3579);
	assert_int_equal(atr_config_int(cfg, "tls_port"), 10002);
	assert_int_equal(atr_config_int(cfg, "admin_port"), 8443);
	assert_true(atr_config_bool(cfg, "plain"));
	assert_true(atr_config_bool(cfg, "tls"));
	assert_string_equal(atr_config_str(cfg, "database"), "sqlite");
	assert_int_equal(atr_config_int(cfg, "max_revision_size"), 64LL << 30);
	atr_config_free(cfg);
}

struct bad_value {
	const char *key, *value, *says;
};

static void
test_bad_values(void **state)
{
	static const struct bad_value cases[] = {
		{"port", "0", "from 1 to 65535"},
		{"port", "65536", "from 1 to 65535"},
		{"port", "80a", "whole number"},
		{"plain", "maybe", "on or off"},
		{"max_revision_size", "12X", "size such as"},
		{"max_revision_size", "-5", "size such as"},
		{"log_level", "loud", "one of debug|info|warn|error"},
		{"no_such_key", "1", "unknown setting"},
	};
	struct atr_config *cfg = atr_config_new();
	struct atr_err err;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(atr_config_set(cfg, cases[i].key, cases[i].value, "test", &err), -1);
		assert_int_equal(err.code, ATR_E_CONFIG);
		assert_non_null(strstr(err.msg, cases[i].says));
	}
	assert_int_equal(atr_config_set(cfg, "max_revision_size", "2G", "test", &err), 0);
	assert_int_equal(atr_config_int(cfg, "max_revision_size"), 2LL << 30);
	assert_int_equal(atr_config_set(cfg, "plain", "OFF", "test", &err), 0);
	assert_false(atr_config_bool(cfg, "plain"));
	atr_config_free(cfg);
}

static void
test_file(void **state)
{
	char path[256];
	struct atr_config *cfg = atr_config_new();
	struct atr_err err;

	(void)state;
	snprintf(path, sizeof(path), "%s/a.conf", dir);
	write_text(path, "# comment\n\n  port = 4000   # trailing comment\nname = \"  spaced # name \"\n"
			 "bind=0.0.0.0\n");
	assert_int_equal(atr_config_load_file(cfg, path, &err), 0);
	assert_int_equal(atr_config_int(cfg, "port"), 4000);
	assert_string_equal(atr_config_str(cfg, "name"), "  spaced # name ");
	assert_string_equal(atr_config_str(cfg, "bind"), "0.0.0.0");

	write_text(path, "port = 4000\nthis line is wrong\n");
	assert_int_equal(atr_config_load_file(cfg, path, &err), -1);
	assert_non_null(strstr(err.msg, "a.conf:2: expected 'key = value'"));
	write_text(path, "name = \"unclosed\n");
	assert_int_equal(atr_config_load_file(cfg, path, &err), -1);
	assert_non_null(strstr(err.msg, "no closing quote"));
	snprintf(path, sizeof(path), "%s/missing.conf", dir);
	assert_int_equal(atr_config_load_file(cfg, path, &err), -1);
	assert_int_equal(err.code, ATR_E_NOT_FOUND);
	atr_config_free(cfg);
}

static void
test_defaults_file_round_trip(void **state)
{
	char path[256];
	struct atr_config *cfg = atr_config_new();
	struct atr_err err;

	(void)state;
	snprintf(path, sizeof(path), "%s/defaults.conf", dir);
	assert_int_equal(atr_config_write_defaults(path, &err), 0);
	assert_int_equal(atr_config_load_file(cfg, path, &err), 0);
	assert_false(atr_config_is_set(cfg, "port"));
	atr_config_free(cfg);
}

static void
test_env_and_merge(void **state)
{
	struct atr_config *cfg = atr_config_new(), *flags = atr_config_new();
	struct atr_err err;

	(void)state;
	setenv("ATRIUM_PORT", "5000", 1);
	setenv("ATRIUM_TLS", "off", 1);
	assert_int_equal(atr_config_load_env(cfg, &err), 0);
	assert_int_equal(atr_config_int(cfg, "port"), 5000);
	assert_false(atr_config_bool(cfg, "tls"));
	assert_int_equal(atr_config_set(flags, "port", "6000", "--port", &err), 0);
	assert_int_equal(atr_config_merge(cfg, flags, &err), 0);
	assert_int_equal(atr_config_int(cfg, "port"), 6000);
	assert_false(atr_config_bool(cfg, "tls"));
	setenv("ATRIUM_PORT", "nope", 1);
	assert_int_equal(atr_config_load_env(cfg, &err), -1);
	assert_non_null(strstr(err.msg, "ATRIUM_PORT"));
	unsetenv("ATRIUM_PORT");
	unsetenv("ATRIUM_TLS");
	atr_config_free(cfg);
	atr_config_free(flags);
}

static void
test_file_update(void **state)
{
	char path[256];
	unsigned char *buf;
	size_t len;
	struct atr_err err;

	(void)state;
	snprintf(path, sizeof(path), "%s/edit.conf", dir);
	write_text(path, "# keep me\n#port = 3579\nport = 1\nname = x\nport = 2\n");
	assert_int_equal(atr_config_file_update(path, "port", "4242", &err), 0);
	assert_int_equal(atr_read_file(path, 4096, &buf, &len, &err), 0);
	assert_string_equal((char *)buf, "# keep me\n#port = 3579\nport = 4242\nname = x\n");
	free(buf);
	assert_int_equal(atr_config_file_update(path, "tls_keystore", "/a b/k.p12", &err), 0);
	assert_int_equal(atr_config_file_update(path, "name", NULL, &err), 0);
	assert_int_equal(atr_read_file(path, 4096, &buf, &len, &err), 0);
	assert_string_equal((char *)buf,
	    "# keep me\n#port = 3579\nport = 4242\ntls_keystore = /a b/k.p12\n");
	free(buf);
	assert_int_equal(atr_config_file_update(path, "port", "99999", &err), -1);
	assert_int_equal(atr_config_file_update(path, "name", "two\nlines", &err), -1);
	assert_int_equal(atr_config_file_update(path, "bogus", "1", &err), -1);
}

/* An administrator's file keeps its mode and group when it is edited (the
 * console's Save, reset-tls); a new one is 0600. */
static void
test_file_update_keeps_mode(void **state)
{
	char path[256], fresh[256];
	struct stat st;
	struct atr_err err;
	gid_t gid = getegid() == 0 ? 1 : getegid(); /* another group where root may give it */

	(void)state;
	snprintf(path, sizeof(path), "%s/admin.conf", dir);
	snprintf(fresh, sizeof(fresh), "%s/fresh.conf", dir);
	write_text(path, "# the administrator's\nport = 1\n");
	assert_int_equal(chmod(path, 0640), 0);
	assert_int_equal(chown(path, (uid_t)-1, gid), 0);
	assert_int_equal(atr_config_file_update(path, "port", "4242", &err), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(st.st_gid, gid);
	assert_int_equal(atr_config_file_update(fresh, "port", "4242", &err), 0);
	assert_int_equal(stat(fresh, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
}

static int
setup(void **state)
{
	(void)state;
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Refusals name the directive as their field; several changes to one
 * text are made in memory and read back. */
static void
test_fields_and_text(void **state)
{
	static const struct {
		const char *text;
		const char *field;
	} bad[] = {
		{"tls_port = 70000\n", "tls_port"},
		{"plain = maybe\n", "plain"},
		{"no_such_key = 1\n", "no_such_key"},
		{"name = \"open\n", "name"},
		{"just words\n", ""},
	};
	static const char before[] = "# c\ntls_port = 1\n";
	struct atr_config *cfg;
	struct atr_err err;
	char *a = NULL, *b = NULL;
	size_t alen = 0, blen = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cfg = atr_config_new();
		assert_int_equal(atr_config_load_text(cfg, bad[i].text, strlen(bad[i].text),
		    "atrium.conf", &err), -1);
		assert_string_equal(atr_err_field(&err), bad[i].field);
		atr_config_free(cfg);
	}
	assert_int_equal(atr_config_text_set(before, strlen(before), "tls_port", "2", &a, &alen,
	    &err), 0);
	assert_int_equal(atr_config_text_set(a, alen, "tls", "off", &b, &blen, &err), 0);
	assert_string_equal(b, "# c\ntls_port = 2\ntls = off\n");
	cfg = atr_config_new();
	assert_int_equal(atr_config_load_text(cfg, b, blen, "atrium.conf", &err), 0);
	assert_int_equal(atr_config_int(cfg, "tls_port"), 2);
	assert_int_equal(atr_config_bool(cfg, "tls"), 0);
	atr_config_free(cfg);
	free(a);
	free(b);
	assert_int_equal(atr_config_text_set(NULL, 0, "tls_port", "0", &a, &alen, &err), -1);
	assert_string_equal(atr_err_field(&err), "tls_port");
	assert_null(a);
	assert_int_equal(atr_config_text_set(NULL, 0, "name", "a\"b", &a, &alen, &err), -1);
	assert_string_equal(atr_err_field(&err), "name");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_file),
		cmocka_unit_test(test_defaults_file_round_trip),
		cmocka_unit_test(test_env_and_merge),
		cmocka_unit_test(test_file_update),
		cmocka_unit_test(test_file_update_keeps_mode),
		cmocka_unit_test(test_fields_and_text),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
