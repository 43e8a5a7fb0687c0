#include "ctlcmd.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rp_json.h"
#include "rp_table.h"
#include "rp_time.h"

/* ---------------- one invocation ---------------- */

/* A daemon as seen from here: where it listens and what it said. */
struct dconn {
	unsigned kind;      /* CTLCMD_PROXY / CTLCMD_MEDIAD; 0 = not known yet */
	const char *path;
	/* A read-only command tries the daemon's read-only socket first
	 * (ctlcmd_ro_path); NULL: none. */
	char ro_path[256];
	ctl_client *c;
	int state;          /* 0 not tried, 1 up, -1 down */
	int exit;           /* when down: the exit status it stands for */
	char why[512];      /* when down: why, one line */
	/* From hello. */
	const benc_node *hello;
	pid_t pid;          /* from SO_PEERCRED; 0 unknown */
};

struct ctlcmd_run {
	const struct ctlcmd_opts *o;
	FILE *out, *err;
	rp_arena arena;
	struct dconn d[2];
	size_t nd;
	rp_buf ob;          /* stdout, written once at the end */
	rp_json j;
	bool emitted;       /* ob holds the command's output */
	char why[512];      /* the error to print on stderr */
	enum ctl_access access; /* of the command being run */
};

static int fail(ctlcmd_run *r, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(ctlcmd_run *r, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->why, sizeof(r->why), fmt, ap);
	va_end(ap);
	return code;
}

static const char *kind_name(unsigned kind)
{
	switch (kind) {
	case CTLCMD_PROXY: return "rampart-proxy";
	case CTLCMD_MEDIAD: return "rampart-mediad";
	}
	return "daemon";
}

/* The JSON key and selector word of a daemon. */
static const char *kind_key(unsigned kind)
{
	switch (kind) {
	case CTLCMD_PROXY: return "proxy";
	case CTLCMD_MEDIAD: return "mediad";
	}
	return "daemon";
}

const char *ctlcmd_daemons_name(unsigned daemons)
{
	switch (daemons) {
	case CTLCMD_PROXY: return "rampart-proxy";
	case CTLCMD_MEDIAD: return "rampart-mediad";
	case CTLCMD_BOTH: return "proxy, mediad";
	}
	return "rampartctl";
}

int ctlcmd_ro_path(const char *admin, char *out, size_t n)
{
	size_t l = strlen(admin);
	int w;

	if (l < 5 || strcmp(admin + l - 5, ".sock"))
		return -EINVAL;
	w = snprintf(out, n, "%.*s-ro.sock", (int)(l - 5), admin);
	return w < 0 || (size_t)w >= n ? -ENAMETOOLONG : 0;
}

static const char *default_path(const struct ctlcmd_opts *o, unsigned kind)
{
	const char *p;

	if (kind == CTLCMD_PROXY) {
		if (o->proxy_socket)
			return o->proxy_socket;
		p = getenv("RAMPART_PROXY_SOCKET");
		return p && *p ? p : CTLCMD_PROXY_SOCKET;
	}
	if (o->mediad_socket)
		return o->mediad_socket;
	p = getenv("RAMPART_MEDIAD_SOCKET");
	return p && *p ? p : CTLCMD_MEDIAD_SOCKET;
}

/* Picks the daemons a command talks to: those in 'mask'; with --socket, the
 * one instance there (its kind is learned from hello when mask has both). */
static void pick(ctlcmd_run *r, unsigned mask)
{
	r->nd = 0;
	if (r->o->socket) {
		memset(&r->d[0], 0, sizeof(r->d[0]));
		r->d[0].kind = mask == CTLCMD_BOTH ? 0 : mask;
		r->d[0].path = r->o->socket;
		r->nd = 1;
		return;
	}
	for (unsigned k = CTLCMD_PROXY; k <= CTLCMD_MEDIAD; k <<= 1) {
		if (!(mask & k))
			continue;
		memset(&r->d[r->nd], 0, sizeof(r->d[0]));
		r->d[r->nd].kind = k;
		r->d[r->nd].path = default_path(r->o, k);
		if (r->access == CTL_ACCESS_READ &&
		    ctlcmd_ro_path(r->d[r->nd].path, r->d[r->nd].ro_path,
				   sizeof(r->d[r->nd].ro_path)) < 0)
			r->d[r->nd].ro_path[0] = 0;
		r->nd++;
	}
}

static const char *dname(const struct dconn *d)
{
	return d->kind ? kind_name(d->kind) : "the daemon";
}

/* Maps a failed ctl_call to an exit status and a message. */
static int call_error(struct dconn *d, const char *command, int rc,
		      const benc_node *resp, int timeout_ms, char *why, size_t whysz)
{
	if (rc == -EREMOTEIO) {
		rp_str reason = ctl_resp_reason(resp);
		char safe[320];

		/* What the daemon says may quote our bytes: printed as valid
		 * UTF-8 of one line, cut short only between characters. */
		rp_str_utf8_safe(reason, safe, sizeof(safe));
		snprintf(why, whysz, "%s: %s", dname(d), safe);
		return CTLCMD_EXIT_DAEMON;
	}
	if (rc == -ETIMEDOUT)
		snprintf(why, whysz, "%s at %s did not answer '%s' within %d ms",
			 dname(d), d->path, command, timeout_ms);
	else if (rc == -ECONNRESET)
		snprintf(why, whysz, "%s at %s closed the connection during '%s'",
			 dname(d), d->path, command);
	else if (rc == -EBADMSG)
		snprintf(why, whysz, "%s at %s sent a malformed answer to '%s'",
			 dname(d), d->path, command);
	else
		snprintf(why, whysz, "'%s' to %s at %s failed: %s", command,
			 dname(d), d->path, strerror(-rc));
	return CTLCMD_EXIT_PROTO;
}

/* Connects and says hello, once. Returns an exit status; on failure d->why
 * says why and the daemon counts as down. */
static int dconnect(ctlcmd_run *r, struct dconn *d)
{
	const benc_node *resp = NULL;
	rp_str server;
	int rc;

	if (d->state > 0)
		return CTLCMD_EXIT_OK;
	if (d->state < 0)
		return d->exit;
	d->state = -1;
	rc = -ENOENT;
	if (d->ro_path[0]) {
		/* Not there, or not ours to use: the admin socket serves reads too. */
		rc = ctl_client_connect(d->ro_path, 0, &d->c);
		if (rc == 0)
			d->path = d->ro_path;
	}
	if (rc < 0)
		rc = ctl_client_connect(d->path, 0, &d->c);
	if (rc < 0) {
		const char *hint = "";

		if (rc == -ENOENT || rc == -ECONNREFUSED)
			hint = d->kind ? " (is it running?)" : "";
		else if (rc == -EACCES)
			hint = " (run as root or as a member of the socket's group)";
		snprintf(d->why, sizeof(d->why), "%s is not reachable: cannot connect to %s: %s%s",
			 dname(d), d->path, strerror(-rc), hint);
		return d->exit = CTLCMD_EXIT_CONNECT;
	}
	{
		struct ucred cr;
		socklen_t crlen = sizeof(cr);

		if (getsockopt(ctl_client_fd(d->c), SOL_SOCKET, SO_PEERCRED, &cr, &crlen) == 0)
			d->pid = cr.pid;
	}
	rc = ctl_call(d->c, "hello", NULL, &r->arena, &resp, r->o->timeout_ms);
	if (rc < 0) {
		d->exit = call_error(d, "hello", rc, resp, r->o->timeout_ms, d->why,
				     sizeof(d->why));
		return d->exit;
	}
	if (benc_get_str(resp, "server", &server, NULL) < 0) {
		snprintf(d->why, sizeof(d->why), "%s does not say which daemon it is (no 'server' in hello)",
			 d->path);
		return d->exit = CTLCMD_EXIT_PROTO;
	}
	if (d->kind == 0) {
		if (rp_str_eq_cstr(server, "rampart-proxy"))
			d->kind = CTLCMD_PROXY;
		else if (rp_str_eq_cstr(server, "rampart-mediad"))
			d->kind = CTLCMD_MEDIAD;
		else {
			snprintf(d->why, sizeof(d->why), "%s is '%.*s', neither rampart-proxy nor rampart-mediad",
				 d->path, (int)(server.n > 64 ? 64 : server.n), server.p);
			return d->exit = CTLCMD_EXIT_USAGE;
		}
	} else if (!rp_str_eq_cstr(server, kind_name(d->kind))) {
		snprintf(d->why, sizeof(d->why), "%s is a socket of '%.*s', not of %s",
			 d->path, (int)(server.n > 64 ? 64 : server.n), server.p,
			 kind_name(d->kind));
		return d->exit = CTLCMD_EXIT_USAGE;
	}
	d->hello = resp;
	d->state = 1;
	return CTLCMD_EXIT_OK;
}

/* One request. Returns an exit status; on failure r->why is set. */
static int dcall(ctlcmd_run *r, struct dconn *d, const char *command,
		 const rp_buf *args, const benc_node **resp)
{
	int rc = dconnect(r, d);

	if (rc != CTLCMD_EXIT_OK)
		return fail(r, rc, "%s", d->why);
	*resp = NULL;
	rc = ctl_call(d->c, command, args, &r->arena, resp, r->o->timeout_ms);
	if (rc < 0)
		return call_error(d, command, rc, *resp, r->o->timeout_ms, r->why,
				  sizeof(r->why));
	return CTLCMD_EXIT_OK;
}

/* ---------------- rendering helpers ---------------- */

static bool is_envelope(const benc_node *n, bool top)
{
	return top && (rp_str_eq_cstr(n->key, "cookie") || rp_str_eq_cstr(n->key, "result"));
}

/* A bencode value as JSON; the envelope (cookie, result) is left out. */
static void json_benc(rp_json *j, const benc_node *n, bool top)
{
	switch (n->type) {
	case BENC_INT:
		rp_json_int(j, n->u.i);
		break;
	case BENC_STR:
		rp_json_str(j, n->u.s);
		break;
	case BENC_LIST:
		rp_json_arr_begin(j);
		BENC_FOREACH(it, n)
			json_benc(j, it, false);
		rp_json_arr_end(j);
		break;
	case BENC_DICT:
		rp_json_obj_begin(j);
		BENC_FOREACH(it, n) {
			if (is_envelope(it, top))
				continue;
			rp_json_key_str(j, it->key);
			json_benc(j, it, false);
		}
		rp_json_obj_end(j);
		break;
	}
}

static bool scalar(const benc_node *n)
{
	return n->type == BENC_INT || n->type == BENC_STR;
}

static void cell_scalar(rp_table *t, const benc_node *n)
{
	if (n->type == BENC_INT)
		rp_table_cellf(t, "%" PRId64, n->u.i);
	else
		rp_table_cell(t, n->u.s);
}

