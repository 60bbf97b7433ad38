/* Look-alike names refused with ICU (UTS #39 security mechanisms, UAX #15
 * normalization): Unicode tables are ICU's, not ours. */
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>
#include <unicode/uspoof.h>
#include <unicode/utf16.h>

#include "atrium/log.h"
#include "server/names.h"
#include "server/store.h"

/* UTF-16 units for a name of STORE_NAME_MAX bytes (one unit per byte at
 * most) and for its case folding, which may grow it. */
#define NAME_U16_MAX (3 * STORE_NAME_MAX)
#define SKEL_U16_MAX (NAME_SKELETON_MAX / 2)

/* One checker for every thread: ICU allows concurrent checks on a checker
 * nobody changes any more. */
static USpoofChecker *checker;
static pthread_once_t checker_once = PTHREAD_ONCE_INIT;

static void
checker_open(void)
{
	UErrorCode st = U_ZERO_ERROR;
	USpoofChecker *sc = uspoof_open(&st);
	USet *allowed = uset_cloneAsThawed(uspoof_getRecommendedSet(&st));

	/* The recommended set has letters, marks and digits but hardly any
	 * punctuation: printable ASCII stays allowed ("plant model", "R&D"),
	 * its look-alikes are the skeleton comparison's. */
	if (U_SUCCESS(st))
		uset_addRange(allowed, 0x20, 0x7e);
	uspoof_setAllowedChars(sc, allowed, &st);
	/* Latin with Han, kana or Hangul, or with one other script that is not
	 * confusable with it; never Latin with Cyrillic or Greek. */
	uspoof_setRestrictionLevel(sc, USPOOF_MODERATELY_RESTRICTIVE);
	uspoof_setChecks(sc, USPOOF_RESTRICTION_LEVEL | USPOOF_CHAR_LIMIT | USPOOF_INVISIBLE |
	    USPOOF_MIXED_NUMBERS | USPOOF_HIDDEN_OVERLAY, &st);
	if (allowed != NULL)
		uset_close(allowed);
	if (U_FAILURE(st)) {
		atr_error("the Unicode name checker cannot start: %s", u_errorName(st));
		uspoof_close(sc);
		return;
	}
	checker = sc;
}

static USpoofChecker *
checker_get(void)
{
	pthread_once(&checker_once, checker_open);
	return checker;
}

static int
is_bidi_control(UChar32 c)
{
	return u_hasBinaryProperty(c, UCHAR_BIDI_CONTROL);
}

/* Default_Ignorable_Code_Point covers the zero-width characters, joiners,
 * variation selectors and the BOM; format characters (Cf) the rest of
 * what draws nothing. */
static int
is_invisible(UChar32 c)
{
	return u_hasBinaryProperty(c, UCHAR_DEFAULT_IGNORABLE_CODE_POINT) ||
	    u_charType(c) == U_FORMAT_CHAR;
}

static int
is_odd_space(UChar32 c)
{
	return c != ' ' && (u_isUWhiteSpace(c) || u_charType(c) == U_SPACE_SEPARATOR);
}

static int
is_control(UChar32 c)
{
	return u_charType(c) == U_CONTROL_CHAR;
}

/* Per character, first match wins: bidi controls are format characters
 * too, and NEL (U+0085) is white space too; each has its own sentence. */
static const struct {
	int (*is)(UChar32);
	const char *why;
} char_rules[] = {
	{is_bidi_control, "the name contains a bidirectional control character, which changes "
			  "the order in which it is shown"},
	{is_invisible, "the name contains an invisible character (such as a zero-width space, "
		       "a joiner or a byte order mark)"},
	{is_control, "the name contains a control character"},
	{is_odd_space, "the name contains a space other than the ordinary space U+0020 (such "
		       "as a no-break or ideographic space)"},
};

/* What uspoof_check2 found, most telling first: a character outside the
 * allowed set also fails the restriction level. */
