// SPDX-License-Identifier: GPL-2.0
/*
 * rampart.ko: the optional in-kernel fast path of Rampart's media relay.
 * This file holds module init/exit and the per-network-namespace state;
 * the control plane is netlink.c, the flow table flow.c, the packet path
 * hook.c.
 */
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <net/genetlink.h>
#include <net/net_namespace.h>
#include <net/netns/generic.h>

#include "flow.h"
#include "hook.h"
#include "netlink.h"
#include "srtp.h"

#define RAMPART_MAX_FLOWS_LIMIT (1U << 22)

static unsigned int max_flows = 65536;
module_param(max_flows, uint, 0444);
MODULE_PARM_DESC(max_flows, "flows per network namespace (1..4194304, default 65536)");

struct rampart_net {
	struct rampart_table *table;
};

static unsigned int rampart_net_id __read_mostly;

struct rampart_table *rampart_net_table(const struct net *net)
{
	struct rampart_net *rn = net_generic(net, rampart_net_id);

	return rn->table;
}

static int __net_init rampart_net_init(struct net *net)
{
	struct rampart_net *rn = net_generic(net, rampart_net_id);
	int ret;

	ret = rampart_table_new(max_flows, &rn->table);
	if (ret)
		return ret;
	/* The hook reads the table: it goes in after and out before it. */
	ret = rampart_hook_net_init(net);
	if (ret) {
		rampart_table_free(rn->table);
		rn->table = NULL;
	}
	return ret;
}

static void __net_exit rampart_net_exit(struct net *net)
{
	struct rampart_net *rn = net_generic(net, rampart_net_id);

	rampart_hook_net_exit(net);	/* waits for running hooks */
	rampart_table_free(rn->table);
	rn->table = NULL;
}

static struct pernet_operations rampart_net_ops = {
	.init = rampart_net_init,
	.exit = rampart_net_exit,
	.id = &rampart_net_id,
	.size = sizeof(struct rampart_net),
};

static int __init rampart_mod_init(void)
{
	int ret;

	if (max_flows < 1 || max_flows > RAMPART_MAX_FLOWS_LIMIT) {
		pr_err("rampart: max_flows must be 1..%u\n", RAMPART_MAX_FLOWS_LIMIT);
		return -EINVAL;
	}
	/* Not fatal: without it SRTP flows are refused and VERSION says so. */
	ret = rampart_srtp_selftest();
	if (ret)
		pr_err("rampart: SRTP key derivation self test failed (%d); SRTP disabled\n",
		       ret);
	ret = rampart_flow_init();
	if (ret)
		return ret;
	/* Tables first: the family must not take a command before they exist. */
	ret = register_pernet_subsys(&rampart_net_ops);
	if (ret)
		goto err_pernet;
	ret = rampart_genl_init();
	if (ret)
		goto err_genl;
	pr_info("rampart: loaded, ABI %u, release %s\n", RAMPART_ABI_VERSION,
		RAMPART_MODULE_RELEASE);
	return 0;

err_genl:
	unregister_pernet_subsys(&rampart_net_ops);
err_pernet:
	rcu_barrier();
	rampart_flow_exit();
	return ret;
}

static void __exit rampart_mod_exit(void)
{
	rampart_genl_exit();
	unregister_pernet_subsys(&rampart_net_ops);
	/* Flows and old configurations are freed by RCU callbacks in this
	 * module's text: wait for them before it goes away. */
	rcu_barrier();
	rampart_flow_exit();	/* runs the frees the callbacks queued */
	pr_info("rampart: unloaded\n");
}

module_init(rampart_mod_init);
module_exit(rampart_mod_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Rampart SBC media fast path");
MODULE_VERSION(RAMPART_MODULE_RELEASE);
MODULE_ALIAS_GENL_FAMILY(RAMPART_GENL_NAME);
