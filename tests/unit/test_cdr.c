/* Tests for rp_cdr: JSON validity (checked by Python's strict parser),
 * fsync policy (counted, with a fake clock), reopen after a logrotate-style
 * rename, privacy hashing (RFC 4231 / FIPS 180-2 vectors), threads. */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rp_cdr.h"

static char dir[64];
static char path[128];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/rp_cdr_test.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/cdr.jsonl", dir);
}

static void teardown(void)
{
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static int count_lines(const char *p)
{
	FILE *f = fopen(p, "r");
	if (!f)
		return -1;
	int n = 0, ch;
	while ((ch = fgetc(f)) != EOF)
		n += ch == '\n';
	fclose(f);
	return n;
}

static rp_cdr_call sample(const char *id)
{
	rp_cdr_call k = {
		.call_id = rp_str_cstr(id),
		.start_ns = 1795300000123000000ull,
		.answer_ns = 1795300002000000000ull,
		.end_ns = 1795300062500000000ull,
		.trunk = RP_STR_LIT("carrier-a"),
		.from = RP_STR_LIT("sip:+15551234567@example.com"),
		.to = RP_STR_LIT("sip:+442071234567@example.net"),
		.nlegs = 2,
		.auth_failures = 1,
		.final_code = 200,
		.end_reason = RP_STR_LIT("caller-bye"),
	};
	k.legs[0] = (rp_cdr_leg){ .role = RP_STR_LIT("caller"), .peer = RP_STR_LIT("203.0.113.5:5061"),
		.transport = RP_STR_LIT("tls"), .tls_version = RP_STR_LIT("TLSv1.3"),
		.tls_cipher = RP_STR_LIT("TLS_AES_128_GCM_SHA256"),
		.peer_cert_subject = RP_STR_LIT("CN=pbx.example.com,O=\"Ex\""),
		.media = RP_STR_LIT("AES_CM_128_HMAC_SHA1_80"),
		.packets_in = 3000, .packets_out = 2990, .packets_lost = 4,
		.bytes_in = 516000, .bytes_out = 514280, .malformed = 2 };
	k.legs[1] = (rp_cdr_leg){ .role = RP_STR_LIT("callee"), .peer = RP_STR_LIT("10.0.0.7:5060"),
		.transport = RP_STR_LIT("udp"), .media = RP_STR_LIT("plain"),
		.packets_in = 2990, .packets_out = 3000 };
	return k;
}

/* Runs a Python check over the file; returns its exit status. */
static int py_check(const char *file, const char *script)
{
	char tmp[160];
	snprintf(tmp, sizeof(tmp), "%s/check.py", dir);
	FILE *f = fopen(tmp, "w");
	ck_assert_ptr_nonnull(f);
	fputs("import json, sys\n"
		"def strict(pairs):\n"
		"    keys = [k for k, _ in pairs]\n"
		"    assert len(keys) == len(set(keys)), 'duplicate key'\n"
		"    return dict(pairs)\n"
		"def bad_const(c):\n"
		"    raise ValueError('non-JSON constant ' + c)\n"
		"raw = open(sys.argv[1], 'rb').read()\n"
		"assert raw.endswith(b'\\n')\n"
		"recs = [json.loads(l.decode('utf-8', 'strict'), object_pairs_hook=strict, parse_constant=bad_const)\n"
		"        for l in raw.split(b'\\n')[:-1]]\n", f);
	fputs(script, f);
	fclose(f);
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "python3 '%s' '%s'", tmp, file);
	return system(cmd);
}

