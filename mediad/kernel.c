#include "kernel.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include <libmnl/libmnl.h>
#include <linux/genetlink.h>

#include "msrtp.h"
#include "rampart_nl.h"
#include "rp_log.h"

#define POLL_MS 1000u  /* counters / liveness read from the module */
#define PROBE_MS 5000u /* auto: look for the module again */
#define NBUCKETS 1024u
#define NL_TIMEOUT_MS 1000

/* ---- pure parts ------------------------------------------------------- */

const char *mkern_mode_name(enum mkern_mode m)
{
	switch (m) {
	case MKERN_OFF: return "off";
	case MKERN_AUTO: return "auto";
	case MKERN_REQUIRED: return "required";
	}
	return "?";
}

int mkern_mode_parse(const char *s, size_t n, enum mkern_mode *out)
{
	static const enum mkern_mode all[] = { MKERN_OFF, MKERN_AUTO, MKERN_REQUIRED };

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		const char *name = mkern_mode_name(all[i]);
		if (strlen(name) == n && memcmp(name, s, n) == 0) {
			*out = all[i];
			return 0;
		}
	}
	return -EINVAL;
}

const char *mkern_why_name(enum mkern_why w)
{
	switch (w) {
	case MKERN_YES: return "offload";
	case MKERN_NO_MODULE: return "no module";
	case MKERN_NO_SOURCE: return "source not known yet";
	case MKERN_NO_DEST: return "no remote on the other leg";
	case MKERN_TOO_EARLY: return "too few packets in userspace";
	case MKERN_SRTP: return "SRTP";
	case MKERN_MUX: return "RTCP muxed on the RTP port";
	case MKERN_FAMILY: return "address family";
	case MKERN_NO_SOCKET: return "no socket";
	}
	return "?";
}

static bool keys_ok(const struct mleg_keys *k, const struct mkern_caps *caps)
{
	uint32_t need = k->suite == MSRTP_AEAD_AES_128_GCM || k->suite == MSRTP_AEAD_AES_256_GCM ?
		RAMPART_FEAT_SRTP_GCM : RAMPART_FEAT_SRTP_AES_CM;

	return k->set && !k->mki && k->suite < MSRTP_SUITE_COUNT && (caps->features & need);
}

enum mkern_why mkern_decide(const struct msess *s, int from, const struct mkern_caps *caps)
{
	const struct mleg *a = &s->leg[from], *b = &s->leg[!from];
	uint32_t need;

	if (!caps || !caps->present)
		return MKERN_NO_MODULE;
	if (a->rtp.fd < 0 || b->rtp.fd < 0)
		return MKERN_NO_SOCKET;
	if (a->family != b->family)
		return MKERN_FAMILY; /* the module forwards within one family */
	need = a->family == AF_INET6 ? RAMPART_FEAT_FWD_RTP_V6 : RAMPART_FEAT_FWD_RTP_V4;
	if ((caps->features & need) != need)
		return MKERN_FAMILY;
	/* SRTP only where the module says it can, and never with an MKI. */
	if ((a->in && !keys_ok(&a->kin, caps)) || (b->out && !keys_ok(&b->kout, caps)))
		return MKERN_SRTP;
	/* RTCP muxed on the RTP port would be forwarded as RTP by the module;
	 * RTCP stays in userspace. */
	if (a->rtcp_mux)
		return MKERN_MUX;
	/* The source must be settled: latched, or fixed with latching off. */
	if (a->remote_rtp.sa.sa_family == 0 ||
	    (a->latch != MLEG_LATCH_OFF && !a->latched_rtp))
		return MKERN_NO_SOURCE;
	if (b->remote_rtp.sa.sa_family == 0)
		return MKERN_NO_DEST;
	if (a->st.pkts_in < MKERN_MIN_PKTS)
		return MKERN_TOO_EARLY;
	return MKERN_YES;
}

static bool maddr_wild(const union maddr *a)
{
	static const struct in6_addr any6 = IN6ADDR_ANY_INIT;

	if (a->sa.sa_family == AF_INET)
		return a->in.sin_addr.s_addr == htonl(INADDR_ANY) || a->in.sin_port == 0;
	if (a->sa.sa_family == AF_INET6)
		return memcmp(&a->in6.sin6_addr, &any6, sizeof(any6)) == 0 ||
		       a->in6.sin6_port == 0;
	return true;
}

/* msrtp's suites are rampart_suite's in the same order, from 1. */
static int xf_from(const struct mleg_keys *k, struct msrtp *ctx, uint32_t ssrc,
	struct mkern_xf *xf)
{
	memset(xf, 0, sizeof(*xf));
	if (!ctx)
		return 0;
	if (!k->set || k->key_len > sizeof(xf->key) || k->salt_len > sizeof(xf->salt))
		return -EINVAL;
	if (msrtp_get_index(ctx, ssrc, &xf->roc, &xf->seq) < 0)
		return -EAGAIN;
	xf->set = true;
	xf->suite = (uint8_t)(k->suite + 1);
	xf->key_len = k->key_len;
	xf->salt_len = k->salt_len;
	memcpy(xf->key, k->key, k->key_len);
	memcpy(xf->salt, k->salt, k->salt_len);
	return 0;
}

