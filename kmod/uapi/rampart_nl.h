/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * rampart.ko generic netlink ABI (types only; shared by the module and
 * userspace: rampart-mediad, tests/kmod/nlclient).
 *
 * Family name "rampart" (RAMPART_GENL_NAME), genl version 1. The ABI
 * version (RAMPART_ABI_VERSION) is what the VERSION handshake compares.
 * Every command needs CAP_NET_ADMIN (GENL_ADMIN_PERM). Flows live in the
 * network namespace of the netlink socket that sent the command.
 * Attributes are validated strictly: unknown attributes, wrong lengths,
 * out-of-range values and missing NLA_F_NESTED flags are rejected with an
 * error (and, where useful, an extended-ack message naming the attribute)
 * and the command changes nothing.
 *
 * Commands
 * --------
 * RAMPART_CMD_VERSION (do)
 *   Request:  RAMPART_A_VERSION (u32, optional): the ABI version the client
 *             was built for. If present and not equal to the module's, the
 *             command fails with -EPROTONOSUPPORT: a client must not program
 *             flows into a module whose ABI it does not know.
 *   Reply:    RAMPART_A_VERSION (u32) the module's ABI version,
 *             RAMPART_A_MODULE_VERSION (string) the module's release,
 *             RAMPART_A_FLOW_MAX (u32) flow capacity per namespace,
 *             RAMPART_A_FLOW_COUNT (u32) flows now in this namespace,
 *             RAMPART_A_FEATURES (u32) RAMPART_FEAT_* bits.
 *
 * RAMPART_CMD_FLOW_ADD (do)
 *   Request:  RAMPART_A_FLOW (nested, RAMPART_FLOW_A_*) with at least
 *             LOCAL (address + port), OUT_SRC and OUT_DST (address + port).
 *             Fails with -EEXIST if a flow with the same LOCAL exists and
 *             with -ENOSPC when the namespace holds RAMPART_A_FLOW_MAX.
 * RAMPART_CMD_FLOW_UPDATE (do)
 *   Request:  RAMPART_A_FLOW with LOCAL naming an existing flow (-ENOENT
 *             otherwise). Every other RAMPART_FLOW_A_* present replaces that
 *             part of the flow (a transform is replaced whole); parts not
 *             present are kept. Counters are kept. Optional parts cannot be
 *             removed by UPDATE: DEL and ADD the flow for that.
 * RAMPART_CMD_FLOW_DEL (do)
 *   Request:  RAMPART_A_FLOW with LOCAL only. -ENOENT if absent.
 * RAMPART_CMD_FLOW_GET (do)
 *   Request:  RAMPART_A_FLOW with LOCAL only.
 *   Reply:    RAMPART_A_FLOW: the flow as programmed plus STATS. Keys and
 *             salts are never sent back (mediad has them); transforms come
 *             back with SUITE, ROC, SEQ and REPLAY_WINDOW so that mediad can
 *             take a flow back and carry on in userspace.
 * RAMPART_CMD_FLOW_DUMP (dump)
 *   Reply:    one message per flow, as for FLOW_GET.
 * RAMPART_CMD_FLUSH (do)
 *   Removes every flow of the namespace. Reply: RAMPART_A_FLOW_COUNT (u32),
 *   the number of flows removed.
 *
 * Attributes
 * ----------
 * Top level (RAMPART_A_*):
 *   VERSION         u32     ABI version (see VERSION).
 *   MODULE_VERSION  string  module release, at most 31 bytes + NUL.
 *   FLOW_MAX        u32     capacity (reply only).
 *   FLOW_COUNT      u32     number of flows (reply only).
 *   FEATURES        u32     RAMPART_FEAT_* (reply only).
 *   FLOW            nested  RAMPART_FLOW_A_*.
 *
 * A flow (RAMPART_FLOW_A_*) is keyed by the local address and UDP port the
 * packets arrive on:
 *   LOCAL        nested RAMPART_EP_A_*  the key: address + port (required).
 *   EXPECT_SRC   nested RAMPART_EP_A_*  expected source of incoming packets:
 *                address, and optionally a port (no port: any port). Must
 *                be of the same address family as LOCAL. Absent: any source.
 *   MISMATCH     u8 enum rampart_mismatch: what to do with a packet from
 *                another source: DROP (default) or PASS (leave it to the
 *                normal stack, i.e. to mediad's socket).
 *   SRTP_IN      nested RAMPART_XF_A_*  inbound transform (we unprotect with
 *                it). Absent: packets arrive as plain RTP.
 *   SRTP_OUT     nested RAMPART_XF_A_*  outbound transform (we protect with
 *                it). Absent: packets leave as plain RTP.
 *   OUT_SRC      nested RAMPART_EP_A_*  address + port forwarded packets are
 *                sent from (required on ADD).
 *   OUT_DST      nested RAMPART_EP_A_*  address + port they are sent to
 *                (required on ADD); same family as OUT_SRC.
 *   STATS        nested RAMPART_STATS_A_*  counters (reply only; rejected in
 *                requests).
 *
 * An endpoint (RAMPART_EP_A_*): exactly one of
 *   ADDR4        4 bytes, network order (struct in_addr)
 *   ADDR6        16 bytes, network order (struct in6_addr)
 * and
 *   PORT         u16, host order, 1..65535.
 * Rejected: 0.0.0.0/8, 255.255.255.255, ::, and multicast addresses.
 *
 * A transform (RAMPART_XF_A_*), RFC 3711 / RFC 7714 SRTP:
 *   SUITE          u32 enum rampart_suite (required).
 *   KEY_128        16-byte master key  } exactly the one that the suite
 *   KEY_192        24-byte master key  } uses (see the table below); the
 *   KEY_256        32-byte master key  } others must be absent. The length
 *   SALT_112       14-byte master salt } is in the attribute type so that
 *   SALT_96        12-byte master salt } the policy can check it exactly.
 *   ROC            u32 rollover counter (default 0).
 *   SEQ            u16 highest sequence number seen (inbound) or last sent
 *                  (outbound) (default 0). When absent, the first packet
 *                  fixes the index (ROC << 16 | its sequence number); when
 *                  present, packets continue from that index (RFC 3711
 *                  3.3.1 index guessing) and, inbound, it and the
 *                  whole replay window behind it count as seen (mediad
 *                  may have accepted any of them).
 *   REPLAY_WINDOW  u32 replay window in packets, 64..1024 (inbound only;
 *                  default 128).
 *
 *   suite                       key       salt
 *   AES_CM_128_HMAC_SHA1_80/32  KEY_128   SALT_112
 *   AES_192_CM_HMAC_SHA1_80/32  KEY_192   SALT_112
 *   AES_256_CM_HMAC_SHA1_80/32  KEY_256   SALT_112
 *   AEAD_AES_128_GCM            KEY_128   SALT_96
 *   AEAD_AES_256_GCM            KEY_256   SALT_96
 *   NULL_HMAC_SHA1_80/32        KEY_128   SALT_112 (authentication only)
 *
 * Counters (RAMPART_STATS_A_*), all u64 (64-bit aligned with PAD):
 *   PACKETS, BYTES     forwarded packets and their UDP payload bytes
 *   AUTH_FAIL          dropped: SRTP authentication failed
 *   REPLAY_DROP        dropped: SRTP replay check failed
 *   SRC_MISMATCH       packets from an unexpected source (dropped or passed)
 *   LAST_SEEN_NS       CLOCK_MONOTONIC ns of the last packet (read from the
 *                      coarse clock: resolution one scheduler tick); 0 = never
 */
