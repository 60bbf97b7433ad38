/* atr_err_set_ssl(): the OpenSSL error queue drained into a sentence. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

#include "atrium/err.h"

int
atr_err_set_ssl(struct atr_err *err, enum atr_errcode code, const char *fmt, ...)
{
	unsigned long e;
	size_t used;
	va_list ap;
	const char *sep = ": ";

	if (err == NULL) {
		ERR_clear_error();
		return -1;
	}
	err->code = code;
	err->field[0] = '\0';
	err->core = 0;
	va_start(ap, fmt);
	if (fmt == NULL)
		snprintf(err->msg, sizeof(err->msg), "%s", atr_errcode_text(code));
	else
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	while ((e = ERR_get_error()) != 0) {
		const char *reason = ERR_reason_error_string(e);
		used = strlen(err->msg);
		if (reason == NULL || used + 4 >= sizeof(err->msg))
			continue;
		snprintf(err->msg + used, sizeof(err->msg) - used, "%s%s", sep, reason);
		sep = "; ";
	}
	ERR_clear_error();
	return -1;
}
