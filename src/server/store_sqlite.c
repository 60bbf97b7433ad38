/*
 * The embedded store: SQLite (WAL) for rows, one file per blob under
 * DIR/blobs/ named by its SHA-256.
 *
 * Durability: a blob is written to DIR/blobs/tmp/, fsync'ed, renamed to
 * DIR/blobs/XX/SHA256 and its directory fsync'ed before its revision row is
 * committed (synchronous=FULL), so a revision that was acknowledged survives
 * a kill -9 or a power cut. Identical content is stored once.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <jansson.h>
#include <sqlite3.h>

#include "atrium/util.h"
#include "server/event.h"
#include "server/store_sqlite_int.h"

struct sq_writer {
	struct store_blob_writer base;
	struct sq_store *st;
	int fd;
	char tmppath[4200];
	EVP_MD_CTX *md;
	int64_t written;
};

struct sq_reader {
	struct store_blob_reader base;
	int fd;
	struct sq_mreader *m; /* a chunked content instead of a file */
};

static const struct store_ops sqlite_ops;
static struct store_ops sqlite_async_ops; /* sqlite_ops, blocking: see store_sqlite_open */
static int sq_profile_columns(struct store_conn *sc, struct atr_err *err);

#define SQS(st) ((struct sq_store *)(st))

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS users("
    "  name TEXT PRIMARY KEY, hash TEXT NOT NULL,"
    "  role TEXT NOT NULL CHECK (role IN ('admin','user')), created INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS sessions("
    "  token_hash TEXT PRIMARY KEY,"
    "  user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,"
    "  expires INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS projects("
    "  id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, description TEXT NOT NULL,"
    "  created INTEGER NOT NULL, created_by TEXT NOT NULL, head INTEGER NOT NULL DEFAULT 0);";
/* Branches, tags, revisions and locks: store_sqlite_branches.c. */

int
sq_db_fail(struct store_conn *sc, struct atr_err *err, const char *what)
{
	return atr_err_set(err, ATR_E_DATABASE, "database error while %s: %s", what,
	    sqlite3_errmsg(SQ(sc)->db));
}

void
sq_copy_text(char *dst, size_t size, const unsigned char *src)
{
	snprintf(dst, size, "%s", src != NULL ? (const char *)src : "");
}

static void sq_close(struct store *st);
static struct store_conn *sq_conn_open(struct store *st, struct atr_err *err);
static void sq_conn_close(struct store_conn *sc);
static void sq_blob_abort(struct store_blob_writer *base);

struct store *
store_sqlite_open(const struct atr_config *cfg, const char *datadir, struct atr_err *err)
{
	struct sq_store *st;
	struct store_conn *sc;
	char path[4200];
	DIR *d;

	(void)cfg;
	/* Each connection is used by one thread at a time: no global mutexes,
	 * and no memory statistics (a global lock on every allocation). These
	 * fail harmlessly once SQLite is initialised (a second store). */
	sqlite3_config(SQLITE_CONFIG_MULTITHREAD);
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	if ((st = calloc(1, sizeof(*st))) == NULL) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		return NULL;
	}
	/* ATRIUM_STORE_ASYNC=1 makes the embedded store behave like a networked
	 * database (every call on the job pool, content read in pieces), so the
	 * tests exercise those paths without one. */
	if (getenv("ATRIUM_STORE_ASYNC") != NULL) {
		sqlite_async_ops = sqlite_ops;
		sqlite_async_ops.name = "sqlite (async)";
		sqlite_async_ops.blocking = 1;
		st->base.ops = &sqlite_async_ops;
	} else {
		st->base.ops = &sqlite_ops;
	}
	pthread_mutex_init(&st->pin_lock, NULL);
	if (asprintf(&st->dbpath, "%s/atrium.db", datadir) < 0 ||
	    asprintf(&st->blobdir, "%s/blobs", datadir) < 0 ||
	    (st->pins = calloc(MAX_PINS, sizeof(*st->pins))) == NULL) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		goto fail;
	}
	snprintf(st->describe, sizeof(st->describe), "sqlite %s", st->dbpath);
	snprintf(path, sizeof(path), "%s/tmp", st->blobdir);
	if (atr_mkdirs(path, 0700, err) == -1 || sq_chunks_open(st, datadir, err) == -1)
		goto fail;
	/* Leftovers of uploads cut short by a crash: never acknowledged. */
	if ((d = opendir(path)) != NULL) {
		struct dirent *de;
		while ((de = readdir(d)) != NULL)
			if (de->d_name[0] != '.')
				unlinkat(dirfd(d), de->d_name, 0);
		closedir(d);
	}
	if ((sc = sq_conn_open(&st->base, err)) == NULL)
		goto fail;
	if (sqlite3_exec(SQ(sc)->db, schema, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(SQ(sc)->db, sq_events_schema, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(SQ(sc)->db, sq_chunks_schema, NULL, NULL, NULL) != SQLITE_OK) {
		sq_db_fail(sc, err, "creating the schema");
		sq_conn_close(sc);
		goto fail;
	}
	if (sq_profile_columns(sc, err) == -1 || sq_branches_open(sc, err) == -1) {
		sq_conn_close(sc);
		goto fail;
	}
	sq_conn_close(sc);
	return &st->base;
fail:
	sq_close(&st->base);
	return NULL;
}

static void
sq_close(struct store *base)
{
	struct sq_store *st = SQS(base);

	pthread_mutex_destroy(&st->pin_lock);
	free(st->pins);
	free(st->dbpath);
	free(st->blobdir);
	free(st->chunkdir);
	free(st);
}

static const char *
sq_describe(const struct store *st)
{
	return ((const struct sq_store *)st)->describe;
}

/* Waits for another connection's write lock. SQLite's own busy_timeout
 * sleeps 1, 2, 5, 10, 15, 20, 25 ... 100 ms between tries, so a commit that
 * meets a write transaction held for a fraction of a millisecond (the
 * deliverer's claims and finishes) came back after 1 to 30 ms: commit p99
 * went from 5 to 50 ms while deliveries ran. Tries in steps of 20 us
 * doubling to BUSY_STEP_MAX_US instead, for about BUSY_TOTAL_US (sleeps only
 * overshoot) before SQLITE_BUSY. */
#define BUSY_STEP_MAX_US 500
#define BUSY_TOTAL_US (30LL * 1000 * 1000)

static int
sq_busy(void *arg, int count)
{
	long us = count < 5 ? 20L << count : BUSY_STEP_MAX_US;
	struct timespec ts = {0, us * 1000};

	(void)arg;
	if ((int64_t)count * BUSY_STEP_MAX_US > BUSY_TOTAL_US)
		return 0;
	nanosleep(&ts, NULL);
	return 1;
}

static struct store_conn *
sq_conn_open(struct store *base, struct atr_err *err)
{
	struct sq_conn *c = calloc(1, sizeof(*c));
	struct sq_store *st = SQS(base);
	static const char pragmas[] = "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
				      "PRAGMA foreign_keys=ON;";

	if (c == NULL) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		return NULL;
	}
	c->base.st = base;
	c->st = st;
	if (sqlite3_open_v2(st->dbpath, &c->db,
		SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		atr_err_set(err, ATR_E_DATABASE, "cannot open %s: %s", st->dbpath,
		    c->db ? sqlite3_errmsg(c->db) : "out of memory");
		sq_conn_close(&c->base);
		return NULL;
	}
	sqlite3_busy_handler(c->db, sq_busy, NULL);
	if (sqlite3_exec(c->db, pragmas, NULL, NULL, NULL) != SQLITE_OK) {
		sq_db_fail(&c->base, err, "configuring the connection");
		sq_conn_close(&c->base);
		return NULL;
	}
	return &c->base;
}

static void
sq_conn_close(struct store_conn *sc)
{
	for (int i = 0; i < SQ(sc)->ncache; i++)
		sqlite3_finalize(SQ(sc)->cache[i].stmt);
	sqlite3_close_v2(SQ(sc)->db);
	free(sc);
}

/* Prepares sql, binding "%s"-free positional text/int args described by
 * types ('t' text, 'i' int64) from the varargs. */
sqlite3_stmt *
sq_prep(struct store_conn *sc, struct atr_err *err, const char *sql, const char *types, ...)
{
	struct sq_conn *c = SQ(sc);
	sqlite3_stmt *stmt = NULL;
	va_list ap;

	for (int i = 0; i < c->ncache; i++) {
		if (c->cache[i].sql == sql) {
			stmt = c->cache[i].stmt;
			sqlite3_reset(stmt);
			sqlite3_clear_bindings(stmt);
			break;
		}
	}
	if (stmt == NULL) {
		if (sqlite3_prepare_v3(c->db, sql, -1,
			c->ncache < STMT_CACHE ? SQLITE_PREPARE_PERSISTENT : 0, &stmt,
			NULL) != SQLITE_OK) {
			sq_db_fail(sc, err, "preparing a query");
			return NULL;
		}
		if (c->ncache < STMT_CACHE) {
			c->cache[c->ncache].sql = sql;
			c->cache[c->ncache++].stmt = stmt;
		}
	}
	va_start(ap, types);
	for (int i = 0; types[i]; i++) {
		if (types[i] == 't')
			sqlite3_bind_text(stmt, i + 1, va_arg(ap, const char *), -1, SQLITE_TRANSIENT);
		else
			sqlite3_bind_int64(stmt, i + 1, va_arg(ap, int64_t));
	}
	va_end(ap);
	return stmt;
}

/* Done with a statement from sq_prep(): kept ones are reset (which also
 * ends their read transaction), others finalized. */
void
sq_release(struct store_conn *sc, sqlite3_stmt *stmt)
{
	if (stmt == NULL)
		return;
	for (int i = 0; i < SQ(sc)->ncache; i++) {
		if (SQ(sc)->cache[i].stmt == stmt) {
			sqlite3_reset(stmt);
			return;
		}
	}
	sqlite3_finalize(stmt);
}

/* Runs a statement that returns no rows. */
int
sq_run(struct store_conn *sc, struct atr_err *err, const char *what, sqlite3_stmt *stmt)
{
	int rc;

	if (stmt == NULL)
		return -1;
	rc = sqlite3_step(stmt);
	sq_release(sc, stmt);
	if (rc == SQLITE_DONE)
		return 0;
	if (rc == SQLITE_CONSTRAINT)
		return atr_err_set(err, ATR_E_EXISTS, NULL);
	return sq_db_fail(sc, err, what);
}

int
sq_exec(struct store_conn *sc, const char *sql, struct atr_err *err)
{
	if (sqlite3_exec(SQ(sc)->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return sq_db_fail(sc, err, sql);
	return 0;
}

static int
sq_user_count(struct store_conn *sc, int64_t *count, struct atr_err *err)
{
	sqlite3_stmt *s = sq_prep(sc, err, "SELECT count(*) FROM users", "");

	if (s == NULL)
		return -1;
	if (sqlite3_step(s) != SQLITE_ROW) {
		sq_release(sc, s);
		return sq_db_fail(sc, err, "counting users");
	}
	*count = sqlite3_column_int64(s, 0);
	sq_release(sc, s);
	return 0;
}

static int
sq_user_create(struct store_conn *sc, const char *name, const char *hash, const char *role,
    const char *by, struct atr_err *err)
{
	if (sq_exec(sc, "BEGIN IMMEDIATE", err) == -1)
		return -1;
	if (sq_run(sc, err, "adding a user",
		sq_prep(sc, err, "INSERT INTO users(name, hash, role, created) VALUES (?,?,?,?)",
		    "ttti", name, hash, role, (int64_t)(atr_now_ms() / 1000))) == -1) {
		if (err != NULL && err->code == ATR_E_EXISTS)
			atr_err_set(err, ATR_E_EXISTS, "a user named '%s' already exists", name);
		goto fail;
	}
	if (sq_event_write(sc, "user.created", NULL,
		event_data("{s:s, s:s, s:s?}", "user", name, "role", role, "created_by", by),
		err) == -1 ||
	    sq_exec(sc, "COMMIT", err) == -1)
		goto fail;
	return 0;
fail:
	sq_exec(sc, "ROLLBACK", NULL);
	return -1;
}

static void
user_from_row(sqlite3_stmt *s, struct store_user *u)
{
	sq_copy_text(u->name, sizeof(u->name), sqlite3_column_text(s, 0));
	sq_copy_text(u->role, sizeof(u->role), sqlite3_column_text(s, 1));
	u->created = sqlite3_column_int64(s, 2);
}

static int
sq_user_get(struct store_conn *sc, const char *name, struct store_user *u, char *hash,
    size_t hashlen, struct atr_err *err)
{
	sqlite3_stmt *s = sq_prep(sc, err, "SELECT name, role, created, hash FROM users WHERE name = ?",
	    "t", name);
	int rc;

	if (s == NULL)
		return -1;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		user_from_row(s, u);
		if (hash != NULL)
			sq_copy_text(hash, hashlen, sqlite3_column_text(s, 3));
		sq_release(sc, s);
		return 0;
	}
	sq_release(sc, s);
	if (rc == SQLITE_DONE)
		return atr_err_set(err, ATR_E_NOT_FOUND, "there is no user named '%s'", name);
	return sq_db_fail(sc, err, "reading a user");
}

static int
sq_user_list(struct store_conn *sc, int (*each)(const struct store_user *, void *), void *arg,
    struct atr_err *err)
{
	sqlite3_stmt *s = sq_prep(sc, err, "SELECT name, role, created FROM users ORDER BY name", "");
	struct store_user u;
	int rc;

	if (s == NULL)
		return -1;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		user_from_row(s, &u);
		if (each(&u, arg) != 0)
			break;
	}
	sq_release(sc, s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return sq_db_fail(sc, err, "listing users");
	return 0;
}

/* Refuses (ATR_E_CONFLICT) to leave the store without an admin: u is
 * about to be deleted (newrole NULL) or to get newrole. Inside a
 * transaction. */
static int
keeps_an_admin(struct store_conn *sc, const struct store_user *u, const char *newrole,
    struct atr_err *err)
{
	sqlite3_stmt *s;
	int64_t admins = 0;

	if (strcmp(u->role, "admin") != 0 || (newrole != NULL && strcmp(newrole, "admin") == 0))
		return 0;
	if ((s = sq_prep(sc, err, "SELECT count(*) FROM users WHERE role = 'admin'", "")) == NULL)
		return -1;
	if (sqlite3_step(s) == SQLITE_ROW)
		admins = sqlite3_column_int64(s, 0);
	sq_release(sc, s);
	if (admins <= 1)
		return atr_err_set(err, ATR_E_CONFLICT,
		    "'%s' is the last admin; make another user an admin first", u->name);
	return 0;
}

static int
sq_user_delete(struct store_conn *sc, const char *name, const char *by, struct atr_err *err)
{
	struct store_user u;

	if (sq_exec(sc, "BEGIN IMMEDIATE", err) == -1)
		return -1;
	if (sq_user_get(sc, name, &u, NULL, 0, err) == -1)
		goto fail;
	if (keeps_an_admin(sc, &u, NULL, err) == -1)
		goto fail;
	if (sq_run(sc, err, "deleting a user",
		sq_prep(sc, err, "DELETE FROM users WHERE name = ?", "t", name)) == -1)
		goto fail;
	if (sq_event_write(sc, "user.deleted", NULL,
		event_data("{s:s, s:s?}", "user", name, "deleted_by", by), err) == -1)
		goto fail;
	if (sq_exec(sc, "COMMIT", err) == -1)
		goto fail;
	return 0;
fail:
	sq_exec(sc, "ROLLBACK", NULL);
	return -1;
}

static int
sq_user_set_password(struct store_conn *sc, const char *name, const char *hash,
    const char *keep_token_hash, struct atr_err *err)
{
	if (sq_exec(sc, "BEGIN IMMEDIATE", err) == -1)
		return -1;
	if (sq_run(sc, err, "changing a password",
		sq_prep(sc, err, "UPDATE users SET hash = ? WHERE name = ?", "tt", hash, name)) == -1)
		goto fail;
	if (sqlite3_changes(SQ(sc)->db) == 0) {
		atr_err_set(err, ATR_E_NOT_FOUND, "there is no user named '%s'", name);
		goto fail;
	}
	if (sq_run(sc, err, "ending sessions",
		sq_prep(sc, err, "DELETE FROM sessions WHERE user = ? AND token_hash != ?", "tt", name,
		    keep_token_hash != NULL ? keep_token_hash : "")) == -1)
		goto fail;
	return sq_exec(sc, "COMMIT", err);
fail:
	sq_exec(sc, "ROLLBACK", NULL);
	return -1;
}

static int
sq_user_set_role(struct store_conn *sc, const char *name, const char *role,
    struct atr_err *err)
{
	struct store_user u;

	if (sq_exec(sc, "BEGIN IMMEDIATE", err) == -1)
		return -1;
	if (sq_user_get(sc, name, &u, NULL, 0, err) == -1)
		goto fail;
	if (keeps_an_admin(sc, &u, role, err) == -1)
		goto fail;
	if (sq_run(sc, err, "changing a role",
		sq_prep(sc, err, "UPDATE users SET role = ? WHERE name = ?", "tt", role, name)) == -1)
		goto fail;
	return sq_exec(sc, "COMMIT", err);
fail:
	sq_exec(sc, "ROLLBACK", NULL);
	return -1;
}

/* ---- directory sign-in: the users' profile columns */

/* The hash of a directory account: no password matches it. */
#define DIRECTORY_HASH "!directory"

/* Adds users.display_name, email and source to a store made before they
 * existed (each an ADD COLUMN with a default, so older rows read as
 * local accounts). */
static int
sq_profile_columns(struct store_conn *sc, struct atr_err *err)
{
	static const char *const cols[][2] = {
		{"display_name", "ALTER TABLE users ADD COLUMN display_name TEXT NOT NULL DEFAULT ''"},
		{"email", "ALTER TABLE users ADD COLUMN email TEXT NOT NULL DEFAULT ''"},
		{"source", "ALTER TABLE users ADD COLUMN source TEXT NOT NULL DEFAULT 'local'"},
	};

	for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++) {
		sqlite3_stmt *q = sq_prep(sc, err,
		    "SELECT count(*) FROM pragma_table_info('users') WHERE name = ?", "t", cols[i][0]);
		int have;

		if (q == NULL)
			return -1;
		have = sqlite3_step(q) == SQLITE_ROW && sqlite3_column_int(q, 0) > 0;
		sq_release(sc, q);
		if (!have && sq_exec(sc, cols[i][1], err) == -1)
			return -1;
	}
	return 0;
}

static int
sq_user_get_profile(struct store_conn *sc, const char *name, struct store_user_profile *p,
    struct atr_err *err)
{
	sqlite3_stmt *s = sq_prep(sc, err,
	    "SELECT display_name, email, source FROM users WHERE name = ?", "t", name);
	int rc;

	if (s == NULL)
		return -1;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		sq_copy_text(p->display_name, sizeof(p->display_name), sqlite3_column_text(s, 0));
		sq_copy_text(p->email, sizeof(p->email), sqlite3_column_text(s, 1));
		sq_copy_text(p->source, sizeof(p->source), sqlite3_column_text(s, 2));
		sq_release(sc, s);
		return 0;
	}
	sq_release(sc, s);
	if (rc == SQLITE_DONE)
		return atr_err_set(err, ATR_E_NOT_FOUND, "there is no user named '%s'", name);
	return sq_db_fail(sc, err, "reading a user");
}

