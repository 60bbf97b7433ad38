/*
 * The embedded store's chunked content (store.h, docs/delta.md).
 *
 * Chunk files: DIR/chunks/XX/SHA256 (chunkfile.h's form), written to
 * DIR/chunks/tmp/ and renamed. They are made durable by the content that
 * uses them: sq_content_create() verifies every chunk (a file a crash
 * damaged is removed and asked for again) and syncs the file system
 * before the manifest commits, so a committed manifest only names chunks
 * that are on disk and whole. Manifests are rows, not
 * files: one row per content (its chunk list as a BLOB of 36 bytes per
 * chunk: SHA-256 and little-endian length) and one row per (chunk,
 * content) pair, the index garbage collection asks "does anything still
 * use this chunk". A manifest and its index rows commit in one SQLite
 * transaction (synchronous=FULL): never half there.
 *
 * Garbage: a project's deletion removes the manifests of its contents
 * that no revision references any more, then the chunks no manifest
 * uses. A manifest touched (created, or named by a commit) and a chunk
 * touched (uploaded, or reported present) within the grace period are
 * kept: a commit in flight is about to reference them.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "atrium/util.h"
#include "server/chunkfile.h"
#include "server/store_sqlite_int.h"

#define GRACE_DEFAULT 3600 /* seconds */
#define REF_BYTES 36       /* a manifest entry: SHA-256 + uint32 length */

const char sq_chunks_schema[] =
    "CREATE TABLE IF NOT EXISTS manifests("
    "  sha256 TEXT PRIMARY KEY, size INTEGER NOT NULL, chunks BLOB NOT NULL,"
    "  touched INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS manifest_chunks("
    "  chunk BLOB NOT NULL,"
    "  manifest TEXT NOT NULL REFERENCES manifests(sha256) ON DELETE CASCADE,"
    "  PRIMARY KEY (chunk, manifest)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS manifest_chunks_manifest ON manifest_chunks(manifest);";

struct sq_mreader {
	struct store_chunk_ref *chunks;
	int64_t *starts; /* offset of each chunk in the content */
	int n;
	int64_t size;
	const char *chunkdir;
	int cur;            /* the chunk held in raw, or -1 */
	size_t rawlen;
	unsigned char *raw; /* CHUNK_RAW_MAX */
	unsigned char *img; /* CHUNKFILE_MAX */
};

/* Seconds a touched chunk or manifest is safe from collection;
 * ATRIUM_CHUNK_GRACE overrides it (the tests use 0). */
static int64_t
grace(void)
{
	const char *g = getenv("ATRIUM_CHUNK_GRACE");

	return g != NULL ? strtoll(g, NULL, 10) : GRACE_DEFAULT;
}

static int
unhex(const char *hex, unsigned char *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v = 0;
		for (int k = 0; k < 2; k++) {
			char c = hex[2 * i + k];
			v <<= 4;
			if (c >= '0' && c <= '9')
				v |= (unsigned)(c - '0');
			else if (c >= 'a' && c <= 'f')
				v |= (unsigned)(c - 'a' + 10);
			else
				return -1;
		}
		out[i] = (unsigned char)v;
	}
	return 0;
}

int
sq_chunks_open(struct sq_store *st, const char *datadir, struct atr_err *err)
{
	char path[4200];
	DIR *d;

	if (asprintf(&st->chunkdir, "%s/chunks", datadir) < 0) {
		st->chunkdir = NULL;
		return atr_err_set(err, ATR_E_NOMEM, NULL);
	}
	snprintf(path, sizeof(path), "%s/tmp", st->chunkdir);
	if (atr_mkdirs(path, 0700, err) == -1)
		return -1;
	/* Leftovers of uploads cut short by a crash: never acknowledged. */
	if ((d = opendir(path)) != NULL) {
		struct dirent *de;
		while ((de = readdir(d)) != NULL)
			if (de->d_name[0] != '.')
				unlinkat(dirfd(d), de->d_name, 0);
		closedir(d);
	}
	return 0;
}

void
sq_chunk_path(const char *chunkdir, const char *sha256, char *out, size_t size)
{
	snprintf(out, size, "%s/%.2s/%s", chunkdir, sha256, sha256);
}

int
sq_chunk_missing(struct store_conn *sc, const char (*shas)[65], int n, unsigned char *missing,
    struct atr_err *err)
{
	char path[4200];

