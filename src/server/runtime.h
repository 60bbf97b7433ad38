/*
 * What a handler may know of the running server: the live limits (written
 * on reload, read by every thread), the listening ports, the counters of
 * /metrics, the TLS state, the store and the data directory. A handler
 * reaches it only through req_runtime(); it holds no threads, loops or
 * queues, so a handler cannot touch the server's machinery.
 */
#ifndef ATRIUM_SERVER_RUNTIME_H
#define ATRIUM_SERVER_RUNTIME_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

struct directory;
struct outbound;
struct settings;
struct store;
struct tls_state;
struct truststore;

enum listener_kind { LK_PLAIN, LK_TLS, LK_ADMIN, LK__COUNT };

/* Why a TLS handshake failed, for /metrics. */
#define HANDSHAKE_FAILURES(X)                                                      \
	X(UNKNOWN_CA, "unknown_ca")   /* the client does not trust our certificate */ \
	X(PROTOCOL, "protocol")       /* no common version or cipher, or not TLS */   \
	X(TIMEOUT, "timeout")         /* not done within handshake_timeout */         \
	X(PLAIN_HTTP, "plain_http")   /* plain HTTP sent to a TLS port */             \
	X(CLOSED, "closed")           /* the client hung up during the handshake */   \
	X(OTHER, "other")

enum handshake_failure {
#define HF_ENUM_(name, label) HF_##name,
	HANDSHAKE_FAILURES(HF_ENUM_)
#undef HF_ENUM_
	HF__COUNT
};

/* How a delivery attempt ended (deliver.c), for /metrics: the store's
 * outcomes of store_attempt. */
#define DELIVERY_OUTCOMES(X)                                  \
	X(DELIVERED, "delivered") /* a 2xx answer */            \
	X(RETRY, "retry")         /* failed; tried again later */ \
	X(FAILED, "failed")       /* failed for good */

enum delivery_outcome {
#define DO_ENUM_(name, label) DO_##name,
	DELIVERY_OUTCOMES(DO_ENUM_)
#undef DO_ENUM_
	DO__COUNT
};

/* The longest integration_retries schedule. */
#define INTEGRATION_RETRIES_MAX 32

struct runtime {
	const char *datadir;  /* owned by the server */
	struct store *store;
	struct tls_state *tls;
	struct settings *settings; /* changing settings at run time (settings.h) */
	struct truststore *trust;  /* outbound TLS: the server's trust store (truststore.h) */
	struct outbound *outbound; /* where the server may connect out to (outbound.h) */
	struct directory *directory; /* directory sign-in (directory.h) */
	int64_t started;      /* seconds since 1970 */

	/* Settings the loops and handlers read while running; written on reload. */
	_Atomic int64_t max_revision_size;
	_Atomic int idle_timeout;
	_Atomic int header_timeout;
	_Atomic int handshake_timeout;
	_Atomic int upload_stall_timeout;
	_Atomic int login_attempts;
	_Atomic int password_login; /* 0: certificate login only (password_login = off) */
	_Atomic int session_hours;
	_Atomic int max_connections;
	_Atomic int events_heartbeat;    /* seconds between a change stream's keep-alives */
	_Atomic int events_max_watchers; /* open change streams allowed */
	_Atomic int events_poll_ms;      /* a blocking store: how often streams poll */
	_Atomic int ports[LK__COUNT]; /* 0: not listening */

	/* Counters for /metrics. */
	_Atomic int open_conns;
	_Atomic uint64_t accepted[LK__COUNT];
	_Atomic uint64_t refused;      /* over max_connections */
	_Atomic uint64_t timed_out;    /* header or upload deadline missed (408) */
	_Atomic uint64_t responses[6]; /* by status class 1xx..5xx */
	_Atomic uint64_t handshakes, handshakes_resumed;
	_Atomic uint64_t handshake_failures[HF__COUNT];
	_Atomic int event_watchers;    /* open change streams (evstream.c) */

	/* Integrations: the deliverer's settings (written on reload) ... */
	_Atomic int integration_timeout;          /* seconds */
	_Atomic int64_t integration_response_max; /* bytes */
	_Atomic int integration_log_days;
	_Atomic int integration_nretries;
	_Atomic int64_t integration_retries[INTEGRATION_RETRIES_MAX]; /* ms after attempt 1, 2... */
	/* ... and what it last saw, refreshed every few seconds. */
	_Atomic uint64_t deliveries[DO__COUNT];   /* attempts by outcome */
	_Atomic int integrations_active, integrations_paused, integrations_disabled;
	pthread_mutex_t integrations_mu;          /* guards integrations_attention */
	char integrations_attention[8192];        /* JSON array: the paused and disabled ones */
};

#endif
