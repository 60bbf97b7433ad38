#!/usr/bin/env python3
# fake_error_server.py PORT STATUS BODY: answers every request with STATUS
# and the JSON BODY, so a test can show the CLI bodies atriumd never sends.
import http.server, sys
status, body = int(sys.argv[2]), sys.argv[3]
class H(http.server.BaseHTTPRequestHandler):
    def do_ANY(self):
        n = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(n)
        b = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)
    do_GET = do_POST = do_PUT = do_DELETE = do_ANY
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
