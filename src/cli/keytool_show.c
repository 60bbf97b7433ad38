/*
 * atrium keytool: the commands that show things (-list, -printcert,
 * -printcertreq, -exportcert), printing exactly what Java 17 prints.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/keytool_int.h"

#define STARS "*******************************************"

/* Java's String.compareTo(): UTF-16 code unit order. UTF-8 byte order is
 * code point order, which differs only for supplementary characters
 * against U+E000..U+FFFF; map those to their surrogates first. */
static unsigned long
utf16_unit(const unsigned char **p)
{
	const unsigned char *s = *p;
	unsigned long cp;
	size_t n;

	if (s[0] < 0x80) {
		*p = s + 1;
		return s[0];
	}
	n = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : 2;
	cp = n == 4 ? s[0] & 0x07 : n == 3 ? s[0] & 0x0f : s[0] & 0x1f;
	size_t i = 1;
	for (; i < n && s[i] != 0; i++)
		cp = (cp << 6) | (s[i] & 0x3f);
	*p = s + i;
	return cp >= 0x10000 ? 0xd800 + ((cp - 0x10000) >> 10) : cp;
}

static int
java_strcmp(const void *a, const void *b)
{
	const unsigned char *x = *(const unsigned char *const *)a;
	const unsigned char *y = *(const unsigned char *const *)b;

	while (*x && *y) {
		unsigned long cx = utf16_unit(&x), cy = utf16_unit(&y);
		if (cx != cy)
			return cx < cy ? -1 : 1;
	}
	return (*x != 0) - (*y != 0);
}

/* Java's isTrustedCert(): the certificate is a trusted entry here. */
static int
is_trusted(struct kt *kt, X509 *cert)
{
	for (size_t i = 0; kt->ks != NULL && i < atr_ks_count(kt->ks); i++) {
		const struct atr_ks_entry *e = atr_ks_entry_at(kt->ks, i);

		if (atr_ks_entry_kind(e) == ATR_KS_TRUSTED_CERT &&
		    atr_x509_equal(atr_ks_entry_cert(e), cert))
			return 1;
	}
	return 0;
}

static int
print_cert(struct kt *kt, X509 *cert)
{
	struct atr_err err = {0};
	char *text = atr_x509_describe(cert, is_trusted(kt, cert) ? ATR_X509_DESCRIBE_TRUSTED : 0,
	    &err);

	if (text == NULL)
		return kt_fail_err(kt, &err);
	fputs(text, stdout);
	free(text);
	return 0;
}

