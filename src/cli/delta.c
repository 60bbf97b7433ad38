/* Commits and checkouts by chunks (delta.h, docs/delta.md). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fcntl.h>
#include <openssl/evp.h>
#include <zstd.h>

#include "atrium/chunker.h"
#include "atrium/util.h"
#include "cli/delta.h"
#include "cli/progress.h"
#include "cli/url.h"

#define ASK_MAX 4096      /* hashes per POST /chunks/missing (the server's bound) */
#define READ_PIECE (1024 * 1024)
#define ZSTD_LEVEL 3

struct ref {
	char sha[65];
	uint32_t size;
	uint64_t off;
};

struct reflist {
	struct ref *v;
	size_t n, cap;
};

static int
reflist_add(struct reflist *l, const struct atr_chunk *c)
{
	if (l->n == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 1024;
		struct ref *bigger = realloc(l->v, ncap * sizeof(*bigger));
		if (bigger == NULL)
			return -1;
		l->v = bigger;
		l->cap = ncap;
	}
	atr_hex(c->hash, ATR_CHUNK_HASH_LEN, l->v[l->n].sha);
	l->v[l->n].size = (uint32_t)c->len;
	l->v[l->n].off = c->offset;
	l->n++;
	return 0;
}

/* Cuts fd's bytes (from offset 0) into chunks; whole != NULL gets the
 * SHA-256 of everything. */
