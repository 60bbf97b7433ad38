/*
 * atrium admin: what the admin console's Server Settings page does, from
 * the command line, for servers without a browser nearby. It talks to the
 * admin port's JSON API (docs/admin-api.md) over HTTPS, verified like
 * every other connection of this client, with the bearer token that
 * `atrium login` keeps; the server checks that the user is an admin.
 *
 *   atrium admin tls status|enable|disable|clear
 *   atrium admin tls upload --keystore FILE [--storepass-file F] [--alias A] [--port N] [--force]
 *   atrium admin plain on|off
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atrium/util.h"
#include "cli/admin.h"
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/client.h"
#include "cli/http.h"
#include "cli/output.h"
#include "cli/trust.h"
#include "cli/url.h"

#define KEYSTORE_MAX (1024 * 1024) /* the server's limit (docs/admin-api.md) */
#define PASSFILE_MAX 4096

/* ---- options and usage ---------------------------------------------------- */

#define SERVER_HELP "the admin console as HOST[:PORT] (default: the logged-in server's " \
	"host and the admin port it lists, else 8443)"

enum { ST_SERVER, ST_JSON };

static const struct cli_opt status_opts[] = {
	[ST_SERVER] = {"server", 0, "HOST:PORT", SERVER_HELP},
	[ST_JSON] = {"json", 0, NULL, "print the server's JSON instead"},
	{NULL, 0, NULL, NULL},
};

static const struct cli_usage status_usage = {
	"atrium admin tls status", "[--server HOST:PORT] [--json]",
	"Shows the TLS settings, the plain port, the admin port and the certificate\n"
	"in use: subject, issuer, names, validity with days left, SHA-256 fingerprint,\n"
	"and whether it comes from the local CA or is self-signed.",
	status_opts,
};

enum { EN_SERVER, EN_PORT };

static const struct cli_opt enable_opts[] = {
	[EN_SERVER] = {"server", 0, "HOST:PORT", SERVER_HELP},
	[EN_PORT] = {"port", 0, "N", "move TLS to this port (default: keep the one set now)"},
	{NULL, 0, NULL, NULL},
};

static const struct cli_usage enable_usage = {
	"atrium admin tls enable", "[--port N] [--server HOST:PORT]",
	"Turns TLS on (the console's Use TLS), with the keystore in use or, when none\n"
	"was uploaded, the local CA's certificate. Applies at once; a port already in\n"
	"use changes nothing.",
	enable_opts,
};

enum { DIS_SERVER };

static const struct cli_opt disable_opts[] = {
	[DIS_SERVER] = {"server", 0, "HOST:PORT", SERVER_HELP},
	{NULL, 0, NULL, NULL},
};

static const struct cli_usage disable_usage = {
	"atrium admin tls disable", "[--server HOST:PORT]",
	"Turns TLS off: the TLS port closes at once. The keystore stays for later.",
	disable_opts,
};

static const struct cli_usage clear_usage = {
	"atrium admin tls clear", "[--server HOST:PORT]",
	"Removes the uploaded keystore (the console's Clear): the server serves the\n"
	"certificate from its local CA again, at once.",
	disable_opts,
};

enum { UP_SERVER, UP_KEYSTORE, UP_PASSFILE, UP_ALIAS, UP_PORT, UP_FORCE };

static const struct cli_opt upload_opts[] = {
	[UP_SERVER] = {"server", 0, "HOST:PORT", SERVER_HELP},
	[UP_KEYSTORE] = {"keystore", 0, "FILE", "the keystore: JKS, PKCS#12 or PEM (told apart by "
	    "content), at most 1 MiB"},
	[UP_PASSFILE] = {"storepass-file", 0, "F", "read the keystore password from the first line "
	    "of F (default: ask on the terminal, without echo)"},
	[UP_ALIAS] = {"alias", 0, "A", "the key entry to use when the keystore holds several"},
	[UP_PORT] = {"port", 0, "N", "move TLS to this port too (default: keep the one set now)"},
	[UP_FORCE] = {"force", 0, NULL, "upload a certificate the server refuses for the names it "
	    "does not cover (clients that use those names will be refused)"},
	{NULL, 0, NULL, NULL},
};

