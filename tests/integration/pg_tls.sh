#!/usr/bin/env bash
# Database TLS: database_ssl = on refuses to start, with a sentence naming
# the setting to fix, when the database offers no TLS, when its certificate
# is not signed by database_ssl_root_cert, or is for another host name;
# database_ssl_mode = require starts but warns at every start; a client
# certificate logs in where the database demands one.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pg_lib.sh"

pg_certs || { echo "not ok - making test certificates failed"; exit 1; }
pg_start tls on || { echo "not ok - PostgreSQL (ssl = on) did not start"; exit 1; }
pg_start plain off || { echo "not ok - PostgreSQL (ssl = off) did not start"; exit 1; }
for p in "$PG_PORT_tls" "$PG_PORT_plain"; do
	pg_sql "$p" postgres "CREATE DATABASE atrium" >/dev/null
done
pg_sql "$PG_PORT_tls" postgres "CREATE ROLE atriumcert LOGIN" >/dev/null
pg_sql "$PG_PORT_tls" postgres "CREATE DATABASE atrium_c OWNER atriumcert" >/dev/null
: "${ATRIUM_ADMIN_PASSWORD:=admin-secret-1}"
export ATRIUM_ADMIN_PASSWORD

# refused NAME DIR REGEX [ARGS...]: atriumd must exit non-zero at start,
# saying something that matches REGEX, without opening its port.
n=0
refused() {
	local name=$1 regex=$3 out rc port
	shift 3
	n=$((n + 1))
	port=$(free_port)
	out=$(timeout 60 "$ATRIUMD" --data "$T/r$n" --port "$port" "$@" 2>&1)
	rc=$?
	if [ $rc -ne 0 ] && [ $rc -ne 124 ] && [[ $out =~ $regex ]]; then
		ok "$name"
	else
		not_ok "$name" "exit status $rc; expected a refusal matching: $regex" "$out"
	fi
}

TLS_URL=$(pg_url "$PG_PORT_tls" atrium)
PLAIN_URL=$(pg_url "$PG_PORT_plain" atrium)

refused "database_ssl = on against a database without TLS: refuses to start" x \
	"cannot start: database_ssl = on, but the database server \(postgresql://postgres@127\.0\.0\.1:$PG_PORT_plain/atrium over TLS verify-full\) does not offer TLS: turn on ssl in its postgresql\.conf, or set database_ssl = off" \
	--set "database=$PLAIN_URL" --set database_ssl=on \
	--set "database_ssl_root_cert=$PG_CERTS/ca.crt"
ATRIUM_DATABASE_SSL=on ATRIUM_DATABASE_SSL_ROOT_CERT=$PG_CERTS/ca.crt \
	refused "ATRIUM_DATABASE_SSL=on (environment) refuses the same way" x \
	"does not offer TLS" --set "database=$PLAIN_URL"
refused "a database certificate not signed by database_ssl_root_cert: refuses to start" x \
	"cannot start: the database server's certificate .* does not verify against database_ssl_root_cert \($PG_CERTS/other-ca\.crt\).*certificate verify failed" \
	--set "database=$TLS_URL" --set database_ssl=on \
	--set "database_ssl_root_cert=$PG_CERTS/other-ca.crt"
refused "a database certificate for another host name: refuses to start" x \
	"not made out for the host name" \
	--set "database=postgresql://postgres@db.example.org:$PG_PORT_tls/atrium?hostaddr=127.0.0.1" \
	--set database_ssl=on --set "database_ssl_root_cert=$PG_CERTS/ca.crt"
refused "verify-full without database_ssl_root_cert: says to set it" x \
	"set database_ssl_root_cert" \
	--set "database=$TLS_URL" --set database_ssl=on
refused "a missing client certificate where the database demands one: refuses" x \
	"cannot start: .*(certificate|TLS)" \
	--set "database=$(pg_url "$PG_PORT_tls" atrium_c atriumcert)" --set database_ssl=on \
	--set "database_ssl_root_cert=$PG_CERTS/ca.crt"
nobody=$(free_port)
refused "nobody listening: says it cannot connect" x \
	"cannot start: cannot connect to the database \(postgresql://postgres@127\.0\.0\.1:$nobody/atrium\): .*Connection refused" \
	--set "database=postgresql://postgres@127.0.0.1:$nobody/atrium"
refused "a database URL that does not parse: refused, no password echoed" x \
	"^([^T]|T[^o])*database is not a valid PostgreSQL URL([^T]|T[^o])*$" \
	--set "database=postgresql://u:TopSecret9@[::1/x"
refused "a bad port in the URL: refused, no password echoed" x \
	"^([^T]|T[^o])*invalid integer value \"notaport\"([^T]|T[^o])*$" \
	--set "database=postgresql://u:TopSecret9@127.0.0.1:notaport/x"
check_fails "database_ssl_mode accepts only verify-full and require" \
	"$ATRIUMD" --data "$T/cc" --check-config --set database_ssl_mode=disable

# require: starts, warns at every start that nothing is verified.
for round in 1 2; do
	start_atriumd "$T/req" --set "database=$TLS_URL" --set database_ssl=on \
		--set database_ssl_mode=require --set "database_ssl_root_cert=$PG_CERTS/other-ca.crt" || break
	stop_atriumd
done
expect_eq "database_ssl_mode = require warns at every start" \
	"$(grep -c 'WARN  database_ssl_mode = require: the database server.s certificate is NOT verified' "$T/req.log")" 2
expect_match "... and logs the TLS it got" "$(cat "$T/req.log")" \
	"connection encrypted with TLSv1\.3.*server certificate NOT verified"

# Client certificate login (pg_hba: hostssl ... cert).
start_atriumd "$T/cert" --set "database=$(pg_url "$PG_PORT_tls" atrium_c atriumcert)" \
	--set database_ssl=on --set "database_ssl_root_cert=$PG_CERTS/ca.crt" \
	--set "database_ssl_cert_file=$PG_CERTS/client.crt" \
	--set "database_ssl_key_file=$PG_CERTS/client.key"
TOKEN=$(login_token admin "$ATRIUM_ADMIN_PASSWORD")
api POST /api/v1/projects -d '{"name":"p"}' >/dev/null
echo hello >"$T/m"
code=$(api POST "/api/v1/projects/p/revisions?base=0" --data-binary @"$T/m" -o /dev/null -w '%{http_code}')
expect_eq "a client certificate logs in to the database; commits work" "$code" 201
expect_eq "the database saw the client certificate" \
	"$(pg_sql "$PG_PORT_tls" postgres "SELECT DISTINCT s.client_dn FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.usename = 'atriumcert'")" \
	"/CN=atriumcert"
stop_atriumd
refused "a certificate file without its key is refused" x \
	"database_ssl_cert_file and database_ssl_key_file go together" \
	--set "database=$TLS_URL" --set database_ssl=on \
	--set "database_ssl_root_cert=$PG_CERTS/ca.crt" --set "database_ssl_cert_file=$PG_CERTS/client.crt"

# database_ssl = off over a database without TLS: allowed, loudly.
start_atriumd "$T/off" --set "database=$PLAIN_URL"
stop_atriumd
expect_match "database_ssl = off to a database without TLS: starts with a warning" \
	"$(cat "$T/off.log")" "WARN  database .*: the connection is NOT encrypted \(database_ssl = off\)"
finish
