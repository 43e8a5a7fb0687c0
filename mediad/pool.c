#include "pool.h"

#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct mpool {
	pthread_mutex_t lock;
	uint16_t first;   /* first even port */
	unsigned count;   /* number of even ports (pairs) */
	unsigned next;    /* index to try first */
	unsigned in_use;
	uint8_t used[];   /* one byte per pair: simple, 5 KiB for the default range */
};

int mpool_new(uint16_t lo, uint16_t hi, struct mpool **out)
{
	unsigned first = (lo + 1u) & ~1u, count;
	struct mpool *p;

	if (lo > hi || first + 1u > hi)
		return -EINVAL;
	count = ((unsigned)hi - first + 1u) / 2u; /* pairs with port+1 <= hi */
	p = calloc(1, sizeof(*p) + count);
	if (!p)
		return -ENOMEM;
	if (pthread_mutex_init(&p->lock, NULL) != 0) {
		free(p);
		return -ENOMEM;
	}
	p->first = (uint16_t)first;
	p->count = count;
	*out = p;
	return 0;
}

void mpool_free(struct mpool *p)
{
	if (!p)
		return;
	pthread_mutex_destroy(&p->lock);
	free(p);
}

static int bind_one(const struct sockaddr *addr, uint16_t port, int *fdp)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1;

	memset(&ss, 0, sizeof(ss));
	if (addr->sa_family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		memcpy(s4, addr, sizeof(*s4));
		s4->sin_port = htons(port);
		len = sizeof(*s4);
	} else if (addr->sa_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		memcpy(s6, addr, sizeof(*s6));
		s6->sin6_port = htons(port);
		len = sizeof(*s6);
	} else {
		return -EAFNOSUPPORT;
	}
	fd = socket(addr->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (addr->sa_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	if (bind(fd, (struct sockaddr *)&ss, len) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	*fdp = fd;
	return 0;
}

/* A port someone else holds (or may not use) is skipped; anything else is
 * a real error for the caller. */
static bool skippable(int e)
{
	return e == -EADDRINUSE || e == -EACCES || e == -EPERM;
}

int mpool_alloc(struct mpool *p, const struct sockaddr *addr, bool rtcp,
	struct mpool_ports *out)
{
	int rc = -ENOSPC;

	pthread_mutex_lock(&p->lock);
	for (unsigned n = 0; n < p->count; n++) {
		unsigned i = (p->next + n) % p->count;
		uint16_t port = (uint16_t)(p->first + 2u * i);
		int fd_rtp = -1, fd_rtcp = -1, e;

		if (p->used[i])
			continue;
		e = bind_one(addr, port, &fd_rtp);
		if (e == 0 && rtcp) {
			e = bind_one(addr, (uint16_t)(port + 1), &fd_rtcp);
			if (e < 0)
				close(fd_rtp);
		}
		if (e < 0) {
			if (skippable(e))
				continue;
			rc = e;
			break;
		}
		p->used[i] = 1;
		p->in_use++;
		p->next = (i + 1) % p->count;
		out->port = port;
		out->fd_rtp = fd_rtp;
		out->fd_rtcp = fd_rtcp;
		rc = 0;
		break;
	}
	pthread_mutex_unlock(&p->lock);
	return rc;
}

void mpool_release(struct mpool *p, uint16_t port)
{
	unsigned i;

	if (port < p->first || (port & 1u))
		return;
	i = (unsigned)(port - p->first) / 2u;
	pthread_mutex_lock(&p->lock);
	if (i < p->count && p->used[i]) {
		p->used[i] = 0;
		p->in_use--;
	}
	pthread_mutex_unlock(&p->lock);
}

unsigned mpool_capacity(const struct mpool *p)
{
	return p->count;
}

unsigned mpool_in_use(struct mpool *p)
{
	unsigned n;

	pthread_mutex_lock(&p->lock);
	n = p->in_use;
	pthread_mutex_unlock(&p->lock);
	return n;
}
