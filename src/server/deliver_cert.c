/*
 * certificate.renewed and certificate.expiring (deliver_int.h): the
 * deliverer looks at the served certificate when it starts, hourly, and
 * whenever the one served changes (a reload, a renewal: it compares the
 * fingerprint every few seconds).
 *
 * What was already said is kept in DIR/tls/certificate-events.json
 * ({"sha256": served certificate, "expiring": [thresholds sent for it]}),
 * so that each threshold (30, 7 and 1 days left) is sent once per
 * certificate, restarts included. A certificate first seen with less time
 * left than several thresholds gets one event, for the smallest of them.
 * A different certificate than the one recorded is certificate.renewed
 * (the first start records without an event: there is no "before").
 * With several nodes on one database each node says this of the
 * certificate it serves.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "atrium/log.h"
#include "atrium/util.h"
#include "server/deliver_int.h"
#include "server/runtime.h"
#include "server/store.h"
#include "server/tlsstate.h"

#define STATE_FILE "tls/certificate-events.json"

static const int thresholds[] = {30, 7, 1}; /* days left, largest first */

static void
rfc3339(int64_t t, char out[32])
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int
emit(struct store_conn *sc, const char *type, json_t *data, int64_t now_ms)
{
	char *text = json_dumps(data, JSON_COMPACT);
	struct atr_err err;
	int rc = -1;

	if (text != NULL && (rc = store_event_add(sc, type, NULL, text, now_ms, &err)) == -1)
		atr_warn("%s event not written (tried again in an hour): %s", type, atr_err_msg(&err));
	free(text);
	json_decref(data);
	return rc;
}

int
deliver_cert_check(struct runtime *rt, struct store_conn *sc, int64_t now_ms, char *seen,
    size_t seen_size, int force)
{
	struct tls_info *info = calloc(1, sizeof(*info));
	char path[4096], after[32];
	json_t *state = NULL, *sent;
	const char *known;
	int64_t left;
	int changed = 0, below = -1, looked = 0;
	struct atr_err err;

	if (info == NULL || tls_state_info(rt->tls, info) == -1)
		goto out;
	if (!force && strcmp(seen, info->sha256) == 0)
		goto out;
	looked = 1;
	snprintf(path, sizeof(path), "%s/%s", rt->datadir, STATE_FILE);
	if ((state = json_load_file(path, 0, NULL)) == NULL || !json_is_object(state)) {
		json_decref(state);
		state = json_pack("{s:s,s:[]}", "sha256", info->sha256, "expiring");
		changed = 1;
	}
	known = json_string_value(json_object_get(state, "sha256"));
	rfc3339(info->not_after, after);
	if (known == NULL || strcmp(known, info->sha256) != 0) {
		char before[32];
		rfc3339(info->not_before, before);
		if (emit(sc, "certificate.renewed", json_pack("{s:s,s:s,s:s,s:s,s:s?}", "subject",
			info->subject, "sha256", info->sha256, "not_before", before, "not_after", after,
			"previous_sha256", known), now_ms) == -1)
			goto out;
		json_object_set_new(state, "sha256", json_string(info->sha256));
		json_object_set_new(state, "expiring", json_array());
		changed = 1;
	}
	if (!json_is_array(sent = json_object_get(state, "expiring"))) {
		json_object_set_new(state, "expiring", json_array());
		sent = json_object_get(state, "expiring");
	}
	left = info->not_after - now_ms / 1000;
	for (size_t i = 0; i < sizeof(thresholds) / sizeof(thresholds[0]); i++)
		if (left <= thresholds[i] * 86400LL)
			below = (int)i; /* the smallest threshold reached */
	if (below >= 0) {
		int done = 0;
		size_t k;
		json_t *v;
		json_array_foreach(sent, k, v)
			if (json_integer_value(v) <= thresholds[below])
				done = 1;
		if (!done) {
			if (emit(sc, "certificate.expiring", json_pack("{s:s,s:s,s:s,s:I,s:i}", "subject",
				info->subject, "sha256", info->sha256, "not_after", after, "days_left",
				(json_int_t)(left > 0 ? left / 86400 : 0), "threshold",
				thresholds[below]), now_ms) == -1)
				goto out;
			for (int i = 0; i <= below; i++)
				json_array_append_new(sent, json_integer(thresholds[i]));
			changed = 1;
		}
	}
	snprintf(seen, seen_size, "%s", info->sha256);
	if (changed) {
		char *text = json_dumps(state, JSON_COMPACT);
		if (text == NULL || atr_write_file_atomic(path, text, strlen(text), 0600, &err) == -1)
			atr_warn("cannot record the certificate events sent in %s: %s", path,
			    text == NULL ? "out of memory" : atr_err_msg(&err));
		free(text);
	}
out:
	json_decref(state);
	free(info);
	return looked;
}
