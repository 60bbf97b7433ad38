#!/usr/bin/env bash
# `atriumd --data DIR backup DEST` under a load of 200 commits, then
# `restore`: the restored server has every revision acknowledged before the
# backup started, byte for byte, and no revision half there; restore refuses
# a damaged backup naming the revision, a non-empty DIR without --force and
# a DIR a server runs on; backup refuses a non-empty DEST.
. "$(dirname "$0")/lib.sh"

D=$T/data
start_atriumd "$D" || exit 1
TOKEN=$(login_token admin "$ATRIUM_ADMIN_PASSWORD")
for p in plant pumps load empty; do api POST /api/v1/projects -d "{\"name\":\"$p\"}" >/dev/null; done
head -c 6000000 /dev/urandom >"$T/big1"
head -c 4000000 /dev/urandom >"$T/big2"
printf 'a small model' >"$T/small"
i=0
for f in big1 small big2; do
	api POST "/api/v1/projects/plant/revisions?base=$i&message=r$((i + 1))" --data-binary @"$T/$f" >/dev/null
	i=$((i + 1))
done
api POST "/api/v1/projects/pumps/revisions?base=0&message=p1" --data-binary @"$T/big2" >/dev/null
sha_of() { sha256sum "$1" | cut -d' ' -f1; }
rev_sha() { json_get "$(api GET "/api/v1/projects/$1/revisions/$2")" 'j["sha256"]'; }
expect_eq "the large revision is stored under its SHA-256" "$(rev_sha plant 1)" "$(sha_of "$T/big1")"

