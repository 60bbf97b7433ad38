/*
 * Directory sign-in: users of an LDAP directory (OpenLDAP, Active
 * Directory, ...) log in to Atrium with their directory password
 * (docs/directory.md). The client is OpenLDAP's libldap.
 *
 * Every connection is TLS and verified: ldaps://, or ldap:// with
 * StartTLS (required: a server that refuses StartTLS is an error, never a
 * plain fallback). libldap checks the chain and the host name itself
 * (TLS_REQCERT demand) against a PEM file of what is trusted: the
 * directory_ca_file when set, else the server trust store (truststore.h)
 * exported to DIR/tls/directory-trust.pem, written again whenever the
 * store changes. There is no setting that turns verification off.
 *
 * A password is checked by a bind as the user and never stored or
 * logged. The service account's password is read from
 * directory_bind_password_file when the settings are applied (start,
 * reload) and kept in memory only.
 *
 * Every call blocks on the network (at most directory_connect_timeout to
 * connect and directory_read_timeout per operation, per server): call
 * them from the job pool, never from an event loop. Thread-safe.
 */
#ifndef ATRIUM_SERVER_DIRECTORY_H
#define ATRIUM_SERVER_DIRECTORY_H

#include <jansson.h>

#include "atrium/config.h"
#include "atrium/err.h"

struct directory;
struct truststore;
struct outbound;

#define DIRECTORY_DN_MAX 1024
#define DIRECTORY_TEXT_MAX 256

/* Checks the directory_* settings of cfg (URLs, group map, files named):
 * 0, or -1 with err (ATR_E_CONFIG, field the setting). */
int directory_check_config(const struct atr_config *cfg, struct atr_err *err);

/* Checks that the bind password file (relative: inside datadir) can be
 * read as atriumd will read it when the settings are applied: 0, or -1
 * with err (field directory_bind_password_file). */
int directory_check_password_file(const char *datadir, const char *file, struct atr_err *err);

/* A directory client trusting ts (borrowed; outlives it), with ob
 * (borrowed) for the test's chain fetch; not configured until
 * directory_configure(). NULL without memory. */
struct directory *directory_new(const char *datadir, struct truststore *ts, struct outbound *ob);
void directory_free(struct directory *d);

/* Applies cfg's directory_* settings (start and every reload), all or
 * nothing: on -1 (err says why) the settings in force stay. */
int directory_configure(struct directory *d, const struct atr_config *cfg, struct atr_err *err);

/* Whether directory_urls names a server. */
int directory_enabled(struct directory *d);

/* Whether directory_login_order is directory,local. */
int directory_first(struct directory *d);

/* What the directory says of a user who logged in. */
struct directory_user {
	char dn[DIRECTORY_DN_MAX];
	char display_name[DIRECTORY_TEXT_MAX];
	char email[DIRECTORY_TEXT_MAX];
	char role[8];                  /* "admin" or "user" */
	char server[DIRECTORY_TEXT_MAX]; /* the URL that answered */
};

/*
 * Checks user's password against the directory: the servers in order
 * (the next one when a server cannot be reached or its TLS fails), bind
 * as the service account, search the user (exactly one entry), read the
 * groups, map them to a role, then bind as the user. 0 and *out filled
 * when the password is right. -1 with err: ATR_E_NOT_FOUND when the
 * directory has no such user, ATR_E_BAD_LOGIN for a wrong password,
 * ATR_E_FORBIDDEN when no group maps to a role and
 * directory_default_role is none, ATR_E_DIRECTORY when no server could
 * answer (the reason of each, with its fix), ATR_E_CONFIG when the
 * directory is not configured. password NULL: nothing is bound as the
 * user (a certificate login: the entry and its groups still decide).
 */
int directory_login(struct directory *d, const char *user, const char *password,
    struct directory_user *out, struct atr_err *err);

/*
 * The test that explains (`atrium admin directory test`): for each server,
 * the TLS version, the certificate presented (and for ldaps:// the chain),
 * the names in it and the name compared, the bind result and each
 * failure with its fix; with user (may be NULL) the user found, their
 * groups and the role they map to (no password: nothing is bound as the
 * user). A new JSON object, {"ok": bool, "servers": [...], "user": {...}};
 * NULL only without memory.
 */
json_t *directory_test(struct directory *d, const char *user);

#endif
