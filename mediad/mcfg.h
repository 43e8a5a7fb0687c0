/* mcfg: rampart-mediad configuration (defaults + "key = value" file).
 *
 * The file format is one "key = value" per line; '#' starts a comment;
 * blank lines are ignored. Unknown keys and bad values are errors reported
 * as "file:line: reason" and the daemon refuses to start. See docs/mediad.md.
 *
 * Ownership: struct mcfg is a plain value owned by the caller; no heap.
 */
#ifndef MCFG_H
#define MCFG_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "kernel.h"
#include "rp_log.h"

/* An IP address without a port (the listen or advertised address). */
struct mcfg_addr {
	int family; /* AF_INET, AF_INET6, or 0 = not set */
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} u;
	char text[INET6_ADDRSTRLEN]; /* canonical text form */
};

enum mcfg_engine {
	MCFG_ENGINE_AUTO,    /* io_uring, else fall back to mmsg */
	MCFG_ENGINE_URING,   /* io_uring or refuse to start */
	MCFG_ENGINE_MMSG,    /* recvmmsg/sendmmsg + epoll */
};

#define MCFG_PATH_MAX 108 /* sizeof(sun_path) */

struct mcfg {
	struct mcfg_addr listen4, advertise4; /* IPv4 bind / advertise */
	struct mcfg_addr listen6, advertise6; /* IPv6: optional */
	uint16_t port_min, port_max;          /* inclusive; RTP uses even ports */
	unsigned workers;                     /* 0 = one per online CPU */
	enum mcfg_engine engine;
	enum mkern_mode kernel;  /* kernel fast path: off, auto (default), required */
	unsigned media_timeout;  /* s without media before a 'timeout' event */
	unsigned delete_timeout; /* s without media before the session is deleted */
	unsigned ring_buffers;   /* provided buffers per worker (power of 2) */
	/* Batching (docs/mediad.md, "Batching"): a worker that woke for one
	 * packet waits up to batch_wait_us for batch_size of them before it
	 * runs (io_uring on kernels with min-wait; 0 = run at the first). */
	unsigned batch_wait_us;
	unsigned batch_size;
	unsigned socket_rcvbuf;  /* SO_RCVBUF of media sockets, bytes; 0 = kernel default */
	char control_path[MCFG_PATH_MAX];
	mode_t control_mode;
	char control_group[64];  /* "" = leave the group alone */
	/* A second socket that takes only read commands ("" = none), with its
	 * own mode (0660) and group. */
	char control_ro_path[MCFG_PATH_MAX];
	mode_t control_ro_mode;
	char control_ro_group[64];
	enum rp_log_level log_level;
	/* Rate-limited log lines: per call site at most log_rate_burst (0 = no
	 * limit) per log_rate_interval_ms (rp_log_rl). */
	uint32_t log_rate_burst;
	uint32_t log_rate_interval_ms;
	bool listen_given;       /* a 'listen' key replaced the default address */
	/* Prometheus endpoint (metrics-listen = ADDR:PORT, "off"): absent or
	 * "off" = no HTTP server. Port 0 = any free port (logged). */
	bool metrics_on;
	struct mcfg_addr metrics_addr;
	uint16_t metrics_port;
};

/* Fills in the defaults: 127.0.0.1, ports 10000-20000, workers auto,
 * engine auto, timeouts 60/300 s, 1024 buffers, batches of up to 32
 * packets waited for at most 50 us, 1 MiB socket receive buffers,
 * /run/rampart/mediad.sock
 * mode 0660, log level info. */
void mcfg_defaults(struct mcfg *c);

/* Applies one key/value pair. Returns 0, or -EINVAL / -ERANGE / -ENOENT
 * (unknown key) with a short reason in *why (a static string). */
int mcfg_set(struct mcfg *c, const char *key, size_t klen, const char *val,
	size_t vlen, const char **why);

/* Reads 'path' over *c (which holds defaults or earlier values). On error
 * returns a negative errno and writes "path:line: reason" into err. */
int mcfg_load(struct mcfg *c, const char *path, char *err, size_t errsz);

/* Checks the combination (range, timeouts, advertise family). Returns 0 or
 * -EINVAL with a reason in err. */
int mcfg_check(const struct mcfg *c, char *err, size_t errsz);

/* Parses an IPv4/IPv6 literal (no port, no brackets needed). */
int mcfg_addr_parse(const char *s, size_t n, struct mcfg_addr *out);

const char *mcfg_engine_name(enum mcfg_engine e);

#endif
