#!/usr/bin/env bash
# Directory sign-in against real OpenLDAP slapd servers started here on
# 127.0.0.1 (a throwaway cn=config made with slapadd; certificates from a
# CA made here, with an IP SAN for 127.0.0.1): settings through `atrium
# admin directory set`, applied without a restart; an untrusted CA refused
# with its fix until `atrium admin trust import` trusts it (no restart);
# login over ldaps and over StartTLS; first login makes the account
# (display name, email) and maps groups to roles; the console's login
# takes directory admins; a password changed in the directory works at
# once and the old one stops; a user removed from the directory can no
# longer log in; a name mismatch and an expired certificate each explained
# with their fix; two servers with the first down (the log names the one
# that answered); the directory down answers 503 while local accounts
# still log in; `atrium admin directory test` output.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/slapd_lib.sh"

slapd_tools || { not_ok "slapd and ldap-utils are installed (scripts/install-deps)"; finish; }

expect_exit() {
	local name=$1 code=$2 rc
	shift 2
	OUT=$("$@" 2>&1)
	rc=$?
	if [ "$rc" -eq "$code" ]; then ok "$name"; else not_ok "$name" "exit $rc, wanted $code: $*" "$OUT"; fi
}

slapd_certs || { not_ok "test certificates made"; finish; }
start_slapd A good || { not_ok "slapd A starts"; finish; }
ok "slapd starts on ldaps and ldap (StartTLS)"
check "slapd alone: alice binds over ldaps" env LDAPTLS_CACERT="$T/dirca.pem" \
	ldapwhoami -x -H "ldaps://127.0.0.1:$LDAPS_A" -D "uid=alice,ou=people,$SUFFIX" -w "$ALICEPW"

# ldapmod FILE: a change made in the directory as its administrator.
ldapmod() {
	LDAPTLS_CACERT="$T/dirca.pem" ldapmodify -x -H "ldaps://127.0.0.1:$LDAPS_A" \
		-D "cn=root,$SUFFIX" -w "$ROOTPW" "$@" >"$T/ldapmod.out" 2>&1
}

# ---- atriumd -------------------------------------------------------------------
DATA=$T/data
start_atriumd "$DATA" --set login_attempts=1000 || { not_ok "atriumd starts"; finish; }
wait_port "$ADMIN_PORT" 30 || { not_ok "the admin port listens"; finish; }
wait_port "$TLS_PORT" 30 || { not_ok "the TLS port listens"; finish; }
AS=(--server "127.0.0.1:$ADMIN_PORT")
mkdir -p "$ATRIUM_HOME/certs"
cp "$DATA/tls/client/cert.jks" "$DATA/tls/client/cert.pass" "$ATRIUM_HOME/certs/"
expect_exit "log in as admin" 0 "$ATRIUM" login -u admin --password-stdin "127.0.0.1:$TLS_PORT" \
	<<<"$ATRIUM_ADMIN_PASSWORD"

# login USER PASSWORD: prints the status of POST /api/v1/session; its body
# is left in $T/body (body prints it).
login() {
	curl -sS -o "$T/body" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
		-d "{\"user\":\"$1\",\"password\":\"$2\"}" "$BASE/api/v1/session"
}
body() { cat "$T/body"; }
# console_login USER PASSWORD: the status of the console's login.
console_login() {
	curl -sS -k -o "$T/console.out" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
		-d "{\"user\":\"$1\",\"password\":\"$2\"}" "https://127.0.0.1:$ADMIN_PORT/admin/api/login"
}

expect_exit "directory test with no directory configured is refused" 1 "$ATRIUM" admin directory test "${AS[@]}"
expect_match "saying what to set" "$OUT" "directory_urls"

printf '%s\n' "$SVCPW" >"$DATA/directory-bind.pass"
chmod 600 "$DATA/directory-bind.pass"
expect_exit "a bind password file atriumd cannot read is refused" 1 "$ATRIUM" admin directory set \
	bind_password_file=no-such.pass "${AS[@]}"
