/*
 * PostgreSQL: branches, tags, revisions and element locks (store.h).
 *
 * Every call that changes a branch's revisions or locks first locks the
 * branch's row (FOR UPDATE): commits and lock calls on one branch take
 * turns on every node, so of two calls over overlapping element sets
 * exactly one wins and the other sees the winner's locks, and a commit's
 * check of the locks on its elements cannot race a lock being taken.
 * Calls on different branches do not wait for each other.
 *
 * Element sets travel as one JSON array parameter
 * (jsonb_array_elements_text), whatever their size.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "atrium/log.h"
#include "atrium/util.h"
#include "server/event.h"
#include "server/store_pg_int.h"

/* Idempotent (ensure_schema runs every part when the version is older):
 * a database of schema 1 or 2 gets trunk for every project, and its
 * revisions and locks go to trunk with their numbers. */
const char pg_branches_schema[] =
    "CREATE TABLE IF NOT EXISTS branches("
    "  project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,"
    "  name TEXT NOT NULL, from_branch TEXT NOT NULL DEFAULT '',"
    "  from_revision BIGINT NOT NULL DEFAULT 0, head BIGINT NOT NULL DEFAULT 0,"
    "  created BIGINT NOT NULL, created_by TEXT NOT NULL, PRIMARY KEY (project_id, name));"
    "DO $$ BEGIN"
    "  IF NOT EXISTS (SELECT 1 FROM information_schema.columns"
    "      WHERE table_schema = current_schema() AND table_name = 'revisions'"
    "      AND column_name = 'branch') THEN"
    "    INSERT INTO branches(project_id, name, head, created, created_by)"
    "      SELECT id, 'trunk', head, created, created_by FROM projects ON CONFLICT DO NOTHING;"
    "    ALTER TABLE revisions ADD COLUMN branch TEXT NOT NULL DEFAULT 'trunk';"
    "    ALTER TABLE revisions DROP CONSTRAINT revisions_pkey;"
    "    ALTER TABLE revisions ADD PRIMARY KEY (project_id, branch, number);"
    "    ALTER TABLE revisions ADD FOREIGN KEY (project_id, branch)"
    "      REFERENCES branches(project_id, name) ON DELETE CASCADE;"
    "    ALTER TABLE locks ADD COLUMN branch TEXT NOT NULL DEFAULT 'trunk';"
    "    ALTER TABLE locks DROP CONSTRAINT locks_pkey;"
    "    ALTER TABLE locks ADD PRIMARY KEY (project_id, branch, element);"
    "    ALTER TABLE locks ADD FOREIGN KEY (project_id, branch)"
    "      REFERENCES branches(project_id, name) ON DELETE CASCADE;"
    "  END IF;"
    "END $$;"
    "CREATE TABLE IF NOT EXISTS tags("
    "  project_id BIGINT NOT NULL, name TEXT NOT NULL, branch TEXT NOT NULL,"
    "  revision BIGINT NOT NULL, created BIGINT NOT NULL, created_by TEXT NOT NULL,"
    "  PRIMARY KEY (project_id, name),"
    "  FOREIGN KEY (project_id, branch, revision)"
    "    REFERENCES revisions(project_id, branch, number) ON DELETE CASCADE);"
    "CREATE INDEX IF NOT EXISTS tags_revision ON tags(project_id, branch, revision);"
    /* ?holder= on a branch; the primary key serves per-element look-ups. */
    "CREATE INDEX IF NOT EXISTS locks_holder_branch ON locks(holder, project_id, branch);";

int
pg_branch_add_trunk(struct pg_conn *c, const char *project, const char *by, int64_t now,
    struct atr_err *err)
{
	return pg_cmd(c, err, "creating trunk",
	    "INSERT INTO branches(project_id, name, created, created_by)"
	    " SELECT id, 'trunk', $1, $2 FROM projects WHERE name = $3",
	    "itt", now, by, project);
}

/* Elements as one JSON array text (malloc'd); NULL with err. */
static char *
elements_json(const char *const *elements, size_t n, struct atr_err *err)
{
	json_t *a = json_array();
	char *text = NULL;

	if (a == NULL)
		goto out;
	for (size_t i = 0; i < n; i++)
		if (json_array_append_new(a, json_string(elements[i])) == -1)
			goto out;
	text = json_dumps(a, JSON_COMPACT);
out:
	json_decref(a);
	if (text == NULL)
		atr_err_set(err, ATR_E_NOMEM, NULL);
	return text;
}

