#!/usr/bin/env bash
# The client's TLS against a real atriumd: login uses TLS by default and
# verifies the server; an untrusted server is refused with its fingerprint
# and the exact `atrium certs trust` command; the client bundle copied into
# $ATRIUM_HOME/certs (or a certs folder beside the executable, or the system
# store) makes it trusted; TLS to the plain port and plain to the TLS port
# are told so at once; a server whose certificate changed is refused
# loudly. Real peers check the same server: curl, openssl s_client by name
# and by address, and a Java client trusting only the bundle's cert.jks.
. "$(dirname "$0")/lib.sh"

expect_exit() {
	local name=$1 code=$2 rc
	shift 2
	OUT=$("$@" 2>&1)
	rc=$?
	if [ "$rc" -eq "$code" ]; then ok "$name"; else not_ok "$name" "exit $rc, wanted $code: $*" "$OUT"; fi
}

# server_sha256 PORT: the SHA-256 fingerprint of the certificate served there.
server_sha256() {
	openssl s_client -connect "127.0.0.1:$1" </dev/null 2>/dev/null |
		openssl x509 -noout -fingerprint -sha256 | sed 's/.*=//'
}

DATA=$T/data
start_atriumd "$DATA" || { not_ok "atriumd starts"; finish; }
PW=$ATRIUM_ADMIN_PASSWORD
wait_port "$TLS_PORT" || not_ok "the TLS port listens"
HP=127.0.0.1:$TLS_PORT
FP=$(server_sha256 "$TLS_PORT")
expect_match "the server's fingerprint is known" "$FP" '^([0-9A-F]{2}:){31}[0-9A-F]{2}$'

# plain_conns: connections the plain port accepted so far (from /metrics, over TLS).
plain_conns() {
	curl -sS --cacert "$DATA/tls/ca.crt" "https://$HP/metrics" |
		sed -n 's/^atrium_connections_total{listener="plain"} //p'
}

# --- untrusted: refused, with the fingerprint and the command to run
PLAIN_BEFORE=$(plain_conns)
expect_exit "login to an untrusted server fails" 1 \
	"$ATRIUM" login -u admin --password-stdin "$HP" <<<"$PW"
expect_match "saying it is not trusted" "$OUT" "^atrium: the certificate of $HP is not trusted"
expect_match "naming its issuer" "$OUT" "chains to the root CN=Atrium local CA on"
expect_match "showing the server's SHA-256 fingerprint" "$OUT" "SHA-256 fingerprint of the server's certificate: $FP"
expect_match "and the exact command to trust it" "$OUT" "run: atrium certs trust $HP\$"
expect_eq "no session was kept" "$(ls "$ATRIUM_HOME/session.json" 2>/dev/null)" ""
expect_match "the client ended the handshake: the server counts an unknown CA" \
	"$(curl -sS --cacert "$DATA/tls/ca.crt" "https://$HP/metrics")" \
	'atrium_tls_handshake_failures_total\{reason="unknown_ca"\} 1'
expect_eq "and nothing went to the plain port instead (no silent fallback)" "$(plain_conns)" "$PLAIN_BEFORE"

# --- the wrong port either way: told at once, never a hang or a garbled error
t0=$(date +%s)
expect_exit "TLS to the plain port fails" 1 "$ATRIUM" login -u admin --password-stdin "127.0.0.1:$PORT" <<<"$PW"
expect_eq "saying the port speaks plain HTTP" "$OUT" \
	"atrium: 127.0.0.1:$PORT speaks plain HTTP, not TLS: use --plain (atrium login --plain 127.0.0.1:$PORT), or the server's TLS port (10002 unless its administrator changed it)"
expect_exit "plain HTTP to the TLS port fails" 1 "$ATRIUM" login --plain -u admin --password-stdin "$HP" <<<"$PW"
expect_match "saying the port speaks TLS" "$OUT" "atrium: $HP speaks TLS, not plain HTTP: leave out --plain \\(atrium login $HP\\)"
expect_eq "both within seconds" "$(($(date +%s) - t0 < 10))" 1

# --- the client bundle, copied as it is into $ATRIUM_HOME/certs
mkdir -p "$ATRIUM_HOME/certs"
cp "$DATA/tls/client/cert.jks" "$DATA/tls/client/cert.pass" "$ATRIUM_HOME/certs/"
expect_exit "with the bundle, login over TLS works" 0 \
	"$ATRIUM" login -u admin --password-stdin "$HP" <<<"$PW"
