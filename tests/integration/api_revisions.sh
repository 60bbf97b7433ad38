#!/usr/bin/env bash
# Commits and checkouts through the API: streaming bodies, conflicts,
# ranges, ETags, de-duplication, deletion.
. "$(dirname "$0")/lib.sh"

start_atriumd "$T/data" || exit 1
TOKEN=$(login_token admin "$ATRIUM_ADMIN_PASSWORD")
api POST /api/v1/projects -d '{"name":"plant"}' >/dev/null

head -c 3000000 /dev/urandom >"$T/v1"
head -c 1234567 /dev/urandom >"$T/v2"
sha1=$(sha256sum "$T/v1" | cut -d' ' -f1)

code=$(api POST "/api/v1/projects/plant/revisions?message=x" --data-binary @"$T/v1" -o "$T/out" -w '%{http_code}')
expect_eq "a commit without base is 400" "$code" 400
expect_match "and says how to fix it" "$(cat "$T/out")" 'add \?base=N'
out=$(api POST "/api/v1/projects/plant/revisions?base=0&message=first%20cut" --data-binary @"$T/v1")
expect_match "first commit is revision 1 with the content's sha256" "$out" "^\\{\"revision\":1,\"sha256\":\"$sha1\",\"size\":3000000,\"branch\":\"trunk\","
out=$(api POST "/api/v1/projects/plant/revisions?base=1&message=second" -H 'Transfer-Encoding: chunked' --data-binary @"$T/v2")
expect_match "a chunked upload commits revision 2" "$out" '"revision":2'

code=$(api POST "/api/v1/projects/plant/revisions?base=1&message=late" --data-binary @"$T/v2" -o "$T/out" -w '%{http_code}')
expect_eq "a stale base is 409" "$code" 409
expect_match "409 names who committed what and what to do" "$(cat "$T/out")" 'admin committed revision 2 \(\\"second\\"\) at .* after your base 1; check out revision 2'
code=$(api POST "/api/v1/projects/plant/revisions?base=7&message=x" --data-binary @"$T/v2" -o /dev/null -w '%{http_code}')
expect_eq "a base ahead of the head is 400" "$code" 400
code=$(api POST "/api/v1/projects/nothere/revisions?base=0" --data-binary @"$T/v2" -o /dev/null -w '%{http_code}')
expect_eq "a commit to a missing project is 404" "$code" 404
code=$(TOKEN=bad api POST "/api/v1/projects/plant/revisions?base=2" --data-binary @"$T/v2" -o /dev/null -w '%{http_code}')
expect_eq "a commit without a valid session is 401" "$code" 401

out=$(api GET /api/v1/projects/plant/revisions)
expect_match "the log lists revisions newest first" "$out" '^\{"revisions":\[\{"number":2,.*\{"number":1,"author":"admin","message":"first cut"'
out=$(api GET /api/v1/projects/plant/revisions/1)
expect_match "revision metadata" "$out" "\"sha256\":\"$sha1\""
out=$(api GET /api/v1/projects/plant)
expect_match "the project shows its head and last revision" "$out" '"head":2,"last":\{"number":2'

api GET /api/v1/projects/plant/revisions/1/content -o "$T/c1" -D "$T/hdr"
check "checkout of revision 1 is byte-identical" cmp "$T/v1" "$T/c1"
expect_match "content has the sha256 as ETag" "$(cat "$T/hdr")" "ETag: \"$sha1\""
expect_match "content has its Content-Length" "$(cat "$T/hdr")" 'Content-Length: 3000000'
api GET /api/v1/projects/plant/revisions/head/content -o "$T/c2"
check "checkout of head is revision 2" cmp "$T/v2" "$T/c2"

code=$(api GET /api/v1/projects/plant/revisions/1/content -H "If-None-Match: \"$sha1\"" -o /dev/null -w '%{http_code}')
expect_eq "If-None-Match with the ETag is 304" "$code" 304
code=$(api GET /api/v1/projects/plant/revisions/1/content -r 100-199 -o "$T/part" -D "$T/hdr" -w '%{http_code}')
expect_eq "a byte range is 206" "$code" 206
check "the range holds the right bytes" cmp "$T/part" <(tail -c +101 "$T/v1" | head -c 100)
expect_match "206 carries Content-Range" "$(cat "$T/hdr")" 'Content-Range: bytes 100-199/3000000'
api GET /api/v1/projects/plant/revisions/1/content -r -10 -o "$T/part"
check "a suffix range holds the last bytes" cmp "$T/part" <(tail -c 10 "$T/v1")
code=$(api GET /api/v1/projects/plant/revisions/1/content -r 5000000-5000001 -o /dev/null -D "$T/hdr" -w '%{http_code}')
expect_eq "a range past the end is 416" "$code" 416
expect_match "416 says the size" "$(cat "$T/hdr")" 'Content-Range: bytes \*/3000000'
code=$(api GET /api/v1/projects/plant/revisions/9/content -o "$T/out" -w '%{http_code}')
expect_eq "a missing revision is 404" "$code" 404
expect_match "and says which is the newest" "$(cat "$T/out")" 'its newest is 2'
code=$(api GET /api/v1/projects/plant/revisions/x1/content -o /dev/null -w '%{http_code}')
expect_eq "a non-number revision is 400" "$code" 400

