/* Config checker: every bad config in data/cfg/bad/ names its expected
 * first diagnostic ("# expect: LINE:COL: error|warning: text") on line 1,
 * and gets exactly that; plus limits (nesting, string length, file size,
 * condition length) and the --check entry point. */
#include "cfg_check.h"
#include "cfg_lex.h"
#include "cfg_default.h"
#include "cfg_prog.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BAD_DIR RP_TEST_DATA "/cfg/bad"
#define GOOD_DIR RP_TEST_DATA "/cfg/good"

static struct cfg_diag diag;

static int load_str(const char *text, struct cfg **out)
{
	cfg_diag_init(&diag);
	return cfg_load_string("t.conf", text, strlen(text), out, &diag);
}

/* The first stored message, formatted "L:C: sev: text". */
static const char *first_msg(char *buf, size_t n)
{
	const struct cfg_diag_msg *m;

	ck_assert_uint_gt(diag.n, 0);
	m = &diag.msg[0];
	/* A cut message still starts the same: fine for the prefix checks. */
	if (snprintf(buf, n, "%u:%u: %s: %s", (unsigned)m->line, (unsigned)m->col,
		m->sev == CFG_SEV_ERROR ? "error" : "warning", m->text) >= (int)n)
		buf[n - 1] = '\0';
	return buf;
}

static char *read_first_line(const char *path)
{
	static char line[512];
	FILE *f = fopen(path, "r");

	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(line, sizeof(line), f));
	fclose(f);
	line[strcspn(line, "\n")] = '\0';
	return line;
}

static void replace(char *s, size_t n, const char *what, const char *with)
{
	char tmp[1024];
	char *p = strstr(s, what);

	if (!p)
		return;
	snprintf(tmp, sizeof(tmp), "%.*s%s%s", (int)(p - s), s, with, p + strlen(what));
	snprintf(s, n, "%s", tmp);
}

