#!/usr/bin/env bash
# bench/webhooks.sh: issue 13's benchmark. One atriumd (release build, fresh
# data directory, free 127.0.0.1 ports) delivering Standard Webhooks to a
# local HTTPS receiver (Node, written below: it reads the body and answers
# 204 at once, no verification, so that its CPU stays small), measured by
# one Python client:
#
#   - commit latency p50/p99, one client, sequential 1 KiB commits over one
#     keep-alive plain connection: with no integration, then (same run, same
#     client, alternating WH_ROUNDS times) while WH_LAT_INTEGRATIONS
#     integrations are being delivered to; their ratio against the issue's
#     goal (p99 moves by at most 10 %);
#   - the same with one integration whose receiver never answers;
#   - events per second delivered with 1 and with 20 integrations: WH_EVENTS
#     events queued while the integrations are paused, then resumed, timed
#     until the receiver has answered every delivery.
#
#   bench/webhooks.sh [OUT_DIR]   results in OUT_DIR (default build/bench-webhooks);
#                                 bench/run passes its own (part "webhooks")
#
# Cores: with WH_PIN=1 (the default when there are 2 or more cores) atriumd
# runs on the last core (taskset) and the receiver and the client on core 0,
# so the receiver's CPU does not take the server's; the receiver also runs at
# nice WH_RECV_NICE (10), so that it does not delay the client's timing on
# their shared core (a receiver stands for another machine). Other processes
# on the machine are not pinned and are reported (other_s, load1).
#
# Knobs: WH_ROUNDS (3), WH_COMMITS (400 per measurement), WH_EVENTS (200),
# WH_LAT_INTEGRATIONS (5), WH_PIN, WH_RECV_NICE (10), ATRIUMD (build/atriumd).
#
# Writes to OUT_DIR: results.tsv rows wh_* (server "atriumd"), meta.tsv
# keys wh_*, commands.tsv, raw/webhooks-*.txt -- what bench/report.py reads.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
export LC_ALL=C

ROUNDS=${WH_ROUNDS:-3}
COMMITS=${WH_COMMITS:-400}
EVENTS=${WH_EVENTS:-200}
LAT_INT=${WH_LAT_INTEGRATIONS:-5}
RECV_NICE=${WH_RECV_NICE:-10}
OUT=${1:-$top/build/bench-webhooks}
RAW=$OUT/raw
TMO=600
ncpu=$(nproc)
PIN=${WH_PIN:-$([[ $ncpu -ge 2 ]] && echo 1 || echo 0)}

[[ -x "${ATRIUMD:=$top/build/atriumd}" ]] || { echo "bench/webhooks.sh: $ATRIUMD is missing: build first (make)" >&2; exit 1; }
for t in node openssl curl python3 taskset; do
	command -v "$t" >/dev/null || { echo "bench/webhooks.sh: $t is missing" >&2; exit 1; }
done

mkdir -p "$RAW"
W=$(mktemp -d "${TMPDIR:-/tmp}/atrium-webhooks.XXXXXX")
[[ -s "$OUT/results.tsv" ]] || printf 'id\tserver\trun\tvalue\tunit\tunits\twall_s\tserver_cpu_s\tclient_cpu_s\tbusy_s\tother_s\tload1\tnote\n' >"$OUT/results.tsv"
[[ -s "$OUT/commands.tsv" ]] || printf 'id\tserver\tcommand\n' >"$OUT/commands.tsv"
[[ -s "$OUT/meta.tsv" ]] || printf 'key\tvalue\n' >"$OUT/meta.tsv"
. "$top/bench/lib.sh"

