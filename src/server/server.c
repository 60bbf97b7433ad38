/*
 * Threads and sockets. The main thread binds the listening sockets, owns
 * the settings and handles signals; each event loop accepts from the
 * shared sockets and serves its own connections; the job pool runs slow
 * work. A reload (SIGHUP) builds the new settings and sockets completely
 * before switching, so a bad file or a port in use changes nothing.
 */
#include <errno.h>
#include <malloc.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <netinet/in.h>

#include <event2/event.h>
#include <event2/thread.h>
#include <http_parser.h>

#include "atrium/log.h"
#include "atrium/tls.h"
#include "atrium/util.h"
#include "server/bootstrap.h"
#include "server/datadir.h"
#include "server/deliver.h"
#include "server/evstream.h"
#include "server/server.h"
#include "server/server_int.h"
#include "server/notify.h"
#include "server/directory.h"
#include "server/outbound.h"
#include "server/settings.h"
#include "server/truststore.h"
#include "version.h"

#define DRAIN_SECONDS 20
#define ACCEPTS_PER_WAKEUP 16

static const char *const kind_names[LK__COUNT] = {"plain", "tls", "admin"};
/* The setting of each listener's port: the field of an error about it. */
static const char *const kind_keys[LK__COUNT] = {"port", "tls_port", "admin_port"};

/* ---- event loops */

static void
accept_resume(evutil_socket_t fd, short what, void *arg)
{
	struct loop *lp = arg;

	(void)fd;
	(void)what;
	for (int k = 0; k < LK__COUNT && !lp->draining; k++)
		if (lp->accept_ev[k] != NULL)
			event_add(lp->accept_ev[k], NULL);
}

/* Out of file descriptors: the listening socket stays readable, so stop
 * watching it for a second instead of spinning (and logging) on it. */
static void
accept_pause(struct loop *lp)
{
	static _Atomic int64_t last_warned;
	int64_t now = atr_now_ms(), then = atomic_load(&last_warned);
	struct timeval second = {1, 0};

	if (now - then >= 10000 && atomic_compare_exchange_strong(&last_warned, &then, now))
		atr_warn("cannot accept connections: %s (%d open); raise the open files limit "
			 "(ulimit -n, LimitNOFILE=) or lower max_connections",
		    strerror(errno), atomic_load(&lp->srv->rt.open_conns));
	for (int k = 0; k < LK__COUNT; k++)
		if (lp->accept_ev[k] != NULL)
			event_del(lp->accept_ev[k]);
	event_base_once(lp->base, -1, EV_TIMEOUT, accept_resume, lp, &second);
}

static void
accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct loop *lp = arg;
	enum listener_kind kind = LK__COUNT;

	(void)what;
	for (int k = 0; k < LK__COUNT; k++)
		if (lp->srv->lst[k].fd[0] != -1 && lp->srv->lst[k].fd[lp->index] == lfd)
			kind = (enum listener_kind)k;
	/* A few per wakeup, so that connections already open get their turn. */
	for (int i = 0; i < ACCEPTS_PER_WAKEUP; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EMFILE || errno == ENFILE)
				accept_pause(lp);
			break;
		}
		if (kind == LK__COUNT) {
			close(fd); /* the socket was just replaced */
			continue;
		}
		conn_accept(lp, fd, kind, (struct sockaddr *)&ss, (int)sl);
	}
}

/* Makes this loop accept on the server's current sockets (loop thread). */
static void
loop_listen(struct loop *lp)
{
	for (int k = 0; k < LK__COUNT; k++) {
		int fd = lp->srv->lst[k].fd[0] == -1 ? -1 : lp->srv->lst[k].fd[lp->index];
		if (lp->accept_ev[k] != NULL) {
			if (event_get_fd(lp->accept_ev[k]) == fd && !lp->draining)
				continue;
			event_free(lp->accept_ev[k]);
			lp->accept_ev[k] = NULL;
		}
		if (fd == -1 || lp->draining)
			continue;
		lp->accept_ev[k] = event_new(lp->base, fd, EV_READ | EV_PERSIST, accept_cb, lp);
		if (lp->accept_ev[k] != NULL)
			event_add(lp->accept_ev[k], NULL);
	}
}

static void
sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	conn_sweep(arg);
	evs_loop_tick(((struct loop *)arg)->evs);
}

static void *
loop_main(void *arg)
{
	struct loop *lp = arg;

	loop_listen(lp);
	event_base_dispatch(lp->base);
	return NULL;
}

/* A message to every loop, waited for: done() runs on each loop. */
struct broadcast {
	struct job job;
	struct loop *lp;
	pthread_mutex_t *mu;
	pthread_cond_t *cv;
	int *pending;
	void (*fn)(struct loop *lp);
};

static void
broadcast_done(struct job *j)
{
	struct broadcast *b = (struct broadcast *)j;

	b->fn(b->lp);
	pthread_mutex_lock(b->mu);
	if (--*b->pending == 0)
		pthread_cond_signal(b->cv);
	pthread_mutex_unlock(b->mu);
}