START_TEST(bad_files_report_exact_position)
{
	DIR *d = opendir(BAD_DIR);
	struct dirent *de;
	unsigned files = 0;

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL) {
		char path[512], expect[1024], got[1024];
		struct cfg *c = NULL;
		const char *line;
		int rc;

		if (!strstr(de->d_name, ".conf"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", BAD_DIR, de->d_name);
		line = read_first_line(path);
		ck_assert_msg(strncmp(line, "# expect: ", 10) == 0, "%s: no expectation", path);
		snprintf(expect, sizeof(expect), "%s", line + 10);
		replace(expect, sizeof(expect), "@DIR@", BAD_DIR);
		cfg_diag_init(&diag);
		rc = cfg_load_file(path, &c, &diag);
		first_msg(got, sizeof(got));
		ck_assert_msg(strcmp(got, expect) == 0, "%s:\n  expected %s\n  got      %s", de->d_name,
			expect, got);
		ck_assert_str_eq(diag.msg[0].file, path);
		if (strstr(expect, ": error: ")) {
			ck_assert_msg(rc == -EINVAL, "%s: rc %d", de->d_name, rc);
			ck_assert_ptr_null(c);
			ck_assert_uint_ge(diag.errors, 1);
		} else {
			/* warnings alone do not stop the proxy */
			ck_assert_msg(rc == 0, "%s: rc %d", de->d_name, rc);
			ck_assert_uint_eq(diag.errors, 0);
			cfg_free(c);
		}
		files++;
	}
	closedir(d);
	ck_assert_uint_ge(files, 50);
}
END_TEST

START_TEST(formatted_message_names_file_line_col)
{
	struct cfg *c = NULL;
	char buf[512];

	ck_assert_int_eq(load_str("listen udp 127.0.0.1:5060;\nroute request {\n    relai;\n}\n", &c),
		-EINVAL);
	cfg_diag_format(&diag.msg[0], buf, sizeof(buf));
	ck_assert_str_eq(buf, "t.conf:3:5: error: unknown action 'relai' (did you mean 'relay'?)");
}
END_TEST

START_TEST(several_errors_are_all_reported)
{
	struct cfg *c = NULL;

	ck_assert_int_eq(load_str("workers = 1000;\nlisten udp 127.0.0.1:5060;\n"
		"trunk a { address = \"x\"; media_encryption = maybe; }\n"
		"route request { relay b; relai; }\n", &c), -EINVAL);
	ck_assert_uint_eq(diag.errors, 4);
	ck_assert_uint_eq(diag.msg[0].line, 1);
	ck_assert_uint_eq(diag.msg[1].line, 3);
	ck_assert_uint_eq(diag.msg[2].line, 4);
	ck_assert_uint_eq(diag.msg[2].col, 23);
	ck_assert_uint_eq(diag.msg[3].col, 26);
}
END_TEST

START_TEST(diag_may_be_null)
{
	struct cfg *c = NULL;

	ck_assert_int_eq(cfg_load_string("x", "route request { relai; }", 24, &c, NULL), -EINVAL);
	ck_assert_ptr_null(c);
	ck_assert_int_eq(cfg_load_string("x", "route request { drop; }", 23, &c, NULL), 0);
	cfg_free(c);
}
END_TEST

START_TEST(diag_overflow_counts_everything)
{
	char text[8192] = "route request {\n";
	struct cfg *c = NULL;

	for (int i = 0; i < 100; i++)
		strcat(text, "  nope;\n");
	strcat(text, "}\n");
	ck_assert_int_eq(load_str(text, &c), -EINVAL);
	ck_assert_uint_eq(diag.errors, 100);
	ck_assert_uint_eq(diag.n, CFG_DIAG_MAX);
}
END_TEST

static char *nested_ifs(unsigned depth)
{
	size_t cap = 64 + depth * 40;
	char *t = malloc(cap);

	ck_assert_ptr_nonnull(t);
	strcpy(t, "route request {\n");
	for (unsigned i = 0; i < depth; i++)
		strcat(t, "if (method == \"A\") {\n");
	strcat(t, "drop;\n");
	for (unsigned i = 0; i < depth; i++)
		strcat(t, "}\n");
	strcat(t, "}\n");
	return t;
}

START_TEST(nesting_limit)
{
	struct cfg *c = NULL;
	char *ok = nested_ifs(30), *deep = nested_ifs(200);

	ck_assert_int_eq(load_str(ok, &c), 0);
	cfg_free(c);
	c = NULL;
	ck_assert_int_eq(load_str(deep, &c), -EINVAL);
	ck_assert_ptr_nonnull(strstr(diag.msg[0].text, "nesting too deep (limit 64)"));
	/* the route block and each 'if' body are one level, the condition
	 * two more: the 63rd 'if' (line 64) crosses 64 */
	ck_assert_uint_eq(diag.msg[0].line, 64);
	free(ok);
	free(deep);
}
END_TEST

START_TEST(paren_nesting_limit)
{
	char t[4096] = "route request { if (";
	struct cfg *c = NULL;

	for (int i = 0; i < 500; i++)
		strcat(t, "(");
	strcat(t, "method == \"A\"");
	for (int i = 0; i < 500; i++)
		strcat(t, ")");
	strcat(t, ") { drop; } }");
	ck_assert_int_eq(load_str(t, &c), -EINVAL);
	ck_assert_ptr_nonnull(strstr(diag.msg[0].text, "nesting too deep"));
}
END_TEST

START_TEST(condition_length_limit)
{
	size_t cap = 100 + 300 * 24;
	char *t = malloc(cap);
	struct cfg *c = NULL;

	ck_assert_ptr_nonnull(t);
	strcpy(t, "route request { if (method == \"A\"");
	for (int i = 0; i < 300; i++)
		strcat(t, " || method == \"B\"");
	strcat(t, ") { drop; } }");
	ck_assert_int_eq(load_str(t, &c), -EINVAL);
	ck_assert_ptr_nonnull(strstr(diag.msg[0].text, "condition too long"));
	free(t);
}
END_TEST

START_TEST(long_strings)
{
	size_t n = CFG_LEX_MAX_STRING;
	char *t = malloc(n + 200);
	struct cfg *c = NULL;
	int len;

	ck_assert_ptr_nonnull(t);
	/* exactly at the limit: fine */
	len = sprintf(t, "route request { log(\"");
	memset(t + len, 'a', n);
	strcpy(t + len + n, "\"); drop; }");
	ck_assert_int_eq(load_str(t, &c), 0);
	cfg_free(c);
	c = NULL;
	/* one more byte: refused at the opening quote */
	memset(t + len, 'a', n + 1);
	strcpy(t + len + n + 1, "\"); drop; }");
	ck_assert_int_eq(load_str(t, &c), -EINVAL);
	ck_assert_str_eq(diag.msg[0].text, "string too long (limit 16384 bytes)");
	ck_assert_uint_eq(diag.msg[0].col, 21);
	free(t);
}
END_TEST

START_TEST(huge_input_refused)
{
	size_t n = CFG_MAX_FILE + 1;
	char *t = malloc(n);
	struct cfg *c = NULL;

	ck_assert_ptr_nonnull(t);
	memset(t, '#', n);
	cfg_diag_init(&diag);
	ck_assert_int_eq(cfg_load_string("big.conf", t, n, &c, &diag), -EFBIG);
	ck_assert_ptr_null(c);
	ck_assert_uint_eq(diag.errors, 1);
	free(t);
}
END_TEST

START_TEST(huge_file_refused)
{
	char path[] = "/tmp/test_cfg_check_XXXXXX";
	int fd = mkstemp(path);
	struct cfg *c = NULL;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, (off_t)CFG_MAX_FILE + 1), 0);
	close(fd);
	cfg_diag_init(&diag);
	ck_assert_int_eq(cfg_load_file(path, &c, &diag), -EFBIG);
	unlink(path);
	ck_assert_ptr_null(c);
}
END_TEST