int mkern_flow_from(const struct msess *s, int from, uint32_t ssrc,
	const union maddr *local_from, const union maddr *local_to, struct mkern_flow *out)
{
	const struct mleg *a = &s->leg[from], *b = &s->leg[!from];
	struct mkern_flow f;
	int rc;

	if (maddr_wild(local_from) || maddr_wild(local_to) ||
	    a->remote_rtp.sa.sa_family == 0 || b->remote_rtp.sa.sa_family == 0 ||
	    local_from->sa.sa_family != a->remote_rtp.sa.sa_family ||
	    local_to->sa.sa_family != b->remote_rtp.sa.sa_family)
		return -EINVAL;
	memset(&f, 0, sizeof(f));
	f.local = *local_from;
	f.expect_src = a->remote_rtp;
	/* Strict latching drops strangers (as mediad would); otherwise they
	 * go to mediad's socket, which forwards and counts them. */
	f.mismatch = a->latch == MLEG_LATCH_STRICT ? RAMPART_MISMATCH_DROP : RAMPART_MISMATCH_PASS;
	f.out_src = *local_to;
	f.out_dst = b->remote_rtp;
	f.ssrc = ssrc;
	if ((rc = xf_from(&a->kin, a->in, ssrc, &f.in)) < 0 ||
	    (rc = xf_from(&b->kout, b->out, ssrc, &f.out)) < 0) {
		explicit_bzero(&f, sizeof(f));
		return rc;
	}
	*out = f;
	explicit_bzero(&f, sizeof(f));
	return 0;
}

static void put_ep(struct nlmsghdr *nlh, uint16_t type, const union maddr *a)
{
	struct nlattr *n = mnl_attr_nest_start(nlh, type);

	if (a->sa.sa_family == AF_INET) {
		mnl_attr_put(nlh, RAMPART_EP_A_ADDR4, 4, &a->in.sin_addr);
		mnl_attr_put_u16(nlh, RAMPART_EP_A_PORT, ntohs(a->in.sin_port));
	} else {
		mnl_attr_put(nlh, RAMPART_EP_A_ADDR6, 16, &a->in6.sin6_addr);
		mnl_attr_put_u16(nlh, RAMPART_EP_A_PORT, ntohs(a->in6.sin6_port));
	}
	mnl_attr_nest_end(nlh, n);
}

static struct nlmsghdr *put_genl(void *buf, uint16_t family, uint32_t seq, uint8_t cmd,
	uint16_t flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct genlmsghdr *g;

	nlh->nlmsg_type = family;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = seq;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = cmd;
	g->version = RAMPART_GENL_VERSION;
	return nlh;
}

static void put_xf(struct nlmsghdr *nlh, uint16_t type, const struct mkern_xf *xf)
{
	struct nlattr *n = mnl_attr_nest_start(nlh, type);
	uint16_t kt = xf->key_len == 16 ? RAMPART_XF_A_KEY_128 :
		      xf->key_len == 24 ? RAMPART_XF_A_KEY_192 : RAMPART_XF_A_KEY_256;

	mnl_attr_put_u32(nlh, RAMPART_XF_A_SUITE, xf->suite);
	mnl_attr_put(nlh, kt, xf->key_len, xf->key);
	mnl_attr_put(nlh, xf->salt_len == 12 ? RAMPART_XF_A_SALT_96 : RAMPART_XF_A_SALT_112,
		xf->salt_len, xf->salt);
	mnl_attr_put_u32(nlh, RAMPART_XF_A_ROC, xf->roc);
	mnl_attr_put_u16(nlh, RAMPART_XF_A_SEQ, xf->seq);
	mnl_attr_nest_end(nlh, n);
}

struct nlmsghdr *mkern_msg_version(void *buf, uint16_t family, uint32_t seq)
{
	struct nlmsghdr *nlh = put_genl(buf, family, seq, RAMPART_CMD_VERSION, NLM_F_ACK);

	mnl_attr_put_u32(nlh, RAMPART_A_VERSION, RAMPART_ABI_VERSION);
	return nlh;
}

struct nlmsghdr *mkern_msg_flow(void *buf, uint16_t family, uint32_t seq, uint8_t cmd,
	const struct mkern_flow *f, bool with_all)
{
	struct nlmsghdr *nlh = put_genl(buf, family, seq, cmd, NLM_F_ACK);
	struct nlattr *n = mnl_attr_nest_start(nlh, RAMPART_A_FLOW);

	put_ep(nlh, RAMPART_FLOW_A_LOCAL, &f->local);
	if (with_all) {
		if (f->expect_src.sa.sa_family)
			put_ep(nlh, RAMPART_FLOW_A_EXPECT_SRC, &f->expect_src);
		mnl_attr_put_u8(nlh, RAMPART_FLOW_A_MISMATCH, f->mismatch);
		if (f->in.set)
			put_xf(nlh, RAMPART_FLOW_A_SRTP_IN, &f->in);
		if (f->out.set)
			put_xf(nlh, RAMPART_FLOW_A_SRTP_OUT, &f->out);
		put_ep(nlh, RAMPART_FLOW_A_OUT_SRC, &f->out_src);
		put_ep(nlh, RAMPART_FLOW_A_OUT_DST, &f->out_dst);
	}
	mnl_attr_nest_end(nlh, n);
	return nlh;
}

static bool genl_ok(const struct nlmsghdr *nlh)
{
	return nlh->nlmsg_len >= mnl_nlmsg_size(sizeof(struct genlmsghdr));
}

int mkern_parse_version(const struct nlmsghdr *nlh, struct mkern_version *out)
{
	const struct nlattr *a;
	bool have_abi = false;

	if (!genl_ok(nlh))
		return -EBADMSG;
	memset(out, 0, sizeof(*out));
	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr)) {
		uint16_t t = mnl_attr_get_type(a);

		if (t == RAMPART_A_MODULE_VERSION) {
			size_t n = mnl_attr_get_payload_len(a);
			const char *p = mnl_attr_get_payload(a);
			size_t m = strnlen(p, n);
			if (m >= sizeof(out->release))
				m = sizeof(out->release) - 1;
			memcpy(out->release, p, m);
			out->release[m] = '\0';
			continue;
		}
		if (t != RAMPART_A_VERSION && t != RAMPART_A_FLOW_MAX &&
		    t != RAMPART_A_FLOW_COUNT && t != RAMPART_A_FEATURES)
			continue; /* newer modules may add attributes */
		if (mnl_attr_validate(a, MNL_TYPE_U32) < 0)
			return -EBADMSG;
		switch (t) {
		case RAMPART_A_VERSION:
			out->abi = mnl_attr_get_u32(a);
			have_abi = true;
			break;
		case RAMPART_A_FLOW_MAX: out->flow_max = mnl_attr_get_u32(a); break;
		case RAMPART_A_FLOW_COUNT: out->flow_count = mnl_attr_get_u32(a); break;
		default: out->features = mnl_attr_get_u32(a); break;
		}
	}
	return have_abi ? 0 : -EBADMSG;
}