/* Flattens a value into "key  value" rows: nested keys are joined with '.',
 * list items get [i], a list of plain values is one row. */
static void kv_rows(rp_table *t, const char *prefix, const benc_node *n, bool top)
{
	char key[256];

	if (scalar(n)) {
		rp_table_row(t);
		rp_table_cell_cstr(t, prefix);
		cell_scalar(t, n);
		return;
	}
	if (n->type == BENC_LIST) {
		bool flat = true;
		size_t i = 0;

		BENC_FOREACH(it, n)
			flat = flat && scalar(it);
		if (flat) {
			rp_buf line = RP_BUF_INIT;

			BENC_FOREACH(it, n) {
				if (line.len)
					rp_buf_append_byte(&line, ' ');
				if (it->type == BENC_INT)
					rp_buf_append_i64(&line, it->u.i);
				else
					rp_buf_append_str(&line, it->u.s);
			}
			rp_table_row(t);
			rp_table_cell_cstr(t, prefix);
			rp_table_cell(t, rp_buf_str(&line));
			rp_buf_free(&line);
			return;
		}
		BENC_FOREACH(it, n) {
			snprintf(key, sizeof(key), "%s[%zu]", prefix, i++);
			kv_rows(t, key, it, false);
		}
		return;
	}
	BENC_FOREACH(it, n) {
		if (is_envelope(it, top))
			continue;
		snprintf(key, sizeof(key), "%s%s%.*s", prefix, *prefix ? "." : "",
			 (int)(it->key.n > 100 ? 100 : it->key.n), it->key.p);
		kv_rows(t, key, it, false);
	}
}

static int render_table(ctlcmd_run *r, rp_table *t)
{
	int rc = rp_table_render(t, &r->ob);

	rp_table_free(t);
	if (rc < 0)
		return fail(r, CTLCMD_EXIT_PROTO, "cannot format the output: %s", strerror(-rc));
	r->emitted = true;
	return CTLCMD_EXIT_OK;
}

static int render_kv(ctlcmd_run *r, const benc_node *resp)
{
	rp_table *t;

	if (rp_table_new(2, &t) < 0)
		return fail(r, CTLCMD_EXIT_PROTO, "out of memory");
	kv_rows(t, "", resp, true);
	return render_table(r, t);
}

static void fmt_ms(char *dst, size_t n, int64_t ms)
{
	int64_t s = ms / 1000;

	if (ms < 0)
		snprintf(dst, n, "-");
	else if (s < 60)
		snprintf(dst, n, "%" PRId64 ".%01" PRId64 "s", s, (ms % 1000) / 100);
	else if (s < 3600)
		snprintf(dst, n, "%" PRId64 "m%02" PRId64 "s", s / 60, s % 60);
	else if (s < 86400)
		snprintf(dst, n, "%" PRId64 "h%02" PRId64 "m", s / 3600, (s / 60) % 60);
	else
		snprintf(dst, n, "%" PRId64 "d%02" PRId64 "h", s / 86400, (s / 3600) % 24);
}

static int64_t get_int(const benc_node *d, const char *key, int64_t dflt)
{
	int64_t v;

	return benc_get_int(d, key, INT64_MIN, INT64_MAX, &v, NULL) == 0 ? v : dflt;
}

static const char *json_down_obj(ctlcmd_run *r, const struct dconn *d)
{
	rp_json_kv_cstr(&r->j, "socket", d->path);
	rp_json_kv_bool(&r->j, "up", false);
	rp_json_kv_cstr(&r->j, "error", d->why);
	return NULL;
}

/* ---------------- arguments ---------------- */

/* Optional trailing "proxy" / "mediad": narrows a two-daemon command. */
static int selector(ctlcmd_run *r, const struct ctlcmd *cmd, int argc, char **argv,
		    unsigned *mask)
{
	*mask = cmd->daemons;
	if (argc == 0)
		return CTLCMD_EXIT_OK;
	if (strcmp(argv[0], "proxy") == 0 || strcmp(argv[0], "rampart-proxy") == 0)
		*mask = CTLCMD_PROXY;
	else if (strcmp(argv[0], "mediad") == 0 || strcmp(argv[0], "rampart-mediad") == 0)
		*mask = CTLCMD_MEDIAD;
	else
		return fail(r, CTLCMD_EXIT_USAGE, "%s: '%s' is not a daemon (proxy or mediad)",
			    cmd->name, argv[0]);
	return CTLCMD_EXIT_OK;
}

static int parse_id(ctlcmd_run *r, const struct ctlcmd *cmd, const char *s, int64_t *id)
{
	char *end;
	long long v;

	errno = 0;
	if (*s < '0' || *s > '9')
		goto bad;
	v = strtoll(s, &end, 10);
	if (errno || *end || v <= 0)
		goto bad;
	*id = v;
	return CTLCMD_EXIT_OK;
bad:
	return fail(r, CTLCMD_EXIT_USAGE, "%s: '%s' is not a call id (a positive integer: "
		    "the session number 'rampartctl calls' shows)", cmd->name, s);
}

/* Decimal as bencode writes it: no '+', no leading zeros, no "-0". */
static bool is_int(const char *v)
{
	const char *d = v[0] == '-' ? v + 1 : v;

	if (*d < '0' || *d > '9' || (d[0] == '0' && (d[1] || d != v)))
		return false;
	for (; *d; d++)
		if (*d < '0' || *d > '9')
			return false;
	return true;
}

/* NAME=VALUE words into bencode fields. */
static int kv_args(ctlcmd_run *r, const struct ctlcmd *cmd, int argc, char **argv,
		   rp_buf *b)
{
	for (int i = 0; i < argc; i++) {
		const char *eq = strchr(argv[i], '=');
		const char *v;
		char *end;
		long long n;

		if (!eq || eq == argv[i])
			return fail(r, CTLCMD_EXIT_USAGE, "%s: argument '%s' is not NAME=VALUE",
				    cmd->name, argv[i]);
		v = eq + 1;
		benc_put_str(b, rp_str_make(argv[i], (size_t)(eq - argv[i])));
		errno = 0;
		n = strtoll(v, &end, 10);
		if (is_int(v) && !*end && !errno)
			benc_put_int(b, n);
		else
			benc_put_cstr(b, v);
	}
	if (rp_buf_error(b))
		return fail(r, CTLCMD_EXIT_USAGE, "%s: arguments too large", cmd->name);
	return CTLCMD_EXIT_OK;
}

/* ---------------- handlers ---------------- */

int ctlcmd_passthrough(ctlcmd_run *r, const struct ctlcmd *cmd, int argc, char **argv)
{
	const benc_node *resp;
	rp_buf args = RP_BUF_INIT;
	int rc;

	rp_buf_init(&args, CTL_DEFAULT_MAX_MSG);
	rc = kv_args(r, cmd, argc, argv, &args);
	if (rc == CTLCMD_EXIT_OK) {
		pick(r, cmd->daemons);
		rc = dcall(r, &r->d[0], cmd->remote, &args, &resp);
	}
	rp_buf_free(&args);
	if (rc != CTLCMD_EXIT_OK)
		return rc;
	if (r->o->json) {
		json_benc(&r->j, resp, true);
		r->emitted = true;
		return CTLCMD_EXIT_OK;
	}
	return render_kv(r, resp);
}

/* raw DAEMON COMMAND [NAME=VALUE ...] */
static int cmd_raw(ctlcmd_run *r, const struct ctlcmd *cmd, int argc, char **argv)
{
	struct ctlcmd one = *cmd;
	unsigned mask;
	int rc = selector(r, cmd, 1, argv, &mask);

	if (rc != CTLCMD_EXIT_OK)
		return rc;
	one.daemons = mask;
	one.remote = argv[1];
	return ctlcmd_passthrough(r, &one, argc - 2, argv + 2);
}

/* Counts the daemons that answered; the policy of every command that asks
 * both: ok if at least one is up, else the first failure's status. */
static int multi_status(ctlcmd_run *r)
{
	int first = CTLCMD_EXIT_OK;

	for (size_t i = 0; i < r->nd; i++) {
		if (r->d[i].state > 0)
			return CTLCMD_EXIT_OK;
		if (first == CTLCMD_EXIT_OK)
			first = r->d[i].exit;
	}
	if (r->nd == 1)
		return fail(r, first, "%s", r->d[0].why);
	/* The reasons are in the output already, one per daemon. */
	return fail(r, first, "no daemon is reachable");
}

/* A field from hello or, failing that, from stats. */
static const benc_node *field2(const benc_node *a, const benc_node *b, const char *key)
{
	const benc_node *n = benc_dict_get(a, key);

	return n ? n : benc_dict_get(b, key);
}

/* Seconds since the process behind the socket started, from /proc (when it
 * is in our PID namespace), or -1. */
static int64_t proc_uptime_s(pid_t pid)
{
	char path[64], buf[1024];
	FILE *f;
	size_t n;
	double up;
	unsigned long long start = 0;
	long hz = sysconf(_SC_CLK_TCK);
	char *p;

	if (pid <= 0 || hz <= 0)
		return -1;
	f = fopen("/proc/uptime", "r");
	if (!f)
		return -1;
	if (fscanf(f, "%lf", &up) != 1) {
		fclose(f);
		return -1;
	}
	fclose(f);
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	/* The command name may hold spaces and ')': fields restart after the last ')'. */
	p = strrchr(buf, ')');
	if (!p)
		return -1;
	/* After ')': state is field 3, starttime field 22. */
	p++;
	for (int field = 2; field < 21 && p; field++)
		p = strchr(p + 1, ' ');
	if (!p || sscanf(p, " %llu", &start) != 1)
		return -1;
	return (int64_t)(up - (double)start / (double)hz);
}

static void status_text_cell(rp_table *t, const benc_node *n, const char *none)
{
	if (n && scalar(n))
		cell_scalar(t, n);
	else
		rp_table_cell_cstr(t, none);
}

