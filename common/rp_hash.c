#include "rp_hash.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

/* Slot states live in the stored hash: 0 empty, 1 tombstone, else live
 * (a real hash below 2 is bumped up, which costs nothing measurable). */
#define SLOT_EMPTY 0
#define SLOT_TOMB 1
#define MIN_CAP 8

struct slot {
	uint64_t h;
	const char *kp;
	size_t kn;
	void *val;
};

struct rp_hash {
	struct slot *slots;
	size_t cap;   /* power of two */
	size_t count; /* live entries */
	size_t used;  /* live + tombstones: what probing sees */
	uint64_t gen; /* bumped on every rebuild, for iterators */
	unsigned flags;
	uint8_t seed[16];
};

/* ---- SipHash (Aumasson & Bernstein), c compression / d final rounds ---- */

static inline uint64_t rotl(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

static inline uint64_t load_le64(const uint8_t *p)
{
	return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
	       (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 |
	       (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
}

#define SIPROUND                                                            \
	do {                                                                \
		v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32);   \
		v2 += v3; v3 = rotl(v3, 16); v3 ^= v2;                      \
		v0 += v3; v3 = rotl(v3, 21); v3 ^= v0;                      \
		v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32);   \
	} while (0)

static inline uint64_t siphash(const uint8_t key[16], const void *data,
			       size_t len, int c, int d)
{
	const uint8_t *in = data;
	uint64_t k0 = load_le64(key), k1 = load_le64(key + 8);
	uint64_t v0 = k0 ^ 0x736f6d6570736575ULL;
	uint64_t v1 = k1 ^ 0x646f72616e646f6dULL;
	uint64_t v2 = k0 ^ 0x6c7967656e657261ULL;
	uint64_t v3 = k1 ^ 0x7465646279746573ULL;
	uint64_t b = (uint64_t)len << 56;
	size_t whole = len & ~(size_t)7;

	for (size_t i = 0; i < whole; i += 8) {
		uint64_t m = load_le64(in + i);

		v3 ^= m;
		for (int r = 0; r < c; r++)
			SIPROUND;
		v0 ^= m;
	}
	for (size_t i = whole; i < len; i++)
		b |= (uint64_t)in[i] << (8 * (i - whole));
	v3 ^= b;
	for (int r = 0; r < c; r++)
		SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	for (int r = 0; r < d; r++)
		SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

uint64_t rp_siphash13(const uint8_t key[16], const void *data, size_t len)
{
	return siphash(key, data, len, 1, 3);
}

uint64_t rp_siphash24(const uint8_t key[16], const void *data, size_t len)
{
	return siphash(key, data, len, 2, 4);
}

/* ---- table ---- */

static uint64_t key_hash(const rp_hash *h, rp_str key)
{
	uint64_t v = siphash(h->seed, key.p, key.n, 1, 3);

	return v < 2 ? v + 2 : v;
}

static size_t cap_for(size_t entries)
{
	size_t cap = MIN_CAP;

	/* Load factor at most 3/4 before the next rebuild. */
	while (cap / 4 * 3 < entries && cap < SIZE_MAX / 2 / sizeof(struct slot))
		cap *= 2;
	return cap;
}

static int hash_create(size_t expected, unsigned flags, const uint8_t seed[16],
		       rp_hash **out)
{
	rp_hash *h = calloc(1, sizeof(*h));

	if (!h)
		return -ENOMEM;
	h->cap = cap_for(expected);
	h->slots = calloc(h->cap, sizeof(struct slot));
	if (!h->slots) {
		free(h);
		return -ENOMEM;
	}
	h->flags = flags;
	memcpy(h->seed, seed, sizeof(h->seed));
	*out = h;
	return 0;
}

int rp_hash_new(size_t expected, unsigned flags, rp_hash **out)
{
	uint8_t seed[16];
	size_t got = 0;
	int rc;

	while (got < sizeof(seed)) {
		ssize_t n = getrandom(seed + got, sizeof(seed) - got, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		got += (size_t)n;
	}
	rc = hash_create(expected, flags, seed, out);
	explicit_bzero(seed, sizeof(seed));
	return rc;
}

int rp_hash_new_seeded(size_t expected, unsigned flags, const uint8_t seed[16],
		       rp_hash **out)
{
	return hash_create(expected, flags, seed, out);
}

void rp_hash_free(rp_hash *h)
{
	if (!h)
		return;
	if (h->flags & RP_HASH_COPY_KEYS) {
		for (size_t i = 0; i < h->cap; i++)
			if (h->slots[i].h > SLOT_TOMB)
				free((void *)h->slots[i].kp);
	}
	free(h->slots);
	explicit_bzero(h->seed, sizeof(h->seed));
	free(h);
}

static inline bool slot_matches(const struct slot *s, uint64_t hv, rp_str key)
{
	return s->h == hv && s->kn == key.n &&
	       (key.n == 0 || memcmp(s->kp, key.p, key.n) == 0);
}

/* Index of the live slot holding key, or SIZE_MAX. */
static size_t lookup(const rp_hash *h, rp_str key, uint64_t hv)
{
	size_t mask = h->cap - 1;
	size_t i = (size_t)hv & mask;

	/* used < cap always holds, so an empty slot ends every probe. */
	for (;;) {
		const struct slot *s = &h->slots[i];

		if (s->h == SLOT_EMPTY)
			return SIZE_MAX;
		if (slot_matches(s, hv, key))
			return i;
		i = (i + 1) & mask;
	}
}

/* Rebuilds into a table where the live entries (+1 for the pending insert)
 * fill at most half of the allowed load: grows, shrinks, drops tombstones,
 * and leaves room for many inserts before the next rebuild (amortised O(1)
 * even under insert/remove churn). */
static int rebuild(rp_hash *h)
{
	size_t ncap = cap_for(2 * (h->count + 1));
	struct slot *ns = calloc(ncap, sizeof(*ns));

	if (!ns)
		return -ENOMEM;
	for (size_t i = 0; i < h->cap; i++) {
		const struct slot *s = &h->slots[i];
		size_t j;

		if (s->h <= SLOT_TOMB)
			continue;
		j = (size_t)s->h & (ncap - 1);
		while (ns[j].h != SLOT_EMPTY)
			j = (j + 1) & (ncap - 1);
		ns[j] = *s;
	}
	free(h->slots);
	h->slots = ns;
	h->cap = ncap;
	h->used = h->count;
	h->gen++;
	return 0;
}

int rp_hash_insert(rp_hash *h, rp_str key, void *val)
{
	uint64_t hv;
	size_t i, mask, tomb = SIZE_MAX;
	struct slot *s;

	if (!val || (key.n && !key.p))
		return -EINVAL;
	hv = key_hash(h, key);
	mask = h->cap - 1;
	i = (size_t)hv & mask;
	for (;;) {
		s = &h->slots[i];
		if (s->h == SLOT_EMPTY)
			break;
		if (s->h == SLOT_TOMB) {
			if (tomb == SIZE_MAX)
				tomb = i;
		} else if (slot_matches(s, hv, key)) {
			return -EEXIST;
		}
		i = (i + 1) & mask;
	}
	if (tomb == SIZE_MAX && (h->used + 1) > h->cap / 4 * 3) {
		int rc = rebuild(h);

		if (rc)
			return rc;
		mask = h->cap - 1;
		i = (size_t)hv & mask;
		while (h->slots[i].h != SLOT_EMPTY)
			i = (i + 1) & mask;
	} else if (tomb != SIZE_MAX) {
		i = tomb;
	}
	s = &h->slots[i];
	if (h->flags & RP_HASH_COPY_KEYS) {
		char *copy = malloc(key.n ? key.n : 1);

		if (!copy)
			return -ENOMEM;
		if (key.n)
			memcpy(copy, key.p, key.n);
		s->kp = copy;
	} else {
		s->kp = key.p;
	}
	if (s->h == SLOT_EMPTY)
		h->used++;
	s->h = hv;
	s->kn = key.n;
	s->val = val;
	h->count++;
	return 0;
}

void *rp_hash_find(const rp_hash *h, rp_str key)
{
	size_t i = lookup(h, key, key_hash(h, key));

	return i == SIZE_MAX ? NULL : h->slots[i].val;
}

void *rp_hash_remove(rp_hash *h, rp_str key)
{
	size_t i = lookup(h, key, key_hash(h, key));
	struct slot *s;
	void *val;

	if (i == SIZE_MAX)
		return NULL;
	s = &h->slots[i];
	val = s->val;
	if (h->flags & RP_HASH_COPY_KEYS)
		free((void *)s->kp);
	/* A slot whose successor is empty ends no probe chain: it can become
	 * empty again instead of a tombstone. */
	if (h->slots[(i + 1) & (h->cap - 1)].h == SLOT_EMPTY) {
		s->h = SLOT_EMPTY;
		h->used--;
	} else {
		s->h = SLOT_TOMB;
	}
	s->kp = NULL;
	s->kn = 0;
	s->val = NULL;
	h->count--;
	return val;
}

size_t rp_hash_count(const rp_hash *h)
{
	return h->count;
}

void rp_hash_iter_init(const rp_hash *h, rp_hash_iter *it)
{
	it->h = h;
	it->pos = 0;
	it->gen = h->gen;
	it->broken = false;
}

bool rp_hash_iter_next(rp_hash_iter *it, rp_str *key, void **val)
{
	const rp_hash *h = it->h;

	if (it->gen != h->gen) {
		it->broken = true;
		return false;
	}
	while (it->pos < h->cap) {
		const struct slot *s = &h->slots[it->pos++];

		if (s->h > SLOT_TOMB) {
			if (key)
				*key = (rp_str){ s->kp, s->kn };
			if (val)
				*val = s->val;
			return true;
		}
	}
	return false;
}

bool rp_hash_iter_broken(const rp_hash_iter *it)
{
	return it->broken;
}
