/* cfg_eval: runs a compiled route for one message.
 *
 * The evaluator does not know the SIP parser: the proxy describes the
 * message through struct cfg_ops (getters) and carries out the actions the
 * script takes through the same struct (action callbacks), synchronously,
 * in script order. Changes made by actions (a new Request-URI, a header
 * added) must be visible to later getters of the same evaluation.
 *
 * Cost: no heap allocation by the evaluator (a fixed context on the stack;
 * POSIX regexec may allocate internally), recursion bounded by the
 * compiled nesting and CFG_MAX_CALL_DEPTH, and at most
 * CFG_EVAL_MAX_STEPS statements + conditions per evaluation, so a script
 * cannot hang a worker.
 */
#ifndef CFG_EVAL_H
#define CFG_EVAL_H

#include "cfg_prog.h"
#include "rp_log.h"
#include "rp_str.h"

#include <sys/socket.h>

#define CFG_EVAL_MAX_STEPS 100000
/* Room for the text of one statement (interpolated strings, reply
 * headers); longer results fail the evaluation with -ENOSPC. */
#define CFG_EVAL_SCRATCH 8192

enum cfg_uri {
	CFG_URI_R,    /* Request-URI */
	CFG_URI_FROM, /* From header's URI */
	CFG_URI_TO,   /* To header's URI */
};

enum cfg_uri_part {
	CFG_UP_FULL,   /* the whole URI, "sip:alice@example.com:5060;transport=tls" */
	CFG_UP_SCHEME, /* "sip", "sips", "tel" */
	CFG_UP_USER,
	CFG_UP_HOST,   /* as written (IPv6 with brackets) */
	CFG_UP_PORT,   /* digits, empty when absent */
};

enum cfg_auth {
	CFG_AUTH_AUTO,  /* authenticate: 401 (WWW) for REGISTER, else 407 (Proxy) */
	CFG_AUTH_WWW,   /* www_challenge */
	CFG_AUTH_PROXY, /* proxy_challenge */
};

/* Filled by the proxy. 'm' is the proxy's per-message state. Getters return
 * 0 and set *out (a slice valid until the evaluation ends), or -ENOENT when
 * the thing is absent (it reads as ""). A NULL getter reads as absent.
 * Actions return 0 (or the documented positive values) or a negative errno,
 * which stops the evaluation and is returned by cfg_eval. A NULL action
 * makes the evaluation fail with -ENOTSUP when the script uses it. */
struct cfg_ops {
	/* ---- reading the message ---- */
	int (*method)(void *m, rp_str *out);
	int (*uri)(void *m, enum cfg_uri which, enum cfg_uri_part part, rp_str *out);
	int (*uri_param)(void *m, enum cfg_uri which, rp_str name, rp_str *out);
	/* idx-th value (0-based, in message order; comma-separated values
	 * count separately if the proxy splits them) of header 'name'
	 * (case-insensitive, compact forms the proxy's business). */
	int (*header)(void *m, rp_str name, unsigned idx, rp_str *out);
	/* Where the message came from (AF_INET / AF_INET6). */
	int (*source)(void *m, struct sockaddr_storage *out);
	enum cfg_transport (*transport)(void *m);
	/* Verified TLS peer certificate: subject DN, idx-th subjectAltName
	 * (DNS or URI). -ENOENT if not TLS or no verified certificate. */
	int (*tls_subject)(void *m, rp_str *out);
	int (*tls_san)(void *m, unsigned idx, rp_str *out);
	/* Reply routes: the status code; 0 for requests. */
	unsigned (*status)(void *m);

	/* ---- actions ---- */
	/* reply CODE "reason" ["Name: value" ...]; reason may be empty (use
	 * the standard phrase) */
	int (*reply)(void *m, unsigned code, rp_str reason, const rp_str *hdrs, unsigned nhdrs);
	/* relay [TRUNK]: trunk NULL = to the Request-URI. 'trunk' belongs to the
	 * config the evaluation runs on. */
	int (*relay)(void *m, const struct cfg_trunk *trunk);
	int (*set_uri)(void *m, enum cfg_uri_part part, rp_str value);
	/* value.p == NULL removes the parameter; value "" adds it bare (";lr") */
	int (*set_uri_param)(void *m, rp_str name, rp_str value);
	/* Appends a header; remove_header removes every header of that name. */
	int (*add_header)(void *m, rp_str name, rp_str value);
	int (*remove_header)(void *m, rp_str name);
	int (*record_route)(void *m);
	/* Returns 1 if the request carries valid credentials for 'realm'
	 * (empty = the configured realm), else sends the challenge and
	 * returns 0 (the route ends with CFG_EV_CHALLENGED). For
	 * WWW/PROXY kinds: always challenges. */
	int (*authenticate)(void *m, enum cfg_auth kind, rp_str realm);
	/* Stores the REGISTER's bindings and replies. */
	int (*save)(void *m);
	/* Location lookup of the Request-URI: 1 found (R-URI rewritten to the
	 * contact), 0 not found. */
	int (*lookup)(void *m);
	int (*set_media)(void *m, enum cfg_media_enc enc);
	/* NULL: rp_log() with the text. */
	void (*log)(void *m, enum rp_log_level level, rp_str text);
};

/* How the evaluation ended. */
enum cfg_verdict {
	CFG_EV_END,        /* fell off the end of the route, or 'exit' */
	CFG_EV_REPLIED,    /* 'reply' was called */
	CFG_EV_RELAYED,    /* 'relay' was called */
	CFG_EV_SAVED,      /* 'save' was called */
	CFG_EV_CHALLENGED, /* a challenge was sent */
	CFG_EV_DROPPED,    /* 'drop': discard silently */
};

/* Runs the entry route 'kind' of config 'c' for message 'm'. Returns a
 * verdict (>= 0) or a negative errno: -ENOENT (no such route), -ELOOP
 * (call depth), -ETIMEDOUT (step limit), -ENOSPC (text too long),
 * -ENOTSUP (missing callback), -EBADMSG (CR, LF or NUL in text bound for
 * a header, reason phrase, realm or URI), or an action's error.
 * Thread-safe for a shared 'c'. */
int cfg_eval(const struct cfg *c, enum cfg_route_kind kind, const struct cfg_ops *ops, void *m);

/* Same, and reports the number of steps taken (for tests and tuning). */
int cfg_eval_steps(const struct cfg *c, enum cfg_route_kind kind, const struct cfg_ops *ops,
	void *m, unsigned *steps);

const char *cfg_verdict_name(int v);

#endif
