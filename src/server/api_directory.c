/*
 * The admin API of directory sign-in (docs/admin-api.md, "Directory"):
 * the directory_* settings (shown, and changed through settings.c like
 * every other setting, applied without a restart) and the test that
 * explains (directory.c). The test blocks on the network: R_SLOW.
 */
#include <stdlib.h>
#include <string.h>

#include "atrium/config.h"
#include "atrium/log.h"
#include "server/adminlog.h"
#include "server/api.h"
#include "server/directory.h"
#include "server/runtime.h"
#include "server/settings.h"

/* The settings this page shows and changes, in the form's order. */
static const char *const keys[] = {
	"directory_urls",
	"directory_bind_dn",
	"directory_bind_password_file",
	"directory_user_base",
	"directory_user_filter",
	"directory_display_name_attr",
	"directory_email_attr",
	"directory_group_base",
	"directory_group_filter",
	"directory_group_map",
	"directory_default_role",
	"directory_ca_file",
	"directory_connect_timeout",
	"directory_read_timeout",
	"directory_login_order",
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

static int
known_key(const char *key)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (strcmp(keys[i], key) == 0)
			return 1;
	return 0;
}

/* {"settings": {key: value}, "enabled": bool} as they are now. */
static json_t *
directory_json(struct req *r, struct atr_err *err)
{
	struct atr_config *cfg = settings_current(req_settings(r), err);
	json_t *settings, *j;

	if (cfg == NULL)
		return NULL;
	settings = json_object();
	for (size_t i = 0; settings != NULL && i < NKEYS; i++) {
		char *v = atr_config_show(cfg, keys[i]);
		json_object_set_new(settings, keys[i], json_string(v != NULL ? v : ""));
		free(v);
	}
	j = json_pack("{s:o,s:b}", "settings", settings, "enabled",
	    atr_config_str(cfg, "directory_urls")[0] != '\0');
	atr_config_free(cfg);
	if (j == NULL)
		atr_err_set(err, ATR_E_NOMEM, NULL);
	return j;
}

/* GET /admin/api/directory */
void
api_directory_get(struct req *r)
{
	struct atr_err err;
	json_t *j = directory_json(r, &err);

	if (j == NULL)
		return resp_err(r, &err);
	resp_json(r, 200, j);
}

/* PUT /admin/api/directory {"settings": {key: "value" | null}}: one change
 * set, applied at once (null: back to the default). */
void
api_directory_put(struct req *r)
{
	struct atr_err err;
	json_t *body = req_json(r, &err), *settings, *v, *j;
	struct settings_change *c;
	const char *key;
	char changed[600] = "";

	if (body == NULL)
		return resp_err(r, &err);
	settings = json_object_get(body, "settings");
	if (!json_is_object(settings) || json_object_size(settings) == 0)
		return resp_error(r, ATR_E_BAD_REQUEST,
		    "send {\"settings\": {\"directory_urls\": \"ldaps://HOST:636\", ...}}");
	json_object_foreach(settings, key, v) {
		if (!known_key(key))
			return resp_error(r, ATR_E_BAD_REQUEST,
			    "'%s' is not a directory setting (directory_urls, directory_bind_dn, ...)",
			    key);
		if (!json_is_string(v) && !json_is_null(v))
			return resp_error(r, ATR_E_BAD_REQUEST, "%s: send a string, or null", key);
	}
	/* A file atriumd cannot read would only show in the log at apply. */
	v = json_object_get(settings, "directory_bind_password_file");
	if (json_is_string(v) && json_string_length(v) > 0 &&
	    directory_check_password_file(req_runtime(r)->datadir, json_string_value(v), &err) == -1)
		return resp_err(r, &err);
	if ((c = settings_begin(req_settings(r))) == NULL)
		return resp_error(r, ATR_E_NOMEM, NULL);
	json_object_foreach(settings, key, v) {
		if (settings_set(c, key, json_string_value(v), &err) == -1) {
			settings_abort(c);
			return resp_err(r, &err);
		}
		snprintf(changed + strlen(changed), sizeof(changed) - strlen(changed), "%s%s",
		    changed[0] ? ", " : "", key);
	}
	if (settings_commit(c, &err) == -1)
		return resp_err(r, &err);
	log_admin(r, "changed the directory settings: %s", changed);
	if ((j = directory_json(r, &err)) == NULL)
		return resp_err(r, &err);
	resp_json(r, 200, j);
}

/* POST /admin/api/directory/test {"user": "NAME"} (user optional) */
void
api_directory_test(struct req *r)
{
	struct atr_err err;
	json_t *body = req_json(r, &err), *ju;
	const char *user = NULL;

	if (body == NULL)
		return resp_err(r, &err);
	ju = json_object_get(body, "user");
	if (ju != NULL && !json_is_null(ju) && !json_is_string(ju))
		return resp_error(r, ATR_E_BAD_REQUEST, "send {\"user\": \"NAME\"} or {}");
	user = json_string_value(ju);
	if (!directory_enabled(req_runtime(r)->directory))
		return resp_error(r, ATR_E_CONFIG,
		    "directory sign-in is off: set directory_urls first");
	log_admin(r, "tested the directory%s%s", user != NULL ? " for " : "",
	    user != NULL ? user : "");
	resp_json(r, 200, directory_test(req_runtime(r)->directory, user));
}
