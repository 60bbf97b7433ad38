/*
 * tlsclient module tests: verdicts for trusted, untrusted, expired,
 * not-yet-valid, wrongly named and wrong-purpose chains; the sentences
 * that explain them; the trusted path of a presented chain; fingerprints;
 * certs folders (cert.jks + cert.pass, certificate files, damaged ones);
 * password files. Certificates are made here with the x509 builder and
 * the library's CA, so every case states its inputs.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/x509.h>

#include "atrium/ca.h"
#include "atrium/keystore.h"
#include "atrium/tlsclient.h"
#include "atrium/util.h"
#include "atrium/x509.h"

#define DAY 86400

/* ---------------------------------------------------------- fixtures */

/* A certificate: subject CN, signed by issuer/ikey (itself when NULL). */
static X509 *
make_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *ikey, const char *const *exts,
    int64_t start, int days)
{
	struct atr_err err = {0};
	struct atr_x509_builder *b = atr_x509_builder_new();
	char dn[300];
	X509_NAME *name;
	X509 *c;

	snprintf(dn, sizeof(dn), "CN=%s", cn);
	assert_non_null(b);
	assert_non_null(name = atr_x509_name_parse(dn, &err));
	assert_int_equal(atr_x509_builder_set_subject(b, name, &err), 0);
	assert_int_equal(atr_x509_builder_set_pubkey(b, key, &err), 0);
	if (issuer != NULL)
		assert_int_equal(atr_x509_builder_set_issuer(b, issuer, &err), 0);
	assert_int_equal(atr_x509_builder_set_validity(b, start, days, &err), 0);
	for (; exts != NULL && *exts != NULL; exts++)
		assert_int_equal(atr_x509_builder_add_ext(b, *exts, &err), 0);
	c = atr_x509_builder_sign(b, ikey != NULL ? ikey : key, NULL, &err);
	if (c == NULL)
		fail_msg("sign: %s", err.msg);
	X509_NAME_free(name);
	atr_x509_builder_free(b);
	return c;
}

static EVP_PKEY *
new_key(void)
{
	struct atr_err err = {0};
	EVP_PKEY *k = atr_x509_key_generate("EC", 256, NULL, &err);

	assert_non_null(k);
	return k;
}

static STACK_OF(X509) *
chain_of(X509 *a, X509 *b, X509 *c)
{
	STACK_OF(X509) *s = sk_X509_new_null();
	X509 *all[3] = {a, b, c};

	for (int i = 0; i < 3; i++)
		if (all[i] != NULL) {
			X509_up_ref(all[i]);
			sk_X509_push(s, all[i]);
		}
	return s;
}

/* A root, an intermediate and leaves, made once for all tests. */
static struct {
	char dir[64];
	EVP_PKEY *rkey, *ikey, *lkey;
	X509 *root, *inter, *leaf, *leaf_client, *selfsigned, *other_root;
	int64_t now;
} F;

