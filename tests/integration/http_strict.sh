#!/usr/bin/env bash
# How strictly requests are parsed (docs/SECURITY.md, "HTTP parsing"): each
# case sends raw bytes on one connection and checks the status lines of
# every answer, so a request smuggled behind another shows up as a second
# answer. Also plain HTTP on the admin console's port with a Host header
# that runs past what the server reads at once (an out-of-bounds read
# once; the ASan server's report would fail this test).
. "$(dirname "$0")/lib.sh"

start_atriumd "$T/data" || exit 1


ok200='HTTP/1.1 200 OK'
bad='HTTP/1.1 400 Bad Request'

# ---- finding 1: plain HTTP on the admin port, Host at the end of the read.
long_host='b"GET /" + b"X" * 3967 + b"\r\nHost: " + b"h" * 120'
expect_eq "admin port, plain HTTP, Host cut by the end of the first read: 400" \
	"$(raw_http "$ADMIN_PORT" "$long_host")" "$bad"
out=$(SHOW=1 raw_http "$ADMIN_PORT" "$long_host")
expect_match "... which says the port speaks TLS" "$out" 'speaks TLS'
expect_eq "admin port, plain HTTP, a NUL in Host: 400, not a redirect to the part before it" \
	"$(raw_http "$ADMIN_PORT" 'b"GET / HTTP/1.1\r\nHost: ab\x00cd\r\n\r\n"')" "$bad"
out=$(SHOW=1 raw_http "$ADMIN_PORT" "b\"GET / HTTP/1.1\\r\\nHost: localhost:$ADMIN_PORT\\r\\n\\r\\n\"")
expect_match "admin port, plain HTTP, a good Host: 301 to https://" "$out" \
	"HTTP/1.1 301 .*Location: https://localhost:$ADMIN_PORT/"
expect_eq "the admin port still speaks TLS" \
	"$(curl -s -o /dev/null -w '%{http_code}' -k "https://127.0.0.1:$ADMIN_PORT/healthz")" 200

# ---- a field name must be a token: whitespace before the colon and the like.
expect_eq "a plain request: 200" "$(raw_http "$PORT" 'b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"')" "$ok200"
expect_eq "'Content-Length : 35' (a space before the colon): 400" \
	"$(raw_http "$PORT" 'b"POST /api/v1/session HTTP/1.1\r\nHost: x\r\nContent-Length : 35\r\n\r\n" + b"{}" * 20')" "$bad"
smuggle='b"POST /api/v1/session HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"'
expect_eq "'Transfer-Encoding : chunked': one 400, no smuggled second request" \
	"$(raw_http "$PORT" "$smuggle")" "$bad"
expect_eq "a tab before the colon: 400" \
	"$(raw_http "$PORT" 'b"GET /healthz HTTP/1.1\r\nHost\t: x\r\n\r\n"')" "$bad"
expect_eq "a separator in a field name: 400" \
	"$(raw_http "$PORT" 'b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A(b): c\r\n\r\n"')" "$bad"
expect_eq "a byte over 0x7f in a field name: 400" \
	"$(raw_http "$PORT" 'b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-\xe9: c\r\n\r\n"')" "$bad"
expect_eq "a first field line starting with a space: 400" \
	"$(raw_http "$PORT" 'b"GET /healthz HTTP/1.1\r\n Host: x\r\n\r\n"')" "$bad"
expect_eq "every tchar is allowed in a field name: 200" \
	"$(raw_http "$PORT" 'b"GET /healthz HTTP/1.1\r\nHost: x\r\nX!#$%&\x27*+-.^_`|~09az: v\r\n\r\n"')" "$ok200"

# ---- obs-fold and conflicting framing.
many='b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: abc\r\nX-B:\r\nX-C: d e\r\n\r\n"'
expect_eq "empty values: 200" "$(raw_http "$PORT" "$many")" "$ok200"
expect_eq "a request read one byte at a time: 200" "$(TRICKLE=1 raw_http "$PORT" "$many")" "$ok200"
expect_eq "a folded value read one byte at a time: 400" \
	"$(TRICKLE=1 raw_http "$PORT" 'b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n"')" "$bad"
