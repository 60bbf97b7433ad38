/*
 * atrium keytool: Java 17's keytool command line, its prompts, listings and
 * messages, without Java. This file holds the option tables, the parser,
 * -help, the shared helpers and the run sequence of keytool's Main
 * (check options, open the keystore, ask for passwords, run, save, warn);
 * the commands live in keytool_show.c, keytool_make.c and keytool_edit.c.
 */
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "atrium/util.h"
#include "cli/cli.h"
#include "cli/keytool_int.h"

/* ------------------------------------------------------------- tables */

/* keytool's options (Main.Option), in Java's order. */
enum kt_opt {
	O_ALIAS, O_CURVENAME, O_DESTALIAS, O_DESTKEYPASS, O_DESTKEYSTORE, O_DESTPROTECTED,
	O_DESTPROVIDERNAME, O_DESTSTOREPASS, O_DESTSTORETYPE, O_DNAME, O_EXT, O_FILEOUT,
	O_FILEIN, O_ID, O_INFILE, O_KEYALG, O_KEYPASS, O_KEYSIZE, O_KEYSTORE, O_CACERTS,
	O_NEW, O_NOPROMPT, O_OUTFILE, O_PROTECTED, O_PROVIDERCLASS, O_ADDPROVIDER,
	O_PROVIDERNAME, O_PROVIDERPATH, O_RFC, O_SIGALG, O_SIGNER, O_SIGNERKEYPASS,
	O_SRCALIAS, O_SRCKEYPASS, O_SRCKEYSTORE, O_SRCPROTECTED, O_SRCPROVIDERNAME,
	O_SRCSTOREPASS, O_SRCSTORETYPE, O_SSLSERVER, O_JARFILE, O_STARTDATE, O_STOREPASS,
	O_STORETYPE, O_TLS, O_TRUSTCACERTS, O_V, O_VALIDITY, O_END,
};

static const struct opt {
	const char *name;  /* without the dash */
	const char *arg;   /* shown in -help; NULL: takes no value */
	const char *help;
} opts[] = {
	[O_ALIAS] = {"alias", "<alias>", "alias name of the entry to process"},
	[O_CURVENAME] = {"groupname", "<name>", "Group name. For example, an Elliptic Curve name."},
	[O_DESTALIAS] = {"destalias", "<alias>", "destination alias"},
	[O_DESTKEYPASS] = {"destkeypass", "<arg>", "destination key password"},
	[O_DESTKEYSTORE] = {"destkeystore", "<keystore>", "destination keystore name"},
	[O_DESTPROTECTED] = {"destprotected", NULL, "destination keystore password protected"},
	[O_DESTPROVIDERNAME] = {"destprovidername", "<name>", "destination keystore provider name"},
	[O_DESTSTOREPASS] = {"deststorepass", "<arg>", "destination keystore password"},
	[O_DESTSTORETYPE] = {"deststoretype", "<type>", "destination keystore type"},
	[O_DNAME] = {"dname", "<name>", "distinguished name"},
	[O_EXT] = {"ext", "<value>", "X.509 extension"},
	[O_FILEOUT] = {"file", "<file>", "output file name"},
	[O_FILEIN] = {"file", "<file>", "input file name"},
	[O_ID] = {"id", "<id:reason>", "Serial ID of cert to revoke"},
	[O_INFILE] = {"infile", "<file>", "input file name"},
	[O_KEYALG] = {"keyalg", "<alg>", "key algorithm name"},
	[O_KEYPASS] = {"keypass", "<arg>", "key password"},
	[O_KEYSIZE] = {"keysize", "<size>", "key bit size"},
	[O_KEYSTORE] = {"keystore", "<keystore>", "keystore name"},
	[O_CACERTS] = {"cacerts", NULL, "access the cacerts keystore"},
	[O_NEW] = {"new", "<arg>", "new password"},
	[O_NOPROMPT] = {"noprompt", NULL, "do not prompt"},
	[O_OUTFILE] = {"outfile", "<file>", "output file name"},
	[O_PROTECTED] = {"protected", NULL, "password through protected mechanism"},
	[O_PROVIDERCLASS] = {"providerclass", "<class>\n[-providerarg <arg>]",
	    "add security provider by fully-qualified class name\n"
	    "configure argument for -providerclass"},
	[O_ADDPROVIDER] = {"addprovider", "<name>\n[-providerarg <arg>]",
	    "add security provider by name (e.g. SunPKCS11)\nconfigure argument for -addprovider"},
	[O_PROVIDERNAME] = {"providername", "<name>", "provider name"},
	[O_PROVIDERPATH] = {"providerpath", "<list>", "provider classpath"},
	[O_RFC] = {"rfc", NULL, "output in RFC style"},
	[O_SIGALG] = {"sigalg", "<alg>", "signature algorithm name"},
	[O_SIGNER] = {"signer", "<alias>", "signer alias"},
	[O_SIGNERKEYPASS] = {"signerkeypass", "<arg>", "signer key password"},
	[O_SRCALIAS] = {"srcalias", "<alias>", "source alias"},
	[O_SRCKEYPASS] = {"srckeypass", "<arg>", "source key password"},
	[O_SRCKEYSTORE] = {"srckeystore", "<keystore>", "source keystore name"},
	[O_SRCPROTECTED] = {"srcprotected", NULL, "source keystore password protected"},
	[O_SRCPROVIDERNAME] = {"srcprovidername", "<name>", "source keystore provider name"},
	[O_SRCSTOREPASS] = {"srcstorepass", "<arg>", "source keystore password"},
	[O_SRCSTORETYPE] = {"srcstoretype", "<type>", "source keystore type"},
	[O_SSLSERVER] = {"sslserver", "<server[:port]>", "SSL server host and port"},
	[O_JARFILE] = {"jarfile", "<file>", "signed jar file"},
	[O_STARTDATE] = {"startdate", "<date>", "certificate validity start date/time"},
	[O_STOREPASS] = {"storepass", "<arg>", "keystore password"},
	[O_STORETYPE] = {"storetype", "<type>", "keystore type"},
	[O_TLS] = {"tls", NULL, "Displays TLS configuration information"},
	[O_TRUSTCACERTS] = {"trustcacerts", NULL, "trust certificates from cacerts"},
	[O_V] = {"v", NULL, "verbose output"},
	[O_VALIDITY] = {"validity", "<days>", "validity number of days"},
};

