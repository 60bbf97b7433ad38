/*
 * The shared store: PostgreSQL through libpq, so that several atriumd nodes
 * can serve one set of users, projects, revisions, locks and content.
 *
 * Connections: database = postgresql://USER@HOST:PORT/DBNAME (any libpq
 * URL, several hosts included). With database_ssl = on every connection
 * is TLS with sslmode=verify-full unless database_ssl_mode lowers it to
 * require (logged as a warning at every start); database_ssl_root_cert,
 * _cert_file and _key_file give the CA and a client certificate. At open
 * a probe connection asks pg_stat_ssl whether it is encrypted and logs
 * the protocol and cipher; with database_ssl = on a server without TLS,
 * or one whose certificate does not verify, stops the start.
 *
 * Consistency: every change that must happen together is one transaction.
 * A commit locks its project's row (SELECT ... FOR UPDATE), so commits to
 * one project are serialised across all nodes; removing the last admin is
 * prevented with the admin rows locked. Messages and error codes are the
 * embedded store's (store_sqlite.c), word for word.
 *
 * Passwords: a URL may carry one. It is never logged: descriptions are
 * built from the parsed URL without it, and any libpq message that
 * repeats it is masked.
 */
#include <assert.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "atrium/log.h"
#include "atrium/util.h"
#include "server/event.h"
#include "server/store_pg_int.h"

/* 1: users, sessions, projects, revisions, locks, content.
 * 2: events, integrations, deliveries (store_pg_events.c), added to a
 *    database of schema 1 by the same CREATE ... IF NOT EXISTS.
 * 3: branches and tags; revisions and locks keyed by branch
 *    (store_pg_branches.c: an older database's go to trunk). */
#define SCHEMA_VERSION 3
#define SCHEMA_LOCK_KEY 2026112706 /* advisory lock while creating the schema */
#define GC_AGE (24 * 3600)         /* abandoned work older than this is collected */
#define GC_EVERY 3600

static const struct store_ops pg_ops;
static int pg_profile_columns(struct pg_conn *c, struct atr_err *err);

