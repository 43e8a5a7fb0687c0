/* Tests for rp_metrics: exact exposition text, validation, label series,
 * concurrent updates. */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rp_metrics.h"

static const char *OVERFLOW_HDR =
	"# HELP rampart_metrics_series_overflow_total Label value sets dropped because a labelled metric had no series left\n"
	"# TYPE rampart_metrics_series_overflow_total counter\n";

static char *render(rp_metrics *m)
{
	rp_buf b;
	rp_buf_init(&b, 0);
	ck_assert_int_eq(rp_metrics_render(m, &b), 0);
	char *s = rp_buf_steal(&b, NULL);
	ck_assert_ptr_nonnull(s);
	return s;
}

static int64_t pool_used(void *arg)
{
	return *(int64_t *)arg;
}

START_TEST(golden_text)
{
	rp_metrics *m;
	ck_assert_int_eq(rp_metrics_new(&m), 0);
	rp_mval *calls, *active;
	rp_metric *req;
	rp_hist *h;
	ck_assert_int_eq(rp_metrics_counter(m, "rampart_proxy_calls_total",
		"Calls set up since start", &calls), 0);
	ck_assert_int_eq(rp_metrics_gauge(m, "rampart_proxy_calls_active",
		"Calls in progress\nnow, C:\\x", &active), 0);
	const char *ln[] = { "method", "code" };
	ck_assert_int_eq(rp_metrics_counter_vec(m, "rampart_sip_responses_total",
		"SIP responses sent", 2, ln, 8, &req), 0);
	int64_t used = 17;
	ck_assert_int_eq(rp_metrics_gauge_fn(m, "rampart_mediad_ports_used",
		"Media ports in use", pool_used, &used), 0);
	const double bounds[] = { 0.005, 0.1, 1 };
	ck_assert_int_eq(rp_metrics_histogram(m, "rampart_proxy_setup_seconds",
		"INVITE to final response", bounds, 3, &h), 0);

	rp_mval_inc(calls);
	rp_mval_add(calls, 41);
	rp_mval_set(active, 5);
	rp_mval_dec(active);
	rp_mval_gauge_add(active, -10);
	rp_metric_inc_labels(req, (const char *[]){ "INVITE", "200" });
	rp_metric_add_labels(req, (const char *[]){ "BYE", "481" }, 3);
	rp_metric_inc_labels(req, (const char *[]){ "INVITE", "200" });
	rp_metric_inc_labels(req, (const char *[]){ "X\"y\\z\n", "1" });
	rp_hist_observe(h, 0.00390625);
	rp_hist_observe(h, 0.0625);
	rp_hist_observe(h, 0.5);
	rp_hist_observe(h, 7);

	char *s = render(m);
	char want[4096];
	snprintf(want, sizeof(want), "%s%s", OVERFLOW_HDR,
		"rampart_metrics_series_overflow_total 0\n"
		"# HELP rampart_proxy_calls_total Calls set up since start\n"
		"# TYPE rampart_proxy_calls_total counter\n"
		"rampart_proxy_calls_total 42\n"
		"# HELP rampart_proxy_calls_active Calls in progress\\nnow, C:\\\\x\n"
		"# TYPE rampart_proxy_calls_active gauge\n"
		"rampart_proxy_calls_active -6\n"
		"# HELP rampart_sip_responses_total SIP responses sent\n"
		"# TYPE rampart_sip_responses_total counter\n"
		"rampart_sip_responses_total{method=\"INVITE\",code=\"200\"} 2\n"
		"rampart_sip_responses_total{method=\"BYE\",code=\"481\"} 3\n"
		"rampart_sip_responses_total{method=\"X\\\"y\\\\z\\n\",code=\"1\"} 1\n"
		"# HELP rampart_mediad_ports_used Media ports in use\n"
		"# TYPE rampart_mediad_ports_used gauge\n"
		"rampart_mediad_ports_used 17\n"
		"# HELP rampart_proxy_setup_seconds INVITE to final response\n"
		"# TYPE rampart_proxy_setup_seconds histogram\n"
		"rampart_proxy_setup_seconds_bucket{le=\"0.005\"} 1\n"
		"rampart_proxy_setup_seconds_bucket{le=\"0.1\"} 2\n"
		"rampart_proxy_setup_seconds_bucket{le=\"1\"} 3\n"
		"rampart_proxy_setup_seconds_bucket{le=\"+Inf\"} 4\n"
		"rampart_proxy_setup_seconds_sum 7.56640625\n"
		"rampart_proxy_setup_seconds_count 4\n");
	ck_assert_str_eq(s, want);
	free(s);
	/* A scrape-time value is read at each render. */
	used = 3;
	s = render(m);
	ck_assert_ptr_nonnull(strstr(s, "\nrampart_mediad_ports_used 3\n"));
	free(s);
	rp_metrics_free(m);
}
END_TEST

