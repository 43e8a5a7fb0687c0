/* mkern: mediad's side of the kernel fast path (rampart.ko, docs/kmod.md).
 *
 * A worker that sees a direction of a session ready for the kernel (remote
 * known, packets carried in userspace, nothing the module cannot do) posts
 * an offload request; one mkern thread owns the generic netlink socket and
 * programs the flow (FLOW_ADD). Workers never wait: posting takes a short
 * queue lock and signals a condition variable. The control thread asks
 * synchronously for a session's kernel counters (session.query/stats) and
 * removes its flows on session.delete (FLOW_GET for the final counters,
 * then FLOW_DEL).
 *
 * A direction is named by the leg packets arrive on ('from', 0 = A): the
 * flow is keyed by that leg's local RTP address+port, expects the leg's
 * remote as source, and sends from the other leg's RTP socket address to
 * the other leg's remote. RTCP is never offloaded.
 *
 * If the module goes away (rmmod, netlink errors) the kernel's flows are
 * gone and packets reach mediad's sockets again, so userspace simply keeps
 * forwarding; the counters last read from the module are kept so totals
 * stay summed. In 'auto' mode the module is probed every few seconds and
 * flows that mediad still wants are programmed again when it is back.
 *
 * The pure parts (decision, message building and parsing, counter mapping)
 * are separate functions so unit tests can run them on any host.
 *
 * Ownership: mkern_new() returns an object freed with mkern_free(), which
 * deletes every flow it programmed and stops its thread.
 */
#ifndef MKERN_H
#define MKERN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "session.h"
#include "stats.h"

struct mkern;
struct nlmsghdr;

enum mkern_mode {
	MKERN_OFF,      /* never talk to the module */
	MKERN_AUTO,     /* use it when present; probe periodically */
	MKERN_REQUIRED, /* refuse to start without it */
};
const char *mkern_mode_name(enum mkern_mode m);
/* "off" | "auto" | "required"; -EINVAL otherwise. */
int mkern_mode_parse(const char *s, size_t n, enum mkern_mode *out);

/* What the worker-side decision needs to know about the module. */
struct mkern_caps {
	bool present;
	uint32_t features; /* RAMPART_FEAT_* */
};

/* Why a direction is (not) offloaded. */
enum mkern_why {
	MKERN_YES = 0,       /* offload now */
	MKERN_NO_MODULE,     /* module absent */
	MKERN_NO_SOURCE,     /* arrival leg's remote not latched/known yet */
	MKERN_NO_DEST,       /* other leg has no remote yet */
	MKERN_TOO_EARLY,     /* not enough packets carried in userspace yet */
	MKERN_SRTP,          /* an SRTP context on the path (module: plain only) */
	MKERN_MUX,           /* arrival leg muxes RTCP on its RTP port */
	MKERN_FAMILY,        /* legs of different families / family unsupported */
	MKERN_NO_SOCKET,     /* a leg has no RTP socket */
};
const char *mkern_why_name(enum mkern_why w);

/* Packets a direction must have carried in userspace before it goes to the
 * kernel: the source is then known and any SRTP state established. */
#define MKERN_MIN_PKTS 2

/* Pure: may the direction from leg 'from' of s go to the kernel now? */
enum mkern_why mkern_decide(const struct msess *s, int from, const struct mkern_caps *caps);

/* An SRTP transform of a flow: master key/salt and where the stream is. */
struct mkern_xf {
	bool set;
	uint8_t suite;             /* enum rampart_suite */
	uint8_t key_len, salt_len;
	uint8_t key[32], salt[14];
	uint32_t roc;
	uint16_t seq;
};

/* A flow as programmed. expect_src family 0 = any source. Holds key
 * material when in/out are set: wipe it (explicit_bzero) when done. */
struct mkern_flow {
	union maddr local, expect_src, out_src, out_dst;
	uint8_t mismatch;   /* RAMPART_MISMATCH_* */
	uint32_t ssrc;      /* the SSRC whose ROC/SEQ went with in/out */
	struct mkern_xf in, out;
};

/* The flow for direction 'from' of s, with the local socket addresses given
 * (the worker reads them with getsockname) and the SSRC of the packet just
 * forwarded: the SRTP contexts' index for it goes with the transforms
 * (msrtp_get_index). Returns 0, -EINVAL if a part is missing or a wildcard,
 * -EAGAIN if an SRTP context has no index for ssrc yet. */
int mkern_flow_from(const struct msess *s, int from, uint32_t ssrc,
	const union maddr *local_from, const union maddr *local_to, struct mkern_flow *out);

/* Counters of one flow as the module reports them. */
struct mkern_counters {
	uint64_t packets, bytes, auth_fail, replay_drop, src_mismatch, last_seen_ns;
};

/* A FLOW_GET/DUMP reply, parsed. */
struct mkern_flow_reply {
	union maddr local;
	bool has_stats;
	struct mkern_counters c;
	struct { bool present; uint32_t suite, roc; uint16_t seq; } in, out;
};

