/*
 * Element locks: a user takes locks on elements of a branch of a
 * project's model before changing them, so two people do not edit the
 * same element at once. One holder per (project, branch, element); a set
 * is taken all or none; the holder releases them (or a commit naming the
 * elements does), and an admin may release anyone's, which is logged with
 * who and why. Until per-project roles exist, the "lock administrator"
 * is a server admin.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atrium/log.h"
#include "atrium/util.h"
#include "server/adminlog.h"
#include "server/api.h"

/* Conflicts named in the sentence of a 409 (the answer's "conflicts"
 * lists them all). */
#define CONFLICTS_IN_SENTENCE 10

static int
add_lock(const struct store_lock *l, void *arg)
{
	return api_listing_add(arg, api_lock_json(l));
}

/* An optional ?NAME= that must be a valid name, into out ("" when
 * absent); "me" for holder is the caller. -1 after answering. */
static int
name_query(struct req *r, const char *key, char *out)
{
	const char *v = req_query(r, key), *problem;

	out[0] = '\0';
	if (v == NULL || *v == '\0')
		return 0;
	if (strcmp(key, "holder") == 0 && strcmp(v, "me") == 0)
		v = req_user(r)->name;
	if ((problem = api_name_problem(v)) != NULL) {
		resp_error(r, ATR_E_BAD_NAME, "bad %s name: %s", key, problem);
		return -1;
	}
	snprintf(out, STORE_NAME_MAX + 1, "%s", v);
	return 0;
}

void
api_locks_list(struct req *r)
{
	struct atr_err err;
	const char *name = api_project_param(r);
	struct api_listing l = {NULL, 0};
	char branch[STORE_NAME_MAX + 1], holder[STORE_NAME_MAX + 1];

	if (name == NULL || name_query(r, "branch", branch) == -1 ||
	    name_query(r, "holder", holder) == -1)
		return;
	l.items = json_array();
	if (store_locks_list(req_store(r), name, branch[0] ? branch : NULL,
		holder[0] ? holder : NULL, add_lock, &l, &err) == -1) {
		json_decref(api_listing_take(&l));
		return resp_err(r, &err);
	}
	resp_json(r, 200, json_pack("{s:o}", "locks", api_listing_take(&l)));
}

/* The body's "branch" (absent: trunk) into out; -1 after answering. */
static int
body_branch(struct req *r, json_t *body, char *out)
{
	json_t *v = json_object_get(body, "branch");
	const char *b, *problem;

	snprintf(out, STORE_NAME_MAX + 1, "%s", STORE_TRUNK);
	if (v == NULL || json_is_null(v))
		return 0;
	if ((b = json_string_value(v)) == NULL) {
		resp_error(r, ATR_E_BAD_REQUEST, "branch must be a branch name");
		return -1;
	}
	if ((problem = api_name_problem(b)) != NULL) {
		resp_error(r, ATR_E_BAD_NAME, "bad branch name: %s", problem);
		return -1;
	}
	snprintf(out, STORE_NAME_MAX + 1, "%s", b);
	return 0;
}

/* The body's "elements": a non-empty array of element names, borrowed
 * from the body into *out (the caller frees the array). -1 after answering. */
static int
body_elements(struct req *r, json_t *arr, const char ***out, size_t *n)
{
	const char *problem;
	size_t i;

	*out = NULL;
	*n = 0;
	if (!json_is_array(arr) || json_array_size(arr) == 0) {
		resp_error(r, ATR_E_BAD_REQUEST, "elements must be a non-empty array of element names");
		return -1;
	}
	if (json_array_size(arr) > STORE_LOCKS_PER_CALL) {
		resp_error(r, ATR_E_BAD_REQUEST, "%zu elements in one call; at most %d",
		    json_array_size(arr), STORE_LOCKS_PER_CALL);
		return -1;
	}
	if ((*out = calloc(json_array_size(arr), sizeof(**out))) == NULL) {
		resp_error(r, ATR_E_NOMEM, "out of memory");
		return -1;
	}
	for (i = 0; i < json_array_size(arr); i++) {
		const char *e = json_string_value(json_array_get(arr, i));
		if (e == NULL) {
			resp_error(r, ATR_E_BAD_REQUEST, "elements must hold only strings");
			return -1;
		}
		if ((problem = api_element_problem(e)) != NULL) {
			resp_error(r, ATR_E_BAD_NAME, "bad element '%.*s': %s",
			    (int)atr_utf8_cut(e, 100), e, problem);
			return -1;
		}
		(*out)[i] = e;
	}
	*n = i;
	return 0;
}

/* The conflicts of a set, for the 409. */
struct conflicts {
	json_t *list;
	char text[ATR_ERR_MSG_MAX / 2];
	size_t count;
};

