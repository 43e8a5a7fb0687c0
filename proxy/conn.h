/* conn: one stream connection (TCP or TLS) and the per-worker table of them.
 *
 * A connection is owned by exactly one worker thread for its whole life:
 * nothing here locks. It keeps a receive buffer that sip_frame cuts into
 * messages, a bounded write queue (a peer that stops reading is dropped
 * when its queue would exceed the limit, so it can never block a worker),
 * and the timestamps for the idle and TLS handshake timeouts.
 *
 * The table finds a connection by transport + remote address, which is how
 * responses and in-dialog requests go back over the connection a peer
 * opened (RFC 5923 style reuse). Several connections may go to one address
 * (outbound TLS with different client settings or server names, a peer's
 * own connection beside ours): rp_conn_table_find gives the first, and
 * rp_conn_table_find_reusable the one a new request may ride.
 */
#ifndef RP_CONN_H
#define RP_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sip_frame.h"
#include "tls.h"
#include "transport.h"

typedef struct rp_conn rp_conn;
typedef struct rp_conn_table rp_conn_table;

struct rp_conn_limits {
	size_t rbuf;                 /* receive buffer: the largest message */
	size_t wq_max;               /* queued bytes before the peer is dropped */
	struct sip_frame_limits frame;
	uint32_t idle_ms;
	uint32_t handshake_ms;
};

/* Takes ownership of fd (closed by rp_conn_free) and of tls (may be NULL
 * for TCP; freed by rp_conn_free). Returns 0 or -ENOMEM. */
int rp_conn_new(int fd, enum rp_tp tp, const rp_addr *peer, const rp_addr *local,
	rp_tls_sess *tls, const struct rp_conn_limits *lim, uint64_t now_ms,
	rp_conn **out);
/* Marks a connection we opened with a non-blocking connect(): it is
 * "connecting" until the socket is writable, then does the TLS handshake
 * (client side) if any; data sent meanwhile is queued. The handshake
 * timeout covers connect + handshake. A lone CRLF from the peer is taken as
 * the pong to our keep-alive ping. */
void rp_conn_set_outbound(rp_conn *c);
bool rp_conn_outbound(const rp_conn *c);
/* Sends TLS close_notify when established, closes fd, frees everything. */
void rp_conn_free(rp_conn *c);

/* Called once per complete SIP message; msg is valid during the call. */
typedef void (*rp_conn_msg_fn)(rp_conn *c, const char *msg, size_t len, void *arg);

/* Handles readability: drives the TLS handshake, reads what is there,
 * answers CRLF pings, and hands each framed message to fn. Returns 0 to
 * keep the connection or a negative errno to close it (rp_conn_why()
 * says why: "peer closed", "Content-Length missing on a stream", ...). */
int rp_conn_on_readable(rp_conn *c, uint64_t now_ms, rp_conn_msg_fn fn, void *arg);
/* Flushes the write queue (and a pending TLS handshake step). 0 / -errno. */
int rp_conn_on_writable(rp_conn *c, uint64_t now_ms);
/* Queues bytes and tries to send at once. -ENOBUFS when the queue limit
 * would be exceeded (the caller closes the connection), -ENOTCONN while
 * the TLS handshake is not done and the queue is full. */
int rp_conn_send(rp_conn *c, const void *data, size_t len);
/* rp_conn_send in two steps: queue now (same limits and errors), write
 * later with rp_conn_flush (0 / -errno, and then rp_conn_error). Messages
 * queued in between go out together: as one TLS record while they fit
 * in one (16 KiB), one send over TCP. */
int rp_conn_queue(rp_conn *c, const void *data, size_t len);
int rp_conn_flush(rp_conn *c);
/* The error a failed rp_conn_send left (the connection is to be closed),
 * or 0. */
int rp_conn_error(const rp_conn *c);
/* Does the connection wait for the socket to be writable? */
bool rp_conn_wants_write(const rp_conn *c);
/* RFC 5626 4.4.1 for flows we opened: queues a CRLFCRLF ping when nothing
 * was received for interval_ms (and none was sent in that time); the
 * peer's CRLF pong counts as traffic. No-op for accepted flows. 0/-errno. */
int rp_conn_keepalive(rp_conn *c, uint64_t now_ms, uint32_t interval_ms);
/* Nothing received for idle_ms, or (a connection we opened) no SIP
 * message either way for idle_ms, keep-alive pings and pongs not
 * counting; or handshake not done in handshake_ms. Also notes the time of
 * the messages sent since the last call: call it every few hundred ms. */
