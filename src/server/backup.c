/*
 * Online backup and verified restore of a data directory.
 *
 * A backup is a data directory of its own (atrium.db, blobs/XX/SHA256,
 * chunks/XX/SHA256 for chunked content, tls/, atrium.conf) plus backup.json, the summary, written last. It is
 * built in DEST.partial and renamed to DEST when complete: a directory
 * named DEST always holds a whole, verified backup, and restore refuses
 * anything without backup.json.
 *
 * The snapshot is taken under the running server (store.h explains why it
 * is consistent and does not hold commits up); its content files are
 * linked, or copied across file systems, after it. A content file is
 * never rewritten, so a link is as good as a copy taken at that moment;
 * the only way one disappears is its project being deleted after the
 * snapshot, and then the backup starts over with a new snapshot.
 *
 * A restore copies (never links: the restored directory shares nothing
 * with the backup it came from), verifies the copy as well as the
 * backup, and switches with one rename (an exchange when the old
 * directory is kept).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "atrium/util.h"
#include "server/backup.h"
#include "server/check.h"
#include "server/datadir.h"
#include "server/server.h"
#include "server/store.h"

#define PIECE (1024 * 1024)
#define ATTEMPTS 3    /* snapshots tried when content vanishes meanwhile */
#define VANISHED (-2) /* a content file went away after the snapshot */
#define MANIFEST "backup.json"
#define MANIFEST_MAX (16 * 1024 * 1024)

struct bk {
	const char *datadir;
	char partial[4200];
	unsigned char *buf; /* PIECE bytes for copies */
	int copying;        /* links failed with EXDEV: copy everything */
	int64_t users, projects, revisions, blobs, bytes, linked, copied, tls_files;
	json_t *heads;      /* project name -> last revision in the snapshot */
	char vanished[300]; /* which content went away, for the message */
	unsigned char fanout[256]; /* blobs/XX directories made */
	unsigned char cfanout[256]; /* chunks/XX directories made */
	struct store_conn *sc;     /* the snapshot's store, while contents are put */
	int64_t chunks;            /* chunk files linked or copied */
};