static int cmd_status(ctlcmd_run *r, const struct ctlcmd *cmd, int argc, char **argv)
{
	const benc_node *stats[2] = { NULL, NULL };
	rp_str stats_err[2] = { RP_STR_NULL, RP_STR_NULL };
	rp_table *t = NULL;
	unsigned mask;
	int rc = selector(r, cmd, argc, argv, &mask);

	if (rc != CTLCMD_EXIT_OK)
		return rc;
	pick(r, mask);
	for (size_t i = 0; i < r->nd; i++) {
		if (dconnect(r, &r->d[i]) != CTLCMD_EXIT_OK)
			continue;
		/* A daemon without 'stats' is still up; say what it answered. */
		rc = dcall(r, &r->d[i], "stats", NULL, &stats[i]);
		if (rc != CTLCMD_EXIT_OK) {
			stats_err[i] = rp_str_cstr(rp_arena_strndup(&r->arena, r->why, strlen(r->why)));
			stats[i] = NULL;
		}
	}
	if (!r->o->json) {
		if (rp_table_new(10, &t) < 0)
			return fail(r, CTLCMD_EXIT_PROTO, "out of memory");
		static const char *const titles[] = { "DAEMON", "STATE", "VERSION", "PROTOCOL",
			"UPTIME", "WORKERS", "ENGINE", "KERNEL-FASTPATH", "ACCESS", "SOCKET" };
		for (size_t c = 0; c < 10; c++)
			rp_table_column(t, c, titles[c], c == 5 ? RP_TABLE_RIGHT : RP_TABLE_LEFT);
	} else {
		rp_json_obj_begin(&r->j);
	}
	for (size_t i = 0; i < r->nd; i++) {
		struct dconn *d = &r->d[i];
		const benc_node *h = d->hello, *s = stats[i];
		int64_t up = -1;
		const char *upsrc = NULL;
		char upbuf[32];

		if (d->state > 0) {
			const benc_node *u = field2(h, s, "uptime-s");

			if (u && u->type == BENC_INT) {
				up = u->u.i;
				upsrc = "daemon";
			} else if ((up = proc_uptime_s(d->pid)) >= 0) {
				upsrc = "process";
			}
		}
		if (r->o->json) {
			rp_json_key(&r->j, d->kind ? kind_key(d->kind) : "daemon");
			rp_json_obj_begin(&r->j);
			if (d->state <= 0) {
				json_down_obj(r, d);
				rp_json_obj_end(&r->j);
				continue;
			}
			rp_json_kv_cstr(&r->j, "socket", d->path);
			rp_json_kv_bool(&r->j, "up", true);
			rp_json_key(&r->j, "server");
			json_benc(&r->j, benc_dict_get(h, "server"), false);
			rp_json_key(&r->j, "software");
			json_benc(&r->j, benc_dict_get(h, "software"), false);
			rp_json_kv_int(&r->j, "protocol-version", get_int(h, "version", 0));
			rp_json_kv_int(&r->j, "protocol-minor", get_int(h, "version-minor", 0));
			rp_json_key(&r->j, "access");
			json_benc(&r->j, benc_dict_get(h, "access"), false);
			rp_json_key(&r->j, "pid");
			if (d->pid > 0)
				rp_json_int(&r->j, d->pid);
			else
				rp_json_null(&r->j);
			rp_json_key(&r->j, "uptime-s");
			if (up >= 0)
				rp_json_int(&r->j, up);
			else
				rp_json_null(&r->j);
			rp_json_kv_cstr(&r->j, "uptime-source", upsrc);
			/* What the daemon reports; null when it reports nothing. */
			static const char *const keys[] = { "workers", "engine", "kernel-fastpath",
				"sessions-active", "ports-in-use", "ports-total" };
			for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
				const benc_node *n = field2(h, s, keys[k]);

				rp_json_key(&r->j, keys[k]);
				if (n)
					json_benc(&r->j, n, false);
				else
					rp_json_null(&r->j);
			}
			rp_json_key(&r->j, "stats-error");
			if (stats_err[i].n)
				rp_json_str(&r->j, stats_err[i]);
			else
				rp_json_null(&r->j);
			rp_json_obj_end(&r->j);
			continue;
		}
		rp_table_row(t);
		rp_table_cell_cstr(t, d->kind ? kind_name(d->kind) : "?");
		if (d->state <= 0) {
			rp_table_cell_cstr(t, "down");
			for (int c = 0; c < 7; c++)
				rp_table_cell_cstr(t, "-");
			rp_table_cellf(t, "%s", d->path);
			continue;
		}
		rp_table_cell_cstr(t, "up");
		status_text_cell(t, benc_dict_get(h, "software"), "-");
		rp_table_cellf(t, "%" PRId64 ".%" PRId64, get_int(h, "version", 0),
			       get_int(h, "version-minor", 0));
		if (up >= 0) {
			fmt_ms(upbuf, sizeof(upbuf), up * 1000);
			rp_table_cell_cstr(t, upbuf);
		} else {
			rp_table_cell_cstr(t, "unknown");
		}
		status_text_cell(t, field2(h, s, "workers"), "-");
		status_text_cell(t, field2(h, s, "engine"), "-");
		status_text_cell(t, field2(h, s, "kernel-fastpath"), "not reported");
		status_text_cell(t, benc_dict_get(h, "access"), "-");
		rp_table_cellf(t, "%s", d->path);
	}
	if (r->o->json) {
		rp_json_obj_end(&r->j);
		r->emitted = true;
	} else {
		rc = render_table(r, t);
		if (rc != CTLCMD_EXIT_OK)
			return rc;
		/* Why each down daemon is down, under the table. */
		for (size_t i = 0; i < r->nd; i++)
			if (r->d[i].state <= 0)
				rp_buf_printf(&r->ob, "%s\n", r->d[i].why);
	}
	return multi_status(r);
}

static int cmd_stats(ctlcmd_run *r, const struct ctlcmd *cmd, int argc, char **argv)
{
	const benc_node *resp[2] = { NULL, NULL };
	char *err[2] = { NULL, NULL };
	int code[2] = { 0, 0 };
	unsigned mask;
	int rc = selector(r, cmd, argc, argv, &mask);
	bool any = false;

	if (rc != CTLCMD_EXIT_OK)
		return rc;
	pick(r, mask);
	for (size_t i = 0; i < r->nd; i++) {
		code[i] = dcall(r, &r->d[i], "stats", NULL, &resp[i]);
		if (code[i] != CTLCMD_EXIT_OK)
			err[i] = rp_arena_strndup(&r->arena, r->why, strlen(r->why));
		else
			any = true;
	}
	if (r->o->json) {
		rp_json_obj_begin(&r->j);
		for (size_t i = 0; i < r->nd; i++) {
			rp_json_key(&r->j, r->d[i].kind ? kind_key(r->d[i].kind) : "daemon");
			if (code[i] == CTLCMD_EXIT_OK) {
				json_benc(&r->j, resp[i], true);
				continue;
			}
			rp_json_obj_begin(&r->j);
			rp_json_kv_cstr(&r->j, "socket", r->d[i].path);
			rp_json_kv_bool(&r->j, "up", r->d[i].state > 0);
			rp_json_kv_cstr(&r->j, "error", err[i]);
			rp_json_obj_end(&r->j);
		}
		rp_json_obj_end(&r->j);
		r->emitted = true;
	} else {
		rp_table *t;

		if (rp_table_new(2, &t) < 0)
			return fail(r, CTLCMD_EXIT_PROTO, "out of memory");
		rp_table_column(t, 0, "COUNTER", RP_TABLE_LEFT);
		rp_table_column(t, 1, "VALUE", RP_TABLE_RIGHT);
		for (size_t i = 0; i < r->nd; i++) {
			char pfx[16];

			snprintf(pfx, sizeof(pfx), "%s", r->d[i].kind ? kind_key(r->d[i].kind) : "daemon");
			if (code[i] == CTLCMD_EXIT_OK) {
				kv_rows(t, pfx, resp[i], true);
			} else {
				rp_table_row(t);
				rp_table_cell_cstr(t, pfx);
				rp_table_cell_cstr(t, "unavailable");
			}
		}
		rc = render_table(r, t);
		if (rc != CTLCMD_EXIT_OK)
			return rc;
		for (size_t i = 0; i < r->nd; i++)
			if (err[i])
				rp_buf_printf(&r->ob, "%s\n", err[i]);
	}
	if (any)
		return CTLCMD_EXIT_OK;
	/* Nothing to show: the (first) failure decides the exit status. */
	return fail(r, code[0], "%s", err[0]);
}

static void leg_srtp(const benc_node *leg, const char *key, char *dst, size_t n)
{
	const benc_node *v = benc_dict_get(leg, key);
	/* mediad names the suite in srtp-suite-in/-out ("plain" or e.g.
	 * "AES_CM_128_HMAC_SHA1_80"); srtp-in/-out stay 0/1 for old clients. */
	char sk[24];
	const benc_node *sn;

	snprintf(sk, sizeof(sk), "srtp-suite-%s", key + 5);
	sn = benc_dict_get(leg, sk);
	if (sn && sn->type == BENC_STR)
		v = sn;
	if (v && v->type == BENC_STR)
		snprintf(dst, n, "%.*s", (int)(v->u.s.n > 40 ? 40 : v->u.s.n), v->u.s.p);
	else if (v && v->type == BENC_INT && v->u.i)
		snprintf(dst, n, "srtp");
	else
		snprintf(dst, n, "plain");
}

/* Proxy-side columns of a call: not available until the proxy reports them. */
static const char *const proxy_fields[] = { "from", "to", "signaling", "tls-version",
	"tls-cipher" };

static void json_call(ctlcmd_run *r, const benc_node *q)
{
	rp_json *j = &r->j;
	char buf[48];

	rp_json_obj_begin(j);
	rp_json_kv_int(j, "session", get_int(q, "session", 0));
	rp_json_key(j, "label");
	if (benc_dict_get(q, "label"))
		json_benc(j, benc_dict_get(q, "label"), false);
	else
		rp_json_null(j);
	rp_json_kv_int(j, "age-ms", get_int(q, "age-ms", -1));
	rp_json_kv_int(j, "idle-ms", get_int(q, "idle-ms", -1));
	for (size_t k = 0; k < sizeof(proxy_fields) / sizeof(proxy_fields[0]); k++) {
		rp_json_key(j, proxy_fields[k]);
		rp_json_null(j);
	}
	for (int l = 0; l < 2; l++) {
		const benc_node *leg = benc_dict_get(q, l ? "b" : "a");
		const benc_node *st = benc_dict_get(leg, "stats");
		static const char *const counters[] = { "packets-in", "packets-out", "bytes-in",
			"bytes-out", "packets-lost", "auth-failures", "replay-drops", "malformed" };

		rp_json_key(j, l ? "b" : "a");
		rp_json_obj_begin(j);
		rp_json_kv_int(j, "port", get_int(leg, "port", 0));
		rp_json_key(j, "remote");
		if (benc_dict_get(leg, "remote"))
			json_benc(j, benc_dict_get(leg, "remote"), false);
		else
			rp_json_null(j);
		leg_srtp(leg, "srtp-in", buf, sizeof(buf));
		rp_json_kv_cstr(j, "srtp-in", buf);
		leg_srtp(leg, "srtp-out", buf, sizeof(buf));
		rp_json_kv_cstr(j, "srtp-out", buf);
		for (size_t k = 0; k < sizeof(counters) / sizeof(counters[0]); k++)
			rp_json_kv_int(j, counters[k], get_int(st, counters[k], 0));
		rp_json_obj_end(j);
	}
	rp_json_obj_end(j);
}