static int parse_ep(const struct nlattr *nest, union maddr *out)
{
	const struct nlattr *a;
	int port = -1;

	memset(out, 0, sizeof(*out));
	mnl_attr_for_each_nested(a, nest) {
		switch (mnl_attr_get_type(a)) {
		case RAMPART_EP_A_ADDR4:
			if (mnl_attr_get_payload_len(a) != 4)
				return -EBADMSG;
			out->in.sin_family = AF_INET;
			memcpy(&out->in.sin_addr, mnl_attr_get_payload(a), 4);
			break;
		case RAMPART_EP_A_ADDR6:
			if (mnl_attr_get_payload_len(a) != 16)
				return -EBADMSG;
			out->in6.sin6_family = AF_INET6;
			memcpy(&out->in6.sin6_addr, mnl_attr_get_payload(a), 16);
			break;
		case RAMPART_EP_A_PORT:
			if (mnl_attr_validate(a, MNL_TYPE_U16) < 0)
				return -EBADMSG;
			port = mnl_attr_get_u16(a);
			break;
		default:
			break;
		}
	}
	if (out->sa.sa_family == 0 || port < 0)
		return -EBADMSG;
	if (out->sa.sa_family == AF_INET)
		out->in.sin_port = htons((uint16_t)port);
	else
		out->in6.sin6_port = htons((uint16_t)port);
	return 0;
}

static int parse_stats(const struct nlattr *nest, struct mkern_counters *c)
{
	const struct nlattr *a;

	mnl_attr_for_each_nested(a, nest) {
		uint16_t t = mnl_attr_get_type(a);
		uint64_t *dst;

		switch (t) {
		case RAMPART_STATS_A_PACKETS: dst = &c->packets; break;
		case RAMPART_STATS_A_BYTES: dst = &c->bytes; break;
		case RAMPART_STATS_A_AUTH_FAIL: dst = &c->auth_fail; break;
		case RAMPART_STATS_A_REPLAY_DROP: dst = &c->replay_drop; break;
		case RAMPART_STATS_A_SRC_MISMATCH: dst = &c->src_mismatch; break;
		case RAMPART_STATS_A_LAST_SEEN_NS: dst = &c->last_seen_ns; break;
		default: continue; /* PAD and newer counters */
		}
		if (mnl_attr_validate(a, MNL_TYPE_U64) < 0)
			return -EBADMSG;
		*dst = mnl_attr_get_u64(a);
	}
	return 0;
}

static int parse_xf(const struct nlattr *nest, uint32_t *suite, uint32_t *roc, uint16_t *seq)
{
	const struct nlattr *a;

	mnl_attr_for_each_nested(a, nest) {
		switch (mnl_attr_get_type(a)) {
		case RAMPART_XF_A_SUITE:
		case RAMPART_XF_A_ROC:
			if (mnl_attr_validate(a, MNL_TYPE_U32) < 0)
				return -EBADMSG;
			*(mnl_attr_get_type(a) == RAMPART_XF_A_SUITE ? suite : roc) =
				mnl_attr_get_u32(a);
			break;
		case RAMPART_XF_A_SEQ:
			if (mnl_attr_validate(a, MNL_TYPE_U16) < 0)
				return -EBADMSG;
			*seq = mnl_attr_get_u16(a);
			break;
		default:
			break; /* keys are never sent back; newer attributes */
		}
	}
	return 0;
}

int mkern_parse_flow(const struct nlmsghdr *nlh, struct mkern_flow_reply *out)
{
	const struct nlattr *a, *flow = NULL;
	bool have_local = false;

	if (!genl_ok(nlh))
		return -EBADMSG;
	memset(out, 0, sizeof(*out));
	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr))
		if (mnl_attr_get_type(a) == RAMPART_A_FLOW)
			flow = a;
	if (!flow || mnl_attr_validate(flow, MNL_TYPE_NESTED) < 0)
		return -EBADMSG;
	mnl_attr_for_each_nested(a, flow) {
		switch (mnl_attr_get_type(a)) {
		case RAMPART_FLOW_A_LOCAL:
			if (parse_ep(a, &out->local) < 0)
				return -EBADMSG;
			have_local = true;
			break;
		case RAMPART_FLOW_A_STATS:
			if (parse_stats(a, &out->c) < 0)
				return -EBADMSG;
			out->has_stats = true;
			break;
		case RAMPART_FLOW_A_SRTP_IN:
			if (parse_xf(a, &out->in.suite, &out->in.roc, &out->in.seq) < 0)
				return -EBADMSG;
			out->in.present = true;
			break;
		case RAMPART_FLOW_A_SRTP_OUT:
			if (parse_xf(a, &out->out.suite, &out->out.roc, &out->out.seq) < 0)
				return -EBADMSG;
			out->out.present = true;
			break;
		default:
			break;
		}
	}
	return have_local ? 0 : -EBADMSG;
}

void mkern_counters_to_legs(const struct mkern_counters *c, int from, uint8_t mismatch,
	struct mstats_leg leg[2])
{
	struct mstats_leg *a = &leg[from], *b = &leg[!from];
	uint64_t ms = c->last_seen_ns / 1000000u;

