/*
 * Live change streams: the hub and its watchers (evstream.h).
 *
 * Positions: the hub remembers the last event id it read (last). A
 * watcher writes only events with an id above its own position, so a
 * batch that overlaps what it already wrote is harmless. A watcher that
 * starts (from now, or resuming after an id) first reads on the job pool
 * until nothing is left ("catching up"); meanwhile it notes the highest id
 * of the batches that reached it (seen_max). It goes live only when
 * neither the hub nor those batches are past its position; otherwise it
 * reads again. Every batch read after it registered reaches its loop, so
 * nothing between its catch-up and the live batches is lost.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <jansson.h>

#include "atrium/log.h"
#include "atrium/util.h"
#include "server/evstream.h"

#define HUB_PAGE 256        /* events per hub read */
#define REPLAY_PAGE 500     /* events per catch-up read */
#define OUT_MAX (1 << 20)   /* a watcher with this much unsent is dropped */
#define HOLE_MS 5000        /* how long a missing id may be a transaction still committing */

struct frame {
	int64_t id;
	char type[STORE_EVENT_TYPE_MAX + 1];
	char project[STORE_NAME_MAX + 1];
	char *text; /* "id: N\nevent: T\ndata: {...}\n\n" */
	size_t len;
};

/* One read of the hub, shared by every loop it is posted to. */
struct batch {
	atomic_int refs;
	int n;
	int64_t max_id;
	struct frame f[HUB_PAGE];
};

struct post {
	struct job job; /* first member */
	struct batch *b;
	struct evs_loop *l;
};

struct evs_hub {
	struct runtime *rt;
	struct store_conn *sc;
	pthread_t thread;
	int started;
	pthread_mutex_t mu; /* guards kicked, stop, loops and watcher registration */
	pthread_cond_t cv;
	int kicked, stop;
	_Atomic int64_t last;  /* every event up to here is read (and posted) */
	int64_t hole, hole_seen; /* PostgreSQL: the first missing id after last, when seen */
	atomic_int nwatchers;
	struct evs_loop **loops;
	int nloops, cap;
};

struct evs_loop {
	struct evs_hub *h;
	struct job_inbox *inbox;
	struct job_pool *pool;
	struct evs_watcher *head;
	/* Removed while a catch-up read was out: freed when it comes back,
	 * or by evs_loop_free() when the loop stopped before it could. */
	struct evs_watcher *zombies;
};

struct catchup {
	struct job job; /* first member */
	struct evs_watcher *w;
	struct evbuffer *out;
	int64_t pos;    /* in: read after this; out: the last id read */
	int first;      /* the watcher's first read: where to start, gap */
	int more;       /* a full page came: read again */
	int failed;
	int64_t horizon; /* ms: events older than this may have been purged */
	int64_t limit;   /* read no further than the hub's position (gap-free) */
	int hit_limit;
};

struct evs_watcher {
	struct evs_loop *l;
	struct evs_watcher *prev, *next;
	struct bufferevent *bev;
	struct evs_want want;
	int64_t pos;      /* the last id written (or skipped) */
	int64_t seen_max; /* highest id of batches seen while catching up */
	int live;
	int pending;      /* a catch-up job is out */
	int dead;         /* removed while pending: the job frees it */
	int64_t last_write;
	evs_end_fn end;
	void *ctx;
	struct catchup cu;
};

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Who sees what, until per-project roles exist: everyone every project's
 * events; only admins the server's own (users, certificates, integrations). */
static int
visible(const struct evs_want *w, const char *type, const char *project)
{
	static const char *const admin_only[] = {"user.", "certificate.", "integration."};

	if (w->project[0] != '\0' && strcmp(w->project, project) != 0)
		return 0;
	for (size_t i = 0; i < sizeof(admin_only) / sizeof(admin_only[0]); i++)
		if (strncmp(type, admin_only[i], strlen(admin_only[i])) == 0)
			return w->admin;
	return 1;
}