static int
setup(void **state)
{
	static const char *const ca_exts[] = {"BC:c=ca:true", "KU:c=keyCertSign,cRLSign", NULL};
	static const char *const leaf_exts[] = {"SAN=dns:localhost,ip:127.0.0.1,dns:srv.example",
	    "EKU=serverAuth", NULL};
	static const char *const client_exts[] = {"SAN=dns:localhost", "EKU=clientAuth", NULL};
	static const char *const self_exts[] = {"SAN=dns:self.example", NULL};
	EVP_PKEY *k;

	(void)state;
	F.now = (int64_t)time(NULL);
	snprintf(F.dir, sizeof(F.dir), "/tmp/atrium-tlsc-XXXXXX");
	assert_non_null(mkdtemp(F.dir));
	F.rkey = new_key();
	F.ikey = new_key();
	F.lkey = new_key();
	F.root = make_cert("Test Root", F.rkey, NULL, NULL, ca_exts, F.now - DAY, 3650);
	F.inter = make_cert("Test Intermediate", F.ikey, F.root, F.rkey, ca_exts, F.now - DAY, 1000);
	F.leaf = make_cert("localhost", F.lkey, F.inter, F.ikey, leaf_exts, F.now - DAY, 100);
	F.leaf_client = make_cert("client", F.lkey, F.inter, F.ikey, client_exts, F.now - DAY, 100);
	F.selfsigned = make_cert("self.example", F.lkey, NULL, NULL, self_exts, F.now - DAY, 100);
	k = new_key();
	F.other_root = make_cert("Other Root", k, NULL, NULL, ca_exts, F.now - DAY, 3650);
	EVP_PKEY_free(k);
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	EVP_PKEY_free(F.rkey);
	EVP_PKEY_free(F.ikey);
	EVP_PKEY_free(F.lkey);
	X509_free(F.root);
	X509_free(F.inter);
	X509_free(F.leaf);
	X509_free(F.leaf_client);
	X509_free(F.selfsigned);
	X509_free(F.other_root);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", F.dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

/* ---------------------------------------------------------- verdicts */

static void
test_verdicts(void **state)
{
	enum { ROOT = 1, INTER = 2, LEAF = 4, SELF = 8, OTHER = 16 };
	static const struct {
		const char *name;
		unsigned anchors;  /* which certificates are trusted */
		int chain;         /* 0 leaf+inter, 1 leaf only, 2 self-signed, 3 client leaf+inter */
		const char *host;
		int64_t offset;    /* seconds from now for the check */
		unsigned problems;
	} t[] = {
		{"chain to the root", ROOT, 0, "localhost", 0, 0},
		{"by IP address", ROOT, 0, "127.0.0.1", 0, 0},
		{"by bracketed name", ROOT, 0, "srv.example", 0, 0},
		{"upper case name", ROOT, 0, "LOCALHOST", 0, 0},
		{"an intermediate as anchor (Java-like)", INTER, 0, "localhost", 0, 0},
		{"the leaf itself as anchor", LEAF, 1, "localhost", 0, 0},
		{"trusted self-signed", SELF, 2, "self.example", 0, 0},
		{"nothing trusted", 0, 0, "localhost", 0, ATR_TLSV_UNTRUSTED},
		{"another root", OTHER, 0, "localhost", 0, ATR_TLSV_UNTRUSTED},
		{"leaf only, root trusted: no path", ROOT, 1, "localhost", 0, ATR_TLSV_UNTRUSTED},
		{"untrusted self-signed", 0, 2, "self.example", 0, ATR_TLSV_UNTRUSTED},
		{"wrong name", ROOT, 0, "other.example", 0, ATR_TLSV_NAME},
		{"wrong address", ROOT, 0, "127.0.0.2", 0, ATR_TLSV_NAME},
		{"IPv6 not named", ROOT, 0, "[::1]", 0, ATR_TLSV_NAME},
		{"no partial wildcard", ROOT, 0, "x.srv.example", 0, ATR_TLSV_NAME},
		{"expired leaf", ROOT, 0, "localhost", 200 * DAY, ATR_TLSV_EXPIRED},
		{"expired leaf and intermediate", ROOT, 0, "localhost", 2000 * DAY, ATR_TLSV_EXPIRED},
		{"not yet valid", ROOT, 0, "localhost", -3 * DAY, ATR_TLSV_NOT_YET_VALID},
		{"expired, untrusted, misnamed", 0, 0, "x.example", 200 * DAY,
		    ATR_TLSV_EXPIRED | ATR_TLSV_UNTRUSTED | ATR_TLSV_NAME},
		{"client certificate", ROOT, 3, "localhost", 0, ATR_TLSV_PURPOSE},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct atr_err err = {0};
		struct atr_trust *tr = atr_trust_new();
		struct atr_tls_verdict v;
		STACK_OF(X509) *chain;
		X509 *anchors[5] = {F.root, F.inter, F.leaf, F.selfsigned, F.other_root};

		print_message("case %zu: %s\n", i, t[i].name);
		for (int b = 0; b < 5; b++)
			if (t[i].anchors & (1u << b))
				assert_int_equal(atr_trust_add_cert(tr, anchors[b], "test", &err), 0);
		chain = t[i].chain == 0 ? chain_of(F.leaf, F.inter, NULL) :
		    t[i].chain == 1 ? chain_of(F.leaf, NULL, NULL) :
		    t[i].chain == 2 ? chain_of(F.selfsigned, NULL, NULL) :
		    chain_of(F.leaf_client, F.inter, NULL);
		assert_int_equal(atr_trust_check(tr, chain, t[i].host, F.now + t[i].offset, &v, &err),
		    0);
		if (v.problems != t[i].problems)
			fail_msg("problems %#x, wanted %#x (%s)", v.problems, t[i].problems, v.detail);
		if (v.problems == 0)
			assert_string_equal(v.anchor_from, "test");
		assert_int_equal(v.chain_len, sk_X509_num(chain));
		sk_X509_pop_free(chain, X509_free);
		atr_trust_free(tr);
	}
}

/*
 * A certificate without a SubjectAltName (as keytool makes one from its
 * "first and last name" question): the sentence lists the names a client
 * would accept, never the whole subject as if it were a list of names.
 */
static void
test_explain_no_san(void **state)
{
	static const struct {
		const char *cn;   /* the subject's CN; the DN is "CN=cn, OU=Modeling, O=Acme" */
		const char *host; /* what the client connected with */
		const char *want; /* in the sentence */
		const char *not;  /* never in it */
	} t[] = {
		{"localhost", "127.0.0.1", "is for localhost only (it has no SubjectAltName), not for "
		    "127.0.0.1; connect with localhost", "OU=Modeling"},
		{"localhost", "127.0.0.1", "SAN=dns:localhost,ip:127.0.0.1", "O=Acme"},
		{"John Smith", "127.0.0.1", "names no address at all: it has no SubjectAltName, and "
		    "its CN 'John Smith' is not a host name or an address", "connect with one of"},
		{"John Smith", "srv.example", "SAN=dns:srv.example", "OU=Modeling"},
		{"10.1.1.106", "10.1.1.106", "has the address 10.1.1.106 in its CN only",
		    "connect with 10.1.1.106"},
	};
	struct atr_err err = {0};
	struct atr_trust *none = atr_trust_new();
	struct atr_tls_verdict v;
	char buf[ATR_ERR_MSG_MAX], dn[200];
	EVP_PKEY *k = new_key();

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct atr_x509_builder *b = atr_x509_builder_new();
		X509_NAME *name;
		STACK_OF(X509) *chain;
		X509 *c;

		snprintf(dn, sizeof(dn), "CN=%s, OU=Modeling, O=Acme", t[i].cn);
		assert_non_null(name = atr_x509_name_parse(dn, &err));
		assert_int_equal(atr_x509_builder_set_subject(b, name, &err), 0);
		assert_int_equal(atr_x509_builder_set_pubkey(b, k, &err), 0);
		assert_int_equal(atr_x509_builder_set_validity(b, F.now - DAY, 100, &err), 0);
		assert_non_null(c = atr_x509_builder_sign(b, k, NULL, &err));
		X509_NAME_free(name);
		atr_x509_builder_free(b);
		chain = chain_of(c, NULL, NULL);
		assert_int_equal(atr_trust_check(none, chain, t[i].host, 0, &v, &err), 0);
		assert_true(v.problems & ATR_TLSV_NAME);
		atr_tls_verdict_explain(&v, "srv:10002", 0, buf, sizeof(buf));
		if (strstr(buf, t[i].want) == NULL || strstr(buf, t[i].not) != NULL)
			fail_msg("case %zu: %s", i, buf);
		sk_X509_pop_free(chain, X509_free);
		X509_free(c);
	}
	EVP_PKEY_free(k);
	atr_trust_free(none);
}