expect_match "it says where" "$OUT" "^Logged in to $HP as admin"
case "$OUT" in *warning*) not_ok "no warning over TLS" "$OUT" ;; *) ok "no warning over TLS" ;; esac
SESSION=$(cat "$ATRIUM_HOME/session.json")
expect_eq "the session keeps an https URL" "$(json_get "$SESSION" 'j["server"]')" "https://$HP"
expect_eq "and the certificate it trusted" "$(json_get "$SESSION" 'j["certificate_sha256"]')" "$FP"
expect_exit "by name too (localhost is in the certificate)" 0 \
	"$ATRIUM" login -u admin --password-stdin "localhost:$TLS_PORT" <<<"$PW"
expect_exit "and with https://" 0 "$ATRIUM" login -u admin --password-stdin "https://$HP/" <<<"$PW"
expect_exit "--plain without HOST does not turn a TLS session into plain HTTP" 2 \
	"$ATRIUM" login --plain --password-stdin <<<"$PW"
expect_match "saying why" "$OUT" "the session's server $HP uses TLS; give HOST\[:PORT\] with --plain"

# Work over TLS: bytes round-trip exactly.
head -c 3000000 /dev/urandom >"$T/model.bin"
expect_exit "create a project over TLS" 0 "$ATRIUM" project create tlsmodel
expect_exit "commit over TLS" 0 "$ATRIUM" commit tlsmodel "$T/model.bin" -m "over TLS"
expect_exit "checkout over TLS" 0 "$ATRIUM" checkout tlsmodel -o "$T/model.out"
expect_eq "byte for byte" "$(cmp -s "$T/model.bin" "$T/model.out" && echo same)" same
expect_exit "the same data over plain HTTP" 0 env ATRIUM_HOME="$T/plain" \
	bash -c "'$ATRIUM' login --plain -u admin --password-stdin 127.0.0.1:$PORT <<<'$PW' >/dev/null 2>&1 && '$ATRIUM' checkout tlsmodel -o '$T/model.plain'"
expect_eq "is the same" "$(cmp -s "$T/model.bin" "$T/model.plain" && echo same)" same

# A damaged trust store is an error naming it, not a quiet "untrusted".
cp "$ATRIUM_HOME/certs/cert.pass" "$T/cert.pass.keep"
echo wrong-password >"$ATRIUM_HOME/certs/cert.pass"
expect_exit "a wrong cert.pass fails" 1 "$ATRIUM" project list
expect_match "naming both files" "$OUT" "cert.jks: its password is not the one in .*cert.pass"
cp "$T/cert.pass.keep" "$ATRIUM_HOME/certs/cert.pass"
expect_exit "restored, it works again" 0 "$ATRIUM" project list

# --- a certs folder beside the executable (the reference's install folder)
mkdir -p "$T/app/certs" "$T/nohome"
cp "$ATRIUM" "$T/app/atrium"
cp "$DATA/tls/client/cert.jks" "$DATA/tls/client/cert.pass" "$T/app/certs/"
expect_exit "the certs folder beside atrium is trusted" 0 \
	env ATRIUM_HOME="$T/nohome" "$T/app/atrium" login -u admin --password-stdin "$HP" <<<"$PW"
expect_exit "certs show says through which file" 0 env ATRIUM_HOME="$T/nohome" "$T/app/atrium" certs show "$HP"
expect_match "it names the folder and alias" "$OUT" "Trusted: yes.*$T/app/certs/cert.jks \\(alias atrium-local-ca\\)"
expect_exit "without it, the same client refuses" 1 \
	env ATRIUM_HOME="$T/nohome2" "$ATRIUM" login -u admin --password-stdin "$HP" <<<"$PW"

# --- the system store ($SSL_CERT_FILE stands in for /etc/ssl/certs)
expect_exit "a root in the system store is trusted" 0 env ATRIUM_HOME="$T/sys" \
	SSL_CERT_FILE="$DATA/tls/ca.crt" SSL_CERT_DIR="$T/empty" \
	"$ATRIUM" login -u admin --password-stdin "$HP" <<<"$PW"
expect_exit "certs show agrees" 0 env ATRIUM_HOME="$T/sys" SSL_CERT_FILE="$DATA/tls/ca.crt" \
	SSL_CERT_DIR="$T/empty" "$ATRIUM" certs show "$HP"
expect_match "through the system's roots" "$OUT" "Trusted: yes.*the system's trusted roots"

