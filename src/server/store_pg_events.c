/*
 * PostgreSQL's events, integrations and deliveries (store.h).
 *
 * An event and its deliveries are written inside the transaction of the
 * change they describe (pg_event_write). Numbering takes the
 * integration's row lock (UPDATE ... last_seq + 1) until the transaction
 * ends, so concurrent changes on any node get consecutive seqs in the
 * order they commit, and a rollback leaves no gap. Fan-outs lock
 * integrations in id order (no deadlock between them); the calls that
 * change an integration and a delivery together lock the integration
 * first, too.
 *
 * Any node may send, one at a time per delivery: a claim is one
 * conditional UPDATE (a second claimer waits for the first's row and
 * then sees its lease), and finish only records for the lease's holder.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "atrium/util.h"
#include "server/event.h"
#include "server/store_pg_int.h"

const char pg_events_schema[] =
    "CREATE TABLE IF NOT EXISTS events("
    "  id BIGSERIAL PRIMARY KEY, type TEXT NOT NULL, project TEXT NOT NULL,"
    "  time BIGINT NOT NULL, data TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS integrations("
    "  id BIGSERIAL PRIMARY KEY, name TEXT UNIQUE NOT NULL, url TEXT NOT NULL,"
    "  events TEXT NOT NULL, project TEXT NOT NULL, pin TEXT NOT NULL, ca_pem TEXT,"
    "  client_pem TEXT, allow_plain BOOLEAN NOT NULL, secret TEXT NOT NULL,"
    "  old_secret TEXT NOT NULL, old_secret_until BIGINT NOT NULL,"
    "  state TEXT NOT NULL CHECK (state IN ('active','paused','disabled')),"
    "  state_reason TEXT NOT NULL, created BIGINT NOT NULL, created_by TEXT NOT NULL,"
    "  updated BIGINT NOT NULL, updated_by TEXT NOT NULL, last_seq BIGINT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS deliveries("
    "  id BIGSERIAL PRIMARY KEY,"
    "  integration_id BIGINT NOT NULL REFERENCES integrations(id) ON DELETE CASCADE,"
    "  seq BIGINT NOT NULL, event_id BIGINT NOT NULL REFERENCES events(id),"
    "  msg_id TEXT UNIQUE NOT NULL,"
    "  state TEXT NOT NULL CHECK (state IN ('pending','delivered','failed')),"
    "  attempts INTEGER NOT NULL, next_attempt BIGINT NOT NULL, created BIGINT NOT NULL,"
    "  lease_node TEXT, lease_until BIGINT NOT NULL, UNIQUE (integration_id, seq));"
    "CREATE INDEX IF NOT EXISTS deliveries_waiting ON deliveries(integration_id, seq)"
    "  WHERE state = 'pending';"
    "CREATE INDEX IF NOT EXISTS deliveries_event ON deliveries(event_id);"
    "CREATE TABLE IF NOT EXISTS delivery_attempts("
    "  id BIGSERIAL PRIMARY KEY,"
    "  delivery_id BIGINT NOT NULL REFERENCES deliveries(id) ON DELETE CASCADE,"
    "  time BIGINT NOT NULL, status INTEGER NOT NULL, duration_ms BIGINT NOT NULL,"
    "  error TEXT NOT NULL, outcome TEXT NOT NULL, next_attempt BIGINT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS delivery_attempts_delivery ON delivery_attempts(delivery_id);"
    "CREATE INDEX IF NOT EXISTS delivery_attempts_time ON delivery_attempts(time);";

#define HEAD_OF(col)                                                                       \
	"(SELECT h.id FROM deliveries h WHERE h.integration_id = " col                     \
	" AND h.state = 'pending' ORDER BY h.seq LIMIT 1)"

static void
copy(char *dst, size_t size, const PGresult *res, int row, int col)
{
	snprintf(dst, size, "%s", PQgetisnull(res, row, col) ? "" : PQgetvalue(res, row, col));
}

/* The rows a command changed; -1 when it failed (err filled). */
static int64_t
changes(PGresult *res)
{
	int64_t n;

	if (res == NULL)
		return -1;
	n = strtoll(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return n;
}

static int
fail(struct pg_conn *c)
{
	c->base.queued = 0;
	pg_rollback(c);
	return -1;
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

/* Queues event evid for integration iid as its next seq. In a transaction. */
static int
queue_delivery(struct pg_conn *c, int64_t iid, int64_t evid, int64_t now, int64_t *id,
    struct atr_err *err)
{
	char msg_id[48];
	PGresult *res;

	event_msg_id(msg_id);
	res = pg_query(c, err, "queueing a delivery", 0,
	    "WITH n AS (UPDATE integrations SET last_seq = last_seq + 1 WHERE id = $1"
	    "   RETURNING last_seq)"
	    " INSERT INTO deliveries(integration_id, seq, event_id, msg_id, state, attempts,"
	    "   next_attempt, created, lease_until)"
	    " SELECT $1, n.last_seq, $2, $3, 'pending', 0, $4, $4, 0 FROM n RETURNING id",
	    "iiti", iid, evid, msg_id, now);
	if (res == NULL)
		return -1;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return atr_err_set(err, ATR_E_NOT_FOUND, "the integration was removed meanwhile");
	}
	if (id != NULL)
		*id = pg_int(res, 0, 0);
	PQclear(res);
	c->base.queued++;
	return 0;
}

static int
insert_event(struct pg_conn *c, const char *type, const char *project, const char *data,
    int64_t now, int64_t *evid, struct atr_err *err)
{
	PGresult *res = pg_query(c, err, "writing an event", 0,
	    "INSERT INTO events(type, project, time, data) VALUES ($1, $2, $3, $4) RETURNING id",
	    "ttit", type, project != NULL ? project : "", now, data);

	if (res == NULL)
		return -1;
	*evid = pg_int(res, 0, 0);
	PQclear(res);
	c->base.wrote++;
	return 0;
}

static int
fan_out(struct pg_conn *c, int64_t evid, const char *type, const char *project, int64_t now,
    struct atr_err *err)
{
	PGresult *res = pg_query(c, err, "finding integrations", 0,
	    "SELECT id, events, project FROM integrations WHERE state != 'disabled' ORDER BY id",
	    "");
	int rc = 0;

	if (res == NULL)
		return -1;
	for (int i = 0; rc == 0 && i < PQntuples(res); i++) {
		const char *only = PQgetvalue(res, i, 2);
		if (!event_kinds_match(PQgetvalue(res, i, 1), type) ||
		    (*only != '\0' && (project == NULL || strcmp(only, project) != 0)))
			continue;
		rc = queue_delivery(c, pg_int(res, i, 0), evid, now, NULL, err);
	}
	PQclear(res);
	return rc;
}

int
pg_event_write(struct store_conn *sc, const char *type, const char *project, char *data,
    struct atr_err *err)
{
	int64_t evid, now = atr_now_ms();
	int rc = 0;

	if (data == NULL)
		return atr_err_set(err, ATR_E_NOMEM, NULL);
	if (sc->events &&
	    (insert_event(PGC(sc), type, project, data, now, &evid, err) == -1 ||
		fan_out(PGC(sc), evid, type, project, now, err) == -1))
		rc = -1;
	free(data);
	return rc;
}

int
pg_event_add(struct store_conn *sc, const char *type, const char *project, const char *data,
    int64_t now_ms, struct atr_err *err)
{
	struct pg_conn *c = PGC(sc);
	json_t *o = json_loads(data, 0, NULL);
	int object = json_is_object(o);
	int64_t evid;

	json_decref(o);
	if (!event_type_known(type))
		return atr_err_set(err, ATR_E_BAD_REQUEST, "'%s' is not a kind of event", type);
	if (!object)
		return atr_err_set(err, ATR_E_BAD_REQUEST, "an event's data must be a JSON object");
	if (!sc->events)
		return 0;
	if (pg_begin(c, err) == -1)
		return -1;
	if (insert_event(c, type, project, data, now_ms, &evid, err) == -1 ||
	    fan_out(c, evid, type, project, now_ms, err) == -1 || pg_commit(c, err) == -1)
		return fail(c);
	return 0;
}

int
pg_event_list(struct store_conn *sc, int64_t after, int limit,
    int (*each)(const struct store_event *, void *), void *arg, struct atr_err *err)
{
	PGresult *res = pg_query(PGC(sc), err, "listing events", 0,
	    "SELECT id, type, project, time, data FROM events WHERE id > $1 ORDER BY id"
	    " LIMIT $2",
	    "ii", after, (int64_t)(limit > 0 ? limit : INT32_MAX));
	struct store_event ev;

	if (res == NULL)
		return -1;
	for (int i = 0; i < PQntuples(res); i++) {
		ev.id = pg_int(res, i, 0);
		copy(ev.type, sizeof(ev.type), res, i, 1);
		copy(ev.project, sizeof(ev.project), res, i, 2);
		ev.time = pg_int(res, i, 3);
		ev.data = PQgetvalue(res, i, 4);
		if (each(&ev, arg) != 0)
			break;
	}
	PQclear(res);
	return 0;
}

int
pg_event_last(struct store_conn *sc, int64_t *id, struct atr_err *err)
{
	PGresult *res = pg_query(PGC(sc), err, "reading the last event", 0,
	    "SELECT coalesce(max(id), 0) FROM events", "");

	if (res == NULL)
		return -1;
	*id = pg_int(res, 0, 0);
	PQclear(res);
	return 0;
}

/* ---- integrations */

#define INTEGRATION_COLUMNS                                                                \
	"SELECT i.id, i.name, i.url, i.events, i.project, i.pin, i.ca_pem, i.client_pem,"  \
	" i.allow_plain::int, i.secret, i.old_secret, i.old_secret_until, i.state,"        \
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
dup_cell(const PGresult *res, int row, int col, int *nomem)
{
	char *copy_;

	if (PQgetisnull(res, row, col))
		return NULL;
	if ((copy_ = strdup(PQgetvalue(res, row, col))) == NULL)
		*nomem = 1;
	return copy_;
}

static int
integration_from_row(const PGresult *res, int r, struct store_integration *in)
{
	int nomem = 0;

	memset(in, 0, sizeof(*in));
	in->id = pg_int(res, r, 0);
	copy(in->name, sizeof(in->name), res, r, 1);
	copy(in->url, sizeof(in->url), res, r, 2);
	copy(in->events, sizeof(in->events), res, r, 3);
	copy(in->project, sizeof(in->project), res, r, 4);
	copy(in->pin, sizeof(in->pin), res, r, 5);
	in->ca_pem = dup_cell(res, r, 6, &nomem);
	in->client_pem = dup_cell(res, r, 7, &nomem);
	in->allow_plain = (int)pg_int(res, r, 8);
	copy(in->secret, sizeof(in->secret), res, r, 9);
	copy(in->old_secret, sizeof(in->old_secret), res, r, 10);
	in->old_secret_until = pg_int(res, r, 11);
	copy(in->state, sizeof(in->state), res, r, 12);
	copy(in->state_reason, sizeof(in->state_reason), res, r, 13);
	in->created = pg_int(res, r, 14);
	copy(in->created_by, sizeof(in->created_by), res, r, 15);
	in->updated = pg_int(res, r, 16);
	copy(in->updated_by, sizeof(in->updated_by), res, r, 17);
	in->last_seq = pg_int(res, r, 18);
	in->pending = pg_int(res, r, 19);
	if (nomem) {
		integration_free(in);
		return -1;
	}
	return 0;
}

int
pg_integration_create(struct store_conn *sc, struct store_integration *in, struct atr_err *err)
{
	int64_t now = atr_now_ms();
	PGresult *res;

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
	res = pg_query(PGC(sc), err, "adding an integration", 0,
	    "INSERT INTO integrations(name, url, events, project, pin, ca_pem, client_pem,"
	    " allow_plain, secret, old_secret, old_secret_until, state, state_reason,"
	    " created, created_by, updated, updated_by, last_seq)"
	    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8::int::boolean, $9, $10, $11, $12, $13,"
	    " $14, $15, $16, $17, 0) RETURNING id",
	    "tttttttittittitit", in->name, in->url, in->events, in->project, in->pin,
	    in->ca_pem, in->client_pem, (int64_t)(in->allow_plain != 0), in->secret,
	    in->old_secret, in->old_secret_until, in->state, in->state_reason, in->created,
	    in->created_by, in->updated, in->updated_by);
	if (res == NULL) {
		if (err != NULL && err->code == ATR_E_EXISTS)
			atr_err_set(err, ATR_E_EXISTS, "an integration named '%s' already exists",
			    in->name);
		return -1;
	}
	in->id = pg_int(res, 0, 0);
	PQclear(res);
	in->last_seq = 0;
	in->pending = 0;
	return 0;
}

int
pg_integration_get(struct store_conn *sc, const char *name, struct store_integration *in,
    struct atr_err *err)
{
	PGresult *res = pg_query(PGC(sc), err, "reading an integration", 0,
	    INTEGRATION_COLUMNS " WHERE i.name = $1", "t", name);
	int rc;

	if (res == NULL)
		return -1;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return no_integration(err, name);
	}
	rc = integration_from_row(res, 0, in);
	PQclear(res);
	return rc == 0 ? 0 : atr_err_set(err, ATR_E_NOMEM, NULL);
}

