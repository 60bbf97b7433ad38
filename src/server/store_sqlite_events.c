/*
 * The embedded store's events, integrations and deliveries (store.h).
 *
 * An event row and its deliveries are written inside the transaction of
 * the change they describe (sq_event_write), so a change that is rolled
 * back leaves no event and an acknowledged one always has its deliveries.
 * Each integration counts its deliveries in last_seq, raised in the same
 * transaction: seq has no gaps. Every writer takes SQLite's write lock
 * first (BEGIN IMMEDIATE), which also makes claims exclusive between
 * connections.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "atrium/util.h"
#include "server/event.h"
#include "server/store_sqlite_int.h"

const char sq_events_schema[] =
    "CREATE TABLE IF NOT EXISTS events("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT, type TEXT NOT NULL, project TEXT NOT NULL,"
    "  time INTEGER NOT NULL, data TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS integrations("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE NOT NULL, url TEXT NOT NULL,"
    "  events TEXT NOT NULL, project TEXT NOT NULL, pin TEXT NOT NULL, ca_pem TEXT,"
    "  client_pem TEXT, allow_plain INTEGER NOT NULL, secret TEXT NOT NULL,"
    "  old_secret TEXT NOT NULL, old_secret_until INTEGER NOT NULL,"
    "  state TEXT NOT NULL CHECK (state IN ('active','paused','disabled')),"
    "  state_reason TEXT NOT NULL, created INTEGER NOT NULL, created_by TEXT NOT NULL,"
    "  updated INTEGER NOT NULL, updated_by TEXT NOT NULL, last_seq INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS deliveries("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  integration_id INTEGER NOT NULL REFERENCES integrations(id) ON DELETE CASCADE,"
    "  seq INTEGER NOT NULL, event_id INTEGER NOT NULL REFERENCES events(id),"
    "  msg_id TEXT UNIQUE NOT NULL,"
    "  state TEXT NOT NULL CHECK (state IN ('pending','delivered','failed')),"
    "  attempts INTEGER NOT NULL, next_attempt INTEGER NOT NULL, created INTEGER NOT NULL,"
    "  lease_node TEXT, lease_until INTEGER NOT NULL, UNIQUE (integration_id, seq));"
    "CREATE INDEX IF NOT EXISTS deliveries_waiting ON deliveries(integration_id, seq)"
    "  WHERE state = 'pending';"
    "CREATE INDEX IF NOT EXISTS deliveries_event ON deliveries(event_id);"
    "CREATE TABLE IF NOT EXISTS delivery_attempts("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  delivery_id INTEGER NOT NULL REFERENCES deliveries(id) ON DELETE CASCADE,"
    "  time INTEGER NOT NULL, status INTEGER NOT NULL, duration_ms INTEGER NOT NULL,"
    "  error TEXT NOT NULL, outcome TEXT NOT NULL, next_attempt INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS delivery_attempts_delivery ON delivery_attempts(delivery_id);"
    "CREATE INDEX IF NOT EXISTS delivery_attempts_time ON delivery_attempts(time);";

/* The head of an integration: its oldest waiting delivery. */
#define HEAD_OF(col)                                                                       \
	"(SELECT h.id FROM deliveries h WHERE h.integration_id = " col                     \
	" AND h.state = 'pending' ORDER BY h.seq LIMIT 1)"

static int
rollback(struct store_conn *sc)
{
	sc->queued = 0;
	sq_exec(sc, "ROLLBACK", NULL);
	return -1;
}

/* Queues event evid for integration iid as its next seq; *id (may be NULL)
 * gets the delivery's id. Inside a transaction. */
static int
queue_delivery(struct store_conn *sc, int64_t iid, int64_t evid, int64_t now, int64_t *id,
    struct atr_err *err)
{
	sqlite3_stmt *s;
	char msg_id[48];
	int64_t seq = 0;

	if (sq_run(sc, err, "numbering a delivery",
		sq_prep(sc, err, "UPDATE integrations SET last_seq = last_seq + 1 WHERE id = ?", "i",
		    iid)) == -1)
		return -1;
	if ((s = sq_prep(sc, err, "SELECT last_seq FROM integrations WHERE id = ?", "i", iid)) ==
	    NULL)
		return -1;
	if (sqlite3_step(s) == SQLITE_ROW)
		seq = sqlite3_column_int64(s, 0);
	sq_release(sc, s);
	if (seq == 0)
		return sq_db_fail(sc, err, "numbering a delivery");
	event_msg_id(msg_id);
	if (sq_run(sc, err, "queueing a delivery",
		sq_prep(sc, err,
		    "INSERT INTO deliveries(integration_id, seq, event_id, msg_id, state, attempts,"
		    " next_attempt, created, lease_until) VALUES (?,?,?,?,'pending',0,?,?,0)",
		    "iiitii", iid, seq, evid, msg_id, now, now)) == -1)
		return -1;
	if (id != NULL)
		*id = sqlite3_last_insert_rowid(SQ(sc)->db);
	sc->queued++;
	return 0;
}