	(void)err;
	for (int i = 0; i < n; i++) {
		sq_chunk_path(SQ(sc)->st->chunkdir, shas[i], path, sizeof(path));
		/* Present: touched, so collection leaves it for the commit. */
		missing[i] = utimensat(AT_FDCWD, path, NULL, 0) == -1;
	}
	return 0;
}

/* Writes img durably as the chunk file of sha256. */
static int
write_chunk(struct sq_store *st, const char *sha256, const unsigned char *img, size_t len,
    struct atr_err *err)
{
	char tmp[4200], path[4200], dir[4200];
	size_t off = 0;
	int fd;

	snprintf(tmp, sizeof(tmp), "%s/tmp/chunk-XXXXXX", st->chunkdir);
	if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1)
		return atr_err_set(err, ATR_E_IO, "cannot create a chunk file in %s/tmp: %s",
		    st->chunkdir, strerror(errno));
	while (off < len) {
		ssize_t w = write(fd, img + off, len - off);
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1)
			goto fail;
		off += (size_t)w;
	}
	close(fd);
	fd = -1;
	snprintf(dir, sizeof(dir), "%s/%.2s", st->chunkdir, sha256);
	if (mkdir(dir, 0700) == -1 && errno != EEXIST)
		goto fail;
	sq_chunk_path(st->chunkdir, sha256, path, sizeof(path));
	/* Not fsync'ed here: the content that uses the chunk syncs the file
	 * system before its manifest commits (sq_content_create()). */
	if (rename(tmp, path) == -1)
		goto fail;
	return 0;
fail:
	atr_err_set(err, ATR_E_IO, "cannot store a chunk: %s", strerror(errno));
	if (fd != -1)
		close(fd);
	unlink(tmp);
	return -1;
}

int
sq_chunk_put(struct store_conn *sc, const char *sha256, const void *data, size_t len, int zstd,
    struct atr_err *err)
{
	struct sq_store *st = SQ(sc)->st;
	unsigned char *raw = NULL, *img = NULL;
	const unsigned char *bytes = data;
	size_t rawlen = len, imglen;
	char got[65], path[4200];
	int rc = -1;

	sq_chunk_path(st->chunkdir, sha256, path, sizeof(path));
	if (zstd) {
		long l;
		if ((raw = malloc(CHUNK_RAW_MAX)) == NULL)
			return atr_err_set(err, ATR_E_NOMEM, NULL);
		if ((l = chunk_unzstd(data, len, raw, CHUNK_RAW_MAX, err)) < 0)
			goto out;
		bytes = raw;
		rawlen = (size_t)l;
	} else if (len > CHUNK_RAW_MAX) {
		return atr_err_set(err, ATR_E_TOO_LARGE, "a chunk has at most %u bytes",
		    CHUNK_RAW_MAX);
	}
	if (chunk_sha256_hex(bytes, rawlen, got) == -1) {
		atr_err_set(err, ATR_E_INTERNAL, "hashing failed");
		goto out;
	}
	if (strcmp(got, sha256) != 0) {
		atr_err_set(err, ATR_E_BAD_REQUEST,
		    "the chunk's bytes hash to %s, not to %s: it was damaged on the way", got,
		    sha256);
		goto out;
	}
	if (utimensat(AT_FDCWD, path, NULL, 0) == 0) {
		rc = 0; /* stored already (and touched) */
		goto out;
	}
	if (chunkfile_encode(bytes, rawlen, zstd ? data : NULL, zstd ? len : 0, &img, &imglen,
		err) == -1)
		goto out;
	rc = write_chunk(st, sha256, img, imglen, err);
out:
	free(raw);
	free(img);
	return rc;
}

/* Reads chunk sha256 into raw (CHUNK_RAW_MAX), verified; img is scratch
 * (CHUNKFILE_MAX). */
static int
read_chunk(const char *chunkdir, const char *sha256, unsigned char *img, unsigned char *raw,
    size_t *rawlen, struct atr_err *err)
{
	char path[4200];
	long n;

	sq_chunk_path(chunkdir, sha256, path, sizeof(path));
	if ((n = chunkfile_read(path, img, err)) < 0)
		return -1;
	return chunkfile_decode(img, (size_t)n, sha256, raw, CHUNK_RAW_MAX, rawlen, err);
}

