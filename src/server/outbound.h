/*
 * Where atriumd may connect out to: the `outbound_allow` setting, a
 * comma-separated list of host names ("git.example.com", "*.example.com"
 * for any name under it), IPv4 and IPv6 addresses and CIDR networks
 * ("10.0.0.0/8", "fd00::/8"), or "*" for anywhere (the default). An empty
 * list allows nothing.
 *
 * Every outbound connection (the trust store's fetch; integrations, the
 * directory and ACME later) goes through outbound_connect(): the name is
 * resolved once, every address it resolves to is checked, and the socket
 * is connected to one of those checked addresses, so a DNS answer that
 * changes between the check and the connection changes nothing. A name
 * in the list allows whatever it resolves to; any other name is allowed
 * only when all its addresses are in the list. IPv4-mapped IPv6
 * addresses (::ffff:10.0.0.1) are checked as the IPv4 address they are.
 *
 * The rules are replaced as a whole by outbound_set_allow() (a reload);
 * every function may be called from any thread.
 */
#ifndef ATRIUM_SERVER_OUTBOUND_H
#define ATRIUM_SERVER_OUTBOUND_H

#include <sys/socket.h>

#include "atrium/err.h"

struct outbound;

/* The longest outbound_allow accepted, in bytes. */
#define OUTBOUND_ALLOW_MAX 4096

/* A new policy that allows anywhere ("*"). NULL without memory. */
struct outbound *outbound_new(void);

/* Frees ob. NULL-safe. */
void outbound_free(struct outbound *ob);

/*
 * Checks list as a value of outbound_allow without applying it: 0, or -1
 * with err (ATR_E_CONFIG, field outbound_allow) naming the first entry
 * that is neither a host name, an address, a network nor "*".
 */
int outbound_check_allow(const char *list, struct atr_err *err);

/* Replaces ob's rules with list's: 0, or -1 with err as
 * outbound_check_allow() (or ATR_E_NOMEM) and nothing changed. */
int outbound_set_allow(struct outbound *ob, const char *list, struct atr_err *err);

/* Whether ob allows connecting to sa when the name asked for was host (a
 * name or an address literal, as the caller got it): 1 or 0. */
int outbound_allowed(struct outbound *ob, const char *host, const struct sockaddr *sa);

/*
 * Resolves host (a name, an IPv4 address or an IPv6 address without
 * brackets), checks every address it resolves to against ob, and when
 * all are allowed connects a TCP socket to the first of them that
 * answers within timeout_ms (each). Returns the socket (blocking, close-
 * on-exec, with SO_RCVTIMEO and SO_SNDTIMEO of timeout_ms), the caller's
 * to close; or -1 with err: ATR_E_OUTBOUND_DENIED when an address is not
 * allowed (the sentence names the address and the setting; nothing was
 * connected), ATR_E_NETWORK when the name does not resolve or no address
 * answers.
 */
int outbound_connect(struct outbound *ob, const char *host, const char *port, int timeout_ms,
    struct atr_err *err);

#endif
