/* The transfer progress bar and the size format. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "cli/progress.h"

#define REDRAW_MS 100 /* at most ten frames a second */
#define LABEL_MAX 24  /* columns of the label, at most */
#define RATE_W 13     /* "  123.4 MiB/s" */
#define ETA_W 7       /* "  12:34" */

struct cli_progress {
	char label[64];	   /* what moves, e.g. "checkout model" */
	uint64_t total;	   /* bytes to move */
	uint64_t done;	   /* bytes moved so far */
	int64_t start_ms;  /* monotonic clock at the start */
	int64_t drawn_ms;  /* when the bar was last drawn; 0 = never */
	int width;	   /* terminal columns */
	int finished;	   /* the final line has been written */
};

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
cli_format_size(uint64_t bytes, char *buf, size_t n)
{
	static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
	double v = (double)bytes;
	int u = -1;

	if (bytes < 1024) {
		snprintf(buf, n, "%" PRIu64 " B", bytes);
		return;
	}
	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	/* 1023.96 KiB would print as "1024.0 KiB": move up a unit instead. */
	if (v >= 1023.95 && u < 5) {
		v /= 1024;
		u++;
	}
	snprintf(buf, n, "%.1f %s", v, units[u]);
}

/* "0:04", "12:34", "1:02:03". */
static void
format_duration(double secs, char *buf, size_t n)
{
	uint64_t s = secs < 0 ? 0 : (uint64_t)(secs + 0.5);

	if (s >= 3600)
		snprintf(buf, n, "%" PRIu64 ":%02u:%02u", s / 3600,
		    (unsigned)(s / 60 % 60), (unsigned)(s % 60));
	else
		snprintf(buf, n, "%u:%02u", (unsigned)(s / 60), (unsigned)(s % 60));
}

size_t
cli_progress_line(char *buf, size_t n, int width, const char *label,
    uint64_t done, uint64_t total, double secs)
{
	char d[32], t[32], rate[40] = "", eta[32] = "", name[LABEL_MAX + 1];
	int pct, cols = width - 1, level, barw = 0, head, sizes;
	size_t len;

	if (n == 0)
		return 0;
	if (done > total)
		done = total;
	pct = total > 0 ? (int)(done * 100 / total) : 100;
	cli_format_size(done, d, sizeof(d));
	cli_format_size(total, t, sizeof(t));
	if (secs >= 0.5 && done > 0) {
		double bps = (double)done / secs;
		char r[32];

		cli_format_size((uint64_t)bps, r, sizeof(r));
		snprintf(rate, sizeof(rate), "%s/s", r);
		/* Time left while moving, time taken once done. */
		format_duration(done < total ? (double)(total - done) / bps : secs, eta,
		    sizeof(eta));
	}
	snprintf(name, sizeof(name), "%s", label);
	/*
	 * The layout depends on the width alone, never on the numbers, so the
	 * bar does not jump: 2 = sizes, rate and time; 1 = sizes and rate;
	 * 0 = sizes. The bar takes what is left (10 to 50 columns) or goes.
	 */
	head = (int)strlen(name) + 5;		/* "name 100%" */
	sizes = 4 + 2 * (int)strlen(t);		/* " 99.8 MiB / 200.0 MiB" */
	for (level = 2; level >= 0; level--) {
		int w = head + sizes + (level >= 1 ? RATE_W : 0) + (level >= 2 ? ETA_W : 0);

		if (w + 3 + 10 <= cols) {			/* " [" bar "]" */
			barw = cols - w - 3;
			break;
		}
	}
	if (level < 0)
		level = 0;
	if (barw > 50)
		barw = 50;
	len = (size_t)snprintf(buf, n, "%s %3d%%", name, pct);
	if (barw > 0 && len + (size_t)barw + 3 < n) {
		int fill = (int)((double)barw * (total ? (double)done / (double)total : 1.0));

		buf[len++] = ' ';
		buf[len++] = '[';
		for (int i = 0; i < barw; i++)
			buf[len++] = i < fill ? '=' : (i == fill ? '>' : ' ');
		buf[len++] = ']';
		buf[len] = '\0';
	}
	if (len < n)
		len += (size_t)snprintf(buf + len, n - len, " %*s / %s", (int)strlen(t), d, t);
	if (level >= 1 && len < n)
		len += (size_t)snprintf(buf + len, n - len, "  %*s", RATE_W - 2, rate);
	if (level >= 2 && len < n)
		len += (size_t)snprintf(buf + len, n - len, "  %*s", ETA_W - 2, eta);
	if (len >= n)
		len = n - 1;
	if (cols > 0 && len > (size_t)cols)
		len = (size_t)cols;
	buf[len] = '\0';
	return len;
}

static void
draw(struct cli_progress *p, int64_t now)
{
	char line[512];

	cli_progress_line(line, sizeof(line), p->width, p->label, p->done, p->total,
	    (double)(now - p->start_ms) / 1000.0);
	/* \r back to the start, the line, then clear what an older, longer line left. */
	fprintf(stderr, "\r%s\033[K", line);
	fflush(stderr);
	p->drawn_ms = now;
}

struct cli_progress *
cli_progress_new(const char *label, uint64_t total)
{
	struct cli_progress *p;
	struct winsize ws;

	if (total <= CLI_PROGRESS_MIN || !isatty(STDERR_FILENO))
		return NULL;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	snprintf(p->label, sizeof(p->label), "%s", label);
	p->total = total;
	p->start_ms = mono_ms();
	p->width = 80;
	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
		p->width = ws.ws_col;
	return p;
}

void
cli_progress_update(struct cli_progress *p, uint64_t done)
{
	int64_t now;

	if (p == NULL || p->finished)
		return;
	p->done = done;
	now = mono_ms();
	if (p->drawn_ms == 0 || now - p->drawn_ms >= REDRAW_MS)
		draw(p, now);
}

void
cli_progress_finish(struct cli_progress *p, int ok)
{
	if (p == NULL || p->finished)
		return;
	if (ok)
		p->done = p->total;
	draw(p, mono_ms());
	fputc('\n', stderr);
	p->finished = 1;
}

void
cli_progress_free(struct cli_progress *p)
{
	if (p == NULL)
		return;
	if (!p->finished && p->drawn_ms != 0)
		cli_progress_finish(p, 0);
	free(p);
}
