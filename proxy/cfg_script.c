/* cfg_script: the checker's second half, the routing script: resolves
 * variable, action, function, trunk and route names, precompiles regular
 * expressions, parses CIDRs, rejects recursion between routes and warns
 * about unreachable statements and routes never called. */
#include "cfg_check.h"
#include "cfg_ck.h"
#include "cfg_eval.h"
#include "cfg_parse.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- routing script ---- */

struct var_def {
	const char *name;
	const char *alias; /* Kamailio-style short name, usable as $alias */
	uint8_t var;
};

static const struct var_def var_defs[] = {
	{ "method", "rm", CFG_VAR_METHOD },
	{ "ruri", "ru", CFG_VAR_RURI },
	{ "ruri.scheme", "rz", CFG_VAR_RURI_SCHEME },
	{ "ruri.user", "rU", CFG_VAR_RURI_USER },
	{ "ruri.host", "rd", CFG_VAR_RURI_HOST },
	{ "ruri.port", "rp", CFG_VAR_RURI_PORT },
	{ "from", "fu", CFG_VAR_FROM },
	{ "from.user", "fU", CFG_VAR_FROM_USER },
	{ "from.host", "fd", CFG_VAR_FROM_HOST },
	{ "to", "tu", CFG_VAR_TO },
	{ "to.user", "tU", CFG_VAR_TO_USER },
	{ "to.host", "td", CFG_VAR_TO_HOST },
	{ "call_id", "ci", CFG_VAR_CALL_ID },
	{ "user_agent", "ua", CFG_VAR_USER_AGENT },
	{ "src.ip", "si", CFG_VAR_SRC_IP },
	{ "src.port", "sp", CFG_VAR_SRC_PORT },
	{ "src.trunk", NULL, CFG_VAR_SRC_TRUNK },
	{ "transport", "pr", CFG_VAR_TRANSPORT },
	{ "tls.subject", NULL, CFG_VAR_TLS_SUBJECT },
	{ "tls.san", NULL, CFG_VAR_TLS_SAN },
	{ "status", "rs", CFG_VAR_STATUS },
	{ "header.NAME", NULL, CFG_VAR_HEADER },
	{ "ruri.param.NAME", NULL, CFG_VAR_RURI_PARAM },
};
#define NVARS (sizeof(var_defs) / sizeof(var_defs[0]))

static bool token_name(rp_str s)
{
	if (s.n == 0 || s.n > 128)
		return false;
	for (size_t i = 0; i < s.n; i++) {
		char ch = s.p[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || strchr("-.!%*_+`'~", ch)))
			return false;
	}
	return true;
}

static bool lookup_var(rp_str name, uint8_t *var, rp_str *arg)
{
	static const struct { const char *prefix; uint8_t var; } pre[] = {
		{ "header.", CFG_VAR_HEADER }, { "hdr.", CFG_VAR_HEADER },
		{ "ruri.param.", CFG_VAR_RURI_PARAM },
	};

	*arg = RP_STR_NULL;
	for (size_t i = 0; i < sizeof(pre) / sizeof(pre[0]); i++) {
		size_t n = strlen(pre[i].prefix);

		if (name.n > n && memcmp(name.p, pre[i].prefix, n) == 0) {
			*arg = rp_str_make(name.p + n, name.n - n);
			*var = token_name(*arg) ? pre[i].var : CFG_VAR_NONE;
			return *var != CFG_VAR_NONE;
		}
	}
	for (size_t i = 0; i < NVARS; i++) {
		if (rp_str_eq_cstr(name, var_defs[i].name) ||
		    (var_defs[i].alias && rp_str_eq_cstr(name, var_defs[i].alias))) {
			if (var_defs[i].var == CFG_VAR_HEADER || var_defs[i].var == CFG_VAR_RURI_PARAM)
				return false;
			*var = var_defs[i].var;
			return true;
		}
	}
	return false;
}

static bool resolve_part(struct cfg_ck *k, struct cfg_part *p, bool bare)
{
	struct cfg_suggest s;
	char hint[96];

	if (!p->is_var)
		return true;
	if (lookup_var(p->s, &p->var, &p->arg))
		return true;
	cfg_ck_suggest_init(&s, p->s);
	for (size_t i = 0; i < NVARS; i++) {
		cfg_ck_suggest_try(&s, var_defs[i].name, strlen(var_defs[i].name));
		if (var_defs[i].alias)
			cfg_ck_suggest_try(&s, var_defs[i].alias, strlen(var_defs[i].alias));
	}
	if (s.best || !bare)
		cfg_ck_err(k, p->pos, "unknown variable '%.*s'%s", SHOWN(p->s), cfg_ck_suggest_text(&s, hint, sizeof(hint)));
	else
		cfg_ck_err(k, p->pos, "unknown variable '%.*s' (write string constants in quotes)", SHOWN(p->s));
	return false;
}