#define P_STD O_PROVIDERNAME, O_ADDPROVIDER, O_PROVIDERCLASS, O_PROVIDERPATH

/* keytool's commands (Main.Command): name, alternative name, -help text,
 * options in -help order (ending in O_END). */
static const struct cmd {
	const char *name, *alt, *help;
	enum kt_opt opts[32];
} cmds[KT_NCMDS] = {
	[KT_CERTREQ] = {"-certreq", NULL, "Generates a certificate request",
	    {O_ALIAS, O_SIGALG, O_FILEOUT, O_KEYPASS, O_KEYSTORE, O_DNAME, O_EXT, O_STOREPASS,
	    O_STORETYPE, P_STD, O_V, O_PROTECTED, O_END}},
	[KT_CHANGEALIAS] = {"-changealias", NULL, "Changes an entry's alias",
	    {O_ALIAS, O_DESTALIAS, O_KEYPASS, O_KEYSTORE, O_CACERTS, O_STOREPASS, O_STORETYPE,
	    P_STD, O_V, O_PROTECTED, O_END}},
	[KT_DELETE] = {"-delete", NULL, "Deletes an entry",
	    {O_ALIAS, O_KEYSTORE, O_CACERTS, O_STOREPASS, O_STORETYPE, P_STD, O_V, O_PROTECTED,
	    O_END}},
	[KT_EXPORTCERT] = {"-exportcert", "-export", "Exports certificate",
	    {O_RFC, O_ALIAS, O_FILEOUT, O_KEYSTORE, O_CACERTS, O_STOREPASS, O_STORETYPE, P_STD,
	    O_V, O_PROTECTED, O_END}},
	[KT_GENKEYPAIR] = {"-genkeypair", "-genkey", "Generates a key pair",
	    {O_ALIAS, O_KEYALG, O_KEYSIZE, O_CURVENAME, O_SIGALG, O_DNAME, O_STARTDATE, O_EXT,
	    O_VALIDITY, O_KEYPASS, O_KEYSTORE, O_SIGNER, O_SIGNERKEYPASS, O_STOREPASS,
	    O_STORETYPE, P_STD, O_V, O_PROTECTED, O_END}},
	[KT_GENSECKEY] = {"-genseckey", NULL, "Generates a secret key",
	    {O_ALIAS, O_KEYPASS, O_KEYALG, O_KEYSIZE, O_KEYSTORE, O_STOREPASS, O_STORETYPE,
	    P_STD, O_V, O_PROTECTED, O_END}},
	[KT_GENCERT] = {"-gencert", NULL, "Generates certificate from a certificate request",
	    {O_RFC, O_INFILE, O_OUTFILE, O_ALIAS, O_SIGALG, O_DNAME, O_STARTDATE, O_EXT,
	    O_VALIDITY, O_KEYPASS, O_KEYSTORE, O_STOREPASS, O_STORETYPE, P_STD, O_V,
	    O_PROTECTED, O_END}},
	[KT_IMPORTCERT] = {"-importcert", "-import", "Imports a certificate or a certificate chain",
	    {O_NOPROMPT, O_TRUSTCACERTS, O_PROTECTED, O_ALIAS, O_FILEIN, O_KEYPASS, O_KEYSTORE,
	    O_CACERTS, O_STOREPASS, O_STORETYPE, P_STD, O_V, O_END}},
	[KT_IMPORTPASS] = {"-importpass", "-importpassword", "Imports a password",
	    {O_ALIAS, O_KEYPASS, O_KEYALG, O_KEYSIZE, O_KEYSTORE, O_STOREPASS, O_STORETYPE,
	    P_STD, O_V, O_PROTECTED, O_END}},
	[KT_IMPORTKEYSTORE] = {"-importkeystore", NULL,
	    "Imports one or all entries from another keystore",
	    {O_SRCKEYSTORE, O_DESTKEYSTORE, O_SRCSTORETYPE, O_DESTSTORETYPE, O_SRCSTOREPASS,
	    O_DESTSTOREPASS, O_SRCPROTECTED, O_DESTPROTECTED, O_SRCPROVIDERNAME,
	    O_DESTPROVIDERNAME, O_SRCALIAS, O_DESTALIAS, O_SRCKEYPASS, O_DESTKEYPASS,
	    O_NOPROMPT, O_ADDPROVIDER, O_PROVIDERCLASS, O_PROVIDERPATH, O_V, O_END}},
	[KT_KEYPASSWD] = {"-keypasswd", NULL, "Changes the key password of an entry",
	    {O_ALIAS, O_KEYPASS, O_NEW, O_KEYSTORE, O_STOREPASS, O_STORETYPE, P_STD, O_V, O_END}},
	[KT_LIST] = {"-list", NULL, "Lists entries in a keystore",
	    {O_RFC, O_ALIAS, O_KEYSTORE, O_CACERTS, O_STOREPASS, O_STORETYPE, P_STD, O_V,
	    O_PROTECTED, O_END}},
	[KT_PRINTCERT] = {"-printcert", NULL, "Prints the content of a certificate",
	    {O_RFC, O_FILEIN, O_SSLSERVER, O_JARFILE, O_KEYSTORE, O_STOREPASS, O_STORETYPE,
	    O_TRUSTCACERTS, P_STD, O_V, O_PROTECTED, O_END}},
	[KT_PRINTCERTREQ] = {"-printcertreq", NULL, "Prints the content of a certificate request",
	    {O_FILEIN, O_V, O_END}},
	[KT_PRINTCRL] = {"-printcrl", NULL, "Prints the content of a CRL file",
	    {O_FILEIN, O_KEYSTORE, O_STOREPASS, O_STORETYPE, O_TRUSTCACERTS, P_STD, O_V,
	    O_PROTECTED, O_END}},
	[KT_STOREPASSWD] = {"-storepasswd", NULL, "Changes the store password of a keystore",
	    {O_NEW, O_KEYSTORE, O_CACERTS, O_STOREPASS, O_STORETYPE, O_PROVIDERNAME,
	    O_ADDPROVIDER, O_PROVIDERCLASS, O_PROVIDERPATH, O_V, O_END}},
	[KT_SHOWINFO] = {"-showinfo", NULL, "Displays security-related information",
	    {O_TLS, O_V, O_END}},
	[KT_KEYCLONE] = {"-keyclone", NULL, "Clones a key entry",
	    {O_ALIAS, O_DESTALIAS, O_KEYPASS, O_NEW, O_STORETYPE, O_KEYSTORE, O_STOREPASS,
	    P_STD, O_V, O_END}},
	[KT_SELFCERT] = {"-selfcert", NULL, "Generates a self-signed certificate",
	    {O_ALIAS, O_SIGALG, O_DNAME, O_STARTDATE, O_EXT, O_VALIDITY, O_KEYPASS, O_STORETYPE,
	    O_KEYSTORE, O_STOREPASS, P_STD, O_V, O_END}},
	[KT_GENCRL] = {"-gencrl", NULL, "Generates CRL",
	    {O_RFC, O_FILEOUT, O_ID, O_ALIAS, O_SIGALG, O_KEYPASS, O_KEYSTORE, O_STOREPASS,
	    O_STORETYPE, P_STD, O_V, O_PROTECTED, O_END}},
	[KT_IDENTITYDB] = {"-identitydb", NULL,
	    "Imports entries from a JDK 1.1.x-style identity database",
	    {O_FILEIN, O_STORETYPE, O_KEYSTORE, O_STOREPASS, P_STD, O_V, O_END}},
};

