#!/usr/bin/env bash
# The login limit (login_attempts) against attacks on the limiter itself:
# other names' failures from many addresses must not erase a user's lock,
# concurrent guesses must not slip past it, and every password check (the
# old password of a password change too) must go through it.
# Linux lets a client bind any 127.0.0.0/8 address, so each "attacker
# address" below is a real source address the server sees.
. "$(dirname "$0")/lib.sh"

D=$T/data
start_atriumd "$D" --set login_attempts=5 || exit 1
TOKEN=$(login_token admin "$ATRIUM_ADMIN_PASSWORD")
for u in ev cc pw; do
	secret "$u-right-pass-1"
	api POST /api/v1/users -d "{\"name\":\"$u\",\"password\":\"$u-right-pass-1\"}" >/dev/null
done
TOKEN=

# login FROM USER PASSWORD: the status of POST /api/v1/session from FROM.
login() {
	curl -s -o /dev/null -w '%{http_code}' --interface "$1" \
		-d "{\"user\":\"$2\",\"password\":\"$3\"}" "$BASE/api/v1/session"
}

# ---- a success gives its count back: the limit counts failures only.
codes=$(for i in $(seq 8); do login 127.5.0.1 cc cc-right-pass-1; echo; done | sort | uniq -c | xargs)
expect_eq "8 right passwords in a row: all 200" "$codes" "8 200"

# ---- lock ev (a user) and ghost (no such user), then flood the table.
for i in 1 2 3 4 5; do
	login 127.0.0.1 ev wrong-guess >/dev/null
	login 127.6.0.$i ghost wrong-guess >/dev/null
done
expect_eq "5 wrong passwords lock ev" "$(login 127.7.0.1 ev ev-right-pass-1)" 429
expect_eq "5 failures lock an unknown name too" "$(login 127.7.0.1 ghost x)" 429
# 600 names, one failure each, from 600 addresses: more counters than the
# shared table has slots.
out=$(python3 - "$PORT" <<'PY'
import http.client, json, sys, collections
from concurrent.futures import ThreadPoolExecutor
port = int(sys.argv[1])
def one(i):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60,
        source_address=("127.1.%d.%d" % (i // 250, i % 250 + 1), 0))
    c.request("POST", "/api/v1/session", json.dumps({"user": "flood-%d" % i, "password": "x"}))
    s = c.getresponse().status
    c.close()
    return s
with ThreadPoolExecutor(8) as ex:
    print(" ".join("%d:%d" % kv for kv in sorted(collections.Counter(ex.map(one, range(600))).items())))
PY
)
expect_eq "the flood: 600 failed logins" "$out" "401:600"
expect_eq "after the flood the right password for ev is still 429 (from a new address)" \
	"$(login 127.8.0.1 ev ev-right-pass-1)" 429
expect_eq "... and from the address that guessed" "$(login 127.0.0.1 ev ev-right-pass-1)" 429
expect_eq "the unknown name is still locked" "$(login 127.8.0.2 ghost x)" 429
code=$(curl -s -o /dev/null -w '%{http_code}' --interface 127.8.0.3 -u ev:ev-right-pass-1 "$BASE/api/v1/projects")
expect_eq "Basic authentication for ev is still 429" "$code" 429

# ---- 50 concurrent wrong passwords for one user from one address: each
# is counted before its password is checked, so at most 5 are checked.
out=$(python3 - "$PORT" <<'PY'
import http.client, json, sys, threading, collections
port = int(sys.argv[1])
go = threading.Barrier(50)
codes = []
def one():
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60, source_address=("127.3.0.1", 0))
    c.connect()
    go.wait()
    c.request("POST", "/api/v1/session", json.dumps({"user": "cc", "password": "wrong-guess"}))
    codes.append(c.getresponse().status)
    c.close()
ts = [threading.Thread(target=one) for _ in range(50)]
for t in ts: t.start()
for t in ts: t.join()
n = collections.Counter(codes)
print(n[401], n[429], len(codes))
PY
)
read -r n401 n429 total <<<"$out"
[ "$total" == 50 ] && [ "$n401" -le 5 ] && [ $((n401 + n429)) -eq 50 ] &&
	ok "50 concurrent wrong logins: $n401 checked (401), $n429 refused (429)" ||
	not_ok "50 concurrent wrong logins: at most 5 checked" "401: $n401, 429: $n429, answers: $total"
expect_eq "then the right password for cc is 429" "$(login 127.3.0.2 cc cc-right-pass-1)" 429

# ---- the old password of a password change is limited like a login.
TOKEN=$(curl -s --interface 127.4.0.1 -d '{"user":"pw","password":"pw-right-pass-1"}' "$BASE/api/v1/session" |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
secret "$TOKEN"
# change OLD: the status of pw changing its own password, knowing OLD.
change() {
	curl -s -o /dev/null -w '%{http_code}' --interface 127.4.0.1 -X PUT \
		-H "Authorization: Bearer $TOKEN" \
		-d "{\"password\":\"pw-new-pass-12\",\"old_password\":\"$1\"}" "$BASE/api/v1/users/pw/password"
}
codes=$(for i in $(seq 7); do change "wrong-old-$i"; echo; done | xargs)
expect_eq "wrong old passwords: 5 times 403, then 429" "$codes" "403 403 403 403 403 429 429"
expect_eq "then the right old password is 429 too" "$(change pw-right-pass-1)" 429
expect_eq "... and so is a login as pw from elsewhere" "$(login 127.4.0.2 pw pw-right-pass-1)" 429
check "the wrong old passwords are logged" grep -q "wrong old password for 'pw' from 127.4.0.1" "$D.log"
stop_atriumd
finish
