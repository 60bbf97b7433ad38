# The cases of branches, tags and element-lock sets, shared by the tests
# of both stores: branches.sh (SQLite) and branches_pg.sh (PostgreSQL).
# Source after lib.sh; set STORE_ARGS (extra atriumd arguments, e.g.
# --set database=URL) and call the case functions in order.

STORE_ARGS=${STORE_ARGS:-}
LOG=${LOG:-$T/data.log} # the server log the cases read

# bstart DIR: atriumd on DIR with the store's arguments; TOKEN is admin's.
bstart() {
	# shellcheck disable=SC2086
	start_atriumd "$1" $STORE_ARGS || return 1
	TOKEN=$(login_token admin "$ATRIUM_ADMIN_PASSWORD")
}

# as TOKEN METHOD PATH [CURL ARGS...]: api as another user; sets CODE, body in $T/out.
as() {
	local tok=$1 m=$2 p=$3
	shift 3
	CODE=$(curl -sS -o "$T/out" -w '%{http_code}' -X "$m" -H "Authorization: Bearer $tok" "$@" "$BASE$p")
}
out() { cat "$T/out"; }

# commit TOKEN PROJECT BRANCH BASE FILE [EXTRA QUERY] [CURL ARGS...]
commit() {
	local tok=$1 p=$2 b=$3 base=$4 f=$5 q=${6:-}
	shift 6 2>/dev/null || shift $#
	as "$tok" POST "/api/v1/projects/$p/revisions?base=$base&branch=$b&message=m$q" \
		--data-binary @"$f" "$@"
}

make_users() {
	api POST /api/v1/users -d '{"name":"alice","password":"alice-secret-1","role":"user"}' >/dev/null
	api POST /api/v1/users -d '{"name":"bob","password":"bob-secret-11","role":"user"}' >/dev/null
	ALICE=$(login_token alice alice-secret-1)
	BOB=$(login_token bob bob-secret-11)
}

cases_branches() {
	printf 'trunk one\n' >"$T/t1"
	printf 'trunk two\n' >"$T/t2"
	printf 'feature two\n' >"$T/f2"
	api POST /api/v1/projects -d '{"name":"plant"}' >/dev/null
	as "$TOKEN" GET /api/v1/projects/plant/branches
	expect_match "a new project has trunk, empty" "$(out)" '^\{"branches":\[\{"name":"trunk","from":null,"head":0,'
	commit "$ALICE" plant trunk 0 "$T/t1"
	commit "$ALICE" plant trunk 1 "$T/t2"
	expect_match "trunk takes revisions 1 and 2" "$(out)" '"revision":2,.*"branch":"trunk"'

	as "$ALICE" POST /api/v1/projects/plant/branches -d '{"name":"feature","from":{"branch":"trunk","revision":1}}'
	expect_eq "a branch from trunk:1 is created" "$CODE" 201
	expect_match "it starts at revision 1, made from trunk:1" "$(out)" '"name":"feature","from":\{"branch":"trunk","revision":1\},"head":1,.*"created_by":"alice"'
	as "$ALICE" GET "/api/v1/projects/plant/revisions?branch=feature"
	expect_match "its revision 1 says where it came from" "$(out)" '^\{"revisions":\[\{"number":1,"author":"alice","message":"branch feature from trunk:1",.*"branch":"feature"'
	as "$ALICE" GET "/api/v1/projects/plant/revisions/1/content?branch=feature"
	check "and holds trunk:1's content" cmp "$T/out" "$T/t1"
	as "$ALICE" POST /api/v1/projects/plant/branches -d '{"name":"feature"}'
	expect_eq "a branch name is unique in its project" "$CODE" 409
	as "$ALICE" POST /api/v1/projects/plant/branches -d '{"name":"late","from":{"revision":9}}'
	expect_eq "a branch from a missing revision is 404" "$CODE" 404
	as "$ALICE" POST /api/v1/projects/plant/branches -d '{"name":"bad/name"}'
	expect_eq "a bad branch name is 400" "$CODE" 400

	commit "$BOB" plant feature 1 "$T/f2"
	expect_eq "a commit on the branch is 201" "$CODE" 201
	expect_match "numbered on the branch" "$(out)" '"revision":2,.*"branch":"feature"'
	commit "$BOB" plant feature 1 "$T/f2"
	expect_eq "a stale base on the branch is 409" "$CODE" 409
	expect_match "naming the branch's head" "$(out)" 'bob committed revision 2 of feature .*"branch":"feature","head":\{"number":2,.*"branch":"feature"'
	commit "$ALICE" plant trunk 2 "$T/t1"
	expect_eq "trunk's base is its own: base 2 commits on trunk" "$CODE" 201
	commit "$ALICE" plant trunk 2 "$T/t1"
	expect_match "and trunk's stale base names trunk's head" "$(out)" 'alice committed revision 3 \('
	as "$ALICE" GET /api/v1/projects/plant
	expect_match "the project's head is trunk's" "$(out)" '"head":3,"last":\{"number":3,.*"branch":"trunk"'
	as "$ALICE" GET "/api/v1/projects/plant/revisions/head/content?branch=feature"
	check "head of the branch is its newest" cmp "$T/out" "$T/f2"
	as "$ALICE" GET "/api/v1/projects/plant/revisions/head/content"
	check "without ?branch= it is trunk's" cmp "$T/out" "$T/t1"
	as "$ALICE" GET "/api/v1/projects/plant/revisions?branch=nothere"
	expect_eq "an unknown branch is 404" "$CODE" 404
	expect_match "naming it" "$(out)" "project 'plant' has no branch named 'nothere'"
	as "$ALICE" GET /api/v1/projects/plant/branches
	expect_match "the list shows both, by name, with their heads" "$(out)" '"name":"feature","from":\{"branch":"trunk","revision":1\},"head":2,.*"name":"trunk","from":null,"head":3'
	as "$ALICE" POST /api/v1/projects/plant/branches -d '{"name":"empty-from-empty"}'
	expect_eq "a branch from trunk's head" "$CODE" 201
	expect_match "starts from trunk's newest" "$(out)" '"from":\{"branch":"trunk","revision":3\}'
}