int
pg_integration_list(struct store_conn *sc,
    int (*each)(const struct store_integration *, void *), void *arg, struct atr_err *err)
{
	PGresult *res = pg_query(PGC(sc), err, "listing integrations", 0,
	    INTEGRATION_COLUMNS " ORDER BY i.name", "");
	struct store_integration *in = malloc(sizeof(*in));
	int stop = 0;

	if (res == NULL || in == NULL) {
		PQclear(res);
		free(in);
		return res == NULL ? -1 : atr_err_set(err, ATR_E_NOMEM, NULL);
	}
	for (int i = 0; !stop && i < PQntuples(res); i++) {
		if (integration_from_row(res, i, in) == -1) {
			PQclear(res);
			free(in);
			return atr_err_set(err, ATR_E_NOMEM, NULL);
		}
		stop = each(in, arg) != 0;
		integration_free(in);
	}
	PQclear(res);
	free(in);
	return 0;
}

int
pg_integration_update(struct store_conn *sc, const struct store_integration *in,
    struct atr_err *err)
{
	int64_t n = changes(pg_query(PGC(sc), err, "changing an integration", 0,
	    "UPDATE integrations SET url = $1, events = $2, project = $3, pin = $4, ca_pem = $5,"
	    " client_pem = $6, allow_plain = $7::int::boolean, updated = $8, updated_by = $9"
	    " WHERE name = $10",
	    "ttttttiitt", in->url, in->events, in->project, in->pin, in->ca_pem, in->client_pem,
	    (int64_t)(in->allow_plain != 0), in->updated != 0 ? in->updated : atr_now_ms(),
	    in->updated_by, in->name));

