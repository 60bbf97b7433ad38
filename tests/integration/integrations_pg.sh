#!/usr/bin/env bash
# Integrations with PostgreSQL: `migrate` copies them (settings, state,
# secret) from the embedded store but not their deliveries; a node on
# PostgreSQL then serves them through the admin API, a commit there is
# queued as a pending delivery in the same transaction, and two nodes on
# one database see one integration and one queue.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pg_lib.sh"

pg_certs || { echo "not ok - making test certificates failed"; exit 1; }
pg_start main on || { echo "not ok - PostgreSQL did not start"; exit 1; }
pg_sql "$PG_PORT_main" postgres "CREATE DATABASE atrium" >/dev/null
URL=$(pg_url "$PG_PORT_main" atrium)
export ATRIUM_DATABASE_SSL=on ATRIUM_DATABASE_SSL_ROOT_CERT=$PG_CERTS/ca.crt

# admin_login DIR: the console's session on the running node (cookie jar
# per node), sets A, CSRF, J.
admin_login() {
	A=https://localhost:$ADMIN_PORT
	CA=$1/tls/ca.crt
	J=$T/cookies-$(basename "$1")
	c -o "$T/out" -X POST -d "{\"user\":\"admin\",\"password\":\"$ATRIUM_ADMIN_PASSWORD\"}" \
		"$A/admin/api/login"
	CSRF=$(json_get "$(cat "$T/out")" 'j["csrf"]')
}
c() { curl -sS --cacert "$CA" -b "$J" -c "$J" "$@"; }
call() {
	local m=$1 p=$2
	if [ $# -gt 2 ]; then
		CODE=$(c -o "$T/out" -w '%{http_code}' -H "X-CSRF-Token: $CSRF" -X "$m" -d "$3" "$A$p")
	else
		CODE=$(c -o "$T/out" -w '%{http_code}' -H "X-CSRF-Token: $CSRF" -X "$m" "$A$p")
	fi
	OUT=$(cat "$T/out")
}
jq_() { json_get "$OUT" "$1"; }

# ---- the embedded store: two integrations, one paused, a delivery waiting ----
start_atriumd "$T/src" || exit 1
wait_port "$ADMIN_PORT" || { not_ok "the admin port listens"; finish; }
admin_login "$T/src"
call POST /admin/api/integrations '{"name":"ci","url":"http://127.0.0.1:9/ci","events":["revision.committed"]}'
expect_eq "an integration on the embedded store" "$CODE" 201
secret "$(jq_ 'j["secret"]')"
call POST /admin/api/integrations '{"name":"chat","url":"http://127.0.0.1:9/chat"}'
secret "$(jq_ 'j["secret"]')"
call POST /admin/api/integrations/chat/pause
TOKEN=$(login_token admin "$ATRIUM_ADMIN_PASSWORD")
api POST /api/v1/projects -d '{"name":"plant"}' >/dev/null
printf 'v1\n' >"$T/v1"
api POST "/api/v1/projects/plant/revisions?base=0&message=one" --data-binary @"$T/v1" >/dev/null
call GET /admin/api/integrations/ci
expect_eq "with a delivery waiting" "$(jq_ 'j["integration"]["pending"]')" 1
call GET /admin/api/integrations
jq_ '[(i["name"], i["url"], i["events"], i["state"], i["state_reason"], i["created"], i["created_by"]) for i in j["integrations"]]' >"$T/src-integrations"
stop_atriumd

"$ATRIUMD" --data "$T/src" migrate --to "$URL" >"$T/m1.out" 2>&1
expect_eq "migrate exits 0" "$?" 0
expect_match "copies the integrations" "$(cat "$T/m1.out")" \
	"integrations: 2 copied, 0 already there \(their deliveries and log are not copied\)"
"$ATRIUMD" --data "$T/src" migrate --to "$URL" >"$T/m2.out" 2>&1
expect_match "a second run keeps them" "$(cat "$T/m2.out")" "integrations: 0 copied, 2 already there"
expect_eq "their deliveries stayed behind" \
	"$(pg_sql "$PG_PORT_main" atrium "SELECT count(*) FROM deliveries")" 0
expect_eq "the migration wrote no events" \
	"$(pg_sql "$PG_PORT_main" atrium "SELECT count(*) FROM events")" 0
expect_eq "the secret came along" \
	"$(pg_sql "$PG_PORT_main" atrium "SELECT count(*) FROM integrations WHERE secret LIKE 'whsec_%'")" 2

# ---- a node on PostgreSQL ---------------------------------------------------------
start_atriumd "$T/n1" --set "database=$URL" || exit 1
wait_port "$ADMIN_PORT" || { not_ok "the admin port listens"; finish; }
N1_ADMIN=$ADMIN_PORT
admin_login "$T/n1"
call GET /admin/api/integrations
expect_eq "the node on PostgreSQL lists them as they were" \
	"$(jq_ '[(i["name"], i["url"], i["events"], i["state"], i["state_reason"], i["created"], i["created_by"]) for i in j["integrations"]]')" \
	"$(cat "$T/src-integrations")"
TOKEN=$(login_token admin "$ATRIUM_ADMIN_PASSWORD")
printf 'v2\n' >"$T/v2"
api POST "/api/v1/projects/plant/revisions?base=1&message=two" --data-binary @"$T/v2" >/dev/null
api POST "/api/v1/projects/plant/revisions?base=0&message=stale" --data-binary @"$T/v2" >/dev/null
call GET /admin/api/integrations/ci
expect_eq "a commit on PostgreSQL is queued as a pending delivery, seq from 1" \
	"$(jq_ '(j["integration"]["pending"], j["integration"]["last_seq"])')" "(1, 1)"
expect_eq "the event and its delivery are in the database (the refused commit wrote none)" \
	"$(pg_sql "$PG_PORT_main" atrium "SELECT count(*) FROM events WHERE type = 'revision.committed'") $(pg_sql "$PG_PORT_main" atrium "SELECT count(*) FROM deliveries d JOIN integrations i ON i.id = d.integration_id WHERE i.name = 'ci' AND d.state = 'pending'")" \
	"1 1"
call GET /admin/api/integrations/chat
expect_eq "paused: still queued" "$(jq_ '(j["integration"]["state"], j["integration"]["pending"])')" "('paused', 1)"
call POST /admin/api/integrations/chat/test
expect_eq "test on PostgreSQL" "$CODE" 202
call POST /admin/api/integrations/chat/resume
expect_eq "resume on PostgreSQL" "$CODE $(jq_ 'j["integration"]["pending"]')" "200 2"

# ---- a second node on the same database -------------------------------------------
start_atriumd "$T/n2" --set "database=$URL" || exit 1
wait_port "$ADMIN_PORT" || { not_ok "the second node's admin port listens"; finish; }
admin_login "$T/n2"
call POST /admin/api/integrations '{"name":"from-n2","url":"http://127.0.0.1:9/n2"}'
expect_eq "the second node adds an integration" "$CODE" 201
secret "$(jq_ 'j["secret"]')"
api POST /api/v1/projects -d '{"name":"made-on-n2"}' >/dev/null
ADMIN_PORT=$N1_ADMIN
admin_login "$T/n1"
call GET /admin/api/integrations/from-n2
expect_eq "the first node sees it and the event queued on the second" \
	"$CODE $(jq_ 'j["integration"]["pending"]')" "200 1"
call POST /admin/api/integrations '{"name":"from-n2","url":"http://127.0.0.1:9/n1"}'
expect_eq "its name is taken on this node too: 409" "$CODE $(jq_ 'j["code"]')" "409 exists"
finish
