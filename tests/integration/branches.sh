#!/usr/bin/env bash
# Branches, tags and element-lock sets on the embedded store (the cases are
# in branches_lib.sh; branches_pg.sh runs them on PostgreSQL): per-branch
# numbering and stale bases, immutable tags, all-or-none lock sets and a
# race between two of them, commits that release or keep their locks and
# 423 for someone else's, and all of it surviving a restart and a kill -9.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/branches_lib.sh"

bstart "$T/data" || exit 1
make_users
cases_branches
cases_tags
cases_locks
cases_state "live"
cases_cli "$T/data"
"$ATRIUMD" --data "$T/data" backup "$T/bk" >"$T/bk.out" 2>&1
check "a backup while serving succeeds" test $? -eq 0
"$ATRIUMD" --data "$T/bk" check >"$T/bkcheck.out" 2>&1
check "the backup holds every branch's content (check finds it clean)" grep -q 'store is clean' "$T/bkcheck.out"

stop_atriumd
bstart "$T/data" || exit 1
ALICE=$(login_token alice alice-secret-1)
cases_state "after a restart"

kill -9 "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null
bstart "$T/data" || exit 1
ALICE=$(login_token alice alice-secret-1)
cases_state "after a kill -9"
stop_atriumd
"$ATRIUMD" --data "$T/data" check >"$T/check.out" 2>&1
check "atriumd check finds the store clean" grep -q 'store is clean' "$T/check.out"
finish
