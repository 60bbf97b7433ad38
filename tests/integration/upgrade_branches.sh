#!/usr/bin/env bash
# The upgrade from before branches: a copy of tests/data/datadir-0.2 (made
# by main 62fbd4f: project plant with revisions 1..3, a lock of alice's on
# pump-1) opened by this atriumd. Every old revision is on trunk with its
# number and content, the old lock is a trunk lock, and the calls of old
# clients (no ?branch=) behave as before.
. "$(dirname "$0")/lib.sh"

SRC=$ATRIUM_TOP/tests/data/datadir-0.2
mkdir -p "$T/data"
cp "$SRC/atrium.db" "$T/data/"
cp -r "$SRC/blobs" "$T/data/"
chmod -R u+w "$T/data"
ATRIUM_ADMIN_PASSWORD=admin-secret-1 start_atriumd "$T/data" || exit 1
check "the upgrade is logged once" grep -q 'upgraded the database for branches' "$T/data.log"
TOKEN=$(login_token admin admin-secret-1)
ALICE=$(login_token alice alice-secret-1)
check "the old users log in" test -n "$ALICE"

out=$(api GET /api/v1/projects/plant/branches)
expect_match "the old project has trunk with head 3" "$out" '^\{"branches":\[\{"name":"trunk","from":null,"head":3,"created":"[^"]*","created_by":"admin"\}\]\}$'
out=$(api GET /api/v1/projects/plant/revisions)
expect_match "its revisions are trunk's 3, 2, 1" "$out" '^\{"revisions":\[\{"number":3,"author":"admin","message":"three",.*"branch":"trunk"\},\{"number":2,.*"message":"two",.*\{"number":1,.*"message":"one",.*"branch":"trunk"\}\]\}$'
for n in 1 2 3; do
	api GET "/api/v1/projects/plant/revisions/$n/content" -o "$T/c$n"
	expect_eq "revision $n's content, without ?branch=" "$(cat "$T/c$n")" "model v$n"
	api GET "/api/v1/projects/plant/revisions/$n/content?branch=trunk" -o "$T/t$n"
	check "and the same with ?branch=trunk" cmp "$T/c$n" "$T/t$n"
done
out=$(api GET /api/v1/projects/plant)
expect_match "the project's head is 3" "$out" '"head":3,"last":\{"number":3,"author":"admin","message":"three"'
out=$(api GET /api/v1/projects/plant/locks)
expect_match "the old lock is alice's on trunk, with its time" "$out" '^\{"locks":\[\{"element":"pump-1","holder":"alice","since":"[^"]*","branch":"trunk"\}\]\}$'

code=$(api POST /api/v1/projects/plant/locks -d '{"element":"pump-1"}' -o "$T/out" -w '%{http_code}')
expect_eq "an old client's lock call meets the old lock (409)" "$code" 409
printf 'model v4\n' >"$T/v4"
code=$(api POST "/api/v1/projects/plant/revisions?base=2&message=old" --data-binary @"$T/v4" -o "$T/out" -w '%{http_code}')
expect_eq "an old client's stale base is 409" "$code" 409
out=$(api POST "/api/v1/projects/plant/revisions?base=3&message=four" --data-binary @"$T/v4")
expect_match "an old client's commit is trunk's revision 4" "$out" '^\{"revision":4,"sha256":"[0-9a-f]{64}","size":9,'
code=$(curl -sS -o /dev/null -w '%{http_code}' -X DELETE -H "Authorization: Bearer $ALICE" "$BASE/api/v1/projects/plant/locks/pump-1")
expect_eq "alice releases her old lock the old way" "$code" 204
out=$(api POST /api/v1/projects/plant/branches -d '{"name":"after","from":{"revision":2}}')
expect_match "a branch from an old revision" "$out" '"from":\{"branch":"trunk","revision":2\},"head":1'

stop_atriumd
"$ATRIUMD" --data "$T/data" check >"$T/check.out" 2>&1
check "atriumd check finds the upgraded store clean" grep -q 'store is clean: 1 projects, 5 revisions' "$T/check.out"
ATRIUM_ADMIN_PASSWORD=admin-secret-1 start_atriumd "$T/data" || exit 1
n=$(grep -c 'upgraded the database for branches' "$T/data.log")
expect_eq "the upgrade ran once over two starts" "$n" 1
finish
