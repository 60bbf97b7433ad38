#!/usr/bin/env bash
# The TLS listener with real peers: curl, openssl s_client, Java's keytool.
# First start makes a local CA; your own keystore replaces it on SIGHUP
# without a restart; a bad keystore never replaces the working one.
. "$(dirname "$0")/lib.sh"

D=$T/data
start_atriumd "$D" || exit 1
wait_port "$TLS_PORT" || { not_ok "the TLS port listens"; finish; }
ok "the TLS port listens beside the plain one"

expect_eq "ca.key is mode 0600" "$(stat -c %a "$D/tls/ca.key")" 600
expect_eq "server.p12 is mode 0600" "$(stat -c %a "$D/tls/server.p12")" 600
check "the client bundle cert.jks is there" test -s "$D/tls/client/cert.jks"
check "with its cert.pass" test -s "$D/tls/client/cert.pass"
fp=$(openssl x509 -in "$D/tls/ca.crt" -noout -fingerprint -sha256 | cut -d= -f2)
expect_match "the log names the CA's SHA-256 fingerprint" "$(cat "$D.log")" "$fp"
check "Java's keytool lists the client bundle as a trusted entry" \
	bash -c "keytool -list -keystore '$D/tls/client/cert.jks' -storepass \"\$(cat '$D/tls/client/cert.pass')\" | grep -q trustedCertEntry"

out=$(curl -sS --cacert "$D/tls/ca.crt" "https://127.0.0.1:$TLS_PORT/healthz")
expect_match "curl --cacert ca.crt verifies by IP" "$out" '"status":"ok"'
out=$(curl -sS --cacert "$D/tls/ca.crt" "https://localhost:$TLS_PORT/api/v1/server")
expect_match "and by name; the API is the same as on the plain port" "$out" '"name":"tls","port":'"$TLS_PORT"',"tls":true'
check "openssl s_client -verify_return_error by IP" \
	openssl s_client -connect "127.0.0.1:$TLS_PORT" -CAfile "$D/tls/ca.crt" -verify_ip 127.0.0.1 -verify_return_error -brief </dev/null
check "openssl s_client -verify_return_error by name" \
	openssl s_client -connect "127.0.0.1:$TLS_PORT" -servername localhost -CAfile "$D/tls/ca.crt" -verify_hostname localhost -verify_return_error -brief </dev/null
check_fails "a client that does not trust the CA is refused" \
	curl -sS "https://127.0.0.1:$TLS_PORT/healthz"
out=$(curl -s -m 5 "http://127.0.0.1:$TLS_PORT/healthz")
expect_match "plain HTTP on the TLS port is told so at once" "$out" 'speaks TLS: use https://'

# Secure defaults.
check_fails "TLS 1.1 is refused" openssl s_client -connect "127.0.0.1:$TLS_PORT" -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0' </dev/null
check "TLS 1.2 with ECDHE and AES-GCM is accepted" \
	openssl s_client -connect "127.0.0.1:$TLS_PORT" -tls1_2 -cipher ECDHE-ECDSA-AES128-GCM-SHA256 -CAfile "$D/tls/ca.crt" -verify_return_error </dev/null
check_fails "CBC ciphers are refused" openssl s_client -connect "127.0.0.1:$TLS_PORT" -tls1_2 -cipher 'ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES128-SHA' </dev/null
check_fails "non-forward-secret key exchange is refused" openssl s_client -connect "127.0.0.1:$TLS_PORT" -tls1_2 -cipher 'AES128-GCM-SHA256' </dev/null
# TLS 1.3 tickets come after the handshake: ask for something to get one.
printf 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' |
	openssl s_client -connect "127.0.0.1:$TLS_PORT" -CAfile "$D/tls/ca.crt" -sess_out "$T/sess" -ign_eof >/dev/null 2>&1
out=$(openssl s_client -connect "127.0.0.1:$TLS_PORT" -CAfile "$D/tls/ca.crt" -sess_in "$T/sess" </dev/null 2>&1)
expect_match "sessions resume with tickets" "$out" 'Reused, TLSv1.3'
# A resumed connection gets a fresh ticket, so a client using each ticket
# once keeps resuming.
printf 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' |
	openssl s_client -connect "127.0.0.1:$TLS_PORT" -CAfile "$D/tls/ca.crt" -sess_in "$T/sess" -sess_out "$T/sess2" -ign_eof >/dev/null 2>&1
