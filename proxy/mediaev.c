/* mediaev: mediad's timeout events (see mediaev.h). */
#include "mediaev.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "benc.h"
#include "ctl.h"
#include "rp_arena.h"
#include "rp_buf.h"
#include "rp_log.h"

struct rp_mediaev {
	char *path;
	rp_mediaev_timeout_fn fn;
	void *arg;
	pthread_t thr;
	atomic_bool stop;
};

static int subscribe(ctl_client *cl)
{
	rp_buf args = RP_BUF_INIT;
	char store[2048];
	rp_arena a;
	const benc_node *resp = NULL;
	int rc;

	rp_arena_init(&a, store, sizeof(store), 0);
	benc_put_kv_list(&args, "events");
	benc_put_cstr(&args, "timeout");
	benc_put_end(&args);
	rc = rp_buf_error(&args);
	if (rc == 0)
		rc = ctl_call(cl, "subscribe", &args, &a, &resp, 2000);
	rp_buf_free(&args);
	rp_arena_fini(&a);
	return rc;
}

static void pause_1s(void)
{
	const struct timespec ts = { 1, 0 };

	nanosleep(&ts, NULL);
}

static void *ev_main(void *p)
{
	rp_mediaev *e = p;
	ctl_client *cl = NULL;
	bool warned = false;

	while (!atomic_load(&e->stop)) {
		char store[8192];
		rp_arena a;
		const benc_node *ev = NULL;
		int64_t session, deleted = 0;
		int rc;

		if (!cl) {
			rc = ctl_client_connect(e->path, 0, &cl);
			if (rc == 0 && (rc = subscribe(cl)) < 0) {
				ctl_client_close(cl);
				cl = NULL;
			}
			if (rc < 0) {
				if (!warned)
					rp_info("mediad events: cannot subscribe at %s (%s); retrying",
						e->path, strerror(-rc));
				warned = true;
				pause_1s();
				continue;
			}
			warned = false;
		}
		rp_arena_init(&a, store, sizeof(store), 1u << 16);
		rc = ctl_client_next_event(cl, &a, &ev, 500);
		if (rc == 0 && benc_str_eq(benc_dict_get(ev, "event"), "timeout") &&
		    benc_get_int(ev, "session", 1, INT64_MAX, &session, NULL) == 0) {
			(void)benc_get_int(ev, "deleted", 0, 1, &deleted, NULL);
			e->fn(e->arg, (uint64_t)session, deleted != 0);
		} else if (rc < 0 && rc != -EAGAIN && rc != -ETIMEDOUT) {
			ctl_client_close(cl);
			cl = NULL;
		}
		rp_arena_fini(&a);
	}
	ctl_client_close(cl);
	return NULL;
}

int rp_mediaev_start(const char *path, rp_mediaev_timeout_fn fn, void *arg,
	rp_mediaev **out)
{
	rp_mediaev *e;
	int rc;

	if (!path || !fn || !out)
		return -EINVAL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->path = strdup(path);
	if (!e->path) {
		free(e);
		return -ENOMEM;
	}
	e->fn = fn;
	e->arg = arg;
	atomic_init(&e->stop, false);
	rc = pthread_create(&e->thr, NULL, ev_main, e);
	if (rc) {
		free(e->path);
		free(e);
		return -rc;
	}
	*out = e;
	return 0;
}

void rp_mediaev_stop(rp_mediaev *e)
{
	if (!e)
		return;
	atomic_store(&e->stop, true);
	pthread_join(e->thr, NULL);
	free(e->path);
	free(e);
}
