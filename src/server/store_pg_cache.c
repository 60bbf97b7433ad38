/*
 * Each node's local copy of revision content kept in PostgreSQL, so that a
 * checkout of content seen before is a plain file sent with sendfile()
 * instead of a stream of database round trips.
 *
 * Content is immutable and named by its SHA-256, so a copy never goes
 * stale: DIR/cache/XX/SHA256 either holds exactly those bytes or does not
 * exist. A file enters the cache only complete and verified: it is
 * written as an unnamed O_TMPFILE while the content streams through the
 * node (an upload, or a checkout read from the database from its first
 * byte to its last), its SHA-256 is computed on the way, and only when
 * that matches is it linked under its name. PostgreSQL stays the only
 * source of truth: the cache is never written back, any node can lose
 * it, and it is not used at all with database_cache_size = 0.
 *
 * Crashes: files are not fsync'ed (that would slow every commit), so
 * after an unclean stop (no DIR/cache/clean marker, which pg_cache_free()
 * writes) the whole cache is discarded at start.
 *
 * Size: bounded by database_cache_size; when a new file pushes it over,
 * the least recently used files (by mtime, bumped on every hit) go until
 * it is at 80 %. Content removed from the database leaves this node's
 * cache at once when this node removed it, and the other nodes' caches at
 * their next hourly sweep (pg_cache_sweep).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atrium/log.h"
#include "atrium/util.h"
#include "server/store_pg_int.h"

#define SWEEP_BATCH 500

struct entry {
	char name[66]; /* "XX/" is implied by the first two characters */
	time_t mtime;
	int64_t size;
};

