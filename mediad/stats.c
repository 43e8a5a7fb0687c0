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
	{ "malformed", offsetof(struct mstats_leg, malformed) },
	{ "no-remote-drops", offsetof(struct mstats_leg, no_remote) },
	{ "protect-errors", offsetof(struct mstats_leg, protect_err) },
	{ "packets-lost", offsetof(struct mstats_leg, lost) },
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

/* Loss of the current run: expected - received, 0 if duplicates outnumber
 * the gaps (RFC 3550 allows a negative figure; a counter must not). In
 * 32-bit arithmetic, as RFC 3550 A.3 does: exact while the true figure is
 * below 2^31, whatever the wraps of the operands. */
static uint32_t run_lost(const struct mstats_seq *q)
{
	uint32_t expected;
	int32_t d;

	if (!(q->flags & MSTATS_SEQ_ACTIVE))
		return 0;
	expected = q->cycles + q->max_seq - q->base_seq + 1u;
	d = (int32_t)(expected - q->received);
	return d > 0 ? (uint32_t)d : 0;
}

static void run_start(struct mstats_seq *q, uint32_t ssrc, uint16_t seq)
{
	q->ssrc = ssrc;
	q->base_seq = q->max_seq = seq;
	q->cycles = 0;
	q->received = 1;
	q->flags = MSTATS_SEQ_ACTIVE;
}

void mstats_seq_resync(struct mstats_seq *q)
{
	q->flags = 0;
}

uint64_t mstats_seq_update(struct mstats_seq *q, uint64_t lost, uint32_t ssrc, uint16_t seq)
{
	uint16_t udelta = (uint16_t)(seq - q->max_seq);
	uint32_t before = run_lost(q);

	if (!(q->flags & MSTATS_SEQ_ACTIVE) || ssrc != q->ssrc) {
		run_start(q, ssrc, seq);
		return lost; /* the closed run's loss stays; the new one has none */
	}
	if (udelta == 0) {
		q->received++; /* duplicate of the highest: never a loss */
	} else if (udelta < MSTATS_SEQ_MAX_DROPOUT) {
		if (seq < q->max_seq)
			q->cycles += 65536u;
		q->max_seq = seq;
		q->received++;
		q->flags &= (uint8_t)~MSTATS_SEQ_BAD;
	} else if (udelta <= 65536u - MSTATS_SEQ_MAX_MISORDER) {
		/* A big jump: one packet may be stray; two in a row are a
		 * renumbered stream. Until confirmed it counts for nothing. */
		if ((q->flags & MSTATS_SEQ_BAD) && seq == q->bad_seq) {
			run_start(q, ssrc, seq);
			return lost;
		}
		q->bad_seq = (uint16_t)(seq + 1);
		q->flags |= MSTATS_SEQ_BAD;
	} else {
		q->received++; /* late or duplicate */
	}
	/* lost >= before: it includes the current run's loss. */
	return lost - before + run_lost(q);
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