static void
broadcast(struct server *srv, void (*fn)(struct loop *lp))
{
	pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
	int pending = srv->nloops;
	struct broadcast *msgs = calloc((size_t)srv->nloops, sizeof(*msgs));

	if (msgs == NULL) {
		atr_error("out of memory while reconfiguring the event loops");
		return;
	}
	for (int i = 0; i < srv->nloops; i++) {
		msgs[i].job.done = broadcast_done;
		msgs[i].job.inbox = &srv->loops[i].inbox;
		msgs[i].lp = &srv->loops[i];
		msgs[i].mu = &mu;
		msgs[i].cv = &cv;
		msgs[i].pending = &pending;
		msgs[i].fn = fn;
		job_inbox_post(&srv->loops[i].inbox, &msgs[i].job);
	}
	pthread_mutex_lock(&mu);
	while (pending > 0)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	free(msgs);
}

/* ---- listening sockets */

static int
in_use(struct atr_err *err, const char *addr, int port)
{
	return atr_err_set(err, ATR_E_CONFIG,
	    "cannot listen on %s port %d: the port is already in use by another program "
	    "(another atriumd?); stop it or choose another port",
	    addr, port);
}

static void
close_set(int *fds, int n)
{
	for (int i = 0; i < n; i++) {
		if (fds[i] != -1)
			close(fds[i]);
		fds[i] = -1;
	}
}

/*
 * Binds n listening sockets to addr:port with SO_REUSEPORT, one per loop.
 * A first bind without SO_REUSEPORT checks that nobody holds the port:
 * another program's socket, even one with SO_REUSEPORT, makes it fail, so
 * two servers never silently share a port. On failure fds hold -1s.
 */
