#!/usr/bin/env bash
# `atrium admin integrations` against a real atriumd: add prints the
# signing secret once and never again (list, show, --json), list and log
# are tables, show describes the trust (store, CA file, pin) and the client
# certificate (a PKCS#12 made by openssl, its SHA-256 as openssl computes
# it); the API's refusals reach the exit status with the option at fault
# named (a taken name, http:// to another machine without --allow-plain,
# a bad pin, a CA file for http); set changes only what is given; pause,
# resume, rotate-secret, test, redeliver, remove. Then a receiver on
# 127.0.0.1 that verifies every delivery with the Python function of
# docs/integrations.md (taken from the document itself): a project created
# is delivered and verified, `test` waits for its outcome, `log` shows it,
# a redelivery repeats the same webhook-id, and after rotate-secret a
# receiver still holding the old secret accepts the next delivery.
. "$(dirname "$0")/lib.sh"

expect_exit() {
	local name=$1 code=$2 rc
	shift 2
	OUT=$("$@" 2>&1)
	rc=$?
	if [ "$rc" -eq "$code" ]; then ok "$name"; else not_ok "$name" "exit $rc, wanted $code: $*" "$OUT"; fi
}

I=("$ATRIUM" admin integrations)

# ---- usage, before any server ------------------------------------------------------
for sub in "" add set list show test log redeliver pause resume rotate-secret remove; do
	expect_exit "integrations $sub --help" 0 "${I[@]}" $sub --help
done
expect_match "the command list names every subcommand" "$("${I[@]}" --help)" \
	"list.*show.*add.*set.*test.*log.*redeliver.*pause.*resume.*rotate-secret.*remove"
expect_exit "add without --url is a usage error" 2 "${I[@]}" add ci
expect_match "that says what to give" "$OUT" "give the receiver's address with --url URL"
expect_exit "add with --ca-file and --pin is a usage error" 2 "${I[@]}" add ci --url https://x.test/ \
	--ca-file /dev/null --pin 00
expect_exit "set with nothing to change is a usage error" 2 "${I[@]}" set ci
expect_exit "set with an option and its opposite is a usage error" 2 "${I[@]}" set ci \
	--allow-plain --no-allow-plain
expect_exit "redeliver with a delivery id that is not a number" 2 "${I[@]}" redeliver ci abc
expect_exit "log --limit 0 is a usage error" 2 "${I[@]}" log ci --limit 0
expect_exit "rotate-secret --overlap-hours 721 is a usage error" 2 "${I[@]}" rotate-secret ci \
	--overlap-hours 721
expect_exit "an unknown subcommand is a usage error" 2 "${I[@]}" frobnicate
expect_exit "a keystore password file without a keystore" 2 "${I[@]}" add ci --url http://127.0.0.1/ \
	--client-storepass-file /dev/null

# ---- the server, a session, certificates -------------------------------------------
DATA=$T/data
start_atriumd "$DATA" || { not_ok "atriumd starts"; finish; }
wait_port "$ADMIN_PORT" 30 || { not_ok "the admin port listens"; finish; }
wait_port "$TLS_PORT" 30 || { not_ok "the TLS port listens"; finish; }
AS=(--server "127.0.0.1:$ADMIN_PORT")
mkdir -p "$ATRIUM_HOME/certs"
cp "$DATA/tls/client/cert.jks" "$DATA/tls/client/cert.pass" "$ATRIUM_HOME/certs/"
expect_exit "log in as admin" 0 "$ATRIUM" login -u admin --password-stdin "127.0.0.1:$TLS_PORT" \
	<<<"$ATRIUM_ADMIN_PASSWORD"

C=$T/certs
mkdir -p "$C"
if openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$C/ca.key" \
	-out "$C/ca.pem" -days 30 -subj "/CN=Receiver CA/O=Atrium integrations test" \
	-addext basicConstraints=critical,CA:true -addext keyUsage=critical,keyCertSign,cRLSign &&
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$C/client.key" \
		-out "$C/client.pem" -days 30 -subj "/CN=atrium-client" &&
	printf 'client-pass-1\n' >"$C/client.pass" &&
	openssl pkcs12 -export -in "$C/client.pem" -inkey "$C/client.key" -name client \
		-passout pass:client-pass-1 -out "$C/client.p12"; then
	ok "openssl makes a CA and a client keystore"
