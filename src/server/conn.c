/*
 * Connections: bytes in, HTTP requests parsed with http-parser, responses
 * out, with backpressure in both directions.
 *
 * One request is handled at a time per connection. While a request waits
 * for its handler (possibly on the job pool) reading stops, so a client
 * cannot make the server buffer without bound. Bodies of JSON calls are
 * buffered up to REQ_JSON_MAX; revision content streams into a blob writer
 * as it arrives. File responses are fed to the socket in chunks as the
 * output drains, so memory stays flat whatever the file size.
 *
 * A connection is freed only in conn_free(), and never while a job holds
 * its request: a connection that dies meanwhile is marked and freed when
 * the job comes back.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <http_parser.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "atrium/log.h"
#include "server/evstream.h"
#include "server/req_int.h"
#include "server/server_int.h"

#define FILE_CHUNK (256 * 1024)
#define OUT_HIGH (512 * 1024)
#define OUT_LOW (128 * 1024)
#define IN_HIGH (256 * 1024)
#define UPLOAD_PIECE (1024 * 1024)
#define BULK_READ (256 * 1024)
#define LINGER_SECONDS 2

enum conn_state {
	C_READ,  /* reading a request (or waiting for one) */
	C_WAIT,  /* a handler (or begin step) is running */
	C_WRITE, /* sending a response */
	C_LINGER, /* answered and closing: reading what the client still sends */
	C_STREAM, /* a change stream: the hub writes events until either side ends */
};

struct conn {
	struct loop *lp;
	struct server *srv;
	struct bufferevent *bev; /* NULL once the socket is gone */
	enum listener_kind kind;
	http_parser parser;
	struct req *req;
	enum conn_state state;
	int close_after;  /* close when the response is out */
	int dead;         /* socket gone; free when the job returns */
	int responded;    /* response of the current request is queued */
	int in_parse;     /* inside http_parser_execute: never re-enter it */
	char peer[INET6_ADDRSTRLEN];
	struct conn *prev, *next;
	int fd;
	int tls;              /* speaks TLS */
	int handshaken;       /* the TLS handshake completed */
	int headers_done;     /* the current request's headers are in */
	int read_timeout;     /* seconds; what the bufferevent has now */
	int64_t deadline;     /* monotonic ms: handshake or headers due; 0: none */
	struct event *bulk;   /* plain uploads: big reads straight off the socket */
	unsigned char *bulkbuf;

	/* Where the header callbacks' bytes sit, to see obs-fold (see
	 * value_folded): the piece being parsed, and the end of the last
	 * header name or value piece with the number of its chunk. */
	const char *chunk;
	unsigned chunk_seq, hprev_seq; /* hprev_seq 0: no piece yet */
	const char *hprev_end;
	int gap_lf;           /* an LF after hprev_end in an earlier chunk */

	/* A file or blob response in progress. */
	int ffd;
	off_t foff, fleft;
	struct evbuffer_file_segment *seg;
	struct store_blob_reader *rd; /* content read on the job pool */
	struct evs_watcher *watch;    /* C_STREAM: our watcher (evstream.h) */

	/* Jobs that point at this connection; it is freed only when none is
	 * outstanding (the request's own job is state C_WAIT). */
	struct piece_job {
		struct job job;
		struct conn *c;
		unsigned char *buf;
		size_t len, cap;
		int64_t got;
		struct atr_err err;
		int pending;
	} *rjob, *wjob; /* allocated on first use: most connections never need them */
};

static void conn_parse(struct conn *c);
static void conn_free(struct conn *c);
static void conn_respond(struct req *r);
static void conn_begin_done(struct req *r);
static int conn_upload_flush(struct req *r, struct atr_err *err);
static void answer_plain(struct conn *c, int fd);
static void redirect_to_https(struct conn *c, int fd);
static void upload_flush_async(struct conn *c);

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Read timeout: idle_timeout between requests, upload_stall_timeout
 * inside a body; the write side always has idle_timeout. Changed only
 * when it differs, so keep-alive requests cost no timer updates. */
static void
set_read_timeout(struct conn *c, int seconds)
{
	struct timeval rd = {seconds, 0}, wr = {atomic_load(&c->srv->rt.idle_timeout), 0};

	if (c->bev == NULL || c->read_timeout == seconds)
		return;
	c->read_timeout = seconds;
	bufferevent_set_timeouts(c->bev, &rd, &wr);
}

/* ---- byte classes for hand-written scans of request bytes. memchr with
 * the set's length, never strchr: strchr also "finds" the NUL ending the set. */

