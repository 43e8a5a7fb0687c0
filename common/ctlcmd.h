/* ctlcmd: rampartctl's commands, defined once in one table.
 *
 * Each entry names the command (one or more words: "call show"), its
 * arguments, a one-line help, which daemon(s) answer it, whether it only
 * reads or changes state, the handler and how its answer is rendered. The
 * table drives dispatch, `rampartctl help`, `rampartctl help CMD` and the
 * command section of docs/rampartctl.md (`rampartctl --print-doc-table`),
 * so none of them can drift.
 *
 * Adding a daemon command that needs no special display (most proxy
 * commands) is one entry with .remote set to the control-protocol command
 * and .fn = ctlcmd_passthrough: its NAME=VALUE arguments are sent as fields
 * and the answer is printed as "key  value" lines, or converted to JSON.
 *
 * Exit status (enum ctlcmd_exit) is what scripts test:
 *   0 ok, 1 the daemon answered "error" (its error-reason goes to stderr),
 *   2 usage error, 3 cannot connect (which socket and why),
 *   4 timeout or protocol error.
 */
#ifndef CTLCMD_H
#define CTLCMD_H

#include <stdbool.h>
#include <stdio.h>

#include "ctl.h"

enum ctlcmd_exit {
	CTLCMD_EXIT_OK = 0,
	CTLCMD_EXIT_DAEMON = 1,  /* the daemon answered result=error */
	CTLCMD_EXIT_USAGE = 2,
	CTLCMD_EXIT_CONNECT = 3, /* socket missing, refused, no permission */
	CTLCMD_EXIT_PROTO = 4,   /* timeout, connection lost, bad message */
};

/* Which daemon answers; a mask. */
enum ctlcmd_daemon {
	CTLCMD_PROXY = 1u << 0,
	CTLCMD_MEDIAD = 1u << 1,
	CTLCMD_BOTH = CTLCMD_PROXY | CTLCMD_MEDIAD,
	CTLCMD_LOCAL = 0, /* answered by rampartctl itself (help) */
};

/* How a command's answer is shown without --json. */
enum ctlcmd_render {
	CTLCMD_RENDER_TABLE, /* columns, one row per item */
	CTLCMD_RENDER_KV,    /* "key  value" lines, nested keys joined by '.' */
	CTLCMD_RENDER_TEXT,  /* free text */
};

/* Settings from the command line. Strings are borrowed (argv). */
struct ctlcmd_opts {
	const char *socket;        /* --socket: one instance; NULL = none */
	const char *proxy_socket;  /* NULL: $RAMPART_PROXY_SOCKET or the default */
	const char *mediad_socket; /* NULL: $RAMPART_MEDIAD_SOCKET or the default */
	int timeout_ms;            /* per request; > 0 */
	bool json;
};

#define CTLCMD_PROXY_SOCKET "/run/rampart/proxy.sock"
#define CTLCMD_MEDIAD_SOCKET "/run/rampart/mediad.sock"
#define CTLCMD_DEFAULT_TIMEOUT_MS 5000

/* One invocation: options, connections, output. Opaque. */
typedef struct ctlcmd_run ctlcmd_run;
struct ctlcmd;

/* A handler gets the words after the command's name. It writes through
 * the run's output helpers and returns an enum ctlcmd_exit. */
typedef int (*ctlcmd_fn)(ctlcmd_run *r, const struct ctlcmd *cmd,
			 int argc, char **argv);

struct ctlcmd {
	const char *name;    /* words separated by one space */
	const char *args;    /* argument synopsis after the name ("" = none) */
	const char *help;    /* one line */
	const char *detail;  /* more lines for `help CMD`, or NULL */
	unsigned daemons;    /* enum ctlcmd_daemon mask */
	enum ctl_access access; /* READ: only looks; ADMIN: changes state */
	enum ctlcmd_render render;
	ctlcmd_fn fn;
	const char *remote;  /* control-protocol command, for ctlcmd_passthrough */
	int min_args;        /* positional words after the name */
	int max_args;        /* -1: any number */
};

/* The generic handler: sends cmd->remote with NAME=VALUE arguments
 * (a VALUE of decimal digits, optionally with a leading '-', is sent as an
 * integer, anything else as a string) to the one daemon in cmd->daemons
 * and renders the answer as key/value lines or JSON. */
int ctlcmd_passthrough(ctlcmd_run *r, const struct ctlcmd *cmd, int argc, char **argv);

/* The table (static storage) and its length. */
const struct ctlcmd *ctlcmd_table(size_t *n);

/* The entry whose name matches the most leading words of argv[0..argc)
 * (words are matched whole), or NULL. *nwords gets how many words it used. */
const struct ctlcmd *ctlcmd_find(int argc, char *const *argv, int *nwords);

/* Runs words argv[0..argc) (the command and its arguments, options already
 * removed) and prints to out/err. Returns an enum ctlcmd_exit. */
int ctlcmd_run_words(const struct ctlcmd_opts *o, int argc, char **argv,
		     FILE *out, FILE *err);

/* Help text generated from the table. */
void ctlcmd_print_usage(FILE *f);
/* 0, or CTLCMD_EXIT_USAGE when words name no command. */
int ctlcmd_print_cmd_help(FILE *f, int argc, char *const *argv);
/* The commands section of docs/rampartctl.md (Markdown). */
void ctlcmd_print_doc_table(FILE *f);

/* The read-only socket that goes with an admin socket: "X.sock" ->
 * "X-ro.sock" (the daemons' read-only socket should be named so: a
 * read-only command tries it first and falls back to the admin socket).
 * Returns 0, -EINVAL (no ".sock" suffix) or -ENAMETOOLONG. */
int ctlcmd_ro_path(const char *admin, char *out, size_t n);

/* "rampart-proxy", "rampart-mediad", "proxy, mediad", "rampartctl". */
const char *ctlcmd_daemons_name(unsigned daemons);

#endif
