#!/usr/bin/env bash
# Every JSON error carries the error table's code beside its sentence
# ("code": "conflict"), from handlers and from the connection layer alike.
. "$(dirname "$0")/lib.sh"

start_atriumd "$T/data" --set login_attempts=2 || exit 1

# expect_code NAME STATUS CODE CURL-ARGS...: the answer's status and "code".
expect_code() {
	local name=$1 status=$2 want=$3 got
	shift 3
	got=$(curl -s -o "$T/out" -w '%{http_code}' "$@")
	expect_eq "$name is $status" "$got" "$status"
	expect_match "$name has code $want" "$(cat "$T/out")" "\"code\":\"$want\""
}

expect_code "a wrong password" 401 bad_login \
	-d '{"user":"admin","password":"nope-nope"}' "$BASE/api/v1/session"
expect_code "no token" 401 unauthorized "$BASE/api/v1/projects"
TOKEN=$(login_token admin "$ATRIUM_ADMIN_PASSWORD")
AUTH=(-H "Authorization: Bearer $TOKEN")
expect_code "an unknown path" 404 not_found "${AUTH[@]}" "$BASE/api/v1/nothing-here"
expect_code "a missing project" 404 not_found "${AUTH[@]}" "$BASE/api/v1/projects/ghost"
expect_code "a bad project name" 400 bad_name "${AUTH[@]}" -d '{"name":" lead"}' \
	"$BASE/api/v1/projects"

api POST /api/v1/projects -d '{"name":"p"}' >/dev/null
api POST "/api/v1/projects/p/revisions?base=0&message=one" --data-binary one >/dev/null
expect_code "a commit on a stale base" 409 conflict "${AUTH[@]}" --data-binary two \
	"$BASE/api/v1/projects/p/revisions?base=0&message=two"
expect_match "the stale commit still says what the head is" "$(cat "$T/out")" '"head":\{'
expect_code "a duplicate project" 409 exists "${AUTH[@]}" -d '{"name":"p"}' \
	"$BASE/api/v1/projects"

# From conn.c, before any handler: raw bytes, so curl cannot tidy them.
out=$(SHOW=1 raw_http "$PORT" 'b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"')
expect_match "two Host headers are 400" "$out" '^HTTP/1.1 400 '
expect_match "with code bad_request" "$out" '"code":"bad_request"'
out=$(SHOW=1 raw_http "$PORT" 'b"GET / HTTP/1.1\r\nHo st: a\r\n\r\n"')
expect_match "a malformed header line is 400" "$out" '^HTTP/1.1 400 '
expect_match "with code bad_request" "$out" '"code":"bad_request"'
out=$(SHOW=1 raw_http "$PORT" 'b"GET / HTTP/1.1\r\nHost: a\r\nX: " + b"x" * 70000 + b"\r\n\r\n"')
expect_match "huge headers are 431" "$out" '^HTTP/1.1 431 '
expect_match "with code headers_too_large" "$out" '"code":"headers_too_large"'

# login_attempts=2: the third wrong password is refused unchecked.
for i in 1 2; do
	curl -s -o /dev/null -d '{"user":"admin","password":"wrong-again"}' "$BASE/api/v1/session"
done
expect_code "a locked login" 429 rate_limited \
	-d '{"user":"admin","password":"wrong-again"}' "$BASE/api/v1/session"

# ---- the CLI: its exit status comes from the code (the table's exit
# column), the status is only a fallback for a body without one.
"$ATRIUM" login --plain -u admin --password-stdin "127.0.0.1:$PORT" <<<"wrong-again" >"$T/cli" 2>&1
expect_eq "atrium login refused by rate_limited exits 1" "$?" 1
expect_match "with the server's sentence" "$(cat "$T/cli")" 'atrium: .*'

# fake_cli STATUS BODY: the exit status and output of atrium login against
# a server that answers every request with STATUS and BODY.
fake_cli() {
	local fport rc
	fport=$(free_port)
	python3 "$ATRIUM_TOP/tests/integration/fake_error_server.py" "$fport" "$1" "$2" &
	_pids+=("$!")
	wait_port "$fport" 10
	"$ATRIUM" login --plain -u a --password-stdin "127.0.0.1:$fport" <<<"pw-pw-pw-1" >"$T/cli" 2>&1
	rc=$?
	kill "$!" 2>/dev/null
	echo "$rc"
}
expect_eq "code usage exits 2 though the status is 400" \
	"$(fake_cli 400 '{"error":"from the fake","code":"usage"}')" 2
expect_match "and prints the body's sentence" "$(cat "$T/cli")" 'atrium: from the fake'
expect_eq "code bad_request on the same status exits 1" \
	"$(fake_cli 400 '{"error":"from the fake","code":"bad_request"}')" 1
expect_eq "no code (an older server): the status decides, exit 1" \
	"$(fake_cli 400 '{"error":"from an old server"}')" 1
expect_match "and the sentence still shows" "$(cat "$T/cli")" 'from an old server'
expect_eq "a code this CLI does not know exits 1" \
	"$(fake_cli 400 '{"error":"from the future","code":"no_such_code"}')" 1
expect_eq "a body that is not JSON exits 1" "$(fake_cli 502 'upstream down')" 1
expect_match "naming the status with its reason phrase" "$(cat "$T/cli")" \
	'answered 502 Bad Gateway without saying why'

finish
