#include "cfg_default.h"

#include "cfg_prog.h"

#include <string.h>

const char cfg_default_text[] =
"# rampart-proxy built-in configuration: a secure SIP edge on loopback.\n"
"# Copy it (rampart-proxy with no arguments runs exactly this) and edit.\n"
"\n"
"log_level = info;\n"
"workers = 0;                          # one per CPU\n"
"user_agent = \"Rampart\";\n"
"realm = \"rampart\";\n"
"# Debian 12's baresip (libre 1.1) gives up on a challenge that offers\n"
"# SHA-256 at all; with phones that cope, drop this line (SHA-256 + MD5).\n"
"auth_algorithms = md5;\n"
"domain = \"127.0.0.1\", \"localhost\";     # requests for these are ours\n"
"control_socket = \"/run/rampart/proxy.sock\";\n"
"mediad_socket = \"/run/rampart/mediad.sock\";\n"
"\n"
"tls {\n"
"    min_version = 1.2;\n"
"}\n"
"\n"
"listen udp 127.0.0.1:5060 { media_encryption = allow; }\n"
"listen tcp 127.0.0.1:5060 { media_encryption = allow; }\n"
"listen tls 127.0.0.1:5061 {\n"
"    cert = auto;                      # self-signed, generated at start\n"
"    media_encryption = require;\n"
"}\n"
"\n"
"# Test users; HA1 = md5 / sha256 of \"user:rampart:password\".\n"
"# alice's password is alice-secret, bob's is bob-secret.\n"
"user alice {\n"
"    ha1_md5 = \"d03b1c803d446cc473926ad83d7ff641\";\n"
"    ha1_sha256 = \"78f6005b77ae50abae96c9f4a59c307d3a4584eaf1d817dded0747d1b10ae528\";\n"
"}\n"
"user bob {\n"
"    ha1_md5 = \"820367d3f25dd3df38a521fbb501da71\";\n"
"    ha1_sha256 = \"7711a7f18cc37227ea15565200950efd4b14452353d81dc0ece77398641ad708\";\n"
"}\n"
"\n"
"route request {\n"
"    # In-dialog requests follow the Route set we recorded.\n"
"    if (has_header(\"Route\")) {\n"
"        relay;\n"
"    }\n"
"    if (method == \"CANCEL\" || method == \"ACK\") {\n"
"        relay;\n"
"    }\n"
"    if (!is_local(ruri.host)) {\n"
"        reply 403 \"Relaying Denied\";\n"
"    }\n"
"    if (method == \"OPTIONS\" && ruri.user == \"\") {\n"
"        reply 200 \"OK\";\n"
"    }\n"
"    if (method == \"REGISTER\") {\n"
"        authenticate;\n"
"        save;\n"
"    }\n"
"    if (method == \"INVITE\" || method == \"MESSAGE\" || method == \"SUBSCRIBE\") {\n"
"        authenticate;\n"
"    }\n"
"    record_route;\n"
"    if (!lookup()) {\n"
"        reply 404 \"Not Found\";\n"
"    }\n"
"    log(info, \"$rm from $fu ($si) to $ru\");\n"
"    relay;\n"
"}\n";

size_t cfg_default_len(void)
{
	return sizeof(cfg_default_text) - 1;
}

int cfg_load_default(struct cfg **out, struct cfg_diag *diag)
{
	return cfg_load_string("<default>", cfg_default_text, cfg_default_len(), out, diag);
}
