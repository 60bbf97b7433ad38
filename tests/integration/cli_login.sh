#!/usr/bin/env bash
# atrium login / logout against a real atriumd: the three password sources,
# wrong passwords, the session file's modes, the token never shown, logout
# ending the token on the server, an expired session's sentence. On the
# plain port with --plain (TLS logins: tls_client_login.sh).
. "$(dirname "$0")/lib.sh"

expect_exit() {
	local name=$1 code=$2 rc
	shift 2
	OUT=$("$@" 2>&1)
	rc=$?
	if [ "$rc" -eq "$code" ]; then ok "$name"; else not_ok "$name" "exit $rc, wanted $code: $*" "$OUT"; fi
}

start_atriumd "$T/data" || { not_ok "atriumd starts"; finish; }
HP=127.0.0.1:$PORT
PW=$ATRIUM_ADMIN_PASSWORD

expect_exit "login with a wrong password fails" 1 \
	"$ATRIUM" login --plain -u admin --password-stdin "$HP" <<<"wrong-password"
expect_match "with the server's sentence" "$OUT" "^atrium: .*(password|user)"
expect_eq "no session is kept" "$(ls "$ATRIUM_HOME/session.json" 2>/dev/null)" ""

expect_exit "login with --password-stdin" 0 \
	"$ATRIUM" login --plain -u admin --password-stdin "$HP" <<<"$PW"
expect_match "it says who is logged in where" "$OUT" "Logged in to $HP as admin"
expect_match "--plain warns that nothing is encrypted" "$OUT" "warning: plain HTTP to $HP \\(no TLS\\)"
expect_eq "the session file is mode 0600" "$(stat -c %a "$ATRIUM_HOME/session.json")" 600
expect_eq "the session directory is mode 0700" "$(stat -c %a "$ATRIUM_HOME")" 700
token=$(json_get "$(cat "$ATRIUM_HOME/session.json")" 'j["token"]')
expect_match "the session holds a token" "$token" '^[0-9a-f]{64}$'
expect_eq "and the server URL" \
	"$(json_get "$(cat "$ATRIUM_HOME/session.json")" 'j["server"]')" "http://$HP"
case "$OUT" in *"$token"*) not_ok "login does not print the token" ;; *) ok "login does not print the token" ;; esac
expect_eq "the token works" "$(TOKEN=$token api GET /api/v1/projects -o /dev/null -w '%{http_code}')" 200

expect_exit "login from ATRIUM_PASSWORD" 0 env ATRIUM_PASSWORD="$PW" "$ATRIUM" login --plain -u admin "$HP"
token2=$(json_get "$(cat "$ATRIUM_HOME/session.json")" 'j["token"]')
expect_eq "a new login replaces the session's token" "$([ "$token" != "$token2" ] && echo new)" new
expect_eq "and ends the one it replaces" \
	"$(TOKEN=$token api GET /api/v1/projects -o /dev/null -w '%{http_code}')" 401

expect_exit "a wrong ATRIUM_PASSWORD fails" 1 env ATRIUM_PASSWORD=nope-nope "$ATRIUM" login --plain -u admin "$HP"
expect_exit "the failed login kept the old session" 0 "$ATRIUM" project list

# The prompt reads the terminal; without one it reads a line of stdin.
expect_exit "login from the prompt" 0 "$ATRIUM" login -u admin "http://$HP" <<<"$PW"
expect_match "the prompt names user and server" "$OUT" "Password for admin at $HP"
expect_exit "login again without HOST reuses the session's server and user" 0 \
	"$ATRIUM" login --password-stdin <<<"$PW"
expect_match "same server" "$OUT" "Logged in to $HP as admin"
expect_exit "an empty password is refused before asking the server" 1 \
	"$ATRIUM" login --plain -u admin --password-stdin "$HP" </dev/null

# The server forgets the token (as when it expires): the sentence says what to do.
token=$(json_get "$(cat "$ATRIUM_HOME/session.json")" 'j["token"]')
TOKEN=$token api DELETE /api/v1/session >/dev/null
expect_exit "a command with an expired session fails" 1 "$ATRIUM" project list
expect_eq "saying the session expired (and to keep --plain)" "$OUT" \
	"atrium: your session has expired; run atrium login --plain $HP"

expect_exit "login again" 0 "$ATRIUM" login --plain -u admin --password-stdin "$HP" <<<"$PW"
token=$(json_get "$(cat "$ATRIUM_HOME/session.json")" 'j["token"]')
expect_exit "logout" 0 "$ATRIUM" logout
expect_match "it says so" "$OUT" "Logged out of $HP"
expect_eq "the session file is gone" "$(ls "$ATRIUM_HOME/session.json" 2>/dev/null)" ""
expect_eq "the token no longer works" \
	"$(TOKEN=$token api GET /api/v1/projects -o /dev/null -w '%{http_code}')" 401
expect_exit "logout twice is fine" 0 "$ATRIUM" logout
expect_exit "commands need a login again" 1 "$ATRIUM" project list

# A logout with the server gone still forgets the session locally.
"$ATRIUM" login --plain -u admin --password-stdin "$HP" <<<"$PW" >/dev/null 2>&1
stop_atriumd
expect_exit "logout with the server down still logs out" 0 "$ATRIUM" logout
expect_match "and warns that the server was not told" "$OUT" "warning: the server could not be told"
expect_eq "the session file is gone" "$(ls "$ATRIUM_HOME/session.json" 2>/dev/null)" ""

# A damaged session file is reported with its name, and logout clears it.
mkdir -p "$ATRIUM_HOME"
echo '{"server": 1' >"$ATRIUM_HOME/session.json"
expect_exit "a damaged session file fails" 1 "$ATRIUM" project list
expect_match "naming the file" "$OUT" "session.json is damaged"
expect_exit "logout clears a damaged session" 0 "$ATRIUM" logout
expect_eq "the damaged file is gone" "$(ls "$ATRIUM_HOME/session.json" 2>/dev/null)" ""

finish
