#include "cfg_lex.h"

#include <errno.h>

void cfg_lex_init(struct cfg_lexer *lx, const char *file, const char *buf, size_t len)
{
	lx->buf = buf;
	lx->p = buf;
	lx->end = buf + len;
	lx->line_start = buf;
	lx->line = 1;
	lx->file = file;
	lx->err = NULL;
}

bool cfg_lex_is_word_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		(c >= '0' && c <= '9') || c == '_' || c == '.' || c == ':' ||
		c == '*' || c == '+' || c == '/' || c == '@' || c == '%' || c == '-';
}

static bool is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		(c >= '0' && c <= '9') || c == '_';
}

static struct cfg_pos pos_at(const struct cfg_lexer *lx, const char *p)
{
	return (struct cfg_pos){ lx->file, lx->line, (uint32_t)(p - lx->line_start) + 1 };
}

static int lex_error(struct cfg_lexer *lx, struct cfg_token *t, const char *p,
	const char *msg)
{
	t->kind = CFG_T_ERROR;
	t->text = rp_str_make(p, 0);
	t->pos = pos_at(lx, p);
	lx->err = msg;
	return -EINVAL;
}

static void newline(struct cfg_lexer *lx, const char *after)
{
	lx->line++;
	lx->line_start = after;
}

static void skip_space(struct cfg_lexer *lx)
{
	while (lx->p < lx->end) {
		char c = *lx->p;

		if (c == '\n') {
			lx->p++;
			newline(lx, lx->p);
		} else if (c == ' ' || c == '\t' || c == '\r') {
			lx->p++;
		} else if (c == '#') {
			while (lx->p < lx->end && *lx->p != '\n')
				lx->p++;
		} else {
			break;
		}
	}
}

/* Quoted string; 'q' is the quote. Newlines inside are allowed (long
 * headers, multi-line log text) and counted. Backslash escapes the next
 * byte in "..." only; decoding happens in the parser. */
static int lex_string(struct cfg_lexer *lx, struct cfg_token *t, char q)
{
	const char *start = lx->p;
	const char *s = start + 1;
	struct cfg_pos pos = pos_at(lx, start);

	while (s < lx->end && *s != q) {
		if (*s == '\0')
			return lex_error(lx, t, s, "NUL byte in string");
		if (*s == '\\' && q == '"') {
			if (s + 1 >= lx->end)
				break;
			s++;
		}
		if (*s == '\n')
			newline(lx, s + 1);
		s++;
	}
	if (s >= lx->end) {
		lx->p = lx->end;
		t->kind = CFG_T_ERROR;
		t->text = rp_str_make(start, 0);
		t->pos = pos;
		lx->err = "unterminated string";
		return -EINVAL;
	}
	if ((size_t)(s - start - 1) > CFG_LEX_MAX_STRING) {
		lx->p = s + 1;
		t->kind = CFG_T_ERROR;
		t->text = rp_str_make(start, 0);
		t->pos = pos;
		lx->err = "string too long (limit 16384 bytes)";
		return -EINVAL;
	}
	t->kind = q == '"' ? CFG_T_STRING : CFG_T_RAW;
	t->text = rp_str_make(start + 1, (size_t)(s - start - 1));
	t->pos = pos;
	lx->p = s + 1;
	return 0;
}

static int lex_var(struct cfg_lexer *lx, struct cfg_token *t)
{
	const char *start = lx->p;
	const char *s = start + 1;

	t->pos = pos_at(lx, start);
	if (s < lx->end && *s == '{') {
		const char *n = ++s;

		while (s < lx->end && *s != '}' && *s != '\n' && cfg_lex_is_word_char(*s))
			s++;
		if (s >= lx->end || *s != '}' || s == n)
			return lex_error(lx, t, start, "bad variable: expected ${name}");
		t->kind = CFG_T_VAR;
		t->text = rp_str_make(n, (size_t)(s - n));
		lx->p = s + 1;
		return 0;
	}
	while (s < lx->end && is_name_char(*s))
		s++;
	if (s == start + 1)
		return lex_error(lx, t, start, "bad variable: expected a name after '$'");
	t->kind = CFG_T_VAR;
	t->text = rp_str_make(start + 1, (size_t)(s - start - 1));
	lx->p = s;
	return 0;
}

