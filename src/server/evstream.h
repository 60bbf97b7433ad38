/*
 * Live change streams (GET /api/v1/events): the hub that reads new events
 * once and hands them to every watcher, and the watchers, one per open
 * stream, each living on the event loop of its connection.
 *
 * One hub per server runs a thread with a store connection of its own.
 * The store's change hook (store_set_change_hook) wakes it after every
 * commit that wrote events; with a blocking store (PostgreSQL, shared by
 * several nodes) it also polls every events_poll_ms while anyone watches.
 * Each wakeup reads what is new once (store_event_list after the last id
 * it saw) and posts one shared, reference-counted batch to every loop's
 * inbox; the loop writes it to its watchers that may see it. A watcher
 * that resumes (Last-Event-ID) first reads what it missed on the job pool
 * and then joins the live batches without a gap or a double.
 *
 * Calls go one way: server.c and conn.c call this module; it calls the
 * store and jobs.c, and reaches a connection only through the callback
 * and bufferevent it was given.
 */
#ifndef ATRIUM_SERVER_EVSTREAM_H
#define ATRIUM_SERVER_EVSTREAM_H

#include <stdint.h>

#include <event2/bufferevent.h>

#include "atrium/err.h"
#include "server/jobs.h"
#include "server/runtime.h"
#include "server/store.h"

struct evs_hub;
struct evs_loop;
struct evs_watcher;

/* A stream's wishes, from the request (api_events.c sets them). */
struct evs_want {
	char project[STORE_NAME_MAX + 1]; /* "" for every project */
	int64_t after;                    /* resume after this id; -1: from now */
	int admin;                        /* the caller is an admin (sees user.*, ...) */
};

/* A hub for st, reading on its own thread; rt gives its settings
 * (events_poll_ms, events_max_watchers, integration_log_days) and
 * counters. NULL with err set. Sets the store's change hook. */
struct evs_hub *evs_hub_start(struct runtime *rt, struct atr_err *err);
/* Stops the thread and removes the hook; batches already posted stay
 * with the loops. Before the loops drain. NULL-safe. */
void evs_hub_stop(struct evs_hub *h);
/* Frees a stopped hub, after the loops it served are freed. NULL-safe. */
void evs_hub_free(struct evs_hub *h);

/* One loop's side: its watchers. inbox: the loop's; pool: where resumes
 * read. NULL when out of memory. On the loop's thread from then on. */
struct evs_loop *evs_loop_new(struct evs_hub *h, struct job_inbox *inbox,
    struct job_pool *pool);
/* Frees the loop's side once its connections are gone and the job pool
 * has stopped (catch-up reads still queued for it are freed). NULL-safe. */
void evs_loop_free(struct evs_loop *l);
/* Once a second, from the loop's sweep: heartbeats. */
void evs_loop_tick(struct evs_loop *l);

/* How a watcher gives its connection back: end(ctx, abort) when the
 * stream ends from the server's side (abort: its client stopped reading,
 * drop it; else flush and close). The watcher is gone when it is called. */
typedef void (*evs_end_fn)(void *ctx, int abort);

/*
 * A new watcher on l writing to bev (whose response headers are sent),
 * or NULL when events_max_watchers are open (or out of memory): answer
 * 503. The owner removes it with evs_watch_remove() when the client goes.
 */
struct evs_watcher *evs_watch_add(struct evs_loop *l, struct bufferevent *bev,
    const struct evs_want *want, evs_end_fn end, void *ctx);
/* Detaches w from its connection and frees it (later, if a resume read
 * is still running). */
void evs_watch_remove(struct evs_watcher *w);

#endif
