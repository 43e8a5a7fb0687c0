#include "transport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rp_hash.h"

const char *rp_tp_name(enum rp_tp tp)
{
	switch (tp) {
	case RP_TP_UDP: return "udp";
	case RP_TP_TCP: return "tcp";
	case RP_TP_TLS: return "tls";
	}
	return "?";
}

const char *rp_tp_via(enum rp_tp tp)
{
	switch (tp) {
	case RP_TP_UDP: return "UDP";
	case RP_TP_TCP: return "TCP";
	case RP_TP_TLS: return "TLS";
	}
	return "?";
}

int rp_addr_parse(const char *host, uint16_t port, rp_addr *out)
{
	char h[INET6_ADDRSTRLEN + 2];
	size_t n = strlen(host);
	rp_addr a;

	memset(&a, 0, sizeof(a));
	if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
		host++;
		n -= 2;
	}
	if (n == 0 || n >= sizeof(h))
		return -EINVAL;
	memcpy(h, host, n);
	h[n] = 0;
	if (inet_pton(AF_INET, h, &a.u.in4.sin_addr) == 1) {
		a.u.in4.sin_family = AF_INET;
		a.u.in4.sin_port = htons(port);
		a.len = sizeof(a.u.in4);
	} else if (inet_pton(AF_INET6, h, &a.u.in6.sin6_addr) == 1) {
		a.u.in6.sin6_family = AF_INET6;
		a.u.in6.sin6_port = htons(port);
		a.len = sizeof(a.u.in6);
	} else {
		return -EINVAL;
	}
	*out = a;
	return 0;
}

