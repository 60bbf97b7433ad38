#!/usr/bin/env bash
# The issue's acceptance sequence, run with atrium keytool:
#   -genkey -alias MyDomain -keyalg RSA -keystore KeyStore.jks -keysize 2048
#   -export -alias MyDomain -file certificate.cer -keystore KeyStore.jks
#   -import -alias MyDomain -file certificate.cer -keystore cert.jks
# (passwords and the name answered at the prompts) makes files Java's
# keytool lists, and a Java TLS client (tests/data/java/TlsProbe.java)
# accepts cert.jks as its trust store against an openssl s_server on
# 127.0.0.1 that serves the generated key (taken out with atrium keytool
# -importkeystore and openssl pkcs12). Then the same with Java making the
# files and atrium reading them, mixed runs, a JKS trust store, and a
# chain from a CA made with atrium keytool.
. "$(dirname "$0")/lib.sh"

export LC_ALL=C.UTF-8 LANG=C.UTF-8 TZ=UTC
for tool in keytool javac java openssl; do
	if ! command -v $tool >/dev/null 2>&1; then
		echo "# $tool is not installed; skipping the TLS interop tests"
		finish
	fi
done

cd "$T" || exit 1
AK() { "$ATRIUM" keytool "$@"; }
JK() { keytool "$@"; }
mkdir classes
check "TlsProbe.java compiles" javac -d classes "$ATRIUM_TOP/tests/data/java/TlsProbe.java"

ANSWERS='John Doe\nDev\nACME\nSpringfield\nOregon\nUS\nyes\n'

# sequence TOOL DIR [-storetype T]: the issue's three commands, answered on stdin.
sequence() {
	local tool=$1 dir=$2
	shift 2
	mkdir -p "$dir"
	(
		cd "$dir" || exit 1
		printf "changeit\nchangeit\n$ANSWERS" |
			$tool -genkey -alias MyDomain -keyalg RSA -keystore KeyStore.jks -keysize 2048 "$@"
		printf 'changeit\n' |
			$tool -export -alias MyDomain -file certificate.cer -keystore KeyStore.jks
		printf 'changeit\nchangeit\nyes\n' |
			$tool -import -alias MyDomain -file certificate.cer -keystore cert.jks "$@"
	) >"$dir.log" 2>&1
}

# serve KEYSTORE PASS ALIAS: s_server with that key entry; sets SPORT.
serve() {
	local ks=$1 pass=$2 alias=$3 dir
	dir=$(mktemp -d "$T/srv.XXXXXX")
	AK -importkeystore -noprompt -srckeystore "$ks" -srcstorepass "$pass" -srcalias "$alias" \
		-destkeystore "$dir/srv.p12" -deststoretype PKCS12 -deststorepass "$pass" \
		>"$dir/import.log" 2>&1
	openssl pkcs12 -in "$dir/srv.p12" -passin "pass:$pass" -nodes -nocerts 2>/dev/null |
		openssl pkey -out "$dir/key.pem"
	openssl pkcs12 -in "$dir/srv.p12" -passin "pass:$pass" -nokeys -clcerts 2>/dev/null |
		openssl x509 -out "$dir/cert.pem"
	openssl pkcs12 -in "$dir/srv.p12" -passin "pass:$pass" -nokeys -cacerts 2>/dev/null \
		>"$dir/chain.pem"
	SPORT=$(free_port)
	local extra=()
	[ -s "$dir/chain.pem" ] && extra=(-cert_chain "$dir/chain.pem")
	openssl s_server -accept "127.0.0.1:$SPORT" -cert "$dir/cert.pem" -key "$dir/key.pem" \
		"${extra[@]}" -www -quiet </dev/null >"$dir/server.log" 2>&1 &
	SPID=$!
	_pids+=("$SPID")
	wait_port "$SPORT" 20 || echo "# s_server did not start: $(cat "$dir/server.log")"
}
stop_server() {
	kill "$SPID" 2>/dev/null
	wait "$SPID" 2>/dev/null
}
probe() { java -cp classes TlsProbe 127.0.0.1 "$1" "$2" "$3" 2>&1; }

strip_dates() { sed -E 's/[A-Z][a-z]{2} [0-9]{1,2}, [0-9]{4}/DATE/'; }

# -------------------------------------------------- A: atrium does it all
sequence AK a
check "atrium: the three commands ran" test -s a/cert.jks
jl=$(JK -list -keystore a/KeyStore.jks -storepass changeit 2>&1)
expect_match "atrium's KeyStore.jks: Java lists the key entry" "$jl" \
	"mydomain, [A-Z][a-z]+ [0-9]+, [0-9]+, PrivateKeyEntry,"
expect_eq "atrium's KeyStore.jks: atrium lists it as Java does" \
	"$(AK -list -v -keystore a/KeyStore.jks -storepass changeit 2>&1)" \
	"$(JK -list -v -keystore a/KeyStore.jks -storepass changeit 2>&1)"
jl=$(JK -list -v -keystore a/cert.jks -storepass changeit 2>&1)
expect_match "atrium's cert.jks: Java lists the trusted certificate" "$jl" \
	"Entry type: trustedCertEntry"
expect_match "atrium's cert.jks: owner from the prompts" "$jl" \
	"Owner: CN=John Doe, OU=Dev, O=ACME, L=Springfield, ST=Oregon, C=US"
