/*
 * atrium admin trust: the server's own trust store for outbound TLS
 * (DIR/tls/truststore.p12), through the admin API (docs/admin-api.md,
 * "Trusted certificates"); the same file `atrium keytool -keystore
 * DIR/tls/truststore.p12` changes on the server's machine.
 *
 *   atrium admin trust list [--json]
 *   atrium admin trust import FILE [--alias A]
 *   atrium admin trust fetch HOST:PORT [--fingerprint SHA256 | --yes] [--alias A]
 *   atrium admin trust remove ALIAS
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "atrium/util.h"
#include "cli/admin.h"
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/output.h"
#include "cli/url.h"

#define CERT_FILE_MAX (128 * 1024)

#define SERVER_HELP "the admin console as HOST[:PORT] (default: the logged-in server's " \
	"host, port 8443)"

/* ---- options and usage ---------------------------------------------------- */

enum { LS_SERVER, LS_JSON };

static const struct cli_opt list_opts[] = {
	[LS_SERVER] = {"server", 0, "HOST:PORT", SERVER_HELP},
	[LS_JSON] = {"json", 0, NULL, "print the server's JSON instead"},
	{NULL, 0, NULL, NULL},
};

static const struct cli_usage list_usage = {
	"atrium admin trust list", "[--server HOST:PORT] [--json]",
	"Lists the certificates the server trusts for its outbound TLS connections\n"
	"(DIR/tls/truststore.p12): alias, subject, issuer, expiry, SHA-256, and\n"
	"whether each is a CA. When the file cannot be read the certificates still\n"
	"in force are listed and the problem is printed (exit status 1).",
	list_opts,
};

enum { IM_SERVER, IM_ALIAS };

static const struct cli_opt import_opts[] = {
	[IM_SERVER] = {"server", 0, "HOST:PORT", SERVER_HELP},
	[IM_ALIAS] = {"alias", 0, "A", "the entry's alias (default: from the certificate's CN)"},
	{NULL, 0, NULL, NULL},
};

static const struct cli_usage import_usage = {
	"atrium admin trust import", "FILE [--alias A] [--server HOST:PORT]",
	"Adds the certificate in FILE (PEM or DER, one certificate) to the server's\n"
	"trust store, as keytool -importcert does: any certificate may be trusted;\n"
	"the answer says whether it is a CA. Applies to the next outbound connection.",
	import_opts,
};

enum { FE_SERVER, FE_FINGERPRINT, FE_YES, FE_ALIAS };

static const struct cli_opt fetch_opts[] = {
	[FE_SERVER] = {"server", 0, "HOST:PORT", SERVER_HELP},
	[FE_FINGERPRINT] = {"fingerprint", 0, "SHA256", "trust the certificate of the chain with "
	    "this SHA-256 fingerprint, without asking; nothing is trusted when none has it"},
	[FE_YES] = {"yes", 'y', NULL, "trust the root (the top of the chain) without asking"},
	[FE_ALIAS] = {"alias", 0, "A", "the new entry's alias (default: from its CN)"},
	{NULL, 0, NULL, NULL},
};

static const struct cli_usage fetch_usage = {
	"atrium admin trust fetch",
	"HOST[:PORT] [--fingerprint SHA256 | --yes] [--alias A] [--server HOST:PORT]",
	"Has the server connect to HOST:PORT (443 by default) over TLS and shows the\n"
	"certificate chain presented there: subject, issuer, expiry and SHA-256 of\n"
	"each, the root last. Then asks whether to trust the root, unless --yes is\n"
	"given, or --fingerprint names the certificate to trust (check it with the\n"
	"peer's administrator first: the fetch itself verifies nothing).",
	fetch_opts,
};

enum { RM_SERVER };

static const struct cli_opt remove_opts[] = {
	[RM_SERVER] = {"server", 0, "HOST:PORT", SERVER_HELP},
	{NULL, 0, NULL, NULL},
};

static const struct cli_usage remove_usage = {
	"atrium admin trust remove", "ALIAS [--server HOST:PORT]",
	"Removes the entry ALIAS from the server's trust store (keytool -delete).",
	remove_opts,
};

/* ---- printing ---------------------------------------------------------------- */

static const char *
str_of(const json_t *o, const char *key, char *buf, size_t n)
{
	const char *s = json_string_value(json_object_get(o, key));

	cli_sanitize(buf, n, s != NULL ? s : "");
	return buf;
}