else
	not_ok "openssl makes a CA and a client keystore"
fi 2>"$T/openssl.log"
secret client-pass-1
# Fingerprints compared as the API may print them: hex, any case, colons or not.
norm() { tr -d ':\n' | tr 'A-F' 'a-f'; }
CLIENT_FP=$(openssl x509 -in "$C/client.pem" -noout -fingerprint -sha256 | sed 's/.*=//' | norm)

# ---- add, list, show ----------------------------------------------------------------
expect_exit "list with no integration" 0 "${I[@]}" list "${AS[@]}"
expect_match "says there are none yet and how to add one" "$OUT" "No integrations yet.*add NAME --url URL"

RPORT=$(free_port)
expect_exit "add an integration to a receiver on 127.0.0.1" 0 "${I[@]}" add ci \
	--url "http://127.0.0.1:$RPORT/hook" --events revision.committed,project.created "${AS[@]}"
ADD_OUT=$OUT
S1=$(sed -n 's/^secret: \(whsec_[A-Za-z0-9+/=]*\)$/\1/p' <<<"$ADD_OUT")
secret "$S1"
expect_match "it prints the secret on a line 'secret: whsec_...'" "$S1" '^whsec_[A-Za-z0-9+/]{20,}={0,2}$'
expect_eq "once" "$(grep -c whsec_ <<<"$ADD_OUT")" 1
expect_match "and says it will not be shown again" "$ADD_OUT" "will not be shown again"
expect_match "it shows the kinds asked for" "$ADD_OUT" "Events +revision.committed,project.created"
expect_match "and that plain HTTP goes to this machine only" "$ADD_OUT" "Plain HTTP +to this machine only"

expect_exit "list" 0 "${I[@]}" list "${AS[@]}"
expect_match "is a table with a header" "$OUT" "^NAME +STATE +PENDING +PROJECT +EVENTS +URL"
expect_match "listing ci as active with nothing pending" "$OUT" \
	"ci +active +0 +- +revision.committed,project.created +http://127.0.0.1:$RPORT/hook"
expect_exit "list --json" 0 "${I[@]}" list --json "${AS[@]}"
LIST_JSON=$OUT
expect_eq "its JSON holds the integration and its kinds" \
	"$(json_get "$LIST_JSON" '[(i["name"], i["events"], i["state"]) for i in j["integrations"]]')" \
	"[('ci', ['revision.committed', 'project.created'], 'active')]"
expect_exit "show ci" 0 "${I[@]}" show ci "${AS[@]}"
SHOW_OUT=$OUT
expect_match "show names the URL" "$SHOW_OUT" "URL +http://127.0.0.1:$RPORT/hook"
expect_match "and who created it" "$SHOW_OUT" "Created +.* by admin"
expect_exit "show ci --json" 0 "${I[@]}" show ci --json "${AS[@]}"
expect_eq "which is the integration object" "$(json_get "$OUT" 'j["integration"]["name"]')" ci
check_fails "the secret is in no listing, no show and no JSON" grep -q whsec_ \
	<<<"$LIST_JSON$SHOW_OUT$OUT"

# ---- refusals carry the API's code to the exit status and name the option ----------
expect_exit "a taken name is refused" 1 "${I[@]}" add ci --url "http://127.0.0.1:$RPORT/" "${AS[@]}"
expect_match "saying so" "$OUT" "atrium: .*(exist|taken|already)"
expect_exit "http:// to another machine without --allow-plain is refused" 1 "${I[@]}" add far \
	--url http://192.0.2.10/hook "${AS[@]}"
