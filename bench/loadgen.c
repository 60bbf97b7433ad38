/*
 * bench/loadgen.c: a load generator for atriumd's TLS API (issue part 4).
 *
 * N clients (default 500), each on its own keep-alive TLS connection to
 * HOST:PORT whose certificate is verified against --cafile, each running a
 * closed loop of operations picked at random by weight:
 *
 *   login      POST /api/v1/session, then DELETE /api/v1/session with the
 *              previous token (every client logs in once at its start)
 *   projects   GET /api/v1/projects
 *   project    GET /api/v1/projects/P
 *   revisions  GET /api/v1/projects/P/revisions
 *   commit     POST /api/v1/projects/P/revisions?base=HEAD&message=... with
 *              Expect: 100-continue and a body of --min-size..--max-size
 *              bytes (log-uniform, unique content); a 409 on a stale base is
 *              expected: the head comes from the answer and the commit is
 *              retried (up to --retries times)
 *   checkout   GET .../revisions/N (or head), then .../revisions/N/content,
 *              whose SHA-256 must match the metadata, the ETag and, for a
 *              revision this run committed, the acknowledged SHA-256
 *   lock       POST .../locks {"element": "el-K"} (201, 200 or 409 when
 *              another user holds it); a lock taken is released (DELETE)
 *
 * Every answer's status is checked against what the call may answer; any
 * other status, a connection error, a timeout or a wrong SHA-256 is an
 * unexpected error (counted; the first ones are printed in detail). Every
 * acknowledged revision (201) is recorded, and when the load ends every one
 * of them is read back and its SHA-256 checked ("lost revisions"). The
 * records can be written (--record) and checked again later, e.g. after a
 * restart of the server (--verify FILE, no load).
 *
 * One thread, one libevent loop: on a small machine the server gets the
 * other cores. Connections are opened over --ramp seconds, not all at once.
 * Latencies are from the request's first byte written to the answer's last
 * byte read, in a log-linear histogram (~3 % resolution); the figures cover
 * the answers that arrived between the end of --warmup and the end of
 * --duration. Exit status: 0 when there was load, no unexpected error and no
 * lost revision; 1 otherwise; 2 on a usage error.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <jansson.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define HDR_MAX (16 * 1024)           /* response header block */
#define JSON_MAX (32 * 1024 * 1024)   /* buffered (JSON) response body */
#define ERRS_MAX 12                   /* unexpected errors shown in detail */
#define LOCK_ELEMENTS 8               /* elements per project the lock op uses */
#define LOGIN_TRIES 5                 /* failed logins before a client gives up */

/* ---- latency histogram: exact below 32 µs, then 32 buckets per power of two */

#define H_SUB 32
#define H_BUCKETS (H_SUB * 40)

struct hist {
	uint64_t n;              /* values added */
	uint64_t max;            /* largest value, µs */
	uint64_t b[H_BUCKETS];   /* counts per bucket */
};

static int
h_index(uint64_t v)
{
	int e;

	if (v < H_SUB)
		return (int)v;
	e = 63 - __builtin_clzll(v);
	if (e > 43)
		return H_BUCKETS - 1;
	return (e - 4) * H_SUB + (int)((v >> (e - 5)) & (H_SUB - 1));
}

/* The middle of bucket i, µs. */
static uint64_t
h_value(int i)
{
	int e;

	if (i < H_SUB)
		return (uint64_t)i;
	e = i / H_SUB + 4;
	return ((uint64_t)(H_SUB + i % H_SUB) << (e - 5)) + (((uint64_t)1 << (e - 5)) / 2);
}

static void
h_add(struct hist *h, uint64_t v)
{
	h->b[h_index(v)]++;
	h->n++;
	if (v > h->max)
		h->max = v;
}

static void
h_merge(struct hist *to, const struct hist *from)
{
	for (int i = 0; i < H_BUCKETS; i++)
		to->b[i] += from->b[i];
	to->n += from->n;
	if (from->max > to->max)
		to->max = from->max;
}

/* The p-th percentile (0 < p <= 100), µs; 0 for an empty histogram. */
static uint64_t
h_pct(const struct hist *h, double p)
{
	uint64_t want, seen = 0;

	if (h->n == 0)
		return 0;
	want = (uint64_t)ceil(p / 100.0 * (double)h->n);
	if (want < 1)
		want = 1;
	for (int i = 0; i < H_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= want) {
			uint64_t v = h_value(i);
			return v > h->max ? h->max : v;
		}
	}
	return h->max;
}

/* ---- what is measured */

enum rkind {
	RK_LOGIN, RK_LOGOUT, RK_PROJECTS, RK_PROJECT, RK_REVISIONS, RK_REVISION, RK_CONTENT,
	RK_COMMIT, RK_LOCK, RK_UNLOCK, RK_VERIFY, RK_N
};
static const char *const rk_name[RK_N] = {
	"login", "logout", "projects", "project", "revisions", "revision", "content",
	"commit", "lock", "unlock", "verify"
};

enum op { OP_LOGIN, OP_PROJECTS, OP_PROJECT, OP_REVISIONS, OP_COMMIT, OP_CHECKOUT, OP_LOCK, OP_N, OP_VERIFY };
static const char *const op_name[OP_N] = {
	"login", "projects", "project", "revisions", "commit", "checkout", "lock"
};
static const int op_default_weight[OP_N] = {1, 15, 15, 10, 15, 30, 14};

struct kstat {
	uint64_t count;        /* answers */
	uint64_t measured;     /* answers in the measured window */
	uint64_t unexpected;   /* answers with a status this call may not give */
	uint64_t st[600];      /* answers by status */
	struct hist h;         /* latency of the measured answers */
};

/* One acknowledged revision. */
struct record {
	int proj;                  /* index into run.projects */
	int64_t num;               /* revision number the 201 gave */
	int64_t size;              /* bytes */
	unsigned char sha[32];     /* SHA-256 of the content sent */
};

struct project {
	char name[130];            /* as given */
	char enc[400];             /* percent-encoded for paths */
	int64_t head;              /* newest revision seen, -1 unknown */
	size_t *recs;              /* indices of its records */
	size_t nrecs, caprecs;
};

struct user {
	char name[130];
	char *login_body;          /* {"user":..,"password":..} */
};

struct opts {
	const char *host, *cafile, *user, *prefix, *record, *verify, *json;
	char password[512];
	int port, clients, users, projects, retries, think_ms, quiet, no_verify;
	double duration, warmup, ramp, timeout, grace;
	int64_t min_size, max_size;
	unsigned long long seed;
	int weights[OP_N];
};

struct client;

struct run {
	struct opts o;
	struct event_base *base;
	SSL_CTX *ctx;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	int host_is_ip;
	struct client *clients;
	struct user *users;
	struct project *projects;
	int nprojects;
	struct record *recs;
	size_t nrecs, caprecs;
	size_t vnext;              /* next record to verify */
	unsigned char *pool;       /* random bytes commits are cut from */
	size_t pool_len;
	uint64_t run_id;
	uint64_t t0, t_warm, t_stop, t_verify, t_end;
	int logged_in;             /* clients that have had their first token */
	uint64_t t_all_in;         /* when the last of them got it */
	struct hist first_login;   /* latency of the clients' first logins */
	int stopping;              /* no new load operations */
	int verifying;             /* the read-back has started */
	int busy;                  /* clients not yet past the load phase */
	int active;                /* clients not done */
	int aborted;
	int total_weight;
	struct kstat ks[RK_N];
	struct hist hs;            /* connection set-up (TCP + TLS handshake) */
	uint64_t conns, resumed, handshake_fail, server_closes, idle_closes, open_now, open_peak;
	uint64_t unexpected;
	char errs[ERRS_MAX][600];
	int nerrs;
	uint64_t ops[OP_N + 1];
	uint64_t commits, conflicts, gave_up, checkouts, locks_taken, locks_busy, logins;
	uint64_t verified, lost, duplicates;
	uint64_t bytes_up, bytes_down;
	uint64_t last_answers;     /* for the progress line */
	struct event *ev_stop, *ev_deadline, *ev_tick, *ev_int;
};

struct client {
	struct run *run;
	int id;
	uint64_t rng;
	const struct user *user;
	char token[100];
	char old_token[100];
	int login_fails;
	int ever_in;               /* has logged in once */
	struct event *ev_step;     /* the next action (ramp, think time, after an answer) */
	struct bufferevent *bev;
	SSL_SESSION *sess;         /* for resumption on reconnect */
	int connected;             /* handshake done */
	int drop;                  /* free bev at the next step */
	int drop_clean;            /* ... after a close_notify, keeping the session */
	uint64_t t_connect;
	int done, parked, counted_out;

	/* the operation */
	enum op op;
	int op_active, step, proj, tries;
	int64_t rev;               /* revision number (checkout), base (commit) */
	int have_want;
	unsigned char want[32];    /* expected SHA-256 */
	int64_t want_size;
	size_t vrec;               /* record being verified */
	char element[32];
	uint64_t ncommits;
	char prefix[160];          /* commit content: prefix + pool slice */
	size_t prefix_len, pool_off, pool_len;
	unsigned char body_sha[32];

	/* the request in flight */
	int in_flight;
	enum rkind rk;
	const char *method;
	const char *auth;
	char path[600];
	const char *jbody;
	char jbuf[200];
	int commit_body;           /* body is the commit content */
	int await_continue;
	uint64_t t_sent;

	/* the answer */
	int rstate;                /* 0 headers, 1 body */
	int status, conn_close, hashing;
	int64_t body_left, rbytes;
	char etag[80];
	EVP_MD_CTX *md;
	struct evbuffer *rbody;
};

static void step_cb(evutil_socket_t, short, void *);
static void schedule(struct client *, uint64_t);

/* ---- small helpers */

static uint64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static uint64_t
rnd(struct client *c)
{
	/* xorshift64* */
	c->rng ^= c->rng >> 12;
	c->rng ^= c->rng << 25;
	c->rng ^= c->rng >> 27;
	return c->rng * 2685821657736338717ull;
}

static double
rnd01(struct client *c)
{
	return (double)(rnd(c) >> 11) / 9007199254740992.0;
}

