/* One line per event on stderr; a single write per line keeps threads apart. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "atrium/log.h"

static volatile int min_level = ATR_LOG_INFO;
static const char *const names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
/* syslog(3) priorities of the levels: LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR. */
static const char *const priorities[] = {"<7>", "<6>", "<4>", "<3>"};
static volatile int to_journal;

int
atr_log_detect_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	/* systemd sets "DEV:INODE" of the stream it connected; stderr may since
	 * have been redirected elsewhere (a file, a pipe), which keeps the time. */
	to_journal = js != NULL && sscanf(js, "%llu:%llu", &dev, &ino) == 2 &&
	    fstat(STDERR_FILENO, &st) == 0 && (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino;
	return to_journal;
}

void
atr_log_set_level(enum atr_log_level level)
{
	min_level = level;
}

int
atr_log_parse_level(const char *name, enum atr_log_level *out)
{
	static const char *const lower[] = {"debug", "info", "warn", "error"};

	for (int i = 0; i < 4; i++) {
		if (strcmp(name, lower[i]) == 0) {
			*out = (enum atr_log_level)i;
			return 0;
		}
	}
	return -1;
}

void
atr_log(enum atr_log_level level, const char *fmt, ...)
{
	char line[2048];
	struct timespec ts;
	struct tm tm;
	size_t n;
	int w;
	va_list ap;

	if ((int)level < min_level)
		return;
	if (to_journal) {
		/* The journal stamps each line itself and reads the priority. */
		memcpy(line, priorities[level], 3);
		n = 3;
	} else {
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%SZ ", &tm);
	}
	w = snprintf(line + n, sizeof(line) - n, "%-5s ", names[level]);
	if (w > 0)
		n += (size_t)w;
	va_start(ap, fmt);
	w = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	if (w > 0)
		n += (size_t)w;
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	/* One line per event: a message never breaks the line structure. */
	for (size_t i = 0; i < n; i++)
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, n) < 0)
		return;
}
