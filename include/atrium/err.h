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

/*
 * The wire name is the "code" of every JSON error the server sends and
 * what the CLI maps back; it is API, so it is spelled out rather than
 * derived from the enum name (renaming one must not rename the other).
 *
 *       enum name          wire name           HTTP exit default sentence
 */
#define ATR_ERRORS(X)                                                          \
	X(OK,               "ok",               200, 0, "no error") \
	X(NOMEM,            "nomem",            500, 1, "out of memory") \
	X(IO,               "io",               500, 1, "a file could not be read or written") \
	X(INTERNAL,         "internal",         500, 1, "internal error; see the server log") \
	X(USAGE,            "usage",            400, 2, "invalid arguments") \
	X(BAD_REQUEST,      "bad_request",      400, 1, "the request is malformed") \
	X(BAD_NAME,         "bad_name",         400, 1, "the name is not allowed") \
	X(BAD_TEXT,         "bad_text",         400, 1, "the text is not valid UTF-8 or holds a control character") \
	X(UNAUTHORIZED,     "unauthorized",     401, 1, "log in first") \
	X(BAD_LOGIN,        "bad_login",        401, 1, "wrong user name or password") \
	X(FORBIDDEN,        "forbidden",        403, 1, "you are not allowed to do this") \
	X(NOT_FOUND,        "not_found",        404, 1, "not found") \
	X(EXISTS,           "exists",           409, 1, "it already exists") \
	X(CONFLICT,         "conflict",         409, 1, "someone else changed it first") \
	X(TOO_LARGE,        "too_large",        413, 1, "the request body is too large") \
	X(RANGE,            "range",            416, 1, "the requested range is not satisfiable") \
	X(HEADERS_TOO_LARGE,"headers_too_large",431, 1, "the request headers are too large") \
	X(RATE_LIMITED,     "rate_limited",     429, 1, "too many attempts; wait and try again") \
	X(UNAVAILABLE,      "unavailable",      503, 1, "the server is busy or shutting down") \
	X(TIMEOUT,          "timeout",          408, 1, "the request stopped arriving") \
	X(CONFIG,           "config",           400, 1, "the configuration is invalid") \
	X(KS_PASSWORD,      "ks_password",      400, 1, "keystore password was incorrect") \
	X(KS_KEY_PASSWORD,  "ks_key_password",  400, 1, "the key password is wrong (the keystore opened, but its key did not)") \
	X(KS_FORMAT,        "ks_format",        400, 1, "this file is not a JKS, JCEKS, PKCS#12 or PEM keystore") \
	X(KS_CORRUPT,       "ks_corrupt",       400, 1, "the keystore file is damaged") \
	X(KS_TRUNCATED,     "ks_truncated",     400, 1, "the keystore file is incomplete: export it again, and check that it is the right file") \
	X(KS_NO_ENTRY,      "ks_no_entry",      404, 1, "no such alias in the keystore") \
	X(KS_UNSUPPORTED,   "ks_unsupported",   400, 1, "this keystore content is not supported") \
	X(CERT_INVALID,     "cert_invalid",     400, 1, "the certificate is not valid") \
	X(CERT_EXPIRED,     "cert_expired",     400, 1, "the certificate has expired") \
	X(CERT_UNTRUSTED,   "cert_untrusted",   400, 1, "the certificate is not trusted") \
	X(CERT_MISMATCH,    "cert_mismatch",    400, 1, "the key does not match the certificate") \
	X(CERT_NUMBER,      "cert_number",      400, 1, "a number in a certificate option is not valid") \
	X(CERT_VALIDITY,    "cert_validity",    400, 1, "the validity period ends after the year 9999") \
	X(CERT_SIGALG,      "cert_sigalg",      400, 1, "the signature algorithm is not known") \
	X(CERT_SIGALG_KEY,  "cert_sigalg_key",  400, 1, "the signature algorithm does not fit the key") \
	X(CERT_EXT_UNKNOWN, "cert_ext_unknown", 400, 1, "the certificate extension type is not known") \
	X(FINGERPRINT,      "fingerprint_mismatch", 409, 1, "no certificate the server presented has that fingerprint") \
	X(TLS,              "tls",              502, 1, "the secure connection failed") \
	X(NETWORK,          "network",          502, 1, "the server could not be reached") \
	X(OUTBOUND_DENIED,  "outbound_denied",  403, 1, "outbound_allow does not allow connecting there") \
	X(DIRECTORY,        "directory_unavailable", 503, 1, "the directory could not be reached") \
	X(CLIENT_CERT_EXPIRED, "client_cert_expired", 401, 1, "the client certificate has expired or is not valid yet") \
	X(CLIENT_CERT_REVOKED, "client_cert_revoked", 401, 1, "the client certificate is revoked") \
	X(CLIENT_CERT_UNTRUSTED, "client_cert_untrusted", 401, 1, "the client certificate's issuer is not trusted (client_ca_file)") \
	X(CLIENT_CERT_INVALID, "client_cert_invalid", 401, 1, "the client certificate is not valid") \
	X(CLIENT_CERT_NO_CRL, "client_cert_no_crl", 401, 1, "the client certificate's revocation list could not be had") \
	X(CLIENT_CERT_NO_USER, "client_cert_no_user", 401, 1, "no user has the client certificate's name") \
	X(PASSWORD_LOGIN_OFF, "password_login_off", 403, 1, "password login is off: log in with a certificate") \
	X(DATABASE,         "database",         500, 1, "the database failed") \
	X(NOT_SUPPORTED,    "not_supported",    501, 1, "this server's store cannot do that yet") \
	X(CHUNKS_MISSING,   "chunks_missing",   409, 1, "some chunks of the content are not on the server; send them first") \
	X(LOCKED,           "locked",           423, 1, "an element is locked by someone else")