RECV=
cleanup() {
	local n
	trap - EXIT INT TERM
	[[ -n "$RECV" ]] && kill "$RECV" 2>/dev/null && wait "$RECV" 2>/dev/null
	for n in "${!A_PID[@]}"; do atriumd_stop "$n"; done
	rm -rf "$W"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

# One binary for the whole run, even if build/ is rebuilt meanwhile.
cp "$ATRIUMD" "$W/atriumd"
if [[ $PIN == 1 ]]; then
	SRV_CPU=$((ncpu - 1))
	printf '#!/bin/sh\nexec taskset -c %s %s "$@"\n' "$SRV_CPU" "$W/atriumd.bin" >"$W/atriumd.pinned"
	mv "$W/atriumd" "$W/atriumd.bin"
	mv "$W/atriumd.pinned" "$W/atriumd"
	chmod +x "$W/atriumd"
	SIDE=(taskset -c 0)
	meta wh_cores "atriumd on core $SRV_CPU; receiver and client on core 0; other processes unpinned"
else
	SIDE=()
	meta wh_cores "not pinned: atriumd, receiver and client share the $ncpu core(s)"
fi
ATRIUMD=$W/atriumd

# ------------------------------------------------------------- the receiver
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-keyout "$W/recv.key" -out "$W/recv.pem" -subj /CN=127.0.0.1 \
	-addext subjectAltName=IP:127.0.0.1 >"$RAW/webhooks-cert.txt" 2>&1 ||
	{ log "cannot make the receiver's certificate"; cat "$RAW/webhooks-cert.txt" >&2; exit 1; }
PIN_FP=$(openssl x509 -in "$W/recv.pem" -noout -fingerprint -sha256 | sed 's/.*=//')
# fast: answers 204 once the body is read, counting per first path segment;
# silent: reads the request and never answers; control: GET /PHASE -> count.
cat >"$W/recv.js" <<'JS'
"use strict";
const fs = require("fs"), http = require("http"), https = require("https");
const [fast, silent, control, cert, key] = process.argv.slice(2);
const tls = { cert: fs.readFileSync(cert), key: fs.readFileSync(key) };
const counts = {};
https.createServer(tls, (req, res) => {
  req.resume();
  req.on("end", () => {
    const phase = req.url.split("/")[1] || "-";
    counts[phase] = (counts[phase] || 0) + 1;
    res.writeHead(204);
    res.end();
  });
}).listen(+fast, "127.0.0.1");
https.createServer(tls, (req) => { req.resume(); }).listen(+silent, "127.0.0.1");
http.createServer((req, res) => { res.end(String(counts[req.url.slice(1)] || 0)); })
  .listen(+control, "127.0.0.1", () => console.log("ready"));
JS
read -r R_FAST R_SILENT R_CTL < <(free_ports 3)
"${SIDE[@]}" nice -n "$RECV_NICE" node "$W/recv.js" "$R_FAST" "$R_SILENT" "$R_CTL" "$W/recv.pem" "$W/recv.key" >"$RAW/webhooks-receiver.txt" 2>&1 &
RECV=$!
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$R_CTL/x" && break; sleep 0.1; done
curl -s -o /dev/null "http://127.0.0.1:$R_CTL/x" || { log "the receiver did not start"; cat "$RAW/webhooks-receiver.txt" >&2; exit 1; }

# ------------------------------------------------------------- the server
read -r ADM < <(free_ports 1)
atriumd_start wh --admin-port "$ADM" || exit 1

# ------------------------------------------------------------- the client
cat >"$W/client.py" <<'PY'
# client.py: the measurements (see bench/webhooks.sh); appends result rows.
import http.client, json, os, ssl, statistics, sys, time, urllib.request
(plain, admin, token, password, cacert, fast, silent, control, pin, srv_pid, recv_pid,
 rounds, commits, events, lat_int, results) = sys.argv[1:17]
rounds, commits, events, lat_int = int(rounds), int(commits), int(events), int(lat_int)
CLK = os.sysconf("SC_CLK_TCK")

def ticks(pid):
    try:
        with open("/proc/%s/stat" % pid) as f:
            s = f.read().rsplit(")", 1)[1].split()
        return int(s[11]) + int(s[12])
    except OSError:
        return 0
def busy():
    with open("/proc/stat") as f:
        c = [int(x) for x in f.readline().split()[1:]]
    return c[0] + c[1] + c[2] + c[5] + c[6] + c[7]
def load1():
    with open("/proc/loadavg") as f:
        return f.read().split()[0]

class Meter:
    """Wall, server, receiver+client and other CPU over one measurement."""
    def __enter__(self):
        self.t, self.s, self.r, self.b = time.monotonic(), ticks(srv_pid), ticks(recv_pid), busy()
        self.c, self.l = os.times(), load1()
        return self
    def __exit__(self, *a):
        c = os.times()
        self.wall = time.monotonic() - self.t
        self.srv = (ticks(srv_pid) - self.s) / CLK
        self.cli = (ticks(recv_pid) - self.r) / CLK + (c.user - self.c.user) + (c.system - self.c.system)
        self.other = (busy() - self.b) / CLK - self.srv - self.cli

def row(id_, run, value, unit, units, m, note):
    with open(results, "a") as f:
        f.write("\t".join(str(x) for x in (id_, "atriumd", run, value, unit, units, "%.3f" % m.wall,
                "%.3f" % m.srv, "%.3f" % m.cli, "%.3f" % (m.srv + m.cli + m.other), "%.3f" % m.other,
                m.l, note)) + "\n")

ctx = ssl.create_default_context(cafile=cacert)
class Admin:
    def __init__(self):
        self.c = http.client.HTTPSConnection("localhost", int(admin), context=ctx, timeout=60)
        self.cookie, self.csrf = "", ""
        j = self.call("POST", "/admin/api/login", {"user": "admin", "password": password})
        self.csrf = j["csrf"]
    def call(self, method, path, body=None, want=(200, 201, 204)):
        h = {"Content-Type": "application/json", "Cookie": self.cookie, "X-CSRF-Token": self.csrf}
        self.c.request(method, path, json.dumps(body) if body is not None else None, h)
        r = self.c.getresponse()
        data = r.read()
        for k, v in r.getheaders():
            if k.lower() == "set-cookie":
                self.cookie = v.split(";", 1)[0]
        if r.status not in want:
            sys.exit("%s %s: HTTP %d %s" % (method, path, r.status, data[:300]))
        return json.loads(data) if data else {}
adm = Admin()

def add(names, port, phase):
    for n in names:
        adm.call("POST", "/admin/api/integrations",
                 {"name": n, "url": "https://127.0.0.1:%s/%s/%s" % (port, phase, n), "pin": pin})
def remove(names):
    for n in names:
        adm.call("DELETE", "/admin/api/integrations/" + n)
def received(phase):
    with urllib.request.urlopen("http://127.0.0.1:%s/%s" % (control, phase), timeout=10) as r:
        return int(r.read())

hdr = {"Authorization": "Bearer " + token}
api = http.client.HTTPConnection("127.0.0.1", int(plain), timeout=60)
api.request("POST", "/api/v1/projects", json.dumps({"name": "wh"}), hdr)
api.getresponse().read()
head = 0
blob = bytearray(os.urandom(1024))
def commit_run(n):
    """n sequential commits; their latencies in ms."""
    global head
    lat = []
    for _ in range(n):
        blob[:8] = os.urandom(8)
        t = time.perf_counter()
        api.request("POST", "/api/v1/projects/wh/revisions?base=%d" % head, bytes(blob), hdr)
        r = api.getresponse(); r.read()
        lat.append((time.perf_counter() - t) * 1000)
        if r.status != 201:
            sys.exit("commit: HTTP %d" % r.status)
        head += 1
    return lat
def pct(lat, p):
    s = sorted(lat)
    return s[min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1))))]
