#!/usr/bin/env bash
# Commits and checkouts by chunks (docs/delta.md) against a real atriumd: a
# 20 MB generated model, a second revision with ~100 KiB changed sends and
# stores little; a checkout beside the previous file fetches little and is
# exact; curl's whole-file POST and GET work beside chunked content and
# with it; a damaged chunk is refused on checkout and found by check; a
# kill -9 during a chunked commit leaves no half revision; deleting a
# project removes its own chunks and keeps shared ones; backup and
# restore carry chunked content.
. "$(dirname "$0")/lib.sh"

export ATRIUM_CHUNK_GRACE=0 # collection takes unused chunks at once
D=$T/data
start_atriumd "$D" || { not_ok "atriumd starts"; finish; }
HP=127.0.0.1:$PORT
"$ATRIUM" login --plain -u admin --password-stdin "$HP" <<<"$ATRIUM_ADMIN_PASSWORD" >/dev/null 2>&1 ||
	not_ok "admin logs in"
TOKEN=$(login_token admin "$ATRIUM_ADMIN_PASSWORD")
for p in m twin solo; do "$ATRIUM" project create "$p" >/dev/null || not_ok "create $p"; done
G=$T/gen
python3 "$ATRIUM_TOP/bench/chunking_model.py" --size-mb 20 --revs 1 --change-kib 100 "$G" >/dev/null ||
	not_ok "the model is generated"
R0=$G/rev-000.xml R1=$G/rev-001.xml

# wire OUTPUT: the bytes the CLI reports as moved ("...; N bytes).").
wire() { sed -n 's/.*; \([0-9]*\) bytes)\.$/\1/p' <<<"$1" | tail -n1; }
chunks_bytes() { du -sb "$D/chunks" | cut -f1; }
chunk_files() { find "$D/chunks" -path "$D/chunks/tmp" -prune -o -type f -print | wc -l; }

out=$("$ATRIUM" commit m "$R0" -m first 2>&1)
expect_match "the first commit goes by chunks" "$out" "Sent [0-9]+ of [0-9]+ chunks"
first=$(wire "$out")
before=$(chunks_bytes)
out=$("$ATRIUM" commit m "$R1" -m second 2>&1)
second=$(wire "$out")
after=$(chunks_bytes)
echo "# first commit sent $first bytes, the second $second; chunks grew by $((after - before)) bytes"
[ -n "$second" ] && [ "$second" -gt 0 ] && [ "$second" -lt 2000000 ] &&
	ok "the second commit sends under 2 MB ($second bytes)" ||
	not_ok "the second commit sends under 2 MB" "$out"
[ "$second" -lt $((first / 3)) ] 2>/dev/null && ok "the second commit sends far less than the first" ||
	not_ok "the second commit sends far less than the first" "$first vs $second"
[ $((after - before)) -lt 2000000 ] && ok "the store grows by under 2 MB" ||
	not_ok "the store grows by under 2 MB" "$((after - before))"
expect_eq "no whole-file blob was written for chunked commits" \
	"$(find "$D/blobs" -path "$D/blobs/tmp" -prune -o -type f -print | wc -l)" 0

# Checkout beside the previous revision: few bytes, the exact file.
C=$T/co
mkdir -p "$C"
out=$("$ATRIUM" checkout m -r 1 -o "$C/m" 2>&1)
cmp -s "$C/m" "$R0" && ok "a fresh checkout is exact" || not_ok "a fresh checkout is exact" "$out"
case $out in *"chunks ("*) not_ok "a fresh checkout downloads the whole file (one request)" "$out" ;; *) ok "a fresh checkout downloads the whole file (one request)" ;; esac
out=$("$ATRIUM" checkout m -r 2 -o "$C/m" 2>&1)
got=$(wire "$out")
cmp -s "$C/m" "$R1" && ok "a checkout over the previous revision is exact" ||
	not_ok "a checkout over the previous revision is exact" "$out"
[ -n "$got" ] && [ "$got" -lt 2000000 ] && ok "it fetched under 2 MB ($got bytes)" ||
	not_ok "it fetched under 2 MB" "$out"
out=$("$ATRIUM" checkout m -r 2 -o "$C/whole" --whole 2>&1)
cmp -s "$C/whole" "$R1" && ok "checkout --whole is exact" || not_ok "checkout --whole is exact" "$out"
case $out in *"chunks ("*) not_ok "checkout --whole downloads the whole file" "$out" ;; *) ok "checkout --whole downloads the whole file" ;; esac