static bool resolve_tmpl(struct cfg_ck *k, struct cfg_tmpl *t)
{
	bool ok = true;

	for (unsigned i = 0; i < t->nparts; i++)
		ok &= resolve_part(k, &t->parts[i], false);
	return ok;
}

static bool all_digits(rp_str s)
{
	if (s.n == 0)
		return false;
	for (size_t i = 0; i < s.n; i++)
		if (s.p[i] < '0' || s.p[i] > '9')
			return false;
	return true;
}

/* A condition operand: a bare word is a number or a variable name. */
static bool resolve_operand(struct cfg_ck *k, struct cfg_arg *a)
{
	struct cfg_part *p;

	if (a->kind != CFG_A_WORD)
		return resolve_tmpl(k, &a->t);
	if (all_digits(a->text))
		return true;
	p = cfg_ck_alloc(k, sizeof(*p));
	if (!p)
		return false;
	*p = (struct cfg_part){ .is_var = true, .s = a->text, .pos = a->pos };
	if (!resolve_part(k, p, true))
		return false;
	a->kind = CFG_A_VAR;
	a->t.parts = p;
	a->t.nparts = 1;
	return true;
}

/* A value argument of an action: a bare word is literal text. */
static bool resolve_value(struct cfg_ck *k, struct cfg_arg *a)
{
	if (a->kind == CFG_A_WORD)
		return true;
	return resolve_tmpl(k, &a->t);
}

/* The text of a constant argument (bare word or string without variables). */
static bool const_text(const struct cfg_arg *a, rp_str *out)
{
	if (a->kind == CFG_A_WORD) {
		*out = a->text;
		return true;
	}
	if (a->kind == CFG_A_STR && a->t.nparts == 1 && !a->t.parts[0].is_var) {
		*out = a->t.parts[0].s;
		return true;
	}
	return false;
}

/* Constant text bound for the wire must not carry CR/LF/NUL (checked again
 * at run time for interpolated text). */
static void no_ctl(struct cfg_ck *k, const struct cfg_arg *a)
{
	for (unsigned i = 0; a->kind == CFG_A_STR && i < a->t.nparts; i++) {
		const struct cfg_part *p = &a->t.parts[i];

		if (!p->is_var && (memchr(p->s.p ? p->s.p : "", '\r', p->s.n) ||
		    memchr(p->s.p ? p->s.p : "", '\n', p->s.n) || memchr(p->s.p ? p->s.p : "", '\0', p->s.n))) {
			cfg_ck_err(k, a->pos, "line breaks are not allowed here (they would inject SIP headers)");
			return;
		}
	}
}

static const struct cfg_trunk *find_trunk(struct cfg_ck *k, const struct cfg_arg *a)
{
	struct cfg_suggest s;
	char hint[96];
	rp_str name;

	if (a->kind != CFG_A_WORD) {
		cfg_ck_err(k, a->pos, "expected a trunk name");
		return NULL;
	}
	name = a->text;
	for (unsigned i = 0; i < k->c->ntrunks; i++)
		if (rp_str_eq_cstr(name, k->c->trunks[i].name))
			return &k->c->trunks[i];
	cfg_ck_suggest_init(&s, name);
	for (unsigned i = 0; i < k->c->ntrunks; i++)
		cfg_ck_suggest_try(&s, k->c->trunks[i].name, strlen(k->c->trunks[i].name));
	cfg_ck_err(k, a->pos, "unknown trunk '%.*s'%s", SHOWN(name), cfg_ck_suggest_text(&s, hint, sizeof(hint)));
	return NULL;
}

static struct cfg_route *find_route(struct cfg_ck *k, const struct cfg_arg *a)
{
	struct cfg_suggest s;
	char hint[96];

