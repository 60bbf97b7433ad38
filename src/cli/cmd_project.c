/* atrium project list|create|delete|log. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "cli/client.h"
#include "cli/http.h"
#include "cli/output.h"
#include "cli/progress.h"
#include "cli/session.h"
#include "cli/url.h"

enum { LIST_JSON };

static const struct cli_opt list_opts[] = {
	[LIST_JSON] = {"json", 0, NULL, "print the server's JSON instead of a table"},
	{NULL, 0, NULL, NULL},
};

static const struct cli_usage list_usage = {
	"atrium project list", "[--json]",
	"Lists the projects on the server: name, newest revision (head), who made\n"
	"it and when, and the description.",
	list_opts,
};

enum { CREATE_DESCRIPTION };

static const struct cli_opt create_opts[] = {
	[CREATE_DESCRIPTION] = {"description", 'd', "TEXT", "what the project is for"},
	{NULL, 0, NULL, NULL},
};

static const struct cli_usage create_usage = {
	"atrium project create", "NAME [-d TEXT]",
	"Creates an empty project. Its first commit uses base 0.",
	create_opts,
};

static const struct cli_opt delete_opts[] = {
	{NULL, 0, NULL, NULL},
};

static const struct cli_usage delete_usage = {
	"atrium project delete", "NAME",
	"Deletes a project and all its revisions. Allowed for admins and for the\n"
	"user who created it.",
	delete_opts,
};

enum { LOG_JSON, LOG_BRANCH };

static const struct cli_opt log_opts[] = {
	[LOG_JSON] = {"json", 0, NULL, "print the server's JSON instead of a table"},
	[LOG_BRANCH] = {"branch", 0, "BRANCH", "the branch's revisions (default: trunk)"},
	{NULL, 0, NULL, NULL},
};

static const struct cli_usage log_usage = {
	"atrium project log", "NAME [--branch B] [--json]",
	"Shows a project's revisions, newest first: number, time, author, size\n"
	"and message (its first line).",
	log_opts,
};

/* A JSON integer member as text ("-" when absent). */
static void
int_member(const json_t *o, const char *key, char *buf, size_t n)
{
	const json_t *v = json_object_get(o, key);

	if (json_is_integer(v))
		snprintf(buf, n, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else
		snprintf(buf, n, "-");
}

static const char *
str_member(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s != NULL ? s : "";
}

static int
list_main(int argc, char **argv)
{
	static const char *const headers[] = {"NAME", "HEAD", "LAST BY", "LAST COMMIT",
	    "DESCRIPTION"};
	struct atr_err err;
	struct cli_args a;
	struct cli_ctx c;
	struct cli_reply rep = {0};
	struct cli_table *t = NULL;
	json_t *list, *p;
	size_t i;
	int status;

	if (cli_args_get(&list_usage, argc, argv, 0, 0, &a, &status) == -1)
		return status;
	status = CLI_FAIL;
	if (cli_ctx_open(&c, &err) == -1 ||
	    cli_http_call(c.http, "GET", "/api/v1/projects", NULL, 200, &rep, &err) == -1) {
		status = cli_fail(&err);
		goto out;
	}
	list = json_object_get(rep.json, "projects");
	if (!json_is_array(list)) {
		status = cli_failf("the server's answer has no project list");
		goto out;
	}
	if (a.val[LIST_JSON] != NULL) {
		status = cli_print_json(rep.json) == 0 ? CLI_OK : CLI_FAIL;
		goto out;
	}
	if (json_array_size(list) == 0) {
		printf("No projects yet; create one with: atrium project create NAME\n");
		status = CLI_OK;
		goto out;
	}
	if ((t = cli_table_new(5, headers, 1u << 1)) == NULL)
		goto nomem;
	json_array_foreach(list, i, p) {
		const json_t *last = json_object_get(p, "last");
		char head[32], when[64] = "-";
		const char *cells[5];

		int_member(p, "head", head, sizeof(head));
		if (json_is_object(last))
			cli_format_time(json_string_value(json_object_get(last, "time")), when,
			    sizeof(when));
		cells[0] = str_member(p, "name");
		cells[1] = head;
		cells[2] = json_is_object(last) ? str_member(last, "author") : "-";
		cells[3] = when;
		cells[4] = str_member(p, "description");
		if (cli_table_add(t, cells) == -1)
			goto nomem;
	}
	cli_table_print(t, stdout);
	status = CLI_OK;
	goto out;
nomem:
	atr_err_set(&err, ATR_E_NOMEM, NULL);
	status = cli_fail(&err);
out:
	cli_table_free(t);
	cli_reply_clear(&rep);
	cli_ctx_close(&c);
	return status;
}

static int
create_main(int argc, char **argv)
{
	struct atr_err err;
	struct cli_args a;
	struct cli_ctx c;
	struct cli_reply rep = {0};
	json_t *body = NULL;
	const char *name;
	int status;

	if (cli_args_get(&create_usage, argc, argv, 1, 1, &a, &status) == -1)
		return status;
	name = a.pos[0];
	if (cli_ctx_open(&c, &err) == -1)
		goto fail;
	if ((body = json_object()) == NULL ||
	    json_object_set_new(body, "name", json_string(name)) == -1 ||
	    json_object_set_new(body, "description",
	    json_string(a.val[CREATE_DESCRIPTION] != NULL ? a.val[CREATE_DESCRIPTION] : "")) == -1) {
		atr_err_set(&err, ATR_E_USAGE, "the name and the description must be UTF-8");
		goto fail;
	}
	if (cli_http_call(c.http, "POST", "/api/v1/projects", body, 201, &rep, &err) == -1)
		goto fail;
	/* A new project's first commit has base 0, whatever an old one of that name had. */
	if (cli_heads_set(c.home, c.session.server, name, 0, 0, &err) == -1)
		fprintf(stderr, "atrium: warning: %s\n", atr_err_msg(&err));
	printf("Created project %s.\n", str_member(rep.json, "name")[0] != '\0' ?
	    str_member(rep.json, "name") : name);
	status = CLI_OK;
	goto out;
fail:
	status = cli_fail(&err);
out:
	json_decref(body);
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

	if (cli_args_get(&delete_usage, argc, argv, 1, 1, &a, &status) == -1)
		return status;
	if (cli_ctx_open(&c, &err) == -1)
		goto fail;
	if ((path = cli_api_path("projects", a.pos[0], NULL)) == NULL) {
		atr_err_set(&err, ATR_E_NOMEM, NULL);
		goto fail;
	}
	if (cli_http_call(c.http, "DELETE", path, NULL, 204, &rep, &err) == -1)
		goto fail;
	if (cli_heads_forget(c.home, c.session.server, a.pos[0], &err) == -1)
		fprintf(stderr, "atrium: warning: %s\n", atr_err_msg(&err));
	printf("Deleted project %s.\n", a.pos[0]);
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

/* The first line of a message, for a one-line table cell. */
static void
first_line(const char *msg, char *buf, size_t n)
{
	size_t len = strcspn(msg, "\r\n");

	snprintf(buf, n, "%.*s%s", (int)len, msg, msg[len] != '\0' ? " ..." : "");
}

static int
log_main(int argc, char **argv)
{
	static const char *const headers[] = {"REV", "TIME", "AUTHOR", "SIZE", "MESSAGE"};
	struct atr_err err;
	struct cli_args a;
	struct cli_ctx c;
	struct cli_reply rep = {0};
	struct cli_table *t = NULL;
	char *path = NULL;
	json_t *list, *r;
	size_t i;
	int status;

	if (cli_args_get(&log_usage, argc, argv, 1, 1, &a, &status) == -1)
		return status;
	if (cli_ctx_open(&c, &err) == -1)
		goto fail;
	if ((path = cli_api_path("projects", a.pos[0], "revisions", NULL)) == NULL)
		goto nomem;
	if (a.val[LOG_BRANCH] != NULL) {
		char *eb = cli_pct_encode(a.val[LOG_BRANCH]), *full = NULL;
		if (eb == NULL || asprintf(&full, "%s?branch=%s", path, eb) == -1) {
			free(eb);
			goto nomem;
		}
		free(eb);
		free(path);
		path = full;
	}
	if (cli_http_call(c.http, "GET", path, NULL, 200, &rep, &err) == -1)
		goto fail;
	list = json_object_get(rep.json, "revisions");
	if (!json_is_array(list)) {
		status = cli_failf("the server's answer has no revision list");
		goto out;
	}
	if (a.val[LOG_JSON] != NULL) {
		status = cli_print_json(rep.json) == 0 ? CLI_OK : CLI_FAIL;
		goto out;
	}
	if (json_array_size(list) == 0) {
		printf("Project %s has no revisions yet; commit one with: "
		    "atrium commit %s FILE -m MESSAGE\n", a.pos[0], a.pos[0]);
		status = CLI_OK;
		goto out;
	}
	if ((t = cli_table_new(5, headers, 1u << 0 | 1u << 3)) == NULL)
		goto nomem;
	json_array_foreach(list, i, r) {
		const json_t *size = json_object_get(r, "size");
		char num[32], when[64], sz[32] = "-", msg[4200];
		const char *cells[5];

		int_member(r, "number", num, sizeof(num));
		cli_format_time(json_string_value(json_object_get(r, "time")), when,
		    sizeof(when));
		if (json_is_integer(size) && json_integer_value(size) >= 0)
			cli_format_size((uint64_t)json_integer_value(size), sz, sizeof(sz));
		first_line(str_member(r, "message"), msg, sizeof(msg));
		cells[0] = num;
		cells[1] = when;
		cells[2] = str_member(r, "author");
		cells[3] = sz;
		cells[4] = msg;
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

static const struct cli_sub project_subs[] = {
	{"list", list_main, "list the projects"},
	{"create", create_main, "create a project"},
	{"delete", delete_main, "delete a project and its revisions"},
	{"log", log_main, "show a project's revisions, newest first"},
	{NULL, NULL, NULL},
};

int
cmd_project(int argc, char **argv)
{
	cli_init();
	return cli_dispatch("atrium project", project_subs, argc, argv);
}
