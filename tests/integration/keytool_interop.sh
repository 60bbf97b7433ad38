#!/usr/bin/env bash
# atrium keytool and Java 17's keytool use each other's files: what atrium
# writes (JKS and PKCS#12; RSA, EC and Ed25519 keys; trusted entries;
# chains from -certreq/-gencert/-importcert) Java lists identically and can
# use, and the reverse; JKS -> PKCS#12 -> JKS keeps every entry; a wrong
# password fails with Java's words; non-ASCII passwords and aliases work.
. "$(dirname "$0")/lib.sh"

export LC_ALL=C.UTF-8 LANG=C.UTF-8 TZ=UTC
VEC=$ATRIUM_TOP/tests/data/keystore-vectors

if ! command -v keytool >/dev/null 2>&1; then
	echo "# keytool (Java 17) is not installed; nothing to compare with"
	finish
fi

cd "$T" || exit 1
AK() { "$ATRIUM" keytool "$@"; }
JK() { keytool "$@"; }
DN='CN=interop.example.com, OU=QA, O=Atrium, L=Berlin, ST=Berlin, C=DE'
START=(-startdate '2025/01/01 00:00:00' -validity 3650)

# same NAME ARGS...: atrium and Java print the same (stdout+stderr, status).
same() {
	local name=$1 a j
	shift
	avoid_midnight
	a=$(AK "$@" 2>&1; echo "rc=$?")
	j=$(JK "$@" 2>&1; echo "rc=$?")
	expect_eq "$name" "$a" "$j"
}

# ------------------------------------------------- atrium writes, Java reads
for type in JKS PKCS12; do
	ks=ours.$type
	AK -genkeypair -keystore $ks -storetype $type -storepass changeit -keypass changeit \
		-alias rsakey -keyalg RSA -dname "$DN" "${START[@]}" \
		-ext SAN=dns:interop.example.com,ip:127.0.0.1 -ext eku=serverAuth 2>/dev/null
	AK -genkeypair -keystore $ks -storepass changeit -keypass changeit -alias eckey \
		-keyalg EC -groupname secp384r1 -dname 'CN=ec' "${START[@]}" 2>/dev/null
	AK -genkeypair -keystore $ks -storepass changeit -keypass changeit -alias edkey \
		-keyalg Ed25519 -dname 'CN=ed' "${START[@]}" 2>/dev/null
	AK -importcert -noprompt -keystore $ks -storepass changeit -alias TrustedRoot \
		-file "$VEC/root-ca.pem" 2>/dev/null
	# A chain: a CA made by atrium signs the RSA key's request.
	AK -genkeypair -keystore ca-$ks -storetype $type -storepass changeit -keypass changeit \
		-alias ca -keyalg RSA -dname 'CN=Atrium Test CA' -ext bc:c=ca:true \
		-ext ku:c=keyCertSign,cRLSign "${START[@]}" 2>/dev/null
	AK -exportcert -rfc -keystore ca-$ks -storepass changeit -alias ca -file ca-$type.pem 2>/dev/null
	AK -importcert -noprompt -keystore $ks -storepass changeit -alias ca -file ca-$type.pem \
		2>/dev/null
	AK -certreq -keystore $ks -storepass changeit -alias rsakey -file rsa-$type.csr 2>/dev/null
	AK -gencert -keystore ca-$ks -storepass changeit -alias ca -infile rsa-$type.csr \
		-outfile rsa-$type.pem -rfc -ext honored=all "${START[@]}" 2>/dev/null
	out=$(AK -importcert -keystore $ks -storepass changeit -alias rsakey -file rsa-$type.pem 2>&1 | head -1)
	expect_eq "$type: atrium installs the CA reply" "$out" "Certificate reply was installed in keystore"

	jl=$(JK -list -v -keystore $ks -storepass changeit 2>/dev/null)
	expect_match "$type: Java reads atrium's file as $type" "$jl" "Keystore type: $type"
	expect_match "$type: Java sees 5 entries" "$jl" "Your keystore contains 5 entries"
	expect_match "$type: Java sees the installed chain" "$jl" \
		"Alias name: rsakey"$'\n'"Creation date: [^"$'\n'"]*"$'\n'"Entry type: PrivateKeyEntry"$'\n'"Certificate chain length: 2"
	same "$type: -list -v of atrium's file: atrium prints what Java prints" \
		-list -v -keystore $ks -storepass changeit
	same "$type: -list -rfc of atrium's file" -list -rfc -keystore $ks -storepass changeit
	# Java can use the keys atrium stored: it signs requests with them.
	for alias in rsakey eckey edkey; do
		check "$type: Java recovers atrium's $alias and signs a request with it" \
			sh -c "keytool -certreq -keystore $ks -storepass changeit -keypass changeit \
			-alias $alias -file j-$alias-$type.csr 2>/dev/null &&
			openssl req -in j-$alias-$type.csr -noout -verify"
	done
	# RSA requests are deterministic: Java's and ours are the same bytes.
	AK -certreq -keystore $ks -storepass changeit -keypass changeit -alias rsakey \
		-file a-rsakey-$type.csr 2>/dev/null
	check "$type: atrium's and Java's -certreq of the RSA key are the same file" \
		cmp a-rsakey-$type.csr j-rsakey-$type.csr
	JK -exportcert -keystore $ks -storepass changeit -alias rsakey -file j.cer 2>/dev/null
	AK -exportcert -keystore $ks -storepass changeit -alias rsakey -file a.cer 2>/dev/null
	check "$type: both export the same certificate" cmp a.cer j.cer
	# Java modifies atrium's file and atrium reads the result.
	JK -changealias -keystore $ks -storepass changeit -keypass changeit -alias eckey \
		-destalias eckey2 2>/dev/null
	JK -delete -keystore $ks -storepass changeit -alias edkey 2>/dev/null
	same "$type: after Java's -changealias and -delete, both list the same" \
		-list -v -keystore $ks -storepass changeit
