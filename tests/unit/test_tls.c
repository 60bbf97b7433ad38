/* The local CA and the checks a server certificate must pass. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "atrium/ca.h"
#include "atrium/tls.h"
#include "atrium/util.h"
#include "atrium/x509.h"

static char dir[] = "/tmp/atrium-test-tls-XXXXXX";
static struct atr_ca *ca;

static void
test_ca_files(void **state)
{
	char path[300];
	struct stat st;
	struct atr_err err;
	struct atr_ca *again;

	(void)state;
	snprintf(path, sizeof(path), "%s/ca.key", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_true(atr_x509_self_signed(atr_ca_cert(ca)));
	assert_null(atr_ca_create(dir, "again", "EC", &err));
	assert_int_equal(err.code, ATR_E_EXISTS);
	again = atr_ca_load(dir, &err);
	assert_non_null(again);
	assert_true(atr_x509_equal(atr_ca_cert(again), atr_ca_cert(ca)));
	atr_ca_free(again);
}

static void
test_issue_and_check(void **state)
{
	static const char *const names[] = {"server.example", "localhost", "127.0.0.1", "::1"};
	EVP_PKEY *key;
	STACK_OF(X509) *chain;
	struct atr_err err;
	char warn[1024];
	SSL_CTX *ctx;

	(void)state;
	assert_int_equal(atr_ca_issue(ca, names, 4, 397, "EC", 0, NULL, &key, &chain, &err), 0);
	assert_int_equal(sk_X509_num(chain), 2);
	assert_int_equal(X509_check_host(sk_X509_value(chain, 0), "localhost", 0, 0, NULL), 1);
	assert_int_equal(X509_check_ip_asc(sk_X509_value(chain, 0), "::1", 0), 1);
	assert_int_equal(atr_tls_check_server(key, chain, "server.example", atr_now_ms() / 1000,
			     warn, sizeof(warn), &err),
	    0);
	assert_string_equal(warn, "");
	/* A name the certificate does not cover is a warning, not an error. */
	assert_int_equal(atr_tls_check_server(key, chain, "other.example", atr_now_ms() / 1000,
			     warn, sizeof(warn), &err),
	    0);
	assert_non_null(strstr(warn, "no SubjectAltName of the certificate covers 'other.example'"));
	assert_in_range(atr_tls_days_left(sk_X509_value(chain, 0), atr_now_ms() / 1000), 395, 397);
	ctx = atr_tls_server_ctx_new(key, chain, &err);
	assert_non_null(ctx);
	assert_int_equal(SSL_CTX_get_min_proto_version(ctx), TLS1_2_VERSION);
	SSL_CTX_free(ctx);
	/* A key that is not the certificate's. */
	{
		EVP_PKEY *other = atr_x509_key_generate("EC", -1, NULL, &err);
		assert_int_equal(atr_tls_check_server(other, chain, NULL, atr_now_ms() / 1000, warn,
				     sizeof(warn), &err),
		    -1);
		assert_int_equal(err.code, ATR_E_CERT_MISMATCH);
		assert_null(atr_tls_server_ctx_new(other, chain, &err));
		EVP_PKEY_free(other);
	}
	/* Out of order: root first. */
	{
		STACK_OF(X509) *bad = sk_X509_new_null();
		sk_X509_push(bad, sk_X509_value(chain, 1));
		sk_X509_push(bad, sk_X509_value(chain, 0));
		assert_int_equal(atr_tls_check_server(key, bad, NULL, atr_now_ms() / 1000, warn,
				     sizeof(warn), &err),
		    -1);
		sk_X509_free(bad);
	}
	EVP_PKEY_free(key);
	sk_X509_pop_free(chain, X509_free);
}

struct date_case {
	int64_t start_offset; /* from now, seconds */
	int days;
	int rc;
	const char *says; /* in err (rc -1) or the warnings (rc 0) */
};

