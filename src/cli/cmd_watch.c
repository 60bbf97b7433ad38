/*
 * atrium watch [PROJECT] [--json]: the server's live change events
 * (GET /api/v1/events), one line each, until Ctrl-C. A dropped connection
 * is made again with Last-Event-ID, so no event is lost or shown twice.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/buf.h"
#include "cli/cli.h"
#include "cli/client.h"
#include "cli/http.h"
#include "cli/output.h"
#include "cli/url.h"

#define LINE_MAX_BYTES (1024 * 1024) /* one data: line; an event is far smaller */
#define RETRY_MAX_SECONDS 30

enum { WATCH_JSON };

static const struct cli_opt watch_opts[] = {
	[WATCH_JSON] = {"json", 0, NULL, "print each event's JSON on one line"},
	{NULL, 0, NULL, NULL},
};

static const struct cli_usage watch_usage = {
	"atrium watch", "[PROJECT] [--json]",
	"Prints the server's change events as they happen, one line each: time,\n"
	"type, project and a summary (commits, projects, locks; users too for an\n"
	"admin). With PROJECT, only that project's. A dropped connection is made\n"
	"again and resumes after the last event shown. Ctrl-C ends it.",
	watch_opts,
};

/* The summary of each kind: {key} is the data's field. */
static const struct {
	const char *type;
	const char *summary;
} summaries[] = {
	{"revision.committed", "r{revision} by {author}: {message}"},
	{"project.created", "by {created_by}"},
	{"project.deleted", "by {deleted_by}"},
	{"lock.taken", "{element} by {holder}"},
	{"lock.released", "{element} (held by {holder}) by {released_by}"},
	{"user.created", "{user} ({role}) by {created_by}"},
	{"user.deleted", "{user} by {deleted_by}"},
};

struct watch {
	int json;
	int64_t last;       /* the last id shown; -1: none yet */
	struct cli_buf line; /* the line being read */
	char id[32];
	char event[64];
	char *data;         /* the event's data: lines, joined */
	int shown;          /* events shown on this connection */
};

