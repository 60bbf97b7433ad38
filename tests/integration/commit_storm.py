#!/usr/bin/env python3
"""Many concurrent committers against one atriumd, and a check of what it acknowledged.

  commit_storm.py storm  --base URL --token T --acked FILE [--committers 200]
                         [--shared 10] [--seconds 60] [--started FILE] [--seed N]
  commit_storm.py verify --base URL --token T --acked FILE [--from LINE]

storm: COMMITTERS threads, each on its own keep-alive connection, commit as
fast as they can until the server goes away (a refused or cut connection)
or SECONDS pass. Half of them share SHARED projects (s0..), so they collide:
a 409 gives the new head and the same content is committed again on it.
The others each have a project of their own (o0..). Content is random:
mostly 1 B..8 KiB, sometimes up to 1 MiB (so that a kill may land in the
middle of a streamed upload), sometimes one of a few fixed texts (identical
content is stored once). Every 201 is checked (number = base + 1, sha256
and size as sent) and appended to FILE as "project number sha256 size".
STARTED is created at the first acknowledgement. Prints one summary line;
exit status 1 when the server broke its protocol.

verify: every line of FILE (from line FROM, 1-based) must be in the server
with its sha256 and size (metadata) and its exact bytes (content); no
(project, number) may have been acknowledged twice with different content;
each project's head must be at least its highest acknowledged number.
Prints failures as "# ..." lines and one summary; exit status 1 on any.
"""
import argparse
import hashlib
import http.client
import json
import os
import random
import sys
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

FIXED = [b"", b"same content for everybody\n", b"x" * 4096, bytes(range(256)) * 64]


def connect(base):
    u = urllib.parse.urlsplit(base)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=60)