/* Java's doPrintEntry(). shown is the alias as given (or as listed). */
static int
print_entry(struct kt *kt, const char *label, const char *shown)
{
	const struct atr_ks_entry *e = kt_find(kt, shown);
	const STACK_OF(X509) *chain;
	char date[64], fp[128];
	int full = kt->verbose || kt->rfc;
	X509 *cert;

	if (e == NULL)
		return kt_fail(kt, "java.lang.Exception", "Alias <%s> does not exist", shown);
	kt_medium_date(atr_ks_entry_created_ms(e), date, sizeof(date));
	if (full)
		printf("Alias name: %s\nCreation date: %s\n", shown, date);
	else
		printf("%s, %s, ", shown, date);
	switch (atr_ks_entry_kind(e)) {
	case ATR_KS_SECRET_KEY:
		puts(full ? "Entry type: SecretKeyEntry" : "SecretKeyEntry, ");
		break;
	case ATR_KS_PRIVATE_KEY:
		puts(full ? "Entry type: PrivateKeyEntry" : "PrivateKeyEntry, ");
		chain = atr_ks_entry_chain(e);
		if (chain == NULL || sk_X509_num(chain) == 0) {
			puts("Certificate chain length: 0");
			break;
		}
		if (!full) {
			if (atr_x509_fingerprint(sk_X509_value(chain, 0), "SHA-256", fp, sizeof(fp)) == -1)
				return kt_fail(kt, "java.lang.Exception", "cannot digest the certificate");
			printf("Certificate fingerprint (SHA-256): %s\n", fp);
			kt_check_weak_chain(kt, label, chain);
			break;
		}
		printf("Certificate chain length: %d\n", sk_X509_num(chain));
		for (int i = 0; i < sk_X509_num(chain); i++) {
			cert = sk_X509_value(chain, i);
			printf("Certificate[%d]:\n", i + 1);
			if (kt->verbose) {
				if (print_cert(kt, cert) == -1)
					return -1;
			} else if (kt_dump_cert(kt, cert, stdout) == -1) {
				return -1;
			}
			kt_check_weak(kt, label, cert, is_trusted(kt, cert));
		}
		break;
	case ATR_KS_TRUSTED_CERT:
		cert = atr_ks_entry_cert(e);
		if (cert == NULL)
			return kt_fail(kt, "java.lang.Exception", "Alias <%s> has no certificate", shown);
		if (full) {
			puts("Entry type: trustedCertEntry\n");
			if (kt->verbose ? print_cert(kt, cert) : kt_dump_cert(kt, cert, stdout))
				return -1;
		} else {
			if (atr_x509_fingerprint(cert, "SHA-256", fp, sizeof(fp)) == -1)
				return kt_fail(kt, "java.lang.Exception", "cannot digest the certificate");
			printf("trustedCertEntry, \nCertificate fingerprint (SHA-256): %s\n", fp);
		}
		kt_check_weak(kt, label, cert, 1);
		break;
	}
	return 0;
}

int
kt_do_list(struct kt *kt)
{
	size_t n = atr_ks_count(kt->ks);
	const char **aliases;
	char num[32];

	if (kt->storepass == NULL)
		kt_no_integrity_warning();
	if (kt->alias != NULL)
		return print_entry(kt, "The certificate", kt->alias);
	printf("Keystore type: %s\nKeystore provider: %s\n\n", kt->typename,
	    strcmp(kt->typename, "JCEKS") == 0 ? "SunJCE" : "SUN");
	printf("Your keystore contains %s %s\n\n", kt_group((long long)n, num, sizeof(num)),
	    n == 1 ? "entry" : "entries");
	if (n == 0)
		return 0;
	if ((aliases = calloc(n, sizeof(*aliases))) == NULL)
		return kt_fail(kt, "java.lang.OutOfMemoryError", "Java heap space");
	for (size_t i = 0; i < n; i++)
		aliases[i] = atr_ks_entry_alias(atr_ks_entry_at(kt->ks, i));
	qsort(aliases, n, sizeof(*aliases), java_strcmp);
	for (size_t i = 0; i < n; i++) {
		char label[512];

		snprintf(label, sizeof(label), "<%s>", aliases[i]);
		if (print_entry(kt, label, aliases[i]) == -1) {
			free(aliases);
			return -1;
		}
		if (kt->verbose || kt->rfc)
			printf("\n\n" STARS "\n" STARS "\n\n\n");
	}
	free(aliases);
	return 0;
}

static void
label_of(char *buf, size_t len, const char *label, int i, int n)
{
	if (n == 1)
		snprintf(buf, len, "%s", label);
	else
		snprintf(buf, len, "%s #%d of %d", label, i + 1, n);
}