static int
insert_event(struct store_conn *sc, const char *type, const char *project, const char *data,
    int64_t now, int64_t *evid, struct atr_err *err)
{
	if (sq_run(sc, err, "writing an event",
		sq_prep(sc, err, "INSERT INTO events(type, project, time, data) VALUES (?,?,?,?)",
		    "ttit", type, project != NULL ? project : "", now, data)) == -1)
		return -1;
	*evid = sqlite3_last_insert_rowid(SQ(sc)->db);
	sc->wrote++;
	return 0;
}

/* One delivery of event evid for each integration that wants it. */
static int
fan_out(struct store_conn *sc, int64_t evid, const char *type, const char *project, int64_t now,
    struct atr_err *err)
{
	sqlite3_stmt *s = sq_prep(sc, err,
	    "SELECT id, events, project FROM integrations WHERE state != 'disabled' ORDER BY id", "");
	int64_t *ids = NULL;
	size_t n = 0, cap = 0;
	int rc, ret = -1;

	if (s == NULL)
		return -1;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *kinds = (const char *)sqlite3_column_text(s, 1);
		const char *only = (const char *)sqlite3_column_text(s, 2);
		if (!event_kinds_match(kinds != NULL ? kinds : "", type) ||
		    (only != NULL && *only != '\0' &&
			(project == NULL || strcmp(only, project) != 0)))
			continue;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			int64_t *bigger = realloc(ids, ncap * sizeof(*ids));
			if (bigger == NULL) {
				sq_release(sc, s);
				free(ids);
				return atr_err_set(err, ATR_E_NOMEM, NULL);
			}
			ids = bigger;
			cap = ncap;
		}
		ids[n++] = sqlite3_column_int64(s, 0);
	}
	sq_release(sc, s);
	if (rc != SQLITE_DONE) {
		sq_db_fail(sc, err, "finding integrations");
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		if (queue_delivery(sc, ids[i], evid, now, NULL, err) == -1)
			goto out;
	ret = 0;
out:
	free(ids);
	return ret;
}

int
sq_event_write(struct store_conn *sc, const char *type, const char *project, char *data,
    struct atr_err *err)
{
	int64_t evid, now = atr_now_ms();
	int rc;

	if (data == NULL)
		return atr_err_set(err, ATR_E_NOMEM, NULL);
	rc = 0;
	if (sc->events)
		rc = insert_event(sc, type, project, data, now, &evid, err) == -1 ||
			fan_out(sc, evid, type, project, now, err) == -1
		    ? -1
		    : 0;
	free(data);
	return rc;
}

int
sq_event_add(struct store_conn *sc, const char *type, const char *project, const char *data,
    int64_t now_ms, struct atr_err *err)
{
	json_t *o = json_loads(data, 0, NULL);
	int64_t evid;
	int object = json_is_object(o);

	json_decref(o);
	if (!event_type_known(type))
		return atr_err_set(err, ATR_E_BAD_REQUEST, "'%s' is not a kind of event", type);
	if (!object)
		return atr_err_set(err, ATR_E_BAD_REQUEST, "an event's data must be a JSON object");
	if (!sc->events)
		return 0;
	if (sq_exec(sc, "BEGIN IMMEDIATE", err) == -1)
		return -1;
	if (insert_event(sc, type, project, data, now_ms, &evid, err) == -1 ||
	    fan_out(sc, evid, type, project, now_ms, err) == -1 || sq_exec(sc, "COMMIT", err) == -1)
		return rollback(sc);
	return 0;
}

