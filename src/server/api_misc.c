/* Health, server information, names and times. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "atrium/log.h"
#include "atrium/util.h"
#include "server/api.h"
#include "server/names.h"
#include "server/runtime.h"
#include "server/tlsstate.h"
#include "version.h"

int
api_listing_add(struct api_listing *l, json_t *item)
{
	if (l->items == NULL || item == NULL || json_array_append_new(l->items, item) == -1) {
		l->broken = 1;
		return -1;
	}
	return 0;
}

json_t *
api_listing_take(struct api_listing *l)
{
	json_t *items = l->items;

	l->items = NULL;
	if (l->broken) {
		json_decref(items);
		return NULL;
	}
	return items;
}

const char *
api_name_problem(const char *name)
{
	size_t len = strlen(name);
	const unsigned char *p = (const unsigned char *)name;

	if (len == 0)
		return "the name is empty";
	if (len > STORE_NAME_MAX)
		return "the name is longer than 64 bytes";
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return "'.' and '..' are not allowed as names";
	if (name[0] == ' ' || name[len - 1] == ' ')
		return "the name starts or ends with a space";
	/* UTF-8 without any control character: the name travels in JSON,
	 * URLs and file listings. */
	if (atr_text_problem(name, len, NULL, NULL) != NULL)
		return atr_utf8_valid(name, len) ? "the name contains a control character"
						 : "the name is not valid UTF-8";
	for (; *p; p++)
		if (*p == '/' || *p == '\\')
			return "the name contains '/' or '\\'";
	return NULL;
}

/* A look-alike search: the new name's skeletons (unfolded, case-folded)
 * against each stored name's. */
struct lookalike {
	const char *name;
	char skel[2][NAME_SKELETON_MAX], other[NAME_SKELETON_MAX];
	char found[STORE_NAME_MAX + 1];
};

static int
compare_name(const char *stored, struct lookalike *la)
{
	/* The same name is the store's "exists"; an old name whose skeleton
	 * cannot be computed cannot be confused by ICU either. */
	if (strcmp(stored, la->name) == 0)
		return 0;
	for (int fold = 0; fold < 2; fold++) {
		if (name_skeleton(stored, fold, la->other, sizeof(la->other)) == 0 &&
		    strcmp(la->skel[fold], la->other) == 0) {
			snprintf(la->found, sizeof(la->found), "%s", stored);
			return 1;
		}
	}
	return 0;
}

static int
compare_user(const struct store_user *u, void *arg)
{
	return compare_name(u->name, arg);
}

static int
compare_project(const struct store_project *p, void *arg)
{
	return compare_name(p->name, arg);
}

int
api_new_name(struct store_conn *sc, const char *kind, const char *name, struct atr_err *err)
{
	struct lookalike *la;
	const char *problem = api_name_problem(name);
	int rc;

	if (problem == NULL)
		problem = name_problem(name);
	if (problem != NULL)
		return atr_err_set(err, ATR_E_BAD_NAME, "bad %s name: %s", kind, problem);
	/* Three skeleton buffers: kept off the event thread's stack. */
	if ((la = calloc(1, sizeof(*la))) == NULL)
		return atr_err_set(err, ATR_E_NOMEM, NULL);
	la->name = name;
	if (name_skeleton(name, 0, la->skel[0], sizeof(la->skel[0])) == -1 ||
	    name_skeleton(name, 1, la->skel[1], sizeof(la->skel[1])) == -1) {
		free(la);
		return atr_err_set(err, ATR_E_BAD_NAME, "bad %s name: it cannot be compared with "
		    "the existing names", kind);
	}
	rc = strcmp(kind, "user") == 0 ? store_user_list(sc, compare_user, la, err)
				       : store_project_list(sc, compare_project, la, err);
	if (rc == 0 && la->found[0] != '\0')
		rc = atr_err_set(err, ATR_E_EXISTS, "the %s name '%s' looks like the existing %s "
		    "'%s'; choose a name that cannot be mistaken for it", kind, name, kind, la->found);
	free(la);
	return rc;
}