START_TEST(large_valid_config)
{
	/* 5000 routes, each called once: loads, and nothing is quadratic
	 * enough to matter for a test run */
	size_t cap = 5000 * 120 + 5000 * 24 + 200;
	char *t = malloc(cap), *p = t;
	struct cfg *c = NULL;

	ck_assert_ptr_nonnull(t);
	p += sprintf(p, "listen udp 127.0.0.1:5060;\nroute request {\n");
	for (int i = 0; i < 5000; i++)
		p += sprintf(p, "  route(r%d);\n", i);
	p += sprintf(p, "  drop;\n}\n");
	for (int i = 0; i < 5000; i++)
		p += sprintf(p, "route r%d { if (ruri.user =~ '^%d$') { log(\"hit %d $ru\"); } }\n", i, i, i);
	ck_assert_int_eq(load_str(t, &c), 0);
	ck_assert_uint_eq(diag.warnings, 0);
	cfg_free(c);
	free(t);
}
END_TEST

START_TEST(call_depth_limit)
{
	char t[4096] = "route request { route(r0); drop; }\n";
	struct cfg *c = NULL;
	const struct cfg_diag_msg *m;

	for (int i = 0; i < CFG_MAX_CALL_DEPTH + 3; i++)
		sprintf(t + strlen(t), "route r%d { route(r%d); }\n", i, i + 1);
	sprintf(t + strlen(t), "route r%d { exit; }\n", CFG_MAX_CALL_DEPTH + 3);
	ck_assert_int_eq(load_str(t, &c), -EINVAL);
	m = cfg_diag_first(&diag, CFG_SEV_ERROR);
	ck_assert_ptr_nonnull(m);
	/* r16 would be the 17th nested call: the evaluator allows 16 */
	ck_assert_str_eq(m->text, "route calls nested too deep (more than 16 levels)");
	ck_assert_uint_eq(m->line, 18);
	ck_assert_uint_eq(diag.errors, 1);
}
END_TEST

START_TEST(lexer_rejects_nul)
{
	static const char t[] = "route request {\n drop;\0 }";
	struct cfg *c = NULL;

	cfg_diag_init(&diag);
	ck_assert_int_eq(cfg_load_string("n.conf", t, sizeof(t) - 1, &c, &diag), -EINVAL);
	ck_assert_str_eq(diag.msg[0].text, "NUL byte in config");
	ck_assert_uint_eq(diag.msg[0].line, 2);
	ck_assert_uint_eq(diag.msg[0].col, 7);
}
END_TEST

