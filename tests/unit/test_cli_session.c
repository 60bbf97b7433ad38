/* The session and heads files in $ATRIUM_HOME: round trips, modes, damage. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "atrium/util.h"
#include "cli/client.h"
#include "cli/session.h"

/* A fresh temporary directory per test; home is a not-yet-existing child. */
struct fixture {
	char top[64];
	char home[96];
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	snprintf(f->top, sizeof(f->top), "/tmp/test_cli_session.XXXXXX");
	if (mkdtemp(f->top) == NULL)
		return -1;
	snprintf(f->home, sizeof(f->home), "%s/home/.atrium", f->top);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->top);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static char *
path_in(const struct fixture *f, const char *name)
{
	char *p;

	assert_true(asprintf(&p, "%s/%s", f->home, name) != -1);
	return p;
}

static void
write_text(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

static void
test_session_round_trip(void **state)
{
	struct fixture *f = *state;
	struct cli_session s = {0}, r;
	struct atr_err err;
	struct stat st;
	char *file = path_in(f, "session.json");

	s.server = (char *)"http://127.0.0.1:3579";
	s.user = (char *)"alice";
	s.role = (char *)"admin";
	s.token = (char *)"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
	s.expires = (char *)"2026-11-28T06:20:00Z";
	s.admin_port = 9443;
	assert_int_equal(cli_session_save(f->home, &s, &err), 0);
	/* The directory is made 0700 and the file 0600: the token is a secret. */
	assert_int_equal(stat(f->home, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(stat(file, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(cli_session_load(f->home, &r, &err), 0);
	assert_string_equal(r.server, s.server);
	assert_string_equal(r.user, s.user);
	assert_string_equal(r.role, s.role);
	assert_string_equal(r.token, s.token);
	assert_string_equal(r.expires, s.expires);
	assert_int_equal(r.admin_port, 9443); /* where atrium admin finds the console */
	cli_session_clear(&r);
	assert_null(r.token);

	/* Optional members may be missing. */
	s.role = NULL;
	s.expires = NULL;
	assert_int_equal(cli_session_save(f->home, &s, &err), 0);
	assert_int_equal(cli_session_load(f->home, &r, &err), 0);
	assert_null(r.role);
	assert_null(r.expires);
	cli_session_clear(&r);

	assert_int_equal(cli_session_remove(f->home, &err), 0);
	assert_int_equal(cli_session_load(f->home, &r, &err), -1);
	assert_int_equal(err.code, ATR_E_NOT_FOUND);
	/* Removing twice is fine. */
	assert_int_equal(cli_session_remove(f->home, &err), 0);
	free(file);
}

static void
test_session_damaged(void **state)
{
	static const char *const bad[] = {
		"",
		"{",
		"[]",
		"{\"server\": \"http://h:1\", \"user\": \"a\"}",
		"{\"server\": 1, \"user\": \"a\", \"token\": \"t\"}",
	};
	struct fixture *f = *state;
	struct cli_session r;
	struct atr_err err;
	char *file = path_in(f, "session.json");

	assert_int_equal(atr_mkdirs(f->home, 0700, &err), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_text(file, bad[i]);
		print_message("case %zu\n", i);
		assert_int_equal(cli_session_load(f->home, &r, &err), -1);
		assert_int_not_equal(err.code, ATR_E_NOT_FOUND);
		/* The sentence names the file, so the user knows what to look at. */
		assert_non_null(strstr(atr_err_msg(&err), "session.json"));
		assert_null(r.server);
		assert_null(r.token);
	}
	free(file);
}

static void
test_session_save_incomplete(void **state)
{
	struct fixture *f = *state;
	struct cli_session s = {0};
	struct atr_err err;

	s.server = (char *)"http://h:1";
	s.user = (char *)"a";
	assert_int_equal(cli_session_save(f->home, &s, &err), -1);
}

static void
test_heads(void **state)
{
	struct fixture *f = *state;
	struct atr_err err;
	struct stat st;
	uint64_t rev = 99;
	const char *a = "http://a:1", *b = "http://b:1";
	char *file = path_in(f, "heads.json");

	assert_int_equal(cli_heads_get(f->home, a, "p", &rev), -1);
	assert_true(rev == 99);
	assert_int_equal(cli_heads_set(f->home, a, "p", 3, 0, &err), 0);
	assert_int_equal(stat(file, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(cli_heads_get(f->home, a, "p", &rev), 0);
	assert_true(rev == 3);
	/* Per server: the same name elsewhere is another project. */
	assert_int_equal(cli_heads_get(f->home, b, "p", &rev), -1);
	assert_int_equal(cli_heads_set(f->home, b, "p", 7, 0, &err), 0);
	assert_int_equal(cli_heads_get(f->home, a, "p", &rev), 0);
	assert_true(rev == 3);
	/* only_raise ignores a lower revision, takes a higher one. */
	assert_int_equal(cli_heads_set(f->home, a, "p", 2, 1, &err), 0);
	assert_int_equal(cli_heads_get(f->home, a, "p", &rev), 0);
	assert_true(rev == 3);
	assert_int_equal(cli_heads_set(f->home, a, "p", 5, 1, &err), 0);
	assert_int_equal(cli_heads_get(f->home, a, "p", &rev), 0);
	assert_true(rev == 5);
	/* Without it, a lower one is taken (project recreated). */
	assert_int_equal(cli_heads_set(f->home, a, "p", 0, 0, &err), 0);
	assert_int_equal(cli_heads_get(f->home, a, "p", &rev), 0);
	assert_true(rev == 0);
	/* Names with odd characters are just keys. */
	assert_int_equal(cli_heads_set(f->home, a, "my \"model\" \xc3\xa9", 4, 0, &err), 0);
	assert_int_equal(cli_heads_get(f->home, a, "my \"model\" \xc3\xa9", &rev), 0);
	assert_true(rev == 4);
	assert_int_equal(cli_heads_forget(f->home, a, "p", &err), 0);
	assert_int_equal(cli_heads_get(f->home, a, "p", &rev), -1);
	assert_int_equal(cli_heads_get(f->home, b, "p", &rev), 0);
	assert_true(rev == 7);
	assert_int_equal(cli_heads_forget(f->home, a, "nothing", &err), 0);

	/* A damaged file is started anew rather than blocking commits. */
	write_text(file, "{ not json");
	assert_int_equal(cli_heads_get(f->home, b, "p", &rev), -1);
	assert_int_equal(cli_heads_set(f->home, b, "q", 1, 1, &err), 0);
	assert_int_equal(cli_heads_get(f->home, b, "q", &rev), 0);
	assert_true(rev == 1);
	free(file);
}

static void
test_home(void **state)
{
	struct atr_err err;
	char *h;

	(void)state;
	setenv("ATRIUM_HOME", "/some/where", 1);
	h = cli_home(&err);
	assert_string_equal(h, "/some/where");
	free(h);
	setenv("ATRIUM_HOME", "", 1);
	setenv("HOME", "/home/zed", 1);
	h = cli_home(&err);
	assert_string_equal(h, "/home/zed/.atrium");
	free(h);
	unsetenv("ATRIUM_HOME");
	h = cli_home(&err);
	assert_string_equal(h, "/home/zed/.atrium");
	free(h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_session_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_session_damaged, setup, teardown),
		cmocka_unit_test_setup_teardown(test_session_save_incomplete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_heads, setup, teardown),
		cmocka_unit_test(test_home),
	};

	/* As in the real commands: jansson's memory is wiped when freed. */
	cli_init();
	return cmocka_run_group_tests_name("cli_session", tests, NULL, NULL);
}
