/* calls_ctl: the control commands about calls (see calls_ctl.h). */
#include "calls_ctl.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <string.h>

#include "benc.h"
#include "calls.h"

/* One control message holds 64 KiB; a call's entry is well under 640 B. */
#define LIST_MAX 100

static rp_core *core_of(void *arg)
{
	rp_core *_Atomic const *p = arg;

	return atomic_load(p);
}

static int cmd_calls(ctl_req *req, rp_buf *resp, void *arg)
{
	rp_core *core = core_of(arg);
	size_t total;
	int n;

	if (!core)
		return ctl_req_error(req, "no proxy core (--no-core): no calls");
	total = rp_calls_count(rp_core_calls(core));
	n = rp_calls_put_list(rp_core_calls(core), resp, LIST_MAX);
	if (n < 0)
		return ctl_req_error(req, "calls: %s", strerror(-n));
	benc_put_kv_int(resp, "total", (int64_t)total);
	benc_put_kv_int(resp, "truncated", total > (size_t)n);
	return rp_buf_error(resp);
}

/* The "id" argument: a call id 'calls' shows. */
static int id_arg(ctl_req *req, uint64_t *id)
{
	struct benc_field_err fe;
	int64_t v;

	*id = 0; /* ctl_req_field_error's sign is not visible to gcc -O3 */
	if (benc_get_int(ctl_req_args(req), "id", 1, INT64_MAX, &v, &fe) < 0)
		return ctl_req_field_error(req, &fe);
	*id = (uint64_t)v;
	return 0;
}

static int cmd_call_show(ctl_req *req, rp_buf *resp, void *arg)
{
	rp_core *core = core_of(arg);
	rp_call *call;
	uint64_t id;
	int rc;

	if (!core)
		return ctl_req_error(req, "no proxy core (--no-core): no calls");
	if ((rc = id_arg(req, &id)) < 0)
		return rc;
	call = rp_calls_find_id(rp_core_calls(core), id);
	if (!call)
		return ctl_req_error(req, "no call %" PRIu64, id);
	benc_put_str(resp, RP_STR_LIT("call"));
	rc = rp_call_put_info(call, resp);
	rp_call_put(call);
	return rc;
}

/* Why a BYE of call.drop did not go (rp_core_call_drop's codes), in the
 * operator's words rather than strerror's. */
static const char *bye_why(int rc)
{
	switch (rc) {
	case -EMSGSIZE: return "the BYE would be over 64 KB (its Contact or Route)";
	case -E2BIG: return "the route set toward it has over 64 entries";
	case -EBADMSG: return "no usable Contact";
	case -EHOSTUNREACH: return "no listener for its transport and address family";
	default: return strerror(-rc);
	}
}

static int cmd_call_drop(ctl_req *req, rp_buf *resp, void *arg)
{
	rp_core *core = core_of(arg);
	uint64_t id;
	int rc, bye[2];

	if (!core)
		return ctl_req_error(req, "no proxy core (--no-core): no calls");
	if ((rc = id_arg(req, &id)) < 0)
		return rc;
	rc = rp_core_call_drop(core, id, "operator-drop", bye);
	if (rc == -ENOENT)
		return ctl_req_error(req, "no call %" PRIu64, id);
	if (rc == -EAGAIN)
		return ctl_req_error(req, "call %" PRIu64 " is ending already (a final response "
			"or a CANCEL is on its way)", id);
	if (rc < 0)
		return ctl_req_error(req, "call %" PRIu64 ": %s", id, strerror(-rc));
	benc_put_kv_int(resp, "id", (int64_t)id);
	benc_put_kv_cstr(resp, "end-reason", "operator-drop");
	/* The call has ended either way; a side that got no BYE still
	 * thinks it is up, and the operator must know which and why. */
	for (int i = 0; i < 2 && bye[i] <= 0; i++) {
		char v[96];

		snprintf(v, sizeof(v), "%s%s", bye[i] ? "not sent: " : "sent",
			bye[i] ? bye_why(bye[i]) : "");
		benc_put_kv_cstr(resp, i == RP_CALL_A ? "bye-caller" : "bye-callee", v);
	}
	return rp_buf_error(resp);
}

int rp_calls_ctl_register(ctl_server *s, rp_core *_Atomic const *core)
{
	const struct ctl_command cmds[] = {
		{ "calls", cmd_calls, "", "calls in progress (at most 100): id, age, from/to, "
		  "per leg transport, TLS, media suite", CTL_ACCESS_READ, (void *)core },
		{ "call.show", cmd_call_show, "id=<int>", "everything the proxy knows about one call",
		  CTL_ACCESS_READ, (void *)core },
		{ "call.drop", cmd_call_drop, "id=<int>",
		  "end a call: BYE to both sides (answered) or CANCEL + 487 (ringing), media "
		  "released, CDR reason operator-drop",
		  CTL_ACCESS_ADMIN, (void *)core },
	};

	return ctl_server_register(s, cmds, sizeof(cmds) / sizeof(cmds[0]));
}