	if (n == -1)
		return -1;
	return n == 0 ? no_integration(err, in->name) : 0;
}

int
pg_integration_set_state(struct store_conn *sc, const char *name, const char *state,
    const char *reason, const char *by, int64_t now_ms, struct atr_err *err)
{
	struct pg_conn *c = PGC(sc);
	int64_t n;

	if (!state_known(state))
		return atr_err_set(err, ATR_E_BAD_REQUEST, "'%s' is not a state of integrations",
		    state);
	if (pg_begin(c, err) == -1)
		return -1;
	n = changes(by != NULL
		? pg_query(c, err, "changing an integration's state", 0,
		      "UPDATE integrations SET state = $1, state_reason = $2, updated = $3,"
		      " updated_by = $4 WHERE name = $5",
		      "ttitt", state, reason != NULL ? reason : "", now_ms, by, name)
		: pg_query(c, err, "changing an integration's state", 0,
		      "UPDATE integrations SET state = $1, state_reason = $2 WHERE name = $3", "ttt",
		      state, reason != NULL ? reason : "", name));
	if (n == -1)
		return fail(c);
	if (n == 0) {
		no_integration(err, name);
		return fail(c);
	}
	if (strcmp(state, "active") == 0) {
		n = changes(pg_query(c, err, "resuming deliveries", 0,
		    "UPDATE deliveries SET next_attempt = $1 WHERE id = " HEAD_OF(
			"(SELECT id FROM integrations WHERE name = $2)"),
		    "it", now_ms, name));
		if (n == -1)
			return fail(c);
		c->base.queued += (int)n;
	}
	if (pg_commit(c, err) == -1)
		return fail(c);
	return 0;
}

