/* bench_udp_wake: what a relayed packet costs the kernel on this machine,
 * split into the UDP stack and the sleep/wake-up around it
 * (docs/bench-media.md, "Where a packet's CPU goes").
 *
 *  1. The stack alone: one thread sends 172-byte packets over loopback in
 *     batches of 32 and drains the receiving socket with recvmmsg, so no
 *     thread sleeps or is woken. Variants: io_uring IORING_OP_SEND with a
 *     destination address (what mediad does), the same with the socket as
 *     a registered (fixed) file, from a connected socket, connected and
 *     fixed, sendmmsg with an address, sendmmsg connected. Figure: CPU
 *     (getrusage) per packet, send + receive.
 *  2. The wake-up: a receiver thread asleep in io_uring_enter (multishot
 *     recvmsg into a provided-buffer ring, DEFER_TASKRUN, as mediad) and a
 *     sender thread with a fixed pattern (one packet every 200 or 50 us,
 *     bursts of 8 every 200 us). The receiver waits for the first packet,
 *     or (min-wait) for 32 completions or 50 us. Figure: the receiver
 *     thread's CPU and context switches per packet.
 * Rounds are interleaved across variants; figures are medians. A program,
 * not a test: it asserts nothing about speed. */
#include <arpa/inet.h>
#include <errno.h>
#include <liburing.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define PKT 172
#define BATCH 32
#define MAX_ROUNDS 15
#define NBUF 1024
#define BUFSZ 2048

/* struct io_uring_getevents_arg as kernel 6.12+ defines it (liburing 2.3
 * calls min_wait_usec 'pad'). */
struct enter_arg {
	uint64_t sigmask;
	uint32_t sigmask_sz;
	uint32_t min_wait_usec;
	uint64_t ts;
};

static void die(const char *what, int err)
{
	fprintf(stderr, "bench_udp_wake: %s: %s\n", what, strerror(err));
	exit(1);
}

static double cpu_s(int who)
{
	struct rusage r;

	getrusage(who, &r);
	return (double)(r.ru_utime.tv_sec + r.ru_stime.tv_sec) +
	       (double)(r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
}

static long switches(void)
{
	struct rusage r;

	getrusage(RUSAGE_THREAD, &r);
	return r.ru_nvcsw + r.ru_nivcsw;
}

static int udp_socket(struct sockaddr_in *bound)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), sz = 8 << 20;

	if (fd < 0)
		die("socket", errno);
	/* Room for a whole batch whatever rmem_max says (as root). */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0)
		die("bind", errno);
	*bound = a;
	return fd;
}

static double median(double *v, int n)
{
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && v[j] < v[j - 1]; j--) {
			double t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	return v[n / 2];
}

static void drain(int fd)
{
	static uint8_t b[64][256];
	struct mmsghdr m[64];
	struct iovec iov[64];
	int n;

	do {
		memset(m, 0, sizeof(m));
		for (int i = 0; i < 64; i++) {
			iov[i].iov_base = b[i];
			iov[i].iov_len = sizeof(b[i]);
			m[i].msg_hdr.msg_iov = &iov[i];
			m[i].msg_hdr.msg_iovlen = 1;
		}
		n = recvmmsg(fd, m, 64, MSG_DONTWAIT, NULL);
	} while (n == 64);
}

/* ---- 1. the stack alone ---- */

enum { V_SEND, V_SEND_FIXED, V_CONN, V_CONN_FIXED, V_MMSG, V_MMSG_CONN, NV };
static const char *const vname[NV] = { "send_addr", "send_addr_fixed", "connected",
	"connected_fixed", "sendmmsg_addr", "sendmmsg_connected" };

