/* SPDX-License-Identifier: GPL-2.0 */
/*
 * rampart.ko generic netlink control plane (ABI: uapi/rampart_nl.h).
 */
#ifndef _RAMPART_NETLINK_H
#define _RAMPART_NETLINK_H

#define RAMPART_MODULE_RELEASE "0.1.0"

struct net;
struct rampart_table;

/* Registers / unregisters the "rampart" family. After exit returns no
 * command runs any more. */
int rampart_genl_init(void);
void rampart_genl_exit(void);

/* The flow table of @net (main.c owns the per-namespace state). */
struct rampart_table *rampart_net_table(const struct net *net);

#endif /* _RAMPART_NETLINK_H */
