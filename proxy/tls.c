#include "tls.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/asn.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/random.h>

#include "rp_log.h"
#include "rp_time.h"

/* Forward secrecy only; TLS 1.3 suites are always added. */
#define DEFAULT_CIPHERS \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:" \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:" \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:" \
	"DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384"
#define TLS13_CIPHERS \
	"TLS13-AES128-GCM-SHA256:TLS13-AES256-GCM-SHA384:TLS13-CHACHA20-POLY1305-SHA256"

/* One certificate a server context can present: the default (slot 0) or
 * one picked by SNI. */
struct slot {
	WOLFSSL_CTX *ctx;
	char *names[RP_TLS_SNI_NAMES];
	size_t n_names;
	char *cert_file, *key_file, *chain_file;
	struct rp_tls_cert_info info;
	char chain_check[200];
};

struct rp_tls_ctx {
	atomic_uint refs;
	enum rp_tls_role role;
	unsigned generation;
	bool allow_wildcards;
	bool no_verify;         /* client: the server is not verified */
	uint64_t store_id;      /* the settings of the store it was made for; 0: none */
	char *label;
	rp_tls_reg *reg;
	struct slot *slots; /* [0]: default; client contexts have only [0] */
	size_t n_slots;
};

struct rp_tls_store {
	pthread_mutex_t lock;
	enum rp_tls_role role;
	struct rp_tls_cfg cfg; /* strings below are heap copies */
	rp_tls_ctx *cur;
	unsigned generation;
	uint64_t id;                  /* rp_tls_store_id(): new with new settings */
	rp_tls_ctx *staged;           /* NULL: nothing staged */
	struct rp_tls_cfg staged_cfg; /* the files 'staged' was built from */
};

struct rp_tls_reg {
	pthread_mutex_t lock;
	rp_tls_sess *head;
	size_t count;
	atomic_uint_fast64_t hs[2], fail[2][RP_TLS_FAIL_COUNT], resumed[2];
};

/* What tls.connections shows, filled by the owning thread under the
 * registry lock so the control thread can read it under the same lock. */
struct sess_view {
	bool ready;            /* handshake done: the fields below are set */
	bool failed;
	char peer[64], local[64];
	char version[16], cipher[64];
	char sni[256];
	bool resumed;
};

enum sess_state { S_PICK, S_HANDSHAKE, S_OPEN, S_FAILED };

struct rp_tls_sess {
	rp_tls_ctx *ctx;
	WOLFSSL *ssl;
	int fd;
	enum sess_state state;
	char *peer_domain;
	char err[320];
	struct rp_tls_peer peer;
	bool peer_loaded;
	char subject[WC_ASN_NAME_MAX + 1];
	char san_buf[1024];
	/* Server: the ClientHello bytes read before wolfSSL (SNI), then the
	 * read-ahead buffer (RP_TLS_HELLO_MAX bytes, see sni_recv). */
	unsigned char *pre;
	size_t pre_len, pre_off;
	bool drained;       /* the last recv (read-ahead) found the socket empty */
	bool hold;          /* serve the read-ahead buffer only (rp_tls_sess_hold_socket) */
	size_t slot;        /* the certificate presented (server) */
	char sni[256];      /* server: the name asked for; client: the one sent */
	int wolf_err;       /* wolfSSL's code for the last failure */
	bool attempted;     /* rp_tls_handshake ran at least once */
	bool counted;       /* the handshake's outcome is in the counters */
	/* Registry (ctx->reg) links and view, under the registry lock. */
	rp_tls_sess *next, *prev;
	bool registered;
	uint64_t created_ms;
	_Atomic uint64_t last_ms;
	struct sess_view view;
};

/* TLS record payloads are at most 16 KiB (+ the 5-byte header). */
#define RP_TLS_HELLO_MAX (16384 + 5)

int rp_tls_global_init(void)
{
	return wolfSSL_Init() == WOLFSSL_SUCCESS ? 0 : -EIO;
}

void rp_tls_thread_cleanup(void)
{
#ifdef FP_ECC
	wc_ecc_fp_free();
#endif
}

void rp_tls_global_fini(void)
{
	rp_tls_thread_cleanup();
	wolfSSL_Cleanup();
}

static void seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static const char *wolf_reason(int code, char *buf, size_t n)
{
	wolfSSL_ERR_error_string_n((unsigned long)code, buf, (unsigned long)n);
	return buf;
}

/* In-memory transport for self_test(): two one-way pipes. */
struct mem_pipe {
	unsigned char buf[16384];
	size_t len;
};
struct mem_end {
	struct mem_pipe *in, *out;
};

static int mem_recv(WOLFSSL *ssl, char *buf, int sz, void *arg)
{
	struct mem_end *e = arg;
	size_t n = e->in->len < (size_t)sz ? e->in->len : (size_t)sz;

	(void)ssl;
	if (n == 0)
		return WOLFSSL_CBIO_ERR_WANT_READ;
	memcpy(buf, e->in->buf, n);
	memmove(e->in->buf, e->in->buf + n, e->in->len - n);
	e->in->len -= n;
	return (int)n;
}

static int mem_send(WOLFSSL *ssl, char *buf, int sz, void *arg)
{
	struct mem_end *e = arg;
	size_t room = sizeof(e->out->buf) - e->out->len;
	size_t n = room < (size_t)sz ? room : (size_t)sz;

	(void)ssl;
	if (n == 0)
		return WOLFSSL_CBIO_ERR_WANT_WRITE;
	memcpy(e->out->buf + e->out->len, buf, n);
	e->out->len += n;
	return (int)n;
}

/* Proves the key belongs to the certificate and that the suites fit the
 * key type, by a handshake against ourselves in memory: the server must
 * sign with the key and the client checks the signature with the
 * certificate. Run before a new context replaces a working one. */
static bool self_test(const unsigned char *pem, size_t pem_len, const char *key)
{
	WOLFSSL_CTX *sctx = wolfSSL_CTX_new(wolfSSLv23_server_method());
	WOLFSSL_CTX *cctx = wolfSSL_CTX_new(wolfSSLv23_client_method());
	struct mem_pipe *p = calloc(2, sizeof(*p));
	struct mem_end se, ce;
	WOLFSSL *s = NULL, *c = NULL;
	bool sdone = false, cdone = false, ok = false;

	if (!sctx || !cctx || !p ||
	    wolfSSL_CTX_use_certificate_chain_buffer(sctx, pem, (long)pem_len) != WOLFSSL_SUCCESS ||
	    wolfSSL_CTX_use_PrivateKey_file(sctx, key, WOLFSSL_FILETYPE_PEM) != WOLFSSL_SUCCESS)
		goto out;
	se = (struct mem_end){ &p[0], &p[1] };
	ce = (struct mem_end){ &p[1], &p[0] };
	wolfSSL_CTX_set_verify(cctx, WOLFSSL_VERIFY_NONE, NULL);
	wolfSSL_SetIORecv(cctx, mem_recv);
	wolfSSL_SetIOSend(cctx, mem_send);
	s = wolfSSL_new(sctx);
	c = wolfSSL_new(cctx);
	if (!s || !c)
		goto out;
	/* The server keeps its context's socket callbacks; override per object. */
	wolfSSL_SSLSetIORecv(s, mem_recv);
	wolfSSL_SSLSetIOSend(s, mem_send);
	wolfSSL_SetIOReadCtx(s, &se);
	wolfSSL_SetIOWriteCtx(s, &se);
	wolfSSL_SetIOReadCtx(c, &ce);
	wolfSSL_SetIOWriteCtx(c, &ce);
	for (int i = 0; i < 50 && !(sdone && cdone); i++) {
		int r;

		if (!cdone) {
			r = wolfSSL_connect(c);
			if (r == WOLFSSL_SUCCESS)
				cdone = true;
			else if (wolfSSL_get_error(c, r) != WOLFSSL_ERROR_WANT_READ &&
				 wolfSSL_get_error(c, r) != WOLFSSL_ERROR_WANT_WRITE)
				goto out;
		}
		if (!sdone) {
			r = wolfSSL_accept(s);
			if (r == WOLFSSL_SUCCESS)
				sdone = true;
			else if (wolfSSL_get_error(s, r) != WOLFSSL_ERROR_WANT_READ &&
				 wolfSSL_get_error(s, r) != WOLFSSL_ERROR_WANT_WRITE)
				goto out;
		}
	}
	ok = sdone && cdone;
out:
	if (s)
		wolfSSL_free(s);
	if (c)
		wolfSSL_free(c);
	if (cctx)
		wolfSSL_CTX_free(cctx);
	if (sctx)
		wolfSSL_CTX_free(sctx);
	free(p);
	return ok;
}

