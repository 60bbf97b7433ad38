/*
 * `atriumd --data DIR check`: is every acknowledged revision still there,
 * whole?
 *
 * The embedded store is checked underneath the store interface, because
 * opening it the ordinary way changes it (the schema is created and
 * unfinished uploads are deleted, the very things worth reporting). The
 * check reads the layout store_sqlite.c writes: DIR/atrium.db (WAL) and
 * one file per content under DIR/blobs/XX/SHA256 (XX: the hash's first two
 * hex digits), uploads in progress under DIR/blobs/tmp/. It opens the
 * database read-only and holds DIR/atriumd.lock, so nothing changes while
 * it looks.
 *
 * PostgreSQL is checked through the store interface, like the migration's
 * read-back (migrate.c): every revision is read from the database and
 * hashed.
 *
 * A problem is something an acknowledged revision or the database's own
 * consistency depends on; garbage a crash leaves behind (content no row
 * references, unfinished uploads) is only information.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <sqlite3.h>

#include "atrium/util.h"
#include "server/check.h"
#include "server/chunkfile.h"
#include "server/datadir.h"
#include "server/server.h"
#include "server/store.h"

#define PIECE (1024 * 1024)
#define ORPHANS_LISTED 20 /* one line each; then a count */

struct chk {
	FILE *out;
	unsigned char *buf; /* PIECE bytes for hashing */
	int problems;
	int infos;
	int quiet;            /* information counted, not written */
	const char *blob_fix; /* what to do about missing or damaged content */
	int64_t projects, revisions, blobs, bytes;
	const char *dir;      /* the data directory (chunks/) */
	int64_t manifests, chunks; /* chunked contents and chunk files verified */
	struct seen **seen;   /* chunks verified so far (a hash table), how they fared */
};

/* A chunk already verified (shared by many contents: hashed once). */
struct seen {
	char sha256[65];
	int ok;
	struct seen *next;
};

/* One content file found under DIR/blobs/XX/. */
struct blobfile {
	char sha256[65]; /* its name */
	char actual[65]; /* what its bytes hash to ("" when unreadable) */
	int64_t size;
	int used;        /* some revision row references it */
};

struct blobs {
	struct blobfile *v;
	size_t n, cap;
};

static void say(struct chk *c, const char *kind, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
static void problem(struct chk *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void info(struct chk *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
say(struct chk *c, const char *kind, const char *fmt, va_list ap)
{
	fprintf(c->out, "%s: ", kind);
	vfprintf(c->out, fmt, ap);
	fputc('\n', c->out);
	fflush(c->out);
}

static void
problem(struct chk *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	say(c, "problem", fmt, ap);
	va_end(ap);
	c->problems++;
}

static void
info(struct chk *c, const char *fmt, ...)
{
	va_list ap;

	c->infos++;
	if (c->quiet)
		return;
	va_start(ap, fmt);
	say(c, "info", fmt, ap);
	va_end(ap);
}

static int
is_sha256(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return i == 64;
}

/* Hashes the file at path into hex (65 bytes) and its size into *size.
 * -1 with errno set when it cannot be read. */
static int
hash_file(struct chk *c, const char *path, char *hex, int64_t *size)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char digest[32];
	int fd, rc = -1, saved;
	ssize_t got;

	*size = 0;
	if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(md);
		errno = ENOMEM;
		return -1;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		goto out;
	for (;;) {
		got = read(fd, c->buf, PIECE);
		if (got == -1 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		EVP_DigestUpdate(md, c->buf, (size_t)got);
		*size += got;
	}
	if (got == 0) {
		EVP_DigestFinal_ex(md, digest, NULL);
		atr_hex(digest, sizeof(digest), hex);
		rc = 0;
	}
	saved = errno;
	close(fd);
	errno = saved;
out:
	saved = errno; /* of open() or read() when rc is -1 */
	EVP_MD_CTX_free(md);
	errno = saved;
	return rc;
}

static int
add_blob(struct blobs *b, const struct blobfile *f)
{
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 1024;
		void *bigger = realloc(b->v, cap * sizeof(*b->v));
		if (bigger == NULL)
			return -1;
		b->v = bigger;
		b->cap = cap;
	}
	b->v[b->n++] = *f;
	return 0;
}

static int
cmp_blob(const void *a, const void *b)
{
	return strcmp(((const struct blobfile *)a)->sha256, ((const struct blobfile *)b)->sha256);
}

/* Reports what is in blobs/tmp: uploads a crash or a stop cut short. */
static void
scan_tmp(struct chk *c, const char *dir)
{
	struct dirent *de;
	struct stat sb;
	DIR *d;

	if ((d = opendir(dir)) == NULL) {
		if (errno != ENOENT)
			problem(c, "cannot read %s: %s; give the user running the check access to it",
			    dir, strerror(errno));
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) == -1)
			sb.st_size = 0;
		info(c, "blobs/tmp/%s (%lld bytes): an upload that was never acknowledged (cut short "
			"by a crash or a stop); harmless, atriumd deletes it when it starts",
		    de->d_name, (long long)sb.st_size);
	}
	closedir(d);
}

