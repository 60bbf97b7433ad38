# Shared helpers for integration tests: TAP output, free loopback ports,
# starting and stopping a real atriumd. Source it from a test script:
#   . "$(dirname "$0")/lib.sh"
# Everything listens on 127.0.0.1 only and is stopped on exit.

set -u
ATRIUM_TOP=${ATRIUM_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
ATRIUMD=${ATRIUMD:-$ATRIUM_TOP/build/asan/atriumd}
ATRIUM=${ATRIUM:-$ATRIUM_TOP/build/asan/atrium}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}

T=$(mktemp -d "${TMPDIR:-/tmp}/atrium-test.XXXXXX")
export ATRIUM_HOME=$T/home
_pids=()
_failed=0

# _cleanup [STATUS]: the exit trap; STATUS defaults to the script's own.
_cleanup() {
	local rc=${1:-$?} p
	for p in "${_pids[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in "${_pids[@]}"; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null
	done
	_scan_logs
	[ -n "${KEEP_TMP:-}" ] || rm -rf "$T"
	[ "$rc" -ne 0 ] && exit "$rc"
	exit $_failed
}
trap _cleanup EXIT

# Every log written under $T (the servers' among them) is checked for
# sanitizer reports, which fail the test; with ATRIUM_TEST_LOGS set (by
# tests/run) atriumd's logs are kept there, and the secrets this test used
# are listed for tests/secrets_scan.sh, which checks no log contains them.
_scan_logs() {
	local f name keep=${ATRIUM_TEST_LOGS:-} test_name
	test_name=$(basename "$0" .sh)
	[ -n "$keep" ] && mkdir -p "$keep/servers" "$keep/secrets"
	while IFS= read -r -d '' f; do
		if grep -qE 'ERROR: (Address|Leak)Sanitizer|SUMMARY: UndefinedBehaviorSanitizer|: runtime error: ' "$f"; then
			not_ok "no sanitizer report in $(basename "$f")" \
				"$(grep -m1 -A12 -E 'ERROR: (Address|Leak)Sanitizer|runtime error: ' "$f")"
		fi
		# Only atriumd's logs are kept: others (keytool's, PostgreSQL's) may
		# quote the test's own commands with their passwords.
		if [ -n "$keep" ] && grep -qE '^[0-9-]+T[0-9:]+Z (DEBUG|INFO |WARN |ERROR) ' "$f"; then
			name=${f#"$T"/}
			cp "$f" "$keep/servers/$test_name--${name//\//_}"
		fi
	done < <(find "$T" -name '*.log' -type f -print0 2>/dev/null)
	[ -n "$keep" ] || return 0
	{
		cat "$T/.secrets" 2>/dev/null
		[ -n "${ATRIUM_ADMIN_PASSWORD:-}" ] && echo "$ATRIUM_ADMIN_PASSWORD"
		# Generated secrets: first admin passwords, keystore passwords,
		# and the tokens the CLI saved.
		find "$T" \( -name initial-admin-password -o -name '*.pass' -o -name '*password*' \) \
			-type f -size -2k -exec head -n1 {} \; 2>/dev/null
		find "$T" -name session.json -type f -exec python3 -c '
import json, sys
for p in sys.argv[1:]:
    try: print(json.load(open(p)).get("token", ""))
    except Exception: pass' {} + 2>/dev/null
	} | awk 'length($0) >= 8' | sort -u >"$keep/secrets/$test_name.txt"
}

# secret VALUE: a password or token this test uses, never to be logged.
secret() { printf '%s\n' "$1" >>"$T/.secrets"; }

ok() { echo "ok - $*"; }
not_ok() {
	echo "not ok - $1"
	shift
	[ $# -gt 0 ] && printf '#   %s\n' "$@"
	_failed=1
}

# check NAME CMD...: ok when CMD exits 0; its output is shown on failure.
check() {
	local name=$1 out
	shift
	if out=$("$@" 2>&1); then ok "$name"; else not_ok "$name" "command: $*" "$out"; fi
}

# check_fails NAME CMD...: ok when CMD exits non-zero.
check_fails() {
	local name=$1 out
	shift
	if out=$("$@" 2>&1); then not_ok "$name" "expected failure: $*" "$out"; else ok "$name"; fi
}

# expect_eq NAME ACTUAL EXPECTED
expect_eq() {
	if [ "$2" == "$3" ]; then ok "$1"; else not_ok "$1" "expected: $3" "actual:   $2"; fi
}

# expect_match NAME TEXT REGEX
expect_match() {
	if [[ $2 =~ $3 ]]; then ok "$1"; else not_ok "$1" "expected to match: $3" "actual: $2"; fi
}

# expect_days_left NAME "notAfter=..." MIN MAX: the certificate ends between
# MIN and MAX whole days from now. Compares durations, never calendar years, so
# it holds in December, on leap days and across midnight.
expect_days_left() {
	local end days
	end=$(date -u -d "${2#notAfter=}" +%s 2>/dev/null) ||
		{ not_ok "$1" "not an end date: $2"; return; }
	days=$(((end - $(date -u +%s)) / 86400))
	if [ "$days" -ge "$3" ] && [ "$days" -le "$4" ]; then ok "$1"; else
		not_ok "$1" "expected $3..$4 days left" "actual:   $days days ($2)"; fi
}

# avoid_midnight: waits out the last minute of a UTC day, so that outputs that
# print today's date (Java's keytool does for PKCS#12 entries) are made on
# the same day as what they are compared with.
avoid_midnight() {
	local left=$((86400 - $(date -u +%s) % 86400))
	[ "$left" -gt 60 ] || sleep "$left"
}

# log_since FILE FROM REGEX [SECONDS]: prints FILE from line FROM+1 on, once
# that part matches REGEX or SECONDS (20) have passed. For what a server logs
# after a signal: a fixed sleep is too short on a loaded machine.
log_since() {
	local i
	for i in $(seq $((${4:-20} * 10))); do
		[[ $(tail -n +"$(($2 + 1))" "$1") =~ $3 ]] && break
		sleep 0.1
	done
	tail -n +"$(($2 + 1))" "$1"
}

# raw_http PORT BYTES: sends BYTES (a Python bytes expression) on one
# connection and prints the status line of every answer, ";"-separated,
# reading until the server closes or stays quiet for 1.5 s. With SHOW=1 the
# whole answer is printed; with TRICKLE=1 the bytes go one per 10 ms, so the
# server reads them in many pieces.
raw_http() {
	python3 - "$1" "$2" "${SHOW:-0}" "${TRICKLE:-0}" <<'EOF'
import re, socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
data = eval(sys.argv[2], {"__builtins__": {}})
if sys.argv[4] == "1":
    for i in range(len(data)):
        s.sendall(data[i:i + 1])
        time.sleep(0.01)
else:
    s.sendall(data)
s.settimeout(1.5)
got = b""
try:
    while True:
        d = s.recv(65536)
        if not d:
            break
        got += d
except OSError:
    pass
if sys.argv[3] == "1":
    sys.stdout.write(got.decode("latin-1"))
else:
    lines = re.findall(rb"HTTP/1\.[01] [0-9]{3}[^\r\n]*", got)
    print(";".join(l.decode() for l in lines) or "-")
EOF
}

# A TCP port on 127.0.0.1 that nobody listens on right now.
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_port PORT [SECONDS]: waits until something accepts on 127.0.0.1:PORT.
wait_port() {
	local port=$1 limit=${2:-20} i
	for i in $(seq $((limit * 20))); do
		(exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# wait_ready LOG [SECONDS]: waits until atriumd's log says it is ready (the
# ports listen a little earlier: the deliverer and the change-stream hub
# start between the two, each opening a store connection).
wait_ready() {
	local log=$1 limit=${2:-30} i
	for i in $(seq $((limit * 20))); do
		grep -q ' ready: ' "$log" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# start_atriumd DIR [ARGS...]: starts atriumd on fresh ports with data in DIR.
# Sets PORT, TLS_PORT, ADMIN_PORT, SERVER_PID; the log is DIR.log.
start_atriumd() {
	local dir=$1
	shift
	PORT=${PORT_FIXED:-$(free_port)}
	TLS_PORT=${TLS_PORT_FIXED:-$(free_port)}
	ADMIN_PORT=${ADMIN_PORT_FIXED:-$(free_port)}
	: "${ATRIUM_ADMIN_PASSWORD:=admin-secret-1}"
	export ATRIUM_ADMIN_PASSWORD
	if [ -n "${PORTS_IN_CONF:-}" ]; then
		# Ports from atrium.conf, so that the console or SIGHUP may change them
		# (command-line flags would fix them).
		mkdir -p "$dir"
		printf 'port = %s\ntls_port = %s\nadmin_port = %s\n' "$PORT" "$TLS_PORT" "$ADMIN_PORT" >>"$dir/atrium.conf"
		"$ATRIUMD" --data "$dir" "$@" >>"$dir.log" 2>&1 &
	else
		"$ATRIUMD" --data "$dir" --port "$PORT" --tls-port "$TLS_PORT" \
			--admin-port "$ADMIN_PORT" "$@" >>"$dir.log" 2>&1 &
	fi
	SERVER_PID=$!
	_pids+=("$SERVER_PID")
	if ! wait_port "$PORT" 30; then
		echo "# atriumd did not start; its log:"
		sed 's/^/#   /' "$dir.log"
		return 1
	fi
	BASE=http://127.0.0.1:$PORT
}

# stop_atriumd [PID]: SIGTERM and wait (up to 20 s).
stop_atriumd() {
	local pid=${1:-$SERVER_PID} i
	kill -TERM "$pid" 2>/dev/null || return 0
	for i in $(seq 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	wait "$pid" 2>/dev/null
}

# api METHOD PATH [CURL ARGS...]: curl on the plain port with the test token.
api() {
	local m=$1 p=$2
	shift 2
	curl -sS -X "$m" ${TOKEN:+-H "Authorization: Bearer $TOKEN"} "$@" "$BASE$p"
}

# login_token USER PASSWORD: prints a session token.
login_token() {
	local tok
	secret "$2"
	tok=$(curl -sS -X POST -H 'Content-Type: application/json' \
		-d "{\"user\":\"$1\",\"password\":\"$2\"}" "$BASE/api/v1/session" |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])') || return 1
	secret "$tok"
	echo "$tok"
}

# flip_byte FILE OFFSET: damages FILE by inverting the bits of one byte
# (writing a fixed byte would leave it intact when the byte was that one).
flip_byte() {
	python3 -c 'import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(int(sys.argv[2])); b = f.read(1); f.seek(int(sys.argv[2])); f.write(bytes([b[0] ^ 0xFF]))' "$1" "$2"
}

# json_get JSON EXPR: evaluates a Python expression on j (the parsed JSON).
json_get() {
	python3 -c 'import json,sys; j=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2"
}

finish() {
	exit $_failed
}
