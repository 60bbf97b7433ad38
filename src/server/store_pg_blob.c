/*
 * Revision content in PostgreSQL, streamed both ways in pieces.
 *
 * Writing: each piece the server hands over (about 1 MiB) becomes one row
 * of content_chunks (upload id, byte offset, bytes), committed on its own
 * by whichever pool thread carries it, so a writer is tied to no
 * connection. The first piece creates the uploads row. pg_blob_finish()
 * checks that the rows add up to what was written, then publishes the
 * upload under its SHA-256 in one transaction: a new blobs row, or, when
 * that content is stored already, the upload is dropped (identical
 * content is stored once). Either way the content gets a pin that the
 * revision's commit releases.
 *
 * Pieces and the publication are committed with synchronous_commit off:
 * nothing is acknowledged until the revision row commits, and its
 * synchronous commit flushes the write-ahead log up to itself, with every
 * piece written before it.
 *
 * Aborting frees memory only (it runs on an event loop); an abandoned
 * upload is collected by pg_gc() a day later.
 *
 * The node's content cache (store_pg_cache.c) is filled on the way: the
 * pieces of an upload, and content read from the database from its first
 * byte to its last, are also written to an unnamed local file that is
 * linked into the cache once its SHA-256 is known to be right. A reader
 * of cached content is a plain file (pg_blob_reader_fd), which the server
 * sends with sendfile().
 *
 * Reading: a reader knows the upload holding the content; each read is a
 * stateless SELECT of the slices of the rows covering the range asked
 * for, on the calling thread's connection.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "atrium/util.h"
#include "server/store_pg_int.h"

struct pg_writer {
	struct store_blob_writer base;
	struct pg_store *st;
	int64_t upload;  /* uploads.id; 0 until the first piece */
	int64_t written; /* bytes stored so far */
	EVP_MD_CTX *md;
	int cache_fd;    /* the copy for the cache, or -1 */
};

struct pg_reader {
	struct store_blob_reader base;
	struct pg_store *st;
	int64_t upload;
	int64_t size;
	int fd;          /* cached content, or -1: read from the database */
	int fill;        /* filling the cache from the database reads, or -1 */
	int64_t filled;  /* bytes in fill */
	EVP_MD_CTX *md;  /* of fill's bytes */
	char sha256[65];
};

