/*
 * atrium keytool: private to src/cli/cmd_keytool.c and src/cli/keytool_*.c.
 * The shared kt_* helpers live in keytool_util.c.
 *
 * The command follows OpenJDK 17's sun.security.tools.keytool.Main step by
 * step (parse options, check them, open or create the keystore, prompt for
 * passwords, run the command, save, warn) so that its prompts, messages,
 * listings and exit statuses are Java's.
 */
#ifndef ATRIUM_CLI_KEYTOOL_INT_H
#define ATRIUM_CLI_KEYTOOL_INT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "atrium/err.h"
#include "atrium/keystore.h"
#include "atrium/x509.h"

/* keytool's commands, in the order of its -help. */
enum kt_cmd {
	KT_CERTREQ,
	KT_CHANGEALIAS,
	KT_DELETE,
	KT_EXPORTCERT,
	KT_GENKEYPAIR,
	KT_GENSECKEY,
	KT_GENCERT,
	KT_IMPORTCERT,
	KT_IMPORTPASS,
	KT_IMPORTKEYSTORE,
	KT_KEYPASSWD,
	KT_LIST,
	KT_PRINTCERT,
	KT_PRINTCERTREQ,
	KT_PRINTCRL,
	KT_STOREPASSWD,
	KT_SHOWINFO,
	KT_KEYCLONE, /* undocumented from here on, as in Java */
	KT_SELFCERT,
	KT_GENCRL,
	KT_IDENTITYDB,
	KT_NCMDS,
	KT_NONE = -1,
};

#define KT_MAX_EXT 64
#define KT_MAX_WARN 256

/* The command line and the state of one run. */
struct kt {
	enum kt_cmd cmd;

	/* options, as given (borrowed from argv) */
	const char *alias;      /* -alias, -srcalias */
	const char *dest;       /* -destalias, -dest */
	const char *dname;
	const char *keyalg;
	const char *sigalg;
	const char *groupname;
	const char *startdate;
	const char *file;
	const char *infile;
	const char *outfile;
	const char *ksfname;    /* -keystore, -destkeystore */
	const char *storetype;  /* -storetype, -deststoretype (upper-cased copy) */
	const char *srcksfname;
	const char *srcstoretype;
	const char *sslserver;
	const char *jarfile;
	const char *signer;
	const char *exts[KT_MAX_EXT];
	size_t next;
	int keysize;            /* -1: not given */
	long long validity;
	int verbose, rfc, noprompt, trustcacerts, protected_path, srcprotected, cacerts;
	int nowarn;

	/* secrets, owned and wiped (atr_free_secret) */
	char *storepass;        /* -storepass, -deststorepass, or prompted */
	char *storepass_new;    /* -storepasswd's new password */
	char *keypass;
	char *newpass;
	char *destkeypass;
	char *srcstorepass;
	char *srckeypass;
	char *signerkeypass;

	/* the keystore */
	char *ksfname_default;  /* ~/.keystore when -keystore is absent */
	char *alias_buf;        /* -alias or -destalias typed at a prompt */
	char *dest_buf;
	char typebuf[32];       /* storetype upper-cased */
	char srctypebuf[32];
	struct atr_ks *ks;
	enum atr_ks_format fmt; /* the file's real format (or the new one's) */
	const char *typename;   /* "Keystore type:" shown */
	int ks_exists;          /* the file existed when we started */
	int kssave;             /* save at the end */
	int inplace;            /* -importkeystore onto the source file */
	struct atr_ks *src;     /* -importkeystore's source, owned */
	char *inplace_backup;

	/* warnings printed at the end ("\nWarning:\n..."), owned */
	char *warnings[KT_MAX_WARN];
	size_t nwarn;
};

/* ------------------------------------------------------------ output */

/* Prints "keytool error: <cls>: <message>" on stdout (as keytool does) and
 * returns -1. cls is Java's exception class, e.g. "java.lang.Exception". */
