/* The client's option parser, --help and subcommand dispatch. See args.h. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"

static int
opt_long(const struct cli_opt *opts, const char *name, size_t len)
{
	for (int i = 0; opts[i].name != NULL; i++)
		if (strlen(opts[i].name) == len && strncmp(opts[i].name, name, len) == 0)
			return i;
	return -1;
}

static int
opt_short(const struct cli_opt *opts, char c)
{
	for (int i = 0; opts[i].name != NULL; i++)
		if (opts[i].short_name != 0 && opts[i].short_name == c)
			return i;
	return -1;
}

int
cli_args_parse(const struct cli_opt *opts, int argc, char **argv,
    struct cli_args *out, char *msg, size_t msglen)
{
	int only_pos = 0, bad = 0, nopts = 0;

	memset(out, 0, sizeof(*out));
	msg[0] = '\0';
	while (opts[nopts].name != NULL)
		nopts++;
	if (nopts > CLI_OPTS_MAX) {
		snprintf(msg, msglen, "internal error: too many options");
		return -1;
	}
/* Keeps the first error, and scans on: a later --help still wins. */
#define ARG_FAIL(...)                                                          \
	do {                                                                   \
		if (!bad)                                                      \
			snprintf(msg, msglen, __VA_ARGS__);                    \
		bad = 1;                                                       \
	} while (0)
	for (int i = 1; i < argc; i++) {
		char *a = argv[i];

		if (only_pos || a[0] != '-' || a[1] == '\0') {
			if (out->npos == CLI_POS_MAX)
				ARG_FAIL("too many arguments");
			else
				out->pos[out->npos++] = a;
			continue;
		}
		if (strcmp(a, "--") == 0) {
			only_pos = 1;
			continue;
		}
		if (a[1] == '-') {
			const char *name = a + 2, *eq = strchr(name, '=');
			size_t len = eq != NULL ? (size_t)(eq - name) : strlen(name);
			int k = opt_long(opts, name, len);

			if (k < 0 && eq == NULL && strcmp(name, "help") == 0) {
				out->help = 1;
				continue;
			}
			if (k < 0) {
				ARG_FAIL("unknown option '--%.*s'", (int)len, name);
				continue;
			}
			if (opts[k].arg == NULL) {
				if (eq != NULL)
					ARG_FAIL("option '--%s' takes no value", opts[k].name);
				out->val[k] = "";
			} else if (eq != NULL) {
				out->val[k] = eq + 1;
			} else if (i + 1 < argc) {
				out->val[k] = argv[++i];
			} else {
				ARG_FAIL("option '--%s' needs a value (%s)", opts[k].name,
				    opts[k].arg);
			}
			continue;
		}
		for (const char *c = a + 1; *c != '\0'; c++) {
			int k = opt_short(opts, *c);

			if (k < 0 && *c == 'h') {
				out->help = 1;
				continue;
			}
			if (k < 0) {
				ARG_FAIL("unknown option '-%c'", *c);
				break;
			}
			if (opts[k].arg == NULL) {
				out->val[k] = "";
				continue;
			}
			if (c[1] != '\0')
				out->val[k] = c + 1;
			else if (i + 1 < argc)
				out->val[k] = argv[++i];
			else
				ARG_FAIL("option '-%c' needs a value (%s)", *c, opts[k].arg);
			break;
		}
	}
#undef ARG_FAIL
	if (out->help) {
		msg[0] = '\0';
		return 0;
	}
	return bad ? -1 : 0;
}

/* Prints text from column indent, wrapped before column 79. */
static void
help_wrapped(FILE *out, const char *text, int indent)
{
	int col = indent - 2, width = 79 - indent;
	const char *p = text;

	if (width < 30)
		width = 30;
	while (*p != '\0') {
		int n = (int)strcspn(p, " ");

		if (col > indent - 2 && col + 1 + n > indent + width) {
			fprintf(out, "\n%*s", indent, "");
			col = indent;
		} else {
			fputs(col == indent - 2 ? "  " : " ", out);
			col += col == indent - 2 ? 2 : 1;
		}
		fprintf(out, "%.*s", n, p);
		col += n;
		p += n;
		while (*p == ' ')
			p++;
	}
	fputc('\n', out);
}