/* ------------------------------------------------------------- output */

int
kt_fail(struct kt *kt, const char *cls, const char *fmt, ...)
{
	va_list ap;

	(void)kt;
	printf("keytool error: %s: ", cls);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	return -1;
}

int
kt_fail_err(struct kt *kt, const struct atr_err *err)
{
	const char *cls;

	switch (err->code) {
	case ATR_E_KS_KEY_PASSWORD:
		cls = "java.security.UnrecoverableKeyException";
		break;
	case ATR_E_KS_PASSWORD:
	case ATR_E_KS_FORMAT:
	case ATR_E_KS_CORRUPT:
	case ATR_E_IO:
	case ATR_E_TOO_LARGE:
		cls = "java.io.IOException";
		break;
	case ATR_E_KS_UNSUPPORTED:
		cls = "java.security.KeyStoreException";
		break;
	default:
		cls = "java.lang.Exception";
		break;
	}
	return kt_fail(kt, cls, "%s", atr_err_msg(err));
}

int
kt_fail_x509(struct kt *kt, const struct atr_err *err, EVP_PKEY *signkey, const char *spec_cls)
{
	const char *msg = atr_err_msg(err);
	static const char unknown[] = "Unknown extension type: ";

	if (strncmp(msg, "For input string:", 17) == 0)
		return kt_fail(kt, "java.lang.NumberFormatException", "%s", msg);
	if (strncmp(msg, "Validity period ends", 20) == 0)
		return kt_fail(kt, spec_cls ? spec_cls : "java.lang.Exception", "%s", msg);
	if (strstr(msg, "Signature not available") != NULL)
		return kt_fail(kt, "java.security.NoSuchAlgorithmException", "%s", msg);
	if (strncmp(msg, "Signature algorithm ", 20) == 0 && signkey != NULL) {
		char alg[96] = "";

		atr_x509_key_algname(signkey, alg, sizeof(alg));
		return kt_fail(kt, "java.security.InvalidKeyException",
		    "No installed provider supports this key: %s",
		    strncmp(alg, "RSA", 3) == 0 ? "sun.security.rsa.RSAPrivateCrtKeyImpl" :
		    strncmp(alg, "EC", 2) == 0 ? "sun.security.ec.ECPrivateKeyImpl" :
		    "sun.security.ec.ed.EdDSAPrivateKeyImpl");
	}
	if (strncmp(msg, unknown, sizeof(unknown) - 1) == 0) {
		/* Java tried the name as an OID; show the part it choked on. */
		const char *p = msg + sizeof(unknown) - 1;
		size_t n = strcspn(p, ":=");

		while (n > 0) {
			size_t k = strcspn(p, ".");

			if (k > n)
				k = n;
			if (k == 0 || strspn(p, "0123456789") < k)
				return kt_fail(kt, "java.lang.RuntimeException", "java.io.IOException: "
				    "ObjectIdentifier() -- Invalid format: java.lang.NumberFormatException: "
				    "For input string: \"%.*s\"", (int)k, p);
			if (k == n)
				break;
			p += k + 1;
			n -= k + 1;
		}
	}
	return kt_fail(kt, "java.lang.Exception", "%s", msg);
}

