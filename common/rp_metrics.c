/* rp_metrics: see rp_metrics.h. */
#include "rp_metrics.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SERIES 1024
#define MAX_BOUNDS 32

enum kind { K_COUNTER, K_GAUGE, K_HIST };

/* One cache line per cell: counters bumped by different threads must not
 * share a line. */
struct rp_mval {
	_Alignas(64) _Atomic uint64_t v;
};

struct rp_hist {
	unsigned nb;
	double bounds[MAX_BOUNDS];
	_Atomic uint64_t buckets[MAX_BOUNDS + 1]; /* per bucket, not cumulative */
	_Atomic uint64_t count;
	_Atomic uint64_t sum_bits; /* a double, updated by compare-and-swap */
};

struct rp_metric {
	struct rp_metric *next;
	rp_metrics *reg;
	enum kind kind;
	char *name;
	char *help;
	unsigned nlabels;
	char *label_names[RP_METRICS_MAX_LABELS];
	unsigned max_series;
	/* Series [0, nseries) are complete and immutable except for their
	 * cell; a new one is filled in under the lock, then published by a
	 * release store. */
	_Atomic unsigned nseries;
	rp_mval *cells;
	char **vals;     /* max_series * nlabels copies */
	uint32_t *hashes; /* per series, of its values: most lookups compare no string */
	char **labelstr; /* rendered "{a=\"x\"}" per series, "" unlabelled */
	rp_metric_fn fn;
	void *arg;
	rp_hist *hist;
};

struct rp_metrics {
	pthread_mutex_t lock;
	rp_metric *head, *tail;
	rp_mval *overflow;
};

static bool name_ok(const char *s, bool label)
{
	if (!s || !*s)
		return false;
	if (label && s[0] == '_' && s[1] == '_')
		return false; /* reserved for Prometheus itself */
	for (size_t i = 0; s[i]; i++) {
		char c = s[i];
		bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
			(!label && c == ':');
		if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
			return false;
	}
	return true;
}

static bool ends_with(const char *s, const char *suf)
{
	size_t a = strlen(s), b = strlen(suf);
	return a >= b && memcmp(s + a - b, suf, b) == 0;
}

static void family_free(rp_metric *f)
{
	if (!f)
		return;
	unsigned n = atomic_load_explicit(&f->nseries, memory_order_relaxed);
	if (f->vals) {
		for (size_t i = 0; i < (size_t)n * f->nlabels; i++)
			free(f->vals[i]);
		free(f->vals);
	}
	if (f->labelstr) {
		for (unsigned i = 0; i < n; i++)
			if (f->labelstr[i] && f->labelstr[i][0])
				free(f->labelstr[i]);
		free(f->labelstr);
	}
	for (unsigned i = 0; i < f->nlabels; i++)
		free(f->label_names[i]);
	free(f->cells);
	free(f->hashes);
	free(f->hist);
	free(f->name);
	free(f->help);
	free(f);
}

void rp_metrics_free(rp_metrics *m)
{
	if (!m)
		return;
	rp_metric *f = m->head;
	while (f) {
		rp_metric *next = f->next;
		family_free(f);
		f = next;
	}
	pthread_mutex_destroy(&m->lock);
	free(m);
}

/* Builds a family (not yet linked). */
static int family_make(rp_metrics *m, enum kind kind, const char *name, const char *help,
	unsigned nlabels, const char *const *label_names, unsigned max_series, rp_metric **out)
{
	if (!name_ok(name, false) || !help || !*help)
		return -EINVAL;
	if (kind == K_COUNTER && !ends_with(name, "_total"))
		return -EINVAL;
	if (nlabels > RP_METRICS_MAX_LABELS || max_series < 1 || max_series > MAX_SERIES)
		return -EINVAL;
	if (nlabels == 0 && max_series != 1)
		return -EINVAL;
	for (unsigned i = 0; i < nlabels; i++) {
		if (!label_names || !name_ok(label_names[i], true))
			return -EINVAL;
		for (unsigned k = 0; k < i; k++)
			if (strcmp(label_names[i], label_names[k]) == 0)
				return -EINVAL;
	}
	rp_metric *f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->reg = m;
	f->kind = kind;
	f->nlabels = nlabels;
	f->max_series = max_series;
	f->name = strdup(name);
	f->help = strdup(help);
	f->cells = aligned_alloc(64, sizeof(rp_mval) * max_series);
	f->labelstr = calloc(max_series, sizeof(char *));
	if (nlabels) {
		f->vals = calloc((size_t)max_series * nlabels, sizeof(char *));
		f->hashes = calloc(max_series, sizeof(uint32_t));
	}
	if (!f->name || !f->help || !f->cells || !f->labelstr ||
		(nlabels && (!f->vals || !f->hashes)))
		goto nomem;
	memset(f->cells, 0, sizeof(rp_mval) * max_series);
	for (unsigned i = 0; i < nlabels; i++) {
		f->label_names[i] = strdup(label_names[i]);
		if (!f->label_names[i])
			goto nomem;
	}
	*out = f;
	return 0;
nomem:
	family_free(f);
	return -ENOMEM;
}

