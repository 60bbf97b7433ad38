#!/usr/bin/env python3
"""Many idle change-stream watchers on one atriumd, for tests and bench.

  watchers.py PORT TOKEN N [--ready FILE] [--want TYPE] [--timeout S] [--times FILE]

Opens N streams (GET /api/v1/events), writes "ready" to FILE once every one
has its 200, then waits until each has received an event of TYPE (default
revision.committed) and prints how many did. With --times, each watcher's
arrival time (time.time(), seconds) is written there, one a line.
"""
import argparse
import selectors
import socket
import sys
import time

ap = argparse.ArgumentParser()
ap.add_argument("port", type=int)
ap.add_argument("token")
ap.add_argument("n", type=int)
ap.add_argument("--ready")
ap.add_argument("--want", default="revision.committed")
ap.add_argument("--timeout", type=float, default=60)
ap.add_argument("--times")
a = ap.parse_args()

sel = selectors.DefaultSelector()
req = ("GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
       "Authorization: Bearer %s\r\nAccept: text/event-stream\r\n\r\n" % a.token).encode()
conns = {}
for i in range(a.n):
    s = socket.create_connection(("127.0.0.1", a.port))
    s.sendall(req)
    s.setblocking(False)
    conns[s] = {"buf": b"", "ok": False, "got": None}
    sel.register(s, selectors.EVENT_READ)

want = ("event: %s\n" % a.want).encode()
deadline = time.time() + a.timeout
ready_written = False
while time.time() < deadline:
    if not ready_written and all(c["ok"] for c in conns.values()):
        if a.ready:
            with open(a.ready, "w") as f:
                f.write("ready\n")
        ready_written = True
    if all(c["got"] is not None for c in conns.values()):
        break
    for key, _ in sel.select(timeout=0.2):
        s = key.fileobj
        c = conns[s]
        try:
            d = s.recv(65536)
        except BlockingIOError:
            continue
        now = time.time()
        if not d:
            sel.unregister(s)
            continue
        c["buf"] += d
        if not c["ok"] and b"\r\n\r\n" in c["buf"]:
            head = c["buf"].split(b"\r\n", 1)[0]
            if b" 200 " not in head:
                sys.stderr.write("refused: %s\n" % head.decode(errors="replace"))
                sel.unregister(s)
                continue
            c["ok"] = True
        if c["got"] is None and want in c["buf"]:
            c["got"] = now
        if len(c["buf"]) > 1 << 20:
            c["buf"] = c["buf"][-4096:]

got = [c["got"] for c in conns.values() if c["got"] is not None]
if a.times:
    with open(a.times, "w") as f:
        for t in got:
            f.write("%.6f\n" % t)
print(len(got))
