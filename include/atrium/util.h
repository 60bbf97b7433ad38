/*
 * Small helpers shared by every part: bounded file reads, atomic file
 * writes, directories, random bytes, hex, password prompts, text rules.
 */
#ifndef ATRIUM_UTIL_H
#define ATRIUM_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "atrium/err.h"

/*
 * Reads the whole file at path into a new buffer (NUL-terminated, the NUL
 * not counted in *len). Fails with ATR_E_TOO_LARGE above max bytes. The
 * buffer is the caller's to free.
 */
int atr_read_file(const char *path, size_t max, unsigned char **buf, size_t *len,
    struct atr_err *err);

/*
 * Replaces path with data atomically: a temporary file beside it with the
 * given mode, written, fsync'ed, renamed over path, and the directory
 * fsync'ed. On failure path is untouched.
 */
int atr_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
    struct atr_err *err);

/*
 * The same, for a file an administrator owns (a settings file): when path
 * exists, the new file gets its mode and group instead of mode (its owner
 * becomes the process's user, as with any rename); -1 without touching
 * path when the group cannot be kept. A missing path is created with mode.
 */
int atr_write_file_keep(const char *path, const void *data, size_t len, mode_t mode,
    struct atr_err *err);

/* Creates dir and its missing parents with mode (like mkdir -p). */
int atr_mkdirs(const char *dir, mode_t mode, struct atr_err *err);

/* fsyncs the directory holding path (so a rename in it is durable). */
int atr_fsync_dir_of(const char *path);

/* Fills buf with n bytes from the OpenSSL CSPRNG. Returns 0 or -1. */
int atr_random_bytes(void *buf, size_t n);

/* Writes 2*n lowercase hex digits and a NUL to out (2*n+1 bytes). */
void atr_hex(const unsigned char *buf, size_t n, char *out);

/* Wipes n bytes at p so the compiler cannot skip it. NULL-safe. */
void atr_wipe(void *p, size_t n);

/* Frees a NUL-terminated secret after wiping it. NULL-safe. */
void atr_free_secret(char *s);

/*
 * Reads a line from the terminal without echo, after printing prompt on
 * stderr (Java keytool style). Returns a new string without the newline,
 * or NULL at end of input. The caller frees it with atr_free_secret().
 */
char *atr_read_password(const char *prompt);

/*
 * The first line of the file at path (a password file: cert.pass,
 * server.pass), without its line end, in a new string the caller frees
 * with atr_free_secret(). ATR_E_NOT_FOUND when the file does not exist.
 */
char *atr_passfile_read(const char *path, struct atr_err *err);

/*
 * Text rules (util_text.c). Well-formed UTF-8 means shortest forms only,
 * no surrogates, nothing above U+10FFFF: exactly what jansson encodes.
 */

/* Whether text[0..len) is well-formed UTF-8 (NUL bytes included). */
int atr_utf8_valid(const char *text, size_t len);

/*
 * Why text[0..len) is not acceptable text, or NULL when it is: not
 * well-formed UTF-8, a NUL, or a control character (C0, DEL, C1: U+0080
 * to U+009F) other than the C0 characters listed in allow (e.g. "\t\n";
 * NULL allows none). The answer is a fixed phrase ("is not valid UTF-8",
 * "contains a NUL byte", "contains a control character") to follow the
 * text's name; *at (may be NULL) gets the byte offset of the problem.
 */
const char *atr_text_problem(const char *text, size_t len, const char *allow, size_t *at);

/*
 * Replaces, in place, every byte of a malformed sequence and every
 * control character not in allow with '?', so the text can be encoded
 * as JSON and shown on a terminal. For sentences that quote what a
 * client or a file said; not for text that is stored.
 */
void atr_text_scrub(char *text, const char *allow);

/*
 * The length of the longest prefix of text of at most max bytes that
 * does not end inside a UTF-8 character: for "%.*s" cuts of user text
 * ("%.200s" can split a character, and the sentence stops being UTF-8).
 */
size_t atr_utf8_cut(const char *text, size_t max);

/*
 * A copy of a connection setting (a URL or a libpq conninfo string) safe
 * to show: the password of a URL's userinfo (scheme://user:PASSWORD@host)
 * and the values of password= and sslpassword= keywords (in the URL's
 * query or in conninfo, quoted or not) become "***". The one masking used
 * wherever such a setting is printed. The caller frees it; NULL when out
 * of memory.
 */
char *atr_mask_password(const char *text);

/* Milliseconds since 1970-01-01 UTC. */
int64_t atr_now_ms(void);

#endif
