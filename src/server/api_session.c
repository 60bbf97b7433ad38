/* Logging in (a session token) and out. */
#include <string.h>

#include <openssl/evp.h>

#include "atrium/log.h"
#include "atrium/util.h"
#include "server/api.h"
#include "server/clientcert.h"
#include "server/directory.h"
#include "server/logins.h"
#include "server/password.h"
#include "server/sessions.h"
#include "server/runtime.h"
#include "server/tlsstate.h"

/* A directory login's account, made or refreshed (display name, email,
 * role from the groups): 0, or -1 with r answered. */
static int
sync_directory_user(struct req *r, const char *user, const struct directory_user *du, int found,
    struct store_user *u)
{
	struct atr_err err;
	int created = 0;

	if (!found && api_new_name(req_store(r), "user", user, &err) == -1) {
		atr_warn("directory user '%s' from %s cannot get an account: %s", user, req_peer(r),
		    atr_err_msg(&err));
		resp_err(r, &err);
		return -1;
	}
	if (store_user_sync_directory(req_store(r), user, du->role, du->display_name, du->email,
		atr_now_ms() / 1000, &created, &err) == -1 ||
	    store_user_get(req_store(r), user, u, NULL, 0, &err) == -1) {
		resp_err(r, &err);
		return -1;
	}
	atr_info("directory: %s answered for '%s' (role %s%s)", du->server, user, du->role,
	    created ? "; account created" : "");
	return 0;
}

int
api_login_check(struct req *r, const char *user, const char *password, const char *kind,
    struct store_user *u)
{
	struct directory *d = req_runtime(r)->directory;
	struct store_user_profile prof;
	struct directory_user du;
	struct atr_err err, derr;
	struct login_try attempt;
	char hash[PASSWORD_HASH_MAX];
	int found, dir_account, dir_on, steps[2], ok = 0, decided = 0, down = 0, checked = 0;
	int via_dir = 0;

	if (!atomic_load(&req_runtime(r)->password_login)) {
		atr_warn("%s of '%s' from %s refused: password_login is off", kind, user, req_peer(r));
		resp_error(r, ATR_E_PASSWORD_LOGIN_OFF, "password login is off on this server: log "
		    "in with a client certificate");
		return -1;
	}
	atr_err_clear(&derr);
	found = store_user_get(req_store(r), user, u, hash, sizeof(hash), &err) == 0;
	if (!found && err.code != ATR_E_NOT_FOUND)
		return resp_err(r, &err), -1;
	if (found && store_user_get_profile(req_store(r), user, &prof, &err) == -1) {
		atr_wipe(hash, sizeof(hash));
		return resp_err(r, &err), -1;
	}
	dir_account = found && strcmp(prof.source, "directory") == 0;
	dir_on = d != NULL && directory_enabled(d);
	/* 0: the local password, 1: the directory; in directory_login_order. */
	steps[0] = dir_on && directory_first(d) ? 1 : 0;
	steps[1] = !steps[0];
	if (logins_begin(r, &attempt, user, found) == -1) {
		atr_wipe(hash, sizeof(hash));
		return -1;
	}
	for (int i = 0; i < 2 && !decided; i++) {
		if (steps[i] == 0 && found && !dir_account) {
			/* A local account: its own password decides. */
			ok = password_verify(password, hash);
			decided = checked = 1;
		} else if (steps[i] == 1 && dir_on) {
			if (directory_login(d, user, password, &du, &derr) == 0) {
				ok = decided = via_dir = 1;
			} else if (derr.code == ATR_E_DIRECTORY) {
				atr_warn("directory login of '%s' from %s: %s", user, req_peer(r),
				    atr_err_msg(&derr));
				down = 1;
			} else if (derr.code != ATR_E_NOT_FOUND && derr.code != ATR_E_CONFIG) {
				decided = 1; /* wrong password, refused account */
			}
			checked = 1;
		}
	}
	if (!checked)
		password_verify(password, password_dummy_hash); /* the same time for every name */
	atr_wipe(hash, sizeof(hash));
	/* A directory that could not be asked is not a wrong password. */
	logins_end(r, &attempt, ok || (down && !decided));
	if (ok && via_dir)
		return sync_directory_user(r, user, &du, found, u);
	if (ok)
		return 0;
	if (down && !decided) {
		resp_error(r, ATR_E_DIRECTORY, "%s", atr_err_msg(&derr));
		return -1;
	}
	if (derr.code == ATR_E_FORBIDDEN) {
		atr_warn("directory %s refused for '%s' from %s: %s", kind, user, req_peer(r),
		    atr_err_msg(&derr));
		resp_error(r, ATR_E_FORBIDDEN, "%s", atr_err_msg(&derr));
		return -1;
	}
	if (dir_account && !dir_on)
		atr_warn("failed %s for '%s' from %s: a directory account, and directory sign-in "
			 "is off (directory_urls)", kind, user, req_peer(r));
	else if (dir_account && derr.code == ATR_E_NOT_FOUND)
		atr_warn("failed %s for '%s' from %s: no longer in the directory", kind, user,
		    req_peer(r));
	else if (derr.code == ATR_E_BAD_LOGIN)
		atr_warn("failed %s for '%s' from %s: %s (the directory)", kind, user, req_peer(r),
		    atr_err_msg(&derr));
	else
		atr_warn("failed %s for '%s' from %s", kind, user, req_peer(r));
	resp_error(r, ATR_E_BAD_LOGIN, "wrong user name or password");
	return -1;
}

