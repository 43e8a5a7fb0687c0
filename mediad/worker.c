#include "worker.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "kernel.h"
#include "msrtp.h"
#include "pool.h"
#include "rp_log.h"

#define HASH_BUCKETS 1024u
#define SCAN_MS 200

struct mworker {
	struct mworker_cfg cfg;
	pthread_t thread;
	struct meng eng;
	int wake_fd;
	int start_rc;
	sem_t started;
	bool stop;              /* set by a command on the worker itself */

	pthread_mutex_t qlock;
	struct mcmd *qhead, *qtail;

	struct msess *hash[HASH_BUCKETS];
	struct msess list;      /* sentinel of the live-session list */
	uint64_t nsess;
	uint64_t ndying;        /* deleted, waiting for the engine to let go */
	struct mstats_total retired; /* deleted sessions' counters + events */
	uint64_t last_scan_ms;
	uint64_t batch_ms;      /* mworker_batch_begin(): 'now' for the packet path */
	bool rcvbuf_warned;
};

uint64_t mworker_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static unsigned bucket(uint64_t id)
{
	return (unsigned)((id * 0x9E3779B97F4A7C15ull) >> 54) % HASH_BUCKETS;
}

static struct msess *find(struct mworker *w, uint64_t id)
{
	for (struct msess *s = w->hash[bucket(id)]; s; s = s->hnext)
		if (s->id == id)
			return s;
	return NULL;
}

static void link_sess(struct mworker *w, struct msess *s)
{
	unsigned b = bucket(s->id);

	s->hnext = w->hash[b];
	w->hash[b] = s;
	s->next = w->list.next;
	s->prev = &w->list;
	w->list.next->prev = s;
	w->list.next = s;
	w->nsess++;
}

static void unlink_sess(struct mworker *w, struct msess *s)
{
	struct msess **pp = &w->hash[bucket(s->id)];

	while (*pp && *pp != s)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = s->hnext;
	s->hnext = NULL;
	s->prev->next = s->next;
	s->next->prev = s->prev;
	s->prev = s->next = NULL;
	w->nsess--;
}

static void fill_info(const struct msess *s, uint64_t now, struct msess_info *in)
{
	memset(in, 0, sizeof(*in));
	in->id = s->id;
	memcpy(in->label, s->label, sizeof(in->label));
	in->idle_ms = now - msess_last_activity(s);
	in->age_ms = now - s->created_ms;
	in->timeout_reported = s->timeout_reported;
	for (int i = 0; i < 2; i++) {
		const struct mleg *l = &s->leg[i];
		in->leg[i].port = l->port;
		in->leg[i].family = l->family;
		in->leg[i].remote_rtp = l->remote_rtp;
		in->leg[i].remote_rtcp = l->remote_rtcp;
		in->leg[i].latched_rtp = l->latched_rtp;
		in->leg[i].latched_rtcp = l->latched_rtcp;
		in->leg[i].rtcp_mux = l->rtcp_mux;
		in->leg[i].srtp_in = l->in != NULL;
		in->leg[i].srtp_out = l->out != NULL;
		in->leg[i].latch = l->latch;
		in->leg[i].st = l->st;
	}
}

/* Last step of a session's life: no engine holds any of its sockets. */
static void destroy(struct mworker *w, struct msess *s)
{
	for (int i = 0; i < 2; i++) {
		struct mleg *l = &s->leg[i];
		if (l->rtp.fd >= 0)
			close(l->rtp.fd);
		if (l->rtcp.fd >= 0)
			close(l->rtcp.fd);
		l->rtp.fd = l->rtcp.fd = -1;
		if (l->port)
			mpool_release(w->cfg.pool, l->port);
	}
	if (s->dying)
		w->ndying--;
	msess_free(s);
}

static void socks_of(struct msess *s, struct msock **v, int *n)
{
	*n = 0;
	for (int i = 0; i < 2; i++) {
		if (s->leg[i].rtp.fd >= 0)
			v[(*n)++] = &s->leg[i].rtp;
		if (s->leg[i].rtcp.fd >= 0)
			v[(*n)++] = &s->leg[i].rtcp;
	}
}

/* Removes a live session: it stops forwarding at once; memory and ports
 * go when the engine has let go of every socket. */
