/*
 * Routing and dispatch: which handler answers a request, who may call it,
 * and on which thread it runs.
 *
 * A handler runs inline on the event loop when it is cheap (the embedded
 * store answers reads in microseconds), and on the job pool when it is
 * slow (R_SLOW: password hashing, and every write, whose commit waits for
 * SQLite's write lock and fsync) or the store waits on the network.
 * Authentication is part of the dispatched work, since it reads the store.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "atrium/log.h"
#include "atrium/util.h"
#include "server/api.h"
#include "server/logins.h"
#include "server/password.h"
#include "server/req_int.h"
#include "server/sessions.h"

#define R_AUTH 0x01   /* needs a logged-in user */
#define R_ADMIN 0x02  /* needs an admin */
#define R_SLOW 0x04   /* always on the job pool */
#define R_STREAM 0x08 /* body streams to a blob writer after begin() */
#define R_COOKIE 0x10 /* the console's cookie session (with a CSRF token) counts */
#define R_UPLOAD 0x20 /* a body up to 2 MiB (a keystore in base64, chunk lists, a chunk) */

struct route {
	int method;          /* enum http_method; HEAD matches GET */
	const char *pattern; /* '*' matches one path segment */
	unsigned flags;
	void (*handle)(struct req *r);
	void (*begin)(struct req *r); /* R_STREAM only */
};

static const struct route routes[] = {
	{HTTP_GET, "/healthz", 0, api_health, NULL},
	{HTTP_GET, "/metrics", 0, api_metrics, NULL},
	{HTTP_GET, "/api/v1/server", 0, api_server_info, NULL},
	{HTTP_GET, "/ca.crl", 0, api_ca_crl, NULL}, /* plain and TLS ports: docs/SECURITY.md */
	{HTTP_POST, "/api/v1/session", R_SLOW, api_session_create, NULL},
	{HTTP_DELETE, "/api/v1/session", R_AUTH | R_SLOW, api_session_delete, NULL},
	{HTTP_GET, "/api/v1/projects", R_AUTH, api_projects_list, NULL},
	{HTTP_POST, "/api/v1/projects", R_AUTH | R_SLOW, api_project_create, NULL},
	{HTTP_GET, "/api/v1/projects/*", R_AUTH, api_project_get, NULL},
	{HTTP_DELETE, "/api/v1/projects/*", R_AUTH | R_SLOW, api_project_delete, NULL},
	{HTTP_GET, "/api/v1/projects/*/revisions", R_AUTH, api_revisions_list, NULL},
	{HTTP_POST, "/api/v1/projects/*/revisions", R_AUTH | R_SLOW | R_STREAM,
	    api_revision_commit, api_revision_begin},
	{HTTP_GET, "/api/v1/projects/*/revisions/*", R_AUTH, api_revision_get, NULL},
	{HTTP_GET, "/api/v1/projects/*/revisions/*/content", R_AUTH, api_revision_content, NULL},
	{HTTP_GET, "/api/v1/projects/*/revisions/*/manifest", R_AUTH, api_revision_manifest, NULL},
	{HTTP_GET, "/api/v1/projects/*/chunks/*", R_AUTH | R_SLOW, api_chunk_get, NULL},
	{HTTP_POST, "/api/v1/chunks/missing", R_AUTH | R_SLOW | R_UPLOAD, api_chunks_missing, NULL},
	{HTTP_POST, "/api/v1/chunks", R_AUTH | R_SLOW | R_UPLOAD, api_chunks_put, NULL},
	{HTTP_PUT, "/api/v1/chunks/*", R_AUTH | R_SLOW | R_UPLOAD, api_chunk_put, NULL},
	{HTTP_POST, "/api/v1/contents", R_AUTH | R_SLOW | R_UPLOAD, api_content_create, NULL},
	{HTTP_GET, "/api/v1/projects/*/locks", R_AUTH, api_locks_list, NULL},
	/* A set of elements may take a 2 MiB body. */
	{HTTP_POST, "/api/v1/projects/*/locks", R_AUTH | R_SLOW | R_UPLOAD, api_lock_take, NULL},
	{HTTP_DELETE, "/api/v1/projects/*/locks", R_AUTH | R_SLOW | R_UPLOAD, api_locks_release,
	    NULL},
	{HTTP_DELETE, "/api/v1/projects/*/locks/*", R_AUTH | R_SLOW, api_lock_release, NULL},
	{HTTP_GET, "/api/v1/events", R_AUTH, api_events_stream, NULL}, /* evstream.h */
	{HTTP_GET, "/api/v1/projects/*/branches", R_AUTH, api_branches_list, NULL},
	{HTTP_POST, "/api/v1/projects/*/branches", R_AUTH | R_SLOW, api_branch_create, NULL},
	{HTTP_GET, "/api/v1/projects/*/branches/*", R_AUTH, api_branch_get, NULL},
	{HTTP_DELETE, "/api/v1/projects/*/branches/*", R_AUTH | R_SLOW, api_branch_delete, NULL},
	{HTTP_GET, "/api/v1/projects/*/tags", R_AUTH, api_tags_list, NULL},
	{HTTP_POST, "/api/v1/projects/*/tags", R_AUTH | R_SLOW, api_tag_create, NULL},
	{HTTP_GET, "/api/v1/projects/*/tags/*", R_AUTH, api_tag_get, NULL},
	{HTTP_DELETE, "/api/v1/projects/*/tags/*", R_AUTH | R_SLOW, api_tag_delete, NULL},
	{HTTP_GET, "/api/v1/users", R_AUTH | R_ADMIN, api_users_list, NULL},
	{HTTP_POST, "/api/v1/users", R_AUTH | R_ADMIN | R_SLOW, api_user_create, NULL},
	{HTTP_DELETE, "/api/v1/users/*", R_AUTH | R_ADMIN | R_SLOW, api_user_delete, NULL},
	{HTTP_PUT, "/api/v1/users/*/password", R_AUTH | R_SLOW, api_user_password, NULL},
};

