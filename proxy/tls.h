/* tls: SIP over TLS with wolfSSL's native API.
 *
 * rp_tls_ctx wraps one configured WOLFSSL_CTX (TLS 1.2 + 1.3 only) plus
 * the extra contexts picked by SNI. It is reference counted: every session
 * holds a reference, so a reload can swap in a new context for new
 * connections while old connections finish on the old one.
 *
 * rp_tls_store holds "the current context" for a listener or for outbound
 * connections and performs reloads: new files are loaded and validated into
 * a new context first; only if that works is it swapped in.
 *
 * rp_tls_sess is one TLS connection over a non-blocking socket the caller
 * owns. Outbound (client) sessions verify the server's chain against the
 * CA bundle and its identity per RFC 5922 (SAN URI sip:domain or dNSName;
 * CN only when the certificate has neither; wildcards refused unless the
 * configuration allows them).
 *
 * Thread safety: a ctx may be used by sessions on many threads; a store's
 * acquire/reload are serialised by a mutex; a session belongs to one thread.
 */
#ifndef RP_TLS_H
#define RP_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "tlscert.h"

#define RP_TLS_MAX_SNI 16
#define RP_TLS_SNI_NAMES 8
#define RP_TLS_MAX_SANS 16

typedef struct rp_tls_reg rp_tls_reg;

/* Another certificate, served when the client's SNI host name is one of
 * 'names' ("edge.example.net", or "*.example.net" for any one label). */
struct rp_tls_sni_cert {
	const char *names[RP_TLS_SNI_NAMES];
	size_t n_names;
	const char *cert_file;
	const char *key_file;
	const char *chain_file; /* intermediates appended to cert_file; NULL: none */
};

/* File paths and options; strings are copied by rp_tls_store_new, read
 * only during the call by rp_tls_ctx_new. NULL = not set. */
struct rp_tls_cfg {
	const char *cert_file;  /* PEM chain, leaf first (server: required) */
	const char *key_file;   /* PEM key (server: required) */
	const char *chain_file; /* intermediates appended to cert_file */
	const char *ca_file;    /* CA bundle (client: required unless ca_dir) */
	const char *ca_dir;     /* hashed CA directory */
	const char *ciphers;    /* TLS 1.2 list, wolfSSL/OpenSSL names */
	const char *dh_file;    /* DHE params (PEM); must be >= 2048 bits */
	bool verify_client;     /* verify a client certificate if one is sent */
	bool require_client_cert; /* mutual TLS: refuse clients without one */
	bool tls13_only;        /* minimum TLS 1.3 instead of 1.2 */
	bool allow_wildcards;   /* client: accept *.example.com for a.example.com */
	/* client: do not verify the server at all (a trunk's verify_server =
	 * no): no chain check, no identity check, no CA needed. */
	bool no_verify;
	/* Names the default certificate must serve (config 'sni'); checked
	 * when a replacement is staged. */
	const char *names[RP_TLS_SNI_NAMES];
	size_t n_names;
	struct rp_tls_sni_cert sni[RP_TLS_MAX_SNI];
	size_t n_sni;
	/* Shown by tls.connections for sessions of this context ("tls:ADDR:PORT",
	 * "outbound"); NULL: "". */
	const char *label;
	/* Where sessions register and handshakes are counted (borrowed; must
	 * outlive every context built from this cfg). NULL: not tracked. */
	rp_tls_reg *reg;
};

enum rp_tls_role { RP_TLS_SERVER, RP_TLS_CLIENT };

typedef struct rp_tls_ctx rp_tls_ctx;
typedef struct rp_tls_store rp_tls_store;
typedef struct rp_tls_sess rp_tls_sess;

/* Initialises wolfSSL once per process; call before anything else. */
int rp_tls_global_init(void);
/* Also frees the calling thread's caches (see rp_tls_thread_cleanup). */
void rp_tls_global_fini(void);
/* Frees per-thread crypto caches (wolfSSL's fixed-point ECC cache is
 * thread-local); every thread that did TLS calls it before it exits. */
void rp_tls_thread_cleanup(void);

/* Builds a context from cfg (files are read now). On failure returns a
 * negative errno and writes a reason to err (may be NULL). The caller owns
 * the one reference in *out. */
int rp_tls_ctx_new(enum rp_tls_role role, const struct rp_tls_cfg *cfg,
	rp_tls_ctx **out, char *err, size_t errlen);
