/* Projects and their revisions: list, create, delete, commit, check out. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atrium/log.h"
#include "atrium/util.h"
#include "server/api.h"
#include "server/runtime.h"

static json_t *
revision_json(const struct store_revision *rev)
{
	char t[32];

	api_time(rev->time, t);
	return json_pack("{s:I,s:s,s:s,s:s,s:I,s:s}", "number", (json_int_t)rev->number, "author",
	    rev->author, "message", rev->message, "time", t, "size", (json_int_t)rev->size,
	    "sha256", rev->sha256);
}

static json_t *
project_json(const struct store_project *p)
{
	char t[32];
	json_t *j;

	api_time(p->created, t);
	j = json_pack("{s:s,s:s,s:s,s:s,s:I}", "name", p->name, "description", p->description,
	    "created", t, "created_by", p->created_by, "head", (json_int_t)p->head);
	/* A last revision that cannot be encoded fails the project, rather
	 * than vanishing from it. */
	if (j != NULL && p->head > 0 && json_object_set_new(j, "last", revision_json(&p->last)) == -1) {
		json_decref(j);
		return NULL;
	}
	return j;
}

const char *
api_project_param(struct req *r)
{
	const char *name = req_param(r, 0);
	const char *problem = api_name_problem(name);

	if (problem != NULL) {
		resp_error(r, ATR_E_BAD_NAME, "bad project name: %s", problem);
		return NULL;
	}
	return name;
}

static int
add_project(const struct store_project *p, void *arg)
{
	return api_listing_add(arg, project_json(p));
}

void
api_projects_list(struct req *r)
{
	struct atr_err err;
	struct api_listing l = {json_array(), 0};

	if (store_project_list(req_store(r), add_project, &l, &err) == -1) {
		json_decref(api_listing_take(&l));
		return resp_err(r, &err);
	}
	resp_json(r, 200, json_pack("{s:o}", "projects", api_listing_take(&l)));
}

void
api_project_create(struct req *r)
{
	struct atr_err err;
	json_t *body = req_json(r, &err), *d;
	const char *name, *desc = "";
	struct store_project p;
	int64_t now = atr_now_ms() / 1000;

	if (body == NULL)
		return resp_err(r, &err);
	if ((name = json_string_value(json_object_get(body, "name"))) == NULL)
		return resp_error(r, ATR_E_BAD_REQUEST,
		    "send {\"name\": \"PROJECT\", \"description\": \"...\"}");
	if (api_new_name(req_store(r), "project", name, &err) == -1)
		return resp_err(r, &err);
	if ((d = json_object_get(body, "description")) != NULL) {
		if ((desc = json_string_value(d)) == NULL)
			return resp_error(r, ATR_E_BAD_REQUEST, "description must be a string");
		if (strlen(desc) > STORE_DESC_MAX)
			return resp_error(r, ATR_E_BAD_REQUEST,
			    "the description is longer than 4096 bytes");
	}
	if (store_project_create(req_store(r), name, desc, req_user(r)->name, now, &err) == -1 ||
	    store_project_get(req_store(r), name, &p, &err) == -1)
		return resp_err(r, &err);
	atr_info("'%s' created project '%s'", req_user(r)->name, name);
	resp_json(r, 201, project_json(&p));
}

void
api_project_get(struct req *r)
{
	struct atr_err err;
	struct store_project p;
	const char *name = api_project_param(r);

	if (name == NULL)
		return;
	if (store_project_get(req_store(r), name, &p, &err) == -1)
		return resp_err(r, &err);
	resp_json(r, 200, project_json(&p));
}

void
api_project_delete(struct req *r)
{
	struct atr_err err;
	struct store_project p;
	const char *name = api_project_param(r);

	if (name == NULL)
		return;
	if (store_project_get(req_store(r), name, &p, &err) == -1)
		return resp_err(r, &err);
	if (!req_is_admin(r) && strcmp(p.created_by, req_user(r)->name) != 0)
		return resp_error(r, ATR_E_FORBIDDEN,
		    "only an admin or '%s', who created it, may delete project '%s'", p.created_by,
		    name);
	if (store_project_delete(req_store(r), name, req_user(r)->name, &err) == -1)
		return resp_err(r, &err);
	atr_info("'%s' deleted project '%s' (%lld revisions)", req_user(r)->name, name,
	    (long long)p.head);
	resp_empty(r, 204);
}

static int
add_revision(const struct store_revision *rev, void *arg)
{
	return api_listing_add(arg, revision_json(rev));
}

void
api_revisions_list(struct req *r)
{
	struct atr_err err;
	const char *name = api_project_param(r);
	struct api_listing l = {NULL, 0};

	if (name == NULL)
		return;
	l.items = json_array();
	if (store_revision_list(req_store(r), name, add_revision, &l, &err) == -1) {
		json_decref(api_listing_take(&l));
		return resp_err(r, &err);
	}
	resp_json(r, 200, json_pack("{s:o}", "revisions", api_listing_take(&l)));
}

