#include "rp_time.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	/* Cannot fail for these clocks with a valid pointer. */
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

uint64_t rp_now_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

uint64_t rp_now_us(void)
{
	return rp_now_ns() / 1000;
}

uint64_t rp_now_ms(void)
{
	return rp_now_ns() / 1000000;
}

uint64_t rp_realtime_ns(void)
{
	return clock_ns(CLOCK_REALTIME);
}

int rp_time_fmt_utc(uint64_t realtime_ns, char *dst, size_t dstsz)
{
	time_t sec = (time_t)(realtime_ns / 1000000000ULL);
	unsigned ms = (unsigned)(realtime_ns % 1000000000ULL / 1000000ULL);
	struct tm tm;
	int n;

	if (dstsz < 25 || !gmtime_r(&sec, &tm)) {
		if (dstsz)
			dst[0] = '\0';
		return -ENOSPC;
	}
	n = snprintf(dst, dstsz, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ",
		     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		     tm.tm_min, tm.tm_sec, ms);
	if (n < 0 || (size_t)n >= dstsz) {
		dst[0] = '\0';
		return -ENOSPC;
	}
	return n;
}

/* ---- timer heap ---- */

struct rp_timers {
	rp_timer **heap;
	size_t n;
	size_t cap;
	uint64_t seq;
};

void rp_timer_init(rp_timer *t, rp_timer_fn fn, void *arg)
{
	t->expires = 0;
	t->seq = 0;
	t->idx = RP_TIMER_IDLE;
	t->fn = fn;
	t->arg = arg;
}

int rp_timers_new(size_t hint, rp_timers **out)
{
	rp_timers *ts = calloc(1, sizeof(*ts));

	if (!ts)
		return -ENOMEM;
	ts->cap = hint ? hint : 64;
	ts->heap = calloc(ts->cap, sizeof(*ts->heap));
	if (!ts->heap) {
		free(ts);
		return -ENOMEM;
	}
	*out = ts;
	return 0;
}

void rp_timers_free(rp_timers *ts)
{
	if (!ts)
		return;
	for (size_t i = 0; i < ts->n; i++)
		ts->heap[i]->idx = RP_TIMER_IDLE;
	free(ts->heap);
	free(ts);
}

static inline bool before(const rp_timer *a, const rp_timer *b)
{
	return a->expires < b->expires ||
	       (a->expires == b->expires && a->seq < b->seq);
}

static inline void place(rp_timers *ts, rp_timer *t, size_t i)
{
	ts->heap[i] = t;
	t->idx = i;
}

static void sift_up(rp_timers *ts, size_t i)
{
	rp_timer *t = ts->heap[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (!before(t, ts->heap[parent]))
			break;
		place(ts, ts->heap[parent], i);
		i = parent;
	}
	place(ts, t, i);
}

static void sift_down(rp_timers *ts, size_t i)
{
	rp_timer *t = ts->heap[i];

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= ts->n)
			break;
		if (c + 1 < ts->n && before(ts->heap[c + 1], ts->heap[c]))
			c++;
		if (!before(ts->heap[c], t))
			break;
		place(ts, ts->heap[c], i);
		i = c;
	}
	place(ts, t, i);
}

/* Takes the entry at i out of the heap and restores the heap order. */
static void heap_remove(rp_timers *ts, size_t i)
{
	rp_timer *t = ts->heap[i];

	t->idx = RP_TIMER_IDLE;
	ts->n--;
	if (i == ts->n)
		return;
	place(ts, ts->heap[ts->n], i);
	if (i > 0 && before(ts->heap[i], ts->heap[(i - 1) / 2]))
		sift_up(ts, i);
	else
		sift_down(ts, i);
}

int rp_timers_add(rp_timers *ts, rp_timer *t, uint64_t expires_ms)
{
	if (t->idx != RP_TIMER_IDLE) {
		/* Re-arm in place: no allocation, cannot fail. */
		t->expires = expires_ms;
		t->seq = ts->seq++;
		sift_up(ts, t->idx);
		sift_down(ts, t->idx);
		return 0;
	}
	if (ts->n == ts->cap) {
		size_t ncap = ts->cap * 2;
		rp_timer **nh;

		if (ncap < ts->cap || ncap > SIZE_MAX / sizeof(*nh))
			return -ENOMEM;
		nh = realloc(ts->heap, ncap * sizeof(*nh));
		if (!nh)
			return -ENOMEM;
		ts->heap = nh;
		ts->cap = ncap;
	}
	t->expires = expires_ms;
	t->seq = ts->seq++;
	ts->heap[ts->n] = t;
	t->idx = ts->n++;
	sift_up(ts, t->idx);
	return 0;
}

void rp_timers_cancel(rp_timers *ts, rp_timer *t)
{
	if (t->idx == RP_TIMER_IDLE)
		return;
	heap_remove(ts, t->idx);
}

size_t rp_timers_count(const rp_timers *ts)
{
	return ts->n;
}

uint64_t rp_timers_next(const rp_timers *ts)
{
	return ts->n ? ts->heap[0]->expires : UINT64_MAX;
}

int rp_timers_timeout_ms(const rp_timers *ts, uint64_t now_ms)
{
	uint64_t next = rp_timers_next(ts);

	if (next == UINT64_MAX)
		return -1;
	if (next <= now_ms)
		return 0;
	if (next - now_ms > INT32_MAX)
		return INT32_MAX;
	return (int)(next - now_ms);
}

size_t rp_timers_expire(rp_timers *ts, uint64_t now_ms, size_t max)
{
	size_t fired = 0;

	while (ts->n && ts->heap[0]->expires <= now_ms &&
	       (max == 0 || fired < max)) {
		rp_timer *t = ts->heap[0];

		heap_remove(ts, 0);
		fired++;
		if (t->fn)
			t->fn(t, t->arg);
	}
	return fired;
}