static void stack_round(struct io_uring *ring, int v, int fd, int fd_conn, int rx,
	const struct sockaddr_in *dst, unsigned n)
{
	static uint8_t pkt[PKT];
	struct io_uring_cqe *cqe;

	memset(pkt, 0x80, 1);
	for (unsigned i = 0; i < n; i += BATCH) {
		if (v == V_MMSG || v == V_MMSG_CONN) {
			struct mmsghdr m[BATCH];
			struct iovec iov = { pkt, PKT };
			memset(m, 0, sizeof(m));
			for (int j = 0; j < BATCH; j++) {
				m[j].msg_hdr.msg_iov = &iov;
				m[j].msg_hdr.msg_iovlen = 1;
				if (v == V_MMSG) {
					m[j].msg_hdr.msg_name = (void *)dst;
					m[j].msg_hdr.msg_namelen = sizeof(*dst);
				}
			}
			if (sendmmsg(v == V_MMSG ? fd : fd_conn, m, BATCH, 0) != BATCH)
				die("sendmmsg", errno);
		} else {
			bool conn = v == V_CONN || v == V_CONN_FIXED;
			bool fixed = v == V_SEND_FIXED || v == V_CONN_FIXED;
			for (int j = 0; j < BATCH; j++) {
				struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
				/* fixed file slots: 0 = fd, 1 = fd_conn */
				io_uring_prep_send(sqe, fixed ? conn : conn ? fd_conn : fd, pkt, PKT,
					MSG_DONTWAIT);
				if (!conn)
					io_uring_prep_send_set_addr(sqe, (const struct sockaddr *)dst,
						sizeof(*dst));
				sqe->flags |= IOSQE_CQE_SKIP_SUCCESS | (fixed ? IOSQE_FIXED_FILE : 0);
			}
			if (io_uring_submit(ring) != BATCH)
				die("io_uring_submit", EIO);
			while (io_uring_peek_cqe(ring, &cqe) == 0) {
				if (cqe->res < 0)
					die("send", -cqe->res);
				io_uring_cqe_seen(ring, cqe);
			}
		}
		if (i % 256 == 0)
			drain(rx);
	}
	drain(rx);
}

static void bench_stack(unsigned n, int rounds)
{
	struct sockaddr_in dst, a;
	int rx = udp_socket(&dst), fd = udp_socket(&a), fd_conn = udp_socket(&a);
	struct io_uring ring;
	struct io_uring_params p;
	double r[NV][MAX_ROUNDS];
	int files[2] = { fd, fd_conn }, rc;

	if (connect(fd_conn, (struct sockaddr *)&dst, sizeof(dst)) < 0)
		die("connect", errno);
	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
	if ((rc = io_uring_queue_init_params(256, &ring, &p)) < 0)
		die("io_uring_queue_init", -rc);
	if ((rc = io_uring_register_files(&ring, files, 2)) < 0)
		die("io_uring_register_files", -rc);
	for (int k = 0; k < rounds; k++)
		for (int v = 0; v < NV; v++) {
			double c0 = cpu_s(RUSAGE_SELF);
			stack_round(&ring, v, fd, fd_conn, rx, &dst, n);
			r[v][k] = (cpu_s(RUSAGE_SELF) - c0) / n * 1e6;
		}
	printf("bench: udp_stack_us_per_pkt");
	for (int v = 0; v < NV; v++)
		printf(" %s=%.3f", vname[v], median(r[v], rounds));
	printf("\n");
	io_uring_queue_exit(&ring);
	close(rx);
	close(fd);
	close(fd_conn);
}

/* ---- 2. the wake-up ---- */

struct sender {
	int fd;
	struct sockaddr_in dst;
	unsigned burst, every_us, n;
};

static void *send_main(void *arg)
{
	struct sender *s = arg;
	uint8_t pkt[PKT];
	struct timespec t;

	memset(pkt, 0x80, sizeof(pkt));
	clock_gettime(CLOCK_MONOTONIC, &t);
	for (unsigned i = 0; i < s->n; i += s->burst) {
		for (unsigned j = 0; j < s->burst; j++)
			sendto(s->fd, pkt, sizeof(pkt), 0, (struct sockaddr *)&s->dst,
				sizeof(s->dst));
		t.tv_nsec += (long)s->every_us * 1000;
		while (t.tv_nsec >= 1000000000L) {
			t.tv_nsec -= 1000000000L;
			t.tv_sec++;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL);
	}
	return NULL;
}

static void arm(struct io_uring *ring, int fd, struct msghdr *mh)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	io_uring_prep_recvmsg_multishot(sqe, fd, mh, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = 0;
	io_uring_submit(ring);
}

