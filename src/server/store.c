/* The store's calls, dispatched to the configured backend (store_int.h). */
#include <stdlib.h>
#include <string.h>

#include "atrium/util.h"
#include "server/store_int.h"

/* Calls the event hook when the call that just returned rc committed
 * deliveries (the backend counted them in sc->queued), and the change hook
 * when it committed events (sc->wrote). */
static int
after(struct store_conn *sc, int rc)
{
	int queued = sc->queued, wrote = sc->wrote;

	sc->queued = 0;
	sc->wrote = 0;
	if (rc != -1 && queued > 0 && sc->st->event_hook != NULL)
		sc->st->event_hook(sc->st->event_hook_arg);
	if (rc != -1 && wrote > 0 && sc->st->change_hook != NULL)
		sc->st->change_hook(sc->st->change_hook_arg);
	return rc;
}

struct store *
store_open(const struct atr_config *cfg, const char *datadir, struct atr_err *err)
{
	const char *db = atr_config_str(cfg, "database");

	if (strcmp(db, "sqlite") == 0)
		return store_sqlite_open(cfg, datadir, err);
	if (strncmp(db, "postgresql://", 13) == 0 || strncmp(db, "postgres://", 11) == 0)
		return store_pg_open(cfg, datadir, err);
	/* Not echoed: a URL may carry a password. */
	atr_err_set(err, ATR_E_CONFIG,
	    "database must be sqlite or a postgresql://USER@HOST:PORT/DBNAME URL");
	return NULL;
}

void
store_close(struct store *st)
{
	if (st == NULL)
		return;
	st->ops->close(st);
}

int
store_is_blocking(const struct store *st)
{
	return st->ops->blocking;
}

const char *
store_describe(const struct store *st)
{
	return st->ops->describe(st);
}

struct store_conn *
store_conn_open(struct store *st, struct atr_err *err)
{
	struct store_conn *sc = st->ops->conn_open(st, err);

	if (sc != NULL) {
		sc->events = 1;
		sc->queued = 0;
		sc->wrote = 0;
	}
	return sc;
}

void
store_conn_close(struct store_conn *sc)
{
	if (sc == NULL)
		return;
	sc->st->ops->conn_close(sc);
}

int
store_user_count(struct store_conn *sc, int64_t *count, struct atr_err *err)
{
	return sc->st->ops->user_count(sc, count, err);
}

int
store_user_create(struct store_conn *sc, const char *name, const char *hash, const char *role,
    const char *by, struct atr_err *err)
{
	return after(sc, sc->st->ops->user_create(sc, name, hash, role, by, err));
}

int
store_user_get(struct store_conn *sc, const char *name, struct store_user *u, char *hash, size_t hashlen, struct atr_err *err)
{
	return sc->st->ops->user_get(sc, name, u, hash, hashlen, err);
}

int
store_user_list(struct store_conn *sc, int (*each)(const struct store_user *, void *), void *arg, struct atr_err *err)
{
	return sc->st->ops->user_list(sc, each, arg, err);
}

int
store_user_delete(struct store_conn *sc, const char *name, const char *by, struct atr_err *err)
{
	return after(sc, sc->st->ops->user_delete(sc, name, by, err));
}

int
store_user_set_password(struct store_conn *sc, const char *name, const char *hash, const char *keep_token_hash, struct atr_err *err)
{
	return sc->st->ops->user_set_password(sc, name, hash, keep_token_hash, err);
}

int
store_user_set_role(struct store_conn *sc, const char *name, const char *role, struct atr_err *err)
{
	return sc->st->ops->user_set_role(sc, name, role, err);
}

int
store_user_get_profile(struct store_conn *sc, const char *name, struct store_user_profile *p,
    struct atr_err *err)
{
	return sc->st->ops->user_get_profile(sc, name, p, err);
}

int
store_user_sync_directory(struct store_conn *sc, const char *name, const char *role,
    const char *display_name, const char *email, int64_t now, int *created,
    struct atr_err *err)
{
	return after(sc, sc->st->ops->user_sync_directory(sc, name, role, display_name, email, now,
	    created, err));
}

