# Throwaway PostgreSQL 15 clusters on 127.0.0.1 for the pg_*.sh tests and
# bench/pg.sh. Source it after lib.sh (or on its own: it then makes its own
# temporary folder). Every cluster is stopped and removed on exit.
#
#   pg_certs              a test CA, a server certificate for 127.0.0.1 and
#                         localhost, a client certificate (CN=atriumcert)
#                         and a second, unrelated CA, in $PG_CERTS
#   pg_issue NAME NAMES [client]
#                         another certificate from the test CA
#   pg_start NAME on|off [-c key=value ...]
#                         initdb + start a cluster with ssl on or off; sets
#                         PG_PORT_<NAME>, prints nothing
#   pg_restart NAME       stops a cluster (fast: connections are cut) and
#                         starts it again with the same settings
#   pg_sql PORT DB SQL    runs SQL as the superuser, prints rows (psql -At)
#   pg_url PORT DB [USER] postgresql://USER@127.0.0.1:PORT/DB
#
# pg_hba.conf of every cluster: the role atriumcert may only log in over
# TLS with a client certificate; atrium_pw only over TLS with a password
# (scram); everyone else is trusted from 127.0.0.1.
#
# The certificates come from `atrium ca init` and `atrium ca issue`, the
# tools administrators use (the openssl command line when the CLI is not
# built).

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
if [ "$(id -u)" -ne 0 ] || [ ! -x "$PGBIN/initdb" ] || ! id postgres >/dev/null 2>&1; then
	echo "not ok - the PostgreSQL tests need root (to run the server as user postgres) and" \
		"PostgreSQL 15 in $PGBIN (scripts/install-deps installs postgresql-15)"
	exit 1
fi
if [ -z "${T:-}" ]; then
	T=$(mktemp -d "${TMPDIR:-/tmp}/atrium-pg.XXXXXX")
	_pg_own_t=1
fi
# The postgres user must be able to reach its files: a folder of its own.
PGT=$(mktemp -d /tmp/atrium-pgdata.XXXXXX)
chmod 755 "$PGT"
chown postgres:postgres "$PGT"
PG_CERTS=$T/pgcerts
_pg_clusters=()

_pg_cleanup() {
	local d
	for d in "${_pg_clusters[@]}"; do
		runuser -u postgres -- "$PGBIN/pg_ctl" -D "$d" -m immediate -w -t 20 stop >/dev/null 2>&1
	done
	rm -rf "$PGT"
	[ -n "${_pg_own_t:-}" ] && rm -rf "$T"
}
if declare -F _cleanup >/dev/null; then
	trap '_pg_rc=$?; _pg_cleanup; _cleanup "$_pg_rc"' EXIT
else
	trap _pg_cleanup EXIT
fi

if ! declare -F free_port >/dev/null; then
	free_port() {
		python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
	}
fi

# _pg_sign NAME CA SUBJECT [EXT]: a key and a certificate signed by CA
# with the openssl command line (used when the atrium CLI is not built).
_pg_sign() {
	local name=$1 ca=$2 subj=$3 ext=${4:-}
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "$subj" \
		-keyout "$PG_CERTS/$name.key" -out "$PG_CERTS/$name.csr" 2>/dev/null || return 1
	printf '%s\n' "$ext" >"$PG_CERTS/$name.ext"
	openssl x509 -req -in "$PG_CERTS/$name.csr" -CA "$PG_CERTS/$ca.crt" \
		-CAkey "$PG_CERTS/$ca.key" -CAcreateserial -days 30 -sha256 \
		-extfile "$PG_CERTS/$name.ext" -out "$PG_CERTS/$name.crt" 2>/dev/null || return 1
	chmod 600 "$PG_CERTS/$name.key"
}

_pg_atrium() {
	local a=${ATRIUM:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/atrium}
	[ -x "$a" ] && "$a" ca --help >/dev/null 2>&1 && echo "$a"
}