#ifndef _UAPI_RAMPART_NL_H
#define _UAPI_RAMPART_NL_H

#define RAMPART_GENL_NAME "rampart"
#define RAMPART_GENL_VERSION 1
#define RAMPART_ABI_VERSION 1
#define RAMPART_MODULE_VERSION_MAX 32

enum rampart_cmd {
	RAMPART_CMD_UNSPEC,
	RAMPART_CMD_VERSION,
	RAMPART_CMD_FLOW_ADD,
	RAMPART_CMD_FLOW_UPDATE,
	RAMPART_CMD_FLOW_DEL,
	RAMPART_CMD_FLOW_GET,
	RAMPART_CMD_FLOW_DUMP,
	RAMPART_CMD_FLUSH,
	__RAMPART_CMD_MAX
};
#define RAMPART_CMD_MAX (__RAMPART_CMD_MAX - 1)

enum rampart_attr {
	RAMPART_A_UNSPEC,
	RAMPART_A_VERSION,
	RAMPART_A_MODULE_VERSION,
	RAMPART_A_FLOW_MAX,
	RAMPART_A_FLOW_COUNT,
	RAMPART_A_FEATURES,
	RAMPART_A_FLOW,
	__RAMPART_A_MAX
};
#define RAMPART_A_MAX (__RAMPART_A_MAX - 1)

