/*
 * The request's internals shared by conn.c (which owns requests), req.c
 * and router.c. A request knows nothing of the connection, the loop or the
 * server: it is given what it needs when it is made (struct req_env, its
 * owner's callbacks, the peer's address), and hands itself back to its
 * owner through those callbacks. So the router and the handlers depend on
 * the request only, and the connection code on them, never the reverse.
 */
#ifndef ATRIUM_SERVER_REQ_INT_H
#define ATRIUM_SERVER_REQ_INT_H

#include <http_parser.h>
#include <openssl/ssl.h>
#include <netinet/in.h>
#include <event2/buffer.h>
#include <jansson.h>

#include "server/http.h"
#include "server/jobs.h"
#include "server/runtime.h"

#define REQ_URL_MAX (16 * 1024) /* a 4 KiB message, percent-encoded, fits */
#define REQ_HEADERS_MAX 100
#define REQ_HEADER_BYTES_MAX (32 * 1024)
#define REQ_UPLOAD_MAX (2 * 1024 * 1024) /* JSON carrying a keystore */

struct route;

/* What the owner of a request (conn.c) does when the router is done with
 * a step. Each gets the request; ctx is the owner's (req_owner_ctx()). */
struct req_owner {
	/* A response is set: send it. On the request's loop. */
	void (*finish)(struct req *r);
	/* A streaming route's begin step ended: read the body now (or, if a
	 * response was set, send it and close). On the request's loop. */
	void (*begun)(struct req *r);
	/* Hands the upload bytes the owner still holds to the store, with
	 * req_store(r). On the thread of the handler, while the loop waits. */
	int (*upload_flush)(struct req *r, struct atr_err *err);
	void *ctx;
};

/* Where a request runs: the same for every request of one event loop. */
struct req_env {
	struct runtime *rt;       /* the server's, for req_runtime() */
	struct job_pool *pool;    /* slow steps run here... */
	struct job_inbox *inbox;  /* ...and come back here, to the loop */
	struct store_conn *sc;    /* the loop's, for steps run inline */
};

struct req_header {
	uint32_t name, value; /* offsets into hbuf */
};

struct req {
	struct job job;          /* dispatch to the pool; first member */
	struct req_owner owner;
	struct req_env env;
	char peer[INET6_ADDRSTRLEN];
	struct store_conn *sc;   /* the store connection of the running thread */

	int method;              /* enum http_method */
	char *url;               /* raw request target */
	size_t urllen;
	char *path;              /* raw path part of url (NUL-terminated copy) */
	char *query;             /* raw query part, or NULL */
	char *params[REQ_MAX_PARAMS];
	int nparams;
	char *qcache;            /* last req_query() result */

	char *hbuf;              /* header names and values, NUL-separated */
	size_t hlen, hcap;
	struct req_header hdrs[REQ_HEADERS_MAX];
	int nhdrs;
	int in_value;            /* parser is inside a header value */
	const char *bad_request; /* why it gets a 400 (a static sentence), or NULL */
	int http10;              /* an HTTP/1.0 request */

	int64_t content_length;  /* -1: none given */
	int body_max;            /* largest buffered body for this route */
	struct evbuffer *body;   /* buffered body (JSON calls) */
	json_t *json;
	int64_t received;
	struct store_blob_writer *upload;

	const struct route *route;
	int authed;
	struct store_user user;
	char token_hash[65];
	char csrf[33];           /* cookie sessions: the token changes need */
	int admin;               /* arrived on the admin port */
	int wants_basic;         /* Basic credentials to check (slow) */
	char *basic_user, *basic_pass;
	X509 *client_cert;       /* the TLS client certificate, or NULL */
	STACK_OF(X509) *client_chain; /* the certificates sent with it */

	/* The response. */
	int status;              /* 0: none yet */
	struct evbuffer *rhdrs;  /* extra "Name: value\r\n" lines */
	struct evbuffer *rbody;  /* in-memory body */
	const void *rstatic;
	size_t rstatic_len;
	int rfd;                 /* file body, or -1 */
	struct store_blob_reader *rd; /* blob body read on the job pool */
	off_t roff, rlen;
	char ctype[80];
	int head_only;           /* HEAD: headers, no body */
	/* A change stream (resp_event_stream): the connection hands itself
	 * to the hub instead of sending a body. */
	int evstream;
	int64_t evs_after;
	char evs_project[STORE_NAME_MAX + 1];
};

/* req.c */
/* A new request for owner (copied), run in env (copied), from peer (text,
 * copied); admin: it came to the admin port. NULL when out of memory. */
struct req *req_new(const struct req_owner *owner, const struct req_env *env, const char *peer,
    int admin);
void req_free(struct req *r);
/* Hands r the client certificate ssl's peer presented (none: nothing). */
void req_set_client_cert(struct req *r, SSL *ssl);
/* The owner's context pointer (struct req_owner ctx). */
void *req_owner_ctx(const struct req *r);
/* The router is done with r: hands it to the owner's finish callback. */
void req_finish(struct req *r);
/* The begin step of r's streaming route ended: the owner's begun callback. */
void req_begun(struct req *r);
/* Splits url into path and query; -1 when it is neither an origin-form
 * path nor an absolute-form http(s) URL (whose authority is skipped). */
int req_parse_target(struct req *r);
/* Percent-decodes src[0..len) into a new string; NULL when malformed
 * (bad escape or an encoded NUL). plus_is_space for query values. */
char *req_decode(const char *src, size_t len, int plus_is_space);
/* The one check of free text in a request's path and query (every
 * parameter, percent-decoded; the JSON body is checked by req_json()):
 * 0, or -1 with ATR_E_BAD_TEXT (ATR_E_BAD_REQUEST for a malformed
 * escape) in err. See docs/api.md "Text". */
int req_check_text(struct req *r, struct atr_err *err);

/* router.c */
enum route_action { ROUTE_BUFFER, ROUTE_STREAM, ROUTE_RESPONDED };
/* Picks the route for a request whose headers are parsed. */
enum route_action router_route(struct req *r);
/* Runs the begin step of a streaming route; ends in req_begun(). */
void router_begin(struct req *r);
/* Runs the handler of a complete request; ends in req_finish(). */
void router_run(struct req *r);

#endif
