/*
 * atrium keytool: Java 17's keytool command line, its prompts, listings and
 * messages, without Java. This file holds the option and command tables
 * (which drive the parser, -help and the run sequence), the parser, -help
 * and the run sequence of keytool's Main (check options, open the
 * keystore, ask for passwords, run, save, warn); the commands live in
 * keytool_show.c, keytool_make.c and keytool_edit.c, the helpers they
 * share in keytool_util.c.
 */
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atrium/util.h"
#include "cli/cli.h"
#include "cli/keytool_int.h"

/* ------------------------------------------------------------- tables */

/* keytool's options (Main.Option), in Java's order; after O_END the ones
 * Main accepts but -help does not list. */
enum kt_opt {
	O_ALIAS, O_CURVENAME, O_DESTALIAS, O_DESTKEYPASS, O_DESTKEYSTORE, O_DESTPROTECTED,
	O_DESTPROVIDERNAME, O_DESTSTOREPASS, O_DESTSTORETYPE, O_DNAME, O_EXT, O_FILEOUT,
	O_FILEIN, O_ID, O_INFILE, O_KEYALG, O_KEYPASS, O_KEYSIZE, O_KEYSTORE, O_CACERTS,
	O_NEW, O_NOPROMPT, O_OUTFILE, O_PROTECTED, O_PROVIDERCLASS, O_ADDPROVIDER,
	O_PROVIDERNAME, O_PROVIDERPATH, O_RFC, O_SIGALG, O_SIGNER, O_SIGNERKEYPASS,
	O_SRCALIAS, O_SRCKEYPASS, O_SRCKEYSTORE, O_SRCPROTECTED, O_SRCPROVIDERNAME,
	O_SRCSTOREPASS, O_SRCSTORETYPE, O_SSLSERVER, O_JARFILE, O_STARTDATE, O_STOREPASS,
	O_STORETYPE, O_TLS, O_TRUSTCACERTS, O_V, O_VALIDITY, O_END,
	O_PROVIDERARG, O_NOWARN, O_DEBUG, O_CONF, O_HELP, O_HELP_H, O_HELP_Q, O_HELP_DASH,
	O_NOPTS,
};

/* What parse_args() does with an option. */
enum opt_kind {
	K_NONE,     /* accepted, nothing to do */
	K_FLAG,     /* sets the int at off to 1 */
	K_STR,      /* the next argument, kept in the const char * at off */
	K_SECRET,   /* the next argument or its :env/:file, owned by the char * at off */
	K_TYPE,     /* the next argument upper-cased into buf, pointed to by off */
	K_INT,      /* the next argument as a Java int, into the int at off */
	K_LLONG,    /* the next argument as a Java long, into the long long at off */
	K_EXT,      /* the next argument, appended to exts[] */
	K_SKIP,     /* the next argument, ignored */
	K_PROVIDER, /* the next argument and an optional -providerarg <arg>, ignored */
	K_ILLEGAL,  /* only valid right after another option (-providerarg) */
	K_CONF,     /* skips the next argument, which may be missing */
	K_HELP,     /* shows the help */
};

#define F(field) offsetof(struct kt, field)

/* K_TYPE copies into either buffer with one size. */
_Static_assert(sizeof(((struct kt *)0)->typebuf) == sizeof(((struct kt *)0)->srctypebuf),
    "type buffers differ");