static int
ascii_alnum(unsigned char ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

/* RFC 9110 5.6.2 tchar: what a header field name is made of. */
static int
is_tchar(unsigned char ch)
{
	static const char extra[] = "!#$%&'*+-.^_`|~";

	return ascii_alnum(ch) || (ch != 0 && memchr(extra, ch, sizeof(extra) - 1) != NULL);
}

/* A host name, IPv4 or bracketed IPv6 literal, with a port. */
static int
is_host_char(unsigned char ch)
{
	static const char extra[] = ".-:[]";

	return ascii_alnum(ch) || (ch != 0 && memchr(extra, ch, sizeof(extra) - 1) != NULL);
}

/* ---- http-parser callbacks: they only collect; decisions come after. */

static struct conn *
parser_conn(http_parser *p)
{
	return p->data;
}

static int
on_message_begin(http_parser *p)
{
	struct conn *c = parser_conn(p);
	/* The request reaches us only through these. */
	const struct req_owner owner = {
		.finish = conn_respond,
		.begun = conn_begin_done,
		.upload_flush = conn_upload_flush,
		.ctx = c,
	};
	const struct req_env env = {
		.rt = &c->srv->rt,
		.pool = c->srv->pool,
		.inbox = &c->lp->inbox,
		.sc = c->lp->sc,
	};

	req_free(c->req);
	c->req = req_new(&owner, &env, c->peer, c->kind == LK_ADMIN);
	if (c->req != NULL && c->tls && c->bev != NULL)
		req_set_client_cert(c->req, bufferevent_openssl_get_ssl(c->bev));
	c->responded = 0;
	c->headers_done = 0;
	c->hprev_seq = 0;
	c->gap_lf = 0;
	if (c->req == NULL)
		return -1;
	return 0;
}

static int
on_url(http_parser *p, const char *at, size_t len)
{
	struct req *r = parser_conn(p)->req;
	char *bigger;

	if (r->urllen + len > REQ_URL_MAX) {
		r->status = 414;
		return -1;
	}
	if ((bigger = realloc(r->url, r->urllen + len + 1)) == NULL)
		return -1;
	r->url = bigger;
	memcpy(r->url + r->urllen, at, len);
	r->urllen += len;
	r->url[r->urllen] = '\0';
	return 0;
}

/* Appends header bytes; a new name or value starts after a NUL. */
static int
header_bytes(struct req *r, const char *at, size_t len, int is_value)
{
	int starts = is_value != r->in_value || r->nhdrs == 0;

	if (!is_value && r->in_value)
		starts = 1;
	if (starts && !is_value && r->nhdrs == REQ_HEADERS_MAX) {
		r->status = 431;
		return -1;
	}
	if (r->hlen + len + 2 > REQ_HEADER_BYTES_MAX) {
		r->status = 431;
		return -1;
	}
	if (r->hlen + len + 2 > r->hcap) {
		size_t cap = r->hcap ? r->hcap : 1024;
		char *bigger;
		while (cap < r->hlen + len + 2)
			cap *= 2;
		if ((bigger = realloc(r->hbuf, cap)) == NULL)
			return -1;
		r->hbuf = bigger;
		r->hcap = cap;
	}
	if (starts) {
		if (r->hlen > 0)
			r->hbuf[r->hlen++] = '\0';
		if (!is_value)
			r->hdrs[r->nhdrs++].name = (uint32_t)r->hlen;
		else
			r->hdrs[r->nhdrs - 1].value = (uint32_t)r->hlen;
	}
	memcpy(r->hbuf + r->hlen, at, len);
	r->hlen += len;
	r->hbuf[r->hlen] = '\0';
	r->in_value = is_value;
	return 0;
}

/* Fails the parse: parse_error answers 400 with why. */
static int
bad_request(struct conn *c, const char *why)
{
	c->req->bad_request = why;
	return -1;
}

/* Remembers where a header name or value piece ends (see value_folded). */
static void
note_piece(struct conn *c, const char *at, size_t len)
{
	c->hprev_end = at + len;
	c->hprev_seq = c->chunk_seq;
}

/* http-parser (2.9) joins a field line that starts with SP or HTAB to the
 * value before it (obs-fold), and the ones after a name with an empty value
 * to that name. Such a value piece has an LF between it and the piece before
 * it; a value merely split between two reads has none. An empty value is
 * reported at the start of the next line, so it is no evidence. */
static int
value_folded(const struct conn *c, const char *at)
{
	const char *from = c->chunk;

	if (c->hprev_seq == c->chunk_seq)
		from = c->hprev_end;
	else if (c->gap_lf)
		return 1;
	return memchr(from, '\n', (size_t)(at - from)) != NULL;
}

/* The parser (built non-strict) lets a space into a field name, and then
 * honours "Content-Length : 5" and "Transfer-Encoding : chunked": a
 * smuggling primitive. RFC 9112 5.1: whitespace before the colon is a 400;
 * any byte that is not a tchar is refused the same way. */
static int
on_header_field(http_parser *p, const char *at, size_t len)
{
	struct conn *c = parser_conn(p);

	for (size_t i = 0; i < len; i++)
		if (!is_tchar((unsigned char)at[i]))
			return bad_request(c, "a header field name must be a token: no spaces, "
					      "separators or control characters (RFC 9110 5.1)");
	note_piece(c, at, len);
	return header_bytes(c->req, at, len, 0);
}

static int
on_header_value(http_parser *p, const char *at, size_t len)
{
	struct conn *c = parser_conn(p);
	struct req *r = c->req;

	if (r->nhdrs == 0)
		return -1;
	if (len > 0 && value_folded(c, at))
		return bad_request(c, "obsolete line folding is not accepted (RFC 9112 5.2)");
	note_piece(c, at, len);
	return header_bytes(r, at, len, 1);
}

/* What the request line and Host fields say, checked once the headers are
 * in: every problem with its answer. */
enum head_problem { HP_NONE, HP_HTTP09, HP_VERSION, HP_NO_HOST, HP_HOSTS };
static const struct {
	int status;
	enum atr_errcode code;
	const char *why;
} head_answers[] = {
	[HP_HTTP09] = {400, ATR_E_BAD_REQUEST, "a request line must end with the HTTP version (HTTP/0.9 is not supported)"},
	[HP_VERSION] = {505, ATR_E_BAD_REQUEST, "this server speaks HTTP/1.0 and HTTP/1.1"},
	[HP_NO_HOST] = {400, ATR_E_BAD_REQUEST, "an HTTP/1.1 request must have a Host header (RFC 9112 3.2)"},
	[HP_HOSTS] = {400, ATR_E_BAD_REQUEST, "a request must not have more than one Host header (RFC 9112 3.2)"},
};

static enum head_problem
head_problem(const http_parser *p, const struct req *r)
{
	int hosts = 0;

	if (p->http_major == 0)
		return HP_HTTP09;
	if (p->http_major != 1)
		return HP_VERSION;
	for (int i = 0; i < r->nhdrs; i++)
		hosts += strcasecmp(r->hbuf + r->hdrs[i].name, "Host") == 0;
	if (hosts > 1)
		return HP_HOSTS;
	if (hosts == 0 && p->http_minor >= 1)
		return HP_NO_HOST;
	return HP_NONE;
}

static void
respond_now(struct conn *c, int status, enum atr_errcode code, const char *sentence,
    int close_after)
{
	struct req *r = c->req;

	/* status, not the table's: 417, 501 and 505 have no code of their own. */
	resp_json(r, status, resp_error_body(code, sentence));
	c->close_after |= close_after;
	conn_respond(r);
}

static int
on_headers_complete(http_parser *p)
{
	struct conn *c = parser_conn(p);
	struct req *r = c->req;
	const char *expect;
	enum head_problem hp;

	c->headers_done = 1;
	c->deadline = 0;
	if (r->nhdrs > 0 && !r->in_value)
		r->hdrs[r->nhdrs - 1].value = (uint32_t)r->hlen; /* a name without value */
	if (p->content_length > 0 || (p->flags & F_CHUNKED))
		set_read_timeout(c, atomic_load(&c->srv->rt.upload_stall_timeout));
	if (r->hlen > 0)
		r->hlen++;
	r->method = p->method;
	if (p->flags & F_CONTENTLENGTH)
		r->content_length = (int64_t)p->content_length;
	if (!http_should_keep_alive(p))
		c->close_after = 1;
	r->http10 = p->http_major == 1 && p->http_minor == 0;
	if ((hp = head_problem(p, r)) != HP_NONE) {
		http_parser_pause(p, 1);
		c->state = C_WAIT;
		respond_now(c, head_answers[hp].status, head_answers[hp].code, head_answers[hp].why, 1);
		return 0;
	}
	if (p->upgrade) {
		http_parser_pause(p, 1);
		c->state = C_WAIT;
		respond_now(c, 501, ATR_E_BAD_REQUEST, "protocol upgrades are not supported", 1);
		return 0;
	}
	expect = req_header(r, "Expect");
	if (expect != NULL && strcasecmp(expect, "100-continue") != 0) {
		http_parser_pause(p, 1);
		c->state = C_WAIT;
		respond_now(c, 417, ATR_E_BAD_REQUEST, "only 'Expect: 100-continue' is supported", 1);
		return 0;
	}
	if (req_parse_target(r) == -1) {
		http_parser_pause(p, 1);
		c->state = C_WAIT;
		respond_now(c, 400, ATR_E_BAD_REQUEST, "the request target must be a path starting with '/'", 1);
		return 0;
	}
	http_parser_pause(p, 1);
	c->state = C_WAIT;
	switch (router_route(r)) {
	case ROUTE_BUFFER:
		c->state = C_READ;
		http_parser_pause(p, 0);
		if (expect != NULL && r->status == 0)
			bufferevent_write(c->bev, "HTTP/1.1 100 Continue\r\n\r\n", 25);
		break;
	case ROUTE_STREAM:
		router_begin(r);
		break;
	case ROUTE_RESPONDED:
		/* The body (if any) will not be read: close after answering. */
		if (r->content_length > 0 || (p->flags & F_CHUNKED))
			c->close_after = 1;
		conn_respond(r);
		break;
	}
	return 0;
}

static int jobs_pending(const struct conn *c);

/* The piece job in *slot, allocated on first use; NULL when out of memory. */
static struct piece_job *
piece(struct piece_job **slot)
{
	if (*slot == NULL)
		*slot = calloc(1, sizeof(**slot));
	return *slot;
}

/* ---- pieces of content through the job pool (blocking stores) */

static void
wjob_work(struct job *j, struct store_conn *sc)
{
	struct piece_job *pj = (struct piece_job *)j;
	struct req *r = pj->c->req;

	atr_err_clear(&pj->err);
	pj->got = store_blob_write(r->upload, sc, pj->buf, pj->len, &pj->err);
}

static void
wjob_done(struct job *j)
{
	struct piece_job *pj = (struct piece_job *)j;
	struct conn *c = pj->c;

	pj->pending = 0;
	pj->len = 0;
	if (c->dead) {
		conn_free(c);
		return;
	}
	if (pj->got == -1) {
		atr_error("upload from %s failed: %s", c->peer, atr_err_msg(&pj->err));
		store_blob_abort(req_take_upload(c->req));
		c->state = C_WAIT;
		resp_err(c->req, &pj->err);
		c->close_after = 1;
		conn_respond(c->req);
		return;
	}
	http_parser_pause(&c->parser, 0);
	bufferevent_enable(c->bev, EV_READ);
	conn_parse(c);
}

/* Collects upload bytes; about every UPLOAD_PIECE they go to the store on
 * the job pool while reading pauses (the store is the backpressure). */
static int
upload_piece(struct conn *c, const char *at, size_t len)
{
	struct piece_job *pj = piece(&c->wjob);

	if (pj == NULL)
		return -1;
	if (pj->len + len > pj->cap) {
		size_t cap = pj->len + len > UPLOAD_PIECE ? pj->len + len : UPLOAD_PIECE;
		unsigned char *bigger = realloc(pj->buf, cap);
		if (bigger == NULL)
			return -1;
		pj->buf = bigger;
		pj->cap = cap;
	}
	memcpy(pj->buf + pj->len, at, len);
	pj->len += len;
	if (pj->len >= UPLOAD_PIECE)
		upload_flush_async(c);
	return 0;
}

static void
upload_flush_async(struct conn *c)
{
	struct piece_job *pj = c->wjob;

	pj->c = c;
	pj->pending = 1;
	pj->job.work = wjob_work;
	pj->job.done = wjob_done;
	pj->job.inbox = &c->lp->inbox;
	http_parser_pause(&c->parser, 1);
	bufferevent_disable(c->bev, EV_READ);
	job_submit(c->srv->pool, &pj->job);
}

static void
rjob_work(struct job *j, struct store_conn *sc)
{
	struct piece_job *pj = (struct piece_job *)j;

	atr_err_clear(&pj->err);
	pj->got = store_blob_read(pj->c->rd, sc, pj->buf, pj->len, (int64_t)pj->c->foff, &pj->err);
}

static void feed_blob(struct conn *c);

static void
rjob_done(struct job *j)
{
	struct piece_job *pj = (struct piece_job *)j;
	struct conn *c = pj->c;

	pj->pending = 0;
	if (c->dead) {
		conn_free(c);
		return;
	}
	if (pj->got <= 0) {
		atr_error("sending content to %s failed: %s", c->peer,
		    pj->got == 0 ? "it ended early" : atr_err_msg(&pj->err));
		c->fleft = 0;
		c->close_after = 1;
		/* The length was promised: the only honest end is closing. */
		bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
		bufferevent_trigger(c->bev, EV_WRITE, 0);
		return;
	}
	evbuffer_add(bufferevent_get_output(c->bev), pj->buf, (size_t)pj->got);
	c->foff += pj->got;
	c->fleft -= pj->got;
	feed_blob(c);
}

/* Asks the pool for the next piece of a blob response when there is room. */
static void
feed_blob(struct conn *c)
{
	struct piece_job *pj = piece(&c->rjob);
	struct evbuffer *out = bufferevent_get_output(c->bev);

	if (c->fleft == 0) {
		bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
		return;
	}
	if (pj == NULL) {
		c->fleft = 0;
		c->close_after = 1;
		return;
	}
	if (pj->pending || evbuffer_get_length(out) >= OUT_LOW)
		return;
	if (pj->buf == NULL && (pj->buf = malloc(UPLOAD_PIECE)) == NULL) {
		c->fleft = 0;
		c->close_after = 1;
		return;
	}
	pj->cap = UPLOAD_PIECE;
	pj->c = c;
	pj->len = c->fleft < UPLOAD_PIECE ? (size_t)c->fleft : UPLOAD_PIECE;
	pj->pending = 1;
	pj->job.work = rjob_work;
	pj->job.done = rjob_done;
	pj->job.inbox = &c->lp->inbox;
	job_submit(c->srv->pool, &pj->job);
}

static int
on_body(http_parser *p, const char *at, size_t len)
{
	struct conn *c = parser_conn(p);
	struct req *r = c->req;
	struct atr_err err;

	if (r == NULL)
		return 0; /* the rest of an answered request: discarded */
	r->received += (int64_t)len;
	if (r->upload != NULL) {
		if (r->received > atomic_load(&c->srv->rt.max_revision_size)) {
			store_blob_abort(req_take_upload(r));
			http_parser_pause(p, 1);
			c->state = C_WAIT;
			resp_error(r, ATR_E_TOO_LARGE,
			    "the content is larger than this server's max_revision_size (%lld bytes)",
			    (long long)atomic_load(&c->srv->rt.max_revision_size));
			c->close_after = 1;
			conn_respond(r);
			return 0;
		}
		if (store_is_blocking(c->srv->rt.store))
			return upload_piece(c, at, len);
		if (store_blob_write(r->upload, c->lp->sc, at, len, &err) == -1) {
			atr_error("upload from %s failed: %s", c->peer, atr_err_msg(&err));
			store_blob_abort(req_take_upload(r));
			http_parser_pause(p, 1);
			c->state = C_WAIT;
			resp_err(r, &err);
			c->close_after = 1;
			conn_respond(r);
		}
		return 0;
	}
	if (r->received > (r->body_max ? r->body_max : REQ_JSON_MAX)) {
		http_parser_pause(p, 1);
		c->state = C_WAIT;
		respond_now(c, 413, ATR_E_TOO_LARGE, "the request body is too large", 1);
		return 0;
	}
	if (r->body == NULL && (r->body = evbuffer_new()) == NULL)
		return -1;
	return evbuffer_add(r->body, at, len);
}

static int
on_message_complete(http_parser *p)
{
	struct conn *c = parser_conn(p);

	/* The end of a request answered right after its headers (404, 401,
	 * ...): nothing more to do for it. */
	if (c->req == NULL)
		return 0;
	http_parser_pause(p, 1);
	if (c->state != C_READ)
		return 0; /* already answered (413 and the like) */
	c->state = C_WAIT;
	router_run(c->req);
	return 0;
}

static const http_parser_settings settings = {
	.on_message_begin = on_message_begin,
	.on_url = on_url,
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

/* ---- output */

static void
feed_file(struct conn *c)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);

	while (c->fleft > 0 && evbuffer_get_length(out) < OUT_HIGH) {
		off_t n = c->fleft < FILE_CHUNK ? c->fleft : FILE_CHUNK;
		if (c->seg != NULL) {
			/* Plain sockets: sendfile, no copy through user space. */
			if (evbuffer_add_file_segment(out, c->seg, c->foff, n) == -1)
				goto fail;
		} else {
			struct evbuffer_iovec v;
			ssize_t got;
			if (evbuffer_reserve_space(out, n, &v, 1) < 1)
				goto fail;
			do
				got = pread(c->ffd, v.iov_base, (size_t)n, c->foff);
			while (got == -1 && errno == EINTR);
			if (got <= 0)
				goto fail;
			v.iov_len = (size_t)got;
			n = got;
			if (evbuffer_commit_space(out, &v, 1) == -1)
				goto fail;
		}
		c->foff += n;
		c->fleft -= n;
	}
	if (c->fleft == 0)
		bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
	return;
fail:
	atr_error("sending a file to %s failed: %s", c->peer, strerror(errno));
	c->fleft = 0;
	c->close_after = 1;
	/* The length was promised: the only honest end is closing. */
	bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
}

