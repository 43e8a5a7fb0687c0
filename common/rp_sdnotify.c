/* rp_sdnotify: see rp_sdnotify.h. */
#include "rp_sdnotify.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "rp_str.h"
#include "rp_time.h"

int rp_sdnotify(const char *state)
{
	const char *e = getenv("NOTIFY_SOCKET");
	if (!e || !*e)
		return 0;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t n = strlen(e);
	if (e[0] != '/' && e[0] != '@')
		return -EINVAL;
	if (n >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, e, n);
	if (e[0] == '@')
		sa.sun_path[0] = 0; /* abstract namespace: no NUL at the end */
	socklen_t sl = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (e[0] == '/'));
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int rc = 1;
	size_t len = strlen(state);
	ssize_t w = sendto(fd, state, len, MSG_NOSIGNAL, (struct sockaddr *)&sa, sl);
	if (w < 0)
		rc = -errno;
	else if ((size_t)w != len)
		rc = -EIO;
	close(fd);
	return rc;
}

int rp_sdnotify_ready(void)
{
	char s[64];
	snprintf(s, sizeof(s), "READY=1\nMAINPID=%ld", (long)getpid());
	return rp_sdnotify(s);
}

int rp_sdnotify_reloading(void)
{
	char s[64];
	snprintf(s, sizeof(s), "RELOADING=1\nMONOTONIC_USEC=%llu",
		(unsigned long long)rp_now_us());
	return rp_sdnotify(s);
}

int rp_sdnotify_stopping(void)
{
	return rp_sdnotify("STOPPING=1");
}

int rp_sdnotify_watchdog(void)
{
	return rp_sdnotify("WATCHDOG=1");
}

int rp_sdnotify_watchdog_usec(uint64_t *usec)
{
	const char *u = getenv("WATCHDOG_USEC");
	if (!u || !*u)
		return 0;
	uint64_t v, pid;
	if (rp_str_to_u64(rp_str_cstr(u), UINT64_MAX, &v) < 0 || v == 0)
		return -EINVAL;
	const char *p = getenv("WATCHDOG_PID");
	if (p && *p) {
		if (rp_str_to_u64(rp_str_cstr(p), UINT64_MAX, &pid) < 0)
			return -EINVAL;
		if (pid != (uint64_t)getpid())
			return 0;
	}
	*usec = v;
	return 1;
}
