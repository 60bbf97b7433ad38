/*
 * The atrium client's plumbing: option tables, server addresses, the
 * session store, HTTP over libcurl, and output helpers. See client.h.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "atrium/tlsclient.h"
#include "atrium/util.h"
#include "cli/cli.h"
#include "cli/client.h"
#include "cli/progress.h"
#include "version.h"

#define SESSION_FILE "session.json"
#define HEADS_FILE "heads.json"
#define SESSION_MAX (64 * 1024)		/* bytes of session.json, at most */
#define HEADS_MAX (16 * 1024 * 1024)	/* bytes of heads.json, at most */
#define REPLY_MAX (64 * 1024 * 1024)	/* bytes of a JSON answer, at most */
#define CONNECT_TIMEOUT 15		/* seconds to set up a connection */
#define STALL_TIMEOUT 300		/* seconds without a byte moving */
#define XFER_BUFFER (512 * 1024)	/* libcurl's upload/download buffers */
#define PROBE_TIMEOUT 5			/* seconds for a plain-HTTP probe */
#define CERTS_DIR "certs"		/* the trust store's folder, as the reference names it */

/* ---- process set-up ------------------------------------------------ */

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

/* Frees a string made by json_dumps() with jansson's own free. */
static void
json_free_dump(char *s)
{
	json_malloc_t m;
	json_free_t f;

	if (s == NULL)
		return;
	atr_wipe(s, strlen(s));
	json_get_alloc_funcs(&m, &f);
	f(s);
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

/* ---- a growable buffer with a maximum -------------------------------- */

struct buf {
	char *p;	/* NUL-terminated once anything was added */
	size_t len;
	size_t cap;
	size_t max;	/* len never exceeds this */
};

/* Appends n bytes; -1 when max would be passed or memory is short. */
static int
buf_add(struct buf *b, const void *data, size_t n)
{
	if (n > b->max - b->len)
		return -1;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *q;

		while (cap < b->len + n + 1)
			cap *= 2;
		if ((q = malloc(cap)) == NULL)
			return -1;
		/* Copy and wipe rather than realloc: the old block may hold a token. */
		if (b->p != NULL) {
			memcpy(q, b->p, b->len);
			atr_wipe(b->p, b->cap);
			free(b->p);
		}
		b->p = q;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

static int
buf_str(struct buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

static void
buf_free(struct buf *b)
{
	if (b->p != NULL)
		atr_wipe(b->p, b->cap);
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

/* ---- options ---------------------------------------------------------- */

static int
opt_long(const struct cli_opt *opts, const char *name, size_t len)
{
	for (int i = 0; opts[i].name != NULL; i++)
		if (strlen(opts[i].name) == len && strncmp(opts[i].name, name, len) == 0)
			return i;
	return -1;
}

static int
opt_short(const struct cli_opt *opts, char c)
{
	for (int i = 0; opts[i].name != NULL; i++)
		if (opts[i].short_name != 0 && opts[i].short_name == c)
			return i;
	return -1;
}

int
cli_args_parse(const struct cli_opt *opts, int argc, char **argv,
    struct cli_args *out, char *msg, size_t msglen)
{
	int only_pos = 0, bad = 0, nopts = 0;

	memset(out, 0, sizeof(*out));
	msg[0] = '\0';
	while (opts[nopts].name != NULL)
		nopts++;
	if (nopts > CLI_OPTS_MAX) {
		snprintf(msg, msglen, "internal error: too many options");
		return -1;
	}
/* Keeps the first error, and scans on: a later --help still wins. */
#define ARG_FAIL(...)                                                          \
	do {                                                                   \
		if (!bad)                                                      \
			snprintf(msg, msglen, __VA_ARGS__);                    \
		bad = 1;                                                       \
	} while (0)
	for (int i = 1; i < argc; i++) {
		char *a = argv[i];

		if (only_pos || a[0] != '-' || a[1] == '\0') {
			if (out->npos == CLI_POS_MAX)
				ARG_FAIL("too many arguments");
			else
				out->pos[out->npos++] = a;
			continue;
		}
		if (strcmp(a, "--") == 0) {
			only_pos = 1;
			continue;
		}
		if (a[1] == '-') {
			const char *name = a + 2, *eq = strchr(name, '=');
			size_t len = eq != NULL ? (size_t)(eq - name) : strlen(name);
			int k = opt_long(opts, name, len);

			if (k < 0 && eq == NULL && strcmp(name, "help") == 0) {
				out->help = 1;
				continue;
			}
			if (k < 0) {
				ARG_FAIL("unknown option '--%.*s'", (int)len, name);
				continue;
			}
			if (opts[k].arg == NULL) {
				if (eq != NULL)
					ARG_FAIL("option '--%s' takes no value", opts[k].name);
				out->val[k] = "";
			} else if (eq != NULL) {
				out->val[k] = eq + 1;
			} else if (i + 1 < argc) {
				out->val[k] = argv[++i];
			} else {
				ARG_FAIL("option '--%s' needs a value (%s)", opts[k].name,
				    opts[k].arg);
			}
			continue;
		}
		for (const char *c = a + 1; *c != '\0'; c++) {
			int k = opt_short(opts, *c);

			if (k < 0 && *c == 'h') {
				out->help = 1;
				continue;
			}
			if (k < 0) {
				ARG_FAIL("unknown option '-%c'", *c);
				break;
			}
			if (opts[k].arg == NULL) {
				out->val[k] = "";
				continue;
			}
			if (c[1] != '\0')
				out->val[k] = c + 1;
			else if (i + 1 < argc)
				out->val[k] = argv[++i];
			else
				ARG_FAIL("option '-%c' needs a value (%s)", *c, opts[k].arg);
			break;
		}
	}
#undef ARG_FAIL
	if (out->help) {
		msg[0] = '\0';
		return 0;
	}
	return bad ? -1 : 0;
}

/* Prints text from column indent, wrapped before column 79. */
static void
help_wrapped(FILE *out, const char *text, int indent)
{
	int col = indent - 2, width = 79 - indent;
	const char *p = text;

	if (width < 30)
		width = 30;
	while (*p != '\0') {
		int n = (int)strcspn(p, " ");

		if (col > indent - 2 && col + 1 + n > indent + width) {
			fprintf(out, "\n%*s", indent, "");
			col = indent;
		} else {
			fputs(col == indent - 2 ? "  " : " ", out);
			col += col == indent - 2 ? 2 : 1;
		}
		fprintf(out, "%.*s", n, p);
		col += n;
		p += n;
		while (*p == ' ')
			p++;
	}
	fputc('\n', out);
}

void
cli_usage_print(FILE *out, const struct cli_usage *u)
{
	char left[128];
	int w = 0;

	fprintf(out, "Usage: %s %s\n", u->cmd, u->args);
	if (u->about != NULL)
		fprintf(out, "\n%s\n", u->about);
	fprintf(out, "\nOptions:\n");
	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0;; i++) {
			const struct cli_opt *o = &u->opts[i];
			char sh[8] = "    ";
			int n;

			if (o->name == NULL) {
				if (pass == 0)
					break;
				snprintf(left, sizeof(left), "-h, --help");
				fprintf(out, "  %-*s  %s\n", w, left, "show this help and exit");
				break;
			}
			if (o->short_name != 0)
				snprintf(sh, sizeof(sh), "-%c, ", o->short_name);
			n = snprintf(left, sizeof(left), "%s--%s%s%s", sh, o->name,
			    o->arg != NULL ? " " : "", o->arg != NULL ? o->arg : "");
			if (pass == 0) {
				if (n > w)
					w = n;
				continue;
			}
			fprintf(out, "  %-*s", w, left);
			help_wrapped(out, o->help, w + 4);
		}
		if (w > 30)
			w = 30;
	}
}

int
cli_usage_error(const struct cli_usage *u, const char *fmt, ...)
{
	va_list ap;

	fputs("atrium: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nUsage: %s %s\nRun '%s --help' for more.\n", u->cmd, u->args,
	    u->cmd);
	return CLI_USAGE;
}

int
cli_args_get(const struct cli_usage *u, int argc, char **argv, int min_pos,
    int max_pos, struct cli_args *out, int *status)
{
	char msg[256];

	if (cli_args_parse(u->opts, argc, argv, out, msg, sizeof(msg)) == -1) {
		*status = cli_usage_error(u, "%s", msg);
		return -1;
	}
	if (out->help) {
		cli_usage_print(stdout, u);
		*status = CLI_OK;
		return -1;
	}
	if (out->npos < min_pos) {
		*status = cli_usage_error(u, "missing arguments");
		return -1;
	}
	if (out->npos > max_pos) {
		*status = cli_usage_error(u, "unexpected argument '%s'", out->pos[max_pos]);
		return -1;
	}
	return 0;
}

static void
sub_list(FILE *out, const char *cmd, const struct cli_sub *subs)
{
	fprintf(out, "Usage: %s COMMAND [ARGS...]\n\nCommands:\n", cmd);
	for (const struct cli_sub *s = subs; s->name != NULL; s++)
		fprintf(out, "  %-8s  %s\n", s->name, s->summary);
	fprintf(out, "\nRun '%s COMMAND --help' for a command's options.\n", cmd);
}

int
cli_dispatch(const char *cmd, const struct cli_sub *subs, int argc, char **argv)
{
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0)) {
		sub_list(stdout, cmd, subs);
		return CLI_OK;
	}
	if (argc < 2) {
		fprintf(stderr, "atrium: '%s' needs a command\n", cmd);
		sub_list(stderr, cmd, subs);
		return CLI_USAGE;
	}
	for (const struct cli_sub *s = subs; s->name != NULL; s++)
		if (strcmp(argv[1], s->name) == 0)
			return s->run(argc - 1, argv + 1);
	fprintf(stderr, "atrium: unknown command '%s %s'\n", cmd, argv[1]);
	sub_list(stderr, cmd, subs);
	return CLI_USAGE;
}

