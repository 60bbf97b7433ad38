#!/usr/bin/env bash
# bench/chunking.sh: issue 20 part 1, the delta mechanism measured (docs/delta.md).
#
#   bench/chunking.sh [OUT_DIR]       (default build/bench/chunking)
#
# Makes a synthetic ~100 MB XML model and 50 revisions of it, each with
# ~100 KiB changed in scattered places (bench/chunking_model.py, fixed seed),
# then measures, on the same files in the same run:
#   whole   the whole file per commit, as today (and zstd -3 of it)
#   cdc     content-defined chunks (src/lib/chunker.c) + zstd per new chunk,
#           deduplicated against every chunk stored before
#           (bench/chunkbench.c), for each MIN:AVG:MAX of CHUNK_SIZES
#   rdiff   librsync: signature of the previous revision, delta of the new
#   zpatch  zstd --patch-from the previous revision
# and prints one table (also OUT_DIR/table.md); raw figures in OUT_DIR/*.tsv.
#
# Knobs: CHUNK_SIZE_MB (100), CHUNK_REVS (50), CHUNK_CHANGE_KIB (100),
# CHUNK_DELTA_REVS (revisions measured with rdiff and zstd --patch-from;
# default all), CHUNK_SIZES ("8192:32768:131072 16384:65536:262144
# 32768:131072:524288"), CHUNK_ZLEVEL (3), CHUNK_SEED (1).
# Needs: make (build/libatrium.a), zstd, libzstd-dev, rdiff, python3,
# /usr/bin/time (scripts/install-deps --bench). Temp files (~CHUNK_REVS x
# CHUNK_SIZE_MB MB) live in a mktemp -d directory, removed at exit.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
export LC_ALL=C

OUT=${1:-$top/build/bench/chunking}
SIZE_MB=${CHUNK_SIZE_MB:-100}
REVS=${CHUNK_REVS:-50}
CHANGE_KIB=${CHUNK_CHANGE_KIB:-100}
DREVS=${CHUNK_DELTA_REVS:-$REVS}
SIZES=${CHUNK_SIZES:-"8192:32768:131072 16384:65536:262144 32768:131072:524288"}
ZL=${CHUNK_ZLEVEL:-3}
SEED=${CHUNK_SEED:-1}
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

for t in zstd rdiff python3 cc /usr/bin/time; do
	command -v "$t" >/dev/null || { echo "chunking.sh: $t is missing (scripts/install-deps --bench)" >&2; exit 1; }
done
[[ -f build/libatrium.a ]] || { echo "chunking.sh: build first (make)" >&2; exit 1; }
(( DREVS <= REVS )) || DREVS=$REVS

mkdir -p "$OUT"
W=$(mktemp -d "${TMPDIR:-/tmp}/atrium-chunking.XXXXXX")
trap 'rm -rf "$W"' EXIT
trap 'log "interrupted"; exit 130' INT TERM

cc -std=c11 -D_GNU_SOURCE -O2 -Iinclude -o "$W/chunkbench" bench/chunkbench.c build/libatrium.a \
	-lcrypto -lzstd || exit 1

{
	echo "date	$(date -u +%Y-%m-%dT%H:%MZ)"
	echo "cpu	$(nproc) x $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
	echo "git	$(git rev-parse --short HEAD 2>/dev/null || echo '?')"
	echo "zstd	$(zstd --version | head -1)"
	echo "rdiff	$(rdiff --version | head -1)"
	echo "openssl	$(openssl version)"
	echo "params	size_mb=$SIZE_MB revs=$REVS change_kib=$CHANGE_KIB delta_revs=$DREVS sizes='$SIZES' zlevel=$ZL seed=$SEED"
	echo "load_start	$(cut -d' ' -f1-3 /proc/loadavg)"
} >"$OUT/meta.tsv"

log "model: $SIZE_MB MB, $REVS revisions of ~$CHANGE_KIB KiB changes (seed $SEED)"
python3 bench/chunking_model.py "$W/m" --size-mb "$SIZE_MB" --revs "$REVS" \
	--change-kib "$CHANGE_KIB" --seed "$SEED" >"$OUT/model.tsv" || exit 1
rev() { printf '%s/m/rev-%03d.xml' "$W" "$1"; }
files=()
for k in $(seq 0 "$REVS"); do files+=("$(rev "$k")"); done
cat "${files[@]}" >/dev/null   # in the page cache for everyone alike

# timed OUT_TSV LABEL CMD...: appends "label user_s sys_s maxrss_kb wall_s"
timed() {
	local tsv=$1 label=$2 t0 t1
	shift 2
	t0=$(date +%s.%N)
	/usr/bin/time -f '%U %S %M' -o "$W/time.txt" "$@" >/dev/null 2>"$W/err.txt" ||
		{ log "failed: $* ($(head -c 300 "$W/err.txt"))"; return 1; }
	t1=$(date +%s.%N)
	printf '%s\t%s\t%s\n' "$label" "$(tr ' ' '\t' <"$W/time.txt")" "$(echo "$t1 - $t0" | bc -l)" >>"$tsv"
}