static void kill_sess(struct mworker *w, struct msess *s, bool timed_out)
{
	struct msock *v[4];
	int n;

	unlink_sess(w, s);
	/* A timed-out session's flows go now; session.delete removes them
	 * itself (control thread) to return the final counters. */
	if (timed_out && (s->leg[0].koff || s->leg[1].koff))
		mkern_post_release(w->cfg.kern, s->id, true);
	for (int i = 0; i < 2; i++)
		mstats_leg_add(&w->retired.pkt, &s->leg[i].st);
	w->retired.sessions_deleted++;
	if (timed_out)
		w->retired.sessions_timed_out++;
	s->dying = true;
	w->ndying++;
	socks_of(s, v, &n);
	/* Hold one reference ourselves so a synchronous release inside
	 * meng_del cannot free s while we still walk its sockets. */
	s->pending++;
	for (int i = 0; i < n; i++)
		meng_del(&w->eng, v[i]);
	if (--s->pending == 0)
		destroy(w, s);
}

void mworker_sock_released(struct mworker *w, struct msock *s)
{
	struct msess *ss = s->sess;

	if (ss->pending > 0 && --ss->pending == 0 && ss->dying)
		destroy(w, ss);
}

static int local_addr(int fd, union maddr *out)
{
	struct sockaddr_storage ss;
	socklen_t n = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &n) < 0)
		return -errno;
	return maddr_from(out, (struct sockaddr *)&ss, n);
}

/* After a forwarded RTP packet: hand the direction to the kernel once it
 * is ready (kernel.h). Runs the decision only while not yet asked. */
static void maybe_offload(struct mworker *w, struct msock *s, uint32_t ssrc)
{
	struct msess *ss = s->sess;
	struct mkern_caps caps;
	struct mkern_flow f;
	union maddr lf, lt;
	int rc;

	/* ksync: an earlier flow's final state has not reached our contexts
	 * yet; the next one starts from there. */
	if (s->rtcp || ss->leg[s->leg].koff || ss->leg[s->leg].ksync ||
	    !mkern_usable(w->cfg.kern, &caps) ||
	    mkern_decide(ss, s->leg, &caps) != MKERN_YES)
		return;
	rc = local_addr(ss->leg[s->leg].rtp.fd, &lf);
	if (rc == 0)
		rc = local_addr(ss->leg[!s->leg].rtp.fd, &lt);
	if (rc == 0)
		rc = mkern_flow_from(ss, s->leg, ssrc, &lf, &lt, &f);
	if (rc < 0) {
		/* -EAGAIN: try with a later packet. Otherwise (a wildcard
		 * listen address) never: no syscalls per packet for it. */
		if (rc != -EAGAIN)
			ss->leg[s->leg].koff = true;
		return;
	}
	ss->leg[s->leg].koff = true;
	ss->leg[s->leg].kepoch++;
	ss->leg[s->leg].kskip = 0;
	ss->leg[s->leg].ksync = f.in.set || f.out.set;
	mkern_post_offload(w->cfg.kern, ss->id, s->leg, ss->leg[s->leg].kepoch, &f);
	explicit_bzero(&f, sizeof(f));
}

/* A packet reached us on a direction whose SRTP the module has (handed
 * up: malformed, another source, ...) or had (taken back: leg.update,
 * rmmod, flush): our contexts continue from the module's stream state,
 * not from where they last saw it, maybe 2^15 or more packets ago. */
static void kern_sync(struct mworker *w, struct msess *ss, int from)
{
	struct mleg *l = &ss->leg[from], *o = &ss->leg[!from];
	struct mkern_sync y;
	int rc = mkern_sync_get(w->cfg.kern, ss->id, from, l->kepoch, &y);

	if (rc == -EAGAIN)
		return; /* not programmed yet: our contexts are where it starts */
	if (rc < 0) {
		l->ksync = false;
		return;
	}
	/* An anchor at or behind where a context is changes nothing: no
	 * need to remember what was applied. */
	if (y.in && l->in && !(l->kskip & 1) &&
	    msrtp_set_anchor(l->in, y.ssrc, y.roc_in, y.seq_in) < 0)
		rp_warn_rl("kernel: session %llu: cannot continue the SRTP stream (in)",
			(unsigned long long)ss->id);
	if (y.out && o->out && !(l->kskip & 2) &&
	    msrtp_set_anchor(o->out, y.ssrc, y.roc_out, y.seq_out) < 0)
		rp_warn_rl("kernel: session %llu: cannot continue the SRTP stream (out)",
			(unsigned long long)ss->id);
	if (y.final)
		l->ksync = false;
}

void mworker_batch_begin(struct mworker *w)
{
	w->batch_ms = mworker_now_ms();
}