rp_tls_ctx *rp_tls_ctx_get(rp_tls_ctx *c);
/* Drops a reference; frees at zero. Returns NULL: c = rp_tls_ctx_put(c). */
rp_tls_ctx *rp_tls_ctx_put(rp_tls_ctx *c);
/* Generation number: increases with each successful reload of a store. */
unsigned rp_tls_ctx_generation(const rp_tls_ctx *c);

/* A store copies cfg and builds the first context (errors as above). */
int rp_tls_store_new(enum rp_tls_role role, const struct rp_tls_cfg *cfg,
	rp_tls_store **out, char *err, size_t errlen);
/* New reference to the current context (never NULL). */
rp_tls_ctx *rp_tls_store_acquire(rp_tls_store *s);
/* Re-reads the same files. On error the old context stays current and the
 * reason is in err. Reload, stage, commit and abort of one store are
 * called from one thread (the control thread); acquire from any. A
 * staged certificate is not touched by a reload. */
int rp_tls_store_reload(rp_tls_store *s, char *err, size_t errlen);
void rp_tls_store_free(rp_tls_store *s);

enum rp_tls_status {
	RP_TLS_OK = 0,
	RP_TLS_WANT_READ = 1,
	RP_TLS_WANT_WRITE = 2,
	RP_TLS_CLOSED = 3,  /* peer sent close_notify or closed the socket */
	RP_TLS_ERROR = -1,  /* fatal; rp_tls_sess_error() says why */
};

/* Starts a session on fd (non-blocking, caller keeps owning it). For a
 * client session 'peer_domain' is the SIP domain / host the certificate
 * must match (also sent as SNI); it is copied. Takes a ctx reference. */
int rp_tls_sess_new(rp_tls_ctx *c, int fd, const char *peer_domain,
	rp_tls_sess **out);
/* Frees the session and its ctx reference; does not close fd. */
void rp_tls_sess_free(rp_tls_sess *s);

/* Drives the handshake; RP_TLS_OK once it is complete and, for clients,
 * the peer's identity matched. */
enum rp_tls_status rp_tls_handshake(rp_tls_sess *s);
bool rp_tls_sess_established(const rp_tls_sess *s);
/* rp_tls_store_identity's id of the store whose context the session was
 * made from (0: a context built outside a store). */
uint64_t rp_tls_sess_store_id(const rp_tls_sess *s);
/* Client sessions: may a request whose server must prove 'domain' go over
 * this one? True when the context does not verify servers; when the
 * session was opened for that name (case-insensitive: its handshake checks
 * it, or did); or when it is established and the certificate it verified
 * also matches 'domain' (RFC 5922 7.2, the context's wildcard rule). False
 * for server sessions and failed handshakes. */
bool rp_tls_sess_covers(rp_tls_sess *s, const char *domain);
/* Reads/writes application data. Return bytes (> 0) or a status <= 0 in
 * *st (then the return value is 0). */
size_t rp_tls_read(rp_tls_sess *s, void *buf, size_t n, enum rp_tls_status *st);
size_t rp_tls_write(rp_tls_sess *s, const void *buf, size_t n,
	enum rp_tls_status *st);
/* Sends close_notify (best effort). */
void rp_tls_shutdown(rp_tls_sess *s);

/* Why the last call failed (e.g. "certificate name mismatch: wanted
 * sip.example.com, certificate has DNS:other.example.com"). */
const char *rp_tls_sess_error(const rp_tls_sess *s);
const char *rp_tls_sess_version(const rp_tls_sess *s);
const char *rp_tls_sess_cipher(const rp_tls_sess *s);
bool rp_tls_sess_resumed(const rp_tls_sess *s);
unsigned rp_tls_sess_generation(const rp_tls_sess *s);

/* Peer certificate, after the handshake. Strings live as long as s. */
struct rp_tls_peer {
	bool present;
	const char *subject;                /* "/C=../CN=.." */
	const char *sans[RP_TLS_MAX_SANS];  /* "DNS:x", "URI:sip:x", last "CN:x" */
	size_t n_sans;
};
const struct rp_tls_peer *rp_tls_sess_peer(rp_tls_sess *s);

/* ---- certificates in a context (tls.cert.show) ---- */

/* Slot 0 is the default certificate, 1.. the SNI certificates. Server
 * contexts only; a client context has none. */