expect_match "naming the file" "$OUT" "directory_bind_password_file.*no-such.pass"
expect_exit "a URL that is not LDAP is refused" 1 "$ATRIUM" admin directory set urls=https://127.0.0.1:1 "${AS[@]}"
expect_match "naming the setting" "$OUT" "directory_urls"
expect_exit "admin directory set configures ldaps, without a restart" 0 "$ATRIUM" admin directory set \
	"urls=ldaps://127.0.0.1:$LDAPS_A" "bind_dn=cn=atrium,ou=services,$SUFFIX" \
	bind_password_file=directory-bind.pass "user_base=ou=people,$SUFFIX" \
	"group_base=ou=groups,$SUFFIX" "group_map=atrium-admins:admin; modelers:user" "${AS[@]}"
expect_match "and shows the settings" "$OUT" "directory_urls +ldaps://127.0.0.1:$LDAPS_A"
expect_exit "admin directory show" 0 "$ATRIUM" admin directory show "${AS[@]}"
expect_match "shows the group map" "$OUT" "directory_group_map +atrium-admins:admin; modelers:user"
if grep -q -- "$SVCPW" "$DATA/atrium.conf"; then not_ok "the bind password stays out of atrium.conf"; else ok "the bind password stays out of atrium.conf"; fi

# ---- untrusted CA, then trusted without a restart ----------------------------------
expect_eq "an untrusted directory CA: 503" "$(login alice "$ALICEPW")" 503
expect_match "with code directory_unavailable" "$(body)" '"code": *"directory_unavailable"'
expect_match "naming the issuer and the fix" "$(body)" "issued by CN=Directory Test CA.*atrium admin trust fetch 127.0.0.1:$LDAPS_A"
expect_exit "directory test explains the untrusted chain" 1 "$ATRIUM" admin directory test "${AS[@]}"
expect_match "prints the chain sent" "$OUT" "\\[2\\] CN=Directory Test CA"
expect_match "and the fix" "$OUT" "FAILED .*not trusted.*atrium admin trust fetch 127.0.0.1:$LDAPS_A"
expect_exit "trust the directory's CA" 0 "$ATRIUM" admin trust import "$T/dirca.pem" "${AS[@]}"

# ---- login over ldaps: provisioning, groups to roles --------------------------------
expect_eq "alice logs in over ldaps once the CA is trusted (no restart)" "$(login alice "$ALICEPW")" 200
expect_match "as admin (atrium-admins)" "$(body)" '"role": *"admin"'
expect_eq "bob logs in" "$(login bob "$BOBPW")" 200
expect_match "as user (modelers)" "$(body)" '"role": *"user"'
grep -q "directory: ldaps://127.0.0.1:$LDAPS_A answered for 'alice' (role admin; account created)" "$DATA.log" &&
	ok "first login creates the account, and the log says which server answered" ||
	not_ok "first login creates the account, and the log says which server answered" "$(tail -5 "$DATA.log")"
TOKEN=$(login_token admin "$ATRIUM_ADMIN_PASSWORD")
USERS=$(api GET /api/v1/users)
expect_match "alice is an Atrium user now" "$USERS" '"alice"'
TOKEN=
python3 - "$DATA/atrium.db" >"$T/profile.out" 2>&1 <<'EOF' || true
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
for row in db.execute("SELECT name, role, source, display_name, email FROM users ORDER BY name"):
    print("|".join(str(x) for x in row))
EOF
expect_match "with the directory's display name and email" "$(cat "$T/profile.out")" "alice\\|admin\\|directory\\|Alice A. Able\\|alice@corp.test"
expect_match "and no usable password hash" "$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT hash FROM users WHERE name=?", ("alice",)).fetchone()[0])' "$DATA/atrium.db")" '^!directory$'
expect_match "local accounts stay local" "$(cat "$T/profile.out")" "admin\\|admin\\|local"
expect_eq "a wrong directory password: 401" "$(login alice wrong-password-1)" 401
expect_eq "an unknown name: 401" "$(login nobody "$ALICEPW")" 401
expect_eq "an empty password is never sent as a bind: 401" "$(login alice "")" 401
expect_eq "the console takes a directory admin" "$(console_login alice "$ALICEPW")" 200
expect_eq "and refuses a directory user who is not one" "$(console_login bob "$BOBPW")" 403

