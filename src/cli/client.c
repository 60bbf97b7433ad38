/*
 * The atrium client's process set-up and a command's connection to its
 * server. See client.h.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "atrium/util.h"
#include "cli/client.h"

/*
 * jansson's allocations carry their size in a header so that they can be
 * wiped when freed: answers hold tokens, requests hold passwords.
 */
#define ALLOC_HDR sizeof(max_align_t)

static void *
wiping_malloc(size_t n)
{
	unsigned char *p;

	if (n > SIZE_MAX - ALLOC_HDR)
		return NULL;
	if ((p = malloc(n + ALLOC_HDR)) == NULL)
		return NULL;
	memcpy(p, &n, sizeof(n));
	return p + ALLOC_HDR;
}

static void
wiping_free(void *q)
{
	unsigned char *p;
	size_t n;

	if (q == NULL)
		return;
	p = (unsigned char *)q - ALLOC_HDR;
	memcpy(&n, p, sizeof(n));
	atr_wipe(q, n);
	free(p);
}

static void
cli_atexit(void)
{
	curl_global_cleanup();
}

void
cli_init(void)
{
	static int done;

	if (done)
		return;
	done = 1;
	json_set_alloc_funcs(wiping_malloc, wiping_free);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK)
		atexit(cli_atexit);
}

int
cli_ctx_open(struct cli_ctx *c, struct atr_err *err)
{
	memset(c, 0, sizeof(*c));
	if ((c->home = cli_home(err)) == NULL)
		return -1;
	if (cli_session_load(c->home, &c->session, err) == -1) {
		if (err->code == ATR_E_NOT_FOUND)
			atr_err_set(err, ATR_E_UNAUTHORIZED,
			    "not logged in; run atrium login HOST first");
		return -1;
	}
	if ((c->http = cli_http_new(c->session.server, err)) == NULL)
		return -1;
	/* A login over TLS verified this certificate: another one that fails is a change. */
	cli_http_set_known(c->http, c->session.cert_sha256);
	return cli_http_set_token(c->http, c->session.token, err);
}

void
cli_ctx_close(struct cli_ctx *c)
{
	cli_http_free(c->http);
	cli_session_clear(&c->session);
	free(c->home);
	memset(c, 0, sizeof(*c));
}

int
cli_admin_port_discover(struct cli_http *h)
{
	struct atr_err err;
	struct cli_reply rep = {0};
	const json_t *l;
	size_t i;
	int port = 0;

	if (cli_http_call(h, "GET", "/api/v1/server", NULL, 200, &rep, &err) == 0)
		json_array_foreach(json_object_get(rep.json, "listeners"), i, l) {
			const char *name = json_string_value(json_object_get(l, "name"));
			json_int_t p = json_integer_value(json_object_get(l, "port"));

			if (name != NULL && strcmp(name, "admin") == 0 && p > 0 && p <= 65535)
				port = (int)p;
		}
	cli_reply_clear(&rep);
	return port;
}