	if (a->kind != CFG_A_WORD) {
		cfg_ck_err(k, a->pos, "expected a route name");
		return NULL;
	}
	for (struct cfg_route *r = k->c->routes; r; r = r->next)
		if (rp_str_eq(a->text, r->name))
			return r;
	cfg_ck_suggest_init(&s, a->text);
	for (struct cfg_route *r = k->c->routes; r; r = r->next)
		cfg_ck_suggest_try(&s, r->name.p, r->name.n);
	cfg_ck_err(k, a->pos, "unknown route '%.*s'%s", SHOWN(a->text), cfg_ck_suggest_text(&s, hint, sizeof(hint)));
	return NULL;
}

static bool add_regex(struct cfg_ck *k, struct cfg_regex *re)
{
	struct cfg *c = k->c;

	if (c->nregexes == c->capregexes) {
		unsigned cap = c->capregexes ? c->capregexes * 2 : 8;
		struct cfg_regex **v = realloc(c->regexes, cap * sizeof(*v));

		if (!v) {
			cfg_regex_free(re);
			k->nomem = true;
			return false;
		}
		c->regexes = v;
		c->capregexes = cap;
	}
	c->regexes[c->nregexes++] = re;
	return true;
}

struct fn_def {
	const char *name;
	uint8_t fn;
	uint8_t nargs;
};

static const struct fn_def fn_defs[] = {
	{ "lookup", CFG_FN_LOOKUP, 0 },
	{ "has_header", CFG_FN_HAS_HEADER, 1 },
	{ "is_local", CFG_FN_IS_LOCAL, 1 },
	{ "from_trunk", CFG_FN_FROM_TRUNK, 1 },
	{ "number_of", CFG_FN_NUMBER_OF, 2 },
};
#define NFNS (sizeof(fn_defs) / sizeof(fn_defs[0]))

static void check_call(struct cfg_ck *k, struct cfg_cond *c)
{
	const struct fn_def *f = NULL;
	struct cfg_suggest s;
	char hint[96];
	rp_str t;

	for (size_t i = 0; i < NFNS; i++)
		if (rp_str_eq_cstr(c->fname, fn_defs[i].name))
			f = &fn_defs[i];
	if (!f) {
		cfg_ck_suggest_init(&s, c->fname);
		for (size_t i = 0; i < NFNS; i++)
			cfg_ck_suggest_try(&s, fn_defs[i].name, strlen(fn_defs[i].name));
		cfg_ck_err(k, c->pos, "unknown function '%.*s'%s", SHOWN(c->fname),
			cfg_ck_suggest_text(&s, hint, sizeof(hint)));
		return;
	}
	if (c->nargs != f->nargs) {
		cfg_ck_err(k, c->pos, "%s() takes %u argument%s, not %u", f->name, f->nargs,
			f->nargs == 1 ? "" : "s", c->nargs);
		return;
	}
	c->fn = f->fn;
	switch (f->fn) {
	case CFG_FN_HAS_HEADER:
		if (!const_text(&c->args[0], &t) || !token_name(t))
			cfg_ck_err(k, c->args[0].pos, "has_header() needs a header name");
		break;
	case CFG_FN_IS_LOCAL:
		resolve_operand(k, &c->args[0]);
		break;
	case CFG_FN_FROM_TRUNK:
		c->trunk = find_trunk(k, &c->args[0]);
		break;
	case CFG_FN_NUMBER_OF:
		c->trunk = find_trunk(k, &c->args[0]);
		resolve_operand(k, &c->args[1]);
		break;
	}
}

static void check_cond(struct cfg_ck *k, struct cfg_cond *c)
{
	rp_str t;
	char err[160];
	int rc;

	switch (c->kind) {
	case CFG_C_AND:
	case CFG_C_OR:
		check_cond(k, c->a);
		check_cond(k, c->b);
		break;
	case CFG_C_NOT:
		check_cond(k, c->a);
		break;
	case CFG_C_EQ:
	case CFG_C_NE:
		resolve_operand(k, &c->l);
		resolve_operand(k, &c->r);
		break;
	case CFG_C_MATCH:
	case CFG_C_NMATCH:
		resolve_operand(k, &c->l);
		if (c->r.kind != CFG_A_STR || !const_text(&c->r, &t)) {
			cfg_ck_err(k, c->r.pos, "a regular expression must be a constant string (write it as '...')");
			break;
		}
		rc = cfg_regex_new(t, false, k->c->settings.regex_max_subject, &c->re, err,
			sizeof(err));
		if (rc == -ENOMEM) {
			k->nomem = true;
			break;
		}
		if (rc < 0) {
			cfg_ck_err(k, c->r.pos, "bad regular expression '%.*s': %s", SHOWN(t), err);
			break;
		}
		if (!add_regex(k, c->re))
			c->re = NULL; /* freed by add_regex */
		break;
	case CFG_C_IN:
		resolve_operand(k, &c->l);
		c->cidrs = cfg_ck_alloc(k, c->nargs * sizeof(*c->cidrs));
		if (!c->cidrs)
			break;
		for (unsigned i = 0; i < c->nargs; i++)
			if (!const_text(&c->args[i], &t) || !cfg_ck_parse_cidr(t, &c->cidrs[i]))
				cfg_ck_err(k, c->args[i].pos, "bad CIDR '%.*s' (expected ADDRESS[/PREFIX])",
					SHOWN(c->args[i].text));
		break;
	case CFG_C_CALL:
		check_call(k, c);
		break;
	}
}