/* cert: the file name for messages; pem: its contents (+ chain). */
static WOLFSSL_CTX *make_ctx(enum rp_tls_role role, const struct rp_tls_cfg *cfg,
	const char *cert, const unsigned char *pem, size_t pem_len, const char *key,
	char *err, size_t errlen)
{
	WOLFSSL_CTX *ctx;
	char ciphers[1024], why[96];
	int rc;

	ctx = wolfSSL_CTX_new(role == RP_TLS_SERVER ? wolfSSLv23_server_method()
						    : wolfSSLv23_client_method());
	if (!ctx) {
		seterr(err, errlen, "wolfSSL_CTX_new failed");
		return NULL;
	}
	/* TLS 1.0/1.1 are refused: the minimum is 1.2, the maximum 1.3. */
	if (wolfSSL_CTX_SetMinVersion(ctx, cfg->tls13_only ? WOLFSSL_TLSV1_3 :
		    WOLFSSL_TLSV1_2) != WOLFSSL_SUCCESS) {
		seterr(err, errlen, "cannot set the minimum TLS version");
		goto fail;
	}
	/* wolfSSL's server takes the first suite of the list that the client
	 * offers without looking at the version, so TLS 1.3 suites go first
	 * or a 1.3 client is refused. */
	if (cfg->ciphers &&
	    wolfSSL_CTX_set_cipher_list(ctx, cfg->ciphers) != WOLFSSL_SUCCESS) {
		seterr(err, errlen, "cipher list not accepted: %s", cfg->ciphers);
		goto fail;
	}
	if (cfg->ciphers && strstr(cfg->ciphers, "TLS13-"))
		snprintf(ciphers, sizeof(ciphers), "%s", cfg->ciphers);
	else
		snprintf(ciphers, sizeof(ciphers), "%s:%s", TLS13_CIPHERS,
			cfg->ciphers ? cfg->ciphers : DEFAULT_CIPHERS);
	if (wolfSSL_CTX_set_cipher_list(ctx, ciphers) != WOLFSSL_SUCCESS) {
		seterr(err, errlen, "cipher list not accepted: %s", ciphers);
		goto fail;
	}
	/* DHE only with at least 2048-bit groups. */
	(void)wolfSSL_CTX_SetMinDhKey_Sz(ctx, 2048);
	if (cfg->dh_file && role == RP_TLS_SERVER) {
		rc = wolfSSL_CTX_SetTmpDH_file(ctx, cfg->dh_file, WOLFSSL_FILETYPE_PEM);
		if (rc != WOLFSSL_SUCCESS) {
			seterr(err, errlen, "%s: DH parameters refused (need >= 2048 bits): %s",
				cfg->dh_file, wolf_reason(rc, why, sizeof(why)));
			goto fail;
		}
	}
	if (cert) {
		rc = wolfSSL_CTX_use_certificate_chain_buffer(ctx, pem, (long)pem_len);
		if (rc != WOLFSSL_SUCCESS) {
			seterr(err, errlen, "%s: cannot load certificate chain: %s",
				cert, wolf_reason(rc, why, sizeof(why)));
			goto fail;
		}
	}
	if (key) {
		rc = wolfSSL_CTX_use_PrivateKey_file(ctx, key, WOLFSSL_FILETYPE_PEM);
		if (rc != WOLFSSL_SUCCESS) {
			seterr(err, errlen, "%s: cannot load private key: %s",
				key, wolf_reason(rc, why, sizeof(why)));
			goto fail;
		}
		if (cert && (wolfSSL_CTX_check_private_key(ctx) != WOLFSSL_SUCCESS ||
			     !self_test(pem, pem_len, key))) {
			seterr(err, errlen, "%s does not match certificate %s", key, cert);
			goto fail;
		}
	}
	if (role == RP_TLS_SERVER && (!cert || !key)) {
		seterr(err, errlen, "a TLS server needs a certificate and a key");
		goto fail;
	}
	if (cfg->ca_file || cfg->ca_dir) {
		rc = wolfSSL_CTX_load_verify_locations(ctx, cfg->ca_file, cfg->ca_dir);
		if (rc != WOLFSSL_SUCCESS) {
			seterr(err, errlen, "cannot load CAs from %s%s%s: %s",
				cfg->ca_file ? cfg->ca_file : "",
				cfg->ca_file && cfg->ca_dir ? " and " : "",
				cfg->ca_dir ? cfg->ca_dir : "",
				wolf_reason(rc, why, sizeof(why)));
			goto fail;
		}
	}
	if (role == RP_TLS_CLIENT && cfg->no_verify) {
		wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_NONE, NULL);
	} else if (role == RP_TLS_CLIENT) {
		if (!cfg->ca_file && !cfg->ca_dir) {
			seterr(err, errlen, "outbound TLS needs a CA bundle to verify peers");
			goto fail;
		}
		wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_PEER, NULL);
	} else if (cfg->verify_client || cfg->require_client_cert) {
		if (!cfg->ca_file && !cfg->ca_dir) {
			seterr(err, errlen, "client certificate verification needs a CA bundle");
			goto fail;
		}
		wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_PEER |
			(cfg->require_client_cert ? WOLFSSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0),
			NULL);
	} else {
		wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_NONE, NULL);
	}
#ifdef HAVE_SESSION_TICKET
	if (role == RP_TLS_SERVER)
		(void)wolfSSL_CTX_UseSessionTicket(ctx);
#endif
	return ctx;
fail:
	wolfSSL_CTX_free(ctx);
	return NULL;
}

static void slot_clear(struct slot *sl)
{
	if (sl->ctx)
		wolfSSL_CTX_free(sl->ctx);
	for (size_t i = 0; i < sl->n_names; i++)
		free(sl->names[i]);
	free(sl->cert_file);
	free(sl->key_file);
	free(sl->chain_file);
	memset(sl, 0, sizeof(*sl));
}

static void ctx_free(rp_tls_ctx *c)
{
	for (size_t i = 0; i < c->n_slots; i++)
		slot_clear(&c->slots[i]);
	free(c->label);
	free(c);
}

static char *dup_opt(const char *s, bool *oom)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*oom = true;
	return d;
}

/* Loads one certificate slot: the files are read once, described, and the
 * WOLFSSL_CTX is built from the same bytes. 'strict' (a staged
 * replacement) also refuses a chain that does not verify, a certificate
 * outside its validity period and one that does not cover the names. */
static int slot_build(enum rp_tls_role role, const struct rp_tls_cfg *cfg,
	struct slot *sl, const char *cert, const char *key, const char *chain,
	const char *const *names, size_t n_names, bool strict, char *err, size_t errlen)
{
	unsigned char *pem = NULL;
	size_t pem_len = 0;
	bool oom = false;
	char why[256];
	int rc;

	memset(sl, 0, sizeof(*sl));
	if (cert) {
		rc = rp_tlscert_read_pem(cert, chain, &pem, &pem_len, err, errlen);
		if (rc < 0)
			return rc;
		rc = rp_tlscert_info(pem, pem_len, &sl->info, why, sizeof(why));
		if (rc < 0) {
			seterr(err, errlen, "%s: %s", cert, why);
			goto fail;
		}
		/* Dates first: an expired certificate is said so, not "chain
		 * does not verify". */
		if (strict) {
			rc = rp_tlscert_check_dates(&sl->info, (int64_t)time(NULL), why, sizeof(why));
			if (rc < 0) {
				seterr(err, errlen, "%s: %s", cert, why);
				goto fail;
			}
		}
		rc = rp_tlscert_verify_chain(pem, pem_len, cfg->ca_file, cfg->ca_dir,
			sl->chain_check, sizeof(sl->chain_check), why, sizeof(why));
		if (rc < 0) {
			if (strict) {
				seterr(err, errlen, "%s: %s", cert, why);
				goto fail;
			}
			snprintf(sl->chain_check, sizeof(sl->chain_check), "NOT verified: %.180s", why);
		}
		if (strict) {
			for (size_t i = 0; i < n_names; i++)
				if (!rp_tlscert_covers(&sl->info, names[i])) {
					seterr(err, errlen, "%s: does not cover the name '%s' it must serve (certificate has CN=%s%s%s)",
						cert, names[i], sl->info.cn,
						sl->info.n_sans ? ", " : "",
						sl->info.n_sans ? sl->info.sans[0] : "");
					rc = -EINVAL;
					goto fail;
				}
		}
	}
	sl->ctx = make_ctx(role, cfg, cert, pem, pem_len, key, err, errlen);
	if (!sl->ctx) {
		rc = -EINVAL;
		goto fail;
	}
	sl->cert_file = dup_opt(cert, &oom);
	sl->key_file = dup_opt(key, &oom);
	sl->chain_file = dup_opt(chain, &oom);
	for (size_t i = 0; i < n_names && i < RP_TLS_SNI_NAMES; i++) {
		sl->names[i] = dup_opt(names[i], &oom);
		sl->n_names = i + 1;
	}
	free(pem);
	if (oom) {
		slot_clear(sl);
		seterr(err, errlen, "out of memory");
		return -ENOMEM;
	}
	return 0;
fail:
	if (pem)
		explicit_bzero(pem, pem_len);
	free(pem);
	slot_clear(sl);
	return rc < 0 ? rc : -EINVAL;
}

