/*
 * log.c - the levelled logger behind log.h.
 *
 * Formatting happens into a fixed stack buffer, so logging never
 * allocates and a long message is cut rather than lost. The stderr sink
 * writes each line with a single write(2) so lines from several
 * processes (master, zygote, workers) do not interleave mid-line.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static jf_log_sink_fn log_sink;
static void *log_sink_arg;
static atomic_int log_level = JF_LOG_INFO;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void
jf_log_set_sink(jf_log_sink_fn fn, void *arg)
{
	log_sink = fn;
	log_sink_arg = arg;
}

static void
stderr_sink(int level, const char *line, void *arg)
{
	char buf[4096];
	struct timespec ts;
	struct tm tm;
	int n;

	(void)arg;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s pid=%d %s\n",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	    tm.tm_sec, ts.tv_nsec / 1000000L, jf_log_level_name(level),
	    (int)getpid(), line);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(buf)) {
		n = sizeof(buf) - 1;
		buf[n - 1] = '\n';
	}
	/* best effort: a log line that cannot be written is dropped */
	if (write(STDERR_FILENO, buf, (size_t)n) < 0)
		return;
}

void
jf_log_to_stderr(void)
{
	jf_log_set_sink(stderr_sink, NULL);
}

void
jf_log_set_level(int level)
{
	if (level < JF_LOG_ERROR)
		level = JF_LOG_ERROR;
	if (level > JF_LOG_DEBUG)
		level = JF_LOG_DEBUG;
	atomic_store(&log_level, level);
}

int
jf_log_get_level(void)
{
	return atomic_load_explicit(&log_level, memory_order_relaxed);
}

int
jf_log_level_parse(const char *s)
{
	size_t i;

	if (s == NULL)
		return -1;
	for (i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (strcasecmp(s, level_names[i]) == 0)
			return (int)i;
	if (strcasecmp(s, "warning") == 0)
		return JF_LOG_WARN;
	return -1;
}

const char *
jf_log_level_name(int level)
{
	if (level < 0 || level > JF_LOG_DEBUG)
		return "?";
	return level_names[level];
}

void
jf_vlog(int level, const char *fmt, va_list ap)
{
	char line[2048];

	if (log_sink == NULL || level > jf_log_get_level())
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	log_sink(level, line, log_sink_arg);
}

void
jf_log(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	jf_vlog(level, fmt, ap);
	va_end(ap);
}