log "whole file: zstd -$ZL of each revision"
printf 'label\tuser_s\tsys_s\tmaxrss_kb\twall_s\n' >"$OUT/whole-time.tsv"
printf 'rev\tbytes\tzstd_bytes\n' >"$OUT/whole.tsv"
for k in $(seq 0 "$DREVS"); do
	timed "$OUT/whole-time.tsv" "$k" zstd -q -f "-$ZL" "$(rev "$k")" -o "$W/whole.zst" || exit 1
	printf '%s\t%s\t%s\n' "$k" "$(stat -c %s "$(rev "$k")")" "$(stat -c %s "$W/whole.zst")" >>"$OUT/whole.tsv"
done

for s in $SIZES; do
	IFS=: read -r mn av mx <<<"$s"
	log "cdc $mn/$av/$mx: chunk + SHA-256, zstd -$ZL per new chunk, $((REVS + 1)) files"
	printf 'label\tuser_s\tsys_s\tmaxrss_kb\twall_s\n' >"$OUT/cdc-$s-time.tsv"
	/usr/bin/time -f '%U %S %M' -o "$W/time.txt" "$W/chunkbench" store "$mn" "$av" "$mx" "$ZL" "${files[@]}" \
		>"$OUT/cdc-$s.tsv" || exit 1
	printf 'all\t%s\n' "$(tr ' ' '\t' <"$W/time.txt")" >>"$OUT/cdc-$s-time.tsv"
done
log "cdc resync: new chunks per edit at 200 random places (16/64/256 KiB)"
"$W/chunkbench" resync 16384 65536 262144 "$(rev 0)" >"$OUT/cdc-resync.tsv" || exit 1

log "rdiff and zstd --patch-from, revisions 1..$DREVS"
for f in rdiff-sig rdiff-delta rdiff-patch zpatch zunpatch; do
	printf 'label\tuser_s\tsys_s\tmaxrss_kb\twall_s\n' >"$OUT/$f-time.tsv"
done
printf 'rev\tsig_bytes\tdelta_bytes\tdelta_zstd_bytes\tzpatch_bytes\n' >"$OUT/deltas.tsv"
for k in $(seq 1 "$DREVS"); do
	prev=$(rev $((k - 1))) cur=$(rev "$k")
	timed "$OUT/rdiff-sig-time.tsv" "$k" rdiff signature -f "$prev" "$W/sig" || exit 1
	timed "$OUT/rdiff-delta-time.tsv" "$k" rdiff delta -f "$W/sig" "$cur" "$W/delta" || exit 1
	timed "$OUT/rdiff-patch-time.tsv" "$k" rdiff patch -f "$prev" "$W/delta" "$W/out" || exit 1
	cmp -s "$W/out" "$cur" || { log "rdiff patch of revision $k differs"; exit 1; }
	zstd -q -f "-$ZL" "$W/delta" -o "$W/delta.zst" || exit 1
	timed "$OUT/zpatch-time.tsv" "$k" zstd -q -f "-$ZL" --patch-from="$prev" "$cur" -o "$W/patch" || exit 1
	timed "$OUT/zunpatch-time.tsv" "$k" zstd -q -f -d --patch-from="$prev" "$W/patch" -o "$W/out" || exit 1
	cmp -s "$W/out" "$cur" || { log "zstd --patch-from of revision $k differs"; exit 1; }
	printf '%s\t%s\t%s\t%s\t%s\n' "$k" "$(stat -c %s "$W/sig")" "$(stat -c %s "$W/delta")" \
		"$(stat -c %s "$W/delta.zst")" "$(stat -c %s "$W/patch")" >>"$OUT/deltas.tsv"
	(( k % 10 == 0 )) && log "  revision $k"
done
echo "load_end	$(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/meta.tsv"

python3 - "$OUT" "$SIZES" "$DREVS" "$ZL" <<'EOF' | tee "$OUT/table.md"
import csv, statistics, sys
out, sizes, drevs, zl = sys.argv[1], sys.argv[2].split(), int(sys.argv[3]), sys.argv[4]
def rows(name):
    with open(f"{out}/{name}") as f:
        return list(csv.DictReader(f, delimiter="\t"))
def cpu(r): return float(r["user_s"]) + float(r["sys_s"])
med = statistics.median
MB = 1e6
whole = rows("whole.tsv"); wt = rows("whole-time.tsv")
deltas = rows("deltas.tsv")
first = int(whole[0]["bytes"])
print(f"Model {first / MB:.1f} MB; {drevs} small commits measured for every mechanism "
      "(medians over the commits; store = revision 0 + the commits).\n")