#define ADMIN (R_AUTH | R_ADMIN | R_COOKIE)

/* The admin port serves only the console and its API. */
static const struct route admin_routes[] = {
	{HTTP_GET, "/healthz", 0, api_health, NULL},
	{HTTP_POST, "/admin/api/login", R_SLOW, api_admin_login, NULL},
	{HTTP_GET, "/admin/api/login/certificate", 0, api_admin_login_cert, NULL},
	{HTTP_POST, "/admin/api/logout", R_AUTH | R_COOKIE | R_SLOW, api_admin_logout, NULL},
	{HTTP_GET, "/admin/api/session", ADMIN, api_admin_session, NULL},
	{HTTP_GET, "/admin/api/settings", ADMIN, api_admin_settings, NULL},
	{HTTP_PUT, "/admin/api/settings/tls", ADMIN | R_SLOW | R_UPLOAD, api_admin_put_tls, NULL},
	{HTTP_POST, "/admin/api/settings/tls/clear", ADMIN | R_SLOW, api_admin_clear_tls, NULL},
	{HTTP_PUT, "/admin/api/settings/plain", ADMIN | R_SLOW, api_admin_put_plain, NULL},
	{HTTP_GET, "/admin/api/certificate", ADMIN, api_admin_certificate, NULL},
	{HTTP_GET, "/admin/api/download/*", ADMIN, api_admin_download, NULL},
	{HTTP_GET, "/admin/api/users", ADMIN, api_users_list, NULL},
	{HTTP_POST, "/admin/api/users", ADMIN | R_SLOW, api_user_create, NULL},
	{HTTP_DELETE, "/admin/api/users/*", ADMIN | R_SLOW, api_user_delete, NULL},
	{HTTP_PUT, "/admin/api/users/*/password", ADMIN | R_SLOW, api_user_password, NULL},
	{HTTP_PUT, "/admin/api/users/*/role", ADMIN | R_SLOW, api_admin_user_role, NULL},
	{HTTP_GET, "/admin/api/projects", ADMIN, api_projects_list, NULL},
	{HTTP_GET, "/admin/api/projects/*/revisions", ADMIN, api_revisions_list, NULL},
	{HTTP_GET, "/admin/api/trust", ADMIN, api_trust_list, NULL},
	{HTTP_POST, "/admin/api/trust", ADMIN | R_SLOW, api_trust_import, NULL},
	{HTTP_DELETE, "/admin/api/trust/*", ADMIN | R_SLOW, api_trust_remove, NULL},
	{HTTP_POST, "/admin/api/trust/fetch", ADMIN | R_SLOW, api_trust_fetch, NULL},
	{HTTP_GET, "/admin/api/integrations", ADMIN, api_integrations_list, NULL},
	{HTTP_POST, "/admin/api/integrations", ADMIN | R_SLOW | R_UPLOAD, api_integration_create,
	    NULL},
	{HTTP_GET, "/admin/api/integrations/*", ADMIN, api_integration_get, NULL},
	{HTTP_PUT, "/admin/api/integrations/*", ADMIN | R_SLOW | R_UPLOAD, api_integration_update,
	    NULL},
	{HTTP_DELETE, "/admin/api/integrations/*", ADMIN | R_SLOW, api_integration_delete, NULL},
	{HTTP_POST, "/admin/api/integrations/*/pause", ADMIN | R_SLOW, api_integration_pause, NULL},
	{HTTP_POST, "/admin/api/integrations/*/resume", ADMIN | R_SLOW, api_integration_resume,
	    NULL},
	{HTTP_POST, "/admin/api/integrations/*/rotate-secret", ADMIN | R_SLOW,
	    api_integration_rotate, NULL},
	{HTTP_POST, "/admin/api/integrations/*/test", ADMIN | R_SLOW, api_integration_test, NULL},
	{HTTP_GET, "/admin/api/integrations/*/log", ADMIN, api_integration_log, NULL},
	{HTTP_POST, "/admin/api/integrations/*/deliveries/*/redeliver", ADMIN | R_SLOW,
	    api_integration_redeliver, NULL},
	{HTTP_GET, "/admin/api/directory", ADMIN, api_directory_get, NULL},
	{HTTP_PUT, "/admin/api/directory", ADMIN | R_SLOW, api_directory_put, NULL},
	{HTTP_POST, "/admin/api/directory/test", ADMIN | R_SLOW, api_directory_test, NULL},
	{HTTP_GET, "/", 0, api_admin_static, NULL},
	{HTTP_GET, "/*", 0, api_admin_static, NULL},
};

