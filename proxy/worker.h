/* worker: the proxy's I/O threads.
 *
 * N workers (default one per online CPU), each with its own epoll, its own
 * SO_REUSEPORT UDP sockets and TCP/TLS listening sockets (the kernel
 * spreads datagrams and connections across them), and its own connection
 * table: a connection stays on the worker that accepted it. Nothing on the
 * message path takes a lock; the connection limiter (on accept/close) and
 * the cross-worker send path (rp_workers_send) do.
 *
 * Every received message is handed to the handler on the worker thread
 * that received it; rp_reply() answers on the same flow (same UDP socket
 * to the source address, or the same connection).
 */
#ifndef RP_WORKER_H
#define RP_WORKER_H

#include <stddef.h>
#include <stdint.h>

#include "conn.h"
#include "tls.h"
#include "transport.h"

struct rp_worker;

struct rp_msg_info {
	enum rp_tp tp;
	rp_addr peer;               /* source of the message */
	rp_addr local;              /* address it arrived on */
	unsigned worker_id;
	struct rp_worker *w;
	rp_conn *conn;              /* stream transports, else NULL */
	int udp_fd;                 /* UDP, else -1 */
};

/* Called on the worker thread for each framed message; 'msg' is valid only
 * during the call. */
typedef void (*rp_msg_handler)(const struct rp_msg_info *mi, const char *msg,
	size_t len, void *arg);

/* Sends on the flow the message came in on. 0 or -errno (a stream peer
 * that does not read is disconnected after the handler returns). */
int rp_reply(const struct rp_msg_info *mi, const void *data, size_t len);

/* RFC 5923: the stream message carried a Via with ;alias, so the
 * connection also serves requests to its sent-by address (same IP as the
 * peer only). Call on the worker thread, inside the handler. 0 / -errno. */
int rp_reply_alias(const struct rp_msg_info *mi, const rp_addr *sent_by);

typedef struct rp_workers rp_workers;

/* Opens every listener of cfg once per worker and starts the threads.
 * tls may be NULL when no listener is TLS; it is borrowed and must outlive
 * the workers (reload it any time). Listeners with port 0 get a port from
 * the kernel, the same for all workers: see rp_workers_listeners(). */
int rp_workers_start(const struct rp_transport_cfg *cfg, rp_tls_store *tls,
	rp_msg_handler fn, void *arg, rp_workers **out);
/* Stops and joins the threads: nothing is received or handled after it,
 * but sockets, connections and inboxes stay, so other threads (the core's
 * timer and resolver threads) may still send until rp_workers_stop. */
void rp_workers_halt(rp_workers *ws);
/* Halts if not yet halted, closes every socket and connection, frees ws. */
void rp_workers_stop(rp_workers *ws);
/* The listeners as bound (ports resolved). */
size_t rp_workers_listeners(const rp_workers *ws, const struct rp_listen **out);
unsigned rp_workers_count(const rp_workers *ws);

/* Sends a message to peer from any thread: UDP from the first socket of
 * the right family, TCP/TLS over the open connection to that address
 * (whichever worker owns it). -ENOTCONN when there is none. */
int rp_workers_send(rp_workers *ws, enum rp_tp tp, const rp_addr *peer,
	const void *data, size_t len);

/* Like rp_workers_send, for a message whose send error nobody acts on (a
 * response, a stateless forward): called on a worker thread while it
 * handles received UDP datagrams, a UDP send is queued and goes out with
 * the others when the batch ends (sendmmsg); 0 then means queued, and a
 * later failure loses the datagram as a failed sendto would. Any send
 * that goes out at once sends the queued ones first: order is kept. */
int rp_workers_send_later(rp_workers *ws, enum rp_tp tp, const rp_addr *peer,
	const void *data, size_t len);

/* Like rp_workers_send, but opens a connection when there is none: TCP, or
 * TLS verified against 'tls_domain' (RFC 5922; required for TLS) with the
 * client settings given to rp_workers_set_client_tls(). The data is queued
 * until the connection is up; if connecting or the handshake fails, the
 * connection is closed and the reason logged. Returns 0 once queued. */
int rp_workers_send_to(rp_workers *ws, enum rp_tp tp, const rp_addr *peer,
	const char *tls_domain, const void *data, size_t len);
/* Same, a new TLS connection built from 'client' (a trunk's own client
 * settings; borrowed, must outlive the workers) instead of the global
 * ones; NULL: the global ones. An open connection to the peer is used
 * only when 'reuse' accepts it (proxy/conn.h enum rp_conn_reuse: for
 * RP_REUSE_SAME_TLS, one opened with the same settings whose server proved
 * tls_domain); else another one is opened beside it. rp_workers_send_to
 * is this with the global settings and RP_REUSE_SAME_TLS. */
int rp_workers_send_to_tls(rp_workers *ws, enum rp_tp tp, const rp_addr *peer,
	const char *tls_domain, rp_tls_store *client, enum rp_conn_reuse reuse,
	const void *data, size_t len);