int
store_session_create(struct store_conn *sc, const char *token_hash, const char *user, int64_t expires, struct atr_err *err)
{
	return sc->st->ops->session_create(sc, token_hash, user, expires, err);
}

int
store_session_lookup(struct store_conn *sc, const char *token_hash, int64_t now, struct store_user *u, struct atr_err *err)
{
	return sc->st->ops->session_lookup(sc, token_hash, now, u, err);
}

int
store_session_delete(struct store_conn *sc, const char *token_hash, struct atr_err *err)
{
	return sc->st->ops->session_delete(sc, token_hash, err);
}

int
store_session_purge(struct store_conn *sc, int64_t now, struct atr_err *err)
{
	return sc->st->ops->session_purge(sc, now, err);
}

int
store_project_create(struct store_conn *sc, const char *name, const char *description, const char *created_by, int64_t now, struct atr_err *err)
{
	return after(sc, sc->st->ops->project_create(sc, name, description, created_by, now, err));
}

int
store_project_get(struct store_conn *sc, const char *name, struct store_project *p, struct atr_err *err)
{
	return sc->st->ops->project_get(sc, name, p, err);
}

int
store_project_list(struct store_conn *sc, int (*each)(const struct store_project *, void *), void *arg, struct atr_err *err)
{
	return sc->st->ops->project_list(sc, each, arg, err);
}

int
store_project_delete(struct store_conn *sc, const char *name, const char *by, struct atr_err *err)
{
	return after(sc, sc->st->ops->project_delete(sc, name, by, err));
}

int
store_revision_list(struct store_conn *sc, const char *project, int (*each)(const struct store_revision *, void *), void *arg, struct atr_err *err)
{
	return sc->st->ops->revision_list(sc, project, each, arg, err);
}

int
store_revision_get(struct store_conn *sc, const char *project, int64_t number, struct store_revision *r, struct atr_err *err)
{
	return sc->st->ops->revision_get(sc, project, number, r, err);
}

int
store_revision_commit(struct store_conn *sc, const char *project, int64_t base, const char *author, const char *message, int64_t now, int64_t size, const char *sha256, struct store_revision *head, struct atr_err *err)
{
	return after(sc, sc->st->ops->revision_commit(sc, project, base, author, message, now, size,
	    sha256, head, err));
}

int
store_lock_acquire(struct store_conn *sc, const char *project, const char *element, const char *user, int64_t now, struct store_lock *held, struct atr_err *err)
{
	return after(sc, sc->st->ops->lock_acquire(sc, project, element, user, now, held, err));
}

int
store_lock_release(struct store_conn *sc, const char *project, const char *element, const char *user, int force, struct atr_err *err)
{
	return after(sc, sc->st->ops->lock_release(sc, project, element, user, force, err));
}

int
store_lock_list(struct store_conn *sc, const char *project, int (*each)(const struct store_lock *, void *), void *arg, struct atr_err *err)
{
	return sc->st->ops->lock_list(sc, project, each, arg, err);
}

struct store_blob_writer *
store_blob_writer_new(struct store *st, struct atr_err *err)
{
	return st->ops->blob_writer_new(st, err);
}

int
store_blob_write(struct store_blob_writer *w, struct store_conn *sc, const void *buf, size_t len, struct atr_err *err)
{
	return w->st->ops->blob_write(w, sc, buf, len, err);
}

int64_t
store_blob_written(const struct store_blob_writer *w)
{
	return w->st->ops->blob_written(w);
}

int
store_blob_finish(struct store_blob_writer *w, struct store_conn *sc, char *sha256, struct atr_err *err)
{
	return w->st->ops->blob_finish(w, sc, sha256, err);
}

void
store_blob_abort(struct store_blob_writer *w)
{
	if (w == NULL)
		return;
	w->st->ops->blob_abort(w);
}

