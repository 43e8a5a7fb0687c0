/* bench_media: rampart-mediad against rtpengine, in the same run.
 *
 * Both relays must already run (scripts/bench-media starts them); this
 * program drives them, generates the load (mload) and prints figures:
 *
 *  1. Memory: RSS growth of each daemon for 1,000 calls set up and carrying
 *     a second of media both ways (/proc/PID/status VmRSS).
 *  2. Fixed rate: SRTP->RTP and RTP->SRTP with 1, 100 and 1,000 calls at
 *     one aggregate rate (default 30,000 packets/s): packets forwarded per
 *     CPU-second of the daemon (utime+stime of all its threads from
 *     /proc/PID/stat), p50/p99 added latency, loss. Daemons interleaved
 *     (A B A B), fresh calls per trial, medians of N runs.
 *  3. Highest sustained rate: a rising ladder of rates with 1,000 calls;
 *     a rate is sustained when the median run loses < 0.1% AND has p99
 *     added latency under the bound (default 20 ms).
 *
 * Every trial is bounded (a few seconds of traffic plus at most 2 s of
 * drain); the default whole run is about 10 minutes, RAMPART_BENCH_MEDIA_QUICK=1
 * makes it a smoke test of well under a minute.
 *
 * A program, not a test: it asserts nothing about speed. Exit status 0
 * when the figures were measured, 1 when a set-up step failed, 2 usage.
 */
#include <errno.h>
#include <getopt.h>
#include <dirent.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "mdrv.h"
#include "mload.h"
#include "msrtp.h"
#include "rp_rand.h"

#define MAX_RUNS 9
#define MAX_RATES 16
#define NDIR 2
#define NDAEMON 2

enum dir { S2R, R2S };
static const char *dir_key[NDIR] = { "srtp_to_rtp", "rtp_to_srtp" };
static const char *dir_text[NDIR] = { "SRTP->RTP", "RTP->SRTP" };

struct daemon {
	const char *name;
	struct mdrv *drv;
	int pid;
};

struct trial {
	struct mload_result r;
	double cpu_s;
	double per_cpu;  /* forwarded packets per CPU-second */
	bool sustained;  /* loss < 0.1%, p99 < bound */
	bool valid;      /* the generator kept up (else the trial says nothing) */
};

static struct {
	int runs, ladder_runs;
	double budget_s; /* wall time for the whole run; the ladder gets the rest */
	double seconds, ladder_seconds, bound_us, floor;
	double rates[3]; /* fixed offered rate per session count */
	unsigned ladder_sessions;
	unsigned sessions[3];
	unsigned nsessions;
	double ladder[MAX_RATES];
	unsigned nladder;
	int verbose;
	bool row_only; /* --row-only: the fixed-rate trials, no memory, no ladder */
} opt = {
	.runs = 5,
	.ladder_runs = 3,
	.budget_s = 600,
	.seconds = 4,
	.ladder_seconds = 3,
	/* 1 call: one socket pair; rtpengine stops reading a socket that it
	 * leaves with packets queued 5 wake-ups in a row, which 30k pps on one
	 * socket does on a shared 2-core box. 100 calls at 30k pps is the
	 * BENCH-NOTES reference point; 1,000 calls at 50 pps each (20 ms). */
	.rates = { 5000, 30000, 50000 },
	.bound_us = 20000,
	.ladder_sessions = 1000,
	.sessions = { 1, 100, 1000 },
	.nsessions = 3,
	.ladder = { 5000, 10000, 20000, 40000, 60000, 80000, 100000, 130000, 160000, 200000 },
	.nladder = 10,
};