static void
release_file(struct conn *c)
{
	store_blob_reader_close(c->rd);
	c->rd = NULL;
	if (c->seg != NULL) {
		evbuffer_file_segment_free(c->seg); /* closes ffd when the last chunk is sent */
		c->seg = NULL;
	} else if (c->ffd != -1) {
		close(c->ffd);
	}
	c->ffd = -1;
	c->fleft = 0;
}

static void request_finished(struct conn *c);

/* The hub ends our stream (evstream.h): the watcher is already gone. */
static void
stream_ended(void *ctx, int abort)
{
	struct conn *c = ctx;

	c->watch = NULL;
	if (abort || evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
		conn_free(c);
		return;
	}
	c->state = C_WRITE; /* write_cb closes once the rest is out */
}

/* Our side ends a stream (shutdown): flush what the hub wrote, close. */
static void
stream_end(struct conn *c)
{
	evs_watch_remove(c->watch);
	stream_ended(c, 0);
}

/*
 * A change stream's response: headers without a length (the body ends
 * with the connection), then the connection belongs to a watcher: the
 * hub writes events and keep-alives, reads are only watched for the
 * client's end, and no read timeout applies (the write timeout still
 * drops a client that stops reading). 0, or -1 with a 503 set on r when
 * events_max_watchers streams are open or the server is stopping.
 */