static int
project_id(struct pg_conn *c, const char *project, int64_t *id, struct atr_err *err)
{
	PGresult *res = pg_query(c, err, "reading a project", 0,
	    "SELECT id FROM projects WHERE name = $1", "t", project);

	if (res == NULL)
		return -1;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return atr_err_set(err, ATR_E_NOT_FOUND, "there is no project named '%s'", project);
	}
	*id = pg_int(res, 0, 0);
	PQclear(res);
	return 0;
}

static void
branch_from_row(const PGresult *res, int row, struct store_branch *b)
{
	pg_copy_text(b->name, sizeof(b->name), res, row, 0);
	pg_copy_text(b->from_branch, sizeof(b->from_branch), res, row, 1);
	b->from_revision = pg_int(res, row, 2);
	b->head = pg_int(res, row, 3);
	b->created = pg_int(res, row, 4);
	pg_copy_text(b->created_by, sizeof(b->created_by), res, row, 5);
}

#define BRANCH_COLUMNS "SELECT name, from_branch, from_revision, head, created, created_by"

/*
 * The project's id and the branch; ATR_E_NOT_FOUND naming what is missing.
 * With lock, the branch's row is locked until the transaction ends, and
 * nothing else is: a trunk commit then updates its project's row, and a
 * share lock on that row taken by each of two commits would deadlock
 * them. A project's deletion (which deletes its branches) waits too.
 */
static int
branch_of(struct pg_conn *c, const char *project, const char *name, int lock, int64_t *id,
    struct store_branch *b, struct atr_err *err)
{
	PGresult *res;

	if (lock) {
		res = pg_query(c, err, "reading a branch", 0,
		    "SELECT b.name, b.from_branch, b.from_revision, b.head, b.created, b.created_by,"
		    " b.project_id FROM branches b JOIN projects p ON p.id = b.project_id"
		    " WHERE p.name = $1 AND b.name = $2 FOR UPDATE OF b",
		    "tt", project, name);
		if (res == NULL)
			return -1;
		if (PQntuples(res) == 1) {
			branch_from_row(res, 0, b);
			*id = pg_int(res, 0, 6);
			PQclear(res);
			return 0;
		}
		PQclear(res);
		if (project_id(c, project, id, err) == -1)
			return -1;
		return atr_err_set(err, ATR_E_NOT_FOUND, "project '%s' has no branch named '%s'",
		    project, name);
	}
	if (project_id(c, project, id, err) == -1)
		return -1;
	res = pg_query(c, err, "reading a branch", 0,
	    BRANCH_COLUMNS " FROM branches WHERE project_id = $1 AND name = $2", "it", *id, name);
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return atr_err_set(err, ATR_E_NOT_FOUND, "project '%s' has no branch named '%s'",
		    project, name);
	}
	branch_from_row(res, 0, b);
	PQclear(res);
	return 0;
}

int
pg_branch_get(struct store_conn *sc, const char *project, const char *name,
    struct store_branch *b, struct atr_err *err)
{
	int64_t id;

	return branch_of(PGC(sc), project, name, 0, &id, b, err);
}

int
pg_branch_list(struct store_conn *sc, const char *project,
    int (*each)(const struct store_branch *, void *), void *arg, struct atr_err *err)
{
	struct store_branch b;
	PGresult *res;
	int64_t id;

	if (project_id(PGC(sc), project, &id, err) == -1)
		return -1;
	if ((res = pg_query(PGC(sc), err, "listing branches", 0,
		 BRANCH_COLUMNS " FROM branches WHERE project_id = $1 ORDER BY name COLLATE \"C\"",
		 "i", id)) == NULL)
		return -1;
	for (int i = 0; i < PQntuples(res); i++) {
		branch_from_row(res, i, &b);
		if (each(&b, arg) != 0)
			break;
	}
	PQclear(res);
	return 0;
}

#define REVISION_COLUMNS \
	"SELECT r.number, r.author, r.message, r.time, r.size, r.sha256, r.branch FROM revisions r"