	a->pkts_in += c->packets;
	a->bytes_in += c->bytes;
	b->pkts_out += c->packets;
	b->bytes_out += c->bytes;
	a->auth_fail += c->auth_fail;
	a->replay += c->replay_drop;
	if (mismatch == RAMPART_MISMATCH_DROP)
		a->src_mismatch += c->src_mismatch;
	if (ms > a->last_ms)
		a->last_ms = ms;
}

static void counters_add(struct mkern_counters *d, const struct mkern_counters *s)
{
	d->packets += s->packets;
	d->bytes += s->bytes;
	d->auth_fail += s->auth_fail;
	d->replay_drop += s->replay_drop;
	d->src_mismatch += s->src_mismatch;
	if (s->last_seen_ns > d->last_seen_ns)
		d->last_seen_ns = s->last_seen_ns;
}

/* ---- runtime ---------------------------------------------------------- */

enum kf_state {
	KF_IDLE,   /* not wanted in the kernel (taken back by leg.update) */
	KF_WANTED, /* wanted, not programmed (module absent or went away) */
	KF_ACTIVE, /* programmed */
	KF_FAILED, /* the module refused it: stays in userspace */
};

struct kflow {
	uint64_t id;
	int from;
	struct mkern_flow f;
	enum kf_state state;
	struct mkern_counters base; /* earlier incarnations */
	struct mkern_counters cur;  /* the programmed flow, as last read */
	uint16_t epoch;             /* the worker's, of the offload last run */
	struct mkern_sync sync;     /* SRTP stream state for the worker (slock) */
	struct kflow *next;
};

enum kreq_kind { KR_OFFLOAD, KR_RELEASE, KR_FORGET };

struct kreq {
	enum kreq_kind kind;
	uint64_t id;
	int from;
	uint16_t epoch;
	struct mkern_flow f;
	struct kreq *next;
};

struct mkern {
	enum mkern_mode mode;
	pthread_t thread;
	bool thread_started;

	/* Queue from the workers: held only to link/unlink. */
	pthread_mutex_t qlock;
	pthread_cond_t qcond;
	struct kreq *qhead, *qtail;
	bool stop;

	/* Everything below: the netlink socket and the flow table. */
	pthread_mutex_t mu;
	struct mnl_socket *nl;
	uint32_t portid, seq;
	uint16_t family;
	struct kflow *tab[NBUCKETS];
	/* Held (briefly, never across netlink) by whoever changes tab's
	 * chains or a kflow's sync, and by workers reading sync: mu is held
	 * across netlink exchanges, workers must not wait for those. */
	pthread_mutex_t slock;
	struct mstats_leg retired; /* counters of removed sessions */
	uint64_t last_poll_ms, last_probe_ms;
	bool logged_absent;
	char release[32];