static int
stream_start(struct conn *c, struct req *r)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	struct evs_want want;
	struct timeval wr = {atomic_load(&c->srv->rt.idle_timeout), 0};

	snprintf(want.project, sizeof(want.project), "%s", r->evs_project);
	want.after = r->evs_after;
	want.admin = req_is_admin(r);
	c->watch = c->lp->draining || c->lp->evs == NULL
	    ? NULL
	    : evs_watch_add(c->lp->evs, c->bev, &want, stream_ended, c);
	if (c->watch == NULL) {
		resp_error(r, ATR_E_UNAVAILABLE,
		    c->lp->draining ? "the server is stopping; connect again in a moment"
				    : "too many change streams are open (events_max_watchers, %d); "
				      "try again later",
		    atomic_load(&c->srv->rt.events_max_watchers));
		c->close_after = 1;
		return -1;
	}
	atomic_fetch_add(&c->srv->rt.responses[2], 1);
	evbuffer_add_printf(out,
	    "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nCache-Control: no-store\r\n"
	    "X-Accel-Buffering: no\r\nX-Content-Type-Options: nosniff\r\n", r->ctype);
	if (c->tls)
		evbuffer_add_printf(out, "Strict-Transport-Security: max-age=31536000\r\n");
	evbuffer_add_printf(out, "Connection: close\r\n\r\n");
	c->state = C_STREAM;
	c->close_after = 1;
	c->responded = 1;
	c->deadline = 0;
	bufferevent_set_timeouts(c->bev, NULL, &wr);
	c->read_timeout = 0;
	/* What is left of the request is no longer needed (a few KiB a stream). */
	req_free(c->req);
	c->req = NULL;
	return 0;
}