static int check_file_output(const char *path, char *out, size_t n)
{
	FILE *f = tmpfile();
	size_t got;
	int rc;

	ck_assert_ptr_nonnull(f);
	rc = cfg_check_file(path, f);
	rewind(f);
	got = fread(out, 1, n - 1, f);
	out[got] = '\0';
	fclose(f);
	return rc;
}

START_TEST(check_file_entry_point)
{
	char out[4096];

	ck_assert_int_eq(check_file_output(GOOD_DIR "/carrier_edge.conf", out, sizeof(out)), 0);
	ck_assert_ptr_nonnull(strstr(out, "carrier_edge.conf: OK (3 listen, 3 trunks, 4 users; 0 warnings)"));
	ck_assert_int_eq(check_file_output(BAD_DIR "/unknown_action.conf", out, sizeof(out)), 1);
	ck_assert_ptr_nonnull(strstr(out, "unknown_action.conf:5:9: error: unknown action 'relai' (did you mean 'relay'?)\n"));
	ck_assert_ptr_nonnull(strstr(out, "1 error, 0 warnings"));
	ck_assert_int_eq(check_file_output(BAD_DIR "/unreachable.conf", out, sizeof(out)), 0);
	ck_assert_ptr_nonnull(strstr(out, "warning: unreachable code after 'drop'"));
	ck_assert_int_eq(check_file_output("/nonexistent/proxy.conf", out, sizeof(out)), 2);
	ck_assert_ptr_nonnull(strstr(out, "/nonexistent/proxy.conf: error: cannot read: No such file or directory"));
}
END_TEST

/* Tens of thousands of accounts (found by a hostile-config run: 50,000
 * user blocks took more than 20 s to check, every pair compared, and each
 * digest check scanned them all): every account is found by name and
 * case-insensitive realm, duplicates are still reported where the second
 * one is, and names not there (or longer than any) are not found. */
START_TEST(many_users_indexed)
{
	enum { N = 20000 };
	size_t cap = (size_t)N * 96 + 512;
	char *t = malloc(cap), *p = t, name[32];
	struct cfg *c = NULL;

	ck_assert_ptr_nonnull(t);
	p += sprintf(p, "listen udp 127.0.0.1:5060;\nrealm = \"Edge\";\nroute request { drop; }\n");
	for (int i = 0; i < N; i++)
		p += sprintf(p, "user u%d { ha1_md5 = \"d03b1c803d446cc473926ad83d7ff641\"; }\n", i);
	ck_assert_int_eq(load_str(t, &c), 0);
	ck_assert_uint_eq(cfg_user_count(c), N);
	for (int i = 0; i < N; i += 997) {
		snprintf(name, sizeof(name), "u%d", i);
		ck_assert_ptr_eq(cfg_user_find(c, rp_str_cstr(name), RP_STR_LIT("eDGE")),
			cfg_user_at(c, (size_t)i));
	}
	ck_assert_ptr_null(cfg_user_find(c, RP_STR_LIT("u20000"), RP_STR_LIT("edge")));
	ck_assert_ptr_null(cfg_user_find(c, RP_STR_LIT("u1"), RP_STR_LIT("other")));
	ck_assert_ptr_null(cfg_user_find(c, RP_STR_LIT("u1\0x"), RP_STR_LIT("edge")));
	memset(t, 'u', 4000);
	ck_assert_ptr_null(cfg_user_find(c, rp_str_make(t, 4000), RP_STR_LIT("edge")));
	cfg_free(c);
	/* The same account twice (realm in another case): one error, at the
	 * second block's line. */
	c = NULL;
	p = t;
	p += sprintf(p, "listen udp 127.0.0.1:5060;\nroute request { drop; }\n");
	for (int i = 0; i < 3000; i++)
		p += sprintf(p, "user u%d { realm = \"r\"; ha1_md5 = \"d03b1c803d446cc473926ad83d7ff641\"; }\n", i);
	p += sprintf(p, "user u7 { realm = \"R\"; ha1_md5 = \"d03b1c803d446cc473926ad83d7ff641\"; }\n");
	ck_assert_int_eq(load_str(t, &c), -EINVAL);
	ck_assert_uint_eq(diag.errors, 1);
	ck_assert_uint_eq(diag.msg[0].line, 3003);
	ck_assert_str_eq(diag.msg[0].text, "duplicate user 'u7' in realm 'R'");
	free(t);
}
END_TEST