int
sq_event_list(struct store_conn *sc, int64_t after, int limit,
    int (*each)(const struct store_event *, void *), void *arg, struct atr_err *err)
{
	sqlite3_stmt *s = sq_prep(sc, err,
	    "SELECT id, type, project, time, data FROM events WHERE id > ? ORDER BY id LIMIT ?",
	    "ii", after, (int64_t)(limit > 0 ? limit : INT_MAX));
	struct store_event ev;
	int rc;

	if (s == NULL)
		return -1;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		ev.id = sqlite3_column_int64(s, 0);
		sq_copy_text(ev.type, sizeof(ev.type), sqlite3_column_text(s, 1));
		sq_copy_text(ev.project, sizeof(ev.project), sqlite3_column_text(s, 2));
		ev.time = sqlite3_column_int64(s, 3);
		ev.data = (const char *)sqlite3_column_text(s, 4);
		if (each(&ev, arg) != 0)
			break;
	}
	sq_release(sc, s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return sq_db_fail(sc, err, "listing events");
	return 0;
}

int
sq_event_last(struct store_conn *sc, int64_t *id, struct atr_err *err)
{
	sqlite3_stmt *s = sq_prep(sc, err, "SELECT coalesce(max(id), 0) FROM events", "");
	int rc;

	if (s == NULL)
		return -1;
	*id = 0;
	if ((rc = sqlite3_step(s)) == SQLITE_ROW)
		*id = sqlite3_column_int64(s, 0);
	sq_release(sc, s);
	if (rc != SQLITE_ROW)
		return sq_db_fail(sc, err, "reading the last event");
	return 0;
}

/* ---- integrations */

#define INTEGRATION_COLUMNS                                                                \
	"SELECT i.id, i.name, i.url, i.events, i.project, i.pin, i.ca_pem, i.client_pem,"  \
	" i.allow_plain, i.secret, i.old_secret, i.old_secret_until, i.state,"             \
	" i.state_reason, i.created, i.created_by, i.updated, i.updated_by, i.last_seq,"   \
	" (SELECT count(*) FROM deliveries d WHERE d.integration_id = i.id"                \
	" AND d.state = 'pending') FROM integrations i"

/* store_integration_clear() without calling up into store.c. */
static void
integration_free(struct store_integration *in)
{
	free(in->ca_pem);
	if (in->client_pem != NULL)
		atr_free_secret(in->client_pem);
	in->ca_pem = in->client_pem = NULL;
	atr_wipe(in->secret, sizeof(in->secret));
	atr_wipe(in->old_secret, sizeof(in->old_secret));
}

static char *
dup_column(sqlite3_stmt *s, int col, int *nomem)
{
	const unsigned char *t = sqlite3_column_text(s, col);
	char *copy;

	if (t == NULL)
		return NULL;
	if ((copy = strdup((const char *)t)) == NULL)
		*nomem = 1;
	return copy;
}

/* Fills in from the row; -1 without memory (in cleared). */
static int
integration_from_row(sqlite3_stmt *s, struct store_integration *in)
{
	int nomem = 0;

	memset(in, 0, sizeof(*in));
	in->id = sqlite3_column_int64(s, 0);
	sq_copy_text(in->name, sizeof(in->name), sqlite3_column_text(s, 1));
	sq_copy_text(in->url, sizeof(in->url), sqlite3_column_text(s, 2));
	sq_copy_text(in->events, sizeof(in->events), sqlite3_column_text(s, 3));
	sq_copy_text(in->project, sizeof(in->project), sqlite3_column_text(s, 4));
	sq_copy_text(in->pin, sizeof(in->pin), sqlite3_column_text(s, 5));
	in->ca_pem = dup_column(s, 6, &nomem);
	in->client_pem = dup_column(s, 7, &nomem);
	in->allow_plain = sqlite3_column_int(s, 8);
	sq_copy_text(in->secret, sizeof(in->secret), sqlite3_column_text(s, 9));
	sq_copy_text(in->old_secret, sizeof(in->old_secret), sqlite3_column_text(s, 10));
	in->old_secret_until = sqlite3_column_int64(s, 11);
	sq_copy_text(in->state, sizeof(in->state), sqlite3_column_text(s, 12));
	sq_copy_text(in->state_reason, sizeof(in->state_reason), sqlite3_column_text(s, 13));
	in->created = sqlite3_column_int64(s, 14);
	sq_copy_text(in->created_by, sizeof(in->created_by), sqlite3_column_text(s, 15));
	in->updated = sqlite3_column_int64(s, 16);
	sq_copy_text(in->updated_by, sizeof(in->updated_by), sqlite3_column_text(s, 17));
	in->last_seq = sqlite3_column_int64(s, 18);
	in->pending = sqlite3_column_int64(s, 19);
	if (nomem) {
		integration_free(in);
		return -1;
	}
	return 0;
}

