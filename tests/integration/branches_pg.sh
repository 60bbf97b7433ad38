#!/usr/bin/env bash
# Branches, tags and element-lock sets on PostgreSQL: the cases of
# branches_lib.sh on one node, the lock race across two nodes of one
# database, then everything surviving a restart and a kill -9; and the
# schema's upgrade from a database of schema 2 (before branches).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pg_lib.sh"
. "$(dirname "$0")/branches_lib.sh"

pg_certs || { echo "not ok - making test certificates failed"; exit 1; }
pg_start main on || { echo "not ok - PostgreSQL did not start"; exit 1; }
pg_sql "$PG_PORT_main" postgres "CREATE DATABASE atrium" >/dev/null
URL=$(pg_url "$PG_PORT_main" atrium)
export ATRIUM_DATABASE_SSL=on ATRIUM_DATABASE_SSL_ROOT_CERT=$PG_CERTS/ca.crt
STORE_ARGS="--set database=$URL"
LOG=$T/n1.log

bstart "$T/n1" || exit 1
make_users
cases_branches
cases_tags
cases_locks
cases_state "live"
cases_cli "$T/n1"

# Two nodes of one database: a race between overlapping sets, one per node.
N1=$BASE
PID1=$SERVER_PID
bstart "$T/n2" || exit 1
N2=$BASE
a=$(python3 -c 'import json; print(json.dumps({"branch":"race","elements":["n%03d" % i for i in range(0,50)]}))')
b=$(python3 -c 'import json; print(json.dumps({"branch":"race","elements":["n%03d" % i for i in range(25,75)]}))')
for round in 1 2 3; do
	curl -sS -o "$T/ra" -w '%{http_code}' -X POST -H "Authorization: Bearer $ALICE" -d "$a" "$N1/api/v1/projects/plant/locks" >"$T/ca" &
	pa=$!
	curl -sS -o "$T/rb" -w '%{http_code}' -X POST -H "Authorization: Bearer $BOB" -d "$b" "$N2/api/v1/projects/plant/locks" >"$T/cb" &
	pb=$!
	wait "$pa" "$pb"
	case "$(cat "$T/ca") $(cat "$T/cb")" in
	"201 409") win=alice; lose=$T/rb ;;
	"409 201") win=bob; lose=$T/ra ;;
	*) win=none; lose=/dev/null ;;
	esac
	expect_match "two nodes, round $round: exactly one set wins" "$win" '^(alice|bob)$'
	n=$(python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))["conflicts"]; print(len(c), sorted(set(x["holder"] for x in c)))' "$lose" 2>/dev/null)
	expect_eq "two nodes, round $round: the loser's 409 lists the 25 overlapping, held by the winner" "$n" "25 ['$win']"
	as "$TOKEN" DELETE "/api/v1/projects/plant/locks?holder=$win&branch=race&reason=race"
done

stop_atriumd "$SERVER_PID"
stop_atriumd "$PID1"
bstart "$T/n1" || exit 1
ALICE=$(login_token alice alice-secret-1)
cases_state "after a restart"
kill -9 "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null
bstart "$T/n1" || exit 1
ALICE=$(login_token alice alice-secret-1)
cases_state "after a kill -9"
stop_atriumd
"$ATRIUMD" --data "$T/n1" --set "database=$URL" check >"$T/check.out" 2>&1
check "atriumd check reads every branch's revisions back" grep -q 'store is clean' "$T/check.out"

