/*
 * The deliverer (deliver.h): one thread, one libcurl multi handle, one
 * store connection of its own.
 *
 * Each round: every due head (store_delivery_due) of an integration that
 * has nothing in flight is claimed for a lease longer than the timeout and
 * started as a transfer; libcurl runs all transfers at once; each finished
 * one is recorded (store_delivery_finish) and its integration's next head
 * becomes due at once. So per integration one request at a time, strictly
 * by seq; across integrations as many as there are.
 *
 * The thread sleeps in curl_multi_poll(): woken by deliverer_kick()
 * (curl_multi_wakeup, safe from any thread), by its transfers, by the next
 * retry time (store_delivery_next_time), and at least every POLL_MS, for
 * what other nodes on the same database queued.
 *
 * Connections are never reused and TLS sessions never resumed: trust is
 * per integration (its CA, its pin, the trust store as it is now), and a
 * reused connection or resumed session would skip the verification of the
 * integration that did not make it. A delivery costs a handshake.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "atrium/log.h"
#include "atrium/util.h"
#include "server/deliver.h"
#include "server/deliver_int.h"
#include "server/event.h"
#include "server/outbound.h"
#include "server/runtime.h"
#include "server/store.h"
#include "server/webhook.h"
#include "version.h"

#define POLL_MS 3000              /* look for other nodes' work this often */
#define STATUS_MS 2000            /* refresh /healthz's view this often */
#define PURGE_MS (3600 * 1000)    /* purge the log hourly */
#define CERT_MS (3600 * 1000)     /* look at the served certificate's dates hourly */
#define LEASE_MARGIN_MS 5000      /* a lease outlasts the timeout by this */
#define RETRY_AFTER_MAX_MS (24LL * 3600 * 1000)
#define ERROR_BODY_MAX 300        /* bytes of an error answer kept in the log */
#define DUE_MAX 256               /* heads started per round */
#define NICE 10                   /* this thread's niceness: see run() */

struct xfer {
	struct xfer *next;
	struct deliverer *d;
	CURL *easy;
	struct curl_slist *headers;
	struct store_integration in;  /* as it was when the attempt started */
	int64_t id, seq, started;
	int attempts;                 /* before this one */
	char type[STORE_EVENT_TYPE_MAX + 1];
	char *body;
	char host[256];               /* the URL's host, without brackets */
	int port;
	struct dtls tls;
	char *resp;                   /* the answer's first bytes */
	size_t resp_len, resp_cap, resp_max;
	int resp_cut;                 /* we stopped reading at resp_max */
	int64_t retry_after_ms;       /* -1: none */
	char location[512];
	char denied[64];              /* an address outbound_allow refused */
	int sock_errno;
	char curl_err[CURL_ERROR_SIZE];
};

struct deliverer {
	struct runtime *rt;
	char node[128];
	pthread_t thread;
	int started;
	_Atomic int stop;
	CURLM *multi;
	struct store_conn *sc;
	struct xfer *xfers;
	int kicked_work;              /* something finished: look again at once */
	char cert_seen[100];          /* the served certificate's SHA-256, last looked at */
};

/* ---- settings */

int
deliver_schedule_parse(const char *text, int64_t *ms, int max, int *n, struct atr_err *err)
{
	static const struct {
		char unit;
		int64_t ms;
	} units[] = {{'s', 1000}, {'m', 60000}, {'h', 3600000}, {'d', 86400000}};
	const char *p = text;

	*n = 0;
	while (*p != '\0') {
		const char *start = p;
		char item[32];
		size_t len = strcspn(p, ","), k = 0;
		int64_t v = 0, mult = 0;
		int digits = 0;

		for (size_t i = 0; i < len && k + 1 < sizeof(item); i++)
			if (p[i] != ' ' && p[i] != '\t')
				item[k++] = p[i];
		item[k] = '\0';
		p += len + (p[len] == ',');
		if (k == 0 && len < sizeof(item))
			continue;
		while (item[digits] >= '0' && item[digits] <= '9' && digits < 7)
			v = v * 10 + (item[digits++] - '0');
		for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++)
			if (digits > 0 && item[digits] == units[u].unit && item[digits + 1] == '\0')
				mult = units[u].ms;
		if (mult == 0 || v * mult < 1000 || v * mult > 7 * 86400000LL) {
			atr_err_set(err, ATR_E_CONFIG, "integration_retries: '%.*s' is not a wait such "
			    "as 5s, 5m, 2h or 1d (1 s to 7 d)", (int)len, start);
			return atr_err_set_field(err, "integration_retries");
		}
		if (*n == max) {
			atr_err_set(err, ATR_E_CONFIG, "integration_retries: more than %d waits", max);
			return atr_err_set_field(err, "integration_retries");
		}
		ms[(*n)++] = v * mult;
	}
	return 0;
}

