/* Tests for rp_sdnotify against a real datagram socket standing in for
 * systemd's (path and abstract forms). */
#include <check.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "rp_sdnotify.h"

static int listener(const char *name, bool abstract)
{
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t n = strlen(name);
	memcpy(sa.sun_path, name, n);
	if (abstract)
		sa.sun_path[0] = 0;
	socklen_t sl = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + !abstract);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sl), 0);
	struct timeval tv = { .tv_sec = 5 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static void expect(int fd, const char *want_prefix)
{
	char buf[256];
	ssize_t r = recv(fd, buf, sizeof(buf) - 1, 0);
	ck_assert_int_gt(r, 0);
	buf[r] = 0;
	ck_assert_msg(strncmp(buf, want_prefix, strlen(want_prefix)) == 0, "got '%s'", buf);
}

START_TEST(path_socket)
{
	char path[64];
	snprintf(path, sizeof(path), "/tmp/rp_sdnotify.%ld", (long)getpid());
	unlink(path);
	int fd = listener(path, false);
	setenv("NOTIFY_SOCKET", path, 1);
	ck_assert_int_eq(rp_sdnotify_ready(), 1);
	char want[64];
	snprintf(want, sizeof(want), "READY=1\nMAINPID=%ld", (long)getpid());
	expect(fd, want);
	ck_assert_int_eq(rp_sdnotify_reloading(), 1);
	expect(fd, "RELOADING=1\nMONOTONIC_USEC=");
	ck_assert_int_eq(rp_sdnotify_stopping(), 1);
	expect(fd, "STOPPING=1");
	ck_assert_int_eq(rp_sdnotify("STATUS=42 calls"), 1);
	expect(fd, "STATUS=42 calls");
	close(fd);
	unlink(path);
	/* Nobody listening any more. */
	ck_assert_int_eq(rp_sdnotify_watchdog(), -ENOENT);
	unsetenv("NOTIFY_SOCKET");
}
END_TEST

START_TEST(abstract_socket)
{
	char name[64];
	snprintf(name, sizeof(name), "@rp_sdnotify_test.%ld", (long)getpid());
	int fd = listener(name, true);
	setenv("NOTIFY_SOCKET", name, 1);
	ck_assert_int_eq(rp_sdnotify_watchdog(), 1);
	expect(fd, "WATCHDOG=1");
	close(fd);
	unsetenv("NOTIFY_SOCKET");
}
END_TEST

START_TEST(not_under_systemd_and_bad_env)
{
	unsetenv("NOTIFY_SOCKET");
	ck_assert_int_eq(rp_sdnotify_ready(), 0);
	setenv("NOTIFY_SOCKET", "relative/path", 1);
	ck_assert_int_eq(rp_sdnotify_ready(), -EINVAL);
	char longp[200];
	memset(longp, 'a', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = 0;
	setenv("NOTIFY_SOCKET", longp, 1);
	ck_assert_int_eq(rp_sdnotify_ready(), -ENAMETOOLONG);
	unsetenv("NOTIFY_SOCKET");
}
END_TEST

START_TEST(watchdog_env)
{
	uint64_t us = 0;
	char pid[32];
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	ck_assert_int_eq(rp_sdnotify_watchdog_usec(&us), 0);
	setenv("WATCHDOG_USEC", "5000000", 1);
	ck_assert_int_eq(rp_sdnotify_watchdog_usec(&us), 1);
	ck_assert_uint_eq(us, 5000000);
	setenv("WATCHDOG_PID", pid, 1);
	us = 0;
	ck_assert_int_eq(rp_sdnotify_watchdog_usec(&us), 1);
	ck_assert_uint_eq(us, 5000000);
	setenv("WATCHDOG_PID", "1", 1); /* meant for another process */
	ck_assert_int_eq(rp_sdnotify_watchdog_usec(&us), 0);
	setenv("WATCHDOG_PID", pid, 1);
	setenv("WATCHDOG_USEC", "5s", 1);
	ck_assert_int_eq(rp_sdnotify_watchdog_usec(&us), -EINVAL);
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("sdnotify");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, path_socket);
	tcase_add_test(tc, abstract_socket);
	tcase_add_test(tc, not_under_systemd_and_bad_env);
	tcase_add_test(tc, watchdog_env);
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