int
cli_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (s == NULL || *s == '\0' || strlen(s) > 20)
		return -1;
	for (const char *p = s; *p != '\0'; p++) {
		unsigned d;

		if (*p < '0' || *p > '9')
			return -1;
		d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	if (v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* ---- server addresses ---------------------------------------------------- */

/*
 * The client speaks TLS: cli_transport_choose() picks TLS on 10002 unless
 * --plain, https:// URLs are accepted, and http_tls_setup() and
 * http_tls_apply() install the trust store and the verification.
 */
#define CLI_HAVE_TLS 1

void
cli_transport_choose(int plain, int *tls, int *port)
{
	if (plain || !CLI_HAVE_TLS) {
		*tls = 0;
		*port = CLI_PORT_PLAIN;
	} else {
		*tls = 1;
		*port = CLI_PORT_TLS;
	}
}

static int
host_char_ok(int c)
{
	return isalnum(c) || c == '-' || c == '.' || c == '_';
}

static int
ipv6_char_ok(int c)
{
	return isxdigit(c) || c == ':' || c == '.';
}

int
cli_server_url(const char *arg, int plain, char **url, struct atr_err *err)
{
	const char *rest = arg, *host, *port_s = NULL, *sep;
	size_t hlen, rlen;
	int tls, port, ipv6 = 0;
	uint64_t p;
	char hostbuf[256];

	*url = NULL;
	cli_transport_choose(plain, &tls, &port);
	if (strncasecmp(arg, "http://", 7) == 0) {
		rest = arg + 7;
		tls = 0;
		port = CLI_PORT_PLAIN;
	} else if (strncasecmp(arg, "https://", 8) == 0) {
		if (plain)
			return atr_err_set(err, ATR_E_USAGE,
			    "--plain and an https:// address contradict each other");
		if (!CLI_HAVE_TLS)
			return atr_err_set(err, ATR_E_USAGE,
			    "this client cannot make TLS connections yet; use --plain "
			    "(port %d) or an http:// address", CLI_PORT_PLAIN);
		rest = arg + 8;
		tls = 1;
		port = CLI_PORT_TLS;
	} else if (strstr(arg, "://") != NULL) {
		return atr_err_set(err, ATR_E_USAGE,
		    "'%s' is not a server address: only https:// and http:// are understood", arg);
	}
	rlen = strlen(rest);
	if (rlen > 0 && rest[rlen - 1] == '/')
		rlen--;
	if (rlen == 0 || rlen >= sizeof(hostbuf))
		goto bad;
	if (rest[0] == '[') {
		const char *close = memchr(rest, ']', rlen);

		if (close == NULL)
			goto bad;
		host = rest + 1;
		hlen = (size_t)(close - host);
		ipv6 = 1;
		if (close + 1 < rest + rlen) {
			if (close[1] != ':')
				goto bad;
			port_s = close + 2;
		}
	} else {
		const char *c1 = memchr(rest, ':', rlen);

		host = rest;
		if (c1 != NULL && memchr(c1 + 1, ':', rlen - (size_t)(c1 + 1 - rest)) != NULL) {
			/* Two colons or more: a bare IPv6 address, no port. */
			hlen = rlen;
			ipv6 = 1;
		} else if (c1 != NULL) {
			hlen = (size_t)(c1 - rest);
			port_s = c1 + 1;
		} else {
			hlen = rlen;
		}
	}
	if (hlen == 0 || hlen >= sizeof(hostbuf))
		goto bad;
	for (size_t i = 0; i < hlen; i++) {
		int c = (unsigned char)host[i];

		if (ipv6 ? !ipv6_char_ok(c) : !host_char_ok(c))
			goto bad;
		hostbuf[i] = (char)tolower(c);
	}
	hostbuf[hlen] = '\0';
	if (port_s != NULL) {
		char pbuf[16];
		size_t plen = (size_t)(rest + rlen - port_s);

		if (plen == 0 || plen >= sizeof(pbuf))
			goto badport;
		memcpy(pbuf, port_s, plen);
		pbuf[plen] = '\0';
		if (cli_parse_u64(pbuf, 1, 65535, &p) == -1)
			goto badport;
		port = (int)p;
	}
	sep = ipv6 ? "[" : "";
	if (asprintf(url, "%s://%s%s%s:%d", tls ? "https" : "http", sep, hostbuf,
	    ipv6 ? "]" : "", port) == -1) {
		*url = NULL;
		return atr_err_set(err, ATR_E_NOMEM, NULL);
	}
	return 0;
badport:
	return atr_err_set(err, ATR_E_USAGE,
	    "'%s' has a bad port: expected a number from 1 to 65535", arg);
bad:
	return atr_err_set(err, ATR_E_USAGE,
	    "'%s' is not a server address: expected HOST or HOST:PORT", arg);
}

const char *
cli_url_hostport(const char *url)
{
	const char *p = strstr(url, "://");

	return p != NULL ? p + 3 : url;
}

int
cli_url_is_loopback(const char *url)
{
	const char *hp = cli_url_hostport(url);

	return strncmp(hp, "127.", 4) == 0 || strncmp(hp, "[::1]", 5) == 0 ||
	    strncmp(hp, "localhost:", 10) == 0 || strcmp(hp, "localhost") == 0;
}

int
cli_url_host(const char *url, char *host, size_t len)
{
	const char *hp = cli_url_hostport(url), *end;
	size_t n;

	if (hp[0] == '[') {
		hp++;
		end = strchr(hp, ']');
	} else {
		end = strrchr(hp, ':');
	}
	n = end != NULL ? (size_t)(end - hp) : strlen(hp);
	if (n == 0 || n >= len)
		return -1;
	memcpy(host, hp, n);
	host[n] = '\0';
	return 0;
}

char *
cli_pct_encode(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(s);
	char *out, *o;

	if (n > (SIZE_MAX - 1) / 3 || (out = malloc(3 * n + 1)) == NULL)
		return NULL;
	o = out;
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		if (isalnum(*p) || *p == '-' || *p == '.' || *p == '_' || *p == '~') {
			*o++ = (char)*p;
		} else {
			*o++ = '%';
			*o++ = hex[*p >> 4];
			*o++ = hex[*p & 15];
		}
	}
	*o = '\0';
	return out;
}

char *
cli_api_path(const char *seg, ...)
{
	struct buf b = {.max = 1024 * 1024};
	va_list ap;
	int fail = buf_str(&b, "/api/v1");

	va_start(ap, seg);
	for (const char *s = seg; s != NULL && !fail; s = va_arg(ap, const char *)) {
		char *enc = cli_pct_encode(s);

		fail = enc == NULL || buf_str(&b, "/") == -1 || buf_str(&b, enc) == -1;
		free(enc);
	}
	va_end(ap);
	if (fail) {
		buf_free(&b);
		return NULL;
	}
	return b.p;
}

/* ---- the session store ------------------------------------------------------ */

char *
cli_home(struct atr_err *err)
{
	const char *h = getenv("ATRIUM_HOME");
	char *out;

	if (h != NULL && *h != '\0') {
		if ((out = strdup(h)) == NULL)
			atr_err_set(err, ATR_E_NOMEM, NULL);
		return out;
	}
	h = getenv("HOME");
	if (h == NULL || *h == '\0') {
		struct passwd *pw = getpwuid(getuid());

		h = pw != NULL ? pw->pw_dir : NULL;
	}
	if (h == NULL || *h == '\0') {
		atr_err_set(err, ATR_E_CONFIG,
		    "cannot find a home directory; set ATRIUM_HOME");
		return NULL;
	}
	if (asprintf(&out, "%s/.atrium", h) == -1) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		return NULL;
	}
	return out;
}

