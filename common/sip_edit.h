/* sip_edit: change a parsed message without re-parsing it.
 *
 * An edit is a list of operations (insert, delete, replace) over byte
 * ranges of the original message. Serialising walks the original once and
 * writes original bytes and replacement text in order, so an edit with no
 * operations reproduces the message byte for byte.
 *
 * Ownership: the struct sip_edit and copies of every text given to it live
 * in the arena passed to sip_edit_new(); the message (and its buffer) must
 * outlive the edit. Nothing is freed on its own.
 */
#ifndef SIP_EDIT_H
#define SIP_EDIT_H

#include <stdbool.h>
#include <stddef.h>

#include "rp_arena.h"
#include "rp_str.h"
#include "sip_err.h"
#include "sip_msg.h"

struct sip_edit;

enum sip_edit_where {
	SIP_EDIT_TOP,     /* before the first header */
	SIP_EDIT_BOTTOM,  /* after the last header */
	SIP_EDIT_BEFORE,  /* before header 'ref' */
	SIP_EDIT_AFTER,   /* after header 'ref' */
};

/* Creates an empty edit of 'm' in 'a'. Returns SIP_OK or SIP_E_NOMEM;
 * *out is written only on success. */
enum sip_err sip_edit_new(const struct sip_msg *m, rp_arena *a, struct sip_edit **out);

/* Adds "name: value\r\n". 'ref' is a header index (m->hdrs) for
 * BEFORE/AFTER and ignored otherwise. A value may hold folded lines (CRLF
 * then SP/HTAB, RFC 3261 7.3.1); any other CR or LF is SIP_E_INVALID_ARG
 * (it would inject a header), as for sip_edit_replace_value(). Several adds at the same place come
 * out in the order they were made. */
enum sip_err sip_edit_add_header(struct sip_edit *e, enum sip_edit_where where,
				 size_t ref, rp_str name, rp_str value);
/* Removes header 'idx' (the whole field, folded lines included). */
enum sip_err sip_edit_remove_header(struct sip_edit *e, size_t idx);
/* Removes the nth (0-based) comma-separated value of header 'idx'; removing
 * the only value removes the header. */
enum sip_err sip_edit_remove_value(struct sip_edit *e, size_t idx, size_t nth);
/* Removes the topmost Via value (what a proxy does to a response). */
enum sip_err sip_edit_pop_via(struct sip_edit *e);
/* Replaces the value of header 'idx' (the name is kept). */
enum sip_err sip_edit_replace_value(struct sip_edit *e, size_t idx, rp_str value);
/* Replaces the Request-URI (requests only). */
enum sip_err sip_edit_set_ruri(struct sip_edit *e, rp_str uri);
/* Replaces the body and sets Content-Length to its length (adding the
 * header if the message had none). */
enum sip_err sip_edit_set_body(struct sip_edit *e, rp_str body);

/* A point to come back to: the edits made so far. */
struct sip_edit_mark {
	size_t seq;
	bool body_set;
};
void sip_edit_mark(const struct sip_edit *e, struct sip_edit_mark *mk);
/* Drops every edit made after 'mk' (one message written several ways,
 * e.g. a request forked to targets over different transports). */
void sip_edit_undo(struct sip_edit *e, const struct sip_edit_mark *mk);

/* Exact size of the serialised message. */
size_t sip_edit_len(const struct sip_edit *e);
/* Writes the message into out[0..outsz); *outlen gets its length. Returns
 * SIP_OK or SIP_E_NOSPACE (nothing meaningful written). */
enum sip_err sip_edit_write(const struct sip_edit *e, char *out, size_t outsz,
			    size_t *outlen);
/* Same, into memory taken from 'a'. */
enum sip_err sip_edit_write_arena(const struct sip_edit *e, rp_arena *a, rp_str *out);

#endif
