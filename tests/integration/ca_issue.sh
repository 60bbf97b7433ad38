#!/usr/bin/env bash
# atrium ca init | issue | export | show, checked by the real tools: openssl
# reads the root, the PKCS#12, the PEM chain and key; keytool lists the
# PKCS#12 and JKS keystores and the JKS trust store with its password file;
# files are never overwritten, keys are mode 0600, misuse exits 2.
. "$(dirname "$0")/lib.sh"

expect_exit() {
	local name=$1 code=$2 rc
	shift 2
	OUT=$("$@" 2>&1)
	rc=$?
	if [ "$rc" -eq "$code" ]; then ok "$name"; else not_ok "$name" "exit $rc, wanted $code: $*" "$OUT"; fi
}

cd "$T" || exit 1
CA=$ATRIUM_HOME/ca

# --- init
expect_exit "ca show before init" 1 "$ATRIUM" ca show
expect_match "says to run init" "$OUT" "there is no CA in $CA: run atrium ca init first"
expect_exit "ca issue before init" 1 "$ATRIUM" ca issue h --out x.p12 --storepass-file x.pass
expect_eq "and writes nothing" "$(ls x.p12 x.pass 2>/dev/null)" ""
expect_exit "ca init (default dir)" 0 "$ATRIUM" ca init
expect_match "says where" "$OUT" "Created a root certificate authority in $CA"
expect_eq "ca.key is mode 0600" "$(stat -c %a "$CA/ca.key")" 600
expect_eq "the CA folder is mode 0700" "$(stat -c %a "$CA")" 700
expect_match "openssl reads the root" "$(openssl x509 -in "$CA/ca.crt" -noout -subject -ext basicConstraints,keyUsage 2>&1)" \
	"subject=CN = Atrium root CA on .*Certificate Sign.*CA:TRUE"
ROOTFP=$(openssl x509 -in "$CA/ca.crt" -noout -fingerprint -sha256 | sed 's/.*=//')
expect_match "and prints its fingerprint" "$OUT" "SHA-256: +$ROOTFP"
# 3650 days from an hour ago: 3649 whole days left.
expect_days_left "valid 10 years" "$(openssl x509 -in "$CA/ca.crt" -noout -enddate)" 3649 3650
expect_exit "a second init refuses" 1 "$ATRIUM" ca init
expect_match "saying it would replace the CA" "$OUT" "already holds a CA"
expect_eq "the root is unchanged" "$(openssl x509 -in "$CA/ca.crt" -noout -fingerprint -sha256 | sed 's/.*=//')" "$ROOTFP"
expect_exit "ca init --dir --cn --keyalg RSA" 0 "$ATRIUM" ca init --dir "$T/rsa" --cn "Team Root" --keyalg RSA
expect_match "an RSA 3072 root" "$(openssl x509 -in "$T/rsa/ca.crt" -noout -text)" "Public-Key: \\(3072 bit\\)"
expect_exit "ca show" 0 "$ATRIUM" ca show --dir "$T/rsa"
expect_match "shows the subject" "$OUT" "Subject: +CN=Team Root"

# --- issue: PKCS#12 with a random password written to a file
expect_exit "issue a PKCS#12 for names and addresses" 0 \
	"$ATRIUM" ca issue srv.example localhost 127.0.0.1,::1 --out server.p12 --storepass-file server.pass
expect_match "says which names" "$OUT" "for DNS:srv.example, DNS:localhost, IP:127.0.0.1, IP:::1"
expect_match "and that it made the password" "$OUT" "Made a random password for server.p12 and wrote it to server.pass"
expect_eq "server.p12 is mode 0600" "$(stat -c %a server.p12)" 600
expect_eq "server.pass is mode 0600" "$(stat -c %a server.pass)" 600
P12=$(openssl pkcs12 -in server.p12 -passin file:server.pass -nodes 2>/dev/null)
expect_match "openssl opens it: the key" "$P12" "BEGIN PRIVATE KEY"
expect_match "the leaf and the root" "$P12" "subject=CN = srv.example.*subject=CN = Atrium root CA on"
expect_exit "keytool lists it" 0 keytool -list -keystore server.p12 -storepass "$(cat server.pass)"
expect_match "one key entry, alias server" "$OUT" "server, .*PrivateKeyEntry"
LEAF=$(openssl pkcs12 -in server.p12 -passin file:server.pass -nokeys -clcerts 2>/dev/null | openssl x509 -noout -text)
expect_match "SANs as given" "$LEAF" "DNS:srv.example, DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1"
expect_match "for TLS servers" "$LEAF" "TLS Web Server Authentication"
expect_match "valid 397 days" "$LEAF" "Not After"
openssl pkcs12 -in server.p12 -passin file:server.pass -nokeys -clcerts 2>/dev/null >leaf.pem
expect_exit "openssl verifies the leaf against the root" 0 openssl verify -CAfile "$CA/ca.crt" -purpose sslserver leaf.pem
expect_exit "issuing to an existing file refuses" 1 \
	"$ATRIUM" ca issue other --out server.p12 --storepass-file server.pass
expect_match "naming it" "$OUT" "server.p12 exists already"

# --- issue: JKS (extension), password file given, --alias, --client, --days, RSA
echo jks-pass-123 >jks.pass
expect_exit "issue a JKS" 0 "$ATRIUM" ca issue app.example --out app.jks --storepass-file jks.pass \
	--alias app --client --days 30 --keyalg RSA
