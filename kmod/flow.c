// SPDX-License-Identifier: GPL-2.0
/*
 * rampart.ko flow table (see flow.h for the locking and lifetime rules).
 */
#include <linux/jhash.h>
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/random.h>
#include <linux/rculist.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "flow.h"
#include "srtp.h"

static struct workqueue_struct *rampart_wq;

struct rampart_table {
	struct mutex lock;	/* serialises writers */
	u32 count;		/* under lock; read racily for reports */
	u32 max;
	u32 seed;
	u32 mask;		/* nbuckets - 1 */
	struct hlist_head *buckets;
};

static u32 ep_hash(const struct rampart_table *t, const struct rampart_ep *ep)
{
	BUILD_BUG_ON(sizeof(*ep) % sizeof(u32));
	return jhash2((const u32 *)ep, sizeof(*ep) / sizeof(u32), t->seed);
}

static bool ep_equal(const struct rampart_ep *a, const struct rampart_ep *b)
{
	return memcmp(a, b, sizeof(*a)) == 0;
}

int rampart_table_new(u32 limit, struct rampart_table **out)
{
	struct rampart_table *t;
	u32 n;

	if (!limit)
		return -EINVAL;
	t = kzalloc(sizeof(*t), GFP_KERNEL);
	if (!t)
		return -ENOMEM;
	/* About four flows per bucket when full; at least 64 buckets. */
	n = roundup_pow_of_two(max(limit / 4, 64U));
	t->buckets = kvcalloc(n, sizeof(*t->buckets), GFP_KERNEL);
	if (!t->buckets) {
		kfree(t);
		return -ENOMEM;
	}
	mutex_init(&t->lock);
	t->mask = n - 1;
	t->max = limit;
	t->seed = get_random_u32();
	*out = t;
	return 0;
}

struct rampart_flow_cfg *rampart_flow_cfg_alloc(void)
{
	struct rampart_flow_cfg *cfg = kzalloc(sizeof(*cfg), GFP_KERNEL);

	if (cfg && dst_cache_init(&cfg->route, GFP_KERNEL)) {
		kfree(cfg);
		cfg = NULL;
	}
	return cfg;
}

void rampart_flow_cfg_free(struct rampart_flow_cfg *cfg)
{
	if (!cfg)
		return;
	dst_cache_destroy(&cfg->route);	/* no-op when never set up */
	rampart_srtp_put(cfg->in_srtp);
	rampart_srtp_put(cfg->out_srtp);
	kfree_sensitive(cfg);
}

static void cfg_free_work(struct work_struct *w)
{
	rampart_flow_cfg_free(container_of(to_rcu_work(w), struct rampart_flow_cfg,
					   free_work));
}

/* Frees @cfg after a grace period, in process context: freeing crypto
 * transforms may sleep. */
static void cfg_free_deferred(struct rampart_flow_cfg *cfg)
{
	INIT_RCU_WORK(&cfg->free_work, cfg_free_work);
	queue_rcu_work(rampart_wq, &cfg->free_work);
}

static void flow_free_rcu(struct rcu_head *rcu)
{
	struct rampart_flow *f = container_of(rcu, struct rampart_flow, rcu);
	struct rampart_flow_cfg *cfg = rcu_dereference_raw(f->cfg);

	/* The last reference is gone and a grace period passed: nobody can
	 * reach cfg any more; free it from the workqueue. */
	INIT_WORK(&cfg->free_work.work, cfg_free_work);
	queue_work(rampart_wq, &cfg->free_work.work);
	kfree(f);
}

int rampart_flow_init(void)
{
	rampart_wq = alloc_workqueue("rampart", WQ_UNBOUND, 0);
	return rampart_wq ? 0 : -ENOMEM;
}

void rampart_flow_exit(void)
{
	/* Callers ran rcu_barrier(): every deferred free is queued. */
	destroy_workqueue(rampart_wq);
}

static void flow_release(struct kref *ref)
{
	struct rampart_flow *f = container_of(ref, struct rampart_flow, ref);

	/* RCU readers that found it before it was unlinked may still look. */
	call_rcu(&f->rcu, flow_free_rcu);
}

void rampart_flow_put(struct rampart_flow *f)
{
	if (f)
		kref_put(&f->ref, flow_release);
}

static struct rampart_flow *lookup_locked(struct rampart_table *t,
					  const struct rampart_ep *local)
{
	struct rampart_flow *f;

	lockdep_assert_held(&t->lock);
	hlist_for_each_entry(f, &t->buckets[ep_hash(t, local) & t->mask], node)
		if (ep_equal(&f->local, local))
			return f;
	return NULL;
}

struct rampart_flow *rampart_flow_lookup_rcu(struct rampart_table *t,
					     const struct rampart_ep *local)
{
	struct rampart_flow *f;

	hlist_for_each_entry_rcu(f, &t->buckets[ep_hash(t, local) & t->mask], node)
		if (ep_equal(&f->local, local))
			return f;
	return NULL;
}

struct rampart_flow *rampart_flow_get(struct rampart_table *t,
				      const struct rampart_ep *local)
{
	struct rampart_flow *f;

	rcu_read_lock();
	f = rampart_flow_lookup_rcu(t, local);
	if (f && !kref_get_unless_zero(&f->ref))
		f = NULL;
	rcu_read_unlock();
	return f;
}

