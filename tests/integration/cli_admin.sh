#!/usr/bin/env bash
# atrium admin against a real atriumd: the console's Server Settings from
# the command line. Status shows the ports and the certificate; a keytool
# keystore with the wrong password is refused with the server's sentence
# and the TLS port keeps its certificate (openssl s_client); with the right
# password it is served at once, same process; several key entries need
# --alias; Use TLS off/on, a port change, a port in use, Clear, the plain
# port; usage errors exit 2; a non-admin and an expired session are told.
. "$(dirname "$0")/lib.sh"

expect_exit() {
	local name=$1 code=$2 rc
	shift 2
	OUT=$("$@" 2>&1)
	rc=$?
	if [ "$rc" -eq "$code" ]; then ok "$name"; else not_ok "$name" "exit $rc, wanted $code: $*" "$OUT"; fi
}

# served_sha256 PORT: the SHA-256 fingerprint of the certificate served there.
served_sha256() {
	openssl s_client -connect "127.0.0.1:$1" </dev/null 2>/dev/null |
		openssl x509 -noout -fingerprint -sha256 2>/dev/null | sed 's/.*=//'
}

file_sha256() {
	openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/.*=//'
}

port_open() {
	(exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null
}

# atriumd as start_atriumd starts it, but with the TLS port in atrium.conf
# instead of --tls-port: a port given on the command line is fixed (the
# API refuses to change it), and this test moves the TLS port.
start_atriumd_conf() {
	local dir=$1
	PORT=$(free_port)
	TLS_PORT=$(free_port)
	ADMIN_PORT=$(free_port)
	: "${ATRIUM_ADMIN_PASSWORD:=admin-secret-1}"
	export ATRIUM_ADMIN_PASSWORD
	mkdir -p "$dir"
	printf 'tls_port = %s\n' "$TLS_PORT" >"$dir/atrium.conf"
	"$ATRIUMD" --data "$dir" --port "$PORT" --admin-port "$ADMIN_PORT" >>"$dir.log" 2>&1 &
	SERVER_PID=$!
	_pids+=("$SERVER_PID")
	wait_port "$PORT" 30 || { sed 's/^/#   /' "$dir.log"; return 1; }
}

DATA=$T/data
start_atriumd_conf "$DATA" || { not_ok "atriumd starts"; finish; }
wait_port "$ADMIN_PORT" 30 || { not_ok "the admin port listens"; finish; }
wait_port "$TLS_PORT" 30 || { not_ok "the TLS port listens"; finish; }
PW=$ATRIUM_ADMIN_PASSWORD
HP=127.0.0.1:$TLS_PORT
AS=(--server "127.0.0.1:$ADMIN_PORT")
ORIGINAL=$(served_sha256 "$TLS_PORT")

# ---- before logging in -----------------------------------------------------------
expect_exit "without a session atrium admin says to log in" 1 "$ATRIUM" admin tls status "${AS[@]}"
expect_match "with the command" "$OUT" "not logged in; run atrium login"

mkdir -p "$ATRIUM_HOME/certs"
cp "$DATA/tls/client/cert.jks" "$DATA/tls/client/cert.pass" "$ATRIUM_HOME/certs/"
expect_exit "log in as admin over TLS" 0 "$ATRIUM" login -u admin --password-stdin "$HP" <<<"$PW"

# ---- status ---------------------------------------------------------------------
expect_exit "tls status" 0 "$ATRIUM" admin tls status "${AS[@]}"
expect_match "shows TLS on with its port" "$OUT" "TLS +on, port $TLS_PORT"
expect_match "that no keystore is uploaded" "$OUT" "Keystore +none uploaded: the local CA's certificate"
expect_match "the plain port open, with the warning" "$OUT" "Plain port +open, port $PORT: unencrypted"
expect_match "the admin port" "$OUT" "Admin port +$ADMIN_PORT"
expect_match "the certificate's issuer, the local CA" "$OUT" "Issuer +CN=Atrium local CA on .*\\(the local CA\\)"
expect_match "its names" "$OUT" "Names .*IP:127\\.0\\.0\\.1"
expect_match "its validity with days left" "$OUT" "Valid +[0-9-]+ [0-9:]+ to [0-9-]+ [0-9:]+ \\([0-9]+ days left\\)"
expect_match "and the fingerprint openssl sees" "$OUT" "SHA-256 +$ORIGINAL"
expect_exit "tls status --json" 0 "$ATRIUM" admin tls status --json "${AS[@]}"
expect_eq "prints the server's settings" "$(json_get "$OUT" 'j["tls"]["port"], j["admin_port"]')" \
	"($TLS_PORT, $ADMIN_PORT)"
NOPORT=$(free_port)
expect_exit "a console that does not answer is an error" 1 \
	"$ATRIUM" admin tls status --server "127.0.0.1:$NOPORT"
expect_match "naming where it looked" "$OUT" "127\\.0\\.0\\.1:$NOPORT"
expect_exit "without --server it finds the console on the admin port the server lists" 0 \
	"$ATRIUM" admin tls status
expect_match "not on 8443" "$OUT" "Admin port +$ADMIN_PORT"

# ---- keystores made by Java's keytool ------------------------------------------------
KS=$T/ks
KSPASS=keystore-pass-1
mkdir -p "$KS"
kt() { keytool "$@" >>"$T/keytool.log" 2>&1; }
# issue STORE TYPE ALIAS: a key pair whose certificate the local CA signs
# (standing in for a company CA), so this client keeps trusting the server.
issue() {
	local store=$1 type=$2 alias=$3
	kt -genkeypair -alias "$alias" -keyalg RSA -keysize 2048 -validity 365 \
		-dname "CN=localhost, OU=$alias, O=Atrium CLI test" -ext "SAN=dns:localhost,ip:127.0.0.1" \
		-keystore "$store" -storetype "$type" -storepass "$KSPASS" -keypass "$KSPASS" &&
	kt -certreq -alias "$alias" -keystore "$store" -storepass "$KSPASS" -file "$KS/$alias.csr" &&
	kt -gencert -alias atrium-ca -keystore "$KS/ca.p12" -storetype PKCS12 -storepass ca-pass-1 \
		-infile "$KS/$alias.csr" -outfile "$KS/$alias.crt" -rfc -validity 365 \
		-ext "SAN=dns:localhost,ip:127.0.0.1" -ext "KU=digitalSignature,keyEncipherment" \
		-ext "EKU=serverAuth" &&
	{ keytool -list -alias atrium-ca -keystore "$store" -storepass "$KSPASS" >/dev/null 2>&1 ||
		kt -importcert -noprompt -alias atrium-ca -file "$DATA/tls/ca.crt" -keystore "$store" \
			-storepass "$KSPASS"; } &&
	kt -importcert -alias "$alias" -file "$KS/$alias.crt" -keystore "$store" -storepass "$KSPASS"
}
if openssl pkcs12 -export -in "$DATA/tls/ca.crt" -inkey "$DATA/tls/ca.key" -name atrium-ca \
	-out "$KS/ca.p12" -passout pass:ca-pass-1 2>>"$T/keytool.log" &&
	issue "$KS/server.jks" JKS mydomain && issue "$KS/multi.p12" PKCS12 blue &&
	issue "$KS/multi.p12" PKCS12 green; then
	ok "keytool makes the keystores"
else
	not_ok "keytool makes the keystores" "$(tail -n 20 "$T/keytool.log")"
	finish
fi
printf '%s\n' "$KSPASS" >"$KS/right.pass"
printf 'not-the-password\n' >"$KS/wrong.pass"
MYDOMAIN=$(file_sha256 "$KS/mydomain.crt")
GREEN=$(file_sha256 "$KS/green.crt")

# ---- upload --------------------------------------------------------------------------
expect_exit "upload with the wrong password fails" 1 "$ATRIUM" admin tls upload \
	--keystore "$KS/server.jks" --storepass-file "$KS/wrong.pass" "${AS[@]}"
expect_match "printing the server's sentence about the password" "$OUT" "^atrium: .*password"
expect_match "and that nothing changed" "$OUT" "Nothing was changed"
expect_eq "openssl s_client still sees the old certificate" "$(served_sha256 "$TLS_PORT")" "$ORIGINAL"

echo "This is not a keystore." >"$KS/notes.txt"
expect_exit "a file that is not a keystore is refused" 1 "$ATRIUM" admin tls upload \
	--keystore "$KS/notes.txt" --storepass-file "$KS/right.pass" "${AS[@]}"
expect_match "with a sentence" "$OUT" "^atrium: "
head -c 1100000 /dev/zero >"$KS/big.bin"
expect_exit "a file over 1 MiB is refused before sending" 1 "$ATRIUM" admin tls upload \
	--keystore "$KS/big.bin" --storepass-file "$KS/right.pass" "${AS[@]}"
expect_match "saying so" "$OUT" "larger than 1 MiB"

expect_exit "upload a keytool JKS with the right password" 0 "$ATRIUM" admin tls upload \
	--keystore "$KS/server.jks" --storepass-file "$KS/right.pass" "${AS[@]}"
expect_match "it says what the TLS port serves now" "$OUT" "TLS is on: port $TLS_PORT serves .*localhost"
expect_match "and the fingerprint" "$OUT" "SHA-256 fingerprint: $MYDOMAIN"
expect_eq "openssl s_client sees the new certificate without a restart" "$(served_sha256 "$TLS_PORT")" "$MYDOMAIN"
check "atriumd is the same process" kill -0 "$SERVER_PID"
expect_exit "status after the upload" 0 "$ATRIUM" admin tls status "${AS[@]}"
expect_match "names the keystore in use" "$OUT" "Keystore +[^ ]+ \\(JKS, alias mydomain\\)"
expect_eq "the keystore password is not in atrium.conf" \
	"$(grep -c -- "$KSPASS" "$DATA/atrium.conf" 2>/dev/null || true)" 0
if [ -f "$DATA/tls/keystore.pass" ]; then
	expect_eq "it is kept in tls/keystore.pass, mode 0600" "$(stat -c %a "$DATA/tls/keystore.pass")" 600
fi
expect_match "the server logs who uploaded it" "$(grep -i "admin 'admin'" "$DATA.log" | tail -n 5)" \
	"admin 'admin' from 127\\.0\\.0\\.1: .*keystore"

expect_exit "a keystore with two key entries needs an alias" 1 "$ATRIUM" admin tls upload \
	--keystore "$KS/multi.p12" --storepass-file "$KS/right.pass" "${AS[@]}"
expect_match "the entries are listed" "$OUT" "Key entries in .*multi\\.p12: (blue, green|green, blue)"
expect_match "with how to choose" "$OUT" "Choose one with --alias NAME"
expect_eq "the certificate did not change" "$(served_sha256 "$TLS_PORT")" "$MYDOMAIN"
expect_exit "an alias the keystore does not hold is refused" 1 "$ATRIUM" admin tls upload \
	--keystore "$KS/multi.p12" --alias purple --storepass-file "$KS/right.pass" "${AS[@]}"
expect_match "saying that nothing changed (whatever the refusal's status)" "$OUT" "Nothing was changed"
expect_eq "and the certificate did not change" "$(served_sha256 "$TLS_PORT")" "$MYDOMAIN"
expect_exit "--alias green, password asked (here on standard input)" 0 "$ATRIUM" admin tls upload \
	--keystore "$KS/multi.p12" --alias green "${AS[@]}" <<<"$KSPASS"
expect_eq "serves green's certificate" "$(served_sha256 "$TLS_PORT")" "$GREEN"

# ---- ports -------------------------------------------------------------------------------
expect_exit "enable on a port in use fails" 1 "$ATRIUM" admin tls enable --port "$PORT" "${AS[@]}"
expect_match "saying the port is in use" "$OUT" "^atrium: .*$PORT"
expect_eq "the TLS port keeps its certificate" "$(served_sha256 "$TLS_PORT")" "$GREEN"
NEWPORT=$(free_port)
expect_exit "enable --port moves TLS to another port" 0 "$ATRIUM" admin tls enable --port "$NEWPORT" "${AS[@]}"
expect_eq "the new port serves the certificate at once" "$(served_sha256 "$NEWPORT")" "$GREEN"
check_fails "and the old one is closed" port_open "$TLS_PORT"
expect_exit "and back" 0 "$ATRIUM" admin tls enable --port "$TLS_PORT" "${AS[@]}"
expect_eq "serves on the first port again" "$(served_sha256 "$TLS_PORT")" "$GREEN"
expect_exit "disable" 0 "$ATRIUM" admin tls disable "${AS[@]}"
expect_eq "says TLS is off" "$OUT" "TLS is off: port $TLS_PORT is closed."
check_fails "the TLS port is closed at once" port_open "$TLS_PORT"
expect_exit "enable" 0 "$ATRIUM" admin tls enable "${AS[@]}"
check "the TLS port is open again" port_open "$TLS_PORT"

expect_exit "clear" 0 "$ATRIUM" admin tls clear "${AS[@]}"
expect_match "says the keystore is removed" "$OUT" "The uploaded keystore is removed"
expect_eq "the local CA's certificate is served again" "$(served_sha256 "$TLS_PORT")" "$ORIGINAL"

expect_exit "plain off" 0 "$ATRIUM" admin plain off "${AS[@]}"
expect_eq "says the plain port is closed" "$OUT" \
	"The plain port $PORT is closed: only TLS connections are accepted."
check_fails "the plain port is closed at once" port_open "$PORT"
expect_exit "status shows it closed" 0 "$ATRIUM" admin tls status "${AS[@]}"
expect_match "as closed" "$OUT" "Plain port +closed \\(port $PORT\\)"
expect_exit "plain on" 0 "$ATRIUM" admin plain on "${AS[@]}"
expect_match "says it is open and unencrypted" "$OUT" "The plain port $PORT is open. It is not encrypted"
check "the plain port accepts connections again" port_open "$PORT"

# ---- usage ------------------------------------------------------------------------------------
expect_exit "admin --help" 0 "$ATRIUM" admin --help
expect_match "lists tls and plain" "$OUT" "tls .*plain"
expect_exit "admin tls upload --help" 0 "$ATRIUM" admin tls upload --help
expect_match "documents --storepass-file" "$OUT" "--storepass-file F"
expect_exit "plain without on|off is a usage error" 2 "$ATRIUM" admin plain maybe "${AS[@]}"
expect_exit "upload without --keystore is a usage error" 2 "$ATRIUM" admin tls upload "${AS[@]}"
expect_exit "a port out of range is a usage error" 2 "$ATRIUM" admin tls enable --port 70000 "${AS[@]}"
expect_exit "an http:// console is a usage error" 2 "$ATRIUM" admin tls status --server "http://127.0.0.1:$ADMIN_PORT"
expect_match "saying the console speaks HTTPS only" "$OUT" "HTTPS only"
expect_exit "an unknown subcommand is a usage error" 2 "$ATRIUM" admin tls frobnicate

# ---- who may ------------------------------------------------------------------------------------
expect_exit "add a user without the admin role" 0 "$ATRIUM" user add bob --password-stdin <<<"bob-pass-12"
expect_exit "bob logs in" 0 env ATRIUM_HOME="$T/bob" bash -c \
	"mkdir -p '$T/bob/certs' && cp '$ATRIUM_HOME/certs/'* '$T/bob/certs/' && '$ATRIUM' login -u bob --password-stdin '$HP' <<<'bob-pass-12'"
expect_exit "a non-admin is refused" 1 env ATRIUM_HOME="$T/bob" "$ATRIUM" admin tls status "${AS[@]}"
expect_match "with the server's sentence about admins" "$OUT" "^atrium: .*admin"
python3 - "$ATRIUM_HOME/session.json" <<'EOF'
import json, sys
p = sys.argv[1]
s = json.load(open(p))
s["token"] = "0" * 64
json.dump(s, open(p, "w"))
EOF
expect_exit "an expired session is told" 1 "$ATRIUM" admin tls status "${AS[@]}"
expect_eq "with the login to run again" "$OUT" "atrium: your session has expired; run atrium login $HP"

finish
