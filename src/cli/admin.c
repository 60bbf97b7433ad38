/*
 * The connection of the `atrium admin` commands (cmd_admin.c, cmd_trust.c)
 * to the admin console's JSON API: its URL from --server or the session,
 * the session's token, and calls whose expired session names the server to
 * log in to again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/admin.h"
#include "cli/client.h"
#include "cli/http.h"
#include "cli/url.h"

#define ADMIN_PORT_DEFAULT 8443

/* Whether s (not NUL-terminated, n bytes) names a port after the host. */
static int
has_port(const char *s, size_t n)
{
	const char *close, *colon;

	if (n > 0 && s[0] == '[') {
		close = memchr(s, ']', n);
		return close != NULL && close + 1 < s + n && close[1] == ':';
	}
	colon = memchr(s, ':', n);
	/* Two colons or more without brackets: a bare IPv6 address. */
	return colon != NULL && memchr(colon + 1, ':', n - (size_t)(colon + 1 - s)) == NULL;
}

/*
 * The admin console's URL, "https://host:port": from --server
 * (HOST[:PORT], [IPv6]:PORT or https://...; port 8443 when none is
 * given), else the logged-in server's host on admin_port (the one the
 * server listed; 8443 when 0). The console speaks HTTPS only, so http://
 * is refused. *url is the caller's.
 */
static int
admin_url(const char *arg, const char *session_server, int admin_port, char **url,
    struct atr_err *err)
{
	char host[256], buf[400];
	const char *rest;
	size_t n;

	*url = NULL;
	if (arg == NULL) {
		if (cli_url_host(session_server, host, sizeof(host)) == -1)
			return atr_err_set(err, ATR_E_CONFIG, "the session's server '%s' has no host",
			    session_server);
		snprintf(buf, sizeof(buf), strchr(host, ':') != NULL ? "https://[%s]:%d" :
		    "https://%s:%d", host, admin_port > 0 ? admin_port : ADMIN_PORT_DEFAULT);
		return cli_server_url(buf, 0, url, err);
	}
	if (strncasecmp(arg, "http://", 7) == 0)
		return atr_err_set(err, ATR_E_USAGE,
		    "the admin console speaks HTTPS only: give --server HOST:PORT or https://%s",
		    arg + 7);
	rest = strncasecmp(arg, "https://", 8) == 0 ? arg + 8 : arg;
	n = strlen(rest);
	if (n > 0 && rest[n - 1] == '/')
		n--;
	if (n == 0 || n > 300)
		return atr_err_set(err, ATR_E_USAGE, "'%s' is not a server address", arg);
	if (has_port(rest, n))
		snprintf(buf, sizeof(buf), "https://%.*s", (int)n, rest);
	else if (rest[0] != '[' && memchr(rest, ':', n) != NULL)
		snprintf(buf, sizeof(buf), "https://[%.*s]:%d", (int)n, rest, ADMIN_PORT_DEFAULT);
	else
		snprintf(buf, sizeof(buf), "https://%.*s:%d", (int)n, rest, ADMIN_PORT_DEFAULT);
	return cli_server_url(buf, 0, url, err);
}

/*
 * Loads the session and connects to the admin console with the session's
 * token: --server, else the session's host on the admin port the server
 * listed at login. A session saved before logins kept that port asks the
 * server now (GET /api/v1/server); 8443 when it cannot tell. The port is
 * kept with the session rather than asked at each call because the
 * commands that need it most (tls disable, plain off) can close the API
 * port the session uses, while the console stays. Close with
 * cli_ctx_close() either way.
 */
int
admin_open(struct cli_ctx *c, const char *server, struct atr_err *err)
{
	char *url = NULL;
	int port;

	if (cli_ctx_open(c, err) == -1)
		return -1;
	port = c->session.admin_port;
	if (server == NULL && port == 0)
		port = cli_admin_port_discover(c->http);
	if (admin_url(server, c->session.server, port, &url, err) == -1)
		return -1;
	/* The session's own connection goes to the API port; this one to the console. */
	cli_http_free(c->http);
	c->http = cli_http_new(url, err);
	free(url);
	if (c->http == NULL)
		return -1;
	return cli_http_set_token(c->http, c->session.token, err);
}

/*
 * One call to the admin API. On failure err holds the sentence to print:
 * the server's own (about a field, the login, the role), or one about the
 * network. An expired session (cli_reply_expired()): the hint names the
 * server to log in to again, not the admin port.
 */
int
admin_call(struct cli_ctx *c, const char *method, const char *path, json_t *body,
    long expect, struct cli_reply *rep, struct atr_err *err)
{
	if (cli_http_call(c->http, method, path, body, expect, rep, err) == 0)
		return 0;
	if (cli_reply_expired(rep))
		atr_err_set(err, ATR_E_UNAUTHORIZED, "your session has expired; run atrium login "
		    "%s%s", strncmp(c->session.server, "http://", 7) == 0 ? "--plain " : "",
		    cli_url_hostport(c->session.server));
	return -1;
}
