/* cfg_parse: parser of the config language into a syntax tree.
 *
 * Internal to the cfg_* modules (the proxy uses cfg_prog.h / cfg_eval.h).
 * The tree lives in the config's arena; its rp_str slices point into the
 * config's own copy of the source text or into decoded copies in the arena.
 *
 * Two kinds of top-level items:
 *   key = value, value ... ;          a setting
 *   key arg arg ... { items }          a block (listen, trunk, user, tls, ...)
 *   key arg arg ... ;                  a block without body
 *   route NAME { statements }          a routing block (see docs/config.md)
 */
#ifndef CFG_PARSE_H
#define CFG_PARSE_H

#include "cfg_diag.h"
#include "cfg_lex.h"
#include "cfg_prog.h"
#include "cfg_regex.h"
#include "rp_arena.h"
#include "rp_str.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* ---- generic config items ---- */

struct cfg_value {
	rp_str text;    /* decoded (escapes applied) */
	bool quoted;
	struct cfg_pos pos;
};

struct cfg_item {
	rp_str key;
	struct cfg_pos pos;
	bool assign;               /* key = vals ; */
	bool has_body;             /* key vals { children } */
	struct cfg_value *vals;    /* values, or the block's header arguments */
	unsigned nvals;
	struct cfg_item *children; /* list */
	struct cfg_item *next;
	struct cfg_route *route;   /* for 'route NAME { }' */
};

/* ---- routing script ---- */

/* What a variable reads; resolved by cfg_check from its name. */
enum cfg_var {
	CFG_VAR_NONE = 0,
	CFG_VAR_METHOD,
	CFG_VAR_RURI, CFG_VAR_RURI_SCHEME, CFG_VAR_RURI_USER, CFG_VAR_RURI_HOST,
	CFG_VAR_RURI_PORT, CFG_VAR_RURI_PARAM,
	CFG_VAR_FROM, CFG_VAR_FROM_USER, CFG_VAR_FROM_HOST,
	CFG_VAR_TO, CFG_VAR_TO_USER, CFG_VAR_TO_HOST,
	CFG_VAR_CALL_ID, CFG_VAR_USER_AGENT, CFG_VAR_HEADER,
	CFG_VAR_SRC_IP, CFG_VAR_SRC_PORT, CFG_VAR_TRANSPORT, CFG_VAR_SRC_TRUNK,
	CFG_VAR_TLS_SUBJECT, CFG_VAR_TLS_SAN,
	CFG_VAR_STATUS,
	CFG_VAR_MEDIA, /* assignment only: media_encryption */
};

/* One piece of a string: literal text, or a variable (with its name
 * argument for header.NAME / ruri.param.NAME). */
struct cfg_part {
	bool is_var;
	uint8_t var;       /* enum cfg_var, once resolved */
	rp_str s;          /* literal text; or the variable's full name */
	rp_str arg;        /* header / parameter name */
	struct cfg_pos pos;
};

struct cfg_tmpl {
	struct cfg_part *parts;
	uint16_t nparts;
};

enum cfg_arg_kind {
	CFG_A_WORD, /* bare word: number, keyword, trunk/route name, CIDR */
	CFG_A_STR,  /* quoted string (a template; '...' is one literal part) */
	CFG_A_VAR,  /* a variable ($ru, or a bare word resolved to one) */
};

struct cfg_arg {
	enum cfg_arg_kind kind;
	rp_str text;        /* word text, or the whole string's source */
	struct cfg_tmpl t;  /* STR and VAR */
	bool raw;           /* '...' */
	struct cfg_pos pos;
};

enum cfg_cond_kind {
	CFG_C_AND, CFG_C_OR, CFG_C_NOT,
	CFG_C_EQ, CFG_C_NE, CFG_C_MATCH, CFG_C_NMATCH, CFG_C_IN,
	CFG_C_CALL,
};

enum cfg_func {
	CFG_FN_NONE = 0,
	CFG_FN_LOOKUP,     /* lookup() */
	CFG_FN_HAS_HEADER, /* has_header("Name") */
	CFG_FN_IS_LOCAL,   /* is_local(expr) */
	CFG_FN_FROM_TRUNK, /* from_trunk(name) */
	CFG_FN_NUMBER_OF,  /* number_of(trunk, expr) */
};

struct cfg_cond {
	enum cfg_cond_kind kind;
	struct cfg_pos pos;
	struct cfg_cond *a, *b;   /* AND, OR, NOT */
	struct cfg_arg l, r;      /* comparisons */
	struct cfg_arg *args;     /* IN: the networks; CALL: arguments */
	unsigned nargs;
	rp_str fname;             /* CALL */
	/* resolved by cfg_check */
	uint8_t fn;
	struct cfg_regex *re;
	struct cfg_cidr *cidrs;
	const struct cfg_trunk *trunk;
};

