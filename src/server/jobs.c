/* The job pool and the inboxes jobs return through (jobs.h). */
#include <stdlib.h>

#include "atrium/log.h"
#include "server/jobs.h"

struct job_pool {
	pthread_mutex_t mu;      /* guards everything below */
	pthread_cond_t cv;       /* a job was queued, or stop was set */
	struct job *head, *tail; /* queued, not yet taken */
	int running;             /* taken by a thread, not yet posted back */
	int stop;
	pthread_t *threads;
	int nthreads;
};

static void
inbox_cb(evutil_socket_t fd, short what, void *arg)
{
	struct job_inbox *inbox = arg;
	struct job *j;

	(void)fd;
	(void)what;
	pthread_mutex_lock(&inbox->mu);
	j = inbox->head;
	inbox->head = inbox->tail = NULL;
	pthread_mutex_unlock(&inbox->mu);
	while (j != NULL) {
		struct job *next = j->next; /* done() may free or resubmit j */
		j->done(j);
		j = next;
	}
}

int
job_inbox_init(struct job_inbox *inbox, struct event_base *base)
{
	inbox->head = inbox->tail = NULL;
	pthread_mutex_init(&inbox->mu, NULL);
	/* Activated by hand (event_active), never by a descriptor. */
	if ((inbox->ev = event_new(base, -1, EV_READ | EV_PERSIST, inbox_cb, inbox)) == NULL)
		return -1;
	return event_add(inbox->ev, NULL);
}

void
job_inbox_fini(struct job_inbox *inbox)
{
	if (inbox->ev != NULL)
		event_free(inbox->ev);
	inbox->ev = NULL;
	pthread_mutex_destroy(&inbox->mu);
}

void
job_inbox_post(struct job_inbox *inbox, struct job *j)
{
	j->next = NULL;
	pthread_mutex_lock(&inbox->mu);
	if (inbox->tail != NULL)
		inbox->tail->next = j;
	else
		inbox->head = j;
	inbox->tail = j;
	pthread_mutex_unlock(&inbox->mu);
	event_active(inbox->ev, EV_READ, 0);
}

int
job_inbox_pending(struct job_inbox *inbox)
{
	int pending;

	pthread_mutex_lock(&inbox->mu);
	pending = inbox->head != NULL;
	pthread_mutex_unlock(&inbox->mu);
	return pending;
}

struct job_pool *
job_pool_new(void)
{
	struct job_pool *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	return p;
}

struct pool_arg {
	struct job_pool *p;
	struct store_conn *sc;
};

static void *
pool_main(void *arg)
{
	struct pool_arg *pa = arg;
	struct job_pool *p = pa->p;
	struct store_conn *sc = pa->sc;

	free(pa);
	for (;;) {
		struct job *j;
		pthread_mutex_lock(&p->mu);
		while (p->head == NULL && !p->stop)
			pthread_cond_wait(&p->cv, &p->mu);
		/* Stopping still runs what is queued. */
		if (p->head == NULL) {
			pthread_mutex_unlock(&p->mu);
			break;
		}
		j = p->head;
		p->head = j->next;
		if (p->head == NULL)
			p->tail = NULL;
		p->running++;
		pthread_mutex_unlock(&p->mu);
		if (j->work != NULL)
			j->work(j, sc);
		job_inbox_post(j->inbox, j);
		pthread_mutex_lock(&p->mu);
		p->running--;
		pthread_mutex_unlock(&p->mu);
	}
	store_conn_close(sc);
	return NULL;
}

int
job_pool_start(struct job_pool *p, int nthreads, struct store *st, struct atr_err *err)
{
	pthread_t *threads = realloc(p->threads, sizeof(*threads) * (size_t)(p->nthreads + nthreads));

	if (threads == NULL && nthreads > 0)
		return atr_err_set(err, ATR_E_NOMEM, NULL);
	p->threads = threads;
	for (int i = 0; i < nthreads; i++) {
		struct pool_arg *pa = malloc(sizeof(*pa));
		if (pa == NULL)
			return atr_err_set(err, ATR_E_NOMEM, NULL);
		if ((pa->sc = store_conn_open(st, err)) == NULL) {
			free(pa);
			return -1;
		}
		pa->p = p;
		if (pthread_create(&p->threads[p->nthreads], NULL, pool_main, pa) != 0) {
			store_conn_close(pa->sc);
			free(pa);
			return atr_err_set(err, ATR_E_INTERNAL, "cannot create a thread");
		}
		p->nthreads++;
	}
	return 0;
}

void
job_submit(struct job_pool *p, struct job *j)
{
	j->next = NULL;
	pthread_mutex_lock(&p->mu);
	if (p->tail != NULL)
		p->tail->next = j;
	else
		p->head = j;
	p->tail = j;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

int
job_pool_busy(struct job_pool *p)
{
	int busy;

	pthread_mutex_lock(&p->mu);
	busy = p->head != NULL || p->running > 0;
	pthread_mutex_unlock(&p->mu);
	return busy;
}

void
job_pool_stop(struct job_pool *p)
{
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (int i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	p->nthreads = 0;
}

void
job_pool_free(struct job_pool *p)
{
	if (p == NULL)
		return;
	job_pool_stop(p); /* nothing to join when already stopped */
	free(p->threads);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p);
}