expect_match "naming --url" "$OUT" "^atrium: --url: "
expect_exit "with --allow-plain it is added" 0 "${I[@]}" add far --url http://192.0.2.10/hook \
	--allow-plain "${AS[@]}"
expect_match "and show says plain HTTP may go anywhere" "$OUT" "Plain HTTP +allowed to any host"
S_FAR=$(sed -n 's/^secret: //p' <<<"$OUT")
secret "$S_FAR"
expect_exit "a pin that is not a SHA-256 is refused" 1 "${I[@]}" add pinned \
	--url https://127.0.0.1:9/ --pin 12:34 "${AS[@]}"
expect_match "naming --pin" "$OUT" "^atrium: --pin: "
expect_exit "a CA file for an http:// URL is refused" 1 "${I[@]}" add plainca \
	--url "http://127.0.0.1:$RPORT/" --ca-file "$C/ca.pem" "${AS[@]}"
expect_match "naming --ca-file" "$OUT" "^atrium: --ca-file: "
expect_exit "an unknown event kind is refused" 1 "${I[@]}" add kinds \
	--url "http://127.0.0.1:$RPORT/" --events revision.committed,bogus.kind "${AS[@]}"
expect_match "naming --events and the kind" "$OUT" "^atrium: --events: .*bogus.kind"
expect_exit "a file that is no certificate is refused before sending" 1 "${I[@]}" add notca \
	--url https://127.0.0.1:9/ --ca-file "$C/client.pass" "${AS[@]}"
expect_exit "show of an integration that does not exist fails" 1 "${I[@]}" show nosuch "${AS[@]}"
expect_match "saying it is not found" "$OUT" "atrium: .*(not found|no integration)"

# ---- trust choices and a client certificate ----------------------------------------
PIN=$(openssl x509 -in "$C/ca.pem" -noout -fingerprint -sha256 | sed 's/.*=//')
expect_exit "add with a CA file" 0 "${I[@]}" add secure --url https://127.0.0.1:9/hook \
	--ca-file "$C/ca.pem" "${AS[@]}"
secret "$(sed -n 's/^secret: //p' <<<"$OUT")"
expect_match "show names the CA file's subject as the trust" "$OUT" "Trust +only the CA file given: .*CN=Receiver CA"
expect_exit "set: a pin instead" 0 "${I[@]}" set secure --pin "$PIN" "${AS[@]}"
expect_match "the pin is the trust now" "$OUT" "Trust +only the certificate with SHA-256 $(norm <<<"$PIN")"
expect_exit "set: a client keystore (PKCS#12, password from a file)" 0 "${I[@]}" set secure \
	--client-keystore "$C/client.p12" --client-storepass-file "$C/client.pass" "${AS[@]}"
expect_match "show names the client certificate" "$OUT" "Client cert +CN=atrium-client, until "
expect_match "with its SHA-256 as openssl computes it" "$(norm <<<"$OUT")" "$CLIENT_FP"
expect_exit "a wrong keystore password is refused" 1 "${I[@]}" set secure \
	--client-keystore "$C/client.p12" --client-storepass-file "$C/ca.key" "${AS[@]}"
expect_match "naming --client-keystore" "$OUT" "^atrium: --client-keystore: "
expect_exit "set: back to the trust store, no client certificate" 0 "${I[@]}" set secure \
	--trust-store --no-client-keystore "${AS[@]}"
expect_match "the trust store is the trust again" "$OUT" "Trust +the server's trust store"
expect_match "and there is no client certificate" "$OUT" "Client cert +none"

# ---- set, pause, resume, rotate, test, log, redeliver, remove ----------------------
expect_exit "set: a project filter" 0 "${I[@]}" set ci --project plant "${AS[@]}"
expect_match "show names the project" "$OUT" "Project +plant"
expect_match "and kept the kinds" "$OUT" "Events +revision.committed,project.created"
expect_exit "set: every project and every kind" 0 "${I[@]}" set ci --all-projects --events '*' "${AS[@]}"
expect_match "every project" "$OUT" "Project +every project"
expect_match "every kind" "$OUT" "Events +every kind"
expect_match "the URL is kept" "$OUT" "URL +http://127.0.0.1:$RPORT/hook"

