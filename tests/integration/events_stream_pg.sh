#!/usr/bin/env bash
# Change streams with two atriumd nodes on one PostgreSQL database: a
# watcher on node B gets node A's commits (B polls every events_poll_ms),
# and while both nodes commit at once, in parallel, each node's watcher
# gets every event exactly once, in id order, none skipped (events
# are sent up to a gap-free horizon: evstream.c), also one whose
# transaction commits after a larger id's. The delay from A's 201 to B's
# watcher is printed as a diagnostic, not checked (bench/events.sh).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pg_lib.sh"

pg_certs || { echo "not ok - making test certificates failed"; exit 1; }
pg_start main on || { echo "not ok - PostgreSQL did not start"; exit 1; }
pg_sql "$PG_PORT_main" postgres "CREATE DATABASE atrium" >/dev/null
URL=$(pg_url "$PG_PORT_main" atrium)
export ATRIUM_DATABASE_SSL=on ATRIUM_DATABASE_SSL_ROOT_CERT=$PG_CERTS/ca.crt

start_atriumd "$T/a" --set "database=$URL" --set store_threads=3 || exit 1
A=$BASE
start_atriumd "$T/b" --set "database=$URL" --set store_threads=3 || exit 1
B=$BASE PORT_B=$PORT
TOKEN=$(BASE=$A login_token admin "$ATRIUM_ADMIN_PASSWORD")
BASE=$A api POST /api/v1/projects -d '{"name":"north"}' >/dev/null
BASE=$A api POST /api/v1/projects -d '{"name":"south"}' >/dev/null

curl -sN -H "Authorization: Bearer $TOKEN" "$B/api/v1/events" >"$T/b.sse" 2>/dev/null &
_pids+=("$!")
curl -sN -H "Authorization: Bearer $TOKEN" "$A/api/v1/events" >"$T/a.sse" 2>/dev/null &
_pids+=("$!")
sleep 1

# One commit on A, timed to its arrival on B.
t0=$(date +%s.%N)
BASE=$A api POST "/api/v1/projects/north/revisions?base=0&message=from-a" --data-binary 'a' >/dev/null
for _ in $(seq 200); do grep -q from-a "$T/b.sse" && break; sleep 0.01; done
t1=$(date +%s.%N)
check "a watcher on node B gets node A's commit" grep -q '"message":"from-a"' "$T/b.sse"
echo "# delay from A's 201 to B's watcher: $(python3 -c "print(round(($t1 - $t0) * 1000))" ) ms (poll every 500 ms)"

# Both nodes commit at once, two writers each.
commit_many() { # NODE PROJECT FIRST LAST
	local i
	for i in $(seq "$3" "$4"); do
		BASE=$1 api POST "/api/v1/projects/$2/revisions?base=$((i - 1))&message=$2-$i" \
			--data-binary "$2 $i" >/dev/null
	done
}
commit_many "$A" north 2 31 &
w1=$!
commit_many "$B" south 1 30 &
w2=$!
(for i in $(seq 30); do BASE=$A api POST /api/v1/projects/north/locks -d "{\"element\":\"E$i\"}" >/dev/null; done) &
w3=$!
(for i in $(seq 30); do BASE=$B api POST /api/v1/projects/south/locks -d "{\"element\":\"F$i\"}" >/dev/null; done) &
w4=$!
wait "$w1" "$w2" "$w3" "$w4"
want=$(pg_sql "$PG_PORT_main" atrium "SELECT string_agg(id::text, ' ' ORDER BY id) FROM events WHERE type IN ('revision.committed','lock.taken')")
for f in a b; do
	for _ in $(seq 100); do
		[ "$(grep -c '^id: ' "$T/$f.sse")" -ge "$(wc -w <<<"$want")" ] && break
		sleep 0.1
	done
done
sleep 1 # anything sent twice would come by now
got_a=$(grep '^id: ' "$T/a.sse" | sed 's/^id: //' | tr '\n' ' ' | sed 's/ $//')
got_b=$(grep '^id: ' "$T/b.sse" | sed 's/^id: //' | tr '\n' ' ' | sed 's/ $//')
expect_eq "121 events were written" "$(wc -w <<<"$want")" 121
expect_eq "node A's watcher got every event once, in id order, none skipped" "$got_a" "$want"
expect_eq "node B's watcher too" "$got_b" "$want"

# Out of order for sure: a transaction takes an event id, a commit through
# the API takes the next one and commits first, then the first commits.
pg_sql "$PG_PORT_main" atrium "BEGIN; INSERT INTO events(type, project, time, data)
	VALUES ('project.created', 'late', 0, '{\"project\":\"late\"}'); SELECT pg_sleep(2); COMMIT" \
	>/dev/null &
late=$!
sleep 0.5
BASE=$A api POST "/api/v1/projects/north/revisions?base=31&message=overtakes" --data-binary 'o' >/dev/null
wait "$late"
for _ in $(seq 100); do grep -q '"project":"late"' "$T/b.sse" && break; sleep 0.1; done
order=$(grep -E '^data: .*("late"|overtakes)' "$T/b.sse" | sed -E 's/.*"id":([0-9]+).*"project":"([a-z]+)".*/\2/' | tr '\n' ' ')
expect_eq "an event whose transaction commits after a larger id's is not skipped, and comes in id order" \
	"$order" "late north "
finish
