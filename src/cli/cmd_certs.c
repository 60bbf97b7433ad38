/*
 * atrium certs: the Server Certificates tool. Shows a server's chain and
 * whether this client trusts it, trusts a server (its root goes into
 * $ATRIUM_HOME/certs/cert.jks), imports, lists and removes trusted
 * certificates. The checks are the ones a connection makes
 * (atr_trust_check()), so what `show` says is what `login` will do.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "atrium/keystore.h"
#include "atrium/tlsclient.h"
#include "atrium/util.h"
#include "atrium/x509.h"
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/client.h"
#include "cli/http.h"
#include "cli/output.h"
#include "cli/session.h"
#include "cli/trust.h"
#include "cli/url.h"

#define FETCH_TIMEOUT_MS 10000

/* ---- shared ----------------------------------------------------------- */

/* A server argument: "HOST[:PORT]" (TLS port 10002 by default) or https://. */
struct server_arg {
	char *url;	   /* "https://host:port" */
	const char *hp;	   /* "host:port", into url */
	char host[256];	   /* without brackets */
};

static int
server_arg_parse(const struct cli_usage *u, const char *arg, struct server_arg *sa, int *status)
{
	struct atr_err err;

	memset(sa, 0, sizeof(*sa));
	if (strncasecmp(arg, "http://", 7) == 0) {
		*status = cli_usage_error(u, "'%s' is plain HTTP, which has no certificates; "
		    "give HOST:PORT of the server's TLS port", arg);
		return -1;
	}
	if (cli_server_url(arg, 0, &sa->url, &err) == -1) {
		*status = err.code == ATR_E_USAGE ? cli_usage_error(u, "%s", atr_err_msg(&err)) :
		    cli_fail(&err);
		return -1;
	}
	sa->hp = cli_url_hostport(sa->url);
	if (cli_url_host(sa->url, sa->host, sizeof(sa->host)) == -1) {
		*status = cli_usage_error(u, "'%s' has no host", arg);
		free(sa->url);
		sa->url = NULL;
		return -1;
	}
	return 0;
}

/* The chain hp presents, or NULL with a sentence in err. */
static STACK_OF(X509) *
fetch_chain(const char *hp, struct atr_err *err)
{
	STACK_OF(X509) *chain = atr_x509_fetch_chain(hp, FETCH_TIMEOUT_MS, err);

	if (chain != NULL && sk_X509_num(chain) == 0) {
		sk_X509_free(chain);
		atr_err_set(err, ATR_E_TLS, "%s sent no certificate", hp);
		return NULL;
	}
	if (chain == NULL && err->code == ATR_E_TLS && cli_probe_plain(hp) == 1)
		atr_err_set(err, ATR_E_TLS,
		    "%s speaks plain HTTP, not TLS, so it has no certificate: give the server's "
		    "TLS port (%d unless its administrator changed it)", hp, CLI_PORT_TLS);
	return chain;
}

static void
print_validity(const struct atr_cert_info *ci)
{
	char a[40], b[40];
	int64_t now = (int64_t)time(NULL), days;

	atr_tls_format_time(ci->not_before, a, sizeof(a));
	atr_tls_format_time(ci->not_after, b, sizeof(b));
	printf("  Valid:     %s until %s", a, b);
	if (now > ci->not_after) {
		printf(" (EXPIRED)\n");
	} else if (now < ci->not_before) {
		printf(" (NOT VALID YET)\n");
	} else {
		days = (ci->not_after - now) / 86400;
		printf(" (%lld day%s left)\n", (long long)days, days == 1 ? "" : "s");
	}
}

static void
print_cert(X509 *cert)
{
	struct atr_cert_info ci;

	if (atr_cert_info_get(cert, &ci) == -1) {
		printf("  (unreadable)\n");
		return;
	}
	printf("  Subject:   %s\n", ci.subject);
	printf("  Issuer:    %s%s\n", ci.issuer, ci.self_signed ? " (self-signed)" : "");
	if (ci.names[0] != '\0')
		printf("  Names:     %s\n", ci.names);
	print_validity(&ci);
	printf("  Key:       %s%s\n", ci.keyalg, ci.is_ca ? "; a CA certificate" : "");
	printf("  SHA-256:   %s\n", ci.sha256);
	printf("  SHA-1:     %s\n", ci.sha1);
}

