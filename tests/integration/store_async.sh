#!/usr/bin/env bash
# The commit and checkout scenarios again with every store call on the job
# pool and content moving in pieces, as with a networked database
# (ATRIUM_STORE_ASYNC=1 makes the embedded store behave that way).
export ATRIUM_STORE_ASYNC=1
dir=$(dirname "$0")
bash "$dir/api_revisions.sh" | sed 's/^\(not \)\{0,1\}ok - /&async: /'
rc=${PIPESTATUS[0]}
bash "$dir/concurrent_commits.sh" | sed 's/^\(not \)\{0,1\}ok - /&async: /'
exit $((rc | PIPESTATUS[0]))