int
pg_integration_rotate(struct store_conn *sc, const char *name, const char *secret,
    int64_t old_until_ms, const char *by, int64_t now_ms, struct atr_err *err)
{
	int64_t n = changes(pg_query(PGC(sc), err, "rotating a secret", 0,
	    "UPDATE integrations SET old_secret = secret, old_secret_until = $1, secret = $2,"
	    " updated = $3, updated_by = $4 WHERE name = $5",
	    "ititt", old_until_ms, secret, now_ms, by != NULL ? by : "", name));

	if (n == -1)
		return -1;
	return n == 0 ? no_integration(err, name) : 0;
}

int
pg_integration_delete(struct store_conn *sc, const char *name, struct atr_err *err)
{
	int64_t n = changes(pg_query(PGC(sc), err, "removing an integration", 0,
	    "DELETE FROM integrations WHERE name = $1", "t", name));

	if (n == -1)
		return -1;
	return n == 0 ? no_integration(err, name) : 0;
}

/* ---- deliveries */

int
pg_delivery_due(struct store_conn *sc, int64_t now_ms,
    int (*each)(const struct store_delivery *, void *), void *arg, struct atr_err *err)
{
	PGresult *res = pg_query(PGC(sc), err, "finding due deliveries", 0,
	    "SELECT d.id, d.integration_id, i.name, d.seq, d.msg_id, d.state, d.attempts,"
	    " d.next_attempt, d.created, e.id, e.type, e.project, e.time, e.data"
	    " FROM integrations i JOIN deliveries d ON d.id = " HEAD_OF("i.id")
	    " JOIN events e ON e.id = d.event_id"
	    " WHERE i.state = 'active' AND d.next_attempt <= $1 AND d.lease_until <= $1"
	    " ORDER BY d.next_attempt, d.id",
	    "i", now_ms);
	struct store_delivery d;

	if (res == NULL)
		return -1;
	/* The result is in memory: each() may use the connection. */
	for (int i = 0; i < PQntuples(res); i++) {
		memset(&d, 0, sizeof(d));
		d.id = pg_int(res, i, 0);
		d.integration_id = pg_int(res, i, 1);
		copy(d.integration, sizeof(d.integration), res, i, 2);
		d.seq = pg_int(res, i, 3);
		copy(d.msg_id, sizeof(d.msg_id), res, i, 4);
		copy(d.state, sizeof(d.state), res, i, 5);
		d.attempts = (int)pg_int(res, i, 6);
		d.next_attempt = pg_int(res, i, 7);
		d.created = pg_int(res, i, 8);
		d.event.id = pg_int(res, i, 9);
		copy(d.event.type, sizeof(d.event.type), res, i, 10);
		copy(d.event.project, sizeof(d.event.project), res, i, 11);
		d.event.time = pg_int(res, i, 12);
		d.event.data = PQgetvalue(res, i, 13);
		if (each(&d, arg) != 0)
			break;
	}
	PQclear(res);
	return 0;
}

