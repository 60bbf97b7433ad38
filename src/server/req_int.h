/* The request and connection internals shared by conn.c, req.c and router.c. */
#ifndef ATRIUM_SERVER_REQ_INT_H
#define ATRIUM_SERVER_REQ_INT_H

#include <http_parser.h>
#include <event2/buffer.h>
#include <jansson.h>

#include "server/http.h"
#include "server/server_int.h"

#define REQ_URL_MAX (16 * 1024) /* a 4 KiB message, percent-encoded, fits */
#define REQ_HEADERS_MAX 100
#define REQ_HEADER_BYTES_MAX (32 * 1024)
#define REQ_UPLOAD_MAX (2 * 1024 * 1024) /* JSON carrying a keystore */

struct route;

struct req_header {
	uint32_t name, value; /* offsets into hbuf */
};

struct req {
	struct job job;          /* dispatch to the pool; first member */
	struct conn *conn;
	struct server *srv;
	struct loop *loop;
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
};

/* req.c */
struct req *req_new(struct conn *c, struct server *srv, struct loop *lp);
void req_free(struct req *r);
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

/* conn.c: the upload bytes not yet handed to the store (blocking stores
 * collect pieces); the handler writes them before finishing. */
int conn_upload_flush(struct req *r, struct atr_err *err);

/* conn.c: the router hands a request back when it has a response. */
void conn_respond(struct req *r);
/* conn.c: a streaming route's begin step finished; read the body now
 * (or, if a response was set, send it and close). */
void conn_begin_done(struct req *r);

/* api_admin.c: the CSRF token of a session token (32 hex digits + NUL). */
void api_admin_csrf(const char *token, char *out);

/* router.c */
enum route_action { ROUTE_BUFFER, ROUTE_STREAM, ROUTE_RESPONDED };
/* Picks the route for a request whose headers are parsed. */
enum route_action router_route(struct req *r);
/* Runs the begin step of a streaming route; ends in conn_begin_done(). */
void router_begin(struct req *r);
/* Runs the handler of a complete request; ends in conn_respond(). */
void router_run(struct req *r);

#endif