static int
no_integration(struct atr_err *err, const char *name)
{
	return atr_err_set(err, ATR_E_NOT_FOUND, "there is no integration named '%s'", name);
}

static int
state_known(const char *state)
{
	static const char *const states[] = {"active", "paused", "disabled"};

	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++)
		if (strcmp(states[i], state) == 0)
			return 1;
	return 0;
}

int
sq_integration_create(struct store_conn *sc, struct store_integration *in, struct atr_err *err)
{
	int64_t now = atr_now_ms();

	if (in->state[0] == '\0')
		snprintf(in->state, sizeof(in->state), "active");
	if (!state_known(in->state))
		return atr_err_set(err, ATR_E_BAD_REQUEST, "'%s' is not a state of integrations",
		    in->state);
	if (in->created == 0)
		in->created = now;
	if (in->updated == 0)
		in->updated = in->created;
	if (in->updated_by[0] == '\0')
		memcpy(in->updated_by, in->created_by, sizeof(in->updated_by));
	if (sq_run(sc, err, "adding an integration",
		sq_prep(sc, err,
		    "INSERT INTO integrations(name, url, events, project, pin, ca_pem, client_pem,"
		    " allow_plain, secret, old_secret, old_secret_until, state, state_reason,"
		    " created, created_by, updated, updated_by, last_seq)"
		    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,0)",
		    "tttttttittittitit", in->name, in->url, in->events, in->project, in->pin,
		    in->ca_pem, in->client_pem, (int64_t)(in->allow_plain != 0), in->secret,
		    in->old_secret, in->old_secret_until, in->state, in->state_reason, in->created,
		    in->created_by, in->updated, in->updated_by)) == -1) {
		if (err != NULL && err->code == ATR_E_EXISTS)
			atr_err_set(err, ATR_E_EXISTS, "an integration named '%s' already exists",
			    in->name);
		return -1;
	}
	in->id = sqlite3_last_insert_rowid(SQ(sc)->db);
	in->last_seq = 0;
	in->pending = 0;
	return 0;
}

int
sq_integration_get(struct store_conn *sc, const char *name, struct store_integration *in,
    struct atr_err *err)
{
	sqlite3_stmt *s = sq_prep(sc, err, INTEGRATION_COLUMNS " WHERE i.name = ?", "t", name);
	int rc, filled = -1;

	if (s == NULL)
		return -1;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		filled = integration_from_row(s, in);
	sq_release(sc, s);
	if (rc == SQLITE_ROW)
		return filled == 0 ? 0 : atr_err_set(err, ATR_E_NOMEM, NULL);
	if (rc == SQLITE_DONE)
		return no_integration(err, name);
	return sq_db_fail(sc, err, "reading an integration");
}

int
sq_integration_list(struct store_conn *sc,
    int (*each)(const struct store_integration *, void *), void *arg, struct atr_err *err)
{
	sqlite3_stmt *s = sq_prep(sc, err, INTEGRATION_COLUMNS " ORDER BY i.name", "");
	struct store_integration *in = malloc(sizeof(*in));
	int rc = SQLITE_DONE, stop = 0;

	if (s == NULL || in == NULL) {
		sq_release(sc, s);
		free(in);
		return s == NULL ? -1 : atr_err_set(err, ATR_E_NOMEM, NULL);
	}
	while (!stop && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (integration_from_row(s, in) == -1) {
			sq_release(sc, s);
			free(in);
			return atr_err_set(err, ATR_E_NOMEM, NULL);
		}
		stop = each(in, arg) != 0;
		integration_free(in);
	}
	sq_release(sc, s);
	free(in);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return sq_db_fail(sc, err, "listing integrations");
	return 0;
}

int
sq_integration_update(struct store_conn *sc, const struct store_integration *in,
    struct atr_err *err)
{
	if (sq_run(sc, err, "changing an integration",
		sq_prep(sc, err,
		    "UPDATE integrations SET url = ?, events = ?, project = ?, pin = ?, ca_pem = ?,"
		    " client_pem = ?, allow_plain = ?, updated = ?, updated_by = ? WHERE name = ?",
		    "ttttttiitt", in->url, in->events, in->project, in->pin, in->ca_pem,
		    in->client_pem, (int64_t)(in->allow_plain != 0),
		    in->updated != 0 ? in->updated : atr_now_ms(), in->updated_by, in->name)) == -1)
		return -1;
	if (sqlite3_changes(SQ(sc)->db) == 0)
		return no_integration(err, in->name);
	return 0;
}

