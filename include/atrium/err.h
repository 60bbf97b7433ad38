/*
 * Errors shared by the library, the server and the CLI.
 *
 * One table (ATR_ERRORS) gives every error code, the HTTP status the API
 * answers with, the CLI's exit status and a default sentence. A function
 * that fails fills a struct atr_err with the code and a sentence a person
 * can act on; the same sentence then reaches the log, the CLI and the
 * console's JSON {"error": ...} unchanged.
 */
#ifndef ATRIUM_ERR_H
#define ATRIUM_ERR_H

#include <stddef.h>

/*       name            HTTP  exit  default sentence */
#define ATR_ERRORS(X)                                                          \
	X(OK,              200, 0, "no error")                                  \
	X(NOMEM,           500, 1, "out of memory")                             \
	X(IO,              500, 1, "a file could not be read or written")       \
	X(INTERNAL,        500, 1, "internal error; see the server log")        \
	X(USAGE,           400, 2, "invalid arguments")                         \
	X(BAD_REQUEST,     400, 1, "the request is malformed")                  \
	X(BAD_NAME,        400, 1, "the name is not allowed")                   \
	X(BAD_TEXT,        400, 1, "the text is not valid UTF-8 or holds a control character") \
	X(UNAUTHORIZED,    401, 1, "log in first")                              \
	X(BAD_LOGIN,       401, 1, "wrong user name or password")               \
	X(FORBIDDEN,       403, 1, "you are not allowed to do this")            \
	X(NOT_FOUND,       404, 1, "not found")                                 \
	X(EXISTS,          409, 1, "it already exists")                         \
	X(CONFLICT,        409, 1, "someone else changed it first")             \
	X(TOO_LARGE,       413, 1, "the request body is too large")             \
	X(RANGE,           416, 1, "the requested range is not satisfiable")    \
	X(HEADERS_TOO_LARGE, 431, 1, "the request headers are too large")       \
	X(RATE_LIMITED,    429, 1, "too many attempts; wait and try again")     \
	X(UNAVAILABLE,     503, 1, "the server is busy or shutting down")       \
	X(CONFIG,          400, 1, "the configuration is invalid")              \
	X(KS_PASSWORD,     400, 1, "keystore password was incorrect")           \
	X(KS_KEY_PASSWORD, 400, 1, "Cannot recover key")                        \
	X(KS_FORMAT,       400, 1, "Unrecognized keystore format")              \
	X(KS_CORRUPT,      400, 1, "the keystore file is damaged")              \
	X(KS_NO_ENTRY,     404, 1, "no such alias in the keystore")             \
	X(KS_UNSUPPORTED,  400, 1, "this keystore content is not supported")    \
	X(CERT_INVALID,    400, 1, "the certificate is not valid")              \
	X(CERT_EXPIRED,    400, 1, "the certificate has expired")               \
	X(CERT_UNTRUSTED,  400, 1, "the certificate is not trusted")            \
	X(CERT_MISMATCH,   400, 1, "the key does not match the certificate")    \
	X(TLS,             502, 1, "the secure connection failed")              \
	X(NETWORK,         502, 1, "the server could not be reached")           \
	X(DATABASE,        500, 1, "the database failed")

enum atr_errcode {
#define ATR_ERR_ENUM_(name, http, exitc, text) ATR_E_##name,
	ATR_ERRORS(ATR_ERR_ENUM_)
#undef ATR_ERR_ENUM_
	ATR_E__COUNT
};

#define ATR_ERR_MSG_MAX 512

/* An error value: a code from the table and a sentence for a person. */
struct atr_err {
	enum atr_errcode code;
	char msg[ATR_ERR_MSG_MAX];
};

/* Clears err to ATR_E_OK with an empty message. NULL-safe. */
void atr_err_clear(struct atr_err *err);

/*
 * Sets err to code with a printf-style sentence; a NULL fmt uses the
 * table's default sentence. Always returns -1, so callers can write
 * `return atr_err_set(err, ...);`. NULL-safe on err.
 */
int atr_err_set(struct atr_err *err, enum atr_errcode code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Like atr_err_set(), then appends the whole OpenSSL error queue (reasons
 * only, joined with "; ") and clears the queue.
 */
int atr_err_set_ssl(struct atr_err *err, enum atr_errcode code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prefixes err's message with "prefix: ". Returns -1. */
int atr_err_prefix(struct atr_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The sentence in err, or the table's default when err has none. */
const char *atr_err_msg(const struct atr_err *err);

/* The table's columns for code. */
const char *atr_errcode_name(enum atr_errcode code);
const char *atr_errcode_text(enum atr_errcode code);
int atr_errcode_http(enum atr_errcode code);
int atr_errcode_exit(enum atr_errcode code);

#endif
