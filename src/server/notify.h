/*
 * Telling the service manager how atriumd is doing: systemd's sd_notify
 * protocol, spoken directly (no libsystemd). A state is one datagram of
 * "KEY=VALUE" lines sent to the AF_UNIX socket that $NOTIFY_SOCKET names:
 * a path ("/run/systemd/notify") or, with a leading '@', an abstract
 * socket name. Without $NOTIFY_SOCKET (not started by systemd, or a unit
 * that is not Type=notify) every call does nothing and returns 0, so
 * callers need no condition of their own.
 *
 * The calls never block: a datagram the manager cannot take at once is an
 * error, not a wait.
 */
#ifndef ATRIUM_SERVER_NOTIFY_H
#define ATRIUM_SERVER_NOTIFY_H

#include "atrium/err.h"

/*
 * Sends state, "KEY=VALUE" lines separated by '\n' (e.g. "READY=1"), as one
 * datagram. Returns 0 when sent or when $NOTIFY_SOCKET is unset or empty;
 * -1 with err set (ATR_E_CONFIG for a $NOTIFY_SOCKET that is neither an
 * absolute path nor '@'name, or too long for a socket address; ATR_E_IO
 * when the socket cannot be made or the datagram not sent).
 */
int notify_send(const char *state, struct atr_err *err);

/* "READY=1": every listener is up (after a start or a reload). */
int notify_ready(struct atr_err *err);

/* "RELOADING=1" with MONOTONIC_USEC, the time of CLOCK_MONOTONIC now, as
 * systemd wants it before a reload; notify_ready() ends the reload. */
int notify_reloading(struct atr_err *err);

/* "STOPPING=1": the server has begun to finish open requests and exit. */
int notify_stopping(struct atr_err *err);

#endif
