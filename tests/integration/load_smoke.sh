#!/usr/bin/env bash
# 50 TLS clients mixing logins, listings, commits (409s on stale bases
# expected), checkouts and locks for 10 s against the sanitizer build: no
# unexpected error, every acknowledged revision reads back intact (also
# after a restart), the server survives; and a load generator that does not
# trust the server's CA gets nothing through. A short run of bench/load.sh's
# load generator (build/loadgen), so that it does not rot.
. "$(dirname "$0")/lib.sh"

LOADGEN=${LOADGEN:-$ATRIUM_TOP/build/loadgen}
if [ ! -x "$LOADGEN" ]; then
	not_ok "the load generator is built" "$LOADGEN is missing: make builds it"
	finish
fi
ulimit -n 4096 2>/dev/null

start_atriumd "$T/data" || exit 1
TOKEN=$(login_token admin "$ATRIUM_ADMIN_PASSWORD")
printf 'load-pass-123\n' >"$T/pass"
for i in 1 2 3; do
	api POST /api/v1/users -d "{\"name\":\"load$i\",\"password\":\"load-pass-123\",\"role\":\"user\"}" >/dev/null
done
for i in 1 2 3 4 5; do api POST /api/v1/projects -d "{\"name\":\"load-$i\"}" >/dev/null; done
CA=$T/data/tls/ca.crt

# jv FILE EXPR: a value from loadgen's JSON figures (j), or "?"
jv() {
	python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2" 2>/dev/null || echo '?'
}

timeout 180 "$LOADGEN" --port "$TLS_PORT" --cafile "$CA" --clients 50 --duration 10 --warmup 2 --ramp 1 \
	--user load --users 3 --password-file "$T/pass" --projects 5 --json "$T/load.json" \
	--record "$T/records.tsv" --quiet >"$T/load.out" 2>&1
rc=$?
sed 's/^/# /' "$T/load.out"
expect_eq "loadgen exits 0 (load done, nothing unexpected, nothing lost)" "$rc" 0
expect_eq "no unexpected error (statuses, connections, timeouts, checksums)" "$(jv "$T/load.json" 'j["unexpected"]')" 0
expect_eq "every client logged in" "$(jv "$T/load.json" 'j["first_login_max_ms"] > 0 and j["all_logged_in_s"] > 0')" True
expect_eq "requests answered in the measured window" "$(jv "$T/load.json" 'j["requests_measured"] > 100')" True
expect_eq "commits acknowledged and 409s on stale bases seen" \
	"$(jv "$T/load.json" 'j["commits"] > 10 and j["conflicts"] > 0')" True
expect_eq "checkouts verified by SHA-256, locks taken and released" \
	"$(jv "$T/load.json" 'j["checkouts"] > 10 and j["locks_taken"] > 0 and j["kinds"]["unlock"]["status"]["204"] == j["locks_taken"]')" True
acked=$(jv "$T/load.json" 'j["acknowledged"]')
expect_eq "every acknowledged revision read back intact, none lost" \
	"$(jv "$T/load.json" 'j["verified"] == j["acknowledged"] > 0 and j["lost"] == 0 and j["duplicates"] == 0')" True
expect_eq "the record file lists every acknowledged revision" "$(grep -vc '^#' "$T/records.tsv" 2>/dev/null)" "$acked"
check "atriumd is still running after the load" kill -0 "$SERVER_PID"

# the same revisions after a restart on the same data
stop_atriumd
start_atriumd "$T/data" || exit 1
timeout 120 "$LOADGEN" --port "$TLS_PORT" --cafile "$CA" --clients 10 --user load --users 3 \
	--password-file "$T/pass" --verify "$T/records.tsv" --json "$T/verify.json" --quiet >"$T/verify.out" 2>&1
rc=$?
sed 's/^/# /' "$T/verify.out"
expect_eq "after a restart: all $acked acknowledged revisions read back intact" \
	"$rc $(jv "$T/verify.json" 'j["verified"]') $(jv "$T/verify.json" 'j["lost"]')" "0 $acked 0"

# a client that does not trust the server's CA: handshakes fail, and say why
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=other-ca -days 1 \
	-keyout "$T/other.key" -out "$T/other.crt" >/dev/null 2>&1
timeout 60 "$LOADGEN" --port "$TLS_PORT" --cafile "$T/other.crt" --clients 2 --duration 2 --warmup 1 --ramp 0 \
	--user load --users 3 --password-file "$T/pass" --projects 5 --json "$T/bad.json" --quiet >"$T/bad.out" 2>&1
rc=$?
expect_eq "with the wrong CA: loadgen fails, no answer gets through" \
	"$rc $(jv "$T/bad.json" 'j["requests"]') $(jv "$T/bad.json" 'j["unexpected"] > 0')" "1 0 True"
expect_match "with the wrong CA: the error names the certificate" "$(cat "$T/bad.out")" "certificate"

stop_atriumd
if grep -q 'ERROR\|runtime error' "$T/data.log"; then
	not_ok "no ERROR and no sanitizer report in atriumd's log" "$(grep 'ERROR\|runtime error' "$T/data.log" | head -5)"
else
	ok "no ERROR and no sanitizer report in atriumd's log"
fi
finish
