/*
 * The embedded store's branches, tags, revisions and element locks
 * (store.h). Revisions and locks belong to a branch of a project; every
 * project has trunk from its creation. A database from before branches
 * (revisions keyed by project and number) is rebuilt once at open: every
 * revision and lock goes to trunk, with its number.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sqlite3.h>

#include "atrium/log.h"
#include "atrium/util.h"
#include "server/event.h"
#include "server/store_sqlite_int.h"

/* Column lists, shared by the tables' creation and the rebuild of an
 * older database's. */
#define REVISIONS_DEF                                                                      \
	"(project_id INTEGER NOT NULL, branch TEXT NOT NULL,"                              \
	"  number INTEGER NOT NULL, author TEXT NOT NULL, message TEXT NOT NULL,"          \
	"  time INTEGER NOT NULL, size INTEGER NOT NULL, sha256 TEXT NOT NULL,"            \
	"  PRIMARY KEY (project_id, branch, number),"                                      \
	"  FOREIGN KEY (project_id, branch) REFERENCES branches(project_id, name)"         \
	"    ON DELETE CASCADE)"
#define LOCKS_DEF                                                                          \
	"(project_id INTEGER NOT NULL, branch TEXT NOT NULL, element TEXT NOT NULL,"       \
	"  holder TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,"                 \
	"  since INTEGER NOT NULL, PRIMARY KEY (project_id, branch, element),"             \
	"  FOREIGN KEY (project_id, branch) REFERENCES branches(project_id, name)"         \
	"    ON DELETE CASCADE)"

static const char branches_schema[] =
    "CREATE TABLE IF NOT EXISTS branches("
    "  project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,"
    "  name TEXT NOT NULL, from_branch TEXT NOT NULL DEFAULT '',"
    "  from_revision INTEGER NOT NULL DEFAULT 0, head INTEGER NOT NULL DEFAULT 0,"
    "  created INTEGER NOT NULL, created_by TEXT NOT NULL, PRIMARY KEY (project_id, name));";

static const char tables_schema[] =
    "CREATE TABLE IF NOT EXISTS revisions" REVISIONS_DEF ";"
    "CREATE INDEX IF NOT EXISTS revisions_sha256 ON revisions(sha256);"
    "CREATE TABLE IF NOT EXISTS tags("
    "  project_id INTEGER NOT NULL, name TEXT NOT NULL, branch TEXT NOT NULL,"
    "  revision INTEGER NOT NULL, created INTEGER NOT NULL, created_by TEXT NOT NULL,"
    "  PRIMARY KEY (project_id, name),"
    "  FOREIGN KEY (project_id, branch, revision)"
    "    REFERENCES revisions(project_id, branch, number) ON DELETE CASCADE);"
    "CREATE INDEX IF NOT EXISTS tags_revision ON tags(project_id, branch, revision);"
    "CREATE TABLE IF NOT EXISTS locks" LOCKS_DEF ";"
    /* Serves ?holder= and the cascade of a user's deletion; the primary
     * key serves the per-element look-ups of a lock or a commit. */
    "CREATE INDEX IF NOT EXISTS locks_holder ON locks(holder, project_id, branch);";

/* The rebuild of a database from before branches, in the open's
 * transaction. Nothing references revisions or locks there. */
static const char upgrade_sql[] =
    "INSERT INTO branches(project_id, name, head, created, created_by)"
    "  SELECT id, 'trunk', head, created, created_by FROM projects;"
    "CREATE TABLE revisions_new" REVISIONS_DEF ";"
    "INSERT INTO revisions_new(project_id, branch, number, author, message, time, size, sha256)"
    "  SELECT project_id, 'trunk', number, author, message, time, size, sha256 FROM revisions;"
    "DROP TABLE revisions;"
    "ALTER TABLE revisions_new RENAME TO revisions;"
    "CREATE TABLE locks_new" LOCKS_DEF ";"
    "INSERT INTO locks_new(project_id, branch, element, holder, since)"
    "  SELECT project_id, 'trunk', element, holder, since FROM locks;"
    "DROP TABLE locks;"
    "ALTER TABLE locks_new RENAME TO locks;";

