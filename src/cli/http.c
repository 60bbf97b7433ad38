/* HTTP over libcurl. See http.h. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "atrium/tlsclient.h"
#include "atrium/util.h"
#include "atrium/x509.h"
#include "cli/buf.h"
#include "cli/client.h"
#include "cli/http.h"
#include "cli/output.h"
#include "cli/progress.h"
#include "cli/session.h"
#include "cli/trust.h"
#include "cli/url.h"
#include "version.h"

#define REPLY_MAX (64 * 1024 * 1024)	/* bytes of a JSON answer, at most */
#define CONNECT_TIMEOUT 15		/* seconds to set up a connection */
#define STALL_TIMEOUT 300		/* seconds without a byte moving */
#define XFER_BUFFER (512 * 1024)	/* libcurl's upload/download buffers */
#define PROBE_TIMEOUT 5			/* seconds for a plain-HTTP probe */

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
	EVP_PKEY *client_key;		/* TLS: the client certificate's key, or NULL */
	STACK_OF(X509) *client_chain;	/* TLS: the client certificate, leaf first */
};

/* One request's state, shared by libcurl's callbacks. */
struct xfer {
	struct cli_http *h;
	struct cli_buf body;		/* the JSON answer (or a download's error answer) */
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
	/* A stream (cli_http_stream): a 200 body goes to sink as it comes. */
	int (*sink)(const char *data, size_t len, void *arg);
	void *sink_arg;
	const char *extra_hdr;		/* one more request header line, or NULL */
	int sink_stopped;		/* sink asked to stop */
	const void *raw_in;		/* cli_http_raw(): a body of raw bytes... */
	size_t raw_len;
	const char *const *extra;	/* ...extra header lines (NULL-ended) */
	int raw_out;			/* ...a 2xx answer is bytes, not JSON */
	char encoding[16];		/* the answer's Content-Encoding, or "" */
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

static struct sigsave held;
static int held_depth;

void
cli_http_interruptible(int on)
{
	if (on && held_depth++ == 0)
		signals_catch(&held);
	else if (!on && held_depth > 0 && --held_depth == 0)
		signals_restore(&held);
}

int
cli_http_interrupted(void)
{
	return interrupted != 0;
}

static size_t
on_header(char *data, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	size_t len = size * n, i = 5, j;

	if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
		x->etag[0] = '\0'; /* a new answer (after 100 Continue) */
		x->encoding[0] = '\0';
		return len;
	}
	if (len > 17 && strncasecmp(data, "content-encoding:", 17) == 0) {
		i = 17;
		while (i < len && (data[i] == ' ' || data[i] == '\t'))
			i++;
		for (j = 0; i < len && j + 1 < sizeof(x->encoding); i++) {
			if (data[i] == '\r' || data[i] == '\n' || data[i] == ' ')
				break;
			x->encoding[j++] = data[i];
		}
		x->encoding[j] = '\0';
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

	if ((x->out_fd != -1 || x->sink != NULL) && !x->status_known) {
		long code = 0;

		curl_easy_getinfo(x->h->curl, CURLINFO_RESPONSE_CODE, &code);
		x->to_file = code == 200;
		x->status_known = 1;
	}
	if (x->to_file && x->sink != NULL) {
		if (x->sink(data, len, x->sink_arg) == 0)
			return len;
		x->sink_stopped = 1;
		return 0;
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
	if (cli_buf_add(&x->body, data, len) == -1) {
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
	if (atr_tlsc_setup(h->tlsc, ssl_ctx, &h->tls_err) == -1)
		return CURLE_SSL_CERTPROBLEM;
	/* The client certificate from memory: PEM files and keystores alike. */
	if (h->client_key != NULL) {
		SSL_CTX *ctx = ssl_ctx;
		if (SSL_CTX_use_certificate(ctx, sk_X509_value(h->client_chain, 0)) != 1 ||
		    SSL_CTX_use_PrivateKey(ctx, h->client_key) != 1) {
			atr_err_set_ssl(&h->tls_err, ATR_E_CERT_MISMATCH,
			    "the client certificate cannot be used with its key");
			return CURLE_SSL_CERTPROBLEM;
		}
		SSL_CTX_clear_chain_certs(ctx);
		for (int i = 1; i < sk_X509_num(h->client_chain); i++)
			SSL_CTX_add1_chain_cert(ctx, sk_X509_value(h->client_chain, i));
	}
	return CURLE_OK;
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

int
cli_http_set_client_cert(struct cli_http *h, EVP_PKEY *key, const STACK_OF(X509) *chain,
    struct atr_err *err)
{
	STACK_OF(X509) *copy;

	if (!h->tls)
		return atr_err_set(err, ATR_E_USAGE, "a client certificate needs TLS (not --plain)");
	if (chain == NULL || sk_X509_num(chain) < 1)
		return atr_err_set(err, ATR_E_CERT_INVALID, "there is no client certificate");
	if (X509_check_private_key(sk_X509_value(chain, 0), key) != 1) {
		ERR_clear_error();
		return atr_err_set(err, ATR_E_CERT_MISMATCH,
		    "the key does not belong to the client certificate");
	}
	if ((copy = X509_chain_up_ref((STACK_OF(X509) *)chain)) == NULL ||
	    EVP_PKEY_up_ref(key) != 1) {
		sk_X509_pop_free(copy, X509_free);
		return atr_err_set(err, ATR_E_NOMEM, NULL);
	}
	EVP_PKEY_free(h->client_key);
	sk_X509_pop_free(h->client_chain, X509_free);
	h->client_key = key;
	h->client_chain = copy;
	return 0;
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

int
cli_probe_tls(const char *hostport)
{
	struct atr_err err;
	STACK_OF(X509) *chain = atr_x509_fetch_chain(hostport, PROBE_TIMEOUT * 1000, &err);
	int answered = chain != NULL && sk_X509_num(chain) > 0;

	sk_X509_pop_free(chain, X509_free);
	return answered;
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
	EVP_PKEY_free(h->client_key);
	sk_X509_pop_free(h->client_chain, X509_free);
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
cli_reply_code(const struct cli_reply *rep, enum atr_errcode *code)
{
	const char *name = json_string_value(json_object_get(rep->json, "code"));

	/* A code the table does not know (a newer server) is a failure all the
	 * same: the status says which kind. */
	if (atr_errcode_from_name(name, code) == -1 || *code == ATR_E_OK) {
		*code = status_code(rep->status);
		return -1;
	}
	return 0;
}

int
cli_reply_expired(const struct cli_reply *rep)
{
	enum atr_errcode code;

	if (cli_reply_code(rep, &code) == 0)
		return code == ATR_E_UNAUTHORIZED;
	return rep->status == 401;
}

int
cli_reply_error(const struct cli_http *h, const struct cli_reply *rep,
    struct atr_err *err)
{
	const char *msg = json_string_value(json_object_get(rep->json, "error"));
	const char *phrase = atr_http_reason((int)rep->status);
	enum atr_errcode code;
	char clean[ATR_ERR_MSG_MAX];
	int tls, port;

	cli_reply_code(rep, &code);
	if (cli_reply_expired(rep) && h->auth != NULL) {
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
	if (headers_add(&hdr, x->sink != NULL ? "Accept: text/event-stream"
				      : x->out_fd != -1 ? "Accept: */*"
							: "Accept: application/json") == -1 ||
	    (x->extra_hdr != NULL && headers_add(&hdr, x->extra_hdr) == -1) ||
	    (h->auth != NULL && headers_add(&hdr, h->auth) == -1))
		goto nomem;
	if (body != NULL && headers_add(&hdr, x->raw_in != NULL ?
	    "Content-Type: application/octet-stream" : "Content-Type: application/json") == -1)
		goto nomem;
	for (int i = 0; x->extra != NULL && x->extra[i] != NULL; i++)
		if (headers_add(&hdr, x->extra[i]) == -1)
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
	/* The big buffer for streams only: libcurl allocates it per request,
	 * and a commit by chunks makes hundreds of small ones. */
	if (x->in_fd != -1 || x->out_fd != -1)
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
	/* A stream's body is not an answer to parse: it ended when the server
	 * closed (or the sink stopped); anything else is reported as usual. */
	if (x->sink != NULL && x->to_file && (rc == CURLE_OK || x->sink_stopped)) {
		ret = 0;
		goto out;
	}
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
	if (x->raw_out && rep->status >= 200 && rep->status < 300) {
		ret = 0;
		goto out_keep;
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
	cli_buf_free(&x->body);
out_keep:
	headers_free(hdr);
	free(url);
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
	cli_json_dump_free(s);
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

int
cli_http_stream(struct cli_http *h, const char *path, const char *header,
    int (*each)(const char *data, size_t len, void *arg), void *arg, struct cli_reply *rep,
    struct atr_err *err)
{
	struct xfer x = {.in_fd = -1, .out_fd = -1, .sink = each, .sink_arg = arg,
	    .extra_hdr = header};
	struct sigsave ss;
	int rc;

	signals_catch(&ss);
	rc = perform(h, "GET", path, NULL, 0, &x, rep, err);
	signals_restore(&ss);
	if (interrupted)
		return 1;
	if (rc == -1)
		return -1;
	return expect_status(h, rep, 200, err);
}

int
cli_http_raw(struct cli_http *h, const char *method, const char *path, const void *body,
    size_t len, const char *const *headers, long expect, struct cli_raw *out,
    struct cli_reply *rep, struct atr_err *err)
{
	struct xfer x = {.in_fd = -1, .out_fd = -1, .raw_in = body, .raw_len = len,
	    .extra = headers, .raw_out = out != NULL};
	int rc;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	rc = perform(h, method, path, body, len, &x, rep, err);
	if (rc == 0 && out != NULL && rep->status >= 200 && rep->status < 300) {
		out->data = (unsigned char *)x.body.p;
		out->len = x.body.len;
		snprintf(out->encoding, sizeof(out->encoding), "%s", x.encoding);
	} else {
		cli_buf_free(&x.body);
	}
	if (rc == -1)
		return -1;
	return expect_status(h, rep, expect, err);
}

void
cli_raw_free(struct cli_raw *r)
{
	struct cli_buf b = {(char *)r->data, r->len, r->len, 0};

	cli_buf_free(&b);
	memset(r, 0, sizeof(*r));
}
