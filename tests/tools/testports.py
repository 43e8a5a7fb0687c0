"""A window of UDP ports nobody holds, found at run time by binding them.

Tests that give rampart-mediad a port range used to derive it from the pid
(or pick it at random) and collided with whatever held those ports: a
benchmark's mediad holding 24000-31999, another test. free_udp_range()
bind-probes random even bases instead and returns the first whose n ports
all bind now (on 127.0.0.1, and on ::1 where the host has IPv6). A port
taken between the probe and mediad's bind is skipped by mediad's pool.

As a program (for shell drivers): testports.py N prints such a base.
"""
import errno
import random
import socket
import sys

LO, HI = 20000, 61000


def _bind(family, addr, port):
    s = socket.socket(family, socket.SOCK_DGRAM)
    try:
        s.bind((addr, port))
    except OSError:
        s.close()
        raise
    return s


def free_udp_range(n, lo=LO, hi=HI, tries=500):
    """An even base b with b..b+n-1 free for UDP on loopback right now."""
    rnd = random.SystemRandom()
    v6 = socket.has_ipv6
    for _ in range(tries):
        b = rnd.randrange(lo, hi - n) // 2 * 2
        socks = []
        try:
            for p in range(b, b + n):
                socks.append(_bind(socket.AF_INET, "127.0.0.1", p))
                if v6:
                    try:
                        socks.append(_bind(socket.AF_INET6, "::1", p))
                    except OSError as e:
                        if e.errno == errno.EADDRINUSE:  # held
                            raise
                        v6 = False  # no IPv6 loopback here
            return b
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError(f"no window of {n} free UDP ports in {lo}-{hi - 1}")


if __name__ == "__main__":
    print(free_udp_range(int(sys.argv[1])))