/* The count the query (one integer) answers; -1 on a failure. */
static int64_t
count_of(struct store_conn *sc, const char *sql, struct atr_err *err)
{
	sqlite3_stmt *s = sq_prep(sc, err, sql, "");
	int64_t n = -1;

	if (s == NULL)
		return -1;
	if (sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int64(s, 0);
	else
		sq_db_fail(sc, err, "reading the schema");
	sq_release(sc, s);
	return n;
}

int
sq_branches_open(struct store_conn *sc, struct atr_err *err)
{
	int64_t has_table, has_branch;

	if (sq_exec(sc, "BEGIN IMMEDIATE", err) == -1)
		return -1;
	if (sq_exec(sc, branches_schema, err) == -1)
		goto fail;
	if ((has_table = count_of(sc,
		 "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'revisions'",
		 err)) == -1 ||
	    (has_branch = count_of(sc,
		 "SELECT count(*) FROM pragma_table_info('revisions') WHERE name = 'branch'",
		 err)) == -1)
		goto fail;
	if (has_table && !has_branch) {
		if (sq_exec(sc, upgrade_sql, err) == -1)
			goto fail;
		atr_info("upgraded the database for branches: every project has trunk, and every "
			   "revision and lock is on trunk with its number");
	}
	if (sq_exec(sc, tables_schema, err) == -1 || sq_exec(sc, "COMMIT", err) == -1)
		goto fail;
	return 0;
fail:
	sq_exec(sc, "ROLLBACK", NULL);
	return -1;
}

int
sq_branch_add_trunk(struct store_conn *sc, const char *project, const char *by, int64_t now,
    struct atr_err *err)
{
	return sq_run(sc, err, "creating trunk",
	    sq_prep(sc, err,
		"INSERT INTO branches(project_id, name, created, created_by)"
		" SELECT id, 'trunk', ?, ? FROM projects WHERE name = ?",
		"itt", now, by, project));
}

/* The id of project into *id; ATR_E_NOT_FOUND when there is none. */
static int
project_id(struct store_conn *sc, const char *project, int64_t *id, struct atr_err *err)
{
	sqlite3_stmt *s = sq_prep(sc, err, "SELECT id FROM projects WHERE name = ?", "t", project);
	int rc;

	if (s == NULL)
		return -1;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*id = sqlite3_column_int64(s, 0);
	sq_release(sc, s);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc == SQLITE_DONE)
		return atr_err_set(err, ATR_E_NOT_FOUND, "there is no project named '%s'", project);
	return sq_db_fail(sc, err, "reading a project");
}

/* ---- branches */

static void
branch_from_row(sqlite3_stmt *s, struct store_branch *b)
{
	sq_copy_text(b->name, sizeof(b->name), sqlite3_column_text(s, 0));
	sq_copy_text(b->from_branch, sizeof(b->from_branch), sqlite3_column_text(s, 1));
	b->from_revision = sqlite3_column_int64(s, 2);
	b->head = sqlite3_column_int64(s, 3);
	b->created = sqlite3_column_int64(s, 4);
	sq_copy_text(b->created_by, sizeof(b->created_by), sqlite3_column_text(s, 5));
}

#define BRANCH_COLUMNS "SELECT name, from_branch, from_revision, head, created, created_by"

/* The project's id and the branch; ATR_E_NOT_FOUND naming what is missing. */
static int
branch_of(struct store_conn *sc, const char *project, const char *name, int64_t *id,
    struct store_branch *b, struct atr_err *err)
{
	sqlite3_stmt *s;
	int rc;

	if (project_id(sc, project, id, err) == -1)
		return -1;
	s = sq_prep(sc, err, BRANCH_COLUMNS " FROM branches WHERE project_id = ? AND name = ?",
	    "it", *id, name);
	if (s == NULL)
		return -1;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		branch_from_row(s, b);
	sq_release(sc, s);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc == SQLITE_DONE)
		return atr_err_set(err, ATR_E_NOT_FOUND, "project '%s' has no branch named '%s'",
		    project, name);
	return sq_db_fail(sc, err, "reading a branch");
}

int
sq_branch_get(struct store_conn *sc, const char *project, const char *name,
    struct store_branch *b, struct atr_err *err)
{
	int64_t id;

	return branch_of(sc, project, name, &id, b, err);
}

int
sq_branch_list(struct store_conn *sc, const char *project,
    int (*each)(const struct store_branch *, void *), void *arg, struct atr_err *err)
{
	struct store_branch b;
	sqlite3_stmt *s;
	int64_t id;
	int rc;

	if (project_id(sc, project, &id, err) == -1)
		return -1;
	if ((s = sq_prep(sc, err, BRANCH_COLUMNS " FROM branches WHERE project_id = ? ORDER BY name",
		 "i", id)) == NULL)
		return -1;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		branch_from_row(s, &b);
		if (each(&b, arg) != 0)
			break;
	}
	sq_release(sc, s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return sq_db_fail(sc, err, "listing branches");
	return 0;
}

