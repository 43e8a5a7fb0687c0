/* bench_sdp: the proxy's SDP work per offer, per CPU-second.
 *
 * Per iteration: parse a realistic SRTP offer, rewrite c=, the port and the
 * protocol, drop the offerer's two a=crypto lines, generate a fresh key and
 * insert our a=crypto, serialise. CPU time from CLOCK_PROCESS_CPUTIME_ID;
 * bounded by 5 s of CPU and a fixed iteration cap.
 *
 * Usage: bench_sdp [max_cpu_seconds]   (default 5, at most 5)
 * Last line: "bench: sdp_crypto_rewrite_per_cpu_s rampart=<integer>".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rp_arena.h"
#include "rp_rand.h"
#include "sdes.h"
#include "sdp.h"

#define MAX_ITER 20000000UL

static const char offer[] =
	"v=0\r\n"
	"o=- 3829183746 3829183746 IN IP4 203.0.113.45\r\n"
	"s=-\r\n"
	"c=IN IP4 203.0.113.45\r\n"
	"t=0 0\r\n"
	"m=audio 31562 RTP/SAVP 9 0 8 101\r\n"
	"a=rtpmap:9 G722/8000\r\n"
	"a=rtpmap:0 PCMU/8000\r\n"
	"a=rtpmap:8 PCMA/8000\r\n"
	"a=rtpmap:101 telephone-event/8000\r\n"
	"a=fmtp:101 0-16\r\n"
	"a=ptime:20\r\n"
	"a=maxptime:150\r\n"
	"a=sendrecv\r\n"
	"a=rtcp-mux\r\n"
	"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:T0lxyHzS6nZU1TfMvwvY+5AqVPmnaP3Hk45eQ4tm|2^31\r\n"
	"a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:rVgqyMH9PX0b1M9q6S3zjVpq8z4mbBWiBKaVlv1J|2^31\r\n";

static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int one(rp_arena *a, struct rp_rand_pool *pool, char *out,
	size_t cap, size_t *outlen)
{
	struct sdp *s;
	struct sdes_crypto c;
	char val[SDES_FORMAT_MAX];
	size_t off, vn;
	int rc;

	rp_arena_reset(a);
	rc = sdp_parse(offer, sizeof(offer) - 1, a, NULL, &s, &off);
	if (rc < 0)
		return rc;
	rc = sdp_set_conn(s, NULL, SDP_ADDR_IP4, RP_STR_LIT("198.51.100.10"));
	if (rc < 0)
		return rc;
	rc = sdp_bump_origin_version(s);
	if (rc < 0)
		return rc;
	for (struct sdp_media *m = sdp_media_first(s); m; m = m->next) {
		rc = sdp_media_set_port(s, m, 40000);
		if (rc >= 0)
			rc = sdp_media_set_proto(s, m, RP_STR_LIT("RTP/SAVP"));
		if (rc >= 0)
			rc = sdp_remove_attrs(s, m, RP_STR_LIT("crypto"));
		if (rc < 0)
			return rc;
		if (sdes_generate(1, SDES_AES_CM_128_HMAC_SHA1_80, pool, &c) ||
		    sdes_format(&c, val, sizeof(val), &vn)) {
			sdes_crypto_wipe(&c);
			return -1;
		}
		sdes_crypto_wipe(&c);
		rp_str v = rp_str_make(val, vn);
		rc = sdp_insert_attr(s, m, NULL, RP_STR_LIT("crypto"), &v, NULL);
		explicit_bzero(val, vn);
		if (rc < 0)
			return rc;
	}
	rc = sdp_serialize(s, out, cap, outlen);
	sdp_wipe(s);
	return rc;
}

/* Runs for up to 'secs' of CPU; returns iterations per CPU-second. */
static double run(double secs, struct rp_rand_pool *pool, char *sample,
	size_t *sample_len)
{
	static char mem[16384];
	rp_arena a;
	char out[4096];
	size_t n = 0;
	unsigned long i = 0;
	double t0 = cpu_now(), t = t0;

	rp_arena_init(&a, mem, sizeof(mem), 1 << 20);
	while (i < MAX_ITER) {
		if (one(&a, pool, out, sizeof(out), &n) < 0) {
			fprintf(stderr, "bench_sdp: rewrite failed\n");
			exit(1);
		}
		i++;
		if ((i & 1023) == 0) {
			t = cpu_now();
			if (t - t0 >= secs)
				break;
		}
	}
	t = cpu_now();
	if (sample) {
		memcpy(sample, out, n);
		*sample_len = n;
	}
	rp_arena_fini(&a);
	return t > t0 ? (double)i / (t - t0) : 0;
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 5.0;
	struct rp_rand_pool *pool;
	char sample[4096];
	size_t sn = 0;

	if (!(secs > 0) || secs > 5)
		secs = 5;
	if (rp_rand_pool_new(&pool) < 0) {
		fprintf(stderr, "bench_sdp: no memory\n");
		return 1;
	}
	/* A short run reading getrandom per key, for comparison. */
	double direct = run(secs / 5, NULL, NULL, NULL);
	double pooled = run(secs * 4 / 5, pool, sample, &sn);

	printf("--- rewritten offer ---\n%.*s-----------------------\n",
		(int)sn, sample);
	printf("bench: info getrandom_per_key=%.0f pooled=%.0f per CPU-second\n",
		direct, pooled);
	printf("bench: sdp_crypto_rewrite_per_cpu_s rampart=%.0f\n", pooled);
	rp_rand_pool_free(pool);
	return 0;
}