class Storm:
    def __init__(self, a):
        self.a = a
        self.lock = threading.Lock()
        self.acked = []
        self.conflicts = 0
        self.other = 0
        self.violations = []
        self.stop = threading.Event()
        self.deadline = time.monotonic() + a.seconds
        self.started = False

    def note_ack(self, line):
        with self.lock:
            self.acked.append(line)
            if not self.started and self.a.started:
                self.started = True
                with open(self.a.started, "w") as f:
                    f.write("started\n")

    def content(self, rnd):
        x = rnd.random()
        if x < 0.03:
            return rnd.choice(FIXED)
        if x < 0.04:
            return rnd.randbytes(rnd.randint(64 << 10, 1 << 20))
        return rnd.randbytes(rnd.randint(1, 8192))

    def committer(self, i):
        a = self.a
        rnd = random.Random(a.seed * 1000 + i)
        project = "s%d" % ((i // 2) % a.shared) if i % 2 == 0 else "o%d" % (i // 2)
        hdr = {"Authorization": "Bearer " + a.token}
        conn = None
        base = 0
        body = None
        failures = 0
        k = 0
        while not self.stop.is_set() and time.monotonic() < self.deadline:
            if body is None:
                body = self.content(rnd)
                k += 1
            try:
                if conn is None:
                    conn = connect(a.base)
                q = urllib.parse.urlencode({"base": base, "message": "c%d-%d" % (i, k)})
                conn.request("POST", "/api/v1/projects/%s/revisions?%s" % (project, q),
                             body=body, headers=hdr)
                r = conn.getresponse()
                data = r.read()
                failures = 0
            except (OSError, http.client.HTTPException):
                # The server is gone (killed), or it answered early (a 409
                # before the upload) and closed while the body was still
                # going out. Gone: stop. Otherwise start again from the
                # project's head as the server has it.
                if conn is not None:
                    conn.close()
                    conn = None
                failures += 1
                head = self.head(project, hdr)
                if head is None or failures >= 20:
                    break
                base = head
                continue
            if r.status == 201:
                j = json.loads(data)
                sha = hashlib.sha256(body).hexdigest()
                if j.get("revision") != base + 1 or j.get("sha256") != sha or j.get("size") != len(body):
                    with self.lock:
                        self.violations.append("%s: sent base %d sha256 %s size %d, got %s" %
                                               (project, base, sha, len(body), data[:300]))
                self.note_ack("%s %d %s %d" % (project, j.get("revision"), j.get("sha256"), j.get("size")))
                base = j.get("revision", base)
                body = None
            elif r.status == 409:
                with self.lock:
                    self.conflicts += 1
                try:
                    base = json.loads(data)["head"]["number"]
                except (ValueError, KeyError, TypeError):
                    with self.lock:
                        self.violations.append("%s: 409 without a head: %s" % (project, data[:300]))
                    break
            elif r.status == 404:
                self.create(conn, project, hdr)
            else:
                with self.lock:
                    self.other += 1
                time.sleep(0.05)
        if conn is not None:
            conn.close()

    def head(self, project, hdr):
        """The project's head on a new connection; None when the server is gone."""
        try:
            c = connect(self.a.base)
            c.request("GET", "/api/v1/projects/%s" % project, headers=hdr)
            r = c.getresponse()
            data = r.read()
            c.close()
        except (OSError, http.client.HTTPException):
            return None
        if r.status == 404:
            return 0
        return json.loads(data).get("head", 0) if r.status == 200 else 0

    def create(self, conn, project, hdr):
        h = dict(hdr)
        h["Content-Type"] = "application/json"
        conn.request("POST", "/api/v1/projects", body=json.dumps({"name": project}), headers=h)
        conn.getresponse().read()  # 201, or 409 when another committer was first

    def run(self):
        threads = [threading.Thread(target=self.committer, args=(i,), daemon=True)
                   for i in range(self.a.committers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        with open(self.a.acked, "a") as f:
            for line in self.acked:
                f.write(line + "\n")
        print("storm: %d revisions acknowledged, %d conflicts (409) retried on the new head, "
              "%d other answers" % (len(self.acked), self.conflicts, self.other))
        for v in self.violations[:20]:
            print("# protocol violation: " + v)
        return 1 if self.violations else 0


def verify(a):
    with open(a.acked) as f:
        lines = [l.split() for l in f if l.strip()]
    seen = {}
    problems = []
    for p, n, sha, size in lines:
        key = (p, int(n))
        if key in seen and seen[key] != (sha, int(size)):
            problems.append("%s revision %s acknowledged twice: %s and %s" % (p, n, seen[key], (sha, size)))
        seen[key] = (sha, int(size))
    todo = lines[max(a.start - 1, 0):]
    local = threading.local()

    def get(path):
        for attempt in range(3):
            try:
                if getattr(local, "conn", None) is None:
                    local.conn = connect(a.base)
                local.conn.request("GET", path, headers={"Authorization": "Bearer " + a.token})
                r = local.conn.getresponse()
                return r.status, r.read()
            except (OSError, http.client.HTTPException):
                local.conn = None
                if attempt == 2:
                    raise
                time.sleep(0.2)

    def one(rec):
        p, n, sha, size = rec
        st, data = get("/api/v1/projects/%s/revisions/%s" % (p, n))
        if st != 200:
            return "%s revision %s: metadata answered %d %s" % (p, n, st, data[:200])
        j = json.loads(data)
        if j.get("sha256") != sha or j.get("size") != int(size):
            return "%s revision %s: server has sha256 %s size %s, acknowledged %s size %s" % (
                p, n, j.get("sha256"), j.get("size"), sha, size)
        st, data = get("/api/v1/projects/%s/revisions/%s/content" % (p, n))
        if st != 200 or hashlib.sha256(data).hexdigest() != sha or len(data) != int(size):
            return "%s revision %s: content answered %d, %d bytes hashing to %s, not %s" % (
                p, n, st, len(data), hashlib.sha256(data).hexdigest(), sha)
        return None

    with ThreadPoolExecutor(max_workers=8) as ex:
        for res in ex.map(one, todo):
            if res:
                problems.append(res)
    highest = {}
    for p, n, _, _ in lines:
        highest[p] = max(highest.get(p, 0), int(n))
    for p, n in sorted(highest.items()):
        st, data = get("/api/v1/projects/%s" % p)
        head = json.loads(data).get("head", -1) if st == 200 else -1
        if head < n:
            problems.append("project %s: head %d is behind its highest acknowledged revision %d" % (p, head, n))
    for pr in problems[:30]:
        print("# " + pr)
    print("verify: %d acknowledged revisions checked (metadata and content), %d projects' heads, "
          "%d problems" % (len(todo), len(highest), len(problems)))
    return 1 if problems else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["storm", "verify"])
    ap.add_argument("--base", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--acked", required=True)
    ap.add_argument("--committers", type=int, default=200)
    ap.add_argument("--shared", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--started")
    ap.add_argument("--seed", type=int, default=int.from_bytes(os.urandom(4), "big"))
    ap.add_argument("--from", dest="start", type=int, default=1)
    a = ap.parse_args()
    if a.mode == "storm":
        return Storm(a).run()
    return verify(a)


if __name__ == "__main__":
    sys.exit(main())