static int lex_word(struct cfg_lexer *lx, struct cfg_token *t)
{
	const char *start = lx->p;
	const char *s = start;

	t->pos = pos_at(lx, start);
	if (*s == '[') {
		/* IPv6 literal: [hex:...] then an optional :port or /prefix */
		s++;
		while (s < lx->end && *s != ']' && (cfg_lex_is_word_char(*s)))
			s++;
		if (s >= lx->end || *s != ']')
			return lex_error(lx, t, start, "unterminated '[' in address");
		s++;
	}
	while (s < lx->end && cfg_lex_is_word_char(*s))
		s++;
	t->kind = CFG_T_WORD;
	t->text = rp_str_make(start, (size_t)(s - start));
	lx->p = s;
	return 0;
}

static int two(struct cfg_lexer *lx, struct cfg_token *t, enum cfg_tok kind, size_t n)
{
	t->kind = kind;
	t->text = rp_str_make(lx->p, n);
	t->pos = pos_at(lx, lx->p);
	lx->p += n;
	return 0;
}

int cfg_lex_next(struct cfg_lexer *lx, struct cfg_token *t)
{
	char c, d;

	skip_space(lx);
	if (lx->p >= lx->end) {
		t->kind = CFG_T_EOF;
		t->text = rp_str_make(lx->end, 0);
		t->pos = pos_at(lx, lx->p);
		return 0;
	}
	c = *lx->p;
	d = lx->p + 1 < lx->end ? lx->p[1] : '\0';
	switch (c) {
	case '{': return two(lx, t, CFG_T_LBRACE, 1);
	case '}': return two(lx, t, CFG_T_RBRACE, 1);
	case '(': return two(lx, t, CFG_T_LPAREN, 1);
	case ')': return two(lx, t, CFG_T_RPAREN, 1);
	case ';': return two(lx, t, CFG_T_SEMI, 1);
	case ',': return two(lx, t, CFG_T_COMMA, 1);
	case '=':
		if (d == '=')
			return two(lx, t, CFG_T_EQ, 2);
		if (d == '~')
			return two(lx, t, CFG_T_MATCH, 2);
		return two(lx, t, CFG_T_ASSIGN, 1);
	case '!':
		if (d == '=')
			return two(lx, t, CFG_T_NE, 2);
		if (d == '~')
			return two(lx, t, CFG_T_NMATCH, 2);
		return two(lx, t, CFG_T_NOT, 1);
	case '&':
		if (d == '&')
			return two(lx, t, CFG_T_AND, 2);
		return lex_error(lx, t, lx->p, "expected '&&'");
	case '|':
		if (d == '|')
			return two(lx, t, CFG_T_OR, 2);
		return lex_error(lx, t, lx->p, "expected '||'");
	case '"':
	case '\'':
		return lex_string(lx, t, c);
	case '$':
		return lex_var(lx, t);
	case '[':
		return lex_word(lx, t);
	case '\0':
		return lex_error(lx, t, lx->p, "NUL byte in config");
	default:
		if (cfg_lex_is_word_char(c))
			return lex_word(lx, t);
		return lex_error(lx, t, lx->p, "unexpected character");
	}
}

const char *cfg_tok_name(enum cfg_tok kind)
{
	switch (kind) {
	case CFG_T_EOF: return "end of file";
	case CFG_T_WORD: return "word";
	case CFG_T_STRING: return "string";
	case CFG_T_RAW: return "string";
	case CFG_T_VAR: return "variable";
	case CFG_T_LBRACE: return "'{'";
	case CFG_T_RBRACE: return "'}'";
	case CFG_T_LPAREN: return "'('";
	case CFG_T_RPAREN: return "')'";
	case CFG_T_SEMI: return "';'";
	case CFG_T_COMMA: return "','";
	case CFG_T_ASSIGN: return "'='";
	case CFG_T_EQ: return "'=='";
	case CFG_T_NE: return "'!='";
	case CFG_T_MATCH: return "'=~'";
	case CFG_T_NMATCH: return "'!~'";
	case CFG_T_AND: return "'&&'";
	case CFG_T_OR: return "'||'";
	case CFG_T_NOT: return "'!'";
	case CFG_T_ERROR: return "error";
	}
	return "?";
}