#define NROUTES (sizeof(routes) / sizeof(routes[0]))
#define NADMIN_ROUTES (sizeof(admin_routes) / sizeof(admin_routes[0]))

/* Matches path against pattern; on success the '*' segments are decoded
 * into r->params. Returns 1 on a match, 0 otherwise, -1 on a bad escape. */
static int
match(struct req *r, const char *pattern, const char *path, int keep)
{
	int n = 0;
	char *params[REQ_MAX_PARAMS];

	for (;;) {
		if (*pattern == '\0' || *path == '\0') {
			if (*pattern != *path)
				goto nomatch;
			break;
		}
		if (*pattern == '*') {
			size_t len = strcspn(path, "/");
			if (len == 0 || n == REQ_MAX_PARAMS)
				goto nomatch;
			if (keep) {
				if ((params[n] = req_decode(path, len, 0)) == NULL) {
					while (n > 0)
						free(params[--n]);
					return -1;
				}
			}
			n++;
			pattern++;
			path += len;
			continue;
		}
		if (*pattern != *path)
			goto nomatch;
		pattern++;
		path++;
	}
	if (keep) {
		for (int i = 0; i < n; i++)
			r->params[i] = params[i];
		r->nparams = n;
	}
	return 1;
nomatch:
	if (keep)
		while (n > 0)
			free(params[--n]);
	return 0;
}