void
cli_usage_print(FILE *out, const struct cli_usage *u)
{
	char left[128];
	int w = 0;

	fprintf(out, "Usage: %s %s\n", u->cmd, u->args);
	if (u->about != NULL)
		fprintf(out, "\n%s\n", u->about);
	fprintf(out, "\nOptions:\n");
	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0;; i++) {
			const struct cli_opt *o = &u->opts[i];
			char sh[8] = "    ";
			int n;

			if (o->name == NULL) {
				if (pass == 0)
					break;
				snprintf(left, sizeof(left), "-h, --help");
				fprintf(out, "  %-*s  %s\n", w, left, "show this help and exit");
				break;
			}
			if (o->short_name != 0)
				snprintf(sh, sizeof(sh), "-%c, ", o->short_name);
			n = snprintf(left, sizeof(left), "%s--%s%s%s", sh, o->name,
			    o->arg != NULL ? " " : "", o->arg != NULL ? o->arg : "");
			if (pass == 0) {
				if (n > w)
					w = n;
				continue;
			}
			fprintf(out, "  %-*s", w, left);
			help_wrapped(out, o->help, w + 4);
		}
		if (w > 30)
			w = 30;
	}
}

int
cli_usage_error(const struct cli_usage *u, const char *fmt, ...)
{
	va_list ap;

	fputs("atrium: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nUsage: %s %s\nRun '%s --help' for more.\n", u->cmd, u->args,
	    u->cmd);
	return CLI_USAGE;
}

int
cli_args_get(const struct cli_usage *u, int argc, char **argv, int min_pos,
    int max_pos, struct cli_args *out, int *status)
{
	char msg[256];

	if (cli_args_parse(u->opts, argc, argv, out, msg, sizeof(msg)) == -1) {
		*status = cli_usage_error(u, "%s", msg);
		return -1;
	}
	if (out->help) {
		cli_usage_print(stdout, u);
		*status = CLI_OK;
		return -1;
	}
	if (out->npos < min_pos) {
		*status = cli_usage_error(u, "missing arguments");
		return -1;
	}
	if (out->npos > max_pos) {
		*status = cli_usage_error(u, "unexpected argument '%s'", out->pos[max_pos]);
		return -1;
	}
	return 0;
}

static void
sub_list(FILE *out, const char *cmd, const struct cli_sub *subs)
{
	int w = 8;

	/* One column for the summaries, as wide as the longest name needs. */
	for (const struct cli_sub *s = subs; s->name != NULL; s++)
		if ((int)strlen(s->name) > w)
			w = (int)strlen(s->name);
	fprintf(out, "Usage: %s COMMAND [ARGS...]\n\nCommands:\n", cmd);
	for (const struct cli_sub *s = subs; s->name != NULL; s++)
		fprintf(out, "  %-*s  %s\n", w, s->name, s->summary);
	fprintf(out, "\nRun '%s COMMAND --help' for a command's options.\n", cmd);
}

int
cli_dispatch(const char *cmd, const struct cli_sub *subs, int argc, char **argv)
{
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0)) {
		sub_list(stdout, cmd, subs);
		return CLI_OK;
	}
	if (argc < 2) {
		fprintf(stderr, "atrium: '%s' needs a command\n", cmd);
		sub_list(stderr, cmd, subs);
		return CLI_USAGE;
	}
	for (const struct cli_sub *s = subs; s->name != NULL; s++)
		if (strcmp(argv[1], s->name) == 0)
			return s->run(argc - 1, argv + 1);
	fprintf(stderr, "atrium: unknown command '%s %s'\n", cmd, argv[1]);
	sub_list(stderr, cmd, subs);
	return CLI_USAGE;
}

int
cli_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (s == NULL || *s == '\0' || strlen(s) > 20)
		return -1;
	for (const char *p = s; *p != '\0'; p++) {
		unsigned d;

		if (*p < '0' || *p > '9')
			return -1;
		d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	if (v < min || v > max)
		return -1;
	*out = v;
	return 0;
}
