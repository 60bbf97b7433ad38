#!/usr/bin/env python3
"""Idle change-stream watchers and commit-to-watcher latency (bench/events.sh).

  events_clients.py --watch-port P --commit-port P --token T --project NAME
                    --watchers N --commits K [--pid PID] [--base REV]

Opens N streams (GET /api/v1/events) on the watch port and waits for every
200; then reads the server's VmRSS (--pid), commits K revisions one after
another on the commit port and, for each, measures the time from its 201
to the last watcher (and to every watcher) receiving its event. Prints
key=value lines: rss_before_kib, rss_after_kib, last_p50_ms, last_p99_ms,
any_p50_ms, any_p99_ms, missed.
"""
import argparse
import http.client
import random
import selectors
import socket
import sys
import time

ap = argparse.ArgumentParser()
ap.add_argument("--watch-port", type=int, required=True)
ap.add_argument("--commit-port", type=int, required=True)
ap.add_argument("--token", required=True)
ap.add_argument("--project", required=True)
ap.add_argument("--watchers", type=int, default=1000)
ap.add_argument("--commits", type=int, default=20)
ap.add_argument("--pid", type=int, default=0)
ap.add_argument("--base", type=int, default=0)
ap.add_argument("--timeout", type=float, default=30)
ap.add_argument("--jitter", type=float, default=0,
                help="sleep up to this many seconds (random) before each commit, so that "
                     "commits do not fall in step with a node's polling")
a = ap.parse_args()


def rss_kib(pid):
    if not pid:
        return 0
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def pct(xs, p):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = min(len(xs) - 1, max(0, int(round(p / 100.0 * (len(xs) - 1)))))
    return xs[k]


time.sleep(0.5)
rss_before = rss_kib(a.pid)
sel = selectors.DefaultSelector()
req = ("GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
       "Accept: text/event-stream\r\n\r\n" % a.token).encode()
conns = {}
for _ in range(a.watchers):
    s = socket.create_connection(("127.0.0.1", a.watch_port))
    s.sendall(req)
    s.setblocking(False)
    conns[s] = {"buf": b"", "ok": False}
    sel.register(s, selectors.EVENT_READ)


def pump(until, pred):
    while time.time() < until and not pred():
        for key, _ in sel.select(timeout=0.05):
            s = key.fileobj
            try:
                d = s.recv(65536)
            except BlockingIOError:
                continue
            if not d:
                sel.unregister(s)
                continue
            c = conns[s]
            c["buf"] += d
            c["t"] = time.time()
            if not c["ok"] and b"\r\n\r\n" in c["buf"]:
                c["ok"] = b" 200 " in c["buf"].split(b"\r\n", 1)[0]


pump(time.time() + a.timeout, lambda: all(c["ok"] for c in conns.values()))
opened = sum(1 for c in conns.values() if c["ok"])
if opened != a.watchers:
    sys.stderr.write("only %d of %d streams opened\n" % (opened, a.watchers))
    sys.exit(1)
time.sleep(1)  # settle: what the idle streams cost, not their set-up
rss_after = rss_kib(a.pid)

hc = http.client.HTTPConnection("127.0.0.1", a.commit_port, timeout=30)
last, anyd, missed = [], [], 0
for i in range(a.commits):
    for c in conns.values():
        c["buf"] = b""
        c["got"] = None
    rev = a.base + i
    if a.jitter > 0:
        time.sleep(random.uniform(0, a.jitter))
    msg = "bench-%d-%d" % (rev + 1, int(time.time() * 1000))
    hc.request("POST", "/api/v1/projects/%s/revisions?base=%d&message=%s" % (a.project, rev, msg),
               body=b"x" * 100, headers={"Authorization": "Bearer " + a.token,
                                          "Content-Type": "application/octet-stream"})
    r = hc.getresponse()
    r.read()
    t201 = time.time()
    if r.status != 201:
        sys.stderr.write("commit %d answered %d\n" % (rev + 1, r.status))
        sys.exit(1)
    needle = msg.encode()

    def arrived():
        for c in conns.values():
            if c["got"] is None and needle in c["buf"]:
                c["got"] = c["t"]
        return all(c["got"] is not None for c in conns.values())

    def pred():
        return arrived()

    pump(t201 + 10, pred)
    arrived()
    got = [c["got"] for c in conns.values() if c["got"] is not None]
    missed += a.watchers - len(got)
    if got:
        last.append((max(got) - t201) * 1000)
        anyd.extend((g - t201) * 1000 for g in got)

print("watchers=%d" % a.watchers)
print("rss_before_kib=%d" % rss_before)
print("rss_after_kib=%d" % rss_after)
print("last_p50_ms=%.1f" % pct(last, 50))
print("last_p99_ms=%.1f" % pct(last, 99))
print("any_p50_ms=%.1f" % pct(anyd, 50))
print("any_p99_ms=%.1f" % pct(anyd, 99))
print("missed=%d" % missed)
