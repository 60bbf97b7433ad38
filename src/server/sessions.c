/* The session cache (a fixed hash table under one mutex) and the console
 * sessions' CSRF tokens. */
#include <pthread.h>
#include <string.h>

#include <openssl/evp.h>

#include "atrium/util.h"
#include "server/sessions.h"

#define SLOTS 4096

struct slot {
	char token_hash[65];
	struct store_user user;
	int64_t until; /* 0: empty */
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct slot slots[SLOTS];

static unsigned
index_of(const char *token_hash)
{
	unsigned h = 0;

	/* The hash is already a SHA-256 in hex: its first digits are uniform. */
	for (int i = 0; i < 8; i++)
		h = h * 16 + (unsigned)(token_hash[i] <= '9' ? token_hash[i] - '0' : token_hash[i] - 'a' + 10);
	return h % SLOTS;
}

int
session_cache_get(const char *token_hash, int64_t now, struct store_user *u)
{
	struct slot *s = &slots[index_of(token_hash)];
	int hit = 0;

	pthread_mutex_lock(&mu);
	if (s->until > now && strcmp(s->token_hash, token_hash) == 0) {
		*u = s->user;
		hit = 1;
	}
	pthread_mutex_unlock(&mu);
	return hit;
}

void
session_cache_put(const char *token_hash, const struct store_user *u, int64_t now,
    int64_t expires)
{
	struct slot *s = &slots[index_of(token_hash)];
	int64_t until = now + SESSION_CACHE_SECONDS;

	pthread_mutex_lock(&mu);
	memcpy(s->token_hash, token_hash, sizeof(s->token_hash));
	s->token_hash[64] = '\0';
	s->user = *u;
	s->until = expires > 0 && expires < until ? expires : until;
	pthread_mutex_unlock(&mu);
}

void
session_cache_forget(const char *token_hash)
{
	struct slot *s = &slots[index_of(token_hash)];

	pthread_mutex_lock(&mu);
	if (strcmp(s->token_hash, token_hash) == 0)
		s->until = 0;
	pthread_mutex_unlock(&mu);
}

void
session_cache_forget_user(const char *user)
{
	pthread_mutex_lock(&mu);
	for (int i = 0; i < SLOTS; i++)
		if (slots[i].until != 0 && strcmp(slots[i].user.name, user) == 0)
			slots[i].until = 0;
	pthread_mutex_unlock(&mu);
}

void
session_csrf(const char *token, char *out)
{
	unsigned char md[32];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	EVP_DigestUpdate(ctx, "atrium-csrf:", 12);
	EVP_DigestUpdate(ctx, token, strlen(token));
	EVP_DigestFinal_ex(ctx, md, NULL);
	EVP_MD_CTX_free(ctx);
	atr_hex(md, 16, out);
}
