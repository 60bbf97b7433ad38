/*
 * Logging: one line per event on stderr, "LEVEL message". Thread-safe.
 * Never pass a password, token or key: the log is read by people.
 * The library itself never logs; it returns errors to its caller.
 */
#ifndef ATRIUM_LOG_H
#define ATRIUM_LOG_H

enum atr_log_level { ATR_LOG_DEBUG, ATR_LOG_INFO, ATR_LOG_WARN, ATR_LOG_ERROR };

/* Lines below level are dropped. Default: ATR_LOG_INFO. */
void atr_log_set_level(enum atr_log_level level);

/* Parses "debug", "info", "warn" or "error"; returns -1 on anything else. */
int atr_log_parse_level(const char *name, enum atr_log_level *out);

/*
 * Whether stderr is the journal stream systemd connected ($JOURNAL_STREAM
 * names its device and inode): then every line is "<N>LEVEL message", N
 * the syslog priority of the level, without a time (the journal adds its
 * own). Called once at start, before other threads log. Returns 1 when so.
 */
int atr_log_detect_journal(void);

/* Writes one line "2026-11-27T06:20:00Z LEVEL message\n" to stderr (see
 * atr_log_detect_journal() for the journal's form). */
void atr_log(enum atr_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define atr_debug(...) atr_log(ATR_LOG_DEBUG, __VA_ARGS__)
#define atr_info(...) atr_log(ATR_LOG_INFO, __VA_ARGS__)
#define atr_warn(...) atr_log(ATR_LOG_WARN, __VA_ARGS__)
#define atr_error(...) atr_log(ATR_LOG_ERROR, __VA_ARGS__)

#endif
