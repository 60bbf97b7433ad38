#!/usr/bin/env bash
# atrium keytool against Java 17's keytool on the same files: -list (JKS,
# PKCS#12, -v) and -genkeypair (RSA 2048, EC P-256), each timed over
# repeated runs (hyperfine when installed, else a loop with date +%s%N).
# Prints a table and writes it as a markdown fragment to the path given as
# the first argument (default: stdout only).
#
#   bench/keytool.sh [OUT.md]
#   RUNS=20 ATRIUM=build/atrium bench/keytool.sh docs/bench-keytool.md
set -u
cd "$(dirname "$0")/.." || exit 1
top=$(pwd)
out=${1:-}
ATRIUM=${ATRIUM:-$top/build/atrium}
RUNS=${RUNS:-10}
VEC=$top/tests/data/keystore-vectors
export LC_ALL=C.UTF-8 TZ=UTC

if [ ! -x "$ATRIUM" ]; then
	echo "bench/keytool.sh: $ATRIUM is missing (run make)" >&2
	exit 1
fi
if ! command -v keytool >/dev/null 2>&1; then
	echo "bench/keytool.sh: keytool (Java 17) is not installed; nothing to compare with" >&2
	exit 1
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/atrium-bench-keytool.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp "$VEC/chain.jks" "$VEC/chain.p12" "$work/"
cd "$work" || exit 1

# mean_ms PREPARE CMD: mean wall time of CMD in milliseconds over $RUNS runs.
mean_ms() {
	local prepare=$1 cmd=$2
	if command -v hyperfine >/dev/null 2>&1; then
		hyperfine --style none --warmup 1 --runs "$RUNS" --prepare "$prepare" \
			--export-json "$work/h.json" "$cmd" >/dev/null 2>&1 &&
			python3 -c 'import json,sys; print("%.1f" % (json.load(open(sys.argv[1]))["results"][0]["mean"]*1000))' \
				"$work/h.json" && return
	fi
	local total=0 i t0 t1
	for i in $(seq "$RUNS"); do
		sh -c "$prepare"
		t0=$(date +%s%N)
		sh -c "$cmd" >/dev/null 2>&1
		t1=$(date +%s%N)
		total=$((total + t1 - t0))
	done
	python3 -c "print('%.1f' % ($total / $RUNS / 1e6))"
}

rows=()
bench() {
	local name=$1 prepare=$2 args=$3 j a
	j=$(mean_ms "$prepare" "keytool $args")
	a=$(mean_ms "$prepare" "'$ATRIUM' keytool $args")
	rows+=("| $name | $j | $a | $(python3 -c "print('%.1f' % ($j / $a))")x |")
}

bench "-list, JKS (chain.jks, 3 entries)" true \
	"-list -keystore chain.jks -storepass changeit"
bench "-list, PKCS#12 (chain.p12)" true \
	"-list -keystore chain.p12 -storepass changeit"
bench "-list -v, PKCS#12 (chain.p12)" true \
	"-list -v -keystore chain.p12 -storepass changeit"
bench "-genkeypair RSA 2048, new PKCS#12" "rm -f new.p12" \
	"-genkeypair -keystore new.p12 -storepass changeit -alias k -keyalg RSA -keysize 2048 -dname CN=bench"
bench "-genkeypair EC P-256, new PKCS#12" "rm -f new.p12" \
	"-genkeypair -keystore new.p12 -storepass changeit -alias k -keyalg EC -dname CN=bench"
bench "-genkeypair RSA 2048, new JKS" "rm -f new.jks" \
	"-genkeypair -keystore new.jks -storetype JKS -storepass changeit -keypass changeit -alias k -keyalg RSA -dname CN=bench"

java_version=$(java -version 2>&1 | head -1)
text=$(
	echo "### atrium keytool vs Java keytool"
	echo
	echo "Mean wall time of one run over $RUNS runs (after a warm-up), same files, same"
	echo "machine; $java_version; \`$(basename "$ATRIUM") keytool\` from $(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo '?')."
	echo "RSA key generation time varies with the primes found, so its ratio is noisy."
	echo
	echo "| command | Java keytool (ms) | atrium keytool (ms) | speed-up |"
	echo "| --- | ---: | ---: | ---: |"
	printf '%s\n' "${rows[@]}"
)
echo "$text"
if [ -n "$out" ]; then
	mkdir -p "$(dirname "$out")"
	printf '%s\n' "$text" >"$out"
fi
