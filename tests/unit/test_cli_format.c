/* What the client prints: sizes, times, progress lines, tables, sanitizing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "cli/output.h"
#include "cli/progress.h"

static void
test_format_size(void **state)
{
	static const struct {
		uint64_t n;
		const char *s;
	} t[] = {
		{0, "0 B"},
		{1, "1 B"},
		{1023, "1023 B"},
		{1024, "1.0 KiB"},
		{1536, "1.5 KiB"},
		{1024 * 1024 - 1, "1.0 MiB"},
		{1024 * 1024, "1.0 MiB"},
		{(uint64_t)300 * 1024 * 1024, "300.0 MiB"},
		{(uint64_t)5 * 1024 * 1024 * 1024, "5.0 GiB"},
		{UINT64_MAX, "16.0 EiB"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char buf[32];

		cli_format_size(t[i].n, buf, sizeof(buf));
		assert_string_equal(buf, t[i].s);
	}
}

static void
test_format_time(void **state)
{
	static const struct {
		const char *in, *out;
	} t[] = {
		{"2026-11-27T06:20:00Z", "2026-11-27 06:20"},
		{"2026-11-27T06:20:59.123456Z", "2026-11-27 06:20"},
		{"2026-11-27T08:20:00+02:00", "2026-11-27 06:20"},
		{"2026-11-26T23:50:00-06:30", "2026-11-27 06:20"},
		{"2026-11-27", "2026-11-27"},
		{"yesterday", "yesterday"},
		{"2026-11-27T06:20:00Zjunk", "2026-11-27T06:20:00Zjunk"},
		{"bad\x1b[31mred", "bad [31mred"},
	};
	char buf[64];

	(void)state;
	setenv("TZ", "UTC", 1);
	tzset();
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		cli_format_time(t[i].in, buf, sizeof(buf));
		assert_string_equal(buf, t[i].out);
	}
	cli_format_time(NULL, buf, sizeof(buf));
	assert_string_equal(buf, "-");
	/* Local time is shown in the user's zone. */
	setenv("TZ", "Europe/Berlin", 1);
	tzset();
	cli_format_time("2026-11-27T06:20:00Z", buf, sizeof(buf));
	assert_string_equal(buf, "2026-11-27 07:20");
	setenv("TZ", "UTC", 1);
	tzset();
}

static void
test_sanitize(void **state)
{
	char buf[16];

	(void)state;
	cli_sanitize(buf, sizeof(buf), "a\tb\nc\x7f" "d");
	assert_string_equal(buf, "a b c d");
	cli_sanitize(buf, 4, "abcdef");
	assert_string_equal(buf, "abc");
	cli_sanitize(buf, sizeof(buf), "caf\xc3\xa9");
	assert_string_equal(buf, "caf\xc3\xa9");
}

static void
test_progress_line(void **state)
{
	const uint64_t mib = 1024 * 1024;
	char buf[512];
	size_t n;

	(void)state;
	n = cli_progress_line(buf, sizeof(buf), 100, "checkout model", 150 * mib, 300 * mib, 2.0);
	assert_int_equal(n, strlen(buf));
	assert_true(n <= 99);
	assert_non_null(strstr(buf, "checkout model  50% ["));
	assert_non_null(strstr(buf, "150.0 MiB / 300.0 MiB"));
	assert_non_null(strstr(buf, "75.0 MiB/s"));
	assert_non_null(strstr(buf, "0:02"));
	/* Half the bar is filled. */
	{
		const char *open = strchr(buf, '['), *close = strchr(buf, ']');
		size_t w = (size_t)(close - open - 1), fill = 0;

		for (const char *p = open + 1; p < close; p++)
			fill += *p == '=';
		assert_true(fill == w / 2);
	}
	/* Finished: 100%, the whole bar, and the elapsed time. */
	cli_progress_line(buf, sizeof(buf), 100, "commit m", 300 * mib, 300 * mib, 4.0);
	assert_non_null(strstr(buf, "100% [="));
	assert_null(strchr(buf, '>'));
	/* Narrow terminals shed the bar, the time and the rate, never overflow. */
	for (int w = 20; w <= 200; w++) {
		n = cli_progress_line(buf, sizeof(buf), w, "checkout a-rather-long-project-name",
		    123 * mib, 300 * mib, 3.0);
		assert_true(n <= (size_t)(w - 1));
		assert_int_equal(n, strlen(buf));
	}
	/* No rate before half a second has passed. */
	cli_progress_line(buf, sizeof(buf), 120, "x", 1, 300 * mib, 0.1);
	assert_null(strstr(buf, "/s"));
	/* A tiny buffer is still NUL-terminated. */
	n = cli_progress_line(buf, 8, 120, "x", 1, 2, 1.0);
	assert_true(n < 8);
	assert_int_equal(strlen(buf), n);
}

static void
test_progress_off_without_tty(void **state)
{
	(void)state;
	/* Tests run with stderr redirected: no bar, and NULL is harmless. */
	assert_null(cli_progress_new("x", 100 * CLI_PROGRESS_MIN));
	assert_null(cli_progress_new("x", CLI_PROGRESS_MIN));
	cli_progress_update(NULL, 5);
	cli_progress_finish(NULL, 1);
	cli_progress_free(NULL);
}

static void
test_table(void **state)
{
	static const char *const headers[] = {"NAME", "HEAD", "DESCRIPTION"};
	static const char *const r1[] = {"alpha", "12", "first"};
	static const char *const r2[] = {"b\xc3\xa9ta", "3", "second\nline"};
	static const char *const r3[] = {"c", NULL, ""};
	struct cli_table *t = cli_table_new(3, headers, 1u << 1);
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	assert_non_null(t);
	assert_int_equal(cli_table_add(t, r1), 0);
	assert_int_equal(cli_table_add(t, r2), 0);
	assert_int_equal(cli_table_add(t, r3), 0);
	f = open_memstream(&text, &len);
	assert_non_null(f);
	cli_table_print(t, f);
	fclose(f);
	assert_string_equal(text,
	    "NAME   HEAD  DESCRIPTION\n"
	    "alpha    12  first\n"
	    "b\xc3\xa9ta      3  second line\n"
	    "c\n");
	free(text);
	cli_table_free(t);
	cli_table_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_size),
		cmocka_unit_test(test_format_time),
		cmocka_unit_test(test_sanitize),
		cmocka_unit_test(test_progress_line),
		cmocka_unit_test(test_progress_off_without_tty),
		cmocka_unit_test(test_table),
	};

	return cmocka_run_group_tests_name("cli_format", tests, NULL, NULL);
}
