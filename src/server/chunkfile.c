/* The stored form of a chunk (chunkfile.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <zstd.h>

#include "atrium/util.h"
#include "server/chunkfile.h"

static const unsigned char magic[4] = {'A', 'T', 'R', 'C'};

int
chunk_sha256_hex(const void *buf, size_t len, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (EVP_Digest(buf, len, md, &n, EVP_sha256(), NULL) != 1 || n != 32)
		return -1;
	atr_hex(md, 32, out);
	return 0;
}

int
chunkfile_encode(const void *raw, size_t len, const void *zdata, size_t zlen,
    unsigned char **img, size_t *imglen, struct atr_err *err)
{
	size_t bound = ZSTD_compressBound(len), plen = len;
	unsigned char *out;
	int zstd = 0;

	if (len > CHUNK_RAW_MAX)
		return atr_err_set(err, ATR_E_TOO_LARGE, "a chunk has at most %u bytes",
		    CHUNK_RAW_MAX);
	if ((out = malloc(CHUNKFILE_HEADER + (bound > len ? bound : len))) == NULL)
		return atr_err_set(err, ATR_E_NOMEM, NULL);
	if (zdata != NULL && zlen < len - len / 8) {
		memcpy(out + CHUNKFILE_HEADER, zdata, zlen);
		plen = zlen;
		zstd = 1;
	} else if (zdata == NULL && len > 0) {
		size_t z = ZSTD_compress(out + CHUNKFILE_HEADER, bound, raw, len, 3);
		if (!ZSTD_isError(z) && z < len - len / 8) {
			plen = z;
			zstd = 1;
		}
	}
	if (!zstd)
		memcpy(out + CHUNKFILE_HEADER, raw, len);
	memcpy(out, magic, 4);
	out[4] = 1;
	out[5] = (unsigned char)zstd;
	out[6] = out[7] = 0;
	for (int i = 0; i < 4; i++)
		out[8 + i] = (unsigned char)((uint32_t)len >> (8 * i));
	*img = out;
	*imglen = CHUNKFILE_HEADER + plen;
	return 0;
}

int
chunkfile_payload(const unsigned char *img, size_t n, int *zstd, const unsigned char **p,
    size_t *plen, size_t *rawlen, struct atr_err *err)
{
	uint32_t len = 0;

	if (n < CHUNKFILE_HEADER || memcmp(img, magic, 4) != 0 || img[4] != 1 || img[5] > 1 ||
	    img[6] != 0 || img[7] != 0)
		return atr_err_set(err, ATR_E_IO, "not a chunk file (bad header)");
	for (int i = 0; i < 4; i++)
		len |= (uint32_t)img[8 + i] << (8 * i);
	if (len > CHUNK_RAW_MAX || (img[5] == 0 && n - CHUNKFILE_HEADER != len))
		return atr_err_set(err, ATR_E_IO, "the chunk file's length is wrong");
	*zstd = img[5];
	*p = img + CHUNKFILE_HEADER;
	*plen = n - CHUNKFILE_HEADER;
	*rawlen = len;
	return 0;
}

long
chunk_unzstd(const void *z, size_t zlen, void *out, size_t cap, struct atr_err *err)
{
	unsigned long long want = ZSTD_getFrameContentSize(z, zlen);
	size_t got;

	if (want == ZSTD_CONTENTSIZE_ERROR || ZSTD_findFrameCompressedSize(z, zlen) != zlen)
		return atr_err_set(err, ATR_E_BAD_REQUEST, "the chunk is not one zstd frame");
	if (want != ZSTD_CONTENTSIZE_UNKNOWN && want > cap)
		return atr_err_set(err, ATR_E_TOO_LARGE, "the chunk is larger than %zu bytes",
		    cap);
	got = ZSTD_decompress(out, cap, z, zlen);
	if (ZSTD_isError(got))
		return atr_err_set(err, ATR_E_BAD_REQUEST, "the chunk's zstd frame is damaged: %s",
		    ZSTD_getErrorName(got));
	return (long)got;
}

int
chunkfile_decode(const unsigned char *img, size_t n, const char *sha256, unsigned char *out,
    size_t cap, size_t *rawlen, struct atr_err *err)
{
	const unsigned char *p;
	size_t plen, len;
	char got[65];
	int zstd;

	if (chunkfile_payload(img, n, &zstd, &p, &plen, &len, err) == -1)
		return -1;
	if (len > cap)
		return atr_err_set(err, ATR_E_IO, "the chunk is larger than its buffer");
	if (zstd) {
		struct atr_err zerr;
		long l = chunk_unzstd(p, plen, out, cap, &zerr);
		if (l < 0 || (size_t)l != len)
			return atr_err_set(err, ATR_E_IO, "chunk %.12s... is damaged (%s)", sha256,
			    l < 0 ? atr_err_msg(&zerr) : "wrong length");
	} else {
		memcpy(out, p, len);
	}
	if (chunk_sha256_hex(out, len, got) == -1)
		return atr_err_set(err, ATR_E_INTERNAL, "hashing failed");
	if (strcmp(got, sha256) != 0)
		return atr_err_set(err, ATR_E_IO, "chunk %.12s... is damaged: its bytes hash to "
		    "%.12s...", sha256, got);
	*rawlen = len;
	return 0;
}

long
chunkfile_read(const char *path, unsigned char *buf, struct atr_err *err)
{
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd == -1)
		return atr_err_set(err, errno == ENOENT ? ATR_E_NOT_FOUND : ATR_E_IO,
		    "cannot open %s: %s", path, strerror(errno));
	for (;;) {
		ssize_t n = read(fd, buf + got, CHUNKFILE_MAX - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			close(fd);
			return atr_err_set(err, ATR_E_IO, "cannot read %s: %s", path,
			    strerror(errno));
		}
		if (n == 0)
			break;
		got += (size_t)n;
		if (got == CHUNKFILE_MAX) {
			close(fd);
			return atr_err_set(err, ATR_E_IO, "%s is too large for a chunk", path);
		}
	}
	close(fd);
	return (long)got;
}
