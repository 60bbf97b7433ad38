/* atrium branch list|create|delete: a project's branches (docs/api.md "Branches"). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "cli/client.h"
#include "cli/http.h"
#include "cli/output.h"
#include "cli/session.h"
#include "cli/url.h"

static const char *
str_of(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s != NULL ? s : "";
}

static void
int_of(const json_t *o, const char *key, char *buf, size_t n)
{
	const json_t *v = json_object_get(o, key);

	if (json_is_integer(v))
		snprintf(buf, n, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else
		snprintf(buf, n, "-");
}

enum { LIST_JSON };

static const struct cli_opt list_opts[] = {
	[LIST_JSON] = {"json", 0, NULL, "print the server's JSON instead of a table"},
	{NULL, 0, NULL, NULL},
};

static const struct cli_usage list_usage = {
	"atrium branch list", "PROJECT [--json]",
	"Lists a project's branches: name, newest revision (head), where it was\n"
	"made from, who made it and when. Every project has trunk.",
	list_opts,
};

enum { CREATE_FROM };

static const struct cli_opt create_opts[] = {
	[CREATE_FROM] = {"from", 0, "BRANCH[:REV]",
	    "where it starts (default: trunk's newest revision)"},
	{NULL, 0, NULL, NULL},
};

static const struct cli_usage create_usage = {
	"atrium branch create", "PROJECT BRANCH [--from BRANCH[:REV]]",
	"Makes a branch from a revision. Its revision 1 is a copy of that revision;\n"
	"commit to it with: atrium commit PROJECT FILE -m MSG --branch BRANCH.",
	create_opts,
};

static const struct cli_opt delete_opts[] = {
	{NULL, 0, NULL, NULL},
};

static const struct cli_usage delete_usage = {
	"atrium branch delete", "PROJECT BRANCH",
	"Deletes a branch with its revisions and locks (admins, for now). Refused\n"
	"while tags point at it, and for trunk.",
	delete_opts,
};

static int
list_main(int argc, char **argv)
{
	static const char *const headers[] = {"BRANCH", "HEAD", "FROM", "CREATED", "BY"};
	struct atr_err err;
	struct cli_args a;
	struct cli_ctx c;
	struct cli_reply rep = {0};
	struct cli_table *t = NULL;
	char *path = NULL;
	json_t *list, *b;
	size_t i;
	int status;

	if (cli_args_get(&list_usage, argc, argv, 1, 1, &a, &status) == -1)
		return status;
	if (cli_ctx_open(&c, &err) == -1)
		goto fail;
	if ((path = cli_api_path("projects", a.pos[0], "branches", NULL)) == NULL)
		goto nomem;
	if (cli_http_call(c.http, "GET", path, NULL, 200, &rep, &err) == -1)
		goto fail;
	list = json_object_get(rep.json, "branches");
	if (!json_is_array(list)) {
		status = cli_failf("the server's answer has no branch list");
		goto out;
	}
	if (a.val[LIST_JSON] != NULL) {
		status = cli_print_json(rep.json) == 0 ? CLI_OK : CLI_FAIL;
		goto out;
	}
	if ((t = cli_table_new(5, headers, 1u << 1)) == NULL)
		goto nomem;
	json_array_foreach(list, i, b) {
		const json_t *from = json_object_get(b, "from");
		char head[32], rev[32], fromtxt[200] = "-", when[64];
		const char *cells[5];

		int_of(b, "head", head, sizeof(head));
		if (json_is_object(from)) {
			int_of(from, "revision", rev, sizeof(rev));
			snprintf(fromtxt, sizeof(fromtxt), "%s:%s", str_of(from, "branch"), rev);
		}
		cli_format_time(str_of(b, "created"), when, sizeof(when));
		cells[0] = str_of(b, "name");
		cells[1] = head;
		cells[2] = fromtxt;
		cells[3] = when;
		cells[4] = str_of(b, "created_by");
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
	free(path);
	cli_reply_clear(&rep);
	cli_ctx_close(&c);
	return status;
}

int
cli_parse_branch_rev(const char *text, char *branch, size_t n, int64_t *rev)
{
	const char *colon = strrchr(text, ':');
	uint64_t r;

	*rev = -1;
	if (colon == NULL) {
		snprintf(branch, n, "%s", text);
		return branch[0] != '\0' ? 0 : -1;
	}
	if (colon == text || cli_parse_u64(colon + 1, 1, INT64_MAX, &r) == -1)
		return -1;
	snprintf(branch, n, "%.*s", (int)(colon - text), text);
	*rev = (int64_t)r;
	return 0;
}

static int
create_main(int argc, char **argv)
{
	struct atr_err err;
	struct cli_args a;
	struct cli_ctx c;
	struct cli_reply rep = {0};
	json_t *body = NULL, *from = NULL;
	char *path = NULL, fb[256], rev[32];
	int64_t fr = -1;
	int status;

	if (cli_args_get(&create_usage, argc, argv, 2, 2, &a, &status) == -1)
		return status;
	if (a.val[CREATE_FROM] != NULL &&
	    cli_parse_branch_rev(a.val[CREATE_FROM], fb, sizeof(fb), &fr) == -1)
		return cli_usage_error(&create_usage, "--from wants BRANCH or BRANCH:REV, not '%s'",
		    a.val[CREATE_FROM]);
	if (cli_ctx_open(&c, &err) == -1)
		goto fail;
	if ((body = json_object()) == NULL || (from = json_object()) == NULL ||
	    json_object_set_new(body, "name", json_string(a.pos[1])) == -1 ||
	    (a.val[CREATE_FROM] != NULL &&
		json_object_set_new(from, "branch", json_string(fb)) == -1) ||
	    (fr > 0 && json_object_set_new(from, "revision", json_integer(fr)) == -1) ||
	    json_object_set(body, "from", from) == -1) {
		atr_err_set(&err, ATR_E_USAGE, "names must be UTF-8");
		goto fail;
	}
	if ((path = cli_api_path("projects", a.pos[0], "branches", NULL)) == NULL) {
		atr_err_set(&err, ATR_E_NOMEM, NULL);
		goto fail;
	}
	if (cli_http_call(c.http, "POST", path, body, 201, &rep, &err) == -1)
		goto fail;
	/* The branch's head is the base of its first commit from here. */
	if (json_is_integer(json_object_get(rep.json, "head"))) {
		char *key = NULL;
		if (asprintf(&key, "%s:%s", a.pos[0], a.pos[1]) == -1 ||
		    cli_heads_set(c.home, c.session.server, key,
			(uint64_t)json_integer_value(json_object_get(rep.json, "head")), 0, &err) == -1)
			fprintf(stderr, "atrium: warning: %s\n",
			    key != NULL ? atr_err_msg(&err) : "out of memory");
		if (key != NULL)
			free(key);
	}
	int_of(json_object_get(rep.json, "from"), "revision", rev, sizeof(rev));
	if (json_is_object(json_object_get(rep.json, "from")))
		printf("Created branch %s of %s from %s:%s.\n", a.pos[1], a.pos[0],
		    str_of(json_object_get(rep.json, "from"), "branch"), rev);
	else
		printf("Created branch %s of %s (empty).\n", a.pos[1], a.pos[0]);
	status = CLI_OK;
	goto out;
