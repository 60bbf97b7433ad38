/*
 * A growable byte buffer with a maximum, for the client's URLs, quoted
 * strings and HTTP answers, and the wiping free of JSON text. Memory given
 * up is wiped first: answers hold tokens.
 */
#ifndef ATRIUM_CLI_BUF_H
#define ATRIUM_CLI_BUF_H

#include <stddef.h>

struct cli_buf {
	char *p;	/* NUL-terminated once anything was added */
	size_t len;
	size_t cap;
	size_t max;	/* len never exceeds this; set it before the first add */
};

/*
 * Appends n bytes of data. Returns 0, or -1 (b unchanged) when max would
 * be passed or memory is short.
 */
int cli_buf_add(struct cli_buf *b, const void *data, size_t n);

/* Appends the string s without its NUL; results as for cli_buf_add(). */
int cli_buf_str(struct cli_buf *b, const char *s);

/* Wipes and frees b's memory and empties it; max is kept. */
void cli_buf_free(struct cli_buf *b);

/*
 * Wipes and frees a string made by json_dumps() (which may hold a password
 * or a token) with jansson's own free. NULL-safe.
 */
void cli_json_dump_free(char *s);

#endif
