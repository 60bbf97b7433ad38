/*
 * FastCDC content-defined chunking with SHA-256 per chunk (chunker.h).
 *
 * The chunker copies the bytes of the chunk it is in into its own buffer
 * (at most max bytes), so a caller may feed pieces of any size and still
 * get each chunk whole, and so the SHA-256 is taken once per chunk over
 * memory that is still in cache. The gear hash restarts at 0 at the
 * start of every chunk and only bytes from min on are hashed: the cut
 * points then depend on the chunk's start and the bytes after it alone,
 * never on how the stream was split into pieces.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "atrium/chunker.h"

/* "Atrium01": changing it changes every boundary (ATR_CHUNKER_VERSION). */
#define GEAR_SEED 0x41747269756d3031ULL
/*
 * Normalized chunking level: the mask before avg has log2(avg) + NC_LEVEL
 * bits, the one after it log2(avg) - NC_LEVEL. Level 2 (the paper's
 * choice) cuts sizes tighter but re-synchronises later after an edit of a
 * few KiB (docs/delta.md has the measurements); level 1 keeps both good.
 */
#define NC_LEVEL 1

struct atr_chunker {
	uint64_t gear[256];   /* the gear table, from GEAR_SEED */
	size_t min, avg, max; /* chunk sizes in force */
	uint64_t mask_s;      /* before avg: log2(avg) + NC_LEVEL top bits */
	uint64_t mask_l;      /* from avg on: log2(avg) - NC_LEVEL top bits */
	unsigned char *buf;   /* the current chunk's bytes, max of them */
	size_t have;          /* bytes of the current chunk so far */
	uint64_t fp;          /* gear hash over the current chunk */
	uint64_t offset;      /* stream offset of the current chunk */
	int emitted;          /* the current chunk was handed out: start anew */
	int ended;            /* atr_chunker_final() was called */
	EVP_MD *md;           /* SHA-256, fetched once */
	EVP_MD_CTX *mdctx;
	char err[160];        /* the last error, "" if none */
};

/* splitmix64 (Steele, Lea, Flood 2014): fully specified, so every machine
 * computes the same table. */
static uint64_t
splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void
set_error(struct atr_chunker *c, const char *what)
{
	unsigned long e = ERR_get_error();
	char ossl[120] = "";

	if (e != 0)
		ERR_error_string_n(e, ossl, sizeof(ossl));
	ERR_clear_error();
	snprintf(c->err, sizeof(c->err), "%s%s%s", what, ossl[0] ? ": " : "", ossl);
}

static unsigned
log2_exact(size_t v)
{
	unsigned b = 0;

	while (((size_t)1 << b) < v)
		b++;
	return b;
}

/* The top `bits` bits of a 64-bit word: those depend on the last 64 bytes
 * hashed, where the low bits depend only on the last few. */
static uint64_t
top_mask(unsigned bits)
{
	return bits == 0 ? 0 : ~0ULL << (64 - bits);
}

static void
apply_sizes(struct atr_chunker *c, size_t min, size_t avg, size_t max)
{
	unsigned bits = log2_exact(avg);

	c->min = min;
	c->avg = avg;
	c->max = max;
	c->mask_s = top_mask(bits + NC_LEVEL);
	c->mask_l = top_mask(bits - NC_LEVEL);
}

