/*
 * nlc: the netlink plumbing and test helpers shared by nlclient's commands
 * (tests/kmod/nlclient.c, selftest.c, pkttest.c). Test code: it favours
 * clarity over generality.
 */
#ifndef RAMPART_TESTS_KMOD_NLC_H
#define RAMPART_TESTS_KMOD_NLC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libmnl/libmnl.h>

#include "rampart_nl.h"

struct nlc {
	struct mnl_socket *nl;
	uint16_t family;
	uint32_t seq;
	uint32_t portid;
	char errmsg[256];	/* extended ack message of the last error */
};

struct ep_view {
	int family;		/* 0: absent */
	uint8_t addr[16];
	int port;		/* -1: absent */
};

struct xf_view {
	bool present;
	bool has_key;		/* must never be true in a reply */
	uint32_t suite, roc, window;
	uint16_t seq;
};

struct flow_view {
	struct ep_view local, expect, out_src, out_dst;
	int mismatch;
	struct xf_view in, out;
	bool has_stats;
	uint64_t stats[RAMPART_STATS_A_MAX + 1];
	bool unknown;		/* an attribute this client does not know */
};

struct version_view {
	uint32_t abi, max, count, features;
	char release[RAMPART_MODULE_VERSION_MAX];
};

struct flows {
	size_t n, cap;
	struct flow_view *v;
};

/* Fills the inside of one RAMPART_A_FLOW; @port is the LOCAL port. */
typedef void (*body_fn)(struct nlmsghdr *nlh, long port);

/* Socket. Functions returning int give 0 or -errno; c->errmsg then holds
 * the kernel's extended-ack message, if any. */
int nlc_open(struct nlc *c);
void nlc_close(struct nlc *c);
int nlc_talk(struct nlc *c, struct nlmsghdr *nlh, mnl_cb_t cb, void *data);
struct nlmsghdr *req(struct nlc *c, char *buf, uint16_t type, uint16_t flags,
		     uint8_t cmd, uint8_t version);
int cb_noop(const struct nlmsghdr *nlh, void *data);

/* Commands. @out (may be NULL) collects the flows of the replies; the
 * caller frees out->v. */
int flow_cmd(struct nlc *c, uint8_t cmd, body_fn body, long port, struct flows *out);
int version(struct nlc *c, long client_abi, struct version_view *v);
int dump(struct nlc *c, struct flows *out);
int flush(struct nlc *c, uint32_t *removed);
int get1(struct nlc *c, long port, struct flow_view *out); /* 127.0.0.1:port */
uint32_t flow_count(struct nlc *c);	/* UINT32_MAX on error */

/* Attribute builders. @port < 0: no PORT. */
void put_ep(struct nlmsghdr *nlh, int type, const char *addr, long port);
void put_xf(struct nlmsghdr *nlh, int type, uint32_t suite, int key_attr,
	    size_t key_len, int salt_attr, size_t salt_len, uint32_t roc,
	    uint16_t seq, uint32_t window);
void put_xf_aes128(struct nlmsghdr *nlh, int type, uint32_t window);
void b_key(struct nlmsghdr *nlh, long port);	/* LOCAL 127.0.0.1:port only */
void b_plain4(struct nlmsghdr *nlh, long port);	/* a minimal IPv4 flow */

/* Checks: one "ok N - ..." / "not ok N - ..." line each. */
extern int n_pass, n_fail;
void check(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool ep_is(const struct ep_view *ep, const char *addr, int port);
bool same_cfg(const struct flow_view *a, const struct flow_view *b);
bool rejected(int ret);	/* -EINVAL or -ERANGE: refused by validation */

/* The test programs (selftest.c, pkttest.c); 0 when all checks passed. */
int selftest(struct nlc *c);
int fwdtest(struct nlc *c);
int cmd_stress(struct nlc *c, long iters);
int cmd_add_flow(struct nlc *c, char **argv);
int cmd_packets(struct nlc *c, char **argv);
int cmd_udp_send(char **argv);
int cmd_udp_recv(char **argv);

#endif