int
sq_integration_set_state(struct store_conn *sc, const char *name, const char *state,
    const char *reason, const char *by, int64_t now_ms, struct atr_err *err)
{
	if (!state_known(state))
		return atr_err_set(err, ATR_E_BAD_REQUEST, "'%s' is not a state of integrations",
		    state);
	if (sq_exec(sc, "BEGIN IMMEDIATE", err) == -1)
		return -1;
	/* The server's own changes (by NULL: a 410, an exhausted schedule)
	 * leave who last changed it as it was. */
	if (sq_run(sc, err, "changing an integration's state",
		by != NULL
		    ? sq_prep(sc, err,
			  "UPDATE integrations SET state = ?, state_reason = ?, updated = ?,"
			  " updated_by = ? WHERE name = ?",
			  "ttitt", state, reason != NULL ? reason : "", now_ms, by, name)
		    : sq_prep(sc, err,
			  "UPDATE integrations SET state = ?, state_reason = ? WHERE name = ?", "ttt",
			  state, reason != NULL ? reason : "", name)) == -1)
		return rollback(sc);
	if (sqlite3_changes(SQ(sc)->db) == 0) {
		no_integration(err, name);
		return rollback(sc);
	}
	if (strcmp(state, "active") == 0) {
		if (sq_run(sc, err, "resuming deliveries",
			sq_prep(sc, err,
			    "UPDATE deliveries SET next_attempt = ? WHERE id = " HEAD_OF(
				"(SELECT id FROM integrations WHERE name = ?)"),
			    "it", now_ms, name)) == -1)
			return rollback(sc);
		sc->queued += sqlite3_changes(SQ(sc)->db);
	}
	if (sq_exec(sc, "COMMIT", err) == -1)
		return rollback(sc);
	return 0;
}

int
sq_integration_rotate(struct store_conn *sc, const char *name, const char *secret,
    int64_t old_until_ms, const char *by, int64_t now_ms, struct atr_err *err)
{
	if (sq_run(sc, err, "rotating a secret",
		sq_prep(sc, err,
		    "UPDATE integrations SET old_secret = secret, old_secret_until = ?, secret = ?,"
		    " updated = ?, updated_by = ? WHERE name = ?",
		    "ititt", old_until_ms, secret, now_ms, by != NULL ? by : "", name)) == -1)
		return -1;
	if (sqlite3_changes(SQ(sc)->db) == 0)
		return no_integration(err, name);
	return 0;
}

int
sq_integration_delete(struct store_conn *sc, const char *name, struct atr_err *err)
{
	if (sq_run(sc, err, "removing an integration",
		sq_prep(sc, err, "DELETE FROM integrations WHERE name = ?", "t", name)) == -1)
		return -1;
	if (sqlite3_changes(SQ(sc)->db) == 0)
		return no_integration(err, name);
	return 0;
}

/* ---- deliveries */

struct due_row {
	struct store_delivery d;
	char *data;
};

int
sq_delivery_due(struct store_conn *sc, int64_t now_ms,
    int (*each)(const struct store_delivery *, void *), void *arg, struct atr_err *err)
{
	sqlite3_stmt *s = sq_prep(sc, err,
	    "SELECT d.id, d.integration_id, i.name, d.seq, d.msg_id, d.state, d.attempts,"
	    " d.next_attempt, d.created, e.id, e.type, e.project, e.time, e.data"
	    " FROM integrations i JOIN deliveries d ON d.id = " HEAD_OF("i.id")
	    " JOIN events e ON e.id = d.event_id"
	    " WHERE i.state = 'active' AND d.next_attempt <= ? AND d.lease_until <= ?"
	    " ORDER BY d.next_attempt, d.id",
	    "ii", now_ms, now_ms);
	struct due_row *rows = NULL;
	size_t n = 0, cap = 0;
	int rc, ret = -1;

	if (s == NULL)
		return -1;
	/* Read them all first: each() may call the store (claim, finish). */
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_delivery *d;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct due_row *bigger = realloc(rows, ncap * sizeof(*rows));
			if (bigger == NULL)
				break;
			rows = bigger;
			cap = ncap;
		}
		d = &rows[n].d;
		memset(d, 0, sizeof(*d));
		d->id = sqlite3_column_int64(s, 0);
		d->integration_id = sqlite3_column_int64(s, 1);
		sq_copy_text(d->integration, sizeof(d->integration), sqlite3_column_text(s, 2));
		d->seq = sqlite3_column_int64(s, 3);
		sq_copy_text(d->msg_id, sizeof(d->msg_id), sqlite3_column_text(s, 4));
		sq_copy_text(d->state, sizeof(d->state), sqlite3_column_text(s, 5));
		d->attempts = sqlite3_column_int(s, 6);
		d->next_attempt = sqlite3_column_int64(s, 7);
		d->created = sqlite3_column_int64(s, 8);
		d->event.id = sqlite3_column_int64(s, 9);
		sq_copy_text(d->event.type, sizeof(d->event.type), sqlite3_column_text(s, 10));
		sq_copy_text(d->event.project, sizeof(d->event.project), sqlite3_column_text(s, 11));
		d->event.time = sqlite3_column_int64(s, 12);
		if ((rows[n].data = strdup((const char *)sqlite3_column_text(s, 13))) == NULL)
			break;
		n++;
	}
	sq_release(sc, s);
	if (rc == SQLITE_ROW) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		goto out;
	}
	if (rc != SQLITE_DONE) {
		sq_db_fail(sc, err, "finding due deliveries");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		rows[i].d.event.data = rows[i].data;
		if (each(&rows[i].d, arg) != 0)
			break;
	}
	ret = 0;
