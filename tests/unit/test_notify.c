/* The sd_notify protocol: what atriumd sends arrives as one datagram on the
 * socket $NOTIFY_SOCKET names, a path or an '@' abstract name. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "server/notify.h"

/* Binds a datagram socket to name (a path, or '@' for an abstract name)
 * and sets $NOTIFY_SOCKET to it. */
static int
listen_on(const char *name)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t len = strlen(name);
	socklen_t salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_int_not_equal(fd, -1);
	memcpy(sa.sun_path, name, len);
	if (name[0] == '@')
		sa.sun_path[0] = '\0';
	else
		salen++;
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, salen), 0);
	assert_int_equal(setenv("NOTIFY_SOCKET", name, 1), 0);
	return fd;
}

/* The next datagram on fd, NUL-terminated, within a second. */
static void
receive(int fd, char *buf, size_t size)
{
	struct timeval tv = {.tv_sec = 1};
	ssize_t n;

	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	n = recv(fd, buf, size - 1, 0);
	assert_true(n > 0);
	buf[n] = '\0';
}

struct state_case {
	int (*call)(struct atr_err *err);
	const char *prefix; /* what the datagram starts with */
};

static void
check_states(const char *name)
{
	static const struct state_case cases[] = {
		{notify_ready, "READY=1"},
		{notify_reloading, "RELOADING=1\nMONOTONIC_USEC="},
		{notify_ready, "READY=1"},
		{notify_stopping, "STOPPING=1"},
	};
	struct atr_err err;
	char buf[256];
	int fd = listen_on(name);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (cases[i].call(&err) != 0)
			fail_msg("case %zu on %s: %s", i, name, atr_err_msg(&err));
		receive(fd, buf, sizeof(buf));
		if (strncmp(buf, cases[i].prefix, strlen(cases[i].prefix)) != 0)
			fail_msg("case %zu on %s: got '%s', want '%s...'", i, name, buf,
			    cases[i].prefix);
	}
	/* The reload's time is CLOCK_MONOTONIC in microseconds: digits only. */
	assert_int_equal(notify_reloading(&err), 0);
	receive(fd, buf, sizeof(buf));
	{
		const char *usec = strstr(buf, "MONOTONIC_USEC=");
		assert_non_null(usec);
		usec += strlen("MONOTONIC_USEC=");
		assert_true(*usec != '\0' && strspn(usec, "0123456789") == strlen(usec));
	}
	close(fd);
	unsetenv("NOTIFY_SOCKET");
}

static void
test_path_socket(void **state)
{
	char dir[] = "/tmp/atrium-notify.XXXXXX", path[200];

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/notify", dir);
	check_states(path);
	unlink(path);
	rmdir(dir);
}

static void
test_abstract_socket(void **state)
{
	char name[64];

	(void)state;
	snprintf(name, sizeof(name), "@atrium-notify-test-%ld", (long)getpid());
	check_states(name);
}

static void
test_no_socket_is_quiet(void **state)
{
	struct atr_err err;

	(void)state;
	unsetenv("NOTIFY_SOCKET");
	assert_int_equal(notify_ready(&err), 0);
	setenv("NOTIFY_SOCKET", "", 1);
	assert_int_equal(notify_stopping(&err), 0);
	unsetenv("NOTIFY_SOCKET");
}

struct bad_case {
	const char *value;
	enum atr_errcode code;
};

static void
test_bad_socket(void **state)
{
	char long_path[200];
	struct bad_case cases[] = {
		{"relative/notify", ATR_E_CONFIG},
		{"@", ATR_E_CONFIG},
		{"vsock:2:1234", ATR_E_CONFIG},
		{long_path, ATR_E_CONFIG},
		{"/nonexistent/atrium/notify", ATR_E_IO}, /* nobody listens */
	};
	struct atr_err err;

	(void)state;
	memset(long_path, 'x', sizeof(long_path) - 1);
	long_path[0] = '/';
	long_path[sizeof(long_path) - 1] = '\0';
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		setenv("NOTIFY_SOCKET", cases[i].value, 1);
		if (notify_ready(&err) != -1)
			fail_msg("NOTIFY_SOCKET=%.40s: accepted", cases[i].value);
		if (err.code != cases[i].code)
			fail_msg("NOTIFY_SOCKET=%.40s: code %d, message %s", cases[i].value,
			    (int)err.code, atr_err_msg(&err));
	}
	unsetenv("NOTIFY_SOCKET");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_socket),
		cmocka_unit_test(test_abstract_socket),
		cmocka_unit_test(test_no_socket_is_quiet),
		cmocka_unit_test(test_bad_socket),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
