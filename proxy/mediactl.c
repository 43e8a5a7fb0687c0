/* mediactl: client of rampart-mediad's control socket (see mediactl.h). */
#include "mediactl.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "benc.h"
#include "ctl.h"
#include "rp_arena.h"
#include "rp_buf.h"
#include "rp_log.h"

struct rp_mediactl {
	pthread_mutex_t mu;
	ctl_client *cl;
	char *path;
	int timeout_ms;
	char err[256];
};

int rp_mediactl_open(const char *path, int timeout_ms, rp_mediactl **out)
{
	rp_mediactl *c;
	int rc;

	if (!path || !out)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->path = strdup(path);
	if (!c->path) {
		free(c);
		return -ENOMEM;
	}
	c->timeout_ms = timeout_ms > 0 ? timeout_ms : 2000;
	rc = ctl_client_connect(path, 0, &c->cl);
	if (rc < 0) {
		free(c->path);
		free(c);
		return rc;
	}
	pthread_mutex_init(&c->mu, NULL);
	*out = c;
	return 0;
}

void rp_mediactl_close(rp_mediactl *c)
{
	if (!c)
		return;
	ctl_client_close(c->cl);
	pthread_mutex_destroy(&c->mu);
	free(c->path);
	free(c);
}

const char *rp_mediactl_last_error(rp_mediactl *c)
{
	return c->err;
}

/* One call under the lock; reconnects once if the server went away. The
 * caller holds c->mu. */
static int call_locked(rp_mediactl *c, const char *cmd, const rp_buf *args,
	rp_arena *a, const benc_node **resp)
{
	int rc;

	c->err[0] = '\0';
	for (int attempt = 0; attempt < 2; attempt++) {
		if (!c->cl) {
			rc = ctl_client_connect(c->path, 0, &c->cl);
			if (rc < 0) {
				snprintf(c->err, sizeof(c->err), "cannot connect to mediad at %s: %s",
					c->path, strerror(-rc));
				return rc;
			}
		}
		rc = ctl_call(c->cl, cmd, args, a, resp, c->timeout_ms);
		if (rc == -ECONNRESET || rc == -EPIPE || rc == -ENOTCONN) {
			ctl_client_close(c->cl);
			c->cl = NULL;
			continue;
		}
		break;
	}
	if (rc == -EREMOTEIO) {
		rp_str r = ctl_resp_reason(*resp);
		snprintf(c->err, sizeof(c->err), "%.*s", RP_STR_FMT(r));
		/* Logged here, under the lock: callers only see the code, and
		 * last_error may be overwritten by another worker's call. */
		rp_warn_rl("mediad refused %s: %s", cmd, c->err);
	} else if (rc < 0 && !c->err[0]) {
		snprintf(c->err, sizeof(c->err), "%s: %s", cmd, strerror(-rc));
	}
	return rc;
}

static int read_local(const benc_node *leg, struct rp_mediactl_local *l)
{
	rp_str fam, addr;
	int64_t port;

	if (benc_get_str(leg, "family", &fam, NULL) < 0 ||
	    benc_get_str(leg, "address", &addr, NULL) < 0 ||
	    benc_get_int(leg, "port", 1, 65535, &port, NULL) < 0)
		return -EBADMSG;
	l->ip6 = rp_str_eq_cstr(fam, "IP6");
	if (rp_str_copy(addr, l->address, sizeof(l->address)) < 0)
		return -EBADMSG;
	l->port = (uint16_t)port;
	return 0;
}