static char *
home_file(const char *home, const char *name)
{
	char *p;

	return asprintf(&p, "%s/%s", home, name) == -1 ? NULL : p;
}

/* Reads path as a JSON object; ATR_E_NOT_FOUND when it does not exist. */
static json_t *
read_json_file(const char *path, size_t max, struct atr_err *err)
{
	unsigned char *data = NULL;
	size_t len = 0;
	json_error_t jerr;
	json_t *v;

	if (atr_read_file(path, max, &data, &len, err) == -1)
		return NULL;
	v = json_loadb((const char *)data, len, 0, &jerr);
	atr_wipe(data, len);
	free(data);
	if (v == NULL || !json_is_object(v)) {
		json_decref(v);
		atr_err_set(err, ATR_E_CONFIG, "%s is damaged (%s)", path,
		    v == NULL ? jerr.text : "not a JSON object");
		return NULL;
	}
	return v;
}

/* Writes v to path atomically with mode 0600, creating home (0700) first. */
static int
write_json_file(const char *home, const char *path, const json_t *v, struct atr_err *err)
{
	char *s;
	int rc;

	if (atr_mkdirs(home, 0700, err) == -1)
		return -1;
	if ((s = json_dumps(v, JSON_INDENT(2) | JSON_SORT_KEYS)) == NULL)
		return atr_err_set(err, ATR_E_NOMEM, NULL);
	rc = atr_write_file_atomic(path, s, strlen(s), 0600, err);
	json_free_dump(s);
	return rc;
}

static char *
dup_member(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s != NULL ? strdup(s) : NULL;
}

void
cli_session_clear(struct cli_session *s)
{
	if (s == NULL)
		return;
	free(s->server);
	free(s->user);
	free(s->role);
	atr_free_secret(s->token);
	free(s->expires);
	free(s->cert_sha256);
	memset(s, 0, sizeof(*s));
}

int
cli_session_load(const char *home, struct cli_session *s, struct atr_err *err)
{
	char *path = home_file(home, SESSION_FILE);
	json_t *v = NULL;

	memset(s, 0, sizeof(*s));
	if (path == NULL)
		return atr_err_set(err, ATR_E_NOMEM, NULL);
	if ((v = read_json_file(path, SESSION_MAX, err)) == NULL)
		goto fail;
	s->server = dup_member(v, "server");
	s->user = dup_member(v, "user");
	s->token = dup_member(v, "token");
	s->role = dup_member(v, "role");
	s->expires = dup_member(v, "expires");
	s->cert_sha256 = dup_member(v, "certificate_sha256");
	if (s->server == NULL || s->user == NULL || s->token == NULL) {
		atr_err_set(err, ATR_E_CONFIG,
		    "%s is damaged (no server, user or token); log in again", path);
		goto fail;
	}
	json_decref(v);
	free(path);
	return 0;
fail:
	json_decref(v);
	free(path);
	cli_session_clear(s);
	return -1;
}

int
cli_session_save(const char *home, const struct cli_session *s, struct atr_err *err)
{
	char *path = NULL;
	json_t *v = NULL;
	int rc = -1;

	if (s->server == NULL || s->user == NULL || s->token == NULL)
		return atr_err_set(err, ATR_E_INTERNAL, "incomplete session");
	if ((path = home_file(home, SESSION_FILE)) == NULL ||
	    (v = json_object()) == NULL)
		goto nomem;
	if (json_object_set_new(v, "server", json_string(s->server)) == -1 ||
	    json_object_set_new(v, "user", json_string(s->user)) == -1 ||
	    json_object_set_new(v, "token", json_string(s->token)) == -1)
		goto nomem;
	if (s->role != NULL && json_object_set_new(v, "role", json_string(s->role)) == -1)
		goto nomem;
	if (s->expires != NULL &&
	    json_object_set_new(v, "expires", json_string(s->expires)) == -1)
		goto nomem;
	if (s->cert_sha256 != NULL &&
	    json_object_set_new(v, "certificate_sha256", json_string(s->cert_sha256)) == -1)
		goto nomem;
	rc = write_json_file(home, path, v, err);
	goto out;
nomem:
	atr_err_set(err, ATR_E_NOMEM, NULL);
out:
	json_decref(v);
	free(path);
	return rc;
}

int
cli_session_remove(const char *home, struct atr_err *err)
{
	char *path = home_file(home, SESSION_FILE);

	if (path == NULL)
		return atr_err_set(err, ATR_E_NOMEM, NULL);
	if (unlink(path) == -1 && errno != ENOENT) {
		atr_err_set(err, ATR_E_IO, "cannot remove %s: %s", path, strerror(errno));
		free(path);
		return -1;
	}
	free(path);
	return 0;
}