/* Client TLS settings for outbound connections (borrowed; may be swapped
 * or reloaded at any time; NULL: no outbound TLS). */
void rp_workers_set_client_tls(rp_workers *ws, rp_tls_store *client);

struct rp_workers_stats {
	uint64_t accepted, refused, closed, udp_msgs, stream_msgs, frame_errors,
		dropped_slow, opened;
	/* Worker loop rounds (one per return from epoll_wait) and, of them,
	 * the ones followed by a coalescing sleep (rp_batch_after_round). */
	uint64_t rounds, batch_sleeps;
	unsigned conns;
	/* UDP steering (rp_workers_set_udp_steering): whether datagrams go
	 * to worker 0 only now, and how often the mode changed. */
	bool udp_one;
	uint64_t udp_steer_changes;
	/* Datagrams handled by each of the first RP_STATS_WORKERS workers. */
#define RP_STATS_WORKERS 16
	uint64_t worker_udp_msgs[RP_STATS_WORKERS];
};
void rp_workers_get_stats(rp_workers *ws, struct rp_workers_stats *st);

/* Wake-up coalescing (config batch_wait_us; docs/proxy.md "Worker loop"),
 * for machines where a worker's sleep and wake-up costs more than the
 * messages it handles. While its message rate predicts at least
 * RP_BATCH_MIN messages within the wait, a worker that has handled a round
 * sleeps wait_us before it looks again, so the next round finds several
 * queued and one wake-up serves them all (like NIC interrupt moderation).
 * Below that rate nothing changes: the first message wakes the worker at
 * once. The responses of a round are sent before the sleep. Applies to all
 * workers; 0 = off; any time, any thread. At most RP_BATCH_MAX_US. */
#define RP_BATCH_MAX_US 5000u
void rp_workers_set_batch_wait(rp_workers *ws, uint32_t wait_us);

/* The decision, apart from the loop so it can be tested on a made-up
 * clock. The rate is counted over windows of RP_BATCH_WINDOW_NS; coalescing
 * turns on when a window's rate x wait_us reaches RP_BATCH_MIN messages
 * and off when it falls below half that (no flapping at the edge). When
 * the rate falls, at most one window of needless sleeps follows. */
#define RP_BATCH_MIN 4u
#define RP_BATCH_WINDOW_NS 20000000ull
struct rp_batch {
	uint64_t win_start_ns;
	uint32_t win_msgs;
	bool on;
};
/* Called after every round: msgs handled in it (datagrams, stream
 * messages, hand-offs), now_ns a monotonic clock, backlog true when a
 * socket still had data the round left behind (no sleep then). Returns
 * the microseconds to sleep before the next epoll_wait (0: none). */
uint32_t rp_batch_after_round(struct rp_batch *b, uint32_t wait_us, uint64_t now_ns,
	unsigned msgs, bool backlog);

/* UDP steering (config udp_steering; docs/proxy.md "Worker loop"). With
 * SO_REUSEPORT the kernel spreads datagrams over the workers' sockets by a
 * hash of the addresses, so at a low rate every worker wakes up for its
 * share: two half-idle threads pay the sleeps and wake-ups that one would
 * pay, and each round holds fewer messages. In 'auto' mode, while the
 * workers together use little CPU, a classic BPF program on each UDP
 * reuseport group sends every datagram to worker 0's socket; when worker 0
 * gets busy, or a round leaves datagrams behind, the program hands the
 * choice back to the kernel's hash. Off ('hash'), or with one worker, the
 * kernel's hash always decides. Any time, any thread. */
void rp_workers_set_udp_steering(rp_workers *ws, bool automatic);

/* The decision, apart from the loop so it can be tested on made-up loads.
 * Once per RP_STEER_PERIOD_NS worker 0 measures the CPU time of every
 * worker over the period: concentrated, it spreads when worker 0 used more
 * than RP_STEER_UP_PERMILLE of a CPU, or at least RP_STEER_DOWN_PERMILLE
 * and some round left a backlog (a loaded machine's scheduling delays
 * alone leave backlogs behind a nearly idle worker); spread,
 * it concentrates after RP_STEER_CALM_PERIODS periods in a row in which
 * all workers together used less than RP_STEER_DOWN_PERMILLE (half the
 * other threshold: no flapping at the edge). */
#define RP_STEER_PERIOD_NS 250000000ull
#define RP_STEER_UP_PERMILLE 500u
#define RP_STEER_DOWN_PERMILLE 250u
#define RP_STEER_CALM_PERIODS 4u
struct rp_steer {
	bool one;       /* datagrams to worker 0 only */
	unsigned calm;  /* spread: quiet periods in a row */
};
/* One period: worker 0's and all workers' CPU use in permille of one CPU,
 * backlog true when a round left data on a UDP socket. Updates s->one and
 * returns true when it changed. */
bool rp_steer_decide(struct rp_steer *s, unsigned w0_permille, unsigned all_permille,
	bool backlog);

#endif