static const struct opt {
	const char *name;  /* without the dash */
	const char *arg;   /* shown in -help; NULL: takes no value */
	const char *help;
	enum opt_kind kind;
	size_t off, buf;   /* fields of struct kt, see enum opt_kind */
	const char *alt;   /* another name Main accepts */
	int repeat;        /* may repeat without Java's "specified multiple times" */
} opts[O_NOPTS] = {
	[O_ALIAS] = {"alias", "<alias>", "alias name of the entry to process",
	    .kind = K_STR, .off = F(alias)},
	[O_CURVENAME] = {"groupname", "<name>", "Group name. For example, an Elliptic Curve name.",
	    .kind = K_STR, .off = F(groupname)},
	[O_DESTALIAS] = {"destalias", "<alias>", "destination alias",
	    .kind = K_STR, .off = F(dest), .alt = "dest"},
	[O_DESTKEYPASS] = {"destkeypass", "<arg>", "destination key password",
	    .kind = K_SECRET, .off = F(destkeypass)},
	[O_DESTKEYSTORE] = {"destkeystore", "<keystore>", "destination keystore name",
	    .kind = K_STR, .off = F(ksfname)},
	[O_DESTPROTECTED] = {"destprotected", NULL, "destination keystore password protected",
	    .kind = K_FLAG, .off = F(protected_path)},
	[O_DESTPROVIDERNAME] = {"destprovidername", "<name>", "destination keystore provider name",
	    .kind = K_SKIP},
	[O_DESTSTOREPASS] = {"deststorepass", "<arg>", "destination keystore password",
	    .kind = K_SECRET, .off = F(storepass)},
	[O_DESTSTORETYPE] = {"deststoretype", "<type>", "destination keystore type",
	    .kind = K_TYPE, .off = F(storetype), .buf = F(typebuf)},
	[O_DNAME] = {"dname", "<name>", "distinguished name",
	    .kind = K_STR, .off = F(dname)},
	[O_EXT] = {"ext", "<value>", "X.509 extension",
	    .kind = K_EXT, .repeat = 1},
	[O_FILEOUT] = {"file", "<file>", "output file name",
	    .kind = K_STR, .off = F(file)},
	[O_FILEIN] = {"file", "<file>", "input file name",
	    .kind = K_STR, .off = F(file)},
	[O_ID] = {"id", "<id:reason>", "Serial ID of cert to revoke",
	    .kind = K_SKIP, .repeat = 1},
	[O_INFILE] = {"infile", "<file>", "input file name",
	    .kind = K_STR, .off = F(infile)},
	[O_KEYALG] = {"keyalg", "<alg>", "key algorithm name",
	    .kind = K_STR, .off = F(keyalg)},
	[O_KEYPASS] = {"keypass", "<arg>", "key password",
	    .kind = K_SECRET, .off = F(keypass)},
	[O_KEYSIZE] = {"keysize", "<size>", "key bit size",
	    .kind = K_INT, .off = F(keysize)},
	[O_KEYSTORE] = {"keystore", "<keystore>", "keystore name",
	    .kind = K_STR, .off = F(ksfname)},
	[O_CACERTS] = {"cacerts", NULL, "access the cacerts keystore",
	    .kind = K_FLAG, .off = F(cacerts)},
	[O_NEW] = {"new", "<arg>", "new password",
	    .kind = K_SECRET, .off = F(newpass)},
	[O_NOPROMPT] = {"noprompt", NULL, "do not prompt",
	    .kind = K_FLAG, .off = F(noprompt)},
	[O_OUTFILE] = {"outfile", "<file>", "output file name",
	    .kind = K_STR, .off = F(outfile)},
	[O_PROTECTED] = {"protected", NULL, "password through protected mechanism",
	    .kind = K_FLAG, .off = F(protected_path)},
	[O_PROVIDERCLASS] = {"providerclass", "<class>\n[-providerarg <arg>]",
	    "add security provider by fully-qualified class name\n"
	    "configure argument for -providerclass",
	    .kind = K_PROVIDER, .alt = "provider", .repeat = 1},
	[O_ADDPROVIDER] = {"addprovider", "<name>\n[-providerarg <arg>]",
	    "add security provider by name (e.g. SunPKCS11)\nconfigure argument for -addprovider",
	    .kind = K_PROVIDER, .repeat = 1},
	[O_PROVIDERNAME] = {"providername", "<name>", "provider name",
	    .kind = K_SKIP},
	[O_PROVIDERPATH] = {"providerpath", "<list>", "provider classpath",
	    .kind = K_SKIP},
	[O_RFC] = {"rfc", NULL, "output in RFC style",
	    .kind = K_FLAG, .off = F(rfc)},
	[O_SIGALG] = {"sigalg", "<alg>", "signature algorithm name",
	    .kind = K_STR, .off = F(sigalg)},
	[O_SIGNER] = {"signer", "<alias>", "signer alias",
	    .kind = K_STR, .off = F(signer)},
	[O_SIGNERKEYPASS] = {"signerkeypass", "<arg>", "signer key password",
	    .kind = K_SECRET, .off = F(signerkeypass)},
	[O_SRCALIAS] = {"srcalias", "<alias>", "source alias",
	    .kind = K_STR, .off = F(alias)},
	[O_SRCKEYPASS] = {"srckeypass", "<arg>", "source key password",
	    .kind = K_SECRET, .off = F(srckeypass)},
	[O_SRCKEYSTORE] = {"srckeystore", "<keystore>", "source keystore name",
	    .kind = K_STR, .off = F(srcksfname)},
	[O_SRCPROTECTED] = {"srcprotected", NULL, "source keystore password protected",
	    .kind = K_FLAG, .off = F(srcprotected)},
	[O_SRCPROVIDERNAME] = {"srcprovidername", "<name>", "source keystore provider name",
	    .kind = K_SKIP},
	[O_SRCSTOREPASS] = {"srcstorepass", "<arg>", "source keystore password",
	    .kind = K_SECRET, .off = F(srcstorepass)},
	[O_SRCSTORETYPE] = {"srcstoretype", "<type>", "source keystore type",
	    .kind = K_TYPE, .off = F(srcstoretype), .buf = F(srctypebuf)},
	[O_SSLSERVER] = {"sslserver", "<server[:port]>", "SSL server host and port",
	    .kind = K_STR, .off = F(sslserver)},
	[O_JARFILE] = {"jarfile", "<file>", "signed jar file",
	    .kind = K_STR, .off = F(jarfile)},
	[O_STARTDATE] = {"startdate", "<date>", "certificate validity start date/time",
	    .kind = K_STR, .off = F(startdate)},
	[O_STOREPASS] = {"storepass", "<arg>", "keystore password",
	    .kind = K_SECRET, .off = F(storepass)},
	[O_STORETYPE] = {"storetype", "<type>", "keystore type",
	    .kind = K_TYPE, .off = F(storetype), .buf = F(typebuf)},
	[O_TLS] = {"tls", NULL, "Displays TLS configuration information",
	    .kind = K_NONE},
	[O_TRUSTCACERTS] = {"trustcacerts", NULL, "trust certificates from cacerts",
	    .kind = K_FLAG, .off = F(trustcacerts)},
	[O_V] = {"v", NULL, "verbose output",
	    .kind = K_FLAG, .off = F(verbose)},
	[O_VALIDITY] = {"validity", "<days>", "validity number of days",
	    .kind = K_LLONG, .off = F(validity)},
	[O_PROVIDERARG] = {"providerarg", NULL, NULL, .kind = K_ILLEGAL, .repeat = 1},
	[O_NOWARN] = {"nowarn", NULL, NULL, .kind = K_FLAG, .off = F(nowarn)},
	[O_DEBUG] = {"debug", NULL, NULL, .kind = K_NONE}, /* no debug output */
	[O_CONF] = {"conf", NULL, NULL, .kind = K_CONF},
	[O_HELP] = {"help", NULL, NULL, .kind = K_HELP},
	[O_HELP_H] = {"h", NULL, NULL, .kind = K_HELP},
	[O_HELP_Q] = {"?", NULL, NULL, .kind = K_HELP},
	[O_HELP_DASH] = {"-help", NULL, NULL, .kind = K_HELP},
};

#undef F

#define P_STD O_PROVIDERNAME, O_ADDPROVIDER, O_PROVIDERCLASS, O_PROVIDERPATH

static int import_keystore(struct kt *kt);

/* What a command needs from the run sequence. */
enum {
	C_UNSUPPORTED = 1 << 0, /* atrium keytool does not implement it */
	C_MAY_CREATE = 1 << 1,  /* runs without an existing keystore file */
	C_MODIFIES = 1 << 2,    /* writes the store: asks twice for a new password */
	C_NO_STORE = 1 << 3,    /* runs before the keystore is opened */
};

/* keytool's commands (Main.Command): name, alternative name, -help text,
 * options in -help order (ending in O_END), the function that runs it and
 * the C_* flags. */