out=$(api POST "/api/v1/projects/plant/revisions?base=2&message=same%20again" --data-binary @"$T/v1")
expect_match "identical content commits as a new revision" "$out" "\"revision\":3,\"sha256\":\"$sha1\""
n=$(find "$T/data/blobs" -type f -name "$sha1" | wc -l)
expect_eq "identical content is stored once" "$n" 1
out=$(api POST "/api/v1/projects/plant/revisions?base=3&message=empty" --data-binary '')
expect_match "empty content is a valid revision" "$out" '"revision":4,"sha256":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","size":0'
api GET /api/v1/projects/plant/revisions/4/content -o "$T/empty"
expect_eq "empty content checks out empty" "$(stat -c %s "$T/empty")" 0
msg=$(python3 -c 'import urllib.parse; print(urllib.parse.quote("ümlaut & \"quotes\" / slash"))')
out=$(api POST "/api/v1/projects/plant/revisions?base=4&message=$msg" --data-binary @"$T/v2")
out=$(api GET /api/v1/projects/plant/revisions/5)
expect_match "messages keep any UTF-8 text" "$out" '"message":"ümlaut & \\"quotes\\" / slash"'

# An upload and the next request in one write: the bytes after the body
# (read in big pieces straight off the socket) must not be lost.
resp=$(python3 - "$PORT" "$TOKEN" <<'PY'
import socket, sys
port, token = int(sys.argv[1]), sys.argv[2]
body = bytes(range(256)) * 4000
req = (f"POST /api/v1/projects/plant/revisions?base=5&message=pipelined HTTP/1.1\r\nHost: x\r\n"
       f"Authorization: Bearer {token}\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body
req += f"GET /api/v1/projects/plant HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n".encode()
s = socket.create_connection(("127.0.0.1", port))
s.sendall(req)
data = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    data += b
text = data.decode(errors="replace")
print(text.count("HTTP/1.1 201"), text.count("HTTP/1.1 200"), '"head":6' in text)
PY
)
expect_eq "an upload and a pipelined request after it are both answered" "$resp" "1 1 True"

leftover=$(ls "$T/data/blobs/tmp" | wc -l)
expect_eq "no upload files are left behind" "$leftover" 0

api POST /api/v1/projects -d '{"name":"other"}' >/dev/null
api POST "/api/v1/projects/other/revisions?base=0&message=shared" --data-binary @"$T/v2" >/dev/null
code=$(api DELETE /api/v1/projects/plant -o /dev/null -w '%{http_code}')
expect_eq "delete a project" "$code" 204
code=$(api GET /api/v1/projects/plant -o /dev/null -w '%{http_code}')
expect_eq "a deleted project is gone" "$code" 404
n=$(find "$T/data/blobs" -type f -name "$sha1" | wc -l)
expect_eq "its content is removed when nothing else uses it" "$n" 0
api GET /api/v1/projects/other/revisions/1/content -o "$T/c3"
check "content shared with another project survives" cmp "$T/v2" "$T/c3"

stop_atriumd
echo 'max_revision_size = 1M' >>"$T/data/atrium.conf"
start_atriumd "$T/data" || exit 1
TOKEN=$(login_token admin "$ATRIUM_ADMIN_PASSWORD")
code=$(api POST "/api/v1/projects/other/revisions?base=1" --data-binary @"$T/v1" -o "$T/out" -w '%{http_code}')
expect_eq "content over max_revision_size is 413" "$code" 413
code=$(api POST "/api/v1/projects/other/revisions?base=1" -H 'Transfer-Encoding: chunked' --data-binary @"$T/v1" -o "$T/out" -w '%{http_code}')
expect_eq "chunked content over max_revision_size is 413" "$code" 413
expect_eq "nothing is left of refused uploads" "$(ls "$T/data/blobs/tmp" | wc -l)" 0
out=$(api GET /api/v1/projects/other)
expect_match "a refused upload adds no revision" "$out" '"head":1'
stop_atriumd
finish