static int
sq_user_sync_directory(struct store_conn *sc, const char *name, const char *role,
    const char *display_name, const char *email, int64_t now, int *created,
    struct atr_err *err)
{
	int made;

	if (sq_exec(sc, "BEGIN IMMEDIATE", err) == -1)
		return -1;
	if (sq_run(sc, err, "updating a directory user",
		sq_prep(sc, err,
		    "UPDATE users SET role = ?, display_name = ?, email = ?, source = 'directory',"
		    " hash = ? WHERE name = ?",
		    "ttttt", role, display_name, email, DIRECTORY_HASH, name)) == -1)
		goto fail;
	made = sqlite3_changes(SQ(sc)->db) == 0;
	if (made && sq_run(sc, err, "adding a directory user",
			sq_prep(sc, err,
			    "INSERT INTO users(name, hash, role, created, display_name, email, source)"
			    " VALUES (?,?,?,?,?,?,'directory')",
			    "tttitt", name, DIRECTORY_HASH, role, now, display_name, email)) == -1)
		goto fail;
	/* A first directory login makes the account: user.created, as any other. */
	if (made && sq_event_write(sc, "user.created", NULL,
			event_data("{s:s, s:s, s:s}", "user", name, "role", role, "created_by",
			    "directory"),
			err) == -1)
		goto fail;
	if (sq_exec(sc, "COMMIT", err) == -1)
		goto fail;
	if (created != NULL)
		*created = made;
	return 0;
fail:
	sq_exec(sc, "ROLLBACK", NULL);
	return -1;
}

