#!/usr/bin/env bash
# No log of a whole test run contains a password or token the tests used.
# tests/run runs this last. The logs are every server's output kept by the
# integration and browser tests (build/test-logs/servers/); the secrets are
# what those tests registered or generated (build/test-logs/secrets/) plus
# every password written literally in a test script.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
keep=${ATRIUM_TEST_LOGS:-$top/build/test-logs}
failed=0
ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $1"; shift; [ $# -gt 0 ] && printf '#   %s\n' "$@"; failed=1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/atrium-secrets.XXXXXX")
trap 'rm -rf "$work"' EXIT

{
	cat "$keep"/secrets/*.txt 2>/dev/null
	# Literal passwords in the tests: JSON fields, keytool and CLI options.
	grep -ohE '"password" *: *"[^"$]{8,}"' "$top"/tests/integration/*.sh "$top"/tests/browser/*.js |
		sed -E 's/.*: *"([^"]*)"/\1/'
	grep -ohE '(-storepass|-keypass|-srcstorepass|-deststorepass|--password) +[A-Za-z0-9._@%+=-]{8,}' \
		"$top"/tests/integration/*.sh | awk '{print $2}'
	grep -ohE "ADMIN_PASSWORD *= *'[^']{8,}'" "$top"/tests/browser/*.js | sed -E "s/.*'([^']*)'/\1/"
} | awk 'length($0) >= 8' | sort -u >"$work/secrets"

nsecrets=$(wc -l <"$work/secrets")
nlogs=$(find "$keep/servers" -type f 2>/dev/null | wc -l)
if [ "$nlogs" -eq 0 ]; then
	not_ok "server logs were kept by the tests" "none in $keep/servers: run tests/run first"
	exit 1
fi
[ "$nsecrets" -ge 10 ] && ok "collected $nsecrets passwords and tokens used by the tests" ||
	not_ok "collected the passwords and tokens used by the tests" "only $nsecrets"

# The scanner itself must find a secret that is there.
printf 'a line\nleaked %s here\n' "$(head -n1 "$work/secrets")" >"$work/planted.log"
if grep -qFf "$work/secrets" "$work/planted.log"; then
	ok "the scan finds a planted secret"
else
	not_ok "the scan finds a planted secret"
fi

hits=$(grep -lFf "$work/secrets" "$keep"/servers/* 2>/dev/null)
if [ -z "$hits" ]; then
	ok "no password or token in $nlogs server logs"
else
	for f in $hits; do
		s=$(grep -oFf "$work/secrets" "$f" | head -n1)
		not_ok "no password or token in $(basename "$f")" \
			"found '${s:0:3}...' (${#s} chars): $(grep -nF -m1 -- "$s" "$f" | cut -c1-200)"
	done
fi
exit $failed
