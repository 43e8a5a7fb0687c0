#include "rp_log.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

/* The one piece of process-wide state in common/: where log lines go. It is
 * set before threads start and only the level changes afterwards. */
static enum rp_log_sink log_sink = RP_LOG_STDERR;
static const char *log_ident = "rampart";
static _Atomic int log_min = RP_LOG_INFO;

static const char *const level_names[] = {
	[RP_LOG_ERR] = "err",
	[RP_LOG_WARN] = "warn",
	[RP_LOG_NOTICE] = "notice",
	[RP_LOG_INFO] = "info",
	[RP_LOG_DEBUG] = "debug",
};

void rp_log_open(enum rp_log_sink sink, const char *ident, enum rp_log_level min)
{
	log_sink = sink;
	if (ident)
		log_ident = ident;
	atomic_store(&log_min, (int)min);
	if (sink == RP_LOG_SYSLOG)
		openlog(log_ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void rp_log_set_level(enum rp_log_level min)
{
	atomic_store(&log_min, (int)min);
}

enum rp_log_level rp_log_get_level(void)
{
	return (enum rp_log_level)atomic_load(&log_min);
}

bool rp_log_enabled(enum rp_log_level level)
{
	return (int)level <= atomic_load_explicit(&log_min, memory_order_relaxed);
}

int rp_log_level_parse(const char *s, enum rp_log_level *out)
{
	for (int l = RP_LOG_ERR; l <= RP_LOG_DEBUG; l++) {
		if (strcmp(s, level_names[l]) == 0) {
			*out = (enum rp_log_level)l;
			return 0;
		}
	}
	if (strcmp(s, "warning") == 0 || strcmp(s, "error") == 0) {
		*out = s[0] == 'w' ? RP_LOG_WARN : RP_LOG_ERR;
		return 0;
	}
	return -EINVAL;
}

const char *rp_log_level_name(enum rp_log_level level)
{
	if (level < RP_LOG_ERR || level > RP_LOG_DEBUG)
		return "?";
	return level_names[level];
}

void rp_vlog(enum rp_log_level level, const char *fmt, va_list ap)
{
	char line[2048];
	int n = 0;
	int saved = errno;

	if (!rp_log_enabled(level))
		return;
	if (log_sink == RP_LOG_SYSLOG) {
		vsyslog((int)level, fmt, ap);
		errno = saved;
		return;
	}

	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s[%d] %s: ",
		     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		     tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, log_ident,
		     (int)getpid(), rp_log_level_name(level));
	if (n < 0)
		n = 0;
	if ((size_t)n < sizeof(line)) {
		int m = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);

		if (m > 0)
			n += m;
	}
	if ((size_t)n >= sizeof(line) - 1)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	/* One write per line so concurrent threads do not interleave. */
	if (write(STDERR_FILENO, line, (size_t)n) < 0) {
		/* Nowhere left to report a failing stderr. */
	}
	errno = saved;
}

void rp_log(enum rp_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	rp_vlog(level, fmt, ap);
	va_end(ap);
}