static int
sq_session_create(struct store_conn *sc, const char *token_hash, const char *user,
    int64_t expires, struct atr_err *err)
{
	return sq_run(sc, err, "creating a session",
	    sq_prep(sc, err, "INSERT INTO sessions(token_hash, user, expires) VALUES (?,?,?)", "tti",
		token_hash, user, expires));
}

static int
sq_session_lookup(struct store_conn *sc, const char *token_hash, int64_t now,
    struct store_user *u, struct atr_err *err)
{
	sqlite3_stmt *s = sq_prep(sc, err,
	    "SELECT u.name, u.role, u.created FROM sessions s JOIN users u ON u.name = s.user"
	    " WHERE s.token_hash = ? AND s.expires > ?",
	    "ti", token_hash, now);
	int rc;

	if (s == NULL)
		return -1;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		user_from_row(s, u);
	sq_release(sc, s);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc == SQLITE_DONE)
		return atr_err_set(err, ATR_E_UNAUTHORIZED,
		    "your session has expired or was ended; log in again");
	return sq_db_fail(sc, err, "looking up a session");
}

static int
sq_session_delete(struct store_conn *sc, const char *token_hash, struct atr_err *err)
{
	return sq_run(sc, err, "ending a session",
	    sq_prep(sc, err, "DELETE FROM sessions WHERE token_hash = ?", "t", token_hash));
}