static void
test_dates(void **state)
{
	static const struct date_case cases[] = {
		{-400 * 86400LL, 10, -1, "has expired: it was valid from"},
		{+5 * 86400LL, 100, -1, "not valid yet"},
		{-86400, 20, 0, "expires in 19 days"},
		{-86400, 100, 0, ""},
	};
	struct atr_err err;
	EVP_PKEY *key = atr_x509_key_generate("EC", -1, NULL, &err);
	int64_t now = atr_now_ms() / 1000;
	char warn[1024];

	(void)state;
	/* make_cert signs with the CA; the issuer key is the CA's. */
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		STACK_OF(X509) *chain = sk_X509_new_null();
		X509 *leaf;
		struct atr_x509_builder *b = atr_x509_builder_new();
		X509_NAME *name = atr_x509_name_parse("CN=localhost", NULL);
		EVP_PKEY *cakey = NULL;
		char keypath[300];
		FILE *f;

		snprintf(keypath, sizeof(keypath), "%s/ca.key", dir);
		f = fopen(keypath, "r");
		cakey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		fclose(f);
		atr_x509_builder_set_subject(b, name, &err);
		atr_x509_builder_set_pubkey(b, key, &err);
		atr_x509_builder_set_issuer(b, atr_ca_cert(ca), &err);
		atr_x509_builder_set_validity(b, now + cases[i].start_offset, cases[i].days, &err);
		atr_x509_builder_add_ext(b, "SAN=dns:localhost", &err);
		leaf = atr_x509_builder_sign(b, cakey, NULL, &err);
		assert_non_null(leaf);
		sk_X509_push(chain, leaf);
		X509_up_ref(atr_ca_cert(ca));
		sk_X509_push(chain, atr_ca_cert(ca));
		err.msg[0] = '\0';
		{
			int rc = atr_tls_check_server(key, chain, "localhost", now, warn, sizeof(warn),
			    &err);
			if (rc != cases[i].rc)
				fail_msg("case %zu: rc %d, err '%s', warnings '%s'", i, rc, err.msg, warn);
		}
		if (cases[i].rc == -1)
			assert_non_null(strstr(err.msg, cases[i].says));
		else
			assert_non_null(strstr(warn, cases[i].says));
		sk_X509_pop_free(chain, X509_free);
		atr_x509_builder_free(b);
		X509_NAME_free(name);
		EVP_PKEY_free(cakey);
	}
	EVP_PKEY_free(key);
}

static void
test_usage(void **state)
{
	struct atr_err err;
	EVP_PKEY *key = atr_x509_key_generate("EC", -1, NULL, &err);
	static const char *const client_only[] = {"EKU=clientAuth"};
	static const char *const sign_only[] = {"KU=keyCertSign"};
	static const char *const *cases[] = {client_only, sign_only};
	static const char *const says[] = {"does not include serverAuth", "KeyUsage does not allow"};
	char keypath[300];
	EVP_PKEY *cakey;
	FILE *f;

	(void)state;
	snprintf(keypath, sizeof(keypath), "%s/ca.key", dir);
	f = fopen(keypath, "r");
	cakey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	for (size_t i = 0; i < 2; i++) {
		struct atr_x509_builder *b = atr_x509_builder_new();
		X509_NAME *name = atr_x509_name_parse("CN=localhost", NULL);
		STACK_OF(X509) *chain = sk_X509_new_null();
		X509 *leaf;
		atr_x509_builder_set_subject(b, name, &err);
		atr_x509_builder_set_pubkey(b, key, &err);
		atr_x509_builder_set_issuer(b, atr_ca_cert(ca), &err);
		atr_x509_builder_add_ext(b, cases[i][0], &err);
		leaf = atr_x509_builder_sign(b, cakey, NULL, &err);
		assert_non_null(leaf);
		sk_X509_push(chain, leaf);
		assert_int_equal(atr_tls_check_server(key, chain, NULL, atr_now_ms() / 1000, NULL, 0,
				     &err),
		    -1);
		assert_non_null(strstr(err.msg, says[i]));
		sk_X509_pop_free(chain, X509_free);
		atr_x509_builder_free(b);
		X509_NAME_free(name);
	}
	EVP_PKEY_free(cakey);
	EVP_PKEY_free(key);
}

static int
setup(void **state)
{
	struct atr_err err;

	(void)state;
	if (mkdtemp(dir) == NULL)
		return -1;
	ca = atr_ca_create(dir, "Test CA", "EC", &err);
	return ca == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char cmd[300];

	(void)state;
	atr_ca_free(ca);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ca_files),
		cmocka_unit_test(test_issue_and_check),
		cmocka_unit_test(test_dates),
		cmocka_unit_test(test_usage),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
