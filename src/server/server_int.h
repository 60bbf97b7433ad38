/*
 * atriumd's internals shared by server.c (loops, listeners, signals) and
 * conn.c (connections and HTTP I/O); requests (req_int.h) do not see them.
 * Transitional: api_admin.c reads struct server until the settings module
 * replaces it.
 *
 * Threads: one event loop per core serves connections; a job pool
 * (jobs.h) runs slow work (password hashing, fsync, blocking database
 * calls); the main thread handles signals, reloads and timers. Work moves
 * between them only as struct job: a loop hands a job to the pool, the
 * pool hands it back through the loop's inbox.
 */
#ifndef ATRIUM_SERVER_INT_H
#define ATRIUM_SERVER_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <event2/event.h>

#include "atrium/config.h"
#include "server/jobs.h"
#include "server/store.h"
#include "server/runtime.h"
#include "server/tlsstate.h"

struct apply_req;
struct evs_hub;
struct evs_loop;
struct conn;
struct loop;
struct server;

struct loop {
	struct server *srv;
	int index;
	pthread_t thread;
	struct event_base *base;
	struct store_conn *sc;  /* for handlers run inline on this loop */
	struct event *accept_ev[LK__COUNT]; /* on the shared listening sockets */
	struct job_inbox inbox; /* finished jobs come back here */
	struct event *drain_timer;
	struct event *sweep;    /* once a second: handshake and header deadlines */
	struct evs_loop *evs;   /* its change streams (evstream.h) */
	struct conn *conns;     /* every open connection, for draining */
	int nconns;
	int draining;
};

#define MAX_LOOPS 256

/* One listening socket per event loop (SO_REUSEPORT): the kernel spreads
 * new connections, and only the loop that gets one wakes up. */
struct listener {
	int fd[MAX_LOOPS]; /* fd[0] == -1: closed */
	int port;
};

struct server {
	char *datadir;
	char *confpath;
	struct atr_config *cfg;       /* effective settings; main thread only */
	struct atr_config *overrides; /* from the command line; main thread only */
	struct runtime rt;            /* what handlers may see (req_runtime) */
	struct loop *loops;
	int nloops;

	struct job_pool *pool;
	int npool;
	struct evs_hub *evs;          /* the change streams' hub (evstream.h) */                    /* its threads (store_threads) */

	struct listener lst[LK__COUNT];
	char bind[256];

	struct event *renew_timer, *ticket_timer;

	/* Reloads asked for by the admin console (server_apply()). */
	struct event *apply_ev;
	pthread_mutex_t apply_mu;
	struct apply_req *apply_head;

	struct event_base *main_base;
};

/* server.c */
/* Re-reads the settings and applies them, as SIGHUP does, and waits for
 * the result: 0, or -1 with nothing changed and err saying why. Called
 * from the job pool; never from an event loop or the main thread. */
int server_apply(struct server *srv, struct atr_err *err);
/* Test hook (fuzz/fuzz_http.c): lets server_apply() work without
 * server_run(); the reloads it asks for run on base, which the caller
 * dispatches. 0, or -1 when out of memory. */
int server_test_apply_on(struct server *srv, struct event_base *base);

/* conn.c */
struct sockaddr;
/* Sets the HTTP parser's process-wide limits; before any connection. */
void conn_http_init(void);
void conn_accept(struct loop *lp, int fd, enum listener_kind kind,
    const struct sockaddr *sa, int salen);
void conn_close_idle(struct loop *lp);
void conn_free_all(struct loop *lp);
/* Drops connections past their handshake or header deadline (loop thread). */
void conn_sweep(struct loop *lp);

#endif