/* One certificate, indented; title is its first line. */
static void
print_cert(const char *title, const json_t *c)
{
	char a[1024], t[64];

	printf("%s\n", title);
	printf("  %-9s %s\n", "Subject", str_of(c, "subject", a, sizeof(a)));
	printf("  %-9s %s\n", "Issuer", str_of(c, "issuer", a, sizeof(a)));
	cli_format_time(str_of(c, "not_after", a, sizeof(a)), t, sizeof(t));
	printf("  %-9s %s\n", "Expires", t);
	printf("  %-9s %s%s\n", "CA", json_is_true(json_object_get(c, "ca")) ? "yes" : "no",
	    json_is_true(json_object_get(c, "self_signed")) ? " (self-signed)" : "");
	printf("  %-9s %s\n", "SHA-256", str_of(c, "sha256", a, sizeof(a)));
}

static void
print_chain(const json_t *ans, const char *hostport)
{
	const json_t *chain = json_object_get(ans, "chain"), *c;
	char title[300], role[32];
	size_t i;

	printf("Certificate chain presented by %s (%lld sent):\n\n", hostport,
	    (long long)json_integer_value(json_object_get(ans, "sent")));
	json_array_foreach(chain, i, c) {
		snprintf(title, sizeof(title), "[%zu] %s", i + 1,
		    str_of(c, "role", role, sizeof(role)));
		print_cert(title, c);
	}
	if (json_is_true(json_object_get(ans, "verified")))
		printf("\nThe server already trusts this chain (its trust store or the system's "
		    "roots).\n");
	else
		printf("\nThe server does not trust this chain yet.\n");
}

/* ---- subcommands --------------------------------------------------------------- */

/* The exit status for err: a usage error prints the synopsis of u. */
static int
fail(const struct cli_usage *u, const struct atr_err *err)
{
	return err->code == ATR_E_USAGE ? cli_usage_error(u, "%s", atr_err_msg(err)) :
	    cli_fail(err);
}

static int
list_main(int argc, char **argv)
{
	struct atr_err err;
	struct cli_args a;
	struct cli_ctx c = {0};
	struct cli_reply rep = {0};
	const json_t *entries, *e, *problem;
	char title[300], alias[256], file[256];
	size_t i;
	int status;

	if (cli_args_get(&list_usage, argc, argv, 0, 0, &a, &status) == -1)
		return status;
	if (admin_open(&c, a.val[LS_SERVER], &err) == -1 ||
	    admin_call(&c, "GET", "/admin/api/trust", NULL, 200, &rep, &err) == -1) {
		status = fail(&list_usage, &err);
		goto out;
	}
	entries = json_object_get(rep.json, "entries");
	problem = json_object_get(rep.json, "problem");
	if (!json_is_array(entries)) {
		status = cli_failf("the server's answer lists no certificates; is it an Atrium admin "
		    "console?");
		goto out;
	}
	if (a.val[LS_JSON] != NULL) {
		status = cli_print_json(rep.json) == 0 ? CLI_OK : CLI_FAIL;
	} else {
		printf("Trust store %s: %zu entr%s; the system's roots are %s.\n",
		    str_of(rep.json, "file", file, sizeof(file)), json_array_size(entries),
		    json_array_size(entries) == 1 ? "y" : "ies",
		    json_is_true(json_object_get(rep.json, "system_roots")) ? "trusted too" :
		    "not trusted (outbound_system_roots = off)");
		json_array_foreach(entries, i, e) {
			snprintf(title, sizeof(title), "\n%s%s", str_of(e, "alias", alias, sizeof(alias)),
			    json_is_true(json_object_get(e, "key_entry")) ? " (a key entry)" : "");
			print_cert(title, e);
		}
		status = CLI_OK;
	}
	if (json_is_object(problem)) {
		enum atr_errcode code = ATR_E_IO;
		char msg[ATR_ERR_MSG_MAX];

		atr_errcode_from_name(json_string_value(json_object_get(problem, "code")) ?
		    json_string_value(json_object_get(problem, "code")) : "", &code);
		fflush(stdout); /* the entries, then the problem */
		atr_err_set(&err, code, "%s; the server keeps trusting the certificates listed "
		    "until it is fixed", str_of(problem, "error", msg, sizeof(msg)));
		status = cli_fail(&err);
	}
out:
	cli_reply_clear(&rep);
	cli_ctx_close(&c);
	return status;
}

