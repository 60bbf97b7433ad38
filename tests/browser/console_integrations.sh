#!/usr/bin/env bash
# The console's "Integrations" page in a real browser (Playwright and
# Debian's Chromium, as console.sh): the list with state, pending and last
# delivery; the add form (kinds as checkboxes, the trust choice of store,
# CA file or pin, a client keystore made by openssl) with the secret shown
# once and copied; errors shown next to the field the API names; edit,
# pause, resume, test, rotate and remove; the delivery log with Redeliver
# and a failing receiver's error, against a receiver on 127.0.0.1; a name
# that is HTML shown as text.
# Screenshots go to build/test-artifacts/browser/integrations-*.png.
#
#   tests/run console_integrations   (or: bash tests/browser/console_integrations.sh)
. "$(dirname "$0")/../integration/lib.sh"

HERE=$ATRIUM_TOP/tests/browser
ART=$ATRIUM_TOP/build/test-artifacts/browser
mkdir -p "$ART"
rm -f "$ART"/integrations-*.png

missing=""
for tool in node npm certutil openssl curl python3 /usr/bin/chromium; do
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

# ---- a CA file and a client keystore, made by openssl --------------------------------
C=$T/certs
mkdir -p "$C"
if openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$C/ca.key" \
	-out "$C/ca.pem" -days 30 -subj "/CN=Receiver CA" \
	-addext basicConstraints=critical,CA:true -addext keyUsage=critical,keyCertSign,cRLSign &&
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$C/client.key" \
		-out "$C/client.pem" -days 30 -subj "/CN=atrium-client" &&
	openssl pkcs12 -export -in "$C/client.pem" -inkey "$C/client.key" -name client \
		-passout pass:client-pass-1 -out "$C/client.p12"; then
	ok "openssl makes a CA and a client keystore"
else
	not_ok "openssl makes a CA and a client keystore"
	finish
fi 2>"$T/openssl.log"
secret client-pass-1

# ---- a receiver on 127.0.0.1 that answers 204 and records what it got ------------------
RPORT=$(free_port)
: >"$T/got.jsonl"
python3 - "$RPORT" "$T/got.jsonl" >"$T/receiver.log" 2>&1 <<'PY' &
import http.server, json, sys
port, out = int(sys.argv[1]), sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["content-length"]))
        with open(out, "a") as f:
            f.write(json.dumps({"id": self.headers["webhook-id"], "body": json.loads(body)}) + "\n")
        self.send_response(204)
        self.end_headers()
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
PY
_pids+=($!)
wait_port "$RPORT" 10 || { not_ok "the receiver starts" "$(cat "$T/receiver.log")"; finish; }

# ---- the browser ----------------------------------------------------------------------
export ADMIN_PORT SERVER_PID DATA ART T CA C RPORT
node "$HERE/console_integrations.test.js"
rc=$?
[ $rc -eq 0 ] || _failed=1
for s in $(sed -n 's/^SECRET //p' "$T/secrets.txt" 2>/dev/null); do
	secret "$s"
	check_fails "the secret shown in the page is not in the server's log" grep -qF "$s" "$DATA.log"
done
if ! kill -0 "$SERVER_PID" 2>/dev/null; then
	not_ok "atriumd is still running after the browser test" "$(tail -n 20 "$DATA.log")"
fi
finish