expect_eq "atrium's cert.jks: atrium lists it as Java does" \
	"$(AK -list -keystore a/cert.jks -storepass changeit 2>&1)" \
	"$(JK -list -keystore a/cert.jks -storepass changeit 2>&1)"
serve a/KeyStore.jks changeit mydomain
expect_match "Java TLS client trusts atrium's cert.jks against the atrium key" \
	"$(probe "$SPORT" a/cert.jks changeit)" "^OK TLSv1\.[23] CN=John Doe, OU=Dev"
stop_server

# ---------------------------------------- B: Java does it, atrium reads it
sequence JK b
check "Java: the three commands ran" test -s b/cert.jks
for f in KeyStore.jks cert.jks; do
	expect_eq "Java's $f: atrium -list -v prints what Java prints" \
		"$(AK -list -v -keystore b/$f -storepass changeit 2>&1)" \
		"$(JK -list -v -keystore b/$f -storepass changeit 2>&1)"
done
serve b/KeyStore.jks changeit mydomain
expect_match "Java TLS client trusts Java's cert.jks against the key atrium exported" \
	"$(probe "$SPORT" b/cert.jks changeit)" "^OK TLSv1\.[23] CN=John Doe"
expect_match "... and not atrium's cert.jks of another key" \
	"$(probe "$SPORT" a/cert.jks changeit)" "^FAIL "
stop_server

# ---------------------------------------------------------- C: mixed runs
mkdir -p c1 c2
cp a/KeyStore.jks c1/
(cd c1 && printf 'changeit\n' | keytool -export -alias MyDomain -file certificate.cer \
	-keystore KeyStore.jks && printf 'changeit\nchangeit\nyes\n' |
	keytool -import -alias MyDomain -file certificate.cer -keystore cert.jks) >c1.log 2>&1
cp b/KeyStore.jks c2/
(cd c2 && printf 'changeit\n' | "$ATRIUM" keytool -export -alias MyDomain \
	-file certificate.cer -keystore KeyStore.jks && printf 'changeit\nchangeit\nyes\n' |
	"$ATRIUM" keytool -import -alias MyDomain -file certificate.cer -keystore cert.jks) \
	>c2.log 2>&1
check "Java exports the same certificate from atrium's key store as atrium did" \
	cmp c1/certificate.cer a/certificate.cer
check "atrium exports the same certificate from Java's key store as Java did" \
	cmp c2/certificate.cer b/certificate.cer
serve a/KeyStore.jks changeit mydomain
expect_match "Java TLS client trusts the cert.jks Java made from atrium's key store" \
	"$(probe "$SPORT" c1/cert.jks changeit)" "^OK "
stop_server
serve b/KeyStore.jks changeit mydomain
expect_match "Java TLS client trusts the cert.jks atrium made from Java's key store" \
	"$(probe "$SPORT" c2/cert.jks changeit)" "^OK "
stop_server

# ------------------------------------------------------ D: real JKS files
sequence AK d -storetype JKS
expect_match "with -storetype JKS Java reads a JKS trust store" \
	"$(JK -list -keystore d/cert.jks -storepass changeit 2>&1)" "Keystore type: JKS"
serve d/KeyStore.jks changeit mydomain
expect_match "Java TLS client trusts atrium's JKS cert.jks" \
	"$(probe "$SPORT" d/cert.jks changeit)" "^OK "
stop_server

# ------------------------------- E: a chain from a CA made with atrium keytool
mkdir -p e
(
	cd e || exit 1
	AK -genkeypair -keystore ca.p12 -storepass changeit -alias ca -keyalg EC \
		-dname 'CN=Atrium Test Root, O=Atrium' -ext bc:c=ca:true -ext ku:c=keyCertSign,cRLSign \
		-validity 3650
	AK -exportcert -rfc -keystore ca.p12 -storepass changeit -alias ca -file ca.pem
	AK -genkeypair -keystore server.p12 -storepass changeit -alias server -keyalg RSA \
		-dname 'CN=localhost' -ext san=dns:localhost,ip:127.0.0.1
	AK -certreq -keystore server.p12 -storepass changeit -alias server -file server.csr
	AK -gencert -keystore ca.p12 -storepass changeit -alias ca -infile server.csr \
		-outfile server.pem -rfc -ext honored=all -ext eku=serverAuth
	AK -importcert -noprompt -keystore server.p12 -storepass changeit -alias ca -file ca.pem
	AK -importcert -keystore server.p12 -storepass changeit -alias server -file server.pem
	AK -importcert -noprompt -keystore trust.jks -storetype JKS -storepass changeit -alias root \
		-file ca.pem
) >e.log 2>&1
expect_match "the CA reply was installed on the server key" "$(cat e.log)" \
	"Certificate reply was installed in keystore"
expect_match "Java lists the server chain (leaf and root)" \
	"$(JK -list -v -keystore e/server.p12 -storepass changeit -alias server 2>&1)" \
	"Certificate chain length: 2"
serve e/server.p12 changeit server
expect_match "Java TLS client trusts the server through the root in atrium's trust.jks" \
	"$(probe "$SPORT" e/trust.jks changeit)" "^OK TLSv1\.[23] CN=localhost"
expect_match "... and not through a trust store without that root" \
	"$(probe "$SPORT" a/cert.jks changeit)" "^FAIL "
stop_server

finish