/* Appends the value of data's field key (a string or a number) to out. */
static void
field_text(json_t *data, const char *key, size_t keylen, char *out, size_t n)
{
	char name[64];
	json_t *v;
	size_t used = strlen(out);

	if (keylen >= sizeof(name))
		return;
	memcpy(name, key, keylen);
	name[keylen] = '\0';
	v = json_object_get(data, name);
	if (json_is_string(v))
		snprintf(out + used, n - used, "%s", json_string_value(v));
	else if (json_is_integer(v))
		snprintf(out + used, n - used, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else if (json_is_true(v))
		snprintf(out + used, n - used, "yes");
	else if (json_is_false(v))
		snprintf(out + used, n - used, "no");
	else
		snprintf(out + used, n - used, "-");
}

static void
summarize(const char *type, json_t *data, char *out, size_t n)
{
	const char *f = NULL;
	char *compact;

	out[0] = '\0';
	for (size_t i = 0; i < sizeof(summaries) / sizeof(summaries[0]); i++)
		if (strcmp(summaries[i].type, type) == 0)
			f = summaries[i].summary;
	if (f == NULL) {
		/* A kind this client does not know yet: its data as it is. */
		compact = json_dumps(data, JSON_COMPACT);
		snprintf(out, n, "%s", compact != NULL ? compact : "");
		cli_json_dump_free(compact);
		return;
	}
	while (*f != '\0' && strlen(out) + 1 < n) {
		const char *end = *f == '{' ? strchr(f, '}') : NULL;
		if (end != NULL) {
			field_text(data, f + 1, (size_t)(end - f - 1), out, n);
			f = end + 1;
		} else {
			size_t used = strlen(out);
			out[used] = *f++;
			out[used + 1] = '\0';
		}
	}
}

static void
show(struct watch *w)
{
	json_t *doc = w->data != NULL ? json_loads(w->data, 0, NULL) : NULL;
	char when[64], summary[1024], clean[1024], type[64], project[200];
	const char *p;

	if (strcmp(w->event, "gap") == 0) {
		json_t *why = json_object_get(doc, "reason");
		fprintf(stderr, "atrium: some events may be missing: %s\n",
		    json_is_string(why) ? json_string_value(why) : "the server no longer keeps them");
		json_decref(doc);
		return;
	}
	if (!json_is_object(doc)) {
		json_decref(doc);
		return;
	}
	if (w->json) {
		char *line = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
		if (line != NULL)
			printf("%s\n", line);
		cli_json_dump_free(line);
	} else {
		p = json_string_value(json_object_get(doc, "time"));
		cli_format_time(p != NULL ? p : "", when, sizeof(when));
		cli_sanitize(type, sizeof(type), w->event);
		p = json_string_value(json_object_get(doc, "project"));
		cli_sanitize(project, sizeof(project), p != NULL ? p : "-");
		summarize(w->event, json_object_get(doc, "data"), summary, sizeof(summary));
		cli_sanitize(clean, sizeof(clean), summary);
		printf("%s  %-18s  %-16s  %s\n", when, type, project, clean);
	}
	fflush(stdout);
	w->shown++;
	json_decref(doc);
}

/* One line of the stream (without its line break). */
static void
on_line(struct watch *w, char *line)
{
	char *v;

	if (*line == '\0') {
		/* The end of an event. */
		if (w->event[0] != '\0' || w->data != NULL) {
			if (w->event[0] == '\0')
				snprintf(w->event, sizeof(w->event), "message");
			show(w);
			if (w->id[0] != '\0')
				w->last = strtoll(w->id, NULL, 10);
		}
		w->id[0] = w->event[0] = '\0';
		free(w->data);
		w->data = NULL;
		return;
	}
	if (*line == ':')
		return; /* a comment: the server's keep-alive */
	if ((v = strchr(line, ':')) == NULL)
		return;
	*v++ = '\0';
	if (*v == ' ')
		v++;
	if (strcmp(line, "id") == 0) {
		snprintf(w->id, sizeof(w->id), "%s", v);
	} else if (strcmp(line, "event") == 0) {
		snprintf(w->event, sizeof(w->event), "%s", v);
	} else if (strcmp(line, "data") == 0) {
		char *joined = NULL;
		if (asprintf(&joined, "%s%s%s", w->data != NULL ? w->data : "",
			w->data != NULL ? "\n" : "", v) == -1)
			return;
		free(w->data);
		w->data = joined;
	}
}

static int
on_bytes(const char *data, size_t len, void *arg)
{
	struct watch *w = arg;

	while (len > 0) {
		const char *nl = memchr(data, '\n', len);
		size_t n = nl != NULL ? (size_t)(nl - data) : len;
		char empty[1] = "", *line;

		if (n > 0 && cli_buf_add(&w->line, data, n) == -1)
			return -1;
		if (nl == NULL)
			break;
		line = w->line.p != NULL ? w->line.p : empty;
		if (w->line.len > 0 && line[w->line.len - 1] == '\r')
			line[w->line.len - 1] = '\0';
		on_line(w, line);
		if (w->line.p != NULL) {
			w->line.len = 0;
			w->line.p[0] = '\0';
		}
		data += n + 1;
		len -= n + 1;
	}
	return 0;
}

int
cmd_watch(int argc, char **argv)
{
	struct cli_args a;
	struct cli_ctx c = {0};
	struct cli_reply rep = {0};
	struct atr_err err;
	struct watch w = {.last = -1};
	char *path = NULL, *enc = NULL, header[64];
	int status, rc, wait = 1;

	cli_init();
	if (cli_args_get(&watch_usage, argc, argv, 0, 1, &a, &status) == -1)
		return status;
	w.json = a.val[WATCH_JSON] != NULL;
	w.line.max = LINE_MAX_BYTES;
	if (cli_ctx_open(&c, &err) == -1)
		goto fail;
	if (a.npos == 1) {
		if ((enc = cli_pct_encode(a.pos[0])) == NULL)
			goto nomem;
		if (asprintf(&path, "/api/v1/events?project=%s", enc) == -1) {
			path = NULL;
			goto nomem;
		}
	} else if ((path = strdup("/api/v1/events")) == NULL) {
		goto nomem;
	}
	for (;;) {
		if (w.last >= 0)
			snprintf(header, sizeof(header), "Last-Event-ID: %lld", (long long)w.last);
		w.shown = 0;
		rc = cli_http_stream(c.http, path, w.last >= 0 ? header : NULL, on_bytes, &w, &rep,
		    &err);
		if (rc == 1) {
			status = CLI_OK; /* Ctrl-C */
			goto out;
		}
		/* Refused (not logged in, no such project, ...): say why and stop.
		 * A 503 (too many streams, a server stopping) is worth a retry. */
		if (rc == -1 && rep.status != 0 && rep.status != 503)
			goto fail;
		cli_reply_clear(&rep);
		if (w.shown > 0)
			wait = 1;
		fprintf(stderr, "atrium: the event stream ended%s%s; connecting again in %d s\n",
		    rc == -1 ? ": " : "", rc == -1 ? atr_err_msg(&err) : "", wait);
		/* A partial line belongs to the connection that broke. */
		w.line.len = 0;
		if (w.line.p != NULL)
			w.line.p[0] = '\0';
		w.id[0] = w.event[0] = '\0';
		free(w.data);
		w.data = NULL;
		sleep((unsigned)wait);
		if (wait < RETRY_MAX_SECONDS)
			wait = wait * 2 > RETRY_MAX_SECONDS ? RETRY_MAX_SECONDS : wait * 2;
	}
nomem:
	atr_err_set(&err, ATR_E_NOMEM, NULL);
fail:
	status = cli_fail(&err);
out:
	cli_reply_clear(&rep);
	cli_buf_free(&w.line);
	free(w.data);
	free(path);
	free(enc);
	cli_ctx_close(&c);
	return status;
}