# ---- Basic authentication is for local accounts -------------------------------------
TOKEN=$(login_token admin "$ATRIUM_ADMIN_PASSWORD")
check "an admin sets a local password on a directory account" test "$(api PUT /api/v1/users/bob/password \
	-o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -d '{"password":"local-pass-12345"}')" = 204
TOKEN=
secret local-pass-12345
expect_eq "Basic authentication with it is refused (a directory account)" "$(curl -sS -o "$T/body" \
	-w '%{http_code}' -u bob:local-pass-12345 "$BASE/api/v1/projects")" 401
expect_match "saying how to log in" "$(body)" "directory account: log in with POST /api/v1/session"
expect_eq "and the local password does not log in either" "$(login bob local-pass-12345)" 401
expect_eq "the directory password still does" "$(login bob "$BOBPW")" 200

# ---- a group change is applied at the next login -----------------------------------
cat >"$T/mod.ldif" <<EOF
dn: cn=atrium-admins,ou=groups,$SUFFIX
changetype: modify
add: member
member: uid=bob,ou=people,$SUFFIX
EOF
check "add bob to atrium-admins in the directory" ldapmod -f "$T/mod.ldif"
expect_eq "bob logs in" "$(login bob "$BOBPW")" 200
expect_match "as admin now (roles refreshed at login)" "$(body)" '"role": *"admin"'

# ---- a password changed in the directory works at once --------------------------------
NEWPW=alice-secret-2
secret "$NEWPW"
cat >"$T/pw.ldif" <<EOF
dn: uid=alice,ou=people,$SUFFIX
changetype: modify
replace: userPassword
userPassword: $NEWPW
EOF
check "change alice's password in the directory" ldapmod -f "$T/pw.ldif"
expect_eq "the new password works at once" "$(login alice "$NEWPW")" 200
expect_eq "the old one no longer does" "$(login alice "$ALICEPW")" 401

# ---- StartTLS -----------------------------------------------------------------------
expect_exit "switch to ldap:// (StartTLS)" 0 "$ATRIUM" admin directory set "urls=ldap://127.0.0.1:$LDAP_A" "${AS[@]}"
expect_eq "alice logs in over StartTLS" "$(login alice "$NEWPW")" 200
grep -q "directory: ldap://127.0.0.1:$LDAP_A answered for 'alice'" "$DATA.log" &&
	ok "through the StartTLS server" || not_ok "through the StartTLS server" "$(tail -3 "$DATA.log")"

# ---- concurrent logins on the job pool ------------------------------------------------
par=()
for i in $(seq 12); do
	curl -sS -o /dev/null -w '%{http_code}\n' -X POST -H 'Content-Type: application/json' \
		-d "{\"user\":\"alice\",\"password\":\"$NEWPW\"}" "$BASE/api/v1/session" >"$T/par.$i" &
	par+=($!)
done
wait "${par[@]}" # only the curls: slapd and atriumd are children too
expect_eq "12 concurrent directory logins all succeed" "$(cat "$T"/par.* | sort | uniq -c | tr -s ' ')" " 12 200"

# ---- directory test output ------------------------------------------------------------
expect_exit "admin directory test --user alice" 0 "$ATRIUM" admin directory test --user alice "${AS[@]}"
expect_match "says StartTLS" "$OUT" "ldap://127.0.0.1:$LDAP_A \\(StartTLS\\)"
expect_match "the TLS version" "$OUT" "TLS +TLS1\\.[23]"
expect_match "the names in the certificate" "$OUT" "names +dc1.corp.test, 127.0.0.1"
expect_match "the name compared" "$OUT" "compared +127.0.0.1"
expect_match "that it verified" "$OUT" "chain and name verified"
expect_match "the bind" "$OUT" "Bind +cn=atrium,ou=services,$SUFFIX"
expect_match "the user's entry" "$OUT" "DN +uid=alice,ou=people,$SUFFIX"
expect_match "their groups" "$OUT" "cn=atrium-admins,ou=groups,$SUFFIX"
expect_match "and the role they map to" "$OUT" "Role +admin \\(from directory_group_map\\)"
expect_exit "admin directory test --user nobody fails" 1 "$ATRIUM" admin directory test --user nobody "${AS[@]}"
expect_match "saying the directory has no such user" "$OUT" "no user 'nobody'"

