#!/usr/bin/env bash
# The integrations admin API on the admin port, with curl against a real
# atriumd: every endpoint, every validation rule with the field it names,
# 404 and 409, the signing secret only in the answers of create and
# rotate-secret (never in a listing or the log), and a committed revision
# queued as a delivery that the integration shows as pending.
. "$(dirname "$0")/lib.sh"

D=$T/data
start_atriumd "$D" || exit 1
wait_port "$ADMIN_PORT" || { not_ok "the admin port listens"; finish; }
A=https://localhost:$ADMIN_PORT
CA=$D/tls/ca.crt
J=$T/cookies
c() { curl -sS --cacert "$CA" -b "$J" -c "$J" "$@"; }

# call METHOD PATH [BODY]: sets CODE and OUT.
call() {
	local m=$1 p=$2
	if [ $# -gt 2 ]; then
		printf '%s' "$3" >"$T/body"
		CODE=$(c -o "$T/out" -w '%{http_code}' -H "X-CSRF-Token: $CSRF" -X "$m" \
			--data-binary @"$T/body" "$A$p")
	else
		CODE=$(c -o "$T/out" -w '%{http_code}' -H "X-CSRF-Token: $CSRF" -X "$m" "$A$p")
	fi
	OUT=$(cat "$T/out")
}
# refused NAME BODY CODE FIELD: POST /admin/api/integrations answers 400
# (or CODE) with that code and field.
refused() {
	local name=$1 body=$2 code=$3 field=$4 want=${5:-400}
	call POST /admin/api/integrations "$body"
	if [ "$CODE" = "$want" ] &&
		[ "$(json_get "$OUT" '(j.get("code"), j.get("field"))')" = "('$code', '$field')" ]; then
		ok "$name"
	else
		not_ok "$name" "HTTP $CODE $OUT; wanted $want $code $field"
	fi
}
jq_() { json_get "$OUT" "$1"; }

code=$(c -o /dev/null -w '%{http_code}' "$A/admin/api/integrations")
expect_eq "the listing needs a login" "$code" 401
TOKEN=$(login_token admin "$ATRIUM_ADMIN_PASSWORD")
api POST /api/v1/users -d '{"name":"bob","password":"bob-pass-12"}' >/dev/null
c -o "$T/out" -X POST -d "{\"user\":\"admin\",\"password\":\"$ATRIUM_ADMIN_PASSWORD\"}" \
	"$A/admin/api/login"
CSRF=$(json_get "$(cat "$T/out")" 'j["csrf"]')
code=$(c -o /dev/null -w '%{http_code}' -X POST -d '{"name":"x","url":"http://127.0.0.1:9/"}' \
	"$A/admin/api/integrations")
expect_eq "a change without the CSRF token is refused" "$code" 403

call GET /admin/api/integrations
expect_eq "an empty listing" "$CODE $OUT" '200 {"integrations":[]}'

# ---- create ---------------------------------------------------------------------
call POST /admin/api/integrations '{"name":"local","url":"http://127.0.0.1:9/hook"}'
expect_eq "create: 201" "$CODE" 201
SECRET1=$(jq_ 'j["secret"]')
secret "$SECRET1"
expect_match "with the secret, once" "$SECRET1" '^whsec_[A-Za-z0-9+/]{32}$'
expect_eq "and the object: every kind, every project, the trust store, active" \
	"$(jq_ '[j["integration"][k] for k in ("name","url","events","project","trust","pin","ca_subjects","client_certificate","allow_plain","state","state_reason","pending","last_seq","created_by","updated_by")]')" \
	"['local', 'http://127.0.0.1:9/hook', ['*'], None, 'store', None, [], None, False, 'active', '', 0, 0, 'admin', 'admin']"
expect_match "with RFC 3339 times" "$(jq_ 'j["integration"]["created"]')" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$'
expect_eq "no secret in the object" "$(jq_ '"secret" in j["integration"] or "whsec" in json.dumps(j["integration"])')" False
call POST /admin/api/integrations '{"name":"local","url":"http://127.0.0.1:9/other"}'
expect_eq "a taken name: 409 exists, about name" "$CODE $(jq_ '(j["code"], j["field"])')" "409 ('exists', 'name')"

refused "no name" '{"url":"https://a.example/"}' bad_request name
refused "a bad name" '{"name":"a/b","url":"https://a.example/"}' bad_name name
refused "no url" '{"name":"n"}' bad_request url
refused "a url that is not http(s)" '{"name":"n","url":"ftp://a.example/"}' bad_request url
refused "a url without a host" '{"name":"n","url":"https:///x"}' bad_request url
refused "a url with a password" '{"name":"n","url":"https://u:p@a.example/"}' bad_request url
refused "a url with a space" '{"name":"n","url":"https://a.example/a b"}' bad_request url
call POST /admin/api/integrations '{"name":"n","url":"https://a.example/\u0007"}'
expect_eq "a url with a control character: bad_text (the request's one text check)" \
	"$CODE $(jq_ 'j["code"]')" "400 bad_text"
refused "a url with a port that is empty" '{"name":"n","url":"https://a.example:/"}' bad_request url
refused "a url with an unclosed IPv6 address" '{"name":"n","url":"https://[::1/"}' bad_request url
refused "a bad port" '{"name":"n","url":"https://a.example:99999/"}' bad_request url
refused "http:// to another machine" '{"name":"n","url":"http://a.example/"}' bad_request url
refused "http:// to 10.0.0.1" '{"name":"n","url":"http://10.0.0.1/"}' bad_request url
refused "allow_plain not a boolean" '{"name":"n","url":"http://a.example/","allow_plain":"yes"}' bad_request allow_plain
refused "an unknown kind of event" '{"name":"n","url":"https://a.example/","events":["revision.comitted"]}' bad_request events
refused "integration.test cannot be asked for" '{"name":"n","url":"https://a.example/","events":["integration.test"]}' bad_request events
refused "events not a list" '{"name":"n","url":"https://a.example/","events":"*"}' bad_request events
refused "an empty list of events" '{"name":"n","url":"https://a.example/","events":[]}' bad_request events
refused "a bad project name" '{"name":"n","url":"https://a.example/","project":"a/b"}' bad_name project
refused "a pin that is not 64 hex digits" '{"name":"n","url":"https://a.example/","pin":"abcd"}' bad_request pin
refused "ca_pem that is not PEM certificates" '{"name":"n","url":"https://a.example/","ca_pem":"hello"}' cert_invalid ca_pem
refused "an unknown member" '{"name":"n","url":"https://a.example/","secret":"whsec_x"}' bad_request secret

# Real certificates: a CA, and a client keystore (PKCS#12 from openssl).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/ca.key" \
	-out "$T/ca.pem" -days 30 -subj "/CN=Receiver CA" 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/client.key" \
	-out "$T/client.pem" -days 30 -subj "/CN=atrium-client" 2>/dev/null
openssl pkcs12 -export -inkey "$T/client.key" -in "$T/client.pem" -name client \
	-passout pass:client-pass -out "$T/client.p12" 2>/dev/null
CA_PEM_JSON=$(python3 -c 'import json,sys; print(json.dumps(open(sys.argv[1]).read()))' "$T/ca.pem")
KS_DATA=$(base64 -w0 "$T/client.p12")
CLIENT_FP=$(openssl x509 -in "$T/client.pem" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr A-F a-f)
PIN=$(openssl x509 -in "$T/ca.pem" -noout -fingerprint -sha256 | sed 's/.*=//')
PIN_HEX=$(printf '%s' "$PIN" | tr -d : | tr A-F a-f)

KEY_AND_CA_JSON=$(python3 -c 'import json,sys; print(json.dumps(open(sys.argv[1]).read() + open(sys.argv[2]).read()))' "$T/ca.pem" "$T/ca.key")
refused "ca_pem with a private key in it" "{\"name\":\"n\",\"url\":\"https://a.example/\",\"ca_pem\":$KEY_AND_CA_JSON}" bad_request ca_pem
refused "ca_pem and pin together" "{\"name\":\"n\",\"url\":\"https://a.example/\",\"ca_pem\":$CA_PEM_JSON,\"pin\":\"$PIN\"}" bad_request pin
refused "ca_pem only with https" "{\"name\":\"n\",\"url\":\"http://127.0.0.1:9/\",\"ca_pem\":$CA_PEM_JSON}" bad_request ca_pem
refused "pin only with https" "{\"name\":\"n\",\"url\":\"http://127.0.0.1:9/\",\"pin\":\"$PIN\"}" bad_request pin
refused "client_keystore only with https" "{\"name\":\"n\",\"url\":\"http://127.0.0.1:9/\",\"client_keystore\":{\"data\":\"$KS_DATA\",\"password\":\"client-pass\"}}" bad_request client_keystore
refused "a client keystore with a wrong password" "{\"name\":\"n\",\"url\":\"https://a.example/\",\"client_keystore\":{\"data\":\"$KS_DATA\",\"password\":\"wrong\"}}" ks_password client_keystore
refused "a client keystore that is not one" '{"name":"n","url":"https://a.example/","client_keystore":{"data":"aGVsbG8gd29ybGQh","password":"x"}}' ks_format client_keystore
refused "a client keystore without data" '{"name":"n","url":"https://a.example/","client_keystore":{"password":"x"}}' bad_request client_keystore
refused "a client keystore alias that is not there" "{\"name\":\"n\",\"url\":\"https://a.example/\",\"client_keystore\":{\"data\":\"$KS_DATA\",\"password\":\"client-pass\",\"alias\":\"other\"}}" ks_no_entry client_keystore 404
call GET /admin/api/integrations/n
expect_eq "nothing refused was kept" "$CODE" 404

call POST /admin/api/integrations "{\"name\":\"ci\",\"url\":\"https://ci.example:8443/hook\",\"events\":[\"lock.taken\",\"revision.committed\",\"revision.committed\"],\"project\":\"plant\",\"ca_pem\":$CA_PEM_JSON,\"client_keystore\":{\"data\":\"$KS_DATA\",\"password\":\"client-pass\"}}"
expect_eq "https with a CA, a client keystore, kinds and a project: 201" "$CODE" 201
SECRET2=$(jq_ 'j["secret"]')
secret "$SECRET2"
expect_eq "kinds once each, in the table's order; the project; trust ca with its subjects" \
	"$(jq_ '[j["integration"][k] for k in ("events","project","trust","ca_subjects")]')" \
	"[['revision.committed', 'lock.taken'], 'plant', 'ca', ['CN=Receiver CA']]"
expect_eq "the client certificate's subject and fingerprint" \
	"$(jq_ '(j["integration"]["client_certificate"]["subject"], j["integration"]["client_certificate"]["sha256"])')" \
	"('CN=atrium-client', '$CLIENT_FP')"
expect_match "and its end date" "$(jq_ 'j["integration"]["client_certificate"]["not_after"]')" '^[0-9]{4}-.*Z$'
expect_eq "a second integration gets another secret" "$([ "$SECRET1" != "$SECRET2" ] && echo yes)" yes
call POST /admin/api/integrations "{\"name\":\"pinned\",\"url\":\"https://[::1]:8443/\",\"pin\":\"$PIN\"}"
expect_eq "a pin with colons is kept as lower-case hex" "$CODE $(jq_ '(j["integration"]["trust"], j["integration"]["pin"])')" \
	"201 ('pin', '$PIN_HEX')"
call POST /admin/api/integrations '{"name":"plain","url":"http://hooks.example/","allow_plain":true}'
expect_eq "http:// elsewhere with allow_plain: 201" "$CODE $(jq_ 'j["integration"]["allow_plain"]')" "201 True"
call POST /admin/api/integrations '{"name":"v6","url":"http://[::1]:9/"}'
expect_eq "http:// to [::1]: 201" "$CODE" 201
call POST /admin/api/integrations '{"name":"lh","url":"http://LOCALHOST:9/x"}'
expect_eq "http:// to localhost: 201" "$CODE" 201

# ---- read, list -----------------------------------------------------------------
call GET /admin/api/integrations
expect_eq "the listing, by name" "$CODE $(jq_ '[i["name"] for i in j["integrations"]]')" \
	"200 ['ci', 'lh', 'local', 'pinned', 'plain', 'v6']"
expect_eq "without any secret" "$(printf '%s' "$OUT" | grep -c whsec_)" 0
call GET /admin/api/integrations/ci
expect_eq "get one" "$CODE $(jq_ 'j["integration"]["url"]')" "200 https://ci.example:8443/hook"
expect_eq "without its secret or key" "$(printf '%s' "$OUT" | grep -c 'whsec_\|PRIVATE KEY')" 0
call GET /admin/api/integrations/nope
expect_eq "get a missing one: 404 not_found" "$CODE $(jq_ 'j["code"]')" "404 not_found"

# ---- update ---------------------------------------------------------------------
call PUT /admin/api/integrations/ci '{"project":null,"ca_pem":null,"events":["*"]}'
expect_eq "update: null clears the project and the CA" \
	"$CODE $(jq_ '[j["integration"][k] for k in ("project","trust","events","updated_by")]')" \
	"200 [None, 'store', ['*'], 'admin']"
call PUT /admin/api/integrations/ci "{\"pin\":\"$PIN\"}"
expect_eq "update: a pin" "$CODE $(jq_ 'j["integration"]["trust"]')" "200 pin"
call PUT /admin/api/integrations/ci "{\"ca_pem\":$CA_PEM_JSON}"
expect_eq "update: ca_pem while a pin is set is refused" "$CODE $(jq_ '(j["code"], j["field"])')" "400 ('bad_request', 'ca_pem')"
call PUT /admin/api/integrations/ci '{"url":"http://ci.example/"}'
expect_eq "update: http:// while https-only settings stay is refused" "$CODE $(jq_ 'j["field"]')" "400 url"
call PUT /admin/api/integrations/ci '{"url":"http://127.0.0.1:9/","pin":null,"client_keystore":null}'
expect_eq "update: to loopback http once they are cleared" \
	"$CODE $(jq_ '(j["integration"]["url"], j["integration"]["client_certificate"])')" "200 ('http://127.0.0.1:9/', None)"
call PUT /admin/api/integrations/local '{"allow_plain":false}'
expect_eq "update: loopback http needs no allow_plain" "$CODE" 200
call PUT /admin/api/integrations/plain '{"allow_plain":false}'
expect_eq "update: dropping allow_plain of a plain remote url is refused" "$CODE $(jq_ 'j["field"]')" "400 allow_plain"
call PUT /admin/api/integrations/ci '{"name":"other"}'
expect_eq "update: the name cannot change" "$CODE $(jq_ 'j["field"]')" "400 name"
call PUT /admin/api/integrations/ci '{"events":["nope"]}'
expect_eq "update: an unknown kind" "$CODE $(jq_ 'j["field"]')" "400 events"
call PUT /admin/api/integrations/nope '{"allow_plain":true}'
expect_eq "update a missing one: 404" "$CODE" 404

# ---- a commit queues a delivery -------------------------------------------------
call PUT /admin/api/integrations/pinned '{"events":["revision.committed"],"project":"plant"}'
api POST /api/v1/projects -d '{"name":"plant"}' >/dev/null
api POST /api/v1/projects -d '{"name":"other"}' >/dev/null
printf 'model v1\n' >"$T/v1"
api POST "/api/v1/projects/other/revisions?base=0&message=elsewhere" --data-binary @"$T/v1" >/dev/null
api POST "/api/v1/projects/plant/revisions?base=0&message=first" --data-binary @"$T/v1" >/dev/null
printf 'model v2\n' >"$T/v2"
api POST "/api/v1/projects/plant/revisions?base=1&message=second" --data-binary @"$T/v2" >/dev/null
# A refused commit (stale base) queues nothing.
api POST "/api/v1/projects/plant/revisions?base=0&message=late" --data-binary @"$T/v2" >/dev/null
call GET /admin/api/integrations/pinned
expect_eq "a committed revision is a pending delivery of the matching integration" \
	"$CODE $(jq_ '(j["integration"]["pending"], j["integration"]["last_seq"])')" "200 (2, 2)"
call GET /admin/api/integrations/ci
CI_PENDING=$(jq_ 'j["integration"]["pending"]')
expect_eq "every kind, every project: both projects and three revisions (the refused one not)" "$CI_PENDING" 5

# ---- pause, resume, test, rotate, log, redeliver --------------------------------
call POST /admin/api/integrations/ci/pause
expect_eq "pause" "$CODE $(jq_ '(j["integration"]["state"], j["integration"]["state_reason"])')" \
	"200 ('paused', 'paused by admin')"
api POST /api/v1/projects -d '{"name":"second"}' >/dev/null
call GET /admin/api/integrations/ci
expect_eq "paused: events still queue" "$(jq_ 'j["integration"]["pending"]')" $((CI_PENDING + 1))
call POST /admin/api/integrations/ci/resume
expect_eq "resume" "$CODE $(jq_ '(j["integration"]["state"], j["integration"]["state_reason"])')" "200 ('active', '')"
call POST /admin/api/integrations/nope/pause
expect_eq "pause a missing one: 404" "$CODE" 404

call POST /admin/api/integrations/local/test
expect_eq "test: 202 with the delivery's id" "$CODE $(jq_ 'type(j["delivery"]).__name__')" "202 int"
TEST_ID=$(jq_ 'j["delivery"]')
call GET /admin/api/integrations/local
expect_eq "queued for that integration" "$(jq_ 'j["integration"]["pending"]')" \
	"$(($(jq_ 'j["integration"]["last_seq"]')))"
call POST /admin/api/integrations/nope/test
expect_eq "test a missing one: 404" "$CODE" 404

call POST /admin/api/integrations/local/rotate-secret '{"overlap_hours":2}'
expect_eq "rotate-secret: 200" "$CODE" 200
SECRET3=$(jq_ 'j["secret"]')
secret "$SECRET3"
expect_match "a new secret" "$SECRET3" '^whsec_'
expect_eq "not the old one" "$([ "$SECRET3" != "$SECRET1" ] && echo yes)" yes
expect_match "and until when the old one signs too" "$(jq_ 'j["old_secret_valid_until"]')" '^[0-9]{4}-.*Z$'
call POST /admin/api/integrations/local/rotate-secret
expect_eq "rotate-secret without a body (24 hours)" "$CODE" 200
secret "$(jq_ 'j["secret"]')"
call POST /admin/api/integrations/local/rotate-secret '{"overlap_hours":-1}'
expect_eq "a negative overlap is refused" "$CODE $(jq_ 'j["field"]')" "400 overlap_hours"
call POST /admin/api/integrations/nope/rotate-secret '{}'
expect_eq "rotate a missing one: 404" "$CODE" 404

call GET /admin/api/integrations/local/log
expect_eq "the log: a list of attempts, each with its fields" \
	"$CODE $(jq_ 'all(set(a) == {"delivery","seq","event","time","status","duration_ms","error","outcome","next_attempt"} for a in j["attempts"])')" \
	"200 True"
call GET '/admin/api/integrations/local/log?limit=0'
expect_eq "limit 0 is refused" "$CODE $(jq_ 'j["field"]')" "400 limit"
call GET '/admin/api/integrations/local/log?before=x'
expect_eq "a bad before is refused" "$CODE $(jq_ 'j["field"]')" "400 before"
call GET /admin/api/integrations/nope/log
expect_eq "the log of a missing one: 404" "$CODE" 404

call POST "/admin/api/integrations/local/deliveries/$TEST_ID/redeliver"
expect_eq "redeliver: 202 with the id" "$CODE $(jq_ 'j["delivery"]')" "202 $TEST_ID"
call POST /admin/api/integrations/local/deliveries/999999/redeliver
expect_eq "redeliver a missing delivery: 404" "$CODE $(jq_ 'j["code"]')" "404 not_found"
call POST "/admin/api/integrations/pinned/deliveries/$TEST_ID/redeliver"
expect_eq "redeliver another integration's delivery: 404" "$CODE" 404
call POST /admin/api/integrations/local/deliveries/abc/redeliver
expect_eq "redeliver a non-number: 404" "$CODE" 404

# ---- delete ---------------------------------------------------------------------
call DELETE /admin/api/integrations/ci
expect_eq "delete: 204" "$CODE" 204
call GET /admin/api/integrations/ci
expect_eq "gone" "$CODE" 404
call DELETE /admin/api/integrations/ci
expect_eq "delete again: 404" "$CODE" 404

# ---- who did what, in the log; never a secret -----------------------------------
log=$(cat "$D.log")
expect_match "the log names who added it" "$log" "admin 'admin' from [^:]+: added integration 'ci' \\(url https://ci.example:8443/hook"
expect_match "who changed it" "$log" "admin 'admin' from [^:]+: changed integration 'ci'"
expect_match "paused it" "$log" "admin 'admin' from [^:]+: paused integration 'ci'"
expect_match "rotated its secret" "$log" "admin 'admin' from [^:]+: rotated the signing secret of integration 'local'"
expect_match "queued a test" "$log" "admin 'admin' from [^:]+: queued a test event for integration 'local'"
expect_match "redelivered" "$log" "admin 'admin' from [^:]+: queued delivery $TEST_ID of integration 'local' again"
expect_match "removed it" "$log" "admin 'admin' from [^:]+: removed integration 'ci'"
expect_match "and what was refused" "$log" "WARN +admin 'admin' from [^:]+: integration refused: .*not a kind of event"
expect_eq "no secret in the log" "$(grep -c 'whsec_' "$D.log")" 0
expect_eq "no client password in the log" "$(grep -c 'client-pass' "$D.log")" 0

# ---- after a restart, everything is still there ----------------------------------
stop_atriumd
start_atriumd "$D" || { not_ok "atriumd restarts"; finish; }
wait_port "$ADMIN_PORT" || { not_ok "the admin port listens again"; finish; }
A=https://localhost:$ADMIN_PORT
c -o "$T/out" -X POST -d "{\"user\":\"admin\",\"password\":\"$ATRIUM_ADMIN_PASSWORD\"}" "$A/admin/api/login"
CSRF=$(json_get "$(cat "$T/out")" 'j["csrf"]')
call GET /admin/api/integrations/pinned
expect_eq "after a restart the integration and its waiting delivery are kept" \
	"$CODE $(jq_ '(j["integration"]["trust"], j["integration"]["pending"])')" "200 ('pin', 2)"
finish
