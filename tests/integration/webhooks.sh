#!/usr/bin/env bash
# Integrations' deliveries with real receivers on 127.0.0.1: Node HTTPS
# servers (tests/webhooks/receiver.js) with certificates from a CA that is
# not the server's, verifying every delivery with the standardwebhooks npm
# package (the specification's library, not our code) and recording it.
#
# Untrusted until the CA is imported with `atrium keytool -importcert` (no
# restart), with the fetch command in the error; then delivered and
# verified. Name mismatch; expired certificate; a pin that matches and one
# that does not; a receiver that wants a client certificate, without and
# with one; a receiver down while 200 revisions are committed, then all
# delivered in order, none lost, across a kill -9 and a restart; 410
# disables (shown by /healthz and /metrics); 429 with Retry-After is
# waited for; redelivery by id; secret rotation (both signatures verify);
# a receiver that does not answer does not slow commits.
. "$(dirname "$0")/lib.sh"

HERE=$ATRIUM_TOP/tests/webhooks
for tool in node npm openssl curl python3; do
	command -v "$tool" >/dev/null 2>&1 || { not_ok "$tool is installed (scripts/install-deps)"; finish; }
done
if [ ! -f "$HERE/node_modules/standardwebhooks/package.json" ]; then
	if (cd "$HERE" && npm ci --no-audit --no-fund) >"$T/npm.log" 2>&1; then
		ok "npm ci installs standardwebhooks"
	else
		not_ok "npm ci installs standardwebhooks" "$(tail -n 20 "$T/npm.log")"
		finish
	fi
fi

