/* atrium: the command-line client. Dispatches to one subcommand. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "version.h"

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
	{"login", cmd_login, "log in to a server and keep the session"},
	{"logout", cmd_logout, "end the session"},
	{"project", cmd_project, "list, create, delete projects; show a project's log"},
	{"commit", cmd_commit, "commit a file as a project's next revision"},
	{"checkout", cmd_checkout, "download a revision of a project"},
	{"branch", cmd_branch, "list, create, delete a project's branches"},
	{"tag", cmd_tag, "create, list, delete tags on revisions"},
	{"lock", cmd_lock, "lock elements of a project (all or none)"},
	{"unlock", cmd_unlock, "release element locks"},
	{"locks", cmd_locks, "list a project's element locks"},
	{"watch", cmd_watch, "print the server's change events as they happen"},
	{"user", cmd_user, "add, list, delete users; change a password"},
	{"keytool", cmd_keytool, "Java keytool's commands, without Java"},
	{"certs", cmd_certs, "the Server Certificates tool: show, trust, import, list, remove"},
	{"ca", cmd_ca, "your own root CA: init, issue server keystores, export the root"},
	{"admin", cmd_admin, "server settings from the command line: TLS, keystore, plain port"},
	{NULL, NULL, NULL},
};

static void
usage(FILE *out)
{
	fprintf(out, "Usage: atrium COMMAND [ARGS...]\n\nCommands:\n");
	for (const struct command *c = commands; c->name != NULL; c++)
		fprintf(out, "  %-10s %s\n", c->name, c->summary);
	fprintf(out, "\nRun 'atrium COMMAND --help' for a command's options.\n"
	    "Environment: ATRIUM_HOME (default ~/.atrium) holds the session and the\n"
	    "trust store certs/cert.jks; ATRIUM_PASSWORD gives the password to login.\n");
}

int
main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return CLI_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return CLI_OK;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
		printf("atrium %s\n", ATRIUM_VERSION);
		return CLI_OK;
	}
	for (const struct command *c = commands; c->name != NULL; c++)
		if (strcmp(argv[1], c->name) == 0)
			return c->run(argc - 1, argv + 1);
	fprintf(stderr, "atrium: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return CLI_USAGE;
}
