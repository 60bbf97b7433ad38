#!/usr/bin/env bash
# Certificate (smart-card) login on the TLS port and the console
# (docs/client-certificates.md): client certificates made by openssl's CA
# and by `atrium ca`, CRL files and CRL distribution points served by a
# real HTTP server, each refusal with its reason, optional and required,
# password_login = off, the CLI with --cert/--key and --keystore.
. "$(dirname "$0")/lib.sh"

# ---- CAs made with openssl (an index, so that certificates can be revoked)
CDP=none
export CDP
mkca() {
	local d=$T/$1
	mkdir -p "$d/new"
	: >"$d/index.txt"
	echo 1000 >"$d/serial"
	echo 01 >"$d/crlnumber"
	cat >"$d/ca.cnf" <<EOF
[ca]
default_ca = ca_default
[ca_default]
dir = $d
database = \$dir/index.txt
new_certs_dir = \$dir/new
certificate = \$dir/ca.crt
private_key = \$dir/ca.key
serial = \$dir/serial
crlnumber = \$dir/crlnumber
default_md = sha256
default_days = 30
default_crl_days = 30
policy = pol
unique_subject = no
[pol]
commonName = supplied
[client]
basicConstraints = CA:FALSE
keyUsage = digitalSignature
extendedKeyUsage = clientAuth
[client_cdp]
basicConstraints = CA:FALSE
keyUsage = digitalSignature
extendedKeyUsage = clientAuth
crlDistributionPoints = URI:\$ENV::CDP
[client_upn]
basicConstraints = CA:FALSE
keyUsage = digitalSignature
extendedKeyUsage = clientAuth
subjectAltName = otherName:1.3.6.1.4.1.311.20.2.3;UTF8:carol.upn@corp.example, email:carol@corp.example
EOF
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/ca.key" \
		-subj "/CN=$1 Test CA" -days 30 -out "$d/ca.crt" 2>/dev/null
}
# issue CA NAME CN EXTENSIONS [openssl ca options...]: $T/NAME.crt and .key.
issue() {
	local ca=$T/$1 name=$2 cn=$3 ext=$4
	shift 4
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/$name.key" \
		-subj "/CN=$cn" -out "$T/$name.csr" 2>/dev/null
	openssl ca -batch -notext -config "$ca/ca.cnf" -extensions "$ext" -in "$T/$name.csr" \
		-out "$T/$name.crt" "$@" 2>"$T/$name.err" || { echo "# issue $name:"; sed 's/^/# /' "$T/$name.err"; }
}
revoke() { openssl ca -config "$T/$1/ca.cnf" -revoke "$T/$2.crt" 2>/dev/null; }
gencrl() { openssl ca -config "$T/$1/ca.cnf" -gencrl -out "$2" 2>/dev/null; }

CRL_PORT=$(free_port)
DEAD_PORT=$(free_port)
mkca ca1 # CRL file
mkca ca2 # CRL distribution point, served over HTTP
mkca rogue # trusted by nobody
issue ca1 alice alice client
issue ca1 bob bob client
issue ca1 old old client -startdate 20000101000000Z -enddate 20010101000000Z
issue ca1 nobody nobody client
issue ca1 carol carol-cn client_upn
issue rogue mallory alice client
CDP=http://127.0.0.1:$CRL_PORT/ca2.crl issue ca2 dave dave client_cdp
CDP=http://127.0.0.1:$CRL_PORT/ca2.crl issue ca2 erin erin client_cdp
CDP=http://127.0.0.1:$DEAD_PORT/ca2.crl issue ca2 frank frank client_cdp
revoke ca1 bob
revoke ca2 dave
gencrl ca1 "$T/ca1.crl"
mkdir -p "$T/www"
gencrl ca2 "$T/www/ca2.pem"
openssl crl -in "$T/www/ca2.pem" -outform DER -out "$T/www/ca2.crl"
# A CA made by `atrium ca`, its CRL made with openssl from its key and
# served beside ca2's.
"$ATRIUM" ca init --dir "$T/aca" >/dev/null 2>&1
"$ATRIUM" ca issue --dir "$T/aca" --client --crl-url "http://127.0.0.1:$CRL_PORT/aca.crl" \
	--cert-out "$T/gina.crt" --key-out "$T/gina.key" gina >/dev/null 2>&1
