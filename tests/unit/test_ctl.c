/* Unit tests for common/ctl: a real server on a Unix SOCK_SEQPACKET socket
 * in a temporary directory, driven by its own thread, with real clients
 * (and raw sockets for malformed traffic, forked processes for crashes and
 * other users). */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctl.h"
#include "rp_log.h"
#include "rp_time.h"

#define CALL_TIMEOUT 10000 /* ms: a bound, not an assertion */

static char dir[64];
static char sock_path[128];
static rp_arena arena;

struct srv {
	ctl_server *s;
	pthread_t th;
	atomic_bool stop;
};

/* ---- test commands ---- */

static int cmd_echo(ctl_req *r, rp_buf *resp, void *arg)
{
	struct benc_field_err fe;
	rp_str text;

	if (benc_get_str(ctl_req_args(r), "text", &text, &fe))
		return ctl_req_field_error(r, &fe);
	return benc_put_kv_str(resp, "text", text);
}

static int cmd_fail(ctl_req *r, rp_buf *resp, void *arg)
{
	benc_put_kv_cstr(resp, "partial", "must not be sent");
	return ctl_req_error(r, "nope: session %s not found", "abc");
}

static int cmd_boom(ctl_req *r, rp_buf *resp, void *arg)
{
	return -EIO;
}

static int cmd_big(ctl_req *r, rp_buf *resp, void *arg)
{
	char chunk[1024];

	memset(chunk, 'x', sizeof(chunk));
	for (int i = 0; i < 200; i++) {
		char k[16];

		snprintf(k, sizeof(k), "k%d", i);
		benc_put_kv_str(resp, k, rp_str_make(chunk, sizeof(chunk)));
	}
	return 0;
}

static int cmd_fire(ctl_req *r, rp_buf *resp, void *arg)
{
	rp_str callid = RP_STR_LIT("none");
	int64_t count = 1;
	int sent = 0;
	rp_buf f;

	benc_get_str(ctl_req_args(r), "call-id", &callid, NULL);
	benc_get_int(ctl_req_args(r), "count", 1, 100000, &count, NULL);
	rp_buf_init(&f, 0);
	benc_put_kv_str(&f, "call-id", callid);
	benc_put_kv_int(&f, "idle-ms", 60000);
	for (int64_t i = 0; i < count; i++)
		sent = ctl_server_emit(ctl_req_server(r), "media-timeout", &f);
	rp_buf_free(&f);
	if (sent < 0)
		return sent;
	return benc_put_kv_int(resp, "sent", sent);
}

static int cmd_nclients(ctl_req *r, rp_buf *resp, void *arg)
{
	return benc_put_kv_int(resp, "clients", (int64_t)ctl_server_clients(ctl_req_server(r)));
}

static const struct ctl_command test_cmds[] = {
	{ "echo", cmd_echo, "echo text=<string>", "echo the text back", CTL_ACCESS_READ, NULL },
	{ "fail", cmd_fail, "fail", "always fails with a reason", CTL_ACCESS_ADMIN, NULL },
	{ "boom", cmd_boom, "boom", "fails without a reason", CTL_ACCESS_READ, NULL },
	{ "big", cmd_big, "big", "answers more than the limit", CTL_ACCESS_READ, NULL },
	{ "fire", cmd_fire, "fire [call-id=<string>] [count=<int>]", "emit media-timeout",
	  CTL_ACCESS_ADMIN, NULL },
	{ "nclients", cmd_nclients, "nclients", "connected clients", CTL_ACCESS_READ, NULL },
};

static void *server_thread(void *arg)
{
	struct srv *sv = arg;
	uint64_t deadline = rp_now_ms() + 120000;

	/* Bounded in time even if a test forgets to stop it. */
	while (!atomic_load(&sv->stop) && rp_now_ms() < deadline)
		ck_assert_int_eq(ctl_server_run_once(sv->s, 20), 0);
	return NULL;
}

static void start_server_opts(struct srv *sv, mode_t mode, gid_t gid,
			      const struct ctl_server_opts *o)
{
	struct ctl_server_opts def = { .name = "test-daemon", .software = "9.9" };

	ck_assert_int_eq(ctl_server_listen(sock_path, mode, gid, o ? o : &def, &sv->s), 0);
	ck_assert_int_eq(ctl_server_register(sv->s, test_cmds,
					     sizeof(test_cmds) / sizeof(test_cmds[0])), 0);
	ck_assert_int_eq(ctl_server_add_event(sv->s, "media-timeout", "no media for a while"), 0);
	ck_assert_int_eq(ctl_server_add_event(sv->s, "stats", "periodic counters"), 0);
	atomic_store(&sv->stop, false);
	ck_assert_int_eq(pthread_create(&sv->th, NULL, server_thread, sv), 0);
}