static int
sq_session_purge(struct store_conn *sc, int64_t now, struct atr_err *err)
{
	return sq_run(sc, err, "purging sessions",
	    sq_prep(sc, err, "DELETE FROM sessions WHERE expires <= ?", "i", now));
}

static int
sq_project_create(struct store_conn *sc, const char *name, const char *description,
    const char *created_by, int64_t now, struct atr_err *err)
{
	if (sq_exec(sc, "BEGIN IMMEDIATE", err) == -1)
		return -1;
	if (sq_run(sc, err, "creating a project",
		sq_prep(sc, err,
		    "INSERT INTO projects(name, description, created, created_by) VALUES (?,?,?,?)",
		    "ttit", name, description, now, created_by)) == -1) {
		if (err != NULL && err->code == ATR_E_EXISTS)
			atr_err_set(err, ATR_E_EXISTS, "a project named '%s' already exists", name);
		goto fail;
	}
	if (sq_branch_add_trunk(sc, name, created_by, now, err) == -1)
		goto fail;
	if (sq_event_write(sc, "project.created", name,
		event_data("{s:s, s:s, s:s}", "project", name, "description", description,
		    "created_by", created_by),
		err) == -1 ||
	    sq_exec(sc, "COMMIT", err) == -1)
		goto fail;
	return 0;
fail:
	sq_exec(sc, "ROLLBACK", NULL);
	return -1;
}