expect_exit "pause" 0 "${I[@]}" pause far "${AS[@]}"
expect_match "says it is paused" "$OUT" "^far is paused; [0-9]+ deliver(y|ies) waiting"
expect_match "list shows it paused" "$("${I[@]}" list "${AS[@]}" 2>&1)" "far +paused"
expect_exit "resume" 0 "${I[@]}" resume far "${AS[@]}"
expect_match "says it is active" "$OUT" "^far is active"

expect_exit "rotate-secret" 0 "${I[@]}" rotate-secret far --overlap-hours 2 "${AS[@]}"
S_FAR2=$(sed -n 's/^secret: //p' <<<"$OUT")
secret "$S_FAR2"
expect_match "prints a new secret" "$S_FAR2" '^whsec_'
check_fails "not the old one" test "$S_FAR2" = "$S_FAR"
expect_match "and until when both sign" "$OUT" "Until .* deliveries carry both signatures"

expect_exit "test --wait 0 queues a test event" 0 "${I[@]}" test far --wait 0 "${AS[@]}"
expect_match "naming its delivery" "$OUT" "^Queued an integration.test event for far as delivery [0-9]+"
expect_exit "log --json" 0 "${I[@]}" log far --json --limit 5 "${AS[@]}"
expect_eq "answers a list of attempts" "$(json_get "$OUT" 'type(j["attempts"]).__name__')" list
expect_exit "redeliver of a delivery that does not exist fails" 1 "${I[@]}" redeliver far 999999 "${AS[@]}"

expect_exit "remove" 0 "${I[@]}" remove far "${AS[@]}"
expect_exit "then show fails" 1 "${I[@]}" show far "${AS[@]}"
expect_exit "and remove again fails" 1 "${I[@]}" remove far "${AS[@]}"
expect_match "the admin log names who changed what" "$(cat "$DATA.log")" "admin 'admin' from .*integration.*far"

# ---- a receiver that verifies with the documentation's own code --------------------
# Deliveries need the deliverer (src/server/deliver.c); a server without it
# has no "integrations" in /healthz.
if ! curl -sS "$BASE/healthz" | python3 -c 'import json,sys; sys.exit("integrations" not in json.load(sys.stdin))'; then
	ok "# SKIP deliveries: this atriumd has no deliverer (no integrations in /healthz)"
	finish
fi
# The Python block of docs/integrations.md, "Verifying the signature".
sed -n '/^```python$/,/^```$/p' "$ATRIUM_TOP/docs/integrations.md" | sed '1d;$d' >"$T/verify.py"
check "docs/integrations.md holds the verify() function" grep -q '^def verify(secret, headers, body):' "$T/verify.py"
printf '%s\n' "$S1" >"$T/receiver.secret"
cat >"$T/receiver.py" <<'EOF'
import http.server, json, sys
exec(open(sys.argv[2]).read())
port, secret_file, out = int(sys.argv[1]), sys.argv[3], sys.argv[4]

class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["content-length"]))
        h = {k.lower(): v for k, v in self.headers.items()}
        try:
            verify(open(secret_file).read().strip(), h, body)
            ok = True
        except (ValueError, KeyError) as e:
            ok = False
        rec = {"verified": ok, "id": h.get("webhook-id"), "sigs": h.get("webhook-signature", ""),
               "event": h.get("x-atrium-event"), "body": json.loads(body)}
        with open(out, "a") as f:
            f.write(json.dumps(rec) + "\n")
        self.send_response(200 if ok else 401)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass

http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
EOF
: >"$T/got.jsonl"
python3 "$T/receiver.py" "$RPORT" "$T/verify.py" "$T/receiver.secret" "$T/got.jsonl" 2>"$T/receiver.log" &
_pids+=($!)
wait_port "$RPORT" 10 || not_ok "the receiver starts" "$(cat "$T/receiver.log")"