int
cli_heads_get(const char *home, const char *server, const char *project,
    uint64_t *rev)
{
	struct atr_err err;
	char *path = home_file(home, HEADS_FILE);
	json_t *v = NULL, *n;
	int rc = -1;

	if (path == NULL || (v = read_json_file(path, HEADS_MAX, &err)) == NULL)
		goto out;
	n = json_object_get(json_object_get(v, server), project);
	if (json_is_integer(n) && json_integer_value(n) >= 0) {
		*rev = (uint64_t)json_integer_value(n);
		rc = 0;
	}
out:
	json_decref(v);
	free(path);
	return rc;
}

/* Loads heads.json (an empty object when missing or damaged) and its server's object. */
static json_t *
heads_load(const char *path, const char *server, json_t **srv)
{
	struct atr_err err;
	json_t *v = read_json_file(path, HEADS_MAX, &err);

	if (v == NULL && (v = json_object()) == NULL)
		return NULL;
	*srv = json_object_get(v, server);
	if (!json_is_object(*srv)) {
		if (json_object_set_new(v, server, json_object()) == -1) {
			json_decref(v);
			return NULL;
		}
		*srv = json_object_get(v, server);
	}
	return v;
}

int
cli_heads_set(const char *home, const char *server, const char *project,
    uint64_t rev, int only_raise, struct atr_err *err)
{
	char *path = home_file(home, HEADS_FILE);
	json_t *v = NULL, *srv = NULL, *old;
	int rc = -1;

	if (path == NULL || (v = heads_load(path, server, &srv)) == NULL) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		goto out;
	}
	old = json_object_get(srv, project);
	if (only_raise && json_is_integer(old) && json_integer_value(old) >= 0 &&
	    (uint64_t)json_integer_value(old) >= rev) {
		rc = 0;
		goto out;
	}
	if (json_object_set_new(srv, project, json_integer((json_int_t)rev)) == -1) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		goto out;
	}
	rc = write_json_file(home, path, v, err);
out:
	json_decref(v);
	free(path);
	return rc;
}

int
cli_heads_forget(const char *home, const char *server, const char *project,
    struct atr_err *err)
{
	char *path = home_file(home, HEADS_FILE);
	json_t *v = NULL, *srv = NULL;
	int rc = -1;

	if (path == NULL || (v = heads_load(path, server, &srv)) == NULL) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		goto out;
	}
	rc = 0;
	if (json_object_get(srv, project) != NULL) {
		json_object_del(srv, project);
		rc = write_json_file(home, path, v, err);
	}
out:
	json_decref(v);
	free(path);
	return rc;
}

/* ---- HTTP ----------------------------------------------------------------- */

struct cli_http {
	CURL *curl;			/* one handle: its connection is reused */
	char *server;			/* "http://host:port" */
	char *auth;			/* "Authorization: Bearer ..." or NULL; secret */
	int tls;			/* the server URL is https:// */
	char known_sha256[100];		/* the certificate trusted at login, or "" */
	struct atr_trust *trust;	/* TLS: the roots trusted */
	struct atr_tlsc *tlsc;		/* TLS: checks the server's chain in the handshake */
	struct atr_err tls_err;		/* TLS: why setting up a handshake failed */
	char errbuf[CURL_ERROR_SIZE];	/* libcurl's detail on the last failure */
};

/* One request's state, shared by libcurl's callbacks. */
struct xfer {
	struct cli_http *h;
	struct buf body;		/* the JSON answer (or a download's error answer) */
	int in_fd;			/* upload: the file; -1 otherwise */
	uint64_t in_size;		/* upload: bytes to send */
	uint64_t in_done;		/* upload: bytes read so far */
	int out_fd;			/* download: the file; -1 otherwise */
	uint64_t out_done;		/* download: bytes written */
	int to_file;			/* download: the answer is 200, its body goes to out_fd */
	int status_known;		/* download: to_file has been decided */
	EVP_MD_CTX *md;			/* SHA-256 of the bytes sent or written */
	struct cli_progress *pg;	/* may be NULL */
	char etag[72];			/* the answer's ETag, without quotes */
	int io_errno;			/* a read or write of the file failed with this */
	int in_short;			/* the file ended before in_size bytes */
	int too_big;			/* the JSON answer passed REPLY_MAX */
};

static volatile sig_atomic_t interrupted;

static void
on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* Ctrl-C, hang-up and TERM during a transfer abort it cleanly (no half files). */
struct sigsave {
	struct sigaction old[3];
};
static const int xfer_signals[3] = {SIGINT, SIGTERM, SIGHUP};

static void
signals_catch(struct sigsave *s)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	interrupted = 0;
	for (int i = 0; i < 3; i++)
		sigaction(xfer_signals[i], &sa, &s->old[i]);
}

static void
signals_restore(struct sigsave *s)
{
	for (int i = 0; i < 3; i++)
		sigaction(xfer_signals[i], &s->old[i], NULL);
}

static size_t
on_header(char *data, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	size_t len = size * n, i = 5, j;

	if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
		x->etag[0] = '\0'; /* a new answer (after 100 Continue) */
		return len;
	}
	if (len < 5 || strncasecmp(data, "etag:", 5) != 0)
		return len;
	/* Only a strong ETag is a SHA-256; a weak one (W/"...") says nothing. */
	while (i < len && (data[i] == ' ' || data[i] == '\t'))
		i++;
	if (i + 1 < len && data[i] == 'W' && data[i + 1] == '/')
		return len;
	while (i < len && (data[i] == ' ' || data[i] == '\t' || data[i] == '"'))
		i++;
	for (j = 0; i < len && j + 1 < sizeof(x->etag); i++) {
		if (data[i] == '"' || data[i] == '\r' || data[i] == '\n')
			break;
		x->etag[j++] = data[i];
	}
	x->etag[j] = '\0';
	return len;
}

static size_t
on_write(char *data, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	size_t len = size * n;

	if (x->out_fd != -1 && !x->status_known) {
		long code = 0;

		curl_easy_getinfo(x->h->curl, CURLINFO_RESPONSE_CODE, &code);
		x->to_file = code == 200;
		x->status_known = 1;
	}
	if (x->to_file) {
		const char *p = data;
		size_t left = len;

		while (left > 0) {
			ssize_t w = write(x->out_fd, p, left);

			if (w == -1 && errno == EINTR && !interrupted)
				continue;
			if (w == -1) {
				x->io_errno = errno;
				return 0;
			}
			p += w;
			left -= (size_t)w;
		}
		if (EVP_DigestUpdate(x->md, data, len) != 1) {
			x->io_errno = ENOMEM;
			return 0;
		}
		x->out_done += len;
		return len;
	}
	if (buf_add(&x->body, data, len) == -1) {
		x->too_big = 1;
		return 0;
	}
	return len;
}

static size_t
on_read(char *data, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	size_t want = size * n;

	if (x->in_done >= x->in_size)
		return 0;
	if (want > x->in_size - x->in_done)
		want = (size_t)(x->in_size - x->in_done);
	for (;;) {
		ssize_t r = read(x->in_fd, data, want);

		if (r == -1 && errno == EINTR && !interrupted)
			continue;
		if (r == -1) {
			x->io_errno = errno;
			return CURL_READFUNC_ABORT;
		}
		if (r == 0) {
			x->in_short = 1;
			return CURL_READFUNC_ABORT;
		}
		if (EVP_DigestUpdate(x->md, data, (size_t)r) != 1) {
			x->io_errno = ENOMEM;
			return CURL_READFUNC_ABORT;
		}
		x->in_done += (uint64_t)r;
		return (size_t)r;
	}
}