static int
add_conflict(const struct store_lock *l, void *arg)
{
	struct conflicts *c = arg;
	char t[32];
	size_t len = strlen(c->text);

	api_time(l->since, t);
	if (c->count++ < CONFLICTS_IN_SENTENCE)
		snprintf(c->text + len, sizeof(c->text) - len, "%s'%.*s' (%s since %s)",
		    len ? ", " : "", (int)atr_utf8_cut(l->element, 80), l->element, l->holder, t);
	json_array_append_new(c->list, api_lock_json(l));
	return 0;
}

/* {"element": E}: the single-element call of before sets. */
static void
take_one(struct req *r, const char *name, const char *branch, const char *element)
{
	struct atr_err err;
	struct conflicts c = {NULL, "", 0};
	struct store_lock l;
	const char *problem;
	char t[32], msg[ATR_ERR_MSG_MAX];
	int64_t taken = 0;

	if ((problem = api_element_problem(element)) != NULL)
		return resp_error(r, ATR_E_BAD_NAME, "bad element: %s", problem);
	c.list = json_array();
	if (store_locks_take(req_store(r), name, branch, &element, 1, req_user(r)->name,
		atr_now_ms() / 1000, add_conflict, &c, &taken, &err) == -1) {
		json_t *first = json_array_get(c.list, 0);
		if (err.code != ATR_E_CONFLICT || first == NULL) {
			json_decref(c.list);
			return resp_err(r, &err);
		}
		snprintf(t, sizeof(t), "%s", json_string_value(json_object_get(first, "since")));
		snprintf(msg, sizeof(msg),
		    "'%.*s' in project '%s' is locked by %s since %s; ask %s or an admin to "
		    "release it",
		    (int)atr_utf8_cut(element, STORE_ELEMENT_MAX), element, name,
		    json_string_value(json_object_get(first, "holder")), t,
		    json_string_value(json_object_get(first, "holder")));
		resp_json(r, 409, json_pack("{s:s,s:s,s:s,s:O}", "error", msg, "code",
		    atr_errcode_name(ATR_E_CONFLICT), "holder",
		    json_string_value(json_object_get(first, "holder")), "lock", first));
		json_decref(c.list);
		return;
	}
	json_decref(c.list);
	memset(&l, 0, sizeof(l));
	snprintf(l.branch, sizeof(l.branch), "%s", branch);
	snprintf(l.element, sizeof(l.element), "%s", element);
	snprintf(l.holder, sizeof(l.holder), "%s", req_user(r)->name);
	l.since = atr_now_ms() / 1000;
	/* Held already: answer with it as it stands (its time is kept). */
	if (taken == 0 && store_lock_get(req_store(r), name, branch, element, &l, &err) == -1)
		return resp_err(r, &err);
	if (taken == 0)
		return resp_json(r, 200, api_lock_json(&l));
	atr_info("'%s' locked '%s' on %s of project '%s'", req_user(r)->name, element, branch, name);
	resp_json(r, 201, api_lock_json(&l));
}

void
api_lock_take(struct req *r)
{
	struct atr_err err;
	struct conflicts c = {NULL, "", 0};
	const char *name = api_project_param(r), *element;
	const char **els = NULL;
	char branch[STORE_NAME_MAX + 1], msg[ATR_ERR_MSG_MAX];
	json_t *body, *arr, *list;
	int64_t taken = 0;
	size_t n;

	if (name == NULL)
		return;
	if ((body = req_json(r, &err)) == NULL)
		return resp_err(r, &err);
	if (body_branch(r, body, branch) == -1)
		return;
	if ((element = json_string_value(json_object_get(body, "element"))) != NULL)
		return take_one(r, name, branch, element);
	if ((arr = json_object_get(body, "elements")) == NULL)
		return resp_error(r, ATR_E_BAD_REQUEST,
		    "send {\"elements\": [\"E1\", \"E2\", ...], \"branch\": \"trunk\"} (or "
		    "{\"element\": \"ELEMENT\"})");
	if (body_elements(r, arr, &els, &n) == -1) {
		free(els);
		return;
	}
	c.list = json_array();
	if (store_locks_take(req_store(r), name, branch, els, n, req_user(r)->name,
		atr_now_ms() / 1000, add_conflict, &c, &taken, &err) == -1) {
		free(els);
		if (err.code != ATR_E_CONFLICT) {
			json_decref(c.list);
			return resp_err(r, &err);
		}
		snprintf(msg, sizeof(msg),
		    "nothing was locked: %zu of the elements on %s of project '%s' are locked by "
		    "others: %s%s; ask them or an admin to release them",
		    c.count, branch, name, c.text, c.count > CONFLICTS_IN_SENTENCE ? ", ..." : "");
		return resp_json(r, 409, json_pack("{s:s,s:s,s:o}", "error", msg, "code",
		    atr_errcode_name(ATR_E_CONFLICT), "conflicts", c.list));
	}
	json_decref(c.list);
	list = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(list, json_string(els[i]));
	free(els);
	if (taken > 0)
		atr_info("'%s' locked %lld element(s) on %s of project '%s'", req_user(r)->name,
		    (long long)taken, branch, name);
	resp_json(r, taken > 0 ? 201 : 200, json_pack("{s:s,s:s,s:o,s:I}", "branch", branch,
	    "holder", req_user(r)->name, "elements", list, "taken", (json_int_t)taken));
}

