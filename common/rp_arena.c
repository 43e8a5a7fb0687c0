#include "rp_arena.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_ALIGN alignof(max_align_t)
#define ARENA_CHUNK_MIN 4096

struct rp_arena_chunk {
	struct rp_arena_chunk *next;
	size_t size; /* bytes after the header */
	alignas(max_align_t) char data[];
};

static char *align_up(char *p)
{
	uintptr_t v = (uintptr_t)p;

	v = (v + ARENA_ALIGN - 1) & ~(uintptr_t)(ARENA_ALIGN - 1);
	return (char *)v;
}

void rp_arena_init(rp_arena *a, void *storage, size_t size, size_t limit)
{
	memset(a, 0, sizeof(*a));
	a->initial = storage;
	a->initial_size = storage ? size : 0;
	a->limit = limit;
	a->cur = storage;
	a->end = storage ? (char *)storage + size : NULL;
}

void *rp_arena_alloc(rp_arena *a, size_t size)
{
	char *p;

	if (size == 0)
		size = 1;
	if (a->cur) {
		p = align_up(a->cur);
		if (p <= a->end && (size_t)(a->end - p) >= size) {
			a->cur = p + size;
			return p;
		}
	}

	size_t csize = size > ARENA_CHUNK_MIN ? size : ARENA_CHUNK_MIN;
	if (a->heap_bytes > 0 && csize < a->heap_bytes)
		csize = a->heap_bytes; /* geometric growth */
	if (csize > SIZE_MAX - sizeof(struct rp_arena_chunk))
		return NULL;
	if (a->limit) {
		if (size > a->limit || a->heap_bytes > a->limit - size)
			return NULL;
		if (csize > a->limit - a->heap_bytes)
			csize = a->limit - a->heap_bytes;
	}

	struct rp_arena_chunk *c = malloc(sizeof(*c) + csize);
	if (!c)
		return NULL;
	c->next = a->head;
	c->size = csize;
	a->head = c;
	a->heap_bytes += csize;
	a->cur = c->data + size;
	a->end = c->data + csize;
	return c->data;
}

void *rp_arena_zalloc(rp_arena *a, size_t size)
{
	void *p = rp_arena_alloc(a, size);

	if (p)
		memset(p, 0, size);
	return p;
}

char *rp_arena_strndup(rp_arena *a, const char *s, size_t n)
{
	char *p;

	if (n == SIZE_MAX)
		return NULL;
	p = rp_arena_alloc(a, n + 1);
	if (!p)
		return NULL;
	if (n)
		memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

void *rp_arena_realloc(rp_arena *a, void *p, size_t old_size, size_t new_size)
{
	char *q;

	if (!p)
		return rp_arena_alloc(a, new_size);
	if (new_size <= old_size)
		return p;
	/* The last allocation can grow in place. */
	if ((char *)p + old_size == a->cur &&
	    (size_t)(a->end - (char *)p) >= new_size) {
		a->cur = (char *)p + new_size;
		return p;
	}
	q = rp_arena_alloc(a, new_size);
	if (!q)
		return NULL;
	memcpy(q, p, old_size);
	return q;
}

void rp_arena_reset(rp_arena *a)
{
	struct rp_arena_chunk *c = a->head;

	while (c) {
		struct rp_arena_chunk *next = c->next;

		free(c);
		c = next;
	}
	a->head = NULL;
	a->heap_bytes = 0;
	a->cur = a->initial;
	a->end = a->initial ? a->initial + a->initial_size : NULL;
}

void rp_arena_fini(rp_arena *a)
{
	rp_arena_reset(a);
}