static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS users("
    "  name TEXT PRIMARY KEY, hash TEXT NOT NULL,"
    "  role TEXT NOT NULL CHECK (role IN ('admin','user')), created BIGINT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS sessions("
    "  token_hash TEXT PRIMARY KEY,"
    "  username TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,"
    "  expires BIGINT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS sessions_username ON sessions(username);"
    "CREATE INDEX IF NOT EXISTS sessions_expires ON sessions(expires);"
    "CREATE TABLE IF NOT EXISTS projects("
    "  id BIGSERIAL PRIMARY KEY, name TEXT UNIQUE NOT NULL, description TEXT NOT NULL,"
    "  created BIGINT NOT NULL, created_by TEXT NOT NULL, head BIGINT NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS revisions("
    "  project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,"
    "  number BIGINT NOT NULL, author TEXT NOT NULL, message TEXT NOT NULL,"
    "  time BIGINT NOT NULL, size BIGINT NOT NULL, sha256 TEXT NOT NULL,"
    "  PRIMARY KEY (project_id, number));"
    "CREATE INDEX IF NOT EXISTS revisions_sha256 ON revisions(sha256);"
    "CREATE TABLE IF NOT EXISTS locks("
    "  project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,"
    "  element TEXT NOT NULL,"
    "  holder TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,"
    "  since BIGINT NOT NULL, PRIMARY KEY (project_id, element));"
    "CREATE INDEX IF NOT EXISTS locks_holder ON locks(holder);"
    /* Content: each uploaded piece is one row of content_chunks, keyed by
     * its upload and byte offset; blobs maps a SHA-256 to the upload that
     * holds it. pending counts commits on their way (pins). */
    "CREATE TABLE IF NOT EXISTS uploads("
    "  id BIGSERIAL PRIMARY KEY, started BIGINT NOT NULL, touched BIGINT NOT NULL,"
    "  published BOOLEAN NOT NULL DEFAULT false);"
    "CREATE TABLE IF NOT EXISTS content_chunks("
    "  upload_id BIGINT NOT NULL REFERENCES uploads(id) ON DELETE CASCADE,"
    "  pos BIGINT NOT NULL, data BYTEA NOT NULL, PRIMARY KEY (upload_id, pos));"
    /* Stored out of line, uncompressed: substr() then reads only the
     * TOAST pages of the range asked for, and model files rarely
     * compress well enough to pay for it. */
    "ALTER TABLE content_chunks ALTER COLUMN data SET STORAGE EXTERNAL;"
    "CREATE TABLE IF NOT EXISTS blobs("
    "  sha256 TEXT PRIMARY KEY, upload_id BIGINT NOT NULL REFERENCES uploads(id),"
    "  size BIGINT NOT NULL, pending INTEGER NOT NULL DEFAULT 0, touched BIGINT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS blobs_upload ON blobs(upload_id);";

/* ---- messages */

/*
 * Copies src into dst (size bytes) as one line: newlines become "; ",
 * trailing space goes, and every occurrence of secret is masked.
 */
static void
clean_message(char *dst, size_t size, const char *src, const char *secret)
{
	size_t o = 0, slen = secret != NULL ? strlen(secret) : 0;

	if (size == 0)
		return;
	for (const char *p = src != NULL ? src : ""; *p != '\0' && o + 1 < size;) {
		if (slen > 0 && strncmp(p, secret, slen) == 0) {
			for (const char *m = "***"; *m != '\0' && o + 1 < size; m++)
				dst[o++] = *m;
			p += slen;
			continue;
		}
		if (*p == '\n') {
			while (*p == '\n' || *p == ' ' || *p == '\t')
				p++;
			if (*p != '\0' && o + 2 < size) {
				dst[o++] = ';';
				dst[o++] = ' ';
			}
			continue;
		}
		dst[o++] = *p++;
	}
	while (o > 0 && (dst[o - 1] == ' ' || dst[o - 1] == '.'))
		o--;
	dst[o] = '\0';
}

/* libpq's last message on c's connection, cleaned. */
static void
conn_message(struct pg_store *st, PGconn *db, char *out, size_t size)
{
	clean_message(out, size, db != NULL ? PQerrorMessage(db) : "out of memory", st->secret);
}

/*
 * The sentence for a connection that failed: names the setting to fix
 * when the failure is about TLS. Returns -1.
 */
static int
connect_failed(struct pg_store *st, PGconn *db, struct atr_err *err)
{
	char msg[300];

	conn_message(st, db, msg, sizeof(msg));
	if (strstr(msg, "does not support SSL") != NULL)
		return atr_err_set(err, ATR_E_TLS,
		    "database_ssl = on, but the database server (%s) does not offer TLS: "
		    "turn on ssl in its postgresql.conf, or set database_ssl = off "
		    "(libpq: %s)", st->describe, msg);
	if (strstr(msg, "certificate verify failed") != NULL)
		return atr_err_set(err, ATR_E_TLS,
		    "the database server's certificate (%s) does not verify against "
		    "database_ssl_root_cert (%s): it is not signed by that CA, or has expired; "
		    "give the CA that signed it (libpq: %s)", st->describe,
		    st->root_cert[0] != '\0' ? st->root_cert : "~/.postgresql/root.crt", msg);
	if (strstr(msg, "does not match host name") != NULL ||
	    strstr(msg, "server certificate for") != NULL)
		return atr_err_set(err, ATR_E_TLS,
		    "the database server's certificate is not made out for the host name in "
		    "database (%s); use the name in its certificate (libpq: %s)", st->describe,
		    msg);
	if (strstr(msg, "root certificate file") != NULL)
		return atr_err_set(err, ATR_E_TLS,
		    "database_ssl_mode = verify-full needs the CA certificate of the database "
		    "server: set database_ssl_root_cert (libpq: %s)", msg);
	if (strstr(msg, "certificate") != NULL || strstr(msg, "SSL") != NULL)
		return atr_err_set(err, ATR_E_TLS,
		    "the TLS connection to the database (%s) failed; check the database_ssl "
		    "settings (libpq: %s)", st->describe, msg);
	return atr_err_set(err, ATR_E_DATABASE, "cannot connect to the database (%s): %s",
	    st->describe, msg);
}

/* Fills err for a failed statement on c. Returns -1. */
static int
query_failed(struct pg_conn *c, const PGresult *res, const char *what, struct atr_err *err)
{
	const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *primary = res != NULL ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	char msg[300];

	if (state != NULL && strcmp(state, "23505") == 0)
		return atr_err_set(err, ATR_E_EXISTS, NULL);
	if (primary != NULL)
		clean_message(msg, sizeof(msg), primary, c->st->secret);
	else
		conn_message(c->st, c->db, msg, sizeof(msg));
	if (state != NULL && (strcmp(state, "40P01") == 0 || strcmp(state, "40001") == 0))
		return atr_err_set(err, ATR_E_UNAVAILABLE,
		    "the database was busy while %s (%s); try again", what, msg);
	if (c->db == NULL || PQstatus(c->db) != CONNECTION_OK)
		return atr_err_set(err, ATR_E_DATABASE,
		    "the database connection was lost while %s (%s); try again", what, msg);
	if (state != NULL && strcmp(state, "42501") == 0)
		return atr_err_set(err, ATR_E_DATABASE,
		    "database error while %s: %s; the database user needs to own the database "
		    "(CREATE DATABASE ... OWNER ...)", what, msg);
	return atr_err_set(err, ATR_E_DATABASE, "database error while %s: %s", what, msg);
}

/* ---- connections */

/* The server's notices ("... already exists, skipping") are not news. */
static void
on_notice(void *arg, const char *message)
{
	char msg[300];

	clean_message(msg, sizeof(msg), message, ((struct pg_store *)arg)->secret);
	atr_debug("database: %s", msg);
}

static PGconn *
pg_connect(struct pg_store *st, struct atr_err *err)
{
	PGconn *db = PQconnectdbParams(st->keys, (const char *const *)st->vals, 1);

	if (db == NULL || PQstatus(db) != CONNECTION_OK) {
		connect_failed(st, db, err);
		PQfinish(db);
		return NULL;
	}
	PQsetNoticeProcessor(db, on_notice, st);
	return db;
}

/*
 * Whether an idle connection still works. An idle connection with bytes
 * to read has been told something: a notice, or that the server is going
 * away (restart, failover), in which case it is closed by now.
 */
static int
still_up(PGconn *db)
{
	struct pollfd pfd = {PQsocket(db), POLLIN, 0};

	/* The goodbye (a FATAL message, which libpq passes to the notice
	 * processor when idle) and the end of the stream may take a read
	 * each. */
	for (int i = 0; i < 8; i++) {
		if (PQstatus(db) != CONNECTION_OK)
			return 0;
		if (pfd.fd < 0 || poll(&pfd, 1, 0) != 1)
			return 1;
		if (PQconsumeInput(db) != 1)
			return 0;
	}
	return PQstatus(db) == CONNECTION_OK;
}

int
pg_ready(struct pg_conn *c, struct atr_err *err)
{
	if (c->db != NULL && (c->in_tx ? PQstatus(c->db) == CONNECTION_OK : still_up(c->db)))
		return 0;
	if (c->in_tx)
		return atr_err_set(err, ATR_E_DATABASE,
		    "the database connection was lost in the middle of a transaction (nothing of it "
		    "was kept); try again");
	if (c->db != NULL) {
		atr_warn("the database connection was lost; reconnecting to %s", c->st->describe);
		PQfinish(c->db);
		c->db = NULL;
	}
	c->nprepared = 0; /* a new session knows none of them */
	if ((c->db = pg_connect(c->st, err)) == NULL)
		return -1;
	return 0;
}

/* Runs sql with parameters, through a statement prepared on first use. */
static PGresult *
pg_exec(struct pg_conn *c, const char *sql, int n, const char *const *vals, const int *lens,
    const int *fmts, int binres)
{
	char name[16];
	int i;

	for (i = 0; i < c->nprepared; i++)
		if (c->prepared[i] == sql)
			break;
	if (i == c->nprepared && c->nprepared < PG_PREPARED_MAX) {
		/* Named statements belong to the session, not to a transaction:
		 * they survive a rollback. */
		PGresult *res;
		snprintf(name, sizeof(name), "atr%d", i);
		res = PQprepare(c->db, name, sql, n, NULL);
		if (PQresultStatus(res) == PGRES_COMMAND_OK)
			c->prepared[c->nprepared++] = sql;
		PQclear(res);
	}
	if (i < c->nprepared) {
		snprintf(name, sizeof(name), "atr%d", i);
		return PQexecPrepared(c->db, name, n, vals, lens, fmts, binres);
	}
	return PQexecParams(c->db, sql, n, NULL, vals, lens, fmts, binres);
}

PGresult *
pg_query(struct pg_conn *c, struct atr_err *err, const char *what, int binres, const char *sql,
    const char *types, ...)
{
	const char *vals[PG_MAX_PARAMS];
	int lens[PG_MAX_PARAMS], fmts[PG_MAX_PARAMS];
	char nums[PG_MAX_PARAMS][24];
	PGresult *res;
	ExecStatusType rs;
	va_list ap;
	int n;

	if (pg_ready(c, err) == -1)
		return NULL;
	va_start(ap, types);
	for (n = 0; types[n] != '\0'; n++) {
		assert(n < PG_MAX_PARAMS);
		lens[n] = 0;
		fmts[n] = 0;
		switch (types[n]) {
		case 't':
			vals[n] = va_arg(ap, const char *);
			break;
		case 'i':
			snprintf(nums[n], sizeof(nums[n]), "%lld", (long long)va_arg(ap, int64_t));
			vals[n] = nums[n];
			break;
		case 'b':
			vals[n] = va_arg(ap, const char *);
			lens[n] = (int)va_arg(ap, size_t);
			fmts[n] = 1;
			break;
		default:
			assert(!"unknown parameter type");
		}
	}
	va_end(ap);
	res = pg_exec(c, sql, n, vals, lens, fmts, binres);
	rs = PQresultStatus(res);
	if (res != NULL && (rs == PGRES_COMMAND_OK || rs == PGRES_TUPLES_OK))
		return res;
	query_failed(c, res, what, err);
	PQclear(res);
	return NULL;
}

int
pg_cmd(struct pg_conn *c, struct atr_err *err, const char *what, const char *sql,
    const char *types, ...)
{
	const char *vals[PG_MAX_PARAMS];
	char nums[PG_MAX_PARAMS][24];
	PGresult *res;
	ExecStatusType rs;
	va_list ap;
	int n;

	/* Text and integer parameters only (pg_query() takes bytes). */
	if (pg_ready(c, err) == -1)
		return -1;
	va_start(ap, types);
	for (n = 0; types[n] != '\0'; n++) {
		assert(n < PG_MAX_PARAMS && (types[n] == 't' || types[n] == 'i'));
		if (types[n] == 't') {
			vals[n] = va_arg(ap, const char *);
		} else {
			snprintf(nums[n], sizeof(nums[n]), "%lld", (long long)va_arg(ap, int64_t));
			vals[n] = nums[n];
		}
	}
	va_end(ap);
	res = pg_exec(c, sql, n, vals, NULL, NULL, 0);
	rs = PQresultStatus(res);
	if (res != NULL && (rs == PGRES_COMMAND_OK || rs == PGRES_TUPLES_OK)) {
		PQclear(res);
		return 0;
	}
	query_failed(c, res, what, err);
	PQclear(res);
	return -1;
}

/* The number of rows the last command of res changed. */
int64_t
pg_changed(const PGresult *res)
{
	return strtoll(PQcmdTuples((PGresult *)res), NULL, 10);
}

void
pg_rollback(struct pg_conn *c)
{
	c->in_tx = 0;
	if (c->db != NULL && PQstatus(c->db) == CONNECTION_OK &&
	    PQtransactionStatus(c->db) != PQTRANS_IDLE)
		PQclear(PQexec(c->db, "ROLLBACK"));
}

int
pg_begin(struct pg_conn *c, struct atr_err *err)
{
	pg_rollback(c); /* never inherit a transaction a failure left open */
	if (pg_cmd(c, err, "starting a transaction", "BEGIN", "") == -1)
		return -1;
	c->in_tx = 1;
	return 0;
}

int
pg_commit(struct pg_conn *c, struct atr_err *err)
{
	int rc = pg_cmd(c, err, "committing", "COMMIT", "");

	c->in_tx = 0;
	return rc;
}


int64_t
pg_int(const PGresult *res, int row, int col)
{
	if (PQgetisnull(res, row, col))
		return 0;
	return strtoll(PQgetvalue(res, row, col), NULL, 10);
}

void
pg_copy_text(char *dst, size_t size, const PGresult *res, int row, int col)
{
	snprintf(dst, size, "%s", PQgetisnull(res, row, col) ? "" : PQgetvalue(res, row, col));
}

/* ---- opening */

static void pg_close(struct store *base);
static struct store_conn *pg_conn_open(struct store *base, struct atr_err *err);
static void pg_conn_close(struct store_conn *sc);

/* Adds a connection parameter (value copied). */
static int
add_param(struct pg_store *st, const char *key, const char *value)
{
	int n = 0;

	while (st->keys[n] != NULL)
		n++;
	assert(n + 1 < (int)(sizeof(st->keys) / sizeof(st->keys[0])));
	if ((st->vals[n] = strdup(value)) == NULL)
		return -1;
	st->keys[n] = key;
	return 0;
}

static const char *
option(const PQconninfoOption *opts, const char *key)
{
	for (; opts->keyword != NULL; opts++)
		if (strcmp(opts->keyword, key) == 0)
			return opts->val != NULL && opts->val[0] != '\0' ? opts->val : NULL;
	return NULL;
}

/*
 * Reads the URL and the database_ssl* settings into st's connection
 * parameters and description.
 */
static int
configure(struct pg_store *st, const struct atr_config *cfg, struct atr_err *err)
{
	const char *url = atr_config_str(cfg, "database");
	const char *mode = atr_config_str(cfg, "database_ssl_mode");
	const char *root = atr_config_str(cfg, "database_ssl_root_cert");
	const char *cert = atr_config_str(cfg, "database_ssl_cert_file");
	const char *key = atr_config_str(cfg, "database_ssl_key_file");
	PQconninfoOption *opts;
	const char *host, *port, *user, *db, *pw;
	char *perr = NULL;
	int rc = -1;

	if ((opts = PQconninfoParse(url, &perr)) == NULL) {
		/* The message may quote the URL: no password can be masked in
		 * a URL that does not parse, so it is left out. */
		PQfreemem(perr);
		return atr_err_set(err, ATR_E_CONFIG,
		    "database is not a valid PostgreSQL URL; write it as "
		    "postgresql://USER@HOST:PORT/DBNAME");
	}
	if ((pw = option(opts, "password")) != NULL && (st->secret = strdup(pw)) == NULL)
		goto nomem;
	host = option(opts, "host");
	if (host == NULL)
		host = option(opts, "hostaddr");
	port = option(opts, "port");
	user = option(opts, "user");
	db = option(opts, "dbname");
	st->ssl = atr_config_bool(cfg, "database_ssl");
	snprintf(st->sslmode, sizeof(st->sslmode), "%s", mode);
	snprintf(st->root_cert, sizeof(st->root_cert), "%s", root);
	snprintf(st->describe, sizeof(st->describe), "postgresql://%s%s%s:%s/%s%s%s",
	    user != NULL ? user : "", user != NULL ? "@" : "", host != NULL ? host : "localhost",
	    port != NULL ? port : "5432", db != NULL ? db : (user != NULL ? user : ""),
	    st->ssl ? " over TLS " : "", st->ssl ? st->sslmode : "");

	/* The URL first: later parameters override what it says. */
	if (add_param(st, "dbname", url) == -1 || add_param(st, "client_encoding", "UTF8") == -1)
		goto nomem;
	if (option(opts, "application_name") == NULL &&
	    add_param(st, "application_name", "atriumd") == -1)
		goto nomem;
	if (option(opts, "connect_timeout") == NULL &&
	    add_param(st, "connect_timeout", "10") == -1)
		goto nomem;
	/* With several hosts (a primary and its standbys) write to the one
	 * that takes writes. */
	if (option(opts, "target_session_attrs") == NULL &&
	    add_param(st, "target_session_attrs", "read-write") == -1)
		goto nomem;
	if (st->ssl) {
		/* libpq turns require into verify-ca when it finds a root
		 * certificate; require here means what it says. */
		int verify = strcmp(mode, "verify-full") == 0;
		if (add_param(st, "sslmode", mode) == -1 ||
		    (verify && root[0] != '\0' && add_param(st, "sslrootcert", root) == -1) ||
		    (cert[0] != '\0' && add_param(st, "sslcert", cert) == -1) ||
		    (key[0] != '\0' && add_param(st, "sslkey", key) == -1))
			goto nomem;
		if ((cert[0] != '\0') != (key[0] != '\0')) {
			atr_err_set(err, ATR_E_CONFIG,
			    "database_ssl_cert_file and database_ssl_key_file go together: set both "
			    "for a client certificate, or neither");
			goto out;
		}
		if (!verify)
			atr_warn("database_ssl_mode = %s: the database server's certificate is NOT "
				 "verified%s, so anyone on the network path can pose as the database "
				 "and read everything; set database_ssl_root_cert and "
				 "database_ssl_mode = verify-full",
			    mode, root[0] != '\0' ? " (database_ssl_root_cert is not used)" : "");
	} else {
		if (root[0] != '\0' || cert[0] != '\0' || key[0] != '\0')
			atr_warn("database_ssl = off: database_ssl_root_cert, database_ssl_cert_file "
				 "and database_ssl_key_file are ignored; set database_ssl = on to use "
				 "them");
	}
	rc = 0;
	goto out;
nomem:
	atr_err_set(err, ATR_E_NOMEM, NULL);
out:
	PQconninfoFree(opts);
	return rc;
}

/* Asks pg_stat_ssl how the probe connection is secured and logs it; with
 * database_ssl = on an unencrypted connection is refused. */
static int
check_tls(struct pg_store *st, struct pg_conn *c, struct atr_err *err)
{
	PGresult *res = pg_query(c, err, "reading pg_stat_ssl", 0,
	    "SELECT ssl, coalesce(version, ''), coalesce(cipher, ''), coalesce(bits, 0),"
	    " current_setting('server_version')"
	    " FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
	    "");
	int encrypted;

	if (res == NULL)
		return -1;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return atr_err_set(err, ATR_E_DATABASE,
		    "pg_stat_ssl has no row for this connection; cannot confirm it is encrypted");
	}
	encrypted = strcmp(PQgetvalue(res, 0, 0), "t") == 0 && PQsslInUse(c->db);
	if (st->ssl && !encrypted) {
		PQclear(res);
		return atr_err_set(err, ATR_E_TLS,
		    "database_ssl = on, but pg_stat_ssl shows the connection to %s is not "
		    "encrypted; refusing to start",
		    st->describe);
	}
	if (encrypted)
		atr_info("database %s (PostgreSQL %s): connection encrypted with %s, %s (%lld-bit)"
			 "%s",
		    st->describe, PQgetvalue(res, 0, 4), PQgetvalue(res, 0, 1),
		    PQgetvalue(res, 0, 2), (long long)pg_int(res, 0, 3),
		    !st->ssl ? ", but the server's certificate is not verified "
			       "(database_ssl = off)"
		    : strcmp(st->sslmode, "verify-full") == 0
			? "; server certificate and host name verified"
			: "; server certificate NOT verified (database_ssl_mode)");
	else
		atr_warn("database %s (PostgreSQL %s): the connection is NOT encrypted "
			 "(database_ssl = off): passwords and project content cross the network "
			 "in the clear; set database_ssl = on",
		    st->describe, PQgetvalue(res, 0, 4));
	PQclear(res);
	return 0;
}