static void
hex(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static int
unhex(const char *in, unsigned char *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned int v;
		if (sscanf(in + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (unsigned char)v;
	}
	return in[2 * n] == '\0' || in[2 * n] == '\n' || in[2 * n] == '\t' ? 0 : -1;
}

static void
pct_encode(const char *in, char *out, size_t outlen)
{
	static const char digits[] = "0123456789ABCDEF";
	size_t o = 0;

	for (; *in != '\0' && o + 4 < outlen; in++) {
		unsigned char ch = (unsigned char)*in;
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		    ch == '-' || ch == '_' || ch == '.' || ch == '~') {
			out[o++] = (char)ch;
		} else {
			out[o++] = '%';
			out[o++] = digits[ch >> 4];
			out[o++] = digits[ch & 15];
		}
	}
	out[o] = '\0';
}

/* An unexpected error: counted; the first ERRS_MAX are kept in detail. */
__attribute__((format(printf, 2, 3))) static void
fail(struct client *c, const char *fmt, ...)
{
	struct run *run = c->run;
	va_list ap;
	int n;

	run->unexpected++;
	if (run->nerrs >= ERRS_MAX)
		return;
	n = snprintf(run->errs[run->nerrs], sizeof(run->errs[0]), "t=%.1fs client %d: ",
	    (double)(now_us() - run->t0) / 1e6, c->id);
	va_start(ap, fmt);
	vsnprintf(run->errs[run->nerrs] + n, sizeof(run->errs[0]) - (size_t)n, fmt, ap);
	va_end(ap);
	if (!run->o.quiet)
		fprintf(stderr, "loadgen: unexpected: %s\n", run->errs[run->nerrs]);
	run->nerrs++;
}

/* The first bytes of the buffered answer body, for an error message. */
static const char *
body_snippet(struct client *c, char *buf, size_t len)
{
	size_t n = evbuffer_get_length(c->rbody);

	if (n >= len)
		n = len - 1;
	evbuffer_copyout(c->rbody, buf, n);
	buf[n] = '\0';
	for (size_t i = 0; i < n; i++)
		if (buf[i] == '\n' || buf[i] == '\r')
			buf[i] = ' ';
	return buf;
}

static json_t *
body_json(struct client *c)
{
	size_t n = evbuffer_get_length(c->rbody);
	unsigned char *p = evbuffer_pullup(c->rbody, (ssize_t)n);
	json_error_t jerr;

	return p != NULL ? json_loadb((const char *)p, n, 0, &jerr) : NULL;
}

static void
see_head(struct project *p, int64_t head)
{
	if (head > p->head)
		p->head = head;
}

static int
find_project(struct run *run, const char *name)
{
	for (int i = 0; i < run->nprojects; i++)
		if (strcmp(run->projects[i].name, name) == 0)
			return i;
	return -1;
}

/* ---- connections */

/* The OpenSSL errors of a failed connection, drained, as one line. */
static void
conn_error_text(struct client *c, char *buf, size_t len)
{
	unsigned long e;
	size_t o = 0;
	int err = EVUTIL_SOCKET_ERROR();

	buf[0] = '\0';
	while (c->bev != NULL && (e = bufferevent_get_openssl_error(c->bev)) != 0 && o + 2 < len) {
		char one[256];
		if (ERR_GET_LIB(e) == 0)
			continue; /* libevent's own entries carry no text */
		ERR_error_string_n(e, one, sizeof(one));
		o += (size_t)snprintf(buf + o, len - o, "%s%s", o ? "; " : "", one);
	}
	if (c->bev != NULL && !c->connected) {
		SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
		long v = ssl != NULL ? SSL_get_verify_result(ssl) : X509_V_OK;
		if (v != X509_V_OK && o + 2 < len)
			o += (size_t)snprintf(buf + o, len - o, "%scertificate: %s", o ? "; " : "",
			    X509_verify_cert_error_string(v));
	}
	if (o == 0 && err != 0)
		snprintf(buf, len, "%s", evutil_socket_error_to_string(err));
	ERR_clear_error();
}

/* Closes the connection now (called from the step event, never from the
 * bufferevent's own callbacks). A connection that ended cleanly gets a
 * close_notify and leaves its TLS session for the next one to resume (an
 * SSL freed without a shutdown marks its session not resumable). */
static void
conn_drop(struct client *c)
{
	struct run *run = c->run;

	c->drop = 0;
	if (c->bev == NULL)
		return;
	if (c->connected) {
		SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
		SSL_SESSION *s = NULL;
		if (ssl != NULL && c->drop_clean) {
			ERR_clear_error();
			SSL_shutdown(ssl); /* one try: the peer may be gone already */
			ERR_clear_error();
			s = SSL_get1_session(ssl);
		}
		if (s != NULL && SSL_SESSION_is_resumable(s)) {
			SSL_SESSION_free(c->sess);
			c->sess = s;
		} else {
			SSL_SESSION_free(s);
		}
		run->open_now--;
	}
	bufferevent_free(c->bev);
	c->bev = NULL;
	c->connected = 0;
}

/* Marks the connection for closing at the next step and silences it;
 * clean: it ended after a complete answer, not with an error. */
static void
conn_kill(struct client *c, int clean)
{
	if (c->bev == NULL)
		return;
	bufferevent_setcb(c->bev, NULL, NULL, NULL, NULL);
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	c->drop = 1;
	c->drop_clean = clean;
}

static void write_request(struct client *);
static void read_cb(struct bufferevent *, void *);
static void event_cb(struct bufferevent *, short, void *);

static void
conn_open(struct client *c)
{
	struct run *run = c->run;
	SSL *ssl;
	int one = 1;

	ERR_clear_error();
	if ((ssl = SSL_new(run->ctx)) == NULL)
		goto err;
	if (run->host_is_ip) {
		if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), run->o.host) != 1)
			goto err_ssl;
	} else if (SSL_set1_host(ssl, run->o.host) != 1 ||
	    SSL_set_tlsext_host_name(ssl, run->o.host) != 1) {
		goto err_ssl;
	}
	if (c->sess != NULL)
		SSL_set_session(ssl, c->sess);
	c->bev = bufferevent_openssl_socket_new(run->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
	    BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL)
		goto err_ssl;
	bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	bufferevent_setcb(c->bev, read_cb, NULL, event_cb, c);
	c->connected = 0;
	c->t_connect = now_us();
	{
		struct timeval tv = {(time_t)run->o.timeout, 0};
		bufferevent_set_timeouts(c->bev, &tv, &tv);
	}
	/* On failure the event callback has run already and reported it. */
	if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&run->addr, (int)run->addrlen) == -1)
		return;
	setsockopt(bufferevent_getfd(c->bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	return;
err_ssl:
	SSL_free(ssl);
err:
	fail(c, "cannot make a TLS connection object");
	ERR_clear_error();
	c->in_flight = 0;
	c->op_active = 0;
	schedule(c, 1000000);
}

/* ---- requests */

/* Sends the request described by c's request fields, connecting first when
 * there is no connection. */
static void
start_request(struct client *c, enum rkind rk, const char *method, const char *auth)
{
	c->rk = rk;
	c->method = method;
	c->auth = auth;
	c->in_flight = 1;
	if (c->bev == NULL) {
		conn_open(c);
		return;
	}
	if (c->connected)
		write_request(c);
}

static void
write_request(struct client *c)
{
	struct run *run = c->run;
	struct evbuffer *out = bufferevent_get_output(c->bev);
	size_t before = evbuffer_get_length(out);
	struct timeval tv = {(time_t)run->o.timeout, (suseconds_t)((run->o.timeout - (double)(time_t)run->o.timeout) * 1e6)};

	evbuffer_add_printf(out, "%s %s HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: atrium-loadgen\r\n",
	    c->method, c->path, run->o.host, run->o.port);
	if (c->auth != NULL)
		evbuffer_add_printf(out, "Authorization: Bearer %s\r\n", c->auth);
	c->await_continue = 0;
	if (c->commit_body) {
		evbuffer_add_printf(out,
		    "Content-Type: application/octet-stream\r\nContent-Length: %zu\r\n"
		    "Expect: 100-continue\r\n\r\n",
		    c->prefix_len + c->pool_len);
		c->await_continue = 1;
	} else if (c->jbody != NULL) {
		evbuffer_add_printf(out, "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
		    strlen(c->jbody), c->jbody);
	} else {
		evbuffer_add(out, "\r\n", 2);
	}
	run->bytes_up += evbuffer_get_length(out) - before;
	c->rstate = 0;
	c->status = 0;
	c->conn_close = 0;
	c->hashing = 0;
	c->rbytes = 0;
	c->etag[0] = '\0';
	evbuffer_drain(c->rbody, evbuffer_get_length(c->rbody));
	bufferevent_set_timeouts(c->bev, &tv, &tv);
	c->t_sent = now_us();
}

static void
write_body(struct client *c)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);

	c->await_continue = 0;
	evbuffer_add(out, c->prefix, c->prefix_len);
	evbuffer_add_reference(out, c->run->pool + c->pool_off, c->pool_len, NULL, NULL);
	c->run->bytes_up += c->prefix_len + c->pool_len;
}

/* Parses the status line and the headers this client cares about. */
static int
parse_head(struct client *c, char *hdr)
{
	char *line, *save = NULL;
	int have_len = 0;

	line = strtok_r(hdr, "\r\n", &save);
	if (line == NULL || sscanf(line, "HTTP/1.%*d %d", &c->status) != 1 || c->status < 100 ||
	    c->status > 599)
		return -1;
	c->body_left = 0;
	while ((line = strtok_r(NULL, "\r\n", &save)) != NULL) {
		char *v = strchr(line, ':');
		if (v == NULL)
			continue;
		*v++ = '\0';
		while (*v == ' ' || *v == '\t')
			v++;
		if (strcasecmp(line, "Content-Length") == 0) {
			char *end;
			long long n = strtoll(v, &end, 10);
			if (end == v || n < 0)
				return -1;
			c->body_left = n;
			have_len = 1;
		} else if (strcasecmp(line, "Connection") == 0) {
			if (strcasestr(v, "close") != NULL)
				c->conn_close = 1;
		} else if (strcasecmp(line, "ETag") == 0) {
			snprintf(c->etag, sizeof(c->etag), "%s", v);
		} else if (strcasecmp(line, "Transfer-Encoding") == 0) {
			return -1; /* atriumd always sends Content-Length */
		}
	}
	if (!have_len && c->status >= 200 && c->status != 204 && c->status != 304)
		return -1;
	return 0;
}