static int
bind_listeners(const char *addr, int port, int n, int *fds, struct atr_err *err)
{
	struct addrinfo hints, *res = NULL;
	char portstr[16];
	int probe, one = 1, rc;

	for (int i = 0; i < n; i++)
		fds[i] = -1;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(portstr, sizeof(portstr), "%d", port);
	if ((rc = getaddrinfo(addr, portstr, &hints, &res)) != 0)
		return atr_err_set(err, ATR_E_CONFIG, "cannot listen on %s: %s; check `bind`", addr,
		    gai_strerror(rc));
	if ((probe = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		atr_err_set(err, ATR_E_IO, "cannot create a socket: %s", strerror(errno));
		goto fail;
	}
	setsockopt(probe, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	rc = bind(probe, res->ai_addr, res->ai_addrlen);
	close(probe);
	if (rc == -1) {
		if (errno == EADDRINUSE)
			in_use(err, addr, port);
		else
			atr_err_set(err, ATR_E_CONFIG, "cannot listen on %s port %d: %s", addr, port,
			    strerror(errno));
		goto fail;
	}
	for (int i = 0; i < n; i++) {
		fds[i] = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fds[i] == -1) {
			atr_err_set(err, ATR_E_IO, "cannot create a socket: %s", strerror(errno));
			goto fail;
		}
		setsockopt(fds[i], SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		setsockopt(fds[i], SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
		if (bind(fds[i], res->ai_addr, res->ai_addrlen) == -1 || listen(fds[i], 1024) == -1) {
			if (errno == EADDRINUSE)
				in_use(err, addr, port);
			else
				atr_err_set(err, ATR_E_CONFIG, "cannot listen on %s port %d: %s", addr,
				    port, strerror(errno));
			goto fail;
		}
	}
	freeaddrinfo(res);
	return 0;
fail:
	close_set(fds, n);
	freeaddrinfo(res);
	return -1;
}

/* Which listeners cfg asks for: port, or 0 for none. */
static void
wanted_ports(const struct atr_config *cfg, int ports[LK__COUNT])
{
	ports[LK_PLAIN] = atr_config_bool(cfg, "plain") ? (int)atr_config_int(cfg, "port") : 0;
	ports[LK_TLS] = atr_config_bool(cfg, "tls") ? (int)atr_config_int(cfg, "tls_port") : 0;
	ports[LK_ADMIN] = atr_config_bool(cfg, "admin") ? (int)atr_config_int(cfg, "admin_port") : 0;
}

/* Binds what cfg asks for that is not already bound. On failure nothing
 * changes and every newfds[k][0] is -1. */
static int
bind_wanted(struct server *srv, const struct atr_config *cfg, int newfds[LK__COUNT][MAX_LOOPS],
    struct atr_err *err)
{
	int ports[LK__COUNT];
	const char *addr = atr_config_str(cfg, "bind");
	int same_addr = strcmp(addr, srv->bind) == 0;

	wanted_ports(cfg, ports);
	for (int k = 0; k < LK__COUNT; k++) {
		newfds[k][0] = -1;
		for (int j = 0; j < k; j++) {
			if (ports[k] != 0 && ports[j] == ports[k]) {
				atr_err_set(err, ATR_E_CONFIG,
				    "the %s and %s listeners cannot share port %d", kind_names[j],
				    kind_names[k], ports[k]);
				return atr_err_set_field(err, kind_keys[k]);
			}
		}
	}
	for (int k = 0; k < LK__COUNT; k++) {
		if (ports[k] == 0 || (same_addr && srv->lst[k].port == ports[k]))
			continue;
		if (bind_listeners(addr, ports[k], srv->nloops, newfds[k], err) == -1) {
			atr_err_set_field(err, kind_keys[k]);
			goto fail;
		}
	}
	return 0;
fail:
	for (int k = 0; k < LK__COUNT; k++)
		if (newfds[k][0] != -1)
			close_set(newfds[k], srv->nloops);
	return -1;
}

/* Installs newfds (from bind_wanted) and closes what cfg no longer wants. */
static void
switch_listeners(struct server *srv, const struct atr_config *cfg,
    int newfds[LK__COUNT][MAX_LOOPS])
{
	int ports[LK__COUNT], changed = 0;
	static int oldfds[LK__COUNT][MAX_LOOPS]; /* main thread only */

	wanted_ports(cfg, ports);
	for (int k = 0; k < LK__COUNT; k++) {
		oldfds[k][0] = -1;
		if (newfds[k][0] != -1 || (ports[k] == 0 && srv->lst[k].fd[0] != -1)) {
			memcpy(oldfds[k], srv->lst[k].fd, sizeof(oldfds[k]));
			if (newfds[k][0] != -1)
				memcpy(srv->lst[k].fd, newfds[k], sizeof(int) * (size_t)srv->nloops);
			else
				srv->lst[k].fd[0] = -1;
			srv->lst[k].port = newfds[k][0] != -1 ? ports[k] : 0;
			atomic_store(&srv->rt.ports[k], srv->lst[k].port);
			changed = 1;
			if (newfds[k][0] != -1)
				atr_info("listening on %s port %d (%s)", atr_config_str(cfg, "bind"),
				    ports[k], kind_names[k]);
			else
				atr_info("closed the %s port", kind_names[k]);
		}
	}
	snprintf(srv->bind, sizeof(srv->bind), "%s", atr_config_str(cfg, "bind"));
	if (changed && srv->loops != NULL && srv->loops[0].thread != 0)
		broadcast(srv, loop_listen);
	for (int k = 0; k < LK__COUNT; k++)
		if (oldfds[k][0] != -1)
			close_set(oldfds[k], srv->nloops);
}

/* ---- settings */

char *
server_confpath(const char *datadir, const char *config)
{
	char *path = NULL;

	if (config != NULL)
		return strdup(config);
	if (asprintf(&path, "%s/atrium.conf", datadir) < 0)
		return NULL;
	return path;
}

/* Why the defaults could not be written to path, and what to do. */
static void
explain_unwritable(const char *path, struct atr_err *err)
{
	char dir[4200], *slash;
	struct stat st;

	snprintf(dir, sizeof(dir), "%s", path);
	if ((slash = strrchr(dir, '/')) == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	if (stat(dir, &st) == -1)
		atr_err_set(err, ATR_E_CONFIG,
		    "the settings file %s does not exist, and atriumd cannot write the defaults "
		    "there: the directory %s does not exist (%s); create it, or give --config a "
		    "file in an existing directory",
		    path, dir, strerror(errno));
	else if (access(dir, W_OK) == -1)
		atr_err_set(err, ATR_E_CONFIG,
		    "the settings file %s does not exist, and atriumd cannot write the defaults "
		    "there: the directory %s is not writable by atriumd (uid %ld); create the file "
		    "yourself (atriumd --print-defaults > %s) or make the directory writable",
		    path, dir, (long)geteuid(), path);
}

struct atr_config *
server_load_config(const char *confpath, const struct atr_config *overrides,
    enum conf_missing missing, struct atr_err *err)
{
	struct atr_config *cfg = atr_config_new();

	if (cfg == NULL) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		return NULL;
	}
	if (atr_config_load_file(cfg, confpath, err) == -1) {
		if (err->code != ATR_E_NOT_FOUND || missing == CONF_REQUIRED)
			goto fail;
		if (missing == CONF_WRITE_DEFAULTS) {
			if (atr_config_write_defaults(confpath, err) == -1) {
				explain_unwritable(confpath, err);
				goto fail;
			}
			atr_info("wrote the default settings to %s", confpath);
		}
	}
	if (atr_config_load_env(cfg, err) == -1 ||
	    (overrides != NULL && atr_config_merge(cfg, overrides, err) == -1) ||
	    outbound_check_allow(atr_config_str(cfg, "outbound_allow"), err) == -1 ||
	    directory_check_config(cfg, err) == -1)
		goto fail;
	{
		int64_t ms[INTEGRATION_RETRIES_MAX];
		int n;
		if (deliver_schedule_parse(atr_config_str(cfg, "integration_retries"), ms,
			INTEGRATION_RETRIES_MAX, &n, err) == -1)
			goto fail;
	}
	return cfg;
fail:
	atr_config_free(cfg);
	return NULL;
}

static void
apply_settings(struct server *srv, const struct atr_config *cfg)
{
	enum atr_log_level level = ATR_LOG_INFO;
	struct atr_err oerr;

	atr_log_parse_level(atr_config_str(cfg, "log_level"), &level);
	atr_log_set_level(level);
	atomic_store(&srv->rt.max_revision_size, atr_config_int(cfg, "max_revision_size"));
	atomic_store(&srv->rt.idle_timeout, (int)atr_config_int(cfg, "idle_timeout"));
	atomic_store(&srv->rt.header_timeout, (int)atr_config_int(cfg, "header_timeout"));
	atomic_store(&srv->rt.handshake_timeout, (int)atr_config_int(cfg, "handshake_timeout"));
	atomic_store(&srv->rt.upload_stall_timeout, (int)atr_config_int(cfg, "upload_stall_timeout"));
	atomic_store(&srv->rt.login_attempts, (int)atr_config_int(cfg, "login_attempts"));
	atomic_store(&srv->rt.password_login, atr_config_bool(cfg, "password_login"));
	atomic_store(&srv->rt.session_hours, (int)atr_config_int(cfg, "session_hours"));
	atomic_store(&srv->rt.max_connections, (int)atr_config_int(cfg, "max_connections"));
	atomic_store(&srv->rt.events_heartbeat, (int)atr_config_int(cfg, "events_heartbeat"));
	atomic_store(&srv->rt.events_max_watchers, (int)atr_config_int(cfg, "events_max_watchers"));
	atomic_store(&srv->rt.events_poll_ms, (int)atr_config_int(cfg, "events_poll_ms"));
	{
		int64_t ms[INTEGRATION_RETRIES_MAX];
		int n = 0;
		/* Checked when the settings were read. */
		if (deliver_schedule_parse(atr_config_str(cfg, "integration_retries"), ms,
			INTEGRATION_RETRIES_MAX, &n, &oerr) == 0) {
			for (int i = 0; i < n; i++)
				atomic_store(&srv->rt.integration_retries[i], ms[i]);
			atomic_store(&srv->rt.integration_nretries, n);
		}
	}
	atomic_store(&srv->rt.integration_timeout, (int)atr_config_int(cfg, "integration_timeout"));
	atomic_store(&srv->rt.integration_response_max,
	    atr_config_int(cfg, "integration_response_max"));
	atomic_store(&srv->rt.integration_log_days, (int)atr_config_int(cfg, "integration_log_days"));
	if (srv->rt.trust != NULL)
		truststore_set_system_roots(srv->rt.trust, atr_config_bool(cfg, "outbound_system_roots"));
	if (srv->rt.outbound != NULL &&
	    outbound_set_allow(srv->rt.outbound, atr_config_str(cfg, "outbound_allow"), &oerr) == -1)
		atr_error("outbound_allow kept as it was: %s", atr_err_msg(&oerr));
	if (srv->rt.directory != NULL &&
	    directory_configure(srv->rt.directory, cfg, &oerr) == -1)
		atr_error("directory settings kept as they were: %s", atr_err_msg(&oerr));
	{
		struct rlimit rl;
		int64_t want = atr_config_int(cfg, "max_connections") + 64;
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
		    (rlim_t)want > rl.rlim_cur)
			atr_warn("max_connections = %lld needs about %lld open files, but the limit "
				 "is %llu: raise it (ulimit -n, LimitNOFILE=) or lower max_connections",
			    (long long)(want - 64), (long long)want, (unsigned long long)rl.rlim_cur);
	}
}

static void
log_exposure(const struct atr_config *cfg)
{
	const char *bind = atr_config_str(cfg, "bind");

	if (strcmp(bind, "127.0.0.1") == 0 || strcmp(bind, "::1") == 0 ||
	    strcmp(bind, "localhost") == 0)
		atr_info("bind = %s: only this machine can connect; to open the server to the "
			 "network set `bind = 0.0.0.0` in atrium.conf (or --bind 0.0.0.0)",
		    bind);
	else
		atr_info("bind = %s: the server is reachable from the network", bind);
	if (atr_config_bool(cfg, "plain"))
		atr_warn("the plain port %lld is open: passwords and models cross it unencrypted; "
			 "once clients use TLS (port %lld), set `plain = off` in atrium.conf and "
			 "send SIGHUP to close it",
		    (long long)atr_config_int(cfg, "port"), (long long)atr_config_int(cfg, "tls_port"));
	if (!atr_config_bool(cfg, "plain") && !atr_config_bool(cfg, "tls"))
		atr_warn("both `plain` and `tls` are off: no client can connect");
}

/* Re-reads the settings and applies them, all or nothing. Main thread. */
static int
server_reload(struct server *srv, struct atr_err *err)
{
	struct atr_config *cfg;
	static int newfds[LK__COUNT][MAX_LOOPS]; /* main thread only */

	if ((cfg = server_load_config(srv->confpath, srv->overrides, CONF_REQUIRED, err)) == NULL)
		return -1;
	if (tls_state_load(srv->rt.tls, cfg, err) == -1) {
		atr_err_prefix(err, "TLS (still serving the certificate in use)");
		atr_config_free(cfg);
		return -1;
	}
	if (bind_wanted(srv, cfg, newfds, err) == -1) {
		/* The certificate may have changed already; put the old settings'
		 * certificate back so that nothing changed. */
		struct atr_err ignored;
		tls_state_load(srv->rt.tls, srv->cfg, &ignored);
		atr_config_free(cfg);
		return -1;
	}
	switch_listeners(srv, cfg, newfds);
	apply_settings(srv, cfg);
	atr_config_free(srv->cfg);
	srv->cfg = cfg;
	return 0;
}

/* Tells systemd (Type=notify) how the server is doing; a failure to tell
 * it is logged, never fatal: the server serves either way. */
static void
tell_manager(int (*say)(struct atr_err *))
{
	struct atr_err err;

	if (say(&err) == -1)
		atr_warn("could not tell the service manager: %s", atr_err_msg(&err));
}

static void
reload(struct server *srv)
{
	struct atr_err err;

	atr_err_clear(&err);
	atr_info("SIGHUP: reloading settings from %s", srv->confpath);
	tell_manager(notify_reloading);
	if (server_reload(srv, &err) == -1)
		atr_error("reload failed, nothing changed: %s", atr_err_msg(&err));
	else
		atr_info("reload done");
	/* Failed or not, the server serves again (the old settings on failure). */
	tell_manager(notify_ready);
}

/* A reload asked for by another thread (the admin console), waited for. */
struct apply_req {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int done, rc;
	struct atr_err err;
	struct apply_req *next;
};

static void
apply_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	struct apply_req *q;

	(void)fd;
	(void)what;
	pthread_mutex_lock(&srv->apply_mu);
	q = srv->apply_head;
	srv->apply_head = NULL;
	pthread_mutex_unlock(&srv->apply_mu);
	while (q != NULL) {
		struct apply_req *next = q->next;
		atr_err_clear(&q->err);
		q->rc = server_reload(srv, &q->err);
		pthread_mutex_lock(&q->mu);
		q->done = 1;
		pthread_cond_signal(&q->cv);
		pthread_mutex_unlock(&q->mu);
		q = next;
	}
}

int
server_apply(struct server *srv, struct atr_err *err)
{
	struct apply_req q;

	memset(&q, 0, sizeof(q));
	pthread_mutex_init(&q.mu, NULL);
	pthread_cond_init(&q.cv, NULL);
	pthread_mutex_lock(&srv->apply_mu);
	q.next = srv->apply_head;
	srv->apply_head = &q;
	pthread_mutex_unlock(&srv->apply_mu);
	event_active(srv->apply_ev, EV_READ, 0);
	pthread_mutex_lock(&q.mu);
	while (!q.done)
		pthread_cond_wait(&q.cv, &q.mu);
	pthread_mutex_unlock(&q.mu);
	pthread_mutex_destroy(&q.mu);
	pthread_cond_destroy(&q.cv);
	if (q.rc == -1 && err != NULL)
		*err = q.err;
	return q.rc;
}

/* settings.c's way to apply a written atrium.conf. */
static int
apply_conf(void *arg, struct atr_err *err)
{
	return server_apply(arg, err);
}

int
server_test_apply_on(struct server *srv, struct event_base *base)
{
	if ((srv->apply_ev = event_new(base, -1, EV_READ | EV_PERSIST, apply_cb, srv)) == NULL)
		return -1;
	return event_add(srv->apply_ev, NULL);
}

/* ---- lifecycle */

/* Every connection is a descriptor: take the hard limit, not the
 * usual soft 1024. */
static void
raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			atr_debug("cannot raise the open files limit: %s", strerror(errno));
	}
}

