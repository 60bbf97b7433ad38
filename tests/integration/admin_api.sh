#!/usr/bin/env bash
# The admin console's JSON API on the admin port, with curl: HTTPS only,
# cookie + CSRF, rate-limited logins, settings that apply at once or not
# at all, downloads.
. "$(dirname "$0")/lib.sh"

D=$T/data
PORTS_IN_CONF=1 start_atriumd "$D" || exit 1
wait_port "$ADMIN_PORT" || { not_ok "the admin port listens"; finish; }
A=https://localhost:$ADMIN_PORT
CA=$D/tls/ca.crt
J=$T/cookies
c() { curl -sS --cacert "$CA" -b "$J" -c "$J" "$@"; }

out=$(curl -s -D - -o /dev/null "http://localhost:$ADMIN_PORT/settings")
expect_match "plain HTTP on the admin port is redirected to HTTPS" "$out" "Location: https://localhost:$ADMIN_PORT/"
c -D "$T/h" -o "$T/index" "$A/"
expect_match "the console's page is served" "$(cat "$T/index")" '<html'
h=$(cat "$T/h")
expect_match "with a strict Content-Security-Policy" "$h" "Content-Security-Policy: default-src 'self'; frame-ancestors 'none'"
expect_match "with HSTS" "$h" 'Strict-Transport-Security: max-age='
expect_match "with nosniff" "$h" 'X-Content-Type-Options: nosniff'
code=$(c -o /dev/null -w '%{http_code}' "$A/api/v1/projects")
expect_eq "the API is not served on the admin port" "$code" 404
code=$(c -o /dev/null -w '%{http_code}' "$A/admin/api/settings")
expect_eq "settings need a login" "$code" 401

TOKEN=$(login_token admin "$ATRIUM_ADMIN_PASSWORD")
api POST /api/v1/users -d '{"name":"bob","password":"bob-pass-12"}' >/dev/null
code=$(c -o "$T/out" -w '%{http_code}' -X POST -d '{"user":"bob","password":"bob-pass-12"}' "$A/admin/api/login")
expect_eq "a user who is not an admin cannot log in to the console" "$code" 403
c -D "$T/h" -o "$T/out" -X POST -d "{\"user\":\"admin\",\"password\":\"$ATRIUM_ADMIN_PASSWORD\"}" "$A/admin/api/login"
expect_match "an admin logs in and gets a Secure, HttpOnly, SameSite=Strict cookie" "$(cat "$T/h")" 'Set-Cookie: atrium_admin=[0-9a-f]{64}; Secure; HttpOnly; SameSite=Strict'
CSRF=$(json_get "$(cat "$T/out")" 'j["csrf"]')
expect_match "and a CSRF token" "$CSRF" '^[0-9a-f]{32}$'
out=$(c "$A/admin/api/settings")
expect_match "settings show each port" "$out" "\"plain\":\\{\"enabled\":true,\"port\":$PORT\\}"
code=$(c -o "$T/out" -w '%{http_code}' -X PUT -d '{"enabled":false}' "$A/admin/api/settings/plain")
expect_eq "a change without the CSRF token is refused" "$code" 403
code=$(c -o /dev/null -w '%{http_code}' -H "X-CSRF-Token: 0000" -X PUT -d '{"enabled":false}' "$A/admin/api/settings/plain")
expect_eq "a change with a wrong CSRF token is refused" "$code" 403
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/healthz")
expect_eq "and the plain port is still open" "$code" 200

code=$(c -o /dev/null -w '%{http_code}' -H "X-CSRF-Token: $CSRF" -X PUT -d '{"enabled":false}' "$A/admin/api/settings/plain")
expect_eq "the plain-port toggle applies with the token" "$code" 200
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/healthz")
expect_eq "the plain port is closed at once, without a restart" "$code" 000
c -o /dev/null -H "X-CSRF-Token: $CSRF" -X PUT -d '{"enabled":true}' "$A/admin/api/settings/plain"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/healthz")
expect_eq "and opens again" "$code" 200

# Keystores made by Java's keytool, uploaded as the console does.
keytool -genkey -alias MyDomain -keyalg RSA -keystore "$T/KeyStore.jks" -keysize 2048 -storepass changeit \
	-dname "CN=localhost" -ext "SAN=dns:localhost,ip:127.0.0.1" -validity 365 -noprompt >/dev/null 2>&1
keytool -genkeypair -alias one -keyalg EC -keystore "$T/two.p12" -storepass changeit -dname CN=localhost \
	-ext SAN=dns:localhost -noprompt >/dev/null 2>&1
keytool -genkeypair -alias two -keyalg EC -keystore "$T/two.p12" -storepass changeit -dname CN=localhost \
	-ext SAN=dns:localhost -noprompt >/dev/null 2>&1
keytool -genkeypair -alias k -keyalg EC -keystore "$T/keypass.jks" -storetype JKS -storepass changeit \
	-keypass other-pass -dname CN=localhost -ext SAN=dns:localhost -noprompt >/dev/null 2>&1