static void
fail(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
fail(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "atriumd: %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int
fsync_path(const char *path)
{
	int fd, rc;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/* 1: dir is missing, 2: an empty directory, 0: anything else (-1 and
 * errno when it cannot be read). */
static int
dir_state(const char *dir)
{
	struct dirent *de;
	DIR *d;
	int empty = 1;

	if ((d = opendir(dir)) == NULL) {
		if (errno == ENOENT)
			return 1;
		return errno == ENOTDIR ? 0 : -1;
	}
	while (empty && (de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			empty = 0;
	closedir(d);
	return empty ? 2 : 0;
}

static int
rm_one(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	return (type == FTW_DP ? rmdir(path) : unlink(path)) == -1 && errno != ENOENT ? -1 : 0;
}

/* Removes path and everything under it (symbolic links, not what they
 * point to). Only ever called on directories this file made. */
static int
rm_tree(const char *path)
{
	if (nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS) == -1 && errno != ENOENT)
		return -1;
	return 0;
}

/* Copies the regular file src to the new file dst (mode 0600), fsync'ed.
 * -1 with errno. */
static int
copy_file(unsigned char *buf, const char *src, const char *dst)
{
	int in, out, saved;
	ssize_t got = 0, put;

	if ((in = open(src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return -1;
	if ((out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) == -1) {
		saved = errno;
		close(in);
		errno = saved;
		return -1;
	}
	for (;;) {
		got = read(in, buf, PIECE);
		if (got == -1 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		for (ssize_t off = 0; off < got; off += put)
			if ((put = write(out, buf + off, (size_t)(got - off))) == -1) {
				got = -1;
				goto done;
			}
	}
done:
	saved = errno;
	if (got == 0 && fsync(out) == -1) {
		got = -1;
		saved = errno;
	}
	close(in);
	if (close(out) == -1 && got == 0) {
		got = -1;
		saved = errno;
	}
	if (got != 0)
		unlink(dst);
	errno = saved;
	return got == 0 ? 0 : -1;
}

/* Copies the tree under src into dst (made, 0700): directories 0700,
 * regular files 0600; anything else is left out with a warning. Counts
 * the files into *n. -1 with what failed said on stderr. */
static int
copy_tree(const char *cmd, unsigned char *buf, const char *src, const char *dst, int64_t *n)
{
	char s[4400], d[4400];
	struct dirent *de;
	struct stat sb;
	DIR *dir;
	int rc = 0;

	if (mkdir(dst, 0700) == -1 && errno != EEXIST) {
		fail(cmd, "cannot create %s: %s", dst, strerror(errno));
		return -1;
	}
	if ((dir = opendir(src)) == NULL) {
		fail(cmd, "cannot read %s: %s", src, strerror(errno));
		return -1;
	}
	while (rc == 0 && (de = readdir(dir)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if ((size_t)snprintf(s, sizeof(s), "%s/%s", src, de->d_name) >= sizeof(s) ||
		    (size_t)snprintf(d, sizeof(d), "%s/%s", dst, de->d_name) >= sizeof(d)) {
			fail(cmd, "a name under %s is too long", src);
			rc = -1;
		} else if (lstat(s, &sb) == -1) {
			fail(cmd, "cannot read %s: %s", s, strerror(errno));
			rc = -1;
		} else if (S_ISDIR(sb.st_mode)) {
			rc = copy_tree(cmd, buf, s, d, n);
		} else if (!S_ISREG(sb.st_mode)) {
			fprintf(stderr, "atriumd: %s: %s is not a regular file; left out\n", cmd, s);
		} else if (copy_file(buf, s, d) == -1) {
			fail(cmd, "cannot copy %s to %s: %s", s, d, strerror(errno));
			rc = -1;
		} else {
			(*n)++;
		}
	}
	closedir(dir);
	if (rc == 0 && fsync_path(dst) == -1) {
		fail(cmd, "cannot sync %s: %s", dst, strerror(errno));
		rc = -1;
	}
	return rc;
}

/* ---- backup */

/* Links (or copies) chunk sha256 into the backup, once. */
static int
put_chunk(struct bk *b, const char *sha256)
{
	char from[4400], to[4400], dir[4400];
	unsigned int xx;
	struct stat sb;

	snprintf(from, sizeof(from), "%s/chunks/%.2s/%s", b->datadir, sha256, sha256);
	snprintf(to, sizeof(to), "%s/chunks/%.2s/%s", b->partial, sha256, sha256);
	if (sscanf(sha256, "%2x", &xx) != 1)
		return -1;
	if (!b->cfanout[xx]) {
		snprintf(dir, sizeof(dir), "%s/chunks/%.2s", b->partial, sha256);
		if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
			fail("backup", "cannot create %s: %s", dir, strerror(errno));
			return -1;
		}
		b->cfanout[xx] = 1;
	}
	if (lstat(to, &sb) == 0)
		return 0;
	if (!b->copying && link(from, to) == 0)
		goto added;
	if (errno == ENOENT)
		return VANISHED;
	if (!b->copying && errno != EXDEV && errno != EPERM && errno != EMLINK) {
		fail("backup", "cannot link %s to %s: %s", from, to, strerror(errno));
		return -1;
	}
	b->copying = 1;
	if (copy_file(b->buf, from, to) == 0)
		goto added;
	if (errno == ENOENT)
		return VANISHED;
	fail("backup", "cannot copy %s to %s: %s", from, to, strerror(errno));
	return -1;
added:
	b->chunks++;
	return 0;
}

/* The chunks of r when its content is chunked: 0 put, 1 when it is not
 * chunked, -1 or VANISHED. */
static int
put_chunked(struct bk *b, const char *project, const struct store_revision *r)
{
	struct store_chunk_ref *refs = NULL;
	struct atr_err err;
	char path[4400];
	int n = 0, rc = 0;

	if (store_content_manifest(b->sc, r->sha256, &refs, &n, &err) == -1)
		return err.code == ATR_E_NOT_FOUND ? 1 : -1;
	snprintf(path, sizeof(path), "%s/chunks", b->partial);
	if (mkdir(path, 0700) == -1 && errno != EEXIST) {
		fail("backup", "cannot create %s: %s", path, strerror(errno));
		free(refs);
		return -1;
	}
	for (int i = 0; rc == 0 && i < n; i++)
		rc = put_chunk(b, refs[i].sha256);
	if (rc == VANISHED)
		snprintf(b->vanished, sizeof(b->vanished), "project '%s' revision %lld: a chunk "
		    "of its content", project, (long long)r->number);
	free(refs);
	if (rc == 0)
		b->bytes += r->size;
	return rc;
}

/* Links (or copies) the content of r into the backup, once per SHA-256. */
static int
put_blob(struct bk *b, const char *project, const struct store_revision *r)
{
	char from[4400], to[4400], dir[4400];
	unsigned int xx;
	struct stat sb;

	store_sqlite_blob_path(b->datadir, r->sha256, from, sizeof(from));
	store_sqlite_blob_path(b->partial, r->sha256, to, sizeof(to));
	if (access(from, F_OK) == -1 && errno == ENOENT) {
		int rc = put_chunked(b, project, r);
		if (rc != 1)
			return rc;
	}
	if (sscanf(r->sha256, "%2x", &xx) != 1) {
		fail("backup", "project '%s' revision %lld: its recorded SHA-256 '%s' is not one",
		    project, (long long)r->number, r->sha256);
		return -1;
	}
	if (!b->fanout[xx]) {
		snprintf(dir, sizeof(dir), "%s/blobs/%.2s", b->partial, r->sha256);
		if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
			fail("backup", "cannot create %s: %s", dir, strerror(errno));
			return -1;
		}
		b->fanout[xx] = 1;
	}
	if (lstat(to, &sb) == 0)
		return 0; /* the same content as an earlier revision */
	if (!b->copying) {
		if (link(from, to) == 0)
			goto added;
		if (errno == ENOENT)
			goto vanished;
		if (errno != EXDEV && errno != EPERM && errno != EMLINK) {
			fail("backup", "cannot link %s to %s: %s", from, to, strerror(errno));
			return -1;
		}
		b->copying = 1; /* another file system: copies from now on */
	}
	if (copy_file(b->buf, from, to) == 0)
		goto added;
	if (errno == ENOENT)
		goto vanished;
	fail("backup", "cannot copy %s to %s: %s", from, to, strerror(errno));
	return -1;
vanished:
	snprintf(b->vanished, sizeof(b->vanished), "project '%s' revision %lld: its content "
	    "blobs/%.2s/%s", project, (long long)r->number, r->sha256, r->sha256);
	return VANISHED;
added:
	if (b->copying)
		b->copied++;
	else
		b->linked++;
	b->blobs++;
	b->bytes += r->size;
	return 0;
}

struct walk {
	struct bk *b;
	const char *project;
	int rc;
};

static int
each_revision(const struct store_revision *r, void *arg)
{
	struct walk *w = arg;

	w->b->revisions++;
	w->rc = put_blob(w->b, w->project, r);
	return w->rc != 0;
}

static int
each_project(const struct store_project *p, void *arg)
{
	struct bk *b = arg;

	b->projects++;
	return json_object_set_new(b->heads, p->name, json_integer(p->head)) == -1;
}

static int
each_branch(const struct store_branch *br, void *arg)
{
	return json_array_append_new(arg, json_string(br->name)) == -1;
}

/* The content of every revision the snapshot in b->partial holds, read
 * through the store interface on the snapshot itself. */
static int
put_blobs(struct bk *b)
{
	struct atr_config *cfg = atr_config_new();
	struct store *st = NULL;
	struct store_conn *sc = NULL;
	struct atr_err err;
	const char *name;
	json_t *v;
	char tmp[4300];
	int rc = -1;

	if (cfg == NULL) {
		fail("backup", "out of memory");
		return -1;
	}
	if ((st = store_open(cfg, b->partial, &err)) == NULL ||
	    (sc = store_conn_open(st, &err)) == NULL ||
	    store_user_count(sc, &b->users, &err) == -1 ||
	    store_project_list(sc, each_project, b, &err) == -1) {
		fail("backup", "reading the snapshot: %s", atr_err_msg(&err));
		goto out;
	}
	b->sc = sc;
	json_object_foreach(b->heads, name, v) {
		struct walk w = {b, name, 0};
		json_t *branches = json_array();
		size_t k;
		/* Every branch's revisions: a branch's content may be its own. */
		if (branches == NULL || store_branch_list(sc, name, each_branch, branches, &err) == -1) {
			json_decref(branches);
			fail("backup", "reading the snapshot: %s",
			    branches == NULL ? "out of memory" : atr_err_msg(&err));
			goto out;
		}
		for (k = 0; k < json_array_size(branches) && w.rc == 0; k++) {
			if (store_revision_list_in(sc, name,
				json_string_value(json_array_get(branches, k)), each_revision, &w,
				&err) == -1) {
				json_decref(branches);
				fail("backup", "reading the snapshot: %s", atr_err_msg(&err));
				goto out;
			}
		}
		json_decref(branches);
		if (w.rc != 0) {
			rc = w.rc;
			goto out;
		}
	}
	rc = 0;
out:
	b->sc = NULL;
	store_conn_close(sc);
	store_close(st);
	atr_config_free(cfg);
	/* Opening the snapshot as a store made blobs/tmp and chunks/tmp: not
	 * part of it. */
	snprintf(tmp, sizeof(tmp), "%s/blobs/tmp", b->partial);
	rmdir(tmp);
	snprintf(tmp, sizeof(tmp), "%s/chunks/tmp", b->partial);
	rmdir(tmp);
	for (int i = 0; rc == 0 && i < 256; i++) {
		if (!b->cfanout[i])
			continue;
		snprintf(tmp, sizeof(tmp), "%s/chunks/%02x", b->partial, i);
		if (fsync_path(tmp) == -1) {
			fail("backup", "cannot sync %s: %s", tmp, strerror(errno));
			rc = -1;
		}
	}
	for (int i = 0; rc == 0 && i < 256; i++) {
		if (!b->fanout[i])
			continue;
		snprintf(tmp, sizeof(tmp), "%s/blobs/%02x", b->partial, i);
		if (fsync_path(tmp) == -1) {
			fail("backup", "cannot sync %s: %s", tmp, strerror(errno));
			rc = -1;
		}
	}
	return rc;
}

/* One try at the embedded store: snapshot, content, verification. */
static int
backup_store(struct bk *b)
{
	struct check_totals t;
	struct atr_err err;
	char path[4300];

	snprintf(path, sizeof(path), "%s/blobs", b->partial);
	if (mkdir(path, 0700) == -1) {
		fail("backup", "cannot create %s: %s", path, strerror(errno));
		return -1;
	}
	snprintf(path, sizeof(path), "%s/atrium.db", b->partial);
	if (store_sqlite_snapshot(b->datadir, path, &err) == -1) {
		fail("backup", "%s", atr_err_msg(&err));
		return -1;
	}
	if (put_blobs(b) != 0)
		return b->vanished[0] != '\0' ? VANISHED : -1;
	if (check_store_tree(b->partial,
		"the live content changed under the backup; run check on the data directory",
		stderr, &t, &err) == -1) {
		fail("backup", "cannot verify the snapshot: %s", atr_err_msg(&err));
		return -1;
	}
	if (t.problems > 0) {
		fail("backup", "the snapshot did not verify (%d problem(s) above); nothing was "
			       "kept",
		    t.problems);
		return -1;
	}
	if (t.revisions != b->revisions || t.blobs != b->blobs || t.chunks != b->chunks) {
		fail("backup", "the snapshot holds %lld revisions and %lld content files, but "
			       "%lld and %lld were copied; nothing was kept",
		    (long long)t.revisions, (long long)t.blobs, (long long)b->revisions,
		    (long long)b->blobs);
		return -1;
	}
	return 0;
}

/* Starts b->partial afresh: what an earlier, interrupted backup left goes. */
static int
fresh_partial(struct bk *b)
{
	if (rm_tree(b->partial) == -1) {
		fail("backup", "cannot remove %s, left by an earlier backup: %s", b->partial,
		    strerror(errno));
		return -1;
	}
	if (mkdir(b->partial, 0700) == -1) {
		fail("backup", "cannot create %s: %s", b->partial, strerror(errno));
		return -1;
	}
	json_object_clear(b->heads);
	b->users = b->projects = b->revisions = b->blobs = b->bytes = b->chunks = 0;
	memset(b->cfanout, 0, sizeof(b->cfanout));
	b->linked = b->copied = b->tls_files = 0;
	b->vanished[0] = '\0';
	memset(b->fanout, 0, sizeof(b->fanout));
	return 0;
}

/* Now in UTC: 2024-05-01T12:00:00Z, or 20240501T120000Z when compact. */
static void
utc_stamp(char *out, size_t size, int compact)
{
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	if (compact)
		strftime(out, size, "%Y%m%dT%H%M%SZ", &tm);
	else
		strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static json_t *
summary(const struct bk *b, const char *dest, int pg, int settings, double seconds)
{
	char created[32];
	json_t *j;

	utc_stamp(created, sizeof(created), 0);
	if (pg)
		return json_pack("{s:i,s:s,s:s,s:s,s:s,s:s,s:I,s:b,s:f}", "format", 1, "backup", dest,
		    "source", b->datadir, "created", created, "store", "postgresql", "database",
		    "not in this backup: back the PostgreSQL database up with pg_dump or "
		    "pg_basebackup (docs/backup.md)",
		    "tls_files", (json_int_t)b->tls_files, "settings", settings, "seconds", seconds);
	j = json_pack("{s:i,s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:O,s:I,s:b,s:b,s:f}",
	    "format", 1, "backup", dest, "source", b->datadir, "created", created, "store",
	    "sqlite", "users", (json_int_t)b->users, "projects", (json_int_t)b->projects,
	    "revisions", (json_int_t)b->revisions, "blobs", (json_int_t)b->blobs, "chunks",
	    (json_int_t)b->chunks, "bytes",
	    (json_int_t)b->bytes, "linked", (json_int_t)b->linked, "copied",
	    (json_int_t)b->copied, "last_revision", b->heads, "tls_files",
	    (json_int_t)b->tls_files, "settings", settings, "verified", 1, "seconds", seconds);
	return j;
}

int
backup_main(const char *datadir, const char *confpath, const char *dest,
    struct atr_config *overrides)
{
	struct bk b;
	struct atr_config *cfg = NULL;
	struct atr_err err;
	char path[4300], conf[4300];
	json_t *sum = NULL;
	char *text = NULL;
	int64_t t0 = atr_now_ms();
	int rc = 1, pg, settings = 0, state, r = -1;

	memset(&b, 0, sizeof(b));
	b.datadir = datadir;
	umask(077);
	if (datadir == NULL || confpath == NULL || dest == NULL) {
		fprintf(stderr, "atriumd: usage: atriumd --data DIR backup DEST\n");
		atr_config_free(overrides);
		return 2;
	}
	if (strlen(datadir) > 4000 || strlen(dest) > 4000) {
		fail("backup", "the directory names are too long");
		atr_config_free(overrides);
		return 2;
	}
	if ((state = dir_state(dest)) == 0 || state == -1) {
		fail("backup", "%s %s; a backup goes into a new or empty directory, so that it never "
			       "mixes with another",
		    dest, state == 0 ? "exists and is not empty" : strerror(errno));
		atr_config_free(overrides);
		return 1;
	}
	if ((size_t)snprintf(b.partial, sizeof(b.partial), "%s.partial", dest) >=
	    sizeof(b.partial)) {
		fail("backup", "the name %s is too long", dest);
		atr_config_free(overrides);
		return 2;
	}
	if ((cfg = server_load_config(confpath, overrides, CONF_USE_DEFAULTS, &err)) == NULL) {
		fail("backup", "%s", atr_err_msg(&err));
		goto out;
	}
	pg = strcmp(atr_config_str(cfg, "database"), "sqlite") != 0;
	if ((b.buf = malloc(PIECE)) == NULL || (b.heads = json_object()) == NULL) {
		fail("backup", "out of memory");
		goto out;
	}
	for (int attempt = 1; attempt <= ATTEMPTS; attempt++) {
		if (fresh_partial(&b) == -1)
			goto out;
		if (pg || (r = backup_store(&b)) != VANISHED)
			break;
		fprintf(stderr, "atriumd: backup: %s went away after the snapshot (its project "
				"was deleted?); taking a new snapshot\n",
		    b.vanished);
	}
	if (!pg && r != 0) {
		if (r == VANISHED)
			fail("backup", "%s is missing from %s after %d snapshots: its project was "
				       "deleted during each, or the file is lost (atriumd --data %s "
				       "check tells); nothing was kept",
			    b.vanished, datadir, ATTEMPTS, datadir);
		goto out;
	}
	snprintf(path, sizeof(path), "%s/tls", datadir);
	if (dir_state(path) != 1) {
		snprintf(conf, sizeof(conf), "%s/tls", b.partial);
		if (copy_tree("backup", b.buf, path, conf, &b.tls_files) == -1)
			goto out;
	}
	/* The settings file, wherever it is (--config), is the backup's
	 * atrium.conf. */
	snprintf(conf, sizeof(conf), "%s/atrium.conf", b.partial);
	if (access(confpath, F_OK) == 0) {
		if (copy_file(b.buf, confpath, conf) == -1) {
			fail("backup", "cannot copy %s: %s", confpath, strerror(errno));
			goto out;
		}
		settings = 1;
	}
	/* The summary is the marker: written last, then the one rename. */
	sum = summary(&b, dest, pg, settings, (double)(atr_now_ms() - t0) / 1000.0);
	if (sum == NULL || (text = json_dumps(sum, JSON_INDENT(2) | JSON_PRESERVE_ORDER |
				    JSON_REAL_PRECISION(6))) == NULL) {
		fail("backup", "out of memory");
		goto out;
	}
	snprintf(path, sizeof(path), "%s/%s", b.partial, MANIFEST);
	if (atr_write_file_atomic(path, text, strlen(text), 0600, &err) == -1) {
		fail("backup", "%s", atr_err_msg(&err));
		goto out;
	}
	if (fsync_path(b.partial) == -1 || rename(b.partial, dest) == -1 ||
	    atr_fsync_dir_of(dest) == -1) {
		fail("backup", "cannot rename %s to %s: %s", b.partial, dest, strerror(errno));
		goto out;
	}
	if (pg)
		fprintf(stderr, "atriumd: backup: the PostgreSQL database is not in this backup, "
				"only this node's files; back the database up with pg_dump or "
				"pg_basebackup (see docs/backup.md)\n");
	printf("%s\n", text);
	rc = 0;
out:
	if (rc != 0 && b.partial[0] != '\0' && rm_tree(b.partial) == -1)
		fail("backup", "cannot remove %s: %s", b.partial, strerror(errno));
	free(text);
	json_decref(sum);
	json_decref(b.heads);
	free(b.buf);
	atr_config_free(cfg);
	atr_config_free(overrides);
	return rc;
}

/* ---- restore */

/* Verifies the store under dir (the backup, then the copy made of it). */
static int
verify_tree(const char *dir, const char *src, const json_t *man, struct check_totals *t)
{
	struct atr_err err;
	json_int_t revs = json_integer_value(json_object_get(man, "revisions"));
	json_int_t blobs = json_integer_value(json_object_get(man, "blobs"));
	json_int_t chunks = json_integer_value(json_object_get(man, "chunks"));

	if (check_store_tree(dir, "this backup cannot bring that revision back; restore another "
				  "backup",
		stderr, t, &err) == -1) {
		fail("restore", "%s cannot be read as a backup: %s; nothing was changed", src,
		    atr_err_msg(&err));
		return -1;
	}
	if (t->problems > 0) {
		fail("restore", "%s is damaged (%d problem(s) above); nothing was changed", src,
		    t->problems);
		return -1;
	}
	if (t->revisions != revs || t->blobs != blobs || t->chunks != chunks) {
		fail("restore", "%s holds %lld revisions and %lld content files, but its %s says "
				"%lld and %lld; it is not the backup that was made; nothing was changed",
		    src, (long long)t->revisions, (long long)t->blobs, MANIFEST, (long long)revs,
		    (long long)blobs);
		return -1;
	}
	return 0;
}

/* Copies the backup's files (everything but backup.json) into dst. */
static int
copy_backup(unsigned char *buf, const char *src, const char *dst, int pg, int conf_outside,
    int64_t *files)
{
	static const char *const trees[] = {"blobs", "chunks", "tls"};
	static const char *const plain[] = {"atrium.db", "atrium.conf"};
	char s[4400], d[4400];

	for (size_t i = pg ? 1 : 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
		snprintf(s, sizeof(s), "%s/%s", src, plain[i]);
		snprintf(d, sizeof(d), "%s/%s", dst, plain[i]);
		if (i == 1 && (conf_outside || access(s, F_OK) == -1))
			continue; /* restore_conf()'s, or a backup without atrium.conf */
		if (copy_file(buf, s, d) == -1) {
			fail("restore", "cannot copy %s to %s: %s", s, d, strerror(errno));
			return -1;
		}
		(*files)++;
	}
	for (size_t i = pg ? 1 : 0; i < sizeof(trees) / sizeof(trees[0]); i++) {
		snprintf(s, sizeof(s), "%s/%s", src, trees[i]);
		snprintf(d, sizeof(d), "%s/%s", dst, trees[i]);
		if (dir_state(s) == 1)
			continue;
		if (copy_tree("restore", buf, s, d, files) == -1)
			return -1;
	}
	if (fsync_path(dst) == -1) {
		fail("restore", "cannot sync %s: %s", dst, strerror(errno));
		return -1;
	}
	return 0;
}

/* Puts restoring in datadir's place; the old one, when there is one with
 * something in it, becomes before. */
static int
switch_in(const char *restoring, const char *datadir, const char *before, int keep_old)
{
	if (!keep_old)
		return rename(restoring, datadir); /* datadir missing or empty */
	/* One step: datadir is never missing, not even for a moment. */
	if (renameat2(AT_FDCWD, restoring, AT_FDCWD, datadir, RENAME_EXCHANGE) == 0)
		return rename(restoring, before);
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	if (rename(datadir, before) == -1)
		return -1;
	return rename(restoring, datadir);
}

/* Whether confpath is datadir's own atrium.conf (no --config elsewhere). */
static int
conf_in_datadir(const char *datadir, const char *confpath)
{
	char *def = server_confpath(datadir, NULL);
	int in = def != NULL && strcmp(def, confpath) == 0;

	free(def);
	return in;
}

/* The backup's atrium.conf into the settings file confpath outside the
 * data directory, keeping that file's mode and group; its previous bytes
 * are left in *old (NULL: there was none) for putting back. 1 written, 0
 * when the backup has none (confpath is left alone), -1 failed. */
static int
restore_conf(const char *src, const char *confpath, unsigned char **old, size_t *oldlen)
{
	struct atr_err err;
	unsigned char *text = NULL;
	size_t len = 0;
	char path[4300];
	int rc;

	*old = NULL;
	*oldlen = 0;
	snprintf(path, sizeof(path), "%s/atrium.conf", src);
	if (access(path, F_OK) == -1)
		return 0; /* a backup of a server without a settings file */
	if (atr_read_file(path, ATR_CONFIG_FILE_MAX, &text, &len, &err) == -1) {
		fail("restore", "%s; nothing was changed", atr_err_msg(&err));
		return -1;
	}
	if (atr_read_file(confpath, ATR_CONFIG_FILE_MAX, old, oldlen, &err) == -1 &&
	    err.code != ATR_E_NOT_FOUND) {
		fail("restore", "%s; nothing was changed", atr_err_msg(&err));
		free(text);
		return -1;
	}
	if ((rc = atr_write_file_keep(confpath, text, len, 0600, &err)) == -1)
		fail("restore", "the settings file: %s; nothing was changed", atr_err_msg(&err));
	else
		rc = 1;
	atr_wipe(text, len);
	free(text);
	return rc;
}

int
restore_main(const char *datadir, const char *confpath, const char *src, int force,
    struct atr_config *overrides)
{
	unsigned char *oldconf = NULL;
	size_t oldconflen = 0;
	int outside, conf_written = 0;
	struct check_totals t;
	struct atr_err err;
	char path[4300], restoring[4300], before[4400], stamp[32];
	unsigned char *buf = NULL;
	unsigned char *text = NULL;
	size_t len;
	json_t *man = NULL;
	json_error_t jerr;
	int64_t files = 0;
	int rc = 1, lockfd = -2, state, pg, made = 0;
	const char *store;

	atr_config_free(overrides); /* the backup brings its own settings */
	umask(077);
	if (datadir == NULL || confpath == NULL || src == NULL) {
		fprintf(stderr, "atriumd: usage: atriumd --data DIR restore [--force] SRC\n");
		return 2;
	}
	outside = !conf_in_datadir(datadir, confpath);
	if (strlen(datadir) > 4000 || strlen(src) > 4000) {
		fail("restore", "the directory names are too long");
		return 2;
	}
	if ((lockfd = datadir_lock(datadir, &err)) == -1) {
		fail("restore", "%s; nothing was changed", atr_err_msg(&err));
		return 1;
	}
	snprintf(path, sizeof(path), "%s/%s", src, MANIFEST);
	if (atr_read_file(path, MANIFEST_MAX, &text, &len, &err) == -1) {
		fail("restore", "%s is not a complete backup: it has no readable %s (%s), which "
				"backup writes last; nothing was changed",
		    src, MANIFEST, atr_err_msg(&err));
		goto out;
	}
	if ((man = json_loadb((const char *)text, len, 0, &jerr)) == NULL ||
	    (store = json_string_value(json_object_get(man, "store"))) == NULL ||
	    json_integer_value(json_object_get(man, "format")) != 1) {
		fail("restore", "%s is damaged: its %s is not a backup summary atriumd wrote; "
				"nothing was changed",
		    src, MANIFEST);
		goto out;
	}
	pg = strcmp(store, "sqlite") != 0;
	if (!pg && verify_tree(src, src, man, &t) == -1)
		goto out;
	if ((state = dir_state(datadir)) == -1) {
		fail("restore", "cannot read %s: %s", datadir, strerror(errno));
		goto out;
	}
	if (state == 0 && !force) {
		fail("restore", "%s is not empty; restore replaces a whole data directory: give "
				"--force to keep the old one as %s.before-restore-STAMP and restore in its "
				"place; nothing was changed",
		    datadir, datadir);
		goto out;
	}
	utc_stamp(stamp, sizeof(stamp), 1);
	snprintf(before, sizeof(before), "%s.before-restore-%s", datadir, stamp);
	if (state == 0 && access(before, F_OK) == 0) {
		fail("restore", "%s exists already; try again in a second", before);
		goto out;
	}
	snprintf(restoring, sizeof(restoring), "%s.restoring", datadir);
	if (rm_tree(restoring) == -1 || mkdir(restoring, 0700) == -1) {
		fail("restore", "cannot make %s afresh: %s", restoring, strerror(errno));
		goto out;
	}
	made = 1;
	if ((buf = malloc(PIECE)) == NULL) {
		fail("restore", "out of memory");
		goto out;
	}
	if (copy_backup(buf, src, restoring, pg, outside, &files) == -1)
		goto out;
	if (!pg && verify_tree(restoring, restoring, man, &t) == -1)
		goto out;
	if (datadir_secure(restoring, &err) == -1) {
		fail("restore", "%s", atr_err_msg(&err));
		goto out;
	}
	/* The settings file outside DIR last before the switch: a failure
	 * of either leaves both as they were. */
	if (outside && (conf_written = restore_conf(src, confpath, &oldconf, &oldconflen)) == -1) {
		conf_written = 0;
		goto out;
	}
	if (switch_in(restoring, datadir, before, state == 0) == -1 ||
	    atr_fsync_dir_of(datadir) == -1) {
		fail("restore", "cannot put %s in place of %s: %s", restoring, datadir,
		    strerror(errno));
		goto out;
	}
	made = 0;
	conf_written = 0;
	if (oldconf != NULL) {
		/* The settings that went with the old data, kept beside them. */
		snprintf(path, sizeof(path), "%s.before-restore-%s", confpath, stamp);
		if (atr_write_file_atomic(path, oldconf, oldconflen, 0600, &err) == -1)
			fail("restore", "cannot keep the old settings as %s: %s", path,
			    atr_err_msg(&err));
		else
			printf("The settings that were in %s are kept in %s.\n", confpath, path);
	}
	if (pg)
		printf("Restored this node's files (%lld) from %s into %s. The PostgreSQL database "
		       "is not in the backup: restore it with pg_restore or from your base backup "
		       "(docs/backup.md).\n",
		    (long long)files, src, datadir);
	else
		printf("Restored %s into %s: %lld projects, %lld revisions, %lld content files "
		       "(%.1f MiB) verified.\n",
		    src, datadir, (long long)t.projects, (long long)t.revisions, (long long)t.blobs,
		    (double)t.bytes / (1024.0 * 1024));
	if (state == 0)
		printf("The data that was in %s is kept in %s.\n", datadir, before);
	rc = 0;
out:
	if (conf_written == 1) {
		struct atr_err cerr;
		if (oldconf != NULL ? atr_write_file_keep(confpath, oldconf, oldconflen, 0600, &cerr) == -1
				    : unlink(confpath) == -1)
			fail("restore", "cannot put the settings file %s back as it was; the backup's "
					"is in it now",
			    confpath);
	}
	if (oldconf != NULL)
		atr_wipe(oldconf, oldconflen);
	free(oldconf);
	if (made && rm_tree(restoring) == -1)
		fail("restore", "cannot remove %s: %s", restoring, strerror(errno));
	if (lockfd >= 0)
		close(lockfd);
	json_decref(man);
	free(text);
	free(buf);
	return rc;
}
