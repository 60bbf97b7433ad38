/*
 * GET /api/v1/events: a live change stream (docs/api.md "Change events").
 * The handler only checks what was asked; the connection then belongs to
 * the change streams' hub (evstream.h).
 */
#include <errno.h>
#include <stdlib.h>

#include "server/api.h"

/* A non-negative event id from text; -1 when it is not one. */
static int64_t
event_id(const char *text)
{
	char *end;
	long long v;

	if (text == NULL || *text < '0' || *text > '9')
		return -1;
	errno = 0;
	v = strtoll(text, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	return v;
}

void
api_events_stream(struct req *r)
{
	const char *project = req_query(r, "project");
	const char *after = req_header(r, "Last-Event-ID");
	const char *which = "Last-Event-ID";
	struct store_project p;
	struct atr_err err;
	int64_t from = -1;

	/* The header is what a reconnecting client sends: it wins. */
	if (after == NULL || *after == '\0') {
		after = req_query(r, "after");
		which = "after";
	}
	if (after != NULL && (from = event_id(after)) < 0)
		return resp_error(r, ATR_E_BAD_REQUEST,
		    "%s must be an event id (a number from a stream's id: lines)", which);
	if (project != NULL && *project != '\0') {
		const char *why = api_name_problem(project);
		if (why != NULL)
			return resp_error(r, ATR_E_BAD_REQUEST, "project: %s", why);
		if (store_project_get(req_store(r), project, &p, &err) == -1)
			return resp_err(r, &err);
	}
	resp_event_stream(r, project, from);
}
