/*
 * The client's files in $ATRIUM_HOME: the saved login (session.json) and
 * the newest revision known per project (heads.json).
 */
#ifndef ATRIUM_CLI_SESSION_H
#define ATRIUM_CLI_SESSION_H

#include <stdint.h>

#include "atrium/err.h"

/* A login: kept in $ATRIUM_HOME/session.json, mode 0600. */
struct cli_session {
	char *server;  /* "http://127.0.0.1:3579" */
	char *user;
	char *role;    /* "admin", "user", or NULL when unknown */
	char *token;   /* secret: never printed, wiped when cleared */
	char *expires; /* RFC 3339, or NULL when unknown */
	char *cert_sha256; /* TLS: the server certificate's SHA-256 at login, or NULL */
	int admin_port;    /* the admin console's port the server listed at login; 0 unknown */
};

/*
 * $ATRIUM_HOME, else ~/.atrium (from $HOME, else the password database).
 * Returns a new string, or NULL with err set.
 */
char *cli_home(struct atr_err *err);

/*
 * Reads home/session.json into s (whose strings become the caller's; free
 * them with cli_session_clear()). Fails with ATR_E_NOT_FOUND when there is
 * no session, and with a sentence naming the file when it is damaged.
 */
int cli_session_load(const char *home, struct cli_session *s, struct atr_err *err);

/*
 * Writes s to home/session.json atomically with mode 0600, creating home
 * with mode 0700 when it is missing. server, user and token are required.
 */
int cli_session_save(const char *home, const struct cli_session *s, struct atr_err *err);

/* Removes home/session.json; no session is not an error. */
int cli_session_remove(const char *home, struct atr_err *err);

/* Frees s's strings (wiping the token) and zeroes s. NULL-safe. */
void cli_session_clear(struct cli_session *s);

/*
 * The newest revision of a project this client has checked out or
 * committed, per server, in home/heads.json: it is commit's default base.
 * cli_heads_get() returns 0 and sets *rev, or -1 when none is known.
 */
int cli_heads_get(const char *home, const char *server, const char *project,
    uint64_t *rev);

/*
 * Records rev for the project. With only_raise, a lower rev than the one
 * recorded is ignored (looking at an old revision does not move the base
 * back). The file is replaced atomically; a damaged one is started anew.
 */
int cli_heads_set(const char *home, const char *server, const char *project,
    uint64_t rev, int only_raise, struct atr_err *err);

/* Forgets the project's recorded revision (the project was deleted). */
int cli_heads_forget(const char *home, const char *server, const char *project,
    struct atr_err *err);

#endif
