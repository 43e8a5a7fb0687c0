/* rampart-mediad: the media relay daemon. See docs/mediad.md. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "mcfg.h"
#include "rp_log.h"
#include "rp_version.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: rampart-mediad [--config FILE] [--engine auto|io_uring|mmsg]\n"
		"                      [--kernel off|auto|required]\n"
		"                      [--control PATH] [--log-level LEVEL]\n"
		"       rampart-mediad --version | --help\n"
		"\n"
		"With no options: listen on 127.0.0.1, RTP ports 10000-20000, control\n"
		"socket /run/rampart/mediad.sock. --config reads 'key = value' lines\n"
		"(listen, advertise, ports, workers, engine, media-timeout,\n"
		"delete-timeout, control, control-mode, control-group, control-readonly,\n"
		"control-readonly-mode, control-readonly-group, log-level,\n"
		"ring-buffers, kernel, metrics-listen); see docs/mediad.md.\n"
		"RAMPART_MEDIAD_ENGINE=mmsg forces the recvmmsg/epoll engine.\n");
}

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "engine", required_argument, NULL, 'e' },
		{ "kernel", required_argument, NULL, 'k' },
		{ "control", required_argument, NULL, 's' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct mcfg cfg;
	struct mcontrol *ctl;
	const char *kernel = NULL;
	const char *config = NULL, *engine = NULL, *control = NULL, *level = NULL;
	const char *env = getenv("RAMPART_MEDIAD_ENGINE");
	char err[512];
	struct sigaction sa;
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "c:e:k:s:l:Vh", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': config = optarg; break;
		case 'e': engine = optarg; break;
		case 'k': kernel = optarg; break;
		case 's': control = optarg; break;
		case 'l': level = optarg; break;
		case 'V':
			printf("rampart-mediad %s\n", RAMPART_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "rampart-mediad: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	mcfg_defaults(&cfg);
	if (config && mcfg_load(&cfg, config, err, sizeof(err)) < 0) {
		fprintf(stderr, "rampart-mediad: %s\n", err);
		return 1;
	}
	/* Command line, then environment, override the file. */
	{
		const char *why;
		if (engine && mcfg_set(&cfg, "engine", 6, engine, strlen(engine), &why) < 0) {
			fprintf(stderr, "rampart-mediad: --engine: %s\n", why);
			return 2;
		}
		if (kernel && mcfg_set(&cfg, "kernel", 6, kernel, strlen(kernel), &why) < 0) {
			fprintf(stderr, "rampart-mediad: --kernel: %s\n", why);
			return 2;
		}
		if (control && mcfg_set(&cfg, "control", 7, control, strlen(control), &why) < 0) {
			fprintf(stderr, "rampart-mediad: --control: %s\n", why);
			return 2;
		}
		if (level && mcfg_set(&cfg, "log-level", 9, level, strlen(level), &why) < 0) {
			fprintf(stderr, "rampart-mediad: --log-level: %s\n", why);
			return 2;
		}
		if (env && *env && mcfg_set(&cfg, "engine", 6, env, strlen(env), &why) < 0) {
			fprintf(stderr, "rampart-mediad: RAMPART_MEDIAD_ENGINE: %s\n", why);
			return 2;
		}
	}
	if (mcfg_check(&cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "rampart-mediad: %s%s%s\n", config ? config : "",
			config ? ": " : "", err);
		return 1;
	}
	rp_log_open(RP_LOG_STDERR, "rampart-mediad", cfg.log_level);
	rp_log_rl_set(cfg.log_rate_burst, cfg.log_rate_interval_ms);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	/* Nothing reloads on SIGHUP yet (sessions come from the control
	 * socket); a stray HUP from a terminal or a logrotate script must not
	 * kill the media of every call. */
	sigaction(SIGHUP, &sa, NULL);

	rc = mcontrol_new(&cfg, &ctl);
	if (rc < 0) {
		rp_err("cannot start: %s", strerror(-rc));
		return 1;
	}
	rc = mcontrol_run(ctl, &stop_flag);
	mcontrol_free(ctl);
	rp_notice("stopped");
	return rc < 0 ? 1 : 0;
}