void
sq_revision_from_row(sqlite3_stmt *s, int col, struct store_revision *r)
{
	sq_copy_text(r->branch, sizeof(r->branch), sqlite3_column_text(s, col + 6));
	r->number = sqlite3_column_int64(s, col);
	sq_copy_text(r->author, sizeof(r->author), sqlite3_column_text(s, col + 1));
	sq_copy_text(r->message, sizeof(r->message), sqlite3_column_text(s, col + 2));
	r->time = sqlite3_column_int64(s, col + 3);
	r->size = sqlite3_column_int64(s, col + 4);
	sq_copy_text(r->sha256, sizeof(r->sha256), sqlite3_column_text(s, col + 5));
}

#define PROJECT_COLUMNS                                                                    \
	"SELECT p.name, p.description, p.created, p.created_by, p.head,"                   \
	" r.number, r.author, r.message, r.time, r.size, r.sha256, r.branch FROM projects p"         \
	" LEFT JOIN revisions r ON r.project_id = p.id AND r.branch = 'trunk'"            \
	" AND r.number = p.head"

static void
project_from_row(sqlite3_stmt *s, struct store_project *p)
{
	sq_copy_text(p->name, sizeof(p->name), sqlite3_column_text(s, 0));
	sq_copy_text(p->description, sizeof(p->description), sqlite3_column_text(s, 1));
	p->created = sqlite3_column_int64(s, 2);
	sq_copy_text(p->created_by, sizeof(p->created_by), sqlite3_column_text(s, 3));
	p->head = sqlite3_column_int64(s, 4);
	if (p->head > 0)
		sq_revision_from_row(s, 5, &p->last);
	else
		memset(&p->last, 0, sizeof(p->last));
}

static int
sq_project_get(struct store_conn *sc, const char *name, struct store_project *p,
    struct atr_err *err)
{
	sqlite3_stmt *s = sq_prep(sc, err, PROJECT_COLUMNS " WHERE p.name = ?", "t", name);
	int rc;

	if (s == NULL)
		return -1;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		project_from_row(s, p);
	sq_release(sc, s);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc == SQLITE_DONE)
		return atr_err_set(err, ATR_E_NOT_FOUND, "there is no project named '%s'", name);
	return sq_db_fail(sc, err, "reading a project");
}

static int
sq_project_list(struct store_conn *sc, int (*each)(const struct store_project *, void *),
    void *arg, struct atr_err *err)
{
	sqlite3_stmt *s = sq_prep(sc, err, PROJECT_COLUMNS " ORDER BY p.name", "");
	struct store_project *p = malloc(sizeof(*p));
	int rc = SQLITE_DONE;

	if (s == NULL || p == NULL) {
		sq_release(sc, s);
		free(p);
		return s == NULL ? -1 : atr_err_set(err, ATR_E_NOMEM, NULL);
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		project_from_row(s, p);
		if (each(p, arg) != 0)
			break;
	}
	sq_release(sc, s);
	free(p);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return sq_db_fail(sc, err, "listing projects");
	return 0;
}

static int
pinned(struct sq_store *st, const char *sha256)
{
	for (int i = 0; i < st->npins; i++)
		if (strcmp(st->pins[i], sha256) == 0)
			return 1;
	return 0;
}

static void
blob_path(const struct sq_store *st, const char *sha256, char *out, size_t size)
{
	snprintf(out, size, "%s/%.2s/%s", st->blobdir, sha256, sha256);
}

/* Removes the blob files named by the statement's rows that no revision
 * references any more. Called with pin_lock held. */
