#!/usr/bin/env bash
# bench/profile.sh: where atriumd's CPU time or memory goes under one of the
# benchmark loads. Not part of `make bench` (it needs perf or valgrind and
# perturbs the figures); run it by hand after a benchmark shows a problem.
#
#   bench/profile.sh ka        keep-alive authenticated GETs, plain (wrk -t2 -c64)
#   bench/profile.sh ka-tls    the same over TLS
#   bench/profile.sh hs        full TLS 1.3 handshakes (openssl s_time -new)
#   bench/profile.sh commit    a 256 MiB commit (curl -T), plus syscall counts (strace -c)
#   bench/profile.sh dl-tls    256 MiB downloads over TLS, back to back (curl, AES-128-GCM)
#   bench/profile.sh idle      heap per idle TLS connection: atriumd under valgrind
#                              massif, detailed snapshots before/after N connections
#
# Output: build/bench/profile-MODE.txt (perf report: by library, by function
# self time, by function inclusive time). Environment: SECONDS_PROFILED (5),
# IDLE_N (1000). A fresh atriumd (copy of build/atriumd) on free ports, in a
# mktemp -d directory; everything started here is stopped at exit.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
mode=${1:-}
S=${SECONDS_PROFILED:-5}
IDLE_N=${IDLE_N:-1000}
case "$mode" in ka|ka-tls|hs|commit|dl-tls|idle) ;; *) sed -n '2,19p' "$0"; exit 2 ;; esac
OUT=$top/build/bench
mkdir -p "$OUT/raw"
RAW=$OUT/raw
report=$OUT/profile-$mode.txt
W=$(mktemp -d "${TMPDIR:-/tmp}/atrium-profile.XXXXXX")
. "$top/bench/lib.sh"
LOAD_PID=
cleanup() {
	[[ -n "$LOAD_PID" ]] && kill -0 "$LOAD_PID" 2>/dev/null && kill -TERM "$LOAD_PID"
	for n in "${!A_PID[@]}"; do atriumd_stop "$n"; done
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cp build/atriumd "$W/atriumd"
ATRIUMD=$W/atriumd

if [[ $mode == idle ]]; then
	command -v valgrind >/dev/null || { echo "valgrind is missing" >&2; exit 1; }
	read -r port tls adm < <(free_ports 3)
	ATRIUM_ADMIN_PASSWORD=$ADMIN_PASS valgrind --tool=massif --threshold=0.1 --massif-out-file="$W/massif.out" \
		"$ATRIUMD" --data "$W/d" --port "$port" --tls-port "$tls" --admin-port "$adm" \
		--set log_level=warn --set idle_timeout=900 >"$W/log" 2>&1 &
	A_PID[idle]=$!
	for _ in $(seq 300); do curl -s -o /dev/null "http://127.0.0.1:$port/healthz" && break; sleep 0.2; done
	tok=$(curl -s -X POST -d "{\"user\":\"admin\",\"password\":\"$ADMIN_PASS\"}" "http://127.0.0.1:$port/api/v1/session" |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
	curl -s -o /dev/null -H "Authorization: Bearer $tok" -X POST -d '{"name":"bench"}' "http://127.0.0.1:$port/api/v1/projects"
	python3 bench/idle_conns.py 127.0.0.1 "$tls" -n 32 --tls --get /api/v1/projects/bench \
		--header "Authorization: Bearer $tok" --max-hold 0 >/dev/null
	sleep 1
	snap() { vgdb --pid="${A_PID[idle]}" detailed_snapshot "$1" >/dev/null 2>&1; }
	snap "$W/s0.ms"
	python3 bench/idle_conns.py 127.0.0.1 "$tls" -n "$IDLE_N" --tls --ready "$W/r1" --release "$W/rel" --max-hold 600 >/dev/null &
	h1=$!
	for _ in $(seq 3000); do [[ -s "$W/r1" ]] && break; sleep 0.2; done
	sleep 2; snap "$W/s1.ms"
	python3 bench/idle_conns.py 127.0.0.1 "$tls" -n "$IDLE_N" --tls --get /api/v1/projects/bench \
		--header "Authorization: Bearer $tok" --ready "$W/r2" --release "$W/rel" --max-hold 600 >/dev/null &
	h2=$!
	for _ in $(seq 3000); do [[ -s "$W/r2" ]] && break; sleep 0.2; done
	sleep 2; snap "$W/s2.ms"
	touch "$W/rel"; wait "$h1" "$h2"
	{
		echo "# atriumd heap per idle TLS connection (valgrind massif), $(date -u +%FT%TZ)"
		echo "## $IDLE_N connections, TLS handshake only: $(cat "$W/r1")"
		python3 bench/massif_diff.py "$W/s0.ms" "$W/s1.ms" "$IDLE_N" 3
		echo
		echo "## $IDLE_N more connections, handshake + one keep-alive GET each: $(cat "$W/r2")"
		python3 bench/massif_diff.py "$W/s1.ms" "$W/s2.ms" "$IDLE_N" 3
	} >"$report"
	cp "$W"/s?.ms "$RAW/" 2>/dev/null
	cat "$report"
	exit 0
fi

command -v perf >/dev/null || { echo "perf is missing (apt-get install linux-perf)" >&2; exit 1; }
atriumd_start prof || exit 1
atriumd_api prof POST /api/v1/projects -d '{"name":"bench"}' -o /dev/null
atriumd_api prof POST /api/v1/projects -d '{"name":"big"}' -o /dev/null
P=${A_PID[prof]} AP=${A_PORT[prof]} AT=${A_TLS[prof]}
AUTH="Authorization: Bearer ${A_TOK[prof]}"
T=$((S + 3))
case $mode in
ka) timeout $((T + 10)) wrk -t2 -c64 -d"${T}s" -H "$AUTH" "http://127.0.0.1:$AP/api/v1/projects/bench" >"$W/load.txt" 2>&1 & ;;
ka-tls) timeout $((T + 10)) wrk -t2 -c64 -d"${T}s" -H "$AUTH" "https://127.0.0.1:$AT/api/v1/projects/bench" >"$W/load.txt" 2>&1 & ;;
hs) timeout $((T + 10)) openssl s_time -connect "127.0.0.1:$AT" -new -time "$T" -www /api/v1/server >"$W/load.txt" 2>&1 & ;;
commit)
	head -c 256M /dev/urandom >"$W/big.bin"
	if command -v strace >/dev/null; then
		strace -f -c -p "$P" -o "$W/strace.txt" 2>/dev/null &
		sp=$!
		sleep 1
		curl -s -o /dev/null -T "$W/big.bin" -X POST -H "$AUTH" "http://127.0.0.1:$AP/api/v1/projects/big/revisions?base=0"
		sleep 0.5; kill -INT "$sp"; wait "$sp"
		base=1
	else
		base=0
	fi
	(sleep 1; curl -s -o /dev/null -T "$W/big.bin" -X POST -H "$AUTH" "http://127.0.0.1:$AP/api/v1/projects/big/revisions?base=$base") >"$W/load.txt" 2>&1 &
	;;
