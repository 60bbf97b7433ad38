/*
 * What a request handler sees: the parsed request, the authenticated user,
 * a store connection for the thread it runs on, and the response it builds.
 *
 * A handler runs either on an event loop or on a job-pool thread (see
 * router.c); it touches only its struct req, never the connection, so it
 * can run on either. It must set a response (resp_*) before returning.
 */
#ifndef ATRIUM_SERVER_HTTP_H
#define ATRIUM_SERVER_HTTP_H

#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>
#include <openssl/x509.h>

#include "atrium/err.h"
#include "server/store.h"

struct req;

#define REQ_MAX_PARAMS 4
#define REQ_JSON_MAX (64 * 1024)

/* The request. Strings are borrowed from the request. */
const char *req_method(const struct req *r);
const char *req_path(const struct req *r);
/* The i-th '*' of the route's pattern, percent-decoded. */
const char *req_param(const struct req *r, int i);
/* A query parameter, percent-decoded ('+' is a space); NULL if absent. */
const char *req_query(struct req *r, const char *key);
/* A request header (case-insensitive name); NULL if absent. */
const char *req_header(const struct req *r, const char *name);
/* The body parsed as a JSON object (borrowed); NULL with a 400-worthy
 * sentence in err when it is missing or malformed. */
json_t *req_json(struct req *r, struct atr_err *err);
/* The buffered body as bytes (borrowed; "" and 0 when there is none). */
const void *req_body(struct req *r, size_t *len);
/* The peer's address as text ("127.0.0.1"). */
const char *req_peer(const struct req *r);

/* Who made the request (after authentication), or NULL. */
const struct store_user *req_user(const struct req *r);
/* Hex SHA-256 of the bearer token used, or NULL (Basic or none). */
const char *req_token_hash(const struct req *r);
int req_is_admin(const struct req *r);
/* The client certificate the connection's TLS peer presented (checked
 * by clientcert_verify() only when a handler asks), and the untrusted
 * certificates sent with it; NULL without one. Borrowed. */
X509 *req_client_cert(const struct req *r);
STACK_OF(X509) *req_client_chain(const struct req *r);
/* The CSRF token of the console's cookie session ("" without one). */
const char *req_csrf(const struct req *r);

struct store_conn *req_store(struct req *r);
/* What the handler may know of the running server (runtime.h). */
struct runtime *req_runtime(struct req *r);
/* Where settings are changed at run time (settings.h). */
struct settings *req_settings(struct req *r);

/* Streaming uploads: the blob writer the route's begin handler set up. */
void req_set_upload(struct req *r, struct store_blob_writer *w);
struct store_blob_writer *req_take_upload(struct req *r);
int64_t req_body_received(const struct req *r);
/* Whether the request's Content-Length announced a body size, and which. */
int64_t req_content_length(const struct req *r);

/* Responses. Each replaces any response set before. */
void resp_json(struct req *r, int status, json_t *body); /* steals body */
void resp_empty(struct req *r, int status);
/* {"error": sentence, "code": code's wire name}: the start of every error
 * body, for handlers that add fields of their own. NULL without memory. */
json_t *resp_error_body(enum atr_errcode code, const char *sentence);
/* {"error": sentence, "code": name} with the table's status for code. */
void resp_error(struct req *r, enum atr_errcode code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* resp_error() for err; with "field" when err names the setting it is about. */
void resp_err(struct req *r, const struct atr_err *err);
/* {"error", "code", "field": field}: a refusal about one form field. */
void resp_field_error(struct req *r, const char *field, enum atr_errcode code, const char *fmt,
    ...) __attribute__((format(printf, 4, 5)));
/* Adds a response header (copied). */
void resp_header(struct req *r, const char *name, const char *value);
/* Sends len bytes of fd from off; takes ownership of fd. */
void resp_file(struct req *r, int status, int fd, off_t off, off_t len, const char *content_type);
/* Sends len bytes of a blob from off; takes ownership of rd. */
void resp_blob(struct req *r, int status, struct store_blob_reader *rd, off_t off, off_t len,
    const char *content_type);
/* Hands the upload bytes still held by the connection to the store. */
int req_upload_flush(struct req *r, struct atr_err *err);
/* Sends a copy of len bytes of text with the given content type. */
void resp_text(struct req *r, int status, const char *content_type, const char *text,
    size_t len);
/* Answers with a live change stream (200, text/event-stream) of the
 * events the caller may see: of project ("" or NULL: every project), after
 * event id after (-1: from now). The connection keeps it (evstream.h). */
void resp_event_stream(struct req *r, const char *project, int64_t after);
/* Sends a static buffer (not copied; must outlive the response). */
void resp_static(struct req *r, int status, const void *data, size_t len,
    const char *content_type);

#endif
