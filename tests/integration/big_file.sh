#!/usr/bin/env bash
# A 2 GiB revision commits and checks out intact while the server's memory
# stays flat (peak RSS under 64 MiB). Runs the release build: sanitizers
# inflate memory on purpose.
. "$(dirname "$0")/lib.sh"
ATRIUMD=${ATRIUMD_RELEASE:-$ATRIUM_TOP/build/atriumd}
SIZE=${BIG_SIZE:-2147483648}

start_atriumd "$T/data" || exit 1
TOKEN=$(login_token admin "$ATRIUM_ADMIN_PASSWORD")
api POST /api/v1/projects -d '{"name":"big"}' >/dev/null
# Pseudo-random bytes, fast: AES-CTR over zeros.
openssl enc -aes-128-ctr -nosalt -pass pass:atrium -pbkdf2 </dev/zero 2>/dev/null | head -c "$SIZE" >"$T/big"
want=$(sha256sum <"$T/big" | cut -d' ' -f1)
out=$(api POST "/api/v1/projects/big/revisions?base=0&message=2GiB" -T "$T/big" -w ' %{speed_upload}')
expect_match "a 2 GiB commit is acknowledged with its sha256" "$out" "\"sha256\":\"$want\",\"size\":$SIZE"
echo "# upload: $(tail -n1 <<<"$out" | awk '{printf "%.0f MB/s", $NF/1e6}')"
rm -f "$T/big"
speed=$(api GET /api/v1/projects/big/revisions/1/content -o "$T/back" -w '%{speed_download}')
echo "# download: $(awk -v s="$speed" 'BEGIN{printf "%.0f MB/s", s/1e6}')"
got=$(sha256sum <"$T/back" | cut -d' ' -f1)
expect_eq "the checkout is byte-identical" "$got" "$want"
rss=$(awk '/VmHWM/ {print $2}' "/proc/$SERVER_PID/status")
echo "# server peak RSS: $rss KiB"
[ "$rss" -lt 65536 ] && ok "server peak RSS $((rss / 1024)) MiB stays under 64 MiB" ||
	not_ok "server peak RSS stays under 64 MiB" "VmHWM: $rss KiB"
rm -f "$T/back"
stop_atriumd
finish