static int
touch_manifest(struct store_conn *sc, const char *sha256, int64_t *size, struct atr_err *err)
{
	sqlite3_stmt *s;
	int rc;

	if (sq_run(sc, err, "holding a content",
		sq_prep(sc, err, "UPDATE manifests SET touched = ? WHERE sha256 = ?", "it",
		    atr_now_ms() / 1000, sha256)) == -1)
		return -1;
	if (sqlite3_changes(SQ(sc)->db) == 0)
		return atr_err_set(err, ATR_E_NOT_FOUND, "there is no chunked content %s", sha256);
	if (size == NULL)
		return 0;
	if ((s = sq_prep(sc, err, "SELECT size FROM manifests WHERE sha256 = ?", "t", sha256)) ==
	    NULL)
		return -1;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*size = sqlite3_column_int64(s, 0);
	sq_release(sc, s);
	return rc == SQLITE_ROW ? 0 : sq_db_fail(sc, err, "reading a manifest");
}

int
sq_content_hold(struct store_conn *sc, const char *sha256, int64_t *size, struct atr_err *err)
{
	return touch_manifest(sc, sha256, size, err);
}

/* Whether every chunk is stored; fills missing (may be NULL). */
static int
all_present(struct sq_store *st, const struct store_chunk_ref *chunks, int n,
    unsigned char *missing)
{
	char path[4200];
	int absent = 0;

	for (int i = 0; i < n; i++) {
		struct stat sb;
		int m;
		sq_chunk_path(st->chunkdir, chunks[i].sha256, path, sizeof(path));
		m = stat(path, &sb) == -1;
		if (missing != NULL)
			missing[i] = (unsigned char)m;
		absent += m;
	}
	return absent == 0;
}

/* Makes every chunk file and name under chunkdir durable: one syncfs()
 * rather than an fsync per chunk and directory (on this kind of disk
 * those cost milliseconds each: 1,100 of them for a 100 MB model). */
static int
sync_chunks(struct sq_store *st, struct atr_err *err)
{
	int fd = open(st->chunkdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd == -1 || syncfs(fd) == -1) {
		int e = errno;
		if (fd != -1)
			close(fd);
		return atr_err_set(err, ATR_E_IO, "cannot sync %s: %s", st->chunkdir, strerror(e));
	}
	close(fd);
	return 0;
}

/*
 * The whole content's SHA-256 over the chunks, each verified, and the
 * lengths checked. A chunk file that does not verify (written before a
 * crash, and never synced) is removed and reported in missing
 * (ATR_E_CHUNKS_MISSING): the client sends it again.
 */
static int
hash_content(struct sq_store *st, const char *sha256, int64_t size,
    const struct store_chunk_ref *chunks, int n, unsigned char *missing, struct atr_err *err)
{
	int damaged = 0;

	unsigned char *img = malloc(CHUNKFILE_MAX), *raw = malloc(CHUNK_RAW_MAX);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	char got[65];
	int64_t total = 0;
	int rc = -1;

	if (img == NULL || raw == NULL || ctx == NULL ||
	    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		goto out;
	}
	for (int i = 0; i < n; i++) {
		size_t len;
		if (read_chunk(st->chunkdir, chunks[i].sha256, img, raw, &len, err) == -1) {
			char path[4200];
			if (err != NULL && err->code == ATR_E_NOMEM)
				goto out;
			sq_chunk_path(st->chunkdir, chunks[i].sha256, path, sizeof(path));
			unlink(path);
			if (missing != NULL)
				missing[i] = 1;
			damaged++;
			continue;
		}
		if (len != chunks[i].size) {
			atr_err_set(err, ATR_E_BAD_REQUEST, "chunk %d (%.12s...) has %zu bytes, not "
			    "%u", i, chunks[i].sha256, len, chunks[i].size);
			goto out;
		}
		total += (int64_t)len;
		if (EVP_DigestUpdate(ctx, raw, len) != 1)
			goto hashfail;
	}
	if (damaged > 0) {
		atr_err_set(err, ATR_E_CHUNKS_MISSING, NULL);
		goto out;
	}
	if (total != size) {
		atr_err_set(err, ATR_E_BAD_REQUEST, "the chunks add up to %lld bytes, not %lld",
		    (long long)total, (long long)size);
		goto out;
	}
	if (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1)
		goto hashfail;
	atr_hex(md, 32, got);
	if (strcmp(got, sha256) != 0) {
		atr_err_set(err, ATR_E_BAD_REQUEST, "the chunks' bytes hash to %s, not to %s", got,
		    sha256);
		goto out;
	}
	rc = 0;
	goto out;
hashfail:
	atr_err_set(err, ATR_E_INTERNAL, "hashing failed");
out:
	EVP_MD_CTX_free(ctx);
	free(img);
	free(raw);
	return rc;
}

