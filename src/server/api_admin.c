/*
 * The admin console's JSON API (docs/admin-api.md): login with a cookie and
 * a CSRF token, settings that apply at once, the certificate, downloads.
 * Users and projects reuse the API's handlers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "atrium/config.h"
#include "atrium/log.h"
#include "atrium/util.h"
#include "server/adminlog.h"
#include "server/api.h"
#include "server/logins.h"
#include "server/password.h"
#include "server/clientcert.h"
#include "server/runtime.h"
#include "server/sessions.h"
#include "server/settings.h"
#include "server/tlsstate.h"
#include "server/web_assets.h"

/* ---- sessions in a cookie */

void
api_admin_login(struct req *r)
{
	struct atr_err err;
	json_t *body = req_json(r, &err);
	const char *user, *password;
	char token[65], token_hash[65], csrf[33], cookie[200];
	unsigned char raw[32], md[32];
	struct store_user u;
	int64_t now = atr_now_ms() / 1000;

	if (body == NULL)
		return resp_err(r, &err);
	user = json_string_value(json_object_get(body, "user"));
	password = json_string_value(json_object_get(body, "password"));
	if (password == NULL) {
		/* "Log in with your certificate". */
		if (api_cert_login(r, "admin login", &u) == -1)
			return;
	} else if (user == NULL) {
		return resp_error(r, ATR_E_BAD_REQUEST, "send {\"user\": \"NAME\", \"password\": \"...\"}");
	} else if (api_login_check(r, user, password, "admin login", &u) == -1) {
		/* Local accounts or the directory, as the API's login (api_session.c). */
		return;
	}
	if (strcmp(u.role, "admin") != 0) {
		atr_warn("admin login refused for '%s' from %s: not an admin", u.name, req_peer(r));
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
api_admin_login_cert(struct req *r)
{
	struct clientcert *cc = tls_state_clientcert(req_runtime(r)->tls);
	struct clientcert_id id;
	struct atr_err err;
	X509 *leaf = req_client_cert(r);
	json_t *o;

	if (leaf == NULL || !clientcert_enabled(cc)) {
		o = json_pack("{s:b,s:b}", "enabled", clientcert_enabled(cc), "presented", 0);
	} else {
		int named = clientcert_describe(cc, leaf, &id, &err) == 0;
		o = json_pack("{s:b,s:b,s:s,s:s,s:s}", "enabled", 1, "presented", 1, "subject",
		    id.subject, "serial", id.serial, "user", named ? id.user : "");
	}
	clientcert_unref(cc);
	resp_json(r, 200, o);
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

/*
 * The name the request came with: its Host header without the port
 * ("[::1]:8443" gives "::1"), lower-cased; "" when absent or not a plain
 * host name or address. For the console that is what the browser's
 * address bar shows.
 */
static void
request_host(struct req *r, char *out, size_t size)
{
	const char *h = req_header(r, "Host"), *end;
	size_t n;

	out[0] = '\0';
	if (h == NULL)
		return;
	if (h[0] == '[') {
		h++;
		end = strchr(h, ']');
	} else {
		end = strchr(h, ':');
		if (end != NULL && strchr(end + 1, ':') != NULL)
			end = NULL; /* a bare IPv6 address */
	}
	n = end != NULL ? (size_t)(end - h) : strlen(h);
	if (n == 0 || n >= size)
		return;
	for (size_t i = 0; i < n; i++) {
		char ch = h[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			(ch >= '0' && ch <= '9') || ch == '.' || ch == '-' || ch == ':')) {
			out[0] = '\0';
			return;
		}
		out[i] = ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
	}
	out[n] = '\0';
}

/* "coverage": [{"name", "kind", "covered", "source"}]. */
static json_t *
coverage_json(const struct tls_coverage *cov)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr != NULL && i < cov->n; i++) {
		const struct tls_name *t = &cov->names[i];
		json_array_append_new(arr, json_pack("{s:s,s:s,s:b,s:s}", "name", t->name, "kind",
		    t->ip ? "ip" : "dns", "covered", t->covered, "source", t->source));
	}
	return arr;
}

