/*
 * Failed logins, counted per client address and per user name over a
 * 15-minute window, for every way of logging in (API session, console,
 * Basic authentication). One table per process: nodes sharing a database
 * count separately.
 */
#ifndef ATRIUM_SERVER_LOGINS_H
#define ATRIUM_SERVER_LOGINS_H

#include <stdint.h>

struct req;

#define LOGIN_WINDOW (15 * 60)

/* Seconds r's client must wait before trying user again; 0: go ahead.
 * When it must wait, r is answered 429 with Retry-After. */
int64_t logins_check(struct req *r, const char *user);

/* Counts a failed login for r's client address and for user. */
void logins_failed(struct req *r, const char *user);

#endif
