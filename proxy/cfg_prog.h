/* cfg_prog: a loaded rampart-proxy configuration and its compiled routing
 * program.
 *
 * A struct cfg is built once (cfg_load_file / cfg_load_string: lex, parse,
 * check, compile) and is immutable afterwards, so any number of worker
 * threads may read it and evaluate its routes at the same time.
 *
 * Lifetime: reference counted. cfg_load_* returns one reference; cfg_get()
 * adds one, cfg_put() drops one and frees the config with the last. Every
 * pointer obtained from a config (settings, listen, trunk, user, strings)
 * is valid while the caller holds a reference.
 *
 * Reload: a struct cfg_holder publishes the current config. Workers take a
 * reference with cfg_holder_get() at the start of a transaction and drop it
 * when it ends; cfg_holder_swap() installs a new config atomically, and the
 * old one is freed only when its last transaction has dropped it.
 */
#ifndef CFG_PROG_H
#define CFG_PROG_H

#include "cfg_diag.h"
#include "rp_log.h"
#include "rp_str.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct cfg;

enum cfg_transport {
	CFG_TP_NONE = 0,
	CFG_TP_UDP,
	CFG_TP_TCP,
	CFG_TP_TLS,
};

/* Media encryption policy (DESIGN.md "Secure-media policy"). */
enum cfg_media_enc {
	CFG_MEDIA_UNSET = 0, /* not said: the trunk's or listener's default applies */
	CFG_MEDIA_DISABLE,
	CFG_MEDIA_ALLOW,
	CFG_MEDIA_REQUIRE,
};

enum cfg_srtp_suite {
	CFG_SRTP_AES_CM_128_HMAC_SHA1_80,
	CFG_SRTP_AES_CM_128_HMAC_SHA1_32,
	CFG_SRTP_AES_192_CM_HMAC_SHA1_80,
	CFG_SRTP_AES_192_CM_HMAC_SHA1_32,
	CFG_SRTP_AES_256_CM_HMAC_SHA1_80,
	CFG_SRTP_AES_256_CM_HMAC_SHA1_32,
	CFG_SRTP_AEAD_AES_128_GCM,
	CFG_SRTP_AEAD_AES_256_GCM,
	CFG_SRTP_NULL_HMAC_SHA1_80,
	CFG_SRTP_NULL_HMAC_SHA1_32,
	CFG_SRTP_COUNT,
};

enum cfg_tls_version {
	CFG_TLS_DEFAULT = 0, /* TLS 1.2 */
	CFG_TLS_1_2 = 12,
	CFG_TLS_1_3 = 13,
};

/* A certificate a TLS listener presents to clients that ask (SNI) for one
 * of its names: 'sni_cert "edge.example.net" "*.edge.example.net" {
 * cert = ...; key = ...; [chain = ...;] }'. */
struct cfg_sni_cert {
	const char *const *names; /* host names or "*.domain" */
	unsigned nnames;
	const char *cert, *key;
	const char *chain;        /* intermediates, appended to cert; NULL: none */
	uint32_t line;
};

/* TLS settings of a listener (server side) or a trunk (client side). Unset
 * strings are NULL. Listener and trunk values start as copies of the global
 * 'tls' block and override it key by key. */
struct cfg_tls {
	const char *cert;        /* PEM chain path; NULL when cert_auto */
	const char *key;         /* PEM private key path */
	bool cert_auto;          /* "cert = auto": generate a self-signed one */
	const char *ca_file;
	const char *ca_dir;
	const char *ciphers;     /* OpenSSL/wolfSSL cipher list */
	enum cfg_tls_version min_version;
	bool verify_client;      /* ask for and verify a client certificate */
	bool require_client_cert;/* refuse handshakes without one */
	bool verify_server;      /* trunks: verify the server (default yes) */
	const char *server_name; /* trunks: SNI to send; NULL = the host */
	const char *const *sni;  /* listeners: names the default cert serves */
	unsigned nsni;
	const struct cfg_sni_cert *sni_certs; /* listeners: certificates by SNI */
	unsigned n_sni_certs;
};

struct cfg_cidr {
	sa_family_t family; /* AF_INET or AF_INET6 */
	uint8_t prefix;
	uint8_t addr[16];   /* network order, host bits zero */
};

struct cfg_listen {
	enum cfg_transport transport;
	const char *addr;   /* IP literal, no brackets: "127.0.0.1", "::1" */
	sa_family_t family;
	uint16_t port;
	struct cfg_tls tls; /* meaningful for CFG_TP_TLS only */
	enum cfg_media_enc media; /* default policy for calls arriving here */
	uint32_t line;      /* where it was declared, for log messages */
};

struct cfg_hostport {
	const char *host;   /* name or IP literal, no brackets */
	uint16_t port;      /* 0: the transport's default */
};

