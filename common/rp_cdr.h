/* rp_cdr: the call detail record (CDR) audit trail writer.
 *
 * One JSON object per finished call, one line each, appended to a file
 * opened O_APPEND (docs/cdr.md lists every field). Each line goes out in one
 * write(2) under a mutex, so lines from several threads never interleave.
 *
 * Durability: the file is fsync'd after every fsync_lines lines or when
 * fsync_ms have passed since the last fsync with lines pending, whichever
 * comes first; rp_cdr_tick() (call it from a periodic timer) applies the
 * time bound when no new call ends. rp_cdr_close() always fsyncs.
 *
 * Log rotation: logrotate renames the file, then signals the daemon
 * (SIGHUP). The signal handler calls rp_cdr_request_reopen() (async-signal-
 * safe: it only sets a flag); the next write or tick fsyncs the old file and
 * opens a new one at the configured path. rp_cdr_reopen() does it at once
 * from normal (non-signal) context. If the new file cannot be opened, lines
 * keep going to the old one and the error is returned (nothing is lost).
 *
 * Privacy: from/to can be written as hashes, "sha256:<hex>" or, with a
 * secret, "hmac-sha256:<hex>" (OpenSSL libcrypto). Plain SHA-256 of a phone
 * number is easy to brute-force; use HMAC with a secret kept out of the CDR
 * readers' reach when the goal is pseudonymity.
 *
 * Thread-safe. Ownership: the writer copies cfg (path and secret); the
 * secret is wiped before it is freed.
 */
#ifndef RP_CDR_H
#define RP_CDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rp_str.h"

typedef struct rp_cdr rp_cdr;

enum rp_cdr_hash {
	RP_CDR_HASH_NONE = 0,  /* from/to as given */
	RP_CDR_HASH_SHA256,    /* "sha256:<64 hex>" */
	RP_CDR_HASH_HMAC,      /* "hmac-sha256:<64 hex>", needs a secret */
};

typedef struct rp_cdr_cfg {
	const char *path;        /* file to append to (created 0640) */
	unsigned fsync_lines;    /* 0 = 100; 1 = fsync every line */
	unsigned fsync_ms;       /* 0 = 1000 */
	enum rp_cdr_hash hash;
	const uint8_t *secret;   /* RP_CDR_HASH_HMAC: 16..256 bytes */
	size_t secret_len;
} rp_cdr_cfg;

#define RP_CDR_MAX_LEGS 4

/* One signaling + media leg (caller side, callee side, ...). Empty slices
 * are written as null. */
typedef struct rp_cdr_leg {
	rp_str role;          /* "caller", "callee" */
	rp_str peer;          /* "203.0.113.5:5061" */
	rp_str transport;     /* "udp", "tcp", "tls", "ws", "wss" */
	rp_str tls_version;   /* "TLSv1.3" */
	rp_str tls_cipher;    /* "TLS_AES_128_GCM_SHA256" */
	rp_str peer_cert_subject;
	rp_str media;         /* SRTP suite "AES_CM_128_HMAC_SHA1_80", or "plain" */
	uint64_t packets_in, packets_out, packets_lost;
	uint64_t bytes_in, bytes_out;
	uint64_t malformed;   /* packets dropped for an inconsistent RTP/RTCP header */
} rp_cdr_leg;

/* What the proxy fills when a call ends. Times are rp_realtime_ns() values;
 * answer_ns 0 = never answered. */
typedef struct rp_cdr_call {
	rp_str call_id;
	uint64_t start_ns, answer_ns, end_ns;
	rp_str trunk;
	rp_str from, to;       /* hashed per cfg.hash */
	unsigned nlegs;        /* <= RP_CDR_MAX_LEGS */
	rp_cdr_leg legs[RP_CDR_MAX_LEGS];
	uint32_t auth_failures;
	int final_code;        /* SIP final response code, 0 = none */
	rp_str end_reason;     /* "caller-bye", "callee-bye", "cancel", "rejected",
	                        * "timeout", "policy", "error" */
} rp_cdr_call;

typedef struct rp_cdr_stats {
	uint64_t lines;
	uint64_t fsyncs;
	uint64_t reopens;
	uint64_t errors;       /* failed writes/fsyncs/reopens */
} rp_cdr_stats;

/* Opens (creates) the file. -EINVAL bad cfg, negative errno from open(2).
 * Free with rp_cdr_close(). */
int rp_cdr_open(const rp_cdr_cfg *cfg, rp_cdr **out);
/* fsyncs, closes, wipes the secret, frees. NULL is a no-op. */
void rp_cdr_close(rp_cdr *c);

/* Appends one line. -EINVAL bad record (nlegs), -EMSGSIZE over 64 KiB,
 * negative errno from write(2)/fsync(2). */
int rp_cdr_write(rp_cdr *c, const rp_cdr_call *call);
/* Applies the time bound (and a pending reopen) without a new line. */
int rp_cdr_tick(rp_cdr *c);
/* fsync now if anything is pending. */
int rp_cdr_flush(rp_cdr *c);

/* Async-signal-safe: asks for a reopen at the next write or tick. */
void rp_cdr_request_reopen(rp_cdr *c);
/* Reopens now (not from a signal handler). */
int rp_cdr_reopen(rp_cdr *c);

void rp_cdr_get_stats(rp_cdr *c, rp_cdr_stats *out);

/* Writes the hashed form of v per the writer's cfg into dst (NUL-terminated;
 * at least 80 bytes). Returns the length or a negative errno. For tests and
 * for operators who need to look up a number in hashed CDRs. */
int rp_cdr_hash_value(rp_cdr *c, rp_str v, char *dst, size_t dstsz);

/* Test hook: replaces the monotonic millisecond clock used for fsync_ms. */
void rp_cdr_set_clock(rp_cdr *c, uint64_t (*now_ms)(void *), void *arg);

#endif