/* libcurl rewinds an upload only to its start (to resend it). */
static int
on_seek(void *arg, curl_off_t offset, int origin)
{
	struct xfer *x = arg;

	if (offset != 0 || origin != SEEK_SET)
		return CURL_SEEKFUNC_CANTSEEK;
	if (lseek(x->in_fd, -(off_t)x->in_done, SEEK_CUR) == -1 ||
	    EVP_DigestInit_ex(x->md, EVP_sha256(), NULL) != 1)
		return CURL_SEEKFUNC_FAIL;
	x->in_done = 0;
	return CURL_SEEKFUNC_OK;
}

static int
on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
    curl_off_t ulnow)
{
	struct xfer *x = arg;

	(void)dltotal;
	(void)ultotal;
	if (interrupted)
		return 1;
	if (x->pg != NULL)
		cli_progress_update(x->pg, (uint64_t)(x->in_fd != -1 ? ulnow : dlnow));
	return 0;
}

char *
cli_exe_certs_dir(void)
{
	char exe[4096], *slash, *out;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n <= 0)
		return NULL;
	exe[n] = '\0';
	if ((slash = strrchr(exe, '/')) == NULL)
		return NULL;
	*slash = '\0';
	return asprintf(&out, "%s/" CERTS_DIR, exe) == -1 ? NULL : out;
}

char *
cli_certs_dir(const char *home)
{
	char *out;

	return asprintf(&out, "%s/" CERTS_DIR, home) == -1 ? NULL : out;
}

struct atr_trust *
cli_trust_load(const char *home, struct atr_err *err)
{
	struct atr_trust *t = atr_trust_new();
	char *dir = NULL;

	if (t == NULL)
		goto nomem;
	atr_trust_add_system(t);
	if ((dir = cli_certs_dir(home)) == NULL)
		goto nomem;
	if (atr_trust_add_dir(t, dir, err) == -1)
		goto fail;
	free(dir);
	/* Beside the executable, as the reference clients keep it (optional). */
	if ((dir = cli_exe_certs_dir()) != NULL && atr_trust_add_dir(t, dir, err) == -1)
		goto fail;
	free(dir);
	return t;
nomem:
	atr_err_set(err, ATR_E_NOMEM, NULL);
fail:
	free(dir);
	atr_trust_free(t);
	return NULL;
}

/*
 * Builds the trust for an https:// server: the system's roots, the
 * client's certs folder in $ATRIUM_HOME and the one beside the executable.
 * A trust store that cannot be read fails the connection, loudly.
 */
static int
http_tls_setup(struct cli_http *h, struct atr_err *err)
{
	curl_version_info_data *vi = curl_version_info(CURLVERSION_NOW);
	char host[256], *home;

	if (!h->tls)
		return 0;
	/* The verification hooks into OpenSSL's SSL_CTX: libcurl must use OpenSSL. */
	if (vi == NULL || vi->ssl_version == NULL || strncmp(vi->ssl_version, "OpenSSL", 7) != 0)
		return atr_err_set(err, ATR_E_TLS,
		    "this libcurl uses %s, not OpenSSL; install libcurl4-openssl",
		    vi != NULL && vi->ssl_version != NULL ? vi->ssl_version : "no TLS library");
	if (cli_url_host(h->server, host, sizeof(host)) == -1)
		return atr_err_set(err, ATR_E_USAGE, "'%s' has no host", h->server);
	if ((home = cli_home(err)) == NULL)
		return -1;
	h->trust = cli_trust_load(home, err);
	free(home);
	if (h->trust == NULL)
		return -1;
	if ((h->tlsc = atr_tlsc_new(h->trust, host, err)) == NULL)
		return -1;
	return 0;
}

/* libcurl's hook into each new TLS connection's SSL_CTX. */
static CURLcode
on_ssl_ctx(CURL *curl, void *ssl_ctx, void *arg)
{
	struct cli_http *h = arg;

	(void)curl;
	return atr_tlsc_setup(h->tlsc, ssl_ctx, &h->tls_err) == 0 ? CURLE_OK :
	    CURLE_SSL_CERTPROBLEM;
}

/*
 * The TLS options of every request (curl_easy_reset() clears them): peer
 * and host verification on, TLS 1.2 or newer, and our own check of the
 * chain in the handshake. libcurl's CA bundle is not read: the trust is
 * ours.
 */
static void
http_tls_apply(struct cli_http *h)
{
	CURL *c = h->curl;

	atr_err_clear(&h->tls_err);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(c, CURLOPT_CAINFO, NULL);
	curl_easy_setopt(c, CURLOPT_CAPATH, NULL);
	curl_easy_setopt(c, CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx);
	curl_easy_setopt(c, CURLOPT_SSL_CTX_DATA, h);
}

/* Discards a probe's body (up to a limit). */
static size_t
on_probe_write(char *data, size_t size, size_t n, void *arg)
{
	size_t *total = arg;

	(void)data;
	*total += size * n;
	return *total > 64 * 1024 ? 0 : size * n;
}

int
cli_probe_plain(const char *hostport)
{
	CURL *c = curl_easy_init();
	char *url = NULL;
	size_t total = 0;
	long status = 0;

	if (c == NULL || asprintf(&url, "http://%s/healthz", hostport) == -1) {
		url = NULL;
		goto out;
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http");
	curl_easy_setopt(c, CURLOPT_USERAGENT, "atrium/" ATRIUM_VERSION);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)PROBE_TIMEOUT);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)PROBE_TIMEOUT);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_probe_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &total);
	curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
out:
	free(url);
	if (c != NULL)
		curl_easy_cleanup(c);
	return status > 0 ? 1 : 0;
}

void
cli_http_set_known(struct cli_http *h, const char *sha256)
{
	snprintf(h->known_sha256, sizeof(h->known_sha256), "%s", sha256 != NULL ? sha256 : "");
}

const char *
cli_http_cert_sha256(const struct cli_http *h)
{
	const struct atr_tls_verdict *v = h->tls ? atr_tlsc_verdict(h->tlsc) : NULL;

	return v != NULL && v->problems == 0 ? v->leaf.sha256 : NULL;
}

struct cli_http *
cli_http_new(const char *server, struct atr_err *err)
{
	struct cli_http *h;

	if ((h = calloc(1, sizeof(*h))) == NULL ||
	    (h->server = strdup(server)) == NULL || (h->curl = curl_easy_init()) == NULL) {
		atr_err_set(err, ATR_E_NOMEM, "cannot set up HTTP (out of memory)");
		goto fail;
	}
	h->tls = strncmp(server, "https://", 8) == 0;
	if (http_tls_setup(h, err) == -1)
		goto fail;
	return h;
fail:
	cli_http_free(h);
	return NULL;
}

void
cli_http_free(struct cli_http *h)
{
	if (h == NULL)
		return;
	if (h->curl != NULL)
		curl_easy_cleanup(h->curl);
	atr_tlsc_free(h->tlsc);
	atr_trust_free(h->trust);
	free(h->server);
	atr_free_secret(h->auth);
	free(h);
}