def lat_rows(kind, run, lat, m, note):
    row("wh_%s_p50" % kind, run, "%.3f" % pct(lat, 50), "ms", len(lat), m, note)
    row("wh_%s_p99" % kind, run, "%.3f" % pct(lat, 99), "ms", len(lat), m, note)

commit_run(50)  # warm-up: caches, the WAL, the allocator
for run in range(1, rounds + 1):
    with Meter() as m:
        lat = commit_run(commits)
    lat_rows("base", run, lat, m, "no integration")
    names = ["lat%d-%d" % (run, i) for i in range(lat_int)]
    add(names, fast, "lat%d" % run)
    time.sleep(0.2)
    with Meter() as m:
        lat = commit_run(commits)
    got = received("lat%d" % run)
    lat_rows("deliv", run, lat, m, "%d integrations; %d deliveries answered during the %d commits (%.0f/s)"
             % (lat_int, got, commits, got / m.wall))
    remove(names)
    time.sleep(0.5)  # transfers in flight end

# one receiver that never answers (integration_timeout: an attempt is held 10 s)
add(["silent"], silent, "silent")
time.sleep(0.5)
for run in range(1, rounds + 1):
    with Meter() as m:
        lat = commit_run(commits)
    lat_rows("silent", run, lat, m, "1 integration, its receiver never answers")
remove(["silent"])

# throughput: events queued while paused, then delivered
for k in (1, 20):
    for run in range(1, rounds + 1):
        phase = "tp%d-%d" % (k, run)
        names = ["%s-%d" % (phase, i) for i in range(k)]
        add(names, fast, phase)
        for n in names:
            adm.call("POST", "/admin/api/integrations/%s/pause" % n)
        commit_run(events)
        with Meter() as m:
            for n in names:
                adm.call("POST", "/admin/api/integrations/%s/resume" % n)
            want, deadline = k * events, time.monotonic() + 300
            while received(phase) < want and time.monotonic() < deadline:
                time.sleep(0.01)
        got = received(phase)
        row("wh_eps_%d" % k, run, "%.1f" % (got / m.wall), "events/s", got, m,
            "%d integrations x %d events; %d of %d delivered" % (k, events, got, want))
        remove(names)
PY
command_of webhooks atriumd "python3 client.py (sequential 1 KiB commits over one keep-alive plain connection; integrations added with the admin API, pin trust)"
meta wh_rounds "$ROUNDS"
meta wh_commits "$COMMITS"
meta wh_events "$EVENTS"
meta wh_lat_integrations "$LAT_INT"
meta wh_receiver "node $(node --version) https at nice $RECV_NICE, one process: fast = 204 at once, silent = never answers"
log "webhooks: $ROUNDS round(s), $COMMITS commits per latency run, $EVENTS events per throughput run"
"${SIDE[@]}" timeout "$TMO" python3 "$W/client.py" "${A_PORT[wh]}" "$ADM" "${A_TOK[wh]}" "$ADMIN_PASS" \
	"${A_DIR[wh]}/tls/ca.crt" "$R_FAST" "$R_SILENT" "$R_CTL" "$PIN_FP" "${A_PID[wh]}" "$RECV" \
	"$ROUNDS" "$COMMITS" "$EVENTS" "$LAT_INT" "$OUT/results.tsv" >"$RAW/webhooks-client.txt" 2>&1
rc=$?
cp "$W/wh.log" "$RAW/webhooks-atriumd.log" 2>/dev/null
[[ $rc == 0 ]] || { log "webhooks: the client failed ($rc)"; cat "$RAW/webhooks-client.txt" >&2; exit 1; }
grep -q ERROR "$RAW/webhooks-atriumd.log" && log "webhooks: ERROR lines in atriumd's log (raw/webhooks-atriumd.log)"
log "webhooks: done"
exit 0
