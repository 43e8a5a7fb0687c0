#include "cfg_eval.h"

#include "cfg_check.h"
#include "cfg_parse.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

struct ev {
	const struct cfg *c;
	const struct cfg_ops *ops;
	void *m;
	unsigned steps;
	unsigned depth;
	int verdict;
	size_t used;
	char scratch[CFG_EVAL_SCRATCH];
};

enum { X_NEXT = 0, X_STOP = 1, X_RETURN = 2 };

/* get_var maps the ruri variables onto URI parts by offset */
_Static_assert(CFG_VAR_RURI_SCHEME - CFG_VAR_RURI == CFG_UP_SCHEME, "uri part order");
_Static_assert(CFG_VAR_RURI_USER - CFG_VAR_RURI == CFG_UP_USER, "uri part order");
_Static_assert(CFG_VAR_RURI_HOST - CFG_VAR_RURI == CFG_UP_HOST, "uri part order");
_Static_assert(CFG_VAR_RURI_PORT - CFG_VAR_RURI == CFG_UP_PORT, "uri part order");

static int step(struct ev *e)
{
	return ++e->steps > CFG_EVAL_MAX_STEPS ? -ETIMEDOUT : 0;
}

static char *scratch(struct ev *e, size_t n)
{
	char *p;

	if (n > sizeof(e->scratch) - e->used)
		return NULL;
	p = e->scratch + e->used;
	e->used += n;
	return p;
}

static int get_source(struct ev *e, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (!e->ops->source)
		return -ENOENT;
	return e->ops->source(e->m, ss);
}

static int fmt_num(struct ev *e, unsigned v, rp_str *out)
{
	char *p = scratch(e, 12);

	if (!p)
		return -ENOSPC;
	*out = rp_str_make(p, (size_t)snprintf(p, 12, "%u", v));
	return 0;
}

/* Reads one variable (idx: which value, for multi-valued ones). Returns 0,
 * -ENOENT (absent: reads as "") or another negative errno. */
static int get_var(struct ev *e, const struct cfg_part *p, unsigned idx, rp_str *out)
{
	const struct cfg_ops *o = e->ops;
	struct sockaddr_storage ss;
	const struct cfg_trunk *t;
	int rc;

	*out = RP_STR_NULL;
	switch (p->var) {
	case CFG_VAR_METHOD:
		return o->method ? o->method(e->m, out) : -ENOENT;
	case CFG_VAR_RURI: case CFG_VAR_RURI_SCHEME: case CFG_VAR_RURI_USER:
	case CFG_VAR_RURI_HOST: case CFG_VAR_RURI_PORT:
		return o->uri ? o->uri(e->m, CFG_URI_R, (enum cfg_uri_part)(p->var - CFG_VAR_RURI), out)
			: -ENOENT;
	case CFG_VAR_RURI_PARAM:
		return o->uri_param ? o->uri_param(e->m, CFG_URI_R, p->arg, out) : -ENOENT;
	case CFG_VAR_FROM:
		return o->uri ? o->uri(e->m, CFG_URI_FROM, CFG_UP_FULL, out) : -ENOENT;
	case CFG_VAR_FROM_USER:
		return o->uri ? o->uri(e->m, CFG_URI_FROM, CFG_UP_USER, out) : -ENOENT;
	case CFG_VAR_FROM_HOST:
		return o->uri ? o->uri(e->m, CFG_URI_FROM, CFG_UP_HOST, out) : -ENOENT;
	case CFG_VAR_TO:
		return o->uri ? o->uri(e->m, CFG_URI_TO, CFG_UP_FULL, out) : -ENOENT;
	case CFG_VAR_TO_USER:
		return o->uri ? o->uri(e->m, CFG_URI_TO, CFG_UP_USER, out) : -ENOENT;
	case CFG_VAR_TO_HOST:
		return o->uri ? o->uri(e->m, CFG_URI_TO, CFG_UP_HOST, out) : -ENOENT;
	case CFG_VAR_CALL_ID:
		return o->header ? o->header(e->m, RP_STR_LIT("Call-ID"), 0, out) : -ENOENT;
	case CFG_VAR_USER_AGENT:
		return o->header ? o->header(e->m, RP_STR_LIT("User-Agent"), 0, out) : -ENOENT;
	case CFG_VAR_HEADER:
		return o->header ? o->header(e->m, p->arg, idx, out) : -ENOENT;
	case CFG_VAR_SRC_IP: {
		char *buf;
		const void *a;

		rc = get_source(e, &ss);
		if (rc < 0)
			return rc;
		if (ss.ss_family == AF_INET)
			a = &((struct sockaddr_in *)&ss)->sin_addr;
		else if (ss.ss_family == AF_INET6)
			a = &((struct sockaddr_in6 *)&ss)->sin6_addr;
		else
			return -ENOENT;
		buf = scratch(e, INET6_ADDRSTRLEN);
		if (!buf)
			return -ENOSPC;
		if (!inet_ntop(ss.ss_family, a, buf, INET6_ADDRSTRLEN))
			return -ENOENT;
		*out = rp_str_cstr(buf);
		return 0;
	}
	case CFG_VAR_SRC_PORT:
		rc = get_source(e, &ss);
		if (rc < 0)
			return rc;
		if (ss.ss_family == AF_INET)
			return fmt_num(e, ntohs(((struct sockaddr_in *)&ss)->sin_port), out);
		if (ss.ss_family == AF_INET6)
			return fmt_num(e, ntohs(((struct sockaddr_in6 *)&ss)->sin6_port), out);
		return -ENOENT;
	case CFG_VAR_SRC_TRUNK:
		rc = get_source(e, &ss);
		if (rc < 0)
			return rc;
		t = cfg_trunk_by_source(e->c, (struct sockaddr *)&ss);
		if (!t)
			return -ENOENT;
		*out = rp_str_cstr(t->name);
		return 0;
	case CFG_VAR_TRANSPORT:
		if (!o->transport)
			return -ENOENT;
		*out = rp_str_cstr(cfg_transport_name(o->transport(e->m)));
		return 0;
	case CFG_VAR_TLS_SUBJECT:
		return o->tls_subject ? o->tls_subject(e->m, out) : -ENOENT;
	case CFG_VAR_TLS_SAN:
		return o->tls_san ? o->tls_san(e->m, idx, out) : -ENOENT;
	case CFG_VAR_STATUS:
		return o->status ? fmt_num(e, o->status(e->m), out) : -ENOENT;
	}
	return -ENOENT;
}

