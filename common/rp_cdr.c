/* rp_cdr: see rp_cdr.h. */
#include "rp_cdr.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rp_buf.h"
#include "rp_json.h"
#include "rp_time.h"

#define MAX_LINE (64 * 1024)

_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "reopen flag must be lock-free for signal handlers");

struct rp_cdr {
	pthread_mutex_t lock;
	char *path;
	int fd;
	unsigned fsync_lines, fsync_ms;
	enum rp_cdr_hash hash;
	uint8_t *secret;
	size_t secret_len;
	unsigned pending;       /* lines written since the last fsync */
	uint64_t first_pending; /* ms when the oldest of them was written */
	atomic_int reopen_req; /* lock-free, so safe to set from a signal handler */
	uint64_t (*now)(void *);
	void *now_arg;
	rp_cdr_stats st;
};

static uint64_t mono_ms(void *arg)
{
	(void)arg;
	return rp_now_ms();
}

static int open_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
	return fd < 0 ? -errno : fd;
}

int rp_cdr_open(const rp_cdr_cfg *cfg, rp_cdr **out)
{
	if (!cfg || !cfg->path || !*cfg->path || cfg->hash > RP_CDR_HASH_HMAC)
		return -EINVAL;
	if (cfg->hash == RP_CDR_HASH_HMAC &&
		(!cfg->secret || cfg->secret_len < 16 || cfg->secret_len > 256))
		return -EINVAL;
	rp_cdr *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->fd = -1;
	c->path = strdup(cfg->path);
	if (!c->path)
		goto nomem;
	if (cfg->hash == RP_CDR_HASH_HMAC) {
		c->secret = malloc(cfg->secret_len);
		if (!c->secret)
			goto nomem;
		memcpy(c->secret, cfg->secret, cfg->secret_len);
		c->secret_len = cfg->secret_len;
	}
	if (pthread_mutex_init(&c->lock, NULL) != 0)
		goto nomem;
	c->hash = cfg->hash;
	c->fsync_lines = cfg->fsync_lines ? cfg->fsync_lines : 100;
	c->fsync_ms = cfg->fsync_ms ? cfg->fsync_ms : 1000;
	c->now = mono_ms;
	int fd = open_file(c->path);
	if (fd < 0) {
		pthread_mutex_destroy(&c->lock);
		if (c->secret)
			explicit_bzero(c->secret, c->secret_len);
		free(c->secret);
		free(c->path);
		free(c);
		return fd;
	}
	c->fd = fd;
	*out = c;
	return 0;
nomem:
	free(c->secret);
	free(c->path);
	free(c);
	return -ENOMEM;
}

/* Under the lock. */
static int do_sync(rp_cdr *c)
{
	if (!c->pending)
		return 0;
	if (fsync(c->fd) < 0) {
		c->st.errors++;
		return -errno;
	}
	c->pending = 0;
	c->st.fsyncs++;
	return 0;
}

static int maybe_sync(rp_cdr *c)
{
	if (!c->pending)
		return 0;
	if (c->pending >= c->fsync_lines || c->now(c->now_arg) - c->first_pending >= c->fsync_ms)
		return do_sync(c);
	return 0;
}

static int do_reopen(rp_cdr *c)
{
	int rc = do_sync(c);
	int fd = open_file(c->path);
	if (fd < 0) {
		c->st.errors++;
		return fd;
	}
	close(c->fd);
	c->fd = fd;
	c->st.reopens++;
	return rc;
}

static int check_reopen(rp_cdr *c)
{
	if (!atomic_exchange(&c->reopen_req, 0))
		return 0;
	return do_reopen(c);
}

void rp_cdr_request_reopen(rp_cdr *c)
{
	atomic_store(&c->reopen_req, 1);
}

int rp_cdr_reopen(rp_cdr *c)
{
	pthread_mutex_lock(&c->lock);
	atomic_store(&c->reopen_req, 0);
	int rc = do_reopen(c);
	pthread_mutex_unlock(&c->lock);
	return rc;
}

