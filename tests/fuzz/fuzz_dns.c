/* libFuzzer target for the DNS answer parser (proxy/dnsmsg): the first
 * byte picks the type asked for, the rest is the answer; the question's
 * name and id are taken from the answer itself so that the parser gets
 * past its checks. Every record kept must be of the type asked, with
 * NUL-terminated names. */
#include <arpa/nameser.h>
#include <resolv.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dnsmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint16_t types[4] = { RP_DNS_A, RP_DNS_AAAA, RP_DNS_SRV, RP_DNS_NAPTR };
	struct rp_dns_answer a;
	char qname[RP_DNS_NAME_MAX] = "a.test";
	uint16_t qtype, id;
	ns_msg h;
	ns_rr rr;

	if (size < 13)
		return 0;
	qtype = types[data[0] & 3];
	data++;
	size--;
	id = (uint16_t)(data[0] << 8 | data[1]);
	if (ns_initparse(data, (int)size, &h) == 0 && ns_parserr(&h, ns_s_qd, 0, &rr) == 0)
		/* ns_rr_name is "." (a literal) for the root. */
		snprintf(qname, sizeof(qname), "%s", ns_rr_name(rr));
	if (rp_dnsmsg_parse(data, size, id, qname, qtype, &a) == 0 && a.status == RP_DNS_OK) {
		if (a.n == 0 || a.n > RP_DNS_MAX_RR)
			abort();
		for (unsigned i = 0; i < a.n; i++) {
			if (a.rr[i].type != qtype)
				abort();
			if (qtype == RP_DNS_SRV && !memchr(a.rr[i].u.srv.target, 0,
				sizeof(a.rr[i].u.srv.target)))
				abort();
			if (qtype == RP_DNS_NAPTR && !memchr(a.rr[i].u.naptr.repl, 0,
				sizeof(a.rr[i].u.naptr.repl)))
				abort();
		}
	}
	return 0;
}