/* Creates the tables once; several nodes starting together wait for the
 * first one's advisory lock. */
static int
ensure_schema(struct pg_conn *c, struct atr_err *err)
{
	PGresult *res;
	int64_t version = 0;

	if (pg_begin(c, err) == -1)
		return -1;
	if (pg_cmd(c, err, "creating the schema", "SELECT pg_advisory_xact_lock($1)", "i",
		(int64_t)SCHEMA_LOCK_KEY) == -1)
		goto fail;
	res = pg_query(c, err, "reading the schema version", 0,
	    "SELECT to_regclass('atrium_schema') IS NOT NULL, to_regclass('users') IS NOT NULL", "");
	if (res == NULL)
		goto fail;
	if (strcmp(PQgetvalue(res, 0, 0), "t") != 0 && strcmp(PQgetvalue(res, 0, 1), "t") == 0) {
		PQclear(res);
		atr_err_set(err, ATR_E_CONFIG,
		    "the database %s already has tables that are not Atrium's; give Atrium a "
		    "database of its own (CREATE DATABASE atrium OWNER ...)",
		    PQdb(c->db));
		goto fail;
	}
	if (strcmp(PQgetvalue(res, 0, 0), "t") == 0) {
		PQclear(res);
		if ((res = pg_query(c, err, "reading the schema version", 0,
			 "SELECT coalesce(max(version), 0) FROM atrium_schema", "")) == NULL)
			goto fail;
		version = pg_int(res, 0, 0);
	}
	PQclear(res);
	if (version > SCHEMA_VERSION) {
		atr_err_set(err, ATR_E_CONFIG,
		    "the database was set up by a newer atriumd (schema %lld; this one knows %d); "
		    "upgrade this node",
		    (long long)version, SCHEMA_VERSION);
		goto fail;
	}
	if (version < SCHEMA_VERSION) {
		/* Every statement is idempotent: a new database gets everything,
		 * an older one what it lacks. */
		const char *const parts[] = {schema_sql, pg_events_schema, pg_branches_schema};
		for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
			res = PQexec(c->db, parts[i]);
			if (PQresultStatus(res) != PGRES_COMMAND_OK) {
				query_failed(c, res, "creating the tables", err);
				PQclear(res);
				goto fail;
			}
			PQclear(res);
		}
		if (pg_cmd(c, err, "creating the schema",
			"CREATE TABLE IF NOT EXISTS atrium_schema(version INTEGER NOT NULL)", "") == -1 ||
		    pg_cmd(c, err, "creating the schema",
			"INSERT INTO atrium_schema(version) VALUES ($1)", "i",
			(int64_t)SCHEMA_VERSION) == -1)
			goto fail;
		if (version == 0)
			atr_info("created the Atrium tables in database %s", PQdb(c->db));
		else
			atr_info("upgraded the Atrium tables in database %s from schema %lld to %d",
			    PQdb(c->db), (long long)version, SCHEMA_VERSION);
	}
	if (pg_profile_columns(c, err) == -1)
		goto fail;
	return pg_commit(c, err);