static int
lock_datadir(const char *datadir, struct atr_err *err)
{
	char path[4200], pid[32];
	int fd;

	snprintf(path, sizeof(path), "%s/atriumd.lock", datadir);
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1)
		return atr_err_set(err, ATR_E_IO, "cannot open %s: %s", path, strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		ssize_t n = read(fd, pid, sizeof(pid) - 1);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		close(fd);
		return atr_err_set(err, ATR_E_CONFIG,
		    "another atriumd (pid %s) is already serving %s; stop it first",
		    pid[0] ? pid : "?", datadir);
	}
	if (ftruncate(fd, 0) == 0) {
		int n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
		if (write(fd, pid, (size_t)n) < 0)
			atr_debug("cannot record the pid in %s", path);
	}
	return fd; /* held open (and locked) for the life of the process */
}

struct server *
server_new(const char *datadir, const char *confpath, struct atr_config *overrides,
    struct atr_err *err)
{
	struct server *srv = calloc(1, sizeof(*srv));
	struct store_conn *sc = NULL;
	static int newfds[LK__COUNT][MAX_LOOPS]; /* main thread, at start */
	long ncpu;

	if (srv == NULL) {
		atr_config_free(overrides);
		atr_err_set(err, ATR_E_NOMEM, NULL);
		return NULL;
	}
	srv->overrides = overrides;
	conn_http_init();
	for (int k = 0; k < LK__COUNT; k++)
		srv->lst[k].fd[0] = -1;
	pthread_mutex_init(&srv->apply_mu, NULL);
	pthread_mutex_init(&srv->rt.integrations_mu, NULL);
	snprintf(srv->rt.integrations_attention, sizeof(srv->rt.integrations_attention), "[]");
	srv->rt.started = atr_now_ms() / 1000;
	if ((srv->datadir = strdup(datadir)) == NULL || (srv->confpath = strdup(confpath)) == NULL) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		goto fail;
	}
	srv->rt.datadir = srv->datadir;
	/* Whatever the store or a library creates is atriumd's alone. */
	umask(077);
	raise_fd_limit();