static int
revision_of(struct pg_conn *c, const char *project, int64_t id, const struct store_branch *b,
    int64_t number, struct store_revision *r, struct atr_err *err)
{
	PGresult *res;

	if (number < 0)
		number = b->head;
	res = pg_query(c, err, "reading a revision", 0,
	    REVISION_COLUMNS " WHERE r.project_id = $1 AND r.branch = $2 AND r.number = $3", "iti",
	    id, b->name, number);
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 1) {
		pg_revision_from_row(res, 0, 0, r);
		PQclear(res);
		return 0;
	}
	PQclear(res);
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
pg_branch_create(struct store_conn *sc, const char *project, const char *name,
    const char *from_branch, int64_t from_revision, const char *by, int64_t now,
    struct store_branch *out, struct atr_err *err)
{
	struct pg_conn *c = PGC(sc);
	struct store_branch from, b;
	struct store_revision r;
	char message[STORE_MESSAGE_MAX + 1];
	int64_t id;

	if (pg_begin(c, err) == -1)
		return -1;
	if (branch_of(c, project, from_branch, 0, &id, &from, err) == -1)
		goto fail;
	memset(&b, 0, sizeof(b));
	snprintf(b.name, sizeof(b.name), "%s", name);
	snprintf(b.from_branch, sizeof(b.from_branch), "%s", from.name);
	snprintf(b.created_by, sizeof(b.created_by), "%s", by);
	b.created = now;
	if (from.head > 0 || from_revision > 0) {
		if (revision_of(c, project, id, &from, from_revision, &r, err) == -1)
			goto fail;
		b.from_revision = r.number;
		b.head = 1;
	}
	if (pg_cmd(c, err, "creating a branch",
		"INSERT INTO branches(project_id, name, from_branch, from_revision, head, created,"
		" created_by) VALUES ($1, $2, $3, $4, $5, $6, $7)",
		"ittiiit", id, b.name, b.from_branch, b.from_revision, b.head, b.created,
		b.created_by) == -1) {
		if (err != NULL && err->code == ATR_E_EXISTS)
			atr_err_set(err, ATR_E_EXISTS, "project '%s' already has a branch named '%s'",
			    project, name);
		goto fail;
	}
	if (b.head == 1) {
		snprintf(message, sizeof(message), "branch %s from %s:%lld", name, from.name,
		    (long long)r.number);
		if (pg_cmd(c, err, "adding a revision",
			"INSERT INTO revisions(project_id, branch, number, author, message, time, size,"
			" sha256) VALUES ($1, $2, 1, $3, $4, $5, $6, $7)",
			"itttiit", id, name, r.author, message, now, r.size, r.sha256) == -1)
			goto fail;
	}
	if (pg_event_write(sc, "branch.created", project,
		event_data("{s:s, s:s, s:s, s:I, s:s}", "project", project, "branch", name,
		    "from_branch", b.from_branch, "from_revision", (json_int_t)b.from_revision,
		    "created_by", by),
		err) == -1 ||
	    pg_commit(c, err) == -1)
		goto fail;
	if (out != NULL)
		*out = b;
	return 0;
fail:
	pg_rollback(c);
	return -1;
}

int
pg_branch_delete(struct store_conn *sc, const char *project, const char *name, const char *by,
    struct atr_err *err)
{
	struct pg_conn *c = PGC(sc);
	struct store_branch b;
	PGresult *res;
	char *shas = NULL;
	int64_t id;

	if (pg_begin(c, err) == -1)
		return -1;
	if (branch_of(c, project, name, 1, &id, &b, err) == -1)
		goto fail;
	if ((res = pg_query(c, err, "reading tags", 0,
		 "SELECT count(*), coalesce(string_agg(quote_literal(name), ', '"
		 "   ORDER BY name COLLATE \"C\"), '') FROM tags WHERE project_id = $1 AND branch = $2",
		 "it", id, name)) == NULL)
		goto fail;
	if (pg_int(res, 0, 0) > 0) {
		atr_err_set(err, ATR_E_CONFLICT,
		    "branch '%s' of project '%s' has %lld tag(s) (%.300s); delete them first", name,
		    project, (long long)pg_int(res, 0, 0), PQgetvalue(res, 0, 1));
		PQclear(res);
		goto fail;
	}
	PQclear(res);
	if ((res = pg_query(c, err, "deleting a branch", 0,
		 "SELECT coalesce(array_agg(DISTINCT sha256)::text, '{}') FROM revisions"
		 " WHERE project_id = $1 AND branch = $2",
		 "it", id, name)) == NULL)
		goto fail;
	shas = strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	if (shas == NULL) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		goto fail;
	}
	/* Its revisions and locks go by the foreign keys' cascade. */
	if (pg_cmd(c, err, "deleting a branch",
		"DELETE FROM branches WHERE project_id = $1 AND name = $2", "it", id, name) == -1 ||
	    pg_remove_unreferenced(c, shas, err) == -1 ||
	    pg_event_write(sc, "branch.deleted", project,
		event_data("{s:s, s:s, s:s?}", "project", project, "branch", name, "deleted_by", by),
		err) == -1 ||
	    pg_commit(c, err) == -1)
		goto fail;
	free(shas);
	return 0;