static int
chunk_file(int fd, struct reflist *l, char whole[65], struct atr_err *err)
{
	struct atr_chunker *c = atr_chunker_new();
	unsigned char *buf = malloc(READ_PIECE);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	struct atr_chunk ch;
	uint64_t at = 0;
	int rc = -1;

	if (c == NULL || buf == NULL || md == NULL ||
	    EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		goto out;
	}
	for (;;) {
		ssize_t n = pread(fd, buf, READ_PIECE, (off_t)at);
		size_t off = 0, used;
		if (cli_http_interrupted()) {
			atr_err_set(err, ATR_E_NETWORK, "interrupted");
			goto out;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			atr_err_set(err, ATR_E_IO, "cannot read the file: %s", strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		at += (uint64_t)n;
		if (EVP_DigestUpdate(md, buf, (size_t)n) != 1)
			goto nomem;
		while (off < (size_t)n) {
			if (atr_chunker_update(c, buf + off, (size_t)n - off, &used, &ch) == -1) {
				atr_err_set(err, ATR_E_INTERNAL, "%s", atr_chunker_error(c));
				goto out;
			}
			off += used;
			if (ch.len > 0 && reflist_add(l, &ch) == -1)
				goto nomem;
		}
	}
	if (atr_chunker_final(c, &ch) == 1 && reflist_add(l, &ch) == -1)
		goto nomem;
	if (whole != NULL) {
		unsigned char d[EVP_MAX_MD_SIZE];
		unsigned int dn = 0;
		if (EVP_DigestFinal_ex(md, d, &dn) != 1)
			goto nomem;
		atr_hex(d, 32, whole);
	}
	rc = 0;
	goto out;
nomem:
	atr_err_set(err, ATR_E_NOMEM, NULL);
out:
	EVP_MD_CTX_free(md);
	free(buf);
	atr_chunker_free(c);
	return rc;
}

static int
read_exact(int fd, void *buf, size_t n, uint64_t off)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = pread(fd, (char *)buf + got, n - got, (off_t)(off + got));
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

static int
write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;

	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Whether the answer means "no chunk protocol here". */
static int
no_protocol(const struct cli_reply *rep)
{
	enum atr_errcode code;

	cli_reply_code(rep, &code);
	return rep->status == 404 || rep->status == 405 || code == ATR_E_NOT_SUPPORTED;
}

#define BATCH_MAX (2 * 1024 * 1024 - 64 * 1024) /* under the server's 2 MiB body */

/* New chunks on their way: records for POST /api/v1/chunks. */
struct batch {
	unsigned char *buf; /* BATCH_MAX */
	size_t len;
	uint64_t raw, chunks;
	ZSTD_CCtx *zc;      /* one context for every chunk: no allocation each */
};

static int
flush_batch(struct cli_http *h, struct batch *b, struct cli_delta_stats *st, struct atr_err *err)
{
	static const char *const hdr[] = {"Expect:", NULL};
	struct cli_reply rep;
	int rc;

	if (b->len == 0)
		return 0;
	rc = cli_http_raw(h, "POST", "/api/v1/chunks", b->buf, b->len, hdr, 200, NULL, &rep, err);
	cli_reply_clear(&rep);
	if (rc == 0) {
		st->moved += b->chunks;
		st->raw_bytes += b->raw;
		st->wire_bytes += b->len;
	}
	b->len = b->raw = b->chunks = 0;
	return rc;
}

/* Adds chunk r of fd to the batch, compressed when that pays; sends the
 * batch when it is full. */
static int
put_chunk(struct cli_http *h, int fd, const struct ref *r, unsigned char *raw, unsigned char *z,
    size_t zcap, struct batch *b, struct cli_delta_stats *st, struct atr_err *err)
{
	size_t zn, n;
	int use_z;
	unsigned char *rec;

	if (read_exact(fd, raw, r->size, r->off) == -1)
		return atr_err_set(err, ATR_E_IO, "cannot read the file: %s",
		    errno ? strerror(errno) : "it became shorter");
	zn = ZSTD_compressCCtx(b->zc, z, zcap, raw, r->size, ZSTD_LEVEL);
	use_z = !ZSTD_isError(zn) && zn < r->size - r->size / 8;
	n = use_z ? zn : r->size;
	if (b->len + 37 + n > BATCH_MAX && flush_batch(h, b, st, err) == -1)
		return -1;
	rec = b->buf + b->len;
	for (int i = 0; i < 32; i++) {
		unsigned v;
		sscanf(r->sha + 2 * i, "%2x", &v);
		rec[i] = (unsigned char)v;
	}
	rec[32] = (unsigned char)use_z;
	for (int i = 0; i < 4; i++)
		rec[33 + i] = (unsigned char)((uint32_t)n >> (8 * i));
	memcpy(rec + 37, use_z ? z : raw, n);
	b->len += 37 + n;
	b->raw += r->size;
	b->chunks++;
	return 0;
}

static int
cmp_sha(const void *a, const void *b)
{
	return strcmp(((const struct ref *)a)->sha, ((const struct ref *)b)->sha);
}

/* Sends the chunks of l named in the JSON array miss, each once. */
static int
send_missing(struct cli_http *h, int fd, const struct reflist *l, json_t *miss,
    struct cli_progress *pg, uint64_t *done, struct cli_delta_stats *st, struct atr_err *err)
{
	size_t zcap = ZSTD_compressBound(ATR_CHUNK_MAX_DEFAULT), i;
	unsigned char *raw = malloc(ATR_CHUNK_MAX_DEFAULT), *z = malloc(zcap);
	struct ref *sorted = malloc((l->n + 1) * sizeof(*sorted));
	struct batch b = {malloc(BATCH_MAX), 0, 0, 0, ZSTD_createCCtx()};
	json_t *v;
	int rc = -1;

	if (raw == NULL || z == NULL || sorted == NULL || b.buf == NULL || b.zc == NULL) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		goto out;
	}
	memcpy(sorted, l->v, l->n * sizeof(*sorted));
	qsort(sorted, l->n, sizeof(*sorted), cmp_sha);
	json_array_foreach(miss, i, v) {
		struct ref key, *r;
		const char *s = json_string_value(v);
		if (s == NULL || strlen(s) != 64)
			continue;
		memcpy(key.sha, s, 65);
		if ((r = bsearch(&key, sorted, l->n, sizeof(*sorted), cmp_sha)) == NULL ||
		    r->size == 0)
			continue; /* not ours, or sent already */
		if (put_chunk(h, fd, r, raw, z, zcap, &b, st, err) == -1)
			goto out;
		*done += r->size;
		cli_progress_update(pg, *done);
		r->size = 0; /* a chunk that occurs twice goes once */
	}
	rc = flush_batch(h, &b, st, err);
out:
	ZSTD_freeCCtx(b.zc);
	free(b.buf);
	free(raw);
	free(z);
	free(sorted);
	return rc;
}

static json_t *
manifest_body(const struct reflist *l, const char *whole, uint64_t size)
{
	json_t *a = json_array();

	for (size_t i = 0; a != NULL && i < l->n; i++)
		if (json_array_append_new(a, json_pack("{s:s,s:I}", "sha256", l->v[i].sha, "size",
		    (json_int_t)l->v[i].size)) == -1) {
			json_decref(a);
			return NULL;
		}
	return json_pack("{s:s,s:I,s:o}", "sha256", whole, "size", (json_int_t)size, "chunks", a);
}

static int
delta_commit(struct cli_http *h, const char *commit_path, int fd, uint64_t size,
    struct cli_progress *pg, char sha256[65], struct cli_reply *rep,
    struct cli_delta_stats *st, struct atr_err *err)
{
	struct reflist l = {0};
	json_t *body = NULL;
	char hdr[100];
	const char *hdrs[] = {hdr, NULL};
	uint64_t done = 0;
	int rc = -1;

	memset(rep, 0, sizeof(*rep));
	memset(st, 0, sizeof(*st));
	if (chunk_file(fd, &l, sha256, err) == -1)
		goto out;
	st->chunks = l.n;
	/* What the server lacks, a batch at a time; send those. */
	for (size_t at = 0; at < l.n || (at == 0 && l.n == 0); at += ASK_MAX) {
		json_t *a = json_array();
		for (size_t i = at; a != NULL && i < l.n && i < at + ASK_MAX; i++)
			json_array_append_new(a, json_string(l.v[i].sha));
		if ((body = json_pack("{s:o}", "chunks", a)) == NULL) {
			atr_err_set(err, ATR_E_NOMEM, NULL);
			goto out;
		}
		if (cli_http_call(h, "POST", "/api/v1/chunks/missing", body, 200, rep, err) == -1) {
			if (at == 0 && no_protocol(rep))
				rc = CLI_DELTA_FALLBACK;
			goto out;
		}
		json_decref(body);
		body = NULL;
		if (send_missing(h, fd, &l, json_object_get(rep->json, "missing"), pg, &done, st,
		    err) == -1)
			goto out;
		cli_reply_clear(rep);
		if (l.n == 0)
			break;
	}
	/* The content as a list of chunks; a chunk gone meanwhile (collected
	 * with a deleted project) is sent again, once. */
	if ((body = manifest_body(&l, sha256, size)) == NULL) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		goto out;
	}
	for (int round = 0;; round++) {
		enum atr_errcode code;
		if (cli_http_call(h, "POST", "/api/v1/contents", body, 201, rep, err) == 0 ||
		    rep->status == 200)
			break;
		cli_reply_code(rep, &code);
		if (code != ATR_E_CHUNKS_MISSING || round == 1)
			goto out;
		if (send_missing(h, fd, &l, json_object_get(rep->json, "missing"), pg, &done, st,
		    err) == -1)
			goto out;
		cli_reply_clear(rep);
	}
	cli_reply_clear(rep);
	snprintf(hdr, sizeof(hdr), "X-Atrium-Content: sha256:%s", sha256);
	rc = cli_http_raw(h, "POST", commit_path, NULL, 0, hdrs, 201, NULL, rep, err);
out:
	json_decref(body);
	free(l.v);
	return rc;
}

