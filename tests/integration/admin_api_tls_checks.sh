#!/usr/bin/env bash
# The checks of an uploaded certificate, with curl on the admin port and
# keystores made by Java's keytool: a CN-only certificate (keytool's
# prompts answered on stdin, as a person would) that does not name the
# address the uploader is connected to is refused with the coverage and
# the keytool command, and nothing changes; with force it is served, with
# warnings; a correctly named self-signed one is served and the answer's
# chain is what openssl s_client then sees; one from the local CA says so;
# a keystore under a well-known password is accepted with a warning shown
# in /healthz and /metrics, and re-protected on request.
. "$(dirname "$0")/lib.sh"

D=$T/data
PORTS_IN_CONF=1 start_atriumd "$D" || exit 1
wait_port "$ADMIN_PORT" || { not_ok "the admin port listens"; finish; }
TOKEN=$(login_token admin "$ATRIUM_ADMIN_PASSWORD")
# By address, as `atrium admin --server 127.0.0.1:PORT` connects: Host 127.0.0.1.
A=https://127.0.0.1:$ADMIN_PORT
b() { curl -sS -k -H "Authorization: Bearer $TOKEN" "$@"; }
served() { openssl s_client -connect "127.0.0.1:$TLS_PORT" </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256 | cut -d= -f2; }
upload() { # FILE PASSWORD [EXTRA JSON MEMBERS]
	python3 -c 'import json,base64,sys
d={"keystore":base64.b64encode(open(sys.argv[1],"rb").read()).decode(),"keystore_name":"x","password":sys.argv[2]}
if len(sys.argv)>3: d.update(json.loads(sys.argv[3]))
print(json.dumps(d))' "$@" >"$T/body"
	b -o "$T/out" -w '%{http_code}' -X PUT --data-binary @"$T/body" "$A/admin/api/settings/tls"
}
cd "$T" || exit 1

# ---- the served certificate's coverage
out=$(b "$A/admin/api/certificate")
expect_eq "the certificate page lists the name the request came with first, covered" \
	"$(json_get "$out" '[(c["name"],c["kind"],c["covered"],c["source"]) for c in j["coverage"]][0]')" \
	"('127.0.0.1', 'ip', True, 'request')"
expect_match "and the host name" "$(json_get "$out" '[c for c in j["coverage"] if c["source"]=="hostname"]')" \
	"'name': '$(hostname)'"
expect_eq "the local CA's certificate covers every one of them" \
	"$(json_get "$out" '[c["name"] for c in j["coverage"] if not c["covered"]]')" "[]"
expect_match "with the keytool command for a certificate naming them all" "$(json_get "$out" 'j["keytool_hint"]')" \
	'^keytool -genkeypair .* -ext SAN=.*ip:127\.0\.0\.1'
out=$(b -H "Host: atrium.example.org:$ADMIN_PORT" "$A/admin/api/certificate")
expect_eq "a name the certificate does not cover shows as not covered" \
	"$(json_get "$out" '[(c["name"],c["kind"],c["covered"]) for c in j["coverage"] if c["source"]=="request"]')" \
	"[('atrium.example.org', 'dns', False)]"
expect_match "and is in the keytool command" "$(json_get "$out" 'j["keytool_hint"]')" 'dns:atrium\.example\.org'
expect_match "SETTINGS carries the coverage too" "$(b "$A/admin/api/settings")" '"coverage":\[\{"name":"127.0.0.1"'

# ---- the reference recipe: a CN-only certificate, prompts answered on stdin
printf 'changeit\nchangeit\nJohn Doe\nModeling\nACME\nSpringfield\nOregon\nUS\nyes\n' |
	keytool -genkeypair -alias MyDomain -keyalg RSA -keysize 2048 -keystore KeyStore.jks >keytool.log 2>&1