/* Hashes every file of one blobs/XX directory into b. */
static int
scan_fanout(struct chk *c, const char *blobdir, const char *xx, struct blobs *b)
{
	char dir[4300], path[4600];
	struct dirent *de;
	struct stat sb;
	DIR *d;

	if ((size_t)snprintf(dir, sizeof(dir), "%s/%s", blobdir, xx) >= sizeof(dir))
		return 0; /* cannot happen: blobdir is at most 4199 bytes */
	if ((d = opendir(dir)) == NULL) {
		problem(c, "cannot read %s: %s; give the user running the check access to it", dir,
		    strerror(errno));
		return 0;
	}
	while ((de = readdir(d)) != NULL) {
		struct blobfile f;
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= sizeof(path))
			continue; /* cannot happen: names are at most 255 bytes */
		if (lstat(path, &sb) == -1 || !S_ISREG(sb.st_mode) || !is_sha256(de->d_name) ||
		    strncmp(de->d_name, xx, 2) != 0) {
			info(c, "blobs/%s/%s is not content atriumd wrote (not a file named by its "
				"SHA-256 under its first two digits); atriumd ignores it",
			    xx, de->d_name);
			continue;
		}
		memset(&f, 0, sizeof(f));
		memcpy(f.sha256, de->d_name, 65); /* is_sha256(): 64 digits and a NUL */
		if (hash_file(c, path, f.actual, &f.size) == -1) {
			problem(c, "cannot read blobs/%s/%s: %s; give the user running the check "
				   "access to it (or restore it from a backup)",
			    xx, de->d_name, strerror(errno));
			f.actual[0] = '\0';
		}
		if (add_blob(b, &f) == -1) {
			closedir(d);
			return -1;
		}
		c->blobs++;
		c->bytes += f.size;
	}
	closedir(d);
	return 0;
}

/* Hashes every content file under DIR/blobs, sorted by name into b. */
static int
scan_blobs(struct chk *c, const char *datadir, struct blobs *b)
{
	char blobdir[4200], tmp[4300];
	struct dirent *de;
	DIR *d;

	snprintf(blobdir, sizeof(blobdir), "%s/blobs", datadir);
	if ((d = opendir(blobdir)) == NULL) {
		if (errno != ENOENT)
			problem(c, "cannot read %s: %s; give the user running the check access to it",
			    blobdir, strerror(errno));
		return 0;
	}
	while ((de = readdir(d)) != NULL) {
		const char *n = de->d_name;
		if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0)
			continue;
		if (strcmp(n, "tmp") == 0) {
			snprintf(tmp, sizeof(tmp), "%s/tmp", blobdir);
			scan_tmp(c, tmp);
		} else if (strlen(n) == 2 && strspn(n, "0123456789abcdef") == 2) {
			if (scan_fanout(c, blobdir, n, b) == -1) {
				closedir(d);
				return -1;
			}
		} else {
			info(c, "blobs/%s is not something atriumd wrote; atriumd ignores it", n);
		}
	}
	closedir(d);
	if (b->n > 0)
		qsort(b->v, b->n, sizeof(*b->v), cmp_blob);
	return 0;
}

/* Runs a pragma whose rows are problems unless it answers the single row
 * "ok" (integrity_check) or nothing (foreign_key_check). */
