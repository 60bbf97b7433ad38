#!/usr/bin/env bash
# The server's trust store for outbound TLS (DIR/tls/truststore.p12) with a
# real atriumd: first start makes it empty with its password file (0600);
# Java's keytool reads it; a CA imported with `atrium keytool -importcert`
# is listed by `atrium admin trust list` without a restart, and Java lists
# it too; against openssl s_server with a certificate from that CA, `fetch`
# shows the chain and the root's fingerprint, a wrong --fingerprint trusts
# nothing, the right one trusts the root, an answer "yes" at the prompt too;
# import and remove; a damaged file is reported in the listing and the log
# while the server keeps serving and keeps the certificates in force.
. "$(dirname "$0")/lib.sh"

expect_exit() {
	local name=$1 code=$2 rc
	shift 2
	OUT=$("$@" 2>&1)
	rc=$?
	if [ "$rc" -eq "$code" ]; then ok "$name"; else not_ok "$name" "exit $rc, wanted $code: $*" "$OUT"; fi
}

fp_of() { openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/.*=//'; }

DATA=$T/data
start_atriumd "$DATA" || { not_ok "atriumd starts"; finish; }
wait_port "$ADMIN_PORT" 30 || { not_ok "the admin port listens"; finish; }
wait_port "$TLS_PORT" 30 || { not_ok "the TLS port listens"; finish; }
P12=$DATA/tls/truststore.p12
PASSFILE=$DATA/tls/truststore.pass
AS=(--server "127.0.0.1:$ADMIN_PORT")

# ---- first start ----------------------------------------------------------------
expect_eq "first start makes truststore.p12, mode 0600" "$(stat -c %a "$P12" 2>&1)" 600
expect_eq "and truststore.pass, mode 0600" "$(stat -c %a "$PASSFILE" 2>&1)" 600
SP=$(head -n1 "$PASSFILE")
secret "$SP"
expect_match "its password is random" "$SP" '^[0-9a-f]{24}$'
HAVE_JAVA=0
command -v keytool >/dev/null 2>&1 && HAVE_JAVA=1
if [ $HAVE_JAVA = 1 ]; then
	expect_exit "Java's keytool -list reads the new store" 0 keytool -list -keystore "$P12" -storepass "$SP"
	expect_match "as an empty PKCS12" "$OUT" "Keystore type: PKCS12.*contains 0 entries"
else
	ok "# SKIP Java's keytool is not installed"
fi

# ---- a CA, imported with atrium keytool -----------------------------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/ca.key" \
	-out "$T/ca.pem" -days 30 -subj "/CN=Outbound Test CA" \
	-addext basicConstraints=critical,CA:true -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/leaf.key" \
	-out "$T/leaf.csr" -subj "/CN=receiver.test" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:false\n' >"$T/leaf.ext"
openssl x509 -req -in "$T/leaf.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial -days 10 \
	-extfile "$T/leaf.ext" -out "$T/leaf.pem" 2>/dev/null
CA_FP=$(fp_of "$T/ca.pem")
LEAF_FP=$(fp_of "$T/leaf.pem")

expect_exit "atrium keytool -importcert adds the CA to the store" 0 "$ATRIUM" keytool -importcert \
	-noprompt -alias outca -file "$T/ca.pem" -keystore "$P12" -storepass "$SP"

mkdir -p "$ATRIUM_HOME/certs"
cp "$DATA/tls/client/cert.jks" "$DATA/tls/client/cert.pass" "$ATRIUM_HOME/certs/"
expect_exit "log in as admin" 0 "$ATRIUM" login -u admin --password-stdin "127.0.0.1:$TLS_PORT" \
	<<<"$ATRIUM_ADMIN_PASSWORD"

expect_exit "admin trust list" 0 "$ATRIUM" admin trust list "${AS[@]}"
expect_match "shows the keytool import without a restart" "$OUT" "outca"
expect_match "with its subject" "$OUT" "Subject +CN=Outbound Test CA"
expect_match "its fingerprint" "$OUT" "SHA-256 +$CA_FP"
expect_match "and that it is a CA" "$OUT" "CA +yes \\(self-signed\\)"
expect_match "and says the system's roots are trusted too" "$OUT" "system's roots are trusted too"
if [ $HAVE_JAVA = 1 ]; then
	expect_exit "Java's keytool lists it" 0 keytool -list -keystore "$P12" -storepass "$SP"
	expect_match "as a trustedCertEntry with that fingerprint" "$OUT" \
		"outca, .*trustedCertEntry.*$CA_FP"
fi
expect_exit "admin trust list --json" 0 "$ATRIUM" admin trust list --json "${AS[@]}"
expect_eq "lists alias, CA flag and sha256" \
	"$(json_get "$OUT" '[(e["alias"], e["ca"], e["sha256"]) for e in j["entries"]]')" \
	"[('outca', True, '$CA_FP')]"

expect_exit "admin trust remove" 0 "$ATRIUM" admin trust remove outca "${AS[@]}"
expect_exit "and the list" 0 "$ATRIUM" admin trust list --json "${AS[@]}"
expect_eq "is empty again" "$(json_get "$OUT" 'len(j["entries"])')" 0
if [ $HAVE_JAVA = 1 ]; then
	expect_exit "Java's keytool reads the store the server wrote" 0 keytool -list -keystore "$P12" \
		-storepass "$SP"
	expect_match "with 0 entries" "$OUT" "contains 0 entries"
fi
expect_exit "removing it again is refused" 1 "$ATRIUM" admin trust remove outca "${AS[@]}"
expect_match "with the keystore's words" "$OUT" "no entry 'outca'"

# ---- fetch from a TLS server ------------------------------------------------------
SPORT=$(free_port)
openssl s_server -accept "127.0.0.1:$SPORT" -cert "$T/leaf.pem" -key "$T/leaf.key" \
	-cert_chain "$T/ca.pem" -www -quiet >"$T/s_server.out" 2>&1 &
_pids+=($!)
wait_port "$SPORT" 10 || not_ok "openssl s_server starts"

expect_exit "fetch, answering no, trusts nothing" 0 "$ATRIUM" admin trust fetch "127.0.0.1:$SPORT" \
	"${AS[@]}" <<<"no"
expect_match "shows the leaf" "$OUT" "\\[1\\] leaf.*Subject +CN=receiver.test.*SHA-256 +$LEAF_FP"
expect_match "and the root, last, with its fingerprint" "$OUT" \
	"\\[2\\] root.*Subject +CN=Outbound Test CA.*SHA-256 +$CA_FP"
expect_match "says the server does not trust it yet" "$OUT" "does not trust this chain yet"
expect_match "asks before trusting the root" "$OUT" "Trust CN=Outbound Test CA .*\\[no\\]"
expect_match "and says nothing was trusted" "$OUT" "Nothing was trusted"

WRONG=$(printf '%s' "$CA_FP" | tr '0-9A-F' 'A-F0-9')
expect_exit "a wrong --fingerprint is refused" 1 "$ATRIUM" admin trust fetch "127.0.0.1:$SPORT" \
	--fingerprint "$WRONG" "${AS[@]}"
expect_match "saying no certificate has it, and the chain" "$OUT" \
	"SHA-256 +$CA_FP.*has the SHA-256 fingerprint.*nothing was trusted"
"$ATRIUM" admin trust list --json "${AS[@]}" >"$T/list.json" 2>&1
expect_eq "and nothing was trusted" "$(json_get "$(cat "$T/list.json")" 'len(j["entries"])')" 0

expect_exit "the right --fingerprint trusts the root" 0 "$ATRIUM" admin trust fetch \
	"127.0.0.1:$SPORT" --fingerprint "$(tr -d ':' <<<"$CA_FP" | tr 'A-F' 'a-f')" "${AS[@]}"
expect_match "as an alias made from its CN" "$OUT" "Trusted for outbound TLS, as 'outbound-test-ca'"
expect_exit "list" 0 "$ATRIUM" admin trust list "${AS[@]}"
expect_match "shows it" "$OUT" "outbound-test-ca.*SHA-256 +$CA_FP"
expect_exit "fetch again" 0 "$ATRIUM" admin trust fetch "127.0.0.1:$SPORT" "${AS[@]}" </dev/null
expect_match "says the server trusts the chain now" "$OUT" "already trusts this chain"
if [ $HAVE_JAVA = 1 ]; then
	expect_exit "Java's keytool lists what fetch trusted" 0 keytool -list -keystore "$P12" \
		-storepass "$SP"
	expect_match "as a trustedCertEntry" "$OUT" "outbound-test-ca, .*trustedCertEntry.*$CA_FP"
fi
grep -q "admin 'admin' from 127.0.0.1: trusted certificate 'outbound-test-ca' of 127.0.0.1:$SPORT" \
	"$DATA.log" && ok "the log says who trusted what" || not_ok "the log says who trusted what" \
	"$(grep 'trust' "$DATA.log")"

expect_exit "import of the same certificate is refused" 1 "$ATRIUM" admin trust import \
	"$T/ca.pem" "${AS[@]}"
expect_match "naming the alias it has" "$OUT" "already trusted, as 'outbound-test-ca'"
openssl x509 -in "$T/leaf.pem" -outform DER -out "$T/leaf.der"
expect_exit "import of a DER leaf" 0 "$ATRIUM" admin trust import "$T/leaf.der" --alias Receiver \
	"${AS[@]}"
expect_match "is accepted, noting it is not a CA" "$OUT" "as 'Receiver'.*CA +no.*not a CA"
expect_exit "remove by alias, in any case" 0 "$ATRIUM" admin trust remove receiver "${AS[@]}"
expect_exit "remove the root" 0 "$ATRIUM" admin trust remove outbound-test-ca "${AS[@]}"
expect_exit "fetch, answering yes, trusts the root" 0 "$ATRIUM" admin trust fetch \
	"127.0.0.1:$SPORT" --alias answered-yes "${AS[@]}" <<<"yes"
expect_match "under the alias given" "$OUT" "as 'answered-yes'"
grep -q "admin 'admin' from 127.0.0.1: removed certificate 'receiver'" "$DATA.log" &&
	ok "the log says who removed what" || not_ok "the log says who removed what"

# ---- usage -------------------------------------------------------------------------
expect_exit "--fingerprint and --yes together are a usage error" 2 "$ATRIUM" admin trust fetch \
	"127.0.0.1:$SPORT" --yes --fingerprint "$CA_FP" "${AS[@]}"
expect_exit "a bad port is a usage error" 2 "$ATRIUM" admin trust fetch "127.0.0.1:0" "${AS[@]}"
for sub in list import remove fetch; do
	expect_exit "admin trust $sub --help" 0 "$ATRIUM" admin trust "$sub" --help
done
expect_match "fetch --help explains --fingerprint" "$OUT" "--fingerprint SHA256"
expect_exit "fetch from a closed port fails" 1 "$ATRIUM" admin trust fetch "127.0.0.1:$(free_port)" \
	--yes "${AS[@]}"

# ---- a damaged file ----------------------------------------------------------------
cp "$P12" "$T/good.p12"
lines=$(wc -l <"$DATA.log")
flip_byte "$P12" 40
expect_exit "a damaged store: list fails" 1 "$ATRIUM" admin trust list "${AS[@]}"
expect_match "with a clear sentence" "$OUT" "truststore.p12 fails its integrity check"
expect_match "and still shows the certificates in force" "$OUT" "answered-yes"
expect_match "which stay trusted" "$OUT" "keeps trusting the certificates listed"
expect_match "the log says so too" "$(log_since "$DATA.log" "$lines" 'WARN  trust store')" \
	"WARN  trust store: .*truststore.p12 fails its integrity check"
expect_exit "a change is refused while it is damaged" 1 "$ATRIUM" admin trust import \
	"$T/leaf.pem" "${AS[@]}"
expect_eq "the server keeps serving" "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/healthz")" 200
cp "$T/good.p12" "$P12"
expect_exit "once repaired, list works again" 0 "$ATRIUM" admin trust list "${AS[@]}"
expect_match "with the entry" "$OUT" "answered-yes"