#define REVISION_COLUMNS \
	"SELECT r.number, r.author, r.message, r.time, r.size, r.sha256, r.branch FROM revisions r"

/* Revision number (< 0: the head) of branch b of project id; -1 with
 * ATR_E_NOT_FOUND worded as before branches for trunk. */
static int
revision_of(struct store_conn *sc, const char *project, int64_t id, const struct store_branch *b,
    int64_t number, struct store_revision *r, struct atr_err *err)
{
	sqlite3_stmt *s;
	int rc;

	if (number < 0)
		number = b->head;
	s = sq_prep(sc, err,
	    REVISION_COLUMNS " WHERE r.project_id = ? AND r.branch = ? AND r.number = ?", "iti",
	    id, b->name, number);
	if (s == NULL)
		return -1;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		sq_revision_from_row(s, 0, r);
	sq_release(sc, s);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc != SQLITE_DONE)
		return sq_db_fail(sc, err, "reading a revision");
	if (strcmp(b->name, STORE_TRUNK) == 0) {
		if (b->head == 0)
			return atr_err_set(err, ATR_E_NOT_FOUND,
			    "project '%s' has no revisions yet", project);
		return atr_err_set(err, ATR_E_NOT_FOUND,
		    "project '%s' has no revision %lld (its newest is %lld)", project,
		    (long long)number, (long long)b->head);
	}
	if (b->head == 0)
		return atr_err_set(err, ATR_E_NOT_FOUND,
		    "branch '%s' of project '%s' has no revisions yet", b->name, project);
	return atr_err_set(err, ATR_E_NOT_FOUND,
	    "branch '%s' of project '%s' has no revision %lld (its newest is %lld)", b->name,
	    project, (long long)number, (long long)b->head);
}

int
sq_branch_create(struct store_conn *sc, const char *project, const char *name,
    const char *from_branch, int64_t from_revision, const char *by, int64_t now,
    struct store_branch *out, struct atr_err *err)
{
	struct store_branch from, b;
	struct store_revision r;
	char message[STORE_MESSAGE_MAX + 1];
	int64_t id;

	if (sq_exec(sc, "BEGIN IMMEDIATE", err) == -1)
		return -1;
	if (branch_of(sc, project, from_branch, &id, &from, err) == -1)
		goto fail;
	memset(&b, 0, sizeof(b));
	snprintf(b.name, sizeof(b.name), "%s", name);
	snprintf(b.from_branch, sizeof(b.from_branch), "%s", from.name);
	snprintf(b.created_by, sizeof(b.created_by), "%s", by);
	b.created = now;
	if (from.head > 0 || from_revision > 0) {
		if (revision_of(sc, project, id, &from, from_revision, &r, err) == -1)
			goto fail;
		b.from_revision = r.number;
		b.head = 1;
	}
	if (sq_run(sc, err, "creating a branch",
		sq_prep(sc, err,
		    "INSERT INTO branches(project_id, name, from_branch, from_revision, head,"
		    " created, created_by) VALUES (?,?,?,?,?,?,?)",
		    "ittiiit", id, b.name, b.from_branch, b.from_revision, b.head, b.created,
		    b.created_by)) == -1) {
		if (err != NULL && err->code == ATR_E_EXISTS)
			atr_err_set(err, ATR_E_EXISTS, "project '%s' already has a branch named '%s'",
			    project, name);
		goto fail;
	}
	if (b.head == 1) {
		snprintf(message, sizeof(message), "branch %s from %s:%lld", name, from.name,
		    (long long)r.number);
		if (sq_run(sc, err, "adding a revision",
			sq_prep(sc, err,
			    "INSERT INTO revisions(project_id, branch, number, author, message, time,"
			    " size, sha256) VALUES (?,?,1,?,?,?,?,?)",
			    "itttiit", id, name, r.author, message, now, r.size, r.sha256)) == -1)
			goto fail;
	}
	if (sq_event_write(sc, "branch.created", project,
		event_data("{s:s, s:s, s:s, s:I, s:s}", "project", project, "branch", name,
		    "from_branch", b.from_branch, "from_revision", (json_int_t)b.from_revision,
		    "created_by", by),
		err) == -1 ||
	    sq_exec(sc, "COMMIT", err) == -1)
		goto fail;
	if (out != NULL)
		*out = b;
	return 0;
fail:
	sq_exec(sc, "ROLLBACK", NULL);
	return -1;
}