int rampart_flow_add(struct rampart_table *t, const struct rampart_ep *local,
		     struct rampart_flow_cfg *cfg)
{
	struct rampart_flow *f;
	int ret = 0;

	/* Allocate before taking the lock; it is cheap to throw away. */
	f = kzalloc(sizeof(*f), GFP_KERNEL);
	if (!f)
		return -ENOMEM;
	f->local = *local;
	kref_init(&f->ref);
	RCU_INIT_POINTER(f->cfg, cfg);

	mutex_lock(&t->lock);
	if (lookup_locked(t, local)) {
		ret = -EEXIST;
	} else if (t->count >= t->max) {
		ret = -ENOSPC;
	} else {
		hlist_add_head_rcu(&f->node,
				   &t->buckets[ep_hash(t, local) & t->mask]);
		WRITE_ONCE(t->count, t->count + 1);
	}
	mutex_unlock(&t->lock);
	if (ret)
		kfree(f);	/* cfg stays the caller's */
	return ret;
}

int rampart_flow_update(struct rampart_table *t, const struct rampart_ep *local,
			int (*apply)(struct rampart_flow_cfg *cfg, void *arg),
			void *arg)
{
	struct rampart_flow_cfg *old, *cfg;
	struct rampart_flow *f;
	int ret;

	mutex_lock(&t->lock);
	f = lookup_locked(t, local);
	if (!f) {
		ret = -ENOENT;
		goto out;
	}
	old = rcu_dereference_protected(f->cfg, lockdep_is_held(&t->lock));
	cfg = kmemdup(old, sizeof(*old), GFP_KERNEL);
	if (!cfg) {
		ret = -ENOMEM;
		goto out;
	}
	/* The copy gets a cache of its own: the old one dies with the old
	 * configuration, and the addresses may change. */
	cfg->route.cache = NULL;
	if (dst_cache_init(&cfg->route, GFP_KERNEL)) {
		cfg->in_srtp = NULL;	/* not ours yet */
		cfg->out_srtp = NULL;
		rampart_flow_cfg_free(cfg);
		ret = -ENOMEM;
		goto out;
	}
	/* The copy shares the SRTP contexts; apply() drops what it replaces. */
	if (cfg->in_srtp)
		rampart_srtp_get(cfg->in_srtp);
	if (cfg->out_srtp)
		rampart_srtp_get(cfg->out_srtp);
	ret = apply(cfg, arg);
	if (ret) {
		rampart_flow_cfg_free(cfg);
		goto out;
	}
	rcu_assign_pointer(f->cfg, cfg);
	cfg_free_deferred(old);
out:
	mutex_unlock(&t->lock);
	return ret;
}

static void unlink_locked(struct rampart_table *t, struct rampart_flow *f)
{
	lockdep_assert_held(&t->lock);
	hlist_del_init_rcu(&f->node);
	WRITE_ONCE(t->count, t->count - 1);
	rampart_flow_put(f);	/* the table's reference */
}

int rampart_flow_del(struct rampart_table *t, const struct rampart_ep *local)
{
	struct rampart_flow *f;
	int ret = 0;

	mutex_lock(&t->lock);
	f = lookup_locked(t, local);
	if (f)
		unlink_locked(t, f);
	else
		ret = -ENOENT;
	mutex_unlock(&t->lock);
	return ret;
}

u32 rampart_table_flush(struct rampart_table *t)
{
	struct rampart_flow *f;
	struct hlist_node *tmp;
	u32 i, n = 0;

	mutex_lock(&t->lock);
	for (i = 0; i <= t->mask; i++) {
		hlist_for_each_entry_safe(f, tmp, &t->buckets[i], node) {
			unlink_locked(t, f);
			n++;
		}
		/* Big tables: do not hog the CPU while holding the mutex. */
		if ((i & 1023) == 1023)
			cond_resched();
	}
	mutex_unlock(&t->lock);
	return n;
}

void rampart_table_free(struct rampart_table *t)
{
	if (!t)
		return;
	rampart_table_flush(t);
	mutex_destroy(&t->lock);
	kvfree(t->buckets);
	kfree(t);
}

u32 rampart_table_count(const struct rampart_table *t)
{
	return READ_ONCE(t->count);
}

u32 rampart_table_max(const struct rampart_table *t)
{
	return t->max;
}

int rampart_table_walk(struct rampart_table *t, unsigned long *bucket,
		       unsigned long *idx,
		       int (*fn)(struct rampart_flow *f, void *arg), void *arg)
{
	struct rampart_flow *f;
	unsigned long i;
	int ret = 0;

	rcu_read_lock();
	for (; *bucket <= t->mask; (*bucket)++, *idx = 0) {
		i = 0;
		hlist_for_each_entry_rcu(f, &t->buckets[*bucket], node) {
			if (i++ < *idx)
				continue;
			ret = fn(f, arg);
			if (ret)
				goto out;
			(*idx)++;
		}
	}
out:
	rcu_read_unlock();
	return ret;
}