done

# ------------------------------------------------- Java writes, atrium reads
for type in JKS PKCS12; do
	ks=java.$type
	JK -genkeypair -keystore $ks -storetype $type -storepass changeit -keypass changeit \
		-alias rsakey -keyalg RSA -dname "$DN" "${START[@]}" -ext SAN=dns:a.example 2>/dev/null
	JK -genkeypair -keystore $ks -storepass changeit -keypass changeit -alias eckey \
		-keyalg EC -dname 'CN=ec' "${START[@]}" 2>/dev/null
	JK -importcert -noprompt -keystore $ks -storepass changeit -alias root \
		-file "$VEC/root-ca.pem" 2>/dev/null
	same "$type: Java's file: -list" -list -keystore $ks -storepass changeit
	same "$type: Java's file: -list -v" -list -v -keystore $ks -storepass changeit
	same "$type: Java's file: -exportcert -rfc" -exportcert -rfc -keystore $ks \
		-storepass changeit -alias rsakey
	# atrium asks, Java's CA (ca.p12 of the vectors) signs, atrium installs.
	cp "$VEC/ca.p12" ca.p12
	AK -certreq -keystore $ks -storepass changeit -keypass changeit -alias eckey \
		-file ec.csr 2>/dev/null
	check "$type: atrium's request verifies" openssl req -in ec.csr -noout -verify
	JK -gencert -keystore ca.p12 -storepass changeit -alias intermediate -infile ec.csr \
		-outfile ec.pem -rfc "${START[@]}" 2>/dev/null
	out=$(AK -importcert -keystore $ks -storepass changeit -keypass changeit -alias eckey \
		-file ec.pem 2>&1 | head -1)
	expect_eq "$type: atrium installs Java's reply (root trusted in the store)" "$out" \
		"Certificate reply was installed in keystore"
	jl=$(JK -list -v -keystore $ks -storepass changeit -alias eckey 2>/dev/null)
	expect_match "$type: Java lists the 3-certificate chain atrium installed" "$jl" \
		"Certificate chain length: 3"
	same "$type: after atrium's -importcert both list the same" -list -v -keystore $ks \
		-storepass changeit
done

# --------------------------------------------- JKS -> PKCS#12 -> JKS with atrium
cp "$VEC/chain.jks" chain.jks
AK -importkeystore -srckeystore chain.jks -srcstorepass changeit -destkeystore chain.p12 \
	-deststoretype PKCS12 -deststorepass changeit >/dev/null 2>&1
AK -importkeystore -srckeystore chain.p12 -srcstorepass changeit -destkeystore back.jks \
	-deststoretype JKS -deststorepass changeit >/dev/null 2>&1
# PKCS#12 keeps no creation date: Java shows the day it loads the file, so
# compare entries, types, chains and certificates, not the day of the run.
strip() { grep -v -e '^Keystore type:' -e '^Creation date:'; }
want=$(JK -list -v -keystore chain.jks -storepass changeit 2>/dev/null | strip)
expect_eq "JKS -> PKCS#12: Java lists every entry of chain.jks, certificates unchanged" \
	"$(JK -list -v -keystore chain.p12 -storepass changeit 2>/dev/null | strip)" "$want"
expect_eq "PKCS#12 -> JKS: Java lists every entry again" \
	"$(JK -list -v -keystore back.jks -storepass changeit 2>/dev/null | strip)" "$want"
for alias in client server; do
	check "round trip keeps $alias's key: Java signs with it" \
		sh -c "keytool -certreq -keystore back.jks -storepass changeit -alias $alias \
		-file rt.csr 2>/dev/null && openssl req -in rt.csr -noout -verify"
