/* rp_httpd: a tiny HTTP/1.1 server thread for GET /metrics and /healthz.
 *
 * One thread, one poll() loop, non-blocking sockets. It answers exactly:
 *   GET|HEAD /metrics  200, rp_metrics_render() (404 if no registry given)
 *   GET|HEAD /healthz  200 "ok", or 503 "unhealthy" when the health callback
 *                      returns non-zero
 *   other paths 404; other methods 405 (Allow: GET, HEAD); a malformed
 *   request line 400; a request head larger than max_request 431.
 * Every response closes the connection (Connection: close), so no request
 * pipelining or keep-alive state exists to abuse.
 *
 * Hostile clients: a connection has timeout_ms in total to send its request
 * head and receive the answer (a slowloris sender is answered 408 and
 * dropped); at most max_conns are open at once. When all are taken, a new
 * connection pushes out an answered one still lingering, else the oldest
 * one that has not sent a complete request head (answered 503 and closed):
 * slow clients holding every slot cannot keep /healthz from being
 * answered. Only when every slot is busy sending an answer is the
 * newcomer refused (503, closed at once). Request bodies are never read.
 *
 * Default address is 127.0.0.1: metrics reveal call volumes, expose them
 * wider only on purpose (behind a firewall or a TLS-terminating proxy).
 */
#ifndef RP_HTTPD_H
#define RP_HTTPD_H

#include <stddef.h>
#include <stdint.h>

#include "rp_metrics.h"

typedef struct rp_httpd rp_httpd;

typedef struct rp_httpd_cfg {
	const char *addr;     /* numeric IPv4/IPv6 address; NULL = "127.0.0.1" */
	uint16_t port;        /* 0 = any free port (see rp_httpd_port) */
	unsigned max_conns;   /* 0 = 16 */
	unsigned timeout_ms;  /* per connection, whole exchange; 0 = 5000 */
	size_t max_request;   /* request head limit; 0 = 4096 */
	rp_metrics *metrics;  /* not owned; must outlive the server; may be NULL */
	/* Optional: 0 = healthy. Called on the server thread; must be
	 * thread-safe and quick. */
	int (*health)(void *arg);
	void *health_arg;
} rp_httpd_cfg;

/* Counters for tests and for the daemon's own metrics. */
typedef struct rp_httpd_stats {
	uint64_t requests;   /* answered with 2xx */
	uint64_t errors;     /* answered with 4xx/5xx (not 503 busy) */
	uint64_t timeouts;   /* dropped after timeout_ms */
	uint64_t rejected;   /* 503 for want of a slot: refused, or pushed out
	                      * before its request head was complete */
} rp_httpd_stats;

/* Binds, listens and starts the server thread. -EINVAL bad address,
 * other negative errno from socket/bind/listen/pthread_create. The caller
 * frees with rp_httpd_stop(). */
int rp_httpd_start(const rp_httpd_cfg *cfg, rp_httpd **out);
/* The bound port (useful with port 0). */
uint16_t rp_httpd_port(const rp_httpd *h);
void rp_httpd_get_stats(const rp_httpd *h, rp_httpd_stats *out);
/* Stops the thread, closes every socket and frees h. NULL is a no-op. */
void rp_httpd_stop(rp_httpd *h);

#endif