	/* Read without mu (workers, info). */
	bool present;
	uint32_t features, abi;
	uint64_t nflows, offloads, takebacks;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static unsigned bucket(uint64_t id)
{
	return (unsigned)((id * 0x9E3779B97F4A7C15ull) >> 54) % NBUCKETS;
}

static void nl_close(struct mkern *k)
{
	if (k->nl)
		mnl_socket_close(k->nl);
	k->nl = NULL;
	k->family = 0;
}

static int nl_open(struct mkern *k)
{
	struct timeval tv = { .tv_sec = NL_TIMEOUT_MS / 1000,
		.tv_usec = (NL_TIMEOUT_MS % 1000) * 1000 };
	int one = 1;

	if (k->nl)
		return 0;
	k->nl = mnl_socket_open2(NETLINK_GENERIC, SOCK_CLOEXEC);
	if (!k->nl)
		return -errno;
	if (mnl_socket_bind(k->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		int rc = -errno;
		nl_close(k);
		return rc;
	}
	k->portid = mnl_socket_get_portid(k->nl);
	/* A module that stops answering must not hang the control thread. */
	setsockopt(mnl_socket_get_fd(k->nl), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	mnl_socket_setsockopt(k->nl, NETLINK_CAP_ACK, &one, sizeof(one));
	return 0;
}

struct talk {
	mnl_cb_t cb;
	void *data;
	int cb_rc;
};

static int talk_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct talk *t = arg;

	if (t->cb && t->cb(nlh, t->data) < 0)
		t->cb_rc = -EBADMSG;
	return MNL_CB_OK;
}

/* One request, its reply (cb per data message) and its ACK. 0 or -errno. */
static int nl_talk(struct mkern *k, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct talk t = { cb, data, 0 };
	uint32_t seq = nlh->nlmsg_seq;
	int ret;

	if (mnl_socket_sendto(k->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (int i = 0; i < 64; i++) {
		ssize_t n = mnl_socket_recvfrom(k->nl, buf, sizeof(buf));
		if (n < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		ret = mnl_cb_run(buf, (size_t)n, seq, k->portid, talk_cb, &t);
		if (ret == MNL_CB_ERROR)
			return errno ? -errno : -EIO;
		if (ret == MNL_CB_STOP)
			return t.cb_rc;
	}
	return -EIO;
}

static int family_cb(const struct nlmsghdr *nlh, void *arg)
{
	const struct nlattr *a;
	uint16_t *fam = arg;

	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr))
		if (mnl_attr_get_type(a) == CTRL_ATTR_FAMILY_ID &&
		    mnl_attr_validate(a, MNL_TYPE_U16) == 0)
			*fam = mnl_attr_get_u16(a);
	return MNL_CB_OK;
}

static int version_cb(const struct nlmsghdr *nlh, void *arg)
{
	return mkern_parse_version(nlh, arg) < 0 ? MNL_CB_ERROR : MNL_CB_OK;
}

static int flow_cb(const struct nlmsghdr *nlh, void *arg)
{
	return mkern_parse_flow(nlh, arg) < 0 ? MNL_CB_ERROR : MNL_CB_OK;
}

/* Resolves the family and does the handshake. 0, -ENOENT (no module),
 * -EPROTONOSUPPORT (ABI), -EPERM, other -errno. */
static int probe(struct mkern *k)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	struct genlmsghdr *g;
	struct mkern_version v;
	uint16_t fam = 0;
	int rc;

	rc = nl_open(k);
	if (rc < 0)
		return rc;
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = GENL_ID_CTRL;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = ++k->seq;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = CTRL_CMD_GETFAMILY;
	g->version = 1;
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, RAMPART_GENL_NAME);
	rc = nl_talk(k, nlh, family_cb, &fam);
	if (rc < 0 || fam == 0) {
		if (rc != -ENOENT)
			nl_close(k); /* a confused socket: start afresh next time */
		return rc < 0 ? rc : -ENOENT;
	}
	k->family = fam;
	memset(&v, 0, sizeof(v));
	rc = nl_talk(k, mkern_msg_version(buf, fam, ++k->seq), version_cb, &v);
	if (rc < 0)
		return rc;
	if (v.abi != RAMPART_ABI_VERSION)
		return -EPROTONOSUPPORT;
	memcpy(k->release, v.release, sizeof(k->release));
	__atomic_store_n(&k->abi, v.abi, __ATOMIC_RELAXED);
	__atomic_store_n(&k->features, v.features, __ATOMIC_RELAXED);
	return 0;
}

static struct kflow *kf_find(struct mkern *k, uint64_t id, int from)
{
	for (struct kflow *f = k->tab[bucket(id)]; f; f = f->next)
		if (f->id == id && f->from == from)
			return f;
	return NULL;
}

/* The stream state the workers continue from (mkern_sync_get). */
static void sync_set(struct mkern *k, struct kflow *f, const struct mkern_flow_reply *rep,
	bool final)
{
	struct mkern_sync *y = &f->sync;
	struct mkern_sync n = *y;

	if (rep && rep->in.present && n.in) {
		n.roc_in = rep->in.roc;
		n.seq_in = rep->in.seq;
	}
	if (rep && rep->out.present && n.out) {
		n.roc_out = rep->out.roc;
		n.seq_out = rep->out.seq;
	}
	n.final = final;
	if (n.final == y->final && n.roc_in == y->roc_in && n.seq_in == y->seq_in &&
	    n.roc_out == y->roc_out && n.seq_out == y->seq_out)
		return; /* the poll's usual case: no lock */
	pthread_mutex_lock(&k->slock);
	*y = n;
	pthread_mutex_unlock(&k->slock);
}

/* A new incarnation: the state it is programmed with. */
static void sync_start(struct mkern *k, struct kflow *f)
{
	struct mkern_sync n;

	memset(&n, 0, sizeof(n));
	n.ssrc = f->f.ssrc;
	n.in = f->f.in.set;
	n.out = f->f.out.set;
	n.roc_in = f->f.in.roc;
	n.seq_in = f->f.in.seq;
	n.roc_out = f->f.out.roc;
	n.seq_out = f->f.out.seq;
	pthread_mutex_lock(&k->slock);
	f->sync = n;
	pthread_mutex_unlock(&k->slock);
}

static int kf_cmd(struct mkern *k, struct kflow *f, uint8_t cmd, bool all,
	struct mkern_flow_reply *rep)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];

	if (!k->nl || !k->family)
		return -ENOENT;
	int rc = nl_talk(k, mkern_msg_flow(buf, k->family, ++k->seq, cmd, &f->f, all),
		rep ? flow_cb : NULL, rep);

	if (all)
		explicit_bzero(buf, sizeof(buf)); /* keys */
	return rc;
}

static void set_present(struct mkern *k, bool p)
{
	__atomic_store_n(&k->present, p, __ATOMIC_RELEASE);
}

static void kf_add(struct mkern *k, struct kflow *f)
{
	int rc;

	if (!__atomic_load_n(&k->present, __ATOMIC_ACQUIRE)) {
		f->state = KF_WANTED;
		sync_set(k, f, NULL, true); /* SRTP ones stay in userspace (try_probe) */
		return;
	}
	rc = kf_cmd(k, f, RAMPART_CMD_FLOW_ADD, true, NULL);
	if (rc == -EEXIST) {
		/* A flow left behind on this port (a crashed mediad): ours now. */
		if (kf_cmd(k, f, RAMPART_CMD_FLOW_DEL, false, NULL) == 0)
			rc = kf_cmd(k, f, RAMPART_CMD_FLOW_ADD, true, NULL);
	}
	if (rc == 0) {
		f->state = KF_ACTIVE;
		memset(&f->cur, 0, sizeof(f->cur));
		sync_set(k, f, NULL, false);
		__atomic_add_fetch(&k->nflows, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&k->offloads, 1, __ATOMIC_RELAXED);
		rp_debug("kernel: session %llu leg %c offloaded", (unsigned long long)f->id,
			'a' + f->from);
		return;
	}
	f->state = rc == -ENOENT || rc == -ETIMEDOUT ? KF_WANTED : KF_FAILED;
	sync_set(k, f, NULL, true); /* never in the module: the worker has it all */
	rp_warn_rl("kernel: session %llu leg %c: FLOW_ADD failed (%s); stays in userspace",
		(unsigned long long)f->id, 'a' + f->from, strerror(-rc));
}

/* A programmed flow is no longer in the module: keep its last counters and
 * let the SRTP stream go on in userspace from where the module had it when
 * last read (the worker picks that up: mkern_sync_get). */