upload() { # FILE PASSWORD [ALIAS] [PORT]
	python3 -c 'import json,base64,sys
d={"enabled":True,"keystore":base64.b64encode(open(sys.argv[1],"rb").read()).decode(),"keystore_name":"x","password":sys.argv[2]}
if len(sys.argv)>3 and sys.argv[3]: d["alias"]=sys.argv[3]
if len(sys.argv)>4: d["port"]=int(sys.argv[4])
print(json.dumps(d))' "$@" >"$T/body"
	c -o "$T/out" -w '%{http_code}' -H "X-CSRF-Token: $CSRF" -X PUT --data-binary @"$T/body" "$A/admin/api/settings/tls"
}
served() { openssl s_client -connect "127.0.0.1:$TLS_PORT" </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256 | cut -d= -f2; }
before=$(served)
code=$(upload "$T/KeyStore.jks" wrong-pass)
expect_eq "a wrong keystore password is refused" "$code" 400
expect_match "next to the password field, in words" "$(cat "$T/out")" '"error":"keystore password was incorrect","code":"ks_password","field":"password"'
expect_eq "and the old certificate is still served" "$(served)" "$before"
head -c 5000 /dev/urandom >"$T/junk.p12"
code=$(upload "$T/junk.p12" x)
expect_match "a file that is not a keystore is refused next to the file field" "$(cat "$T/out")" '"field":"keystore"'
expect_match "in the error table's words, not Java's" "$(cat "$T/out")" \
	'"error":"this file is not a JKS, JCEKS, PKCS#12 or PEM keystore","code":"ks_format"'
code=$(upload "$T/keypass.jks" changeit)
expect_match "a key password other than the store's is refused next to the password field" \
	"$(cat "$T/out")" '"code":"ks_key_password","field":"password"'
expect_match "saying what is wrong, not Java's 'Cannot recover key'" "$(cat "$T/out")" \
	'"error":"the key password is wrong \(the keystore opened, but its key did not\)'
code=$(upload "$T/two.p12" changeit)
expect_match "a keystore with several keys asks which one" "$(cat "$T/out")" '"field":"alias","aliases":\["one","two"\]'
BUSY=$(free_port)
python3 -c 'import socket,time,sys; s=socket.socket(); s.bind(("127.0.0.1",int(sys.argv[1]))); s.listen(); time.sleep(60)' "$BUSY" &
_pids+=("$!")
wait_port "$BUSY"
cp "$D/atrium.conf" "$T/conf.before"
code=$(upload "$T/KeyStore.jks" changeit "" "$BUSY")
expect_match "a TLS port in use is refused next to the port field" "$(cat "$T/out")" 'already in use.*"field":"port"'
expect_eq "with the error table's status for its code" "$code" 400
expect_eq "and nothing changed" "$(served)" "$before"
check "a change set that fails to apply leaves atrium.conf byte for byte as it was" cmp "$D/atrium.conf" "$T/conf.before"
code=$(c -o "$T/out" -w '%{http_code}' -H "X-CSRF-Token: $CSRF" -X PUT -d "{\"enabled\":true,\"port\":$BUSY}" "$A/admin/api/settings/tls")
expect_eq "moving TLS alone to a port in use is refused" "$code" 400
expect_match "next to the port field, with its code" "$(cat "$T/out")" '"code":"config","field":"port"'
check "and atrium.conf is still byte for byte as it was" cmp "$D/atrium.conf" "$T/conf.before"
code=$(curl -s --cacert "$CA" -o /dev/null -w '%{http_code}' "https://localhost:$TLS_PORT/healthz")
expect_eq "and the TLS port still serves" "$code" 200
code=$(c -o "$T/out" -w '%{http_code}' -H "X-CSRF-Token: $CSRF" -X PUT -d "{\"enabled\":true,\"port\":$PORT}" "$A/admin/api/settings/tls")
expect_match "the plain port's number is refused for TLS next to the port field" "$(cat "$T/out")" \
	"port $PORT is already used by this server's plain port.*\"field\":\"port\""
check "without touching atrium.conf" cmp "$D/atrium.conf" "$T/conf.before"
if grep -q '^tls_keystore' "$D/atrium.conf"; then not_ok "atrium.conf is untouched by failed saves"; else ok "atrium.conf is untouched by failed saves"; fi
expect_eq "refused uploads leave no files behind" "$(ls "$D/tls" | grep -c '^keystore-')" 0

code=$(upload "$T/KeyStore.jks" changeit)
expect_eq "the right password saves" "$code" 200
javafp=$(keytool -list -v -keystore "$T/KeyStore.jks" -storepass changeit 2>/dev/null | awk '/SHA256:/ {print $2; exit}')
expect_eq "and the TLS port serves the keytool certificate at once" "$(served)" "$javafp"
if grep -q 'changeit' "$D/atrium.conf"; then not_ok "the password is not written to atrium.conf"; else ok "the password is not written to atrium.conf"; fi
# The console now has the keytool certificate too: trust it for a while.
keytool -exportcert -rfc -alias mydomain -keystore "$T/KeyStore.jks" -storepass changeit -file "$T/mydomain.pem" >/dev/null 2>&1
CA_KEEP=$CA
CA=$T/mydomain.pem
out=$(c "$A/admin/api/settings")
expect_match "the settings name the keystore and its alias" "$out" '"format":"PKCS12","alias":"mydomain"'
if grep -q changeit <<<"$out"; then not_ok "the password is never echoed back"; else ok "the password is never echoed back"; fi

