#!/usr/bin/env bash
# Live change events (GET /api/v1/events) on a real server with curl -N and
# `atrium watch`: a project, a commit and a lock arrive with their ids;
# ?project filters; a non-admin does not get user.* events; a resume with
# Last-Event-ID after a dropped connection gets exactly what it missed;
# the TLS port streams too;
# an id no longer kept answers event: gap; heartbeats; 200 watchers all
# get a commit; events_max_watchers (changed by SIGHUP) answers 503; a
# shutdown ends the streams cleanly; the CLI reconnects across a restart.
. "$(dirname "$0")/lib.sh"

WATCHERS=$ATRIUM_TOP/tests/events/watchers.py
mkdir -p "$T/data"
printf 'events_heartbeat = 1\n' >"$T/data/atrium.conf"
start_atriumd "$T/data" || exit 1
ADMIN=$(login_token admin "$ATRIUM_ADMIN_PASSWORD")
TOKEN=$ADMIN
api POST /api/v1/users -d '{"name":"alice","password":"alice-pass-1"}' >/dev/null
ALICE=$(login_token alice alice-pass-1)

# watch NAME TOKEN [QUERY] [CURL ARGS...]: a curl -N stream into $T/NAME.sse.
watch() {
	local name=$1 tok=$2 q=${3:-}
	shift 3
	curl -sN -H "Authorization: Bearer $tok" "$@" "$BASE/api/v1/events$q" >"$T/$name.sse" 2>"$T/$name.err" &
	eval "PID_$name=$!"
	_pids+=("$!")
}
# wait_for NAME REGEX: until the stream's file matches (20 s at most).
wait_for() {
	for _ in $(seq 200); do
		grep -qE "$2" "$T/$1.sse" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
# ids NAME [TYPE-REGEX]: the ids of the stream's events, space-separated.
ids() {
	python3 - "$T/$1.sse" "${2:-.}" <<'EOF'
import re, sys
text = open(sys.argv[1]).read()
out = []
for block in text.split("\n\n"):
    m = re.search(r"^id: (\d+)$", block, re.M)
    t = re.search(r"^event: (.*)$", block, re.M)
    if m and t and re.search(sys.argv[2], t.group(1)):
        out.append(m.group(1))
print(" ".join(out))
EOF
}
types() {
	grep '^event: ' "$T/$1.sse" | sed 's/^event: //' | tr '\n' ' '
}

code=$(curl -s -o /dev/null -w '%{http_code}' "$BASE/api/v1/events")
expect_eq "the stream needs a login" "$code" 401
code=$(api GET "/api/v1/events?project=nope" -o /dev/null -w '%{http_code}')
expect_eq "an unknown project is 404" "$code" 404
code=$(api GET "/api/v1/events?after=x" -o /dev/null -w '%{http_code}')
expect_eq "a malformed after is 400" "$code" 400

api POST /api/v1/projects -d '{"name":"plant"}' >/dev/null
watch all "$ADMIN" "" -D "$T/all.head"
watch plant "$ADMIN" "?project=plant"
watch alice "$ALICE" ""
check "heartbeats arrive (events_heartbeat = 1)" wait_for all '^: keep-alive$'
wait_for plant 'keep-alive'
wait_for alice 'keep-alive'
expect_match "it is text/event-stream" "$(tr -d '\r' <"$T/all.head")" 'Content-Type: text/event-stream'

curl -sN --cacert "$T/data/tls/ca.crt" -H "Authorization: Bearer $ADMIN" \
	"https://localhost:$TLS_PORT/api/v1/events" >"$T/tls.sse" 2>"$T/tls.err" &
_pids+=("$!")
wait_for tls 'keep-alive'
api POST /api/v1/projects -d '{"name":"other"}' >/dev/null
check "the TLS port streams too" wait_for tls '"project":"other"'
api POST "/api/v1/projects/plant/revisions?base=0&message=first" --data-binary 'one' >/dev/null
api POST /api/v1/projects/plant/locks -d '{"element":"Pump-1"}' >/dev/null
api DELETE /api/v1/projects/plant/locks/Pump-1 >/dev/null
api POST /api/v1/users -d '{"name":"bob","password":"bob-pass-123"}' >/dev/null
api POST /api/v1/projects -d '{"name":"last"}' >/dev/null
wait_for all '"project":"last"' && wait_for alice '"project":"last"'
wait_for plant 'lock.released'
expect_eq "the admin's stream has every event, in order" "$(types all)" \
	"project.created revision.committed lock.taken lock.released user.created project.created "
expect_match "each with its id and the event's data" "$(cat "$T/all.sse")" \
	'id: [0-9]+.event: revision.committed.data: \{"id":[0-9]+,"type":"revision.committed","project":"plant","time":"[0-9T:.-]+Z","data":\{"project":"plant","branch":"trunk","revision":1,"author":"admin","message":"first"'
python3 - "$T/all.sse" <<'EOF' && ok "the data's id is the event's id, increasing" || not_ok "the data's id is the event's id, increasing"
import json, re, sys
blocks = [b for b in open(sys.argv[1]).read().split("\n\n") if "data: " in b]
ids = []
for b in blocks:
    i = int(re.search(r"^id: (\d+)$", b, re.M).group(1))
    d = json.loads(re.search(r"^data: (.*)$", b, re.M).group(1))
    assert d["id"] == i, (d, i)
    ids.append(i)
assert ids == sorted(ids) and len(set(ids)) == len(ids), ids
EOF
expect_eq "?project=plant has only plant's events" "$(types plant)" \
	"revision.committed lock.taken lock.released "
expect_eq "a user does not get user.* events" "$(types alice)" \
	"project.created revision.committed lock.taken lock.released project.created "

# ---- resume after a dropped connection -------------------------------------------
kill "$PID_alice"
wait "$PID_alice" 2>/dev/null
last=$(ids alice | awk '{print $NF}')
api POST "/api/v1/projects/plant/revisions?base=1&message=second" --data-binary 'two' >/dev/null
api POST /api/v1/users -d '{"name":"carol","password":"carol-pass-12"}' >/dev/null
api POST "/api/v1/projects/plant/revisions?base=2&message=third" --data-binary 'three' >/dev/null
wait_for all 'third'
want=$(python3 -c 'import sys; print(" ".join(i for i in sys.argv[2].split() if int(i) > int(sys.argv[1])))' \
	"$last" "$(ids all '^(revision|project|lock)\.')")
watch alice2 "$ALICE" "" -H "Last-Event-ID: $last"
wait_for alice2 'third'
sleep 1.5 # a double would come with the next batch or heartbeat
expect_eq "Last-Event-ID resumes with exactly the missed events (none doubled, none of user.*)" \
	"$(ids alice2)" "$want"
watch after "$ADMIN" "?after=$last"
wait_for after 'third'
expect_eq "?after= does the same" "$(ids after '^revision')" "$(ids alice2 '^revision')"

# ---- 200 watchers all get a commit -----------------------------------------------
rm -f "$T/ready"
python3 "$WATCHERS" "$PORT" "$ADMIN" 200 --ready "$T/ready" --timeout 60 >"$T/many.out" 2>"$T/many.err" &
MANY=$!
for _ in $(seq 300); do [ -f "$T/ready" ] && break; sleep 0.1; done
check "200 streams open" test -f "$T/ready"
api POST "/api/v1/projects/plant/revisions?base=3&message=fourth" --data-binary 'four' >/dev/null
wait "$MANY"
expect_eq "all 200 watchers get the commit" "$(cat "$T/many.out")" 200

# ---- events_max_watchers, changed by a reload --------------------------------------
printf 'events_heartbeat = 1\nevents_max_watchers = 6\n' >"$T/data/atrium.conf"
kill -HUP "$SERVER_PID"
watch x1 "$ADMIN" ""
watch x2 "$ADMIN" ""
wait_for x1 'keep-alive'
wait_for x2 'keep-alive'
for _ in $(seq 100); do
	code=$(api GET /api/v1/events -o "$T/full.out" -w '%{http_code}' --max-time 1)
	[ "$code" = 503 ] && break
	sleep 0.1
done
expect_eq "over events_max_watchers (6, after SIGHUP) the answer is 503" "$code" 503
expect_match "saying why" "$(cat "$T/full.out")" 'events_max_watchers.*"code":"unavailable"'
expect_match "the open streams go on after the reload" "$(tail -c 300 "$T/all.sse")" 'keep-alive|fourth'

kill "$PID_x1" "$PID_x2"
wait "$PID_x1" "$PID_x2" 2>/dev/null

# ---- an id no longer kept: gap ---------------------------------------------------
for _ in $(seq 50); do
	code=$(api GET /api/v1/events -o /dev/null -w '%{http_code}' --max-time 0.5)
	[ "$code" = 200 ] && break
	sleep 0.1
done
watch down "$ADMIN" ""
wait_for down 'keep-alive'
stop_atriumd
wait "$PID_down"
expect_eq "a shutdown ends a stream cleanly (curl exits 0)" "$?" 0
check "the server stopped cleanly" grep -q 'atriumd stopped' "$T/data.log"
# What the hourly purge does to events past integration_log_days, by hand:
sqlite3 "$T/data/atrium.db" "DELETE FROM events WHERE id <= 3"
printf 'events_heartbeat = 1\n' >"$T/data/atrium.conf"
PORT_FIXED=$PORT start_atriumd "$T/data" || exit 1
watch gap "$ADMIN" "" -H "Last-Event-ID: 2"
wait_for gap 'third'
expect_match "a resume from an id no longer kept says so first (event: gap)" \
	"$(head -c 400 "$T/gap.sse")" '^event: gap.data: \{"after":2,'
expect_eq "then goes on with what is kept" "$(ids gap | awk '{print $1}')" 4
watch future "$ADMIN" "" -H "Last-Event-ID: 999999"
wait_for future 'event: gap'
api POST "/api/v1/projects/plant/revisions?base=4&message=fifth" --data-binary 'five' >/dev/null
wait_for future 'fifth'
check "an id this server never wrote is a gap too, then new events come" grep -q 'fifth' "$T/future.sse"

# ---- atrium watch, across a restart --------------------------------------------
"$ATRIUM" login --plain -u admin --password-stdin "127.0.0.1:$PORT" <<<"$ATRIUM_ADMIN_PASSWORD" >/dev/null 2>&1
"$ATRIUM" watch plant >"$T/cli.sse" 2>"$T/cli.err" &
CLI=$!
_pids+=("$CLI")
"$ATRIUM" watch --json >"$T/cli.json" 2>/dev/null &
CLIJ=$!
_pids+=("$CLIJ")
sleep 1
api POST "/api/v1/projects/plant/revisions?base=5&message=sixth" --data-binary 'six' >/dev/null
for _ in $(seq 100); do grep -q sixth "$T/cli.sse" && grep -q sixth "$T/cli.json" && break; sleep 0.1; done
expect_match "atrium watch prints time, type, project and a summary" "$(cat "$T/cli.sse")" \
	'[0-9-]+ [0-9:]+ +revision.committed +plant +r6 by admin: sixth'
expect_match "--json prints the event's JSON on one line" "$(grep sixth "$T/cli.json")" \
	'^\{"id":[0-9]+,"type":"revision.committed","project":"plant",'
stop_atriumd
PORT_FIXED=$PORT start_atriumd "$T/data" || exit 1
for _ in $(seq 40); do grep -q 'connecting again' "$T/cli.err" && break; sleep 0.1; done
api POST "/api/v1/projects/plant/revisions?base=6&message=seventh" --data-binary 'seven' >/dev/null
for _ in $(seq 150); do grep -q seventh "$T/cli.sse" && break; sleep 0.1; done
check "atrium watch reconnects after the server comes back" grep -q seventh "$T/cli.sse"
expect_eq "and shows each event once" "$(grep -c 'revision.committed' "$T/cli.sse")" 2
kill -INT "$CLI"
wait "$CLI"
expect_eq "Ctrl-C ends atrium watch with status 0" "$?" 0
kill "$CLIJ" 2>/dev/null
finish