void
sq_remove_unreferenced(struct store_conn *sc, char (*shas)[65], int n)
{
	char path[4200];

	for (int i = 0; i < n; i++) {
		sqlite3_stmt *s = sq_prep(sc, NULL, "SELECT 1 FROM revisions WHERE sha256 = ? LIMIT 1",
		    "t", shas[i]);
		int used = s == NULL || sqlite3_step(s) == SQLITE_ROW;
		sq_release(sc, s);
		if (used || pinned(SQ(sc)->st, shas[i]))
			continue;
		blob_path(SQ(sc)->st, shas[i], path, sizeof(path));
		unlink(path);
	}
}

static int
sq_project_delete(struct store_conn *sc, const char *name, const char *by, struct atr_err *err)
{
	sqlite3_stmt *s;
	char (*shas)[65] = NULL;
	int n = 0, cap = 0, rc;

	pthread_mutex_lock(&SQ(sc)->st->pin_lock);
	if (sq_exec(sc, "BEGIN IMMEDIATE", err) == -1)
		goto out_unlock;
	s = sq_prep(sc, err,
	    "SELECT DISTINCT r.sha256 FROM revisions r JOIN projects p ON p.id = r.project_id"
	    " WHERE p.name = ?",
	    "t", name);
	if (s == NULL)
		goto fail;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == cap) {
			int ncap = cap ? cap * 2 : 64;
			void *bigger = realloc(shas, (size_t)ncap * sizeof(*shas));
			if (bigger == NULL) {
				sq_release(sc, s);
				atr_err_set(err, ATR_E_NOMEM, NULL);
				goto fail;
			}
			shas = bigger;
			cap = ncap;
		}
		sq_copy_text(shas[n++], 65, sqlite3_column_text(s, 0));
	}
	sq_release(sc, s);
	if (sq_run(sc, err, "deleting a project",
		sq_prep(sc, err, "DELETE FROM projects WHERE name = ?", "t", name)) == -1)
		goto fail;
	if (sqlite3_changes(SQ(sc)->db) == 0) {
		atr_err_set(err, ATR_E_NOT_FOUND, "there is no project named '%s'", name);
		goto fail;
	}
	if (sq_event_write(sc, "project.deleted", name,
		event_data("{s:s, s:s?}", "project", name, "deleted_by", by), err) == -1)
		goto fail;
	if (sq_exec(sc, "COMMIT", err) == -1)
		goto fail;
	sq_remove_unreferenced(sc, shas, n);
	sq_chunks_collect(sc, shas, n);
	pthread_mutex_unlock(&SQ(sc)->st->pin_lock);
	free(shas);
	return 0;
fail:
	sq_exec(sc, "ROLLBACK", NULL);
out_unlock:
	pthread_mutex_unlock(&SQ(sc)->st->pin_lock);
	free(shas);
	return -1;
}

void
sq_unpin(struct sq_store *st, const char *sha256)
{
	for (int i = 0; i < st->npins; i++) {
		if (strcmp(st->pins[i], sha256) == 0) {
			memcpy(st->pins[i], st->pins[--st->npins], 65);
			return;
		}
	}
}

static struct store_blob_writer *
sq_blob_writer_new(struct store *base, struct atr_err *err)
{
	struct sq_writer *w = calloc(1, sizeof(*w));
	struct sq_store *st = SQS(base);

	if (w == NULL) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		return NULL;
	}
	w->base.st = base;
	w->st = st;
	snprintf(w->tmppath, sizeof(w->tmppath), "%s/tmp/upload-XXXXXX", st->blobdir);
	if ((w->fd = mkostemp(w->tmppath, O_CLOEXEC)) == -1) {
		atr_err_set(err, ATR_E_IO, "cannot create an upload file in %s/tmp: %s",
		    st->blobdir, strerror(errno));
		free(w);
		return NULL;
	}
	if ((w->md = EVP_MD_CTX_new()) == NULL || EVP_DigestInit_ex(w->md, EVP_sha256(), NULL) != 1) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		sq_blob_abort(&w->base);
		return NULL;
	}
	return &w->base;
}

static int
sq_blob_write(struct store_blob_writer *base, struct store_conn *sc, const void *buf, size_t len,
    struct atr_err *err)
{
	struct sq_writer *w = (struct sq_writer *)base;
	const unsigned char *p = buf;

	(void)sc;
	if (EVP_DigestUpdate(w->md, buf, len) != 1)
		return atr_err_set(err, ATR_E_INTERNAL, "hashing failed");
	while (len > 0) {
		ssize_t n = write(w->fd, p, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return atr_err_set(err, ATR_E_IO, "cannot store the upload: %s",
			    strerror(errno));
		p += n;
		len -= (size_t)n;
		w->written += n;
	}
	return 0;
}

static int64_t
sq_blob_written(const struct store_blob_writer *base)
{
	return ((const struct sq_writer *)base)->written;
}

static int
sq_blob_finish(struct store_blob_writer *base, struct store_conn *sc, char *sha256,
    struct atr_err *err)
{
	struct sq_writer *w = (struct sq_writer *)base;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char path[4200], dir[4200];
	struct sq_store *st = w->st;
	int rc = -1;

