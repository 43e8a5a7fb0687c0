#include "rp_log.h"

#include <errno.h>
#include <inttypes.h>
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

/* ---- rate-limited lines ---- */

#define RL_COUNT_BITS 24
#define RL_COUNT_MAX ((UINT64_C(1) << RL_COUNT_BITS) - 1)

static _Atomic unsigned rl_burst = RP_LOG_RL_BURST_DEFAULT;
static _Atomic unsigned rl_interval_ms = RP_LOG_RL_INTERVAL_MS_DEFAULT;
static uint64_t (*_Atomic rl_clock)(void);
/* Sites that have written a line, newest first; never shrinks (sites are
 * static). */
static struct rp_log_rl *_Atomic rl_sites;

void rp_log_rl_set(unsigned burst, unsigned interval_ms)
{
	if (interval_ms == 0)
		interval_ms = 1;
	if (interval_ms > (1u << 31))
		interval_ms = 1u << 31;
	if (burst > RL_COUNT_MAX)
		burst = (unsigned)RL_COUNT_MAX;
	atomic_store(&rl_burst, burst);
	atomic_store(&rl_interval_ms, interval_ms);
}

void rp_log_rl_get(unsigned *burst, unsigned *interval_ms)
{
	if (burst)
		*burst = atomic_load(&rl_burst);
	if (interval_ms)
		*interval_ms = atomic_load(&rl_interval_ms);
}

void rp_log_rl_set_clock(uint64_t (*now_ms)(void))
{
	atomic_store(&rl_clock, now_ms);
}

static uint64_t rl_now(void)
{
	uint64_t (*f)(void) = atomic_load_explicit(&rl_clock, memory_order_relaxed);
	struct timespec ts;

	if (f)
		return f();
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

bool rp_log_rl_admit(struct rp_log_rl *rl, uint64_t now_ms, uint64_t *summary)
{
	unsigned burst = atomic_load_explicit(&rl_burst, memory_order_relaxed);
	uint64_t interval = atomic_load_explicit(&rl_interval_ms, memory_order_relaxed);
	uint64_t old = atomic_load_explicit(&rl->state, memory_order_relaxed), nw;
	/* The start time keeps the low 40 bits of the clock (34 years of ms). */
	uint64_t now = now_ms & ((UINT64_C(1) << (64 - RL_COUNT_BITS)) - 1);
	bool fresh;

	*summary = 0;
	if (burst == 0)
		return true;
	do {
		uint64_t start = old >> RL_COUNT_BITS, n = old & RL_COUNT_MAX;

		/* A clock behind the start (a test's clock set back) starts
		 * afresh too, rather than silencing the site for good. */
		fresh = now - start >= interval || now < start;
		if (fresh) {
			nw = now << RL_COUNT_BITS | 1;
		} else if (n < burst) {
			nw = old + 1;
		} else {
			atomic_fetch_add_explicit(&rl->dropped, 1, memory_order_relaxed);
			return false;
		}
	} while (!atomic_compare_exchange_weak_explicit(&rl->state, &old, nw,
			memory_order_relaxed, memory_order_relaxed));
	if (fresh)
		*summary = atomic_exchange_explicit(&rl->dropped, 0, memory_order_relaxed);
	return true;
}

static const char *rl_base(const char *where)
{
	const char *s = strrchr(where, '/');

	return s ? s + 1 : where;
}

static void rl_summary(enum rp_log_level level, const char *where, const char *fmt,
	uint64_t n)
{
	rp_log(level, "%" PRIu64 " similar message%s suppressed (%s \"%s\")", n,
		n == 1 ? "" : "s", rl_base(where), fmt);
}

void rp_log_rl(enum rp_log_level level, struct rp_log_rl *rl, const char *where,
	const char *fmt, ...)
{
	uint64_t summary;
	va_list ap;

	if (!rp_log_enabled(level))
		return;
	if (!atomic_load_explicit(&rl->listed, memory_order_acquire) &&
	    !atomic_exchange(&rl->listed, true)) {
		rl->fmt = fmt;
		rl->where = where;
		rl->level = level;
		rl->next = atomic_load(&rl_sites);
		while (!atomic_compare_exchange_weak_explicit(&rl_sites, &rl->next, rl,
				memory_order_release, memory_order_relaxed))
			;
	}
	if (!rp_log_rl_admit(rl, rl_now(), &summary))
		return;
	if (summary)
		rl_summary(level, where, fmt, summary);
	va_start(ap, fmt);
	rp_vlog(level, fmt, ap);
	va_end(ap);
}

unsigned rp_log_rl_flush(bool all)
{
	uint64_t interval = atomic_load(&rl_interval_ms);
	uint64_t now = rl_now() & ((UINT64_C(1) << (64 - RL_COUNT_BITS)) - 1);
	unsigned wrote = 0;

	for (struct rp_log_rl *rl = atomic_load_explicit(&rl_sites, memory_order_acquire);
	     rl; rl = rl->next) {
		uint64_t start = atomic_load_explicit(&rl->state, memory_order_relaxed) >>
			RL_COUNT_BITS;
		uint64_t n;

		if (!atomic_load_explicit(&rl->dropped, memory_order_relaxed))
			continue;
		if (!all && now - start < interval && now >= start)
			continue;
		n = atomic_exchange_explicit(&rl->dropped, 0, memory_order_relaxed);
		if (n && rp_log_enabled(rl->level)) {
			rl_summary(rl->level, rl->where, rl->fmt, n);
			wrote++;
		}
	}
	return wrote;
}
