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
check "the README shows the two quick-start commands" grep -q 'make run' "$ATRIUM_TOP/README.md"
check "and make check" grep -q 'make check' "$ATRIUM_TOP/README.md"
finish
