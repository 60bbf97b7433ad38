/*
 * The admin console's JSON API (docs/admin-api.md): login with a cookie and
 * a CSRF token, settings that apply at once, the certificate, downloads.
 * Users and projects reuse the API's handlers.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdarg.h>

#include "atrium/config.h"
#include "atrium/keystore.h"
#include "atrium/log.h"
#include "atrium/util.h"
#include "server/api.h"
#include "server/logins.h"
#include "server/password.h"
#include "server/server_int.h"
#include "server/server.h"
#include "server/sessions.h"
#include "server/web_assets.h"

#define KEYSTORE_MAX (1024 * 1024)

/* ---- sessions in a cookie */

static void
log_admin(struct req *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
log_admin(struct req *r, const char *fmt, ...)
{
	char what[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	atr_info("admin '%s' from %s: %s", req_user(r) ? req_user(r)->name : "?", req_peer(r),
	    what);
}

void
api_admin_login(struct req *r)
{
	struct atr_err err;
	json_t *body = req_json(r, &err);
	const char *user, *password;
	char hash[PASSWORD_HASH_MAX], token[65], token_hash[65], csrf[33], cookie[200];
	unsigned char raw[32], md[32];
	struct store_user u;
	struct login_try attempt;
	int64_t now = atr_now_ms() / 1000;
	int found, ok;

	if (body == NULL)
		return resp_err(r, &err);
	user = json_string_value(json_object_get(body, "user"));
	password = json_string_value(json_object_get(body, "password"));
	if (user == NULL || password == NULL)
		return resp_error(r, ATR_E_BAD_REQUEST, "send {\"user\": \"NAME\", \"password\": \"...\"}");
	found = store_user_get(req_store(r), user, &u, hash, sizeof(hash), &err) == 0;
	if (!found && err.code != ATR_E_NOT_FOUND)
		return resp_err(r, &err);
	if (logins_begin(r, &attempt, user, found) == -1)
		return;
	ok = password_verify(password, found ? hash : password_dummy_hash) && found;
	logins_end(r, &attempt, ok);
	if (!ok) {
		atr_warn("failed admin login for '%s' from %s", user, req_peer(r));
		return resp_error(r, ATR_E_BAD_LOGIN, "wrong user name or password");
	}
	if (strcmp(u.role, "admin") != 0) {
		atr_warn("admin login refused for '%s' from %s: not an admin", user, req_peer(r));
		return resp_error(r, ATR_E_FORBIDDEN,
		    "only admins may use the console; '%s' is not an admin", u.name);
	}
	if (atr_random_bytes(raw, sizeof(raw)) == -1)
		return resp_error(r, ATR_E_INTERNAL, "no randomness for a session");
	atr_hex(raw, sizeof(raw), token);
	EVP_Digest(token, 64, md, NULL, EVP_sha256(), NULL);
	atr_hex(md, sizeof(md), token_hash);
	if (store_session_create(req_store(r), token_hash, u.name,
		now + (int64_t)atomic_load(&req_runtime(r)->session_hours) * 3600, &err) == -1) {
		atr_wipe(token, sizeof(token));
		return resp_err(r, &err);
	}
	session_csrf(token, csrf);
	snprintf(cookie, sizeof(cookie),
	    "atrium_admin=%s; Secure; HttpOnly; SameSite=Strict; Path=/; Max-Age=%d", token,
	    atomic_load(&req_runtime(r)->session_hours) * 3600);
	resp_json(r, 200, json_pack("{s:s,s:s}", "user", u.name, "csrf", csrf));
	resp_header(r, "Set-Cookie", cookie);
	atr_wipe(token, sizeof(token));
	atr_wipe(cookie, sizeof(cookie));
	atr_info("admin '%s' logged in to the console from %s", u.name, req_peer(r));
}

void
api_admin_logout(struct req *r)
{
	struct atr_err err;

	if (req_token_hash(r) != NULL)
		session_cache_forget(req_token_hash(r));
	if (req_token_hash(r) != NULL &&
	    store_session_delete(req_store(r), req_token_hash(r), &err) == -1)
		return resp_err(r, &err);
	resp_empty(r, 204);
	resp_header(r, "Set-Cookie",
	    "atrium_admin=; Secure; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
	log_admin(r, "logged out");
}

void
api_admin_session(struct req *r)
{
	resp_json(r, 200, json_pack("{s:s,s:s}", "user", req_user(r)->name, "csrf",
	    req_csrf(r)));
}

/* ---- settings */

/* path relative to the data directory when it is inside it. */
static const char *
relative_to(const char *datadir, const char *path)
{
	size_t n = strlen(datadir);

	if (strncmp(path, datadir, n) == 0 && path[n] == '/')
		return path + n + 1;
	return path;
}

static json_t *
certificate_json(const struct tls_info *info, const char *datadir)
{
	char nb[32], na[32];
	json_t *sans = json_array(), *warnings = json_array();
	char copy[2048], *tok, *save = NULL;
	const char *datadir_rel;

	api_time(info->not_before, nb);
	api_time(info->not_after, na);
	snprintf(copy, sizeof(copy), "%s", info->sans);
	for (tok = strtok_r(copy, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		while (*tok == ' ')
			tok++;
		json_array_append_new(sans, json_string(tok));
	}
	snprintf(copy, sizeof(copy), "%s", info->warnings);
	for (tok = strtok_r(copy, "\n", &save); tok != NULL; tok = strtok_r(NULL, "\n", &save))
		json_array_append_new(warnings, json_string(tok));
	datadir_rel = relative_to(datadir, info->source);
	return json_pack("{s:s,s:s,s:o,s:s,s:s,s:I,s:s,s:b,s:b,s:s,s:s,s:o}", "subject",
	    info->subject, "issuer", info->issuer, "sans", sans, "not_before", nb, "not_after", na,
	    "days_left", (json_int_t)((info->not_after - atr_now_ms() / 1000) / 86400), "sha256",
	    info->sha256, "from_local_ca", info->from_local_ca, "self_signed", info->self_signed,
	    "ca_sha256", info->ca_sha256, "source", datadir_rel, "warnings", warnings);
}

static json_t *
settings_json(struct server *srv)
{
	struct tls_info info;
	int have = tls_state_info(srv->rt.tls, &info) == 0;
	json_t *keystore = json_null(), *cert = json_null(), *listeners = json_array();
	static const char *const names[LK__COUNT] = {"plain", "tls", "admin"};
	struct atr_config *cfg;
	struct atr_err err;
	int64_t tls_port = 10002, plain_port = 3579, admin_port = 8443;

	/* The ports in use, or (when closed) the ones the settings name. */
	if ((cfg = server_load_config(srv->datadir, srv->overrides, CONF_REQUIRED, &err)) != NULL) {
		tls_port = atr_config_int(cfg, "tls_port");
		plain_port = atr_config_int(cfg, "port");
		admin_port = atr_config_int(cfg, "admin_port");
		atr_config_free(cfg);
	}
	if (have && info.own_keystore)
		keystore = json_pack("{s:s,s:s,s:s}", "file", relative_to(srv->datadir, info.source), "format",
		    info.format, "alias", info.alias);
	if (have)
		cert = certificate_json(&info, srv->datadir);
	for (int k = 0; k < LK__COUNT; k++) {
		int port = atomic_load(&srv->rt.ports[k]);
		if (port != 0)
			json_array_append_new(listeners, json_pack("{s:s,s:i,s:b}", "name", names[k],
			    "port", port, "tls", k != LK_PLAIN));
	}
	return json_pack("{s:{s:b,s:I,s:o},s:{s:b,s:I},s:I,s:o,s:o}", "tls", "enabled",
	    atomic_load(&srv->rt.ports[LK_TLS]) != 0, "port",
	    (json_int_t)(atomic_load(&srv->rt.ports[LK_TLS]) ? atomic_load(&srv->rt.ports[LK_TLS]) : tls_port),
	    "keystore", keystore, "plain", "enabled", atomic_load(&srv->rt.ports[LK_PLAIN]) != 0, "port",
	    (json_int_t)(atomic_load(&srv->rt.ports[LK_PLAIN]) ? atomic_load(&srv->rt.ports[LK_PLAIN])
							   : plain_port),
	    "admin_port",
	    (json_int_t)(atomic_load(&srv->rt.ports[LK_ADMIN]) ? atomic_load(&srv->rt.ports[LK_ADMIN])
							   : admin_port),
	    "listeners", listeners, "certificate", cert);
}

void
api_admin_settings(struct req *r)
{
	resp_json(r, 200, settings_json(req_server(r)));
}

void
api_admin_certificate(struct req *r)
{
	struct tls_info info;

	if (tls_state_info(req_runtime(r)->tls, &info) == -1)
		return resp_error(r, ATR_E_NOT_FOUND, "no certificate is loaded");
	resp_json(r, 200, certificate_json(&info, req_server(r)->datadir));
}

/* The keystore code keeps Java keytool's words, which atrium keytool must
 * print; an administrator gets the error table's sentence instead, with
 * whatever detail followed Java's words. */
static const struct {
	enum atr_errcode code;
	const char *java;
} java_words[] = {
	{ATR_E_KS_KEY_PASSWORD, "Cannot recover key"},
	{ATR_E_KS_FORMAT, "Unrecognized keystore format"},
};

static void
unjava(const struct atr_err *err, char *out, size_t size)
{
	const char *msg = atr_err_msg(err);

	for (size_t i = 0; i < sizeof(java_words) / sizeof(java_words[0]); i++) {
		size_t n = strlen(java_words[i].java);

		if (err->code == java_words[i].code && strncmp(msg, java_words[i].java, n) == 0) {
			snprintf(out, size, "%s%s", atr_errcode_text(err->code), msg + n);
			return;
		}
	}
	snprintf(out, size, "%s", msg);
}

/* A refusal about one field of the form. */
static void
field_error(struct req *r, const char *field, const struct atr_err *err)
{
	char msg[ATR_ERR_MSG_MAX];
	json_t *j;

	unjava(err, msg, sizeof(msg));
	j = json_pack("{s:s,s:s,s:s}", "error", msg, "code", atr_errcode_name(err->code), "field",
	    field);

	resp_json(r, atr_errcode_http(err->code) >= 500 ? 500 : 400, j);
}

/* Which field an error from loading or checking a keystore belongs to. */
static const char *
field_of(const struct atr_err *err)
{
	switch (err->code) {
	case ATR_E_KS_PASSWORD:
	case ATR_E_KS_KEY_PASSWORD:
		return "password";
	case ATR_E_KS_NO_ENTRY:
		return "alias";
	default:
		return "keystore";
	}
}

struct change {
	const char *key;
	const char *value; /* NULL: remove */
};

/* The sentence without "tls_keystore PATH: ": the path is ours, not the
 * administrator's, who knows the file by the name it was uploaded as. */
static void
strip_path(struct atr_err *err)
{
	char *colon;

	if (strncmp(err->msg, "tls_keystore ", 13) == 0 && (colon = strstr(err->msg, ": ")) != NULL)
		memmove(err->msg, colon + 2, strlen(colon + 2) + 1);
}

/* Checks the certificate the changed settings would serve, without
 * serving it. */
static int
check_candidate(struct req *r, const struct change *changes, size_t n, struct atr_err *err)
{
	struct server *srv = req_server(r);
	struct atr_config *cfg = server_load_config(srv->datadir, srv->overrides, CONF_REQUIRED, err);
	int rc = -1;

	if (cfg == NULL)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (atr_config_set(cfg, changes[i].key, changes[i].value ? changes[i].value : "",
			"console", err) == -1)
			goto out;
	rc = tls_state_check(srv->rt.tls, cfg, NULL, err);
out:
	atr_config_free(cfg);
	return rc;
}

/* Removes uploaded keystores (tls/keystore-*) other than keep. */
static void
remove_old_uploads(const char *datadir, const char *keep)
{
	char dir[4200], path[4500];
	DIR *d;
	struct dirent *de;

	snprintf(dir, sizeof(dir), "%s/tls", datadir);
	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, "keystore-", 9) != 0)
			continue;
		if (keep != NULL && strncmp(de->d_name, keep, strlen(keep)) == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		unlink(path);
	}
	closedir(d);
}

/* A setting fixed by a command-line flag cannot be changed from here. */
static int
fixed_by_flag(struct req *r, const char *key, const char *flag, const char *field)
{
	struct atr_err err;

	if (!atr_config_is_set(req_server(r)->overrides, key))
		return 0;
	atr_err_set(&err, ATR_E_CONFIG,
	    "atriumd was started with %s, which fixes this setting; restart it without %s to "
	    "change it here",
	    flag, flag);
	field_error(r, field, &err);
	return 1;
}

/*
 * Writes changes into atrium.conf and applies them. On any failure the
 * file is put back as it was and err says why. Runs on the job pool.
 */
static int
apply_changes(struct req *r, const struct change *changes, size_t n, struct atr_err *err)
{
	struct server *srv = req_server(r);
	unsigned char *old = NULL;
	size_t oldlen = 0;
	struct atr_err rerr;
	int had = 1, rc = -1;

	if (atr_read_file(srv->confpath, 1024 * 1024, &old, &oldlen, &rerr) == -1) {
		if (rerr.code != ATR_E_NOT_FOUND) {
			*err = rerr;
			return -1;
		}
		had = 0;
	}
	for (size_t i = 0; i < n; i++)
		if (atr_config_file_update(srv->confpath, changes[i].key, changes[i].value, err) == -1)
			goto restore;
	if (server_apply(srv, err) == 0) {
		rc = 0;
		goto out;
	}
restore:
	if (had)
		atr_write_file_atomic(srv->confpath, old, oldlen, 0600, &rerr);
	else
		unlink(srv->confpath);
out:
	if (old != NULL)
		atr_wipe(old, oldlen);
	free(old);
	return rc;
}

static json_t *
key_aliases(const unsigned char *buf, size_t len, const char *password)
{
	struct atr_ks *ks = atr_ks_load_mem(buf, len, password, NULL);
	json_t *arr = json_array();

	for (size_t i = 0; ks != NULL && i < atr_ks_count(ks); i++) {
		const struct atr_ks_entry *e = atr_ks_entry_at(ks, i);
		if (atr_ks_entry_kind(e) == ATR_KS_PRIVATE_KEY)
			json_array_append_new(arr, json_string(atr_ks_entry_alias(e)));
	}
	atr_ks_free(ks);
	return arr;
}

/* tls_port as the settings have it (the port, even while TLS is off). */
static int
configured_tls_port(struct server *srv)
{
	struct atr_err err;
	struct atr_config *cfg = server_load_config(srv->datadir, srv->overrides, CONF_REQUIRED, &err);
	int port = atomic_load(&srv->rt.ports[LK_TLS]);

	if (cfg != NULL) {
		port = (int)atr_config_int(cfg, "tls_port");
		atr_config_free(cfg);
	}
	return port;
}

void
api_admin_put_tls(struct req *r)
{
	struct server *srv = req_server(r);
	struct atr_err err;
	json_t *body = req_json(r, &err), *jport, *jenabled;
	const char *b64, *password, *alias;
	unsigned char *ks = NULL;
	char kspath[4400] = "", passpath[4400] = "", rel[128], relpass[128], portbuf[16] = "";
	char stamp[32];
	struct change changes[6];
	size_t n = 0;
	int enabled, port = 0;
	time_t now = time(NULL);
	struct tm tm;

	if (body == NULL)
		return resp_err(r, &err);
	jenabled = json_object_get(body, "enabled");
	jport = json_object_get(body, "port");
	b64 = json_string_value(json_object_get(body, "keystore"));
	password = json_string_value(json_object_get(body, "password"));
	alias = json_string_value(json_object_get(body, "alias"));
	if (jenabled != NULL && !json_is_boolean(jenabled))
		return resp_error(r, ATR_E_BAD_REQUEST, "enabled must be true or false");
	enabled = jenabled == NULL ? atomic_load(&srv->rt.ports[LK_TLS]) != 0 : json_is_true(jenabled);
	if (jport != NULL) {
		if (!json_is_integer(jport) || json_integer_value(jport) < 1 ||
		    json_integer_value(jport) > 65535) {
			atr_err_set(&err, ATR_E_CONFIG, "the port must be a number from 1 to 65535");
			return field_error(r, "port", &err);
		}
		port = (int)json_integer_value(jport);
		if (port == atomic_load(&srv->rt.ports[LK_PLAIN]) ||
		    port == atomic_load(&srv->rt.ports[LK_ADMIN])) {
			atr_err_set(&err, ATR_E_CONFIG,
			    "port %d is already used by this server's %s port; choose another", port,
			    port == atomic_load(&srv->rt.ports[LK_PLAIN]) ? "plain" : "admin");
			return field_error(r, "port", &err);
		}
		if (port != configured_tls_port(srv) &&
		    fixed_by_flag(r, "tls_port", "--tls-port", "port"))
			return;
	}
	if (jenabled != NULL && fixed_by_flag(r, "tls", "--set tls=...", "enabled"))
		return;
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%S", &tm);
	if (b64 != NULL) {
		size_t len = strlen(b64);
		int decoded;
		enum atr_ks_format fmt;
		const char *ext;
		if (len == 0 || len > (KEYSTORE_MAX / 3 + 1) * 4) {
			atr_err_set(&err, ATR_E_TOO_LARGE,
			    len ? "the keystore file is larger than 1 MiB" : "the keystore file is empty");
			return field_error(r, "keystore", &err);
		}
		if ((ks = malloc(len)) == NULL)
			return resp_error(r, ATR_E_NOMEM, NULL);
		decoded = EVP_DecodeBlock(ks, (const unsigned char *)b64, (int)len);
		if (decoded < 0) {
			free(ks);
			atr_err_set(&err, ATR_E_BAD_REQUEST, "the keystore upload is not valid base64");
			return field_error(r, "keystore", &err);
		}
		while (decoded > 0 && len > 0 && b64[len - 1] == '=') {
			decoded--;
			len--;
		}
		fmt = atr_ks_detect(ks, (size_t)decoded);
		if (fmt == ATR_KS_UNKNOWN) {
			free(ks);
			atr_err_set(&err, ATR_E_KS_FORMAT, NULL);
			return field_error(r, "keystore", &err);
		}
		ext = fmt == ATR_KS_JKS || fmt == ATR_KS_JCEKS ? "jks" : fmt == ATR_KS_PEM ? "pem" : "p12";
		snprintf(rel, sizeof(rel), "tls/keystore-%s.%s", stamp, ext);
		snprintf(kspath, sizeof(kspath), "%s/%s", srv->datadir, rel);
		if (atr_write_file_atomic(kspath, ks, (size_t)decoded, 0600, &err) == -1) {
			atr_wipe(ks, (size_t)decoded);
			free(ks);
			return resp_err(r, &err);
		}
		/* Several key entries and no alias: offer the choice. */
		if (alias == NULL || alias[0] == '\0') {
			json_t *aliases = key_aliases(ks, (size_t)decoded, password);
			if (json_array_size(aliases) > 1) {
				unlink(kspath);
				atr_wipe(ks, (size_t)decoded);
				free(ks);
				resp_json(r, 400, json_pack("{s:s,s:s,s:s,s:o}", "error",
				    "this keystore holds several keys; choose the one to serve", "code",
				    atr_errcode_name(ATR_E_BAD_REQUEST), "field", "alias", "aliases",
				    aliases));
				return;
			}
			json_decref(aliases);
		}
		atr_wipe(ks, (size_t)decoded);
		free(ks);
		snprintf(passpath, sizeof(passpath), "%s/tls/keystore-%s.pass", srv->datadir, stamp);
		{
			char line[1100];
			int w = snprintf(line, sizeof(line), "%s\n", password ? password : "");
			if (w >= (int)sizeof(line)) {
				unlink(kspath);
				atr_err_set(&err, ATR_E_BAD_REQUEST, "the password is too long");
				return field_error(r, "password", &err);
			}
			if (atr_write_file_atomic(passpath, line, (size_t)w, 0600, &err) == -1) {
				atr_wipe(line, sizeof(line));
				unlink(kspath);
				return resp_err(r, &err);
			}
			atr_wipe(line, sizeof(line));
		}
		changes[n++] = (struct change){"tls_keystore", rel};
		snprintf(relpass, sizeof(relpass), "tls/keystore-%s.pass", stamp);
		changes[n++] = (struct change){"tls_keystore_password_file", relpass};
		changes[n++] = (struct change){"tls_keystore_password", NULL};
		changes[n++] = (struct change){"tls_keystore_alias",
		    alias != NULL && alias[0] != '\0' ? alias : NULL};
	} else if (alias != NULL && alias[0] != '\0') {
		changes[n++] = (struct change){"tls_keystore_alias", alias};
	}
	if (jenabled != NULL)
		changes[n++] = (struct change){"tls", enabled ? "on" : "off"};
	if (jport != NULL) {
		snprintf(portbuf, sizeof(portbuf), "%d", port);
		changes[n++] = (struct change){"tls_port", portbuf};
	}
	if (b64 != NULL && check_candidate(r, changes, n, &err) == -1) {
		strip_path(&err);
		if (err.code == ATR_E_KS_NO_ENTRY && alias != NULL && alias[0] != '\0') {
			unsigned char *buf;
			size_t blen;
			struct atr_err rerr;
			json_t *aliases = json_array();
			if (atr_read_file(kspath, KEYSTORE_MAX, &buf, &blen, &rerr) == 0) {
				json_decref(aliases);
				aliases = key_aliases(buf, blen, password);
				atr_wipe(buf, blen);
				free(buf);
			}
			resp_json(r, 400, json_pack("{s:s,s:s,s:s,s:o}", "error",
			    "this keystore has no key entry by that name; choose one of its keys", "code",
			    atr_errcode_name(ATR_E_KS_NO_ENTRY), "field", "alias", "aliases", aliases));
			goto drop_upload;
		}
		atr_warn("admin '%s' from %s: uploaded keystore refused: %s", req_user(r)->name,
		    req_peer(r), atr_err_msg(&err));
		field_error(r, field_of(&err), &err);
		goto drop_upload;
	}
	if (apply_changes(r, changes, n, &err) == -1) {
		const char *field = strstr(atr_err_msg(&err), "already in use") != NULL ? "port"
		    : b64 != NULL ? field_of(&err) : "keystore";
		atr_warn("admin '%s' from %s: TLS settings refused: %s", req_user(r)->name, req_peer(r),
		    atr_err_msg(&err));
		field_error(r, field, &err);
		goto drop_upload;
	}
	if (b64 != NULL) {
		char keep[64];
		snprintf(keep, sizeof(keep), "keystore-%s.", stamp);
		remove_old_uploads(srv->datadir, keep);
	}
	log_admin(r, "TLS %s on port %s%s%s", enabled ? "on" : "off",
	    jport != NULL ? portbuf : "(unchanged)", b64 != NULL ? ", uploaded keystore " : "",
	    b64 != NULL ? changes[0].value : "");
	resp_json(r, 200, settings_json(srv));
	return;
drop_upload:
	if (kspath[0] != '\0')
		unlink(kspath);
	if (passpath[0] != '\0')
		unlink(passpath);
}

void
api_admin_clear_tls(struct req *r)
{
	static const struct change changes[] = {
		{"tls_keystore", NULL},
		{"tls_keystore_password", NULL},
		{"tls_keystore_password_file", NULL},
		{"tls_keystore_alias", NULL},
	};
	struct atr_err err;

	if (apply_changes(r, changes, sizeof(changes) / sizeof(changes[0]), &err) == -1)
		return field_error(r, "keystore", &err);
	remove_old_uploads(req_server(r)->datadir, NULL);
	log_admin(r, "cleared the keystore; serving the local CA's certificate");
	resp_json(r, 200, settings_json(req_server(r)));
}

void
api_admin_put_plain(struct req *r)
{
	struct atr_err err;
	json_t *body = req_json(r, &err), *jenabled;
	struct change change;

	if (body == NULL)
		return resp_err(r, &err);
	jenabled = json_object_get(body, "enabled");
	if (!json_is_boolean(jenabled))
		return resp_error(r, ATR_E_BAD_REQUEST, "send {\"enabled\": true} or false");
	if (fixed_by_flag(r, "plain", "--set plain=...", "enabled"))
		return;
	change = (struct change){"plain", json_is_true(jenabled) ? "on" : "off"};
	if (apply_changes(r, &change, 1, &err) == -1)
		return field_error(r, strstr(atr_err_msg(&err), "in use") ? "port" : "enabled", &err);
	log_admin(r, "plain port %s", json_is_true(jenabled) ? "opened" : "closed");
	resp_json(r, 200, settings_json(req_server(r)));
}

/* ---- downloads */

static void
download(struct req *r, const char *rel, const char *ctype, const char *filename, int der)
{
	char path[4400], disp[200];
	unsigned char *buf;
	size_t len;
	struct atr_err err;

	snprintf(path, sizeof(path), "%s/%s", req_server(r)->datadir, rel);
	if (atr_read_file(path, 1024 * 1024, &buf, &len, &err) == -1)
		return resp_err(r, &err);
	snprintf(disp, sizeof(disp), "attachment; filename=\"%s\"", filename);
	if (der) {
		/* The CA as DER: decode the PEM body. */
		BIO *bio = BIO_new_mem_buf(buf, (int)len);
		X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
		unsigned char *d = NULL;
		int dlen = x ? i2d_X509(x, &d) : -1;
		BIO_free(bio);
		X509_free(x);
		free(buf);
		if (dlen <= 0)
			return resp_error(r, ATR_E_INTERNAL, "cannot encode the CA certificate");
		resp_text(r, 200, ctype, (const char *)d, (size_t)dlen);
		OPENSSL_free(d);
	} else {
		resp_text(r, 200, ctype, (const char *)buf, len);
		atr_wipe(buf, len);
		free(buf);
	}
	resp_header(r, "Content-Disposition", disp);
	log_admin(r, "downloaded %s", filename);
}

void
api_admin_download(struct req *r)
{
	const char *what = req_param(r, 0);

	if (strcmp(what, "ca.pem") == 0)
		return download(r, "tls/ca.crt", "application/x-pem-file", "atrium-ca.pem", 0);
	if (strcmp(what, "ca.der") == 0)
		return download(r, "tls/ca.crt", "application/pkix-cert", "atrium-ca.cer", 1);
	if (strcmp(what, "cert.jks") == 0)
		return download(r, "tls/client/cert.jks", "application/octet-stream", "cert.jks", 0);
	if (strcmp(what, "cert.pass") == 0)
		return download(r, "tls/client/cert.pass", "text/plain; charset=utf-8", "cert.pass", 0);
	resp_error(r, ATR_E_NOT_FOUND, "there is no download called '%s'", what);
}

/* ---- users: role */

void
api_admin_user_role(struct req *r)
{
	struct atr_err err;
	json_t *body = req_json(r, &err);
	const char *role, *name = req_param(r, 0);

	if (body == NULL)
		return resp_err(r, &err);
	role = json_string_value(json_object_get(body, "role"));
	if (role == NULL || (strcmp(role, "admin") != 0 && strcmp(role, "user") != 0)) {
		atr_err_set(&err, ATR_E_BAD_REQUEST, "role must be \"admin\" or \"user\"");
		return field_error(r, "role", &err);
	}
	if (store_user_set_role(req_store(r), name, role, &err) == -1)
		return field_error(r, "role", &err);
	session_cache_forget_user(name);
	log_admin(r, "made '%s' %s", name, strcmp(role, "admin") == 0 ? "an admin" : "a user");
	resp_empty(r, 204);
}

/* ---- the console's files */

void
api_admin_static(struct req *r)
{
	const char *path = req_path(r);

	if (strcmp(path, "/") == 0)
		path = "/index.html";
	for (const struct web_asset *a = web_assets; a->path != NULL; a++) {
		if (strcmp(a->path, path) == 0) {
			resp_static(r, 200, a->data, a->size, a->content_type);
			return;
		}
	}
	resp_error(r, ATR_E_NOT_FOUND, "there is nothing at %s", path);
}
