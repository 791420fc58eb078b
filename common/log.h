/*
 * log.h - one small levelled logger for the daemon, the CLI and tests.
 *
 * Messages go to a sink. The default sink is none: libjitfarm is linked
 * into other people's programs and must never print on its own, so a
 * program that wants output installs a sink (jf_log_to_stderr() for the
 * master and the CLI, or its own callback for a host). A line is one
 * event; the master writes them as key=value pairs so they can be parsed.
 */
#ifndef JF_LOG_H
#define JF_LOG_H

#include <stdarg.h>

enum jf_log_level {
	JF_LOG_ERROR = 0,
	JF_LOG_WARN = 1,
	JF_LOG_INFO = 2,
	JF_LOG_DEBUG = 3
};

typedef void (*jf_log_sink_fn)(int level, const char *line, void *arg);

/* Install a sink (NULL drops everything). Not thread-safe against
 * concurrent logging: set it once at start-up. */
void jf_log_set_sink(jf_log_sink_fn fn, void *arg);
/* Convenience: write "ts level msg" lines to stderr. */
void jf_log_to_stderr(void);
void jf_log_set_level(int level);
int jf_log_get_level(void);
/* "error", "warn", "info", "debug" -> level; -1 if unknown. */
int jf_log_level_parse(const char *s);
const char *jf_log_level_name(int level);

void jf_log(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void jf_vlog(int level, const char *fmt, va_list ap);

#define jf_error(...) jf_log(JF_LOG_ERROR, __VA_ARGS__)
#define jf_warn(...) jf_log(JF_LOG_WARN, __VA_ARGS__)
#define jf_info(...) jf_log(JF_LOG_INFO, __VA_ARGS__)
#define jf_debug(...) \
	do { \
		if (jf_log_get_level() >= JF_LOG_DEBUG) \
			jf_log(JF_LOG_DEBUG, __VA_ARGS__); \
	} while (0)

#endif