/* Opens the client's trust store folder: *home and *dir are new strings. */
static int
certs_paths(char **home, char **dir, struct atr_err *err)
{
	*dir = NULL;
	if ((*home = cli_home(err)) == NULL)
		return -1;
	if ((*dir = cli_certs_dir(*home)) == NULL) {
		free(*home);
		*home = NULL;
		return atr_err_set(err, ATR_E_NOMEM, NULL);
	}
	return 0;
}

/* Asks a yes/no question on the terminal: 1 yes, 0 no, -1 no terminal. */
static int
ask_yes(const char *question)
{
	char line[64];
	size_t i = 0;

	if (!isatty(STDIN_FILENO))
		return -1;
	fprintf(stderr, "%s [y/N] ", question);
	fflush(stderr);
	if (fgets(line, sizeof(line), stdin) == NULL)
		return 0;
	while (isspace((unsigned char)line[i]))
		i++;
	return strncasecmp(line + i, "y", 1) == 0;
}

/* Whether the store already holds cert; its alias in *alias when it does. */
static int
store_has(const struct atr_ks *ks, X509 *cert, const char **alias)
{
	for (size_t i = 0; i < atr_ks_count(ks); i++) {
		const struct atr_ks_entry *e = atr_ks_entry_at(ks, i);
		X509 *c = atr_ks_entry_cert(e);

		if (c != NULL && atr_x509_equal(c, cert)) {
			*alias = atr_ks_entry_alias(e);
			return 1;
		}
	}
	return 0;
}

/* An alias not yet used in ks: base, else base-2, base-3, ... */
static int
free_alias(const struct atr_ks *ks, const char *base, char *out, size_t len)
{
	snprintf(out, len, "%s", base);
	for (int i = 2; atr_ks_find(ks, out) != NULL; i++) {
		if (i > 1000)
			return -1;
		snprintf(out, len, "%.*s-%d", (int)(len > 16 ? len - 16 : 0), base, i);
	}
	return 0;
}

/* ---- show ---------------------------------------------------------------- */

static const struct cli_opt show_opts[] = {
	{NULL, 0, NULL, NULL},
};

static const struct cli_usage show_usage = {
	"atrium certs show", "HOST[:PORT]",
	"Connects to a server's TLS port (10002 unless PORT is given) and shows the\n"
	"certificates it presents: subject, issuer, names, validity, SHA-256 and\n"
	"SHA-1 fingerprints; then whether this client trusts it for HOST, and if\n"
	"not, why and what to do. Nothing is changed.",
	show_opts,
};

static int
certs_show(int argc, char **argv)
{
	struct atr_err err;
	struct cli_args a;
	struct server_arg sa = {0};
	struct atr_tls_verdict v;
	struct atr_trust *trust = NULL;
	STACK_OF(X509) *chain = NULL;
	char *home = NULL, msg[ATR_ERR_MSG_MAX];
	int status, n;

	if (cli_args_get(&show_usage, argc, argv, 1, 1, &a, &status) == -1)
		return status;
	if (server_arg_parse(&show_usage, a.pos[0], &sa, &status) == -1)
		return status;
	status = CLI_FAIL;
	if ((chain = fetch_chain(sa.hp, &err)) == NULL)
		goto fail;
	n = sk_X509_num(chain);
	printf("%s presented %d certificate%s.\n", sa.hp, n, n == 1 ? "" : "s");
	for (int i = 0; i < n; i++) {
		printf("\nCertificate %d%s:\n", i + 1, i == 0 ? " (the server's own)" : "");
		print_cert(sk_X509_value(chain, i));
	}
	if ((home = cli_home(&err)) == NULL || (trust = cli_trust_load(home, &err)) == NULL ||
	    atr_trust_check(trust, chain, sa.host, 0, &v, &err) == -1)
		goto fail;
	if (v.problems == 0) {
		printf("\nTrusted: yes. It chains to %s, trusted through %s; and it names %s.\n",
		    v.top_subject, v.anchor_from, v.host);
	} else {
		atr_tls_verdict_explain(&v, sa.hp, 0, msg, sizeof(msg));
		printf("\nTrusted: no. %c%s\n", toupper((unsigned char)msg[0]), msg + 1);
	}
	status = CLI_OK;
	goto out;
fail:
	status = cli_fail(&err);
out:
	atr_trust_free(trust);
	sk_X509_pop_free(chain, X509_free);
	free(home);
	free(sa.url);
	return status;
}