struct mkern_version {
	uint32_t abi, flow_max, flow_count, features;
	char release[32];
};

/* Pure message building into buf (at least MNL_SOCKET_BUFFER_SIZE / 8192
 * bytes). Returns the nlmsghdr placed at buf. 'parts': with_all = LOCAL,
 * EXPECT_SRC, MISMATCH, OUT_SRC, OUT_DST, SRTP_IN/OUT when set; otherwise
 * LOCAL only (DEL/GET). A buffer with keys in it is the caller's to wipe. */
struct nlmsghdr *mkern_msg_version(void *buf, uint16_t family, uint32_t seq);
struct nlmsghdr *mkern_msg_flow(void *buf, uint16_t family, uint32_t seq, uint8_t cmd,
	const struct mkern_flow *f, bool with_all);
/* Pure parsing of a reply's genetlink payload. Return 0 or -EBADMSG. */
int mkern_parse_version(const struct nlmsghdr *nlh, struct mkern_version *out);
int mkern_parse_flow(const struct nlmsghdr *nlh, struct mkern_flow_reply *out);

/* Pure: adds flow counters of direction 'from' to the session's legs:
 * packets/bytes are in on 'from' and out on the other leg; drops count on
 * 'from'. Mismatches are added only when the module dropped them (with
 * PASS, mediad saw and counted them itself). last_seen_ns (CLOCK_MONOTONIC)
 * becomes last_ms. */
void mkern_counters_to_legs(const struct mkern_counters *c, int from, uint8_t mismatch,
	struct mstats_leg leg[2]);

/* ---- the runtime ------------------------------------------------------ */

/* Where the module has (or left) the SRTP stream of one direction, for the
 * worker's contexts (msrtp_set_anchor): read when the module hands a packet
 * up, after a take-back, and by the poll (every POLL_MS). */
struct mkern_sync {
	uint32_t ssrc;      /* the stream the flow was programmed for */
	bool final;         /* the module no longer has the flow: this is where
			     * it left the stream (as last read) */
	bool in, out;       /* SRTP_IN / SRTP_OUT present */
	uint32_t roc_in, roc_out;
	uint16_t seq_in, seq_out;
};

/* Starts the mkern thread. MKERN_OFF: returns an object that does nothing.
 * MKERN_REQUIRED: probes first and fails with -ENOENT (no module) or
 * -EPROTONOSUPPORT (ABI mismatch) or -EPERM, writing the reason to err. */
int mkern_new(enum mkern_mode mode, char *err, size_t errsz, struct mkern **out);
/* Deletes every programmed flow, stops the thread, frees. NULL allowed. */
void mkern_free(struct mkern *k);

/* Cheap check for workers (one atomic load): worth calling mkern_decide? */
bool mkern_usable(const struct mkern *k, struct mkern_caps *caps);

/* Worker side, never blocks for long: asks for direction 'from' of session
 * id to be offloaded with flow f. epoch: the worker's count of its offload
 * requests for that direction, for mkern_sync_get. */
void mkern_post_offload(struct mkern *k, uint64_t id, int from, uint16_t epoch,
	const struct mkern_flow *f);
/* Worker side, never waits for netlink (a short lock): the SRTP state of
 * direction 'from' of session id as of the offload request 'epoch'.
 * Returns 0, -EAGAIN if that request has not been run yet, -ENOENT with
 * kernel = off. */
int mkern_sync_get(struct mkern *k, uint64_t id, int from, uint16_t epoch,
	struct mkern_sync *out);
/* Worker side: takes session id's flows back (leg.update: they are
 * re-decided later) or, with forget, removes them for good (timeout). */
void mkern_post_release(struct mkern *k, uint64_t id, bool forget);

/* Control side (blocks on netlink): adds the kernel counters of session id
 * to leg[2] and tells per leg whether its direction is in the kernel now.
 * With remove, reads the final counters and deletes the flows. */
void mkern_session(struct mkern *k, uint64_t id, bool remove, struct mstats_leg leg[2],
	bool offloaded[2]);
/* Latest CLOCK_MONOTONIC ms the module saw a packet of session id (as last
 * polled); 0 = none; UINT64_MAX = busy right now, ask again (never blocks:
 * called by workers for their media timeouts). */
uint64_t mkern_last_ms(struct mkern *k, uint64_t id);
/* Adds to sum the kernel counters of every flow, live or removed (reads
 * each programmed flow: one FLOW_GET per flow): for 'stats'. Control side. */
void mkern_add_totals(struct mkern *k, struct mstats_leg *sum);

struct mkern_info {
	enum mkern_mode mode;
	bool present;
	uint32_t abi, features;
	uint64_t flows;      /* flows programmed now */
	uint64_t offloads;   /* FLOW_ADDs that succeeded, ever */
	uint64_t takebacks;  /* flows taken back because the module went away */
	char release[32];
};
void mkern_get_info(struct mkern *k, struct mkern_info *out);

#endif