int rp_mediactl_create(rp_mediactl *c, const char *label, bool ip6_a, bool ip6_b,
	uint64_t *id, struct rp_mediactl_local *a, struct rp_mediactl_local *b)
{
	rp_buf args = RP_BUF_INIT;
	rp_arena ar;
	char store[2048];
	const benc_node *resp = NULL, *la, *lb;
	int64_t sid;
	int rc;

	rp_arena_init(&ar, store, sizeof(store), 0);
	/* The label is for people reading session.list; mediad takes up to
	 * 47 bytes and refuses more. A longer Call-ID (RFC 4475 longreq, some
	 * carriers' own) must not cost the call its media: its head is kept. */
	if (label && *label)
		benc_put_kv_str(&args, "label", rp_str_make(label, strnlen(label, 47)));
	benc_put_kv_cstr(&args, "family-a", ip6_a ? "IP6" : "IP4");
	benc_put_kv_cstr(&args, "family-b", ip6_b ? "IP6" : "IP4");
	if ((rc = rp_buf_error(&args)) < 0)
		goto out;
	pthread_mutex_lock(&c->mu);
	rc = call_locked(c, "session.create", &args, &ar, &resp);
	if (rc == 0) {
		if (benc_get_int(resp, "session", 1, INT64_MAX, &sid, NULL) < 0 ||
		    benc_get_dict(resp, "a", &la, NULL) < 0 ||
		    benc_get_dict(resp, "b", &lb, NULL) < 0 ||
		    read_local(la, a) < 0 || read_local(lb, b) < 0) {
			snprintf(c->err, sizeof(c->err), "session.create: malformed reply");
			rc = -EBADMSG;
		} else {
			*id = (uint64_t)sid;
		}
	}
	pthread_mutex_unlock(&c->mu);
out:
	rp_buf_free(&args);
	rp_arena_fini(&ar);
	return rc;
}

static void put_srtp(rp_buf *b, const char *field, const struct rp_mediactl_srtp *s)
{
	const struct sdes_crypto *cr = s->crypto;
	const struct sdes_key *k;
	size_t kl, sl;

	if (s->op == RP_MEDIACTL_SRTP_KEEP)
		return;
	if (s->op == RP_MEDIACTL_SRTP_NONE || !cr) {
		benc_put_kv_cstr(b, field, "none");
		return;
	}
	k = &cr->keys[0];
	kl = sdes_suite_key_len(cr->suite);
	sl = sdes_suite_salt_len(cr->suite);
	benc_put_kv_dict(b, field);
	benc_put_kv_cstr(b, "suite", sdes_suite_name(cr->suite));
	benc_put_kv_str(b, "key", rp_str_make((const char *)k->key_salt, kl));
	benc_put_kv_str(b, "salt", rp_str_make((const char *)k->key_salt + kl, sl));
	if (k->has_mki) {
		char mki[8];
		/* MKI value in network order, mki_len bytes (the caller limits
		 * it to what mediad takes: 4). */
		for (unsigned i = 0; i < k->mki_len && i < sizeof(mki); i++)
			mki[i] = (char)(k->mki >> (8 * (k->mki_len - 1 - i)));
		benc_put_kv_str(b, "mki", rp_str_make(mki, k->mki_len < 8 ? k->mki_len : 8));
		explicit_bzero(mki, sizeof(mki));
	}
	benc_put_end(b);
}

/* leg.update's fields of one leg (also a session.update 'a'/'b' dict). */
static void put_leg(rp_buf *b, const struct rp_mediactl_leg *l)
{
	if (l->address) {
		benc_put_kv_cstr(b, "address", l->address);
		benc_put_kv_int(b, "port", l->port);
	}
	if (l->rtcp_mux != RP_MEDIACTL_MUX_KEEP)
		benc_put_kv_int(b, "rtcp-mux", l->rtcp_mux == RP_MEDIACTL_MUX_ON);
	put_srtp(b, "srtp-in", &l->in);
	put_srtp(b, "srtp-out", &l->out);
}

/* args holds keys: it is a secure buffer (wiped when freed). */
static int update_call(rp_mediactl *c, const char *cmd, rp_buf *args)
{
	rp_arena ar;
	char store[2048];
	const benc_node *resp = NULL;
	int rc;

	benc_put_kv_int(args, "brief", 1); /* we read nothing but the result */
	if ((rc = rp_buf_error(args)) < 0)
		goto out;
	rp_arena_init(&ar, store, sizeof(store), 0);
	pthread_mutex_lock(&c->mu);
	rc = call_locked(c, cmd, args, &ar, &resp);
	pthread_mutex_unlock(&c->mu);
	rp_arena_fini(&ar);
out:
	rp_buf_free(args);
	return rc;
}

int rp_mediactl_leg_update(rp_mediactl *c, uint64_t id, const struct rp_mediactl_leg *l)
{
	rp_buf args = RP_BUF_INIT;

	if (l->leg != 'a' && l->leg != 'b')
		return -EINVAL;
	rp_buf_set_secure(&args, true);
	benc_put_kv_int(&args, "session", (int64_t)id);
	benc_put_kv_cstr(&args, "leg", l->leg == 'a' ? "a" : "b");
	put_leg(&args, l);
	return update_call(c, "leg.update", &args);
}

