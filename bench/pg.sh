#!/usr/bin/env bash
# PostgreSQL beside SQLite, same machine, same run: commits per second and
# checkout MB/s through atriumd's API (plain HTTP on 127.0.0.1, release
# build). Writes a markdown fragment to $1 (stdout without one).
#
#   bench/pg.sh [OUT.md]
#
# PostgreSQL 15 runs as a throwaway cluster on 127.0.0.1 with fsync on
# (durable, like the embedded store's synchronous=FULL + fsync'ed blobs)
# and atriumd reaches it over TLS with verify-full. Each measurement
# alternates the backends ROUNDS times and reports the median.
#
# Environment: ROUNDS (3), SECONDS_PER_RUN (6), COMMIT_KIB (64),
# CLIENTS (4), CHECKOUT_MIB (256), ATRIUMD (build/atriumd).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-/dev/stdout}
ROUNDS=${ROUNDS:-3}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-6}
COMMIT_KIB=${COMMIT_KIB:-64}
CLIENTS=${CLIENTS:-4}
CHECKOUT_MIB=${CHECKOUT_MIB:-256}
ATRIUMD=${ATRIUMD:-$top/build/atriumd}
[ -x "$ATRIUMD" ] || { echo "bench/pg.sh: build $ATRIUMD first (make)" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "bench/pg.sh: run as root (PostgreSQL runs as user postgres)" >&2; exit 1; }

T=$(mktemp -d "${TMPDIR:-/tmp}/atrium-bench-pg.XXXXXX")
. "$top/tests/integration/pg_lib.sh"
_pids=()
_bench_cleanup() {
	local p
	for p in "${_pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${_pids[@]}"; do wait "$p" 2>/dev/null; done
	_pg_cleanup
	rm -rf "$T"
}
trap _bench_cleanup EXIT

pg_certs || exit 1
pg_start bench on -c fsync=on -c synchronous_commit=on -c shared_buffers=256MB || exit 1
P=$PG_PORT_bench
export ATRIUM_ADMIN_PASSWORD=bench-admin-pass-1

