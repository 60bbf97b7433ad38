#!/usr/bin/env bash
# atrium project list|create|delete|log against a real atriumd.
. "$(dirname "$0")/lib.sh"

expect_exit() {
	local name=$1 code=$2 rc
	shift 2
	OUT=$("$@" 2>&1)
	rc=$?
	if [ "$rc" -eq "$code" ]; then ok "$name"; else not_ok "$name" "exit $rc, wanted $code: $*" "$OUT"; fi
}

start_atriumd "$T/data" || { not_ok "atriumd starts"; finish; }
# Plain HTTP here (the test is about projects); TLS is the default, see tls_client_*.sh.
HP=127.0.0.1:$PORT
"$ATRIUM" login --plain -u admin --password-stdin "$HP" <<<"$ATRIUM_ADMIN_PASSWORD" >/dev/null 2>&1 ||
	not_ok "admin logs in"

expect_exit "list with no projects" 0 "$ATRIUM" project list
expect_match "says there are none" "$OUT" "No projects yet"
expect_exit "create a project" 0 "$ATRIUM" project create model -d "The plant model"
expect_eq "it says so" "$OUT" "Created project model."
expect_exit "create one without a description" 0 "$ATRIUM" project create "second one"
expect_exit "create an existing project fails" 1 "$ATRIUM" project create model
expect_match "with the server's sentence" "$OUT" "^atrium: .*exists"
expect_exit "a name the server refuses fails" 1 "$ATRIUM" project create " padded"
expect_match "with the server's sentence" "$OUT" "^atrium: "

expect_exit "list" 0 "$ATRIUM" project list
expect_match "a header row" "$OUT" "^NAME +HEAD +LAST BY +LAST COMMIT +DESCRIPTION"
expect_match "the project with head 0 and its description" "$OUT" $'\nmodel +0 +- +- +The plant model'
expect_match "the other one" "$OUT" $'\nsecond one +0'
expect_exit "list --json" 0 "$ATRIUM" project list --json
expect_eq "is the server's JSON" "$(json_get "$OUT" '[p["name"] for p in j["projects"]]')" \
	"['model', 'second one']"

# After a commit the list shows head, author and time.
head -c 1000 /dev/urandom >"$T/f"
"$ATRIUM" commit model "$T/f" -m "first cut" >/dev/null 2>&1 || not_ok "commit to model"
expect_exit "list after a commit" 0 "$ATRIUM" project list
expect_match "shows head 1 by admin" "$OUT" $'\nmodel +1 +admin +[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2} +The plant model'

expect_exit "log of an empty project" 0 "$ATRIUM" project log "second one"
expect_match "says it is empty" "$OUT" "no revisions yet"
expect_exit "log of a missing project fails" 1 "$ATRIUM" project log nothing
expect_match "with the server's sentence" "$OUT" "^atrium: .*nothing"

# A user who did not create a project may not delete it.
"$ATRIUM" user add carol --password-stdin <<<"carol-password-1" >/dev/null 2>&1 || not_ok "add carol"
CAROL_HOME=$T/carol
ATRIUM_HOME=$CAROL_HOME "$ATRIUM" login --plain -u carol --password-stdin "$HP" <<<"carol-password-1" \
	>/dev/null 2>&1 || not_ok "carol logs in"
expect_exit "another user's project cannot be deleted" 1 env ATRIUM_HOME="$CAROL_HOME" \
	"$ATRIUM" project delete model
expect_match "with the server's sentence" "$OUT" "^atrium: "
expect_exit "her own can" 0 env ATRIUM_HOME="$CAROL_HOME" "$ATRIUM" project create mine
expect_exit "and be deleted by her" 0 env ATRIUM_HOME="$CAROL_HOME" "$ATRIUM" project delete mine

expect_exit "delete a project" 0 "$ATRIUM" project delete "second one"
expect_eq "it says so" "$OUT" "Deleted project second one."
expect_exit "delete it again fails" 1 "$ATRIUM" project delete "second one"
expect_exit "list after deleting" 0 "$ATRIUM" project list
expect_match "it is gone" "$OUT" "^NAME[^"$'\n'"]*"$'\n'"model [^"$'\n'"]*$"

# Names with spaces, slashes' neighbours and UTF-8 survive the path encoding.
name='Été & co #1 (v=2)?'
expect_exit "create a project with an odd name" 0 "$ATRIUM" project create "$name" -d 'x'
expect_exit "its log works" 0 "$ATRIUM" project log "$name"
expect_exit "and delete" 0 "$ATRIUM" project delete "$name"

finish
