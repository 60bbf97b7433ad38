/* The admin API's log lines (adminlog.h). */
#include <stdarg.h>
#include <stdio.h>

#include "atrium/log.h"
#include "server/adminlog.h"
#include "server/http.h"

static void
vlog_admin(enum atr_log_level level, struct req *r, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static void
vlog_admin(enum atr_log_level level, struct req *r, const char *fmt, va_list ap)
{
	char what[1200];

	vsnprintf(what, sizeof(what), fmt, ap);
	atr_log(level, "admin '%s' from %s: %s", req_user(r) ? req_user(r)->name : "?",
	    req_peer(r), what);
}

void
log_admin(struct req *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog_admin(ATR_LOG_INFO, r, fmt, ap);
	va_end(ap);
}

void
log_admin_warn(struct req *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog_admin(ATR_LOG_WARN, r, fmt, ap);
	va_end(ap);
}