/* ---- checkout */

static int
cmp_have(const void *a, const void *b)
{
	return strcmp(((const struct ref *)a)->sha, ((const struct ref *)b)->sha);
}

/* Fetches chunk sha of project into raw (ATR_CHUNK_MAX_DEFAULT), verified. */
static int
get_chunk(struct cli_http *h, const char *project, const char *sha, uint32_t size,
    unsigned char *raw, ZSTD_DCtx *zd, struct cli_delta_stats *st, struct atr_err *err)
{
	static const char *const ae[] = {"Accept-Encoding: zstd", NULL};
	struct cli_reply rep;
	struct cli_raw body;
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int dn = 0;
	char *path, got[65];
	size_t len;
	int rc;

	if ((path = cli_api_path("projects", project, "chunks", sha, NULL)) == NULL)
		return atr_err_set(err, ATR_E_NOMEM, NULL);
	rc = cli_http_raw(h, "GET", path, NULL, 0, ae, 200, &body, &rep, err);
	free(path);
	cli_reply_clear(&rep);
	if (rc == -1)
		return -1;
	st->wire_bytes += body.len;
	if (strcmp(body.encoding, "zstd") == 0) {
		len = ZSTD_decompressDCtx(zd, raw, ATR_CHUNK_MAX_DEFAULT, body.data, body.len);
		if (ZSTD_isError(len))
			len = (size_t)-1;
	} else {
		len = body.len <= ATR_CHUNK_MAX_DEFAULT ? body.len : (size_t)-1;
		if (len != (size_t)-1)
			memcpy(raw, body.data, len);
	}
	cli_raw_free(&body);
	if (len != size || EVP_Digest(raw, len, d, &dn, EVP_sha256(), NULL) != 1 ||
	    (atr_hex(d, 32, got), strcmp(got, sha) != 0))
		return atr_err_set(err, ATR_E_NETWORK, "chunk %.12s... arrived damaged; try again",
		    sha);
	st->moved++;
	st->raw_bytes += len;
	return 0;
}