/* Parses a revision number ("head" is -1); -1 after responding. */
static int
revision_param(struct req *r, const char *text, int64_t *out)
{
	char *end;
	long long n;

	if (strcmp(text, "head") == 0) {
		*out = -1;
		return 0;
	}
	errno = 0;
	n = strtoll(text, &end, 10);
	if (errno != 0 || *end != '\0' || end == text || n < 1 || text[0] == '+') {
		resp_error(r, ATR_E_BAD_REQUEST,
		    "'%s' is not a revision number (1, 2, ... or 'head')", text);
		return -1;
	}
	*out = n;
	return 0;
}

void
api_revision_get(struct req *r)
{
	struct atr_err err;
	struct store_revision rev;
	const char *name = api_project_param(r);
	int64_t n;

	if (name == NULL || revision_param(r, req_param(r, 1), &n) == -1)
		return;
	if (store_revision_get(req_store(r), name, n, &rev, &err) == -1)
		return resp_err(r, &err);
	resp_json(r, 200, revision_json(&rev));
}

/* Parses a single "bytes=A-B" range against size. 1 when a range applies
 * (off/len set), 0 to send everything, -1 when unsatisfiable. */
static int
parse_range(const char *h, int64_t size, off_t *off, off_t *len)
{
	long long a, b;
	char tail;

	if (strncmp(h, "bytes=", 6) != 0 || strchr(h, ',') != NULL)
		return 0; /* other units and several ranges: the whole content */
	h += 6;
	if (sscanf(h, "-%lld%c", &b, &tail) == 1) {
		if (b <= 0 || size == 0)
			return -1;
		if (b > size)
			b = size;
		*off = (off_t)(size - b);
		*len = (off_t)b;
		return 1;
	}
	if (sscanf(h, "%lld-%c", &a, &tail) == 1 && tail == '\0')
		b = size - 1;
	else if (sscanf(h, "%lld-", &a) == 1 && h[strlen(h) - 1] == '-')
		b = size - 1;
	else if (sscanf(h, "%lld-%lld%c", &a, &b, &tail) != 2)
		return 0;
	if (a < 0 || a >= size || b < a)
		return -1;
	if (b >= size)
		b = size - 1;
	*off = (off_t)a;
	*len = (off_t)(b - a + 1);
	return 1;
}

void
api_revision_content(struct req *r)
{
	struct atr_err err;
	struct store_revision rev;
	const char *name = api_project_param(r), *inm, *range;
	char etag[80], cr[100];
	struct store_blob_reader *rd;
	off_t off = 0, len;
	int64_t n;
	int ranged = 0;

	if (name == NULL || revision_param(r, req_param(r, 1), &n) == -1)
		return;
	if (store_revision_get(req_store(r), name, n, &rev, &err) == -1)
		return resp_err(r, &err);
	snprintf(etag, sizeof(etag), "\"%s\"", rev.sha256);
	inm = req_header(r, "If-None-Match");
	if (inm != NULL && (strstr(inm, rev.sha256) != NULL || strcmp(inm, "*") == 0)) {
		resp_empty(r, 304);
		resp_header(r, "ETag", etag);
		return;
	}
	if ((rd = store_blob_reader_open(req_store(r), rev.sha256, rev.size, &err)) == NULL) {
		atr_error("revision %lld of '%s': %s", (long long)rev.number, name, atr_err_msg(&err));
		return resp_error(r, ATR_E_INTERNAL,
		    "the content of this revision is missing or damaged on the server; see its log");
	}
	len = (off_t)rev.size;
	if ((range = req_header(r, "Range")) != NULL) {
		const char *ifr = req_header(r, "If-Range");
		if (ifr == NULL || strstr(ifr, rev.sha256) != NULL)
			ranged = parse_range(range, rev.size, &off, &len);
	}
	if (ranged == -1) {
		store_blob_reader_close(rd);
		resp_error(r, ATR_E_RANGE, "the range '%s' is outside the content (%lld bytes)",
		    range, (long long)rev.size);
		snprintf(cr, sizeof(cr), "bytes */%lld", (long long)rev.size);
		resp_header(r, "Content-Range", cr);
		return;
	}
	resp_blob(r, ranged ? 206 : 200, rd, off, len, "application/octet-stream");
	resp_header(r, "ETag", etag);
	resp_header(r, "Accept-Ranges", "bytes");
	if (ranged) {
		snprintf(cr, sizeof(cr), "bytes %lld-%lld/%lld", (long long)off,
		    (long long)(off + len - 1), (long long)rev.size);
		resp_header(r, "Content-Range", cr);
	}
}

