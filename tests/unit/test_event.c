/* The kinds of event and the documents about them (server/event.h). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "server/event.h"

static void
test_kinds_parse(void **state)
{
	static const struct {
		const char *in, *out;
	} ok_cases[] = {
		{"", "*"},
		{"*", "*"},
		{" * ", "*"},
		{"lock.taken,*", "*"},
		{"revision.committed", "revision.committed"},
		/* Once each, in the table's order, spaces ignored. */
		{"lock.taken, revision.committed,lock.taken", "revision.committed,lock.taken"},
		{"certificate.expiring,user.deleted,user.created",
		    "user.created,user.deleted,certificate.expiring"},
	};
	static const struct {
		const char *in, *says;
	} bad[] = {
		{"revision.comitted", "'revision.comitted' is not a kind of event"},
		{"lock.taken,nope", "'nope' is not a kind of event"},
		{"integration.test", "only sent by the test command"},
		{"Revision.Committed", "is not a kind of event"},
	};
	char out[512];
	struct atr_err err;

	(void)state;
	for (size_t i = 0; i < sizeof(ok_cases) / sizeof(ok_cases[0]); i++) {
		if (event_kinds_parse(ok_cases[i].in, out, sizeof(out), &err) != 0)
			fail_msg("'%s': %s", ok_cases[i].in, atr_err_msg(&err));
		assert_string_equal(out, ok_cases[i].out);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		atr_err_clear(&err);
		assert_int_equal(event_kinds_parse(bad[i].in, out, sizeof(out), &err), -1);
		assert_int_equal(err.code, ATR_E_BAD_REQUEST);
		assert_string_equal(atr_err_field(&err), "events");
		if (strstr(atr_err_msg(&err), bad[i].says) == NULL)
			fail_msg("'%s': '%s' lacks '%s'", bad[i].in, atr_err_msg(&err), bad[i].says);
	}
	/* Too small a buffer is an error, never a cut list. */
	assert_int_equal(event_kinds_parse("revision.committed", out, 8, &err), -1);
}

static void
test_kinds_match(void **state)
{
	(void)state;
	assert_true(event_kinds_match("*", "revision.committed"));
	assert_true(event_kinds_match("*", "certificate.expiring"));
	assert_false(event_kinds_match("*", "integration.test"));
	assert_false(event_kinds_match("*", "nonsense"));
	assert_true(event_kinds_match("revision.committed,lock.taken", "lock.taken"));
	assert_true(event_kinds_match("revision.committed,lock.taken", "revision.committed"));
	assert_false(event_kinds_match("revision.committed,lock.taken", "lock.released"));
	/* Whole names only. */
	assert_false(event_kinds_match("lock.taken", "lock.take"));
	assert_false(event_kinds_match("lock.take", "lock.taken"));
	assert_false(event_kinds_match("", "lock.taken"));
	assert_true(event_type_known("integration.test"));
	assert_false(event_type_known("integration"));
}

static void
test_payload(void **state)
{
	char *text = event_payload("revision.committed", 1800000000123, 42,
	    "{\"project\":\"plant\",\"revision\":7}");
	json_t *doc, *data;

	(void)state;
	assert_non_null(text);
	/* The order receivers see: type, timestamp, seq, data. */
	assert_string_equal(text,
	    "{\"type\":\"revision.committed\",\"timestamp\":\"2027-01-15T08:00:00.123Z\","
	    "\"seq\":42,\"data\":{\"project\":\"plant\",\"revision\":7}}");
	assert_non_null(doc = json_loads(text, 0, NULL));
	data = json_object_get(doc, "data");
	assert_int_equal(json_integer_value(json_object_get(data, "revision")), 7);
	json_decref(doc);
	free(text);
	assert_null(event_payload("lock.taken", 0, 1, "[1]"));
	assert_null(event_payload("lock.taken", 0, 1, "not json"));
}

static void
test_data_and_msg_id(void **state)
{
	char *d = event_data("{s:s, s:s?, s:I, s:b}", "user", "alice", "by", NULL, "n",
	    (json_int_t)3, "forced", 1);
	char a[48], b[48];

	(void)state;
	assert_non_null(d);
	assert_string_equal(d, "{\"user\":\"alice\",\"by\":null,\"n\":3,\"forced\":true}");
	free(d);
	event_msg_id(a);
	event_msg_id(b);
	assert_int_equal(strlen(a), 36);
	assert_int_equal(strncmp(a, "msg_", 4), 0);
	assert_int_equal(strspn(a + 4, "0123456789abcdef"), 32);
	assert_string_not_equal(a, b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kinds_parse),
		cmocka_unit_test(test_kinds_match),
		cmocka_unit_test(test_payload),
		cmocka_unit_test(test_data_and_msg_id),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