# ---- outbound_allow: where the server may connect out to ---------------------------
# set_allow VALUE: outbound_allow = VALUE in atrium.conf, then SIGHUP; prints
# the log lines of the reload.
set_allow() {
	local n
	sed -i '/^outbound_allow *=/d' "$DATA/atrium.conf"
	printf 'outbound_allow = %s\n' "$1" >>"$DATA/atrium.conf"
	n=$(wc -l <"$DATA.log")
	kill -HUP "$SERVER_PID"
	log_since "$DATA.log" "$n" 'reload done|reload failed'
}
fetch_api() { # fetch_api HOST: POST /admin/api/trust/fetch as curl sees it
	curl -sS --cacert "$DATA/tls/ca.crt" -H "Authorization: Bearer $TOKEN" \
		-H 'Content-Type: application/json' -d "{\"host\":\"$1\",\"port\":$SPORT}" \
		-w '\n%{http_code}' "https://localhost:$ADMIN_PORT/admin/api/trust/fetch"
}
TOKEN=$(login_token admin "$ATRIUM_ADMIN_PASSWORD")
expect_match "outbound_allow = 10.0.0.0/8 applies on SIGHUP" "$(set_allow 10.0.0.0/8)" 'reload done'
expect_exit "then a fetch from 127.0.0.1 is refused" 1 "$ATRIUM" admin trust fetch \
	"127.0.0.1:$SPORT" "${AS[@]}" </dev/null