/* Receiver CPU and switches per packet for one pattern and wait mode. */
static void wake_round(unsigned burst, unsigned every_us, unsigned n, unsigned min_wait_us,
	double *us, double *cs)
{
	struct sockaddr_in dst, a;
	int rx = udp_socket(&dst), tx = udp_socket(&a), rc;
	struct io_uring ring;
	struct io_uring_params p;
	struct io_uring_buf_ring *br;
	struct io_uring_buf_reg reg;
	struct msghdr mh;
	uint8_t *bufs = malloc((size_t)NBUF * BUFSZ);
	size_t br_bytes = NBUF * sizeof(struct io_uring_buf);
	struct sender s = { tx, dst, burst, every_us, n };
	unsigned got = 0, idle = 0;
	pthread_t th;
	double c0;
	long s0;

	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE;
	p.cq_entries = 4096;
	if (!bufs || (rc = io_uring_queue_init_params(256, &ring, &p)) < 0)
		die("io_uring_queue_init", bufs ? -rc : ENOMEM);
	br = mmap(NULL, br_bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	if (br == MAP_FAILED)
		die("mmap", errno);
	memset(&reg, 0, sizeof(reg));
	reg.ring_addr = (uint64_t)(uintptr_t)br;
	reg.ring_entries = NBUF;
	if ((rc = io_uring_register_buf_ring(&ring, &reg, 0)) < 0)
		die("io_uring_register_buf_ring", -rc);
	io_uring_buf_ring_init(br);
	for (int i = 0; i < NBUF; i++)
		io_uring_buf_ring_add(br, bufs + (size_t)i * BUFSZ, BUFSZ, (unsigned short)i,
			io_uring_buf_ring_mask(NBUF), i);
	io_uring_buf_ring_advance(br, NBUF);
	memset(&mh, 0, sizeof(mh));
	mh.msg_namelen = sizeof(struct sockaddr_in);
	arm(&ring, rx, &mh);

	c0 = cpu_s(RUSAGE_THREAD);
	s0 = switches();
	if ((rc = pthread_create(&th, NULL, send_main, &s)) != 0)
		die("pthread_create", rc);
	/* Until all came, or 3 idle 100 ms waits in a row (a lost packet). */
	while (got < n && idle < 3) {
		struct __kernel_timespec ts = { 0, 100000000 };
		struct enter_arg ea;
		struct io_uring_cqe *cqe;
		unsigned head, k = 0;

		memset(&ea, 0, sizeof(ea));
		ea.ts = (uint64_t)(uintptr_t)&ts;
		ea.min_wait_usec = min_wait_us;
		syscall(__NR_io_uring_enter, ring.ring_fd, 0, min_wait_us ? 32 : 1,
			IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG, &ea, sizeof(ea));
		io_uring_for_each_cqe(&ring, head, cqe) {
			k++;
			if (cqe->flags & IORING_CQE_F_BUFFER) {
				unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
				io_uring_buf_ring_add(br, bufs + (size_t)bid * BUFSZ, BUFSZ,
					(unsigned short)bid, io_uring_buf_ring_mask(NBUF), 0);
				io_uring_buf_ring_advance(br, 1);
				got++;
			}
			if (!(cqe->flags & IORING_CQE_F_MORE))
				arm(&ring, rx, &mh);
		}
		io_uring_cq_advance(&ring, k);
		idle = k ? 0 : idle + 1;
	}
	*us = (cpu_s(RUSAGE_THREAD) - c0) / (got ? got : 1) * 1e6;
	*cs = (double)(switches() - s0) / (got ? got : 1);
	pthread_join(th, NULL);
	io_uring_queue_exit(&ring);
	munmap(br, br_bytes);
	free(bufs);
	close(rx);
	close(tx);
}

static void bench_wake(unsigned n, int rounds)
{
	static const struct {
		unsigned burst, every_us;
	} pat[] = { { 1, 200 }, { 1, 50 }, { 8, 200 } };
	enum { NP = sizeof(pat) / sizeof(pat[0]) };
	double us[NP][2][MAX_ROUNDS], cs[NP][2][MAX_ROUNDS];

	for (int k = 0; k < rounds; k++)
		for (int i = 0; i < NP; i++)
			for (int m = 0; m < 2; m++)
				wake_round(pat[i].burst, pat[i].every_us, n, m ? 50 : 0, &us[i][m][k],
					&cs[i][m][k]);
	for (int i = 0; i < NP; i++)
		printf("bench: wake_receiver_us_per_pkt_%ux_every_%uus first_packet=%.2f"
		       " min_wait_50us=%.2f (context switches per packet %.3f, %.3f)\n",
			pat[i].burst, pat[i].every_us, median(us[i][0], rounds),
			median(us[i][1], rounds), median(cs[i][0], rounds), median(cs[i][1], rounds));
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 5;
	FILE *f;
	char load[64] = "?";

	if (rounds < 1 || rounds > MAX_ROUNDS) {
		fprintf(stderr, "usage: bench_udp_wake [ROUNDS 1..%d]\n", MAX_ROUNDS);
		return 2;
	}
	if ((f = fopen("/proc/loadavg", "r"))) {
		if (!fgets(load, sizeof(load), f))
			snprintf(load, sizeof(load), "?");
		fclose(f);
	}
	load[strcspn(load, "\n")] = 0;
	/* Other work on the box moves every figure: say how busy it was. */
	printf("bench_udp_wake: %d interleaved round(s); /proc/loadavg %s\n", rounds, load);
	bench_stack(100000, rounds);
	bench_wake(10000, rounds);
	return 0;
}