START_TEST(lines_are_valid_json)
{
	rp_cdr *c;
	rp_cdr_cfg cfg = { .path = path };
	ck_assert_int_eq(rp_cdr_open(&cfg, &c), 0);
	rp_cdr_call k = sample("a84b4c76e66710@pc33.example.com");
	ck_assert_int_eq(rp_cdr_write(c, &k), 0);
	/* Hostile bytes: quotes, newline, control, invalid UTF-8. */
	k = sample("x\"y\n\x01\xff\xc3(");
	k.answer_ns = 0;
	k.final_code = 486;
	k.end_reason = RP_STR_LIT("rejected");
	k.legs[0].media = RP_STR_NULL;
	k.legs[0].tls_version = RP_STR_NULL;
	ck_assert_int_eq(rp_cdr_write(c, &k), 0);
	k = sample("all-tls");
	k.legs[1].transport = RP_STR_LIT("tls");
	k.legs[1].media = RP_STR_LIT("AEAD_AES_256_GCM");
	ck_assert_int_eq(rp_cdr_write(c, &k), 0);
	rp_cdr_close(c);
	ck_assert_int_eq(count_lines(path), 3);
	ck_assert_int_eq(py_check(path,
		"assert len(recs) == 3\n"
		"r = recs[0]\n"
		"assert list(r) == ['v','call_id','start','answer','end','duration_ms','trunk','from','to','legs',"
		"'auth_failures','unencrypted','final_code','end_reason'], list(r)\n"
		"assert r['start'] == '2026-11-21T22:26:40.123Z', r['start']\n"
		"assert r['answer'] == '2026-11-21T22:26:42.000Z'\n"
		"assert r['duration_ms'] == 60500\n"
		"assert r['from'] == 'sip:+15551234567@example.com'\n"
		"assert r['legs'][0]['tls_version'] == 'TLSv1.3'\n"
		"assert r['legs'][0]['peer_cert_subject'] == 'CN=pbx.example.com,O=\"Ex\"'\n"
		"assert r['legs'][1]['media'] == 'plain' and r['legs'][1]['tls_cipher'] is None\n"
		"assert r['legs'][0]['packets_lost'] == 4 and r['auth_failures'] == 1\n"
		"assert r['legs'][0]['malformed'] == 2 and r['legs'][1]['malformed'] == 0\n"
		"assert r['unencrypted'] is True and r['final_code'] == 200\n"
		"r = recs[1]\n"
		"assert r['call_id'] == 'x\"y\\n\\x01\\ufffd\\ufffd(', repr(r['call_id'])\n"
		"assert r['answer'] is None and r['duration_ms'] is None and r['final_code'] == 486\n"
		"assert r['legs'][0]['media'] == 'plain' and r['legs'][0]['tls_version'] is None\n"
		"assert recs[2]['unencrypted'] is False\n"), 0);
	struct stat sb;
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0640);
}
END_TEST

static uint64_t fake_now;
static uint64_t fake_clock(void *arg)
{
	(void)arg;
	return fake_now;
}

START_TEST(fsync_policy)
{
	rp_cdr *c;
	rp_cdr_cfg cfg = { .path = path, .fsync_lines = 3, .fsync_ms = 1000 };
	ck_assert_int_eq(rp_cdr_open(&cfg, &c), 0);
	rp_cdr_set_clock(c, fake_clock, NULL);
	rp_cdr_stats st;
	rp_cdr_call k = sample("1");
	fake_now = 5000;
	ck_assert_int_eq(rp_cdr_write(c, &k), 0);
	ck_assert_int_eq(rp_cdr_write(c, &k), 0);
	rp_cdr_get_stats(c, &st);
	ck_assert_uint_eq(st.fsyncs, 0);
	ck_assert_int_eq(rp_cdr_write(c, &k), 0); /* third line: by count */
	rp_cdr_get_stats(c, &st);
	ck_assert_uint_eq(st.fsyncs, 1);
	ck_assert_uint_eq(st.lines, 3);

	ck_assert_int_eq(rp_cdr_write(c, &k), 0); /* pending since 5000 */
	fake_now = 5999;
	ck_assert_int_eq(rp_cdr_tick(c), 0);
	rp_cdr_get_stats(c, &st);
	ck_assert_uint_eq(st.fsyncs, 1);
	fake_now = 6000; /* by time, with no new line */
	ck_assert_int_eq(rp_cdr_tick(c), 0);
	rp_cdr_get_stats(c, &st);
	ck_assert_uint_eq(st.fsyncs, 2);
	/* Nothing pending: neither tick nor flush fsyncs. */
	fake_now = 99999;
	ck_assert_int_eq(rp_cdr_tick(c), 0);
	ck_assert_int_eq(rp_cdr_flush(c), 0);
	rp_cdr_get_stats(c, &st);
	ck_assert_uint_eq(st.fsyncs, 2);
	/* An old line makes the next write sync by time. */
	ck_assert_int_eq(rp_cdr_write(c, &k), 0);
	fake_now += 1000;
	ck_assert_int_eq(rp_cdr_write(c, &k), 0);
	rp_cdr_get_stats(c, &st);
	ck_assert_uint_eq(st.fsyncs, 3);
	ck_assert_int_eq(rp_cdr_write(c, &k), 0);
	ck_assert_int_eq(rp_cdr_flush(c), 0);
	rp_cdr_get_stats(c, &st);
	ck_assert_uint_eq(st.fsyncs, 4);
	ck_assert_uint_eq(st.errors, 0);
	rp_cdr_close(c);
	ck_assert_int_eq(count_lines(path), 7);
}
END_TEST