fail:
	pg_rollback(c);
	return -1;
}

struct store *
store_pg_open(const struct atr_config *cfg, const char *datadir, struct atr_err *err)
{
	struct pg_store *st = calloc(1, sizeof(*st));
	struct store_conn *sc = NULL;

	if (st == NULL) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		return NULL;
	}
	st->base.ops = &pg_ops;
	if (pg_cache_init(st, datadir, atr_config_int(cfg, "database_cache_size"), err) == -1 ||
	    configure(st, cfg, err) == -1)
		goto fail;
	if ((sc = pg_conn_open(&st->base, err)) == NULL || pg_ready(PGC(sc), err) == -1)
		goto fail;
	if (check_tls(st, PGC(sc), err) == -1 || ensure_schema(PGC(sc), err) == -1)
		goto fail;
	/* Not fatal: another node may be collecting at the same moment. */
	if (pg_gc(PGC(sc), atr_now_ms() / 1000, err) == -1)
		atr_warn("collecting abandoned uploads failed (it is tried again in an hour): %s",
		    atr_err_msg(err));
	atr_err_clear(err);
	atomic_store(&st->next_gc, atr_now_ms() / 1000 + GC_EVERY);
	pg_conn_close(sc);
	return &st->base;
fail:
	pg_conn_close(sc);
	pg_close(&st->base);
	return NULL;
}

