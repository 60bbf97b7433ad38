#!/usr/bin/env bash
# On PostgreSQL, which has no chunked content yet (docs/delta.md): the chunk
# calls answer 501 not_supported, and atrium commit and checkout fall back
# to the whole file by themselves, byte for byte.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pg_lib.sh"

pg_certs || { echo "not ok - making test certificates failed"; exit 1; }
pg_start main off || { echo "not ok - PostgreSQL did not start"; exit 1; }
P=$PG_PORT_main
pg_sql "$P" postgres "CREATE DATABASE atrium" >/dev/null
start_atriumd "$T/a" --set "database=$(pg_url "$P" atrium)" || { not_ok "atriumd on PostgreSQL starts"; finish; }
HP=127.0.0.1:$PORT
"$ATRIUM" login --plain -u admin --password-stdin "$HP" <<<"$ATRIUM_ADMIN_PASSWORD" >/dev/null 2>&1 ||
	not_ok "admin logs in"
TOKEN=$(login_token admin "$ATRIUM_ADMIN_PASSWORD")
"$ATRIUM" project create m >/dev/null || not_ok "create m"

ans=$(api POST /api/v1/chunks/missing -H 'Content-Type: application/json' \
	-d "{\"chunks\":[\"$(printf x | sha256sum | cut -d' ' -f1)\"]}" -w ' %{http_code}')
expect_match "chunks/missing answers 501 not_supported" "$ans" '"code":"not_supported".* 501$'

head -c 3000000 /dev/urandom >"$T/f1"
out=$("$ATRIUM" commit m "$T/f1" -m one 2>&1)
expect_match "atrium commit falls back to the whole file" "$out" "Committed .* revision 1"
case $out in *"chunks ("*) not_ok "no chunks were sent" "$out" ;; *) ok "no chunks were sent" ;; esac
cp "$T/f1" "$T/f2"
printf 'more' >>"$T/f2"
out=$("$ATRIUM" commit m "$T/f2" -m two 2>&1)
expect_match "and again" "$out" "revision 2"
code=$(api GET /api/v1/projects/m/revisions/2/manifest -o /dev/null -w '%{http_code}')
expect_eq "a manifest is 501 on PostgreSQL" "$code" 501
cp "$T/f1" "$T/co"
out=$("$ATRIUM" checkout m -r 2 -o "$T/co" 2>&1)
cmp -s "$T/co" "$T/f2" && ok "atrium checkout over the previous file falls back, byte for byte" ||
	not_ok "atrium checkout over the previous file falls back, byte for byte" "$out"
api GET /api/v1/projects/m/revisions/1/content | cmp -s - "$T/f1" && ok "curl reads revision 1" ||
	not_ok "curl reads revision 1"
finish
