/* cfg_lex: tokenizer of the rampart-proxy config language.
 *
 * Zero-copy: tokens are rp_str slices into the caller's buffer, which must
 * outlive them. Never reads past the given length; NUL bytes are rejected.
 * Positions are 1-based line and byte column.
 */
#ifndef CFG_LEX_H
#define CFG_LEX_H

#include "cfg_diag.h"
#include "rp_str.h"

#include <stddef.h>

/* Longest quoted string accepted, in bytes of source. */
#define CFG_LEX_MAX_STRING 16384

enum cfg_tok {
	CFG_T_EOF,
	CFG_T_WORD,   /* name, number, address, CIDR: [A-Za-z0-9_.:*+/@%-]+ or [v6]... */
	CFG_T_STRING, /* "..." : text is the raw inside, escapes not decoded */
	CFG_T_RAW,    /* '...' : text is the inside, taken literally */
	CFG_T_VAR,    /* $name or ${name.with.dots}: text is the name */
	CFG_T_LBRACE, CFG_T_RBRACE, CFG_T_LPAREN, CFG_T_RPAREN,
	CFG_T_SEMI, CFG_T_COMMA,
	CFG_T_ASSIGN, /* = */
	CFG_T_EQ,     /* == */
	CFG_T_NE,     /* != */
	CFG_T_MATCH,  /* =~ */
	CFG_T_NMATCH, /* !~ */
	CFG_T_AND,    /* && */
	CFG_T_OR,     /* || */
	CFG_T_NOT,    /* ! */
	CFG_T_ERROR,  /* lexer error: see cfg_lexer.err */
};

struct cfg_token {
	enum cfg_tok kind;
	rp_str text;
	struct cfg_pos pos;
};

struct cfg_lexer {
	const char *buf, *p, *end;
	const char *line_start;
	uint32_t line;
	const char *file;
	const char *err; /* static message of the last CFG_T_ERROR */
};

/* 'file' is kept by pointer for positions. */
void cfg_lex_init(struct cfg_lexer *lx, const char *file, const char *buf, size_t len);

/* Reads the next token into *t. Returns 0, or -EINVAL with t->kind ==
 * CFG_T_ERROR, t->pos at the offending byte and lx->err set. */
int cfg_lex_next(struct cfg_lexer *lx, struct cfg_token *t);

/* "'{'", "string", ... for messages. */
const char *cfg_tok_name(enum cfg_tok kind);

/* True for the characters a CFG_T_WORD is made of. */
bool cfg_lex_is_word_char(char c);

#endif