START_TEST(reopen_after_rename)
{
	rp_cdr *c;
	rp_cdr_cfg cfg = { .path = path, .fsync_lines = 1 };
	ck_assert_int_eq(rp_cdr_open(&cfg, &c), 0);
	rp_cdr_call k = sample("r");
	char old[160], old2[160];
	snprintf(old, sizeof(old), "%s.1", path);
	snprintf(old2, sizeof(old2), "%s.2", path);
	ck_assert_int_eq(rp_cdr_write(c, &k), 0);
	ck_assert_int_eq(rp_cdr_write(c, &k), 0);
	ck_assert_int_eq(rename(path, old), 0);
	/* Between rename and signal, lines still reach the renamed file. */
	ck_assert_int_eq(rp_cdr_write(c, &k), 0);
	rp_cdr_request_reopen(c); /* what a SIGHUP handler does */
	ck_assert_int_eq(rp_cdr_write(c, &k), 0);
	ck_assert_int_eq(rp_cdr_write(c, &k), 0);
	ck_assert_int_eq(count_lines(old), 3);
	ck_assert_int_eq(count_lines(path), 2);

	/* Direct reopen; then a reopen that cannot open keeps the old file. */
	ck_assert_int_eq(rename(path, old2), 0);
	ck_assert_int_eq(rp_cdr_reopen(c), 0);
	ck_assert_int_eq(rp_cdr_write(c, &k), 0);
	ck_assert_int_eq(rename(path, old2), 0); /* replaces .2 (2 lines) */
	ck_assert_int_eq(mkdir(path, 0700), 0);
	ck_assert_int_eq(rp_cdr_reopen(c), -EISDIR);
	ck_assert_int_eq(rp_cdr_write(c, &k), 0);
	rp_cdr_stats st;
	rp_cdr_get_stats(c, &st);
	ck_assert_uint_eq(st.reopens, 2);
	ck_assert_uint_eq(st.errors, 1);
	ck_assert_uint_eq(st.lines, 7);
	rp_cdr_close(c);
	ck_assert_int_eq(count_lines(old2), 2);
	ck_assert_int_eq(rmdir(path), 0);
	ck_assert_int_eq(py_check(old, "assert len(recs) == 3\n"), 0);
}
END_TEST

