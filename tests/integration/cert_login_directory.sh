#!/usr/bin/env bash
# Certificate login of directory users (docs/client-certificates.md): a
# real OpenLDAP slapd on 127.0.0.1 (slapd_lib.sh); the user a client
# certificate names is found in the directory without a bind as the user,
# provisioned at the first login with the role of its groups, refused once
# removed from the directory; a name neither local nor in the directory is
# refused with the name. Revocation is cert_login.sh's.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/slapd_lib.sh"

slapd_tools || { not_ok "slapd and ldap-utils are installed (scripts/install-deps)"; finish; }
slapd_certs || { not_ok "test certificates made"; finish; }
start_slapd A good || { not_ok "slapd A starts"; finish; }

# A client CA and certificates, made by openssl.
C=$T/cards
mkdir -p "$C"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$C/ca.key" \
	-out "$C/ca.pem" -days 30 -subj "/CN=Card CA" 2>/dev/null
for n in alice bob ghost; do
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$C/$n.key" \
		-out "$C/$n.csr" -subj "/CN=$n" 2>/dev/null
	printf 'basicConstraints=CA:false\nextendedKeyUsage=clientAuth\n' >"$C/ext"
	openssl x509 -req -in "$C/$n.csr" -CA "$C/ca.pem" -CAkey "$C/ca.key" -CAcreateserial -days 10 \
		-extfile "$C/ext" -out "$C/$n.pem" 2>/dev/null
done
check "openssl made the client certificates" test -s "$C/ghost.pem"

DATA=$T/data
mkdir -p "$DATA"
printf '%s\n' "$SVCPW" >"$DATA/directory-bind.pass"
chmod 600 "$DATA/directory-bind.pass"
secret "$SVCPW"
cat >"$DATA/atrium.conf" <<CONF
client_certificates = optional
client_ca_file = $C/ca.pem
client_crl_check = if-available
directory_urls = ldaps://127.0.0.1:$LDAPS_A
directory_bind_dn = cn=atrium,ou=services,$SUFFIX
directory_bind_password_file = directory-bind.pass
directory_user_base = ou=people,$SUFFIX
directory_group_base = ou=groups,$SUFFIX
directory_group_map = atrium-admins:admin; modelers:user
directory_ca_file = $T/dirca.pem
login_attempts = 1000
CONF
start_atriumd "$DATA" || { not_ok "atriumd starts"; finish; }
wait_port "$TLS_PORT" 30 || { not_ok "the TLS port listens"; finish; }

# cert_login NAME: "STATUS user role" or "STATUS code: sentence".
cert_login() {
	curl -sS --cacert "$DATA/tls/ca.crt" --cert "$C/$1.pem" --key "$C/$1.key" -d '{}' \
		-w '\n%{http_code}' "https://127.0.0.1:$TLS_PORT/api/v1/session" | python3 -c '
import json, sys
body, _, status = sys.stdin.read().rpartition("\n")
j = json.loads(body)
print(status, j["code"] + ":", j["error"]) if "code" in j else print(status, j["user"], j["role"])'
}

expect_eq "alice's certificate: a directory user, provisioned as an admin (atrium-admins)" \
	"$(cert_login alice)" "200 alice admin"
check "the account was made at that login, and the log says which server answered" \
	grep -q "directory: ldaps://127.0.0.1:$LDAPS_A answered for 'alice' (role admin; account created)" "$DATA.log"
expect_eq "bob's: a user (modelers)" "$(cert_login bob)" "200 bob user"
expect_eq "bob again: the account is refreshed, not made again" "$(cert_login bob)" "200 bob user"
check_fails "nothing was bound as the user (no password was sent)" grep -q "$BOBPW" "$DATA.log"
expect_eq "a name neither local nor in the directory: refused with the name" "$(cert_login ghost)" \
	"401 client_cert_no_user: no user for this certificate: client_cert_user made the name 'ghost' from CN=ghost, and there is no such user"
check "remove bob from the directory" env LDAPTLS_CACERT="$T/dirca.pem" ldapdelete -x \
	-H "ldaps://127.0.0.1:$LDAPS_A" -D "cn=root,$SUFFIX" -w "$ROOTPW" "uid=bob,ou=people,$SUFFIX"
expect_eq "bob's certificate no longer logs in" "$(cert_login bob)" \
	"401 client_cert_no_user: 'bob' is a directory account that the directory no longer has"
check "and the log says why" grep -q "certificate login as 'bob' from 127.0.0.1 refused: a directory account no longer in the directory" "$DATA.log"
finish