/* The request's finish callback: sends the response r holds. */
static void
conn_respond(struct req *r)
{
	struct conn *c = req_owner_ctx(r);
	struct server *srv = c->srv;
	struct evbuffer *out;
	const char *phrase;
	off_t len;
	int status;

	if (c->dead) {
		c->state = C_READ; /* the request's job is over */
		conn_free(c);
		return;
	}
	if (r->status == 0)
		resp_error(r, ATR_E_INTERNAL, "the handler gave no answer");
	if (r->evstream && r->method != HTTP_HEAD && stream_start(c, r) == 0)
		return;
	status = r->status;
	if (c->lp->draining)
		c->close_after = 1;
	if (status >= 100 && status < 600)
		atomic_fetch_add(&srv->rt.responses[status / 100], 1);
	if (r->rfd != -1 || r->rd != NULL)
		len = r->rlen;
	else if (r->rstatic != NULL)
		len = (off_t)r->rstatic_len;
	else
		len = r->rbody != NULL ? (off_t)evbuffer_get_length(r->rbody) : 0;

	out = bufferevent_get_output(c->bev);
	phrase = atr_http_reason(status);
	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\n", status, phrase != NULL ? phrase : "Status");
	if (r->ctype[0] != '\0')
		evbuffer_add_printf(out, "Content-Type: %s\r\n", r->ctype);
	if (status != 204 && status != 304 && status >= 200)
		evbuffer_add_printf(out, "Content-Length: %lld\r\n", (long long)len);
	if (r->rfd == -1 && r->rd == NULL)
		evbuffer_add_printf(out, "Cache-Control: no-store\r\n");
	evbuffer_add_printf(out, "X-Content-Type-Options: nosniff\r\n");
	if (c->tls)
		evbuffer_add_printf(out, "Strict-Transport-Security: max-age=31536000\r\n");
	if (c->kind == LK_ADMIN)
		evbuffer_add_printf(out,
		    "Content-Security-Policy: default-src 'self'; frame-ancestors 'none'; "
		    "base-uri 'none'; form-action 'self'\r\n"
		    "X-Frame-Options: DENY\r\n"
		    "Referrer-Policy: no-referrer\r\n");
	if (c->kind == LK_ADMIN && r->rfd != -1)
		evbuffer_add_printf(out, "Cache-Control: no-store\r\n");
	if (c->close_after)
		evbuffer_add_printf(out, "Connection: close\r\n");
	else if (r->http10)
		/* An HTTP/1.0 client closes unless told the connection stays. */
		evbuffer_add_printf(out, "Connection: keep-alive\r\n");
	if (r->rhdrs != NULL)
		evbuffer_add_buffer(out, r->rhdrs);
	evbuffer_add(out, "\r\n", 2);
	c->responded = 1;
	c->state = C_WRITE;
	if (r->head_only || r->method == HTTP_HEAD) {
		if (r->rfd != -1)
			close(r->rfd);
		r->rfd = -1;
	} else if (r->rd != NULL) {
		c->rd = r->rd;
		r->rd = NULL;
		c->foff = r->roff;
		c->fleft = r->rlen;
		bufferevent_setwatermark(c->bev, EV_WRITE, OUT_LOW, 0);
		feed_blob(c);
	} else if (r->rfd != -1) {
		c->ffd = r->rfd;
		r->rfd = -1;
		c->foff = r->roff;
		c->fleft = r->rlen;
		if (c->kind == LK_PLAIN)
			c->seg = evbuffer_file_segment_new(c->ffd, 0, -1,
			    EVBUF_FS_CLOSE_ON_FREE | EVBUF_FS_DISABLE_MMAP | EVBUF_FS_DISABLE_LOCKING);
		bufferevent_setwatermark(c->bev, EV_WRITE, OUT_LOW, 0);
		feed_file(c);
	} else if (r->rstatic != NULL) {
		evbuffer_add_reference(out, r->rstatic, r->rstatic_len, NULL, NULL);
	} else if (r->rbody != NULL) {
		evbuffer_add_buffer(out, r->rbody);
	}
	/* A small TLS response in one piece: one record, one write. */
	if (c->tls && evbuffer_get_length(out) <= 16384)
		evbuffer_pullup(out, -1);
	/* Reading stays on (no epoll changes per request): new bytes wait in
	 * the input buffer, bounded by its watermark, until this is out. */
}

/* The request's begun callback: a streaming route's begin step finished;
 * read the body now (or, if a response was set, send it and close). */
static void
conn_begin_done(struct req *r)
{
	struct conn *c = req_owner_ctx(r);
	const char *expect;

	if (c->dead) {
		c->state = C_READ; /* the begin job is over */
		conn_free(c);
		return;
	}
	if (r->status != 0) {
		/* Refused before the body was read: answer and close. */
		if (r->content_length != 0)
			c->close_after = 1;
		conn_respond(r);
		return;
	}
	expect = req_header(r, "Expect");
	if (expect != NULL)
		bufferevent_write(c->bev, "HTTP/1.1 100 Continue\r\n\r\n", 25);
	c->state = C_READ;
	http_parser_pause(&c->parser, 0);
	/* When begin ran inline, the parser is still running below us and
	 * simply carries on with the body. */
	if (!c->in_parse)
		conn_parse(c);
}

/* ---- input */

static void
parse_error(struct conn *c, enum http_errno e)
{
	int status = 400;
	char sentence[200];

	if (c->req == NULL && on_message_begin(&c->parser) == -1) {
		conn_free(c);
		return;
	}
	if (c->req->status == 414 || c->req->status == 431)
		status = c->req->status;
	else if (e == HPE_HEADER_OVERFLOW)
		status = 431;
	if (status == 431)
		snprintf(sentence, sizeof(sentence), "the request headers are too large");
	else if (status == 414)
		snprintf(sentence, sizeof(sentence), "the request URL is longer than 16 KiB");
	else if (c->req->bad_request != NULL)
		snprintf(sentence, sizeof(sentence), "malformed HTTP request: %s", c->req->bad_request);
	else
		snprintf(sentence, sizeof(sentence), "malformed HTTP request: %s",
		    http_errno_description(e));
	c->req->status = 0;
	c->state = C_WAIT;
	/* 414 has no code of its own: the request is malformed. */
	respond_now(c, status, status == 431 ? ATR_E_HEADERS_TOO_LARGE : ATR_E_BAD_REQUEST,
	    sentence, 1);
}

static void bulk_cb(evutil_socket_t fd, short what, void *arg);

/* A request that stopped coming: 408, and the connection goes. */
static void
request_timed_out(struct conn *c, const char *sentence)
{
	atomic_fetch_add(&c->srv->rt.timed_out, 1);
	atr_info("dropping a request from %s: %s", c->peer, sentence);
	if (c->req->upload != NULL)
		store_blob_abort(req_take_upload(c->req));
	c->req->status = 0;
	c->state = C_WAIT;
	bufferevent_disable(c->bev, EV_READ);
	respond_now(c, 408, ATR_E_TIMEOUT, sentence, 1);
}

static void
upload_stalled(struct conn *c)
{
	char sentence[120];

	snprintf(sentence, sizeof(sentence),
	    "no data of the request body for %d s (upload_stall_timeout)",
	    atomic_load(&c->srv->rt.upload_stall_timeout));
	request_timed_out(c, sentence);
}

/* Back from bulk reading to the bufferevent: bytes read past the end of
 * the upload (a pipelined request) go back in front of its input. */
static void
bulk_end(struct conn *c, const unsigned char *rest, size_t len)
{
	event_free(c->bulk);
	c->bulk = NULL;
	if (c->bev != NULL) {
		if (len > 0)
			evbuffer_prepend(bufferevent_get_input(c->bev), rest, len);
		bufferevent_enable(c->bev, EV_READ);
	}
	/* 256 KiB: not kept for the life of a keep-alive connection. */
	free(c->bulkbuf);
	c->bulkbuf = NULL;
}

/*
 * A plain connection streaming an upload into a file reads the socket
 * itself, 256 KiB at a time: libevent 2.1 reads at most 4 KiB per call,
 * which costs a system call (and an ioctl) per 4 KiB of a large commit.
 */
static void
bulk_maybe(struct conn *c)
{
	struct timeval idle;

	if (c->kind != LK_PLAIN || c->bulk != NULL || c->bev == NULL || c->state != C_READ ||
	    c->req == NULL || c->req->upload == NULL || store_is_blocking(c->srv->rt.store) ||
	    HTTP_PARSER_ERRNO(&c->parser) != HPE_OK ||
	    evbuffer_get_length(bufferevent_get_input(c->bev)) != 0)
		return;
	if (c->bulkbuf == NULL && (c->bulkbuf = malloc(BULK_READ)) == NULL)
		return;
	idle.tv_sec = atomic_load(&c->srv->rt.upload_stall_timeout);
	idle.tv_usec = 0;
	c->bulk = event_new(c->lp->base, bufferevent_getfd(c->bev), EV_READ | EV_PERSIST, bulk_cb, c);
	if (c->bulk == NULL || event_add(c->bulk, &idle) == -1) {
		if (c->bulk != NULL)
			event_free(c->bulk);
		c->bulk = NULL;
		return;
	}
	bufferevent_disable(c->bev, EV_READ);
}

