/* The directive table and the key = value parser built on it. */
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atrium/config.h"
#include "atrium/util.h"

enum dtype { T_STR, T_INT, T_BOOL, T_PORT, T_SIZE, T_ENUM };

/* How a value may be shown (--print-config and any other view). */
enum shown {
	SHOWN,           /* as it is */
	HIDDEN,          /* a secret: only whether it is set */
	PASSWORD_MASKED, /* a connection URL: its password masked */
};

struct directive {
	const char *name;
	enum dtype type;
	const char *def;     /* default, as text */
	int64_t min, max;    /* T_INT, T_SIZE */
	const char *choices; /* T_ENUM: "a|b|c" */
	enum shown shown;    /* how --print-config and others show it */
	const char *help;
};

/* One row per directive: parser, defaults, the written atrium.conf,
 * --print-defaults and docs/configuration.md all read this table. */
static const struct directive table[] = {
	{"name", T_STR, "Atrium", 0, 0, NULL, SHOWN,
	    "The server's name, shown to clients."},
	{"bind", T_STR, "127.0.0.1", 0, 0, NULL, SHOWN,
	    "Address every listener binds to. 127.0.0.1 accepts local connections only; "
	    "0.0.0.0 (or ::) opens the server to the network."},
	{"plain", T_BOOL, "on", 0, 0, NULL, SHOWN,
	    "Serve the API without TLS on `port`. Turn off to close the plain port."},
	{"port", T_PORT, "3579", 1, 65535, NULL, SHOWN,
	    "Port of the plain (unencrypted) API."},
	{"tls", T_BOOL, "on", 0, 0, NULL, SHOWN,
	    "Serve the API over TLS on `tls_port`."},
	{"tls_port", T_PORT, "10002", 1, 65535, NULL, SHOWN,
	    "Port of the TLS API."},
	{"admin", T_BOOL, "on", 0, 0, NULL, SHOWN,
	    "Serve the admin console (HTTPS only) on `admin_port`."},
	{"admin_port", T_PORT, "8443", 1, 65535, NULL, SHOWN,
	    "Port of the admin console."},
	{"tls_keystore", T_STR, "", 0, 0, NULL, SHOWN,
	    "Your own certificate: a JKS, PKCS#12 or PEM file (told apart by content; a relative "
	    "path is inside the data directory). Empty: the certificate from the local CA in "
	    "DIR/tls/, renewed automatically."},
	{"tls_keystore_password", T_STR, "", 0, 0, NULL, HIDDEN,
	    "The keystore's password (prefer tls_keystore_password_file)."},
	{"tls_keystore_password_file", T_STR, "", 0, 0, NULL, SHOWN,
	    "A file holding the keystore's password (first line), readable by atriumd only."},
	{"tls_keystore_alias", T_STR, "", 0, 0, NULL, SHOWN,
	    "The key entry to serve; empty means the keystore's only key entry."},
	{"tls_san", T_STR, "", 0, 0, NULL, SHOWN,
	    "More names and addresses (comma-separated) for the local CA's server certificate, "
	    "besides the host name, localhost, 127.0.0.1, ::1 and the machine's addresses."},
	{"workers", T_INT, "0", 0, 256, NULL, SHOWN,
	    "Event loops (threads serving connections); 0 means one per CPU core."},
	{"store_threads", T_INT, "4", 1, 256, NULL, SHOWN,
	    "Threads for slow work off the event loops: password hashing, fsync, "
	    "database round trips. Also the database connection pool size."},
	{"max_connections", T_INT, "10000", 1, 1000000, NULL, SHOWN,
	    "Open connections above this are refused."},
	{"events_heartbeat", T_INT, "15", 1, 3600, NULL, SHOWN,
	    "Seconds between the keep-alive comments of an idle change stream "
	    "(GET /api/v1/events), so that proxies keep it open."},
	{"events_max_watchers", T_INT, "2000", 1, 1000000, NULL, SHOWN,
	    "Change streams open at once; more are answered 503."},
	{"events_poll_ms", T_INT, "500", 50, 60000, NULL, SHOWN,
	    "With PostgreSQL: how often, in milliseconds, a node with open change streams looks "
	    "for events other nodes wrote (its own commits are seen at once)."},
	{"idle_timeout", T_INT, "60", 1, 86400, NULL, SHOWN,
	    "Seconds an idle keep-alive connection is kept open, and a client that stops "
	    "reading a response is waited for."},
	{"header_timeout", T_INT, "10", 1, 3600, NULL, SHOWN,
	    "Seconds a client has to send a request's headers once it has started, however "
	    "slowly the bytes come (a slowloris client is answered 408 and dropped)."},
	{"handshake_timeout", T_INT, "10", 1, 3600, NULL, SHOWN,
	    "Seconds a client has to complete the TLS handshake from connecting."},
	{"upload_stall_timeout", T_INT, "60", 1, 86400, NULL, SHOWN,
	    "Seconds without a byte of a request body (an upload) before the request is "
	    "answered 408 and the connection dropped; the partial upload is discarded."},
	{"login_attempts", T_INT, "5", 1, 1000, NULL, SHOWN,
	    "Failed password checks (API, console, Basic authentication, the old password of a "
	    "password change) allowed per client address and per user name in 15 minutes; more "
	    "are answered 429 with Retry-After. A check counts from its start, so concurrent "
	    "guesses cannot pass the limit; a right password gives it back."},
	{"session_hours", T_INT, "24", 1, 8760, NULL, SHOWN,
	    "Hours a login session (token) stays valid."},
	{"max_revision_size", T_SIZE, "64G", 1, INT64_MAX, NULL, SHOWN,
	    "Largest revision content accepted (K, M, G, T suffixes)."},
	{"database", T_STR, "sqlite", 0, 0, NULL, PASSWORD_MASKED,
	    "Where data lives: `sqlite` (embedded, in the data directory), or "
	    "postgresql://USER@HOST:PORT/DBNAME to share one PostgreSQL database between several "
	    "nodes (docs/postgresql.md). Keep the password out of the URL: use ~/.pgpass, "
	    "PGPASSWORD or a client certificate. The connection pool has `store_threads` "
	    "connections per node."},
	{"database_ssl", T_BOOL, "off", 0, 0, NULL, SHOWN,
	    "Encrypt the PostgreSQL connections with TLS and verify the server's certificate and "
	    "host name (sslmode=verify-full). atriumd refuses to start when the database offers "
	    "no TLS or its certificate does not verify."},
	{"database_ssl_mode", T_ENUM, "verify-full", 0, 0, "verify-full|require", SHOWN,
	    "With database_ssl = on: verify-full (the default), or require, which encrypts "
	    "without checking who answers and is logged as a warning at every start."},
	{"database_ssl_root_cert", T_STR, "", 0, 0, NULL, SHOWN,
	    "PEM file with the CA certificate(s) that signed the database server's certificate "
	    "(libpq's sslrootcert; default ~/.postgresql/root.crt)."},
	{"database_ssl_cert_file", T_STR, "", 0, 0, NULL, SHOWN,
	    "PEM client certificate for logging in to PostgreSQL by certificate (libpq's "
	    "sslcert); set database_ssl_key_file with it."},
	{"database_ssl_key_file", T_STR, "", 0, 0, NULL, SHOWN,
	    "PEM private key of database_ssl_cert_file (libpq's sslkey; mode 0600)."},
	{"database_cache_size", T_SIZE, "10G", 0, INT64_MAX, NULL, SHOWN,
	    "With PostgreSQL: room in DIR/cache for this node's verified copies of revision "
	    "content, so repeated checkouts are served from local files; least recently used "
	    "copies go first. 0 turns the cache off (every checkout reads the database)."},
	{"outbound_system_roots", T_BOOL, "on", 0, 0, NULL, SHOWN,
	    "Trust the system's root certificates (/etc/ssl/certs) for the server's outbound TLS "
	    "connections, besides DIR/tls/truststore.p12. Turn off to trust only that file."},
	{"outbound_allow", T_STR, "*", 0, 0, NULL, SHOWN,
	    "Where the server may connect out to (the trust store's fetch, integrations): "
	    "comma-separated host names (`*.example.com` for any name under example.com), IPv4 "
	    "and IPv6 addresses and CIDR networks (10.0.0.0/8, fd00::/8); `*` for anywhere, empty "
	    "for nowhere. A name not listed is allowed only when every address it resolves to is; "
	    "the connection goes to an address that was checked. Applies on reload."},
	{"integration_timeout", T_INT, "10", 1, 600, NULL, SHOWN,
	    "Seconds an integration's receiver has to answer a delivery (connection, TLS and "
	    "answer together); longer counts as a failed attempt, retried on the schedule."},
	{"integration_retries", T_STR, "5s,5m,30m,2h,5h,10h,14h,20h,24h", 0, 0, NULL, SHOWN,
	    "When a failed delivery is tried again, after the first attempt (which is immediate): "
	    "comma-separated waits with s, m, h or d (the Standard Webhooks schedule by default), "
	    "each with up to 10 % random jitter; a receiver's Retry-After (429, 503) is waited "
	    "for when longer. When the list is used up the integration is paused (logged, shown in "
	    "/healthz and /metrics) and `resume` sends again from where it stopped."},
	{"integration_log_days", T_INT, "30", 1, 3650, NULL, SHOWN,
	    "Days the delivery log and delivered events are kept (purged hourly)."},
	{"integration_response_max", T_SIZE, "64K", 1024, 16 * 1024 * 1024, NULL, SHOWN,
	    "Bytes of a receiver's answer read; the rest is not waited for. The first bytes of an "
	    "error answer are kept in the delivery log."},
	{"directory_urls", T_STR, "", 0, 0, NULL, SHOWN,
	    "Directory servers for directory sign-in (docs/directory.md), tried in order, separated "
	    "by spaces or commas: ldaps://HOST:636, or ldap://HOST:389 with StartTLS (required). "
	    "Every connection is verified (chain and host name); there is no way to turn that off. "
	    "Empty: no directory sign-in."},
	{"directory_bind_dn", T_STR, "", 0, 0, NULL, SHOWN,
	    "The service account that searches the directory for users and groups "
	    "(cn=atrium,ou=services,dc=example,dc=com). Empty: search anonymously."},
	{"directory_bind_password_file", T_STR, "", 0, 0, NULL, SHOWN,
	    "A file holding the service account's password (first line), readable by atriumd only; "
	    "read when settings are applied. The password is never logged."},
	{"directory_user_base", T_STR, "", 0, 0, NULL, SHOWN,
	    "Where users are searched (the whole subtree): ou=people,dc=example,dc=com."},
	{"directory_user_filter", T_STR, "(uid={user})", 0, 0, NULL, SHOWN,
	    "The filter that finds a user by the name typed at login; {user} is replaced by that "
	    "name, escaped. Active Directory: (sAMAccountName={user}). Add conditions to keep "
	    "accounts out, e.g. (&(uid={user})(!(pwdAccountLockedTime=*)))."},
	{"directory_display_name_attr", T_STR, "displayName", 0, 0, NULL, SHOWN,
	    "The user attribute copied to the Atrium account's display name (cn when the user has "
	    "none)."},
	{"directory_email_attr", T_STR, "mail", 0, 0, NULL, SHOWN,
	    "The user attribute copied to the Atrium account's email."},
	{"directory_group_base", T_STR, "", 0, 0, NULL, SHOWN,
	    "Where groups are searched: ou=groups,dc=example,dc=com. Empty: only the user's "
	    "memberOf values count."},
	{"directory_group_filter", T_STR, "(|(member={dn})(uniqueMember={dn})(memberUid={user}))", 0,
	    0, NULL, SHOWN,
	    "The filter that finds a user's groups; {dn} is the user's DN and {user} the login "
	    "name, both escaped."},
	{"directory_group_map", T_STR, "", 0, 0, NULL, SHOWN,
	    "Directory groups to Atrium roles: GROUP:ROLE pairs separated by ';', where GROUP is "
	    "a group's cn or its whole DN and ROLE is admin or user "
	    "(atrium-admins:admin; modelers:user). The highest role of a user's groups wins; "
	    "roles are refreshed at every login."},
	{"directory_default_role", T_ENUM, "user", 0, 0, "user|admin|none", SHOWN,
	    "The role of a directory user whose groups map to none: user, admin, or none (such "
	    "users cannot log in)."},
	{"directory_ca_file", T_STR, "", 0, 0, NULL, SHOWN,
	    "A PEM file of the CA certificates trusted for the directory alone. Empty: the server "
	    "trust store (DIR/tls/truststore.p12, with the system roots when "
	    "outbound_system_roots is on)."},
	{"directory_connect_timeout", T_INT, "5", 1, 300, NULL, SHOWN,
	    "Seconds to wait for a directory server to accept a connection before trying the next."},
	{"directory_read_timeout", T_INT, "10", 1, 300, NULL, SHOWN,
	    "Seconds to wait for each answer of a directory server."},
	{"directory_login_order", T_ENUM, "local,directory", 0, 0,
	    "local,directory|directory,local", SHOWN,
	    "Which is asked first at login. local,directory: a local account is checked with its "
	    "local password only and never reaches the directory; other names go to the "
	    "directory. directory,local: the directory decides every name it knows (a local "
	    "account of that name becomes a directory account at its first directory login); "
	    "local passwords are checked for names it does not know, and while it is down."},
	{"client_certificates", T_ENUM, "off", 0, 0, "off|optional|required", SHOWN,
	    "Client certificates (smart cards) on the TLS port and the admin console, which share "
	    "one TLS context: off (never asked for), optional (asked for; a connection without "
	    "one is served as before) or required (a connection without a certificate issued by "
	    "client_ca_file is refused at the handshake). docs/client-certificates.md."},
	{"client_ca_file", T_STR, "", 0, 0, NULL, SHOWN,
	    "A PEM file of the CA certificates that issue client certificates; required when "
	    "client_certificates is not off."},
	{"client_crl_files", T_STR, "", 0, 0, NULL, SHOWN,
	    "CRL files (PEM or DER, comma-separated) of client_ca_file's CAs, read at start and "
	    "reload. CRL distribution points named in the certificates are fetched besides."},
	{"client_crl_check", T_ENUM, "require", 0, 0, "require|if-available", SHOWN,
	    "require (fail closed): a certificate whose CRL cannot be had (no CRL file, the "
	    "distribution point down or refused by outbound_allow) cannot log in. if-available "
	    "(fail open): such a certificate logs in, with a warning in the log."},
	{"client_cert_user", T_STR, "{CN}", 0, 0, NULL, SHOWN,
	    "The user name a client certificate logs in as: a template over {CN} (the subject's "
	    "common name), {email} (the first email SubjectAltName, else the subject's "
	    "emailAddress), {upn} (the Microsoft UPN otherName SubjectAltName), {uid} (the "
	    "subject's UID), with other text kept, e.g. {upn} or cert-{CN}."},
	{"password_login", T_BOOL, "on", 0, 0, NULL, SHOWN,
	    "Logging in with a password (local or directory). off: certificate login only. The way "
	    "back in without a certificate: set it on in atrium.conf and reload."},
	{"log_level", T_ENUM, "info", 0, 0, "debug|info|warn|error", SHOWN,
	    "Least important log lines written: debug, info, warn or error."},
};