/* Adds "coverage" and "keytool_hint" to j; cov NULL: nothing. */
static void
add_coverage(json_t *j, const struct tls_coverage *cov)
{
	if (j == NULL || cov == NULL)
		return;
	json_object_set_new(j, "coverage", coverage_json(cov));
	json_object_set_new(j, "keytool_hint", json_string(cov->keytool_hint));
}

/* The served certificate's coverage for r's Host (the caller's), or
 * NULL. */
static struct tls_coverage *
served_coverage(struct req *r)
{
	char host[256];
	struct tls_coverage *cov = malloc(sizeof(*cov));

	request_host(r, host, sizeof(host));
	if (cov != NULL && tls_state_coverage(req_runtime(r)->tls, host, cov) == -1) {
		free(cov);
		cov = NULL;
	}
	return cov;
}

static json_t *
certificate_json(const struct tls_info *info, const char *datadir, const struct tls_coverage *cov)
{
	json_t *j;
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
	j = json_pack("{s:s,s:s,s:o,s:s,s:s,s:I,s:s,s:b,s:b,s:b,s:s,s:s,s:o,s:b}", "subject",
	    info->subject, "issuer", info->issuer, "sans", sans, "not_before", nb, "not_after", na,
	    "days_left", (json_int_t)((info->not_after - atr_now_ms() / 1000) / 86400), "sha256",
	    info->sha256, "from_local_ca", info->from_local_ca, "trusted_by_local_ca",
	    info->trusted_by_local_ca, "self_signed", info->self_signed, "ca_sha256",
	    info->ca_sha256, "source", datadir_rel, "warnings", warnings, "weak_password",
	    info->weak_password);
	add_coverage(j, cov);
	return j;
}

/* A listener's port: the one it listens on, or (when closed) the one the
 * settings name. */
static json_int_t
port_of(const struct runtime *rt, enum listener_kind k, const struct atr_config *cfg,
    const char *key, json_int_t fallback)
{
	int port = atomic_load(&rt->ports[k]);

	if (port != 0)
		return port;
	return cfg != NULL ? (json_int_t)atr_config_int(cfg, key) : fallback;
}

/* SETTINGS (docs/admin-api.md). */
static json_t *
settings_json(struct req *r)
{
	struct runtime *rt = req_runtime(r);
	struct tls_info info;
	int have = tls_state_info(rt->tls, &info) == 0;
	json_t *keystore = json_null(), *cert = json_null(), *listeners = json_array(), *j;
	static const char *const names[LK__COUNT] = {"plain", "tls", "admin"};
	struct atr_err err;
	struct atr_config *cfg = settings_current(req_settings(r), &err);
	struct tls_coverage *cov = have ? served_coverage(r) : NULL;

	if (have && info.own_keystore)
		keystore = json_pack("{s:s,s:s,s:s}", "file", relative_to(rt->datadir, info.source),
		    "format", info.format, "alias", info.alias);
	if (have)
		cert = certificate_json(&info, rt->datadir, cov);
	free(cov);
	for (int k = 0; k < LK__COUNT; k++) {
		int port = atomic_load(&rt->ports[k]);
		if (port != 0)
			json_array_append_new(listeners, json_pack("{s:s,s:i,s:b}", "name", names[k],
			    "port", port, "tls", k != LK_PLAIN));
	}
	j = json_pack("{s:{s:b,s:I,s:o},s:{s:b,s:I},s:I,s:o,s:o}", "tls", "enabled",
	    atomic_load(&rt->ports[LK_TLS]) != 0, "port",
	    port_of(rt, LK_TLS, cfg, "tls_port", 10002), "keystore", keystore, "plain", "enabled",
	    atomic_load(&rt->ports[LK_PLAIN]) != 0, "port", port_of(rt, LK_PLAIN, cfg, "port", 3579),
	    "admin_port", port_of(rt, LK_ADMIN, cfg, "admin_port", 8443), "listeners", listeners,
	    "certificate", cert);
	atr_config_free(cfg);
	return j;
}

