#!/usr/bin/env bash
# Live change streams: what 1,000 idle watchers cost atriumd (VmRSS with
# them minus before them) and the time from a commit's 201 to the last of
# them receiving its event (p50, p99 over COMMITS commits), on the
# embedded store; with EVENTS_PG=1 also two nodes on one PostgreSQL: the
# time from node A's 201 to node B's watchers (B polls events_poll_ms).
# Release build, plain HTTP on 127.0.0.1. Writes a markdown fragment to $1
# (stdout without one) and key=value lines on stderr.
#
#   bench/events.sh [OUT.md]
#
# Environment: WATCHERS (1000), COMMITS (50), EVENTS_PG (0; 1 needs root
# and PostgreSQL 15), PG_WATCHERS (200), ATRIUMD (build/atriumd).
#
# The client is one Python process reading every stream: its own reading
# is part of the times (a lower bound is not claimed).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-/dev/stdout}
WATCHERS=${WATCHERS:-1000}
COMMITS=${COMMITS:-50}
EVENTS_PG=${EVENTS_PG:-0}
PG_WATCHERS=${PG_WATCHERS:-200}
ATRIUMD=${ATRIUMD:-$top/build/atriumd}
CLIENTS=$top/bench/events_clients.py
[ -x "$ATRIUMD" ] || { echo "bench/events.sh: build $ATRIUMD first (make)" >&2; exit 1; }
ulimit -n 65536 2>/dev/null || ulimit -n 8192 2>/dev/null

T=$(mktemp -d "${TMPDIR:-/tmp}/atrium-bench-events.XXXXXX")
_pids=()
_bench_cleanup() {
	local p
	for p in "${_pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${_pids[@]}"; do wait "$p" 2>/dev/null; done
	declare -F _pg_cleanup >/dev/null && _pg_cleanup
	rm -rf "$T"
}
trap _bench_cleanup EXIT
PASS=bench-admin-password-1

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# start NAME [ARGS...]: atriumd with data in $T/NAME; sets P_<NAME> and PID_<NAME>.
start() {
	local name=$1 p
	shift
	p=$(port)
	ATRIUM_ADMIN_PASSWORD=$PASS "$ATRIUMD" --data "$T/$name" --port "$p" --tls-port "$(port)" \
		--admin-port "$(port)" --set events_max_watchers=$((WATCHERS + 100)) \
		--set max_connections=$((WATCHERS * 2 + 100)) "$@" >"$T/$name.log" 2>&1 &
	_pids+=("$!")
	eval "P_$name=$p PID_$name=$!"
	for _ in $(seq 200); do (exec 3<>/dev/tcp/127.0.0.1/"$p") 2>/dev/null && return 0; sleep 0.05; done
	echo "bench/events.sh: atriumd did not start:" >&2
	cat "$T/$name.log" >&2
	exit 1
}
token() {
	curl -sS -X POST -H 'Content-Type: application/json' \
		-d "{\"user\":\"admin\",\"password\":\"$PASS\"}" "http://127.0.0.1:$1/api/v1/session" |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])'
}
val() { sed -n "s/^$1=//p" "$2"; }

start sq
TOK=$(token "$P_sq")
curl -sS -X POST -H "Authorization: Bearer $TOK" -d '{"name":"bench"}' \
	"http://127.0.0.1:$P_sq/api/v1/projects" >/dev/null
python3 "$CLIENTS" --watch-port "$P_sq" --commit-port "$P_sq" --token "$TOK" --project bench \
	--watchers "$WATCHERS" --commits "$COMMITS" --pid "$PID_sq" >"$T/sq.out" 2>"$T/sq.err" ||
	{ cat "$T/sq.err" >&2; exit 1; }
rss0=$(val rss_before_kib "$T/sq.out") rss1=$(val rss_after_kib "$T/sq.out")
per=$(python3 -c "print(round(($rss1 - $rss0) / $WATCHERS, 2))")
{
	echo "events_watchers=$WATCHERS"
	echo "events_rss_delta_kib=$((rss1 - rss0))"
	echo "events_rss_per_watcher_kib=$per"
	echo "events_last_p50_ms=$(val last_p50_ms "$T/sq.out")"
	echo "events_last_p99_ms=$(val last_p99_ms "$T/sq.out")"
	echo "events_any_p50_ms=$(val any_p50_ms "$T/sq.out")"
	echo "events_missed=$(val missed "$T/sq.out")"
} >"$T/figures"

if [ "$EVENTS_PG" = 1 ]; then
	. "$top/tests/integration/pg_lib.sh"
	trap _bench_cleanup EXIT # pg_lib.sh set its own; ours calls it
	pg_certs >/dev/null 2>&1 && pg_start bench on || { echo "bench/events.sh: PostgreSQL did not start" >&2; exit 1; }
	pg_sql "$PG_PORT_bench" postgres "CREATE DATABASE atrium" >/dev/null
	URL=$(pg_url "$PG_PORT_bench" atrium)
	export ATRIUM_DATABASE_SSL=on ATRIUM_DATABASE_SSL_ROOT_CERT=$PG_CERTS/ca.crt
	start pga --set "database=$URL"
	start pgb --set "database=$URL"
	TOK=$(token "$P_pga")
	curl -sS -X POST -H "Authorization: Bearer $TOK" -d '{"name":"bench"}' \
		"http://127.0.0.1:$P_pga/api/v1/projects" >/dev/null
	python3 "$CLIENTS" --watch-port "$P_pgb" --commit-port "$P_pga" --token "$TOK" --project bench \
		--watchers "$PG_WATCHERS" --commits "$COMMITS" --pid "$PID_pgb" --jitter 0.5 >"$T/pg.out" 2>"$T/pg.err" ||
		{ cat "$T/pg.err" >&2; exit 1; }
	{
		echo "events_pg_watchers=$PG_WATCHERS"
		echo "events_pg_last_p50_ms=$(val last_p50_ms "$T/pg.out")"
		echo "events_pg_last_p99_ms=$(val last_p99_ms "$T/pg.out")"
		echo "events_pg_missed=$(val missed "$T/pg.out")"
	} >>"$T/figures"
fi

cat "$T/figures" >&2
{
	echo "### Change streams (GET /api/v1/events)"
	echo
	echo "| figure | value |"
	echo "|---|---|"
	echo "| idle watchers | $WATCHERS |"
	echo "| atriumd VmRSS for them | $(((rss1 - rss0) / 1024)) MiB ($per KiB each; goal: under 20 MiB) |"
	echo "| commit 201 → last watcher, p50 / p99 ($COMMITS commits) | $(val last_p50_ms "$T/sq.out") / $(val last_p99_ms "$T/sq.out") ms |"
	echo "| commit 201 → any watcher, p50 | $(val any_p50_ms "$T/sq.out") ms |"
	echo "| watchers that missed a commit | $(val missed "$T/sq.out") |"
	if [ "$EVENTS_PG" = 1 ]; then
		echo "| PostgreSQL, node A's 201 → last of $PG_WATCHERS watchers on node B, p50 / p99 | $(val last_p50_ms "$T/pg.out") / $(val last_p99_ms "$T/pg.out") ms (events_poll_ms 500; commits at random moments) |"
	fi
} >"$out"
