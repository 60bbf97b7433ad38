/*
 * What the client prints: error lines and their exit status, sanitized
 * server text, times, shell-quoted hints, JSON and text tables.
 */
#ifndef ATRIUM_CLI_OUTPUT_H
#define ATRIUM_CLI_OUTPUT_H

#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "atrium/err.h"

/* Prints "atrium: <sentence>" on stderr and returns the exit status the
 * error table gives err's code (CLI_USAGE for usage, else CLI_FAIL). */
int cli_fail(const struct atr_err *err);

/* Prints "atrium: <printf sentence>" on stderr and returns CLI_FAIL. */
int cli_failf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Copies src into dst (at most n bytes with the NUL), replacing control
 * characters by spaces so a server's text cannot drive the terminal.
 */
void cli_sanitize(char *dst, size_t n, const char *src);

/*
 * Formats an RFC 3339 time ("2026-11-27T06:20:00Z", fractions and
 * offsets allowed) in local time as "2026-11-27 06:20"; anything else is
 * copied (sanitized) as it is.
 */
void cli_format_time(const char *rfc3339, char *out, size_t n);

/*
 * Quotes s for a POSIX shell when it needs it (for hints the user can
 * paste). Returns a new string or NULL.
 */
char *cli_shell_quote(const char *s);

/* Prints a JSON value indented on stdout (the --json output). */
int cli_print_json(const json_t *v);

/* A text table: columns padded to their widest cell (UTF-8 aware). */
struct cli_table;

/*
 * A table with ncols columns and these headers; right_mask has bit i set
 * for a right-aligned column i. Returns NULL when out of memory.
 */
struct cli_table *cli_table_new(int ncols, const char *const *headers,
    unsigned right_mask);

/* Adds a row of ncols cells (copied and sanitized; NULL prints as ""). */
int cli_table_add(struct cli_table *t, const char *const *cells);

/* Prints the headers and rows; the last column is not padded. */
void cli_table_print(const struct cli_table *t, FILE *out);

/* Frees t; NULL-safe. */
void cli_table_free(struct cli_table *t);

#endif