static const struct cmd {
	const char *name, *alt, *help;
	enum kt_opt opts[32];
	int (*run)(struct kt *kt);
	unsigned flags;
} cmds[KT_NCMDS] = {
	[KT_CERTREQ] = {"-certreq", NULL, "Generates a certificate request",
	    {O_ALIAS, O_SIGALG, O_FILEOUT, O_KEYPASS, O_KEYSTORE, O_DNAME, O_EXT, O_STOREPASS,
	    O_STORETYPE, P_STD, O_V, O_PROTECTED, O_END},
	    kt_do_certreq, C_MODIFIES},
	[KT_CHANGEALIAS] = {"-changealias", NULL, "Changes an entry's alias",
	    {O_ALIAS, O_DESTALIAS, O_KEYPASS, O_KEYSTORE, O_CACERTS, O_STOREPASS, O_STORETYPE,
	    P_STD, O_V, O_PROTECTED, O_END},
	    kt_do_changealias, C_MODIFIES},
	[KT_DELETE] = {"-delete", NULL, "Deletes an entry",
	    {O_ALIAS, O_KEYSTORE, O_CACERTS, O_STOREPASS, O_STORETYPE, P_STD, O_V, O_PROTECTED,
	    O_END},
	    kt_do_delete, C_MODIFIES},
	[KT_EXPORTCERT] = {"-exportcert", "-export", "Exports certificate",
	    {O_RFC, O_ALIAS, O_FILEOUT, O_KEYSTORE, O_CACERTS, O_STOREPASS, O_STORETYPE, P_STD,
	    O_V, O_PROTECTED, O_END},
	    kt_do_exportcert, 0},
	[KT_GENKEYPAIR] = {"-genkeypair", "-genkey", "Generates a key pair",
	    {O_ALIAS, O_KEYALG, O_KEYSIZE, O_CURVENAME, O_SIGALG, O_DNAME, O_STARTDATE, O_EXT,
	    O_VALIDITY, O_KEYPASS, O_KEYSTORE, O_SIGNER, O_SIGNERKEYPASS, O_STOREPASS,
	    O_STORETYPE, P_STD, O_V, O_PROTECTED, O_END},
	    kt_do_genkeypair, C_MAY_CREATE | C_MODIFIES},
	[KT_GENSECKEY] = {"-genseckey", NULL, "Generates a secret key",
	    {O_ALIAS, O_KEYPASS, O_KEYALG, O_KEYSIZE, O_KEYSTORE, O_STOREPASS, O_STORETYPE,
	    P_STD, O_V, O_PROTECTED, O_END},
	    NULL, C_UNSUPPORTED | C_MAY_CREATE | C_MODIFIES},
	[KT_GENCERT] = {"-gencert", NULL, "Generates certificate from a certificate request",
	    {O_RFC, O_INFILE, O_OUTFILE, O_ALIAS, O_SIGALG, O_DNAME, O_STARTDATE, O_EXT,
	    O_VALIDITY, O_KEYPASS, O_KEYSTORE, O_STOREPASS, O_STORETYPE, P_STD, O_V,
	    O_PROTECTED, O_END},
	    kt_do_gencert, 0},
	[KT_IMPORTCERT] = {"-importcert", "-import", "Imports a certificate or a certificate chain",
	    {O_NOPROMPT, O_TRUSTCACERTS, O_PROTECTED, O_ALIAS, O_FILEIN, O_KEYPASS, O_KEYSTORE,
	    O_CACERTS, O_STOREPASS, O_STORETYPE, P_STD, O_V, O_END},
	    kt_do_importcert, C_MAY_CREATE | C_MODIFIES},
	[KT_IMPORTPASS] = {"-importpass", "-importpassword", "Imports a password",
	    {O_ALIAS, O_KEYPASS, O_KEYALG, O_KEYSIZE, O_KEYSTORE, O_STOREPASS, O_STORETYPE,
	    P_STD, O_V, O_PROTECTED, O_END},
	    NULL, C_UNSUPPORTED | C_MAY_CREATE | C_MODIFIES},
	[KT_IMPORTKEYSTORE] = {"-importkeystore", NULL,
	    "Imports one or all entries from another keystore",
	    {O_SRCKEYSTORE, O_DESTKEYSTORE, O_SRCSTORETYPE, O_DESTSTORETYPE, O_SRCSTOREPASS,
	    O_DESTSTOREPASS, O_SRCPROTECTED, O_DESTPROTECTED, O_SRCPROVIDERNAME,
	    O_DESTPROVIDERNAME, O_SRCALIAS, O_DESTALIAS, O_SRCKEYPASS, O_DESTKEYPASS,
	    O_NOPROMPT, O_ADDPROVIDER, O_PROVIDERCLASS, O_PROVIDERPATH, O_V, O_END},
	    import_keystore, C_MAY_CREATE | C_MODIFIES},
	[KT_KEYPASSWD] = {"-keypasswd", NULL, "Changes the key password of an entry",
	    {O_ALIAS, O_KEYPASS, O_NEW, O_KEYSTORE, O_STOREPASS, O_STORETYPE, P_STD, O_V, O_END},
	    kt_do_keypasswd, C_MODIFIES},
	[KT_LIST] = {"-list", NULL, "Lists entries in a keystore",
	    {O_RFC, O_ALIAS, O_KEYSTORE, O_CACERTS, O_STOREPASS, O_STORETYPE, P_STD, O_V,
	    O_PROTECTED, O_END},
	    kt_do_list, 0},
	[KT_PRINTCERT] = {"-printcert", NULL, "Prints the content of a certificate",
	    {O_RFC, O_FILEIN, O_SSLSERVER, O_JARFILE, O_KEYSTORE, O_STOREPASS, O_STORETYPE,
	    O_TRUSTCACERTS, P_STD, O_V, O_PROTECTED, O_END},
	    kt_do_printcert, C_MAY_CREATE | C_NO_STORE},
	[KT_PRINTCERTREQ] = {"-printcertreq", NULL, "Prints the content of a certificate request",
	    {O_FILEIN, O_V, O_END},
	    kt_do_printcertreq, C_NO_STORE},
	[KT_PRINTCRL] = {"-printcrl", NULL, "Prints the content of a CRL file",
	    {O_FILEIN, O_KEYSTORE, O_STOREPASS, O_STORETYPE, O_TRUSTCACERTS, P_STD, O_V,
	    O_PROTECTED, O_END},
	    NULL, C_UNSUPPORTED | C_MAY_CREATE},
	[KT_STOREPASSWD] = {"-storepasswd", NULL, "Changes the store password of a keystore",
	    {O_NEW, O_KEYSTORE, O_CACERTS, O_STOREPASS, O_STORETYPE, O_PROVIDERNAME,
	    O_ADDPROVIDER, O_PROVIDERCLASS, O_PROVIDERPATH, O_V, O_END},
	    kt_do_storepasswd, C_MODIFIES},
	[KT_SHOWINFO] = {"-showinfo", NULL, "Displays security-related information",
	    {O_TLS, O_V, O_END},
	    NULL, C_UNSUPPORTED},
	[KT_KEYCLONE] = {"-keyclone", NULL, "Clones a key entry",
	    {O_ALIAS, O_DESTALIAS, O_KEYPASS, O_NEW, O_STORETYPE, O_KEYSTORE, O_STOREPASS,
	    P_STD, O_V, O_END},
	    NULL, C_UNSUPPORTED | C_MODIFIES},
	[KT_SELFCERT] = {"-selfcert", NULL, "Generates a self-signed certificate",
	    {O_ALIAS, O_SIGALG, O_DNAME, O_STARTDATE, O_EXT, O_VALIDITY, O_KEYPASS, O_STORETYPE,
	    O_KEYSTORE, O_STOREPASS, P_STD, O_V, O_END},
	    NULL, C_UNSUPPORTED | C_MODIFIES},
	[KT_GENCRL] = {"-gencrl", NULL, "Generates CRL",
	    {O_RFC, O_FILEOUT, O_ID, O_ALIAS, O_SIGALG, O_KEYPASS, O_KEYSTORE, O_STOREPASS,
	    O_STORETYPE, P_STD, O_V, O_PROTECTED, O_END},
	    NULL, C_UNSUPPORTED},
	[KT_IDENTITYDB] = {"-identitydb", NULL,
	    "Imports entries from a JDK 1.1.x-style identity database",
	    {O_FILEIN, O_STORETYPE, O_KEYSTORE, O_STOREPASS, P_STD, O_V, O_END},
	    NULL, C_UNSUPPORTED | C_MAY_CREATE | C_MODIFIES},
};