static void
table_of(const struct req *r, const struct route **table, size_t *n)
{
	*table = r->admin ? admin_routes : routes;
	*n = r->admin ? NADMIN_ROUTES : NROUTES;
}

static void
method_not_allowed(struct req *r)
{
	char allow[128] = "";
	const struct route *table;
	size_t n;

	table_of(r, &table, &n);
	for (size_t i = 0; i < n; i++) {
		if (match(r, table[i].pattern, r->path, 0) != 1)
			continue;
		if (strstr(allow, http_method_str((enum http_method)table[i].method)) != NULL)
			continue;
		if (allow[0] != '\0')
			strcat(allow, ", ");
		strcat(allow, http_method_str((enum http_method)table[i].method));
	}
	resp_error(r, ATR_E_BAD_REQUEST, "%s is not allowed on %s; allowed: %s", req_method(r),
	    r->path, allow);
	r->status = 405;
	resp_header(r, "Allow", allow);
}

/* Reads the Authorization header into the request: a bearer token is
 * hashed now (cheap); Basic credentials are kept for the slow check. */
static int
parse_authorization(struct req *r)
{
	const char *h = req_header(r, "Authorization");
	unsigned char md[32];

	if (h == NULL)
		return 0;
	if (strncasecmp(h, "Bearer ", 7) == 0) {
		const char *tok = h + 7;
		size_t len = strlen(tok);
		if (len == 0 || len > 256)
			return -1;
		EVP_Digest(tok, len, md, NULL, EVP_sha256(), NULL);
		atr_hex(md, sizeof(md), r->token_hash);
		return 0;
	}
	if (strncasecmp(h, "Basic ", 6) == 0) {
		size_t len = strlen(h + 6);
		unsigned char *dec;
		char *colon;
		int n;
		if (len == 0 || len > 4096)
			return -1;
		if ((dec = malloc(len)) == NULL)
			return -1;
		n = EVP_DecodeBlock(dec, (const unsigned char *)h + 6, (int)len);
		if (n <= 0) {
			free(dec);
			return -1;
		}
		/* EVP_DecodeBlock counts '=' padding as zero bytes. */
		while (n > 0 && len > 0 && h[6 + len - 1] == '=' && dec[n - 1] == '\0') {
			n--;
			len--;
		}
		dec[n] = '\0';
		if (memchr(dec, '\0', (size_t)n) != NULL ||
		    (colon = strchr((char *)dec, ':')) == NULL) {
			atr_wipe(dec, (size_t)n);
			free(dec);
			return -1;
		}
		*colon = '\0';
		r->basic_user = strdup((char *)dec);
		r->basic_pass = strdup(colon + 1);
		atr_wipe(dec, (size_t)n);
		free(dec);
		r->wants_basic = 1;
		return r->basic_user != NULL && r->basic_pass != NULL ? 0 : -1;
	}
	return -1;
}

/* Whether r's user (just read from the store) is a directory account. */
static int
directory_account(struct req *r)
{
	struct store_user_profile p;
	struct atr_err err;

	return store_user_get_profile(r->sc, r->user.name, &p, &err) == 0 &&
	    strcmp(p.source, "directory") == 0;
}

/* Reads the console's session cookie: sets token_hash and csrf. */
static int
cookie_session(struct req *r)
{
	const char *h = req_header(r, "Cookie"), *p;
	char token[65];
	unsigned char md[32];
	size_t n;

	if (h == NULL)
		return -1;
	for (p = h; (p = strstr(p, "atrium_admin=")) != NULL; p += 13) {
		if (p != h && p[-1] != ' ' && p[-1] != ';')
			continue;
		p += 13;
		n = strcspn(p, "; ");
		if (n != 64)
			return -1;
		memcpy(token, p, 64);
		token[64] = '\0';
		EVP_Digest(token, 64, md, NULL, EVP_sha256(), NULL);
		atr_hex(md, sizeof(md), r->token_hash);
		session_csrf(token, r->csrf);
		atr_wipe(token, sizeof(token));
		return 0;
	}
	return -1;
}