int
kt_do_printcert(struct kt *kt)
{
	STACK_OF(X509) *certs = NULL;
	struct atr_err err = {0};
	unsigned char *buf = NULL;
	size_t len = 0;
	int n, rc = -1;

	if (kt->jarfile != NULL)
		return kt_fail(kt, "java.lang.UnsupportedOperationException",
		    "atrium keytool does not read signed jar files");
	if (kt->sslserver != NULL) {
		if ((certs = atr_x509_fetch_chain(kt->sslserver, 20000, &err)) == NULL ||
		    sk_X509_num(certs) == 0) {
			sk_X509_pop_free(certs, X509_free);
			return kt_fail(kt, "java.lang.Exception", "No certificate from the SSL server");
		}
		n = sk_X509_num(certs);
		for (int i = 0; i < n; i++) {
			X509 *c = sk_X509_value(certs, i);
			char label[128];

			if (kt->rfc) {
				if (kt_dump_cert(kt, c, stdout) == -1)
					goto out;
			} else {
				printf("Certificate #%d\n====================================\n", i);
				if (print_cert(kt, c) == -1)
					goto out;
				putchar('\n');
			}
			label_of(label, sizeof(label), "The certificate", i, n);
			kt_check_weak(kt, label, c, 0);
		}
		rc = 0;
		goto out;
	}
	if (kt_read_input(kt, kt->file, &buf, &len) == -1)
		return -1;
	if ((certs = atr_x509_read_certs(buf, len, &err)) == NULL) {
		rc = kt_fail(kt, "java.lang.Exception", "Failed to parse input");
		goto out;
	}
	if ((n = sk_X509_num(certs)) == 0) {
		rc = kt_fail(kt, "java.lang.Exception", "Empty input");
		goto out;
	}
	for (int i = 0; i < n; i++) {
		X509 *c = sk_X509_value(certs, i);
		char label[128];

		if (n > 1)
			printf("Certificate[%d]:\n", i + 1);
		if ((kt->rfc ? kt_dump_cert(kt, c, stdout) : print_cert(kt, c)) == -1)
			goto out;
		if (i < n - 1)
			putchar('\n');
		label_of(label, sizeof(label), "The certificate", i, n);
		kt_check_weak(kt, label, c, 0);
	}
	rc = 0;
out:
	sk_X509_pop_free(certs, X509_free);
	free(buf);
	return rc;
}

int
kt_do_printcertreq(struct kt *kt)
{
	struct atr_err err = {0};
	unsigned char *buf = NULL;
	size_t len = 0;
	X509_REQ *req;
	char *text, sig[128];

	if (kt_read_input(kt, kt->file, &buf, &len) == -1)
		return -1;
	req = atr_x509_csr_read(buf, len, &err);
	free(buf);
	if (req == NULL)
		return kt_fail(kt, "java.io.IOException", "Cannot parse certificate request");
	if ((text = atr_x509_describe_csr(req, &err)) == NULL) {
		X509_REQ_free(req);
		return kt_fail_err(kt, &err);
	}
	fputs(text, stdout);
	free(text);
	kt_check_weak_alg(kt, "The certificate request", kt_csr_sigalg(req, sig, sizeof(sig)),
	    X509_REQ_get0_pubkey(req));
	X509_REQ_free(req);
	return 0;
}

int
kt_do_exportcert(struct kt *kt)
{
	const char *alias = kt->alias ? kt->alias : "mykey";
	const struct atr_ks_entry *e;
	X509 *cert;
	FILE *out;
	int rc;

	if (kt->storepass == NULL)
		kt_no_integrity_warning();
	if ((e = kt_find(kt, alias)) == NULL)
		return kt_fail(kt, "java.lang.Exception", "Alias <%s> does not exist", alias);
	if ((cert = kt_entry_cert(e)) == NULL)
		return kt_fail(kt, "java.lang.Exception", "Alias <%s> has no certificate", alias);
	if ((out = kt_open_output(kt, kt->file)) == NULL)
		return -1;
	rc = kt_dump_cert(kt, cert, out);
	if (out != stdout && fclose(out) != 0 && rc == 0)
		rc = kt_fail(kt, "java.io.IOException", "cannot write %s", kt->file);
	if (rc == 0 && kt->file != NULL)
		fprintf(stderr, "Certificate stored in file <%s>\n", kt->file);
	if (rc == 0)
		kt_check_weak(kt, "The certificate", cert, is_trusted(kt, cert));
	return rc;
}
