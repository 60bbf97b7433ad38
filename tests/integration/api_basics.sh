#!/usr/bin/env bash
# The HTTP API's basics against a real atriumd: sessions, projects, errors
# for bad input, protocol limits.
. "$(dirname "$0")/lib.sh"

start_atriumd "$T/data" || exit 1

out=$(curl -sS "$BASE/healthz")
expect_match "healthz answers ok" "$out" '"status":"ok"'
out=$(curl -sS "$BASE/api/v1/server")
expect_match "server info names the plain port" "$out" "\"name\":\"plain\",\"port\":$PORT,\"tls\":false"

code=$(curl -s -o "$T/out" -w '%{http_code}' -X POST -d '{"user":"admin","password":"nope-nope"}' "$BASE/api/v1/session")
expect_eq "wrong password is 401" "$code" 401
expect_match "wrong password says so" "$(cat "$T/out")" 'wrong user name or password'
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -d '{"user":"ghost","password":"whatever1"}' "$BASE/api/v1/session")
expect_eq "unknown user is 401 too" "$code" 401

TOKEN=$(login_token admin "$ATRIUM_ADMIN_PASSWORD")
expect_match "login gives a 256-bit token" "$TOKEN" '^[0-9a-f]{64}$'
if grep -q "$TOKEN" "$T/data.log"; then not_ok "the token is not logged"; else ok "the token is not logged"; fi
if grep -q "$ATRIUM_ADMIN_PASSWORD" "$T/data.log"; then not_ok "the password is not logged"; else ok "the password is not logged"; fi

code=$(curl -s -o "$T/out" -D "$T/hdr" -w '%{http_code}' "$BASE/api/v1/projects")
expect_eq "no token is 401" "$code" 401
expect_match "401 carries WWW-Authenticate" "$(cat "$T/hdr")" 'WWW-Authenticate: Bearer'
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer 00' "$BASE/api/v1/projects")
expect_eq "unknown token is 401" "$code" 401
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Magic x' "$BASE/api/v1/projects")
expect_eq "malformed Authorization is 401" "$code" 401
code=$(curl -s -o /dev/null -w '%{http_code}' -u "admin:$ATRIUM_ADMIN_PASSWORD" "$BASE/api/v1/projects")
expect_eq "HTTP Basic works" "$code" 200
code=$(curl -s -o /dev/null -w '%{http_code}' -u "admin:wrong-one" "$BASE/api/v1/projects")
expect_eq "HTTP Basic with a wrong password is 401" "$code" 401

out=$(api POST /api/v1/projects -d '{"name":"Model A","description":"a model"}')
expect_match "create a project" "$out" '"name":"Model A".*"head":0'
code=$(api POST /api/v1/projects -d '{"name":"Model A"}' -o "$T/out" -w '%{http_code}')
expect_eq "duplicate project is 409" "$code" 409
expect_match "duplicate project says so" "$(cat "$T/out")" 'already exists'
out=$(api GET "/api/v1/projects/Model%20A")
expect_match "get a project by its encoded name" "$out" '"description":"a model"'
out=$(api GET /api/v1/projects)
expect_match "list projects" "$out" '"projects":\[\{"name":"Model A"'

for bad in '..' 'a/b' 'tab\there' "$(printf 'x%.0s' $(seq 65))" '' ' lead'; do
	code=$(api POST /api/v1/projects -d "{\"name\":\"$bad\"}" -o "$T/out" -w '%{http_code}')
	expect_eq "bad project name '${bad:0:12}' is 400" "$code" 400
done
code=$(api GET /api/v1/projects/%2e%2e -o /dev/null -w '%{http_code}')
expect_eq "encoded '..' in a path is 400" "$code" 400
code=$(api GET /api/v1/projects/a%00b -o /dev/null -w '%{http_code}')
expect_eq "encoded NUL in a path is 400" "$code" 400
code=$(api GET /api/v1/projects/a%zz -o /dev/null -w '%{http_code}')
expect_eq "bad escape in a path is 400" "$code" 400

code=$(api POST /api/v1/projects -d '{"name":' -o "$T/out" -w '%{http_code}')
expect_eq "malformed JSON is 400" "$code" 400
expect_match "malformed JSON says where" "$(cat "$T/out")" 'not valid JSON'
code=$(api POST /api/v1/projects -d '[1,2]' -o /dev/null -w '%{http_code}')
expect_eq "JSON that is not an object is 400" "$code" 400
head -c 70000 /dev/zero | tr '\0' 'a' >"$T/big.json"
code=$(api POST /api/v1/projects --data-binary @"$T/big.json" -o /dev/null -w '%{http_code}')
expect_eq "JSON body over 64 KiB is 413" "$code" 413

code=$(api PUT /api/v1/projects -o "$T/out" -D "$T/hdr" -w '%{http_code}')
expect_eq "wrong method is 405" "$code" 405
expect_match "405 lists the allowed methods" "$(cat "$T/hdr")" 'Allow: GET, POST'
code=$(api GET /api/v1/nothing -o /dev/null -w '%{http_code}')
expect_eq "unknown path is 404" "$code" 404
code=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Big: $(head -c 40000 /dev/zero | tr '\0' b)" "$BASE/healthz")
expect_eq "headers over 32 KiB are 431" "$code" 431
code=$(curl -s -o /dev/null -w '%{http_code}' "$BASE/healthz?$(head -c 17000 /dev/zero | tr '\0' q)")
expect_eq "a URL over 16 KiB is 414" "$code" 414

# Raw protocol abuse: the server answers 400 and stays up.
resp=$(printf 'GARBAGE\r\n\r\n' | timeout 5 python3 -c '
import socket,sys
s=socket.create_connection(("127.0.0.1",int(sys.argv[1])))
s.sendall(sys.stdin.buffer.read()); print(s.recv(200).decode(errors="replace").splitlines()[0])' "$PORT")
expect_match "a malformed request line gets 400" "$resp" '^HTTP/1.1 400'
resp=$(printf 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /api/v1/server HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' | timeout 5 python3 -c '
import socket,sys
s=socket.create_connection(("127.0.0.1",int(sys.argv[1])))
s.sendall(sys.stdin.buffer.read()); d=b""
while True:
    b=s.recv(65536)
    if not b: break
    d+=b
print(d.decode().count("HTTP/1.1 200 OK"))' "$PORT")
expect_eq "two pipelined requests on one connection both answered" "$resp" 2
out=$(curl -s -o /dev/null -o /dev/null -o /dev/null -w '%{num_connects}' "$BASE/healthz" "$BASE/healthz" "$BASE/api/v1/server")
expect_eq "keep-alive: three requests, one connection" "$out" 100
code=$(curl -s -I -o "$T/hdr" -w '%{http_code}' "$BASE/healthz")
expect_eq "HEAD works" "$code" 200

code=$(api DELETE /api/v1/session -o /dev/null -w '%{http_code}')
expect_eq "logout is 204" "$code" 204
code=$(api GET /api/v1/projects -o /dev/null -w '%{http_code}')
expect_eq "the token stops working after logout" "$code" 401

kill -0 "$SERVER_PID" && ok "the server is still running" || not_ok "the server is still running"
stop_atriumd
finish