struct store_blob_reader *
store_blob_reader_open(struct store_conn *sc, const char *sha256, int64_t size, struct atr_err *err)
{
	return sc->st->ops->blob_reader_open(sc, sha256, size, err);
}

int
store_blob_reader_fd(const struct store_blob_reader *rd)
{
	return rd->st->ops->blob_reader_fd(rd);
}

int64_t
store_blob_read(struct store_blob_reader *rd, struct store_conn *sc, void *buf, size_t n, int64_t off, struct atr_err *err)
{
	return rd->st->ops->blob_read(rd, sc, buf, n, off, err);
}

void
store_blob_reader_close(struct store_blob_reader *rd)
{
	if (rd == NULL)
		return;
	rd->st->ops->blob_reader_close(rd);
}

/* ---- events, integrations, deliveries */


void
store_set_event_hook(struct store *st, void (*hook)(void *arg), void *arg)
{
	st->event_hook_arg = arg;
	st->event_hook = hook;
}

void
store_set_change_hook(struct store *st, void (*hook)(void *arg), void *arg)
{
	st->change_hook_arg = arg;
	st->change_hook = hook;
}

int
store_event_last(struct store_conn *sc, int64_t *id, struct atr_err *err)
{
	return sc->st->ops->event_last(sc, id, err);
}

void
store_conn_set_events(struct store_conn *sc, int on)
{
	sc->events = on != 0;
}

int
store_event_add(struct store_conn *sc, const char *type, const char *project, const char *data,
    int64_t now_ms, struct atr_err *err)
{
	return after(sc, sc->st->ops->event_add(sc, type, project, data, now_ms, err));
}

int
store_event_list(struct store_conn *sc, int64_t after_id, int limit,
    int (*each)(const struct store_event *, void *), void *arg, struct atr_err *err)
{
	return sc->st->ops->event_list(sc, after_id, limit, each, arg, err);
}

void
store_integration_clear(struct store_integration *in)
{
	if (in == NULL)
		return;
	free(in->ca_pem);
	in->ca_pem = NULL;
	if (in->client_pem != NULL)
		atr_free_secret(in->client_pem);
	in->client_pem = NULL;
	atr_wipe(in->secret, sizeof(in->secret));
	atr_wipe(in->old_secret, sizeof(in->old_secret));
}

int
store_integration_create(struct store_conn *sc, struct store_integration *in, struct atr_err *err)
{
	return sc->st->ops->integration_create(sc, in, err);
}

int
store_integration_get(struct store_conn *sc, const char *name, struct store_integration *in,
    struct atr_err *err)
{
	return sc->st->ops->integration_get(sc, name, in, err);
}

int
store_integration_list(struct store_conn *sc,
    int (*each)(const struct store_integration *, void *), void *arg, struct atr_err *err)
{
	return sc->st->ops->integration_list(sc, each, arg, err);
}

int
store_integration_update(struct store_conn *sc, const struct store_integration *in,
    struct atr_err *err)
{
	return sc->st->ops->integration_update(sc, in, err);
}

int
store_integration_set_state(struct store_conn *sc, const char *name, const char *state,
    const char *reason, const char *by, int64_t now_ms, struct atr_err *err)
{
	return after(sc, sc->st->ops->integration_set_state(sc, name, state, reason, by, now_ms,
	    err));
}

int
store_integration_rotate(struct store_conn *sc, const char *name, const char *secret,
    int64_t old_until_ms, const char *by, int64_t now_ms, struct atr_err *err)
{
	return sc->st->ops->integration_rotate(sc, name, secret, old_until_ms, by, now_ms, err);
}

int
store_integration_delete(struct store_conn *sc, const char *name, struct atr_err *err)
{
	return sc->st->ops->integration_delete(sc, name, err);
}

int
store_delivery_due(struct store_conn *sc, int64_t now_ms,
    int (*each)(const struct store_delivery *, void *), void *arg, struct atr_err *err)
{
	return sc->st->ops->delivery_due(sc, now_ms, each, arg, err);
}