static int
pragma_integrity(struct chk *c, sqlite3 *db)
{
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(db, "PRAGMA integrity_check(100)", -1, &s, NULL) != SQLITE_OK)
		return -1;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *msg = (const char *)sqlite3_column_text(s, 0);
		if (msg != NULL && strcmp(msg, "ok") == 0)
			continue;
		problem(c, "atrium.db: SQLite integrity check: %s; restore atrium.db from a backup "
			   "(or copy what is readable out with sqlite3's .recover)",
		    msg != NULL ? msg : "?");
	}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int
pragma_foreign_keys(struct chk *c, sqlite3 *db)
{
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(db, "PRAGMA foreign_key_check", -1, &s, NULL) != SQLITE_OK)
		return -1;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *table = (const char *)sqlite3_column_text(s, 0);
		const char *parent = (const char *)sqlite3_column_text(s, 2);
		problem(c, "atrium.db: a row of %s (rowid %lld) refers to a missing row of %s; "
			   "restore atrium.db from a backup, or delete that row with sqlite3 while "
			   "atriumd is stopped",
		    table != NULL ? table : "?", (long long)sqlite3_column_int64(s, 1),
		    parent != NULL ? parent : "?");
	}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* Each integration numbers its next delivery last_seq + 1: one already
 * numbered higher would make every change that fans out to it fail. (A
 * store from before integrations has no such tables: nothing to check.) */