/* ---- one transfer */

/* The answer, kept up to resp_max (grown as it comes: most answers are a
 * few bytes, and many transfers run at once). */
static size_t
on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	size_t len = size * nmemb, room = x->resp_max - x->resp_len, take = len < room ? len : room;

	if (x->resp_len + take > x->resp_cap) {
		size_t cap = x->resp_cap ? x->resp_cap : 1024;
		char *bigger;
		while (cap < x->resp_len + take)
			cap *= 2;
		if (cap > x->resp_max)
			cap = x->resp_max;
		if ((bigger = realloc(x->resp, cap)) == NULL)
			return 0;
		x->resp = bigger;
		x->resp_cap = cap;
	}
	memcpy(x->resp + x->resp_len, data, take);
	x->resp_len += take;
	if (take < len) {
		x->resp_cut = 1; /* enough: the rest is not waited for */
		return 0;
	}
	return len;
}

static size_t
on_header(char *data, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	size_t len = size * nmemb;
	char line[600];

	if (len < 3 || len >= sizeof(line))
		return len;
	memcpy(line, data, len);
	while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == '\n'))
		len--;
	line[len] = '\0';
	if (strncmp(line, "HTTP/", 5) == 0) { /* a new answer (after a 100): forget the last */
		x->retry_after_ms = -1;
		x->location[0] = '\0';
	} else if (strncasecmp(line, "retry-after:", 12) == 0) {
		const char *v = line + 12 + strspn(line + 12, " \t");
		char *end;
		long long s = strtoll(v, &end, 10);
		if (end != v && *end == '\0' && s >= 0)
			x->retry_after_ms = s * 1000;
		else if ((s = curl_getdate(v, NULL)) != -1)
			x->retry_after_ms = s * 1000 - atr_now_ms();
		if (x->retry_after_ms > RETRY_AFTER_MAX_MS)
			x->retry_after_ms = RETRY_AFTER_MAX_MS;
	} else if (strncasecmp(line, "location:", 9) == 0) {
		snprintf(x->location, sizeof(x->location), "%s", line + 9 + strspn(line + 9, " \t"));
	}
	return size * nmemb;
}

/* Every address libcurl connects to passes outbound_allow first: the
 * address checked is the address connected. */
static curl_socket_t
on_open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct xfer *x = arg;
	int fd;

	(void)purpose;
	if (!outbound_allowed(x->d->rt->outbound, x->host, &a->addr)) {
		char ip[INET6_ADDRSTRLEN] = "?";
		if (a->family == AF_INET)
			inet_ntop(AF_INET, &((struct sockaddr_in *)&a->addr)->sin_addr, ip, sizeof(ip));
		else if (a->family == AF_INET6)
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&a->addr)->sin6_addr, ip, sizeof(ip));
		snprintf(x->denied, sizeof(x->denied), "%s", ip);
		return CURL_SOCKET_BAD;
	}
	if ((fd = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol)) == -1)
		x->sock_errno = errno;
	return fd == -1 ? CURL_SOCKET_BAD : fd;
}

static void
xfer_free(struct xfer *x)
{
	if (x == NULL)
		return;
	if (x->easy != NULL) {
		curl_multi_remove_handle(x->d->multi, x->easy);
		curl_easy_cleanup(x->easy);
	}
	curl_slist_free_all(x->headers);
	dtls_clear(&x->tls);
	store_integration_clear(&x->in);
	free(x->body);
	free(x->resp);
	free(x);
}

/* host and port of url (https defaults to 443, http to 80). */
static int
url_host(const char *url, char *host, size_t size, int *port)
{
	CURLU *u = curl_url();
	char *h = NULL, *p = NULL;
	int ok = 0;

	if (u != NULL && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &h, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_PORT, &p, CURLU_DEFAULT_PORT) == CURLUE_OK) {
		size_t len = strlen(h);
		if (h[0] == '[' && len > 2)
			snprintf(host, size, "%.*s", (int)(len - 2), h + 1);
		else
			snprintf(host, size, "%s", h);
		*port = atoi(p);
		ok = 1;
	}
	curl_free(h);
	curl_free(p);
	curl_url_cleanup(u);
	return ok ? 0 : -1;
}

