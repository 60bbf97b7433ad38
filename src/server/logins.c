/* Failed-login counting: a fixed table, oldest entry reused when full. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "atrium/log.h"
#include "atrium/util.h"
#include "server/http.h"
#include "server/logins.h"
#include "server/server_int.h"

#define SLOTS 1024

struct attempt {
	char key[200]; /* "a:ADDRESS" or "u:USER" */
	int failures;
	int64_t since;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct attempt attempts[SLOTS];

static struct attempt *
slot(const char *key, int64_t now, int create)
{
	struct attempt *oldest = &attempts[0];

	for (int i = 0; i < SLOTS; i++) {
		struct attempt *a = &attempts[i];
		if (a->key[0] != '\0' && now - a->since > LOGIN_WINDOW)
			a->key[0] = '\0'; /* the window passed */
		if (a->key[0] != '\0' && strcmp(a->key, key) == 0)
			return a;
		if (a->key[0] == '\0' || a->since < oldest->since)
			oldest = a;
	}
	if (!create)
		return NULL;
	memset(oldest, 0, sizeof(*oldest));
	snprintf(oldest->key, sizeof(oldest->key), "%s", key);
	oldest->since = now;
	return oldest;
}

static void
keys(struct req *r, const char *user, char k[2][200])
{
	snprintf(k[0], sizeof(k[0]), "a:%s", req_peer(r));
	snprintf(k[1], sizeof(k[1]), "u:%.190s", user);
}

int64_t
logins_check(struct req *r, const char *user)
{
	char k[2][200], text[32];
	int64_t now = atr_now_ms() / 1000, wait = 0;
	int max = atomic_load(&req_server(r)->login_attempts);

	keys(r, user, k);
	pthread_mutex_lock(&mu);
	for (int i = 0; i < 2; i++) {
		struct attempt *a = slot(k[i], now, 0);
		if (a != NULL && a->failures >= max) {
			int64_t w = a->since + LOGIN_WINDOW - now;
			if (w > wait)
				wait = w;
		}
	}
	pthread_mutex_unlock(&mu);
	if (wait <= 0)
		return 0;
	atr_warn("login for '%s' from %s refused: too many failed attempts", user, req_peer(r));
	resp_error(r, ATR_E_RATE_LIMITED, "too many failed logins; try again in %lld minutes",
	    (long long)(wait + 59) / 60);
	snprintf(text, sizeof(text), "%lld", (long long)wait);
	resp_header(r, "Retry-After", text);
	return wait;
}

void
logins_failed(struct req *r, const char *user)
{
	char k[2][200];
	int64_t now = atr_now_ms() / 1000;

	keys(r, user, k);
	pthread_mutex_lock(&mu);
	for (int i = 0; i < 2; i++)
		slot(k[i], now, 1)->failures++;
	pthread_mutex_unlock(&mu);
}
