#!/usr/bin/env bash
# atrium's command line without a server: --help everywhere exits 0, misuse
# exits 2 with a sentence, no session and no server exit 1 with a sentence.
. "$(dirname "$0")/lib.sh"

# expect_exit NAME CODE CMD...: ok when CMD exits with CODE; keeps its output in $OUT.
expect_exit() {
	local name=$1 code=$2 rc
	shift 2
	OUT=$("$@" 2>&1)
	rc=$?
	if [ "$rc" -eq "$code" ]; then ok "$name"; else not_ok "$name" "exit $rc, wanted $code: $*" "$OUT"; fi
}

for cmd in "" login logout project "project list" "project create" "project delete" \
	"project log" commit checkout user "user add" "user list" "user delete" "user passwd" \
	certs "certs show" "certs trust" "certs import" "certs list" "certs remove" \
	ca "ca init" "ca issue" "ca export" "ca show"; do
	# shellcheck disable=SC2086
	expect_exit "atrium $cmd --help exits 0" 0 "$ATRIUM" $cmd --help
	expect_match "atrium $cmd --help prints a usage" "$OUT" "Usage: atrium"
done
expect_exit "atrium commit -h exits 0" 0 "$ATRIUM" commit -h
expect_match "commit --help names its options" "$OUT" "--base N"
expect_exit "--help wins over a bad option" 0 "$ATRIUM" checkout --bogus --help

expect_exit "no command is a usage error" 2 "$ATRIUM"
expect_exit "an unknown command is a usage error" 2 "$ATRIUM" frobnicate
expect_exit "project without a subcommand" 2 "$ATRIUM" project
expect_exit "an unknown project subcommand" 2 "$ATRIUM" project frob
expect_match "it lists the subcommands" "$OUT" "create"
expect_exit "user without a subcommand" 2 "$ATRIUM" user
expect_exit "an unknown option" 2 "$ATRIUM" login --bogus 127.0.0.1
expect_match "the unknown option is named" "$OUT" "unknown option '--bogus'"
expect_exit "login with two hosts" 2 "$ATRIUM" login a b
expect_exit "login to a bad address" 2 "$ATRIUM" login 'host:99999'
expect_match "the bad port is explained" "$OUT" "1 to 65535"
expect_exit "--plain with an https:// address" 2 "$ATRIUM" login --plain https://127.0.0.1
expect_match "is a contradiction" "$OUT" "contradict"
expect_exit "an unknown scheme" 2 "$ATRIUM" login ftp://127.0.0.1
expect_match "names the ones understood" "$OUT" "https:// and http://"
expect_exit "-u without a value" 2 "$ATRIUM" login -u
expect_exit "commit without a message" 2 "$ATRIUM" commit p f
expect_match "commit says the message is required" "$OUT" "-m MSG"
expect_exit "commit without a file" 2 "$ATRIUM" commit p -m x
expect_exit "commit with a bad base" 2 "$ATRIUM" commit p f -m x --base two
expect_exit "commit with a negative base" 2 "$ATRIUM" commit p f -m x --base -1
expect_exit "commit with a 5000-byte message" 2 "$ATRIUM" commit p f -m "$(head -c 5000 /dev/zero | tr '\0' x)"
expect_exit "checkout without a name" 2 "$ATRIUM" checkout
expect_exit "checkout -r 0" 2 "$ATRIUM" checkout p -r 0
expect_exit "checkout -r x" 2 "$ATRIUM" checkout p -r x
expect_exit "project create without a name" 2 "$ATRIUM" project create
expect_exit "project create with two names" 2 "$ATRIUM" project create a b
expect_exit "project delete without a name" 2 "$ATRIUM" project delete
expect_exit "project log without a name" 2 "$ATRIUM" project log
expect_exit "project list with an argument" 2 "$ATRIUM" project list x
expect_exit "user add with a bad role" 2 "$ATRIUM" user add bob --role boss
expect_exit "user delete without a name" 2 "$ATRIUM" user delete
expect_exit "logout with an argument" 2 "$ATRIUM" logout now

# No session: exit 1 and say how to log in.
expect_exit "project list without a session fails" 1 "$ATRIUM" project list
expect_match "it says to log in" "$OUT" "^atrium: not logged in; run atrium login"
expect_exit "commit without a session fails" 1 "$ATRIUM" commit p "$0" -m x
expect_exit "logout without a session is fine" 0 "$ATRIUM" logout
expect_exit "login with a missing host and no session" 2 "$ATRIUM" login -u x

# Nobody listening: a clear sentence.
port=$(free_port)
expect_exit "login to a closed port fails" 1 env ATRIUM_PASSWORD=x "$ATRIUM" login -u a "127.0.0.1:$port"
expect_eq "the sentence says what to check" "$OUT" \
	"atrium: cannot connect to 127.0.0.1:$port: connection refused; is atriumd running?"
if command -v script >/dev/null 2>&1; then
	OUT=$(script -qec "'$ATRIUM' checkout p -o -; echo rc=\$?" /dev/null 2>&1)
	expect_match "checkout will not write bytes to a terminal" "$OUT" "is a terminal.*rc=1"
fi
expect_exit "a file that does not exist" 1 "$ATRIUM" commit p /nonexistent -m x
expect_match "names the file" "$OUT" "cannot open /nonexistent"

finish
