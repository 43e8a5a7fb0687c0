/* cfg_diag: diagnostics of the config compiler, "file:line:col: error: ...".
 *
 * The caller owns a struct cfg_diag (plain storage, e.g. on the stack) and
 * passes it to cfg_load_*; the compiler appends messages to it. Messages are
 * copied in, so a diag stays readable after the config is freed.
 */
#ifndef CFG_DIAG_H
#define CFG_DIAG_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

enum cfg_sev {
	CFG_SEV_ERROR,
	CFG_SEV_WARNING,
};

/* A place in a source file. 'file' is owned by whoever made the position
 * (the config keeps its file names alive as long as itself). */
struct cfg_pos {
	const char *file;
	uint32_t line; /* 1-based */
	uint32_t col;  /* 1-based, in bytes */
};

#define CFG_DIAG_MAX 64

struct cfg_diag_msg {
	enum cfg_sev sev;
	uint32_t line, col;
	char file[128];
	char text[256];
};

struct cfg_diag {
	unsigned errors;   /* all errors seen, even those not stored */
	unsigned warnings;
	unsigned n;        /* stored messages, at most CFG_DIAG_MAX */
	struct cfg_diag_msg msg[CFG_DIAG_MAX];
};

void cfg_diag_init(struct cfg_diag *d);

/* Appends a message; 'd' may be NULL (the message is dropped). */
void cfg_diag_add(struct cfg_diag *d, enum cfg_sev sev, struct cfg_pos pos,
	const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void cfg_diag_vadd(struct cfg_diag *d, enum cfg_sev sev, struct cfg_pos pos,
	const char *fmt, va_list ap);

/* Writes "file:line:col: error: text" into buf (always NUL-terminated when
 * size > 0); returns the length snprintf would have written. */
int cfg_diag_format(const struct cfg_diag_msg *m, char *buf, size_t size);

/* Prints every stored message, one a line, then a summary if any were
 * dropped. */
void cfg_diag_print(const struct cfg_diag *d, FILE *f);

/* The first stored message of the given severity, or NULL. */
const struct cfg_diag_msg *cfg_diag_first(const struct cfg_diag *d, enum cfg_sev sev);

#endif
