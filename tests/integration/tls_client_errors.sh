#!/usr/bin/env bash
# What the client says about servers it must not trust, with openssl
# s_server as the server and openssl's own CA making the certificates: a
# self-signed one, a wrong name, an expired one, one not valid yet, a client
# certificate, and a server whose root changed after it was trusted. Each
# sentence carries what a person needs to act: the fingerprint and the
# `atrium certs trust` command, the names, the dates. Also: trusting the
# root a server sends keeps working when the server's own certificate is
# renewed.
. "$(dirname "$0")/lib.sh"

expect_exit() {
	local name=$1 code=$2 rc
	shift 2
	OUT=$("$@" 2>&1)
	rc=$?
	if [ "$rc" -eq "$code" ]; then ok "$name"; else not_ok "$name" "exit $rc, wanted $code: $*" "$OUT"; fi
}

sha256_of() { openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/.*=//'; }

# An OpenSSL CA in $T/$1 with root $1/root.pem, $1/root.key.
osslca() {
	local d=$T/$1
	mkdir -p "$d/new"
	: >"$d/index.txt"
	echo 1000 >"$d/serial"
	cat >"$d/ca.cnf" <<EOF
[ ca ]
default_ca = CA_default
[ CA_default ]
dir = $d
database = $d/index.txt
new_certs_dir = $d/new
serial = $d/serial
default_md = sha256
policy = pol
unique_subject = no
[ pol ]
commonName = supplied
EOF
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
		-subj "/CN=$2" -addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" \
		-keyout "$d/root.key" -out "$d/root.pem" 2>/dev/null
}

# leaf CA NAME SAN START END [EKU]: $T/NAME.pem and $T/NAME.key issued by CA.
leaf() {
	local ca=$T/$1 name=$2
	printf 'subjectAltName = %s\nbasicConstraints = CA:FALSE\nextendedKeyUsage = %s\n' \
		"$3" "${6:-serverAuth}" >"$T/$name.ext"
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$name" \
		-keyout "$T/$name.key" -out "$T/$name.csr" 2>/dev/null &&
		openssl ca -batch -config "$ca/ca.cnf" -cert "$ca/root.pem" -keyfile "$ca/root.key" \
			-in "$T/$name.csr" -out "$T/$name.pem" -startdate "$4" -enddate "$5" \
			-extfile "$T/$name.ext" -notext >/dev/null 2>&1
}

# serve CERT KEY [CHAIN]: openssl s_server on $SPORT with that certificate.
SPORT=$(free_port)
SPID=
serve() {
	[ -n "$SPID" ] && { kill "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null; }
	openssl s_server -accept "127.0.0.1:$SPORT" -cert "$1" -key "$2" ${3:+-cert_chain "$3"} \
		-www -quiet >/dev/null 2>&1 &
	SPID=$!
	_pids+=("$SPID")
	wait_port "$SPORT" 10 || not_ok "s_server starts with $1"
}
HP=127.0.0.1:$SPORT

osslca rootca "Test Root CA"
osslca evilca "Another Root CA"
NOW=$(date -u +%Y%m%d%H%M%SZ)
NEXT=$(date -u -d '+30 days' +%Y%m%d%H%M%SZ)
leaf rootca good "DNS:localhost,IP:127.0.0.1" "$NOW" "$NEXT"
leaf rootca renewed "DNS:localhost,IP:127.0.0.1" "$NOW" "$NEXT"
leaf rootca misnamed "DNS:other.example,IP:10.1.1.106" "$NOW" "$NEXT"
leaf rootca expired "DNS:localhost,IP:127.0.0.1" 20200101000000Z 20210101000000Z
leaf rootca future "DNS:localhost,IP:127.0.0.1" 20990101000000Z 20991231000000Z
leaf rootca clientonly "DNS:localhost,IP:127.0.0.1" "$NOW" "$NEXT" clientAuth
leaf evilca evil "DNS:localhost,IP:127.0.0.1" "$NOW" "$NEXT"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj "/CN=self" \
	-addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -keyout "$T/self.key" -out "$T/self.pem" 2>/dev/null
for f in good renewed misnamed expired future clientonly evil self; do
	[ -s "$T/$f.pem" ] || not_ok "openssl made $f.pem"
done

# --- self-signed, untrusted
serve "$T/self.pem" "$T/self.key"
FP=$(sha256_of "$T/self.pem")
expect_exit "a self-signed server is refused" 1 env ATRIUM_PASSWORD=x "$ATRIUM" login -u a "$HP"
expect_match "saying it is self-signed and not trusted" "$OUT" "^atrium: the certificate of $HP is self-signed and not trusted"
expect_match "with its SHA-256 fingerprint" "$OUT" "$FP"
expect_match "and the command" "$OUT" "then run: atrium certs trust $HP\$"
expect_exit "certs show lists it and says why" 0 "$ATRIUM" certs show "$HP"
expect_match "its names" "$OUT" "Names: +DNS:localhost, IP:127.0.0.1"
expect_match "its fingerprint" "$OUT" "SHA-256: +$FP"
expect_match "not trusted" "$OUT" "Trusted: no. The certificate of $HP is self-signed"
expect_exit "certs trust without a terminal or --yes refuses" 2 "$ATRIUM" certs trust "$HP" </dev/null
expect_match "saying how" "$OUT" "without a confirmation: run this on a terminal, or add --fingerprint"
expect_eq "nothing was written" "$(ls "$ATRIUM_HOME/certs" 2>/dev/null)" ""
expect_exit "certs trust --yes trusts it" 0 "$ATRIUM" certs trust --yes "$HP"
expect_match "and says a login now connects" "$OUT" "atrium login $HP now connects securely"
expect_exit "then it is trusted" 0 "$ATRIUM" certs show "$HP"
expect_match "through cert.jks" "$OUT" "Trusted: yes.*certs/cert.jks \\(alias $HP\\)"
# A session for it (as after a login): s_server -www answers any GET with a page.
printf '{"server": "https://%s", "user": "a", "token": "t0k3n"}\n' "$HP" >"$ATRIUM_HOME/session.json"
expect_exit "a request gets past TLS (s_server is no Atrium server)" 1 "$ATRIUM" project list
expect_match "so the complaint is about the answer" "$OUT" "not valid JSON.*is $HP an Atrium server"
rm -f "$ATRIUM_HOME/session.json"

# --- a server whose certificate changed to one that does not chain: loud refusal
serve "$T/evil.pem" "$T/evil.key" "$T/evilca/root.pem"
expect_exit "the changed certificate is refused" 1 env ATRIUM_PASSWORD=x "$ATRIUM" login -u a "$HP"
expect_match "with a warning that it changed" "$OUT" "^atrium: WARNING: the certificate of $HP has changed"
expect_match "naming the new root" "$OUT" "chains to the root CN=Another Root CA"
expect_match "and the new fingerprint" "$OUT" "$(sha256_of "$T/evil.pem")"
expect_match "saying it may be an attack" "$OUT" "This may be an attack"
expect_exit "certs trust with another fingerprint refuses" 1 \
	"$ATRIUM" certs trust "$HP" --fingerprint "$FP"
expect_match "and says so" "$OUT" "is not that of the certificate $HP presents"
expect_exit "certs show tells the same" 0 "$ATRIUM" certs show "$HP"
expect_match "not trusted" "$OUT" "Trusted: no. The certificate of $HP is not trusted: it chains to the root CN=Another Root CA"
"$ATRIUM" certs remove "$HP" >/dev/null 2>&1 || not_ok "certs remove"

# --- trusting a server that sends its root pins the root: renewals keep working
serve "$T/good.pem" "$T/good.key" "$T/rootca/root.pem"
ROOTFP=$(sha256_of "$T/rootca/root.pem")
expect_exit "the root's fingerprint is accepted" 0 "$ATRIUM" certs trust "$HP" --fingerprint "$ROOTFP"
expect_match "the root is what is trusted" "$OUT" "added CN=Test Root CA \\(SHA-256 $ROOTFP\\)"
expect_exit "keytool reads the trust store with cert.pass" 0 keytool -list \
	-keystore "$ATRIUM_HOME/certs/cert.jks" -storepass "$(cat "$ATRIUM_HOME/certs/cert.pass")"
expect_match "one trusted entry, the root" "$OUT" "trustedCertEntry.*$ROOTFP"
serve "$T/renewed.pem" "$T/renewed.key"
expect_exit "a renewed leaf from the same root" 0 "$ATRIUM" certs show "$HP"
expect_match "is trusted (even without the root sent)" "$OUT" "Trusted: yes. It chains to CN=Test Root CA"
expect_exit "certs trust on a trusted server changes nothing" 0 "$ATRIUM" certs trust --yes "$HP"
expect_match "and says so" "$OUT" "is trusted already"

# --- the root trusted, the certificate wrong in other ways
serve "$T/misnamed.pem" "$T/misnamed.key"
expect_exit "a certificate for other names is refused" 1 env ATRIUM_PASSWORD=x "$ATRIUM" login -u a "$HP"
expect_eq "listing its names" "$OUT" \
	"atrium: the certificate of $HP is for DNS:other.example, IP:10.1.1.106, not for 127.0.0.1; connect with one of those names, or have its administrator add 127.0.0.1 to the certificate"
expect_exit "certs trust will not paper over a wrong name" 1 "$ATRIUM" certs trust --yes "$HP"
expect_match "saying trusting would not help" "$OUT" "trusting it would not help"

serve "$T/expired.pem" "$T/expired.key"
expect_exit "an expired certificate is refused" 1 env ATRIUM_PASSWORD=x "$ATRIUM" login -u a "$HP"
expect_match "with its dates" "$OUT" "expired on 2021-01-01 00:00 UTC \\(valid from 2020-01-01 00:00 UTC until 2021-01-01 00:00 UTC\\)"
expect_match "and who must act" "$OUT" "its administrator must renew it"
expect_exit "by name as well" 1 env ATRIUM_PASSWORD=x "$ATRIUM" login -u a "localhost:$SPORT"
expect_match "same sentence" "$OUT" "the certificate of localhost:$SPORT expired on 2021-01-01"

serve "$T/future.pem" "$T/future.key"
expect_exit "a certificate not valid yet is refused" 1 env ATRIUM_PASSWORD=x "$ATRIUM" login -u a "$HP"
expect_match "pointing at the clock" "$OUT" "is not valid before 2099-01-01 00:00 UTC .*check this computer's clock"

serve "$T/clientonly.pem" "$T/clientonly.key"
expect_exit "a client-only certificate is refused" 1 env ATRIUM_PASSWORD=x "$ATRIUM" login -u a "$HP"
expect_match "as not for a TLS server" "$OUT" "is not valid for a TLS server"

# --- a root imported from a PEM file works like a trusted one
"$ATRIUM" certs remove "$HP" >/dev/null 2>&1
serve "$T/good.pem" "$T/good.key"
expect_exit "with the root removed" 0 "$ATRIUM" certs show "$HP"
expect_match "it is not trusted again" "$OUT" "Trusted: no. .*issued by CN=Test Root CA"
expect_exit "certs import of the root's PEM" 0 "$ATRIUM" certs import "$T/rootca/root.pem"
expect_match "says what was added" "$OUT" "Trusted 'test-root-ca': CN=Test Root CA \\(SHA-256 $ROOTFP\\)"
expect_exit "then the server is trusted" 0 "$ATRIUM" certs show "$HP"
expect_match "through it" "$OUT" "Trusted: yes.*\\(alias test-root-ca\\)"

finish
