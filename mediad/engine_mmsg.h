/* meng_mmsg: the fallback engine (epoll + recvmmsg/sendmmsg). See engine.h. */
#ifndef MENG_MMSG_H
#define MENG_MMSG_H

#include "engine.h"

int meng_mmsg_new(struct mworker *w, int wake_fd, const struct meng_params *p,
	struct meng *out);

#endif
