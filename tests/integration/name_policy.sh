#!/usr/bin/env bash
# Look-alike names (security review finding 8): beside a project 'plant'
# and the user 'admin', names that look like them, hold invisible or
# reordering characters or mix scripts are refused; international names
# are not. Names are sent as JSON \u escapes so this file stays ASCII.
. "$(dirname "$0")/lib.sh"

start_atriumd "$T/data" || exit 1
TOKEN=$(login_token admin "$ATRIUM_ADMIN_PASSWORD")
secret look-alike-pass-1

# create KIND NAME: POSTs a project or user (admin API); prints the status,
# the answer is in $T/out.
create() {
	local body="{\"name\":\"$2\"}"
	[ "$1" = users ] && body="{\"name\":\"$2\",\"password\":\"look-alike-pass-1\"}"
	api POST "/api/v1/$1" -H 'Content-Type: application/json' -d "$body" \
		-o "$T/out" -w '%{http_code}'
}

# refused KIND NAME STATUS REGEX WHAT
refused() {
	local code
	code=$(create "$1" "$2")
	expect_eq "$1: $5 is refused with $3" "$code" "$3"
	expect_match "$1: $5: the answer says why" "$(cat "$T/out")" "$4"
}

expect_eq "projects: 'plant' is created" "$(create projects plant)" 201
expect_eq "projects: 'scope' is created" "$(create projects scope)" 201

for kind in projects users; do
	if [ $kind = projects ]; then n=plant; else n=admin; fi
	refused $kind "${n:0:2}\u0430${n:3}" 400 'mixes scripts' "a Cyrillic a in '$n'"
	refused $kind "\u00a0$n" 400 'no-break' 'a leading NBSP'
	refused $kind "$n\u00a0" 400 'no-break' 'a trailing NBSP'
	refused $kind "$n\u200b" 400 'invisible' 'a zero-width space'
	refused $kind "\u200b$n" 400 'invisible' 'a leading zero-width space'
	refused $kind "\u202e$n" 400 'bidirectional' 'an RTL override'
	refused $kind "\u2067$n" 400 'bidirectional' 'a right-to-left isolate'
	refused $kind "\ufeff$n" 400 'invisible' 'a byte order mark'
	refused $kind "$n\u034f" 400 'invisible' 'a combining grapheme joiner'
	refused $kind "\uff50\uff4c\uff41\uff4e\uff54" 400 'compatibility form' 'fullwidth letters'
	refused $kind "${n:0:2}a\u0301${n:3}" 400 'NFC' 'a separate combining accent'
	refused $kind "$n\u0306\u0306" 400 'combining mark' 'a doubled combining mark'
	refused $kind "$n\u3000x" 400 'ideographic space' 'an ideographic space'
	refused $kind "$n\u0080" 400 'control character' 'C1 U+0080'
	refused $kind "$n\u0085" 400 'control character' 'C1 U+0085 (NEL)'
	refused $kind "$n\u009b" 400 'control character' 'C1 U+009B (CSI)'
	refused $kind "$n \u2603" 400 'not allowed in names' 'a symbol'
	# Skeleton look-alikes of an existing name: 409 naming it.
	up=$(tr a-z A-Z <<<"$n")
	refused $kind "$up" 409 "looks like the existing ${kind%s} '$n'" "'$up' beside '$n'"
	[ $kind = projects ] && alike=p1ant || alike=adrnin
	refused $kind "$alike" 409 "looks like the existing ${kind%s} '$n'" "'$alike' beside '$n'"
done
# An all-Cyrillic (single-script) 'scope': only the skeleton catches it.
refused projects '\u0455\u0441\u043e\u0440\u0435' 409 "looks like the existing project 'scope'" \
	"Cyrillic 'scope' beside 'scope'"
refused projects 'pIant' 409 "the project name 'pIant' looks like the existing project 'plant'" \
	"'pIant' (capital i) beside 'plant'"

# International names and ordinary ASCII still work, for both.
for kind in projects users; do
	for name in 'm\u00fcller' '\u65e5\u672c\u8a9e\u30d7\u30ed\u30b8\u30a7\u30af\u30c8' \
		'\u0395\u03bb\u03ad\u03bd\u03b7' '\u043a\u043b\u044e\u0447' 'plant model' \
		'plant-2026_v1.x' 'Tokyo \u6771\u4eac' 'R&D (2)'; do
		expect_eq "$kind: '$name' is accepted" "$(create $kind "$name")" 201
	done
done
out=$(api GET /api/v1/projects)
expect_match "the project list has 'müller' and '日本語プロジェクト'" "$out" \
	'"name":"müller".*|"name":"日本語プロジェクト"'
code=$(api DELETE "/api/v1/projects/plant%20model" -o /dev/null -w '%{http_code}')
expect_eq "a name with a space inside is reachable by path" "$code" 204
code=$(api DELETE "/api/v1/users/m%C3%BCller" -o /dev/null -w '%{http_code}')
expect_eq "a user 'müller' is deleted by path" "$code" 204
# The same name again is still the plain 'exists' answer.
expect_eq "an exact duplicate is 409" "$(create projects plant)" 409
expect_match "and says it exists" "$(cat "$T/out")" 'exists'

stop_atriumd
finish