static void lost(struct mkern *k, struct kflow *f)
{
	counters_add(&f->base, &f->cur);
	memset(&f->cur, 0, sizeof(f->cur));
	f->state = KF_WANTED;
	sync_set(k, f, NULL, true);
}

/* The module is gone: its flows went with it; packets reach our sockets
 * again. Keep the last counters, want the flows back when it returns. */
static void module_gone(struct mkern *k, int why)
{
	uint64_t n = 0;

	if (!__atomic_load_n(&k->present, __ATOMIC_ACQUIRE))
		return;
	set_present(k, false);
	for (unsigned b = 0; b < NBUCKETS; b++)
		for (struct kflow *f = k->tab[b]; f; f = f->next)
			if (f->state == KF_ACTIVE) {
				lost(k, f);
				n++;
			}
	__atomic_store_n(&k->nflows, 0, __ATOMIC_RELAXED);
	__atomic_add_fetch(&k->takebacks, n, __ATOMIC_RELAXED);
	nl_close(k);
	rp_warn("kernel: rampart module gone (%s): %llu flows back in userspace",
		strerror(-why), (unsigned long long)n);
	k->logged_absent = true;
}

/* After an error on a flow command: is the module still there? */
static bool still_there(struct mkern *k, int rc)
{
	int p;

	if (rc == -EEXIST || rc == -ENOSPC || rc == -EINVAL || rc == -ERANGE)
		return true;
	p = probe(k);
	if (p == 0)
		return true;
	module_gone(k, rc);
	return false;
}

/* Reads a programmed flow's counters; with del, removes it too. */
static void kf_read(struct mkern *k, struct kflow *f, bool del)
{
	struct mkern_flow_reply rep;
	int rc;

	if (f->state != KF_ACTIVE)
		return;
	rc = kf_cmd(k, f, RAMPART_CMD_FLOW_GET, false, &rep);
	if (rc == 0) {
		if (rep.has_stats)
			f->cur = rep.c;
		sync_set(k, f, &rep, false);
	} else if (!still_there(k, rc)) {
		return; /* module_gone() took it back */
	} else if (rc == -ENOENT) {
		/* Flushed, or the module was reloaded since the last look:
		 * the packets are ours again. */
		lost(k, f);
		f->state = KF_FAILED; /* the module lives: leave it in userspace */
		__atomic_sub_fetch(&k->nflows, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&k->takebacks, 1, __ATOMIC_RELAXED);
		return;
	}
	if (!del)
		return;
	rc = kf_cmd(k, f, RAMPART_CMD_FLOW_DEL, false, NULL);
	if (rc < 0 && rc != -ENOENT && !still_there(k, rc))
		return;
	/* What was just read is where the stream continues in userspace:
	 * the few packets the module may have carried between the GET and
	 * the DEL are behind the next one mediad sees. */
	counters_add(&f->base, &f->cur);
	memset(&f->cur, 0, sizeof(f->cur));
	f->state = KF_IDLE;
	sync_set(k, f, NULL, true);
	__atomic_sub_fetch(&k->nflows, 1, __ATOMIC_RELAXED);
}

static void kf_legs(const struct kflow *f, struct mstats_leg leg[2])
{
	struct mkern_counters c = f->base;

	counters_add(&c, &f->cur);
	mkern_counters_to_legs(&c, f->from, f->f.mismatch, leg);
}

/* Takes a session's flows back; forget: and drops them from the table. */
static void release(struct mkern *k, uint64_t id, bool forget, struct mstats_leg *final)
{
	struct kflow **pp = &k->tab[bucket(id)];

	while (*pp) {
		struct kflow *f = *pp;
		if (f->id != id) {
			pp = &f->next;
			continue;
		}
		kf_read(k, f, true);
		if (f->state == KF_ACTIVE) /* DEL failed but the module lives */
			rp_warn_rl("kernel: session %llu: flow not deleted", (unsigned long long)id);
		f->state = KF_IDLE;
		if (!forget) {
			pp = &f->next;
			continue;
		}
		if (final)
			kf_legs(f, final);
		else {
			struct mstats_leg l[2] = { { 0 }, { 0 } };
			kf_legs(f, l);
			mstats_leg_add(&k->retired, &l[0]);
			mstats_leg_add(&k->retired, &l[1]);
		}
		pthread_mutex_lock(&k->slock);
		*pp = f->next;
		pthread_mutex_unlock(&k->slock);
		explicit_bzero(f, sizeof(*f));
		free(f);
	}
}

static void run_req(struct mkern *k, struct kreq *r)
{
	struct kflow *f;

	switch (r->kind) {
	case KR_OFFLOAD:
		f = kf_find(k, r->id, r->from);
		if (!f) {
			f = calloc(1, sizeof(*f));
			if (!f) {
				rp_warn_rl("kernel: out of memory; session %llu stays in userspace",
					(unsigned long long)r->id);
				return;
			}
			f->id = r->id;
			f->from = r->from;
			f->next = k->tab[bucket(r->id)];
			pthread_mutex_lock(&k->slock);
			k->tab[bucket(r->id)] = f;
			pthread_mutex_unlock(&k->slock);
		} else if (f->state == KF_ACTIVE) {
			kf_read(k, f, true);
		}
		f->f = r->f;
		sync_start(k, f);
		pthread_mutex_lock(&k->slock);
		f->epoch = r->epoch;
		pthread_mutex_unlock(&k->slock);
		kf_add(k, f);
		break;
	case KR_RELEASE:
		release(k, r->id, false, NULL);
		break;
	case KR_FORGET:
		release(k, r->id, true, NULL);
		break;
	}
}

/* Runs what the workers posted, in order. Called with mu held. */
static void drain(struct mkern *k)
{
	struct kreq *r;

	pthread_mutex_lock(&k->qlock);
	r = k->qhead;
	k->qhead = k->qtail = NULL;
	pthread_mutex_unlock(&k->qlock);
	while (r) {
		struct kreq *next = r->next;
		run_req(k, r);
		explicit_bzero(r, sizeof(*r));
		free(r);
		r = next;
	}
}

