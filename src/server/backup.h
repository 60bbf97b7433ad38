/* `atriumd --data DIR backup DEST` and `atriumd --data DIR restore SRC`. */
#ifndef ATRIUM_SERVER_BACKUP_H
#define ATRIUM_SERVER_BACKUP_H

#include "atrium/config.h"

/*
 * Backs datadir up into dest while an atriumd may be serving it (the
 * backup needs no lock). dest must not exist or be an empty directory;
 * everything is built in dest.partial and renamed to dest only once it is
 * complete and verified, with backup.json (the summary) written last, so
 * a backup cut short never looks complete.
 *
 * Embedded store: one consistent snapshot of atrium.db
 * (store_sqlite_snapshot()), every content file it references (hard
 * links when dest is on the same file system, else copies), DIR/tls and
 * the settings file confpath (server_confpath(): DIR/atrium.conf or what
 * --config names), always stored as DEST/atrium.conf. The result is
 * verified as `check` verifies a store (check_store_tree()). PostgreSQL:
 * what is on the node only (DIR/tls, the settings file), and it says that
 * the database needs pg_dump or pg_basebackup. The settings come from
 * confpath, the environment and overrides (the command line's; freed
 * here).
 *
 * Prints the summary as one JSON object on stdout; returns the process
 * exit status (0 done, 1 failed, 2 usage), the reason on stderr.
 */
int backup_main(const char *datadir, const char *confpath, const char *dest,
    struct atr_config *overrides);

/*
 * Restores the backup src into datadir. Refuses while an atriumd serves
 * datadir (it holds DIR/atriumd.lock; the restore holds it meanwhile),
 * a datadir that is not empty unless force, and a backup that does not
 * verify completely (its backup.json, the store's integrity, every
 * content file's SHA-256), naming what is wrong; nothing is changed then.
 * Builds datadir.restoring (mode 0700, secrets 0600), verifies it and
 * switches it in with one rename; with force the old directory is kept
 * as datadir.before-restore-STAMP. The backup's atrium.conf goes back to
 * the settings file confpath: inside the new DIR when that is
 * DIR/atrium.conf, else written over confpath just before the switch
 * (keeping that file's mode and group, its old text kept as
 * confpath.before-restore-STAMP, and put back when the switch fails).
 * Returns the process exit status.
 */
int restore_main(const char *datadir, const char *confpath, const char *src, int force,
    struct atr_config *overrides);

#endif
