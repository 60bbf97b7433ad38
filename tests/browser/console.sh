#!/usr/bin/env bash
# The admin console in a real browser: Playwright (playwright-core from npm)
# drives Debian's headless Chromium against a real atriumd. Keystores are
# made by Java's keytool; openssl s_client checks between steps which
# certificate the TLS port really serves. Screenshots of every page go to
# build/test-artifacts/browser/.
#
#   tests/run console          (or: bash tests/browser/console.sh)
#
# Steps and their checks are in console.test.js; this script installs the
# node module when it is missing, starts atriumd, makes the keystores and
# the project data, and checks the admin port's HTTP behaviour with curl.
. "$(dirname "$0")/../integration/lib.sh"

HERE=$ATRIUM_TOP/tests/browser
ART=$ATRIUM_TOP/build/test-artifacts/browser
mkdir -p "$ART"
rm -f "$ART"/*.png

missing=""
for tool in node npm keytool certutil openssl curl /usr/bin/chromium; do
	command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
done
if [ -n "$missing" ]; then
	not_ok "the browser test's tools are installed" "missing:$missing (run scripts/install-deps)"
	finish
fi
if [ ! -f "$HERE/node_modules/playwright-core/package.json" ]; then
	if (cd "$HERE" && npm ci --no-audit --no-fund) >"$T/npm.log" 2>&1; then
		ok "npm ci installs playwright-core"
	else
		not_ok "npm ci installs playwright-core" "$(tail -n 20 "$T/npm.log")"
		finish
	fi
fi

DATA=$T/data
start_atriumd "$DATA" || { not_ok "atriumd starts"; finish; }
wait_port "$ADMIN_PORT" 30 || { not_ok "the admin port listens" "$(tail -n 20 "$DATA.log")"; finish; }
wait_port "$TLS_PORT" 30 || { not_ok "the TLS port listens"; finish; }
CA=$DATA/tls/ca.crt

# ---- the admin port over HTTP, as curl sees it ---------------------------
hdr=$(curl -sS --cacert "$CA" -D - -o /dev/null "https://localhost:$ADMIN_PORT/" 2>&1)
expect_match "the console answers over HTTPS, verified with the local CA" "$hdr" '^HTTP/[0-9.]+ 200'
expect_match "with HSTS" "$hdr" $'\n[Ss]trict-[Tt]ransport-[Ss]ecurity: max-age=[0-9]+'
expect_match "with a Content-Security-Policy of default-src 'self'" "$hdr" \
	$'\n[Cc]ontent-[Ss]ecurity-[Pp]olicy: [^\r]*default-src .self.'
expect_match "that forbids framing" "$hdr" "frame-ancestors 'none'"
expect_match "and X-Content-Type-Options: nosniff" "$hdr" $'\n[Xx]-[Cc]ontent-[Tt]ype-[Oo]ptions: nosniff'
code=$(curl -sS -o "$T/plain.out" -D "$T/plain.hdr" -w '%{http_code}' --max-time 5 \
	"http://127.0.0.1:$ADMIN_PORT/" 2>"$T/plain.err")
case "$code" in
3??) expect_match "plain HTTP on the admin port is redirected to HTTPS" "$(cat "$T/plain.hdr")" \
	$'\n[Ll]ocation: https://' ;;
4??) ok "plain HTTP on the admin port is refused ($code)" ;;
*) not_ok "plain HTTP on the admin port gets a redirect or a clear refusal" "status $code" \
	"$(cat "$T/plain.err" "$T/plain.out" 2>/dev/null | head -c 300)" ;;
esac

# ---- keystores made by Java's keytool ---------------------------------------
# The local CA plays "your company's CA": its key, in a PKCS#12 for
# keytool -gencert, signs the keytool key pairs, so a browser that trusts
# the local CA keeps trusting the console after each upload.
KS=$T/keystores
KSPASS=keystore-pass-1
mkdir -p "$KS"
kt() {
	echo "+ keytool $*" >>"$T/keytool.log"
	keytool "$@" >>"$T/keytool.log" 2>&1
}
# issue STORE TYPE ALIAS [SAN] [PASSWORD]: a key pair in STORE, its certificate
# signed by the local CA, for localhost and 127.0.0.1 unless SAN says otherwise.
issue() {
	local store=$1 type=$2 alias=$3 san=${4:-dns:localhost,ip:127.0.0.1} pass=${5:-$KSPASS}
	kt -genkeypair -alias "$alias" -keyalg RSA -keysize 2048 -validity 365 \
		-dname "CN=localhost, OU=$alias, O=Atrium browser test" \
		-ext "SAN=$san" \
		-keystore "$store" -storetype "$type" -storepass "$pass" -keypass "$pass" &&
	kt -certreq -alias "$alias" -keystore "$store" -storepass "$pass" -file "$KS/$alias.csr" &&
	kt -gencert -alias atrium-ca -keystore "$KS/ca.p12" -storetype PKCS12 -storepass ca-pass-1 \
		-infile "$KS/$alias.csr" -outfile "$KS/$alias.crt" -rfc -validity 365 \
		-ext "SAN=$san" -ext "KU=digitalSignature,keyEncipherment" \
		-ext "EKU=serverAuth" &&
	{ keytool -list -alias atrium-ca -keystore "$store" -storepass "$pass" >/dev/null 2>&1 ||
		kt -importcert -noprompt -alias atrium-ca -file "$CA" -keystore "$store" \
			-storepass "$pass"; } &&
	kt -importcert -alias "$alias" -file "$KS/$alias.crt" -keystore "$store" -storepass "$pass"
}
if openssl pkcs12 -export -in "$CA" -inkey "$DATA/tls/ca.key" -name atrium-ca \
	-out "$KS/ca.p12" -passout pass:ca-pass-1 2>>"$T/keytool.log" &&
	issue "$KS/server.jks" JKS mydomain &&
	issue "$KS/multi.p12" PKCS12 blue &&
	issue "$KS/multi.p12" PKCS12 green &&
	issue "$KS/misnamed.p12" PKCS12 misnamed dns:atrium.example.org &&
	issue "$KS/keystore.p12" PKCS12 teamworkcloud dns:localhost,ip:127.0.0.1 changeit; then
	ok "keytool makes a JKS keystore, a PKCS#12 one with two key entries, a misnamed one and one under 'changeit'"
else
	not_ok "keytool makes the test keystores" "$(tail -n 20 "$T/keytool.log")"
	finish
fi
echo "This is a text file, not a keystore." >"$KS/notes.txt"

# ---- a project with two revisions, for the Projects page -------------------
TOKEN=$(login_token admin "$ATRIUM_ADMIN_PASSWORD")
api POST /api/v1/projects -d '{"name":"plant"}' >/dev/null
head -c 150000 /dev/urandom >"$T/v1"
head -c 2500000 /dev/urandom >"$T/v2"
api POST "/api/v1/projects/plant/revisions?base=0&message=first%20cut" --data-binary @"$T/v1" >/dev/null
api POST "/api/v1/projects/plant/revisions?base=1&message=pumps%20added" --data-binary @"$T/v2" >/dev/null
unset TOKEN

# ---- the browser ------------------------------------------------------------------
export ADMIN_PORT TLS_PORT PORT SERVER_PID DATA KS KSPASS ART T CA
node "$HERE/console.test.js"
rc=$?
[ $rc -eq 0 ] || _failed=1
if ! kill -0 "$SERVER_PID" 2>/dev/null; then
	not_ok "atriumd is still running after the browser test" "$(tail -n 20 "$DATA.log")"
fi
finish
