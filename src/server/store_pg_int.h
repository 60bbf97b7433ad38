/*
 * The PostgreSQL store's internals, shared by store_pg.c (connections,
 * TLS, schema, rows), store_pg_blob.c (revision content) and
 * store_pg_events.c (events, integrations, deliveries).
 *
 * Threading: the backend is blocking, so it is only called from the job
 * pool. Each pool thread owns one struct pg_conn and with it one libpq
 * connection, opened on first use and reopened after it breaks. Blob
 * writers and readers hold no connection: every call uses the calling
 * thread's.
 */
#ifndef ATRIUM_SERVER_STORE_PG_INT_H
#define ATRIUM_SERVER_STORE_PG_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "server/store_int.h"

#define PG_MAX_PARAMS 18

struct pg_store {
	struct store base;
	const char *keys[16];     /* PQconnectdbParams() keywords, NULL-terminated */
	char *vals[16];           /* their values (owned; the URL is wiped on close) */
	char *secret;             /* the URL's password, to mask in messages, or NULL */
	int ssl;                  /* database_ssl = on */
	char sslmode[16];         /* the sslmode asked for when ssl */
	char root_cert[4096];     /* database_ssl_root_cert, for messages */
	char describe[600];       /* no password in it */
	_Atomic int64_t next_gc;  /* when abandoned uploads are next collected */

	/* The node's content cache (store_pg_cache.c). */
	int cache_on;
	char *cache_dir;          /* DIR/cache */
	int64_t cache_max;        /* database_cache_size */
	_Atomic int64_t cache_used;
	pthread_mutex_t cache_mu; /* one eviction at a time */
};

#define PG_PREPARED_MAX 96

struct pg_conn {
	struct store_conn base;
	struct pg_store *st;
	PGconn *db; /* NULL until first use, or after a failed reconnect */
	int in_tx;  /* between pg_begin() and its commit or rollback */
	/* Statements prepared on this connection, keyed by the address of
	 * their SQL text (always a literal): parsed and planned once. */
	const char *prepared[PG_PREPARED_MAX];
	int nprepared;
};

#define PGC(sc) ((struct pg_conn *)(sc))

/*
 * Connects c if it is not (or no longer) connected; -1 with err filled.
 * Never reconnects inside a transaction: the statements before the break
 * are gone, so the operation fails and the next one reconnects.
 */
int pg_ready(struct pg_conn *c, struct atr_err *err);

/* BEGIN (after ending anything a failure left open) and COMMIT. */
int pg_begin(struct pg_conn *c, struct atr_err *err);
int pg_commit(struct pg_conn *c, struct atr_err *err);

/*
 * Runs sql with parameters described by types: 't' text (const char *,
 * NULL for SQL NULL), 'i' int64_t, 'b' bytes (const void *, size_t).
 * binres asks for binary results. Returns the result (the caller
 * PQclear()s it), or NULL with err filled: ATR_E_EXISTS on a unique
 * violation, ATR_E_UNAVAILABLE on a deadlock or serialization failure,
 * else ATR_E_DATABASE naming `what` and quoting the server.
 */
PGresult *pg_query(struct pg_conn *c, struct atr_err *err, const char *what, int binres,
    const char *sql, const char *types, ...);

/* pg_query() for a statement whose result is not needed. */
int pg_cmd(struct pg_conn *c, struct atr_err *err, const char *what, const char *sql,
    const char *types, ...);

/* Ends the transaction in progress on c, if any, ignoring errors. */
void pg_rollback(struct pg_conn *c);

/* The integer in a text result's cell (0 when NULL). */
int64_t pg_int(const PGresult *res, int row, int col);

/*
 * Collects what crashed or abandoned work left behind: uploads never
 * finished, content pinned by a commit that never came, content no
 * revision uses, expired sessions; everything older than a day. Runs at
 * start and then at most hourly (pg_gc_maybe, on a pool thread).
 */
int pg_gc(struct pg_conn *c, int64_t now, struct atr_err *err);
void pg_gc_maybe(struct pg_conn *c);

