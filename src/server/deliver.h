/*
 * The deliverer: one thread of its own that sends the store's waiting
 * deliveries (store.h "Deliveries") to integrations with libcurl's multi
 * interface, so that a slow or dead receiver never slows a commit and one
 * integration's backlog never delays another's. It wakes when the store's
 * event hook fires, when a retry comes due, and every few seconds (other
 * nodes on the same database queue too).
 *
 * Each attempt: the head delivery of an integration is claimed for a
 * lease, POSTed with the Standard Webhooks headers (webhook.h) and
 * X-Atrium-Event, and its result recorded with store_delivery_finish().
 * https URLs are verified against the integration's CA or pin or the
 * server trust store (never skipped); every address goes through
 * outbound_allow; redirects are not followed; answers are read up to a
 * bound. Failures are worded with their cause and fix (deliver_tls.c for
 * TLS: from the certificates themselves, never from libcurl's messages).
 */
#ifndef ATRIUM_SERVER_DELIVER_H
#define ATRIUM_SERVER_DELIVER_H

#include <stdint.h>

#include "atrium/err.h"

struct runtime;
struct deliverer;

/* Starts the thread for rt (its store, trust, outbound and settings);
 * node names this process in leases. NULL with err. */
struct deliverer *deliverer_start(struct runtime *rt, const char *node, struct atr_err *err);

/* Something may be due: look now (any thread, cheap). */
void deliverer_kick(struct deliverer *d);

/* Stops the thread (transfers in flight are abandoned; their leases run
 * out and they are sent again) and frees d. NULL-safe. */
void deliverer_stop(struct deliverer *d);

/*
 * Reads an integration_retries schedule ("5s,5m,30m,2h", spaces ignored;
 * each a whole number with s, m, h or d, at least 1 s, at most 7 d) into
 * ms[0..*n) (at most max). "" is an empty schedule (no retry: the first
 * failure pauses). -1 with err (ATR_E_CONFIG, field integration_retries)
 * naming the first bad entry.
 */
int deliver_schedule_parse(const char *text, int64_t *ms, int max, int *n, struct atr_err *err);

#endif