/* --------------------------------------------------------------- help */

static void
usage(enum kt_cmd c)
{
	if (c != KT_NONE) {
		const struct cmd *cmd = &cmds[c];
		size_t left = 0;

		fprintf(stderr, "keytool %s [OPTION]...\n\n%s\n\nOptions:\n\n", cmd->name, cmd->help);
		for (int j = 0; cmd->opts[j] != O_END; j++) {
			const struct opt *o = &opts[cmd->opts[j]];
			size_t first = 1 + strlen(o->name);

			if (o->arg != NULL) {
				const char *nl = strchr(o->arg, '\n');

				first += 1 + (nl ? (size_t)(nl - o->arg) : strlen(o->arg));
				if (nl != NULL && strlen(nl + 1) > left)
					left = strlen(nl + 1);
			}
			if (first > left)
				left = first;
		}
		for (int j = 0; cmd->opts[j] != O_END; j++) {
			const struct opt *o = &opts[cmd->opts[j]];
			char l1[128], l2[128] = "", r1[256], r2[256] = "";
			const char *nl;

			snprintf(l1, sizeof(l1), "-%s%s", o->name, o->arg ? " " : "");
			if (o->arg != NULL) {
				nl = strchr(o->arg, '\n');
				snprintf(l1 + strlen(l1), sizeof(l1) - strlen(l1), "%.*s",
				    nl ? (int)(nl - o->arg) : (int)strlen(o->arg), o->arg);
				if (nl != NULL)
					snprintf(l2, sizeof(l2), "%s", nl + 1);
			}
			nl = strchr(o->help, '\n');
			snprintf(r1, sizeof(r1), "%.*s", nl ? (int)(nl - o->help) : (int)strlen(o->help),
			    o->help);
			if (nl != NULL)
				snprintf(r2, sizeof(r2), "%s", nl + 1);
			fprintf(stderr, " %-*s  %s\n", (int)left, l1, r1);
			if (l2[0] && r2[0])
				fprintf(stderr, "   %-*s  %s\n", (int)left, l2, r2);
		}
		fputs("\nUse \"keytool -?, -h, or --help\" for this help message\n", stderr);
	} else {
		fputs("Key and Certificate Management Tool\n\nCommands:\n\n", stderr);
		for (int i = 0; i < KT_KEYCLONE; i++)
			fprintf(stderr, " %-20s%s\n", cmds[i].name, cmds[i].help);
		fputs("\nUse \"keytool -?, -h, or --help\" for this help message\n"
		    "Use \"keytool -command_name --help\" for usage of command_name.\n"
		    "Use the -conf <url> option to specify a pre-configured options file.\n", stderr);
	}
	fflush(stderr);
}

/* --------------------------------------------------------- arguments */

static enum kt_cmd
find_cmd(const char *flag)
{
	for (int i = 0; i < KT_NCMDS; i++)
		if (strcasecmp(flag, cmds[i].name) == 0 ||
		    (cmds[i].alt != NULL && strcasecmp(flag, cmds[i].alt) == 0))
			return (enum kt_cmd)i;
	return KT_NONE;
}

/* KeyStoreUtil.getPassWithModifier(): the value itself, or :env / :file. */
static char *
get_pass(const char *modifier, const char *arg, int *bad)
{
	*bad = 0;
	if (modifier == NULL)
		return strdup(arg);
	if (strcasecmp(modifier, "env") == 0) {
		const char *v = getenv(arg);

		if (v == NULL) {
			fprintf(stderr, "Cannot find environment variable: %s\n", arg);
			*bad = 1;
			return NULL;
		}
		return strdup(v);
	}
	if (strcasecmp(modifier, "file") == 0) {
		FILE *f = fopen(strncmp(arg, "file:", 5) == 0 ? arg + 5 : arg, "r");
		char buf[1024];
		char *p = NULL;

		if (f == NULL) {
			fprintf(stderr, "Cannot find file: %s\n", arg);
			*bad = 1;
			return NULL;
		}
		if (fgets(buf, sizeof(buf), f) != NULL) {
			buf[strcspn(buf, "\r\n")] = '\0';
			p = strdup(buf);
		} else {
			p = strdup("");
		}
		atr_wipe(buf, sizeof(buf));
		fclose(f);
		return p;
	}
	fprintf(stderr, "Unknown password type: %s\n", modifier);
	*bad = 1;
	return NULL;
}

static void
set_secret(char **slot, char *value)
{
	atr_free_secret(*slot);
	*slot = value;
}

/* Java's Integer.parseInt / Long.parseLong with their error text. */
static int
parse_number(struct kt *kt, const char *s, long long min, long long max, long long *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || v < min || v > max || s[0] == ' ') {
		kt_fail(kt, "java.lang.NumberFormatException", "For input string: \"%s\"", s);
		return -1;
	}
	*out = v;
	return 0;
}