/*
 * Releases one pin on the content sha256 (taken by pg_blob_finish) and
 * removes the content if nothing references it any more. Errors are
 * ignored: what is left is collected by pg_gc.
 */
void pg_blob_unpin(struct pg_conn *c, const char *sha256);

/*
 * store_pg_cache.c: the node's content cache.
 *
 * pg_cache_init() sets it up under datadir (off when max is 0);
 * pg_cache_free() marks it complete for the next start. pg_cache_open()
 * returns a read-only fd of cached content of that size, or -1.
 * pg_cache_tmp() returns an unnamed file to collect content of up to size
 * bytes (-1: size unknown) in, or -1 when it should not be cached;
 * pg_cache_append() adds to it; pg_cache_publish() links it under sha256
 * (the caller has checked that the bytes hash to it; fd stays the
 * caller's). pg_cache_forget() drops one file; pg_cache_sweep() drops
 * every file whose content the database no longer has.
 */
int pg_cache_init(struct pg_store *st, const char *datadir, int64_t max, struct atr_err *err);
void pg_cache_free(struct pg_store *st);
int pg_cache_open(struct pg_store *st, const char *sha256, int64_t size);
int pg_cache_tmp(struct pg_store *st, int64_t size);
int pg_cache_append(int fd, const void *buf, size_t len);
void pg_cache_publish(struct pg_store *st, int fd, const char *sha256, int64_t size);
void pg_cache_forget(struct pg_store *st, const char *sha256);
void pg_cache_sweep(struct pg_conn *c);

/* store_pg_blob.c: the blob half of the ops table. */
struct store_blob_writer *pg_blob_writer_new(struct store *st, struct atr_err *err);
int pg_blob_write(struct store_blob_writer *w, struct store_conn *sc, const void *buf,
    size_t len, struct atr_err *err);
int64_t pg_blob_written(const struct store_blob_writer *w);
int pg_blob_finish(struct store_blob_writer *w, struct store_conn *sc, char *sha256,
    struct atr_err *err);
void pg_blob_abort(struct store_blob_writer *w);
struct store_blob_reader *pg_blob_reader_open(struct store_conn *sc, const char *sha256,
    int64_t size, struct atr_err *err);
int pg_blob_reader_fd(const struct store_blob_reader *rd);
int64_t pg_blob_read(struct store_blob_reader *rd, struct store_conn *sc, void *buf, size_t n,
    int64_t off, struct atr_err *err);
void pg_blob_reader_close(struct store_blob_reader *rd);

/* store_pg.c, for the files beside it: text and counts of results, a
 * revision from a row's columns col.. (number, author, message, time,
 * size, sha256, branch), and the removal of content in shas (an array
 * literal) that nothing references or pins, in c's transaction. */
void pg_copy_text(char *dst, size_t size, const PGresult *res, int row, int col);
int64_t pg_changed(const PGresult *res);
void pg_revision_from_row(const PGresult *res, int row, int col, struct store_revision *r);
int pg_remove_unreferenced(struct pg_conn *c, const char *shas, struct atr_err *err);

/* store_pg_branches.c: branches, tags, revisions, locks (schema 3). */
extern const char pg_branches_schema[];
int pg_branch_add_trunk(struct pg_conn *c, const char *project, const char *by, int64_t now,
    struct atr_err *err);
int pg_revision_list(struct store_conn *, const char *, const char *,
    int (*)(const struct store_revision *, void *), void *, struct atr_err *);
int pg_revision_get(struct store_conn *, const char *, const char *, int64_t,
    struct store_revision *, struct atr_err *);
int pg_revision_commit(struct store_conn *, const struct store_commit *, struct store_revision *,
    struct store_lock *, int64_t *, struct atr_err *);
int pg_branch_create(struct store_conn *, const char *, const char *, const char *, int64_t,
    const char *, int64_t, struct store_branch *, struct atr_err *);
int pg_branch_get(struct store_conn *, const char *, const char *, struct store_branch *,
    struct atr_err *);
int pg_branch_list(struct store_conn *, const char *, int (*)(const struct store_branch *, void *),
    void *, struct atr_err *);
