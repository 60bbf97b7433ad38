/* The client's bounded, wiping byte buffer, and wiping frees. See buf.h. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "atrium/util.h"
#include "cli/buf.h"

int
cli_buf_add(struct cli_buf *b, const void *data, size_t n)
{
	if (n > b->max - b->len)
		return -1;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *q;

		while (cap < b->len + n + 1)
			cap *= 2;
		if ((q = malloc(cap)) == NULL)
			return -1;
		/* Copy and wipe rather than realloc: the old block may hold a token. */
		if (b->p != NULL) {
			memcpy(q, b->p, b->len);
			atr_wipe(b->p, b->cap);
			free(b->p);
		}
		b->p = q;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

int
cli_buf_str(struct cli_buf *b, const char *s)
{
	return cli_buf_add(b, s, strlen(s));
}

void
cli_buf_free(struct cli_buf *b)
{
	if (b->p != NULL)
		atr_wipe(b->p, b->cap);
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

void
cli_json_dump_free(char *s)
{
	json_malloc_t m;
	json_free_t f;

	if (s == NULL)
		return;
	atr_wipe(s, strlen(s));
	json_get_alloc_funcs(&m, &f);
	f(s);
}
