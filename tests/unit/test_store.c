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
	res = PQexec(db, "DROP TABLE IF EXISTS atrium_schema, locks, sessions, revisions, projects,"
			 " users, blobs, content_chunks, uploads CASCADE");
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
	OK(store_user_create(f->sc, "bob", "hash-of-bob", "user", &e_));
	OK(store_user_create(f->sc, "alice", "hash-of-alice", "admin", &e_));
	FAILS(ATR_E_EXISTS, "a user named 'bob' already exists",
	    store_user_create(f->sc, "bob", "x", "user", &e));
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
	OK(store_user_create(f->sc, "Zoë Ünal", "h", "user", &e_));
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

	OK(store_user_create(f->sc, "carol", "hash-of-carol", "user", &e_));
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

	OK(store_user_create(f->sc, "root", "h", "admin", &e_));
	OK(store_user_create(f->sc, "carol", "h", "user", &e_));
	FAILS(ATR_E_CONFLICT, "'root' is the last admin; make another user an admin first",
	    store_user_delete(f->sc, "root", &e));
	FAILS(ATR_E_CONFLICT, "'root' is the last admin",
	    store_user_set_role(f->sc, "root", "user", &e));
	FAILS(ATR_E_NOT_FOUND, "there is no user named 'ghost'", store_user_delete(f->sc, "ghost", &e));
	FAILS(ATR_E_NOT_FOUND, "there is no user named 'ghost'",
	    store_user_set_role(f->sc, "ghost", "admin", &e));
	OK(store_user_set_role(f->sc, "carol", "admin", &e_));
	OK(store_user_delete(f->sc, "root", &e_));
	FAILS(ATR_E_CONFLICT, "'carol' is the last admin", store_user_delete(f->sc, "carol", &e));
	OK(store_user_set_role(f->sc, "carol", "admin", &e_)); /* admin to admin: fine */
}

static void
t_sessions(void **state)
{
	struct fx *f = *state;
	struct store_user u;

	OK(store_user_create(f->sc, "dave", "h", "user", &e_));
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
	OK(store_user_create(f->sc, "admin", "h", "admin", &e_));
	OK(store_session_create(f->sc, "t3", "dave", NOW + 100, &e_));
	OK(store_user_delete(f->sc, "dave", &e_));
	FAILS(ATR_E_UNAUTHORIZED, "log in again", store_session_lookup(f->sc, "t3", NOW, &u, &e));
}

static void
t_password_change(void **state)
{
	struct fx *f = *state;
	struct store_user u;
	char hash[64];

	OK(store_user_create(f->sc, "erin", "old", "user", &e_));
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
	OK(store_project_delete(f->sc, "alpha", &e_));
	FAILS(ATR_E_NOT_FOUND, "there is no project named 'alpha'",
	    store_project_delete(f->sc, "alpha", &e));
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
	OK(store_project_delete(f->sc, "one", &e_));
	/* Still used by project two: kept. Used by nobody: removed. */
	expect_content(f, f->sc, shared, data, sizeof(data), 65536);
	rd = store_blob_reader_open(f->sc, sha1, 5000, &err);
	assert_null(rd);
	OK(store_project_delete(f->sc, "two", &e_));
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

	OK(store_user_create(f->sc, "alice", "h", "user", &e_));
	OK(store_user_create(f->sc, "bob", "h", "user", &e_));
	OK(store_user_create(f->sc, "root", "h", "admin", &e_));
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
	OK(store_user_delete(f->sc, "alice", &e_));
	n.n = 0;
	OK(store_lock_list(f->sc, "plant", collect_lock, &n, &e_));
	assert_int_equal(n.n, 1);
	OK(store_project_delete(f->sc, "plant", &e_));
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
	OK(store_user_create(f->sc, "keeper", "h", "admin", &e_));
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
	OK(store_project_delete(f->sc, "p", &e_));
	assert_null(store_blob_reader_open(f->sc, sha, (int64_t)len, &err));
	store_conn_close(node2.sc);
	store_close(node2.st);
	nftw(node2.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(data);
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