out:
	for (size_t i = 0; i < n; i++)
		free(rows[i].data);
	free(rows);
	return ret;
}

int
sq_delivery_next_time(struct store_conn *sc, int64_t *when_ms, struct atr_err *err)
{
	sqlite3_stmt *s = sq_prep(sc, err,
	    "SELECT min(max(d.next_attempt, d.lease_until)) FROM integrations i"
	    " JOIN deliveries d ON d.id = " HEAD_OF("i.id") " WHERE i.state = 'active'",
	    "");
	int rc;

	if (s == NULL)
		return -1;
	rc = sqlite3_step(s);
	*when_ms = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
	sq_release(sc, s);
	if (rc != SQLITE_ROW)
		return sq_db_fail(sc, err, "finding the next delivery");
	return 0;
}

/*
 * Claims and finishes are committed without their own fsync (WAL with
 * synchronous=NORMAL, on this connection for that one transaction), so the
 * deliverer holds SQLite's single write lock for microseconds, not for an
 * fdatasync, and commits waiting for it wait less. Why that is safe: the
 * WAL is appended in order and every commit of a change (synchronous=FULL)
 * fdatasyncs the whole file, frames before its own included; a power cut
 * loses at most the WAL's unsynced tail, i.e. only the deliverer's latest
 * bookkeeping, never a change, its event or its deliveries (written in the
 * change's transaction). A lost claim makes the delivery due again; a lost
 * finish leaves it pending, sent again once its lease runs out: either way
 * the same delivery again, with the same webhook-id (receivers de-duplicate
 * on it), and at worst an attempt missing from the log -- never a delivery
 * lost. A crash of the process alone loses nothing (the WAL is in the page
 * cache).
 */
static int
sync_relaxed(struct store_conn *sc, int relaxed, struct atr_err *err)
{
	return sq_exec(sc, relaxed ? "PRAGMA synchronous=NORMAL" : "PRAGMA synchronous=FULL", err);
}

static int
claim(struct store_conn *sc, int64_t id, const char *node, int64_t now_ms,
    int64_t lease_until_ms, struct atr_err *err)
{
	/* One statement: SQLite's write lock makes it atomic between
	 * connections and processes. */
	if (sq_run(sc, err, "claiming a delivery",
		sq_prep(sc, err,
		    "UPDATE deliveries SET lease_node = ?, lease_until = ? WHERE id = ?"
		    " AND state = 'pending' AND next_attempt <= ? AND lease_until <= ?"
		    " AND id = " HEAD_OF("deliveries.integration_id")
		    " AND (SELECT state FROM integrations WHERE id = deliveries.integration_id)"
		    " = 'active'",
		    "tiiii", node, lease_until_ms, id, now_ms, now_ms)) == -1)
		return -1;
	return sqlite3_changes(SQ(sc)->db) > 0 ? 1 : 0;
}

static int
outcome_known(const char *outcome)
{
	static const char *const outcomes[] = {"delivered", "retry", "failed"};

	for (size_t i = 0; i < sizeof(outcomes) / sizeof(outcomes[0]); i++)
		if (strcmp(outcomes[i], outcome) == 0)
			return 1;
	return 0;
}