/* The sentences: what each says, and the code it maps to. */
static void
test_explain(void **state)
{
	struct atr_err err = {0};
	struct atr_trust *none = atr_trust_new(), *root = atr_trust_new();
	struct atr_tls_verdict v;
	STACK_OF(X509) *chain = chain_of(F.leaf, F.inter, NULL);
	STACK_OF(X509) *self = chain_of(F.selfsigned, NULL, NULL);
	char buf[ATR_ERR_MSG_MAX], fp[100], a[40], b[40];
	enum atr_errcode code;

	(void)state;
	assert_int_equal(atr_trust_add_cert(root, F.root, "r", &err), 0);
	assert_int_equal(atr_x509_fingerprint(F.leaf, "SHA-256", fp, sizeof(fp)), 0);

	/* Untrusted: fingerprint and the exact command. */
	assert_int_equal(atr_trust_check(none, chain, "localhost", 0, &v, &err), 0);
	code = atr_tls_verdict_explain(&v, "localhost:10002", 0, buf, sizeof(buf));
	assert_int_equal(code, ATR_E_CERT_UNTRUSTED);
	assert_non_null(strstr(buf, fp));
	assert_non_null(strstr(buf, "atrium certs trust localhost:10002"));
	assert_non_null(strstr(buf, "issued by CN=Test Root"));
	assert_null(strstr(buf, "WARNING"));
	assert_true(strlen(buf) < sizeof(buf) - 1);
	/* The same server trusted before: a change, and maybe an attack. */
	code = atr_tls_verdict_explain(&v, "localhost:10002", ATR_TLSV_KNOWN, buf, sizeof(buf));
	assert_int_equal(code, ATR_E_CERT_UNTRUSTED);
	assert_non_null(strstr(buf, "WARNING: the certificate of localhost:10002 has changed"));
	assert_non_null(strstr(buf, "attack"));
	assert_non_null(strstr(buf, fp));

	/* Self-signed. */
	assert_int_equal(atr_trust_check(none, self, "self.example", 0, &v, &err), 0);
	atr_tls_verdict_explain(&v, "self.example:9", 0, buf, sizeof(buf));
	assert_non_null(strstr(buf, "is self-signed and not trusted"));

	/* Name mismatch: the certificate's names. */
	assert_int_equal(atr_trust_check(root, chain, "10.1.1.106", 0, &v, &err), 0);
	code = atr_tls_verdict_explain(&v, "10.1.1.106:10002", 0, buf, sizeof(buf));
	assert_int_equal(code, ATR_E_CERT_INVALID);
	assert_non_null(strstr(buf, "is for DNS:localhost, IP:127.0.0.1, DNS:srv.example, not for "
	    "10.1.1.106"));
	assert_null(strstr(buf, "certs trust"));

	/* Expired: the dates. */
	assert_int_equal(atr_trust_check(root, chain, "localhost", F.now + 200 * DAY, &v, &err), 0);
	code = atr_tls_verdict_explain(&v, "localhost:10002", 0, buf, sizeof(buf));
	assert_int_equal(code, ATR_E_CERT_EXPIRED);
	atr_tls_format_time(v.leaf.not_before, a, sizeof(a));
	atr_tls_format_time(v.leaf.not_after, b, sizeof(b));
	assert_true(v.bad_is_leaf);
	assert_non_null(strstr(buf, "expired on"));
	assert_non_null(strstr(buf, a));
	assert_non_null(strstr(buf, b));
	/* An expired intermediate is named as such (the leaf expired too: it wins). */
	assert_int_equal(atr_trust_check(root, chain, "localhost", F.now + 2000 * DAY, &v, &err), 0);
	assert_true(v.bad_is_leaf);

	/* Not yet valid: the clock. */
	assert_int_equal(atr_trust_check(root, chain, "localhost", F.now - 3 * DAY, &v, &err), 0);
	atr_tls_verdict_explain(&v, "h:1", 0, buf, sizeof(buf));
	assert_non_null(strstr(buf, "is not valid before"));
	assert_non_null(strstr(buf, "clock"));

	/* Everything at once still fits and ends with the command. */
	assert_int_equal(atr_trust_check(none, chain, "x.example", F.now + 200 * DAY, &v, &err), 0);
	code = atr_tls_verdict_explain(&v, "x.example:10002", 0, buf, sizeof(buf));
	assert_int_equal(code, ATR_E_CERT_UNTRUSTED);
	assert_non_null(strstr(buf, "not for x.example"));
	assert_non_null(strstr(buf, "expired"));

	/* No problem, no sentence. */
	assert_int_equal(atr_trust_check(root, chain, "localhost", 0, &v, &err), 0);
	assert_int_equal(atr_tls_verdict_explain(&v, "h:1", 0, buf, sizeof(buf)), ATR_E_OK);
	assert_string_equal(buf, "");

	/* An empty chain. */
	sk_X509_pop_free(self, X509_free);
	self = sk_X509_new_null();
	assert_int_equal(atr_trust_check(root, self, "h", 0, &v, &err), 0);
	assert_int_equal(v.problems, ATR_TLSV_NO_CERT);

	sk_X509_pop_free(self, X509_free);
	sk_X509_pop_free(chain, X509_free);
	atr_trust_free(none);
	atr_trust_free(root);
}

