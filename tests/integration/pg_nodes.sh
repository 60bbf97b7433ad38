#!/usr/bin/env bash
# Two atriumd nodes on one PostgreSQL database over verified TLS: whatever
# one node stores, the other serves (sessions, users, projects, revisions,
# content, locks); racing commits on the two nodes give one 201 and one
# 409; every connection the nodes hold is encrypted (pg_stat_ssl); the
# database password in the URL never reaches a log.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pg_lib.sh"

pg_certs || { echo "not ok - making test certificates failed"; exit 1; }
pg_start main on || { echo "not ok - PostgreSQL did not start"; exit 1; }
P=$PG_PORT_main
PW=Db-s3cret-pw-42
pg_sql "$P" postgres "CREATE ROLE atrium_pw LOGIN PASSWORD '$PW'" >/dev/null
pg_sql "$P" postgres "CREATE DATABASE atrium OWNER atrium_pw" >/dev/null
URL="postgresql://atrium_pw:$PW@127.0.0.1:$P/atrium"

export ATRIUM_DATABASE_SSL=on ATRIUM_DATABASE_SSL_ROOT_CERT=$PG_CERTS/ca.crt
start_atriumd "$T/a" --set "database=$URL" --set store_threads=3 || exit 1
A=$BASE PID_A=$SERVER_PID
start_atriumd "$T/b" --set "database=$URL" --set store_threads=3 || exit 1
B=$BASE PID_B=$SERVER_PID

# on NODE METHOD PATH [CURL ARGS...]
on() {
	local node=$1
	shift
	BASE=$node api "$@"
}

wait_ready "$T/a.log" || not_ok "node A says it is ready"
wait_ready "$T/b.log" || not_ok "node B says it is ready"
expect_match "node A logs the database's TLS protocol and cipher" "$(cat "$T/a.log")" \
	"connection encrypted with TLSv1\.[23], [A-Z0-9_-]+ \([0-9]+-bit\); server certificate and host name verified"
if grep -q "$PW" "$T/a.log" "$T/b.log"; then
	not_ok "the database password never appears in a log" "$(grep -h "$PW" "$T/a.log" "$T/b.log")"
else
	ok "the database password never appears in a log"
fi
expect_match "the log names the database without its password" "$(cat "$T/b.log")" \
	"store postgresql://atrium_pw@127\.0\.0\.1:$P/atrium over TLS verify-full"

TOKEN=$(BASE=$A login_token admin "$ATRIUM_ADMIN_PASSWORD")
expect_eq "a session made on A works on B" \
	"$(on "$B" GET /api/v1/projects -o /dev/null -w '%{http_code}')" 200
on "$B" POST /api/v1/users -d '{"name":"bob","password":"bob-pass-12"}' >/dev/null
BOB=$(BASE=$A login_token bob bob-pass-12)
expect_eq "a user added on B logs in on A" "${#BOB}" 64

code=$(on "$A" POST /api/v1/projects -d '{"name":"plant","description":"shared"}' \
	-o /dev/null -w '%{http_code}')
expect_eq "project created on A" "$code" 201
head -c 3500000 /dev/urandom >"$T/model1"
code=$(on "$A" POST "/api/v1/projects/plant/revisions?base=0&message=first" \
	--data-binary @"$T/model1" -o "$T/c1" -w '%{http_code}')
expect_eq "commit on A" "$code" 201
on "$B" GET /api/v1/projects/plant/revisions/1/content -o "$T/out1"
check "check out on B gives A's bytes" cmp "$T/model1" "$T/out1"
expect_eq "B reports A's sha256" \
	"$(json_get "$(on "$B" GET /api/v1/projects/plant/revisions/head)" 'j["sha256"]')" \
	"$(sha256sum <"$T/model1" | cut -c1-64)"
on "$B" GET /api/v1/projects/plant/revisions/1/content -H 'Range: bytes=1000000-1999999' \
	-o "$T/part" -w '%{http_code}' >"$T/code"
expect_eq "a range from B" "$(cat "$T/code") $(cmp <(tail -c +1000001 "$T/model1" | head -c 1000000) "$T/part" && echo same)" "206 same"

# A 40 MiB revision committed on B, read on A.
head -c $((40 * 1024 * 1024)) /dev/urandom >"$T/big"
code=$(on "$B" POST "/api/v1/projects/plant/revisions?base=1&message=big" \
	--data-binary @"$T/big" -o /dev/null -w '%{http_code}')
expect_eq "a 40 MiB commit on B" "$code" 201
on "$A" GET /api/v1/projects/plant/revisions/2/content -o "$T/bigout"
check "A serves B's 40 MiB revision byte for byte" cmp "$T/big" "$T/bigout"
rm -f "$T/bigout"

# Races: the same base on both nodes at the same moment.
head -c 300000 /dev/urandom >"$T/f1"
head -c 300000 /dev/urandom >"$T/f2"
rounds=12 good=0 base=2
for _ in $(seq "$rounds"); do
	curl -s -o "$T/r1" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" --data-binary @"$T/f1" \
		"$A/api/v1/projects/plant/revisions?base=$base&message=on-a" >"$T/s1" &
	one=$!
	curl -s -o "$T/r2" -w '%{http_code}' -H "Authorization: Bearer $BOB" --data-binary @"$T/f2" \
		"$B/api/v1/projects/plant/revisions?base=$base&message=on-b" >"$T/s2" &
	wait "$one" "$!"
	codes=$(printf '%s\n%s\n' "$(cat "$T/s1")" "$(cat "$T/s2")" | sort | tr '\n' ' ')
	if [ "$codes" == "201 409 " ]; then
		loser=$T/r1
		[ "$(cat "$T/s2")" == 409 ] && loser=$T/r2
		grep -q 'committed revision' "$loser" && good=$((good + 1))
	else
		echo "# base $base: $codes"
	fi
	base=$((base + 1))
