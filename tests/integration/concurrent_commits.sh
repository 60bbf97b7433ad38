#!/usr/bin/env bash
# Two clients commit on the same base at the same moment: exactly one wins
# with 201, the other gets 409 saying who committed.
. "$(dirname "$0")/lib.sh"

start_atriumd "$T/data" || exit 1
TOKEN=$(login_token admin "$ATRIUM_ADMIN_PASSWORD")
api POST /api/v1/users -d '{"name":"bob","password":"bob-pass-12"}' >/dev/null
BOB=$(login_token bob bob-pass-12)
api POST /api/v1/projects -d '{"name":"race"}' >/dev/null
head -c 2000000 /dev/urandom >"$T/f1"
head -c 2000000 /dev/urandom >"$T/f2"

rounds=25 good=0
for base in $(seq 0 $((rounds - 1))); do
	curl -s -o "$T/r1" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" --data-binary @"$T/f1" \
		"$BASE/api/v1/projects/race/revisions?base=$base&message=admin" >"$T/c1" &
	one=$!
	curl -s -o "$T/r2" -w '%{http_code}' -H "Authorization: Bearer $BOB" --data-binary @"$T/f2" \
		"$BASE/api/v1/projects/race/revisions?base=$base&message=bob" >"$T/c2" &
	wait "$one" "$!"
	codes=$(printf '%s\n%s\n' "$(cat "$T/c1")" "$(cat "$T/c2")" | sort | tr '\n' ' ')
	if [ "$codes" == "201 409 " ]; then
		good=$((good + 1))
	else
		echo "# round $base: $codes"
	fi
	loser=$T/r1
	[ "$(cat "$T/c2")" == 409 ] && loser=$T/r2
	grep -q 'committed revision' "$loser" || echo "# round $base: 409 without the sentence"
done
expect_eq "each of $rounds races has exactly one 201 and one 409" "$good" "$rounds"
head=$(json_get "$(api GET /api/v1/projects/race)" 'j["head"]')
expect_eq "the head moved once per race" "$head" "$rounds"
n=$(json_get "$(api GET /api/v1/projects/race/revisions)" 'len(j["revisions"])')
expect_eq "no revision number was used twice or skipped" "$n" "$rounds"
stop_atriumd
finish
