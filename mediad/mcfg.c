#include "mcfg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "rp_str.h"

void mcfg_defaults(struct mcfg *c)
{
	memset(c, 0, sizeof(*c));
	mcfg_addr_parse("127.0.0.1", 9, &c->listen4);
	c->port_min = 10000;
	c->port_max = 20000;
	c->workers = 0;
	c->engine = MCFG_ENGINE_AUTO;
	c->kernel = MKERN_AUTO;
	c->media_timeout = 60;
	c->delete_timeout = 300;
	c->ring_buffers = 1024;
	c->batch_wait_us = 50;
	c->batch_size = 32;
	c->socket_rcvbuf = 1u << 20;
	snprintf(c->control_path, sizeof(c->control_path), "%s",
		"/run/rampart/mediad.sock");
	c->control_mode = 0660;
	c->control_ro_mode = 0660;
	c->log_level = RP_LOG_INFO;
	c->log_rate_burst = RP_LOG_RL_BURST_DEFAULT;
	c->log_rate_interval_ms = RP_LOG_RL_INTERVAL_MS_DEFAULT;
}

int mcfg_addr_parse(const char *s, size_t n, struct mcfg_addr *out)
{
	char buf[INET6_ADDRSTRLEN + 2];
	struct mcfg_addr a;

	/* A NUL inside would end the copy early: "127.0.0.1\0junk" is not an
	 * address (control-protocol strings are binary-safe). */
	if (n == 0 || n >= sizeof(buf) || memchr(s, '\0', n))
		return -EINVAL;
	if (s[0] == '[' && n >= 2 && s[n - 1] == ']') {
		s++;
		n -= 2;
	}
	memcpy(buf, s, n);
	buf[n] = '\0';
	memset(&a, 0, sizeof(a));
	if (inet_pton(AF_INET, buf, &a.u.v4) == 1)
		a.family = AF_INET;
	else if (inet_pton(AF_INET6, buf, &a.u.v6) == 1)
		a.family = AF_INET6;
	else
		return -EINVAL;
	if (!inet_ntop(a.family, &a.u, a.text, sizeof(a.text)))
		return -EINVAL;
	*out = a;
	return 0;
}

const char *mcfg_engine_name(enum mcfg_engine e)
{
	switch (e) {
	case MCFG_ENGINE_AUTO: return "auto";
	case MCFG_ENGINE_URING: return "io_uring";
	case MCFG_ENGINE_MMSG: return "mmsg";
	}
	return "?";
}

static int parse_uint(rp_str v, uint64_t max, uint64_t *out, const char **why)
{
	int rc = rp_str_to_u64(v, max, out);

	if (rc == -ERANGE)
		*why = "value out of range";
	else if (rc < 0)
		*why = "expected an unsigned decimal number";
	return rc;
}

static int set_addr(struct mcfg_addr *dst, int family, rp_str v, const char **why)
{
	struct mcfg_addr a;

	if (mcfg_addr_parse(v.p, v.n, &a) < 0) {
		*why = "not an IP address";
		return -EINVAL;
	}
	if (family && a.family != family) {
		*why = family == AF_INET ? "expected an IPv4 address"
					 : "expected an IPv6 address";
		return -EINVAL;
	}
	*dst = a;
	return 0;
}

