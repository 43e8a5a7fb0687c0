/* rp_metrics: a Prometheus metrics registry (text exposition format 0.0.4).
 *
 * Registration (at start-up) takes a mutex; updates never do: a value cell
 * (rp_mval) is one 64-bit atomic updated with a relaxed read-modify-write, so
 * the packet and SIP paths pay one uncontended atomic add per event. Each
 * cell sits on its own cache line so two hot counters never share one.
 *
 * Kinds:
 *   counter      monotonic uint64; the name must end in "_total".
 *   gauge        int64 that goes up and down.
 *   *_vec        the same with up to RP_METRICS_MAX_LABELS label names and
 *                at most max_series label value sets (a small fixed set such
 *                as method, code, reason). rp_metric_with() finds a series
 *                without a lock; only creating a new one locks.
 *   *_fn         a value read from a callback at scrape time (port-pool
 *                usage, table sizes): nothing to update on any path.
 *   histogram    fixed bucket upper bounds; observe() is lock-free.
 *
 * Names follow Prometheus conventions: rampart_<subsystem>_<name>_total for
 * counters, base units (_seconds, _bytes). Families are rendered in
 * registration order, series in creation order, so output is stable.
 *
 * Ownership: the registry owns every family, series and histogram it hands
 * out; pointers stay valid until rp_metrics_free(). Strings passed in are
 * copied. All functions are thread-safe.
 */
#ifndef RP_METRICS_H
#define RP_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "rp_buf.h"

#define RP_METRICS_MAX_LABELS 3
/* Content-Type of rp_metrics_render() output. */
#define RP_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

typedef struct rp_metrics rp_metrics;
typedef struct rp_metric rp_metric; /* one family (a name with HELP/TYPE) */
typedef struct rp_mval rp_mval;     /* one time series' value cell */
typedef struct rp_hist rp_hist;

/* Creates an empty registry. Free with rp_metrics_free(). */
int rp_metrics_new(rp_metrics **out);
/* Frees the registry and everything it handed out. NULL is a no-op. */
void rp_metrics_free(rp_metrics *m);

/* Unlabelled counter / gauge; *out is the value cell to update.
 * -EINVAL: bad name (or a counter not ending in "_total"), empty help;
 * -EEXIST: name already registered; -ENOMEM. */
int rp_metrics_counter(rp_metrics *m, const char *name, const char *help, rp_mval **out);
int rp_metrics_gauge(rp_metrics *m, const char *name, const char *help, rp_mval **out);

/* Labelled families: nlabels (1..RP_METRICS_MAX_LABELS) label names, at most
 * max_series (1..1024) distinct value sets. */
int rp_metrics_counter_vec(rp_metrics *m, const char *name, const char *help,
	unsigned nlabels, const char *const *label_names, unsigned max_series,
	rp_metric **out);
int rp_metrics_gauge_vec(rp_metrics *m, const char *name, const char *help,
	unsigned nlabels, const char *const *label_names, unsigned max_series,
	rp_metric **out);

/* Finds or creates the series with these label values (nlabels strings,
 * any bytes; escaped on output). -ENOSPC when max_series are taken: the
 * caller counts the event elsewhere (rp_metric_inc_labels does not fail
 * loudly, see below). Hot paths should cache *out. */
int rp_metric_with(rp_metric *f, const char *const *values, rp_mval **out);
/* rp_metric_with + add; an event beyond max_series is counted in the
 * registry's own rampart_metrics_series_overflow_total. */
void rp_metric_add_labels(rp_metric *f, const char *const *values, uint64_t n);
static inline void rp_metric_inc_labels(rp_metric *f, const char *const *values)
{
	rp_metric_add_labels(f, values, 1);
}

/* Scrape-time values. fn is called with the registry lock held, from the
 * scraping thread: it must be quick and thread-safe and must not call into
 * the registry. */
typedef int64_t (*rp_metric_fn)(void *arg);
int rp_metrics_gauge_fn(rp_metrics *m, const char *name, const char *help,
	rp_metric_fn fn, void *arg);
int rp_metrics_counter_fn(rp_metrics *m, const char *name, const char *help,
	rp_metric_fn fn, void *arg);

/* Histogram with nbounds strictly increasing finite upper bounds (1..32);
 * the +Inf bucket is implicit. */
int rp_metrics_histogram(rp_metrics *m, const char *name, const char *help,
	const double *bounds, unsigned nbounds, rp_hist **out);
void rp_hist_observe(rp_hist *h, double v);

/* Value updates: one relaxed atomic operation each. */
void rp_mval_inc(rp_mval *v);
void rp_mval_add(rp_mval *v, uint64_t n);
void rp_mval_dec(rp_mval *v);                 /* gauges */
void rp_mval_set(rp_mval *v, int64_t x);      /* gauges */
void rp_mval_gauge_add(rp_mval *v, int64_t d); /* gauges */
uint64_t rp_mval_get(const rp_mval *v);       /* raw bits; gauges: cast to int64_t */

/* Appends the whole registry in text format 0.0.4 to out. Returns 0 or the
 * rp_buf error. */
int rp_metrics_render(rp_metrics *m, rp_buf *out);

#endif