/* Runs the parser on one piece of input and keeps what value_folded needs
 * to know about the bytes of this piece once they are gone. */
static size_t
parse_piece(struct conn *c, const char *data, size_t len)
{
	size_t n;

	c->chunk = data;
	c->chunk_seq = c->chunk_seq + 1 ? c->chunk_seq + 1 : 1; /* 0 stays "none" */
	c->in_parse = 1;
	n = http_parser_execute(&c->parser, &settings, data, len);
	c->in_parse = 0;
	if (c->hprev_seq == c->chunk_seq)
		/* A failed callback may stop the parser short of its own piece. */
		c->gap_lf = c->hprev_end < data + n &&
		    memchr(c->hprev_end, '\n', (size_t)(data + n - c->hprev_end)) != NULL;
	else if (c->hprev_seq != 0)
		c->gap_lf |= memchr(data, '\n', n) != NULL;
	return n;
}

static void
bulk_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	ssize_t n;
	size_t used = 0;

	if (what & EV_TIMEOUT) {
		bulk_end(c, NULL, 0);
		upload_stalled(c);
		return;
	}
	n = read(fd, c->bulkbuf, BULK_READ);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_free(c); /* the client went away mid-upload */
		return;
	}
	while (used < (size_t)n && c->state == C_READ && !c->dead) {
		size_t k;
		enum http_errno e;

		k = parse_piece(c, (const char *)c->bulkbuf + used, (size_t)n - used);
		used += k;
		e = HTTP_PARSER_ERRNO(&c->parser);
		if (e == HPE_PAUSED)
			break;
		if (e != HPE_OK) {
			bulk_end(c, NULL, 0);
			parse_error(c, e);
			return;
		}
	}
	if (c->state != C_READ || HTTP_PARSER_ERRNO(&c->parser) != HPE_OK || c->req == NULL ||
	    c->req->upload == NULL)
		bulk_end(c, c->bulkbuf + used, (size_t)n - used);
}

static void
conn_parse(struct conn *c)
{
	struct evbuffer *in;

	if (c->bev == NULL || c->bulk != NULL)
		return;
	in = bufferevent_get_input(c->bev);
	while (c->state == C_READ && !c->dead && !(c->wjob != NULL && c->wjob->pending) &&
	    evbuffer_get_length(in) > 0) {
		struct evbuffer_iovec v;
		size_t n;
		enum http_errno e;

		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			break;
		n = parse_piece(c, v.iov_base, v.iov_len);
		e = HTTP_PARSER_ERRNO(&c->parser);
		if (c->bev == NULL)
			return;
		evbuffer_drain(in, n);
		if (e == HPE_PAUSED)
			break;
		if (e != HPE_OK) {
			parse_error(c, e);
			break;
		}
	}
	/* A request's headers started but are not all in: they have
	 * header_timeout in all, however slowly they trickle. */
	if (c->state == C_READ && c->req != NULL && !c->headers_done && c->deadline == 0 &&
	    c->bev != NULL)
		c->deadline = mono_ms() + 1000 * (int64_t)atomic_load(&c->srv->rt.header_timeout);
	bulk_maybe(c);
}

static void
read_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	if (c->state == C_STREAM) {
		/* A stream's client has nothing more to say: drop it. */
		evbuffer_drain(bufferevent_get_input(bev), evbuffer_get_length(bufferevent_get_input(bev)));
		return;
	}
	conn_parse(c);
}

static void
linger_read_cb(struct bufferevent *bev, void *arg)
{
	(void)arg;
	evbuffer_drain(bufferevent_get_input(bev), evbuffer_get_length(bufferevent_get_input(bev)));
}

static void
linger_event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	(void)what; /* the client's end, an error or LINGER_SECONDS: done */
	ERR_clear_error();
	conn_free(arg);
}

/*
 * Closing a socket that still has unread input makes the kernel send a
 * reset, which can destroy the answer before the client reads it (a 408,
 * a 413 to a client still sending its body). So: end our side, then read
 * and drop what still comes, for LINGER_SECONDS at most.
 */
static void
linger_close(struct conn *c)
{
	struct timeval t = {LINGER_SECONDS, 0};

	c->state = C_LINGER;
	c->deadline = 0;
	if (shutdown(bufferevent_getfd(c->bev), SHUT_WR) == -1) {
		conn_free(c);
		return;
	}
	bufferevent_setcb(c->bev, linger_read_cb, NULL, linger_event_cb, c);
	bufferevent_set_timeouts(c->bev, &t, NULL);
	bufferevent_setwatermark(c->bev, EV_READ, 0, 0);
	bufferevent_enable(c->bev, EV_READ);
	linger_read_cb(c->bev, c);
}

static void
request_finished(struct conn *c)
{
	release_file(c);
	req_free(c->req);
	c->req = NULL;
	c->responded = 0;
	if (c->lp->draining) {
		conn_free(c);
		return;
	}
	if (c->close_after) {
		linger_close(c);
		return;
	}
	c->state = C_READ;
	http_parser_pause(&c->parser, 0);
	bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
	set_read_timeout(c, atomic_load(&c->srv->rt.idle_timeout));
	conn_parse(c);
}

static void
write_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	if (c->state != C_WRITE)
		return;
	if (c->fleft > 0) {
		if (c->rd != NULL)
			feed_blob(c);
		else
			feed_file(c);
		return;
	}
	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		request_finished(c);
}

static enum handshake_failure
classify(struct bufferevent *bev, short what)
{
	unsigned long e;
	enum handshake_failure why = HF_OTHER;

	if (what & BEV_EVENT_TIMEOUT)
		return HF_TIMEOUT;
	if (what & BEV_EVENT_EOF)
		why = HF_CLOSED;
	while ((e = bufferevent_get_openssl_error(bev)) != 0) {
		switch (ERR_GET_REASON(e)) {
		case SSL_R_HTTP_REQUEST:
		case SSL_R_HTTPS_PROXY_REQUEST:
			why = HF_PLAIN_HTTP;
			break;
		case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
		case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
		case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
		case SSL_R_TLSV1_ALERT_ACCESS_DENIED:
			if (why != HF_PLAIN_HTTP)
				why = HF_UNKNOWN_CA;
			break;
		case SSL_R_UNSUPPORTED_PROTOCOL:
		case SSL_R_NO_SHARED_CIPHER:
		case SSL_R_WRONG_VERSION_NUMBER:
		case SSL_R_VERSION_TOO_LOW:
		case SSL_R_NO_PROTOCOLS_AVAILABLE:
		case SSL_R_NO_SHARED_GROUPS:
		case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
		case SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE:
		case SSL_R_UNEXPECTED_MESSAGE:
			if (why != HF_PLAIN_HTTP && why != HF_UNKNOWN_CA)
				why = HF_PROTOCOL;
			break;
		default:
			break;
		}
	}
	ERR_clear_error();
	return why;
}

