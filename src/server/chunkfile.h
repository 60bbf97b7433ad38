/*
 * The stored form of one chunk of content (docs/delta.md): a 12-byte
 * header, then the chunk's bytes, zstd-compressed when that saves at
 * least an eighth of them.
 *
 *   "ATRC"  magic (4 bytes)
 *   1       format version (1 byte)
 *   0 | 1   payload: raw | one zstd frame (1 byte)
 *   0 0     reserved (2 bytes)
 *   N       the raw length, little-endian (4 bytes)
 *
 * The file is named by the SHA-256 of the raw bytes, which every reader
 * checks (chunkfile_decode()): a damaged file is an error, never wrong
 * bytes.
 */
#ifndef ATRIUM_SERVER_CHUNKFILE_H
#define ATRIUM_SERVER_CHUNKFILE_H

#include <stddef.h>

#include "atrium/err.h"

#define CHUNK_RAW_MAX (256u * 1024u)  /* the chunker's max (chunker.h's default) */
#define CHUNKFILE_HEADER 12
#define CHUNKFILE_MAX (CHUNKFILE_HEADER + CHUNK_RAW_MAX + 1024)

/* Hex SHA-256 of buf into out (65 bytes). -1 when hashing fails. */
int chunk_sha256_hex(const void *buf, size_t len, char out[65]);

/*
 * The file image for the raw chunk raw[0..len): *img malloc'ed (the
 * caller's). zdata/zlen, when not NULL, is a zstd frame of the same bytes
 * already at hand (the client sent it): used instead of compressing again
 * when it is smaller. Otherwise compresses with zstd level 3 and keeps the
 * raw bytes when that saves less than an eighth.
 */
int chunkfile_encode(const void *raw, size_t len, const void *zdata, size_t zlen,
    unsigned char **img, size_t *imglen, struct atr_err *err);

/*
 * Checks an image and gives its payload: *zstd 1 for a zstd frame, 0 for
 * raw bytes, *rawlen the raw length. Does not verify the hash. -1
 * (ATR_E_IO) when the header is wrong.
 */
int chunkfile_payload(const unsigned char *img, size_t n, int *zstd, const unsigned char **p,
    size_t *plen, size_t *rawlen, struct atr_err *err);

/*
 * Decompresses a zstd frame of at most cap raw bytes into out. Returns
 * the raw length, or -1 (ATR_E_BAD_REQUEST) when it is not one frame or
 * is larger than cap.
 */
long chunk_unzstd(const void *z, size_t zlen, void *out, size_t cap, struct atr_err *err);

/*
 * The raw bytes of an image into out (cap bytes), verified against sha256
 * (hex): -1 with ATR_E_IO when the image is damaged or its bytes do not
 * hash to sha256. *rawlen gets the length.
 */
int chunkfile_decode(const unsigned char *img, size_t n, const char *sha256, unsigned char *out,
    size_t cap, size_t *rawlen, struct atr_err *err);

/*
 * Reads the file at path (at most CHUNKFILE_MAX bytes) into buf (that
 * size). Returns its length, or -1 with ATR_E_NOT_FOUND when it is
 * missing, ATR_E_IO otherwise.
 */
long chunkfile_read(const char *path, unsigned char *buf, struct atr_err *err);

#endif
