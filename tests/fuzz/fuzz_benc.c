/* libFuzzer target for common/benc: decode; walk every node checking the
 * tree's invariants; when the input was canonical (sorted keys), re-encode
 * and require the exact input back; whatever decoded must re-encode into
 * something that decodes to the same canonical form. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "benc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void walk(const benc_node *root, const char *base, size_t n)
{
	const benc_node *cur = root;

	/* Iterative pre-order walk via parent/next, like the decoder. */
	while (cur) {
		if (cur->off >= n)
			abort();
		if (cur->type == BENC_STR) {
			if (cur->u.s.n && (cur->u.s.p < base || cur->u.s.p + cur->u.s.n > base + n))
				abort();
		} else if (cur->type == BENC_LIST || cur->type == BENC_DICT) {
			size_t count = 0;

			for (const benc_node *m = cur->u.c.first; m; m = m->next) {
				if (m->parent != cur)
					abort();
				if (cur->type == BENC_DICT &&
				    benc_dict_get_str(cur, m->key) == NULL)
					abort();
				count++;
			}
			if (count != cur->u.c.count)
				abort();
			if (cur->u.c.first) {
				cur = cur->u.c.first;
				continue;
			}
		} else if (cur->type != BENC_INT) {
			abort();
		}
		while (cur && !cur->next)
			cur = cur->parent;
		if (cur)
			cur = cur->next;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct benc_opts opts = { .max_depth = 64, .max_nodes = 100000 };
	rp_arena a;
	benc_node *root = NULL;
	struct benc_error err;
	bool sorted = false;
	rp_buf out, again;

	rp_arena_init(&a, NULL, 0, 256u << 20);
	if (benc_decode((const char *)data, size, &a, &opts, &root, &sorted, &err) != BENC_OK) {
		if (err.off > size)
			abort();
		rp_arena_fini(&a);
		return 0;
	}
	walk(root, (const char *)data, size);

	rp_buf_init(&out, 0);
	if (benc_encode(root, &a, &out) != 0)
		abort();
	if (sorted && (out.len != size || memcmp(out.p, data, size) != 0))
		abort();
	if (!sorted && out.len != size)
		abort(); /* reordering keys never changes the length */

	/* The canonical form is a fixed point. */
	benc_node *root2 = NULL;
	bool sorted2 = false;
	if (benc_decode(out.p, out.len, &a, &opts, &root2, &sorted2, &err) != BENC_OK || !sorted2)
		abort();
	rp_buf_init(&again, 0);
	if (benc_encode(root2, &a, &again) != 0 || again.len != out.len ||
	    memcmp(again.p, out.p, out.len) != 0)
		abort();
	rp_buf_free(&again);
	rp_buf_free(&out);
	rp_arena_fini(&a);
	return 0;
}
