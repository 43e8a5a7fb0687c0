/* rp_time: clocks and a timer heap.
 *
 * Clocks: rp_now_*() read CLOCK_MONOTONIC (never jumps; use it for every
 * timeout and duration); rp_realtime_ns() reads CLOCK_REALTIME, for log and
 * record time stamps only.
 *
 * Timers: an rp_timers owner (one per worker thread) keeps armed rp_timer
 * entries in a binary min-heap: add, re-arm and cancel are O(log n), finding
 * the next deadline O(1). rp_timer is intrusive: embed it in the object it
 * belongs to (a transaction, a session), so arming allocates nothing once the
 * heap has grown. Times are absolute, in milliseconds on the rp_now_ms()
 * clock. Timers with the same deadline fire in the order they were armed.
 *
 * Not thread-safe: a heap and its timers belong to one thread.
 */
#ifndef RP_TIME_H
#define RP_TIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

uint64_t rp_now_ns(void);
uint64_t rp_now_us(void);
uint64_t rp_now_ms(void);
/* Nanoseconds since the Unix epoch. */
uint64_t rp_realtime_ns(void);

/* Formats a realtime_ns value as UTC ISO 8601 with milliseconds,
 * "2026-11-21T21:50:15.123Z" (24 chars + NUL). Returns the length, or
 * -ENOSPC if dst is smaller than 25 bytes (dst then holds ""). */
int rp_time_fmt_utc(uint64_t realtime_ns, char *dst, size_t dstsz);

typedef struct rp_timer rp_timer;
typedef struct rp_timers rp_timers;

/* Called when the timer expires. The timer is already disarmed: the callback
 * may re-arm it, arm or cancel any other timer, or free the object that
 * embeds it. */
typedef void (*rp_timer_fn)(rp_timer *t, void *arg);

/* Fields are private; the struct is public only so it can be embedded. */
struct rp_timer {
	uint64_t expires; /* absolute ms */
	uint64_t seq;     /* arming order, breaks ties */
	size_t idx;       /* heap index, or RP_TIMER_IDLE */
	rp_timer_fn fn;
	void *arg;
};

#define RP_TIMER_IDLE SIZE_MAX

/* Prepares a disarmed timer. Must be called before first use. */
void rp_timer_init(rp_timer *t, rp_timer_fn fn, void *arg);
static inline bool rp_timer_armed(const rp_timer *t)
{
	return t->idx != RP_TIMER_IDLE;
}
/* Deadline of an armed timer (ms). */
static inline uint64_t rp_timer_expires(const rp_timer *t)
{
	return t->expires;
}

/* Creates an empty heap with room for 'hint' timers. Returns 0 or -ENOMEM;
 * free with rp_timers_free(). */
int rp_timers_new(size_t hint, rp_timers **out);
/* Frees the heap; timers still armed are disarmed, not called. NULL ok. */
void rp_timers_free(rp_timers *ts);

/* Arms t to fire at 'expires_ms' (absolute); re-arms it if already armed
 * (it must then belong to this heap). Returns 0 or -ENOMEM (t then keeps
 * its previous state). */
int rp_timers_add(rp_timers *ts, rp_timer *t, uint64_t expires_ms);
/* Disarms t; no-op if it is not armed. */
void rp_timers_cancel(rp_timers *ts, rp_timer *t);

size_t rp_timers_count(const rp_timers *ts);
/* Earliest deadline, or UINT64_MAX when nothing is armed. */
uint64_t rp_timers_next(const rp_timers *ts);
/* Milliseconds from now_ms to the earliest deadline, for epoll_wait()/poll():
 * -1 when nothing is armed, 0 when one is due, capped at INT32_MAX. */
int rp_timers_timeout_ms(const rp_timers *ts, uint64_t now_ms);

/* Fires, earliest first, every timer due at now_ms, at most 'max' of them
 * (0 = no limit; a bound keeps one busy tick from starving I/O). Timers
 * armed by callbacks for a time <= now_ms fire in the same call, within the
 * bound. Returns the number fired. */
size_t rp_timers_expire(rp_timers *ts, uint64_t now_ms, size_t max);

#endif