done
expect_eq "concurrent commits on A and B: one 201 and one 409 (saying who) in each of $rounds races" \
	"$good" "$rounds"
expect_eq "the head moved once per race" \
	"$(json_get "$(on "$B" GET /api/v1/projects/plant)" 'j["head"]')" $((2 + rounds))

# Locks.
code=$(TOKEN=$BOB on "$A" POST /api/v1/projects/plant/locks -d '{"element":"Pump-7"}' \
	-o /dev/null -w '%{http_code}')
expect_eq "bob locks Pump-7 on A" "$code" 201
expect_eq "B lists bob's lock" \
	"$(json_get "$(on "$B" GET /api/v1/projects/plant/locks)" '[(l["element"], l["holder"]) for l in j["locks"]]')" \
	"[('Pump-7', 'bob')]"
out=$(on "$B" POST /api/v1/projects/plant/locks -d '{"element":"Pump-7"}' -w ' %{http_code}')
expect_match "admin taking it on B gets 409 naming bob" "$out" '"holder": *"bob".* 409$'
expect_match "the 409 says who holds it" "$out" "locked by bob since"
code=$(TOKEN=$BOB on "$B" POST /api/v1/projects/plant/locks -d '{"element":"Pump-7"}' \
	-o /dev/null -w '%{http_code}')
expect_eq "bob taking it again on B: 200, already his" "$code" 200
on "$A" POST /api/v1/users -d '{"name":"carol","password":"carol-pass-12"}' >/dev/null
CAROL=$(BASE=$B login_token carol carol-pass-12)
code=$(TOKEN=$CAROL on "$B" DELETE /api/v1/projects/plant/locks/Pump-7 -o /dev/null -w '%{http_code}')
expect_eq "carol may not release bob's lock" "$code" 403
code=$(on "$B" DELETE /api/v1/projects/plant/locks/Pump-7 -o /dev/null -w '%{http_code}')
expect_eq "an admin releases it on B" "$code" 204
expect_eq "A sees it released" \
	"$(json_get "$(on "$A" GET /api/v1/projects/plant/locks)" 'len(j["locks"])')" 0
code=$(on "$A" DELETE /api/v1/projects/plant/locks/Pump-7 -o /dev/null -w '%{http_code}')
expect_eq "releasing what is not locked: 404" "$code" 404
code=$(on "$A" POST /api/v1/projects/plant/locks -d '{"element":"Area 1/Valve ü"}' -o /dev/null -w '%{http_code}')
expect_eq "an element name with a slash, a space and UTF-8" "$code" 201
code=$(on "$B" DELETE "/api/v1/projects/plant/locks/Area%201%2FValve%20%C3%BC" -o /dev/null -w '%{http_code}')
expect_eq "... released by its percent-encoded name" "$code" 204
code=$(on "$B" POST /api/v1/projects/plant/locks -d '{"element":""}' -o /dev/null -w '%{http_code}')
expect_eq "an empty element name: 400" "$code" 400

# Every connection the two nodes hold is TLS, and there are no more than
# the two pools (store_threads = 3 each) and each node's deliverer and
# change-stream hub (one connection each).
row=$(pg_sql "$P" postgres "SELECT count(*), count(*) FILTER (WHERE s.ssl),
	string_agg(DISTINCT s.version || ' ' || s.cipher, ', ')
	FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) WHERE a.application_name = 'atriumd'")
IFS='|' read -r total encrypted ciphers <<<"$row"
expect_match "pg_stat_ssl: every atriumd connection encrypted ($total of them; $ciphers)" \
	"$total $encrypted" "^([1-9][0-9]*) \1$"
if [ "${total:-0}" -le 10 ]; then ok "the nodes hold at most 2 x (store_threads + 2) connections ($total)"
else not_ok "the nodes hold at most 2 x (store_threads + 2) connections" "$total"; fi

# The database restarts under the nodes: they reconnect by themselves (a
# request caught in the cut may fail; the next ones work).
pg_restart main
for node in "$A" "$B"; do
	for i in 1 2 3; do
		code=$(on "$node" GET /api/v1/projects/plant -o /dev/null -w '%{http_code}')
		[ "$code" == 200 ] && break
	done
	expect_eq "after a database restart $node serves again (attempt $i)" "$code" 200
done
code=$(on "$A" POST "/api/v1/projects/plant/revisions?base=$base&message=after" \
	--data-binary @"$T/f1" -o /dev/null -w '%{http_code}')
expect_eq "and commits again" "$code" 201

code=$(on "$B" DELETE /api/v1/projects/plant -o /dev/null -w '%{http_code}')
expect_eq "project deleted on B" "$code" 204
code=$(on "$A" GET /api/v1/projects/plant -o /dev/null -w '%{http_code}')
expect_eq "A no longer has it" "$code" 404
expect_eq "its content is gone from the database" \
	"$(pg_sql "$P" atrium "SELECT count(*) FROM blobs") $(pg_sql "$P" atrium "SELECT count(*) FROM content_chunks")" "0 0"

stop_atriumd "$PID_A"
stop_atriumd "$PID_B"
finish