/* The sentence for a commit whose base is not the head. */
static void
conflict(struct req *r, const char *project, int64_t base, const struct store_revision *head)
{
	char t[32];
	json_t *body;
	char msg[ATR_ERR_MSG_MAX];

	api_time(head->time, t);
	snprintf(msg, sizeof(msg),
	    "%s committed revision %lld (\"%.*s\") at %s after your base %lld; check out "
	    "revision %lld of '%s', merge your change into it and commit again with base %lld",
	    head->author, (long long)head->number, (int)atr_utf8_cut(head->message, 200),
	    head->message, t, (long long)base,
	    (long long)head->number, project, (long long)head->number);
	body = json_pack("{s:s,s:s,s:o}", "error", msg, "code", atr_errcode_name(ATR_E_CONFLICT),
	    "head", revision_json(head));
	resp_json(r, 409, body);
}

/* Checks a commit's parameters; -1 after responding. */
static int
commit_params(struct req *r, const char **name, int64_t *base, const char **message)
{
	const char *b;
	char *end;

	if ((*name = api_project_param(r)) == NULL)
		return -1;
	if ((b = req_query(r, "base")) == NULL) {
		resp_error(r, ATR_E_BAD_REQUEST,
		    "add ?base=N: the newest revision you have seen (0 for a new project)");
		return -1;
	}
	errno = 0;
	*base = strtoll(b, &end, 10);
	if (errno != 0 || *end != '\0' || end == b || *base < 0) {
		resp_error(r, ATR_E_BAD_REQUEST, "base must be a revision number (0 or more)");
		return -1;
	}
	*message = req_query(r, "message");
	if (*message == NULL)
		*message = "";
	if (strlen(*message) > STORE_MESSAGE_MAX) {
		resp_error(r, ATR_E_BAD_REQUEST, "the message is longer than 4096 bytes");
		return -1;
	}
	return 0;
}

void
api_revision_begin(struct req *r)
{
	struct atr_err err;
	struct store_project p;
	struct store_blob_writer *w;
	const char *name, *message;
	int64_t base;

	if (commit_params(r, &name, &base, &message) == -1)
		return;
	if (store_project_get(req_store(r), name, &p, &err) == -1)
		return resp_err(r, &err);
	/* Refuse a stale base before the content is sent, not after. */
	if (p.head != base) {
		if (base > p.head)
			return resp_error(r, ATR_E_BAD_REQUEST,
			    "base %lld is ahead of project '%s', whose newest revision is %lld",
			    (long long)base, name, (long long)p.head);
		return conflict(r, name, base, &p.last);
	}
	if (req_header(r, "X-Atrium-Content") != NULL)
		return; /* the content is on the server already (api_chunks.c) */
	if ((w = store_blob_writer_new(req_runtime(r)->store, &err)) == NULL) {
		atr_error("cannot start an upload: %s", atr_err_msg(&err));
		return resp_err(r, &err);
	}
	req_set_upload(r, w);
}

void
api_revision_commit(struct req *r)
{
	struct atr_err err;
	struct store_revision head;
	struct store_blob_writer *w;
	const char *name, *message;
	char sha256[65];
	int64_t base, size;
	int by_ref;

	if (commit_params(r, &name, &base, &message) == -1)
		return;
	if ((by_ref = api_content_ref(r, &size, sha256)) == -1)
		return;
	if (by_ref)
		goto commit;
	if (req_upload_flush(r, &err) == -1) {
		atr_error("storing a revision of '%s' failed: %s", name, atr_err_msg(&err));
		return resp_err(r, &err);
	}
	if ((w = req_take_upload(r)) == NULL)
		return resp_error(r, ATR_E_INTERNAL, "the upload was lost");
	/* Someone committed during the upload: with the embedded store,
	 * refuse before paying for the fsync of content that would be refused
	 * anyway (PostgreSQL has the content already, and an abandoned upload
	 * waits a day for collection: there, finishing is cheaper). The
	 * commit below still decides races that start after this look. */
	if (!store_is_blocking(req_runtime(r)->store)) {
		struct store_project p;
		if (store_project_get(req_store(r), name, &p, &err) == 0 && p.head != base) {
			store_blob_abort(w);
			return conflict(r, name, base, &p.last);
		}
	}
	size = store_blob_written(w);
	if (store_blob_finish(w, req_store(r), sha256, &err) == -1) {
		atr_error("storing a revision of '%s' failed: %s", name, atr_err_msg(&err));
		return resp_err(r, &err);
	}
commit:
	if (store_revision_commit(req_store(r), name, base, req_user(r)->name, message,
		atr_now_ms() / 1000, size, sha256, &head, &err) == -1) {
		if (err.code == ATR_E_CONFLICT)
			return conflict(r, name, base, &head);
		return resp_err(r, &err);
	}
	atr_info("'%s' committed revision %lld of '%s' (%lld bytes, sha256 %.12s...)",
	    req_user(r)->name, (long long)base + 1, name, (long long)size, sha256);
	resp_json(r, 201, json_pack("{s:I,s:s,s:I}", "revision", (json_int_t)(base + 1), "sha256",
	    sha256, "size", (json_int_t)size));
}