static void start_server(struct srv *sv)
{
	start_server_opts(sv, 0, (gid_t)-1, NULL);
}

static void stop_server(struct srv *sv)
{
	atomic_store(&sv->stop, true);
	pthread_join(sv->th, NULL);
	ctl_server_free(sv->s);
	sv->s = NULL;
}

static void setup(void)
{
	strcpy(dir, "/tmp/rp_ctl_XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(sock_path, sizeof(sock_path), "%s/ctl.sock", dir);
	rp_arena_init(&arena, NULL, 0, 0);
	rp_log_open(RP_LOG_STDERR, "test_ctl", RP_LOG_ERR);
}

static void teardown(void)
{
	char p[160];

	rp_arena_fini(&arena);
	unlink(sock_path);
	snprintf(p, sizeof(p), "%s/plain", dir);
	unlink(p);
	rmdir(dir);
}

static ctl_client *connect_client(void)
{
	ctl_client *c = NULL;

	ck_assert_int_eq(ctl_client_connect(sock_path, 0, &c), 0);
	return c;
}

/* Calls and expects result=error with a reason containing 'want'. */
static void expect_remote_error(ctl_client *c, const char *cmd, const rp_buf *args,
				const char *want)
{
	const benc_node *resp = NULL;
	int rc = ctl_call(c, cmd, args, &arena, &resp, CALL_TIMEOUT);
	rp_str reason;

	ck_assert_int_eq(rc, -EREMOTEIO);
	reason = ctl_resp_reason(resp);
	ck_assert_msg(memmem(reason.p, reason.n, want, strlen(want)) != NULL,
		      "reason '%.*s' lacks '%s'", (int)reason.n, reason.p, want);
	/* Partial handler output never leaks into an error response. */
	ck_assert_ptr_null(benc_dict_get(resp, "partial"));
}

static int64_t call_nclients(ctl_client *c)
{
	const benc_node *resp;
	int64_t v = -1;

	ck_assert_int_eq(ctl_call(c, "nclients", NULL, &arena, &resp, CALL_TIMEOUT), 0);
	ck_assert_int_eq(benc_get_int(resp, "clients", 0, 1000, &v, NULL), 0);
	return v;
}

/* Waits (bounded) until the server counts 'want' clients. */
static void wait_nclients(ctl_client *c, int64_t want)
{
	int64_t n = -1;

	for (int i = 0; i < 500 && n != want; i++) {
		n = call_nclients(c);
		if (n != want)
			usleep(10000);
	}
	ck_assert_int_eq(n, want);
}

/* ---- raw socket helpers for traffic the client library never sends ---- */

static int raw_connect(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	int sndbuf = 1 << 20;
	struct timeval tv = { .tv_sec = 10 };

	ck_assert_int_ge(fd, 0);
	strcpy(sa.sun_path, sock_path);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static const benc_node *raw_exchange(int fd, const char *msg, size_t len)
{
	static char buf[65536];
	benc_node *root;
	ssize_t n;
	char *copy;

	ck_assert_int_eq(send(fd, msg, len, MSG_NOSIGNAL), (ssize_t)len);
	n = recv(fd, buf, sizeof(buf), 0);
	ck_assert_int_gt(n, 0);
	copy = rp_arena_alloc(&arena, (size_t)n);
	memcpy(copy, buf, (size_t)n);
	ck_assert_int_eq(benc_decode(copy, (size_t)n, &arena, NULL, &root, NULL, NULL), BENC_OK);
	ck_assert_int_eq(root->type, BENC_DICT);
	return root;
}

static void expect_raw_error(int fd, const char *msg, size_t len, const char *cookie,
			     const char *want)
{
	const benc_node *r = raw_exchange(fd, msg, len);
	rp_str reason = ctl_resp_reason(r);

	ck_assert(benc_str_eq(benc_dict_get(r, "result"), "error"));
	ck_assert_msg(memmem(reason.p, reason.n, want, strlen(want)) != NULL,
		      "reason '%.*s' lacks '%s'", (int)reason.n, reason.p, want);
	if (cookie)
		ck_assert(benc_str_eq(benc_dict_get(r, "cookie"), cookie));
	else
		ck_assert_ptr_null(benc_dict_get(r, "cookie"));
}
#define RAW_ERR(fd, lit, cookie, want) expect_raw_error(fd, lit, sizeof(lit) - 1, cookie, want)

/* ------------------------------------------------------------------ tests */

START_TEST(test_ping_hello_commands)
{
	struct srv sv;
	ctl_client *c;
	const benc_node *resp, *list;
	int64_t v;
	rp_str s;
	bool found_echo = false, found_builtin = false;

	start_server(&sv);
	c = connect_client();
	ck_assert_int_eq(ctl_call(c, "ping", NULL, &arena, &resp, CALL_TIMEOUT), 0);
	ck_assert(benc_str_eq(benc_dict_get(resp, "result"), "ok"));
	ck_assert_ptr_nonnull(benc_dict_get(resp, "cookie"));

	ck_assert_int_eq(ctl_call(c, "hello", NULL, &arena, &resp, CALL_TIMEOUT), 0);
	ck_assert_int_eq(benc_get_int(resp, "version", 0, 100, &v, NULL), 0);
	ck_assert_int_eq(v, CTL_VERSION_MAJOR);
	ck_assert_int_eq(benc_get_str(resp, "server", &s, NULL), 0);
	ck_assert(rp_str_eq_cstr(s, "test-daemon"));
	ck_assert_int_eq(benc_get_str(resp, "software", &s, NULL), 0);
	ck_assert(rp_str_eq_cstr(s, "9.9"));
	ck_assert_int_eq(benc_get_int(resp, "max-message", 0, INT64_MAX, &v, NULL), 0);
	ck_assert_int_eq(v, CTL_DEFAULT_MAX_MSG);
	/* The test runs as the socket's owner: admin. */
	ck_assert(benc_str_eq(benc_dict_get(resp, "access"), "admin"));
	ck_assert_int_eq(benc_get_list(resp, "events", &list, NULL), 0);
	ck_assert_uint_eq(list->u.c.count, 2);
	ck_assert(benc_str_eq(list->u.c.first, "media-timeout"));

	ck_assert_int_eq(ctl_call(c, "commands", NULL, &arena, &resp, CALL_TIMEOUT), 0);
	ck_assert_int_eq(benc_get_list(resp, "commands", &list, NULL), 0);
	BENC_FOREACH(cmd, list) {
		if (benc_str_eq(benc_dict_get(cmd, "name"), "echo")) {
			found_echo = true;
			ck_assert(benc_str_eq(benc_dict_get(cmd, "usage"), "echo text=<string>"));
			ck_assert(benc_str_eq(benc_dict_get(cmd, "access"), "read"));
		}
		if (benc_str_eq(benc_dict_get(cmd, "name"), "subscribe"))
			found_builtin = true;
	}
	ck_assert(found_echo && found_builtin);
	ctl_client_close(c);
	stop_server(&sv);
	/* The socket file goes with the server. */
	ck_assert_int_ne(access(sock_path, F_OK), 0);
}
END_TEST

START_TEST(test_unknown_command_and_handler_errors)
{
	struct srv sv;
	ctl_client *c;
	const benc_node *resp;
	rp_buf args;
	rp_str s;

	start_server(&sv);
	c = connect_client();
	expect_remote_error(c, "nosuch", NULL, "unknown command 'nosuch'");
	expect_remote_error(c, "echo", NULL, "missing field 'text'");
	rp_buf_init(&args, 0);
	benc_put_kv_int(&args, "text", 5);
	expect_remote_error(c, "echo", &args, "field 'text' must be a string, not an integer");
	expect_remote_error(c, "fail", NULL, "nope: session abc not found");
	expect_remote_error(c, "boom", NULL, "internal error in 'boom': Input/output error");
	expect_remote_error(c, "big", NULL, "response to 'big' too large");
	/* Still fine afterwards, with binary-safe strings. */
	rp_buf_reset(&args);
	benc_put_kv_str(&args, "text", rp_str_make("a\0b\xff", 4));
	ck_assert_int_eq(ctl_call(c, "echo", &args, &arena, &resp, CALL_TIMEOUT), 0);
	ck_assert_int_eq(benc_get_str(resp, "text", &s, NULL), 0);
	ck_assert(rp_str_eq(s, rp_str_make("a\0b\xff", 4)));
	rp_buf_free(&args);
	ctl_client_close(c);
	stop_server(&sv);
}
END_TEST

START_TEST(test_malformed_requests)
{
	struct srv sv;
	int fd;
	const benc_node *r;

	start_server(&sv);
	fd = raw_connect();
	/* Truncated bencode, cookie recovered from the readable prefix. */
	RAW_ERR(fd, "d6:cookie2:c17:command4:pi", "c1", "malformed request: truncated input at byte 26");
	RAW_ERR(fd, "d7:command4:ping", NULL, "malformed request: truncated input");
	RAW_ERR(fd, "d7:command4:pingei1e", NULL, "trailing bytes");
	/* Best effort: the first cookie in a bad message is echoed. */
	RAW_ERR(fd, "d6:cookie1:a6:cookie1:be", "a", "duplicate dictionary key");
	RAW_ERR(fd, "i1e", NULL, "a request is a dictionary, not an integer");
	RAW_ERR(fd, "l4:pinge", NULL, "a request is a dictionary, not a list");
	RAW_ERR(fd, "d7:command4:pinge", NULL, "missing field 'cookie'");
	RAW_ERR(fd, "d7:command4:ping6:cookiei7ee", NULL,
		"field 'cookie' must be a string, not an integer");
	RAW_ERR(fd, "d6:cookie2:c2e", "c2", "missing field 'command'");
	RAW_ERR(fd, "d6:cookie2:c37:commandi1ee", "c3", "field 'command' must be a string");
	RAW_ERR(fd, "d6:cookie2:c47:command4:ping7:versioni2ee", "c4",
		"unsupported protocol version 2: this server speaks version 1");
	RAW_ERR(fd, "d6:cookie2:c57:command4:ping7:version1:1e", "c5",
		"field 'version' must be an integer");
	/* The same connection still works, keys in any order. */
	r = raw_exchange(fd, "d7:versioni1e7:command4:ping6:cookie2:c6e", 41);
	ck_assert(benc_str_eq(benc_dict_get(r, "result"), "ok"));
	ck_assert(benc_str_eq(benc_dict_get(r, "cookie"), "c6"));
	close(fd);
	stop_server(&sv);
}
END_TEST

START_TEST(test_oversized_message)
{
	struct srv sv;
	struct ctl_server_opts o = { .name = "small", .max_msg = 4096 };
	ctl_client *c;
	const benc_node *resp;
	rp_buf big;
	char *msg;
	int fd;
	size_t len = 100000;

	start_server_opts(&sv, 0, (gid_t)-1, &o);
	/* Raw: 100 kB request, cookie near the start. */
	msg = malloc(len);
	memset(msg, 'x', len);
	memcpy(msg, "d6:cookie3:big4:text99973:", 26);
	msg[len - 1] = 'e';
	fd = raw_connect();
	expect_raw_error(fd, msg, len, "big", "request too large: 100000 bytes, the limit is 4096");
	close(fd);
	free(msg);

	/* Through the client: the server's error still matches the call. */
	c = connect_client();
	rp_buf_init(&big, 0);
	char chunk[8000];
	memset(chunk, 'y', sizeof(chunk));
	benc_put_kv_str(&big, "text", rp_str_make(chunk, sizeof(chunk)));
	ck_assert_int_eq(ctl_call(c, "echo", &big, &arena, &resp, CALL_TIMEOUT), -EREMOTEIO);
	rp_str why = ctl_resp_reason(resp);
	ck_assert_ptr_nonnull(memmem(why.p, why.n, "request too large", 17));
	/* A request over the client's own limit is refused locally. */
	rp_buf_reset(&big);
	char *huge = calloc(1, 70000);
	benc_put_kv_str(&big, "text", rp_str_make(huge, 70000));
	ck_assert_int_eq(ctl_call(c, "echo", &big, &arena, &resp, CALL_TIMEOUT), -EMSGSIZE);
	free(huge);
	/* And the connection is still usable. */
	ck_assert_int_eq(ctl_call(c, "ping", NULL, &arena, &resp, CALL_TIMEOUT), 0);
	rp_buf_free(&big);
	ctl_client_close(c);
	stop_server(&sv);
}
END_TEST

START_TEST(test_several_clients)
{
	enum { NC = 6 };
	struct srv sv;
	ctl_client *c[NC];
	rp_buf args;

	start_server(&sv);
	for (int i = 0; i < NC; i++)
		c[i] = connect_client();
	wait_nclients(c[0], NC);
	rp_buf_init(&args, 0);
	for (int round = 0; round < 20; round++) {
		for (int i = 0; i < NC; i++) {
			const benc_node *resp;
			char text[32];
			rp_str got;

			snprintf(text, sizeof(text), "client %d round %d", i, round);
			rp_buf_reset(&args);
			benc_put_kv_cstr(&args, "text", text);
			ck_assert_int_eq(ctl_call(c[i], "echo", &args, &arena, &resp, CALL_TIMEOUT), 0);
			ck_assert_int_eq(benc_get_str(resp, "text", &got, NULL), 0);
			ck_assert(rp_str_eq_cstr(got, text));
		}
		rp_arena_reset(&arena);
	}
	rp_buf_free(&args);
	for (int i = NC - 1; i > 0; i--)
		ctl_client_close(c[i]);
	wait_nclients(c[0], 1);
	ctl_client_close(c[0]);
	stop_server(&sv);
}
END_TEST

START_TEST(test_client_crash)
{
	struct srv sv;
	ctl_client *c;
	pid_t pid;
	int status;

	start_server(&sv);
	/* A survivor, connected through the whole test. */
	c = connect_client();
	ck_assert_int_eq(call_nclients(c), 1);

	/* A client that fires requests it never reads, then dies mid-stream. */
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		ctl_client_close(c); /* the child's copy only */
		int fd = raw_connect();
		const char req[] = "d7:command4:ping6:cookie1:xe";

		for (int i = 0; i < 200; i++)
			if (send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) < 0)
				break;
		/* Half a message's worth of intent, then gone. */
		send(fd, "d7:comm", 7, MSG_NOSIGNAL);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);

	/* A client killed by a signal while the server owes it an answer. */
	int sync[2];
	ck_assert_int_eq(pipe(sync), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		ctl_client_close(c);
		int fd = raw_connect();
		const char req[] = "d7:command4:ping6:cookie1:ye";

		send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL);
		if (write(sync[1], "r", 1) != 1)
			_exit(1);
		for (int i = 0; i < 1000; i++)
			pause();
		_exit(0);
	}
	char ch;
	ck_assert_int_eq(read(sync[0], &ch, 1), 1);
	kill(pid, SIGKILL);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFSIGNALED(status));
	close(sync[0]);
	close(sync[1]);

	/* The survivor is unaffected and the dead ones are gone. */
	wait_nclients(c, 1);
	const benc_node *resp;
	ck_assert_int_eq(ctl_call(c, "ping", NULL, &arena, &resp, CALL_TIMEOUT), 0);
	ctl_client_close(c);
	stop_server(&sv);
}
END_TEST

