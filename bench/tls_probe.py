#!/usr/bin/env python3
"""What a TLS port negotiates, and whether it resumes sessions.

  bench/tls_probe.py HOST PORT PATH [--header 'K: V']...

Connection 1: full handshake, one GET PATH (Connection: close), answer read to
the end, so that TLS 1.3 session tickets sent after the handshake arrive.
Connection 2: offers connection 1's session; connection 3 offers the session
connection 2 ended with. Prints one JSON line: {"version", "cipher", "status",
"ticket", "resumed", "new_ticket_on_resumption", "third_resumed"}.
new_ticket_on_resumption tells whether the server sent a fresh ticket on the
resumed connection 2 (clients that use a ticket only once, as browsers and wrk
do, need one to resume again). Python stdlib only.
"""
import argparse
import json
import socket
import ssl


def fetch(ctx, host, port, path, headers, session=None):
    raw = socket.create_connection((host, port), timeout=10)
    s = ctx.wrap_socket(raw, server_hostname="localhost", session=session)
    version, cipher = s.version(), s.cipher()[0]
    hdrs = "".join(h + "\r\n" for h in headers)
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{hdrs}Connection: close\r\n\r\n".encode())
    data = b""
    while True:
        try:
            chunk = s.recv(65536)
        except (ssl.SSLError, OSError):
            break
        if not chunk:
            break
        data += chunk
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0
    out = (version, cipher, status, s.session, s.session_reused)
    s.close()
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("path")
    ap.add_argument("--header", action="append", default=[])
    a = ap.parse_args()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    version, cipher, status, session, _ = fetch(ctx, a.host, a.port, a.path, a.header)
    resumed = third = fresh = False
    if session is not None:
        _, _, _, session2, resumed = fetch(ctx, a.host, a.port, a.path, a.header, session)
        fresh = session2 is not None and session2.id != session.id
        if session2 is not None:
            third = fetch(ctx, a.host, a.port, a.path, a.header, session2)[4]
    print(json.dumps({"version": version, "cipher": cipher, "status": status,
                      "ticket": session is not None and session.has_ticket, "resumed": resumed,
                      "new_ticket_on_resumption": fresh, "third_resumed": third}))


if __name__ == "__main__":
    main()
