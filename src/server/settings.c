/*
 * Changing the settings at run time (settings.h): a change set is checked
 * as a whole against the file it would produce, written once, applied,
 * and undone byte for byte when applying fails.
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

#include "atrium/keystore.h"
#include "atrium/util.h"
#include "server/settings.h"
#include "server/tlsstate.h"

#define CHANGES_MAX 16
#define KEYSTORE_MAX (1024 * 1024)
#define PASSWORD_MAX 1024

struct settings {
	char *datadir;
	char *confpath;
	const struct atr_config *overrides; /* the command-line flags (borrowed) */
	struct tls_state *tls;              /* for checking keystores (borrowed) */
	int (*apply)(void *arg, struct atr_err *err);
	void *arg;
	pthread_mutex_t mu; /* one commit at a time: read, write, apply, restore */
};

struct change {
	char key[ATR_ERR_FIELD_MAX];
	char *value; /* NULL: remove the line */
};

struct settings_change {
	struct settings *s;
	struct change changes[CHANGES_MAX];
	size_t n;
	int clear_uploads;     /* committed: remove every tls/keystore-* */
	char stamp[32];        /* of this change set's upload, "" when none */
	char ksrel[128];       /* tls/keystore-STAMP.EXT */
	char kspath[4400];     /* the same under the data directory */
	char passpath[4400];   /* tls/keystore-STAMP.pass under the data directory */
	char alias[256];       /* the key entry chosen at upload, "" for its only one */
	char host[256];        /* the name the uploader connected with, "" when unknown */
	int force;             /* serve a certificate that does not cover host */
	struct settings_report *report; /* the caller's, or NULL */
};

/* The command-line flag that sets key, as the administrator typed it. */
static const struct {
	const char *key, *flag;
} flags[] = {
	{"bind", "--bind"},
	{"port", "--port"},
	{"tls_port", "--tls-port"},
	{"admin_port", "--admin-port"},
};

/* The listeners a configuration asks for, to refuse two on one port. */
static const struct {
	const char *enabled, *port, *name;
} listeners[] = {
	{"plain", "port", "plain"},
	{"tls", "tls_port", "TLS"},
	{"admin", "admin_port", "admin"},
};

struct settings *
settings_new(const char *datadir, const char *confpath, const struct atr_config *overrides,
    struct tls_state *tls, int (*apply)(void *arg, struct atr_err *err), void *arg)
{
	struct settings *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	if ((s->datadir = strdup(datadir)) == NULL || (s->confpath = strdup(confpath)) == NULL) {
		free(s->datadir);
		free(s);
		return NULL;
	}
	s->overrides = overrides;
	s->tls = tls;
	s->apply = apply;
	s->arg = arg;
	pthread_mutex_init(&s->mu, NULL);
	return s;
}

void
settings_free(struct settings *s)
{
	if (s == NULL)
		return;
	pthread_mutex_destroy(&s->mu);
	free(s->datadir);
	free(s->confpath);
	free(s);
}

const char *
settings_datadir(const struct settings *s)
{
	return s->datadir;
}

/* The settings text (may be NULL) would give: the same layers as
 * server_load_config() — defaults, the file, the environment, the flags. */
static struct atr_config *
load_layers(struct settings *s, const char *text, size_t len, struct atr_err *err)
{
	struct atr_config *cfg = atr_config_new();

	if (cfg == NULL) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		return NULL;
	}
	if ((text != NULL && atr_config_load_text(cfg, text, len, s->confpath, err) == -1) ||
	    atr_config_load_env(cfg, err) == -1 ||
	    (s->overrides != NULL && atr_config_merge(cfg, s->overrides, err) == -1)) {
		atr_config_free(cfg);
		return NULL;
	}
	return cfg;
}

/* atrium.conf's bytes: 1 read, 0 when there is none, -1 on error. */
static int
read_conf(struct settings *s, unsigned char **buf, size_t *len, struct atr_err *err)
{
	struct atr_err rerr;

	*buf = NULL;
	*len = 0;
	if (atr_read_file(s->confpath, ATR_CONFIG_FILE_MAX, buf, len, &rerr) == 0)
		return 1;
	if (rerr.code == ATR_E_NOT_FOUND)
		return 0;
	if (err != NULL)
		*err = rerr;
	return -1;
}