# ---- name mismatch --------------------------------------------------------------------
expect_exit "connect by a name the certificate lacks (localhost)" 0 "$ATRIUM" admin directory set \
	"urls=ldaps://localhost:$LDAPS_A" "${AS[@]}"
expect_eq "a name mismatch: 503" "$(login alice "$NEWPW")" 503
expect_match "the certificate names X, you connected to Y: use the name" "$(body)" \
	"the certificate names dc1.corp.test, 127.0.0.1, you connected to localhost: use the name"

# ---- two servers, the first down ------------------------------------------------------
DOWN=$(free_port)
expect_exit "two servers, the first one down" 0 "$ATRIUM" admin directory set \
	"urls=ldaps://127.0.0.1:$DOWN ldaps://127.0.0.1:$LDAPS_A" "${AS[@]}"
expect_eq "login still works" "$(login alice "$NEWPW")" 200
grep -q "directory: ldaps://127.0.0.1:$DOWN: Can't contact LDAP server" "$DATA.log" &&
	ok "the log says the first did not answer" || not_ok "the log says the first did not answer" "$(tail -5 "$DATA.log")"
tail -n 3 "$DATA.log" | grep -q "directory: ldaps://127.0.0.1:$LDAPS_A answered for 'alice'" &&
	ok "and which one answered" || not_ok "and which one answered" "$(tail -5 "$DATA.log")"

# ---- expired certificate --------------------------------------------------------------
start_slapd B old || { not_ok "slapd B (expired certificate) starts"; finish; }
expect_exit "a server with an expired certificate" 0 "$ATRIUM" admin directory set \
	"urls=ldaps://127.0.0.1:$LDAPS_B" "${AS[@]}"
expect_eq "an expired certificate: 503" "$(login alice "$ALICEPW")" 503
expect_match "saying it expired and what to do" "$(body)" "has expired: renew it on the directory server"
kill "$SLAPD_B"

# ---- a user removed from the directory ----------------------------------------------
expect_exit "back to the good server" 0 "$ATRIUM" admin directory set "urls=ldaps://127.0.0.1:$LDAPS_A" "${AS[@]}"
check "remove bob from the directory" env LDAPTLS_CACERT="$T/dirca.pem" ldapdelete -x \
	-H "ldaps://127.0.0.1:$LDAPS_A" -D "cn=root,$SUFFIX" -w "$ROOTPW" "uid=bob,ou=people,$SUFFIX"
expect_eq "bob can no longer log in" "$(login bob "$BOBPW")" 401
grep -q "failed login for 'bob' from 127.0.0.1: no longer in the directory" "$DATA.log" &&
	ok "and the log says why" || not_ok "and the log says why" "$(tail -3 "$DATA.log")"

# ---- directory first ------------------------------------------------------------------
expect_exit "login order directory,local" 0 "$ATRIUM" admin directory set login_order=directory,local "${AS[@]}"
expect_eq "a directory user logs in" "$(login alice "$NEWPW")" 200
expect_eq "a local account the directory does not know still logs in" \
	"$(login admin "$ATRIUM_ADMIN_PASSWORD")" 200
expect_eq "and a wrong local password is still refused" "$(login admin wrong-password-1)" 401
expect_exit "back to local,directory" 0 "$ATRIUM" admin directory set login_order= "${AS[@]}"

# ---- the directory down ---------------------------------------------------------------
kill "$SLAPD_A"
for _ in $(seq 50); do kill -0 "$SLAPD_A" 2>/dev/null || break; sleep 0.1; done
expect_eq "the directory down: 503, not 401" "$(login alice "$NEWPW")" 503
expect_match "with the reason" "$(body)" "no directory server answered: ldaps://127.0.0.1:$LDAPS_A: Can't contact LDAP server"
expect_eq "local accounts still log in" "$(login admin "$ATRIUM_ADMIN_PASSWORD")" 200
if grep -q -e "$NEWPW" -e "$ALICEPW" -e "$SVCPW" "$DATA.log"; then
	not_ok "no password reaches the log"
else
	ok "no password reaches the log"
fi
finish