# --- real peers check the same server
CA=$DATA/tls/ca.crt
"$ATRIUM" ca init --dir "$T/otherca" --cn "Other root" >/dev/null 2>&1 || not_ok "another CA"
"$ATRIUM" ca export --dir "$T/otherca" --out "$T/other.pem" >/dev/null 2>&1 || not_ok "its PEM"
"$ATRIUM" ca export --dir "$T/otherca" --format jks --out "$T/other.jks" >/dev/null 2>&1 ||
	not_ok "its JKS"
expect_exit "curl --cacert ca.crt by address" 0 curl -sSf --cacert "$CA" "https://$HP/healthz"
expect_exit "curl --cacert ca.crt by name" 0 curl -sSf --cacert "$CA" "https://localhost:$TLS_PORT/healthz"
expect_exit "curl with another CA refuses" 60 curl -sS --cacert "$T/other.pem" "https://$HP/healthz"
expect_exit "openssl s_client -verify_return_error by address" 0 sh -c \
	"openssl s_client -connect $HP -CAfile '$CA' -verify_ip 127.0.0.1 -verify_return_error -brief </dev/null"
expect_exit "openssl s_client -verify_return_error by name" 0 sh -c \
	"openssl s_client -connect $HP -CAfile '$CA' -verify_hostname localhost -verify_return_error -brief </dev/null"
expect_exit "openssl s_client refuses a name the certificate lacks" 1 sh -c \
	"openssl s_client -connect $HP -CAfile '$CA' -verify_hostname other.example -verify_return_error -brief </dev/null"
if command -v javac >/dev/null && command -v java >/dev/null; then
	mkdir -p "$T/java"
	if javac -d "$T/java" "$ATRIUM_TOP/tests/data/java/JavaTlsClient.java" 2>"$T/javac.err"; then
		expect_exit "Java trusting only the bundle's cert.jks connects" 0 java -cp "$T/java" \
			JavaTlsClient "https://$HP/healthz" "$DATA/tls/client/cert.jks" "$DATA/tls/client/cert.pass"
		expect_match "and gets an answer" "$OUT" "^HTTP 200 TLS_"
		expect_exit "Java checks the name (localhost)" 0 java -cp "$T/java" \
			JavaTlsClient "https://localhost:$TLS_PORT/healthz" "$DATA/tls/client/cert.jks" \
			"$DATA/tls/client/cert.pass"
		# A trust store with another root only: Java refuses, as atrium does.
		expect_exit "Java with another root refuses" 3 java -cp "$T/java" \
			JavaTlsClient "https://$HP/healthz" "$T/other.jks" "$T/other.pass"
		expect_match "with a PKIX error" "$OUT" "^TLS: .*PKIX"
	else
		not_ok "javac compiles the Java client" "$(cat "$T/javac.err")"
	fi
else
	echo "# javac/java missing: Java peer skipped (apt-get install default-jdk-headless)"
fi

# --- the server's certificate changes (its CA was remade): refused loudly
stop_atriumd
rm -rf "$DATA/tls"
PORT_FIXED=$PORT TLS_PORT_FIXED=$TLS_PORT ADMIN_PORT_FIXED=$ADMIN_PORT start_atriumd "$DATA" ||
	not_ok "atriumd restarts"
wait_port "$TLS_PORT"
FP2=$(server_sha256 "$TLS_PORT")
expect_eq "the server has a new certificate" "$([ "$FP2" != "$FP" ] && [ -n "$FP2" ] && echo new)" new
expect_exit "the session's next command fails" 1 "$ATRIUM" project list
expect_match "warning that the certificate changed" "$OUT" "^atrium: WARNING: the certificate of $HP has changed since you last connected"
expect_match "that it may be an attack" "$OUT" "This may be an attack"
expect_match "with the new fingerprint" "$OUT" "$FP2"
expect_match "and the command, to run only once confirmed" "$OUT" "atrium certs trust $HP\$"
expect_exit "a new login is refused the same way" 1 "$ATRIUM" login -u admin --password-stdin "$HP" <<<"$PW"
expect_match "loudly" "$OUT" "WARNING: the certificate of $HP has changed"
expect_exit "the new bundle makes it trusted again" 0 bash -c \
	"cp '$DATA/tls/client/cert.jks' '$DATA/tls/client/cert.pass' '$ATRIUM_HOME/certs/' &&
	 '$ATRIUM' login -u admin --password-stdin $HP <<<'$PW'"
expect_eq "and the session records the new certificate" \
	"$(json_get "$(cat "$ATRIUM_HOME/session.json")" 'j["certificate_sha256"]')" "$FP2"

finish
