#!/usr/bin/env bash
# The Server Certificates tool against a real atriumd and files made by real
# tools: certs trust asks on a terminal (yes and no), certs import reads
# PEM (bundles), DER, PKCS#7, JKS (with its cert.pass found beside it) and
# PKCS#12 (openssl's, with --storepass-file), skips what is trusted already
# and never overwrites an alias; list shows every source; remove forgets;
# keytool reads the trust store atrium writes.
. "$(dirname "$0")/lib.sh"

expect_exit() {
	local name=$1 code=$2 rc
	shift 2
	OUT=$("$@" 2>&1)
	rc=$?
	if [ "$rc" -eq "$code" ]; then ok "$name"; else not_ok "$name" "exit $rc, wanted $code: $*" "$OUT"; fi
}

# aliases: the aliases keytool lists in the client's trust store.
aliases() {
	keytool -list -keystore "$ATRIUM_HOME/certs/cert.jks" \
		-storepass "$(cat "$ATRIUM_HOME/certs/cert.pass")" 2>/dev/null |
		sed -n 's/^\([^,]*\), .*trustedCertEntry.*/\1/p' | sort | tr '\n' ' '
}

DATA=$T/data
start_atriumd "$DATA" || { not_ok "atriumd starts"; finish; }
wait_port "$TLS_PORT"
HP=127.0.0.1:$TLS_PORT
PW=$ATRIUM_ADMIN_PASSWORD
LEAF_FP=$(openssl s_client -connect "$HP" </dev/null 2>/dev/null |
	openssl x509 -noout -fingerprint -sha256 | sed 's/.*=//')

expect_exit "certs list with nothing trusted" 0 "$ATRIUM" certs list
expect_match "says how to add" "$OUT" "Nothing is trusted through $ATRIUM_HOME/certs yet"
expect_match "and names the system store" "$OUT" "The system's trusted roots \\(.*\\) are trusted too"
expect_exit "certs remove without a store" 1 "$ATRIUM" certs remove x
expect_match "says there is none" "$OUT" "there is no trust store .*cert.jks yet"
expect_exit "certs show on the plain port" 1 "$ATRIUM" certs show "127.0.0.1:$PORT"
expect_match "says it speaks plain HTTP" "$OUT" "127.0.0.1:$PORT speaks plain HTTP, not TLS"
expect_exit "certs show of an http:// address is a usage error" 2 "$ATRIUM" certs show "http://$HP"

# --- certs trust on a terminal: the question, "n", then "y"
if command -v script >/dev/null 2>&1; then
	OUT=$(printf 'n\n' | script -qec "'$ATRIUM' certs trust $HP; echo rc=\$?" /dev/null 2>&1)
	expect_match "it asks on the terminal" "$OUT" "Trust this certificate for $HP and every certificate it issues\\? \\[y/N\\]"
	expect_match "showing the fingerprint first" "$OUT" "SHA-256: +$LEAF_FP"
	expect_match "no: nothing is trusted (exit 1)" "$OUT" "Nothing was trusted.*rc=1"
	expect_eq "no trust store was made" "$(ls "$ATRIUM_HOME/certs" 2>/dev/null)" ""
	OUT=$(printf 'y\n' | script -qec "'$ATRIUM' certs trust $HP; echo rc=\$?" /dev/null 2>&1)
	expect_match "yes: trusted" "$OUT" "Trusted $HP: added CN=.*rc=0"
	expect_match "pinning the root the server sent, so renewals pass" "$OUT" "Trusted $HP: added CN=Atrium local CA"
	expect_eq "cert.pass is mode 0600" "$(stat -c %a "$ATRIUM_HOME/certs/cert.pass")" 600
	expect_eq "cert.jks is mode 0600" "$(stat -c %a "$ATRIUM_HOME/certs/cert.jks")" 600
	expect_eq "the folder is mode 0700" "$(stat -c %a "$ATRIUM_HOME/certs")" 700
	expect_eq "keytool lists the entry" "$(aliases)" "$HP "
	expect_exit "login now works" 0 "$ATRIUM" login -u admin --password-stdin "$HP" <<<"$PW"
	"$ATRIUM" certs remove "$HP" >/dev/null || not_ok "remove"
else
	echo "# script(1) missing: terminal prompts not tested"
fi

# --- certs import: every format, the real tools' files
CA=$DATA/tls/ca.crt
expect_exit "import the server's ca.crt (PEM)" 0 "$ATRIUM" certs import "$CA"
expect_match "named after its CN" "$OUT" "Trusted 'atrium-local-ca-on-"
expect_exit "then login works" 0 "$ATRIUM" login -u admin --password-stdin "$HP" <<<"$PW"
expect_exit "importing it again" 0 "$ATRIUM" certs import "$CA"
expect_match "is skipped" "$OUT" "is trusted already \\(alias atrium-local-ca-on-"