void
api_time(int64_t t, char *out)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static json_t *
listeners_json(const struct runtime *rt)
{
	static const char *const names[LK__COUNT] = {"plain", "tls", "admin"};
	json_t *arr = json_array();

	for (int k = 0; k < LK__COUNT; k++) {
		int port = atomic_load(&rt->ports[k]);
		if (port == 0)
			continue;
		json_array_append_new(arr, json_pack("{s:s,s:i,s:b}", "name", names[k], "port", port,
		    "tls", k != LK_PLAIN));
	}
	return arr;
}

/* What the deliverer last saw: counts by state, and every paused or
 * disabled integration with its reason (never silently). */
static json_t *
integrations_json(struct runtime *rt)
{
	json_t *attention;

	pthread_mutex_lock(&rt->integrations_mu);
	attention = json_loads(rt->integrations_attention, 0, NULL);
	pthread_mutex_unlock(&rt->integrations_mu);
	return json_pack("{s:i,s:i,s:i,s:o}", "active", atomic_load(&rt->integrations_active),
	    "paused", atomic_load(&rt->integrations_paused), "disabled",
	    atomic_load(&rt->integrations_disabled), "attention",
	    attention != NULL ? attention : json_array());
}

void
api_health(struct req *r)
{
	struct runtime *rt = req_runtime(r);
	struct tls_info info;
	json_t *j = json_pack("{s:s,s:o,s:I}", "status", "ok", "listeners", listeners_json(rt),
	    "uptime_seconds", (json_int_t)(atr_now_ms() / 1000 - rt->started));

	if (j != NULL)
		json_object_set_new(j, "integrations", integrations_json(rt));
	if (j != NULL && tls_state_info(rt->tls, &info) == 0) {
		char t[32];
		api_time(info.not_after, t);
		json_object_set_new(j, "certificate",
		    json_pack("{s:s,s:s,s:I,s:b,s:b}", "subject", info.subject, "expires", t,
			"days_left", (json_int_t)((info.not_after - atr_now_ms() / 1000) / 86400),
			"local_ca", info.from_local_ca, "weak_password", info.weak_password));
	}
	resp_json(r, 200, j);
}