print("| mechanism | sent per small commit | store after rev 0 + %d commits | CPU per commit (client / server) | peak memory (client / server) |" % drevs)
print("|---|---|---|---|---|")
wz = [int(r["zstd_bytes"]) for r in whole]
print(f"| whole file (today) | {med(int(r['bytes']) for r in whole[1:]) / MB:.1f} MB | "
      f"{sum(int(r['bytes']) for r in whole) / MB:.0f} MB | - | file size |")
print(f"| whole file, zstd -{zl} | {med(wz[1:]) / MB:.1f} MB | {sum(wz) / MB:.0f} MB | "
      f"{med(cpu(r) for r in wt[1:]):.2f} s / - | {med(int(r['maxrss_kb']) for r in wt[1:]) / 1024:.0f} MiB / - |")
for s in sizes:
    c = rows(f"cdc-{s}.tsv")[: drevs + 1]
    mn, av, mx = (int(x) // 1024 for x in s.split(":"))
    sent = [int(r["new_zstd"]) + int(r["manifest"]) for r in c[1:]]
    store = int(c[0]["new_zstd"]) + int(c[0]["manifest"]) + sum(sent)
    ch = med(float(r["chunk_cpu_s"]) for r in c[1:])
    zs = med(float(r["zstd_cpu_s"]) for r in c[1:])
    newc = med(int(r["new_chunks"]) for r in c[1:])
    nch = med(int(r["chunks"]) for r in c[1:])
    print(f"| CDC {mn}/{av}/{mx} KiB + zstd -{zl} per new chunk | {med(sent) / MB:.2f} MB "
          f"({newc:.0f} new of {nch:.0f} chunks; manifest {med(int(r['manifest']) for r in c[1:]) / 1000:.0f} kB) | "
          f"{store / MB:.0f} MB | chunk+SHA-256 {ch:.3f} s + zstd {zs:.3f} s / verify SHA-256 of new chunks | "
          f"chunker: one {mx} KiB buffer (by construction, not measured) |")
sig = med(int(r["sig_bytes"]) for r in deltas)
dl = [int(r["delta_bytes"]) for r in deltas]
dz = [int(r["delta_zstd_bytes"]) for r in deltas]
rs, rd, rp = rows("rdiff-sig-time.tsv"), rows("rdiff-delta-time.tsv"), rows("rdiff-patch-time.tsv")
print(f"| rdiff (librsync) | delta {med(dl) / MB:.2f} MB ({med(dz) / MB:.2f} MB zstd'd) + signature {sig / MB:.2f} MB down | "
      f"{(wz[0] + sum(dz)) / MB:.0f} MB (rev 0 zstd'd + zstd'd deltas) | "
      f"delta {med(cpu(r) for r in rd):.2f} s / signature {med(cpu(r) for r in rs):.2f} s + patch {med(cpu(r) for r in rp):.2f} s | "
      f"{med(int(r['maxrss_kb']) for r in rd) / 1024:.0f} MiB / sig {med(int(r['maxrss_kb']) for r in rs) / 1024:.0f}, patch {med(int(r['maxrss_kb']) for r in rp) / 1024:.0f} MiB |")
zp = [int(r["zpatch_bytes"]) for r in deltas]
zt, zu = rows("zpatch-time.tsv"), rows("zunpatch-time.tsv")
print(f"| zstd -{zl} --patch-from previous | {med(zp) / MB:.2f} MB | {(wz[0] + sum(zp)) / MB:.0f} MB (rev 0 zstd'd + patches) | "
      f"{med(cpu(r) for r in zt):.2f} s / apply {med(cpu(r) for r in zu):.2f} s | "
      f"{med(int(r['maxrss_kb']) for r in zt) / 1024:.0f} MiB / apply {med(int(r['maxrss_kb']) for r in zu) / 1024:.0f} MiB |")
print()
c = rows(f"cdc-{sizes[0]}.tsv")
print(f"CDC chunk+SHA-256 of one {first / MB:.0f} MB revision, CPU (median over all revisions): " + ", ".join(
    f"{'/'.join(str(int(x) // 1024) for x in s.split(':'))} KiB {med(float(r['chunk_cpu_s']) for r in rows(f'cdc-{s}.tsv')):.3f} s"
    for s in sizes))
print("\nCDC resync, 16/64/256 KiB (new chunks per single edit, 200 random places each):\n")
print("| edit (bytes; < 0 deleted) | mean new chunks | histogram 0,1,2,...,7+ |")
print("|---|---|---|")
with open(f"{out}/cdc-resync.tsv") as f:
    next(f)
    for line in f:
        e, m, h = line.rstrip("\n").split("\t")
        print(f"| {e} | {m} | {h} |")
EOF
