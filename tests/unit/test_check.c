/*
 * `atriumd --data DIR check` (check.c) on the embedded store: one table of
 * damages, each applied to a fresh store of three revisions (revisions 1
 * and 3 share their content), with the exit status and a line the report
 * must contain.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "atrium/config.h"
#include "server/check.h"
#include "server/store.h"

struct fx {
	char dir[300];
	char sha[3][65]; /* of revisions 1..3 */
};

struct damage {
	const char *name;
	void (*apply)(struct fx *);
	int rc;             /* expected exit status */
	const char *expect; /* a line of the report must contain this (%s: sha of rev 1) */
};

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
blob_file(const struct fx *f, int rev, char *out, size_t size)
{
	snprintf(out, size, "%s/blobs/%.2s/%s", f->dir, f->sha[rev - 1], f->sha[rev - 1]);
}

static void
write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

static void
sql(const struct fx *f, const char *stmt)
{
	char path[400];
	sqlite3 *db;

	snprintf(path, sizeof(path), "%s/atrium.db", f->dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, stmt, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static void
nothing(struct fx *f)
{
	(void)f;
}

static void
flip_byte(struct fx *f)
{
	char path[400];
	FILE *fp;

	blob_file(f, 1, path, sizeof(path));
	assert_non_null(fp = fopen(path, "r+"));
	fputc('#', fp);
	fclose(fp);
}

static void
delete_blob(struct fx *f)
{
	char path[400];

	blob_file(f, 1, path, sizeof(path));
	assert_int_equal(unlink(path), 0);
}

static void
truncate_blob(struct fx *f)
{
	char path[400];

	blob_file(f, 2, path, sizeof(path));
	assert_int_equal(truncate(path, 3), 0);
}

static void
tmp_file(struct fx *f)
{
	char path[400];

	snprintf(path, sizeof(path), "%s/blobs/tmp/upload-xyz123", f->dir);
	write_file(path, "cut short");
}

static void
orphan(struct fx *f)
{
	char path[400];

	/* sha256("orphan") */
	snprintf(path, sizeof(path), "%s/blobs/fb", f->dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/blobs/fb/"
	    "fb46c9e4f4cc2e4d09ae8a4b5d3c0ba7b9ad6cc8e2d6ae3fd77d1fed1d0a1e8a", f->dir);
	write_file(path, "not what its name says");
}

static void
wrong_size(struct fx *f)
{
	sql(f, "UPDATE revisions SET size = 999 WHERE number = 2");
}

static void
bad_sha(struct fx *f)
{
	sql(f, "UPDATE revisions SET sha256 = 'nope' WHERE number = 2");
}

static void
head_ahead(struct fx *f)
{
	sql(f, "UPDATE projects SET head = 7; UPDATE branches SET head = 7 WHERE name = 'trunk'");
}

static void
dangling_lock(struct fx *f)
{
	sql(f, "INSERT INTO locks(project_id, branch, element, holder, since)"
	       " VALUES (1, 'trunk', 'pump', 'ghost', 1)");
}

static void
seq_behind(struct fx *f)
{
	sql(f, "INSERT INTO integrations(name, url, events, project, pin, allow_plain, secret,"
	       " old_secret, old_secret_until, state, state_reason, created, created_by, updated,"
	       " updated_by, last_seq) VALUES ('ci', 'https://ci.example/', '*', '', '', 0, 's',"
	       " '', 0, 'active', '', 1, 'admin', 1, 'admin', 1);"
	       "INSERT INTO deliveries(integration_id, seq, event_id, msg_id, state, attempts,"
	       " next_attempt, created, lease_until) VALUES (1, 5, 1, 'msg_x', 'pending', 0, 1, 1,"
	       " 0)");
}

static void
no_event_tables(struct fx *f)
{
	/* As a data directory made before integrations existed. */
	sql(f, "DROP TABLE delivery_attempts; DROP TABLE deliveries; DROP TABLE integrations;"
	       " DROP TABLE events");
}

static const struct damage damages[] = {
	{"nothing", nothing, 0, "store is clean: 1 projects, 3 revisions, 2 blobs"},
	{"one byte changed", flip_byte, 1, "problem: project 'plant' revision 3: its content"},
	{"content deleted", delete_blob, 1, "problem: project 'plant' revision 1: its content"},
	{"content truncated", truncate_blob, 1, "problem: project 'plant' revision 2: its content"},
	{"unfinished upload", tmp_file, 0, "info: blobs/tmp/upload-xyz123 (9 bytes)"},
	{"content no revision uses", orphan, 0, "is used by no revision"},
	{"a row with the wrong size", wrong_size, 1, "revision 2: its row records 999 bytes"},
	{"a row with no sha256", bad_sha, 1, "revision 2: its recorded SHA-256 'nope' is not one"},
	{"a head past the revisions", head_ahead, 1, "its head is 7 but it has 3 revision rows"},
	{"a lock of nobody", dangling_lock, 1, "a row of locks (rowid 1) refers to a missing row of users"},
	{"a delivery numbered past its integration's count", seq_behind, 1,
	    "integration 'ci' would number its next delivery 2, but it already has one numbered 5"},
	{"a store from before integrations", no_event_tables, 0,
	    "store is clean: 1 projects, 3 revisions, 2 blobs"},
};

/* A store with project 'plant' and revisions 1..3 (1 and 3 identical). */
static void
make_store(struct fx *f)
{
	static const char *const content[] = {"first", "second, longer", "first"};
	struct atr_config *cfg = atr_config_new();
	struct store *st;
	struct store_conn *sc;
	struct store_blob_writer *w;
	struct store_revision head;
	struct atr_err err;

	snprintf(f->dir, sizeof(f->dir), "%.200s/atrium-check-XXXXXX",
	    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	assert_non_null(mkdtemp(f->dir));
	assert_non_null(cfg);
	assert_non_null(st = store_open(cfg, f->dir, &err));
	assert_non_null(sc = store_conn_open(st, &err));
	assert_int_equal(store_user_create(sc, "admin", "x", "admin", NULL, &err), 0);
	assert_int_equal(store_project_create(sc, "plant", "", "admin", 1, &err), 0);
	for (int i = 0; i < 3; i++) {
		assert_non_null(w = store_blob_writer_new(st, &err));
		assert_int_equal(store_blob_write(w, sc, content[i], strlen(content[i]), &err), 0);
		assert_int_equal(store_blob_finish(w, sc, f->sha[i], &err), 0);
		assert_int_equal(store_revision_commit(sc, "plant", i, "admin", "m", 1,
				     (int64_t)strlen(content[i]), f->sha[i], &head, &err), 0);
	}
	store_conn_close(sc);
	store_close(st);
	atr_config_free(cfg);
}

static void
test_damage(void **state)
{
	const struct damage *d = *state;
	struct fx f;
	char *report = NULL, want[300];
	size_t len = 0;
	FILE *out = open_memstream(&report, &len);
	int rc;

	assert_non_null(out);
	memset(&f, 0, sizeof(f));
	make_store(&f);
	d->apply(&f);
	rc = check_main(f.dir, "/nonexistent/atrium.conf", atr_config_new(), out);
	fclose(out);
	snprintf(want, sizeof(want), "%s", d->expect);
	if (rc != d->rc || strstr(report, want) == NULL)
		fail_msg("%s: exit %d (want %d), report:\n%s", d->name, rc, d->rc, report);
	free(report);
	nftw(f.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void
test_no_store(void **state)
{
	char dir[300];
	FILE *out = fopen("/dev/null", "w");

	(void)state;
	snprintf(dir, sizeof(dir), "%.200s/atrium-check-XXXXXX",
	    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	assert_non_null(mkdtemp(dir));
	assert_int_equal(check_main(dir, "/nonexistent/atrium.conf", atr_config_new(), out), 2);
	assert_int_equal(check_main(NULL, "/nonexistent/atrium.conf", atr_config_new(), out), 2);
	rmdir(dir);
	assert_int_equal(check_main(dir, "/nonexistent/atrium.conf", atr_config_new(), out), 2);
	fclose(out);
}

int
main(void)
{
	struct CMUnitTest tests[sizeof(damages) / sizeof(damages[0]) + 1];
	size_t n = 0;

	for (size_t i = 0; i < sizeof(damages) / sizeof(damages[0]); i++) {
		tests[n] = (struct CMUnitTest)cmocka_unit_test_prestate(test_damage, (void *)&damages[i]);
		tests[n++].name = damages[i].name;
	}
	tests[n] = (struct CMUnitTest)cmocka_unit_test(test_no_store);
	tests[n++].name = "no store, no directory, no --data: exit 2";
	return _cmocka_run_group_tests("check", tests, n, NULL, NULL);
}