static int
check_deliveries(struct chk *c, sqlite3 *db)
{
	static const char sql[] =
	    "SELECT i.name, i.last_seq, max(d.seq) FROM integrations i"
	    " JOIN deliveries d ON d.integration_id = i.id GROUP BY i.id"
	    " HAVING max(d.seq) > i.last_seq ORDER BY i.name";
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE name = 'deliveries'", -1,
		&s, NULL) != SQLITE_OK)
		return -1;
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc == SQLITE_DONE)
		return 0;
	if (rc != SQLITE_ROW || sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		return -1;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		problem(c, "atrium.db: integration '%s' would number its next delivery %lld, but "
			   "it already has one numbered %lld; restore atrium.db from a backup",
		    (const char *)sqlite3_column_text(s, 0),
		    (long long)sqlite3_column_int64(s, 1) + 1, (long long)sqlite3_column_int64(s, 2));
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* Whether db has a table of that name (a store from before branches has
 * no branches table): 1, 0, or -1 on a failure. */
static int
has_table(sqlite3 *db, const char *name)
{
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
		-1, &s, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/*
 * Each branch's revisions must be numbered 1..head with no gap, every
 * project must have trunk, and the project's head must be trunk's. A
 * store from before branches: each project's revisions, 1..head.
 */
static int
check_heads(struct chk *c, sqlite3 *db)
{
	static const char old_sql[] =
	    "SELECT p.name, 'trunk', p.head, count(r.number), coalesce(min(r.number), 0),"
	    " coalesce(max(r.number), 0) FROM projects p LEFT JOIN revisions r"
	    " ON r.project_id = p.id GROUP BY p.id ORDER BY p.name";
	static const char sql[] =
	    "SELECT p.name, b.name, b.head, count(r.number), coalesce(min(r.number), 0),"
	    " coalesce(max(r.number), 0) FROM branches b JOIN projects p ON p.id = b.project_id"
	    " LEFT JOIN revisions r ON r.project_id = b.project_id AND r.branch = b.name"
	    " GROUP BY b.project_id, b.name ORDER BY p.name, b.name";
	static const char trunk_sql[] =
	    "SELECT p.name, p.head, b.head FROM projects p LEFT JOIN branches b"
	    " ON b.project_id = p.id AND b.name = 'trunk'"
	    " WHERE b.head IS NULL OR b.head <> p.head ORDER BY p.name";
	sqlite3_stmt *s;
	int rc, branches = has_table(db, "branches");

	if (branches == -1 ||
	    sqlite3_prepare_v2(db, "SELECT count(*) FROM projects", -1, &s, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(s) == SQLITE_ROW)
		c->projects += sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	if (sqlite3_prepare_v2(db, branches ? sql : old_sql, -1, &s, NULL) != SQLITE_OK)
		return -1;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(s, 0);
		const char *branch = (const char *)sqlite3_column_text(s, 1);
		int64_t head = sqlite3_column_int64(s, 2), n = sqlite3_column_int64(s, 3);
		int64_t lo = sqlite3_column_int64(s, 4), hi = sqlite3_column_int64(s, 5);
		if (n == head && hi == head && (n == 0 || lo == 1))
			continue;
		problem(c, "project '%s' branch '%s': its head is %lld but it has %lld revision rows "
			   "numbered %lld..%lld; restore atrium.db from a backup",
		    name != NULL ? name : "?", branch != NULL ? branch : "?", (long long)head,
		    (long long)n, (long long)lo, (long long)hi);
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return -1;
	if (!branches)
		return 0;
	if (sqlite3_prepare_v2(db, trunk_sql, -1, &s, NULL) != SQLITE_OK)
		return -1;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(s, 0);
		if (sqlite3_column_type(s, 2) == SQLITE_NULL)
			problem(c, "project '%s' has no trunk; restore atrium.db from a backup",
			    name != NULL ? name : "?");
		else
			problem(c, "project '%s': its head is %lld but trunk's is %lld; restore "
				   "atrium.db from a backup",
			    name != NULL ? name : "?", (long long)sqlite3_column_int64(s, 1),
			    (long long)sqlite3_column_int64(s, 2));
	}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* Every revision row against the content files in b. */
#define SEEN_BUCKETS 4096

static struct seen **
seen_table(struct chk *c)
{
	if (c->seen == NULL)
		c->seen = calloc(SEEN_BUCKETS, sizeof(*c->seen));
	return c->seen;
}

/* Verifies chunk sha256 (once): 1 when whole, 0 when missing or damaged
 * (said as a problem of the revision), -1 without memory. */
static int
check_chunk(struct chk *c, const char *name, long long num, const char *sha256,
    uint32_t size, unsigned char *img, unsigned char *raw)
{
	struct seen **t = seen_table(c), *e;
	unsigned int h;
	char path[4200];
	struct atr_err err;
	size_t len = 0;
	long n;
	int ok;

	if (t == NULL)
		return -1;
	sscanf(sha256, "%3x", &h);
	for (e = t[h % SEEN_BUCKETS]; e != NULL; e = e->next)
		if (strcmp(e->sha256, sha256) == 0)
			return e->ok;
	snprintf(path, sizeof(path), "%s/chunks/%.2s/%s", c->dir, sha256, sha256);
	n = chunkfile_read(path, img, &err);
	ok = n >= 0 && chunkfile_decode(img, (size_t)n, sha256, raw, CHUNK_RAW_MAX, &len, &err) == 0;
	if (ok && len != size) {
		ok = 0;
		atr_err_set(&err, ATR_E_IO, "it has %zu bytes, the manifest says %u", len, size);
	}
	if (!ok)
		problem(c, "project '%s' revision %lld: its chunk chunks/%.2s/%s is %s (%s); %s",
		    name, num, sha256, sha256, n < 0 && err.code == ATR_E_NOT_FOUND ? "missing" :
		    "damaged", atr_err_msg(&err), c->blob_fix);
	else
		c->chunks++;
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return -1;
	memcpy(e->sha256, sha256, 65);
	e->ok = ok;
	e->next = t[h % SEEN_BUCKETS];
	t[h % SEEN_BUCKETS] = e;
	return ok;
}

static void
seen_free(struct chk *c)
{
	struct seen **t = c->seen;

	for (int i = 0; t != NULL && i < SEEN_BUCKETS; i++)
		while (t[i] != NULL) {
			struct seen *e = t[i];
			t[i] = e->next;
			free(e);
		}
	free(t);
	c->seen = NULL;
}

/*
 * A revision whose content is chunks: its manifest row, every chunk there
 * and hashing to its name, the lengths adding up to the revision's size.
 * (The whole content's SHA-256 was checked when the manifest was made,
 * and a reader checks it again.) 1 when the content is chunked (problems
 * said), 0 when it has no manifest.
 */
static int
check_manifest(struct chk *c, sqlite3 *db, const char *name, long long num, const char *sha,
    int64_t size)
{
	sqlite3_stmt *s = NULL;
	unsigned char *img = NULL, *raw = NULL;
	const unsigned char *list;
	int64_t total = 0, msize;
	int len, rc = 0;

	if (sqlite3_prepare_v2(db, "SELECT size, chunks FROM manifests WHERE sha256 = ?", -1, &s,
		NULL) != SQLITE_OK) {
		sqlite3_finalize(s);
		return 0; /* a store from before chunks */
	}
	sqlite3_bind_text(s, 1, sha, -1, SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_ROW)
		goto out;
	rc = 1;
	msize = sqlite3_column_int64(s, 0);
	list = sqlite3_column_blob(s, 1);
	len = sqlite3_column_bytes(s, 1);
	if ((img = malloc(CHUNKFILE_MAX)) == NULL || (raw = malloc(CHUNK_RAW_MAX)) == NULL) {
		problem(c, "out of memory checking project '%s' revision %lld", name, num);
		goto out;
	}
	if (len % 36 != 0) {
		problem(c, "project '%s' revision %lld: the manifest of its content %s is damaged; "
			   "restore atrium.db from a backup", name, num, sha);
		goto out;
	}
	for (int i = 0; i + 36 <= len; i += 36) {
		char hex[65];
		const unsigned char *e = list + i;
		uint32_t csize = (uint32_t)e[32] | (uint32_t)e[33] << 8 | (uint32_t)e[34] << 16 |
		    (uint32_t)e[35] << 24;
		atr_hex(e, 32, hex);
		total += csize;
		if (check_chunk(c, name, num, hex, csize, img, raw) == -1) {
			problem(c, "out of memory checking project '%s' revision %lld", name, num);
			goto out;
		}
	}
	if (total != size || msize != size)
		problem(c, "project '%s' revision %lld: its row records %lld bytes but its "
			   "manifest %lld and its chunks %lld; restore atrium.db from a backup",
		    name, num, (long long)size, (long long)msize, (long long)total);
	c->manifests++;
out:
	sqlite3_finalize(s);
	free(img);
	free(raw);
	return rc;
}

static int
check_revisions(struct chk *c, sqlite3 *db, struct blobs *b)
{
	static const char sql[] =
	    "SELECT coalesce(p.name, '#' || r.project_id), r.number, r.size, r.sha256"
	    " FROM revisions r LEFT JOIN projects p ON p.id = r.project_id"
	    " ORDER BY p.name, r.number";
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		return -1;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(s, 0);
		const char *sha = (const char *)sqlite3_column_text(s, 3);
		long long num = (long long)sqlite3_column_int64(s, 1);
		int64_t size = sqlite3_column_int64(s, 2);
		struct blobfile key, *f;

		c->revisions++;
		if (name == NULL)
			name = "?";
		if (sha == NULL || !is_sha256(sha)) {
			problem(c, "project '%s' revision %lld: its recorded SHA-256 '%s' is not one; "
				   "restore atrium.db from a backup",
			    name, num, sha != NULL ? sha : "");
			continue;
		}
		snprintf(key.sha256, sizeof(key.sha256), "%s", sha);
		f = b->n > 0 ? bsearch(&key, b->v, b->n, sizeof(*b->v), cmp_blob) : NULL;
		if (f == NULL && check_manifest(c, db, name, num, sha, size) == 1)
			continue;
		if (f == NULL) {
			problem(c, "project '%s' revision %lld: its content blobs/%.2s/%s is missing; "
				   "%s (the revision cannot be read)",
			    name, num, sha, sha, c->blob_fix);
			continue;
		}
		f->used = 1;
		if (f->actual[0] == '\0')
			continue; /* unreadable: reported with the file */
		if (strcmp(f->actual, sha) != 0) {
			problem(c, "project '%s' revision %lld: its content blobs/%.2s/%s is damaged "
				   "(%lld bytes hashing to %s); %s",
			    name, num, sha, sha, (long long)f->size, f->actual, c->blob_fix);
		} else if (f->size != size) {
			problem(c, "project '%s' revision %lld: its row records %lld bytes but its "
				   "content blobs/%.2s/%s has %lld; restore atrium.db from a backup",
			    name, num, (long long)size, sha, sha, (long long)f->size);
		}
	}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* Content files no revision uses: what a crash between the blob and its
 * row leaves, or a removed project's content another remover missed. */
static void
report_orphans(struct chk *c, const struct blobs *b)
{
	int64_t n = 0, bytes = 0;

	for (size_t i = 0; i < b->n; i++) {
		const struct blobfile *f = &b->v[i];
		if (f->used)
			continue;
		n++;
		bytes += f->size;
		if (n > ORPHANS_LISTED)
			continue;
		info(c, "blobs/%.2s/%s (%lld bytes%s) is used by no revision: content of a commit "
			"that was never acknowledged; harmless, and it may be deleted while atriumd is "
			"stopped",
		    f->sha256, f->sha256, (long long)f->size,
		    f->actual[0] != '\0' && strcmp(f->actual, f->sha256) != 0 ? ", damaged" : "");
	}
	if (n > ORPHANS_LISTED)
		info(c, "... and %lld more such files", (long long)(n - ORPHANS_LISTED));
	if (n > 0)
		info(c, "%lld content file(s) (%lld bytes) used by no revision", (long long)n,
		    (long long)bytes);
}

/* The embedded store under dir, read-only, in one read transaction: 0, or
 * 2 when it cannot be checked (the reason in err). */
static int
check_tree(struct chk *c, const char *dir, int immutable, struct atr_err *err)
{
	struct blobs b = {0};
	char path[4200], uri[4300];
	sqlite3 *db = NULL;
	int rc = 2;

	c->dir = dir;
	snprintf(path, sizeof(path), "%s/atrium.db", dir);
	/* Read-only: no checkpoint, no schema, nothing written to DIR. A copy
	 * nobody serves is read as it lies (immutable: not even a -shm file is
	 * made beside it, so a backup on read-only media can be checked). */
	if (immutable) {
		size_t n = 0;
		memcpy(uri, "file:", 5);
		n = 5;
		for (const char *p = path; *p != '\0' && n + 3 < sizeof(uri) - 13; p++) {
			if (*p == '%' || *p == '?' || *p == '#')
				n += (size_t)snprintf(uri + n, 4, "%%%02X", (unsigned char)*p);
			else
				uri[n++] = *p;
		}
		snprintf(uri + n, sizeof(uri) - n, "?immutable=1");
	}
	if (sqlite3_open_v2(immutable ? uri : path, &db,
		SQLITE_OPEN_READONLY | (immutable ? SQLITE_OPEN_URI : 0), NULL) != SQLITE_OK) {
		atr_err_set(err, ATR_E_DATABASE, "cannot open %s: %s", path,
		    db != NULL ? sqlite3_errmsg(db) : "out of memory");
		goto out;
	}
	sqlite3_busy_timeout(db, 10000);
	/* One read transaction: every query sees the same state. */
	if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
	    pragma_integrity(c, db) == -1 || pragma_foreign_keys(c, db) == -1 ||
	    check_heads(c, db) == -1 || check_deliveries(c, db) == -1) {
		atr_err_set(err, ATR_E_DATABASE, "%s: %s", path, sqlite3_errmsg(db));
		goto out;
	}
	if (scan_blobs(c, dir, &b) == -1) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		goto out;
	}
	if (check_revisions(c, db, &b) == -1) {
		atr_err_set(err, ATR_E_DATABASE, "%s: %s", path, sqlite3_errmsg(db));
		goto out;
	}
	report_orphans(c, &b);
	if (c->manifests > 0 && !c->quiet)
		fprintf(c->out, "%lld chunked content(s) over %lld chunk file(s) verified\n",
		    (long long)c->manifests, (long long)c->chunks);
	rc = 0;
out:
	sqlite3_close_v2(db);
	free(b.v);
	seen_free(c);
	return rc;
}

static int
check_sqlite(struct chk *c, const char *datadir)
{
	struct atr_err err;
	char path[4200];
	int lockfd, rc;

	snprintf(path, sizeof(path), "%s/atrium.db", datadir);
	if (access(path, F_OK) == -1) {
		fprintf(stderr, "atriumd: check: %s: %s; --data must name the data directory of an "
				"atriumd\n",
		    path, strerror(errno));
		return 2;
	}
	if ((lockfd = datadir_lock(datadir, &err)) == -1) {
		fprintf(stderr, "atriumd: check: %s, so that the store stands still while it is "
				"checked\n",
		    atr_err_msg(&err));
		return 2;
	}
	fprintf(c->out, "checking sqlite %s and the content in %s/blobs\n", path, datadir);
	fflush(c->out);
	if ((rc = check_tree(c, datadir, 0, &err)) != 0)
		fprintf(stderr, "atriumd: check: %s; restore atrium.db from a backup\n",
		    atr_err_msg(&err));
	if (lockfd >= 0)
		close(lockfd);
	return rc;
}

int
check_store_tree(const char *dir, const char *blob_fix, FILE *out, struct check_totals *t,
    struct atr_err *err)
{
	struct chk c;
	int rc;

	memset(&c, 0, sizeof(c));
	memset(t, 0, sizeof(*t));
	c.out = out;
	c.quiet = 1;
	c.blob_fix = blob_fix;
	if ((c.buf = malloc(PIECE)) == NULL)
		return atr_err_set(err, ATR_E_NOMEM, NULL);
	rc = check_tree(&c, dir, 1, err);
	free(c.buf);
	t->problems = c.problems;
	t->projects = c.projects;
	t->revisions = c.revisions;
	t->blobs = c.blobs;
	t->bytes = c.bytes;
	t->chunks = c.chunks;
	return rc == 0 ? 0 : -1;
}

/* ---- PostgreSQL, through the store interface */

struct names {
	char (*v)[STORE_NAME_MAX + 1];
	size_t n, cap;
};

static int
each_project(const struct store_project *p, void *arg)
{
	struct names *n = arg;

	if (n->n == n->cap) {
		size_t cap = n->cap ? n->cap * 2 : 64;
		void *bigger = realloc(n->v, cap * sizeof(*n->v));
		if (bigger == NULL)
			return 1;
		n->v = bigger;
		n->cap = cap;
	}
	snprintf(n->v[n->n++], sizeof(n->v[0]), "%s", p->name);
	return 0;
}

/* Reads revision r of project back and hashes it. */
static void
check_pg_revision(struct chk *c, struct store_conn *sc, const char *project,
    const struct store_revision *r)
{
	struct store_blob_reader *rd;
	struct atr_err err;
	EVP_MD_CTX *md;
	unsigned char digest[32];
	char sha[65];
	int64_t off = 0, got = 0;

	if ((rd = store_blob_reader_open(sc, r->sha256, r->size, &err)) == NULL) {
		problem(c, "project '%s' revision %lld: %s; restore the database from a backup", project,
		    (long long)r->number, atr_err_msg(&err));
		return;
	}
	if ((md = EVP_MD_CTX_new()) == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(md);
		store_blob_reader_close(rd);
		problem(c, "project '%s' revision %lld: out of memory", project, (long long)r->number);
		return;
	}
	while (off < r->size && (got = store_blob_read(rd, sc, c->buf, PIECE, off, &err)) > 0) {
		EVP_DigestUpdate(md, c->buf, (size_t)got);
		off += got;
	}
	EVP_DigestFinal_ex(md, digest, NULL);
	EVP_MD_CTX_free(md);
	store_blob_reader_close(rd);
	atr_hex(digest, sizeof(digest), sha);
	c->revisions++;
	c->bytes += off;
	if (got < 0)
		problem(c, "project '%s' revision %lld: reading its content: %s; restore the "
			   "database from a backup",
		    project, (long long)r->number, atr_err_msg(&err));
	else if (off != r->size || strcmp(sha, r->sha256) != 0)
		problem(c, "project '%s' revision %lld: its content is damaged (%lld of %lld bytes, "
			   "hashing to %s instead of %s); restore the database from a backup",
		    project, (long long)r->number, (long long)off, (long long)r->size, sha,
		    r->sha256);
}

/* A project's branches, for check_pg. */
struct branch_list {
	struct store_branch *v;
	size_t n, cap;
};

static int
each_branch(const struct store_branch *b, void *arg)
{
	struct branch_list *l = arg;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		void *bigger = realloc(l->v, cap * sizeof(*l->v));
		if (bigger == NULL)
			return 1;
		l->v = bigger;
		l->cap = cap;
	}
	l->v[l->n++] = *b;
	return 0;
}