/* The stream's text of one event; malloc'd, NULL when data is not JSON. */
static char *
frame_text(const struct store_event *ev, size_t *len)
{
	json_t *d = json_loads(ev->data, 0, NULL), *doc;
	time_t secs = (time_t)(ev->time / 1000);
	char stamp[80], *json, *text = NULL;
	struct tm tm;
	int n;

	if (d == NULL || gmtime_r(&secs, &tm) == NULL) {
		json_decref(d);
		return NULL;
	}
	snprintf(stamp, sizeof(stamp), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
	    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ev->time % 1000));
	doc = json_pack("{s:I, s:s, s:s?, s:s, s:o}", "id", (json_int_t)ev->id, "type", ev->type,
	    "project", ev->project[0] != '\0' ? ev->project : NULL, "time", stamp, "data", d);
	if (doc == NULL)
		return NULL;
	/* Compact JSON has no line breaks: one data line. */
	json = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(doc);
	if (json == NULL)
		return NULL;
	n = asprintf(&text, "id: %lld\nevent: %s\ndata: %s\n\n", (long long)ev->id, ev->type, json);
	free(json);
	if (n < 0)
		return NULL;
	*len = (size_t)n;
	return text;
}

/* ---- watchers, on their loop */

static void
watcher_free(struct evs_watcher *w)
{
	if (w->cu.out != NULL)
		evbuffer_free(w->cu.out);
	free(w);
}

static void
list_remove(struct evs_watcher **head, struct evs_watcher *w)
{
	if (w->prev != NULL)
		w->prev->next = w->next;
	else
		*head = w->next;
	if (w->next != NULL)
		w->next->prev = w->prev;
	w->prev = w->next = NULL;
}

static void
list_push(struct evs_watcher **head, struct evs_watcher *w)
{
	w->prev = NULL;
	w->next = *head;
	if (*head != NULL)
		(*head)->prev = w;
	*head = w;
}

/* Takes w off its loop; frees it unless a job still holds it. */
static void
watcher_unlink(struct evs_watcher *w)
{
	struct evs_loop *l = w->l;

	list_remove(&l->head, w);
	w->bev = NULL;
	atomic_fetch_sub(&l->h->nwatchers, 1);
	atomic_fetch_sub(&l->h->rt->event_watchers, 1);
	if (w->pending) {
		w->dead = 1;
		list_push(&l->zombies, w);
	} else {
		watcher_free(w);
	}
}

/* The server ends w's stream: gives the connection back to its owner. */
static void
watcher_end(struct evs_watcher *w, int abort)
{
	evs_end_fn end = w->end;
	void *ctx = w->ctx;

	watcher_unlink(w);
	end(ctx, abort);
}

/* After writing to w: drop a client that stopped reading (it resumes with
 * Last-Event-ID when it comes back). 1 when w is gone. */
static int
check_backlog(struct evs_watcher *w)
{
	if (evbuffer_get_length(bufferevent_get_output(w->bev)) <= OUT_MAX)
		return 0;
	atr_debug("dropping an event stream whose client stopped reading");
	watcher_end(w, 1);
	return 1;
}

static int
collect(const struct store_event *ev, void *arg)
{
	struct catchup *cu = arg;
	char *text;
	size_t len;

	if (ev->id > cu->limit) {
		cu->hit_limit = 1;
		return 1;
	}
	cu->pos = ev->id;
	cu->more++;
	if (!visible(&cu->w->want, ev->type, ev->project))
		return 0;
	if ((text = frame_text(ev, &len)) == NULL)
		return 0;
	evbuffer_add(cu->out, text, len);
	free(text);
	return 0;
}

/* Whether event id exists and is younger than the horizon. */
struct probe {
	int64_t id;
	int found;
	int64_t time;
};

