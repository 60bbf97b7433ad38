/*
 * HTTP over libcurl: one kept-alive connection per server, JSON calls,
 * streamed uploads and downloads, and the sentence for an answer that is
 * not the one expected.
 *
 * Where the transport is decided (plain or TLS, default port) there is
 * exactly one function, cli_transport_choose() (url.h); TLS settings (the
 * trust, the verification in the handshake, through
 * include/atrium/tlsclient.h) are applied in one place, http.c's
 * http_tls_setup() and http_tls_apply().
 */
#ifndef ATRIUM_CLI_HTTP_H
#define ATRIUM_CLI_HTTP_H

#include <stdint.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "atrium/err.h"

struct cli_progress;

/*
 * Whether hostport answers plain HTTP (any HTTP status within a few
 * seconds): 1 or 0. Used to explain a TLS handshake that failed.
 */
int cli_probe_plain(const char *hostport);

/*
 * Whether hostport completes a TLS handshake and shows a certificate
 * within a few seconds: 1 or 0. Nothing is verified and nothing is sent
 * after the handshake: used to explain a plain port that is closed.
 */
int cli_probe_tls(const char *hostport);

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

/*
 * Presents key and chain (leaf first; references are taken) as the client
 * certificate of every later TLS handshake: certificate login. -1 with
 * err when h is not TLS or key is not the leaf's.
 */
int cli_http_set_client_cert(struct cli_http *h, EVP_PKEY *key, const STACK_OF(X509) *chain,
    struct atr_err *err);

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
 * The error code an answer names: its body's "code" mapped back through
 * the error table. Returns 0, or -1 when the body names no code the table
 * knows (an older server, a proxy, a newer server); *code is then a guess
 * from the status. Callers that decide something by the answer decide by
 * the code, and by the status only when this returns -1.
 */
int cli_reply_code(const struct cli_reply *rep, enum atr_errcode *code);

/*
 * Whether rep says the token the call carried is no longer accepted: the
 * body's code is "unauthorized" or, for a body without a code, the status
 * is 401. 1 or 0.
 */
int cli_reply_expired(const struct cli_reply *rep);

/*
 * The sentence for an answer that is not what was expected: an expired
 * session (cli_reply_expired()) on a call that carried a token says to log
 * in again; otherwise the server's {"error"} sentence, else the status
 * line. err's code is cli_reply_code()'s. Returns -1.
 */
int cli_reply_error(const struct cli_http *h, const struct cli_reply *rep,
    struct atr_err *err);

/*
 * GETs path as a stream (text/event-stream): while the answer is 200,
 * each piece of its body goes to each(data, len, arg) as it arrives (each
 * returns 0 to go on, -1 to stop). header, when not NULL, is one more
 * request header line ("Last-Event-ID: 42"). Returns 0 when a 200 stream
 * ended (the server closed it, or each stopped it), 1 when Ctrl-C (or
 * TERM, HUP) ended it, else -1 as cli_http_call() does (a broken
 * connection has rep->status 0).
 */
int cli_http_stream(struct cli_http *h, const char *path, const char *header,
    int (*each)(const char *data, size_t len, void *arg), void *arg, struct cli_reply *rep,
    struct atr_err *err);

/* A raw answer (cli_http_raw()). */
struct cli_raw {
	unsigned char *data; /* the body; free with cli_raw_free() */
	size_t len;
	char encoding[16];   /* its Content-Encoding, "" when none */
};

/*
 * Sends method to path with body[0..len) as application/octet-stream (or
 * no body when NULL) and the extra header lines (NULL-ended; may be NULL).
 * A 2xx answer's bytes go to *out when out is not NULL; any other answer
 * is read as for cli_http_call(). Results as for cli_http_call().
 */
int cli_http_raw(struct cli_http *h, const char *method, const char *path, const void *body,
    size_t len, const char *const *headers, long expect, struct cli_raw *out,
    struct cli_reply *rep, struct atr_err *err);
void cli_raw_free(struct cli_raw *r);

/*
 * Ctrl-C, TERM and hang-up abort transfers (as during an upload or a
 * download) from cli_http_interruptible(1) until the matching (0), across
 * several calls and the work between them; cli_http_interrupted() says
 * whether one came. Nests.
 */
void cli_http_interruptible(int on);
int cli_http_interrupted(void);

#endif
