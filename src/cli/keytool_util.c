/*
 * atrium keytool: the helpers its commands share (Java's error lines and
 * end-of-run warnings, prompts, keystore look-ups, input and output files).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "atrium/util.h"
#include "cli/keytool_int.h"

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

/* The Java exception class keytool shows for each library error code;
 * codes not listed are java.lang.Exception. */
static const char *const err_class[ATR_E__COUNT] = {
	[ATR_E_KS_KEY_PASSWORD] = "java.security.UnrecoverableKeyException",
	[ATR_E_KS_PASSWORD] = "java.io.IOException",
	[ATR_E_KS_FORMAT] = "java.io.IOException",
	[ATR_E_KS_CORRUPT] = "java.io.IOException",
	[ATR_E_KS_TRUNCATED] = "java.io.IOException",
	[ATR_E_IO] = "java.io.IOException",
	[ATR_E_TOO_LARGE] = "java.io.IOException",
	[ATR_E_KS_UNSUPPORTED] = "java.security.KeyStoreException",
};

int
kt_fail_err(struct kt *kt, const struct atr_err *err)
{
	const char *cls = (unsigned)err->code < ATR_E__COUNT ? err_class[err->code] : NULL;

	/* A cut-short keystore: keytool's words stay the ones it always printed. */
	if (err->code == ATR_E_KS_TRUNCATED)
		return kt_fail(kt, cls, "%s", atr_err_core(err));
	return kt_fail(kt, cls ? cls : "java.lang.Exception", "%s", atr_err_msg(err));
}

/* CERT_SIGALG_KEY: Java's signers refuse a key of the wrong type. */
static int
fail_sigalg_key(struct kt *kt, const struct atr_err *err, EVP_PKEY *signkey, const char *cls)
{
	char alg[96] = "";

	if (signkey == NULL)
		return kt_fail(kt, "java.lang.Exception", "%s", atr_err_msg(err));
	atr_x509_key_algname(signkey, alg, sizeof(alg));
	return kt_fail(kt, cls, "No installed provider supports this key: %s",
	    strncmp(alg, "RSA", 3) == 0 ? "sun.security.rsa.RSAPrivateCrtKeyImpl" :
	    strncmp(alg, "EC", 2) == 0 ? "sun.security.ec.ECPrivateKeyImpl" :
	    "sun.security.ec.ed.EdDSAPrivateKeyImpl");
}

/*
 * CERT_EXT_UNKNOWN: Java tries a name it does not know as an OID and shows
 * the first part that is not a number. The failing -ext value is the first
 * the library rejects (it checks them in the order given).
 */
static int
fail_ext_unknown(struct kt *kt, const struct atr_err *err, EVP_PKEY *signkey, const char *cls)
{
	struct atr_err e;
	const char *p = NULL;
	size_t n;

	(void)signkey;
	for (size_t i = 0; i < kt->next && p == NULL; i++)
		if (atr_x509_ext_check(kt->exts[i], &e) == -1 && e.code == ATR_E_CERT_EXT_UNKNOWN)
			p = kt->exts[i];
	for (n = p != NULL ? strcspn(p, ":=") : 0; n > 0;) {
		size_t k = strcspn(p, ".");

		if (k > n)
			k = n;
		if (k == 0 || strspn(p, "0123456789") < k)
			return kt_fail(kt, cls, "java.io.IOException: "
			    "ObjectIdentifier() -- Invalid format: java.lang.NumberFormatException: "
			    "For input string: \"%.*s\"", (int)k, p);
		if (k == n)
			break;
		p += k + 1;
		n -= k + 1;
	}
	return kt_fail(kt, "java.lang.Exception", "%s", atr_err_msg(err));
}

/*
 * The Java exception class keytool shows for each x509 error code, and
 * for some its own sentence; codes not listed are java.lang.Exception with
 * the library's sentence.
 */
static const struct {
	enum atr_errcode code;
	const char *cls;	/* NULL: the caller's validity_cls */
	int (*fail)(struct kt *, const struct atr_err *, EVP_PKEY *, const char *cls);
				/* NULL: the library's sentence */
} x509_class[] = {
	{ATR_E_CERT_NUMBER, "java.lang.NumberFormatException", NULL},
	{ATR_E_CERT_VALIDITY, NULL, NULL},
	{ATR_E_CERT_SIGALG, "java.security.NoSuchAlgorithmException", NULL},
	{ATR_E_CERT_SIGALG_KEY, "java.security.InvalidKeyException", fail_sigalg_key},
	{ATR_E_CERT_EXT_UNKNOWN, "java.lang.RuntimeException", fail_ext_unknown},
};

int
kt_fail_x509(struct kt *kt, const struct atr_err *err, EVP_PKEY *signkey, const char *validity_cls)
{
	for (size_t i = 0; i < sizeof(x509_class) / sizeof(x509_class[0]); i++) {
		const char *cls = x509_class[i].cls;

		if (x509_class[i].code != err->code)
			continue;
		if (cls == NULL)
			cls = validity_cls != NULL ? validity_cls : "java.lang.Exception";
		if (x509_class[i].fail != NULL)
			return x509_class[i].fail(kt, err, signkey, cls);
		return kt_fail(kt, cls, "%s", atr_err_msg(err));
	}
	return kt_fail(kt, "java.lang.Exception", "%s", atr_err_msg(err));
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
char *
kt_cacerts_path(void)
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
	char *path = kt_cacerts_path();
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


STACK_OF(X509) *
kt_chain_ref(const STACK_OF(X509) *chain)
{
	/* X509_chain_up_ref() takes a non-const stack but only adds references. */
	return chain != NULL ? X509_chain_up_ref((STACK_OF(X509) *)chain) : sk_X509_new_null();
}
