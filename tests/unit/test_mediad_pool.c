/* mpool: even ports in range, RTCP on port+1, ports held by others are
 * skipped, exhaustion is an error for that request only, release reuses. */
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pool.h"
#include "port_window.h"

static struct sockaddr_in lo4(void)
{
	struct sockaddr_in a;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

static uint16_t bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}


static void close_ports(struct mpool_ports *p)
{
	close(p->fd_rtp);
	if (p->fd_rtcp >= 0)
		close(p->fd_rtcp);
}

START_TEST(test_even_ports_in_range_with_rtcp)
{
	uint16_t lo = test_port_window(32);
	struct sockaddr_in a = lo4();
	struct mpool *p;
	struct mpool_ports pp[3];

	ck_assert_int_eq(mpool_new(lo, (uint16_t)(lo + 31), &p), 0);
	ck_assert_uint_eq(mpool_capacity(p), 16);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(mpool_alloc(p, (struct sockaddr *)&a, true, &pp[i]), 0);
		ck_assert_uint_eq(pp[i].port % 2, 0);
		ck_assert_uint_ge(pp[i].port, lo);
		ck_assert_uint_le(pp[i].port + 1u, lo + 31u);
		ck_assert_uint_eq(bound_port(pp[i].fd_rtp), pp[i].port);
		ck_assert_int_ge(pp[i].fd_rtcp, 0);
		ck_assert_uint_eq(bound_port(pp[i].fd_rtcp), pp[i].port + 1u);
	}
	ck_assert_uint_ne(pp[0].port, pp[1].port);
	ck_assert_uint_ne(pp[1].port, pp[2].port);
	ck_assert_uint_eq(mpool_in_use(p), 3);
	for (int i = 0; i < 3; i++) {
		close_ports(&pp[i]);
		mpool_release(p, pp[i].port);
	}
	ck_assert_uint_eq(mpool_in_use(p), 0);
	mpool_free(p);
}
END_TEST

START_TEST(test_mux_binds_rtp_only)
{
	uint16_t lo = test_port_window(16);
	struct sockaddr_in a = lo4();
	struct mpool *p;
	struct mpool_ports pp;

	ck_assert_int_eq(mpool_new(lo, (uint16_t)(lo + 15), &p), 0);
	ck_assert_int_eq(mpool_alloc(p, (struct sockaddr *)&a, false, &pp), 0);
	ck_assert_int_eq(pp.fd_rtcp, -1);
	ck_assert_uint_eq(bound_port(pp.fd_rtp), pp.port);
	close_ports(&pp);
	mpool_release(p, pp.port);
	mpool_free(p);
}
END_TEST

START_TEST(test_odd_low_rounds_up_and_bad_range)
{
	struct mpool *p = NULL;

	ck_assert_int_eq(mpool_new(20001, 20004, &p), 0);
	/* 20002/20003 fits, 20004/20005 does not */
	ck_assert_uint_eq(mpool_capacity(p), 1);
	mpool_free(p);
	p = NULL;
	ck_assert_int_eq(mpool_new(20001, 20002, &p), -EINVAL);
	ck_assert_ptr_null(p);
	ck_assert_int_eq(mpool_new(20010, 20000, &p), -EINVAL);
	ck_assert_ptr_null(p);
}
END_TEST

START_TEST(test_skips_ports_held_by_others)
{
	uint16_t lo = test_port_window(6);
	struct sockaddr_in a = lo4();
	struct mpool *p;
	struct mpool_ports pp;
	int other, other2;

	/* Someone else holds the first RTP port and the second RTCP port. */
	other = socket(AF_INET, SOCK_DGRAM, 0);
	other2 = socket(AF_INET, SOCK_DGRAM, 0);
	a.sin_port = htons(lo);
	ck_assert_int_eq(bind(other, (struct sockaddr *)&a, sizeof(a)), 0);
	a.sin_port = htons((uint16_t)(lo + 3));
	ck_assert_int_eq(bind(other2, (struct sockaddr *)&a, sizeof(a)), 0);
	a.sin_port = 0;
	ck_assert_int_eq(mpool_new(lo, (uint16_t)(lo + 5), &p), 0);
	ck_assert_int_eq(mpool_alloc(p, (struct sockaddr *)&a, true, &pp), 0);
	ck_assert_uint_eq(pp.port, lo + 4u);
	close_ports(&pp);
	/* Now exhausted: the only other pair is held. The pool says so and
	 * nothing leaks. */
	ck_assert_int_eq(mpool_alloc(p, (struct sockaddr *)&a, true, &pp), -ENOSPC);
	mpool_release(p, (uint16_t)(lo + 4));
	mpool_free(p);
	close(other);
	close(other2);
}
END_TEST