START_TEST(test_events)
{
	struct srv sv;
	ctl_client *a, *b, *quiet;
	const benc_node *resp, *ev, *list;
	rp_buf args;
	int64_t sent;
	rp_str s;

	start_server(&sv);
	a = connect_client();
	b = connect_client();
	quiet = connect_client();
	rp_buf_init(&args, 0);

	/* Unknown event names are refused, with a hint. */
	benc_put_kv_list(&args, "events");
	benc_put_cstr(&args, "no-such-event");
	benc_put_end(&args);
	expect_remote_error(a, "subscribe", &args, "unknown event 'no-such-event'");

	rp_buf_reset(&args);
	benc_put_kv_list(&args, "events");
	benc_put_cstr(&args, "media-timeout");
	benc_put_end(&args);
	ck_assert_int_eq(ctl_call(a, "subscribe", &args, &arena, &resp, CALL_TIMEOUT), 0);
	ck_assert_int_eq(benc_get_list(resp, "events", &list, NULL), 0);
	ck_assert_uint_eq(list->u.c.count, 1);

	/* b fires; a (subscribed) gets it, quiet does not. */
	rp_buf_reset(&args);
	benc_put_kv_cstr(&args, "call-id", "call-1@example");
	ck_assert_int_eq(ctl_call(b, "fire", &args, &arena, &resp, CALL_TIMEOUT), 0);
	ck_assert_int_eq(benc_get_int(resp, "sent", 0, 100, &sent, NULL), 0);
	ck_assert_int_eq(sent, 1);
	ck_assert_int_eq(ctl_client_next_event(a, &arena, &ev, CALL_TIMEOUT), 0);
	ck_assert(benc_str_eq(benc_dict_get(ev, "event"), "media-timeout"));
	ck_assert_int_eq(benc_get_str(ev, "call-id", &s, NULL), 0);
	ck_assert(rp_str_eq_cstr(s, "call-1@example"));
	/* The server sent every event before answering b: nothing is late. */
	ck_assert_int_eq(ctl_client_next_event(quiet, &arena, &ev, 0), -EAGAIN);
	ck_assert_int_eq(ctl_client_next_event(a, &arena, &ev, 0), -EAGAIN);

	/* An event arriving while a waits for a response is queued, not lost,
	 * and does not disturb the call. */
	rp_buf_reset(&args);
	benc_put_kv_cstr(&args, "call-id", "call-2@example");
	ck_assert_int_eq(ctl_call(b, "fire", &args, &arena, &resp, CALL_TIMEOUT), 0);
	ck_assert_int_eq(ctl_call(a, "ping", NULL, &arena, &resp, CALL_TIMEOUT), 0);
	ck_assert(benc_str_eq(benc_dict_get(resp, "result"), "ok"));
	ck_assert_int_eq(ctl_client_next_event(a, &arena, &ev, 0), 0);
	ck_assert_int_eq(benc_get_str(ev, "call-id", &s, NULL), 0);
	ck_assert(rp_str_eq_cstr(s, "call-2@example"));

	/* Subscribing to everything (no list), then unsubscribing. */
	ck_assert_int_eq(ctl_call(quiet, "subscribe", NULL, &arena, &resp, CALL_TIMEOUT), 0);
	ck_assert_int_eq(benc_get_list(resp, "events", &list, NULL), 0);
	ck_assert_uint_eq(list->u.c.count, 2);
	ck_assert_int_eq(ctl_call(a, "unsubscribe", NULL, &arena, &resp, CALL_TIMEOUT), 0);
	ck_assert_int_eq(ctl_call(b, "fire", NULL, &arena, &resp, CALL_TIMEOUT), 0);
	ck_assert_int_eq(benc_get_int(resp, "sent", 0, 100, &sent, NULL), 0);
	ck_assert_int_eq(sent, 1);
	ck_assert_int_eq(ctl_client_next_event(quiet, &arena, &ev, CALL_TIMEOUT), 0);
	ck_assert_int_eq(ctl_client_next_event(a, &arena, &ev, 0), -EAGAIN);

	rp_buf_free(&args);
	ctl_client_close(a);
	ctl_client_close(b);
	ctl_client_close(quiet);
	stop_server(&sv);
}
END_TEST