fail:
	status = cli_fail(&err);
out:
	json_decref(from);
	json_decref(body);
	free(path);
	cli_reply_clear(&rep);
	cli_ctx_close(&c);
	return status;
}

static int
delete_main(int argc, char **argv)
{
	struct atr_err err;
	struct cli_args a;
	struct cli_ctx c;
	struct cli_reply rep = {0};
	char *path = NULL;
	int status;

	if (cli_args_get(&delete_usage, argc, argv, 2, 2, &a, &status) == -1)
		return status;
	if (cli_ctx_open(&c, &err) == -1)
		goto fail;
	if ((path = cli_api_path("projects", a.pos[0], "branches", a.pos[1], NULL)) == NULL) {
		atr_err_set(&err, ATR_E_NOMEM, NULL);
		goto fail;
	}
	if (cli_http_call(c.http, "DELETE", path, NULL, 204, &rep, &err) == -1)
		goto fail;
	printf("Deleted branch %s of %s.\n", a.pos[1], a.pos[0]);
	status = CLI_OK;
	goto out;
fail:
	status = cli_fail(&err);
out:
	free(path);
	cli_reply_clear(&rep);
	cli_ctx_close(&c);
	return status;
}

static const struct cli_sub branch_subs[] = {
	{"list", list_main, "list a project's branches"},
	{"create", create_main, "make a branch from a revision"},
	{"delete", delete_main, "delete a branch and its revisions"},
	{NULL, NULL, NULL},
};

int
cmd_branch(int argc, char **argv)
{
	cli_init();
	return cli_dispatch("atrium branch", branch_subs, argc, argv);
}