int rp_cdr_tick(rp_cdr *c)
{
	pthread_mutex_lock(&c->lock);
	int rc = check_reopen(c);
	int rc2 = maybe_sync(c);
	pthread_mutex_unlock(&c->lock);
	return rc ? rc : rc2;
}

int rp_cdr_flush(rp_cdr *c)
{
	pthread_mutex_lock(&c->lock);
	int rc = do_sync(c);
	pthread_mutex_unlock(&c->lock);
	return rc;
}

void rp_cdr_close(rp_cdr *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	(void)do_sync(c); /* nobody left to report to; errors counted */
	pthread_mutex_unlock(&c->lock);
	close(c->fd);
	pthread_mutex_destroy(&c->lock);
	if (c->secret)
		explicit_bzero(c->secret, c->secret_len);
	free(c->secret);
	free(c->path);
	free(c);
}

void rp_cdr_get_stats(rp_cdr *c, rp_cdr_stats *out)
{
	pthread_mutex_lock(&c->lock);
	*out = c->st;
	pthread_mutex_unlock(&c->lock);
}

void rp_cdr_set_clock(rp_cdr *c, uint64_t (*now_ms)(void *), void *arg)
{
	pthread_mutex_lock(&c->lock);
	c->now = now_ms ? now_ms : mono_ms;
	c->now_arg = arg;
	pthread_mutex_unlock(&c->lock);
}

int rp_cdr_hash_value(rp_cdr *c, rp_str v, char *dst, size_t dstsz)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = SHA256_DIGEST_LENGTH;
	const char *prefix;
	if (c->hash == RP_CDR_HASH_SHA256) {
		prefix = "sha256:";
		SHA256((const unsigned char *)(v.p ? v.p : ""), v.n, md);
	} else if (c->hash == RP_CDR_HASH_HMAC) {
		prefix = "hmac-sha256:";
		if (!HMAC(EVP_sha256(), c->secret, (int)c->secret_len,
			(const unsigned char *)(v.p ? v.p : ""), v.n, md, &mdlen))
			return -EIO;
	} else {
		return -EINVAL;
	}
	size_t pl = strlen(prefix);
	if (dstsz < pl + 2 * mdlen + 1)
		return -ENOSPC;
	memcpy(dst, prefix, pl);
	static const char hx[] = "0123456789abcdef";
	for (unsigned i = 0; i < mdlen; i++) {
		dst[pl + 2 * i] = hx[md[i] >> 4];
		dst[pl + 2 * i + 1] = hx[md[i] & 15];
	}
	dst[pl + 2 * mdlen] = 0;
	explicit_bzero(md, sizeof(md));
	return (int)(pl + 2 * mdlen);
}

static void kv_opt_str(rp_json *j, const char *k, rp_str v)
{
	rp_json_key(j, k);
	if (v.n)
		rp_json_str(j, v);
	else
		rp_json_null(j);
}

static void kv_time(rp_json *j, const char *k, uint64_t ns)
{
	char t[32];
	rp_json_key(j, k);
	if (ns && rp_time_fmt_utc(ns, t, sizeof(t)) > 0)
		rp_json_cstr(j, t);
	else
		rp_json_null(j);
}

static int kv_party(rp_cdr *c, rp_json *j, const char *k, rp_str v)
{
	if (c->hash == RP_CDR_HASH_NONE || v.n == 0) {
		kv_opt_str(j, k, v);
		return 0;
	}
	char h[96];
	int rc = rp_cdr_hash_value(c, v, h, sizeof(h));
	if (rc < 0)
		return rc;
	rp_json_kv_cstr(j, k, h);
	return 0;
}

static bool leg_unencrypted(const rp_cdr_leg *l)
{
	bool sig_tls = rp_str_eq_cstr(l->transport, "tls") || rp_str_eq_cstr(l->transport, "wss");
	bool media_plain = l->media.n == 0 || rp_str_eq_cstr(l->media, "plain");
	return !sig_tls || media_plain;
}

