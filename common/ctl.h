/* ctl: the control protocol (docs/control-protocol.md) over Unix
 * SOCK_SEQPACKET sockets, server and client side.
 *
 * One message = one datagram = one bencode dictionary. A request carries
 * "command" and "cookie" (and optionally "version"); its response echoes
 * "cookie" and carries "result" ("ok" or "error") and, on error,
 * "error-reason". Events are unsolicited messages with "event" instead of
 * "result", sent to clients that subscribed.
 *
 * Server: ctl_server_listen() creates the socket file (mode 0660 by default,
 * optional group), commands are registered from a table (name, handler,
 * usage, help, access level) that drives dispatch and the built-in
 * "commands" list. The server is driven from the owner's event loop:
 * ctl_server_fd() is one pollable fd (an epoll set holding the listening
 * socket and every client); when it is readable call ctl_server_handle().
 * ctl_server_run_once() does the poll itself (tests, simple tools).
 * A server is single-threaded: call every ctl_server_* function, including
 * ctl_server_emit(), from the thread that drives it.
 *
 * Client: ctl_client_connect(), then ctl_call() sends a request and waits
 * for the response with its cookie; events that arrive meanwhile are
 * queued for ctl_client_next_event(). A client is single-threaded too.
 */
#ifndef CTL_H
#define CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "benc.h"
#include "rp_arena.h"
#include "rp_buf.h"
#include "rp_str.h"

/* Protocol version: requests carrying another major version are refused;
 * minor versions only add optional fields and commands. */
#define CTL_VERSION_MAJOR 1
#define CTL_VERSION_MINOR 0
/* Largest message either side accepts unless configured otherwise. */
#define CTL_DEFAULT_MAX_MSG (64 * 1024)
/* Longest cookie accepted (bytes). */
#define CTL_MAX_COOKIE 256
/* Most events a server can register. */
#define CTL_MAX_EVENTS 64

enum ctl_access {
	CTL_ACCESS_READ = 0,  /* queries: status, lists, statistics */
	CTL_ACCESS_ADMIN = 1, /* anything that changes state */
};

/* "read" / "admin". */
const char *ctl_access_name(enum ctl_access a);

typedef struct ctl_server ctl_server;
typedef struct ctl_req ctl_req;

/* A command handler. It reads the request with ctl_req_args() and appends
 * its result fields as bencode key/value pairs to 'resp' (with benc_put_*;
 * never "cookie" or "result", which the server writes). Return 0 for
 * success; on failure return ctl_req_error(req, ...) (or any negative
 * errno): whatever was appended to resp is then discarded and the client
 * gets result=error with the reason. */
typedef int (*ctl_handler_fn)(ctl_req *req, rp_buf *resp, void *arg);

struct ctl_command {
	const char *name;  /* the "command" value */
	ctl_handler_fn fn;
	const char *usage; /* arguments, e.g. "call-id=<string> [from-tag=<string>]" */
	const char *help;  /* one line: what it does */
	enum ctl_access access;
	void *arg;         /* passed to fn */
};

struct ctl_server_opts {
	const char *name;     /* reported by hello, e.g. "rampart-mediad" */
	const char *software; /* software version reported by hello */
	size_t max_msg;       /* largest request and response; 0 = default */
	unsigned max_clients; /* 0 = 64 */
	size_t max_queue;     /* bytes queued to a slow client before it is
			       * disconnected; 0 = 1 MiB */
	/* Access for peers other than root and the daemon's own user (those
	 * that got in through the socket file's group permission).
	 * Zero-initialised: read-only. */
	enum ctl_access group_access;
	/* A read-only socket: every peer, root and the daemon's own user
	 * included, gets CTL_ACCESS_READ (a changing command is refused with
	 * result=error and an error-reason naming the admin socket's job). */
	bool read_only;
	/* rp_now_ms() when the daemon started, for hello's "uptime-s"; 0 =
	 * when this server was created. */
	uint64_t start_ms;
};

/* Creates the listening socket at 'path' with permissions 'mode' (0 = 0660)
 * and, unless gid is (gid_t)-1, group 'gid'. The file is created under a
 * temporary name, given its mode and group, then renamed into place, so it
 * is never reachable with looser permissions. An existing socket file at
 * 'path' is replaced only if nothing listens on it (stale after a crash);
 * a live one gives -EADDRINUSE and any other kind of file -EEXIST (never
 * removed). The directory should be private to the daemon (e.g. /run/rampart).
 * opts may be NULL. Returns 0 or a negative errno; free with
 * ctl_server_free(). Built-in commands: ping, hello, commands, subscribe,
 * unsubscribe. */
int ctl_server_listen(const char *path, mode_t mode, gid_t gid,
		      const struct ctl_server_opts *opts, ctl_server **out);
/* Closes every connection and the socket, and removes the socket file if it
 * is still the one this server created. NULL ok. */