START_TEST(test_slow_subscriber_dropped)
{
	struct srv sv;
	struct ctl_server_opts o = { .name = "q", .max_queue = 16384 };
	ctl_client *slow, *b;
	const benc_node *resp;
	rp_buf args;

	start_server_opts(&sv, 0, (gid_t)-1, &o);
	slow = connect_client();
	b = connect_client();
	ck_assert_int_eq(ctl_call(slow, "subscribe", NULL, &arena, &resp, CALL_TIMEOUT), 0);
	/* 20,000 events that 'slow' never reads: its socket buffer fills, its
	 * queue hits the cap, and the server drops it instead of growing. */
	rp_buf_init(&args, 0);
	benc_put_kv_int(&args, "count", 20000);
	ck_assert_int_eq(ctl_call(b, "fire", &args, &arena, &resp, CALL_TIMEOUT), 0);
	wait_nclients(b, 1);
	ck_assert_int_eq(ctl_call(b, "ping", NULL, &arena, &resp, CALL_TIMEOUT), 0);
	rp_buf_free(&args);
	ctl_client_close(slow);
	ctl_client_close(b);
	stop_server(&sv);
}
END_TEST

START_TEST(test_max_clients)
{
	struct srv sv;
	struct ctl_server_opts o = { .name = "few", .max_clients = 2 };
	ctl_client *a, *b;
	int fd;
	char buf[512];
	ssize_t n;

	start_server_opts(&sv, 0, (gid_t)-1, &o);
	a = connect_client();
	b = connect_client();
	wait_nclients(a, 2);
	fd = raw_connect();
	n = recv(fd, buf, sizeof(buf), 0);
	ck_assert_int_gt(n, 0);
	ck_assert_ptr_nonnull(memmem(buf, (size_t)n, "too many control clients", 24));
	/* Then closed. */
	ck_assert_int_eq(recv(fd, buf, sizeof(buf), 0), 0);
	close(fd);
	ctl_client_close(b);
	wait_nclients(a, 1);
	ctl_client_close(a);
	stop_server(&sv);
}
END_TEST