struct atr_chunker *
atr_chunker_new(void)
{
	struct atr_chunker *c = calloc(1, sizeof(*c));
	uint64_t state = GEAR_SEED;

	if (c == NULL)
		return NULL;
	for (size_t i = 0; i < 256; i++)
		c->gear[i] = splitmix64(&state);
	apply_sizes(c, ATR_CHUNK_MIN_DEFAULT, ATR_CHUNK_AVG_DEFAULT, ATR_CHUNK_MAX_DEFAULT);
	ERR_clear_error();
	if ((c->buf = malloc(c->max)) == NULL ||
	    (c->md = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL ||
	    (c->mdctx = EVP_MD_CTX_new()) == NULL) {
		ERR_clear_error();
		atr_chunker_free(c);
		return NULL;
	}
	return c;
}

int
atr_chunker_set_sizes(struct atr_chunker *c, size_t min, size_t avg, size_t max)
{
	unsigned char *nb;

	if (c->have > 0 || c->offset > 0 || c->ended) {
		snprintf(c->err, sizeof(c->err),
		    "chunk sizes can change only at the start of a stream");
		return -1;
	}
	if (min < ATR_CHUNK_SIZE_LOWEST || max > ATR_CHUNK_SIZE_HIGHEST || !(min < avg) ||
	    !(avg < max) || (avg & (avg - 1)) != 0) {
		snprintf(c->err, sizeof(c->err),
		    "chunk sizes %zu/%zu/%zu: want %u <= min < avg < max <= %u, avg a power of two",
		    min, avg, max, ATR_CHUNK_SIZE_LOWEST, ATR_CHUNK_SIZE_HIGHEST);
		return -1;
	}
	if (max != c->max) {
		if ((nb = malloc(max)) == NULL) {
			snprintf(c->err, sizeof(c->err), "out of memory for a %zu-byte chunk", max);
			return -1;
		}
		free(c->buf);
		c->buf = nb;
	}
	apply_sizes(c, min, avg, max);
	c->emitted = 0;
	c->err[0] = '\0';
	return 0;
}

/*
 * Where the current chunk ends within p[0..n): the number of bytes of p
 * that belong to it, and *cut set when its boundary is among them. Updates
 * c->fp; c->have is the chunk's length before p.
 */
static size_t
scan(struct atr_chunker *c, const unsigned char *p, size_t n, int *cut)
{
	size_t have = c->have, i = 0;
	uint64_t fp = c->fp;
	const uint64_t *gear = c->gear;

	*cut = 0;
	/* The first min bytes are never a boundary and are not hashed. */
	if (have < c->min) {
		size_t skip = c->min - have;
		if (skip >= n)
			return n;
		i = skip;
		have += skip;
	}
	for (; i < n && have < c->avg; i++, have++) {
		fp = (fp << 1) + gear[p[i]];
		if ((fp & c->mask_s) == 0) {
			*cut = 1;
			c->fp = fp;
			return i + 1;
		}
	}
	for (; i < n; i++, have++) {
		if (have + 1 >= c->max) {
			*cut = 1;
			c->fp = fp;
			return i + 1;
		}
		fp = (fp << 1) + gear[p[i]];
		if ((fp & c->mask_l) == 0) {
			*cut = 1;
			c->fp = fp;
			return i + 1;
		}
	}
	c->fp = fp;
	return n;
}

/* Hands out the current chunk (c->buf[0..have)) in *chunk. */
static int
emit(struct atr_chunker *c, struct atr_chunk *chunk)
{
	unsigned int hl = 0;

	ERR_clear_error();
	if (EVP_DigestInit_ex(c->mdctx, c->md, NULL) != 1 ||
	    EVP_DigestUpdate(c->mdctx, c->buf, c->have) != 1 ||
	    EVP_DigestFinal_ex(c->mdctx, chunk->hash, &hl) != 1 || hl != ATR_CHUNK_HASH_LEN) {
		set_error(c, "SHA-256 of a chunk failed");
		return -1;
	}
	chunk->offset = c->offset;
	chunk->len = c->have;
	chunk->data = c->buf;
	c->emitted = 1;
	return 1;
}

/* After a chunk was handed out, the next one starts where it ended. */
static void
advance(struct atr_chunker *c)
{
	if (!c->emitted)
		return;
	c->offset += c->have;
	c->have = 0;
	c->fp = 0;
	c->emitted = 0;
}

int
atr_chunker_update(struct atr_chunker *c, const void *buf, size_t len, size_t *used,
    struct atr_chunk *chunk)
{
	size_t n;
	int cut;

	*used = 0;
	memset(chunk, 0, sizeof(*chunk));
	if (c->ended) {
		snprintf(c->err, sizeof(c->err), "the stream has ended; reset the chunker first");
		return -1;
	}
	advance(c);
	if (len == 0)
		return 0;
	n = scan(c, buf, len, &cut);
	memcpy(c->buf + c->have, buf, n);
	c->have += n;
	*used = n;
	if (!cut)
		return 0;
	return emit(c, chunk);
}

int
atr_chunker_final(struct atr_chunker *c, struct atr_chunk *chunk)
{
	memset(chunk, 0, sizeof(*chunk));
	if (c->ended) {
		snprintf(c->err, sizeof(c->err), "the stream has ended; reset the chunker first");
		return -1;
	}
	advance(c);
	c->ended = 1;
	if (c->have == 0)
		return 0;
	return emit(c, chunk);
}

void
atr_chunker_reset(struct atr_chunker *c)
{
	c->have = 0;
	c->fp = 0;
	c->offset = 0;
	c->emitted = 0;
	c->ended = 0;
	c->err[0] = '\0';
}

void
atr_chunker_sizes(const struct atr_chunker *c, size_t *min, size_t *avg, size_t *max)
{
	if (min != NULL)
		*min = c->min;
	if (avg != NULL)
		*avg = c->avg;
	if (max != NULL)
		*max = c->max;
}

const char *
atr_chunker_error(const struct atr_chunker *c)
{
	return c->err;
}

void
atr_chunker_free(struct atr_chunker *c)
{
	if (c == NULL)
		return;
	EVP_MD_CTX_free(c->mdctx);
	EVP_MD_free(c->md);
	free(c->buf);
	free(c);
}
