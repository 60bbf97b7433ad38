/* The Unicode name policy (server/names.h): the look-alikes of security
 * review finding 8 are refused, international names are not. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "server/names.h"

struct policy_case {
	const char *name;
	const char *problem; /* NULL: allowed */
};

static void
test_policy(void **state)
{
	static const struct policy_case cases[] = {
		{"plant", NULL},
		{"plant model", NULL},
		{"plant-2026_v1.x", NULL},
		{"m\xc3\xbcller", NULL},                      /* müller */
		{"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x83\x97\xe3\x83\xad\xe3\x82\xb8"
		 "\xe3\x82\xa7\xe3\x82\xaf\xe3\x83\x88", NULL}, /* 日本語プロジェクト */
		{"\xce\x95\xce\xbb\xce\xad\xce\xbd\xce\xb7", NULL}, /* Ελένη */
		{"\xd0\xba\xd0\xbb\xd1\x8e\xd1\x87", NULL},     /* ключ */
		{"Tokyo \xe6\x9d\xb1\xe4\xba\xac", NULL},       /* Latin + Han */
		{"\xe0\xa4\xb8\xe0\xa5\x82\xe0\xa4\xb0\xe0\xa4\x9c", NULL}, /* सूरज */
		{"pl\xd0\xb0nt", "mixes scripts"},              /* Cyrillic а */
		{"\xd0\xb0" "dmin", "mixes scripts"},
		{"\xc3\xbcmlaut \xd0\xba\xd0\xbb\xd1\x8e\xd1\x87", "mixes scripts"},
		{"\xc2\xa0plant", "no-break"},                  /* NBSP */
		{"plant\xc2\xa0", "no-break"},
		{"plant\xe3\x80\x80x", "ideographic"},          /* U+3000 */
		{"pla\xe2\x80\x8bnt", "invisible"},             /* ZWSP */
		{"admin\xe2\x80\x8b", "invisible"},
		{"\xef\xbb\xbfplant", "invisible"},             /* BOM */
		{"plant\xcd\x8f", "invisible"},                 /* U+034F CGJ */
		{"plant\xc2\xad", "invisible"},                 /* soft hyphen */
		{"\xe2\x80\xaetnalp", "bidirectional"},         /* RLO */
		{"plant\xe2\x81\xa6", "bidirectional"},         /* LRI */
		{"\xef\xbd\x90\xef\xbd\x8c\xef\xbd\x81\xef\xbd\x8e\xef\xbd\x94", "compatibility"},
		{"pla\xcc\x81nt", "NFC"},                       /* a + U+0301 */
		{"plant\xcc\x81\xcc\x81", "combining mark"},    /* doubled mark */
		{"plant\xc2\x85", "control"},                   /* C1 NEL */
		{"plant\xc2\x9b", "control"},                   /* C1 CSI */
		{"plant \xe2\x98\x83", "not allowed in names"}, /* snowman */
		{"ab\xd9\xa3" "3", "digits"},                   /* Arabic-Indic 3 + 3 */
		{"\xff", "UTF-8"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *p = name_problem(cases[i].name);
		if (cases[i].problem == NULL) {
			if (p != NULL)
				fail_msg("case %zu '%s' refused: %s", i, cases[i].name, p);
		} else if (p == NULL || strstr(p, cases[i].problem) == NULL) {
			fail_msg("case %zu '%s': expected '%s', got '%s'", i, cases[i].name,
			    cases[i].problem, p ? p : "(allowed)");
		}
	}
}

struct alike_case {
	const char *a, *b;
	int same;
};

/* Whether a and b look alike as api_new_name() compares them. */
static int
alike(const char *a, const char *b)
{
	char sa[NAME_SKELETON_MAX], sb[NAME_SKELETON_MAX];

	for (int fold = 0; fold < 2; fold++) {
		assert_int_equal(name_skeleton(a, fold, sa, sizeof(sa)), 0);
		assert_int_equal(name_skeleton(b, fold, sb, sizeof(sb)), 0);
		if (strcmp(sa, sb) == 0)
			return 1;
	}
	return 0;
}

static void
test_skeleton(void **state)
{
	static const struct alike_case cases[] = {
		{"admin", "\xd0\xb0" "dmin", 1},             /* Cyrillic а */
		{"admin", "Admin", 1},                      /* case */
		{"admin", "ADMIN", 1},
		{"plant", "p1ant", 1},                      /* digit one as l */
		{"plant", "pIant", 1},                      /* capital I as l */
		{"admin", "adrnin", 1},                     /* rn as m */
		{"scope", "\xd1\x95\xd1\x81\xd0\xbe\xd1\x80\xd0\xb5", 1}, /* Cyrillic */
		{"plant", "plants", 0},
		{"m\xc3\xbcller", "muller", 0},
		{"plant", "plant model", 0},
	};
	char out[NAME_SKELETON_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (alike(cases[i].a, cases[i].b) != cases[i].same)
			fail_msg("case %zu: '%s' and '%s' %s", i, cases[i].a, cases[i].b,
			    cases[i].same ? "should look alike" : "should differ");
	assert_int_equal(name_skeleton("\xff", 0, out, sizeof(out)), -1);
	assert_int_equal(name_skeleton("admin", 1, out, 3), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_policy),
		cmocka_unit_test(test_skeleton),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
