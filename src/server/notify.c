/* The sd_notify protocol by hand: one AF_UNIX datagram to $NOTIFY_SOCKET. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "server/notify.h"

/* Fills sa from name (a path or '@'abstract); returns the address length,
 * or 0 when name is not usable. */
static socklen_t
notify_address(const char *name, struct sockaddr_un *sa)
{
	size_t len = strlen(name);

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (len < 2 || (name[0] != '/' && name[0] != '@') || len > sizeof(sa->sun_path))
		return 0;
	/* A path needs its terminating NUL inside sun_path; an abstract name
	 * is its bytes after a leading NUL, with no terminator. */
	if (name[0] == '/' && len == sizeof(sa->sun_path))
		return 0;
	memcpy(sa->sun_path, name, len);
	if (name[0] == '@') {
		sa->sun_path[0] = '\0';
		return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	}
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
}

int
notify_send(const char *state, struct atr_err *err)
{
	const char *name = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa;
	socklen_t salen;
	size_t len = strlen(state);
	ssize_t n;
	int fd;

	if (name == NULL || *name == '\0')
		return 0;
	if ((salen = notify_address(name, &sa)) == 0)
		return atr_err_set(err, ATR_E_CONFIG,
		    "NOTIFY_SOCKET '%.100s' is neither an absolute path nor an @abstract name "
		    "that fits a socket address",
		    name);
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return atr_err_set(err, ATR_E_IO, "cannot make a socket to tell systemd '%s': %s",
		    state, strerror(errno));
	n = sendto(fd, state, len, MSG_NOSIGNAL | MSG_DONTWAIT, (struct sockaddr *)&sa, salen);
	if (n == -1 || (size_t)n != len) {
		int e = n == -1 ? errno : EMSGSIZE;
		close(fd);
		return atr_err_set(err, ATR_E_IO, "cannot tell systemd '%s' on %s: %s", state, name,
		    strerror(e));
	}
	close(fd);
	return 0;
}

int
notify_ready(struct atr_err *err)
{
	return notify_send("READY=1", err);
}

int
notify_reloading(struct atr_err *err)
{
	struct timespec ts;
	char state[64];

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		return atr_err_set(err, ATR_E_INTERNAL, "CLOCK_MONOTONIC: %s", strerror(errno));
	snprintf(state, sizeof(state), "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000ULL);
	return notify_send(state, err);
}

int
notify_stopping(struct atr_err *err)
{
	return notify_send("STOPPING=1", err);
}