# ---- certificates: the receivers' CA (not the server's), a client CA -------------
C=$T/certs
mkdir -p "$C/db"
mkca() { # NAME CN
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$C/$1.key" \
		-out "$C/$1.pem" -days 30 -subj "/CN=$2" \
		-addext basicConstraints=critical,CA:true -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
}
: >"$C/db/index.txt"
echo 01 >"$C/db/serial"
cat >"$C/ca.cnf" <<EOF
[ca]
default_ca = d
[d]
database = $C/db/index.txt
serial = $C/db/serial
new_certs_dir = $C/db
default_md = sha256
policy = p
unique_subject = no
[p]
commonName = supplied
EOF
# mkleaf NAME CA SAN [START END]: a leaf signed by CA (openssl ca, so that
# the validity can be set in the past).
mkleaf() {
	local dates=(-days 10)
	[ $# -ge 5 ] && dates=(-startdate "$4" -enddate "$5")
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$C/$1.key" \
		-out "$C/$1.csr" -subj "/CN=$1" 2>/dev/null
	printf 'subjectAltName=%s\nbasicConstraints=CA:false\nextendedKeyUsage=serverAuth,clientAuth\n' "$3" >"$C/$1.ext"
	openssl ca -batch -notext -config "$C/ca.cnf" -cert "$C/$2.pem" -keyfile "$C/$2.key" \
		-in "$C/$1.csr" -out "$C/$1.pem" -extfile "$C/$1.ext" "${dates[@]}" >"$C/$1.log" 2>&1
	echo "$2" >"$C/$1.issuer"
}
fp_of() { openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/.*=//'; }
mkca rca "Receiver Test CA"
mkca other "Unrelated Test CA"
mkca cca "Client Test CA"
mkleaf good rca "IP:127.0.0.1,DNS:localhost"
mkleaf wrongname rca "DNS:other.test,DNS:www.other.test"
mkleaf expired rca "IP:127.0.0.1" 20200101000000Z 20200201000000Z
mkleaf future rca "IP:127.0.0.1" 20990101000000Z 20991231000000Z
mkleaf pinned other "IP:127.0.0.1"
mkleaf atrium-client cca "DNS:client.test"
mkleaf stranger other "DNS:stranger.test"
check "the expired receiver certificate was made" test -s "$C/expired.pem"
openssl pkcs12 -export -in "$C/atrium-client.pem" -inkey "$C/atrium-client.key" \
	-passout pass:client-pass-1 -out "$C/client.p12" 2>/dev/null
openssl pkcs12 -export -in "$C/stranger.pem" -inkey "$C/stranger.key" \
	-passout pass:client-pass-1 -out "$C/stranger.p12" 2>/dev/null
secret client-pass-1

# ---- receivers ---------------------------------------------------------------------
R=$T/recv
mkdir -p "$R"
# start_receiver NAME [receiver.js options]: sets PORT_<NAME>; its record is
# $R/NAME.jsonl, its secrets $R/NAME.secrets, its plan $R/NAME.plan.
start_receiver() {
	local name=$1 port
	shift
	port=$(free_port)
	: >"$R/$name.jsonl"
	[ -f "$R/$name.plan" ] || echo '{}' >"$R/$name.plan"
	touch "$R/$name.secrets"
	node "$HERE/receiver.js" --port "$port" --record "$R/$name.jsonl" --secrets "$R/$name.secrets" \
		--plan "$R/$name.plan" "$@" >>"$R/$name.out" 2>&1 &
	_pids+=("$!")
	eval "PID_$name=$!"
	eval "PORT_$name=$port"
	wait_port "$port" 20 || not_ok "receiver $name listens" "$(cat "$R/$name.out")"
}
# The receiver presents its leaf and the CA above it, as servers do.
tls_opts() {
	cat "$C/$1.pem" "$C/$(cat "$C/$1.issuer").pem" >"$C/$1.chain.pem"
	echo --cert "$C/$1.chain.pem" --key "$C/$1.key"
}

# records NAME EXPR: a Python expression over recs (the receiver's records).
records() {
	python3 -c 'import json,sys
recs=[json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print(eval(sys.argv[2]))' "$R/$1.jsonl" "$2"
}
# wait_until SECONDS CMD...: polls CMD every 0.2 s.
wait_until() {
	local limit=$1 i
	shift
	for i in $(seq $((limit * 5))); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	return 1
}

# ---- the server ----------------------------------------------------------------------
DATA=$T/data
mkdir -p "$DATA"
cat >"$DATA/atrium.conf" <<'EOF'
integration_retries = 1s,1s,1s
integration_timeout = 3
EOF
start_atriumd "$DATA" || { not_ok "atriumd starts"; finish; }
wait_port "$ADMIN_PORT" 30 || { not_ok "the admin port listens"; finish; }
TOKEN=$(login_token admin "$ATRIUM_ADMIN_PASSWORD")
A=https://localhost:$ADMIN_PORT
J=$T/cookies
CACERT=$DATA/tls/ca.crt
c() { curl -sS --cacert "$CACERT" -b "$J" -c "$J" -H "X-CSRF-Token: ${CSRF:-}" "$@"; }
admin_login() {
	rm -f "$J"
	c -o "$T/login" -X POST -d "{\"user\":\"admin\",\"password\":\"$ATRIUM_ADMIN_PASSWORD\"}" "$A/admin/api/login"
	CSRF=$(json_get "$(cat "$T/login")" 'j["csrf"]')
}
admin_login

# add NAME JSON-FIELDS: creates an integration; prints its secret.
add() {
	local out
	out=$(c -X POST -d "{\"name\":\"$1\"$2}" "$A/admin/api/integrations")
	json_get "$out" 'j.get("secret", "NO SECRET: " + json.dumps(j))'
}
# ilog NAME EXPR: a Python expression over the log's attempts (newest first).
ilog() {
	local out
	out=$(c "$A/admin/api/integrations/$1/log")
	python3 -c 'import json,sys
a=json.loads(sys.argv[1]).get("attempts", [])
print(eval(sys.argv[2]))' "$out" "$2"
}
istate() { json_get "$(c "$A/admin/api/integrations/$1")" 'j["integration"]["state"]'; }
has_error() { [ "$(ilog "$1" 'any(x["error"] for x in a)')" = True ]; }
delivered() { [ "$(records "$1" 'sum(1 for r in recs if r["verified"] and r["answered"] == 200)')" -ge "$2" ]; }

REV=0
commit() { # PROJECT: one revision more
	local out
	out=$(api POST "/api/v1/projects/$1/revisions?base=$REV&message=r$((REV + 1))" --max-time 10 \
		--data-binary "content $((REV + 1))") || return 1
	[[ $out =~ \"revision\":([0-9]+) ]] || return 1
	REV=${BASH_REMATCH[1]}
}
api POST /api/v1/projects -d '{"name":"plant"}' >/dev/null

# ---- untrusted until the CA is imported (no restart) ----------------------------
start_receiver main $(tls_opts good)
SECRET_MAIN=$(add main ",\"url\":\"https://127.0.0.1:$PORT_main/hook\",\"events\":[\"revision.committed\"]")
expect_match "creating an integration gives a secret" "$SECRET_MAIN" '^whsec_[A-Za-z0-9+/=]+$'
secret "$SECRET_MAIN"
echo "$SECRET_MAIN" >"$R/main.secrets"
commit plant
wait_until 20 has_error main
err=$(ilog main 'a[-1]["error"]')
expect_match "an untrusted receiver fails with 'not trusted'" "$err" "not trusted: subject CN=good, issuer CN=Receiver Test CA"
expect_match "naming the root the receiver presented and its SHA-256" "$err" \
	"top of the chain it presented is CN=Receiver Test CA, SHA-256 $(fp_of "$C/rca.pem")"
expect_match "and the exact fetch command" "$err" "atrium admin trust fetch 127.0.0.1:$PORT_main"
expect_eq "nothing reached the receiver's application" "$(records main 'len(recs)')" 0

SP=$(head -n1 "$DATA/tls/truststore.pass")
secret "$SP"
check "atrium keytool -importcert adds the receivers' CA" "$ATRIUM" keytool -importcert -noprompt \
	-alias receivers -file "$C/rca.pem" -keystore "$DATA/tls/truststore.p12" -storepass "$SP"
# The schedule may have run out meanwhile (3 attempts, 1 s apart): resume.
c -o /dev/null -X POST "$A/admin/api/integrations/main/resume"
if wait_until 20 delivered main 1; then ok "after the import (no restart) the delivery succeeds"; else
	not_ok "after the import (no restart) the delivery succeeds" "$(ilog main 'a[0]')"; fi
expect_eq "the receiver verified it with standardwebhooks" "$(records main '[(r["verified"], r["type"], r["seq"], r["event"]) for r in recs][:1]')" \
	"[([0], 'revision.committed', 1, 'revision.committed')]"
expect_eq "with the headers the contract names" "$(records main '(recs[0]["content_type"], recs[0]["user_agent"].split("/")[0], recs[0]["data"]["project"], recs[0]["data"]["revision"])')" \
	"('application/json', 'Atrium', 'plant', 1)"
expect_eq "the log says delivered with status 200" "$(ilog main '(a[0]["outcome"], a[0]["status"])')" "('delivered', 200)"

# ---- name mismatch, expired, pins --------------------------------------------------
start_receiver wrongname $(tls_opts wrongname)
secret "$(add wrongname ",\"url\":\"https://127.0.0.1:$PORT_wrongname/\"")" >/dev/null
start_receiver expired $(tls_opts expired)
add expired ",\"url\":\"https://127.0.0.1:$PORT_expired/\"" >"$R/expired.secret"
start_receiver future $(tls_opts future)
add future ",\"url\":\"https://127.0.0.1:$PORT_future/\"" >"$R/future.secret"
start_receiver pinned $(tls_opts pinned)
PIN=$(fp_of "$C/pinned.pem")
add pinned ",\"url\":\"https://127.0.0.1:$PORT_pinned/\",\"pin\":\"$PIN\"" >"$R/pinned.secrets"
add badpin ",\"url\":\"https://127.0.0.1:$PORT_pinned/\",\"pin\":\"$(fp_of "$C/cca.pem")\"" >"$R/badpin.secret"
# A pin of the CA certificate the receiver sends (not in any store) works too.
add capin ",\"url\":\"https://127.0.0.1:$PORT_pinned/\",\"pin\":\"$(fp_of "$C/other.pem")\"" >"$R/capin.secret"
cat "$R/capin.secret" >>"$R/pinned.secrets"
start_receiver mtls $(tls_opts good) --client-ca "$C/cca.pem"
add nocert ",\"url\":\"https://127.0.0.1:$PORT_mtls/\"" >"$R/nocert.secret"
B64=$(base64 -w0 "$C/client.p12")
add mtls ",\"url\":\"https://127.0.0.1:$PORT_mtls/\",\"client_keystore\":{\"data\":\"$B64\",\"password\":\"client-pass-1\"}" >"$R/mtls.secrets"
B64=$(base64 -w0 "$C/stranger.p12")
add stranger ",\"url\":\"https://127.0.0.1:$PORT_mtls/\",\"client_keystore\":{\"data\":\"$B64\",\"password\":\"client-pass-1\"}" >"$R/stranger.secret"
echo '{"status": 301, "headers": {"Location": "https://elsewhere.test/hook"}}' >"$R/moved.plan"
start_receiver moved $(tls_opts good)
add moved ",\"url\":\"https://127.0.0.1:$PORT_moved/\"" >"$R/moved.secrets"
for f in "$R"/*.secret "$R"/*.secrets; do secret "$(head -n1 "$f")"; done
commit plant

wait_until 20 has_error wrongname
err=$(ilog wrongname 'a[-1]["error"]')
expect_match "a name mismatch names the name checked and the certificate's names" "$err" \
	"does not match the name 127.0.0.1: it is for other.test, www.other.test"
wait_until 20 has_error expired
err=$(ilog expired 'a[-1]["error"]')
expect_match "an expired certificate says so, with its dates" "$err" \
	"has expired: it is valid from 2020-01-01 00:00:00 UTC until 2020-02-01 00:00:00 UTC"
wait_until 20 has_error future
expect_match "a certificate not valid yet says so, with its dates" "$(ilog future 'a[-1]["error"]')" \
	"is not valid yet: it is valid from 2099-01-01 00:00:00 UTC until 2099-12-31 00:00:00 UTC. Renew the receiver's certificate, or check the clocks"
if wait_until 20 delivered pinned 1; then ok "a matching pin is trusted (a CA in no trust store)"; else
	not_ok "a matching pin is trusted" "$(ilog pinned 'a[:1]')"; fi
if wait_until 20 delivered pinned 2; then ok "so is a pin of the CA the receiver presents"; else
	not_ok "so is a pin of the CA the receiver presents" "$(ilog capin 'a[:1]')"; fi
wait_until 20 has_error badpin
err=$(ilog badpin 'a[-1]["error"]')
expect_match "a pin that matches nothing the receiver presented is refused, naming what it presented" \
	"$err" "no certificate the receiver presented has the pinned SHA-256 .*: its certificate \\(subject CN=pinned\\) is $(fp_of "$C/pinned.pem"), the top of its chain $(fp_of "$C/other.pem")"
wait_until 20 has_error nocert
err=$(ilog nocert 'a[-1]["error"]')
expect_match "a receiver that wants a client certificate: the error says so" "$err" \
	"the receiver requires a client certificate \\(TLS alert certificate_required\\)"
wait_until 20 has_error stranger
expect_match "a client certificate the receiver does not trust: the error says it was refused" \
	"$(ilog stranger 'a[-1]["error"]')" "(refused the client certificate \\(TLS alert [a-z_]+\\)|got the integration's, and closed the connection without answering: it probably refused the certificate)"
wait_until 20 has_error moved
expect_match "a redirect is not followed; the error names where it pointed" \
	"$(ilog moved 'a[-1]["error"]')" "answered 301 and points to https://elsewhere.test/hook; redirects are not followed"
expect_eq "the receiver that redirects was asked, not the place it named" "$(records moved 'len(recs) >= 1')" True
if wait_until 20 delivered mtls 1; then ok "with a client certificate the receiver accepts the delivery"; else
	not_ok "with a client certificate the receiver accepts the delivery" "$(ilog mtls 'a[:1]')"; fi
expect_eq "the receiver saw the client certificate" "$(records mtls 'recs[0]["client_cert"]')" atrium-client

# ---- 410 disables; /healthz and /metrics show it -----------------------------------
echo '{"status": 410, "body": "gone for good"}' >"$R/gone.plan"
start_receiver gone $(tls_opts good)
add gone ",\"url\":\"https://127.0.0.1:$PORT_gone/\"" >"$R/gone.secrets"
secret "$(cat "$R/gone.secrets")"
commit plant
gone_disabled() { [ "$(istate gone)" = disabled ]; }
if wait_until 20 gone_disabled; then ok "a 410 answer disables the integration"; else
	not_ok "a 410 answer disables the integration" "state $(istate gone)"; fi
expect_match "the reason names the 410" "$(json_get "$(c "$A/admin/api/integrations/gone")" 'j["integration"]["state_reason"]')" "410 Gone"
expect_eq "the receiver got one request" "$(records gone 'len(recs)')" 1
health_lists_gone() { curl -sS "$BASE/healthz" | grep -q '"name": *"gone", *"state": *"disabled"'; }
if wait_until 10 health_lists_gone; then ok "/healthz lists the disabled integration"; else
	not_ok "/healthz lists the disabled integration" "$(curl -sS "$BASE/healthz")"; fi
expect_match "/metrics counts disabled integrations" "$(curl -sS "$BASE/metrics")" 'atrium_integrations\{state="disabled"\} [1-9]'
expect_match "/metrics counts deliveries by outcome" "$(curl -sS "$BASE/metrics")" 'atrium_webhook_deliveries_total\{outcome="delivered"\} [1-9]'
check "the log says why at warn level" grep -q 'WARN .*integration gone disabled: .*410' "$DATA.log"

# ---- 429 with Retry-After -------------------------------------------------------------
echo '{"queue": [{"status": 429, "headers": {"Retry-After": "4"}}], "status": 200}' >"$R/slowdown.plan"
start_receiver slowdown $(tls_opts good)
add slowdown ",\"url\":\"https://127.0.0.1:$PORT_slowdown/\",\"events\":[\"revision.committed\"]" >"$R/slowdown.secrets"
secret "$(cat "$R/slowdown.secrets")"
commit plant
wait_until 30 delivered slowdown 1
gap=$(records slowdown '(recs[1]["at"] - recs[0]["at"]) if len(recs) > 1 else -1')
# The schedule alone would retry after 1-1.1 s.
if [ "$gap" -ge 3500 ]; then ok "a 429 with Retry-After: 4 is waited for (${gap} ms by the receiver's clock)"; else
	not_ok "a 429 with Retry-After: 4 is waited for" "gap $gap ms"; fi
expect_eq "the same message id both times" "$(records slowdown 'recs[0]["id"] == recs[1]["id"]')" True

# ---- an answer longer than integration_response_max (64K) --------------------------
python3 -c 'import json; print(json.dumps({"status": 200, "body": "x" * 300000}))' >"$R/chatty.plan"
start_receiver chatty $(tls_opts good)
add chatty ",\"url\":\"https://127.0.0.1:$PORT_chatty/\",\"events\":[\"revision.committed\"]" >"$R/chatty.secrets"
secret "$(cat "$R/chatty.secrets")"
commit plant
chatty_done() { [ "$(ilog chatty 'a[0]["outcome"] if a else ""')" = delivered ]; }
if wait_until 20 chatty_done; then ok "a 200 with a 300 KB answer is delivered (read up to 64 KB, not waited for)"; else
	not_ok "a 200 with a long answer is delivered" "$(ilog chatty 'a[:1]')"; fi

# ---- redelivery by id -----------------------------------------------------------------
ID=$(ilog main '[x for x in a if x["outcome"] == "delivered"][-1]["delivery"]')
n0=$(records main 'len(recs)')
code=$(c -o "$T/out" -w '%{http_code}' -X POST "$A/admin/api/integrations/main/deliveries/$ID/redeliver")
expect_eq "redeliver is accepted" "$code" 202
wait_until 20 delivered main $((n0 + 1))
expect_eq "the receiver gets the same message again" \
	"$(records main 'recs[-1]["id"] == [r for r in recs if r["answered"] == 200][0]["id"] and recs[-1]["verified"] == [0]')" True

# ---- secret rotation: both signatures during the overlap ---------------------------
out=$(c -X POST -d '{"overlap_hours": 1}' "$A/admin/api/integrations/main/rotate-secret")
NEW=$(json_get "$out" 'j["secret"]')
secret "$NEW"
expect_match "rotate-secret gives a new secret" "$NEW" '^whsec_'
printf '%s\n%s\n' "$SECRET_MAIN" "$NEW" >"$R/main.secrets"
n0=$(records main 'len(recs)')
commit plant
wait_until 20 delivered main $((n0 + 1))
expect_eq "during the overlap the receiver verifies with the old and with the new secret" \
	"$(records main '(recs[-1]["verified"], len(recs[-1]["signature"].split(" ")))')" "([0, 1], 2)"

# ---- a receiver that does not answer does not slow commits --------------------------
echo '{"delay_ms": 60000}' >"$R/silent.plan"
start_receiver silent $(tls_opts good)
add silent ",\"url\":\"https://127.0.0.1:$PORT_silent/\",\"events\":[\"revision.committed\"]" >"$R/silent.secrets"
secret "$(cat "$R/silent.secrets")"
fails=0
for i in $(seq 10); do commit plant || fails=$((fails + 1)); done
# Each commit had 10 s (curl --max-time); the silent receiver holds each
# delivery for the whole integration_timeout (3 s).
expect_eq "10 commits succeed while a receiver never answers" "$fails" 0
wait_until 20 has_error silent
expect_match "its attempts time out, saying so" "$(ilog silent 'a[-1]["error"]')" "did not answer within 3 s \\(integration_timeout\\)"
c -o /dev/null -X POST "$A/admin/api/integrations/silent/pause"

# ---- receiver down, 200 commits, kill -9 in the middle, restart ------------------
BULK_PORT=$(free_port)
add bulk ",\"url\":\"https://127.0.0.1:$BULK_PORT/\",\"events\":[\"revision.committed\"]" >"$R/bulk.secrets"
secret "$(cat "$R/bulk.secrets")"
api POST /api/v1/projects -d '{"name":"bulk"}' >/dev/null
SAVED=$REV
REV=0
fails=0
for i in $(seq 200); do commit bulk || fails=$((fails + 1)); done
expect_eq "200 revisions are committed while the receiver is down" "$fails" 0
wait_until 20 has_error bulk
expect_match "the receiver being down is said plainly" "$(ilog bulk 'a[-1]["error"]')" "127.0.0.1:$BULK_PORT refused the connection"
bulk_paused() { [ "$(istate bulk)" = paused ]; }
if wait_until 20 bulk_paused; then ok "after the schedule (1s,1s,1s) the integration is paused"; else
	not_ok "after the schedule the integration is paused" "$(istate bulk)"; fi
check "the pause is logged at warn level" grep -q 'WARN .*integration bulk paused: 4 attempts' "$DATA.log"
health_lists_bulk() { curl -sS "$BASE/healthz" | grep -q '"name": *"bulk", *"state": *"paused"'; }
if wait_until 10 health_lists_bulk; then ok "/healthz lists the paused integration"; else
	not_ok "/healthz lists the paused integration" "$(curl -sS "$BASE/healthz")"; fi

# Back, slowly (50 ms an answer), so that the kill comes mid-way.
echo '{"delay_ms": 50}' >"$R/bulk.plan"
PORT_FIXED_BULK=$BULK_PORT
port=$BULK_PORT
: >"$R/bulk.jsonl"
node "$HERE/receiver.js" --port "$port" --record "$R/bulk.jsonl" --secrets "$R/bulk.secrets" \
	--plan "$R/bulk.plan" $(tls_opts good) >>"$R/bulk.out" 2>&1 &
_pids+=("$!")
wait_port "$port" 20
c -o /dev/null -X POST "$A/admin/api/integrations/bulk/resume"
wait_until 60 delivered bulk 40
kill -KILL "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null
at_kill=$(records bulk 'len(recs)')
if [ "$at_kill" -lt 200 ]; then ok "atriumd is killed (-9) after $at_kill of 200 deliveries"; else
	not_ok "the kill came in the middle" "$at_kill delivered before it"; fi
PORT_FIXED=$PORT TLS_PORT_FIXED=$TLS_PORT ADMIN_PORT_FIXED=$ADMIN_PORT start_atriumd "$DATA" ||
	{ not_ok "atriumd restarts"; finish; }
wait_port "$ADMIN_PORT" 30
admin_login
all_bulk() { [ "$(records bulk 'len(set(r["seq"] for r in recs if r["answered"] == 200))')" -ge 200 ]; }
if wait_until 120 all_bulk; then ok "after the restart the rest is delivered"; else
	not_ok "after the restart the rest is delivered" "$(records bulk 'len(recs)') records"; fi
expect_eq "every one verified, seq 1..200 in order of first arrival, none lost" \
	"$(records bulk 'all(r["verified"] for r in recs) and [s for i, s in enumerate([r["seq"] for r in recs]) if s not in [r["seq"] for r in recs][:i]] == list(range(1, 201))')" True
dups=$(records bulk 'len(recs) - len(set(r["id"] for r in recs))')
# Only an attempt in flight at the kill may come twice (its answer was
# lost): the same webhook-id, for the receiver to drop.
if [ "$dups" -le 1 ]; then ok "none twice but the one in flight at the kill ($dups repeated, same webhook-id)"; else
	not_ok "none delivered twice" "$dups repeated"; fi
expect_eq "each seq has one message id" "$(records bulk 'all(len(set(r["id"] for r in recs if r["seq"] == s)) == 1 for s in range(1, 201))')" True
bulk_pending() { json_get "$(c "$A/admin/api/integrations/bulk")" 'j["integration"]["pending"]'; }
bulk_done() { [ "$(bulk_pending)" = 0 ]; }
wait_until 20 bulk_done
expect_eq "the store has nothing left waiting" "$(bulk_pending)" 0

# ---- certificate events: a new served certificate, 5 days left ---------------------
start_receiver certs $(tls_opts good)
add certs ",\"url\":\"https://127.0.0.1:$PORT_certs/\",\"events\":[\"certificate.renewed\",\"certificate.expiring\"]" >"$R/certs.secrets"
secret "$(cat "$R/certs.secrets")"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 5 -subj /CN=localhost \
	-addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout "$C/soon.key" -out "$C/soon.pem" 2>/dev/null
cat "$C/soon.key" "$C/soon.pem" >"$C/soon-keystore.pem"
cat "$DATA/tls/ca.crt" "$C/soon.pem" >"$C/both.pem"
CACERT=$C/both.pem
echo "tls_keystore = $C/soon-keystore.pem" >>"$DATA/atrium.conf"
kill -HUP "$SERVER_PID"
if wait_until 30 delivered certs 2; then ok "serving a new certificate sends certificate.renewed and certificate.expiring"; else
	not_ok "serving a new certificate sends certificate events" "$(records certs 'recs')" "$(tail -n 5 "$DATA.log")"; fi
expect_eq "renewed names the new certificate; expiring the 7-day threshold (5 days left)" \
	"$(records certs '[(r["type"], r["data"]["sha256"], r["data"].get("threshold")) for r in recs]')" \
	"[('certificate.renewed', '$(fp_of "$C/soon.pem")', None), ('certificate.expiring', '$(fp_of "$C/soon.pem")', 7)]"
stop_atriumd
PORT_FIXED=$PORT TLS_PORT_FIXED=$TLS_PORT ADMIN_PORT_FIXED=$ADMIN_PORT start_atriumd "$DATA" ||
	{ not_ok "atriumd restarts"; finish; }
wait_port "$ADMIN_PORT" 30
admin_login
sleep 3
expect_eq "after a restart nothing is said twice (once per certificate)" "$(records certs 'len(recs)')" 2

# ---- outbound_allow applies to deliveries -------------------------------------------
echo 'outbound_allow = 10.0.0.0/8' >>"$DATA/atrium.conf"
kill -HUP "$SERVER_PID"
sleep 1
n0=$(records main 'len(recs)')
c -o /dev/null -X POST "$A/admin/api/integrations/main/test"
denied() { [ "$(ilog main '"outbound_allow does not allow" in a[0]["error"]')" = True ]; }
if wait_until 20 denied; then ok "an address outbound_allow does not list is not connected to, and the error says so"; else
	not_ok "outbound_allow applies to deliveries" "$(ilog main 'a[0]')"; fi
expect_match "naming the address" "$(ilog main 'a[0]["error"]')" "connecting to 127.0.0.1 \\(127.0.0.1\\)"
expect_eq "the receiver saw nothing" "$(records main 'len(recs)')" "$n0"

finish