static int
add_header(struct curl_slist **l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
add_header(struct curl_slist **l, const char *fmt, ...)
{
	char line[1024];
	struct curl_slist *n;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if ((n = curl_slist_append(*l, line)) == NULL)
		return -1;
	*l = n;
	return 0;
}

/* The request for one attempt: the body, signed now. */
static int
xfer_setup(struct xfer *x, const struct store_delivery *dv, int64_t now, struct atr_err *err)
{
	struct runtime *rt = x->d->rt;
	int timeout_ms = atomic_load(&rt->integration_timeout) * 1000;
	char sig[256];
	const char *old = x->in.old_secret_until > now ? x->in.old_secret : NULL;
	CURL *e;

	if ((x->body = event_payload(dv->event.type, dv->event.time, dv->seq,
		 dv->event.data != NULL ? dv->event.data : "{}")) == NULL)
		return atr_err_set(err, ATR_E_INTERNAL, "event %lld has no valid data",
		    (long long)dv->event.id);
	if (url_host(x->in.url, x->host, sizeof(x->host), &x->port) == -1)
		return atr_err_set(err, ATR_E_CONFIG, "the URL %s cannot be read", x->in.url);
	if (webhook_sign(x->in.secret, old, dv->msg_id, now / 1000, x->body, strlen(x->body), sig,
		sizeof(sig), err) == -1)
		return -1;
	x->resp_max = (size_t)atomic_load(&rt->integration_response_max);
	if (add_header(&x->headers, "content-type: application/json") == -1 ||
	    add_header(&x->headers, "webhook-id: %s", dv->msg_id) == -1 ||
	    add_header(&x->headers, "webhook-timestamp: %lld", (long long)(now / 1000)) == -1 ||
	    add_header(&x->headers, "webhook-signature: %s", sig) == -1 ||
	    add_header(&x->headers, "X-Atrium-Event: %s", dv->event.type) == -1 ||
	    add_header(&x->headers, "Expect:") == -1 || (e = curl_easy_init()) == NULL)
		return atr_err_set(err, ATR_E_NOMEM, NULL);
	x->easy = e;
	dtls_init(&x->tls);
	x->tls.host = x->host;
	x->tls.port = x->port;
	x->tls.trust = rt->trust;
	x->tls.ca_pem = x->in.ca_pem;
	x->tls.pin = x->in.pin;
	x->tls.client_pem = x->in.client_pem;
	x->retry_after_ms = -1;
	curl_easy_setopt(e, CURLOPT_PRIVATE, x);
	curl_easy_setopt(e, CURLOPT_URL, x->in.url);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_PROXY, ""); /* never the environment's proxy */
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(e, CURLOPT_POST, 1L);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, x->body);
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(x->body));
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->headers);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "Atrium/" ATRIUM_VERSION);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
	curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_SESSIONID_CACHE, 0L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	/* The trust is set in the callback; no CA file, no cache of one. */
	curl_easy_setopt(e, CURLOPT_CAINFO, NULL);
	curl_easy_setopt(e, CURLOPT_CA_CACHE_TIMEOUT, 0L);
	curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
	curl_easy_setopt(e, CURLOPT_SSL_CTX_FUNCTION, dtls_ctx_function);
	curl_easy_setopt(e, CURLOPT_SSL_CTX_DATA, &x->tls);
	curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
	curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, x);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->curl_err);
	return 0;
}

/* ---- outcomes */

/* The first bytes of an answer, as one line of text. */
static void
answer_excerpt(const struct xfer *x, char *out, size_t size)
{
	size_t n = x->resp_len < ERROR_BODY_MAX ? x->resp_len : ERROR_BODY_MAX, k = 0;

	for (size_t i = 0; i < n && k + 1 < size; i++) {
		unsigned char c = (unsigned char)x->resp[i];
		out[k++] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
	}
	while (k > 0 && out[k - 1] == ' ')
		k--;
	out[k] = '\0';
	/* Do not end inside a UTF-8 sequence. */
	while (k > 0 && n < x->resp_len && ((unsigned char)out[k - 1] & 0xc0) == 0x80)
		out[--k] = '\0';
	if (k > 0 && n < x->resp_len && ((unsigned char)out[k - 1] & 0xc0) == 0xc0)
		out[--k] = '\0';
}