static int
check_pg(struct chk *c, const struct atr_config *cfg0, const char *datadir)
{
	struct atr_config *cfg = atr_config_dup(cfg0);
	struct names projects = {0};
	struct branch_list branches = {0};
	struct store_branch bb;
	struct store *st = NULL;
	struct store_conn *sc = NULL;
	struct store_revision *r = malloc(sizeof(*r));
	struct store_project p;
	struct atr_err err;
	int rc = 2;

	atr_err_clear(&err);
	if (cfg == NULL || r == NULL) {
		fprintf(stderr, "atriumd: check: out of memory\n");
		goto out;
	}
	/* Read the database itself, not this node's copy of it. */
	if (atr_config_set(cfg, "database_cache_size", "0", "check", &err) == -1 ||
	    (st = store_open(cfg, datadir, &err)) == NULL ||
	    (sc = store_conn_open(st, &err)) == NULL) {
		fprintf(stderr, "atriumd: check: %s\n", atr_err_msg(&err));
		goto out;
	}
	fprintf(c->out, "checking %s (every revision read back and hashed)\n", store_describe(st));
	fflush(c->out);
	if (store_project_list(sc, each_project, &projects, &err) == -1) {
		fprintf(stderr, "atriumd: check: cannot list the projects: %s\n", atr_err_msg(&err));
		goto out;
	}
	for (size_t i = 0; i < projects.n; i++) {
		const char *name = projects.v[i];
		if (store_project_get(sc, name, &p, &err) == -1) {
			if (err.code != ATR_E_NOT_FOUND) /* else deleted meanwhile */
				problem(c, "project '%s': %s", name, atr_err_msg(&err));
			continue;
		}
		c->projects++;
		branches.n = 0;
		if (store_branch_list(sc, name, each_branch, &branches, &err) == -1) {
			if (err.code != ATR_E_NOT_FOUND)
				problem(c, "project '%s': %s", name, atr_err_msg(&err));
			continue;
		}
		for (size_t k = 0; k < branches.n; k++) {
			const struct store_branch *b = &branches.v[k];
			for (int64_t n = 1; n <= b->head; n++) {
				if (store_revision_get_in(sc, name, b->name, n, r, &err) == 0)
					check_pg_revision(c, sc, name, r);
				else if (err.code != ATR_E_NOT_FOUND ||
				    store_branch_get(sc, name, b->name, &bb, &err) == 0)
					problem(c, "project '%s' branch '%s': revision %lld of %lld is "
						   "missing; restore the database from a backup",
					    name, b->name, (long long)n, (long long)b->head);
			}
		}
	}
	rc = 0;
out:
	free(projects.v);
	free(branches.v);
	free(r);
	store_conn_close(sc);
	store_close(st);
	atr_config_free(cfg);
	return rc;
}

