/* The error table's columns, and filling struct atr_err. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "atrium/err.h"

struct errinfo {
	const char *name;
	int http;
	int exitc;
	const char *text;
};

static const struct errinfo errtab[ATR_E__COUNT] = {
#define ATR_ERR_ROW_(name, wire, http, exitc, text) {wire, http, exitc, text},
	ATR_ERRORS(ATR_ERR_ROW_)
#undef ATR_ERR_ROW_
};

static const struct errinfo *
info(enum atr_errcode code)
{
	if ((unsigned)code >= ATR_E__COUNT)
		code = ATR_E_INTERNAL;
	return &errtab[code];
}

void
atr_err_clear(struct atr_err *err)
{
	if (err == NULL)
		return;
	err->code = ATR_E_OK;
	err->msg[0] = '\0';
	err->field[0] = '\0';
	err->core = 0;
}

static void
vset(struct atr_err *err, enum atr_errcode code, const char *fmt, va_list ap)
{
	err->code = code;
	err->field[0] = '\0';
	err->core = 0;
	if (fmt == NULL)
		snprintf(err->msg, sizeof(err->msg), "%s", info(code)->text);
	else
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
}

int
atr_err_set(struct atr_err *err, enum atr_errcode code, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return -1;
	va_start(ap, fmt);
	vset(err, code, fmt, ap);
	va_end(ap);
	return -1;
}

int
atr_err_set_field(struct atr_err *err, const char *field)
{
	if (err == NULL)
		return -1;
	snprintf(err->field, sizeof(err->field), "%s", field != NULL ? field : "");
	return -1;
}

const char *
atr_err_field(const struct atr_err *err)
{
	return err != NULL ? err->field : "";
}

int
atr_err_prefix(struct atr_err *err, const char *fmt, ...)
{
	char old[ATR_ERR_MSG_MAX];
	size_t n;
	va_list ap;

	if (err == NULL)
		return -1;
	memcpy(old, err->msg, sizeof(old));
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	n = strlen(err->msg);
	if (n + 2 < sizeof(err->msg)) {
		memcpy(err->msg + n, ": ", 2);
		n += 2;
		/* Truncation is fine: the sentence's start says what failed. */
		strncpy(err->msg + n, old, sizeof(err->msg) - n - 1);
		err->msg[sizeof(err->msg) - 1] = '\0';
		n += err->core;
	}
	/* A core cut off by the prefix is an empty one. */
	err->core = (unsigned short)(n < strlen(err->msg) ? n : strlen(err->msg));
	return -1;
}

int
atr_err_set_worded(struct atr_err *err, enum atr_errcode code, const char *words,
    const char *detail)
{
	if (err == NULL)
		return -1;
	if (detail == NULL) {
		atr_err_set(err, code, "%s", words);
		err->core = (unsigned short)strlen(err->msg);
		return -1;
	}
	atr_err_set(err, code, "%s", detail);
	return atr_err_prefix(err, "%s", words);
}

const char *
atr_err_core(const struct atr_err *err)
{
	if (err == NULL)
		return "unknown error";
	if (err->msg[0] == '\0')
		return info(err->code)->text;
	return err->msg + err->core;
}

const char *
atr_err_msg(const struct atr_err *err)
{
	if (err == NULL)
		return "unknown error";
	if (err->msg[0] == '\0')
		return info(err->code)->text;
	return err->msg;
}

const char *
atr_errcode_name(enum atr_errcode code)
{
	return info(code)->name;
}

int
atr_errcode_from_name(const char *name, enum atr_errcode *code)
{
	if (name == NULL)
		return -1;
	for (int i = 0; i < ATR_E__COUNT; i++) {
		if (strcmp(errtab[i].name, name) == 0) {
			*code = (enum atr_errcode)i;
			return 0;
		}
	}
	return -1;
}

const char *
atr_errcode_text(enum atr_errcode code)
{
	return info(code)->text;
}

int
atr_errcode_http(enum atr_errcode code)
{
	return info(code)->http;
}

int
atr_errcode_exit(enum atr_errcode code)
{
	return info(code)->exitc;
}

/* Every status atriumd answers or the CLI names; sorted by status. */
static const struct {
	int status;
	const char *reason;
} reasons[] = {
	{100, "Continue"},
	{200, "OK"},
	{201, "Created"},
	{204, "No Content"},
	{206, "Partial Content"},
	{301, "Moved Permanently"},
	{302, "Found"},
	{304, "Not Modified"},
	{400, "Bad Request"},
	{401, "Unauthorized"},
	{403, "Forbidden"},
	{404, "Not Found"},
	{405, "Method Not Allowed"},
	{408, "Request Timeout"},
	{409, "Conflict"},
	{411, "Length Required"},
	{413, "Content Too Large"},
	{414, "URI Too Long"},
	{416, "Range Not Satisfiable"},
	{417, "Expectation Failed"},
	{423, "Locked"},
	{429, "Too Many Requests"},
	{431, "Request Header Fields Too Large"},
	{500, "Internal Server Error"},
	{501, "Not Implemented"},
	{502, "Bad Gateway"},
	{503, "Service Unavailable"},
	{505, "HTTP Version Not Supported"},
};

const char *
atr_http_reason(int status)
{
	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (reasons[i].status == status)
			return reasons[i].reason;
	return NULL;
}