size_t rp_tls_ctx_slots(const rp_tls_ctx *c);
/* The slot's names (SNI names; the configured 'sni' names for slot 0),
 * files and the certificate read when the context was built. */
struct rp_tls_slot_view {
	const char *const *names;
	size_t n_names;
	const char *cert_file, *key_file, *chain_file;
	const struct rp_tls_cert_info *info;
	const char *chain_check; /* what the chain was verified against */
};
int rp_tls_ctx_slot(const rp_tls_ctx *c, size_t i, struct rp_tls_slot_view *out);

/* ---- staging a certificate (tls.cert.stage / commit / abort) ---- */

/* Replacement for one slot of a store: the default certificate
 * (sni_name NULL) or the SNI certificate serving sni_name. */
struct rp_tls_stage_req {
	const char *cert_file;
	const char *key_file;
	const char *chain_file; /* may be NULL */
	const char *sni_name;   /* NULL: the default certificate */
};
/* Validates the files (chain parses and verifies against the store's
 * ca_file/ca_dir if any, key matches, inside its validity period, covers
 * the slot's names) and builds the complete context that commit will
 * publish; it replaces an earlier staged one. Nothing in use changes. On
 * error returns -errno with the reason in err, and the store (including
 * an earlier staged certificate) is unchanged. -ENOENT: no slot serves
 * sni_name. */
int rp_tls_store_stage(rp_tls_store *s, const struct rp_tls_stage_req *rq,
	char *err, size_t errlen);
/* The same in two steps, to stage on several stores all or nothing:
 * prepare validates and builds (nothing changes); set_staged installs it
 * (takes ownership). */
typedef struct rp_tls_staged rp_tls_staged;
int rp_tls_store_prepare(rp_tls_store *s, const struct rp_tls_stage_req *rq,
	rp_tls_staged **out, char *err, size_t errlen);
void rp_tls_store_set_staged(rp_tls_store *s, rp_tls_staged *st);
void rp_tls_staged_free(rp_tls_staged *st);
/* New reference to the staged context, or NULL when nothing is staged. */
rp_tls_ctx *rp_tls_store_acquire_staged(rp_tls_store *s);
/* Publishes the staged context for new connections (established ones keep
 * theirs) and makes its files the ones a reload re-reads. -ENOENT when
 * nothing is staged. */
int rp_tls_store_commit(rp_tls_store *s);
/* Drops the staged context; returns true if there was one. */
bool rp_tls_store_abort(rp_tls_store *s);
/* A whole new configuration for the store (a config reload changed its
 * files or options), in two steps so several stores change all or
 * nothing: prepare copies cfg (the store keeps its label and registry),
 * reads and validates every file and builds the context (nothing in use
 * changes; errors as rp_tls_ctx_new); apply publishes it for new
 * connections (established ones keep theirs), makes its files the ones a
 * reload re-reads, drops a staged certificate (it was checked against the
 * old settings) and takes ownership of st. Control thread. */
/* The settings of cfg as one string (label and registry left out), to see
 * whether a config reload changed them. malloc'd; NULL: out of memory. */
char *rp_tls_cfg_sig(const struct rp_tls_cfg *cfg);
int rp_tls_store_prepare_cfg(rp_tls_store *s, const struct rp_tls_cfg *cfg,
	rp_tls_staged **out, char *err, size_t errlen);
void rp_tls_store_apply_cfg(rp_tls_store *s, rp_tls_staged *st);
const char *rp_tls_store_label(const rp_tls_store *s);
/* What an outbound connection made from the store must match to carry a
 * later request (proxy/conn.h rp_conn_table_find_reusable): *id names the
 * store's settings, unique in the process (never reused, even for a store
 * at a freed one's address); it stays across a reload of the same files
 * and changes when rp_tls_store_apply_cfg gives the store other settings.
 * *verifies: a client store checks servers (verify_server is not off). */
void rp_tls_store_identity(rp_tls_store *s, uint64_t *id, bool *verifies);
/* Renames the store (rebuilding its context when the name changes), for a
 * listener whose port was only known once bound. Same thread rules as
 * reload. */
int rp_tls_store_set_label(rp_tls_store *s, const char *label, char *err, size_t errlen);

/* ---- live sessions and handshake counters ---- */