int
check_main(const char *datadir, const char *confpath, struct atr_config *overrides, FILE *out)
{
	struct chk c;
	struct atr_config *cfg = NULL;
	struct atr_err err;
	struct stat sb;
	int rc = 2, pg;

	memset(&c, 0, sizeof(c));
	c.out = out;
	c.blob_fix = "restore that file from a backup";
	atr_err_clear(&err);
	if (datadir == NULL || confpath == NULL) {
		fprintf(stderr, "atriumd: usage: atriumd --data DIR check\n");
		goto out;
	}
	errno = 0;
	if (stat(datadir, &sb) == -1 || !S_ISDIR(sb.st_mode)) {
		fprintf(stderr, "atriumd: check: %s is not a directory%s%s\n", datadir,
		    errno != 0 ? ": " : "", errno != 0 ? strerror(errno) : "");
		goto out;
	}
	if ((cfg = server_load_config(confpath, overrides, CONF_USE_DEFAULTS, &err)) == NULL) {
		fprintf(stderr, "atriumd: check: %s\n", atr_err_msg(&err));
		goto out;
	}
	if ((c.buf = malloc(PIECE)) == NULL) {
		fprintf(stderr, "atriumd: check: out of memory\n");
		goto out;
	}
	pg = strcmp(atr_config_str(cfg, "database"), "sqlite") != 0;
	if ((rc = pg ? check_pg(&c, cfg, datadir) : check_sqlite(&c, datadir)) != 0)
		goto out;
	if (c.problems > 0) {
		fprintf(out, "%d problem(s) found (%lld projects, %lld revisions checked)\n",
		    c.problems, (long long)c.projects, (long long)c.revisions);
		rc = 1;
	} else if (pg) {
		fprintf(out, "store is clean: %lld projects, %lld revisions (%.1f MiB) verified\n",
		    (long long)c.projects, (long long)c.revisions, (double)c.bytes / (1024.0 * 1024));
	} else {
		fprintf(out, "store is clean: %lld projects, %lld revisions, %lld blobs (%.1f MiB) "
			     "verified%s\n",
		    (long long)c.projects, (long long)c.revisions, (long long)c.blobs,
		    (double)c.bytes / (1024.0 * 1024), c.infos > 0 ? "; see the info lines above" : "");
	}
out:
	free(c.buf);
	atr_config_free(cfg);
	atr_config_free(overrides);
	return rc;
}