/* The path trusted when a person trusts a server. */
static void
test_chain_path(void **state)
{
	static const struct {
		const char *name;
		int order[4]; /* 0 leaf, 1 inter, 2 root, 3 other root; -1 ends */
		int want[4];
	} t[] = {
		{"leaf only", {0, -1}, {0, -1}},
		{"leaf, intermediate", {0, 1, -1}, {0, 1, -1}},
		{"leaf, intermediate, root", {0, 1, 2, -1}, {0, 1, 2, -1}},
		{"out of order", {0, 2, 1, -1}, {0, 1, 2, -1}},
		{"an unrelated root is left out", {0, 3, 1, 2}, {0, 1, 2, -1}},
		{"self-signed", {2, -1}, {2, -1}},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		X509 *all[4] = {F.leaf, F.inter, F.root, F.other_root};
		STACK_OF(X509) *in = sk_X509_new_null(), *path;
		int n = 0;

		print_message("case %zu: %s\n", i, t[i].name);
		for (int j = 0; j < 4 && t[i].order[j] >= 0; j++)
			sk_X509_push(in, all[t[i].order[j]]);
		assert_non_null(path = atr_tls_chain_path(in));
		while (n < 4 && t[i].want[n] >= 0)
			n++;
		assert_int_equal(sk_X509_num(path), n);
		for (int j = 0; j < n; j++)
			assert_true(atr_x509_equal(sk_X509_value(path, j), all[t[i].want[j]]));
		sk_X509_pop_free(path, X509_free);
		sk_X509_free(in);
	}
	assert_null(atr_tls_chain_path(NULL));
}