cases_tags() {
	as "$ALICE" POST /api/v1/projects/plant/tags -d '{"name":"v1","revision":1}'
	expect_eq "a tag on trunk:1 is created" "$CODE" 201
	expect_match "naming branch and revision" "$(out)" '"name":"v1","branch":"trunk","revision":1,'
	as "$ALICE" POST /api/v1/projects/plant/tags -d '{"name":"v1","revision":2}'
	expect_eq "a tag does not move" "$CODE" 409
	expect_match "and says how to move it" "$(out)" 'delete it and create it again'
	as "$ALICE" GET /api/v1/projects/plant/tags/v1
	expect_match "it still names revision 1" "$(out)" '"revision":1,'
	as "$BOB" POST /api/v1/projects/plant/tags -d '{"name":"fx","branch":"feature"}'
	expect_match "a tag on a branch's head" "$(out)" '"name":"fx","branch":"feature","revision":2,'
	as "$ALICE" GET /api/v1/projects/plant/tags
	expect_match "the list, by name" "$(out)" '^\{"tags":\[\{"name":"fx",.*\{"name":"v1",'
	as "$ALICE" DELETE /api/v1/projects/plant/tags/v1
	expect_eq "deleting a tag is the project manager's (an admin's for now)" "$CODE" 403
	as "$TOKEN" DELETE /api/v1/projects/plant/tags/v1
	expect_eq "an admin deletes it" "$CODE" 204
	as "$ALICE" POST /api/v1/projects/plant/tags -d '{"name":"v1","revision":2}'
	expect_match "and re-creating moves it" "$(out)" '"name":"v1","branch":"trunk","revision":2,'
	as "$ALICE" POST /api/v1/projects/plant/tags -d '{"name":"v9","branch":"feature","revision":7}'
	expect_eq "a tag on a missing revision is 404" "$CODE" 404
	grep -q "admin.*deleted tag 'v1' (revision 1 of trunk) of project 'plant'" "$LOG"
	check "the deletion is logged" test $? -eq 0

	as "$TOKEN" DELETE /api/v1/projects/plant/branches/feature
	expect_eq "a branch that tags point at is not deleted" "$CODE" 409
	expect_match "naming the tags" "$(out)" "has 1 tag\(s\) \('fx'\); delete them first"
	as "$TOKEN" DELETE /api/v1/projects/plant/tags/fx
	as "$BOB" DELETE /api/v1/projects/plant/branches/feature
	expect_eq "deleting a branch is the project manager's (an admin's for now)" "$CODE" 403
	as "$TOKEN" DELETE /api/v1/projects/plant/branches/trunk
	expect_eq "trunk is never deleted" "$CODE" 403
	as "$TOKEN" DELETE /api/v1/projects/plant/branches/feature
	expect_eq "an admin deletes the branch" "$CODE" 204
	as "$ALICE" GET "/api/v1/projects/plant/revisions?branch=feature"
	expect_eq "its revisions go with it" "$CODE" 404
	as "$ALICE" GET "/api/v1/projects/plant/revisions/1/content"
	check "trunk's content is untouched" cmp "$T/out" "$T/t1"
}

