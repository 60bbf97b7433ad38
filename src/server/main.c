/* atriumd: command line, then the server. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/types.h>
#include <unistd.h>

#include <event2/thread.h>

#include "atrium/config.h"
#include "atrium/log.h"
#include "server/backup.h"
#include "server/check.h"
#include "server/migrate.h"
#include "server/newca.h"
#include "server/server.h"
#include "server/tlsstate.h"
#include "version.h"

static void
usage(FILE *out)
{
	fprintf(out,
	    "Usage: atriumd --data DIR [--config FILE] [OPTIONS] [COMMAND]\n"
	    "\n"
	    "Serves Atrium projects from DIR (created if missing). Settings live in\n"
	    "DIR/atrium.conf, or the file --config names, written with documented\n"
	    "defaults on first start; the options below override it, and so do\n"
	    "ATRIUM_<KEY> environment variables.\n"
	    "\n"
	    "Options:\n"
	    "  --data DIR          data directory (required)\n"
	    "  --config FILE       settings file (default DIR/atrium.conf); the console saves\n"
	    "                      to it, and every command below reads it\n"
	    "  --bind ADDR         address to listen on (default 127.0.0.1: this machine only)\n"
	    "  --port N            plain API port (default 3579)\n"
	    "  --tls-port N        TLS API port (default 10002)\n"
	    "  --admin-port N      admin console port (default 8443)\n"
	    "  --set KEY=VALUE     any other setting (see --print-defaults)\n"
	    "  --check-config      check the settings and exit\n"
	    "  --print-config      print the effective settings and exit\n"
	    "  --print-defaults    print every setting with its default and exit\n"
	    "  --print-reference   print the settings table as markdown and exit\n"
	    "  --version           print the version and exit\n"
	    "  -h, --help          this text\n"
	    "\n"
	    "Commands:\n"
	    "  reset-tls           drop the tls_keystore settings and re-issue the server\n"
	    "                      certificate from the local CA, which is kept (a running\n"
	    "                      server reloads)\n"
	    "  reset-tls --new-ca  also replace the local CA (its key leaked): a new CA, a new\n"
	    "                      client bundle, the old CA retired; atriumd must be stopped\n"
	    "  migrate --to URL    copy the embedded store of DIR into PostgreSQL at URL\n"
	    "                      (postgresql://...), verifying every revision; re-runnable\n"
	    "  check               verify the store: every revision's content against its\n"
	    "                      SHA-256 and size, the database's consistency (exit 0 clean,\n"
	    "                      1 problems, 2 cannot check); run it with atriumd stopped\n"
	    "  backup DEST         a verified copy of DIR in DEST (new or empty) while atriumd\n"
	    "                      runs: the store as one snapshot, its content, tls/ and the\n"
	    "                      settings file (as atrium.conf); prints a JSON summary\n"
	    "                      (PostgreSQL: this node's files only; the database needs\n"
	    "                      pg_dump or pg_basebackup)\n"
	    "  restore [--force] SRC\n"
	    "                      verify the backup SRC, then put it in DIR's place; refuses\n"
	    "                      while atriumd runs on DIR, and a non-empty DIR unless --force\n"
	    "                      (the old DIR is kept as DIR.before-restore-STAMP); the\n"
	    "                      backup's atrium.conf goes back to the settings file\n"
	    "\n"
	    "First start: the user 'admin' gets the password in ATRIUM_ADMIN_PASSWORD, or a\n"
	    "generated one written to DIR/initial-admin-password (mode 0600).\n"
	    "Signals: SIGHUP re-reads the settings; SIGTERM finishes open requests and exits.\n");
}

/* `atriumd --data DIR reset-tls`: back to a fresh certificate from the
 * local CA; a running server is told to reload. */
static int
reset_tls(const char *datadir, const char *confpath)
{
	struct atr_err err;
	char lock[4200], pid[32] = "";
	FILE *f;
	long p;

	if (tls_reset(datadir, confpath, &err) == -1) {
		fprintf(stderr, "atriumd: reset-tls: %s\n", atr_err_msg(&err));
		return 1;
	}
	printf("Removed the tls_keystore settings from %s and the old server\n"
	       "certificate, which is revoked; the local CA (%s/tls/ca.crt) is kept and\n"
	       "issues a new one when atriumd (re)loads, so clients need no change. For a\n"
	       "leaked CA key, stop atriumd and run reset-tls --new-ca.\n",
	    confpath, datadir);
	snprintf(lock, sizeof(lock), "%s/atriumd.lock", datadir);
	if ((f = fopen(lock, "r")) != NULL) {
		if (fgets(pid, sizeof(pid), f) != NULL && (p = strtol(pid, NULL, 10)) > 1 &&
		    flock(fileno(f), LOCK_SH | LOCK_NB) == -1 && kill((pid_t)p, SIGHUP) == 0)
			printf("Told the running atriumd (pid %ld) to reload.\n", p);
		fclose(f);
	}
	return 0;
}