void
api_admin_settings(struct req *r)
{
	resp_json(r, 200, settings_json(r));
}

void
api_admin_certificate(struct req *r)
{
	struct tls_info info;
	struct tls_coverage *cov;

	if (tls_state_info(req_runtime(r)->tls, &info) == -1)
		return resp_error(r, ATR_E_NOT_FOUND, "no certificate is loaded");
	cov = served_coverage(r);
	resp_json(r, 200, certificate_json(&info, req_runtime(r)->datadir, cov));
	free(cov);
}

/* The keystore code words these errors as Java's keytool does, which atrium
 * keytool must print; an administrator gets the error table's sentence
 * instead, followed by the error's core, the detail after Java's words
 * (atr_err_set_worded()). */
static const enum atr_errcode java_worded[] = {ATR_E_KS_KEY_PASSWORD, ATR_E_KS_FORMAT};

static void
unjava(const struct atr_err *err, char *out, size_t size)
{
	for (size_t i = 0; i < sizeof(java_worded) / sizeof(java_worded[0]); i++) {
		if (err->code == java_worded[i]) {
			const char *detail = atr_err_core(err);

			snprintf(out, size, "%s%s%s", atr_errcode_text(err->code),
			    detail[0] ? ": " : "", detail);
			return;
		}
	}
	snprintf(out, size, "%s", atr_err_msg(err));
}

/* The form field of the console that shows a setting's errors. */
static const struct {
	const char *key, *field;
} form_fields[] = {
	{"tls", "enabled"},
	{"plain", "enabled"},
	{"tls_port", "port"},
	{"port", "port"},
	{"admin_port", "port"},
	{"tls_keystore", "keystore"},
	{"tls_keystore_password", "password"},
	{"tls_keystore_password_file", "password"},
	{"tls_keystore_alias", "alias"},
};

static const char *
form_field(const struct atr_err *err, const char *fallback)
{
	for (size_t i = 0; i < sizeof(form_fields) / sizeof(form_fields[0]); i++)
		if (strcmp(atr_err_field(err), form_fields[i].key) == 0)
			return form_fields[i].field;
	return fallback;
}

/* A refusal about one field of the form, with the error table's status;
 * extra (may be NULL, stolen) adds members such as "aliases". */
static void
field_error(struct req *r, const char *field, const struct atr_err *err, json_t *extra)
{
	char msg[ATR_ERR_MSG_MAX];
	json_t *j;

	unjava(err, msg, sizeof(msg));
	j = json_pack("{s:s,s:s,s:s}", "error", msg, "code", atr_errcode_name(err->code), "field",
	    field);
	if (j != NULL && extra != NULL)
		json_object_update(j, extra);
	json_decref(extra);
	resp_json(r, atr_errcode_http(err->code), j);
}

/* The TLS card's Save: `enabled`, `port`, an uploaded keystore with its
 * password and alias, checked and applied as one change set. */
