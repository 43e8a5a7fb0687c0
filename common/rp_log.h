/* rp_log: leveled logging to stderr or syslog.
 *
 * Process-wide sink chosen once at start-up by the daemon (common/ keeps no
 * other global state). Thread-safe: each line is written with one write(2)
 * or one syslog(3) call.
 */
#ifndef RP_LOG_H
#define RP_LOG_H

#include <stdarg.h>
#include <stdbool.h>

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

#endif
