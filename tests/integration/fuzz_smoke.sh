#!/usr/bin/env bash
# Every libFuzzer target (built by `make fuzz-build`, which `make check`
# does): first the inputs that once crashed it (fuzz/regressions/<target>/,
# each run once), then a short round from its seeds (fuzz/corpus/<target>/,
# and the keystore vectors for fuzz_keystore). FUZZ_SECONDS (15) per target.
# Longer rounds: `make fuzz` (docs/fuzzing.md).
. "$(dirname "$0")/lib.sh"
SECONDS_EACH=${FUZZ_SECONDS:-15}
V=$ATRIUM_TOP/tests/data/keystore-vectors

for target in keystore parsers http; do
	bin=$ATRIUM_TOP/build/fuzz/fuzz_$target
	corpus=$T/$target
	mkdir -p "$corpus"
	if [ ! -x "$bin" ]; then
		not_ok "fuzz_$target is built (make fuzz-build; needs clang)"
		continue
	fi
	[ -d "$ATRIUM_TOP/fuzz/corpus/$target" ] && cp "$ATRIUM_TOP/fuzz/corpus/$target"/* "$corpus/"
	if [ "$target" = keystore ]; then
		for f in "$V"/*.jks "$V"/*.p12 "$V"/*.jceks "$V"/*.pem; do
			[ -f "$f" ] && cp "$f" "$corpus/"
		done
	fi

	regs=("$ATRIUM_TOP/fuzz/regressions/$target"/*)
	if [ -e "${regs[0]}" ]; then
		if "$bin" -rss_limit_mb=2048 "${regs[@]}" >"$T/replay-$target.log" 2>&1; then
			ok "fuzz_$target: ${#regs[@]} input(s) that once crashed it run clean"
		else
			not_ok "fuzz_$target: an input in fuzz/regressions/$target crashes it again" \
			    "$(grep -B2 -A15 -E 'ERROR|deadly signal|timeout' "$T/replay-$target.log" | head -25)"
		fi
	fi

	dict=()
	[ -f "$ATRIUM_TOP/fuzz/$target.dict" ] && dict=(-dict="$ATRIUM_TOP/fuzz/$target.dict")
	if "$bin" -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 -timeout=60 "${dict[@]}" \
		-artifact_prefix="$T/" "$corpus" >"$T/fuzz-$target.log" 2>&1; then
		ok "fuzz_$target: $(grep -o 'Done [0-9]* runs' "$T/fuzz-$target.log") in ${SECONDS_EACH}s, no crash"
	else
		not_ok "fuzz_$target found a crash (input copied to build/)" \
		    "$(grep -A15 -E 'ERROR|deadly signal|timeout' "$T/fuzz-$target.log" | head -20)"
		cp "$T"/crash-* "$T"/timeout-* "$T"/leak-* "$ATRIUM_TOP/build/" 2>/dev/null
	fi
done
finish
