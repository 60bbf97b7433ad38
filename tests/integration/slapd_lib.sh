# A throwaway OpenLDAP slapd for the directory tests (source after lib.sh):
# a cn=config made with slapadd, users alice and bob, the groups
# atrium-admins (alice) and modelers (bob), a service account, and
# certificates from a CA made here (dirca, with an IP SAN for 127.0.0.1).
#
#   slapd_tools          0 when slapd, slapadd and ldapmodify are there
#   slapd_certs          makes $T/dirca.pem, $T/good.pem and $T/old.pem (expired)
#   start_slapd NAME LEAF  starts one on LDAPS_NAME (ldaps) and LDAP_NAME
#                        (ldap + StartTLS); SLAPD_NAME is its PID

slapd_tools() {
	local tool
	for tool in slapd slapadd ldapmodify ldapdelete; do
		command -v "$tool" >/dev/null 2>&1 || PATH=$PATH:/usr/sbin
		command -v "$tool" >/dev/null 2>&1 || return 1
	done
}

SUFFIX=dc=corp,dc=test
ROOTPW=root-secret-1
SVCPW=service-secret-1
ALICEPW=alice-secret-1
BOBPW=bob-secret-1
for s in "$ROOTPW" "$SVCPW" "$ALICEPW" "$BOBPW"; do secret "$s"; done

# ---- certificates ----------------------------------------------------------------
# mkca NAME SUBJECT: a self-signed CA, $T/NAME.pem and .key.
mkca() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/$1.key" \
		-out "$T/$1.pem" -days 30 -subj "/CN=$2" \
		-addext basicConstraints=critical,CA:true -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
}
# mkleaf NAME SAN [STARTDATE ENDDATE]: a server certificate from dirca
# (fixed dates in the past make an expired one without moving the clock).
mkleaf() {
	local name=$1 san=$2
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/$name.key" \
		-out "$T/$name.csr" -subj "/CN=dc1.corp.test" 2>/dev/null
	printf 'subjectAltName=%s\nbasicConstraints=CA:false\nextendedKeyUsage=serverAuth\n' "$san" >"$T/$name.ext"
	if [ $# -eq 4 ]; then
		mkdir -p "$T/ca.db"
		: >"$T/ca.db/index.txt"
		printf 'dir = %s\n[ca]\ndefault_ca = d\n[d]\ndatabase = $dir/index.txt\nnew_certs_dir = $dir\nserial = $dir/serial\ndefault_md = sha256\npolicy = p\n[p]\ncommonName = supplied\n' \
			"$T/ca.db" >"$T/ca.cnf"
		echo 01 >"$T/ca.db/serial"
		openssl ca -batch -config "$T/ca.cnf" -cert "$T/dirca.pem" -keyfile "$T/dirca.key" \
			-in "$T/$name.csr" -out "$T/$name.pem" -startdate "$3" -enddate "$4" \
			-extfile "$T/$name.ext" -notext 2>/dev/null
	else
		openssl x509 -req -in "$T/$name.csr" -CA "$T/dirca.pem" -CAkey "$T/dirca.key" \
			-CAcreateserial -days 10 -extfile "$T/$name.ext" -out "$T/$name.pem" 2>/dev/null
	fi
	chmod 600 "$T/$name.key"
}
slapd_certs() {
	mkca dirca "Directory Test CA"
	mkleaf good "DNS:dc1.corp.test,IP:127.0.0.1"
	mkleaf old "DNS:dc1.corp.test,IP:127.0.0.1" 20200101000000Z 20200201000000Z
	[ -s "$T/good.pem" ] && [ -s "$T/old.pem" ]
}

# ---- slapd -------------------------------------------------------------------------
# start_slapd NAME LEAF: a slapd with its own cn=config and database, on
# ldaps (LDAPS_<NAME>) and ldap + StartTLS (LDAP_<NAME>); binds need TLS.
start_slapd() {
	local name=$1 leaf=$2 d=$T/slapd-$1 p1 p2 pid
	mkdir -p "$d/conf" "$d/db"
	cat >"$d/config.ldif" <<EOF
dn: cn=config
objectClass: olcGlobal
cn: config
olcTLSCertificateFile: $T/$leaf.pem
olcTLSCertificateKeyFile: $T/$leaf.key
olcTLSCACertificateFile: $T/dirca.pem
olcSecurity: tls=1

dn: cn=module{0},cn=config
objectClass: olcModuleList
cn: module{0}
olcModulePath: /usr/lib/ldap
olcModuleLoad: back_mdb

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

include: file:///etc/ldap/schema/core.ldif
include: file:///etc/ldap/schema/cosine.ldif
include: file:///etc/ldap/schema/inetorgperson.ldif

dn: olcDatabase={-1}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {-1}frontend

dn: olcDatabase={0}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {0}config
olcAccess: {0}to * by * none

dn: olcDatabase={1}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {1}mdb
olcSuffix: $SUFFIX
olcDbDirectory: $d/db
olcRootDN: cn=root,$SUFFIX
olcRootPW: $ROOTPW
olcAccess: {0}to attrs=userPassword by self =xw by anonymous auth by * none
olcAccess: {1}to * by dn.exact="cn=atrium,ou=services,$SUFFIX" read by self read by * none
EOF
	cat >"$d/data.ldif" <<EOF
dn: $SUFFIX
objectClass: dcObject
objectClass: organization
o: corp
dc: corp

dn: ou=people,$SUFFIX
objectClass: organizationalUnit
ou: people

dn: ou=groups,$SUFFIX
objectClass: organizationalUnit
ou: groups

dn: ou=services,$SUFFIX
objectClass: organizationalUnit
ou: services

dn: cn=atrium,ou=services,$SUFFIX
objectClass: inetOrgPerson
cn: atrium
sn: service
userPassword: $SVCPW

dn: uid=alice,ou=people,$SUFFIX
objectClass: inetOrgPerson
uid: alice
cn: Alice Able
sn: Able
displayName: Alice A. Able
mail: alice@corp.test
userPassword: $ALICEPW

dn: uid=bob,ou=people,$SUFFIX
objectClass: inetOrgPerson
uid: bob
cn: Bob Baker
sn: Baker
mail: bob@corp.test
userPassword: $BOBPW

dn: cn=atrium-admins,ou=groups,$SUFFIX
objectClass: groupOfNames
cn: atrium-admins
member: uid=alice,ou=people,$SUFFIX

dn: cn=modelers,ou=groups,$SUFFIX
objectClass: groupOfNames
cn: modelers
member: uid=bob,ou=people,$SUFFIX
EOF
	slapadd -n0 -F "$d/conf" -l "$d/config.ldif" >"$d/slapadd.log" 2>&1 &&
		slapadd -n1 -F "$d/conf" -l "$d/data.ldif" >>"$d/slapadd.log" 2>&1 || {
		sed 's/^/#   /' "$d/slapadd.log"
		return 1
	}
	p1=$(free_port)
	p2=$(free_port)
	slapd -F "$d/conf" -h "ldaps://127.0.0.1:$p1/ ldap://127.0.0.1:$p2/" -d 0 >"$d.log" 2>&1 &
	pid=$!
	_pids+=("$pid")
	eval "LDAPS_$name=$p1 LDAP_$name=$p2 SLAPD_$name=$pid"
	wait_port "$p1" 20 && wait_port "$p2" 20
}