/* Why a transfer that got no usable answer failed, in words. */
static void
explain_failure(struct xfer *x, CURLcode rc, char *out, size_t size)
{
	struct runtime *rt = x->d->rt;
	char hp[300];
	long os_errno = 0;
	double connect_time = 0;

	snprintf(hp, sizeof(hp), strchr(x->host, ':') ? "[%s]:%d" : "%s:%d", x->host, x->port);
	curl_easy_getinfo(x->easy, CURLINFO_OS_ERRNO, &os_errno);
	curl_easy_getinfo(x->easy, CURLINFO_CONNECT_TIME, &connect_time);
	if (x->denied[0] != '\0') {
		snprintf(out, size, "outbound_allow does not allow connecting to %s (%s): add it to "
		    "outbound_allow, or change the integration's URL", x->denied, x->host);
		return;
	}
	x->tls.closed = rc == CURLE_GOT_NOTHING || rc == CURLE_RECV_ERROR || rc == CURLE_SEND_ERROR;
	if (dtls_explain(&x->tls, out, size))
		return;
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
		snprintf(out, size, "the name %s does not resolve (DNS)", x->host);
		return;
	case CURLE_COULDNT_CONNECT:
		if (os_errno == ECONNREFUSED)
			snprintf(out, size, "%s refused the connection (is the receiver running?)", hp);
		else
			snprintf(out, size, "cannot connect to %s: %s", hp,
			    os_errno != 0 ? strerror((int)os_errno) : x->curl_err);
		return;
	case CURLE_OPERATION_TIMEDOUT:
		if (connect_time <= 0)
			snprintf(out, size, "no connection to %s within %d s (integration_timeout)", hp,
			    atomic_load(&rt->integration_timeout));
		else
			snprintf(out, size, "the receiver at %s did not answer within %d s "
			    "(integration_timeout)", hp, atomic_load(&rt->integration_timeout));
		return;
	case CURLE_GOT_NOTHING:
		snprintf(out, size, "%s closed the connection without answering", hp);
		return;
	default:
		snprintf(out, size, "%s: %s", curl_easy_strerror(rc),
		    x->curl_err[0] != '\0' ? x->curl_err : "no details");
	}
}

static int64_t
jittered(int64_t ms)
{
	uint32_t r = 0;

	atr_random_bytes(&r, sizeof(r));
	return ms + (int64_t)((double)ms * 0.1 * ((double)r / 4294967296.0));
}