/* ---- trust --------------------------------------------------------------- */

enum { TRUST_YES, TRUST_FINGERPRINT, TRUST_ALIAS };

static const struct cli_opt trust_opts[] = {
	[TRUST_YES] = {"yes", 'y', NULL, "do not ask: trust what the server presents"},
	[TRUST_FINGERPRINT] = {"fingerprint", 0, "SHA256",
	    "trust only if the server's certificate or its root has this SHA-256 "
	    "fingerprint (hex, colons optional); no question is asked"},
	[TRUST_ALIAS] = {"alias", 0, "ALIAS", "the entry's name in cert.jks (default: HOST:PORT)"},
	{NULL, 0, NULL, NULL},
};

static const struct cli_usage trust_usage = {
	"atrium certs trust", "[OPTIONS] HOST[:PORT]",
	"Trusts a server whose certificate this client does not trust yet: shows\n"
	"what the server's TLS port (10002 unless PORT is given) presents, asks,\n"
	"then adds the root of that chain (the server's own certificate when it\n"
	"sends no issuer) to $ATRIUM_HOME/certs/cert.jks, creating it and\n"
	"cert.pass (a random password) when needed.\n"
	"\n"
	"Compare the fingerprint with the one the server's administrator sees\n"
	"(atriumd logs it at start) before you answer; --fingerprint does the\n"
	"comparing for scripts. Without a terminal, --yes or --fingerprint is\n"
	"required.",
	trust_opts,
};