static void text_call(rp_table *t, const benc_node *q)
{
	char buf[48], in[48], out[48];
	const benc_node *label = benc_dict_get(q, "label");

	rp_table_row(t);
	rp_table_cellf(t, "%" PRId64, get_int(q, "session", 0));
	fmt_ms(buf, sizeof(buf), get_int(q, "age-ms", -1));
	rp_table_cell_cstr(t, buf);
	if (label && label->type == BENC_STR && label->u.s.n)
		rp_table_cell(t, label->u.s);
	else
		rp_table_cell_cstr(t, "-");
	/* FROM TO SIG TLS: the proxy's, later. */
	for (int k = 0; k < 4; k++)
		rp_table_cell_cstr(t, "-");
	for (int l = 0; l < 2; l++) {
		const benc_node *leg = benc_dict_get(q, l ? "b" : "a");
		const benc_node *st = benc_dict_get(leg, "stats");
		const benc_node *rem = benc_dict_get(leg, "remote");

		rp_table_cellf(t, "%" PRId64, get_int(leg, "port", 0));
		if (rem && rem->type == BENC_STR && rem->u.s.n)
			rp_table_cell(t, rem->u.s);
		else
			rp_table_cell_cstr(t, "-");
		leg_srtp(leg, "srtp-in", in, sizeof(in));
		leg_srtp(leg, "srtp-out", out, sizeof(out));
		if (strcmp(in, "plain") == 0 && strcmp(out, "plain") == 0)
			rp_table_cell_cstr(t, "plain");
		else
			rp_table_cellf(t, "%s/%s", in, out);
		rp_table_cellf(t, "%" PRId64 "/%" PRId64, get_int(st, "packets-in", 0),
			       get_int(st, "packets-out", 0));
		rp_table_cellf(t, "%" PRId64, get_int(st, "packets-lost", 0));
		rp_table_cellf(t, "%" PRId64 "/%" PRId64, get_int(st, "bytes-in", 0),
			       get_int(st, "bytes-out", 0));
		rp_table_cellf(t, "%" PRId64, get_int(st, "auth-failures", 0));
		rp_table_cellf(t, "%" PRId64, get_int(st, "replay-drops", 0));
		rp_table_cellf(t, "%" PRId64, get_int(st, "malformed", 0));
	}
}

static bool no_such_session(const ctlcmd_run *r)
{
	return strstr(r->why, "no session") != NULL;
}

/* ---- calls as rampart-proxy knows them, joined with mediad's counters ---- */

static void json_str_or_null(rp_json *j, const char *key, const benc_node *d, const char *k)
{
	const benc_node *v = benc_dict_get(d, k);

	rp_json_key(j, key);
	if (v && v->type == BENC_STR)
		json_benc(j, v, false);
	else
		rp_json_null(j);
}

/* One proxy call ('pc', from the proxy's 'calls'), with the mediad session
 * 'q' (session.query) when there is one. */
static void json_pcall(ctlcmd_run *r, const benc_node *pc, const benc_node *q)
{
	rp_json *j = &r->j;
	const benc_node *pa = benc_dict_get(pc, "a");
	char buf[48];

	rp_json_obj_begin(j);
	rp_json_kv_int(j, "id", get_int(pc, "id", 0));
	json_str_or_null(j, "call-id", pc, "call-id");
	json_str_or_null(j, "state", pc, "state");
	rp_json_kv_int(j, "age-ms", get_int(pc, "age-ms", -1));
	json_str_or_null(j, "from", pc, "from");
	json_str_or_null(j, "to", pc, "to");
	json_str_or_null(j, "trunk", pc, "trunk");
	json_str_or_null(j, "start", pc, "start");
	json_str_or_null(j, "answer", pc, "answer");
	/* The caller's leg, under the names the mediad-only listing uses. */
	json_str_or_null(j, "signaling", pa, "transport");
	json_str_or_null(j, "tls-version", pa, "tls-version");
	json_str_or_null(j, "tls-cipher", pa, "tls-cipher");
	rp_json_key(j, "session");
	if (get_int(pc, "session", 0) > 0)
		rp_json_int(j, get_int(pc, "session", 0));
	else
		rp_json_null(j);
	rp_json_key(j, "idle-ms");
	if (q)
		rp_json_int(j, get_int(q, "idle-ms", -1));
	else
		rp_json_null(j);
	for (int l = 0; l < 2; l++) {
		const benc_node *leg = benc_dict_get(pc, l ? "b" : "a");
		const benc_node *ml = q ? benc_dict_get(q, l ? "b" : "a") : NULL;
		const benc_node *st = benc_dict_get(ml, "stats");
		static const char *const counters[] = { "packets-in", "packets-out", "bytes-in",
			"bytes-out", "packets-lost", "auth-failures", "replay-drops", "malformed" };

		rp_json_key(j, l ? "b" : "a");
		rp_json_obj_begin(j);
		json_str_or_null(j, "role", leg, "role");
		json_str_or_null(j, "transport", leg, "transport");
		json_str_or_null(j, "peer", leg, "peer");
		json_str_or_null(j, "tls-version", leg, "tls-version");
		json_str_or_null(j, "tls-cipher", leg, "tls-cipher");
		json_str_or_null(j, "cert-subject", leg, "cert-subject");
		json_str_or_null(j, "trunk", leg, "trunk");
		json_str_or_null(j, "media", leg, "media");
		if (ml) {
			rp_json_kv_int(j, "port", get_int(ml, "port", 0));
			json_str_or_null(j, "remote", ml, "remote");
			leg_srtp(ml, "srtp-in", buf, sizeof(buf));
			rp_json_kv_cstr(j, "srtp-in", buf);
			leg_srtp(ml, "srtp-out", buf, sizeof(buf));
			rp_json_kv_cstr(j, "srtp-out", buf);
			for (size_t k = 0; k < sizeof(counters) / sizeof(counters[0]); k++)
				rp_json_kv_int(j, counters[k], get_int(st, counters[k], 0));
			rp_json_kv_bool(j, "offloaded", get_int(ml, "kernel", 0) != 0);
		} else {
			/* No media session (no SDP, or mediad not reachable). */
			static const char *const nulls[] = { "port", "remote", "srtp-in",
				"srtp-out", "packets-in", "packets-out", "bytes-in", "bytes-out",
				"packets-lost", "auth-failures", "replay-drops", "malformed",
				"offloaded" };

			for (size_t k = 0; k < sizeof(nulls) / sizeof(nulls[0]); k++) {
				rp_json_key(j, nulls[k]);
				rp_json_null(j);
			}
		}
		rp_json_obj_end(j);
	}
	rp_json_obj_end(j);
}

static void cell_str(rp_table *t, const benc_node *d, const char *k)
{
	const benc_node *v = benc_dict_get(d, k);

	if (v && v->type == BENC_STR && v->u.s.n)
		rp_table_cell(t, v->u.s);
	else
		rp_table_cell_cstr(t, "-");
}

static void text_pcall(rp_table *t, const benc_node *pc, const benc_node *q)
{
	char buf[48];

	rp_table_row(t);
	rp_table_cellf(t, "%" PRId64, get_int(pc, "id", 0));
	fmt_ms(buf, sizeof(buf), get_int(pc, "age-ms", -1));
	rp_table_cell_cstr(t, buf);
	cell_str(t, pc, "state");
	cell_str(t, pc, "from");
	cell_str(t, pc, "to");
	for (int l = 0; l < 2; l++) {
		const benc_node *leg = benc_dict_get(pc, l ? "b" : "a");
		const benc_node *ml = q ? benc_dict_get(q, l ? "b" : "a") : NULL;
		const benc_node *st = benc_dict_get(ml, "stats");
		const benc_node *tv = benc_dict_get(leg, "tls-version");
		const benc_node *tc = benc_dict_get(leg, "tls-cipher");

		cell_str(t, leg, "transport");
		if (tv && tv->type == BENC_STR && tc && tc->type == BENC_STR)
			rp_table_cellf(t, "%.*s/%.*s", (int)tv->u.s.n, tv->u.s.p,
				       (int)(tc->u.s.n > 60 ? 60 : tc->u.s.n), tc->u.s.p);
		else
			rp_table_cell_cstr(t, "-");
		cell_str(t, leg, "media");
		if (ml) {
			rp_table_cellf(t, "%" PRId64 "/%" PRId64, get_int(st, "packets-in", 0),
				       get_int(st, "packets-out", 0));
			rp_table_cellf(t, "%" PRId64, get_int(st, "packets-lost", 0));
			rp_table_cellf(t, "%" PRId64, get_int(st, "auth-failures", 0));
			rp_table_cellf(t, "%" PRId64, get_int(st, "malformed", 0));
			rp_table_cell_cstr(t, get_int(ml, "kernel", 0) ? "yes" : "no");
		} else {
			for (int k = 0; k < 5; k++)
				rp_table_cell_cstr(t, "-");
		}
	}
}

/* Columns of 'calls': the proxy's calls joined with mediad (p), or
 * mediad's sessions alone when the proxy is down (m). */
static const char *const ptitles[] = { "ID", "AGE", "STATE", "FROM", "TO",
	"A-SIG", "A-TLS", "A-MEDIA", "A-PKTS", "A-LOST", "A-AUTHF", "A-MALF", "A-KERNEL",
	"B-SIG", "B-TLS", "B-MEDIA", "B-PKTS", "B-LOST", "B-AUTHF", "B-MALF", "B-KERNEL" };
static const uint8_t pright[] = { 1, 1, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1,
	0 };
static const char *const mtitles[] = { "ID", "AGE", "LABEL", "FROM", "TO", "SIG",
	"TLS", "A-PORT", "A-REMOTE", "A-SRTP", "A-PKTS", "A-LOST", "A-BYTES",
	"A-AUTHF", "A-REPLAY", "A-MALF", "B-PORT", "B-REMOTE", "B-SRTP", "B-PKTS", "B-LOST",
	"B-BYTES", "B-AUTHF", "B-REPLAY", "B-MALF" };
static const uint8_t mright[] = { 1, 1, 0, 0, 0, 0, 0, 1, 0, 0, 1, 1, 1, 1, 1, 1,
	1, 0, 0, 1, 1, 1, 1, 1, 1 };
_Static_assert(sizeof(ptitles) / sizeof(ptitles[0]) == sizeof(pright), "calls columns");
_Static_assert(sizeof(mtitles) / sizeof(mtitles[0]) == sizeof(mright), "calls columns");