static void response_done(struct client *);

static void
read_cb(struct bufferevent *bev, void *arg)
{
	struct client *c = arg;
	struct run *run = c->run;
	struct evbuffer *in = bufferevent_get_input(bev);

	for (;;) {
		size_t len = evbuffer_get_length(in);
		if (len == 0)
			return;
		if (!c->in_flight) {
			fail(c, "%zu bytes from the server with no request in flight", len);
			evbuffer_drain(in, len);
			conn_kill(c, 0);
			schedule(c, 0);
			return;
		}
		if (c->rstate == 0) {
			struct evbuffer_ptr p = evbuffer_search(in, "\r\n\r\n", 4, NULL);
			char hdr[HDR_MAX + 1];
			size_t hl;
			if (p.pos < 0 && len <= HDR_MAX)
				return;
			if (p.pos < 0 || (size_t)p.pos + 4 > HDR_MAX) {
				fail(c, "%s %s: answer headers larger than %d bytes", c->method, c->path, HDR_MAX);
				goto drop;
			}
			hl = (size_t)p.pos + 4;
			evbuffer_remove(in, hdr, hl);
			hdr[hl] = '\0';
			run->bytes_down += hl;
			if (parse_head(c, hdr) == -1) {
				fail(c, "%s %s: malformed answer head", c->method, c->path);
				goto drop;
			}
			if (c->status < 200) {
				if (c->status == 100 && c->await_continue)
					write_body(c);
				c->conn_close = 0;
				continue;
			}
			c->rstate = 1;
			c->hashing = c->status == 200 && (c->rk == RK_CONTENT || c->rk == RK_VERIFY);
			if (c->hashing)
				EVP_DigestInit_ex(c->md, EVP_sha256(), NULL);
		} else {
			size_t n = len < (uint64_t)c->body_left ? len : (size_t)c->body_left;
			if (c->hashing) {
				struct evbuffer_iovec v[16];
				size_t left = n;
				while (left > 0) {
					int k = evbuffer_peek(in, (ssize_t)left, NULL, v, 16);
					size_t done = 0;
					for (int i = 0; i < k && i < 16 && done < left; i++) {
						size_t m = v[i].iov_len < left - done ? v[i].iov_len : left - done;
						EVP_DigestUpdate(c->md, v[i].iov_base, m);
						done += m;
					}
					evbuffer_drain(in, done);
					left -= done;
				}
			} else {
				if (evbuffer_get_length(c->rbody) + n > JSON_MAX) {
					fail(c, "%s %s: answer body larger than %d bytes", c->method, c->path, JSON_MAX);
					goto drop;
				}
				evbuffer_remove_buffer(in, c->rbody, n);
			}
			c->body_left -= (int64_t)n;
			c->rbytes += (int64_t)n;
			run->bytes_down += n;
		}
		if (c->rstate == 1 && c->body_left == 0) {
			response_done(c);
			return;
		}
	}
drop:
	c->in_flight = 0;
	c->op_active = 0;
	conn_kill(c, 0);
	schedule(c, 100000);
}

static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct client *c = arg;
	struct run *run = c->run;
	char why[400];
	const char *kind;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
		c->connected = 1;
		run->conns++;
		if (ssl != NULL && SSL_session_reused(ssl))
			run->resumed++;
		if (++run->open_now > run->open_peak)
			run->open_peak = run->open_now;
		h_add(&run->hs, now_us() - c->t_connect);
		if (c->in_flight)
			write_request(c);
		return;
	}
	conn_error_text(c, why, sizeof(why));
	kind = (what & BEV_EVENT_TIMEOUT) ? "timed out" : (what & BEV_EVENT_EOF) ? "closed by the server" : "error";
	if (!c->connected) {
		run->handshake_fail++;
		fail(c, "TLS connection to %s:%d: %s%s%s", run->o.host, run->o.port, kind,
		    why[0] ? ": " : "", why);
	} else if (c->in_flight) {
		fail(c, "%s %s: connection %s while %s%s%s", c->method, c->path, kind,
		    c->rstate == 0 ? "waiting for the answer" : "reading the answer body",
		    why[0] ? ": " : "", why);
	} else {
		run->idle_closes++;
	}
	if (c->in_flight && c->token[0] == '\0')
		c->login_fails++; /* a login that cannot even connect */
	/* A read-back interrupted by the connection is tried again. */
	if (c->in_flight && c->op == OP_VERIFY && c->op_active && ++c->tries < 3) {
		c->in_flight = 0;
	} else {
		c->in_flight = 0;
		c->op_active = 0;
	}
	conn_kill(c, 0);
	schedule(c, 100000);
}

/* ---- operations */

static int
status_expected(enum rkind rk, int st)
{
	switch (rk) {
	case RK_LOGOUT:
	case RK_UNLOCK:
		return st == 204;
	case RK_COMMIT:
		return st == 201 || st == 409;
	case RK_LOCK:
		return st == 200 || st == 201 || st == 409;
	default:
		return st == 200;
	}
}

static void
add_record(struct client *c, int64_t num)
{
	struct run *run = c->run;
	struct project *p = &run->projects[c->proj];
	struct record *r;

	if (run->nrecs == run->caprecs) {
		size_t cap = run->caprecs ? run->caprecs * 2 : 4096;
		struct record *n = realloc(run->recs, cap * sizeof(*n));
		if (n == NULL) {
			fail(c, "out of memory for the records");
			return;
		}
		run->recs = n;
		run->caprecs = cap;
	}
	if (p->nrecs == p->caprecs) {
		size_t cap = p->caprecs ? p->caprecs * 2 : 64;
		size_t *n = realloc(p->recs, cap * sizeof(*n));
		if (n == NULL) {
			fail(c, "out of memory for the records");
			return;
		}
		p->recs = n;
		p->caprecs = cap;
	}
	p->recs[p->nrecs++] = run->nrecs;
	r = &run->recs[run->nrecs++];
	r->proj = c->proj;
	r->num = num;
	r->size = (int64_t)(c->prefix_len + c->pool_len);
	memcpy(r->sha, c->body_sha, 32);
}

/* Builds a new commit body: a unique first line, then a slice of the pool. */
static void
make_body(struct client *c)
{
	struct run *run = c->run;
	double lo = (double)run->o.min_size, hi = (double)run->o.max_size;
	size_t size = (size_t)(lo * pow(hi / lo, rnd01(c)));
	EVP_MD_CTX *md = c->md;

	c->prefix_len = (size_t)snprintf(c->prefix, sizeof(c->prefix),
	    "atrium-loadgen run %016" PRIx64 " client %d commit %" PRIu64 " project %s\n", run->run_id,
	    c->id, ++c->ncommits, run->projects[c->proj].name);
	if (size < c->prefix_len)
		size = c->prefix_len;
	c->pool_len = size - c->prefix_len;
	c->pool_off = (size_t)(rnd(c) % (run->pool_len - c->pool_len + 1));
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	EVP_DigestUpdate(md, c->prefix, c->prefix_len);
	EVP_DigestUpdate(md, run->pool + c->pool_off, c->pool_len);
	EVP_DigestFinal_ex(md, c->body_sha, NULL);
}

/* Issues the request of the current step of the current operation. */
static void
op_issue(struct client *c)
{
	struct run *run = c->run;
	struct project *p = c->proj >= 0 ? &run->projects[c->proj] : NULL;
	char enc[64];

	c->jbody = NULL;
	c->commit_body = 0;
	switch (c->op) {
	case OP_LOGIN:
		if (c->step == 0) {
			snprintf(c->path, sizeof(c->path), "/api/v1/session");
			c->jbody = c->user->login_body;
			start_request(c, RK_LOGIN, "POST", NULL);
		} else {
			snprintf(c->path, sizeof(c->path), "/api/v1/session");
			start_request(c, RK_LOGOUT, "DELETE", c->old_token);
		}
		return;
	case OP_PROJECTS:
		snprintf(c->path, sizeof(c->path), "/api/v1/projects");
		start_request(c, RK_PROJECTS, "GET", c->token);
		return;
	case OP_PROJECT:
		snprintf(c->path, sizeof(c->path), "/api/v1/projects/%s", p->enc);
		start_request(c, RK_PROJECT, "GET", c->token);
		return;
	case OP_REVISIONS:
		snprintf(c->path, sizeof(c->path), "/api/v1/projects/%s/revisions", p->enc);
		start_request(c, RK_REVISIONS, "GET", c->token);
		return;
	case OP_COMMIT:
		if (c->step == 0) {
			snprintf(c->path, sizeof(c->path), "/api/v1/projects/%s", p->enc);
			start_request(c, RK_PROJECT, "GET", c->token);
			return;
		}
		c->rev = p->head;
		snprintf(c->path, sizeof(c->path),
		    "/api/v1/projects/%s/revisions?base=%" PRId64 "&message=loadgen%%20client%%20%d%%20try%%20%d",
		    p->enc, c->rev, c->id, c->tries + 1);
		c->commit_body = 1;
		start_request(c, RK_COMMIT, "POST", c->token);
		return;
	case OP_CHECKOUT:
		if (c->step == 0) {
			if (c->rev > 0)
				snprintf(c->path, sizeof(c->path), "/api/v1/projects/%s/revisions/%" PRId64,
				    p->enc, c->rev);
			else
				snprintf(c->path, sizeof(c->path), "/api/v1/projects/%s/revisions/head", p->enc);
			start_request(c, RK_REVISION, "GET", c->token);
		} else {
			snprintf(c->path, sizeof(c->path), "/api/v1/projects/%s/revisions/%" PRId64 "/content",
			    p->enc, c->rev);
			start_request(c, RK_CONTENT, "GET", c->token);
		}
		return;
	case OP_LOCK:
		if (c->step == 0) {
			snprintf(c->path, sizeof(c->path), "/api/v1/projects/%s/locks", p->enc);
			snprintf(c->jbuf, sizeof(c->jbuf), "{\"element\":\"%s\"}", c->element);
			c->jbody = c->jbuf;
			start_request(c, RK_LOCK, "POST", c->token);
		} else {
			pct_encode(c->element, enc, sizeof(enc));
			snprintf(c->path, sizeof(c->path), "/api/v1/projects/%s/locks/%s", p->enc, enc);
			start_request(c, RK_UNLOCK, "DELETE", c->token);
		}
		return;
	case OP_VERIFY: {
		const struct record *r = &run->recs[c->vrec];
		snprintf(c->path, sizeof(c->path), "/api/v1/projects/%s/revisions/%" PRId64 "/content",
		    run->projects[r->proj].enc, r->num);
		start_request(c, RK_VERIFY, "GET", c->token);
		return;
	}
	case OP_N:
		break;
	}
}

