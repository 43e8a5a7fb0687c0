/* port_window.h: a window of UDP ports nobody holds, found at run time.
 *
 * Tests that hand a port range to a pool used to derive it from the pid,
 * and collided with whatever else held those ports (a benchmark's mediad
 * holding 24000-31999, another test). test_port_window() bind-probes
 * instead: it picks random even bases in [PORT_WINDOW_LO, PORT_WINDOW_HI)
 * and returns the first whose n ports all bind on 127.0.0.1 (and on ::1
 * when the host has IPv6) right now. The probe sockets are closed before it
 * returns; a port taken in the short time until the test binds it is the
 * pool's business (it skips held ports). Header-only, for Check tests.
 */
#ifndef PORT_WINDOW_H
#define PORT_WINDOW_H

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PORT_WINDOW_LO 20000u
#define PORT_WINDOW_HI 61000u
#define PORT_WINDOW_MAX 256u

/* 0: bound; 1: the port is held; -1: this family is absent on the host. */
static inline int port_window_bind(int family, uint16_t port, int *fd)
{
	union {
		struct sockaddr sa;
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
	} a;
	socklen_t len;

	memset(&a, 0, sizeof(a));
	if (family == AF_INET) {
		a.in.sin_family = AF_INET;
		a.in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		a.in.sin_port = htons(port);
		len = sizeof(a.in);
	} else {
		a.in6.sin6_family = AF_INET6;
		a.in6.sin6_addr = in6addr_loopback;
		a.in6.sin6_port = htons(port);
		len = sizeof(a.in6);
	}
	*fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (*fd < 0)
		return -1;
	if (bind(*fd, &a.sa, len) == 0)
		return 0;
	int e = errno;
	close(*fd);
	*fd = -1;
	return e == EADDRINUSE || e == EACCES ? 1 : -1;
}

/* An even base b such that b..b+n-1 are free for UDP now (n <= 256). */
static inline uint16_t test_port_window(unsigned n)
{
	static uint64_t x;
	static bool have_v6 = true;
	struct timespec ts;
	int fds[2 * PORT_WINDOW_MAX];

	ck_assert_uint_ge(n, 1);
	ck_assert_uint_le(n, PORT_WINDOW_MAX);
	if (!x) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		x = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^
		    ((uint64_t)getpid() << 40) ^ 0x9E3779B97F4A7C15ull;
	}
	for (int tries = 0; tries < 500; tries++) {
		unsigned nfd = 0, span = PORT_WINDOW_HI - PORT_WINDOW_LO - n;
		bool ok = true;
		uint16_t base;

		x ^= x << 13; /* xorshift64: a spread of bases, no libc state */
		x ^= x >> 7;
		x ^= x << 17;
		base = (uint16_t)((PORT_WINDOW_LO + (unsigned)(x % span)) & ~1u);
		for (unsigned i = 0; i < n && ok; i++) {
			int fd, r = port_window_bind(AF_INET, (uint16_t)(base + i), &fd);

			if (r != 0) {
				ok = false;
				break;
			}
			fds[nfd++] = fd;
			if (!have_v6)
				continue;
			r = port_window_bind(AF_INET6, (uint16_t)(base + i), &fd);
			if (r < 0)
				have_v6 = false;
			else if (r > 0)
				ok = false;
			else
				fds[nfd++] = fd;
		}
		while (nfd > 0)
			close(fds[--nfd]);
		if (ok)
			return base;
	}
	ck_abort_msg("no window of %u free UDP ports in %u-%u", n, PORT_WINDOW_LO,
		PORT_WINDOW_HI - 1);
	return 0;
}

#endif