	(void)sc;
	if (EVP_DigestFinal_ex(w->md, md, &mdlen) != 1) {
		atr_err_set(err, ATR_E_INTERNAL, "hashing failed");
		goto out;
	}
	atr_hex(md, mdlen, sha256);
	if (fsync(w->fd) == -1) {
		atr_err_set(err, ATR_E_IO, "cannot store the upload: fsync: %s", strerror(errno));
		goto out;
	}
	snprintf(dir, sizeof(dir), "%s/%.2s", st->blobdir, sha256);
	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		atr_err_set(err, ATR_E_IO, "cannot create %s: %s", dir, strerror(errno));
		goto out;
	}
	blob_path(st, sha256, path, sizeof(path));
	pthread_mutex_lock(&st->pin_lock);
	if (st->npins == MAX_PINS) {
		pthread_mutex_unlock(&st->pin_lock);
		atr_err_set(err, ATR_E_UNAVAILABLE, "too many commits in progress; try again");
		goto out;
	}
	if (access(path, F_OK) == 0) {
		/* Identical content is already stored: keep one copy. */
		unlink(w->tmppath);
		rc = 0;
	} else if (rename(w->tmppath, path) == 0) {
		rc = atr_fsync_dir_of(path) == 0 ? 0 : -1;
		if (rc == -1)
			atr_err_set(err, ATR_E_IO, "cannot store the upload: fsync: %s",
			    strerror(errno));
	} else {
		atr_err_set(err, ATR_E_IO, "cannot store the upload: %s", strerror(errno));
	}
	if (rc == 0)
		memcpy(st->pins[st->npins++], sha256, 65);
	pthread_mutex_unlock(&st->pin_lock);
out:
	if (rc == -1)
		unlink(w->tmppath);
	close(w->fd);
	w->fd = -1;
	EVP_MD_CTX_free(w->md);
	free(w);
	return rc;
}

static void
sq_blob_abort(struct store_blob_writer *base)
{
	struct sq_writer *w = (struct sq_writer *)base;

	if (w->fd != -1) {
		close(w->fd);
		unlink(w->tmppath);
	}
	EVP_MD_CTX_free(w->md);
	free(w);
}

/* A content without a file may be chunks (store_sqlite_chunks.c). */
static struct store_blob_reader *
chunked_reader_open(struct store_conn *sc, const char *sha256, int64_t size, struct atr_err *err)
{
	struct sq_reader *rd;
	struct sq_mreader *m = sq_mreader_open(sc, sha256, size, err);

	if (m == NULL) {
		if (err != NULL && err->code == ATR_E_NOT_FOUND)
			atr_err_set(err, ATR_E_IO, "the content %s is missing (no file, no manifest)",
			    sha256);
		return NULL;
	}
	if ((rd = calloc(1, sizeof(*rd))) == NULL) {
		sq_mreader_close(m);
		atr_err_set(err, ATR_E_NOMEM, NULL);
		return NULL;
	}
	rd->base.st = sc->st;
	rd->fd = -1;
	rd->m = m;
	return &rd->base;
}

static struct store_blob_reader *
sq_blob_reader_open(struct store_conn *sc, const char *sha256, int64_t size, struct atr_err *err)
{
	struct sq_reader *rd;
	char path[4200];
	struct stat sb;
	int fd;

	blob_path(SQ(sc)->st, sha256, path, sizeof(path));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 && errno == ENOENT)
		return chunked_reader_open(sc, sha256, size, err);
	if (fd == -1) {
		atr_err_set(err, ATR_E_IO, "the content %s is missing: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &sb) == -1 || sb.st_size != size) {
		close(fd);
		atr_err_set(err, ATR_E_IO, "the content %s has %lld bytes instead of %lld", path,
		    (long long)sb.st_size, (long long)size);
		return NULL;
	}
	if ((rd = calloc(1, sizeof(*rd))) == NULL) {
		close(fd);
		atr_err_set(err, ATR_E_NOMEM, NULL);
		return NULL;
	}
	rd->base.st = sc->st;
	rd->fd = fd;
	return &rd->base;
}

static int
sq_blob_reader_fd(const struct store_blob_reader *base)
{
	if (base->st->ops == &sqlite_async_ops || ((const struct sq_reader *)base)->m != NULL)
		return -1;
	return ((const struct sq_reader *)base)->fd;
}

static int64_t
sq_blob_read(struct store_blob_reader *base, struct store_conn *sc, void *buf, size_t n,
    int64_t off, struct atr_err *err)
{
	struct sq_reader *rd = (struct sq_reader *)base;
	ssize_t got;

	(void)sc;
	if (rd->m != NULL)
		return sq_mreader_read(rd->m, buf, n, off, err);
	do
		got = pread(rd->fd, buf, n, (off_t)off);
	while (got == -1 && errno == EINTR);
	if (got == -1)
		return atr_err_set(err, ATR_E_IO, "cannot read content: %s", strerror(errno));
	return got;
}

static void
sq_blob_reader_close(struct store_blob_reader *base)
{
	struct sq_reader *rd = (struct sq_reader *)base;

	if (rd->fd != -1)
		close(rd->fd);
	sq_mreader_close(rd->m);
	free(rd);
}

