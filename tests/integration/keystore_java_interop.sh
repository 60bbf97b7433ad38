#!/usr/bin/env bash
# Java 17's keytool reads the JKS and PKCS#12 files our keystore module
# writes: RSA and EC keys, chains, trusted entries (trustedCertEntry in
# PKCS#12 too), keys Java can recover; and where keytool rewrites a file
# (-delete, -storepasswd, -importcert steps) we write the same bytes or
# the same entry order.
#
# The files come from the unit test binary: test_write_interop_files writes
# them into $ATRIUM_KS_OUT when that is set.
. "$(dirname "$0")/lib.sh"

VEC=$ATRIUM_TOP/tests/data/keystore-vectors
UNIT=${ATRIUM_KS_UNIT:-$ATRIUM_TOP/build/asan/tests/test_keystore}
export LANG=C.UTF-8 LC_ALL=C.UTF-8 TZ=UTC

if ! command -v keytool >/dev/null 2>&1; then
	echo "# keytool (Java 17) is not installed; nothing to compare with"
	finish
fi
if [ ! -x "$UNIT" ]; then
	not_ok "unit test binary exists" "missing: $UNIT (make build/asan/tests/test_keystore)"
	finish
fi

OUT=$T/out
mkdir -p "$OUT"
check "unit test writes the interop keystores" \
	env ATRIUM_KS_OUT="$OUT" ATRIUM_TOP="$ATRIUM_TOP" "$UNIT"

kt() { keytool "$@" 2>/dev/null; }

# Dates of PKCS#12 trusted entries are the load time; compare without dates.
nodate() { sed -E 's/^([^,]+), [A-Z][a-z]{2} [0-9]{1,2}, [0-9]{4}, /\1, DATE, /'; }

# Our rewrite of chain.jks lists exactly as keytool listed Java's own file.
expect_eq "keytool lists our JKS as Java's chain.jks" \
	"$(kt -list -keystore "$OUT/ours-chain.jks" -storepass changeit)" \
	"$(cat "$VEC/chain.jks.list.txt")"
expect_eq "keytool lists our PKCS#12 as Java's chain.p12" \
	"$(kt -list -keystore "$OUT/ours-chain.p12" -storepass changeit | nodate)" \
	"$(nodate <"$VEC/chain.p12.list.txt")"
expect_eq "keytool -list -v: same chains and certificates in our PKCS#12" \
	"$(kt -list -v -keystore "$OUT/ours-chain.p12" -storepass changeit | grep -v '^Creation date')" \
	"$(grep -v '^Creation date' "$VEC/chain.p12.list-v.txt")"

# Stores built from nothing: RSA and EC keys, chains of 1-3, a trusted root.
for f in ours-new.jks ours-new.p12; do
	out=$(kt -list -v -keystore "$OUT/$f" -storepass changeit)
	type=JKS
	[[ $f == *.p12 ]] && type=PKCS12
	expect_match "$f: keytool reads it as $type" "$out" "Keystore type: $type"
	expect_match "$f: 4 entries" "$out" "Your keystore contains 4 entries"
	for want in "ecserver:PrivateKeyEntry:3" "rsaclient:PrivateKeyEntry:2" \
		"selfsigned-ec:PrivateKeyEntry:1" "trustedroot:trustedCertEntry:"; do
		IFS=: read -r alias kind len <<<"$want"
		block=$(awk -v a="Alias name: $alias" '$0 == a {p=1} p && /^\*+$/ {exit} p' <<<"$out")
		expect_match "$f: $alias is a $kind" "$block" "Entry type: $kind"
		[ -n "$len" ] && expect_match "$f: $alias has a chain of $len" "$block" \
			"Certificate chain length: $len"
	done
	# Java recovers every key: a CSR signed with it verifies against the
	# certificate's public key.
	for alias in ecserver rsaclient selfsigned-ec; do
		csr=$(kt -certreq -alias "$alias" -keystore "$OUT/$f" -storepass changeit)
		if [ -n "$csr" ] && echo "$csr" | openssl req -verify -noout >/dev/null 2>&1; then
			ok "$f: Java signs with the key of $alias"
		else
			not_ok "$f: Java signs with the key of $alias" "$csr"
		fi
	done
done

# Java converts our stores (recovering every key) and we read the result
# back in the unit-test sense: keytool lists it.
check "keytool -importkeystore reads every key of our PKCS#12" \
	keytool -importkeystore -noprompt -srckeystore "$OUT/ours-new.p12" -srcstorepass changeit \
	-destkeystore "$T/from-ours.jks" -deststoretype JKS -deststorepass changeit
check "keytool -importkeystore reads every key of our JKS" \
	keytool -importkeystore -noprompt -srckeystore "$OUT/ours-new.jks" -srcstorepass changeit \
	-destkeystore "$T/from-ours.p12" -deststoretype PKCS12 -deststorepass changeit
expect_match "keytool kept all four entries" \
	"$(kt -list -keystore "$T/from-ours.p12" -storepass changeit)" "contains 4 entries"

# A trust store of certificates only (the client's cert.jks / .p12).
for f in ours-trust.p12 ours-trust.jks; do
	expect_match "$f: the certificate is a trustedCertEntry for Java" \
		"$(kt -list -keystore "$OUT/$f" -storepass changeit)" \
		"server, [A-Z][a-z]{2} [0-9]+, [0-9]{4}, trustedCertEntry,"
done

# keytool -delete and -storepasswd rewrite chain.jks; we write the same bytes.
cp "$VEC/chain.jks" "$T/del.jks"
kt -delete -alias client -keystore "$T/del.jks" -storepass changeit
check "keytool -delete and our delete write the same bytes" \
	cmp "$T/del.jks" "$OUT/ours-chain-delete.jks"
cp "$VEC/chain.jks" "$T/pw.jks"
kt -storepasswd -new newpass1 -keystore "$T/pw.jks" -storepass changeit
check "keytool -storepasswd and our save write the same bytes" \
	cmp "$T/pw.jks" "$OUT/ours-chain-storepasswd.jks"

# Twelve -importcert steps (a rehash of Java's Hashtable on the way): the
# same entry order in keytool's file and ours.
jks_order() {
	python3 - "$1" <<'EOF'
import struct, sys
b = open(sys.argv[1], 'rb').read()
_, version, count = struct.unpack('>III', b[:12])
p = 12
def utf():
    global p
    n = struct.unpack('>H', b[p:p + 2])[0]
    s = b[p + 2:p + 2 + n].decode('utf-8')
    p += 2 + n
    return s
def u32():
    global p
    v = struct.unpack('>I', b[p:p + 4])[0]
    p += 4
    return v
def cert():
    global p
    if version == 2:
        utf()
    n = u32()
    p += n
for _ in range(count):
    tag = u32()
    print(utf())
    p += 8
    if tag == 1:
        n = u32()
        p += n
        for _ in range(u32()):
            cert()
    else:
        cert()
EOF
}
for i in $(seq -w 1 12); do
	kt -importcert -noprompt -alias "cert$i" -file "$VEC/root-ca.pem" -keystore "$T/order12.jks" \
		-storetype JKS -storepass changeit
done
expect_eq "twelve keytool -importcert steps: the same entry order as ours" \
	"$(jks_order "$OUT/ours-order12.jks" | tr '\n' ' ')" \
	"$(jks_order "$T/order12.jks" | tr '\n' ' ')"

finish
