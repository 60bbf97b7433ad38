#!/usr/bin/env bash
# atriumd --config FILE: the settings file outside the data directory, as
# the packaged service keeps it (/etc/atrium/atrium.conf). Defaults written
# on the first start, read on SIGHUP, saved to by the console (comments,
# mode and group kept), found by check and backup, put back by restore.
. "$(dirname "$0")/lib.sh"

ETC=$T/etc
D=$T/data
CONF=$ETC/atrium.conf
mkdir -p "$ETC"

# A file whose directory does not exist: a sentence, not a start.
out=$("$ATRIUMD" --config "$T/missing/atrium.conf" --data "$T/d0" --port "$(free_port)" 2>&1); rc=$?
expect_eq "a --config file in a missing directory stops the start" "$rc" 1
expect_match "saying the directory does not exist and what to do" "$out" \
	"directory $T/missing does not exist.*give --config a file in an existing directory"

# First start: the documented defaults go to FILE, not to DIR.
start_atriumd "$D" --config "$CONF" || { not_ok "atriumd starts with --config"; finish; }
stop_atriumd
check "the first start writes the defaults to the --config file" grep -q '^#port = 3579' "$CONF"
expect_eq "mode 0600" "$(stat -c %a "$CONF")" 600
check "and nothing to DIR/atrium.conf" test ! -e "$D/atrium.conf"
expect_match "the log names the file" "$(cat "$D.log")" "settings in $CONF"

# Ports in the file (flags would fix them), a comment of the
# administrator's, another group and mode 0640.
PORT=$(free_port) TLS_PORT=$(free_port) ADMIN_PORT=$(free_port)
{
	echo "# ports of this test server: keep this comment"
	echo "port = $PORT"
	echo "tls_port = $TLS_PORT"
	echo "admin_port = $ADMIN_PORT"
} >>"$CONF"
chmod 0640 "$CONF"
group=$(getent group daemon >/dev/null && echo daemon || id -gn)
chgrp "$group" "$CONF" 2>/dev/null || group=$(stat -c %G "$CONF")
out=$("$ATRIUMD" --config "$CONF" --data "$D" --print-config)
expect_match "--print-config reads the --config file" "$out" "tls_port = $TLS_PORT"
out=$("$ATRIUMD" --config "$CONF" --data "$D" --check-config)
expect_match "--check-config names the file it checked" "$out" "valid \\($CONF\\)"

"$ATRIUMD" --config "$CONF" --data "$D" >>"$D.log" 2>&1 &
SERVER_PID=$!
_pids+=("$SERVER_PID")
wait_port "$PORT" 30 && wait_port "$ADMIN_PORT" 30 || { not_ok "atriumd serves the ports of the file"; finish; }
ok "atriumd serves the ports of the --config file"
BASE=http://127.0.0.1:$PORT

# A setting changed in the file is used after SIGHUP.
NEW_TLS=$(free_port)
sed -i "s/^tls_port = .*/tls_port = $NEW_TLS/" "$CONF"
kill -HUP "$SERVER_PID"
check "after SIGHUP the TLS port of the file listens" wait_port "$NEW_TLS" 10
TLS_PORT=$NEW_TLS

# The console's Save writes back to that file.
TOKEN=$(login_token admin "$ATRIUM_ADMIN_PASSWORD")
b() { curl -sS --cacert "$D/tls/ca.crt" -H "Authorization: Bearer $TOKEN" "$@"; }
NEW=$(free_port)
code=$(b -o "$T/out" -w '%{http_code}' -X PUT -d "{\"enabled\":true,\"port\":$NEW}" \
	"https://localhost:$ADMIN_PORT/admin/api/settings/tls")
expect_eq "the console's Save of the TLS port" "$code" 200
[ "$code" = 200 ] || sed 's/^/#   /' "$T/out"
check "is written to the --config file" grep -q "^tls_port = $NEW\$" "$CONF"
check "keeping the administrator's comment" grep -q '^# ports of this test server: keep this comment$' "$CONF"
check "and the documented defaults' comments" grep -q '^#max_connections = ' "$CONF"
expect_eq "keeping the file's mode" "$(stat -c %a "$CONF")" 640
expect_eq "and its group" "$(stat -c %G "$CONF")" "$group"
check "nothing is written to DIR/atrium.conf" test ! -e "$D/atrium.conf"
check "no temporary file is left beside it" test "$(ls "$ETC")" = atrium.conf
check "the saved port serves" wait_port "$NEW" 10
TLS_PORT=$NEW

# A file made read-only is not worked around (root may write anything).
if [ "$(id -u)" -ne 0 ]; then
	chmod 0440 "$CONF"
	code=$(b -o "$T/out" -w '%{http_code}' -X PUT -d '{"enabled":true,"port":'"$(free_port)"'}' \
		"https://localhost:$ADMIN_PORT/admin/api/settings/tls")
	expect_eq "Save to a read-only settings file is refused" "$code" 400
	expect_match "saying so and what to do" "$(cat "$T/out")" 'is read-only for atriumd.*reload'
	chmod 0640 "$CONF"
else
	ok "# skip a read-only settings file (running as root, who may write it)"
fi

# backup takes the file, wherever it is, as atrium.conf.
summary=$("$ATRIUMD" --config "$CONF" --data "$D" backup "$T/bk" 2>"$T/bk.err"); rc=$?
expect_eq "backup with --config" "$rc" 0
[ "$rc" -eq 0 ] || sed 's/^/#   /' "$T/bk.err"
check "the backup holds the --config file as atrium.conf" cmp "$CONF" "$T/bk/atrium.conf"
expect_match "and says it has the settings" "$summary" '"settings": true'
stop_atriumd

# check reads the file: a bad line in it is named.
cp "$CONF" "$T/conf.good"
echo "no_such_setting = 1" >>"$CONF"
out=$("$ATRIUMD" --config "$CONF" --data "$D" check 2>&1); rc=$?
expect_eq "check with a bad --config file cannot check" "$rc" 2
expect_match "and names that file" "$out" "$CONF"
cp "$T/conf.good" "$CONF"
out=$("$ATRIUMD" --config "$CONF" --data "$D" check 2>&1); rc=$?
expect_eq "check with --config: clean" "$rc" 0

# restore puts the backup's atrium.conf back to the --config file.
echo "# changed after the backup" >>"$CONF"
out=$("$ATRIUMD" --config "$CONF" --data "$D" restore --force "$T/bk" 2>&1); rc=$?
expect_eq "restore --force with --config" "$rc" 0
[ "$rc" -eq 0 ] || echo "$out" | sed 's/^/#   /'
check "puts the backup's settings back in the --config file" cmp "$CONF" "$T/bk/atrium.conf"
expect_eq "keeping its mode" "$(stat -c %a "$CONF")" 640
check "and not in DIR" test ! -e "$D/atrium.conf"
kept=$(ls "$ETC"/atrium.conf.before-restore-* 2>/dev/null | head -1)
check "the settings it replaced are kept beside it" grep -q '^# changed after the backup$' "${kept:-/nonexistent}"
expect_match "and it says where" "$out" "kept in $ETC/atrium.conf.before-restore-"

# reset-tls edits the --config file, keeping its other lines and mode.
out=$("$ATRIUMD" --config "$CONF" --data "$D" reset-tls 2>&1); rc=$?
expect_eq "reset-tls with --config" "$rc" 0
expect_match "names the --config file" "$out" "from $CONF"
check "keeping its comments" grep -q '^# ports of this test server: keep this comment$' "$CONF"
expect_eq "and its mode" "$(stat -c %a "$CONF")" 640
finish
