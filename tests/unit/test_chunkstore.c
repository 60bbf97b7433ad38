/*
 * Chunked content in the embedded store: the chunk file form
 * (chunkfile.c: compressed when it pays, raw otherwise, every damage
 * caught by the hash), and the store calls (store.h "Chunked content"):
 * put and missing, a content recorded only when every chunk is there and
 * the bytes add up, a manifest read back as one stream at any offset,
 * chunks served only through a project's revision, a project's deletion
 * removing its own chunks and keeping shared ones.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atrium/config.h"
#include "atrium/util.h"
#include "server/chunkfile.h"
#include "server/store.h"

/* ---- the chunk file form */

static unsigned char *
text_bytes(size_t n, unsigned seed)
{
	unsigned char *p = malloc(n);
	static const char words[] = "<ownedElement xmi:id=\"_1\" name=\"Block\"/>\n";

	assert_non_null(p);
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)words[(i + seed) % (sizeof(words) - 1)];
	return p;
}

static unsigned char *
noise_bytes(size_t n, unsigned seed)
{
	unsigned char *p = malloc(n);
	uint64_t x = 0x9e3779b97f4a7c15ull ^ seed;

	assert_non_null(p);
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (unsigned char)x;
	}
	return p;
}

static void
roundtrip(const unsigned char *raw, size_t len, int expect_zstd)
{
	unsigned char *img, *out = malloc(CHUNK_RAW_MAX);
	const unsigned char *p;
	size_t n, plen, rawlen, got;
	char sha[65];
	struct atr_err err;
	int z;

	assert_int_equal(chunk_sha256_hex(raw, len, sha), 0);
	assert_int_equal(chunkfile_encode(raw, len, NULL, 0, &img, &n, &err), 0);
	assert_int_equal(chunkfile_payload(img, n, &z, &p, &plen, &rawlen, &err), 0);
	assert_int_equal(z, expect_zstd);
	assert_int_equal(rawlen, len);
	if (expect_zstd)
		assert_true(n < len);
	assert_int_equal(chunkfile_decode(img, n, sha, out, CHUNK_RAW_MAX, &got, &err), 0);
	assert_int_equal(got, len);
	assert_memory_equal(out, raw, len);
	/* Any byte flipped, in the header or the payload: an error, never bytes. */
	for (size_t i = 0; i < n; i += n / 37 + 1) {
		img[i] ^= 0x5a;
		assert_int_equal(chunkfile_decode(img, n, sha, out, CHUNK_RAW_MAX, &got, &err), -1);
		img[i] ^= 0x5a;
	}
	/* Cut short. */
	assert_int_equal(chunkfile_decode(img, n - 1, sha, out, CHUNK_RAW_MAX, &got, &err), -1);
	free(img);
	free(out);
}

static void
test_form(void **state)
{
	unsigned char *t = text_bytes(CHUNK_RAW_MAX, 3), *r = noise_bytes(70000, 5);
	unsigned char *img;
	size_t n;
	struct atr_err err;

	(void)state;
	roundtrip(t, CHUNK_RAW_MAX, 1); /* XML compresses: stored as zstd */
	roundtrip(t, 100, 1);
	roundtrip(r, 70000, 0);         /* noise does not: stored raw */
	roundtrip(r, 1, 0);
	assert_int_equal(chunkfile_encode(t, CHUNK_RAW_MAX + 1, NULL, 0, &img, &n, &err), -1);
	assert_int_equal(err.code, ATR_E_TOO_LARGE);
	free(t);
	free(r);
}

static void
test_unzstd_bounds(void **state)
{
	unsigned char *t = text_bytes(CHUNK_RAW_MAX, 1), *img, *out = malloc(CHUNK_RAW_MAX);
	const unsigned char *p;
	size_t n, plen, rawlen;
	struct atr_err err;
	int z;

	(void)state;
	assert_int_equal(chunkfile_encode(t, CHUNK_RAW_MAX, NULL, 0, &img, &n, &err), 0);
	assert_int_equal(chunkfile_payload(img, n, &z, &p, &plen, &rawlen, &err), 0);
	assert_int_equal(chunk_unzstd(p, plen, out, CHUNK_RAW_MAX, &err), CHUNK_RAW_MAX);
	/* A frame that would outgrow the buffer is refused, not written past it. */
	assert_int_equal(chunk_unzstd(p, plen, out, 1000, &err), -1);
	/* Not one frame: trailing bytes, or garbage. */
	assert_int_equal(chunk_unzstd(t, 64, out, CHUNK_RAW_MAX, &err), -1);
	free(img);
	free(t);
	free(out);
}

/* ---- the store */