expect_exit "keytool opens the JKS with that password" 0 keytool -list -v -keystore app.jks -storepass jks-pass-123
expect_match "alias app, a key entry" "$OUT" "Alias name: app.*PrivateKeyEntry"
expect_match "with its chain of two" "$OUT" "Certificate chain length: 2"
expect_match "an RSA 2048 key" "$OUT" "2048-bit RSA key"
expect_match "usable as a client too" "$OUT" "clientAuth"

# --- issue: PEM files for other servers (PostgreSQL's ssl_cert_file / ssl_key_file)
expect_exit "issue PEM cert and key" 0 "$ATRIUM" ca issue db.example 127.0.0.1 --cert-out db.crt --key-out db.key
expect_eq "the key is mode 0600" "$(stat -c %a db.key)" 600
expect_match "the key is unencrypted PEM" "$(head -1 db.key)" "^-----BEGIN PRIVATE KEY-----$"
expect_eq "the chain file holds leaf and root" "$(grep -c 'BEGIN CERTIFICATE' db.crt)" 2
expect_eq "with Unix line ends" "$(grep -c $'\r' db.crt)" 0
expect_eq "key and certificate belong together" \
	"$(openssl x509 -in db.crt -noout -pubkey | openssl sha256)" "$(openssl pkey -in db.key -pubout | openssl sha256)"
expect_exit "openssl verifies it for 127.0.0.1" 0 openssl verify -CAfile "$CA/ca.crt" -verify_ip 127.0.0.1 db.crt
expect_exit "a PEM keystore with --out x.pem" 0 "$ATRIUM" ca issue pem.example --out all.pem
expect_match "key and chain in one file" "$(grep -c BEGIN all.pem)" "^3$"

# --- issue: misuse
expect_exit "issue without a destination" 2 "$ATRIUM" ca issue h
expect_exit "issue with --key-out only" 2 "$ATRIUM" ca issue h --key-out k.pem
expect_exit "issue with a bad --days" 2 "$ATRIUM" ca issue h --out h.p12 --days 0
expect_exit "issue with a bad --keyalg" 2 "$ATRIUM" ca issue h --out h.p12 --keyalg DSA
expect_exit "issue with a bad --storetype" 2 "$ATRIUM" ca issue h --out h.bin --storetype JCEKS
expect_exit "issue with a bad name" 2 "$ATRIUM" ca issue 'bad name' --cert-out b.crt
expect_match "says why" "$OUT" "'bad name' is not a host name or address"
expect_exit "a PKCS#12 without a password and no terminal" 2 "$ATRIUM" ca issue h --out h.p12 </dev/null
expect_match "asks for --storepass-file" "$OUT" "give --storepass-file F"
expect_eq "nothing was written" "$(ls h.p12 b.crt 2>/dev/null)" ""
expect_exit "issue with 500 days warns about browsers" 0 "$ATRIUM" ca issue long.example --days 500 --cert-out long.crt
expect_match "the warning" "$OUT" "browsers refuse server certificates valid for more than 398 days"

# --- export
expect_exit "export PEM (from the extension)" 0 "$ATRIUM" ca export --out root.pem
expect_eq "the same root" "$(openssl x509 -in root.pem -noout -fingerprint -sha256 | sed 's/.*=//')" "$ROOTFP"
expect_exit "export DER" 0 "$ATRIUM" ca export --format der --out root.cer
expect_eq "openssl reads the DER" "$(openssl x509 -inform DER -in root.cer -noout -fingerprint -sha256 | sed 's/.*=//')" "$ROOTFP"
mkdir -p bundle
expect_exit "export JKS as cert.jks" 0 "$ATRIUM" ca export --format jks --out bundle/cert.jks
expect_match "with cert.pass beside it" "$OUT" "with its password in bundle/cert.pass \\(new, random\\)"
expect_eq "cert.pass is mode 0600" "$(stat -c %a bundle/cert.pass)" 600
expect_exit "keytool reads it with cert.pass" 0 keytool -list -keystore bundle/cert.jks -storepass "$(cat bundle/cert.pass)"
expect_match "a trusted entry with the root's fingerprint" "$OUT" "atrium-ca, .*trustedCertEntry.*$ROOTFP"
expect_exit "export PKCS#12 with a given password file and alias" 0 \
	"$ATRIUM" ca export --format pkcs12 --out trust.p12 --storepass-file jks.pass --alias team-root
expect_exit "keytool reads the PKCS#12 trust store" 0 keytool -list -keystore trust.p12 -storepass jks-pass-123
expect_match "as a trusted entry" "$OUT" "team-root, .*trustedCertEntry"
expect_exit "export refuses to overwrite" 1 "$ATRIUM" ca export --out root.pem
expect_exit "export without --out" 2 "$ATRIUM" ca export --format pem
expect_exit "export with an unknown extension and no --format" 2 "$ATRIUM" ca export --out root.bin
expect_exit "export with a bad --format" 2 "$ATRIUM" ca export --format xml --out r.xml

# The exported trust store is what a client's certs folder needs.
mkdir -p "$T/client/certs"
cp bundle/cert.jks bundle/cert.pass "$T/client/certs/"
expect_exit "atrium certs list reads it" 0 env ATRIUM_HOME="$T/client" "$ATRIUM" certs list
expect_match "listing the root" "$OUT" "atrium-ca +CN=Atrium root CA on"

finish