static int
certs_trust(int argc, char **argv)
{
	struct atr_err err;
	struct cli_args a;
	struct server_arg sa = {0};
	struct atr_tls_verdict v;
	struct atr_trust *trust = NULL;
	struct atr_ks *ks = NULL;
	STACK_OF(X509) *chain = NULL, *path = NULL;
	const struct atr_ks_entry *old = NULL;
	X509 *leaf, *top;
	struct atr_cert_info ti;
	const char *have;
	char *home = NULL, *dir = NULL, *pass = NULL, alias[300], base[300];
	char msg[ATR_ERR_MSG_MAX], question[512];
	int status, ok = 0, replaced = 0, ans;

	if (cli_args_get(&trust_usage, argc, argv, 1, 1, &a, &status) == -1)
		return status;
	if (server_arg_parse(&trust_usage, a.pos[0], &sa, &status) == -1)
		return status;
	status = CLI_FAIL;
	if ((chain = fetch_chain(sa.hp, &err)) == NULL)
		goto fail;
	if ((path = atr_tls_chain_path(chain)) == NULL) {
		atr_err_set(&err, ATR_E_NOMEM, NULL);
		goto fail;
	}
	leaf = sk_X509_value(path, 0);
	top = sk_X509_value(path, sk_X509_num(path) - 1);
	if (certs_paths(&home, &dir, &err) == -1 ||
	    (trust = cli_trust_load(home, &err)) == NULL ||
	    atr_trust_check(trust, chain, sa.host, 0, &v, &err) == -1)
		goto fail;
	if (v.problems == 0) {
		printf("%s is trusted already: its certificate chains to %s, trusted through %s. "
		    "Nothing changed.\n", sa.hp, v.top_subject, v.anchor_from);
		status = CLI_OK;
		goto out;
	}
	if (!(v.problems & ATR_TLSV_UNTRUSTED)) {
		atr_tls_verdict_explain(&v, sa.hp, 0, msg, sizeof(msg));
		atr_err_set(&err, ATR_E_CERT_INVALID,
		    "%s; trusting it would not help, so nothing changed", msg);
		goto fail;
	}
	printf("%s presents:\n", sa.hp);
	print_cert(leaf);
	if (top != leaf) {
		printf("\nissued%s by the root that would be trusted:\n",
		    sk_X509_num(path) > 2 ? " (through intermediates)" : "");
		print_cert(top);
	} else if (!atr_x509_self_signed(top)) {
		printf("\nThe server did not send its issuer (%s), so its own certificate would "
		    "be trusted; when the server renews it, you will have to trust it again. To "
		    "trust the issuer instead, get its certificate from the server's "
		    "administrator (atriumd keeps it in DIR/tls/ca.crt) and run atrium certs "
		    "import FILE.\n", v.leaf.issuer);
	}
	if (v.problems & ~(unsigned)ATR_TLSV_UNTRUSTED) {
		struct atr_tls_verdict rest = v;

		rest.problems &= ~(unsigned)ATR_TLSV_UNTRUSTED;
		atr_tls_verdict_explain(&rest, sa.hp, 0, msg, sizeof(msg));
		printf("\nWarning: even once trusted, connections will fail: %s.\n", msg);
	}
	/* Opened before asking, so that the question can say what it replaces. */
	if (atr_trust_store_open(dir, 1, &ks, &pass, &err) == -1)
		goto fail;
	if (store_has(ks, top, &have)) {
		/* Present but not trusted for this server: the problem is elsewhere. */
		atr_err_set(&err, ATR_E_CERT_UNTRUSTED,
		    "%s holds that certificate already (alias %s), yet %s fails the check; see "
		    "atrium certs show %s", dir, have, sa.hp, sa.hp);
		goto fail;
	}
	snprintf(base, sizeof(base), "%s", a.val[TRUST_ALIAS] != NULL ? a.val[TRUST_ALIAS] : sa.hp);
	if (a.val[TRUST_ALIAS] == NULL && (old = atr_ks_find(ks, base)) != NULL) {
		struct atr_cert_info oi;
		char when[40];

		atr_cert_info_get(atr_ks_entry_cert(old), &oi);
		atr_tls_format_time(atr_ks_entry_created_ms(old) / 1000, when, sizeof(when));
		printf("\nThis replaces the certificate trusted for %s since %s: %s (SHA-256 %s).\n",
		    sa.hp, when, oi.subject, oi.sha256);
	}
	if (a.val[TRUST_FINGERPRINT] != NULL) {
		for (int i = 0; i < sk_X509_num(path) && !ok; i++)
			ok = atr_tls_fingerprint_match(sk_X509_value(path, i), a.val[TRUST_FINGERPRINT]);
		if (!ok) {
			atr_err_set(&err, ATR_E_CERT_UNTRUSTED,
			    "the fingerprint %s is not that of the certificate %s presents (%s) nor "
			    "of its root; nothing was trusted. Ask the server's administrator which "
			    "certificate it serves",
			    a.val[TRUST_FINGERPRINT], sa.hp, v.leaf.sha256);
			goto fail;
		}
		printf("\nThe fingerprint matches.\n");
	} else if (a.val[TRUST_YES] == NULL) {
		snprintf(question, sizeof(question), "\nTrust this certificate for %s%s?", sa.hp,
		    top != leaf ? " and every certificate it issues" : "");
		if ((ans = ask_yes(question)) == -1) {
			atr_err_set(&err, ATR_E_USAGE,
			    "not trusting %s without a confirmation: run this on a terminal, or add "
			    "--fingerprint SHA256 (checked) or --yes", sa.hp);
			goto fail;
		}
		if (ans == 0) {
			printf("Nothing was trusted.\n");
			goto out;
		}
	}
	if (old != NULL) {
		/* Re-trusting a server that changed: its old entry goes. */
		if (atr_ks_delete(ks, base, &err) == -1)
			goto fail;
		replaced = 1;
	}
	if (free_alias(ks, base, alias, sizeof(alias)) == -1) {
		atr_err_set(&err, ATR_E_EXISTS, "too many entries called %s", base);
		goto fail;
	}
	if (atr_ks_set_trusted(ks, alias, top, 0, &err) == -1 ||
	    atr_trust_store_save(dir, ks, pass, &err) == -1)
		goto fail;
	atr_cert_info_get(top, &ti);
	printf("\n%s %s: added %s (SHA-256 %s) to %s/" ATR_TRUST_JKS " as '%s'.\n",
	    replaced ? "Replaced the certificate trusted for" : "Trusted", sa.hp, ti.subject,
	    ti.sha256, dir, atr_ks_entry_alias(atr_ks_find(ks, alias)));
	/* What a connection will now say. */
	atr_trust_free(trust);
	if ((trust = cli_trust_load(home, &err)) == NULL ||
	    atr_trust_check(trust, chain, sa.host, 0, &v, &err) == -1)
		goto fail;
	if (v.problems == 0) {
		printf("atrium login %s now connects securely.\n", sa.hp);
	} else {
		atr_tls_verdict_explain(&v, sa.hp, 0, msg, sizeof(msg));
		printf("Connections will still fail: %s.\n", msg);
	}
	status = CLI_OK;
	goto out;
fail:
	status = err.code == ATR_E_USAGE ? (cli_fail(&err), CLI_USAGE) : cli_fail(&err);
out:
	atr_ks_free(ks);
	atr_free_secret(pass);
	atr_trust_free(trust);
	sk_X509_pop_free(path, X509_free);
	sk_X509_pop_free(chain, X509_free);
	free(home);
	free(dir);
	free(sa.url);
	return status;
}