static int
probe_one(const struct store_event *ev, void *arg)
{
	struct probe *p = arg;

	if (ev->id == p->id) {
		p->found = 1;
		p->time = ev->time;
	}
	return 1;
}

static void
catchup_work(struct job *j, struct store_conn *sc)
{
	struct catchup *cu = (struct catchup *)j;
	struct atr_err err;
	int64_t lastid = 0;

	cu->more = 0;
	cu->failed = 0;
	cu->hit_limit = 0;
	if (cu->first && cu->pos < 0) {
		/* From now on. */
		if (store_event_last(sc, &cu->pos, &err) == -1)
			goto fail;
		return;
	}
	if (cu->first && cu->pos > 0) {
		struct probe p = {cu->pos, 0, 0};
		if (store_event_list(sc, cu->pos - 1, 1, probe_one, &p, &err) == -1 ||
		    store_event_last(sc, &lastid, &err) == -1)
			goto fail;
		if (!p.found || p.time < cu->horizon) {
			/* Its event is gone or past the bound: what came after it may
			 * be purged too. Say so; go on with what is kept. */
			evbuffer_add_printf(cu->out,
			    "event: gap\ndata: {\"after\":%lld,\"reason\":\"events after %lld may no "
			    "longer be kept (integration_log_days)\"}\n\n",
			    (long long)cu->pos, (long long)cu->pos);
			if (cu->pos > lastid)
				cu->pos = lastid; /* an id this store never wrote */
		}
	}
	if (store_event_list(sc, cu->pos, REPLAY_PAGE, collect, cu, &err) == -1)
		goto fail;
	cu->more = cu->more == REPLAY_PAGE && !cu->hit_limit;
	/* Everything up to the hub's position has been seen. */
	if (!cu->more && cu->pos < cu->limit)
		cu->pos = cu->limit;
	return;
fail:
	atr_warn("reading events for a change stream failed: %s", atr_err_msg(&err));
	cu->failed = 1;
}

static void catchup_submit(struct evs_watcher *w, int first);

static void
catchup_done(struct job *j)
{
	struct catchup *cu = (struct catchup *)j;
	struct evs_watcher *w = cu->w;
	int64_t hub_last;

	w->pending = 0;
	if (w->dead) {
		list_remove(&w->l->zombies, w);
		watcher_free(w);
		return;
	}
	if (cu->failed) {
		watcher_end(w, 0);
		return;
	}
	if (evbuffer_get_length(cu->out) > 0) {
		evbuffer_add_buffer(bufferevent_get_output(w->bev), cu->out);
		w->last_write = mono_ms();
		if (check_backlog(w))
			return;
	}
	w->pos = cu->pos;
	hub_last = atomic_load(&w->l->h->last);
	if (cu->more || hub_last > w->pos || w->seen_max > w->pos) {
		catchup_submit(w, 0);
		return;
	}
	w->live = 1;
}

static void
catchup_submit(struct evs_watcher *w, int first)
{
	int days = atomic_load(&w->l->h->rt->integration_log_days);

	w->cu.job.work = catchup_work;
	w->cu.job.done = catchup_done;
	w->cu.job.inbox = w->l->inbox;
	w->cu.w = w;
	w->cu.pos = w->pos;
	w->cu.first = first;
	w->cu.horizon = atr_now_ms() - (int64_t)days * 86400000;
	w->cu.limit = atomic_load(&w->l->h->last);
	w->pending = 1;
	job_submit(w->l->pool, &w->cu.job);
}

