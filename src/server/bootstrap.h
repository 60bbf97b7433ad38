/*
 * The first admin on an empty store: a store operation of the server's
 * start, not a handler, so that server.c depends on no handler file.
 */
#ifndef ATRIUM_SERVER_BOOTSTRAP_H
#define ATRIUM_SERVER_BOOTSTRAP_H

#include "atrium/err.h"
#include "server/store.h"

/*
 * Creates user "admin" when the store has no users (main thread, at
 * start). Its password is ATRIUM_ADMIN_PASSWORD, refused when weak, or a
 * random one written to DIR/initial-admin-password (mode 0600). Another
 * node creating it first is no error. 0, or -1 with err set.
 */
int bootstrap_admin(struct store_conn *sc, const char *datadir, struct atr_err *err);

#endif