int kt_fail(struct kt *kt, const char *cls, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* kt_fail() with the sentence in err and a class chosen from its code. */
int kt_fail_err(struct kt *kt, const struct atr_err *err);

/* kt_fail() for an error from the x509 module while making a certificate,
 * with the Java exception class keytool shows for err's code (a table in
 * keytool_util.c; the wording is never consulted). signkey names the
 * key in a signature-algorithm mismatch; validity_cls is the class for a
 * validity past year 9999 (differs between -genkeypair and -gencert). */
int kt_fail_x509(struct kt *kt, const struct atr_err *err, EVP_PKEY *signkey,
    const char *validity_cls);

/* Adds a line to the warnings printed at the end. */
void kt_warn(struct kt *kt, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prints the pending warnings to stderr and forgets them. newline adds an
 * empty line after them (before a yes/no question). */
void kt_flush_warnings(struct kt *kt, int newline);

/* Records Java's "weak algorithm" warnings for cert under label. trusted
 * skips the signature algorithm (a trust anchor). */
void kt_check_weak(struct kt *kt, const char *label, X509 *cert, int trusted);

/* The same for a signature algorithm name (NULL: none) and a key. */
void kt_check_weak_alg(struct kt *kt, const char *label, const char *sig, EVP_PKEY *key);

/* Java's name of a request's signature algorithm in buf, or NULL. */
const char *kt_csr_sigalg(X509_REQ *req, char *buf, size_t len);

/* The same for every certificate of a chain ("<label> #i of n"). */
void kt_check_weak_chain(struct kt *kt, const char *label, const STACK_OF(X509) *chain);

/* The no-integrity WARNING box, on stderr. */
void kt_no_integrity_warning(void);

/* Writes n with Java's grouping ("2,048") into buf. */
const char *kt_group(long long n, char *buf, size_t len);

/* Java's MEDIUM date ("Nov 27, 2026") of ms since the epoch. */
const char *kt_medium_date(int64_t ms, char *buf, size_t len);

/* ------------------------------------------------------------ input */

/* A password from the terminal (no echo) after prompt; NULL for an empty
 * line or end of input, as Java's Password.readPassword(). */
char *kt_read_password(const char *prompt);

/* A line from stdin after printing prompt on stderr; NULL at end of input.
 * The caller frees it. */
char *kt_read_line(const char *prompt);

/* keytool's yes/no question: 1 for yes, 0 for no. */
int kt_yes_no(struct kt *kt, const char *prompt);

/* ------------------------------------------------------- keystore ops */

/* The alias an entry is listed under, or as typed when looked up. */
const struct atr_ks_entry *kt_find(struct kt *kt, const char *alias);

/*
 * Java's recoverKey(): the private key of alias, trying the key password,
 * then the store password, then asking. Sets *used to the password that
 * worked (borrowed from kt or a new string stored in kt->keypass).
 */
EVP_PKEY *kt_recover_key(struct kt *kt, struct atr_ks *ks, const char *alias,
    const char *storepass, const char **used);

/* The certificate of an entry (the leaf for a key entry), or NULL. */
X509 *kt_entry_cert(const struct atr_ks_entry *e);

/* The alias of an entry whose certificate equals cert, or NULL. */
const char *kt_cert_alias(struct atr_ks *ks, X509 *cert);

/* Reads a whole input file (or stdin when path is NULL); keytool's
 * FileNotFoundException on failure. */
int kt_read_input(struct kt *kt, const char *path, unsigned char **buf, size_t *len);

/* Opens the output (a file, or stdout when path is NULL). */
FILE *kt_open_output(struct kt *kt, const char *path);

/* Writes cert as DER, or as keytool's PEM with -rfc. */
int kt_dump_cert(struct kt *kt, X509 *cert, FILE *out);

/* Loads the certificates of the cacerts keystore (for -trustcacerts). */
STACK_OF(X509) *kt_cacerts(struct kt *kt);

/* The path of the cacerts keystore (Java's KeyStoreUtil.getCacerts()),
 * allocated. */
char *kt_cacerts_path(void);

/* A new stack holding a reference to each certificate of chain (an empty
 * one for NULL), or NULL without memory; free with sk_X509_pop_free(). */
STACK_OF(X509) *kt_chain_ref(const STACK_OF(X509) *chain);

/* ------------------------------------------------------------ commands */

int kt_do_list(struct kt *kt);
int kt_do_printcert(struct kt *kt);
int kt_do_printcertreq(struct kt *kt);
int kt_do_exportcert(struct kt *kt);
int kt_do_genkeypair(struct kt *kt);
int kt_do_certreq(struct kt *kt);
int kt_do_gencert(struct kt *kt);
int kt_do_importcert(struct kt *kt);
int kt_do_delete(struct kt *kt);
int kt_do_changealias(struct kt *kt);
int kt_do_storepasswd(struct kt *kt);
int kt_do_keypasswd(struct kt *kt);
int kt_do_importkeystore(struct kt *kt, struct atr_ks *src);

/* Loads -srckeystore for -importkeystore (prompting for its password). */
struct atr_ks *kt_load_source(struct kt *kt);

#endif