START_TEST(users_file_errors)
{
	static const char t[] = "users_file = \"" BAD_DIR "/users_bad.htdigest\";\n"
		"route request { drop; }\n";
	struct cfg *c = NULL;

	cfg_diag_init(&diag);
	ck_assert_int_eq(cfg_load_string("u.conf", t, sizeof(t) - 1, &c, &diag), -EINVAL);
	ck_assert_uint_eq(diag.errors, 2);
	/* positions are in the users file */
	ck_assert_str_eq(diag.msg[0].file, BAD_DIR "/users_bad.htdigest");
	ck_assert_uint_eq(diag.msg[0].line, 3);
	ck_assert_uint_eq(diag.msg[0].col, 13);
	ck_assert_str_eq(diag.msg[0].text, "bad MD5 HA1 (expected 32 hex digits)");
	ck_assert_uint_eq(diag.msg[1].line, 4);
	ck_assert_str_eq(diag.msg[1].text, "expected 'user:realm:ha1_md5[:ha1_sha256]'");
}
END_TEST

/* cdr_* keys (docs/cdr.md): values, ranges, hmac needs a secret file. */
START_TEST(cdr_keys)
{
	struct cfg *c = NULL;
	const struct cfg_settings *st;
	char m[256];

	ck_assert_int_eq(load_str("cdr_file = \"/var/log/rampart/cdr.jsonl\";\n"
		"cdr_fsync_lines = 1;\ncdr_fsync_ms = 250;\ncdr_hash = hmac;\n"
		"cdr_secret_file = \"/etc/rampart/cdr.key\";\nroute request { drop; }\n", &c), 0);
	st = cfg_settings(c);
	ck_assert_str_eq(st->cdr_file, "/var/log/rampart/cdr.jsonl");
	ck_assert_uint_eq(st->cdr_fsync_lines, 1);
	ck_assert_uint_eq(st->cdr_fsync_ms, 250);
	ck_assert_uint_eq(st->cdr_hash, 2);
	ck_assert_str_eq(st->cdr_secret_file, "/etc/rampart/cdr.key");
	cfg_put(c);
	c = NULL;
	/* Defaults: no CDRs. */
	ck_assert_int_eq(load_str("route request { drop; }\n", &c), 0);
	ck_assert_ptr_null(cfg_settings(c)->cdr_file);
	ck_assert_uint_eq(cfg_settings(c)->cdr_hash, 0);
	cfg_put(c);
	c = NULL;
	ck_assert_int_eq(load_str("cdr_hash = hmac;\nroute request { drop; }\n", &c), -EINVAL);
	ck_assert_ptr_nonnull(strstr(first_msg(m, sizeof(m)), "cdr_hash = hmac needs cdr_secret_file"));
	ck_assert_int_eq(load_str("cdr_hash = md5;\nroute request { drop; }\n", &c), -EINVAL);
	ck_assert_int_eq(load_str("cdr_fsync_lines = 0;\nroute request { drop; }\n", &c), -EINVAL);
}
END_TEST

START_TEST(edit_distance)
{
	ck_assert_uint_eq(cfg_edit_distance("relai", 5, "relay", 5), 1);
	ck_assert_uint_eq(cfg_edit_distance("", 0, "abc", 3), 3);
	ck_assert_uint_eq(cfg_edit_distance("kitten", 6, "sitting", 7), 3);
	ck_assert_uint_eq(cfg_edit_distance("same", 4, "same", 4), 0);
}
END_TEST