/* Decimal digits of v at o (no NUL); returns the count. */
static size_t put_dec(char *o, unsigned v)
{
	char t[10];
	size_t k = 0, n;

	do {
		t[k++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (n = 0; n < k; n++)
		o[n] = t[k - 1 - n];
	return k;
}

void rp_addr_host(const rp_addr *a, char *buf, size_t n)
{
	const void *src = a->u.sa.sa_family == AF_INET6 ?
		(const void *)&a->u.in6.sin6_addr : (const void *)&a->u.in4.sin_addr;

	if (!n)
		return;
	/* IPv4 by hand: inet_ntop goes through sprintf, and this runs for
	 * every Via, Record-Route and received= the proxy writes. */
	if (a->u.sa.sa_family == AF_INET && n >= INET_ADDRSTRLEN) {
		const unsigned char *b = (const unsigned char *)&a->u.in4.sin_addr;
		size_t o = 0;

		for (int i = 0; i < 4; i++) {
			o += put_dec(buf + o, b[i]);
			buf[o++] = i < 3 ? '.' : '\0';
		}
		return;
	}
	if (!inet_ntop(a->u.sa.sa_family, src, buf, (socklen_t)n))
		snprintf(buf, n, "?");
}

void rp_addr_fmt(const rp_addr *a, char *buf, size_t n)
{
	char t[INET6_ADDRSTRLEN + 8];
	size_t o = 0, hl;
	bool v6 = a->u.sa.sa_family == AF_INET6;

	if (!n)
		return;
	if (v6)
		t[o++] = '[';
	rp_addr_host(a, t + o, INET6_ADDRSTRLEN);
	hl = strlen(t + o);
	o += hl;
	if (v6)
		t[o++] = ']';
	t[o++] = ':';
	o += put_dec(t + o, rp_addr_port(a));
	/* Truncated like snprintf when buf is short. */
	if (o >= n)
		o = n - 1;
	memcpy(buf, t, o);
	buf[o] = 0;
}

uint16_t rp_addr_port(const rp_addr *a)
{
	return ntohs(a->u.sa.sa_family == AF_INET6 ? a->u.in6.sin6_port
						   : a->u.in4.sin_port);
}

void rp_addr_set_port(rp_addr *a, uint16_t port)
{
	if (a->u.sa.sa_family == AF_INET6)
		a->u.in6.sin6_port = htons(port);
	else
		a->u.in4.sin_port = htons(port);
}

bool rp_addr_same_ip(const rp_addr *a, const rp_addr *b)
{
	if (a->u.sa.sa_family != b->u.sa.sa_family)
		return false;
	if (a->u.sa.sa_family == AF_INET6)
		return memcmp(&a->u.in6.sin6_addr, &b->u.in6.sin6_addr, 16) == 0;
	return a->u.in4.sin_addr.s_addr == b->u.in4.sin_addr.s_addr;
}

bool rp_addr_eq(const rp_addr *a, const rp_addr *b)
{
	return rp_addr_same_ip(a, b) && rp_addr_port(a) == rp_addr_port(b);
}

void rp_addr_key(enum rp_tp tp, const rp_addr *a, uint8_t key[RP_ADDR_KEY_LEN])
{
	uint16_t port = rp_addr_port(a);

	memset(key, 0, RP_ADDR_KEY_LEN);
	key[0] = (uint8_t)tp;
	key[1] = a->u.sa.sa_family == AF_INET6 ? 6 : 4;
	key[2] = (uint8_t)(port >> 8);
	key[3] = (uint8_t)port;
	if (a->u.sa.sa_family == AF_INET6)
		memcpy(key + 4, &a->u.in6.sin6_addr, 16);
	else
		memcpy(key + 4, &a->u.in4.sin_addr, 4);
}

int rp_listen_parse(const char *spec, struct rp_listen *out)
{
	struct rp_listen l;
	const char *p = strchr(spec, ':'), *host, *port_s = NULL;
	char hbuf[INET6_ADDRSTRLEN + 2];
	unsigned long port;
	size_t hl;

	memset(&l, 0, sizeof(l));
	if (!p)
		return -EINVAL;
	if ((size_t)(p - spec) == 3 && !strncmp(spec, "udp", 3))
		l.tp = RP_TP_UDP;
	else if ((size_t)(p - spec) == 3 && !strncmp(spec, "tcp", 3))
		l.tp = RP_TP_TCP;
	else if ((size_t)(p - spec) == 3 && !strncmp(spec, "tls", 3))
		l.tp = RP_TP_TLS;
	else
		return -EINVAL;
	host = p + 1;
	if (*host == '[') {
		const char *rb = strchr(host, ']');

		if (!rb)
			return -EINVAL;
		hl = (size_t)(rb - host) + 1;
		if (rb[1] == ':')
			port_s = rb + 2;
		else if (rb[1])
			return -EINVAL;
	} else {
		const char *c = strchr(host, ':');

		hl = c ? (size_t)(c - host) : strlen(host);
		if (c)
			port_s = c + 1;
	}
	if (hl == 0 || hl >= sizeof(hbuf))
		return -EINVAL;
	memcpy(hbuf, host, hl);
	hbuf[hl] = 0;
	port = l.tp == RP_TP_TLS ? 5061 : 5060;
	if (port_s) {
		char *end;

		if (!*port_s)
			return -EINVAL;
		errno = 0;
		port = strtoul(port_s, &end, 10);
		if (errno || *end || port > 65535)
			return -EINVAL;
	}
	if (rp_addr_parse(hbuf, (uint16_t)port, &l.addr) < 0)
		return -EINVAL;
	*out = l;
	return 0;
}

void rp_transport_cfg_defaults(struct rp_transport_cfg *c)
{
	memset(c, 0, sizeof(*c));
	c->max_conns = 4096;
	c->max_conns_per_ip = 64;
	c->conn_rbuf = 96 * 1024;
	c->conn_wq_max = 256 * 1024;
	c->idle_timeout_ms = 600 * 1000;
	c->tls_handshake_timeout_ms = 10 * 1000;
	c->keepalive_ms = 90 * 1000;
	c->frame.max_hdr = SIP_FRAME_DEFAULT_MAX_HDR;
	c->frame.max_body = SIP_FRAME_DEFAULT_MAX_BODY;
}

int rp_sock_open(const struct rp_listen *l, bool reuseport)
{
	int one = 1, fd, type = l->tp == RP_TP_UDP ? SOCK_DGRAM : SOCK_STREAM;

	fd = socket(l->addr.u.sa.sa_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0) ||
	    (l->addr.u.sa.sa_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0))
		goto fail;
	if (bind(fd, &l->addr.u.sa, l->addr.len) < 0)
		goto fail;
	if (type == SOCK_STREAM && listen(fd, 1024) < 0)
		goto fail;
	return fd;
fail:
	{
		int e = errno;

		close(fd);
		return -e;
	}
}

struct rp_iplimit {
	pthread_mutex_t lock;
	rp_hash *per_ip; /* key: family + IP (copied), value: count as pointer */
	unsigned max_total, max_per_ip, total;
};

static rp_str ip_key(const rp_addr *a, uint8_t buf[RP_ADDR_KEY_LEN])
{
	rp_addr_key(RP_TP_TCP, a, buf);
	buf[2] = buf[3] = 0; /* port does not count */
	return rp_str_make((const char *)buf, RP_ADDR_KEY_LEN);
}

int rp_iplimit_new(unsigned max_total, unsigned max_per_ip, rp_iplimit **out)
{
	rp_iplimit *l = calloc(1, sizeof(*l));
	int rc;

	if (!l)
		return -ENOMEM;
	rc = rp_hash_new(64, RP_HASH_COPY_KEYS, &l->per_ip);
	if (rc < 0) {
		free(l);
		return rc;
	}
	pthread_mutex_init(&l->lock, NULL);
	l->max_total = max_total;
	l->max_per_ip = max_per_ip;
	*out = l;
	return 0;
}

void rp_iplimit_free(rp_iplimit *l)
{
	if (!l)
		return;
	rp_hash_free(l->per_ip);
	pthread_mutex_destroy(&l->lock);
	free(l);
}

int rp_iplimit_take(rp_iplimit *l, const rp_addr *a)
{
	uint8_t kb[RP_ADDR_KEY_LEN];
	rp_str k = ip_key(a, kb);
	uintptr_t n;
	int rc = 0;

	pthread_mutex_lock(&l->lock);
	n = (uintptr_t)rp_hash_find(l->per_ip, k);
	if (l->max_total && l->total >= l->max_total) {
		rc = -EMFILE;
	} else if (l->max_per_ip && n >= l->max_per_ip) {
		rc = -EUSERS;
	} else {
		if (n)
			rp_hash_remove(l->per_ip, k);
		rc = rp_hash_insert(l->per_ip, k, (void *)(n + 1));
		if (rc == 0)
			l->total++;
		else if (n)
			(void)rp_hash_insert(l->per_ip, k, (void *)n);
	}
	pthread_mutex_unlock(&l->lock);
	return rc;
}

void rp_iplimit_release(rp_iplimit *l, const rp_addr *a)
{
	uint8_t kb[RP_ADDR_KEY_LEN];
	rp_str k = ip_key(a, kb);
	uintptr_t n;

	pthread_mutex_lock(&l->lock);
	n = (uintptr_t)rp_hash_remove(l->per_ip, k);
	if (n > 1)
		(void)rp_hash_insert(l->per_ip, k, (void *)(n - 1));
	if (n && l->total)
		l->total--;
	pthread_mutex_unlock(&l->lock);
}

unsigned rp_iplimit_total(rp_iplimit *l)
{
	unsigned t;

	pthread_mutex_lock(&l->lock);
	t = l->total;
	pthread_mutex_unlock(&l->lock);
	return t;
}
