/*
 * The client's trust store: after an upload the CLI trusts the top of the
 * server's new chain itself (cli_trust_add_top()). A self-signed
 * certificate made here stands in for the server's answer.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/pem.h>

#include "atrium/tlsclient.h"
#include "atrium/util.h"
#include "atrium/x509.h"
#include "cli/trust.h"

/* A self-signed certificate for localhost and 127.0.0.1, as PEM (free()). */
static char *
self_signed_pem(void)
{
	struct atr_err err = {0};
	struct atr_x509_builder *b = atr_x509_builder_new();
	EVP_PKEY *k = atr_x509_key_generate("EC", 256, NULL, &err);
	X509_NAME *name = atr_x509_name_parse("CN=localhost, O=Stand-in", &err);
	BIO *bio = BIO_new(BIO_s_mem());
	char *data, *out;
	long n;
	X509 *c;

	assert_non_null(b);
	assert_non_null(k);
	assert_non_null(name);
	assert_int_equal(atr_x509_builder_set_subject(b, name, &err), 0);
	assert_int_equal(atr_x509_builder_set_pubkey(b, k, &err), 0);
	assert_int_equal(atr_x509_builder_set_validity(b, atr_now_ms() / 1000 - 60, 30, &err), 0);
	assert_int_equal(atr_x509_builder_add_ext(b, "SAN=dns:localhost,ip:127.0.0.1", &err), 0);
	assert_int_equal(atr_x509_builder_add_ext(b, "EKU=serverAuth", &err), 0);
	assert_non_null(c = atr_x509_builder_sign(b, k, NULL, &err));
	assert_int_equal(PEM_write_bio_X509(bio, c), 1);
	n = BIO_get_mem_data(bio, &data);
	assert_non_null(out = strndup(data, (size_t)n));
	BIO_free(bio);
	X509_free(c);
	X509_NAME_free(name);
	EVP_PKEY_free(k);
	atr_x509_builder_free(b);
	return out;
}

static void
test_add_top_then_trusted(void **state)
{
	struct atr_err err = {0};
	struct cli_trusted tr;
	struct stat st;
	char top[64] = "/tmp/test_cli_trust.XXXXXX", path[200];
	char *pem = self_signed_pem();

	(void)state;
	assert_non_null(mkdtemp(top));
	/* Not trusted yet: added, store and password made, and now trusted. */
	assert_int_equal(cli_trust_add_top(top, pem, strlen(pem), "127.0.0.1:8443",
	    "127.0.0.1:8443", &tr, &err), 0);
	assert_int_equal(tr.added, 1);
	assert_string_equal(tr.alias, "127.0.0.1:8443");
	assert_string_equal(tr.sha256, tr.leaf_sha256); /* self-signed: the top is the leaf */
	assert_string_equal(tr.still, "");
	snprintf(path, sizeof(path), "%s/certs/cert.jks", top);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	snprintf(path, sizeof(path), "%s/certs/cert.pass", top);
	assert_int_equal(stat(path, &st), 0);
	/* Again: trusted already, nothing added. */
	assert_int_equal(cli_trust_add_top(top, pem, strlen(pem), "127.0.0.1:8443",
	    "127.0.0.1:8443", &tr, &err), 0);
	assert_int_equal(tr.added, 0);
	/* A name the certificate lacks: trusted, but connections would still fail. */
	assert_int_equal(cli_trust_add_top(top, pem, strlen(pem), "x", "10.1.1.106:8443", &tr,
	    &err), 0);
	assert_int_equal(tr.added, 0);
	assert_non_null(strstr(tr.still, "not for 10.1.1.106"));
	/* No certificate in the answer: an error, nothing written. */
	assert_int_equal(cli_trust_add_top(top, "nothing", 7, "y", "h:1", &tr, &err), -1);
	free(pem);
	snprintf(path, sizeof(path), "rm -rf '%s'", top);
	assert_int_equal(system(path), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_top_then_trusted),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