/* ---- import -------------------------------------------------------------- */

enum { IMPORT_ALIAS, IMPORT_STOREPASS_FILE };

static const struct cli_opt import_opts[] = {
	[IMPORT_ALIAS] = {"alias", 0, "ALIAS",
	    "the entry's name (default: the keystore's alias, else the certificate's CN); "
	    "-2, -3, ... are added for more certificates"},
	[IMPORT_STOREPASS_FILE] = {"storepass-file", 0, "FILE",
	    "for a JKS or PKCS#12 FILE: its password, on the first line (default: NAME.pass "
	    "beside it, as cert.jks has cert.pass; else a prompt)"},
	{NULL, 0, NULL, NULL},
};

static const struct cli_usage import_usage = {
	"atrium certs import", "[OPTIONS] FILE",
	"Trusts the certificates in FILE: PEM (one or more), DER, PKCS#7, a JKS\n"
	"or a PKCS#12 keystore (its trusted entries, and the root of each key\n"
	"entry's chain). They go into $ATRIUM_HOME/certs/cert.jks, made with a\n"
	"random password in cert.pass when needed. The format is told from the\n"
	"content. A certificate trusted already is skipped; an alias in use is\n"
	"never overwritten.",
	import_opts,
};

/* FILE's password: --storepass-file, else NAME.pass beside it, else a prompt. */
static char *
import_password(const char *file, const char *passfile, int *verified, struct atr_err *err)
{
	char sib[4200];
	const char *dot, *slash;
	char *pw;

	*verified = 1;
	if (passfile != NULL)
		return atr_passfile_read(passfile, err);
	slash = strrchr(file, '/');
	dot = strrchr(file, '.');
	if (dot == NULL || (slash != NULL && dot < slash))
		dot = file + strlen(file);
	snprintf(sib, sizeof(sib), "%.*s.pass", (int)(dot - file), file);
	if (access(sib, R_OK) == 0)
		return atr_passfile_read(sib, err);
	if (isatty(STDIN_FILENO)) {
		pw = atr_read_password("Enter keystore password:  ");
		if (pw != NULL && *pw != '\0')
			return pw;
		atr_free_secret(pw);
	}
	*verified = 0;
	atr_err_clear(err);
	return NULL;
}

/* The certificates to trust from a keystore: trusted entries and the roots
 * of key entries' chains, with their aliases. */
static int
keystore_certs(struct atr_ks *src, STACK_OF(X509) *out, char ***aliases, struct atr_err *err)
{
	size_t n = atr_ks_count(src), k = 0;

	if ((*aliases = calloc(n + 1, sizeof(char *))) == NULL)
		return atr_err_set(err, ATR_E_NOMEM, NULL);
	for (size_t i = 0; i < n; i++) {
		const struct atr_ks_entry *e = atr_ks_entry_at(src, i);
		const STACK_OF(X509) *ch = atr_ks_entry_chain(e);
		X509 *c = atr_ks_entry_cert(e);
		STACK_OF(X509) *path = NULL;

		if (c == NULL)
			continue;
		if (atr_ks_entry_kind(e) == ATR_KS_PRIVATE_KEY && ch != NULL &&
		    (path = atr_tls_chain_path((STACK_OF(X509) *)ch)) != NULL)
			c = sk_X509_value(path, sk_X509_num(path) - 1);
		if (!X509_up_ref(c)) {
			sk_X509_pop_free(path, X509_free);
			return atr_err_set(err, ATR_E_NOMEM, NULL);
		}
		if (!sk_X509_push(out, c)) {
			X509_free(c);
			sk_X509_pop_free(path, X509_free);
			return atr_err_set(err, ATR_E_NOMEM, NULL);
		}
		if (((*aliases)[k] = strdup(atr_ks_entry_alias(e))) == NULL) {
			sk_X509_pop_free(path, X509_free);
			return atr_err_set(err, ATR_E_NOMEM, NULL);
		}
		k++;
		sk_X509_pop_free(path, X509_free);
	}
	return 0;
}

