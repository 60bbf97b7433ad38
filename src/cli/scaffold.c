/* TEMPORARY scaffolding while the subcommands are written in parallel;
 * each helper deletes its function from here when its own file lands. */
#include <stdio.h>

#include "cli/cli.h"

#define NOT_YET(fn)                                                        \
	int fn(int argc, char **argv)                                      \
	{                                                                  \
		(void)argc;                                                \
		fprintf(stderr, "atrium %s: not built yet\n", argv[0]);    \
		return CLI_FAIL;                                           \
	}

NOT_YET(cmd_keytool)
