/* The request's accessors and the response builders handlers use. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "atrium/log.h"
#include "atrium/util.h"
#include "server/req_int.h"

struct req *
req_new(const struct req_owner *owner, const struct req_env *env, const char *peer, int admin)
{
	struct req *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	r->owner = *owner;
	r->env = *env;
	snprintf(r->peer, sizeof(r->peer), "%s", peer);
	r->admin = admin;
	r->content_length = -1;
	r->rfd = -1;
	return r;
}

void *
req_owner_ctx(const struct req *r)
{
	return r->owner.ctx;
}

void
req_finish(struct req *r)
{
	r->owner.finish(r);
}

void
req_begun(struct req *r)
{
	r->owner.begun(r);
}

void
req_free(struct req *r)
{
	if (r == NULL)
		return;
	free(r->url);
	free(r->path);
	free(r->query);
	for (int i = 0; i < r->nparams; i++)
		free(r->params[i]);
	free(r->qcache);
	free(r->hbuf);
	if (r->body != NULL)
		evbuffer_free(r->body);
	json_decref(r->json);
	store_blob_abort(r->upload);
	free(r->basic_user);
	X509_free(r->client_cert);
	sk_X509_pop_free(r->client_chain, X509_free);
	atr_free_secret(r->basic_pass);
	if (r->rhdrs != NULL)
		evbuffer_free(r->rhdrs);
	if (r->rbody != NULL)
		evbuffer_free(r->rbody);
	if (r->rfd != -1)
		close(r->rfd);
	store_blob_reader_close(r->rd);
	free(r);
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decodes src[0..len) into a new string (*outlen bytes, an
 * encoded NUL kept); NULL on a malformed escape or no memory. */
static char *
decode(const char *src, size_t len, int plus_is_space, size_t *outlen)
{
	char *out = malloc(len + 1), *o = out;

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		if (src[i] == '%') {
			int hi, lo;
			if (i + 2 >= len || (hi = hexval(src[i + 1])) < 0 ||
			    (lo = hexval(src[i + 2])) < 0) {
				free(out);
				return NULL;
			}
			*o++ = (char)(hi << 4 | lo);
			i += 2;
		} else if (plus_is_space && src[i] == '+') {
			*o++ = ' ';
		} else {
			*o++ = src[i];
		}
	}
	*o = '\0';
	*outlen = (size_t)(o - out);
	return out;
}

char *
req_decode(const char *src, size_t len, int plus_is_space)
{
	size_t n;
	char *out = decode(src, len, plus_is_space, &n);

	if (out != NULL && memchr(out, '\0', n) != NULL) {
		free(out);
		return NULL;
	}
	return out;
}

/* Free text a request may carry: UTF-8 with tabs and line feeds (the
 * lines of a commit message) and no other control character. Stricter
 * rules (names, elements) are the handlers'. */
#define REQ_TEXT_ALLOW "\t\n"

/* JSON fields compared byte for byte and never stored as text or shown:
 * their content is their owner's business. */
static const char *const opaque_fields[] = {"password", "old_password"};

/* 0 when text[0..len), called what, is acceptable free text; else -1
 * with ATR_E_BAD_TEXT in err. */
static int
text_check(const char *what, const char *text, size_t len, struct atr_err *err)
{
	size_t at = 0;
	const char *problem = atr_text_problem(text, len, REQ_TEXT_ALLOW, &at);

	if (problem == NULL)
		return 0;
	return atr_err_set(err, ATR_E_BAD_TEXT,
	    "%s %s (at byte %zu); text must be UTF-8 without control characters other than "
	    "tab and line feed",
	    what, problem, at);
}

int
req_check_text(struct req *r, struct atr_err *err)
{
	char what[96];

	for (int i = 0; i < r->nparams; i++)
		if (text_check("a part of the path", r->params[i], strlen(r->params[i]), err) == -1)
			return -1;
	for (const char *p = r->query; p != NULL && *p;) {
		size_t n = strcspn(p, "&"), kl = strcspn(p, "=&"), klen, vlen = 0;
		char *key = decode(p, kl, 1, &klen), *val = NULL;
		int rc = -1;

		if (key == NULL || (kl < n && (val = decode(p + kl + 1, n - kl - 1, 1, &vlen)) == NULL))
			atr_err_set(err, ATR_E_BAD_REQUEST,
			    "the query has a malformed %%-escape (write %%XX with two hex digits)");
		else if (text_check("a query parameter's name", key, klen, err) == 0) {
			snprintf(what, sizeof(what), "the query parameter '%.*s'",
			    (int)atr_utf8_cut(key, 40), key);
			rc = text_check(what, val != NULL ? val : "", vlen, err);
		}
		free(key);
		free(val);
		if (rc == -1)
			return -1;
		p += n + (p[n] == '&');
	}
	return 0;
}

