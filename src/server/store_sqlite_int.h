/*
 * The embedded store's insides, shared by store_sqlite.c (users, projects,
 * revisions, content) and store_sqlite_events.c (events, integrations,
 * deliveries).
 */
#ifndef ATRIUM_SERVER_STORE_SQLITE_INT_H
#define ATRIUM_SERVER_STORE_SQLITE_INT_H

#include <pthread.h>
#include <stddef.h>

#include <sqlite3.h>

#include "server/store_int.h"

#define MAX_PINS 1024

struct sq_store {
	struct store base;
	char *dbpath;
	char *blobdir;
	char describe[600];
	pthread_mutex_t pin_lock;
	char (*pins)[65]; /* blobs made durable whose row is not committed yet */
	int npins;
	char *chunkdir;   /* DIR/chunks (store_sqlite_chunks.c) */
};

#define STMT_CACHE 160

struct sq_conn {
	struct store_conn base;
	struct sq_store *st;
	sqlite3 *db;
	/* Prepared statements, kept: preparing costs more than running most
	 * of them. Keyed by the SQL text's address (they are all literals). */
	struct {
		const char *sql;
		sqlite3_stmt *stmt;
	} cache[STMT_CACHE];
	int ncache;
};

#define SQ(sc) ((struct sq_conn *)(sc))

/* ATR_E_DATABASE with what and SQLite's message. Returns -1. */
int sq_db_fail(struct store_conn *sc, struct atr_err *err, const char *what);
void sq_copy_text(char *dst, size_t size, const unsigned char *src);
/* Prepares (or reuses) sql and binds the varargs: types 't' text (NULL
 * binds NULL), 'i' int64. NULL with err. */
sqlite3_stmt *sq_prep(struct store_conn *sc, struct atr_err *err, const char *sql,
    const char *types, ...);
void sq_release(struct store_conn *sc, sqlite3_stmt *stmt);
/* Runs a statement that returns no rows; a constraint is ATR_E_EXISTS. */
int sq_run(struct store_conn *sc, struct atr_err *err, const char *what, sqlite3_stmt *stmt);
int sq_exec(struct store_conn *sc, const char *sql, struct atr_err *err);

/* store_sqlite.c, for store_sqlite_branches.c: a revision from a row's
 * columns col.. (number, author, message, time, size, sha256, branch);
 * blobs no revision references (and no commit pins) are removed (call
 * with pin_lock held); a commit's pin ends. */
void sq_revision_from_row(sqlite3_stmt *s, int col, struct store_revision *r);
void sq_remove_unreferenced(struct store_conn *sc, char (*shas)[65], int n);
void sq_unpin(struct sq_store *st, const char *sha256);

/* store_sqlite_branches.c: branches, tags, revisions, locks. Creates
 * their tables at open (rebuilding those of a database from before
 * branches); trunk is added in project creation's transaction. */
int sq_branches_open(struct store_conn *sc, struct atr_err *err);
int sq_branch_add_trunk(struct store_conn *sc, const char *project, const char *by, int64_t now,
    struct atr_err *err);
int sq_revision_list(struct store_conn *, const char *, const char *,
    int (*)(const struct store_revision *, void *), void *, struct atr_err *);
int sq_revision_get(struct store_conn *, const char *, const char *, int64_t,
    struct store_revision *, struct atr_err *);
int sq_revision_commit(struct store_conn *, const struct store_commit *, struct store_revision *,
    struct store_lock *, int64_t *, struct atr_err *);
int sq_branch_create(struct store_conn *, const char *, const char *, const char *, int64_t,
    const char *, int64_t, struct store_branch *, struct atr_err *);
int sq_branch_get(struct store_conn *, const char *, const char *, struct store_branch *,
    struct atr_err *);
int sq_branch_list(struct store_conn *, const char *, int (*)(const struct store_branch *, void *),
    void *, struct atr_err *);
int sq_branch_delete(struct store_conn *, const char *, const char *, const char *,
    struct atr_err *);
int sq_tag_create(struct store_conn *, const char *, const char *, const char *, int64_t,
    const char *, int64_t, struct store_tag *, struct atr_err *);
int sq_tag_get(struct store_conn *, const char *, const char *, struct store_tag *,
    struct atr_err *);
int sq_tag_list(struct store_conn *, const char *, int (*)(const struct store_tag *, void *),
    void *, struct atr_err *);
int sq_tag_delete(struct store_conn *, const char *, const char *, const char *,
    struct atr_err *);
int sq_locks_take(struct store_conn *, const char *, const char *, const char *const *, size_t,
    const char *, int64_t, int (*)(const struct store_lock *, void *), void *, int64_t *,
    struct atr_err *);
