/*
 * A progress bar on stderr for long transfers, and the size format the
 * client prints everywhere ("12.3 MiB").
 */
#ifndef ATRIUM_CLI_PROGRESS_H
#define ATRIUM_CLI_PROGRESS_H

#include <stddef.h>
#include <stdint.h>

/* Transfers of more than this many bytes get a bar. */
#define CLI_PROGRESS_MIN ((uint64_t)1024 * 1024)

struct cli_progress;

/*
 * A bar for a transfer of total bytes labelled label ("checkout model").
 * Returns NULL -- no bar, which every function below accepts -- when
 * stderr is not a terminal, total is not above CLI_PROGRESS_MIN, or
 * memory is short. The bar is drawn at most ten times a second.
 */
struct cli_progress *cli_progress_new(const char *label, uint64_t total);

/* Records that done bytes of the total have moved; redraws when due. */
void cli_progress_update(struct cli_progress *p, uint64_t done);

/* Draws the final state and ends the line. ok == 0 leaves the bar where it stopped. */
void cli_progress_finish(struct cli_progress *p, int ok);

/* Frees p (finishing it first if needed). NULL-safe. */
void cli_progress_free(struct cli_progress *p);

/*
 * Writes one bar line of at most width - 1 columns into buf (n bytes):
 * "label  45% [=====>    ] 123.4 MiB / 300.0 MiB  45.6 MiB/s  0:04",
 * shedding the bar, then rate and time left, when width is small. secs
 * is the time since the start. Returns the line's length.
 */
size_t cli_progress_line(char *buf, size_t n, int width, const char *label,
    uint64_t done, uint64_t total, double secs);

/* Formats bytes as "512 B", "1.5 KiB", "12.3 MiB", "4.0 GiB", ... */
void cli_format_size(uint64_t bytes, char *buf, size_t n);

#endif