# lockset TOKEN JSON: POST .../locks on plant.
lockset() { as "$1" POST /api/v1/projects/plant/locks -d "$2"; }

cases_locks() {
	lockset "$ALICE" '{"elements":["a","b","c"]}'
	expect_eq "a set of locks is taken" "$CODE" 201
	expect_match "all of it" "$(out)" '"branch":"trunk","holder":"alice","elements":\["a","b","c"\],"taken":3'
	lockset "$ALICE" '{"elements":["a","b"]}'
	expect_eq "taking what one holds is 200" "$CODE" 200
	expect_match "with nothing new" "$(out)" '"taken":0'
	lockset "$BOB" '{"elements":["d","c","b"]}'
	expect_eq "an overlapping set is 409" "$CODE" 409
	expect_match "naming holder and time of each conflicting element" "$(out)" "'b' \(alice since [0-9T:-]*Z\), 'c' \(alice since"
	expect_match "and listing them" "$(out)" '"conflicts":\[\{"element":"b","holder":"alice","since":"[^"]*","branch":"trunk"\},\{"element":"c",'
	as "$BOB" GET "/api/v1/projects/plant/locks?holder=me"
	expect_eq "and nothing of it was taken (all or none)" "$(out)" '{"locks":[]}'

	# The race: two clients, overlapping sets, at once (on a branch of
	# its own, so that releasing the winner's locks leaves the rest).
	as "$TOKEN" POST /api/v1/projects/plant/branches -d '{"name":"race"}'
	a=$(python3 -c 'import json; print(json.dumps({"branch":"race","elements":["r%03d" % i for i in range(0,60)]}))')
	b=$(python3 -c 'import json; print(json.dumps({"branch":"race","elements":["r%03d" % i for i in range(40,100)]}))')
	for round in 1 2 3; do
		curl -sS -o "$T/ra" -w '%{http_code}' -X POST -H "Authorization: Bearer $ALICE" -d "$a" "$BASE/api/v1/projects/plant/locks" >"$T/ca" &
		pa=$!
		curl -sS -o "$T/rb" -w '%{http_code}' -X POST -H "Authorization: Bearer $BOB" -d "$b" "$BASE/api/v1/projects/plant/locks" >"$T/cb" &
		pb=$!
		wait "$pa" "$pb"
		codes="$(cat "$T/ca") $(cat "$T/cb")"
		case "$codes" in
		"201 409") win=alice; lose=$T/rb ;;
		"409 201") win=bob; lose=$T/ra ;;
		*) win=none; lose=/dev/null ;;
		esac
		expect_match "race $round: exactly one of two overlapping sets wins" "$win" '^(alice|bob)$'
		n=$(python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); c=j["conflicts"]; print(len(c), sorted(set(x["holder"] for x in c)), c[0]["element"], c[-1]["element"])' "$lose" 2>/dev/null)
		expect_eq "race $round: the loser's 409 lists exactly the overlap, held by the winner" "$n" "20 ['$win'] r040 r059"
		as "$ALICE" GET "/api/v1/projects/plant/locks?branch=race"
		held=$(python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(len([l for l in j["locks"] if l["element"].startswith("r")]))' "$T/out")
		expect_eq "race $round: only the winner's 60 are held" "$held" 60
		as "$TOKEN" DELETE "/api/v1/projects/plant/locks?holder=$win&branch=race&reason=race%20test"
	done

	printf 'model with a\n' >"$T/m1"
	as "$BOB" GET /api/v1/projects/plant
	base=$(json_get "$(out)" 'j["head"]')
	commit "$BOB" plant trunk "$base" "$T/m1" "" -H 'Atrium-Elements: ["a","z"]'
	expect_eq "a commit touching someone else's locked element is 423" "$CODE" 423
	expect_match "naming it, its holder and time" "$(out)" "'a' on trunk of project 'plant' is locked by alice since .*\"code\":\"locked\",\"holder\":\"alice\""
	as "$BOB" GET /api/v1/projects/plant
	expect_match "and nothing was committed" "$(out)" "\"head\":$base,"
	commit "$ALICE" plant trunk "$base" "$T/m1" "" -H 'Atrium-Elements: ["a","b","zz"]'
	expect_eq "the holder's commit naming elements is 201" "$CODE" 201
	expect_match "releasing the locks it named" "$(out)" '"locks_released":2'
	as "$ALICE" GET "/api/v1/projects/plant/locks?holder=alice"
	expect_match "exactly those: c stays locked" "$(out)" '^\{"locks":\[\{"element":"c","holder":"alice","since":"[^"]*","branch":"trunk"'
	expect_eq "and only c" "$(json_get "$(out)" 'len(j["locks"])')" 1
	base=$((base + 1))
	commit "$ALICE" plant trunk "$base" "$T/m1" "&keep_locks=true" -H 'Atrium-Elements: ["c"]'
	expect_match "keep_locks=true keeps them" "$(out)" '"locks_released":0'
	as "$ALICE" GET "/api/v1/projects/plant/locks?holder=alice"
	expect_match "c is still alice's" "$(out)" '"element":"c"'
	base=$((base + 1))
	commit "$ALICE" plant trunk "$base" "$T/m1" "" -H 'Atrium-Elements: not json'
	expect_eq "a malformed Atrium-Elements is 400" "$CODE" 400
	many=$(python3 -c 'import json; print(json.dumps(["e%d" % i for i in range(1001)]))')
	commit "$ALICE" plant trunk "$base" "$T/m1" "" -H "Atrium-Elements: $many"
	expect_eq "more than 1000 elements in a commit is 400" "$CODE" 400

	lockset "$ALICE" '{"elements":["p","q"]}'
	as "$BOB" DELETE /api/v1/projects/plant/locks -d '{"elements":["p","zz"]}'
	expect_eq "releasing someone else's lock is 403" "$CODE" 403
	as "$TOKEN" DELETE /api/v1/projects/plant/locks -d '{"elements":["p","zz"],"reason":"alice is away"}'
	expect_eq "an admin releases it" "$CODE" 200
	expect_match "counting what was released" "$(out)" '"released":1'
	grep -q "admin 'admin' from 127.0.0.1: released 1 lock(s) on trunk of project 'plant', some of others: alice is away" "$LOG"
	check "and it is logged with who and why" test $? -eq 0
	as "$ALICE" DELETE "/api/v1/projects/plant/locks?holder=me"
	expect_match "?holder=me releases all of one's locks" "$(out)" '"released":2'
	as "$ALICE" GET "/api/v1/projects/plant/locks?holder=alice"
	expect_eq "none are left" "$(out)" '{"locks":[]}'
	as "$BOB" DELETE "/api/v1/projects/plant/locks?holder=alice"
	expect_eq "?holder=someone-else is for admins" "$CODE" 200
	expect_match "(nothing held: nothing to refuse)" "$(out)" '"released":0'

	# The single-element calls of before sets keep working.
	lockset "$ALICE" '{"element":"one"}'
	expect_eq "single lock: 201" "$CODE" 201
	expect_match "its answer" "$(out)" '^\{"element":"one","holder":"alice","since":"[^"]*","branch":"trunk"\}$'
	lockset "$ALICE" '{"element":"one"}'
	expect_eq "single lock again: 200" "$CODE" 200
	lockset "$BOB" '{"element":"one"}'
	expect_eq "single lock held by another: 409" "$CODE" 409
	expect_match "naming the holder" "$(out)" "'one' in project 'plant' is locked by alice since .*\"holder\":\"alice\",\"lock\":\{"
	as "$BOB" DELETE /api/v1/projects/plant/locks/one
	expect_eq "single release by another: 403" "$CODE" 403
	as "$ALICE" DELETE /api/v1/projects/plant/locks/one
	expect_eq "single release: 204" "$CODE" 204
	as "$ALICE" DELETE /api/v1/projects/plant/locks/one
	expect_eq "single release of nothing: 404" "$CODE" 404

	# Locks are per branch.
	as "$ALICE" POST /api/v1/projects/plant/branches -d '{"name":"side"}'
	lockset "$ALICE" '{"elements":["s1","s2"],"branch":"side"}'
	expect_match "locks on a branch" "$(out)" '"branch":"side","holder":"alice","elements":\["s1","s2"\],"taken":2'
	lockset "$BOB" '{"elements":["s1"]}'
	expect_eq "do not hold the same element on trunk" "$CODE" 201
	as "$BOB" GET "/api/v1/projects/plant/locks?branch=side"
	expect_match "?branch= lists a branch's locks" "$(out)" '^\{"locks":\[\{"element":"s1","holder":"alice","since":"[^"]*","branch":"side"\},\{"element":"s2"'
	lockset "$BOB" '{"elements":["s1"],"branch":"nope"}'
	expect_eq "locks on a missing branch: 404" "$CODE" 404
}

