/*
 * bench/chunkbench: the chunked store of issue 20, simulated, for
 * bench/chunking.sh.
 *
 *   chunkbench store MIN AVG MAX ZLEVEL FILE...
 *	Chunks each file in turn (revisions of one model) with the library's
 *	chunker and keeps a set of the chunk hashes seen so far, as a
 *	deduplicating store would. Per file, one TSV line: bytes, chunks,
 *	new chunks, their raw and zstd bytes (each new chunk compressed on its
 *	own at ZLEVEL), the manifest's bytes (36 per chunk: hash + length),
 *	the CPU seconds of chunking + SHA-256 and of zstd. Files are read
 *	whole into memory first: reading is not timed.
 *
 *   chunkbench resync MIN AVG MAX FILE
 *	Edits the first 16 MiB of FILE in memory at 200 random places per edit size (insertions
 *	and deletions) and prints how many chunks each edit made new: mean and
 *	a histogram (0, 1, 2, ... 7+).
 *
 * Built by bench/chunking.sh against build/libatrium.a and libzstd.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zstd.h>

#include "atrium/chunker.h"

struct hset {
	unsigned char (*v)[ATR_CHUNK_HASH_LEN];
	unsigned char *used;
	size_t n, cap;
};

static void
die(const char *what)
{
	fprintf(stderr, "chunkbench: %s\n", what);
	exit(1);
}

static size_t
slot(const struct hset *s, const unsigned char *h)
{
	uint64_t k;

	memcpy(&k, h, sizeof(k));
	return (size_t)(k & (s->cap - 1));
}

/* Adds h; returns 1 when it was new. */
static int
hset_add(struct hset *s, const unsigned char *h)
{
	size_t i;

	if (2 * (s->n + 1) > s->cap) {
		struct hset b = {0};
		b.cap = s->cap ? 2 * s->cap : 1024;
		b.v = malloc(b.cap * ATR_CHUNK_HASH_LEN);
		b.used = calloc(b.cap, 1);
		if (b.v == NULL || b.used == NULL)
			die("out of memory");
		for (i = 0; i < s->cap; i++)
			if (s->used[i])
				hset_add(&b, s->v[i]);
		free(s->v);
		free(s->used);
		*s = b;
	}
	for (i = slot(s, h); s->used[i]; i = (i + 1) & (s->cap - 1))
		if (memcmp(s->v[i], h, ATR_CHUNK_HASH_LEN) == 0)
			return 0;
	s->used[i] = 1;
	memcpy(s->v[i], h, ATR_CHUNK_HASH_LEN);
	s->n++;
	return 1;
}

static int
hset_has(const struct hset *s, const unsigned char *h)
{
	for (size_t i = slot(s, h); s->used[i]; i = (i + 1) & (s->cap - 1))
		if (memcmp(s->v[i], h, ATR_CHUNK_HASH_LEN) == 0)
			return 1;
	return 0;
}

static double
cpu_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static unsigned char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *b;
	long n;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0)
		die(path);
	b = malloc((size_t)n + 1);
	if (b == NULL || fread(b, 1, (size_t)n, f) != (size_t)n)
		die(path);
	fclose(f);
	*len = (size_t)n;
	return b;
}

static struct atr_chunker *
chunker(size_t min, size_t avg, size_t max)
{
	struct atr_chunker *c = atr_chunker_new();

	if (c == NULL)
		die("atr_chunker_new failed");
	if (atr_chunker_set_sizes(c, min, avg, max) == -1)
		die(atr_chunker_error(c));
	return c;
}

/* Calls fn for every chunk of buf[0..len). */
static void
each_chunk(struct atr_chunker *c, const unsigned char *buf, size_t len,
    void (*fn)(const struct atr_chunk *, void *), void *arg)
{
	struct atr_chunk ch;
	size_t off = 0, used;
	int r;

	atr_chunker_reset(c);
	while (off < len) {
		if ((r = atr_chunker_update(c, buf + off, len - off, &used, &ch)) == -1)
			die(atr_chunker_error(c));
		off += used;
		if (r == 1)
			fn(&ch, arg);
	}
	if ((r = atr_chunker_final(c, &ch)) == -1)
		die(atr_chunker_error(c));
	if (r == 1)
		fn(&ch, arg);
}

struct list {
	struct atr_chunk *v;
	size_t n, cap;
};

static void
list_add(const struct atr_chunk *ch, void *arg)
{
	struct list *l = arg;

	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 4096;
		if ((l->v = realloc(l->v, l->cap * sizeof(*l->v))) == NULL)
			die("out of memory");
	}
	l->v[l->n] = *ch;
	l->v[l->n].data = NULL; /* borrowed: gone after the next call */
	l->n++;
}

