/*
 * atrium ca: a root certificate authority of the administrator's own, for
 * those who would rather "establish their own root CA and import it into
 * each client" than live with self-signed warnings. init makes the root,
 * issue makes server (or client) keystores for names and addresses,
 * export gives the root to clients as PEM, DER or a JKS/PKCS#12 trust
 * store. The CA itself is the library's (ca.h), the one atriumd uses for
 * its local CA, so the two make the same certificates.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "atrium/ca.h"
#include "atrium/keystore.h"
#include "atrium/tlsclient.h"
#include "atrium/util.h"
#include "atrium/x509.h"
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/client.h"
#include "cli/output.h"
#include "cli/session.h"

#define MAX_NAMES 64        /* names in one certificate */
#define BROWSER_MAX_DAYS 398 /* what browsers accept for a server certificate */

/* ---- shared ----------------------------------------------------------- */

/* --dir, else $ATRIUM_HOME/ca. New string or NULL with err set. */
static char *
ca_dir(const char *given, struct atr_err *err)
{
	char *home, *out;

	if (given != NULL) {
		if ((out = strdup(given)) == NULL)
			atr_err_set(err, ATR_E_NOMEM, NULL);
		return out;
	}
	if ((home = cli_home(err)) == NULL)
		return NULL;
	if (asprintf(&out, "%s/ca", home) == -1) {
		out = NULL;
		atr_err_set(err, ATR_E_NOMEM, NULL);
	}
	free(home);
	return out;
}

static struct atr_ca *
ca_open(const char *dir, struct atr_err *err)
{
	struct atr_ca *ca = atr_ca_load(dir, err);

	if (ca == NULL && err->code == ATR_E_NOT_FOUND)
		atr_err_set(err, ATR_E_NOT_FOUND,
		    "there is no CA in %s: run atrium ca init first, or give --dir", dir);
	return ca;
}

/* Refuses to replace a file: keys and trust stores are not overwritten by accident. */
static int
check_new_file(const char *path, struct atr_err *err)
{
	if (access(path, F_OK) == 0)
		return atr_err_set(err, ATR_E_EXISTS,
		    "%s exists already; remove it or choose another name", path);
	return 0;
}

/* A password file's content: read when it exists, else made (random, 0600). */
static char *
pass_from_file(const char *path, int *created, struct atr_err *err)
{
	struct atr_err lerr;
	char *pw;

	*created = 0;
	if ((pw = atr_passfile_read(path, &lerr)) != NULL)
		return pw;
	if (lerr.code != ATR_E_NOT_FOUND) {
		if (err != NULL)
			*err = lerr;
		return NULL;
	}
	if ((pw = atr_passfile_create(path, err)) != NULL)
		*created = 1;
	return pw;
}

/* "server.p12" -> "server.pass" (the reference's cert.jks / cert.pass pairing). */
static char *
sibling_pass(const char *file)
{
	const char *slash = strrchr(file, '/'), *dot = strrchr(file, '.');
	char *out;

	if (dot == NULL || (slash != NULL && dot < slash))
		dot = file + strlen(file);
	return asprintf(&out, "%.*s.pass", (int)(dot - file), file) == -1 ? NULL : out;
}

/* Whether path ends with one of the extensions (case-insensitive). */
static int
has_ext(const char *path, const char *const *exts)
{
	size_t n = strlen(path);

	for (; *exts != NULL; exts++) {
		size_t e = strlen(*exts);

		if (n > e && strcasecmp(path + n - e, *exts) == 0)
			return 1;
	}
	return 0;
}

/* Certificates as PEM with Unix line ends, leaf first. New string. */
static char *
chain_pem(STACK_OF(X509) *chain, size_t *outlen)
{
	size_t len = 0, cap = 1;
	char *out = NULL;

	for (int i = 0; i < sk_X509_num(chain); i++) {
		size_t n;
		char *p = atr_x509_cert_pem(sk_X509_value(chain, i), &n), *q;

		if (p == NULL || (q = realloc(out, cap + n)) == NULL) {
			free(p);
			free(out);
			return NULL;
		}
		out = q;
		cap += n;
		for (size_t j = 0; j < n; j++)
			if (p[j] != '\r')
				out[len++] = p[j];
		free(p);
	}
	if (out == NULL && (out = malloc(1)) == NULL)
		return NULL;
	out[len] = '\0';
	*outlen = len;
	return out;
}