static void poll_flows(struct mkern *k)
{
	for (unsigned b = 0; b < NBUCKETS; b++)
		for (struct kflow *f = k->tab[b]; f; f = f->next) {
			if (!__atomic_load_n(&k->present, __ATOMIC_ACQUIRE))
				return;
			kf_read(k, f, false);
		}
}

static void try_probe(struct mkern *k, bool quiet)
{
	int rc = probe(k);

	if (rc < 0) {
		if (!k->logged_absent && !quiet)
			rp_notice("kernel: rampart module not available (%s); media stays in userspace",
				rc == -ENOENT ? "not loaded" : strerror(-rc));
		k->logged_absent = true;
		return;
	}
	rp_notice("kernel: rampart module %s, ABI %u, features 0x%x: fast path on",
		k->release, RAMPART_ABI_VERSION, __atomic_load_n(&k->features, __ATOMIC_RELAXED));
	k->logged_absent = false;
	set_present(k, true);
	/* Flows we still want go back in. SRTP ones stay in userspace: the
	 * stream index they were programmed with is stale by now. */
	for (unsigned b = 0; b < NBUCKETS; b++)
		for (struct kflow *f = k->tab[b]; f; f = f->next) {
			if (f->state != KF_WANTED)
				continue;
			if (f->f.in.set || f->f.out.set)
				f->state = KF_FAILED;
			else
				kf_add(k, f);
		}
}

static void *kern_main(void *arg)
{
	struct mkern *k = arg;

	pthread_setname_np(pthread_self(), "mediad-kern");
	for (;;) {
		struct timespec ts;
		uint64_t now;

		pthread_mutex_lock(&k->qlock);
		if (!k->qhead && !k->stop) {
			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_nsec += (long)POLL_MS % 1000 * 1000000L;
			ts.tv_sec += POLL_MS / 1000 + ts.tv_nsec / 1000000000L;
			ts.tv_nsec %= 1000000000L;
			pthread_cond_timedwait(&k->qcond, &k->qlock, &ts);
		}
		bool stop = k->stop;
		pthread_mutex_unlock(&k->qlock);
		if (stop)
			break;
		pthread_mutex_lock(&k->mu);
		drain(k);
		now = now_ms();
		if (now - k->last_poll_ms >= POLL_MS) {
			k->last_poll_ms = now;
			if (__atomic_load_n(&k->present, __ATOMIC_ACQUIRE))
				poll_flows(k);
		}
		if (!__atomic_load_n(&k->present, __ATOMIC_ACQUIRE) &&
		    now - k->last_probe_ms >= PROBE_MS) {
			k->last_probe_ms = now;
			try_probe(k, false);
		}
		pthread_mutex_unlock(&k->mu);
	}
	return NULL;
}

int mkern_new(enum mkern_mode mode, char *err, size_t errsz, struct mkern **out)
{
	struct mkern *k = calloc(1, sizeof(*k));
	int rc;

	if (!k)
		return -ENOMEM;
	k->mode = mode;
	pthread_mutex_init(&k->qlock, NULL);
	pthread_mutex_init(&k->mu, NULL);
	pthread_mutex_init(&k->slock, NULL);
	{
		pthread_condattr_t ca;
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&k->qcond, &ca);
		pthread_condattr_destroy(&ca);
	}
	if (mode == MKERN_OFF) {
		rp_info("kernel: fast path off (kernel = off)");
		*out = k;
		return 0;
	}
	rc = probe(k);
	k->last_probe_ms = k->last_poll_ms = now_ms();
	if (rc == 0) {
		set_present(k, true);
		rp_notice("kernel: rampart module %s, ABI %u, features 0x%x: fast path on",
			k->release, RAMPART_ABI_VERSION, k->features);
	} else if (mode == MKERN_REQUIRED) {
		snprintf(err, errsz, "kernel = required but the rampart module is %s",
			rc == -ENOENT ? "not loaded (modprobe rampart / insmod rampart.ko)" :
			rc == -EPROTONOSUPPORT ? "of another ABI version than this mediad" :
			rc == -EPERM ? "not usable without CAP_NET_ADMIN" : strerror(-rc));
		goto fail;
	} else {
		rp_notice("kernel: rampart module not available (%s); media stays in userspace",
			rc == -ENOENT ? "not loaded" : strerror(-rc));
		k->logged_absent = true;
	}
	rc = -pthread_create(&k->thread, NULL, kern_main, k);
	if (rc < 0) {
		snprintf(err, errsz, "kernel: thread: %s", strerror(-rc));
		goto fail;
	}
	k->thread_started = true;
	*out = k;
	return 0;
fail:
	nl_close(k);
	pthread_cond_destroy(&k->qcond);
	pthread_mutex_destroy(&k->qlock);
	pthread_mutex_destroy(&k->mu);
	pthread_mutex_destroy(&k->slock);
	free(k);
	return rc;
}

void mkern_free(struct mkern *k)
{
	if (!k)
		return;
	if (k->thread_started) {
		pthread_mutex_lock(&k->qlock);
		k->stop = true;
		pthread_cond_signal(&k->qcond);
		pthread_mutex_unlock(&k->qlock);
		pthread_join(k->thread, NULL);
	}
	pthread_mutex_lock(&k->mu);
	drain(k);
	for (unsigned b = 0; b < NBUCKETS; b++)
		while (k->tab[b]) {
			struct kflow *f = k->tab[b];
			pthread_mutex_lock(&k->slock);
			k->tab[b] = f->next;
			pthread_mutex_unlock(&k->slock);
			kf_read(k, f, true);
			explicit_bzero(f, sizeof(*f));
			free(f);
		}
	nl_close(k);
	pthread_mutex_unlock(&k->mu);
	pthread_cond_destroy(&k->qcond);
	pthread_mutex_destroy(&k->qlock);
	pthread_mutex_destroy(&k->mu);
	pthread_mutex_destroy(&k->slock);
	free(k);
}