/* A default alias from the subject's CN: lower case, no spaces. */
static void
cn_alias(X509 *cert, int index, char *out, size_t len)
{
	struct atr_cert_info ci;
	const char *cn;
	size_t j = 0;

	snprintf(out, len, "cert-%d", index + 1);
	if (atr_cert_info_get(cert, &ci) == -1 || (cn = strstr(ci.subject, "CN=")) == NULL)
		return;
	for (cn += 3; *cn != '\0' && *cn != ',' && j + 1 < len && j < 64; cn++)
		out[j++] = *cn == ' ' ? '-' : (char)tolower((unsigned char)*cn);
	if (j == 0)
		return;
	out[j] = '\0';
}

static int
certs_import(int argc, char **argv)
{
	struct atr_err err;
	struct cli_args a;
	struct atr_ks *ks = NULL, *src = NULL;
	STACK_OF(X509) *certs = NULL;
	unsigned char *buf = NULL;
	size_t len = 0;
	char **aliases = NULL, *home = NULL, *dir = NULL, *pass = NULL, *srcpass = NULL;
	char alias[300], base[300];
	const char *file, *have;
	enum atr_ks_format fmt;
	int status, added = 0, verified = 1, n;

	if (cli_args_get(&import_usage, argc, argv, 1, 1, &a, &status) == -1)
		return status;
	file = a.pos[0];
	status = CLI_FAIL;
	if (atr_read_file(file, ATR_KS_MAX_FILE, &buf, &len, &err) == -1)
		goto fail;
	if ((certs = sk_X509_new_null()) == NULL) {
		atr_err_set(&err, ATR_E_NOMEM, NULL);
		goto fail;
	}
	fmt = atr_ks_detect(buf, len);
	if (fmt == ATR_KS_JKS || fmt == ATR_KS_JCEKS || fmt == ATR_KS_PKCS12) {
		srcpass = import_password(file, a.val[IMPORT_STOREPASS_FILE], &verified, &err);
		if (srcpass == NULL && verified)
			goto fail;
		if (srcpass == NULL && fmt == ATR_KS_PKCS12) {
			atr_err_set(&err, ATR_E_USAGE, "%s is a PKCS#12 keystore: give its password "
			    "with --storepass-file FILE", file);
			goto fail;
		}
		if ((src = atr_ks_load_mem(buf, len, srcpass, &err)) == NULL) {
			atr_err_prefix(&err, "%s", file);
			goto fail;
		}
		if (!verified)
			fprintf(stderr, "atrium: warning: %s was read without its password, so its "
			    "integrity was not checked\n", file);
		if (keystore_certs(src, certs, &aliases, &err) == -1)
			goto fail;
	} else {
		STACK_OF(X509) *read = atr_x509_read_certs(buf, len, &err);

		if (read == NULL) {
			atr_err_prefix(&err, "%s holds no certificate or keystore Atrium can read",
			    file);
			goto fail;
		}
		sk_X509_pop_free(certs, X509_free);
		certs = read;
	}
	if ((n = sk_X509_num(certs)) == 0) {
		atr_err_set(&err, ATR_E_CERT_INVALID, "%s holds no certificate", file);
		goto fail;
	}
	if (certs_paths(&home, &dir, &err) == -1 ||
	    atr_trust_store_open(dir, 1, &ks, &pass, &err) == -1)
		goto fail;
	for (int i = 0; i < n; i++) {
		X509 *c = sk_X509_value(certs, i);
		struct atr_cert_info ci;
		char b[40];

		atr_cert_info_get(c, &ci);
		if (store_has(ks, c, &have)) {
			printf("%s is trusted already (alias %s)\n", ci.subject, have);
			continue;
		}
		if (a.val[IMPORT_ALIAS] != NULL)
			snprintf(base, sizeof(base), "%s", a.val[IMPORT_ALIAS]);
		else if (aliases != NULL && aliases[i] != NULL)
			snprintf(base, sizeof(base), "%s", aliases[i]);
		else
			cn_alias(c, i, base, sizeof(base));
		if (free_alias(ks, base, alias, sizeof(alias)) == -1) {
			atr_err_set(&err, ATR_E_EXISTS, "too many entries called %s", base);
			goto fail;
		}
		if (atr_ks_set_trusted(ks, alias, c, 0, &err) == -1)
			goto fail;
		added++;
		atr_tls_format_time(ci.not_after, b, sizeof(b));
		printf("Trusted '%s': %s (SHA-256 %s), valid until %s\n",
		    atr_ks_entry_alias(atr_ks_find(ks, alias)), ci.subject, ci.sha256, b);
		if (ci.not_after < (int64_t)time(NULL))
			fprintf(stderr, "atrium: warning: %s has expired: servers whose chain it "
			    "ends will still fail\n", ci.subject);
		if (!ci.is_ca)
			fprintf(stderr, "atrium: note: %s is not a CA certificate: it is trusted as "
			    "a server's own certificate, which must be trusted again when the "
			    "server renews it\n", ci.subject);
	}
	if (added > 0 && atr_trust_store_save(dir, ks, pass, &err) == -1)
		goto fail;
	if (added > 0)
		printf("%d certificate%s added to %s/" ATR_TRUST_JKS ".\n", added,
		    added == 1 ? "" : "s", dir);
	status = CLI_OK;
	goto out;
fail:
	status = err.code == ATR_E_USAGE ? (cli_fail(&err), CLI_USAGE) : cli_fail(&err);
out:
	if (aliases != NULL)
		for (int i = 0; aliases[i] != NULL; i++)
			free(aliases[i]);
	free(aliases);
	atr_ks_free(ks);
	atr_ks_free(src);
	atr_free_secret(pass);
	atr_free_secret(srcpass);
	sk_X509_pop_free(certs, X509_free);
	if (buf != NULL)
		atr_wipe(buf, len);
	free(buf);
	free(home);
	free(dir);
	return status;
}

