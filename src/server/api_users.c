/* Users: list, add, delete, change a password (admins; or yourself). */
#include <string.h>

#include "atrium/log.h"
#include "server/api.h"
#include "server/logins.h"
#include "server/password.h"
#include "server/sessions.h"

static json_t *
user_json(const struct store_user *u)
{
	char t[32];

	api_time(u->created, t);
	return json_pack("{s:s,s:s,s:s}", "name", u->name, "role", u->role, "created", t);
}

static int
add_user(const struct store_user *u, void *arg)
{
	return api_listing_add(arg, user_json(u));
}

void
api_users_list(struct req *r)
{
	struct atr_err err;
	struct api_listing l = {json_array(), 0};

	if (store_user_list(req_store(r), add_user, &l, &err) == -1) {
		json_decref(api_listing_take(&l));
		return resp_err(r, &err);
	}
	resp_json(r, 200, json_pack("{s:o}", "users", api_listing_take(&l)));
}

void
api_user_create(struct req *r)
{
	struct atr_err err;
	json_t *body = req_json(r, &err);
	const char *name, *password, *role = "user", *problem;
	char hash[PASSWORD_HASH_MAX];
	struct store_user u;

	if (body == NULL)
		return resp_err(r, &err);
	name = json_string_value(json_object_get(body, "name"));
	password = json_string_value(json_object_get(body, "password"));
	if (json_object_get(body, "role") != NULL)
		role = json_string_value(json_object_get(body, "role"));
	if (name == NULL || password == NULL)
		return resp_error(r, ATR_E_BAD_REQUEST,
		    "send {\"name\": \"NAME\", \"password\": \"...\", \"role\": \"user\"}");
	if (api_new_name(req_store(r), "user", name, &err) == -1)
		return err.code == ATR_E_BAD_NAME || err.code == ATR_E_EXISTS
		    ? resp_field_error(r, "name", err.code, "%s", err.msg) : resp_err(r, &err);
	if (role == NULL || (strcmp(role, "user") != 0 && strcmp(role, "admin") != 0))
		return resp_field_error(r, "role", ATR_E_BAD_REQUEST,
		    "role must be \"user\" or \"admin\"");
	if ((problem = password_weakness(password)) != NULL)
		return resp_field_error(r, "password", ATR_E_BAD_REQUEST, "%s", problem);
	if (password_hash(password, hash, sizeof(hash)) == -1)
		return resp_error(r, ATR_E_INTERNAL, "cannot hash the password");
	if (store_user_create(req_store(r), name, hash, role, req_user(r)->name, &err) == -1)
		return err.code == ATR_E_EXISTS ? resp_field_error(r, "name", err.code, "%s", err.msg)
						: resp_err(r, &err);
	if (store_user_get(req_store(r), name, &u, NULL, 0, &err) == -1)
		return resp_err(r, &err);
	atr_info("'%s' added %s '%s'", req_user(r)->name, role, name);
	resp_json(r, 201, user_json(&u));
}

void
api_user_delete(struct req *r)
{
	struct atr_err err;
	const char *name = req_param(r, 0), *problem;

	if ((problem = api_name_problem(name)) != NULL)
		return resp_error(r, ATR_E_BAD_NAME, "bad user name: %s", problem);
	if (store_user_delete(req_store(r), name, req_user(r)->name, &err) == -1)
		return resp_err(r, &err);
	session_cache_forget_user(name);
	atr_info("'%s' deleted user '%s'", req_user(r)->name, name);
	resp_empty(r, 204);
}

void
api_user_password(struct req *r)
{
	struct atr_err err;
	json_t *body;
	const char *name = req_param(r, 0), *password, *old, *problem;
	char hash[PASSWORD_HASH_MAX];
	struct store_user u;
	struct login_try attempt;
	int self = strcmp(name, req_user(r)->name) == 0, ok;

	if ((problem = api_name_problem(name)) != NULL)
		return resp_error(r, ATR_E_BAD_NAME, "bad user name: %s", problem);
	if (!self && !req_is_admin(r))
		return resp_error(r, ATR_E_FORBIDDEN,
		    "only an admin may change another user's password");
	if ((body = req_json(r, &err)) == NULL)
		return resp_err(r, &err);
	if ((password = json_string_value(json_object_get(body, "password"))) == NULL)
		return resp_error(r, ATR_E_BAD_REQUEST, "send {\"password\": \"...\"}");
	if ((problem = password_weakness(password)) != NULL)
		return resp_field_error(r, "password", ATR_E_BAD_REQUEST, "%s", problem);
	if (self && !req_is_admin(r)) {
		old = json_string_value(json_object_get(body, "old_password"));
		if (old == NULL)
			return resp_error(r, ATR_E_BAD_REQUEST,
			    "to change your own password send \"old_password\" too");
		if (store_user_get(req_store(r), name, &u, hash, sizeof(hash), &err) == -1)
			return resp_err(r, &err);
		/* The old password is a password check like a login: without the
		 * limit a stolen token would let anyone guess it at leisure. */
		if (logins_begin(r, &attempt, u.name, 1) == -1)
			return;
		ok = password_verify(old, hash);
		logins_end(r, &attempt, ok);
		if (!ok) {
			atr_warn("wrong old password for '%s' from %s", u.name, req_peer(r));
			return resp_error(r, ATR_E_FORBIDDEN, "the old password is wrong");
		}
	}
	if (password_hash(password, hash, sizeof(hash)) == -1)
		return resp_error(r, ATR_E_INTERNAL, "cannot hash the password");
	if (store_user_set_password(req_store(r), name, hash, req_token_hash(r), &err) == -1)
		return resp_err(r, &err);
	session_cache_forget_user(name);
	atr_info("'%s' changed the password of '%s'", req_user(r)->name, name);
	resp_empty(r, 204);
}