/* The row of an option given without its dash, or NULL. */
static const struct opt *
find_opt(const char *name)
{
	for (int o = 0; o < O_NOPTS; o++)
		if (opts[o].name != NULL && (strcasecmp(name, opts[o].name) == 0 ||
		    (opts[o].alt != NULL && strcasecmp(name, opts[o].alt) == 0)))
			return &opts[o];
	return NULL;
}

/* Stores the value of option o; i indexes the value in argv. Returns 0,
 * 2 (usage error, shown) or -1 (reported). */
static int
set_opt(struct kt *kt, const struct opt *o, const char *modifier, int argc, char **argv, int *i)
{
	char *base = (char *)kt;
	const char *val = argv[*i];
	long long num;
	int bad = 0;

	switch (o->kind) {
	case K_STR:
		*(const char **)(base + o->off) = val;
		break;
	case K_SECRET: {
		char *p = get_pass(modifier, val, &bad);

		if (bad) {
			usage(kt->cmd);
			return 2;
		}
		set_secret((char **)(base + o->off), p);
		if (modifier == NULL)
			atr_wipe(argv[*i], strlen(argv[*i]));
		break;
	}
	case K_TYPE: {
		char *buf = base + o->buf;

		snprintf(buf, sizeof(kt->typebuf), "%s", val);
		for (char *p = buf; *p; p++)
			*p = (char)(*p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p);
		*(const char **)(base + o->off) = buf;
		break;
	}
	case K_INT:
		if (parse_number(kt, val, INT_MIN, INT_MAX, &num) == -1)
			return -1;
		*(int *)(base + o->off) = (int)num;
		break;
	case K_LLONG:
		if (parse_number(kt, val, LLONG_MIN, LLONG_MAX, &num) == -1)
			return -1;
		*(long long *)(base + o->off) = num;
		break;
	case K_EXT:
		if (kt->next < KT_MAX_EXT)
			kt->exts[kt->next++] = val;
		break;
	case K_PROVIDER:
		if (*i + 1 < argc && strcasecmp(argv[*i + 1], "-providerarg") == 0) {
			if (*i + 2 >= argc) {
				fprintf(stderr, "Command option %s needs an argument.\n", argv[*i + 1]);
				usage(kt->cmd);
				return 2;
			}
			*i += 2;
		}
		break;
	default: /* K_SKIP */
		break;
	}
	return 0;
}

/* Returns 0 to go on, 1 to stop with status 0 (help shown), 2 to stop with
 * status 1 (usage error), -1 on an error already reported. */
static int
parse_args(struct kt *kt, int argc, char **argv)
{
	char seen[64][32];
	int nseen = 0, help = argc == 0, i;

	/* First pass: the command, repeated options (Java warns). */
	for (i = 0; i < argc; i++) {
		char low[32];
		const struct opt *o;
		enum kt_cmd c;

		if (argv[i][0] != '-')
			continue;
		snprintf(low, sizeof(low), "%s", argv[i]);
		for (char *p = low; *p; p++)
			*p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
		int dup = 0;
		for (int k = 0; k < nseen; k++)
			if (strcmp(seen[k], low) == 0)
				dup = 1;
		if (dup) {
			if ((o = find_opt(low + 1)) == NULL || !o->repeat)
				kt_warn(kt, "The %s option is specified multiple times. All except the "
				    "last one will be ignored.", low);
		} else if (nseen < 64) {
			memcpy(seen[nseen++], low, sizeof(low));
		}
		if (strcasecmp(argv[i], "-conf") == 0) {
			i++;
			continue;
		}
		if ((c = find_cmd(argv[i])) != KT_NONE) {
			if (kt->cmd == KT_NONE) {
				kt->cmd = c;
			} else {
				kt_fail(kt, "java.lang.Exception", "Only one command is allowed: both %s "
				    "and %s were specified.", cmds[kt->cmd].name, cmds[c].name);
				return -1;
			}
		}
	}

	for (i = 0; i < argc && argv[i][0] == '-'; i++) {
		char flag[64];
		const char *modifier = NULL, *colon;
		const struct opt *o;
		int rc;

		/* -storepass:env NAME: the flag, then how to read its value */
		snprintf(flag, sizeof(flag), "%s", argv[i]);
		if ((colon = strchr(argv[i], ':')) != NULL && colon > argv[i]) {
			flag[colon - argv[i] < (long)sizeof(flag) ? colon - argv[i] : 0] = '\0';
			modifier = colon + 1;
		}
		if (find_cmd(flag) != KT_NONE)
			continue; /* the command, found above */
		if ((o = find_opt(flag + 1)) == NULL || o->kind == K_ILLEGAL) {
			fprintf(stderr, "Illegal option:  %s\n", flag);
			usage(kt->cmd);
			return 2;
		}
		switch (o->kind) {
		case K_NONE:
			break;
		case K_FLAG:
			*(int *)((char *)kt + o->off) = 1;
			break;
		case K_HELP:
			help = 1;
			break;
		case K_CONF:
			i++;
			break;
		default: /* takes a value */
			if (i + 1 >= argc) {
				fprintf(stderr, "Command option %s needs an argument.\n", flag);
				usage(kt->cmd);
				return 2;
			}
			i++;
			if ((rc = set_opt(kt, o, modifier, argc, argv, &i)) != 0)
				return rc;
			break;
		}
	}
	if (i < argc) {
		fprintf(stderr, "Illegal option:  %s\n", argv[i]);
		usage(kt->cmd);
		return 2;
	}
	if (kt->cmd == KT_NONE) {
		if (help) {
			usage(KT_NONE);
			return 1;
		}
		fputs("Usage error: no command provided\n", stderr);
		usage(KT_NONE);
		return 2;
	}
	if (help) {
		usage(kt->cmd);
		return 1;
	}
	return 0;
}

/* ---------------------------------------------------------- the store */

/* The "Keystore type" keytool shows and whether a file of format fmt
 * opens with the requested -storetype (keystore.type.compat). */