# The load: 200 commits one after the other, each line "N START_NS END_NS
# ANSWER" once acknowledged (201).
load() {
	local n out t0 t1
	for n in $(seq 200); do
		t0=$(date +%s%N)
		out=$(api POST "/api/v1/projects/load/revisions?base=$((n - 1))&message=load$n" \
			--data-binary "load commit $n $RANDOM$RANDOM" -w ' %{http_code}')
		t1=$(date +%s%N)
		out=${out//$'\n'/}
		[[ $out == *' 201' ]] || { echo "# commit $n: $out" >&2; break; }
		echo "$n $t0 $t1 ${out% 201}" >>"$T/acks"
	done
}
: >"$T/acks"
load &
LOAD=$!
for _ in $(seq 300); do [ "$(wc -l <"$T/acks")" -ge 30 ] && break; sleep 0.05; done

B0=$(date +%s%N)
cp "$T/acks" "$T/acks.before"
summary=$("$ATRIUMD" --data "$D" backup "$T/bk" 2>"$T/backup.err")
rc=$?
echo "$B0 $(date +%s%N)" >"$T/windows"
expect_eq "backup while the server commits: exit 0" "$rc" 0
[ "$rc" -eq 0 ] || sed 's/^/#   /' "$T/backup.err"
# More backups while the load lasts, for the commit stall measured below.
k=1
while kill -0 "$LOAD" 2>/dev/null; do
	k=$((k + 1)) w0=$(date +%s%N)
	"$ATRIUMD" --data "$D" backup "$T/more$k" >/dev/null 2>"$T/more.err" ||
		{ not_ok "backup $k under load" "$(cat "$T/more.err")"; break; }
	echo "$w0 $(date +%s%N)" >>"$T/windows"
	rm -rf "$T/more$k"
done
wait "$LOAD"
acked_before=$(wc -l <"$T/acks.before")
expect_eq "all 200 commits of the load were acknowledged" "$(wc -l <"$T/acks")" 200
# acks: "N START END SHA" from here on.
python3 -c 'import json,sys
for l in open(sys.argv[1]):
    n, t0, t1, a = l.split(" ", 3); print(n, t0, t1, json.loads(a)["sha256"])' "$T/acks" >"$T/acks.sha"
head -n "$acked_before" "$T/acks.sha" >"$T/acks.before"

# The longest commit that overlapped a backup: measured, not asserted.
read -r stall during < <(awk 'NR == FNR { b0[NR] = $1; b1[NR] = $2; nw = NR; next }
	{ for (i = 1; i <= nw; i++) if ($3 >= b0[i] && $2 <= b1[i]) { d = ($3 - $2) / 1e6; n++; if (d > m) m = d; break } }
	END { printf "%d %d\n", m, n }' "$T/windows" "$T/acks.sha")
echo "# longest commit during backup: $stall ms ($during of 200 commits ran during $k backups)"

j() { json_get "$summary" "$1" 2>&1; }
expect_eq "the summary names the store" "$(j 'j["store"]')" sqlite
expect_eq "the summary counts the projects and users" "$(j '(j["projects"], j["users"])')" "(4, 1)"
expect_eq "the snapshot has plant's and pumps' last revisions" \
	"$(j '(j["last_revision"]["plant"], j["last_revision"]["pumps"], j["last_revision"]["empty"])')" "(3, 1, 0)"
load_head=$(j 'j["last_revision"]["load"]')
if [[ $load_head =~ ^[0-9]+$ ]] && [ "$load_head" -ge "$acked_before" ]; then
	ok "the snapshot has every load commit acknowledged before it began ($load_head >= $acked_before)"
else
	not_ok "the snapshot has every load commit acknowledged before it began" "$load_head < $acked_before" "$summary"
	load_head=0
fi
expect_eq "revisions counted: plant 3 + pumps 1 + load's" "$(j 'j["revisions"]')" $((4 + load_head))
expect_eq "same file system: every content file linked, none copied" \
	"$(j '(j["linked"] == j["blobs"], j["copied"])')" "(True, 0)"
expect_eq "big2 is stored once for two revisions" "$(j 'j["blobs"]')" $((3 + load_head))
expect_match "the summary has the bytes and the time it took" "$(j '(j["bytes"] > 10000000, j["seconds"] >= 0)')" "\\(True, True\\)"
expect_eq "the backup has its marker, the settings and the TLS folder" \
	"$(cd "$T/bk" && ls -d backup.json atrium.conf atrium.db tls/ca.key 2>&1 | tr '\n' ' ')" \
	"atrium.conf atrium.db backup.json tls/ca.key "
expect_eq "nothing is left beside it" "$(ls -d "$T"/bk.* 2>/dev/null)" ""
check "a backup is a data directory check accepts" "$ATRIUMD" --data "$T/bk" check

mkdir -p "$T/full" && echo x >"$T/full/something"
out=$("$ATRIUMD" --data "$D" backup "$T/full" 2>&1)
rc=$?
expect_eq "backup into a non-empty DEST: refused" "$rc" 1
expect_match "it says why" "$out" "full exists and is not empty; a backup goes into a new or empty directory"
expect_eq "and DEST is untouched" "$(ls "$T/full")" something

# Restore into a new directory and serve it.
R=$T/restored
out=$("$ATRIUMD" --data "$R" restore "$T/bk" 2>&1)
expect_eq "restore into a new DIR: exit 0" "$?" 0
expect_match "it says what it verified" "$out" "Restored .* 4 projects, $((4 + load_head)) revisions"
expect_eq "modes: DIR 0700, database, settings and CA key 0600" \
	"$(stat -c %a "$R" "$R/atrium.db" "$R/atrium.conf" "$R/tls/ca.key" | tr '\n' ' ')" "700 600 600 600 "
expect_eq "the restored content is a copy, not a link into the backup" "$(stat -c %h "$R/blobs/$(rev_sha plant 1 | cut -c1-2)/$(rev_sha plant 1)")" 1
BASE0=$BASE
start_atriumd "$R" || exit 1
R_PID=$SERVER_PID
for f in 1:big1 2:small 3:big2; do
	api GET "/api/v1/projects/plant/revisions/${f%%:*}/content" -o "$T/got"
	expect_eq "plant revision ${f%%:*} is byte-identical after the restore" "$(sha_of "$T/got")" "$(sha_of "$T/${f#*:}")"
done
missing=0 wrong=0
while read -r n _ _ sha; do
	api GET "/api/v1/projects/load/revisions/$n/content" -o "$T/got" -w '%{http_code}' >"$T/code"
	if [ "$(cat "$T/code")" != 200 ]; then missing=$((missing + 1)); elif [ "$(sha_of "$T/got")" != "$sha" ]; then wrong=$((wrong + 1)); fi
done <"$T/acks.before"
expect_eq "every load revision acknowledged before the backup is there, byte-identical ($acked_before)" "$missing $wrong" "0 0"
half=0
listed=$(api GET /api/v1/projects/load/revisions | python3 -c 'import json,sys
for r in json.load(sys.stdin)["revisions"]: print(r["number"], r["sha256"], r["size"])')
while read -r n sha size; do
	api GET "/api/v1/projects/load/revisions/$n/content" -o "$T/got"
	[ "$(sha_of "$T/got")" == "$sha" ] && [ "$(stat -c %s "$T/got")" == "$size" ] || half=$((half + 1))
done <<<"$listed"
expect_eq "no revision is half there: all $(wc -l <<<"$listed") listed download whole" "$half" 0
expect_eq "the restored server's head is the snapshot's" "$(json_get "$(api GET /api/v1/projects/load)" 'j["head"]')" "$load_head"

out=$("$ATRIUMD" --data "$R" restore --force "$T/bk" 2>&1)
rc=$?
expect_eq "restore while a server runs on DIR: refused, even with --force" "$rc" 1
expect_match "it names the server" "$out" "atriumd is running on .*restored \\(pid $R_PID\\); stop it first"
stop_atriumd "$R_PID"
BASE=$BASE0

out=$("$ATRIUMD" --data "$R" restore "$T/bk" 2>&1)
rc=$?
expect_eq "restore into a non-empty DIR without --force: refused" "$rc" 1
expect_match "it says how" "$out" "restored is not empty; .*give --force to keep the old one"
out=$("$ATRIUMD" --data "$R" restore --force "$T/bk" 2>&1)
rc=$?
expect_eq "with --force: exit 0" "$rc" 0
expect_match "it says where the old data went" "$out" "is kept in .*restored\\.before-restore-[0-9]{8}T[0-9]{6}Z"
expect_eq "the old DIR is kept beside it" "$(ls -d "$R".before-restore-* | wc -l)" 1

# A damaged backup: a copy (own inodes: the backup's links share the live
# files) with one byte of plant revision 1 flipped.
cp -r "$T/bk" "$T/bad"
s1=$(rev_sha plant 1)
flip_byte "$T/bad/blobs/${s1:0:2}/$s1" 1000000
out=$("$ATRIUMD" --data "$T/r2" restore "$T/bad" 2>&1)
rc=$?
expect_eq "restore of a damaged backup: refused" "$rc" 1
expect_match "it names the revision and the content file" "$out" \
	"project 'plant' revision 1: its content blobs/${s1:0:2}/$s1 is damaged"
expect_match "and says nothing was changed" "$out" "bad is damaged \\(1 problem\\(s\\) above\\); nothing was changed"
expect_eq "no directory was made" "$(ls -d "$T"/r2* 2>/dev/null)" ""

cp -r "$T/bk" "$T/cut" && rm "$T/cut/backup.json"
out=$("$ATRIUMD" --data "$T/r3" restore "$T/cut" 2>&1)
expect_match "a backup without its marker is refused" "$out" "cut is not a complete backup: it has no readable backup.json"

out=$("$ATRIUMD" --help)
expect_match "--help lists backup" "$out" "backup DEST"
expect_match "--help lists restore" "$out" "restore \\[--force\\] SRC"
finish
