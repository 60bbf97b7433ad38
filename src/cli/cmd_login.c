/* atrium login, atrium logout: opening and ending a session. */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atrium/util.h"
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/client.h"
#include "cli/http.h"
#include "cli/output.h"
#include "cli/session.h"
#include "cli/url.h"

enum { LOGIN_USER, LOGIN_PLAIN, LOGIN_PASSWORD_STDIN };

static const struct cli_opt login_opts[] = {
	[LOGIN_USER] = {"user", 'u', "USER",
	    "the user to log in as (default: the session's, else your login name)"},
	[LOGIN_PLAIN] = {"plain", 0, NULL,
	    "plain HTTP, port 3579 by default: no TLS, everything travels unencrypted"},
	[LOGIN_PASSWORD_STDIN] = {"password-stdin", 0, NULL,
	    "read the password from the first line of standard input"},
	{NULL, 0, NULL, NULL},
};

static const struct cli_usage login_usage = {
	"atrium login", "[OPTIONS] [HOST[:PORT]]",
	"Logs in to an Atrium server and keeps the session in $ATRIUM_HOME\n"
	"(default ~/.atrium; session.json, mode 0600). HOST may be left out to\n"
	"log in again to the server of the current session.\n"
	"\n"
	"The connection uses TLS, on port 10002 unless HOST:PORT names another\n"
	"(as the reference's login dialog). The server's certificate must chain\n"
	"to a trusted root and name HOST: the system's roots, $ATRIUM_HOME/certs/\n"
	"cert.jks (password in cert.pass; the server's client bundle can be\n"
	"copied there as it is), or a certs folder beside the atrium executable.\n"
	"See atrium certs --help to trust a server. --plain uses plain HTTP on\n"
	"port 3579 instead, and warns.\n"
	"\n"
	"The password comes from --password-stdin, else $ATRIUM_PASSWORD, else\n"
	"a prompt on the terminal.",
	login_opts,
};

static const struct cli_opt logout_opts[] = {
	{NULL, 0, NULL, NULL},
};

static const struct cli_usage logout_usage = {
	"atrium logout", "",
	"Ends the session: the server forgets its token and $ATRIUM_HOME/session.json\n"
	"is removed.",
	logout_opts,
};

/* The user name to log in as when -u is not given. */
static char *
default_user(const struct cli_session *old, const char *server)
{
	const char *u = NULL;
	struct passwd *pw;

	if (old->user != NULL && old->server != NULL && strcmp(old->server, server) == 0)
		u = old->user;
	if (u == NULL)
		u = getenv("USER");
	if ((u == NULL || *u == '\0') && (pw = getpwuid(getuid())) != NULL)
		u = pw->pw_name;
	return u != NULL && *u != '\0' ? strdup(u) : NULL;
}

/* The password, from --password-stdin, $ATRIUM_PASSWORD or the terminal. */
static char *
get_password(int from_stdin, const char *user, const char *server)
{
	const char *env = getenv("ATRIUM_PASSWORD");
	char prompt[512];

	if (from_stdin)
		return atr_read_password("");
	if (env != NULL && *env != '\0')
		return strdup(env);
	snprintf(prompt, sizeof(prompt), "Password for %s at %s: ", user,
	    cli_url_hostport(server));
	return atr_read_password(prompt);
}

/* Copies a string member of the answer, or NULL. */
static char *
member(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s != NULL ? strdup(s) : NULL;
}

/*
 * --plain got no answer from server (made from arg). The TLS port the user
 * would get without --plain is arg without it; when arg names the same
 * port as the plain one, the default TLS port on that host. When that port
 * answers TLS, the plain port is closed (the server runs with plain = off)
 * and err says so, and to drop --plain.
 */
