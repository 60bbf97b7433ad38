/* The API's handlers (api_*.c), called by router.c. See docs/api.md. */
#ifndef ATRIUM_SERVER_API_H
#define ATRIUM_SERVER_API_H

#include "server/http.h"

/* Validates a user or project name (docs/api.md "Names"). NULL when fine,
 * else a sentence saying what is wrong. */
const char *api_name_problem(const char *name);

/*
 * Whether name may be given to a new user (kind "user") or project (kind
 * "project"): api_name_problem(), the Unicode policy of names.h
 * (ATR_E_BAD_NAME) and no look-alike of an existing name of that kind
 * (ATR_E_EXISTS, naming it). 0 when it may, else -1 with err set. Names
 * already stored stay reachable: lookups use api_name_problem() only.
 */
int api_new_name(struct store_conn *sc, const char *kind, const char *name,
    struct atr_err *err);

/* The project name in the path (the route's first '*'), checked; NULL
 * after answering 400 when it is not a valid name. */
const char *api_project_param(struct req *r);

/* The ?branch= of the request (trunk when absent) into out
 * (STORE_NAME_MAX + 1 bytes); -1 after answering 400 for a bad name. */
int api_branch_query(struct req *r, char *out);

/* NULL when an element's name is acceptable, else what is wrong with it
 * (api_locks.c). Elements are opaque: UTF-8 without control characters. */
const char *api_element_problem(const char *element);
/* A lock as the API shows it: {element, branch, holder, since}. */
json_t *api_lock_json(const struct store_lock *l);

/*
 * A listing being built by a store's each() callback. An item that could
 * not be built (NULL: a text jansson refuses, no memory) stops the
 * listing and fails it, so an answer never silently leaves items out.
 */
struct api_listing {
	json_t *items;
	int broken;
};

/* each()'s body: appends item (stolen); -1 to stop when it is NULL. */
int api_listing_add(struct api_listing *l, json_t *item);
/* The array (the caller's), or NULL when an item failed (which then makes
 * the json_pack() of the answer fail, answered 500 by resp_json()). */
json_t *api_listing_take(struct api_listing *l);

/* Formats seconds since 1970 as RFC 3339 UTC into out (32 bytes). */
void api_time(int64_t t, char *out);

void api_health(struct req *r);
void api_metrics(struct req *r);
void api_server_info(struct req *r);
void api_ca_crl(struct req *r);

void api_directory_get(struct req *r);
void api_directory_put(struct req *r);
void api_directory_test(struct req *r);

/*
 * Checks user's password for a login (the API's and the console's): the
 * local password of a local account, or the directory (directory.h), in
 * directory_login_order, inside the failed-login limit (logins.h). A
 * directory login makes or refreshes the account. 0 with *u the account;
 * -1 with r answered: 401 wrong name or password, 403 no role, 429 too
 * many attempts, 503 (ATR_E_DIRECTORY) when the directory could not be
 * asked and nothing else decided. kind ("login", "admin login") names the
 * attempt in the log. Blocks: job pool only (R_SLOW).
 */
/*
 * A login by the client certificate of r's connection (password_login
 * does not matter): verified by clientcert_verify() (chain to
 * client_ca_file, dates, CRLs), the name made by client_cert_user, the
 * local account of that name, else the directory's entry (no password
 * bind: the certificate vouched; the account is made or refreshed as at
 * a password login). Inside the failed-login limit. 0 with *u; -1 with r
 * answered with the reason (ATR_E_CLIENT_CERT_*). Job pool only.
 */
struct store_user;
int api_cert_login(struct req *r, const char *kind, struct store_user *u);

struct store_user;
/* password_login = off refuses every password (ATR_E_PASSWORD_LOGIN_OFF). */
int api_login_check(struct req *r, const char *user, const char *password, const char *kind,
    struct store_user *u);

void api_session_create(struct req *r);
void api_session_delete(struct req *r);

void api_projects_list(struct req *r);
void api_project_create(struct req *r);
void api_project_get(struct req *r);
void api_project_delete(struct req *r);

void api_revisions_list(struct req *r);
void api_revision_get(struct req *r);
void api_revision_content(struct req *r);
void api_revision_begin(struct req *r);
void api_revision_commit(struct req *r);

/* Chunked content (api_chunks.c, docs/delta.md). */
void api_chunks_missing(struct req *r);
void api_chunk_put(struct req *r);
void api_chunks_put(struct req *r);
void api_content_create(struct req *r);
void api_revision_manifest(struct req *r);
void api_chunk_get(struct req *r);
/* A commit naming stored content (X-Atrium-Content: sha256:HEX) instead of
 * sending it: 1 when the request does (then *size and sha256 are filled,
 * or it was answered and -1 is returned), 0 when it sends a body. */
int api_content_ref(struct req *r, int64_t *size, char sha256[65]);

void api_locks_list(struct req *r);
void api_lock_take(struct req *r);
void api_lock_release(struct req *r);
void api_locks_release(struct req *r);

void api_branches_list(struct req *r);
void api_branch_create(struct req *r);
void api_branch_get(struct req *r);
void api_branch_delete(struct req *r);
void api_tags_list(struct req *r);
void api_tag_create(struct req *r);
void api_tag_get(struct req *r);
void api_tag_delete(struct req *r);

void api_users_list(struct req *r);
void api_user_create(struct req *r);
void api_user_delete(struct req *r);
void api_user_password(struct req *r);

/* The admin console's API (api_admin.c, docs/admin-api.md). */
void api_admin_login(struct req *r);
/* Whether the connection presented a client certificate, for the login
 * page's "Log in with your certificate" button (not verified here). */
void api_admin_login_cert(struct req *r);
void api_admin_logout(struct req *r);
void api_admin_session(struct req *r);
void api_admin_settings(struct req *r);
void api_admin_certificate(struct req *r);
void api_admin_put_tls(struct req *r);
void api_admin_clear_tls(struct req *r);
void api_admin_put_plain(struct req *r);
void api_admin_download(struct req *r);
void api_admin_user_role(struct req *r);
void api_admin_static(struct req *r);

/* The server's trust store for outbound TLS (api_trust.c, truststore.h). */
void api_trust_list(struct req *r);
void api_trust_import(struct req *r);
void api_trust_remove(struct req *r);
void api_trust_fetch(struct req *r);

/* Integrations: where events are delivered (api_integrations.c, store.h). */
void api_integrations_list(struct req *r);
void api_integration_create(struct req *r);
void api_integration_get(struct req *r);
void api_integration_update(struct req *r);
void api_integration_delete(struct req *r);
void api_integration_pause(struct req *r);
void api_integration_resume(struct req *r);
void api_integration_rotate(struct req *r);
void api_integration_test(struct req *r);
void api_integration_log(struct req *r);
void api_integration_redeliver(struct req *r);

/* api_events.c */
void api_events_stream(struct req *r);

#endif
