/* The failed-login limit when its shared table of addresses and unknown
 * names is full (logins.c): locks are never pushed out, known users are
 * still counted and may log in, and new unknown names are refused. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "server/logins.h"
#include "server/req_int.h"

#define MAX 5
#define SLOTS 1024 /* logins.c's table */

static struct runtime rt;

static void
no_callback(struct req *r)
{
	(void)r;
}

/* A request from peer, as conn.c would make it. */
static struct req *
from(const char *peer)
{
	static const struct req_owner owner = {.finish = no_callback, .begun = no_callback};
	struct req_env env = {.rt = &rt};
	struct req *r = req_new(&owner, &env, peer, 0);

	assert_non_null(r);
	return r;
}

/* One password check of user from peer: 200 when it may go ahead (then the
 * password is taken as right or wrong), 429 when refused. */
static int
attempt(const char *peer, const char *user, int exists, int right)
{
	struct req *r = from(peer);
	struct login_try t;
	int status = 200;

	if (logins_begin(r, &t, user, exists) == -1) {
		status = r->status;
		assert_int_equal(status, 429);
	} else {
		logins_end(r, &t, right);
	}
	req_free(r);
	return status;
}

static void
test_a_full_table_of_locks_keeps_every_lock(void **state)
{
	char peer[64], name[64];

	(void)state;
	atomic_store(&rt.login_attempts, MAX);

	/* ev, a real user, is locked by five wrong passwords. */
	for (int i = 0; i < MAX; i++)
		assert_int_equal(attempt("10.0.0.1", "ev", 1, 0), 200);
	assert_int_equal(attempt("10.0.0.2", "ev", 1, 1), 429);

	/* Every slot of the shared table locked: 10.0.0.1 holds one; 511
	 * addresses each lock one made-up name of their own (two slots each);
	 * one more address locks itself on a real user (one slot). */
	for (int a = 0; a < SLOTS / 2 - 1; a++) {
		snprintf(peer, sizeof(peer), "10.1.%d.%d", a / 250, a % 250 + 1);
		snprintf(name, sizeof(name), "nobody-%d", a);
		for (int i = 0; i < MAX; i++)
			assert_int_equal(attempt(peer, name, 0, 0), 200);
		assert_int_equal(attempt(peer, name, 0, 0), 429);
	}
	for (int i = 0; i < MAX; i++)
		assert_int_equal(attempt("10.9.9.9", "hal", 1, 0), 200);
	assert_int_equal(attempt("10.9.9.9", "hal", 1, 1), 429);

	/* A flood of new addresses and names cannot push a lock out... */
	for (int a = 0; a < 2 * SLOTS; a++) {
		snprintf(peer, sizeof(peer), "10.2.%d.%d", a / 250, a % 250 + 1);
		snprintf(name, sizeof(name), "flood-%d", a);
		assert_int_equal(attempt(peer, name, 0, 0), 429); /* no slot: refused */
	}
	assert_int_equal(attempt("10.0.0.3", "ev", 1, 1), 429);
	assert_int_equal(attempt("10.1.0.1", "nobody-0", 0, 0), 429);
	assert_int_equal(attempt("10.1.2.11", "nobody-510", 0, 0), 429);
	/* ...and a locked address stays locked for every user. */
	assert_int_equal(attempt("10.1.0.1", "fay", 1, 1), 429);

	/* A real user from a new address is not locked out by the full table
	 * (the address goes uncounted) and is still limited per user. */
	assert_int_equal(attempt("10.3.0.1", "fay", 1, 1), 200);
	for (int i = 0; i < MAX; i++)
		assert_int_equal(attempt("10.3.0.2", "gus", 1, 0), 200);
	assert_int_equal(attempt("10.3.0.3", "gus", 1, 1), 429);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_full_table_of_locks_keeps_every_lock),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