"$ATRIUM" ca init --dir "$T/ca1" --cn "Root One" >/dev/null 2>&1 || not_ok "ca1"
"$ATRIUM" ca init --dir "$T/ca2" --cn "Root Two" --keyalg RSA >/dev/null 2>&1 || not_ok "ca2"
"$ATRIUM" ca init --dir "$T/ca3" --cn "Root Three" >/dev/null 2>&1 || not_ok "ca3"
"$ATRIUM" ca init --dir "$T/ca4" --cn "Root Four" >/dev/null 2>&1 || not_ok "ca4"
openssl x509 -in "$T/ca1/ca.crt" -outform DER -out "$T/one.der"
expect_exit "import DER (made by openssl)" 0 "$ATRIUM" certs import "$T/one.der" --alias first
expect_match "with the alias given" "$OUT" "Trusted 'first': CN=Root One"
cat "$T/ca2/ca.crt" "$T/ca3/ca.crt" >"$T/bundle.pem"
expect_exit "import a PEM bundle" 0 "$ATRIUM" certs import "$T/bundle.pem" --alias team
expect_match "both, numbered" "$OUT" "Trusted 'team'.*Trusted 'team-2'"
openssl crl2pkcs7 -nocrl -certfile "$T/ca4/ca.crt" -out "$T/four.p7b" 2>/dev/null
expect_exit "import PKCS#7 (openssl crl2pkcs7)" 0 "$ATRIUM" certs import "$T/four.p7b" --alias first
expect_match "an alias in use is not overwritten" "$OUT" "Trusted 'first-2': CN=Root Four"
expect_eq "keytool sees them all" "$(aliases)" \
	"atrium-local-ca-on-$(hostname | tr 'A-Z' 'a-z') first first-2 team team-2 "

# JKS: keytool's own, its password in NAME.pass beside it (as cert.jks has cert.pass).
"$ATRIUM" ca init --dir "$T/ca5" --cn "Root Five" >/dev/null 2>&1 || not_ok "ca5"
keytool -importcert -noprompt -alias five -file "$T/ca5/ca.crt" -keystore "$T/kt/trust.jks" \
	-storetype JKS -storepass five-pass >/dev/null 2>&1 || { mkdir -p "$T/kt" &&
	keytool -importcert -noprompt -alias five -file "$T/ca5/ca.crt" -keystore "$T/kt/trust.jks" \
		-storetype JKS -storepass five-pass >/dev/null 2>&1; } || not_ok "keytool makes a JKS"
echo five-pass >"$T/kt/trust.pass"
expect_exit "import keytool's JKS with trust.pass beside it" 0 "$ATRIUM" certs import "$T/kt/trust.jks"
expect_match "keeping its alias" "$OUT" "Trusted 'five': CN=Root Five"
echo wrong >"$T/wrong.pass"
expect_exit "a wrong --storepass-file fails" 1 "$ATRIUM" certs import "$T/kt/trust.jks" --storepass-file "$T/wrong.pass"
expect_match "saying so" "$OUT" "password"

# PKCS#12: openssl's, a key entry's chain root is what is trusted.
"$ATRIUM" ca init --dir "$T/ca6" --cn "Root Six" >/dev/null 2>&1 || not_ok "ca6"
"$ATRIUM" ca issue --dir "$T/ca6" six.example --cert-out "$T/six.crt" --key-out "$T/six.key" \
	>/dev/null 2>&1 || not_ok "issue six"
openssl pkcs12 -export -in "$T/six.crt" -inkey "$T/six.key" -name six -passout pass:six-pass \
	-out "$T/six.p12" 2>/dev/null || not_ok "openssl pkcs12 -export"
echo six-pass >"$T/p12pass.txt"
expect_exit "a PKCS#12 without its password and no terminal" 2 "$ATRIUM" certs import "$T/six.p12" </dev/null
expect_match "asks for --storepass-file" "$OUT" "give its password with --storepass-file"
expect_exit "import PKCS#12 with --storepass-file" 0 "$ATRIUM" certs import "$T/six.p12" --storepass-file "$T/p12pass.txt"
expect_match "the root of the key's chain" "$OUT" "Trusted 'six': CN=Root Six"

# The server's whole client bundle, imported as it is (cert.pass beside cert.jks).
"$ATRIUM" certs remove "atrium-local-ca-on-$(hostname | tr 'A-Z' 'a-z')" >/dev/null ||
	not_ok "remove the imported local CA"
expect_exit "import the client bundle's cert.jks" 0 "$ATRIUM" certs import "$DATA/tls/client/cert.jks"
expect_match "its entry" "$OUT" "Trusted 'atrium-local-ca'"

expect_exit "a file that is no certificate" 1 "$ATRIUM" certs import "$T/p12pass.txt"
expect_match "is named" "$OUT" "p12pass.txt"
expect_exit "a missing file" 1 "$ATRIUM" certs import "$T/nope.pem"

# --- list and remove
expect_exit "certs list" 0 "$ATRIUM" certs list
expect_match "shows the store" "$OUT" "Trusted through $ATRIUM_HOME/certs:"
expect_match "a table" "$OUT" "ALIAS +SUBJECT +VALID UNTIL +SHA-256"
expect_match "with the entries" "$OUT" "team-2 +CN=Root Three"
expect_match "and fingerprints" "$OUT" "$(openssl x509 -in "$T/ca1/ca.crt" -noout -fingerprint -sha256 | sed 's/.*=//')"
expect_exit "certs remove" 0 "$ATRIUM" certs remove atrium-local-ca
expect_match "says what it removed" "$OUT" "Removed 'atrium-local-ca' \\(CN=Atrium local CA on"
expect_exit "then the server is no longer trusted" 1 "$ATRIUM" project list
expect_match "and the client says it changed" "$OUT" "WARNING: the certificate of $HP has changed|is not trusted"
expect_exit "removing it twice" 1 "$ATRIUM" certs remove atrium-local-ca
expect_match "says there is no such entry" "$OUT" "has no entry 'atrium-local-ca'; atrium certs list shows them"

# A certs folder beside the executable is listed too.
mkdir -p "$T/app/certs"
cp "$ATRIUM" "$T/app/atrium"
cp "$CA" "$T/app/certs/site-root.crt"
expect_exit "list with a folder beside the executable" 0 "$T/app/atrium" certs list
expect_match "shows it" "$OUT" "Trusted through $T/app/certs:.*site-root.crt +CN=Atrium local CA"

finish
