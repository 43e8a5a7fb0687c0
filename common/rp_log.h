/* rp_log: leveled logging to stderr or syslog.
 *
 * Process-wide sink chosen once at start-up by the daemon (common/ keeps no
 * other global state). Thread-safe: each line is written with one write(2)
 * or one syslog(3) call.
 */
#ifndef RP_LOG_H
#define RP_LOG_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

enum rp_log_level {
	RP_LOG_ERR = 3,
	RP_LOG_WARN = 4,
	RP_LOG_NOTICE = 5,
	RP_LOG_INFO = 6,
	RP_LOG_DEBUG = 7,
};

enum rp_log_sink {
	RP_LOG_STDERR,
	RP_LOG_SYSLOG,
};

/* ident is kept by pointer (a string literal or argv[0]). */
void rp_log_open(enum rp_log_sink sink, const char *ident, enum rp_log_level min);
void rp_log_set_level(enum rp_log_level min);
enum rp_log_level rp_log_get_level(void);
bool rp_log_enabled(enum rp_log_level level);
/* Parses "err", "warn", "notice", "info", "debug"; -EINVAL otherwise. */
int rp_log_level_parse(const char *s, enum rp_log_level *out);
const char *rp_log_level_name(enum rp_log_level level);

void rp_log(enum rp_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void rp_vlog(enum rp_log_level level, const char *fmt, va_list ap);

#define rp_err(...)    rp_log(RP_LOG_ERR, __VA_ARGS__)
#define rp_warn(...)   rp_log(RP_LOG_WARN, __VA_ARGS__)
#define rp_notice(...) rp_log(RP_LOG_NOTICE, __VA_ARGS__)
#define rp_info(...)   rp_log(RP_LOG_INFO, __VA_ARGS__)
#define rp_debug(...) \
	do { if (rp_log_enabled(RP_LOG_DEBUG)) rp_log(RP_LOG_DEBUG, __VA_ARGS__); } while (0)

/* ---- rate-limited lines ----
 *
 * For lines a remote peer can cause at packet rate (malformed messages,
 * failed authentication, refused connections ...): each call site has its
 * own budget of 'burst' lines per 'interval_ms'. Lines past it are counted,
 * not formatted; the first line of a later interval (or rp_log_rl_flush(),
 * once the interval is over) writes "N similar messages suppressed" first.
 * One site's flood does not silence another site. err lines and start-up
 * lines are never limited: only the _rl macros below limit.
 *
 * Lock-free: one compare-and-swap per written line, one atomic add per
 * suppressed line. */
#define RP_LOG_RL_BURST_DEFAULT 10u
#define RP_LOG_RL_INTERVAL_MS_DEFAULT 5000u

/* One call site's state: static storage, zero-initialised (the macros
 * make one per site); only this module touches the fields. */
struct rp_log_rl {
	/* interval start in ms << 24 | lines written in it */
	_Atomic uint64_t state;
	/* lines suppressed and not yet summarised */
	_Atomic uint64_t dropped;
	_Atomic bool listed;
	struct rp_log_rl *next;   /* the list rp_log_rl_flush() walks */
	const char *fmt;          /* set once, before the site is listed */
	enum rp_log_level level;
	const char *where;        /* "file.c:123" */
};

/* burst 0 = no limit. interval_ms is clamped to 1..2^31. Process-wide,
 * takes effect at once (a reload may call it). */
void rp_log_rl_set(unsigned burst, unsigned interval_ms);
void rp_log_rl_get(unsigned *burst, unsigned *interval_ms);
/* The clock the limiter reads, in ms (monotonic). NULL restores
 * CLOCK_MONOTONIC. For tests. */
void rp_log_rl_set_clock(uint64_t (*now_ms)(void));

/* The decision alone, at time now_ms: true if the line is to be written.
 * When it starts a new interval after lines were suppressed, *summary gets
 * their number (else 0): the caller writes the summary line first. */
bool rp_log_rl_admit(struct rp_log_rl *rl, uint64_t now_ms, uint64_t *summary);

/* Writes fmt at 'level' if rl admits it (with the summary first). rl must
 * have static storage: its first line links it into the process-wide list
 * rp_log_rl_flush() walks, for good. */
void rp_log_rl(enum rp_log_level level, struct rp_log_rl *rl, const char *where,
	const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Writes the pending summary of every site whose interval is over (all of
 * them with 'all', e.g. at exit). Daemons call it about once a second so a
 * flood that stopped still gets its summary. Returns the summaries written. */
unsigned rp_log_rl_flush(bool all);

#define RP_LOG_STR2_(x) #x
#define RP_LOG_STR_(x) RP_LOG_STR2_(x)
#define rp_log_ratelimited(level, ...) \
	do { \
		static struct rp_log_rl rp_log_rl_site_; \
		if (rp_log_enabled(level)) \
			rp_log_rl((level), &rp_log_rl_site_, \
				__FILE__ ":" RP_LOG_STR_(__LINE__), __VA_ARGS__); \
	} while (0)
#define rp_warn_rl(...)   rp_log_ratelimited(RP_LOG_WARN, __VA_ARGS__)
#define rp_notice_rl(...) rp_log_ratelimited(RP_LOG_NOTICE, __VA_ARGS__)
#define rp_info_rl(...)   rp_log_ratelimited(RP_LOG_INFO, __VA_ARGS__)

#endif