/* Builds every slot of cfg; slot 'strict_slot' (or none: -1) strictly. */
static int ctx_build(enum rp_tls_role role, const struct rp_tls_cfg *cfg,
	long strict_slot, rp_tls_ctx **out, char *err, size_t errlen)
{
	size_t n = role == RP_TLS_SERVER ? 1 + cfg->n_sni : 1;
	rp_tls_ctx *c = calloc(1, sizeof(*c) + n * sizeof(struct slot));
	bool oom = false;
	int rc;

	if (!c) {
		seterr(err, errlen, "out of memory");
		return -ENOMEM;
	}
	atomic_init(&c->refs, 1);
	c->role = role;
	c->allow_wildcards = cfg->allow_wildcards;
	c->no_verify = cfg->no_verify;
	c->reg = cfg->reg;
	c->label = dup_opt(cfg->label ? cfg->label : "", &oom);
	c->slots = (struct slot *)(c + 1);
	if (oom) {
		seterr(err, errlen, "out of memory");
		rc = -ENOMEM;
		goto fail;
	}
	rc = slot_build(role, cfg, &c->slots[0], cfg->cert_file, cfg->key_file,
		cfg->chain_file, cfg->names, cfg->n_names, strict_slot == 0, err, errlen);
	if (rc < 0)
		goto fail;
	c->n_slots = 1;
	for (size_t i = 0; i + 1 < n; i++) {
		const struct rp_tls_sni_cert *sc = &cfg->sni[i];
		char why[320];

		if (!sc->n_names || !sc->cert_file || !sc->key_file) {
			seterr(err, errlen, "SNI certificate %zu: names, cert and key are needed", i + 1);
			rc = -EINVAL;
			goto fail;
		}
		rc = slot_build(role, cfg, &c->slots[i + 1], sc->cert_file, sc->key_file,
			sc->chain_file, sc->names, sc->n_names, strict_slot == (long)(i + 1),
			why, sizeof(why));
		if (rc < 0) {
			seterr(err, errlen, "SNI certificate for %s: %s", sc->names[0], why);
			goto fail;
		}
		c->n_slots = i + 2;
	}
	*out = c;
	return 0;
fail:
	ctx_free(c);
	return rc;
}

int rp_tls_ctx_new(enum rp_tls_role role, const struct rp_tls_cfg *cfg,
	rp_tls_ctx **out, char *err, size_t errlen)
{
	return ctx_build(role, cfg, -1, out, err, errlen);
}

size_t rp_tls_ctx_slots(const rp_tls_ctx *c)
{
	return c->role == RP_TLS_SERVER ? c->n_slots : 0;
}

int rp_tls_ctx_slot(const rp_tls_ctx *c, size_t i, struct rp_tls_slot_view *out)
{
	const struct slot *sl;

	if (i >= rp_tls_ctx_slots(c))
		return -ENOENT;
	sl = &c->slots[i];
	*out = (struct rp_tls_slot_view){ .names = (const char *const *)sl->names,
		.n_names = sl->n_names, .cert_file = sl->cert_file, .key_file = sl->key_file,
		.chain_file = sl->chain_file, .info = &sl->info, .chain_check = sl->chain_check };
	return 0;
}

rp_tls_ctx *rp_tls_ctx_get(rp_tls_ctx *c)
{
	atomic_fetch_add(&c->refs, 1);
	return c;
}

rp_tls_ctx *rp_tls_ctx_put(rp_tls_ctx *c)
{
	if (c && atomic_fetch_sub(&c->refs, 1) == 1)
		ctx_free(c);
	return NULL;
}

unsigned rp_tls_ctx_generation(const rp_tls_ctx *c)
{
	return c->generation;
}

/* ---- store: current context, reload, staging ---- */

/* Store ids are never reused (a freed store's address may be). */
static _Atomic uint64_t last_store_id;

static uint64_t new_store_id(void)
{
	return atomic_fetch_add(&last_store_id, 1) + 1;
}

static void cfg_free_copy(struct rp_tls_cfg *c)
{
	free((char *)c->cert_file);
	free((char *)c->key_file);
	free((char *)c->chain_file);
	free((char *)c->ca_file);
	free((char *)c->ca_dir);
	free((char *)c->ciphers);
	free((char *)c->dh_file);
	free((char *)c->label);
	for (size_t i = 0; i < c->n_names; i++)
		free((char *)c->names[i]);
	for (size_t i = 0; i < c->n_sni; i++) {
		for (size_t k = 0; k < c->sni[i].n_names; k++)
			free((char *)c->sni[i].names[k]);
		free((char *)c->sni[i].cert_file);
		free((char *)c->sni[i].key_file);
		free((char *)c->sni[i].chain_file);
	}
	memset(c, 0, sizeof(*c));
}

/* Deep copy of cfg into d; -ENOMEM leaves d empty. */
static int cfg_copy(struct rp_tls_cfg *d, const struct rp_tls_cfg *cfg)
{
	bool oom = false;

	*d = *cfg;
	d->cert_file = dup_opt(cfg->cert_file, &oom);
	d->key_file = dup_opt(cfg->key_file, &oom);
	d->chain_file = dup_opt(cfg->chain_file, &oom);
	d->ca_file = dup_opt(cfg->ca_file, &oom);
	d->ca_dir = dup_opt(cfg->ca_dir, &oom);
	d->ciphers = dup_opt(cfg->ciphers, &oom);
	d->dh_file = dup_opt(cfg->dh_file, &oom);
	d->label = dup_opt(cfg->label, &oom);
	d->n_names = cfg->n_names < RP_TLS_SNI_NAMES ? cfg->n_names : RP_TLS_SNI_NAMES;
	for (size_t i = 0; i < d->n_names; i++)
		d->names[i] = dup_opt(cfg->names[i], &oom);
	d->n_sni = cfg->n_sni < RP_TLS_MAX_SNI ? cfg->n_sni : RP_TLS_MAX_SNI;
	for (size_t i = 0; i < d->n_sni; i++) {
		struct rp_tls_sni_cert *sc = &d->sni[i];

		sc->n_names = cfg->sni[i].n_names < RP_TLS_SNI_NAMES ? cfg->sni[i].n_names :
			RP_TLS_SNI_NAMES;
		for (size_t k = 0; k < sc->n_names; k++)
			sc->names[k] = dup_opt(cfg->sni[i].names[k], &oom);
		sc->cert_file = dup_opt(cfg->sni[i].cert_file, &oom);
		sc->key_file = dup_opt(cfg->sni[i].key_file, &oom);
		sc->chain_file = dup_opt(cfg->sni[i].chain_file, &oom);
	}
	if (oom) {
		cfg_free_copy(d);
		return -ENOMEM;
	}
	return 0;
}

int rp_tls_store_new(enum rp_tls_role role, const struct rp_tls_cfg *cfg,
	rp_tls_store **out, char *err, size_t errlen)
{
	rp_tls_store *s = calloc(1, sizeof(*s));
	int rc;

	if (!s || cfg_copy(&s->cfg, cfg) < 0) {
		free(s);
		seterr(err, errlen, "out of memory");
		return -ENOMEM;
	}
	s->role = role;
	rc = rp_tls_ctx_new(role, &s->cfg, &s->cur, err, errlen);
	if (rc < 0)
		goto fail;
	s->id = new_store_id();
	s->cur->store_id = s->id;
	pthread_mutex_init(&s->lock, NULL);
	*out = s;
	return 0;
fail:
	cfg_free_copy(&s->cfg);
	free(s);
	return rc;
}

