/*
 * The store: users, sessions, projects, revisions and revision content.
 *
 * One struct store per process (the backend), one struct store_conn per
 * thread that uses it. Every call is synchronous; a backend whose calls
 * wait on the network (store_is_blocking()) is only called from the job
 * pool, never from an event loop.
 *
 * Revision content ("blobs") is addressed by its SHA-256. It is written
 * through a blob writer: bytes are streamed in, then store_blob_finish()
 * makes them durable under their hash. A revision row is committed only
 * after that, so an acknowledged revision is never lost.
 */
#ifndef ATRIUM_SERVER_STORE_H
#define ATRIUM_SERVER_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "atrium/config.h"
#include "atrium/err.h"

#define STORE_NAME_MAX 64
#define STORE_MESSAGE_MAX 4096
#define STORE_DESC_MAX 4096
#define STORE_ELEMENT_MAX 256

struct store;
struct store_conn;
struct store_blob_writer;
struct store_blob_reader;

struct store_user {
	char name[STORE_NAME_MAX + 1];
	char role[8]; /* "admin" or "user" */
	int64_t created;
};

struct store_revision {
	int64_t number;
	char author[STORE_NAME_MAX + 1];
	char message[STORE_MESSAGE_MAX + 1];
	int64_t time;
	int64_t size;
	char sha256[65];
};

/* A lock on one element of a project's model: one holder at a time. */
struct store_lock {
	char element[STORE_ELEMENT_MAX + 1];
	char holder[STORE_NAME_MAX + 1];
	int64_t since;
};

struct store_project {
	char name[STORE_NAME_MAX + 1];
	char description[STORE_DESC_MAX + 1];
	int64_t created;
	char created_by[STORE_NAME_MAX + 1];
	int64_t head;               /* 0: no revision yet */
	struct store_revision last; /* valid when head > 0 */
};

/* Opens the backend named by cfg's `database` with data under datadir
 * (created if missing). */
struct store *store_open(const struct atr_config *cfg, const char *datadir, struct atr_err *err);
void store_close(struct store *st);

/* Whether calls may wait on the network (then: job pool only). */
int store_is_blocking(const struct store *st);

/* A human-readable description for the log, e.g. "sqlite DIR/atrium.db". */
const char *store_describe(const struct store *st);

struct store_conn *store_conn_open(struct store *st, struct atr_err *err);
void store_conn_close(struct store_conn *sc);

/* Users. Hashes are opaque strings from password.h. */
int store_user_count(struct store_conn *sc, int64_t *count, struct atr_err *err);
int store_user_create(struct store_conn *sc, const char *name, const char *hash, const char *role,
    struct atr_err *err);
/* hash may be NULL; hashlen is its buffer size. ATR_E_NOT_FOUND if none. */
int store_user_get(struct store_conn *sc, const char *name, struct store_user *u, char *hash,
    size_t hashlen, struct atr_err *err);
int store_user_list(struct store_conn *sc, int (*each)(const struct store_user *, void *),
    void *arg, struct atr_err *err);
/* Refuses (ATR_E_CONFLICT) to delete the last admin; ends the user's sessions. */
int store_user_delete(struct store_conn *sc, const char *name, struct atr_err *err);
/* Replaces the hash and ends the user's sessions except keep_token_hash. */
int store_user_set_password(struct store_conn *sc, const char *name, const char *hash,
    const char *keep_token_hash, struct atr_err *err);
int store_user_set_role(struct store_conn *sc, const char *name, const char *role,
    struct atr_err *err);

/* Sessions, keyed by the hex SHA-256 of the token. */
int store_session_create(struct store_conn *sc, const char *token_hash, const char *user,
    int64_t expires, struct atr_err *err);
/* ATR_E_UNAUTHORIZED when unknown or expired. */
int store_session_lookup(struct store_conn *sc, const char *token_hash, int64_t now,
    struct store_user *u, struct atr_err *err);
int store_session_delete(struct store_conn *sc, const char *token_hash, struct atr_err *err);
int store_session_purge(struct store_conn *sc, int64_t now, struct atr_err *err);

/* Projects. */
int store_project_create(struct store_conn *sc, const char *name, const char *description,
    const char *created_by, int64_t now, struct atr_err *err);
int store_project_get(struct store_conn *sc, const char *name, struct store_project *p,
    struct atr_err *err);
int store_project_list(struct store_conn *sc, int (*each)(const struct store_project *, void *),
    void *arg, struct atr_err *err);
int store_project_delete(struct store_conn *sc, const char *name, struct atr_err *err);

/* Revisions, newest first. */
int store_revision_list(struct store_conn *sc, const char *project,
    int (*each)(const struct store_revision *, void *), void *arg, struct atr_err *err);
