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
#include <sys/socket.h>
#include <unistd.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/asn.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/random.h>

#include "rp_log.h"

/* Forward secrecy only; TLS 1.3 suites are always added. */
#define DEFAULT_CIPHERS \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:" \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:" \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:" \
	"DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384"
#define TLS13_CIPHERS \
	"TLS13-AES128-GCM-SHA256:TLS13-AES256-GCM-SHA384:TLS13-CHACHA20-POLY1305-SHA256"

struct sni_entry {
	char *host;
	WOLFSSL_CTX *ctx;
};

struct rp_tls_ctx {
	atomic_uint refs;
	enum rp_tls_role role;
	unsigned generation;
	bool allow_wildcards;
	WOLFSSL_CTX *ctx;
	struct sni_entry sni[RP_TLS_MAX_SNI];
	size_t n_sni;
};

struct rp_tls_store {
	pthread_mutex_t lock;
	enum rp_tls_role role;
	struct rp_tls_cfg cfg; /* strings below are heap copies */
	rp_tls_ctx *cur;
	unsigned generation;
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
	unsigned char *pre; /* SNI: ClientHello bytes read before wolfSSL */
	size_t pre_len, pre_off;
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
static bool self_test(const char *cert, const char *key)
{
	WOLFSSL_CTX *sctx = wolfSSL_CTX_new(wolfSSLv23_server_method());
	WOLFSSL_CTX *cctx = wolfSSL_CTX_new(wolfSSLv23_client_method());
	struct mem_pipe *p = calloc(2, sizeof(*p));
	struct mem_end se, ce;
	WOLFSSL *s = NULL, *c = NULL;
	bool sdone = false, cdone = false, ok = false;

	if (!sctx || !cctx || !p ||
	    wolfSSL_CTX_use_certificate_chain_file(sctx, cert) != WOLFSSL_SUCCESS ||
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

static WOLFSSL_CTX *make_ctx(enum rp_tls_role role, const struct rp_tls_cfg *cfg,
	const char *cert, const char *key, char *err, size_t errlen)
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
		rc = wolfSSL_CTX_use_certificate_chain_file(ctx, cert);
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
			     !self_test(cert, key))) {
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
	if (role == RP_TLS_CLIENT) {
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

static void ctx_free(rp_tls_ctx *c)
{
	for (size_t i = 0; i < c->n_sni; i++) {
		wolfSSL_CTX_free(c->sni[i].ctx);
		free(c->sni[i].host);
	}
	if (c->ctx)
		wolfSSL_CTX_free(c->ctx);
	free(c);
}

int rp_tls_ctx_new(enum rp_tls_role role, const struct rp_tls_cfg *cfg,
	rp_tls_ctx **out, char *err, size_t errlen)
{
	rp_tls_ctx *c = calloc(1, sizeof(*c));

	if (!c) {
		seterr(err, errlen, "out of memory");
		return -ENOMEM;
	}
	atomic_init(&c->refs, 1);
	c->role = role;
	c->allow_wildcards = cfg->allow_wildcards;
	c->ctx = make_ctx(role, cfg, cfg->cert_file, cfg->key_file, err, errlen);
	if (!c->ctx)
		goto fail;
	for (size_t i = 0; role == RP_TLS_SERVER && i < cfg->n_sni && i < RP_TLS_MAX_SNI; i++) {
		const struct rp_tls_sni_cert *sc = &cfg->sni[i];

		if (!sc->host || !sc->cert_file || !sc->key_file) {
			seterr(err, errlen, "SNI entry %zu incomplete", i);
			goto fail;
		}
		c->sni[i].ctx = make_ctx(role, cfg, sc->cert_file, sc->key_file,
			err, errlen);
		if (!c->sni[i].ctx)
			goto fail;
		c->sni[i].host = strdup(sc->host);
		c->n_sni = i + 1;
		if (!c->sni[i].host) {
			seterr(err, errlen, "out of memory");
			goto fail;
		}
	}
	*out = c;
	return 0;
fail:
	ctx_free(c);
	return -EINVAL;
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

/* ---- store: current context + reload ---- */

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

static void cfg_free_copy(struct rp_tls_cfg *c)
{
	free((char *)c->cert_file);
	free((char *)c->key_file);
	free((char *)c->ca_file);
	free((char *)c->ca_dir);
	free((char *)c->ciphers);
	free((char *)c->dh_file);
	for (size_t i = 0; i < c->n_sni; i++) {
		free((char *)c->sni[i].host);
		free((char *)c->sni[i].cert_file);
		free((char *)c->sni[i].key_file);
	}
	memset(c, 0, sizeof(*c));
}

int rp_tls_store_new(enum rp_tls_role role, const struct rp_tls_cfg *cfg,
	rp_tls_store **out, char *err, size_t errlen)
{
	rp_tls_store *s = calloc(1, sizeof(*s));
	bool oom = false;
	int rc;

	if (!s) {
		seterr(err, errlen, "out of memory");
		return -ENOMEM;
	}
	s->role = role;
	s->cfg = *cfg;
	s->cfg.cert_file = dup_opt(cfg->cert_file, &oom);
	s->cfg.key_file = dup_opt(cfg->key_file, &oom);
	s->cfg.ca_file = dup_opt(cfg->ca_file, &oom);
	s->cfg.ca_dir = dup_opt(cfg->ca_dir, &oom);
	s->cfg.ciphers = dup_opt(cfg->ciphers, &oom);
	s->cfg.dh_file = dup_opt(cfg->dh_file, &oom);
	s->cfg.n_sni = cfg->n_sni < RP_TLS_MAX_SNI ? cfg->n_sni : RP_TLS_MAX_SNI;
	for (size_t i = 0; i < s->cfg.n_sni; i++) {
		s->cfg.sni[i].host = dup_opt(cfg->sni[i].host, &oom);
		s->cfg.sni[i].cert_file = dup_opt(cfg->sni[i].cert_file, &oom);
		s->cfg.sni[i].key_file = dup_opt(cfg->sni[i].key_file, &oom);
	}
	if (oom) {
		seterr(err, errlen, "out of memory");
		rc = -ENOMEM;
		goto fail;
	}
	rc = rp_tls_ctx_new(role, &s->cfg, &s->cur, err, errlen);
	if (rc < 0)
		goto fail;
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
	old = s->cur;
	s->cur = fresh;
	pthread_mutex_unlock(&s->lock);
	/* Connections still holding 'old' keep it alive. */
	rp_tls_ctx_put(old);
	return 0;
}

void rp_tls_store_free(rp_tls_store *s)
{
	if (!s)
		return;
	rp_tls_ctx_put(s->cur);
	cfg_free_copy(&s->cfg);
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
	}
	if (c->role == RP_TLS_CLIENT && !peer_domain) {
		free(s);
		return -EINVAL; /* an unverified outbound connection is not offered */
	}
	s->fd = fd;
	s->ctx = rp_tls_ctx_get(c);
	s->state = (c->role == RP_TLS_SERVER && c->n_sni) ? S_PICK : S_HANDSHAKE;
	if (s->state == S_HANDSHAKE) {
		s->ssl = wolfSSL_new(c->ctx);
		if (!s->ssl || wolfSSL_set_fd(s->ssl, fd) != WOLFSSL_SUCCESS)
			goto fail;
		if (c->role == RP_TLS_CLIENT &&
		    wolfSSL_UseSNI(s->ssl, WOLFSSL_SNI_HOST_NAME, peer_domain,
			    (unsigned short)strlen(peer_domain)) != WOLFSSL_SUCCESS)
			goto fail;
	}
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

void rp_tls_sess_free(rp_tls_sess *s)
{
	if (!s)
		return;
	if (s->ssl)
		wolfSSL_free(s->ssl);
	free(s->pre);
	rp_tls_ctx_put(s->ctx);
	free(s->peer_domain);
	free(s);
}

/* wolfSSL's receive callback for SNI sessions: the bytes pick_by_sni()
 * already consumed come first, then the socket. */
static int sni_recv(WOLFSSL *ssl, char *buf, int sz, void *arg)
{
	rp_tls_sess *s = arg;
	ssize_t n;

	(void)ssl;
	if (s->pre_off < s->pre_len) {
		size_t k = s->pre_len - s->pre_off;

		if (k > (size_t)sz)
			k = (size_t)sz;
		memcpy(buf, s->pre + s->pre_off, k);
		s->pre_off += k;
		if (s->pre_off == s->pre_len) {
			free(s->pre);
			s->pre = NULL;
			s->pre_len = s->pre_off = 0;
		}
		return (int)k;
	}
	n = recv(s->fd, buf, (size_t)sz, 0);
	if (n > 0)
		return (int)n;
	if (n == 0)
		return WOLFSSL_CBIO_ERR_CONN_CLOSE;
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		return WOLFSSL_CBIO_ERR_WANT_READ;
	if (errno == EINTR)
		return WOLFSSL_CBIO_ERR_ISR;
	if (errno == ECONNRESET)
		return WOLFSSL_CBIO_ERR_CONN_RST;
	return WOLFSSL_CBIO_ERR_GENERAL;
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
	WOLFSSL_CTX *use = s->ctx->ctx;
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
		for (size_t i = 0; i < s->ctx->n_sni; i++)
			if (strcasecmp(s->ctx->sni[i].host, (char *)name) == 0)
				use = s->ctx->sni[i].ctx;
	}
	s->ssl = wolfSSL_new(use);
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

/* Checks the established server's identity; fills s->err on mismatch. */
static bool check_identity(rp_tls_sess *s)
{
	const char *dns[RP_TLS_MAX_SANS], *uris[RP_TLS_MAX_SANS], *cn = NULL;
	size_t nd = 0, nu = 0, off = 0;

	load_peer(s);
	if (!s->peer.present) {
		snprintf(s->err, sizeof(s->err), "peer sent no certificate");
		return false;
	}
	for (size_t i = 0; i < s->peer.n_sans; i++) {
		const char *e = s->peer.sans[i];

		if (!strncmp(e, "DNS:", 4))
			dns[nd++] = e + 4;
		else if (!strncmp(e, "URI:", 4))
			uris[nu++] = e + 4;
		else if (!strncmp(e, "CN:", 3))
			cn = e + 3;
	}
	if (rp_tls_name_match(s->peer_domain, dns, nd, uris, nu, cn,
		    s->ctx->allow_wildcards))
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

enum rp_tls_status rp_tls_handshake(rp_tls_sess *s)
{
	enum rp_tls_status st;
	int ret;

	if (s->state == S_OPEN)
		return RP_TLS_OK;
	if (s->state == S_FAILED)
		return RP_TLS_ERROR;
	if (s->state == S_PICK) {
		st = pick_by_sni(s);
		if (st != RP_TLS_OK) {
			if (st == RP_TLS_ERROR || st == RP_TLS_CLOSED)
				s->state = S_FAILED;
			return st;
		}
	}
	ret = s->ctx->role == RP_TLS_SERVER ? wolfSSL_accept(s->ssl)
					    : wolfSSL_connect(s->ssl);
	if (ret != WOLFSSL_SUCCESS) {
		st = classify(s, ret, "TLS handshake");
		if (st == RP_TLS_ERROR || st == RP_TLS_CLOSED)
			s->state = S_FAILED;
		return st;
	}
	if (s->ctx->role == RP_TLS_CLIENT && !check_identity(s)) {
		s->state = S_FAILED;
		return RP_TLS_ERROR;
	}
	s->state = S_OPEN;
	return RP_TLS_OK;
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