# start NAME ARGS...: a fresh atriumd; sets URL_<NAME> and TOKEN_<NAME>.
start() {
	local name=$1 port i
	shift
	port=$(free_port)
	"$ATRIUMD" --data "$T/$name" --port "$port" --tls-port "$(free_port)" \
		--admin-port "$(free_port)" --set log_level=warn "$@" >"$T/$name.log" 2>&1 &
	_pids+=("$!")
	for i in $(seq 200); do
		curl -s -o /dev/null "http://127.0.0.1:$port/healthz" && break
		sleep 0.05
	done
	printf -v "URL_$name" 'http://127.0.0.1:%s' "$port"
	printf -v "TOKEN_$name" '%s' "$(curl -s -X POST -d "{\"user\":\"admin\",\"password\":\"$ATRIUM_ADMIN_PASSWORD\"}" \
		"http://127.0.0.1:$port/api/v1/session" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')"
}

pg_sql "$P" postgres "CREATE DATABASE atrium" >/dev/null
pg_sql "$P" postgres "CREATE DATABASE atrium_nocache" >/dev/null
TLS="--set database_ssl=on --set database_ssl_root_cert=$PG_CERTS/ca.crt"
start sqlite
# shellcheck disable=SC2086
start pg --set "database=$(pg_url "$P" atrium)" $TLS
# shellcheck disable=SC2086
start pgdb --set "database=$(pg_url "$P" atrium_nocache)" $TLS --set database_cache_size=0

cat >"$T/commits.py" <<'PY'
# commits.py URL TOKEN PROJECT_PREFIX CLIENTS SECONDS KIB: commits/s, each
# client committing new content to a project of its own, keep-alive.
import http.client, json, os, sys, threading, time, urllib.parse
url, token, prefix = sys.argv[1], sys.argv[2], sys.argv[3]
clients, seconds, kib = int(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
u = urllib.parse.urlparse(url)
hdr = {"Authorization": "Bearer " + token}
def conn():
    return http.client.HTTPConnection(u.hostname, u.port, timeout=60)
def setup(name):
    c = conn()
    c.request("POST", "/api/v1/projects", json.dumps({"name": name}), hdr)
    c.getresponse().read()
    c.request("GET", "/api/v1/projects/" + name, headers=hdr)
    return json.loads(c.getresponse().read())["head"]
counts, errors = [0] * clients, [0] * clients
start = threading.Event()
def run(i):
    name = "%s-%d" % (prefix, i)
    head = setup(name)
    c = conn()
    blob = bytearray(os.urandom(kib * 1024))
    start.wait()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        blob[:8] = os.urandom(8)  # new content every time: no de-duplication
        c.request("POST", "/api/v1/projects/%s/revisions?base=%d" % (name, head), bytes(blob), hdr)
        r = c.getresponse(); r.read()
        if r.status == 201:
            head += 1; counts[i] += 1
        else:
            errors[i] += 1
ts = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
for t in ts: t.start()
time.sleep(0.5)
t0 = time.monotonic(); start.set()
for t in ts: t.join()
el = time.monotonic() - t0
print("%.1f %d" % (sum(counts) / el, sum(errors)))
PY

median() { python3 -c 'import statistics,sys; print("%.1f" % statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }

# commits NAME CLIENTS ROUND: prints commits/s
commits() {
	local url token res
	url=$(eval echo "\$URL_$1")
	token=$(eval echo "\$TOKEN_$1")
	res=$(python3 "$T/commits.py" "$url" "$token" "c$2-r$3" "$2" "$SECONDS_PER_RUN" "$COMMIT_KIB")
	[ "${res#* }" = 0 ] || echo "bench/pg.sh: $1: ${res#* } commits failed" >&2
	echo "${res% *}"
}

declare -A R
for clients in 1 "$CLIENTS"; do
	for round in $(seq "$ROUNDS"); do
		for b in sqlite pg; do
			R[commit_${b}_$clients]+="$(commits "$b" "$clients" "$round") "
		done
	done
done

# Checkout: one revision of CHECKOUT_MIB, fetched whole, one stream.
head -c $((CHECKOUT_MIB * 1024 * 1024)) /dev/urandom >"$T/big"
for b in sqlite pg pgdb; do
	url=$(eval echo "\$URL_$b")
	token=$(eval echo "\$TOKEN_$b")
	curl -s -o /dev/null -H "Authorization: Bearer $token" -X POST -d '{"name":"big"}' "$url/api/v1/projects"
	R[upload_$b]=$(curl -s -o /dev/null -w '%{speed_upload}' -H "Authorization: Bearer $token" \
		--data-binary @"$T/big" "$url/api/v1/projects/big/revisions?base=0")
done
# Reads are measured on a quiet disk: the writes above are checkpointed.
pg_sql "$P" postgres "CHECKPOINT" >/dev/null
sync
# A node that never saw the content: its first checkout reads the database
# (and fills its cache), the next ones are local.
# shellcheck disable=SC2086
start pg2 --set "database=$(pg_url "$P" atrium)" $TLS
R[checkout_pg2_first]=$(curl -s -o /dev/null -w '%{speed_download}' -H "Authorization: Bearer $TOKEN_pg2" \
	"$URL_pg2/api/v1/projects/big/revisions/1/content")
for round in $(seq "$ROUNDS"); do
	for b in sqlite pg pgdb pg2; do
		url=$(eval echo "\$URL_$b")
		token=$(eval echo "\$TOKEN_$b")
		R[checkout_$b]+="$(curl -s -o /dev/null -w '%{speed_download}' -H "Authorization: Bearer $token" \
			"$url/api/v1/projects/big/revisions/1/content") "
	done
done

mb() { python3 -c 'import sys; print("%.0f" % (float(sys.argv[1]) / 1e6))' "$1"; }
ratio() { python3 -c 'import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); print("%.2f" % (a / b if b else 0))' "$1" "$2"; }

c1s=$(median ${R[commit_sqlite_1]}) c1p=$(median ${R[commit_pg_1]})
cns=$(median ${R[commit_sqlite_$CLIENTS]}) cnp=$(median ${R[commit_pg_$CLIENTS]})
cos=$(mb "$(median ${R[checkout_sqlite]})") cop=$(mb "$(median ${R[checkout_pg]})")
codb=$(mb "$(median ${R[checkout_pgdb]})") co2=$(mb "$(median ${R[checkout_pg2]})")
co2f=$(mb "${R[checkout_pg2_first]}")
verdict() { python3 -c 'import sys; print("met" if float(sys.argv[1]) >= float(sys.argv[2]) else "NOT met")' "$1" "$2"; }

{
	echo "## PostgreSQL beside SQLite (bench/pg.sh)"
	echo
	echo "$(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load average at the end $(cut -d' ' -f1-3 /proc/loadavg)."
	echo "atriumd release build, plain HTTP on 127.0.0.1, default settings (store_threads = 4);"
	echo "PostgreSQL $(pg_sql "$P" postgres 'SHOW server_version' | cut -d' ' -f1) on the same machine, fsync on,"
	echo "reached over TLS ($(pg_sql "$P" postgres "SELECT DISTINCT s.version || ' ' || s.cipher FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 'atriumd'" | head -1)) with verify-full."
	echo "Medians of $ROUNDS alternating runs; commits of ${COMMIT_KIB} KiB of new content, each"
	echo "client to a project of its own, for ${SECONDS_PER_RUN} s; checkouts of one ${CHECKOUT_MIB} MiB revision, one stream (curl)."
	echo
	echo "| measure | SQLite | PostgreSQL | PostgreSQL / SQLite | goal |"
	echo "| --- | --- | --- | --- | --- |"
	echo "| commits/s, 1 client | $c1s | $c1p | $(ratio "$c1p" "$c1s") | ≥ 0.5: $(verdict "$(ratio "$c1p" "$c1s")" 0.5) |"
	echo "| commits/s, $CLIENTS clients | $cns | $cnp | $(ratio "$cnp" "$cns") | ≥ 0.5: $(verdict "$(ratio "$cnp" "$cns")" 0.5) |"
	echo "| checkout MB/s (node's cache, the default) | $cos | $cop | $(ratio "$cop" "$cos") | ≥ 0.8: $(verdict "$(ratio "$cop" "$cos")" 0.8) |"
	echo "| checkout MB/s, another node, its first checkout (from the database) | | $co2f | $(ratio "$co2f" "$cos") | |"
	echo "| checkout MB/s, that node afterwards (its cache) | | $co2 | $(ratio "$co2" "$cos") | |"
	echo "| checkout MB/s, database_cache_size = 0 (every byte from the database) | | $codb | $(ratio "$codb" "$cos") | |"
	echo "| commit of ${CHECKOUT_MIB} MiB, MB/s | $(mb "${R[upload_sqlite]}") | $(mb "${R[upload_pg]}") | $(ratio "${R[upload_pg]}" "${R[upload_sqlite]}") | |"
	echo
	echo "Raw runs: commits 1 client sqlite [${R[commit_sqlite_1]% }] pg [${R[commit_pg_1]% }];"
	echo "$CLIENTS clients sqlite [${R[commit_sqlite_$CLIENTS]% }] pg [${R[commit_pg_$CLIENTS]% }];"
	echo "checkout bytes/s sqlite [${R[checkout_sqlite]% }] pg [${R[checkout_pg]% }] pg, no cache [${R[checkout_pgdb]% }]."
} >"$out"
