#include "fork.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rp_arena.h"
#include "rp_buf.h"

const char *rp_fork_br_state_name(enum rp_fork_br_state s)
{
	switch (s) {
	case RP_FORK_BR_WAITING: return "waiting";
	case RP_FORK_BR_CALLING: return "calling";
	case RP_FORK_BR_RINGING: return "ringing";
	case RP_FORK_BR_DONE: return "done";
	}
	return "?";
}

int rp_fork_new(unsigned n, struct rp_fork **out)
{
	struct rp_fork *f;

	if (!n || n > RP_FORK_MAX_BRANCHES)
		return -EINVAL;
	f = calloc(1, sizeof(*f) + n * sizeof(f->b[0]));
	if (!f)
		return -ENOMEM;
	f->n = n;
	*out = f;
	return 0;
}

struct rp_fork *rp_fork_free(struct rp_fork *f)
{
	if (!f)
		return NULL;
	for (unsigned i = 0; i < f->n; i++) {
		if (f->b[i].req)
			explicit_bzero(f->b[i].req, f->b[i].req_len);
		free(f->b[i].req);
		free(f->b[i].resp);
	}
	free(f->auth);
	free(f);
	return NULL;
}

int rp_fork_branch_set_request(struct rp_fork *f, unsigned i, char *req, size_t len,
	size_t br_off)
{
	struct rp_fork_branch *b;

	if (i >= f->n || br_off + RP_TXN_BRANCH_LEN > len) {
		if (req)
			explicit_bzero(req, len);
		free(req);
		return -EINVAL;
	}
	b = &f->b[i];
	if (b->req)
		explicit_bzero(b->req, b->req_len);
	free(b->req);
	b->req = req;
	b->req_len = len;
	b->br_off = br_off;
	return 0;
}

int rp_fork_branch_of(const struct rp_fork *f, const rp_txn_cli *cl)
{
	for (unsigned i = 0; cl && i < f->n; i++)
		if (f->b[i].cl == cl)
			return (int)i;
	return -1;
}

unsigned rp_fork_group_end(const unsigned *q, unsigned n, unsigned from)
{
	unsigned i = from + 1;

	if (from >= n)
		return n;
	while (i < n && q[i] == q[from])
		i++;
	return i;
}

static unsigned cls(unsigned code)
{
	return code / 100;
}

/* Rank within a class: lower is better. */
static unsigned rank(unsigned code, bool ours)
{
	if (ours)
		return 2;
	if (code == 401 || code == 407)
		return 0;
	return 1;
}

int rp_fork_pick(const unsigned *codes, const bool *ours, unsigned n)
{
	int best = -1;

	for (unsigned i = 0; i < n; i++) {
		unsigned c = codes[i], b;
		bool o = ours && ours[i];

		if (c < 300 || c > 699)
			continue;
		if (best < 0) {
			best = (int)i;
			continue;
		}
		b = codes[best];
		if (cls(b) == 6)
			continue;   /* the first 6xx stays */
		if (cls(c) == 6 || cls(c) < cls(b) ||
		    (cls(c) == cls(b) && rank(c, o) < rank(b, ours && ours[best])))
			best = (int)i;
	}
	return best;
}

unsigned rp_fork_status_out(unsigned code)
{
	return code == 503 ? 500 : code;
}

enum rp_fork_verdict rp_fork_on_response(unsigned code, bool answered)
{
	if (code < 200)
		return code == 100 ? RP_FORK_DROP : RP_FORK_RELAY;
	if (code < 300)
		return answered ? RP_FORK_ABSORB_2XX : RP_FORK_RELAY_CANCEL;
	if (code >= 600)
		return RP_FORK_CANCEL_STORE;
	return RP_FORK_STORE;
}

unsigned rp_fork_pending(const struct rp_fork *f)
{
	unsigned n = 0;

	for (unsigned i = 0; i < f->n; i++)
		if (f->b[i].st == RP_FORK_BR_CALLING || f->b[i].st == RP_FORK_BR_RINGING)
			n++;
	return n;
}

bool rp_fork_all_done(const struct rp_fork *f)
{
	return rp_fork_pending(f) == 0 && (f->cancelling || f->group_end >= f->n);
}

static bool is_auth_hdr(enum sip_hdr_id id)
{
	return id == SIP_HDR_WWW_AUTHENTICATE || id == SIP_HDR_PROXY_AUTHENTICATE;
}

int rp_fork_auth_collect(struct rp_fork *f, const struct sip_msg *resp)
{
	size_t add = 0;
	char *n;

	for (size_t i = 0; i < resp->nhdrs; i++)
		if (is_auth_hdr(resp->hdrs[i].id))
			add += resp->hdrs[i].raw.n;
	if (!add)
		return 0;
	n = realloc(f->auth, f->auth_len + add);
	if (!n)
		return -ENOMEM;
	f->auth = n;
	for (size_t i = 0; i < resp->nhdrs; i++) {
		if (!is_auth_hdr(resp->hdrs[i].id))
			continue;
		memcpy(f->auth + f->auth_len, resp->hdrs[i].raw.p, resp->hdrs[i].raw.n);
		f->auth_len += resp->hdrs[i].raw.n;
	}
	return 0;
}

int rp_fork_final_text(const char *resp, size_t len, unsigned code, const char *reason,
	const char *auth, size_t auth_len, char **out, size_t *out_len)
{
	char store[8192];
	rp_arena a;
	struct sip_msg *m = NULL;
	struct sip_parse_opts o = { .stream = false, .lazy_resp_addr_uri = true,
		.lazy_req_addr_uri = true };
	rp_buf b;
	int rc = 0;

	if (code < 100 || code > 699 || (reason && strpbrk(reason, "\r\n")))
		return -EINVAL;
	rp_arena_init(&a, store, sizeof(store), 1u << 20);
	if (sip_msg_parse(resp, len, &a, &o, &m, NULL) != SIP_OK || m->is_request) {
		rp_arena_fini(&a);
		return -EINVAL;
	}
	rp_buf_init(&b, 1u << 20);
	if (reason) {
		rp_buf_append_cstr(&b, "SIP/2.0 ");
		rp_buf_append_u64(&b, code);
		rp_buf_append_byte(&b, ' ');
		rp_buf_append_cstr(&b, reason);
		rp_buf_append_cstr(&b, "\r\n");
	} else {
		const char *crlf = memmem(m->buf, m->len, "\r\n", 2);

		if (crlf)
			rp_buf_append_str(&b, rp_str_make(m->buf, (size_t)(crlf + 2 - m->buf)));
	}
	for (size_t i = 0; i < m->nhdrs; i++)
		if (!auth || !is_auth_hdr(m->hdrs[i].id))
			rp_buf_append_str(&b, m->hdrs[i].raw);
	if (auth)
		rp_buf_append_str(&b, rp_str_make(auth, auth_len));
	rp_buf_append_str(&b, rp_str_make(m->buf + m->hdr_end, m->len - m->hdr_end));
	rc = rp_buf_error(&b);
	if (rc == 0) {
		*out = malloc(b.len ? b.len : 1);
		if (!*out) {
			rc = -ENOMEM;
		} else {
			memcpy(*out, b.p, b.len);
			*out_len = b.len;
		}
	}
	rp_buf_free(&b);
	rp_arena_fini(&a);
	return rc;
}
