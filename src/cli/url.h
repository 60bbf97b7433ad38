/*
 * Server addresses: the transport choice (TLS or plain, the default
 * ports), the server URL a session keeps, and API paths.
 */
#ifndef ATRIUM_CLI_URL_H
#define ATRIUM_CLI_URL_H

#include <stddef.h>

#include "atrium/err.h"

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

#endif
