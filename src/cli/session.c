/* The session store in $ATRIUM_HOME. See session.h. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "atrium/util.h"
#include "cli/buf.h"
#include "cli/client.h"
#include "cli/session.h"

#define SESSION_FILE "session.json"
#define HEADS_FILE "heads.json"
#define SESSION_MAX (64 * 1024)		/* bytes of session.json, at most */
#define HEADS_MAX (16 * 1024 * 1024)	/* bytes of heads.json, at most */

char *
cli_home(struct atr_err *err)
{
	const char *h = getenv("ATRIUM_HOME");
	char *out;

	if (h != NULL && *h != '\0') {
		if ((out = strdup(h)) == NULL)
			atr_err_set(err, ATR_E_NOMEM, NULL);
		return out;
	}
	h = getenv("HOME");
	if (h == NULL || *h == '\0') {
		struct passwd *pw = getpwuid(getuid());

		h = pw != NULL ? pw->pw_dir : NULL;
	}
	if (h == NULL || *h == '\0') {
		atr_err_set(err, ATR_E_CONFIG,
		    "cannot find a home directory; set ATRIUM_HOME");
		return NULL;
	}
	if (asprintf(&out, "%s/.atrium", h) == -1) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		return NULL;
	}
	return out;
}

static char *
home_file(const char *home, const char *name)
{
	char *p;

	return asprintf(&p, "%s/%s", home, name) == -1 ? NULL : p;
}

/* Reads path as a JSON object; ATR_E_NOT_FOUND when it does not exist. */
static json_t *
read_json_file(const char *path, size_t max, struct atr_err *err)
{
	unsigned char *data = NULL;
	size_t len = 0;
	json_error_t jerr;
	json_t *v;

	if (atr_read_file(path, max, &data, &len, err) == -1)
		return NULL;
	v = json_loadb((const char *)data, len, 0, &jerr);
	atr_wipe(data, len);
	free(data);
	if (v == NULL || !json_is_object(v)) {
		json_decref(v);
		atr_err_set(err, ATR_E_CONFIG, "%s is damaged (%s)", path,
		    v == NULL ? jerr.text : "not a JSON object");
		return NULL;
	}
	return v;
}

/* Writes v to path atomically with mode 0600, creating home (0700) first. */
static int
write_json_file(const char *home, const char *path, const json_t *v, struct atr_err *err)
{
	char *s;
	int rc;

	if (atr_mkdirs(home, 0700, err) == -1)
		return -1;
	if ((s = json_dumps(v, JSON_INDENT(2) | JSON_SORT_KEYS)) == NULL)
		return atr_err_set(err, ATR_E_NOMEM, NULL);
	rc = atr_write_file_atomic(path, s, strlen(s), 0600, err);
	cli_json_dump_free(s);
	return rc;
}

static char *
dup_member(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s != NULL ? strdup(s) : NULL;
}

void
cli_session_clear(struct cli_session *s)
{
	if (s == NULL)
		return;
	free(s->server);
	free(s->user);
	free(s->role);
	atr_free_secret(s->token);
	free(s->expires);
	free(s->cert_sha256);
	memset(s, 0, sizeof(*s));
}

int
cli_session_load(const char *home, struct cli_session *s, struct atr_err *err)
{
	char *path = home_file(home, SESSION_FILE);
	json_t *v = NULL;

	memset(s, 0, sizeof(*s));
	if (path == NULL)
		return atr_err_set(err, ATR_E_NOMEM, NULL);
	if ((v = read_json_file(path, SESSION_MAX, err)) == NULL)
		goto fail;
	s->server = dup_member(v, "server");
	s->user = dup_member(v, "user");
	s->token = dup_member(v, "token");
	s->role = dup_member(v, "role");
	s->expires = dup_member(v, "expires");
	s->cert_sha256 = dup_member(v, "certificate_sha256");
	if (json_integer_value(json_object_get(v, "admin_port")) > 0 &&
	    json_integer_value(json_object_get(v, "admin_port")) <= 65535)
		s->admin_port = (int)json_integer_value(json_object_get(v, "admin_port"));
	if (s->server == NULL || s->user == NULL || s->token == NULL) {
		atr_err_set(err, ATR_E_CONFIG,
		    "%s is damaged (no server, user or token); log in again", path);
		goto fail;
	}
	json_decref(v);
	free(path);
	return 0;
fail:
	json_decref(v);
	free(path);
	cli_session_clear(s);
	return -1;
}