int rp_mediactl_session_update(rp_mediactl *c, uint64_t id, const struct rp_mediactl_leg *a,
	const struct rp_mediactl_leg *b)
{
	rp_buf args = RP_BUF_INIT;

	if ((!a && !b) || (a && a->leg != 'a') || (b && b->leg != 'b'))
		return -EINVAL;
	rp_buf_set_secure(&args, true);
	benc_put_kv_int(&args, "session", (int64_t)id);
	if (a) {
		benc_put_kv_dict(&args, "a");
		put_leg(&args, a);
		benc_put_end(&args);
	}
	if (b) {
		benc_put_kv_dict(&args, "b");
		put_leg(&args, b);
		benc_put_end(&args);
	}
	return update_call(c, "session.update", &args);
}

static void read_state(const benc_node *leg, struct rp_mediactl_leg_state *s)
{
	const benc_node *st = NULL;
	rp_str r = RP_STR_NULL;
	int64_t v;

	memset(s, 0, sizeof(*s));
	if (benc_get_int(leg, "port", 0, 65535, &v, NULL) == 0)
		s->port = (uint16_t)v;
	if (benc_get_str(leg, "remote", &r, NULL) == 0)
		rp_str_copy(r, s->remote, sizeof(s->remote));
	if (benc_get_int(leg, "srtp-in", 0, 1, &v, NULL) == 0)
		s->srtp_in = v;
	if (benc_get_int(leg, "srtp-out", 0, 1, &v, NULL) == 0)
		s->srtp_out = v;
	if (benc_get_dict(leg, "stats", &st, NULL) == 0) {
		if (benc_get_int(st, "packets-in", 0, INT64_MAX, &v, NULL) == 0)
			s->packets_in = (uint64_t)v;
		if (benc_get_int(st, "packets-out", 0, INT64_MAX, &v, NULL) == 0)
			s->packets_out = (uint64_t)v;
		if (benc_get_int(st, "bytes-in", 0, INT64_MAX, &v, NULL) == 0)
			s->bytes_in = (uint64_t)v;
		if (benc_get_int(st, "bytes-out", 0, INT64_MAX, &v, NULL) == 0)
			s->bytes_out = (uint64_t)v;
		if (benc_get_int(st, "auth-failures", 0, INT64_MAX, &v, NULL) == 0)
			s->auth_failures = (uint64_t)v;
		if (benc_get_int(st, "packets-lost", 0, INT64_MAX, &v, NULL) == 0)
			s->packets_lost = (uint64_t)v;
		if (benc_get_int(st, "malformed", 0, INT64_MAX, &v, NULL) == 0)
			s->malformed = (uint64_t)v;
	}
}

static int id_call(rp_mediactl *c, const char *cmd, uint64_t id,
	struct rp_mediactl_leg_state *a, struct rp_mediactl_leg_state *b)
{
	rp_buf args = RP_BUF_INIT;
	rp_arena ar;
	char store[4096];
	const benc_node *resp = NULL, *la, *lb;
	int rc;

	rp_arena_init(&ar, store, sizeof(store), 0);
	benc_put_kv_int(&args, "session", (int64_t)id);
	if (!a || !b)
		benc_put_kv_int(&args, "brief", 1); /* the caller reads nothing but the result */
	if ((rc = rp_buf_error(&args)) < 0)
		goto out;
	pthread_mutex_lock(&c->mu);
	rc = call_locked(c, cmd, &args, &ar, &resp);
	if (rc == 0 && a && b) {
		if (benc_get_dict(resp, "a", &la, NULL) < 0 ||
		    benc_get_dict(resp, "b", &lb, NULL) < 0) {
			rc = -EBADMSG;
		} else {
			read_state(la, a);
			read_state(lb, b);
		}
	}
	pthread_mutex_unlock(&c->mu);
out:
	rp_buf_free(&args);
	rp_arena_fini(&ar);
	return rc;
}

int rp_mediactl_query(rp_mediactl *c, uint64_t id, struct rp_mediactl_leg_state *a,
	struct rp_mediactl_leg_state *b)
{
	return id_call(c, "session.query", id, a, b);
}

int rp_mediactl_delete(rp_mediactl *c, uint64_t id)
{
	return id_call(c, "session.delete", id, NULL, NULL);
}