static void
free_conf(unsigned char *buf, size_t len)
{
	if (buf != NULL)
		atr_wipe(buf, len);
	free(buf);
}

/* Whether Save can replace the settings file: the file (when it is there)
 * writable by atriumd's user, and its directory too, since the new text
 * goes to a temporary file beside it that is renamed over it. A file an
 * administrator made read-only is respected, not worked around. */
static int
check_writable(const struct settings *s, struct atr_err *err)
{
	char dir[4200], *slash;

	if (access(s->confpath, F_OK) == 0 && access(s->confpath, W_OK) == -1)
		return atr_err_set(err, ATR_E_CONFIG,
		    "the settings file %s is read-only for atriumd (%s), so it cannot be saved "
		    "here: change it in the file and reload (systemctl reload atriumd, or kill "
		    "-HUP), or make the file writable by atriumd's user (uid %ld) to save here",
		    s->confpath, strerror(errno), (long)geteuid());
	snprintf(dir, sizeof(dir), "%s", s->confpath);
	if ((slash = strrchr(dir, '/')) == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	if (access(dir, W_OK) == -1)
		return atr_err_set(err, ATR_E_CONFIG,
		    "the settings file %s cannot be saved here: its directory %s is not writable "
		    "for atriumd (%s), which replaces the file through a new one beside it; change "
		    "it in the file and reload (systemctl reload atriumd, or kill -HUP), or let "
		    "atriumd's user (uid %ld) write the directory (under systemd also "
		    "ReadWritePaths=)",
		    s->confpath, dir, strerror(errno), (long)geteuid());
	return 0;
}

struct atr_config *
settings_current(struct settings *s, struct atr_err *err)
{
	unsigned char *buf;
	size_t len;
	struct atr_config *cfg;
	int had = read_conf(s, &buf, &len, err);

	if (had == -1)
		return NULL;
	if (had == 0) {
		/* As a reload: the file must be there. */
		atr_err_set(err, ATR_E_NOT_FOUND, "%s is missing", s->confpath);
		return NULL;
	}
	cfg = load_layers(s, (const char *)buf, len, err);
	free_conf(buf, len);
	return cfg;
}

struct settings_change *
settings_begin(struct settings *s)
{
	struct settings_change *c = calloc(1, sizeof(*c));

	if (c != NULL)
		c->s = s;
	return c;
}

int
settings_set(struct settings_change *c, const char *key, const char *value,
    struct atr_err *err)
{
	char *text = NULL, *copy = NULL;
	size_t tlen = 0, i;

	/* The same check the file gets when the change set is written. */
	if (atr_config_text_set(NULL, 0, key, value, &text, &tlen, err) == -1)
		return -1;
	free(text);
	if (value != NULL && (copy = strdup(value)) == NULL)
		return atr_err_set(err, ATR_E_NOMEM, NULL);
	for (i = 0; i < c->n && strcmp(c->changes[i].key, key) != 0; i++)
		;
	if (i == c->n) {
		if (c->n == CHANGES_MAX) {
			atr_free_secret(copy);
			return atr_err_set(err, ATR_E_INTERNAL, "too many changes at once");
		}
		snprintf(c->changes[c->n].key, sizeof(c->changes[c->n].key), "%s", key);
		c->n++;
	} else {
		atr_free_secret(c->changes[i].value);
	}
	c->changes[i].value = copy;
	return 0;
}

static int
touches_keystore(const struct settings_change *c)
{
	for (size_t i = 0; i < c->n; i++)
		if (strncmp(c->changes[i].key, "tls_keystore", 12) == 0)
			return 1;
	return 0;
}

static int
changes_key(const struct settings_change *c, const char *key)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->changes[i].key, key) == 0)
			return 1;
	return 0;
}