mkdir -p "$T/aca-db/new"
: >"$T/aca-db/index.txt"
echo 01 >"$T/aca-db/crlnumber"
sed -e "s|^dir = .*|dir = $T/aca-db|" -e "s|^certificate = .*|certificate = $T/aca/ca.crt|" \
	-e "s|^private_key = .*|private_key = $T/aca/ca.key|" "$T/ca1/ca.cnf" >"$T/aca-db/ca.cnf"
openssl ca -config "$T/aca-db/ca.cnf" -gencrl -out "$T/www/aca.crl" 2>/dev/null
check "openssl made the certificates, CRLs and the atrium ca certificate" \
	test -s "$T/frank.crt" -a -s "$T/ca1.crl" -a -s "$T/www/ca2.crl" -a -s "$T/gina.crt" -a -s "$T/www/aca.crl"
check_fails "openssl says the expired one has expired" openssl x509 -in "$T/old.crt" -noout -checkend 0

(cd "$T/www" && exec python3 -m http.server --bind 127.0.0.1 "$CRL_PORT") >"$T/www.log.txt" 2>&1 &
_pids+=("$!")
wait_port "$CRL_PORT" 20 || not_ok "the CRL server started"

cat "$T/ca1/ca.crt" "$T/ca2/ca.crt" "$T/aca/ca.crt" >"$T/client-cas.pem"
D=$T/data
mkdir -p "$D"
cat >"$D/atrium.conf" <<EOF
client_certificates = optional
client_ca_file = $T/client-cas.pem
client_crl_files = $T/ca1.crl
login_attempts = 100
EOF
PORTS_IN_CONF=1 start_atriumd "$D" || exit 1
wait_port "$TLS_PORT" 20
TOKEN=$(login_token admin "$ATRIUM_ADMIN_PASSWORD")
for u in alice bob old dave erin frank gina carol.upn@corp.example; do
	role=user
	[ "$u" = alice ] && role=admin
	secret "$u-pass-1234"
	api POST /api/v1/users -d "{\"name\":\"$u\",\"password\":\"$u-pass-1234\",\"role\":\"$role\"}" >/dev/null
done
TOKEN=
SCA=$D/tls/ca.crt
TLS=https://127.0.0.1:$TLS_PORT

# cert_login NAME [URL]: the answer to POST /api/v1/session with no password
# over a connection presenting NAME's certificate, then its status.
cert_login() {
	curl -sS --cacert "$SCA" --cert "$T/$1.crt" --key "$T/$1.key" -H 'Content-Type: application/json' \
		-d '{}' -w '\n%{http_code}' "${2:-$TLS/api/v1/session}" | summary
}
# summary: curl's answer (body, then the status on a line) as one line:
# "STATUS user=NAME token" or "STATUS CODE: sentence".
summary() {
	python3 -c '
import json, sys
body, _, status = sys.stdin.read().rpartition("\n")
try: j = json.loads(body)
except ValueError: j = {}
if "code" in j: print(status, j["code"] + ":", j.get("error", ""))
else: print(status, "user=%s" % j.get("user"), "token" if j.get("token") else "", "csrf" if j.get("csrf") else "")'
}
# reload KEY=VALUE...: sets the lines in atrium.conf and waits for SIGHUP's end.
reload() {
	local kv n
	for kv in "$@"; do
		sed -i "/^${kv%%=*} = /d" "$D/atrium.conf"
		echo "${kv%%=*} = ${kv#*=}" >>"$D/atrium.conf"
	done
	n=$(wc -l <"$D.log")
	kill -HUP "$SERVER_PID"
	log_since "$D.log" "$n" 'reload (done|failed)' >/dev/null
}

# post [CURL ARGS...] URL: a JSON POST's summary.
post() { curl -sS --cacert "$SCA" -H 'Content-Type: application/json' -w '\n%{http_code}' "$@" | summary; }