#define NDIRECTIVES (sizeof(table) / sizeof(table[0]))

struct atr_config {
	char *values[NDIRECTIVES]; /* NULL: the default */
};

static int
find(const char *key)
{
	for (size_t i = 0; i < NDIRECTIVES; i++)
		if (strcmp(table[i].name, key) == 0)
			return (int)i;
	return -1;
}

struct atr_config *
atr_config_new(void)
{
	return calloc(1, sizeof(struct atr_config));
}

struct atr_config *
atr_config_dup(const struct atr_config *cfg)
{
	struct atr_config *copy = atr_config_new();

	if (copy == NULL)
		return NULL;
	for (size_t i = 0; i < NDIRECTIVES; i++) {
		if (cfg->values[i] == NULL)
			continue;
		if ((copy->values[i] = strdup(cfg->values[i])) == NULL) {
			atr_config_free(copy);
			return NULL;
		}
	}
	return copy;
}

void
atr_config_free(struct atr_config *cfg)
{
	if (cfg == NULL)
		return;
	for (size_t i = 0; i < NDIRECTIVES; i++)
		atr_free_secret(cfg->values[i]);
	free(cfg);
}

static int
parse_bool(const char *v, int *out)
{
	static const char *const yes[] = {"on", "yes", "true", "1"};
	static const char *const no[] = {"off", "no", "false", "0"};

	for (int i = 0; i < 4; i++) {
		if (strcasecmp(v, yes[i]) == 0)
			return *out = 1, 0;
		if (strcasecmp(v, no[i]) == 0)
			return *out = 0, 0;
	}
	return -1;
}