/* ---- list ---------------------------------------------------------------- */

static const struct cli_opt list_opts[] = {
	{NULL, 0, NULL, NULL},
};

static const struct cli_usage list_usage = {
	"atrium certs list", "",
	"Lists the certificates this client trusts besides the system's roots:\n"
	"those in $ATRIUM_HOME/certs (cert.jks and certificate files) and in the\n"
	"certs folder beside the atrium executable.",
	list_opts,
};

static const char *const list_headers[] = {"ALIAS", "SUBJECT", "VALID UNTIL", "SHA-256"};

/* Prints the anchors a certs folder gives, one table; returns how many. */
static size_t
list_dir(const char *dir, struct atr_err *err, int *failed)
{
	struct atr_trust *t = atr_trust_new();
	struct cli_table *tab = NULL;
	size_t n = 0;

	*failed = 0;
	if (t == NULL || (tab = cli_table_new(4, list_headers, 0)) == NULL) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		goto fail;
	}
	if (atr_trust_add_dir(t, dir, err) == -1)
		goto fail;
	n = atr_trust_count(t);
	for (size_t i = 0; i < n; i++) {
		const char *from, *al;
		X509 *c = atr_trust_anchor(t, i, &from);
		struct atr_cert_info ci;
		char until[40], alias[300];
		const char *cells[4];

		atr_cert_info_get(c, &ci);
		atr_tls_format_time(ci.not_after, until, sizeof(until));
		/* "path (alias x)" from a keystore; a bare file name otherwise. */
		if ((al = strstr(from, " (alias ")) != NULL) {
			snprintf(alias, sizeof(alias), "%s", al + 8);
			alias[strcspn(alias, ")")] = '\0';
		} else {
			snprintf(alias, sizeof(alias), "%s",
			    strrchr(from, '/') != NULL ? strrchr(from, '/') + 1 : from);
		}
		cells[0] = alias;
		cells[1] = ci.subject;
		cells[2] = until;
		cells[3] = ci.sha256;
		if (cli_table_add(tab, cells) == -1) {
			atr_err_set(err, ATR_E_NOMEM, NULL);
			goto fail;
		}
	}
	if (n > 0) {
		printf("Trusted through %s:\n", dir);
		cli_table_print(tab, stdout);
		printf("\n");
	}
	cli_table_free(tab);
	atr_trust_free(t);
	return n;