int sq_locks_release(struct store_conn *, const char *, const char *, const char *const *,
    size_t, const char *, const char *, int, int64_t *, struct atr_err *);
int sq_locks_list(struct store_conn *, const char *, const char *, const char *,
    int (*)(const struct store_lock *, void *), void *, struct atr_err *);
int sq_lock_get(struct store_conn *, const char *, const char *, const char *,
    struct store_lock *, struct atr_err *);

/* store_sqlite_events.c: the tables (run at every open) and the calls. */
extern const char sq_events_schema[];

/*
 * Writes an event and its deliveries inside the caller's transaction
 * (nothing when the connection's events are off). data: JSON text, freed
 * here (NULL: out of memory).
 */
int sq_event_write(struct store_conn *sc, const char *type, const char *project, char *data,
    struct atr_err *err);

int sq_event_add(struct store_conn *, const char *, const char *, const char *, int64_t,
    struct atr_err *);
int sq_event_last(struct store_conn *, int64_t *, struct atr_err *);
int sq_event_list(struct store_conn *, int64_t, int, int (*)(const struct store_event *, void *),
    void *, struct atr_err *);
int sq_integration_create(struct store_conn *, struct store_integration *, struct atr_err *);
int sq_integration_get(struct store_conn *, const char *, struct store_integration *,
    struct atr_err *);
int sq_integration_list(struct store_conn *, int (*)(const struct store_integration *, void *),
    void *, struct atr_err *);
int sq_integration_update(struct store_conn *, const struct store_integration *,
    struct atr_err *);
int sq_integration_set_state(struct store_conn *, const char *, const char *, const char *,
    const char *, int64_t, struct atr_err *);
int sq_integration_rotate(struct store_conn *, const char *, const char *, int64_t, const char *,
    int64_t, struct atr_err *);
int sq_integration_delete(struct store_conn *, const char *, struct atr_err *);
int sq_delivery_due(struct store_conn *, int64_t, int (*)(const struct store_delivery *, void *),
    void *, struct atr_err *);
int sq_delivery_next_time(struct store_conn *, int64_t *, struct atr_err *);
int sq_delivery_claim(struct store_conn *, int64_t, const char *, int64_t, int64_t,
    struct atr_err *);
int sq_delivery_finish(struct store_conn *, int64_t, const char *, const struct store_attempt *,
    const char *, const char *, struct atr_err *);
int sq_delivery_log(struct store_conn *, const char *, int64_t, int,
    int (*)(const struct store_attempt *, void *), void *, struct atr_err *);
int sq_delivery_redeliver(struct store_conn *, const char *, int64_t, int64_t, struct atr_err *);
int sq_delivery_add_test(struct store_conn *, const char *, const char *, int64_t, int64_t *,
    struct atr_err *);
int sq_event_purge(struct store_conn *, int64_t, struct atr_err *);

/* store_sqlite_chunks.c: chunked content (store.h). */
extern const char sq_chunks_schema[];
struct sq_mreader;
int sq_chunks_open(struct sq_store *st, const char *datadir, struct atr_err *err);
void sq_chunk_path(const char *chunkdir, const char *sha256, char *out, size_t size);
int sq_chunk_missing(struct store_conn *, const char (*)[65], int, unsigned char *,
    struct atr_err *);
int sq_chunk_put(struct store_conn *, const char *, const void *, size_t, int, struct atr_err *);
int sq_content_create(struct store_conn *, const char *, int64_t, const struct store_chunk_ref *,
    int, unsigned char *, int *, struct atr_err *);
int sq_content_hold(struct store_conn *, const char *, int64_t *, struct atr_err *);
int sq_content_manifest(struct store_conn *, const char *, struct store_chunk_ref **, int *,
    struct atr_err *);
int sq_chunk_get(struct store_conn *, const char *, const char *, int, unsigned char **, size_t *,
    int *, struct atr_err *);
/* A content's manifest read as one stream; NULL with ATR_E_NOT_FOUND when
 * it has none. */
struct sq_mreader *sq_mreader_open(struct store_conn *sc, const char *sha256, int64_t size,
    struct atr_err *err);
int64_t sq_mreader_read(struct sq_mreader *m, void *buf, size_t n, int64_t off,
    struct atr_err *err);
void sq_mreader_close(struct sq_mreader *m);
/* After a project's deletion, with pin_lock held: removes the manifests of
 * shas no revision references and the chunks no manifest uses. */
void sq_chunks_collect(struct store_conn *sc, char (*shas)[65], int n);

#endif