int mkern_sync_get(struct mkern *k, uint64_t id, int from, uint16_t epoch,
	struct mkern_sync *out)
{
	int rc = -EAGAIN;

	if (!k || k->mode == MKERN_OFF)
		return -ENOENT;
	pthread_mutex_lock(&k->slock);
	for (struct kflow *f = k->tab[bucket(id)]; f; f = f->next)
		if (f->id == id && f->from == from) {
			if (f->epoch == epoch) {
				*out = f->sync;
				rc = 0;
			}
			break;
		}
	pthread_mutex_unlock(&k->slock);
	return rc;
}

bool mkern_usable(const struct mkern *k, struct mkern_caps *caps)
{
	if (!k || !__atomic_load_n(&k->present, __ATOMIC_ACQUIRE))
		return false;
	caps->present = true;
	caps->features = __atomic_load_n(&k->features, __ATOMIC_RELAXED);
	return true;
}

static void post(struct mkern *k, struct kreq *r)
{
	pthread_mutex_lock(&k->qlock);
	if (k->qtail)
		k->qtail->next = r;
	else
		k->qhead = r;
	k->qtail = r;
	pthread_cond_signal(&k->qcond);
	pthread_mutex_unlock(&k->qlock);
}

void mkern_post_offload(struct mkern *k, uint64_t id, int from, uint16_t epoch,
	const struct mkern_flow *f)
{
	struct kreq *r;

	if (!k || k->mode == MKERN_OFF || !(r = calloc(1, sizeof(*r))))
		return; /* no memory: the direction stays in userspace */
	r->kind = KR_OFFLOAD;
	r->id = id;
	r->from = from;
	r->epoch = epoch;
	r->f = *f;
	post(k, r);
}

void mkern_post_release(struct mkern *k, uint64_t id, bool forget)
{
	struct kreq *r;

	if (!k || k->mode == MKERN_OFF)
		return;
	r = calloc(1, sizeof(*r));
	if (!r) {
		/* Cannot leave a stale flow behind: do it synchronously. */
		pthread_mutex_lock(&k->mu);
		drain(k);
		release(k, id, forget, NULL);
		pthread_mutex_unlock(&k->mu);
		return;
	}
	r->kind = forget ? KR_FORGET : KR_RELEASE;
	r->id = id;
	post(k, r);
}

void mkern_session(struct mkern *k, uint64_t id, bool remove, struct mstats_leg leg[2],
	bool offloaded[2])
{
	offloaded[0] = offloaded[1] = false;
	if (!k || k->mode == MKERN_OFF)
		return;
	pthread_mutex_lock(&k->mu);
	drain(k); /* a worker's offload posted before this request comes first */
	if (remove) {
		release(k, id, true, leg);
	} else {
		for (struct kflow *f = k->tab[bucket(id)]; f; f = f->next) {
			if (f->id != id)
				continue;
			kf_read(k, f, false);
			offloaded[f->from] = f->state == KF_ACTIVE;
			kf_legs(f, leg);
		}
	}
	pthread_mutex_unlock(&k->mu);
}

uint64_t mkern_last_ms(struct mkern *k, uint64_t id)
{
	uint64_t last = 0;

	if (!k || k->mode == MKERN_OFF)
		return 0;
	if (pthread_mutex_trylock(&k->mu) != 0)
		return UINT64_MAX;
	for (struct kflow *f = k->tab[bucket(id)]; f; f = f->next) {
		if (f->id != id)
			continue;
		uint64_t a = f->base.last_seen_ns / 1000000u, b = f->cur.last_seen_ns / 1000000u;
		if (a > last)
			last = a;
		if (b > last)
			last = b;
	}
	pthread_mutex_unlock(&k->mu);
	return last;
}

void mkern_add_totals(struct mkern *k, struct mstats_leg *sum)
{
	if (!k || k->mode == MKERN_OFF)
		return;
	pthread_mutex_lock(&k->mu);
	drain(k);
	mstats_leg_add(sum, &k->retired);
	for (unsigned b = 0; b < NBUCKETS; b++)
		for (struct kflow *f = k->tab[b]; f; f = f->next) {
			struct mstats_leg l[2] = { { 0 }, { 0 } };
			if (__atomic_load_n(&k->present, __ATOMIC_ACQUIRE))
				kf_read(k, f, false); /* exact now, not as last polled */
			kf_legs(f, l);
			mstats_leg_add(sum, &l[0]);
			mstats_leg_add(sum, &l[1]);
		}
	pthread_mutex_unlock(&k->mu);
}

void mkern_get_info(struct mkern *k, struct mkern_info *out)
{
	memset(out, 0, sizeof(*out));
	if (!k)
		return;
	out->mode = k->mode;
	out->present = __atomic_load_n(&k->present, __ATOMIC_ACQUIRE);
	out->abi = out->present ? __atomic_load_n(&k->abi, __ATOMIC_RELAXED) : 0;
	out->features = out->present ? __atomic_load_n(&k->features, __ATOMIC_RELAXED) : 0;
	out->flows = __atomic_load_n(&k->nflows, __ATOMIC_RELAXED);
	out->offloads = __atomic_load_n(&k->offloads, __ATOMIC_RELAXED);
	out->takebacks = __atomic_load_n(&k->takebacks, __ATOMIC_RELAXED);
	pthread_mutex_lock(&k->mu);
	memcpy(out->release, k->release, sizeof(out->release));
	pthread_mutex_unlock(&k->mu);
}