bool mworker_packet(struct mworker *w, struct msock *s, const union maddr *src,
	uint8_t *pkt, size_t *len, size_t cap, struct mfwd *fwd)
{
	if (s->sess->dying)
		return false;
	if (s->sess->leg[s->leg].ksync && !s->rtcp)
		kern_sync(w, s->sess, s->leg);
	if (msess_packet(s->sess, s, src, pkt, len, cap, w->batch_ms, fwd) !=
	    MSESS_FORWARD)
		return false;
	if (w->cfg.kern && *len >= 12)
		maybe_offload(w, s, (uint32_t)pkt[8] << 24 | (uint32_t)pkt[9] << 16 |
			(uint32_t)pkt[10] << 8 | pkt[11]);
	return true;
}

void mworker_count_send_err(struct mworker *w)
{
	w->retired.send_err++;
}

void mworker_count_overflow(struct mworker *w)
{
	w->retired.rx_overflow++;
}

/* Room for bursts: a worker that is off the CPU for a few ms must not
 * lose packets in the kernel. As root past net.core.rmem_max, else capped
 * by it (said once). */
static void set_rcvbuf(struct mworker *w, int fd)
{
	int want = (int)w->cfg.socket_rcvbuf, got = 0;
	socklen_t n = sizeof(got);

	if (want <= 0)
		return;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof(want)) == 0)
		return;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof(want)) < 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &n) < 0) {
		if (!w->rcvbuf_warned)
			rp_warn("worker %u: SO_RCVBUF: %s", w->cfg.idx, strerror(errno));
		w->rcvbuf_warned = true;
		return;
	}
	/* The kernel reports twice what it grants (its bookkeeping share). */
	if (got / 2 < want && !w->rcvbuf_warned) {
		rp_notice("worker %u: socket-rcvbuf %d capped at %d by net.core.rmem_max",
			w->cfg.idx, want, got / 2);
		w->rcvbuf_warned = true;
	}
}

static void do_add(struct mworker *w, struct mcmd *c)
{
	struct msess *s = c->sess;
	struct msock *v[4];
	int n, rc = 0;

	c->sess = NULL;
	if (find(w, s->id)) {
		c->result = -EEXIST;
		destroy(w, s);
		return;
	}
	link_sess(w, s);
	w->retired.sessions_created++;
	socks_of(s, v, &n);
	for (int i = 0; i < n; i++)
		set_rcvbuf(w, v[i]->fd);
	for (int i = 0; i < n && rc == 0; i++)
		rc = meng_add(&w->eng, v[i]);
	if (rc < 0) {
		/* Undo: counts as created and deleted, never seen by anyone. */
		kill_sess(w, s, false);
		c->result = rc;
		return;
	}
	c->result = 0;
}

static void do_stats(struct mworker *w, struct mcmd *c)
{
	memset(&c->total, 0, sizeof(c->total));
	c->total = w->retired;
	for (struct msess *s = w->list.next; s != &w->list; s = s->next)
		for (int i = 0; i < 2; i++)
			mstats_leg_add(&c->total.pkt, &s->leg[i].st);
	c->total.sessions_active = w->nsess;
}

static void do_list(struct mworker *w, struct mcmd *c)
{
	size_t n = 0;

	c->ids = NULL;
	c->nids = 0;
	if (w->nsess == 0) {
		c->result = 0;
		return;
	}
	c->ids = malloc(w->nsess * sizeof(*c->ids));
	if (!c->ids) {
		c->result = -ENOMEM;
		return;
	}
	for (struct msess *s = w->list.next; s != &w->list; s = s->next)
		c->ids[n++] = s->id;
	c->nids = n;
	c->result = 0;
}

