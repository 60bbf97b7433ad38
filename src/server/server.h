/* atriumd as a whole: settings, store, listeners, threads, signals. */
#ifndef ATRIUM_SERVER_SERVER_H
#define ATRIUM_SERVER_SERVER_H

#include "atrium/config.h"
#include "atrium/err.h"

struct server;

/* What server_load_config() does when the settings file is missing. */
enum conf_missing {
	CONF_REQUIRED,       /* fail (ATR_E_NOT_FOUND): a reload must not fall back */
	CONF_WRITE_DEFAULTS, /* write the documented defaults (first start) */
	CONF_USE_DEFAULTS,   /* use the defaults, write nothing (check, migrate) */
};

/*
 * Reads the settings file confpath (DIR/atrium.conf, or what --config
 * names), the environment and then overrides (the command-line flags)
 * into one configuration. With CONF_WRITE_DEFAULTS a missing file is
 * written with the documented defaults (mode 0600); when its directory is
 * missing or not writable, err says so and what to do. The returned
 * config is the caller's.
 */
struct atr_config *server_load_config(const char *confpath, const struct atr_config *overrides,
    enum conf_missing missing, struct atr_err *err);

/*
 * The settings file for datadir: config when given (--config FILE), else
 * DIR/atrium.conf. A new string, the caller's; NULL without memory.
 */
char *server_confpath(const char *datadir, const char *config);

/*
 * Prepares a server on datadir with its settings in confpath (see
 * server_confpath(); read at start and on every reload, and the file the
 * console saves to): locks the directory, opens the store, creates the
 * first admin if there are no users, binds the listeners. Takes ownership
 * of overrides; confpath is copied. NULL with err set on failure.
 */
struct server *server_new(const char *datadir, const char *confpath,
    struct atr_config *overrides, struct atr_err *err);

/* Serves until SIGTERM or SIGINT, then drains. SIGHUP reloads settings.
 * Returns the process exit status. */
int server_run(struct server *srv);

void server_free(struct server *srv);

#endif