START_TEST(test_exhaustion_then_release)
{
	uint16_t lo = test_port_window(8);
	struct sockaddr_in a = lo4();
	struct mpool *p;
	struct mpool_ports pp[4], extra;
	int n = 0;

	ck_assert_int_eq(mpool_new(lo, (uint16_t)(lo + 7), &p), 0);
	while (n < 4 && mpool_alloc(p, (struct sockaddr *)&a, true, &pp[n]) == 0)
		n++;
	ck_assert_int_ge(n, 1);
	ck_assert_int_eq(mpool_alloc(p, (struct sockaddr *)&a, true, &extra), -ENOSPC);
	close_ports(&pp[0]);
	mpool_release(p, pp[0].port);
	ck_assert_int_eq(mpool_alloc(p, (struct sockaddr *)&a, true, &extra), 0);
	ck_assert_uint_eq(extra.port, pp[0].port);
	close_ports(&extra);
	for (int i = 1; i < n; i++)
		close_ports(&pp[i]);
	mpool_free(p);
}
END_TEST

START_TEST(test_ipv6_loopback)
{
	uint16_t lo = test_port_window(16);
	struct sockaddr_in6 a;
	struct mpool *p;
	struct mpool_ports pp;
	int rc;

	memset(&a, 0, sizeof(a));
	a.sin6_family = AF_INET6;
	a.sin6_addr = in6addr_loopback;
	ck_assert_int_eq(mpool_new(lo, (uint16_t)(lo + 15), &p), 0);
	rc = mpool_alloc(p, (struct sockaddr *)&a, true, &pp);
	if (rc == -EADDRNOTAVAIL || rc == -EAFNOSUPPORT) {
		mpool_free(p); /* no IPv6 on this host */
		return;
	}
	ck_assert_int_eq(rc, 0);
	ck_assert_uint_eq(bound_port(pp.fd_rtp), pp.port);
	close_ports(&pp);
	mpool_release(p, pp.port);
	mpool_free(p);
}
END_TEST

START_TEST(test_bad_address_is_an_error_not_exhaustion)
{
	uint16_t lo = test_port_window(16);
	struct sockaddr_in a = lo4();
	struct mpool *p;
	struct mpool_ports pp;

	/* 192.0.2.1 (TEST-NET-1) is not ours: EADDRNOTAVAIL, reported as is. */
	a.sin_addr.s_addr = htonl(0xC0000201);
	ck_assert_int_eq(mpool_new(lo, (uint16_t)(lo + 15), &p), 0);
	ck_assert_int_eq(mpool_alloc(p, (struct sockaddr *)&a, true, &pp), -EADDRNOTAVAIL);
	ck_assert_uint_eq(mpool_in_use(p), 0);
	mpool_free(p);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("mediad_pool");
	TCase *tc = tcase_create("pool");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_even_ports_in_range_with_rtcp);
	tcase_add_test(tc, test_mux_binds_rtp_only);
	tcase_add_test(tc, test_odd_low_rounds_up_and_bad_range);
	tcase_add_test(tc, test_skips_ports_held_by_others);
	tcase_add_test(tc, test_exhaustion_then_release);
	tcase_add_test(tc, test_ipv6_loopback);
	tcase_add_test(tc, test_bad_address_is_an_error_not_exhaustion);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
