/* The server's trust store (truststore.c): made empty when missing, re-read
 * when the file changes (a rename as atrium keytool writes it, an in-place
 * rewrite as Java's keytool writes it), a damaged file keeps what was in
 * force, and the changes it makes itself. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "atrium/keystore.h"
#include "atrium/log.h"
#include "atrium/util.h"
#include "atrium/x509.h"
#include "server/truststore.h"

struct fixture {
	char dir[64];
	char p12[128];
	char pass[128];
};

/* A self-signed CA certificate named cn. */
static X509 *
make_cert(const char *cn)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();

	assert_non_null(key);
	assert_non_null(x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1,
	    0);
	X509_set_subject_name(x, name);
	X509_set_issuer_name(x, name);
	X509_set_pubkey(x, key);
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	X509_NAME_free(name);
	EVP_PKEY_free(key);
	return x;
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/test_truststore.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->p12, sizeof(f->p12), "%s/%s", f->dir, TRUSTSTORE_FILE);
	snprintf(f->pass, sizeof(f->pass), "%s/%s", f->dir, TRUSTSTORE_PASS);
	atr_log_set_level(ATR_LOG_ERROR);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* Adds cert to the file as atrium keytool -importcert does (a new file
 * renamed over it). */
static void
keytool_import(const struct fixture *f, const char *alias, X509 *cert)
{
	struct atr_err err;
	char *pw = atr_passfile_read(f->pass, &err);
	struct atr_ks *ks;

	assert_non_null(pw);
	ks = atr_ks_load_file(f->p12, pw, &err);
	assert_non_null(ks);
	assert_int_equal(atr_ks_set_trusted(ks, alias, cert, 0, &err), 0);
	assert_int_equal(atr_ks_save_file(ks, f->p12, pw, NULL, &err), 0);
	atr_ks_free(ks);
	atr_free_secret(pw);
}

/* Whether store trusts cert. */
static int
trusts(X509_STORE *st, X509 *cert)
{
	X509_STORE_CTX *x = X509_STORE_CTX_new();
	int ok;

	assert_non_null(x);
	assert_true(X509_STORE_CTX_init(x, st, cert, NULL));
	ok = X509_verify_cert(x) == 1;
	X509_STORE_CTX_free(x);
	return ok;
}

/* The aliases in force, joined by ','; problem's code into *code. */
static void
listing(struct truststore *ts, char *out, size_t len, enum atr_errcode *code)
{
	struct trust_cert *c;
	struct atr_err err, problem;
	size_t n;

	assert_int_equal(truststore_list(ts, &c, &n, &problem, &err), 0);
	out[0] = '\0';
	for (size_t i = 0; i < n; i++)
		snprintf(out + strlen(out), len - strlen(out), "%s%s", i ? "," : "", c[i].alias);
	*code = problem.code;
	free(c);
}

