/* rp_rand: key material from the kernel CSPRNG, getrandom(2).
 *
 * There is no fallback: if the kernel cannot give random bytes the call
 * fails (and logs), and the caller must fail the operation that wanted a
 * key. Nothing here ever uses rand(3) or a time-seeded generator.
 *
 * rp_rand_pool is an optional per-thread buffer of getrandom output, so
 * generating one SRTP key costs a memcpy rather than a syscall. It holds no
 * generator of its own: every byte handed out came from the kernel, is
 * handed out once, and is wiped from the buffer as it leaves. The buffer is
 * locked in memory where allowed, kept out of core dumps, and emptied in a
 * forked child (MADV_WIPEONFORK, or a pid check on older kernels), so two
 * processes never hand out the same bytes.
 */
#ifndef RP_RAND_H
#define RP_RAND_H

#include <stddef.h>

/* Fills buf with n random bytes. Retries on EINTR and short reads. Returns 0
 * or a negative errno (buf then holds no usable data). */
int rp_rand_bytes(void *buf, size_t n);

struct rp_rand_pool;

/* Creates a pool; one per thread (no locking inside). Returns 0 or
 * -ENOMEM. The caller owns *out and releases it with rp_rand_pool_free(). */
int rp_rand_pool_new(struct rp_rand_pool **out);

/* Wipes the buffered bytes and frees the pool; NULL is allowed. Returns
 * NULL, for p = rp_rand_pool_free(p). */
struct rp_rand_pool *rp_rand_pool_free(struct rp_rand_pool *p);

/* Fills buf with n random bytes from the pool (refilling it from
 * getrandom when empty); p == NULL or large n read getrandom directly.
 * Returns 0 or a negative errno. */
int rp_rand_pool_bytes(struct rp_rand_pool *p, void *buf, size_t n);

#endif
