#!/usr/bin/env bash
# Starting, configuring, reloading and stopping atriumd as an operator would.
. "$(dirname "$0")/lib.sh"

# First start without ATRIUM_ADMIN_PASSWORD: a generated password in a 0600 file.
D=$T/first
( unset ATRIUM_ADMIN_PASSWORD; exec "$ATRIUMD" --data "$D" --port "$(free_port)" >"$D.log" 2>&1 ) &
pid=$!
_pids+=("$pid")
for _ in $(seq 100); do [ -f "$D/initial-admin-password" ] && break; sleep 0.1; done
sleep 0.3
check "first start writes DIR/initial-admin-password" test -s "$D/initial-admin-password"
expect_eq "the password file is mode 0600" "$(stat -c %a "$D/initial-admin-password")" 600
pw=$(cat "$D/initial-admin-password")
expect_match "the generated password is long and random" "$pw" '^[0-9a-f]{32}$'
if grep -q "$pw" "$D.log"; then not_ok "the generated password is not logged"; else ok "the generated password is not logged"; fi
expect_match "the log names the file instead" "$(cat "$D.log")" "initial-admin-password"
check "atrium.conf is written with documented defaults" grep -q '^#port = 3579' "$D/atrium.conf"
expect_eq "atrium.conf is mode 0600" "$(stat -c %a "$D/atrium.conf")" 600
expect_match "the log says how to open the server to the network" "$(log_since "$D.log" 0 'bind = 0.0.0.0')" 'bind = 0.0.0.0'
stop_atriumd "$pid"

out=$("$ATRIUMD" --data "$T/x" --port 99999 2>&1); rc=$?
expect_eq "a bad --port exits 2" "$rc" 2
expect_match "and says the range" "$out" 'from 1 to 65535'
out=$("$ATRIUMD" 2>&1); rc=$?
expect_eq "no --data exits 2" "$rc" 2
expect_match "and says what is missing" "$out" '--data DIR is required'
check "--help exits 0" "$ATRIUMD" --help
out=$("$ATRIUMD" --print-defaults)
expect_match "--print-defaults lists the settings" "$out" 'port = 3579'
mkdir -p "$T/badconf"
printf 'port = 3579\nporcupine = 1\n' >"$T/badconf/atrium.conf"
out=$("$ATRIUMD" --data "$T/badconf" --check-config 2>&1); rc=$?
expect_eq "--check-config fails on an unknown key" "$rc" 1
expect_match "naming the file and line" "$out" 'atrium.conf:2: unknown setting .porcupine.'
printf 'plain = maybe\n' >"$T/badconf/atrium.conf"
out=$("$ATRIUMD" --data "$T/badconf" --port "$(free_port)" 2>&1); rc=$?
expect_eq "a bad value stops the start" "$rc" 1
expect_match "with a sentence naming the setting" "$out" 'plain must be on or off'

# A port in use is reported plainly.
BUSY=$(free_port)
python3 -c 'import socket,time,sys; s=socket.socket(); s.bind(("127.0.0.1",int(sys.argv[1]))); s.listen(); time.sleep(60)' "$BUSY" &
_pids+=("$!")
wait_port "$BUSY"
out=$("$ATRIUMD" --data "$T/busy" --port "$BUSY" 2>&1); rc=$?
expect_eq "a port in use stops the start" "$rc" 1
expect_match "and says the port is in use" "$out" "port $BUSY: the port is already in use"

# One data directory, one server.
start_atriumd "$T/data" || exit 1
out=$("$ATRIUMD" --data "$T/data" --port "$(free_port)" 2>&1); rc=$?
expect_eq "a second atriumd on the same data is refused" "$rc" 1
expect_match "naming the running one" "$out" "another atriumd \(pid $SERVER_PID\)"
# atriumd listens with SO_REUSEPORT (one socket per event loop); a second
# server must still not be able to share its port.
out=$("$ATRIUMD" --data "$T/other" --port "$PORT" --tls-port "$(free_port)" --admin-port "$(free_port)" 2>&1); rc=$?
expect_eq "a second atriumd on the same port is refused" "$rc" 1
expect_match "saying the port is in use" "$out" "port $PORT: the port is already in use"
stop_atriumd

# SIGHUP: with the port set in atrium.conf (flags would override the
# file), a new port is bound and the old one closed, without a restart.
FIRST=$(free_port)
echo "port = $FIRST" >>"$T/data/atrium.conf"
"$ATRIUMD" --data "$T/data" >>"$T/data.log" 2>&1 &
SERVER_PID=$!
_pids+=("$SERVER_PID")
wait_port "$FIRST" && ok "the port comes from atrium.conf" || not_ok "the port comes from atrium.conf"
BASE=http://127.0.0.1:$FIRST
TOKEN=$(login_token admin "$ATRIUM_ADMIN_PASSWORD")
NEXT=$(free_port)
sed -i "s/^port = .*/port = $NEXT/" "$T/data/atrium.conf"
kill -HUP "$SERVER_PID"
wait_port "$NEXT" 10 && ok "SIGHUP binds the new port" || not_ok "SIGHUP binds the new port"
sleep 0.3
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$FIRST/healthz")
expect_eq "and closes the old one" "$code" 000
BASE=http://127.0.0.1:$NEXT
code=$(api GET /api/v1/projects -o /dev/null -w '%{http_code}')
expect_eq "sessions survive a reload" "$code" 200

# A failed reload changes nothing.
sed -i "s/^port = .*/port = $BUSY/" "$T/data/atrium.conf"
from=$(wc -l <"$T/data.log")
kill -HUP "$SERVER_PID"
why=$(log_since "$T/data.log" "$from" 'reload failed, nothing changed: .*already in use')
code=$(curl -s -o /dev/null -w '%{http_code}' "$BASE/healthz")
expect_eq "a reload to a port in use keeps the old listener" "$code" 200
expect_match "and logs why" "$why" 'reload failed, nothing changed: .*already in use'
echo "nonsense line" >>"$T/data/atrium.conf"
from=$(wc -l <"$T/data.log")
kill -HUP "$SERVER_PID"
why=$(log_since "$T/data.log" "$from" "atrium.conf:[0-9]+: expected 'key = value'")
code=$(curl -s -o /dev/null -w '%{http_code}' "$BASE/healthz")
expect_eq "a reload of a broken file keeps serving" "$code" 200
expect_match "and logs the line" "$why" "atrium.conf:[0-9]+: expected 'key = value'"

# SIGTERM drains: a download in flight completes, then the process exits 0.
sed -i '$d' "$T/data/atrium.conf"
api POST /api/v1/projects -d '{"name":"p"}' >/dev/null
head -c 200000000 /dev/urandom >"$T/big"
api POST "/api/v1/projects/p/revisions?base=0" --data-binary @"$T/big" >/dev/null
api GET /api/v1/projects/p/revisions/1/content --limit-rate 50M -o "$T/got" &
dl=$!
sleep 0.5
kill -TERM "$SERVER_PID"
wait "$dl"; dlrc=$?
expect_eq "a download in flight at SIGTERM completes" "$dlrc" 0
check "with every byte" cmp "$T/big" "$T/got"
wait "$SERVER_PID"; rc=$?
expect_eq "SIGTERM exits 0" "$rc" 0
expect_match "and the log says it stopped" "$(tail -1 "$T/data.log")" 'atriumd stopped'
finish
