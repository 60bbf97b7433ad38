#!/usr/bin/env bash
# The console's "Log in with your certificate" in headless Chromium, against
# a real atriumd with client_certificates = optional (cert_login.test.js).
#
# The browser presents the client certificate through Playwright's
# clientCertificates (Playwright's own TLS client in front of Chromium), not
# from Chromium's NSS store: Debian's Chromium reads the
# AutoSelectCertificateForUrls policy only from /etc/chromium/policies,
# which a test must not write, and ignores --policy; without that policy a
# certificate in NSS opens a selection dialog that headless Chromium cannot
# answer. docs/client-certificates.md says so.
#
#   tests/run cert_login          (or: bash tests/browser/cert_login.sh)
. "$(dirname "$0")/../integration/lib.sh"

HERE=$ATRIUM_TOP/tests/browser
ART=$ATRIUM_TOP/build/test-artifacts/browser
mkdir -p "$ART"
rm -f "$ART"/cert-login-*.png

missing=""
for tool in node npm openssl curl /usr/bin/chromium; do
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

# A client CA and two users' certificates, made by openssl.
C=$T/certs
mkdir -p "$C"
leaf() { # leaf NAME
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$C/$1.key" \
		-out "$C/$1.csr" -subj "/CN=$1" &&
	printf 'basicConstraints=CA:false\nextendedKeyUsage=clientAuth\n' >"$C/$1.ext" &&
	openssl x509 -req -in "$C/$1.csr" -CA "$C/ca.pem" -CAkey "$C/ca.key" -CAcreateserial \
		-days 10 -extfile "$C/$1.ext" -out "$C/$1.pem"
}
if openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$C/ca.key" \
	-out "$C/ca.pem" -days 30 -subj "/CN=Browser Card CA" 2>>"$T/openssl.log" &&
	leaf alice 2>>"$T/openssl.log" && leaf erin 2>>"$T/openssl.log"; then
	ok "openssl makes the client certificates"
else
	not_ok "openssl makes the client certificates" "$(tail -n 20 "$T/openssl.log")"
	finish
fi

DATA=$T/data
mkdir -p "$DATA"
# No CRL here (cert_login.sh tests revocation): if-available.
printf 'client_certificates = optional\nclient_ca_file = %s\nclient_crl_check = if-available\n' \
	"$C/ca.pem" >"$DATA/atrium.conf"
start_atriumd "$DATA" || { not_ok "atriumd starts"; finish; }
wait_port "$ADMIN_PORT" 30 || { not_ok "the admin port listens" "$(tail -n 20 "$DATA.log")"; finish; }
TOKEN=$(login_token admin "$ATRIUM_ADMIN_PASSWORD")
secret alice-pass-1234
secret erin-pass-1234
api POST /api/v1/users -d '{"name":"alice","password":"alice-pass-1234","role":"admin"}' >/dev/null
api POST /api/v1/users -d '{"name":"erin","password":"erin-pass-1234"}' >/dev/null
unset TOKEN

export ADMIN_PORT SERVER_PID DATA ART T C
NODE_EXTRA_CA_CERTS=$DATA/tls/ca.crt node "$HERE/cert_login.test.js"
rc=$?
[ $rc -eq 0 ] || _failed=1
check "the log names alice's certificate login" grep -q "certificate admin login as 'alice' from 127.0.0.1 (subject CN=alice" "$DATA.log"
if ! kill -0 "$SERVER_PID" 2>/dev/null; then
	not_ok "atriumd is still running after the browser test" "$(tail -n 20 "$DATA.log")"
fi
finish
