/*
 * The job pool: threads that run slow work (password hashing, fsync,
 * blocking database calls), each with a store connection of its own, and
 * the inboxes through which finished jobs go back to the thread that
 * submitted them. It knows nothing of event loops or the server: a job
 * names the inbox its done() runs from, and an inbox is a mutex, a list
 * and a libevent event on the base of whoever drains it.
 */
#ifndef ATRIUM_SERVER_JOBS_H
#define ATRIUM_SERVER_JOBS_H

#include <pthread.h>

#include <event2/event.h>

#include "atrium/err.h"
#include "server/store.h"

struct job_inbox;
struct job_pool;

/* A unit of work: work() runs on a pool thread (if set) with that thread's
 * store connection, then done() runs from inbox, on the thread that drains
 * it. Owned by whoever embeds it; the pool only links it. */
struct job {
	void (*work)(struct job *j, struct store_conn *sc);
	void (*done)(struct job *j);
	struct job_inbox *inbox;
	struct job *next;
};

/* Where finished jobs wait for their owner's thread. Embedded by the owner
 * (one per event loop); its fields are jobs.c's. */
struct job_inbox {
	pthread_mutex_t mu;      /* guards head and tail */
	struct job *head, *tail;
	struct event *ev;        /* on the owner's base: drains the list */
};

/* Sets up inbox on base: done() of the jobs posted to it then runs inside
 * that base's dispatch. 0, or -1 when out of memory (nothing to undo but
 * job_inbox_fini, which is safe after a failure). */
int job_inbox_init(struct job_inbox *inbox, struct event_base *base);
/* Frees the event and the mutex; jobs still in the list are not run. */
void job_inbox_fini(struct job_inbox *inbox);
/* Queues j for its done() on inbox's thread. Any thread. */
void job_inbox_post(struct job_inbox *inbox, struct job *j);
/* Whether jobs wait in inbox (for test harnesses that run the base). */
int job_inbox_pending(struct job_inbox *inbox);

/* A pool without threads; NULL when out of memory. */
struct job_pool *job_pool_new(void);
/* Starts nthreads threads, each with a store connection opened here (on
 * the calling thread) from st. 0, or -1 with err set; threads already
 * started keep running until job_pool_stop(). */
int job_pool_start(struct job_pool *p, int nthreads, struct store *st, struct atr_err *err);
/* Queues j; a pool thread runs j->work, then posts j to j->inbox. Any
 * thread. */
void job_submit(struct job_pool *p, struct job *j);
/* Whether a job is queued or running (not yet posted back). */
int job_pool_busy(struct job_pool *p);
/* Lets the threads finish every queued job, then joins them; each closes
 * its store connection. Call once the submitters are gone. */
void job_pool_stop(struct job_pool *p);
/* Frees a stopped (or never started) pool. NULL-safe. */
void job_pool_free(struct job_pool *p);

#endif
