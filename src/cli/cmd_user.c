/* atrium user add|list|delete|passwd. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atrium/util.h"
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/client.h"
#include "cli/http.h"
#include "cli/output.h"
#include "cli/url.h"

enum { ADD_ROLE, ADD_PASSWORD_STDIN };

static const struct cli_opt add_opts[] = {
	[ADD_ROLE] = {"role", 0, "ROLE", "admin or user (default: user)"},
	[ADD_PASSWORD_STDIN] = {"password-stdin", 0, NULL,
	    "read the new password from the first line of standard input"},
	{NULL, 0, NULL, NULL},
};

static const struct cli_usage add_usage = {
	"atrium user add", "NAME [--role admin|user] [--password-stdin]",
	"Adds a user (admins only). The password is asked twice on the terminal\n"
	"unless --password-stdin is given; it must have at least 8 characters.",
	add_opts,
};

enum { LIST_JSON };

static const struct cli_opt list_opts[] = {
	[LIST_JSON] = {"json", 0, NULL, "print the server's JSON instead of a table"},
	{NULL, 0, NULL, NULL},
};

static const struct cli_usage list_usage = {
	"atrium user list", "[--json]",
	"Lists the users with their role and when they were added (admins only).",
	list_opts,
};

static const struct cli_opt delete_opts[] = {
	{NULL, 0, NULL, NULL},
};

static const struct cli_usage delete_usage = {
	"atrium user delete", "NAME",
	"Deletes a user (admins only). The last admin cannot be deleted.",
	delete_opts,
};

enum { PASSWD_PASSWORD_STDIN };

static const struct cli_opt passwd_opts[] = {
	[PASSWD_PASSWORD_STDIN] = {"password-stdin", 0, NULL,
	    "read the passwords from standard input: for your own, the current one "
	    "on the first line and the new one on the second; for another user's, "
	    "the new one"},
	{NULL, 0, NULL, NULL},
};

static const struct cli_usage passwd_usage = {
	"atrium user passwd", "[NAME] [--password-stdin]",
	"Changes a password. Without NAME, or with your own, it is yours, and the\n"
	"current one is asked first; another user's needs an admin.",
	passwd_opts,
};

/*
 * A new password: one line of stdin, or asked twice on the terminal.
 * Returns it (free with atr_free_secret()) or NULL after saying why.
 */
static char *
new_password(int from_stdin, const char *user)
{
	char prompt[256], *p1, *p2;

	if (from_stdin) {
		if ((p1 = atr_read_password("")) == NULL || *p1 == '\0') {
			atr_free_secret(p1);
			cli_failf("no password on standard input");
			return NULL;
		}
		return p1;
	}
	snprintf(prompt, sizeof(prompt), "New password for %s: ", user);
	if ((p1 = atr_read_password(prompt)) == NULL || *p1 == '\0') {
		atr_free_secret(p1);
		cli_failf("no password given");
		return NULL;
	}
	if ((p2 = atr_read_password("Repeat it: ")) == NULL || strcmp(p1, p2) != 0) {
		atr_free_secret(p1);
		atr_free_secret(p2);
		cli_failf("the passwords do not match; nothing was changed");
		return NULL;
	}
	atr_free_secret(p2);
	return p1;
}

static int
add_main(int argc, char **argv)
{
	struct atr_err err;
	struct cli_args a;
	struct cli_ctx c = {0};
	struct cli_reply rep = {0};
	const char *role = "user", *name;
	char *password = NULL;
	json_t *body = NULL;
	int status;

	if (cli_args_get(&add_usage, argc, argv, 1, 1, &a, &status) == -1)
		return status;
	name = a.pos[0];
	if (a.val[ADD_ROLE] != NULL) {
		role = a.val[ADD_ROLE];
		if (strcmp(role, "admin") != 0 && strcmp(role, "user") != 0)
			return cli_usage_error(&add_usage, "the role is admin or user, not '%s'",
			    role);
	}
	/* Log-in trouble shows before the passwords are typed. */
	if (cli_ctx_open(&c, &err) == -1)
		goto fail;
	if ((password = new_password(a.val[ADD_PASSWORD_STDIN] != NULL, name)) == NULL) {
		status = CLI_FAIL;
		goto out;
	}
	if ((body = json_object()) == NULL ||
	    json_object_set_new(body, "name", json_string(name)) == -1 ||
	    json_object_set_new(body, "password", json_string(password)) == -1 ||
	    json_object_set_new(body, "role", json_string(role)) == -1) {
		atr_err_set(&err, ATR_E_USAGE, "the name and the password must be UTF-8");
		goto fail;
	}
	if (cli_http_call(c.http, "POST", "/api/v1/users", body, 201, &rep, &err) == -1)
		goto fail;
	printf("Added user %s (%s).\n", name, role);
	status = CLI_OK;
	goto out;
fail:
	status = cli_fail(&err);
out:
	json_decref(body);
	atr_free_secret(password);
	cli_reply_clear(&rep);
	cli_ctx_close(&c);
	return status;
}