static void
pg_close(struct store *base)
{
	struct pg_store *st = (struct pg_store *)base;

	for (int i = 0; st->keys[i] != NULL; i++)
		atr_free_secret(st->vals[i]);
	atr_free_secret(st->secret);
	pg_cache_free(st);
	free(st);
}

static const char *
pg_describe(const struct store *base)
{
	return ((const struct pg_store *)base)->describe;
}

/* Cheap: the connection is made on first use, on the thread that uses it
 * (event loops get a store_conn too, but never call a blocking store). */
static struct store_conn *
pg_conn_open(struct store *base, struct atr_err *err)
{
	struct pg_conn *c = calloc(1, sizeof(*c));

	if (c == NULL) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		return NULL;
	}
	c->base.st = base;
	c->st = (struct pg_store *)base;
	return &c->base;
}

static void
pg_conn_close(struct store_conn *sc)
{
	if (sc == NULL)
		return;
	PQfinish(PGC(sc)->db);
	free(sc);
}

/* ---- collecting abandoned work */

int
pg_gc(struct pg_conn *c, int64_t now, struct atr_err *err)
{
	int64_t cutoff = now - GC_AGE;

	if (pg_cmd(c, err, "collecting abandoned uploads",
		"DELETE FROM uploads WHERE NOT published AND touched < $1", "i", cutoff) == -1 ||
	    pg_cmd(c, err, "collecting abandoned commits",
		"UPDATE blobs SET pending = 0 WHERE pending > 0 AND touched < $1", "i", cutoff) == -1 ||
	    pg_cmd(c, err, "collecting unused content",
		"WITH b AS (DELETE FROM blobs WHERE pending = 0 AND touched < $1 AND NOT EXISTS"
		" (SELECT 1 FROM revisions r WHERE r.sha256 = blobs.sha256) RETURNING upload_id)"
		" DELETE FROM uploads WHERE id IN (SELECT upload_id FROM b)",
		"i", cutoff) == -1 ||
	    pg_cmd(c, err, "purging sessions", "DELETE FROM sessions WHERE expires <= $1", "i",
		now) == -1)
		return -1;
	return 0;
}

void
pg_gc_maybe(struct pg_conn *c)
{
	int64_t now = atr_now_ms() / 1000, due = atomic_load(&c->st->next_gc);
	struct atr_err err;

	if (now < due || !atomic_compare_exchange_strong(&c->st->next_gc, &due, now + GC_EVERY))
		return;
	atr_err_clear(&err);
	if (pg_gc(c, now, &err) == -1)
		atr_warn("collecting abandoned uploads failed (it is tried again in an hour): %s",
		    atr_err_msg(&err));
	pg_cache_sweep(c);
}

/* ---- users */

static int
pg_user_count(struct store_conn *sc, int64_t *count, struct atr_err *err)
{
	PGresult *res = pg_query(PGC(sc), err, "counting users", 0, "SELECT count(*) FROM users", "");

	if (res == NULL)
		return -1;
	*count = pg_int(res, 0, 0);
	PQclear(res);
	return 0;
}

static int
pg_user_create(struct store_conn *sc, const char *name, const char *hash, const char *role,
    const char *by, struct atr_err *err)
{
	struct pg_conn *c = PGC(sc);

	if (pg_begin(c, err) == -1)
		return -1;
	if (pg_cmd(c, err, "adding a user",
		"INSERT INTO users(name, hash, role, created) VALUES ($1, $2, $3, $4)", "ttti", name,
		hash, role, (int64_t)(atr_now_ms() / 1000)) == -1) {
		if (err != NULL && err->code == ATR_E_EXISTS)
			atr_err_set(err, ATR_E_EXISTS, "a user named '%s' already exists", name);
		goto fail;
	}
	if (pg_event_write(sc, "user.created", NULL,
		event_data("{s:s, s:s, s:s?}", "user", name, "role", role, "created_by", by),
		err) == -1 ||
	    pg_commit(c, err) == -1)
		goto fail;
	return 0;
fail:
	pg_rollback(c);
	return -1;
}

int
store_pg_user_import(struct store_conn *sc, const struct store_user *u, const char *hash,
    struct atr_err *err)
{
	PGresult *res = pg_query(PGC(sc), err, "adding a user", 0,
	    "INSERT INTO users(name, hash, role, created) VALUES ($1, $2, $3, $4)"
	    " ON CONFLICT (name) DO NOTHING",
	    "ttti", u->name, hash, u->role, u->created);
	int added;

	if (res == NULL)
		return -1;
	added = pg_changed(res) == 1;
	PQclear(res);
	return added;
}

static void
user_from_row(const PGresult *res, int row, struct store_user *u)
{
	pg_copy_text(u->name, sizeof(u->name), res, row, 0);
	pg_copy_text(u->role, sizeof(u->role), res, row, 1);
	u->created = pg_int(res, row, 2);
}