int
pg_delivery_next_time(struct store_conn *sc, int64_t *when_ms, struct atr_err *err)
{
	PGresult *res = pg_query(PGC(sc), err, "finding the next delivery", 0,
	    "SELECT min(greatest(d.next_attempt, d.lease_until)) FROM integrations i"
	    " JOIN deliveries d ON d.id = " HEAD_OF("i.id") " WHERE i.state = 'active'",
	    "");

	if (res == NULL)
		return -1;
	*when_ms = pg_int(res, 0, 0);
	PQclear(res);
	return 0;
}

int
pg_delivery_claim(struct store_conn *sc, int64_t id, const char *node, int64_t now_ms,
    int64_t lease_until_ms, struct atr_err *err)
{
	/* Conditional on the row as it stands: a concurrent claimer waits for
	 * this row and then re-checks lease_until against the new lease. */
	int64_t n = changes(pg_query(PGC(sc), err, "claiming a delivery", 0,
	    "UPDATE deliveries d SET lease_node = $2, lease_until = $3 WHERE d.id = $1"
	    " AND d.state = 'pending' AND d.next_attempt <= $4 AND d.lease_until <= $4"
	    " AND d.id = " HEAD_OF("d.integration_id")
	    " AND EXISTS (SELECT 1 FROM integrations i WHERE i.id = d.integration_id"
	    "   AND i.state = 'active')",
	    "itii", id, node, lease_until_ms, now_ms));

	if (n == -1)
		return -1;
	return n > 0 ? 1 : 0;
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

int
pg_delivery_finish(struct store_conn *sc, int64_t id, const char *node,
    const struct store_attempt *a, const char *integration_state, const char *reason,
    struct atr_err *err)
{
	struct pg_conn *c = PGC(sc);
	int retry = strcmp(a->outcome, "retry") == 0;
	PGresult *res;
	int64_t iid, n;

	if (!outcome_known(a->outcome) ||
	    (integration_state != NULL && !state_known(integration_state)))
		return atr_err_set(err, ATR_E_INTERNAL, "'%s' is not an outcome of deliveries",
		    a->outcome);
	if (pg_begin(c, err) == -1)
		return -1;
	/* The integration's row first (as every other writer), then the
	 * delivery's, conditional on the lease still being node's. */
	res = pg_query(c, err, "reading a delivery", 0,
	    "SELECT i.id FROM integrations i JOIN deliveries d ON d.integration_id = i.id"
	    " WHERE d.id = $1 FOR UPDATE OF i",
	    "i", id);
	if (res == NULL)
		return fail(c);
	iid = PQntuples(res) == 1 ? pg_int(res, 0, 0) : 0;
	PQclear(res);
	n = iid == 0 ? 0 : changes(pg_query(c, err, "ending a delivery's attempt", 0,
	    "UPDATE deliveries SET state = $1, attempts = attempts + 1,"
	    " next_attempt = CASE WHEN $2::int = 1 THEN $3 ELSE next_attempt END,"
	    " lease_node = NULL, lease_until = 0"
	    " WHERE id = $4 AND state = 'pending' AND lease_node = $5",
	    "tiiit", retry ? "pending" : a->outcome, (int64_t)retry, a->next_attempt, id, node));
	if (n == -1)
		return fail(c);
	if (n == 0) {
		fail(c);
		atr_err_set(err, ATR_E_CONFLICT,
		    "delivery %lld is no longer claimed by %s (its lease ran out and another "
		    "sender took it, or it was removed)",
		    (long long)id, node);
		return 0;
	}
	if (pg_cmd(c, err, "recording an attempt",
		"INSERT INTO delivery_attempts(delivery_id, time, status, duration_ms, error,"
		" outcome, next_attempt) VALUES ($1, $2, $3, $4, $5, $6, $7)",
		"iiiitti", id, a->time, (int64_t)a->status, a->duration_ms, a->error, a->outcome,
		retry ? a->next_attempt : (int64_t)0) == -1)
		return fail(c);
	if (integration_state != NULL &&
	    pg_cmd(c, err, "changing an integration's state",
		"UPDATE integrations SET state = $1, state_reason = $2 WHERE id = $3", "tti",
		integration_state, reason != NULL ? reason : "", iid) == -1)
		return fail(c);
	if (pg_commit(c, err) == -1)
		return fail(c);
	return 1;
}

static int
integration_id(struct pg_conn *c, const char *name, int64_t *id, struct atr_err *err)
{
	PGresult *res = pg_query(c, err, "reading an integration", 0,
	    "SELECT id FROM integrations WHERE name = $1", "t", name);

	if (res == NULL)
		return -1;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return no_integration(err, name);
	}
	*id = pg_int(res, 0, 0);
	PQclear(res);
	return 0;
}