static void
print_root(const struct atr_ca *ca, const char *dir)
{
	struct atr_cert_info ci;
	char a[40], b[40];

	atr_cert_info_get(atr_ca_cert(ca), &ci);
	atr_tls_format_time(ci.not_before, a, sizeof(a));
	atr_tls_format_time(ci.not_after, b, sizeof(b));
	printf("Root:     %s/ca.crt\n", dir);
	printf("Subject:  %s\n", ci.subject);
	printf("Key:      %s\n", ci.keyalg);
	printf("Valid:    %s until %s\n", a, b);
	printf("SHA-256:  %s\n", ci.sha256);
}

/* ---- init ---------------------------------------------------------------- */

enum { INIT_DIR, INIT_CN, INIT_KEYALG };

static const struct cli_opt init_opts[] = {
	[INIT_DIR] = {"dir", 0, "DIR", "where the CA lives (default $ATRIUM_HOME/ca)"},
	[INIT_CN] = {"cn", 0, "NAME", "the root's common name (default \"Atrium root CA on HOST\")"},
	[INIT_KEYALG] = {"keyalg", 0, "EC|RSA", "the root's key: EC P-256 (default) or RSA 3072"},
	{NULL, 0, NULL, NULL},
};

static const struct cli_usage init_usage = {
	"atrium ca init", "[OPTIONS]",
	"Creates a root certificate authority: DIR/ca.key (its private key, mode\n"
	"0600; keep it secret and backed up) and DIR/ca.crt (the root certificate,\n"
	"valid 10 years, to give to every client). An existing CA is never\n"
	"replaced.",
	init_opts,
};

static int
ca_init(int argc, char **argv)
{
	struct atr_err err;
	struct cli_args a;
	struct atr_ca *ca = NULL;
	char *dir = NULL, host[256] = "this machine", cn[400];
	int status;

	if (cli_args_get(&init_usage, argc, argv, 0, 0, &a, &status) == -1)
		return status;
	if (a.val[INIT_KEYALG] != NULL && strcasecmp(a.val[INIT_KEYALG], "EC") != 0 &&
	    strcasecmp(a.val[INIT_KEYALG], "RSA") != 0)
		return cli_usage_error(&init_usage, "--keyalg takes EC or RSA");
	if (a.val[INIT_CN] != NULL && a.val[INIT_CN][0] == '\0')
		return cli_usage_error(&init_usage, "--cn must not be empty");
	status = CLI_FAIL;
	if ((dir = ca_dir(a.val[INIT_DIR], &err)) == NULL)
		goto fail;
	if (a.val[INIT_CN] != NULL) {
		snprintf(cn, sizeof(cn), "%s", a.val[INIT_CN]);
	} else {
		gethostname(host, sizeof(host));
		host[sizeof(host) - 1] = '\0';
		snprintf(cn, sizeof(cn), "Atrium root CA on %s", host);
	}
	if ((ca = atr_ca_create(dir, cn, a.val[INIT_KEYALG], &err)) == NULL)
		goto fail;
	printf("Created a root certificate authority in %s.\n", dir);
	print_root(ca, dir);
	printf("\nKeep %s/ca.key secret: whoever has it can pass for any server.\n"
	       "Next: atrium ca issue HOST [ADDRESS...] --out server.p12 makes a server keystore;\n"
	       "atrium ca export --format jks --out cert.jks makes a trust store for clients.\n",
	    dir);
	status = CLI_OK;
	goto out;
fail:
	status = cli_fail(&err);
out:
	atr_ca_free(ca);
	free(dir);
	return status;
}

/* ---- issue --------------------------------------------------------------- */

enum {
	ISSUE_DIR, ISSUE_DAYS, ISSUE_KEYALG, ISSUE_CLIENT, ISSUE_OUT, ISSUE_STORETYPE,
	ISSUE_STOREPASS_FILE, ISSUE_ALIAS, ISSUE_CERT_OUT, ISSUE_KEY_OUT, ISSUE_CRL_URL,
};