rp_tls_ctx *rp_tls_store_acquire(rp_tls_store *s)
{
	rp_tls_ctx *c;

	pthread_mutex_lock(&s->lock);
	c = rp_tls_ctx_get(s->cur);
	pthread_mutex_unlock(&s->lock);
	return c;
}

int rp_tls_store_reload(rp_tls_store *s, char *err, size_t errlen)
{
	rp_tls_ctx *fresh, *old;
	int rc;

	/* Build outside the lock: file I/O must not stall the workers. */
	rc = rp_tls_ctx_new(s->role, &s->cfg, &fresh, err, errlen);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&s->lock);
	fresh->generation = ++s->generation;
	/* The same files re-read (a renewed certificate or CA bundle): the
	 * same settings, so connections made before stay reusable. */
	fresh->store_id = s->id;
	old = s->cur;
	s->cur = fresh;
	pthread_mutex_unlock(&s->lock);
	/* Connections still holding 'old' keep it alive. */
	rp_tls_ctx_put(old);
	return 0;
}

int rp_tls_store_set_label(rp_tls_store *s, const char *label, char *err, size_t errlen)
{
	char *old = (char *)s->cfg.label;

	if (old && !strcmp(old, label))
		return 0;
	s->cfg.label = strdup(label);
	if (!s->cfg.label) {
		s->cfg.label = old;
		seterr(err, errlen, "out of memory");
		return -ENOMEM;
	}
	free(old);
	/* Contexts are immutable: the new name comes with a new one. */
	return rp_tls_store_reload(s, err, errlen);
}

void rp_tls_store_identity(rp_tls_store *s, uint64_t *id, bool *verifies)
{
	pthread_mutex_lock(&s->lock);
	*id = s->id;
	*verifies = !s->cur->no_verify;
	pthread_mutex_unlock(&s->lock);
}

const char *rp_tls_store_label(const rp_tls_store *s)
{
	return s->cfg.label ? s->cfg.label : "";
}

struct rp_tls_staged {
	rp_tls_ctx *ctx;
	struct rp_tls_cfg cfg;
};

void rp_tls_staged_free(rp_tls_staged *st)
{
	if (!st)
		return;
	rp_tls_ctx_put(st->ctx);
	cfg_free_copy(&st->cfg);
	free(st);
}

int rp_tls_store_prepare(rp_tls_store *s, const struct rp_tls_stage_req *rq,
	rp_tls_staged **out, char *err, size_t errlen)
{
	struct rp_tls_cfg nc;
	rp_tls_ctx *fresh = NULL;
	rp_tls_staged *st;
	long slot = -1;
	bool oom = false;
	int rc;

	if (s->role != RP_TLS_SERVER) {
		seterr(err, errlen, "outbound TLS has no certificate to replace");
		return -EINVAL;
	}
	if (!rq->cert_file || !rq->key_file) {
		seterr(err, errlen, "a certificate file and a key file are needed");
		return -EINVAL;
	}
	if (!rq->sni_name) {
		slot = 0;
	} else {
		for (size_t i = 0; i < s->cfg.n_sni && slot < 0; i++)
			for (size_t k = 0; k < s->cfg.sni[i].n_names; k++)
				if (strcasecmp(s->cfg.sni[i].names[k], rq->sni_name) == 0)
					slot = (long)i + 1;
		if (slot < 0) {
			seterr(err, errlen, "no sni_cert of %s serves '%s'",
				rp_tls_store_label(s), rq->sni_name);
			return -ENOENT;
		}
	}
	if (cfg_copy(&nc, &s->cfg) < 0) {
		seterr(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if (slot == 0) {
		free((char *)nc.cert_file);
		free((char *)nc.key_file);
		free((char *)nc.chain_file);
		nc.cert_file = dup_opt(rq->cert_file, &oom);
		nc.key_file = dup_opt(rq->key_file, &oom);
		nc.chain_file = dup_opt(rq->chain_file, &oom);
	} else {
		struct rp_tls_sni_cert *sc = &nc.sni[slot - 1];

		free((char *)sc->cert_file);
		free((char *)sc->key_file);
		free((char *)sc->chain_file);
		sc->cert_file = dup_opt(rq->cert_file, &oom);
		sc->key_file = dup_opt(rq->key_file, &oom);
		sc->chain_file = dup_opt(rq->chain_file, &oom);
	}
	if (oom) {
		cfg_free_copy(&nc);
		seterr(err, errlen, "out of memory");
		return -ENOMEM;
	}
	/* The whole context, as commit will publish it: the other slots are
	 * re-read too, so a commit cannot fail half way. */
	rc = ctx_build(s->role, &nc, slot, &fresh, err, errlen);
	if (rc < 0) {
		cfg_free_copy(&nc);
		return rc;
	}
	st = malloc(sizeof(*st));
	if (!st) {
		rp_tls_ctx_put(fresh);
		cfg_free_copy(&nc);
		seterr(err, errlen, "out of memory");
		return -ENOMEM;
	}
	st->ctx = fresh;
	st->cfg = nc;
	*out = st;
	return 0;
}

void rp_tls_store_set_staged(rp_tls_store *s, rp_tls_staged *st)
{
	rp_tls_ctx *old;
	struct rp_tls_cfg oldcfg;

	pthread_mutex_lock(&s->lock);
	old = s->staged;
	oldcfg = s->staged_cfg;
	s->staged = st->ctx;
	s->staged_cfg = st->cfg;
	pthread_mutex_unlock(&s->lock);
	free(st);
	rp_tls_ctx_put(old);
	cfg_free_copy(&oldcfg);
}

int rp_tls_store_stage(rp_tls_store *s, const struct rp_tls_stage_req *rq,
	char *err, size_t errlen)
{
	rp_tls_staged *st;
	int rc = rp_tls_store_prepare(s, rq, &st, err, errlen);

	if (rc == 0)
		rp_tls_store_set_staged(s, st);
	return rc;
}

rp_tls_ctx *rp_tls_store_acquire_staged(rp_tls_store *s)
{
	rp_tls_ctx *c;

	pthread_mutex_lock(&s->lock);
	c = s->staged ? rp_tls_ctx_get(s->staged) : NULL;
	pthread_mutex_unlock(&s->lock);
	return c;
}

int rp_tls_store_commit(rp_tls_store *s)
{
	rp_tls_ctx *old;
	struct rp_tls_cfg oldcfg;

	pthread_mutex_lock(&s->lock);
	if (!s->staged) {
		pthread_mutex_unlock(&s->lock);
		return -ENOENT;
	}
	s->staged->generation = ++s->generation;
	s->staged->store_id = s->id;
	old = s->cur;
	s->cur = s->staged;
	s->staged = NULL;
	oldcfg = s->cfg;
	s->cfg = s->staged_cfg;
	memset(&s->staged_cfg, 0, sizeof(s->staged_cfg));
	pthread_mutex_unlock(&s->lock);
	cfg_free_copy(&oldcfg);
	rp_tls_ctx_put(old);
	return 0;
}

bool rp_tls_store_abort(rp_tls_store *s)
{
	rp_tls_ctx *old;

	pthread_mutex_lock(&s->lock);
	old = s->staged;
	s->staged = NULL;
	cfg_free_copy(&s->staged_cfg);
	pthread_mutex_unlock(&s->lock);
	rp_tls_ctx_put(old);
	return old != NULL;
}

char *rp_tls_cfg_sig(const struct rp_tls_cfg *c)
{
	char *out = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&out, &n);

	if (!f)
		return NULL;
#define S(x) ((x) ? (x) : "")
	fprintf(f, "%s|%s|%s|%s|%s|%s|%s|%d%d%d%d%d%d|", S(c->cert_file), S(c->key_file),
		S(c->chain_file), S(c->ca_file), S(c->ca_dir), S(c->ciphers), S(c->dh_file),
		c->verify_client, c->require_client_cert, c->tls13_only, c->allow_wildcards,
		c->no_verify, (int)c->n_names);
	for (size_t i = 0; i < c->n_names; i++)
		fprintf(f, "%s,", S(c->names[i]));
	for (size_t i = 0; i < c->n_sni; i++) {
		fprintf(f, "|sni");
		for (size_t k = 0; k < c->sni[i].n_names; k++)
			fprintf(f, ",%s", S(c->sni[i].names[k]));
		fprintf(f, ":%s:%s:%s", S(c->sni[i].cert_file), S(c->sni[i].key_file),
			S(c->sni[i].chain_file));
	}
#undef S
	if (fclose(f) != 0) {
		free(out);
		return NULL;
	}
	return out;
}

int rp_tls_store_prepare_cfg(rp_tls_store *s, const struct rp_tls_cfg *cfg,
	rp_tls_staged **out, char *err, size_t errlen)
{
	struct rp_tls_cfg c = *cfg;
	rp_tls_staged *st;
	int rc;

	/* The store keeps its name (the bound port) and its registry. */
	c.label = s->cfg.label;
	c.reg = s->cfg.reg;
	st = calloc(1, sizeof(*st));
	if (!st || cfg_copy(&st->cfg, &c) < 0) {
		free(st);
		seterr(err, errlen, "out of memory");
		return -ENOMEM;
	}
	/* Built and checked as at start: nothing in use changes here. */
	rc = rp_tls_ctx_new(s->role, &st->cfg, &st->ctx, err, errlen);
	if (rc < 0) {
		cfg_free_copy(&st->cfg);
		free(st);
		return rc;
	}
	*out = st;
	return 0;
}

void rp_tls_store_apply_cfg(rp_tls_store *s, rp_tls_staged *st)
{
	rp_tls_ctx *old, *staged;
	struct rp_tls_cfg oldcfg, stcfg;

	pthread_mutex_lock(&s->lock);
	st->ctx->generation = ++s->generation;
	/* Other settings (CAs, client certificate, verify_server): an open
	 * connection made with the old ones must not carry new requests. */
	s->id = new_store_id();
	st->ctx->store_id = s->id;
	old = s->cur;
	s->cur = st->ctx;
	oldcfg = s->cfg;
	s->cfg = st->cfg;
	/* A staged certificate was checked against the old settings. */
	staged = s->staged;
	stcfg = s->staged_cfg;
	s->staged = NULL;
	memset(&s->staged_cfg, 0, sizeof(s->staged_cfg));
	pthread_mutex_unlock(&s->lock);
	free(st);
	cfg_free_copy(&oldcfg);
	cfg_free_copy(&stcfg);
	rp_tls_ctx_put(staged);
	/* Connections still holding 'old' keep it alive. */
	rp_tls_ctx_put(old);
}

void rp_tls_store_free(rp_tls_store *s)
{
	if (!s)
		return;
	rp_tls_ctx_put(s->cur);
	rp_tls_ctx_put(s->staged);
	cfg_free_copy(&s->cfg);
	cfg_free_copy(&s->staged_cfg);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* ---- identity (RFC 5922 7.2) ---- */

static bool dns_match(const char *pat, const char *domain, bool wildcards)
{
	const char *dot;

	if (strcasecmp(pat, domain) == 0)
		return true;
	if (!wildcards || strncmp(pat, "*.", 2) != 0)
		return false;
	/* '*' stands for exactly one whole leftmost label. */
	dot = strchr(domain, '.');
	if (!dot || dot == domain)
		return false;
	return strcasecmp(pat + 1, dot) == 0 && strchr(pat + 2, '.') != NULL;
}

bool rp_tls_name_match(const char *domain, const char *const *dns, size_t n_dns,
	const char *const *uris, size_t n_uris, const char *cn, bool wildcards)
{
	for (size_t i = 0; i < n_uris; i++) {
		const char *u = uris[i];

		/* Only a SIP URI with a bare host part names a SIP domain. */
		if (strncasecmp(u, "sip:", 4) == 0)
			u += 4;
		else if (strncasecmp(u, "sips:", 5) == 0)
			u += 5;
		else
			continue;
		if (!strpbrk(u, "@;:?") && strcasecmp(u, domain) == 0)
			return true;
	}
	for (size_t i = 0; i < n_dns; i++)
		if (dns_match(dns[i], domain, wildcards))
			return true;
	if (n_dns == 0 && n_uris == 0 && cn)
		return dns_match(cn, domain, wildcards);
	return false;
}

/* ---- sessions ---- */

static const char *const fail_names[RP_TLS_FAIL_COUNT] = {
	"protocol-version", "no-client-cert", "bad-certificate", "expired-certificate",
	"name-mismatch", "no-shared-cipher", "peer-alert", "peer-closed", "timeout", "other",
};

const char *rp_tls_fail_name(enum rp_tls_fail f)
{
	return (unsigned)f < RP_TLS_FAIL_COUNT ? fail_names[f] : "other";
}

int rp_tls_reg_new(rp_tls_reg **out)
{
	rp_tls_reg *r = calloc(1, sizeof(*r));

	if (!r)
		return -ENOMEM;
	pthread_mutex_init(&r->lock, NULL);
	*out = r;
	return 0;
}

void rp_tls_reg_free(rp_tls_reg *r)
{
	if (!r)
		return;
	pthread_mutex_destroy(&r->lock);
	free(r);
}

void rp_tls_reg_counts(rp_tls_reg *r, struct rp_tls_counts *o)
{
	for (int d = 0; d < 2; d++) {
		o->handshakes[d] = atomic_load_explicit(&r->hs[d], memory_order_relaxed);
		o->resumed[d] = atomic_load_explicit(&r->resumed[d], memory_order_relaxed);
		for (int i = 0; i < RP_TLS_FAIL_COUNT; i++)
			o->failures[d][i] = atomic_load_explicit(&r->fail[d][i],
				memory_order_relaxed);
	}
}

static enum rp_tls_dir sess_dir(const rp_tls_sess *s)
{
	return s->ctx->role == RP_TLS_SERVER ? RP_TLS_IN : RP_TLS_OUT;
}

static void sockname(int fd, bool peer, char *dst, size_t n)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[INET6_ADDRSTRLEN];
	unsigned port;

	dst[0] = 0;
	if ((peer ? getpeername(fd, (struct sockaddr *)&ss, &sl) :
		    getsockname(fd, (struct sockaddr *)&ss, &sl)) < 0)
		return;
	if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
		port = ntohs(a->sin_port);
		snprintf(dst, n, "%s:%u", host, port);
	} else if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
		port = ntohs(a->sin6_port);
		snprintf(dst, n, "[%s]:%u", host, port);
	}
}