/* Opens a 'calls' listing: the JSON object and its "calls" array, or a
 * table with these columns (right[c]: right-aligned). */
static int calls_list_begin(ctlcmd_run *r, const char *const *titles, const uint8_t *right,
	size_t n, rp_table **t)
{
	*t = NULL;
	if (r->o->json) {
		rp_json_obj_begin(&r->j);
		rp_json_key(&r->j, "calls");
		rp_json_arr_begin(&r->j);
		return CTLCMD_EXIT_OK;
	}
	if (rp_table_new(n, t) < 0)
		return fail(r, CTLCMD_EXIT_PROTO, "out of memory");
	for (size_t c = 0; c < n; c++)
		rp_table_column(*t, c, titles[c], right[c] ? RP_TABLE_RIGHT : RP_TABLE_LEFT);
	return CTLCMD_EXIT_OK;
}

/* The proxy's calls, each joined with its mediad session when mediad is
 * up ('m' NULL: not). */
static int proxy_calls(ctlcmd_run *r, struct dconn *p, struct dconn *m)
{
	const benc_node *resp, *list;
	rp_table *t = NULL;
	int64_t count = 0;
	int rc = dcall(r, p, "calls", NULL, &resp);

	if (rc != CTLCMD_EXIT_OK)
		return rc;
	if (benc_get_list(resp, "calls", &list, NULL) < 0)
		return fail(r, CTLCMD_EXIT_PROTO, "rampart-proxy: 'calls' has no 'calls' list");
	rc = calls_list_begin(r, ptitles, pright, sizeof(pright), &t);
	if (rc != CTLCMD_EXIT_OK)
		return rc;
	BENC_FOREACH(pc, list) {
		const benc_node *q = NULL;
		int64_t sess = get_int(pc, "session", 0);

		if (pc->type != BENC_DICT)
			continue;
		if (m && sess > 0) {
			rp_buf args = RP_BUF_INIT;

			benc_put_kv_int(&args, "session", sess);
			if (dcall(r, m, "session.query", &args, &q) != CTLCMD_EXIT_OK)
				q = NULL;   /* ended meanwhile, or mediad went away */
			rp_buf_free(&args);
		}
		if (r->o->json)
			json_pcall(r, pc, q);
		else
			text_pcall(t, pc, q);
		count++;
	}
	if (r->o->json) {
		rp_json_arr_end(&r->j);
		rp_json_kv_int(&r->j, "count", count);
		rp_json_kv_int(&r->j, "total", get_int(resp, "total", count));
		rp_json_kv_bool(&r->j, "media-counters", m != NULL);
		rp_json_obj_end(&r->j);
		r->emitted = true;
		return CTLCMD_EXIT_OK;
	}
	rc = render_table(r, t);
	if (rc == CTLCMD_EXIT_OK)
		rp_buf_printf(&r->ob, "%" PRId64 " call%s%s\n", count, count == 1 ? "" : "s",
			      m ? "" : " (rampart-mediad not reachable: no media counters)");
	return rc;
}

/* Connects to what 'calls' / 'call' may ask: the proxy and mediad (or the
 * one --socket names). Sets *p / *m to those that are up. Exit status of
 * the first failure when none is. */
static int calls_daemons(ctlcmd_run *r, struct dconn **p, struct dconn **m)
{
	*p = *m = NULL;
	pick(r, CTLCMD_BOTH);
	for (size_t i = 0; i < r->nd; i++) {
		if (dconnect(r, &r->d[i]) != CTLCMD_EXIT_OK)
			continue;
		if (r->d[i].kind == CTLCMD_PROXY)
			*p = &r->d[i];
		else
			*m = &r->d[i];
	}
	if (!*p && !*m && r->nd == 2)
		return fail(r, r->d[0].exit, "%s; %s", r->d[0].why, r->d[1].why);
	if (!*p && !*m)
		return fail(r, r->d[0].exit, "%s", r->d[0].why);
	return CTLCMD_EXIT_OK;
}

static int cmd_calls(ctlcmd_run *r, const struct ctlcmd *cmd, int argc, char **argv)
{
	const benc_node *list, *ids;
	rp_table *t = NULL;
	int64_t count = 0;
	struct dconn *pd, *md;
	int rc = calls_daemons(r, &pd, &md);

	if (rc != CTLCMD_EXIT_OK)
		return rc;
	if (pd)
		return proxy_calls(r, pd, md);
	/* rampart-proxy is not running: mediad's sessions, proxy columns null. */
	rc = dcall(r, md, "session.list", NULL, &list);
	if (rc != CTLCMD_EXIT_OK)
		return rc;
	if (benc_get_list(list, "sessions", &ids, NULL) < 0)
		return fail(r, CTLCMD_EXIT_PROTO, "rampart-mediad: 'session.list' has no 'sessions' list");
	rc = calls_list_begin(r, mtitles, mright, sizeof(mright), &t);
	if (rc != CTLCMD_EXIT_OK)
		return rc;
	BENC_FOREACH(id, ids) {
		const benc_node *q;
		rp_buf args = RP_BUF_INIT;

		if (id->type != BENC_INT)
			continue;
		benc_put_kv_int(&args, "session", id->u.i);
		rc = dcall(r, md, "session.query", &args, &q);
		rp_buf_free(&args);
		/* Gone between the list and the query: not a call any more. */
		if (rc == CTLCMD_EXIT_DAEMON && no_such_session(r))
			continue;
		if (rc != CTLCMD_EXIT_OK) {
			rp_table_free(t);
			return rc;
		}
		if (r->o->json)
			json_call(r, q);
		else
			text_call(t, q);
		count++;
	}
	if (r->o->json) {
		rp_json_arr_end(&r->j);
		rp_json_kv_int(&r->j, "count", count);
		rp_json_obj_end(&r->j);
		r->emitted = true;
		return CTLCMD_EXIT_OK;
	}
	rc = render_table(r, t);
	if (rc == CTLCMD_EXIT_OK)
		rp_buf_printf(&r->ob, "%" PRId64 " call%s\n", count, count == 1 ? "" : "s");
	return rc;
}

/* call show / call drop through rampart-proxy: ID is its call id. */
static int proxy_call_by_id(ctlcmd_run *r, const struct ctlcmd *cmd, struct dconn *p,
			    struct dconn *m, int64_t id)
{
	const benc_node *resp, *call = NULL, *q = NULL;
	rp_buf args = RP_BUF_INIT;
	int rc;

	benc_put_kv_int(&args, "id", id);
	rc = dcall(r, p, cmd->remote, &args, &resp);
	rp_buf_free(&args);
	if (rc != CTLCMD_EXIT_OK)
		return rc;
	if (cmd->access != CTL_ACCESS_ADMIN) {
		int64_t sess;

		call = benc_dict_get(resp, "call");
		sess = get_int(call, "session", 0);
		if (m && sess > 0) {
			rp_buf qa = RP_BUF_INIT;

			benc_put_kv_int(&qa, "session", sess);
			if (dcall(r, m, "session.query", &qa, &q) != CTLCMD_EXIT_OK)
				q = NULL;
			rp_buf_free(&qa);
		}
	}
	if (r->o->json) {
		rp_json_obj_begin(&r->j);
		rp_json_kv_int(&r->j, "call", id);
		if (cmd->access == CTL_ACCESS_ADMIN)
			rp_json_kv_bool(&r->j, "dropped", true);
		rp_json_key(&r->j, "proxy");
		json_benc(&r->j, call ? call : resp, call == NULL);
		rp_json_key(&r->j, "mediad");
		if (q)
			json_benc(&r->j, q, true);
		else
			rp_json_null(&r->j);
		rp_json_obj_end(&r->j);
		r->emitted = true;
		return CTLCMD_EXIT_OK;
	}
	if (cmd->access == CTL_ACCESS_ADMIN) {
		rp_str ba, bb;

		/* An answered call says per side whether its BYE went: one that
		 * could not be sent still thinks the call is up. */
		if (benc_get_str(resp, "bye-caller", &ba, NULL) == 0 &&
		    benc_get_str(resp, "bye-callee", &bb, NULL) == 0)
			rp_buf_printf(&r->ob, "call %" PRId64 " dropped: BYE to the caller %.*s, "
				      "to the callee %.*s; media released, CDR reason "
				      "operator-drop\n", id, RP_STR_FMT(ba), RP_STR_FMT(bb));
		else
			rp_buf_printf(&r->ob, "call %" PRId64 " dropped (answered: BYE to both "
				      "sides; ringing: CANCEL and 487), media released, CDR "
				      "reason operator-drop\n", id);
		return CTLCMD_EXIT_OK;
	}
	{
		rp_table *t;

		if (rp_table_new(2, &t) < 0)
			return fail(r, CTLCMD_EXIT_PROTO, "out of memory");
		kv_rows(t, "proxy", call, false);
		if (q)
			kv_rows(t, "mediad", q, true);
		return render_table(r, t);
	}
}

static int cmd_call_by_id(ctlcmd_run *r, const struct ctlcmd *cmd, int argc, char **argv)
{
	const benc_node *q;
	rp_buf args = RP_BUF_INIT;
	int64_t id = 0;
	int rc = parse_id(r, cmd, argv[0], &id);

	struct dconn *pd, *md;

	if (rc != CTLCMD_EXIT_OK)
		return rc;
	rc = calls_daemons(r, &pd, &md);
	if (rc != CTLCMD_EXIT_OK)
		return rc;
	if (pd)
		return proxy_call_by_id(r, cmd, pd, md, id);
	/* rampart-proxy is not running: ID is mediad's session number. */
	benc_put_kv_int(&args, "session", id);
	rc = dcall(r, md, cmd->access == CTL_ACCESS_ADMIN ? "session.delete" : "session.query",
		   &args, &q);
	rp_buf_free(&args);
	if (rc != CTLCMD_EXIT_OK)
		return rc;
	if (r->o->json) {
		rp_json_obj_begin(&r->j);
		rp_json_kv_int(&r->j, "call", id);
		if (cmd->access == CTL_ACCESS_ADMIN)
			rp_json_kv_bool(&r->j, "dropped", true);
		rp_json_key(&r->j, "proxy");
		rp_json_null(&r->j);
		rp_json_key(&r->j, "mediad");
		json_benc(&r->j, q, true);
		rp_json_obj_end(&r->j);
		r->emitted = true;
		return CTLCMD_EXIT_OK;
	}
	if (cmd->access == CTL_ACCESS_ADMIN)
		rp_buf_printf(&r->ob, "call %" PRId64 " dropped; final state:\n", id);
	{
		rp_table *t;

		if (rp_table_new(2, &t) < 0)
			return fail(r, CTLCMD_EXIT_PROTO, "out of memory");
		for (size_t k = 0; k < sizeof(proxy_fields) / sizeof(proxy_fields[0]); k++) {
			char key[32];

			snprintf(key, sizeof(key), "proxy.%s", proxy_fields[k]);
			rp_table_row(t);
			rp_table_cell_cstr(t, key);
			rp_table_cell_cstr(t, "-");
		}
		kv_rows(t, "mediad", q, true);
		return render_table(r, t);
	}
}