static const struct cli_opt issue_opts[] = {
	[ISSUE_DIR] = {"dir", 0, "DIR", "the CA (default $ATRIUM_HOME/ca)"},
	[ISSUE_DAYS] = {"days", 0, "N", "validity in days (default 397, what browsers accept)"},
	[ISSUE_KEYALG] = {"keyalg", 0, "EC|RSA", "the new key: EC P-256 (default) or RSA 2048"},
	[ISSUE_CLIENT] = {"client", 0, NULL, "usable as a TLS client certificate too"},
	[ISSUE_OUT] = {"out", 'o', "FILE", "the keystore to write: key, certificate and root"},
	[ISSUE_STORETYPE] = {"storetype", 0, "TYPE",
	    "PKCS12, JKS or PEM (default: from FILE's extension .p12 .pfx .jks .pem, else "
	    "PKCS12)"},
	[ISSUE_STOREPASS_FILE] = {"storepass-file", 0, "F",
	    "the keystore's password: read from F, or made at random and written to F when "
	    "F does not exist (default: a prompt)"},
	[ISSUE_ALIAS] = {"alias", 0, "ALIAS", "the key entry's alias (default server)"},
	[ISSUE_CERT_OUT] = {"cert-out", 0, "FILE",
	    "also write the certificate and its chain as PEM (e.g. PostgreSQL's ssl_cert_file)"},
	[ISSUE_KEY_OUT] = {"key-out", 0, "FILE",
	    "also write the private key as unencrypted PEM, mode 0600 (ssl_key_file)"},
	[ISSUE_CRL_URL] = {"crl-url", 0, "URL",
	    "the CRL distribution point to name (http://...); atriumd serves its local CA's "
	    "(--dir DATA/tls) at http://HOST:PORT/ca.crl"},
	{NULL, 0, NULL, NULL},
};

static const struct cli_usage issue_usage = {
	"atrium ca issue", "[OPTIONS] NAME[,NAME...]...",
	"Issues a server certificate from the CA for the given host names and IP\n"
	"addresses (told apart automatically; the first is also the subject's\n"
	"CN), with a new key, and writes it as a keystore (--out: PKCS#12, JKS or\n"
	"PEM) and/or as PEM files (--cert-out, --key-out). Point atriumd's\n"
	"tls_keystore at the keystore, or upload it on the console's Server\n"
	"Settings page. Existing files are never overwritten.",
	issue_opts,
};

