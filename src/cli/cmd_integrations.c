/*
 * atrium admin integrations: where the server delivers its events, signed
 * (docs/integrations.md), through the admin API (docs/admin-api.md,
 * "Integrations").
 *
 *   atrium admin integrations add NAME --url URL [--events KIND,...] [--project P]
 *       [--ca-file F | --pin SHA256] [--client-keystore F [--client-storepass-file F]]
 *       [--allow-plain]
 *   atrium admin integrations set NAME [the options of add] [--all-projects]
 *       [--trust-store] [--no-client-keystore] [--no-allow-plain]
 *   atrium admin integrations list|show NAME [--json]
 *   atrium admin integrations log NAME [--json] [--limit N] [--before ID]
 *   atrium admin integrations test|pause|resume|remove NAME
 *   atrium admin integrations redeliver NAME DELIVERY-ID
 *   atrium admin integrations rotate-secret NAME [--overlap-hours H]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/evp.h>

#include "atrium/util.h"
#include "cli/admin.h"
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/output.h"
#include "cli/url.h"

#define CA_FILE_MAX (256 * 1024)    /* a CA bundle: a few certificates */
#define KEYSTORE_MAX (1024 * 1024)  /* the server's limit for a keystore */
#define API_BASE "/admin/api/integrations"

#define SERVER_HELP "the admin console as HOST[:PORT] (default: the logged-in server's " \
	"host, port 8443)"
#define KINDS_HELP "revision.committed, project.created, project.deleted, lock.taken, " \
	"lock.released, branch.created, branch.deleted, tag.created, tag.deleted, user.created, " \
	"user.deleted, certificate.renewed, certificate.expiring"

/* ---- options and usage ---------------------------------------------------- */

/*
 * add and set share their first rows (one body builder reads both); set
 * has the rows that undo a choice after them.
 */
enum {
	O_SERVER, O_URL, O_EVENTS, O_PROJECT, O_CA_FILE, O_PIN, O_KEYSTORE, O_PASSFILE,
	O_ALIAS, O_ALLOW_PLAIN, O_ALL_PROJECTS, O_TRUST_STORE, O_NO_KEYSTORE, O_NO_PLAIN,
};

#define SHARED_OPTS                                                                        \
	[O_SERVER] = {"server", 0, "HOST:PORT", SERVER_HELP},                              \
	[O_URL] = {"url", 0, "URL", "where events are POSTed: https://... (verified, always) " \
	    "or http://... (loopback only, unless --allow-plain)"},                           \
	[O_EVENTS] = {"events", 0, "KIND,...", "the kinds to deliver, comma-separated, or * " \
	    "for every kind (the default): " KINDS_HELP},                                     \
	[O_PROJECT] = {"project", 0, "P", "only events about project P (default: every "     \
	    "project; events about no project, such as users, are not filtered)"},            \
	[O_CA_FILE] = {"ca-file", 0, "F", "trust only the CA certificates in F (PEM) for "   \
	    "this receiver, instead of the server's trust store"},                            \
	[O_PIN] = {"pin", 0, "SHA256", "trust only the receiver certificate with this "      \
	    "SHA-256 fingerprint (hex, colons allowed)"},                                     \
	[O_KEYSTORE] = {"client-keystore", 0, "F", "present this client certificate (a "    \
	    "PKCS#12, JKS or PEM keystore) to receivers that ask for one"},                   \
	[O_PASSFILE] = {"client-storepass-file", 0, "F", "read the keystore password from "  \
	    "the first line of F (default: ask on the terminal; none for an unencrypted "     \
	    "PEM file)"},                                                                     \
	[O_ALIAS] = {"client-alias", 0, "A", "the key entry to use when the keystore holds " \
	    "several"},                                                                       \
	[O_ALLOW_PLAIN] = {"allow-plain", 0, NULL, "allow an http:// URL to a host that is " \
	    "not this machine: events and their signatures travel unencrypted"}

static const struct cli_opt add_opts[] = {
	SHARED_OPTS,
	{NULL, 0, NULL, NULL},
};

static const struct cli_opt set_opts[] = {
	SHARED_OPTS,
	[O_ALL_PROJECTS] = {"all-projects", 0, NULL, "drop the project filter"},
	[O_TRUST_STORE] = {"trust-store", 0, NULL, "back to the server's trust store: drop "
	    "the CA file and the pin"},
	[O_NO_KEYSTORE] = {"no-client-keystore", 0, NULL, "present no client certificate"},
	[O_NO_PLAIN] = {"no-allow-plain", 0, NULL, "http:// to loopback only again"},
	{NULL, 0, NULL, NULL},
};

static const struct cli_usage add_usage = {
	"atrium admin integrations add",
	"NAME --url URL [--events KIND,...] [--project P]\n"
	"    [--ca-file F | --pin SHA256] [--client-keystore F [--client-storepass-file F]]\n"
	"    [--allow-plain] [--server HOST:PORT]",
	"Registers an integration: from now on the server POSTs each event of the kinds\n"
	"asked for to URL, in order, signed as Standard Webhooks says, and retries until\n"
	"the receiver takes it. \"Use SSL\" is the URL's scheme: an https:// receiver's\n"
	"certificate is always verified (there is no option to skip it), against the\n"
	"server's trust store unless --ca-file or --pin says otherwise. Prints the\n"
	"signing secret once, on a line \"secret: whsec_...\": give it to the receiver.",
	add_opts,
};

static const struct cli_usage set_usage = {
	"atrium admin integrations set",
	"NAME [--url URL] [--events KIND,...] [--project P | --all-projects]\n"
	"    [--ca-file F | --pin SHA256 | --trust-store]\n"
	"    [--client-keystore F [--client-storepass-file F] | --no-client-keystore]\n"
	"    [--allow-plain | --no-allow-plain] [--server HOST:PORT]",
	"Changes what is given and keeps the rest. The secret, the state and the\n"
	"deliveries waiting are kept; the next delivery uses the new settings.",
	set_opts,
};

enum { L_SERVER, L_JSON };