const char *
cli_http_server(const struct cli_http *h)
{
	return h->server;
}

int
cli_http_set_token(struct cli_http *h, const char *token, struct atr_err *err)
{
	char *a;

	for (const char *p = token; *p != '\0'; p++)
		if (!isgraph((unsigned char)*p))
			return atr_err_set(err, ATR_E_CONFIG,
			    "the session's token is damaged; log in again");
	if (*token == '\0' || asprintf(&a, "Authorization: Bearer %s", token) == -1)
		return atr_err_set(err, ATR_E_CONFIG,
		    "the session's token is damaged; log in again");
	atr_free_secret(h->auth);
	h->auth = a;
	return 0;
}

void
cli_reply_clear(struct cli_reply *rep)
{
	json_decref(rep->json);
	rep->json = NULL;
	rep->status = 0;
}

/* Only for an error body without "code" (an older server, a proxy): the
 * code guessed from the status. */
static enum atr_errcode
status_code(long status)
{
	switch (status) {
	case 400: return ATR_E_BAD_REQUEST;
	case 401: return ATR_E_UNAUTHORIZED;
	case 403: return ATR_E_FORBIDDEN;
	case 404: return ATR_E_NOT_FOUND;
	case 409: return ATR_E_CONFLICT;
	case 413: return ATR_E_TOO_LARGE;
	case 416: return ATR_E_RANGE;
	case 429: return ATR_E_RATE_LIMITED;
	case 431: return ATR_E_HEADERS_TOO_LARGE;
	case 503: return ATR_E_UNAVAILABLE;
	default: return ATR_E_INTERNAL;
	}
}

int
cli_reply_error(const struct cli_http *h, const struct cli_reply *rep,
    struct atr_err *err)
{
	const char *msg = json_string_value(json_object_get(rep->json, "error"));
	const char *name = json_string_value(json_object_get(rep->json, "code"));
	const char *phrase = atr_http_reason((int)rep->status);
	enum atr_errcode code;
	char clean[ATR_ERR_MSG_MAX];
	int tls, port;

	/* A code the table does not know (a newer server) is a failure all the
	 * same: the status says which kind. */
	if (atr_errcode_from_name(name, &code) == -1 || code == ATR_E_OK)
		code = status_code(rep->status);

	if (rep->status == 401 && h->auth != NULL) {
		/* The login hint must say --plain once TLS is the default. */
		cli_transport_choose(0, &tls, &port);
		return atr_err_set(err, ATR_E_UNAUTHORIZED,
		    "your session has expired; run atrium login %s%s",
		    !h->tls && tls ? "--plain " : "", cli_url_hostport(h->server));
	}
	if (msg != NULL && *msg != '\0') {
		cli_sanitize(clean, sizeof(clean), msg);
		return atr_err_set(err, code, "%s", clean);
	}
	return atr_err_set(err, code,
	    "%s answered %ld %s without saying why; is it an Atrium server?",
	    cli_url_hostport(h->server), rep->status, phrase != NULL ? phrase : "");
}

/* Whether a trusted anchor was added for hostport by atrium certs trust. */
static int
trusted_for(const struct atr_trust *t, const char *hostport)
{
	const char *from;
	char tail[300];
	size_t tl, fl;

	snprintf(tail, sizeof(tail), "(alias %s)", hostport);
	tl = strlen(tail);
	for (size_t i = 0; atr_trust_anchor(t, i, &from) != NULL; i++) {
		fl = strlen(from);
		if (fl >= tl && strcmp(from + fl - tl, tail) == 0)
			return 1;
	}
	return 0;
}

/*
 * The sentence for a TLS connection that failed: the verdict of the
 * certificate check when there was one; a plain-HTTP server on the port;
 * else the handshake's own error. Returns 0 when the failure is not about
 * TLS, -1 with err set otherwise.
 */
static int
tls_error(struct cli_http *h, CURLcode rc, struct atr_err *err)
{
	const struct atr_tls_verdict *v = atr_tlsc_verdict(h->tlsc);
	const char *hp = cli_url_hostport(h->server);
	char msg[ATR_ERR_MSG_MAX];
	enum atr_errcode code;
	unsigned flags = 0;

	if (h->tls_err.code != ATR_E_OK) {
		*err = h->tls_err;
		return -1;
	}
	if (v != NULL && v->problems != 0) {
		if ((v->problems & ATR_TLSV_UNTRUSTED) &&
		    ((h->known_sha256[0] != '\0' && strcmp(h->known_sha256, v->leaf.sha256) != 0) ||
		    trusted_for(h->trust, hp)))
			flags |= ATR_TLSV_KNOWN;
		code = atr_tls_verdict_explain(v, hp, flags, msg, sizeof(msg));
		return atr_err_set(err, code, "%s", msg);
	}
	if (v != NULL)
		return 0; /* the certificate was fine; the failure came later */
	switch (rc) {
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PEER_FAILED_VERIFICATION:
		if (cli_probe_plain(hp) == 1)
			return atr_err_set(err, ATR_E_TLS,
			    "%s speaks plain HTTP, not TLS: use --plain (atrium login --plain %s), "
			    "or the server's TLS port (%d unless its administrator changed it)",
			    hp, hp, CLI_PORT_TLS);
		if (rc == CURLE_SSL_CONNECT_ERROR || rc == CURLE_PEER_FAILED_VERIFICATION)
			return atr_err_set(err, ATR_E_TLS,
			    "the secure connection to %s failed: %s; is it an Atrium server's TLS "
			    "port?", hp, h->errbuf[0] != '\0' ? h->errbuf : curl_easy_strerror(rc));
		return 0;
	default:
		return 0;
	}
}

/* A sentence for a transfer that got no complete answer. */
static int
net_error(struct cli_http *h, struct xfer *x, CURLcode rc, struct atr_err *err)
{
	const char *hp = cli_url_hostport(h->server);
	long oserr = 0;
	char why[256];

	curl_easy_getinfo(h->curl, CURLINFO_OS_ERRNO, &oserr);
	if (rc == CURLE_ABORTED_BY_CALLBACK || interrupted)
		return atr_err_set(err, ATR_E_NETWORK, "interrupted");
	if (x->io_errno != 0)
		return atr_err_set(err, ATR_E_IO, "%s the file failed: %s",
		    x->in_fd != -1 ? "reading" : "writing", strerror(x->io_errno));
	if (x->in_short)
		return atr_err_set(err, ATR_E_IO,
		    "the file became shorter while it was being sent; nothing was committed");
	if (x->too_big)
		return atr_err_set(err, ATR_E_TOO_LARGE,
		    "the server's answer is larger than %d MiB", REPLY_MAX / (1024 * 1024));
	if (h->tls && tls_error(h, rc, err) == -1)
		return -1;
	snprintf(why, sizeof(why), "%s", oserr != 0 ? strerror((int)oserr) : "");
	why[0] = (char)tolower((unsigned char)why[0]);
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
		return atr_err_set(err, ATR_E_NETWORK,
		    "cannot connect to %s: the host name is unknown", hp);
	case CURLE_COULDNT_CONNECT:
		if (oserr == ECONNREFUSED)
			return atr_err_set(err, ATR_E_NETWORK,
			    "cannot connect to %s: connection refused; is atriumd running?", hp);
		return atr_err_set(err, ATR_E_NETWORK, "cannot connect to %s: %s", hp,
		    why[0] != '\0' ? why : h->errbuf);
	case CURLE_OPERATION_TIMEDOUT:
		return atr_err_set(err, ATR_E_NETWORK,
		    "%s did not answer in time (%s)", hp, h->errbuf);
	case CURLE_GOT_NOTHING:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_PARTIAL_FILE:
		return atr_err_set(err, ATR_E_NETWORK,
		    "the connection to %s broke off%s%s", hp, why[0] != '\0' ? ": " : "", why);
	default:
		return atr_err_set(err, ATR_E_NETWORK, "talking to %s failed: %s", hp,
		    h->errbuf[0] != '\0' ? h->errbuf : curl_easy_strerror(rc));
	}
}