static int
parse_int(const char *v, int64_t *out)
{
	char *end;
	long long n;

	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0')
		return -1;
	*out = n;
	return 0;
}

static int
parse_size(const char *v, int64_t *out)
{
	char *end;
	unsigned long long n;
	int shift = 0;

	errno = 0;
	if (!isdigit((unsigned char)*v))
		return -1;
	n = strtoull(v, &end, 10);
	if (errno != 0 || end == v)
		return -1;
	switch (toupper((unsigned char)*end)) {
	case '\0': break;
	case 'K': shift = 10; break;
	case 'M': shift = 20; break;
	case 'G': shift = 30; break;
	case 'T': shift = 40; break;
	default: return -1;
	}
	if (*end != '\0' && end[1] != '\0' && strcasecmp(end + 1, "B") != 0 &&
	    strcasecmp(end + 1, "iB") != 0)
		return -1;
	if (n > (unsigned long long)(INT64_MAX >> shift))
		return -1;
	*out = (int64_t)(n << shift);
	return 0;
}

static int
check_value(const struct directive *d, const char *v, const char *source, struct atr_err *err)
{
	int64_t n;
	int b;

	switch (d->type) {
	case T_STR:
		return 0;
	case T_BOOL:
		if (parse_bool(v, &b) == 0)
			return 0;
		return atr_err_set(err, ATR_E_CONFIG, "%s: %s must be on or off, not '%s'",
		    source, d->name, v);
	case T_INT:
	case T_PORT:
		if (parse_int(v, &n) == 0 && n >= d->min && n <= d->max)
			return 0;
		return atr_err_set(err, ATR_E_CONFIG,
		    "%s: %s must be a whole number from %lld to %lld, not '%s'", source,
		    d->name, (long long)d->min, (long long)d->max, v);
	case T_SIZE:
		if (parse_size(v, &n) == 0 && n >= d->min && n <= d->max)
			return 0;
		return atr_err_set(err, ATR_E_CONFIG,
		    "%s: %s must be a size such as 512M or 64G, not '%s'", source, d->name, v);
	case T_ENUM: {
		size_t len = strlen(v);
		for (const char *p = d->choices; *p;) {
			size_t w = strcspn(p, "|");
			if (w == len && strncmp(p, v, w) == 0)
				return 0;
			p += w + (p[w] == '|');
		}
		return atr_err_set(err, ATR_E_CONFIG, "%s: %s must be one of %s, not '%s'",
		    source, d->name, d->choices, v);
	}
	}
	return 0;
}