START_TEST(test_socket_file_permissions)
{
	struct srv sv;
	ctl_server *s2 = NULL;
	struct stat st;
	char plain[160];

	/* Default 0660. */
	start_server(&sv);
	ck_assert_int_eq(lstat(sock_path, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 07777, 0660);
	/* A second server on a live socket is refused and leaves it alone. */
	ck_assert_int_eq(ctl_server_listen(sock_path, 0, (gid_t)-1, NULL, &s2), -EADDRINUSE);
	ck_assert_int_eq(lstat(sock_path, &st), 0);
	stop_server(&sv);

	/* Explicit mode and group (any gid works for root; else our own). */
	gid_t gid = geteuid() == 0 ? 12345 : getegid();
	start_server_opts(&sv, 0600, gid, NULL);
	ck_assert_int_eq(lstat(sock_path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	ck_assert_uint_eq(st.st_gid, gid);
	stop_server(&sv);

	/* A stale socket file (nothing listening) is replaced. */
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	strcpy(sa.sun_path, sock_path);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	ck_assert_int_eq(lstat(sock_path, &st), 0);
	start_server(&sv);
	ctl_client *c = connect_client();
	const benc_node *resp;
	ck_assert_int_eq(ctl_call(c, "ping", NULL, &arena, &resp, CALL_TIMEOUT), 0);
	ctl_client_close(c);
	stop_server(&sv);

	/* Something that is not a socket is never removed. */
	snprintf(plain, sizeof(plain), "%s/plain", dir);
	fd = open(plain, O_CREAT | O_WRONLY, 0600);
	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(ctl_server_listen(plain, 0, (gid_t)-1, NULL, &s2), -EEXIST);
	ck_assert_int_eq(lstat(plain, &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	/* No temporary file is left behind on failure. */
	char tmp[200];
	snprintf(tmp, sizeof(tmp), "%s.%d", plain, (int)getpid());
	ck_assert_int_ne(access(tmp, F_OK), 0);
	/* A path too long for sun_path. */
	char longp[200];
	memset(longp, 'a', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = '\0';
	ck_assert_int_eq(ctl_server_listen(longp, 0, (gid_t)-1, NULL, &s2), -ENAMETOOLONG);
}
END_TEST

START_TEST(test_other_user_gets_read_access)
{
	struct srv sv;
	pid_t pid;
	int status;

	if (geteuid() != 0)
		return; /* needs root to become another user */
	/* World-connectable for this test only. */
	start_server_opts(&sv, 0666, (gid_t)-1, NULL);
	chmod(dir, 0755);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		ctl_client *c;
		const benc_node *resp;
		rp_arena a;
		rp_str why;

		rp_arena_init(&a, NULL, 0, 0);
		if (setgid(65534) || setuid(65534))
			_exit(10);
		if (ctl_client_connect(sock_path, 0, &c))
			_exit(11);
		if (ctl_call(c, "hello", NULL, &a, &resp, CALL_TIMEOUT) ||
		    !benc_str_eq(benc_dict_get(resp, "access"), "read"))
			_exit(12);
		/* Read commands work, admin commands are refused. */
		if (ctl_call(c, "ping", NULL, &a, &resp, CALL_TIMEOUT))
			_exit(13);
		if (ctl_call(c, "fail", NULL, &a, &resp, CALL_TIMEOUT) != -EREMOTEIO)
			_exit(14);
		why = ctl_resp_reason(resp);
		if (!memmem(why.p, why.n, "permission denied: 'fail' needs admin access", 44))
			_exit(15);
		ctl_client_close(c);
		rp_arena_fini(&a);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	stop_server(&sv);
}
END_TEST

START_TEST(test_read_only_socket)
{
	struct srv sv;
	struct ctl_server_opts o = { .name = "test-daemon", .software = "9.9",
		.read_only = true, .start_ms = rp_now_ms() - 5000 };
	ctl_client *c;
	const benc_node *resp;
	int64_t v;
	rp_str why;

	/* Even the socket's owner (this test) only reads on a read-only socket. */
	start_server_opts(&sv, 0, (gid_t)-1, &o);
	c = connect_client();
	ck_assert_int_eq(ctl_call(c, "hello", NULL, &arena, &resp, CALL_TIMEOUT), 0);
	ck_assert(benc_str_eq(benc_dict_get(resp, "access"), "read"));
	ck_assert_int_eq(benc_get_int(resp, "read-only", 0, 1, &v, NULL), 0);
	ck_assert_int_eq(v, 1);
	/* uptime-s counts from the daemon's start given in the options. */
	ck_assert_int_eq(benc_get_int(resp, "uptime-s", 0, INT64_MAX, &v, NULL), 0);
	ck_assert_int_ge(v, 5);
	ck_assert_int_le(v, 100);
	ck_assert_int_eq(ctl_call(c, "ping", NULL, &arena, &resp, CALL_TIMEOUT), 0);
	ck_assert_int_eq(ctl_call(c, "fail", NULL, &arena, &resp, CALL_TIMEOUT), -EREMOTEIO);
	why = ctl_resp_reason(resp);
	ck_assert_ptr_nonnull(memmem(why.p, why.n, "read-only control socket", 24));
	ctl_client_close(c);
	stop_server(&sv);

	/* The same owner on an ordinary socket is admin, hello says not read-only. */
	start_server(&sv);
	c = connect_client();
	ck_assert_int_eq(ctl_call(c, "hello", NULL, &arena, &resp, CALL_TIMEOUT), 0);
	ck_assert(benc_str_eq(benc_dict_get(resp, "access"), "admin"));
	ck_assert_int_eq(benc_get_int(resp, "read-only", 0, 1, &v, NULL), 0);
	ck_assert_int_eq(v, 0);
	ck_assert_int_eq(benc_get_int(resp, "uptime-s", 0, INT64_MAX, &v, NULL), 0);
	ck_assert_int_le(v, 60);
	ctl_client_close(c);
	stop_server(&sv);
}
END_TEST

START_TEST(test_registration_rules)
{
	ctl_server *s = NULL;
	static const struct ctl_command dup[] = {
		{ "ping", cmd_boom, "ping", "dup of a builtin", CTL_ACCESS_READ, NULL },
	};
	static const struct ctl_command twice[] = {
		{ "x", cmd_boom, "x", "", CTL_ACCESS_READ, NULL },
		{ "x", cmd_boom, "x", "", CTL_ACCESS_READ, NULL },
	};
	static const struct ctl_command nofn[] = {
		{ "y", NULL, "y", "", CTL_ACCESS_READ, NULL },
	};

	ck_assert_int_eq(ctl_server_listen(sock_path, 0, (gid_t)-1, NULL, &s), 0);
	ck_assert_int_eq(ctl_server_register(s, dup, 1), -EEXIST);
	ck_assert_int_eq(ctl_server_register(s, twice, 2), -EEXIST);
	ck_assert_int_eq(ctl_server_register(s, nofn, 1), -EINVAL);
	ck_assert_int_eq(ctl_server_register(s, test_cmds, 1), 0);
	ck_assert_int_eq(ctl_server_add_event(s, "e", NULL), 0);
	ck_assert_int_eq(ctl_server_add_event(s, "e", NULL), -EEXIST);
	ck_assert_int_eq(ctl_server_add_event(s, "", NULL), -EINVAL);
	ck_assert_int_eq(ctl_server_emit(s, "unknown", NULL), -ENOENT);
	ck_assert_int_eq(ctl_server_emit(s, "e", NULL), 0);
	ck_assert_int_ge(ctl_server_fd(s), 0);
	ctl_server_free(s);
	/* Nothing listening: the client says so. */
	ctl_client *c = NULL;
	ck_assert_int_eq(ctl_client_connect(sock_path, 0, &c), -ENOENT);
	ck_assert_ptr_null(c);
}
END_TEST

START_TEST(test_server_gone)
{
	struct srv sv;
	ctl_client *c;
	const benc_node *resp;

	start_server(&sv);
	c = connect_client();
	ck_assert_int_eq(ctl_call(c, "ping", NULL, &arena, &resp, CALL_TIMEOUT), 0);
	stop_server(&sv);
	ck_assert_int_eq(ctl_call(c, "ping", NULL, &arena, &resp, CALL_TIMEOUT), -ECONNRESET);
	ck_assert_int_eq(ctl_client_next_event(c, &arena, &resp, 0), -ECONNRESET);
	ctl_client_close(c);
}
END_TEST

START_TEST(test_call_timeout_then_late_answer_discarded)
{
	/* A server that is not being driven: the call times out; once driven,
	 * the late answer is discarded and the next call gets its own. */
	ctl_server *s = NULL;
	ctl_client *c;
	const benc_node *resp;
	struct srv sv;

	ck_assert_int_eq(ctl_server_listen(sock_path, 0, (gid_t)-1, NULL, &s), 0);
	ck_assert_int_eq(ctl_server_register(s, test_cmds, 1), 0);
	c = connect_client();
	ck_assert_int_eq(ctl_call(c, "ping", NULL, &arena, &resp, 50), -ETIMEDOUT);
	sv.s = s;
	atomic_store(&sv.stop, false);
	ck_assert_int_eq(pthread_create(&sv.th, NULL, server_thread, &sv), 0);
	rp_buf args;
	rp_buf_init(&args, 0);
	benc_put_kv_cstr(&args, "text", "second");
	ck_assert_int_eq(ctl_call(c, "echo", &args, &arena, &resp, CALL_TIMEOUT), 0);
	ck_assert(benc_str_eq(benc_dict_get(resp, "text"), "second"));
	rp_buf_free(&args);
	ctl_client_close(c);
	stop_server(&sv);
}
END_TEST

static Suite *ctl_suite(void)
{
	Suite *s = suite_create("ctl");
	TCase *tc = tcase_create("socket");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_ping_hello_commands);
	tcase_add_test(tc, test_unknown_command_and_handler_errors);
	tcase_add_test(tc, test_malformed_requests);
	tcase_add_test(tc, test_oversized_message);
	tcase_add_test(tc, test_several_clients);
	tcase_add_test(tc, test_client_crash);
	tcase_add_test(tc, test_events);
	tcase_add_test(tc, test_slow_subscriber_dropped);
	tcase_add_test(tc, test_max_clients);
	tcase_add_test(tc, test_socket_file_permissions);
	tcase_add_test(tc, test_other_user_gets_read_access);
	tcase_add_test(tc, test_read_only_socket);
	tcase_add_test(tc, test_registration_rules);
	tcase_add_test(tc, test_server_gone);
	tcase_add_test(tc, test_call_timeout_then_late_answer_discarded);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(ctl_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
