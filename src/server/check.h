/* `atriumd --data DIR check`: verifies the store of DIR. */
#ifndef ATRIUM_SERVER_CHECK_H
#define ATRIUM_SERVER_CHECK_H

#include <stdint.h>
#include <stdio.h>

#include "atrium/config.h"
#include "atrium/err.h"

/*
 * Verifies the store that datadir's settings name (the settings file
 * confpath, see server_confpath(); the environment, then overrides: the
 * command line's, freed here). A missing settings file means the defaults.
 *
 * Embedded store: refuses while an atriumd serves datadir (it holds
 * DIR/atriumd.lock; the check takes that lock itself, so no atriumd can
 * start meanwhile) and opens atrium.db read-only: nothing in DIR is
 * changed. It runs SQLite's integrity and foreign-key checks, checks that
 * every project's revisions are numbered 1..head, hashes every blob file
 * and compares it with its name, and checks that every revision row has
 * its blob with the recorded size and SHA-256 -- or, for chunked content,
 * its manifest, with every chunk present and hashing to its name and the
 * lengths adding up (docs/delta.md). Blob files no revision
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
int check_main(const char *datadir, const char *confpath, struct atr_config *overrides,
    FILE *out);

/* What check_store_tree() found. */
struct check_totals {
	int problems;      /* lines written to out */
	int64_t projects;  /* project rows */
	int64_t revisions; /* revision rows */
	int64_t blobs;     /* content files hashed */
	int64_t bytes;     /* their bytes */
	int64_t chunks;    /* chunk files of chunked contents verified */
};

/*
 * Verifies the embedded store laid out under dir (atrium.db, blobs/) as
 * check does: SQLite's integrity and foreign-key checks, revisions
 * numbered 1..head, every content file hashed, every revision row against
 * its content's SHA-256 and size. No lock is taken: dir is one no atriumd
 * serves (a backup, a restore being built). atrium.db is opened read-only.
 * Each problem is one line "problem: ..." on out, ending with blob_fix
 * when a revision's content is missing or damaged; information (unused
 * content, unfinished uploads) is counted as nothing. Returns 0 with t
 * filled (t->problems may be above 0), or -1 when the store cannot be
 * read at all (err says why).
 */
int check_store_tree(const char *dir, const char *blob_fix, FILE *out, struct check_totals *t,
    struct atr_err *err);

#endif