static int cmd_ping(ctlcmd_run *r, const struct ctlcmd *cmd, int argc, char **argv)
{
	int64_t rtt[2] = { -1, -1 };
	unsigned mask;
	int rc = selector(r, cmd, argc, argv, &mask);

	if (rc != CTLCMD_EXIT_OK)
		return rc;
	pick(r, mask);
	for (size_t i = 0; i < r->nd; i++) {
		const benc_node *resp;
		uint64_t t0;

		if (dconnect(r, &r->d[i]) != CTLCMD_EXIT_OK)
			continue;
		t0 = rp_now_us();
		rc = dcall(r, &r->d[i], "ping", NULL, &resp);
		if (rc != CTLCMD_EXIT_OK) {
			r->d[i].state = -1;
			r->d[i].exit = rc;
			snprintf(r->d[i].why, sizeof(r->d[i].why), "%s", r->why);
			continue;
		}
		rtt[i] = (int64_t)(rp_now_us() - t0);
	}
	if (r->o->json)
		rp_json_obj_begin(&r->j);
	for (size_t i = 0; i < r->nd; i++) {
		struct dconn *d = &r->d[i];

		if (r->o->json) {
			rp_json_key(&r->j, d->kind ? kind_key(d->kind) : "daemon");
			rp_json_obj_begin(&r->j);
			if (d->state > 0) {
				rp_json_kv_cstr(&r->j, "socket", d->path);
				rp_json_kv_bool(&r->j, "up", true);
				rp_json_kv_int(&r->j, "rtt-us", rtt[i]);
			} else {
				json_down_obj(r, d);
			}
			rp_json_obj_end(&r->j);
		} else if (d->state > 0) {
			rp_buf_printf(&r->ob, "%s: ok in %" PRId64 ".%03" PRId64 " ms (%s)\n",
				      kind_name(d->kind), rtt[i] / 1000, rtt[i] % 1000, d->path);
		} else {
			rp_buf_printf(&r->ob, "%s\n", d->why);
		}
	}
	if (r->o->json)
		rp_json_obj_end(&r->j);
	r->emitted = true;
	return multi_status(r);
}

static int cmd_commands(ctlcmd_run *r, const struct ctlcmd *cmd, int argc, char **argv)
{
	const benc_node *resp[2] = { NULL, NULL };
	rp_table *t = NULL;
	unsigned mask;
	int rc = selector(r, cmd, argc, argv, &mask);

	if (rc != CTLCMD_EXIT_OK)
		return rc;
	pick(r, mask);
	for (size_t i = 0; i < r->nd; i++) {
		if (dconnect(r, &r->d[i]) != CTLCMD_EXIT_OK)
			continue;
		rc = dcall(r, &r->d[i], "commands", NULL, &resp[i]);
		if (rc != CTLCMD_EXIT_OK) {
			r->d[i].state = -1;
			r->d[i].exit = rc;
			snprintf(r->d[i].why, sizeof(r->d[i].why), "%s", r->why);
		}
	}
	if (r->o->json) {
		rp_json_obj_begin(&r->j);
	} else {
		if (rp_table_new(5, &t) < 0)
			return fail(r, CTLCMD_EXIT_PROTO, "out of memory");
		rp_table_column(t, 0, "DAEMON", RP_TABLE_LEFT);
		rp_table_column(t, 1, "COMMAND", RP_TABLE_LEFT);
		rp_table_column(t, 2, "ACCESS", RP_TABLE_LEFT);
		rp_table_column(t, 3, "HELP", RP_TABLE_LEFT);
		rp_table_column(t, 4, "USAGE", RP_TABLE_LEFT);
	}
	for (size_t i = 0; i < r->nd; i++) {
		struct dconn *d = &r->d[i];
		const benc_node *list;

		if (r->o->json) {
			rp_json_key(&r->j, d->kind ? kind_key(d->kind) : "daemon");
			if (d->state > 0) {
				json_benc(&r->j, resp[i], true);
			} else {
				rp_json_obj_begin(&r->j);
				json_down_obj(r, d);
				rp_json_obj_end(&r->j);
			}
			continue;
		}
		if (d->state <= 0 || benc_get_list(resp[i], "commands", &list, NULL) < 0)
			continue;
		BENC_FOREACH(c, list) {
			rp_table_row(t);
			rp_table_cell_cstr(t, kind_key(d->kind));
			status_text_cell(t, benc_dict_get(c, "name"), "?");
			status_text_cell(t, benc_dict_get(c, "access"), "-");
			status_text_cell(t, benc_dict_get(c, "help"), "");
			status_text_cell(t, benc_dict_get(c, "usage"), "");
		}
	}
	if (r->o->json) {
		rp_json_obj_end(&r->j);
		r->emitted = true;
	} else {
		rc = render_table(r, t);
		if (rc != CTLCMD_EXIT_OK)
			return rc;
		for (size_t i = 0; i < r->nd; i++)
			if (r->d[i].state <= 0)
				rp_buf_printf(&r->ob, "%s\n", r->d[i].why);
	}
	return multi_status(r);
}

static int cmd_help(ctlcmd_run *r, const struct ctlcmd *cmd, int argc, char **argv)
{
	if (argc == 0) {
		ctlcmd_print_usage(r->out);
		return CTLCMD_EXIT_OK;
	}
	if (ctlcmd_print_cmd_help(r->out, argc, argv) != 0)
		return fail(r, CTLCMD_EXIT_USAGE, "help: no command '%s'; 'rampartctl help' lists them",
			    argv[0]);
	return CTLCMD_EXIT_OK;
}

/* ---------------- tls ---------------- */

static const char *cstr_field(ctlcmd_run *r, const benc_node *d, const char *key)
{
	rp_str v;

	if (benc_get_str(d, key, &v, NULL) < 0 || v.n == 0)
		return "-";
	return rp_arena_strndup(&r->arena, v.p, v.n);
}

/* A list of strings joined by sep into the arena; "-" when empty. */
static const char *joined(ctlcmd_run *r, const benc_node *d, const char *key, const char *sep)
{
	const benc_node *l;
	rp_buf b = RP_BUF_INIT;
	const char *out;

	if (benc_get_list(d, key, &l, NULL) < 0)
		return "-";
	BENC_FOREACH(it, l) {
		if (it->type != BENC_STR)
			continue;
		if (b.len)
			rp_buf_append_cstr(&b, sep);
		rp_buf_append_str(&b, it->u.s);
	}
	out = b.len && !rp_buf_error(&b) ? rp_arena_strndup(&r->arena, b.p, b.len) : "-";
	rp_buf_free(&b);
	return out ? out : "-";
}

/* Calls the proxy; with --json the whole answer is the output. Returns an
 * exit status; *resp is NULL when the output is already done. */
static int tls_call(ctlcmd_run *r, const struct ctlcmd *cmd, const rp_buf *args,
		    const benc_node **resp)
{
	int rc;

	pick(r, CTLCMD_PROXY);
	rc = dcall(r, &r->d[0], cmd->remote, args, resp);
	if (rc != CTLCMD_EXIT_OK)
		return rc;
	if (r->o->json) {
		json_benc(&r->j, *resp, true);
		r->emitted = true;
		*resp = NULL;
	}
	return CTLCMD_EXIT_OK;
}

/* tls connections [max=N]: one row per connection. */
static int cmd_tls_connections(ctlcmd_run *r, const struct ctlcmd *cmd, int argc, char **argv)
{
	static const char *const titles[] = { "DIR", "PEER", "LISTENER", "STATE", "VERSION",
		"CIPHER", "SNI", "PEER-CERT", "RESUMED", "AGE", "IDLE" };
	const size_t ncol = sizeof(titles) / sizeof(titles[0]);
	const benc_node *resp, *list;
	rp_buf args = RP_BUF_INIT;
	rp_table *t;
	int rc;

	rp_buf_init(&args, CTL_DEFAULT_MAX_MSG);
	rc = kv_args(r, cmd, argc, argv, &args);
	if (rc == CTLCMD_EXIT_OK)
		rc = tls_call(r, cmd, &args, &resp);
	rp_buf_free(&args);
	if (rc != CTLCMD_EXIT_OK || !resp)
		return rc;
	if (benc_get_list(resp, "connections", &list, NULL) < 0)
		return fail(r, CTLCMD_EXIT_PROTO, "rampart-proxy's tls.connections answer has no list");
	if (rp_table_new(ncol, &t) < 0)
		return fail(r, CTLCMD_EXIT_PROTO, "out of memory");
	for (size_t c = 0; c < ncol; c++)
		rp_table_column(t, c, titles[c], c >= 9 ? RP_TABLE_RIGHT : RP_TABLE_LEFT);
	BENC_FOREACH(c, list) {
		char age[32], idle[32];
		const char *subj = cstr_field(r, c, "peer-subject");

		fmt_ms(age, sizeof(age), get_int(c, "age-ms", -1));
		fmt_ms(idle, sizeof(idle), get_int(c, "idle-ms", -1));
		rp_table_row(t);
		rp_table_cell_cstr(t, !strcmp(cstr_field(r, c, "direction"), "outbound") ? "out" : "in");
		rp_table_cell_cstr(t, cstr_field(r, c, "peer"));
		rp_table_cell_cstr(t, cstr_field(r, c, "listener"));
		rp_table_cell_cstr(t, cstr_field(r, c, "state"));
		rp_table_cell_cstr(t, cstr_field(r, c, "tls-version"));
		rp_table_cell_cstr(t, cstr_field(r, c, "cipher"));
		rp_table_cell_cstr(t, cstr_field(r, c, "sni"));
		if (strcmp(subj, "-") != 0)
			rp_table_cellf(t, "%s [%s]", subj, joined(r, c, "peer-sans", " "));
		else
			rp_table_cell_cstr(t, "-");
		rp_table_cell_cstr(t, get_int(c, "resumed", 0) ? "yes" : "no");
		rp_table_cell_cstr(t, age);
		rp_table_cell_cstr(t, idle);
	}
	rc = render_table(r, t);
	if (rc == CTLCMD_EXIT_OK && get_int(resp, "listed", 0) < get_int(resp, "total", 0))
		rp_buf_printf(&r->ob, "(%" PRId64 " of %" PRId64 " connections listed)\n",
			      get_int(resp, "listed", 0), get_int(resp, "total", 0));
	return rc;
}