struct act_def {
	const char *name;
	uint8_t act;
	uint8_t min, max;
	bool terminal;
	bool in_reply; /* allowed in 'route reply' */
};

static const struct act_def act_defs[] = {
	{ "reply", CFG_ACT_REPLY, 1, 10, true, false },
	{ "relay", CFG_ACT_RELAY, 0, 1, true, false },
	{ "record_route", CFG_ACT_RECORD_ROUTE, 0, 0, false, false },
	{ "add_header", CFG_ACT_ADD_HEADER, 2, 2, false, true },
	{ "remove_header", CFG_ACT_REMOVE_HEADER, 1, 1, false, true },
	{ "remove_uri_param", CFG_ACT_REMOVE_URI_PARAM, 1, 1, false, false },
	{ "authenticate", CFG_ACT_AUTHENTICATE, 0, 1, false, false },
	{ "www_challenge", CFG_ACT_WWW_CHALLENGE, 0, 1, true, false },
	{ "proxy_challenge", CFG_ACT_PROXY_CHALLENGE, 0, 1, true, false },
	{ "save", CFG_ACT_SAVE, 0, 0, true, false },
	{ "lookup", CFG_ACT_LOOKUP, 0, 0, false, false },
	{ "route", CFG_ACT_ROUTE, 1, 1, false, true },
	{ "log", CFG_ACT_LOG, 1, 2, false, true },
	{ "drop", CFG_ACT_DROP, 0, 0, true, true },
	{ "exit", CFG_ACT_EXIT, 0, 0, true, true },
	{ "return", CFG_ACT_RETURN, 0, 0, true, true },
};
#define NACTS (sizeof(act_defs) / sizeof(act_defs[0]))

struct walk {
	struct cfg_route *route;
	bool in_reply;
};

