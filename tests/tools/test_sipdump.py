#!/usr/bin/env python3
"""rampart-sipdump against real files: exit status per RFC 4475 message,
JSON structure of an SRTP INVITE, keys hidden unless asked for, errors with
byte offsets, stdin input. Usage: test_sipdump.py SIPDUMP DATA_DIR"""
import base64
import json
import os
import subprocess
import sys

sipdump, data = sys.argv[1], sys.argv[2]
rfc = os.path.join(data, "..", "..", "unit", "data", "rfc4475")
fails = 0
checks = 0


def check(cond, what):
    global fails, checks
    checks += 1
    if not cond:
        fails += 1
        print(f"FAIL: {what}")


def run(*args, stdin=None):
    p = subprocess.run([sipdump, *args], input=stdin, capture_output=True, timeout=30)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode()


# RFC 4475 §3.1.1 (valid) and §3.1.2 (invalid).
VALID = ["wsinv", "intmeth", "esc01", "escnull", "esc02", "lwsdisp", "longreq",
         "dblreq", "semiuri", "transports", "mpart01", "unreason", "noreason"]
INVALID = ["badinv01", "clerr", "ncl", "scalar02", "scalarlg", "quotbal",
           "ltgtruri", "lwsruri", "lwsstart", "trws", "escruri", "badaspec",
           "baddn", "badvers", "mismatch01", "mismatch02", "bigcode", "insuf"]
for name in VALID:
    rc, out, _ = run(os.path.join(rfc, name + ".dat"))
    check(rc == 0, f"{name}: valid message exits 0 (got {rc})")
    rc, out, _ = run("--json", os.path.join(rfc, name + ".dat"))
    try:
        doc = json.loads(out)
        check("headers" in doc and doc["type"] in ("request", "response"),
              f"{name}: JSON has type and headers")
    except ValueError as e:
        check(False, f"{name}: JSON parses ({e})")
for name in INVALID:
    rc, out, _ = run(os.path.join(rfc, name + ".dat"))
    check(rc == 1, f"{name}: invalid message exits 1 (got {rc})")
    check("at byte" in out, f"{name}: error names the byte offset")
    rc, out, _ = run("--json", os.path.join(rfc, name + ".dat"))
    doc = json.loads(out)
    check(rc == 1 and isinstance(doc.get("offset"), int) and doc.get("code", "").startswith("SIP_E_"),
          f"{name}: JSON error has code and offset")

# Structure of an SRTP INVITE.
inv = os.path.join(data, "invite_srtp.sip")
rc, out, _ = run("--json", inv)
check(rc == 0, "invite_srtp parses")
d = json.loads(out)
check(d["method"] == "INVITE", "method")
check(d["request_uri"]["scheme"] == "sips" and d["request_uri"]["user"] == "bob", "sips Request-URI")
check(d["via"][0]["transport"] == "TLS" and d["via"][0]["port"] == 5061
      and d["via"][0]["branch"] == "z9hG4bK776asdhds" and d["via"][0]["rport"] is True, "Via fields")
check(d["from"]["tag"] == "1928301774", "From tag")
check(d["cseq"] == {"num": 314159, "method": "INVITE"}, "CSeq")
m = d["sdp"]["media"][0]
check(m["proto"] == "RTP/SAVP" and m["port"] == 49170, "m= line")
c = m["crypto"]
check(len(c) == 2, "two crypto lines")
check(c[0]["suite"] == "AES_CM_128_HMAC_SHA1_80" and c[0]["keys"][0]["key_len"] == 16
      and c[0]["keys"][0]["lifetime"] == "2^20" and c[0]["keys"][0]["mki_len"] == 4, "crypto 1 decoded")
check(c[1]["suite"] == "AES_256_CM_HMAC_SHA1_32" and c[1]["keys"][0]["key_len"] == 32,
      "crypto 2 (unpadded base64, AES-256) decoded")
check("inline" not in out and "PS1uQCVe" not in out, "keys hidden by default")
rc, out, _ = run("--json", "--show-keys", inv)
k = json.loads(out)["sdp"]["media"][0]["crypto"][1]["keys"][0]["inline"]
check(base64.b64decode(k) == bytes(range(1, 47)), "--show-keys prints the padded key")

# stdin, text form, usage and I/O errors.
with open(inv, "rb") as f:
    rc, out, _ = run(stdin=f.read())
check(rc == 0 and "AES_CM_128_HMAC_SHA1_80" in out and "method: INVITE" in out, "stdin + text form")
rc, out, _ = run(stdin=b"INVITE sip:a@b SIP/2.0\r\nVia: nonsense\r\n\r\n")
check(rc == 1 and "rejected" in out, "garbage on stdin rejected")
rc, _, err = run("/nonexistent/file")
check(rc == 2 and "No such file" in err, "missing file exits 2")
rc, _, _ = run("--bogus")
check(rc == 2, "bad option exits 2")
rc, out, _ = run(stdin=b"")
check(rc == 1, "empty input rejected")

print(f"{checks - fails} passed, {fails} failed")
sys.exit(1 if fails else 0)