fail:
	pg_rollback(c);
	free(shas);
	return -1;
}

/* ---- tags */

static void
tag_from_row(const PGresult *res, int row, struct store_tag *t)
{
	pg_copy_text(t->name, sizeof(t->name), res, row, 0);
	pg_copy_text(t->branch, sizeof(t->branch), res, row, 1);
	t->revision = pg_int(res, row, 2);
	t->created = pg_int(res, row, 3);
	pg_copy_text(t->created_by, sizeof(t->created_by), res, row, 4);
}

#define TAG_COLUMNS "SELECT name, branch, revision, created, created_by FROM tags"

int
pg_tag_create(struct store_conn *sc, const char *project, const char *name, const char *branch,
    int64_t revision, const char *by, int64_t now, struct store_tag *out, struct atr_err *err)
{
	struct pg_conn *c = PGC(sc);
	struct store_branch b;
	struct store_revision r;
	struct store_tag t;
	int64_t id;

	if (pg_begin(c, err) == -1)
		return -1;
	/* The branch's row is locked: a deletion of it waits, then sees the tag. */
	if (branch_of(c, project, branch, 1, &id, &b, err) == -1 ||
	    revision_of(c, project, id, &b, revision, &r, err) == -1)
		goto fail;
	memset(&t, 0, sizeof(t));
	snprintf(t.name, sizeof(t.name), "%s", name);
	snprintf(t.branch, sizeof(t.branch), "%s", branch);
	snprintf(t.created_by, sizeof(t.created_by), "%s", by);
	t.revision = r.number;
	t.created = now;
	if (pg_cmd(c, err, "creating a tag",
		"INSERT INTO tags(project_id, name, branch, revision, created, created_by)"
		" VALUES ($1, $2, $3, $4, $5, $6)",
		"ittiit", id, name, branch, t.revision, now, by) == -1) {
		if (err != NULL && err->code == ATR_E_EXISTS)
			atr_err_set(err, ATR_E_EXISTS,
			    "project '%s' already has a tag named '%s'; tags do not move: delete it "
			    "and create it again",
			    project, name);
		goto fail;
	}
	if (pg_event_write(sc, "tag.created", project,
		event_data("{s:s, s:s, s:s, s:I, s:s}", "project", project, "tag", name, "branch",
		    branch, "revision", (json_int_t)t.revision, "created_by", by),
		err) == -1 ||
	    pg_commit(c, err) == -1)
		goto fail;
	if (out != NULL)
		*out = t;
	return 0;
fail:
	pg_rollback(c);
	return -1;
}

static int
tag_of(struct pg_conn *c, const char *project, int64_t id, const char *name, struct store_tag *t,
    struct atr_err *err)
{
	PGresult *res = pg_query(c, err, "reading a tag", 0,
	    TAG_COLUMNS " WHERE project_id = $1 AND name = $2", "it", id, name);

	if (res == NULL)
		return -1;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return atr_err_set(err, ATR_E_NOT_FOUND, "project '%s' has no tag named '%s'",
		    project, name);
	}
	tag_from_row(res, 0, t);
	PQclear(res);
	return 0;
}

int
pg_tag_get(struct store_conn *sc, const char *project, const char *name, struct store_tag *t,
    struct atr_err *err)
{
	int64_t id;

	if (project_id(PGC(sc), project, &id, err) == -1)
		return -1;
	return tag_of(PGC(sc), project, id, name, t, err);
}

