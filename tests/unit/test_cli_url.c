/* Server addresses, the transport choice, percent-encoding and API paths. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli/output.h"
#include "cli/url.h"

static void
test_transport_choice(void **state)
{
	int tls = -1, port = 0;

	(void)state;
	/* --plain: always plain HTTP on 3579. */
	cli_transport_choose(1, &tls, &port);
	assert_int_equal(tls, 0);
	assert_int_equal(port, CLI_PORT_PLAIN);
	/* Without --plain: TLS on 10002, as the reference's login dialog. */
	cli_transport_choose(0, &tls, &port);
	assert_int_equal(tls, 1);
	assert_int_equal(port, CLI_PORT_TLS);
}

static void
test_server_url(void **state)
{
	static const struct {
		const char *in;
		int plain;
		const char *url; /* NULL: rejected */
	} t[] = {
		{"example.org", 0, "https://example.org:10002"},
		{"example.org", 1, "http://example.org:3579"},
		{"Example.ORG:8080", 0, "https://example.org:8080"},
		{"Example.ORG:8080", 1, "http://example.org:8080"},
		{"127.0.0.1:3579", 1, "http://127.0.0.1:3579"},
		{"http://h", 0, "http://h:3579"},
		{"http://h:80/", 0, "http://h:80"},
		{"HTTP://h:81", 0, "http://h:81"},
		{"https://h", 0, "https://h:10002"},
		{"HTTPS://h:443/", 0, "https://h:443"},
		{"[::1]", 0, "https://[::1]:10002"},
		{"[::1]", 1, "http://[::1]:3579"},
		{"[::1]:4000", 0, "https://[::1]:4000"},
		{"::1", 0, "https://[::1]:10002"},
		{"fe80::1:2", 0, "https://[fe80::1:2]:10002"},
		{"my_host-1.local", 0, "https://my_host-1.local:10002"},
		{"h:65535", 0, "https://h:65535"},
		{"", 0, NULL},
		{":3579", 0, NULL},
		{"h:", 0, NULL},
		{"h:0", 0, NULL},
		{"h:65536", 0, NULL},
		{"h:-1", 0, NULL},
		{"h:12ab", 0, NULL},
		{"h/path", 0, NULL},
		{"http://h/path", 0, NULL},
		{"user@h", 0, NULL},
		{"h?x=1", 0, NULL},
		{"h h", 0, NULL},
		{"[::1", 0, NULL},
		{"[::1]x", 0, NULL},
		{"[zz::1]", 0, NULL},
		{"ftp://h", 0, NULL},
		{"https://h", 1, NULL}, /* --plain contradicts https:// */
		{"http://", 0, NULL},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct atr_err err;
		char *url = (char *)"untouched";
		int rc;

		atr_err_clear(&err);
		print_message("case %zu: '%s'\n", i, t[i].in);
		rc = cli_server_url(t[i].in, t[i].plain, &url, &err);
		if (t[i].url == NULL) {
			assert_int_equal(rc, -1);
			assert_null(url);
			assert_int_equal(err.code, ATR_E_USAGE);
			assert_true(strlen(atr_err_msg(&err)) > 10);
		} else {
			assert_int_equal(rc, 0);
			assert_string_equal(url, t[i].url);
			free(url);
		}
	}
}

static void
test_hostport_loopback(void **state)
{
	(void)state;
	assert_string_equal(cli_url_hostport("http://h:1"), "h:1");
	assert_string_equal(cli_url_hostport("h:1"), "h:1");
	assert_true(cli_url_is_loopback("http://127.0.0.1:3579"));
	assert_true(cli_url_is_loopback("http://127.8.9.1:3579"));
	assert_true(cli_url_is_loopback("http://[::1]:3579"));
	assert_true(cli_url_is_loopback("http://localhost:3579"));
	assert_false(cli_url_is_loopback("http://localhost.evil.org:3579"));
	assert_false(cli_url_is_loopback("http://10.0.0.1:3579"));
	assert_false(cli_url_is_loopback("http://127example.org:3579"));
	assert_true(cli_url_is_loopback("https://127.0.0.1:10002"));
}

static void
test_url_host(void **state)
{
	char h[64];

	(void)state;
	assert_int_equal(cli_url_host("https://h.example:10002", h, sizeof(h)), 0);
	assert_string_equal(h, "h.example");
	assert_int_equal(cli_url_host("https://[::1]:10002", h, sizeof(h)), 0);
	assert_string_equal(h, "::1");
	assert_int_equal(cli_url_host("http://127.0.0.1:3579", h, sizeof(h)), 0);
	assert_string_equal(h, "127.0.0.1");
	assert_int_equal(cli_url_host("https://:1", h, sizeof(h)), -1);
	assert_int_equal(cli_url_host("https://a-very-long-host-name:1", h, 8), -1);
}

static void
test_pct_encode(void **state)
{
	static const struct {
		const char *in, *out;
	} t[] = {
		{"", ""},
		{"abc-XYZ_0.9~", "abc-XYZ_0.9~"},
		{"a b", "a%20b"},
		{"a/b", "a%2Fb"},
		{"100%", "100%25"},
		{"?&=#+", "%3F%26%3D%23%2B"},
		{"\"fix\"\n", "%22fix%22%0A"},
		{"caf\xc3\xa9", "caf%C3%A9"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char *s = cli_pct_encode(t[i].in);

		assert_non_null(s);
		assert_string_equal(s, t[i].out);
		free(s);
	}
}

static void
test_api_path(void **state)
{
	char *p;

	(void)state;
	p = cli_api_path("projects", NULL);
	assert_string_equal(p, "/api/v1/projects");
	free(p);
	p = cli_api_path("projects", "my model", "revisions", "head", NULL);
	assert_string_equal(p, "/api/v1/projects/my%20model/revisions/head");
	free(p);
	p = cli_api_path("users", "a/b", "password", NULL);
	assert_string_equal(p, "/api/v1/users/a%2Fb/password");
	free(p);
}

static void
test_shell_quote(void **state)
{
	static const struct {
		const char *in, *out;
	} t[] = {
		{"model.bin", "model.bin"},
		{"dir/a-b_c:1@x", "dir/a-b_c:1@x"},
		{"", "''"},
		{"my model", "'my model'"},
		{"it's", "'it'\\''s'"},
		{"$(rm -rf)", "'$(rm -rf)'"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char *s = cli_shell_quote(t[i].in);

		assert_non_null(s);
		assert_string_equal(s, t[i].out);
		free(s);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_transport_choice),
		cmocka_unit_test(test_server_url),
		cmocka_unit_test(test_hostport_loopback),
		cmocka_unit_test(test_url_host),
		cmocka_unit_test(test_pct_encode),
		cmocka_unit_test(test_api_path),
		cmocka_unit_test(test_shell_quote),
	};

	return cmocka_run_group_tests_name("cli_url", tests, NULL, NULL);
}
