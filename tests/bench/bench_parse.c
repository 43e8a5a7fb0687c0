/* bench_parse: sip_msg_parse() throughput on a typical ~1 KB INVITE with
 * SDP and two a=crypto lines, in CPU time on one core. The figure is the
 * median of WINDOWS windows of WINDOW_CPU_S each: on a shared machine one
 * window can be slowed by a neighbour, the median is what the code does.
 * Final line: "bench: sip_parse_per_cpu_s rampart=<N>". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sip_msg.h"

#define MAX_ITERS 20000000UL /* per window */
#define WINDOW_CPU_S 1.0
#define WINDOWS 5

static const char sdp[] =
	"v=0\r\n"
	"o=alice 2890844526 2890844526 IN IP4 198.51.100.10\r\n"
	"s=-\r\n"
	"c=IN IP4 198.51.100.10\r\n"
	"t=0 0\r\n"
	"m=audio 49170 RTP/SAVP 0 8 101\r\n"
	"a=rtpmap:0 PCMU/8000\r\n"
	"a=rtpmap:8 PCMA/8000\r\n"
	"a=rtpmap:101 telephone-event/8000\r\n"
	"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:32\r\n"
	"a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj|2^20|1:32\r\n"
	"a=sendrecv\r\n";

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(void)
{
	char msg[2048];
	int n = snprintf(msg, sizeof(msg),
		"INVITE sip:+15551234567@carrier.example.net;user=phone SIP/2.0\r\n"
		"Via: SIP/2.0/TLS 203.0.113.5:5061;branch=z9hG4bK776asdhds;rport\r\n"
		"Via: SIP/2.0/UDP 198.51.100.10:5060;branch=z9hG4bKnashds8;received=198.51.100.10\r\n"
		"Record-Route: <sip:edge1.example.com;lr;transport=tls>\r\n"
		"Route: <sip:core.example.net;lr>\r\n"
		"Max-Forwards: 69\r\n"
		"From: \"Alice\" <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
		"To: <sip:+15551234567@carrier.example.net;user=phone>;tag=a6c85cf\r\n"
		"Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n"
		"CSeq: 314159 INVITE\r\n"
		"Contact: <sip:alice@198.51.100.10:5060;transport=udp>\r\n"
		"User-Agent: ExamplePhone/4.2.1\r\n"
		"Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE, PRACK, REFER, NOTIFY\r\n"
		"Supported: 100rel, timer, replaces\r\n"
		"Content-Type: application/sdp\r\n"
		"Content-Length: %zu\r\n"
		"\r\n%s", strlen(sdp), sdp);
	char store[8192];
	rp_arena a;
	struct sip_msg *m;
	struct sip_perr err;
	unsigned long iters = 0, sum = 0;
	double t0, t1;

	if (n <= 0 || (size_t)n >= sizeof(msg))
		return 1;
	rp_arena_init(&a, store, sizeof(store), 1 << 20);
	if (sip_msg_parse(msg, (size_t)n, &a, NULL, &m, &err) != SIP_OK) {
		fprintf(stderr, "bench message does not parse: %s at %zu\n",
			sip_err_name(err.code), err.off);
		return 1;
	}
	printf("bench: message %d bytes, %zu headers, body %zu bytes\n", n, m->nhdrs, m->body.n);
	double rate[WINDOWS];

	for (int w = 0; w < WINDOWS; w++) {
		iters = 0;
		t0 = cpu_now();
		t1 = t0;
		while (iters < MAX_ITERS) {
			rp_arena_reset(&a);
			if (sip_msg_parse(msg, (size_t)n, &a, NULL, &m, &err) != SIP_OK)
				return 1;
			/* Use the results so the loop cannot be dropped. */
			sum += m->cseq.num + m->nhdrs + m->body.n + m->via.branch.n + m->from.tag.n;
			iters++;
			if ((iters & 1023) == 0) {
				t1 = cpu_now();
				if (t1 - t0 >= WINDOW_CPU_S)
					break;
			}
		}
		t1 = cpu_now();
		rate[w] = (double)iters / (t1 - t0);
		printf("bench: window %d: %lu parses in %.3f CPU s = %.0f/s\n", w + 1, iters,
		       t1 - t0, rate[w]);
	}
	rp_arena_fini(&a);
	qsort(rate, WINDOWS, sizeof(rate[0]), cmp_double);
	printf("bench: info min=%.0f median=%.0f max=%.0f (checksum %lu)\n", rate[0],
	       rate[WINDOWS / 2], rate[WINDOWS - 1], sum);
	printf("bench: sip_parse_per_cpu_s rampart=%.0f\n", rate[WINDOWS / 2]);
	return 0;
}