static int
cmd_store(int argc, char **argv)
{
	size_t min, avg, max;
	int level;
	struct atr_chunker *c;
	struct hset seen = {0};
	ZSTD_CCtx *z = ZSTD_createCCtx();
	size_t zcap;
	unsigned char *zbuf;

	if (argc < 6)
		die("usage: chunkbench store MIN AVG MAX ZLEVEL FILE...");
	min = strtoul(argv[1], NULL, 10);
	avg = strtoul(argv[2], NULL, 10);
	max = strtoul(argv[3], NULL, 10);
	level = atoi(argv[4]);
	c = chunker(min, avg, max);
	zcap = ZSTD_compressBound(max);
	if (z == NULL || (zbuf = malloc(zcap)) == NULL)
		die("out of memory");
	printf("file\tbytes\tchunks\tnew_chunks\tnew_raw\tnew_zstd\tmanifest\tchunk_cpu_s\tzstd_cpu_s\n");
	for (int i = 5; i < argc; i++) {
		size_t len, new_n = 0, new_raw = 0, new_z = 0;
		unsigned char *buf = slurp(argv[i], &len);
		struct list l = {0};
		double t0 = cpu_now(), t1, t2;
		each_chunk(c, buf, len, list_add, &l);
		t1 = cpu_now();
		for (size_t k = 0; k < l.n; k++) {
			size_t zn;
			if (!hset_add(&seen, l.v[k].hash))
				continue;
			zn = ZSTD_compressCCtx(z, zbuf, zcap, buf + l.v[k].offset, l.v[k].len, level);
			if (ZSTD_isError(zn))
				die(ZSTD_getErrorName(zn));
			new_n++;
			new_raw += l.v[k].len;
			new_z += zn;
		}
		t2 = cpu_now();
		printf("%s\t%zu\t%zu\t%zu\t%zu\t%zu\t%zu\t%.4f\t%.4f\n", argv[i], len, l.n, new_n,
		    new_raw, new_z, l.n * (ATR_CHUNK_HASH_LEN + 4), t1 - t0, t2 - t1);
		fflush(stdout);
		free(l.v);
		free(buf);
	}
	free(zbuf);
	ZSTD_freeCCtx(z);
	free(seen.v);
	free(seen.used);
	atr_chunker_free(c);
	return 0;
}

static uint64_t
rng(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dULL;
}

static void
set_add(const struct atr_chunk *ch, void *arg)
{
	hset_add(arg, ch->hash);
}

struct fresh {
	const struct hset *base;
	size_t n;
};

static void
count_fresh(const struct atr_chunk *ch, void *arg)
{
	struct fresh *f = arg;

	f->n += !hset_has(f->base, ch->hash);
}

static int
cmd_resync(int argc, char **argv)
{
	static const long edits[] = {1, 100, 1000, 3000, 5000, 20000, -1, -300, -3000, -8192};
	size_t min, avg, max, len;
	unsigned char *in, *ed;
	struct atr_chunker *c;
	struct hset base = {0};
	uint64_t s = 5;

	if (argc != 5)
		die("usage: chunkbench resync MIN AVG MAX FILE");
	min = strtoul(argv[1], NULL, 10);
	avg = strtoul(argv[2], NULL, 10);
	max = strtoul(argv[3], NULL, 10);
	c = chunker(min, avg, max);
	in = slurp(argv[4], &len);
	if (len > ((size_t)16 << 20))
		len = (size_t)16 << 20;
	if (len < 100000 || (ed = malloc(len + 20000)) == NULL)
		die("the file is too small, or out of memory");
	each_chunk(c, in, len, set_add, &base);
	printf("edit_bytes\tmean_new_chunks\thist_0..7+\n");
	for (size_t k = 0; k < sizeof(edits) / sizeof(edits[0]); k++) {
		int hist[8] = {0};
		size_t total = 0;
		for (int t = 0; t < 200; t++) {
			size_t at = (size_t)(rng(&s) % (len - 20000)), elen;
			struct fresh f = {&base, 0};
			if (edits[k] > 0) {
				/* inserted bytes: a copy of some other part of the file */
				size_t from = (size_t)(rng(&s) % (len - 20000)), d = (size_t)edits[k];
				memcpy(ed, in, at);
				memcpy(ed + at, in + from, d);
				memcpy(ed + at + d, in + at, len - at);
				elen = len + d;
			} else {
				size_t d = (size_t)-edits[k];
				memcpy(ed, in, at);
				memcpy(ed + at, in + at + d, len - at - d);
				elen = len - d;
			}
			each_chunk(c, ed, elen, count_fresh, &f);
			hist[f.n > 7 ? 7 : f.n]++;
			total += f.n;
		}
		printf("%ld\t%.2f\t", edits[k], (double)total / 200);
		for (int i = 0; i < 8; i++)
			printf("%d%s", hist[i], i < 7 ? " " : "\n");
		fflush(stdout);
	}
	free(ed);
	free(in);
	free(base.v);
	free(base.used);
	atr_chunker_free(c);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "store") == 0)
		return cmd_store(argc - 1, argv + 1);
	if (argc > 1 && strcmp(argv[1], "resync") == 0)
		return cmd_resync(argc - 1, argv + 1);
	die("usage: chunkbench store MIN AVG MAX ZLEVEL FILE... | resync MIN AVG MAX FILE");
	return 2;
}