static void reg_add(rp_tls_sess *s)
{
	rp_tls_reg *r = s->ctx->reg;

	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	s->prev = NULL;
	s->next = r->head;
	if (r->head)
		r->head->prev = s;
	r->head = s;
	r->count++;
	s->registered = true;
	pthread_mutex_unlock(&r->lock);
}

static void reg_del(rp_tls_sess *s)
{
	rp_tls_reg *r = s->ctx->reg;

	if (!r || !s->registered)
		return;
	pthread_mutex_lock(&r->lock);
	if (s->prev)
		s->prev->next = s->next;
	else
		r->head = s->next;
	if (s->next)
		s->next->prev = s->prev;
	r->count--;
	s->registered = false;
	pthread_mutex_unlock(&r->lock);
}

static void load_peer(rp_tls_sess *s);

/* The handshake's outcome, once: counters and the session's view. */
static void hs_done(rp_tls_sess *s, bool ok, enum rp_tls_fail why)
{
	rp_tls_reg *r = s->ctx->reg;
	enum rp_tls_dir d = sess_dir(s);
	struct sess_view v = { 0 };

	if (s->counted || !r)
		return;
	s->counted = true;
	atomic_fetch_add_explicit(&r->hs[d], 1, memory_order_relaxed);
	if (!ok) {
		atomic_fetch_add_explicit(&r->fail[d][why], 1, memory_order_relaxed);
		pthread_mutex_lock(&r->lock);
		s->view.failed = true;
		pthread_mutex_unlock(&r->lock);
		return;
	}
	v.ready = true;
	v.resumed = wolfSSL_session_reused(s->ssl) == 1;
	if (v.resumed)
		atomic_fetch_add_explicit(&r->resumed[d], 1, memory_order_relaxed);
	sockname(s->fd, true, v.peer, sizeof(v.peer));
	sockname(s->fd, false, v.local, sizeof(v.local));
	snprintf(v.version, sizeof(v.version), "%s", wolfSSL_get_version(s->ssl));
	snprintf(v.cipher, sizeof(v.cipher), "%s", rp_tls_sess_cipher(s));
	snprintf(v.sni, sizeof(v.sni), "%s", s->sni);
	/* The peer certificate is read now, on the owning thread, so the
	 * control thread only ever reads finished strings. */
	load_peer(s);
	pthread_mutex_lock(&r->lock);
	s->view = v;
	pthread_mutex_unlock(&r->lock);
}