static int
finish(struct store_conn *sc, int64_t id, const char *node, const struct store_attempt *a,
    const char *integration_state, const char *reason, struct atr_err *err)
{
	sqlite3_stmt *s;
	int64_t iid = 0;
	int mine = 0, retry = strcmp(a->outcome, "retry") == 0, rc;

	if (!outcome_known(a->outcome) ||
	    (integration_state != NULL && !state_known(integration_state)))
		return atr_err_set(err, ATR_E_INTERNAL, "'%s' is not an outcome of deliveries",
		    a->outcome);
	if (sq_exec(sc, "BEGIN IMMEDIATE", err) == -1)
		return -1;
	if ((s = sq_prep(sc, err,
		 "SELECT integration_id, state = 'pending' AND lease_node = ? FROM deliveries"
		 " WHERE id = ?",
		 "ti", node, id)) == NULL)
		return rollback(sc);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		iid = sqlite3_column_int64(s, 0);
		mine = sqlite3_column_int(s, 1);
	}
	sq_release(sc, s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		sq_db_fail(sc, err, "reading a delivery");
		return rollback(sc);
	}
	if (!mine) {
		rollback(sc);
		atr_err_set(err, ATR_E_CONFLICT,
		    "delivery %lld is no longer claimed by %s (its lease ran out and another "
		    "sender took it, or it was removed)",
		    (long long)id, node);
		return 0;
	}
	if (sq_run(sc, err, "recording an attempt",
		sq_prep(sc, err,
		    "INSERT INTO delivery_attempts(delivery_id, time, status, duration_ms, error,"
		    " outcome, next_attempt) VALUES (?,?,?,?,?,?,?)",
		    "iiiitti", id, a->time, (int64_t)a->status, a->duration_ms, a->error, a->outcome,
		    retry ? a->next_attempt : (int64_t)0)) == -1 ||
	    sq_run(sc, err, "ending a delivery's attempt",
		sq_prep(sc, err,
		    "UPDATE deliveries SET state = ?, attempts = attempts + 1,"
		    " next_attempt = CASE WHEN ? THEN ? ELSE next_attempt END,"
		    " lease_node = NULL, lease_until = 0 WHERE id = ?",
		    "tiii", retry ? "pending" : a->outcome, (int64_t)retry, a->next_attempt, id)) ==
		-1)
		return rollback(sc);
	if (integration_state != NULL &&
	    sq_run(sc, err, "changing an integration's state",
		sq_prep(sc, err,
		    "UPDATE integrations SET state = ?, state_reason = ? WHERE id = ?", "tti",
		    integration_state, reason != NULL ? reason : "", iid)) == -1)
		return rollback(sc);
	if (sq_exec(sc, "COMMIT", err) == -1)
		return rollback(sc);
	return 1;
}

int
sq_delivery_claim(struct store_conn *sc, int64_t id, const char *node, int64_t now_ms,
    int64_t lease_until_ms, struct atr_err *err)
{
	int rc;

	if (sync_relaxed(sc, 1, err) == -1)
		return -1;
	rc = claim(sc, id, node, now_ms, lease_until_ms, err);
	/* back to FULL before anything else runs on this connection */
	return sync_relaxed(sc, 0, rc == -1 ? NULL : err) == -1 ? -1 : rc;
}

int
sq_delivery_finish(struct store_conn *sc, int64_t id, const char *node,
    const struct store_attempt *a, const char *integration_state, const char *reason,
    struct atr_err *err)
{
	int rc;

	if (sync_relaxed(sc, 1, err) == -1)
		return -1;
	rc = finish(sc, id, node, a, integration_state, reason, err);
	return sync_relaxed(sc, 0, rc == -1 ? NULL : err) == -1 ? -1 : rc;
}

/* The id of integration name; ATR_E_NOT_FOUND. */
static int
integration_id(struct store_conn *sc, const char *name, int64_t *id, struct atr_err *err)
{
	sqlite3_stmt *s = sq_prep(sc, err, "SELECT id FROM integrations WHERE name = ?", "t", name);
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
		return no_integration(err, name);
	return sq_db_fail(sc, err, "reading an integration");
}

