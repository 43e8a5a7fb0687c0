/* libFuzzer target for the proxy config compiler: load any text; every
 * diagnostic must point inside the input; whatever loads must evaluate each
 * entry route against a fixed message without crashing, within the step
 * limit, and free cleanly. */
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cfg_eval.h"
#include "cfg_prog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int g_flip;

static int get_str(rp_str *out, const char *s)
{
	*out = rp_str_cstr(s);
	return 0;
}

static int f_method(void *m, rp_str *out)
{
	return get_str(out, "INVITE");
}

static int f_uri(void *m, enum cfg_uri which, enum cfg_uri_part part, rp_str *out)
{
	static const char *const parts[] = { "sip:+4930123@127.0.0.1:5060", "sip", "+4930123",
		"127.0.0.1", "5060" };

	return get_str(out, parts[part]);
}

static int f_uri_param(void *m, enum cfg_uri which, rp_str name, rp_str *out)
{
	return rp_str_eq_cstr(name, "transport") ? get_str(out, "tls") : -ENOENT;
}

static int f_header(void *m, rp_str name, unsigned idx, rp_str *out)
{
	if (idx > 1)
		return -ENOENT;
	return get_str(out, idx ? "second value" : "first value");
}

static int f_source(void *m, struct sockaddr_storage *out)
{
	struct sockaddr_in *s = (struct sockaddr_in *)out;

	memset(out, 0, sizeof(*out));
	s->sin_family = AF_INET;
	s->sin_port = htons(5060);
	s->sin_addr.s_addr = htonl(0x0a000001);
	return 0;
}

static enum cfg_transport f_transport(void *m)
{
	return CFG_TP_TLS;
}

static int f_tls_subject(void *m, rp_str *out)
{
	return get_str(out, "CN=peer");
}

static int f_tls_san(void *m, unsigned idx, rp_str *out)
{
	return idx < 3 ? get_str(out, "san.example") : -ENOENT;
}

static unsigned f_status(void *m)
{
	return 503;
}

static int f_reply(void *m, unsigned code, rp_str r, const rp_str *h, unsigned n)
{
	if (code < 100 || code > 699 || n > 8)
		abort();
	return 0;
}

static int f_relay(void *m, const struct cfg_trunk *t)
{
	if (t && !t->name)
		abort();
	return 0;
}

static int f_set_uri(void *m, enum cfg_uri_part p, rp_str v)
{
	return 0;
}

static int f_set_uri_param(void *m, rp_str n, rp_str v)
{
	return 0;
}

static int f_add_header(void *m, rp_str n, rp_str v)
{
	return 0;
}

static int f_remove_header(void *m, rp_str n)
{
	return 0;
}

static int f_void(void *m)
{
	return 0;
}

static int f_auth(void *m, enum cfg_auth k, rp_str realm)
{
	return g_flip & 1;
}

static int f_lookup(void *m)
{
	return (g_flip >> 1) & 1;
}

static int f_media(void *m, enum cfg_media_enc e)
{
	if (e < CFG_MEDIA_DISABLE || e > CFG_MEDIA_REQUIRE)
		abort();
	return 0;
}

static void f_log(void *m, enum rp_log_level l, rp_str t)
{
	if (t.n > CFG_EVAL_SCRATCH)
		abort();
}

static const struct cfg_ops ops = {
	.method = f_method, .uri = f_uri, .uri_param = f_uri_param, .header = f_header,
	.source = f_source, .transport = f_transport, .tls_subject = f_tls_subject,
	.tls_san = f_tls_san, .status = f_status, .reply = f_reply, .relay = f_relay,
	.set_uri = f_set_uri, .set_uri_param = f_set_uri_param, .add_header = f_add_header,
	.remove_header = f_remove_header, .record_route = f_void, .authenticate = f_auth,
	.save = f_void, .lookup = f_lookup, .set_media = f_media, .log = f_log,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct cfg_diag diag;
	struct cfg *c = NULL;
	size_t lines = 1;
	int rc;

	for (size_t i = 0; i < size; i++)
		lines += data[i] == '\n';
	cfg_diag_init(&diag);
	rc = cfg_load_string("fuzz.conf", (const char *)data, size, &c, &diag);
	for (unsigned i = 0; i < diag.n; i++)
		if (strcmp(diag.msg[i].file, "fuzz.conf") == 0 && diag.msg[i].line > lines)
			abort();
	if (rc != 0) {
		if (c || (rc == -EINVAL && diag.errors == 0))
			abort();
		return 0;
	}
	g_flip = size ? data[0] : 0;
	for (int k = CFG_ROUTE_REQUEST; k <= CFG_ROUTE_FAILURE; k++) {
		unsigned steps = 0;

		rc = cfg_eval_steps(c, (enum cfg_route_kind)k, &ops, NULL, &steps);
		if (steps > CFG_EVAL_MAX_STEPS + 1)
			abort();
		if (rc < 0 && rc != -ENOENT && rc != -ETIMEDOUT && rc != -ENOSPC && rc != -ELOOP &&
		    rc != -EBADMSG)
			abort();
	}
	cfg_put(c);
	return 0;
}
