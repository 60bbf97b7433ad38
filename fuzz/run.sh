#!/usr/bin/env bash
# `make fuzz`: replays fuzz/regressions/<target>/, then runs every libFuzzer
# target in build/fuzz/ for FUZZ_SECONDS (60) from its seeds. Each target
# keeps a scratch corpus in build/fuzz/scratch/<target>/corpus (it grows from
# run to run; the committed seeds are never written) and its crash files
# next to it. Exit status 1 when any target crashed. See docs/fuzzing.md.
#
#   FUZZ_SECONDS=600 make fuzz          longer rounds
#   FUZZ_TARGETS="http" make fuzz       only some targets
#   FUZZ_ARGS="-jobs=1" make fuzz       extra libFuzzer flags
set -u
cd "$(dirname "$0")/.."
secs=${FUZZ_SECONDS:-60}
targets=${FUZZ_TARGETS:-$(for b in build/fuzz/fuzz_*; do [ -x "$b" ] && basename "$b" | sed 's/^fuzz_//'; done)}
failed=()

# seeds TARGET DIR: fills DIR with the target's seeds.
seeds() {
	local dir=$2
	mkdir -p "$dir"
	[ -d "fuzz/corpus/$1" ] && cp fuzz/corpus/"$1"/* "$dir"/ 2>/dev/null
	if [ "$1" = keystore ]; then
		for f in tests/data/keystore-vectors/*.{jks,jceks,p12,pem,cer}; do
			[ -f "$f" ] && cp "$f" "$dir"/
		done
	fi
	return 0
}

for t in $targets; do
	bin=build/fuzz/fuzz_$t
	work=build/fuzz/scratch/$t
	if [ ! -x "$bin" ]; then
		echo "fuzz_$t: not built (make fuzz-build; needs clang)"
		failed+=("$t")
		continue
	fi
	rm -rf "$work/seeds"
	mkdir -p "$work/corpus"
	seeds "$t" "$work/seeds"
	dict=()
	[ -f "fuzz/$t.dict" ] && dict=(-dict="fuzz/$t.dict")
	regs=(fuzz/regressions/"$t"/*)
	if [ -e "${regs[0]}" ]; then
		echo "== fuzz_$t: replaying ${#regs[@]} regression input(s)"
		if ! "$bin" -rss_limit_mb=2048 "${regs[@]}" >"$work/regressions.log" 2>&1; then
			echo "fuzz_$t: a regression input fails again; see $work/regressions.log"
			failed+=("$t")
			continue
		fi
	fi
	echo "== fuzz_$t: ${secs}s from $(ls "$work/seeds" | wc -l) seeds + $(ls "$work/corpus" | wc -l) in $work/corpus"
	# shellcheck disable=SC2086
	if "$bin" -max_total_time="$secs" -print_final_stats=1 -rss_limit_mb=2048 -timeout=60 \
		"${dict[@]}" -artifact_prefix="$work/" ${FUZZ_ARGS:-} "$work/corpus" "$work/seeds" \
		>"$work/fuzz.log" 2>&1; then
		grep -E '^Done|stat::(number_of_executed_units|average_exec_per_sec)' "$work/fuzz.log" | sed 's/^/   /'
	else
		echo "fuzz_$t: CRASH; input and log in $work/ (fuzz.log):"
		grep -A12 -E 'ERROR|SUMMARY|deadly signal|timeout' "$work/fuzz.log" | head -30 | sed 's/^/   /'
		failed+=("$t")
	fi
done

if [ ${#failed[@]} -gt 0 ]; then
	echo "failed: ${failed[*]}"
	exit 1
fi
echo "no crashes"
