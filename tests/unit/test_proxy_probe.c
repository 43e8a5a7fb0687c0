/* proxy/probe: the reachability state machine of trunk addresses, on a
 * made-up clock: due times, one probe in flight per address, down after N
 * failures in a row, up after M successes in a row, what counts as a
 * failure, state kept across a new set, stale results ignored. */
#include "probe.h"

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define T0 1000000ull

static struct rp_probe_addr mk(const char *trunk, const char *ip, uint16_t port)
{
	struct rp_probe_addr a = { .trunk = trunk, .host = ip, .port = port, .tp = RP_TP_UDP,
		.interval_ms = 1000, .down_after = 2, .up_after = 2 };

	ck_assert_int_eq(rp_addr_parse(ip, port, &a.addr), 0);
	return a;
}

START_TEST(states_and_counting)
{
	rp_probe *p;
	struct rp_probe_addr v[2] = { mk("carrier", "192.0.2.1", 5060),
		mk("carrier", "192.0.2.2", 5060) };
	struct rp_probe_send s[4];
	struct rp_probe_info info, list[4];

	ck_assert_int_eq(rp_probe_new(&p), 0);
	ck_assert(!rp_probe_is_down(p, "carrier", RP_TP_UDP, &v[0].addr));
	ck_assert_int_eq(rp_probe_set(p, v, 2, T0), 0);
	/* New addresses are due at once; not again while in flight. */
	ck_assert_uint_eq(rp_probe_due(p, T0, s, 4), 2);
	ck_assert_uint_eq(rp_probe_due(p, T0 + 5000, s + 2, 2), 0);
	ck_assert(rp_addr_eq(&s[0].addr, &v[0].addr));
	ck_assert_str_eq(s[0].host, "192.0.2.1");

	/* Address 1 answers 200 twice: unknown, then up. */
	ck_assert_int_eq(rp_probe_result(p, s[0].id, 200, "200 OK", T0 + 40, &info), -1);
	ck_assert_uint_eq(rp_probe_list(p, "carrier", list, 4), 2);
	ck_assert_int_eq(list[0].state, RP_PROBE_UNKNOWN);
	ck_assert_int_eq(list[0].rtt_ms, 40);
	ck_assert_str_eq(list[0].last, "200 OK");
	/* A result for an id no longer in flight changes nothing. */
	ck_assert_int_eq(rp_probe_result(p, s[0].id, 200, "200 OK", T0 + 50, NULL), -1);
	ck_assert_uint_eq(rp_probe_due(p, T0 + 999, s, 4), 0);
	ck_assert_uint_eq(rp_probe_due(p, T0 + 1000, s, 4), 1);
	ck_assert_int_eq(rp_probe_result(p, s[0].id, 404, "404 Not Found", T0 + 1010, &info),
		RP_PROBE_UP);
	ck_assert_str_eq(info.trunk, "carrier");
	ck_assert_int_eq(info.state, RP_PROBE_UP);

	/* Address 2 (still in flight since T0): timeout, then 503: down. */
	struct rp_probe_send s2;
	ck_assert_int_eq(rp_probe_result(p, s[1].id, 0, "timeout", T0 + 3200, NULL), -1);
	ck_assert(!rp_probe_is_down(p, "carrier", RP_TP_UDP, &v[1].addr));
	ck_assert_uint_eq(rp_probe_due(p, T0 + 3200, &s2, 1), 1);
	ck_assert(rp_addr_eq(&s2.addr, &v[1].addr) || rp_addr_eq(&s2.addr, &v[0].addr));
	if (rp_addr_eq(&s2.addr, &v[0].addr)) {
		ck_assert_int_eq(rp_probe_result(p, s2.id, 200, "200 OK", T0 + 3210, NULL), -1);
		ck_assert_uint_eq(rp_probe_due(p, T0 + 3210, &s2, 1), 1);
	}
	ck_assert_int_eq(rp_probe_result(p, s2.id, 503, "503 Service Unavailable", T0 + 3300,
		&info), RP_PROBE_DOWN);
	ck_assert_uint_eq(info.fails, 2);
	ck_assert(rp_probe_is_down(p, "carrier", RP_TP_UDP, &v[1].addr));
	/* Only for that trunk and transport. */
	ck_assert(!rp_probe_is_down(p, "other", RP_TP_UDP, &v[1].addr));
	ck_assert(!rp_probe_is_down(p, "carrier", RP_TP_TCP, &v[1].addr));

	/* A new set (reload): address 2 keeps its state, a new one starts unknown. */
	struct rp_probe_addr w[2] = { v[1], mk("carrier", "192.0.2.3", 5080) };
	ck_assert_int_eq(rp_probe_set(p, w, 2, T0 + 4000), 0);
	ck_assert_uint_eq(rp_probe_list(p, NULL, list, 4), 2);
	ck_assert_int_eq(list[0].state, RP_PROBE_DOWN);
	ck_assert_int_eq(list[1].state, RP_PROBE_UNKNOWN);
	ck_assert_str_eq(list[1].last, "not probed yet");
	ck_assert(!rp_probe_is_down(p, "carrier", RP_TP_UDP, &v[0].addr));

	/* Up again only after up_after successes in a row; a failure resets. */
	struct rp_probe_send s3[2];
	size_t n = rp_probe_due(p, T0 + 5000, s3, 2);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(rp_probe_result(p, s3[0].id, 200, "200 OK", T0 + 5001, NULL), -1);
	ck_assert_uint_eq(rp_probe_due(p, T0 + 6000, s3, 1), 1);
	ck_assert_int_eq(rp_probe_result(p, s3[0].id, 408, "408 Request Timeout", T0 + 6001,
		NULL), -1);
	ck_assert(rp_probe_is_down(p, "carrier", RP_TP_UDP, &v[1].addr));
	ck_assert_uint_eq(rp_probe_due(p, T0 + 7000, s3, 1), 1);
	ck_assert_int_eq(rp_probe_result(p, s3[0].id, 200, "200 OK", T0 + 7001, NULL), -1);
	ck_assert_uint_eq(rp_probe_due(p, T0 + 8000, s3, 1), 1);
	ck_assert_int_eq(rp_probe_result(p, s3[0].id, 200, "200 OK", T0 + 8001, NULL),
		RP_PROBE_UP);
	ck_assert(!rp_probe_is_down(p, "carrier", RP_TP_UDP, &v[1].addr));
	ck_assert_uint_eq(rp_probe_list(p, "carrier", list, 1), 2);
	ck_assert_uint_eq(list[0].probes, 6);
	ck_assert_uint_eq(list[0].failures, 3);

	/* An empty set: nothing probed, nothing down. */
	ck_assert_int_eq(rp_probe_set(p, NULL, 0, T0 + 9000), 0);
	ck_assert_uint_eq(rp_probe_due(p, T0 + 20000, s, 4), 0);
	ck_assert_uint_eq(rp_probe_list(p, NULL, list, 4), 0);
	rp_probe_free(p);
}
END_TEST

START_TEST(state_names)
{
	ck_assert_str_eq(rp_probe_state_name(RP_PROBE_UNKNOWN), "unknown");
	ck_assert_str_eq(rp_probe_state_name(RP_PROBE_UP), "up");
	ck_assert_str_eq(rp_probe_state_name(RP_PROBE_DOWN), "down");
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("proxy_probe");
	TCase *tc = tcase_create("probe");

	tcase_add_test(tc, states_and_counting);
	tcase_add_test(tc, state_names);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
