#!/usr/bin/env bash
# bench/load.sh: the load test (issue part 4). Starts atriumd (release build)
# on a fresh data directory on free 127.0.0.1 ports, makes LOAD_USERS users
# and LOAD_PROJECTS projects, samples the server's RSS every second, runs
# build/loadgen with LOAD_CLIENTS TLS clients for LOAD_DURATION seconds
# (logins, listings, commits, checkouts, locks; every acknowledged revision
# read back at the end), then restarts the server and reads every
# acknowledged revision back once more.
#
#   bench/load.sh [OUT_DIR]    results in OUT_DIR (default build/bench-load);
#                              bench/run passes its own (part "load")
#
# Checks; the exit status is 1 when one fails:
#   - no unexpected error (a 409 on a stale base or a held lock is expected)
#   - no lost revision: all read back intact, before and after the restart
#   - atriumd alive at the end of the load, no ERROR in its log
#   - RSS flat after warm-up: the least-squares trend of RSS over the
#     second half of the load (from LOAD_RSS_FROM s) rises by at most
#     LOAD_RSS_GROWTH_PCT % (default 10) of its mean. RSS goes up and down
#     as freed memory goes back to the system; a leak only goes up. Memory warms up for longer than the figures do:
#     500 first logins take ~15 s on 2 cores, and only then do all clients
#     run every kind of request (TLS buffers, allocator arenas, SQLite
#     caches); a 240 s run shows RSS levelling off, not climbing.
#
# Knobs: LOAD_CLIENTS (500), LOAD_DURATION (60 s), LOAD_WARMUP (a quarter of
# the duration), LOAD_RAMP (5 s to open the connections), LOAD_USERS (10),
# LOAD_PROJECTS (100), LOAD_THINK_MS (0: closed loop), LOAD_RSS_GROWTH_PCT
# (10), LOAD_RSS_FROM (half the duration), ATRIUMD (build/atriumd), LOADGEN
# (build/loadgen).
#
# Writes to OUT_DIR: results.tsv rows (load, hwm_load), meta.tsv keys load_*,
# commands.tsv, load.json (loadgen's figures), load-rss.tsv (the RSS series),
# raw/load-*.txt (loadgen's output, the server's log) -- what bench/report.py
# reads.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
export LC_ALL=C

CLIENTS=${LOAD_CLIENTS:-500}
DUR=${LOAD_DURATION:-60}
WARM=${LOAD_WARMUP:-$(awk -v d="$DUR" 'BEGIN { printf "%g", d / 4 }')}
RAMP=${LOAD_RAMP:-5}
USERS=${LOAD_USERS:-10}
PROJECTS=${LOAD_PROJECTS:-100}
THINK=${LOAD_THINK_MS:-0}
GROWTH_MAX=${LOAD_RSS_GROWTH_PCT:-10}
RSS_FROM=${LOAD_RSS_FROM:-$(awk -v d="$DUR" 'BEGIN { printf "%g", d / 2 }')}
OUT=${1:-$top/build/bench-load}
RAW=$OUT/raw
TMO=$((DUR + 300))

for f in "${ATRIUMD:=$top/build/atriumd}" "${LOADGEN:=$top/build/loadgen}"; do
	[[ -x "$f" ]] || { echo "bench/load.sh: $f is missing: build first (make)" >&2; exit 1; }
done
for t in curl python3 timeout; do
	command -v "$t" >/dev/null || { echo "bench/load.sh: $t is missing" >&2; exit 1; }
done

# Descriptors: the server holds one per client connection, the load generator
# one per client; both inherit this limit.
need=$((CLIENTS * 2 + 200))
if [[ $(ulimit -n) != unlimited && $(ulimit -n) -lt $need ]]; then
	ulimit -n "$need" 2>/dev/null || ulimit -n "$(ulimit -Hn)"
	if [[ $(ulimit -n) != unlimited && $(ulimit -n) -lt $need ]]; then
		echo "bench/load.sh: $CLIENTS clients need ulimit -n >= $need; the hard limit is $(ulimit -Hn)" >&2
		exit 1
	fi
