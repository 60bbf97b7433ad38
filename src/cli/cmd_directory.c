/*
 * atrium admin directory: directory sign-in's settings and its test,
 * through the admin API (docs/admin-api.md, "Directory"; docs/directory.md).
 *
 *   atrium admin directory show [--json]
 *   atrium admin directory set KEY=VALUE... (KEY= for the default)
 *   atrium admin directory test [--user NAME] [--json]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/admin.h"
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/output.h"

#define SERVER_HELP "the admin console as HOST[:PORT] (default: the logged-in server's " \
	"host, port 8443)"

/* ---- options and usage ---------------------------------------------------- */

enum { SH_SERVER, SH_JSON };

static const struct cli_opt show_opts[] = {
	[SH_SERVER] = {"server", 0, "HOST:PORT", SERVER_HELP},
	[SH_JSON] = {"json", 0, NULL, "print the server's JSON instead"},
	{NULL, 0, NULL, NULL},
};

static const struct cli_usage show_usage = {
	"atrium admin directory show", "[--server HOST:PORT] [--json]",
	"Prints the directory_* settings in force (docs/directory.md).",
	show_opts,
};

enum { SE_SERVER };

static const struct cli_opt set_opts[] = {
	[SE_SERVER] = {"server", 0, "HOST:PORT", SERVER_HELP},
	{NULL, 0, NULL, NULL},
};

static const struct cli_usage set_usage = {
	"atrium admin directory set", "KEY=VALUE... [--server HOST:PORT]",
	"Changes directory settings in atrium.conf, all at once, and applies them\n"
	"without a restart. KEY may leave out the directory_ prefix (urls=...,\n"
	"bind_dn=...); KEY= goes back to the default. Example:\n"
	"  atrium admin directory set urls=ldaps://dc1.corp.example:636 \\\n"
	"      user_base=ou=people,dc=corp,dc=example 'group_map=atrium-admins:admin'",
	set_opts,
};

enum { TE_SERVER, TE_USER, TE_JSON };

static const struct cli_opt test_opts[] = {
	[TE_SERVER] = {"server", 0, "HOST:PORT", SERVER_HELP},
	[TE_USER] = {"user", 0, "NAME", "also look this user up: their entry, groups and role "
	    "(no password: nothing is bound as them)"},
	[TE_JSON] = {"json", 0, NULL, "print the server's JSON instead"},
	{NULL, 0, NULL, NULL},
};

static const struct cli_usage test_usage = {
	"atrium admin directory test", "[--user NAME] [--server HOST:PORT] [--json]",
	"Has the server connect to each directory server in turn and prints what it\n"
	"saw: the TLS version, the certificate (and for ldaps:// the chain), the\n"
	"names in it and the name compared, the service account's bind; with --user,\n"
	"the user's entry, their groups and the role they map to. Each failure comes\n"
	"with its fix. Exit status 1 when no server works.",
	test_opts,
};

/* ---- helpers ------------------------------------------------------------------ */

static const char *
str_of(const json_t *o, const char *key, char *buf, size_t n)
{
	const char *s = json_string_value(json_object_get(o, key));

	cli_sanitize(buf, n, s != NULL ? s : "");
	return buf;
}

static int
fail(const struct cli_usage *u, const struct atr_err *err)
{
	return err->code == ATR_E_USAGE ? cli_usage_error(u, "%s", atr_err_msg(err)) :
	    cli_fail(err);
}

static void
print_settings(const json_t *ans)
{
	const json_t *settings = json_object_get(ans, "settings"), *v;
	const char *key;
	char val[2048];

	printf("Directory sign-in is %s.\n", json_is_true(json_object_get(ans, "enabled")) ?
	    "on" : "off (directory_urls is empty)");
	json_object_foreach((json_t *)settings, key, v) {
		cli_sanitize(val, sizeof(val), json_string_value(v) ? json_string_value(v) : "");
		printf("  %-30s %s\n", key, val);
	}
}

/* ---- subcommands --------------------------------------------------------------- */

