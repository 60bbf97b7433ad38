/*
 * Commits and checkouts by chunks (docs/delta.md): a commit sends only
 * the chunks the server lacks, a checkout fetches only the chunks the
 * file already on disk does not have. Both fall back to the whole file
 * (the caller's job) against a server without the chunk protocol.
 */
#ifndef ATRIUM_CLI_DELTA_H
#define ATRIUM_CLI_DELTA_H

#include <stdint.h>

#include "atrium/err.h"
#include "cli/http.h"

struct cli_progress;

/* What a transfer by chunks moved. */
struct cli_delta_stats {
	uint64_t chunks;      /* chunks of the content */
	uint64_t moved;       /* chunks sent or fetched */
	uint64_t raw_bytes;   /* their raw size */
	uint64_t wire_bytes;  /* bytes of chunk bodies on the wire (after zstd) */
};

#define CLI_DELTA_FALLBACK 1 /* the server has no chunk protocol: use the whole file */

/*
 * Commits size bytes of fd to commit_path (".../revisions?base=..&message=..")
 * by chunks. 0 with the server's answer in rep and the content's SHA-256 in
 * sha256; CLI_DELTA_FALLBACK before anything was committed; -1 with err
 * (rep may hold the server's answer, e.g. a conflict).
 */
int cli_delta_commit(struct cli_http *h, const char *commit_path, int fd, uint64_t size,
    struct cli_progress *pg, char sha256[65], struct cli_reply *rep,
    struct cli_delta_stats *st, struct atr_err *err);

/*
 * Writes revision rev of project (size bytes, SHA-256 want) to outfd,
 * taking every chunk that the file at have (may be NULL or missing) holds
 * from it and fetching the others. ebranch: the branch, percent-encoded (NULL:
 * trunk). 0 when written and verified,
 * CLI_DELTA_FALLBACK when the server has no manifest for it (a whole
 * file, or an older server), when there is no file at have, or when more
 * than half the content would have to be fetched (one whole download is
 * then cheaper than a request per chunk); nothing is written then. -1
 * with err.
 */
int cli_delta_checkout(struct cli_http *h, const char *project, const char *ebranch,
    uint64_t rev, uint64_t size, const char *want, const char *have, int outfd, struct cli_progress *pg,
    struct cli_delta_stats *st, struct atr_err *err);

#endif