static const struct {
	int32_t bit;
	const char *why;
} spoof_rules[] = {
	{USPOOF_CHAR_LIMIT, "the name contains a character that is not allowed in names (letters, "
			    "marks and digits in current use and printable ASCII are; other "
			    "symbols, emoji and historic scripts are not)"},
	{USPOOF_RESTRICTION_LEVEL, "the name mixes scripts that are easily confused (such as "
				   "Latin with Cyrillic or Greek); write it in one script"},
	{USPOOF_MIXED_NUMBERS, "the name mixes digits of different number systems"},
	{USPOOF_INVISIBLE, "the name repeats a combining mark on one letter, which does not show"},
	{USPOOF_HIDDEN_OVERLAY, "the name has a combining mark hidden by the letter it is on"},
};

/* name as UTF-16 into u (NAME_U16_MAX units); its length, -1 if invalid. */
static int32_t
to_u16(const char *name, UChar *u)
{
	UErrorCode st = U_ZERO_ERROR;
	int32_t n = 0;

	u_strFromUTF8(u, NAME_U16_MAX, &n, name, -1, &st);
	return U_SUCCESS(st) && st != U_STRING_NOT_TERMINATED_WARNING ? n : -1;
}

const char *
name_problem(const char *name)
{
	USpoofChecker *sc = checker_get();
	UChar u[NAME_U16_MAX];
	UErrorCode st = U_ZERO_ERROR;
	int32_t n = to_u16(name, u), found;
	UChar32 c;

	if (sc == NULL)
		return "names cannot be checked: the Unicode library failed (see the server log)";
	if (n < 0)
		return "the name is not valid UTF-8 or is too long";
	for (int32_t i = 0; i < n;) {
		U16_NEXT(u, i, n, c);
		for (size_t k = 0; k < sizeof(char_rules) / sizeof(char_rules[0]); k++)
			if (char_rules[k].is(c))
				return char_rules[k].why;
	}
	/* One spelling per name: "ü" composed, never u + U+0308. */
	if (!unorm2_isNormalized(unorm2_getNFCInstance(&st), u, n, &st) && U_SUCCESS(st))
		return "the name is not in Unicode normalization form NFC (a letter followed by a "
		       "separate accent where one composed character exists); send it composed";
	if (!unorm2_isNormalized(unorm2_getNFKCInstance(&st), u, n, &st) && U_SUCCESS(st))
		return "the name contains a compatibility form of a character (such as fullwidth "
		       "letters or a ligature); use the ordinary character";
	found = uspoof_check2(sc, u, n, NULL, &st);
	if (U_FAILURE(st))
		return "names cannot be checked: the Unicode library failed";
	for (size_t k = 0; k < sizeof(spoof_rules) / sizeof(spoof_rules[0]); k++)
		if (found & spoof_rules[k].bit)
			return spoof_rules[k].why;
	return found != 0 ? "the name is not allowed by the Unicode security checks" : NULL;
}

int
name_skeleton(const char *name, int fold, char *out, size_t cap)
{
	USpoofChecker *sc = checker_get();
	UChar u[NAME_U16_MAX], folded[NAME_U16_MAX], skel[SKEL_U16_MAX];
	UErrorCode st = U_ZERO_ERROR;
	int32_t n = to_u16(name, u), len;

	if (sc == NULL || n < 0)
		return -1;
	if (fold) {
		n = u_strFoldCase(folded, NAME_U16_MAX, u, n, U_FOLD_CASE_DEFAULT, &st);
		memcpy(u, folded, sizeof(u));
	}
	len = uspoof_getSkeleton(sc, 0, u, n, skel, SKEL_U16_MAX, &st);
	if (U_FAILURE(st) || st == U_STRING_NOT_TERMINATED_WARNING)
		return -1;
	u_strToUTF8(out, (int32_t)(cap > INT32_MAX ? INT32_MAX : cap), NULL, skel, len, &st);
	return U_SUCCESS(st) && st != U_STRING_NOT_TERMINATED_WARNING ? 0 : -1;
}