check "keytool made the keystore from the answers" test -s KeyStore.jks
cp "$D/atrium.conf" conf.before
before=$(served)
code=$(upload KeyStore.jks changeit)
expect_eq "a certificate that does not name 127.0.0.1 is refused when uploaded by 127.0.0.1" "$code" 400
out=$(cat out)
expect_match "as cert_mismatch next to the keystore field" "$out" '"code":"cert_mismatch","field":"keystore"'
expect_match "saying which name it lacks" "$(json_get "$out" 'j["error"]')" \
	'does not name 127\.0\.0\.1, the address you are connected to .*no SubjectAltName'
expect_eq "with the coverage: 127.0.0.1 not covered" \
	"$(json_get "$out" '[c["covered"] for c in j["coverage"] if c["source"]=="request"]')" "[False]"
expect_match "and the keytool command" "$(json_get "$out" 'j["keytool_hint"]')" '-ext SAN=.*ip:127\.0\.0\.1'
check "atrium.conf is unchanged" cmp "$D/atrium.conf" conf.before
expect_eq "the served certificate is unchanged" "$(served)" "$before"
expect_eq "no upload is left behind" "$(ls "$D/tls" | grep -c '^keystore-')" 0
expect_match "the refusal is logged" "$(cat "$D.log")" "WARN .*uploaded keystore refused: the certificate does not name 127.0.0.1"

code=$(upload KeyStore.jks changeit '{"force": true}')
expect_eq "with force it is accepted" "$code" 200
out=$(cat out)
expect_match "with a warning listing the names it does not cover" "$(json_get "$out" '"\n".join(j["warnings"])')" \
	"no SubjectAltName of the certificate covers 127\\.0\\.0\\.1 \\(request\\), $(hostname)"
javafp=$(keytool -list -v -keystore KeyStore.jks -storepass changeit 2>/dev/null | awk '/SHA256:/ {print $2; exit}')
expect_eq "and it is served" "$(served)" "$javafp"
expect_match "the log says it was forced" "$(cat "$D.log")" "uploaded keystore tls/keystore-.*\\(forced\\)"

# ---- a correctly named self-signed certificate
keytool -genkeypair -alias good -keyalg EC -keystore good.p12 -storepass good-pass-1 \
	-dname CN=localhost -ext SAN=ip:127.0.0.1,dns:localhost -noprompt >/dev/null 2>&1
secret good-pass-1
code=$(upload good.p12 good-pass-1)
expect_eq "a self-signed certificate naming 127.0.0.1 is accepted" "$code" 200
out=$(cat out)
json_get "$out" 'j["chain_pem"]' >answer.pem
openssl s_client -connect "127.0.0.1:$TLS_PORT" -showcerts </dev/null 2>/dev/null |
	sed -n '/BEGIN CERTIFICATE/,/END CERTIFICATE/p' >served.pem
check "chain_pem is the chain openssl s_client is then served" cmp <(grep -v '^$' answer.pem) served.pem
expect_eq "trusted_by_local_ca is false" "$(json_get "$out" 'j["trusted_by_local_ca"]')" False
expect_eq "reprotected and weak_password are false" "$(json_get "$out" '(j["reprotected"], j["weak_password"])')" "(False, False)"
expect_eq "the answer's coverage has 127.0.0.1 covered" \
	"$(json_get "$out" '[c["covered"] for c in j["coverage"] if c["source"]=="request"]')" "[True]"

# ---- issued by the local CA
openssl ecparam -name prime256v1 -genkey -noout -out lca.key 2>/dev/null
openssl req -new -key lca.key -subj /CN=localhost -out lca.csr 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >lca.ext
openssl x509 -req -in lca.csr -CA "$D/tls/ca.crt" -CAkey "$D/tls/ca.key" -CAcreateserial -days 30 \
	-extfile lca.ext -out lca.crt 2>/dev/null
cat lca.crt "$D/tls/ca.crt" >lca.chain
openssl pkcs12 -export -inkey lca.key -in lca.crt -certfile "$D/tls/ca.crt" -name lca \
	-passout pass:lca-pass-12 -out lca.p12 2>/dev/null
