/* `atriumd --data DIR check`: verifies the store of DIR. */
#ifndef ATRIUM_SERVER_CHECK_H
#define ATRIUM_SERVER_CHECK_H

#include <stdio.h>

#include "atrium/config.h"

/*
 * Verifies the store that datadir's settings name (atrium.conf, the
 * environment, then overrides: the command line's, freed here).
 *
 * Embedded store: refuses while an atriumd serves datadir (it holds
 * DIR/atriumd.lock; the check takes that lock itself, so no atriumd can
 * start meanwhile) and opens atrium.db read-only: nothing in DIR is
 * changed. It runs SQLite's integrity and foreign-key checks, checks that
 * every project's revisions are numbered 1..head, hashes every blob file
 * and compares it with its name, and checks that every revision row has
 * its blob with the recorded size and SHA-256. Blob files no revision
 * uses (a commit cut short by a crash before its row) and unfinished
 * uploads in blobs/tmp are reported as information, not problems.
 *
 * PostgreSQL: reads every revision of every project through the store
 * (the node's cache bypassed) and checks its size and SHA-256; safe while
 * nodes run.
 *
 * Writes one line per problem ("problem: ...", with what to do), per
 * piece of information ("info: ...") and a summary to out; returns the
 * process exit status: 0 clean, 1 problems found, 2 usage or the store
 * cannot be opened (then the reason is on stderr).
 */
int check_main(const char *datadir, struct atr_config *overrides, FILE *out);

#endif