#ifdef __GLIBC__
	/* A fixed mmap threshold: glibc would otherwise raise it after the
	 * first scrypt (16 MiB) and keep that memory in every pool thread's
	 * arena. Fixing it also fixes the trim threshold (128 KiB), which
	 * would return and re-fault the connections' read buffers on every
	 * request: keep up to 32 MiB free per arena instead. */
	mallopt(M_MMAP_THRESHOLD, 1024 * 1024);
	mallopt(M_TRIM_THRESHOLD, 32 * 1024 * 1024);
#endif
	if (atr_mkdirs(datadir, 0700, err) == -1)
		goto fail;
	if (lock_datadir(datadir, err) == -1)
		goto fail;
	if (datadir_secure(datadir, err) == -1)
		goto fail;
	if ((srv->cfg = server_load_config(srv->confpath, overrides, CONF_WRITE_DEFAULTS, err)) == NULL)
		goto fail;
	if ((srv->rt.outbound = outbound_new()) == NULL) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		goto fail;
	}
	apply_settings(srv, srv->cfg);
	if ((srv->rt.store = store_open(srv->cfg, datadir, err)) == NULL)
		goto fail;
	if ((sc = store_conn_open(srv->rt.store, err)) == NULL)
		goto fail;
	if (bootstrap_admin(sc, datadir, err) == -1)
		goto fail;
	store_session_purge(sc, atr_now_ms() / 1000, NULL);
	store_conn_close(sc);
	sc = NULL;

	if ((srv->rt.tls = tls_state_new(datadir)) == NULL) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		goto fail;
	}
	if ((srv->rt.settings = settings_new(datadir, srv->confpath, srv->overrides, srv->rt.tls,
		 apply_conf, srv)) == NULL) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		goto fail;
	}
	if ((srv->rt.trust = truststore_new(datadir, atr_config_bool(srv->cfg,
		 "outbound_system_roots"), err)) == NULL)
		goto fail;
	if ((srv->rt.directory = directory_new(datadir, srv->rt.trust, srv->rt.outbound)) == NULL) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		goto fail;
	}
	if (directory_configure(srv->rt.directory, srv->cfg, err) == -1)
		goto fail;
	atr_tls_rotate_tickets();
	/* The certificate serves the TLS port and the admin console. */
	if (tls_state_load(srv->rt.tls, srv->cfg, err) == -1) {
		atr_err_prefix(err, "TLS");
		if (atr_config_str(srv->cfg, "tls_keystore")[0] != '\0') {
			size_t n = strlen(err->msg);
			char *def = server_confpath(datadir, NULL);
			int own = def != NULL && strcmp(def, srv->confpath) != 0;
			snprintf(err->msg + n, sizeof(err->msg) - n,
			    ". Fix the keystore settings, or go back to the generated certificate "
			    "with `atriumd%s%s --data %s reset-tls`",
			    own ? " --config " : "", own ? srv->confpath : "", datadir);
			free(def);
		}
		goto fail;
	}
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	srv->nloops = (int)atr_config_int(srv->cfg, "workers");
	if (srv->nloops == 0)
		srv->nloops = ncpu > 0 ? (int)ncpu : 1;
	if (srv->nloops > MAX_LOOPS)
		srv->nloops = MAX_LOOPS;
	srv->npool = (int)atr_config_int(srv->cfg, "store_threads");
	if (bind_wanted(srv, srv->cfg, newfds, err) == -1)
		goto fail;
	switch_listeners(srv, srv->cfg, newfds);
	if ((srv->loops = calloc((size_t)srv->nloops, sizeof(*srv->loops))) == NULL ||
	    (srv->pool = job_pool_new()) == NULL) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		goto fail;
	}
	for (int i = 0; i < srv->nloops; i++) {
		struct loop *lp = &srv->loops[i];
		lp->srv = srv;
		lp->index = i;
		if ((lp->base = event_base_new()) == NULL) {
			atr_err_set(err, ATR_E_NOMEM, "cannot create an event loop");
			goto fail;
		}
		if (job_inbox_init(&lp->inbox, lp->base) == -1) {
			atr_err_set(err, ATR_E_NOMEM, "cannot create an event loop");
			goto fail;
		}
		if ((lp->sweep = event_new(lp->base, -1, EV_PERSIST, sweep_cb, lp)) == NULL) {
			atr_err_set(err, ATR_E_NOMEM, "cannot create an event loop");
			goto fail;
		}
		event_add(lp->sweep, &(struct timeval){1, 0});
		if ((lp->sc = store_conn_open(srv->rt.store, err)) == NULL)
			goto fail;
	}
	return srv;
