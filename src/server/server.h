/* atriumd as a whole: settings, store, listeners, threads, signals. */
#ifndef ATRIUM_SERVER_SERVER_H
#define ATRIUM_SERVER_SERVER_H

#include "atrium/config.h"
#include "atrium/err.h"

struct server;

/*
 * Reads DIR/atrium.conf (writing the documented defaults on first start),
 * the environment and then overrides (the command-line flags) into one
 * configuration. The returned config is the caller's.
 */
struct atr_config *server_load_config(const char *datadir, const struct atr_config *overrides,
    int write_defaults, struct atr_err *err);

/*
 * Prepares a server on datadir: locks the directory, opens the store,
 * creates the first admin if there are no users, binds the listeners.
 * Takes ownership of overrides. NULL with err set on failure.
 */
struct server *server_new(const char *datadir, struct atr_config *overrides,
    struct atr_err *err);

/* Serves until SIGTERM or SIGINT, then drains. SIGHUP reloads settings.
 * Returns the process exit status. */
int server_run(struct server *srv);

void server_free(struct server *srv);

#endif
