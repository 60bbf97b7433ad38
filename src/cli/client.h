/*
 * The atrium client's plumbing, shared by its commands: option tables,
 * server addresses, the session store in $ATRIUM_HOME, HTTP over libcurl,
 * and the little output helpers (tables, times, error lines).
 *
 * All HTTP goes through struct cli_http. Where the transport is decided
 * (plain or TLS, default port) there is exactly one function,
 * cli_transport_choose(); TLS settings (the trust, the verification in the
 * handshake, through include/atrium/tlsclient.h) are applied in one place,
 * client.c's http_tls_setup() and http_tls_apply().
 */
#ifndef ATRIUM_CLI_CLIENT_H
#define ATRIUM_CLI_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "atrium/err.h"

struct cli_progress;
struct atr_trust;

/*
 * Sets up the process for a command: libcurl's global state (cleaned up
 * at exit) and a jansson allocator that wipes memory when it is freed,
 * since passwords and tokens pass through JSON. Call it first in every
 * command, before any JSON value exists; calling it again does nothing.
 */
void cli_init(void);

/* ---- options ------------------------------------------------------ */

#define CLI_OPTS_MAX 16 /* options per command */
#define CLI_POS_MAX 8	/* positional arguments per command */

/*
 * One row per option: the parser, --help and the docs read the same
 * table. A table ends with a row whose name is NULL. --help and -h are
 * always understood and need no row.
 */
struct cli_opt {
	const char *name;  /* long name without the dashes: "plain" */
	char short_name;   /* 'u', or 0 for none */
	const char *arg;   /* the value's name in --help ("USER"); NULL for a flag */
	const char *help;  /* one line for --help */
};

/* What cli_args_parse() found, indexed like the option table. */
struct cli_args {
	const char *val[CLI_OPTS_MAX]; /* an option's value; "" for a given flag; NULL if absent */
	char *pos[CLI_POS_MAX];	       /* the positional arguments, in order */
	int npos;
	int help;		       /* --help or -h was given */
};

/* A command's usage: printed by --help and (its first line) on misuse. */
struct cli_usage {
	const char *cmd;	   /* "atrium project create" */
	const char *args;	   /* "[OPTIONS] NAME" */
	const char *about;	   /* a paragraph; may hold newlines */
	const struct cli_opt *opts;
};

/*
 * Parses argv[1..argc-1] (argv[0] is the command's name) against opts,
 * GNU style: options and positional arguments in any order, "--opt VAL",
 * "--opt=VAL", "-o VAL", "-oVAL", grouped short flags, "--" ends the
 * options, a lone "-" is positional; a repeated option keeps its last
 * value. Returns 0, or -1 with a sentence in msg (unknown option, missing
 * value, value given to a flag, too many arguments). When --help appears,
 * the result is 0 with help set, whatever else is wrong.
 */
int cli_args_parse(const struct cli_opt *opts, int argc, char **argv,
    struct cli_args *out, char *msg, size_t msglen);

/*
 * cli_args_parse() plus what every command does with it: on --help prints
 * the usage on stdout and sets *status to CLI_OK; on a parse error or a
 * number of positional arguments outside [min_pos, max_pos] prints
 * "atrium: ..." and the synopsis on stderr and sets *status to CLI_USAGE.
 * Returns 0 when the command should go on, -1 when it should return
 * *status.
 */
int cli_args_get(const struct cli_usage *u, int argc, char **argv, int min_pos,
    int max_pos, struct cli_args *out, int *status);

/* Prints u as --help shows it. */
void cli_usage_print(FILE *out, const struct cli_usage *u);

