/*
 * The client's command lines: option tables that drive the parser and
 * --help, usage lines, subcommand dispatch and number arguments.
 */
#ifndef ATRIUM_CLI_ARGS_H
#define ATRIUM_CLI_ARGS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CLI_OPTS_MAX 16 /* options per command */
#define CLI_POS_MAX 8	/* positional arguments per command */

/*
 * One row per option: the parser, --help and the docs read the same
 * table. A table ends with a row whose name is NULL. --help and -h are
 * always understood and need no row.
 */
struct cli_opt {
	const char *name;  /* long name without the dashes: "plain" */
	char short_name;   /* 'u', or 0 for none */
	const char *arg;   /* the value's name in --help ("USER"); NULL for a flag */
	const char *help;  /* one line for --help */
};

/* What cli_args_parse() found, indexed like the option table. */
struct cli_args {
	const char *val[CLI_OPTS_MAX]; /* an option's value; "" for a given flag; NULL if absent */
	char *pos[CLI_POS_MAX];	       /* the positional arguments, in order */
	int npos;
	int help;		       /* --help or -h was given */
};

/* A command's usage: printed by --help and (its first line) on misuse. */
struct cli_usage {
	const char *cmd;	   /* "atrium project create" */
	const char *args;	   /* "[OPTIONS] NAME" */
	const char *about;	   /* a paragraph; may hold newlines */
	const struct cli_opt *opts;
};

/*
 * Parses argv[1..argc-1] (argv[0] is the command's name) against opts,
 * GNU style: options and positional arguments in any order, "--opt VAL",
 * "--opt=VAL", "-o VAL", "-oVAL", grouped short flags, "--" ends the
 * options, a lone "-" is positional; a repeated option keeps its last
 * value. Returns 0, or -1 with a sentence in msg (unknown option, missing
 * value, value given to a flag, too many arguments). When --help appears,
 * the result is 0 with help set, whatever else is wrong.
 */
int cli_args_parse(const struct cli_opt *opts, int argc, char **argv,
    struct cli_args *out, char *msg, size_t msglen);

/*
 * cli_args_parse() plus what every command does with it: on --help prints
 * the usage on stdout and sets *status to CLI_OK; on a parse error or a
 * number of positional arguments outside [min_pos, max_pos] prints
 * "atrium: ..." and the synopsis on stderr and sets *status to CLI_USAGE.
 * Returns 0 when the command should go on, -1 when it should return
 * *status.
 */
int cli_args_get(const struct cli_usage *u, int argc, char **argv, int min_pos,
    int max_pos, struct cli_args *out, int *status);

/* Prints u as --help shows it. */
void cli_usage_print(FILE *out, const struct cli_usage *u);

/* Prints "atrium: msg" and a pointer to --help on stderr; returns CLI_USAGE. */
int cli_usage_error(const struct cli_usage *u, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* A command with subcommands ("atrium project list"). */
struct cli_sub {
	const char *name;
	int (*run)(int argc, char **argv); /* argv[0] is the subcommand's name */
	const char *summary;
};

/*
 * Runs the subcommand named by argv[1] from subs (a table ending with a
 * NULL name). "--help" lists the subcommands and returns CLI_OK; a missing
 * or unknown subcommand lists them on stderr and returns CLI_USAGE.
 */
int cli_dispatch(const char *cmd, const struct cli_sub *subs, int argc, char **argv);

/*
 * Parses a decimal number in [min, max] with nothing around it (no sign,
 * no spaces, no leading '+'). Returns 0 or -1.
 */
int cli_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

#endif
