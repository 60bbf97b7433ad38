/*
 * Failed-login counting, in two kinds of counter so that nobody's failures
 * can push out a lock on someone else:
 *
 *  - Users that exist: one counter each in a list that grows with them
 *    (so by at most the number of accounts) and is never evicted; a
 *    counter goes only when its window has passed.
 *  - Client addresses, and names that match no account: a fixed table of
 *    SLOTS, since anyone can make up more of those. When it is full the
 *    oldest counter that is neither locked nor in use is reused: that
 *    forgets at most a few failures short of a lock, never a lock. When
 *    every slot is locked or in use, a new address goes uncounted (its
 *    attempts are still limited per user; refusing it would let whoever
 *    fills the table lock every new client out) and a new unknown name is
 *    refused with 429, like a locked name: it has no password to guess.
 *
 * Callers look the user up before logins_begin() to say which kind. Unknown
 * names are counted and locked like known ones, so the answers (401, then
 * 429) do not tell which names exist; only someone who keeps the whole
 * table locked (1,024 addresses or names, 5 failures each, every 15
 * minutes) sees new unknown names refused at once.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atrium/log.h"
#include "atrium/util.h"
#include "server/http.h"
#include "server/logins.h"
#include "server/runtime.h"

#define SLOTS 1024
#define KEY_MAX 200

enum { HELD_ADDRESS = 1, HELD_USER = 2 };

struct counter {
	char key[KEY_MAX]; /* "a:ADDRESS" or "u:USER"; "" when free */
	int failures;      /* in this window, checks in progress included */
	int busy;          /* checks in progress: such a counter stays */
	int64_t since;     /* the window's start */
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct counter shared[SLOTS];
static struct counter *known;
static size_t nknown, known_cap;
static int64_t full_warned;

/* 1 when c counts nothing any more: its slot may be taken. */
static int
spent(const struct counter *c, int64_t now)
{
	return c->key[0] == '\0' ||
	    (c->busy == 0 && (c->failures == 0 || now - c->since > LOGIN_WINDOW));
}

/* Seconds until c's lock ends; 0 when it is not locked. */
static int64_t
lock_left(const struct counter *c, int max, int64_t now)
{
	if (c->failures < max)
		return 0;
	return c->since + LOGIN_WINDOW - now;
}

static struct counter *
shared_find(const char *key, int64_t now)
{
	for (int i = 0; i < SLOTS; i++)
		if (!spent(&shared[i], now) && strcmp(shared[i].key, key) == 0)
			return &shared[i];
	return NULL;
}

/* key's counter in the shared table, taken when it has none; NULL when
 * every slot is locked or in use. */
static struct counter *
shared_get(const char *key, int max, int64_t now)
{
	struct counter *c = shared_find(key, now), *reuse = NULL;

	if (c != NULL)
		return c;
	for (int i = 0; i < SLOTS && (reuse == NULL || !spent(reuse, now)); i++) {
		struct counter *s = &shared[i];
		if (spent(s, now))
			reuse = s;
		else if (s->busy == 0 && lock_left(s, max, now) <= 0 &&
		    (reuse == NULL || s->since < reuse->since))
			reuse = s; /* unlocked: forgets failures, never a lock */
	}
	if (reuse == NULL)
		return NULL;
	memset(reuse, 0, sizeof(*reuse));
	snprintf(reuse->key, sizeof(reuse->key), "%s", key);
	reuse->since = now;
	return reuse;
}

/* key's counter among existing users; found only (create 0), or made
 * (create 1; NULL when out of memory). Drops spent counters on the way. */
static struct counter *
known_get(const char *key, int create, int64_t now)
{
	for (size_t i = 0; i < nknown;) {
		if (spent(&known[i], now)) {
			known[i] = known[--nknown];
			continue;
		}
		if (strcmp(known[i].key, key) == 0)
			return &known[i];
		i++;
	}
	if (!create)
		return NULL;
	if (nknown == known_cap) {
		size_t cap = known_cap ? known_cap * 2 : 64;
		struct counter *k = realloc(known, cap * sizeof(*k));
		if (k == NULL)
			return NULL;
		known = k;
		known_cap = cap;
	}
	memset(&known[nknown], 0, sizeof(known[0]));
	snprintf(known[nknown].key, sizeof(known[0].key), "%s", key);
	known[nknown].since = now;
	return &known[nknown++];
}

