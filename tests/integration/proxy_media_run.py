#!/usr/bin/env python3
"""Runs proxy_media_check (the proxy's media layer: offer/answer, a=crypto,
policy, mediactl) against a real rampart-mediad started on a temporary
control socket and a free small port range (bind-probed), like run-mediad.sh.

usage: proxy_media_run.py MEDIAD CHECK"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from testports import free_udp_range  # noqa: E402


def start_mediad(mediad, d):
    for attempt in range(3):
        lo = free_udp_range(16)
        sock = os.path.join(d, "mediad.sock")
        conf = os.path.join(d, "mediad.conf")
        with open(conf, "w") as f:
            f.write(f"listen = 127.0.0.1\nports = {lo}-{lo + 15}\nworkers = 1\n"
                    f"engine = mmsg\ncontrol = {sock}\nlog-level = notice\n")
        log = open(os.path.join(d, "mediad.log"), "w")
        p = subprocess.Popen([mediad, "--config", conf], stderr=log, stdout=log)
        for _ in range(50):
            if os.path.exists(sock) or p.poll() is not None:
                break
            time.sleep(0.1)
        if os.path.exists(sock):
            return p, sock
        print(f"attempt {attempt + 1}: mediad did not start")
        p.kill()
        p.wait()
    return None, None


def main():
    mediad, check = sys.argv[1], sys.argv[2]
    d = tempfile.mkdtemp(prefix="rampart-proxy-media-")
    p = None
    try:
        p, sock = start_mediad(mediad, d)
        if not p:
            print(open(os.path.join(d, "mediad.log")).read())
            return 1
        r = subprocess.run([check, sock], timeout=60)
        rc = r.returncode
        if p.poll() is not None:
            print("mediad died during the test")
            rc = 1
        if rc != 0:
            print("--- mediad log")
            print(open(os.path.join(d, "mediad.log")).read())
        return rc
    finally:
        if p and p.poll() is None:
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