/* Records the attempt x made and tells what became of it. */
static void
xfer_done(struct xfer *x, CURLcode rc)
{
	struct deliverer *d = x->d;
	struct runtime *rt = d->rt;
	struct store_attempt a;
	struct atr_err err;
	const char *state = NULL;
	char reason[STORE_ERROR_MAX + 1] = "";
	long status = 0;
	int64_t now = atr_now_ms();
	enum delivery_outcome outcome;

	memset(&a, 0, sizeof(a));
	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
	if (rc == CURLE_WRITE_ERROR && x->resp_cut)
		rc = CURLE_OK; /* we stopped reading: the status stands */
	if (rc != CURLE_OK)
		status = 0;
	a.delivery_id = x->id;
	a.seq = x->seq;
	snprintf(a.event_type, sizeof(a.event_type), "%s", x->type);
	a.time = x->started;
	a.status = (int)status;
	a.duration_ms = now - x->started;
	if (rc == CURLE_OK && status >= 200 && status < 300) {
		snprintf(a.outcome, sizeof(a.outcome), "delivered");
		outcome = DO_DELIVERED;
	} else {
		int nretries = atomic_load(&rt->integration_nretries), made = x->attempts + 1;
		char excerpt[ERROR_BODY_MAX + 1];

		answer_excerpt(x, excerpt, sizeof(excerpt));
		if (rc != CURLE_OK)
			explain_failure(x, rc, a.error, sizeof(a.error));
		else if (status >= 300 && status < 400)
			snprintf(a.error, sizeof(a.error), "the receiver answered %ld and points to %s; "
			    "redirects are not followed: change the integration's URL", status,
			    x->location[0] ? x->location : "(no Location)");
		else {
			const char *why = atr_http_reason((int)status);
			snprintf(a.error, sizeof(a.error), "the receiver answered %ld%s%s%s%s", status,
			    why != NULL ? " " : "", why != NULL ? why : "",
			    excerpt[0] ? ": " : " with an empty body", excerpt);
		}
		/* A failed attempt is never the end of its delivery: the head stays
		 * waiting, so that nothing is lost and `resume` sends it again. */
		snprintf(a.outcome, sizeof(a.outcome), "retry");
		outcome = DO_RETRY;
		if (rc == CURLE_OK && status == 410) {
			state = "disabled";
			a.next_attempt = now;
			snprintf(reason, sizeof(reason), "the receiver answered 410 Gone: it does not "
			    "want these events any more (delivery %lld, seq %lld); resume the integration "
			    "to send again", (long long)x->id, (long long)x->seq);
		} else if (x->attempts % (nretries + 1) == nretries) {
			/* The schedule is used up (counted again from the start after a
			 * resume: attempts are never reset but by a redelivery). */
			state = "paused";
			a.next_attempt = now;
			snprintf(reason, sizeof(reason), "%d attempt%s of delivery %lld (seq %lld) "
			    "failed, the last: %.700s; resume the integration to send it again", made,
			    made == 1 ? "" : "s", (long long)x->id, (long long)x->seq, a.error);
		} else {
			int64_t wait = jittered(atomic_load(
			    &rt->integration_retries[x->attempts % (nretries + 1)]));
			if ((status == 429 || status == 503) && x->retry_after_ms > wait)
				wait = x->retry_after_ms;
			a.next_attempt = now + wait;
		}
	}
	atomic_fetch_add(&rt->deliveries[outcome], 1);
	if (store_delivery_finish(d->sc, x->id, d->node, &a, state, reason, &err) == -1)
		atr_warn("integration %s: delivery %lld: the attempt could not be recorded: %s",
		    x->in.name, (long long)x->id, atr_err_msg(&err));
	if (state != NULL)
		atr_warn("integration %s %s: %s", x->in.name, state, reason);
	else if (outcome != DO_DELIVERED)
		atr_info("integration %s: delivery %lld (seq %lld) failed, again in %lld s: %s",
		    x->in.name, (long long)x->id, (long long)x->seq,
		    (long long)((a.next_attempt - now + 500) / 1000), a.error);
}

/* An attempt that could not even start (a broken URL or secret) is
 * recorded as a failed attempt and retried on the schedule. */
static void
record_unsent(struct deliverer *d, const struct store_delivery *dv, int64_t now,
    const struct atr_err *why)
{
	struct store_attempt a;
	struct atr_err err;

	memset(&a, 0, sizeof(a));
	a.delivery_id = dv->id;
	a.seq = dv->seq;
	snprintf(a.event_type, sizeof(a.event_type), "%s", dv->event.type);
	a.time = now;
	snprintf(a.error, sizeof(a.error), "not sent: %s", atr_err_msg(why));
	snprintf(a.outcome, sizeof(a.outcome), "retry");
	a.next_attempt = now + jittered(atomic_load(&d->rt->integration_retries[0]) > 0
					    ? atomic_load(&d->rt->integration_retries[0]) : 60000);
	atomic_fetch_add(&d->rt->deliveries[DO_RETRY], 1);
	if (store_delivery_finish(d->sc, dv->id, d->node, &a, NULL, NULL, &err) == -1)
		atr_warn("integration %s: delivery %lld: %s", dv->integration, (long long)dv->id,
		    atr_err_msg(&err));
	atr_warn("integration %s: delivery %lld not sent: %s", dv->integration, (long long)dv->id,
	    atr_err_msg(why));
}

/* ---- rounds */

struct due {
	struct store_delivery dv[DUE_MAX];
	char *data[DUE_MAX];
	int n;
	struct deliverer *d;
};

static int
busy(const struct deliverer *d, int64_t integration_id)
{
	for (const struct xfer *x = d->xfers; x != NULL; x = x->next)
		if (x->in.id == integration_id)
			return 1;
	return 0;
}

