#!/usr/bin/env bash
# `atriumd --data DIR migrate --to postgresql://...`: an embedded store with
# 100 revisions (and users, locks, identical content) moves into
# PostgreSQL over verified TLS, every revision's sha256 is checked, a
# second run changes nothing, a node on PostgreSQL then serves it all, and
# content damaged in the embedded store is caught, not copied.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pg_lib.sh"

pg_certs || { echo "not ok - making test certificates failed"; exit 1; }
pg_start main on || { echo "not ok - PostgreSQL did not start"; exit 1; }
pg_sql "$PG_PORT_main" postgres "CREATE DATABASE atrium" >/dev/null
URL=$(pg_url "$PG_PORT_main" atrium)
export ATRIUM_DATABASE_SSL=on ATRIUM_DATABASE_SSL_ROOT_CERT=$PG_CERTS/ca.crt

# The embedded store: 100 revisions of "model" (every tenth one repeats
# the first content), two of "small", none of "empty".
start_atriumd "$T/src" || exit 1
TOKEN=$(login_token admin "$ATRIUM_ADMIN_PASSWORD")
api POST /api/v1/users -d '{"name":"alice","password":"alice-pass-1"}' >/dev/null
api POST /api/v1/users -d '{"name":"root2","password":"root2-pass-1","role":"admin"}' >/dev/null
for p in model small empty; do api POST /api/v1/projects -d "{\"name\":\"$p\"}" >/dev/null; done
head -c 200000 /dev/urandom >"$T/first"
bad=0
for i in $(seq 1 100); do
	if [ $((i % 10)) -eq 1 ]; then f=$T/first
	elif [ "$i" -eq 50 ]; then head -c 3000000 /dev/urandom >"$T/cur"; f=$T/cur
	else head -c $((i * 997)) /dev/urandom >"$T/cur"; f=$T/cur; fi
	code=$(api POST "/api/v1/projects/model/revisions?base=$((i - 1))&message=rev%20$i" \
		--data-binary @"$f" -o /dev/null -w '%{http_code}')
	[ "$code" == 201 ] || bad=$((bad + 1))
done
expect_eq "100 revisions in the embedded store" "$bad" 0
for i in 1 2; do
	echo "small $i" | api POST "/api/v1/projects/small/revisions?base=$((i - 1))" \
		--data-binary @- >/dev/null
done
ALICE=$(login_token alice alice-pass-1)
TOKEN=$ALICE api POST /api/v1/projects/model/locks -d '{"element":"Pump-1"}' >/dev/null
api GET /api/v1/projects/model/revisions >"$T/src-revs.json"
stop_atriumd
# A directory account (as a first directory login makes it) must stay one.
python3 - "$T/src/atrium.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("INSERT INTO users(name, hash, role, created, display_name, email, source)"
           " VALUES ('dana', '!directory', 'user', 1, 'Dana Directory', 'dana@example.test', 'directory')")
db.commit()
PY

# migrate_run NAME: runs the migration, output in $T/NAME.out.
migrate_run() {
	"$ATRIUMD" --data "$T/src" migrate --to "$URL" >"$T/$1.out" 2>&1
}

migrate_run m1
expect_eq "migrate exits 0" "$?" 0
out=$(cat "$T/m1.out")
expect_match "all 102 revisions copied" "$out" "revisions: 102 copied \([0-9]+ bytes\), 0 already there"
expect_match "and all 102 verified by sha256 read back from PostgreSQL" "$out" \
	"102 of 102 verified \(sha256 read back from PostgreSQL\)"
expect_match "users copied with their passwords" "$out" "users: 4 copied, 0 already there"
expect_match "the model project line" "$out" \
	"project 'model': 100 revisions: 100 copied, 0 already there; 100 verified \(sha256\)"
expect_match "the lock copied" "$out" "locks: 1 copied"
expect_eq "a directory account stays one, with its profile" \
	"$(pg_sql "$PG_PORT_main" atrium "SELECT source, display_name, email, hash FROM users WHERE name = 'dana'")" \
	"directory|Dana Directory|dana@example.test|!directory"
expect_match "over verified TLS" "$out" "over TLS verify-full"
expect_eq "identical content stored once in PostgreSQL" \
	"$(pg_sql "$PG_PORT_main" atrium "SELECT count(*) FROM blobs")" \
	"$(python3 -c 'import json,sys; print(len({r["sha256"] for r in json.load(open(sys.argv[1]))["revisions"]}) + 2)' "$T/src-revs.json")"

migrate_run m2
expect_eq "a second run exits 0" "$?" 0
out=$(cat "$T/m2.out")
expect_match "a second run copies nothing" "$out" "revisions: 0 copied \(0 bytes\), 102 already there; 102 of 102 verified"
expect_match "... and keeps the users" "$out" "users: 0 copied, 4 already there"

start_atriumd "$T/src" || exit 1
migrate_run m3
rc=$?
stop_atriumd
if [ $rc -ne 0 ] && grep -q "an atriumd is serving" "$T/m3.out"; then
	ok "migrate refuses while atriumd serves the directory"
else
	not_ok "migrate refuses while atriumd serves the directory" "exit $rc" "$(cat "$T/m3.out")"
fi

# A node on PostgreSQL serves the migrated data.
start_atriumd "$T/pgnode" --set "database=$URL" || exit 1
TOKEN=$(login_token alice alice-pass-1)
expect_eq "alice logs in on the PostgreSQL node with her old password" "${#TOKEN}" 64
api GET /api/v1/projects/model/revisions >"$T/pg-revs.json"
expect_eq "the revision list is identical (numbers, authors, messages, times, sizes, sha256)" \
	"$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])) == json.load(open(sys.argv[2])))' \
		"$T/src-revs.json" "$T/pg-revs.json")" True
for n in 1 50 99 100; do
	api GET "/api/v1/projects/model/revisions/$n/content" -o "$T/got"
	want=$(python3 -c 'import json,sys; print([r["sha256"] for r in json.load(open(sys.argv[1]))["revisions"] if r["number"] == int(sys.argv[2])][0])' "$T/src-revs.json" "$n")
	expect_eq "revision $n checks out with its sha256" "$(sha256sum <"$T/got" | cut -c1-64)" "$want"
done
expect_eq "the lock is there" \
	"$(json_get "$(api GET /api/v1/projects/model/locks)" '[(l["element"], l["holder"]) for l in j["locks"]]')" \
	"[('Pump-1', 'alice')]"
expect_eq "the empty project is there" \
	"$(json_get "$(api GET /api/v1/projects/empty)" 'j["head"]')" 0
stop_atriumd

# Damage in the embedded store is caught and not copied.
start_atriumd "$T/src" || exit 1
TOKEN=$(login_token admin "$ATRIUM_ADMIN_PASSWORD")
head -c 5000 /dev/urandom >"$T/last"
api POST "/api/v1/projects/model/revisions?base=100&message=last" --data-binary @"$T/last" >/dev/null
stop_atriumd
sha=$(sha256sum <"$T/last" | cut -c1-64)
blob=$T/src/blobs/${sha:0:2}/$sha
flip_byte "$blob" 100
migrate_run m4
rc=$?
if [ $rc -ne 0 ] && grep -q "revision 101 is damaged in the embedded store: its content hashes to" "$T/m4.out"; then
	ok "a damaged revision is caught by its sha256"
else
	not_ok "a damaged revision is caught by its sha256" "exit $rc" "$(cat "$T/m4.out")"
fi
expect_eq "... and not copied" \
	"$(pg_sql "$PG_PORT_main" atrium "SELECT head FROM projects WHERE name = 'model'")" 100
finish