static void run_cmd(struct mworker *w, struct mcmd *c)
{
	struct msess *s;
	uint64_t now = mworker_now_ms();

	c->result = 0;
	switch (c->kind) {
	case MCMD_ADD:
		do_add(w, c);
		return;
	case MCMD_STATS:
		do_stats(w, c);
		return;
	case MCMD_LIST:
		do_list(w, c);
		return;
	default:
		break;
	}
	s = find(w, c->id);
	if (!s) {
		/* SRTP contexts in a failed update are ours to free. */
		if (c->kind == MCMD_UPDATE) {
			c->upd.in = msrtp_free(c->upd.in);
			c->upd.out = msrtp_free(c->upd.out);
		}
		c->result = -ENOENT;
		return;
	}
	switch (c->kind) {
	case MCMD_UPDATE:
		if (c->leg < 0 || c->leg > 1 ||
		    ((c->upd.set & MLEG_SET_REMOTE) &&
		     c->upd.remote.sa.sa_family != s->leg[c->leg].family) ||
		    ((c->upd.set & MLEG_SET_REMOTE_RTCP) &&
		     c->upd.remote_rtcp.sa.sa_family != s->leg[c->leg].family)) {
			/* Checked here, before anything changes: all or nothing. */
			c->upd.in = msrtp_free(c->upd.in);
			c->upd.out = msrtp_free(c->upd.out);
			c->result = -EAFNOSUPPORT;
			break;
		}
		/* New remote or keys: take both directions back from the kernel;
		 * they are offloaded again once packets show the new state. */
		if (s->leg[0].koff || s->leg[1].koff) {
			mkern_post_release(w->cfg.kern, s->id, false);
			s->leg[0].koff = s->leg[1].koff = false;
			/* What the kernel forwarded never reached the
			 * sequence tracker: that gap is not loss. */
			mstats_seq_resync(&s->leg[0].seq);
			mstats_seq_resync(&s->leg[1].seq);
		}
		/* New keys: the module's stream state is not theirs. */
		if (c->upd.set & MLEG_SET_IN)
			s->leg[c->leg].kskip |= 1;
		if (c->upd.set & MLEG_SET_OUT)
			s->leg[!c->leg].kskip |= 2;
		msess_leg_apply(s, c->leg, &c->upd, now);
		fill_info(s, now, &c->info);
		break;
	case MCMD_QUERY:
		fill_info(s, now, &c->info);
		break;
	case MCMD_DELETE:
		fill_info(s, now, &c->info);
		kill_sess(w, s, false);
		break;
	default:
		c->result = -EINVAL;
		break;
	}
}