static const struct cli_usage upload_usage = {
	"atrium admin tls upload",
	"--keystore FILE [--storepass-file F] [--alias A] [--port N] [--force]\n"
	"    [--server HOST:PORT]",
	"Sends a keystore to the server, which checks it exactly as at start (password,\n"
	"key matches certificate, chain, dates, key usage, the names and addresses\n"
	"clients use) and then serves it at once on the TLS port and the admin port,\n"
	"and turns TLS on. When anything is wrong nothing changes, and the reason is\n"
	"printed; for names the certificate does not cover, which ones, and the keytool\n"
	"command that makes a certificate that covers them (--force uploads it anyway).\n"
	"\n"
	"When the new certificate does not come from the server's local CA, the top\n"
	"of its chain is added to $ATRIUM_HOME/certs/cert.jks, as atrium certs trust\n"
	"would, so that the next atrium admin command still connects. Browsers with\n"
	"the console open must trust the new certificate themselves.",
	upload_opts,
};

enum { PL_SERVER };

static const struct cli_opt plain_opts[] = {
	[PL_SERVER] = {"server", 0, "HOST:PORT", SERVER_HELP},
	{NULL, 0, NULL, NULL},
};

static const struct cli_usage plain_usage = {
	"atrium admin plain", "on|off [--server HOST:PORT]",
	"Opens or closes the plain (unencrypted) port, 3579 by default, at once.\n"
	"While it is open, anything sent to it, passwords included, crosses the\n"
	"network unencrypted: close it once every client uses TLS.",
	plain_opts,
};

/* ---- printing ---------------------------------------------------------------- */

/* A member of o as a sanitized string ("" when absent). */
static const char *
str_of(const json_t *o, const char *key, char *buf, size_t n)
{
	const char *s = json_string_value(json_object_get(o, key));

	cli_sanitize(buf, n, s != NULL ? s : "");
	return buf;
}

static long long
int_of(const json_t *o, const char *key)
{
	return (long long)json_integer_value(json_object_get(o, key));
}

static void
print_certificate(const json_t *cert)
{
	char a[1024], b[1024], from[64], to[64];
	const json_t *list, *v;
	size_t i;
	long long days;

	if (!json_is_object(cert)) {
		printf("%-12s none: a certificate is required to enable a secure connection\n",
		    "Certificate");
		return;
	}
	printf("%-12s %s\n", "Certificate", str_of(cert, "subject", a, sizeof(a)));
	str_of(cert, "issuer", a, sizeof(a));
	if (json_is_true(json_object_get(cert, "from_local_ca")))
		printf("%-12s %s (the local CA)\n", "Issuer", a);
	else if (json_is_true(json_object_get(cert, "self_signed")))
		printf("%-12s %s (self-signed: every browser and client warns)\n", "Issuer", a);
	else
		printf("%-12s %s\n", "Issuer", a);
	printf("%-12s", "Names");
	list = json_object_get(cert, "sans");
	if (json_array_size(list) == 0)
		printf(" none\n");
	json_array_foreach(list, i, v) {
		cli_sanitize(a, sizeof(a), json_is_string(v) ? json_string_value(v) : "?");
		printf("%s%s", i == 0 ? " " : ", ", a);
	}
	if (json_array_size(list) > 0)
		putchar('\n');
	cli_format_time(str_of(cert, "not_before", a, sizeof(a)), from, sizeof(from));
	cli_format_time(str_of(cert, "not_after", b, sizeof(b)), to, sizeof(to));
	days = int_of(cert, "days_left");
	if (days < 0)
		printf("%-12s %s to %s (expired %lld days ago)\n", "Valid", from, to, -days);
	else
		printf("%-12s %s to %s (%lld day%s left)\n", "Valid", from, to, days,
		    days == 1 ? "" : "s");
	printf("%-12s %s\n", "SHA-256", str_of(cert, "sha256", a, sizeof(a)));
	if (json_object_get(cert, "ca_sha256") != NULL)
		printf("%-12s %s\n", "Local CA", str_of(cert, "ca_sha256", a, sizeof(a)));
	if (json_object_get(cert, "source") != NULL)
		printf("%-12s %s\n", "File", str_of(cert, "source", a, sizeof(a)));
	json_array_foreach(json_object_get(cert, "warnings"), i, v) {
		cli_sanitize(a, sizeof(a), json_is_string(v) ? json_string_value(v) : "?");
		printf("%-12s %s\n", "Warning", a);
	}
}