int
sq_content_create(struct store_conn *sc, const char *sha256, int64_t size,
    const struct store_chunk_ref *chunks, int n, unsigned char *missing, int *created,
    struct atr_err *err)
{
	struct sq_store *st = SQ(sc)->st;
	unsigned char *list = NULL, bin[32];
	int rc = -1;

	*created = 0;
	if (touch_manifest(sc, sha256, NULL, NULL) == 0)
		return 0;
	if (!all_present(st, chunks, n, missing))
		return atr_err_set(err, ATR_E_CHUNKS_MISSING, NULL);
	if (missing != NULL)
		memset(missing, 0, (size_t)n);
	if (hash_content(st, sha256, size, chunks, n, missing, err) == -1 ||
	    sync_chunks(st, err) == -1)
		return -1;
	if ((list = malloc((size_t)n * REF_BYTES + 1)) == NULL)
		return atr_err_set(err, ATR_E_NOMEM, NULL);
	for (int i = 0; i < n; i++) {
		unsigned char *e = list + (size_t)i * REF_BYTES;
		if (unhex(chunks[i].sha256, e, 32) == -1) {
			free(list);
			return atr_err_set(err, ATR_E_BAD_REQUEST, "a chunk's sha256 is not hex");
		}
		for (int k = 0; k < 4; k++)
			e[32 + k] = (unsigned char)(chunks[i].size >> (8 * k));
	}
	/* Collection removes chunks under pin_lock: check again under it that
	 * none went since the hashing, and commit the manifest before it can
	 * look again. */
	pthread_mutex_lock(&st->pin_lock);
	if (!all_present(st, chunks, n, missing)) {
		atr_err_set(err, ATR_E_CHUNKS_MISSING, NULL);
		goto unlock;
	}
	if (sq_exec(sc, "BEGIN IMMEDIATE", err) == -1)
		goto unlock;
	{
		sqlite3_stmt *s = sq_prep(sc, err,
		    "INSERT OR IGNORE INTO manifests(sha256, size, chunks, touched) VALUES (?,?,?,?)",
		    "ti", sha256, size);
		if (s == NULL)
			goto rollback;
		sqlite3_bind_blob(s, 3, list, n * REF_BYTES, SQLITE_STATIC);
		sqlite3_bind_int64(s, 4, atr_now_ms() / 1000);
		if (sq_run(sc, err, "adding a manifest", s) == -1)
			goto rollback;
	}
	for (int i = 0; i < n; i++) {
		sqlite3_stmt *s = sq_prep(sc, err,
		    "INSERT OR IGNORE INTO manifest_chunks(chunk, manifest) VALUES (?, ?)", "");
		if (s == NULL)
			goto rollback;
		memcpy(bin, list + (size_t)i * REF_BYTES, 32);
		sqlite3_bind_blob(s, 1, bin, 32, SQLITE_TRANSIENT);
		sqlite3_bind_text(s, 2, sha256, -1, SQLITE_TRANSIENT);
		if (sq_run(sc, err, "indexing a manifest", s) == -1)
			goto rollback;
	}
	if (sq_exec(sc, "COMMIT", err) == -1)
		goto rollback;
	*created = 1;
	rc = 0;
	goto unlock;
rollback:
	sq_exec(sc, "ROLLBACK", NULL);
unlock:
	pthread_mutex_unlock(&st->pin_lock);
	free(list);
	return rc;
}

/* The manifest of sha256 into *chunks (malloc'ed), *n and *size. 0, or -1
 * with ATR_E_NOT_FOUND when there is none. */
static int
load_manifest(struct store_conn *sc, const char *sha256, struct store_chunk_ref **chunks, int *n,
    int64_t *size, struct atr_err *err)
{
	sqlite3_stmt *s = sq_prep(sc, err, "SELECT size, chunks FROM manifests WHERE sha256 = ?",
	    "t", sha256);
	const unsigned char *b;
	struct store_chunk_ref *c = NULL;
	int rc, len, cnt = 0;

	if (s == NULL)
		return -1;
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		sq_release(sc, s);
		if (rc == SQLITE_DONE)
			return atr_err_set(err, ATR_E_NOT_FOUND,
			    "the content %.12s... is a whole file, not chunks", sha256);
		return sq_db_fail(sc, err, "reading a manifest");
	}
	*size = sqlite3_column_int64(s, 0);
	b = sqlite3_column_blob(s, 1);
	len = sqlite3_column_bytes(s, 1);
	if (len % REF_BYTES == 0 && (cnt = len / REF_BYTES) >= 0 &&
	    (c = calloc((size_t)cnt + 1, sizeof(*c))) != NULL) {
		for (int i = 0; i < cnt; i++) {
			const unsigned char *e = b + (size_t)i * REF_BYTES;
			atr_hex(e, 32, c[i].sha256);
			c[i].size = (uint32_t)e[32] | (uint32_t)e[33] << 8 | (uint32_t)e[34] << 16 |
			    (uint32_t)e[35] << 24;
		}
	}
	sq_release(sc, s);
	if (c == NULL)
		return atr_err_set(err, len % REF_BYTES ? ATR_E_IO : ATR_E_NOMEM,
		    len % REF_BYTES ? "the manifest of %.12s... is damaged" : NULL, sha256);
	*chunks = c;
	*n = cnt;
	return 0;
}

