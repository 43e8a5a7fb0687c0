#include "rp_rand.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <unistd.h>

#include "rp_log.h"

#define POOL_MAP_SIZE 4096

/* Lives in its own mapping so MADV_WIPEONFORK can zero it in a child:
 * avail == 0 then reads as "empty". Bytes are taken from the top down. */
struct pool_page {
	size_t avail;
	uint8_t data[POOL_MAP_SIZE - sizeof(size_t)];
};

struct rp_rand_pool {
	struct pool_page *page;
	bool wipe_on_fork; /* else compare pid, for kernels before 4.14 */
	pid_t pid;
};

int rp_rand_bytes(void *buf, size_t n)
{
	uint8_t *p = buf;

	while (n > 0) {
		ssize_t r = getrandom(p, n, 0);

		if (r < 0) {
			int e = errno;

			if (e == EINTR)
				continue;
			rp_err("rp_rand: getrandom failed: %s", strerror(e));
			return -e;
		}
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

int rp_rand_pool_new(struct rp_rand_pool **out)
{
	struct rp_rand_pool *p = calloc(1, sizeof(*p));
	void *m;

	if (!p)
		return -ENOMEM;
	m = mmap(NULL, POOL_MAP_SIZE, PROT_READ | PROT_WRITE,
		MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED) {
		free(p);
		return -ENOMEM;
	}
	p->page = m;
	p->wipe_on_fork = madvise(m, POOL_MAP_SIZE, MADV_WIPEONFORK) == 0;
	/* Best effort: keep key material out of swap and core files. */
	(void)madvise(m, POOL_MAP_SIZE, MADV_DONTDUMP);
	(void)mlock(m, POOL_MAP_SIZE);
	p->pid = getpid();
	*out = p;
	return 0;
}

struct rp_rand_pool *rp_rand_pool_free(struct rp_rand_pool *p)
{
	if (!p)
		return NULL;
	explicit_bzero(p->page, POOL_MAP_SIZE);
	munlock(p->page, POOL_MAP_SIZE);
	munmap(p->page, POOL_MAP_SIZE);
	free(p);
	return NULL;
}

int rp_rand_pool_bytes(struct rp_rand_pool *p, void *buf, size_t n)
{
	struct pool_page *pg;
	int rc;

	if (!p || n > sizeof(pg->data) / 4)
		return rp_rand_bytes(buf, n);
	pg = p->page;
	if (!p->wipe_on_fork) {
		pid_t now = getpid();

		if (now != p->pid) {
			explicit_bzero(pg, POOL_MAP_SIZE);
			p->pid = now;
		}
	}
	if (pg->avail < n) {
		rc = rp_rand_bytes(pg->data, sizeof(pg->data));
		if (rc < 0) {
			explicit_bzero(pg, POOL_MAP_SIZE);
			return rc;
		}
		pg->avail = sizeof(pg->data);
	}
	pg->avail -= n;
	memcpy(buf, pg->data + pg->avail, n);
	explicit_bzero(pg->data + pg->avail, n);
	return 0;
}