int mcfg_set(struct mcfg *c, const char *key, size_t klen, const char *val,
	size_t vlen, const char **why)
{
	rp_str k = rp_str_make(key, klen), v = rp_str_make(val, vlen);
	uint64_t u;
	int rc;

	*why = NULL;
	if (rp_str_eq_cstr(k, "listen")) {
		/* One key for either family keeps the common case short. */
		struct mcfg_addr a;
		if ((rc = set_addr(&a, 0, v, why)) < 0)
			return rc;
		/* The first 'listen' replaces the default: "listen = ::1"
		 * alone means IPv6 only. */
		if (!c->listen_given) {
			memset(&c->listen4, 0, sizeof(c->listen4));
			memset(&c->listen6, 0, sizeof(c->listen6));
			c->listen_given = true;
		}
		if (a.family == AF_INET)
			c->listen4 = a;
		else
			c->listen6 = a;
		return 0;
	}
	if (rp_str_eq_cstr(k, "listen6"))
		return set_addr(&c->listen6, AF_INET6, v, why);
	if (rp_str_eq_cstr(k, "advertise")) {
		struct mcfg_addr a;
		if ((rc = set_addr(&a, 0, v, why)) < 0)
			return rc;
		if (a.family == AF_INET)
			c->advertise4 = a;
		else
			c->advertise6 = a;
		return 0;
	}
	if (rp_str_eq_cstr(k, "advertise6"))
		return set_addr(&c->advertise6, AF_INET6, v, why);
	if (rp_str_eq_cstr(k, "port-min") || rp_str_eq_cstr(k, "port-max")) {
		if ((rc = parse_uint(v, 65535, &u, why)) < 0)
			return rc;
		if (u < 1024) {
			*why = "ports below 1024 are not allowed";
			return -ERANGE;
		}
		if (k.p[5] == 'm' && k.p[6] == 'i')
			c->port_min = (uint16_t)u;
		else
			c->port_max = (uint16_t)u;
		return 0;
	}
	if (rp_str_eq_cstr(k, "ports")) {
		/* "lo-hi" shorthand */
		ptrdiff_t d = rp_str_chr(v, '-');
		uint64_t lo, hi;
		if (d < 0) {
			*why = "expected LOW-HIGH";
			return -EINVAL;
		}
		if ((rc = parse_uint(rp_str_trim(rp_str_make(v.p, (size_t)d)), 65535, &lo, why)) < 0 ||
		    (rc = parse_uint(rp_str_trim(rp_str_make(v.p + d + 1, v.n - (size_t)d - 1)),
			     65535, &hi, why)) < 0)
			return rc;
		if (lo < 1024) {
			*why = "ports below 1024 are not allowed";
			return -ERANGE;
		}
		c->port_min = (uint16_t)lo;
		c->port_max = (uint16_t)hi;
		return 0;
	}
	if (rp_str_eq_cstr(k, "workers")) {
		if (rp_str_eq_cstr(v, "auto")) {
			c->workers = 0;
			return 0;
		}
		if ((rc = parse_uint(v, 256, &u, why)) < 0)
			return rc;
		c->workers = (unsigned)u;
		return 0;
	}
	if (rp_str_eq_cstr(k, "engine")) {
		if (rp_str_eq_cstr(v, "auto"))
			c->engine = MCFG_ENGINE_AUTO;
		else if (rp_str_eq_cstr(v, "io_uring") || rp_str_eq_cstr(v, "uring"))
			c->engine = MCFG_ENGINE_URING;
		else if (rp_str_eq_cstr(v, "mmsg"))
			c->engine = MCFG_ENGINE_MMSG;
		else {
			*why = "expected auto, io_uring or mmsg";
			return -EINVAL;
		}
		return 0;
	}
	if (rp_str_eq_cstr(k, "kernel")) {
		if (mkern_mode_parse(v.p, v.n, &c->kernel) < 0) {
			*why = "expected off, auto or required";
			return -EINVAL;
		}
		return 0;
	}
	if (rp_str_eq_cstr(k, "media-timeout") || rp_str_eq_cstr(k, "delete-timeout")) {
		if ((rc = parse_uint(v, 86400, &u, why)) < 0)
			return rc;
		if (u == 0) {
			*why = "must be at least 1 second";
			return -ERANGE;
		}
		if (k.p[0] == 'm')
			c->media_timeout = (unsigned)u;
		else
			c->delete_timeout = (unsigned)u;
		return 0;
	}
	if (rp_str_eq_cstr(k, "ring-buffers")) {
		if ((rc = parse_uint(v, 32768, &u, why)) < 0)
			return rc;
		if (u < 16 || (u & (u - 1))) {
			*why = "must be a power of two, 16..32768";
			return -ERANGE;
		}
		c->ring_buffers = (unsigned)u;
		return 0;
	}
	if (rp_str_eq_cstr(k, "batch-wait-us")) {
		if ((rc = parse_uint(v, 1000, &u, why)) < 0)
			return rc;
		c->batch_wait_us = (unsigned)u;
		return 0;
	}
	if (rp_str_eq_cstr(k, "batch-size")) {
		if ((rc = parse_uint(v, 256, &u, why)) < 0)
			return rc;
		if (u == 0) {
			*why = "must be 1..256";
			return -ERANGE;
		}
		c->batch_size = (unsigned)u;
		return 0;
	}
	if (rp_str_eq_cstr(k, "socket-rcvbuf")) {
		if ((rc = parse_uint(v, 64u << 20, &u, why)) < 0)
			return rc;
		c->socket_rcvbuf = (unsigned)u;
		return 0;
	}
	if (rp_str_eq_cstr(k, "control")) {
		if (v.n == 0 || rp_str_copy(v, c->control_path, sizeof(c->control_path)) < 0) {
			*why = "path empty or longer than 107 bytes";
			return -EINVAL;
		}
		return 0;
	}
	if (rp_str_eq_cstr(k, "control-readonly")) {
		if (rp_str_eq_cstr(v, "none")) {
			c->control_ro_path[0] = 0;
			return 0;
		}
		if (v.n == 0 || rp_str_copy(v, c->control_ro_path, sizeof(c->control_ro_path)) < 0) {
			*why = "path empty or longer than 107 bytes";
			return -EINVAL;
		}
		return 0;
	}
	if (rp_str_eq_cstr(k, "control-readonly-group")) {
		if (rp_str_copy(v, c->control_ro_group, sizeof(c->control_ro_group)) < 0) {
			*why = "group name too long";
			return -EINVAL;
		}
		return 0;
	}
	if (rp_str_eq_cstr(k, "control-mode") || rp_str_eq_cstr(k, "control-readonly-mode")) {
		bool ro = rp_str_eq_cstr(k, "control-readonly-mode");

		u = 0;
		if (v.n == 0 || v.n > 4) {
			*why = "expected an octal mode like 0660";
			return -EINVAL;
		}
		for (size_t i = 0; i < v.n; i++) {
			if (v.p[i] < '0' || v.p[i] > '7') {
				*why = "expected an octal mode like 0660";
				return -EINVAL;
			}
			u = u * 8 + (uint64_t)(v.p[i] - '0');
		}
		if (u > 0777) {
			*why = "expected an octal mode like 0660";
			return -EINVAL;
		}
		if (ro)
			c->control_ro_mode = (mode_t)u;
		else
			c->control_mode = (mode_t)u;
		return 0;
	}
	if (rp_str_eq_cstr(k, "control-group")) {
		if (rp_str_copy(v, c->control_group, sizeof(c->control_group)) < 0) {
			*why = "group name too long";
			return -EINVAL;
		}
		return 0;
	}
	if (rp_str_eq_cstr(k, "metrics-listen")) {
		struct mcfg_addr a;
		ptrdiff_t colon = -1;

		if (rp_str_eq_cstr(v, "off")) {
			c->metrics_on = false;
			return 0;
		}
		/* ADDR:PORT or [V6ADDR]:PORT: the port is after the last ':'. */
		for (size_t i = 0; i < v.n; i++)
			if (v.p[i] == ':')
				colon = (ptrdiff_t)i;
		if (colon <= 0) {
			*why = "expected ADDR:PORT, [IPV6]:PORT or off";
			return -EINVAL;
		}
		if (mcfg_addr_parse(v.p, (size_t)colon, &a) < 0 ||
		    (a.family == AF_INET6 && v.p[0] != '[')) {
			*why = "expected ADDR:PORT, [IPV6]:PORT or off";
			return -EINVAL;
		}
		if ((rc = parse_uint(rp_str_make(v.p + colon + 1, v.n - (size_t)colon - 1),
			     65535, &u, why)) < 0)
			return rc;
		c->metrics_addr = a;
		c->metrics_port = (uint16_t)u;
		c->metrics_on = true;
		return 0;
	}
	if (rp_str_eq_cstr(k, "log-level")) {
		char lv[16];
		if (rp_str_copy(v, lv, sizeof(lv)) < 0 ||
		    rp_log_level_parse(lv, &c->log_level) < 0) {
			*why = "expected err, warn, notice, info or debug";
			return -EINVAL;
		}
		return 0;
	}
	if (rp_str_eq_cstr(k, "log-rate-burst")) {
		if ((rc = parse_uint(v, 1000000, &u, why)) < 0)
			return rc;
		c->log_rate_burst = (uint32_t)u;
		return 0;
	}
	if (rp_str_eq_cstr(k, "log-rate-interval-ms")) {
		if ((rc = parse_uint(v, 3600000, &u, why)) < 0)
			return rc;
		if (u < 100) {
			*why = "at least 100 (ms)";
			return -ERANGE;
		}
		c->log_rate_interval_ms = (uint32_t)u;
		return 0;
	}
	*why = "unknown key";
	return -ENOENT;
}

