/*
 * Failed logins, counted per client address and per user name over a
 * 15-minute window, for every check of a user's password (API session,
 * console, Basic authentication, the old password of a password change).
 * One table per process: nodes sharing a database count separately.
 *
 * Every check is bracketed: logins_begin() counts the attempt as failed
 * before the password is checked, logins_end() gives the count back when
 * the password was right. So concurrent attempts cannot all slip under the
 * limit while their passwords are being checked.
 */
#ifndef ATRIUM_SERVER_LOGINS_H
#define ATRIUM_SERVER_LOGINS_H

#include <stdint.h>

struct req;

#define LOGIN_WINDOW (15 * 60)

/* One password check in progress, kept on the caller's stack between
 * logins_begin() and logins_end(); its fields are logins.c's business. */
struct login_try {
	const char *user; /* borrowed: must outlive the check */
	int exists;
	unsigned held;
};

/* Begins a check of user's password for r's client; exists: user names
 * an account. 0: go ahead, the attempt is counted (call logins_end()).
 * -1: r's client must wait, and r is answered 429 with Retry-After. */
int logins_begin(struct req *r, struct login_try *t, const char *user, int exists);

/* Ends a check begun by logins_begin(): ok (the password was right) gives
 * the attempt back; otherwise it stays counted as a failure. */
void logins_end(struct req *r, const struct login_try *t, int ok);

#endif