static void
op_begin(struct client *c, enum op op)
{
	struct run *run = c->run;
	struct project *p;

	c->op = op;
	c->op_active = 1;
	c->step = 0;
	c->tries = 0;
	c->have_want = 0;
	c->proj = run->nprojects > 0 ? (int)(rnd(c) % (uint64_t)run->nprojects) : -1;
	p = c->proj >= 0 ? &run->projects[c->proj] : NULL;
	if (op == OP_CHECKOUT && p->head <= 0 && p->nrecs == 0)
		op = c->op = OP_PROJECT; /* nothing to check out there yet (that we know of) */
	run->ops[op == OP_VERIFY ? OP_N : op]++;
	switch (op) {
	case OP_COMMIT:
		if (p->head >= 0)
			c->step = 1;
		make_body(c);
		break;
	case OP_CHECKOUT:
		c->rev = 0; /* head */
		if (p->nrecs > 0 && rnd(c) % 2 == 0) {
			const struct record *r = &run->recs[p->recs[rnd(c) % p->nrecs]];
			c->rev = r->num;
			memcpy(c->want, r->sha, 32);
			c->want_size = r->size;
			c->have_want = 1;
		}
		break;
	case OP_LOCK:
		snprintf(c->element, sizeof(c->element), "el-%d", (int)(rnd(c) % LOCK_ELEMENTS));
		break;
	default:
		break;
	}
	op_issue(c);
}

/* Checks a SHA-256 in hex against 32 bytes. */
static int
sha_eq(const char *hexsha, const unsigned char *sha)
{
	char h[65];

	hex(sha, 32, h);
	return hexsha != NULL && strcmp(hexsha, h) == 0;
}

/* An answer with an expected status: what it means for the operation. Sets
 * c->op_active = 0 when the operation is over, else advances c->step. */
static void
op_answer(struct client *c)
{
	struct run *run = c->run;
	struct project *p = c->proj >= 0 ? &run->projects[c->proj] : NULL;
	json_t *j = NULL;
	char snip[200];

	switch (c->rk) {
	case RK_LOGIN: {
		const char *tok;
		j = body_json(c);
		tok = json_string_value(json_object_get(j, "token"));
		if (tok == NULL || strlen(tok) >= sizeof(c->token)) {
			fail(c, "login: no token in %s", body_snippet(c, snip, sizeof(snip)));
			c->login_fails++;
			c->op_active = 0;
			break;
		}
		run->logins++;
		c->login_fails = 0;
		if (c->token[0] == '\0' && !c->ever_in) {
			/* the measured window opens when every client is in */
			c->ever_in = 1;
			h_add(&run->first_login, now_us() - c->t_sent);
			if (++run->logged_in == run->o.clients) {
				run->t_all_in = now_us();
				if (run->t_all_in > run->t_warm)
					run->t_warm = run->t_all_in;
			}
		}
		snprintf(c->old_token, sizeof(c->old_token), "%s", c->token);
		snprintf(c->token, sizeof(c->token), "%s", tok);
		if (c->old_token[0] != '\0')
			c->step = 1;
		else
			c->op_active = 0;
		break;
	}
	case RK_LOGOUT:
		c->old_token[0] = '\0';
		c->op_active = 0;
		break;
	case RK_PROJECTS: {
		json_t *arr, *e;
		size_t i;
		j = body_json(c);
		arr = json_object_get(j, "projects");
		if (!json_is_array(arr)) {
			fail(c, "GET /api/v1/projects: no list in %s", body_snippet(c, snip, sizeof(snip)));
		} else {
			json_array_foreach(arr, i, e) {
				const char *nm = json_string_value(json_object_get(e, "name"));
				int k = nm != NULL ? find_project(run, nm) : -1;
				if (k >= 0)
					see_head(&run->projects[k], json_integer_value(json_object_get(e, "head")));
			}
		}
		c->op_active = 0;
		break;
	}
	case RK_PROJECT: {
		json_t *h;
		j = body_json(c);
		h = json_object_get(j, "head");
		if (!json_is_integer(h)) {
			fail(c, "%s: no head in %s", c->path, body_snippet(c, snip, sizeof(snip)));
			c->op_active = 0;
			break;
		}
		see_head(p, json_integer_value(h));
		if (c->op == OP_COMMIT)
			c->step = 1;
		else
			c->op_active = 0;
		break;
	}
	case RK_REVISIONS: {
		json_t *arr;
		j = body_json(c);
		arr = json_object_get(j, "revisions");
		if (!json_is_array(arr))
			fail(c, "%s: no list in %s", c->path, body_snippet(c, snip, sizeof(snip)));
		else if (json_array_size(arr) > 0)
			see_head(p, json_integer_value(json_object_get(json_array_get(arr, 0), "number")));
		c->op_active = 0;
		break;
	}
	case RK_REVISION: {
		const char *sha;
		json_int_t num, size;
		j = body_json(c);
		sha = json_string_value(json_object_get(j, "sha256"));
		num = json_integer_value(json_object_get(j, "number"));
		size = json_integer_value(json_object_get(j, "size"));
		if (sha == NULL || strlen(sha) != 64 || num <= 0) {
			fail(c, "%s: no sha256/number in %s", c->path, body_snippet(c, snip, sizeof(snip)));
			c->op_active = 0;
			break;
		}
		if (c->have_want && (!sha_eq(sha, c->want) || size != c->want_size)) {
			char w[65];
			hex(c->want, 32, w);
			fail(c, "%s: metadata says sha256 %s size %lld; this run's 201 said %s size %lld",
			    c->path, sha, (long long)size, w, (long long)c->want_size);
			c->op_active = 0;
			break;
		}
		see_head(p, num);
		c->rev = num;
		c->want_size = size;
		if (unhex(sha, c->want, 32) == -1) {
			fail(c, "%s: bad sha256 %s", c->path, sha);
			c->op_active = 0;
			break;
		}
		c->have_want = 1;
		c->step = 1;
		break;
	}
	case RK_CONTENT:
	case RK_VERIFY: {
		unsigned char got[32];
		char g[65], w[65], etag[70];
		const unsigned char *want = c->rk == RK_VERIFY ? run->recs[c->vrec].sha : c->want;
		int64_t wsize = c->rk == RK_VERIFY ? run->recs[c->vrec].size : c->want_size;
		EVP_DigestFinal_ex(c->md, got, NULL);
		hex(got, 32, g);
		hex(want, 32, w);
		snprintf(etag, sizeof(etag), "\"%s\"", w);
		if (memcmp(got, want, 32) != 0 || c->rbytes != wsize || strcmp(c->etag, etag) != 0) {
			if (c->rk == RK_VERIFY) {
				run->lost++;
				fail(c, "LOST: %s: %lld bytes with sha256 %s (ETag %s); acknowledged %lld bytes, %s",
				    c->path, (long long)c->rbytes, g, c->etag, (long long)wsize, w);
			} else {
				fail(c, "%s: %lld bytes with sha256 %s (ETag %s); metadata says %lld bytes, %s",
				    c->path, (long long)c->rbytes, g, c->etag, (long long)wsize, w);
			}
		} else if (c->rk == RK_VERIFY) {
			run->verified++;
		} else {
			run->checkouts++;
		}
		c->op_active = 0;
		break;
	}
	case RK_COMMIT:
		j = body_json(c);
		if (c->status == 201) {
			json_int_t num = json_integer_value(json_object_get(j, "revision"));
			json_int_t size = json_integer_value(json_object_get(j, "size"));
			const char *sha = json_string_value(json_object_get(j, "sha256"));
			if (num != c->rev + 1 || !sha_eq(sha, c->body_sha) ||
			    size != (json_int_t)(c->prefix_len + c->pool_len)) {
				char w[65];
				hex(c->body_sha, 32, w);
				fail(c, "%s: 201 %s; sent %zu bytes with sha256 %s on base %lld", c->path,
				    body_snippet(c, snip, sizeof(snip)), c->prefix_len + c->pool_len, w,
				    (long long)c->rev);
			} else {
				run->commits++;
				add_record(c, num);
			}
			see_head(p, num);
			c->op_active = 0;
			break;
		}
		/* 409: someone committed first; the answer says what the head is */
		run->conflicts++;
		{
			json_t *h = json_object_get(json_object_get(j, "head"), "number");
			if (!json_is_integer(h)) {
				fail(c, "%s: 409 without the head: %s", c->path, body_snippet(c, snip, sizeof(snip)));
				c->op_active = 0;
				break;
			}
			see_head(p, json_integer_value(h));
		}
		if (++c->tries > run->o.retries || run->stopping) {
			run->gave_up++;
			c->op_active = 0;
		}
		break;
	case RK_LOCK:
		if (c->status == 201) {
			run->locks_taken++;
			c->step = 1;
		} else {
			run->locks_busy += c->status == 409;
			c->op_active = 0;
		}
		break;
	case RK_UNLOCK:
	case RK_N:
		c->op_active = 0;
		break;
	}
	json_decref(j);
}