struct cfg_trunk {
	const char *name;
	unsigned index;
	const struct cfg_hostport *addrs; /* failover order */
	unsigned naddrs;
	enum cfg_transport transport;
	const char *const *numbers;       /* prefixes; "*" alone = any */
	unsigned nnumbers;
	/* Inbound identification: a request is from this trunk if its source
	 * is in 'sources', or it carries valid digest credentials below, or a
	 * verified client certificate with this subject. */
	const struct cfg_cidr *sources;
	unsigned nsources;
	const char *auth_realm, *auth_user;
	const char *auth_ha1_md5;         /* 32 hex digits or NULL */
	const char *auth_ha1_sha256;      /* 64 hex digits or NULL */
	const char *cert_subject;
	/* Outbound credentials, to answer the trunk's 401/407. */
	const char *out_username;
	const char *out_password;         /* wiped when the config is freed */
	enum cfg_media_enc media;
	enum cfg_srtp_suite suites[CFG_SRTP_COUNT]; /* preference order */
	unsigned nsuites;
	bool allow_sdes_over_insecure;
	struct cfg_tls tls;
	/* The trunk block sets client TLS keys of its own (cert, key,
	 * ca_file, ca_dir, ciphers, min_version, verify_server): its outbound
	 * connections get a TLS context of their own built from 'tls'. */
	bool own_tls;
	/* OPTIONS probing of each address (docs/proxy.md "Trunk probing"):
	 * every probe_interval_s seconds (0 = not probed); an address is down
	 * after probe_down_after failures in a row, up again after
	 * probe_up_after successes in a row. */
	uint32_t probe_interval_s, probe_down_after, probe_up_after;
};

/* A registrar account. HA1 values as lowercase hex: MD5 (RFC 2617) and
 * SHA-256 (RFC 8760) of "user:realm:password"; either may be NULL. */
struct cfg_user {
	const char *name;
	const char *realm;
	const char *ha1_md5;
	const char *ha1_sha256;
};

/* Digest algorithms a challenge offers (auth_algorithms). */
enum {
	CFG_AUTH_ALG_SHA256 = 1 << 0,
	CFG_AUTH_ALG_MD5 = 1 << 1,
};

#define CFG_DNS_MAX_SERVERS 4

/* batch_wait_us when the file does not say: 2,000 us. On the idle 2-core
 * KVM guest (docs/bench-signaling.md Run 10) it cut the CPU per call at
 * 1,000 calls/s by ~19% over UDP and ~35-50% over TLS (waking an idle vCPU
 * is dear there); on the loaded box (Run 9) it was neutral. It adds up to
 * 2 ms per hop (p50 ~1.5-1.8 ms), and only while a worker's rate predicts
 * at least 4 messages within the wait: below that nothing changes. */
#define CFG_BATCH_WAIT_US_DEFAULT 2000u

struct cfg_settings {
	enum rp_log_level log_level;
	/* Rate-limited log lines (rp_log_rl): per call site, at most
	 * log_rate_burst (0 = no limit) per log_rate_interval_ms. */
	uint32_t log_rate_burst;
	uint32_t log_rate_interval_ms;
	/* Regex conditions: a longer subject does not match (cfg_regex). */
	uint32_t regex_max_subject;
	unsigned workers;            /* 0: one per CPU */
	const char *user_agent;      /* Server / User-Agent value */
	uint32_t max_message_size;
	const char *control_socket;  /* rampartctl socket of the proxy */
	uint32_t control_mode;       /* its permissions (0660) */
	const char *control_group;   /* its group (members: admin); NULL = ours */
	/* A second socket taking only read commands; NULL = none. */
	const char *control_socket_ro;
	uint32_t control_ro_mode;    /* 0660 */
	const char *control_ro_group;
	/* Prometheus endpoint "ADDR:PORT" (a bare PORT means 127.0.0.1);
	 * NULL = off. --metrics-listen overrides it. */
	const char *metrics_listen;
	const char *mediad_socket;   /* mediad's control socket */
	const char *realm;           /* default digest realm */
	const char *const *domains;  /* local domains (is_local()) */
	unsigned ndomains;
	uint32_t timer_t1_ms, timer_t2_ms, timer_t4_ms;
	uint32_t reg_min_expires, reg_max_expires, reg_default_expires;
	uint32_t tcp_idle_timeout;   /* seconds */
	/* RFC 5626 CRLF pings on connections we opened, seconds; 0 = off. */
	uint32_t tcp_keepalive_interval; /* 90 */
	/* lookup(): registered contacts a request forks to at most (1..16;
	 * 1 = the best contact only, no forking). */
	uint32_t max_branches;       /* 8 */
	unsigned auth_algorithms;    /* CFG_AUTH_ALG_* bits offered in challenges */
	/* A worker's wake-up coalescing wait (rp_workers_set_batch_wait);
	 * 0 = off. Applied on reload. */
	uint32_t batch_wait_us;      /* CFG_BATCH_WAIT_US_DEFAULT */
	/* udp_steering = hash: never concentrate UDP on worker 0
	 * (rp_workers_set_udp_steering); false = auto, the default. */
	bool udp_steering_hash;
	struct cfg_tls tls;          /* defaults for listeners and trunks */
	const char *users_file;      /* as written, resolved against the config dir */
	/* Call detail records (docs/cdr.md): NULL = none. */
	const char *cdr_file;
	uint32_t cdr_fsync_lines;    /* 0: 100 */
	uint32_t cdr_fsync_ms;       /* 0: 1000 */
	unsigned cdr_hash;           /* 0 none, 1 sha256, 2 hmac (enum rp_cdr_hash) */
	const char *cdr_secret_file; /* cdr_hash = hmac: 16..256 bytes */
	/* The run-time resolver (proxy/dns.h): numeric servers (none: those
	 * of /etc/resolv.conf) and their ports; per-attempt timeout, rounds;
	 * the cache's TTL clamp (seconds) and size. */
	const char *dns_servers[CFG_DNS_MAX_SERVERS];
	uint16_t dns_ports[CFG_DNS_MAX_SERVERS];
	unsigned ndns_servers;
	uint32_t dns_timeout_ms, dns_attempts;  /* 1000, 2 */
	uint32_t dns_min_ttl, dns_max_ttl;      /* 5, 3600 */
	uint32_t dns_cache_size;                /* 4096 */
};