int mcfg_load(struct mcfg *c, const char *path, char *err, size_t errsz)
{
	FILE *f = fopen(path, "re");
	char line[512];
	/* Keys seen, for "given twice": a second value would silently win. */
	struct { char key[32]; unsigned line; } seen[64];
	unsigned lineno = 0, nseen = 0;
	int rc = 0;

	if (!f) {
		rc = -errno;
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return rc;
	}
	while (fgets(line, sizeof(line), f)) {
		size_t n = strlen(line);
		rp_str l, key, val;
		ptrdiff_t eq, hash;
		const char *why;

		lineno++;
		if (n == sizeof(line) - 1 && line[n - 1] != '\n') {
			snprintf(err, errsz, "%s:%u: line too long", path, lineno);
			rc = -EINVAL;
			break;
		}
		l = rp_str_make(line, n);
		if ((hash = rp_str_chr(l, '#')) >= 0)
			l.n = (size_t)hash;
		l = rp_str_trim(l);
		if (l.n == 0)
			continue;
		if ((eq = rp_str_chr(l, '=')) < 0) {
			snprintf(err, errsz, "%s:%u: expected 'key = value'", path, lineno);
			rc = -EINVAL;
			break;
		}
		key = rp_str_trim(rp_str_make(l.p, (size_t)eq));
		val = rp_str_trim(rp_str_make(l.p + eq + 1, l.n - (size_t)eq - 1));
		/* 'listen' is the one key given twice on purpose (IPv4 and IPv6). */
		if (!rp_str_eq_cstr(key, "listen") && key.n < sizeof(seen[0].key)) {
			unsigned k;

			for (k = 0; k < nseen; k++)
				if (rp_str_eq_cstr(key, seen[k].key))
					break;
			if (k < nseen) {
				snprintf(err, errsz, "%s:%u: %.*s: given twice (first at line %u)",
					path, lineno, RP_STR_FMT(key), seen[k].line);
				rc = -EINVAL;
				break;
			}
			if (nseen < sizeof(seen) / sizeof(seen[0])) {
				memcpy(seen[nseen].key, key.p, key.n);
				seen[nseen].key[key.n] = '\0';
				seen[nseen++].line = lineno;
			}
		}
		if ((rc = mcfg_set(c, key.p, key.n, val.p, val.n, &why)) < 0) {
			snprintf(err, errsz, "%s:%u: %.*s: %s", path, lineno,
				RP_STR_FMT(key), why);
			break;
		}
	}
	if (rc == 0 && ferror(f)) {
		snprintf(err, errsz, "%s: read error", path);
		rc = -EIO;
	}
	fclose(f);
	return rc;
}

int mcfg_check(const struct mcfg *c, char *err, size_t errsz)
{
	if (c->port_min > c->port_max || (c->port_max - c->port_min) < 3) {
		snprintf(err, errsz, "port range %u-%u: needs at least 4 ports, low <= high",
			c->port_min, c->port_max);
		return -EINVAL;
	}
	if (c->delete_timeout < c->media_timeout) {
		snprintf(err, errsz, "delete-timeout (%u) is shorter than media-timeout (%u)",
			c->delete_timeout, c->media_timeout);
		return -EINVAL;
	}
	if (!c->listen4.family && !c->listen6.family) {
		snprintf(err, errsz, "no listen address");
		return -EINVAL;
	}
	if (c->advertise4.family && !c->listen4.family) {
		snprintf(err, errsz, "IPv4 advertise address without an IPv4 listen address");
		return -EINVAL;
	}
	if (c->advertise6.family && !c->listen6.family) {
		snprintf(err, errsz, "IPv6 advertise address without an IPv6 listen address");
		return -EINVAL;
	}
	return 0;
}