/* A change to a setting a command-line flag fixes: the file would not
 * win over the flag, so the change could never take effect. Setting it to
 * the value the flag gave changes nothing and is allowed. */
static int
check_fixed(const struct settings_change *c, struct atr_err *err)
{
	const struct atr_config *o = c->s->overrides;

	for (size_t i = 0; o != NULL && i < c->n; i++) {
		const struct change *ch = &c->changes[i];
		char flag[96];

		if (!atr_config_given(o, ch->key) ||
		    (ch->value != NULL && strcmp(atr_config_str(o, ch->key), ch->value) == 0))
			continue;
		snprintf(flag, sizeof(flag), "--set %s=...", ch->key);
		for (size_t f = 0; f < sizeof(flags) / sizeof(flags[0]); f++)
			if (strcmp(flags[f].key, ch->key) == 0)
				snprintf(flag, sizeof(flag), "%s", flags[f].flag);
		atr_err_set(err, ATR_E_CONFIG,
		    "atriumd was started with %s, which fixes this setting; restart it without %s "
		    "to change it here",
		    flag, flag);
		return atr_err_set_field(err, ch->key);
	}
	return 0;
}

/* Two of this server's listeners on one port, one of them changed here. */
static int
check_ports(const struct settings_change *c, const struct atr_config *cfg, struct atr_err *err)
{
	const size_t n = sizeof(listeners) / sizeof(listeners[0]);

	for (size_t i = 0; i < n; i++) {
		int64_t port = atr_config_int(cfg, listeners[i].port);

		if (!atr_config_bool(cfg, listeners[i].enabled) ||
		    !(changes_key(c, listeners[i].port) || changes_key(c, listeners[i].enabled)))
			continue;
		for (size_t j = 0; j < n; j++) {
			if (j == i || !atr_config_bool(cfg, listeners[j].enabled) ||
			    atr_config_int(cfg, listeners[j].port) != port)
				continue;
			atr_err_set(err, ATR_E_CONFIG,
			    "port %lld is already used by this server's %s port; choose another",
			    (long long)port, listeners[j].name);
			return atr_err_set_field(err, listeners[i].port);
		}
	}
	return 0;
}

/* Which setting a keystore error is about. */
static const char *
keystore_field(const struct atr_err *err)
{
	switch (err->code) {
	case ATR_E_KS_PASSWORD:
	case ATR_E_KS_KEY_PASSWORD:
		return "tls_keystore_password";
	case ATR_E_KS_NO_ENTRY:
		return "tls_keystore_alias";
	default:
		return "tls_keystore";
	}
}

/* The sentence without "tls_keystore PATH: ": the path is ours, not the
 * administrator's, who knows the file by the name it was uploaded as. */
static void
strip_path(struct atr_err *err)
{
	char *colon;

	if (strncmp(err->msg, "tls_keystore ", 13) == 0 && (colon = strstr(err->msg, ": ")) != NULL)
		memmove(err->msg, colon + 2, strlen(colon + 2) + 1);
}

/* Removes uploaded keystores (tls/keystore-*) but those of stamp keep
 * ("" or NULL: all). */
static void
remove_uploads(const char *datadir, const char *keep)
{
	char dir[4200], path[4500], prefix[64];
	DIR *d;
	struct dirent *de;

	snprintf(dir, sizeof(dir), "%s/tls", datadir);
	snprintf(prefix, sizeof(prefix), "keystore-%s.", keep != NULL ? keep : "");
	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, "keystore-", 9) != 0)
			continue;
		if (keep != NULL && keep[0] != '\0' && strncmp(de->d_name, prefix, strlen(prefix)) == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		unlink(path);
	}
	closedir(d);
}

static void
change_free(struct settings_change *c, int committed)
{
	if (!committed) {
		if (c->kspath[0] != '\0')
			unlink(c->kspath);
		if (c->passpath[0] != '\0')
			unlink(c->passpath);
	}
	for (size_t i = 0; i < c->n; i++)
		atr_free_secret(c->changes[i].value);
	free(c);
}

void
settings_abort(struct settings_change *c)
{
	if (c != NULL)
		change_free(c, 0);
}