void ctl_server_free(ctl_server *s);

/* Adds commands. The table entries are copied; their strings and args must
 * outlive the server. Returns 0, -EEXIST (a name already registered; none of
 * the table is added), -EINVAL or -ENOMEM. */
int ctl_server_register(ctl_server *s, const struct ctl_command *cmds, size_t n);
/* Declares an event name clients may subscribe to ('name' and 'help' must
 * outlive the server). Returns 0, -EEXIST, -ENOSPC (CTL_MAX_EVENTS) or
 * -EINVAL. */
int ctl_server_add_event(ctl_server *s, const char *name, const char *help);

/* The one fd to watch for readability. */
int ctl_server_fd(const ctl_server *s);
/* Does all work that is ready without blocking: accepts clients, reads and
 * answers requests (a bounded number per client per call, so a busy client
 * cannot starve the others), flushes queued output, drops dead clients.
 * Returns 0, or a negative errno if the server itself is broken. */
int ctl_server_handle(ctl_server *s);
/* Waits up to timeout_ms (-1 = forever) for work, then handles it. Returns
 * 0 (also on timeout or EINTR) or a negative errno. */
int ctl_server_run_once(ctl_server *s, int timeout_ms);
/* Number of connected clients. */
size_t ctl_server_clients(const ctl_server *s);

/* Sends event 'event' (registered with ctl_server_add_event) to every
 * client subscribed to it. 'fields' holds bencode key/value pairs to add
 * to the message (may be NULL). Returns the number of clients it was sent
 * or queued to, or -ENOENT (unknown event), -EMSGSIZE, -ENOMEM. */
int ctl_server_emit(ctl_server *s, const char *event, const rp_buf *fields);

/* ---- inside a handler ---- */

/* The whole request dictionary. */
const benc_node *ctl_req_args(const ctl_req *r);
rp_str ctl_req_command(const ctl_req *r);
rp_str ctl_req_cookie(const ctl_req *r);
/* Access level of the connection. */
enum ctl_access ctl_req_access(const ctl_req *r);
/* Scratch memory that lives until the response is sent. */
rp_arena *ctl_req_arena(ctl_req *r);
ctl_server *ctl_req_server(ctl_req *r);
/* Peer credentials of the connection (from SO_PEERCRED). */
void ctl_req_peer(const ctl_req *r, pid_t *pid, uid_t *uid, gid_t *gid);
/* Sets the error-reason (printf-style, one line a person can act on) and
 * returns -EINVAL, so a handler can 'return ctl_req_error(req, ...)'. */
int ctl_req_error(ctl_req *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Sets the error-reason from a failed benc_get_*() and returns -EINVAL. */
int ctl_req_field_error(ctl_req *r, const struct benc_field_err *fe);

/* ---- client ---- */

typedef struct ctl_client ctl_client;

/* Connects to a server. max_msg: largest response accepted (0 = default).
 * Returns 0 or a negative errno (-ENOENT no socket, -ECONNREFUSED nothing
 * listening, -EACCES permissions). Free with ctl_client_close(). */
int ctl_client_connect(const char *path, size_t max_msg, ctl_client **out);
void ctl_client_close(ctl_client *c);
/* The socket, for poll()ing for events between calls. */
int ctl_client_fd(const ctl_client *c);

/* Sends a request { command, cookie, version, <args> } and waits up to
 * timeout_ms (-1 = forever) for its response. 'args' holds bencode
 * key/value pairs (benc_put_kv_*) or is NULL. The response is decoded into
 * 'a' (a copy of its bytes lives there too), so *resp stays valid until the
 * caller resets the arena. Returns:
 *   0            result "ok"; *resp is the response dictionary
 *   -EREMOTEIO   result "error"; *resp is set, see ctl_resp_reason()
 *   -ETIMEDOUT   no response in time (a late one is discarded later)
 *   -ECONNRESET  the server went away
 *   -EMSGSIZE    request or response larger than the limit
 *   -EBADMSG     the response is not a valid message
 *   other negative errno for local failures. */
int ctl_call(ctl_client *c, const char *command, const rp_buf *args, rp_arena *a,
	     const benc_node **resp, int timeout_ms);
/* The error-reason of a response (empty if none). */
rp_str ctl_resp_reason(const benc_node *resp);

/* Next event: a queued one, or one read from the socket within timeout_ms
 * (0 = do not wait, -1 = forever). The event dictionary is decoded into
 * 'a'. Returns 0, -EAGAIN (none), -ECONNRESET, or another negative errno.
 * Responses to calls that already timed out are discarded here. */
int ctl_client_next_event(ctl_client *c, rp_arena *a, const benc_node **ev,
			  int timeout_ms);
/* Events dropped because the client's queue was full. */
uint64_t ctl_client_events_dropped(const ctl_client *c);

#endif