struct evs_watcher *
evs_watch_add(struct evs_loop *l, struct bufferevent *bev, const struct evs_want *want,
    evs_end_fn end, void *ctx)
{
	struct evs_hub *h = l->h;
	struct evs_watcher *w;
	int max = atomic_load(&h->rt->events_max_watchers);

	pthread_mutex_lock(&h->mu);
	if (atomic_load(&h->nwatchers) >= max) {
		pthread_mutex_unlock(&h->mu);
		return NULL;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL || (w->cu.out = evbuffer_new()) == NULL) {
		pthread_mutex_unlock(&h->mu);
		free(w);
		return NULL;
	}
	atomic_fetch_add(&h->nwatchers, 1);
	atomic_fetch_add(&h->rt->event_watchers, 1);
	h->kicked = 1; /* a blocking store: start polling */
	pthread_cond_signal(&h->cv);
	pthread_mutex_unlock(&h->mu);
	w->l = l;
	w->bev = bev;
	w->want = *want;
	w->pos = want->after;
	w->end = end;
	w->ctx = ctx;
	w->last_write = mono_ms();
	list_push(&l->head, w);
	catchup_submit(w, 1);
	return w;
}

void
evs_watch_remove(struct evs_watcher *w)
{
	if (w != NULL)
		watcher_unlink(w);
}

/* ---- batches, on the loops */

static void
batch_unref(struct batch *b)
{
	if (atomic_fetch_sub(&b->refs, 1) != 1)
		return;
	for (int i = 0; i < b->n; i++)
		free(b->f[i].text);
	free(b);
}

static void
post_done(struct job *j)
{
	struct post *p = (struct post *)j;
	struct batch *b = p->b;
	struct evs_watcher *w, *next;
	int64_t now = mono_ms();

	for (w = p->l->head; w != NULL; w = next) {
		int wrote = 0;
		next = w->next;
		if (!w->live) {
			if (b->max_id > w->seen_max)
				w->seen_max = b->max_id;
			continue;
		}
		for (int i = 0; i < b->n; i++) {
			const struct frame *f = &b->f[i];
			if (f->id <= w->pos || !visible(&w->want, f->type, f->project))
				continue;
			evbuffer_add(bufferevent_get_output(w->bev), f->text, f->len);
			wrote = 1;
		}
		if (b->max_id > w->pos)
			w->pos = b->max_id;
		if (wrote) {
			w->last_write = now;
			check_backlog(w);
		}
	}
	batch_unref(b);
	free(p);
}

void
evs_loop_tick(struct evs_loop *l)
{
	int64_t now = mono_ms(), every;
	struct evs_watcher *w;

	if (l == NULL)
		return;
	every = 1000 * (int64_t)atomic_load(&l->h->rt->events_heartbeat);
	for (w = l->head; w != NULL; w = w->next) {
		if (now - w->last_write < every)
			continue;
		evbuffer_add(bufferevent_get_output(w->bev), ": keep-alive\n\n", 14);
		w->last_write = now;
	}
}

struct evs_loop *
evs_loop_new(struct evs_hub *h, struct job_inbox *inbox, struct job_pool *pool)
{
	struct evs_loop *l = calloc(1, sizeof(*l));

	if (l == NULL)
		return NULL;
	l->h = h;
	l->inbox = inbox;
	l->pool = pool;
	pthread_mutex_lock(&h->mu);
	if (h->nloops == h->cap) {
		int ncap = h->cap ? h->cap * 2 : 8;
		struct evs_loop **bigger = realloc(h->loops, (size_t)ncap * sizeof(*bigger));
		if (bigger == NULL) {
			pthread_mutex_unlock(&h->mu);
			free(l);
			return NULL;
		}
		h->loops = bigger;
		h->cap = ncap;
	}
	h->loops[h->nloops++] = l;
	pthread_mutex_unlock(&h->mu);
	return l;
}

void
evs_loop_free(struct evs_loop *l)
{
	struct evs_hub *h;

	if (l == NULL)
		return;
	h = l->h;
	while (l->head != NULL)
		watcher_unlink(l->head);
	/* The pool has stopped: no catch-up read is still out. */
	while (l->zombies != NULL) {
		struct evs_watcher *w = l->zombies;
		list_remove(&l->zombies, w);
		watcher_free(w);
	}
	pthread_mutex_lock(&h->mu);
	for (int i = 0; i < h->nloops; i++)
		if (h->loops[i] == l) {
			h->loops[i] = h->loops[--h->nloops];
			break;
		}
	pthread_mutex_unlock(&h->mu);
	free(l);
}