int
pg_tag_list(struct store_conn *sc, const char *project,
    int (*each)(const struct store_tag *, void *), void *arg, struct atr_err *err)
{
	struct store_tag t;
	PGresult *res;
	int64_t id;

	if (project_id(PGC(sc), project, &id, err) == -1)
		return -1;
	if ((res = pg_query(PGC(sc), err, "listing tags", 0,
		 TAG_COLUMNS " WHERE project_id = $1 ORDER BY name COLLATE \"C\"", "i", id)) == NULL)
		return -1;
	for (int i = 0; i < PQntuples(res); i++) {
		tag_from_row(res, i, &t);
		if (each(&t, arg) != 0)
			break;
	}
	PQclear(res);
	return 0;
}

int
pg_tag_delete(struct store_conn *sc, const char *project, const char *name, const char *by,
    struct atr_err *err)
{
	struct pg_conn *c = PGC(sc);
	struct store_tag t;
	int64_t id;

	if (pg_begin(c, err) == -1)
		return -1;
	if (project_id(c, project, &id, err) == -1 || tag_of(c, project, id, name, &t, err) == -1 ||
	    pg_cmd(c, err, "deleting a tag", "DELETE FROM tags WHERE project_id = $1 AND name = $2",
		"it", id, name) == -1 ||
	    pg_event_write(sc, "tag.deleted", project,
		event_data("{s:s, s:s, s:s, s:I, s:s?}", "project", project, "tag", name, "branch",
		    t.branch, "revision", (json_int_t)t.revision, "deleted_by", by),
		err) == -1 ||
	    pg_commit(c, err) == -1)
		goto fail;
	return 0;
fail:
	pg_rollback(c);
	return -1;
}

/* ---- revisions */

int
pg_revision_list(struct store_conn *sc, const char *project, const char *branch,
    int (*each)(const struct store_revision *, void *), void *arg, struct atr_err *err)
{
	struct store_branch b;
	struct store_revision *r;
	PGresult *res;
	int64_t id;

	if (branch_of(PGC(sc), project, branch, 0, &id, &b, err) == -1)
		return -1;
	res = pg_query(PGC(sc), err, "listing revisions", 0,
	    REVISION_COLUMNS " WHERE r.project_id = $1 AND r.branch = $2 ORDER BY r.number DESC",
	    "it", id, branch);
	if (res == NULL)
		return -1;
	if ((r = malloc(sizeof(*r))) == NULL) {
		PQclear(res);
		return atr_err_set(err, ATR_E_NOMEM, NULL);
	}
	for (int i = 0; i < PQntuples(res); i++) {
		pg_revision_from_row(res, i, 0, r);
		if (each(r, arg) != 0)
			break;
	}
	PQclear(res);
	free(r);
	return 0;
}

int
pg_revision_get(struct store_conn *sc, const char *project, const char *branch, int64_t number,
    struct store_revision *r, struct atr_err *err)
{
	struct store_branch b;
	int64_t id;

	if (branch_of(PGC(sc), project, branch, 0, &id, &b, err) == -1)
		return -1;
	return revision_of(PGC(sc), project, id, &b, number, r, err);
}

static void
lock_from_row(const PGresult *res, int row, const char *branch, struct store_lock *l)
{
	snprintf(l->branch, sizeof(l->branch), "%s", branch);
	pg_copy_text(l->element, sizeof(l->element), res, row, 0);
	pg_copy_text(l->holder, sizeof(l->holder), res, row, 1);
	l->since = pg_int(res, row, 2);
}

/* The rows' first column as a list of names (malloc'd: the array and its
 * strings in one block); NULL with err. */
static const char **
names_of(const PGresult *res, struct atr_err *err)
{
	int n = PQntuples(res);
	size_t bytes = (size_t)(n > 0 ? n : 1) * sizeof(char *);
	const char **v;
	char *p;

	for (int i = 0; i < n; i++)
		bytes += (size_t)PQgetlength(res, i, 0) + 1;
	if ((v = malloc(bytes)) == NULL) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		return NULL;
	}
	p = (char *)(v + (n > 0 ? n : 1));
	for (int i = 0; i < n; i++) {
		size_t len = (size_t)PQgetlength(res, i, 0);
		memcpy(p, PQgetvalue(res, i, 0), len + 1);
		v[i] = p;
		p += len + 1;
	}
	return v;
}

