/*
 * What the `atrium admin` commands share (cmd_admin.c, cmd_trust.c,
 * cmd_integrations.c): the connection to the admin console's JSON API
 * (docs/admin-api.md).
 */
#ifndef ATRIUM_CLI_ADMIN_H
#define ATRIUM_CLI_ADMIN_H

#include <jansson.h>

#include "atrium/err.h"
#include "cli/client.h"

/*
 * Loads the session and connects to the admin console (server: --server's
 * HOST[:PORT], or NULL for the session's host on port 8443) with the
 * session's token. Close with cli_ctx_close() either way.
 */
int admin_open(struct cli_ctx *c, const char *server, struct atr_err *err);

/*
 * One call to the admin API; 0 when the answer's status is expect. On
 * failure err holds the sentence to print (the server's own, or one about
 * the network; an expired session names the server to log in to again)
 * and rep what did arrive.
 */
int admin_call(struct cli_ctx *c, const char *method, const char *path, json_t *body,
    long expect, struct cli_reply *rep, struct atr_err *err);

/* atrium admin trust ...: the server's trust store (cmd_trust.c). */
int cmd_admin_trust(int argc, char **argv);

/* atrium admin integrations ...: where events are delivered (cmd_integrations.c). */
int cmd_admin_integrations(int argc, char **argv);
/* atrium admin directory ...: directory sign-in (cmd_directory.c). */
int cmd_admin_directory(int argc, char **argv);

#endif