static void
plain_closed_hint(const char *arg, const char *server, struct atr_err *err)
{
	struct atr_err uerr;
	char *tls = NULL, host[256], hp[300], cmd[300];

	if (cli_server_url(arg, 0, &tls, &uerr) == -1 || cli_url_host(tls, host, sizeof(host)) == -1)
		goto out;
	snprintf(hp, sizeof(hp), "%s", cli_url_hostport(tls));
	snprintf(cmd, sizeof(cmd), "%s", arg);
	if (strcmp(strrchr(hp, ':'), strrchr(cli_url_hostport(server), ':')) == 0) {
		snprintf(hp, sizeof(hp), strchr(host, ':') != NULL ? "[%s]:%d" : "%s:%d", host,
		    CLI_PORT_TLS);
		snprintf(cmd, sizeof(cmd), "%s", strchr(host, ':') != NULL ? hp : host);
	}
	if (cli_probe_tls(hp) == 1)
		atr_err_set(err, ATR_E_NETWORK, "the plain port %s is closed, but the server's TLS "
		    "port %s answers: drop --plain (atrium login %s)", cli_url_hostport(server), hp,
		    cmd);
out:
	free(tls);
}

static int
login_main(int argc, char **argv)
{
	struct atr_err err;
	struct cli_args a;
	struct cli_session old = {0}, s = {0};
	struct cli_reply rep = {0};
	struct cli_http *h = NULL;
	char *home = NULL, *server = NULL, *user = NULL, *password = NULL;
	char when[64];
	json_t *body = NULL;
	int status = CLI_FAIL;

	if (cli_args_get(&login_usage, argc, argv, 0, 1, &a, &status) == -1)
		return status;
	status = CLI_FAIL;
	if ((home = cli_home(&err)) == NULL)
		goto fail;
	/* An old session only supplies defaults: a damaged one is ignored. */
	cli_session_load(home, &old, &err);
	if (a.npos == 1) {
		if (cli_server_url(a.pos[0], a.val[LOGIN_PLAIN] != NULL, &server, &err) == -1) {
			status = err.code == ATR_E_USAGE ? cli_usage_error(&login_usage, "%s",
			    atr_err_msg(&err)) : cli_fail(&err);
			goto out;
		}
	} else if (old.server != NULL) {
		if (a.val[LOGIN_PLAIN] != NULL && strncmp(old.server, "https://", 8) == 0) {
			status = cli_usage_error(&login_usage, "the session's server %s uses TLS; give "
			    "HOST[:PORT] with --plain", cli_url_hostport(old.server));
			goto out;
		}
		if ((server = strdup(old.server)) == NULL)
			goto nomem;
	} else {
		status = cli_usage_error(&login_usage, "which server? Give HOST[:PORT]");
		goto out;
	}
	user = a.val[LOGIN_USER] != NULL ? strdup(a.val[LOGIN_USER]) : default_user(&old, server);
	if (user == NULL || *user == '\0') {
		status = cli_usage_error(&login_usage, "which user? Give -u USER");
		goto out;
	}
	if (strncmp(server, "http://", 7) == 0)
		fprintf(stderr, "atrium: warning: plain HTTP to %s (no TLS): the password and "
		    "everything after it travel unencrypted%s\n", cli_url_hostport(server),
		    cli_url_is_loopback(server) ? "" : " across the network");
	password = get_password(a.val[LOGIN_PASSWORD_STDIN] != NULL, user, server);
	if (password == NULL || *password == '\0') {
		status = cli_failf("no password given");
		goto out;
	}
	if ((body = json_object()) == NULL ||
	    json_object_set_new(body, "user", json_string(user)) == -1 ||
	    json_object_set_new(body, "password", json_string(password)) == -1) {
		atr_err_set(&err, ATR_E_USAGE, "the user name and the password must be UTF-8");
		goto fail;
	}
	if ((h = cli_http_new(server, &err)) == NULL)
		goto fail;
	/* Logging in again to the same server: another certificate that fails is a change. */
	if (old.server != NULL && strcmp(old.server, server) == 0)
		cli_http_set_known(h, old.cert_sha256);
	if (cli_http_call(h, "POST", "/api/v1/session", body, 200, &rep, &err) == -1) {
		if (a.npos == 1 && strncmp(server, "http://", 7) == 0 && rep.status == 0 &&
		    err.code == ATR_E_NETWORK)
			plain_closed_hint(a.pos[0], server, &err);
		goto fail;
	}
	s.server = server;
	s.user = member(rep.json, "user");
	if (s.user == NULL && (s.user = strdup(user)) == NULL)
		goto nomem;
	s.role = member(rep.json, "role");
	s.token = member(rep.json, "token");
	s.expires = member(rep.json, "expires");
	if (cli_http_cert_sha256(h) != NULL && (s.cert_sha256 = strdup(cli_http_cert_sha256(h))) ==
	    NULL)
		goto nomem;
	server = NULL; /* s owns it now */
	if (s.token == NULL || cli_http_set_token(h, s.token, &err) == -1) {
		status = cli_failf("the server's answer holds no usable token; is %s an "
		    "Atrium server?", cli_url_hostport(s.server));
		goto out;
	}
	/* Where `atrium admin` finds the console, so that it need not guess 8443. */
	s.admin_port = cli_admin_port_discover(h);
	if (cli_session_save(home, &s, &err) == -1)
		goto fail;
	/* The session this one replaces stops working (best effort, same server only). */
	if (old.token != NULL && strcmp(old.server, s.server) == 0 &&
	    strcmp(old.token, s.token) != 0 && cli_http_set_token(h, old.token, &err) == 0) {
		cli_reply_clear(&rep);
		cli_http_call(h, "DELETE", "/api/v1/session", NULL, 204, &rep, &err);
	}
	cli_format_time(s.expires, when, sizeof(when));
	printf("Logged in to %s as %s%s%s%s; the session lasts until %s.\n",
	    cli_url_hostport(s.server), s.user, s.role != NULL ? " (" : "",
	    s.role != NULL ? s.role : "", s.role != NULL ? ")" : "",
	    s.expires != NULL ? when : "the server ends it");
	status = CLI_OK;
	goto out;
nomem:
	atr_err_set(&err, ATR_E_NOMEM, NULL);
fail:
	status = cli_fail(&err);
out:
	json_decref(body);
	cli_reply_clear(&rep);
	cli_http_free(h);
	cli_session_clear(&old);
	cli_session_clear(&s);
	atr_free_secret(password);
	free(user);
	free(server);
	free(home);
	return status;
}