/* The user of r's session token: from the cache, else from the store. */
static int
lookup_session(struct req *r, struct atr_err *err)
{
	int64_t now = atr_now_ms() / 1000;

	if (session_cache_get(r->token_hash, now, &r->user))
		return 0;
	if (store_session_lookup(r->sc, r->token_hash, now, &r->user, err) == -1)
		return -1;
	session_cache_put(r->token_hash, &r->user, now, 0);
	return 0;
}

/* Authenticates and authorises r on the thread that runs its handler.
 * Returns 0 when the handler may run; else a response is set. */
static int
authorize(struct req *r)
{
	struct atr_err err;
	char hash[PASSWORD_HASH_MAX];

	atr_err_clear(&err);
	if (!(r->route->flags & R_AUTH))
		return 0;
	if (r->token_hash[0] != '\0') {
		if (lookup_session(r, &err) == -1) {
			resp_err(r, &err);
			return -1;
		}
	} else if ((r->route->flags & R_COOKIE) && cookie_session(r) == 0) {
		if (lookup_session(r, &err) == -1) {
			resp_err(r, &err);
			return -1;
		}
		if (r->method != HTTP_GET && r->method != HTTP_HEAD) {
			const char *sent = req_header(r, "X-CSRF-Token");
			if (sent == NULL || strlen(sent) != strlen(r->csrf) ||
			    CRYPTO_memcmp(sent, r->csrf, strlen(r->csrf)) != 0) {
				resp_error(r, ATR_E_FORBIDDEN,
				    "this change needs the page's CSRF token (X-CSRF-Token); reload "
				    "the console and try again");
				return -1;
			}
		}
	} else if (r->wants_basic) {
		struct login_try attempt;
		int found, ok;
		if (!atomic_load(&req_runtime(r)->password_login)) {
			atr_warn("Basic login refused for '%s' from %s: password_login is off",
			    r->basic_user, req_peer(r));
			resp_error(r, ATR_E_PASSWORD_LOGIN_OFF, "password login is off on this server: "
			    "log in with a client certificate (POST /api/v1/session without a password)");
			return -1;
		}
		found = store_user_get(r->sc, r->basic_user, &r->user, hash, sizeof(hash), &err) == 0;
		if (!found && err.code != ATR_E_NOT_FOUND) {
			resp_err(r, &err);
			return -1;
		}
		if (logins_begin(r, &attempt, r->basic_user, found) == -1)
			return -1;
		ok = password_verify(r->basic_pass, found ? hash : password_dummy_hash) && found;
		logins_end(r, &attempt, ok);
		if (ok && directory_account(r)) {
			/* Its password is the directory's, checked at login only
			 * (docs/directory.md); a local hash set on it is not one. */
			atr_warn("Basic login refused for '%s' from %s: a directory account",
			    r->basic_user, req_peer(r));
			resp_error(r, ATR_E_BAD_LOGIN, "'%s' is a directory account: log in with "
			    "POST /api/v1/session and send its token", r->basic_user);
			return -1;
		}
		if (!ok) {
			atr_warn("failed Basic login for '%s' from %s", r->basic_user,
			    req_peer(r));
			resp_error(r, ATR_E_BAD_LOGIN, "wrong user name or password");
			return -1;
		}
	} else {
		resp_error(r, ATR_E_UNAUTHORIZED,
		    "log in first: POST /api/v1/session, then send 'Authorization: Bearer TOKEN'");
		return -1;
	}
	r->authed = 1;
	if ((r->route->flags & R_ADMIN) && !req_is_admin(r)) {
		resp_error(r, ATR_E_FORBIDDEN, "only an admin may do this; '%s' is not an admin",
		    r->user.name);
		return -1;
	}
	return 0;
}