enum cfg_action {
	CFG_ACT_NONE = 0,
	CFG_ACT_REPLY, CFG_ACT_RELAY, CFG_ACT_RECORD_ROUTE,
	CFG_ACT_ADD_HEADER, CFG_ACT_REMOVE_HEADER, CFG_ACT_REMOVE_URI_PARAM,
	CFG_ACT_AUTHENTICATE, CFG_ACT_WWW_CHALLENGE, CFG_ACT_PROXY_CHALLENGE,
	CFG_ACT_SAVE, CFG_ACT_LOOKUP, CFG_ACT_ROUTE, CFG_ACT_LOG,
	CFG_ACT_DROP, CFG_ACT_EXIT, CFG_ACT_RETURN,
};

enum cfg_stmt_kind {
	CFG_S_IF,
	CFG_S_BLOCK,
	CFG_S_ACTION,
	CFG_S_ASSIGN,
};

struct cfg_route;

struct cfg_stmt {
	enum cfg_stmt_kind kind;
	struct cfg_pos pos;
	struct cfg_stmt *next;
	struct cfg_cond *cond;          /* IF */
	struct cfg_stmt *then, *els;    /* IF; BLOCK uses 'then' */
	rp_str name;                    /* ACTION name / ASSIGN target name */
	struct cfg_arg *args;           /* ACTION */
	unsigned nargs;
	struct cfg_arg lhs, rhs;        /* ASSIGN */
	/* resolved by cfg_check */
	uint8_t act;                    /* enum cfg_action */
	int ival;                       /* reply code, log level, media policy, uri part */
	const struct cfg_trunk *trunk;  /* relay */
	struct cfg_route *route;        /* route() */
};

struct cfg_route {
	rp_str name;
	struct cfg_pos pos;
	struct cfg_stmt *body;
	struct cfg_route *next;
	/* cfg_check */
	bool used;
	uint8_t mark;                   /* recursion walk state */
};

/* ---- the config itself ---- */

struct cfg_secret {
	char *p;
	size_t n;
};

struct cfg {
	atomic_uint refs;
	rp_arena arena;              /* every tree node, string, array */
	char *text;                  /* the source (copied; wiped at free) */
	size_t text_len;
	char *users_text;            /* the users file, if any (wiped at free) */
	size_t users_len;
	const char *file;            /* name used in positions (arena) */
	const char *dir;             /* directory of the file, for relative paths */

	struct cfg_item *items;
	struct cfg_route *routes;
	struct cfg_route *entry[3];  /* by enum cfg_route_kind */

	struct cfg_settings settings;
	struct cfg_listen *listens;
	unsigned nlistens;
	struct cfg_trunk *trunks;
	unsigned ntrunks;
	struct cfg_user *users;
	unsigned nusers;
	/* users by cfg_user_key(): cfg_user_find() and the duplicate check
	 * stay O(1) with a users_file of tens of thousands of accounts */
	struct rp_hash *user_index;
	size_t user_key_max;         /* longest key in it */

	struct cfg_regex **regexes;  /* to free */
	unsigned nregexes, capregexes;
	struct cfg_secret *secrets;  /* arena bytes to wipe at free */
	unsigned nsecrets, capsecrets;
};

/* Parses c->text into c->items / c->routes. Stops at the first syntax
 * error. Returns 0, -EINVAL (see diag) or -ENOMEM. */
int cfg_parse(struct cfg *c, struct cfg_diag *diag);

/* Decodes the inside of a "..." string (escapes \\ \" \n \r \t \$). With
 * 'interp', $name and ${name} become variable parts; otherwise '$' is
 * literal. 'pos' is the opening quote's position. Returns 0, -EINVAL
 * (message in diag) or -ENOMEM. */
int cfg_parse_template(struct cfg *c, rp_str raw, struct cfg_pos pos, bool interp,
	struct cfg_tmpl *out, struct cfg_diag *diag);

/* Reads a whole regular file (at most CFG_MAX_FILE bytes) into a malloc'd,
 * NUL-terminated buffer. Returns 0 or a negative errno (-EFBIG). */
int cfg_read_file(const char *path, char **out, size_t *len);

/* Arena helpers shared by the cfg_* modules. */
void *cfg_alloc(struct cfg *c, size_t n);   /* zeroed */
const char *cfg_strdup(struct cfg *c, rp_str s);
/* Records arena bytes to explicit_bzero when the config is freed. */
int cfg_add_secret(struct cfg *c, char *p, size_t n);

/* The users index key: the name, a NUL, the realm in lower case (realms
 * compare case-insensitively). Writes it to buf when it fits in sz and
 * returns its length either way. */
size_t cfg_user_key(rp_str name, rp_str realm, char *buf, size_t sz);
/* Adds users[i] to the index: 0, -EEXIST (same name and realm already
 * there) or -ENOMEM. */
int cfg_user_index_add(struct cfg *c, const struct cfg_user *u);

#endif
