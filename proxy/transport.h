/* transport: addresses, listen specs, transport settings and sockets.
 *
 * The settings struct is the proxy's own until the configuration compiler
 * exposes listen lines and TLS settings; main.c fills it with defaults
 * (rp_transport_cfg_defaults) and the command line.
 *
 * rp_iplimit counts open stream connections per source IP and in total,
 * shared by all workers (mutex; taken only on accept and close).
 */
#ifndef RP_TRANSPORT_H
#define RP_TRANSPORT_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "sip_frame.h"
#include "tls.h"

enum rp_tp { RP_TP_UDP, RP_TP_TCP, RP_TP_TLS };

/* "udp", "tcp", "tls". */
const char *rp_tp_name(enum rp_tp tp);
/* Upper case for Via: "UDP", "TCP", "TLS". */
const char *rp_tp_via(enum rp_tp tp);

/* An IPv4 or IPv6 socket address. Sized for those two only (32 bytes, not
 * sockaddr_storage's 128): it is in every transaction's destination and
 * target list, and the proxy never handles another family. */
typedef struct rp_addr {
	union {
		struct sockaddr sa;
		struct sockaddr_in in4;
		struct sockaddr_in6 in6;
	} u;
	socklen_t len;
} rp_addr;

/* Numeric host (IPv4 or IPv6, brackets allowed) and port; -EINVAL. */
int rp_addr_parse(const char *host, uint16_t port, rp_addr *out);
/* "1.2.3.4:5060" or "[::1]:5060" into buf (always NUL-terminated). */
void rp_addr_fmt(const rp_addr *a, char *buf, size_t n);
/* Host only, no brackets ("::1"). */
void rp_addr_host(const rp_addr *a, char *buf, size_t n);
uint16_t rp_addr_port(const rp_addr *a);
void rp_addr_set_port(rp_addr *a, uint16_t port);
bool rp_addr_eq(const rp_addr *a, const rp_addr *b);
/* Same IP, port ignored. */
bool rp_addr_same_ip(const rp_addr *a, const rp_addr *b);
/* Packs transport + family + IP + port into key[0..RP_ADDR_KEY_LEN). */
#define RP_ADDR_KEY_LEN 20
void rp_addr_key(enum rp_tp tp, const rp_addr *a, uint8_t key[RP_ADDR_KEY_LEN]);

struct rp_listen {
	enum rp_tp tp;
	rp_addr addr;
	/* TLS: this listener's certificates (borrowed; NULL: the store given
	 * to rp_workers_start). */
	rp_tls_store *tls;
};
/* "udp:127.0.0.1:5060", "tls:[::1]", "tcp:0.0.0.0:5070"; the port
 * defaults to 5060 (5061 for TLS). Returns 0 or -EINVAL. */
int rp_listen_parse(const char *spec, struct rp_listen *out);

#define RP_MAX_LISTEN 16

struct rp_transport_cfg {
	struct rp_listen listen[RP_MAX_LISTEN];
	size_t n_listen;
	unsigned workers;            /* 0 = one per online CPU */
	unsigned max_conns;          /* stream connections, all workers */
	unsigned max_conns_per_ip;
	size_t conn_rbuf;            /* per-connection receive buffer */
	size_t conn_wq_max;          /* bytes queued for a peer before we drop it */
	uint32_t idle_timeout_ms;    /* stream connection with no traffic */
	uint32_t tls_handshake_timeout_ms;
	uint32_t keepalive_ms;       /* CRLF pings on flows we opened; 0 = off */
	struct sip_frame_limits frame;
	bool tls_enabled;            /* any TLS listener: 'tls' must be valid */
	struct rp_tls_cfg tls;       /* server side */
};

/* No listeners; limits: 4096 conns, 64 per IP, 96 KiB receive buffer,
 * 256 KiB write queue, 600 s idle, 10 s TLS handshake, 90 s keep-alive
 * pings on outbound flows, frame limits 16 KiB headers / 64 KiB body. */
void rp_transport_cfg_defaults(struct rp_transport_cfg *c);

/* Opens a non-blocking socket for l: UDP bound, or TCP/TLS listening.
 * reuseport sets SO_REUSEPORT so every worker can bind the same address.
 * IPv6 sockets are v6-only (list IPv4 separately). Returns fd or -errno. */
int rp_sock_open(const struct rp_listen *l, bool reuseport);

typedef struct rp_iplimit rp_iplimit;
int rp_iplimit_new(unsigned max_total, unsigned max_per_ip, rp_iplimit **out);
void rp_iplimit_free(rp_iplimit *l);
/* Counts one connection from a. -EMFILE: total reached; -EUSERS: this IP
 * has max_per_ip already. */
int rp_iplimit_take(rp_iplimit *l, const rp_addr *a);
void rp_iplimit_release(rp_iplimit *l, const rp_addr *a);
unsigned rp_iplimit_total(rp_iplimit *l);

#endif