out=$(openssl s_client -connect "127.0.0.1:$TLS_PORT" -CAfile "$D/tls/ca.crt" -sess_in "$T/sess2" </dev/null 2>&1)
expect_match "a resumed session brings a new ticket that resumes too" "$out" 'Reused, TLSv1.3'
out=$(curl -s "http://127.0.0.1:$PORT/metrics")
expect_match "/metrics counts completed handshakes" "$out" 'atrium_tls_handshakes_total\{resumed="false"\} [1-9]'
expect_match "/metrics counts resumed handshakes" "$out" 'atrium_tls_handshakes_total\{resumed="true"\} [1-9]'
expect_match "/metrics counts unknown-CA failures" "$out" 'atrium_tls_handshake_failures_total\{reason="unknown_ca"\} [1-9]'
expect_match "/metrics counts plain HTTP on the TLS port" "$out" 'atrium_tls_handshake_failures_total\{reason="plain_http"\} [1-9]'
expect_match "/metrics counts protocol failures" "$out" 'atrium_tls_handshake_failures_total\{reason="protocol"\} [1-9]'
expect_match "/metrics shows the certificate's expiry" "$out" 'atrium_tls_certificate_expiry_timestamp_seconds [0-9]{10}'
out=$(curl -s "http://127.0.0.1:$PORT/healthz")
expect_match "/healthz shows the days left on the certificate" "$out" '"days_left":39[67]'

# An open connection survives a certificate change; new ones get the new one.
python3 - "$TLS_PORT" "$D/tls/ca.crt" >"$T/keepalive.out" 2>&1 <<'PY' &
import socket, ssl, sys, time
port, ca = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context(cafile=ca)
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="localhost")
def get():
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    d = b""
    while b"\r\n\r\n" not in d: d += s.recv(4096)
    h, _, b = d.partition(b"\r\n\r\n")
    n = int([l for l in h.split(b"\r\n") if l.lower().startswith(b"content-length")][0].split(b":")[1])
    while len(b) < n: b += s.recv(4096)
    return h.split(b"\r\n")[0].decode()
print("first", get(), flush=True)
time.sleep(4)
print("after", get(), flush=True)
PY
keepalive=$!
sleep 1

# A keystore made by Java's keytool exactly as the reference docs say.
keytool -genkey -alias MyDomain -keyalg RSA -keystore "$T/KeyStore.jks" -keysize 2048 \
	-storepass changeit -keypass changeit -dname "CN=localhost, O=Atrium Test" \
	-ext "SAN=dns:localhost,ip:127.0.0.1" -validity 365 -noprompt >/dev/null 2>&1
check "keytool made KeyStore.jks" test -s "$T/KeyStore.jks"
javafp=$(keytool -list -v -keystore "$T/KeyStore.jks" -storepass changeit -alias mydomain 2>/dev/null | awk '/SHA256:/ {print $2; exit}')
cat >>"$D/atrium.conf" <<CONF
tls_keystore = $T/KeyStore.jks
tls_keystore_password = wrong-password
CONF
kill -HUP "$SERVER_PID"
sleep 1
expect_match "a wrong keystore password is reported" "$(tail -5 "$D.log")" 'reload failed, nothing changed.*(password was incorrect|tampered)'
served=$(openssl s_client -connect "127.0.0.1:$TLS_PORT" </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256 | cut -d= -f2)
expect_eq "and the old certificate is still served" "$served" "$(openssl pkcs12 -in "$D/tls/server.p12" -passin file:"$D/tls/server.pass" -nokeys -clcerts 2>/dev/null | openssl x509 -noout -fingerprint -sha256 | cut -d= -f2)"

sed -i 's/^tls_keystore_password = .*/tls_keystore_password = changeit/' "$D/atrium.conf"
kill -HUP "$SERVER_PID"
sleep 1
served=$(openssl s_client -connect "127.0.0.1:$TLS_PORT" </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256 | cut -d= -f2)
expect_eq "after SIGHUP the keytool certificate is served, without a restart" "$served" "$javafp"
expect_match "the log warns that it is self-signed or lacks the host name" "$(tail -8 "$D.log")" 'serving the certificate .CN=localhost, O=Atrium Test.'
keytool -exportcert -rfc -alias MyDomain -keystore "$T/KeyStore.jks" -storepass changeit -file "$T/mydomain.pem" >/dev/null 2>&1
out=$(curl -sS --cacert "$T/mydomain.pem" "https://localhost:$TLS_PORT/healthz")
expect_match "curl trusting the keytool certificate connects" "$out" '"status":"ok"'
wait "$keepalive"
expect_match "a connection open across the change keeps working" "$(cat "$T/keepalive.out")" 'after HTTP/1.1 200 OK'

# Expired, mismatched, not a keystore: refused, the working one stays.
keytool -genkeypair -alias old -keyalg EC -keystore "$T/expired.p12" -storetype PKCS12 -storepass changeit \
	-dname "CN=localhost" -startdate 2020/01/01 -validity 30 >/dev/null 2>&1