static int format(rp_cdr *c, const rp_cdr_call *k, rp_buf *b)
{
	rp_json j;
	rp_json_init(&j, b, 0);
	rp_json_obj_begin(&j);
	rp_json_kv_uint(&j, "v", 1);
	kv_opt_str(&j, "call_id", k->call_id);
	kv_time(&j, "start", k->start_ns);
	kv_time(&j, "answer", k->answer_ns);
	kv_time(&j, "end", k->end_ns);
	rp_json_key(&j, "duration_ms");
	if (k->answer_ns && k->end_ns >= k->answer_ns)
		rp_json_uint(&j, (k->end_ns - k->answer_ns) / 1000000);
	else
		rp_json_null(&j);
	kv_opt_str(&j, "trunk", k->trunk);
	int rc = kv_party(c, &j, "from", k->from);
	if (!rc)
		rc = kv_party(c, &j, "to", k->to);
	if (rc)
		return rc;
	bool unenc = k->nlegs == 0;
	rp_json_key(&j, "legs");
	rp_json_arr_begin(&j);
	for (unsigned i = 0; i < k->nlegs; i++) {
		const rp_cdr_leg *l = &k->legs[i];
		unenc |= leg_unencrypted(l);
		rp_json_obj_begin(&j);
		kv_opt_str(&j, "role", l->role);
		kv_opt_str(&j, "peer", l->peer);
		kv_opt_str(&j, "transport", l->transport);
		kv_opt_str(&j, "tls_version", l->tls_version);
		kv_opt_str(&j, "tls_cipher", l->tls_cipher);
		kv_opt_str(&j, "peer_cert_subject", l->peer_cert_subject);
		kv_opt_str(&j, "media", l->media.n ? l->media : RP_STR_LIT("plain"));
		rp_json_kv_uint(&j, "packets_in", l->packets_in);
		rp_json_kv_uint(&j, "packets_out", l->packets_out);
		rp_json_kv_uint(&j, "packets_lost", l->packets_lost);
		rp_json_kv_uint(&j, "bytes_in", l->bytes_in);
		rp_json_kv_uint(&j, "bytes_out", l->bytes_out);
		rp_json_kv_uint(&j, "malformed", l->malformed);
		rp_json_obj_end(&j);
	}
	rp_json_arr_end(&j);
	rp_json_kv_uint(&j, "auth_failures", k->auth_failures);
	rp_json_kv_bool(&j, "unencrypted", unenc);
	rp_json_key(&j, "final_code");
	if (k->final_code > 0)
		rp_json_int(&j, k->final_code);
	else
		rp_json_null(&j);
	kv_opt_str(&j, "end_reason", k->end_reason);
	rp_json_obj_end(&j);
	rc = rp_json_finish(&j);
	if (!rc)
		rc = rp_buf_append_byte(b, '\n');
	return rc;
}

int rp_cdr_write(rp_cdr *c, const rp_cdr_call *call)
{
	if (!c || !call || call->nlegs > RP_CDR_MAX_LEGS)
		return -EINVAL;
	rp_buf b;
	rp_buf_init(&b, MAX_LINE);
	int rc = format(c, call, &b);
	if (rc) {
		rp_buf_free(&b);
		return rc; /* -EMSGSIZE over MAX_LINE, -ENOMEM, -EIO from hashing */
	}
	rp_str line = rp_buf_str(&b);
	pthread_mutex_lock(&c->lock);
	int rrc = check_reopen(c);
	(void)rrc; /* a failed reopen keeps the old file; counted in errors */
	size_t off = 0;
	while (off < line.n) {
		ssize_t w = write(c->fd, line.p + off, line.n - off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			c->st.errors++;
			break;
		}
		off += (size_t)w;
	}
	if (!rc) {
		if (!c->pending)
			c->first_pending = c->now(c->now_arg);
		c->pending++;
		c->st.lines++;
		rc = maybe_sync(c);
	}
	pthread_mutex_unlock(&c->lock);
	rp_buf_free(&b);
	return rc;
}