void mworker_wake(struct mworker *w)
{
	uint64_t v;
	struct mcmd *c;

	if (read(w->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		rp_warn("worker %u: eventfd read: %s", w->cfg.idx, strerror(errno));
	for (;;) {
		pthread_mutex_lock(&w->qlock);
		c = w->qhead;
		if (c) {
			w->qhead = c->next;
			if (!w->qhead)
				w->qtail = NULL;
		}
		pthread_mutex_unlock(&w->qlock);
		if (!c)
			break;
		run_cmd(w, c);
		sem_post(&c->done); /* c may be gone after this */
	}
}

int mworker_call(struct mworker *w, struct mcmd *c)
{
	uint64_t one = 1;

	if (sem_init(&c->done, 0, 0) != 0)
		return -errno;
	c->next = NULL;
	pthread_mutex_lock(&w->qlock);
	if (w->qtail)
		w->qtail->next = c;
	else
		w->qhead = c;
	w->qtail = c;
	pthread_mutex_unlock(&w->qlock);
	if (write(w->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		rp_warn("worker %u: eventfd write: %s", w->cfg.idx, strerror(errno));
	while (sem_wait(&c->done) != 0 && errno == EINTR)
		;
	sem_destroy(&c->done);
	return c->result;
}

int mworker_call_n(struct mworker *w, struct mcmd **cmds, unsigned n)
{
	uint64_t one = 1;

	if (n == 0)
		return 0;
	for (unsigned i = 0; i < n; i++) {
		if (sem_init(&cmds[i]->done, 0, 0) != 0) {
			int e = -errno;
			while (i-- > 0)
				sem_destroy(&cmds[i]->done);
			return e;
		}
		cmds[i]->next = i + 1 < n ? cmds[i + 1] : NULL;
	}
	pthread_mutex_lock(&w->qlock);
	if (w->qtail)
		w->qtail->next = cmds[0];
	else
		w->qhead = cmds[0];
	w->qtail = cmds[n - 1];
	pthread_mutex_unlock(&w->qlock);
	if (write(w->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		rp_warn("worker %u: eventfd write: %s", w->cfg.idx, strerror(errno));
	/* The worker runs the queue in order: once the last is done, so are
	 * the others (their posts found no waiter: no wake-up each). */
	while (sem_wait(&cmds[n - 1]->done) != 0 && errno == EINTR)
		;
	for (unsigned i = 0; i < n; i++)
		sem_destroy(&cmds[i]->done);
	return 0;
}

static void scan_timeouts(struct mworker *w, uint64_t now)
{
	struct msess *s = w->list.next, *next;

	for (; s != &w->list; s = next) {
		uint64_t last = msess_last_activity(s), idle;
		struct mevent ev;

		next = s->next;
		/* Offloaded media does not reach us: ask what the module saw. */
		if (s->leg[0].koff || s->leg[1].koff) {
			uint64_t k = mkern_last_ms(w->cfg.kern, s->id);
			if (k == UINT64_MAX)
				continue; /* busy now; next scan */
			if (k > last && k <= now)
				last = k;
		}
		idle = now - last;
		if (idle < s->media_timeout_ms) {
			s->timeout_reported = false; /* media came back: report anew */
			continue;
		}
		if (idle < s->delete_timeout_ms && s->timeout_reported)
			continue;
		memset(&ev, 0, sizeof(ev));
		ev.id = s->id;
		memcpy(ev.label, s->label, sizeof(ev.label));
		ev.idle_ms = idle;
		ev.leg[0] = s->leg[0].st;
		ev.leg[1] = s->leg[1].st;
		if (idle >= s->delete_timeout_ms) {
			ev.deleted = true;
			rp_info("session %llu: no media for %llu ms, deleted",
				(unsigned long long)s->id, (unsigned long long)idle);
			kill_sess(w, s, true);
		} else {
			s->timeout_reported = true;
			rp_info("session %llu: no media for %llu ms",
				(unsigned long long)s->id, (unsigned long long)idle);
		}
		if (w->cfg.on_event)
			w->cfg.on_event(w->cfg.event_ctx, &ev);
	}
}

static void *worker_main(void *arg)
{
	struct mworker *w = arg;
	char name[16];

	snprintf(name, sizeof(name), "mediad-w%u", w->cfg.idx);
	pthread_setname_np(pthread_self(), name);
	/* The engine is made on this thread: an io_uring set up with
	 * SINGLE_ISSUER must be used by the thread that created it. */
	struct meng_params ep = {
		.nbufs = w->cfg.ring_buffers,
		.batch_wait_us = w->cfg.batch_wait_us,
		.batch_size = w->cfg.batch_size,
	};
	w->start_rc = meng_new(w->cfg.engine, w, w->wake_fd, &ep, &w->eng);
	sem_post(&w->started);
	if (w->start_rc < 0)
		return NULL;
	while (!__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE)) {
		uint64_t now;
		int rc = meng_run(&w->eng, SCAN_MS);

		if (rc < 0 && rc != -EINTR && rc != -ETIME && rc != -EAGAIN) {
			rp_err("worker %u: engine %s failed: %s", w->cfg.idx,
				meng_name(&w->eng), strerror(-rc));
			break;
		}
		/* A fresh read: commands of this round may have stamped
		 * sessions after the batch's time (idle = now - last). */
		now = mworker_now_ms();
		if (now - w->last_scan_ms >= SCAN_MS) {
			w->last_scan_ms = now;
			scan_timeouts(w, now);
		}
	}
	/* Tear down: every socket is released before the engine goes. */
	while (w->list.next != &w->list)
		kill_sess(w, w->list.next, false);
	for (int i = 0; i < 500 && w->ndying > 0; i++)
		meng_run(&w->eng, 10);
	if (w->ndying > 0)
		rp_warn("worker %u: %llu sessions not released at exit", w->cfg.idx,
			(unsigned long long)w->ndying);
	meng_free(&w->eng);
	return NULL;
}

int mworker_new(const struct mworker_cfg *cfg, struct mworker **out)
{
	struct mworker *w = calloc(1, sizeof(*w));
	int rc;

	if (!w)
		return -ENOMEM;
	w->cfg = *cfg;
	w->list.next = w->list.prev = &w->list;
	w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->wake_fd < 0) {
		rc = -errno;
		goto err_free;
	}
	pthread_mutex_init(&w->qlock, NULL);
	sem_init(&w->started, 0, 0);
	rc = pthread_create(&w->thread, NULL, worker_main, w);
	if (rc != 0) {
		rc = -rc;
		goto err_fd;
	}
	while (sem_wait(&w->started) != 0 && errno == EINTR)
		;
	if (w->start_rc < 0) {
		rc = w->start_rc;
		pthread_join(w->thread, NULL);
		goto err_fd;
	}
	*out = w;
	return 0;
err_fd:
	sem_destroy(&w->started);
	pthread_mutex_destroy(&w->qlock);
	close(w->wake_fd);
err_free:
	free(w);
	return rc;
}

const char *mworker_engine_name(const struct mworker *w)
{
	return meng_name(&w->eng);
}

void mworker_free(struct mworker *w)
{
	uint64_t one = 1;

	if (!w)
		return;
	__atomic_store_n(&w->stop, true, __ATOMIC_RELEASE);
	if (write(w->wake_fd, &one, sizeof(one)) < 0)
		rp_warn("worker %u: eventfd write: %s", w->cfg.idx, strerror(errno));
	pthread_join(w->thread, NULL);
	sem_destroy(&w->started);
	pthread_mutex_destroy(&w->qlock);
	close(w->wake_fd);
	free(w);
}