static int part_text(struct ev *e, const struct cfg_part *p, rp_str *out)
{
	int rc;

	if (!p->is_var) {
		*out = p->s;
		return 0;
	}
	rc = get_var(e, p, 0, out);
	if (rc == -ENOENT) {
		*out = RP_STR_NULL;
		return 0;
	}
	return rc;
}

/* The text of an argument: a slice of a literal or of the message when it
 * is one piece, else assembled in the scratch buffer. */
static int arg_text(struct ev *e, const struct cfg_arg *a, rp_str *out)
{
	size_t total = 0;
	char *buf;
	int rc;

	if (a->kind == CFG_A_WORD) {
		*out = a->text;
		return 0;
	}
	if (a->t.nparts == 1)
		return part_text(e, &a->t.parts[0], out);
	/* The parts' own text may live in the scratch too (src.ip), so they
	 * are fetched first and appended after. */
	{
		rp_str pieces[64];

		for (unsigned i = 0; i < a->t.nparts && i < 64; i++) {
			rc = part_text(e, &a->t.parts[i], &pieces[i]);
			if (rc < 0)
				return rc;
			total += pieces[i].n;
		}
		buf = scratch(e, total);
		if (!buf)
			return -ENOSPC;
		total = 0;
		for (unsigned i = 0; i < a->t.nparts && i < 64; i++) {
			if (pieces[i].n)
				memmove(buf + total, pieces[i].p, pieces[i].n);
			total += pieces[i].n;
		}
	}
	*out = rp_str_make(buf, total);
	return 0;
}

static bool multi_valued(const struct cfg_arg *a)
{
	return a->kind == CFG_A_VAR && a->t.parts[0].var == CFG_VAR_TLS_SAN;
}

#define MAX_VALUES 64