/* The file text with every change made: *out, the caller's. */
static int
new_text(const struct settings_change *c, const unsigned char *old, size_t oldlen, char **out,
    size_t *outlen, struct atr_err *err)
{
	char *text, *next;
	size_t tlen = oldlen, nlen;

	*out = NULL;
	*outlen = 0;
	if ((text = malloc(oldlen + 1)) == NULL)
		return atr_err_set(err, ATR_E_NOMEM, NULL);
	if (oldlen > 0)
		memcpy(text, old, oldlen);
	text[oldlen] = '\0';
	for (size_t i = 0; i < c->n; i++) {
		int rc = atr_config_text_set(text, tlen, c->changes[i].key, c->changes[i].value,
		    &next, &nlen, err);

		atr_wipe(text, tlen);
		free(text);
		if (rc == -1)
			return -1;
		text = next;
		tlen = nlen;
	}
	*out = text;
	*outlen = tlen;
	return 0;
}

/* The first name of cov from the request, or NULL. */
static const struct tls_name *
request_name(const struct tls_coverage *cov)
{
	for (size_t i = 0; i < cov->n; i++)
		if (strcmp(cov->names[i].source, "request") == 0)
			return &cov->names[i];
	return NULL;
}

/* Checks the keystore cfg names as a reload would, and its names: one
 * that does not cover the name the uploader connected with is refused
 * unless forced. The report is filled either way. */
static int
check_keystore(struct settings_change *c, const struct atr_config *cfg, struct atr_err *err)
{
	struct settings_report *rep = c->report, *own = NULL;
	const struct tls_name *req;
	int rc = -1;

	if (rep == NULL && (rep = own = calloc(1, sizeof(*own))) == NULL)
		return atr_err_set(err, ATR_E_NOMEM, NULL);
	if (tls_state_check(c->s->tls, cfg, c->host, &rep->info, &rep->coverage, err) == -1) {
		strip_path(err);
		if (atr_err_field(err)[0] == '\0')
			atr_err_set_field(err, keystore_field(err));
		goto out;
	}
	rep->checked = 1;
	if ((req = request_name(&rep->coverage)) != NULL && !req->covered && !c->force) {
		atr_err_set(err, ATR_E_CERT_MISMATCH,
		    "the certificate does not name %s, the %s you are connected to (%s): once it "
		    "is served, this console and atrium admin could not connect by that name; "
		    "make a certificate that names it (keytool_hint), or upload it anyway with "
		    "force",
		    req->name, req->ip ? "address" : "name",
		    rep->info.sans[0] != '\0' ? rep->info.sans
					      : "it has no SubjectAltName, and clients ignore the CN");
		atr_err_set_field(err, "tls_keystore");
		goto out;
	}
	rc = 0;
out:
	free(own);
	return rc;
}

void
settings_set_uploader(struct settings_change *c, const char *request_host, int force,
    struct settings_report *report)
{
	snprintf(c->host, sizeof(c->host), "%s", request_host != NULL ? request_host : "");
	c->force = force;
	c->report = report;
	if (report != NULL)
		memset(report, 0, sizeof(*report));
}