dl-tls)
	head -c 256M /dev/urandom >"$W/big.bin"
	curl -s -o /dev/null -T "$W/big.bin" -X POST -H "$AUTH" "http://127.0.0.1:$AP/api/v1/projects/big/revisions?base=0"
	url="https://127.0.0.1:$AT/api/v1/projects/big/revisions/head/content"
	curl -k -s -o /dev/null -H "$AUTH" "$url"
	(end=$((SECONDS + T)); while ((SECONDS < end)); do
		curl -k -s --tls13-ciphers TLS_AES_128_GCM_SHA256 -o /dev/null -w '%{speed_download}\n' -H "$AUTH" "$url"; done) >"$W/load.txt" 2>&1 &
	;;
esac
LOAD_PID=$!
sleep 1
c0=$(cpu_ticks "$P")
perf record -F 999 -e cpu-clock --call-graph dwarf,16384 -p "$P" -o "$W/perf.data" -- sleep "$S" >/dev/null 2>&1
c1=$(cpu_ticks "$P")
wait "$LOAD_PID"
LOAD_PID=
{
	echo "# atriumd profile, mode $mode, $(date -u +%FT%TZ); perf record -F 999 -e cpu-clock --call-graph dwarf, ${S}s"
	echo "# atriumd CPU during the recording: $(awk -v a="$c0" -v b="$c1" -v c="$CLK" 'BEGIN { printf "%.2f", (b - a) / c }') s"
	echo "# load: $(grep -E 'Requests/sec|connections in|^[0-9.]+$' "$W/load.txt" | tr '\n' ' ')"
	[[ -s "$W/strace.txt" ]] && { echo; echo "## syscalls during one 256 MiB commit (strace -c -f)"; head -15 "$W/strace.txt"; }
	echo; echo "## by library (self)"
	perf report -i "$W/perf.data" --stdio --no-children --sort dso -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -15
	echo; echo "## by function, self time"
	perf report -i "$W/perf.data" --stdio --no-children --sort dso,sym -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -40
	echo; echo "## by function, inclusive (children) time"
	perf report -i "$W/perf.data" --stdio --children --sort sym -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -70
} >"$report"
cat "$report"