/* Whether v is a valid value for d; a refusal names d as its field. */
static int
validate(const struct directive *d, const char *v, const char *source, struct atr_err *err)
{
	if (check_value(d, v, source, err) == -1)
		return atr_err_set_field(err, d->name);
	return 0;
}

int
atr_config_set(struct atr_config *cfg, const char *key, const char *value, const char *source,
    struct atr_err *err)
{
	int i = find(key);
	char *copy;

	if (i < 0) {
		atr_err_set(err, ATR_E_CONFIG,
		    "%s: unknown setting '%s' (atriumd --print-defaults lists them)", source, key);
		return atr_err_set_field(err, key);
	}
	if (validate(&table[i], value, source, err) == -1)
		return -1;
	if ((copy = strdup(value)) == NULL)
		return atr_err_set(err, ATR_E_NOMEM, NULL);
	atr_free_secret(cfg->values[i]);
	cfg->values[i] = copy;
	return 0;
}

int
atr_config_merge(struct atr_config *dst, const struct atr_config *src, struct atr_err *err)
{
	for (size_t i = 0; i < NDIRECTIVES; i++) {
		char *copy;
		if (src->values[i] == NULL)
			continue;
		if ((copy = strdup(src->values[i])) == NULL)
			return atr_err_set(err, ATR_E_NOMEM, NULL);
		atr_free_secret(dst->values[i]);
		dst->values[i] = copy;
	}
	return 0;
}