code=$(c -o "$T/out" -w '%{http_code}' -H "X-CSRF-Token: $CSRF" -X POST "$A/admin/api/settings/tls/clear")
CA=$CA_KEEP
expect_eq "Clear goes back to the local CA's certificate" "$code" 200
check "which verifies with ca.crt again" openssl s_client -connect "127.0.0.1:$TLS_PORT" -CAfile "$CA" -verify_return_error -brief </dev/null

c -o "$T/ca.pem" "$A/admin/api/download/ca.pem"
check "the CA downloads as PEM" cmp "$T/ca.pem" "$CA"
c -o "$T/ca.der" "$A/admin/api/download/ca.der"
check "and as DER" bash -c "openssl x509 -inform DER -in '$T/ca.der' -noout"
c -o "$T/cert.jks" "$A/admin/api/download/cert.jks"
c -o "$T/cert.pass" "$A/admin/api/download/cert.pass"
check "the client bundle downloads, and Java's keytool reads it" \
	bash -c "keytool -list -keystore '$T/cert.jks' -storepass \"\$(head -1 '$T/cert.pass')\" | grep -q trustedCertEntry"

out=$(c "$A/admin/api/certificate")
expect_match "the certificate page's data says it is from the local CA" "$out" '"from_local_ca":true'
code=$(c -o /dev/null -w '%{http_code}' -H "X-CSRF-Token: $CSRF" -X PUT -d '{"role":"admin"}' "$A/admin/api/users/bob/role")
expect_eq "an admin makes bob an admin" "$code" 204
expect_match "users list shows it" "$(c "$A/admin/api/users")" '"name":"bob","role":"admin"'
expect_match "the log says who did it" "$(cat "$D.log")" "admin 'admin' from 127.0.0.1: made 'bob' an admin"

code=$(c -o /dev/null -w '%{http_code}' -H "X-CSRF-Token: $CSRF" -X POST "$A/admin/api/logout")
expect_eq "logout" "$code" 204
code=$(c -o /dev/null -w '%{http_code}' "$A/admin/api/settings")
expect_eq "and the cookie no longer works" "$code" 401

for i in 1 2 3 4 5; do c -o /dev/null -X POST -d '{"user":"admin","password":"wrong-guess"}' "$A/admin/api/login"; done
code=$(c -o /dev/null -D "$T/h" -w '%{http_code}' -X POST -d "{\"user\":\"admin\",\"password\":\"$ATRIUM_ADMIN_PASSWORD\"}" "$A/admin/api/login")
expect_eq "after 5 failed logins even the right password waits" "$code" 429
expect_match "with Retry-After" "$(cat "$T/h")" 'Retry-After: [0-9]+'
stop_atriumd

# Ports given on the command line (and --set) fix those settings.
D=$T/flags
start_atriumd "$D" --set plain=on || exit 1
wait_port "$ADMIN_PORT" || { not_ok "the admin port listens"; finish; }
TOKEN=$(login_token admin "$ATRIUM_ADMIN_PASSWORD")
b() { curl -sS --cacert "$D/tls/ca.crt" -H "Authorization: Bearer $TOKEN" "$@"; }
cp "$D/atrium.conf" "$T/conf.before"
NEW=$(free_port)
code=$(b -o "$T/out" -w '%{http_code}' -X PUT -d "{\"port\":$NEW}" "https://localhost:$ADMIN_PORT/admin/api/settings/tls")
expect_eq "a TLS port fixed by --tls-port is refused" "$code" 400
expect_match "saying which flag fixes it, next to the port field" "$(cat "$T/out")" \
	'started with --tls-port, which fixes this setting.*"field":"port"'
code=$(b -o "$T/out" -w '%{http_code}' -X PUT -d "{\"port\":$TLS_PORT}" "https://localhost:$ADMIN_PORT/admin/api/settings/tls")
expect_eq "the port the flag gave is no change and is accepted" "$code" 200
cp "$D/atrium.conf" "$T/conf.before"
code=$(b -o "$T/out" -w '%{http_code}' -X PUT -d '{"enabled":false}' "https://localhost:$ADMIN_PORT/admin/api/settings/plain")
expect_eq "the plain port fixed by --set plain=on cannot be closed" "$code" 400
expect_match "next to the toggle" "$(cat "$T/out")" 'started with --set plain=\.\.\., which fixes.*"field":"enabled"'
check "refused changes leave atrium.conf as it was" cmp "$D/atrium.conf" "$T/conf.before"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/healthz")
expect_eq "and the plain port open" "$code" 200
stop_atriumd
finish
