#!/usr/bin/env bash
# The data directory and every secret in it are private to atriumd's user:
# made so on first start, fixed (with a warning) when someone loosened
# them, and a password file readable by everyone is refused.
. "$(dirname "$0")/lib.sh"

D=$T/data
mode() { stat -c %a "$1"; }

start_atriumd "$D" || exit 1
stop_atriumd
expect_eq "a new data directory is 0700" "$(mode "$D")" 700
for f in atrium.conf atrium.db tls/ca.key tls/server.p12 tls/server.pass tls/client/cert.pass; do
	expect_eq "$f is 0600" "$(mode "$D/$f")" 600
done
expect_eq "blobs/ is 0700" "$(mode "$D/blobs")" 700

# Someone loosened everything: the next start puts it back and says so.
chmod 755 "$D" "$D/tls" "$D/blobs"
chmod 644 "$D/atrium.conf" "$D/atrium.db" "$D/tls/ca.key" "$D/tls/server.pass"
start_atriumd "$D" || exit 1
expect_eq "the data directory is back to 0700" "$(mode "$D")" 700
expect_eq "tls/ is back to 0700" "$(mode "$D/tls")" 700
expect_eq "blobs/ is back to 0700" "$(mode "$D/blobs")" 700
for f in atrium.conf atrium.db tls/ca.key tls/server.pass; do
	expect_eq "$f is back to 0600" "$(mode "$D/$f")" 600
done
expect_match "the fix is logged with the old mode" "$(cat "$D.log")" \
	"tls/ca.key was open to other users \(mode 0644\); set to 0600"
expect_match "the server still works" "$(curl -s "$BASE/healthz")" '"status":"ok"'
stop_atriumd

# A keystore password file outside the data directory is not ours to fix.
keytool -genkeypair -alias srv -keyalg EC -keystore "$T/own.p12" -storetype PKCS12 \
	-storepass own-store-pass -dname "CN=localhost" -ext "SAN=dns:localhost,ip:127.0.0.1" \
	-validity 30 -noprompt >/dev/null 2>&1
check "keytool made own.p12" test -s "$T/own.p12"
secret own-store-pass
echo own-store-pass >"$T/own.pass"
chmod 644 "$T/own.pass" "$T/own.p12"
cat >>"$D/atrium.conf" <<CONF
tls_keystore = $T/own.p12
tls_keystore_password_file = $T/own.pass
CONF
: >"$D.log"
"$ATRIUMD" --data "$D" --port "$(free_port)" --tls-port "$(free_port)" --admin-port "$(free_port)" \
	>"$T/refused.log" 2>&1 &
pid=$!
_pids+=("$pid")
for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$pid" 2>/dev/null; then
	not_ok "a world-readable password file is refused"
	kill "$pid"
else
	wait "$pid"
	expect_eq "a world-readable password file is refused (exit 1)" "$?" 1
fi
expect_match "... with the command that fixes it" "$(cat "$T/refused.log")" \
	"tls_keystore_password_file $T/own.pass can be read by every user .*chmod 600 $T/own.pass"
expect_eq "the refused file was left as it was" "$(mode "$T/own.pass")" 644

chmod 600 "$T/own.pass"
start_atriumd "$D" || exit 1
expect_match "with the password file private, the server starts on its keystore" \
	"$(curl -s --cacert /dev/null -k "https://127.0.0.1:$TLS_PORT/healthz")" '"status":"ok"'
expect_match "a keystore readable by everyone is started with a warning" "$(cat "$D.log")" \
	"tls_keystore $T/own.p12 can be read by other users \(mode 0644\)"
stop_atriumd
finish