static const struct cli_opt list_opts[] = {
	[L_SERVER] = {"server", 0, "HOST:PORT", SERVER_HELP},
	[L_JSON] = {"json", 0, NULL, "print the server's JSON instead"},
	{NULL, 0, NULL, NULL},
};

static const struct cli_usage list_usage = {
	"atrium admin integrations list", "[--json] [--server HOST:PORT]",
	"Lists the integrations: name, state (active, paused or disabled), deliveries\n"
	"waiting, project filter, event kinds and URL.",
	list_opts,
};

static const struct cli_usage show_usage = {
	"atrium admin integrations show", "NAME [--json] [--server HOST:PORT]",
	"Shows one integration: its URL, kinds, project, how its receiver is trusted,\n"
	"its client certificate, its state and why, and the deliveries waiting. The\n"
	"signing secret is never shown again (rotate-secret makes a new one).",
	list_opts,
};

enum { LG_SERVER, LG_JSON, LG_LIMIT, LG_BEFORE };

static const struct cli_opt log_opts[] = {
	[LG_SERVER] = {"server", 0, "HOST:PORT", SERVER_HELP},
	[LG_JSON] = {"json", 0, NULL, "print the server's JSON instead"},
	[LG_LIMIT] = {"limit", 0, "N", "at most N attempts (1 to 1000; the server's default "
	    "otherwise)"},
	[LG_BEFORE] = {"before", 0, "ID", "only attempts of deliveries older than ID (the next "
	    "page)"},
	{NULL, 0, NULL, NULL},
};

static const struct cli_usage log_usage = {
	"atrium admin integrations log", "NAME [--json] [--limit N] [--before ID]\n"
	"    [--server HOST:PORT]",
	"The delivery log, newest first: one line per attempt with its delivery id,\n"
	"seq, event, time (UTC), HTTP status, duration, outcome (delivered, retry or\n"
	"failed), when the next attempt is due, and the reason it failed.",
	log_opts,
};

enum { T_SERVER, T_WAIT };

static const struct cli_opt test_opts[] = {
	[T_SERVER] = {"server", 0, "HOST:PORT", SERVER_HELP},
	[T_WAIT] = {"wait", 0, "SECONDS", "wait this long for the first attempt's outcome (0: "
	    "do not wait; default 30)"},
	{NULL, 0, NULL, NULL},
};

static const struct cli_usage test_usage = {
	"atrium admin integrations test", "NAME [--wait SECONDS] [--server HOST:PORT]",
	"Queues an integration.test event for this integration alone, after what is\n"
	"waiting, and waits for its first attempt: prints the receiver's status, or why\n"
	"it failed (exit status 1).",
	test_opts,
};

enum { S_SERVER };

static const struct cli_opt server_opts[] = {
	[S_SERVER] = {"server", 0, "HOST:PORT", SERVER_HELP},
	{NULL, 0, NULL, NULL},
};

static const struct cli_usage redeliver_usage = {
	"atrium admin integrations redeliver", "NAME DELIVERY-ID [--server HOST:PORT]",
	"Sends a past delivery again (the same webhook-id and seq, signed anew), after\n"
	"what is waiting. DELIVERY-ID is the first column of the log.",
	server_opts,
};

static const struct cli_usage pause_usage = {
	"atrium admin integrations pause", "NAME [--server HOST:PORT]",
	"Stops delivering to this integration. Events keep being queued for it, in\n"
	"order; resume sends them.",
	server_opts,
};

static const struct cli_usage resume_usage = {
	"atrium admin integrations resume", "NAME [--server HOST:PORT]",
	"Delivers again, from the oldest delivery waiting, at once: after a pause, after\n"
	"the retries ran out, or after the receiver answered 410 Gone.",
	server_opts,
};

static const struct cli_usage remove_usage = {
	"atrium admin integrations remove", "NAME [--server HOST:PORT]",
	"Removes the integration with its deliveries waiting and its log.",
	server_opts,
};

enum { R_SERVER, R_OVERLAP };

static const struct cli_opt rotate_opts[] = {
	[R_SERVER] = {"server", 0, "HOST:PORT", SERVER_HELP},
	[R_OVERLAP] = {"overlap-hours", 0, "H", "how long the old secret keeps signing too, "
	    "so the receiver can switch (0 to 720; default 24)"},
	{NULL, 0, NULL, NULL},
};

static const struct cli_usage rotate_usage = {
	"atrium admin integrations rotate-secret", "NAME [--overlap-hours H] [--server HOST:PORT]",
	"Makes a new signing secret and prints it once. Until the overlap ends every\n"
	"delivery carries two signatures, one with each secret, so the receiver keeps\n"
	"verifying while it changes to the new one.",
	rotate_opts,
};

/* ---- small helpers ---------------------------------------------------------- */

/* A string member, sanitized into buf; "" when absent. */
static const char *
str_of(const json_t *o, const char *key, char *buf, size_t n)
{
	const char *s = json_string_value(json_object_get(o, key));

	cli_sanitize(buf, n, s != NULL ? s : "");
	return buf;
}

/* The string v holds, or dflt when it is not a string. */
static const char *
str_or(const json_t *v, const char *dflt)
{
	const char *s = json_string_value(v);

	return s != NULL ? s : dflt;
}

/* An integer member as text into buf; dash for null or absent. */
static const char *
int_of(const json_t *o, const char *key, char *buf, size_t n)
{
	const json_t *v = json_object_get(o, key);

	if (json_is_integer(v))
		snprintf(buf, n, "%lld", (long long)json_integer_value(v));
	else
		snprintf(buf, n, "-");
	return buf;
}

/*
 * The option that sets each field the API can name in an error, so that
 * the sentence points at what the user typed ("name" needs no pointer:
 * its sentences name the integration).
 */
static const struct {
	const char *field, *option;
} field_options[] = {
	{"url", "--url"},
	{"events", "--events"},
	{"project", "--project"},
	{"ca_pem", "--ca-file"},
	{"pin", "--pin"},
	{"client_keystore", "--client-keystore"},
	{"allow_plain", "--allow-plain"},
	{"overlap_hours", "--overlap-hours"},
	{"limit", "--limit"},
	{"before", "--before"},
};