int
sq_delivery_log(struct store_conn *sc, const char *integration, int64_t before, int limit,
    int (*each)(const struct store_attempt *, void *), void *arg, struct atr_err *err)
{
	struct store_attempt a;
	sqlite3_stmt *s;
	int64_t iid;
	int rc;

	if (integration_id(sc, integration, &iid, err) == -1)
		return -1;
	s = sq_prep(sc, err,
	    "SELECT a.delivery_id, d.seq, e.type, a.time, a.status, a.duration_ms, a.error,"
	    " a.outcome, a.next_attempt FROM delivery_attempts a"
	    " JOIN deliveries d ON d.id = a.delivery_id JOIN events e ON e.id = d.event_id"
	    " WHERE d.integration_id = ? AND (? = 0 OR a.delivery_id < ?)"
	    " ORDER BY a.delivery_id DESC, a.id DESC LIMIT ?",
	    "iiii", iid, before, before, (int64_t)(limit > 0 ? limit : INT_MAX));
	if (s == NULL)
		return -1;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		a.delivery_id = sqlite3_column_int64(s, 0);
		a.seq = sqlite3_column_int64(s, 1);
		sq_copy_text(a.event_type, sizeof(a.event_type), sqlite3_column_text(s, 2));
		a.time = sqlite3_column_int64(s, 3);
		a.status = sqlite3_column_int(s, 4);
		a.duration_ms = sqlite3_column_int64(s, 5);
		sq_copy_text(a.error, sizeof(a.error), sqlite3_column_text(s, 6));
		sq_copy_text(a.outcome, sizeof(a.outcome), sqlite3_column_text(s, 7));
		a.next_attempt = sqlite3_column_int64(s, 8);
		if (each(&a, arg) != 0)
			break;
	}
	sq_release(sc, s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return sq_db_fail(sc, err, "reading the delivery log");
	return 0;
}

int
sq_delivery_redeliver(struct store_conn *sc, const char *integration, int64_t id, int64_t now_ms,
    struct atr_err *err)
{
	int64_t iid;

	if (sq_exec(sc, "BEGIN IMMEDIATE", err) == -1)
		return -1;
	if (integration_id(sc, integration, &iid, err) == -1)
		return rollback(sc);
	/* A lease in force stays: the sender holding it finishes first. */
	if (sq_run(sc, err, "queueing a delivery again",
		sq_prep(sc, err,
		    "UPDATE deliveries SET state = 'pending', attempts = 0, next_attempt = ?"
		    " WHERE id = ? AND integration_id = ?",
		    "iii", now_ms, id, iid)) == -1)
		return rollback(sc);
	if (sqlite3_changes(SQ(sc)->db) == 0) {
		atr_err_set(err, ATR_E_NOT_FOUND, "integration '%s' has no delivery %lld",
		    integration, (long long)id);
		return rollback(sc);
	}
	sc->queued++;
	if (sq_exec(sc, "COMMIT", err) == -1)
		return rollback(sc);
	return 0;
}

int
sq_delivery_add_test(struct store_conn *sc, const char *integration, const char *by,
    int64_t now_ms, int64_t *id, struct atr_err *err)
{
	char *data = event_data("{s:s, s:s?}", "integration", integration, "requested_by", by);
	int64_t iid, evid;

	if (data == NULL)
		return atr_err_set(err, ATR_E_NOMEM, NULL);
	if (sq_exec(sc, "BEGIN IMMEDIATE", err) == -1)
		goto fail;
	if (integration_id(sc, integration, &iid, err) == -1 ||
	    insert_event(sc, "integration.test", NULL, data, now_ms, &evid, err) == -1 ||
	    queue_delivery(sc, iid, evid, now_ms, id, err) == -1 ||
	    sq_exec(sc, "COMMIT", err) == -1) {
		rollback(sc);
		goto fail;
	}
	free(data);
	return 0;
fail:
	free(data);
	return -1;
}

int
sq_event_purge(struct store_conn *sc, int64_t before_ms, struct atr_err *err)
{
	if (sq_exec(sc, "BEGIN IMMEDIATE", err) == -1)
		return -1;
	if (sq_run(sc, err, "purging the delivery log",
		sq_prep(sc, err, "DELETE FROM delivery_attempts WHERE time < ?", "i", before_ms)) ==
		-1 ||
	    sq_run(sc, err, "purging deliveries",
		sq_prep(sc, err,
		    "DELETE FROM deliveries WHERE state != 'pending' AND created < ? AND NOT EXISTS"
		    " (SELECT 1 FROM delivery_attempts a WHERE a.delivery_id = deliveries.id)",
		    "i", before_ms)) == -1 ||
	    sq_run(sc, err, "purging events",
		sq_prep(sc, err,
		    "DELETE FROM events WHERE time < ? AND NOT EXISTS"
		    " (SELECT 1 FROM deliveries d WHERE d.event_id = events.id)",
		    "i", before_ms)) == -1 ||
	    sq_exec(sc, "COMMIT", err) == -1)
		return rollback(sc);
	return 0;
}