static void
hold(struct counter *c, int64_t now)
{
	if (c->failures == 0 || now - c->since > LOGIN_WINDOW) {
		/* A new window from this failure; checks still in progress
		 * count in it. */
		c->failures = c->busy;
		c->since = now;
	}
	c->failures++;
	c->busy++;
}

static void
release(struct counter *c, int ok)
{
	c->busy--;
	if (ok)
		c->failures--;
}

static void
keys(struct req *r, const char *user, char k[2][KEY_MAX])
{
	snprintf(k[0], KEY_MAX, "a:%s", req_peer(r));
	snprintf(k[1], KEY_MAX, "u:%.190s", user);
}

/* Reserves t's attempt on both counters (mu held): 0, or the wait when it
 * may not go ahead (then nothing is held). */
static int64_t
reserve(struct login_try *t, char k[2][KEY_MAX], int max, int64_t now)
{
	struct counter *a = shared_get(k[0], max, now), *u;
	int64_t wait = 0, w;

	if (a != NULL && (wait = lock_left(a, max, now)) <= 0) {
		hold(a, now); /* held first, so taking u's slot cannot reuse a's */
		t->held |= HELD_ADDRESS;
	}
	u = t->exists ? known_get(k[1], 1, now) : shared_get(k[1], max, now);
	/* No counter for u: the table is full of locks, or memory is out. */
	w = u == NULL ? LOGIN_WINDOW : lock_left(u, max, now);
	if (w > wait)
		wait = w;
	if (wait > 0) {
		if (t->held & HELD_ADDRESS)
			release(a, 1);
		t->held = 0;
		return wait;
	}
	hold(u, now);
	t->held |= HELD_USER;
	return 0;
}

int
logins_begin(struct req *r, struct login_try *t, const char *user, int exists)
{
	char k[2][KEY_MAX], text[32];
	int64_t now = atr_now_ms() / 1000, wait;
	int max = atomic_load(&req_runtime(r)->login_attempts), warn = 0;

	t->user = user;
	t->exists = exists;
	t->held = 0;
	keys(r, user, k);
	pthread_mutex_lock(&mu);
	wait = reserve(t, k, max, now);
	if (wait <= 0 && !(t->held & HELD_ADDRESS) && now - full_warned >= 60) {
		full_warned = now;
		warn = 1;
	}
	pthread_mutex_unlock(&mu);
	if (warn)
		atr_warn("the failed-login table is full of locks: logins from %s are "
			 "counted per user only", req_peer(r));
	if (wait <= 0)
		return 0;
	atr_warn("login for '%s' from %s refused: too many failed attempts", user, req_peer(r));
	resp_error(r, ATR_E_RATE_LIMITED, "too many failed logins; try again in %lld minutes",
	    (long long)(wait + 59) / 60);
	snprintf(text, sizeof(text), "%lld", (long long)wait);
	resp_header(r, "Retry-After", text);
	return -1;
}

void
logins_end(struct req *r, const struct login_try *t, int ok)
{
	char k[2][KEY_MAX];
	int64_t now = atr_now_ms() / 1000;
	struct counter *c;

	keys(r, t->user, k);
	pthread_mutex_lock(&mu);
	/* A held counter is busy, so it is still there: never reused, never
	 * expired. */
	if ((t->held & HELD_ADDRESS) && (c = shared_find(k[0], now)) != NULL)
		release(c, ok);
	if ((t->held & HELD_USER) &&
	    (c = t->exists ? known_get(k[1], 0, now) : shared_find(k[1], now)) != NULL)
		release(c, ok);
	pthread_mutex_unlock(&mu);
}