/* Prefixes err's sentence with the option the answer's "field" names. */
static void
name_field(const struct cli_reply *rep, struct atr_err *err)
{
	const char *field = json_string_value(json_object_get(rep->json, "field"));
	char msg[ATR_ERR_MSG_MAX];

	if (field == NULL)
		return;
	for (size_t i = 0; i < sizeof(field_options) / sizeof(field_options[0]); i++) {
		if (strcmp(field, field_options[i].field) != 0)
			continue;
		snprintf(msg, sizeof(msg), "%s", atr_err_msg(err));
		atr_err_set(err, err->code, "%s: %s", field_options[i].option, msg);
		return;
	}
}

/* "/admin/api/integrations/NAME" + tail, the name percent-encoded; NULL when out of memory. */
static char *
ipath(const char *name, const char *tail)
{
	char *enc = cli_pct_encode(name), *p = NULL;

	if (enc == NULL)
		return NULL;
	if (asprintf(&p, API_BASE "/%s%s", enc, tail != NULL ? tail : "") < 0)
		p = NULL;
	free(enc);
	return p;
}

/*
 * Opens the admin connection (once) and makes one call; on failure err
 * names the option at fault when the answer names a field.
 */
static int
call(struct cli_ctx *c, const char *server, const char *method, const char *path,
    json_t *body, long expect, struct cli_reply *rep, struct atr_err *err)
{
	if (c->http == NULL && admin_open(c, server, err) == -1)
		return -1;
	cli_reply_clear(rep);
	if (admin_call(c, method, path, body, expect, rep, err) == -1) {
		name_field(rep, err);
		return -1;
	}
	return 0;
}

/* The exit status for err: a usage error prints the synopsis of u. */
static int
fail(const struct cli_usage *u, const struct atr_err *err)
{
	return err->code == ATR_E_USAGE ? cli_usage_error(u, "%s", atr_err_msg(err)) :
	    cli_fail(err);
}

/* ---- printing ------------------------------------------------------------------ */

/* The kinds as one line: "every kind" or "a,b". */
static void
kinds_text(const json_t *events, char *out, size_t n)
{
	const json_t *k;
	size_t i, len = 0;
	char one[64];

	out[0] = '\0';
	if (!json_is_array(events) || json_array_size(events) == 0 ||
	    (json_array_size(events) == 1 &&
	    strcmp(str_or(json_array_get(events, 0), ""), "*") == 0)) {
		snprintf(out, n, "every kind");
		return;
	}
	json_array_foreach(events, i, k) {
		cli_sanitize(one, sizeof(one), str_or(k, "?"));
		len += (size_t)snprintf(out + len, len < n ? n - len : 0, "%s%s", i ? "," : "", one);
		if (len >= n)
			return;
	}
}

/* How the receiver is trusted, in words. */
static void
trust_text(const json_t *in, char *out, size_t n)
{
	const char *trust = str_or(json_object_get(in, "trust"), "store");
	const json_t *subjects = json_object_get(in, "ca_subjects"), *s;
	char buf[512];
	size_t i, len;

	if (strcmp(trust, "pin") == 0) {
		snprintf(out, n, "only the certificate with SHA-256 %s",
		    str_of(in, "pin", buf, sizeof(buf)));
		return;
	}
	if (strcmp(trust, "ca") != 0) {
		snprintf(out, n, "the server's trust store (atrium admin trust list)");
		return;
	}
	len = (size_t)snprintf(out, n, "only the CA file given:");
	json_array_foreach(subjects, i, s) {
		cli_sanitize(buf, sizeof(buf), str_or(s, "?"));
		len += (size_t)snprintf(out + len, len < n ? n - len : 0, "%s %s", i ? ";" : "", buf);
		if (len >= n)
			return;
	}
}

static void
print_integration(const json_t *in)
{
	const json_t *cc = json_object_get(in, "client_certificate");
	char a[2048], b[256], t[64];
	const char *url = str_or(json_object_get(in, "url"), "");

	printf("%-12s %s\n", "Integration", str_of(in, "name", a, sizeof(a)));
	printf("%-12s %s\n", "URL", str_of(in, "url", a, sizeof(a)));
	str_of(in, "state_reason", a, sizeof(a));
	printf("%-12s %s%s%s\n", "State", str_of(in, "state", b, sizeof(b)), *a ? ": " : "", a);
	kinds_text(json_object_get(in, "events"), a, sizeof(a));
	printf("%-12s %s\n", "Events", a);
	str_of(in, "project", a, sizeof(a));
	printf("%-12s %s\n", "Project", *a ? a : "every project");
	if (strncasecmp(url, "https:", 6) == 0) {
		trust_text(in, a, sizeof(a));
		printf("%-12s %s\n", "Trust", a);
	} else {
		printf("%-12s %s\n", "Plain HTTP", json_is_true(json_object_get(in, "allow_plain")) ?
		    "allowed to any host (allow_plain): events travel unencrypted" :
		    "to this machine only (loopback)");
	}
	if (json_is_object(cc)) {
		cli_format_time(json_string_value(json_object_get(cc, "not_after")), t, sizeof(t));
		printf("%-12s %s, until %s, SHA-256 %s\n", "Client cert",
		    str_of(cc, "subject", a, sizeof(a)), t, str_of(cc, "sha256", b, sizeof(b)));
	} else {
		printf("%-12s %s\n", "Client cert", "none");
	}
	printf("%-12s %s\n", "Pending", int_of(in, "pending", b, sizeof(b)));
	printf("%-12s %s\n", "Last seq", int_of(in, "last_seq", b, sizeof(b)));
	cli_format_time(json_string_value(json_object_get(in, "created")), t, sizeof(t));
	printf("%-12s %s by %s\n", "Created", t, str_of(in, "created_by", a, sizeof(a)));
	cli_format_time(json_string_value(json_object_get(in, "updated")), t, sizeof(t));
	printf("%-12s %s by %s\n", "Updated", t, str_of(in, "updated_by", a, sizeof(a)));
}