int
pg_revision_commit(struct store_conn *sc, const struct store_commit *cm,
    struct store_revision *head, struct store_lock *locked, int64_t *released,
    struct atr_err *err)
{
	struct pg_conn *c = PGC(sc);
	struct store_branch b;
	PGresult *res = NULL, *mine = NULL;
	const char **gone = NULL;
	char *elements = NULL;
	int64_t id;

	if (pg_begin(c, err) == -1)
		goto unpin;
	if (branch_of(c, cm->project, cm->branch, 1, &id, &b, err) == -1)
		goto rollback;
	if (b.head != cm->base) {
		struct store_revision h;
		memset(&h, 0, sizeof(h));
		if (b.head > 0 && revision_of(c, cm->project, id, &b, b.head, &h, err) == -1)
			goto rollback;
		if (head != NULL)
			*head = h;
		atr_err_set(err, ATR_E_CONFLICT,
		    "%s committed revision %lld (\"%s\") of %s at %lld after your base %lld",
		    h.author, (long long)b.head, h.message, b.name, (long long)h.time,
		    (long long)cm->base);
		goto rollback;
	}
	if (cm->nelements > 0) {
		if ((elements = elements_json(cm->elements, cm->nelements, err)) == NULL)
			goto rollback;
		if ((res = pg_query(c, err, "reading locks", 0,
			 "SELECT element, holder, since FROM locks WHERE project_id = $1"
			 " AND branch = $2 AND holder <> $3"
			 " AND element IN (SELECT jsonb_array_elements_text($4::jsonb))"
			 " ORDER BY element COLLATE \"C\" LIMIT 1",
			 "ittt", id, b.name, cm->author, elements)) == NULL)
			goto rollback;
		if (PQntuples(res) > 0) {
			struct store_lock l;
			lock_from_row(res, 0, b.name, &l);
			if (locked != NULL)
				*locked = l;
			atr_err_set(err, ATR_E_LOCKED, "'%s' on %s of project '%s' is locked by %s",
			    l.element, b.name, cm->project, l.holder);
			goto rollback;
		}
		PQclear(res);
		res = NULL;
	}
	if ((res = pg_query(c, err, "adding a revision", 0,
		 "UPDATE blobs SET pending = greatest(pending - 1, 0) WHERE sha256 = $1 AND size = $2",
		 "ti", cm->sha256, cm->size)) == NULL)
		goto rollback;
	if (pg_changed(res) != 1) {
		atr_err_set(err, ATR_E_IO,
		    "the content %s (%lld bytes) is not in the database; send it again", cm->sha256,
		    (long long)cm->size);
		goto rollback;
	}
	PQclear(res);
	res = NULL;
	if (pg_cmd(c, err, "adding a revision",
		"INSERT INTO revisions(project_id, branch, number, author, message, time, size,"
		" sha256) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
		"itittiit", id, b.name, cm->base + 1, cm->author, cm->message, cm->now, cm->size,
		cm->sha256) == -1 ||
	    pg_cmd(c, err, "moving the head",
		"UPDATE branches SET head = $1 WHERE project_id = $2 AND name = $3", "iit",
		cm->base + 1, id, b.name) == -1)
		goto rollback;
	/* projects.head stays trunk's: what clients of before branches read. */
	if (strcmp(b.name, STORE_TRUNK) == 0 &&
	    pg_cmd(c, err, "moving the head", "UPDATE projects SET head = $1 WHERE id = $2", "ii",
		cm->base + 1, id) == -1)
		goto rollback;
	if (elements != NULL && !cm->keep_locks) {
		if ((mine = pg_query(c, err, "releasing locks", 0,
			 "WITH d AS (DELETE FROM locks WHERE project_id = $1 AND branch = $2"
			 "   AND holder = $3"
			 "   AND element IN (SELECT jsonb_array_elements_text($4::jsonb))"
			 "   RETURNING element)"
			 " SELECT element FROM d ORDER BY element COLLATE \"C\"",
			 "ittt", id, b.name, cm->author, elements)) == NULL ||
		    (gone = names_of(mine, err)) == NULL)
			goto rollback;
	}
	if (pg_event_write(sc, "revision.committed", cm->project,
		event_data("{s:s, s:s, s:I, s:s, s:s, s:I, s:s}", "project", cm->project, "branch",
		    b.name, "revision", (json_int_t)(cm->base + 1), "author", cm->author, "message",
		    cm->message, "size", (json_int_t)cm->size, "sha256", cm->sha256),
		err) == -1)
		goto rollback;
	if (mine != NULL && PQntuples(mine) > 0 &&
	    pg_event_write(sc, "lock.released", cm->project,
		event_lock_data(cm->project, b.name, gone, (size_t)PQntuples(mine), cm->author,
		    cm->author, 0),
		err) == -1)
		goto rollback;
	if (pg_commit(c, err) == -1)
		goto rollback;
	if (released != NULL)
		*released = mine != NULL ? PQntuples(mine) : 0;
	PQclear(mine);
	free(gone);
	free(elements);
	return 0;
rollback:
	PQclear(res);
	PQclear(mine);
	free(gone);
	free(elements);
	pg_rollback(c);
unpin:
	pg_blob_unpin(c, cm->sha256);
	return -1;
}