/* One certificate of tls.cert.show (or of the stage answer) as a block. */
static void cert_block(ctlcmd_run *r, const benc_node *c)
{
	rp_buf *o = &r->ob;
	const char *chain = cstr_field(r, c, "chain-file");

	rp_buf_printf(o, "%s  %s  %s%s%s\n", cstr_field(r, c, "listener"),
		      cstr_field(r, c, "state"), cstr_field(r, c, "slot"),
		      strcmp(joined(r, c, "names", ", "), "-") ? ": " : "",
		      strcmp(joined(r, c, "names", ", "), "-") ? joined(r, c, "names", ", ") : "");
	rp_buf_printf(o, "  subject      %s\n", cstr_field(r, c, "subject"));
	rp_buf_printf(o, "  sans         %s\n", joined(r, c, "sans", " "));
	rp_buf_printf(o, "  issuer       %s\n", cstr_field(r, c, "issuer"));
	rp_buf_printf(o, "  serial       %s\n", cstr_field(r, c, "serial"));
	rp_buf_printf(o, "  valid        %s .. %s (%" PRId64 " days left)\n",
		      cstr_field(r, c, "not-before"), cstr_field(r, c, "not-after"),
		      get_int(c, "expires-in-days", 0));
	rp_buf_printf(o, "  key          %s\n", cstr_field(r, c, "key-type"));
	rp_buf_printf(o, "  chain        %" PRId64 " certificate(s); %s\n",
		      get_int(c, "chain-length", 0), cstr_field(r, c, "chain-check"));
	rp_buf_printf(o, "  files        %s, key %s%s%s\n", cstr_field(r, c, "cert-file"),
		      cstr_field(r, c, "key-file"), strcmp(chain, "-") ? ", chain " : "",
		      strcmp(chain, "-") ? chain : "");
}

static int cert_blocks(ctlcmd_run *r, const benc_node *resp, const char *only_state)
{
	const benc_node *list;
	bool first = true;

	if (benc_get_list(resp, "certificates", &list, NULL) < 0)
		return fail(r, CTLCMD_EXIT_PROTO, "rampart-proxy's answer has no certificate list");
	BENC_FOREACH(c, list) {
		if (only_state && strcmp(cstr_field(r, c, "state"), only_state) != 0)
			continue;
		if (!first)
			rp_buf_append_byte(&r->ob, '\n');
		first = false;
		cert_block(r, c);
	}
	r->emitted = true;
	return CTLCMD_EXIT_OK;
}

static int cmd_tls_cert_show(ctlcmd_run *r, const struct ctlcmd *cmd, int argc, char **argv)
{
	const benc_node *resp;
	int rc = tls_call(r, cmd, NULL, &resp);

	if (rc != CTLCMD_EXIT_OK || !resp)
		return rc;
	return cert_blocks(r, resp, NULL);
}

/* tls cert stage CERT KEY [CHAIN] [name=SNI] [listener=tls:ADDR:PORT] */
static int cmd_tls_cert_stage(ctlcmd_run *r, const struct ctlcmd *cmd, int argc, char **argv)
{
	static const char *const pos[] = { "file", "key", "chain" };
	const benc_node *resp, *l;
	rp_buf args = RP_BUF_INIT;
	int rc, npos = 0;

	rp_buf_init(&args, CTL_DEFAULT_MAX_MSG);
	/* Leading words without '=' are the files, in order. */
	while (npos < argc && npos < 3 && !strchr(argv[npos], '=')) {
		benc_put_cstr(&args, pos[npos]);
		benc_put_cstr(&args, argv[npos]);
		npos++;
	}
	if (npos < 2) {
		rp_buf_free(&args);
		return fail(r, CTLCMD_EXIT_USAGE, "usage: rampartctl tls cert stage CERT.pem KEY.pem "
			    "[CHAIN.pem] [name=SNI-NAME] [listener=tls:ADDR:PORT]");
	}
	rc = kv_args(r, cmd, argc - npos, argv + npos, &args);
	if (rc == CTLCMD_EXIT_OK)
		rc = tls_call(r, cmd, &args, &resp);
	rp_buf_free(&args);
	if (rc != CTLCMD_EXIT_OK || !resp)
		return rc;
	rp_buf_printf(&r->ob, "staged (slot %s) for: %s\n'rampartctl tls cert commit' puts it "
		      "in use, 'rampartctl tls cert abort' drops it.\n\n",
		      cstr_field(r, resp, "slot"),
		      benc_get_list(resp, "staged", &l, NULL) == 0 ?
		      joined(r, resp, "staged", ", ") : "-");
	return cert_blocks(r, resp, "staged");
}

/* commit / abort: one line saying what happened. */
static int cmd_tls_cert_change(ctlcmd_run *r, const struct ctlcmd *cmd, int argc, char **argv)
{
	const benc_node *resp;
	int rc = tls_call(r, cmd, NULL, &resp);

	if (rc != CTLCMD_EXIT_OK || !resp)
		return rc;
	if (benc_dict_get(resp, "committed"))
		rp_buf_printf(&r->ob, "committed on %s: new TLS connections get the new "
			      "certificate; established ones keep theirs\n",
			      joined(r, resp, "committed", ", "));
	else
		rp_buf_printf(&r->ob, "staged certificate dropped (%" PRId64 " listener(s))\n",
			      get_int(resp, "aborted", 0));
	r->emitted = true;
	return CTLCMD_EXIT_OK;
}

/* ---------------- the table ---------------- */

#define PASS(name_, remote_, help_, access_) \
	{ name_, "[NAME=VALUE ...]", help_, \
	  "Sent to rampart-proxy as '" remote_ "'. Until the proxy offers it this ends\n" \
	  "with the proxy's \"unknown command\" (exit 1), or exit 3 when it is not running.", \
	  CTLCMD_PROXY, access_, CTLCMD_RENDER_KV, ctlcmd_passthrough, remote_, 0, -1 }

static const struct ctlcmd table[] = {
	{ "status", "[proxy|mediad]",
	  "state of each daemon: version, protocol, uptime, workers, I/O engine, kernel fast path",
	  "A daemon that is not running is shown as down. Exit 0 when at least one\n"
	  "daemon answers (a host may run only one of them), else the status of the\n"
	  "first failure (3: cannot connect). Uptime comes from the daemon when it\n"
	  "reports 'uptime-s', else from /proc for the process behind the socket.",
	  CTLCMD_BOTH, CTL_ACCESS_READ, CTLCMD_RENDER_TABLE, cmd_status, NULL, 0, 1 },
	{ "stats", "[proxy|mediad]", "global counters of each daemon",
	  "Every counter the daemon's 'stats' command returns. A daemon that is down or\n"
	  "has no 'stats' is listed as unavailable; exit 0 when at least one answered.",
	  CTLCMD_BOTH, CTL_ACCESS_READ, CTLCMD_RENDER_KV, cmd_stats, "stats", 0, 1 },
	{ "calls", "", "one line per call: id, age, from/to, per leg signaling transport, "
	  "TLS version and cipher, SRTP suite or plain, packets, losses, auth failures, "
	  "malformed packets, kernel offload",
	  "From rampart-proxy's 'calls', each joined with its rampart-mediad session\n"
	  "(session.query) for the counters: PKTS is IN/OUT, LOST the RTP packets lost\n"
	  "on their way in (mediad's packets-lost, from sequence gaps), MALF those\n"
	  "dropped for a header that contradicts itself (mediad's malformed, offloaded\n"
	  "or not), KERNEL whether the kernel fast path carries it. MEDIA is the SRTP suite, \"plain\", or\n"
	  "\"none\" (no SDP). mediad down: counters \"-\" (JSON: null). Proxy down:\n"
	  "mediad's sessions, with the proxy's columns null (ID is then the session\n"
	  "number).",
	  CTLCMD_BOTH, CTL_ACCESS_READ, CTLCMD_RENDER_TABLE, cmd_calls, "calls", 0, 0 },
	{ "call show", "ID", "everything about one call and its legs",
	  "ID is the call id 'calls' shows (rampart-proxy's call.show), with the mediad\n"
	  "session's state. Proxy down: ID is a mediad session number (session.query).\n"
	  "Unknown ID: the daemon's error, exit 1.",
	  CTLCMD_BOTH, CTL_ACCESS_READ, CTLCMD_RENDER_KV, cmd_call_by_id, "call.show", 1, 1 },
	{ "call drop", "ID", "end a call: BYE to both sides, media released, CDR reason operator-drop",
	  "Through rampart-proxy's call.drop: an answered call gets an in-dialog BYE to\n"
	  "caller and callee, a call still ringing a CANCEL toward the callee and 487\n"
	  "to the caller; the mediad session is deleted, a CDR written. Proxy down:\n"
	  "deletes mediad session ID (session.delete; the endpoints are not told) and\n"
	  "prints its final counters.",
	  CTLCMD_BOTH, CTL_ACCESS_ADMIN, CTLCMD_RENDER_KV, cmd_call_by_id, "call.drop", 1, 1 },
	{ "ping", "[proxy|mediad]", "check that each daemon answers, with the round-trip time",
	  "Exit 0 when at least one daemon answers; name one to test just that one.",
	  CTLCMD_BOTH, CTL_ACCESS_READ, CTLCMD_RENDER_TEXT, cmd_ping, "ping", 0, 1 },
	{ "commands", "[proxy|mediad]", "the control commands each daemon says it supports",
	  NULL, CTLCMD_BOTH, CTL_ACCESS_READ, CTLCMD_RENDER_TABLE, cmd_commands, "commands", 0, 1 },
	PASS("registrations", "registrations", "SIP registrations held by the proxy",
	     CTL_ACCESS_READ),
	PASS("trunks", "trunks", "trunks and their state", CTL_ACCESS_READ),
	{ "tls connections", "[max=N]",
	  "open TLS connections: peer, listener, version, cipher, SNI, peer certificate, age, idle",
	  "Inbound and outbound, newest first (at most N, default 1000, and what fits one\n"
	  "control message). PEER-CERT is the client certificate's subject and SANs\n"
	  "(mutual TLS). STATE is handshake, established or failed.",
	  CTLCMD_PROXY, CTL_ACCESS_READ, CTLCMD_RENDER_TABLE, cmd_tls_connections,
	  "tls.connections", 0, 1 },
	{ "tls cert show", "", "each TLS listener's certificates in use, and a staged one",
	  "Per certificate: listener, state (in-use / staged), slot (default or the SNI\n"
	  "names), subject, SANs, issuer, serial, validity and days left, key type,\n"
	  "chain length and what the chain was verified against, files.",
	  CTLCMD_PROXY, CTL_ACCESS_READ, CTLCMD_RENDER_TEXT, cmd_tls_cert_show,
	  "tls.cert.show", 0, 0 },
	{ "tls cert stage", "CERT KEY [CHAIN] [name=SNI-NAME] [listener=tls:ADDR:PORT]",
	  "validate a new certificate and key and keep them staged (nothing in use changes)",
	  "Checked before it is accepted: the files parse, the key matches, the chain\n"
	  "verifies against the listener's ca_file/ca_dir (else its own order and\n"
	  "signatures), the certificate is inside its validity period and covers the\n"
	  "names of the slot it replaces. name= replaces the sni_cert serving that name\n"
	  "instead of the default certificate; listener= limits it to one listener\n"
	  "(default: every TLS listener with that slot). Refused: exit 1 with the reason,\n"
	  "and nothing changes (an earlier staged certificate stays staged).",
	  CTLCMD_PROXY, CTL_ACCESS_ADMIN, CTLCMD_RENDER_TEXT, cmd_tls_cert_stage,
	  "tls.cert.stage", 2, 5 },
	{ "tls cert commit", "", "put the staged certificate in use for new connections",
	  "Swapped atomically; established TLS connections keep the certificate they\n"
	  "started with. A later SIGHUP or tls-reload re-reads the new files.\n"
	  "Exit 1 when nothing is staged.",
	  CTLCMD_PROXY, CTL_ACCESS_ADMIN, CTLCMD_RENDER_TEXT, cmd_tls_cert_change,
	  "tls.cert.commit", 0, 0 },
	{ "tls cert abort", "", "drop the staged certificate", "Exit 1 when nothing is staged.",
	  CTLCMD_PROXY, CTL_ACCESS_ADMIN, CTLCMD_RENDER_TEXT, cmd_tls_cert_change,
	  "tls.cert.abort", 0, 0 },
	PASS("config check", "config.check", "check the configuration file without applying it",
	     CTL_ACCESS_READ),
	PASS("config reload", "config.reload", "apply the configuration file", CTL_ACCESS_ADMIN),
	{ "raw", "DAEMON COMMAND [NAME=VALUE ...]",
	  "send any control command to DAEMON (proxy or mediad) and print the answer",
	  "For debugging and for commands rampartctl has no entry for yet. NAME=VALUE\n"
	  "become the request's fields: decimal digits as integers, anything else as\n"
	  "strings. Whether it is allowed is the daemon's decision (access level).",
	  CTLCMD_BOTH, CTL_ACCESS_ADMIN, CTLCMD_RENDER_KV, cmd_raw, NULL, 2, -1 },
	{ "help", "[COMMAND]", "this list, or one command's details", NULL,
	  CTLCMD_LOCAL, CTL_ACCESS_READ, CTLCMD_RENDER_TEXT, cmd_help, NULL, 0, -1 },
};