/* ---- the hub's thread */

static void
kick(void *arg)
{
	struct evs_hub *h = arg;

	pthread_mutex_lock(&h->mu);
	h->kicked = 1;
	pthread_cond_signal(&h->cv);
	pthread_mutex_unlock(&h->mu);
}

struct reading {
	struct evs_hub *h;
	struct batch *b;
	int64_t prev;  /* the last id taken (or read past) */
	int holes;     /* ids may commit out of order (PostgreSQL) */
	int stopped;   /* at a hole that may still fill */
	int rows;      /* taken */
};

/*
 * PostgreSQL draws event ids from a sequence, so a transaction can commit
 * after one with a larger id: reading "after the last id" would then skip
 * it for good. So a reading stops before a missing id and waits for it,
 * for HOLE_MS from when the hub first saw it missing; after that the id
 * is taken to be one a rolled-back transaction used, and skipped. Events
 * behind a hole wait (they come with the next poll); nothing is missed
 * unless a transaction takes longer than HOLE_MS from its event to its
 * commit. SQLite serializes writers and never leaves a hole.
 */
static int
gather(const struct store_event *ev, void *arg)
{
	struct reading *rd = arg;
	struct batch *b = rd->b;
	struct frame *f = &b->f[b->n];

	if (rd->holes && ev->id != rd->prev + 1) {
		int64_t now = mono_ms();
		if (rd->h->hole != rd->prev + 1) {
			rd->h->hole = rd->prev + 1;
			rd->h->hole_seen = now;
		}
		if (now - rd->h->hole_seen < HOLE_MS) {
			rd->stopped = 1;
			return 1;
		}
		atr_debug("change streams: event ids %lld to %lld never committed; going on",
		    (long long)(rd->prev + 1), (long long)(ev->id - 1));
	}
	rd->h->hole = 0;
	rd->prev = ev->id;
	rd->rows++;
	b->max_id = ev->id;
	if ((f->text = frame_text(ev, &f->len)) == NULL)
		return 0; /* unreadable data: skipped, as integrations do */
	f->id = ev->id;
	snprintf(f->type, sizeof(f->type), "%s", ev->type);
	snprintf(f->project, sizeof(f->project), "%s", ev->project);
	b->n++;
	return 0;
}

/* Reads what is new and posts it to every loop; 0, or -1 after a failed
 * read (tried again on the next wakeup). */
static int
hub_read(struct evs_hub *h)
{
	struct atr_err err;

	for (;;) {
		struct batch *b = calloc(1, sizeof(*b));
		int64_t from = atomic_load(&h->last);
		struct reading rd = {h, b, from, store_is_blocking(h->rt->store), 0, 0};
		if (b == NULL)
			return -1;
		if (store_event_list(h->sc, from, HUB_PAGE, gather, &rd, &err) == -1) {
			atr_warn("reading new events for the change streams failed: %s",
			    atr_err_msg(&err));
			free(b);
			return -1;
		}
		if (b->max_id == 0) {
			free(b);
			return 0;
		}
		pthread_mutex_lock(&h->mu);
		atomic_store(&b->refs, h->nloops + 1);
		for (int i = 0; i < h->nloops; i++) {
			struct post *p = malloc(sizeof(*p));
			if (p == NULL) {
				atomic_fetch_sub(&b->refs, 1);
				continue;
			}
			p->job.work = NULL;
			p->job.done = post_done;
			p->job.inbox = h->loops[i]->inbox;
			p->b = b;
			p->l = h->loops[i];
			job_inbox_post(p->job.inbox, &p->job);
		}
		pthread_mutex_unlock(&h->mu);
		/* After the posts: a watcher that sees this is caught up. */
		atomic_store(&h->last, b->max_id);
		{
			int full = rd.rows == HUB_PAGE && !rd.stopped;
			batch_unref(b);
			if (!full)
				return 0;
		}
	}
}