int
cmd_login(int argc, char **argv)
{
	cli_init();
	return login_main(argc, argv);
}

int
cmd_logout(int argc, char **argv)
{
	struct atr_err err;
	struct cli_args a;
	struct cli_ctx c;
	struct cli_reply rep = {0};
	int status;

	cli_init();
	if (cli_args_get(&logout_usage, argc, argv, 0, 0, &a, &status) == -1)
		return status;
	if (cli_ctx_open(&c, &err) == -1) {
		if (err.code == ATR_E_UNAUTHORIZED) {
			/* Already logged out: the goal is reached. */
			printf("Not logged in.\n");
			status = CLI_OK;
		} else if (c.home != NULL && err.code != ATR_E_NOMEM &&
		    cli_session_remove(c.home, &err) == 0) {
			/* A damaged session file or token: forget it. */
			printf("Removed a damaged session.\n");
			status = CLI_OK;
		} else {
			status = cli_fail(&err);
		}
		cli_ctx_close(&c);
		return status;
	}
	/* An expired session means the token was dead already: fine for a logout. */
	if (cli_http_call(c.http, "DELETE", "/api/v1/session", NULL, 204, &rep, &err) == -1 &&
	    !cli_reply_expired(&rep))
		fprintf(stderr, "atrium: warning: the server could not be told (%s); "
		    "the token stays valid there until it expires\n", atr_err_msg(&err));
	cli_reply_clear(&rep);
	if (cli_session_remove(c.home, &err) == -1) {
		status = cli_fail(&err);
	} else {
		printf("Logged out of %s.\n", cli_url_hostport(c.session.server));
		status = CLI_OK;
	}
	cli_ctx_close(&c);
	return status;
}