done
expect_eq "round trip keeps the RSA key itself (same -certreq bytes as from chain.jks)" \
	"$(AK -certreq -keystore back.jks -storepass changeit -alias client 2>/dev/null)" \
	"$(JK -certreq -keystore chain.jks -storepass changeit -alias client 2>/dev/null)"
# The same conversion by Java, listed by both.
JK -importkeystore -srckeystore chain.jks -srcstorepass changeit -destkeystore java-chain.p12 \
	-deststoretype PKCS12 -deststorepass changeit >/dev/null 2>&1
same "Java's JKS -> PKCS#12 conversion lists the same in atrium" -list -v \
	-keystore java-chain.p12 -storepass changeit
# In place, as the JKS warning suggests.
cp "$VEC/rsa2048.jks" inplace.jks
a=$(AK -importkeystore -srckeystore inplace.jks -destkeystore inplace.jks -deststoretype pkcs12 \
	-srcstorepass changeit 2>&1)
expect_match "in-place migration says where the backup is" "$a" \
	'Migrated "inplace.jks" to PKCS12. The JKS keystore is backed up as "inplace.jks.old".'
expect_match "Java reads the migrated file as PKCS12" \
	"$(JK -list -keystore inplace.jks -storepass changeit 2>&1)" "Keystore type: PKCS12"
check "the backup is the original JKS file" cmp inplace.jks.old "$VEC/rsa2048.jks"

# ---------------------------------------------------------- wrong passwords
for f in rsa2048.jks rsa2048.p12 mixed.jceks; do
	cp "$VEC/$f" .
	same "$f: wrong store password: Java's message" -list -keystore $f -storepass wrongpass
	a=$(AK -list -keystore $f -storepass wrongpass 2>/dev/null)
	check_fails "$f: wrong store password exits non-zero" AK -list -keystore $f \
		-storepass wrongpass
done
expect_eq "JKS: the wrong-password message" \
	"$(AK -list -keystore rsa2048.jks -storepass wrongpass 2>&1)" \
	"keytool error: java.io.IOException: Keystore was tampered with, or password was incorrect"
expect_eq "PKCS#12: the wrong-password message" \
	"$(AK -list -keystore rsa2048.p12 -storepass wrongpass 2>&1)" \
	"keytool error: java.io.IOException: keystore password was incorrect"
cp "$VEC/ec256.jks" .
same "wrong key password: Java's message" -certreq -keystore ec256.jks -storepass storepass \
	-keypass wrongpass -alias ecserver
same "missing key password, not given at the prompt" -certreq -keystore ec256.jks \
	-storepass storepass -alias ecserver </dev/null

# ------------------------------------------------------------- non-ASCII
cp "$VEC/unicode.jks" "$VEC/unicode.p12" .
same "unicode.jks lists with pässwörd as Java lists it" -list -v -keystore unicode.jks \
	-storepass 'pässwörd'
same "unicode.jks with the wrong password" -list -keystore unicode.jks -storepass 'passwörd'
same "unicode.p12 looked up by its non-ASCII alias" -list -keystore unicode.p12 \
	-storepass changeit -alias 'clé-ключ'
AK -genkeypair -keystore uni.jks -storetype JKS -storepass 'ünïcödé-pässwörd' \
	-keypass 'ключ-пароль' -alias 'Ключ-Ä' -keyalg EC -dname 'CN=Ünïcödé, O=Ёж' \
	"${START[@]}" 2>/dev/null
same "atrium's JKS with non-ASCII passwords and alias: Java lists it the same" -list -v \
	-keystore uni.jks -storepass 'ünïcödé-pässwörd'
check "Java recovers the key with the non-ASCII key password" \
	sh -c "keytool -certreq -keystore uni.jks -storepass 'ünïcödé-pässwörd' \
	-keypass 'ключ-пароль' -alias 'ключ-ä' -file u.csr 2>/dev/null &&
	openssl req -in u.csr -noout -verify"
AK -importkeystore -srckeystore unicode.jks -srcstorepass 'pässwörd' -destkeystore uni-conv.p12 \
	-deststorepass changeit >/dev/null 2>&1
expect_eq "unicode.jks -> PKCS#12 by atrium lists as Java's unicode.p12 (dates aside)" \
	"$(JK -list -keystore uni-conv.p12 -storepass changeit 2>/dev/null | sed 's/, [A-Z][a-z]* [0-9]*, [0-9]*, /, D, /')" \
	"$(JK -list -keystore unicode.p12 -storepass changeit 2>/dev/null | sed 's/, [A-Z][a-z]* [0-9]*, [0-9]*, /, D, /')"

finish