static void
test_first_use_makes_an_empty_store_with_a_private_password(void **state)
{
	struct fixture *f = *state;
	struct atr_err err;
	struct truststore *ts = truststore_new(f->dir, 0, &err);
	struct stat st;
	X509_STORE *store;
	enum atr_errcode code;
	char aliases[256];

	assert_non_null(ts);
	assert_int_equal(stat(f->p12, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(stat(f->pass, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	listing(ts, aliases, sizeof(aliases), &code);
	assert_string_equal(aliases, "");
	assert_int_equal(code, ATR_E_OK);
	store = truststore_get(ts);
	assert_non_null(store);
	assert_int_equal(sk_X509_OBJECT_num(X509_STORE_get0_objects(store)), 0);
	X509_STORE_free(store);
	truststore_free(ts);
}

static void
test_a_change_by_keytool_applies_to_the_next_use(void **state)
{
	struct fixture *f = *state;
	struct atr_err err;
	struct truststore *ts = truststore_new(f->dir, 0, &err);
	X509 *a = make_cert("A"), *b = make_cert("B");
	X509_STORE *before, *after;
	enum atr_errcode code;
	char aliases[256];

	assert_non_null(ts);
	before = truststore_get(ts);
	assert_false(trusts(before, a));
	keytool_import(f, "a", a);
	after = truststore_get(ts);
	assert_true(trusts(after, a));
	assert_false(trusts(after, b));
	/* A store handed out earlier is not changed under its user. */
	assert_false(trusts(before, a));
	listing(ts, aliases, sizeof(aliases), &code);
	assert_string_equal(aliases, "a");
	X509_STORE_free(before);
	X509_STORE_free(after);
	X509_free(a);
	X509_free(b);
	truststore_free(ts);
}

static void
test_an_in_place_rewrite_is_noticed(void **state)
{
	struct fixture *f = *state;
	struct atr_err err;
	struct truststore *ts = truststore_new(f->dir, 0, &err);
	X509 *a = make_cert("A");
	unsigned char *buf;
	size_t len;
	struct stat st0, st1;
	enum atr_errcode code;
	char aliases[256], copy[160];
	FILE *fp;

	assert_non_null(ts);
	/* Make the new contents beside it, then write them into the same inode,
	 * as Java's keytool does (FileOutputStream on the store's path). */
	snprintf(copy, sizeof(copy), "%s.copy", f->p12);
	assert_int_equal(stat(f->p12, &st0), 0);
	keytool_import(f, "a", a);
	assert_int_equal(atr_read_file(f->p12, 1 << 20, &buf, &len, &err), 0);
	assert_int_equal(rename(f->p12, copy), 0);
	assert_int_equal(truncate(copy, 0), 0);
	assert_int_equal(rename(copy, f->p12), 0);
	listing(ts, aliases, sizeof(aliases), &code); /* reads the empty file: damaged */
	assert_int_not_equal(code, ATR_E_OK);
	assert_string_equal(aliases, "");
	fp = fopen(f->p12, "r+");
	assert_non_null(fp);
	assert_int_equal(fwrite(buf, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(stat(f->p12, &st1), 0);
	listing(ts, aliases, sizeof(aliases), &code);
	assert_int_equal(code, ATR_E_OK);
	assert_string_equal(aliases, "a");
	free(buf);
	X509_free(a);
	truststore_free(ts);
}

static void
test_a_damaged_file_keeps_what_is_in_force(void **state)
{
	struct fixture *f = *state;
	struct atr_err err;
	struct truststore *ts = truststore_new(f->dir, 0, &err);
	X509 *a = make_cert("A");
	X509_STORE *store;
	unsigned char *buf, *bad;
	size_t len;
	enum atr_errcode code;
	char aliases[256];

	assert_non_null(ts);
	keytool_import(f, "a", a);
	listing(ts, aliases, sizeof(aliases), &code);
	assert_string_equal(aliases, "a");
	assert_int_equal(atr_read_file(f->p12, 1 << 20, &buf, &len, &err), 0);
	bad = malloc(len);
	memcpy(bad, buf, len);
	bad[len / 2] ^= 0xff;
	assert_int_equal(atr_write_file_atomic(f->p12, bad, len, 0600, &err), 0);
	listing(ts, aliases, sizeof(aliases), &code);
	assert_int_not_equal(code, ATR_E_OK);
	assert_string_equal(aliases, "a");
	store = truststore_get(ts);
	assert_true(trusts(store, a));
	X509_STORE_free(store);
	/* Changes are refused: they would lose what the file held. */
	assert_int_equal(truststore_remove(ts, "a", NULL, &err), -1);
	assert_int_not_equal(err.code, ATR_E_KS_NO_ENTRY);
	/* Repaired: read again, the problem gone. */
	assert_int_equal(atr_write_file_atomic(f->p12, buf, len, 0600, &err), 0);
	listing(ts, aliases, sizeof(aliases), &code);
	assert_int_equal(code, ATR_E_OK);
	assert_string_equal(aliases, "a");
	free(buf);
	free(bad);
	X509_free(a);
	truststore_free(ts);
}

static void
test_import_and_remove(void **state)
{
	struct fixture *f = *state;
	struct atr_err err;
	struct truststore *ts = truststore_new(f->dir, 0, &err);
	X509 *a = make_cert("My Test CA!"), *b = make_cert("My Test CA!");
	struct trust_cert added;
	char *pem_a, *pem_b;
	X509_STORE *store;
	enum atr_errcode code;
	char aliases[256];

	assert_non_null(ts);
	pem_a = atr_x509_cert_pem(a, NULL);
	pem_b = atr_x509_cert_pem(b, NULL);
	assert_int_equal(truststore_import(ts, (unsigned char *)pem_a, strlen(pem_a), NULL, &added,
	    &err), 0);
	assert_string_equal(added.alias, "my-test-ca");
	assert_int_equal(added.is_ca, 0); /* no BasicConstraints: any certificate is accepted */
	/* The same certificate again: refused, naming its alias. */
	assert_int_equal(truststore_import(ts, (unsigned char *)pem_a, strlen(pem_a), "other",
	    NULL, &err), -1);
	assert_int_equal(err.code, ATR_E_EXISTS);
	assert_non_null(strstr(err.msg, "my-test-ca"));
	/* Another with the same CN: a numbered alias; a taken alias is refused. */
	assert_int_equal(truststore_import(ts, (unsigned char *)pem_b, strlen(pem_b), "MY-TEST-CA",
	    NULL, &err), -1);
	assert_int_equal(err.code, ATR_E_EXISTS);
	assert_int_equal(truststore_import(ts, (unsigned char *)pem_b, strlen(pem_b), NULL, &added,
	    &err), 0);
	assert_string_equal(added.alias, "my-test-ca-2");
	listing(ts, aliases, sizeof(aliases), &code);
	assert_string_equal(aliases, "my-test-ca,my-test-ca-2");
	store = truststore_get(ts);
	assert_true(trusts(store, a));
	assert_true(trusts(store, b));
	X509_STORE_free(store);
	assert_int_equal(truststore_remove(ts, "my-test-ca", NULL, &err), 0);
	assert_int_equal(truststore_remove(ts, "my-test-ca", NULL, &err), -1);
	assert_int_equal(err.code, ATR_E_KS_NO_ENTRY);
	store = truststore_get(ts);
	assert_false(trusts(store, a));
	assert_true(trusts(store, b));
	X509_STORE_free(store);
	/* Two certificates in one input are refused. */
	{
		size_t la = strlen(pem_a), lb = strlen(pem_b);
		char *both = malloc(la + lb + 1);

		memcpy(both, pem_a, la);
		memcpy(both + la, pem_b, lb + 1);
		assert_int_equal(truststore_import(ts, (unsigned char *)both, la + lb, "x", NULL,
		    &err), -1);
		assert_int_equal(err.code, ATR_E_USAGE);
		free(both);
	}
	free(pem_a);
	free(pem_b);
	X509_free(a);
	X509_free(b);
	truststore_free(ts);
}

static void
test_system_roots_switch_builds_a_new_store(void **state)
{
	struct fixture *f = *state;
	struct atr_err err;
	struct truststore *ts = truststore_new(f->dir, 0, &err);
	X509_STORE *off, *on;

	assert_non_null(ts);
	off = truststore_get(ts);
	assert_int_equal(truststore_system_roots(ts), 0);
	truststore_set_system_roots(ts, 1);
	assert_int_equal(truststore_system_roots(ts), 1);
	on = truststore_get(ts);
	assert_ptr_not_equal(off, on);
	X509_STORE_free(off);
	X509_STORE_free(on);
	truststore_free(ts);
}

static void
test_a_store_without_its_password_file_is_refused(void **state)
{
	struct fixture *f = *state;
	struct atr_err err;
	struct truststore *ts = truststore_new(f->dir, 0, &err);

	assert_non_null(ts);
	truststore_free(ts);
	assert_int_equal(unlink(f->pass), 0);
	assert_null(truststore_new(f->dir, 0, &err));
	assert_int_equal(err.code, ATR_E_IO);
	assert_non_null(strstr(err.msg, "truststore.pass"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_first_use_makes_an_empty_store_with_a_private_password,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_change_by_keytool_applies_to_the_next_use,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_an_in_place_rewrite_is_noticed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_damaged_file_keeps_what_is_in_force, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_import_and_remove, setup, teardown),
		cmocka_unit_test_setup_teardown(test_system_roots_switch_builds_a_new_store, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_a_store_without_its_password_file_is_refused,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