static int
import_main(int argc, char **argv)
{
	struct atr_err err;
	struct cli_args a;
	struct cli_ctx c = {0};
	struct cli_reply rep = {0};
	unsigned char *buf = NULL;
	char *b64 = NULL, title[300], alias[256];
	json_t *body = NULL;
	size_t len = 0;
	int status;

	if (cli_args_get(&import_usage, argc, argv, 1, 1, &a, &status) == -1)
		return status;
	if (a.val[IM_ALIAS] != NULL && *a.val[IM_ALIAS] == '\0')
		return cli_usage_error(&import_usage, "--alias needs a name");
	if (atr_read_file(a.pos[0], CERT_FILE_MAX, &buf, &len, &err) == -1)
		goto fail;
	if (memmem(buf, len, "-----BEGIN", 10) != NULL) {
		body = json_pack("{s:s%}", "pem", (const char *)buf, len);
	} else {
		if ((b64 = malloc(len / 3 * 4 + 5)) == NULL) {
			atr_err_set(&err, ATR_E_NOMEM, NULL);
			goto fail;
		}
		EVP_EncodeBlock((unsigned char *)b64, buf, (int)len);
		body = json_pack("{s:s}", "der_b64", b64);
	}
	if (body == NULL || (a.val[IM_ALIAS] != NULL &&
	    json_object_set_new(body, "alias", json_string(a.val[IM_ALIAS])) == -1)) {
		atr_err_set(&err, ATR_E_USAGE, "%s is not a certificate (PEM text or DER), or the "
		    "alias is not UTF-8", a.pos[0]);
		goto fail;
	}
	if (admin_open(&c, a.val[IM_SERVER], &err) == -1 ||
	    admin_call(&c, "POST", "/admin/api/trust", body, 201, &rep, &err) == -1)
		goto fail;
	snprintf(title, sizeof(title), "Trusted for outbound TLS, as '%s':",
	    str_of(rep.json, "alias", alias, sizeof(alias)));
	print_cert(title, rep.json);
	if (!json_is_true(json_object_get(rep.json, "ca")))
		printf("Note: this certificate is not a CA: it is trusted as it is (a server's own "
		    "certificate), not as an issuer.\n");
	status = CLI_OK;
	goto out;
fail:
	status = fail(&import_usage, &err);
out:
	json_decref(body);
	free(buf);
	free(b64);
	cli_reply_clear(&rep);
	cli_ctx_close(&c);
	return status;
}

/* Splits HOST[:PORT] / [V6][:PORT] into host and port (443 by default). */
static int
split_target(const char *s, char *host, size_t hlen, long *port)
{
	const char *colon = NULL, *h = s;
	size_t n;
	uint64_t p = 443;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (close == NULL || (close[1] != '\0' && close[1] != ':'))
			return -1;
		h = s + 1;
		n = (size_t)(close - h);
		colon = close[1] == ':' ? close + 1 : NULL;
	} else {
		colon = strrchr(s, ':');
		if (colon != NULL && strchr(s, ':') != colon)
			colon = NULL; /* a bare IPv6 address */
		n = colon != NULL ? (size_t)(colon - s) : strlen(s);
	}
	if (n == 0 || n >= hlen)
		return -1;
	memcpy(host, h, n);
	host[n] = '\0';
	if (colon != NULL && cli_parse_u64(colon + 1, 1, 65535, &p) == -1)
		return -1;
	*port = (long)p;
	return 0;
}

/* Asks on the terminal (or reads stdin) whether to trust; 1 for yes. */
static int
ask_yes(const json_t *cert)
{
	char line[64], subject[600];

	fprintf(stderr, "Trust %s (SHA-256 %s) for the server's outbound TLS? [no]: ",
	    str_of(cert, "subject", subject, sizeof(subject)),
	    json_string_value(json_object_get(cert, "sha256")) ?
	    json_string_value(json_object_get(cert, "sha256")) : "?");
	if (fgets(line, sizeof(line), stdin) == NULL)
		return 0;
	line[strcspn(line, "\r\n")] = '\0';
	return strcasecmp(line, "y") == 0 || strcasecmp(line, "yes") == 0;
}