int
sq_branch_delete(struct store_conn *sc, const char *project, const char *name, const char *by,
    struct atr_err *err)
{
	struct store_branch b;
	char (*shas)[65] = NULL;
	char tags[512] = "";
	sqlite3_stmt *s;
	int64_t id;
	int n = 0, cap = 0, ntags = 0, rc;

	pthread_mutex_lock(&SQ(sc)->st->pin_lock);
	if (sq_exec(sc, "BEGIN IMMEDIATE", err) == -1)
		goto out_unlock;
	if (branch_of(sc, project, name, &id, &b, err) == -1)
		goto fail;
	if ((s = sq_prep(sc, err,
		 "SELECT name FROM tags WHERE project_id = ? AND branch = ? ORDER BY name", "it", id,
		 name)) == NULL)
		goto fail;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		size_t len = strlen(tags);
		if (ntags++ < 10)
			snprintf(tags + len, sizeof(tags) - len, "%s'%s'", len ? ", " : "",
			    (const char *)sqlite3_column_text(s, 0));
	}
	sq_release(sc, s);
	if (ntags > 0) {
		atr_err_set(err, ATR_E_CONFLICT,
		    "branch '%s' of project '%s' has %d tag(s) (%s%s); delete them first", name,
		    project, ntags, tags, ntags > 10 ? ", ..." : "");
		goto fail;
	}
	if ((s = sq_prep(sc, err,
		 "SELECT DISTINCT sha256 FROM revisions WHERE project_id = ? AND branch = ?", "it",
		 id, name)) == NULL)
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
	/* Its revisions and locks go by the foreign keys' cascade. */
	if (sq_run(sc, err, "deleting a branch",
		sq_prep(sc, err, "DELETE FROM branches WHERE project_id = ? AND name = ?", "it", id,
		    name)) == -1 ||
	    sq_event_write(sc, "branch.deleted", project,
		event_data("{s:s, s:s, s:s?}", "project", project, "branch", name, "deleted_by", by),
		err) == -1 ||
	    sq_exec(sc, "COMMIT", err) == -1)
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

/* ---- tags */

static void
tag_from_row(sqlite3_stmt *s, struct store_tag *t)
{
	sq_copy_text(t->name, sizeof(t->name), sqlite3_column_text(s, 0));
	sq_copy_text(t->branch, sizeof(t->branch), sqlite3_column_text(s, 1));
	t->revision = sqlite3_column_int64(s, 2);
	t->created = sqlite3_column_int64(s, 3);
	sq_copy_text(t->created_by, sizeof(t->created_by), sqlite3_column_text(s, 4));
}

#define TAG_COLUMNS "SELECT name, branch, revision, created, created_by FROM tags"

int
sq_tag_create(struct store_conn *sc, const char *project, const char *name, const char *branch,
    int64_t revision, const char *by, int64_t now, struct store_tag *out, struct atr_err *err)
{
	struct store_branch b;
	struct store_revision r;
	struct store_tag t;
	int64_t id;

	if (sq_exec(sc, "BEGIN IMMEDIATE", err) == -1)
		return -1;
	if (branch_of(sc, project, branch, &id, &b, err) == -1 ||
	    revision_of(sc, project, id, &b, revision, &r, err) == -1)
		goto fail;
	memset(&t, 0, sizeof(t));
	snprintf(t.name, sizeof(t.name), "%s", name);
	snprintf(t.branch, sizeof(t.branch), "%s", branch);
	snprintf(t.created_by, sizeof(t.created_by), "%s", by);
	t.revision = r.number;
	t.created = now;
	if (sq_run(sc, err, "creating a tag",
		sq_prep(sc, err,
		    "INSERT INTO tags(project_id, name, branch, revision, created, created_by)"
		    " VALUES (?,?,?,?,?,?)",
		    "ittiit", id, name, branch, t.revision, now, by)) == -1) {
		if (err != NULL && err->code == ATR_E_EXISTS)
			atr_err_set(err, ATR_E_EXISTS,
			    "project '%s' already has a tag named '%s'; tags do not move: delete it "
			    "and create it again",
			    project, name);
		goto fail;
	}
	if (sq_event_write(sc, "tag.created", project,
		event_data("{s:s, s:s, s:s, s:I, s:s}", "project", project, "tag", name, "branch",
		    branch, "revision", (json_int_t)t.revision, "created_by", by),
		err) == -1 ||
	    sq_exec(sc, "COMMIT", err) == -1)
		goto fail;
	if (out != NULL)
		*out = t;
	return 0;
fail:
	sq_exec(sc, "ROLLBACK", NULL);
	return -1;
}

