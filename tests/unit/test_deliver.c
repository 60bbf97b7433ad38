/* integration_retries (deliver_schedule_parse): the schedules accepted,
 * what they mean in milliseconds, and the ones refused, naming the
 * setting. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "server/deliver.h"

static void
test_schedules(void **state)
{
	static const struct {
		const char *text;
		int n;
		int64_t first, last;
	} good[] = {
		{"5s,5m,30m,2h,5h,10h,14h,20h,24h", 9, 5000, 24LL * 3600000},
		{"1s", 1, 1000, 1000},
		{" 1s , 2m ,3h,1d ", 4, 1000, 86400000},
		{"", 0, 0, 0},
		{"1s,,2s", 2, 1000, 2000},
		{"7d", 1, 7LL * 86400000, 7LL * 86400000},
	};
	static const char *const bad[] = {
		"5", "s", "5x", "-5s", "0s", "8d", "1.5s", "5s,5", "5 s 5s", "5ss", "99999999s",
	};
	int64_t ms[32];
	int n;
	struct atr_err err;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (deliver_schedule_parse(good[i].text, ms, 32, &n, &err) == -1)
			fail_msg("'%s' refused: %s", good[i].text, err.msg);
		assert_int_equal(n, good[i].n);
		if (n > 0) {
			assert_int_equal(ms[0], good[i].first);
			assert_int_equal(ms[n - 1], good[i].last);
		}
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (deliver_schedule_parse(bad[i], ms, 32, &n, &err) == 0)
			fail_msg("'%s' accepted", bad[i]);
		assert_int_equal(err.code, ATR_E_CONFIG);
		assert_string_equal(atr_err_field(&err), "integration_retries");
	}
	/* More waits than room: refused, not cut. */
	assert_int_equal(deliver_schedule_parse("1s,1s,1s", ms, 2, &n, &err), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_schedules),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