/* Links f unless its name is taken; frees it on failure. */
static int family_add(rp_metrics *m, rp_metric *f)
{
	pthread_mutex_lock(&m->lock);
	for (rp_metric *g = m->head; g; g = g->next) {
		if (strcmp(g->name, f->name) == 0) {
			pthread_mutex_unlock(&m->lock);
			family_free(f);
			return -EEXIST;
		}
	}
	if (m->tail)
		m->tail->next = f;
	else
		m->head = f;
	m->tail = f;
	pthread_mutex_unlock(&m->lock);
	return 0;
}

static int scalar(rp_metrics *m, enum kind kind, const char *name, const char *help,
	rp_mval **out)
{
	rp_metric *f;
	int rc = family_make(m, kind, name, help, 0, NULL, 1, &f);
	if (rc)
		return rc;
	f->labelstr[0] = (char *)"";
	atomic_store_explicit(&f->nseries, 1, memory_order_release);
	rp_mval *cell = &f->cells[0];
	rc = family_add(m, f);
	if (rc)
		return rc;
	*out = cell;
	return 0;
}

int rp_metrics_counter(rp_metrics *m, const char *name, const char *help, rp_mval **out)
{
	return scalar(m, K_COUNTER, name, help, out);
}

int rp_metrics_gauge(rp_metrics *m, const char *name, const char *help, rp_mval **out)
{
	return scalar(m, K_GAUGE, name, help, out);
}

int rp_metrics_new(rp_metrics **out)
{
	rp_metrics *m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	if (pthread_mutex_init(&m->lock, NULL) != 0) {
		free(m);
		return -ENOMEM;
	}
	int rc = rp_metrics_counter(m, "rampart_metrics_series_overflow_total",
		"Label value sets dropped because a labelled metric had no series left", &m->overflow);
	if (rc) {
		rp_metrics_free(m);
		return rc;
	}
	*out = m;
	return 0;
}

static int vec(rp_metrics *m, enum kind kind, const char *name, const char *help,
	unsigned nlabels, const char *const *label_names, unsigned max_series, rp_metric **out)
{
	if (nlabels == 0)
		return -EINVAL;
	rp_metric *f;
	int rc = family_make(m, kind, name, help, nlabels, label_names, max_series, &f);
	if (rc)
		return rc;
	rc = family_add(m, f);
	if (rc)
		return rc;
	*out = f;
	return 0;
}

int rp_metrics_counter_vec(rp_metrics *m, const char *name, const char *help,
	unsigned nlabels, const char *const *label_names, unsigned max_series, rp_metric **out)
{
	return vec(m, K_COUNTER, name, help, nlabels, label_names, max_series, out);
}

int rp_metrics_gauge_vec(rp_metrics *m, const char *name, const char *help,
	unsigned nlabels, const char *const *label_names, unsigned max_series, rp_metric **out)
{
	return vec(m, K_GAUGE, name, help, nlabels, label_names, max_series, out);
}

static int fn_family(rp_metrics *m, enum kind kind, const char *name, const char *help,
	rp_metric_fn fn, void *arg)
{
	if (!fn)
		return -EINVAL;
	rp_metric *f;
	int rc = family_make(m, kind, name, help, 0, NULL, 1, &f);
	if (rc)
		return rc;
	f->fn = fn;
	f->arg = arg;
	f->labelstr[0] = (char *)"";
	atomic_store_explicit(&f->nseries, 1, memory_order_release);
	return family_add(m, f);
}

int rp_metrics_gauge_fn(rp_metrics *m, const char *name, const char *help,
	rp_metric_fn fn, void *arg)
{
	return fn_family(m, K_GAUGE, name, help, fn, arg);
}

int rp_metrics_counter_fn(rp_metrics *m, const char *name, const char *help,
	rp_metric_fn fn, void *arg)
{
	return fn_family(m, K_COUNTER, name, help, fn, arg);
}

/* FNV-1a over the values, each with its terminating NUL. */
static uint32_t values_hash(unsigned n, const char *const *values)
{
	uint32_t h = 2166136261u;
	for (unsigned k = 0; k < n; k++) {
		const unsigned char *p = (const unsigned char *)values[k];
		do {
			h = (h ^ *p) * 16777619u;
		} while (*p++);
	}
	return h;
}