static void
response_done(struct client *c)
{
	struct run *run = c->run;
	struct kstat *k = &run->ks[c->rk];
	uint64_t t = now_us();
	char snip[300];

	c->in_flight = 0;
	c->rstate = 0;
	bufferevent_set_timeouts(c->bev, NULL, NULL);
	k->count++;
	k->st[c->status]++;
	if (run->t_all_in != 0 && t >= run->t_warm && t <= run->t_stop && c->rk != RK_VERIFY) {
		k->measured++;
		h_add(&k->h, t - c->t_sent);
	}
	if (c->conn_close) {
		run->server_closes++;
		conn_kill(c, 1);
	}
	if (!status_expected(c->rk, c->status)) {
		k->unexpected++;
		if (c->rk == RK_VERIFY) {
			run->lost++;
			fail(c, "LOST: %s answered %d %s", c->path, c->status, body_snippet(c, snip, sizeof(snip)));
		} else {
			fail(c, "%s %s answered %d %s", c->method, c->path, c->status,
			    body_snippet(c, snip, sizeof(snip)));
		}
		if (c->rk == RK_LOGIN)
			c->login_fails++;
		c->op_active = 0;
	} else {
		op_answer(c);
	}
	if (c->op_active)
		schedule(c, 0);
	else if (c->token[0] == '\0')
		schedule(c, 1000000); /* a failed login: one try a second */
	else
		schedule(c, UINT64_MAX);
}

/* ---- the client's life: ramp, operations, the read-back, done */

/* Runs the step callback after delay µs (UINT64_MAX: the think time). */
static void
schedule(struct client *c, uint64_t delay)
{
	struct timeval tv;

	if (delay == UINT64_MAX)
		delay = c->run->o.think_ms > 0 ? rnd(c) % (uint64_t)(2000 * c->run->o.think_ms + 1) : 0;
	event_del(c->ev_step); /* the last call wins */
	if (delay == 0) {
		event_active(c->ev_step, EV_TIMEOUT, 0);
		return;
	}
	tv.tv_sec = (time_t)(delay / 1000000);
	tv.tv_usec = (suseconds_t)(delay % 1000000);
	evtimer_add(c->ev_step, &tv);
}

static void
client_done(struct client *c)
{
	struct run *run = c->run;

	if (c->done)
		return;
	c->done = 1;
	if (c->bev != NULL && !c->drop) {
		conn_kill(c, !c->in_flight);
	}
	conn_drop(c);
	if (--run->active == 0)
		event_base_loopexit(run->base, NULL);
}

static void
start_verify(struct run *run)
{
	run->verifying = 1;
	run->t_verify = now_us();
	if (!run->o.quiet && !run->o.verify)
		fprintf(stderr, "loadgen: load over; reading back %zu acknowledged revisions\n", run->nrecs);
	for (int i = 0; i < run->o.clients; i++) {
		struct client *c = &run->clients[i];
		if (c->parked && !c->done) {
			c->parked = 0;
			schedule(c, 0);
		}
	}
}

/* A client past the load phase waits until every client is, so that the
 * read-back sees every acknowledged revision; one that cannot take part
 * (no read-back wanted, or it never logged in) is done. */
static void
client_park(struct client *c, int can_verify)
{
	struct run *run = c->run;

	if (!c->counted_out) {
		c->counted_out = 1;
		run->busy--;
	}
	if (run->o.no_verify || !can_verify)
		client_done(c);
	else if (run->verifying)
		schedule(c, 0);
	else
		c->parked = 1;
	if (!run->verifying && run->busy == 0 && !run->o.no_verify)
		start_verify(run);
}

static enum op
pick_op(struct client *c)
{
	struct run *run = c->run;
	int r = (int)(rnd(c) % (uint64_t)run->total_weight);

	for (int i = 0; i < OP_N; i++) {
		if (r < run->o.weights[i])
			return (enum op)i;
		r -= run->o.weights[i];
	}
	return OP_PROJECTS;
}

static void
step_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client *c = arg;
	struct run *run = c->run;
	enum op op;

	(void)fd;
	(void)what;
	if (c->drop)
		conn_drop(c);
	if (c->done || c->in_flight)
		return;
	if (c->op_active) {
		op_issue(c);
		return;
	}
	if (c->token[0] == '\0') {
		/* never logged in: after LOGIN_TRIES failures, or once the load is
		 * over, there is nothing more it can do */
		if (c->login_fails >= LOGIN_TRIES || (run->stopping && !run->o.verify))
			client_park(c, 0);
		else
			op_begin(c, OP_LOGIN);
		return;
	}
	if (run->stopping) {
		if (!run->verifying) {
			client_park(c, 1);
			return;
		}
		if (run->vnext >= run->nrecs) {
			client_done(c);
			return;
		}
		c->vrec = run->vnext++;
		op_begin(c, OP_VERIFY);
		return;
	}
	op = pick_op(c);
	if (op == OP_LOGIN && run->stopping)
		op = OP_PROJECTS;
	op_begin(c, op);
}

/* ---- the run */

static void
stop_cb(evutil_socket_t fd, short what, void *arg)
{
	struct run *run = arg;

	(void)fd;
	(void)what;
	if (run->stopping)
		return;
	run->stopping = 1;
	run->t_stop = now_us();
	if (!run->o.quiet)
		fprintf(stderr, "loadgen: %.0f s over; finishing the operations in flight\n",
		    (double)(run->t_stop - run->t0) / 1e6);
	for (int i = 0; i < run->o.clients; i++) {
		struct client *c = &run->clients[i];
		/* clients that never started (short runs) or are thinking */
		if (!c->done && !c->in_flight && !c->op_active)
			schedule(c, 0);
	}
}

static void
deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct run *run = arg;

	(void)fd;
	(void)what;
	for (int i = 0; i < run->o.clients; i++) {
		struct client *c = &run->clients[i];
		if (c->done)
			continue;
		if (c->in_flight)
			fail(c, "did not finish: %s %s still waiting at the deadline", c->method, c->path);
		else
			fail(c, "did not finish by the deadline");
	}
	run->aborted = 1;
	event_base_loopexit(run->base, NULL);
}

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct run *run = arg;
	uint64_t answers = 0;

	(void)fd;
	(void)what;
	for (int i = 0; i < RK_N; i++)
		answers += run->ks[i].count;
	if (!run->o.quiet)
		fprintf(stderr,
		    "loadgen: t=%3.0fs %7.0f answers/s, %" PRIu64 " connections open, %" PRIu64
		    " commits, %" PRIu64 " conflicts, %" PRIu64 " unexpected\n",
		    (double)(now_us() - run->t0) / 1e6, (double)(answers - run->last_answers) / 5.0,
		    run->open_now, run->commits, run->conflicts, run->unexpected);
	run->last_answers = answers;
}

static void
int_cb(evutil_socket_t fd, short what, void *arg)
{
	struct run *run = arg;

	(void)fd;
	(void)what;
	if (!run->stopping) {
		stop_cb(-1, 0, run);
		return;
	}
	fprintf(stderr, "loadgen: interrupted\n");
	run->aborted = 1;
	event_base_loopexit(run->base, NULL);
}

/* ---- records: --record, --verify */