/* ---- add and set ----------------------------------------------------------------- */

/* --events as the API's array: "*" or "" for every kind. */
static json_t *
events_array(const char *list)
{
	json_t *arr = json_array();
	const char *p = list;

	if (arr == NULL)
		return NULL;
	while (*p != '\0') {
		size_t n;

		p += strspn(p, " ,");
		n = strcspn(p, ",");
		while (n > 0 && p[n - 1] == ' ')
			n--;
		if (n > 0 && json_array_append_new(arr, json_stringn(p, n)) == -1) {
			json_decref(arr);
			return NULL;
		}
		p += n;
		p += strcspn(p, ",");
	}
	if (json_array_size(arr) == 0)
		json_array_append_new(arr, json_string("*"));
	return arr;
}

/* Standard base64 of n bytes, NUL-terminated; the caller frees it. */
static char *
base64_of(const unsigned char *p, size_t n)
{
	char *out = malloc(n / 3 * 4 + 5);

	if (out != NULL)
		EVP_EncodeBlock((unsigned char *)out, p, (int)n);
	return out;
}

/*
 * The "client_keystore" object from --client-keystore, its password file
 * (or the terminal; an unencrypted PEM file needs none) and alias. NULL
 * with err set.
 */
static json_t *
keystore_object(const struct cli_args *a, struct atr_err *err)
{
	const char *file = a->val[O_KEYSTORE];
	unsigned char *ks = NULL;
	char *b64 = NULL, *pw = NULL;
	json_t *o = NULL;
	size_t len = 0;
	int pem_plain;

	if (atr_read_file(file, KEYSTORE_MAX, &ks, &len, err) == -1)
		goto out;
	if (len == 0) {
		atr_err_set(err, ATR_E_IO, "%s is empty; give the keystore file itself", file);
		goto out;
	}
	pem_plain = memmem(ks, len, "-----BEGIN", 10) != NULL &&
	    memmem(ks, len, "ENCRYPTED", 9) == NULL;
	if (a->val[O_PASSFILE] != NULL)
		pw = atr_passfile_read(a->val[O_PASSFILE], err); /* err set on failure */
	else if (pem_plain && (pw = strdup("")) == NULL)
		atr_err_set(err, ATR_E_NOMEM, NULL);
	else if (!pem_plain && (pw = atr_read_password("Client keystore password: ")) == NULL)
		atr_err_set(err, ATR_E_BAD_LOGIN, "no keystore password given (use "
		    "--client-storepass-file F)");
	if (pw == NULL)
		goto out;
	if ((b64 = base64_of(ks, len)) == NULL ||
	    (o = json_pack("{s:s,s:s}", "data", b64, "password", pw)) == NULL ||
	    (a->val[O_ALIAS] != NULL &&
	    json_object_set_new(o, "alias", json_string(a->val[O_ALIAS])) == -1)) {
		json_decref(o);
		o = NULL;
		atr_err_set(err, ATR_E_USAGE, "the keystore password and alias must be UTF-8");
	}
out:
	if (ks != NULL)
		atr_wipe(ks, len);
	free(ks);
	if (b64 != NULL)
		atr_wipe(b64, strlen(b64));
	free(b64);
	atr_free_secret(pw);
	return o;
}

/* Sets key in body to v (a new reference, NULL for a failure); -1 on failure. */
static int
put(json_t *body, const char *key, json_t *v)
{
	return v == NULL ? -1 : json_object_set_new(body, key, v);
}

/*
 * The JSON body of add (is_set 0: name and url required) or set (only what
 * is given; the rows of set_opts that undo a choice). NULL with err set.
 */
static json_t *
integration_body(const struct cli_args *a, int is_set, struct atr_err *err)
{
	unsigned char *ca = NULL;
	size_t calen = 0;
	json_t *body = json_object();
	int bad = body == NULL;

#define GIVEN(i) (a->val[(i)] != NULL)
	if (GIVEN(O_CA_FILE) + GIVEN(O_PIN) + (is_set && GIVEN(O_TRUST_STORE)) > 1) {
		atr_err_set(err, ATR_E_USAGE, "choose one trust: --ca-file, --pin%s",
		    is_set ? " or --trust-store" : "");
		goto fail;
	}
	if (is_set && ((GIVEN(O_PROJECT) && GIVEN(O_ALL_PROJECTS)) ||
	    (GIVEN(O_KEYSTORE) && GIVEN(O_NO_KEYSTORE)) ||
	    (GIVEN(O_ALLOW_PLAIN) && GIVEN(O_NO_PLAIN)))) {
		atr_err_set(err, ATR_E_USAGE, "an option and its opposite were both given");
		goto fail;
	}
	if ((GIVEN(O_PASSFILE) || GIVEN(O_ALIAS)) && !GIVEN(O_KEYSTORE)) {
		atr_err_set(err, ATR_E_USAGE, "--client-storepass-file and --client-alias go with "
		    "--client-keystore F");
		goto fail;
	}
	if (!is_set && (!GIVEN(O_URL) || *a->val[O_URL] == '\0')) {
		atr_err_set(err, ATR_E_USAGE, "give the receiver's address with --url URL");
		goto fail;
	}
	if (!is_set)
		bad |= put(body, "name", json_string(a->pos[0]));
	if (GIVEN(O_URL))
		bad |= put(body, "url", json_string(a->val[O_URL]));
	if (GIVEN(O_EVENTS))
		bad |= put(body, "events", events_array(a->val[O_EVENTS]));
	if (GIVEN(O_PROJECT))
		bad |= put(body, "project", json_string(a->val[O_PROJECT]));
	if (is_set && GIVEN(O_ALL_PROJECTS))
		bad |= put(body, "project", json_null());
	if (GIVEN(O_CA_FILE)) {
		if (atr_read_file(a->val[O_CA_FILE], CA_FILE_MAX, &ca, &calen, err) == -1)
			goto fail;
		if (memmem(ca, calen, "-----BEGIN CERTIFICATE-----", 27) == NULL) {
			atr_err_set(err, ATR_E_CERT_INVALID, "%s holds no PEM certificate (for a DER "
			    "file: openssl x509 -inform DER -in FILE -out FILE.pem)", a->val[O_CA_FILE]);
			goto fail;
		}
		bad |= put(body, "ca_pem", json_stringn((const char *)ca, calen));
		if (is_set)
			bad |= put(body, "pin", json_null());
	}
	if (GIVEN(O_PIN)) {
		bad |= put(body, "pin", json_string(a->val[O_PIN]));
		if (is_set)
			bad |= put(body, "ca_pem", json_null());
	}
	if (is_set && GIVEN(O_TRUST_STORE)) {
		bad |= put(body, "ca_pem", json_null());
		bad |= put(body, "pin", json_null());
	}
	if (GIVEN(O_KEYSTORE)) {
		json_t *ks = keystore_object(a, err);

		if (ks == NULL)
			goto fail;
		bad |= put(body, "client_keystore", ks);
	}
	if (is_set && GIVEN(O_NO_KEYSTORE))
		bad |= put(body, "client_keystore", json_null());
	if (GIVEN(O_ALLOW_PLAIN))
		bad |= put(body, "allow_plain", json_true());
	if (is_set && GIVEN(O_NO_PLAIN))
		bad |= put(body, "allow_plain", json_false());
#undef GIVEN
	if (bad) {
		atr_err_set(err, ATR_E_USAGE, "the name, URL, kinds, project and files must be UTF-8");
		goto fail;
	}
	if (is_set && json_object_size(body) == 0) {
		atr_err_set(err, ATR_E_USAGE, "nothing to change: give at least one option");
		goto fail;
	}
	free(ca);
	return body;
fail:
	free(ca);
	json_decref(body);
	return NULL;
}

