/* outbound_allow (outbound.c): which lists are refused, and which host and
 * address pairs a list allows, table-driven; outbound_connect() refuses
 * before connecting and names the setting. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "server/outbound.h"

static void
test_lists(void **state)
{
	static const struct {
		const char *list;
		int ok;
	} cases[] = {
		{"*", 1}, {"", 1}, {" , ,", 1},
		{"10.0.0.0/8, 192.168.1.7 ,fd00::/8, ::1, git.example.com, *.corp.example", 1},
		{"0.0.0.0/0", 1}, {"::/0", 1}, {"Example.COM.", 1}, {"127.0.0.1/32", 1},
		{"10.0.0.0/33", 0}, {"fd00::/129", 0}, {"10.0.0.0/", 0}, {"10.0.0.0/-1", 0},
		{"10.0.0.0/8x", 0}, {"host/8", 0}, {"bogus host", 0}, {"a..b", 0},
		{"127.1", 0}, {"0x7f000001", 0}, {"*.", 0}, {"**", 0}, {"ex_ample.com", 1},
		{"http://example.com", 0}, {"[::1]", 0},
	};
	struct atr_err err;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = outbound_check_allow(cases[i].list, &err);

		if ((rc == 0) != cases[i].ok)
			fail_msg("'%s': %s", cases[i].list, rc == 0 ? "accepted" : err.msg);
		if (rc == -1) {
			assert_int_equal(err.code, ATR_E_CONFIG);
			assert_string_equal(atr_err_field(&err), "outbound_allow");
		}
	}
}

/* sa from an address literal. */
static const struct sockaddr *
addr(const char *text, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (strchr(text, ':') == NULL) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;

		in->sin_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, text, &in->sin_addr), 1);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

		in6->sin6_family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, text, &in6->sin6_addr), 1);
	}
	return (const struct sockaddr *)ss;
}

static void
test_matches(void **state)
{
	static const struct {
		const char *list, *host, *address;
		int allowed;
	} cases[] = {
		{"*", "anything.example", "203.0.113.9", 1},
		{"", "localhost", "127.0.0.1", 0},
		{"10.0.0.0/8", "10.200.3.4", "10.200.3.4", 1},
		{"10.0.0.0/8", "11.0.0.1", "11.0.0.1", 0},
		{"10.1.2.3/8", "10.9.9.9", "10.9.9.9", 1}, /* host bits ignored */
		{"192.168.1.0/25", "192.168.1.127", "192.168.1.127", 1},
		{"192.168.1.0/25", "192.168.1.128", "192.168.1.128", 0},
		{"127.0.0.1", "127.0.0.1", "127.0.0.1", 1},
		{"127.0.0.1", "127.0.0.2", "127.0.0.2", 0},
		/* an IPv4-mapped IPv6 address is the IPv4 address */
		{"10.0.0.0/8", "::ffff:10.0.0.1", "::ffff:10.0.0.1", 1},
		{"192.168.0.0/16", "::ffff:127.0.0.1", "::ffff:127.0.0.1", 0},
		{"fd00::/8", "fd12::1", "fd12::1", 1},
		{"fd00::/8", "fe80::1", "fe80::1", 0},
		{"::1", "::1", "::1", 1},
		{"0.0.0.0/0", "::1", "::1", 0}, /* all of IPv4 is not IPv6 */
		/* a listed name allows what it resolves to, in any case */
		{"git.example.com", "GIT.example.com.", "10.0.0.5", 1},
		{"git.example.com", "www.example.com", "10.0.0.5", 0},
		{"*.example.com", "a.b.example.com", "10.0.0.5", 1},
		{"*.example.com", "example.com", "10.0.0.5", 0},
		{"*.example.com", "badexample.com", "10.0.0.5", 0},
		/* names never match an address literal, nor a short IPv4 form */
		{"localhost", "127.0.0.1", "127.0.0.1", 0},
		{"10.0.0.0/8, localhost", "localhost", "127.0.0.1", 1},
	};
	struct sockaddr_storage ss;
	struct atr_err err;
	struct outbound *ob = outbound_new();

	(void)state;
	assert_non_null(ob);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(outbound_set_allow(ob, cases[i].list, &err), 0);
		if (outbound_allowed(ob, cases[i].host, addr(cases[i].address, &ss)) !=
		    cases[i].allowed)
			fail_msg("outbound_allow = %s: %s at %s should be %s", cases[i].list,
			    cases[i].host, cases[i].address, cases[i].allowed ? "allowed" : "refused");
	}
	/* A bad list changes nothing. */
	assert_int_equal(outbound_set_allow(ob, "10.0.0.0/8", &err), 0);
	assert_int_equal(outbound_set_allow(ob, "10.0.0.0/8, nonsense!", &err), -1);
	assert_int_equal(outbound_allowed(ob, "10.0.0.1", addr("10.0.0.1", &ss)), 1);
	assert_int_equal(outbound_allowed(ob, "127.0.0.1", addr("127.0.0.1", &ss)), 0);
	outbound_free(ob);
}

static void
test_connect_refused_names_the_setting(void **state)
{
	struct atr_err err;
	struct outbound *ob = outbound_new();

	(void)state;
	assert_int_equal(outbound_set_allow(ob, "10.0.0.0/8", &err), 0);
	/* Port 1 on loopback: nothing listens, so a connection attempt would
	 * be "connection refused" (ATR_E_NETWORK), not this. */
	assert_int_equal(outbound_connect(ob, "127.0.0.1", "1", 1000, &err), -1);
	assert_int_equal(err.code, ATR_E_OUTBOUND_DENIED);
	assert_string_equal(atr_err_field(&err), "outbound_allow");
	assert_non_null(strstr(err.msg, "127.0.0.1 is not allowed by outbound_allow (10.0.0.0/8)"));
	assert_int_equal(outbound_set_allow(ob, "127.0.0.0/8", &err), 0);
	assert_int_equal(outbound_connect(ob, "127.0.0.1", "1", 1000, &err), -1);
	assert_int_equal(err.code, ATR_E_NETWORK);
	outbound_free(ob);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lists),
		cmocka_unit_test(test_matches),
		cmocka_unit_test(test_connect_refused_names_the_setting),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