static int
write_records(const struct run *run, const char *path)
{
	FILE *f = fopen(path, "w");
	char h[65];

	if (f == NULL) {
		fprintf(stderr, "loadgen: %s: %s\n", path, strerror(errno));
		return -1;
	}
	fprintf(f, "# project\trevision\tsize\tsha256 (acknowledged by 201; atrium-loadgen)\n");
	for (size_t i = 0; i < run->nrecs; i++) {
		const struct record *r = &run->recs[i];
		hex(r->sha, 32, h);
		fprintf(f, "%s\t%" PRId64 "\t%" PRId64 "\t%s\n", run->projects[r->proj].name, r->num, r->size, h);
	}
	if (fclose(f) != 0) {
		fprintf(stderr, "loadgen: %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int
add_project(struct run *run, const char *name)
{
	struct project *n = realloc(run->projects, (size_t)(run->nprojects + 1) * sizeof(*n));

	if (n == NULL)
		return -1;
	run->projects = n;
	n = &run->projects[run->nprojects];
	memset(n, 0, sizeof(*n));
	snprintf(n->name, sizeof(n->name), "%s", name);
	pct_encode(name, n->enc, sizeof(n->enc));
	n->head = -1;
	return run->nprojects++;
}

static int
read_records(struct run *run, const char *path)
{
	FILE *f = fopen(path, "r");
	char line[1024];
	int ln = 0;

	if (f == NULL) {
		fprintf(stderr, "loadgen: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char name[200], sha[80];
		long long num, size;
		struct record *r;
		int k;
		ln++;
		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (sscanf(line, "%199[^\t]\t%lld\t%lld\t%79s", name, &num, &size, sha) != 4) {
			fprintf(stderr, "loadgen: %s:%d: expected PROJECT TAB NUMBER TAB SIZE TAB SHA256\n", path, ln);
			fclose(f);
			return -1;
		}
		if ((k = find_project(run, name)) == -1 && (k = add_project(run, name)) == -1)
			goto oom;
		if (run->nrecs == run->caprecs) {
			size_t cap = run->caprecs ? run->caprecs * 2 : 4096;
			struct record *n = realloc(run->recs, cap * sizeof(*n));
			if (n == NULL)
				goto oom;
			run->recs = n;
			run->caprecs = cap;
		}
		r = &run->recs[run->nrecs];
		r->proj = k;
		r->num = num;
		r->size = size;
		if (strlen(sha) != 64 || unhex(sha, r->sha, 32) == -1) {
			fprintf(stderr, "loadgen: %s:%d: bad sha256\n", path, ln);
			fclose(f);
			return -1;
		}
		run->nrecs++;
	}
	fclose(f);
	return 0;
oom:
	fclose(f);
	fprintf(stderr, "loadgen: out of memory\n");
	return -1;
}

static int
rec_cmp(const void *a, const void *b)
{
	const struct record *x = a, *y = b;

	if (x->proj != y->proj)
		return x->proj < y->proj ? -1 : 1;
	return x->num < y->num ? -1 : x->num > y->num;
}

/* Revision numbers acknowledged twice for one project: each one means an
 * acknowledged revision was overwritten, i.e. lost. */
static uint64_t
count_duplicates(struct run *run)
{
	struct record *s;
	uint64_t d = 0;

	if (run->nrecs < 2)
		return 0;
	if ((s = malloc(run->nrecs * sizeof(*s))) == NULL)
		return 0;
	memcpy(s, run->recs, run->nrecs * sizeof(*s));
	qsort(s, run->nrecs, sizeof(*s), rec_cmp);
	for (size_t i = 1; i < run->nrecs; i++)
		if (s[i].proj == s[i - 1].proj && s[i].num == s[i - 1].num)
			d++;
	free(s);
	return d;
}

/* ---- report */

static double
ms(uint64_t us)
{
	return (double)us / 1000.0;
}

static void
report(struct run *run, FILE *out, FILE *js)
{
	struct hist all;
	uint64_t answers = 0, measured = 0, unexpected_status = 0;
	double window = run->t_all_in && run->t_stop > run->t_warm ? (double)(run->t_stop - run->t_warm) / 1e6 : 0;
	double total = (double)(run->t_stop - run->t0) / 1e6;
	int first;

	memset(&all, 0, sizeof(all));
	for (int i = 0; i < RK_N; i++) {
		answers += run->ks[i].count;
		unexpected_status += run->ks[i].unexpected;
		if (i != RK_VERIFY) {
			measured += run->ks[i].measured;
			h_merge(&all, &run->ks[i].h);
		}
	}
	if (window <= 0)
		window = 1e-9;
	if (!run->o.verify) {
		fprintf(out, "loadgen: %d clients, %.0f s, TLS to %s:%d; measured window %.1f s to %.1f s "
		    "(warm-up %.0f s; every client logged in at %.1f s)\n",
		    run->o.clients, total, run->o.host, run->o.port, (double)(run->t_warm - run->t0) / 1e6,
		    (double)(run->t_stop - run->t0) / 1e6, run->o.warmup,
		    run->t_all_in ? (double)(run->t_all_in - run->t0) / 1e6 : -1.0);
		fprintf(out, "first logins (%" PRIu64 " clients, at once, scrypt on the server): p50 %.1f ms, "
		    "p99 %.1f ms, max %.1f ms\n", run->first_login.n, ms(h_pct(&run->first_login, 50)),
		    ms(h_pct(&run->first_login, 99)), ms(run->first_login.max));
		fprintf(out, "requests: %" PRIu64 " answered; %" PRIu64 " in the measured window = %.1f requests/s\n",
		    answers - run->ks[RK_VERIFY].count, measured, (double)measured / window);
		fprintf(out, "latency (measured window, all requests): p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, "
		    "p99.9 %.2f ms, max %.2f ms\n",
		    ms(h_pct(&all, 50)), ms(h_pct(&all, 90)), ms(h_pct(&all, 99)), ms(h_pct(&all, 99.9)), ms(all.max));
		fprintf(out, "%-10s %9s %9s %9s %9s %9s  %s\n", "request", "answers", "p50 ms", "p99 ms", "max ms",
		    "per s", "statuses (all answers)");
		for (int i = 0; i < RK_N; i++) {
			const struct kstat *k = &run->ks[i];
			char st[200];
			size_t o = 0;
			if (k->count == 0)
				continue;
			st[0] = '\0';
			for (int s = 0; s < 600 && o + 20 < sizeof(st); s++)
				if (k->st[s] != 0)
					o += (size_t)snprintf(st + o, sizeof(st) - o, "%s%d x %" PRIu64, o ? ", " : "", s, k->st[s]);
			if (i == RK_VERIFY) /* after the load: not timed */
				fprintf(out, "%-10s %9" PRIu64 " %9s %9s %9s %9s  %s\n", rk_name[i], k->count, "-", "-",
				    "-", "-", st);
			else
				fprintf(out, "%-10s %9" PRIu64 " %9.2f %9.2f %9.2f %9.1f  %s\n", rk_name[i], k->count,
				    ms(h_pct(&k->h, 50)), ms(h_pct(&k->h, 99)), ms(k->h.max), (double)k->measured / window,
				    st);
		}
		fprintf(out, "operations:");
		for (int i = 0; i < OP_N; i++)
			fprintf(out, " %s %" PRIu64, op_name[i], run->ops[i]);
		fprintf(out, "\n");
		fprintf(out, "commits: %" PRIu64 " acknowledged (201), %" PRIu64 " conflicts (409, expected, retried), "
		    "%" PRIu64 " given up after %d retries; checkouts verified: %" PRIu64 "; locks taken %" PRIu64
		    ", busy (409) %" PRIu64 "; logins %" PRIu64 "\n",
		    run->commits, run->conflicts, run->gave_up, run->o.retries, run->checkouts, run->locks_taken,
		    run->locks_busy, run->logins);
		fprintf(out, "connections: %" PRIu64 " opened (%" PRIu64 " resumed), peak %" PRIu64 " open at once, "
		    "%" PRIu64 " closed by the server after an answer (Connection: close), %" PRIu64
		    " closed while idle, %" PRIu64 " failed; set-up p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
		    run->conns, run->resumed, run->open_peak, run->server_closes, run->idle_closes, run->handshake_fail,
		    ms(h_pct(&run->hs, 50)), ms(h_pct(&run->hs, 99)), ms(run->hs.max));
		fprintf(out, "traffic: %.1f MB up, %.1f MB down\n", (double)run->bytes_up / 1e6,
		    (double)run->bytes_down / 1e6);
	}
	if (!run->o.no_verify)
		fprintf(out, "read-back: %zu acknowledged revisions, %" PRIu64 " read back intact, %" PRIu64
		    " numbers acknowledged twice, %.1f s\n",
		    run->nrecs, run->verified, run->duplicates,
		    run->t_verify ? (double)(run->t_end - run->t_verify) / 1e6 : 0.0);
	fprintf(out, "lost revisions: %" PRIu64 "\n", run->lost);
	fprintf(out, "unexpected errors: %" PRIu64 "%s\n", run->unexpected, run->aborted ? " (run aborted)" : "");
	for (int i = 0; i < run->nerrs; i++)
		fprintf(out, "  %s\n", run->errs[i]);
	if (run->unexpected > (uint64_t)run->nerrs)
		fprintf(out, "  ... and %" PRIu64 " more\n", run->unexpected - (uint64_t)run->nerrs);

	if (js == NULL)
		return;
	fprintf(js, "{\"clients\": %d, \"duration_s\": %.3f, \"warmup_s\": %.3f, \"measured_s\": %.3f, "
	    "\"window_start_s\": %.3f, \"all_logged_in_s\": %.3f, \"first_login_p50_ms\": %.3f, "
	    "\"first_login_p99_ms\": %.3f, \"first_login_max_ms\": %.3f, ",
	    run->o.clients, total, run->o.warmup, window, (double)(run->t_warm - run->t0) / 1e6,
	    run->t_all_in ? (double)(run->t_all_in - run->t0) / 1e6 : -1.0, ms(h_pct(&run->first_login, 50)),
	    ms(h_pct(&run->first_login, 99)), ms(run->first_login.max));
	fprintf(js, "\"min_size\": %" PRId64 ", \"max_size\": %" PRId64 ", \"retries\": %d, \"think_ms\": %d, "
	    "\"ramp_s\": %.3f, \"projects\": %d, \"users\": %d, \"mix\": {",
	    run->o.min_size, run->o.max_size, run->o.retries, run->o.think_ms, run->o.ramp, run->nprojects,
	    run->o.users);
	for (int i = 0; i < OP_N; i++)
		fprintf(js, "%s\"%s\": %d", i ? ", " : "", op_name[i], run->o.weights[i]);
	fprintf(js, "}, ");
	fprintf(js, "\"requests\": %" PRIu64 ", \"requests_measured\": %" PRIu64 ", \"rps\": %.1f, "
	    "\"p50_ms\": %.3f, \"p90_ms\": %.3f, \"p99_ms\": %.3f, \"p999_ms\": %.3f, \"max_ms\": %.3f, ",
	    answers - run->ks[RK_VERIFY].count, measured,
	    window > 0 ? (double)measured / window : 0.0, ms(h_pct(&all, 50)), ms(h_pct(&all, 90)), ms(h_pct(&all, 99)),
	    ms(h_pct(&all, 99.9)), ms(all.max));
	fprintf(js, "\"unexpected\": %" PRIu64 ", \"unexpected_status\": %" PRIu64 ", \"lost\": %" PRIu64
	    ", \"acknowledged\": %zu, \"verified\": %" PRIu64 ", \"duplicates\": %" PRIu64 ", \"aborted\": %d, "
	    "\"commits\": %" PRIu64 ", \"conflicts\": %" PRIu64 ", \"gave_up\": %" PRIu64 ", \"checkouts\": %" PRIu64
	    ", \"logins\": %" PRIu64 ", \"locks_taken\": %" PRIu64 ", \"locks_busy\": %" PRIu64 ", ",
	    run->unexpected, unexpected_status, run->lost, run->nrecs, run->verified, run->duplicates, run->aborted,
	    run->commits, run->conflicts, run->gave_up, run->checkouts, run->logins, run->locks_taken, run->locks_busy);
	fprintf(js, "\"connections\": %" PRIu64 ", \"resumed\": %" PRIu64 ", \"open_peak\": %" PRIu64
	    ", \"server_closes\": %" PRIu64 ", \"idle_closes\": %" PRIu64 ", \"connect_failed\": %" PRIu64
	    ", \"connect_p50_ms\": %.3f, \"connect_p99_ms\": %.3f, \"bytes_up\": %" PRIu64 ", \"bytes_down\": %" PRIu64
	    ", \"verify_s\": %.3f, \"kinds\": {",
	    run->conns, run->resumed, run->open_peak, run->server_closes, run->idle_closes, run->handshake_fail,
	    ms(h_pct(&run->hs, 50)), ms(h_pct(&run->hs, 99)), run->bytes_up, run->bytes_down,
	    run->t_verify ? (double)(run->t_end - run->t_verify) / 1e6 : 0.0);
	first = 1;
	for (int i = 0; i < RK_N; i++) {
		const struct kstat *k = &run->ks[i];
		int f2 = 1;
		if (k->count == 0)
			continue;
		fprintf(js, "%s\"%s\": {\"count\": %" PRIu64 ", \"measured\": %" PRIu64 ", \"p50_ms\": %.3f, "
		    "\"p99_ms\": %.3f, \"max_ms\": %.3f, \"status\": {",
		    first ? "" : ", ", rk_name[i], k->count, k->measured, ms(h_pct(&k->h, 50)), ms(h_pct(&k->h, 99)),
		    ms(k->h.max));
		for (int s = 0; s < 600; s++)
			if (k->st[s] != 0) {
				fprintf(js, "%s\"%d\": %" PRIu64, f2 ? "" : ", ", s, k->st[s]);
				f2 = 0;
			}
		fprintf(js, "}}");
		first = 0;
	}
	fprintf(js, "}, \"errors\": [");
	for (int i = 0; i < run->nerrs; i++) {
		json_t *s = json_string(run->errs[i]);
		char *t = s != NULL ? json_dumps(s, JSON_ENCODE_ANY) : NULL;
		fprintf(js, "%s%s", i ? ", " : "", t != NULL ? t : "\"?\"");
		free(t);
		json_decref(s);
	}
	fprintf(js, "]}\n");
}

/* ---- options */

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: loadgen --cafile CA.crt [options]\n"
	    "       loadgen --cafile CA.crt --verify RECORDS [options]\n"
	    "\n"
	    "Opens --clients keep-alive TLS connections to atriumd's API port and runs a\n"
	    "mix of logins, listings, commits, checkouts and lock operations on each for\n"
	    "--duration seconds, then reads back every acknowledged revision.\n"
	    "\n"
	    "  --host H            server address (127.0.0.1); checked against the certificate\n"
	    "  --port N            TLS API port (10002)\n"
	    "  --cafile F          CA certificate(s) to verify the server with (DIR/tls/ca.crt)\n"
	    "  --clients N         concurrent clients = connections (500)\n"
	    "  --duration S        seconds of load, warm-up included (60)\n"
	    "  --warmup S          first seconds left out of the latency and rate figures (10);\n"
	    "                      the figures also wait until every client has logged in once\n"
	    "  --ramp S            seconds over which the clients connect (5)\n"
	    "  --user NAME         user name (load); with --users N > 1: NAME1 .. NAMEn,\n"
	    "                      client i logging in as NAME(i mod N + 1)\n"
	    "  --users N           number of users (1)\n"
	    "  --password P        their password\n"
	    "  --password-file F   ... or read it from the first line of F\n"
	    "  --projects N        projects PREFIX1 .. PREFIXn, made beforehand (50)\n"
	    "  --project-prefix P  (load-)\n"
	    "  --min-size B        smallest commit body in bytes (4096)\n"
	    "  --max-size B        largest commit body in bytes (131072); log-uniform between\n"
	    "  --retries N         commit retries after a 409 before giving up (20)\n"
	    "  --mix W,W,W,W,W,W,W weights of login,projects,project,revisions,commit,checkout,\n"
	    "                      lock (1,15,15,10,15,30,14)\n"
	    "  --think-ms MS       mean pause between a client's operations (0: closed loop)\n"
	    "  --timeout S         seconds without progress before a request fails (30)\n"
	    "  --grace S           seconds after --duration for the read-back before giving up (120)\n"
	    "  --no-verify         no read-back at the end\n"
	    "  --record F          write the acknowledged revisions to F (TSV)\n"
	    "  --verify F          no load: read back the revisions listed in F (as --record writes)\n"
	    "  --json F            write the figures to F as one JSON object\n"
	    "  --seed N            random seed (from the clock)\n"
	    "  --quiet             no progress lines on stderr\n"
	    "  --help\n"
	    "\n"
	    "Exit status: 0 when requests were answered with no unexpected error and no\n"
	    "acknowledged revision was lost; 1 otherwise; 2 on a usage error.\n");
}

static int
num_opt(const char *name, const char *v, double lo, double hi, double *out)
{
	char *end;
	double d;

	errno = 0;
	d = strtod(v, &end);
	if (errno != 0 || end == v || *end != '\0' || !(d >= lo && d <= hi)) {
		fprintf(stderr, "loadgen: --%s wants a number from %g to %g, not '%s'\n", name, lo, hi, v);
		return -1;
	}
	*out = d;
	return 0;
}

static int
parse_opts(struct opts *o, int argc, char **argv)
{
	static const struct option lo[] = {
		{"host", required_argument, NULL, 'H'}, {"port", required_argument, NULL, 'p'},
		{"cafile", required_argument, NULL, 'C'}, {"clients", required_argument, NULL, 'c'},
		{"duration", required_argument, NULL, 'd'}, {"warmup", required_argument, NULL, 'w'},
		{"ramp", required_argument, NULL, 'r'}, {"user", required_argument, NULL, 'u'},
		{"users", required_argument, NULL, 'U'}, {"password", required_argument, NULL, 'P'},
		{"password-file", required_argument, NULL, 'F'}, {"projects", required_argument, NULL, 'n'},
		{"project-prefix", required_argument, NULL, 'x'}, {"min-size", required_argument, NULL, 'm'},
		{"max-size", required_argument, NULL, 'M'}, {"retries", required_argument, NULL, 'R'},
		{"mix", required_argument, NULL, 'X'}, {"think-ms", required_argument, NULL, 't'},
		{"timeout", required_argument, NULL, 'T'}, {"grace", required_argument, NULL, 'g'},
		{"no-verify", no_argument, NULL, 'N'}, {"record", required_argument, NULL, 'o'},
		{"verify", required_argument, NULL, 'V'}, {"json", required_argument, NULL, 'j'},
		{"seed", required_argument, NULL, 's'}, {"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}
	};
	int ch, have_pw = 0;
	double d;

	memset(o, 0, sizeof(*o));
	o->host = "127.0.0.1";
	o->port = 10002;
	o->clients = 500;
	o->duration = 60;
	o->warmup = 10;
	o->ramp = 5;
	o->user = "load";
	o->users = 1;
	o->projects = 50;
	o->prefix = "load-";
	o->min_size = 4096;
	o->max_size = 131072;
	o->retries = 20;
	o->timeout = 30;
	o->grace = 120;
	o->seed = (unsigned long long)time(NULL) ^ ((unsigned long long)getpid() << 20);
	memcpy(o->weights, op_default_weight, sizeof(o->weights));
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'H': o->host = optarg; break;
		case 'C': o->cafile = optarg; break;
		case 'u': o->user = optarg; break;
		case 'x': o->prefix = optarg; break;
		case 'o': o->record = optarg; break;
		case 'V': o->verify = optarg; break;
		case 'j': o->json = optarg; break;
		case 'N': o->no_verify = 1; break;
		case 'q': o->quiet = 1; break;
		case 'h': usage(stdout); exit(0);
		case 'P':
			snprintf(o->password, sizeof(o->password), "%s", optarg);
			have_pw = 1;
			break;
		case 'F': {
			FILE *f = fopen(optarg, "r");
			if (f == NULL || fgets(o->password, sizeof(o->password), f) == NULL) {
				fprintf(stderr, "loadgen: cannot read the password from %s: %s\n", optarg,
				    f == NULL ? strerror(errno) : "empty file");
				if (f != NULL)
					fclose(f);
				return -1;
			}
			fclose(f);
			o->password[strcspn(o->password, "\r\n")] = '\0';
			have_pw = 1;
			break;
		}
		case 'X': {
			char *s = optarg, *end;
			for (int i = 0; i < OP_N; i++) {
				long v = strtol(s, &end, 10);
				if (end == s || v < 0 || v > 1000000 || (i < OP_N - 1 ? *end != ',' : *end != '\0')) {
					fprintf(stderr, "loadgen: --mix wants %d weights separated by commas "
					    "(login,projects,project,revisions,commit,checkout,lock)\n", OP_N);
					return -1;
				}
				o->weights[i] = (int)v;
				s = end + 1;
			}
			break;
		}
		case 's': {
			char *end;
			o->seed = strtoull(optarg, &end, 10);
			if (end == optarg || *end != '\0') {
				fprintf(stderr, "loadgen: --seed wants a number\n");
				return -1;
			}
			break;
		}
		default: {
			/* numeric options */
			static const struct { int ch; const char *name; double lo, hi; } nums[] = {
				{'p', "port", 1, 65535}, {'c', "clients", 1, 100000}, {'d', "duration", 0.1, 86400},
				{'w', "warmup", 0, 86400}, {'r', "ramp", 0, 3600}, {'U', "users", 1, 100000},
				{'n', "projects", 1, 100000}, {'m', "min-size", 1, 1e12}, {'M', "max-size", 1, 1e12},
				{'R', "retries", 0, 1000000}, {'t', "think-ms", 0, 3600000}, {'T', "timeout", 0.1, 86400},
				{'g', "grace", 1, 86400},
			};
			size_t i;
			for (i = 0; i < sizeof(nums) / sizeof(nums[0]); i++)
				if (nums[i].ch == ch)
					break;
			if (i == sizeof(nums) / sizeof(nums[0])) {
				usage(stderr);
				return -1;
			}
			if (num_opt(nums[i].name, optarg, nums[i].lo, nums[i].hi, &d) == -1)
				return -1;
			switch (ch) {
			case 'p': o->port = (int)d; break;
			case 'c': o->clients = (int)d; break;
			case 'd': o->duration = d; break;
			case 'w': o->warmup = d; break;
			case 'r': o->ramp = d; break;
			case 'U': o->users = (int)d; break;
			case 'n': o->projects = (int)d; break;
			case 'm': o->min_size = (int64_t)d; break;
			case 'M': o->max_size = (int64_t)d; break;
			case 'R': o->retries = (int)d; break;
			case 't': o->think_ms = (int)d; break;
			case 'T': o->timeout = d; break;
			case 'g': o->grace = d; break;
			}
		}
		}
	}
	if (optind != argc) {
		fprintf(stderr, "loadgen: unexpected argument '%s' (see --help)\n", argv[optind]);
		return -1;
	}
	if (o->cafile == NULL) {
		fprintf(stderr, "loadgen: --cafile is required: the CA that issued the server's certificate "
		    "(atriumd's local CA is DIR/tls/ca.crt)\n");
		return -1;
	}
	if (!have_pw) {
		fprintf(stderr, "loadgen: give the users' password with --password or --password-file\n");
		return -1;
	}
	if (o->min_size > o->max_size) {
		fprintf(stderr, "loadgen: --min-size is larger than --max-size\n");
		return -1;
	}
	if (o->warmup >= o->duration && o->verify == NULL) {
		fprintf(stderr, "loadgen: --warmup must be shorter than --duration\n");
		return -1;
	}
	d = 0;
	for (int i = 0; i < OP_N; i++)
		d += o->weights[i];
	if (d <= 0) {
		fprintf(stderr, "loadgen: --mix: every weight is 0\n");
		return -1;
	}
	if (o->verify != NULL && o->no_verify) {
		fprintf(stderr, "loadgen: --verify and --no-verify contradict each other\n");
		return -1;
	}
	return 0;
}

/* ---- set-up */

static int
setup(struct run *run)
{
	struct opts *o = &run->o;
	struct addrinfo hints, *ai;
	struct in6_addr a6;
	struct rlimit rl;
	char name[200];
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(o->host, NULL, &hints, &ai)) != 0) {
		fprintf(stderr, "loadgen: %s: %s\n", o->host, gai_strerror(rc));
		return -1;
	}
	memcpy(&run->addr, ai->ai_addr, ai->ai_addrlen);
	run->addrlen = ai->ai_addrlen;
	if (run->addr.ss_family == AF_INET)
		((struct sockaddr_in *)&run->addr)->sin_port = htons((uint16_t)o->port);
	else
		((struct sockaddr_in6 *)&run->addr)->sin6_port = htons((uint16_t)o->port);
	freeaddrinfo(ai);
	run->host_is_ip = inet_pton(AF_INET, o->host, &a6) == 1 || inet_pton(AF_INET6, o->host, &a6) == 1;

	/* one descriptor per client, and some */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)o->clients + 64) {
		rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > (rlim_t)o->clients + 64
		    ? (rlim_t)o->clients + 64 : rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)o->clients + 16) {
			fprintf(stderr, "loadgen: %d clients need %d file descriptors; the limit is %llu "
			    "(raise it: ulimit -n %d)\n", o->clients, o->clients + 64,
			    (unsigned long long)rl.rlim_cur, o->clients + 64);
			return -1;
		}
	}

	ERR_clear_error();
	if ((run->ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
	    SSL_CTX_set_min_proto_version(run->ctx, TLS1_2_VERSION) != 1) {
		fprintf(stderr, "loadgen: cannot make a TLS context\n");
		return -1;
	}
	if (SSL_CTX_load_verify_locations(run->ctx, o->cafile, NULL) != 1) {
		char e[256];
		ERR_error_string_n(ERR_peek_last_error(), e, sizeof(e));
		fprintf(stderr, "loadgen: cannot load the CA file %s: %s\n", o->cafile, e);
		return -1;
	}
	SSL_CTX_set_verify(run->ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_session_cache_mode(run->ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);

	if ((run->users = calloc((size_t)o->users, sizeof(*run->users))) == NULL)
		return -1;
	for (int i = 0; i < o->users; i++) {
		struct user *u = &run->users[i];
		json_t *b;
		if (o->users == 1)
			snprintf(u->name, sizeof(u->name), "%s", o->user);
		else
			snprintf(u->name, sizeof(u->name), "%s%d", o->user, i + 1);
		b = json_pack("{s:s,s:s}", "user", u->name, "password", o->password);
		u->login_body = b != NULL ? json_dumps(b, JSON_COMPACT) : NULL;
		json_decref(b);
		if (u->login_body == NULL)
			return -1;
	}
	OPENSSL_cleanse(o->password, sizeof(o->password));

	if (o->verify != NULL) {
		if (read_records(run, o->verify) == -1)
			return -1;
	} else {
		for (int i = 0; i < o->projects; i++) {
			snprintf(name, sizeof(name), "%s%d", o->prefix, i + 1);
			if (add_project(run, name) == -1)
				return -1;
		}
	}
	for (int i = 0; i < OP_N; i++)
		run->total_weight += o->weights[i];

	run->pool_len = (size_t)o->max_size * 2 > 1048576 ? (size_t)o->max_size * 2 : 1048576;
	if ((run->pool = malloc(run->pool_len)) == NULL || RAND_bytes(run->pool, (int)run->pool_len) != 1) {
		fprintf(stderr, "loadgen: cannot make %zu random bytes\n", run->pool_len);
		return -1;
	}
	if (RAND_bytes((unsigned char *)&run->run_id, sizeof(run->run_id)) != 1)
		return -1;

	if ((run->base = event_base_new()) == NULL)
		return -1;
	if ((run->clients = calloc((size_t)o->clients, sizeof(*run->clients))) == NULL)
		return -1;
	for (int i = 0; i < o->clients; i++) {
		struct client *c = &run->clients[i];
		c->run = run;
		c->id = i;
		c->rng = (o->seed + 1) * 0x9E3779B97F4A7C15ull + (uint64_t)i * 0xBF58476D1CE4E5B9ull + 1;
		for (int k = 0; k < 4; k++)
			rnd(c);
		c->user = &run->users[i % o->users];
		c->proj = -1;
		if ((c->ev_step = evtimer_new(run->base, step_cb, c)) == NULL ||
		    (c->md = EVP_MD_CTX_new()) == NULL || (c->rbody = evbuffer_new()) == NULL)
			return -1;
	}
	run->busy = run->active = o->clients;
	return 0;
}

/* Frees everything setup() and the run made. */
static void
teardown(struct run *run)
{
	for (int i = 0; run->clients != NULL && i < run->o.clients; i++) {
		struct client *c = &run->clients[i];
		if (c->bev != NULL) {
			conn_kill(c, 0);
			conn_drop(c);
		}
		if (c->ev_step != NULL)
			event_free(c->ev_step);
		SSL_SESSION_free(c->sess);
		EVP_MD_CTX_free(c->md);
		if (c->rbody != NULL)
			evbuffer_free(c->rbody);
	}
	free(run->clients);
	if (run->ev_stop != NULL)
		event_free(run->ev_stop);
	if (run->ev_deadline != NULL)
		event_free(run->ev_deadline);
	if (run->ev_tick != NULL)
		event_free(run->ev_tick);
	if (run->ev_int != NULL)
		event_free(run->ev_int);
	if (run->base != NULL)
		event_base_free(run->base);
	SSL_CTX_free(run->ctx);
	for (int i = 0; run->users != NULL && i < run->o.users; i++)
		free(run->users[i].login_body);
	free(run->users);
	for (int i = 0; i < run->nprojects; i++)
		free(run->projects[i].recs);
	free(run->projects);
	free(run->recs);
	free(run->pool);
	free(run);
}

int
main(int argc, char **argv)
{
	struct run *run = calloc(1, sizeof(*run));
	struct timeval tv;
	FILE *js = NULL;
	int ok;

	if (run == NULL)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	if (parse_opts(&run->o, argc, argv) == -1)
		return 2;
	if (setup(run) == -1) {
		fprintf(stderr, "loadgen: set-up failed\n");
		return 1;
	}
	run->t0 = now_us();
	if (run->o.verify != NULL) {
		/* no load: every client logs in, then they share the read-back */
		run->stopping = 1;
		run->verifying = 1;
		run->t_verify = run->t_warm = run->t_stop = run->t0;
		run->busy = 0;
	} else {
		run->t_warm = run->t0 + (uint64_t)(run->o.warmup * 1e6);
		run->t_stop = run->t0 + (uint64_t)(run->o.duration * 1e6);
		tv.tv_sec = (time_t)run->o.duration;
		tv.tv_usec = (suseconds_t)((run->o.duration - (double)tv.tv_sec) * 1e6);
		run->ev_stop = evtimer_new(run->base, stop_cb, run);
		evtimer_add(run->ev_stop, &tv);
		run->ev_tick = event_new(run->base, -1, EV_PERSIST, tick_cb, run);
		tv.tv_sec = 5;
		tv.tv_usec = 0;
		evtimer_add(run->ev_tick, &tv);
	}
	tv.tv_sec = (time_t)((run->o.verify ? 0 : run->o.duration) + run->o.grace);
	tv.tv_usec = 0;
	run->ev_deadline = evtimer_new(run->base, deadline_cb, run);
	evtimer_add(run->ev_deadline, &tv);
	run->ev_int = evsignal_new(run->base, SIGINT, int_cb, run);
	event_add(run->ev_int, NULL);
	for (int i = 0; i < run->o.clients; i++) {
		/* connections ramped over --ramp seconds */
		uint64_t at = run->o.verify ? 0 : (uint64_t)(run->o.ramp * 1e6 * i / run->o.clients);
		schedule(&run->clients[i], at);
	}
	if (!run->o.quiet)
		fprintf(stderr, "loadgen: %d clients to %s:%d over %.0f s, %s\n", run->o.clients, run->o.host,
		    run->o.port, run->o.ramp, run->o.verify ? "read-back only" : "load running");
	event_base_dispatch(run->base);
	run->t_end = now_us();
	if (!run->stopping)
		run->t_stop = run->t_end;
	if (run->verifying && !run->aborted && !run->o.no_verify && run->verified + run->lost < run->nrecs) {
		/* a read-back that could not happen counts as lost */
		struct client *c0 = &run->clients[0];
		fail(c0, "%zu acknowledged revisions were not read back", run->nrecs - (size_t)(run->verified + run->lost));
		run->lost += run->nrecs - (run->verified + run->lost);
	}
	run->duplicates = count_duplicates(run);
	run->lost += run->duplicates;
	if (run->o.json != NULL && (js = fopen(run->o.json, "w")) == NULL)
		fprintf(stderr, "loadgen: %s: %s\n", run->o.json, strerror(errno));
	report(run, stdout, js);
	if (js != NULL)
		fclose(js);
	if (run->o.record != NULL && run->o.verify == NULL)
		write_records(run, run->o.record);
	ok = run->unexpected == 0 && run->lost == 0 && !run->aborted &&
	    (run->o.verify ? run->verified == run->nrecs : run->ks[RK_LOGIN].count > 0);
	teardown(run);
	return ok ? 0 : 1;
}