static int
pg_user_get(struct store_conn *sc, const char *name, struct store_user *u, char *hash,
    size_t hashlen, struct atr_err *err)
{
	PGresult *res = pg_query(PGC(sc), err, "reading a user", 0,
	    "SELECT name, role, created, hash FROM users WHERE name = $1", "t", name);

	if (res == NULL)
		return -1;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return atr_err_set(err, ATR_E_NOT_FOUND, "there is no user named '%s'", name);
	}
	user_from_row(res, 0, u);
	if (hash != NULL)
		pg_copy_text(hash, hashlen, res, 0, 3);
	/* The hash was in libpq's buffer: wipe it there too. */
	atr_wipe(PQgetvalue(res, 0, 3), (size_t)PQgetlength(res, 0, 3));
	PQclear(res);
	return 0;
}

static int
pg_user_list(struct store_conn *sc, int (*each)(const struct store_user *, void *), void *arg,
    struct atr_err *err)
{
	PGresult *res = pg_query(PGC(sc), err, "listing users", 0,
	    "SELECT name, role, created FROM users ORDER BY name", "");
	struct store_user u;

	if (res == NULL)
		return -1;
	for (int i = 0; i < PQntuples(res); i++) {
		user_from_row(res, i, &u);
		if (each(&u, arg) != 0)
			break;
	}
	PQclear(res);
	return 0;
}

/*
 * Refuses (ATR_E_CONFLICT) when name is the last admin. Inside a
 * transaction: the admin rows are locked, so two nodes removing the last
 * two admins at once cannot both succeed.
 */
static int
keep_an_admin(struct pg_conn *c, const char *name, struct atr_err *err)
{
	PGresult *res = pg_query(c, err, "counting admins", 0,
	    "SELECT name FROM users WHERE role = 'admin' ORDER BY name FOR UPDATE", "");
	int n;

	if (res == NULL)
		return -1;
	n = PQntuples(res);
	PQclear(res);
	if (n <= 1)
		return atr_err_set(err, ATR_E_CONFLICT,
		    "'%s' is the last admin; make another user an admin first", name);
	return 0;
}

static int
pg_user_delete(struct store_conn *sc, const char *name, const char *by, struct atr_err *err)
{
	struct pg_conn *c = PGC(sc);
	struct store_user u;

	if (pg_begin(c, err) == -1)
		return -1;
	if (pg_user_get(sc, name, &u, NULL, 0, err) == -1)
		goto fail;
	if (strcmp(u.role, "admin") == 0 && keep_an_admin(c, name, err) == -1)
		goto fail;
	if (pg_cmd(c, err, "deleting a user", "DELETE FROM users WHERE name = $1", "t", name) == -1)
		goto fail;
	if (pg_event_write(sc, "user.deleted", NULL,
		event_data("{s:s, s:s?}", "user", name, "deleted_by", by), err) == -1 ||
	    pg_commit(c, err) == -1)
		goto fail;
	return 0;
fail:
	pg_rollback(c);
	return -1;
}

static int
pg_user_set_password(struct store_conn *sc, const char *name, const char *hash,
    const char *keep_token_hash, struct atr_err *err)
{
	struct pg_conn *c = PGC(sc);
	PGresult *res;

	if (pg_begin(c, err) == -1)
		return -1;
	if ((res = pg_query(c, err, "changing a password", 0,
		 "UPDATE users SET hash = $1 WHERE name = $2", "tt", hash, name)) == NULL)
		goto fail;
	if (pg_changed(res) == 0) {
		PQclear(res);
		atr_err_set(err, ATR_E_NOT_FOUND, "there is no user named '%s'", name);
		goto fail;
	}
	PQclear(res);
	if (pg_cmd(c, err, "ending sessions",
		"DELETE FROM sessions WHERE username = $1 AND token_hash <> $2", "tt", name,
		keep_token_hash != NULL ? keep_token_hash : "") == -1)
		goto fail;
	return pg_commit(c, err);
fail:
	pg_rollback(c);
	return -1;
}

static int
pg_user_set_role(struct store_conn *sc, const char *name, const char *role, struct atr_err *err)
{
	struct pg_conn *c = PGC(sc);
	struct store_user u;

	if (pg_begin(c, err) == -1)
		return -1;
	if (pg_user_get(sc, name, &u, NULL, 0, err) == -1)
		goto fail;
	if (strcmp(u.role, "admin") == 0 && strcmp(role, "admin") != 0 &&
	    keep_an_admin(c, name, err) == -1)
		goto fail;
	if (pg_cmd(c, err, "changing a role", "UPDATE users SET role = $1 WHERE name = $2", "tt",
		role, name) == -1)
		goto fail;
	return pg_commit(c, err);
fail:
	pg_rollback(c);
	return -1;
}

/* ---- directory sign-in: the users' profile columns */

/* The hash of a directory account: no password matches it. */
#define DIRECTORY_HASH "!directory"

/*
 * Adds users.display_name, email and source where they are missing, in
 * ensure_schema()'s transaction (under its advisory lock). Additive, with
 * defaults: nodes that do not know them go on working, so the schema
 * version stays.
 */
static int
pg_profile_columns(struct pg_conn *c, struct atr_err *err)
{
	PGresult *res = pg_query(c, err, "reading the users' columns", 0,
	    "SELECT count(*) FROM information_schema.columns WHERE table_schema = current_schema()"
	    " AND table_name = 'users' AND column_name IN ('display_name', 'email', 'source')", "");
	int64_t have;

	if (res == NULL)
		return -1;
	have = pg_int(res, 0, 0);
	PQclear(res);
	/* ALTER TABLE locks the table even when it changes nothing: only when
	 * a column is missing, so a node starting does not stall the others. */
	if (have == 3)
		return 0;
	return pg_cmd(c, err, "adding the directory columns",
	    "ALTER TABLE users ADD COLUMN IF NOT EXISTS display_name TEXT NOT NULL DEFAULT '',"
	    " ADD COLUMN IF NOT EXISTS email TEXT NOT NULL DEFAULT '',"
	    " ADD COLUMN IF NOT EXISTS source TEXT NOT NULL DEFAULT 'local'", "");
}

static int
pg_user_get_profile(struct store_conn *sc, const char *name, struct store_user_profile *p,
    struct atr_err *err)
{
	PGresult *res = pg_query(PGC(sc), err, "reading a user", 0,
	    "SELECT display_name, email, source FROM users WHERE name = $1", "t", name);

