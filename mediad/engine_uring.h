/* meng_uring: the io_uring engine (multishot recvmsg into a provided-buffer
 * ring, sendmsg SQEs, one io_uring_enter per batch that submits the sends
 * and waits for the next batch). See engine.h and docs/mediad.md. */
#ifndef MENG_URING_H
#define MENG_URING_H

#include "engine.h"

/* Returns 0 or a negative errno if io_uring (or a feature it needs:
 * buffer rings, multishot recvmsg) is not available here. */
int meng_uring_new(struct mworker *w, int wake_fd, const struct meng_params *p,
	struct meng *out);

#endif
