#!/usr/bin/env bash
# Text that enters the store is checked at one boundary (docs/api.md
# "Text"): a commit message that is not UTF-8 or holds a control character
# is refused and the history stays listed; answers are never empty because
# a text did not encode; settings never show a password.
. "$(dirname "$0")/lib.sh"

start_atriumd "$T/data" || exit 1
TOKEN=$(login_token admin "$ATRIUM_ADMIN_PASSWORD")
api POST /api/v1/projects -d '{"name":"plant"}' >/dev/null
echo v >"$T/v"
for i in 1 2 3; do
	api POST "/api/v1/projects/plant/revisions?base=$((i - 1))&message=rev$i" --data-binary @"$T/v" >/dev/null
done

# commit MESSAGE-ENCODED: the status of a commit on base 3, body in $T/out.
commit() {
	api POST "/api/v1/projects/plant/revisions?base=3&message=$1" --data-binary @"$T/v" \
		-o "$T/out" -w '%{http_code}'
}
expect_eq "a message that is not UTF-8 is 400" "$(commit %ff%fe)" 400
expect_match "and says why" "$(cat "$T/out")" '"error":"the query parameter .message. is not valid UTF-8'
expect_eq "an encoded NUL in a message is 400" "$(commit before%00after)" 400
expect_match "and says it is a NUL" "$(cat "$T/out")" 'contains a NUL byte'
expect_eq "a C1 control character (U+0085) is 400" "$(commit %c2%85)" 400
expect_match "and says it is a control character" "$(cat "$T/out")" 'contains a control character'
expect_eq "an escape (C0) is 400" "$(commit a%1bb)" 400
out=$(api GET /api/v1/projects/plant/revisions)
expect_eq "the history still lists its 3 revisions" \
	"$(json_get "$out" 'len(j["revisions"])')" 3
expect_match "the project keeps its last revision" "$(api GET /api/v1/projects/plant)" '"head":3,"last":\{"number":3'

expect_eq "a message with a newline and a tab is accepted" "$(commit line1%0a%09line2)" 201
out=$(api GET /api/v1/projects/plant/revisions/4)
expect_eq "and kept as sent" "$(json_get "$out" 'repr(j["message"])')" "'line1\\n\\tline2'"

code=$(api POST /api/v1/projects -d '{"name":"p2","description":"a\u0085b"}' -o "$T/out" -w '%{http_code}')
expect_eq "a description with a C1 control is 400" "$code" 400
expect_match "naming the field" "$(cat "$T/out")" "the field 'description' contains a control character"
code=$(api POST /api/v1/projects -d '{"name":"p3","description":"two\nlines"}' -o /dev/null -w '%{http_code}')
expect_eq "a two-line description is accepted" "$code" 201
code=$(api POST /api/v1/projects -d "{\"name\":\"p$(printf '\xed\xa0\x80')\"}" -o "$T/out" -w '%{http_code}')
expect_eq "a name holding a UTF-8-encoded surrogate is 400" "$code" 400
expect_match "with a JSON body" "$(cat "$T/out")" '^\{"error":'

# A head message whose 200th byte is inside a character (199 x, then é):
# the 409 quotes it cut on a character boundary.
msg=$(printf 'x%.0s' $(seq 199))%c3%a9tail
expect_eq "a message with a character across byte 200 commits" "$(
	api POST "/api/v1/projects/plant/revisions?base=4&message=$msg" --data-binary @"$T/v" -o /dev/null -w '%{http_code}')" 201
code=$(api POST "/api/v1/projects/plant/revisions?base=4&message=late" --data-binary @"$T/v" -D "$T/hdr" -o "$T/out" -w '%{http_code}')
expect_eq "a stale commit is 409" "$code" 409
expect_match "with a JSON body quoting the message up to the character" "$(cat "$T/out")" \
	'^\{"error":"admin committed revision 5 \(\\"x{199}\\"\) at .*"head":\{"number":5'
check_fails "and not an empty one" grep -qi '^Content-Length: 0' "$T/hdr"
stop_atriumd

# Settings: a password in the database URL is never printed.
secret SECRETPW1 && secret KEYPASS22
out=$(ATRIUM_DATABASE='postgresql://atrium:SECRETPW1@db.example/atrium' "$ATRIUMD" --data "$T/d2" --print-config 2>&1)
expect_match "print-config shows the URL (environment)" "$out" 'database = postgresql://atrium:\*\*\*@db.example/atrium'
check_fails "without its password" grep -q SECRETPW1 <<<"$out"
out=$("$ATRIUMD" --data "$T/d2" --set 'database=postgresql://atrium:SECRETPW1@db.example/atrium?sslpassword=KEYPASS22' --print-config 2>&1)
expect_match "print-config masks a URL's password= keywords too (--set)" "$out" 'database = postgresql://atrium:\*\*\*@db.example/atrium\?sslpassword=\*\*\*'
check_fails "without either password" grep -qE 'SECRETPW1|KEYPASS22' <<<"$out"
mkdir -p "$T/d3" && chmod 700 "$T/d3"
printf 'database = "host=db user=atrium password=SECRETPW1"\n' >"$T/d3/atrium.conf"
out=$("$ATRIUMD" --data "$T/d3" --print-config 2>&1)
expect_match "print-config masks a conninfo password (atrium.conf)" "$out" 'database = host=db user=atrium password=\*\*\*[[:space:]]'
check_fails "without the password" grep -q SECRETPW1 <<<"$out"
out=$("$ATRIUMD" --data "$T/d3" --check-config 2>&1)
check_fails "check-config does not show it either" grep -q SECRETPW1 <<<"$out"
finish
