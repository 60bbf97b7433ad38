#!/usr/bin/env bash
# Crash test: 200 concurrent committers, kill -9 at a random moment,
# restart; every acknowledged revision is there with its exact content and
# `atriumd check` finds the store clean, round after round.
#
#   CRASH_ROUNDS      rounds (default 3: the short version in make check;
#                     make soak runs 100 with the release build)
#   CRASH_COMMITTERS  concurrent committers (default 200)
#   CRASH_MAX_DELAY   the kill comes 0..this many seconds after the first
#                     acknowledgement of the round (default 3)
#
# Each round: the storm (tests/integration/commit_storm.py) commits on 10
# shared projects (conflicts: 409, retried on the new head) and 100 private
# ones; the server is killed with SIGKILL; `atriumd --data DIR check` on the
# crashed store must exit 0 (content of commits that were never
# acknowledged and unfinished uploads are only "info"); the server restarts
# on the same data and every revision acknowledged in the round is read
# back (metadata and bytes). At the end every revision of every round is
# read back once more, the server is stopped and checked again.
. "$(dirname "$0")/lib.sh"

ROUNDS=${CRASH_ROUNDS:-3}
COMMITTERS=${CRASH_COMMITTERS:-200}
MAX_DELAY=${CRASH_MAX_DELAY:-3}
STORM="python3 $(dirname "$0")/commit_storm.py"
DATA=$T/data
ACKED=$T/acked
: >"$ACKED"
# 200 keep-alive connections from one client and one server.
ulimit -n 4096 2>/dev/null

start_atriumd "$DATA" || exit 1
TOKEN=$(login_token admin "$ATRIUM_ADMIN_PASSWORD")
started=$(date +%s)
rounds_ok=0

for round in $(seq "$ROUNDS"); do
	from=$(($(wc -l <"$ACKED") + 1))
	rm -f "$T/started"
	$STORM storm --base "$BASE" --token "$TOKEN" --acked "$ACKED" --started "$T/started" \
		--committers "$COMMITTERS" --seconds 120 >"$T/storm.out" 2>&1 &
	storm=$!
	for _ in $(seq 600); do [ -e "$T/started" ] && break; sleep 0.05; done
	delay=$(python3 -c "import random; print(round(random.uniform(0, $MAX_DELAY), 2))")
	sleep "$delay"
	kill -KILL "$SERVER_PID"
	wait "$SERVER_PID" 2>/dev/null
	wait "$storm"
	storm_rc=$?
	acked=$(($(wc -l <"$ACKED") - from + 1))
	round_ok=1
	if [ "$storm_rc" -ne 0 ] || [ "$acked" -lt 1 ]; then
		not_ok "round $round: committers got revisions acknowledged before the kill" \
			"$(cat "$T/storm.out")"
		round_ok=0
	fi
	if ! out=$("$ATRIUMD" --data "$DATA" check 2>&1); then
		not_ok "round $round: atriumd check finds the crashed store clean" "$out"
		round_ok=0
	fi
	if ! start_atriumd "$DATA"; then
		not_ok "round $round: the server restarts after kill -9"
		break
	fi
	TOKEN=$(login_token admin "$ATRIUM_ADMIN_PASSWORD")
	if ! vout=$($STORM verify --base "$BASE" --token "$TOKEN" --acked "$ACKED" --from "$from" 2>&1); then
		not_ok "round $round: every acknowledged revision is there with its sha256" "$vout"
		round_ok=0
	fi
	if [ "$round_ok" -eq 1 ]; then
		rounds_ok=$((rounds_ok + 1))
		ok "round $round: kill -9 after ${delay}s; $(tail -n 1 "$T/storm.out" | sed 's/^storm: //'); all $acked read back; check clean"
	fi
done

total=$(wc -l <"$ACKED")
vout=$($STORM verify --base "$BASE" --token "$TOKEN" --acked "$ACKED" 2>&1) &&
	ok "after $ROUNDS rounds: all $total acknowledged revisions are there with their content" ||
	not_ok "after $ROUNDS rounds: all $total acknowledged revisions are there with their content" "$vout"
stop_atriumd
out=$("$ATRIUMD" --data "$DATA" check 2>&1) &&
	ok "the stopped store is clean: $(tail -n 1 <<<"$out")" ||
	not_ok "the stopped store is clean" "$out"
# What the crashes left: content of unacknowledged commits (info only).
grep -E '^info: [0-9]+ content file|^info: blobs/tmp/' <<<"$out" | sed 's/^/# /'
echo "# info lines of the last check: $(grep -c '^info:' <<<"$out")"
echo "# crash test: $rounds_ok of $ROUNDS rounds passed, $total acknowledged revisions" \
	"verified, $(($(date +%s) - started)) s"
finish