int
settings_commit(struct settings_change *c, struct atr_err *err)
{
	struct settings *s = c->s;
	unsigned char *old = NULL;
	size_t oldlen = 0, tlen = 0;
	char *text = NULL;
	struct atr_config *cfg = NULL;
	struct atr_err rerr;
	int had, rc = -1, keystore = touches_keystore(c);

	pthread_mutex_lock(&s->mu);
	if (check_fixed(c, err) == -1 || check_writable(s, err) == -1 ||
	    (had = read_conf(s, &old, &oldlen, err)) == -1)
		goto out;
	if (new_text(c, old, oldlen, &text, &tlen, err) == -1 ||
	    (cfg = load_layers(s, text, tlen, err)) == NULL || check_ports(c, cfg, err) == -1)
		goto out;
	if (keystore && atr_config_str(cfg, "tls_keystore")[0] != '\0' &&
	    check_keystore(c, cfg, err) == -1)
		goto out;
	/* The administrator's file keeps its mode and group (0640
	 * atrium:atrium as packaged); a new one is 0600. */
	if (atr_write_file_keep(s->confpath, text, tlen, 0600, err) == -1)
		goto out;
	if (s->apply(s->arg, err) == -1) {
		/* Put the file back as it was, so that the next reload does not
		 * retry what just failed. */
		if (had ? atr_write_file_keep(s->confpath, old, oldlen, 0600, &rerr) == -1
			: unlink(s->confpath) == -1)
			atr_err_prefix(err, "%s could not be restored (%s)", s->confpath,
			    had ? atr_err_msg(&rerr) : "cannot remove it");
		if (keystore && atr_err_field(err)[0] == '\0')
			atr_err_set_field(err, keystore_field(err));
		goto out;
	}
	if (c->stamp[0] != '\0' || c->clear_uploads)
		remove_uploads(s->datadir, c->clear_uploads ? NULL : c->stamp);
	rc = 0;
out:
	pthread_mutex_unlock(&s->mu);
	atr_config_free(cfg);
	free_conf(old, oldlen);
	if (text != NULL)
		atr_wipe(text, tlen);
	free(text);
	change_free(c, rc == 0);
	return rc;
}

/* ---- keystores */

/* The aliases of buf's key entries, opened with password (an empty array
 * when it does not open), their number in *count, and in *found whether
 * alias (when given) names one of them. NULL without memory. */
static json_t *
key_aliases(const unsigned char *buf, size_t len, const char *password, int *count,
    const char *alias, int *found)
{
	struct atr_ks *ks = atr_ks_load_mem(buf, len, password, NULL);
	json_t *arr = json_array();

	*count = 0;
	*found = 0;
	for (size_t i = 0; ks != NULL && arr != NULL && i < atr_ks_count(ks); i++) {
		const struct atr_ks_entry *e = atr_ks_entry_at(ks, i);
		if (atr_ks_entry_kind(e) != ATR_KS_PRIVATE_KEY)
			continue;
		json_array_append_new(arr, json_string(atr_ks_entry_alias(e)));
		(*count)++;
	}
	if (ks == NULL) {
		*found = 1; /* it does not open: the commit's check says why */
	} else if (alias != NULL && alias[0] != '\0') {
		const struct atr_ks_entry *e = atr_ks_find(ks, alias);
		*found = e != NULL && atr_ks_entry_kind(e) == ATR_KS_PRIVATE_KEY;
	}
	atr_ks_free(ks);
	return arr;
}

/* Decodes b64 into a new buffer: *out (the caller's), *outlen. */
static int
decode(const char *b64, unsigned char **out, size_t *outlen, struct atr_err *err)
{
	size_t len = strlen(b64);
	int decoded;

	*out = NULL;
	if (len == 0 || len > (KEYSTORE_MAX / 3 + 1) * 4) {
		atr_err_set(err, ATR_E_TOO_LARGE,
		    len ? "the keystore file is larger than 1 MiB" : "the keystore file is empty");
		return atr_err_set_field(err, "tls_keystore");
	}
	if ((*out = malloc(len)) == NULL)
		return atr_err_set(err, ATR_E_NOMEM, NULL);
	decoded = EVP_DecodeBlock(*out, (const unsigned char *)b64, (int)len);
	if (decoded < 0) {
		free(*out);
		*out = NULL;
		atr_err_set(err, ATR_E_BAD_REQUEST, "the keystore upload is not valid base64");
		return atr_err_set_field(err, "tls_keystore");
	}
	/* EVP_DecodeBlock counts the padding as bytes. */
	while (decoded > 0 && len > 0 && b64[len - 1] == '=') {
		decoded--;
		len--;
	}
	*outlen = (size_t)decoded;
	return 0;
}