static int
collect_due(const struct store_delivery *dv, void *arg)
{
	struct due *due = arg;

	if (due->n == DUE_MAX || busy(due->d, dv->integration_id))
		return 0;
	due->dv[due->n] = *dv;
	if ((due->data[due->n] = strdup(dv->event.data != NULL ? dv->event.data : "{}")) == NULL)
		return 0;
	due->dv[due->n].event.data = due->data[due->n];
	due->n++;
	return 0;
}

/* Claims and starts every due head; returns how many started. */
static int
start_due(struct deliverer *d, int64_t now)
{
	struct due *due = calloc(1, sizeof(*due));
	int64_t lease = now + atomic_load(&d->rt->integration_timeout) * 1000LL + LEASE_MARGIN_MS;
	struct atr_err err;
	int started = 0;

	if (due == NULL)
		return 0;
	due->d = d;
	if (store_delivery_due(d->sc, now, collect_due, due, &err) == -1)
		atr_warn("deliveries: cannot read what is due: %s", atr_err_msg(&err));
	for (int i = 0; i < due->n; i++) {
		const struct store_delivery *dv = &due->dv[i];
		struct xfer *x;

		if (busy(d, dv->integration_id) ||
		    store_delivery_claim(d->sc, dv->id, d->node, now, lease, &err) != 1)
			continue;
		if ((x = calloc(1, sizeof(*x))) == NULL)
			continue; /* the lease runs out; sent later */
		x->d = d;
		x->id = dv->id;
		x->seq = dv->seq;
		x->attempts = dv->attempts;
		x->started = now;
		snprintf(x->type, sizeof(x->type), "%s", dv->event.type);
		if (store_integration_get(d->sc, dv->integration, &x->in, &err) == -1) {
			xfer_free(x);
			continue;
		}
		if (xfer_setup(x, dv, now, &err) == -1) {
			record_unsent(d, dv, now, &err);
			xfer_free(x);
			continue;
		}
		if (curl_multi_add_handle(d->multi, x->easy) != CURLM_OK) {
			xfer_free(x);
			continue;
		}
		x->next = d->xfers;
		d->xfers = x;
		started++;
	}
	for (int i = 0; i < due->n; i++)
		free(due->data[i]);
	free(due);
	return started;
}

static void
reap(struct deliverer *d)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(d->multi, &left)) != NULL) {
		struct xfer *x = NULL, **pp;
		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
		xfer_done(x, m->data.result);
		for (pp = &d->xfers; *pp != NULL; pp = &(*pp)->next)
			if (*pp == x) {
				*pp = x->next;
				break;
			}
		xfer_free(x);
		d->kicked_work = 1;
	}
}

/* /healthz and /metrics: how many integrations are in each state, and
 * which ones need someone (never silently). */
struct status {
	int active, paused, disabled;
	json_t *attention;
};

static int
count_state(const struct store_integration *in, void *arg)
{
	struct status *s = arg;

	if (strcmp(in->state, "active") == 0) {
		s->active++;
		return 0;
	}
	if (strcmp(in->state, "paused") == 0)
		s->paused++;
	else
		s->disabled++;
	/* Not the reason: /healthz answers anyone, and reasons name receivers'
	 * addresses and certificates; the admin API and the log have them. */
	json_array_append_new(s->attention, json_pack("{s:s,s:s,s:I}", "name", in->name,
	    "state", in->state, "pending", (json_int_t)in->pending));
	return 0;
}

static void
publish_status(struct deliverer *d)
{
	struct runtime *rt = d->rt;
	struct status s = {0, 0, 0, json_array()};
	struct atr_err err;
	char *text;

	if (s.attention == NULL)
		return;
	if (store_integration_list(d->sc, count_state, &s, &err) == 0) {
		atomic_store(&rt->integrations_active, s.active);
		atomic_store(&rt->integrations_paused, s.paused);
		atomic_store(&rt->integrations_disabled, s.disabled);
		/* Too long a list is cut (the counts stay whole). */
		while ((text = json_dumps(s.attention, JSON_COMPACT)) != NULL &&
		    strlen(text) >= sizeof(rt->integrations_attention) &&
		    json_array_size(s.attention) > 0) {
			free(text);
			json_array_remove(s.attention, json_array_size(s.attention) - 1);
		}
		pthread_mutex_lock(&rt->integrations_mu);
		snprintf(rt->integrations_attention, sizeof(rt->integrations_attention), "%s",
		    text != NULL && strlen(text) < sizeof(rt->integrations_attention) ? text : "[]");
		pthread_mutex_unlock(&rt->integrations_mu);
		free(text);
	}
	json_decref(s.attention);
}

