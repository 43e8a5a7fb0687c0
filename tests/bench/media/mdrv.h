/* mdrv: the media benchmark's control-plane drivers, one per relay.
 *
 * Both set up the same call: leg A is SRTP (AES_CM_128_HMAC_SHA1_80 both
 * ways), leg B plain RTP, each leg's far end a socket of the load
 * generator on 127.0.0.1. So A->B measures SRTP->RTP and B->A RTP->SRTP.
 *
 *  - rampart-mediad: over its control socket (common/ctl, bencode over
 *    SOCK_SEQPACKET): session.create, leg.update a (address, port,
 *    srtp-in = A's key, srtp-out = a key we choose), leg.update b,
 *    session.delete.
 *  - rtpengine: over its ng protocol (bencode over UDP, "<cookie> <dict>"):
 *    offer with A's SDP (m=audio RTP/SAVP + a=crypto with A's key) and
 *    transport-protocol RTP/AVP toward B; answer with B's plain SDP; the
 *    answer's SDP toward A carries rtpengine's own a=crypto key. delete.
 *
 * Ownership: mdrv_*_new() return a driver freed with mdrv_free(). Key
 * bytes in struct mdrv_call are the caller's (wipe them when done).
 */
#ifndef MDRV_H
#define MDRV_H

#include <stddef.h>
#include <stdint.h>

#define MDRV_KEYLEN 30 /* AES_CM_128: 16-byte key + 14-byte salt */

struct mdrv;

struct mdrv_call {
	/* in */
	uint16_t gen_port[2];           /* generator's A and B sockets */
	uint8_t a_key[MDRV_KEYLEN];     /* A's master key || salt (A protects) */
	/* out */
	uint16_t relay_port[2];         /* relay's port facing A, facing B */
	uint8_t relay_key[MDRV_KEYLEN]; /* the relay protects toward A with it */
	/* the driver's handle */
	uint64_t id;
	char call_id[48];
};

/* Connects to rampart-mediad's control socket. Returns 0 or a negative
 * errno. */
int mdrv_rampart_new(const char *ctl_path, struct mdrv **out);
/* Talks ng to rtpengine at "IP:PORT" (UDP). Returns 0 or a negative errno. */
int mdrv_rtpengine_new(const char *ng_addr, struct mdrv **out);
void mdrv_free(struct mdrv *d);
/* "rampart" / "rtpengine". */
const char *mdrv_name(const struct mdrv *d);

/* Sets up call 'c' (the in fields filled). 'tag' makes call ids unique.
 * Returns 0, or a negative errno with a reason in why. */
int mdrv_call_create(struct mdrv *d, uint64_t tag, struct mdrv_call *c, char *why,
		     size_t whysz);
/* The relay's own counters, summed over all sessions (rampart-mediad's
 * 'stats'); -ENOTSUP for a relay we do not read them from. */
struct mdrv_counters {
	uint64_t pkts_in, pkts_out, drops, send_errors, rx_overflows;
};
int mdrv_counters(struct mdrv *d, struct mdrv_counters *out);

/* Tears it down (ports free again). Returns 0 or a negative errno. */
int mdrv_call_delete(struct mdrv *d, struct mdrv_call *c);

#endif