# pg_issue NAME NAME[,NAME...] [client]: $PG_CERTS/NAME.crt and .key from
# the test CA for those host names and addresses (the first is the CN),
# made by `atrium ca issue` as an administrator would.
pg_issue() {
	local name=$1 names=$2 client=${3:-} a san="" n
	if a=$(_pg_atrium); then
		"$a" ca issue --dir "$PG_CERTS/ca" --days 30 ${client:+--client} \
			--cert-out "$PG_CERTS/$name.crt" --key-out "$PG_CERTS/$name.key" "$names" \
			>"$PG_CERTS/$name.log" 2>&1 || { cat "$PG_CERTS/$name.log"; return 1; }
		return 0
	fi
	for n in ${names//,/ }; do
		[[ $n =~ ^[0-9.]+$|: ]] && san+="${san:+,}IP:$n" || san+="${san:+,}DNS:$n"
	done
	_pg_sign "$name" ca "/CN=${names%%,*}" "subjectAltName=$san
extendedKeyUsage=${client:+clientAuth,}serverAuth"
}

# The test CA (and an unrelated one), a server certificate for 127.0.0.1
# and localhost, a client certificate for the role atriumcert.
pg_certs() {
	local ca a
	mkdir -p "$PG_CERTS"
	for ca in ca other-ca; do
		if a=$(_pg_atrium); then
			"$a" ca init --dir "$PG_CERTS/$ca" --cn "Atrium test $ca" >/dev/null || return 1
			cp "$PG_CERTS/$ca/ca.crt" "$PG_CERTS/$ca.crt"
		else
			openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
				-subj "/CN=Atrium test $ca" -addext "basicConstraints=critical,CA:TRUE" \
				-addext "keyUsage=critical,keyCertSign,cRLSign" \
				-keyout "$PG_CERTS/$ca.key" -out "$PG_CERTS/$ca.crt" 2>/dev/null || return 1
			mkdir -p "$PG_CERTS/$ca"
			cp "$PG_CERTS/$ca.key" "$PG_CERTS/$ca/ca.key"
		fi
	done
	pg_issue server 127.0.0.1,localhost || return 1
	pg_issue client atriumcert client || return 1
	# The server's copies, readable by postgres only.
	mkdir -p "$PGT/certs"
	cp "$PG_CERTS/server.crt" "$PG_CERTS/server.key" "$PG_CERTS/ca.crt" "$PGT/certs/"
	chown -R postgres:postgres "$PGT/certs"
	chmod 600 "$PGT/certs/server.key"
}

pg_start() {
	local name=$1 ssl=$2 d port
	shift 2
	d=$PGT/$name
	port=$(free_port)
	runuser -u postgres -- "$PGBIN/initdb" -D "$d" -A trust -U postgres --no-sync \
		>"$PGT/$name.initdb.log" 2>&1 || { cat "$PGT/$name.initdb.log"; return 1; }
	{
		echo "local all all trust"
		if [ "$ssl" = on ]; then
			echo "hostssl all atriumcert 127.0.0.1/32 cert"
			echo "hostssl all atrium_pw 127.0.0.1/32 scram-sha-256"
		fi
		echo "host all atriumcert 127.0.0.1/32 reject"
		echo "host all atrium_pw 127.0.0.1/32 reject"
		echo "host all all 127.0.0.1/32 trust"
	} >"$d/pg_hba.conf"
	_pg_clusters+=("$d")
	runuser -u postgres -- "$PGBIN/pg_ctl" -D "$d" -l "$PGT/$name.log" -w -t 30 start -o \
		"-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$PGT -c ssl=$ssl \
		 -c ssl_cert_file=$PGT/certs/server.crt -c ssl_key_file=$PGT/certs/server.key \
		 -c ssl_ca_file=$PGT/certs/ca.crt -c fsync=off -c max_connections=200 $*" \
		>/dev/null || { cat "$PGT/$name.log"; return 1; }
	printf -v "PG_PORT_$name" '%s' "$port"
}

pg_restart() {
	runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGT/$1" -m fast -w -t 30 restart \
		>>"$PGT/$1.log" 2>&1
}

pg_sql() {
	psql "host=127.0.0.1 port=$1 user=postgres dbname=$2 sslmode=prefer" -v ON_ERROR_STOP=1 \
		-Atq -c "$3"
}

pg_url() {
	printf 'postgresql://%s@127.0.0.1:%s/%s' "${3:-postgres}" "$1" "$2"
}