/* Prints "atrium: msg" and a pointer to --help on stderr; returns CLI_USAGE. */
int cli_usage_error(const struct cli_usage *u, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* A command with subcommands ("atrium project list"). */
struct cli_sub {
	const char *name;
	int (*run)(int argc, char **argv); /* argv[0] is the subcommand's name */
	const char *summary;
};

/*
 * Runs the subcommand named by argv[1] from subs (a table ending with a
 * NULL name). "--help" lists the subcommands and returns CLI_OK; a missing
 * or unknown subcommand lists them on stderr and returns CLI_USAGE.
 */
int cli_dispatch(const char *cmd, const struct cli_sub *subs, int argc, char **argv);

/*
 * Parses a decimal number in [min, max] with nothing around it (no sign,
 * no spaces, no leading '+'). Returns 0 or -1.
 */
int cli_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* ---- server addresses --------------------------------------------- */

#define CLI_PORT_PLAIN 3579
#define CLI_PORT_TLS 10002

/*
 * The one place that decides how to reach a server given as HOST[:PORT]:
 * *tls says whether to use TLS and *port is the default port. plain is
 * the user's --plain: plain HTTP on 3579; otherwise TLS on 10002.
 */
void cli_transport_choose(int plain, int *tls, int *port);

/*
 * Turns what the user typed (HOST, HOST:PORT, [IPv6]:PORT, a bare IPv6
 * address, or http[s]://HOST[:PORT][/]) into the server URL the session
 * keeps, "https://host:port" (or "http://host:port" with plain or an
 * http:// address) with the host in lower case. Rejects empty hosts, bad
 * characters, user names, paths, queries, ports outside 1..65535, unknown
 * schemes, and https:// together with plain. *url is the caller's to free.
 */
int cli_server_url(const char *arg, int plain, char **url, struct atr_err *err);

/* The "host:port" part of a server URL (a pointer into url). */
const char *cli_url_hostport(const char *url);

/* Whether the server URL's host is on this machine (127.0.0.0/8, ::1, localhost). */
int cli_url_is_loopback(const char *url);

/* The host of a server URL without brackets or port, into host. 0 or -1. */
int cli_url_host(const char *url, char *host, size_t len);

/*
 * Percent-encodes s for a path segment or a query value: everything but
 * A-Z a-z 0-9 - . _ ~ becomes %XX. Returns a new string or NULL.
 */
char *cli_pct_encode(const char *s);

/*
 * "/api/v1/" followed by the given segments, each percent-encoded, joined
 * by "/". The list ends with NULL. Returns a new string or NULL.
 */
char *cli_api_path(const char *seg, ...) __attribute__((sentinel));

/* ---- the session store in $ATRIUM_HOME ------------------------------ */

/* A login: kept in $ATRIUM_HOME/session.json, mode 0600. */
struct cli_session {
	char *server;  /* "http://127.0.0.1:3579" */
	char *user;
	char *role;    /* "admin", "user", or NULL when unknown */
	char *token;   /* secret: never printed, wiped when cleared */
	char *expires; /* RFC 3339, or NULL when unknown */
	char *cert_sha256; /* TLS: the server certificate's SHA-256 at login, or NULL */
};

/*
 * $ATRIUM_HOME, else ~/.atrium (from $HOME, else the password database).
 * Returns a new string, or NULL with err set.
 */
char *cli_home(struct atr_err *err);

/*
 * Reads home/session.json into s (whose strings become the caller's; free
 * them with cli_session_clear()). Fails with ATR_E_NOT_FOUND when there is
 * no session, and with a sentence naming the file when it is damaged.
 */
int cli_session_load(const char *home, struct cli_session *s, struct atr_err *err);

/*
 * Writes s to home/session.json atomically with mode 0600, creating home
 * with mode 0700 when it is missing. server, user and token are required.
 */
int cli_session_save(const char *home, const struct cli_session *s, struct atr_err *err);

/* Removes home/session.json; no session is not an error. */
int cli_session_remove(const char *home, struct atr_err *err);

/* Frees s's strings (wiping the token) and zeroes s. NULL-safe. */
void cli_session_clear(struct cli_session *s);

/*
 * The newest revision of a project this client has checked out or
 * committed, per server, in home/heads.json: it is commit's default base.
 * cli_heads_get() returns 0 and sets *rev, or -1 when none is known.
 */
int cli_heads_get(const char *home, const char *server, const char *project,
    uint64_t *rev);

/*
 * Records rev for the project. With only_raise, a lower rev than the one
 * recorded is ignored (looking at an old revision does not move the base
 * back). The file is replaced atomically; a damaged one is started anew.
 */
int cli_heads_set(const char *home, const char *server, const char *project,
    uint64_t rev, int only_raise, struct atr_err *err);

/* Forgets the project's recorded revision (the project was deleted). */
int cli_heads_forget(const char *home, const char *server, const char *project,
    struct atr_err *err);

/* ---- TLS trust ----------------------------------------------------- */

/* home/certs: the client's trust store folder (cert.jks + cert.pass). New string. */
char *cli_certs_dir(const char *home);

/* The certs folder beside the atrium executable, as the reference clients
 * keep it; NULL when the executable's path is unknown. New string. */
char *cli_exe_certs_dir(void);

/*
 * The roots this client trusts: the system's, home/certs and the certs
 * folder beside the executable. A trust store that cannot be read is an
 * error naming it. The result is the caller's (atr_trust_free()).
 */
struct atr_trust *cli_trust_load(const char *home, struct atr_err *err);

/*
 * Whether hostport answers plain HTTP (any HTTP status within a few
 * seconds): 1 or 0. Used to explain a TLS handshake that failed.
 */
int cli_probe_plain(const char *hostport);

/* ---- HTTP ---------------------------------------------------------- */

struct cli_http;

/* An answer from the server. */
struct cli_reply {
	long status;  /* the HTTP status; 0 when no answer arrived */
	json_t *json; /* the parsed JSON body, or NULL (204, empty, not JSON) */
};

/* What a download wrote. */
struct cli_download {
	uint64_t bytes;	  /* bytes written to the file */
	char sha256[65];  /* their SHA-256, lowercase hex */
	char etag[72];	  /* the ETag without quotes, "" when there was none */
};

/*
 * A client for the server at URL (as made by cli_server_url()). One
 * connection is kept alive across calls. Returns NULL with err set.
 */
struct cli_http *cli_http_new(const char *server, struct atr_err *err);

/* Frees h; NULL-safe. The token it holds is wiped. */
void cli_http_free(struct cli_http *h);

/*
 * Sends "Authorization: Bearer token" with every later call (the token
 * is copied, and rejected when it holds anything a header cannot).
 */
int cli_http_set_token(struct cli_http *h, const char *token, struct atr_err *err);

/* The server URL h talks to (borrowed). */
const char *cli_http_server(const struct cli_http *h);

/*
 * Tells h the SHA-256 fingerprint of the certificate this server had when
 * it was last trusted (at login): a different certificate that fails the
 * check is then reported as a change, and as a possible attack.
 */
void cli_http_set_known(struct cli_http *h, const char *sha256);

/*
 * The SHA-256 fingerprint of the server certificate verified on h's
 * connection (borrowed), or NULL for plain HTTP or before a connection.
 */
const char *cli_http_cert_sha256(const struct cli_http *h);

/*
 * Sends method (GET, POST, PUT, DELETE) to path (from cli_api_path(),
 * with any query) with body as JSON (may be NULL), and reads the JSON
 * answer into rep. Returns 0 when the status is expect; otherwise -1 with
 * err holding a sentence for the user -- the server's {"error"}, or one
 * about the network -- and rep holding what did arrive (rep->status is 0
 * when nothing did). Clear rep with cli_reply_clear() either way.
 */
int cli_http_call(struct cli_http *h, const char *method, const char *path,
    json_t *body, long expect, struct cli_reply *rep, struct atr_err *err);

/*
 * POSTs size bytes read from fd (from its current offset) to path as raw
 * content, streaming: memory does not grow with size. sha256 receives the
 * hex SHA-256 of what was sent. Progress goes to pg (may be NULL). Ctrl-C
 * aborts the transfer. Results as for cli_http_call().
 */
int cli_http_upload(struct cli_http *h, const char *path, int fd, uint64_t size,
    struct cli_progress *pg, char sha256[65], long expect, struct cli_reply *rep,
    struct atr_err *err);

/*
 * GETs path and writes a 200 answer's body to fd as it arrives, hashing
 * it; any other answer is read as JSON into rep and nothing is written.
 * Ctrl-C aborts the transfer. Results as for cli_http_call().
 */
int cli_http_download(struct cli_http *h, const char *path, int fd,
    struct cli_progress *pg, struct cli_download *dl, struct cli_reply *rep,
    struct atr_err *err);

/* Frees rep's JSON and zeroes it. */
void cli_reply_clear(struct cli_reply *rep);

/*
 * The sentence for an answer that is not what was expected: 401 on a
 * call that carried a token means the session expired; otherwise the
 * server's {"error"} sentence, else the status line. err's code is the
 * body's "code" mapped back through the error table, or a guess from the
 * status when the body has none (an older server, a proxy). Returns -1.
 */
int cli_reply_error(const struct cli_http *h, const struct cli_reply *rep,
    struct atr_err *err);

/* ---- a command's connection ------------------------------------------ */

/* What a command that needs a login works with. */
struct cli_ctx {
	char *home;
	struct cli_session session;
	struct cli_http *http; /* carries the session's token */
};

/*
 * Loads the session and connects to its server. Without a session the
 * sentence says to log in. Close with cli_ctx_close() either way.
 */
int cli_ctx_open(struct cli_ctx *c, struct atr_err *err);
void cli_ctx_close(struct cli_ctx *c);

/* ---- output ----------------------------------------------------------- */

/* Prints "atrium: <sentence>" on stderr and returns the exit status the
 * error table gives err's code (CLI_USAGE for usage, else CLI_FAIL). */
int cli_fail(const struct atr_err *err);

/* Prints "atrium: <printf sentence>" on stderr and returns CLI_FAIL. */
int cli_failf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Copies src into dst (at most n bytes with the NUL), replacing control
 * characters by spaces so a server's text cannot drive the terminal.
 */
void cli_sanitize(char *dst, size_t n, const char *src);

/*
 * Formats an RFC 3339 time ("2026-11-27T06:20:00Z", fractions and
 * offsets allowed) in local time as "2026-11-27 06:20"; anything else is
 * copied (sanitized) as it is.
 */
void cli_format_time(const char *rfc3339, char *out, size_t n);

/*
 * Quotes s for a POSIX shell when it needs it (for hints the user can
 * paste). Returns a new string or NULL.
 */
char *cli_shell_quote(const char *s);

/* Prints a JSON value indented on stdout (the --json output). */
int cli_print_json(const json_t *v);

/* A text table: columns padded to their widest cell (UTF-8 aware). */
struct cli_table;

/*
 * A table with ncols columns and these headers; right_mask has bit i set
 * for a right-aligned column i. Returns NULL when out of memory.
 */
struct cli_table *cli_table_new(int ncols, const char *const *headers,
    unsigned right_mask);

/* Adds a row of ncols cells (copied and sanitized; NULL prints as ""). */
int cli_table_add(struct cli_table *t, const char *const *cells);

/* Prints the headers and rows; the last column is not padded. */
void cli_table_print(const struct cli_table *t, FILE *out);

/* Frees t; NULL-safe. */
void cli_table_free(struct cli_table *t);

#endif