size_t rp_tls_reg_each(rp_tls_reg *r, size_t max,
	void (*fn)(const struct rp_tls_conn_view *v, void *arg), void *arg)
{
	uint64_t now = rp_now_ms();
	size_t n, k = 0;

	pthread_mutex_lock(&r->lock);
	n = r->count;
	for (rp_tls_sess *s = r->head; s && k < max; s = s->next, k++) {
		const struct sess_view *sv = &s->view;
		uint64_t last = atomic_load_explicit(&s->last_ms, memory_order_relaxed);
		struct rp_tls_conn_view v = {
			.dir = sess_dir(s),
			.state = sv->ready ? "established" : sv->failed ? "failed" : "handshake",
			.peer = sv->peer, .local = sv->local, .label = s->ctx->label,
			.version = sv->version, .cipher = sv->cipher, .sni = sv->sni,
			.cert_subject = s->ctx->role == RP_TLS_SERVER && sv->ready ?
				s->ctx->slots[s->slot].info.subject : "",
			.peer_cert = sv->ready ? &s->peer : NULL,
			.resumed = sv->resumed, .generation = s->ctx->generation,
			.age_ms = now - s->created_ms,
			.idle_ms = now > last ? now - last : 0,
		};

		fn(&v, arg);
	}
	pthread_mutex_unlock(&r->lock);
	return n;
}

int rp_tls_sess_new(rp_tls_ctx *c, int fd, const char *peer_domain,
	rp_tls_sess **out)
{
	rp_tls_sess *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	if (peer_domain) {
		s->peer_domain = strdup(peer_domain);
		if (!s->peer_domain) {
			free(s);
			return -ENOMEM;
		}
		snprintf(s->sni, sizeof(s->sni), "%s", peer_domain);
	}
	if (c->role == RP_TLS_CLIENT && !peer_domain) {
		free(s);
		return -EINVAL; /* an unverified outbound connection is not offered */
	}
	s->fd = fd;
	s->ctx = rp_tls_ctx_get(c);
	s->created_ms = rp_now_ms();
	atomic_init(&s->last_ms, s->created_ms);
	/* A server always reads the ClientHello first: the SNI name picks the
	 * certificate and is shown by tls.connections. */
	s->state = c->role == RP_TLS_SERVER ? S_PICK : S_HANDSHAKE;
	if (s->state == S_HANDSHAKE) {
		s->ssl = wolfSSL_new(c->slots[0].ctx);
		if (!s->ssl || wolfSSL_set_fd(s->ssl, fd) != WOLFSSL_SUCCESS)
			goto fail;
		if (c->role == RP_TLS_CLIENT &&
		    wolfSSL_UseSNI(s->ssl, WOLFSSL_SNI_HOST_NAME, peer_domain,
			    (unsigned short)strlen(peer_domain)) != WOLFSSL_SUCCESS)
			goto fail;
	}
	if (c->role == RP_TLS_SERVER)
		sockname(fd, true, s->view.peer, sizeof(s->view.peer));
	reg_add(s);
	*out = s;
	return 0;
fail:
	if (s->ssl)
		wolfSSL_free(s->ssl);
	rp_tls_ctx_put(s->ctx);
	free(s->peer_domain);
	free(s);
	return -ENOMEM;
}

void rp_tls_sess_note_timeout(rp_tls_sess *s)
{
	if (s->state != S_PICK && s->state != S_HANDSHAKE)
		return;
	/* An outbound session that never got past connect() is a TCP
	 * failure, not a TLS one. */
	if (sess_dir(s) == RP_TLS_OUT && !s->attempted)
		return;
	snprintf(s->err, sizeof(s->err), "TLS handshake timeout");
	s->state = S_FAILED;
	hs_done(s, false, RP_TLS_FAIL_TIMEOUT);
}

void rp_tls_sess_free(rp_tls_sess *s)
{
	if (!s)
		return;
	reg_del(s);
	if (s->ssl)
		wolfSSL_free(s->ssl);
	free(s->pre);
	rp_tls_ctx_put(s->ctx);
	free(s->peer_domain);
	free(s);
}

/* wolfSSL's receive callback for server sessions: the ClientHello bytes
 * pick_by_sni() already consumed come first, then the socket, read ahead
 * into the same buffer. wolfSSL asks for a record's 5-byte header and then
 * for its body: one recv serves both (and the records behind them), where
 * reading the socket for each request took two syscalls a record. A short
 * read notes that the socket was empty then (rp_tls_sess_drained). */
static int sni_recv(WOLFSSL *ssl, char *buf, int sz, void *arg)
{
	rp_tls_sess *s = arg;
	ssize_t n = 1;

	(void)ssl;
	if (s->pre_off == s->pre_len && s->hold)
		return WOLFSSL_CBIO_ERR_WANT_READ;
	if (s->pre_off == s->pre_len) {
		if (!s->pre) {
			/* No read-ahead buffer (out of memory at the hello). */
			n = recv(s->fd, buf, (size_t)sz, 0);
			if (n > 0)
				return (int)n;
		} else {
			n = recv(s->fd, s->pre, RP_TLS_HELLO_MAX, 0);
			if (n > 0) {
				s->pre_len = (size_t)n;
				s->pre_off = 0;
				s->drained = (size_t)n < RP_TLS_HELLO_MAX;
			}
		}
	}
	if (n > 0) {
		size_t k = s->pre_len - s->pre_off;

		if (k > (size_t)sz)
			k = (size_t)sz;
		memcpy(buf, s->pre + s->pre_off, k);
		s->pre_off += k;
		return (int)k;
	}
	if (n == 0)
		return WOLFSSL_CBIO_ERR_CONN_CLOSE;
	if (errno == EAGAIN || errno == EWOULDBLOCK) {
		s->drained = true;
		return WOLFSSL_CBIO_ERR_WANT_READ;
	}
	if (errno == EINTR)
		return WOLFSSL_CBIO_ERR_ISR;
	if (errno == ECONNRESET)
		return WOLFSSL_CBIO_ERR_CONN_RST;
	return WOLFSSL_CBIO_ERR_GENERAL;
}

bool rp_tls_sess_drained(const rp_tls_sess *s)
{
	return s->pre && s->drained && s->pre_off == s->pre_len && s->state == S_OPEN &&
		wolfSSL_pending(s->ssl) == 0;
}

void rp_tls_sess_hold_socket(rp_tls_sess *s, bool hold)
{
	s->hold = hold;
}

/* The slot serving an SNI name: an exact name first, then a "*.domain"
 * name matching exactly one leftmost label; 0 (the default) otherwise. */
static size_t pick_slot(const rp_tls_ctx *c, const char *name)
{
	const char *dot = strchr(name, '.');

	for (size_t i = 1; i < c->n_slots; i++)
		for (size_t k = 0; k < c->slots[i].n_names; k++)
			if (strcasecmp(c->slots[i].names[k], name) == 0)
				return i;
	if (!dot || dot == name)
		return 0;
	for (size_t i = 1; i < c->n_slots; i++)
		for (size_t k = 0; k < c->slots[i].n_names; k++) {
			const char *n = c->slots[i].names[k];

			if (n[0] == '*' && n[1] == '.' && strcasecmp(n + 1, dot) == 0)
				return i;
		}
	return 0;
}

/* Reads the first TLS record (the ClientHello) to pick the certificate by
 * SNI before the WOLFSSL object exists: the native API cannot change an
 * object's context afterwards. The bytes are consumed, not peeked, so a
 * client that sends half a hello cannot make the worker spin on a
 * readable socket; sni_recv() hands them to wolfSSL afterwards. */
static enum rp_tls_status pick_by_sni(rp_tls_sess *s)
{
	unsigned char name[256];
	unsigned int nlen = sizeof(name) - 1;
	size_t use = 0;
	size_t want = 5;
	ssize_t n;

	if (!s->pre) {
		s->pre = malloc(RP_TLS_HELLO_MAX);
		if (!s->pre) {
			snprintf(s->err, sizeof(s->err), "out of memory");
			return RP_TLS_ERROR;
		}
	}
	for (;;) {
		if (s->pre_len >= 5) {
			want = 5 + ((size_t)s->pre[3] << 8 | s->pre[4]);
			if (s->pre[0] != 0x16 || want > RP_TLS_HELLO_MAX) {
				/* Not a handshake record: wolfSSL will say why. */
				want = s->pre_len;
			}
		}
		if (s->pre_len >= want)
			break;
		n = recv(s->fd, s->pre + s->pre_len, want - s->pre_len, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return (errno == EAGAIN || errno == EWOULDBLOCK) ? RP_TLS_WANT_READ :
				RP_TLS_ERROR;
		}
		if (n == 0) {
			snprintf(s->err, sizeof(s->err), "peer closed before its TLS hello");
			return RP_TLS_CLOSED;
		}
		s->pre_len += (size_t)n;
	}
	if (wolfSSL_SNI_GetFromBuffer(s->pre, (unsigned int)s->pre_len,
		    WOLFSSL_SNI_HOST_NAME, name, &nlen) == WOLFSSL_SUCCESS) {
		name[nlen] = 0;
		snprintf(s->sni, sizeof(s->sni), "%s", (char *)name);
		use = pick_slot(s->ctx, (char *)name);
	}
	s->slot = use;
	s->ssl = wolfSSL_new(s->ctx->slots[use].ctx);
	if (!s->ssl || wolfSSL_set_fd(s->ssl, s->fd) != WOLFSSL_SUCCESS) {
		snprintf(s->err, sizeof(s->err), "out of memory");
		return RP_TLS_ERROR;
	}
	wolfSSL_SSLSetIORecv(s->ssl, sni_recv);
	wolfSSL_SetIOReadCtx(s->ssl, s);
	s->state = S_HANDSHAKE;
	return RP_TLS_OK;
}