/* Length of the "http://authority" or "https://authority" that starts an
 * absolute-form target (RFC 9112 3.2.2: a server MUST accept it, and the
 * target's authority then stands for the Host header); 0 when url[0..len)
 * is not one. An empty host or userinfo (RFC 9110 4.2.4) is refused: -1. */
static long
absolute_prefix(const char *url, size_t len)
{
	static const char *const schemes[] = {"http://", "https://"};
	size_t n, end;

	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		n = strlen(schemes[i]);
		if (len < n || strncasecmp(url, schemes[i], n) != 0)
			continue;
		for (end = n; end < len && url[end] != '/' && url[end] != '?' && url[end] != '#'; end++)
			if (url[end] == '@')
				return -1;
		if (end == n || url[n] == ':')
			return -1;
		return (long)end;
	}
	return 0;
}

/* Checks every string (and key) of a JSON value as free text; field
 * names the innermost object key, for the sentence. */
static int
json_text_check(json_t *v, const char *field, struct atr_err *err)
{
	char what[96];
	const char *key;
	json_t *item;
	size_t i;

	switch (json_typeof(v)) {
	case JSON_STRING:
		for (i = 0; i < sizeof(opaque_fields) / sizeof(opaque_fields[0]); i++)
			if (field != NULL && strcmp(field, opaque_fields[i]) == 0)
				return 0;
		snprintf(what, sizeof(what), "the field '%.*s'",
		    field != NULL ? (int)atr_utf8_cut(field, 40) : 0, field != NULL ? field : "");
		return text_check(what, json_string_value(v), json_string_length(v), err);
	case JSON_OBJECT:
		json_object_foreach(v, key, item) {
			if (text_check("a field name", key, strlen(key), err) == -1 ||
			    json_text_check(item, key, err) == -1)
				return -1;
		}
		return 0;
	case JSON_ARRAY:
		json_array_foreach(v, i, item)
			if (json_text_check(item, field, err) == -1)
				return -1;
		return 0;
	default:
		return 0;
	}
}

int
req_parse_target(struct req *r)
{
	const char *url, *q;
	size_t len, plen;
	long skip;

	if (r->url == NULL || (skip = absolute_prefix(r->url, r->urllen)) == -1)
		return -1;
	url = r->url + skip;
	len = r->urllen - (size_t)skip;
	if (skip > 0 && (len == 0 || url[0] != '/')) {
		/* "http://host" and "http://host?q": the path is "/". */
		if (len > 0 && url[0] == '#')
			len = 0;
		if ((r->path = strdup("/")) == NULL)
			return -1;
	} else if (len == 0 || url[0] != '/') {
		return -1;
	}
	q = memchr(url, '?', len);
	plen = q != NULL ? (size_t)(q - url) : len;
	if (r->path == NULL && (r->path = strndup(url, plen)) == NULL)
		return -1;
	if (q != NULL) {
		const char *hash = memchr(q, '#', len - plen);
		size_t qlen = hash != NULL ? (size_t)(hash - q - 1) : len - plen - 1;
		if ((r->query = strndup(q + 1, qlen)) == NULL)
			return -1;
	}
	return 0;
}

const char *
req_method(const struct req *r)
{
	return http_method_str((enum http_method)r->method);
}

const char *
req_path(const struct req *r)
{
	return r->path;
}

const char *
req_param(const struct req *r, int i)
{
	return i >= 0 && i < r->nparams ? r->params[i] : NULL;
}

const char *
req_query(struct req *r, const char *key)
{
	size_t klen = strlen(key);

	if (r->query == NULL)
		return NULL;
	for (const char *p = r->query; *p;) {
		size_t n = strcspn(p, "&");
		const char *eq = memchr(p, '=', n);
		size_t kl = eq != NULL ? (size_t)(eq - p) : n;
		if (kl == klen && strncmp(p, key, klen) == 0) {
			free(r->qcache);
			r->qcache = eq != NULL ? req_decode(eq + 1, n - kl - 1, 1) : strdup("");
			return r->qcache;
		}
		p += n + (p[n] == '&');
	}
	return NULL;
}

const char *
req_header(const struct req *r, const char *name)
{
	for (int i = 0; i < r->nhdrs; i++)
		if (strcasecmp(r->hbuf + r->hdrs[i].name, name) == 0)
			return r->hbuf + r->hdrs[i].value;
	return NULL;
}