static int
check_type(struct kt *kt, enum atr_ks_format fmt)
{
	if (kt->storetype == NULL) {
		if (fmt != ATR_KS_JKS && fmt != ATR_KS_JCEKS && fmt != ATR_KS_PKCS12)
			return kt_fail(kt, "java.security.KeyStoreException",
			    "Unrecognized keystore format. Please load it with a specified type");
		kt->typename = atr_ks_format_name(fmt);
		return 0;
	}
	kt->typename = kt->storetype;
	if (strcmp(kt->storetype, "JKS") == 0) {
		if (fmt != ATR_KS_JKS && fmt != ATR_KS_PKCS12)
			return kt_fail(kt, "java.io.IOException", "Invalid keystore format");
	} else if (strcmp(kt->storetype, "JCEKS") == 0) {
		if (fmt != ATR_KS_JKS && fmt != ATR_KS_JCEKS)
			return kt_fail(kt, "java.io.IOException", "Invalid keystore format");
	} else if (strcmp(kt->storetype, "PKCS12") == 0) {
		if (fmt == ATR_KS_JCEKS)
			return kt_fail(kt, "java.io.IOException",
			    "DerInputStream.getLength(): lengthTag=78, too big.");
		if (fmt != ATR_KS_JKS && fmt != ATR_KS_PKCS12)
			return kt_fail(kt, "java.io.IOException", "Invalid keystore format");
	} else {
		return kt_fail(kt, "java.security.KeyStoreException", "%s not found", kt->storetype);
	}
	return 0;
}

/* Loads a keystore of a known format, mapping errors to Java's. */
static struct atr_ks *
load_store(struct kt *kt, const unsigned char *buf, size_t len, enum atr_ks_format fmt,
    const char *pass)
{
	struct atr_err err = {0};
	struct atr_ks *ks = atr_ks_load_mem(buf, len, pass, &err);

	if (ks != NULL)
		return ks;
	if (err.code == ATR_E_KS_PASSWORD)
		kt_fail(kt, "java.io.IOException", "%s", fmt == ATR_KS_PKCS12 ?
		    "keystore password was incorrect" :
		    "Keystore was tampered with, or password was incorrect");
	else if (err.code == ATR_E_KS_FORMAT)
		kt_fail(kt, "java.io.IOException", "Invalid keystore format");
	else
		kt_fail_err(kt, &err);
	return NULL;
}

struct atr_ks *
kt_load_source(struct kt *kt)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	enum atr_ks_format fmt;
	struct atr_ks *ks = NULL;

	if (kt_read_input(kt, kt->srcksfname, &buf, &len) == -1)
		return NULL;
	fmt = atr_ks_detect(buf, len);
	if (kt->srcstoretype == NULL) {
		if (fmt != ATR_KS_JKS && fmt != ATR_KS_JCEKS && fmt != ATR_KS_PKCS12) {
			kt_fail(kt, "java.security.KeyStoreException",
			    "Unrecognized keystore format. Please load it with a specified type");
			goto out;
		}
		kt->srcstoretype = atr_ks_format_name(fmt);
	} else if (atr_ks_format_parse(kt->srcstoretype) == ATR_KS_UNKNOWN ||
	    atr_ks_format_parse(kt->srcstoretype) == ATR_KS_PEM) {
		kt_fail(kt, "java.security.KeyStoreException", "%s not found", kt->srcstoretype);
		goto out;
	}
	if (kt->srcstorepass == NULL && !kt->srcprotected)
		kt->srcstorepass = kt_read_password("Enter source keystore password:  ");
	if (fmt == ATR_KS_PKCS12 && kt->srckeypass != NULL && kt->srcstorepass != NULL &&
	    strcmp(kt->srckeypass, kt->srcstorepass) != 0) {
		fputs("Warning:  Different store and key passwords not supported for PKCS12 "
		    "KeyStores. Ignoring user-specified -srckeypass value.\n", stderr);
		set_secret(&kt->srckeypass, strdup(kt->srcstorepass));
	}
	if ((ks = load_store(kt, buf, len, fmt, kt->srcstorepass)) == NULL)
		goto out;
	if (kt->srcstorepass == NULL)
		fputs("\n*****************  WARNING WARNING WARNING  *****************\n"
		    "* The integrity of the information stored in the srckeystore*\n"
		    "* has NOT been verified!  In order to verify its integrity, *\n"
		    "* you must provide the srckeystore password.                *\n"
		    "*****************  WARNING WARNING WARNING  *****************\n\n", stderr);
out:
	free(buf);
	return ks;
}

/* Java's password length (UTF-16 units; counted as code points here). */
static size_t
pass_len(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n += ((unsigned char)*s >= 0xf0) ? 2 : 1;
	return n;
}

/* keytool's store password prompt for commands that write the store. */
static int
ask_store_password(struct kt *kt)
{
	for (int count = 0; count < 3 && kt->storepass == NULL; count++) {
		char *p = kt_read_password(kt->cmd == KT_IMPORTKEYSTORE ?
		    "Enter destination keystore password:  " : "Enter keystore password:  ");

		if (p == NULL || pass_len(p) < 6) {
			fputs("Keystore password is too short - must be at least 6 characters\n",
			    stderr);
			atr_free_secret(p);
			continue;
		}
		if (!kt->ks_exists) {
			char *again = kt_read_password("Re-enter new password: ");
			int same = again != NULL && strcmp(p, again) == 0;

			atr_free_secret(again);
			if (!same) {
				fputs("They don't match. Try again\n", stderr);
				atr_free_secret(p);
				continue;
			}
		}
		kt->storepass = p;
	}
	if (kt->storepass == NULL) {
		fputs("Too many failures - try later\n", stderr);
		return 1;
	}
	return 0;
}

/* A canonical path for comparing -srckeystore and -destkeystore. */
static int
same_file(const char *a, const char *b)
{
	struct stat sa, sb;

	if (stat(a, &sa) == 0 && stat(b, &sb) == 0)
		return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
	return strcmp(a, b) == 0;
}

/* Whether every entry is a trusted certificate (no JKS warning then). */
static int
all_trusted(struct atr_ks *ks)
{
	for (size_t i = 0; i < atr_ks_count(ks); i++)
		if (atr_ks_entry_kind(atr_ks_entry_at(ks, i)) != ATR_KS_TRUSTED_CERT)
			return 0;
	return 1;
}

static int
save_store(struct kt *kt)
{
	struct atr_err err = {0};
	const char *pass = kt->storepass_new ? kt->storepass_new : kt->storepass;
	const char *warning = NULL;

	if (kt->verbose)
		fprintf(stderr, "[Storing %s]\n", kt->ksfname);
	if (kt->fmt == ATR_KS_JCEKS)
		atr_ks_set_format(kt->ks, ATR_KS_JKS);
	if (atr_ks_save_file(kt->ks, kt->ksfname, pass, &warning, &err) == -1) {
		if (err.code == ATR_E_IO)
			return kt_fail(kt, "java.io.FileNotFoundException", "%s (%s)", kt->ksfname,
			    "Permission denied");
		return kt_fail_err(kt, &err);
	}
	if (warning != NULL)
		kt_warn(kt, "%s", warning);
	return 0;
}