	if (res == NULL)
		return -1;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return atr_err_set(err, ATR_E_NOT_FOUND, "there is no user named '%s'", name);
	}
	pg_copy_text(p->display_name, sizeof(p->display_name), res, 0, 0);
	pg_copy_text(p->email, sizeof(p->email), res, 0, 1);
	pg_copy_text(p->source, sizeof(p->source), res, 0, 2);
	PQclear(res);
	return 0;
}

static int
pg_user_sync_directory(struct store_conn *sc, const char *name, const char *role,
    const char *display_name, const char *email, int64_t now, int *created,
    struct atr_err *err)
{
	struct pg_conn *c = PGC(sc);
	PGresult *res;
	int made;

	if (pg_begin(c, err) == -1)
		return -1;
	res = pg_query(c, err, "syncing a directory user", 0,
	    "INSERT INTO users(name, hash, role, created, display_name, email, source)"
	    " VALUES ($1, $2, $3, $4, $5, $6, 'directory')"
	    " ON CONFLICT (name) DO UPDATE SET role = EXCLUDED.role,"
	    " display_name = EXCLUDED.display_name, email = EXCLUDED.email,"
	    " source = 'directory', hash = EXCLUDED.hash"
	    " RETURNING (xmax = 0)",
	    "tttitt", name, DIRECTORY_HASH, role, now, display_name, email);
	if (res == NULL)
		goto fail;
	made = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	/* A first directory login makes the account: user.created, as any other. */
	if (made && pg_event_write(sc, "user.created", NULL,
			event_data("{s:s, s:s, s:s}", "user", name, "role", role, "created_by",
			    "directory"),
			err) == -1)
		goto fail;
	if (pg_commit(c, err) == -1)
		goto fail;
	if (created != NULL)
		*created = made;
	return 0;
fail:
	pg_rollback(c);
	return -1;
}

/* ---- sessions */

static int
pg_session_create(struct store_conn *sc, const char *token_hash, const char *user,
    int64_t expires, struct atr_err *err)
{
	pg_gc_maybe(PGC(sc)); /* expired sessions go on the hour */
	return pg_cmd(PGC(sc), err, "creating a session",
	    "INSERT INTO sessions(token_hash, username, expires) VALUES ($1, $2, $3)", "tti",
	    token_hash, user, expires);
}

static int
pg_session_lookup(struct store_conn *sc, const char *token_hash, int64_t now,
    struct store_user *u, struct atr_err *err)
{
	PGresult *res = pg_query(PGC(sc), err, "looking up a session", 0,
	    "SELECT u.name, u.role, u.created FROM sessions s JOIN users u ON u.name = s.username"
	    " WHERE s.token_hash = $1 AND s.expires > $2",
	    "ti", token_hash, now);

	if (res == NULL)
		return -1;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return atr_err_set(err, ATR_E_UNAUTHORIZED,
		    "your session has expired or was ended; log in again");
	}
	user_from_row(res, 0, u);
	PQclear(res);
	return 0;
}

static int
pg_session_delete(struct store_conn *sc, const char *token_hash, struct atr_err *err)
{
	return pg_cmd(PGC(sc), err, "ending a session", "DELETE FROM sessions WHERE token_hash = $1",
	    "t", token_hash);
}

static int
pg_session_purge(struct store_conn *sc, int64_t now, struct atr_err *err)
{
	return pg_cmd(PGC(sc), err, "purging sessions", "DELETE FROM sessions WHERE expires <= $1",
	    "i", now);
}

/* ---- projects */

static int
pg_project_create(struct store_conn *sc, const char *name, const char *description,
    const char *created_by, int64_t now, struct atr_err *err)
{
	struct pg_conn *c = PGC(sc);

	if (pg_begin(c, err) == -1)
		return -1;
	if (pg_cmd(c, err, "creating a project",
		"INSERT INTO projects(name, description, created, created_by) VALUES ($1, $2, $3, $4)",
		"ttit", name, description, now, created_by) == -1) {
		if (err != NULL && err->code == ATR_E_EXISTS)
			atr_err_set(err, ATR_E_EXISTS, "a project named '%s' already exists", name);
		goto fail;
	}
	if (pg_branch_add_trunk(c, name, created_by, now, err) == -1)
		goto fail;
	if (pg_event_write(sc, "project.created", name,
		event_data("{s:s, s:s, s:s}", "project", name, "description", description,
		    "created_by", created_by),
		err) == -1 ||
	    pg_commit(c, err) == -1)
		goto fail;
	return 0;
fail:
	pg_rollback(c);
	return -1;
}

void
pg_revision_from_row(const PGresult *res, int row, int col, struct store_revision *r)
{
	pg_copy_text(r->branch, sizeof(r->branch), res, row, col + 6);
	r->number = pg_int(res, row, col);
	pg_copy_text(r->author, sizeof(r->author), res, row, col + 1);
	pg_copy_text(r->message, sizeof(r->message), res, row, col + 2);
	r->time = pg_int(res, row, col + 3);
	r->size = pg_int(res, row, col + 4);
	pg_copy_text(r->sha256, sizeof(r->sha256), res, row, col + 5);
}

#define PROJECT_COLUMNS                                                                    \
	"SELECT p.name, p.description, p.created, p.created_by, p.head,"                   \
	" r.number, r.author, r.message, r.time, r.size, r.sha256, r.branch FROM projects p" \
	" LEFT JOIN revisions r ON r.project_id = p.id AND r.branch = 'trunk'"            \
	" AND r.number = p.head"

static void
project_from_row(const PGresult *res, int row, struct store_project *p)
{
	pg_copy_text(p->name, sizeof(p->name), res, row, 0);
	pg_copy_text(p->description, sizeof(p->description), res, row, 1);
	p->created = pg_int(res, row, 2);
	pg_copy_text(p->created_by, sizeof(p->created_by), res, row, 3);
	p->head = pg_int(res, row, 4);
	if (p->head > 0)
		pg_revision_from_row(res, row, 5, &p->last);
	else
		memset(&p->last, 0, sizeof(p->last));
}

static int
pg_project_get(struct store_conn *sc, const char *name, struct store_project *p,
    struct atr_err *err)
{
	PGresult *res = pg_query(PGC(sc), err, "reading a project", 0,
	    PROJECT_COLUMNS " WHERE p.name = $1", "t", name);

	if (res == NULL)
		return -1;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return atr_err_set(err, ATR_E_NOT_FOUND, "there is no project named '%s'", name);
	}
	project_from_row(res, 0, p);
	PQclear(res);
	return 0;
}

