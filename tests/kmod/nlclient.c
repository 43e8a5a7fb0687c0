/*
 * nlclient: a small generic netlink client for rampart.ko (libmnl), used by
 * the kernel-module tests inside the VM (tests/kmod/vm-test.sh).
 *
 *   nlclient version            print the VERSION handshake reply
 *   nlclient dump               print every flow of this namespace
 *   nlclient flush              remove every flow
 *   nlclient fill N PORT        add N plain IPv4 flows on 127.0.0.1:PORT..
 *   nlclient capacity           fill the table to FLOW_MAX, expect ENOSPC
 *   nlclient selftest           the ABI test sequence (see selftest)
 *   nlclient fwdtest            the IPv4 plain RTP packet path, on loopback
 *   nlclient add-flow LOCAL LPORT EXPECT OUT_SRC SPORT OUT_DST DPORT
 *   nlclient packets LOCAL LPORT     print a flow's PACKETS counter
 *   nlclient udp-send DST DPORT N    send N RTP packets (20 ms apart)
 *   nlclient udp-recv ADDR PORT N SECS  wait for N intact RTP packets
 *   nlclient stress ITERS       control-plane churn racing the packet path
 *
 * Exit status 0 on success. selftest and fwdtest print one "ok"/"not ok"
 * line per check and a closing "N passed, N failed" line.
 *
 * Files: nlc.c/nlc.h netlink plumbing and shared helpers, selftest.c the ABI
 * test, pkttest.c the packet-path tests and socket tools, this file the CLI.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>

#include "nlc.h"

/* ---- other commands ------------------------------------------------------- */

static void print_ep(const char *name, const struct ep_view *ep)
{
	char s[INET6_ADDRSTRLEN] = "-";

	if (!ep->family)
		return;
	inet_ntop(ep->family, ep->addr, s, sizeof(s));
	printf(" %s=%s%s%s:%d", name, ep->family == AF_INET6 ? "[" : "", s,
	       ep->family == AF_INET6 ? "]" : "", ep->port);
}

static int cmd_fill(struct nlc *c, long n, long port)
{
	for (long i = 0; i < n; i++) {
		int ret = flow_cmd(c, RAMPART_CMD_FLOW_ADD, b_plain4, port + 2 * i, NULL);

		if (ret) {
			fprintf(stderr, "fill: flow %ld: %s [%s]\n", i, strerror(-ret), c->errmsg);
			return 1;
		}
	}
	return 0;
}

static int cmd_capacity(struct nlc *c)
{
	struct version_view v;
	int ret = version(c, -1, &v);

	if (ret || v.max > 100000) {
		fprintf(stderr, "capacity: max %u too big for this test\n", v.max);
		return 1;
	}
	if (cmd_fill(c, v.max - v.count, 10000))
		return 1;
	ret = flow_cmd(c, RAMPART_CMD_FLOW_ADD, b_plain4, 9000, NULL);
	printf("%s full table (%u flows): one more ADD gets %s [%s]\n",
	       ret == -ENOSPC ? "ok" : "not ok", v.max, strerror(-ret), c->errmsg);
	return ret == -ENOSPC ? 0 : 1;
}

int main(int argc, char **argv)
{
	struct nlc c;
	struct version_view v;
	struct flows fl = { 0 };
	uint32_t n;
	int ret;

	if (argc < 2) {
		fprintf(stderr, "usage: %s version|dump|flush|fill N PORT|capacity|selftest|fwdtest|\n"
			"  add-flow ...|packets L P|udp-send D P N|udp-recv A P N S (see source)\n",
			argv[0]);
		return 2;
	}
	/* Plain socket tools need no netlink (and may run in any namespace). */
	if (!strcmp(argv[1], "udp-send") && argc == 5)
		return cmd_udp_send(argv + 2);
	if (!strcmp(argv[1], "udp-recv") && argc == 6)
		return cmd_udp_recv(argv + 2);
	ret = nlc_open(&c);
	if (ret) {
		fprintf(stderr, "nlclient: cannot open the '%s' family: %s\n",
			RAMPART_GENL_NAME, strerror(-ret));
		return 1;
	}
	if (!strcmp(argv[1], "selftest")) {
		ret = selftest(&c);
	} else if (!strcmp(argv[1], "version")) {
		ret = version(&c, RAMPART_ABI_VERSION, &v);
		if (!ret)
			printf("abi %u release %s flows %u/%u features %#x\n", v.abi,
			       v.release, v.count, v.max, v.features);
	} else if (!strcmp(argv[1], "dump")) {
		ret = dump(&c, &fl);
		for (size_t i = 0; ret == 0 && i < fl.n; i++) {
			print_ep("local", &fl.v[i].local);
			print_ep("out_src", &fl.v[i].out_src);
			print_ep("out_dst", &fl.v[i].out_dst);
			printf(" packets=%" PRIu64 "\n", fl.v[i].stats[RAMPART_STATS_A_PACKETS]);
		}
		free(fl.v);
	} else if (!strcmp(argv[1], "flush")) {
		ret = flush(&c, &n);
		if (!ret)
			printf("flushed %u\n", n);
	} else if (!strcmp(argv[1], "fill") && argc == 4) {
		ret = cmd_fill(&c, strtol(argv[2], NULL, 10), strtol(argv[3], NULL, 10));
	} else if (!strcmp(argv[1], "fwdtest")) {
		ret = fwdtest(&c);
	} else if (!strcmp(argv[1], "add-flow") && argc == 9) {
		ret = cmd_add_flow(&c, argv + 2);
	} else if (!strcmp(argv[1], "packets") && argc == 4) {
		ret = cmd_packets(&c, argv + 2);
	} else if (!strcmp(argv[1], "stress") && argc == 3) {
		ret = cmd_stress(&c, strtol(argv[2], NULL, 10));
	} else if (!strcmp(argv[1], "capacity")) {
		ret = cmd_capacity(&c);
	} else {
		fprintf(stderr, "nlclient: unknown command %s\n", argv[1]);
		ret = 2;
	}
	if (ret < 0)
		fprintf(stderr, "nlclient: %s: %s [%s]\n", argv[1], strerror(-ret), c.errmsg);
	nlc_close(&c);
	return ret == 0 ? 0 : (ret > 0 ? ret : 1);
}