static void
print_settings(const json_t *s)
{
	const json_t *tls = json_object_get(s, "tls"), *plain = json_object_get(s, "plain");
	const json_t *ks = json_object_get(tls, "keystore");
	char a[1024], b[256], c[256];

	if (json_is_true(json_object_get(tls, "enabled")))
		printf("%-12s on, port %lld\n", "TLS", int_of(tls, "port"));
	else
		printf("%-12s off (port %lld when on; turn it on with: atrium admin tls enable)\n",
		    "TLS", int_of(tls, "port"));
	if (json_is_object(ks)) {
		str_of(ks, "alias", c, sizeof(c));
		printf("%-12s %s (%s%s%s)\n", "Keystore", str_of(ks, "file", a, sizeof(a)),
		    str_of(ks, "format", b, sizeof(b)), *c != '\0' ? ", alias " : "", c);
	} else {
		printf("%-12s none uploaded: the local CA's certificate is served\n", "Keystore");
	}
	if (json_is_true(json_object_get(plain, "enabled")))
		printf("%-12s open, port %lld: unencrypted (close it with: atrium admin plain off)\n",
		    "Plain port", int_of(plain, "port"));
	else
		printf("%-12s closed (port %lld)\n", "Plain port", int_of(plain, "port"));
	printf("%-12s %lld (HTTPS)\n", "Admin port", int_of(s, "admin_port"));
	putchar('\n');
	print_certificate(json_object_get(s, "certificate"));
}

/* One line after a change: what the TLS port serves now. */
static void
print_applied(const json_t *s)
{
	const json_t *tls = json_object_get(s, "tls"), *cert = json_object_get(s, "certificate");
	const json_t *v;
	char subject[1024], issuer[1024], from[1100], fp[256], w[1024];
	long long days;
	size_t i;

	if (!json_is_true(json_object_get(tls, "enabled"))) {
		printf("TLS is off: port %lld is closed.\n", int_of(tls, "port"));
		return;
	}
	if (!json_is_object(cert)) {
		printf("TLS is on, port %lld.\n", int_of(tls, "port"));
		return;
	}
	if (json_is_true(json_object_get(cert, "from_local_ca")))
		snprintf(from, sizeof(from), "from the local CA");
	else if (json_is_true(json_object_get(cert, "self_signed")))
		snprintf(from, sizeof(from), "self-signed");
	else
		snprintf(from, sizeof(from), "issued by %s",
		    str_of(cert, "issuer", issuer, sizeof(issuer)));
	days = int_of(cert, "days_left");
	printf("TLS is on: port %lld serves %s, %s, %lld day%s left.\n", int_of(tls, "port"),
	    str_of(cert, "subject", subject, sizeof(subject)), from, days, days == 1 ? "" : "s");
	printf("SHA-256 fingerprint: %s\n", str_of(cert, "sha256", fp, sizeof(fp)));
	json_array_foreach(json_object_get(cert, "warnings"), i, v) {
		cli_sanitize(w, sizeof(w), json_is_string(v) ? json_string_value(v) : "?");
		printf("warning: %s\n", w);
	}
}

/* ---- subcommands --------------------------------------------------------------- */