/* Writes the password file of the upload. */
static int
write_password(struct settings_change *c, const char *password, struct atr_err *err)
{
	char line[PASSWORD_MAX + 2];
	int w = snprintf(line, sizeof(line), "%s\n", password != NULL ? password : "");
	int rc;

	if (w >= (int)sizeof(line)) {
		atr_wipe(line, sizeof(line));
		atr_err_set(err, ATR_E_BAD_REQUEST, "the password is too long");
		return atr_err_set_field(err, "tls_keystore_password");
	}
	snprintf(c->passpath, sizeof(c->passpath), "%s/tls/keystore-%s.pass", c->s->datadir,
	    c->stamp);
	rc = atr_write_file_atomic(c->passpath, line, (size_t)w, 0600, err);
	atr_wipe(line, sizeof(line));
	if (rc == -1)
		c->passpath[0] = '\0';
	return rc;
}

int
settings_set_keystore(struct settings_change *c, const char *b64, const char *password,
    const char *alias, json_t **aliases, struct atr_err *err)
{
	unsigned char *ks = NULL;
	size_t len = 0;
	enum atr_ks_format fmt;
	const char *ext;
	char relpass[128];
	time_t now = time(NULL);
	struct tm tm;
	json_t *list;
	int count, found, rc = -1, has_alias = alias != NULL && alias[0] != '\0';

	*aliases = NULL;
	if (c->stamp[0] != '\0')
		return atr_err_set(err, ATR_E_INTERNAL, "one keystore per change set");
	if (decode(b64, &ks, &len, err) == -1)
		return -1;
	if ((fmt = atr_ks_detect(ks, len)) == ATR_KS_UNKNOWN) {
		atr_err_set_worded(err, ATR_E_KS_FORMAT, atr_errcode_text(ATR_E_KS_FORMAT), NULL);
		atr_err_set_field(err, "tls_keystore");
		goto out;
	}
	gmtime_r(&now, &tm);
	strftime(c->stamp, sizeof(c->stamp), "%Y%m%dT%H%M%S", &tm);
	ext = fmt == ATR_KS_JKS || fmt == ATR_KS_JCEKS ? "jks" : fmt == ATR_KS_PEM ? "pem" : "p12";
	snprintf(c->ksrel, sizeof(c->ksrel), "tls/keystore-%s.%s", c->stamp, ext);
	snprintf(c->kspath, sizeof(c->kspath), "%s/%s", c->s->datadir, c->ksrel);
	if (atr_write_file_atomic(c->kspath, ks, len, 0600, err) == -1) {
		c->kspath[0] = '\0';
		goto out;
	}
	/* Several key entries and no alias, or an alias it does not hold:
	 * offer the choice. */
	if ((list = key_aliases(ks, len, password, &count, alias, &found)) == NULL) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		goto out;
	}
	if ((!has_alias && count > 1) || (has_alias && !found)) {
		if (has_alias)
			atr_err_set(err, ATR_E_KS_NO_ENTRY,
			    "this keystore has no key entry by that name; choose one of its keys");
		else
			atr_err_set(err, ATR_E_BAD_REQUEST,
			    "this keystore holds several keys; choose the one to serve");
		atr_err_set_field(err, "tls_keystore_alias");
		*aliases = list;
		goto out;
	}
	json_decref(list);
	snprintf(c->alias, sizeof(c->alias), "%s", has_alias ? alias : "");
	if (write_password(c, password, err) == -1)
		goto out;
	snprintf(relpass, sizeof(relpass), "tls/keystore-%s.pass", c->stamp);
	if (settings_set(c, "tls_keystore", c->ksrel, err) == -1 ||
	    settings_set(c, "tls_keystore_password_file", relpass, err) == -1 ||
	    settings_set(c, "tls_keystore_password", NULL, err) == -1 ||
	    settings_set(c, "tls_keystore_alias", has_alias ? alias : NULL, err) == -1)
		goto out;
	rc = 0;
out:
	atr_wipe(ks, len);
	free(ks);
	return rc;
}

