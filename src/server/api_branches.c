/*
 * Branches and tags of a project (docs/api.md "Branches", "Tags").
 *
 * Until per-project roles exist, deleting a branch or a tag (the project
 * manager's right) is for server admins; any user creates them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atrium/log.h"
#include "atrium/util.h"
#include "server/api.h"

static json_t *
branch_json(const struct store_branch *b)
{
	char t[32];
	json_t *from;

	api_time(b->created, t);
	from = b->from_branch[0] != '\0'
		   ? json_pack("{s:s,s:I}", "branch", b->from_branch, "revision",
			 (json_int_t)b->from_revision)
		   : json_null();
	return json_pack("{s:s,s:o,s:I,s:s,s:s}", "name", b->name, "from", from, "head",
	    (json_int_t)b->head, "created", t, "created_by", b->created_by);
}

static json_t *
tag_json(const struct store_tag *tg)
{
	char t[32];

	api_time(tg->created, t);
	return json_pack("{s:s,s:s,s:I,s:s,s:s}", "name", tg->name, "branch", tg->branch,
	    "revision", (json_int_t)tg->revision, "created", t, "created_by", tg->created_by);
}

static int
add_branch(const struct store_branch *b, void *arg)
{
	return api_listing_add(arg, branch_json(b));
}

static int
add_tag(const struct store_tag *t, void *arg)
{
	return api_listing_add(arg, tag_json(t));
}

/* The name in the path's second '*', checked; NULL after answering. */
static const char *
second_name(struct req *r, const char *kind)
{
	const char *name = req_param(r, 1);
	const char *problem = api_name_problem(name);

	if (problem != NULL) {
		resp_error(r, ATR_E_BAD_NAME, "bad %s name: %s", kind, problem);
		return NULL;
	}
	return name;
}

/* A body's "name", checked as a new name; NULL after answering. */
static const char *
body_name(struct req *r, json_t *body, const char *kind, const char *usage)
{
	const char *name = json_string_value(json_object_get(body, "name"));
	const char *problem;

	if (name == NULL) {
		resp_error(r, ATR_E_BAD_REQUEST, "%s", usage);
		return NULL;
	}
	if ((problem = api_name_problem(name)) != NULL) {
		resp_error(r, ATR_E_BAD_NAME, "bad %s name: %s", kind, problem);
		return NULL;
	}
	return name;
}

/* A body's revision number ("revision": N or absent for the head); -1
 * after answering. */
static int
body_revision(struct req *r, json_t *obj, int64_t *out)
{
	json_t *v = obj != NULL ? json_object_get(obj, "revision") : NULL;

	*out = -1;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 1) {
		resp_error(r, ATR_E_BAD_REQUEST, "revision must be a revision number (1, 2, ...)");
		return -1;
	}
	*out = json_integer_value(v);
	return 0;
}