/* The tag into *t: 0, or -1 with ATR_E_NOT_FOUND. */
static int
tag_of(struct store_conn *sc, const char *project, int64_t id, const char *name,
    struct store_tag *t, struct atr_err *err)
{
	sqlite3_stmt *s = sq_prep(sc, err, TAG_COLUMNS " WHERE project_id = ? AND name = ?", "it",
	    id, name);
	int rc;

	if (s == NULL)
		return -1;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		tag_from_row(s, t);
	sq_release(sc, s);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc == SQLITE_DONE)
		return atr_err_set(err, ATR_E_NOT_FOUND, "project '%s' has no tag named '%s'",
		    project, name);
	return sq_db_fail(sc, err, "reading a tag");
}

int
sq_tag_get(struct store_conn *sc, const char *project, const char *name, struct store_tag *t,
    struct atr_err *err)
{
	int64_t id;

	if (project_id(sc, project, &id, err) == -1)
		return -1;
	return tag_of(sc, project, id, name, t, err);
}

int
sq_tag_list(struct store_conn *sc, const char *project,
    int (*each)(const struct store_tag *, void *), void *arg, struct atr_err *err)
{
	struct store_tag t;
	sqlite3_stmt *s;
	int64_t id;
	int rc;

	if (project_id(sc, project, &id, err) == -1)
		return -1;
	if ((s = sq_prep(sc, err, TAG_COLUMNS " WHERE project_id = ? ORDER BY name", "i", id)) ==
	    NULL)
		return -1;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		tag_from_row(s, &t);
		if (each(&t, arg) != 0)
			break;
	}
	sq_release(sc, s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return sq_db_fail(sc, err, "listing tags");
	return 0;
}

int
sq_tag_delete(struct store_conn *sc, const char *project, const char *name, const char *by,
    struct atr_err *err)
{
	struct store_tag t;
	int64_t id;

	if (sq_exec(sc, "BEGIN IMMEDIATE", err) == -1)
		return -1;
	if (project_id(sc, project, &id, err) == -1 || tag_of(sc, project, id, name, &t, err) == -1)
		goto fail;
	if (sq_run(sc, err, "deleting a tag",
		sq_prep(sc, err, "DELETE FROM tags WHERE project_id = ? AND name = ?", "it", id,
		    name)) == -1 ||
	    sq_event_write(sc, "tag.deleted", project,
		event_data("{s:s, s:s, s:s, s:I, s:s?}", "project", project, "tag", name, "branch",
		    t.branch, "revision", (json_int_t)t.revision, "deleted_by", by),
		err) == -1 ||
	    sq_exec(sc, "COMMIT", err) == -1)
		goto fail;
	return 0;
fail:
	sq_exec(sc, "ROLLBACK", NULL);
	return -1;
}

/* ---- revisions */

int
sq_revision_list(struct store_conn *sc, const char *project, const char *branch,
    int (*each)(const struct store_revision *, void *), void *arg, struct atr_err *err)
{
	struct store_branch b;
	struct store_revision *r;
	sqlite3_stmt *s;
	int64_t id;
	int rc = SQLITE_DONE;

	if (branch_of(sc, project, branch, &id, &b, err) == -1)
		return -1;
	s = sq_prep(sc, err,
	    REVISION_COLUMNS " WHERE r.project_id = ? AND r.branch = ? ORDER BY r.number DESC", "it",
	    id, branch);
	if (s == NULL)
		return -1;
	if ((r = malloc(sizeof(*r))) == NULL) {
		sq_release(sc, s);
		return atr_err_set(err, ATR_E_NOMEM, NULL);
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		sq_revision_from_row(s, 0, r);
		if (each(r, arg) != 0)
			break;
	}
	sq_release(sc, s);
	free(r);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return sq_db_fail(sc, err, "listing revisions");
	return 0;
}

int
sq_revision_get(struct store_conn *sc, const char *project, const char *branch, int64_t number,
    struct store_revision *r, struct atr_err *err)
{
	struct store_branch b;
	int64_t id;

	if (branch_of(sc, project, branch, &id, &b, err) == -1)
		return -1;
	return revision_of(sc, project, id, &b, number, r, err);
}

