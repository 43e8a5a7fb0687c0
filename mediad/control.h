/* mcontrol: rampart-mediad's control plane.
 *
 * Owns the port pool and the workers, listens on the control socket
 * (common/ctl, SOCK_SEQPACKET + bencode) and turns each command into
 * worker commands: ping, session.create, leg.update, session.delete,
 * session.query, session.list, stats; it sends 'timeout' events to
 * subscribed clients. Every request is validated completely before anything
 * changes. The control thread never touches packet state: it asks the
 * workers (worker.h). See docs/mediad.md for the commands.
 *
 * Ownership: mcontrol_new() returns an object freed with mcontrol_free(),
 * which stops the workers (closing every media socket) and removes the
 * control socket.
 */
#ifndef MCONTROL_H
#define MCONTROL_H

#include <signal.h>

#include "benc.h"
#include "mcfg.h"
#include "rp_buf.h"

struct mcontrol;

/* Starts the workers and the control socket. Returns 0 or a negative
 * errno (logged with the reason). */
int mcontrol_new(const struct mcfg *cfg, struct mcontrol **out);
/* Serves the control socket until *stop becomes non-zero. */
int mcontrol_run(struct mcontrol *c, volatile sig_atomic_t *stop);
void mcontrol_free(struct mcontrol *c);

/* Runs one decoded request (a dict with 'command') and appends the reply's
 * own fields to 'out' (inside the reply dict the caller opened). On error
 * returns a negative errno and writes a reason naming the field into why.
 * Exposed so the command logic can be tested without a socket. */
int mcontrol_dispatch(struct mcontrol *c, const benc_node *req, rp_buf *out,
	char *why, size_t whysz);

#endif