static void *
hub_main(void *arg)
{
	struct evs_hub *h = arg;
	int blocking = store_is_blocking(h->rt->store);

	pthread_mutex_lock(&h->mu);
	for (;;) {
		while (!h->stop && !h->kicked) {
			int ms = atomic_load(&h->rt->events_poll_ms);
			if (blocking && atomic_load(&h->nwatchers) > 0) {
				/* Other nodes commit too: poll while anyone watches. */
				struct timespec ts;
				clock_gettime(CLOCK_REALTIME, &ts);
				ts.tv_sec += ms / 1000;
				ts.tv_nsec += (long)(ms % 1000) * 1000000L;
				if (ts.tv_nsec >= 1000000000L) {
					ts.tv_sec++;
					ts.tv_nsec -= 1000000000L;
				}
				if (pthread_cond_timedwait(&h->cv, &h->mu, &ts) != 0)
					break;
			} else {
				pthread_cond_wait(&h->cv, &h->mu);
			}
		}
		if (h->stop)
			break;
		h->kicked = 0;
		if (atomic_load(&h->nwatchers) == 0) {
			/* Nobody watches: skip to the newest id, without a read per
			 * event. Checked again under the lock: a watcher registering
			 * meanwhile keeps the position, so it misses nothing. */
			int64_t lastid;
			struct atr_err err;
			pthread_mutex_unlock(&h->mu);
			if (store_event_last(h->sc, &lastid, &err) == -1)
				lastid = -1;
			pthread_mutex_lock(&h->mu);
			if (lastid >= 0 && atomic_load(&h->nwatchers) == 0) {
				atomic_store(&h->last, lastid);
				h->hole = 0;
			}
			continue;
		}
		pthread_mutex_unlock(&h->mu);
		hub_read(h);
		pthread_mutex_lock(&h->mu);
	}
	pthread_mutex_unlock(&h->mu);
	return NULL;
}

struct evs_hub *
evs_hub_start(struct runtime *rt, struct atr_err *err)
{
	struct evs_hub *h = calloc(1, sizeof(*h));
	int64_t lastid = 0;

	if (h == NULL) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		return NULL;
	}
	h->rt = rt;
	pthread_mutex_init(&h->mu, NULL);
	pthread_cond_init(&h->cv, NULL);
	if ((h->sc = store_conn_open(rt->store, err)) == NULL ||
	    store_event_last(h->sc, &lastid, err) == -1)
		goto fail;
	atomic_store(&h->last, lastid);
	if (pthread_create(&h->thread, NULL, hub_main, h) != 0) {
		atr_err_set(err, ATR_E_INTERNAL, "cannot start the change streams' thread");
		goto fail;
	}
	h->started = 1;
	store_set_change_hook(rt->store, kick, h);
	return h;
fail:
	store_conn_close(h->sc);
	pthread_mutex_destroy(&h->mu);
	pthread_cond_destroy(&h->cv);
	free(h);
	return NULL;
}

void
evs_hub_stop(struct evs_hub *h)
{
	if (h == NULL || !h->started)
		return;
	store_set_change_hook(h->rt->store, NULL, NULL);
	pthread_mutex_lock(&h->mu);
	h->stop = 1;
	pthread_cond_signal(&h->cv);
	pthread_mutex_unlock(&h->mu);
	pthread_join(h->thread, NULL);
	h->started = 0;
	store_conn_close(h->sc);
	h->sc = NULL;
}

void
evs_hub_free(struct evs_hub *h)
{
	if (h == NULL)
		return;
	evs_hub_stop(h);
	pthread_mutex_destroy(&h->mu);
	pthread_cond_destroy(&h->cv);
	free(h->loops);
	free(h);
}