const struct ctlcmd *ctlcmd_table(size_t *n)
{
	*n = sizeof(table) / sizeof(table[0]);
	return table;
}

/* How many leading words of argv spell name; 0 if they do not. */
static int name_words(const char *name, int argc, char *const *argv)
{
	int w = 0;
	const char *p = name;

	while (*p) {
		const char *sp = strchr(p, ' ');
		size_t len = sp ? (size_t)(sp - p) : strlen(p);

		if (w >= argc || strlen(argv[w]) != len || memcmp(argv[w], p, len) != 0)
			return 0;
		w++;
		p += len;
		if (*p == ' ')
			p++;
	}
	return w;
}

const struct ctlcmd *ctlcmd_find(int argc, char *const *argv, int *nwords)
{
	const struct ctlcmd *best = NULL;
	int bw = 0;

	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		int w = name_words(table[i].name, argc, argv);

		if (w > bw) {
			bw = w;
			best = &table[i];
		}
	}
	if (best)
		*nwords = bw;
	return best;
}

static void synopsis(FILE *f, const struct ctlcmd *c)
{
	fprintf(f, "%s%s%s", c->name, c->args[0] ? " " : "", c->args);
}

void ctlcmd_print_usage(FILE *f)
{
	size_t w = 0;

	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		size_t n = strlen(table[i].name) + (table[i].args[0] ? 1 + strlen(table[i].args) : 0);

		if (n > w)
			w = n;
	}
	fprintf(f, "usage: rampartctl [OPTIONS] COMMAND [ARGS]\n\nCommands:\n");
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		const struct ctlcmd *c = &table[i];
		int n = (int)(strlen(c->name) + (c->args[0] ? 1 + strlen(c->args) : 0));

		fprintf(f, "  ");
		synopsis(f, c);
		fprintf(f, "%*s  %s\n", (int)w - n, "", c->help);
	}
	fprintf(f,
		"\nOptions (anywhere on the line):\n"
		"  --socket PATH         talk to the daemon at PATH (for a proxy- or mediad-only\n"
		"                        command: that daemon's socket)\n"
		"  --proxy-socket PATH   rampart-proxy's socket (default $RAMPART_PROXY_SOCKET or\n"
		"                        " CTLCMD_PROXY_SOCKET ")\n"
		"  --mediad-socket PATH  rampart-mediad's socket (default $RAMPART_MEDIAD_SOCKET or\n"
		"                        " CTLCMD_MEDIAD_SOCKET ")\n"
		"  --json                print one JSON document on stdout\n"
		"  --timeout MS          wait at most MS ms per request (default %d)\n"
		"  --version             print the version\n"
		"  --help                this text ('rampartctl help COMMAND' for one command)\n"
		"\nExit status: 0 ok, 1 the daemon answered with an error, 2 usage error,\n"
		"3 cannot connect, 4 timeout or protocol error.\n", CTLCMD_DEFAULT_TIMEOUT_MS);
}

int ctlcmd_print_cmd_help(FILE *f, int argc, char *const *argv)
{
	int w;
	const struct ctlcmd *c = ctlcmd_find(argc, argv, &w);

	if (!c || w != argc)
		return CTLCMD_EXIT_USAGE;
	fprintf(f, "usage: rampartctl ");
	synopsis(f, c);
	fprintf(f, "\n\n%s\n", c->help);
	if (c->detail)
		fprintf(f, "\n%s\n", c->detail);
	fprintf(f, "\nanswered by: %s; access: %s%s\n", ctlcmd_daemons_name(c->daemons),
		ctl_access_name(c->access),
		c->access == CTL_ACCESS_ADMIN ? " (changes state)" : " (only reads)");
	if (c->remote)
		fprintf(f, "control command: %s\n", c->remote);
	return 0;
}

/* Markdown cell text: '|' must be escaped even inside code spans. */
static void md(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '|')
			fputc('\\', f);
		fputc(*s == '\n' ? ' ' : *s, f);
	}
}

void ctlcmd_print_doc_table(FILE *f)
{
	fprintf(f, "| command | daemon | access | control command | what it does |\n"
		   "|---------|--------|--------|-----------------|--------------|\n");
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		const struct ctlcmd *c = &table[i];

		fprintf(f, "| `");
		md(f, c->name);
		if (c->args[0]) {
			fputc(' ', f);
			md(f, c->args);
		}
		fprintf(f, "` | %s | %s | %s%s%s | ", ctlcmd_daemons_name(c->daemons),
			ctl_access_name(c->access), c->remote ? "`" : "",
			c->remote ? c->remote : "—", c->remote ? "`" : "");
		md(f, c->help);
		if (c->detail) {
			fputs(". ", f);
			md(f, c->detail);
		}
		fprintf(f, " |\n");
	}
}

/* ---------------- running ---------------- */

int ctlcmd_run_words(const struct ctlcmd_opts *o, int argc, char **argv,
		     FILE *out, FILE *err)
{
	char arena_store[16384];
	ctlcmd_run r;
	const struct ctlcmd *c;
	int w, rc, nargs;

	memset(&r, 0, sizeof(r));
	r.o = o;
	r.out = out;
	r.err = err;
	if (argc == 0) {
		ctlcmd_print_usage(err);
		return CTLCMD_EXIT_USAGE;
	}
	c = ctlcmd_find(argc, argv, &w);
	r.access = c ? c->access : CTL_ACCESS_ADMIN;
	if (!c) {
		snprintf(r.why, sizeof(r.why), "unknown command '%s'; 'rampartctl help' lists them",
			 argv[0]);
		fprintf(err, "rampartctl: %s\n", r.why);
		rc = CTLCMD_EXIT_USAGE;
		goto json_error;
	}
	nargs = argc - w;
	if (nargs < c->min_args || (c->max_args >= 0 && nargs > c->max_args)) {
		fprintf(err, "rampartctl: usage: rampartctl ");
		synopsis(err, c);
		fprintf(err, "\n");
		snprintf(r.why, sizeof(r.why), "usage: rampartctl %s %s", c->name, c->args);
		rc = CTLCMD_EXIT_USAGE;
		goto json_error;
	}
	if (o->socket && (o->proxy_socket || o->mediad_socket)) {
		fprintf(err, "rampartctl: give --socket or --proxy-socket/--mediad-socket, not both\n");
		snprintf(r.why, sizeof(r.why), "--socket with --proxy-socket/--mediad-socket");
		rc = CTLCMD_EXIT_USAGE;
		goto json_error;
	}
	rp_arena_init(&r.arena, arena_store, sizeof(arena_store), 512u << 20);
	rp_buf_init(&r.ob, 0);
	rp_json_init(&r.j, &r.ob, RP_JSON_PRETTY);
	rc = c->fn(&r, c, nargs, argv + w);
	if (r.emitted && o->json && rp_json_finish(&r.j) != 0) {
		r.emitted = false;
		rc = fail(&r, CTLCMD_EXIT_PROTO, "cannot write the JSON output");
	}
	if (r.emitted && rp_buf_error(&r.ob) == 0)
		fwrite(r.ob.p, 1, r.ob.len, out);
	if (rc != CTLCMD_EXIT_OK && r.why[0])
		fprintf(err, "rampartctl: %s\n", r.why);
	for (size_t i = 0; i < 2; i++)
		ctl_client_close(r.d[i].c);
	rp_buf_free(&r.ob);
	rp_arena_fini(&r.arena);
	if (rc == CTLCMD_EXIT_OK || r.emitted)
		return rc;
json_error:
	/* Scripts parse stdout: with --json there is always one document. */
	if (o->json) {
		rp_buf b = RP_BUF_INIT;
		rp_json j;

		rp_json_init(&j, &b, RP_JSON_PRETTY);
		rp_json_obj_begin(&j);
		rp_json_kv_cstr(&j, "error", r.why[0] ? r.why : "usage error");
		rp_json_kv_int(&j, "exit-code", rc);
		rp_json_obj_end(&j);
		if (rp_json_finish(&j) == 0)
			fwrite(b.p, 1, b.len, out);
		rp_buf_free(&b);
	}
	return rc;
}