# curl beside chunks: GET of chunked content, POST of a whole file.
api GET /api/v1/projects/m/revisions/2/content -o "$T/curl2"
cmp -s "$T/curl2" "$R1" && ok "curl gets a revision committed by chunks, byte for byte" ||
	not_ok "curl gets a revision committed by chunks, byte for byte"
api GET /api/v1/projects/m/revisions/2/content -H 'Range: bytes=1000000-1999999' -o "$T/range"
tail -c +1000001 "$R1" | head -c 1000000 | cmp -s - "$T/range" && ok "a range of chunked content is exact" ||
	not_ok "a range of chunked content is exact"
printf 'extra line\n' | cat "$R1" - >"$T/r3"
code=$(api POST "/api/v1/projects/m/revisions?base=2&message=curl" --data-binary @"$T/r3" -o /dev/null -w '%{http_code}')
expect_eq "curl commits a whole file after chunked revisions" "$code" 201
out=$("$ATRIUM" checkout m -r 3 -o "$C/m" 2>&1)
cmp -s "$C/m" "$T/r3" && ok "the CLI checks out a whole-file revision (falls back)" ||
	not_ok "the CLI checks out a whole-file revision (falls back)" "$out"
expect_eq "a whole-file revision has no manifest" \
	"$(api GET /api/v1/projects/m/revisions/3/manifest -o /dev/null -w '%{http_code}')" 404
out=$("$ATRIUM" commit m "$R0" -m back --base 3 2>&1)
expect_match "the CLI commits by chunks on top of a curl revision" "$out" "Sent 0 of [0-9]+ chunks"
out=$("$ATRIUM" commit m "$R1" -m whole --base 4 --whole 2>&1)
case $out in *"chunks ("*) not_ok "commit --whole sends the whole file" "$out" ;; *) ok "commit --whole sends the whole file" ;; esac
api GET /api/v1/projects/m/revisions/5/content | cmp -s - "$R1" && ok "the --whole revision reads back" ||
	not_ok "the --whole revision reads back"

# The protocol's refusals.
sha_of() { sha256sum "$1" | cut -d' ' -f1; }
printf 'some chunk bytes' >"$T/c1"
code=$(api PUT "/api/v1/chunks/$(printf 'other' | sha256sum | cut -d' ' -f1)" --data-binary @"$T/c1" -o "$T/put.out" -w '%{http_code}')
expect_eq "a chunk whose bytes do not match its name is refused" "$code" 400
code=$(api PUT "/api/v1/chunks/$(sha_of "$T/c1")" --data-binary @"$T/c1" -o /dev/null -w '%{http_code}')
expect_eq "a chunk is stored" "$code" 204
code=$(api PUT "/api/v1/chunks/$(sha_of "$T/c1")" --data-binary @"$T/c1" -o /dev/null -w '%{http_code}')
expect_eq "storing it again is fine (idempotent)" "$code" 204
missing=$(api POST /api/v1/chunks/missing -H 'Content-Type: application/json' \
	-d "{\"chunks\":[\"$(sha_of "$T/c1")\",\"$(printf x | sha256sum | cut -d' ' -f1)\"]}")
expect_eq "missing lists only the chunk not stored" "$(json_get "$missing" 'j["missing"]')" \
	"['$(printf x | sha256sum | cut -d' ' -f1)']"
body="{\"sha256\":\"$(printf 'some chunk bytesx' | sha256sum | cut -d' ' -f1)\",\"size\":17,\"chunks\":[{\"sha256\":\"$(sha_of "$T/c1")\",\"size\":16},{\"sha256\":\"$(printf x | sha256sum | cut -d' ' -f1)\",\"size\":1}]}"
ans=$(api POST /api/v1/contents -H 'Content-Type: application/json' -d "$body")
expect_eq "a content with a chunk not stored is refused, naming it" \
	"$(json_get "$ans" 'j["code"] + " " + str(len(j["missing"]))')" "chunks_missing 1"
printf x | api PUT "/api/v1/chunks/$(printf x | sha256sum | cut -d' ' -f1)" --data-binary @- -o /dev/null
code=$(api POST /api/v1/contents -H 'Content-Type: application/json' -d "$body" -o /dev/null -w '%{http_code}')
expect_eq "then it is recorded" "$code" 201
bad="{\"sha256\":\"$(printf nope | sha256sum | cut -d' ' -f1)\",\"size\":17,\"chunks\":[{\"sha256\":\"$(sha_of "$T/c1")\",\"size\":16},{\"sha256\":\"$(printf x | sha256sum | cut -d' ' -f1)\",\"size\":1}]}"
code=$(api POST /api/v1/contents -H 'Content-Type: application/json' -d "$bad" -o /dev/null -w '%{http_code}')
expect_eq "a content whose chunks hash to something else is refused" "$code" 400
code=$(api GET "/api/v1/projects/solo/chunks/$(sha_of "$T/c1")" -o /dev/null -w '%{http_code}')
expect_eq "a chunk of no revision of the project is not served" "$code" 404