void
kt_warn(struct kt *kt, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	int n;

	if (kt->nwarn == KT_MAX_WARN)
		return;
	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n >= 0)
		kt->warnings[kt->nwarn++] = s;
}

void
kt_flush_warnings(struct kt *kt, int newline)
{
	if (kt->nwarn > 0 && !kt->nowarn) {
		fputs("\nWarning:\n", stderr);
		for (size_t i = 0; i < kt->nwarn; i++)
			fprintf(stderr, "%s\n", kt->warnings[i]);
		if (newline)
			fputc('\n', stderr);
	}
	for (size_t i = 0; i < kt->nwarn; i++)
		free(kt->warnings[i]);
	kt->nwarn = 0;
	fflush(stderr);
}

void
kt_check_weak_alg(struct kt *kt, const char *label, const char *sig, EVP_PKEY *key)
{
	char desc[160];

	if (sig != NULL) {
		if (strncmp(sig, "MD2with", 7) == 0 || strncmp(sig, "MD5with", 7) == 0)
			kt_warn(kt, "%s uses the %s signature algorithm which is considered a "
			    "security risk and is disabled.", label, sig);
		else if (strncmp(sig, "SHA1with", 8) == 0)
			kt_warn(kt, "%s uses the %s signature algorithm which is considered a "
			    "security risk. This algorithm will be disabled in a future update.",
			    label, sig);
	}
	if (key == NULL || atr_x509_key_describe(key, 0, desc, sizeof(desc)) == -1)
		return;
	switch (atr_x509_key_strength(key)) {
	case ATR_X509_DISABLED:
		kt_warn(kt, "%s uses a %s which is considered a security risk and is disabled.",
		    label, desc);
		break;
	case ATR_X509_WEAK:
		kt_warn(kt, "%s uses a %s which is considered a security risk. This key size "
		    "will be disabled in a future update.", label, desc);
		break;
	default:
		break;
	}
}

const char *
kt_csr_sigalg(X509_REQ *req, char *buf, size_t len)
{
	return atr_x509_csr_sigalg_name(req, buf, len) == 0 ? buf : NULL;
}

void
kt_check_weak(struct kt *kt, const char *label, X509 *cert, int trusted)
{
	char sig[128];

	kt_check_weak_alg(kt, label, !trusted && atr_x509_sigalg_name(cert, sig, sizeof(sig)) == 0 ?
	    sig : NULL, X509_get0_pubkey(cert));
}

void
kt_check_weak_chain(struct kt *kt, const char *label, const STACK_OF(X509) *chain)
{
	int n = sk_X509_num(chain);

	for (int i = 0; i < n; i++) {
		char full[512];

		if (n > 1)
			snprintf(full, sizeof(full), "%s #%d of %d", label, i + 1, n);
		else
			snprintf(full, sizeof(full), "%s", label);
		kt_check_weak(kt, full, sk_X509_value(chain, i), 0);
	}
}

void
kt_no_integrity_warning(void)
{
	fputs("\n*****************  WARNING WARNING WARNING  *****************\n"
	    "* The integrity of the information stored in your keystore  *\n"
	    "* has NOT been verified!  In order to verify its integrity, *\n"
	    "* you must provide your keystore password.                  *\n"
	    "*****************  WARNING WARNING WARNING  *****************\n\n", stderr);
	fflush(stderr);
}

