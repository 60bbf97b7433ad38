/* Log lines: the time-stamped form on a terminal or file, and the journal's
 * form ("<N>LEVEL message", no time) when stderr is the stream systemd
 * connected ($JOURNAL_STREAM = its device and inode). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atrium/log.h"

/* Runs what logs with stderr on a temporary file; returns what was written
 * (static buffer). journal: set $JOURNAL_STREAM to that file (1), to
 * another file (2) or unset it (0) before atr_log_detect_journal(). */
static const char *
capture(int journal, int *detected)
{
	static char out[4096];
	char path[] = "/tmp/atrium-test-log.XXXXXX", other[64];
	int fd = mkstemp(path), saved = dup(STDERR_FILENO);
	struct stat st;
	ssize_t n;

	assert_true(fd >= 0 && saved >= 0);
	unlink(path);
	assert_int_equal(fstat(fd, &st), 0);
	dup2(fd, STDERR_FILENO);
	if (journal == 1) {
		snprintf(other, sizeof(other), "%llu:%llu", (unsigned long long)st.st_dev,
		    (unsigned long long)st.st_ino);
		setenv("JOURNAL_STREAM", other, 1);
	} else if (journal == 2) {
		snprintf(other, sizeof(other), "%llu:%llu", (unsigned long long)st.st_dev,
		    (unsigned long long)st.st_ino + 1);
		setenv("JOURNAL_STREAM", other, 1);
	} else {
		unsetenv("JOURNAL_STREAM");
	}
	*detected = atr_log_detect_journal();
	atr_info("served %d requests", 3);
	atr_warn("a warning");
	atr_error("an error");
	atr_debug("dropped below the level");
	dup2(saved, STDERR_FILENO);
	close(saved);
	n = pread(fd, out, sizeof(out) - 1, 0);
	close(fd);
	out[n > 0 ? n : 0] = '\0';
	unsetenv("JOURNAL_STREAM");
	atr_log_detect_journal();
	return out;
}

static int
matches(const char *text, const char *re)
{
	regex_t rx;
	int rc;

	assert_int_equal(regcomp(&rx, re, REG_EXTENDED | REG_NEWLINE | REG_NOSUB), 0);
	rc = regexec(&rx, text, 0, NULL, 0) == 0;
	regfree(&rx);
	return rc;
}

static void
test_plain_lines_carry_the_time(void **state)
{
	int detected;
	const char *out = capture(0, &detected);

	(void)state;
	assert_int_equal(detected, 0);
	assert_true(matches(out, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z INFO  served 3 requests$"));
	assert_true(matches(out, "Z WARN  a warning$"));
	assert_true(matches(out, "Z ERROR an error$"));
	assert_null(strstr(out, "dropped"));
}

static void
test_the_journal_gets_priorities_and_no_time(void **state)
{
	int detected;
	const char *out = capture(1, &detected);

	(void)state;
	assert_int_equal(detected, 1);
	assert_string_equal(out, "<6>INFO  served 3 requests\n<4>WARN  a warning\n<3>ERROR an error\n");
}

static void
test_a_redirected_stderr_keeps_the_time(void **state)
{
	int detected;
	const char *out = capture(2, &detected);

	(void)state;
	assert_int_equal(detected, 0);
	assert_true(matches(out, "^[0-9]{4}-.*Z INFO  served 3 requests$"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_lines_carry_the_time),
		cmocka_unit_test(test_the_journal_gets_priorities_and_no_time),
		cmocka_unit_test(test_a_redirected_stderr_keeps_the_time),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
