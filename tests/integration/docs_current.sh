#!/usr/bin/env bash
# The documentation that is generated from the code matches the code.
. "$(dirname "$0")/lib.sh"

doc=$ATRIUM_TOP/docs/configuration.md
table=$(sed -n '/^| setting |/,$p' "$doc")
expect_eq "docs/configuration.md lists exactly the settings atriumd knows" \
	"$table" "$("$ATRIUMD" --print-reference)"
# Every setting also appears in the file written on first start.
"$ATRIUMD" --print-defaults | cut -d' ' -f1 | sort >"$T/keys"
n=$(wc -l <"$T/keys")
[ "$n" -gt 10 ] && ok "--print-defaults lists $n settings" || not_ok "--print-defaults lists the settings"
# docs/api.md lists every error code with the table's columns.
codes=$(sed -n '/^| code | HTTP | exit |/,/^$/p' "$ATRIUM_TOP/docs/api.md" | sed -n '/^| `/p')
want=$(sed -n 's/^\tX([A-Z_]*, *"\([a-z_]*\)", *\([0-9]*\), \([0-9]\), "\(.*\)") *\\\{0,1\}$/| `\1` | \2 | \3 | \4 |/p' \
	"$ATRIUM_TOP/include/atrium/err.h")
n=$(grep -c "^$(printf '\t')X(" "$ATRIUM_TOP/include/atrium/err.h")
expect_eq "the sed reads every row of the error table" "$(wc -l <<<"$want")" "$n"
expect_eq "docs/api.md lists exactly the error codes of include/atrium/err.h" "$codes" "$want"
check "the README shows the two quick-start commands" grep -q 'make run' "$ATRIUM_TOP/README.md"
check "and make check" grep -q 'make check' "$ATRIUM_TOP/README.md"
finish
