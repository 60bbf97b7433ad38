#!/usr/bin/env bash
# atriumd tells a Type=notify service manager how it is doing (the
# sd_notify protocol): READY=1 once it serves, RELOADING=1 then READY=1
# around a SIGHUP reload, STOPPING=1 when SIGTERM begins the shutdown.
# A Python datagram socket stands in for systemd's.
. "$(dirname "$0")/lib.sh"

sock=$T/notify.sock
msgs=$T/notify.msgs
python3 - "$sock" "$msgs" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(60)
with open(sys.argv[2], "a", buffering=1) as out:
    try:
        while True:
            d = s.recv(4096).decode()
            out.write(d.replace("\n", " ").strip() + "\n")
            if "STOPPING=1" in d:
                break
    except socket.timeout:
        pass
PY
_pids+=($!)
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done

# wait_msgs N: until the receiver has N datagrams (10 s at most).
wait_msgs() {
	local i
	for i in $(seq 200); do
		[ "$(wc -l <"$msgs" 2>/dev/null || echo 0)" -ge "$1" ] && return 0
		sleep 0.05
	done
	return 1
}

touch "$msgs"
NOTIFY_SOCKET=$sock start_atriumd "$T/d"
check "a started server tells the manager" wait_msgs 1
expect_eq "that it is ready" "$(sed -n 1p "$msgs")" "READY=1"
check "and it serves when it says so" curl -sf "$BASE/healthz"

kill -HUP "$SERVER_PID"
check "a reload is told" wait_msgs 3
expect_match "first as reloading, with the monotonic clock" "$(sed -n 2p "$msgs")" '^RELOADING=1 MONOTONIC_USEC=[0-9]+$'
expect_eq "then as ready again" "$(sed -n 3p "$msgs")" "READY=1"

# A reload that fails (a broken atrium.conf) still ends in READY=1: the old
# settings keep serving.
echo "port = not-a-port" >>"$T/d/atrium.conf"
kill -HUP "$SERVER_PID"
check "a failed reload is told too" wait_msgs 5
expect_eq "and ends ready, on the old settings" "$(sed -n 5p "$msgs")" "READY=1"
check "which still serve" curl -sf "$BASE/healthz"

stop_atriumd
check "SIGTERM is told" wait_msgs 6
expect_eq "as stopping" "$(sed -n 6p "$msgs")" "STOPPING=1"

# Without NOTIFY_SOCKET nothing is sent and nothing is logged about it; with
# one nobody listens on, the server starts anyway and says why it could not tell.
start_atriumd "$T/e"
check "without NOTIFY_SOCKET the server serves" curl -sf "$BASE/healthz"
stop_atriumd
if grep -q "service manager" "$T/e.log"; then not_ok "and logs nothing about a manager"; else ok "and logs nothing about a manager"; fi
NOTIFY_SOCKET=$T/nobody.sock start_atriumd "$T/f"
check "with a socket nobody listens on the server serves" curl -sf "$BASE/healthz"
stop_atriumd
expect_match "and logs that it could not tell the manager" "$(cat "$T/f.log")" 'could not tell the service manager'
finish