static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;
	struct timeval idle;

	if (what & BEV_EVENT_CONNECTED) {
		SSL *ssl = bufferevent_openssl_get_ssl(bev);
		c->handshaken = 1;
		c->deadline = 0;
		atomic_fetch_add(&c->srv->rt.handshakes, 1);
		if (ssl != NULL && SSL_session_reused(ssl))
			atomic_fetch_add(&c->srv->rt.handshakes_resumed, 1);
		idle.tv_sec = atomic_load(&c->srv->rt.idle_timeout);
		idle.tv_usec = 0;
		c->read_timeout = (int)idle.tv_sec;
		bufferevent_set_timeouts(bev, &idle, &idle);
		return;
	}
	/* The idle timer runs while a request is handled or its answer sent:
	 * that is not idleness. Keep reading; the write timeout still guards
	 * a client that stops reading. */
	if ((what & BEV_EVENT_TIMEOUT) && (what & BEV_EVENT_READING) &&
	    (!c->tls || c->handshaken) &&
	    (c->state != C_READ || (c->wjob != NULL && c->wjob->pending))) {
		bufferevent_enable(bev, EV_READ);
		return;
	}
	/* Part of a request came, then nothing: tell the client before closing. */
	if ((what & BEV_EVENT_TIMEOUT) && (what & BEV_EVENT_READING) && c->req != NULL &&
	    (!c->tls || c->handshaken)) {
		if (c->headers_done)
			upload_stalled(c);
		else
			request_timed_out(c, "the request headers did not arrive in time");
		return;
	}
	if (c->tls && !c->handshaken) {
		enum handshake_failure why = classify(bev, what);
		atomic_fetch_add(&c->srv->rt.handshake_failures[why], 1);
		/* OpenSSL stopped at "GET "/"POST"/...: a plain-HTTP client. It
		 * read only the record header; tell it in plain HTTP. */
		if (why == HF_PLAIN_HTTP) {
			if (c->kind == LK_ADMIN)
				redirect_to_https(c, bufferevent_getfd(bev));
			else
				answer_plain(c, bufferevent_getfd(bev));
			shutdown(bufferevent_getfd(bev), SHUT_WR);
		}
		atr_debug("TLS handshake with %s failed (%d)", c->peer, (int)why);
	} else if (what & BEV_EVENT_TIMEOUT) {
		atr_debug("closing idle connection from %s", c->peer);
	}
	if (c->tls)
		ERR_clear_error();
	conn_free(c);
}

static void
conn_unlink(struct conn *c)
{
	struct loop *lp = c->lp;

	if (c->prev != NULL)
		c->prev->next = c->next;
	else if (lp->conns == c)
		lp->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
}

static int
jobs_pending(const struct conn *c)
{
	return c->state == C_WAIT || (c->rjob != NULL && c->rjob->pending) ||
	    (c->wjob != NULL && c->wjob->pending);
}

/* Frees c, or (when a job still points at it) closes its socket and lets
 * the last job's return finish the job. */
static void
conn_free(struct conn *c)
{
	if (c->bev == NULL && !c->dead) {
		/* It never got a bufferevent (out of memory at the start). */
		close(c->fd);
		c->lp->nconns--;
		atomic_fetch_sub(&c->srv->rt.open_conns, 1);
		conn_unlink(c);
		free(c);
		return;
	}
	if (c->bulk != NULL) {
		event_free(c->bulk); /* before the socket closes under it */
		c->bulk = NULL;
	}
	if (c->watch != NULL) {
		evs_watch_remove(c->watch); /* before the bufferevent goes */
		c->watch = NULL;
	}
	if (c->bev != NULL) {
		bufferevent_free(c->bev);
		c->bev = NULL;
		c->lp->nconns--;
		atomic_fetch_sub(&c->srv->rt.open_conns, 1);
		conn_unlink(c);
	}
	if (jobs_pending(c)) {
		c->dead = 1; /* the last job's completion frees us */
		return;
	}
	free(c->bulkbuf);
	release_file(c);
	req_free(c->req);
	if (c->rjob != NULL)
		free(c->rjob->buf);
	if (c->wjob != NULL)
		free(c->wjob->buf);
	free(c->rjob);
	free(c->wjob);
	free(c);
}