sed -i "s|^tls_keystore = .*|tls_keystore = $T/expired.p12|" "$D/atrium.conf"
kill -HUP "$SERVER_PID"
sleep 1
expect_match "an expired certificate is refused with its dates" "$(tail -3 "$D.log")" 'has expired: it was valid from 2020-01-01'
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj /CN=localhost -keyout "$T/k1.pem" -out "$T/c1.pem" 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj /CN=localhost -keyout "$T/k2.pem" -out "$T/c2.pem" 2>/dev/null
cat "$T/k1.pem" "$T/c2.pem" >"$T/mismatch.pem"
sed -i "s|^tls_keystore = .*|tls_keystore = $T/mismatch.pem|" "$D/atrium.conf"
kill -HUP "$SERVER_PID"
sleep 1
expect_match "a key that does not match its certificate is refused" "$(tail -3 "$D.log")" 'do not belong together|does not match'
head -c 3000 /dev/urandom >"$T/junk.jks"
sed -i "s|^tls_keystore = .*|tls_keystore = $T/junk.jks|" "$D/atrium.conf"
kill -HUP "$SERVER_PID"
sleep 1
expect_match "a file that is no keystore is refused" "$(tail -3 "$D.log")" 'reload failed'
served=$(openssl s_client -connect "127.0.0.1:$TLS_PORT" </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256 | cut -d= -f2)
expect_eq "through all of it the working certificate stays" "$served" "$javafp"

# A PEM key + certificate that expires soon: accepted with a warning.
cat "$T/k1.pem" "$T/c1.pem" >"$T/soon.pem"
sed -i "s|^tls_keystore = .*|tls_keystore = $T/soon.pem|; /^tls_keystore_password/d" "$D/atrium.conf"
kill -HUP "$SERVER_PID"
sleep 1
expect_match "a certificate that expires within 30 days is used with a warning" "$(tail -6 "$D.log")" 'WARN  certificate: the certificate expires in (29|30) days'

# reset-tls: back to the local CA's certificate, and the running server reloads.
out=$("$ATRIUMD" --data "$D" reset-tls 2>&1)
expect_match "reset-tls tells the running server to reload" "$out" 'Told the running atriumd'
sleep 1.5
check "after reset-tls the local CA's certificate is served" \
	openssl s_client -connect "127.0.0.1:$TLS_PORT" -CAfile "$D/tls/ca.crt" -verify_return_error -brief </dev/null
if grep -q '^tls_keystore' "$D/atrium.conf"; then not_ok "reset-tls removes tls_keystore from atrium.conf"; else ok "reset-tls removes tls_keystore from atrium.conf"; fi

# tls = off closes the port; plain = off closes the plain port.
echo "plain = off" >>"$D/atrium.conf"
kill -HUP "$SERVER_PID"
sleep 1
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/healthz")
expect_eq "plain = off closes port 3579's equivalent" "$code" 000
out=$(curl -sS --cacert "$D/tls/ca.crt" "https://127.0.0.1:$TLS_PORT/healthz")
expect_match "while TLS keeps serving" "$out" '"listeners":\[\{"name":"tls"'
stop_atriumd

# A bad keystore at start: a clear refusal that names the way back.
echo "tls_keystore = $T/junk.jks" >>"$D/atrium.conf"
out=$("$ATRIUMD" --data "$D" --port "$(free_port)" --tls-port "$(free_port)" 2>&1); rc=$?
expect_eq "a bad keystore at start stops the start" "$rc" 1
expect_match "and names reset-tls" "$out" "reset-tls"

# A server certificate close to expiry is renewed (here: at start).
"$ATRIUMD" --data "$D" reset-tls >/dev/null
sed -i '/^plain = off/d' "$D/atrium.conf"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 10 -subj /CN=localhost \
	-keyout "$T/k3.pem" -out "$T/c3.pem" 2>/dev/null
openssl pkcs12 -export -inkey "$T/k3.pem" -in "$T/c3.pem" -out "$D/tls/server.p12" -passout file:"$D/tls/server.pass" 2>/dev/null
start_atriumd "$D" || exit 1
out=$(openssl s_client -connect "127.0.0.1:$TLS_PORT" -CAfile "$D/tls/ca.crt" -verify_return_error </dev/null 2>/dev/null | openssl x509 -noout -enddate)
# The local CA issues for 397 days from an hour ago; the old one had 10.
expect_days_left "a certificate due for renewal is replaced by a fresh one from the local CA" "$out" 396 397
stop_atriumd
finish