START_TEST(validation)
{
	rp_metrics *m;
	rp_mval *v;
	rp_metric *f;
	ck_assert_int_eq(rp_metrics_new(&m), 0);
	ck_assert_int_eq(rp_metrics_counter(m, "rampart_x", "h", &v), -EINVAL); /* no _total */
	ck_assert_int_eq(rp_metrics_counter(m, "9abc_total", "h", &v), -EINVAL);
	ck_assert_int_eq(rp_metrics_counter(m, "a-b_total", "h", &v), -EINVAL);
	ck_assert_int_eq(rp_metrics_gauge(m, "rampart_g", "", &v), -EINVAL);
	ck_assert_int_eq(rp_metrics_gauge(m, "rampart_g", "h", &v), 0);
	ck_assert_int_eq(rp_metrics_gauge(m, "rampart_g", "h", &v), -EEXIST);
	ck_assert_int_eq(rp_metrics_counter_vec(m, "r_total", "h", 1,
		(const char *[]){ "__x" }, 4, &f), -EINVAL);
	ck_assert_int_eq(rp_metrics_counter_vec(m, "r_total", "h", 2,
		(const char *[]){ "a", "a" }, 4, &f), -EINVAL);
	ck_assert_int_eq(rp_metrics_counter_vec(m, "r_total", "h", 4,
		(const char *[]){ "a", "b", "c", "d" }, 4, &f), -EINVAL);
	ck_assert_int_eq(rp_metrics_histogram(m, "r_seconds", "h",
		(const double[]){ 1, 1 }, 2, &(rp_hist *){ NULL }), -EINVAL);
	rp_metrics_free(m);
}
END_TEST

START_TEST(series_cap)
{
	rp_metrics *m;
	rp_metric *f;
	rp_mval *a, *b, *c;
	ck_assert_int_eq(rp_metrics_new(&m), 0);
	ck_assert_int_eq(rp_metrics_counter_vec(m, "rampart_tls_handshake_failures_total",
		"h", 1, (const char *[]){ "reason" }, 2, &f), 0);
	ck_assert_int_eq(rp_metric_with(f, (const char *[]){ "cert" }, &a), 0);
	ck_assert_int_eq(rp_metric_with(f, (const char *[]){ "version" }, &b), 0);
	ck_assert_ptr_ne(a, b);
	ck_assert_int_eq(rp_metric_with(f, (const char *[]){ "cert" }, &c), 0);
	ck_assert_ptr_eq(a, c);
	ck_assert_int_eq(rp_metric_with(f, (const char *[]){ "other" }, &c), -ENOSPC);
	rp_metric_inc_labels(f, (const char *[]){ "third" });
	char *s = render(m);
	ck_assert_ptr_nonnull(strstr(s, "\nrampart_metrics_series_overflow_total 1\n"));
	ck_assert_ptr_null(strstr(s, "third"));
	free(s);
	rp_metrics_free(m);
}
END_TEST

#define THREADS 4
#define PER_THREAD 200000

struct worker {
	rp_mval *c;
	rp_metric *vec;
	rp_hist *h;
	int id;
};

static void *bump(void *arg)
{
	struct worker *w = arg;
	const char *codes[] = { "200", "404", "500" };
	for (int i = 0; i < PER_THREAD; i++) {
		rp_mval_inc(w->c);
		if (i % 100 == 0)
			rp_metric_inc_labels(w->vec, (const char *[]){ codes[(i / 100 + w->id) % 3] });
		if (i % 1000 == 0)
			rp_hist_observe(w->h, 0.25);
	}
	return NULL;
}

START_TEST(concurrent_sum_exact)
{
	rp_metrics *m;
	rp_mval *c;
	rp_metric *vec;
	rp_hist *h;
	ck_assert_int_eq(rp_metrics_new(&m), 0);
	ck_assert_int_eq(rp_metrics_counter(m, "rampart_media_packets_total", "h", &c), 0);
	ck_assert_int_eq(rp_metrics_counter_vec(m, "rampart_sip_responses_total", "h", 1,
		(const char *[]){ "code" }, 8, &vec), 0);
	ck_assert_int_eq(rp_metrics_histogram(m, "rampart_x_seconds", "h",
		(const double[]){ 0.5 }, 1, &h), 0);
	pthread_t t[THREADS];
	struct worker w[THREADS];
	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct worker){ c, vec, h, i };
		ck_assert_int_eq(pthread_create(&t[i], NULL, bump, &w[i]), 0);
	}
	/* Scrapes during the updates must not disturb them. */
	for (int i = 0; i < 20; i++) {
		char *s = render(m);
		free(s);
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	ck_assert_uint_eq(rp_mval_get(c), (uint64_t)THREADS * PER_THREAD);
	uint64_t total = 0;
	for (int k = 0; k < 3; k++) {
		rp_mval *v;
		ck_assert_int_eq(rp_metric_with(vec, (const char *[]){ (const char *[]){ "200", "404", "500" }[k] }, &v), 0);
		total += rp_mval_get(v);
	}
	ck_assert_uint_eq(total, (uint64_t)THREADS * (PER_THREAD / 100));
	char *s = render(m);
	char want[128];
	snprintf(want, sizeof(want), "rampart_x_seconds_count %d\n", THREADS * PER_THREAD / 1000);
	ck_assert_ptr_nonnull(strstr(s, want));
	snprintf(want, sizeof(want), "rampart_x_seconds_sum %d\n", THREADS * PER_THREAD / 1000 / 4);
	ck_assert_ptr_nonnull(strstr(s, want));
	free(s);
	rp_metrics_free(m);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, golden_text);
	tcase_add_test(tc, validation);
	tcase_add_test(tc, series_cap);
	tcase_add_test(tc, concurrent_sum_exact);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
