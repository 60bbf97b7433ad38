/* The kinds of event and the documents about them (event.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "atrium/util.h"
#include "server/event.h"

static const char *const types[] = {
#define EVENT_NAME_(id, name) name,
	EVENT_TYPES(EVENT_NAME_)
#undef EVENT_NAME_
};
#define NTYPES (sizeof(types) / sizeof(types[0]))

/* Only `atrium admin integrations test` sends it; nobody subscribes. */
static const char test_type[] = "integration.test";

int
event_type_known(const char *type)
{
	for (size_t i = 0; i < NTYPES; i++)
		if (strcmp(types[i], type) == 0)
			return 1;
	return 0;
}

/* The index of the len bytes at s in types, or -1. */
static int
type_index(const char *s, size_t len)
{
	for (size_t i = 0; i < NTYPES; i++)
		if (strlen(types[i]) == len && memcmp(types[i], s, len) == 0)
			return (int)i;
	return -1;
}

int
event_kinds_parse(const char *list, char *out, size_t size, struct atr_err *err)
{
	int want[NTYPES] = {0}, every = 0, any = 0;
	size_t used = 0;

	for (const char *p = list; *p;) {
		size_t n;
		int i;
		while (*p == ' ' || *p == ',')
			p++;
		n = strcspn(p, ", ");
		if (n == 0)
			break;
		if (n == 1 && *p == '*') {
			every = 1;
		} else if ((i = type_index(p, n)) < 0 || strcmp(types[i], test_type) == 0) {
			atr_err_set(err, ATR_E_BAD_REQUEST,
			    i < 0 ? "'%.*s' is not a kind of event (one of revision.committed, "
				    "project.created, project.deleted, lock.taken, lock.released, "
				    "branch.created, branch.deleted, tag.created, tag.deleted, "
				    "user.created, user.deleted, certificate.renewed, "
				    "certificate.expiring, or *)"
				  : "'%.*s' is only sent by the test command; it cannot be asked for",
			    (int)(n > 80 ? 80 : n), p);
			return atr_err_set_field(err, "events");
		} else {
			want[i] = 1;
		}
		any = 1;
		p += n;
	}
	if (every || !any) {
		if (size < 2)
			return atr_err_set(err, ATR_E_INTERNAL, NULL);
		snprintf(out, size, "*");
		return 0;
	}
	out[0] = '\0';
	for (size_t i = 0; i < NTYPES; i++) {
		size_t n = strlen(types[i]);
		if (!want[i])
			continue;
		if (used + n + 2 > size)
			return atr_err_set(err, ATR_E_INTERNAL, NULL);
		if (used > 0)
			out[used++] = ',';
		memcpy(out + used, types[i], n + 1);
		used += n;
	}
	return 0;
}

int
event_kinds_match(const char *kinds, const char *type)
{
	size_t len = strlen(type);

	if (strcmp(type, test_type) == 0)
		return 0;
	if (strcmp(kinds, "*") == 0)
		return event_type_known(type);
	for (const char *p = kinds; *p;) {
		size_t n = strcspn(p, ",");
		if (n == len && memcmp(p, type, n) == 0)
			return 1;
		p += n + (p[n] == ',');
	}
	return 0;
}

char *
event_payload(const char *type, int64_t time_ms, int64_t seq, const char *data)
{
	json_t *d = json_loads(data, JSON_REJECT_DUPLICATES, NULL), *doc;
	time_t secs = (time_t)(time_ms / 1000);
	char stamp[80];
	struct tm tm;
	char *text;

	if (d == NULL || !json_is_object(d) || gmtime_r(&secs, &tm) == NULL) {
		json_decref(d);
		return NULL;
	}
	snprintf(stamp, sizeof(stamp), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
	    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(time_ms % 1000));
	doc = json_pack("{s:s, s:s, s:I, s:o}", "type", type, "timestamp", stamp, "seq",
	    (json_int_t)seq, "data", d);
	if (doc == NULL)
		return NULL;
	text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(doc);
	return text;
}

char *
event_data(const char *fmt, ...)
{
	json_t *o;
	char *text;
	va_list ap;

	va_start(ap, fmt);
	o = json_vpack_ex(NULL, 0, fmt, ap);
	va_end(ap);
	if (o == NULL)
		return NULL;
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return text;
}

void
event_msg_id(char *out)
{
	unsigned char raw[16];

	/* Unpredictable is not needed, unique is: the pool never fails on
	 * Linux, and the counter below keeps ids apart if it ever did. */
	static _Atomic unsigned long counter;
	if (atr_random_bytes(raw, sizeof(raw)) == -1) {
		unsigned long n = ++counter;
		int64_t t = atr_now_ms();
		memset(raw, 0, sizeof(raw));
		memcpy(raw, &t, sizeof(t));
		memcpy(raw + 8, &n, sizeof(n) < 8 ? sizeof(n) : 8);
	}
	memcpy(out, "msg_", 4);
	atr_hex(raw, sizeof(raw), out + 4);
}

char *
event_lock_data(const char *project, const char *branch, const char *const *elements,
    size_t n, const char *holder, const char *released_by, int forced)
{
	json_t *j = json_pack("{s:s, s:s, s:[], s:s}", "project", project, "branch", branch,
	    "elements", "holder", holder != NULL ? holder : "");
	json_t *arr;
	char *text = NULL;

	if (j == NULL)
		return NULL;
	arr = json_object_get(j, "elements");
	for (size_t i = 0; i < n; i++)
		if (json_array_append_new(arr, json_string(elements[i])) == -1)
			goto out;
	if (n == 1 && json_object_set_new(j, "element", json_string(elements[0])) == -1)
		goto out;
	if (released_by != NULL &&
	    (json_object_set_new(j, "released_by", json_string(released_by)) == -1 ||
		json_object_set_new(j, "forced", json_boolean(forced)) == -1))
		goto out;
	text = json_dumps(j, JSON_COMPACT);
out:
	json_decref(j);
	return text;
}