static void check_action(struct cfg_ck *k, struct walk *w, struct cfg_stmt *s, const struct act_def *a)
{
	static const char *const levels[] = { "err", "warn", "notice", "info", "debug", NULL };
	static const int lv[] = { RP_LOG_ERR, RP_LOG_WARN, RP_LOG_NOTICE, RP_LOG_INFO, RP_LOG_DEBUG };
	rp_str t;
	uint64_t code;
	int i;

	if (s->nargs < a->min || s->nargs > a->max) {
		if (a->min == a->max)
			cfg_ck_err(k, s->pos, "'%s' takes %u argument%s, not %u", a->name, a->min,
				a->min == 1 ? "" : "s", s->nargs);
		else
			cfg_ck_err(k, s->pos, "'%s' takes %u to %u arguments, not %u", a->name, a->min,
				a->max, s->nargs);
		return;
	}
	if (w->in_reply && !a->in_reply)
		cfg_ck_err(k, s->pos, "'%s' cannot be used in 'route reply'", a->name);
	switch (a->act) {
	case CFG_ACT_REPLY:
		if (s->args[0].kind != CFG_A_WORD ||
		    rp_str_to_u64(s->args[0].text, 999, &code) < 0 || code < 100 || code > 699) {
			cfg_ck_err(k, s->args[0].pos, "reply code must be a number from 100 to 699, not '%.*s'",
				SHOWN(s->args[0].text));
			return;
		}
		if (code < 200)
			cfg_ck_warn(k, s->args[0].pos, "provisional reply %u: the route still ends here",
				(unsigned)code);
		s->ival = (int)code;
		for (unsigned j = 1; j < s->nargs; j++) {
			resolve_value(k, &s->args[j]);
			no_ctl(k, &s->args[j]);
			if (j >= 2 && const_text(&s->args[j], &t)) {
				ptrdiff_t colon = rp_str_chr(t, ':');

				if (colon <= 0 || !token_name(rp_str_trim(rp_str_make(t.p, (size_t)colon))))
					cfg_ck_err(k, s->args[j].pos, "extra reply header must look like \"Name: value\"");
			}
		}
		break;
	case CFG_ACT_RELAY:
		if (s->nargs)
			s->trunk = find_trunk(k, &s->args[0]);
		break;
	case CFG_ACT_ADD_HEADER:
	case CFG_ACT_REMOVE_HEADER:
	case CFG_ACT_REMOVE_URI_PARAM:
		if (!const_text(&s->args[0], &t) || !token_name(t)) {
			cfg_ck_err(k, s->args[0].pos, "'%s' needs a %s name", a->name,
				a->act == CFG_ACT_REMOVE_URI_PARAM ? "parameter" : "header");
			return;
		}
		if (a->act == CFG_ACT_ADD_HEADER) {
			resolve_value(k, &s->args[1]);
			no_ctl(k, &s->args[1]);
		}
		if (a->act != CFG_ACT_REMOVE_URI_PARAM) {
			static const char *const vital[] = { "via", "v", "from", "f", "to", "t",
				"call-id", "i", "cseq", "content-length", "l", NULL };

			for (int v = 0; vital[v]; v++)
				if (rp_str_caseeq_cstr(t, vital[v]))
					cfg_ck_err(k, s->args[0].pos, "'%s' cannot change the %.*s header: the proxy "
						"owns it", a->name, SHOWN(t));
		}
		break;
	case CFG_ACT_AUTHENTICATE:
	case CFG_ACT_WWW_CHALLENGE:
	case CFG_ACT_PROXY_CHALLENGE:
		if (s->nargs) {
			resolve_value(k, &s->args[0]);
			no_ctl(k, &s->args[0]);
		}
		break;
	case CFG_ACT_ROUTE:
		s->route = find_route(k, &s->args[0]);
		if (s->route) {
			s->route->used = true;
			if (s->route == k->c->entry[CFG_ROUTE_REQUEST] ||
			    s->route == k->c->entry[CFG_ROUTE_REPLY] ||
			    s->route == k->c->entry[CFG_ROUTE_FAILURE])
				cfg_ck_err(k, s->args[0].pos, "route '%.*s' is an entry point and cannot be called",
					SHOWN(s->route->name));
		}
		break;
	case CFG_ACT_LOG:
		s->ival = RP_LOG_INFO;
		if (s->nargs == 2) {
			struct cfg_value v = { .text = s->args[0].text, .pos = s->args[0].pos };

			if (s->args[0].kind != CFG_A_WORD) {
				cfg_ck_err(k, s->args[0].pos, "log level must be one of err, warn, notice, info, debug");
				return;
			}
			i = cfg_ck_enum(k, &v, "log level", levels);
			if (i < 0)
				return;
			s->ival = lv[i];
		}
		resolve_value(k, &s->args[s->nargs - 1]);
		break;
	}
}