static const struct store_ops sqlite_ops = {
	.name = "sqlite",
	.blocking = 0,
	.close = sq_close,
	.describe = sq_describe,
	.conn_open = sq_conn_open,
	.conn_close = sq_conn_close,
	.user_count = sq_user_count,
	.user_create = sq_user_create,
	.user_get = sq_user_get,
	.user_list = sq_user_list,
	.user_delete = sq_user_delete,
	.user_set_password = sq_user_set_password,
	.user_set_role = sq_user_set_role,
	.user_get_profile = sq_user_get_profile,
	.user_sync_directory = sq_user_sync_directory,
	.session_create = sq_session_create,
	.session_lookup = sq_session_lookup,
	.session_delete = sq_session_delete,
	.session_purge = sq_session_purge,
	.project_create = sq_project_create,
	.project_get = sq_project_get,
	.project_list = sq_project_list,
	.project_delete = sq_project_delete,
	.revision_list = sq_revision_list,
	.revision_get = sq_revision_get,
	.revision_commit = sq_revision_commit,
	.branch_create = sq_branch_create,
	.branch_get = sq_branch_get,
	.branch_list = sq_branch_list,
	.branch_delete = sq_branch_delete,
	.tag_create = sq_tag_create,
	.tag_get = sq_tag_get,
	.tag_list = sq_tag_list,
	.tag_delete = sq_tag_delete,
	.locks_take = sq_locks_take,
	.locks_release = sq_locks_release,
	.locks_list = sq_locks_list,
	.lock_get = sq_lock_get,
	.blob_writer_new = sq_blob_writer_new,
	.blob_write = sq_blob_write,
	.blob_written = sq_blob_written,
	.blob_finish = sq_blob_finish,
	.blob_abort = sq_blob_abort,
	.blob_reader_open = sq_blob_reader_open,
	.blob_reader_fd = sq_blob_reader_fd,
	.blob_read = sq_blob_read,
	.blob_reader_close = sq_blob_reader_close,
	.chunk_missing = sq_chunk_missing,
	.chunk_put = sq_chunk_put,
	.content_create = sq_content_create,
	.content_hold = sq_content_hold,
	.content_manifest = sq_content_manifest,
	.chunk_get = sq_chunk_get,
	.event_add = sq_event_add,
	.event_list = sq_event_list,
	.event_last = sq_event_last,
	.integration_create = sq_integration_create,
	.integration_get = sq_integration_get,
	.integration_list = sq_integration_list,
	.integration_update = sq_integration_update,
	.integration_set_state = sq_integration_set_state,
	.integration_rotate = sq_integration_rotate,
	.integration_delete = sq_integration_delete,
	.delivery_due = sq_delivery_due,
	.delivery_next_time = sq_delivery_next_time,
	.delivery_claim = sq_delivery_claim,
	.delivery_finish = sq_delivery_finish,
	.delivery_log = sq_delivery_log,
	.delivery_redeliver = sq_delivery_redeliver,
	.delivery_add_test = sq_delivery_add_test,
	.event_purge = sq_event_purge,
};


/*
 * The online snapshot (store.h). SQLite's backup API rather than VACUUM
 * INTO: sqlite3_backup_step(-1) copies every page inside one read
 * transaction of the source, which in WAL mode neither waits for the
 * server's writers nor makes them wait (they append to the WAL; only
 * checkpoints stop at our read mark until we finish), and it reads the
 * committed frames still in the WAL. VACUUM INTO would do the same
 * reading but rebuild every table and index on the way (more CPU, a
 * different file from the live one for no gain here). The source is
 * opened read-only, so nothing of DIR is changed and no checkpoint runs
 * from here.
 */
int
store_sqlite_snapshot(const char *datadir, const char *dest, struct atr_err *err)
{
	char path[4200];
	sqlite3 *src = NULL, *dst = NULL;
	sqlite3_backup *b;
	int rc, tries = 0;

	if ((size_t)snprintf(path, sizeof(path), "%s/atrium.db", datadir) >= sizeof(path))
		return atr_err_set(err, ATR_E_CONFIG, "the data directory's name is too long");
	if (access(path, F_OK) == -1)
		return atr_err_set(err, ATR_E_NOT_FOUND, "%s: %s; --data must name the data "
		    "directory of an atriumd", path, strerror(errno));
	if (sqlite3_open_v2(path, &src, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		atr_err_set(err, ATR_E_DATABASE, "cannot open %s: %s", path,
		    src != NULL ? sqlite3_errmsg(src) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(src, 30000);
	if (sqlite3_open_v2(dest, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
		SQLITE_OK ||
	    sqlite3_exec(dst, "PRAGMA synchronous=FULL", NULL, NULL, NULL) != SQLITE_OK) {
		atr_err_set(err, ATR_E_IO, "cannot create %s: %s", dest,
		    dst != NULL ? sqlite3_errmsg(dst) : "out of memory");
		goto fail;
	}
	if ((b = sqlite3_backup_init(dst, "main", src, "main")) == NULL) {
		atr_err_set(err, ATR_E_DATABASE, "cannot start the snapshot of %s: %s", path,
		    sqlite3_errmsg(dst));
		goto fail;
	}
	/* BUSY only while another connection recovers or restarts the WAL:
	 * moments. Each try is a whole copy in one read transaction. */
	while ((rc = sqlite3_backup_step(b, -1)) == SQLITE_BUSY || rc == SQLITE_LOCKED) {
		if (++tries == 300)
			break;
		sqlite3_sleep(100);
	}
	sqlite3_backup_finish(b);
	if (rc != SQLITE_DONE) {
		atr_err_set(err, ATR_E_DATABASE, "the snapshot of %s failed: %s", path,
		    sqlite3_errstr(rc));
		goto fail;
	}
	/* One self-contained file: no -wal beside it in the backup. */
	if (sqlite3_exec(dst, "PRAGMA journal_mode=DELETE", NULL, NULL, NULL) != SQLITE_OK) {
		atr_err_set(err, ATR_E_IO, "cannot finish %s: %s", dest, sqlite3_errmsg(dst));
		goto fail;
	}
	sqlite3_close_v2(src);
	if (sqlite3_close(dst) != SQLITE_OK)
		return atr_err_set(err, ATR_E_IO, "cannot close %s", dest);
	return 0;
fail:
	sqlite3_close_v2(src);
	sqlite3_close_v2(dst);
	return -1;
}

void
store_sqlite_blob_path(const char *dir, const char *sha256, char *out, size_t size)
{
	snprintf(out, size, "%s/blobs/%.2s/%s", dir, sha256, sha256);
}