/* Releases with the caller's rights; an admin whose call touches someone
 * else's locks tries again with force, and that is logged with the reason. */
static int
release(struct req *r, const char *name, const char *branch, const char *const *els, size_t n,
    const char *holder, const char *reason, int64_t *released, struct atr_err *err)
{
	const char *user = req_user(r)->name;

	if (store_locks_release(req_store(r), name, branch, els, n, holder, user, 0, released,
		err) == 0)
		return 0;
	if (err->code != ATR_E_FORBIDDEN || !req_is_admin(r))
		return -1;
	if (store_locks_release(req_store(r), name, branch, els, n, holder, user, 1, released,
		err) == -1)
		return -1;
	if (holder != NULL)
		log_admin(r, "released %lld lock(s) of '%s' on %s of project '%s': %s",
		    (long long)*released, holder, branch, name, reason);
	else
		log_admin(r, "released %lld lock(s) on %s of project '%s', some of others: %s",
		    (long long)*released, branch, name, reason);
	return 0;
}

/* DELETE .../locks/ELEMENT[?branch=]: one element, 404 when not locked. */
void
api_lock_release(struct req *r)
{
	struct atr_err err;
	const char *name = api_project_param(r), *element, *reason;
	char branch[STORE_NAME_MAX + 1];
	int64_t released = 0;

	if (name == NULL || api_branch_query(r, branch) == -1)
		return;
	element = req_param(r, 1);
	reason = req_query(r, "reason");
	if (release(r, name, branch, &element, 1, NULL,
		reason != NULL && *reason ? reason : "no reason given", &released, &err) == -1)
		return resp_err(r, &err);
	if (released == 0)
		return resp_error(r, ATR_E_NOT_FOUND, "'%s' in project '%s' is not locked", element,
		    name);
	atr_info("'%s' released '%s' on %s of project '%s'", req_user(r)->name, element, branch,
	    name);
	resp_empty(r, 204);
}

/* DELETE .../locks {"elements": [...], "branch", "reason"} or
 * ?holder=me|NAME[&branch=][&reason=]. */
void
api_locks_release(struct req *r)
{
	struct atr_err err;
	const char *name = api_project_param(r), *reason = NULL;
	const char **els = NULL;
	char branch[STORE_NAME_MAX + 1], holder[STORE_NAME_MAX + 1],
	    why[STORE_MESSAGE_MAX + 1] = "no reason given";
	json_t *body = NULL, *arr = NULL;
	int64_t released = 0;
	size_t n = 0;
	int rc;

	if (name == NULL || name_query(r, "holder", holder) == -1)
		return;
	if (holder[0] != '\0') {
		if (api_branch_query(r, branch) == -1)
			return;
		reason = req_query(r, "reason");
	} else {
		if ((body = req_json(r, &err)) == NULL)
			return resp_error(r, ATR_E_BAD_REQUEST,
			    "send {\"elements\": [\"E1\", ...], \"branch\": \"trunk\"}, or add "
			    "?holder=me to release all your locks");
		if (body_branch(r, body, branch) == -1)
			return;
		arr = json_object_get(body, "elements");
		if (body_elements(r, arr, &els, &n) == -1) {
			free(els);
			return;
		}
		reason = json_string_value(json_object_get(body, "reason"));
	}
	if (reason != NULL && *reason != '\0')
		snprintf(why, sizeof(why), "%.*s", (int)atr_utf8_cut(reason, 200), reason);
	rc = release(r, name, branch, els, n, holder[0] ? holder : NULL, why, &released, &err);
	free(els);
	if (rc == -1)
		return resp_err(r, &err);
	if (released > 0)
		atr_info("'%s' released %lld lock(s) on %s of project '%s'", req_user(r)->name,
		    (long long)released, branch, name);
	resp_json(r, 200, json_pack("{s:s,s:I}", "branch", branch, "released",
	    (json_int_t)released));
}
