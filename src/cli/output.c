/* Error lines, sanitizing, times, quoting, JSON and tables. See output.h. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "atrium/util.h"
#include "cli/buf.h"
#include "cli/cli.h"
#include "cli/output.h"

int
cli_fail(const struct atr_err *err)
{
	int exitc = atr_errcode_exit(err->code);

	fprintf(stderr, "atrium: %s\n", atr_err_msg(err));
	/* The table's exit column; a failure never exits 0. */
	return exitc != 0 ? exitc : CLI_FAIL;
}

int
cli_failf(const char *fmt, ...)
{
	va_list ap;

	fputs("atrium: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return CLI_FAIL;
}

void
cli_sanitize(char *dst, size_t n, const char *src)
{
	size_t i;

	if (n == 0)
		return;
	for (i = 0; i + 1 < n && src[i] != '\0'; i++) {
		unsigned char c = (unsigned char)src[i];

		dst[i] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
	}
	dst[i] = '\0';
}

void
cli_format_time(const char *in, char *out, size_t n)
{
	struct tm tm, lt;
	const char *p;
	long off = 0;
	time_t t;

	memset(&tm, 0, sizeof(tm));
	if (in == NULL) {
		snprintf(out, n, "-");
		return;
	}
	if ((p = strptime(in, "%Y-%m-%dT%H:%M:%S", &tm)) == NULL)
		goto raw;
	if (*p == '.')
		for (p++; isdigit((unsigned char)*p); p++)
			;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if ((*p == '+' || *p == '-') && isdigit((unsigned char)p[1]) &&
	    isdigit((unsigned char)p[2]) && p[3] == ':' && isdigit((unsigned char)p[4]) &&
	    isdigit((unsigned char)p[5])) {
		off = ((p[1] - '0') * 10 + (p[2] - '0')) * 3600L +
		    ((p[4] - '0') * 10 + (p[5] - '0')) * 60L;
		if (*p == '-')
			off = -off;
		p += 6;
	} else {
		goto raw;
	}
	if (*p != '\0')
		goto raw;
	t = timegm(&tm) - off;
	if (localtime_r(&t, &lt) == NULL || strftime(out, n, "%Y-%m-%d %H:%M", &lt) == 0)
		goto raw;
	return;
raw:
	cli_sanitize(out, n, in);
}

char *
cli_shell_quote(const char *s)
{
	struct cli_buf b = {.max = 1024 * 1024};
	int plain = *s != '\0';

	for (const char *p = s; *p != '\0' && plain; p++)
		plain = isalnum((unsigned char)*p) || strchr("-_./:@%+=,", *p) != NULL;
	if (plain)
		return strdup(s);
	if (cli_buf_str(&b, "'") == -1)
		goto fail;
	for (const char *p = s; *p != '\0'; p++)
		if ((*p == '\'' ? cli_buf_str(&b, "'\\''") : cli_buf_add(&b, p, 1)) == -1)
			goto fail;
	if (cli_buf_str(&b, "'") == -1)
		goto fail;
	return b.p;
fail:
	cli_buf_free(&b);
	return NULL;
}

int
cli_print_json(const json_t *v)
{
	if (json_dumpf(v, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) == -1)
		return -1;
	fputc('\n', stdout);
	return fflush(stdout) == 0 ? 0 : -1;
}

struct cli_table {
	int ncols;
	const char *const *headers; /* borrowed */
	unsigned right;		    /* bit i: column i is right-aligned */
	char **cells;		    /* nrows * ncols sanitized copies */
	size_t nrows;
	size_t cap;		    /* rows the cells array has room for */
};

/* Columns a UTF-8 string takes, counting code points. */
static size_t
utf8_width(const char *s)
{
	size_t w = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

struct cli_table *
cli_table_new(int ncols, const char *const *headers, unsigned right_mask)
{
	struct cli_table *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->ncols = ncols;
	t->headers = headers;
	t->right = right_mask;
	return t;
}

int
cli_table_add(struct cli_table *t, const char *const *cells)
{
	if (t->nrows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		char **c = reallocarray(t->cells, cap * (size_t)t->ncols, sizeof(*c));

		if (c == NULL)
			return -1;
		t->cells = c;
		t->cap = cap;
	}
	for (int i = 0; i < t->ncols; i++) {
		const char *s = cells[i] != NULL ? cells[i] : "";
		size_t n = strlen(s) + 1;
		char *d = malloc(n);

		if (d == NULL) {
			while (i-- > 0)
				free(t->cells[t->nrows * (size_t)t->ncols + (size_t)i]);
			return -1;
		}
		cli_sanitize(d, n, s);
		t->cells[t->nrows * (size_t)t->ncols + (size_t)i] = d;
	}
	t->nrows++;
	return 0;
}

/* One row, its columns padded to w, without trailing spaces. */
static void
table_row(const struct cli_table *t, FILE *out, const char *const *row, const size_t *w)
{
	size_t cap = 2, len = 0;
	char *line;

	for (int i = 0; i < t->ncols; i++)
		cap += strlen(row[i]) + w[i] + 2;
	if ((line = malloc(cap)) == NULL)
		return;
	for (int i = 0; i < t->ncols; i++) {
		size_t pad = w[i] - utf8_width(row[i]), n = strlen(row[i]);

		if (t->right & (1u << i)) {
			memset(line + len, ' ', pad);
			len += pad;
		}
		memcpy(line + len, row[i], n);
		len += n;
		if (!(t->right & (1u << i))) {
			memset(line + len, ' ', pad);
			len += pad;
		}
		if (i < t->ncols - 1) {
			memcpy(line + len, "  ", 2);
			len += 2;
		}
	}
	while (len > 0 && line[len - 1] == ' ')
		len--;
	line[len++] = '\n';
	fwrite(line, 1, len, out);
	free(line);
}

void
cli_table_print(const struct cli_table *t, FILE *out)
{
	size_t w[32] = {0};

	if (t->ncols > 32)
		return;
	for (int i = 0; i < t->ncols; i++) {
		w[i] = utf8_width(t->headers[i]);
		for (size_t r = 0; r < t->nrows; r++) {
			size_t cw = utf8_width(t->cells[r * (size_t)t->ncols + (size_t)i]);

			if (cw > w[i])
				w[i] = cw;
		}
	}
	table_row(t, out, t->headers, w);
	for (size_t r = 0; r < t->nrows; r++)
		table_row(t, out, (const char *const *)&t->cells[r * (size_t)t->ncols], w);
}

void
cli_table_free(struct cli_table *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->nrows * (size_t)t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
}
