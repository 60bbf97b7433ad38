/* `atriumd --data DIR migrate --to URL`: the embedded store into PostgreSQL. */
#ifndef ATRIUM_SERVER_MIGRATE_H
#define ATRIUM_SERVER_MIGRATE_H

#include "atrium/config.h"

/*
 * Copies the embedded store of datadir (users with their password hashes,
 * projects, every revision and its content, locks) into the PostgreSQL
 * database at url, then reads every revision back from PostgreSQL and
 * checks its SHA-256. The database_ssl* settings of the settings file
 * confpath (server_confpath()), the environment and overrides (the
 * command line's; freed here) secure
 * the connection. Safe to re-run: what is there already is kept and
 * verified. Refuses while an atriumd serves datadir. Prints progress on
 * stdout; returns the process exit status (0: everything copied and
 * verified).
 */
int migrate_main(const char *datadir, const char *confpath, const char *url,
    struct atr_config *overrides);

#endif