static int
list_main(int argc, char **argv)
{
	static const char *const headers[] = {"NAME", "ROLE", "ADDED"};
	struct atr_err err;
	struct cli_args a;
	struct cli_ctx c = {0};
	struct cli_reply rep = {0};
	struct cli_table *t = NULL;
	json_t *list, *u;
	size_t i;
	int status;

	if (cli_args_get(&list_usage, argc, argv, 0, 0, &a, &status) == -1)
		return status;
	if (cli_ctx_open(&c, &err) == -1 ||
	    cli_http_call(c.http, "GET", "/api/v1/users", NULL, 200, &rep, &err) == -1)
		goto fail;
	list = json_object_get(rep.json, "users");
	if (!json_is_array(list)) {
		status = cli_failf("the server's answer has no user list");
		goto out;
	}
	if (a.val[LIST_JSON] != NULL) {
		status = cli_print_json(rep.json) == 0 ? CLI_OK : CLI_FAIL;
		goto out;
	}
	if ((t = cli_table_new(3, headers, 0)) == NULL)
		goto nomem;
	json_array_foreach(list, i, u) {
		char when[64];
		const char *cells[3];

		cli_format_time(json_string_value(json_object_get(u, "created")), when,
		    sizeof(when));
		cells[0] = json_string_value(json_object_get(u, "name"));
		cells[1] = json_string_value(json_object_get(u, "role"));
		cells[2] = when;
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
	cli_reply_clear(&rep);
	cli_ctx_close(&c);
	return status;
}

static int
delete_main(int argc, char **argv)
{
	struct atr_err err;
	struct cli_args a;
	struct cli_ctx c = {0};
	struct cli_reply rep = {0};
	char *path = NULL;
	int status;

	if (cli_args_get(&delete_usage, argc, argv, 1, 1, &a, &status) == -1)
		return status;
	if (cli_ctx_open(&c, &err) == -1)
		goto fail;
	if ((path = cli_api_path("users", a.pos[0], NULL)) == NULL) {
		atr_err_set(&err, ATR_E_NOMEM, NULL);
		goto fail;
	}
	if (cli_http_call(c.http, "DELETE", path, NULL, 204, &rep, &err) == -1)
		goto fail;
	printf("Deleted user %s.\n", a.pos[0]);
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

static int
passwd_main(int argc, char **argv)
{
	struct atr_err err;
	struct cli_args a;
	struct cli_ctx c = {0};
	struct cli_reply rep = {0};
	char *old = NULL, *password = NULL, *path = NULL;
	const char *name;
	json_t *body = NULL;
	int status, self, from_stdin;

	if (cli_args_get(&passwd_usage, argc, argv, 0, 1, &a, &status) == -1)
		return status;
	from_stdin = a.val[PASSWD_PASSWORD_STDIN] != NULL;
	if (cli_ctx_open(&c, &err) == -1)
		goto fail;
	name = a.npos == 1 ? a.pos[0] : c.session.user;
	self = strcmp(name, c.session.user) == 0;
	if (self) {
		old = atr_read_password(from_stdin ? "" : "Current password: ");
		if (old == NULL || *old == '\0') {
			status = cli_failf("no current password given");
			goto out;
		}
	}
	if ((password = new_password(from_stdin, name)) == NULL) {
		status = CLI_FAIL;
		goto out;
	}
	if ((body = json_object()) == NULL ||
	    json_object_set_new(body, "password", json_string(password)) == -1 ||
	    (self && json_object_set_new(body, "old_password", json_string(old)) == -1)) {
		atr_err_set(&err, ATR_E_USAGE, "passwords must be UTF-8");
		goto fail;
	}
	if ((path = cli_api_path("users", name, "password", NULL)) == NULL) {
		atr_err_set(&err, ATR_E_NOMEM, NULL);
		goto fail;
	}
	if (cli_http_call(c.http, "PUT", path, body, 204, &rep, &err) == -1) {
		/*
		 * For your own password a bad_login or forbidden with a sentence
		 * is about the current password, not about the session (a body
		 * without a code: a 401 or 403).
		 */
		const char *why = json_string_value(json_object_get(rep.json, "error"));
		enum atr_errcode code;
		int about_old = cli_reply_code(&rep, &code) == 0 ?
		    code == ATR_E_BAD_LOGIN || code == ATR_E_FORBIDDEN :
		    rep.status == 401 || rep.status == 403;

		if (self && about_old && why != NULL) {
			char clean[ATR_ERR_MSG_MAX];

			cli_sanitize(clean, sizeof(clean), why);
			atr_err_set(&err, ATR_E_BAD_LOGIN, "%s", clean);
		}
		goto fail;
	}
	printf("Changed the password of %s.\n", name);
	status = CLI_OK;
	goto out;
fail:
	status = cli_fail(&err);
out:
	json_decref(body);
	free(path);
	atr_free_secret(old);
	atr_free_secret(password);
	cli_reply_clear(&rep);
	cli_ctx_close(&c);
	return status;
}

static const struct cli_sub user_subs[] = {
	{"add", add_main, "add a user (admins)"},
	{"list", list_main, "list the users (admins)"},
	{"delete", delete_main, "delete a user (admins)"},
	{"passwd", passwd_main, "change your password, or (admins) another user's"},
	{NULL, NULL, NULL},
};

int
cmd_user(int argc, char **argv)
{
	cli_init();
	return cli_dispatch("atrium user", user_subs, argc, argv);
}