/* Reads the lock on (id, branch, element) into *l: 1 found, 0 none, -1 error. */
static int
lock_row(struct store_conn *sc, int64_t id, const char *branch, const char *element,
    struct store_lock *l, struct atr_err *err)
{
	sqlite3_stmt *s = sq_prep(sc, err,
	    "SELECT element, holder, since FROM locks"
	    " WHERE project_id = ? AND branch = ? AND element = ?",
	    "itt", id, branch, element);
	int rc;

	if (s == NULL)
		return -1;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		snprintf(l->branch, sizeof(l->branch), "%s", branch);
		sq_copy_text(l->element, sizeof(l->element), sqlite3_column_text(s, 0));
		sq_copy_text(l->holder, sizeof(l->holder), sqlite3_column_text(s, 1));
		l->since = sqlite3_column_int64(s, 2);
	}
	sq_release(sc, s);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return sq_db_fail(sc, err, "reading a lock");
}

static int
delete_lock(struct store_conn *sc, int64_t id, const char *branch, const char *element,
    struct atr_err *err)
{
	return sq_run(sc, err, "releasing a lock",
	    sq_prep(sc, err, "DELETE FROM locks WHERE project_id = ? AND branch = ? AND element = ?",
		"itt", id, branch, element));
}

int
sq_revision_commit(struct store_conn *sc, const struct store_commit *c,
    struct store_revision *head, struct store_lock *locked, int64_t *released,
    struct atr_err *err)
{
	struct store_branch b;
	struct store_lock l;
	const char **mine = NULL;
	size_t nmine = 0;
	int64_t id;
	int rc = -1, found;

	if (sq_exec(sc, "BEGIN IMMEDIATE", err) == -1)
		goto out;
	if (branch_of(sc, c->project, c->branch, &id, &b, err) == -1)
		goto rollback;
	if (b.head != c->base) {
		struct store_revision h;
		memset(&h, 0, sizeof(h));
		if (b.head > 0 && revision_of(sc, c->project, id, &b, b.head, &h, err) == -1)
			goto rollback;
		if (head != NULL)
			*head = h;
		atr_err_set(err, ATR_E_CONFLICT,
		    "%s committed revision %lld (\"%s\") of %s at %lld after your base %lld",
		    h.author, (long long)b.head, h.message, b.name, (long long)h.time,
		    (long long)c->base);
		goto rollback;
	}
	if (c->nelements > 0 && (mine = malloc(c->nelements * sizeof(*mine))) == NULL) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		goto rollback;
	}
	for (size_t i = 0; i < c->nelements; i++) {
		if ((found = lock_row(sc, id, b.name, c->elements[i], &l, err)) == -1)
			goto rollback;
		if (found && strcmp(l.holder, c->author) != 0) {
			if (locked != NULL)
				*locked = l;
			atr_err_set(err, ATR_E_LOCKED, "'%s' on %s of project '%s' is locked by %s",
			    l.element, b.name, c->project, l.holder);
			goto rollback;
		}
		if (found && !c->keep_locks)
			mine[nmine++] = c->elements[i];
	}
	if (sq_run(sc, err, "adding a revision",
		sq_prep(sc, err,
		    "INSERT INTO revisions(project_id, branch, number, author, message, time, size,"
		    " sha256) VALUES (?,?,?,?,?,?,?,?)",
		    "itittiit", id, b.name, c->base + 1, c->author, c->message, c->now, c->size,
		    c->sha256)) == -1 ||
	    sq_run(sc, err, "moving the head",
		sq_prep(sc, err, "UPDATE branches SET head = ? WHERE project_id = ? AND name = ?",
		    "iit", c->base + 1, id, b.name)) == -1)
		goto rollback;
	/* projects.head stays trunk's: what clients of before branches read. */
	if (strcmp(b.name, STORE_TRUNK) == 0 &&
	    sq_run(sc, err, "moving the head",
		sq_prep(sc, err, "UPDATE projects SET head = ? WHERE id = ?", "ii", c->base + 1,
		    id)) == -1)
		goto rollback;
	for (size_t i = 0; i < nmine; i++)
		if (delete_lock(sc, id, b.name, mine[i], err) == -1)
			goto rollback;
	if (sq_event_write(sc, "revision.committed", c->project,
		event_data("{s:s, s:s, s:I, s:s, s:s, s:I, s:s}", "project", c->project, "branch",
		    b.name, "revision", (json_int_t)(c->base + 1), "author", c->author, "message",
		    c->message, "size", (json_int_t)c->size, "sha256", c->sha256),
		err) == -1)
		goto rollback;
	if (nmine > 0 &&
	    sq_event_write(sc, "lock.released", c->project,
		event_lock_data(c->project, b.name, mine, nmine, c->author, c->author, 0),
		err) == -1)
		goto rollback;
	if (sq_exec(sc, "COMMIT", err) == -1)
		goto rollback;
	if (released != NULL)
		*released = (int64_t)nmine;
	rc = 0;
	goto out;