# ---- good certificates
expect_eq "alice's certificate (openssl CA, CRL file) logs in: 200 with a token" \
	"$(cert_login alice)" "200 user=alice token "
expect_eq "erin's (CRL distribution point over HTTP) logs in" "$(cert_login erin)" "200 user=erin token "
expect_eq "gina's (atrium ca issue --client, its CRL over HTTP) logs in" "$(cert_login gina)" \
	"200 user=gina token "
tok=$(curl -sS --cacert "$SCA" --cert "$T/gina.crt" --key "$T/gina.key" -d '{}' "$TLS/api/v1/session" |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
secret "$tok"
code=$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$SCA" -H "Authorization: Bearer $tok" "$TLS/api/v1/projects")
expect_eq "the certificate's session token works" "$code" 200
check "the CRL server was asked for ca2's CRL" grep -q 'GET /ca2.crl' "$T/www.log.txt"
check "and for the atrium ca's" grep -q 'GET /aca.crl' "$T/www.log.txt"
expect_match "the log names the subject and serial" "$(cat "$D.log")" \
	"INFO  certificate login as 'alice' from 127.0.0.1 \(subject CN=alice, serial 1000\)"

# ---- refusals, each with its reason
expect_match "bob's revoked certificate (CRL file): 401 client_cert_revoked with the date" \
	"$(cert_login bob)" '^401 client_cert_revoked: the certificate is revoked \(since [0-9]{4}-[0-9]{2}-[0-9]{2}T'
expect_match "dave's, revoked in the distribution point's CRL: refused, revoked" \
	"$(cert_login dave)" '^401 client_cert_revoked: '
expect_eq "an expired certificate: 401 client_cert_expired with its dates" "$(cert_login old)" \
	"401 client_cert_expired: the certificate has expired or is not valid yet: valid from 2000-01-01T00:00:00Z to 2001-01-01T00:00:00Z"
expect_match "an unknown issuer: 401 client_cert_untrusted" "$(cert_login mallory)" \
	'^401 client_cert_untrusted: the certificate.s issuer is unknown'
expect_eq "a name with no user: 401 client_cert_no_user naming it" "$(cert_login nobody)" \
	"401 client_cert_no_user: no user for this certificate: client_cert_user made the name 'nobody' from CN=nobody, and there is no such user"
expect_match "the CRL server down: refused (fail-closed), client_cert_no_crl with why" "$(cert_login frank)" \
	"^401 client_cert_no_crl: .*fetching http://127.0.0.1:$DEAD_PORT/ca2.crl failed"
expect_match "the log says why, with subject and serial" "$(cat "$D.log")" \
	"WARN  certificate login as 'bob' from 127.0.0.1 refused: the certificate is revoked .*subject CN=bob, serial 1001"
check_fails "no password is in the log" grep -q 'pass-1234' "$D.log"
expect_match "no password and no certificate: 400 saying so" "$(post -d '{}' "$TLS/api/v1/session")" \
	'^400 bad_request: send a password, or connect with a client certificate'
expect_eq "optional: a connection without a certificate still logs in with a password" \
	"$(post -d '{"user":"bob","password":"bob-pass-1234"}' "$TLS/api/v1/session")" "200 user=bob token "

# ---- the console's login with a certificate
ADM=https://127.0.0.1:$ADMIN_PORT
expect_eq "the console's login with alice's certificate (an admin)" \
	"$(post --cert "$T/alice.crt" --key "$T/alice.key" -d '{}' -D "$T/console.h" "$ADM/admin/api/login")" \
	"200 user=alice  csrf"
check "and it sets the console's cookie" grep -qi '^set-cookie: atrium_admin=' "$T/console.h"
expect_match "erin (not an admin) is refused by the console" \
	"$(post --cert "$T/erin.crt" --key "$T/erin.key" -d '{}' "$ADM/admin/api/login")" "^403 forbidden: .*'erin' is not an admin"
out=$(curl -sS --cacert "$SCA" "$ADM/admin/api/login/certificate")
expect_eq "the login page knows whether a certificate was presented (none)" "$out" '{"enabled":true,"presented":false}'
out=$(curl -sS --cacert "$SCA" --cert "$T/alice.crt" --key "$T/alice.key" "$ADM/admin/api/login/certificate")
expect_match "... and names it when one was" "$out" '"presented":true,"subject":"CN=alice",.*"user":"alice"'

# ---- the CLI: --cert/--key and --keystore
mkdir -p "$ATRIUM_HOME/certs"
cp "$D/tls/client/cert.jks" "$D/tls/client/cert.pass" "$ATRIUM_HOME/certs/"
out=$("$ATRIUM" login --cert "$T/alice.crt" --key "$T/alice.key" "127.0.0.1:$TLS_PORT" 2>&1)
expect_match "atrium login --cert --key logs alice in" "$out" "^Logged in to 127.0.0.1:$TLS_PORT as alice \(admin\)"
check "and the session works" "$ATRIUM" project list
echo "store-pass-1" >"$T/sp"
secret store-pass-1
openssl pkcs12 -export -in "$T/erin.crt" -inkey "$T/erin.key" -passout file:"$T/sp" -out "$T/erin.p12" 2>/dev/null
out=$("$ATRIUM" login --keystore "$T/erin.p12" --storepass-file "$T/sp" "127.0.0.1:$TLS_PORT" 2>&1)
expect_match "atrium login --keystore erin.p12 (PKCS#12) logs erin in" "$out" "^Logged in to .* as erin \(user\)"
"$ATRIUM" keytool -importkeystore -srckeystore "$T/erin.p12" -srcstoretype PKCS12 -srcstorepass store-pass-1 \
	-destkeystore "$T/erin.jks" -deststoretype JKS -deststorepass store-pass-1 >/dev/null 2>&1
out=$("$ATRIUM" login --keystore "$T/erin.jks" --storepass-file "$T/sp" "127.0.0.1:$TLS_PORT" 2>&1)
expect_match "atrium login --keystore erin.jks (JKS, made by atrium keytool) logs erin in" "$out" \
	"^Logged in to .* as erin \(user\)"
out=$("$ATRIUM" login --cert "$T/bob.crt" --key "$T/bob.key" "127.0.0.1:$TLS_PORT" 2>&1)
expect_match "the CLI shows the refusal's reason" "$out" "the certificate is revoked \(since "
out=$("$ATRIUM" login --cert "$T/bob.crt" "127.0.0.1:$TLS_PORT" 2>&1)
expect_match "--cert without --key is a usage error" "$out" "give --cert FILE with --key FILE"

# ---- fail-open, the UPN template, on reload
reload client_crl_check=if-available
expect_eq "client_crl_check = if-available: frank logs in with the CRL server down" \
	"$(cert_login frank)" "200 user=frank token "
check "with a warning in the log" grep -q 'no current CRL .*allowed, as client_crl_check is if-available' "$D.log"
expect_match "a certificate its CRL revokes is still refused" "$(cert_login dave)" '^401 client_cert_revoked: '
reload 'client_cert_user={upn}'
expect_eq "client_cert_user = {upn}: carol's UPN SubjectAltName names the user" "$(cert_login carol)" \
	"200 user=carol.upn@corp.example token "
expect_match "a certificate without a UPN: refused, naming {upn}" "$(cert_login alice)" \
	'^401 client_cert_no_user: the certificate \(CN=alice\) has no [{]upn[}]'
reload 'client_cert_user=card-{email}'
expect_match "client_cert_user = card-{email}: the email SubjectAltName, with the template's text" \
	"$(cert_login carol)" "^401 client_cert_no_user: .*made the name 'card-carol@corp.example'"
reload 'client_cert_user={CN}'

# ---- password_login = off
reload password_login=off
expect_match "password_login = off: a password is refused with its reason" \
	"$(post -d '{"user":"bob","password":"bob-pass-1234"}' "$TLS/api/v1/session")" '^403 password_login_off: '
expect_match "... on the console too" \
	"$(post -d '{"user":"admin","password":"'"$ATRIUM_ADMIN_PASSWORD"'"}' "$ADM/admin/api/login")" '^403 password_login_off: '
code=$(curl -sS -o /dev/null -w '%{http_code}' -u bob:bob-pass-1234 "$BASE/api/v1/projects")
expect_eq "... Basic authentication too" "$code" 403
expect_eq "... a certificate still logs in" "$(cert_login alice)" "200 user=alice token "
reload password_login=on

# ---- required: no certificate, no handshake
# A TLS 1.2 session made without a certificate under optional...
s_client() { openssl s_client -connect "127.0.0.1:$TLS_PORT" -servername localhost -CAfile "$SCA" -tls1_2 "$@" </dev/null 2>&1; }
s_client -sess_out "$T/sess.pem" >/dev/null
expect_match "optional: a session without a certificate resumes" "$(s_client -sess_in "$T/sess.pem")" '(^|
)Reused, TLSv1.2'
reload client_certificates=required
out=$(s_client -sess_in "$T/sess.pem")
check_fails "required: that session is not resumed (no way round the certificate)" grep -q '^Reused' <<<"$out"
expect_match "... the full handshake is refused" "$out" 'alert|handshake failure|certificate required'
curl -sS -o /dev/null --cacert "$SCA" "$TLS/healthz" 2>"$T/req.err"
rc=$?
[ "$rc" -ne 0 ] && ok "required: a connection without a certificate is refused at the handshake (curl $rc)" ||
	not_ok "required: a connection without a certificate is refused at the handshake"