static void load_peer(rp_tls_sess *s)
{
	WOLFSSL_X509_CHAIN *chain;
	struct DecodedCert dc;
	const unsigned char *der;
	int len;
	size_t used = 0;

	if (s->peer_loaded)
		return;
	s->peer_loaded = true;
	chain = wolfSSL_get_peer_chain(s->ssl);
	if (!chain || wolfSSL_get_chain_count(chain) < 1)
		return;
	der = wolfSSL_get_chain_cert(chain, 0);
	len = wolfSSL_get_chain_length(chain, 0);
	if (!der || len <= 0)
		return;
	wc_InitDecodedCert(&dc, der, (word32)len, NULL);
	if (wc_ParseCert(&dc, CERT_TYPE, NO_VERIFY, NULL) == 0) {
		s->peer.present = true;
		snprintf(s->subject, sizeof(s->subject), "%s", dc.subject);
		s->peer.subject = s->subject;
		for (DNS_entry *e = dc.altNames; e && s->peer.n_sans < RP_TLS_MAX_SANS;
		     e = e->next) {
			const char *kind = e->type == ASN_DNS_TYPE ? "DNS:" :
				e->type == ASN_URI_TYPE ? "URI:" : NULL;
			int w;

			if (!kind || e->len < 0)
				continue;
			w = snprintf(s->san_buf + used, sizeof(s->san_buf) - used,
				"%s%.*s", kind, e->len, e->name);
			if (w < 0 || (size_t)w >= sizeof(s->san_buf) - used)
				break;
			s->peer.sans[s->peer.n_sans++] = s->san_buf + used;
			used += (size_t)w + 1;
		}
		/* CN is kept after the SANs for the RFC 5922 fallback. */
		if (dc.subjectCN && dc.subjectCNLen > 0 && used < sizeof(s->san_buf)) {
			int w = snprintf(s->san_buf + used, sizeof(s->san_buf) - used,
				"CN:%.*s", dc.subjectCNLen, dc.subjectCN);

			if (w > 0 && (size_t)w < sizeof(s->san_buf) - used &&
			    s->peer.n_sans < RP_TLS_MAX_SANS)
				s->peer.sans[s->peer.n_sans++] = s->san_buf + used;
		}
	}
	wc_FreeDecodedCert(&dc);
}

const struct rp_tls_peer *rp_tls_sess_peer(rp_tls_sess *s)
{
	if (s->ssl && s->state == S_OPEN)
		load_peer(s);
	return &s->peer;
}

/* Does the loaded peer certificate match 'domain' (RFC 5922 7.2, with the
 * context's wildcard rule)? *nd_out: its DNS SAN count (for messages). */
static bool peer_matches(const rp_tls_sess *s, const char *domain,
	const char **dns, size_t *nd_out)
{
	const char *uris[RP_TLS_MAX_SANS], *cn = NULL;
	size_t nd = 0, nu = 0;

	for (size_t i = 0; i < s->peer.n_sans; i++) {
		const char *e = s->peer.sans[i];

		if (!strncmp(e, "DNS:", 4))
			dns[nd++] = e + 4;
		else if (!strncmp(e, "URI:", 4))
			uris[nu++] = e + 4;
		else if (!strncmp(e, "CN:", 3))
			cn = e + 3;
	}
	*nd_out = nd;
	return rp_tls_name_match(domain, dns, nd, uris, nu, cn, s->ctx->allow_wildcards);
}

/* Checks the established server's identity; fills s->err on mismatch. */
static bool check_identity(rp_tls_sess *s)
{
	const char *dns[RP_TLS_MAX_SANS];
	size_t nd = 0, off = 0;

	load_peer(s);
	if (!s->peer.present) {
		snprintf(s->err, sizeof(s->err), "peer sent no certificate");
		return false;
	}
	if (peer_matches(s, s->peer_domain, dns, &nd))
		return true;
	off = (size_t)snprintf(s->err, sizeof(s->err),
		"certificate name mismatch: wanted %s, certificate has", s->peer_domain);
	for (size_t i = 0; i < s->peer.n_sans && off < sizeof(s->err); i++)
		off += (size_t)snprintf(s->err + off, sizeof(s->err) - off, " %s",
			s->peer.sans[i]);
	if (!s->ctx->allow_wildcards && off < sizeof(s->err))
		for (size_t i = 0; i < nd; i++)
			if (!strncmp(dns[i], "*.", 2)) {
				snprintf(s->err + off, sizeof(s->err) - off,
					" (wildcards not allowed)");
				break;
			}
	return false;
}

static enum rp_tls_status classify(rp_tls_sess *s, int ret, const char *what)
{
	int e = wolfSSL_get_error(s->ssl, ret);
	char why[96];

	s->wolf_err = e;
	switch (e) {
	case WOLFSSL_ERROR_WANT_READ:
		return RP_TLS_WANT_READ;
	case WOLFSSL_ERROR_WANT_WRITE:
		return RP_TLS_WANT_WRITE;
	case WOLFSSL_ERROR_ZERO_RETURN:
	case SOCKET_PEER_CLOSED_E:
		snprintf(s->err, sizeof(s->err), "%s: peer closed the connection", what);
		return RP_TLS_CLOSED;
	default:
		break;
	}
	if (e == NO_PEER_CERT)
		snprintf(s->err, sizeof(s->err), "%s: client sent no certificate (mutual TLS required)", what);
	else if (e == VERSION_ERROR)
		snprintf(s->err, sizeof(s->err), "%s: protocol version refused (TLS 1.2 or 1.3 required)", what);
	else if (e == ASN_NO_SIGNER_E || e == ASN_SELF_SIGNED_E)
		snprintf(s->err, sizeof(s->err), "%s: certificate chain not trusted (no CA in the bundle signed it): %s",
			what, wolf_reason(e, why, sizeof(why)));
	else if (e == ASN_AFTER_DATE_E || e == ASN_BEFORE_DATE_E)
		snprintf(s->err, sizeof(s->err), "%s: certificate outside its validity period: %s",
			what, wolf_reason(e, why, sizeof(why)));
	else
		snprintf(s->err, sizeof(s->err), "%s: %s (%d)", what,
			wolf_reason(e, why, sizeof(why)), e);
	return RP_TLS_ERROR;
}

static enum rp_tls_fail fail_reason(int e)
{
	switch (e) {
	case VERSION_ERROR:
		return RP_TLS_FAIL_VERSION;
	case NO_PEER_CERT:
		return RP_TLS_FAIL_NO_CERT;
	case ASN_AFTER_DATE_E:
	case ASN_BEFORE_DATE_E:
		return RP_TLS_FAIL_EXPIRED;
	case ASN_NO_SIGNER_E:
	case ASN_SELF_SIGNED_E:
	case ASN_SIG_CONFIRM_E:
	case ASN_PARSE_E:
	case VERIFY_CERT_ERROR:
	case BAD_CERT_MANAGER_ERROR:
		return RP_TLS_FAIL_BAD_CERT;
	case MATCH_SUITE_ERROR:
		return RP_TLS_FAIL_CIPHER;
	case FATAL_ERROR:
		return RP_TLS_FAIL_ALERT;
	case ZERO_RETURN:
	case SOCKET_PEER_CLOSED_E:
	case SOCKET_ERROR_E:
		return RP_TLS_FAIL_CLOSED;
	default:
		return RP_TLS_FAIL_OTHER;
	}
}

enum rp_tls_status rp_tls_handshake(rp_tls_sess *s)
{
	enum rp_tls_status st;
	int ret;