static int
show_main(int argc, char **argv)
{
	struct atr_err err;
	struct cli_args a;
	struct cli_ctx c = {0};
	struct cli_reply rep = {0};
	int status;

	if (cli_args_get(&show_usage, argc, argv, 0, 0, &a, &status) == -1)
		return status;
	if (admin_open(&c, a.val[SH_SERVER], &err) == -1 ||
	    admin_call(&c, "GET", "/admin/api/directory", NULL, 200, &rep, &err) == -1) {
		status = fail(&show_usage, &err);
		goto out;
	}
	if (a.val[SH_JSON] != NULL)
		status = cli_print_json(rep.json) == 0 ? CLI_OK : CLI_FAIL;
	else {
		print_settings(rep.json);
		status = CLI_OK;
	}
out:
	cli_reply_clear(&rep);
	cli_ctx_close(&c);
	return status;
}

static int
set_main(int argc, char **argv)
{
	struct atr_err err;
	struct cli_args a;
	struct cli_ctx c = {0};
	struct cli_reply rep = {0};
	json_t *settings = json_object(), *body = NULL;
	int status;

	if (cli_args_get(&set_usage, argc, argv, 1, CLI_POS_MAX, &a, &status) == -1) {
		json_decref(settings);
		return status;
	}
	for (int i = 0; i < a.npos; i++) {
		const char *eq = strchr(a.pos[i], '=');
		char key[128];

		if (eq == NULL || eq == a.pos[i] || (size_t)(eq - a.pos[i]) >= 100) {
			json_decref(settings);
			return cli_usage_error(&set_usage, "'%s' is not KEY=VALUE", a.pos[i]);
		}
		snprintf(key, sizeof(key), "%s%.*s",
		    strncmp(a.pos[i], "directory_", 10) == 0 ? "" : "directory_",
		    (int)(eq - a.pos[i]), a.pos[i]);
		if (json_object_set_new(settings, key, eq[1] != '\0' ? json_string(eq + 1) :
			json_null()) == -1) {
			json_decref(settings);
			return cli_usage_error(&set_usage, "'%s' is not UTF-8", a.pos[i]);
		}
	}
	if ((body = json_pack("{s:o}", "settings", settings)) == NULL) {
		atr_err_set(&err, ATR_E_NOMEM, NULL);
		goto fail;
	}
	if (admin_open(&c, a.val[SE_SERVER], &err) == -1 ||
	    admin_call(&c, "PUT", "/admin/api/directory", body, 200, &rep, &err) == -1)
		goto fail;
	print_settings(rep.json);
	printf("Applied; `atrium admin directory test` checks the connection.\n");
	status = CLI_OK;
	goto out;
fail:
	status = fail(&set_usage, &err);
out:
	json_decref(body);
	cli_reply_clear(&rep);
	cli_ctx_close(&c);
	return status;
}

static void
print_server(const json_t *s)
{
	const json_t *cert = json_object_get(s, "certificate"), *chain = json_object_get(s, "chain");
	const json_t *x;
	char a[1024], b[1024];
	size_t i;

	printf("\n%s (%s)\n", str_of(s, "url", a, sizeof(a)), str_of(s, "mode", b, sizeof(b)));
	if (json_object_get(s, "tls_version") != NULL)
		printf("  %-13s %s, %s\n", "TLS", str_of(s, "tls_version", a, sizeof(a)),
		    str_of(s, "cipher", b, sizeof(b)));
	if (json_is_object(cert)) {
		printf("  %-13s %s\n", "Certificate", str_of(cert, "subject", a, sizeof(a)));
		printf("  %-13s %s\n", "  issued by", str_of(cert, "issuer", a, sizeof(a)));
		printf("  %-13s %s\n", "  names", str_of(cert, "names", a, sizeof(a)));
		printf("  %-13s %s\n", "  compared", str_of(cert, "compared", a, sizeof(a)));
		printf("  %-13s %s to %s\n", "  valid", str_of(cert, "not_before", a, sizeof(a)),
		    str_of(cert, "not_after", b, sizeof(b)));
		printf("  %-13s %s\n", "  SHA-256", str_of(cert, "sha256", a, sizeof(a)));
	}
	if (json_is_array(chain)) {
		printf("  %-13s\n", "Chain sent");
		json_array_foreach(chain, i, x)
			printf("    [%zu] %s (issuer %s)\n", i + 1, str_of(x, "subject", a, sizeof(a)),
			    str_of(x, "issuer", b, sizeof(b)));
	}
	if (json_is_true(json_object_get(s, "verified")))
		printf("  %-13s chain and name verified\n", "Verified");
	if (json_object_get(s, "bind") != NULL)
		printf("  %-13s %s\n", "Bind", str_of(s, "bind", a, sizeof(a)));
	if (json_object_get(s, "error") != NULL)
		printf("  %-13s %s\n", "FAILED", str_of(s, "error", a, sizeof(a)));
	else
		printf("  %-13s ok\n", "Result");
}