static uint64_t tag_seq;

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static _Noreturn void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("bench_media: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

/* utime+stime of the whole process (all threads), in seconds. */
static double cpu_seconds(int pid)
{
	char path[64], buf[2048], *p;
	unsigned long ut, st;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (!(f = fopen(path, "re")))
		die("cannot read %s (is the daemon still running?)", path);
	if (!fgets(buf, sizeof(buf), f)) {
		fclose(f);
		die("cannot read %s", path);
	}
	fclose(f);
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		die("cannot parse %s", path);
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* On-CPU time of all threads from the scheduler (/proc/PID/task/X/schedstat,
 * nanoseconds): a cross-check of utime+stime, whose 10 ms ticks are coarse
 * for a short trial. NAN if unavailable. */
static double sched_seconds(int pid)
{
	char path[64];
	struct dirent *de;
	double sum = 0;
	int n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	if (!(d = opendir(path)))
		return NAN;
	while ((de = readdir(d)) && n < 4096) {
		char p2[300];
		unsigned long long ns;
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		snprintf(p2, sizeof(p2), "/proc/%d/task/%s/schedstat", pid, de->d_name);
		if (!(f = fopen(p2, "re")))
			continue; /* the thread just ended */
		if (fscanf(f, "%llu", &ns) == 1)
			sum += (double)ns / 1e9, n++;
		fclose(f);
	}
	closedir(d);
	return n ? sum : NAN;
}

/* Context switches of all the daemon's threads (voluntary + involuntary,
 * /proc/PID/task/X/status): per packet, how often the relay slept and was
 * woken, the cost batching cuts. Threads that ended are not counted. */
static double ctx_switches(int pid)
{
	char path[64];
	struct dirent *de;
	double sum = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	if (!(d = opendir(path)))
		return NAN;
	for (int n = 0; (de = readdir(d)) && n < 4096; n++) {
		char p2[300], line[128];
		unsigned long long v;
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		snprintf(p2, sizeof(p2), "/proc/%d/task/%s/status", pid, de->d_name);
		if (!(f = fopen(p2, "re")))
			continue;
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "voluntary_ctxt_switches: %llu", &v) == 1 ||
			    sscanf(line, "nonvoluntary_ctxt_switches: %llu", &v) == 1)
				sum += (double)v;
		fclose(f);
	}
	closedir(d);
	return sum;
}

/* Packets the kernel dropped on the relay's sockets (full receive buffer):
 * the 'drops' column of /proc/net/udp for the given local ports. Read before
 * the calls are deleted (the sockets and their counters go with them). */
static uint64_t relay_socket_drops(const struct mdrv_call *c, unsigned n)
{
	static uint8_t want[65536 / 8];
	char line[512];
	uint64_t sum = 0;
	FILE *f;

	memset(want, 0, sizeof(want));
	for (unsigned i = 0; i < n; i++)
		for (int l = 0; l < 2; l++)
			want[c[i].relay_port[l] >> 3] |= (uint8_t)(1u << (c[i].relay_port[l] & 7));
	if (!(f = fopen("/proc/net/udp", "re")))
		return 0;
	for (int ln = 0; ln < 1000000 && fgets(line, sizeof(line), f); ln++) {
		unsigned port;
		unsigned long long drops;
		char *colon = strchr(line, ':'), *last;

		/* "  sl: ADDR:PORT ..." ; drops is the last field */
		if (!colon || sscanf(colon + 1, " %*x:%x", &port) != 1 || port > 65535)
			continue;
		if (!(want[port >> 3] & (1u << (port & 7))))
			continue;
		last = line + strlen(line);
		while (last > line && (last[-1] == '\n' || last[-1] == ' '))
			last--;
		while (last > line && last[-1] != ' ')
			last--;
		if (sscanf(last, "%llu", &drops) == 1)
			sum += drops;
	}
	fclose(f);
	return sum;
}

static long rss_kib(int pid)
{
	char path[64], line[256];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if (!(f = fopen(path, "re")))
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &v) == 1)
			break;
	fclose(f);
	return v;
}

static struct msrtp *ctx(enum msrtp_dir d, const uint8_t key[MDRV_KEYLEN])
{
	struct msrtp_params p = {
		.suite = MSRTP_AES_CM_128_HMAC_SHA1_80, .key = key, .salt = key + 16,
	};
	struct msrtp *c;

	if (msrtp_new(d, &p, &c) < 0)
		die("msrtp_new failed");
	return c;
}

/* Creates that had to wait for a previous trial's ports (reported). */
static unsigned waited_creates;

/* Sets up n calls on daemon d for generator g. */
static struct mdrv_call *calls_create(struct daemon *d, struct mload *g, unsigned n)
{
	struct mdrv_call *c = calloc(n, sizeof(*c));
	char why[256];