int store_revision_get(struct store_conn *sc, const char *project, int64_t number,
    struct store_revision *r, struct atr_err *err);

/*
 * Adds revision base+1 to project if base is still its head. The content
 * must already be durable (store_blob_finish()). On a newer head: -1 with
 * ATR_E_CONFLICT and *head filled with the newest revision.
 */
int store_revision_commit(struct store_conn *sc, const char *project, int64_t base,
    const char *author, const char *message, int64_t now, int64_t size, const char *sha256,
    struct store_revision *head, struct atr_err *err);

/*
 * Element locks: at most one holder per (project, element).
 *
 * store_lock_acquire() takes element of project for user at time now.
 * Returns 1 when taken now, 0 when user already held it (its `since` is
 * kept), -1 on failure: ATR_E_NOT_FOUND without such a project,
 * ATR_E_CONFLICT when someone else holds it. When held is not NULL it is
 * filled with the lock as it stands (on 1, 0 and ATR_E_CONFLICT).
 */
int store_lock_acquire(struct store_conn *sc, const char *project, const char *element,
    const char *user, int64_t now, struct store_lock *held, struct atr_err *err);
/*
 * Releases element of project. Only its holder may, unless force (an
 * admin). ATR_E_NOT_FOUND when the project or the lock does not exist,
 * ATR_E_FORBIDDEN when user is not the holder and force is 0.
 */
int store_lock_release(struct store_conn *sc, const char *project, const char *element,
    const char *user, int force, struct atr_err *err);
/* Every lock of project, by element name. ATR_E_NOT_FOUND without such a
 * project. each() returning non-zero stops the listing. */
int store_lock_list(struct store_conn *sc, const char *project,
    int (*each)(const struct store_lock *, void *), void *arg, struct atr_err *err);

/*
 * Blobs (revision content), written and read in pieces so that nothing
 * holds a whole file in memory.
 *
 * Writing: store_blob_writer_new() (any thread, cheap), store_blob_write()
 * for each piece, store_blob_finish() to make the content durable under
 * its SHA-256 (job pool: it fsyncs or commits), or store_blob_abort()
 * (any thread, cheap; a backend may leave garbage that it collects later).
 * `sc` is the store connection of the calling thread; a non-blocking
 * backend may ignore it and accept NULL.
 */
struct store_blob_writer *store_blob_writer_new(struct store *st, struct atr_err *err);
int store_blob_write(struct store_blob_writer *w, struct store_conn *sc, const void *buf,
    size_t len, struct atr_err *err);
int64_t store_blob_written(const struct store_blob_writer *w);
/* Fills sha256 (65 bytes) and frees w whatever happens. */
int store_blob_finish(struct store_blob_writer *w, struct store_conn *sc, char *sha256,
    struct atr_err *err);
void store_blob_abort(struct store_blob_writer *w);

/*
 * Reading: a reader for the blob sha256 of the given size. When
 * store_blob_reader_fd() is not -1 the content is a plain file the caller
 * may send directly (sendfile); otherwise it is read with
 * store_blob_read() on the job pool. Closing is cheap and thread-free.
 */
struct store_blob_reader *store_blob_reader_open(struct store_conn *sc, const char *sha256,
    int64_t size, struct atr_err *err);
int store_blob_reader_fd(const struct store_blob_reader *rd);
/* Reads up to n bytes at off; returns the count (0 at the end) or -1. */
int64_t store_blob_read(struct store_blob_reader *rd, struct store_conn *sc, void *buf,
    size_t n, int64_t off, struct atr_err *err);
void store_blob_reader_close(struct store_blob_reader *rd);

/*
 * The embedded store's files, for the commands that work beside a running
 * server or on a copy (backup, restore): DIR/atrium.db, and one file per
 * content, DIR/blobs/XX/SHA256 (XX: the first two hex digits). A content
 * file never changes once it is in place (written aside, fsync'ed,
 * renamed; identical content keeps the file already there); it is only
 * removed when the last revision using it goes with its project.
 *
 * store_sqlite_snapshot() writes one consistent state of DIR/atrium.db to
 * dest (a new file; a single file, no WAL beside it) while an atriumd may
 * be serving DIR: commits go on meanwhile and are either wholly in the
 * snapshot or not at all. DIR is opened read-only and not changed.
 * store_sqlite_blob_path() names the content file of sha256 under dir.
 */
int store_sqlite_snapshot(const char *datadir, const char *dest, struct atr_err *err);
void store_sqlite_blob_path(const char *dir, const char *sha256, char *out, size_t size);

#endif