/* ---- element locks */

int
pg_lock_get(struct store_conn *sc, const char *project, const char *branch, const char *element,
    struct store_lock *l, struct atr_err *err)
{
	PGresult *res;
	int64_t id;
	int found;

	if (project_id(PGC(sc), project, &id, err) == -1)
		return -1;
	if ((res = pg_query(PGC(sc), err, "reading a lock", 0,
		 "SELECT element, holder, since FROM locks"
		 " WHERE project_id = $1 AND branch = $2 AND element = $3",
		 "itt", id, branch, element)) == NULL)
		return -1;
	if ((found = PQntuples(res) > 0))
		lock_from_row(res, 0, branch, l);
	PQclear(res);
	return found;
}

int
pg_locks_take(struct store_conn *sc, const char *project, const char *branch,
    const char *const *elements, size_t n, const char *user, int64_t now,
    int (*conflict)(const struct store_lock *, void *), void *arg, int64_t *taken,
    struct atr_err *err)
{
	struct pg_conn *c = PGC(sc);
	struct store_branch b;
	struct store_lock l;
	PGresult *res = NULL;
	const char **fresh = NULL;
	char *el = NULL;
	int64_t id;
	int nfresh;

	*taken = 0;
	if ((el = elements_json(elements, n, err)) == NULL)
		return -1;
	if (pg_begin(c, err) == -1)
		goto fail;
	if (branch_of(c, project, branch, 1, &id, &b, err) == -1)
		goto fail;
	if ((res = pg_query(c, err, "reading locks", 0,
		 "SELECT element, holder, since FROM locks WHERE project_id = $1 AND branch = $2"
		 " AND holder <> $3 AND element IN (SELECT jsonb_array_elements_text($4::jsonb))"
		 " ORDER BY element COLLATE \"C\"",
		 "ittt", id, branch, user, el)) == NULL)
		goto fail;
	if (PQntuples(res) > 0) {
		int stop = 0;
		for (int i = 0; i < PQntuples(res) && !stop; i++) {
			lock_from_row(res, i, branch, &l);
			if (conflict != NULL)
				stop = conflict(&l, arg);
		}
		atr_err_set(err, ATR_E_CONFLICT,
		    "%d of the %zu elements on %s of project '%s' are locked by someone else",
		    PQntuples(res), n, branch, project);
		goto fail;
	}
	PQclear(res);
	if ((res = pg_query(c, err, "taking locks", 0,
		 "WITH ins AS (INSERT INTO locks(project_id, branch, element, holder, since)"
		 "   SELECT $1, $2, e, $3, $4 FROM jsonb_array_elements_text($5::jsonb) e"
		 "   ON CONFLICT DO NOTHING RETURNING element)"
		 " SELECT element FROM ins ORDER BY element COLLATE \"C\"",
		 "ittit", id, branch, user, now, el)) == NULL ||
	    (fresh = names_of(res, err)) == NULL)
		goto fail;
	nfresh = PQntuples(res);
	if (nfresh > 0 &&
	    pg_event_write(sc, "lock.taken", project,
		event_lock_data(project, branch, fresh, (size_t)nfresh, user, NULL, 0), err) == -1)
		goto fail;
	if (pg_commit(c, err) == -1)
		goto fail;
	*taken = nfresh;
	PQclear(res);
	free(fresh);
	free(el);
	return 0;
fail:
	PQclear(res);
	free(fresh);
	free(el);
	pg_rollback(c);
	return -1;
}