/*
 * Wipes the Authorization line's copy in the list before freeing it:
 * curl_slist_append() copies strings, and one of them holds the token.
 */
static void
headers_free(struct curl_slist *l)
{
	for (struct curl_slist *p = l; p != NULL; p = p->next)
		atr_wipe(p->data, strlen(p->data));
	curl_slist_free_all(l);
}

static int
headers_add(struct curl_slist **l, const char *line)
{
	struct curl_slist *n = curl_slist_append(*l, line);

	if (n == NULL)
		return -1;
	*l = n;
	return 0;
}

/*
 * One request. body/bodylen is a JSON body (or NULL); x->in_fd an upload
 * instead; x->out_fd a download. Fills rep and returns 0 when an answer
 * arrived, whatever its status; -1 with err when none did.
 */
static int
perform(struct cli_http *h, const char *method, const char *path, const char *body,
    size_t bodylen, struct xfer *x, struct cli_reply *rep, struct atr_err *err)
{
	struct curl_slist *hdr = NULL;
	char *url = NULL;
	CURL *c = h->curl;
	CURLcode rc;
	int ret = -1;

	memset(rep, 0, sizeof(*rep));
	x->h = h;
	x->body.max = REPLY_MAX;
	if (asprintf(&url, "%s%s", h->server, path) == -1) {
		url = NULL;
		goto nomem;
	}
	curl_easy_reset(c);
	h->errbuf[0] = '\0';
	if (headers_add(&hdr, x->out_fd != -1 ? "Accept: */*" : "Accept: application/json") == -1 ||
	    (h->auth != NULL && headers_add(&hdr, h->auth) == -1))
		goto nomem;
	if (body != NULL && headers_add(&hdr, "Content-Type: application/json") == -1)
		goto nomem;
	if (x->in_fd != -1 && headers_add(&hdr, "Content-Type: application/octet-stream") == -1)
		goto nomem;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->errbuf);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "atrium/" ATRIUM_VERSION);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)CONNECT_TIMEOUT);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long)STALL_TIMEOUT);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, x);
	curl_easy_setopt(c, CURLOPT_BUFFERSIZE, (long)XFER_BUFFER);
	if (h->tls)
		http_tls_apply(h);
	if (x->in_fd != -1) {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->in_size);
		curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(c, CURLOPT_READDATA, x);
		curl_easy_setopt(c, CURLOPT_SEEKFUNCTION, on_seek);
		curl_easy_setopt(c, CURLOPT_SEEKDATA, x);
		curl_easy_setopt(c, CURLOPT_UPLOAD_BUFFERSIZE, (long)XFER_BUFFER);
	} else if (body != NULL) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)bodylen);
	} else if (strcmp(method, "POST") == 0) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
	}
	/* POST and GET follow from the above; PUT and DELETE are named. */
	if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0)
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);

	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &rep->status);
	/* atriumd answers a plain request on its TLS port so, in plain text. */
	if (!h->tls && rep->status == 400 && x->body.p != NULL &&
	    strstr(x->body.p, "port of the Atrium server speaks TLS") != NULL) {
		const char *hp = cli_url_hostport(h->server);

		atr_err_set(err, ATR_E_TLS,
		    "%s speaks TLS, not plain HTTP: leave out --plain (atrium login %s)", hp, hp);
		rep->status = 0;
		goto out;
	}
	/*
	 * A server may answer an upload early (409, 413) and close: the send
	 * then fails, yet the answer is what the user must see.
	 */
	if (rc != CURLE_OK && !(rep->status >= 400 && x->body.len > 0 && !x->too_big &&
	    (rc == CURLE_SEND_ERROR || rc == CURLE_RECV_ERROR))) {
		net_error(h, x, rc, err);
		rep->status = 0;
		goto out;
	}
	if (x->body.len > 0) {
		json_error_t jerr;

		rep->json = json_loadb(x->body.p, x->body.len, 0, &jerr);
		if (rep->json == NULL && rep->status >= 200 && rep->status < 300) {
			atr_err_set(err, ATR_E_NETWORK,
			    "the server's answer is not valid JSON (%s); is %s an Atrium server?",
			    jerr.text, cli_url_hostport(h->server));
			goto out;
		}
	}
	ret = 0;
	goto out;
nomem:
	atr_err_set(err, ATR_E_NOMEM, NULL);
out:
	headers_free(hdr);
	free(url);
	buf_free(&x->body);
	return ret;
}

/* Returns 0 when rep has the expected status, else -1 with err set. */
static int
expect_status(struct cli_http *h, struct cli_reply *rep, long expect, struct atr_err *err)
{
	if (rep->status == expect)
		return 0;
	if (rep->status >= 200 && rep->status < 300)
		return atr_err_set(err, ATR_E_NETWORK,
		    "the server answered %ld where %ld was expected; is it a newer version?",
		    rep->status, expect);
	return cli_reply_error(h, rep, err);
}

int
cli_http_call(struct cli_http *h, const char *method, const char *path,
    json_t *body, long expect, struct cli_reply *rep, struct atr_err *err)
{
	struct xfer x = {.in_fd = -1, .out_fd = -1};
	char *s = NULL;
	int rc;

	if (body != NULL && (s = json_dumps(body, JSON_COMPACT)) == NULL) {
		memset(rep, 0, sizeof(*rep));
		return atr_err_set(err, ATR_E_NOMEM, NULL);
	}
	rc = perform(h, method, path, s, s != NULL ? strlen(s) : 0, &x, rep, err);
	json_free_dump(s);
	if (rc == -1)
		return -1;
	return expect_status(h, rep, expect, err);
}

static void
digest_hex(EVP_MD_CTX *md, char out[65])
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (EVP_DigestFinal_ex(md, d, &n) != 1 || n != 32) {
		out[0] = '\0';
		return;
	}
	atr_hex(d, 32, out);
}

int
cli_http_upload(struct cli_http *h, const char *path, int fd, uint64_t size,
    struct cli_progress *pg, char sha256[65], long expect, struct cli_reply *rep,
    struct atr_err *err)
{
	struct xfer x = {.in_fd = fd, .in_size = size, .out_fd = -1, .pg = pg};
	struct sigsave ss;
	int rc;

