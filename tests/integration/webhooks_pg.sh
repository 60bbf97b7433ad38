#!/usr/bin/env bash
# Two atriumd nodes on one PostgreSQL database deliver one integration's
# events: 100 revisions committed on the two nodes in turn reach the
# receiver (tests/webhooks/receiver.js, verifying with standardwebhooks)
# each exactly once, in order, whichever node sends each one.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pg_lib.sh"

HERE=$ATRIUM_TOP/tests/webhooks
if [ ! -f "$HERE/node_modules/standardwebhooks/package.json" ]; then
	(cd "$HERE" && npm ci --no-audit --no-fund) >"$T/npm.log" 2>&1 ||
		{ not_ok "npm ci installs standardwebhooks" "$(tail -n 20 "$T/npm.log")"; finish; }
fi
pg_certs || { echo "not ok - making test certificates failed"; exit 1; }
pg_start main on || { echo "not ok - PostgreSQL did not start"; exit 1; }
pg_sql "$PG_PORT_main" postgres "CREATE DATABASE atrium" >/dev/null
URL=$(pg_url "$PG_PORT_main" atrium)
export ATRIUM_DATABASE_SSL=on ATRIUM_DATABASE_SSL_ROOT_CERT=$PG_CERTS/ca.crt

for n in a b; do
	mkdir -p "$T/$n"
	printf 'integration_retries = 1s,1s,1s\nintegration_timeout = 3\n' >"$T/$n/atrium.conf"
done
start_atriumd "$T/a" --set "database=$URL" --set store_threads=2 || exit 1
A=$BASE ADMIN_A=$ADMIN_PORT
start_atriumd "$T/b" --set "database=$URL" --set store_threads=2 || exit 1
B=$BASE
wait_port "$ADMIN_A" 30

RP=$(free_port)
echo '{}' >"$T/plan"
node "$HERE/receiver.js" --port "$RP" --record "$T/rec.jsonl" --secrets "$T/secrets" \
	--plan "$T/plan" --plain >"$T/recv.out" 2>&1 &
_pids+=("$!")
touch "$T/rec.jsonl"
wait_port "$RP" 20 || not_ok "the receiver listens" "$(cat "$T/recv.out")"

J=$T/cookies
c() { curl -sS --cacert "$T/a/tls/ca.crt" -b "$J" -c "$J" -H "X-CSRF-Token: ${CSRF:-}" "$@"; }
c -o "$T/login" -X POST -d "{\"user\":\"admin\",\"password\":\"$ATRIUM_ADMIN_PASSWORD\"}" \
	"https://localhost:$ADMIN_A/admin/api/login"
CSRF=$(json_get "$(cat "$T/login")" 'j["csrf"]')
out=$(c -X POST -d "{\"name\":\"shared\",\"url\":\"http://127.0.0.1:$RP/\",\"events\":[\"revision.committed\"]}" \
	"https://localhost:$ADMIN_A/admin/api/integrations")
SECRET=$(json_get "$out" 'j.get("secret", "")')
secret "$SECRET"
echo "$SECRET" >"$T/secrets"
expect_match "the integration is made on node A" "$SECRET" '^whsec_'

TOKEN=$(BASE=$A login_token admin "$ATRIUM_ADMIN_PASSWORD")
BASE=$A api POST /api/v1/projects -d '{"name":"plant"}' >/dev/null
fails=0
for i in $(seq 100); do
	node=$A
	[ $((i % 2)) = 0 ] && node=$B
	out=$(BASE=$node api POST "/api/v1/projects/plant/revisions?base=$((i - 1))&message=r$i" \
		--data-binary "content $i") || fails=$((fails + 1))
	[[ $out =~ \"revision\":$i ]] || fails=$((fails + 1))
done
expect_eq "100 revisions are committed on the two nodes in turn" "$fails" 0

records() {
	python3 -c 'import json,sys
recs=[json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print(eval(sys.argv[2]))' "$T/rec.jsonl" "$1"
}
all_there() { [ "$(records 'len(set(r.get("seq") for r in recs if r["verified"]))')" -ge 100 ]; }
for _ in $(seq 300); do all_there && break; sleep 0.2; done
sleep 2 # anything sent twice would arrive by now
expect_eq "every event reached the receiver, verified" \
	"$(records 'sorted(set(r.get("seq") for r in recs if r["verified"])) == list(range(1, 101))')" True
expect_eq "each exactly once" "$(records 'len(recs)')" 100
expect_eq "in order" "$(records '[r["seq"] for r in recs] == list(range(1, 101))')" True
expect_eq "with the revision each one is about" \
	"$(records 'all(r["data"]["revision"] == r["seq"] for r in recs)')" True
finish
