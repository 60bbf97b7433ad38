#!/usr/bin/env bash
# Two nodes on one PostgreSQL behind HAProxy, with the two configurations
# of docs/postgresql.md: TLS passthrough to each node's TLS port (both
# nodes serve the same certificate for the public name), and TLS
# termination with re-encryption to the nodes. Either way a client works
# through HAProxy as with one server, requests land on both nodes, and
# when a node stops the other carries on. Skipped without haproxy.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pg_lib.sh"

if ! command -v haproxy >/dev/null; then
	echo "ok - two nodes behind HAProxy # SKIP haproxy is not installed"
	exit 0
fi
pg_certs || { echo "not ok - making test certificates failed"; exit 1; }
pg_start main on || { echo "not ok - PostgreSQL did not start"; exit 1; }
pg_sql "$PG_PORT_main" postgres "CREATE DATABASE atrium" >/dev/null
export ATRIUM_DATABASE=$(pg_url "$PG_PORT_main" atrium)
export ATRIUM_DATABASE_SSL=on ATRIUM_DATABASE_SSL_ROOT_CERT=$PG_CERTS/ca.crt

# One certificate for the public name, the same keystore on both nodes.
NAME=atrium.example.org
pg_issue public "$NAME,127.0.0.1" || exit 1
openssl pkcs12 -export -in "$PG_CERTS/public.crt" -inkey "$PG_CERTS/public.key" \
	-certfile "$PG_CERTS/ca.crt" -passout pass:ks-pass-1 -out "$T/public.p12"
cat "$PG_CERTS/public.crt" "$PG_CERTS/public.key" >"$T/public.pem"
KS=(--set "tls_keystore=$T/public.p12" --set tls_keystore_password=ks-pass-1)

start_atriumd "$T/a" "${KS[@]}" || exit 1
A_TLS=$TLS_PORT PID_A=$SERVER_PID
start_atriumd "$T/b" "${KS[@]}" || exit 1
B_TLS=$TLS_PORT PID_B=$SERVER_PID

LB=$(free_port)
# haproxy_start MODE: the frontend/backend pair of docs/postgresql.md.
haproxy_start() {
	local cfg=$T/haproxy-$1.cfg
	{
		echo "global"
		echo "    maxconn 200"
		echo "defaults"
		echo "    timeout connect 5s"
		echo "    timeout check 5s"
		if [ "$1" = passthrough ]; then
			cat <<EOF
frontend atrium_api
    mode tcp
    bind 127.0.0.1:$LB
    timeout client 1h
    default_backend atrium_nodes
backend atrium_nodes
    mode tcp
    balance roundrobin
    timeout server 1h
    option httpchk GET /healthz
    http-check expect status 200
    default-server check check-ssl verify required ca-file $PG_CERTS/ca.crt check-sni $NAME inter 300ms fall 2 rise 2
    server node1 127.0.0.1:$A_TLS
    server node2 127.0.0.1:$B_TLS
EOF
		else
			cat <<EOF
frontend atrium_api
    mode http
    bind 127.0.0.1:$LB ssl crt $T/public.pem alpn http/1.1
    timeout client 1h
    option forwardfor
    default_backend atrium_nodes
backend atrium_nodes
    mode http
    balance roundrobin
    timeout server 1h
    option httpchk GET /healthz
    http-check expect status 200
    default-server ssl verify required ca-file $PG_CERTS/ca.crt check inter 300ms fall 2 rise 2
    server node1 127.0.0.1:$A_TLS sni str($NAME) verifyhost $NAME
    server node2 127.0.0.1:$B_TLS sni str($NAME) verifyhost $NAME
EOF
		fi
	} >"$cfg"
	haproxy -c -q -f "$cfg" >"$T/haproxy-$1.check" 2>&1 || { not_ok "haproxy accepts the $1 configuration" "$(cat "$T/haproxy-$1.check")"; return 1; }
	haproxy -f "$cfg" -db >"$T/haproxy-$1.log" 2>&1 &
	HAPROXY_PID=$!
	_pids+=("$HAPROXY_PID")
	wait_port "$LB" 10
	sleep 1.5 # a few health checks
}

lb() {
	local m=$1 p=$2
	shift 2
	curl -sS --cacert "$PG_CERTS/ca.crt" --resolve "$NAME:$LB:127.0.0.1" -X "$m" \
		${TOKEN:+-H "Authorization: Bearer $TOKEN"} "$@" "https://$NAME:$LB$p"
}

head -c 2000000 /dev/urandom >"$T/model"
base=0
for mode in passthrough reencrypt; do
	haproxy_start "$mode" || continue
	TOKEN=
	TOKEN=$(lb POST /api/v1/session -d "{\"user\":\"admin\",\"password\":\"$ATRIUM_ADMIN_PASSWORD\"}" |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
	expect_eq "$mode: log in through HAProxy" "${#TOKEN}" 64
	lb POST /api/v1/projects -d "{\"name\":\"p-$mode\"}" -o /dev/null
	a0=$(grep -c "committed revision" "$T/a.log") b0=$(grep -c "committed revision" "$T/b.log")
	good=0
	# One connection per request, so roundrobin alternates the nodes.
	for i in 1 2 3 4; do
		code=$(lb POST "/api/v1/projects/p-$mode/revisions?base=$((i - 1))" --data-binary @"$T/model" \
			-o /dev/null -w '%{http_code}')
		[ "$code" == 201 ] && good=$((good + 1))
	done
	for i in 1 2 3 4; do
		lb GET "/api/v1/projects/p-$mode/revisions/$i/content" -o "$T/out"
		cmp -s "$T/model" "$T/out" && good=$((good + 1))
	done
	expect_eq "$mode: 4 commits and checkouts through HAProxy" "$good" 8
	a1=$(grep -c "committed revision" "$T/a.log") b1=$(grep -c "committed revision" "$T/b.log")
	if [ $((a1 - a0)) -gt 0 ] && [ $((b1 - b0)) -gt 0 ]; then
		ok "$mode: both nodes took commits ($((a1 - a0)) and $((b1 - b0)))"
	else
		not_ok "$mode: both nodes took commits" "node A $((a1 - a0)), node B $((b1 - b0))"
	fi
	expect_match "$mode: the client sees the public certificate" \
		"$(openssl s_client -connect "127.0.0.1:$LB" -servername "$NAME" -CAfile "$PG_CERTS/ca.crt" \
			-verify_return_error </dev/null 2>&1 | grep -E 'subject=|Verify return code')" \
		"subject=CN = $NAME.*Verify return code: 0 \(ok\)"
	kill "$HAPROXY_PID"
	wait "$HAPROXY_PID" 2>/dev/null
done

# A node stops: HAProxy's checks take it out, the other one serves all.
haproxy_start passthrough
stop_atriumd "$PID_A"
sleep 1.5
good=0
for i in 1 2 3 4; do
	code=$(lb GET /api/v1/projects/p-passthrough/revisions/4/content -o "$T/out" -w '%{http_code}')
	[ "$code" == 200 ] && cmp -s "$T/model" "$T/out" && good=$((good + 1))
done
expect_eq "with node A stopped, every checkout through HAProxy succeeds on B" "$good" 4
stop_atriumd "$PID_B"
finish