/* sni_cert blocks on tls listeners: names, files, and each error named. */
START_TEST(sni_cert_blocks)
{
	static const char good[] =
		"listen tls 127.0.0.1:5061 {\n"
		"    cert = \"/a.pem\"; key = \"/a.key\";\n"
		"    sni = \"sip.example.net\";\n"
		"    sni_cert \"edge.example.net\" \"*.edge.example.net\" {\n"
		"        cert = \"/e.pem\"; key = \"/e.key\"; chain = \"/i.pem\";\n"
		"    }\n"
		"    sni_cert other.example.net { cert = \"/o.pem\"; key = \"/o.key\"; }\n"
		"}\n"
		"route request { drop; }\n";
	static const struct {
		const char *text, *want;
	} bad[] = {
		{ "listen tls 127.0.0.1:5061 { cert = \"/a\"; key = \"/b\"; sni_cert \"e.example\" { cert = \"/e\"; } }\n",
		  "1:54: error: sni_cert needs 'cert' and 'key'" },
		{ "listen tls 127.0.0.1:5061 { cert = \"/a\"; key = \"/b\"; sni_cert \"bad name!\" { cert = \"/e\"; key = \"/k\"; } }\n",
		  "is not a host name" },
		{ "listen tls 127.0.0.1:5061 { cert = \"/a\"; key = \"/b\"; sni_cert a.example { cert = \"/e\"; key = \"/k\"; }\n"
		  "sni_cert A.example { cert = \"/e\"; key = \"/k\"; } }\n",
		  "SNI name 'A.example' already has an sni_cert (line 1)" },
		{ "listen tcp 127.0.0.1:5060 { sni_cert a.example { cert = \"/e\"; key = \"/k\"; } }\n",
		  "'sni_cert' is only valid on a tls listener" },
		{ "listen tls 127.0.0.1:5061 { cert = \"/a\"; key = \"/b\"; sni_cert a.example { cert = \"/e\"; key = \"/k\"; kee = 1; } }\n",
		  "unknown setting 'kee' in sni_cert (did you mean 'key'?)" },
	};
	const struct cfg_listen *l;
	struct cfg *c = NULL;
	char buf[512];

	ck_assert_msg(load_str(good, &c) == 0, "%s", diag.n ? first_msg(buf, sizeof(buf)) : "");
	l = cfg_listen_at(c, 0);
	ck_assert_uint_eq(l->tls.n_sni_certs, 2);
	ck_assert_uint_eq(l->tls.sni_certs[0].nnames, 2);
	ck_assert_str_eq(l->tls.sni_certs[0].names[1], "*.edge.example.net");
	ck_assert_str_eq(l->tls.sni_certs[0].chain, "/i.pem");
	ck_assert_str_eq(l->tls.sni_certs[1].names[0], "other.example.net");
	ck_assert_ptr_null(l->tls.sni_certs[1].chain);
	ck_assert_uint_eq(l->tls.nsni, 1);
	cfg_put(c);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		c = NULL;
		ck_assert_int_lt(load_str(bad[i].text, &c), 0);
		ck_assert_msg(strstr(first_msg(buf, sizeof(buf)), bad[i].want), "%zu: got '%s'", i, buf);
	}
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("cfg_check");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, bad_files_report_exact_position);
	tcase_add_test(tc, formatted_message_names_file_line_col);
	tcase_add_test(tc, several_errors_are_all_reported);
	tcase_add_test(tc, diag_may_be_null);
	tcase_add_test(tc, diag_overflow_counts_everything);
	tcase_add_test(tc, nesting_limit);
	tcase_add_test(tc, paren_nesting_limit);
	tcase_add_test(tc, condition_length_limit);
	tcase_add_test(tc, long_strings);
	tcase_add_test(tc, huge_input_refused);
	tcase_add_test(tc, huge_file_refused);
	tcase_add_test(tc, large_valid_config);
	tcase_add_test(tc, call_depth_limit);
	tcase_add_test(tc, lexer_rejects_nul);
	tcase_add_test(tc, check_file_entry_point);
	tcase_add_test(tc, users_file_errors);
	tcase_add_test(tc, many_users_indexed);
	tcase_add_test(tc, edit_distance);
	tcase_add_test(tc, cdr_keys);
	tcase_add_test(tc, sni_cert_blocks);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