	if (!c)
		die("out of memory");
	for (unsigned i = 0; i < n; i++) {
		c[i].gen_port[0] = mload_port(g, i, 0);
		c[i].gen_port[1] = mload_port(g, i, 1);
		if (rp_rand_bytes(c[i].a_key, MDRV_KEYLEN) < 0)
			die("getrandom failed");
		int rc = mdrv_call_create(d->drv, ++tag_seq, &c[i], why, sizeof(why));
		/* A daemon frees a deleted call's ports once its worker has
		 * closed the sockets, a little after the delete's reply: the
		 * previous trial's 1,000 calls may still hold them. Wait for
		 * that (bounded) rather than fail the whole run. */
		for (int tries = 0; rc < 0 && tries < 150; tries++) {
			if (tries == 0)
				waited_creates++;
			nanosleep(&(struct timespec){ .tv_nsec = 20 * 1000 * 1000 }, NULL);
			rc = mdrv_call_create(d->drv, ++tag_seq, &c[i], why, sizeof(why));
		}
		if (rc < 0)
			die("%s: call %u of %u: %s (%s)", d->name, i + 1, n, why, strerror(-rc));
	}
	return c;
}

static void calls_delete(struct daemon *d, struct mdrv_call *c, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (mdrv_call_delete(d->drv, &c[i]) < 0)
			fprintf(stderr, "bench_media: %s: delete of call %u failed\n", d->name, i);
	explicit_bzero(c, sizeof(*c) * n);
	free(c);
}

/* Points every stream of g in direction dir, with fresh SRTP contexts. */
static void streams_set(struct mload *g, const struct mdrv_call *c, unsigned n, enum dir dir)
{
	for (unsigned i = 0; i < n; i++) {
		if (dir == S2R)
			mload_stream_set(g, i, 0, c[i].relay_port[0], ctx(MSRTP_PROTECT, c[i].a_key), NULL);
		else
			mload_stream_set(g, i, 1, c[i].relay_port[1], NULL,
					 ctx(MSRTP_UNPROTECT, c[i].relay_key));
	}
}

/* Added latency: to the kernel's arrival stamp on our socket when the
 * packets carried one (the relay's part, without our receiver thread's
 * scheduling delay), else to when our thread read them. */
static bool stamped(const struct mload_result *r)
{
	return r->arrival_stamped * 2 > r->received;
}

static double lat_p50(const struct mload_result *r)
{
	return stamped(r) ? r->arrival_p50_us : r->p50_us;
}

static double lat_p99(const struct mload_result *r)
{
	return stamped(r) ? r->arrival_p99_us : r->p99_us;
}

static void trial_run(struct daemon *d, enum dir dir, unsigned n, double rate, double secs,
		      struct trial *t)
{
	struct mload *g;
	struct mdrv_call *c;
	double c0, c1;
	int rc;

	struct timespec ts0, ts1;
	if ((rc = mload_new(n, &g)) < 0)
		die("load generator for %u streams: %s", n, strerror(-rc));
	clock_gettime(CLOCK_MONOTONIC, &ts0);
	c = calls_create(d, g, n);
	clock_gettime(CLOCK_MONOTONIC, &ts1);
	streams_set(g, c, n, dir);
	struct mdrv_counters k0, k1;
	bool have_k = mdrv_counters(d->drv, &k0) == 0;
	double s0 = sched_seconds(d->pid), x0 = ctx_switches(d->pid);
	c0 = cpu_seconds(d->pid);
	if ((rc = mload_run(g, rate, secs, &t->r)) < 0)
		die("load generator: %s", strerror(-rc));
	c1 = cpu_seconds(d->pid);
	double s1 = sched_seconds(d->pid), x1 = ctx_switches(d->pid);
	have_k = have_k && mdrv_counters(d->drv, &k1) == 0;
	uint64_t rdrops = relay_socket_drops(c, n);
	calls_delete(d, c, n);
	mload_free(g);