/* Sets up the HTTP side of a connection whose bufferevent exists. */
static void
conn_start(struct conn *c, int handshake)
{
	struct timeval t;

	http_parser_init(&c->parser, HTTP_REQUEST);
	c->parser.data = c;
	t.tv_sec = handshake ? atomic_load(&c->srv->rt.handshake_timeout)
			     : atomic_load(&c->srv->rt.idle_timeout);
	t.tv_usec = 0;
	c->read_timeout = (int)t.tv_sec;
	if (handshake)
		c->deadline = mono_ms() + 1000 * (int64_t)t.tv_sec;
	bufferevent_set_timeouts(c->bev, &t, &t);
	bufferevent_setwatermark(c->bev, EV_READ, 0, IN_HIGH);
	/* Bigger reads: fewer wakeups and writes for streamed uploads. */
	bufferevent_set_max_single_read(c->bev, IN_HIGH);
	bufferevent_set_max_single_write(c->bev, OUT_HIGH);
	bufferevent_setcb(c->bev, read_cb, write_cb, event_cb, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

#define PLAIN_ON_TLS_BODY                                                               \
	"This port of the Atrium server speaks TLS: use https:// (atrium login HOST:PORT uses "  \
	"it).\n"
static const char plain_on_tls[] =
    "HTTP/1.1 400 Bad Request\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Connection: close\r\n"
    "Content-Length: %d\r\n\r\n" PLAIN_ON_TLS_BODY;

/* Tells a plain-HTTP client on a TLS port what is wrong, in plain HTTP. */
static void
answer_plain(struct conn *c, int fd)
{
	char buf[400];
	int n = snprintf(buf, sizeof(buf), plain_on_tls, (int)sizeof(PLAIN_ON_TLS_BODY) - 1);

	if (send(fd, buf, (size_t)n, MSG_NOSIGNAL) < 0)
		atr_debug("cannot answer %s: %s", c->peer, strerror(errno));
}

/* Plain HTTP on the console's port: send the browser to https://.
 * The request is only what one recv() got, so every scan stops at its end,
 * and a Host value that runs into that end is not trusted. */
static void
redirect_to_https(struct conn *c, int fd)
{
	char req[4096], host[300] = "", resp[800];
	ssize_t n = recv(fd, req, sizeof(req) - 1, 0);
	const char *h, *end;
	int len;

	req[n > 0 ? n : 0] = '\0';
	end = req + (n > 0 ? n : 0);
	/* strcasestr stops at the first NUL, which is at or before end. */
	if ((h = strcasestr(req, "\r\nHost:")) != NULL) {
		size_t i = 0;
		h += 7;
		while (h < end && (*h == ' ' || *h == '\t'))
			h++;
		/* Only host-name characters: nothing can be injected. */
		while (h + i < end && i + 1 < sizeof(host) && is_host_char((unsigned char)h[i]))
			i++;
		/* The name must end where the line does, not at the end of what
		 * was read, a NUL or a foreign byte. */
		if (h + i < end && (h[i] == '\r' || h[i] == '\n' || h[i] == ' ' || h[i] == '\t')) {
			memcpy(host, h, i);
			host[i] = '\0';
		}
	}
	if (host[0] == '\0') {
		answer_plain(c, fd);
		return;
	}
	{
		char body[400];
		int blen = snprintf(body, sizeof(body),
		    "The admin console is served over HTTPS only: https://%s/\n", host);
		len = snprintf(resp, sizeof(resp),
		    "HTTP/1.1 301 Moved Permanently\r\n"
		    "Location: https://%s/\r\n"
		    "Content-Type: text/plain; charset=utf-8\r\n"
		    "Connection: close\r\n"
		    "Content-Length: %d\r\n\r\n%s",
		    host, blen, body);
	}
	if (send(fd, resp, (size_t)len, MSG_NOSIGNAL) < 0)
		atr_debug("cannot answer %s: %s", c->peer, strerror(errno));
}

/* Starts the TLS handshake on a new connection. A plain-HTTP client is
 * recognised by OpenSSL ("GET ", "POST", ...) and answered in event_cb. */
static void
start_tls(struct conn *c)
{
	SSL_CTX *ctx;
	SSL *ssl;

	ERR_clear_error();
	if ((ctx = tls_state_ctx(c->srv->rt.tls)) == NULL || (ssl = SSL_new(ctx)) == NULL) {
		SSL_CTX_free(ctx);
		ERR_clear_error();
		conn_free(c);
		return;
	}
	SSL_CTX_free(ctx); /* the SSL holds its own reference */
	c->bev = bufferevent_openssl_socket_new(c->lp->base, c->fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
	    BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		SSL_free(ssl);
		conn_free(c);
		return;
	}
	/* Clients that hang up without close_notify are common and harmless. */
	bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	conn_start(c, 1);
}

/* Over max_connections: a plain client is told why (503); a TLS client
 * cannot be told anything before a handshake, so it is closed. */
static void
refuse(struct server *srv, int fd, enum listener_kind kind)
{
#define BUSY_BODY "The server has max_connections open; try again shortly.\n"
	static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\n"
				   "Content-Type: text/plain; charset=utf-8\r\n"
				   "Retry-After: 5\r\n"
				   "Connection: close\r\n"
				   "Content-Length: %zu\r\n\r\n" BUSY_BODY;
	char msg[sizeof(busy) + 20];
	int n = snprintf(msg, sizeof(msg), busy, sizeof(BUSY_BODY) - 1);
#undef BUSY_BODY
	static _Atomic int64_t last_warned;
	int64_t now = mono_ms(), then = atomic_load(&last_warned);

	atomic_fetch_add(&srv->rt.refused, 1);
	if (kind == LK_PLAIN && send(fd, msg, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		atr_debug("cannot tell a refused client why: %s", strerror(errno));
	close(fd);
	if (now - then >= 10000 && atomic_compare_exchange_strong(&last_warned, &then, now))
		atr_warn("refusing new connections: max_connections (%d) are open",
		    atomic_load(&srv->rt.max_connections));
}

void
conn_http_init(void)
{
	/* http-parser's cap on a header block is process-wide (80 KiB unless
	 * set): make it the one header_bytes() enforces. */
	http_parser_set_max_header_size(REQ_HEADER_BYTES_MAX);
}

void
conn_accept(struct loop *lp, int fd, enum listener_kind kind, const struct sockaddr *sa,
    int salen)
{
	struct server *srv = lp->srv;
	struct conn *c;
	int one = 1;

	(void)salen;
	atomic_fetch_add(&srv->rt.accepted[kind], 1);
	if (lp->draining) {
		close(fd);
		return;
	}
	if (atomic_load(&srv->rt.open_conns) >= atomic_load(&srv->rt.max_connections)) {
		refuse(srv, fd, kind);
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		close(fd);
		return;
	}
	c->lp = lp;
	c->srv = srv;
	c->kind = kind;
	c->fd = fd;
	c->ffd = -1;
	c->tls = kind != LK_PLAIN;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, c->peer,
		    sizeof(c->peer));
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, c->peer,
		    sizeof(c->peer));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->next = lp->conns;
	if (lp->conns != NULL)
		lp->conns->prev = c;
	lp->conns = c;
	lp->nconns++;
	atomic_fetch_add(&srv->rt.open_conns, 1);
	if (c->tls) {
		start_tls(c);
		return;
	}
	c->bev = bufferevent_socket_new(lp->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		conn_free(c);
		return;
	}
	conn_start(c, 0);
}

void
conn_close_idle(struct loop *lp)
{
	struct conn *c = lp->conns, *next;

	for (; c != NULL; c = next) {
		next = c->next;
		if (c->state == C_STREAM && c->watch != NULL) {
			stream_end(c); /* ends cleanly: what was written goes out first */
			continue;
		}
		if (c->bev == NULL || c->state == C_LINGER ||
		    (c->state == C_READ && c->req == NULL &&
			evbuffer_get_length(bufferevent_get_input(c->bev)) == 0))
			conn_free(c);
		else
			c->close_after = 1;
	}
}

void
conn_sweep(struct loop *lp)
{
	struct conn *c = lp->conns, *next;
	int64_t now = mono_ms();

	for (; c != NULL; c = next) {
		next = c->next;
		if (c->deadline == 0 || now < c->deadline || c->bev == NULL)
			continue;
		c->deadline = 0;
		if (c->tls && !c->handshaken) {
			atomic_fetch_add(&c->srv->rt.handshake_failures[HF_TIMEOUT], 1);
			atr_debug("TLS handshake with %s took longer than handshake_timeout", c->peer);
			conn_free(c);
		} else if (c->state == C_READ && c->req != NULL && !c->headers_done) {
			char sentence[120];
			snprintf(sentence, sizeof(sentence),
			    "the request headers did not arrive within %d s (header_timeout)",
			    atomic_load(&c->srv->rt.header_timeout));
			request_timed_out(c, sentence);
		}
	}
}

void
conn_free_all(struct loop *lp)
{
	while (lp->conns != NULL)
		conn_free(lp->conns);
}

/* The request's upload_flush callback: the upload bytes not yet handed to
 * the store (blocking stores collect pieces); the handler writes them
 * before finishing. */
static int
conn_upload_flush(struct req *r, struct atr_err *err)
{
	struct conn *c = req_owner_ctx(r);
	struct piece_job *pj = c->wjob;
	int rc = 0;

	/* Runs on the job pool while the loop waits (state C_WAIT), so the
	 * loop does not touch wjob meanwhile. */
	if (pj == NULL)
		return 0;
	if (pj->len > 0 && r->upload != NULL)
		rc = store_blob_write(r->upload, req_store(r), pj->buf, pj->len, err) == -1 ? -1 : 0;
	pj->len = 0;
	return rc;
}
