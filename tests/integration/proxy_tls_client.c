/* proxy_tls_client HOST PORT DOMAIN CAFILE [wildcards]: opens an outbound
 * TLS connection with proxy/tls's client side (chain + RFC 5922 identity
 * check) and prints "OK <version> <subject>" (exit 0) or "FAIL <why>"
 * (exit 1). Used by proxy_transport.py against openssl s_server. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rp_time.h"
#include "tls.h"
#include "transport.h"

int main(int argc, char **argv)
{
	struct rp_tls_cfg cfg = { 0 };
	rp_tls_ctx *ctx = NULL;
	rp_tls_sess *s = NULL;
	char err[320];
	rp_addr a;
	uint64_t deadline;
	enum rp_tls_status st = RP_TLS_WANT_WRITE;
	int fd;

	if (argc < 5) {
		fprintf(stderr, "usage: %s HOST PORT DOMAIN CAFILE [wildcards]\n", argv[0]);
		return 2;
	}
	if (rp_addr_parse(argv[1], (uint16_t)atoi(argv[2]), &a) < 0) {
		printf("FAIL bad address\n");
		return 2;
	}
	cfg.ca_file = argv[4];
	cfg.allow_wildcards = argc > 5 && !strcmp(argv[5], "wildcards");
	rp_tls_global_init();
	if (rp_tls_ctx_new(RP_TLS_CLIENT, &cfg, &ctx, err, sizeof(err)) < 0) {
		printf("FAIL %s\n", err);
		return 1;
	}
	fd = socket(a.u.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, &a.u.sa, a.len) < 0) {
		printf("FAIL connect: %s\n", strerror(errno));
		return 1;
	}
	fcntl(fd, F_SETFL, O_NONBLOCK);
	if (rp_tls_sess_new(ctx, fd, argv[3], &s) < 0) {
		printf("FAIL session\n");
		return 1;
	}
	deadline = rp_now_ms() + 10000;
	while (rp_now_ms() < deadline) {
		struct pollfd pf = { .fd = fd };

		st = rp_tls_handshake(s);
		if (st <= 0 || st == RP_TLS_CLOSED)
			break;
		pf.events = st == RP_TLS_WANT_WRITE ? POLLOUT : POLLIN;
		poll(&pf, 1, 100);
	}
	if (st == RP_TLS_OK) {
		printf("OK %s %s\n", rp_tls_sess_version(s), rp_tls_sess_peer(s)->subject);
	} else {
		printf("FAIL %s\n", st > 0 && st != RP_TLS_CLOSED ? "handshake timed out" :
			rp_tls_sess_error(s));
	}
	rp_tls_sess_free(s);
	close(fd);
	rp_tls_ctx_put(ctx);
	rp_tls_global_fini();
	return st == RP_TLS_OK ? 0 : 1;
}