expect_match "with a sentence naming the setting" "$OUT" \
	"connecting to 127.0.0.1 is not allowed by outbound_allow \\(10.0.0.0/8\\)"
out=$(fetch_api 127.0.0.1)
expect_eq "the API answers 403" "$(tail -n1 <<<"$out")" 403
expect_eq "with the code outbound_denied" "$(json_get "$(head -n1 <<<"$out")" 'j["code"]')" outbound_denied
expect_eq "and the field outbound_allow" "$(json_get "$(head -n1 <<<"$out")" 'j.get("field")')" outbound_allow
expect_exit "a name that resolves to 127.0.0.1 is refused too" 1 "$ATRIUM" admin trust fetch \
	"localhost:$SPORT" "${AS[@]}" </dev/null
expect_match "naming the address it resolves to" "$OUT" "localhost resolves to [0-9a-f.:]+, which outbound_allow"
expect_match "the log says who was refused" "$(grep 'refused' "$DATA.log" | tail -n1)" \
	"WARN  admin 'admin' from 127.0.0.1: fetch from localhost:$SPORT refused: localhost resolves to"

expect_match "a bad outbound_allow is refused on SIGHUP" "$(set_allow '10.0.0.0/33')" \
	"reload failed, nothing changed: outbound_allow: '10.0.0.0/33' is not"