int
settings_reprotect_keystore(struct settings_change *c, struct atr_err *err)
{
	char *pw = NULL, *fresh = NULL, oldpath[sizeof(c->kspath)], line[40];
	unsigned char raw[16];
	struct atr_ks *ks = NULL, *out = NULL;
	const struct atr_ks_entry *e = NULL;
	EVP_PKEY *key = NULL;
	STACK_OF(X509) *chain = NULL;
	int rc = -1;

	if (c->kspath[0] == '\0' || c->passpath[0] == '\0')
		return atr_err_set(err, ATR_E_INTERNAL, "no keystore was uploaded to re-protect");
	if ((pw = atr_passfile_read(c->passpath, err)) == NULL)
		return -1;
	if ((ks = atr_ks_load_file(c->kspath, pw[0] ? pw : NULL, err)) == NULL) {
		atr_err_set_field(err, keystore_field(err));
		goto out;
	}
	for (size_t i = 0; e == NULL && i < atr_ks_count(ks); i++) {
		const struct atr_ks_entry *x = atr_ks_entry_at(ks, i);
		if (atr_ks_entry_kind(x) == ATR_KS_PRIVATE_KEY &&
		    (c->alias[0] == '\0' || strcmp(atr_ks_entry_alias(x), c->alias) == 0))
			e = x;
	}
	if (e == NULL) {
		atr_err_set(err, ATR_E_KS_NO_ENTRY, "the keystore holds no key entry to re-protect");
		atr_err_set_field(err, "tls_keystore_alias");
		goto out;
	}
	if ((key = atr_ks_entry_key(ks, e, pw[0] ? pw : NULL, err)) == NULL) {
		atr_err_set_field(err, keystore_field(err));
		goto out;
	}
	chain = (STACK_OF(X509) *)atr_ks_entry_chain(e);
	if (atr_random_bytes(raw, sizeof(raw)) == -1) {
		atr_err_set(err, ATR_E_INTERNAL, "no randomness for a password");
		goto out;
	}
	if ((fresh = calloc(1, sizeof(raw) * 2 + 1)) == NULL) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		goto out;
	}
	atr_hex(raw, sizeof(raw), fresh);
	atr_wipe(raw, sizeof(raw));
	if ((out = atr_ks_new(ATR_KS_PKCS12)) == NULL) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		goto out;
	}
	if (atr_ks_set_key(out, atr_ks_entry_alias(e), key, chain, fresh, 0, err) == -1)
		goto out;
	/* The new file replaces the upload (a .jks becomes a .p12). */
	snprintf(oldpath, sizeof(oldpath), "%s", c->kspath);
	snprintf(c->ksrel, sizeof(c->ksrel), "tls/keystore-%s.p12", c->stamp);
	snprintf(c->kspath, sizeof(c->kspath), "%s/%s", c->s->datadir, c->ksrel);
	if (atr_ks_save_file(out, c->kspath, fresh, NULL, err) == -1) {
		unlink(c->kspath);
		snprintf(c->kspath, sizeof(c->kspath), "%s", oldpath);
		atr_err_set_field(err, "tls_keystore");
		goto out;
	}
	if (strcmp(oldpath, c->kspath) != 0)
		unlink(oldpath);
	snprintf(line, sizeof(line), "%s\n", fresh);
	if (atr_write_file_atomic(c->passpath, line, strlen(line), 0600, err) == -1 ||
	    settings_set(c, "tls_keystore", c->ksrel, err) == -1)
		goto out;
	if (c->report != NULL)
		c->report->reprotected = 1;
	rc = 0;
out:
	atr_wipe(line, sizeof(line));
	EVP_PKEY_free(key);
	atr_ks_free(out);
	atr_ks_free(ks);
	atr_free_secret(pw);
	atr_free_secret(fresh);
	return rc;
}

int
settings_clear_keystore(struct settings_change *c, struct atr_err *err)
{
	static const char *const keys[] = {"tls_keystore", "tls_keystore_password",
		"tls_keystore_password_file", "tls_keystore_alias"};

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (settings_set(c, keys[i], NULL, err) == -1)
			return -1;
	c->clear_uploads = 1;
	return 0;
}

const char *
settings_keystore_file(const struct settings_change *c)
{
	return c->ksrel[0] != '\0' ? c->ksrel : NULL;
}
