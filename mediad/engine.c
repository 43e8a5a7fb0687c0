#include "engine.h"

#include <errno.h>
#include <string.h>

#include "engine_mmsg.h"
#include "engine_uring.h"
#include "rp_log.h"

int meng_new(enum mcfg_engine kind, struct mworker *w, int wake_fd,
	const struct meng_params *p, struct meng *out)
{
	int rc;

	if (kind != MCFG_ENGINE_MMSG) {
		rc = meng_uring_new(w, wake_fd, p, out);
		if (rc == 0 || kind == MCFG_ENGINE_URING)
			return rc;
		rp_notice("io_uring unavailable (%s); using recvmmsg/sendmmsg + epoll",
			strerror(-rc));
	}
	return meng_mmsg_new(w, wake_fd, p, out);
}

void meng_free(struct meng *e)
{
	if (e && e->vt) {
		e->vt->free(e->impl);
		e->vt = NULL;
		e->impl = NULL;
	}
}