/* Calls fn for every cached file (sha256 name, its stat). */
static int
each_file(struct pg_store *st, int (*fn)(const char *sha, const struct stat *sb, void *),
    void *arg)
{
	DIR *top = opendir(st->cache_dir), *sub;
	struct dirent *de, *fe;
	char path[4300];
	struct stat sb;

	if (top == NULL)
		return -1;
	while ((de = readdir(top)) != NULL) {
		if (strlen(de->d_name) != 2 || de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", st->cache_dir, de->d_name);
		if ((sub = opendir(path)) == NULL)
			continue;
		while ((fe = readdir(sub)) != NULL) {
			if (strlen(fe->d_name) != 64)
				continue;
			if (fstatat(dirfd(sub), fe->d_name, &sb, AT_SYMLINK_NOFOLLOW) == -1 ||
			    !S_ISREG(sb.st_mode))
				continue;
			if (fn(fe->d_name, &sb, arg) != 0)
				break;
		}
		closedir(sub);
	}
	closedir(top);
	return 0;
}

static void
file_path(const struct pg_store *st, const char *sha256, char *out, size_t size)
{
	snprintf(out, size, "%s/%.2s/%s", st->cache_dir, sha256, sha256);
}

static int
add_size(const char *sha, const struct stat *sb, void *arg)
{
	(void)sha;
	*(int64_t *)arg += (int64_t)sb->st_size;
	return 0;
}

static int
remove_file(const char *sha, const struct stat *sb, void *arg)
{
	struct pg_store *st = arg;
	char path[4300];

	(void)sb;
	file_path(st, sha, path, sizeof(path));
	unlink(path);
	return 0;
}

int
pg_cache_init(struct pg_store *st, const char *datadir, int64_t max, struct atr_err *err)
{
	char marker[4300];
	int64_t used = 0;
	int fd;

	pthread_mutex_init(&st->cache_mu, NULL);
	st->cache_max = max;
	if (max == 0 || datadir == NULL)
		return 0;
	if (asprintf(&st->cache_dir, "%s/cache", datadir) < 0) {
		st->cache_dir = NULL;
		return atr_err_set(err, ATR_E_NOMEM, NULL);
	}
	if (atr_mkdirs(st->cache_dir, 0700, err) == -1)
		return -1;
	/* Unnamed files must work here, or nothing is cached. */
	if ((fd = open(st->cache_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600)) == -1) {
		atr_warn("the content cache is off: %s does not support unnamed files (%s)",
		    st->cache_dir, strerror(errno));
		free(st->cache_dir);
		st->cache_dir = NULL;
		return 0;
	}
	close(fd);
	snprintf(marker, sizeof(marker), "%s/clean", st->cache_dir);
	if (unlink(marker) == -1) {
		/* Not stopped cleanly (or new): what is there may be torn. */
		each_file(st, remove_file, st);
	}
	each_file(st, add_size, &used);
	atomic_store(&st->cache_used, used);
	st->cache_on = 1;
	return 0;
}

void
pg_cache_free(struct pg_store *st)
{
	char marker[4300];
	int fd;

	if (st->cache_on && (fd = open(st->cache_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
		/* Everything linked so far is complete in the page cache; make
		 * it durable, then say so. */
		int synced = syncfs(fd) == 0;
		close(fd);
		snprintf(marker, sizeof(marker), "%s/clean", st->cache_dir);
		if (synced && (fd = open(marker, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) != -1) {
			fsync(fd);
			close(fd);
			atr_fsync_dir_of(marker);
		}
	}
	pthread_mutex_destroy(&st->cache_mu);
	free(st->cache_dir);
}

int
pg_cache_open(struct pg_store *st, const char *sha256, int64_t size)
{
	char path[4300];
	struct stat sb;
	int fd;

	if (!st->cache_on)
		return -1;
	file_path(st, sha256, path, sizeof(path));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	if (fstat(fd, &sb) == -1 || sb.st_size != size) {
		close(fd);
		unlink(path);
		return -1;
	}
	futimens(fd, NULL); /* recently used */
	return fd;
}

int
pg_cache_tmp(struct pg_store *st, int64_t size)
{
	if (!st->cache_on || (size >= 0 && size > st->cache_max / 2))
		return -1;
	return open(st->cache_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
}

int
pg_cache_append(int fd, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
cmp_mtime(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	return x->mtime < y->mtime ? -1 : x->mtime > y->mtime;
}

struct collect {
	struct entry *v;
	size_t n, cap;
};

static int
collect(const char *sha, const struct stat *sb, void *arg)
{
	struct collect *c = arg;

	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 256;
		void *bigger = realloc(c->v, cap * sizeof(*c->v));
		if (bigger == NULL)
			return 1;
		c->v = bigger;
		c->cap = cap;
	}
	snprintf(c->v[c->n].name, sizeof(c->v[c->n].name), "%s", sha);
	c->v[c->n].mtime = sb->st_mtime;
	c->v[c->n].size = (int64_t)sb->st_size;
	c->n++;
	return 0;
}

/* Removes the least recently used files until the cache is at 80 %. */
static void
evict(struct pg_store *st)
{
	struct collect c = {NULL, 0, 0};
	int64_t used = 0, goal = st->cache_max / 10 * 8;
	char path[4300];

	if (pthread_mutex_trylock(&st->cache_mu) != 0)
		return; /* another thread is at it */
	each_file(st, collect, &c);
	for (size_t i = 0; i < c.n; i++)
		used += c.v[i].size;
	qsort(c.v, c.n, sizeof(*c.v), cmp_mtime);
	for (size_t i = 0; i < c.n && used > goal; i++) {
		file_path(st, c.v[i].name, path, sizeof(path));
		if (unlink(path) == 0)
			used -= c.v[i].size;
	}
	atomic_store(&st->cache_used, used);
	pthread_mutex_unlock(&st->cache_mu);
	free(c.v);
}

void
pg_cache_publish(struct pg_store *st, int fd, const char *sha256, int64_t size)
{
	char path[4300], dir[4300], proc[64];

	if (!st->cache_on || fd == -1)
		return;
	snprintf(dir, sizeof(dir), "%s/%.2s", st->cache_dir, sha256);
	if (mkdir(dir, 0700) == -1 && errno != EEXIST)
		return;
	file_path(st, sha256, path, sizeof(path));
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW) == -1) {
		if (errno != EEXIST)
			atr_debug("cannot cache %s: %s", sha256, strerror(errno));
		return;
	}
	if (atomic_fetch_add(&st->cache_used, size) + size > st->cache_max)
		evict(st);
}

void
pg_cache_forget(struct pg_store *st, const char *sha256)
{
	char path[4300];

	if (!st->cache_on)
		return;
	file_path(st, sha256, path, sizeof(path));
	unlink(path);
}

/* ---- the hourly sweep: drop what the database no longer has */

struct sweep {
	struct pg_conn *c;
	char *list;   /* a Postgres array literal being built */
	size_t len, n;
	int failed;
};

static void
sweep_batch(struct sweep *s)
{
	PGresult *res;
	struct atr_err err;

	if (s->n == 0 || s->failed)
		return;
	memcpy(s->list + s->len, "}", 2);
	/* The names in the batch the database does not know. */
	res = pg_query(s->c, &err, "sweeping the content cache", 0,
	    "SELECT x FROM unnest($1::text[]) x WHERE NOT EXISTS"
	    " (SELECT 1 FROM blobs b WHERE b.sha256 = x)",
	    "t", s->list);
	if (res == NULL) {
		s->failed = 1;
		return;
	}
	for (int i = 0; i < PQntuples(res); i++)
		pg_cache_forget(s->c->st, PQgetvalue(res, i, 0));
	PQclear(res);
	s->len = 0;
	s->n = 0;
}

static int
sweep_one(const char *sha, const struct stat *sb, void *arg)
{
	struct sweep *s = arg;

	(void)sb;
	s->list[s->len++] = s->n == 0 ? '{' : ',';
	memcpy(s->list + s->len, sha, 64);
	s->len += 64;
	if (++s->n == SWEEP_BATCH)
		sweep_batch(s);
	return s->failed;
}

void
pg_cache_sweep(struct pg_conn *c)
{
	struct sweep s = {c, NULL, 0, 0, 0};

	if (!c->st->cache_on || (s.list = malloc(SWEEP_BATCH * 65 + 4)) == NULL)
		return;
	each_file(c->st, sweep_one, &s);
	sweep_batch(&s);
	free(s.list);
}