static int
delta_checkout(struct cli_http *h, const char *project, const char *ebranch, uint64_t rev,
    uint64_t size, const char *want, const char *have, int outfd, struct cli_progress *pg,
    struct cli_delta_stats *st, struct atr_err *err)
{
	struct cli_reply rep = {0};
	struct reflist local = {0};
	unsigned char *raw = malloc(ATR_CHUNK_MAX_DEFAULT);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	ZSTD_DCtx *zd = ZSTD_createDCtx();
	char num[32], *path = NULL, got[65];
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int dn = 0;
	json_t *chunks, *v;
	uint64_t done = 0;
	int hfd = -1, rc = -1;
	size_t i;

	memset(st, 0, sizeof(*st));
	if (raw == NULL || md == NULL || zd == NULL ||
	    EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		goto out;
	}
	snprintf(num, sizeof(num), "%llu", (unsigned long long)rev);
	if ((path = cli_api_path("projects", project, "revisions", num, "manifest", NULL)) ==
	    NULL) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		goto out;
	}
	if (ebranch != NULL) {
		char *full;

		if (asprintf(&full, "%s?branch=%s", path, ebranch) == -1) {
			atr_err_set(err, ATR_E_NOMEM, NULL);
			goto out;
		}
		free(path);
		path = full;
	}
	if (cli_http_call(h, "GET", path, NULL, 200, &rep, err) == -1) {
		if (no_protocol(&rep))
			rc = CLI_DELTA_FALLBACK;
		goto out;
	}
	chunks = json_object_get(rep.json, "chunks");
	if (!json_is_array(chunks) || json_integer_value(json_object_get(rep.json, "size")) !=
	    (json_int_t)size) {
		atr_err_set(err, ATR_E_NETWORK, "the server's chunk list of revision %s is "
		    "incomplete", num);
		goto out;
	}
	st->chunks = json_array_size(chunks);
	/* The chunks the file already there holds. Without one, or when most
	 * of the content must be fetched anyway, one whole download costs one
	 * round trip where chunks cost one each: fall back to it. */
	if (have == NULL || (hfd = open(have, O_RDONLY | O_CLOEXEC)) == -1) {
		rc = CLI_DELTA_FALLBACK;
		goto out;
	}
	if (chunk_file(hfd, &local, NULL, err) == -1)
		goto out;
	qsort(local.v, local.n, sizeof(*local.v), cmp_have);
	{
		uint64_t fetch = 0;
		json_array_foreach(chunks, i, v) {
			struct ref key;
			const char *sha = json_string_value(json_object_get(v, "sha256"));
			if (sha == NULL || strlen(sha) != 64)
				continue;
			memcpy(key.sha, sha, 65);
			if (local.n == 0 || bsearch(&key, local.v, local.n, sizeof(*local.v),
			    cmp_have) == NULL)
				fetch += (uint64_t)json_integer_value(json_object_get(v, "size"));
		}
		if (fetch > size / 2) {
			rc = CLI_DELTA_FALLBACK;
			goto out;
		}
	}
	json_array_foreach(chunks, i, v) {
		const char *sha = json_string_value(json_object_get(v, "sha256"));
		json_int_t sz = json_integer_value(json_object_get(v, "size"));
		struct ref key, *r = NULL;

		if (sha == NULL || strlen(sha) != 64 || sz < 1 || sz > ATR_CHUNK_MAX_DEFAULT) {
			atr_err_set(err, ATR_E_NETWORK, "the server's chunk list is malformed");
			goto out;
		}
		memcpy(key.sha, sha, 65);
		if (local.n > 0)
			r = bsearch(&key, local.v, local.n, sizeof(*local.v), cmp_have);
		if (r != NULL && r->size == (uint32_t)sz && read_exact(hfd, raw, r->size, r->off) == 0) {
			/* the chunker hashed it: the same bytes */
		} else if (get_chunk(h, project, sha, (uint32_t)sz, raw, zd, st, err) == -1) {
			goto out;
		}
		if (write_all(outfd, raw, (size_t)sz) == -1) {
			atr_err_set(err, ATR_E_IO, "cannot write the checkout: %s", strerror(errno));
			goto out;
		}
		if (EVP_DigestUpdate(md, raw, (size_t)sz) != 1) {
			atr_err_set(err, ATR_E_NOMEM, NULL);
			goto out;
		}
		done += (uint64_t)sz;
		cli_progress_update(pg, done);
	}
	if (EVP_DigestFinal_ex(md, d, &dn) != 1) {
		atr_err_set(err, ATR_E_NOMEM, NULL);
		goto out;
	}
	atr_hex(d, 32, got);
	if (done != size || strcmp(got, want) != 0) {
		atr_err_set(err, ATR_E_NETWORK, "the checkout by chunks of revision %s does not "
		    "hash to the revision's SHA-256; try again with --whole", num);
		goto out;
	}
	rc = 0;
out:
	if (hfd != -1)
		close(hfd);
	cli_reply_clear(&rep);
	free(local.v);
	free(path);
	free(raw);
	ZSTD_freeDCtx(zd);
	EVP_MD_CTX_free(md);
	return rc;
}

/* Ctrl-C ends either cleanly (no half file, no half revision) at any step. */
int
cli_delta_commit(struct cli_http *h, const char *commit_path, int fd, uint64_t size,
    struct cli_progress *pg, char sha256[65], struct cli_reply *rep,
    struct cli_delta_stats *st, struct atr_err *err)
{
	int rc;

	cli_http_interruptible(1);
	rc = delta_commit(h, commit_path, fd, size, pg, sha256, rep, st, err);
	cli_http_interruptible(0);
	return rc;
}

int
cli_delta_checkout(struct cli_http *h, const char *project, const char *ebranch, uint64_t rev,
    uint64_t size, const char *want, const char *have, int outfd, struct cli_progress *pg,
    struct cli_delta_stats *st, struct atr_err *err)
{
	int rc;

	cli_http_interruptible(1);
	rc = delta_checkout(h, project, ebranch, rev, size, want, have, outfd, pg, st, err);
	cli_http_interruptible(0);
	return rc;
}
