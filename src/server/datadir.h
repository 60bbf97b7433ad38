/*
 * The data directory holds the store, the local CA's private key and the
 * keystore passwords: nobody but atriumd's user may read it. Checked at
 * every start, and for secret files named in the settings at every load.
 */
#ifndef ATRIUM_SERVER_DATADIR_H
#define ATRIUM_SERVER_DATADIR_H

#include "atrium/err.h"

/*
 * Makes DIR mode 0700 and the secret files in it 0600 (atrium.conf, the
 * database, the first admin's password, everything under tls/), warning
 * once for each one it had to fix. -1 when it cannot (another user's
 * directory), with err saying what to do.
 */
int datadir_secure(const char *datadir, struct atr_err *err);

/*
 * A secret file outside the data directory (a password file, a keystore):
 * -1 when every user of the machine may read it and refuse is set (else a
 * warning), a warning when its group may.
 */
int datadir_check_secret(const char *path, const char *setting, int refuse,
    struct atr_err *err);

/*
 * For the commands that must not run beside a server (check, restore):
 * takes DIR/atriumd.lock as atriumd does, so that none can start
 * meanwhile. Returns the lock's fd (the caller closes it to release it);
 * -2 when DIR has no lock file (no atriumd ever served it), which is not
 * created, so that nothing is written to DIR; -1 when an atriumd holds it,
 * with err naming its pid and how to stop it (ATR_E_CONFLICT), or when
 * the lock file cannot be opened.
 */
int datadir_lock(const char *datadir, struct atr_err *err);

#endif