int pg_branch_delete(struct store_conn *, const char *, const char *, const char *,
    struct atr_err *);
int pg_tag_create(struct store_conn *, const char *, const char *, const char *, int64_t,
    const char *, int64_t, struct store_tag *, struct atr_err *);
int pg_tag_get(struct store_conn *, const char *, const char *, struct store_tag *,
    struct atr_err *);
int pg_tag_list(struct store_conn *, const char *, int (*)(const struct store_tag *, void *),
    void *, struct atr_err *);
int pg_tag_delete(struct store_conn *, const char *, const char *, const char *,
    struct atr_err *);
int pg_locks_take(struct store_conn *, const char *, const char *, const char *const *, size_t,
    const char *, int64_t, int (*)(const struct store_lock *, void *), void *, int64_t *,
    struct atr_err *);
int pg_locks_release(struct store_conn *, const char *, const char *, const char *const *,
    size_t, const char *, const char *, int, int64_t *, struct atr_err *);
int pg_locks_list(struct store_conn *, const char *, const char *, const char *,
    int (*)(const struct store_lock *, void *), void *, struct atr_err *);
int pg_lock_get(struct store_conn *, const char *, const char *, const char *,
    struct store_lock *, struct atr_err *);

/*
 * store_pg_events.c: the tables (created with the schema, and added by the
 * upgrade from schema 1) and the calls. pg_event_write() writes an event
 * and its deliveries inside the caller's transaction (nothing when the
 * connection's events are off); data is JSON text, freed here (NULL: out
 * of memory).
 */
extern const char pg_events_schema[];
int pg_event_write(struct store_conn *sc, const char *type, const char *project, char *data,
    struct atr_err *err);
int pg_event_add(struct store_conn *, const char *, const char *, const char *, int64_t,
    struct atr_err *);
int pg_event_last(struct store_conn *, int64_t *, struct atr_err *);
int pg_event_list(struct store_conn *, int64_t, int, int (*)(const struct store_event *, void *),
    void *, struct atr_err *);
int pg_integration_create(struct store_conn *, struct store_integration *, struct atr_err *);
int pg_integration_get(struct store_conn *, const char *, struct store_integration *,
    struct atr_err *);
int pg_integration_list(struct store_conn *, int (*)(const struct store_integration *, void *),
    void *, struct atr_err *);
int pg_integration_update(struct store_conn *, const struct store_integration *,
    struct atr_err *);
int pg_integration_set_state(struct store_conn *, const char *, const char *, const char *,
    const char *, int64_t, struct atr_err *);
int pg_integration_rotate(struct store_conn *, const char *, const char *, int64_t, const char *,
    int64_t, struct atr_err *);
int pg_integration_delete(struct store_conn *, const char *, struct atr_err *);
int pg_delivery_due(struct store_conn *, int64_t, int (*)(const struct store_delivery *, void *),
    void *, struct atr_err *);
int pg_delivery_next_time(struct store_conn *, int64_t *, struct atr_err *);
int pg_delivery_claim(struct store_conn *, int64_t, const char *, int64_t, int64_t,
    struct atr_err *);
int pg_delivery_finish(struct store_conn *, int64_t, const char *, const struct store_attempt *,
    const char *, const char *, struct atr_err *);
int pg_delivery_log(struct store_conn *, const char *, int64_t, int,
    int (*)(const struct store_attempt *, void *), void *, struct atr_err *);
int pg_delivery_redeliver(struct store_conn *, const char *, int64_t, int64_t, struct atr_err *);
int pg_delivery_add_test(struct store_conn *, const char *, const char *, int64_t, int64_t *,
    struct atr_err *);
int pg_event_purge(struct store_conn *, int64_t, struct atr_err *);

/*
 * For the migration (migrate.c): adds user u with its password hash and
 * creation time unless a user of that name exists. Returns 1 when added,
 * 0 when it existed (then nothing changes), -1 on failure.
 */
int store_pg_user_import(struct store_conn *sc, const struct store_user *u, const char *hash,
    struct atr_err *err);

#endif
