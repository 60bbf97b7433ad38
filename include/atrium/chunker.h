/*
 * Content-defined chunking: cuts a byte stream into chunks whose
 * boundaries depend only on the bytes near them, so that an insertion or
 * a deletion moves the boundaries of the one or two chunks around it and
 * no others. Each chunk comes with its SHA-256. docs/delta.md says why
 * and with which parameters.
 *
 * The algorithm is FastCDC (Xia et al., USENIX ATC 2016): a gear hash
 * (h = (h << 1) + gear[byte], 64 bits, so a 64-byte window), no cut in
 * the first min bytes of a chunk, a harder mask (more bits) before the
 * average size and an easier one after it ("normalized chunking", level
 * 1), and a forced cut at max. The gear table comes from a fixed seed
 * (splitmix64), so boundaries are the same on every machine and in every
 * version that keeps ATR_CHUNKER_VERSION: a stored manifest is only
 * comparable with chunks cut by the same version and sizes.
 *
 * Streaming: feed the input in pieces of any size with
 * atr_chunker_update(); the boundaries and hashes do not depend on how the
 * input was split. Use:
 *
 *	struct atr_chunker *c = atr_chunker_new();
 *	struct atr_chunk ch;
 *	while ((n = read(fd, buf, sizeof(buf))) > 0) {
 *		size_t off = 0, used;
 *		while (off < n) {
 *			if (atr_chunker_update(c, buf + off, n - off, &used, &ch) == -1)
 *				fail(atr_chunker_error(c));
 *			off += used;
 *			if (ch.len > 0)
 *				take(&ch);     (ch.data is valid until the next call)
 *		}
 *	}
 *	if (atr_chunker_final(c, &ch) == 1)
 *		take(&ch);
 *	atr_chunker_free(c);
 */
#ifndef ATRIUM_CHUNKER_H
#define ATRIUM_CHUNKER_H

#include <stddef.h>
#include <stdint.h>

/* Changes whenever the same input could be cut differently. */
#define ATR_CHUNKER_VERSION 1

/* Defaults (docs/delta.md): 16 KiB / 64 KiB / 256 KiB. */
#define ATR_CHUNK_MIN_DEFAULT (16u * 1024u)
#define ATR_CHUNK_AVG_DEFAULT (64u * 1024u)
#define ATR_CHUNK_MAX_DEFAULT (256u * 1024u)
/* What atr_chunker_set_sizes() accepts. */
#define ATR_CHUNK_SIZE_LOWEST 64u
#define ATR_CHUNK_SIZE_HIGHEST (64u * 1024u * 1024u)

#define ATR_CHUNK_HASH_LEN 32 /* SHA-256 */

struct atr_chunker;

/* One chunk, filled by atr_chunker_update() and atr_chunker_final(). */
struct atr_chunk {
	uint64_t offset;                          /* from the start of the stream */
	size_t len;                               /* 0: no chunk ended */
	const unsigned char *data;                /* borrowed: the chunker's, valid
	                                             until its next call */
	unsigned char hash[ATR_CHUNK_HASH_LEN];   /* SHA-256 of the len bytes */
};

/*
 * A new chunker with the default sizes, at the start of a stream, or NULL
 * when memory or SHA-256 is not available. The caller frees it with
 * atr_chunker_free().
 */
struct atr_chunker *atr_chunker_new(void);

/*
 * Sets the minimum, average and maximum chunk sizes in bytes. Accepted:
 * avg a power of two, ATR_CHUNK_SIZE_LOWEST <= min < avg < max <=
 * ATR_CHUNK_SIZE_HIGHEST, and only at the start of a stream (after new,
 * final or reset). Otherwise returns -1, keeps the old sizes and says why
 * in atr_chunker_error().
 */
int atr_chunker_set_sizes(struct atr_chunker *c, size_t min, size_t avg, size_t max);

/*
 * Scans buf[0..len) from where the stream stands. Stops right after the
 * first chunk boundary it finds: then *chunk holds that chunk (offset,
 * len > 0, data, hash) and *used the bytes of buf consumed, which may be
 * fewer than len; call again with the rest. Otherwise *used is len and
 * chunk->len is 0. Returns 1 when a chunk ended, 0 when none did, -1 on
 * an error (after atr_chunker_final() without atr_chunker_reset(), or
 * SHA-256 failing), with the reason in atr_chunker_error().
 */
int atr_chunker_update(struct atr_chunker *c, const void *buf, size_t len, size_t *used,
    struct atr_chunk *chunk);

/*
 * Ends the stream: the bytes since the last boundary become the last
 * chunk. Returns 1 with it in *chunk, 0 when there were none (an empty
 * stream, or one that ended on a boundary; chunk->len is 0), -1 on an
 * error. Afterwards the chunker takes no input until atr_chunker_reset().
 */
int atr_chunker_final(struct atr_chunker *c, struct atr_chunk *chunk);

/* Starts a new stream at offset 0, keeping the sizes. */
void atr_chunker_reset(struct atr_chunker *c);

/* The sizes in force (any pointer may be NULL). */
void atr_chunker_sizes(const struct atr_chunker *c, size_t *min, size_t *avg, size_t *max);

/* Why the last call failed ("" when none did); owned by the chunker. */
const char *atr_chunker_error(const struct atr_chunker *c);

/* Frees the chunker and its buffer. NULL-safe. */
void atr_chunker_free(struct atr_chunker *c);

#endif
