/*
 * Element locks: a user takes a lock on an element of a project's model
 * before changing it, so two people do not edit the same element at once.
 * One holder per (project, element); the holder or an admin releases it.
 */
#include <string.h>

#include "atrium/log.h"
#include "atrium/util.h"
#include "server/api.h"

static json_t *
lock_json(const struct store_lock *l)
{
	char t[32];

	api_time(l->since, t);
	return json_pack("{s:s,s:s,s:s}", "element", l->element, "holder", l->holder, "since", t);
}

/* NULL when element is acceptable, else what is wrong with it. Elements
 * are opaque to the server: any UTF-8 text without control characters. */
static const char *
element_problem(const char *element)
{
	size_t len = strlen(element);

	if (len == 0)
		return "the element name is empty";
	if (len > STORE_ELEMENT_MAX)
		return "the element name is longer than 256 bytes";
	if (atr_text_problem(element, len, NULL, NULL) != NULL)
		return atr_utf8_valid(element, len) ? "the element name contains a control character"
						    : "the element name is not valid UTF-8";
	return NULL;
}

static int
add_lock(const struct store_lock *l, void *arg)
{
	return api_listing_add(arg, lock_json(l));
}

void
api_locks_list(struct req *r)
{
	struct atr_err err;
	const char *name = api_project_param(r);
	struct api_listing l = {NULL, 0};

	if (name == NULL)
		return;
	l.items = json_array();
	if (store_lock_list(req_store(r), name, add_lock, &l, &err) == -1) {
		json_decref(api_listing_take(&l));
		return resp_err(r, &err);
	}
	resp_json(r, 200, json_pack("{s:o}", "locks", api_listing_take(&l)));
}

void
api_lock_take(struct req *r)
{
	struct atr_err err;
	struct store_lock l;
	const char *name = api_project_param(r), *element, *problem;
	json_t *body;
	char t[32], msg[ATR_ERR_MSG_MAX];
	int rc;

	if (name == NULL)
		return;
	if ((body = req_json(r, &err)) == NULL)
		return resp_err(r, &err);
	if ((element = json_string_value(json_object_get(body, "element"))) == NULL)
		return resp_error(r, ATR_E_BAD_REQUEST, "send {\"element\": \"ELEMENT\"}");
	if ((problem = element_problem(element)) != NULL)
		return resp_error(r, ATR_E_BAD_NAME, "bad element: %s", problem);
	memset(&l, 0, sizeof(l));
	rc = store_lock_acquire(req_store(r), name, element, req_user(r)->name,
	    atr_now_ms() / 1000, &l, &err);
	if (rc == -1 && err.code == ATR_E_CONFLICT) {
		api_time(l.since, t);
		snprintf(msg, sizeof(msg),
		    "'%.*s' in project '%s' is locked by %s since %s; ask %s or an admin to "
		    "release it",
		    (int)atr_utf8_cut(element, STORE_ELEMENT_MAX), element, name, l.holder, t,
		    l.holder);
		return resp_json(r, 409, json_pack("{s:s,s:s,s:s,s:o}", "error", msg, "code",
		    atr_errcode_name(ATR_E_CONFLICT), "holder", l.holder, "lock", lock_json(&l)));
	}
	if (rc == -1)
		return resp_err(r, &err);
	if (rc == 1)
		atr_info("'%s' locked '%s' in project '%s'", req_user(r)->name, element, name);
	resp_json(r, rc == 1 ? 201 : 200, lock_json(&l));
}

void
api_lock_release(struct req *r)
{
	struct atr_err err;
	const char *name = api_project_param(r), *element;

	if (name == NULL)
		return;
	element = req_param(r, 1);
	if (store_lock_release(req_store(r), name, element, req_user(r)->name, req_is_admin(r),
		&err) == -1)
		return resp_err(r, &err);
	atr_info("'%s' released '%s' in project '%s'", req_user(r)->name, element, name);
	resp_empty(r, 204);
}
