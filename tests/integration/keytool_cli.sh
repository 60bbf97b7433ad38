#!/usr/bin/env bash
# atrium keytool answers each command line as Java 17's keytool does: the
# same stdout, stderr and exit status, on copies of the same files. The
# command lines below cover -help, option errors, every command, prompts
# answered on stdin, wrong passwords, weak-algorithm warnings. Random parts
# (new keys, serial numbers, fingerprints, validity times, base64 and hex
# dumps of new certificates) are masked before comparing.
#
# Not compared (known, documented differences): Java reading several
# answers from a pipe (its fresh BufferedReader per prompt loses lines) and
# importing JCEKS secret keys (atrium keeps secret keys listed only).
. "$(dirname "$0")/lib.sh"

export LC_ALL=C.UTF-8 LANG=C.UTF-8 TZ=UTC
VEC=$ATRIUM_TOP/tests/data/keystore-vectors
if ! command -v keytool >/dev/null 2>&1; then
	echo "# keytool (Java 17) is not installed; nothing to compare with"
	finish
fi

# Odd certificates for -printcert and weak-algorithm warnings.
SYN=$T/syn
mkdir -p "$SYN"
(
	cd "$SYN" || exit 1
	openssl req -x509 -newkey rsa:1024 -nodes -keyout k1.pem -out rsa1024-sha1.pem -days 30 \
		-sha1 -subj '/CN=weak/emailAddress=a@b.c/DC=example/DC=com/UID=jdoe/title=Dr'
	openssl req -x509 -newkey rsa:2048 -nodes -keyout k2.pem -out md5.pem -days 30 -md5 \
		-subj '/CN=md5 cert'
	openssl req -newkey rsa:1024 -nodes -keyout k3.pem -out r.csr -subj '/CN=tiny'
	openssl x509 -req -in r.csr -signkey k3.pem -out rsa512-v1.pem -days 5
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes -keyout k4.pem \
		-out ec384.pem -days 30 -subj '/CN=ec384/O=quote"and\\back'
	cat md5.pem ec384.pem >chain2.pem
) >/dev/null 2>&1

# The masks: values that differ on every run of either tool.
mask() {
	sed -e 's/^Serial number: [0-9a-f]*$/Serial number: N/' \
		-e 's/\(SHA1\|SHA256\|SHA-256)\): [0-9A-F:]*/\1: FP/' \
		-e 's/^Valid from: .*$/Valid from: X/' \
		-e 's/^[A-Za-z0-9+\/=]\{1,64\}\r\{0,1\}$/B64/' \
		-e 's/^[0-9A-F]\{4\}: [0-9A-F ]\{2,\}  .*$/HEXDUMP/'
}

