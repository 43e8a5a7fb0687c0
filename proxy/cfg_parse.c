#include "cfg_parse.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct parser {
	struct cfg *c;
	struct cfg_diag *d;
	struct cfg_lexer lx;
	struct cfg_token tok;
	unsigned depth;
	unsigned cond_nodes; /* nodes in the condition being parsed */
	int err; /* first error: -EINVAL or -ENOMEM */
};

void *cfg_alloc(struct cfg *c, size_t n)
{
	return rp_arena_zalloc(&c->arena, n);
}

const char *cfg_strdup(struct cfg *c, rp_str s)
{
	return rp_arena_strndup(&c->arena, s.p ? s.p : "", s.n);
}

int cfg_add_secret(struct cfg *c, char *p, size_t n)
{
	if (c->nsecrets == c->capsecrets) {
		unsigned cap = c->capsecrets ? c->capsecrets * 2 : 8;
		struct cfg_secret *s = realloc(c->secrets, cap * sizeof(*s));

		if (!s)
			return -ENOMEM;
		c->secrets = s;
		c->capsecrets = cap;
	}
	c->secrets[c->nsecrets++] = (struct cfg_secret){ p, n };
	return 0;
}

static void perr(struct parser *ps, struct cfg_pos pos, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void perr(struct parser *ps, struct cfg_pos pos, const char *fmt, ...)
{
	va_list ap;

	if (ps->err)
		return; /* one syntax error is enough: the rest would be noise */
	va_start(ap, fmt);
	cfg_diag_vadd(ps->d, CFG_SEV_ERROR, pos, fmt, ap);
	va_end(ap);
	ps->err = -EINVAL;
}

static void nomem(struct parser *ps)
{
	if (!ps->err)
		ps->err = -ENOMEM;
}

static void next(struct parser *ps)
{
	if (ps->err)
		return;
	if (cfg_lex_next(&ps->lx, &ps->tok) < 0)
		perr(ps, ps->tok.pos, "%s", ps->lx.err);
}

static void tok_desc(const struct cfg_token *t, char *buf, size_t n)
{
	if (t->kind == CFG_T_WORD)
		snprintf(buf, n, "'%.*s'", (int)(t->text.n > 40 ? 40 : t->text.n), t->text.p);
	else
		snprintf(buf, n, "%s", cfg_tok_name(t->kind));
}

static void expected(struct parser *ps, const char *what)
{
	char found[64];

	tok_desc(&ps->tok, found, sizeof(found));
	perr(ps, ps->tok.pos, "expected %s, found %s", what, found);
}

static bool take(struct parser *ps, enum cfg_tok kind)
{
	if (ps->err || ps->tok.kind != kind)
		return false;
	next(ps);
	return true;
}

static bool expect(struct parser *ps, enum cfg_tok kind)
{
	if (take(ps, kind))
		return true;
	expected(ps, cfg_tok_name(kind));
	return false;
}

static bool is_word(const struct parser *ps, const char *w)
{
	return ps->tok.kind == CFG_T_WORD && rp_str_eq_cstr(ps->tok.text, w);
}

static bool enter(struct parser *ps)
{
	if (++ps->depth > CFG_MAX_NESTING) {
		perr(ps, ps->tok.pos, "nesting too deep (limit %u)", CFG_MAX_NESTING);
		return false;
	}
	return true;
}

/* ---- strings ---- */

static bool is_name_start(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_';
}

static bool is_name_char(char ch)
{
	return is_name_start(ch) || (ch >= '0' && ch <= '9');
}

int cfg_parse_template(struct cfg *c, rp_str raw, struct cfg_pos pos, bool interp,
	struct cfg_tmpl *out, struct cfg_diag *diag)
{
	/* Worst case: every byte a part boundary; count first instead. */
	char *buf = rp_arena_alloc(&c->arena, raw.n + 1);
	struct cfg_part parts[64];
	unsigned np = 0;
	size_t bn = 0, lit_start = 0;
	uint32_t line = pos.line, col = pos.col + 1; /* after the quote */

	if (!buf)
		return -ENOMEM;
	for (size_t i = 0; i < raw.n;) {
		char ch = raw.p[i];
		struct cfg_pos here = { pos.file, line, col };

		if (ch == '\\' && i + 1 < raw.n) {
			char e = raw.p[i + 1];

			switch (e) {
			case '\\': case '"': case '$': case '\'': buf[bn++] = e; break;
			case 'n': buf[bn++] = '\n'; break;
			case 'r': buf[bn++] = '\r'; break;
			case 't': buf[bn++] = '\t'; break;
			default:
				cfg_diag_add(diag, CFG_SEV_ERROR, here,
					"unknown escape '\\%c' in string (use '...' for regular expressions)",
					e >= 0x20 && e < 0x7f ? e : '?');
				return -EINVAL;
			}
			i += 2;
			col += 2;
			continue;
		}
		if (ch == '$' && interp) {
			size_t s = i + 1, e;
			rp_str name;

			if (s < raw.n && raw.p[s] == '{') {
				e = ++s;
				while (e < raw.n && raw.p[e] != '}' && cfg_lex_is_word_char(raw.p[e]))
					e++;
				if (e >= raw.n || raw.p[e] != '}' || e == s) {
					cfg_diag_add(diag, CFG_SEV_ERROR, here,
						"bad variable in string: expected ${name}");
					return -EINVAL;
				}
				name = rp_str_make(raw.p + s, e - s);
				e++;
			} else {
				e = s;
				while (e < raw.n && is_name_char(raw.p[e]))
					e++;
				if (e == s || !is_name_start(raw.p[s])) {
					cfg_diag_add(diag, CFG_SEV_ERROR, here,
						"'$' must start a variable ($name or ${name}); write \\$ for a dollar sign");
					return -EINVAL;
				}
				name = rp_str_make(raw.p + s, e - s);
			}
			if (np + 2 > sizeof(parts) / sizeof(parts[0])) {
				cfg_diag_add(diag, CFG_SEV_ERROR, here, "too many variables in one string (limit 31)");
				return -EINVAL;
			}
			if (bn > lit_start)
				parts[np++] = (struct cfg_part){ .s = rp_str_make(buf + lit_start, bn - lit_start), .pos = here };
			parts[np++] = (struct cfg_part){ .is_var = true, .s = name, .pos = here };
			lit_start = bn;
			col += (uint32_t)(e - i);
			i = e;
			continue;
		}
		buf[bn++] = ch;
		if (ch == '\n') {
			line++;
			col = 1;
		} else {
			col++;
		}
		i++;
	}
	if (bn > lit_start || np == 0) {
		if (np + 1 > sizeof(parts) / sizeof(parts[0])) {
			cfg_diag_add(diag, CFG_SEV_ERROR, pos, "too many variables in one string (limit 31)");
			return -EINVAL;
		}
		parts[np++] = (struct cfg_part){ .s = rp_str_make(buf + lit_start, bn - lit_start), .pos = pos };
	}
	buf[bn] = '\0';
	out->parts = rp_arena_alloc(&c->arena, np * sizeof(parts[0]));
	if (!out->parts)
		return -ENOMEM;
	memcpy(out->parts, parts, np * sizeof(parts[0]));
	out->nparts = (uint16_t)np;
	return 0;
}

/* A setting's value: decoded text, no interpolation ('$' in a password is
 * a dollar). */
static bool parse_value(struct parser *ps, struct cfg_value *v)
{
	struct cfg_tmpl t;
	int rc;

	v->pos = ps->tok.pos;
	switch (ps->tok.kind) {
	case CFG_T_WORD:
	case CFG_T_RAW:
		v->text = ps->tok.text;
		v->quoted = ps->tok.kind == CFG_T_RAW;
		break;
	case CFG_T_STRING:
		rc = cfg_parse_template(ps->c, ps->tok.text, ps->tok.pos, false, &t, ps->d);
		if (rc == -ENOMEM) {
			nomem(ps);
			return false;
		}
		if (rc < 0) {
			ps->err = rc;
			return false;
		}
		v->text = t.parts[0].s;
		v->quoted = true;
		/* the decoded copy may be a password: wiped with the config */
		if (v->text.n && cfg_add_secret(ps->c, (char *)v->text.p, v->text.n) < 0) {
			nomem(ps);
			return false;
		}
		break;
	default:
		expected(ps, "a value");
		return false;
	}
	next(ps);
	return true;
}

/* ---- expressions and statements ---- */

static bool parse_operand(struct parser *ps, struct cfg_arg *a)
{
	int rc;

	memset(a, 0, sizeof(*a));
	a->pos = ps->tok.pos;
	a->text = ps->tok.text;
	switch (ps->tok.kind) {
	case CFG_T_WORD:
		a->kind = CFG_A_WORD;
		break;
	case CFG_T_STRING:
		a->kind = CFG_A_STR;
		rc = cfg_parse_template(ps->c, ps->tok.text, ps->tok.pos, true, &a->t, ps->d);
		if (rc < 0) {
			if (rc == -ENOMEM)
				nomem(ps);
			else
				ps->err = rc;
			return false;
		}
		break;
	case CFG_T_RAW:
		a->kind = CFG_A_STR;
		a->raw = true;
		a->t.parts = cfg_alloc(ps->c, sizeof(*a->t.parts));
		if (!a->t.parts) {
			nomem(ps);
			return false;
		}
		a->t.parts[0] = (struct cfg_part){ .s = ps->tok.text, .pos = ps->tok.pos };
		a->t.nparts = 1;
		break;
	case CFG_T_VAR:
		a->kind = CFG_A_VAR;
		a->t.parts = cfg_alloc(ps->c, sizeof(*a->t.parts));
		if (!a->t.parts) {
			nomem(ps);
			return false;
		}
		a->t.parts[0] = (struct cfg_part){ .is_var = true, .s = ps->tok.text, .pos = ps->tok.pos };
		a->t.nparts = 1;
		break;
	default:
		expected(ps, "a value (variable, string or number)");
		return false;
	}
	next(ps);
	return true;
}

#define MAX_ARGS 16

/* Arguments up to 'end' (';' or ')'), commas optional between them. */
static bool parse_args(struct parser *ps, enum cfg_tok end, struct cfg_arg **out,
	unsigned *nout)
{
	struct cfg_arg args[MAX_ARGS];
	unsigned n = 0;

	while (!ps->err && ps->tok.kind != end) {
		if (n == MAX_ARGS) {
			perr(ps, ps->tok.pos, "too many arguments (limit %u)", MAX_ARGS);
			return false;
		}
		if (ps->tok.kind == CFG_T_RBRACE || ps->tok.kind == CFG_T_LBRACE ||
		    ps->tok.kind == CFG_T_EOF || ps->tok.kind == CFG_T_SEMI ||
		    ps->tok.kind == CFG_T_RPAREN) {
			expected(ps, cfg_tok_name(end));
			return false;
		}
		if (!parse_operand(ps, &args[n++]))
			return false;
		if (ps->tok.kind == CFG_T_COMMA) {
			next(ps);
			if (ps->tok.kind == end) {
				expected(ps, "an argument after ','");
				return false;
			}
		}
	}
	if (ps->err)
		return false;
	*nout = n;
	*out = NULL;
	if (n) {
		*out = rp_arena_alloc(&ps->c->arena, n * sizeof(args[0]));
		if (!*out) {
			nomem(ps);
			return false;
		}
		memcpy(*out, args, n * sizeof(args[0]));
	}
	return true;
}

/* Long '&&' / '||' chains build deep trees; evaluation recurses over them,
 * so one condition gets a bounded number of nodes. */
#define MAX_COND_NODES 256

static struct cfg_cond *new_cond(struct parser *ps, enum cfg_cond_kind kind, struct cfg_pos pos)
{
	struct cfg_cond *c;

	if (++ps->cond_nodes > MAX_COND_NODES) {
		perr(ps, pos, "condition too long (limit %u terms)", MAX_COND_NODES);
		return NULL;
	}
	c = cfg_alloc(ps->c, sizeof(*c));

	if (!c) {
		nomem(ps);
		return NULL;
	}
	c->kind = kind;
	c->pos = pos;
	return c;
}

static struct cfg_cond *parse_or(struct parser *ps);

static struct cfg_cond *parse_unary(struct parser *ps)
{
	struct cfg_pos pos = ps->tok.pos;
	struct cfg_cond *c;
	struct cfg_arg l;

	if (!enter(ps))
		return NULL;
	if (take(ps, CFG_T_NOT)) {
		c = new_cond(ps, CFG_C_NOT, pos);
		if (c)
			c->a = parse_unary(ps);
		ps->depth--;
		return c && c->a ? c : NULL;
	}
	if (take(ps, CFG_T_LPAREN)) {
		c = parse_or(ps);
		if (c && !expect(ps, CFG_T_RPAREN))
			c = NULL;
		ps->depth--;
		return c;
	}
	ps->depth--;
	if (!parse_operand(ps, &l))
		return NULL;
	if (l.kind == CFG_A_WORD && ps->tok.kind == CFG_T_LPAREN) {
		c = new_cond(ps, CFG_C_CALL, pos);
		if (!c)
			return NULL;
		c->fname = l.text;
		next(ps);
		if (!parse_args(ps, CFG_T_RPAREN, &c->args, &c->nargs) || !expect(ps, CFG_T_RPAREN))
			return NULL;
		return c;
	}
	switch (ps->tok.kind) {
	case CFG_T_EQ: c = new_cond(ps, CFG_C_EQ, ps->tok.pos); break;
	case CFG_T_NE: c = new_cond(ps, CFG_C_NE, ps->tok.pos); break;
	case CFG_T_MATCH: c = new_cond(ps, CFG_C_MATCH, ps->tok.pos); break;
	case CFG_T_NMATCH: c = new_cond(ps, CFG_C_NMATCH, ps->tok.pos); break;
	case CFG_T_WORD:
		if (rp_str_eq_cstr(ps->tok.text, "in")) {
			c = new_cond(ps, CFG_C_IN, ps->tok.pos);
			break;
		}
		/* fall through */
	default:
		expected(ps, "a comparison ('==', '!=', '=~', '!~' or 'in')");
		return NULL;
	}
	if (!c)
		return NULL;
	c->l = l;
	next(ps);
	if (c->kind == CFG_C_IN) {
		if (take(ps, CFG_T_LPAREN)) {
			if (!parse_args(ps, CFG_T_RPAREN, &c->args, &c->nargs) || !expect(ps, CFG_T_RPAREN))
				return NULL;
			if (c->nargs == 0) {
				perr(ps, c->pos, "empty network list after 'in'");
				return NULL;
			}
		} else {
			c->args = cfg_alloc(ps->c, sizeof(*c->args));
			if (!c->args) {
				nomem(ps);
				return NULL;
			}
			c->nargs = 1;
			if (!parse_operand(ps, &c->args[0]))
				return NULL;
		}
		return c;
	}
	if (!parse_operand(ps, &c->r))
		return NULL;
	return c;
}

static struct cfg_cond *parse_and(struct parser *ps)
{
	struct cfg_cond *l = parse_unary(ps);

	while (l && ps->tok.kind == CFG_T_AND) {
		struct cfg_cond *c = new_cond(ps, CFG_C_AND, ps->tok.pos);

		next(ps);
		if (!c)
			return NULL;
		c->a = l;
		c->b = parse_unary(ps);
		if (!c->b)
			return NULL;
		l = c;
	}
	return l;
}

static struct cfg_cond *parse_or(struct parser *ps)
{
	struct cfg_cond *l;

	if (!enter(ps))
		return NULL;
	l = parse_and(ps);
	while (l && ps->tok.kind == CFG_T_OR) {
		struct cfg_cond *c = new_cond(ps, CFG_C_OR, ps->tok.pos);

		next(ps);
		if (!c) {
			l = NULL;
			break;
		}
		c->a = l;
		c->b = parse_and(ps);
		l = c->b ? c : NULL;
	}
	ps->depth--;
	return l;
}

static struct cfg_stmt *parse_stmt(struct parser *ps);

/* '{' statements '}' ; returns the list (NULL for an empty block: check
 * ps->err to tell). */
static struct cfg_stmt *parse_block(struct parser *ps)
{
	struct cfg_stmt *head = NULL, **tail = &head;

	if (!expect(ps, CFG_T_LBRACE))
		return NULL;
	if (!enter(ps))
		return NULL;
	while (!ps->err && ps->tok.kind != CFG_T_RBRACE) {
		struct cfg_stmt *s;

		if (ps->tok.kind == CFG_T_EOF) {
			expected(ps, "'}'");
			break;
		}
		s = parse_stmt(ps);
		if (!s)
			break;
		*tail = s;
		tail = &s->next;
	}
	ps->depth--;
	if (!ps->err)
		next(ps);
	return head;
}

static struct cfg_stmt *new_stmt(struct parser *ps, enum cfg_stmt_kind kind, struct cfg_pos pos)
{
	struct cfg_stmt *s = cfg_alloc(ps->c, sizeof(*s));

	if (!s) {
		nomem(ps);
		return NULL;
	}
	s->kind = kind;
	s->pos = pos;
	return s;
}

static struct cfg_stmt *parse_if(struct parser *ps)
{
	struct cfg_stmt *s = new_stmt(ps, CFG_S_IF, ps->tok.pos);

	if (!s)
		return NULL;
	next(ps); /* 'if' */
	if (!expect(ps, CFG_T_LPAREN))
		return NULL;
	ps->cond_nodes = 0;
	s->cond = parse_or(ps);
	if (!s->cond || !expect(ps, CFG_T_RPAREN))
		return NULL;
	if (ps->tok.kind != CFG_T_LBRACE) {
		expected(ps, "'{' (the body of an 'if' is always a block)");
		return NULL;
	}
	s->then = parse_block(ps);
	if (ps->err)
		return NULL;
	if (is_word(ps, "else")) {
		next(ps);
		if (!enter(ps))
			return NULL;
		if (is_word(ps, "if")) {
			s->els = parse_if(ps);
			if (!s->els)
				s = NULL;
		} else if (ps->tok.kind == CFG_T_LBRACE) {
			struct cfg_stmt *b = new_stmt(ps, CFG_S_BLOCK, ps->tok.pos);

			if (b) {
				b->then = parse_block(ps);
				s->els = b;
			}
			if (ps->err)
				s = NULL;
		} else {
			expected(ps, "'if' or '{' after 'else'");
			s = NULL;
		}
		ps->depth--;
	}
	return s;
}

static struct cfg_stmt *parse_stmt(struct parser *ps)
{
	struct cfg_pos pos = ps->tok.pos;
	struct cfg_stmt *s;

	if (ps->tok.kind == CFG_T_LBRACE) {
		s = new_stmt(ps, CFG_S_BLOCK, pos);
		if (s)
			s->then = parse_block(ps);
		return ps->err ? NULL : s;
	}
	if (is_word(ps, "if"))
		return parse_if(ps);
	if (is_word(ps, "else")) {
		perr(ps, pos, "'else' without 'if'");
		return NULL;
	}
	if (ps->tok.kind != CFG_T_WORD && ps->tok.kind != CFG_T_VAR) {
		expected(ps, "a statement");
		return NULL;
	}
	s = new_stmt(ps, CFG_S_ACTION, pos);
	if (!s)
		return NULL;
	if (ps->tok.kind == CFG_T_VAR) {
		/* only assignments start with a $variable */
		s->kind = CFG_S_ASSIGN;
		if (!parse_operand(ps, &s->lhs))
			return NULL;
		s->name = s->lhs.text;
		if (!expect(ps, CFG_T_ASSIGN))
			return NULL;
	} else {
		s->name = ps->tok.text;
		next(ps);
		if (ps->tok.kind == CFG_T_ASSIGN) {
			s->kind = CFG_S_ASSIGN;
			s->lhs = (struct cfg_arg){ .kind = CFG_A_WORD, .text = s->name, .pos = pos };
			next(ps);
		}
	}
	if (s->kind == CFG_S_ASSIGN) {
		if (!parse_operand(ps, &s->rhs) || !expect(ps, CFG_T_SEMI))
			return NULL;
		return s;
	}
	if (take(ps, CFG_T_LPAREN)) {
		if (!parse_args(ps, CFG_T_RPAREN, &s->args, &s->nargs) || !expect(ps, CFG_T_RPAREN))
			return NULL;
	} else if (!parse_args(ps, CFG_T_SEMI, &s->args, &s->nargs)) {
		return NULL;
	}
	if (!expect(ps, CFG_T_SEMI))
		return NULL;
	return s;
}

/* ---- top level ---- */

static struct cfg_item *parse_item(struct parser *ps);

static bool parse_items_until(struct parser *ps, enum cfg_tok end, struct cfg_item **out)
{
	struct cfg_item **tail = out;

	while (!ps->err && ps->tok.kind != end) {
		struct cfg_item *it;

		if (ps->tok.kind == CFG_T_EOF) {
			expected(ps, "'}'");
			return false;
		}
		it = parse_item(ps);
		if (!it)
			return false;
		*tail = it;
		tail = &it->next;
	}
	return !ps->err;
}

#define MAX_VALUES 64

static struct cfg_item *parse_item(struct parser *ps)
{
	struct cfg_value vals[MAX_VALUES];
	struct cfg_item *it;

	if (ps->tok.kind != CFG_T_WORD) {
		expected(ps, "a setting or block name");
		return NULL;
	}
	it = cfg_alloc(ps->c, sizeof(*it));
	if (!it) {
		nomem(ps);
		return NULL;
	}
	it->key = ps->tok.text;
	it->pos = ps->tok.pos;
	next(ps);
	if (take(ps, CFG_T_ASSIGN)) {
		it->assign = true;
		do {
			if (it->nvals == MAX_VALUES) {
				perr(ps, ps->tok.pos, "too many values (limit %u)", MAX_VALUES);
				return NULL;
			}
			if (!parse_value(ps, &vals[it->nvals++]))
				return NULL;
		} while (take(ps, CFG_T_COMMA));
		if (!expect(ps, CFG_T_SEMI))
			return NULL;
	} else {
		while (!ps->err && ps->tok.kind != CFG_T_LBRACE && ps->tok.kind != CFG_T_SEMI) {
			if (it->nvals == MAX_VALUES) {
				perr(ps, ps->tok.pos, "too many arguments (limit %u)", MAX_VALUES);
				return NULL;
			}
			if (ps->tok.kind != CFG_T_WORD && ps->tok.kind != CFG_T_STRING &&
			    ps->tok.kind != CFG_T_RAW) {
				expected(ps, it->nvals ? "'=', '{' or ';'" : "'=', a name, '{' or ';'");
				return NULL;
			}
			if (!parse_value(ps, &vals[it->nvals++]))
				return NULL;
		}
		if (ps->err)
			return NULL;
		if (rp_str_eq_cstr(it->key, "route")) {
			struct cfg_route *r = cfg_alloc(ps->c, sizeof(*r));

			if (!r) {
				nomem(ps);
				return NULL;
			}
			if (it->nvals != 1 || vals[0].quoted) {
				perr(ps, it->pos, "expected 'route NAME { ... }'");
				return NULL;
			}
			if (ps->tok.kind != CFG_T_LBRACE) {
				expected(ps, "'{'");
				return NULL;
			}
			r->name = vals[0].text;
			r->pos = vals[0].pos;
			r->body = parse_block(ps);
			if (ps->err)
				return NULL;
			it->route = r;
			it->has_body = true;
		} else if (take(ps, CFG_T_LBRACE)) {
			it->has_body = true;
			if (!enter(ps))
				return NULL;
			if (!parse_items_until(ps, CFG_T_RBRACE, &it->children))
				return NULL;
			ps->depth--;
			next(ps);
		} else {
			next(ps); /* ';' */
		}
	}
	if (ps->err)
		return NULL;
	if (it->nvals) {
		it->vals = rp_arena_alloc(&ps->c->arena, it->nvals * sizeof(vals[0]));
		if (!it->vals) {
			nomem(ps);
			return NULL;
		}
		memcpy(it->vals, vals, it->nvals * sizeof(vals[0]));
	}
	return it;
}

int cfg_parse(struct cfg *c, struct cfg_diag *diag)
{
	struct parser ps = { .c = c, .d = diag };
	struct cfg_route **rtail = &c->routes;

	cfg_lex_init(&ps.lx, c->file, c->text, c->text_len);
	next(&ps);
	if (!ps.err)
		parse_items_until(&ps, CFG_T_EOF, &c->items);
	if (ps.err)
		return ps.err;
	for (struct cfg_item *it = c->items; it; it = it->next) {
		if (it->route) {
			*rtail = it->route;
			rtail = &it->route->next;
		}
	}
	return 0;
}
