#!/usr/bin/env bash
# The console's "Trusted certificates" page in a real browser (Playwright
# and Debian's Chromium, as console.sh): the server's trust store listed,
# imported into from a file and from pasted PEM, an entry removed after
# asking, a chain fetched from openssl s_server and its root trusted, a
# damaged file shown with the server's sentence, and a certificate whose
# subject is HTML shown as text. Screenshots go to
# build/test-artifacts/browser/trust-*.png.
#
#   tests/run browser          (or: bash tests/browser/trust.sh)
. "$(dirname "$0")/../integration/lib.sh"

HERE=$ATRIUM_TOP/tests/browser
ART=$ATRIUM_TOP/build/test-artifacts/browser
mkdir -p "$ART"
rm -f "$ART"/trust-*.png

missing=""
for tool in node npm certutil openssl curl /usr/bin/chromium; do
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
CA=$DATA/tls/ca.crt

# ---- certificates made by openssl -------------------------------------------------
# A CA that signs a receiver's certificate (served by openssl s_server), a
# "corporate root" imported through the API before the page is opened, one
# to import through the page, and one whose CN is an HTML element.
C=$T/certs
mkdir -p "$C"
mkca() { # mkca NAME SUBJECT
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$C/$1.key" \
		-out "$C/$1.pem" -days 30 -subj "$2" \
		-addext basicConstraints=critical,CA:true -addext keyUsage=critical,keyCertSign,cRLSign
}
if mkca recv-ca "/CN=Receiver Test CA" 2>>"$T/openssl.log" &&
	mkca corp "/CN=Corp Root/O=Atrium browser test" 2>>"$T/openssl.log" &&
	mkca upload "/CN=Uploaded Root" 2>>"$T/openssl.log" &&
	mkca hostile "/CN=<img src=x onerror=window.__pwned=1>" 2>>"$T/openssl.log" &&
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$C/leaf.key" \
		-out "$C/leaf.csr" -subj "/CN=receiver.test" 2>>"$T/openssl.log" &&
	printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:false\n' >"$C/leaf.ext" &&
	openssl x509 -req -in "$C/leaf.csr" -CA "$C/recv-ca.pem" -CAkey "$C/recv-ca.key" \
		-CAcreateserial -days 10 -extfile "$C/leaf.ext" -out "$C/leaf.pem" 2>>"$T/openssl.log"; then
	ok "openssl makes the test certificates"
else
	not_ok "openssl makes the test certificates" "$(tail -n 20 "$T/openssl.log")"
	finish
fi
openssl x509 -in "$C/upload.pem" -outform DER -out "$C/upload.der"

SPORT=$(free_port)
openssl s_server -accept "127.0.0.1:$SPORT" -cert "$C/leaf.pem" -key "$C/leaf.key" \
	-cert_chain "$C/recv-ca.pem" -www -quiet >"$T/s_server.out" 2>&1 &
_pids+=($!)
wait_port "$SPORT" 10 || { not_ok "openssl s_server starts" "$(cat "$T/s_server.out")"; finish; }

# ---- one entry imported through the admin API, as atrium admin trust does ---------
TOKEN=$(login_token admin "$ATRIUM_ADMIN_PASSWORD")
body=$(python3 -c 'import json,sys; print(json.dumps({"pem": open(sys.argv[1]).read(), "alias": "corp-root"}))' \
	"$C/corp.pem")
code=$(curl -sS -o "$T/import.json" -w '%{http_code}' --cacert "$CA" \
	-H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d "$body" \
	"https://localhost:$ADMIN_PORT/admin/api/trust")
expect_eq "the API imports corp-root (201)" "$code" 201
unset TOKEN

# ---- the browser ----------------------------------------------------------------------
export ADMIN_PORT SERVER_PID DATA ART T CA C SPORT
node "$HERE/trust.test.js"
rc=$?
[ $rc -eq 0 ] || _failed=1
if ! kill -0 "$SERVER_PID" 2>/dev/null; then
	not_ok "atriumd is still running after the browser test" "$(tail -n 20 "$DATA.log")"
fi
finish