# Branches, tags and locks as they should be after cases_*.
cases_state() {
	local what=$1
	as "$ALICE" GET /api/v1/projects/plant/branches
	expect_match "$what: branches are kept" "$(out)" '"name":"empty-from-empty".*"name":"race".*"name":"side".*"name":"trunk"'
	as "$ALICE" GET /api/v1/projects/plant/tags
	expect_match "$what: tags are kept" "$(out)" '^\{"tags":\[\{"name":"v1","branch":"trunk","revision":2,'
	as "$ALICE" GET "/api/v1/projects/plant/locks"
	expect_match "$what: locks are kept, on their branches" "$(out)" '"element":"s1","holder":"alice","since":"[^"]*","branch":"side".*"element":"s2","holder":"alice","since":"[^"]*","branch":"side".*"element":"s1","holder":"bob","since":"[^"]*","branch":"trunk"'
}

# The CLI over the TLS port (the cases above use the plain one). DIR is
# the server's data directory (for its client bundle).
cases_cli() {
	local dir=$1 o
	mkdir -p "$ATRIUM_HOME/certs"
	cp "$dir/tls/client/cert.jks" "$dir/tls/client/cert.pass" "$ATRIUM_HOME/certs/"
	"$ATRIUM" login -u alice --password-stdin "127.0.0.1:$TLS_PORT" <<<"alice-secret-1" >/dev/null
	check "cli: alice logs in over TLS" test $? -eq 0
	"$ATRIUM" project create cliproj >/dev/null
	printf 'c1\n' >"$T/c1"
	printf 'c2\n' >"$T/c2"
	"$ATRIUM" commit cliproj "$T/c1" -m one >/dev/null
	o=$("$ATRIUM" branch create cliproj work --from trunk:1 2>&1)
	expect_match "cli: branch create" "$o" '^Created branch work of cliproj from trunk:1\.$'
	o=$("$ATRIUM" branch list cliproj 2>&1)
	expect_match "cli: branch list shows it with its head and origin" "$o" 'work +1 +trunk:1 '
	o=$("$ATRIUM" lock cliproj w1 w2 --branch work 2>&1)
	expect_match "cli: lock takes a set" "$o" '^Locked 2 element\(s\) of cliproj on work'
	o=$("$ATRIUM" locks cliproj --branch work 2>&1)
	expect_match "cli: locks lists them" "$o" 'w1 +work +alice'
	o=$("$ATRIUM" commit cliproj "$T/c2" -m two --branch work --elements w1 2>&1)
	expect_match "cli: commit --branch --elements" "$o" 'revision 2 on work .*Released 1 of your locks\.'
	o=$("$ATRIUM" commit cliproj "$T/c2" -m three --branch work --elements w2 --keep-locks 2>&1)
	expect_match "cli: --keep-locks keeps them" "$o" 'revision 3 on work'
	o=$("$ATRIUM" locks cliproj --holder me 2>&1)
	expect_match "cli: w2 is still held" "$o" 'w2 +work +alice'
	o=$("$ATRIUM" unlock cliproj --all --branch work 2>&1)
	expect_match "cli: unlock --all" "$o" '^Released 1 lock\(s\) of cliproj on work\.$'
	o=$("$ATRIUM" tag create cliproj rel --branch work -r 2 2>&1)
	expect_match "cli: tag create" "$o" '^Tagged cliproj work revision 2 as rel\.$'
	o=$("$ATRIUM" tag list cliproj 2>&1)
	expect_match "cli: tag list" "$o" 'rel +work +2 '
	"$ATRIUM" checkout cliproj --tag rel -o "$T/got" >/dev/null 2>&1
	check "cli: checkout --tag gets the tagged revision" cmp "$T/got" "$T/c2"
	"$ATRIUM" checkout cliproj --branch work -r 1 -o "$T/got" >/dev/null 2>&1
	check "cli: checkout --branch -r" cmp "$T/got" "$T/c1"
	o=$("$ATRIUM" project log cliproj --branch work 2>&1)
	expect_match "cli: project log --branch" "$o" ' 3  .*alice .*three'
	"$ATRIUM" branch delete cliproj work >/dev/null 2>&1
	check "cli: branch delete is refused for a user (admins, for now)" test $? -eq 1
	"$ATRIUM" tag delete cliproj rel >/dev/null 2>&1
	check "cli: tag delete likewise" test $? -eq 1
}