int
pg_locks_release(struct store_conn *sc, const char *project, const char *branch,
    const char *const *elements, size_t n, const char *holder, const char *user, int force,
    int64_t *released, struct atr_err *err)
{
	struct pg_conn *c = PGC(sc);
	struct store_branch b;
	PGresult *res = NULL;
	const char **gone = NULL;
	char *el = NULL;
	char first[STORE_NAME_MAX + 1] = "";
	int64_t id;
	int forced = 0, several = 0, ngone;

	*released = 0;
	if (elements != NULL && (el = elements_json(elements, n, err)) == NULL)
		return -1;
	if (pg_begin(c, err) == -1)
		goto fail;
	if (branch_of(c, project, branch, 1, &id, &b, err) == -1)
		goto fail;
	if (el != NULL)
		res = pg_query(c, err, "releasing locks", 0,
		    "WITH d AS (DELETE FROM locks WHERE project_id = $1 AND branch = $2"
		    "   AND element IN (SELECT jsonb_array_elements_text($3::jsonb))"
		    "   RETURNING element, holder)"
		    " SELECT element, holder FROM d ORDER BY element COLLATE \"C\"",
		    "itt", id, branch, el);
	else
		res = pg_query(c, err, "releasing locks", 0,
		    "WITH d AS (DELETE FROM locks WHERE holder = $3 AND project_id = $1"
		    "   AND branch = $2 RETURNING element, holder)"
		    " SELECT element, holder FROM d ORDER BY element COLLATE \"C\"",
		    "itt", id, branch, holder);
	if (res == NULL)
		goto fail;
	ngone = PQntuples(res);
	/* Deleted first, checked after: a refusal rolls it all back. */
	for (int i = 0; i < ngone; i++) {
		const char *h = PQgetvalue(res, i, 1);
		if (strcmp(h, user) != 0) {
			if (!force) {
				if (el != NULL)
					atr_err_set(err, ATR_E_FORBIDDEN,
					    "'%s' in project '%s' is locked by %s; only %s or an admin "
					    "may release it",
					    PQgetvalue(res, i, 0), project, h, h);
				else
					atr_err_set(err, ATR_E_FORBIDDEN,
					    "only %s or an admin may release %s's locks", h, h);
				goto fail;
			}
			forced = 1;
		}
		if (i == 0)
			snprintf(first, sizeof(first), "%s", h);
		else if (strcmp(first, h) != 0)
			several = 1;
	}
	if ((gone = names_of(res, err)) == NULL)
		goto fail;
	if (ngone > 0 &&
	    pg_event_write(sc, "lock.released", project,
		event_lock_data(project, branch, gone, (size_t)ngone, several ? "" : first, user,
		    forced),
		err) == -1)
		goto fail;
	if (pg_commit(c, err) == -1)
		goto fail;
	*released = ngone;
	PQclear(res);
	free(gone);
	free(el);
	return 0;
fail:
	PQclear(res);
	free(gone);
	free(el);
	pg_rollback(c);
	return -1;
}

int
pg_locks_list(struct store_conn *sc, const char *project, const char *branch,
    const char *holder, int (*each)(const struct store_lock *, void *), void *arg,
    struct atr_err *err)
{
	struct store_branch b;
	struct store_lock l;
	PGresult *res;
	int64_t id;

	if (branch != NULL) {
		if (branch_of(PGC(sc), project, branch, 0, &id, &b, err) == -1)
			return -1;
	} else if (project_id(PGC(sc), project, &id, err) == -1) {
		return -1;
	}
	if ((res = pg_query(PGC(sc), err, "listing locks", 0,
		 "SELECT element, holder, since, branch FROM locks WHERE project_id = $1"
		 " AND ($2::text IS NULL OR branch = $2) AND ($3::text IS NULL OR holder = $3)"
		 " ORDER BY branch COLLATE \"C\", element COLLATE \"C\"",
		 "itt", id, branch, holder)) == NULL)
		return -1;
	for (int i = 0; i < PQntuples(res); i++) {
		lock_from_row(res, i, PQgetvalue(res, i, 3), &l);
		if (each(&l, arg) != 0)
			break;
	}
	PQclear(res);
	return 0;
}