	if (s->state == S_OPEN)
		return RP_TLS_OK;
	if (s->state == S_FAILED)
		return RP_TLS_ERROR;
	s->attempted = true;
	if (s->state == S_PICK) {
		st = pick_by_sni(s);
		if (st != RP_TLS_OK) {
			if (st == RP_TLS_ERROR || st == RP_TLS_CLOSED) {
				s->state = S_FAILED;
				hs_done(s, false, st == RP_TLS_CLOSED ? RP_TLS_FAIL_CLOSED :
					RP_TLS_FAIL_OTHER);
			}
			return st;
		}
	}
	ret = s->ctx->role == RP_TLS_SERVER ? wolfSSL_accept(s->ssl)
					    : wolfSSL_connect(s->ssl);
	if (ret != WOLFSSL_SUCCESS) {
		st = classify(s, ret, "TLS handshake");
		if (st == RP_TLS_ERROR || st == RP_TLS_CLOSED) {
			s->state = S_FAILED;
			hs_done(s, false, st == RP_TLS_CLOSED ? RP_TLS_FAIL_CLOSED :
				fail_reason(s->wolf_err));
		}
		return st;
	}
	if (s->ctx->role == RP_TLS_CLIENT && !s->ctx->no_verify && !check_identity(s)) {
		s->state = S_FAILED;
		hs_done(s, false, RP_TLS_FAIL_NAME);
		return RP_TLS_ERROR;
	}
	s->state = S_OPEN;
	atomic_store_explicit(&s->last_ms, rp_now_ms(), memory_order_relaxed);
	hs_done(s, true, RP_TLS_FAIL_OTHER);
	return RP_TLS_OK;
}

uint64_t rp_tls_sess_store_id(const rp_tls_sess *s)
{
	return s->ctx->store_id;
}

bool rp_tls_sess_covers(rp_tls_sess *s, const char *domain)
{
	const char *dns[RP_TLS_MAX_SANS];
	size_t nd;

	if (s->ctx->role != RP_TLS_CLIENT || s->state == S_FAILED || !domain)
		return false;
	if (s->ctx->no_verify)
		return true;
	/* Opened for that name: the handshake checks it (or did). */
	if (s->peer_domain && strcasecmp(s->peer_domain, domain) == 0)
		return true;
	if (s->state != S_OPEN)
		return false;
	load_peer(s);
	return s->peer.present && peer_matches(s, domain, dns, &nd);
}

bool rp_tls_sess_established(const rp_tls_sess *s)
{
	return s->state == S_OPEN;
}

size_t rp_tls_read(rp_tls_sess *s, void *buf, size_t n, enum rp_tls_status *st)
{
	int ret;

	if (s->state != S_OPEN) {
		*st = RP_TLS_ERROR;
		return 0;
	}
	ret = wolfSSL_read(s->ssl, buf, n > INT32_MAX ? INT32_MAX : (int)n);
	if (ret > 0) {
		/* For 'idle' in tls.connections only; relaxed is enough. */
		atomic_store_explicit(&s->last_ms, rp_now_ms(), memory_order_relaxed);
		*st = RP_TLS_OK;
		return (size_t)ret;
	}
	*st = classify(s, ret, "TLS read");
	return 0;
}

size_t rp_tls_write(rp_tls_sess *s, const void *buf, size_t n,
	enum rp_tls_status *st)
{
	int ret;

	if (s->state != S_OPEN) {
		*st = RP_TLS_ERROR;
		return 0;
	}
	ret = wolfSSL_write(s->ssl, buf, n > INT32_MAX ? INT32_MAX : (int)n);
	if (ret > 0) {
		atomic_store_explicit(&s->last_ms, rp_now_ms(), memory_order_relaxed);
		*st = RP_TLS_OK;
		return (size_t)ret;
	}
	*st = classify(s, ret, "TLS write");
	return 0;
}

void rp_tls_shutdown(rp_tls_sess *s)
{
	if (s->ssl && s->state == S_OPEN)
		(void)wolfSSL_shutdown(s->ssl);
}

const char *rp_tls_sess_error(const rp_tls_sess *s)
{
	return s->err[0] ? s->err : "no error";
}

const char *rp_tls_sess_version(const rp_tls_sess *s)
{
	return s->ssl ? wolfSSL_get_version(s->ssl) : "none";
}

const char *rp_tls_sess_cipher(const rp_tls_sess *s)
{
	const char *c = s->ssl ? wolfSSL_get_cipher_name(s->ssl) : NULL;

	return c ? c : "none";
}

bool rp_tls_sess_resumed(const rp_tls_sess *s)
{
	return s->ssl && wolfSSL_session_reused(s->ssl) == 1;
}

unsigned rp_tls_sess_generation(const rp_tls_sess *s)
{
	return s->ctx->generation;
}

/* ---- self-signed certificate for the embedded default ---- */

static int write_file(const char *path, const unsigned char *p, size_t n, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	size_t done = 0;
	int rc = 0;

	if (fd < 0)
		return -errno;
	while (done < n) {
		ssize_t w = write(fd, p + done, n - done);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			break;
		}
		done += (size_t)w;
	}
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	return rc;
}

int rp_tls_gen_selfsigned(const char *cert_path, const char *key_path,
	const char *cn, int days, char *err, size_t errlen)
{
#if defined(WOLFSSL_CERT_GEN) && defined(WOLFSSL_KEY_GEN) && defined(HAVE_ECC)
	WC_RNG rng;
	ecc_key key;
	Cert cert;
	unsigned char der[2048], pem[4096], kder[256], kpem[1024];
	size_t cnl = strlen(cn);
	int rc = -EIO, len, plen, klen, kplen;

	if (cnl == 0 || cnl >= CTC_NAME_SIZE || cnl > 120) {
		seterr(err, errlen, "bad common name");
		return -EINVAL;
	}
	if (wc_InitRng(&rng) != 0) {
		seterr(err, errlen, "RNG init failed");
		return -EIO;
	}
	if (wc_ecc_init(&key) != 0) {
		wc_FreeRng(&rng);
		seterr(err, errlen, "ECC init failed");
		return -EIO;
	}
	if (wc_ecc_make_key(&rng, 32, &key) != 0) {
		seterr(err, errlen, "P-256 key generation failed");
		goto out;
	}
	wc_InitCert(&cert);
	memcpy(cert.subject.commonName, cn, cnl + 1);
	snprintf(cert.subject.org, sizeof(cert.subject.org), "Rampart self-signed");
	cert.sigType = CTC_SHA256wECDSA;
	cert.daysValid = days;
	cert.isCA = 0;
	/* SAN: SEQUENCE { [2] dNSName } */
	cert.altNames[0] = 0x30;
	cert.altNames[1] = (unsigned char)(cnl + 2);
	cert.altNames[2] = 0x82;
	cert.altNames[3] = (unsigned char)cnl;
	memcpy(cert.altNames + 4, cn, cnl);
	cert.altNamesSz = (int)cnl + 4;
	len = wc_MakeCert_ex(&cert, der, sizeof(der), ECC_TYPE, &key, &rng);
	if (len < 0) {
		seterr(err, errlen, "certificate build failed (%d)", len);
		goto out;
	}
	len = wc_SignCert_ex(cert.bodySz, cert.sigType, der, sizeof(der), ECC_TYPE,
		&key, &rng);
	if (len < 0) {
		seterr(err, errlen, "certificate signing failed (%d)", len);
		goto out;
	}
	plen = wc_DerToPem(der, (word32)len, pem, sizeof(pem), CERT_TYPE);
	klen = wc_EccKeyToDer(&key, kder, sizeof(kder));
	kplen = klen > 0 ? wc_DerToPem(kder, (word32)klen, kpem, sizeof(kpem),
		ECC_PRIVATEKEY_TYPE) : -1;
	if (plen <= 0 || kplen <= 0) {
		seterr(err, errlen, "PEM encoding failed");
		goto wipe;
	}
	rc = write_file(key_path, kpem, (size_t)kplen, 0600);
	if (rc == 0)
		rc = write_file(cert_path, pem, (size_t)plen, 0644);
	if (rc < 0)
		seterr(err, errlen, "cannot write %s / %s: %s", key_path, cert_path,
			strerror(-rc));
wipe:
	explicit_bzero(kder, sizeof(kder));
	explicit_bzero(kpem, sizeof(kpem));
out:
	wc_ecc_free(&key);
	wc_FreeRng(&rng);
	return rc;
#else
	seterr(err, errlen, "this wolfSSL build cannot generate certificates");
	return -ENOTSUP;
#endif
}
