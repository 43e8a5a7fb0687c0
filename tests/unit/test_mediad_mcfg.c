/* mcfg: defaults, every key, and errors reported as file:line with the
 * reason; mcfg_check() catches bad combinations. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mcfg.h"

static char path[64];

static const char *write_file(const char *text)
{
	int fd;

	snprintf(path, sizeof(path), "/tmp/test_mcfg.XXXXXX");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

START_TEST(test_defaults)
{
	struct mcfg c;
	char err[256];

	mcfg_defaults(&c);
	ck_assert_int_eq(c.listen4.family, AF_INET);
	ck_assert_str_eq(c.listen4.text, "127.0.0.1");
	ck_assert_int_eq(c.listen6.family, 0);
	ck_assert_uint_eq(c.port_min, 10000);
	ck_assert_uint_eq(c.port_max, 20000);
	ck_assert_uint_eq(c.workers, 0);
	ck_assert_int_eq(c.engine, MCFG_ENGINE_AUTO);
	ck_assert_str_eq(c.control_path, "/run/rampart/mediad.sock");
	ck_assert_uint_eq(c.control_mode, 0660);
	ck_assert_uint_eq(c.batch_wait_us, 50);
	ck_assert_uint_eq(c.batch_size, 32);
	ck_assert_uint_eq(c.socket_rcvbuf, 1u << 20);
	ck_assert_int_eq(mcfg_check(&c, err, sizeof(err)), 0);
}
END_TEST

START_TEST(test_full_file)
{
	struct mcfg c;
	char err[256] = "";

	mcfg_defaults(&c);
	ck_assert_int_eq(mcfg_load(&c, write_file(
		"# a comment\n"
		"\n"
		"listen = 10.0.0.5   # trailing comment\n"
		"advertise = 203.0.113.5\n"
		"listen = ::1\n"
		"advertise6 = [2001:db8::5]\n"
		"ports = 20000 - 20999\n"
		"workers = 3\n"
		"engine = mmsg\n"
		"media-timeout = 5\n"
		"delete-timeout = 9\n"
		"ring-buffers = 256\n"
		"batch-wait-us = 0\n"
		"batch-size = 64\n"
		"socket-rcvbuf = 262144\n"
		"control = /tmp/x.sock\n"
		"control-mode = 0600\n"
		"control-group = rampart\n"
		"log-level = debug\n"), err, sizeof(err)), 0);
	unlink(path);
	ck_assert_str_eq(c.listen4.text, "10.0.0.5");
	ck_assert_str_eq(c.advertise4.text, "203.0.113.5");
	ck_assert_str_eq(c.listen6.text, "::1");
	ck_assert_str_eq(c.advertise6.text, "2001:db8::5");
	ck_assert_uint_eq(c.port_min, 20000);
	ck_assert_uint_eq(c.port_max, 20999);
	ck_assert_uint_eq(c.workers, 3);
	ck_assert_int_eq(c.engine, MCFG_ENGINE_MMSG);
	ck_assert_uint_eq(c.media_timeout, 5);
	ck_assert_uint_eq(c.delete_timeout, 9);
	ck_assert_uint_eq(c.ring_buffers, 256);
	ck_assert_uint_eq(c.batch_wait_us, 0);
	ck_assert_uint_eq(c.batch_size, 64);
	ck_assert_uint_eq(c.socket_rcvbuf, 262144);
	ck_assert_str_eq(c.control_path, "/tmp/x.sock");
	ck_assert_uint_eq(c.control_mode, 0600);
	ck_assert_str_eq(c.control_group, "rampart");
	ck_assert_int_eq(c.log_level, RP_LOG_DEBUG);
	ck_assert_int_eq(mcfg_check(&c, err, sizeof(err)), 0);
}
END_TEST

/* Each bad line: the error names the file, the line and the key. */
static const struct {
	const char *text;
	const char *expect; /* after "path:" */
} bad[] = {
	{ "workers = 2\nbogus = 1\n", "2: bogus: unknown key" },
	{ "listen = 300.1.1.1\n", "1: listen: not an IP address" },
	{ "\n\nports = 20000\n", "3: ports: expected LOW-HIGH" },
	{ "ports = 80-90\n", "1: ports: ports below 1024 are not allowed" },
	{ "port-max = 70000\n", "1: port-max: value out of range" },
	{ "engine = dpdk\n", "1: engine: expected auto, io_uring or mmsg" },
	{ "media-timeout = 0\n", "1: media-timeout: must be at least 1 second" },
	{ "media-timeout = -3\n", "1: media-timeout: expected an unsigned decimal number" },
	{ "ring-buffers = 100\n", "1: ring-buffers: must be a power of two, 16..32768" },
	{ "batch-wait-us = 1001\n", "1: batch-wait-us: value out of range" },
	{ "batch-size = 0\n", "1: batch-size: must be 1..256" },
	{ "socket-rcvbuf = 1G\n", "1: socket-rcvbuf: expected an unsigned decimal number" },
	{ "control-mode = 0999\n", "1: control-mode: expected an octal mode like 0660" },
	{ "listen6 = 10.0.0.1\n", "1: listen6: expected an IPv6 address" },
	{ "log-level = loud\n", "1: log-level: expected err, warn, notice, info or debug" },
	{ "just words\n", "1: expected 'key = value'" },
	/* A second value used to win silently (hostile-config run). */
	{ "workers = 1\nengine = mmsg\n\nworkers = 2\n", "4: workers: given twice (first at line 1)" },
	{ "ports = 20000-20099\nports = 30000-30099\n", "2: ports: given twice (first at line 1)" },
};