static int
fetch_main(int argc, char **argv)
{
	struct atr_err err;
	struct cli_args a;
	struct cli_ctx c = {0};
	struct cli_reply rep = {0};
	const char *fp;
	const json_t *chain, *top;
	char host[256], alias[256], title[300];
	json_t *body = NULL;
	long port;
	int status;

	if (cli_args_get(&fetch_usage, argc, argv, 1, 1, &a, &status) == -1)
		return status;
	fp = a.val[FE_FINGERPRINT];
	if (fp != NULL && a.val[FE_YES] != NULL)
		return cli_usage_error(&fetch_usage, "give --fingerprint or --yes, not both");
	if (fp != NULL && *fp == '\0')
		return cli_usage_error(&fetch_usage, "--fingerprint needs a SHA-256 fingerprint");
	if (split_target(a.pos[0], host, sizeof(host), &port) == -1)
		return cli_usage_error(&fetch_usage, "'%s' is not HOST[:PORT]", a.pos[0]);
	if (admin_open(&c, a.val[FE_SERVER], &err) == -1)
		goto fail;
	if ((body = json_pack("{s:s,s:i}", "host", host, "port", (int)port)) == NULL ||
	    (a.val[FE_ALIAS] != NULL &&
	    json_object_set_new(body, "alias", json_string(a.val[FE_ALIAS])) == -1) ||
	    (fp != NULL && json_object_set_new(body, "trust", json_string(fp)) == -1)) {
		atr_err_set(&err, ATR_E_USAGE, "the host, alias and fingerprint must be UTF-8");
		goto fail;
	}
	if (admin_call(&c, "POST", "/admin/api/trust/fetch", body, fp != NULL ? 201 : 200, &rep,
	    &err) == -1) {
		/* A fingerprint that matches nothing: show what was there. */
		if (json_is_array(json_object_get(rep.json, "chain"))) {
			print_chain(rep.json, a.pos[0]);
			fflush(stdout); /* the chain, then the refusal */
		}
		status = cli_fail(&err);
		if (rep.status >= 400 && rep.status < 500)
			fprintf(stderr, "Nothing was trusted.\n");
		goto out;
	}
	print_chain(rep.json, a.pos[0]);
	if (fp != NULL)
		goto trusted;
	chain = json_object_get(rep.json, "chain");
	top = json_array_get(chain, json_array_size(chain) - 1);
	if (top == NULL) {
		status = cli_failf("the server's answer holds no certificate chain");
		goto out;
	}
	if (a.val[FE_YES] == NULL && !ask_yes(top)) {
		printf("Nothing was trusted.\n");
		status = CLI_OK;
		goto out;
	}
	/* The server fetches again and adds the top only if it is still the same. */
	json_object_set_new(body, "trust", json_copy(json_object_get(top, "sha256")));
	cli_reply_clear(&rep);
	if (admin_call(&c, "POST", "/admin/api/trust/fetch", body, 201, &rep, &err) == -1) {
		status = cli_fail(&err);
		if (rep.status >= 400 && rep.status < 500)
			fprintf(stderr, "Nothing was trusted.\n");
		goto out;
	}
trusted:
	top = json_object_get(rep.json, "trusted");
	snprintf(title, sizeof(title), "\nTrusted for outbound TLS, as '%s':",
	    str_of(top, "alias", alias, sizeof(alias)));
	print_cert(title, top);
	status = CLI_OK;
	goto out;
fail:
	status = fail(&fetch_usage, &err);
out:
	json_decref(body);
	cli_reply_clear(&rep);
	cli_ctx_close(&c);
	return status;
}

static int
remove_main(int argc, char **argv)
{
	struct atr_err err;
	struct cli_args a;
	struct cli_ctx c = {0};
	struct cli_reply rep = {0};
	char *alias = NULL, *path = NULL;
	int status;

	if (cli_args_get(&remove_usage, argc, argv, 1, 1, &a, &status) == -1)
		return status;
	if ((alias = cli_pct_encode(a.pos[0])) == NULL ||
	    asprintf(&path, "/admin/api/trust/%s", alias) < 0) {
		path = NULL;
		atr_err_set(&err, ATR_E_NOMEM, NULL);
		goto fail;
	}
	if (admin_open(&c, a.val[RM_SERVER], &err) == -1 ||
	    admin_call(&c, "DELETE", path, NULL, 204, &rep, &err) == -1)
		goto fail;
	printf("Removed '%s' from the server's trust store.\n", a.pos[0]);
	status = CLI_OK;
	goto out;
fail:
	status = fail(&remove_usage, &err);
out:
	free(alias);
	free(path);
	cli_reply_clear(&rep);
	cli_ctx_close(&c);
	return status;
}

static const struct cli_sub trust_subs[] = {
	{"list", list_main, "the certificates the server trusts for outbound TLS"},
	{"import", import_main, "trust a certificate from a file (PEM or DER)"},
	{"fetch", fetch_main, "show a server's chain from the server, and trust its root"},
	{"remove", remove_main, "remove an entry by alias"},
	{NULL, NULL, NULL},
};

/* atrium admin trust: see admin.h. */
int
cmd_admin_trust(int argc, char **argv)
{
	return cli_dispatch("atrium admin trust", trust_subs, argc, argv);
}