const char *
kt_group(long long n, char *buf, size_t len)
{
	char digits[32];
	int nd = snprintf(digits, sizeof(digits), "%lld", n < 0 ? -n : n);
	size_t k = 0;

	if (n < 0 && k + 1 < len)
		buf[k++] = '-';
	for (int i = 0; i < nd && k + 1 < len; i++) {
		if (i > 0 && (nd - i) % 3 == 0 && k + 1 < len)
			buf[k++] = ',';
		buf[k++] = digits[i];
	}
	buf[k] = '\0';
	return buf;
}

const char *
kt_medium_date(int64_t ms, char *buf, size_t len)
{
	static const char *const mons[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul",
	    "Aug", "Sep", "Oct", "Nov", "Dec"};
	time_t t = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
	struct tm tm;

	if (localtime_r(&t, &tm) == NULL)
		snprintf(buf, len, "?");
	else
		snprintf(buf, len, "%s %d, %d", mons[tm.tm_mon], tm.tm_mday, tm.tm_year + 1900);
	return buf;
}

/* -------------------------------------------------------------- input */

char *
kt_read_password(const char *prompt)
{
	char *p;

	fflush(stdout);
	p = atr_read_password(prompt);
	if (p != NULL && p[0] == '\0') {
		atr_free_secret(p);
		return NULL;
	}
	return p;
}

char *
kt_read_line(const char *prompt)
{
	char buf[4096];

	fflush(stdout);
	fputs(prompt, stderr);
	fflush(stderr);
	if (fgets(buf, sizeof(buf), stdin) == NULL)
		return NULL;
	buf[strcspn(buf, "\r\n")] = '\0';
	return strdup(buf);
}

int
kt_yes_no(struct kt *kt, const char *prompt)
{
	(void)kt;
	for (int tries = 0; tries <= 20; tries++) {
		char *r = kt_read_line(prompt);
		int answer = -1;

		if (r == NULL || r[0] == '\0' || strcasecmp(r, "n") == 0 || strcasecmp(r, "no") == 0)
			answer = 0;
		else if (strcasecmp(r, "y") == 0 || strcasecmp(r, "yes") == 0)
			answer = 1;
		free(r);
		if (answer != -1)
			return answer;
		fputs("Wrong answer, try again\n", stderr);
	}
	return 0;
}

/* ------------------------------------------------------ keystore helpers */

const struct atr_ks_entry *
kt_find(struct kt *kt, const char *alias)
{
	return kt->ks != NULL && alias != NULL ? atr_ks_find(kt->ks, alias) : NULL;
}

X509 *
kt_entry_cert(const struct atr_ks_entry *e)
{
	return e != NULL ? atr_ks_entry_cert(e) : NULL;
}

const char *
kt_cert_alias(struct atr_ks *ks, X509 *cert)
{
	for (size_t i = 0; ks != NULL && i < atr_ks_count(ks); i++) {
		const struct atr_ks_entry *e = atr_ks_entry_at(ks, i);
		X509 *c = atr_ks_entry_cert(e);

		if (c != NULL && atr_x509_equal(c, cert))
			return atr_ks_entry_alias(e);
	}
	return NULL;
}

/* keytool's getKeyPasswd(): up to three prompts for a key password. */
static char *
ask_key_password(struct kt *kt, const char *alias)
{
	char prompt[512];

	(void)kt;
	snprintf(prompt, sizeof(prompt), "Enter key password for <%s>", alias);
	for (int i = 0; i < 3; i++) {
		char *p = kt_read_password(prompt);
		if (p != NULL)
			return p;
	}
	return NULL;
}

EVP_PKEY *
kt_recover_key(struct kt *kt, struct atr_ks *ks, const char *alias, const char *storepass,
    const char **used)
{
	const struct atr_ks_entry *e = atr_ks_find(ks, alias);
	struct atr_err err = {0};
	EVP_PKEY *key;
	char *asked;

	*used = NULL;
	if (e == NULL) {
		kt_fail(kt, "java.lang.Exception", "Alias <%s> does not exist", alias);
		return NULL;
	}
	if (atr_ks_entry_kind(e) != ATR_KS_PRIVATE_KEY) {
		kt_fail(kt, "java.lang.Exception", "Alias <%s> has no key", alias);
		return NULL;
	}
	if (kt->keypass != NULL) {
		if ((key = atr_ks_entry_key(ks, e, kt->keypass, &err)) == NULL)
			kt_fail_err(kt, &err);
		*used = kt->keypass;
		return key;
	}
	if (storepass != NULL) {
		if ((key = atr_ks_entry_key(ks, e, storepass, &err)) != NULL) {
			*used = storepass;
			return key;
		}
		if (err.code != ATR_E_KS_KEY_PASSWORD || atr_ks_format(ks) == ATR_KS_PKCS12) {
			kt_fail_err(kt, &err);
			return NULL;
		}
	}
	if ((asked = ask_key_password(kt, alias)) == NULL) {
		kt_fail(kt, "java.lang.Exception", "Too many failures - try later");
		return NULL;
	}
	atr_err_clear(&err);
	if ((key = atr_ks_entry_key(ks, e, asked, &err)) == NULL) {
		atr_free_secret(asked);
		kt_fail_err(kt, &err);
		return NULL;
	}
	atr_free_secret(kt->keypass);
	kt->keypass = asked;
	*used = kt->keypass;
	return key;
}

