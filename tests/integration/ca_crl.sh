#!/usr/bin/env bash
# The local CA's revocation list: every certificate it issues names
# http://FIRSTNAME:PORT/ca.crl; atriumd serves that CRL (DER, signed by
# the CA, nextUpdate 7 days ahead) on the plain port and the TLS port;
# a server certificate replaced by a renewal or by reset-tls is listed,
# so openssl -crl_check refuses it ("certificate revoked") and accepts the
# new one. atrium ca issue --crl-url names a CRL URL of one's choice.
. "$(dirname "$0")/lib.sh"

D=$T/data
start_atriumd "$D" || exit 1
wait_port "$TLS_PORT" || { not_ok "the TLS port listens"; finish; }
CA=$D/tls/ca.crt

# served_cert FILE: the certificate the TLS port serves, as PEM.
served_cert() {
	openssl s_client -connect "127.0.0.1:$TLS_PORT" </dev/null 2>/dev/null | openssl x509 >"$1"
}
# fetch_crl FILE: GET /ca.crl on the plain port, as DER.
fetch_crl() { curl -sSf -o "$1" "http://127.0.0.1:$PORT/ca.crl"; }
serial_of() { openssl x509 -in "$1" -noout -serial | cut -d= -f2; }
# crl_verify CERT CRL: openssl verify with CRL checking.
crl_verify() {
	openssl crl -inform DER -in "$2" -out "$2.pem" 2>/dev/null
	openssl verify -crl_check -CAfile "$CA" -CRLfile "$2.pem" "$1" 2>&1
}

served_cert "$T/first.pem"
FIRST=$(openssl x509 -in "$T/first.pem" -noout -subject | sed 's/.*CN *= *//')
expect_match "the server certificate names the CRL on the plain port, under its first name" \
	"$(openssl x509 -in "$T/first.pem" -noout -ext crlDistributionPoints)" \
	"URI:http://\\[?$FIRST\\]?:$PORT/ca\\.crl"
check "GET /ca.crl on the plain port answers" fetch_crl "$T/crl1.der"
expect_match "as application/pkix-crl" \
	"$(curl -sS -o /dev/null -w '%{content_type}' "http://127.0.0.1:$PORT/ca.crl")" '^application/pkix-crl$'
expect_match "openssl checks its signature against ca.crt" \
	"$(openssl crl -inform DER -in "$T/crl1.der" -CAfile "$CA" -noout -verify 2>&1)" "verify OK"
expect_match "issued by the local CA" "$(openssl crl -inform DER -in "$T/crl1.der" -noout -issuer)" \
	"Atrium local CA on"
next=$(openssl crl -inform DER -in "$T/crl1.der" -noout -nextupdate | sed 's/^nextUpdate=/notAfter=/')
expect_days_left "its nextUpdate is 7 days ahead" "$next" 6 7
expect_match "and it lists nothing yet" "$(openssl crl -inform DER -in "$T/crl1.der" -noout -text)" \
	"No Revoked Certificates"
expect_eq "the file beside ca.crt is the same CRL" \
	"$(openssl crl -in "$D/tls/ca.crl" -outform DER | sha256sum)" "$(sha256sum <"$T/crl1.der")"
code=$(curl -sS -o "$T/crl-tls.der" -w '%{http_code}' --cacert "$CA" "https://127.0.0.1:$TLS_PORT/ca.crl")
expect_eq "the TLS port serves it too (for plain = off)" "$code" 200
check "the current certificate verifies with the CRL" crl_verify "$T/first.pem" "$T/crl1.der"

# --- renewal: a new name makes a new certificate; the old one is revoked
echo "tls_san = crl-test.example" >>"$D/atrium.conf"
kill -HUP "$SERVER_PID"
sleep 1.5
served_cert "$T/second.pem"
expect_match "the renewed certificate has the new name" \
	"$(openssl x509 -in "$T/second.pem" -noout -ext subjectAltName)" "crl-test.example"
fetch_crl "$T/crl2.der"
expect_match "the CRL lists the replaced certificate's serial" \
	"$(openssl crl -inform DER -in "$T/crl2.der" -noout -text)" "Serial Number: $(serial_of "$T/first.pem").*Superseded"
expect_match "openssl -crl_check refuses the old certificate" \
	"$(crl_verify "$T/first.pem" "$T/crl2.der")" "certificate revoked"
expect_match "and accepts the new one" "$(crl_verify "$T/second.pem" "$T/crl2.der")" ": OK"

# --- reset-tls keeps the CA and revokes the certificate it gives up
out=$("$ATRIUMD" --data "$D" reset-tls 2>&1)
expect_match "reset-tls tells the running server to reload" "$out" 'Told the running atriumd'
sleep 1.5
served_cert "$T/third.pem"
check_fails "reset-tls made a new certificate" cmp -s "$T/second.pem" "$T/third.pem"
fetch_crl "$T/crl3.der"
expect_match "the certificate before reset-tls is refused" \
	"$(crl_verify "$T/second.pem" "$T/crl3.der")" "certificate revoked"
expect_match "the first one still is" "$(crl_verify "$T/first.pem" "$T/crl3.der")" "certificate revoked"
expect_match "the new one verifies" "$(crl_verify "$T/third.pem" "$T/crl3.der")" ": OK"
expect_eq "ca.revoked holds both serials" "$(wc -l <"$D/tls/ca.revoked")" 2

# --- a CRL that runs out soon is re-signed at start
stop_atriumd
python3 - "$D/tls/ca.crl" <<'PY'
import sys; open(sys.argv[1], "w").write("not a CRL\n")
PY
start_atriumd "$D" || exit 1
fetch_crl "$T/crl4.der"
expect_match "a damaged ca.crl is re-signed at start" \
	"$(openssl crl -inform DER -in "$T/crl4.der" -CAfile "$CA" -noout -verify 2>&1)" "verify OK"
expect_match "still listing the revoked certificates" "$(crl_verify "$T/second.pem" "$T/crl4.der")" "certificate revoked"

# --- atrium ca issue --crl-url
"$ATRIUM" ca init >/dev/null || not_ok "ca init"
"$ATRIUM" ca issue srv.example --cert-out "$T/srv.crt" --crl-url http://srv.example:8080/ca.crl >/dev/null
expect_match "ca issue --crl-url names it in the certificate" \
	"$(openssl x509 -in "$T/srv.crt" -noout -ext crlDistributionPoints)" "URI:http://srv.example:8080/ca.crl"
"$ATRIUM" ca issue plain.example --cert-out "$T/plain.crt" >/dev/null
expect_eq "without --crl-url there is none" \
	"$(openssl x509 -in "$T/plain.crt" -noout -ext crlDistributionPoints 2>/dev/null)" ""
out=$("$ATRIUM" ca issue x.example --cert-out "$T/x.crt" --crl-url https://x.example/ca.crl 2>&1); rc=$?
expect_eq "an https:// CRL URL is a usage error" "$rc" 2
expect_match "saying why" "$out" "--crl-url takes an http:// URL"

finish