/* Backs up the source of an in-place -importkeystore to NAME.old[N]. */
static int
backup_source(struct kt *kt)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	struct atr_err err = {0};
	char name[4096];

	for (int n = 1; n < 1000; n++) {
		if (n == 1)
			snprintf(name, sizeof(name), "%s.old", kt->srcksfname);
		else
			snprintf(name, sizeof(name), "%s.old%d", kt->srcksfname, n);
		if (access(name, F_OK) != 0)
			break;
	}
	if (atr_read_file(kt->srcksfname, ATR_KS_MAX_FILE, &buf, &len, &err) == -1 ||
	    atr_write_file_atomic(name, buf, len, 0600, &err) == -1) {
		free(buf);
		return kt_fail_err(kt, &err);
	}
	free(buf);
	kt->inplace_backup = strdup(name);
	return kt->inplace_backup ? 0 : kt_fail(kt, "java.lang.OutOfMemoryError", "Java heap space");
}

/* -importkeystore: loads the source unless an in-place import already
 * did, copies, and backs an in-place source up. */
static int
import_keystore(struct kt *kt)
{
	int rc;

	if (kt->src == NULL && (kt->src = kt_load_source(kt)) == NULL)
		return -1;
	rc = kt_do_importkeystore(kt, kt->src);
	if (rc == 0 && kt->inplace)
		rc = backup_source(kt);
	return rc;
}

/* Opens (or starts) the keystore and settles its password, as keytool's
 * doCommands() does before running a command. Returns 0, 1 (stop, status
 * 0), or -1 (an error was reported). */
static int
open_store(struct kt *kt)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	struct stat st;
	int rc = -1;

	kt->ks_exists = 0;
	if (!kt->inplace) {
		if (stat(kt->ksfname, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0)
			return kt_fail(kt, "java.lang.Exception", "Keystore file exists, but is empty: %s",
			    kt->ksfname);
		if (stat(kt->ksfname, &st) == 0 && !S_ISDIR(st.st_mode) &&
		    access(kt->ksfname, R_OK) == 0) {
			struct atr_err err = {0};

			if (atr_read_file(kt->ksfname, ATR_KS_MAX_FILE, &buf, &len, &err) == -1)
				return kt_fail_err(kt, &err);
			kt->ks_exists = 1;
		} else if (!(cmds[kt->cmd].flags & C_MAY_CREATE)) {
			return kt_fail(kt, "java.lang.Exception", "Keystore file does not exist: %s",
			    kt->ksfname);
		}
	}
	if (kt->cmd == KT_CHANGEALIAS && kt->dest == NULL) {
		char *d = kt_read_line("Enter destination alias name:  ");

		if (d == NULL || d[0] == '\0') {
			free(d);
			rc = kt_fail(kt, "java.lang.Exception", "Must specify destination alias");
			goto out;
		}
		kt->dest = kt->dest_buf = d;
	}
	if (kt->cmd == KT_DELETE && kt->alias == NULL) {
		char *a = kt_read_line("Enter alias name:  ");

		if (a == NULL || a[0] == '\0') {
			free(a);
			rc = kt_fail(kt, "java.lang.Exception", "Must specify alias");
			goto out;
		}
		kt->alias = kt->alias_buf = a;
	}
	if (kt->ks_exists) {
		kt->fmt = atr_ks_detect(buf, len);
		if (check_type(kt, kt->fmt) == -1)
			goto out;
		if ((kt->ks = load_store(kt, buf, len, kt->fmt, kt->storepass)) == NULL)
			goto out;
	} else {
		const char *type = kt->storetype ? kt->storetype : "PKCS12";

		kt->fmt = atr_ks_format_parse(type);
		if (kt->fmt != ATR_KS_JKS && kt->fmt != ATR_KS_PKCS12 && kt->fmt != ATR_KS_JCEKS) {
			rc = kt_fail(kt, "java.security.KeyStoreException", "%s not found", type);
			goto out;
		}
		kt->typename = kt->storetype ? kt->storetype : "PKCS12";
		if ((kt->ks = atr_ks_new(kt->fmt)) == NULL) {
			rc = kt_fail(kt, "java.lang.OutOfMemoryError", "Java heap space");
			goto out;
		}
	}
	if (strcmp(kt->typename, "PKCS12") == 0 && kt->cmd == KT_KEYPASSWD) {
		rc = kt_fail(kt, "java.lang.UnsupportedOperationException",
		    "-keypasswd commands not supported if -storetype is PKCS12");
		goto out;
	}
	if (kt->storepass != NULL) {
		if (!kt->ks_exists && pass_len(kt->storepass) < 6) {
			rc = kt_fail(kt, "java.lang.Exception",
			    "Keystore password must be at least 6 characters");
			goto out;
		}
	} else if (!kt->protected_path) {
		if (cmds[kt->cmd].flags & C_MODIFIES) {
			if (ask_store_password(kt) == 1) {
				rc = 1;
				goto out;
			}
		} else if (kt->cmd != KT_PRINTCERT && kt->cmd != KT_PRINTCRL) {
			kt->storepass = kt_read_password("Enter keystore password:  ");
		}
		if (kt->ks_exists && kt->storepass != NULL) {
			atr_ks_free(kt->ks);
			if ((kt->ks = load_store(kt, buf, len, kt->fmt, kt->storepass)) == NULL)
				goto out;
		}
	}
	if (kt->storepass != NULL && strcmp(kt->typename, "PKCS12") == 0) {
#define P12_ONE_PASSWORD(opt)                                                   \
	fprintf(stderr, "Warning:  Different store and key passwords not supported for " \
	    "PKCS12 KeyStores. Ignoring user-specified %s value.\n", (opt))
		if (kt->keypass != NULL && strcmp(kt->keypass, kt->storepass) != 0) {
			P12_ONE_PASSWORD("-keypass");
			set_secret(&kt->keypass, strdup(kt->storepass));
		}
		if (kt->destkeypass != NULL && strcmp(kt->destkeypass, kt->storepass) != 0) {
			P12_ONE_PASSWORD("-destkeypass");
			set_secret(&kt->destkeypass, strdup(kt->storepass));
		}
	}
	rc = 0;
out:
	if (buf != NULL)
		atr_wipe(buf, len);
	free(buf);
	return rc;
}

