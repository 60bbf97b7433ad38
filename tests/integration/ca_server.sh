#!/usr/bin/env bash
# "Establish your own root CA and import it into each client", end to end:
# atrium ca makes a root and a server keystore; atriumd serves it
# (tls_keystore); every kind of client trusts the root as exported by
# atrium ca export, and checks the server by name and by address: curl
# --cacert, openssl s_client -verify_return_error, a Java client trusting
# only the exported cert.jks, and atrium with cert.jks + cert.pass in its
# certs folder. The PEM files of ca issue serve through openssl s_server.
. "$(dirname "$0")/lib.sh"

expect_exit() {
	local name=$1 code=$2 rc
	shift 2
	OUT=$("$@" 2>&1)
	rc=$?
	if [ "$rc" -eq "$code" ]; then ok "$name"; else not_ok "$name" "exit $rc, wanted $code: $*" "$OUT"; fi
}

ADMIN=$T/admin
CA=$ADMIN/ca
DATA=$T/data
mkdir -p "$DATA" "$ADMIN"
"$ATRIUM" ca init --dir "$CA" --cn "Example Corp Root" >/dev/null || not_ok "ca init"
"$ATRIUM" ca issue --dir "$CA" localhost 127.0.0.1 --out "$DATA/server.p12" \
	--storepass-file "$DATA/server.pass" >/dev/null || not_ok "ca issue"
"$ATRIUM" ca export --dir "$CA" --out "$ADMIN/root.pem" >/dev/null || not_ok "export PEM"
# Another root, for the clients that must refuse.
"$ATRIUM" ca init --dir "$T/other" --cn "Other Root" >/dev/null || not_ok "another root"
"$ATRIUM" ca export --dir "$T/other" --out "$T/other.pem" >/dev/null || not_ok "its PEM"
"$ATRIUM" ca export --dir "$T/other" --out "$T/other/cert.jks" >/dev/null || not_ok "its JKS"
mkdir -p "$ADMIN/bundle"
"$ATRIUM" ca export --dir "$CA" --format jks --out "$ADMIN/bundle/cert.jks" >/dev/null || not_ok "export JKS"
printf 'tls_keystore = server.p12\ntls_keystore_password_file = server.pass\n' >"$DATA/atrium.conf"

start_atriumd "$DATA" || { not_ok "atriumd starts"; finish; }
wait_port "$TLS_PORT"
HP=127.0.0.1:$TLS_PORT
PW=$ATRIUM_ADMIN_PASSWORD
expect_match "atriumd serves the issued certificate" "$(cat "$DATA.log")" "serving the certificate 'CN=localhost' from .*server.p12"

# --- curl and openssl trust the exported root
expect_exit "curl --cacert root.pem by address" 0 curl -sSf --cacert "$ADMIN/root.pem" "https://$HP/healthz"
expect_exit "curl --cacert root.pem by name" 0 curl -sSf --cacert "$ADMIN/root.pem" "https://localhost:$TLS_PORT/healthz"
expect_exit "curl with another root refuses" 60 curl -sS --cacert "$T/other.pem" "https://$HP/healthz"
expect_exit "openssl s_client -verify_return_error by address" 0 bash -c \
	"openssl s_client -connect $HP -CAfile '$ADMIN/root.pem' -verify_ip 127.0.0.1 -verify_return_error -brief </dev/null"
expect_exit "openssl s_client -verify_return_error by name" 0 bash -c \
	"openssl s_client -connect $HP -CAfile '$ADMIN/root.pem' -verify_hostname localhost -verify_return_error -brief </dev/null"
expect_exit "openssl s_client refuses another address" 1 bash -c \
	"openssl s_client -connect $HP -CAfile '$ADMIN/root.pem' -verify_ip 10.0.0.1 -verify_return_error -brief </dev/null"