int
kt_read_input(struct kt *kt, const char *path, unsigned char **buf, size_t *len)
{
	struct atr_err err = {0};

	*buf = NULL;
	*len = 0;
	if (path == NULL) {
		size_t cap = 0;

		for (;;) {
			unsigned char *bigger;
			size_t n;

			if (*len + 4096 > cap) {
				if (cap > ATR_KS_MAX_FILE) {
					free(*buf);
					*buf = NULL;
					return kt_fail(kt, "java.io.IOException", "input too large");
				}
				cap = cap ? 2 * cap : 65536;
				if ((bigger = realloc(*buf, cap)) == NULL) {
					free(*buf);
					*buf = NULL;
					return kt_fail(kt, "java.lang.OutOfMemoryError", "Java heap space");
				}
				*buf = bigger;
			}
			n = fread(*buf + *len, 1, cap - *len, stdin);
			*len += n;
			if (n == 0)
				break;
		}
		return 0;
	}
	if (atr_read_file(path, ATR_KS_MAX_FILE, buf, len, &err) == -1) {
		struct stat st;
		const char *why = stat(path, &st) == 0 && S_ISDIR(st.st_mode) ? "Is a directory" :
		    errno == EACCES ? "Permission denied" : "No such file or directory";

		if (err.code == ATR_E_TOO_LARGE)
			return kt_fail(kt, "java.io.IOException", "%s is too large", path);
		return kt_fail(kt, "java.io.FileNotFoundException", "%s (%s)", path, why);
	}
	return 0;
}

FILE *
kt_open_output(struct kt *kt, const char *path)
{
	FILE *f;

	if (path == NULL)
		return stdout;
	if ((f = fopen(path, "wb")) == NULL)
		kt_fail(kt, "java.io.FileNotFoundException", "%s (%s)", path,
		    errno == EACCES ? "Permission denied" : errno == EISDIR ? "Is a directory" :
		    "No such file or directory");
	return f;
}

int
kt_dump_cert(struct kt *kt, X509 *cert, FILE *out)
{
	if (kt->rfc) {
		size_t n;
		char *pem = atr_x509_cert_pem(cert, &n);

		if (pem == NULL)
			return kt_fail(kt, "java.lang.OutOfMemoryError", "Java heap space");
		fwrite(pem, 1, n, out);
		free(pem);
	} else {
		unsigned char *der;
		size_t n;

		if (atr_x509_cert_der(cert, &der, &n) == -1)
			return kt_fail(kt, "java.security.cert.CertificateEncodingException",
			    "cannot encode");
		fwrite(der, 1, n, out);
		free(der);
	}
	return 0;
}

/* Java's KeyStoreUtil.getCacerts(): $JAVA_HOME/lib/security/cacerts, else
 * Debian's shared Java trust store. */
static char *
cacerts_path(void)
{
	const char *home = getenv("JAVA_HOME");
	char buf[4096];

	if (home != NULL && *home) {
		snprintf(buf, sizeof(buf), "%s/lib/security/cacerts", home);
		if (access(buf, R_OK) == 0)
			return strdup(buf);
	}
	if (access("/usr/lib/jvm/default-java/lib/security/cacerts", R_OK) == 0)
		return strdup("/usr/lib/jvm/default-java/lib/security/cacerts");
	return strdup("/etc/ssl/certs/java/cacerts");
}

STACK_OF(X509) *
kt_cacerts(struct kt *kt)
{
	struct atr_err err = {0};
	char *path = cacerts_path();
	struct atr_ks *ks = path ? atr_ks_load_file(path, "changeit", &err) : NULL;
	STACK_OF(X509) *out = sk_X509_new_null();

	(void)kt;
	free(path);
	for (size_t i = 0; ks != NULL && out != NULL && i < atr_ks_count(ks); i++) {
		X509 *c = atr_ks_entry_cert(atr_ks_entry_at(ks, i));

		if (c != NULL && X509_up_ref(c) && !sk_X509_push(out, c))
			X509_free(c);
	}
	atr_ks_free(ks);
	return out;
}

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
			if (strcmp(low, "-ext") != 0 && strcmp(low, "-id") != 0 &&
			    strcmp(low, "-provider") != 0 && strcmp(low, "-addprovider") != 0 &&
			    strcmp(low, "-providerclass") != 0 && strcmp(low, "-providerarg") != 0)
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
		const char *val;
		long long num;
		int bad = 0;

		if (i == argc - 1)
			for (int o = 0; o < O_END; o++)
				if (strcasecmp(argv[i] + 1, opts[o].name) == 0) {
					if (opts[o].arg != NULL) {
						fprintf(stderr, "Command option %s needs an argument.\n", argv[i]);
						usage(kt->cmd);
						return 2;
					}
					break;
				}
		snprintf(flag, sizeof(flag), "%s", argv[i]);
		if ((colon = strchr(argv[i], ':')) != NULL && colon > argv[i]) {
			flag[colon - argv[i] < (long)sizeof(flag) ? colon - argv[i] : 0] = '\0';
			modifier = colon + 1;
		}
		val = i + 1 < argc ? argv[i + 1] : NULL;