fi

mkdir -p "$RAW"
W=$(mktemp -d "${TMPDIR:-/tmp}/atrium-load.XXXXXX")
[[ -s "$OUT/results.tsv" ]] || printf 'id\tserver\trun\tvalue\tunit\tunits\twall_s\tserver_cpu_s\tclient_cpu_s\tbusy_s\tother_s\tload1\tnote\n' >"$OUT/results.tsv"
[[ -s "$OUT/commands.tsv" ]] || printf 'id\tserver\tcommand\n' >"$OUT/commands.tsv"
[[ -s "$OUT/meta.tsv" ]] || printf 'key\tvalue\n' >"$OUT/meta.tsv"
. "$top/bench/lib.sh"

SAMPLER=
cleanup() {
	local n
	trap - EXIT INT TERM
	[[ -n "$SAMPLER" ]] && kill "$SAMPLER" 2>/dev/null && wait "$SAMPLER" 2>/dev/null
	for n in "${!A_PID[@]}"; do atriumd_stop "$n"; done
	rm -rf "$W"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

# One binary for the whole test, even if build/ is rebuilt meanwhile.
cp "$ATRIUMD" "$W/atriumd"
cp "$LOADGEN" "$W/loadgen"
ATRIUMD=$W/atriumd

failed=0
verdict() { # NAME OK(0|1) DETAIL
	if [[ $2 == 1 ]]; then log "ok: $1 ($3)"; else log "FAILED: $1 ($3)"; failed=1; fi
	meta "load_check_$1" "$([[ $2 == 1 ]] && echo ok || echo FAILED): $3"
}
jget() { # FILE EXPR: a value from a JSON file (j = the object)
	python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2" 2>/dev/null
}

# ------------------------------------------------------------- the server
atriumd_start load || exit 1
srv=${A_PID[load]}
printf '%s\n' "bench-load-password-1" >"$W/load.pass"
for i in $(seq "$USERS"); do
	code=$(atriumd_api load POST /api/v1/users -o /dev/null -w '%{http_code}' \
		-d "{\"name\":\"load$i\",\"password\":\"bench-load-password-1\",\"role\":\"user\"}")
	[[ $code == 201 ]] || { log "creating user load$i: HTTP $code"; exit 1; }
done
for i in $(seq "$PROJECTS"); do
	code=$(atriumd_api load POST /api/v1/projects -o /dev/null -w '%{http_code}' \
		-d "{\"name\":\"load-$i\",\"description\":\"load test project $i\"}")
	[[ $code == 201 ]] || { log "creating project load-$i: HTTP $code"; exit 1; }
done
CA=${A_DIR[load]}/tls/ca.crt
TLS=${A_TLS[load]}

# ------------------------------------------------------------- RSS, every second
# t (s since the load started), VmRSS, VmHWM (kB), server CPU (ticks), open fds
RSS=$OUT/load-rss.tsv
printf 't_s\trss_kb\thwm_kb\tcpu_ticks\tfds\n' >"$RSS"
sampler() {
	local t0=$1 fds
	while kill -0 "$srv" 2>/dev/null; do
		fds=$(ls "/proc/$srv/fd" 2>/dev/null | wc -l)
		printf '%s\t%s\t%s\t%s\t%s\n' "$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')" \
			"$(status_kb VmRSS "$srv")" "$(status_kb VmHWM "$srv")" "$(cpu_ticks "$srv")" "$fds" >>"$RSS"
		sleep 1
	done
}
rss_idle=$(status_kb VmRSS "$srv")
meta load_rss_before_kb "$rss_idle"
sampler "$EPOCHREALTIME" &
SAMPLER=$!

# ------------------------------------------------------------- the load
args=(--port "$TLS" --cafile "$CA" --clients "$CLIENTS" --duration "$DUR" --warmup "$WARM"
	--ramp "$RAMP" --user load --users "$USERS" --password-file "$W/load.pass"
	--projects "$PROJECTS" --think-ms "$THINK")
log "load: $CLIENTS TLS clients for $DUR s (warm-up $WARM s, ramp $RAMP s), $USERS users, $PROJECTS projects; atriumd pid $srv, tls $TLS"
SRV_PIDS=("$srv")
measure load atriumd 1 "$W/loadgen" "${args[@]}" --json "$W/load.json" --record "$W/records.tsv"
lg_rc=$M_RC
alive=0
kill -0 "$srv" 2>/dev/null && alive=1
sleep 2 # two more samples after the load
kill "$SAMPLER" 2>/dev/null
wait "$SAMPLER" 2>/dev/null
SAMPLER=
cp "$M_RAW" "$RAW/load-loadgen.txt"
[[ -s "$W/load.json" ]] && cp "$W/load.json" "$OUT/load.json"
cat "$M_RAW" >&2

if [[ ! -s "$W/load.json" ]]; then
	verdict loadgen 0 "loadgen exited with $lg_rc and wrote no figures; see $RAW/load-loadgen.txt"
	exit 1
fi
J=$W/load.json
total=$(jget "$J" 'j["requests"] + j["kinds"].get("verify", {}).get("count", 0)')
record load atriumd 1 "$(jget "$J" 'j["rps"]')" req/s "$total" \
	"p50=$(jget "$J" 'j["p50_ms"]')ms;p99=$(jget "$J" 'j["p99_ms"]')ms;unexpected=$(jget "$J" 'j["unexpected"]');lost=$(jget "$J" 'j["lost"]');commits=$(jget "$J" 'j["commits"]');conflicts=$(jget "$J" 'j["conflicts"]');rc=$lg_rc"
command_of load atriumd "$(printf '%s ' "loadgen" "${args[@]}" | sed "s|$W/load.pass|PASSFILE|; s|$CA|DIR/tls/ca.crt|")--json F --record F"

# ------------------------------------------------------------- RSS figures
# warm = first sample at or after the warm-up; mid = first sample at or
# after RSS_FROM; end = last sample within the load; peak = largest sample
# within the load (the read-back after it is not load); hwm = VmHWM at the
# end, read-back included; slope = least squares over [RSS_FROM, end of load].
read -r rss_warm rss_mid rss_end rss_peak hwm slope n_s trend < <(awk -F'\t' -v w="$WARM" -v m="$RSS_FROM" -v d="$DUR" 'NR > 1 {
	t = $1; r = $2
	if (r > peak && t <= d) peak = r
	if ($3 > hwm) hwm = $3
	if (t >= w && warm == "") warm = r
	if (t >= m && mid == "") mid = r
	if (t <= d) end = r
	if (t >= m && t <= d) { n++; sx += t; sy += r; sxx += t * t; sxy += t * r }
} END {
	slope = (n > 1 && n * sxx - sx * sx != 0) ? (n * sxy - sx * sy) / (n * sxx - sx * sx) : 0
	# The rise of the trend over the second half, against its mean: RSS goes up
	# and down as memory is returned to the system, a leak only goes up.
	trend = (n > 1) ? slope * (d - m) * 100 / (sy / n) : "nan"
	printf "%d %d %d %d %d %.1f %d %s\n", warm, mid, end, peak, hwm, slope, n, trend
}' "$RSS")
growth=$(awk -v t="$trend" 'BEGIN { if (t != "nan") printf "%.1f", t; else print "nan" }')
meta load_clients "$CLIENTS"
meta load_duration "$DUR"
meta load_warmup "$WARM"
meta load_ramp "$RAMP"
meta load_users "$USERS"
meta load_projects "$PROJECTS"
meta load_think_ms "$THINK"
meta load_rss_warm_kb "$rss_warm"
meta load_rss_from_s "$RSS_FROM"
meta load_rss_mid_kb "$rss_mid"
meta load_rss_end_kb "$rss_end"
meta load_rss_peak_kb "$rss_peak"
meta load_hwm_kb "$hwm"
meta load_rss_growth_pct "$growth"
meta load_rss_slope_kb_s "$slope"
meta load_rss_samples "$n_s"
meta load_rss_growth_max_pct "$GROWTH_MAX"
M_WALL=0 M_SRV=0 M_CLI=0 M_BUSY=0 M_OTHER=0 M_LOAD=$(cut -d' ' -f1 /proc/loadavg)
record hwm_load atriumd 1 "$hwm" KiB 0 "VmHWM of atriumd after the load; rss at warm-up end ${rss_warm} kB, at ${RSS_FROM} s ${rss_mid} kB, at load end ${rss_end} kB"

# ------------------------------------------------------------- checks
unexpected=$(jget "$J" 'j["unexpected"]')
lost=$(jget "$J" 'j["lost"]')
acked=$(jget "$J" 'j["acknowledged"]')
verified=$(jget "$J" 'j["verified"]')
measured=$(jget "$J" 'j["requests_measured"]')
verdict figures "$([[ ${measured:-0} -gt 0 ]] && echo 1 || echo 0)" "${measured:-0} answers in the measured window (from $(jget "$J" 'j["window_start_s"]') s: warm-up over and every client logged in)"
verdict errors "$([[ $unexpected == 0 ]] && echo 1 || echo 0)" "$unexpected unexpected errors; $(jget "$J" 'j["conflicts"]') expected 409s on stale bases"
verdict lost "$([[ $lost == 0 && $verified == "$acked" && $acked -gt 0 ]] && echo 1 || echo 0)" "$acked acknowledged revisions, $verified read back intact, $lost lost"
verdict alive "$alive" "atriumd $([[ $alive == 1 ]] && echo 'still running' || echo 'had exited') at the end of the load"
errlines=$(grep -c 'ERROR' "$W/load.log" 2>/dev/null)
cp "$W/load.log" "$RAW/load-atriumd.log" 2>/dev/null
meta load_server_error_lines "${errlines:-0}"
verdict server_log "$([[ ${errlines:-0} == 0 ]] && echo 1 || echo 0)" "${errlines:-0} ERROR lines in atriumd's log (log_level=warn)"
verdict rss_flat "$(awk -v g="$growth" -v m="$GROWTH_MAX" 'BEGIN { print (g != "nan" && g + 0 <= m + 0) ? 1 : 0 }')" \
	"RSS trend over the second half: ${slope} kB/s, ${growth} % of its mean (at most ${GROWTH_MAX} %); ${rss_warm} kB at the end of the warm-up, ${rss_mid} kB at ${RSS_FROM} s, ${rss_end} kB at the end of the load"

# ------------------------------------------------------------- after a restart
if [[ $alive == 1 ]]; then
	atriumd_stop load
	atriumd_start load || exit 1
	timeout 600 "$W/loadgen" --port "${A_TLS[load]}" --cafile "$CA" --clients 20 --user load --users "$USERS" \
		--password-file "$W/load.pass" --verify "$W/records.tsv" --json "$W/verify.json" --quiet \
		>"$RAW/load-verify-restart.txt" 2>&1
	v_rc=$?
	cat "$RAW/load-verify-restart.txt" >&2
	v_ok=$(jget "$W/verify.json" 'j["verified"]')
	v_lost=$(jget "$W/verify.json" 'j["lost"]')
	meta load_restart_verified "${v_ok:-0}"
	meta load_restart_lost "${v_lost:-?}"
	verdict restart "$([[ $v_rc == 0 && ${v_ok:-0} == "$acked" ]] && echo 1 || echo 0)" \
		"after SIGTERM and a restart on the same data: ${v_ok:-0} of $acked acknowledged revisions read back intact, ${v_lost:-?} lost"
	command_of load_restart atriumd "loadgen --port T --cafile DIR/tls/ca.crt --clients 20 --user load --users $USERS --password-file PASSFILE --verify RECORDS"
fi
atriumd_stop load
meta load_checks_failed "$failed"
log "load test: $([[ $failed == 0 ]] && echo 'all checks passed' || echo 'SOME CHECKS FAILED'); results in $OUT"
exit "$failed"
