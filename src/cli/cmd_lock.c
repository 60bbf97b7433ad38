/* atrium lock, unlock, locks: element locks (docs/api.md "Element locks"). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "cli/client.h"
#include "cli/http.h"
#include "cli/output.h"
#include "cli/url.h"

static const char *
str_of(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s != NULL ? s : "";
}

enum { LOCK_BRANCH, LOCK_ELEMENTS };

static const struct cli_opt lock_opts[] = {
	[LOCK_BRANCH] = {"branch", 0, "BRANCH", "the branch (default: trunk)"},
	[LOCK_ELEMENTS] = {"elements", 0, "E1,E2,...", "more elements, comma-separated"},
	{NULL, 0, NULL, NULL},
};

static const struct cli_usage lock_usage = {
	"atrium lock", "PROJECT ELEMENT... [--elements E1,E2,...] [--branch B]",
	"Locks elements of a project's branch: all of them or none. When someone\n"
	"else holds any, nothing is locked and each such element is listed with\n"
	"its holder and since when.",
	lock_opts,
};

enum { UNLOCK_BRANCH, UNLOCK_ALL, UNLOCK_ELEMENTS, UNLOCK_REASON };

static const struct cli_opt unlock_opts[] = {
	[UNLOCK_BRANCH] = {"branch", 0, "BRANCH", "the branch (default: trunk)"},
	[UNLOCK_ALL] = {"all", 0, NULL, "every lock you hold on the branch"},
	[UNLOCK_ELEMENTS] = {"elements", 0, "E1,E2,...", "more elements, comma-separated"},
	[UNLOCK_REASON] = {"reason", 0, "TEXT", "why (logged when an admin releases others' locks)"},
	{NULL, 0, NULL, NULL},
};

static const struct cli_usage unlock_usage = {
	"atrium unlock", "PROJECT ELEMENT...|--all [--branch B] [--reason TEXT]",
	"Releases locks. Admins may release anyone's; that is logged with --reason.",
	unlock_opts,
};

enum { LOCKS_BRANCH, LOCKS_HOLDER, LOCKS_JSON };

static const struct cli_opt locks_opts[] = {
	[LOCKS_BRANCH] = {"branch", 0, "BRANCH", "only this branch (default: every branch)"},
	[LOCKS_HOLDER] = {"holder", 0, "USER", "only this holder's (me: yours)"},
	[LOCKS_JSON] = {"json", 0, NULL, "print the server's JSON instead of a table"},
	{NULL, 0, NULL, NULL},
};

static const struct cli_usage locks_usage = {
	"atrium locks", "PROJECT [--branch B] [--holder USER|me] [--json]",
	"Lists a project's locks: element, branch, holder, since when.",
	locks_opts,
};

/* The body {"elements": [...], "branch"} from positional arguments 1.. and
 * a comma-separated list; NULL when none or out of memory. */
static json_t *
elements_body(const struct cli_args *a, const char *more, const char *branch)
{
	json_t *body = json_object(), *list = json_array();
	char *copy = NULL, *save = NULL, *e;

	if (body == NULL || list == NULL)
		goto fail;
	for (int i = 1; i < a->npos; i++)
		if (json_array_append_new(list, json_string(a->pos[i])) == -1)
			goto fail;
	if (more != NULL) {
		if ((copy = strdup(more)) == NULL)
			goto fail;
		for (e = strtok_r(copy, ",", &save); e != NULL; e = strtok_r(NULL, ",", &save))
			if (*e != '\0' && json_array_append_new(list, json_string(e)) == -1)
				goto fail;
	}
	if (json_array_size(list) == 0 || json_object_set(body, "elements", list) == -1 ||
	    (branch != NULL && json_object_set_new(body, "branch", json_string(branch)) == -1))
		goto fail;
	free(copy);
	json_decref(list);
	return body;
fail:
	free(copy);
	json_decref(list);
	json_decref(body);
	return NULL;
}

static int
lock_main(int argc, char **argv)
{
	struct atr_err err;
	struct cli_args a;
	struct cli_ctx c;
	struct cli_reply rep = {0};
	json_t *body = NULL, *conf;
	char *path = NULL;
	size_t i;
	int status;

	if (cli_args_get(&lock_usage, argc, argv, 1, CLI_POS_MAX, &a, &status) == -1)
		return status;
	if ((body = elements_body(&a, a.val[LOCK_ELEMENTS], a.val[LOCK_BRANCH])) == NULL)
		return cli_usage_error(&lock_usage, "name the elements to lock (UTF-8)");
	if (cli_ctx_open(&c, &err) == -1)
		goto fail;
	if ((path = cli_api_path("projects", a.pos[0], "locks", NULL)) == NULL) {
		atr_err_set(&err, ATR_E_NOMEM, NULL);
		goto fail;
	}
	/* 201: some taken now; 200: all were yours already. */
	if (cli_http_call(c.http, "POST", path, body, 201, &rep, &err) == -1 && rep.status != 200) {
		status = cli_fail(&err);
		/* The 409 lists every conflicting element. */
		json_array_foreach(json_object_get(rep.json, "conflicts"), i, conf) {
			char when[64];
			cli_format_time(str_of(conf, "since"), when, sizeof(when));
			fprintf(stderr, "  %s: locked by %s since %s\n", str_of(conf, "element"),
			    str_of(conf, "holder"), when);
		}
		goto out;
	}
	printf("Locked %" JSON_INTEGER_FORMAT " element(s) of %s on %s (%zu named; the others "
	       "were yours already).\n",
	    json_integer_value(json_object_get(rep.json, "taken")), a.pos[0],
	    str_of(rep.json, "branch"), json_array_size(json_object_get(body, "elements")));
	status = CLI_OK;
	goto out;
fail:
	status = cli_fail(&err);
out:
	json_decref(body);
	free(path);
	cli_reply_clear(&rep);
	cli_ctx_close(&c);
	return status;
}

