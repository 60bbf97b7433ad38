#!/usr/bin/env bash
# atrium keytool lists every keystore vector exactly as Java 17's keytool
# printed it (tests/data/keystore-vectors/*.list*.txt, stdout and the
# *.stderr.txt warnings), and -printcert prints the certificates as keytool
# did. When the real keytool is installed, the output is also compared
# with what it prints on the same file today.
. "$(dirname "$0")/lib.sh"

VEC=$ATRIUM_TOP/tests/data/keystore-vectors
export LC_ALL=C.UTF-8 LANG=C.UTF-8 TZ=UTC
cd "$VEC" || exit 1

# The vectors were listed on Nov 27, 2026. Entries whose date Java takes
# from the clock (PKCS#12 trusted certificates, keys from OpenSSL files)
# show the day of the run instead.
loadtime_aliases() {
	case $1 in
	cert.p12) echo server ;;
	chain.p12 | java-legacy.p12) echo root ;;
	openssl-default.p12 | openssl-legacy.p12) echo osslkey ;;
	esac
}
# expected FILE.list.txt KEYSTORE: the listing with load-time dates moved to today.
expected() {
	local aliases today
	aliases=" $(loadtime_aliases "$2") "
	today=$(LC_ALL=C date -u +'%b %-d, %Y')
	awk -v al="$aliases" -v today="$today" '
		/^Alias name: / { cur = substr($0, 13) }
		/^Creation date: / && index(al, " " cur " ") { print "Creation date: " today; next }
		{
			split($0, f, ", ")
			if (NF > 0 && index(al, " " f[1] " ") && $0 ~ /^[^ ]+, [A-Z][a-z][a-z] [0-9]+, [0-9]+, /) {
				sub(/, [A-Z][a-z][a-z] [0-9]+, [0-9]+, /, ", " today ", ")
			}
			print
		}' "$1"
}

pass_for() {
	case $1 in
	ec256.jks) echo storepass ;;
	unicode.jks) echo 'pässwörd' ;;
	*) echo changeit ;;
	esac
}

have_java=0
command -v keytool >/dev/null 2>&1 && have_java=1

for ks in *.jks *.p12 *.jceks; do
	avoid_midnight
	pw=$(pass_for "$ks")
	for mode in list list-v list-rfc; do
		[ -f "$ks.$mode.txt" ] || continue
		case $mode in
		list) opts=() ;;
		list-v) opts=(-v) ;;
		list-rfc) opts=(-rfc) ;;
		esac
		out=$("$ATRIUM" keytool -list "${opts[@]}" -keystore "$ks" -storepass "$pw" 2>"$T/err"; echo "rc=$?")
		want=$(expected "$ks.$mode.txt" "$ks"; echo "rc=0")
		expect_eq "$ks: keytool -list ${opts[*]} output" "$out" "$want"
		errwant=/dev/null
		[ -f "$ks.$mode.stderr.txt" ] && errwant=$ks.$mode.stderr.txt
		# keytool -list and -list -v share the same warning text.
		[ "$errwant" = /dev/null ] && [ -f "$ks.list.stderr.txt" ] && errwant=$ks.list.stderr.txt
		expect_eq "$ks: keytool -list ${opts[*]} stderr" "$(cat "$T/err")" "$(cat "$errwant")"
		if [ $have_java = 1 ]; then
			java=$(keytool -list "${opts[@]}" -keystore "$ks" -storepass "$pw" 2>&1; echo "rc=$?")
			ours=$("$ATRIUM" keytool -list "${opts[@]}" -keystore "$ks" -storepass "$pw" 2>&1; echo "rc=$?")
			expect_eq "$ks: -list ${opts[*]} equals Java's today" "$ours" "$java"
		fi
	done
	# Each entry on its own (-alias), as keytool prints it.
	if [ $have_java = 1 ]; then
		for alias in $("$ATRIUM" keytool -list -keystore "$ks" -storepass "$pw" 2>/dev/null |
			sed -n 's/^\([^ ]*\), [A-Z][a-z][a-z] .*/\1/p'); do
			for o in "" -v -rfc; do
				java=$(keytool -list $o -alias "$alias" -keystore "$ks" -storepass "$pw" 2>&1; echo "rc=$?")
				ours=$("$ATRIUM" keytool -list $o -alias "$alias" -keystore "$ks" -storepass "$pw" 2>&1; echo "rc=$?")
				expect_eq "$ks: -list $o -alias $alias equals Java's" "$ours" "$java"
			done
		done
	fi
done

# No password: Enter at the prompt lists without checking integrity.
for ks in cert.jks chain.p12; do
	out=$(echo | "$ATRIUM" keytool -list -keystore "$ks" 2>"$T/err")
	expect_eq "$ks: -list without a password" "$out" "$(expected "$ks.list-nopass.txt" "$ks")"
	expect_eq "$ks: -list without a password: prompt and WARNING box" "$(cat "$T/err")" \
		"$(cat "$ks.list-nopass.stderr.txt")"
done

for f in server.cer server.pem; do
	out=$("$ATRIUM" keytool -printcert -file "$f" 2>"$T/err")
	expect_eq "$f: -printcert as keytool printed it" "$out" "$(cat "$f.printcert.txt")"
	expect_eq "$f: -printcert writes nothing on stderr" "$(cat "$T/err")" ""
done

# The other certificates and requests of the folder, against Java today.
if [ $have_java = 1 ]; then
	for f in *.pem *.cer; do
		for o in "" -rfc -v; do
			java=$(keytool -printcert $o -file "$f" 2>&1; echo "rc=$?")
			ours=$("$ATRIUM" keytool -printcert $o -file "$f" 2>&1; echo "rc=$?")
			# With -v Java adds its stack trace to an error; compare the error.
			if [[ $java == "keytool error: "* ]]; then
				java="${java%%$'\n'*} ${java##*$'\n'}"
				ours="${ours%%$'\n'*} ${ours##*$'\n'}"
			fi
			expect_eq "$f: -printcert $o equals Java's" "$ours" "$java"
		done
	done
	for f in *.csr; do
		java=$(keytool -printcertreq -file "$f" 2>&1; echo "rc=$?")
		ours=$("$ATRIUM" keytool -printcertreq -file "$f" 2>&1; echo "rc=$?")
		expect_eq "$f: -printcertreq equals Java's" "$ours" "$java"
	done
else
	echo "# keytool (Java 17) is not installed: compared with the stored listings only"
fi

# -exportcert gives keytool's exact files back.
out=$("$ATRIUM" keytool -exportcert -keystore rsa2048.jks -storepass changeit -alias server \
	-file "$T/server.cer" 2>&1)
check "-exportcert writes the DER keytool wrote (server.cer)" cmp "$T/server.cer" server.cer
expect_match "-exportcert says where" "$out" "^Certificate stored in file <$T/server.cer>"
"$ATRIUM" keytool -exportcert -rfc -keystore rsa2048.jks -storepass changeit -alias server \
	-file "$T/server.pem" 2>/dev/null
check "-exportcert -rfc writes keytool's PEM bytes, CRLF and all (server.pem)" \
	cmp "$T/server.pem" server.pem
"$ATRIUM" keytool -exportcert -rfc -keystore ca.p12 -storepass changeit -alias root \
	>"$T/root.pem" 2>/dev/null
check "-exportcert -rfc to stdout of ca.p12's root is root-ca.pem" cmp "$T/root.pem" root-ca.pem

finish