bool rp_conn_expired(rp_conn *c, uint64_t now_ms);

int rp_conn_fd(const rp_conn *c);
enum rp_tp rp_conn_tp(const rp_conn *c);
const rp_addr *rp_conn_peer(const rp_conn *c);
const rp_addr *rp_conn_local(const rp_conn *c);
rp_tls_sess *rp_conn_tls(rp_conn *c);
const char *rp_conn_why(const rp_conn *c);
size_t rp_conn_queued(const rp_conn *c);
/* Opaque pointer for the owner (the worker's epoll tag). */
void rp_conn_set_owner(rp_conn *c, void *p);
void *rp_conn_owner(const rp_conn *c);

/* What a request that may open a connection accepts as an open one. */
enum rp_conn_reuse {
	/* Only a connection we opened with the same client TLS settings
	 * (rp_tls_store_identity id) whose server proved the request's name
	 * (rp_tls_sess_covers), or any when those settings do not verify. A
	 * peer's own connection only when the settings do not verify
	 * servers: it never proved who it is. Trunk requests. */
	RP_REUSE_SAME_TLS = 0,
	/* As above, plus a connection the peer opened (or its RFC 5923
	 * alias): requests routed by Request-URI/Route out of a dialog, to a
	 * UA at the address it connected from. */
	RP_REUSE_OR_FLOW,
	/* Any connection to the address: in-dialog requests follow the
	 * connection their dialog was set up over (the proxy does not keep
	 * which one; a dialog to a carrier trunk would otherwise open a new
	 * connection verified against the Contact's IP address). */
	RP_REUSE_ANY,
};
struct rp_conn_want {
	enum rp_conn_reuse reuse;
	uint64_t store_id;  /* TLS: rp_tls_store_identity of the request's settings */
	bool verifies;      /* TLS: those settings verify servers */
	const char *domain; /* TLS: the name the server must prove */
};

int rp_conn_table_new(rp_conn_table **out);
/* Frees the table; connections still in it are freed too. */
void rp_conn_table_free(rp_conn_table *t);
/* Another connection to the same transport + address may be in the table
 * already (c goes after it). -EEXIST if c itself is. */
int rp_conn_table_add(rp_conn_table *t, rp_conn *c);
void rp_conn_table_del(rp_conn_table *t, rp_conn *c);
/* The first connection to the address, else the one aliased to it. */
rp_conn *rp_conn_table_find(rp_conn_table *t, enum rp_tp tp, const rp_addr *peer);
/* The same by rp_addr_key. */
rp_conn *rp_conn_table_find_key(rp_conn_table *t, const uint8_t key[RP_ADDR_KEY_LEN]);
/* The first connection to the address (then the aliased one) for which
 * pred is true, or NULL. */
rp_conn *rp_conn_table_find_if(rp_conn_table *t, enum rp_tp tp, const rp_addr *peer,
	bool (*pred)(rp_conn *c, void *arg), void *arg);
/* A connection 'w' may ride (see enum rp_conn_reuse; one whose send
 * failed never), or NULL: open a new one. TCP has no identity: any
 * connection to the address. */
rp_conn *rp_conn_table_find_reusable(rp_conn_table *t, enum rp_tp tp,
	const rp_addr *peer, const struct rp_conn_want *w);
/* How many connections we opened to the address are in the table. */
size_t rp_conn_table_count_outbound(rp_conn_table *t, enum rp_tp tp, const rp_addr *peer);
/* RFC 5923: makes c also findable as 'alias' (the sent-by of a Via with
 * ;alias, same IP as the peer only: -EPERM otherwise). One alias per
 * connection; a newer one replaces it. -EEXIST if another connection has
 * that address, as its own or as an alias. */
int rp_conn_table_alias(rp_conn_table *t, rp_conn *c, const rp_addr *alias);
size_t rp_conn_table_count(const rp_conn_table *t);
/* Any connection of the table, or NULL when it is empty. */
rp_conn *rp_conn_table_first(rp_conn_table *t);
/* Calls fn for every connection (fn may remove and free it). */
void rp_conn_table_each(rp_conn_table *t, void (*fn)(rp_conn *c, void *arg),
	void *arg);
/* Calls fn for every expired connection (fn may remove and free it). */
void rp_conn_table_expire(rp_conn_table *t, uint64_t now_ms,
	void (*fn)(rp_conn *c, void *arg), void *arg);

#endif