	memset(rep, 0, sizeof(*rep));
	sha256[0] = '\0';
	if ((x.md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(x.md, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(x.md);
		return atr_err_set(err, ATR_E_NOMEM, NULL);
	}
	signals_catch(&ss);
	rc = perform(h, "POST", path, NULL, 0, &x, rep, err);
	signals_restore(&ss);
	if (rc == 0 && x.in_done == size)
		digest_hex(x.md, sha256);
	EVP_MD_CTX_free(x.md);
	if (rc == -1)
		return -1;
	return expect_status(h, rep, expect, err);
}

int
cli_http_download(struct cli_http *h, const char *path, int fd,
    struct cli_progress *pg, struct cli_download *dl, struct cli_reply *rep,
    struct atr_err *err)
{
	struct xfer x = {.in_fd = -1, .out_fd = fd, .pg = pg};
	struct sigsave ss;
	int rc;

	memset(rep, 0, sizeof(*rep));
	memset(dl, 0, sizeof(*dl));
	if ((x.md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(x.md, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(x.md);
		return atr_err_set(err, ATR_E_NOMEM, NULL);
	}
	signals_catch(&ss);
	rc = perform(h, "GET", path, NULL, 0, &x, rep, err);
	signals_restore(&ss);
	dl->bytes = x.out_done;
	digest_hex(x.md, dl->sha256);
	snprintf(dl->etag, sizeof(dl->etag), "%s", x.etag);
	EVP_MD_CTX_free(x.md);
	if (rc == -1)
		return -1;
	return expect_status(h, rep, 200, err);
}

/* ---- a command's connection ---------------------------------------------- */

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

/* ---- output ----------------------------------------------------------------- */

int
cli_fail(const struct atr_err *err)
{
	int exitc = atr_errcode_exit(err->code);

	fprintf(stderr, "atrium: %s\n", atr_err_msg(err));
	/* The table's exit column; a failure never exits 0. */
	return exitc != 0 ? exitc : CLI_FAIL;
}

int
cli_failf(const char *fmt, ...)
{
	va_list ap;

	fputs("atrium: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return CLI_FAIL;
}

void
cli_sanitize(char *dst, size_t n, const char *src)
{
	size_t i;

	if (n == 0)
		return;
	for (i = 0; i + 1 < n && src[i] != '\0'; i++) {
		unsigned char c = (unsigned char)src[i];

		dst[i] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
	}
	dst[i] = '\0';
}

void
cli_format_time(const char *in, char *out, size_t n)
{
	struct tm tm, lt;
	const char *p;
	long off = 0;
	time_t t;

	memset(&tm, 0, sizeof(tm));
	if (in == NULL) {
		snprintf(out, n, "-");
		return;
	}
	if ((p = strptime(in, "%Y-%m-%dT%H:%M:%S", &tm)) == NULL)
		goto raw;
	if (*p == '.')
		for (p++; isdigit((unsigned char)*p); p++)
			;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if ((*p == '+' || *p == '-') && isdigit((unsigned char)p[1]) &&
	    isdigit((unsigned char)p[2]) && p[3] == ':' && isdigit((unsigned char)p[4]) &&
	    isdigit((unsigned char)p[5])) {
		off = ((p[1] - '0') * 10 + (p[2] - '0')) * 3600L +
		    ((p[4] - '0') * 10 + (p[5] - '0')) * 60L;
		if (*p == '-')
			off = -off;
		p += 6;
	} else {
		goto raw;
	}
	if (*p != '\0')
		goto raw;
	t = timegm(&tm) - off;
	if (localtime_r(&t, &lt) == NULL || strftime(out, n, "%Y-%m-%d %H:%M", &lt) == 0)
		goto raw;
	return;
raw:
	cli_sanitize(out, n, in);
}

char *
cli_shell_quote(const char *s)
{
	struct buf b = {.max = 1024 * 1024};
	int plain = *s != '\0';

	for (const char *p = s; *p != '\0' && plain; p++)
		plain = isalnum((unsigned char)*p) || strchr("-_./:@%+=,", *p) != NULL;
	if (plain)
		return strdup(s);
	if (buf_str(&b, "'") == -1)
		goto fail;
	for (const char *p = s; *p != '\0'; p++)
		if ((*p == '\'' ? buf_str(&b, "'\\''") : buf_add(&b, p, 1)) == -1)
			goto fail;
	if (buf_str(&b, "'") == -1)
		goto fail;
	return b.p;
fail:
	buf_free(&b);
	return NULL;
}

int
cli_print_json(const json_t *v)
{
	if (json_dumpf(v, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) == -1)
		return -1;
	fputc('\n', stdout);
	return fflush(stdout) == 0 ? 0 : -1;
}

struct cli_table {
	int ncols;
	const char *const *headers; /* borrowed */
	unsigned right;		    /* bit i: column i is right-aligned */
	char **cells;		    /* nrows * ncols sanitized copies */
	size_t nrows;
	size_t cap;		    /* rows the cells array has room for */
};

/* Columns a UTF-8 string takes, counting code points. */
static size_t
utf8_width(const char *s)
{
	size_t w = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

struct cli_table *
cli_table_new(int ncols, const char *const *headers, unsigned right_mask)
{
	struct cli_table *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->ncols = ncols;
	t->headers = headers;
	t->right = right_mask;
	return t;
}

int
cli_table_add(struct cli_table *t, const char *const *cells)
{
	if (t->nrows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		char **c = reallocarray(t->cells, cap * (size_t)t->ncols, sizeof(*c));

		if (c == NULL)
			return -1;
		t->cells = c;
		t->cap = cap;
	}
	for (int i = 0; i < t->ncols; i++) {
		const char *s = cells[i] != NULL ? cells[i] : "";
		size_t n = strlen(s) + 1;
		char *d = malloc(n);

		if (d == NULL) {
			while (i-- > 0)
				free(t->cells[t->nrows * (size_t)t->ncols + (size_t)i]);
			return -1;
		}
		cli_sanitize(d, n, s);
		t->cells[t->nrows * (size_t)t->ncols + (size_t)i] = d;
	}
	t->nrows++;
	return 0;
}

/* One row, its columns padded to w, without trailing spaces. */
static void
table_row(const struct cli_table *t, FILE *out, const char *const *row, const size_t *w)
{
	size_t cap = 2, len = 0;
	char *line;

	for (int i = 0; i < t->ncols; i++)
		cap += strlen(row[i]) + w[i] + 2;
	if ((line = malloc(cap)) == NULL)
		return;
	for (int i = 0; i < t->ncols; i++) {
		size_t pad = w[i] - utf8_width(row[i]), n = strlen(row[i]);

		if (t->right & (1u << i)) {
			memset(line + len, ' ', pad);
			len += pad;
		}
		memcpy(line + len, row[i], n);
		len += n;
		if (!(t->right & (1u << i))) {
			memset(line + len, ' ', pad);
			len += pad;
		}
		if (i < t->ncols - 1) {
			memcpy(line + len, "  ", 2);
			len += 2;
		}
	}
	while (len > 0 && line[len - 1] == ' ')
		len--;
	line[len++] = '\n';
	fwrite(line, 1, len, out);
	free(line);
}

void
cli_table_print(const struct cli_table *t, FILE *out)
{
	size_t w[32] = {0};

	if (t->ncols > 32)
		return;
	for (int i = 0; i < t->ncols; i++) {
		w[i] = utf8_width(t->headers[i]);
		for (size_t r = 0; r < t->nrows; r++) {
			size_t cw = utf8_width(t->cells[r * (size_t)t->ncols + (size_t)i]);

			if (cw > w[i])
				w[i] = cw;
		}
	}
	table_row(t, out, t->headers, w);
	for (size_t r = 0; r < t->nrows; r++)
		table_row(t, out, (const char *const *)&t->cells[r * (size_t)t->ncols], w);
}

void
cli_table_free(struct cli_table *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->nrows * (size_t)t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
}