expect_exit "and the rule in force stays" 1 "$ATRIUM" admin trust fetch "127.0.0.1:$SPORT" \
	"${AS[@]}" </dev/null
expect_exit "atriumd --check-config refuses it too" 1 "$ATRIUMD" --data "$DATA" --check-config

expect_match "outbound_allow = 10.0.0.0/8, 127.0.0.1 on SIGHUP" "$(set_allow '10.0.0.0/8, 127.0.0.1')" 'reload done'
expect_exit "then the fetch from 127.0.0.1 works" 0 "$ATRIUM" admin trust fetch "127.0.0.1:$SPORT" \
	"${AS[@]}" </dev/null
expect_match "and shows the chain" "$OUT" "SHA-256 +$CA_FP"
expect_match "outbound_allow = 127.0.0.0/8 (a network)" "$(set_allow '127.0.0.0/8')" 'reload done'
expect_eq "allows 127.0.0.1" "$(tail -n1 <<<"$(fetch_api 127.0.0.1)")" 200
expect_match "outbound_allow = localhost (a name)" "$(set_allow 'localhost')" 'reload done'
expect_eq "allows the name, whatever it resolves to" "$(tail -n1 <<<"$(fetch_api localhost)")" 200
expect_eq "but not the address by itself" "$(tail -n1 <<<"$(fetch_api 127.0.0.1)")" 403
expect_match "outbound_allow = * again" "$(set_allow '*')" 'reload done'
expect_eq "allows anywhere" "$(tail -n1 <<<"$(fetch_api 127.0.0.1)")" 200
unset TOKEN

finish
