/*
 * The store test-suite: one table of cases, run against every backend.
 *
 *   sqlite        the embedded store as atriumd uses it by default
 *   sqlite-async  the same with ATRIUM_STORE_ASYNC=1 (content read in pieces)
 *   pg            PostgreSQL, when ATRIUM_TEST_PG_URL names a database the
 *                 suite may wipe (tests/integration/pg_store.sh sets it, with
 *                 ATRIUM_DATABASE_SSL=on and the test CA), every read from
 *                 the database (database_cache_size = 0). Each case starts
 *                 from empty tables.
 *   pg-cached     the same with the node's content cache on (the default).
 *
 * ATRIUM_TEST_STORE_BACKENDS=pg (or a comma list) runs only those.
 * Every case checks the same error codes and sentences on every backend:
 * that is the contract of store.h.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <sys/stat.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <sqlite3.h>
#include <openssl/evp.h>

#include "atrium/config.h"
#include "atrium/util.h"
#include "server/store.h"

enum backend { B_SQLITE, B_SQLITE_ASYNC, B_PG, B_PG_CACHED };
static const char *const backend_names[] = {"sqlite", "sqlite-async", "pg", "pg-cached"};
static const enum backend backend_ids[] = {B_SQLITE, B_SQLITE_ASYNC, B_PG, B_PG_CACHED};
#define NBACKENDS 4

struct fx {
	enum backend b;
	char dir[300];
	struct atr_config *cfg;
	struct store *st;
	struct store_conn *sc;
};

#define NOW 1800000000

/* ---- fixture */

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
quiet(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

/* A connection to the database named by ATRIUM_TEST_PG_URL. */
static PGconn *
pg_test_connect(void)
{
	const char *ssl = getenv("ATRIUM_DATABASE_SSL");
	const char *root = getenv("ATRIUM_DATABASE_SSL_ROOT_CERT");
	int on = ssl != NULL && strcmp(ssl, "on") == 0;
	const char *keys[] = {"dbname", "sslmode", "sslrootcert", NULL};
	const char *vals[] = {getenv("ATRIUM_TEST_PG_URL"), on ? "verify-full" : "prefer",
		root != NULL && *root ? root : NULL, NULL};
	PGconn *db = PQconnectdbParams(keys, vals, 1);

	if (PQstatus(db) != CONNECTION_OK)
		fail_msg("cannot connect to ATRIUM_TEST_PG_URL: %s", PQerrorMessage(db));
	return db;
}

/* Empties the PostgreSQL database named by ATRIUM_TEST_PG_URL. */
static void
pg_wipe(void)
{
	const char *ssl = getenv("ATRIUM_DATABASE_SSL");
	const char *root = getenv("ATRIUM_DATABASE_SSL_ROOT_CERT");
	int on = ssl != NULL && strcmp(ssl, "on") == 0;
	const char *keys[] = {"dbname", "sslmode", "sslrootcert", NULL};
	const char *vals[] = {getenv("ATRIUM_TEST_PG_URL"), on ? "verify-full" : "prefer",
		root != NULL && *root ? root : NULL, NULL};
	PGconn *db = PQconnectdbParams(keys, vals, 1);
	PGresult *res;

	if (PQstatus(db) != CONNECTION_OK)
		fail_msg("cannot connect to ATRIUM_TEST_PG_URL: %s", PQerrorMessage(db));
	PQsetNoticeProcessor(db, quiet, NULL);
	res = PQexec(db, "DROP TABLE IF EXISTS atrium_schema, locks, tags, sessions, revisions,"
			 " branches, projects,"
			 " users, blobs, content_chunks, uploads, delivery_attempts, deliveries,"
			 " integrations, events CASCADE");
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		fail_msg("cannot empty the test database: %s", PQerrorMessage(db));
	PQclear(res);
	PQfinish(db);
}

static struct store *
open_store(struct fx *f, struct atr_err *err)
{
	struct store *st;

	if (f->b == B_SQLITE_ASYNC)
		setenv("ATRIUM_STORE_ASYNC", "1", 1);
	st = store_open(f->cfg, f->dir, err);
	unsetenv("ATRIUM_STORE_ASYNC");
	return st;
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct atr_err err;

	assert_non_null(f);
	f->b = *(const enum backend *)*state;
	snprintf(f->dir, 256, "%.200s/atrium-store-XXXXXX",
	    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	assert_non_null(mkdtemp(f->dir));
	assert_non_null(f->cfg = atr_config_new());
	if (f->b == B_PG || f->b == B_PG_CACHED) {
		assert_int_equal(atr_config_load_env(f->cfg, &err), 0);
		assert_int_equal(
		    atr_config_set(f->cfg, "database", getenv("ATRIUM_TEST_PG_URL"), "test", &err), 0);
		assert_int_equal(atr_config_set(f->cfg, "database_cache_size",
				     f->b == B_PG ? "0" : "64M", "test", &err), 0);
		pg_wipe();
	}
	if ((f->st = open_store(f, &err)) == NULL)
		fail_msg("store_open: %s", atr_err_msg(&err));
	assert_non_null(f->sc = store_conn_open(f->st, &err));
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	store_conn_close(f->sc);
	store_close(f->st);
	atr_config_free(f->cfg);
	nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* ---- helpers */

#define OK(call)                                                                   \
	do {                                                                       \
		struct atr_err e_;                                                 \
		atr_err_clear(&e_);                                                \
		if ((call) < 0)                                                    \
			fail_msg("%s: %s", #call, atr_err_msg(&e_));               \
	} while (0)

/* Expects call (using `e` as its err) to fail with code and a sentence
 * containing text. */
#define FAILS(want, text, call)                                                    \
	do {                                                                       \
		struct atr_err e;                                                  \
		atr_err_clear(&e);                                                 \
		if ((call) != -1)                                                  \
			fail_msg("%s succeeded; expected %s", #call, #want);       \
		if (e.code != (want))                                              \
			fail_msg("%s: code %s (%s); expected %s", #call,           \
			    atr_errcode_name(e.code), atr_err_msg(&e), #want);     \
		if (strstr(atr_err_msg(&e), (text)) == NULL)                       \
			fail_msg("%s: '%s' lacks '%s'", #call, atr_err_msg(&e), (text)); \
	} while (0)

static void
fill(unsigned char *buf, size_t n, unsigned seed)
{
	uint32_t x = seed * 2654435761u + 1;

	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		buf[i] = (unsigned char)x;
	}
}

static void
sha_of(const void *buf, size_t n, char out[65])
{
	unsigned char md[32];

	EVP_Digest(buf, n, md, NULL, EVP_sha256(), NULL);
	atr_hex(md, sizeof(md), out);
}

/*
 * Stores data through a blob writer in pieces of `piece` bytes, the pieces
 * spread over the connections in scs (as the job pool does), and fills
 * sha256. Returns 0 or -1 (err filled).
 */
static int
put_blob(struct fx *f, struct store_conn **scs, int nscs, const unsigned char *data, size_t len,
    size_t piece, char sha256[65], struct atr_err *err)
{
	struct store_blob_writer *w = store_blob_writer_new(f->st, err);
	size_t off = 0;
	int i = 0;

	if (w == NULL)
		return -1;
	while (off < len) {
		size_t n = len - off < piece ? len - off : piece;
		if (store_blob_write(w, scs[i++ % nscs], data + off, n, err) == -1) {
			store_blob_abort(w);
			return -1;
		}
		off += n;
	}
	assert_int_equal(store_blob_written(w), (int64_t)len);
	return store_blob_finish(w, scs[i % nscs], sha256, err);
}

/* Commits len bytes of seeded content on base; returns the call's result. */
static int
commit_seeded(struct fx *f, struct store_conn *sc, const char *project, int64_t base,
    const char *author, size_t len, unsigned seed, char sha256[65], struct store_revision *head,
    struct atr_err *err)
{
	unsigned char *data = malloc(len + 1);
	char sha[65];
	int rc;

	assert_non_null(data);
	fill(data, len, seed);
	rc = put_blob(f, &sc, 1, data, len, 64 * 1024, sha, err);
	free(data);
	if (rc == -1)
		return -1;
	if (sha256 != NULL)
		memcpy(sha256, sha, 65);
	return store_revision_commit(sc, project, base, author, "a message", NOW + base, (int64_t)len,
	    sha, head, err);
}

/* Reads a whole blob back through the reader in pieces of `piece`. */
static void
expect_content(struct fx *f, struct store_conn *sc, const char *sha256, const unsigned char *data,
    size_t len, size_t piece)
{
	struct atr_err err;
	struct store_blob_reader *rd = store_blob_reader_open(sc, sha256, (int64_t)len, &err);
	unsigned char *buf = malloc(piece);
	size_t off = 0;

	(void)f;
	if (rd == NULL)
		fail_msg("store_blob_reader_open: %s", atr_err_msg(&err));
	assert_non_null(buf);
	while (off < len) {
		int64_t got = store_blob_read(rd, sc, buf, piece, (int64_t)off, &err);
		if (got <= 0)
			fail_msg("store_blob_read at %zu: %s", off, got == 0 ? "early end" : atr_err_msg(&err));
		assert_memory_equal(buf, data + off, (size_t)got);
		off += (size_t)got;
	}
	assert_int_equal(store_blob_read(rd, sc, buf, piece, (int64_t)len, &err), 0);
	free(buf);
	store_blob_reader_close(rd);
}

struct names {
	char v[16][2 * STORE_ELEMENT_MAX + 8];
	int n;
};

static int
collect_user(const struct store_user *u, void *arg)
{
	struct names *n = arg;

	snprintf(n->v[n->n++], sizeof(n->v[0]), "%s/%s", u->name, u->role);
	return n->n == 16;
}

static int
collect_project(const struct store_project *p, void *arg)
{
	struct names *n = arg;

	snprintf(n->v[n->n++], sizeof(n->v[0]), "%s@%lld", p->name, (long long)p->head);
	return n->n == 16;
}

static int
collect_revision(const struct store_revision *r, void *arg)
{
	struct names *n = arg;

	snprintf(n->v[n->n++], sizeof(n->v[0]), "%lld:%s", (long long)r->number, r->author);
	return n->n == 16;
}

static int
collect_lock(const struct store_lock *l, void *arg)
{
	struct names *n = arg;

	snprintf(n->v[n->n++], sizeof(n->v[0]), "%s=%s", l->element, l->holder);
	return n->n == 16;
}

/* ---- the cases */

static void
t_users(void **state)
{
	struct fx *f = *state;
	struct store_user u;
	struct names n = {0};
	char hash[128];
	int64_t count = -1;

	OK(store_user_count(f->sc, &count, &e_));
	assert_int_equal(count, 0);
	OK(store_user_create(f->sc, "bob", "hash-of-bob", "user", NULL, &e_));
	OK(store_user_create(f->sc, "alice", "hash-of-alice", "admin", NULL, &e_));
	FAILS(ATR_E_EXISTS, "a user named 'bob' already exists",
	    store_user_create(f->sc, "bob", "x", "user", NULL, &e));
	OK(store_user_count(f->sc, &count, &e_));
	assert_int_equal(count, 2);
	OK(store_user_get(f->sc, "alice", &u, hash, sizeof(hash), &e_));
	assert_string_equal(u.name, "alice");
	assert_string_equal(u.role, "admin");
	assert_string_equal(hash, "hash-of-alice");
	assert_true(u.created > 1700000000);
	OK(store_user_get(f->sc, "bob", &u, NULL, 0, &e_));
	assert_string_equal(u.role, "user");
	FAILS(ATR_E_NOT_FOUND, "there is no user named 'nobody'",
	    store_user_get(f->sc, "nobody", &u, NULL, 0, &e));
	OK(store_user_list(f->sc, collect_user, &n, &e_));
	assert_int_equal(n.n, 2);
	assert_string_equal(n.v[0], "alice/admin");
	assert_string_equal(n.v[1], "bob/user");
	OK(store_user_set_role(f->sc, "bob", "admin", &e_));
	OK(store_user_get(f->sc, "bob", &u, NULL, 0, &e_));
	assert_string_equal(u.role, "admin");
	/* UTF-8 names come back as they went in. */
	OK(store_user_create(f->sc, "Zoë Ünal", "h", "user", NULL, &e_));
	OK(store_user_get(f->sc, "Zoë Ünal", &u, NULL, 0, &e_));
	assert_string_equal(u.name, "Zoë Ünal");
}

/* Directory sign-in's accounts: made, refreshed, converted, never matched
 * by a password (store_user_sync_directory, store_user_get_profile). */
static void
t_directory_users(void **state)
{
	struct fx *f = *state;
	struct store_user u;
	struct store_user_profile p;
	char hash[128];
	int created = -1;

	OK(store_user_create(f->sc, "carol", "hash-of-carol", "user", NULL, &e_));
	OK(store_user_get_profile(f->sc, "carol", &p, &e_));
	assert_string_equal(p.source, "local");
	assert_string_equal(p.display_name, "");
	assert_string_equal(p.email, "");
	OK(store_user_sync_directory(f->sc, "dora", "admin", "Dora D.", "dora@corp.test", NOW,
	    &created, &e_));
	assert_int_equal(created, 1);
	OK(store_user_get(f->sc, "dora", &u, hash, sizeof(hash), &e_));
	assert_string_equal(u.role, "admin");
	assert_int_equal(u.created, NOW);
	assert_string_equal(hash, "!directory");
	OK(store_user_get_profile(f->sc, "dora", &p, &e_));
	assert_string_equal(p.source, "directory");
	assert_string_equal(p.display_name, "Dora D.");
	assert_string_equal(p.email, "dora@corp.test");
	/* The next login refreshes it. */
	OK(store_user_sync_directory(f->sc, "dora", "user", "Dora Dee", "", NOW + 5, &created, &e_));
	assert_int_equal(created, 0);
	OK(store_user_get(f->sc, "dora", &u, NULL, 0, &e_));
	assert_string_equal(u.role, "user");
	assert_int_equal(u.created, NOW);
	OK(store_user_get_profile(f->sc, "dora", &p, &e_));
	assert_string_equal(p.display_name, "Dora Dee");
	assert_string_equal(p.email, "");
	/* A local account taken over by the directory loses its password. */
	OK(store_user_sync_directory(f->sc, "carol", "user", "Carol C.", "c@corp.test", NOW, NULL,
	    &e_));
	OK(store_user_get(f->sc, "carol", &u, hash, sizeof(hash), &e_));
	assert_string_equal(hash, "!directory");
	OK(store_user_get_profile(f->sc, "carol", &p, &e_));
	assert_string_equal(p.source, "directory");
	FAILS(ATR_E_NOT_FOUND, "there is no user named 'nobody'",
	    store_user_get_profile(f->sc, "nobody", &p, &e));
}

static void
t_last_admin(void **state)
{
	struct fx *f = *state;

	OK(store_user_create(f->sc, "root", "h", "admin", NULL, &e_));
	OK(store_user_create(f->sc, "carol", "h", "user", NULL, &e_));
	FAILS(ATR_E_CONFLICT, "'root' is the last admin; make another user an admin first",
	    store_user_delete(f->sc, "root", NULL, &e));
	FAILS(ATR_E_CONFLICT, "'root' is the last admin",
	    store_user_set_role(f->sc, "root", "user", &e));
	FAILS(ATR_E_NOT_FOUND, "there is no user named 'ghost'", store_user_delete(f->sc, "ghost", NULL, &e));
	FAILS(ATR_E_NOT_FOUND, "there is no user named 'ghost'",
	    store_user_set_role(f->sc, "ghost", "admin", &e));
	OK(store_user_set_role(f->sc, "carol", "admin", &e_));
	OK(store_user_delete(f->sc, "root", NULL, &e_));
	FAILS(ATR_E_CONFLICT, "'carol' is the last admin", store_user_delete(f->sc, "carol", NULL, &e));
	OK(store_user_set_role(f->sc, "carol", "admin", &e_)); /* admin to admin: fine */
}

static void
t_sessions(void **state)
{
	struct fx *f = *state;
	struct store_user u;

	OK(store_user_create(f->sc, "dave", "h", "user", NULL, &e_));
	OK(store_session_create(f->sc, "t1", "dave", NOW + 100, &e_));
	OK(store_session_create(f->sc, "t2", "dave", NOW + 10, &e_));
	OK(store_session_lookup(f->sc, "t1", NOW, &u, &e_));
	assert_string_equal(u.name, "dave");
	assert_string_equal(u.role, "user");
	FAILS(ATR_E_UNAUTHORIZED, "your session has expired or was ended; log in again",
	    store_session_lookup(f->sc, "t2", NOW + 10, &u, &e));
	FAILS(ATR_E_UNAUTHORIZED, "log in again", store_session_lookup(f->sc, "nope", NOW, &u, &e));
	OK(store_session_purge(f->sc, NOW + 50, &e_));
	OK(store_session_lookup(f->sc, "t1", NOW + 50, &u, &e_));
	OK(store_session_delete(f->sc, "t1", &e_));
	FAILS(ATR_E_UNAUTHORIZED, "log in again", store_session_lookup(f->sc, "t1", NOW, &u, &e));
	/* Deleting a user ends their sessions. */
	OK(store_user_create(f->sc, "admin", "h", "admin", NULL, &e_));
	OK(store_session_create(f->sc, "t3", "dave", NOW + 100, &e_));
	OK(store_user_delete(f->sc, "dave", NULL, &e_));
	FAILS(ATR_E_UNAUTHORIZED, "log in again", store_session_lookup(f->sc, "t3", NOW, &u, &e));
}

static void
t_password_change(void **state)
{
	struct fx *f = *state;
	struct store_user u;
	char hash[64];

	OK(store_user_create(f->sc, "erin", "old", "user", NULL, &e_));
	OK(store_session_create(f->sc, "keep", "erin", NOW + 100, &e_));
	OK(store_session_create(f->sc, "drop", "erin", NOW + 100, &e_));
	OK(store_user_set_password(f->sc, "erin", "new", "keep", &e_));
	OK(store_user_get(f->sc, "erin", &u, hash, sizeof(hash), &e_));
	assert_string_equal(hash, "new");
	OK(store_session_lookup(f->sc, "keep", NOW, &u, &e_));
	FAILS(ATR_E_UNAUTHORIZED, "log in again", store_session_lookup(f->sc, "drop", NOW, &u, &e));
	/* Without a token to keep (an admin's change): every session ends. */
	OK(store_user_set_password(f->sc, "erin", "newer", NULL, &e_));
	FAILS(ATR_E_UNAUTHORIZED, "log in again", store_session_lookup(f->sc, "keep", NOW, &u, &e));
	FAILS(ATR_E_NOT_FOUND, "there is no user named 'ghost'",
	    store_user_set_password(f->sc, "ghost", "x", NULL, &e));
}

static void
t_projects(void **state)
{
	struct fx *f = *state;
	struct store_project p;
	struct names n = {0};

	OK(store_project_create(f->sc, "beta", "the second", "alice", NOW, &e_));
	OK(store_project_create(f->sc, "alpha", "", "bob", NOW + 1, &e_));
	FAILS(ATR_E_EXISTS, "a project named 'beta' already exists",
	    store_project_create(f->sc, "beta", "", "x", NOW, &e));
	OK(store_project_get(f->sc, "beta", &p, &e_));
	assert_string_equal(p.name, "beta");
	assert_string_equal(p.description, "the second");
	assert_string_equal(p.created_by, "alice");
	assert_int_equal(p.created, NOW);
	assert_int_equal(p.head, 0);
	FAILS(ATR_E_NOT_FOUND, "there is no project named 'gamma'",
	    store_project_get(f->sc, "gamma", &p, &e));
	OK(store_project_list(f->sc, collect_project, &n, &e_));
	assert_int_equal(n.n, 2);
	assert_string_equal(n.v[0], "alpha@0");
	assert_string_equal(n.v[1], "beta@0");
	OK(store_project_delete(f->sc, "alpha", NULL, &e_));
	FAILS(ATR_E_NOT_FOUND, "there is no project named 'alpha'",
	    store_project_delete(f->sc, "alpha", NULL, &e));
	FAILS(ATR_E_NOT_FOUND, "there is no project named 'alpha'",
	    store_project_get(f->sc, "alpha", &p, &e));
}

static void
t_revisions(void **state)
{
	struct fx *f = *state;
	struct store_revision r;
	struct store_project p;
	struct names n = {0};
	char sha[65];

	OK(store_project_create(f->sc, "model", "", "alice", NOW, &e_));
	FAILS(ATR_E_NOT_FOUND, "project 'model' has no revisions yet",
	    store_revision_get(f->sc, "model", -1, &r, &e));
	FAILS(ATR_E_NOT_FOUND, "there is no project named 'other'",
	    store_revision_list(f->sc, "other", collect_revision, &n, &e));
	OK(commit_seeded(f, f->sc, "model", 0, "alice", 1000, 1, sha, NULL, &e_));
	OK(commit_seeded(f, f->sc, "model", 1, "bob", 2000, 2, NULL, NULL, &e_));
	OK(commit_seeded(f, f->sc, "model", 2, "carol", 0, 3, NULL, NULL, &e_));
	OK(store_project_get(f->sc, "model", &p, &e_));
	assert_int_equal(p.head, 3);
	assert_int_equal(p.last.number, 3);
	assert_string_equal(p.last.author, "carol");
	assert_int_equal(p.last.size, 0);
	assert_string_equal(p.last.sha256,
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	OK(store_revision_get(f->sc, "model", 1, &r, &e_));
	assert_int_equal(r.number, 1);
	assert_string_equal(r.author, "alice");
	assert_string_equal(r.message, "a message");
	assert_int_equal(r.time, NOW);
	assert_int_equal(r.size, 1000);
	assert_string_equal(r.sha256, sha);
	OK(store_revision_get(f->sc, "model", -1, &r, &e_));
	assert_int_equal(r.number, 3);
	FAILS(ATR_E_NOT_FOUND, "project 'model' has no revision 7 (its newest is 3)",
	    store_revision_get(f->sc, "model", 7, &r, &e));
	OK(store_revision_list(f->sc, "model", collect_revision, &n, &e_));
	assert_int_equal(n.n, 3);
	assert_string_equal(n.v[0], "3:carol");
	assert_string_equal(n.v[2], "1:alice");
}

static void
t_commit_conflict(void **state)
{
	struct fx *f = *state;
	struct store_revision head;
	char sha[65];

	OK(store_project_create(f->sc, "race", "", "alice", NOW, &e_));
	OK(commit_seeded(f, f->sc, "race", 0, "alice", 100, 1, NULL, NULL, &e_));
	memset(&head, 0, sizeof(head));
	FAILS(ATR_E_CONFLICT, "alice committed revision 1 (\"a message\")",
	    commit_seeded(f, f->sc, "race", 0, "bob", 100, 2, sha, &head, &e));
	assert_int_equal(head.number, 1);
	assert_string_equal(head.author, "alice");
	/* The loser's content, referenced by nothing, is gone. */
	FAILS(ATR_E_IO, "", store_blob_reader_open(f->sc, sha, 100, &e) == NULL ? -1 : 0);
	FAILS(ATR_E_NOT_FOUND, "there is no project named 'none'",
	    commit_seeded(f, f->sc, "none", 0, "bob", 10, 3, NULL, NULL, &e));
}

static void
t_blob_pieces(void **state)
{
	struct fx *f = *state;
	size_t len = 3 * 1024 * 1024 + 12345;
	unsigned char *data = malloc(len);
	struct store_conn *scs[3];
	struct atr_err err;
	struct store_blob_reader *rd;
	unsigned char buf[100];
	char sha[65], want[65];

	assert_non_null(data);
	fill(data, len, 42);
	sha_of(data, len, want);
	scs[0] = f->sc;
	assert_non_null(scs[1] = store_conn_open(f->st, &err));
	assert_non_null(scs[2] = store_conn_open(f->st, &err));
	/* Uneven pieces, spread over three connections. */
	OK(put_blob(f, scs, 3, data, len, 1024 * 1024 + 7, sha, &e_));
	assert_string_equal(sha, want);
	OK(store_project_create(f->sc, "p", "", "a", NOW, &e_));
	OK(store_revision_commit(f->sc, "p", 0, "a", "m", NOW, (int64_t)len, sha, NULL, &e_));
	/* Whole, in pieces of several sizes, through every connection. */
	expect_content(f, scs[1], sha, data, len, 1024 * 1024);
	expect_content(f, scs[2], sha, data, len, 333333);
	expect_content(f, f->sc, sha, data, len, 4 * 1024 * 1024);
	/* Small reads across the boundaries of the pieces written. */
	assert_non_null(rd = store_blob_reader_open(f->sc, sha, (int64_t)len, &err));
	for (size_t off = 1024 * 1024 + 7 - 50; off < len; off += 1024 * 1024 + 7) {
		int64_t got = store_blob_read(rd, scs[(off / 7) % 3], buf, sizeof(buf), (int64_t)off, &err);
		assert_true(got > 0);
		assert_memory_equal(buf, data + off, (size_t)got);
	}
	assert_int_equal(store_blob_read(rd, f->sc, buf, sizeof(buf), (int64_t)len - 10, &err), 10);
	assert_memory_equal(buf, data + len - 10, 10);
	store_blob_reader_close(rd);
	/* A wrong size is refused at open. */
	FAILS(ATR_E_IO, "", store_blob_reader_open(f->sc, sha, (int64_t)len + 1, &e) == NULL ? -1 : 0);
	FAILS(ATR_E_IO, "",
	    store_blob_reader_open(f->sc, "00000000000000000000000000000000000000000000000000000000000000aa",
		1, &e) == NULL ? -1 : 0);
	store_conn_close(scs[1]);
	store_conn_close(scs[2]);
	free(data);
}

static void
t_blob_dedup_and_delete(void **state)
{
	struct fx *f = *state;
	unsigned char data[70000];
	char sha1[65], sha2[65], shared[65];
	struct atr_err err;
	struct store_blob_reader *rd;

	fill(data, sizeof(data), 7);
	OK(store_project_create(f->sc, "one", "", "a", NOW, &e_));
	OK(store_project_create(f->sc, "two", "", "a", NOW, &e_));
	/* The same content in both projects: stored once, readable from both. */
	OK(put_blob(f, &f->sc, 1, data, sizeof(data), 30000, sha1, &e_));
	OK(store_revision_commit(f->sc, "one", 0, "a", "m", NOW, sizeof(data), sha1, NULL, &e_));
	OK(put_blob(f, &f->sc, 1, data, sizeof(data), 50000, sha2, &e_));
	assert_string_equal(sha1, sha2);
	OK(store_revision_commit(f->sc, "two", 0, "a", "m", NOW, sizeof(data), sha2, NULL, &e_));
	memcpy(shared, sha1, 65);
	/* Content only project one has. */
	OK(commit_seeded(f, f->sc, "one", 1, "a", 5000, 99, sha1, NULL, &e_));
	OK(store_project_delete(f->sc, "one", NULL, &e_));
	/* Still used by project two: kept. Used by nobody: removed. */
	expect_content(f, f->sc, shared, data, sizeof(data), 65536);
	rd = store_blob_reader_open(f->sc, sha1, 5000, &err);
	assert_null(rd);
	OK(store_project_delete(f->sc, "two", NULL, &e_));
	assert_null(store_blob_reader_open(f->sc, shared, sizeof(data), &err));
}

static void
t_blob_abort(void **state)
{
	struct fx *f = *state;
	struct atr_err err;
	struct store_blob_writer *w = store_blob_writer_new(f->st, &err);
	unsigned char data[5000];
	char sha[65];

	fill(data, sizeof(data), 5);
	assert_non_null(w);
	OK(store_blob_write(w, f->sc, data, sizeof(data), &e_));
	store_blob_abort(w);
	assert_non_null(w = store_blob_writer_new(f->st, &err));
	store_blob_abort(w); /* nothing written */
	/* Aborting leaves no content behind that could be read. */
	sha_of(data, sizeof(data), sha);
	assert_null(store_blob_reader_open(f->sc, sha, sizeof(data), &err));
	/* The same bytes stored properly later are fine. */
	OK(store_project_create(f->sc, "p", "", "a", NOW, &e_));
	OK(put_blob(f, &f->sc, 1, data, sizeof(data), 1000, sha, &e_));
	OK(store_revision_commit(f->sc, "p", 0, "a", "m", NOW, sizeof(data), sha, NULL, &e_));
	expect_content(f, f->sc, sha, data, sizeof(data), 777);
}

static void
t_locks(void **state)
{
	struct fx *f = *state;
	struct store_lock l;
	struct names n = {0};
	int rc;

	OK(store_user_create(f->sc, "alice", "h", "user", NULL, &e_));
	OK(store_user_create(f->sc, "bob", "h", "user", NULL, &e_));
	OK(store_user_create(f->sc, "root", "h", "admin", NULL, &e_));
	OK(store_project_create(f->sc, "plant", "", "alice", NOW, &e_));
	OK(rc = store_lock_acquire(f->sc, "plant", "Pump-7", "alice", NOW, &l, &e_));
	assert_int_equal(rc, 1);
	assert_string_equal(l.holder, "alice");
	assert_int_equal(l.since, NOW);
	/* Taking it again: already yours, since unchanged. */
	OK(rc = store_lock_acquire(f->sc, "plant", "Pump-7", "alice", NOW + 5, &l, &e_));
	assert_int_equal(rc, 0);
	assert_int_equal(l.since, NOW);
	memset(&l, 0, sizeof(l));
	FAILS(ATR_E_CONFLICT, "'Pump-7' in project 'plant' is locked by alice",
	    store_lock_acquire(f->sc, "plant", "Pump-7", "bob", NOW, &l, &e));
	assert_string_equal(l.holder, "alice");
	OK(store_lock_acquire(f->sc, "plant", "Valve/3 ü", "bob", NOW + 1, NULL, &e_));
	FAILS(ATR_E_NOT_FOUND, "there is no project named 'nope'",
	    store_lock_acquire(f->sc, "nope", "x", "bob", NOW, NULL, &e));
	OK(store_lock_list(f->sc, "plant", collect_lock, &n, &e_));
	assert_int_equal(n.n, 2);
	assert_string_equal(n.v[0], "Pump-7=alice");
	assert_string_equal(n.v[1], "Valve/3 ü=bob");
	FAILS(ATR_E_FORBIDDEN, "'Pump-7' in project 'plant' is locked by alice; only alice or an admin",
	    store_lock_release(f->sc, "plant", "Pump-7", "bob", 0, &e));
	FAILS(ATR_E_NOT_FOUND, "'Tank' in project 'plant' is not locked",
	    store_lock_release(f->sc, "plant", "Tank", "bob", 0, &e));
	FAILS(ATR_E_NOT_FOUND, "there is no project named 'nope'",
	    store_lock_release(f->sc, "nope", "Tank", "bob", 1, &e));
	FAILS(ATR_E_NOT_FOUND, "there is no project named 'nope'",
	    store_lock_list(f->sc, "nope", collect_lock, &n, &e));
	OK(store_lock_release(f->sc, "plant", "Pump-7", "root", 1, &e_)); /* an admin */
	OK(store_lock_acquire(f->sc, "plant", "Pump-7", "bob", NOW + 2, NULL, &e_));
	OK(store_lock_release(f->sc, "plant", "Pump-7", "bob", 0, &e_));
	/* A deleted user's locks go with them; so do a deleted project's. */
	OK(store_lock_acquire(f->sc, "plant", "Pump-7", "alice", NOW, NULL, &e_));
	OK(store_user_delete(f->sc, "alice", NULL, &e_));
	n.n = 0;
	OK(store_lock_list(f->sc, "plant", collect_lock, &n, &e_));
	assert_int_equal(n.n, 1);
	OK(store_project_delete(f->sc, "plant", NULL, &e_));
	OK(store_project_create(f->sc, "plant", "", "bob", NOW, &e_));
	n.n = 0;
	OK(store_lock_list(f->sc, "plant", collect_lock, &n, &e_));
	assert_int_equal(n.n, 0);
}

/* Several connections commit on the same base at once: one wins each round. */
struct racer {
	struct fx *f;
	pthread_barrier_t *bar;
	int wins, conflicts, other;
	int id;
};

#define RACERS 4
#define ROUNDS 8

static void *
race_main(void *arg)
{
	struct racer *r = arg;
	struct atr_err err;
	struct store_conn *sc = store_conn_open(r->f->st, &err);
	char author[16];

	snprintf(author, sizeof(author), "r%d", r->id);
	for (int round = 0; round < ROUNDS; round++) {
		struct store_project p;
		int rc;
		pthread_barrier_wait(r->bar);
		/* Everyone read the same head before anyone commits. */
		if (sc == NULL || store_project_get(sc, "race", &p, &err) == -1) {
			r->other++;
			pthread_barrier_wait(r->bar);
			pthread_barrier_wait(r->bar);
			continue;
		}
		pthread_barrier_wait(r->bar);
		rc = commit_seeded(r->f, sc, "race", p.head, author, 20000, (unsigned)(round * 10 + r->id),
		    NULL, NULL, &err);
		if (rc == 0)
			r->wins++;
		else if (err.code == ATR_E_CONFLICT)
			r->conflicts++;
		else
			r->other++;
		pthread_barrier_wait(r->bar);
	}
	store_conn_close(sc);
	return NULL;
}

static void
t_concurrent_commits(void **state)
{
	struct fx *f = *state;
	struct racer r[RACERS];
	pthread_t th[RACERS];
	pthread_barrier_t bar;
	struct store_project p;
	int wins = 0, conflicts = 0, other = 0;

	OK(store_project_create(f->sc, "race", "", "a", NOW, &e_));
	pthread_barrier_init(&bar, NULL, RACERS);
	for (int i = 0; i < RACERS; i++) {
		r[i] = (struct racer){.f = f, .bar = &bar, .id = i};
		pthread_create(&th[i], NULL, race_main, &r[i]);
	}
	for (int i = 0; i < RACERS; i++) {
		pthread_join(th[i], NULL);
		wins += r[i].wins;
		conflicts += r[i].conflicts;
		other += r[i].other;
	}
	pthread_barrier_destroy(&bar);
	assert_int_equal(other, 0);
	assert_int_equal(wins, ROUNDS);
	assert_int_equal(conflicts, ROUNDS * (RACERS - 1));
	OK(store_project_get(f->sc, "race", &p, &e_));
	assert_int_equal(p.head, ROUNDS);
}

static void
t_reopen(void **state)
{
	struct fx *f = *state;
	struct store_project p;
	struct store_user u;
	struct atr_err err;
	char sha[65];
	unsigned char data[3000];

	fill(data, sizeof(data), 11);
	OK(store_user_create(f->sc, "keeper", "h", "admin", NULL, &e_));
	OK(store_project_create(f->sc, "kept", "d", "keeper", NOW, &e_));
	OK(put_blob(f, &f->sc, 1, data, sizeof(data), 1000, sha, &e_));
	OK(store_revision_commit(f->sc, "kept", 0, "keeper", "m", NOW, sizeof(data), sha, NULL, &e_));
	OK(store_lock_acquire(f->sc, "kept", "e", "keeper", NOW, NULL, &e_));
	store_conn_close(f->sc);
	store_close(f->st);
	f->sc = NULL;
	if ((f->st = open_store(f, &err)) == NULL)
		fail_msg("reopen: %s", atr_err_msg(&err));
	assert_non_null(f->sc = store_conn_open(f->st, &err));
	OK(store_user_get(f->sc, "keeper", &u, NULL, 0, &e_));
	OK(store_project_get(f->sc, "kept", &p, &e_));
	assert_int_equal(p.head, 1);
	expect_content(f, f->sc, sha, data, sizeof(data), 1000);
	FAILS(ATR_E_CONFLICT, "locked by keeper", store_lock_acquire(f->sc, "kept", "e", "x", NOW, NULL, &e));
	assert_non_null(store_describe(f->st));
}

/* Content served from a plain file: always for sqlite, never for the async
 * variant nor for pg without a cache; for pg-cached once the node has a
 * verified copy: written through it, or read through it from the first
 * byte to the last. A second node fills its own copy; a node that did not
 * stop cleanly starts with an empty cache. */
static void
t_local_copies(void **state)
{
	struct fx *f = *state;
	size_t len = 2 * 1024 * 1024 + 333;
	unsigned char *data = malloc(len);
	struct store_blob_reader *rd;
	struct fx node2;
	struct atr_err err;
	char sha[65], marker[400];
	int want = f->b == B_SQLITE || f->b == B_PG_CACHED;

	assert_non_null(data);
	fill(data, len, 77);
	OK(store_project_create(f->sc, "p", "", "a", NOW, &e_));
	OK(put_blob(f, &f->sc, 1, data, len, 1024 * 1024, sha, &e_));
	OK(store_revision_commit(f->sc, "p", 0, "a", "m", NOW, (int64_t)len, sha, NULL, &e_));
	assert_non_null(rd = store_blob_reader_open(f->sc, sha, (int64_t)len, &err));
	assert_int_equal(store_blob_reader_fd(rd) != -1, want);
	store_blob_reader_close(rd);
	if (f->b != B_PG_CACHED) {
		free(data);
		return;
	}
	/* Node 2: the same database, a data directory of its own. */
	node2 = *f;
	snprintf(node2.dir, sizeof(node2.dir), "%.256s-node2", f->dir);
	assert_int_equal(mkdir(node2.dir, 0700), 0);
	assert_non_null(node2.st = open_store(&node2, &err));
	assert_non_null(node2.sc = store_conn_open(node2.st, &err));
	assert_non_null(rd = store_blob_reader_open(node2.sc, sha, (int64_t)len, &err));
	assert_int_equal(store_blob_reader_fd(rd), -1);
	store_blob_reader_close(rd);
	/* A range from the middle does not make a copy; the whole does. */
	assert_non_null(rd = store_blob_reader_open(node2.sc, sha, (int64_t)len, &err));
	assert_int_equal(store_blob_read(rd, node2.sc, data, 1000, 5000, &err), 1000);
	store_blob_reader_close(rd);
	fill(data, len, 77);
	expect_content(&node2, node2.sc, sha, data, len, 700000);
	assert_non_null(rd = store_blob_reader_open(node2.sc, sha, (int64_t)len, &err));
	assert_int_not_equal(store_blob_reader_fd(rd), -1);
	store_blob_reader_close(rd);
	expect_content(&node2, node2.sc, sha, data, len, 1024 * 1024);
	/* Stopped cleanly: the copy is kept. */
	store_conn_close(node2.sc);
	store_close(node2.st);
	assert_non_null(node2.st = open_store(&node2, &err));
	assert_non_null(node2.sc = store_conn_open(node2.st, &err));
	assert_non_null(rd = store_blob_reader_open(node2.sc, sha, (int64_t)len, &err));
	assert_int_not_equal(store_blob_reader_fd(rd), -1);
	store_blob_reader_close(rd);
	/* Not stopped cleanly (no marker): copies are not trusted. */
	store_conn_close(node2.sc);
	store_close(node2.st);
	snprintf(marker, sizeof(marker), "%s/cache/clean", node2.dir);
	assert_int_equal(unlink(marker), 0);
	assert_non_null(node2.st = open_store(&node2, &err));
	assert_non_null(node2.sc = store_conn_open(node2.st, &err));
	assert_non_null(rd = store_blob_reader_open(node2.sc, sha, (int64_t)len, &err));
	assert_int_equal(store_blob_reader_fd(rd), -1);
	store_blob_reader_close(rd);
	/* Deleted on node 1: node 1 forgets its copy at once. */
	OK(store_project_delete(f->sc, "p", NULL, &e_));
	assert_null(store_blob_reader_open(f->sc, sha, (int64_t)len, &err));
	store_conn_close(node2.sc);
	store_close(node2.st);
	nftw(node2.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(data);
}

/* ---- events, integrations, deliveries */

/* Far after the real clock (events are stamped with it): year 2096. */
#define T0 ((int64_t)4000000000000)

static void
add_integration(struct store_conn *sc, const char *name, const char *events, const char *project,
    const char *state)
{
	struct store_integration in;
	struct atr_err err;

	memset(&in, 0, sizeof(in));
	snprintf(in.name, sizeof(in.name), "%s", name);
	snprintf(in.url, sizeof(in.url), "https://hooks.example/%s", name);
	snprintf(in.events, sizeof(in.events), "%s", events);
	snprintf(in.project, sizeof(in.project), "%s", project);
	snprintf(in.secret, sizeof(in.secret), "whsec_c2VjcmV0LW9mLSVz%s", name);
	snprintf(in.created_by, sizeof(in.created_by), "root");
	if (store_integration_create(sc, &in, &err) == -1)
		fail_msg("store_integration_create(%s): %s", name, atr_err_msg(&err));
	assert_true(in.id > 0);
	if (strcmp(state, "active") != 0 &&
	    store_integration_set_state(sc, name, state, "by the test", "root", T0, &err) == -1)
		fail_msg("set_state(%s): %s", name, atr_err_msg(&err));
}

static struct store_integration
get_integration(struct store_conn *sc, const char *name)
{
	struct store_integration in;
	struct atr_err err;

	if (store_integration_get(sc, name, &in, &err) == -1)
		fail_msg("store_integration_get(%s): %s", name, atr_err_msg(&err));
	return in;
}

/* The due heads, as "integration:seq:type" strings. */
struct dues {
	int n;
	char v[16][120];
	int64_t id[16];
	char msg_id[16][48];
};

static int
collect_due(const struct store_delivery *d, void *arg)
{
	struct dues *ds = arg;

	assert_true(ds->n < 16);
	assert_string_equal(d->state, "pending");
	assert_non_null(d->event.data);
	assert_int_equal(d->event.data[0], '{');
	snprintf(ds->v[ds->n], sizeof(ds->v[0]), "%s:%lld:%s", d->integration, (long long)d->seq,
	    d->event.type);
	ds->id[ds->n] = d->id;
	memcpy(ds->msg_id[ds->n], d->msg_id, 48);
	ds->n++;
	return 0;
}

static struct dues
due_at(struct store_conn *sc, int64_t now)
{
	struct dues ds;
	struct atr_err err;

	memset(&ds, 0, sizeof(ds));
	if (store_delivery_due(sc, now, collect_due, &ds, &err) == -1)
		fail_msg("store_delivery_due: %s", atr_err_msg(&err));
	return ds;
}

/* The due head of integration name at now ("" when none), its id in *id. */
static const char *
head_of(struct store_conn *sc, const char *name, int64_t now, int64_t *id)
{
	static struct dues ds;
	size_t len = strlen(name);

	ds = due_at(sc, now);
	for (int i = 0; i < ds.n; i++) {
		if (strncmp(ds.v[i], name, len) == 0 && ds.v[i][len] == ':') {
			if (id != NULL)
				*id = ds.id[i];
			return ds.v[i] + len + 1;
		}
	}
	return "";
}

static struct store_attempt
attempt(const char *outcome, int status, int64_t time, int64_t next)
{
	struct store_attempt a;

	memset(&a, 0, sizeof(a));
	snprintf(a.outcome, sizeof(a.outcome), "%s", outcome);
	a.status = status;
	a.time = time;
	a.duration_ms = 12;
	a.next_attempt = next;
	if (strcmp(outcome, "delivered") != 0)
		snprintf(a.error, sizeof(a.error), "HTTP %d from the receiver", status);
	return a;
}

/* Claims and finishes the head of name as delivered; returns its "seq:type". */
static const char *
deliver_head(struct store_conn *sc, const char *name, int64_t now)
{
	static char got[120];
	struct store_attempt a = attempt("delivered", 200, now, 0);
	struct atr_err err;
	int64_t id = 0;
	int rc;

	snprintf(got, sizeof(got), "%s", head_of(sc, name, now, &id));
	if (got[0] == '\0')
		return got;
	if ((rc = store_delivery_claim(sc, id, "node-a", now, now + 30000, &err)) != 1)
		fail_msg("claim %lld: %d %s", (long long)id, rc, atr_err_msg(&err));
	if ((rc = store_delivery_finish(sc, id, "node-a", &a, NULL, NULL, &err)) != 1)
		fail_msg("finish %lld: %d %s", (long long)id, rc, atr_err_msg(&err));
	return got;
}

static int hook_calls;

static void
count_hook(void *arg)
{
	(void)arg;
	hook_calls++;
}

static int
collect_event(const struct store_event *ev, void *arg)
{
	struct names *n = arg;

	assert_true(n->n < 16);
	snprintf(n->v[n->n++], sizeof(n->v[0]), "%s@%s", ev->type, ev->project);
	return 0;
}

/* Every change writes its event; a refused change writes none; each
 * integration gets what its kinds and project filter ask for, with seq
 * from 1 without gaps; disabled ones get nothing, paused ones queue. */
static void
t_events_fanout(void **state)
{
	struct fx *f = *state;
	struct store_revision head;
	struct store_integration in;
	struct names ev = {0};
	char *want[] = {"user.created@", "project.created@p", "revision.committed@p",
		"lock.taken@p", "lock.released@p", "project.created@q", "revision.committed@q",
		"project.deleted@q", "user.deleted@", "certificate.expiring@"};
	const size_t nwant = sizeof(want) / sizeof(want[0]);
	struct atr_err err;

	store_set_event_hook(f->st, count_hook, NULL);
	hook_calls = 0;
	add_integration(f->sc, "all", "*", "", "active");
	add_integration(f->sc, "commits-p", "revision.committed", "p", "active");
	add_integration(f->sc, "locks", "lock.taken,lock.released", "", "active");
	add_integration(f->sc, "off", "*", "", "disabled");
	add_integration(f->sc, "held", "*", "", "paused");
	OK(store_user_create(f->sc, "root", "h", "admin", NULL, &e_));
	OK(store_user_create(f->sc, "bob", "h", "user", "root", &e_));
	OK(store_project_create(f->sc, "p", "d", "bob", NOW, &e_));
	OK(commit_seeded(f, f->sc, "p", 0, "bob", 100, 1, NULL, NULL, &e_));
	/* Refused on a stale base: no event, no delivery. */
	FAILS(ATR_E_CONFLICT, "after your base 0",
	    commit_seeded(f, f->sc, "p", 0, "bob", 100, 2, NULL, &head, &e));
	FAILS(ATR_E_EXISTS, "already exists", store_project_create(f->sc, "p", "", "bob", NOW, &e));
	OK(store_lock_acquire(f->sc, "p", "Pump", "bob", NOW, NULL, &e_));
	OK(store_lock_acquire(f->sc, "p", "Pump", "bob", NOW, NULL, &e_)); /* held already: none */
	OK(store_lock_release(f->sc, "p", "Pump", "root", 1, &e_));
	OK(store_project_create(f->sc, "q", "", "bob", NOW, &e_));
	OK(commit_seeded(f, f->sc, "q", 0, "bob", 10, 3, NULL, NULL, &e_));
	OK(store_project_delete(f->sc, "q", "root", &e_));
	OK(store_user_delete(f->sc, "bob", "root", &e_));
	OK(store_event_add(f->sc, "certificate.expiring", NULL, "{\"days\":7}", T0, &e_));
	FAILS(ATR_E_BAD_REQUEST, "not a kind of event",
	    store_event_add(f->sc, "nonsense", NULL, "{}", T0, &e));
	FAILS(ATR_E_BAD_REQUEST, "JSON object",
	    store_event_add(f->sc, "certificate.renewed", NULL, "[1]", T0, &e));

	/* root's creation came first; the server made it (by NULL). */
	OK(store_event_list(f->sc, 0, 0, collect_event, &ev, &e_));
	assert_int_equal(ev.n, (int)nwant + 1);
	assert_string_equal(ev.v[0], "user.created@");
	for (size_t i = 0; i < nwant; i++)
		assert_string_equal(ev.v[i + 1], want[i]);
	ev.n = 0;
	OK(store_event_list(f->sc, 0, 2, collect_event, &ev, &e_));
	assert_int_equal(ev.n, 2);

	in = get_integration(f->sc, "all");
	assert_int_equal(in.pending, (int64_t)nwant + 1);
	assert_int_equal(in.last_seq, (int64_t)nwant + 1);
	store_integration_clear(&in);
	in = get_integration(f->sc, "commits-p");
	assert_int_equal(in.pending, 1);
	store_integration_clear(&in);
	in = get_integration(f->sc, "locks");
	assert_int_equal(in.pending, 2);
	store_integration_clear(&in);
	in = get_integration(f->sc, "off");
	assert_int_equal(in.pending, 0);
	assert_string_equal(in.state, "disabled");
	store_integration_clear(&in);
	in = get_integration(f->sc, "held");
	assert_int_equal(in.pending, (int64_t)nwant + 1);
	assert_string_equal(in.state, "paused");
	assert_string_equal(in.state_reason, "by the test");
	store_integration_clear(&in);
	/* The hook ran once per committed change that queued something. */
	assert_int_equal(hook_calls, (int)nwant + 1);

	/* In order, one after the other, seq without gaps. */
	assert_string_equal(deliver_head(f->sc, "commits-p", T0), "1:revision.committed");
	assert_string_equal(deliver_head(f->sc, "commits-p", T0), "");
	assert_string_equal(deliver_head(f->sc, "all", T0), "1:user.created");
	for (size_t i = 0; i < nwant; i++) {
		char expect[120];
		snprintf(expect, sizeof(expect), "%zu:%.*s", i + 2, (int)strcspn(want[i], "@"),
		    want[i]);
		assert_string_equal(deliver_head(f->sc, "all", T0), expect);
	}
	assert_string_equal(deliver_head(f->sc, "all", T0), "");
	in = get_integration(f->sc, "all");
	assert_int_equal(in.pending, 0);
	store_integration_clear(&in);
	/* Paused: waiting, never due. */
	assert_string_equal(head_of(f->sc, "held", T0, NULL), "");

	/* A migration's connection writes no events. */
	store_conn_set_events(f->sc, 0);
	OK(store_project_create(f->sc, "quiet", "", "root", NOW, &e_));
	store_conn_set_events(f->sc, 1);
	ev.n = 0;
	OK(store_event_list(f->sc, 0, 0, collect_event, &ev, &e_));
	assert_int_equal(ev.n, (int)nwant + 1);
	store_set_event_hook(f->st, NULL, NULL);
	(void)err;
}

static int
collect_attempt(const struct store_attempt *a, void *arg)
{
	struct names *n = arg;

	assert_true(n->n < 16);
	snprintf(n->v[n->n++], sizeof(n->v[0]), "%lld/%lld:%s:%d", (long long)a->delivery_id,
	    (long long)a->seq, a->outcome, a->status);
	return 0;
}

/* Only the head is due, and only when its time has come; retries wait;
 * a failure with a state change ends the delivery and stops queueing. */
static void
t_delivery_schedule(void **state)
{
	struct fx *f = *state;
	struct store_integration in;
	struct store_attempt a;
	struct names log = {0};
	int64_t id1 = 0, id2 = 0, when = -1;
	char want[64];

	add_integration(f->sc, "ci", "project.created", "", "active");
	OK(store_delivery_next_time(f->sc, &when, &e_));
	assert_int_equal(when, 0);
	OK(store_project_create(f->sc, "a", "", "x", NOW, &e_));
	OK(store_project_create(f->sc, "b", "", "x", NOW, &e_));
	OK(store_project_create(f->sc, "c", "", "x", NOW, &e_));
	OK(store_delivery_next_time(f->sc, &when, &e_));
	assert_true(when > 0 && when < T0);
	assert_int_equal(due_at(f->sc, T0).n, 1);
	assert_string_equal(head_of(f->sc, "ci", T0, &id1), "1:project.created");
	assert_int_equal(store_delivery_claim(f->sc, id1, "n", T0, T0 + 30000, NULL), 1);
	/* Claimed: not due for anyone until it is finished or the lease ends. */
	assert_int_equal(due_at(f->sc, T0 + 1).n, 0);
	OK(store_delivery_next_time(f->sc, &when, &e_));
	assert_int_equal(when, T0 + 30000);
	a = attempt("retry", 503, T0, T0 + 5000);
	assert_int_equal(store_delivery_finish(f->sc, id1, "n", &a, NULL, NULL, NULL), 1);
	/* The retry waits for its time; the next one waits behind it. */
	assert_int_equal(due_at(f->sc, T0 + 4999).n, 0);
	OK(store_delivery_next_time(f->sc, &when, &e_));
	assert_int_equal(when, T0 + 5000);
	assert_string_equal(head_of(f->sc, "ci", T0 + 5000, &id2), "1:project.created");
	assert_int_equal(id2, id1);
	assert_int_equal(store_delivery_claim(f->sc, id1, "n", T0 + 4999, T0 + 9999, NULL), 0);
	assert_int_equal(store_delivery_claim(f->sc, id1, "n", T0 + 5000, T0 + 9999, NULL), 1);
	a = attempt("delivered", 204, T0 + 5000, 0);
	assert_int_equal(store_delivery_finish(f->sc, id1, "n", &a, NULL, NULL, NULL), 1);
	assert_string_equal(head_of(f->sc, "ci", T0 + 5000, &id2), "2:project.created");
	/* Not the head: no claim. */
	assert_int_equal(store_delivery_claim(f->sc, id2 + 1, "n", T0 + 5000, T0 + 9999, NULL), 0);
	/* A 410: the delivery fails and the integration is disabled. */
	assert_int_equal(store_delivery_claim(f->sc, id2, "n", T0 + 5000, T0 + 9999, NULL), 1);
	a = attempt("failed", 410, T0 + 6000, 0);
	assert_int_equal(store_delivery_finish(f->sc, id2, "n", &a, "disabled",
			     "the receiver answered 410 Gone", NULL), 1);
	in = get_integration(f->sc, "ci");
	assert_string_equal(in.state, "disabled");
	assert_string_equal(in.state_reason, "the receiver answered 410 Gone");
	assert_string_equal(in.updated_by, "root"); /* the server's change keeps it */
	assert_int_equal(in.pending, 1);
	store_integration_clear(&in);
	assert_int_equal(due_at(f->sc, T0 + 7000).n, 0);
	OK(store_project_create(f->sc, "d", "", "x", NOW, &e_));
	in = get_integration(f->sc, "ci");
	assert_int_equal(in.pending, 1); /* disabled: nothing queued */
	assert_int_equal(in.last_seq, 3);
	store_integration_clear(&in);

	/* The log: newest first, paged by delivery. */
	OK(store_delivery_log(f->sc, "ci", 0, 0, collect_attempt, &log, &e_));
	assert_int_equal(log.n, 3);
	snprintf(want, sizeof(want), "%lld/2:failed:410", (long long)id2);
	assert_string_equal(log.v[0], want);
	snprintf(want, sizeof(want), "%lld/1:delivered:204", (long long)id1);
	assert_string_equal(log.v[1], want);
	snprintf(want, sizeof(want), "%lld/1:retry:503", (long long)id1);
	assert_string_equal(log.v[2], want);
	log.n = 0;
	OK(store_delivery_log(f->sc, "ci", id2, 0, collect_attempt, &log, &e_));
	assert_int_equal(log.n, 2);
	log.n = 0;
	OK(store_delivery_log(f->sc, "ci", 0, 1, collect_attempt, &log, &e_));
	assert_int_equal(log.n, 1);
	FAILS(ATR_E_NOT_FOUND, "there is no integration named 'nope'",
	    store_delivery_log(f->sc, "nope", 0, 0, collect_attempt, &log, &e));
}

/* Two connections (two nodes): one claim wins; a lease that ran out can
 * be taken over, and then the first sender's result is refused. */
static void
t_delivery_claims(void **state)
{
	struct fx *f = *state;
	struct store_conn *other;
	struct store_attempt a = attempt("delivered", 200, T0, 0);
	struct atr_err err;
	int64_t id = 0;

	assert_non_null(other = store_conn_open(f->st, &err));
	add_integration(f->sc, "ci", "*", "", "active");
	OK(store_project_create(f->sc, "a", "", "x", NOW, &e_));
	assert_string_equal(head_of(other, "ci", T0, &id), "1:project.created");
	assert_int_equal(store_delivery_claim(f->sc, id, "node-a", T0, T0 + 1000, NULL), 1);
	assert_int_equal(store_delivery_claim(other, id, "node-b", T0, T0 + 1000, NULL), 0);
	assert_int_equal(store_delivery_claim(other, id, "node-b", T0 + 999, T0 + 2000, NULL), 0);
	assert_string_equal(head_of(other, "ci", T0 + 999, NULL), "");
	/* node-a's lease ran out: node-b takes it over. */
	assert_string_equal(head_of(other, "ci", T0 + 1000, NULL), "1:project.created");
	assert_int_equal(store_delivery_claim(other, id, "node-b", T0 + 1000, T0 + 2000, NULL), 1);
	atr_err_clear(&err);
	assert_int_equal(store_delivery_finish(f->sc, id, "node-a", &a, NULL, NULL, &err), 0);
	assert_int_equal(err.code, ATR_E_CONFLICT);
	assert_int_equal(store_delivery_finish(other, id, "node-b", &a, NULL, NULL, NULL), 1);
	assert_int_equal(store_delivery_finish(other, id, "node-b", &a, NULL, NULL, &err), 0);
	assert_string_equal(head_of(f->sc, "ci", T0 + 5000, NULL), "");
	store_conn_close(other);
}

/* Redelivery, the test event, rotation, pause and resume. */
static void
t_delivery_admin(void **state)
{
	struct fx *f = *state;
	struct store_integration in;
	struct store_attempt a;
	struct names log = {0};
	struct dues ds;
	int64_t id = 0, test_id = 0, head = 0;
	char msg_id[48];

	store_set_event_hook(f->st, count_hook, NULL);
	add_integration(f->sc, "ci", "*", "", "active");
	OK(store_project_create(f->sc, "a", "", "x", NOW, &e_));
	ds = due_at(f->sc, T0);
	assert_int_equal(ds.n, 1);
	memcpy(msg_id, ds.msg_id[0], 48);
	assert_int_equal(strncmp(msg_id, "msg_", 4), 0);
	assert_int_equal(strlen(msg_id), 36);
	assert_string_equal(deliver_head(f->sc, "ci", T0), "1:project.created");

	/* Redeliver: the same seq and msg_id, due at once. */
	hook_calls = 0;
	id = ds.id[0];
	OK(store_delivery_redeliver(f->sc, "ci", id, T0 + 10, &e_));
	assert_int_equal(hook_calls, 1);
	ds = due_at(f->sc, T0 + 10);
	assert_int_equal(ds.n, 1);
	assert_int_equal(ds.id[0], id);
	assert_string_equal(ds.v[0], "ci:1:project.created");
	assert_string_equal(ds.msg_id[0], msg_id);
	assert_int_equal(due_at(f->sc, T0 + 9).n, 0);
	FAILS(ATR_E_NOT_FOUND, "integration 'ci' has no delivery 999999",
	    store_delivery_redeliver(f->sc, "ci", 999999, T0, &e));
	FAILS(ATR_E_NOT_FOUND, "there is no integration named 'nope'",
	    store_delivery_redeliver(f->sc, "nope", id, T0, &e));
	assert_string_equal(deliver_head(f->sc, "ci", T0 + 10), "1:project.created");

	/* The test event, for this integration alone and never for others. */
	add_integration(f->sc, "other", "*", "", "active");
	OK(store_delivery_add_test(f->sc, "ci", "root", T0, &test_id, &e_));
	assert_true(test_id > id);
	assert_string_equal(head_of(f->sc, "ci", T0, &head), "2:integration.test");
	assert_int_equal(head, test_id);
	assert_string_equal(head_of(f->sc, "other", T0, NULL), "");
	FAILS(ATR_E_NOT_FOUND, "there is no integration named 'nope'",
	    store_delivery_add_test(f->sc, "nope", "root", T0, &test_id, &e));

	/* Pause: nothing is due, events still queue. Resume: the head is
	 * due at once, even if a retry had put it later. */
	OK(store_integration_set_state(f->sc, "ci", "paused", "", "root", T0, &e_));
	assert_string_equal(head_of(f->sc, "ci", T0, NULL), "");
	OK(store_project_create(f->sc, "b", "", "x", NOW, &e_));
	in = get_integration(f->sc, "ci");
	assert_int_equal(in.pending, 2);
	assert_string_equal(in.state, "paused");
	store_integration_clear(&in);
	OK(store_integration_set_state(f->sc, "ci", "active", "", "root", T0 + 100, &e_));
	assert_int_equal(store_delivery_claim(f->sc, test_id, "n", T0 + 100, T0 + 200, NULL), 1);
	a = attempt("retry", 500, T0 + 100, T0 + 999999);
	assert_int_equal(store_delivery_finish(f->sc, test_id, "n", &a, "paused",
			     "the retry schedule is exhausted", NULL), 1);
	assert_string_equal(head_of(f->sc, "ci", T0 + 500000, NULL), "");
	OK(store_integration_set_state(f->sc, "ci", "active", "", "root", T0 + 200, &e_));
	assert_string_equal(head_of(f->sc, "ci", T0 + 200, NULL), "2:integration.test");
	FAILS(ATR_E_BAD_REQUEST, "not a state",
	    store_integration_set_state(f->sc, "ci", "asleep", "", "root", T0, &e));
	FAILS(ATR_E_NOT_FOUND, "there is no integration named 'nope'",
	    store_integration_set_state(f->sc, "nope", "paused", "", "root", T0, &e));

	/* Rotation keeps the old secret until the overlap ends. */
	in = get_integration(f->sc, "ci");
	{
		char before[STORE_SECRET_MAX + 1];
		memcpy(before, in.secret, sizeof(before));
		store_integration_clear(&in);
		OK(store_integration_rotate(f->sc, "ci", "whsec_bmV3LXNlY3JldC1ieXRlcw==",
		    T0 + 86400000, "alice", T0, &e_));
		in = get_integration(f->sc, "ci");
		assert_string_equal(in.secret, "whsec_bmV3LXNlY3JldC1ieXRlcw==");
		assert_string_equal(in.old_secret, before);
		assert_int_equal(in.old_secret_until, T0 + 86400000);
		assert_string_equal(in.updated_by, "alice");
		store_integration_clear(&in);
	}
	FAILS(ATR_E_NOT_FOUND, "there is no integration named 'nope'",
	    store_integration_rotate(f->sc, "nope", "whsec_eA==", T0, "alice", T0, &e));
	OK(store_delivery_log(f->sc, "ci", 0, 0, collect_attempt, &log, &e_));
	assert_int_equal(log.n, 3);
	store_set_event_hook(f->st, NULL, NULL);
}

static int
collect_integration(const struct store_integration *in, void *arg)
{
	struct names *n = arg;

	assert_true(n->n < 16);
	snprintf(n->v[n->n++], sizeof(n->v[0]), "%s=%.400s", in->name, in->url);
	return 0;
}

/* Create, read back every field, list, update, delete with what hangs on
 * it; purge keeps what still waits. */
static void
t_integrations_crud(void **state)
{
	struct fx *f = *state;
	struct store_integration in, got;
	struct names n = {0}, log = {0}, ev = {0};
	const char *pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

	memset(&in, 0, sizeof(in));
	snprintf(in.name, sizeof(in.name), "jenkins");
	snprintf(in.url, sizeof(in.url), "https://ci.example:8443/hook?a=b");
	snprintf(in.events, sizeof(in.events), "revision.committed,lock.taken");
	snprintf(in.project, sizeof(in.project), "plant");
	snprintf(in.pin, sizeof(in.pin), "%064d", 7);
	assert_non_null(in.ca_pem = strdup(pem));
	assert_non_null(in.client_pem = strdup("key and chain"));
	in.allow_plain = 1;
	snprintf(in.secret, sizeof(in.secret), "whsec_MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0");
	snprintf(in.created_by, sizeof(in.created_by), "alice");
	OK(store_integration_create(f->sc, &in, &e_));
	assert_true(in.created > 0);
	FAILS(ATR_E_EXISTS, "an integration named 'jenkins' already exists",
	    store_integration_create(f->sc, &in, &e));
	store_integration_clear(&in);
	store_integration_clear(&in); /* twice is fine */
	got = get_integration(f->sc, "jenkins");
	assert_string_equal(got.url, "https://ci.example:8443/hook?a=b");
	assert_string_equal(got.events, "revision.committed,lock.taken");
	assert_string_equal(got.project, "plant");
	assert_int_equal(strlen(got.pin), 64);
	assert_string_equal(got.ca_pem, pem);
	assert_string_equal(got.client_pem, "key and chain");
	assert_int_equal(got.allow_plain, 1);
	assert_string_equal(got.secret, "whsec_MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0");
	assert_string_equal(got.old_secret, "");
	assert_string_equal(got.state, "active");
	assert_string_equal(got.created_by, "alice");
	assert_string_equal(got.updated_by, "alice");
	assert_int_equal(got.last_seq, 0);
	assert_int_equal(got.pending, 0);

	/* Update: the new values, nulls clear. */
	snprintf(got.url, sizeof(got.url), "https://ci2.example/hook");
	snprintf(got.events, sizeof(got.events), "*");
	got.project[0] = '\0';
	got.pin[0] = '\0';
	free(got.ca_pem);
	got.ca_pem = NULL;
	got.allow_plain = 0;
	got.updated = T0;
	snprintf(got.updated_by, sizeof(got.updated_by), "bob");
	OK(store_integration_update(f->sc, &got, &e_));
	store_integration_clear(&got);
	got = get_integration(f->sc, "jenkins");
	assert_string_equal(got.url, "https://ci2.example/hook");
	assert_string_equal(got.events, "*");
	assert_string_equal(got.project, "");
	assert_null(got.ca_pem);
	assert_string_equal(got.client_pem, "key and chain");
	assert_int_equal(got.updated, T0);
	assert_string_equal(got.updated_by, "bob");
	snprintf(got.name, sizeof(got.name), "nope");
	FAILS(ATR_E_NOT_FOUND, "there is no integration named 'nope'",
	    store_integration_update(f->sc, &got, &e));
	store_integration_clear(&got);
	FAILS(ATR_E_NOT_FOUND, "there is no integration named 'nope'",
	    store_integration_get(f->sc, "nope", &got, &e));

	add_integration(f->sc, "alpha", "*", "", "active");
	OK(store_integration_list(f->sc, collect_integration, &n, &e_));
	assert_int_equal(n.n, 2);
	assert_string_equal(n.v[0], "alpha=https://hooks.example/alpha");
	assert_string_equal(n.v[1], "jenkins=https://ci2.example/hook");

	/* Two events: one delivered (with its log), one waiting. */
	OK(store_project_create(f->sc, "a", "", "x", NOW, &e_));
	OK(store_project_create(f->sc, "b", "", "x", NOW, &e_));
	assert_string_equal(deliver_head(f->sc, "jenkins", T0), "1:project.created");
	assert_string_equal(deliver_head(f->sc, "alpha", T0), "1:project.created");
	assert_string_equal(deliver_head(f->sc, "alpha", T0), "2:project.created");
	OK(store_delivery_log(f->sc, "jenkins", 0, 0, collect_attempt, &log, &e_));
	assert_int_equal(log.n, 1);
	/* Purge everything older than T0: the log and the ended delivery go;
	 * the waiting one and its event stay. */
	OK(store_event_purge(f->sc, T0 + 1, &e_));
	log.n = 0;
	OK(store_delivery_log(f->sc, "jenkins", 0, 0, collect_attempt, &log, &e_));
	assert_int_equal(log.n, 0);
	got = get_integration(f->sc, "jenkins");
	assert_int_equal(got.pending, 1);
	store_integration_clear(&got);
	OK(store_event_list(f->sc, 0, 0, collect_event, &ev, &e_));
	assert_int_equal(ev.n, 1);
	assert_string_equal(ev.v[0], "project.created@b");
	assert_string_equal(deliver_head(f->sc, "jenkins", T0), "2:project.created");

	/* Delete: its deliveries and log go with it. */
	OK(store_project_create(f->sc, "c", "", "x", NOW, &e_));
	OK(store_integration_delete(f->sc, "jenkins", &e_));
	FAILS(ATR_E_NOT_FOUND, "there is no integration named 'jenkins'",
	    store_integration_delete(f->sc, "jenkins", &e));
	FAILS(ATR_E_NOT_FOUND, "there is no integration named 'jenkins'",
	    store_delivery_log(f->sc, "jenkins", 0, 0, collect_attempt, &log, &e));
	assert_string_equal(head_of(f->sc, "jenkins", T0, NULL), "");
	assert_string_equal(head_of(f->sc, "alpha", T0, NULL), "3:project.created");
	/* A new one by the same name starts from seq 1. */
	add_integration(f->sc, "jenkins", "*", "", "active");
	OK(store_project_create(f->sc, "d", "", "x", NOW, &e_));
	assert_string_equal(deliver_head(f->sc, "jenkins", T0), "1:project.created");
	OK(store_event_purge(f->sc, T0 + 1, &e_));
	assert_string_equal(deliver_head(f->sc, "alpha", T0), "3:project.created");
	assert_string_equal(deliver_head(f->sc, "alpha", T0), "4:project.created");
}

/* Several connections at once: changes on different projects get seqs
 * without gaps or repeats; claims of one head have exactly one winner. */
struct fan_racer {
	struct fx *f;
	pthread_barrier_t *bar;
	int id, failed, claims;
	int64_t head;
};

#define FAN_RACERS 4
#define FAN_ROUNDS 6

static void *
fan_main(void *arg)
{
	struct fan_racer *r = arg;
	struct atr_err err;
	struct store_conn *sc = store_conn_open(r->f->st, &err);
	char name[32];

	if (sc == NULL) {
		r->failed++;
		return NULL;
	}
	pthread_barrier_wait(r->bar);
	for (int i = 0; i < FAN_ROUNDS; i++) {
		snprintf(name, sizeof(name), "p%d-%d", r->id, i);
		if (store_project_create(sc, name, "", "x", NOW, &err) == -1)
			r->failed++;
	}
	pthread_barrier_wait(r->bar); /* the main thread reads the head */
	pthread_barrier_wait(r->bar);
	if (store_delivery_claim(sc, r->head, "racer", T0, T0 + 60000, &err) == 1)
		r->claims++;
	store_conn_close(sc);
	return NULL;
}

static void
t_concurrent_events(void **state)
{
	struct fx *f = *state;
	struct fan_racer r[FAN_RACERS];
	pthread_t th[FAN_RACERS];
	pthread_barrier_t bar;
	struct store_integration in;
	int64_t head = 0;
	int claims = 0, seen[FAN_RACERS * FAN_ROUNDS + 1] = {0};

	add_integration(f->sc, "all", "project.created", "", "active");
	pthread_barrier_init(&bar, NULL, FAN_RACERS + 1);
	for (int i = 0; i < FAN_RACERS; i++) {
		r[i] = (struct fan_racer){.f = f, .bar = &bar, .id = i};
		pthread_create(&th[i], NULL, fan_main, &r[i]);
	}
	pthread_barrier_wait(&bar);
	pthread_barrier_wait(&bar);
	assert_string_equal(head_of(f->sc, "all", T0, &head), "1:project.created");
	for (int i = 0; i < FAN_RACERS; i++)
		r[i].head = head;
	pthread_barrier_wait(&bar);
	for (int i = 0; i < FAN_RACERS; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(r[i].failed, 0);
		claims += r[i].claims;
	}
	pthread_barrier_destroy(&bar);
	assert_int_equal(claims, 1);
	in = get_integration(f->sc, "all");
	assert_int_equal(in.last_seq, FAN_RACERS * FAN_ROUNDS);
	assert_int_equal(in.pending, FAN_RACERS * FAN_ROUNDS);
	store_integration_clear(&in);
	/* The lease runs out; then every seq comes once, in order. */
	for (int want = 1; want <= FAN_RACERS * FAN_ROUNDS; want++) {
		const char *got = deliver_head(f->sc, "all", T0 + 60000);
		int seq = atoi(got);
		assert_int_equal(seq, want);
		seen[seq]++;
	}
	assert_string_equal(deliver_head(f->sc, "all", T0 + 60000), "");
}

/* A store made before integrations existed (no such tables; PostgreSQL's
 * schema 1) opens with them added and its data kept. */
static void
t_events_upgrade(void **state)
{
	struct fx *f = *state;
	static const char drop[] = "DROP TABLE delivery_attempts; DROP TABLE deliveries;"
				   " DROP TABLE integrations; DROP TABLE events;";
	struct store_project p;
	struct atr_err err;

	OK(store_project_create(f->sc, "old", "from before", "x", NOW, &e_));
	store_conn_close(f->sc);
	store_close(f->st);
	f->sc = NULL;
	f->st = NULL;
	if (f->b == B_PG || f->b == B_PG_CACHED) {
		PGconn *db = pg_test_connect();
		PGresult *res = PQexec(db, "BEGIN; DROP TABLE delivery_attempts, deliveries,"
					   " integrations, events; UPDATE atrium_schema SET version = 1;"
					   " COMMIT");
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			fail_msg("making a schema-1 database: %s", PQerrorMessage(db));
		PQclear(res);
		PQfinish(db);
	} else {
		char path[400];
		sqlite3 *db;
		snprintf(path, sizeof(path), "%s/atrium.db", f->dir);
		assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
		if (sqlite3_exec(db, drop, NULL, NULL, NULL) != SQLITE_OK)
			fail_msg("dropping the new tables: %s", sqlite3_errmsg(db));
		sqlite3_close(db);
	}
	if ((f->st = open_store(f, &err)) == NULL)
		fail_msg("store_open on the old store: %s", atr_err_msg(&err));
	assert_non_null(f->sc = store_conn_open(f->st, &err));
	OK(store_project_get(f->sc, "old", &p, &e_));
	assert_string_equal(p.description, "from before");
	add_integration(f->sc, "new", "*", "", "active");
	OK(store_project_create(f->sc, "after", "", "x", NOW, &e_));
	assert_string_equal(deliver_head(f->sc, "new", T0), "1:project.created");
	if (f->b == B_PG || f->b == B_PG_CACHED) {
		PGconn *db = pg_test_connect();
		PGresult *res = PQexec(db, "SELECT max(version) FROM atrium_schema");
		assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
		assert_string_equal(PQgetvalue(res, 0, 0), "3");
		PQclear(res);
		PQfinish(db);
	}
}

/* ---- branches, tags, lock sets */

/* Commits seeded content on a branch, naming elements; the call's result. */
static int
commit_on(struct fx *f, const char *project, const char *branch, int64_t base,
    const char *author, unsigned seed, const char *const *els, size_t n, int keep,
    struct store_revision *head, struct store_lock *locked, int64_t *released,
    struct atr_err *err)
{
	unsigned char data[100];
	char sha[65];
	struct store_conn *sc = f->sc;
	struct store_commit c;

	fill(data, sizeof(data), seed);
	if (put_blob(f, &sc, 1, data, sizeof(data), 64 * 1024, sha, err) == -1)
		return -1;
	c = (struct store_commit){project, branch, base, author, "m", NOW, (int64_t)sizeof(data),
		sha, els, n, keep};
	return store_revision_commit_in(f->sc, &c, head, locked, released, err);
}

static int
collect_lockname(const struct store_lock *l, void *arg)
{
	struct names *n = arg;

	assert_true(n->n < 16);
	snprintf(n->v[n->n++], sizeof(n->v[0]), "%s:%s:%s", l->branch, l->element, l->holder);
	return 0;
}

/* The data of the newest event of type, malloc'd ("" when none). */
struct last_event {
	const char *type;
	char *data;
};

static int
keep_last(const struct store_event *ev, void *arg)
{
	struct last_event *le = arg;

	if (strcmp(ev->type, le->type) == 0) {
		free(le->data);
		le->data = strdup(ev->data);
	}
	return 0;
}

static char *
last_event(struct fx *f, const char *type)
{
	struct last_event le = {type, NULL};

	OK(store_event_list(f->sc, 0, 0, keep_last, &le, &e_));
	return le.data != NULL ? le.data : strdup("");
}

#define EVENT_HAS(type, text)                                                      \
	do {                                                                       \
		char *d_ = last_event(f, type);                                    \
		if (strstr(d_, text) == NULL)                                      \
			fail_msg("%s event '%s' lacks '%s'", type, d_, text);      \
		free(d_);                                                          \
	} while (0)

/* Branches: trunk from creation, a branch's revision 1 copies its origin,
 * numbers and stale bases per branch; tags immutable; deletion refused
 * with tags and then taking revisions and locks along; events with each. */
static void
t_branches_tags(void **state)
{
	struct fx *f = *state;
	struct store_branch b;
	struct store_revision r, t1, head;
	struct store_tag t;
	struct names ls = {0};
	const char *el[] = {"x"};

	OK(store_user_create(f->sc, "ann", "h", "user", NULL, &e_));
	OK(store_project_create(f->sc, "p", "", "ann", NOW, &e_));
	OK(store_branch_get(f->sc, "p", "trunk", &b, &e_));
	assert_int_equal(b.head, 0);
	assert_string_equal(b.from_branch, "");
	OK(commit_on(f, "p", NULL, 0, "ann", 1, NULL, 0, 0, NULL, NULL, NULL, &e_));
	OK(commit_on(f, "p", "trunk", 1, "ann", 2, NULL, 0, 0, NULL, NULL, NULL, &e_));
	EVENT_HAS("revision.committed", "\"branch\":\"trunk\"");
	OK(store_revision_get_in(f->sc, "p", NULL, 1, &t1, &e_));
	OK(store_branch_create(f->sc, "p", "f", "trunk", 1, "ann", NOW, &b, &e_));
	assert_int_equal(b.head, 1);
	assert_int_equal(b.from_revision, 1);
	EVENT_HAS("branch.created", "\"from_branch\":\"trunk\",\"from_revision\":1");
	OK(store_revision_get_in(f->sc, "p", "f", 1, &r, &e_));
	assert_string_equal(r.sha256, t1.sha256);
	assert_string_equal(r.branch, "f");
	assert_string_equal(r.message, "branch f from trunk:1");
	FAILS(ATR_E_EXISTS, "already has a branch named 'f'",
	    store_branch_create(f->sc, "p", "f", "trunk", -1, "ann", NOW, NULL, &e));
	FAILS(ATR_E_NOT_FOUND, "no revision 9",
	    store_branch_create(f->sc, "p", "g", "trunk", 9, "ann", NOW, NULL, &e));
	FAILS(ATR_E_NOT_FOUND, "no branch named 'nope'",
	    store_branch_create(f->sc, "p", "g", "nope", -1, "ann", NOW, NULL, &e));
	OK(commit_on(f, "p", "f", 1, "ann", 3, NULL, 0, 0, NULL, NULL, NULL, &e_));
	FAILS(ATR_E_CONFLICT, "of f",
	    commit_on(f, "p", "f", 1, "ann", 4, NULL, 0, 0, &head, NULL, NULL, &e));
	assert_int_equal(head.number, 2);
	assert_string_equal(head.branch, "f");
	OK(commit_on(f, "p", "trunk", 2, "ann", 5, NULL, 0, 0, NULL, NULL, NULL, &e_));
	OK(store_revision_get(f->sc, "p", -1, &r, &e_));
	assert_int_equal(r.number, 3);

	OK(store_tag_create(f->sc, "p", "v1", "f", -1, "ann", NOW, &t, &e_));
	assert_int_equal(t.revision, 2);
	EVENT_HAS("tag.created", "\"tag\":\"v1\",\"branch\":\"f\",\"revision\":2");
	FAILS(ATR_E_EXISTS, "tags do not move",
	    store_tag_create(f->sc, "p", "v1", "trunk", 1, "ann", NOW, NULL, &e));
	OK(store_tag_get(f->sc, "p", "v1", &t, &e_));
	assert_string_equal(t.branch, "f");
	OK(store_locks_take(f->sc, "p", "f", el, 1, "ann", NOW, NULL, NULL, NULL, &e_));
	FAILS(ATR_E_CONFLICT, "'v1'", store_branch_delete(f->sc, "p", "f", "root", &e));
	FAILS(ATR_E_FORBIDDEN, "trunk", store_branch_delete(f->sc, "p", "trunk", "root", &e));
	OK(store_tag_delete(f->sc, "p", "v1", "root", &e_));
	EVENT_HAS("tag.deleted", "\"deleted_by\":\"root\"");
	OK(store_branch_delete(f->sc, "p", "f", "root", &e_));
	EVENT_HAS("branch.deleted", "\"branch\":\"f\"");
	FAILS(ATR_E_NOT_FOUND, "no branch named 'f'",
	    store_revision_get_in(f->sc, "p", "f", 1, &r, &e));
	OK(store_locks_list(f->sc, "p", NULL, NULL, collect_lockname, &ls, &e_));
	assert_int_equal(ls.n, 0); /* its lock went with it */
	OK(store_revision_get(f->sc, "p", 1, &r, &e_));
	assert_string_equal(r.sha256, t1.sha256); /* trunk's content is kept */
	{
		struct atr_err err;
		struct store_blob_reader *rd = store_blob_reader_open(f->sc, r.sha256, r.size, &err);
		if (rd == NULL)
			fail_msg("trunk's content went with the branch: %s", atr_err_msg(&err));
		store_blob_reader_close(rd);
	}
}

static int
collect_conflict(const struct store_lock *l, void *arg)
{
	return collect_lockname(l, arg);
}

/* Lock sets: all or none, every conflict named; a commit naming elements
 * is refused for someone else's lock, releases exactly the committer's
 * (unless keep_locks); releases by elements or holder; one event a call. */
static void
t_lock_sets(void **state)
{
	struct fx *f = *state;
	struct names ls = {0}, cf = {0};
	struct store_lock l;
	const char *abc[] = {"c", "a", "b", "a"}, *bcd[] = {"d", "c", "b"}, *ab[] = {"a", "b"};
	const char *az[] = {"a", "z"}, *c1[] = {"c"};
	int64_t n;

	OK(store_user_create(f->sc, "ann", "h", "user", NULL, &e_));
	OK(store_user_create(f->sc, "bob", "h", "user", NULL, &e_));
	OK(store_project_create(f->sc, "p", "", "ann", NOW, &e_));
	OK(store_locks_take(f->sc, "p", NULL, abc, 4, "ann", NOW, NULL, NULL, &n, &e_));
	assert_int_equal(n, 3); /* duplicates count once */
	EVENT_HAS("lock.taken", "\"branch\":\"trunk\",\"elements\":[\"a\",\"b\",\"c\"],\"holder\":\"ann\"");
	FAILS(ATR_E_CONFLICT, "2 of the 3 elements",
	    store_locks_take(f->sc, "p", NULL, bcd, 3, "bob", NOW, collect_conflict, &cf, &n, &e));
	assert_int_equal(cf.n, 2);
	assert_string_equal(cf.v[0], "trunk:b:ann");
	assert_string_equal(cf.v[1], "trunk:c:ann");
	OK(store_locks_list(f->sc, "p", NULL, "bob", collect_lockname, &ls, &e_));
	assert_int_equal(ls.n, 0); /* none of bob's set: d was not taken */

	FAILS(ATR_E_LOCKED, "'a' on trunk of project 'p' is locked by ann",
	    commit_on(f, "p", NULL, 0, "bob", 1, az, 2, 0, NULL, &l, NULL, &e));
	assert_string_equal(l.holder, "ann");
	OK(commit_on(f, "p", NULL, 0, "ann", 2, az, 2, 0, NULL, NULL, &n, &e_));
	assert_int_equal(n, 1); /* a; z was not locked */
	EVENT_HAS("lock.released", "\"elements\":[\"a\"],\"holder\":\"ann\",\"element\":\"a\",\"released_by\":\"ann\",\"forced\":false");
	ls.n = 0;
	OK(store_locks_list(f->sc, "p", "trunk", "ann", collect_lockname, &ls, &e_));
	assert_int_equal(ls.n, 2);
	assert_string_equal(ls.v[0], "trunk:b:ann");
	assert_string_equal(ls.v[1], "trunk:c:ann");
	OK(commit_on(f, "p", NULL, 1, "ann", 3, c1, 1, 1, NULL, NULL, &n, &e_));
	assert_int_equal(n, 0); /* keep_locks */
	assert_int_equal(store_lock_get(f->sc, "p", NULL, "c", &l, NULL), 1);

	FAILS(ATR_E_FORBIDDEN, "locked by ann",
	    store_locks_release(f->sc, "p", NULL, ab, 2, NULL, "bob", 0, &n, &e));
	assert_int_equal(store_lock_get(f->sc, "p", NULL, "b", &l, NULL), 1); /* none released */
	OK(store_locks_release(f->sc, "p", NULL, ab, 2, NULL, "root", 1, &n, &e_));
	assert_int_equal(n, 1);
	EVENT_HAS("lock.released", "\"released_by\":\"root\",\"forced\":true");
	FAILS(ATR_E_FORBIDDEN, "only ann",
	    store_locks_release(f->sc, "p", NULL, NULL, 0, "ann", "bob", 0, &n, &e));
	OK(store_locks_release(f->sc, "p", NULL, NULL, 0, "ann", "ann", 0, &n, &e_));
	assert_int_equal(n, 1); /* c */
	ls.n = 0;
	OK(store_locks_list(f->sc, "p", NULL, NULL, collect_lockname, &ls, &e_));
	assert_int_equal(ls.n, 0);

	/* Per branch: the same element on two branches has two holders. */
	OK(store_branch_create(f->sc, "p", "side", NULL, -1, "ann", NOW, NULL, &e_));
	OK(store_locks_take(f->sc, "p", "side", c1, 1, "ann", NOW, NULL, NULL, &n, &e_));
	OK(store_locks_take(f->sc, "p", NULL, c1, 1, "bob", NOW, NULL, NULL, &n, &e_));
	ls.n = 0;
	OK(store_locks_list(f->sc, "p", NULL, NULL, collect_lockname, &ls, &e_));
	assert_int_equal(ls.n, 2);
	assert_string_equal(ls.v[0], "side:c:ann");
	assert_string_equal(ls.v[1], "trunk:c:bob");
	FAILS(ATR_E_NOT_FOUND, "no branch named 'x'",
	    store_locks_take(f->sc, "p", "x", c1, 1, "bob", NOW, NULL, NULL, &n, &e));
}

/* ---- the table */

static const struct {
	const char *name;
	CMUnitTestFunction fn;
} cases[] = {
	{"users: create, get, list, roles", t_users},
	{"users: the last admin is kept", t_last_admin},
	{"users: directory accounts made, refreshed, and without a usable password", t_directory_users},
	{"sessions: lookup, expiry, purge, end with the user", t_sessions},
	{"password change ends other sessions", t_password_change},
	{"projects: create, get, list, delete", t_projects},
	{"revisions: commit, get, head, list", t_revisions},
	{"commit on a stale base: conflict with the head, content dropped", t_commit_conflict},
	{"content in uneven pieces over several connections, read at any offset", t_blob_pieces},
	{"identical content stored once; removed with its last project", t_blob_dedup_and_delete},
	{"an aborted upload leaves nothing readable", t_blob_abort},
	{"locks: one holder, release by holder or admin, gone with user/project", t_locks},
	{"concurrent commits on one base: exactly one wins each round", t_concurrent_commits},
	{"everything is still there after reopening", t_reopen},
	{"content from local files where the backend keeps them", t_local_copies},
	{"events: written with their change, fanned out by kind and project, seq without gaps",
	    t_events_fanout},
	{"deliveries: only the due head, retries wait, 410 disables, the log", t_delivery_schedule},
	{"deliveries: one claim wins between connections; leases run out", t_delivery_claims},
	{"deliveries: redeliver, test, pause and resume, rotate", t_delivery_admin},
	{"integrations: create, get, list, update, delete; purge", t_integrations_crud},
	{"events from several connections: seq without gaps; one claim wins", t_concurrent_events},
	{"a store from before integrations gets their tables, its data kept", t_events_upgrade},
	{"branches and tags: per-branch numbers, copies, immutable tags, deletion", t_branches_tags},
	{"lock sets: all or none, 423 on commit, released or kept by commits", t_lock_sets},
};

#define NCASES (sizeof(cases) / sizeof(cases[0]))

static int
wanted(const char *name)
{
	const char *only = getenv("ATRIUM_TEST_STORE_BACKENDS");
	size_t len = strlen(name);

	if (only == NULL || *only == '\0')
		return 1;
	for (const char *p = only; *p;) {
		size_t w = strcspn(p, ",");
		if (w == len && strncmp(p, name, w) == 0)
			return 1;
		p += w + (p[w] == ',');
	}
	return 0;
}

int
main(void)
{
	static char names[NBACKENDS][NCASES][128];
	struct CMUnitTest tests[NCASES];
	int failed = 0;

	for (int b = 0; b < NBACKENDS; b++) {
		if (!wanted(backend_names[b]))
			continue;
		if ((backend_ids[b] == B_PG || backend_ids[b] == B_PG_CACHED) &&
		    getenv("ATRIUM_TEST_PG_URL") == NULL)
			continue;
		for (size_t i = 0; i < NCASES; i++) {
			snprintf(names[b][i], sizeof(names[b][i]), "%s: %s", backend_names[b],
			    cases[i].name);
			tests[i] = (struct CMUnitTest){names[b][i], cases[i].fn, setup, teardown,
				(void *)&backend_ids[b]};
		}
		failed += _cmocka_run_group_tests(backend_names[b], tests, NCASES, NULL, NULL);
	}
	return failed != 0;
}