fail:
	store_conn_close(sc);
	server_free(srv);
	return NULL;
}

static void
drain_check(evutil_socket_t fd, short what, void *arg)
{
	struct loop *lp = arg;

	(void)fd;
	(void)what;
	if (lp->nconns == 0)
		event_base_loopexit(lp->base, NULL);
}

static void
drain_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct loop *lp = arg;

	(void)fd;
	(void)what;
	if (lp->nconns > 0)
		atr_warn("closing %d connection(s) that did not finish within %d s", lp->nconns,
		    DRAIN_SECONDS);
	conn_free_all(lp);
	event_base_loopexit(lp->base, NULL);
}

static void
loop_drain(struct loop *lp)
{
	struct timeval tick = {0, 100000}, deadline = {DRAIN_SECONDS, 0};

	lp->draining = 1;
	loop_listen(lp); /* removes the accept events */
	conn_close_idle(lp);
	lp->drain_timer = event_new(lp->base, -1, EV_PERSIST, drain_check, lp);
	event_add(lp->drain_timer, &tick);
	event_base_once(lp->base, -1, EV_TIMEOUT, drain_deadline, lp, &deadline);
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct server *srv = arg;

	(void)what;
	if (sig == SIGHUP) {
		reload(srv);
		return;
	}
	atr_info("%s: finishing open requests, then exiting", sig == SIGINT ? "SIGINT" : "SIGTERM");
	tell_manager(notify_stopping);
	event_base_loopexit(srv->main_base, NULL);
}