static bool series_match(const rp_metric *f, unsigned i, uint32_t h, const char *const *values)
{
	if (f->hashes[i] != h)
		return false;
	for (unsigned k = 0; k < f->nlabels; k++)
		if (strcmp(f->vals[(size_t)i * f->nlabels + k], values[k]) != 0)
			return false;
	return true;
}

static int escape_into(rp_buf *b, const char *s, bool quote)
{
	for (; *s; s++) {
		if (*s == '\\')
			rp_buf_append(b, "\\\\", 2);
		else if (*s == '\n')
			rp_buf_append(b, "\\n", 2);
		else if (quote && *s == '"')
			rp_buf_append(b, "\\\"", 2);
		else
			rp_buf_append_byte(b, *s);
	}
	return rp_buf_error(b);
}

int rp_metric_with(rp_metric *f, const char *const *values, rp_mval **out)
{
	if (!f || !values || f->nlabels == 0)
		return -EINVAL;
	for (unsigned k = 0; k < f->nlabels; k++)
		if (!values[k])
			return -EINVAL;
	uint32_t h = values_hash(f->nlabels, values);
	unsigned n = atomic_load_explicit(&f->nseries, memory_order_acquire);
	for (unsigned i = 0; i < n; i++) {
		if (series_match(f, i, h, values)) {
			*out = &f->cells[i];
			return 0;
		}
	}
	rp_metrics *m = f->reg;
	int rc = 0;
	pthread_mutex_lock(&m->lock);
	/* Another thread may have added it since the lock-free scan. */
	n = atomic_load_explicit(&f->nseries, memory_order_relaxed);
	for (unsigned i = 0; i < n; i++) {
		if (series_match(f, i, h, values)) {
			*out = &f->cells[i];
			goto out;
		}
	}
	if (n >= f->max_series) {
		rc = -ENOSPC;
		goto out;
	}
	char **v = &f->vals[(size_t)n * f->nlabels];
	rp_buf b;
	rp_buf_init(&b, 0);
	rp_buf_append_byte(&b, '{');
	for (unsigned k = 0; k < f->nlabels; k++) {
		v[k] = strdup(values[k]);
		if (!v[k]) {
			rc = -ENOMEM;
			break;
		}
		if (k)
			rp_buf_append_byte(&b, ',');
		rp_buf_printf(&b, "%s=\"", f->label_names[k]);
		escape_into(&b, values[k], true);
		rp_buf_append_byte(&b, '"');
	}
	rp_buf_append_byte(&b, '}');
	if (!rc)
		rc = rp_buf_error(&b);
	if (rc) {
		for (unsigned k = 0; k < f->nlabels; k++) {
			free(v[k]);
			v[k] = NULL;
		}
		rp_buf_free(&b);
		goto out;
	}
	f->labelstr[n] = rp_buf_steal(&b, NULL);
	if (!f->labelstr[n]) {
		for (unsigned k = 0; k < f->nlabels; k++) {
			free(v[k]);
			v[k] = NULL;
		}
		rc = -ENOMEM;
		goto out;
	}
	f->hashes[n] = h;
	atomic_store_explicit(&f->cells[n].v, 0, memory_order_relaxed);
	atomic_store_explicit(&f->nseries, n + 1, memory_order_release);
	*out = &f->cells[n];
out:
	pthread_mutex_unlock(&m->lock);
	return rc;
}

void rp_metric_add_labels(rp_metric *f, const char *const *values, uint64_t n)
{
	rp_mval *v;
	if (rp_metric_with(f, values, &v) == 0)
		rp_mval_add(v, n);
	else if (f)
		rp_mval_inc(f->reg->overflow);
}

int rp_metrics_histogram(rp_metrics *m, const char *name, const char *help,
	const double *bounds, unsigned nbounds, rp_hist **out)
{
	if (!bounds || nbounds < 1 || nbounds > MAX_BOUNDS)
		return -EINVAL;
	for (unsigned i = 0; i < nbounds; i++) {
		if (!isfinite(bounds[i]) || (i > 0 && !(bounds[i] > bounds[i - 1])))
			return -EINVAL;
	}
	rp_metric *f;
	int rc = family_make(m, K_HIST, name, help, 0, NULL, 1, &f);
	if (rc)
		return rc;
	f->hist = calloc(1, sizeof(*f->hist));
	if (!f->hist) {
		family_free(f);
		return -ENOMEM;
	}
	f->hist->nb = nbounds;
	memcpy(f->hist->bounds, bounds, nbounds * sizeof(double));
	f->labelstr[0] = (char *)"";
	atomic_store_explicit(&f->nseries, 1, memory_order_release);
	rp_hist *h = f->hist;
	rc = family_add(m, f);
	if (rc)
		return rc;
	*out = h;
	return 0;
}