/* Members the 200 answer of an upload adds to SETTINGS (docs/admin-api.md). */
static void
add_upload_answer(struct req *r, json_t *j, const struct settings_report *rep)
{
	struct tls_info info;
	char *pem = tls_state_chain_pem(req_runtime(r)->tls);
	int have = tls_state_info(req_runtime(r)->tls, &info) == 0;
	json_t *warnings = json_array();
	char copy[sizeof(info.warnings)], *tok, *save = NULL;

	if (j == NULL) {
		free(pem);
		json_decref(warnings);
		return;
	}
	/* The check's warnings know the uploader's name; without an upload
	 * those of the certificate in use. */
	snprintf(copy, sizeof(copy), "%s", rep->checked ? rep->info.warnings
						  : have ? info.warnings : "");
	for (tok = strtok_r(copy, "\n", &save); tok != NULL; tok = strtok_r(NULL, "\n", &save))
		json_array_append_new(warnings, json_string(tok));
	json_object_set_new(j, "warnings", warnings);
	json_object_set_new(j, "chain_pem", pem != NULL ? json_string(pem) : json_null());
	json_object_set_new(j, "trusted_by_local_ca",
	    json_boolean(have && info.trusted_by_local_ca));
	json_object_set_new(j, "weak_password",
	    json_boolean(rep->checked ? rep->info.weak_password : have && info.weak_password));
	json_object_set_new(j, "reprotected", json_boolean(rep->reprotected));
	if (rep->checked)
		add_coverage(j, &rep->coverage);
	free(pem);
}

void
api_admin_put_tls(struct req *r)
{
	struct atr_err err;
	json_t *body = req_json(r, &err), *jport, *jenabled, *jforce, *jreprotect, *aliases = NULL;
	const char *b64, *password, *alias;
	char portbuf[16] = "", file[128] = "", host[256];
	struct settings_change *c;
	struct settings_report *rep;
	json_t *j;
	int enabled, force, reprotect;

	if (body == NULL)
		return resp_err(r, &err);
	jenabled = json_object_get(body, "enabled");
	jport = json_object_get(body, "port");
	b64 = json_string_value(json_object_get(body, "keystore"));
	password = json_string_value(json_object_get(body, "password"));
	alias = json_string_value(json_object_get(body, "alias"));
	jforce = json_object_get(body, "force");
	jreprotect = json_object_get(body, "reprotect");
	if (jenabled != NULL && !json_is_boolean(jenabled))
		return resp_error(r, ATR_E_BAD_REQUEST, "enabled must be true or false");
	if ((jforce != NULL && !json_is_boolean(jforce)) ||
	    (jreprotect != NULL && !json_is_boolean(jreprotect)))
		return resp_error(r, ATR_E_BAD_REQUEST, "force and reprotect must be true or false");
	force = json_is_true(jforce);
	reprotect = json_is_true(jreprotect);
	if (reprotect && b64 == NULL) {
		atr_err_set(&err, ATR_E_BAD_REQUEST,
		    "reprotect re-writes an uploaded keystore: send the keystore with it");
		return field_error(r, "keystore", &err, NULL);
	}
	if (jport != NULL && (!json_is_integer(jport) || json_integer_value(jport) < 1 ||
				 json_integer_value(jport) > 65535)) {
		atr_err_set(&err, ATR_E_CONFIG, "the port must be a number from 1 to 65535");
		return field_error(r, "port", &err, NULL);
	}
	enabled = jenabled == NULL ? atomic_load(&req_runtime(r)->ports[LK_TLS]) != 0
				   : json_is_true(jenabled);
	if (jport != NULL)
		snprintf(portbuf, sizeof(portbuf), "%d", (int)json_integer_value(jport));
	if ((rep = calloc(1, sizeof(*rep))) == NULL)
		return resp_error(r, ATR_E_NOMEM, NULL);
	if ((c = settings_begin(req_settings(r))) == NULL) {
		free(rep);
		return resp_error(r, ATR_E_NOMEM, NULL);
	}
	request_host(r, host, sizeof(host));
	settings_set_uploader(c, host, force, rep);
	if ((b64 != NULL && settings_set_keystore(c, b64, password, alias, &aliases, &err) == -1) ||
	    (b64 != NULL && reprotect && settings_reprotect_keystore(c, &err) == -1) ||
	    (b64 == NULL && alias != NULL && alias[0] != '\0' &&
		settings_set(c, "tls_keystore_alias", alias, &err) == -1) ||
	    (jenabled != NULL && settings_set(c, "tls", enabled ? "on" : "off", &err) == -1) ||
	    (jport != NULL && settings_set(c, "tls_port", portbuf, &err) == -1)) {
		settings_abort(c);
		free(rep);
		atr_warn("admin '%s' from %s: %s refused: %s", req_user(r)->name, req_peer(r),
		    b64 != NULL ? "uploaded keystore" : "TLS settings", atr_err_msg(&err));
		return field_error(r, form_field(&err, "keystore"), &err,
		    aliases != NULL ? json_pack("{s:o}", "aliases", aliases) : NULL);
	}
	if (settings_keystore_file(c) != NULL)
		snprintf(file, sizeof(file), "%s", settings_keystore_file(c));
	if (settings_commit(c, &err) == -1) {
		int about_keystore = strncmp(atr_err_field(&err), "tls_keystore", 12) == 0;

		json_t *extra = NULL;

		atr_warn("admin '%s' from %s: %s refused: %s", req_user(r)->name, req_peer(r),
		    b64 != NULL && about_keystore ? "uploaded keystore" : "TLS settings",
		    atr_err_msg(&err));
		if (rep->checked && (extra = json_object()) != NULL)
			add_coverage(extra, &rep->coverage);
		free(rep);
		return field_error(r, form_field(&err, "keystore"), &err, extra);
	}
	log_admin(r, "TLS %s, port %s%s%s%s%s", enabled ? "on" : "off",
	    jport != NULL ? portbuf : "unchanged", file[0] ? ", uploaded keystore " : "", file,
	    rep->reprotected ? ", re-protected under a password of the server's" : "",
	    force ? " (forced)" : "");
	j = settings_json(r);
	add_upload_answer(r, j, rep);
	free(rep);
	resp_json(r, 200, j);
}