json_t *
req_json(struct req *r, struct atr_err *err)
{
	json_error_t jerr;
	size_t len;

	if (r->json != NULL)
		return r->json;
	len = r->body != NULL ? evbuffer_get_length(r->body) : 0;
	if (len == 0) {
		atr_err_set(err, ATR_E_BAD_REQUEST, "the request needs a JSON object as its body");
		return NULL;
	}
	r->json = json_loadb((const char *)evbuffer_pullup(r->body, -1), len,
	    JSON_REJECT_DUPLICATES, &jerr);
	if (r->json == NULL) {
		atr_err_set(err, ATR_E_BAD_REQUEST, "the body is not valid JSON: %s (line %d)",
		    jerr.text, jerr.line);
		return NULL;
	}
	if (!json_is_object(r->json)) {
		json_decref(r->json);
		r->json = NULL;
		atr_err_set(err, ATR_E_BAD_REQUEST, "the body must be a JSON object");
		return NULL;
	}
	/* The body's texts pass the same rule as the query's. */
	if (json_text_check(r->json, NULL, err) == -1) {
		json_decref(r->json);
		r->json = NULL;
		return NULL;
	}
	return r->json;
}

const void *
req_body(struct req *r, size_t *len)
{
	*len = r->body != NULL ? evbuffer_get_length(r->body) : 0;
	return *len > 0 ? evbuffer_pullup(r->body, -1) : (const void *)"";
}

const struct store_user *
req_user(const struct req *r)
{
	return r->authed ? &r->user : NULL;
}

const char *
req_token_hash(const struct req *r)
{
	return r->authed && r->token_hash[0] ? r->token_hash : NULL;
}

int
req_is_admin(const struct req *r)
{
	return r->authed && strcmp(r->user.role, "admin") == 0;
}

struct store_conn *
req_store(struct req *r)
{
	return r->sc;
}

struct runtime *
req_runtime(struct req *r)
{
	return r->env.rt;
}

const char *
req_peer(const struct req *r)
{
	return r->peer;
}

const char *
req_csrf(const struct req *r)
{
	return r->csrf;
}

struct settings *
req_settings(struct req *r)
{
	return req_runtime(r)->settings;
}

void
req_set_client_cert(struct req *r, SSL *ssl)
{
	STACK_OF(X509) *chain;

	if (ssl == NULL || (r->client_cert = SSL_get1_peer_certificate(ssl)) == NULL)
		return;
	/* The server side's chain leaves the leaf out. */
	if ((chain = SSL_get_peer_cert_chain(ssl)) != NULL)
		r->client_chain = X509_chain_up_ref(chain);
}

X509 *
req_client_cert(const struct req *r)
{
	return r->client_cert;
}

STACK_OF(X509) *
req_client_chain(const struct req *r)
{
	return r->client_chain;
}

void
req_set_upload(struct req *r, struct store_blob_writer *w)
{
	store_blob_abort(r->upload);
	r->upload = w;
}

struct store_blob_writer *
req_take_upload(struct req *r)
{
	struct store_blob_writer *w = r->upload;

	r->upload = NULL;
	return w;
}

int64_t
req_body_received(const struct req *r)
{
	return r->received;
}

int64_t
req_content_length(const struct req *r)
{
	return r->content_length;
}

static void
reset_response(struct req *r)
{
	if (r->rbody != NULL)
		evbuffer_drain(r->rbody, evbuffer_get_length(r->rbody));
	if (r->rfd != -1)
		close(r->rfd);
	r->rfd = -1;
	store_blob_reader_close(r->rd);
	r->rd = NULL;
	r->rstatic = NULL;
	r->rstatic_len = 0;
	r->ctype[0] = '\0';
	r->evstream = 0;
}

void
resp_event_stream(struct req *r, const char *project, int64_t after)
{
	reset_response(r);
	r->status = 200;
	snprintf(r->ctype, sizeof(r->ctype), "text/event-stream; charset=utf-8");
	snprintf(r->evs_project, sizeof(r->evs_project), "%s", project != NULL ? project : "");
	r->evs_after = after;
	r->evstream = 1;
}

void
resp_json(struct req *r, int status, json_t *body)
{
	char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;

	json_decref(body);
	reset_response(r);
	snprintf(r->ctype, sizeof(r->ctype), "application/json");
	if (r->rbody == NULL)
		r->rbody = evbuffer_new();
	if (text == NULL) {
		/* A body that could not be built or encoded (a string that is not
		 * UTF-8, no memory) is the server's fault, never an empty answer. */
		atr_error("%s %s: the %d answer could not be encoded as JSON; answered 500",
		    req_method(r), r->path != NULL ? r->path : "?", status);
		r->status = 500;
		if (r->rbody != NULL)
			evbuffer_add_printf(r->rbody, "{\"error\":\"%s\",\"code\":\"%s\"}\n",
			    atr_errcode_text(ATR_E_INTERNAL), atr_errcode_name(ATR_E_INTERNAL));
		return;
	}
	r->status = status;
	if (r->rbody != NULL) {
		evbuffer_add(r->rbody, text, strlen(text));
		evbuffer_add(r->rbody, "\n", 1);
	}
	free(text);
}