#define NEED_VAL()                                                              \
	do {                                                                    \
		if (val == NULL) {                                              \
			fprintf(stderr, "Command option %s needs an argument.\n", flag); \
			usage(kt->cmd);                                         \
			return 2;                                               \
		}                                                               \
		i++;                                                            \
	} while (0)
#define IS(s) (strcasecmp(flag, (s)) == 0)
#define SECRET(slot)                                                            \
	do {                                                                    \
		NEED_VAL();                                                     \
		char *p_ = get_pass(modifier, val, &bad);                      \
		if (bad) {                                                      \
			usage(kt->cmd);                                         \
			return 2;                                               \
		}                                                               \
		set_secret(&kt->slot, p_);                                      \
		if (modifier == NULL)                                           \
			atr_wipe(argv[i], strlen(argv[i]));                     \
	} while (0)

		if (find_cmd(flag) != KT_NONE) {
			/* the command, found above */
		} else if (IS("--help") || IS("-h") || IS("-?") || IS("-help")) {
			help = 1;
		} else if (IS("-conf")) {
			i++;
		} else if (IS("-nowarn")) {
			kt->nowarn = 1;
		} else if (IS("-keystore") || IS("-destkeystore")) {
			NEED_VAL();
			kt->ksfname = val;
		} else if (IS("-cacerts")) {
			kt->cacerts = 1;
		} else if (IS("-storepass") || IS("-deststorepass")) {
			SECRET(storepass);
		} else if (IS("-storetype") || IS("-deststoretype")) {
			NEED_VAL();
			snprintf(kt->typebuf, sizeof(kt->typebuf), "%s", val);
			for (char *p = kt->typebuf; *p; p++)
				*p = (char)(*p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p);
			kt->storetype = kt->typebuf;
		} else if (IS("-srcstorepass")) {
			SECRET(srcstorepass);
		} else if (IS("-srcstoretype")) {
			NEED_VAL();
			snprintf(kt->srctypebuf, sizeof(kt->srctypebuf), "%s", val);
			for (char *p = kt->srctypebuf; *p; p++)
				*p = (char)(*p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p);
			kt->srcstoretype = kt->srctypebuf;
		} else if (IS("-srckeypass")) {
			SECRET(srckeypass);
		} else if (IS("-srcprovidername") || IS("-providername") ||
		    IS("-destprovidername") || IS("-providerpath")) {
			NEED_VAL();
		} else if (IS("-keypass")) {
			SECRET(keypass);
		} else if (IS("-new")) {
			SECRET(newpass);
		} else if (IS("-destkeypass")) {
			SECRET(destkeypass);
		} else if (IS("-alias") || IS("-srcalias")) {
			NEED_VAL();
			kt->alias = val;
		} else if (IS("-dest") || IS("-destalias")) {
			NEED_VAL();
			kt->dest = val;
		} else if (IS("-dname")) {
			NEED_VAL();
			kt->dname = val;
		} else if (IS("-keysize")) {
			NEED_VAL();
			if (parse_number(kt, val, INT_MIN, INT_MAX, &num) == -1)
				return -1;
			kt->keysize = (int)num;
		} else if (IS("-groupname")) {
			NEED_VAL();
			kt->groupname = val;
		} else if (IS("-keyalg")) {
			NEED_VAL();
			kt->keyalg = val;
		} else if (IS("-sigalg")) {
			NEED_VAL();
			kt->sigalg = val;
		} else if (IS("-signer")) {
			NEED_VAL();
			kt->signer = val;
		} else if (IS("-signerkeypass")) {
			SECRET(signerkeypass);
		} else if (IS("-startdate")) {
			NEED_VAL();
			kt->startdate = val;
		} else if (IS("-validity")) {
			NEED_VAL();
			if (parse_number(kt, val, LLONG_MIN, LLONG_MAX, &num) == -1)
				return -1;
			kt->validity = num;
		} else if (IS("-ext")) {
			NEED_VAL();
			if (kt->next < KT_MAX_EXT)
				kt->exts[kt->next++] = val;
		} else if (IS("-id")) {
			NEED_VAL();
		} else if (IS("-file")) {
			NEED_VAL();
			kt->file = val;
		} else if (IS("-infile")) {
			NEED_VAL();
			kt->infile = val;
		} else if (IS("-outfile")) {
			NEED_VAL();
			kt->outfile = val;
		} else if (IS("-sslserver")) {
			NEED_VAL();
			kt->sslserver = val;
		} else if (IS("-jarfile")) {
			NEED_VAL();
			kt->jarfile = val;
		} else if (IS("-srckeystore")) {
			NEED_VAL();
			kt->srcksfname = val;
		} else if (IS("-provider") || IS("-providerclass") || IS("-addprovider")) {
			NEED_VAL();
			if (i + 1 < argc && strcasecmp(argv[i + 1], "-providerarg") == 0) {
				if (i + 2 >= argc) {
					fprintf(stderr, "Command option %s needs an argument.\n", argv[i + 1]);
					usage(kt->cmd);
					return 2;
				}
				i += 2;
			}
		} else if (IS("-v")) {
			kt->verbose = 1;
		} else if (IS("-debug")) {
			/* no debug output */
		} else if (IS("-rfc")) {
			kt->rfc = 1;
		} else if (IS("-noprompt")) {
			kt->noprompt = 1;
		} else if (IS("-trustcacerts")) {
			kt->trustcacerts = 1;
		} else if (IS("-protected") || IS("-destprotected")) {
			kt->protected_path = 1;
		} else if (IS("-srcprotected")) {
			kt->srcprotected = 1;
		} else if (IS("-tls")) {
			/* -showinfo only */
		} else {
			fprintf(stderr, "Illegal option:  %s\n", flag);
			usage(kt->cmd);
			return 2;
		}