START_TEST(privacy_hashing)
{
	rp_cdr *c, *c2, *c3;
	uint8_t key[20];
	memset(key, 0x0b, sizeof(key));
	rp_cdr_cfg cfg = { .path = path, .hash = RP_CDR_HASH_HMAC, .secret = key, .secret_len = 20 };
	ck_assert_int_eq(rp_cdr_open(&cfg, &c), 0);
	char h[96], h2[96];
	/* RFC 4231 test case 1. */
	ck_assert_int_eq(rp_cdr_hash_value(c, RP_STR_LIT("Hi There"), h, sizeof(h)), 12 + 64);
	ck_assert_str_eq(h, "hmac-sha256:b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
	ck_assert_int_eq(rp_cdr_hash_value(c, RP_STR_LIT("Hi There"), h, 40), -ENOSPC);
	rp_cdr_call k = sample("p");
	ck_assert_int_eq(rp_cdr_write(c, &k), 0);
	/* Same secret: same pseudonym (stable across restarts). */
	ck_assert_int_eq(rp_cdr_open(&cfg, &c2), 0);
	ck_assert_int_eq(rp_cdr_hash_value(c, k.from, h, sizeof(h)), 76);
	ck_assert_int_eq(rp_cdr_hash_value(c2, k.from, h2, sizeof(h2)), 76);
	ck_assert_str_eq(h, h2);
	ck_assert_int_eq(rp_cdr_write(c2, &k), 0);
	key[0] ^= 1; /* the writer copied the key: this must not matter... */
	ck_assert_int_eq(rp_cdr_hash_value(c2, k.from, h2, sizeof(h2)), 76);
	ck_assert_str_eq(h, h2);
	rp_cdr_close(c2);
	ck_assert_int_eq(rp_cdr_open(&cfg, &c3), 0); /* ...but another secret does */
	ck_assert_int_eq(rp_cdr_hash_value(c3, k.from, h2, sizeof(h2)), 76);
	ck_assert_str_ne(h, h2);
	rp_cdr_close(c3);
	rp_cdr_close(c);

	cfg = (rp_cdr_cfg){ .path = path, .hash = RP_CDR_HASH_SHA256 };
	ck_assert_int_eq(rp_cdr_open(&cfg, &c), 0);
	ck_assert_int_eq(rp_cdr_hash_value(c, RP_STR_LIT("abc"), h, sizeof(h)), 7 + 64);
	ck_assert_str_eq(h, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	ck_assert_int_eq(rp_cdr_write(c, &k), 0);
	rp_cdr_close(c);

	/* No plaintext number in the file; from/to are the hashes. recs[0]
	 * used the original key: recompute its HMAC. */
	char script[512];
	key[0] ^= 1;
	cfg = (rp_cdr_cfg){ .path = path, .hash = RP_CDR_HASH_HMAC, .secret = key, .secret_len = 20 };
	ck_assert_int_eq(rp_cdr_open(&cfg, &c), 0);
	ck_assert_int_eq(rp_cdr_hash_value(c, k.from, h, sizeof(h)), 76);
	rp_cdr_close(c);
	snprintf(script, sizeof(script),
		"assert b'15551234567' not in raw and b'442071234567' not in raw\n"
		"assert recs[0]['from'] == '%s', recs[0]['from']\n"
		"assert recs[0]['from'] == recs[1]['from']\n"
		"assert recs[2]['from'].startswith('sha256:') and len(recs[2]['from']) == 71\n"
		"assert recs[0]['to'].startswith('hmac-sha256:') and recs[0]['to'] != recs[0]['from']\n", h);
	ck_assert_int_eq(py_check(path, script), 0);
}
END_TEST

START_TEST(bad_input)
{
	rp_cdr *c = NULL;
	rp_cdr_cfg cfg = { .path = path, .hash = RP_CDR_HASH_HMAC };
	ck_assert_int_eq(rp_cdr_open(&cfg, &c), -EINVAL); /* no secret */
	cfg = (rp_cdr_cfg){ .path = "/nonexistent-dir/x/cdr.jsonl" };
	ck_assert_int_eq(rp_cdr_open(&cfg, &c), -ENOENT);
	ck_assert_ptr_null(c);
	cfg = (rp_cdr_cfg){ .path = path };
	ck_assert_int_eq(rp_cdr_open(&cfg, &c), 0);
	rp_cdr_call k = sample("b");
	k.nlegs = RP_CDR_MAX_LEGS + 1;
	ck_assert_int_eq(rp_cdr_write(c, &k), -EINVAL);
	k = sample("b");
	size_t n = 70000;
	char *big = malloc(n);
	memset(big, 'a', n);
	k.call_id = rp_str_make(big, n);
	ck_assert_int_eq(rp_cdr_write(c, &k), -EMSGSIZE);
	free(big);
	rp_cdr_close(c);
	ck_assert_int_eq(count_lines(path), 0);
}
END_TEST

#define THREADS 4
#define PER_THREAD 250

static void *writer(void *arg)
{
	rp_cdr *c = arg;
	rp_cdr_call k = sample("threaded");
	for (int i = 0; i < PER_THREAD; i++)
		if (rp_cdr_write(c, &k) != 0)
			return (void *)1;
	return NULL;
}

START_TEST(threads_no_interleaving)
{
	rp_cdr *c;
	rp_cdr_cfg cfg = { .path = path, .fsync_lines = 50 };
	ck_assert_int_eq(rp_cdr_open(&cfg, &c), 0);
	fake_now = 1;
	rp_cdr_set_clock(c, fake_clock, NULL); /* count-based syncs only */
	pthread_t t[THREADS];
	for (int i = 0; i < THREADS; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, writer, c), 0);
	for (int i = 0; i < THREADS; i++) {
		void *r;
		pthread_join(t[i], &r);
		ck_assert_ptr_null(r);
	}
	rp_cdr_stats st;
	rp_cdr_get_stats(c, &st);
	ck_assert_uint_eq(st.fsyncs, THREADS * PER_THREAD / 50);
	rp_cdr_close(c);
	ck_assert_int_eq(py_check(path, "assert len(recs) == 1000 and all(r['call_id'] == 'threaded' for r in recs)\n"), 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("cdr");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, lines_are_valid_json);
	tcase_add_test(tc, fsync_policy);
	tcase_add_test(tc, reopen_after_rename);
	tcase_add_test(tc, privacy_hashing);
	tcase_add_test(tc, bad_input);
	tcase_add_test(tc, threads_no_interleaving);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