void
api_admin_clear_tls(struct req *r)
{
	struct atr_err err;
	struct settings_change *c = settings_begin(req_settings(r));

	if (c == NULL)
		return resp_error(r, ATR_E_NOMEM, NULL);
	if (settings_clear_keystore(c, &err) == -1) {
		settings_abort(c);
		return field_error(r, "keystore", &err, NULL);
	}
	if (settings_commit(c, &err) == -1)
		return field_error(r, form_field(&err, "keystore"), &err, NULL);
	log_admin(r, "cleared the keystore; serving the local CA's certificate");
	resp_json(r, 200, settings_json(r));
}

void
api_admin_put_plain(struct req *r)
{
	struct atr_err err;
	json_t *body = req_json(r, &err), *jenabled;
	struct settings_change *c;

	if (body == NULL)
		return resp_err(r, &err);
	jenabled = json_object_get(body, "enabled");
	if (!json_is_boolean(jenabled))
		return resp_error(r, ATR_E_BAD_REQUEST, "send {\"enabled\": true} or false");
	if ((c = settings_begin(req_settings(r))) == NULL)
		return resp_error(r, ATR_E_NOMEM, NULL);
	if (settings_set(c, "plain", json_is_true(jenabled) ? "on" : "off", &err) == -1) {
		settings_abort(c);
		return field_error(r, "enabled", &err, NULL);
	}
	if (settings_commit(c, &err) == -1)
		return field_error(r, form_field(&err, "enabled"), &err, NULL);
	log_admin(r, "plain port %s", json_is_true(jenabled) ? "opened" : "closed");
	resp_json(r, 200, settings_json(r));
}

/* ---- downloads */

static void
download(struct req *r, const char *rel, const char *ctype, const char *filename, int der)
{
	char path[4400], disp[200];
	unsigned char *buf;
	size_t len;
	struct atr_err err;

	snprintf(path, sizeof(path), "%s/%s", req_runtime(r)->datadir, rel);
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
		return field_error(r, "role", &err, NULL);
	}
	if (store_user_set_role(req_store(r), name, role, &err) == -1)
		return field_error(r, "role", &err, NULL);
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