	t->cpu_s = c1 - c0;
	t->per_cpu = t->cpu_s > 0 ? (double)t->r.received / t->cpu_s : 0;
	/* Per forwarded packet: CPU (from the scheduler's ns clock) and
	 * context switches. */
	double pkts = t->r.received ? (double)t->r.received : NAN;
	double loss = t->r.sent ? (double)t->r.lost / (double)t->r.sent : 1;
	t->sustained = loss < 0.001 && lat_p99(&t->r) < opt.bound_us && t->r.sent > 0;
	/* Losses in our own receive buffers are the generator's, not the relay's. */
	t->valid = !t->r.gen_limited && t->r.gen_drops <= t->r.sent / 1000;
	printf("media: %-9s %s %4u calls %7.0f pps: sent %" PRIu64 " fwd %" PRIu64
	       " loss %.3f%% reord %" PRIu64 " bad %" PRIu64 " cpu %.2fs (sched %.3fs) -> %.0f pkts/cpu-s"
	       " (%.2f us and %.3f context switches per packet),"
	       " latency p50 %.0f p99 %.0f us (read by us: p50 %.0f p99 %.0f max %.0f us);"
	       " relay socket drops %" PRIu64 ", gen drops %" PRIu64 ", sent %.0f pps,"
	       " set-up %.2fs%s%s\n",
	       d->name, dir_text[dir], n, rate, t->r.sent, t->r.received, 100 * loss,
	       t->r.reordered, t->r.bad, t->cpu_s, s1 - s0, t->per_cpu, (s1 - s0) * 1e6 / pkts,
	       (x1 - x0) / pkts, lat_p50(&t->r), lat_p99(&t->r),
	       t->r.p50_us, t->r.p99_us, t->r.max_us, rdrops, t->r.gen_drops, t->r.sent_pps,
	       (double)(ts1.tv_sec - ts0.tv_sec) + (double)(ts1.tv_nsec - ts0.tv_nsec) / 1e9,
	       t->valid ? "" : " [generator-limited]",
	       t->sustained ? "" : " [not sustained]");
	/* Where the losses happened, by the relay's own count. */
	if (have_k && (t->r.lost || opt.verbose))
		printf("media: %s counters: packets-in %" PRIu64 " packets-out %" PRIu64
		       " drops %" PRIu64 " send-errors %" PRIu64 " rx-buffer-overflows %" PRIu64 "\n",
		       d->name, k1.pkts_in - k0.pkts_in, k1.pkts_out - k0.pkts_out,
		       k1.drops - k0.drops, k1.send_errors - k0.send_errors,
		       k1.rx_overflows - k0.rx_overflows);
	fflush(stdout);
}

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	double tmp[MAX_RUNS];

	if (n <= 0)
		return NAN;
	memcpy(tmp, v, sizeof(double) * (size_t)n);
	qsort(tmp, (size_t)n, sizeof(double), cmp_dbl);
	return n % 2 ? tmp[n / 2] : (tmp[n / 2 - 1] + tmp[n / 2]) / 2;
}

static void fmt(char *dst, size_t n, double v, const char *f)
{
	if (isnan(v))
		snprintf(dst, n, "n/a");
	else
		snprintf(dst, n, f, v);
}

/* The larger; NAN unless both were measured. */
static double worse(double a, double b)
{
	return isnan(a) || isnan(b) ? NAN : fmax(a, b);
}

static void line2(const char *name, double a, double b, bool ratio, const char *f)
{
	char sa[32], sb[32], sr[32];

	fmt(sa, sizeof(sa), a, f);
	fmt(sb, sizeof(sb), b, f);
	fmt(sr, sizeof(sr), (!isnan(a) && !isnan(b) && b > 0) ? a / b : NAN, "%.2f");
	if (ratio)
		printf("bench: %s rampart=%s rtpengine=%s ratio=%s\n", name, sa, sb, sr);
	else
		printf("bench: %s rampart=%s rtpengine=%s\n", name, sa, sb);
}

/* ---- memory ---- */