# A damaged chunk: refused on checkout (no wrong bytes), found by check.
# (Revision 1: revision 2's content is also a whole file now, from --whole.)
# A chunk of revision 1 that revision 2 does not have, so that a checkout
# of 1 over the file of 2 must fetch it.
first_chunk=$(python3 -c 'import json,sys
a=json.loads(sys.argv[1]); b=json.loads(sys.argv[2])
have=set(c["sha256"] for c in b["chunks"])
print([c["sha256"] for c in a["chunks"] if c["sha256"] not in have][0])' \
	"$(api GET /api/v1/projects/m/revisions/1/manifest)" "$(api GET /api/v1/projects/m/revisions/2/manifest)")
cf=$D/chunks/${first_chunk:0:2}/$first_chunk
cp "$cf" "$T/chunk.good"
flip_byte "$cf" 40
cp "$R1" "$C/over"
out=$("$ATRIUM" checkout m -r 1 -o "$C/over" 2>&1)
rc=$?
[ "$rc" -ne 0 ] && cmp -s "$C/over" "$R1" && ok "a checkout over a damaged chunk fails and leaves the file as it was" ||
	not_ok "a checkout over a damaged chunk fails and leaves the file as it was" "rc $rc: $out"
expect_match "it says what happened" "$out" "damaged"
out=$("$ATRIUM" checkout m -r 1 -o "$C/fresh" 2>&1)
rc=$?
[ "$rc" -ne 0 ] && [ ! -e "$C/fresh" ] && ok "a fresh (whole) checkout over a damaged chunk fails and writes nothing" ||
	not_ok "a fresh (whole) checkout over a damaged chunk fails and writes nothing" "rc $rc: $out"
api GET /api/v1/projects/m/revisions/1/content -o "$T/curl.bad" 2>/dev/null
touch "$T/curl.bad" # curl makes no file when no byte came
n=$(stat -c %s "$T/curl.bad")
if [ "$n" -lt "$(stat -c %s "$R0")" ] && cmp -s "$T/curl.bad" <(head -c "$n" "$R0"); then
	ok "curl never gets wrong bytes for a damaged chunk (the answer is cut short at $n)"
else
	not_ok "curl never gets wrong bytes for a damaged chunk" "$n bytes"
fi
stop_atriumd
out=$("$ATRIUMD" --data "$D" check 2>&1)
rc=$?
[ "$rc" -eq 1 ] && ok "check finds the damaged chunk" || not_ok "check finds the damaged chunk" "rc $rc: $out"
expect_match "check names the chunk" "$out" "chunks/${first_chunk:0:2}/$first_chunk is damaged"
cp "$T/chunk.good" "$cf"
out=$("$ATRIUMD" --data "$D" check 2>&1)
[ $? -eq 0 ] && ok "check passes once the chunk is whole again" || not_ok "check passes once the chunk is whole again" "$out"
expect_match "check counts the chunked contents" "$out" "chunked content\(s\) over [0-9]+ chunk file\(s\) verified"

# Backup and restore carry chunked content.
bk=$("$ATRIUMD" --data "$D" backup "$T/bk" 2>"$T/bk.err")
[ $? -eq 0 ] && ok "backup of a store with chunks" || not_ok "backup of a store with chunks" "$(cat "$T/bk.err")"
[ "$(json_get "$(cat "$T/bk/backup.json")" 'j["chunks"]')" -gt 0 ] && ok "the backup holds the chunks" ||
	not_ok "the backup holds the chunks" "$(cat "$T/bk/backup.json")"
out=$("$ATRIUMD" --data "$T/restored" restore "$T/bk" 2>&1)
[ $? -eq 0 ] && ok "restore of that backup" || not_ok "restore of that backup" "$out"
start_atriumd "$T/restored" || not_ok "the restored directory serves"
api GET /api/v1/projects/m/revisions/2/content | cmp -s - "$R1" && ok "chunked content reads back after restore" ||
	not_ok "chunked content reads back after restore"
stop_atriumd
start_atriumd "$D" || { not_ok "the server restarts"; finish; }
HP=127.0.0.1:$PORT
"$ATRIUM" login --plain -u admin --password-stdin "$HP" <<<"$ATRIUM_ADMIN_PASSWORD" >/dev/null 2>&1
TOKEN=$(login_token admin "$ATRIUM_ADMIN_PASSWORD")

# kill -9 during a chunked commit: no half revision, nothing lost.
head -c 30000000 /dev/urandom >"$T/noise"
"$ATRIUM" commit solo "$T/noise" -m noise --base 0 >"$T/kill.out" 2>&1 &
cpid=$!
for _ in $(seq 100); do [ "$(chunk_files)" -gt 60 ] && break; sleep 0.05; done
kill -KILL "$SERVER_PID"
wait "$cpid" 2>/dev/null
start_atriumd "$D" || { not_ok "the server restarts after kill -9"; finish; }
HP=127.0.0.1:$PORT
"$ATRIUM" login --plain -u admin --password-stdin "$HP" <<<"$ATRIUM_ADMIN_PASSWORD" >/dev/null 2>&1
TOKEN=$(login_token admin "$ATRIUM_ADMIN_PASSWORD")
head=$(json_get "$(api GET /api/v1/projects/solo)" 'j["head"]')
expect_eq "a chunked commit cut by kill -9 left no revision" "$head" 0
expect_eq "unfinished chunk uploads are cleaned up at start" "$(ls "$D/chunks/tmp" | wc -l)" 0
api GET /api/v1/projects/m/revisions/2/content | cmp -s - "$R1" && ok "acknowledged chunked revisions survive kill -9" ||
	not_ok "acknowledged chunked revisions survive kill -9"
out=$("$ATRIUM" commit solo "$T/noise" -m noise --base 0 2>&1)
expect_match "the commit, run again, sends only what did not arrive" "$out" "Sent [0-9]+ of [0-9]+ chunks"
api GET /api/v1/projects/solo/revisions/1/content | cmp -s - "$T/noise" && ok "and reads back exactly" ||
	not_ok "and reads back exactly" "$out"

# Two clients committing the same new chunks at once: both revisions whole.
for p in duo1 duo2; do "$ATRIUM" project create "$p" >/dev/null; done
head -c 6000000 /dev/urandom >"$T/duo"
"$ATRIUM" commit duo1 "$T/duo" -m a --base 0 >"$T/duo1.out" 2>&1 &
d1=$!
"$ATRIUM" commit duo2 "$T/duo" -m b --base 0 >"$T/duo2.out" 2>&1
r2=$?
wait "$d1"
r1=$?
[ "$r1" -eq 0 ] && [ "$r2" -eq 0 ] && ok "two clients commit the same new chunks at once" ||
	not_ok "two clients commit the same new chunks at once" "$(cat "$T/duo1.out" "$T/duo2.out")"
for p in duo1 duo2; do
	api GET "/api/v1/projects/$p/revisions/1/content" | cmp -s - "$T/duo" && ok "$p reads back exactly" ||
		not_ok "$p reads back exactly"
	api DELETE "/api/v1/projects/$p" -o /dev/null
done

# Garbage: a deleted project's own chunks go, shared ones stay.
out=$("$ATRIUM" commit twin "$R0" -m copy --base 0 2>&1)
expect_match "a copy of a model in another project sends no chunk" "$out" "Sent 0 of"
n0=$(chunk_files)
noise_chunks=$(json_get "$(api GET /api/v1/projects/solo/revisions/1/manifest)" 'len(set(c["sha256"] for c in j["chunks"]))')
code=$(api DELETE /api/v1/projects/solo -o /dev/null -w '%{http_code}')
expect_eq "project solo is deleted" "$code" 204
n1=$(chunk_files)
expect_eq "its own chunks are removed" "$((n0 - n1))" "$noise_chunks"
api DELETE /api/v1/projects/twin -o /dev/null
expect_eq "deleting a project whose chunks another uses removes none" "$(chunk_files)" "$n1"
api GET /api/v1/projects/m/revisions/1/content | cmp -s - "$R0" && ok "the other project's content is whole" ||
	not_ok "the other project's content is whole"
api DELETE /api/v1/projects/m -o /dev/null
left=$(chunk_files)
[ "$left" -le 2 ] && ok "with every project gone, only chunks of no revision are left ($left)" ||
	not_ok "with every project gone, only chunks of no revision are left" "$left"
stop_atriumd
out=$("$ATRIUMD" --data "$D" check 2>&1)
[ $? -eq 0 ] && ok "check passes after the deletions" || not_ok "check passes after the deletions" "$out"
finish
