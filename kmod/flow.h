/* SPDX-License-Identifier: GPL-2.0 */
/*
 * rampart.ko flow table: one per network namespace, a hash keyed by the
 * local address + UDP port packets arrive on.
 *
 * Readers (netlink GET/DUMP now, the packet path later) walk it under RCU;
 * writers (netlink ADD/UPDATE/DEL/FLUSH) serialise on the table's mutex.
 * A flow is reference counted (kref): the table holds one reference, and a
 * reader that needs a flow outside its RCU section takes another with
 * rampart_flow_get(). A flow's configuration is a separate RCU-managed
 * object so that UPDATE swaps it atomically while counters and identity
 * stay put; old configurations are wiped (they hold keys) after a grace
 * period.
 */
#ifndef _RAMPART_FLOW_H
#define _RAMPART_FLOW_H

#include <linux/atomic.h>
#include <linux/in6.h>
#include <linux/kref.h>
#include <linux/rcupdate.h>
#include <linux/types.h>
#include <linux/workqueue.h>
#include <net/dst_cache.h>

#include "uapi/rampart_nl.h"

/* An address + UDP port. Always memset to 0 before filling: the hash and
 * the comparison cover every byte. */
struct rampart_ep {
	union {
		__be32 v4;
		struct in6_addr v6;
	} addr;
	__be16 port;	/* 0 = any (only in rampart_flow_cfg.expect_src) */
	u8 family;	/* AF_INET or AF_INET6; 0 = not set */
	u8 pad;
};

/* One direction's SRTP transform; suite RAMPART_SUITE_NONE = plain RTP. */
struct rampart_xf {
	u32 suite;
	u8 key_len;
	u8 salt_len;
	u8 key[RAMPART_MASTER_KEY_MAX];
	u8 salt[RAMPART_MASTER_SALT_MAX];
	u32 roc;
	u16 seq;
	u8 has_seq;	/* SEQ given: the index continues from roc/seq */
	u32 replay_window;
};

struct rampart_srtp;

/* Everything UPDATE may change. Freed with rampart_flow_cfg_free(). */
struct rampart_flow_cfg {
	struct rampart_ep expect_src;	/* family 0: any source */
	u8 mismatch;			/* enum rampart_mismatch */
	struct rampart_xf in;		/* as programmed; master key wiped */
	struct rampart_xf out;
	/* Live SRTP state for in/out (NULL: plain RTP), one reference each;
	 * shared with the previous configuration when UPDATE keeps it. */
	struct rampart_srtp *in_srtp;
	struct rampart_srtp *out_srtp;
	struct rampart_ep out_src;
	struct rampart_ep out_dst;
	/* The route from out_src to out_dst, per CPU (the hook runs with BH
	 * disabled), so that a packet costs no FIB lookup; entries go stale
	 * by themselves when routes change (dst_check). Owned by this
	 * configuration: never shared with the one UPDATE makes from it. */
	struct dst_cache route;
	/* Freed in process context after a grace period (crypto transforms). */
	struct rcu_work free_work;
};

struct rampart_flow_stats {
	atomic64_t packets;
	atomic64_t bytes;
	atomic64_t auth_fail;
	atomic64_t replay_drop;
	atomic64_t src_mismatch;
	atomic64_t last_seen_ns;
};

struct rampart_flow {
	struct hlist_node node;		/* table bucket; under table->lock */
	struct rampart_ep local;	/* the key; never changes */
	struct rampart_flow_cfg __rcu *cfg;
	struct rampart_flow_stats stats;
	struct kref ref;
	struct rcu_head rcu;
};

struct rampart_table;

/* Allocates an empty table for at most @max flows. */
int rampart_table_new(u32 max, struct rampart_table **out);
/* Removes every flow and frees the table (flows go after a grace period;
 * the module's exit runs rcu_barrier()). */
void rampart_table_free(struct rampart_table *t);
u32 rampart_table_count(const struct rampart_table *t);
u32 rampart_table_max(const struct rampart_table *t);
/* Removes every flow; returns how many. */
u32 rampart_table_flush(struct rampart_table *t);

/* Inserts a flow keyed by @local with configuration @cfg. On success the
 * flow owns @cfg; on error the caller still does. -EEXIST, -ENOSPC,
 * -ENOMEM. */
int rampart_flow_add(struct rampart_table *t, const struct rampart_ep *local,
		     struct rampart_flow_cfg *cfg);

/* Replaces the configuration of the flow keyed by @local: a copy of the
 * current one is passed to @apply, which edits it and returns 0 or a
 * negative errno (then nothing changes). Runs under the table's mutex.
 * -ENOENT if no such flow. */
int rampart_flow_update(struct rampart_table *t, const struct rampart_ep *local,
			int (*apply)(struct rampart_flow_cfg *cfg, void *arg),
			void *arg);

/* Unlinks and releases the flow keyed by @local; -ENOENT if none. */
int rampart_flow_del(struct rampart_table *t, const struct rampart_ep *local);

/* Caller in an RCU read-side section; the result is valid until it ends. */
struct rampart_flow *rampart_flow_lookup_rcu(struct rampart_table *t,
					     const struct rampart_ep *local);
/* Returns the flow keyed by @local with a reference taken, or NULL. Drop it
 * with rampart_flow_put(). */
struct rampart_flow *rampart_flow_get(struct rampart_table *t,
				      const struct rampart_ep *local);
void rampart_flow_put(struct rampart_flow *f);

/* Calls @fn under rcu_read_lock() for every flow from position
 * (*bucket, *idx) on; stops when @fn returns non-zero, leaving the position
 * at that flow so a later call resumes there (netlink dumps). Flows added or
 * removed between calls may be missed or seen twice. */
int rampart_table_walk(struct rampart_table *t, unsigned long *bucket,
		       unsigned long *idx,
		       int (*fn)(struct rampart_flow *f, void *arg), void *arg);

/* A zeroed configuration with its own (empty) route cache, or NULL. */
struct rampart_flow_cfg *rampart_flow_cfg_alloc(void);
/* Wipes (key material), drops its SRTP contexts and cached routes and frees
 * a configuration nobody references. Process context. */
void rampart_flow_cfg_free(struct rampart_flow_cfg *cfg);

/* The workqueue that frees configurations; flow_init before any table,
 * flow_exit after the last table is gone and rcu_barrier(). */
int rampart_flow_init(void);
void rampart_flow_exit(void);

#endif /* _RAMPART_FLOW_H */
