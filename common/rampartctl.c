/* rampartctl: the operator's command line for rampart-proxy and
 * rampart-mediad, over their control sockets (docs/rampartctl.md).
 *
 *   rampartctl [--socket PATH] [--proxy-socket PATH] [--mediad-socket PATH]
 *              [--json] [--timeout MS] COMMAND [ARGS]
 *
 * The commands live in one table (common/ctlcmd.c); this file reads the
 * options. Exit status: 0 ok, 1 the daemon answered with an error, 2 usage
 * error, 3 cannot connect, 4 timeout or protocol error.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctlcmd.h"
#include "rp_version.h"

enum { OPT_SOCKET = 256, OPT_PROXY, OPT_MEDIAD, OPT_JSON, OPT_TIMEOUT, OPT_VERSION,
	OPT_HELP, OPT_DOC };

static int usage_error(const char *msg, const char *arg)
{
	fprintf(stderr, "rampartctl: %s%s%s\n(try 'rampartctl --help')\n", msg,
		arg ? ": " : "", arg ? arg : "");
	return CTLCMD_EXIT_USAGE;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, OPT_SOCKET },
		{ "proxy-socket", required_argument, NULL, OPT_PROXY },
		{ "mediad-socket", required_argument, NULL, OPT_MEDIAD },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ "help", no_argument, NULL, OPT_HELP },
		{ "print-doc-table", no_argument, NULL, OPT_DOC },
		{ NULL, 0, NULL, 0 },
	};
	struct ctlcmd_opts o = { .timeout_ms = CTLCMD_DEFAULT_TIMEOUT_MS };
	int c;

	/* A daemon that closes mid-request must give exit 4, not kill us. */
	signal(SIGPIPE, SIG_IGN);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		char *end;
		long v;

		switch (c) {
		case OPT_SOCKET: o.socket = optarg; break;
		case OPT_PROXY: o.proxy_socket = optarg; break;
		case OPT_MEDIAD: o.mediad_socket = optarg; break;
		case OPT_JSON: o.json = true; break;
		case OPT_TIMEOUT:
			v = strtol(optarg, &end, 10);
			if (*optarg < '0' || *optarg > '9' || *end || v <= 0 || v > 3600000)
				return usage_error("--timeout wants milliseconds, 1..3600000", optarg);
			o.timeout_ms = (int)v;
			break;
		case OPT_VERSION:
			printf("rampartctl %s (control protocol %d.%d)\n", RAMPART_VERSION,
			       CTL_VERSION_MAJOR, CTL_VERSION_MINOR);
			return 0;
		case OPT_HELP:
			ctlcmd_print_usage(stdout);
			return 0;
		case OPT_DOC:
			ctlcmd_print_doc_table(stdout);
			return 0;
		case ':':
			return usage_error("option needs an argument", argv[optind - 1]);
		default:
			return usage_error("unknown option", argv[optind - 1]);
		}
	}
	return ctlcmd_run_words(&o, argc - optind, argv + optind, stdout, stderr);
}