static void check_assign(struct cfg_ck *k, struct walk *w, struct cfg_stmt *s)
{
	uint8_t var = CFG_VAR_NONE;
	rp_str arg, t;
	uint64_t port;
	int i;

	if (s->lhs.kind == CFG_A_WORD && rp_str_eq_cstr(s->lhs.text, "media_encryption")) {
		struct cfg_value v = { .text = s->rhs.text, .pos = s->rhs.pos };

		s->act = CFG_VAR_MEDIA;
		if (w->in_reply)
			cfg_ck_err(k, s->pos, "media_encryption cannot be set in 'route reply'");
		if (!const_text(&s->rhs, &t)) {
			cfg_ck_err(k, s->rhs.pos, "media_encryption must be disable, allow or require");
			return;
		}
		v.text = t;
		i = cfg_ck_enum(k, &v, "media_encryption", cfg_ck_media_names);
		if (i >= 0)
			s->ival = CFG_MEDIA_DISABLE + i;
		return;
	}
	{
		rp_str name = s->lhs.kind == CFG_A_WORD ? s->lhs.text : s->lhs.t.parts[0].s;

		if (!lookup_var(name, &var, &arg)) {
			struct cfg_part p = { .is_var = true, .s = name, .pos = s->lhs.pos };

			resolve_part(k, &p, false);
			return;
		}
		switch (var) {
		case CFG_VAR_RURI: s->ival = CFG_UP_FULL; break;
		case CFG_VAR_RURI_USER: s->ival = CFG_UP_USER; break;
		case CFG_VAR_RURI_HOST: s->ival = CFG_UP_HOST; break;
		case CFG_VAR_RURI_PORT: s->ival = CFG_UP_PORT; break;
		case CFG_VAR_RURI_PARAM: s->ival = -1; break;
		default:
			cfg_ck_err(k, s->lhs.pos, "cannot assign to '%.*s' (only ruri, ruri.user, ruri.host, "
				"ruri.port, ruri.param.NAME and media_encryption)", SHOWN(name));
			return;
		}
		if (w->in_reply)
			cfg_ck_err(k, s->pos, "the Request-URI cannot be changed in 'route reply'");
		s->act = var;
		s->lhs.t.parts = cfg_ck_alloc(k, sizeof(struct cfg_part));
		if (!s->lhs.t.parts)
			return;
		s->lhs.t.parts[0] = (struct cfg_part){ .is_var = true, .var = var, .s = name,
			.arg = arg, .pos = s->lhs.pos };
		s->lhs.t.nparts = 1;
		s->lhs.kind = CFG_A_VAR;
	}
	resolve_value(k, &s->rhs);
	no_ctl(k, &s->rhs);
	if (var == CFG_VAR_RURI_PORT && const_text(&s->rhs, &t) &&
	    (rp_str_to_u64(t, 65535, &port) < 0 || port == 0))
		cfg_ck_err(k, s->rhs.pos, "port must be a number from 1 to 65535, not '%.*s'", SHOWN(t));
}

/* Checks a statement list; returns true if it always ends the route (the
 * name of the ending statement in *why). */
static bool check_list(struct cfg_ck *k, struct walk *w, struct cfg_stmt *s, const char **why)
{
	bool done = false, warned = false;
	const char *end = NULL;

	for (; s; s = s->next) {
		bool t = false;
		const char *tw = NULL;

		/* dead code is still checked for errors; warned about once */
		if (done && !warned) {
			cfg_ck_warn(k, s->pos, "unreachable code after '%s'", end);
			warned = true;
		}
		switch (s->kind) {
		case CFG_S_IF: {
			const char *a = NULL, *b = NULL;
			bool ta, tb;

			check_cond(k, s->cond);
			ta = check_list(k, w, s->then, &a);
			tb = s->els ? check_list(k, w, s->els, &b) : false;
			t = ta && tb;
			tw = b ? b : a;
			break;
		}
		case CFG_S_BLOCK:
			t = check_list(k, w, s->then, &tw);
			break;
		case CFG_S_ASSIGN:
			check_assign(k, w, s);
			break;
		case CFG_S_ACTION: {
			const struct act_def *a = NULL;

			for (size_t i = 0; i < NACTS; i++)
				if (rp_str_eq_cstr(s->name, act_defs[i].name))
					a = &act_defs[i];
			if (!a) {
				struct cfg_suggest sg;
				char hint[96];
				bool is_fn = false;

				for (size_t i = 0; i < NFNS; i++)
					is_fn |= rp_str_eq_cstr(s->name, fn_defs[i].name);
				if (is_fn) {
					cfg_ck_err(k, s->pos, "'%.*s' is a condition: use it in 'if (...)'", SHOWN(s->name));
					break;
				}
				cfg_ck_suggest_init(&sg, s->name);
				for (size_t i = 0; i < NACTS; i++)
					cfg_ck_suggest_try(&sg, act_defs[i].name, strlen(act_defs[i].name));
				cfg_ck_err(k, s->pos, "unknown action '%.*s'%s", SHOWN(s->name),
					cfg_ck_suggest_text(&sg, hint, sizeof(hint)));
				break;
			}
			s->act = a->act;
			check_action(k, w, s, a);
			t = a->terminal;
			tw = a->name;
			break;
		}
		}
		if (t && !done) {
			done = true;
			end = tw;
		}
	}
	*why = end;
	return done;
}

/* Longest chain of route() calls starting at r; reports recursion. */
static unsigned call_height(struct cfg_ck *k, struct cfg_route *r, struct cfg_route **stack,
	unsigned depth);