static int
status_main(int argc, char **argv)
{
	struct atr_err err;
	struct cli_args a;
	struct cli_ctx c = {0};
	struct cli_reply rep = {0};
	int status;

	if (cli_args_get(&status_usage, argc, argv, 0, 0, &a, &status) == -1)
		return status;
	if (admin_open(&c, a.val[ST_SERVER], &err) == -1 ||
	    admin_call(&c, "GET", "/admin/api/settings", NULL, 200, &rep, &err) == -1) {
		status = err.code == ATR_E_USAGE ? cli_usage_error(&status_usage, "%s",
		    atr_err_msg(&err)) : cli_fail(&err);
		goto out;
	}
	if (!json_is_object(json_object_get(rep.json, "tls"))) {
		status = cli_failf("the server's answer has no TLS settings; is %s an Atrium admin "
		    "console?", cli_url_hostport(cli_http_server(c.http)));
		goto out;
	}
	if (a.val[ST_JSON] != NULL)
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

/* Parses --port into *port (0 when absent); -1 after printing a usage error. */
static int
port_opt(const struct cli_usage *u, const char *s, uint64_t *port, int *status)
{
	*port = 0;
	if (s != NULL && cli_parse_u64(s, 1, 65535, port) == -1) {
		*status = cli_usage_error(u, "the port is a number from 1 to 65535, not '%s'", s);
		return -1;
	}
	return 0;
}

/*
 * PUT /admin/api/settings/tls with enabled, and port when one was given
 * (absent, the server keeps its port); prints the outcome.
 */
static int
tls_switch(const struct cli_usage *u, const char *server, int enabled, uint64_t port)
{
	struct atr_err err;
	struct cli_ctx c = {0};
	struct cli_reply rep = {0};
	json_t *body = NULL;
	int status;

	if (admin_open(&c, server, &err) == -1)
		goto fail;
	if ((body = json_pack("{s:b}", "enabled", enabled)) == NULL ||
	    (port != 0 && json_object_set_new(body, "port", json_integer((json_int_t)port)) == -1)) {
		atr_err_set(&err, ATR_E_NOMEM, NULL);
		goto fail;
	}
	if (admin_call(&c, "PUT", "/admin/api/settings/tls", body, 200, &rep, &err) == -1)
		goto fail;
	print_applied(rep.json);
	status = CLI_OK;
	goto out;
fail:
	status = err.code == ATR_E_USAGE ? cli_usage_error(u, "%s", atr_err_msg(&err)) :
	    cli_fail(&err);
out:
	json_decref(body);
	cli_reply_clear(&rep);
	cli_ctx_close(&c);
	return status;
}

static int
enable_main(int argc, char **argv)
{
	struct cli_args a;
	uint64_t port;
	int status;

	if (cli_args_get(&enable_usage, argc, argv, 0, 0, &a, &status) == -1 ||
	    port_opt(&enable_usage, a.val[EN_PORT], &port, &status) == -1)
		return status;
	return tls_switch(&enable_usage, a.val[EN_SERVER], 1, port);
}

static int
disable_main(int argc, char **argv)
{
	struct cli_args a;
	int status;

	if (cli_args_get(&disable_usage, argc, argv, 0, 0, &a, &status) == -1)
		return status;
	return tls_switch(&disable_usage, a.val[DIS_SERVER], 0, 0);
}

static int
clear_main(int argc, char **argv)
{
	struct atr_err err;
	struct cli_args a;
	struct cli_ctx c = {0};
	struct cli_reply rep = {0};
	int status;

	if (cli_args_get(&clear_usage, argc, argv, 0, 0, &a, &status) == -1)
		return status;
	if (admin_open(&c, a.val[DIS_SERVER], &err) == -1 ||
	    admin_call(&c, "POST", "/admin/api/settings/tls/clear", NULL, 200, &rep, &err) == -1) {
		status = err.code == ATR_E_USAGE ? cli_usage_error(&clear_usage, "%s",
		    atr_err_msg(&err)) : cli_fail(&err);
		goto out;
	}
	printf("The uploaded keystore is removed.\n");
	print_applied(rep.json);
	status = CLI_OK;
out:
	cli_reply_clear(&rep);
	cli_ctx_close(&c);
	return status;
}

/* Standard base64 of n bytes, NUL-terminated; free with atr_free_secret(). */
static char *
base64(const unsigned char *p, size_t n)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *out, *o;
	size_t i;

	if ((out = malloc((n + 2) / 3 * 4 + 1)) == NULL)
		return NULL;
	o = out;
	for (i = 0; i + 2 < n; i += 3) {
		*o++ = tab[p[i] >> 2];
		*o++ = tab[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
		*o++ = tab[((p[i + 1] & 15) << 2) | (p[i + 2] >> 6)];
		*o++ = tab[p[i + 2] & 63];
	}
	if (i < n) {
		*o++ = tab[p[i] >> 2];
		if (i + 1 < n) {
			*o++ = tab[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
			*o++ = tab[(p[i + 1] & 15) << 2];
		} else {
			*o++ = tab[(p[i] & 3) << 4];
			*o++ = '=';
		}
		*o++ = '=';
	}
	*o = '\0';
	return out;
}

/*
 * The keystore password: the first line of file, or asked on the
 * terminal without echo. Returns it (free with atr_free_secret()) or
 * NULL with err set.
 */
static char *
keystore_password(const char *file, struct atr_err *err)
{
	unsigned char *buf;
	size_t len;
	char *pw;

	if (file == NULL) {
		if ((pw = atr_read_password("Keystore password: ")) == NULL)
			atr_err_set(err, ATR_E_BAD_LOGIN, "no keystore password given");
		return pw;
	}
	if (atr_read_file(file, PASSFILE_MAX, &buf, &len, err) == -1)
		return NULL;
	pw = strndup((char *)buf, strcspn((char *)buf, "\r\n"));
	atr_wipe(buf, len);
	free(buf);
	if (pw == NULL)
		atr_err_set(err, ATR_E_NOMEM, NULL);
	return pw;
}

/*
 * The server's coverage list (which names and addresses clients may use
 * and whether the certificate names them) as a table on out, and its
 * keytool hint. Prints nothing for an answer without one (older servers).
 * Returns how many names are not covered.
 */
static int
print_coverage(const json_t *body, FILE *out)
{
	static const char *const headers[] = {"", "NAME", "FROM"};
	const json_t *list = json_object_get(body, "coverage"), *v;
	const char *hint = json_string_value(json_object_get(body, "keytool_hint"));
	struct cli_table *t;
	char h[1024];
	size_t i;
	int missing = 0;

	if (json_array_size(list) == 0 || (t = cli_table_new(3, headers, 0)) == NULL)
		return 0;
	json_array_foreach(list, i, v) {
		const char *row[3];
		int covered = json_is_true(json_object_get(v, "covered"));

		row[0] = covered ? "covered" : "NOT covered";
		row[1] = json_string_value(json_object_get(v, "name"));
		row[2] = json_string_value(json_object_get(v, "source"));
		missing += !covered;
		cli_table_add(t, row);
	}
	fprintf(out, "The names and addresses clients may use:\n");
	cli_table_print(t, out);
	cli_table_free(t);
	if (hint != NULL && missing > 0) {
		cli_sanitize(h, sizeof(h), hint);
		fprintf(out, "A certificate that covers them all: %s\n", h);
	}
	return missing;
}

/* The answer's warnings, each once (the certificate's are printed already). */
static void
print_warnings(const json_t *body)
{
	const json_t *certw = json_object_get(json_object_get(body, "certificate"), "warnings");
	const json_t *v, *c;
	char w[1024];
	size_t i, j;

	json_array_foreach(json_object_get(body, "warnings"), i, v) {
		int dup = 0;

		if (!json_is_string(v))
			continue;
		json_array_foreach(certw, j, c)
			dup |= json_equal(c, v);
		if (dup)
			continue;
		cli_sanitize(w, sizeof(w), json_string_value(v));
		printf("warning: %s\n", w);
	}
}

/*
 * After an upload the server applied: when the answer says the new chain
 * does not come from the local CA (the one a client gets in cert.jks), its
 * top goes into this client's own trust store, unless a root trusted
 * already covers it, so that the next atrium admin command still connects.
 * Taking it from the answer is safe: the connection that carried the upload
 * was verified and the server checked that the caller is an admin, so the
 * chain is the one this admin has just installed. An answer without
 * chain_pem (an older server) changes nothing.
 */
static void
trust_new_chain(struct cli_ctx *c, const json_t *body)
{
	const char *pem = json_string_value(json_object_get(body, "chain_pem"));
	const char *hp = cli_url_hostport(cli_http_server(c->http));
	struct cli_trusted tr;
	struct atr_err err;
	char alias[300];

	if (pem == NULL || json_is_true(json_object_get(body, "trusted_by_local_ca")))
		return;
	snprintf(alias, sizeof(alias), "%s", hp);
	if (cli_trust_add_top(c->home, pem, strlen(pem), alias, hp, &tr, &err) == -1) {
		fprintf(stderr, "atrium: warning: the new certificate could not be added to this "
		    "client's trust store (%s); the next atrium admin command will not trust the "
		    "server: run atrium certs trust %s\n", atr_err_msg(&err), hp);
		return;
	}
	if (tr.added)
		printf("This client now trusts the new certificate: added %s (SHA-256 %s) to %s as "
		    "'%s'.\n", tr.subject, tr.sha256, tr.store, tr.alias);
	if (tr.still[0] != '\0')
		fprintf(stderr, "atrium: warning: connections from here will still fail: %s\n",
		    tr.still);
	/* The session's certificate is the new one now: it changed on purpose. */
	if (strncmp(c->session.server, "https://", 8) == 0 && tr.leaf_sha256[0] != '\0') {
		char *old = c->session.cert_sha256;

		if ((c->session.cert_sha256 = strdup(tr.leaf_sha256)) != NULL) {
			free(old);
			cli_session_save(c->home, &c->session, &err);
		} else {
			c->session.cert_sha256 = old;
		}
	}
}

/* After a refusal about the alias: the key entries the server listed. */
static void
print_aliases(const json_t *body, const char *file)
{
	const json_t *list = json_object_get(body, "aliases"), *v;
	char a[256];
	size_t i;

	if (json_array_size(list) == 0)
		return;
	fprintf(stderr, "Key entries in %s:", file);
	json_array_foreach(list, i, v) {
		cli_sanitize(a, sizeof(a), json_is_string(v) ? json_string_value(v) : "?");
		fprintf(stderr, "%s%s", i == 0 ? " " : ", ", a);
	}
	fprintf(stderr, "\nChoose one with --alias NAME.\n");
}

static int
upload_main(int argc, char **argv)
{
	struct atr_err err;
	struct cli_args a;
	struct cli_ctx c = {0};
	struct cli_reply rep = {0};
	unsigned char *ks = NULL;
	size_t kslen = 0;
	char *b64 = NULL, *password = NULL;
	const char *file, *name;
	json_t *body = NULL;
	uint64_t port;
	int status;

	if (cli_args_get(&upload_usage, argc, argv, 0, 0, &a, &status) == -1 ||
	    port_opt(&upload_usage, a.val[UP_PORT], &port, &status) == -1)
		return status;
	if ((file = a.val[UP_KEYSTORE]) == NULL || *file == '\0')
		return cli_usage_error(&upload_usage, "give the keystore with --keystore FILE");
	if (a.val[UP_ALIAS] != NULL && *a.val[UP_ALIAS] == '\0')
		return cli_usage_error(&upload_usage, "--alias needs the name of a key entry");
	name = strrchr(file, '/') != NULL ? strrchr(file, '/') + 1 : file;
	if (atr_read_file(file, KEYSTORE_MAX, &ks, &kslen, &err) == -1) {
		if (err.code == ATR_E_TOO_LARGE)
			atr_err_set(&err, ATR_E_TOO_LARGE, "%s is larger than 1 MiB, the most a "
			    "keystore may be; is it the right file?", file);
		goto fail;
	}
	if (kslen == 0) {
		atr_err_set(&err, ATR_E_IO, "%s is empty; give the keystore file itself", file);
		goto fail;
	}
	/* Connection trouble shows before the password is asked. */
	if (admin_open(&c, a.val[UP_SERVER], &err) == -1)
		goto fail;
	if ((password = keystore_password(a.val[UP_PASSFILE], &err)) == NULL)
		goto fail;
	if ((b64 = base64(ks, kslen)) == NULL) {
		atr_err_set(&err, ATR_E_NOMEM, NULL);
		goto fail;
	}
	/* A PEM key without encryption needs no password: then none is sent. */
	if ((body = json_pack("{s:b,s:s,s:s}", "enabled", 1, "keystore", b64, "keystore_name",
	    name)) == NULL ||
	    (port != 0 && json_object_set_new(body, "port", json_integer((json_int_t)port)) == -1) ||
	    (*password != '\0' &&
	    json_object_set_new(body, "password", json_string(password)) == -1) ||
	    (a.val[UP_ALIAS] != NULL &&
	    json_object_set_new(body, "alias", json_string(a.val[UP_ALIAS])) == -1) ||
	    (a.val[UP_FORCE] != NULL && json_object_set_new(body, "force", json_true()) == -1)) {
		atr_err_set(&err, ATR_E_USAGE, "the file name, the password and the alias must "
		    "be UTF-8");
		goto fail;
	}
	if (admin_call(&c, "PUT", "/admin/api/settings/tls", body, 200, &rep, &err) == -1) {
		const char *field = json_string_value(json_object_get(rep.json, "field"));

		status = cli_fail(&err);
		if (field != NULL && strcmp(field, "alias") == 0)
			print_aliases(rep.json, file);
		/* Names the certificate does not cover: which, how to make one, --force. */
		if (print_coverage(rep.json, stderr) > 0 && a.val[UP_FORCE] == NULL)
			fprintf(stderr, "To upload it anyway, add --force: clients that use a name "
			    "that is NOT covered will be refused.\n");
		/* A refusal (any 4xx: the settings module applies all or nothing). */
		if (rep.status >= 400 && rep.status < 500)
			fprintf(stderr, "Nothing was changed: the server keeps the certificate it "
			    "had.\n");
		goto out;
	}
	printf("Uploaded %s.\n", name);
	print_applied(rep.json);
	print_warnings(rep.json);
	print_coverage(rep.json, stdout);
	trust_new_chain(&c, rep.json);
	printf("Browser tabs with the console open (%s) will need the new certificate trusted "
	    "before they work again.\n", cli_url_hostport(cli_http_server(c.http)));
	status = CLI_OK;
	goto out;
fail:
	status = err.code == ATR_E_USAGE ? cli_usage_error(&upload_usage, "%s",
	    atr_err_msg(&err)) : cli_fail(&err);
out:
	json_decref(body);
	if (ks != NULL)
		atr_wipe(ks, kslen);
	free(ks);
	atr_free_secret(b64);
	atr_free_secret(password);
	cli_reply_clear(&rep);
	cli_ctx_close(&c);
	return status;
}

static int
plain_main(int argc, char **argv)
{
	struct atr_err err;
	struct cli_args a;
	struct cli_ctx c = {0};
	struct cli_reply rep = {0};
	const json_t *plain;
	json_t *body = NULL;
	int status, on;

	if (cli_args_get(&plain_usage, argc, argv, 1, 1, &a, &status) == -1)
		return status;
	if (strcmp(a.pos[0], "on") == 0)
		on = 1;
	else if (strcmp(a.pos[0], "off") == 0)
		on = 0;
	else
		return cli_usage_error(&plain_usage, "say on or off, not '%s'", a.pos[0]);
	if (admin_open(&c, a.val[PL_SERVER], &err) == -1)
		goto fail;
	if ((body = json_pack("{s:b}", "enabled", on)) == NULL) {
		atr_err_set(&err, ATR_E_NOMEM, NULL);
		goto fail;
	}
	if (admin_call(&c, "PUT", "/admin/api/settings/plain", body, 200, &rep, &err) == -1)
		goto fail;
	plain = json_object_get(rep.json, "plain");
	if (json_is_true(json_object_get(plain, "enabled")))
		printf("The plain port %lld is open. It is not encrypted: close it with 'atrium "
		    "admin plain off' once every client uses TLS.\n", int_of(plain, "port"));
	else
		printf("The plain port %lld is closed: only TLS connections are accepted.\n",
		    int_of(plain, "port"));
	status = CLI_OK;
	goto out;
fail:
	status = err.code == ATR_E_USAGE ? cli_usage_error(&plain_usage, "%s",
	    atr_err_msg(&err)) : cli_fail(&err);
out:
	json_decref(body);
	cli_reply_clear(&rep);
	cli_ctx_close(&c);
	return status;
}

static const struct cli_sub tls_subs[] = {
	{"status", status_main, "show the settings and the certificate in use"},
	{"enable", enable_main, "turn TLS on (Use TLS), optionally on another port"},
	{"disable", disable_main, "turn TLS off"},
	{"upload", upload_main, "use a keystore (JKS, PKCS#12, PEM): checked, then applied at once"},
	{"clear", clear_main, "remove the uploaded keystore: back to the local CA's certificate"},
	{NULL, NULL, NULL},
};

static int
tls_main(int argc, char **argv)
{
	return cli_dispatch("atrium admin tls", tls_subs, argc, argv);
}

static const struct cli_sub admin_subs[] = {
	{"tls", tls_main, "the secured connection: status, enable, disable, upload, clear"},
	{"plain", plain_main, "open or close the unencrypted port: on|off"},
	{"trust", cmd_admin_trust, "the server's trust store for outbound TLS: list, import, fetch"},
	{"integrations", cmd_admin_integrations, "where events are delivered, signed: add, list, "
	    "log, test, ..."},
	{"directory", cmd_admin_directory, "directory sign-in (LDAPS/StartTLS): show, set, test"},
	{NULL, NULL, NULL},
};

/*
 * atrium admin: the Server Settings of the admin console (docs/admin.md).
 * Needs a session of a user with the admin role.
 */
int
cmd_admin(int argc, char **argv)
{
	cli_init();
	return cli_dispatch("atrium admin", admin_subs, argc, argv);
}