curl -sS -o /dev/null --cacert "$SCA" --cert "$T/mallory.crt" --key "$T/mallory.key" "$TLS/healthz" 2>/dev/null
rc=$?
[ "$rc" -ne 0 ] && ok "required: an unknown issuer's certificate is refused at the handshake (curl $rc)" ||
	not_ok "required: an unknown issuer's certificate is refused at the handshake"
expect_eq "required: alice's certificate logs in" "$(cert_login alice)" "200 user=alice token "
expect_match "required: revocation is still checked at login" "$(cert_login bob)" '^401 client_cert_revoked: '
code=$(curl -sS -o /dev/null -w '%{http_code}' "$BASE/healthz")
expect_eq "the plain port is not affected" "$code" 200
reload client_certificates=optional
code=$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$SCA" "$TLS/healthz")
expect_eq "back to optional: a connection without a certificate is served" "$code" 200

# ---- a setting missing: a reload refuses it, a start too
n=$(wc -l <"$D.log")
reload client_ca_file=
expect_match "a reload without client_ca_file fails, naming it" "$(tail -n +$((n + 1)) "$D.log")" \
	'reload failed, nothing changed: .*client_ca_file is not set'
expect_eq "and the policy in use stays" "$(cert_login alice)" "200 user=alice token "
mkdir -p "$T/d2"
printf 'client_certificates = required\n' >"$T/d2/atrium.conf"
out=$(timeout 30 "$ATRIUMD" --data "$T/d2" --port "$(free_port)" --tls-port "$(free_port)" \
	--admin-port "$(free_port)" 2>&1)
rc=$?
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && ok "atriumd does not start with client_certificates and no client_ca_file" ||
	not_ok "atriumd does not start with client_certificates and no client_ca_file" "exit $rc"
expect_match "and says which setting" "$out" 'client_ca_file is not set'
reload "client_ca_file=$T/client-cas.pem"

# ---- the failed-login limit counts certificate refusals
reload login_attempts=5
for i in $(seq 5); do
	curl -s -o /dev/null --interface 127.9.0.1 --cacert "$SCA" --cert "$T/nobody.crt" \
		--key "$T/nobody.key" -d '{}' "$TLS/api/v1/session"
done
code=$(curl -s -o /dev/null -w '%{http_code}' --interface 127.9.0.2 --cacert "$SCA" \
	--cert "$T/nobody.crt" --key "$T/nobody.key" -d '{}' "$TLS/api/v1/session")
expect_eq "refused certificate logins count as failed logins: the name then waits (429)" "$code" 429
finish
