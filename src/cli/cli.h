/*
 * The atrium command's subcommands. Each takes the arguments after its
 * name (argv[0] is the subcommand's name) and returns the exit status:
 * 0 ok, 1 failure, 2 usage error.
 */
#ifndef ATRIUM_CLI_H
#define ATRIUM_CLI_H

#include <stddef.h>
#include <stdint.h>

#define CLI_OK 0
#define CLI_FAIL 1
#define CLI_USAGE 2

int cmd_login(int argc, char **argv);
int cmd_logout(int argc, char **argv);
int cmd_project(int argc, char **argv);
int cmd_commit(int argc, char **argv);
int cmd_checkout(int argc, char **argv);
int cmd_watch(int argc, char **argv);
int cmd_user(int argc, char **argv);
int cmd_keytool(int argc, char **argv);
int cmd_certs(int argc, char **argv);
int cmd_ca(int argc, char **argv);
int cmd_admin(int argc, char **argv);
int cmd_branch(int argc, char **argv);
int cmd_tag(int argc, char **argv);
int cmd_lock(int argc, char **argv);
int cmd_unlock(int argc, char **argv);
int cmd_locks(int argc, char **argv);

/* "BRANCH" or "BRANCH:REV" (cmd_branch.c): *rev is -1 without ":REV". */
int cli_parse_branch_rev(const char *text, char *branch, size_t n, int64_t *rev);

#endif
