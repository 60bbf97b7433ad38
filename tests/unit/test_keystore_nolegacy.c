/*
 * Keystores when OpenSSL's legacy provider cannot be loaded (a machine
 * without ossl-modules/legacy.so): old PKCS#12 files fail with a sentence
 * that says why, and current ones still load. OPENSSL_MODULES points at an
 * empty place before OpenSSL starts, so this runs in its own process.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atrium/keystore.h"
#include "lib/keystore_int.h"

static const char *
vec_path(const char *name)
{
	static char buf[1024];
	const char *top = getenv("ATRIUM_TOP");

	snprintf(buf, sizeof(buf), "%s/tests/data/keystore-vectors/%s",
	    top != NULL && *top != '\0' ? top : ".", name);
	return buf;
}

static void
test_legacy_files_explain_themselves(void **state)
{
	static const char *files[] = {"java-legacy.p12", "openssl-legacy.p12"};

	(void)state;
	assert_int_equal(atr_ksi_legacy_available(), 0);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		struct atr_err err;
		atr_err_clear(&err);
		assert_null(atr_ks_load_file(vec_path(files[i]), "changeit", &err));
		assert_int_equal(err.code, ATR_E_KS_UNSUPPORTED);
		if (strstr(err.msg, "legacy provider") == NULL || strstr(err.msg, "RC2") == NULL)
			fail_msg("%s: unclear message: %s", files[i], err.msg);
	}
}

static void
test_current_files_still_load(void **state)
{
	static const char *files[] = {"chain.p12", "openssl-default.p12", "chain.jks",
	    "mixed.jceks"};

	(void)state;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		struct atr_err err;
		struct atr_ks *ks;
		atr_err_clear(&err);
		ks = atr_ks_load_file(vec_path(files[i]), "changeit", &err);
		if (ks == NULL)
			fail_msg("%s: %s", files[i], err.msg);
		for (size_t k = 0; k < atr_ks_count(ks); k++) {
			const struct atr_ks_entry *e = atr_ks_entry_at(ks, k);
			EVP_PKEY *key;
			if (atr_ks_entry_kind(e) != ATR_KS_PRIVATE_KEY)
				continue;
			key = atr_ks_entry_key(ks, e, NULL, &err);
			if (key == NULL)
				fail_msg("%s %s: %s", files[i], atr_ks_entry_alias(e), err.msg);
			EVP_PKEY_free(key);
		}
		atr_ks_free(ks);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_legacy_files_explain_themselves),
		cmocka_unit_test(test_current_files_still_load),
	};

	setenv("OPENSSL_MODULES", "/nonexistent/atrium-no-ossl-modules", 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
