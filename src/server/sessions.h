/*
 * A small in-memory cache of recent session lookups (token hash -> user),
 * so a keep-alive client's requests do not each read the store.
 *
 * An entry lives at most SESSION_CACHE_SECONDS and never past the session's
 * own expiry. Logging out, changing a password or a role, and deleting a
 * user drop the entries concerned on this node at once; other nodes of a
 * shared database notice within SESSION_CACHE_SECONDS.
 */
#ifndef ATRIUM_SERVER_SESSIONS_H
#define ATRIUM_SERVER_SESSIONS_H

#include <stdint.h>

#include "server/store.h"

#define SESSION_CACHE_SECONDS 5

/* Fills u and returns 1 when token_hash is cached and fresh at now. */
int session_cache_get(const char *token_hash, int64_t now, struct store_user *u);

/* Remembers a lookup that succeeded; expires is the session's expiry. */
void session_cache_put(const char *token_hash, const struct store_user *u, int64_t now,
    int64_t expires);

/* Forgets one session, or every session of user. */
void session_cache_forget(const char *token_hash);
void session_cache_forget_user(const char *user);

/* The CSRF token of a console session, derived from its token: 32 hex
 * digits and a NUL into out. */
void session_csrf(const char *token, char *out);

#endif