int
sq_content_manifest(struct store_conn *sc, const char *sha256, struct store_chunk_ref **chunks,
    int *n, struct atr_err *err)
{
	int64_t size;

	return load_manifest(sc, sha256, chunks, n, &size, err);
}

int
sq_chunk_get(struct store_conn *sc, const char *project, const char *sha256, int accept_zstd,
    unsigned char **data, size_t *len, int *zstd, struct atr_err *err)
{
	struct sq_store *st = SQ(sc)->st;
	unsigned char bin[32], *img = NULL, *raw = NULL;
	const unsigned char *p;
	size_t plen, rawlen;
	sqlite3_stmt *s;
	char path[4200];
	long n;
	int rc, z;

	if (unhex(sha256, bin, 32) == -1)
		return atr_err_set(err, ATR_E_BAD_REQUEST, "a chunk is named by its SHA-256 in hex");
	s = sq_prep(sc, err,
	    "SELECT 1 FROM manifest_chunks mc JOIN revisions r ON r.sha256 = mc.manifest"
	    " JOIN projects p ON p.id = r.project_id WHERE mc.chunk = ? AND p.name = ? LIMIT 1",
	    "");
	if (s == NULL)
		return -1;
	sqlite3_bind_blob(s, 1, bin, 32, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 2, project, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(s);
	sq_release(sc, s);
	if (rc == SQLITE_DONE)
		return atr_err_set(err, ATR_E_NOT_FOUND,
		    "no revision of project '%s' has the chunk %s", project, sha256);
	if (rc != SQLITE_ROW)
		return sq_db_fail(sc, err, "looking up a chunk");
	if ((img = malloc(CHUNKFILE_MAX)) == NULL || (raw = malloc(CHUNK_RAW_MAX)) == NULL) {
		free(img);
		return atr_err_set(err, ATR_E_NOMEM, NULL);
	}
	sq_chunk_path(st->chunkdir, sha256, path, sizeof(path));
	/* Verified on the way out, also when the stored frame is sent. */
	if ((n = chunkfile_read(path, img, err)) < 0 ||
	    chunkfile_decode(img, (size_t)n, sha256, raw, CHUNK_RAW_MAX, &rawlen, err) == -1 ||
	    chunkfile_payload(img, (size_t)n, &z, &p, &plen, &rawlen, err) == -1) {
		if (err != NULL && err->code == ATR_E_NOT_FOUND)
			err->code = ATR_E_IO; /* referenced, yet gone: damage */
		free(img);
		free(raw);
		return -1;
	}
	if (accept_zstd && z) {
		memmove(img, p, plen);
		free(raw);
		*data = img;
		*len = plen;
		*zstd = 1;
	} else {
		free(img);
		*data = raw;
		*len = rawlen;
		*zstd = 0;
	}
	return 0;
}

/* ---- reading a chunked content as one stream */

struct sq_mreader *
sq_mreader_open(struct store_conn *sc, const char *sha256, int64_t size, struct atr_err *err)
{
	struct sq_mreader *m = calloc(1, sizeof(*m));
	int64_t stored = 0, at = 0;

	if (m == NULL) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		return NULL;
	}
	m->cur = -1;
	m->chunkdir = SQ(sc)->st->chunkdir;
	if (load_manifest(sc, sha256, &m->chunks, &m->n, &stored, err) == -1)
		goto fail;
	if (stored != size) {
		atr_err_set(err, ATR_E_IO, "the manifest of %.12s... has %lld bytes instead of %lld",
		    sha256, (long long)stored, (long long)size);
		goto fail;
	}
	if ((m->starts = calloc((size_t)m->n + 1, sizeof(*m->starts))) == NULL ||
	    (m->raw = malloc(CHUNK_RAW_MAX)) == NULL || (m->img = malloc(CHUNKFILE_MAX)) == NULL) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		goto fail;
	}
	for (int i = 0; i < m->n; i++) {
		m->starts[i] = at;
		at += m->chunks[i].size;
	}
	m->starts[m->n] = at;
	m->size = at;
	return m;