void rp_hist_observe(rp_hist *h, double v)
{
	unsigned i = 0;
	while (i < h->nb && v > h->bounds[i])
		i++;
	atomic_fetch_add_explicit(&h->buckets[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
	uint64_t old = atomic_load_explicit(&h->sum_bits, memory_order_relaxed), nw;
	do {
		double s;
		memcpy(&s, &old, sizeof(s));
		s += v;
		memcpy(&nw, &s, sizeof(nw));
	} while (!atomic_compare_exchange_weak_explicit(&h->sum_bits, &old, nw,
		memory_order_relaxed, memory_order_relaxed));
}

void rp_mval_inc(rp_mval *v)
{
	atomic_fetch_add_explicit(&v->v, 1, memory_order_relaxed);
}

void rp_mval_add(rp_mval *v, uint64_t n)
{
	atomic_fetch_add_explicit(&v->v, n, memory_order_relaxed);
}

void rp_mval_dec(rp_mval *v)
{
	atomic_fetch_sub_explicit(&v->v, 1, memory_order_relaxed);
}

void rp_mval_set(rp_mval *v, int64_t x)
{
	atomic_store_explicit(&v->v, (uint64_t)x, memory_order_relaxed);
}

void rp_mval_gauge_add(rp_mval *v, int64_t d)
{
	atomic_fetch_add_explicit(&v->v, (uint64_t)d, memory_order_relaxed);
}

uint64_t rp_mval_get(const rp_mval *v)
{
	return atomic_load_explicit(&((rp_mval *)v)->v, memory_order_relaxed);
}

/* Shortest of %.15g / %.17g that reads back exactly. */
static void fmt_double(rp_buf *b, double d)
{
	char tmp[40];
	if (isnan(d)) {
		rp_buf_append_cstr(b, "NaN");
		return;
	}
	if (isinf(d)) {
		rp_buf_append_cstr(b, d > 0 ? "+Inf" : "-Inf");
		return;
	}
	snprintf(tmp, sizeof(tmp), "%.15g", d);
	if (strtod(tmp, NULL) != d)
		snprintf(tmp, sizeof(tmp), "%.17g", d);
	rp_buf_append_cstr(b, tmp);
}

static const char *type_name(enum kind k)
{
	return k == K_COUNTER ? "counter" : k == K_GAUGE ? "gauge" : "histogram";
}

static void render_hist(const rp_metric *f, rp_buf *b)
{
	const rp_hist *h = f->hist;
	uint64_t cum = 0;
	for (unsigned i = 0; i <= h->nb; i++) {
		cum += atomic_load_explicit(&((rp_hist *)h)->buckets[i], memory_order_relaxed);
		rp_buf_printf(b, "%s_bucket{le=\"", f->name);
		if (i < h->nb)
			fmt_double(b, h->bounds[i]);
		else
			rp_buf_append_cstr(b, "+Inf");
		rp_buf_printf(b, "\"} %" PRIu64 "\n", cum);
	}
	uint64_t bits = atomic_load_explicit(&((rp_hist *)h)->sum_bits, memory_order_relaxed);
	double sum;
	memcpy(&sum, &bits, sizeof(sum));
	rp_buf_printf(b, "%s_sum ", f->name);
	fmt_double(b, sum);
	/* Buckets and count are read apart; a concurrent observe can make them
	 * differ by one, as in every lock-free client library. Use the bucket
	 * total so +Inf == _count always holds. */
	rp_buf_printf(b, "\n%s_count %" PRIu64 "\n", f->name, cum);
}

int rp_metrics_render(rp_metrics *m, rp_buf *b)
{
	pthread_mutex_lock(&m->lock);
	for (const rp_metric *f = m->head; f; f = f->next) {
		rp_buf_printf(b, "# HELP %s ", f->name);
		escape_into(b, f->help, false);
		rp_buf_printf(b, "\n# TYPE %s %s\n", f->name, type_name(f->kind));
		if (f->kind == K_HIST) {
			render_hist(f, b);
			continue;
		}
		if (f->fn) {
			int64_t x = f->fn(f->arg);
			rp_buf_printf(b, "%s %" PRId64 "\n", f->name, x);
			continue;
		}
		unsigned n = atomic_load_explicit(&((rp_metric *)f)->nseries, memory_order_acquire);
		for (unsigned i = 0; i < n; i++) {
			uint64_t x = rp_mval_get(&f->cells[i]);
			if (f->kind == K_COUNTER)
				rp_buf_printf(b, "%s%s %" PRIu64 "\n", f->name, f->labelstr[i], x);
			else
				rp_buf_printf(b, "%s%s %" PRId64 "\n", f->name, f->labelstr[i], (int64_t)x);
		}
	}
	pthread_mutex_unlock(&m->lock);
	return rp_buf_error(b);
}