/* RAMPART_A_FEATURES bits. */
enum rampart_features {
	RAMPART_FEAT_FLOW_TABLE = 1U << 0,
	RAMPART_FEAT_FWD_RTP_V4 = 1U << 1, /* plain RTP forwarding, IPv4 */
	RAMPART_FEAT_FWD_RTP_V6 = 1U << 2, /* plain RTP forwarding, IPv6 */
	/* SRTP in the kernel (IPv4 and IPv6): SRTP->RTP, RTP->SRTP,
	 * SRTP->SRTP for the AES-CM (128/192/256) and NULL HMAC-SHA1 suites */
	RAMPART_FEAT_SRTP_AES_CM = 1U << 3,
	RAMPART_FEAT_SRTP_GCM = 1U << 4,   /* AEAD_AES_128/256_GCM likewise */
	/* the RFC 3711 B.3 key derivation vectors passed inside the module
	 * at load (without it, no SRTP bit is set and SRTP flows are refused) */
	RAMPART_FEAT_SRTP_KDF_SELFTEST = 1U << 5,
};

enum rampart_flow_attr {
	RAMPART_FLOW_A_UNSPEC,
	RAMPART_FLOW_A_LOCAL,
	RAMPART_FLOW_A_EXPECT_SRC,
	RAMPART_FLOW_A_MISMATCH,
	RAMPART_FLOW_A_SRTP_IN,
	RAMPART_FLOW_A_SRTP_OUT,
	RAMPART_FLOW_A_OUT_SRC,
	RAMPART_FLOW_A_OUT_DST,
	RAMPART_FLOW_A_STATS,
	__RAMPART_FLOW_A_MAX
};
#define RAMPART_FLOW_A_MAX (__RAMPART_FLOW_A_MAX - 1)

enum rampart_mismatch {
	RAMPART_MISMATCH_DROP = 0,
	RAMPART_MISMATCH_PASS = 1,
	__RAMPART_MISMATCH_MAX
};
#define RAMPART_MISMATCH_MAX (__RAMPART_MISMATCH_MAX - 1)

enum rampart_ep_attr {
	RAMPART_EP_A_UNSPEC,
	RAMPART_EP_A_ADDR4,
	RAMPART_EP_A_ADDR6,
	RAMPART_EP_A_PORT,
	__RAMPART_EP_A_MAX
};
#define RAMPART_EP_A_MAX (__RAMPART_EP_A_MAX - 1)

enum rampart_suite {
	RAMPART_SUITE_NONE = 0, /* invalid on the wire */
	RAMPART_SUITE_AES_CM_128_HMAC_SHA1_80,
	RAMPART_SUITE_AES_CM_128_HMAC_SHA1_32,
	RAMPART_SUITE_AES_192_CM_HMAC_SHA1_80,
	RAMPART_SUITE_AES_192_CM_HMAC_SHA1_32,
	RAMPART_SUITE_AES_256_CM_HMAC_SHA1_80,
	RAMPART_SUITE_AES_256_CM_HMAC_SHA1_32,
	RAMPART_SUITE_AEAD_AES_128_GCM,
	RAMPART_SUITE_AEAD_AES_256_GCM,
	RAMPART_SUITE_NULL_HMAC_SHA1_80,
	RAMPART_SUITE_NULL_HMAC_SHA1_32,
	__RAMPART_SUITE_MAX
};
#define RAMPART_SUITE_MAX (__RAMPART_SUITE_MAX - 1)

enum rampart_xf_attr {
	RAMPART_XF_A_UNSPEC,
	RAMPART_XF_A_SUITE,
	RAMPART_XF_A_KEY_128,
	RAMPART_XF_A_KEY_192,
	RAMPART_XF_A_KEY_256,
	RAMPART_XF_A_SALT_112,
	RAMPART_XF_A_SALT_96,
	RAMPART_XF_A_ROC,
	RAMPART_XF_A_SEQ,
	RAMPART_XF_A_REPLAY_WINDOW,
	__RAMPART_XF_A_MAX
};
#define RAMPART_XF_A_MAX (__RAMPART_XF_A_MAX - 1)

#define RAMPART_REPLAY_WINDOW_MIN 64
#define RAMPART_REPLAY_WINDOW_MAX 1024
#define RAMPART_REPLAY_WINDOW_DEFAULT 128
#define RAMPART_MASTER_KEY_MAX 32
#define RAMPART_MASTER_SALT_MAX 14

enum rampart_stats_attr {
	RAMPART_STATS_A_UNSPEC,
	RAMPART_STATS_A_PAD,
	RAMPART_STATS_A_PACKETS,
	RAMPART_STATS_A_BYTES,
	RAMPART_STATS_A_AUTH_FAIL,
	RAMPART_STATS_A_REPLAY_DROP,
	RAMPART_STATS_A_SRC_MISMATCH,
	RAMPART_STATS_A_LAST_SEEN_NS,
	__RAMPART_STATS_A_MAX
};
#define RAMPART_STATS_A_MAX (__RAMPART_STATS_A_MAX - 1)

#endif /* _UAPI_RAMPART_NL_H */