static unsigned stmts_height(struct cfg_ck *k, struct cfg_stmt *s, struct cfg_route **stack,
	unsigned depth)
{
	unsigned h = 0, x;

	for (; s; s = s->next) {
		x = 0;
		if (s->kind == CFG_S_IF) {
			x = stmts_height(k, s->then, stack, depth);
			if (s->els) {
				unsigned y = stmts_height(k, s->els, stack, depth);

				x = y > x ? y : x;
			}
		} else if (s->kind == CFG_S_BLOCK) {
			x = stmts_height(k, s->then, stack, depth);
		} else if (s->kind == CFG_S_ACTION && s->act == CFG_ACT_ROUTE && s->route) {
			struct cfg_route *callee = s->route;

			if (callee->mark == 1) {
				char path[200] = "";
				unsigned from = 0;

				for (unsigned i = 0; i < depth; i++)
					if (stack[i] == callee)
						from = i;
				for (unsigned i = from; i < depth; i++) {
					size_t l = strlen(path);

					snprintf(path + l, sizeof(path) - l, "%.*s -> ", SHOWN(stack[i]->name));
				}
				{
					size_t l = strlen(path);

					snprintf(path + l, sizeof(path) - l, "%.*s", SHOWN(callee->name));
				}
				cfg_ck_err(k, s->pos, "recursive route call: %s (route calls may not loop)", path);
				x = 0;
			} else {
				x = call_height(k, callee, stack, depth);
			}
		}
		h = x > h ? x : h;
	}
	return h;
}

static unsigned call_height(struct cfg_ck *k, struct cfg_route *r, struct cfg_route **stack,
	unsigned depth)
{
	static const unsigned done_base = 2;
	unsigned h;

	if (r->mark >= done_base)
		return r->mark - done_base; /* memoised height (capped) */
	if (depth > CFG_MAX_CALL_DEPTH) {
		cfg_ck_err(k, r->pos, "route calls nested too deep (more than %u levels)", CFG_MAX_CALL_DEPTH);
		r->mark = (uint8_t)(done_base + CFG_MAX_CALL_DEPTH + 1);
		return CFG_MAX_CALL_DEPTH + 1;
	}
	r->mark = 1;
	stack[depth] = r;
	h = 1 + stmts_height(k, r->body, stack, depth + 1);
	if (h > CFG_MAX_CALL_DEPTH + 1)
		h = CFG_MAX_CALL_DEPTH + 1;
	r->mark = (uint8_t)(done_base + h);
	return h;
}

void cfg_ck_script(struct cfg_ck *k)
{
	static const char *const entry_names[] = { "request", "reply", "failure" };
	struct cfg *c = k->c;
	struct cfg_route *stack[CFG_MAX_CALL_DEPTH + 2];

	for (struct cfg_route *r = c->routes; r; r = r->next) {
		if (!cfg_ck_valid_name(r->name)) {
			cfg_ck_err(k, r->pos, "bad route name '%.*s'", SHOWN(r->name));
			continue;
		}
		for (struct cfg_route *q = c->routes; q != r; q = q->next)
			if (rp_str_eq(q->name, r->name)) {
				cfg_ck_err(k, r->pos, "duplicate route '%.*s' (first at line %u)", SHOWN(r->name),
					(unsigned)q->pos.line);
				break;
			}
		for (int i = 0; i < 3; i++)
			if (rp_str_eq_cstr(r->name, entry_names[i]) && !c->entry[i])
				c->entry[i] = r;
	}
	if (!c->entry[CFG_ROUTE_REQUEST])
		cfg_ck_err(k, (struct cfg_pos){ c->file, 0, 0 },
			"no 'route request { ... }': every request enters there");
	for (struct cfg_route *r = c->routes; r; r = r->next) {
		struct walk w = { .route = r, .in_reply = r == c->entry[CFG_ROUTE_REPLY] };
		const char *why;

		check_list(k, &w, r->body, &why);
	}
	for (struct cfg_route *r = c->routes; r; r = r->next) {
		bool entry = r == c->entry[0] || r == c->entry[1] || r == c->entry[2];

		if (!entry && !r->used)
			cfg_ck_warn(k, r->pos, "route '%.*s' is never called", SHOWN(r->name));
		if (!entry)
			continue;
		call_height(k, r, stack, 0);
	}
	/* routes only reachable from nowhere can still loop among themselves */
	for (struct cfg_route *r = c->routes; r; r = r->next)
		if (r->mark == 0)
			call_height(k, r, stack, 0);
}

