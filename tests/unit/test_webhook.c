/* Standard Webhooks signing (webhook.c): the specification's own example,
 * a signature computed by openssl (tests/data/webhook/README), rotation's
 * two signatures, and the secrets that are refused. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "server/webhook.h"

/* The example of the specification (standard-webhooks spec, "Verifying
 * webhook signatures"), checked independently with openssl dgst. */
#define SPEC_SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define SPEC_ID "msg_p5jXN8AQM9LWM0D4loKWxJek"
#define SPEC_TS 1614265330
#define SPEC_BODY "{\"test\": 2432232314}"
#define SPEC_SIG "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

/* Made with: key=$(printf %s SECRET_B64 | base64 -d | xxd -p -c 100);
 * printf %s 'ID.TS.BODY' | openssl dgst -sha256 -mac HMAC -macopt hexkey:$key -binary | base64
 * (tests/data/webhook/README). */
#define OTHER_SECRET "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYX"
#define OTHER_SIG "v1,/485aUtxlie+TIScVpHggMfqOB4so2KWb7+Gf727B44="

static void
test_spec_example(void **state)
{
	char sig[256];
	struct atr_err err;

	(void)state;
	assert_int_equal(webhook_sign(SPEC_SECRET, NULL, SPEC_ID, SPEC_TS, SPEC_BODY,
	    strlen(SPEC_BODY), sig, sizeof(sig), &err), 0);
	assert_string_equal(sig, SPEC_SIG);
	assert_int_equal(webhook_sign(SPEC_SECRET, "", SPEC_ID, SPEC_TS, SPEC_BODY,
	    strlen(SPEC_BODY), sig, sizeof(sig), &err), 0);
	assert_string_equal(sig, SPEC_SIG);
}

static void
test_openssl_computed(void **state)
{
	char sig[256];
	struct atr_err err;

	(void)state;
	assert_int_equal(webhook_sign(OTHER_SECRET, NULL, SPEC_ID, SPEC_TS, SPEC_BODY,
	    strlen(SPEC_BODY), sig, sizeof(sig), &err), 0);
	assert_string_equal(sig, OTHER_SIG);
}

/* Rotation: the new secret's signature first, then the old one's. */
static void
test_two_signatures(void **state)
{
	char sig[256];
	struct atr_err err;

	(void)state;
	assert_int_equal(webhook_sign(OTHER_SECRET, SPEC_SECRET, SPEC_ID, SPEC_TS, SPEC_BODY,
	    strlen(SPEC_BODY), sig, sizeof(sig), &err), 0);
	assert_string_equal(sig, OTHER_SIG " " SPEC_SIG);
	/* Too small a buffer is an error, never a cut signature. */
	assert_int_equal(webhook_sign(OTHER_SECRET, SPEC_SECRET, SPEC_ID, SPEC_TS, SPEC_BODY,
	    strlen(SPEC_BODY), sig, 60, &err), -1);
	assert_string_equal(sig, "");
}

static void
test_malformed_secrets(void **state)
{
	static const struct {
		const char *s;
		int ok;
	} cases[] = {
		{SPEC_SECRET, 1},
		{OTHER_SECRET, 1},
		{"whsec_", 0},                                   /* no key */
		{"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", 0},         /* no prefix */
		{"WHSEC_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", 0},   /* prefix is case-sensitive */
		{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS", 0},    /* not a multiple of 4 */
		{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLa w", 0},   /* a space */
		{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2La-_Sw", 0},   /* URL-safe alphabet */
		{"whsec_MfKQ9r8GKYqrTwjUPD8I=PZIo2LaLaSw", 0},   /* padding inside */
		{"whsec_AAAA", 0},                               /* 3 bytes: too short */
		{"whsec_AAECAwQFBgcICQoLDA0ODw==", 1},           /* 16 bytes */
		{"whsec_AAECAwQFBgcICQoLDA0O", 0},               /* 15 bytes */
		{"whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+Pw==", 1},
		{"whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+P0A=", 0},
		{"", 0},
	};
	struct atr_err err;
	char sig[256];

	(void)state;
	assert_false(webhook_secret_valid(NULL));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (webhook_secret_valid(cases[i].s) != cases[i].ok)
			fail_msg("'%s' should be %s", cases[i].s, cases[i].ok ? "valid" : "refused");
		if (!cases[i].ok) {
			assert_int_equal(webhook_sign(cases[i].s, NULL, "m", 1, "x", 1, sig,
			    sizeof(sig), &err), -1);
			assert_int_equal(err.code, ATR_E_CONFIG);
			/* A bad old secret fails too: never one signature silently. */
			assert_int_equal(webhook_sign(SPEC_SECRET, cases[i].s[0] ? cases[i].s : "x",
			    "m", 1, "x", 1, sig, sizeof(sig), &err), -1);
		}
	}
}

static void
test_new_secrets(void **state)
{
	char a[64], b[64];
	struct atr_err err;

	(void)state;
	assert_int_equal(webhook_secret_new(a, sizeof(a), &err), 0);
	assert_int_equal(webhook_secret_new(b, sizeof(b), &err), 0);
	assert_true(webhook_secret_valid(a));
	assert_int_equal(strlen(a), 6 + 32);
	assert_string_not_equal(a, b);
	assert_int_equal(webhook_secret_new(a, 10, &err), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spec_example),
		cmocka_unit_test(test_openssl_computed),
		cmocka_unit_test(test_two_signatures),
		cmocka_unit_test(test_malformed_secrets),
		cmocka_unit_test(test_new_secrets),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