# received N: waits (up to 30 s) until the receiver has N requests.
received() {
	local i
	for i in $(seq 300); do
		[ "$(wc -l <"$T/got.jsonl")" -ge "$1" ] && return 0
		sleep 0.1
	done
	return 1
}

expect_exit "test of a receiver that is down fails" 1 "${I[@]}" test secure "${AS[@]}"
expect_match "saying why, in the deliverer's words" "$OUT" \
	"atrium: the test delivery failed: 127.0.0.1:9 refused the connection"
expect_match "and that it is retried" "$OUT" "It will be retried; see atrium admin integrations log secure"
expect_exit "a project is created" 0 "$ATRIUM" project create plant -d "the plant model"
check "the receiver gets a delivery" received 1
REC=$(head -n1 "$T/got.jsonl")
expect_eq "project.created, seq 1, about plant" \
	"$(json_get "$REC" '(j["event"], j["body"]["type"], j["body"]["seq"], j["body"]["data"]["project"])')" \
	"('project.created', 'project.created', 1, 'plant')"
expect_eq "signed with the secret add printed, as the documentation verifies" \
	"$(json_get "$REC" 'j["verified"]')" True

expect_exit "test waits for the outcome" 0 "${I[@]}" test ci "${AS[@]}"
expect_match "and says the receiver took it" "$OUT" "Delivered: the receiver answered 200"
check "the receiver got the test event" received 2
expect_eq "integration.test, verified" \
	"$(json_get "$(sed -n 2p "$T/got.jsonl")" '(j["body"]["type"], j["verified"], j["body"]["data"]["integration"])')" \
	"('integration.test', True, 'ci')"

expect_exit "log" 0 "${I[@]}" log ci "${AS[@]}"
expect_match "is a table with a header" "$OUT" "DELIVERY +SEQ +EVENT +TIME +STATUS +MS +OUTCOME +NEXT ATTEMPT +ERROR"
expect_match "with the test, delivered with 200" "$OUT" "integration.test +[0-9T:Z-]+ +200 +[0-9]+ +delivered"
expect_match "and the project's event" "$OUT" " 1 +project.created +[0-9T:Z-]+ +200 +[0-9]+ +delivered"
FIRST=$("${I[@]}" log ci --json "${AS[@]}" | python3 -c 'import json,sys
print([a["delivery"] for a in json.load(sys.stdin)["attempts"] if a["event"] == "project.created"][0])')
expect_exit "redeliver the first delivery" 0 "${I[@]}" redeliver ci "$FIRST" "${AS[@]}"
expect_match "says it is queued" "$OUT" "^Queued delivery $FIRST of ci again"
check "the receiver gets it again" received 3
R3=$(sed -n 3p "$T/got.jsonl")
ID1=$(json_get "$REC" 'j["id"]')
expect_eq "the same event, seq and webhook-id" \
	"$(json_get "$R3" '(j["body"]["type"], j["body"]["seq"], j["id"], j["verified"])')" \
	"('project.created', 1, '$ID1', True)"

expect_exit "rotate-secret ci" 0 "${I[@]}" rotate-secret ci "${AS[@]}"
S2=$(sed -n 's/^secret: //p' <<<"$OUT")
secret "$S2"
expect_exit "another project is created" 0 "$ATRIUM" project create pump
check "the receiver, still holding the old secret, gets it" received 4
R4=$(sed -n 4p "$T/got.jsonl")
expect_eq "and verifies it" "$(json_get "$R4" '(j["body"]["type"], j["verified"])')" \
	"('project.created', True)"
expect_eq "which carries two signatures" "$(json_get "$R4" 'len(j["sigs"].split(" "))')" 2
printf '%s\n' "$S2" >"$T/receiver.secret"
expect_exit "after the receiver takes the new secret, test still delivers" 0 "${I[@]}" test ci "${AS[@]}"
check_fails "no secret appears in the server's log" grep -qF -e "$S1" -e "$S2" "$DATA.log"

stop_atriumd
finish