fail:
	sq_mreader_close(m);
	return NULL;
}

int64_t
sq_mreader_read(struct sq_mreader *m, void *buf, size_t n, int64_t off, struct atr_err *err)
{
	int lo = 0, hi = m->n - 1;
	size_t take;

	if (off >= m->size || n == 0)
		return 0;
	while (lo < hi) { /* the chunk holding off */
		int mid = (lo + hi + 1) / 2;
		if (m->starts[mid] <= off)
			lo = mid;
		else
			hi = mid - 1;
	}
	if (m->cur != lo) {
		m->cur = -1;
		if (read_chunk(m->chunkdir, m->chunks[lo].sha256, m->img, m->raw, &m->rawlen, err) ==
		    -1)
			return -1;
		if (m->rawlen != m->chunks[lo].size)
			return atr_err_set(err, ATR_E_IO, "chunk %.12s... has the wrong length",
			    m->chunks[lo].sha256);
		m->cur = lo;
	}
	take = (size_t)(m->starts[lo] + (int64_t)m->rawlen - off);
	if (take > n)
		take = n;
	memcpy(buf, m->raw + (off - m->starts[lo]), take);
	return (int64_t)take;
}

void
sq_mreader_close(struct sq_mreader *m)
{
	if (m == NULL)
		return;
	free(m->chunks);
	free(m->starts);
	free(m->raw);
	free(m->img);
	free(m);
}

/* ---- garbage */

static int
content_referenced(struct store_conn *sc, const char *sha256)
{
	sqlite3_stmt *s = sq_prep(sc, NULL, "SELECT 1 FROM revisions WHERE sha256 = ? LIMIT 1", "t",
	    sha256);
	int used = s == NULL || sqlite3_step(s) == SQLITE_ROW;

	sq_release(sc, s);
	return used;
}

/* Removes chunk bin (binary SHA-256) when no manifest uses it and it was
 * not touched within the grace period. */
static void
collect_chunk(struct store_conn *sc, const unsigned char *bin, int64_t cutoff)
{
	sqlite3_stmt *s = sq_prep(sc, NULL, "SELECT 1 FROM manifest_chunks WHERE chunk = ? LIMIT 1",
	    "");
	char hex[65], path[4200];
	struct stat sb;
	int used;

	if (s == NULL)
		return;
	sqlite3_bind_blob(s, 1, bin, 32, SQLITE_TRANSIENT);
	used = sqlite3_step(s) != SQLITE_DONE;
	sq_release(sc, s);
	if (used)
		return;
	atr_hex(bin, 32, hex);
	sq_chunk_path(SQ(sc)->st->chunkdir, hex, path, sizeof(path));
	if (stat(path, &sb) == 0 && sb.st_mtim.tv_sec <= cutoff)
		unlink(path);
}

void
sq_chunks_collect(struct store_conn *sc, char (*shas)[65], int n)
{
	int64_t cutoff = atr_now_ms() / 1000 - grace();

	for (int i = 0; i < n; i++) {
		sqlite3_stmt *s;
		unsigned char *list = NULL;
		int len = 0, rc;

		if (content_referenced(sc, shas[i]))
			continue;
		s = sq_prep(sc, NULL, "SELECT chunks, touched FROM manifests WHERE sha256 = ?", "t",
		    shas[i]);
		if (s == NULL)
			continue;
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW && sqlite3_column_int64(s, 1) <= cutoff) {
			len = sqlite3_column_bytes(s, 0);
			if ((list = malloc((size_t)len + 1)) != NULL)
				memcpy(list, sqlite3_column_blob(s, 0), (size_t)len);
		}
		sq_release(sc, s);
		if (list == NULL)
			continue;
		if (sq_run(sc, NULL, "removing a manifest",
			sq_prep(sc, NULL, "DELETE FROM manifests WHERE sha256 = ?", "t", shas[i])) ==
		    0) {
			for (int k = 0; k + REF_BYTES <= len; k += REF_BYTES)
				collect_chunk(sc, list + k, cutoff);
		}
		free(list);
	}
}