static char *
trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

int
atr_config_load_file(struct atr_config *cfg, const char *path, struct atr_err *err)
{
	unsigned char *buf;
	size_t len;
	int rc;

	if (atr_read_file(path, ATR_CONFIG_FILE_MAX, &buf, &len, err) == -1)
		return -1;
	rc = atr_config_load_text(cfg, (const char *)buf, len, path, err);
	atr_wipe(buf, len);
	free(buf);
	return rc;
}

int
atr_config_load_text(struct atr_config *cfg, const char *text, size_t len, const char *path,
    struct atr_err *err)
{
	char *buf, *line, *next, source[512];
	int lineno = 0, rc = 0;

	if (memchr(text, '\0', len) != NULL)
		return atr_err_set(err, ATR_E_CONFIG, "%s: not a text file", path);
	if ((buf = malloc(len + 1)) == NULL)
		return atr_err_set(err, ATR_E_NOMEM, NULL);
	memcpy(buf, text, len);
	buf[len] = '\0';
	for (line = buf; line != NULL && rc == 0; line = next) {
		char *eq, *key, *value;

		lineno++;
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		snprintf(source, sizeof(source), "%s:%d", path, lineno);
		line = trim(line);
		if (*line == '\0' || *line == '#')
			continue;
		if ((eq = strchr(line, '=')) == NULL) {
			rc = atr_err_set(err, ATR_E_CONFIG,
			    "%s: expected 'key = value', found '%.*s'", source,
			    (int)atr_utf8_cut(line, 60), line);
			break;
		}
		*eq = '\0';
		key = trim(line);
		value = trim(eq + 1);
		if (*value == '"') {
			char *close = strrchr(value + 1, '"');
			if (close == NULL || trim(close + 1)[0] != '\0') {
				atr_err_set(err, ATR_E_CONFIG,
				    "%s: the quoted value of %s has no closing quote", source, key);
				rc = atr_err_set_field(err, key);
				break;
			}
			*close = '\0';
			value++;
		} else {
			char *hash = strstr(value, " #");
			if (hash != NULL)
				*hash = '\0';
			value = trim(value);
		}
		rc = atr_config_set(cfg, key, value, source, err);
	}
	atr_wipe(buf, len + 1);
	free(buf);
	return rc;
}

