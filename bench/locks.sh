#!/usr/bin/env bash
# bench/locks.sh: element-lock sets with many locks held (docs/api.md
# "Element locks"). Standalone, or called by bench/run; prints TSV lines
#   locks<TAB>WHAT<TAB>MILLISECONDS
# for: taking and releasing BENCH_LOCKS_SET elements in one call with no
# other lock held, then the same with BENCH_LOCKS_N locks held on the
# project (by another user), a commit naming BENCH_LOCKS_SET elements and
# releasing them, and ?holder=me listing and releasing.
#
#   bench/locks.sh                          100,000 held, sets of 1,000, SQLite
#   BENCH_LOCKS_N=2000 bench/locks.sh       a smoke run
#   BENCH_LOCKS_DB=postgresql://... bench/locks.sh   on PostgreSQL (an empty database)
#
# Uses build/atriumd (the release build) on free ports in a mktemp -d folder.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
N=${BENCH_LOCKS_N:-100000}
SET=${BENCH_LOCKS_SET:-1000}
DB=${BENCH_LOCKS_DB:-sqlite}
ATRIUMD=${ATRIUMD:-$top/build/atriumd}
W=$(mktemp -d "${TMPDIR:-/tmp}/atrium-locks.XXXXXX")
PID=
cleanup() {
	[ -n "$PID" ] && kill -TERM "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT

read -r P TP AP < <(python3 -c '
import socket
ss = [socket.socket() for _ in range(3)]
for s in ss: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))')
ATRIUM_ADMIN_PASSWORD=bench-admin-password-1 "$ATRIUMD" --data "$W/data" --port "$P" \
	--tls-port "$TP" --admin-port "$AP" --set "database=$DB" >"$W/log" 2>&1 &
PID=$!
B=http://127.0.0.1:$P
for _ in $(seq 200); do curl -s "$B/healthz" >/dev/null && break; sleep 0.1; done
tok() {
	curl -sS -X POST -d "{\"user\":\"$1\",\"password\":\"$2\"}" "$B/api/v1/session" |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])'
}
ADMIN=$(tok admin bench-admin-password-1)
curl -sS -o /dev/null -H "Authorization: Bearer $ADMIN" -d '{"name":"holder","password":"bench-holder-pw-1","role":"user"}' "$B/api/v1/users"
curl -sS -o /dev/null -H "Authorization: Bearer $ADMIN" -d '{"name":"bench"}' "$B/api/v1/projects"
HOLDER=$(tok holder bench-holder-pw-1)

# set FILE PREFIX FROM COUNT: a lock body of COUNT elements PREFIX<FROM..>.
set_body() {
	python3 -c 'import json,sys; p,a,n=sys.argv[2],int(sys.argv[3]),int(sys.argv[4]); open(sys.argv[1],"w").write(json.dumps({"elements":["%s%07d" % (p,i) for i in range(a,a+n)]}))' "$@"
}
# ms METHOD TOKEN PATH [CURL ARGS]: the call's wall time in ms.
ms() {
	local m=$1 t=$2 p=$3
	shift 3
	curl -sS -o "$W/out" -w '%{time_total}' -X "$m" -H "Authorization: Bearer $t" "$@" "$B$p" |
		awk '{ printf "%.1f", $1 * 1000 }'
}
measure() {
	local what=$1
	set_body "$W/set" mine 0 "$SET"
	printf 'locks\ttake %s (%s held)\t%s\n' "$SET" "$what" "$(ms POST "$ADMIN" /api/v1/projects/bench/locks --data-binary @"$W/set")"
	printf 'locks\tlist ?holder=me (%s held)\t%s\n' "$what" "$(ms GET "$ADMIN" '/api/v1/projects/bench/locks?holder=me')"
	printf 'locks\trelease %s (%s held)\t%s\n' "$SET" "$what" "$(ms DELETE "$ADMIN" /api/v1/projects/bench/locks --data-binary @"$W/set")"
	curl -sS -o /dev/null -X POST -H "Authorization: Bearer $ADMIN" --data-binary @"$W/set" "$B/api/v1/projects/bench/locks"
	printf 'locks\trelease ?holder=me, %s (%s held)\t%s\n' "$SET" "$what" "$(ms DELETE "$ADMIN" '/api/v1/projects/bench/locks?holder=me')"
}

measure 0
for ((i = 0; i < N; i += SET)); do
	set_body "$W/fill" held "$i" "$SET"
	curl -sS -o /dev/null -X POST -H "Authorization: Bearer $HOLDER" --data-binary @"$W/fill" "$B/api/v1/projects/bench/locks"
done
measure "$N"
# A commit naming SET of the caller's locked elements (the query form is
# bounded by the URL: names of 10 bytes, 1000 of them, fit).
set_body "$W/set" mine 0 "$SET"
curl -sS -o /dev/null -X POST -H "Authorization: Bearer $ADMIN" --data-binary @"$W/set" "$B/api/v1/projects/bench/locks"
els=$(python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["elements"]))' "$W/set")
printf 'model\n' >"$W/model"
printf 'locks\tcommit naming %s, releasing them (%s held)\t%s\n' "$SET" "$N" \
	"$(ms POST "$ADMIN" '/api/v1/projects/bench/revisions?base=0&message=b' -H "Atrium-Elements: $els" --data-binary @"$W/model")"
grep -q '"locks_released":'"$SET" "$W/out" || echo "# the commit did not release $SET locks: $(cat "$W/out")" >&2
