#!/usr/bin/env bash
# The TLS set-up as administrators do it, from the client's side (issue 12):
# a self-signed, correctly named keystore made by Java's keytool, uploaded
# with atrium admin tls upload, and the very next atrium admin tls status
# still works (the CLI trusts the new chain the server sends back); admin
# commands find a console that is not on 8443; --plain to a closed plain
# port says so; a cut-short keystore says what to do first; reset-tls
# --new-ca makes a new CA that clients importing it trust, and the old CA's
# server certificate is in the old CA's CRL.
. "$(dirname "$0")/lib.sh"

expect_exit() {
	local name=$1 code=$2 rc
	shift 2
	OUT=$("$@" 2>&1)
	rc=$?
	if [ "$rc" -eq "$code" ]; then ok "$name"; else not_ok "$name" "exit $rc, wanted $code: $*" "$OUT"; fi
}
served_sha256() {
	openssl s_client -connect "127.0.0.1:$1" </dev/null 2>/dev/null |
		openssl x509 -noout -fingerprint -sha256 2>/dev/null | sed 's/.*=//'
}
fp_of() { openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/.*=//'; }

DATA=$T/data
start_atriumd "$DATA" || { not_ok "atriumd starts"; finish; }
wait_port "$TLS_PORT" 30 && wait_port "$ADMIN_PORT" 30 || { not_ok "TLS and admin ports listen"; finish; }
PW=$ATRIUM_ADMIN_PASSWORD
HP=127.0.0.1:$TLS_PORT
mkdir -p "$ATRIUM_HOME/certs"
cp "$DATA/tls/client/cert.jks" "$DATA/tls/client/cert.pass" "$ATRIUM_HOME/certs/"
expect_exit "log in as admin over TLS" 0 "$ATRIUM" login -u admin --password-stdin "$HP" <<<"$PW"

# ---- the admin port is discovered, not assumed to be 8443 -----------------------
expect_eq "the session keeps the admin port the server lists" \
	"$(json_get "$(cat "$ATRIUM_HOME/session.json")" 'j.get("admin_port")')" "$ADMIN_PORT"
expect_exit "atrium admin tls status without --server" 0 "$ATRIUM" admin tls status
expect_match "reaches the console on its own port ($ADMIN_PORT)" "$OUT" "Admin port +$ADMIN_PORT"
NOPORT=$(free_port)
expect_exit "--server stays the override" 1 "$ATRIUM" admin tls status --server "127.0.0.1:$NOPORT"
expect_match "and is where it looked" "$OUT" "127\\.0\\.0\\.1:$NOPORT"

# ---- a cut-short keystore ----------------------------------------------------------
KS=$T/ks
mkdir -p "$KS"
kt() { keytool "$@" >>"$T/keytool.log" 2>&1; }
kt -genkeypair -alias cut -keyalg RSA -keysize 2048 -dname "CN=localhost" \
	-keystore "$KS/whole.jks" -storetype JKS -storepass cut-pass-1 -keypass cut-pass-1
head -c 35 "$KS/whole.jks" >"$KS/cut.jks"
printf 'cut-pass-1\n' >"$KS/cut.pass"
expect_exit "uploading a cut-short JKS fails" 1 "$ATRIUM" admin tls upload \
	--keystore "$KS/cut.jks" --storepass-file "$KS/cut.pass"
expect_match "saying first what to do, the byte detail second" "$OUT" \
	"export it again, and check that it is the right file: the keystore is truncated or damaged \\(it ends inside a record at byte [0-9]+ of 35\\)"
expect_exit "atrium keytool on the same file fails" 1 "$ATRIUM" keytool -list \
	-keystore "$KS/cut.jks" -storepass cut-pass-1
expect_match "with the words keytool always printed" "$OUT" \
	"^keytool error: java\\.io\\.IOException: the keystore is truncated or damaged \\(it ends inside a record at byte [0-9]+ of 35\\)$"

# ---- lock-out: a self-signed, correctly named certificate --------------------------
# Java keytool's own recipe, with the SAN a client needs. This part needs
# the server's side of issue 12: an upload answer with the new chain
# (chain_pem, trusted_by_local_ca) and, for a misnamed certificate, the
# cert_mismatch refusal with its coverage table and keytool hint.
kt -genkeypair -alias selfsigned -keyalg RSA -keysize 2048 -validity 365 \
	-dname "CN=localhost, OU=Modeling, O=Atrium test" -ext "SAN=dns:localhost,ip:127.0.0.1" \
	-keystore "$KS/self.p12" -storetype PKCS12 -storepass self-pass-1 -keypass self-pass-1
printf 'self-pass-1\n' >"$KS/self.pass"
keytool -exportcert -rfc -alias selfsigned -keystore "$KS/self.p12" -storepass self-pass-1 \
	-file "$KS/self.crt" >>"$T/keytool.log" 2>&1
SELF=$(fp_of "$KS/self.crt")
expect_exit "upload the self-signed keystore" 0 "$ATRIUM" admin tls upload \
	--keystore "$KS/self.p12" --storepass-file "$KS/self.pass"
expect_eq "the TLS port serves it" "$(served_sha256 "$TLS_PORT")" "$SELF"
expect_match "the CLI says it now trusts the new certificate" "$OUT" \
	"This client now trusts the new certificate: added .*SHA-256 $SELF"
expect_match "and that open console tabs need it trusted" "$OUT" "Browser tabs with the console open"
expect_exit "the very next atrium admin tls status still works" 0 "$ATRIUM" admin tls status
expect_match "and shows the self-signed certificate" "$OUT" "SHA-256 +$SELF"
expect_exit "atrium certs list shows it in the trust store" 0 "$ATRIUM" certs list
expect_match "by its fingerprint" "$OUT" "$SELF"

# A certificate for another name only: refused without --force, with the table.
kt -genkeypair -alias other -keyalg RSA -keysize 2048 -validity 365 \
	-dname "CN=other.example" -ext "SAN=dns:other.example" \
	-keystore "$KS/other.p12" -storetype PKCS12 -storepass self-pass-1 -keypass self-pass-1
expect_exit "a misnamed certificate is refused without --force" 1 "$ATRIUM" admin tls upload \
	--keystore "$KS/other.p12" --storepass-file "$KS/self.pass"
expect_match "naming the address not covered" "$OUT" "NOT covered +127\\.0\\.0\\.1"
expect_match "with the keytool command" "$OUT" "keytool -genkeypair .*-ext SAN="
expect_match "and --force" "$OUT" "add --force"
expect_eq "the TLS port keeps the certificate" "$(served_sha256 "$TLS_PORT")" "$SELF"
expect_exit "clear (back to the local CA)" 0 "$ATRIUM" admin tls clear

# ---- --plain to a closed plain port --------------------------------------------------
# Its own loopback address, so that the default ports 3579 and 10002 are free.
H=127.$((RANDOM % 200 + 20)).$((RANDOM % 250 + 1)).$((RANDOM % 250 + 1))
P2=$T/plainoff
"$ATRIUMD" --data "$P2" --bind "$H" --port 3579 --tls-port 10002 --admin-port "$(free_port)" \
	--set plain=off >>"$P2.log" 2>&1 &
_pids+=("$!")
for _ in $(seq 200); do (exec 3<>/dev/tcp/"$H"/10002) 2>/dev/null && break; sleep 0.1; done
expect_exit "login --plain to a closed plain port fails" 1 env ATRIUM_HOME="$T/home2" \
	"$ATRIUM" login --plain -u admin --password-stdin "$H" <<<"$PW"
expect_match "saying the plain port is closed and to drop --plain" "$OUT" \
	"the plain port $H:3579 is closed, but the server's TLS port $H:10002 answers: drop --plain \\(atrium login $H\\)"
check_fails "not asking whether atriumd runs" grep -q "is atriumd running" <<<"$OUT"

# ---- reset-tls --new-ca ----------------------------------------------------------------
OLDCA=$(fp_of "$DATA/tls/ca.crt")
# The local CA's server certificate, whatever the TLS port serves now.
OLDSERIAL=$(openssl pkcs12 -in "$DATA/tls/server.p12" -passin file:"$DATA/tls/server.pass" -nokeys \
	-clcerts 2>/dev/null | openssl x509 -noout -serial | sed 's/.*=//')
expect_exit "reset-tls --new-ca is refused while atriumd runs" 1 "$ATRIUMD" --data "$DATA" reset-tls --new-ca
expect_match "saying to stop it" "$OUT" "stop it first"
expect_eq "the CA is unchanged" "$(fp_of "$DATA/tls/ca.crt")" "$OLDCA"
stop_atriumd
expect_exit "reset-tls --new-ca with atriumd stopped" 0 "$ATRIUMD" --data "$DATA" reset-tls --new-ca
NEWCA=$(fp_of "$DATA/tls/ca.crt")
check_fails "the new CA's fingerprint differs" test "$NEWCA" = "$OLDCA"
expect_match "it prints the new fingerprint" "$OUT" "SHA-256 $NEWCA"
expect_match "and the command every client runs" "$OUT" "atrium certs import ca.crt"
expect_match "and the download URLs" "$OUT" "/admin/api/download/ca\\.pem"
RETIRED=$(ls -d "$DATA"/tls/retired-ca-* | head -n 1)
check "the old CA's key is gone" test ! -e "$RETIRED/ca.key"
expect_match "the old server certificate is in the old CA's CRL" \
	"$(openssl crl -in "$RETIRED/ca.crl" -noout -text)" "Serial Number: $OLDSERIAL"
expect_eq "the new client bundle trusts the new CA" \
	"$(keytool -list -rfc -keystore "$DATA/tls/client/cert.jks" -storepass "$(cat "$DATA/tls/client/cert.pass")" 2>/dev/null |
		openssl x509 -noout -fingerprint -sha256 | sed 's/.*=//')" "$NEWCA"
PORT_FIXED=$PORT TLS_PORT_FIXED=$TLS_PORT ADMIN_PORT_FIXED=$ADMIN_PORT start_atriumd "$DATA" ||
	{ not_ok "atriumd starts again"; finish; }
wait_port "$TLS_PORT" 30
openssl s_client -connect "$HP" -showcerts </dev/null 2>/dev/null |
	awk '/BEGIN CERT/{p=1} p{print} /END CERT/{exit}' >"$T/leaf.pem"
check "the server certificate chains to the new CA" \
	openssl verify -CAfile "$DATA/tls/ca.crt" "$T/leaf.pem"
check_fails "and not to the old one" openssl verify -CAfile "$RETIRED/ca.crt" "$T/leaf.pem"
export ATRIUM_HOME=$T/home3
cp "$DATA/tls/ca.crt" "$T/ca.crt"
expect_exit "a client that had the old CA is refused" 1 env ATRIUM_HOME="$T/home" \
	"$ATRIUM" login -u admin --password-stdin "$HP" <<<"$PW"
expect_exit "a client imports the new CA" 0 "$ATRIUM" certs import "$T/ca.crt"
expect_exit "and connects" 0 "$ATRIUM" login -u admin --password-stdin "$HP" <<<"$PW"
finish
