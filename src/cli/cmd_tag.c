/* atrium tag create|list|delete: names on revisions (docs/api.md "Tags"). */
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

enum { CREATE_BRANCH, CREATE_REVISION };

static const struct cli_opt create_opts[] = {
	[CREATE_BRANCH] = {"branch", 0, "BRANCH", "the branch of the revision (default: trunk)"},
	[CREATE_REVISION] = {"revision", 'r', "N", "the revision (default: the branch's newest)"},
	{NULL, 0, NULL, NULL},
};

static const struct cli_usage create_usage = {
	"atrium tag create", "PROJECT TAG [--branch B] [-r N]",
	"Names a revision. A tag never moves: to move one, delete it and create it\n"
	"again. Check it out with: atrium checkout PROJECT --tag TAG.",
	create_opts,
};

enum { LIST_JSON };

static const struct cli_opt list_opts[] = {
	[LIST_JSON] = {"json", 0, NULL, "print the server's JSON instead of a table"},
	{NULL, 0, NULL, NULL},
};

static const struct cli_usage list_usage = {
	"atrium tag list", "PROJECT [--json]",
	"Lists a project's tags: name, branch and revision, who made it and when.",
	list_opts,
};

static const struct cli_opt delete_opts[] = {
	{NULL, 0, NULL, NULL},
};

static const struct cli_usage delete_usage = {
	"atrium tag delete", "PROJECT TAG",
	"Deletes a tag (admins, for now); the revision stays.",
	delete_opts,
};

static int
create_main(int argc, char **argv)
{
	struct atr_err err;
	struct cli_args a;
	struct cli_ctx c;
	struct cli_reply rep = {0};
	json_t *body = NULL;
	char *path = NULL;
	uint64_t rev = 0;
	int status;

	if (cli_args_get(&create_usage, argc, argv, 2, 2, &a, &status) == -1)
		return status;
	if (a.val[CREATE_REVISION] != NULL &&
	    cli_parse_u64(a.val[CREATE_REVISION], 1, INT64_MAX, &rev) == -1)
		return cli_usage_error(&create_usage, "-r wants a revision number from 1 up, not '%s'",
		    a.val[CREATE_REVISION]);
	if (cli_ctx_open(&c, &err) == -1)
		goto fail;
	if ((body = json_object()) == NULL ||
	    json_object_set_new(body, "name", json_string(a.pos[1])) == -1 ||
	    (a.val[CREATE_BRANCH] != NULL &&
		json_object_set_new(body, "branch", json_string(a.val[CREATE_BRANCH])) == -1) ||
	    (rev > 0 && json_object_set_new(body, "revision", json_integer((json_int_t)rev)) == -1)) {
		atr_err_set(&err, ATR_E_USAGE, "names must be UTF-8");
		goto fail;
	}
	if ((path = cli_api_path("projects", a.pos[0], "tags", NULL)) == NULL) {
		atr_err_set(&err, ATR_E_NOMEM, NULL);
		goto fail;
	}
	if (cli_http_call(c.http, "POST", path, body, 201, &rep, &err) == -1)
		goto fail;
	printf("Tagged %s %s revision %" JSON_INTEGER_FORMAT " as %s.\n", a.pos[0],
	    str_of(rep.json, "branch"), json_integer_value(json_object_get(rep.json, "revision")),
	    a.pos[1]);
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
list_main(int argc, char **argv)
{
	static const char *const headers[] = {"TAG", "BRANCH", "REV", "CREATED", "BY"};
	struct atr_err err;
	struct cli_args a;
	struct cli_ctx c;
	struct cli_reply rep = {0};
	struct cli_table *t = NULL;
	char *path = NULL;
	json_t *list, *tg;
	size_t i;
	int status;

	if (cli_args_get(&list_usage, argc, argv, 1, 1, &a, &status) == -1)
		return status;
	if (cli_ctx_open(&c, &err) == -1)
		goto fail;
	if ((path = cli_api_path("projects", a.pos[0], "tags", NULL)) == NULL)
		goto nomem;
	if (cli_http_call(c.http, "GET", path, NULL, 200, &rep, &err) == -1)
		goto fail;
	list = json_object_get(rep.json, "tags");
	if (!json_is_array(list)) {
		status = cli_failf("the server's answer has no tag list");
		goto out;
	}
	if (a.val[LIST_JSON] != NULL) {
		status = cli_print_json(rep.json) == 0 ? CLI_OK : CLI_FAIL;
		goto out;
	}
	if ((t = cli_table_new(5, headers, 1u << 2)) == NULL)
		goto nomem;
	json_array_foreach(list, i, tg) {
		char rev[32], when[64];
		const char *cells[5];

		snprintf(rev, sizeof(rev), "%" JSON_INTEGER_FORMAT,
		    json_integer_value(json_object_get(tg, "revision")));
		cli_format_time(str_of(tg, "created"), when, sizeof(when));
		cells[0] = str_of(tg, "name");
		cells[1] = str_of(tg, "branch");
		cells[2] = rev;
		cells[3] = when;
		cells[4] = str_of(tg, "created_by");
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
	if ((path = cli_api_path("projects", a.pos[0], "tags", a.pos[1], NULL)) == NULL) {
		atr_err_set(&err, ATR_E_NOMEM, NULL);
		goto fail;
	}
	if (cli_http_call(c.http, "DELETE", path, NULL, 204, &rep, &err) == -1)
		goto fail;
	printf("Deleted tag %s of %s.\n", a.pos[1], a.pos[0]);
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

static const struct cli_sub tag_subs[] = {
	{"create", create_main, "name a revision"},
	{"list", list_main, "list a project's tags"},
	{"delete", delete_main, "delete a tag"},
	{NULL, NULL, NULL},
};

int
cmd_tag(int argc, char **argv)
{
	cli_init();
	return cli_dispatch("atrium tag", tag_subs, argc, argv);
}
