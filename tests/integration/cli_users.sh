#!/usr/bin/env bash
# atrium user add|list|delete|passwd against a real atriumd, over TLS: each
# client home trusts the server through the client bundle copied as it is.
. "$(dirname "$0")/lib.sh"

expect_exit() {
	local name=$1 code=$2 rc
	shift 2
	OUT=$("$@" 2>&1)
	rc=$?
	if [ "$rc" -eq "$code" ]; then ok "$name"; else not_ok "$name" "exit $rc, wanted $code: $*" "$OUT"; fi
}

# trust_bundle HOME: the server's client bundle into HOME/certs (the reference's layout).
trust_bundle() {
	mkdir -p "$1/certs" && cp "$T/data/tls/client/cert.jks" "$T/data/tls/client/cert.pass" "$1/certs/"
}

start_atriumd "$T/data" || { not_ok "atriumd starts"; finish; }
HP=127.0.0.1:$TLS_PORT
PW=$ATRIUM_ADMIN_PASSWORD
DORA=$T/dora.home
trust_bundle "$ATRIUM_HOME"
trust_bundle "$DORA"
"$ATRIUM" login -u admin --password-stdin "$HP" <<<"$PW" >/dev/null || not_ok "admin logs in"

# dora LOGIN-PASSWORD: logs dora in with her own ATRIUM_HOME.
dora_login() {
	ATRIUM_HOME=$DORA "$ATRIUM" login -u dora --password-stdin "$HP" <<<"$1"
}

expect_exit "add a user" 0 "$ATRIUM" user add dora --password-stdin <<<"dora-password-1"
expect_eq "it says so" "$OUT" "Added user dora (user)."
expect_exit "she can log in" 0 dora_login dora-password-1
expect_exit "add an admin, password typed twice" 0 "$ATRIUM" user add eve --role admin \
	<<<$'eve-password-1\neve-password-1'
expect_match "asking twice" "$OUT" "New password for eve: .*Repeat it: "
expect_exit "two different passwords are refused" 1 "$ATRIUM" user add fay <<<$'fay-password-1\nfay-password-2'
expect_match "saying they differ" "$OUT" "do not match"
expect_exit "adding an existing user fails" 1 "$ATRIUM" user add dora --password-stdin <<<"dora-password-1"
expect_match "with the server's sentence" "$OUT" "^atrium: .*exists"
expect_exit "a short password is refused by the server" 1 "$ATRIUM" user add gil --password-stdin <<<"short"
expect_match "with its sentence" "$OUT" "^atrium: .*8"

expect_exit "list" 0 "$ATRIUM" user list
expect_match "a header" "$OUT" "^NAME +ROLE +ADDED"
expect_match "admin is an admin" "$OUT" $'\nadmin +admin +[0-9]{4}-'
expect_match "dora a user" "$OUT" $'\ndora +user +'
expect_match "eve an admin" "$OUT" $'\neve +admin +'
expect_exit "list --json" 0 "$ATRIUM" user list --json
expect_eq "is the server's JSON" "$(json_get "$OUT" 'sorted(u["name"] for u in j["users"])')" \
	"['admin', 'dora', 'eve']"
expect_exit "a user who is not an admin cannot list users" 1 env ATRIUM_HOME="$DORA" "$ATRIUM" user list
expect_match "with the server's sentence" "$OUT" "^atrium: "

# Her own password: the current one first.
expect_exit "dora changes her own password" 0 env ATRIUM_HOME="$DORA" \
	"$ATRIUM" user passwd --password-stdin <<<$'dora-password-1\ndora-password-2'
expect_eq "it says so" "$OUT" "Changed the password of dora."
expect_exit "the new one works" 0 dora_login dora-password-2
expect_exit "the old one no longer does" 1 dora_login dora-password-1
dora_login dora-password-2 >/dev/null 2>&1
expect_exit "with a wrong current password it fails" 1 env ATRIUM_HOME="$DORA" \
	"$ATRIUM" user passwd dora --password-stdin <<<$'not-her-password\ndora-password-3'
expect_match "with the server's sentence, not 'session expired'" "$OUT" "^atrium: "
case "$OUT" in *expired*) not_ok "not about the session" "$OUT" ;; *) ok "not about the session" ;; esac
expect_exit "the prompts ask for the current one, then the new one twice" 0 env ATRIUM_HOME="$DORA" \
	"$ATRIUM" user passwd <<<$'dora-password-2\ndora-password-3\ndora-password-3'
expect_match "in that order" "$OUT" "Current password: .*New password for dora: .*Repeat it: "
expect_exit "a user cannot change another's password" 1 env ATRIUM_HOME="$DORA" \
	"$ATRIUM" user passwd eve --password-stdin <<<"eve-password-9"

# An admin sets another user's password without the old one.
expect_exit "admin sets dora's password" 0 "$ATRIUM" user passwd dora --password-stdin <<<"dora-password-4"
expect_exit "and it works" 0 dora_login dora-password-4

expect_exit "delete a user" 0 "$ATRIUM" user delete dora
expect_eq "it says so" "$OUT" "Deleted user dora."
expect_exit "she can no longer log in" 1 dora_login dora-password-4
expect_exit "deleting her again fails" 1 "$ATRIUM" user delete dora
expect_exit "delete the other admin" 0 "$ATRIUM" user delete eve
expect_exit "the last admin cannot be deleted" 1 "$ATRIUM" user delete admin
expect_match "with the server's sentence" "$OUT" "^atrium: .*admin"
expect_exit "list after deleting" 0 "$ATRIUM" user list
expect_eq "only admin is left" "$(echo "$OUT" | tail -n +2 | awk '{print $1}')" admin

finish