struct store_blob_writer *
pg_blob_writer_new(struct store *st, struct atr_err *err)
{
	struct pg_writer *w = calloc(1, sizeof(*w));

	if (w == NULL || (w->md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(w->md, EVP_sha256(), NULL) != 1) {
		if (w != NULL)
			EVP_MD_CTX_free(w->md);
		free(w);
		atr_err_set(err, ATR_E_NOMEM, NULL);
		return NULL;
	}
	w->base.st = st;
	w->st = (struct pg_store *)st;
	w->cache_fd = pg_cache_tmp(w->st, -1);
	return &w->base;
}

static void
drop_copy(int *fd)
{
	if (*fd != -1)
		close(*fd);
	*fd = -1;
}

/* Creates the uploads row (with the first piece, when there is one). */
static int
start_upload(struct pg_conn *c, struct pg_writer *w, const void *buf, size_t len,
    struct atr_err *err)
{
	int64_t now = atr_now_ms() / 1000;
	PGresult *res;

	if (len > 0)
		res = pg_query(c, err, "storing the upload", 0,
		    "WITH s AS (SELECT set_config('synchronous_commit', 'off', true)),"
		    " u AS (INSERT INTO uploads(started, touched) VALUES ($1, $1) RETURNING id)"
		    " INSERT INTO content_chunks(upload_id, pos, data) SELECT u.id, 0, $2::bytea FROM u, s"
		    " RETURNING upload_id",
		    "ib", now, buf, len);
	else
		res = pg_query(c, err, "storing the upload", 0,
		    "INSERT INTO uploads(started, touched) VALUES ($1, $1) RETURNING id", "i", now);
	if (res == NULL)
		return -1;
	w->upload = pg_int(res, 0, 0);
	PQclear(res);
	return 0;
}

int
pg_blob_write(struct store_blob_writer *base, struct store_conn *sc, const void *buf, size_t len,
    struct atr_err *err)
{
	struct pg_writer *w = (struct pg_writer *)base;
	struct pg_conn *c = PGC(sc);
	PGresult *res;
	int64_t rows;

	if (len == 0)
		return 0;
	if (len > INT_MAX / 2)
		return atr_err_set(err, ATR_E_INTERNAL, "a piece of %zu bytes is too large", len);
	if (EVP_DigestUpdate(w->md, buf, len) != 1)
		return atr_err_set(err, ATR_E_INTERNAL, "hashing failed");
	if (w->cache_fd != -1 && (pg_cache_append(w->cache_fd, buf, len) == -1 ||
				     w->written + (int64_t)len > w->st->cache_max / 2))
		drop_copy(&w->cache_fd);
	if (w->upload == 0) {
		if (start_upload(c, w, buf, len, err) == -1)
			return -1;
		w->written = (int64_t)len;
		return 0;
	}
	/* Touching the upload keeps a slow one from looking abandoned. */
	res = pg_query(c, err, "storing the upload", 0,
	    "WITH s AS (SELECT set_config('synchronous_commit', 'off', true)),"
	    " t AS (UPDATE uploads SET touched = $4 WHERE id = $1 AND NOT published RETURNING id)"
	    " INSERT INTO content_chunks(upload_id, pos, data) SELECT t.id, $2::int8, $3::bytea FROM t, s",
	    "iibi", w->upload, w->written, buf, len, (int64_t)(atr_now_ms() / 1000));
	if (res == NULL)
		return -1;
	rows = strtoll(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	if (rows != 1)
		return atr_err_set(err, ATR_E_IO,
		    "the upload was abandoned (idle for more than a day); send it again");
	w->written += (int64_t)len;
	return 0;
}

int64_t
pg_blob_written(const struct store_blob_writer *base)
{
	return ((const struct pg_writer *)base)->written;
}

/*
 * Publishes w's upload as sha256: one statement, so one transaction and
 * one round trip. It checks that the rows hold every byte written, then
 * adds the blobs row with a pin, or pins the content stored already and
 * drops this upload (identical content is stored once).
 */
static int
publish(struct pg_conn *c, struct pg_writer *w, const char *sha256, struct atr_err *err)
{
	PGresult *res = pg_query(c, err, "storing the upload", 0,
	    "WITH s AS (SELECT set_config('synchronous_commit', 'off', true)),"
	    " chk AS (SELECT count(*) AS n, coalesce(sum(length(data)), 0) AS total"
	    "   FROM content_chunks WHERE upload_id = $2),"
	    " b AS (INSERT INTO blobs(sha256, upload_id, size, pending, touched)"
	    "   SELECT $1, $2, $3, 1, $4 FROM chk, s WHERE chk.total = $3"
	    "   ON CONFLICT (sha256) DO UPDATE SET pending = blobs.pending + 1, touched = $4"
	    "   RETURNING upload_id),"
	    " d AS (DELETE FROM uploads WHERE id = $2"
	    "   AND EXISTS (SELECT 1 FROM b WHERE b.upload_id <> $2)),"
	    " u AS (UPDATE uploads SET published = true, touched = $4 WHERE id = $2"
	    "   AND EXISTS (SELECT 1 FROM b WHERE b.upload_id = $2))"
	    " SELECT chk.n, chk.total, (SELECT upload_id FROM b) FROM chk",
	    "tiii", sha256, w->upload, w->written, (int64_t)(atr_now_ms() / 1000));

	if (res == NULL)
		return -1;
	if (PQgetisnull(res, 0, 2)) {
		atr_err_set(err, ATR_E_IO,
		    "the database holds %lld of the %lld bytes sent (in %lld pieces); send it again",
		    (long long)pg_int(res, 0, 1), (long long)w->written, (long long)pg_int(res, 0, 0));
		PQclear(res);
		return -1;
	}
	PQclear(res);
	return 0;
}

int
pg_blob_finish(struct store_blob_writer *base, struct store_conn *sc, char *sha256,
    struct atr_err *err)
{
	struct pg_writer *w = (struct pg_writer *)base;
	struct pg_conn *c = PGC(sc);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	int rc = -1;

	if (EVP_DigestFinal_ex(w->md, md, &mdlen) != 1) {
		atr_err_set(err, ATR_E_INTERNAL, "hashing failed");
		goto out;
	}
	atr_hex(md, mdlen, sha256);
	if (w->upload == 0 && start_upload(c, w, NULL, 0, err) == -1)
		goto out;
	if (publish(c, w, sha256, err) == -1) {
		/* Best effort now; pg_gc() collects it otherwise. */
		pg_cmd(c, NULL, "dropping an upload",
		    "DELETE FROM uploads WHERE id = $1 AND NOT published", "i", w->upload);
		goto out;
	}
	rc = 0;
	pg_cache_publish(w->st, w->cache_fd, sha256, w->written);
	pg_gc_maybe(c);
out:
	drop_copy(&w->cache_fd);
	EVP_MD_CTX_free(w->md);
	free(w);
	return rc;
}

void
pg_blob_abort(struct store_blob_writer *base)
{
	struct pg_writer *w = (struct pg_writer *)base;

	drop_copy(&w->cache_fd);
	EVP_MD_CTX_free(w->md);
	free(w);
}

/* A reader without database: the node has the content. */
static struct store_blob_reader *
cached_reader(struct store_conn *sc, int fd, int64_t size, struct atr_err *err)
{
	struct pg_reader *rd = calloc(1, sizeof(*rd));

	if (rd == NULL) {
		close(fd);
		atr_err_set(err, ATR_E_NOMEM, NULL);
		return NULL;
	}
	rd->base.st = sc->st;
	rd->st = PGC(sc)->st;
	rd->size = size;
	rd->fd = fd;
	rd->fill = -1;
	return &rd->base;
}

struct store_blob_reader *
pg_blob_reader_open(struct store_conn *sc, const char *sha256, int64_t size, struct atr_err *err)
{
	struct pg_conn *c = PGC(sc);
	struct pg_reader *rd;
	PGresult *res;
	int64_t stored;
	int fd;

	if ((fd = pg_cache_open(c->st, sha256, size)) != -1)
		return cached_reader(sc, fd, size, err);
	/* length() of an uncompressed out-of-line value reads its TOAST
	 * pointer only, so checking the sum is cheap. */
	res = pg_query(c, err, "opening content", 0,
	    "SELECT b.upload_id, b.size, (SELECT coalesce(sum(length(data)), 0)"
	    " FROM content_chunks WHERE upload_id = b.upload_id)"
	    " FROM blobs b WHERE b.sha256 = $1",
	    "t", sha256);
	if (res == NULL)
		return NULL;
	if (PQntuples(res) == 0) {
		PQclear(res);
		atr_err_set(err, ATR_E_IO, "the content %s is missing from the database", sha256);
		return NULL;
	}
	stored = pg_int(res, 0, 2);
	if (pg_int(res, 0, 1) != size || stored != size) {
		atr_err_set(err, ATR_E_IO, "the content %s has %lld bytes in the database instead of %lld",
		    sha256, (long long)stored, (long long)size);
		PQclear(res);
		return NULL;
	}
	if ((rd = calloc(1, sizeof(*rd))) == NULL) {
		PQclear(res);
		atr_err_set(err, ATR_E_NOMEM, NULL);
		return NULL;
	}
	rd->base.st = sc->st;
	rd->st = c->st;
	rd->upload = pg_int(res, 0, 0);
	rd->size = size;
	rd->fd = -1;
	PQclear(res);
	snprintf(rd->sha256, sizeof(rd->sha256), "%s", sha256);
	if ((rd->fill = pg_cache_tmp(rd->st, size)) != -1 &&
	    ((rd->md = EVP_MD_CTX_new()) == NULL ||
		EVP_DigestInit_ex(rd->md, EVP_sha256(), NULL) != 1))
		drop_copy(&rd->fill);
	return &rd->base;
}

int
pg_blob_reader_fd(const struct store_blob_reader *rd)
{
	return ((const struct pg_reader *)rd)->fd;
}

/* Adds what was read at off to the cache copy, while reads run from the
 * first byte on in order; the copy enters the cache when complete and
 * right. */
static void
fill_cache(struct pg_reader *rd, const void *buf, int64_t got, int64_t off)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char sha[65];

	if (rd->fill == -1)
		return;
	if (off != rd->filled || pg_cache_append(rd->fill, buf, (size_t)got) == -1 ||
	    EVP_DigestUpdate(rd->md, buf, (size_t)got) != 1) {
		drop_copy(&rd->fill);
		return;
	}
	rd->filled += got;
	if (rd->filled < rd->size)
		return;
	if (EVP_DigestFinal_ex(rd->md, md, &mdlen) == 1) {
		atr_hex(md, mdlen, sha);
		if (strcmp(sha, rd->sha256) == 0)
			pg_cache_publish(rd->st, rd->fill, sha, rd->size);
	}
	drop_copy(&rd->fill);
}

int64_t
pg_blob_read(struct store_blob_reader *base, struct store_conn *sc, void *buf, size_t n,
    int64_t off, struct atr_err *err)
{
	struct pg_reader *rd = (struct pg_reader *)base;
	unsigned char *out = buf;
	int64_t got = 0;
	PGresult *res;

	if (off < 0)
		return atr_err_set(err, ATR_E_INTERNAL, "negative offset");
	if (off >= rd->size || n == 0)
		return 0;
	if (rd->fd != -1) {
		ssize_t r;
		do
			r = pread(rd->fd, buf, n, (off_t)off);
		while (r == -1 && errno == EINTR);
		if (r == -1)
			return atr_err_set(err, ATR_E_IO, "cannot read cached content: %s",
			    strerror(errno));
		return r;
	}
	if ((int64_t)n > rd->size - off)
		n = (size_t)(rd->size - off);
	if (n > INT_MAX / 2)
		n = INT_MAX / 2;
	/* The row holding off, then those that start inside the range; of
	 * each only the slice in the range (binary results: raw bytes). */
	res = pg_query(PGC(sc), err, "reading content", 1,
	    "SELECT substr(data, (greatest($2::int8 - pos, 0) + 1)::int4,"
	    "  ($2 + $3 - greatest(pos, $2))::int4)"
	    " FROM content_chunks WHERE upload_id = $1 AND pos < $2 + $3::int8"
	    " AND pos >= (SELECT coalesce(max(pos), 0) FROM content_chunks"
	    "   WHERE upload_id = $1 AND pos <= $2)"
	    " ORDER BY pos",
	    "iii", rd->upload, off, (int64_t)n);
	if (res == NULL)
		return -1;
	for (int i = 0; i < PQntuples(res); i++) {
		size_t len = (size_t)PQgetlength(res, i, 0);
		if (len > n - (size_t)got) {
			PQclear(res);
			return atr_err_set(err, ATR_E_IO, "the database returned more content than asked");
		}
		memcpy(out + got, PQgetvalue(res, i, 0), len);
		got += (int64_t)len;
	}
	PQclear(res);
	if (got == 0)
		return atr_err_set(err, ATR_E_IO,
		    "the content ends early in the database (at byte %lld of %lld)", (long long)off,
		    (long long)rd->size);
	fill_cache(rd, buf, got, off);
	return got;
}

void
pg_blob_reader_close(struct store_blob_reader *base)
{
	struct pg_reader *rd = (struct pg_reader *)base;

	if (rd->fd != -1)
		close(rd->fd);
	drop_copy(&rd->fill);
	EVP_MD_CTX_free(rd->md);
	free(rd);
}
