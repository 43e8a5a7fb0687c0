#include "stats.h"

#include <stddef.h>

/* One table names every leg counter, so add, visit and docs cannot drift. */
static const struct {
	const char *name;
	size_t off;
} leg_fields[] = {
	{ "packets-in", offsetof(struct mstats_leg, pkts_in) },
	{ "bytes-in", offsetof(struct mstats_leg, bytes_in) },
	{ "packets-out", offsetof(struct mstats_leg, pkts_out) },
	{ "bytes-out", offsetof(struct mstats_leg, bytes_out) },
	{ "auth-failures", offsetof(struct mstats_leg, auth_fail) },
	{ "replay-drops", offsetof(struct mstats_leg, replay) },
	{ "source-mismatches", offsetof(struct mstats_leg, src_mismatch) },
	{ "parse-errors", offsetof(struct mstats_leg, parse_err) },
	{ "no-remote-drops", offsetof(struct mstats_leg, no_remote) },
	{ "protect-errors", offsetof(struct mstats_leg, protect_err) },
};

#define FIELD(p, off) (*(uint64_t *)((char *)(p) + (off)))
#define CFIELD(p, off) (*(const uint64_t *)((const char *)(p) + (off)))

void mstats_leg_add(struct mstats_leg *dst, const struct mstats_leg *src)
{
	for (size_t i = 0; i < sizeof(leg_fields) / sizeof(leg_fields[0]); i++)
		FIELD(dst, leg_fields[i].off) += CFIELD(src, leg_fields[i].off);
	if (src->last_ms > dst->last_ms)
		dst->last_ms = src->last_ms;
}

void mstats_total_add(struct mstats_total *dst, const struct mstats_total *src)
{
	mstats_leg_add(&dst->pkt, &src->pkt);
	dst->send_err += src->send_err;
	dst->rx_overflow += src->rx_overflow;
	dst->sessions_active += src->sessions_active;
	dst->sessions_created += src->sessions_created;
	dst->sessions_deleted += src->sessions_deleted;
	dst->sessions_timed_out += src->sessions_timed_out;
	dst->port_exhausted += src->port_exhausted;
}

void mstats_leg_visit(const struct mstats_leg *l, mstats_visit_fn fn, void *ctx)
{
	for (size_t i = 0; i < sizeof(leg_fields) / sizeof(leg_fields[0]); i++)
		fn(ctx, leg_fields[i].name, CFIELD(l, leg_fields[i].off));
	fn(ctx, "last-packet-ms", l->last_ms);
}

void mstats_total_visit(const struct mstats_total *t, mstats_visit_fn fn, void *ctx)
{
	mstats_leg_visit(&t->pkt, fn, ctx);
	fn(ctx, "send-errors", t->send_err);
	fn(ctx, "rx-buffer-overflows", t->rx_overflow);
	fn(ctx, "sessions-active", t->sessions_active);
	fn(ctx, "sessions-created", t->sessions_created);
	fn(ctx, "sessions-deleted", t->sessions_deleted);
	fn(ctx, "sessions-timed-out", t->sessions_timed_out);
	fn(ctx, "port-exhausted", t->port_exhausted);
}