static void
purge_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	struct atr_err err;
	struct store_conn *sc;

	(void)fd;
	(void)what;
	/* (The integrations' delivery log is purged by the deliverer, on its
	 * own store connection, per integration_log_days: deliver.c.) */
	if (store_is_blocking(srv->rt.store))
		return; /* the database purges on its own schedule */
	if ((sc = store_conn_open(srv->rt.store, &err)) == NULL)
		return;
	if (store_session_purge(sc, atr_now_ms() / 1000, &err) == -1)
		atr_warn("purging expired sessions failed: %s", atr_err_msg(&err));
	store_conn_close(sc);
}

static void
tickets_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	atr_tls_rotate_tickets();
}

/* Hourly: renew the local CA's certificate when it is due. */
static void
renew_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	struct atr_err err;

	(void)fd;
	(void)what;
	if (tls_state_renew_if_due(srv->rt.tls, srv->cfg, &err) == -1)
		atr_error("renewing the server certificate failed (still serving the old one): %s",
		    atr_err_msg(&err));
}

/*
 * This process's name in delivery leases: the host name and the data
 * directory (a digest of its path), the same across restarts, so that
 * after a crash the deliveries it held are sent again at once instead of
 * after their lease; two nodes on one database have different ones.
 */
static void
node_name(const char *datadir, char *out, size_t size)
{
	char host[64] = "";
	uint64_t h = 1469598103934665603ULL; /* FNV-1a: a name, not a secret */

	if (gethostname(host, sizeof(host) - 1) == -1)
		snprintf(host, sizeof(host), "node");
	for (const unsigned char *p = (const unsigned char *)datadir; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	snprintf(out, size, "%s-%08llx", host, (unsigned long long)(h & 0xffffffffULL));
}

int
server_run(struct server *srv)
{
	struct deliverer *dl = NULL;
	char node[128];
	struct event *sigs[3] = {NULL, NULL, NULL}, *purge = NULL;
	struct timeval hourly = {3600, 0};
	const int signums[3] = {SIGHUP, SIGTERM, SIGINT};
	int rc = 0;

	if ((srv->main_base = event_base_new()) == NULL) {
		atr_error("cannot create the main event loop");
		return 1;
	}
	for (int i = 0; i < 3; i++) {
		sigs[i] = evsignal_new(srv->main_base, signums[i], signal_cb, srv);
		event_add(sigs[i], NULL);
	}
	purge = event_new(srv->main_base, -1, EV_PERSIST, purge_cb, srv);
	event_add(purge, &hourly);
	srv->ticket_timer = event_new(srv->main_base, -1, EV_PERSIST, tickets_cb, srv);
	event_add(srv->ticket_timer, &hourly);
	srv->renew_timer = event_new(srv->main_base, -1, EV_PERSIST, renew_cb, srv);
	event_add(srv->renew_timer, &hourly);
	srv->apply_ev = event_new(srv->main_base, -1, EV_READ | EV_PERSIST, apply_cb, srv);
	event_add(srv->apply_ev, NULL);

	{
		struct atr_err err;
		if (job_pool_start(srv->pool, srv->npool, srv->rt.store, &err) == -1) {
			atr_error("cannot start the job pool: %s", atr_err_msg(&err));
			return 1;
		}
	}
	/* Before the loops: libcurl's global set-up is not thread-safe. */
	node_name(srv->datadir, node, sizeof(node));
	{
		struct atr_err err;
		if ((dl = deliverer_start(&srv->rt, node, &err)) == NULL) {
			atr_error("cannot start the integrations' deliveries: %s", atr_err_msg(&err));
			job_pool_stop(srv->pool);
			return 1;
		}
	}
	{
		struct atr_err err;
		if ((srv->evs = evs_hub_start(&srv->rt, &err)) == NULL) {
			atr_error("cannot start the change streams: %s", atr_err_msg(&err));
			job_pool_stop(srv->pool);
			deliverer_stop(dl);
			return 1;
		}
		for (int i = 0; i < srv->nloops; i++)
			srv->loops[i].evs = evs_loop_new(srv->evs, &srv->loops[i].inbox, srv->pool);
	}
	for (int i = 0; i < srv->nloops; i++)
		pthread_create(&srv->loops[i].thread, NULL, loop_main, &srv->loops[i]);
	log_exposure(srv->cfg);
	atr_info("atriumd %s ready: %d event loop(s), %d store thread(s), store %s", ATRIUM_VERSION,
	    srv->nloops, srv->npool, store_describe(srv->rt.store));
	tell_manager(notify_ready);

	event_base_dispatch(srv->main_base);

	/* Drain: stop accepting, finish what is in flight, then stop. The
	 * hub first, so no batch is posted to a loop that has stopped. */
	evs_hub_stop(srv->evs);
	broadcast(srv, loop_drain);
	for (int i = 0; i < srv->nloops; i++)
		pthread_join(srv->loops[i].thread, NULL);
	job_pool_stop(srv->pool); /* runs what the loops left queued first */
	deliverer_stop(dl);       /* after every commit: none can kick it now */
	for (int i = 0; i < 3; i++)
		event_free(sigs[i]);
	event_free(purge);
	event_free(srv->ticket_timer);
	event_free(srv->renew_timer);
	event_free(srv->apply_ev);
	srv->ticket_timer = srv->renew_timer = srv->apply_ev = NULL;
	atr_info("atriumd stopped");
	return rc;
}

void
server_free(struct server *srv)
{
	if (srv == NULL)
		return;
	for (int i = 0; srv->loops != NULL && i < srv->nloops; i++) {
		struct loop *lp = &srv->loops[i];
		for (int k = 0; k < LK__COUNT; k++)
			if (lp->accept_ev[k] != NULL)
				event_free(lp->accept_ev[k]);
		if (lp->base != NULL)
			conn_free_all(lp);
		evs_loop_free(lp->evs);
		if (lp->drain_timer != NULL)
			event_free(lp->drain_timer);
		if (lp->sweep != NULL)
			event_free(lp->sweep);
		if (lp->base != NULL) /* the inbox is set up right after the base */
			job_inbox_fini(&lp->inbox);
		if (lp->base != NULL)
			event_base_free(lp->base);
		store_conn_close(lp->sc);
	}
	for (int k = 0; k < LK__COUNT; k++)
		if (srv->lst[k].fd[0] != -1)
			close_set(srv->lst[k].fd, srv->nloops);
	if (srv->main_base != NULL)
		event_base_free(srv->main_base);
	free(srv->loops);
	evs_hub_free(srv->evs);
	job_pool_free(srv->pool);
	store_close(srv->rt.store);
	settings_free(srv->rt.settings);
	tls_state_free(srv->rt.tls);
	directory_free(srv->rt.directory);
	truststore_free(srv->rt.trust);
	outbound_free(srv->rt.outbound);
	atr_config_free(srv->cfg);
	atr_config_free(srv->overrides);
	free(srv->datadir);
	free(srv->confpath);
	pthread_mutex_destroy(&srv->apply_mu);
	pthread_mutex_destroy(&srv->rt.integrations_mu);
	free(srv);
}