struct fx {
	char dir[300];
	struct atr_config *cfg;
	struct store *st;
	struct store_conn *sc;
};

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct atr_err err;

	setenv("ATRIUM_CHUNK_GRACE", "0", 1);
	snprintf(f->dir, sizeof(f->dir), "%s/atrium-chunkstore-XXXXXX",
	    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	assert_non_null(mkdtemp(f->dir));
	assert_non_null(f->cfg = atr_config_new());
	assert_non_null(f->st = store_open(f->cfg, f->dir, &err));
	assert_non_null(f->sc = store_conn_open(f->st, &err));
	assert_int_equal(store_user_create(f->sc, "alice", "x", "admin", NULL, &err), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	store_conn_close(f->sc);
	store_close(f->st);
	atr_config_free(f->cfg);
	nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* Splits buf into pieces of the sizes given (0 ends), puts them, fills refs. */
static int
put_pieces(struct fx *f, const unsigned char *buf, const size_t *sizes,
    struct store_chunk_ref *refs)
{
	struct atr_err err;
	size_t off = 0;
	int n = 0;

	for (; sizes[n] != 0; n++) {
		assert_int_equal(chunk_sha256_hex(buf + off, sizes[n], refs[n].sha256), 0);
		refs[n].size = (uint32_t)sizes[n];
		assert_int_equal(store_chunk_put(f->sc, refs[n].sha256, buf + off, sizes[n], 0,
		    &err), 0);
		off += sizes[n];
	}
	return n;
}

static int
count_chunk_files(const struct fx *f)
{
	char cmd[1000];
	FILE *p;
	int n = -1;

	snprintf(cmd, sizeof(cmd), "find '%s/chunks' -path '%s/chunks/tmp' -prune -o -type f -print"
	    " | wc -l", f->dir, f->dir);
	assert_non_null(p = popen(cmd, "r"));
	assert_int_equal(fscanf(p, "%d", &n), 1);
	pclose(p);
	return n;
}

static void
test_content(void **state)
{
	struct fx *f = *state;
	static const size_t sizes[] = {70000, 1, 200000, 33333, 0};
	size_t total = 70000 + 1 + 200000 + 33333;
	unsigned char *buf = text_bytes(total, 7), *back = malloc(total);
	struct store_chunk_ref refs[8], *got = NULL;
	unsigned char missing[8];
	char sha[65], ask[2][65];
	struct store_blob_reader *rd;
	struct store_revision head;
	struct atr_err err;
	int n, created, cnt;

	assert_int_equal(chunk_sha256_hex(buf, total, sha), 0);
	/* Nothing there yet: all missing, and the content refused. */
	memset(refs, 0, sizeof(refs));
	assert_int_equal(chunk_sha256_hex(buf, 70000, ask[0]), 0);
	assert_int_equal(chunk_sha256_hex(buf + 70000, 1, ask[1]), 0);
	assert_int_equal(store_chunk_missing(f->sc, (const char (*)[65])ask, 2, missing, &err), 0);
	assert_true(missing[0] && missing[1]);
	/* A chunk that is not what its name says. */
	assert_int_equal(store_chunk_put(f->sc, ask[1], buf, 70000, 0, &err), -1);
	assert_int_equal(err.code, ATR_E_BAD_REQUEST);

	n = put_pieces(f, buf, sizes, refs);
	assert_int_equal(store_chunk_missing(f->sc, (const char (*)[65])ask, 2, missing, &err), 0);
	assert_false(missing[0] || missing[1]);
	/* Wrong total size, wrong whole hash: refused. */
	assert_int_equal(store_content_create(f->sc, sha, (int64_t)total + 1, refs, n, missing,
	    &created, &err), -1);
	assert_int_equal(err.code, ATR_E_BAD_REQUEST);
	assert_int_equal(store_content_create(f->sc, ask[0], (int64_t)total, refs, n, missing,
	    &created, &err), -1);
	assert_int_equal(err.code, ATR_E_BAD_REQUEST);
	/* A chunk left out of the store: named as missing. */
	{
		struct store_chunk_ref extra[8];
		memcpy(extra, refs, sizeof(refs));
		memcpy(extra[n].sha256, ask[0], 65);
		extra[n].sha256[0] = extra[n].sha256[0] == 'a' ? 'b' : 'a';
		extra[n].size = 1;
		assert_int_equal(store_content_create(f->sc, sha, (int64_t)total + 1, extra, n + 1,
		    missing, &created, &err), -1);
		assert_int_equal(err.code, ATR_E_CHUNKS_MISSING);
		assert_int_equal(missing[n], 1);
		assert_int_equal(missing[0], 0);
	}
	assert_int_equal(store_content_create(f->sc, sha, (int64_t)total, refs, n, missing,
	    &created, &err), 0);
	assert_int_equal(created, 1);
	assert_int_equal(store_content_create(f->sc, sha, (int64_t)total, refs, n, missing,
	    &created, &err), 0);
	assert_int_equal(created, 0);
	assert_int_equal(store_content_manifest(f->sc, sha, &got, &cnt, &err), 0);
	assert_int_equal(cnt, n);
	assert_string_equal(got[2].sha256, refs[2].sha256);
	assert_int_equal(got[2].size, 200000);
	free(got);

	/* A revision of it reads back as one stream, from any offset. */
	assert_int_equal(store_project_create(f->sc, "p", "", "alice", 1, &err), 0);
	assert_int_equal(store_revision_commit(f->sc, "p", 0, "alice", "m", 1, (int64_t)total, sha,
	    &head, &err), 0);
	assert_non_null(rd = store_blob_reader_open(f->sc, sha, (int64_t)total, &err));
	assert_int_equal(store_blob_reader_fd(rd), -1);
	for (size_t off = 0; off < total;) {
		size_t want = 4093 + off % 50000;
		int64_t r = store_blob_read(rd, f->sc, back + off, want, (int64_t)off, &err);
		assert_true(r > 0);
		off += (size_t)r;
	}
	assert_memory_equal(back, buf, total);
	assert_int_equal(store_blob_read(rd, f->sc, back, 10, (int64_t)total, &err), 0);
	store_blob_reader_close(rd);
	/* The wrong size is refused at open. */
	assert_null(store_blob_reader_open(f->sc, sha, (int64_t)total - 1, &err));

	/* Served through the project only. */
	{
		unsigned char *data;
		size_t len;
		int z;
		assert_int_equal(store_project_create(f->sc, "q", "", "alice", 1, &err), 0);
		assert_int_equal(store_chunk_get(f->sc, "p", refs[0].sha256, 1, &data, &len, &z,
		    &err), 0);
		assert_int_equal(z, 1);
		free(data);
		assert_int_equal(store_chunk_get(f->sc, "p", refs[0].sha256, 0, &data, &len, &z,
		    &err), 0);
		assert_int_equal(z, 0);
		assert_int_equal(len, 70000);
		assert_memory_equal(data, buf, 70000);
		free(data);
		assert_int_equal(store_chunk_get(f->sc, "q", refs[0].sha256, 0, &data, &len, &z,
		    &err), -1);
		assert_int_equal(err.code, ATR_E_NOT_FOUND);
	}
	free(buf);
	free(back);
}

static void
test_collect(void **state)
{
	struct fx *f = *state;
	static const size_t a_sizes[] = {50000, 60000, 0}, b_sizes[] = {50000, 0};
	unsigned char *a = text_bytes(110000, 11), *solo = noise_bytes(30000, 1);
	struct store_chunk_ref ra[4], rb[4];
	char sha_a[65], sha_b[65];
	struct store_revision head;
	struct store_blob_reader *rd;
	unsigned char missing[4];
	struct atr_err err;
	int na, nb, created;

	/* a: two chunks; b: the first of them plus one of its own. */
	na = put_pieces(f, a, a_sizes, ra);
	unsigned char *b = malloc(80000);
	memcpy(b, a, 50000);
	memcpy(b + 50000, solo, 30000);
	nb = put_pieces(f, b, b_sizes, rb);
	assert_int_equal(chunk_sha256_hex(b + 50000, 30000, rb[nb].sha256), 0);
	rb[nb].size = 30000;
	assert_int_equal(store_chunk_put(f->sc, rb[nb].sha256, b + 50000, 30000, 0, &err), 0);
	nb++;
	assert_int_equal(chunk_sha256_hex(a, 110000, sha_a), 0);
	assert_int_equal(chunk_sha256_hex(b, 80000, sha_b), 0);
	assert_int_equal(store_content_create(f->sc, sha_a, 110000, ra, na, missing, &created,
	    &err), 0);
	assert_int_equal(store_content_create(f->sc, sha_b, 80000, rb, nb, missing, &created,
	    &err), 0);
	assert_int_equal(store_project_create(f->sc, "a", "", "alice", 1, &err), 0);
	assert_int_equal(store_project_create(f->sc, "b", "", "alice", 1, &err), 0);
	assert_int_equal(store_revision_commit(f->sc, "a", 0, "alice", "m", 1, 110000, sha_a,
	    &head, &err), 0);
	assert_int_equal(store_revision_commit(f->sc, "b", 0, "alice", "m", 1, 80000, sha_b, &head,
	    &err), 0);
	assert_int_equal(count_chunk_files(f), 3);
	/* b goes: its own chunk with it, the shared one stays. */
	assert_int_equal(store_project_delete(f->sc, "b", "alice", &err), 0);
	assert_int_equal(count_chunk_files(f), 2);
	assert_int_equal(store_content_hold(f->sc, sha_b, NULL, &err), -1);
	assert_int_equal(err.code, ATR_E_NOT_FOUND);
	assert_non_null(rd = store_blob_reader_open(f->sc, sha_a, 110000, &err));
	store_blob_reader_close(rd);
	assert_int_equal(store_project_delete(f->sc, "a", "alice", &err), 0);
	assert_int_equal(count_chunk_files(f), 0);
	free(a);
	free(b);
	free(solo);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_form),
		cmocka_unit_test(test_unzstd_bounds),
		cmocka_unit_test_setup_teardown(test_content, setup, teardown),
		cmocka_unit_test_setup_teardown(test_collect, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