void
api_metrics(struct req *r)
{
	static const char *const kinds[LK__COUNT] = {"plain", "tls", "admin"};
	static const char *const reasons[HF__COUNT] = {
#define HF_LABEL_(name, label) label,
		HANDSHAKE_FAILURES(HF_LABEL_)
#undef HF_LABEL_
	};
	static const char *const outcomes[DO__COUNT] = {
#define DO_LABEL_(name, label) label,
		DELIVERY_OUTCOMES(DO_LABEL_)
#undef DO_LABEL_
	};
	const struct runtime *rt = req_runtime(r);
	struct tls_info info;
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	if (out == NULL)
		return resp_error(r, ATR_E_NOMEM, NULL);
	fputs("# HELP atrium_connections_total Connections accepted, by listener.\n"
	      "# TYPE atrium_connections_total counter\n", out);
	for (int k = 0; k < LK__COUNT; k++)
		fprintf(out, "atrium_connections_total{listener=\"%s\"} %llu\n", kinds[k],
		    (unsigned long long)atomic_load(&rt->accepted[k]));
	fprintf(out, "# HELP atrium_connections_refused_total Connections refused: max_connections were open.\n"
		     "# TYPE atrium_connections_refused_total counter\n"
		     "atrium_connections_refused_total %llu\n"
		     "# HELP atrium_requests_timed_out_total Requests dropped with 408: headers "
		     "past header_timeout or an upload stalled past upload_stall_timeout.\n"
		     "# TYPE atrium_requests_timed_out_total counter\n"
		     "atrium_requests_timed_out_total %llu\n",
	    (unsigned long long)atomic_load(&rt->refused),
	    (unsigned long long)atomic_load(&rt->timed_out));
	fprintf(out, "# HELP atrium_open_connections Connections open now.\n"
		     "# TYPE atrium_open_connections gauge\n"
		     "atrium_open_connections %d\n"
		     "# HELP atrium_event_streams Live change streams open now (GET /api/v1/events).\n"
		     "# TYPE atrium_event_streams gauge\n"
		     "atrium_event_streams %d\n",
	    atomic_load(&rt->open_conns), atomic_load(&rt->event_watchers));
	fprintf(out, "# HELP atrium_tls_handshakes_total TLS handshakes completed.\n"
		     "# TYPE atrium_tls_handshakes_total counter\n"
		     "atrium_tls_handshakes_total{resumed=\"false\"} %llu\n"
		     "atrium_tls_handshakes_total{resumed=\"true\"} %llu\n",
	    (unsigned long long)(atomic_load(&rt->handshakes) -
		atomic_load(&rt->handshakes_resumed)),
	    (unsigned long long)atomic_load(&rt->handshakes_resumed));
	fputs("# HELP atrium_tls_handshake_failures_total TLS handshakes that failed, by reason.\n"
	      "# TYPE atrium_tls_handshake_failures_total counter\n", out);
	for (int i = 0; i < HF__COUNT; i++)
		fprintf(out, "atrium_tls_handshake_failures_total{reason=\"%s\"} %llu\n", reasons[i],
		    (unsigned long long)atomic_load(&rt->handshake_failures[i]));
	fputs("# HELP atrium_http_responses_total HTTP responses, by status class.\n"
	      "# TYPE atrium_http_responses_total counter\n", out);
	for (int i = 1; i <= 5; i++)
		fprintf(out, "atrium_http_responses_total{code=\"%dxx\"} %llu\n", i,
		    (unsigned long long)atomic_load(&rt->responses[i]));
	fputs("# HELP atrium_webhook_deliveries_total Integration delivery attempts, by outcome.\n"
	      "# TYPE atrium_webhook_deliveries_total counter\n", out);
	for (int i = 0; i < DO__COUNT; i++)
		fprintf(out, "atrium_webhook_deliveries_total{outcome=\"%s\"} %llu\n", outcomes[i],
		    (unsigned long long)atomic_load(&rt->deliveries[i]));
	fprintf(out, "# HELP atrium_integrations Integrations, by state (paused and disabled ones "
		     "need an administrator: see /healthz).\n"
		     "# TYPE atrium_integrations gauge\n"
		     "atrium_integrations{state=\"active\"} %d\n"
		     "atrium_integrations{state=\"paused\"} %d\n"
		     "atrium_integrations{state=\"disabled\"} %d\n",
	    atomic_load(&rt->integrations_active), atomic_load(&rt->integrations_paused),
	    atomic_load(&rt->integrations_disabled));
	if (tls_state_info(rt->tls, &info) == 0)
		fprintf(out,
		    "# HELP atrium_tls_certificate_expiry_timestamp_seconds When the served "
		    "certificate expires.\n"
		    "# TYPE atrium_tls_certificate_expiry_timestamp_seconds gauge\n"
		    "atrium_tls_certificate_expiry_timestamp_seconds %lld\n"
		    "# HELP atrium_tls_keystore_weak_password 1 when the served keystore's "
		    "password is a well-known one (re-protect it).\n"
		    "# TYPE atrium_tls_keystore_weak_password gauge\n"
		    "atrium_tls_keystore_weak_password %d\n",
		    (long long)info.not_after, info.weak_password ? 1 : 0);
	fclose(out);
	resp_text(r, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
	free(text);
}

void
api_server_info(struct req *r)
{
	const struct runtime *rt = req_runtime(r);

	resp_json(r, 200, json_pack("{s:s,s:s,s:o}", "name", "Atrium", "version", ATRIUM_VERSION,
	    "listeners", listeners_json(rt)));
}
