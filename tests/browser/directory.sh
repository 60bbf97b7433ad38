#!/usr/bin/env bash
# The console's Directory page in a real browser (Playwright and Debian's
# Chromium, as console.sh), against a real slapd started here: the
# settings saved from the form and applied without a restart, the Test
# button explaining an untrusted CA, then (CA trusted) showing the
# certificate, the bind and alice's groups and role, and a directory admin
# logging in to the console through its login form. Screenshots go to
# build/test-artifacts/browser/directory-*.png.
#
#   tests/run browser          (or: bash tests/browser/directory.sh)
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../integration/slapd_lib.sh"

HERE=$ATRIUM_TOP/tests/browser
ART=$ATRIUM_TOP/build/test-artifacts/browser
mkdir -p "$ART"
rm -f "$ART"/directory-*.png

missing=""
for tool in node npm certutil openssl curl /usr/bin/chromium; do
	command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
done
slapd_tools || missing="$missing slapd"
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

slapd_certs || { not_ok "test certificates made"; finish; }
start_slapd A good || { not_ok "slapd starts"; finish; }
ok "slapd starts"

DATA=$T/data
start_atriumd "$DATA" || { not_ok "atriumd starts"; finish; }
wait_port "$ADMIN_PORT" 30 || { not_ok "the admin port listens" "$(tail -n 20 "$DATA.log")"; finish; }
printf '%s\n' "$SVCPW" >"$DATA/directory-bind.pass"
chmod 600 "$DATA/directory-bind.pass"
CA=$DATA/tls/ca.crt

export ADMIN_PORT SERVER_PID DATA ART T CA LDAPS_A SUFFIX ALICEPW
node "$HERE/directory.test.js"
rc=$?
[ $rc -eq 0 ] || _failed=1
if ! kill -0 "$SERVER_PID" 2>/dev/null; then
	not_ok "atriumd is still running after the browser test" "$(tail -n 20 "$DATA.log")"
fi
finish
