/* rp_arena: per-message scratch memory, freed in one shot.
 *
 * A parsed SIP message, its SDP and everything derived from them live in one
 * arena. Nothing allocated from an arena is freed on its own: the owner calls
 * rp_arena_reset() (keep the first chunk for reuse) or rp_arena_fini().
 *
 * The first chunk can be caller-provided storage (e.g. on the stack), so a
 * typical message parses with no malloc at all.
 */
#ifndef RP_ARENA_H
#define RP_ARENA_H

#include <stddef.h>

struct rp_arena_chunk;

typedef struct rp_arena {
	struct rp_arena_chunk *head; /* heap chunks, newest first */
	char *cur;                   /* next free byte */
	char *end;                   /* end of the current region */
	char *initial;               /* caller storage, or NULL */
	size_t initial_size;
	size_t limit;                /* max heap bytes; 0 = unlimited */
	size_t heap_bytes;           /* heap bytes held now */
} rp_arena;

/* Sets up an arena. 'storage' (may be NULL) is used first and is never
 * freed by the arena. 'limit' caps the heap memory the arena may take, so a
 * hostile message cannot make a worker allocate without bound (0 = none). */
void rp_arena_init(rp_arena *a, void *storage, size_t size, size_t limit);

/* Returns 'size' bytes aligned for any type, or NULL (out of memory or over
 * the limit). The memory is uninitialised. */
void *rp_arena_alloc(rp_arena *a, size_t size);
/* Same, zero-filled. */
void *rp_arena_zalloc(rp_arena *a, size_t size);
/* Copies n bytes (and adds a NUL) into the arena; NULL on failure. */
char *rp_arena_strndup(rp_arena *a, const char *s, size_t n);
/* Grows the most recent allocation 'p' of old_size to new_size, in place
 * when possible, else by copying; NULL on failure ('p' stays valid). */
void *rp_arena_realloc(rp_arena *a, void *p, size_t old_size, size_t new_size);

/* Frees every heap chunk but keeps the caller storage: all pointers into
 * the arena become invalid. */
void rp_arena_reset(rp_arena *a);
/* Same as reset; the arena may be initialised again afterwards. */
void rp_arena_fini(rp_arena *a);

#endif