# Schema 2 (before branches), as its tables were: the upgrade puts every
# revision and lock on trunk.
pg_sql "$PG_PORT_main" postgres "CREATE DATABASE old" >/dev/null
pg_sql "$PG_PORT_main" old "
CREATE TABLE users(name TEXT PRIMARY KEY, hash TEXT NOT NULL, role TEXT NOT NULL CHECK (role IN ('admin','user')), created BIGINT NOT NULL);
CREATE TABLE projects(id BIGSERIAL PRIMARY KEY, name TEXT UNIQUE NOT NULL, description TEXT NOT NULL, created BIGINT NOT NULL, created_by TEXT NOT NULL, head BIGINT NOT NULL DEFAULT 0);
CREATE TABLE revisions(project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE, number BIGINT NOT NULL, author TEXT NOT NULL, message TEXT NOT NULL, time BIGINT NOT NULL, size BIGINT NOT NULL, sha256 TEXT NOT NULL, PRIMARY KEY (project_id, number));
CREATE TABLE locks(project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE, element TEXT NOT NULL, holder TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE, since BIGINT NOT NULL, PRIMARY KEY (project_id, element));
CREATE TABLE atrium_schema(version INTEGER NOT NULL);
INSERT INTO atrium_schema VALUES (2);
INSERT INTO users VALUES ('admin', '$(pg_sql "$PG_PORT_main" atrium "SELECT hash FROM users WHERE name = 'admin'")', 'admin', 1);
INSERT INTO users VALUES ('carol', 'x', 'user', 1);
INSERT INTO projects(name, description, created, created_by, head) VALUES ('legacy', '', 1, 'carol', 2);
INSERT INTO revisions VALUES (1, 1, 'carol', 'one', 1, 0, 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
INSERT INTO revisions VALUES (1, 2, 'carol', 'two', 2, 0, 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
INSERT INTO locks VALUES (1, 'valve', 'carol', 3);" >/dev/null
STORE_ARGS="--set database=$(pg_url "$PG_PORT_main" old)"
bstart "$T/old" || exit 1
check "the upgrade from schema 2 is logged" grep -q 'from schema 2 to 3' "$T/old.log"
as "$TOKEN" GET /api/v1/projects/legacy/branches
expect_match "schema 2's project has trunk with its head" "$(out)" '"name":"trunk","from":null,"head":2,'
as "$TOKEN" GET /api/v1/projects/legacy/revisions
expect_match "its revisions are trunk's" "$(out)" '"number":2,"author":"carol","message":"two",.*"branch":"trunk"\},\{"number":1,.*"branch":"trunk"'
as "$TOKEN" GET /api/v1/projects/legacy/locks
expect_match "its lock is a trunk lock" "$(out)" '^\{"locks":\[\{"element":"valve","holder":"carol","since":"[^"]*","branch":"trunk"\}\]\}$'
stop_atriumd

# migrate copies branches (their revisions verified), tags and locks.
STORE_ARGS=""
LOG=$T/src.log
bstart "$T/src" || exit 1
make_users
printf 'm1\n' >"$T/m1"
printf 'm2\n' >"$T/m2"
printf 'b2\n' >"$T/b2"
api POST /api/v1/projects -d '{"name":"mp"}' >/dev/null
commit "$ALICE" mp trunk 0 "$T/m1"
commit "$ALICE" mp trunk 1 "$T/m2"
as "$ALICE" POST /api/v1/projects/mp/branches -d '{"name":"mb","from":{"revision":1}}'
commit "$ALICE" mp mb 1 "$T/b2"
as "$ALICE" POST /api/v1/projects/mp/tags -d '{"name":"mt","branch":"mb"}'
as "$ALICE" POST /api/v1/projects/mp/locks -d '{"elements":["e1","e2"],"branch":"mb"}'
as "$ALICE" GET "/api/v1/projects/mp/revisions?branch=mb"
src_revs=$(out)
stop_atriumd
pg_sql "$PG_PORT_main" postgres "CREATE DATABASE mig" >/dev/null
MURL=$(pg_url "$PG_PORT_main" mig)
"$ATRIUMD" --data "$T/src" migrate --to "$MURL" >"$T/mig.out" 2>&1
check "migrate succeeds" test $? -eq 0
expect_match "it counts every branch's revisions" "$(cat "$T/mig.out")" "project 'mp': 4 revisions: 3 copied, 1 already there; 4 verified"
STORE_ARGS="--set database=$MURL"
LOG=$T/dst.log
bstart "$T/dst" || exit 1
ALICE=$(login_token alice alice-secret-1)
as "$ALICE" GET "/api/v1/projects/mp/revisions?branch=mb"
expect_eq "the branch's revisions are as they were" "$(out)" "$src_revs"
as "$ALICE" GET "/api/v1/projects/mp/revisions/2/content?branch=mb"
check "with their content" cmp "$T/out" "$T/b2"
as "$ALICE" GET /api/v1/projects/mp/tags/mt
expect_match "the tag is copied" "$(out)" '"name":"mt","branch":"mb","revision":2,'
as "$ALICE" GET "/api/v1/projects/mp/locks?branch=mb"
expect_match "the branch's locks are copied" "$(out)" '"element":"e1","holder":"alice",.*"element":"e2","holder":"alice"'
"$ATRIUMD" --data "$T/src" migrate --to "$MURL" >"$T/mig2.out" 2>&1
expect_match "a second migrate finds everything there" "$(cat "$T/mig2.out")" "project 'mp': 4 revisions: 0 copied, 4 already there"
finish