int
pg_delivery_log(struct store_conn *sc, const char *integration, int64_t before, int limit,
    int (*each)(const struct store_attempt *, void *), void *arg, struct atr_err *err)
{
	struct pg_conn *c = PGC(sc);
	struct store_attempt a;
	PGresult *res;
	int64_t iid;

	if (integration_id(c, integration, &iid, err) == -1)
		return -1;
	res = pg_query(c, err, "reading the delivery log", 0,
	    "SELECT a.delivery_id, d.seq, e.type, a.time, a.status, a.duration_ms, a.error,"
	    " a.outcome, a.next_attempt FROM delivery_attempts a"
	    " JOIN deliveries d ON d.id = a.delivery_id JOIN events e ON e.id = d.event_id"
	    " WHERE d.integration_id = $1 AND ($2 = 0 OR a.delivery_id < $2)"
	    " ORDER BY a.delivery_id DESC, a.id DESC LIMIT $3",
	    "iii", iid, before, (int64_t)(limit > 0 ? limit : INT32_MAX));
	if (res == NULL)
		return -1;
	for (int i = 0; i < PQntuples(res); i++) {
		a.delivery_id = pg_int(res, i, 0);
		a.seq = pg_int(res, i, 1);
		copy(a.event_type, sizeof(a.event_type), res, i, 2);
		a.time = pg_int(res, i, 3);
		a.status = (int)pg_int(res, i, 4);
		a.duration_ms = pg_int(res, i, 5);
		copy(a.error, sizeof(a.error), res, i, 6);
		copy(a.outcome, sizeof(a.outcome), res, i, 7);
		a.next_attempt = pg_int(res, i, 8);
		if (each(&a, arg) != 0)
			break;
	}
	PQclear(res);
	return 0;
}