enum cfg_route_kind {
	CFG_ROUTE_REQUEST, /* route request: every request enters here */
	CFG_ROUTE_REPLY,   /* route reply: every reply (optional) */
	CFG_ROUTE_FAILURE, /* route failure: a relayed request failed (optional) */
};

/* Limits of the loader. Files beyond CFG_MAX_FILE bytes are refused. */
#define CFG_MAX_FILE (8u << 20)
#define CFG_MAX_NESTING 64

/* Loads, checks and compiles a config file. Messages go to 'diag' (may be
 * NULL). Returns 0 and one reference in *out, or -EINVAL if the config has
 * errors (see diag), -ENOENT/-EACCES/... if the file cannot be read,
 * -EFBIG if too large, -ENOMEM. Warnings alone do not fail the load. */
int cfg_load_file(const char *path, struct cfg **out, struct cfg_diag *diag);

/* Same from memory; 'name' is the file name used in messages. Relative
 * paths in the text (users_file) resolve against the current directory. */
int cfg_load_string(const char *name, const char *text, size_t len,
	struct cfg **out, struct cfg_diag *diag);

/* Adds a reference; returns c. */
struct cfg *cfg_get(struct cfg *c);
/* Drops a reference (NULL-safe); frees with the last. Returns NULL so that
 * 'c = cfg_put(c)' leaves nothing dangling. */
struct cfg *cfg_put(struct cfg *c);
/* Frees a config whatever its count: only for the sole owner (tools, tests). */
void cfg_free(struct cfg *c);

const struct cfg_settings *cfg_settings(const struct cfg *c);
size_t cfg_listen_count(const struct cfg *c);
const struct cfg_listen *cfg_listen_at(const struct cfg *c, size_t i);
size_t cfg_trunk_count(const struct cfg *c);
const struct cfg_trunk *cfg_trunk_at(const struct cfg *c, size_t i);
const struct cfg_trunk *cfg_trunk_find(const struct cfg *c, rp_str name);
/* First trunk whose 'sources' contain the address (AF_INET/AF_INET6), or NULL. */
const struct cfg_trunk *cfg_trunk_by_source(const struct cfg *c, const struct sockaddr *sa);
/* First trunk whose 'numbers' match (longest prefix wins; "*" is the
 * shortest), or NULL. */
const struct cfg_trunk *cfg_trunk_by_number(const struct cfg *c, rp_str number);
/* True if one of the trunk's 'numbers' matches the number. */
bool cfg_trunk_has_number(const struct cfg_trunk *t, rp_str number);
size_t cfg_user_count(const struct cfg *c);
const struct cfg_user *cfg_user_at(const struct cfg *c, size_t i);
/* Case-sensitive user name, case-insensitive realm. */
const struct cfg_user *cfg_user_find(const struct cfg *c, rp_str name, rp_str realm);
bool cfg_has_route(const struct cfg *c, enum cfg_route_kind kind);
/* True if host is one of the local domains (case-insensitive). */
bool cfg_is_local_domain(const struct cfg *c, rp_str host);

bool cfg_cidr_contains(const struct cfg_cidr *n, const struct sockaddr *sa);
const char *cfg_transport_name(enum cfg_transport t);
const char *cfg_media_enc_name(enum cfg_media_enc m);
const char *cfg_srtp_suite_name(enum cfg_srtp_suite s);

/* The published config of a running proxy. */
struct cfg_holder {
	_Atomic(struct cfg *) cur;
	atomic_uint readers; /* threads between loading 'cur' and taking a ref */
};

/* Takes over the caller's reference to 'c' (may be NULL). */
void cfg_holder_init(struct cfg_holder *h, struct cfg *c);
/* A new reference to the current config (NULL if none); lock-free.
 * The caller cfg_put()s it when its transaction ends. */
struct cfg *cfg_holder_get(struct cfg_holder *h);
/* Publishes 'c' (takes over the caller's reference) and drops the holder's
 * reference to the previous config, which lives on while anybody holds it.
 * One swapper at a time (the proxy's control thread). */
void cfg_holder_swap(struct cfg_holder *h, struct cfg *c);
/* Drops the holder's reference. */
void cfg_holder_fini(struct cfg_holder *h);

#endif