/* Splits the positional arguments (and commas within them) into names. */
static int
split_names(const struct cli_args *a, char *buf, size_t buflen, const char **names,
    size_t *n)
{
	size_t used = 0;

	*n = 0;
	for (int i = 0; i < a->npos; i++) {
		size_t l = strlen(a->pos[i]);
		char *p, *tok, *save = NULL;

		if (used + l + 1 > buflen)
			return -1;
		p = buf + used;
		memcpy(p, a->pos[i], l + 1);
		used += l + 1;
		for (tok = strtok_r(p, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
			if (*n == MAX_NAMES)
				return -1;
			names[(*n)++] = tok;
		}
	}
	return *n > 0 ? 0 : -1;
}

/* The keystore password: --storepass-file, else a prompt (twice). */
static char *
issue_password(const char *passfile, const char *out, struct atr_err *err)
{
	char *p1, *p2;
	int created;

	if (passfile != NULL) {
		if ((p1 = pass_from_file(passfile, &created, err)) != NULL && created)
			printf("Made a random password for %s and wrote it to %s (mode 0600).\n", out,
			    passfile);
		return p1;
	}
	if (!isatty(STDIN_FILENO)) {
		atr_err_set(err, ATR_E_USAGE,
		    "%s needs a password: give --storepass-file F (made at random when F does not "
		    "exist), or run this on a terminal", out);
		return NULL;
	}
	for (;;) {
		if ((p1 = atr_read_password("Enter keystore password:  ")) == NULL) {
			atr_err_set(err, ATR_E_USAGE, "no password given");
			return NULL;
		}
		if (strlen(p1) < 6) {
			fprintf(stderr, "Keystore password is too short - must be at least 6 "
			    "characters\n");
			atr_free_secret(p1);
			continue;
		}
		if ((p2 = atr_read_password("Re-enter new password: ")) == NULL) {
			atr_free_secret(p1);
			atr_err_set(err, ATR_E_USAGE, "no password given");
			return NULL;
		}
		if (strcmp(p1, p2) == 0) {
			atr_free_secret(p2);
			return p1;
		}
		fprintf(stderr, "They don't match. Try again\n");
		atr_free_secret(p1);
		atr_free_secret(p2);
	}
}

static enum atr_ks_format
issue_format(const char *storetype, const char *out)
{
	static const char *const jks[] = {".jks", NULL};
	static const char *const pem[] = {".pem", ".crt", ".key", NULL};

	if (storetype != NULL)
		return atr_ks_format_parse(storetype);
	if (has_ext(out, jks))
		return ATR_KS_JKS;
	if (has_ext(out, pem))
		return ATR_KS_PEM;
	return ATR_KS_PKCS12;
}

static int
ca_issue(int argc, char **argv)
{
	struct atr_err err;
	struct cli_args a;
	struct atr_ca *ca = NULL;
	struct atr_ks *ks = NULL;
	EVP_PKEY *key = NULL;
	STACK_OF(X509) *chain = NULL;
	struct atr_cert_info ci, ri;
	const char *names[MAX_NAMES], *out, *alias, *warning = NULL;
	char namebuf[8192], until[40], root_until[40];
	char *dir = NULL, *pass = NULL, *pem = NULL, *keypem = NULL;
	size_t nnames, pemlen = 0, keylen = 0;
	enum atr_ks_format fmt = ATR_KS_UNKNOWN;
	uint64_t days = ATR_CA_SERVER_DAYS;
	int status;

	if (cli_args_get(&issue_usage, argc, argv, 1, CLI_POS_MAX, &a, &status) == -1)
		return status;
	out = a.val[ISSUE_OUT];
	alias = a.val[ISSUE_ALIAS] != NULL ? a.val[ISSUE_ALIAS] : "server";
	if (split_names(&a, namebuf, sizeof(namebuf), names, &nnames) == -1)
		return cli_usage_error(&issue_usage, "give 1 to %d names", MAX_NAMES);
	if (out == NULL && a.val[ISSUE_CERT_OUT] == NULL && a.val[ISSUE_KEY_OUT] == NULL)
		return cli_usage_error(&issue_usage, "where to? Give --out FILE (or --cert-out and "
		    "--key-out)");
	if (a.val[ISSUE_KEY_OUT] != NULL && a.val[ISSUE_CERT_OUT] == NULL && out == NULL)
		return cli_usage_error(&issue_usage, "--key-out needs --cert-out or --out: a key "
		    "alone is of no use");
	if (a.val[ISSUE_DAYS] != NULL &&
	    cli_parse_u64(a.val[ISSUE_DAYS], 1, ATR_CA_ROOT_DAYS, &days) == -1)
		return cli_usage_error(&issue_usage, "--days takes a number from 1 to %d",
		    ATR_CA_ROOT_DAYS);
	if (a.val[ISSUE_KEYALG] != NULL && strcasecmp(a.val[ISSUE_KEYALG], "EC") != 0 &&
	    strcasecmp(a.val[ISSUE_KEYALG], "RSA") != 0)
		return cli_usage_error(&issue_usage, "--keyalg takes EC or RSA");
	/* Clients fetch CRLs over plain HTTP: TLS would need the very check. */
	if (a.val[ISSUE_CRL_URL] != NULL && strncmp(a.val[ISSUE_CRL_URL], "http://", 7) != 0)
		return cli_usage_error(&issue_usage, "--crl-url takes an http:// URL");
	if (out != NULL) {
		fmt = issue_format(a.val[ISSUE_STORETYPE], out);
		if (fmt != ATR_KS_PKCS12 && fmt != ATR_KS_JKS && fmt != ATR_KS_PEM)
			return cli_usage_error(&issue_usage, "--storetype takes PKCS12, JKS or PEM");
	} else if (a.val[ISSUE_STORETYPE] != NULL) {
		return cli_usage_error(&issue_usage, "--storetype goes with --out");
	}
	status = CLI_FAIL;
	if ((out != NULL && check_new_file(out, &err) == -1) ||
	    (a.val[ISSUE_CERT_OUT] != NULL && check_new_file(a.val[ISSUE_CERT_OUT], &err) == -1) ||
	    (a.val[ISSUE_KEY_OUT] != NULL && check_new_file(a.val[ISSUE_KEY_OUT], &err) == -1))
		goto fail;
	if ((dir = ca_dir(a.val[ISSUE_DIR], &err)) == NULL || (ca = ca_open(dir, &err)) == NULL)
		goto fail;
	if (fmt == ATR_KS_PKCS12 || fmt == ATR_KS_JKS) {
		if ((pass = issue_password(a.val[ISSUE_STOREPASS_FILE], out, &err)) == NULL)
			goto fail;
	} else if (fmt == ATR_KS_PEM && a.val[ISSUE_STOREPASS_FILE] != NULL) {
		if ((pass = issue_password(a.val[ISSUE_STOREPASS_FILE], out, &err)) == NULL)
			goto fail;
	}
	if (atr_ca_issue(ca, names, nnames, (int)days, a.val[ISSUE_KEYALG],
	    a.val[ISSUE_CLIENT] != NULL ? ATR_CA_CLIENT_AUTH : 0, a.val[ISSUE_CRL_URL], &key,
	    &chain, &err) == -1)
		goto fail;
	if (out != NULL) {
		if ((ks = atr_ks_new(fmt)) == NULL) {
			atr_err_set(&err, ATR_E_NOMEM, NULL);
			goto fail;
		}
		if (atr_ks_set_key(ks, alias, key, chain, pass, 0, &err) == -1 ||
		    atr_ks_save_file(ks, out, pass, &warning, &err) == -1) {
			atr_err_prefix(&err, "%s", out);
			goto fail;
		}
	}
	if (a.val[ISSUE_CERT_OUT] != NULL) {
		if ((pem = chain_pem(chain, &pemlen)) == NULL) {
			atr_err_set(&err, ATR_E_NOMEM, NULL);
			goto fail;
		}
		if (atr_write_file_atomic(a.val[ISSUE_CERT_OUT], pem, pemlen, 0644, &err) == -1)
			goto fail;
	}
	if (a.val[ISSUE_KEY_OUT] != NULL) {
		if ((keypem = atr_tls_key_pem(key, &keylen)) == NULL) {
			atr_err_set(&err, ATR_E_NOMEM, "cannot encode the private key");
			goto fail;
		}
		if (atr_write_file_atomic(a.val[ISSUE_KEY_OUT], keypem, keylen, 0600, &err) == -1)
			goto fail;
	}
	atr_cert_info_get(sk_X509_value(chain, 0), &ci);
	atr_cert_info_get(atr_ca_cert(ca), &ri);
	atr_tls_format_time(ci.not_after, until, sizeof(until));
	printf("Issued a certificate for %s, valid %llu days (until %s), signed by %s.\n",
	    ci.names, (unsigned long long)days, until, ri.subject);
	printf("SHA-256:  %s\n", ci.sha256);
	if (out != NULL)
		printf("Keystore: %s (%s, alias %s%s)\n", out, atr_ks_format_name(fmt),
		    atr_ks_entry_alias(atr_ks_find(ks, alias)),
		    fmt == ATR_KS_PEM && pass == NULL ? ", key not encrypted, mode 0600" : "");
	if (a.val[ISSUE_CERT_OUT] != NULL)
		printf("Certificate chain (PEM): %s\n", a.val[ISSUE_CERT_OUT]);
	if (a.val[ISSUE_KEY_OUT] != NULL)
		printf("Private key (PEM, not encrypted, mode 0600): %s\n", a.val[ISSUE_KEY_OUT]);
	if (warning != NULL)
		fprintf(stderr, "atrium: warning: %s\n", warning);
	if (days > BROWSER_MAX_DAYS)
		fprintf(stderr, "atrium: warning: browsers refuse server certificates valid for more "
		    "than %d days; atrium and Java clients accept them\n", BROWSER_MAX_DAYS);
	atr_tls_format_time(ri.not_after, root_until, sizeof(root_until));
	if (ci.not_after > ri.not_after)
		fprintf(stderr, "atrium: warning: the certificate outlives its root (which expires "
		    "%s); clients will refuse it once the root has expired\n", root_until);
	status = CLI_OK;
	goto out;
fail:
	status = err.code == ATR_E_USAGE ? (cli_fail(&err), CLI_USAGE) : cli_fail(&err);
out:
	if (keypem != NULL)
		atr_wipe(keypem, keylen);
	free(keypem);
	free(pem);
	atr_ks_free(ks);
	EVP_PKEY_free(key);
	sk_X509_pop_free(chain, X509_free);
	atr_free_secret(pass);
	atr_ca_free(ca);
	free(dir);
	return status;
}

/* ---- export -------------------------------------------------------------- */

enum { EXPORT_DIR, EXPORT_FORMAT, EXPORT_OUT, EXPORT_STOREPASS_FILE, EXPORT_ALIAS };

static const struct cli_opt export_opts[] = {
	[EXPORT_DIR] = {"dir", 0, "DIR", "the CA (default $ATRIUM_HOME/ca)"},
	[EXPORT_FORMAT] = {"format", 'f', "FORMAT",
	    "pem, der, jks or pkcs12 (default: from FILE's extension .pem .crt .der .cer "
	    ".jks .p12)"},
	[EXPORT_OUT] = {"out", 'o', "FILE", "where to write the root"},
	[EXPORT_STOREPASS_FILE] = {"storepass-file", 0, "F",
	    "jks/pkcs12: the trust store's password, read from F or made and written to F "
	    "(default: NAME.pass beside FILE, so cert.jks gets cert.pass)"},
	[EXPORT_ALIAS] = {"alias", 0, "ALIAS", "jks/pkcs12: the entry's alias (default atrium-ca)"},
	{NULL, 0, NULL, NULL},
};

static const struct cli_usage export_usage = {
	"atrium ca export", "[OPTIONS] --out FILE",
	"Writes the CA's root certificate for clients: PEM (curl --cacert, openssl,\n"
	"browsers, /usr/local/share/ca-certificates), DER (Windows, browsers), or a\n"
	"JKS or PKCS#12 trust store with its password file, the pair the reference\n"
	"clients read from their certs folder: --out cert.jks writes cert.jks and\n"
	"cert.pass, ready to copy into $ATRIUM_HOME/certs/ or a certs folder beside\n"
	"atrium, or for Java's -Djavax.net.ssl.trustStore.",
	export_opts,
};

static int
ca_export(int argc, char **argv)
{
	static const char *const pem_ext[] = {".pem", ".crt", NULL};
	static const char *const der_ext[] = {".der", ".cer", NULL};
	static const char *const jks_ext[] = {".jks", NULL};
	static const char *const p12_ext[] = {".p12", ".pfx", NULL};
	struct atr_err err;
	struct cli_args a;
	struct atr_ca *ca = NULL;
	struct atr_ks *ks = NULL;
	struct atr_cert_info ci;
	const char *out, *format, *alias, *passpath;
	char *dir = NULL, *pass = NULL, *sib = NULL, *text = NULL;
	unsigned char *der = NULL;
	size_t len = 0;
	int status, created = 0;

	if (cli_args_get(&export_usage, argc, argv, 0, 0, &a, &status) == -1)
		return status;
	if ((out = a.val[EXPORT_OUT]) == NULL)
		return cli_usage_error(&export_usage, "where to? Give --out FILE");
	format = a.val[EXPORT_FORMAT];
	if (format == NULL)
		format = has_ext(out, pem_ext) ? "pem" : has_ext(out, der_ext) ? "der" :
		    has_ext(out, jks_ext) ? "jks" : has_ext(out, p12_ext) ? "pkcs12" : NULL;
	if (format == NULL)
		return cli_usage_error(&export_usage, "which format? Give --format pem, der, jks "
		    "or pkcs12");
	if (strcasecmp(format, "pem") != 0 && strcasecmp(format, "der") != 0 &&
	    strcasecmp(format, "jks") != 0 && strcasecmp(format, "pkcs12") != 0 &&
	    strcasecmp(format, "p12") != 0)
		return cli_usage_error(&export_usage, "--format takes pem, der, jks or pkcs12");
	alias = a.val[EXPORT_ALIAS] != NULL ? a.val[EXPORT_ALIAS] : "atrium-ca";
	status = CLI_FAIL;
	if (check_new_file(out, &err) == -1)
		goto fail;
	if ((dir = ca_dir(a.val[EXPORT_DIR], &err)) == NULL || (ca = ca_open(dir, &err)) == NULL)
		goto fail;
	atr_cert_info_get(atr_ca_cert(ca), &ci);
	if (strcasecmp(format, "pem") == 0) {
		if ((text = atr_x509_cert_pem(atr_ca_cert(ca), &len)) == NULL)
			goto nomem;
		/* Unix line ends: keytool's \r\n upsets some tools (update-ca-certificates). */
		for (size_t i = 0, j = 0; i <= len; i++)
			if (text[i] != '\r')
				text[j++] = text[i];
		len = strlen(text);
		if (atr_write_file_atomic(out, text, len, 0644, &err) == -1)
			goto fail;
	} else if (strcasecmp(format, "der") == 0) {
		if (atr_x509_cert_der(atr_ca_cert(ca), &der, &len) == -1)
			goto nomem;
		if (atr_write_file_atomic(out, der, len, 0644, &err) == -1)
			goto fail;
	} else {
		passpath = a.val[EXPORT_STOREPASS_FILE];
		if (passpath == NULL) {
			if ((sib = sibling_pass(out)) == NULL)
				goto nomem;
			passpath = sib;
		}
		if ((pass = pass_from_file(passpath, &created, &err)) == NULL)
			goto fail;
		if ((ks = atr_ks_new(strcasecmp(format, "jks") == 0 ? ATR_KS_JKS : ATR_KS_PKCS12)) ==
		    NULL)
			goto nomem;
		if (atr_ks_set_trusted(ks, alias, atr_ca_cert(ca), 0, &err) == -1 ||
		    atr_ks_save_file(ks, out, pass, NULL, &err) == -1) {
			atr_err_prefix(&err, "%s", out);
			goto fail;
		}
		printf("Wrote %s (%s trust store, alias %s) with its password in %s%s.\n", out,
		    atr_ks_format_name(atr_ks_format(ks)), atr_ks_entry_alias(atr_ks_find(ks, alias)),
		    passpath, created ? " (new, random)" : "");
		printf("Copy both into a client's certs folder ($ATRIUM_HOME/certs/ as cert.jks and "
		       "cert.pass), or give them to Java as -Djavax.net.ssl.trustStore.\n");
	}
	if (strcasecmp(format, "pem") == 0 || strcasecmp(format, "der") == 0)
		printf("Wrote the root %s (SHA-256 %s) to %s as %s.\n", ci.subject, ci.sha256, out,
		    strcasecmp(format, "pem") == 0 ? "PEM" : "DER");
	status = CLI_OK;
	goto out;
nomem:
	atr_err_set(&err, ATR_E_NOMEM, NULL);
fail:
	status = cli_fail(&err);
out:
	atr_ks_free(ks);
	atr_free_secret(pass);
	free(sib);
	free(text);
	free(der);
	atr_ca_free(ca);
	free(dir);
	return status;
}

/* ---- show ---------------------------------------------------------------- */

enum { SHOW_DIR };

static const struct cli_opt show_opts[] = {
	[SHOW_DIR] = {"dir", 0, "DIR", "the CA (default $ATRIUM_HOME/ca)"},
	{NULL, 0, NULL, NULL},
};

static const struct cli_usage show_usage = {
	"atrium ca show", "[OPTIONS]",
	"Shows the CA's root certificate: subject, key, validity, SHA-256.",
	show_opts,
};

static int
ca_show(int argc, char **argv)
{
	struct atr_err err;
	struct cli_args a;
	struct atr_ca *ca = NULL;
	char *dir = NULL;
	int status;

	if (cli_args_get(&show_usage, argc, argv, 0, 0, &a, &status) == -1)
		return status;
	status = CLI_FAIL;
	if ((dir = ca_dir(a.val[SHOW_DIR], &err)) == NULL || (ca = ca_open(dir, &err)) == NULL) {
		status = cli_fail(&err);
	} else {
		print_root(ca, dir);
		status = CLI_OK;
	}
	atr_ca_free(ca);
	free(dir);
	return status;
}

/* ---- the command --------------------------------------------------------- */

static const struct cli_sub ca_subs[] = {
	{"init", ca_init, "create a root certificate authority"},
	{"issue", ca_issue, "issue a server keystore for names and addresses"},
	{"export", ca_export, "write the root as PEM, DER, or a JKS/PKCS#12 trust store"},
	{"show", ca_show, "show the root certificate"},
	{NULL, NULL, NULL},
};

int
cmd_ca(int argc, char **argv)
{
	cli_init();
	return cli_dispatch("atrium ca", ca_subs, argc, argv);
}