static void
test_fingerprints(void **state)
{
	char fp[100], bare[65], lower[100], pref[120];
	size_t n = 0;

	(void)state;
	assert_int_equal(atr_x509_fingerprint(F.root, "SHA-256", fp, sizeof(fp)), 0);
	for (const char *p = fp; *p != '\0'; p++)
		if (*p != ':')
			bare[n++] = *p;
	bare[n] = '\0';
	for (size_t i = 0; i <= strlen(fp); i++)
		lower[i] = (char)tolower((unsigned char)fp[i]);
	snprintf(pref, sizeof(pref), "SHA256:%s", bare);
	assert_true(atr_tls_fingerprint_match(F.root, fp));
	assert_true(atr_tls_fingerprint_match(F.root, bare));
	assert_true(atr_tls_fingerprint_match(F.root, lower));
	assert_true(atr_tls_fingerprint_match(F.root, pref));
	assert_false(atr_tls_fingerprint_match(F.leaf, fp));
	assert_false(atr_tls_fingerprint_match(F.root, ""));
	assert_false(atr_tls_fingerprint_match(F.root, "AB:CD"));
	bare[63] = bare[63] == '0' ? '1' : '0';
	assert_false(atr_tls_fingerprint_match(F.root, bare));
	snprintf(pref, sizeof(pref), "%sAA", fp);
	assert_false(atr_tls_fingerprint_match(F.root, pref));
	assert_false(atr_tls_fingerprint_match(F.root, "zz"));
}

static void
test_cert_info(void **state)
{
	struct atr_cert_info ci;

	(void)state;
	assert_int_equal(atr_cert_info_get(F.leaf, &ci), 0);
	assert_string_equal(ci.subject, "CN=localhost");
	assert_string_equal(ci.issuer, "CN=Test Intermediate");
	assert_string_equal(ci.names, "DNS:localhost, IP:127.0.0.1, DNS:srv.example");
	assert_false(ci.is_ca);
	assert_false(ci.self_signed);
	assert_int_equal(ci.not_after - ci.not_before, 100 * DAY);
	assert_int_equal(strlen(ci.sha256), 95);
	assert_int_equal(atr_cert_info_get(F.root, &ci), 0);
	assert_true(ci.is_ca);
	assert_true(ci.self_signed);
	assert_string_equal(ci.names, "");
	assert_int_equal(atr_cert_info_get(NULL, &ci), -1);
}