int
pg_delivery_redeliver(struct store_conn *sc, const char *integration, int64_t id, int64_t now_ms,
    struct atr_err *err)
{
	struct pg_conn *c = PGC(sc);
	int64_t iid, n;

	if (integration_id(c, integration, &iid, err) == -1)
		return -1;
	/* A lease in force stays: the sender holding it finishes first. */
	n = changes(pg_query(c, err, "queueing a delivery again", 0,
	    "UPDATE deliveries SET state = 'pending', attempts = 0, next_attempt = $1"
	    " WHERE id = $2 AND integration_id = $3",
	    "iii", now_ms, id, iid));
	if (n == -1)
		return -1;
	if (n == 0)
		return atr_err_set(err, ATR_E_NOT_FOUND, "integration '%s' has no delivery %lld",
		    integration, (long long)id);
	c->base.queued++;
	return 0;
}

int
pg_delivery_add_test(struct store_conn *sc, const char *integration, const char *by,
    int64_t now_ms, int64_t *id, struct atr_err *err)
{
	struct pg_conn *c = PGC(sc);
	char *data = event_data("{s:s, s:s?}", "integration", integration, "requested_by", by);
	int64_t iid, evid;
	int rc = -1;

	if (data == NULL)
		return atr_err_set(err, ATR_E_NOMEM, NULL);
	if (pg_begin(c, err) == -1)
		goto out;
	if (integration_id(c, integration, &iid, err) == -1 ||
	    insert_event(c, "integration.test", NULL, data, now_ms, &evid, err) == -1 ||
	    queue_delivery(c, iid, evid, now_ms, id, err) == -1 || pg_commit(c, err) == -1) {
		fail(c);
		goto out;
	}
	rc = 0;
out:
	free(data);
	return rc;
}

int
pg_event_purge(struct store_conn *sc, int64_t before_ms, struct atr_err *err)
{
	struct pg_conn *c = PGC(sc);

	if (pg_begin(c, err) == -1)
		return -1;
	if (pg_cmd(c, err, "purging the delivery log",
		"DELETE FROM delivery_attempts WHERE time < $1", "i", before_ms) == -1 ||
	    pg_cmd(c, err, "purging deliveries",
		"DELETE FROM deliveries d WHERE d.state != 'pending' AND d.created < $1"
		" AND NOT EXISTS (SELECT 1 FROM delivery_attempts a WHERE a.delivery_id = d.id)",
		"i", before_ms) == -1 ||
	    pg_cmd(c, err, "purging events",
		"DELETE FROM events e WHERE e.time < $1"
		" AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id)",
		"i", before_ms) == -1 ||
	    pg_commit(c, err) == -1)
		return fail(c);
	return 0;
}
