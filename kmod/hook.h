/* SPDX-License-Identifier: GPL-2.0 */
/*
 * rampart.ko packet path: IPv4 and IPv6 PRE_ROUTING netfilter hooks that
 * forward plain RTP of programmed flows inside the kernel. Every other
 * packet (no flow, not RTP, SRTP flows until the kernel does SRTP, a change
 * of address family, IP options or IPv6 extension headers, fragments) is
 * left to the normal stack, i.e. to mediad.
 */
#ifndef _RAMPART_HOOK_H
#define _RAMPART_HOOK_H

struct net;

/* Per-namespace registration; called from main.c's pernet init/exit. */
int rampart_hook_net_init(struct net *net);
void rampart_hook_net_exit(struct net *net);

#endif /* _RAMPART_HOOK_H */