rollback:
	sq_exec(sc, "ROLLBACK", NULL);
out:
	free(mine);
	pthread_mutex_lock(&SQ(sc)->st->pin_lock);
	sq_unpin(SQ(sc)->st, c->sha256);
	if (rc == -1) {
		char one[1][65];
		memcpy(one[0], c->sha256, 65);
		sq_remove_unreferenced(sc, one, 1);
	}
	pthread_mutex_unlock(&SQ(sc)->st->pin_lock);
	return rc;
}

/* ---- element locks */

int
sq_lock_get(struct store_conn *sc, const char *project, const char *branch, const char *element,
    struct store_lock *l, struct atr_err *err)
{
	int64_t id;

	if (project_id(sc, project, &id, err) == -1)
		return -1;
	return lock_row(sc, id, branch, element, l, err);
}

int
sq_locks_take(struct store_conn *sc, const char *project, const char *branch,
    const char *const *elements, size_t n, const char *user, int64_t now,
    int (*conflict)(const struct store_lock *, void *), void *arg, int64_t *taken,
    struct atr_err *err)
{
	struct store_branch b;
	struct store_lock l;
	const char **fresh = NULL;
	size_t nfresh = 0, nconflict = 0;
	int64_t id;
	int found, stop = 0;

	*taken = 0;
	if (sq_exec(sc, "BEGIN IMMEDIATE", err) == -1)
		return -1;
	if (branch_of(sc, project, branch, &id, &b, err) == -1)
		goto fail;
	if ((fresh = malloc((n > 0 ? n : 1) * sizeof(*fresh))) == NULL) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		if ((found = lock_row(sc, id, branch, elements[i], &l, err)) == -1)
			goto fail;
		if (!found)
			fresh[nfresh++] = elements[i];
		else if (strcmp(l.holder, user) != 0) {
			nconflict++;
			if (conflict != NULL && !stop)
				stop = conflict(&l, arg);
		}
	}
	if (nconflict > 0) {
		atr_err_set(err, ATR_E_CONFLICT,
		    "%zu of the %zu elements on %s of project '%s' are locked by someone else",
		    nconflict, n, branch, project);
		goto fail;
	}
	for (size_t i = 0; i < nfresh; i++)
		if (sq_run(sc, err, "taking a lock",
			sq_prep(sc, err,
			    "INSERT INTO locks(project_id, branch, element, holder, since)"
			    " VALUES (?,?,?,?,?)",
			    "ittti", id, branch, fresh[i], user, now)) == -1)
			goto fail;
	if (nfresh > 0 &&
	    sq_event_write(sc, "lock.taken", project,
		event_lock_data(project, branch, fresh, nfresh, user, NULL, 0), err) == -1)
		goto fail;
	if (sq_exec(sc, "COMMIT", err) == -1)
		goto fail;
	free(fresh);
	*taken = (int64_t)nfresh;
	return 0;
fail:
	sq_exec(sc, "ROLLBACK", NULL);
	free(fresh);
	return -1;
}

/* Appends an element's name to a growing list; -1 without memory. */
struct names {
	char **v;
	size_t n, cap;
};

static int
names_add(struct names *ns, const char *name)
{
	if (ns->n == ns->cap) {
		size_t ncap = ns->cap ? ns->cap * 2 : 64;
		void *bigger = realloc(ns->v, ncap * sizeof(*ns->v));
		if (bigger == NULL)
			return -1;
		ns->v = bigger;
		ns->cap = ncap;
	}
	if ((ns->v[ns->n] = strdup(name)) == NULL)
		return -1;
	ns->n++;
	return 0;
}

static void
names_free(struct names *ns)
{
	for (size_t i = 0; i < ns->n; i++)
		free(ns->v[i]);
	free(ns->v);
}

