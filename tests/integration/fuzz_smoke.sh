#!/usr/bin/env bash
# A short run of every libFuzzer target (built by `make fuzz`, which
# `make check` does) from seeds made by real tools. Longer runs:
#   build/fuzz/fuzz_keystore -max_total_time=600 CORPUS_DIR
. "$(dirname "$0")/lib.sh"
SECONDS_EACH=${FUZZ_SECONDS:-20}
V=$ATRIUM_TOP/tests/data/keystore-vectors

mkdir -p "$T/ks" "$T/parsers"
for f in "$V"/*.jks "$V"/*.p12 "$V"/*.jceks "$V"/*.pem; do
	[ -f "$f" ] && cp "$f" "$T/ks/"
done
printf '\x00port = 1\n# c\nname = "x y"\n' >"$T/parsers/conf"
printf '\x01CN=a, OU=b+O=c, C=US' >"$T/parsers/dn"
{ printf '\x02'; cat "$V/server.pem"; } >"$T/parsers/pem"
{ printf '\x02'; cat "$V/server.cer"; } >"$T/parsers/der"
for csr in "$V"/*.csr; do { printf '\x03'; cat "$csr"; } >"$T/parsers/$(basename "$csr")"; done

for target in keystore:ks parsers:parsers; do
	bin=$ATRIUM_TOP/build/fuzz/fuzz_${target%%:*}
	corpus=$T/${target#*:}
	if [ ! -x "$bin" ]; then
		not_ok "fuzz_${target%%:*} is built (make fuzz; needs clang)"
		continue
	fi
	if "$bin" -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 -artifact_prefix="$T/" "$corpus" >"$T/fuzz.log" 2>&1; then
		ok "fuzz_${target%%:*}: $(grep -o 'Done [0-9]* runs' "$T/fuzz.log") in ${SECONDS_EACH}s, no crash"
	else
		not_ok "fuzz_${target%%:*} found a crash" "$(grep -A15 'ERROR' "$T/fuzz.log" | head -20)"
		cp "$T"/crash-* "$ATRIUM_TOP/build/" 2>/dev/null
	fi
done
finish