int
cli_session_save(const char *home, const struct cli_session *s, struct atr_err *err)
{
	char *path = NULL;
	json_t *v = NULL;
	int rc = -1;

	if (s->server == NULL || s->user == NULL || s->token == NULL)
		return atr_err_set(err, ATR_E_INTERNAL, "incomplete session");
	if ((path = home_file(home, SESSION_FILE)) == NULL ||
	    (v = json_object()) == NULL)
		goto nomem;
	if (json_object_set_new(v, "server", json_string(s->server)) == -1 ||
	    json_object_set_new(v, "user", json_string(s->user)) == -1 ||
	    json_object_set_new(v, "token", json_string(s->token)) == -1)
		goto nomem;
	if (s->role != NULL && json_object_set_new(v, "role", json_string(s->role)) == -1)
		goto nomem;
	if (s->expires != NULL &&
	    json_object_set_new(v, "expires", json_string(s->expires)) == -1)
		goto nomem;
	if (s->cert_sha256 != NULL &&
	    json_object_set_new(v, "certificate_sha256", json_string(s->cert_sha256)) == -1)
		goto nomem;
	if (s->admin_port > 0 &&
	    json_object_set_new(v, "admin_port", json_integer(s->admin_port)) == -1)
		goto nomem;
	rc = write_json_file(home, path, v, err);
	goto out;
nomem:
	atr_err_set(err, ATR_E_NOMEM, NULL);
out:
	json_decref(v);
	free(path);
	return rc;
}

int
cli_session_remove(const char *home, struct atr_err *err)
{
	char *path = home_file(home, SESSION_FILE);

	if (path == NULL)
		return atr_err_set(err, ATR_E_NOMEM, NULL);
	if (unlink(path) == -1 && errno != ENOENT) {
		atr_err_set(err, ATR_E_IO, "cannot remove %s: %s", path, strerror(errno));
		free(path);
		return -1;
	}
	free(path);
	return 0;
}

int
cli_heads_get(const char *home, const char *server, const char *project,
    uint64_t *rev)
{
	struct atr_err err;
	char *path = home_file(home, HEADS_FILE);
	json_t *v = NULL, *n;
	int rc = -1;

	if (path == NULL || (v = read_json_file(path, HEADS_MAX, &err)) == NULL)
		goto out;
	n = json_object_get(json_object_get(v, server), project);
	if (json_is_integer(n) && json_integer_value(n) >= 0) {
		*rev = (uint64_t)json_integer_value(n);
		rc = 0;
	}
out:
	json_decref(v);
	free(path);
	return rc;
}

/* Loads heads.json (an empty object when missing or damaged) and its server's object. */
static json_t *
heads_load(const char *path, const char *server, json_t **srv)
{
	struct atr_err err;
	json_t *v = read_json_file(path, HEADS_MAX, &err);

	if (v == NULL && (v = json_object()) == NULL)
		return NULL;
	*srv = json_object_get(v, server);
	if (!json_is_object(*srv)) {
		if (json_object_set_new(v, server, json_object()) == -1) {
			json_decref(v);
			return NULL;
		}
		*srv = json_object_get(v, server);
	}
	return v;
}

int
cli_heads_set(const char *home, const char *server, const char *project,
    uint64_t rev, int only_raise, struct atr_err *err)
{
	char *path = home_file(home, HEADS_FILE);
	json_t *v = NULL, *srv = NULL, *old;
	int rc = -1;

	if (path == NULL || (v = heads_load(path, server, &srv)) == NULL) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		goto out;
	}
	old = json_object_get(srv, project);
	if (only_raise && json_is_integer(old) && json_integer_value(old) >= 0 &&
	    (uint64_t)json_integer_value(old) >= rev) {
		rc = 0;
		goto out;
	}
	if (json_object_set_new(srv, project, json_integer((json_int_t)rev)) == -1) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		goto out;
	}
	rc = write_json_file(home, path, v, err);
out:
	json_decref(v);
	free(path);
	return rc;
}

int
cli_heads_forget(const char *home, const char *server, const char *project,
    struct atr_err *err)
{
	char *path = home_file(home, HEADS_FILE);
	json_t *v = NULL, *srv = NULL;
	int rc = -1;

	if (path == NULL || (v = heads_load(path, server, &srv)) == NULL) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		goto out;
	}
	rc = 0;
	if (json_object_get(srv, project) != NULL) {
		json_object_del(srv, project);
		rc = write_json_file(home, path, v, err);
	}
out:
	json_decref(v);
	free(path);
	return rc;
}
