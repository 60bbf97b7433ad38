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
	/* branch last: the fields of before branches keep their order. */
	return json_pack("{s:I,s:s,s:s,s:s,s:I,s:s,s:s}", "number", (json_int_t)rev->number,
	    "author", rev->author, "message", rev->message, "time", t, "size",
	    (json_int_t)rev->size, "sha256", rev->sha256, "branch", rev->branch);
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
	char branch[STORE_NAME_MAX + 1];

	if (name == NULL || api_branch_query(r, branch) == -1)
		return;
	l.items = json_array();
	if (store_revision_list_in(req_store(r), name, branch, add_revision, &l, &err) == -1) {
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
	char branch[STORE_NAME_MAX + 1];
	int64_t n;

	if (name == NULL || api_branch_query(r, branch) == -1 ||
	    revision_param(r, req_param(r, 1), &n) == -1)
		return;
	if (store_revision_get_in(req_store(r), name, branch, n, &rev, &err) == -1)
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
	char branch[STORE_NAME_MAX + 1];
	int64_t n;
	int ranged = 0;

	if (name == NULL || api_branch_query(r, branch) == -1 ||
	    revision_param(r, req_param(r, 1), &n) == -1)
		return;
	if (store_revision_get_in(req_store(r), name, branch, n, &rev, &err) == -1)
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

/* The sentence for a commit whose base is not the head of its branch. */
static void
conflict(struct req *r, const char *project, const char *branch, int64_t base,
    const struct store_revision *head)
{
	char t[32], on[STORE_NAME_MAX + 16] = "", q[STORE_NAME_MAX + 16] = "";
	json_t *body;
	char msg[ATR_ERR_MSG_MAX];

	/* trunk's sentence is the one of before branches. */
	if (strcmp(branch, STORE_TRUNK) != 0) {
		snprintf(on, sizeof(on), " of %s", branch);
		snprintf(q, sizeof(q), " on branch %s", branch);
	}
	api_time(head->time, t);
	snprintf(msg, sizeof(msg),
	    "%s committed revision %lld%s (\"%.*s\") at %s after your base %lld; check out "
	    "revision %lld of '%s'%s, merge your change into it and commit again with base %lld",
	    head->author, (long long)head->number, on, (int)atr_utf8_cut(head->message, 200),
	    head->message, t, (long long)base, (long long)head->number, project, q,
	    (long long)head->number);
	body = json_pack("{s:s,s:s,s:s,s:o}", "error", msg, "code",
	    atr_errcode_name(ATR_E_CONFLICT), "branch", branch, "head", revision_json(head));
	resp_json(r, 409, body);
}

/* The 423 for an element someone else locked. */
static void
locked(struct req *r, const char *project, const struct store_lock *l)
{
	char t[32], msg[ATR_ERR_MSG_MAX];

	api_time(l->since, t);
	snprintf(msg, sizeof(msg),
	    "'%.*s' on %s of project '%s' is locked by %s since %s; ask %s or an admin to "
	    "release it, or leave it out of your commit",
	    (int)atr_utf8_cut(l->element, STORE_ELEMENT_MAX), l->element, l->branch, project,
	    l->holder, t, l->holder);
	resp_json(r, 423, json_pack("{s:s,s:s,s:s,s:o}", "error", msg, "code",
	    atr_errcode_name(ATR_E_LOCKED), "holder", l->holder, "lock", api_lock_json(l)));
}

/* What a commit says in its query and headers. */
struct commit_req {
	const char *name;
	char branch[STORE_NAME_MAX + 1];
	int64_t base;
	int keep_locks;
	const char *message; /* valid until the next req_query() */
};

/*
 * The elements a commit changed: the Atrium-Elements header, else the
 * ?elements= query parameter, a JSON array of strings, at most
 * COMMIT_ELEMENTS_MAX (and within the 32 KiB of headers or the 16 KiB of
 * the URL). *els borrows from *doc (the caller's to decref; both set on
 * failure too). -1 after responding.
 */
#define COMMIT_ELEMENTS_MAX 1000

static int
commit_elements(struct req *r, json_t **doc, const char ***els, size_t *n)
{
	const char *h = req_header(r, "Atrium-Elements"), *problem;
	json_error_t jerr;
	size_t i;

	*doc = NULL;
	*els = NULL;
	*n = 0;
	if (h == NULL && (h = req_query(r, "elements")) == NULL)
		return 0;
	if ((*doc = json_loads(h, JSON_REJECT_DUPLICATES, &jerr)) == NULL || !json_is_array(*doc)) {
		resp_error(r, ATR_E_BAD_REQUEST,
		    "Atrium-Elements (or ?elements=) must be a JSON array of element names, e.g. [\"a\",\"b\"]");
		return -1;
	}
	if (json_array_size(*doc) > COMMIT_ELEMENTS_MAX) {
		resp_error(r, ATR_E_BAD_REQUEST,
		    "Atrium-Elements names %zu elements; at most %d in one commit (release the "
		    "others with DELETE .../locks)",
		    json_array_size(*doc), COMMIT_ELEMENTS_MAX);
		return -1;
	}
	if ((*els = calloc(json_array_size(*doc) + 1, sizeof(**els))) == NULL) {
		resp_error(r, ATR_E_NOMEM, "out of memory");
		return -1;
	}
	for (i = 0; i < json_array_size(*doc); i++) {
		const char *e = json_string_value(json_array_get(*doc, i));
		if (e == NULL) {
			resp_error(r, ATR_E_BAD_REQUEST, "Atrium-Elements must hold only strings");
			return -1;
		}
		if ((problem = api_element_problem(e)) != NULL) {
			resp_error(r, ATR_E_BAD_NAME, "bad element in Atrium-Elements: %s", problem);
			return -1;
		}
		(*els)[i] = e;
	}
	*n = i;
	return 0;
}

/* Checks a commit's parameters and elements (commit_elements); -1 after
 * responding. The message is read last: req_query() reuses its buffer. */
static int
commit_params(struct req *r, struct commit_req *c, json_t **doc, const char ***els, size_t *n)
{
	const char *b, *k;
	char *end;

	if ((c->name = api_project_param(r)) == NULL || api_branch_query(r, c->branch) == -1)
		return -1;
	k = req_query(r, "keep_locks");
	c->keep_locks = k != NULL && (strcmp(k, "true") == 0 || strcmp(k, "1") == 0);
	if (k != NULL && !c->keep_locks && strcmp(k, "false") != 0 && strcmp(k, "0") != 0) {
		resp_error(r, ATR_E_BAD_REQUEST, "keep_locks must be true or false");
		return -1;
	}
	if ((b = req_query(r, "base")) == NULL) {
		resp_error(r, ATR_E_BAD_REQUEST,
		    "add ?base=N: the newest revision you have seen (0 for a new project)");
		return -1;
	}
	errno = 0;
	c->base = strtoll(b, &end, 10);
	if (errno != 0 || *end != '\0' || end == b || c->base < 0) {
		resp_error(r, ATR_E_BAD_REQUEST, "base must be a revision number (0 or more)");
		return -1;
	}
	if (commit_elements(r, doc, els, n) == -1)
		return -1;
	c->message = req_query(r, "message");
	if (c->message == NULL)
		c->message = "";
	if (strlen(c->message) > STORE_MESSAGE_MAX) {
		resp_error(r, ATR_E_BAD_REQUEST, "the message is longer than 4096 bytes");
		return -1;
	}
	return 0;
}

void
api_revision_begin(struct req *r)
{
	struct atr_err err;
	struct store_branch b;
	struct store_revision head;
	struct store_blob_writer *w;
	struct commit_req c;
	json_t *doc = NULL;
	const char **els = NULL;
	size_t n;
	int rc;

	/* A bad element list is refused before the content is sent. */
	rc = commit_params(r, &c, &doc, &els, &n);
	free(els);
	json_decref(doc);
	if (rc == -1)
		return;
	if (store_branch_get(req_store(r), c.name, c.branch, &b, &err) == -1)
		return resp_err(r, &err);
	/* Refuse a stale base before the content is sent, not after. */
	if (b.head != c.base) {
		if (c.base > b.head) {
			if (strcmp(c.branch, STORE_TRUNK) == 0)
				return resp_error(r, ATR_E_BAD_REQUEST,
				    "base %lld is ahead of project '%s', whose newest revision is %lld",
				    (long long)c.base, c.name, (long long)b.head);
			return resp_error(r, ATR_E_BAD_REQUEST,
			    "base %lld is ahead of branch %s of project '%s', whose newest revision "
			    "is %lld",
			    (long long)c.base, c.branch, c.name, (long long)b.head);
		}
		if (store_revision_get_in(req_store(r), c.name, c.branch, b.head, &head, &err) == -1)
			return resp_err(r, &err);
		return conflict(r, c.name, c.branch, c.base, &head);
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
	struct store_lock l;
	struct store_blob_writer *w;
	struct store_commit sc;
	struct commit_req c;
	json_t *doc = NULL;
	const char **els = NULL;
	char sha256[65];
	int64_t size, released = 0;
	size_t n;
	int by_ref;

	if (commit_params(r, &c, &doc, &els, &n) == -1)
		goto out;
	if ((by_ref = api_content_ref(r, &size, sha256)) == -1)
		goto out;
	if (by_ref)
		goto commit;
	if (req_upload_flush(r, &err) == -1) {
		atr_error("storing a revision of '%s' failed: %s", c.name, atr_err_msg(&err));
		resp_err(r, &err);
		goto out;
	}
	if ((w = req_take_upload(r)) == NULL) {
		resp_error(r, ATR_E_INTERNAL, "the upload was lost");
		goto out;
	}
	/* Someone committed during the upload: with the embedded store,
	 * refuse before paying for the fsync of content that would be refused
	 * anyway (PostgreSQL has the content already, and an abandoned upload
	 * waits a day for collection: there, finishing is cheaper). The
	 * commit below still decides races that start after this look. */
	if (!store_is_blocking(req_runtime(r)->store)) {
		struct store_branch b;
		if (store_branch_get(req_store(r), c.name, c.branch, &b, &err) == 0 &&
		    b.head != c.base &&
		    store_revision_get_in(req_store(r), c.name, c.branch, b.head, &head, &err) == 0) {
			store_blob_abort(w);
			conflict(r, c.name, c.branch, c.base, &head);
			goto out;
		}
	}
	size = store_blob_written(w);
	if (store_blob_finish(w, req_store(r), sha256, &err) == -1) {
		atr_error("storing a revision of '%s' failed: %s", c.name, atr_err_msg(&err));
		resp_err(r, &err);
		goto out;
	}
commit:
	sc = (struct store_commit){c.name, c.branch, c.base, req_user(r)->name, c.message,
		atr_now_ms() / 1000, size, sha256, els, n, c.keep_locks};
	if (store_revision_commit_in(req_store(r), &sc, &head, &l, &released, &err) == -1) {
		if (err.code == ATR_E_CONFLICT)
			conflict(r, c.name, c.branch, c.base, &head);
		else if (err.code == ATR_E_LOCKED)
			locked(r, c.name, &l);
		else
			resp_err(r, &err);
		goto out;
	}
	atr_info("'%s' committed revision %lld of %s of '%s' (%lld bytes, sha256 %.12s...; "
		 "%lld lock(s) released)",
	    req_user(r)->name, (long long)c.base + 1, c.branch, c.name, (long long)size, sha256,
	    (long long)released);
	resp_json(r, 201, json_pack("{s:I,s:s,s:I,s:s,s:I}", "revision", (json_int_t)(c.base + 1),
	    "sha256", sha256, "size", (json_int_t)size, "branch", c.branch, "locks_released",
	    (json_int_t)released));
out:
	free(els);
	json_decref(doc);
}