secret lca-pass-12
code=$(upload lca.p12 lca-pass-12)
expect_eq "a certificate from the local CA is accepted" "$code" 200
expect_eq "and trusted_by_local_ca is true" "$(json_get "$(cat out)" 'j["trusted_by_local_ca"]')" True

# ---- a Teamwork-Cloud-style keystore under a well-known password
keytool -genkeypair -alias teamworkcloud -keyalg RSA -keysize 2048 -keystore keystore.p12 \
	-storetype PKCS12 -storepass nomagic -dname CN=localhost -ext SAN=dns:localhost,ip:127.0.0.1 \
	-noprompt >/dev/null 2>&1
code=$(upload keystore.p12 nomagic)
expect_eq "a keystore under 'nomagic' is accepted" "$code" 200
out=$(cat out)
expect_eq "the answer says the password is well known" "$(json_get "$out" '(j["weak_password"], j["reprotected"])')" "(True, False)"
expect_match "with a loud warning" "$(json_get "$out" '"\n".join(j["warnings"])')" "well-known password"
expect_match "the log warns" "$(cat "$D.log")" "WARN +certificate: the keystore is protected by a well-known password"
expect_match "/healthz shows it" "$(curl -s "http://127.0.0.1:$PORT/healthz")" '"weak_password":true'
expect_match "/metrics shows it" "$(curl -s "http://127.0.0.1:$PORT/metrics")" 'atrium_tls_keystore_weak_password 1'
weakfp=$(served)

code=$(upload keystore.p12 nomagic '{"reprotect": true}')
expect_eq "with reprotect it is accepted" "$code" 200
out=$(cat out)
expect_eq "the answer says it was re-protected" "$(json_get "$out" '(j["weak_password"], j["reprotected"])')" "(False, True)"
file=$(json_get "$out" 'j["tls"]["keystore"]["file"]')
expect_match "into a PKCS#12 keystore of the server's in DIR/tls" "$file" '^tls/keystore-[0-9T]+\.p12$'
pass=$D/${file%.p12}.pass
secret "$(head -1 "$pass")"
check "its .pass is not nomagic" test "$(head -1 "$pass")" != nomagic
expect_eq "its .pass is mode 0600" "$(stat -c %a "$pass")" 600
check "openssl opens the new keystore with that password" \
	openssl pkcs12 -in "$D/$file" -passin "file:$pass" -nokeys -noout
check_fails "and not with nomagic" openssl pkcs12 -in "$D/$file" -passin pass:nomagic -nokeys -noout
expect_eq "the served certificate is the same" "$(served)" "$weakfp"
expect_match "/healthz no longer warns" "$(curl -s "http://127.0.0.1:$PORT/healthz")" '"weak_password":false'
expect_match "nor /metrics" "$(curl -s "http://127.0.0.1:$PORT/metrics")" 'atrium_tls_keystore_weak_password 0'

# ---- the alias picker's refusal is logged like every other
keytool -genkeypair -alias one -keyalg EC -keystore two.p12 -storepass two-pass-12 -dname CN=localhost \
	-ext SAN=ip:127.0.0.1 -noprompt >/dev/null 2>&1
keytool -genkeypair -alias two -keyalg EC -keystore two.p12 -storepass two-pass-12 -dname CN=localhost \
	-ext SAN=ip:127.0.0.1 -noprompt >/dev/null 2>&1
secret two-pass-12
code=$(upload two.p12 two-pass-12)
expect_match "a keystore with several keys and no alias asks which" "$(cat out)" '"field":"alias","aliases":\["one","two"\]'
expect_match "and the refusal has a WARN line" "$(cat "$D.log")" \
	"WARN +admin 'admin' from 127.0.0.1: uploaded keystore refused: this keystore holds several keys"
stop_atriumd
finish