/*
 * With a keystore whose password may be asked on the terminal, connects
 * first: connection trouble shows before the password is typed.
 */
static int
open_first(struct cli_ctx *c, const struct cli_args *a, struct atr_err *err)
{
	if (a->val[O_KEYSTORE] == NULL || a->val[O_PASSFILE] != NULL)
		return 0;
	return admin_open(c, a->val[O_SERVER], err);
}

static int
add_main(int argc, char **argv)
{
	struct atr_err err;
	struct cli_args a;
	struct cli_ctx c = {0};
	struct cli_reply rep = {0};
	json_t *body = NULL;
	const char *secret;
	int status;

	if (cli_args_get(&add_usage, argc, argv, 1, 1, &a, &status) == -1)
		return status;
	if (open_first(&c, &a, &err) == -1 ||
	    (body = integration_body(&a, 0, &err)) == NULL ||
	    call(&c, a.val[O_SERVER], "POST", API_BASE, body, 201, &rep, &err) == -1) {
		status = fail(&add_usage, &err);
		goto out;
	}
	print_integration(json_object_get(rep.json, "integration"));
	secret = json_string_value(json_object_get(rep.json, "secret"));
	if (secret != NULL) {
		char s[128];

		cli_sanitize(s, sizeof(s), secret);
		printf("\nThe signing secret; it will not be shown again (give it to the receiver "
		    "now;\nrotate-secret makes a new one):\nsecret: %s\n", s);
		atr_wipe(s, sizeof(s));
	}
	status = CLI_OK;
out:
	json_decref(body);
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
	json_t *body = NULL;
	char *path = NULL;
	int status;

	if (cli_args_get(&set_usage, argc, argv, 1, 1, &a, &status) == -1)
		return status;
	if ((path = ipath(a.pos[0], NULL)) == NULL) {
		atr_err_set(&err, ATR_E_NOMEM, NULL);
		goto fail;
	}
	if (open_first(&c, &a, &err) == -1 ||
	    (body = integration_body(&a, 1, &err)) == NULL ||
	    call(&c, a.val[O_SERVER], "PUT", path, body, 200, &rep, &err) == -1)
		goto fail;
	print_integration(json_object_get(rep.json, "integration"));
	status = CLI_OK;
	goto out;
fail:
	status = fail(&set_usage, &err);
out:
	json_decref(body);
	free(path);
	cli_reply_clear(&rep);
	cli_ctx_close(&c);
	return status;
}

/* ---- list, show, log -------------------------------------------------------------- */