static double bytes_per_session(struct daemon *d, unsigned n)
{
	struct mload *g;
	struct mdrv_call *c;
	struct mload_result r;
	long r0, r1, rc1;
	int rc;

	if ((rc = mload_new(n, &g)) < 0)
		die("load generator: %s", strerror(-rc));
	r0 = rss_kib(d->pid);
	c = calls_create(d, g, n);
	rc1 = rss_kib(d->pid);
	/* A second of media each way at 50 pps per call: per-SSRC SRTP state
	 * and latching exist only once packets flowed. */
	for (int dir = 0; dir < NDIR; dir++) {
		streams_set(g, c, n, (enum dir)dir);
		if ((rc = mload_run(g, 50.0 * n, 1.0, &r)) < 0)
			die("load generator: %s", strerror(-rc));
	}
	r1 = rss_kib(d->pid);
	calls_delete(d, c, n);
	mload_free(g);
	if (r0 < 0 || r1 < 0)
		return NAN;
	printf("media: %s RSS %ld kB, %ld kB with %u calls set up (%.0f bytes per call),"
	       " %ld kB after 1 s of media each way\n",
	       d->name, r0, rc1, n, (double)(rc1 - r0) * 1024.0 / n, r1);
	return (double)(r1 - r0) * 1024.0 / n;
}

/* ---- main ---- */

static void usage(void)
{
	fprintf(stderr,
		"usage: bench_media --rampart-ctl PATH --rampart-pid PID\n"
		"                   [--rtpengine-ng IP:PORT --rtpengine-pid PID] [--floor PKTS_PER_CPU_S]\n"
		"                   [--runs N] [--seconds S] [--rate PPS] [--bound-us US] [--quick]\n"
		"                   [--calls 1|100|1000] (only that fixed-rate row)\n"
		"                   [--row-only] (the fixed-rate trials only: no memory, no ladder)\n"
		"environment: RAMPART_BENCH_MEDIA_QUICK=1 (smoke run), RAMPART_BENCH_MEDIA_RUNS,\n"
		"             RAMPART_BENCH_MEDIA_SECONDS (per trial),\n"
		"             RAMPART_BENCH_MEDIA_BUDGET (seconds for the whole run, default 600;\n"
		"             the rate ladder stops when it is used up)\n");
	exit(2);
}