START_TEST(test_bad_lines)
{
	struct mcfg c;
	char err[256] = "", want[256];

	mcfg_defaults(&c);
	ck_assert_int_lt(mcfg_load(&c, write_file(bad[_i].text), err, sizeof(err)), 0);
	snprintf(want, sizeof(want), "%s:%s", path, bad[_i].expect);
	unlink(path);
	ck_assert_str_eq(err, want);
}
END_TEST

START_TEST(test_listen_v6_only_replaces_default)
{
	struct mcfg c;
	char err[256] = "";
	const char *why;

	mcfg_defaults(&c);
	ck_assert_int_eq(mcfg_set(&c, "listen", 6, "::1", 3, &why), 0);
	ck_assert_int_eq(c.listen4.family, 0);
	ck_assert_int_eq(c.listen6.family, AF_INET6);
	ck_assert_int_eq(mcfg_set(&c, "listen", 6, "127.0.0.2", 9, &why), 0);
	ck_assert_str_eq(c.listen4.text, "127.0.0.2");
	ck_assert_str_eq(c.listen6.text, "::1");
	ck_assert_int_eq(mcfg_check(&c, err, sizeof(err)), 0);
}
END_TEST

START_TEST(test_missing_file_and_checks)
{
	struct mcfg c;
	char err[256] = "";

	mcfg_defaults(&c);
	ck_assert_int_eq(mcfg_load(&c, "/nonexistent/mediad.conf", err, sizeof(err)), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/mediad.conf"));
	c.port_min = 20000;
	c.port_max = 20001;
	ck_assert_int_eq(mcfg_check(&c, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "port range"));
	mcfg_defaults(&c);
	c.media_timeout = 100;
	c.delete_timeout = 50;
	ck_assert_int_eq(mcfg_check(&c, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "delete-timeout"));
	mcfg_defaults(&c);
	ck_assert_int_eq(mcfg_addr_parse("2001:db8::1", 11, &c.advertise6), 0);
	ck_assert_int_eq(mcfg_check(&c, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "IPv6"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("mediad_mcfg");
	TCase *tc = tcase_create("mcfg");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_full_file);
	tcase_add_loop_test(tc, test_bad_lines, 0, (int)(sizeof(bad) / sizeof(bad[0])));
	tcase_add_test(tc, test_listen_v6_only_replaces_default);
	tcase_add_test(tc, test_missing_file_and_checks);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