static int
pg_project_list(struct store_conn *sc, int (*each)(const struct store_project *, void *),
    void *arg, struct atr_err *err)
{
	PGresult *res = pg_query(PGC(sc), err, "listing projects", 0,
	    PROJECT_COLUMNS " ORDER BY p.name", "");
	struct store_project *p = malloc(sizeof(*p));

	if (res == NULL || p == NULL) {
		PQclear(res);
		free(p);
		return res == NULL ? -1 : atr_err_set(err, ATR_E_NOMEM, NULL);
	}
	for (int i = 0; i < PQntuples(res); i++) {
		project_from_row(res, i, p);
		if (each(p, arg) != 0)
			break;
	}
	PQclear(res);
	free(p);
	return 0;
}

/*
 * Removes the content in shas (a Postgres array literal) that no revision
 * references and no commit has pinned, in c's transaction. The rows are
 * locked first and checked in a later statement, so a commit that used
 * one of them in the meantime is seen (READ COMMITTED takes a snapshot
 * per statement).
 */
int
pg_remove_unreferenced(struct pg_conn *c, const char *shas, struct atr_err *err)
{
	PGresult *res;

	if (pg_cmd(c, err, "locking content",
		"SELECT 1 FROM blobs WHERE sha256 = ANY($1::text[]) ORDER BY sha256 FOR UPDATE", "t",
		shas) == -1)
		return -1;
	res = pg_query(c, err, "removing unused content", 0,
	    "WITH b AS (DELETE FROM blobs WHERE sha256 = ANY($1::text[]) AND pending = 0"
	    " AND NOT EXISTS (SELECT 1 FROM revisions r WHERE r.sha256 = blobs.sha256)"
	    " RETURNING upload_id, sha256),"
	    " u AS (DELETE FROM uploads WHERE id IN (SELECT upload_id FROM b))"
	    " SELECT sha256 FROM b",
	    "t", shas);
	if (res == NULL)
		return -1;
	/* Before the commit: at worst a copy is dropped that stays wanted. */
	for (int i = 0; i < PQntuples(res); i++)
		pg_cache_forget(c->st, PQgetvalue(res, i, 0));
	PQclear(res);
	return 0;
}

static int
pg_project_delete(struct store_conn *sc, const char *name, const char *by, struct atr_err *err)
{
	struct pg_conn *c = PGC(sc);
	PGresult *res;
	char *shas = NULL;

	if (pg_begin(c, err) == -1)
		return -1;
	if ((res = pg_query(c, err, "deleting a project", 0,
		 "SELECT coalesce(array_agg(DISTINCT r.sha256)::text, '{}') FROM revisions r"
		 " JOIN projects p ON p.id = r.project_id WHERE p.name = $1",
		 "t", name)) == NULL)
		goto fail;
	shas = strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	if (shas == NULL) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		goto fail;
	}
	if ((res = pg_query(c, err, "deleting a project", 0, "DELETE FROM projects WHERE name = $1",
		 "t", name)) == NULL)
		goto fail;
	if (pg_changed(res) == 0) {
		PQclear(res);
		atr_err_set(err, ATR_E_NOT_FOUND, "there is no project named '%s'", name);
		goto fail;
	}
	PQclear(res);
	if (pg_remove_unreferenced(c, shas, err) == -1 ||
	    pg_event_write(sc, "project.deleted", name,
		event_data("{s:s, s:s?}", "project", name, "deleted_by", by), err) == -1 ||
	    pg_commit(c, err) == -1)
		goto fail;
	free(shas);
	return 0;
fail:
	pg_rollback(c);
	free(shas);
	return -1;
}

void
pg_blob_unpin(struct pg_conn *c, const char *sha256)
{
	char shas[72];

	snprintf(shas, sizeof(shas), "{%s}", sha256);
	if (pg_begin(c, NULL) == -1)
		return;
	if (pg_cmd(c, NULL, "releasing content",
		"UPDATE blobs SET pending = greatest(pending - 1, 0) WHERE sha256 = $1", "t",
		sha256) == -1 ||
	    pg_remove_unreferenced(c, shas, NULL) == -1 || pg_commit(c, NULL) == -1)
		pg_rollback(c);
}

static const struct store_ops pg_ops = {
	.name = "postgresql",
	.blocking = 1,
	.close = pg_close,
	.describe = pg_describe,
	.conn_open = pg_conn_open,
	.conn_close = pg_conn_close,
	.user_count = pg_user_count,
	.user_create = pg_user_create,
	.user_get = pg_user_get,
	.user_list = pg_user_list,
	.user_delete = pg_user_delete,
	.user_set_password = pg_user_set_password,
	.user_set_role = pg_user_set_role,
	.user_get_profile = pg_user_get_profile,
	.user_sync_directory = pg_user_sync_directory,
	.session_create = pg_session_create,
	.session_lookup = pg_session_lookup,
	.session_delete = pg_session_delete,
	.session_purge = pg_session_purge,
	.project_create = pg_project_create,
	.project_get = pg_project_get,
	.project_list = pg_project_list,
	.project_delete = pg_project_delete,
	.revision_list = pg_revision_list,
	.revision_get = pg_revision_get,
	.revision_commit = pg_revision_commit,
	.branch_create = pg_branch_create,
	.branch_get = pg_branch_get,
	.branch_list = pg_branch_list,
	.branch_delete = pg_branch_delete,
	.tag_create = pg_tag_create,
	.tag_get = pg_tag_get,
	.tag_list = pg_tag_list,
	.tag_delete = pg_tag_delete,
	.locks_take = pg_locks_take,
	.locks_release = pg_locks_release,
	.locks_list = pg_locks_list,
	.lock_get = pg_lock_get,
	.blob_writer_new = pg_blob_writer_new,
	.blob_write = pg_blob_write,
	.blob_written = pg_blob_written,
	.blob_finish = pg_blob_finish,
	.blob_abort = pg_blob_abort,
	.blob_reader_open = pg_blob_reader_open,
	.blob_reader_fd = pg_blob_reader_fd,
	.blob_read = pg_blob_read,
	.blob_reader_close = pg_blob_reader_close,
	.event_add = pg_event_add,
	.event_list = pg_event_list,
	.event_last = pg_event_last,
	.integration_create = pg_integration_create,
	.integration_get = pg_integration_get,
	.integration_list = pg_integration_list,
	.integration_update = pg_integration_update,
	.integration_set_state = pg_integration_set_state,
	.integration_rotate = pg_integration_rotate,
	.integration_delete = pg_integration_delete,
	.delivery_due = pg_delivery_due,
	.delivery_next_time = pg_delivery_next_time,
	.delivery_claim = pg_delivery_claim,
	.delivery_finish = pg_delivery_finish,
	.delivery_log = pg_delivery_log,
	.delivery_redeliver = pg_delivery_redeliver,
	.delivery_add_test = pg_delivery_add_test,
	.event_purge = pg_event_purge,
};
