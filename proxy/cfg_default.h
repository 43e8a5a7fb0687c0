/* cfg_default: the configuration rampart-proxy runs when started without
 * a config file: a secure edge on loopback for trying things out.
 *
 *   UDP and TCP on 127.0.0.1:5060 (media_encryption allow), TLS on
 *   127.0.0.1:5061 (media_encryption require) with a generated self-signed
 *   certificate ("cert = auto"); registrar for the local test users
 *   alice / alice-secret and bob / bob-secret in realm "rampart"; OPTIONS to
 *   the proxy answered 200; requests for local users looked up in the
 *   location table; control socket /run/rampart/proxy.sock.
 */
#ifndef CFG_DEFAULT_H
#define CFG_DEFAULT_H

#include "cfg_diag.h"

#include <stddef.h>

struct cfg;

/* The text, NUL-terminated (also printed by `rampart-proxy --print-default`
 * if the proxy offers it). */
extern const char cfg_default_text[];
size_t cfg_default_len(void);

/* cfg_load_string() of the text above, named "<default>" in messages. */
int cfg_load_default(struct cfg **out, struct cfg_diag *diag);

#endif