int
atr_config_load_env(struct atr_config *cfg, struct atr_err *err)
{
	char var[128];

	for (size_t i = 0; i < NDIRECTIVES; i++) {
		const char *v;
		size_t j;
		snprintf(var, sizeof(var), "ATRIUM_%s", table[i].name);
		for (j = 7; var[j]; j++)
			var[j] = (char)toupper((unsigned char)var[j]);
		if ((v = getenv(var)) == NULL)
			continue;
		if (atr_config_set(cfg, table[i].name, v, var, err) == -1)
			return -1;
	}
	return 0;
}

static const char *
value_of(const struct atr_config *cfg, int i)
{
	return cfg->values[i] != NULL ? cfg->values[i] : table[i].def;
}

static int
must_find(const char *key)
{
	int i = find(key);

	assert(i >= 0 && "config key not in the directive table");
	return i;
}

const char *
atr_config_str(const struct atr_config *cfg, const char *key)
{
	return value_of(cfg, must_find(key));
}

int64_t
atr_config_int(const struct atr_config *cfg, const char *key)
{
	int i = must_find(key);
	int64_t n = 0;

	if (table[i].type == T_SIZE)
		parse_size(value_of(cfg, i), &n);
	else
		parse_int(value_of(cfg, i), &n);
	return n;
}