void
resp_empty(struct req *r, int status)
{
	reset_response(r);
	r->status = status;
}

json_t *
resp_error_body(enum atr_errcode code, const char *sentence)
{
	return json_pack("{s:s,s:s}", "error", sentence, "code", atr_errcode_name(code));
}

void
resp_error(struct req *r, enum atr_errcode code, const char *fmt, ...)
{
	struct atr_err err;
	va_list ap;

	atr_err_clear(&err); /* no field: not whatever the stack held */
	err.code = code;
	err.field[0] = '\0'; /* no setting: never a stack byte as "field" */
	err.core = 0;
	if (fmt == NULL) {
		snprintf(err.msg, sizeof(err.msg), "%s", atr_errcode_text(code));
	} else {
		va_start(ap, fmt);
		vsnprintf(err.msg, sizeof(err.msg), fmt, ap);
		va_end(ap);
	}
	resp_err(r, &err);
}

void
resp_err(struct req *r, const struct atr_err *err)
{
	int status = atr_errcode_http(err->code);
	char msg[ATR_ERR_MSG_MAX];
	json_t *body;

	/* A sentence may quote what a client or a file said: scrubbed, it
	 * always encodes. */
	snprintf(msg, sizeof(msg), "%s", atr_err_msg(err));
	atr_text_scrub(msg, "\t\n");
	body = resp_error_body(err->code, msg);
	/* The setting the error is about travels with it, as in the log. */
	if (body != NULL && atr_err_field(err)[0] != '\0')
		json_object_set_new(body, "field", json_string(atr_err_field(err)));
	resp_json(r, status, body);
	if (status == 401)
		resp_header(r, "WWW-Authenticate", "Bearer realm=\"atrium\"");
}

void
resp_field_error(struct req *r, const char *field, enum atr_errcode code, const char *fmt, ...)
{
	char msg[ATR_ERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	atr_text_scrub(msg, "\t\n");
	resp_json(r, atr_errcode_http(code), json_pack("{s:s,s:s,s:s}", "error", msg, "code",
	    atr_errcode_name(code), "field", field));
}

void
resp_header(struct req *r, const char *name, const char *value)
{
	if (r->rhdrs == NULL && (r->rhdrs = evbuffer_new()) == NULL)
		return;
	/* Header values never carry a line break into the response. */
	if (strpbrk(value, "\r\n") != NULL || strpbrk(name, "\r\n: ") != NULL)
		return;
	evbuffer_add_printf(r->rhdrs, "%s: %s\r\n", name, value);
}

void
resp_file(struct req *r, int status, int fd, off_t off, off_t len, const char *content_type)
{
	reset_response(r);
	r->status = status;
	r->rfd = fd;
	r->roff = off;
	r->rlen = len;
	snprintf(r->ctype, sizeof(r->ctype), "%s", content_type);
}

void
resp_blob(struct req *r, int status, struct store_blob_reader *rd, off_t off, off_t len,
    const char *content_type)
{
	int fd = store_blob_reader_fd(rd);

	if (fd != -1 && (fd = dup(fd)) != -1) {
		/* A plain file: the connection sends it itself (sendfile). */
		store_blob_reader_close(rd);
		resp_file(r, status, fd, off, len, content_type);
		return;
	}
	reset_response(r);
	r->status = status;
	r->rd = rd;
	r->roff = off;
	r->rlen = len;
	snprintf(r->ctype, sizeof(r->ctype), "%s", content_type);
}

int
req_upload_flush(struct req *r, struct atr_err *err)
{
	return r->owner.upload_flush != NULL ? r->owner.upload_flush(r, err) : 0;
}

void
resp_text(struct req *r, int status, const char *content_type, const char *text, size_t len)
{
	reset_response(r);
	r->status = status;
	snprintf(r->ctype, sizeof(r->ctype), "%s", content_type);
	if (r->rbody == NULL)
		r->rbody = evbuffer_new();
	if (r->rbody != NULL)
		evbuffer_add(r->rbody, text, len);
}

void
resp_static(struct req *r, int status, const void *data, size_t len, const char *content_type)
{
	reset_response(r);
	r->status = status;
	r->rstatic = data;
	r->rstatic_len = len;
	snprintf(r->ctype, sizeof(r->ctype), "%s", content_type);
}