# fresh: each section starts from copies of the vectors, one per tool.
fresh() {
	J=$T/java-$1 A=$T/atrium-$1
	mkdir -p "$J" "$A"
	for d in "$J" "$A"; do
		cp "$VEC"/*.jks "$VEC"/*.p12 "$VEC"/*.jceks "$VEC"/*.pem "$VEC"/*.cer "$VEC"/*.csr "$d"/
	done
}

n=0 s=0
section=
while IFS= read -r line; do
	case $line in
	"# --- "*)
		section=${line#"# --- "}
		s=$((s + 1))
		fresh $s
		continue
		;;
	"" | "#"*) continue ;;
	esac
	n=$((n + 1))
	if [ ! -d "$J" ] || [ ! -d "$A" ]; then
		not_ok "$section [$n]: the work directories are gone"
		break
	fi
	jout=$(cd "$J" && eval "${line//KT/keytool}" </dev/null 2>"$T/jerr"; echo "rc=$?")
	aout=$(cd "$A" && eval "${line//KT/\"$ATRIUM\" keytool}" </dev/null 2>"$T/aerr"; echo "rc=$?")
	jout=$(mask <<<"$jout"; echo "--- stderr"; mask <"$T/jerr")
	aout=$(mask <<<"$aout"; echo "--- stderr"; mask <"$T/aerr")
	short=${line//KT/keytool}
	[ ${#short} -gt 150 ] && short="${short:0:147}..."
	expect_eq "$section [$n]: $short" "$aout" "$jout"
done <<'EOF'
# --- listing, printing and errors
KT -list -keystore rsa2048.jks -storepass wrongpw
KT -list -keystore rsa2048.p12 -storepass wrongpw
KT -list -keystore nonexist.jks -storepass changeit
KT -list -keystore rsa2048.jks -storepass changeit -alias zz
KT -list -keystore rsa2048.jks -storepass changeit -alias SERVER
KT -list -keystore rsa2048.jks -storepass changeit -alias SERVER -v
KT -list -keystore chain.jks -storepass changeit -alias root -rfc
KT -list -keystore rsa2048.p12 -storepass changeit -alias server
KT -list -keystore server.pem -storepass changeit
KT -list -keystore rsa2048.jks -storepass changeit -v -rfc
KT -printcert -file nonexist.cer
touch empty.cer; KT -printcert -file empty.cer
KT -list -keystore empty.cer -storepass changeit
KT -list -keystore mixed.jceks -storepass changeit -storetype JKS
KT -list -keystore rsa2048.p12 -storepass changeit -storetype JKS
KT -list -keystore rsa2048.jks -storepass changeit -storetype pkcs12
KT -list -keystore rsa2048.jks -storepass changeit -storetype FOO
KT -list -keystore mixed.jceks -storepass changeit -storetype pkcs12
KT -list -keystore rsa2048.jks -storepass changeit -storetype JCEKS
KT -list -keystore mixed.jceks -storepass changeit -storetype JCEKS -v
KT -list -keystore ec256.jks -storepass storepass -alias ecserver -v
KT -list -keystore unicode.jks -storepass 'pässwörd' -v
KT -list -keystore unicode.jks -storepass 'passwort'
KT -list -keystore unicode.p12 -storepass 'changeit' -alias 'CLÉ-КЛЮЧ'
KT -printcert -file server-ec-signed.pem
KT -printcert -file server-ec-signed.pem -rfc
KT -printcert -file root-ca.pem -v
KT -printcert -file client-signed.pem
KT -printcert -rfc < server.cer
KT -printcert < server.pem
KT -printcert -file rsa2048.jks
KT -printcertreq -file client.csr
KT -printcertreq -file server-ec.csr
KT -printcertreq -file intermediate.csr
KT -exportcert -keystore rsa2048.jks -storepass changeit -alias server -rfc
KT -exportcert -keystore rsa2048.jks -storepass changeit -alias server -file out.cer; cmp out.cer server.cer
KT -exportcert -keystore chain.jks -storepass changeit -alias root -rfc -file out.pem; cat out.pem
KT -exportcert -keystore chain.jks -storepass changeit -alias nope
KT -exportcert -keystore chain.jks -storepass changeit
KT -exportcert -keystore mixed.jceks -storepass changeit -alias aeskey
echo | KT -exportcert -keystore rsa2048.jks -alias server -rfc
echo changeit | KT -exportcert -keystore rsa2048.p12 -alias server -rfc
KT -help
KT
KT -list -help
KT -genkeypair --help
KT -importkeystore -h
KT -printcert -?
KT -foo
KT -list -keystore
KT -list -bogus x
KT -list extra
KT -list -exportcert
KT -list -v -v -keystore chain.jks -storepass changeit -alias client
KT -list -keystore chain.jks -storepass:env NOPE
KT -list -keystore chain.jks -storepass:file nofile
KT -list -keystore chain.jks -storepass:xyz foo
SP=changeit KT -list -keystore chain.jks -storepass:env SP
echo changeit > pw.txt; KT -list -keystore chain.jks -storepass:file pw.txt
KT -list -keystore chain.jks -storepass changeit -keysize abc
KT -genkeypair -keystore a.jks -storepass changeit -validity 0 -keyalg RSA
KT -certreq -keystore ca.p12 -storepass changeit -alias intermediate
KT -certreq -keystore rsa2048.jks -storepass changeit -alias server -file r.csr -v; cat r.csr
KT -certreq -keystore rsa2048.jks -storepass changeit -alias server -dname 'CN=other, O=Else' -ext san=dns:x.example.com -ext eku=clientAuth
KT -certreq -keystore chain.jks -storepass changeit -alias root
KT -list -keystore chain.jks -storepass changeit -v -alias server -keypass x
# --- editing stores
KT -delete -keystore chain.jks -storepass changeit -alias root; KT -list -keystore chain.jks -storepass changeit
KT -delete -keystore chain.jks -storepass changeit -alias root
echo client | KT -delete -keystore chain.jks -storepass changeit; KT -list -keystore chain.jks -storepass changeit
echo | KT -delete -keystore chain.p12 -storepass changeit
KT -delete -keystore chain.p12 -storepass changeit -alias ROOT; KT -list -keystore chain.p12 -storepass changeit
KT -changealias -keystore rsa2048.jks -storepass changeit -alias server -destalias NewName; KT -list -keystore rsa2048.jks -storepass changeit -v
KT -changealias -keystore rsa2048.p12 -storepass changeit -alias server -destalias NewName; KT -list -keystore rsa2048.p12 -storepass changeit
KT -changealias -keystore ca.p12 -storepass changeit -alias root -destalias intermediate
KT -changealias -keystore ca.p12 -storepass changeit -alias nope -destalias x
echo zzz | KT -changealias -keystore cert.jks -storepass changeit -alias server; KT -list -keystore cert.jks -storepass changeit
KT -changealias -keystore ec256.jks -storepass storepass -alias ecserver -destalias e2 -keypass keypass; KT -list -keystore ec256.jks -storepass storepass; KT -list -keystore ec256.jks -storepass storepass -alias e2 -v | head -3
echo keypass | KT -changealias -keystore ec256.jks -storepass storepass -alias e2 -destalias e3
KT -storepasswd -keystore rsa2048.jks -storepass changeit -new newpass1; KT -list -keystore rsa2048.jks -storepass newpass1
printf 'newpass2\nnewpass2\n' | KT -storepasswd -keystore rsa2048.jks -storepass newpass1; KT -list -keystore rsa2048.jks -storepass newpass2 -alias server
printf 'short\nnewpass2\nnewpass3\nnewpass3\nnewpass3\n' | KT -storepasswd -keystore rsa2048.jks -storepass newpass2
KT -storepasswd -keystore ca.p12 -storepass changeit -new newpass1; KT -list -keystore ca.p12 -storepass newpass1
KT -storepasswd -keystore ca.p12 -storepass newpass1 -new abc
KT -keypasswd -keystore ec256.jks -storepass storepass -alias ecserver -keypass keypass -new keypass2; KT -list -keystore ec256.jks -storepass storepass
printf 'keypass2\n' | KT -keypasswd -keystore ec256.jks -storepass storepass -alias ecserver -new keypass3
printf 'keypass3\nkeypass4\nkeypass4\n' | KT -keypasswd -keystore ec256.jks -storepass storepass -alias ecserver
KT -keypasswd -keystore ca.p12 -storepass changeit -alias root -new keypass2
KT -keypasswd -keystore ec256.jks -storepass storepass -alias ecserver -keypass wrong -new keypass9
KT -keypasswd -keystore rsa2048.jks -storepass changeit -alias server -new changeit2; KT -certreq -keystore rsa2048.jks -storepass changeit -alias server -keypass changeit2 | head -2
KT -importkeystore -srckeystore chain.jks -srcstorepass changeit -destkeystore out.p12 -deststorepass changeit; KT -list -keystore out.p12 -storepass changeit -v
KT -importkeystore -srckeystore chain.jks -srcstorepass changeit -destkeystore out.p12 -deststorepass changeit -noprompt
KT -importkeystore -srckeystore out.p12 -srcstorepass changeit -destkeystore back.jks -deststoretype JKS -deststorepass changeit -srcalias server -destalias srv2; KT -list -keystore back.jks -storepass changeit
KT -importkeystore -srckeystore ec256.jks -srcstorepass storepass -destkeystore ec.p12 -deststorepass changeit
KT -importkeystore -srckeystore ec256.jks -srcstorepass storepass -srckeypass keypass -srcalias ecserver -destkeystore ec.p12 -deststorepass changeit; KT -list -keystore ec.p12 -storepass changeit
KT -importkeystore -srckeystore ec256.jks -srcstorepass storepass -srckeypass keypass -destkeystore ec2.p12 -deststorepass changeit
KT -importkeystore -srckeystore unicode.jks -srcstorepass 'pässwörd' -destkeystore u.p12 -deststorepass changeit; KT -list -keystore u.p12 -storepass changeit
KT -importkeystore -srckeystore unicode.p12 -srcstorepass changeit -destkeystore u.jks -deststoretype jks -deststorepass 'pässwörd' ; KT -list -keystore u.jks -storepass 'pässwörd'
KT -importkeystore -srckeystore chain.p12 -srcstorepass changeit -destkeystore c.jks -deststoretype JKS -deststorepass changeit; KT -list -keystore c.jks -storepass changeit -v
KT -importkeystore -srckeystore chain.jks -srcstorepass changeit -destkeystore chain.jks -deststoretype pkcs12 -deststorepass changeit; ls chain.jks*; KT -list -keystore chain.jks -storepass changeit
KT -importkeystore -srckeystore nope.jks -srcstorepass changeit -destkeystore x.p12 -deststorepass changeit
KT -importkeystore -destkeystore x.p12 -deststorepass changeit
KT -importkeystore -srckeystore chain.jks -srcstorepass wrongpw -destkeystore x.p12 -deststorepass changeit
printf '\n' | KT -importkeystore -srckeystore cert.jks -destkeystore x2.p12 -deststorepass changeit
KT -importkeystore -srckeystore chain.jks -srcstorepass changeit -destkeystore x3.p12 -deststorepass short
KT -importkeystore -srckeystore chain.jks -srcstorepass changeit -destkeystore x4.p12 -deststorepass changeit -destalias foo
# --- making keys (random parts masked)
KT -genkeypair -keystore a.jks -storetype JKS -storepass changeit -keypass changeit -alias Srv -keyalg RSA -dname 'CN=x, O=y'; KT -list -keystore a.jks -storepass changeit -v
KT -genkeypair -keystore a.jks -storepass changeit -keypass changeit -alias srv -keyalg RSA -dname 'CN=x, O=y'
KT -genkeypair -keystore a.p12 -storepass changeit -alias srv -keyalg EC -dname 'CN=x' -validity 3650 -startdate '2025/01/01 00:00:00'; KT -list -keystore a.p12 -storepass changeit -v
KT -genkeypair -keystore a.p12 -storepass changeit -alias ed -keyalg Ed25519 -dname 'CN=x' -keypass otherpass -startdate '2025/01/01 00:00:00'; KT -list -keystore a.p12 -storepass changeit -alias ed -v
KT -genkeypair -keystore a.p12 -storepass changeit -alias e2 -keyalg EC -keysize 384 -dname 'CN=x' -startdate '2025/01/01 00:00:00'; KT -list -keystore a.p12 -storepass changeit -alias e2 -v
KT -genkeypair -keystore a.p12 -storepass changeit -alias e5 -keyalg EC -groupname secp521r1 -dname 'CN=x' -startdate '2025/01/01 00:00:00'; KT -list -keystore a.p12 -storepass changeit -alias e5 -v
KT -genkeypair -keystore a.p12 -storepass changeit -alias e6 -keyalg EC -groupname secp384r1 -keysize 384 -dname 'CN=x'
KT -genkeypair -keystore a.p12 -storepass changeit -alias e7 -keyalg EdDSA -dname 'CN=x' -startdate '2025/01/01 00:00:00'; KT -list -keystore a.p12 -storepass changeit -alias e7 -v
KT -genkeypair -keystore a.p12 -storepass changeit -alias e3 -keyalg RSA -keysize 4096 -dname 'CN=x' -v -startdate '2025/01/01 00:00:00'; KT -list -keystore a.p12 -storepass changeit -alias e3 -v
KT -genkeypair -keystore a.p12 -storepass changeit -alias weak -keyalg RSA -keysize 1024 -dname 'CN=x' -sigalg SHA1withRSA -startdate '2025/01/01 00:00:00'; KT -list -keystore a.p12 -storepass changeit -alias weak -v
KT -list -keystore a.p12 -storepass changeit
KT -genkeypair -keystore b.p12 -storepass short -alias e3 -keyalg RSA -dname 'CN=x'
KT -genkeypair -keystore a.p12 -storepass changeit -alias e4 -dname 'CN=x'
KT -genkeypair -keystore a.p12 -storepass changeit -alias e8 -keyalg FOO -dname 'CN=x'
KT -genkeypair -keystore a.p12 -storepass changeit -alias e9 -keyalg RSA -keysize 100 -dname 'CN=x'
KT -genkeypair -keystore a.p12 -storepass changeit -alias e10 -keyalg RSA -dname 'FOO=x'
KT -genkeypair -keystore a.p12 -storepass changeit -alias e11 -keyalg RSA -dname 'CN=a\, b + OU=c, O="q, r", L= sp  aces , ST=#0c03616263, C=US' -startdate '2025/01/01 00:00:00'; KT -list -keystore a.p12 -storepass changeit -alias e11 -v
KT -genkeypair -keystore a.p12 -storepass changeit -alias e12 -keyalg RSA -dname 'CN=x' -startdate 'bad'
KT -genkeypair -keystore a.p12 -storepass changeit -alias e13 -keyalg RSA -dname 'CN=x' -startdate '2025/01/01 00:00:00' -validity 3650 -ext SAN=dns:server.example.com,dns:localhost,ip:127.0.0.1,ip:::1,email:a@b.c,uri:http://x/,oid:1.2.3 -ext bc:c=ca:true,pathlen:0 -ext ku:c=keyCertSign,cRLSign,dS -ext eku=serverAuth,clientAuth,1.2.3.4 -ext ian=email:ca@x.y -ext aia=ocsp:uri:http://ocsp/,caIssuers:uri:http://ca/ -ext sia=caRepository:uri:http://r/ -ext crl=uri:http://crl/x.crl -ext 1.2.3.4.5=0403010203 -ext 1.2.3.4.6:critical; KT -list -keystore a.p12 -storepass changeit -alias e13 -v
KT -genkeypair -keystore a.p12 -storepass changeit -alias e14 -keyalg RSA -dname 'CN=x' -ext ku=key
KT -genkeypair -keystore a.p12 -storepass changeit -alias e15 -keyalg RSA -dname 'CN=x' -ext foo=bar
KT -genkeypair -keystore a.p12 -storepass changeit -alias e16 -keyalg RSA -dname 'CN=x' -ext bc=ca:maybe,pathlen:x
KT -genkeypair -keystore a.p12 -storepass changeit -alias e17 -keyalg RSA -dname 'CN=x' -ext san=foo:bar
KT -genkeypair -keystore a.p12 -storepass changeit -alias e18 -keyalg RSA -dname 'CN=x' -ext aia:critical=ocsp:uri:http://x/
KT -genkeypair -keystore a.p12 -storepass changeit -alias e19 -keyalg RSA -dname 'CN=x' -ext 1.2.3=abc
KT -genkeypair -keystore a.p12 -storepass changeit -alias e20 -keyalg RSA -dname 'CN=x' -ext bc -ext ku=dig -startdate '-1y+2m-3d' ; KT -list -keystore a.p12 -storepass changeit -alias e20 -v
KT -genkeypair -keystore a.p12 -storepass changeit -alias e21 -keyalg RSA -dname 'CN=x' -startdate '2025/01/01' -validity 1; KT -list -keystore a.p12 -storepass changeit -alias e21 -v | grep Valid
KT -genkeypair -keystore a.p12 -storepass changeit -alias e22 -keyalg RSA -dname 'CN=x' -validity 3000000
printf 'changeit\nchangeit\nJohn Doe\nDev\nACME\nCity\nState\nUS\nyes\n' | KT -genkeypair -alias MyDomain -keyalg RSA -keystore KeyStore.jks -keysize 2048
printf 'changeit\n\n' | KT -genkeypair -alias k2 -keyalg RSA -keystore KeyStore.jks -dname 'CN=k2'
printf 'changeit\nabc\nchangeit\n' | KT -genkeypair -alias k4 -keyalg RSA -keystore new.p12 -dname 'CN=k4'
printf 'changeit\n\n' | KT -genkeypair -alias k2 -keyalg RSA -keystore j.jks -storetype jks -dname 'CN=k2' -storepass changeit; KT -list -keystore j.jks -storepass changeit -alias k2 -keypass changeit -v
printf 'keypass1\nkeypass1\n' | KT -genkeypair -alias k3 -keyalg RSA -keystore j.jks -dname 'CN=k3' -storepass changeit; KT -certreq -keystore j.jks -storepass changeit -alias k3 -keypass keypass1 > /dev/null
printf 'abc\nkeypass1\nkeypass2\n\n' | KT -genkeypair -alias k5 -keyalg RSA -keystore j.jks -dname 'CN=k5' -storepass changeit
printf 'a\nb\nc\nd\ne\nUS\nno\n\n\n\n\n\n\ny\n' | KT -genkeypair -alias q -keyalg EC -keystore q.p12 -storepass changeit
printf 'changeit\n' | KT -export -alias MyDomain -file certificate.cer -keystore KeyStore.jks
printf 'changeit\nchangeit\nyes\n' | KT -import -alias MyDomain -file certificate.cer -keystore cert2.jks
KT -list -keystore cert2.jks -storepass changeit -v
printf '\n' | KT -list -keystore KeyStore.jks
# --- requests, CA replies, trusted certificates
KT -genkeypair -keystore s.p12 -storepass changeit -alias srv -keyalg EC -dname 'CN=srv' 2>/dev/null; KT -certreq -keystore s.p12 -storepass changeit -alias srv -file srv.csr; KT -gencert -keystore ca.p12 -storepass changeit -alias intermediate -infile srv.csr -outfile srv.pem -rfc -ext san=dns:localhost -ext honored=all; KT -printcert -file srv.pem
KT -gencert -keystore ca.p12 -storepass changeit -alias intermediate -infile srv.csr -outfile srv.der; KT -printcert -file srv.der -v
echo no | KT -importcert -keystore s.p12 -storepass changeit -alias srv -file srv.pem
KT -importcert -keystore s.p12 -storepass changeit -alias root -file root-ca.pem -noprompt
KT -importcert -keystore s.p12 -storepass changeit -alias srv -file srv.pem; KT -list -keystore s.p12 -storepass changeit -v
KT -importcert -keystore s.p12 -storepass changeit -alias srv -file srv.pem
KT -importcert -keystore s.p12 -storepass changeit -alias srv -file root-ca.pem
KT -importcert -keystore rsa2048.jks -storepass changeit -alias server -file server.cer
KT -importcert -keystore chain.jks -storepass changeit -alias client -file client-signed.pem; KT -list -keystore chain.jks -storepass changeit
KT -gencert -keystore ca.p12 -storepass changeit -alias root -infile client.csr -rfc -ext ku:c=digitalSignature -ext eku=clientAuth -startdate '2025/01/01 00:00:00' -validity 3650
KT -gencert -keystore ca.p12 -storepass changeit -alias root -infile client.csr -dname 'CN=renamed' -ext honored=all,-ku,san:c -ext 'san=dns:a.b' | KT -printcert
KT -gencert -keystore ca.p12 -storepass changeit -alias nope -infile client.csr
KT -gencert -keystore ca.p12 -storepass changeit -alias root -infile root-ca.pem
KT -gencert -keystore ca.p12 -storepass changeit -alias root -infile client.csr -validity 3000000
KT -gencert -keystore ca.p12 -storepass changeit -alias root -infile client.csr -sigalg SHA256withECDSA
KT -gencert -keystore ca.p12 -storepass changeit -alias root -infile client.csr -sigalg SHA384withRSA | KT -printcert | grep Signature
KT -gencert -keystore ca.p12 -storepass changeit -alias root < client.csr | KT -printcert | head -3
KT -importcert -keystore t.jks -storepass changeit -alias s1 -file server.cer -noprompt -storetype jks; KT -list -keystore t.jks -storepass changeit
KT -importcert -keystore t.jks -storepass changeit -alias s1 -file server.cer -noprompt
KT -importcert -keystore t.jks -storepass changeit -alias s2 -file server.cer -noprompt
echo no | KT -importcert -keystore t.jks -storepass changeit -alias s3 -file server.cer
echo yes | KT -importcert -keystore t.jks -storepass changeit -alias s4 -file server.cer; KT -list -keystore t.jks -storepass changeit
echo yes | KT -importcert -keystore t2.p12 -storepass changeit -alias s3 -file server.cer; KT -list -keystore t2.p12 -storepass changeit
echo no | KT -importcert -keystore t3.p12 -storepass changeit -alias s3 -file server.cer
KT -importcert -keystore t4.p12 -storepass changeit -alias inter -file intermediate.pem
echo yes | KT -importcert -keystore t4.p12 -storepass changeit -alias root -file root-ca.pem; KT -importcert -keystore t4.p12 -storepass changeit -alias inter -file intermediate.pem; KT -list -keystore t4.p12 -storepass changeit
KT -importcert -keystore t5.p12 -storepass changeit -alias x -file nonexist.cer
KT -importcert -keystore t5.p12 -storepass changeit -alias x -file ca.p12
KT -importcert -keystore t5.p12 -storepass changeit -file server.cer -noprompt; KT -list -keystore t5.p12 -storepass changeit
KT -importcert -keystore t6.p12 -storepass changeit -alias TrustedMixed -file server.cer -noprompt; KT -list -keystore t6.p12 -storepass changeit -v | head -7
KT -importcert -keystore t7.jks -storetype jks -storepass changeit -alias TrustedMixed -file server-ec-signed.pem -noprompt; KT -list -keystore t7.jks -storepass changeit -rfc
KT -genkeypair -keystore ca.p12 -storepass changeit -alias leaf -keyalg EC -dname 'CN=leaf' -signer intermediate -startdate '2025/01/01 00:00:00'; KT -list -keystore ca.p12 -storepass changeit -alias leaf -v
KT -genkeypair -keystore ca.p12 -storepass changeit -alias leaf2 -keyalg RSA -dname 'CN=leaf2' -signer nope
# --- weak algorithms
KT -printcert -file $SYN/rsa1024-sha1.pem
KT -printcert -file $SYN/md5.pem
KT -printcert -file $SYN/rsa512-v1.pem
KT -printcert -file $SYN/chain2.pem
KT -importcert -keystore w.jks -storetype jks -storepass changeit -alias weak -file $SYN/rsa1024-sha1.pem -noprompt; KT -list -keystore w.jks -storepass changeit; KT -list -keystore w.jks -storepass changeit -v | grep Sig
KT -genkeypair -keystore w.p12 -storepass changeit -alias k -keyalg RSA -keysize 1024 -sigalg SHA1withRSA -dname CN=w; KT -list -keystore w.p12 -storepass changeit; KT -exportcert -keystore w.p12 -storepass changeit -alias k -file w.cer; KT -printcert -file w.cer | grep Sig
KT -certreq -keystore w.p12 -storepass changeit -alias k -file w.csr; KT -printcertreq -file w.csr
KT -gencert -keystore w.p12 -storepass changeit -alias k -infile client.csr -file x.cer -sigalg SHA1withRSA -outfile x.cer
EOF

finish