enum route_action
router_route(struct req *r)
{
	int method = r->method == HTTP_HEAD ? HTTP_GET : r->method;
	int path_known = 0;
	const struct route *table;
	struct atr_err err;
	size_t n;

	table_of(r, &table, &n);
	for (size_t i = 0; i < n; i++) {
		int m = match(r, table[i].pattern, r->path, 0);
		if (m != 1)
			continue;
		path_known = 1;
		if (table[i].method != method)
			continue;
		if (match(r, table[i].pattern, r->path, 1) == -1) {
			resp_error(r, ATR_E_BAD_REQUEST,
			    "the path has a malformed %%-escape (or an encoded NUL)");
			return ROUTE_RESPONDED;
		}
		r->route = &table[i];
		break;
	}
	if (r->route == NULL) {
		if (path_known)
			method_not_allowed(r);
		else
			resp_error(r, ATR_E_NOT_FOUND, "there is nothing at %s", r->path);
		return ROUTE_RESPONDED;
	}
	if (req_check_text(r, &err) == -1) {
		resp_err(r, &err);
		return ROUTE_RESPONDED;
	}
	if (parse_authorization(r) == -1) {
		resp_error(r, ATR_E_UNAUTHORIZED,
		    "the Authorization header is malformed; use 'Bearer TOKEN' or 'Basic ...'");
		return ROUTE_RESPONDED;
	}
	if (r->route->flags & R_STREAM) {
		if (r->content_length > atomic_load(&r->env.rt->max_revision_size)) {
			resp_error(r, ATR_E_TOO_LARGE,
			    "the content (%lld bytes) is larger than this server's max_revision_size"
			    " (%lld bytes)",
			    (long long)r->content_length,
			    (long long)atomic_load(&r->env.rt->max_revision_size));
			return ROUTE_RESPONDED;
		}
		return ROUTE_STREAM;
	}
	r->body_max = (r->route->flags & R_UPLOAD) ? REQ_UPLOAD_MAX : REQ_JSON_MAX;
	if (r->content_length > r->body_max) {
		resp_error(r, ATR_E_TOO_LARGE, "the request body is larger than %d KiB",
		    r->body_max / 1024);
		return ROUTE_RESPONDED;
	}
	return ROUTE_BUFFER;
}

static int
must_defer(struct req *r, int slow)
{
	return slow || r->wants_basic || store_is_blocking(r->env.rt->store);
}

/* ---- run: authenticate, then the handler. */

static void
run_work(struct job *j, struct store_conn *sc)
{
	struct req *r = (struct req *)j;

	r->sc = sc;
	if (authorize(r) == 0)
		r->route->handle(r);
	r->sc = NULL;
}

/* A streamed body was authorised in begin(): run the handler only. */
static void
handle_work(struct job *j, struct store_conn *sc)
{
	struct req *r = (struct req *)j;

	r->sc = sc;
	r->route->handle(r);
	r->sc = NULL;
}

static void
run_done(struct job *j)
{
	req_finish((struct req *)j);
}

void
router_run(struct req *r)
{
	int authed_already = (r->route->flags & R_STREAM) != 0;

	if (!must_defer(r, r->route->flags & R_SLOW)) {
		r->sc = r->env.sc;
		if (authed_already || authorize(r) == 0)
			r->route->handle(r);
		r->sc = NULL;
		req_finish(r);
		return;
	}
	r->job.work = authed_already ? handle_work : run_work;
	r->job.done = run_done;
	r->job.inbox = r->env.inbox;
	job_submit(r->env.pool, &r->job);
}

/* ---- begin (streaming routes): authenticate, then begin(). */

static void
begin_work(struct job *j, struct store_conn *sc)
{
	struct req *r = (struct req *)j;

	r->sc = sc;
	if (authorize(r) == 0)
		r->route->begin(r);
	r->sc = NULL;
}

static void
begin_done(struct job *j)
{
	req_begun((struct req *)j);
}

void
router_begin(struct req *r)
{
	if (!must_defer(r, 0)) {
		r->sc = r->env.sc;
		if (authorize(r) == 0)
			r->route->begin(r);
		r->sc = NULL;
		req_begun(r);
		return;
	}
	r->job.work = begin_work;
	r->job.done = begin_done;
	r->job.inbox = r->env.inbox;
	job_submit(r->env.pool, &r->job);
}
