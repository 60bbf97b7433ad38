#!/usr/bin/env bash
# `atriumd check` on PostgreSQL: every revision is read back from the
# database (not the node's cache) and hashed, safely while a node runs; a
# damaged or missing content chunk names its revision and exits 1.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pg_lib.sh"

pg_certs || { echo "not ok - making test certificates failed"; exit 1; }
pg_start main on || { echo "not ok - PostgreSQL did not start"; exit 1; }
P=$PG_PORT_main
pg_sql "$P" postgres "CREATE DATABASE atrium" >/dev/null
URL=$(pg_url "$P" atrium)
export ATRIUM_DATABASE_SSL=on ATRIUM_DATABASE_SSL_ROOT_CERT=$PG_CERTS/ca.crt

D=$T/node
start_atriumd "$D" --set "database=$URL" || exit 1
TOKEN=$(login_token admin "$ATRIUM_ADMIN_PASSWORD")
api POST /api/v1/projects -d '{"name":"plant"}' >/dev/null
head -c 2500000 /dev/urandom >"$T/big"
api POST "/api/v1/projects/plant/revisions?base=0&message=r1" --data-binary 'first' >/dev/null
api POST "/api/v1/projects/plant/revisions?base=1&message=r2" --data-binary @"$T/big" >/dev/null
api POST "/api/v1/projects/plant/revisions?base=2&message=r3" --data-binary 'first' >/dev/null
S2=$(sha256sum <"$T/big" | cut -d' ' -f1)

run_check() { out=$("$ATRIUMD" --data "$D" --set "database=$URL" check 2>&1); rc=$?; }

run_check
expect_eq "a clean database, with a node running: exit 0" "$rc" 0
expect_match "every revision is read back and verified" "$out" "store is clean: 1 projects, 3 revisions \\(2\\.4 MiB\\) verified"

upload="(SELECT upload_id FROM blobs WHERE sha256 = '$S2')"
pg_sql "$P" atrium "UPDATE content_chunks SET data = overlay(data placing '\\x58'::bytea from 10 for 1)
	WHERE upload_id = $upload AND pos = (SELECT max(pos) FROM content_chunks WHERE upload_id = $upload)" >/dev/null
run_check
expect_eq "one byte of a chunk changed: exit 1" "$rc" 1
expect_match "the damaged content names revision 2" "$out" "problem: project 'plant' revision 2: its content is damaged"

pg_sql "$P" atrium "DELETE FROM content_chunks WHERE upload_id = $upload AND pos = 0" >/dev/null
run_check
expect_eq "a chunk deleted: exit 1" "$rc" 1
expect_match "the missing chunk names revision 2" "$out" "problem: project 'plant' revision 2"
expect_match "the summary counts one problem" "$out" "1 problem\\(s\\) found"
stop_atriumd
finish