static int
list_main(int argc, char **argv)
{
	static const char *const headers[] = {"NAME", "STATE", "PENDING", "PROJECT", "EVENTS",
	    "URL"};
	struct atr_err err;
	struct cli_args a;
	struct cli_ctx c = {0};
	struct cli_reply rep = {0};
	struct cli_table *t = NULL;
	const json_t *list, *in;
	size_t i;
	int status;

	if (cli_args_get(&list_usage, argc, argv, 0, 0, &a, &status) == -1)
		return status;
	if (call(&c, a.val[L_SERVER], "GET", API_BASE, NULL, 200, &rep, &err) == -1) {
		status = fail(&list_usage, &err);
		goto out;
	}
	list = json_object_get(rep.json, "integrations");
	if (!json_is_array(list)) {
		status = cli_failf("the server's answer lists no integrations; is it an Atrium "
		    "admin console?");
		goto out;
	}
	if (a.val[L_JSON] != NULL) {
		status = cli_print_json(rep.json) == 0 ? CLI_OK : CLI_FAIL;
		goto out;
	}
	if (json_array_size(list) == 0) {
		printf("No integrations yet; add one with: atrium admin integrations add NAME "
		    "--url URL\n");
		status = CLI_OK;
		goto out;
	}
	if ((t = cli_table_new(6, headers, 1u << 2)) == NULL)
		goto nomem;
	json_array_foreach(list, i, in) {
		char name[256], st[32], pending[32], project[256], kinds[600], url[2100];
		const char *cells[6];

		kinds_text(json_object_get(in, "events"), kinds, sizeof(kinds));
		str_of(in, "project", project, sizeof(project));
		cells[0] = str_of(in, "name", name, sizeof(name));
		cells[1] = str_of(in, "state", st, sizeof(st));
		cells[2] = int_of(in, "pending", pending, sizeof(pending));
		cells[3] = *project ? project : "-";
		cells[4] = strcmp(kinds, "every kind") == 0 ? "*" : kinds;
		cells[5] = str_of(in, "url", url, sizeof(url));
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
show_main(int argc, char **argv)
{
	struct atr_err err;
	struct cli_args a;
	struct cli_ctx c = {0};
	struct cli_reply rep = {0};
	char *path = NULL;
	int status;

	if (cli_args_get(&show_usage, argc, argv, 1, 1, &a, &status) == -1)
		return status;
	if ((path = ipath(a.pos[0], NULL)) == NULL) {
		atr_err_set(&err, ATR_E_NOMEM, NULL);
		status = cli_fail(&err);
		goto out;
	}
	if (call(&c, a.val[L_SERVER], "GET", path, NULL, 200, &rep, &err) == -1) {
		status = fail(&show_usage, &err);
		goto out;
	}
	if (a.val[L_JSON] != NULL)
		status = cli_print_json(rep.json) == 0 ? CLI_OK : CLI_FAIL;
	else {
		print_integration(json_object_get(rep.json, "integration"));
		status = CLI_OK;
	}
out:
	free(path);
	cli_reply_clear(&rep);
	cli_ctx_close(&c);
	return status;
}

/* The log's query: "?limit=N&before=ID" from the options; -1 on a bad number. */
static int
log_query(const struct cli_args *a, char *q, size_t n)
{
	uint64_t limit = 0, before = 0;

	if (a->val[LG_LIMIT] != NULL && cli_parse_u64(a->val[LG_LIMIT], 1, 1000, &limit) == -1)
		return -1;
	if (a->val[LG_BEFORE] != NULL &&
	    cli_parse_u64(a->val[LG_BEFORE], 1, INT64_MAX, &before) == -1)
		return -1;
	q[0] = '\0';
	if (limit != 0)
		snprintf(q, n, "?limit=%llu", (unsigned long long)limit);
	if (before != 0)
		snprintf(q + strlen(q), n - strlen(q), "%sbefore=%llu", limit != 0 ? "&" : "?",
		    (unsigned long long)before);
	return 0;
}

static int
print_log(const json_t *attempts)
{
	static const char *const headers[] = {"DELIVERY", "SEQ", "EVENT", "TIME", "STATUS",
	    "MS", "OUTCOME", "NEXT ATTEMPT", "ERROR"};
	struct cli_table *t;
	const json_t *at;
	size_t i;

	if ((t = cli_table_new(9, headers, 1u << 0 | 1u << 1 | 1u << 4 | 1u << 5)) == NULL)
		return -1;
	json_array_foreach(attempts, i, at) {
		char id[32], seq[32], ev[64], when[64], st[32], ms[32], out[16], next[64], e[1100];
		const char *cells[9];

		cells[0] = int_of(at, "delivery", id, sizeof(id));
		cells[1] = int_of(at, "seq", seq, sizeof(seq));
		cells[2] = str_of(at, "event", ev, sizeof(ev));
		cells[3] = str_of(at, "time", when, sizeof(when));
		cells[4] = int_of(at, "status", st, sizeof(st));
		cells[5] = int_of(at, "duration_ms", ms, sizeof(ms));
		cells[6] = str_of(at, "outcome", out, sizeof(out));
		str_of(at, "next_attempt", next, sizeof(next));
		cells[7] = *next ? next : "-";
		cells[8] = str_of(at, "error", e, sizeof(e));
		if (cli_table_add(t, cells) == -1) {
			cli_table_free(t);
			return -1;
		}
	}
	cli_table_print(t, stdout);
	cli_table_free(t);
	return 0;
}

static int
log_main(int argc, char **argv)
{
	struct atr_err err;
	struct cli_args a;
	struct cli_ctx c = {0};
	struct cli_reply rep = {0};
	const json_t *attempts;
	char q[64], tail[80], *path = NULL;
	int status;

	if (cli_args_get(&log_usage, argc, argv, 1, 1, &a, &status) == -1)
		return status;
	if (log_query(&a, q, sizeof(q)) == -1)
		return cli_usage_error(&log_usage, "--limit takes 1 to 1000, --before a delivery id");
	snprintf(tail, sizeof(tail), "/log%s", q);
	if ((path = ipath(a.pos[0], tail)) == NULL) {
		atr_err_set(&err, ATR_E_NOMEM, NULL);
		status = cli_fail(&err);
		goto out;
	}
	if (call(&c, a.val[LG_SERVER], "GET", path, NULL, 200, &rep, &err) == -1) {
		status = fail(&log_usage, &err);
		goto out;
	}
	attempts = json_object_get(rep.json, "attempts");
	if (!json_is_array(attempts)) {
		status = cli_failf("the server's answer holds no delivery log");
		goto out;
	}
	if (a.val[LG_JSON] != NULL)
		status = cli_print_json(rep.json) == 0 ? CLI_OK : CLI_FAIL;
	else if (json_array_size(attempts) == 0) {
		printf("No deliveries attempted yet.\n");
		status = CLI_OK;
	} else
		status = print_log(attempts) == 0 ? CLI_OK : cli_failf("out of memory");
out:
	free(path);
	cli_reply_clear(&rep);
	cli_ctx_close(&c);
	return status;
}

/* ---- test, redeliver, pause, resume, remove, rotate-secret ----------------------- */

/*
 * Polls the log until the first attempt of delivery id appears or wait
 * seconds pass; prints it. Returns the exit status: CLI_OK when it was
 * delivered, CLI_FAIL otherwise (and when it has not been attempted yet).
 */
static int
await_attempt(struct cli_ctx *c, const char *server, const char *name, json_int_t id,
    uint64_t wait)
{
	const struct timespec tick = {0, 250 * 1000 * 1000};
	struct atr_err err;
	struct cli_reply rep = {0};
	char *path = ipath(name, "/log?limit=50");
	const json_t *at;
	int status = CLI_FAIL;

	if (path == NULL)
		return cli_failf("out of memory");
	for (uint64_t i = 0; i < wait * 4; i++) {
		const json_t *attempts, *found = NULL;
		size_t k;

		if (call(c, server, "GET", path, NULL, 200, &rep, &err) == -1) {
			status = cli_fail(&err);
			goto out;
		}
		attempts = json_object_get(rep.json, "attempts");
		/* Newest first: the last row of this delivery is its first attempt. */
		json_array_foreach(attempts, k, at)
			if (json_integer_value(json_object_get(at, "delivery")) == id)
				found = at;
		if (found != NULL) {
			const char *outcome = str_or(json_object_get(found, "outcome"), "");
			char st[32], ms[32], e[1100];

			int_of(found, "status", st, sizeof(st));
			int_of(found, "duration_ms", ms, sizeof(ms));
			str_of(found, "error", e, sizeof(e));
			if (strcmp(outcome, "delivered") == 0) {
				printf("Delivered: the receiver answered %s in %s ms.\n", st, ms);
				status = CLI_OK;
			} else {
				fflush(stdout);
				if (strcmp(st, "-") != 0)
					status = cli_failf("the test delivery failed: the receiver "
					    "answered %s: %s", st, *e ? e : outcome);
				else
					status = cli_failf("the test delivery failed: %s",
					    *e ? e : outcome);
				if (strcmp(outcome, "retry") == 0)
					fprintf(stderr, "It will be retried; see atrium admin integrations "
					    "log %s\n", name);
			}
			goto out;
		}
		nanosleep(&tick, NULL);
	}
	/* What holds it up: the newest attempt of a delivery before it. */
	at = json_array_get(json_object_get(rep.json, "attempts"), 0);
	if (at != NULL) {
		char e[1100], next[64];

		str_of(at, "error", e, sizeof(e));
		str_of(at, "next_attempt", next, sizeof(next));
		status = cli_failf("no attempt within %llu s: delivery %lld before it waits%s%s%s%s; "
		    "see atrium admin integrations log %s", (unsigned long long)wait,
		    (long long)json_integer_value(json_object_get(at, "delivery")),
		    *next ? " until " : "", next, *e ? ", after: " : "", e, name);
	} else {
		status = cli_failf("no attempt within %llu s; see atrium admin integrations log %s",
		    (unsigned long long)wait, name);
	}
out:
	free(path);
	cli_reply_clear(&rep);
	return status;
}

static int
test_main(int argc, char **argv)
{
	struct atr_err err;
	struct cli_args a;
	struct cli_ctx c = {0};
	struct cli_reply rep = {0};
	const json_t *in;
	char st[32], *path = NULL;
	uint64_t wait = 30;
	json_int_t id, before;
	int status;

	if (cli_args_get(&test_usage, argc, argv, 1, 1, &a, &status) == -1)
		return status;
	if (a.val[T_WAIT] != NULL && cli_parse_u64(a.val[T_WAIT], 0, 3600, &wait) == -1)
		return cli_usage_error(&test_usage, "--wait takes 0 to 3600 seconds");
	if ((path = ipath(a.pos[0], "/test")) == NULL) {
		atr_err_set(&err, ATR_E_NOMEM, NULL);
		goto fail;
	}
	if (call(&c, a.val[T_SERVER], "POST", path, NULL, 202, &rep, &err) == -1)
		goto fail;
	id = json_integer_value(json_object_get(rep.json, "delivery"));
	printf("Queued an integration.test event for %s as delivery %lld.\n", a.pos[0],
	    (long long)id);
	fflush(stdout);
	if (wait == 0) {
		status = CLI_OK;
		goto out;
	}
	/* Sent in order: a stopped integration sends it on resume, a backlog first. */
	free(path);
	if ((path = ipath(a.pos[0], NULL)) == NULL ||
	    call(&c, a.val[T_SERVER], "GET", path, NULL, 200, &rep, &err) == -1)
		goto fail;
	in = json_object_get(rep.json, "integration");
	if (strcmp(str_of(in, "state", st, sizeof(st)), "active") != 0) {
		status = cli_failf("%s is %s: the test is sent after atrium admin integrations resume "
		    "%s", a.pos[0], st, a.pos[0]);
		goto out;
	}
	before = json_integer_value(json_object_get(in, "pending")) - 1;
	if (before > 0)
		printf("%lld deliver%s before it.\n", (long long)before,
		    before == 1 ? "y waits" : "ies wait");
	fflush(stdout);
	status = await_attempt(&c, a.val[T_SERVER], a.pos[0], id, wait);
	goto out;
fail:
	status = fail(&test_usage, &err);
out:
	free(path);
	cli_reply_clear(&rep);
	cli_ctx_close(&c);
	return status;
}

static int
redeliver_main(int argc, char **argv)
{
	struct atr_err err;
	struct cli_args a;
	struct cli_ctx c = {0};
	struct cli_reply rep = {0};
	char tail[64], *path = NULL;
	uint64_t id;
	int status;

	if (cli_args_get(&redeliver_usage, argc, argv, 2, 2, &a, &status) == -1)
		return status;
	if (cli_parse_u64(a.pos[1], 1, INT64_MAX, &id) == -1)
		return cli_usage_error(&redeliver_usage, "'%s' is not a delivery id (the first "
		    "column of atrium admin integrations log)", a.pos[1]);
	snprintf(tail, sizeof(tail), "/deliveries/%llu/redeliver", (unsigned long long)id);
	if ((path = ipath(a.pos[0], tail)) == NULL) {
		atr_err_set(&err, ATR_E_NOMEM, NULL);
		goto fail;
	}
	if (call(&c, a.val[S_SERVER], "POST", path, NULL, 202, &rep, &err) == -1)
		goto fail;
	if ((uint64_t)json_integer_value(json_object_get(rep.json, "delivery")) == id)
		printf("Queued delivery %llu of %s again.\n", (unsigned long long)id, a.pos[0]);
	else
		printf("Queued delivery %llu of %s again, as delivery %lld.\n",
		    (unsigned long long)id, a.pos[0],
		    (long long)json_integer_value(json_object_get(rep.json, "delivery")));
	status = CLI_OK;
	goto out;
fail:
	status = fail(&redeliver_usage, &err);
out:
	free(path);
	cli_reply_clear(&rep);
	cli_ctx_close(&c);
	return status;
}

/* pause and resume: POST NAME/what, then the state it is in. */
static int
state_change(const struct cli_usage *u, const char *what, int argc, char **argv)
{
	struct atr_err err;
	struct cli_args a;
	struct cli_ctx c = {0};
	struct cli_reply rep = {0};
	const json_t *in;
	char st[32], pending[32], tail[16], *path = NULL;
	int status;

	if (cli_args_get(u, argc, argv, 1, 1, &a, &status) == -1)
		return status;
	snprintf(tail, sizeof(tail), "/%s", what);
	if ((path = ipath(a.pos[0], tail)) == NULL) {
		atr_err_set(&err, ATR_E_NOMEM, NULL);
		goto fail;
	}
	if (call(&c, a.val[S_SERVER], "POST", path, NULL, 200, &rep, &err) == -1)
		goto fail;
	in = json_object_get(rep.json, "integration");
	printf("%s is %s; %s deliver%s waiting.\n", a.pos[0], str_of(in, "state", st, sizeof(st)),
	    int_of(in, "pending", pending, sizeof(pending)),
	    strcmp(pending, "1") == 0 ? "y" : "ies");
	status = CLI_OK;
	goto out;
fail:
	status = fail(u, &err);
out:
	free(path);
	cli_reply_clear(&rep);
	cli_ctx_close(&c);
	return status;
}

static int
pause_main(int argc, char **argv)
{
	return state_change(&pause_usage, "pause", argc, argv);
}

static int
resume_main(int argc, char **argv)
{
	return state_change(&resume_usage, "resume", argc, argv);
}

static int
remove_main(int argc, char **argv)
{
	struct atr_err err;
	struct cli_args a;
	struct cli_ctx c = {0};
	struct cli_reply rep = {0};
	char *path = NULL;
	int status;

	if (cli_args_get(&remove_usage, argc, argv, 1, 1, &a, &status) == -1)
		return status;
	if ((path = ipath(a.pos[0], NULL)) == NULL) {
		atr_err_set(&err, ATR_E_NOMEM, NULL);
		goto fail;
	}
	if (call(&c, a.val[S_SERVER], "DELETE", path, NULL, 204, &rep, &err) == -1)
		goto fail;
	printf("Removed the integration %s, its deliveries waiting and its log.\n", a.pos[0]);
	status = CLI_OK;
	goto out;
fail:
	status = fail(&remove_usage, &err);
out:
	free(path);
	cli_reply_clear(&rep);
	cli_ctx_close(&c);
	return status;
}

static int
rotate_main(int argc, char **argv)
{
	struct atr_err err;
	struct cli_args a;
	struct cli_ctx c = {0};
	struct cli_reply rep = {0};
	char s[128], t[64], *path = NULL;
	json_t *body = NULL;
	uint64_t hours = 24;
	int status;

	if (cli_args_get(&rotate_usage, argc, argv, 1, 1, &a, &status) == -1)
		return status;
	if (a.val[R_OVERLAP] != NULL && cli_parse_u64(a.val[R_OVERLAP], 0, 720, &hours) == -1)
		return cli_usage_error(&rotate_usage, "--overlap-hours takes 0 to 720");
	if ((path = ipath(a.pos[0], "/rotate-secret")) == NULL ||
	    (body = json_pack("{s:I}", "overlap_hours", (json_int_t)hours)) == NULL) {
		atr_err_set(&err, ATR_E_NOMEM, NULL);
		goto fail;
	}
	if (call(&c, a.val[R_SERVER], "POST", path, body, 200, &rep, &err) == -1)
		goto fail;
	cli_sanitize(s, sizeof(s), str_or(json_object_get(rep.json, "secret"), ""));
	cli_format_time(json_string_value(json_object_get(rep.json, "old_secret_valid_until")), t,
	    sizeof(t));
	printf("A new signing secret for %s; it will not be shown again:\nsecret: %s\n",
	    a.pos[0], s);
	if (hours > 0)
		printf("Until %s deliveries carry both signatures, the old secret's and the new "
		    "one's;\nthen only the new one's.\n", t);
	else
		printf("The old secret signs no more: deliveries carry the new signature only.\n");
	atr_wipe(s, sizeof(s));
	status = CLI_OK;
	goto out;
fail:
	status = fail(&rotate_usage, &err);
out:
	json_decref(body);
	free(path);
	cli_reply_clear(&rep);
	cli_ctx_close(&c);
	return status;
}

static const struct cli_sub integrations_subs[] = {
	{"list", list_main, "the integrations, their state and deliveries waiting"},
	{"show", show_main, "one integration"},
	{"add", add_main, "register a receiver (prints its signing secret once)"},
	{"set", set_main, "change an integration's URL, kinds, project, trust, certificate"},
	{"test", test_main, "send an integration.test event and show the outcome"},
	{"log", log_main, "the delivery log: status, duration, error, next attempt"},
	{"redeliver", redeliver_main, "send a past delivery again by its id"},
	{"pause", pause_main, "stop delivering (events keep being queued)"},
	{"resume", resume_main, "deliver again, from the oldest waiting"},
	{"rotate-secret", rotate_main, "a new signing secret; the old one signs too for a while"},
	{"remove", remove_main, "remove an integration with its queue and log"},
	{NULL, NULL, NULL},
};

/* atrium admin integrations: see admin.h. */
int
cmd_admin_integrations(int argc, char **argv)
{
	return cli_dispatch("atrium admin integrations", integrations_subs, argc, argv);
}
