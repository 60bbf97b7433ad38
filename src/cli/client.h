/*
 * What every command of the atrium client starts with: the process set-up
 * (cli_init()) and, for commands that need a login, the connection to the
 * session's server (struct cli_ctx).
 *
 * The rest of the client's plumbing is one module a concern, each with its
 * own header: args.h (command lines), url.h (server addresses), session.h
 * ($ATRIUM_HOME), trust.h (trusted roots), http.h (HTTP over libcurl),
 * output.h (printing), progress.h (progress bars), buf.h (bounded buffers).
 */
#ifndef ATRIUM_CLI_CLIENT_H
#define ATRIUM_CLI_CLIENT_H

#include "atrium/err.h"
#include "cli/http.h"
#include "cli/session.h"

/*
 * Sets up the process for a command: libcurl's global state (cleaned up
 * at exit) and a jansson allocator that wipes memory when it is freed,
 * since passwords and tokens pass through JSON. Call it first in every
 * command, before any JSON value exists; calling it again does nothing.
 */
void cli_init(void);

/* What a command that needs a login works with. */
struct cli_ctx {
	char *home;
	struct cli_session session;
	struct cli_http *http; /* carries the session's token */
};

/*
 * Loads the session and connects to its server. Without a session the
 * sentence says to log in. Close with cli_ctx_close() either way.
 */
int cli_ctx_open(struct cli_ctx *c, struct atr_err *err);
void cli_ctx_close(struct cli_ctx *c);

/*
 * The admin console's port as the server h talks to lists it (GET
 * /api/v1/server, the listener called "admin"), or 0 when the server
 * cannot be asked or lists none. Needs no login.
 */
int cli_admin_port_discover(struct cli_http *h);

#endif
