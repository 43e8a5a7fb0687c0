/* meng_uring: the io_uring engine (multishot recvmsg into a provided-buffer
 * ring, sendmsg SQEs, one submit per batch). See engine.h. */
#ifndef MENG_URING_H
#define MENG_URING_H

#include "engine.h"

/* Returns 0 or a negative errno if io_uring (or a feature it needs:
 * buffer rings, multishot recvmsg) is not available here. */
int meng_uring_new(struct mworker *w, int wake_fd, unsigned nbufs, struct meng *out);

#endif
