/* Logging in (a session token) and out. */
#include <string.h>

#include <openssl/evp.h>

#include "atrium/log.h"
#include "atrium/util.h"
#include "server/api.h"
#include "server/logins.h"
#include "server/password.h"
#include "server/sessions.h"
#include "server/runtime.h"

void
api_session_create(struct req *r)
{
	struct atr_err err;
	json_t *body = req_json(r, &err);
	const char *user, *password;
	char hash[PASSWORD_HASH_MAX], token[65], token_hash[65], expires_text[32];
	unsigned char raw[32], md[32];
	struct store_user u;
	struct login_try attempt;
	int64_t expires;
	int found, ok;

	if (body == NULL)
		return resp_err(r, &err);
	user = json_string_value(json_object_get(body, "user"));
	password = json_string_value(json_object_get(body, "password"));
	if (user == NULL || password == NULL)
		return resp_error(r, ATR_E_BAD_REQUEST,
		    "send {\"user\": \"NAME\", \"password\": \"...\"}");
	found = store_user_get(req_store(r), user, &u, hash, sizeof(hash), &err) == 0;
	if (!found && err.code != ATR_E_NOT_FOUND)
		return resp_err(r, &err);
	if (logins_begin(r, &attempt, user, found) == -1)
		return;
	ok = password_verify(password, found ? hash : password_dummy_hash) && found;
	logins_end(r, &attempt, ok);
	if (!ok) {
		atr_warn("failed login for '%s' from %s", user, req_peer(r));
		return resp_error(r, ATR_E_BAD_LOGIN, "wrong user name or password");
	}
	if (atr_random_bytes(raw, sizeof(raw)) == -1)
		return resp_error(r, ATR_E_INTERNAL, "no randomness for a token");
	atr_hex(raw, sizeof(raw), token);
	EVP_Digest(token, 64, md, NULL, EVP_sha256(), NULL);
	atr_hex(md, sizeof(md), token_hash);
	expires = atr_now_ms() / 1000 + (int64_t)atomic_load(&req_runtime(r)->session_hours) * 3600;
	if (store_session_create(req_store(r), token_hash, u.name, expires, &err) == -1) {
		atr_wipe(token, sizeof(token));
		return resp_err(r, &err);
	}
	api_time(expires, expires_text);
	atr_info("'%s' logged in from %s", u.name, req_peer(r));
	resp_json(r, 200, json_pack("{s:s,s:s,s:s,s:s}", "token", token, "user", u.name, "role",
	    u.role, "expires", expires_text));
	atr_wipe(token, sizeof(token));
	atr_wipe(raw, sizeof(raw));
}

void
api_session_delete(struct req *r)
{
	struct atr_err err;
	const char *th = req_token_hash(r);

	if (th == NULL)
		return resp_error(r, ATR_E_BAD_REQUEST,
		    "log out with the bearer token of the session to end");
	session_cache_forget(th);
	if (store_session_delete(req_store(r), th, &err) == -1)
		return resp_err(r, &err);
	atr_info("'%s' logged out", req_user(r)->name);
	resp_empty(r, 204);
}
