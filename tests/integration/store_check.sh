#!/usr/bin/env bash
# `atriumd --data DIR check`: a clean store exits 0; a damaged or missing
# content file, a wrong row, a dangling row exit 1 and name the revision;
# garbage a crash leaves (unfinished uploads, content no revision uses) is
# only reported; a running server or no store exits 2.
. "$(dirname "$0")/lib.sh"

D=$T/data
start_atriumd "$D" || exit 1
TOKEN=$(login_token admin "$ATRIUM_ADMIN_PASSWORD")
for p in plant empty; do api POST /api/v1/projects -d "{\"name\":\"$p\"}" >/dev/null; done
for i in 1 2 3 4; do
	# Revisions 2 and 4 have the same content (stored once).
	body="revision $((i % 2 == 0 ? 2 : i)) of the plant model"
	api POST "/api/v1/projects/plant/revisions?base=$((i - 1))&message=r$i" --data-binary "$body" >/dev/null
done
sha() { json_get "$(api GET "/api/v1/projects/plant/revisions/$1")" 'j["sha256"]'; }
S1=$(sha 1) S2=$(sha 2)

out=$("$ATRIUMD" --data "$D" check 2>&1)
rc=$?
expect_eq "check refuses while atriumd serves the directory (exit 2)" "$rc" 2
expect_match "it says which atriumd and what to do" "$out" "atriumd is running on $D \\(pid $SERVER_PID\\); stop it first"
stop_atriumd

# run_check: sets out and rc.
run_check() { out=$("$ATRIUMD" --data "$D" check 2>&1); rc=$?; }

run_check
expect_eq "a clean store: exit 0" "$rc" 0
expect_match "a clean store: the summary counts everything" "$out" \
	"store is clean: 2 projects, 4 revisions, 3 blobs \\(0\\.0 MiB\\) verified"

echo "half an upload" >"$D/blobs/tmp/upload-Ab12Cd"
run_check
expect_eq "an unfinished upload: still exit 0" "$rc" 0
expect_match "an unfinished upload is reported as info" "$out" "info: blobs/tmp/upload-Ab12Cd \\(15 bytes\\): an upload that was never acknowledged"
rm -f "$D/blobs/tmp/upload-Ab12Cd"

orphan="content of a commit cut short"
osha=$(printf '%s' "$orphan" | sha256sum | cut -d' ' -f1)
mkdir -p "$D/blobs/${osha:0:2}"
printf '%s' "$orphan" >"$D/blobs/${osha:0:2}/$osha"
run_check
expect_eq "content no revision uses: still exit 0" "$rc" 0
expect_match "content no revision uses is reported as info" "$out" "info: blobs/${osha:0:2}/$osha \\(29 bytes\\) is used by no revision"
rm -f "$D/blobs/${osha:0:2}/$osha"

f2=$D/blobs/${S2:0:2}/$S2
cp "$f2" "$T/saved"
flip_byte "$f2" 3
run_check
expect_eq "one byte of a content file changed: exit 1" "$rc" 1
expect_match "the damaged content names revision 2" "$out" "problem: project 'plant' revision 2: its content blobs/${S2:0:2}/$S2 is damaged"
expect_match "and revision 4, which has the same content" "$out" "problem: project 'plant' revision 4: its content blobs/${S2:0:2}/$S2 is damaged"
expect_match "the summary counts the problems" "$out" "2 problem\\(s\\) found"
cp "$T/saved" "$f2"

f1=$D/blobs/${S1:0:2}/$S1
mv "$f1" "$T/saved1"
run_check
expect_eq "a content file deleted: exit 1" "$rc" 1
expect_match "the missing content names revision 1 and what to do" "$out" "problem: project 'plant' revision 1: its content blobs/${S1:0:2}/$S1 is missing; restore that file from a backup"
mv "$T/saved1" "$f1"

run_check
expect_eq "the files put back: clean again" "$rc" 0

if command -v sqlite3 >/dev/null; then
	sqlite3 "$D/atrium.db" "UPDATE revisions SET size = size + 1 WHERE number = 3"
	run_check
	expect_eq "a row with the wrong size: exit 1" "$rc" 1
	expect_match "the wrong size names revision 3" "$out" "problem: project 'plant' revision 3: its row records"
	sqlite3 "$D/atrium.db" "UPDATE revisions SET size = size - 1 WHERE number = 3;
		UPDATE projects SET head = 5 WHERE name = 'plant';
		UPDATE branches SET head = 5 WHERE name = 'trunk' AND project_id = (SELECT id FROM projects WHERE name = 'plant');
		INSERT INTO locks(project_id, branch, element, holder, since) VALUES (999, 'trunk', 'pump', 'admin', 1)"
	run_check
	expect_eq "a head past the last revision and a dangling lock: exit 1" "$rc" 1
	expect_match "the head is reported" "$out" "problem: project 'plant' branch 'trunk': its head is 5 but it has 4 revision rows"
	expect_match "the dangling lock is reported" "$out" "problem: atrium.db: a row of locks .* refers to a missing row of branches"
	sqlite3 "$D/atrium.db" "UPDATE projects SET head = 4 WHERE name = 'plant';
		UPDATE branches SET head = 4 WHERE name = 'trunk' AND project_id = (SELECT id FROM projects WHERE name = 'plant');
		DELETE FROM locks WHERE project_id = 999"
fi

run_check
expect_eq "a clean store again: exit 0" "$rc" 0
start_atriumd "$D" || exit 1
got=$(api GET /api/v1/projects/plant/revisions/4/content)
expect_eq "the check changed nothing: the server serves revision 4" "$got" "revision 2 of the plant model"
stop_atriumd

out=$("$ATRIUMD" --data "$T/nowhere" check 2>&1)
expect_eq "no such directory: exit 2" "$?" 2
mkdir "$T/empty"
out=$("$ATRIUMD" --data "$T/empty" check 2>&1)
expect_eq "a directory without a store: exit 2" "$?" 2
expect_match "it says what --data must name" "$out" "--data must name the data directory of an atriumd"
out=$("$ATRIUMD" check 2>&1)
expect_eq "check without --data: exit 2" "$?" 2
finish
