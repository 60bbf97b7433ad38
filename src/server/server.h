/* atriumd as a whole: settings, store, listeners, threads, signals. */
#ifndef ATRIUM_SERVER_SERVER_H
#define ATRIUM_SERVER_SERVER_H

#include "atrium/config.h"
#include "atrium/err.h"

struct server;

/* What server_load_config() does when DIR/atrium.conf is missing. */
enum conf_missing {
	CONF_REQUIRED,       /* fail (ATR_E_NOT_FOUND): a reload must not fall back */
	CONF_WRITE_DEFAULTS, /* write the documented defaults (first start) */
	CONF_USE_DEFAULTS,   /* use the defaults, write nothing (check, migrate) */
};

/*
 * Reads DIR/atrium.conf, the environment and then overrides (the
 * command-line flags) into one configuration. The returned config is the
 * caller's.
 */
struct atr_config *server_load_config(const char *datadir, const struct atr_config *overrides,
    enum conf_missing missing, struct atr_err *err);

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
