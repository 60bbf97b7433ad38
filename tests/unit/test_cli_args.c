/* The client's option parser and number parser, table-driven. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli/args.h"
#include "cli/cli.h"

enum { O_USER, O_PLAIN, O_MESSAGE, O_BASE };

static const struct cli_opt opts[] = {
	[O_USER] = {"user", 'u', "USER", "who"},
	[O_PLAIN] = {"plain", 0, NULL, "no TLS"},
	[O_MESSAGE] = {"message", 'm', "MSG", "what"},
	[O_BASE] = {"base", 0, "N", "on what"},
	{NULL, 0, NULL, NULL},
};

#define MAXA 12

struct args_case {
	const char *argv[MAXA];	/* after the command name, NULL-terminated */
	int rc;			/* 0 or -1 */
	int help;
	const char *user, *plain, *message, *base;
	const char *pos[4];	/* expected positionals, NULL-terminated */
	const char *msg;	/* a part of the error sentence */
};

static const struct args_case cases[] = {
	{{NULL}, 0, 0, NULL, NULL, NULL, NULL, {NULL}, NULL},
	{{"host", NULL}, 0, 0, NULL, NULL, NULL, NULL, {"host", NULL}, NULL},
	{{"-u", "alice", "host", NULL}, 0, 0, "alice", NULL, NULL, NULL, {"host", NULL}, NULL},
	{{"-ualice", "host", NULL}, 0, 0, "alice", NULL, NULL, NULL, {"host", NULL}, NULL},
	{{"--user=bob", "--plain", "h:1", NULL}, 0, 0, "bob", "", NULL, NULL, {"h:1", NULL}, NULL},
	{{"h", "--user", "carol", NULL}, 0, 0, "carol", NULL, NULL, NULL, {"h", NULL}, NULL},
	{{"-u", "a", "-u", "b", NULL}, 0, 0, "b", NULL, NULL, NULL, {NULL}, NULL},
	/* A value that looks like an option is still the value. */
	{{"-m", "-fix ports", "p", "f", NULL}, 0, 0, NULL, NULL, "-fix ports", NULL, {"p", "f", NULL}, NULL},
	{{"--message=", "p", NULL}, 0, 0, NULL, NULL, "", NULL, {"p", NULL}, NULL},
	{{"--", "-odd", "--plain", NULL}, 0, 0, NULL, NULL, NULL, NULL, {"-odd", "--plain", NULL}, NULL},
	{{"-", NULL}, 0, 0, NULL, NULL, NULL, NULL, {"-", NULL}, NULL},
	{{"--base", "3", "p", "f", "-m", "x", NULL}, 0, 0, NULL, NULL, "x", "3", {"p", "f", NULL}, NULL},
	{{"--help", NULL}, 0, 1, NULL, NULL, NULL, NULL, {NULL}, NULL},
	{{"-h", NULL}, 0, 1, NULL, NULL, NULL, NULL, {NULL}, NULL},
	/* --help wins over whatever else is wrong. */
	{{"--bogus", "--help", NULL}, 0, 1, NULL, NULL, NULL, NULL, {NULL}, NULL},
	{{"--bogus", NULL}, -1, 0, NULL, NULL, NULL, NULL, {NULL}, "unknown option '--bogus'"},
	{{"-x", NULL}, -1, 0, NULL, NULL, NULL, NULL, {NULL}, "unknown option '-x'"},
	{{"-u", NULL}, -1, 0, NULL, NULL, NULL, NULL, {NULL}, "needs a value"},
	{{"--user", NULL}, -1, 0, NULL, NULL, NULL, NULL, {NULL}, "needs a value (USER)"},
	{{"--plain=yes", NULL}, -1, 0, NULL, NULL, NULL, NULL, {NULL}, "takes no value"},
	{{"--pla", NULL}, -1, 0, NULL, NULL, NULL, NULL, {NULL}, "unknown option"},
	{{"1", "2", "3", "4", "5", "6", "7", "8", "9", NULL}, -1, 0, NULL, NULL, NULL, NULL, {NULL},
	    "too many arguments"},
};

static void
eq_or_null(const char *want, const char *got)
{
	if (want == NULL)
		assert_null(got);
	else
		assert_string_equal(want, got);
}

static void
test_args_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct args_case *c = &cases[i];
		char *argv[MAXA + 1], msg[256];
		struct cli_args a;
		int argc = 0, rc, npos = 0;

		argv[argc++] = (char *)"cmd";
		while (c->argv[argc - 1] != NULL)
			argv[argc] = (char *)c->argv[argc - 1], argc++;
		argv[argc] = NULL;
		rc = cli_args_parse(opts, argc, argv, &a, msg, sizeof(msg));
		print_message("case %zu\n", i);
		assert_int_equal(rc, c->rc);
		if (rc == -1) {
			assert_non_null(strstr(msg, c->msg));
			continue;
		}
		assert_int_equal(a.help, c->help);
		eq_or_null(c->user, a.val[O_USER]);
		eq_or_null(c->plain, a.val[O_PLAIN]);
		eq_or_null(c->message, a.val[O_MESSAGE]);
		eq_or_null(c->base, a.val[O_BASE]);
		while (c->pos[npos] != NULL)
			npos++;
		assert_int_equal(a.npos, npos);
		for (int k = 0; k < npos; k++)
			assert_string_equal(a.pos[k], c->pos[k]);
	}
}

static void
test_parse_u64(void **state)
{
	static const struct {
		const char *s;
		uint64_t min, max;
		int rc;
		uint64_t v;
	} t[] = {
		{"0", 0, 10, 0, 0},
		{"10", 0, 10, 0, 10},
		{"11", 0, 10, -1, 0},
		{"0", 1, 10, -1, 0},
		{"007", 0, 10, 0, 7},
		{"", 0, 10, -1, 0},
		{"-1", 0, 10, -1, 0},
		{"+1", 0, 10, -1, 0},
		{" 1", 0, 10, -1, 0},
		{"1 ", 0, 10, -1, 0},
		{"1x", 0, 10, -1, 0},
		{"18446744073709551615", 0, UINT64_MAX, 0, UINT64_MAX},
		{"18446744073709551616", 0, UINT64_MAX, -1, 0},
		{"99999999999999999999999", 0, UINT64_MAX, -1, 0},
		{"9223372036854775808", 0, INT64_MAX, -1, 0},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		uint64_t v = 12345;

		print_message("case %zu: '%s'\n", i, t[i].s);
		assert_int_equal(cli_parse_u64(t[i].s, t[i].min, t[i].max, &v), t[i].rc);
		if (t[i].rc == 0)
			assert_true(v == t[i].v);
		else
			assert_true(v == 12345);
	}
	assert_int_equal(cli_parse_u64(NULL, 0, 1, &(uint64_t){0}), -1);
}

static void
test_usage_print(void **state)
{
	static const struct cli_usage u = {"atrium thing", "[OPTIONS] NAME", "Does a thing.", opts};
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	(void)state;
	assert_non_null(f);
	cli_usage_print(f, &u);
	fclose(f);
	assert_non_null(strstr(text, "Usage: atrium thing [OPTIONS] NAME\n"));
	assert_non_null(strstr(text, "Does a thing."));
	assert_non_null(strstr(text, "-u, --user USER"));
	assert_non_null(strstr(text, "    --plain"));
	assert_non_null(strstr(text, "-h, --help"));
	free(text);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_args_table),
		cmocka_unit_test(test_parse_u64),
		cmocka_unit_test(test_usage_print),
	};

	return cmocka_run_group_tests_name("cli_args", tests, NULL, NULL);
}