fail:
	*failed = 1;
	cli_table_free(tab);
	atr_trust_free(t);
	return 0;
}

static int
certs_list(int argc, char **argv)
{
	struct atr_err err;
	struct cli_args a;
	char *home = NULL, *dir = NULL, *exedir = NULL;
	size_t n;
	int status, failed;

	if (cli_args_get(&list_usage, argc, argv, 0, 0, &a, &status) == -1)
		return status;
	status = CLI_FAIL;
	if (certs_paths(&home, &dir, &err) == -1)
		goto fail;
	n = list_dir(dir, &err, &failed);
	if (failed)
		goto fail;
	if (n == 0)
		printf("Nothing is trusted through %s yet: atrium certs trust HOST:PORT or "
		    "atrium certs import FILE adds to it.\n\n", dir);
	if ((exedir = cli_exe_certs_dir()) != NULL) {
		list_dir(exedir, &err, &failed);
		if (failed)
			goto fail;
	}
	printf("The system's trusted roots (%s) are trusted too.\n", atr_trust_system_dir());
	status = CLI_OK;
	goto out;
fail:
	status = cli_fail(&err);
out:
	free(home);
	free(dir);
	free(exedir);
	return status;
}

/* ---- remove -------------------------------------------------------------- */

static const struct cli_opt remove_opts[] = {
	{NULL, 0, NULL, NULL},
};

static const struct cli_usage remove_usage = {
	"atrium certs remove", "ALIAS",
	"Removes a certificate from $ATRIUM_HOME/certs/cert.jks (see atrium certs\n"
	"list for the aliases). Servers whose chain it ended are no longer trusted.",
	remove_opts,
};

static int
certs_remove(int argc, char **argv)
{
	struct atr_err err;
	struct cli_args a;
	struct atr_ks *ks = NULL;
	const struct atr_ks_entry *e;
	struct atr_cert_info ci = {0};
	char *home = NULL, *dir = NULL, *pass = NULL, alias[300];
	int status;

	if (cli_args_get(&remove_usage, argc, argv, 1, 1, &a, &status) == -1)
		return status;
	status = CLI_FAIL;
	if (certs_paths(&home, &dir, &err) == -1 ||
	    atr_trust_store_open(dir, 0, &ks, &pass, &err) == -1)
		goto fail;
	if ((e = atr_ks_find(ks, a.pos[0])) == NULL) {
		atr_err_set(&err, ATR_E_KS_NO_ENTRY,
		    "%s/" ATR_TRUST_JKS " has no entry '%s'; atrium certs list shows them", dir,
		    a.pos[0]);
		goto fail;
	}
	snprintf(alias, sizeof(alias), "%s", atr_ks_entry_alias(e));
	atr_cert_info_get(atr_ks_entry_cert(e), &ci);
	if (atr_ks_delete(ks, alias, &err) == -1 || atr_trust_store_save(dir, ks, pass, &err) == -1)
		goto fail;
	printf("Removed '%s' (%s) from %s/" ATR_TRUST_JKS ".\n", alias, ci.subject, dir);
	status = CLI_OK;
	goto out;
fail:
	status = cli_fail(&err);
out:
	atr_ks_free(ks);
	atr_free_secret(pass);
	free(home);
	free(dir);
	return status;
}

/* ---- the command --------------------------------------------------------- */

static const struct cli_sub certs_subs[] = {
	{"show", certs_show, "show a server's certificates and whether they are trusted"},
	{"trust", certs_trust, "trust a server: add its root to certs/cert.jks"},
	{"import", certs_import, "trust the certificates in a PEM, DER, JKS or PKCS#12 file"},
	{"list", certs_list, "list the certificates trusted besides the system's"},
	{"remove", certs_remove, "remove a certificate from certs/cert.jks"},
	{NULL, NULL, NULL},
};

int
cmd_certs(int argc, char **argv)
{
	cli_init();
	return cli_dispatch("atrium certs", certs_subs, argc, argv);
}