int
store_delivery_next_time(struct store_conn *sc, int64_t *when_ms, struct atr_err *err)
{
	return sc->st->ops->delivery_next_time(sc, when_ms, err);
}

int
store_delivery_claim(struct store_conn *sc, int64_t id, const char *node, int64_t now_ms,
    int64_t lease_until_ms, struct atr_err *err)
{
	return sc->st->ops->delivery_claim(sc, id, node, now_ms, lease_until_ms, err);
}

int
store_delivery_finish(struct store_conn *sc, int64_t id, const char *node,
    const struct store_attempt *a, const char *integration_state, const char *reason,
    struct atr_err *err)
{
	return sc->st->ops->delivery_finish(sc, id, node, a, integration_state, reason, err);
}

int
store_delivery_log(struct store_conn *sc, const char *integration, int64_t before, int limit,
    int (*each)(const struct store_attempt *, void *), void *arg, struct atr_err *err)
{
	return sc->st->ops->delivery_log(sc, integration, before, limit, each, arg, err);
}

int
store_delivery_redeliver(struct store_conn *sc, const char *integration, int64_t id,
    int64_t now_ms, struct atr_err *err)
{
	return after(sc, sc->st->ops->delivery_redeliver(sc, integration, id, now_ms, err));
}

int
store_delivery_add_test(struct store_conn *sc, const char *integration, const char *by,
    int64_t now_ms, int64_t *id, struct atr_err *err)
{
	return after(sc, sc->st->ops->delivery_add_test(sc, integration, by, now_ms, id, err));
}

int
store_event_purge(struct store_conn *sc, int64_t before_ms, struct atr_err *err)
{
	return sc->st->ops->event_purge(sc, before_ms, err);
}

/* ---- chunked content: backends without it say so */

static int
no_chunks(const struct store_conn *sc, struct atr_err *err)
{
	return atr_err_set(err, ATR_E_NOT_SUPPORTED,
	    "chunked content is not yet on %s; send the whole file", sc->st->ops->name);
}

int
store_chunk_missing(struct store_conn *sc, const char (*shas)[65], int n, unsigned char *missing,
    struct atr_err *err)
{
	if (sc->st->ops->chunk_missing == NULL)
		return no_chunks(sc, err);
	return sc->st->ops->chunk_missing(sc, shas, n, missing, err);
}

int
store_chunk_put(struct store_conn *sc, const char *sha256, const void *data, size_t len,
    int zstd, struct atr_err *err)
{
	if (sc->st->ops->chunk_put == NULL)
		return no_chunks(sc, err);
	return sc->st->ops->chunk_put(sc, sha256, data, len, zstd, err);
}

int
store_content_create(struct store_conn *sc, const char *sha256, int64_t size,
    const struct store_chunk_ref *chunks, int n, unsigned char *missing, int *created,
    struct atr_err *err)
{
	if (sc->st->ops->content_create == NULL)
		return no_chunks(sc, err);
	return sc->st->ops->content_create(sc, sha256, size, chunks, n, missing, created, err);
}

int
store_content_hold(struct store_conn *sc, const char *sha256, int64_t *size, struct atr_err *err)
{
	if (sc->st->ops->content_hold == NULL)
		return no_chunks(sc, err);
	return sc->st->ops->content_hold(sc, sha256, size, err);
}

int
store_content_manifest(struct store_conn *sc, const char *sha256,
    struct store_chunk_ref **chunks, int *n, struct atr_err *err)
{
	if (sc->st->ops->content_manifest == NULL)
		return no_chunks(sc, err);
	return sc->st->ops->content_manifest(sc, sha256, chunks, n, err);
}

int
store_chunk_get(struct store_conn *sc, const char *project, const char *sha256,
    int accept_zstd, unsigned char **data, size_t *len, int *zstd, struct atr_err *err)
{
	if (sc->st->ops->chunk_get == NULL)
		return no_chunks(sc, err);
	return sc->st->ops->chunk_get(sc, project, sha256, accept_zstd, data, len, zstd, err);
}