static void set_quick(void)
{
	opt.runs = 1;
	opt.ladder_runs = 1;
	opt.seconds = 1;
	opt.ladder_seconds = 1;
	opt.ladder_sessions = 100;
	opt.nladder = 2;
	opt.ladder[0] = 10000;
	opt.ladder[1] = 40000;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "rampart-ctl", required_argument, NULL, 'c' },
		{ "rampart-pid", required_argument, NULL, 'p' },
		{ "rtpengine-ng", required_argument, NULL, 'n' },
		{ "rtpengine-pid", required_argument, NULL, 'P' },
		{ "floor", required_argument, NULL, 'f' },
		{ "runs", required_argument, NULL, 'r' },
		{ "seconds", required_argument, NULL, 's' },
		{ "rate", required_argument, NULL, 'R' },
		{ "bound-us", required_argument, NULL, 'b' },
		{ "calls", required_argument, NULL, 'C' },
		{ "quick", no_argument, NULL, 'q' },
		{ "row-only", no_argument, NULL, 'O' },
		{ "help", no_argument, NULL, 'h' },
		{ 0, 0, 0, 0 },
	};
	const char *rp_ctl = NULL, *ng = NULL, *e;
	struct daemon dm[NDAEMON] = { { "rampart", NULL, 0 }, { "rtpengine", NULL, 0 } };
	int nd, o, rc;
	double t_start = mono_s();

	if ((e = getenv("RAMPART_BENCH_MEDIA_QUICK")) && atoi(e) > 0)
		set_quick();
	if ((e = getenv("RAMPART_BENCH_MEDIA_RUNS")) && atoi(e) > 0)
		opt.runs = opt.ladder_runs = atoi(e);
	if ((e = getenv("RAMPART_BENCH_MEDIA_BUDGET")) && atof(e) > 0)
		opt.budget_s = atof(e);
	if ((e = getenv("RAMPART_BENCH_MEDIA_SECONDS")) && atof(e) > 0)
		opt.seconds = opt.ladder_seconds = atof(e);
	while ((o = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (o) {
		case 'c': rp_ctl = optarg; break;
		case 'p': dm[0].pid = atoi(optarg); break;
		case 'n': ng = optarg; break;
		case 'P': dm[1].pid = atoi(optarg); break;
		case 'f': opt.floor = atof(optarg); break;
		case 'r': opt.runs = opt.ladder_runs = atoi(optarg); break;
		case 's': opt.seconds = opt.ladder_seconds = atof(optarg); break;
		case 'R':
			opt.rates[0] = opt.rates[1] = opt.rates[2] = atof(optarg);
			break;
		case 'b': opt.bound_us = atof(optarg); break;
		case 'C': {
			/* Only the fixed-rate trials with this many calls. */
			unsigned want = (unsigned)atoi(optarg), i;
			for (i = 0; i < opt.nsessions && opt.sessions[i] != want; i++)
				;
			if (i == opt.nsessions)
				usage();
			opt.sessions[0] = want;
			opt.rates[0] = opt.rates[i];
			opt.nsessions = 1;
			break;
		}
		case 'q': set_quick(); break;
		case 'O': opt.row_only = true; break;
		default: usage();
		}
	}
	if (!rp_ctl || dm[0].pid <= 0 || (ng && dm[1].pid <= 0) || optind != argc)
		usage();
	if (opt.runs < 1 || opt.runs > MAX_RUNS || opt.ladder_runs > MAX_RUNS)
		die("--runs must be 1..%d", MAX_RUNS);
	if (opt.seconds > 15)
		opt.seconds = opt.ladder_seconds = 15; /* every trial <= 15 s */

	/* 2 sockets per call in the generator, 1,000 calls. */
	struct rlimit rl = { 8192, 8192 };
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		die("cannot raise the fd limit to 8192: %s", strerror(errno));
	if (msrtp_global_init() < 0)
		die("msrtp_global_init failed");
	if ((rc = mdrv_rampart_new(rp_ctl, &dm[0].drv)) < 0)
		die("rampart-mediad control socket %s: %s", rp_ctl, strerror(-rc));
	nd = 1;
	if (ng) {
		if ((rc = mdrv_rtpengine_new(ng, &dm[1].drv)) < 0)
			die("rtpengine ng %s: %s", ng, strerror(-rc));
		nd = 2;
	}
	printf("media: %d run(s) (ladder %d), %.1f s per fixed-rate trial at %.0f/%.0f/%.0f pps for %u/%u/%u"
	       " calls, ladder with %u calls, latency bound p99 < %.0f us, msrtp backend %s\n",
	       opt.runs, opt.ladder_runs, opt.seconds, opt.rates[0], opt.rates[1], opt.rates[2], opt.sessions[0],
	       opt.sessions[1], opt.sessions[2], opt.ladder_sessions, opt.bound_us,
	       msrtp_backend_name());

	/* 1. memory */
	double mem[NDAEMON] = { NAN, NAN };
	for (int k = 0; k < nd && !opt.row_only; k++)
		mem[k] = bytes_per_session(&dm[k], 1000);
	if (opt.row_only)
		opt.nladder = 0; /* no ladder, hence no half-rate trials either */

	/* 2. fixed rate: [dir][sessions][daemon][run] */
	static struct trial fx[NDIR][3][NDAEMON][MAX_RUNS];
	for (unsigned si = 0; si < opt.nsessions; si++)
		for (int dir = 0; dir < NDIR; dir++)
			for (int run = 0; run < opt.runs; run++)
				for (int k = 0; k < nd; k++) /* A B A B */
					trial_run(&dm[k], (enum dir)dir, opt.sessions[si], opt.rates[si],
						  opt.seconds, &fx[dir][si][k][run]);

	/* 3. ladder: highest sustained rate per daemon and direction */
	double maxrate[NDIR][NDAEMON];
	enum { CAP_NONE, CAP_TOP, CAP_GEN, CAP_TIME } capped[NDIR][NDAEMON];
	/* Whatever the grid left of the time budget, half per direction, less
	 * what the trials at half the highest rate (step 4) need. */
	double half_need = NDIR * nd * opt.ladder_runs * (opt.ladder_seconds + 3);
	double lad0 = mono_s(), lad_left = opt.budget_s - (lad0 - t_start) - half_need;
	for (int dir = 0; dir < NDIR; dir++) {
		bool alive[NDAEMON] = { true, nd > 1 };
		double deadline = lad0 + (lad_left > 0 ? lad_left : 0) * (dir + 1) / NDIR;
		for (int k = 0; k < NDAEMON; k++)
			maxrate[dir][k] = k < nd ? 0 : NAN, capped[dir][k] = CAP_NONE;
		for (unsigned ri = 0; ri < opt.nladder && (alive[0] || alive[1]); ri++) {
			int pass[NDAEMON] = { 0, 0 }, inval[NDAEMON] = { 0, 0 };
			if (mono_s() > deadline) {
				for (int k = 0; k < nd; k++)
					if (alive[k]) {
						capped[dir][k] = CAP_TIME;
						if (ri == 0)
							maxrate[dir][k] = NAN; /* not measured */
					}
				break;
			}
			for (int run = 0; run < opt.ladder_runs; run++)
				for (int k = 0; k < nd; k++) {
					struct trial t;
					if (!alive[k])
						continue;
					trial_run(&dm[k], (enum dir)dir, opt.ladder_sessions, opt.ladder[ri],
						  opt.ladder_seconds, &t);
					pass[k] += t.sustained && t.valid;
					inval[k] += !t.valid;
				}
			for (int k = 0; k < nd; k++) {
				if (!alive[k])
					continue;
				if (2 * inval[k] > opt.ladder_runs) {
					/* the box, not the relay, ran out: stop here */
					capped[dir][k] = CAP_GEN;
					alive[k] = false;
				} else if (2 * pass[k] > opt.ladder_runs) {
					maxrate[dir][k] = opt.ladder[ri];
					if (ri + 1 == opt.nladder)
						capped[dir][k] = CAP_TOP;
				} else {
					alive[k] = false;
				}
			}
		}
	}

	/* 4. p99 added latency at half the highest sustained rate, per daemon
	 * (each at half its own), same calls as the ladder, interleaved. */
	double half_p99[NDIR][NDAEMON], half_rate[NDIR][NDAEMON];
	for (int dir = 0; dir < NDIR; dir++) {
		double v[NDAEMON][MAX_RUNS];
		int nv[NDAEMON] = { 0, 0 };
		for (int k = 0; k < NDAEMON; k++) {
			half_p99[dir][k] = NAN;
			half_rate[dir][k] = k < nd && maxrate[dir][k] > 0 ? maxrate[dir][k] / 2 : NAN;
		}
		for (int run = 0; run < opt.ladder_runs; run++)
			for (int k = 0; k < nd; k++) {
				struct trial t;
				if (isnan(half_rate[dir][k]))
					continue;
				trial_run(&dm[k], (enum dir)dir, opt.ladder_sessions, half_rate[dir][k],
					  opt.ladder_seconds, &t);
				v[k][nv[k]++] = lat_p99(&t.r);
			}
		for (int k = 0; k < nd; k++)
			if (nv[k])
				half_p99[dir][k] = median(v[k], nv[k]);
	}

	/* ---- figures ---- */
	double pc[NDIR][3][NDAEMON], p50[NDIR][3][NDAEMON], p99[NDIR][3][NDAEMON],
		loss[NDIR][3][NDAEMON];
	for (int dir = 0; dir < NDIR; dir++)
		for (unsigned si = 0; si < opt.nsessions; si++)
			for (int k = 0; k < NDAEMON; k++) {
				double a[MAX_RUNS], b[MAX_RUNS], c[MAX_RUNS], l[MAX_RUNS];
				int m = k < nd ? opt.runs : 0;
				for (int run = 0; run < m; run++) {
					struct trial *t = &fx[dir][si][k][run];
					a[run] = t->per_cpu;
					b[run] = lat_p50(&t->r);
					c[run] = lat_p99(&t->r);
					l[run] = t->r.sent ? 100.0 * (double)t->r.lost / (double)t->r.sent : 100;
				}
				pc[dir][si][k] = median(a, m);
				p50[dir][si][k] = median(b, m);
				p99[dir][si][k] = median(c, m);
				loss[dir][si][k] = median(l, m);
			}
	for (unsigned si = 0; si < opt.nsessions; si++)
		for (int dir = 0; dir < NDIR; dir++) {
			char name[96];
			unsigned n = opt.sessions[si];
			snprintf(name, sizeof(name), "media_%s_%u_sessions_pkts_per_cpu_s", dir_key[dir], n);
			line2(name, pc[dir][si][0], pc[dir][si][1], true, "%.0f");
			snprintf(name, sizeof(name), "media_%s_%u_sessions_p50_added_latency_us", dir_key[dir], n);
			line2(name, p50[dir][si][0], p50[dir][si][1], false, "%.0f");
			snprintf(name, sizeof(name), "media_%s_%u_sessions_p99_added_latency_us", dir_key[dir], n);
			line2(name, p99[dir][si][0], p99[dir][si][1], false, "%.0f");
			snprintf(name, sizeof(name), "media_%s_%u_sessions_loss_pct", dir_key[dir], n);
			line2(name, loss[dir][si][0], loss[dir][si][1], false, "%.3f");
		}
	for (int dir = 0; dir < NDIR && !opt.row_only; dir++) {
		char name[96];
		snprintf(name, sizeof(name), "media_%s_max_sustained_pps_%u_sessions", dir_key[dir],
			 opt.ladder_sessions);
		line2(name, maxrate[dir][0], maxrate[dir][1], true, "%.0f");
		for (int k = 0; k < nd; k++)
			if (maxrate[dir][k] == 0)
				printf("media: %s %s: not sustained even at %.0f pps (the lowest step)\n",
				       dm[k].name, dir_text[dir], opt.ladder[0]);
		for (int k = 0; k < nd; k++)
			if (isnan(maxrate[dir][k]))
				printf("media: %s %s: ladder not run (time budget used up)\n",
				       dm[k].name, dir_text[dir]);
			else if (capped[dir][k])
				printf("media: %s %s: %.0f pps is a lower bound (%s)\n", dm[k].name,
				       dir_text[dir], maxrate[dir][k],
				       capped[dir][k] == CAP_TOP    ? "top of the ladder"
				       : capped[dir][k] == CAP_TIME ? "time budget used up"
								    : "the load generator could not go higher on this box");
	}
	/* Headline figures: 100 calls at the fixed rate (the middle column). */
	unsigned hs = opt.nsessions > 1 ? 1 : 0;
	printf("media: headline figures: %u calls at %.0f pps, medians of %d run(s)\n",
	       opt.sessions[hs], opt.rates[hs], opt.runs);
	line2("media_srtp_to_rtp_pkts_per_cpu_s", pc[S2R][hs][0], pc[S2R][hs][1], true, "%.0f");
	line2("media_rtp_to_srtp_pkts_per_cpu_s", pc[R2S][hs][0], pc[R2S][hs][1], true, "%.0f");
	if (opt.floor > 0)
		printf("bench: media_crypto_floor_fraction rampart=%.3f\n", pc[S2R][hs][0] / opt.floor);
	else
		printf("bench: media_crypto_floor_fraction rampart=n/a\n");
	/* p99 added latency at half each daemon's highest sustained rate
	 * (1,000 calls), the worse of the two directions; n/a where a daemon
	 * sustained no step of the ladder. */
	for (int dir = 0; dir < NDIR; dir++) {
		char name[96];
		snprintf(name, sizeof(name), "media_%s_p99_added_latency_us_half_max", dir_key[dir]);
		line2(name, half_p99[dir][0], half_p99[dir][1], false, "%.0f");
		for (int k = 0; k < nd; k++)
			if (!isnan(half_rate[dir][k]))
				printf("media: %s %s: half the highest sustained rate = %.0f pps"
				       " with %u calls\n", dm[k].name, dir_text[dir], half_rate[dir][k],
				       opt.ladder_sessions);
	}
	line2("media_p99_added_latency_us", worse(half_p99[S2R][0], half_p99[R2S][0]),
	      worse(half_p99[S2R][1], half_p99[R2S][1]), false, "%.0f");
	if (!isnan(mem[1]))
		printf("media: rtpengine RSS growth per session: %.0f bytes\n", mem[1]);
	if (isnan(mem[0]))
		printf("bench: media_bytes_per_session rampart=n/a\n");
	else
		printf("bench: media_bytes_per_session rampart=%.0f\n", mem[0]);

	if (waited_creates)
		printf("media: %u call set-ups waited for a deleted call's ports to be freed\n",
		       waited_creates);
	for (int k = 0; k < nd; k++)
		mdrv_free(dm[k].drv);
	return 0;
}