enum atr_errcode {
#define ATR_ERR_ENUM_(name, wire, http, exitc, text) ATR_E_##name,
	ATR_ERRORS(ATR_ERR_ENUM_)
#undef ATR_ERR_ENUM_
	ATR_E__COUNT
};

#define ATR_ERR_MSG_MAX 512
#define ATR_ERR_FIELD_MAX 48

/*
 * An error value: a code from the table, a sentence for a person and,
 * when the error concerns one setting or form field, its name, so that
 * callers decide by the field and never by the sentence's words.
 */
struct atr_err {
	enum atr_errcode code;
	char msg[ATR_ERR_MSG_MAX];
	char field[ATR_ERR_FIELD_MAX]; /* a setting's key ("tls_port"); "" when none */
	unsigned short core;           /* where in msg the sentence first set starts */
};

/* Clears err to ATR_E_OK with an empty message and no field. NULL-safe. */
void atr_err_clear(struct atr_err *err);

/*
 * Sets err to code with a printf-style sentence; a NULL fmt uses the
 * table's default sentence. The field is cleared: a new error concerns no
 * field until atr_err_set_field() names one. Always returns -1, so callers
 * can write `return atr_err_set(err, ...);`. NULL-safe on err.
 */
int atr_err_set(struct atr_err *err, enum atr_errcode code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Like atr_err_set(), then appends the whole OpenSSL error queue (reasons
 * only, joined with "; ") and clears the queue.
 */
int atr_err_set_ssl(struct atr_err *err, enum atr_errcode code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Names the field (a setting's key) err concerns, keeping its code and
 * sentence; NULL or "" names none. A name longer than ATR_ERR_FIELD_MAX - 1
 * bytes is a programming error and is cut. Returns -1. NULL-safe on err.
 */
int atr_err_set_field(struct atr_err *err, const char *field);

/* The field err concerns, or "" when none. */
const char *atr_err_field(const struct atr_err *err);

/*
 * Sets err to "words: detail", or words alone when detail is NULL, with
 * the detail as its core (empty without one): for an error worded twice,
 * in the words of keytool (the keystore library's "Cannot recover key")
 * and in the table's sentence followed by the detail (the console).
 * Returns -1. NULL-safe on err.
 */
int atr_err_set_worded(struct atr_err *err, enum atr_errcode code, const char *words,
    const char *detail);

/*
 * The sentence as it was first set, without what atr_err_prefix() put
 * before it since: the detail for a caller that words the start of the
 * error itself (keytool in Java's words, the console in the table's).
 */
const char *atr_err_core(const struct atr_err *err);

/* Prefixes err's message with "prefix: ", keeping its field and core. Returns -1. */
int atr_err_prefix(struct atr_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The sentence in err, or the table's default when err has none. */
const char *atr_err_msg(const struct atr_err *err);

/* The table's columns for code; the name is the wire name ("conflict"). */
const char *atr_errcode_name(enum atr_errcode code);
/* The code whose wire name is name: 0, or -1 (code untouched) if none. */
int atr_errcode_from_name(const char *name, enum atr_errcode *code);
const char *atr_errcode_text(enum atr_errcode code);
int atr_errcode_http(enum atr_errcode code);
int atr_errcode_exit(enum atr_errcode code);

/* The HTTP reason phrase for status ("Not Found"), or NULL for a status
 * neither the server nor the CLI uses. */
const char *atr_http_reason(int status);

#endif