#undef NEED_VAL
#undef IS
#undef SECRET
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

/* Commands that need an existing keystore file. */
static int
may_create(enum kt_cmd c)
{
	return c == KT_GENKEYPAIR || c == KT_GENSECKEY || c == KT_IDENTITYDB ||
	    c == KT_IMPORTCERT || c == KT_IMPORTPASS || c == KT_IMPORTKEYSTORE ||
	    c == KT_PRINTCRL || c == KT_PRINTCERT;
}

/* Commands that write the keystore, and so ask twice for a new password. */
static int
modifies(enum kt_cmd c)
{
	return c == KT_CERTREQ || c == KT_DELETE || c == KT_GENKEYPAIR || c == KT_GENSECKEY ||
	    c == KT_IMPORTCERT || c == KT_IMPORTPASS || c == KT_IMPORTKEYSTORE ||
	    c == KT_KEYCLONE || c == KT_CHANGEALIAS || c == KT_SELFCERT ||
	    c == KT_STOREPASSWD || c == KT_KEYPASSWD || c == KT_IDENTITYDB;
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
		} else if (!may_create(kt->cmd)) {
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
		if (modifies(kt->cmd)) {
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
	for (size_t i = 0; i < kt->nwarn; i++)
		free(kt->warnings[i]);
}

/* keytool's Main.doCommands(). Returns the exit status. */
static int
run(struct kt *kt)
{
	struct atr_ks *src = NULL;
	int rc = -1, status;

	if (kt->cacerts) {
		if (kt->ksfname != NULL || kt->storetype != NULL) {
			kt_fail(kt, "java.lang.IllegalArgumentException", "The -keystore or "
			    "-storetype option cannot be used with the -cacerts option");
			return 1;
		}
		kt->ksfname = kt->ksfname_default = cacerts_path();
	}
	switch (kt->cmd) {
	case KT_GENSECKEY:
	case KT_IMPORTPASS:
	case KT_PRINTCRL:
	case KT_SHOWINFO:
	case KT_KEYCLONE:
	case KT_SELFCERT:
	case KT_GENCRL:
	case KT_IDENTITYDB:
		kt_fail(kt, "java.lang.UnsupportedOperationException",
		    "atrium keytool does not implement %s", cmds[kt->cmd].name);
		return 1;
	default:
		break;
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
			if ((src = kt_load_source(kt)) == NULL)
				return 1;
			if (kt->storepass == NULL && kt->srcstorepass != NULL)
				kt->storepass = strdup(kt->srcstorepass);
		} else {
			fprintf(stderr, "Importing keystore %s to %s...\n", kt->srcksfname, kt->ksfname);
		}
	}
	if (kt->cmd == KT_PRINTCERT || kt->cmd == KT_PRINTCERTREQ) {
		rc = kt->cmd == KT_PRINTCERT ? kt_do_printcert(kt) : kt_do_printcertreq(kt);
		goto done;
	}
	if ((status = open_store(kt)) != 0) {
		atr_ks_free(src);
		if (status == 1) {
			kt_flush_warnings(kt, 0);
			return 0;
		}
		return 1;
	}
	if (kt->cmd != KT_IMPORTCERT)
		kt->trustcacerts = 0;

	switch (kt->cmd) {
	case KT_CERTREQ:
		rc = kt_do_certreq(kt);
		break;
	case KT_DELETE:
		rc = kt_do_delete(kt);
		break;
	case KT_EXPORTCERT:
		rc = kt_do_exportcert(kt);
		break;
	case KT_GENKEYPAIR:
		rc = kt_do_genkeypair(kt);
		break;
	case KT_GENCERT:
		rc = kt_do_gencert(kt);
		break;
	case KT_IMPORTCERT:
		rc = kt_do_importcert(kt);
		break;
	case KT_IMPORTKEYSTORE:
		if (src == NULL && (src = kt_load_source(kt)) == NULL)
			break;
		rc = kt_do_importkeystore(kt, src);
		if (rc == 0 && kt->inplace)
			rc = backup_source(kt);
		break;
	case KT_CHANGEALIAS:
		rc = kt_do_changealias(kt);
		break;
	case KT_KEYPASSWD:
		rc = kt_do_keypasswd(kt);
		break;
	case KT_LIST:
		rc = kt_do_list(kt);
		break;
	case KT_STOREPASSWD:
		rc = kt_do_storepasswd(kt);
		break;
	default:
		rc = kt_fail(kt, "java.lang.UnsupportedOperationException", "not implemented");
		break;
	}
	atr_ks_free(src);
	src = NULL;
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
done:
	atr_ks_free(src);
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
