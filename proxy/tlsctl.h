/* tlsctl: rampart-proxy's TLS operations: the certificate stores of the
 * TLS listeners and of outbound TLS, their reload (SIGHUP), the control
 * commands tls.connections and tls.cert.show|stage|commit|abort, the TLS
 * part of 'stats' and the TLS metrics (docs/rampartctl.md, docs/metrics.md).
 *
 * Ownership: an rp_tlsctl owns the session registry (rp_tls_reg) and every
 * store added to it; rp_tlsctl_free() frees them, so it is called after the
 * workers that hold sessions have stopped. Every function except the
 * metrics callbacks runs on the proxy's control (main) thread.
 */
#ifndef RP_TLSCTL_H
#define RP_TLSCTL_H

#include <stddef.h>

#include "ctl.h"
#include "rp_buf.h"
#include "rp_metrics.h"
#include "tls.h"

typedef struct rp_tlsctl rp_tlsctl;

int rp_tlsctl_new(rp_tlsctl **out);
void rp_tlsctl_free(rp_tlsctl *t);
/* The registry to put into every rp_tls_cfg before building a store. */
rp_tls_reg *rp_tlsctl_reg(rp_tlsctl *t);

/* Builds the store of a TLS listener (cfg->label names it) and keeps it.
 * *out is borrowed (valid until rp_tlsctl_free). Errors as
 * rp_tls_store_new. */
int rp_tlsctl_add_listener(rp_tlsctl *t, const struct rp_tls_cfg *cfg,
	rp_tls_store **out, char *err, size_t errlen);
/* Outbound TLS (verifies servers); the store is kept the same way. */
int rp_tlsctl_set_client(rp_tlsctl *t, const struct rp_tls_cfg *cfg,
	rp_tls_store **out, char *err, size_t errlen);
/* The outbound store set above, or NULL (outbound TLS disabled). */
rp_tls_store *rp_tlsctl_client(rp_tlsctl *t);
/* Outbound TLS of the trunks with client TLS settings of their own
 * (names[i], cfgs[i]; labelled "trunk NAME"), all or nothing: every store
 * is built (files read, validated) first; on the first failure nothing
 * changes and err names the trunk. A trunk whose settings are unchanged
 * keeps its store (re-read by rp_tlsctl_reload); replaced stores stay
 * alive until rp_tlsctl_free (transactions in flight point to them). */
int rp_tlsctl_set_trunks(rp_tlsctl *t, const char *const *names,
	const struct rp_tls_cfg *cfgs, size_t n, char *err, size_t errlen);
/* The store of a trunk set above, or NULL. Any thread. */
rp_tls_store *rp_tlsctl_trunk(rp_tlsctl *t, const char *name);
size_t rp_tlsctl_listener_count(const rp_tlsctl *t);

/* Re-reads every store's files (SIGHUP, tls-reload). A listener whose files
 * are bad keeps its certificate; the first such error is in err and the
 * result is -EINVAL. An outbound CA failure is only logged. */
int rp_tlsctl_reload(rp_tlsctl *t, char *err, size_t errlen);

/* Control-command handlers; arg is the rp_tlsctl. */
int rp_tlsctl_cmd_connections(ctl_req *req, rp_buf *resp, void *arg);
int rp_tlsctl_cmd_cert_show(ctl_req *req, rp_buf *resp, void *arg);
int rp_tlsctl_cmd_cert_stage(ctl_req *req, rp_buf *resp, void *arg);
int rp_tlsctl_cmd_cert_commit(ctl_req *req, rp_buf *resp, void *arg);
int rp_tlsctl_cmd_cert_abort(ctl_req *req, rp_buf *resp, void *arg);

/* Appends the TLS counters to a 'stats' answer. */
void rp_tlsctl_put_stats(rp_tlsctl *t, rp_buf *resp);

/* Registers the TLS metric families in m (read at scrape time). */
int rp_tlsctl_metrics(rp_tlsctl *t, rp_metrics *m);

#endif