static void
purge(struct deliverer *d, int64_t now)
{
	struct atr_err err;
	int64_t keep = atomic_load(&d->rt->integration_log_days) * 86400000LL;

	if (store_event_purge(d->sc, now - keep, &err) == -1)
		atr_warn("purging the delivery log failed: %s", atr_err_msg(&err));
}

static void *
run(void *arg)
{
	struct deliverer *d = arg;
	int64_t last_status = 0, last_purge = atr_now_ms(), last_cert = 0;

	/* Deliveries are background work, a TLS handshake each: on a busy
	 * core a commit's thread goes first (Linux: niceness is per thread).
	 * The store's write lock is held here only for microseconds (see
	 * store_sqlite_events.c), and waiters sleep, so this never holds up
	 * a commit for long. Best effort. */
	if (setpriority(PRIO_PROCESS, (id_t)gettid(), NICE) == -1)
		atr_debug("deliveries: cannot lower the thread's priority: %s", strerror(errno));

	while (!atomic_load(&d->stop)) {
		int64_t now = atr_now_ms(), when = 0;
		int started, running = 0, wait = POLL_MS;
		long curl_wait = -1;
		struct atr_err err;

		d->kicked_work = 0;
		started = start_due(d, now);
		curl_multi_perform(d->multi, &running);
		reap(d);
		if (now - last_status >= STATUS_MS) {
			publish_status(d);
			if (deliver_cert_check(d->rt, d->sc, now, d->cert_seen, sizeof(d->cert_seen),
				now - last_cert >= CERT_MS))
				last_cert = now;
			last_status = now;
		}
		if (now - last_purge >= PURGE_MS) {
			purge(d, now);
			last_purge = now;
		}
		if (d->kicked_work)
			continue;
		/* The next retry; a head due now that is in flight (or another
		 * node's) only wakes us through its transfer, or in a second. */
		if (store_delivery_next_time(d->sc, &when, &err) == 0 && when > 0) {
			int64_t in = when - atr_now_ms();
			if (in > 0 && in < wait)
				wait = (int)in;
			else if (in <= 0)
				wait = started > 0 ? 0 : 1000;
		}
		if (curl_multi_timeout(d->multi, &curl_wait) == CURLM_OK && curl_wait >= 0 &&
		    curl_wait < wait)
			wait = (int)curl_wait;
		curl_multi_poll(d->multi, NULL, 0, wait, NULL);
	}
	return NULL;
}

/* ---- the interface */

static void
kick_hook(void *arg)
{
	deliverer_kick(arg);
}

struct deliverer *
deliverer_start(struct runtime *rt, const char *node, struct atr_err *err)
{
	struct deliverer *d = calloc(1, sizeof(*d));

	if (d == NULL) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		return NULL;
	}
	d->rt = rt;
	snprintf(d->node, sizeof(d->node), "%s", node);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || (d->multi = curl_multi_init()) == NULL) {
		atr_err_set(err, ATR_E_NOMEM, "cannot set up libcurl for the deliveries");
		goto fail;
	}
	if ((d->sc = store_conn_open(rt->store, err)) == NULL)
		goto fail;
	if (pthread_create(&d->thread, NULL, run, d) != 0) {
		atr_err_set(err, ATR_E_INTERNAL, "cannot start the delivery thread");
		goto fail;
	}
	d->started = 1;
	store_set_event_hook(rt->store, kick_hook, d);
	return d;
fail:
	deliverer_stop(d);
	return NULL;
}

void
deliverer_kick(struct deliverer *d)
{
	if (d != NULL && d->multi != NULL)
		curl_multi_wakeup(d->multi);
}

void
deliverer_stop(struct deliverer *d)
{
	if (d == NULL)
		return;
	if (d->started) {
		store_set_event_hook(d->rt->store, NULL, NULL);
		atomic_store(&d->stop, 1);
		curl_multi_wakeup(d->multi);
		pthread_join(d->thread, NULL);
	}
	while (d->xfers != NULL) {
		struct xfer *x = d->xfers;
		d->xfers = x->next;
		xfer_free(x);
	}
	store_conn_close(d->sc);
	if (d->multi != NULL) {
		curl_multi_cleanup(d->multi);
		curl_global_cleanup();
	}
	free(d);
}