expect_eq "a folded field value (obs-fold): 400" \
	"$(raw_http "$PORT" 'b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n"')" "$bad"
expect_eq "an empty value folded onto the next line: 400" \
	"$(raw_http "$PORT" 'b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A:\r\n\tb\r\n\r\n"')" "$bad"
expect_eq "two Content-Length with different values: 400" \
	"$(raw_http "$PORT" 'b"POST /api/v1/session HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 7\r\n\r\n{}"')" "$bad"
expect_eq "two equal Content-Length: 400 too" \
	"$(raw_http "$PORT" 'b"POST /api/v1/session HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}"')" "$bad"
expect_eq "Content-Length with Transfer-Encoding: 400" \
	"$(raw_http "$PORT" 'b"POST /api/v1/session HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"')" "$bad"

# ---- request lines.
expect_eq "bare LF line ends: accepted (RFC 9112 2.2)" \
	"$(raw_http "$PORT" 'b"GET /healthz HTTP/1.1\nHost: x\n\n"')" "$ok200"
expect_eq "two spaces after the method: accepted (RFC 9112 3)" \
	"$(raw_http "$PORT" 'b"GET  /healthz HTTP/1.1\r\nHost: x\r\n\r\n"')" "$ok200"
expect_eq "an HTTP/0.9 request line (no version): 400" \
	"$(raw_http "$PORT" 'b"GET /healthz\r\nHost: x\r\n\r\n"')" "$bad"
expect_eq "HTTP/2.0 in a request line: 505" \
	"$(raw_http "$PORT" 'b"GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n"')" 'HTTP/1.1 505 HTTP Version Not Supported'
expect_eq "absolute-form target: 200" \
	"$(raw_http "$PORT" 'b"GET http://host/healthz HTTP/1.1\r\nHost: host\r\n\r\n"')" "$ok200"
expect_eq "absolute-form with a port and a query, any case: 200" \
	"$(raw_http "$PORT" 'b"GET HTTPS://Host:8080/healthz?x=1 HTTP/1.1\r\nHost: other\r\n\r\n"')" "$ok200"
expect_eq "absolute-form with userinfo: 400" \
	"$(raw_http "$PORT" 'b"GET http://user@host/healthz HTTP/1.1\r\nHost: host\r\n\r\n"')" "$bad"
expect_eq "absolute-form without a host: 400" \
	"$(raw_http "$PORT" 'b"GET http:///healthz HTTP/1.1\r\nHost: host\r\n\r\n"')" "$bad"

# ---- Host.
expect_eq "HTTP/1.1 without Host: 400" \
	"$(raw_http "$PORT" 'b"GET /healthz HTTP/1.1\r\n\r\n"')" "$bad"
expect_eq "two Host fields: 400" \
	"$(raw_http "$PORT" 'b"GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"')" "$bad"
expect_eq "HTTP/1.0 without Host: 200" \
	"$(raw_http "$PORT" 'b"GET /healthz HTTP/1.0\r\n\r\n"')" "$ok200"

# ---- HTTP/1.0 keep-alive is said, or the connection closes.
out=$(SHOW=1 raw_http "$PORT" 'b"GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"')
expect_match "HTTP/1.0 keep-alive: the answer says Connection: keep-alive" "$out" $'Connection: keep-alive\r'
expect_eq "... and a second request on the connection is answered" \
	"$(raw_http "$PORT" 'b"GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /healthz HTTP/1.0\r\n\r\n"')" \
	"$ok200;$ok200"
out=$(SHOW=1 raw_http "$PORT" 'b"GET /healthz HTTP/1.0\r\n\r\nGET /healthz HTTP/1.0\r\n\r\n"')
expect_match "plain HTTP/1.0: Connection: close" "$out" $'Connection: close\r'
expect_eq "... and the connection is closed after one answer" \
	"$(raw_http "$PORT" 'b"GET /healthz HTTP/1.0\r\n\r\nGET /healthz HTTP/1.0\r\n\r\n"')" "$ok200"
expect_eq "HTTP/1.1 pipelining still works" \
	"$(raw_http "$PORT" 'b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"')" \
	"$ok200;$ok200"
expect_match "the server is still up" "$(curl -s "$BASE/healthz")" '"status":"ok"'
stop_atriumd
finish
