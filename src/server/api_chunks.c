/*
 * Chunked content (docs/delta.md, docs/api.md "Chunked content"): which
 * chunks the server lacks, uploading one, recording a content as a list
 * of chunks, and reading a revision's list and its chunks back.
 *
 * Permissions: today every user may read and commit to every project.
 * Chunks are still only served through a project (GET
 * /projects/P/chunks/SHA answers only for a chunk of a revision of P), so
 * that a per-project check added later covers them too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atrium/log.h"
#include "atrium/util.h"
#include "server/api.h"
#include "server/chunkfile.h"

#define CONTENT_CHUNKS_MAX 65536 /* chunks of one content: 4 GiB at 64 KiB */

/* The project in the path, checked as api_project_param() does (not
 * called: api_projects.c calls this file, and calls go one way). */
static const char *
project_param(struct req *r)
{
	const char *name = req_param(r, 0);
	const char *problem = api_name_problem(name);

	if (problem != NULL) {
		resp_error(r, ATR_E_BAD_NAME, "bad project name: %s", problem);
		return NULL;
	}
	return name;
}

static int
is_hex64(const char *s)
{
	if (s == NULL || strlen(s) != 64)
		return 0;
	for (const char *p = s; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return 0;
	return 1;
}

/* {"missing": [the shas[i] with missing[i]]} */
static json_t *
missing_json(const char (*shas)[65], const unsigned char *missing, int n)
{
	json_t *a = json_array();

	for (int i = 0; a != NULL && i < n; i++)
		if (missing[i] && json_array_append_new(a, json_string(shas[i])) == -1) {
			json_decref(a);
			return NULL;
		}
	return a;
}

void
api_chunks_missing(struct req *r)
{
	struct atr_err err;
	json_t *body = req_json(r, &err), *list, *v;
	char (*shas)[65] = NULL;
	unsigned char *missing = NULL;
	size_t i;
	int n;

	if (body == NULL)
		return resp_err(r, &err);
	list = json_object_get(body, "chunks");
	if (!json_is_array(list))
		return resp_error(r, ATR_E_BAD_REQUEST, "send {\"chunks\": [\"SHA256\", ...]}");
	if (json_array_size(list) > STORE_CHUNKS_PER_ASK)
		return resp_error(r, ATR_E_TOO_LARGE, "ask about at most %d chunks at a time",
		    STORE_CHUNKS_PER_ASK);
	n = (int)json_array_size(list);
	if ((shas = calloc((size_t)n + 1, sizeof(*shas))) == NULL ||
	    (missing = calloc((size_t)n + 1, 1)) == NULL)
		goto nomem;
	json_array_foreach(list, i, v) {
		if (!is_hex64(json_string_value(v))) {
			resp_error(r, ATR_E_BAD_REQUEST,
			    "chunk %zu is not a SHA-256 in lowercase hex", i);
			goto out;
		}
		memcpy(shas[i], json_string_value(v), 65);
	}
	if (store_chunk_missing(req_store(r), (const char (*)[65])shas, n, missing, &err) == -1) {
		resp_err(r, &err);
		goto out;
	}
	resp_json(r, 200, json_pack("{s:o}", "missing",
	    missing_json((const char (*)[65])shas, missing, n)));
	goto out;
nomem:
	resp_error(r, ATR_E_NOMEM, "out of memory");
out:
	free(shas);
	free(missing);
}

void
api_chunk_put(struct req *r)
{
	struct atr_err err;
	const char *sha = req_param(r, 0), *enc = req_header(r, "Content-Encoding");
	const void *data;
	size_t len;
	int zstd = 0;

	if (!is_hex64(sha))
		return resp_error(r, ATR_E_BAD_REQUEST,
		    "name the chunk by its SHA-256 in lowercase hex: PUT /api/v1/chunks/SHA256");
	if (enc != NULL && strcmp(enc, "zstd") == 0)
		zstd = 1;
	else if (enc != NULL && strcmp(enc, "identity") != 0)
		return resp_error(r, ATR_E_BAD_REQUEST,
		    "a chunk is sent raw or with Content-Encoding: zstd, not '%s'", enc);
	data = req_body(r, &len);
	if (len > CHUNKFILE_MAX)
		return resp_error(r, ATR_E_TOO_LARGE, "a chunk has at most %u bytes",
		    CHUNK_RAW_MAX);
	if (store_chunk_put(req_store(r), sha, data, len, zstd, &err) == -1) {
		if (err.code != ATR_E_BAD_REQUEST && err.code != ATR_E_TOO_LARGE &&
		    err.code != ATR_E_NOT_SUPPORTED)
			atr_error("storing chunk %.12s... failed: %s", sha, atr_err_msg(&err));
		return resp_err(r, &err);
	}
	resp_empty(r, 204);
}

/*
 * Several chunks in one body (a commit's new chunks in a few requests, not
 * one round trip each): records of SHA-256 (32 bytes) | encoding (1 byte:
 * 0 raw, 1 zstd) | length (4 bytes, little-endian) | the bytes. Each is
 * stored as by PUT; the first that fails fails the request (those before
 * it stay stored, which is harmless: putting is idempotent).
 */
void
api_chunks_put(struct req *r)
{
	struct atr_err err;
	const unsigned char *p;
	size_t len, off = 0;
	int stored = 0;

	p = req_body(r, &len);
	while (off < len) {
		char sha[65];
		uint32_t n = 0;
		if (len - off < 37 || p[off + 32] > 1)
			return resp_error(r, ATR_E_BAD_REQUEST, "chunk record %d is malformed", stored);
		for (int i = 0; i < 4; i++)
			n |= (uint32_t)p[off + 33 + i] << (8 * i);
		if (n > len - off - 37 || n > CHUNKFILE_MAX)
			return resp_error(r, ATR_E_BAD_REQUEST, "chunk record %d is cut short or too "
			    "large", stored);
		atr_hex(p + off, 32, sha);
		if (store_chunk_put(req_store(r), sha, p + off + 37, n, p[off + 32], &err) == -1) {
			if (err.code != ATR_E_BAD_REQUEST && err.code != ATR_E_TOO_LARGE &&
			    err.code != ATR_E_NOT_SUPPORTED)
				atr_error("storing chunk %.12s... failed: %s", sha, atr_err_msg(&err));
			return resp_err(r, &err);
		}
		off += 37 + n;
		stored++;
	}
	resp_json(r, 200, json_pack("{s:i}", "stored", stored));
}

void
api_content_create(struct req *r)
{
	struct atr_err err;
	json_t *body = req_json(r, &err), *list, *v, *ans;
	const char *sha;
	struct store_chunk_ref *refs = NULL;
	unsigned char *missing = NULL;
	json_int_t size;
	size_t i;
	int n, created = 0;

	if (body == NULL)
		return resp_err(r, &err);
	sha = json_string_value(json_object_get(body, "sha256"));
	list = json_object_get(body, "chunks");
	if (!is_hex64(sha) || !json_is_integer(json_object_get(body, "size")) ||
	    !json_is_array(list))
		return resp_error(r, ATR_E_BAD_REQUEST, "send {\"sha256\": HEX, \"size\": N, "
		    "\"chunks\": [{\"sha256\": HEX, \"size\": N}, ...]}");
	size = json_integer_value(json_object_get(body, "size"));
	if (size < 0 || json_array_size(list) > CONTENT_CHUNKS_MAX)
		return resp_error(r, ATR_E_TOO_LARGE, "a content has at most %d chunks",
		    CONTENT_CHUNKS_MAX);
	n = (int)json_array_size(list);
	if ((refs = calloc((size_t)n + 1, sizeof(*refs))) == NULL ||
	    (missing = calloc((size_t)n + 1, 1)) == NULL) {
		resp_error(r, ATR_E_NOMEM, "out of memory");
		goto out;
	}
	json_array_foreach(list, i, v) {
		const char *cs = json_string_value(json_object_get(v, "sha256"));
		json_t *csz = json_object_get(v, "size");
		if (!is_hex64(cs) || !json_is_integer(csz) || json_integer_value(csz) < 1 ||
		    json_integer_value(csz) > CHUNK_RAW_MAX) {
			resp_error(r, ATR_E_BAD_REQUEST, "chunk %zu needs a sha256 (lowercase hex) "
			    "and a size from 1 to %u", i, CHUNK_RAW_MAX);
			goto out;
		}
		memcpy(refs[i].sha256, cs, 65);
		refs[i].size = (uint32_t)json_integer_value(csz);
	}
	if (store_content_create(req_store(r), sha, (int64_t)size, refs, n, missing, &created,
	    &err) == -1) {
		if (err.code == ATR_E_CHUNKS_MISSING) {
			char (*shas)[65] = calloc((size_t)n + 1, sizeof(*shas));
			if (shas == NULL) {
				resp_error(r, ATR_E_NOMEM, "out of memory");
				goto out;
			}
			for (int k = 0; k < n; k++)
				memcpy(shas[k], refs[k].sha256, 65);
			ans = resp_error_body(ATR_E_CHUNKS_MISSING,
			    "some chunks of the content are not on the server; send them first");
			if (ans != NULL)
				json_object_set_new(ans, "missing",
				    missing_json((const char (*)[65])shas, missing, n));
			free(shas);
			resp_json(r, 409, ans);
			goto out;
		}
		resp_err(r, &err);
		goto out;
	}
	resp_json(r, created ? 201 : 200, json_pack("{s:s,s:I,s:i}", "sha256", sha, "size",
	    size, "chunks", n));
out:
	free(refs);
	free(missing);
}

static json_t *
manifest_json(const struct store_revision *rev, const struct store_chunk_ref *c, int n)
{
	json_t *a = json_array();

	for (int i = 0; a != NULL && i < n; i++)
		if (json_array_append_new(a, json_pack("{s:s,s:I}", "sha256", c[i].sha256, "size",
		    (json_int_t)c[i].size)) == -1) {
			json_decref(a);
			return NULL;
		}
	return json_pack("{s:I,s:s,s:I,s:o}", "revision", (json_int_t)rev->number, "sha256",
	    rev->sha256, "size", (json_int_t)rev->size, "chunks", a);
}

void
api_revision_manifest(struct req *r)
{
	struct atr_err err;
	struct store_revision rev;
	struct store_chunk_ref *c = NULL;
	const char *name = project_param(r), *num;
	char *end, branch[STORE_NAME_MAX + 1];
	long long n = -1;
	int cnt = 0;

	if (name == NULL || api_branch_query(r, branch) == -1)
		return;
	num = req_param(r, 1);
	if (strcmp(num, "head") != 0) {
		n = strtoll(num, &end, 10);
		if (*end != '\0' || end == num || n < 1 || num[0] == '+')
			return resp_error(r, ATR_E_BAD_REQUEST,
			    "'%s' is not a revision number (1, 2, ... or 'head')", num);
	}
	if (store_revision_get_in(req_store(r), name, branch, (int64_t)n, &rev, &err) == -1 ||
	    store_content_manifest(req_store(r), rev.sha256, &c, &cnt, &err) == -1)
		return resp_err(r, &err);
	resp_json(r, 200, manifest_json(&rev, c, cnt));
	free(c);
}

void
api_chunk_get(struct req *r)
{
	struct atr_err err;
	const char *name = project_param(r), *sha = req_param(r, 1);
	const char *ae = req_header(r, "Accept-Encoding");
	unsigned char *data;
	size_t len;
	int zstd;

	if (name == NULL)
		return;
	if (!is_hex64(sha))
		return resp_error(r, ATR_E_BAD_REQUEST, "a chunk is named by its SHA-256 in "
		    "lowercase hex");
	if (store_chunk_get(req_store(r), name, sha, ae != NULL && strstr(ae, "zstd") != NULL,
	    &data, &len, &zstd, &err) == -1) {
		if (err.code == ATR_E_IO) {
			atr_error("chunk %s of '%s': %s", sha, name, atr_err_msg(&err));
			return resp_error(r, ATR_E_IO, "chunk %.12s... is damaged or missing on the "
			    "server; see its log", sha);
		}
		return resp_err(r, &err);
	}
	resp_text(r, 200, "application/octet-stream", (const char *)data, len);
	if (zstd)
		resp_header(r, "Content-Encoding", "zstd");
	free(data);
}

int
api_content_ref(struct req *r, int64_t *size, char sha256[65])
{
	struct atr_err err;
	const char *h = req_header(r, "X-Atrium-Content");
	size_t blen;

	if (h == NULL)
		return 0;
	if (strncmp(h, "sha256:", 7) != 0 || !is_hex64(h + 7)) {
		resp_error(r, ATR_E_BAD_REQUEST, "X-Atrium-Content must be sha256:HEX (lowercase)");
		return -1;
	}
	req_body(r, &blen);
	if (blen > 0) {
		resp_error(r, ATR_E_BAD_REQUEST,
		    "a commit naming its content with X-Atrium-Content has an empty body");
		return -1;
	}
	memcpy(sha256, h + 7, 65);
	if (store_content_hold(req_store(r), sha256, size, &err) == -1) {
		if (err.code == ATR_E_NOT_FOUND)
			resp_error(r, ATR_E_NOT_FOUND, "the server has no content %.12s...; record "
			    "it first with POST /api/v1/contents", sha256);
		else
			resp_err(r, &err);
		return -1;
	}
	return 1;
}