static int
unlock_main(int argc, char **argv)
{
	struct atr_err err;
	struct cli_args a;
	struct cli_ctx c;
	struct cli_reply rep = {0};
	json_t *body = NULL;
	char *path = NULL, *full = NULL, *eb = NULL, *er = NULL;
	int status, all;

	if (cli_args_get(&unlock_usage, argc, argv, 1, CLI_POS_MAX, &a, &status) == -1)
		return status;
	all = a.val[UNLOCK_ALL] != NULL;
	if (all && (a.npos > 1 || a.val[UNLOCK_ELEMENTS] != NULL))
		return cli_usage_error(&unlock_usage, "--all releases every lock you hold: name "
		    "no elements with it");
	if (!all && (body = elements_body(&a, a.val[UNLOCK_ELEMENTS], a.val[UNLOCK_BRANCH])) == NULL)
		return cli_usage_error(&unlock_usage, "name the elements to unlock, or --all");
	if (body != NULL && a.val[UNLOCK_REASON] != NULL)
		json_object_set_new(body, "reason", json_string(a.val[UNLOCK_REASON]));
	if (cli_ctx_open(&c, &err) == -1)
		goto fail;
	if ((path = cli_api_path("projects", a.pos[0], "locks", NULL)) == NULL ||
	    (eb = cli_pct_encode(a.val[UNLOCK_BRANCH] != NULL ? a.val[UNLOCK_BRANCH] : "trunk")) ==
		NULL ||
	    (er = cli_pct_encode(a.val[UNLOCK_REASON] != NULL ? a.val[UNLOCK_REASON] : "")) == NULL) {
		atr_err_set(&err, ATR_E_NOMEM, NULL);
		goto fail;
	}
	if (all && asprintf(&full, "%s?holder=me&branch=%s&reason=%s", path, eb, er) == -1) {
		full = NULL;
		atr_err_set(&err, ATR_E_NOMEM, NULL);
		goto fail;
	}
	if (cli_http_call(c.http, "DELETE", all ? full : path, body, 200, &rep, &err) == -1)
		goto fail;
	printf("Released %" JSON_INTEGER_FORMAT " lock(s) of %s on %s.\n",
	    json_integer_value(json_object_get(rep.json, "released")), a.pos[0],
	    str_of(rep.json, "branch"));
	status = CLI_OK;
	goto out;
fail:
	status = cli_fail(&err);
out:
	json_decref(body);
	free(eb);
	free(er);
	free(full);
	free(path);
	cli_reply_clear(&rep);
	cli_ctx_close(&c);
	return status;
}

static int
locks_main(int argc, char **argv)
{
	static const char *const headers[] = {"ELEMENT", "BRANCH", "HOLDER", "SINCE"};
	struct atr_err err;
	struct cli_args a;
	struct cli_ctx c;
	struct cli_reply rep = {0};
	struct cli_table *t = NULL;
	char *path = NULL, *full = NULL, *eb = NULL, *eh = NULL;
	json_t *list, *l;
	size_t i;
	int status;

	if (cli_args_get(&locks_usage, argc, argv, 1, 1, &a, &status) == -1)
		return status;
	if (cli_ctx_open(&c, &err) == -1)
		goto fail;
	if ((path = cli_api_path("projects", a.pos[0], "locks", NULL)) == NULL ||
	    (eb = cli_pct_encode(a.val[LOCKS_BRANCH] != NULL ? a.val[LOCKS_BRANCH] : "")) == NULL ||
	    (eh = cli_pct_encode(a.val[LOCKS_HOLDER] != NULL ? a.val[LOCKS_HOLDER] : "")) == NULL ||
	    asprintf(&full, "%s?branch=%s&holder=%s", path, eb, eh) == -1) {
		full = NULL;
		goto nomem;
	}
	if (cli_http_call(c.http, "GET", full, NULL, 200, &rep, &err) == -1)
		goto fail;
	list = json_object_get(rep.json, "locks");
	if (!json_is_array(list)) {
		status = cli_failf("the server's answer has no lock list");
		goto out;
	}
	if (a.val[LOCKS_JSON] != NULL) {
		status = cli_print_json(rep.json) == 0 ? CLI_OK : CLI_FAIL;
		goto out;
	}
	if ((t = cli_table_new(4, headers, 0)) == NULL)
		goto nomem;
	json_array_foreach(list, i, l) {
		char when[64];
		const char *cells[4];

		cli_format_time(str_of(l, "since"), when, sizeof(when));
		cells[0] = str_of(l, "element");
		cells[1] = str_of(l, "branch");
		cells[2] = str_of(l, "holder");
		cells[3] = when;
		if (cli_table_add(t, cells) == -1)
			goto nomem;
	}
	cli_table_print(t, stdout);
	status = CLI_OK;
	goto out;
nomem:
	atr_err_set(&err, ATR_E_NOMEM, NULL);
fail:
	status = cli_fail(&err);
out:
	cli_table_free(t);
	free(eb);
	free(eh);
	free(full);
	free(path);
	cli_reply_clear(&rep);
	cli_ctx_close(&c);
	return status;
}

int
cmd_lock(int argc, char **argv)
{
	cli_init();
	return lock_main(argc, argv);
}

int
cmd_unlock(int argc, char **argv)
{
	cli_init();
	return unlock_main(argc, argv);
}

int
cmd_locks(int argc, char **argv)
{
	cli_init();
	return locks_main(argc, argv);
}