int
atr_config_bool(const struct atr_config *cfg, const char *key)
{
	int b = 0;

	parse_bool(value_of(cfg, must_find(key)), &b);
	return b;
}

int
atr_config_given(const struct atr_config *cfg, const char *key)
{
	return cfg->values[must_find(key)] != NULL;
}

int
atr_config_is_set(const struct atr_config *cfg, const char *key)
{
	int i = must_find(key);

	return cfg->values[i] != NULL && strcmp(cfg->values[i], table[i].def) != 0;
}

static void
print_wrapped(FILE *out, const char *prefix, const char *text)
{
	size_t col = 0, plen = strlen(prefix);

	fputs(prefix, out);
	col = plen;
	while (*text) {
		size_t w = strcspn(text, " ");
		if (col > plen && col + 1 + w > 76) {
			fputc('\n', out);
			fputs(prefix, out);
			col = plen;
		} else if (col > plen) {
			fputc(' ', out);
			col++;
		}
		fwrite(text, 1, w, out);
		col += w;
		text += w;
		while (*text == ' ')
			text++;
	}
	fputc('\n', out);
}

static int
needs_quotes(const char *v)
{
	return *v == '\0' || isspace((unsigned char)*v) ||
	    isspace((unsigned char)v[strlen(v) - 1]) || strchr(v, '#') != NULL;
}

int
atr_config_write_defaults(const char *path, struct atr_err *err)
{
	char *text = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&text, &len);
	int rc;

	if (mem == NULL)
		return atr_err_set(err, ATR_E_NOMEM, NULL);
	fputs("# atriumd settings: `key = value`, `#` starts a comment.\n"
	      "# Every setting is shown with its default, commented out; remove the '#'\n"
	      "# to change one. Flags on the command line and ATRIUM_<KEY> environment\n"
	      "# variables override this file. `kill -HUP` re-reads it without a restart.\n",
	    mem);
	for (size_t i = 0; i < NDIRECTIVES; i++) {
		fputc('\n', mem);
		print_wrapped(mem, "# ", table[i].help);
		if (needs_quotes(table[i].def))
			fprintf(mem, "#%s = \"%s\"\n", table[i].name, table[i].def);
		else
			fprintf(mem, "#%s = %s\n", table[i].name, table[i].def);
	}
	fclose(mem);
	rc = atr_write_file_atomic(path, text, len, 0600, err);
	free(text);
	return rc;
}

/* Whether line (not NUL-terminated, len bytes) sets key. */
static int
line_sets(const char *line, size_t len, const char *key)
{
	size_t klen = strlen(key), i = 0;

	while (i < len && isspace((unsigned char)line[i]))
		i++;
	if (len - i < klen || strncmp(line + i, key, klen) != 0)
		return 0;
	i += klen;
	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	return i < len && line[i] == '=';
}