static void
print_user(const json_t *u)
{
	const json_t *groups = json_object_get(u, "groups"), *g;
	char a[1024], b[256];
	size_t i;

	printf("\nUser %s\n", str_of(u, "name", a, sizeof(a)));
	if (json_object_get(u, "error") != NULL) {
		printf("  %-13s %s\n", "NOT FOUND", str_of(u, "error", a, sizeof(a)));
		return;
	}
	printf("  %-13s %s\n", "DN", str_of(u, "dn", a, sizeof(a)));
	printf("  %-13s %s\n", "Display name", str_of(u, "display_name", a, sizeof(a)));
	printf("  %-13s %s\n", "Email", str_of(u, "email", a, sizeof(a)));
	printf("  %-13s %zu\n", "Groups", json_array_size(groups));
	json_array_foreach(groups, i, g)
		printf("    %s\n", str_of(g, "dn", a, sizeof(a)));
	printf("  %-13s %s (from %s)\n", "Role", str_of(u, "role", a, sizeof(a)),
	    str_of(u, "role_from", b, sizeof(b)));
}

static int
test_main(int argc, char **argv)
{
	struct atr_err err;
	struct cli_args a;
	struct cli_ctx c = {0};
	struct cli_reply rep = {0};
	json_t *body = NULL;
	const json_t *servers, *s, *u;
	size_t i;
	int status;

	if (cli_args_get(&test_usage, argc, argv, 0, 0, &a, &status) == -1)
		return status;
	body = a.val[TE_USER] != NULL ? json_pack("{s:s}", "user", a.val[TE_USER]) : json_object();
	if (body == NULL) {
		atr_err_set(&err, ATR_E_USAGE, "--user must be UTF-8");
		goto fail;
	}
	if (admin_open(&c, a.val[TE_SERVER], &err) == -1 ||
	    admin_call(&c, "POST", "/admin/api/directory/test", body, 200, &rep, &err) == -1)
		goto fail;
	u = json_object_get(rep.json, "user");
	if (a.val[TE_JSON] != NULL) {
		if (cli_print_json(rep.json) != 0) {
			status = CLI_FAIL;
			goto out;
		}
	} else {
		servers = json_object_get(rep.json, "servers");
		printf("Directory servers, in the order they are tried: %zu\n",
		    json_array_size(servers));
		json_array_foreach(servers, i, s)
			print_server(s);
		if (json_is_object(u))
			print_user(u);
	}
	status = json_is_true(json_object_get(rep.json, "ok")) &&
	    (!json_is_object(u) || json_object_get(u, "error") == NULL) ? CLI_OK : CLI_FAIL;
	goto out;
fail:
	status = fail(&test_usage, &err);
out:
	json_decref(body);
	cli_reply_clear(&rep);
	cli_ctx_close(&c);
	return status;
}

static const struct cli_sub directory_subs[] = {
	{"show", show_main, "the directory sign-in settings"},
	{"set", set_main, "change directory settings (KEY=VALUE...), applied at once"},
	{"test", test_main, "connect to each directory server and explain what happened"},
	{NULL, NULL, NULL},
};

/* atrium admin directory: see admin.h. */
int
cmd_admin_directory(int argc, char **argv)
{
	return cli_dispatch("atrium admin directory", directory_subs, argc, argv);
}