static void
kt_free(struct kt *kt)
{
	atr_free_secret(kt->storepass);
	atr_free_secret(kt->storepass_new);
	atr_free_secret(kt->keypass);
	atr_free_secret(kt->newpass);
	atr_free_secret(kt->destkeypass);
	atr_free_secret(kt->srcstorepass);
	atr_free_secret(kt->srckeypass);
	atr_free_secret(kt->signerkeypass);
	free(kt->ksfname_default);
	free(kt->inplace_backup);
	free(kt->alias_buf);
	free(kt->dest_buf);
	atr_ks_free(kt->ks);
	atr_ks_free(kt->src);
	for (size_t i = 0; i < kt->nwarn; i++)
		free(kt->warnings[i]);
}

/* keytool's Main.doCommands(). Returns the exit status. */
static int
run(struct kt *kt)
{
	int rc = -1, status;

	if (kt->cacerts) {
		if (kt->ksfname != NULL || kt->storetype != NULL) {
			kt_fail(kt, "java.lang.IllegalArgumentException", "The -keystore or "
			    "-storetype option cannot be used with the -cacerts option");
			return 1;
		}
		kt->ksfname = kt->ksfname_default = kt_cacerts_path();
	}
	if (cmds[kt->cmd].flags & C_UNSUPPORTED) {
		kt_fail(kt, "java.lang.UnsupportedOperationException",
		    "atrium keytool does not implement %s", cmds[kt->cmd].name);
		return 1;
	}
	if (kt->protected_path || kt->srcprotected) {
		kt_fail(kt, "java.lang.UnsupportedOperationException",
		    "atrium keytool does not implement -protected");
		return 1;
	}
	if (kt->validity <= 0) {
		kt_fail(kt, "java.lang.Exception", "Validity must be greater than zero");
		return 1;
	}
	if (kt->cmd == KT_LIST && kt->verbose && kt->rfc) {
		fputs("Must not specify both -v and -rfc with 'list' command\n", stderr);
		usage(kt->cmd);
		return 1;
	}
	if (kt->cmd == KT_GENKEYPAIR && kt->keypass != NULL && pass_len(kt->keypass) < 6) {
		kt_fail(kt, "java.lang.Exception", "Key password must be at least 6 characters");
		return 1;
	}
	if ((kt->newpass != NULL && pass_len(kt->newpass) < 6) ||
	    (kt->destkeypass != NULL && pass_len(kt->destkeypass) < 6)) {
		kt_fail(kt, "java.lang.Exception", "New password must be at least 6 characters");
		return 1;
	}
	if (kt->ksfname == NULL) {
		/* Java's user.home comes from the password database, not $HOME. */
		const struct passwd *pw = getpwuid(getuid());
		const char *home = pw != NULL && pw->pw_dir != NULL ? pw->pw_dir : getenv("HOME");

		if (asprintf(&kt->ksfname_default, "%s/.keystore", home ? home : ".") < 0) {
			kt->ksfname_default = NULL;
			return 1;
		}
		kt->ksfname = kt->ksfname_default;
	}
	if (kt->cmd == KT_IMPORTKEYSTORE) {
		struct stat st;

		if (kt->srcksfname == NULL) {
			kt_fail(kt, "java.lang.Exception", "Please specify -srckeystore");
			return 1;
		}
		if (stat(kt->srcksfname, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0) {
			kt_fail(kt, "java.lang.Exception", "Source keystore file exists, but is empty: %s",
			    kt->srcksfname);
			return 1;
		}
		kt->inplace = same_file(kt->srcksfname, kt->ksfname);
		if (kt->inplace) {
			if ((kt->src = kt_load_source(kt)) == NULL)
				return 1;
			if (kt->storepass == NULL && kt->srcstorepass != NULL)
				kt->storepass = strdup(kt->srcstorepass);
		} else {
			fprintf(stderr, "Importing keystore %s to %s...\n", kt->srcksfname, kt->ksfname);
		}
	}
	if (cmds[kt->cmd].flags & C_NO_STORE)
		return cmds[kt->cmd].run(kt) == 0 ? 0 : 1;
	if ((status = open_store(kt)) != 0) {
		if (status == 1) {
			kt_flush_warnings(kt, 0);
			return 0;
		}
		return 1;
	}
	if (kt->cmd != KT_IMPORTCERT)
		kt->trustcacerts = 0;

	rc = cmds[kt->cmd].run != NULL ? cmds[kt->cmd].run(kt) :
	    kt_fail(kt, "java.lang.UnsupportedOperationException", "not implemented");
	atr_ks_free(kt->src);
	kt->src = NULL;
	if (rc == 0 && kt->kssave)
		rc = save_store(kt);
	if (rc == 0 && access(kt->ksfname, F_OK) == 0 && kt->ks != NULL) {
		enum atr_ks_format real = kt->kssave && kt->fmt == ATR_KS_JCEKS ? ATR_KS_JKS : kt->fmt;

		if ((real == ATR_KS_JKS || real == ATR_KS_JCEKS) && !all_trusted(kt->ks))
			kt_warn(kt, "The %s keystore uses a proprietary format. It is recommended to "
			    "migrate to PKCS12 which is an industry standard format using \"keytool "
			    "-importkeystore -srckeystore %s -destkeystore %s -deststoretype pkcs12\".",
			    atr_ks_format_name(real), kt->ksfname, kt->ksfname);
		if (kt->inplace && kt->inplace_backup != NULL) {
			const char *srctype = kt->srcstoretype ? kt->srcstoretype : "";

			if (strcasecmp(atr_ks_format_name(real), srctype) == 0)
				kt_warn(kt, "The original keystore \"%s\" is backed up as \"%s\"...",
				    kt->srcksfname, kt->inplace_backup);
			else
				kt_warn(kt, "Migrated \"%s\" to %s. The %s keystore is backed up as \"%s\".",
				    kt->srcksfname, atr_ks_format_name(real), srctype, kt->inplace_backup);
		}
	}
	return rc == 0 ? 0 : 1;
}

int
cmd_keytool(int argc, char **argv)
{
	struct kt kt;
	int rc;

	memset(&kt, 0, sizeof(kt));
	kt.cmd = KT_NONE;
	kt.keysize = -1;
	kt.validity = 90;
	rc = parse_args(&kt, argc - 1, argv + 1);
	if (rc == 0)
		rc = run(&kt);
	else
		rc = rc == 1 ? 0 : 1;
	fflush(stdout);
	kt_flush_warnings(&kt, 0);
	kt_free(&kt);
	return rc;
}