int
atr_config_text_set(const char *text, size_t len, const char *key, const char *value,
    char **out, size_t *outlen, struct atr_err *err)
{
	FILE *mem;
	int i = find(key), done = 0;

	*out = NULL;
	*outlen = 0;
	if (i < 0) {
		atr_err_set(err, ATR_E_CONFIG, "unknown setting '%s'", key);
		return atr_err_set_field(err, key);
	}
	if (value != NULL && validate(&table[i], value, key, err) == -1)
		return -1;
	if (value != NULL && strpbrk(value, "\r\n\"") != NULL) {
		atr_err_set(err, ATR_E_CONFIG, "%s: line breaks and quotes are not allowed", key);
		return atr_err_set_field(err, key);
	}
	if ((mem = open_memstream(out, outlen)) == NULL)
		return atr_err_set(err, ATR_E_NOMEM, NULL);
	for (size_t pos = 0; text != NULL && pos < len;) {
		const char *line = text + pos;
		const char *nl = memchr(line, '\n', len - pos);
		size_t n = nl != NULL ? (size_t)(nl - line) + 1 : len - pos;
		pos += n;
		if (line_sets(line, n, key)) {
			if (!done && value != NULL)
				fprintf(mem, needs_quotes(value) ? "%s = \"%s\"\n" : "%s = %s\n", key,
				    value);
			done = 1;
			continue;
		}
		fwrite(line, 1, n, mem);
		if (nl == NULL)
			fputc('\n', mem);
	}
	if (!done && value != NULL)
		fprintf(mem, needs_quotes(value) ? "%s = \"%s\"\n" : "%s = %s\n", key, value);
	if (fclose(mem) != 0 || *out == NULL) {
		free(*out);
		*out = NULL;
		return atr_err_set(err, ATR_E_NOMEM, NULL);
	}
	return 0;
}

int
atr_config_file_update(const char *path, const char *key, const char *value,
    struct atr_err *err)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	char *text = NULL;
	size_t tlen = 0;
	int rc;
	struct atr_err rerr;

	if (atr_read_file(path, ATR_CONFIG_FILE_MAX, &buf, &len, &rerr) == -1) {
		if (rerr.code != ATR_E_NOT_FOUND) {
			if (err != NULL)
				*err = rerr;
			return -1;
		}
		buf = NULL;
		len = 0;
	}
	rc = atr_config_text_set((const char *)buf, len, key, value, &text, &tlen, err);
	if (rc == 0)
		rc = atr_write_file_keep(path, text, tlen, 0600, err);
	if (buf != NULL)
		atr_wipe(buf, len);
	if (text != NULL)
		atr_wipe(text, tlen);
	free(buf);
	free(text);
	return rc;
}

char *
atr_config_show(const struct atr_config *cfg, const char *key)
{
	int i = must_find(key);
	const char *v = value_of(cfg, i);

	switch (table[i].shown) {
	case HIDDEN:
		return strdup(*v != '\0' ? "(set, not shown)" : "");
	case PASSWORD_MASKED:
		return atr_mask_password(v);
	case SHOWN:
		break;
	}
	return strdup(v);
}

void
atr_config_print(const struct atr_config *cfg, FILE *out)
{
	for (size_t i = 0; i < NDIRECTIVES; i++) {
		char *v = atr_config_show(cfg, table[i].name);
		const char *s = v != NULL ? v : "(not shown: out of memory)";
		if (needs_quotes(s))
			fprintf(out, "%s = \"%s\"\n", table[i].name, s);
		else
			fprintf(out, "%s = %s\n", table[i].name, s);
		free(v);
	}
}

/* Writes s into a markdown table cell: a '|' would end the cell. */
static void
put_cell(FILE *out, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '|')
			fputc('\\', out);
		fputc(*s, out);
	}
}

void
atr_config_print_markdown(FILE *out)
{
	fputs("| setting | default | meaning |\n| --- | --- | --- |\n", out);
	for (size_t i = 0; i < NDIRECTIVES; i++) {
		fprintf(out, "| `%s` | ", table[i].name);
		if (table[i].def[0] == '\0') {
			fputs("(empty)", out);
		} else {
			fputc('`', out);
			put_cell(out, table[i].def);
			fputc('`', out);
		}
		fputs(" | ", out);
		put_cell(out, table[i].help);
		fputs(" |\n", out);
	}
}