/* A body's branch name under key (absent: trunk) into out; -1 after answering. */
static int
body_branch(struct req *r, json_t *obj, char *out)
{
	json_t *v = obj != NULL ? json_object_get(obj, "branch") : NULL;
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

void
api_branches_list(struct req *r)
{
	struct atr_err err;
	const char *project = api_project_param(r);
	struct api_listing l = {NULL, 0};

	if (project == NULL)
		return;
	l.items = json_array();
	if (store_branch_list(req_store(r), project, add_branch, &l, &err) == -1) {
		json_decref(api_listing_take(&l));
		return resp_err(r, &err);
	}
	resp_json(r, 200, json_pack("{s:o}", "branches", api_listing_take(&l)));
}

void
api_branch_create(struct req *r)
{
	struct atr_err err;
	struct store_branch b;
	const char *project = api_project_param(r), *name;
	char from[STORE_NAME_MAX + 1];
	json_t *body, *f;
	int64_t rev;

	if (project == NULL)
		return;
	if ((body = req_json(r, &err)) == NULL)
		return resp_err(r, &err);
	if ((name = body_name(r, body, "branch",
		 "send {\"name\": \"BRANCH\", \"from\": {\"branch\": \"trunk\", \"revision\": N}}")) ==
	    NULL)
		return;
	f = json_object_get(body, "from");
	if (f != NULL && !json_is_object(f) && !json_is_null(f))
		return resp_error(r, ATR_E_BAD_REQUEST,
		    "from must be {\"branch\": \"B\", \"revision\": N} (both optional)");
	if (body_branch(r, f, from) == -1 || body_revision(r, f, &rev) == -1)
		return;
	if (store_branch_create(req_store(r), project, name, from, rev, req_user(r)->name,
		atr_now_ms() / 1000, &b, &err) == -1)
		return resp_err(r, &err);
	atr_info("'%s' created branch '%s' of project '%s' from %s:%lld", req_user(r)->name, name,
	    project, b.from_branch, (long long)b.from_revision);
	resp_json(r, 201, branch_json(&b));
}

void
api_branch_get(struct req *r)
{
	struct atr_err err;
	struct store_branch b;
	const char *project = api_project_param(r), *name;

	if (project == NULL || (name = second_name(r, "branch")) == NULL)
		return;
	if (store_branch_get(req_store(r), project, name, &b, &err) == -1)
		return resp_err(r, &err);
	resp_json(r, 200, branch_json(&b));
}

void
api_branch_delete(struct req *r)
{
	struct atr_err err;
	const char *project = api_project_param(r), *name;

	if (project == NULL || (name = second_name(r, "branch")) == NULL)
		return;
	/* Interim: the project manager's right, an admin's until roles exist. */
	if (!req_is_admin(r))
		return resp_error(r, ATR_E_FORBIDDEN,
		    "only an admin may delete branch '%s' of project '%s'", name, project);
	if (store_branch_delete(req_store(r), project, name, req_user(r)->name, &err) == -1)
		return resp_err(r, &err);
	atr_info("'%s' deleted branch '%s' of project '%s' with its revisions and locks",
	    req_user(r)->name, name, project);
	resp_empty(r, 204);
}

void
api_tags_list(struct req *r)
{
	struct atr_err err;
	const char *project = api_project_param(r);
	struct api_listing l = {NULL, 0};

	if (project == NULL)
		return;
	l.items = json_array();
	if (store_tag_list(req_store(r), project, add_tag, &l, &err) == -1) {
		json_decref(api_listing_take(&l));
		return resp_err(r, &err);
	}
	resp_json(r, 200, json_pack("{s:o}", "tags", api_listing_take(&l)));
}

void
api_tag_create(struct req *r)
{
	struct atr_err err;
	struct store_tag t;
	const char *project = api_project_param(r), *name;
	char branch[STORE_NAME_MAX + 1];
	json_t *body;
	int64_t rev;

	if (project == NULL)
		return;
	if ((body = req_json(r, &err)) == NULL)
		return resp_err(r, &err);
	if ((name = body_name(r, body, "tag",
		 "send {\"name\": \"TAG\", \"branch\": \"trunk\", \"revision\": N}")) == NULL ||
	    body_branch(r, body, branch) == -1 || body_revision(r, body, &rev) == -1)
		return;
	if (store_tag_create(req_store(r), project, name, branch, rev, req_user(r)->name,
		atr_now_ms() / 1000, &t, &err) == -1)
		return resp_err(r, &err);
	atr_info("'%s' tagged revision %lld of %s of project '%s' as '%s'", req_user(r)->name,
	    (long long)t.revision, branch, project, name);
	resp_json(r, 201, tag_json(&t));
}

void
api_tag_get(struct req *r)
{
	struct atr_err err;
	struct store_tag t;
	const char *project = api_project_param(r), *name;

	if (project == NULL || (name = second_name(r, "tag")) == NULL)
		return;
	if (store_tag_get(req_store(r), project, name, &t, &err) == -1)
		return resp_err(r, &err);
	resp_json(r, 200, tag_json(&t));
}

void
api_tag_delete(struct req *r)
{
	struct atr_err err;
	struct store_tag t;
	const char *project = api_project_param(r), *name;

	if (project == NULL || (name = second_name(r, "tag")) == NULL)
		return;
	if (!req_is_admin(r))
		return resp_error(r, ATR_E_FORBIDDEN,
		    "only an admin may delete tag '%s' of project '%s'", name, project);
	if (store_tag_get(req_store(r), project, name, &t, &err) == -1 ||
	    store_tag_delete(req_store(r), project, name, req_user(r)->name, &err) == -1)
		return resp_err(r, &err);
	atr_info("'%s' deleted tag '%s' (revision %lld of %s) of project '%s'", req_user(r)->name,
	    name, (long long)t.revision, t.branch, project);
	resp_empty(r, 204);
}
