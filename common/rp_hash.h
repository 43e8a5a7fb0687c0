/* rp_hash: a hash table from byte-string keys to pointers.
 *
 * For the daemons' shared tables (transactions, dialogs, registrations,
 * media sessions). Keys come from the network (Call-IDs, branches, tags), so
 * the hash is SipHash-1-3 keyed per table from getrandom(): an attacker who
 * does not know the key cannot choose keys that collide.
 *
 * Open addressing with linear probing; removal leaves a tombstone, so
 * entries never move except when an insert grows or rebuilds the table.
 *
 * Keys: by default the table keeps the caller's key pointer (no copy): the
 * key bytes must stay valid and unchanged while the entry is in the table
 * (typically the key points into the value object itself). With
 * RP_HASH_COPY_KEYS the table copies each key and frees the copy on removal.
 * Values: never NULL; the table never frees them.
 *
 * Not thread-safe: one table belongs to one thread, or the caller locks it
 * (the daemons shard a table by rp_siphash13() of the key, one lock each).
 */
#ifndef RP_HASH_H
#define RP_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rp_str.h"

typedef struct rp_hash rp_hash;

enum {
	RP_HASH_COPY_KEYS = 1 << 0, /* the table owns a copy of each key */
};

/* Creates a table sized for 'expected' entries (0 = small), keyed from
 * getrandom(). Returns 0, -ENOMEM, or the getrandom() error. The caller frees
 * it with rp_hash_free(). */
int rp_hash_new(size_t expected, unsigned flags, rp_hash **out);
/* Same with a fixed SipHash key: for tests and reproducible benchmarks only. */
int rp_hash_new_seeded(size_t expected, unsigned flags, const uint8_t seed[16],
		       rp_hash **out);
/* Frees the table and its key copies, not the values (iterate first to free
 * them). NULL is allowed. */
void rp_hash_free(rp_hash *h);

/* Adds key -> val. Returns 0, -EEXIST (key present; table unchanged),
 * -EINVAL (val is NULL) or -ENOMEM. May move entries: do not call while
 * iterating. */
int rp_hash_insert(rp_hash *h, rp_str key, void *val);
/* Value for key, or NULL. */
void *rp_hash_find(const rp_hash *h, rp_str key);
/* Removes key and returns its value, or NULL if absent. Never moves other
 * entries, so it is safe during iteration (any entry, not only the current
 * one). */
void *rp_hash_remove(rp_hash *h, rp_str key);
/* Number of entries. */
size_t rp_hash_count(const rp_hash *h);

/* Iteration, in no particular order:
 *	rp_hash_iter it;
 *	rp_str k; void *v;
 *	rp_hash_iter_init(h, &it);
 *	while (rp_hash_iter_next(&it, &k, &v))
 *		if (expired(v)) { rp_hash_remove(h, k); free(v); }
 * Removing entries while iterating is allowed and each remaining entry is
 * still visited exactly once. Inserting while iterating is not: if the table
 * was rebuilt, rp_hash_iter_next() stops and returns false, and
 * rp_hash_iter_broken() says so. With RP_HASH_COPY_KEYS, 'k' from the
 * iterator dies when that entry is removed. */
typedef struct rp_hash_iter {
	const rp_hash *h;
	size_t pos;
	uint64_t gen;
	bool broken;
} rp_hash_iter;

void rp_hash_iter_init(const rp_hash *h, rp_hash_iter *it);
bool rp_hash_iter_next(rp_hash_iter *it, rp_str *key, void **val);
bool rp_hash_iter_broken(const rp_hash_iter *it);

/* SipHash-1-3 (64-bit output) of data with a 16-byte key: for sharding a
 * table across locks with the caller's own random key. */
uint64_t rp_siphash13(const uint8_t key[16], const void *data, size_t len);
/* SipHash-2-4, the reference variant: only so tests can check the
 * implementation against the published test vectors. */
uint64_t rp_siphash24(const uint8_t key[16], const void *data, size_t len);

#endif