static int run(const char *datadir, const char *confpath, int argc, char **argv,
    struct atr_config *overrides, int check, int print_config, int force, int new_ca,
    const char *migrate_to);

static int
set_flag(struct atr_config *o, const char *key, const char *value, const char *flag)
{
	struct atr_err err;

	if (atr_config_set(o, key, value, flag, &err) == -1) {
		fprintf(stderr, "atriumd: %s\n", atr_err_msg(&err));
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	enum { O_BIND = 256, O_PORT, O_TLS_PORT, O_ADMIN_PORT, O_SET, O_CHECK, O_PRINT_CONFIG,
		O_PRINT_DEFAULTS, O_PRINT_REFERENCE, O_VERSION, O_TO, O_FORCE, O_NEW_CA, O_CONFIG };
	static const struct option opts[] = {
		{"data", required_argument, NULL, 'd'},
		{"config", required_argument, NULL, O_CONFIG},
		{"bind", required_argument, NULL, O_BIND},
		{"port", required_argument, NULL, O_PORT},
		{"tls-port", required_argument, NULL, O_TLS_PORT},
		{"admin-port", required_argument, NULL, O_ADMIN_PORT},
		{"set", required_argument, NULL, O_SET},
		{"check-config", no_argument, NULL, O_CHECK},
		{"print-config", no_argument, NULL, O_PRINT_CONFIG},
		{"print-defaults", no_argument, NULL, O_PRINT_DEFAULTS},
		{"print-reference", no_argument, NULL, O_PRINT_REFERENCE},
		{"version", no_argument, NULL, O_VERSION},
		{"help", no_argument, NULL, 'h'},
		{"to", required_argument, NULL, O_TO},
		{"force", no_argument, NULL, O_FORCE},
		{"new-ca", no_argument, NULL, O_NEW_CA},
		{NULL, 0, NULL, 0},
	};
	struct atr_config *overrides = atr_config_new();
	const char *datadir = NULL, *migrate_to = NULL, *config = NULL;
	char *confpath = NULL;
	int c, check = 0, print_config = 0, force = 0, new_ca = 0, rc;

	if (overrides == NULL)
		return 1;
	atr_log_detect_journal();
	while ((c = getopt_long(argc, argv, "d:h", opts, NULL)) != -1) {
		char *eq;
		switch (c) {
		case 'd': datadir = optarg; break;
		case O_CONFIG:
			if (optarg[0] == '\0') {
				fprintf(stderr, "atriumd: --config wants a file name\n");
				goto bad_usage;
			}
			config = optarg;
			break;
		case O_BIND: if (set_flag(overrides, "bind", optarg, "--bind")) goto bad_usage; break;
		case O_PORT: if (set_flag(overrides, "port", optarg, "--port")) goto bad_usage; break;
		case O_TLS_PORT:
			if (set_flag(overrides, "tls_port", optarg, "--tls-port"))
				goto bad_usage;
			break;
		case O_ADMIN_PORT:
			if (set_flag(overrides, "admin_port", optarg, "--admin-port"))
				goto bad_usage;
			break;
		case O_SET:
			if ((eq = strchr(optarg, '=')) == NULL) {
				fprintf(stderr, "atriumd: --set wants KEY=VALUE, not '%s'\n", optarg);
				goto bad_usage;
			}
			*eq = '\0';
			if (set_flag(overrides, optarg, eq + 1, "--set"))
				goto bad_usage;
			break;
		case O_TO: migrate_to = optarg; break;
		case O_FORCE: force = 1; break;
		case O_NEW_CA: new_ca = 1; break;
		case O_CHECK: check = 1; break;
		case O_PRINT_CONFIG: print_config = 1; break;
		case O_PRINT_DEFAULTS:
			atr_config_print(overrides, stdout); /* no file: the defaults */
			atr_config_free(overrides);
			return 0;
		case O_PRINT_REFERENCE:
			atr_config_print_markdown(stdout);
			atr_config_free(overrides);
			return 0;
		case O_VERSION:
			printf("atriumd %s\n", ATRIUM_VERSION);
			atr_config_free(overrides);
			return 0;
		case 'h':
			usage(stdout);
			atr_config_free(overrides);
			return 0;
		default:
			usage(stderr);
			atr_config_free(overrides);
			return 2;
		}
	}
	/* The settings file, decided once: every command and the server get
	 * this path and build no other. */
	if (datadir != NULL && (confpath = server_confpath(datadir, config)) == NULL) {
		fprintf(stderr, "atriumd: out of memory\n");
		goto bad_usage;
	}
	rc = run(datadir, confpath, argc, argv, overrides, check, print_config, force, new_ca,
	    migrate_to);
	free(confpath);
	return rc;
bad_usage:
	atr_config_free(overrides);
	return 2;
}

/* What the command line asks for, once the options are read; frees
 * overrides. The process exit status. */
static int
run(const char *datadir, const char *confpath, int argc, char **argv,
    struct atr_config *overrides, int check, int print_config, int force, int new_ca,
    const char *migrate_to)
{
	struct atr_err err;
	struct server *srv;
	int rc;

	if (optind < argc && strcmp(argv[optind], "reset-tls") == 0 && optind + 1 == argc) {
		if (datadir == NULL) {
			fprintf(stderr, "atriumd: reset-tls needs --data DIR\n");
			atr_config_free(overrides);
			return 2;
		}
		atr_config_free(overrides);
		return new_ca ? reset_tls_new_ca(datadir, confpath, stdout) : reset_tls(datadir, confpath);
	}
	if (new_ca) {
		fprintf(stderr, "atriumd: --new-ca goes with reset-tls: atriumd --data DIR reset-tls "
		    "--new-ca\n");
		atr_config_free(overrides);
		return 2;
	}
	if (optind + 1 == argc && strcmp(argv[optind], "check") == 0 && migrate_to == NULL)
		return check_main(datadir, confpath, overrides, stdout); /* frees overrides */
	if (optind + 1 == argc && strcmp(argv[optind], "migrate") == 0)
		return migrate_main(datadir, confpath, migrate_to, overrides); /* frees overrides */
	if (optind + 2 == argc && strcmp(argv[optind], "backup") == 0 && migrate_to == NULL)
		return backup_main(datadir, confpath, argv[optind + 1], overrides); /* frees it */
	if (optind + 2 == argc && strcmp(argv[optind], "restore") == 0 && migrate_to == NULL)
		return restore_main(datadir, confpath, argv[optind + 1], force, overrides);
	if (force) {
		fprintf(stderr, "atriumd: --force goes with restore: atriumd --data DIR restore "
				"--force SRC\n");
		atr_config_free(overrides);
		return 2;
	}
	if (migrate_to != NULL) {
		fprintf(stderr, "atriumd: --to goes with migrate: atriumd --data DIR migrate --to URL\n");
		atr_config_free(overrides);
		return 2;
	}
	if (optind < argc) {
		fprintf(stderr, "atriumd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		atr_config_free(overrides);
		return 2;
	}
	if (datadir == NULL) {
		fprintf(stderr, "atriumd: --data DIR is required (e.g. atriumd --data ./atrium-data)\n");
		atr_config_free(overrides);
		return 2;
	}
	if (check || print_config) {
		struct atr_config *cfg = server_load_config(confpath, overrides, CONF_REQUIRED, &err);
		if (cfg == NULL && err.code != ATR_E_NOT_FOUND) {
			fprintf(stderr, "atriumd: %s\n", atr_err_msg(&err));
			atr_config_free(overrides);
			return 1;
		}
		if (cfg == NULL) {
			/* No file yet: defaults, environment and flags. */
			cfg = atr_config_new();
			if (atr_config_load_env(cfg, &err) == -1 ||
			    atr_config_merge(cfg, overrides, &err) == -1) {
				fprintf(stderr, "atriumd: %s\n", atr_err_msg(&err));
				atr_config_free(cfg);
				atr_config_free(overrides);
				return 1;
			}
		}
		if (print_config)
			atr_config_print(cfg, stdout);
		else
			printf("atriumd: the settings for %s are valid (%s%s)\n", datadir, confpath,
			    access(confpath, F_OK) == 0 ? "" : ": not there yet, the defaults");
		atr_config_free(cfg);
		atr_config_free(overrides);
		return 0;
	}

	signal(SIGPIPE, SIG_IGN);
	evthread_use_pthreads();
	atr_info("atriumd %s starting with data in %s, settings in %s", ATRIUM_VERSION, datadir,
	    confpath);
	if ((srv = server_new(datadir, confpath, overrides, &err)) == NULL) {
		atr_error("cannot start: %s", atr_err_msg(&err));
		return 1;
	}
	rc = server_run(srv);
	server_free(srv);
	return rc;
}