int
sq_locks_release(struct store_conn *sc, const char *project, const char *branch,
    const char *const *elements, size_t n, const char *holder, const char *user, int force,
    int64_t *released, struct atr_err *err)
{
	struct store_branch b;
	struct store_lock l;
	struct names gone = {NULL, 0, 0};
	char first_holder[STORE_NAME_MAX + 1] = "";
	int64_t id;
	int found, forced = 0, several = 0;

	*released = 0;
	if (sq_exec(sc, "BEGIN IMMEDIATE", err) == -1)
		return -1;
	if (branch_of(sc, project, branch, &id, &b, err) == -1)
		goto fail;
	if (elements == NULL) {
		sqlite3_stmt *s = sq_prep(sc, err,
		    "SELECT element FROM locks WHERE holder = ? AND project_id = ? AND branch = ?"
		    " ORDER BY element",
		    "tit", holder, id, branch);
		int rc;
		if (s == NULL)
			goto fail;
		while ((rc = sqlite3_step(s)) == SQLITE_ROW)
			if (names_add(&gone, (const char *)sqlite3_column_text(s, 0)) == -1) {
				rc = SQLITE_NOMEM;
				break;
			}
		sq_release(sc, s);
		if (rc != SQLITE_DONE) {
			if (rc == SQLITE_NOMEM)
				atr_err_set(err, ATR_E_NOMEM, NULL);
			else
				sq_db_fail(sc, err, "listing locks");
			goto fail;
		}
		if (gone.n > 0 && strcmp(holder, user) != 0) {
			if (!force) {
				atr_err_set(err, ATR_E_FORBIDDEN,
				    "only %s or an admin may release %s's locks", holder, holder);
				goto fail;
			}
			forced = 1;
		}
		snprintf(first_holder, sizeof(first_holder), "%s", holder);
		if (sq_run(sc, err, "releasing locks",
			sq_prep(sc, err,
			    "DELETE FROM locks WHERE holder = ? AND project_id = ? AND branch = ?",
			    "tit", holder, id, branch)) == -1)
			goto fail;
	} else {
		for (size_t i = 0; i < n; i++) {
			if ((found = lock_row(sc, id, branch, elements[i], &l, err)) == -1)
				goto fail;
			if (!found)
				continue;
			if (strcmp(l.holder, user) != 0) {
				if (!force) {
					atr_err_set(err, ATR_E_FORBIDDEN,
					    "'%s' in project '%s' is locked by %s; only %s or an admin "
					    "may release it",
					    l.element, project, l.holder, l.holder);
					goto fail;
				}
				forced = 1;
			}
			if (gone.n == 0)
				snprintf(first_holder, sizeof(first_holder), "%s", l.holder);
			else if (strcmp(first_holder, l.holder) != 0)
				several = 1;
			if (names_add(&gone, elements[i]) == -1) {
				atr_err_set(err, ATR_E_NOMEM, NULL);
				goto fail;
			}
			if (delete_lock(sc, id, branch, elements[i], err) == -1)
				goto fail;
		}
	}
	if (gone.n > 0 &&
	    sq_event_write(sc, "lock.released", project,
		event_lock_data(project, branch, (const char *const *)gone.v, gone.n,
		    several ? "" : first_holder, user, forced),
		err) == -1)
		goto fail;
	if (sq_exec(sc, "COMMIT", err) == -1)
		goto fail;
	*released = (int64_t)gone.n;
	names_free(&gone);
	return 0;
fail:
	sq_exec(sc, "ROLLBACK", NULL);
	names_free(&gone);
	return -1;
}

int
sq_locks_list(struct store_conn *sc, const char *project, const char *branch,
    const char *holder, int (*each)(const struct store_lock *, void *), void *arg,
    struct atr_err *err)
{
	struct store_branch b;
	struct store_lock l;
	sqlite3_stmt *s;
	int64_t id;
	int rc;

	if (branch != NULL) {
		if (branch_of(sc, project, branch, &id, &b, err) == -1)
			return -1;
	} else if (project_id(sc, project, &id, err) == -1) {
		return -1;
	}
	/* NULL binds NULL: "? IS NULL" lets one statement serve every filter. */
	s = sq_prep(sc, err,
	    "SELECT branch, element, holder, since FROM locks WHERE project_id = ?"
	    " AND (?2 IS NULL OR branch = ?2) AND (?3 IS NULL OR holder = ?3)"
	    " ORDER BY branch, element",
	    "itt", id, branch, holder);
	if (s == NULL)
		return -1;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		sq_copy_text(l.branch, sizeof(l.branch), sqlite3_column_text(s, 0));
		sq_copy_text(l.element, sizeof(l.element), sqlite3_column_text(s, 1));
		sq_copy_text(l.holder, sizeof(l.holder), sqlite3_column_text(s, 2));
		l.since = sqlite3_column_int64(s, 3);
		if (each(&l, arg) != 0)
			break;
	}
	sq_release(sc, s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return sq_db_fail(sc, err, "listing locks");
	return 0;
}