/* Why a handshake failed; names are the metric's reason label. */
enum rp_tls_fail {
	RP_TLS_FAIL_VERSION,      /* "protocol-version": below TLS 1.2 */
	RP_TLS_FAIL_NO_CERT,      /* "no-client-cert": mutual TLS, none sent */
	RP_TLS_FAIL_BAD_CERT,     /* "bad-certificate": untrusted or invalid chain */
	RP_TLS_FAIL_EXPIRED,      /* "expired-certificate": outside its dates */
	RP_TLS_FAIL_NAME,         /* "name-mismatch": outbound RFC 5922 check */
	RP_TLS_FAIL_CIPHER,       /* "no-shared-cipher" */
	RP_TLS_FAIL_ALERT,        /* "peer-alert": the peer sent a fatal alert */
	RP_TLS_FAIL_CLOSED,       /* "peer-closed": closed during the handshake */
	RP_TLS_FAIL_TIMEOUT,      /* "timeout": handshake_timeout ran out */
	RP_TLS_FAIL_OTHER,        /* "other": anything else (not TLS, ...) */
	RP_TLS_FAIL_COUNT,
};
const char *rp_tls_fail_name(enum rp_tls_fail f);

enum rp_tls_dir { RP_TLS_IN, RP_TLS_OUT };

struct rp_tls_counts {
	uint64_t handshakes[2];             /* finished, ok or failed, per rp_tls_dir */
	uint64_t failures[2][RP_TLS_FAIL_COUNT];
	uint64_t resumed[2];                /* ok handshakes that resumed a session */
};

/* A registry of live sessions plus counters, shared by every store of the
 * process (mutex on session start/end and on listing; counters atomic). */
int rp_tls_reg_new(rp_tls_reg **out);
/* Every session registered in it must be freed first. */
void rp_tls_reg_free(rp_tls_reg *r);
void rp_tls_reg_counts(rp_tls_reg *r, struct rp_tls_counts *out);

/* One session as tls.connections shows it; strings valid during the
 * callback only. */
struct rp_tls_conn_view {
	enum rp_tls_dir dir;
	const char *state;        /* "handshake", "established", "failed" */
	const char *peer, *local; /* "127.0.0.1:40000" ("" before known) */
	const char *label;        /* the listener ("tls:127.0.0.1:5061") or "outbound" */
	const char *version, *cipher; /* "" before the handshake */
	const char *sni;          /* inbound: what the client asked for; outbound: what we sent */
	const char *cert_subject; /* the certificate we presented (inbound) */
	const struct rp_tls_peer *peer_cert;
	bool resumed;
	unsigned generation;      /* of the context it started on */
	uint64_t age_ms, idle_ms;
};
/* Calls fn for at most 'max' sessions, newest first, under the registry
 * lock (fn must not call into tls). Returns how many exist in total. */
size_t rp_tls_reg_each(rp_tls_reg *r, size_t max,
	void (*fn)(const struct rp_tls_conn_view *v, void *arg), void *arg);

/* The owner closes a session whose handshake ran out of time: counted as
 * a "timeout" failure (nothing when the handshake had finished). */
void rp_tls_sess_note_timeout(rp_tls_sess *s);
/* True when reading now would only find an empty socket: the session's
 * last read of it was short (it held less than the read-ahead buffer), all
 * it read has been decrypted and handed out. A reader woken by a
 * level-triggered poll may stop there instead of making the read that says
 * WANT_READ; bytes that arrived since make the socket readable again. */
bool rp_tls_sess_drained(const rp_tls_sess *s);
/* A server session reads its socket ahead (sni_recv): records waiting in
 * that buffer wake no poll. While 'hold' is set, reads are served from the
 * buffer only (a read that needs the socket says RP_TLS_WANT_READ), so a
 * reader past its per-wake-up budget can finish what is buffered without
 * taking more from the socket. No effect on client sessions (no buffer). */
void rp_tls_sess_hold_socket(rp_tls_sess *s, bool hold);

/* RFC 5922 7.2 matching of one certificate against 'domain'; exposed for
 * tests. dns/uris: the certificate's SAN entries; cn used only when both
 * lists are empty. Returns true on a match. */
bool rp_tls_name_match(const char *domain, const char *const *dns, size_t n_dns,
	const char *const *uris, size_t n_uris, const char *cn, bool wildcards);

/* Writes a new ECDSA P-256 key and a self-signed certificate for 'cn'
 * (SAN DNS:cn) valid 'days' days, as PEM files (key mode 0600). */
int rp_tls_gen_selfsigned(const char *cert_path, const char *key_path,
	const char *cn, int days, char *err, size_t errlen);

#endif