/* ---------------------------------------------------------- files */

static void
write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void
test_certs_folder(void **state)
{
	struct atr_err err = {0};
	struct atr_trust *t;
	struct atr_ks *ks = NULL;
	char dir[200], path[300], keep[300], *pass = NULL, *pem;
	const char *from;
	struct stat st;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/home/certs", F.dir);

	/* No folder: nothing trusted, no error. */
	assert_non_null(t = atr_trust_new());
	assert_int_equal(atr_trust_add_dir(t, dir, &err), 0);
	assert_int_equal(atr_trust_count(t), 0);
	atr_trust_free(t);

	/* Opening without create fails with a sentence; with create makes it. */
	assert_int_equal(atr_trust_store_open(dir, 0, &ks, &pass, &err), -1);
	assert_int_equal(err.code, ATR_E_NOT_FOUND);
	assert_int_equal(atr_trust_store_open(dir, 1, &ks, &pass, &err), 0);
	assert_int_equal(strlen(pass), 24);
	assert_int_equal(atr_ks_set_trusted(ks, "my-root", F.root, 0, &err), 0);
	assert_int_equal(atr_trust_store_save(dir, ks, pass, &err), 0);
	atr_ks_free(ks);
	atr_free_secret(pass);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	snprintf(path, sizeof(path), "%s/cert.pass", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	snprintf(path, sizeof(path), "%s/cert.jks", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	/* Read back, plus a PEM file beside it; a README is ignored. */
	assert_non_null(pem = atr_x509_cert_pem(F.other_root, NULL));
	snprintf(path, sizeof(path), "%s/other.crt", dir);
	write_text(path, pem);
	free(pem);
	snprintf(path, sizeof(path), "%s/README.txt", dir);
	write_text(path, "not a certificate\n");
	assert_non_null(t = atr_trust_new());
	assert_int_equal(atr_trust_add_dir(t, dir, &err), 0);
	assert_int_equal(atr_trust_count(t), 2);
	assert_true(atr_x509_equal(atr_trust_anchor(t, 0, &from), F.root));
	assert_non_null(strstr(from, "cert.jks (alias my-root)"));
	assert_true(atr_x509_equal(atr_trust_anchor(t, 1, &from), F.other_root));
	assert_non_null(strstr(from, "other.crt"));
	assert_null(atr_trust_anchor(t, 2, &from));
	atr_trust_free(t);

	/* Reopening keeps the password; a second save keeps cert.pass. */
	assert_int_equal(atr_trust_store_open(dir, 0, &ks, &pass, &err), 0);
	assert_non_null(atr_ks_find(ks, "my-root"));
	atr_ks_free(ks);
	atr_free_secret(pass);

	/* A damaged certificate file is an error naming it. */
	snprintf(path, sizeof(path), "%s/bad.pem", dir);
	write_text(path, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
	assert_non_null(t = atr_trust_new());
	assert_int_equal(atr_trust_add_dir(t, dir, &err), -1);
	assert_non_null(strstr(err.msg, "bad.pem"));
	atr_trust_free(t);
	unlink(path);

	/* A wrong cert.pass is an error naming both files. */
	snprintf(path, sizeof(path), "%s/cert.pass", dir);
	snprintf(keep, sizeof(keep), "%s/pass-keep", F.dir);
	rename(path, keep);
	write_text(path, "wrong-password\r\n");
	assert_non_null(t = atr_trust_new());
	assert_int_equal(atr_trust_add_dir(t, dir, &err), -1);
	assert_int_equal(err.code, ATR_E_KS_PASSWORD);
	assert_non_null(strstr(err.msg, "cert.jks"));
	assert_non_null(strstr(err.msg, "cert.pass"));
	atr_trust_free(t);
	assert_int_equal(atr_trust_store_open(dir, 1, &ks, &pass, &err), -1);
	assert_int_equal(err.code, ATR_E_KS_PASSWORD);

	/* No cert.pass: read as Java reads a JKS without a password; not changeable. */
	unlink(path);
	assert_non_null(t = atr_trust_new());
	assert_int_equal(atr_trust_add_dir(t, dir, &err), 0);
	assert_int_equal(atr_trust_count(t), 2);
	atr_trust_free(t);
	assert_int_equal(atr_trust_store_open(dir, 1, &ks, &pass, &err), -1);
	assert_int_equal(err.code, ATR_E_CONFIG);
	assert_non_null(strstr(err.msg, "cert.pass"));
	rename(keep, path);

	/* Trust from the folder works in a check. */
	{
		struct atr_tls_verdict v;
		STACK_OF(X509) *chain = chain_of(F.leaf, F.inter, NULL);

		assert_non_null(t = atr_trust_new());
		assert_int_equal(atr_trust_add_dir(t, dir, &err), 0);
		assert_int_equal(atr_trust_check(t, chain, "localhost", 0, &v, &err), 0);
		assert_int_equal(v.problems, 0);
		assert_non_null(strstr(v.anchor_from, "(alias my-root)"));
		atr_trust_free(t);
		sk_X509_pop_free(chain, X509_free);
	}
}

static void
test_passfiles(void **state)
{
	struct atr_err err = {0};
	char path[300];
	char *a, *b;
	struct stat st;

	(void)state;
	snprintf(path, sizeof(path), "%s/x.pass", F.dir);
	assert_null(atr_passfile_read(path, &err));
	assert_int_equal(err.code, ATR_E_NOT_FOUND);
	assert_non_null(a = atr_passfile_create(path, &err));
	assert_int_equal(strlen(a), 24);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_null(atr_passfile_create(path, &err));
	assert_int_equal(err.code, ATR_E_EXISTS);
	assert_non_null(b = atr_passfile_read(path, &err));
	assert_string_equal(a, b);
	atr_free_secret(a);
	atr_free_secret(b);
	write_text(path, "typed in notepad\r\nsecond line\n");
	assert_non_null(a = atr_passfile_read(path, &err));
	assert_string_equal(a, "typed in notepad");
	atr_free_secret(a);
}

/* The CA's server certificates pass the client's check by name and address. */
static void
test_ca_issue_verifies(void **state)
{
	struct atr_err err = {0};
	struct atr_ca *ca;
	struct atr_trust *t = atr_trust_new();
	struct atr_tls_verdict v;
	static const char *const names[] = {"srv.example", "127.0.0.1", "::1"};
	EVP_PKEY *key = NULL;
	STACK_OF(X509) *chain = NULL;
	char dir[200];
	const char *hosts[] = {"srv.example", "127.0.0.1", "::1", "[::1]"};

	(void)state;
	snprintf(dir, sizeof(dir), "%s/ca", F.dir);
	assert_non_null(ca = atr_ca_create(dir, "Unit CA", "EC", &err));
	assert_int_equal(atr_ca_issue(ca, names, 3, 30, "EC", 0, NULL, &key, &chain, &err), 0);
	assert_int_equal(atr_trust_add_cert(t, atr_ca_cert(ca), "unit", &err), 0);
	for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		assert_int_equal(atr_trust_check(t, chain, hosts[i], 0, &v, &err), 0);
		if (v.problems != 0)
			fail_msg("%s: %#x %s", hosts[i], v.problems, v.detail);
	}
	assert_int_equal(atr_trust_check(t, chain, "127.0.0.2", 0, &v, &err), 0);
	assert_int_equal(v.problems, ATR_TLSV_NAME);
	EVP_PKEY_free(key);
	sk_X509_pop_free(chain, X509_free);
	atr_ca_free(ca);
	atr_trust_free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verdicts),
		cmocka_unit_test(test_explain),
		cmocka_unit_test(test_explain_no_san),
		cmocka_unit_test(test_chain_path),
		cmocka_unit_test(test_fingerprints),
		cmocka_unit_test(test_cert_info),
		cmocka_unit_test(test_certs_folder),
		cmocka_unit_test(test_passfiles),
		cmocka_unit_test(test_ca_issue_verifies),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