# --- Java trusting only the exported cert.jks
if command -v javac >/dev/null && command -v java >/dev/null; then
	mkdir -p "$T/java"
	if javac -d "$T/java" "$ATRIUM_TOP/tests/data/java/JavaTlsClient.java" 2>"$T/javac.err"; then
		expect_exit "Java with the exported cert.jks, by address" 0 java -cp "$T/java" JavaTlsClient \
			"https://$HP/healthz" "$ADMIN/bundle/cert.jks" "$ADMIN/bundle/cert.pass"
		expect_match "gets an answer" "$OUT" "^HTTP 200"
		expect_exit "and by name" 0 java -cp "$T/java" JavaTlsClient \
			"https://localhost:$TLS_PORT/healthz" "$ADMIN/bundle/cert.jks" "$ADMIN/bundle/cert.pass"
		expect_exit "Java with another root's cert.jks refuses" 3 java -cp "$T/java" JavaTlsClient \
			"https://$HP/healthz" "$T/other/cert.jks" "$T/other/cert.pass"
	else
		not_ok "javac compiles the Java client" "$(cat "$T/javac.err")"
	fi
else
	echo "# javac/java missing: Java peer skipped (apt-get install default-jdk-headless)"
fi

# --- atrium itself: the exported pair copied into its certs folder
expect_exit "atrium without the root refuses" 1 "$ATRIUM" login -u admin --password-stdin "$HP" <<<"$PW"
expect_match "naming the root it chains to" "$OUT" "chains to the root CN=Example Corp Root"
mkdir -p "$ATRIUM_HOME/certs"
cp "$ADMIN/bundle/cert.jks" "$ADMIN/bundle/cert.pass" "$ATRIUM_HOME/certs/"
expect_exit "atrium with cert.jks + cert.pass logs in" 0 "$ATRIUM" login -u admin --password-stdin "$HP" <<<"$PW"
expect_exit "by name too" 0 "$ATRIUM" login -u admin --password-stdin "localhost:$TLS_PORT" <<<"$PW"
expect_exit "certs show agrees" 0 "$ATRIUM" certs show "$HP"
expect_match "through the exported store" "$OUT" "Trusted: yes. It chains to CN=Example Corp Root, trusted through .*cert.jks \\(alias atrium-ca\\)"

# --- a JKS server keystore works the same
stop_atriumd
"$ATRIUM" ca issue --dir "$CA" localhost 127.0.0.1 --out "$DATA/server.jks" \
	--storepass-file "$DATA/jks.pass" >/dev/null || not_ok "issue JKS"
printf 'tls_keystore = server.jks\ntls_keystore_password_file = jks.pass\n' >"$DATA/atrium.conf"
start_atriumd "$DATA" || not_ok "atriumd restarts with a JKS"
wait_port "$TLS_PORT"
HP=127.0.0.1:$TLS_PORT
expect_exit "atriumd serves the JKS: curl verifies" 0 curl -sSf --cacert "$ADMIN/root.pem" "https://$HP/healthz"
expect_exit "atrium logs in" 0 "$ATRIUM" login -u admin --password-stdin "$HP" <<<"$PW"

# --- PEM cert and key (as PostgreSQL takes them) served by openssl s_server
"$ATRIUM" ca issue --dir "$CA" 127.0.0.1 localhost --cert-out "$T/pg.crt" --key-out "$T/pg.key" \
	>/dev/null || not_ok "issue PEM files"
SPORT=$(free_port)
openssl s_server -accept "127.0.0.1:$SPORT" -cert "$T/pg.crt" -key "$T/pg.key" -www -quiet \
	>/dev/null 2>&1 &
_pids+=($!)
wait_port "$SPORT" 10 || not_ok "s_server starts with the PEM files"
expect_exit "openssl verifies s_server's chain by address" 0 bash -c \
	"openssl s_client -connect 127.0.0.1:$SPORT -CAfile '$ADMIN/root.pem' -verify_ip 127.0.0.1 -verify_return_error -brief </dev/null"
expect_exit "atrium certs show trusts it" 0 "$ATRIUM" certs show "127.0.0.1:$SPORT"
expect_match "issued by the root" "$OUT" "Issuer: +CN=Example Corp Root.*Trusted: yes"

finish