int
api_cert_login(struct req *r, const char *kind, struct store_user *u)
{
	struct clientcert *cc = tls_state_clientcert(req_runtime(r)->tls);
	struct directory *d = req_runtime(r)->directory;
	X509 *leaf = req_client_cert(r);
	struct clientcert_id id;
	struct directory_user du;
	struct store_user_profile prof;
	struct login_try attempt;
	struct atr_err err;
	int found = 0, ok = 0, rc = -1, dir_account = 0, dir_on = d != NULL && directory_enabled(d);

	if (!clientcert_enabled(cc)) {
		resp_error(r, ATR_E_BAD_REQUEST, "send {\"user\": \"NAME\", \"password\": \"...\"}: "
		    "certificate login is off on this server (client_certificates)");
		goto out;
	}
	if (leaf == NULL) {
		resp_error(r, ATR_E_BAD_REQUEST, "send a password, or connect with a client "
		    "certificate to log in without one");
		goto out;
	}
	if (clientcert_describe(cc, leaf, &id, &err) == -1) {
		atr_warn("certificate %s of %s (serial %s) from %s refused: %s", kind, id.subject,
		    id.serial, req_peer(r), atr_err_msg(&err));
		resp_err(r, &err);
		goto out;
	}
	found = store_user_get(req_store(r), id.user, u, NULL, 0, &err) == 0;
	if (!found && err.code != ATR_E_NOT_FOUND) {
		resp_err(r, &err);
		goto out;
	}
	if (found && store_user_get_profile(req_store(r), id.user, &prof, &err) == -1) {
		resp_err(r, &err);
		goto out;
	}
	dir_account = found && strcmp(prof.source, "directory") == 0;
	if (logins_begin(r, &attempt, id.user, found) == -1)
		goto out;
	if (clientcert_verify(cc, leaf, req_client_chain(r), req_runtime(r)->outbound,
		atr_now_ms() / 1000, &err) == -1) {
		logins_end(r, &attempt, 0);
		atr_warn("certificate %s as '%s' from %s refused: %s (subject %s, serial %s)", kind,
		    id.user, req_peer(r), atr_err_msg(&err), id.subject, id.serial);
		resp_err(r, &err);
		goto out;
	}
	/* A directory account is asked again (removed or moved out of every
	 * group: refused), as at a password login. */
	if ((!found || dir_account) && dir_on) {
		if (directory_login(d, id.user, NULL, &du, &err) == 0) {
			logins_end(r, &attempt, 1);
			if (sync_directory_user(r, id.user, &du, found, u) == -1)
				goto out;
			ok = 1;
		} else if (err.code == ATR_E_DIRECTORY || err.code == ATR_E_FORBIDDEN) {
			logins_end(r, &attempt, err.code == ATR_E_DIRECTORY);
			atr_warn("certificate %s as '%s' from %s: %s (subject %s, serial %s)", kind,
			    id.user, req_peer(r), atr_err_msg(&err), id.subject, id.serial);
			resp_err(r, &err);
			goto out;
		}
	} else if (found && !dir_account) {
		logins_end(r, &attempt, 1);
		ok = 1;
	}
	if (!ok && found) {
		logins_end(r, &attempt, 0);
		atr_warn("certificate %s as '%s' from %s refused: a directory account %s (subject %s, "
			 "serial %s)", kind, id.user, req_peer(r), dir_on ? "no longer in the directory" :
		    "and directory sign-in is off", id.subject, id.serial);
		resp_error(r, ATR_E_CLIENT_CERT_NO_USER, "'%s' is a directory account %s", id.user,
		    dir_on ? "that the directory no longer has" :
			     "and directory sign-in is off (directory_urls)");
		goto out;
	}
	if (!ok) {
		logins_end(r, &attempt, 0);
		atr_warn("certificate %s from %s refused: no user '%s' (subject %s, serial %s, "
			 "client_cert_user)", kind, req_peer(r), id.user, id.subject, id.serial);
		resp_error(r, ATR_E_CLIENT_CERT_NO_USER,
		    "no user for this certificate: client_cert_user made the name '%s' from %s, and "
		    "there is no such user", id.user, id.subject);
		goto out;
	}
	atr_info("certificate %s as '%s' from %s (subject %s, serial %s)", kind, u->name,
	    req_peer(r), id.subject, id.serial);
	rc = 0;
out:
	clientcert_unref(cc);
	return rc;
}

void
api_session_create(struct req *r)
{
	struct atr_err err;
	json_t *body = req_json(r, &err);
	const char *user, *password;
	char token[65], token_hash[65], expires_text[32];
	unsigned char raw[32], md[32];
	struct store_user u;
	int64_t expires;

	if (body == NULL)
		return resp_err(r, &err);
	user = json_string_value(json_object_get(body, "user"));
	password = json_string_value(json_object_get(body, "password"));
	if (password == NULL) {
		/* No password: the connection's client certificate. */
		if (api_cert_login(r, "login", &u) == -1)
			return;
	} else if (user == NULL) {
		return resp_error(r, ATR_E_BAD_REQUEST,
		    "send {\"user\": \"NAME\", \"password\": \"...\"}");
	} else if (api_login_check(r, user, password, "login", &u) == -1) {
		return;
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