static int cmp_match(struct ev *e, const struct cfg_cond *c)
{
	rp_str l, r = RP_STR_NULL;
	int rc;

	if (c->kind == CFG_C_EQ || c->kind == CFG_C_NE) {
		rc = arg_text(e, &c->r, &r);
		if (rc < 0)
			return rc;
	}
	/* tls.san has several values: true if any matches */
	for (unsigned idx = 0; idx < MAX_VALUES; idx++) {
		bool hit;

		if (multi_valued(&c->l)) {
			rc = get_var(e, &c->l.t.parts[0], idx, &l);
			if (rc == -ENOENT)
				return 0;
		} else {
			rc = arg_text(e, &c->l, &l);
		}
		if (rc < 0)
			return rc;
		if (c->re)
			hit = cfg_regex_match(c->re, l);
		else
			hit = rp_str_eq(l, r);
		if (hit)
			return 1;
		if (!multi_valued(&c->l))
			break;
	}
	return 0;
}

static int in_networks(struct ev *e, const struct cfg_cond *c)
{
	struct sockaddr_storage ss;
	int rc;

	if (c->l.kind == CFG_A_VAR && c->l.t.parts[0].var == CFG_VAR_SRC_IP) {
		if (get_source(e, &ss) < 0)
			return 0;
	} else {
		rp_str t;
		char buf[INET6_ADDRSTRLEN + 2];

		rc = arg_text(e, &c->l, &t);
		if (rc < 0)
			return rc;
		if (t.n >= 2 && t.p[0] == '[' && t.p[t.n - 1] == ']')
			t = rp_str_make(t.p + 1, t.n - 2);
		if (rp_str_copy(t, buf, sizeof(buf)) < 0)
			return 0;
		memset(&ss, 0, sizeof(ss));
		if (inet_pton(AF_INET, buf, &((struct sockaddr_in *)&ss)->sin_addr) == 1)
			ss.ss_family = AF_INET;
		else if (inet_pton(AF_INET6, buf, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1)
			ss.ss_family = AF_INET6;
		else
			return 0;
	}
	for (unsigned i = 0; i < c->nargs; i++)
		if (cfg_cidr_contains(&c->cidrs[i], (struct sockaddr *)&ss))
			return 1;
	return 0;
}

static int call_fn(struct ev *e, const struct cfg_cond *c)
{
	struct sockaddr_storage ss;
	rp_str t;
	int rc;

	switch (c->fn) {
	case CFG_FN_LOOKUP:
		if (!e->ops->lookup)
			return -ENOTSUP;
		rc = e->ops->lookup(e->m);
		return rc < 0 ? rc : rc > 0;
	case CFG_FN_HAS_HEADER:
		if (!e->ops->header)
			return 0;
		rc = e->ops->header(e->m, c->args[0].kind == CFG_A_WORD ? c->args[0].text
			: c->args[0].t.parts[0].s, 0, &t);
		return rc == 0 ? 1 : rc == -ENOENT ? 0 : rc;
	case CFG_FN_IS_LOCAL:
		rc = arg_text(e, &c->args[0], &t);
		if (rc < 0)
			return rc;
		return cfg_is_local_domain(e->c, t);
	case CFG_FN_FROM_TRUNK:
		if (get_source(e, &ss) == 0)
			for (unsigned i = 0; i < c->trunk->nsources; i++)
				if (cfg_cidr_contains(&c->trunk->sources[i], (struct sockaddr *)&ss))
					return 1;
		if (c->trunk->cert_subject && e->ops->tls_subject &&
		    e->ops->tls_subject(e->m, &t) == 0 && rp_str_eq_cstr(t, c->trunk->cert_subject))
			return 1;
		return 0;
	case CFG_FN_NUMBER_OF:
		rc = arg_text(e, &c->args[1], &t);
		if (rc < 0)
			return rc;
		return cfg_trunk_has_number(c->trunk, t);
	}
	return -EINVAL;
}

/* 1 true, 0 false, < 0 error. */
static int cond(struct ev *e, const struct cfg_cond *c)
{
	size_t mark = e->used;
	int rc = step(e);

	if (rc < 0)
		return rc;
	switch (c->kind) {
	case CFG_C_AND:
		rc = cond(e, c->a);
		if (rc == 1)
			rc = cond(e, c->b);
		break;
	case CFG_C_OR:
		rc = cond(e, c->a);
		if (rc == 0)
			rc = cond(e, c->b);
		break;
	case CFG_C_NOT:
		rc = cond(e, c->a);
		if (rc >= 0)
			rc = !rc;
		break;
	case CFG_C_EQ:
	case CFG_C_MATCH:
		rc = cmp_match(e, c);
		break;
	case CFG_C_NE:
	case CFG_C_NMATCH:
		rc = cmp_match(e, c);
		if (rc >= 0)
			rc = !rc;
		break;
	case CFG_C_IN:
		rc = in_networks(e, c);
		break;
	case CFG_C_CALL:
		rc = call_fn(e, c);
		break;
	}
	e->used = mark;
	return rc;
}

static int run_list(struct ev *e, const struct cfg_stmt *s);

/* Text that goes into a header line, a status line or a URI: CR, LF or NUL
 * would let a message field (or a careless string) inject headers. */
static int wire_text(struct ev *e, const struct cfg_arg *a, rp_str *out)
{
	int rc = arg_text(e, a, out);

	if (rc < 0)
		return rc;
	for (size_t i = 0; i < out->n; i++)
		if (out->p[i] == '\r' || out->p[i] == '\n' || out->p[i] == '\0')
			return -EBADMSG;
	return 0;
}

static int stop(struct ev *e, int verdict)
{
	e->verdict = verdict;
	return X_STOP;
}

static int action(struct ev *e, const struct cfg_stmt *s)
{
	const struct cfg_ops *o = e->ops;
	rp_str t = RP_STR_NULL, hdrs[9];
	int rc = 0;

	switch (s->act) {
	case CFG_ACT_REPLY:
		if (!o->reply)
			return -ENOTSUP;
		if (s->nargs > 1 && (rc = wire_text(e, &s->args[1], &t)) < 0)
			return rc;
		for (unsigned i = 2; i < s->nargs; i++)
			if ((rc = wire_text(e, &s->args[i], &hdrs[i - 2])) < 0)
				return rc;
		rc = o->reply(e->m, (unsigned)s->ival, t, hdrs, s->nargs > 2 ? s->nargs - 2 : 0);
		return rc < 0 ? rc : stop(e, CFG_EV_REPLIED);
	case CFG_ACT_RELAY:
		if (!o->relay)
			return -ENOTSUP;
		rc = o->relay(e->m, s->trunk);
		return rc < 0 ? rc : stop(e, CFG_EV_RELAYED);
	case CFG_ACT_RECORD_ROUTE:
		return o->record_route ? o->record_route(e->m) : -ENOTSUP;
	case CFG_ACT_ADD_HEADER:
		if (!o->add_header)
			return -ENOTSUP;
		if ((rc = wire_text(e, &s->args[1], &t)) < 0)
			return rc;
		return o->add_header(e->m, s->args[0].kind == CFG_A_WORD ? s->args[0].text
			: s->args[0].t.parts[0].s, t);
	case CFG_ACT_REMOVE_HEADER:
		if (!o->remove_header)
			return -ENOTSUP;
		return o->remove_header(e->m, s->args[0].kind == CFG_A_WORD ? s->args[0].text
			: s->args[0].t.parts[0].s);
	case CFG_ACT_REMOVE_URI_PARAM:
		if (!o->set_uri_param)
			return -ENOTSUP;
		return o->set_uri_param(e->m, s->args[0].kind == CFG_A_WORD ? s->args[0].text
			: s->args[0].t.parts[0].s, RP_STR_NULL);
	case CFG_ACT_AUTHENTICATE:
	case CFG_ACT_WWW_CHALLENGE:
	case CFG_ACT_PROXY_CHALLENGE:
		if (!o->authenticate)
			return -ENOTSUP;
		if (s->nargs && (rc = wire_text(e, &s->args[0], &t)) < 0)
			return rc;
		if (!t.p)
			t = rp_str_make("", 0);
		rc = o->authenticate(e->m, s->act == CFG_ACT_AUTHENTICATE ? CFG_AUTH_AUTO :
			s->act == CFG_ACT_WWW_CHALLENGE ? CFG_AUTH_WWW : CFG_AUTH_PROXY, t);
		if (rc < 0)
			return rc;
		if (rc > 0 && s->act == CFG_ACT_AUTHENTICATE)
			return X_NEXT;
		return stop(e, CFG_EV_CHALLENGED);
	case CFG_ACT_SAVE:
		if (!o->save)
			return -ENOTSUP;
		rc = o->save(e->m);
		return rc < 0 ? rc : stop(e, CFG_EV_SAVED);
	case CFG_ACT_LOOKUP:
		if (!o->lookup)
			return -ENOTSUP;
		rc = o->lookup(e->m);
		return rc < 0 ? rc : X_NEXT;
	case CFG_ACT_ROUTE:
		if (e->depth >= CFG_MAX_CALL_DEPTH)
			return -ELOOP;
		e->depth++;
		rc = run_list(e, s->route->body);
		e->depth--;
		return rc == X_RETURN ? X_NEXT : rc;
	case CFG_ACT_LOG:
		if ((rc = arg_text(e, &s->args[s->nargs - 1], &t)) < 0)
			return rc;
		if (o->log)
			o->log(e->m, (enum rp_log_level)s->ival, t);
		else
			rp_log((enum rp_log_level)s->ival, "%.*s", RP_STR_FMT(t));
		return X_NEXT;
	case CFG_ACT_DROP:
		return stop(e, CFG_EV_DROPPED);
	case CFG_ACT_EXIT:
		return stop(e, CFG_EV_END);
	case CFG_ACT_RETURN:
		return X_RETURN;
	}
	return -EINVAL;
}

static int assign(struct ev *e, const struct cfg_stmt *s)
{
	const struct cfg_ops *o = e->ops;
	rp_str t;
	int rc;

	if (s->act == CFG_VAR_MEDIA)
		return o->set_media ? o->set_media(e->m, (enum cfg_media_enc)s->ival) : -ENOTSUP;
	rc = wire_text(e, &s->rhs, &t);
	if (rc < 0)
		return rc;
	if (!t.p)
		t = rp_str_make("", 0);
	if (s->act == CFG_VAR_RURI_PARAM)
		return o->set_uri_param ? o->set_uri_param(e->m, s->lhs.t.parts[0].arg, t) : -ENOTSUP;
	return o->set_uri ? o->set_uri(e->m, (enum cfg_uri_part)s->ival, t) : -ENOTSUP;
}

static int run_list(struct ev *e, const struct cfg_stmt *s)
{
	for (; s; s = s->next) {
		size_t mark = e->used;
		int rc = step(e);

		if (rc < 0)
			return rc;
		switch (s->kind) {
		case CFG_S_IF:
			rc = cond(e, s->cond);
			if (rc < 0)
				return rc;
			if (rc)
				rc = run_list(e, s->then);
			else
				rc = s->els ? run_list(e, s->els) : X_NEXT;
			break;
		case CFG_S_BLOCK:
			rc = run_list(e, s->then);
			break;
		case CFG_S_ACTION:
			rc = action(e, s);
			break;
		case CFG_S_ASSIGN:
			rc = assign(e, s);
			if (rc > 0)
				rc = X_NEXT;
			break;
		}
		e->used = mark;
		if (rc < 0 || rc == X_STOP || rc == X_RETURN)
			return rc;
	}
	return X_NEXT;
}

int cfg_eval_steps(const struct cfg *c, enum cfg_route_kind kind, const struct cfg_ops *ops,
	void *m, unsigned *steps)
{
	struct ev e;
	int rc;

	if ((unsigned)kind > CFG_ROUTE_FAILURE || !c->entry[kind])
		return -ENOENT;
	e.c = c;
	e.ops = ops;
	e.m = m;
	e.steps = 0;
	e.depth = 0;
	e.verdict = CFG_EV_END;
	e.used = 0;
	rc = run_list(&e, c->entry[kind]->body);
	if (steps)
		*steps = e.steps;
	if (rc < 0)
		return rc;
	return e.verdict;
}

int cfg_eval(const struct cfg *c, enum cfg_route_kind kind, const struct cfg_ops *ops, void *m)
{
	return cfg_eval_steps(c, kind, ops, m, NULL);
}

const char *cfg_verdict_name(int v)
{
	switch (v) {
	case CFG_EV_END: return "end";
	case CFG_EV_REPLIED: return "replied";
	case CFG_EV_RELAYED: return "relayed";
	case CFG_EV_SAVED: return "saved";
	case CFG_EV_CHALLENGED: return "challenged";
	case CFG_EV_DROPPED: return "dropped";
	}
	return v < 0 ? "error" : "?";
}
