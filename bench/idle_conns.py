#!/usr/bin/env python3
"""Hold N idle connections to a server, for bench/run's memory-per-connection figure.

  bench/idle_conns.py HOST PORT -n N [--tls] [--get PATH] [--header 'K: V']...
                      [--ready FILE] [--release FILE] [--max-hold SECONDS]

Opens N connections (64 at a time), each a TCP connect plus, with --tls, a full
TLS handshake (certificates are not verified: loopback benchmark). With --get,
each connection then sends one HTTP/1.1 keep-alive GET and reads the whole
answer. The connections then stay open, idle, until the file --release exists
(or --max-hold seconds pass). When all N attempts are done, one JSON line
({"ok": ..., "failed": ..., ...}) goes to stdout and, atomically, to --ready.
Python standard library only.
"""
import argparse
import asyncio
import json
import os
import resource
import ssl
import sys
import time


async def read_answer(reader):
    """Reads one HTTP/1.1 answer with Content-Length or chunked body; returns the status."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length, chunked = 0, False
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "transfer-encoding" and "chunked" in value.lower():
            chunked = True
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length:
        await reader.readexactly(length)
    return status


async def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("-n", type=int, required=True)
    ap.add_argument("--tls", action="store_true")
    ap.add_argument("--get", metavar="PATH")
    ap.add_argument("--header", action="append", default=[])
    ap.add_argument("--ready")
    ap.add_argument("--release")
    ap.add_argument("--max-hold", type=float, default=300.0)
    a = ap.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = a.n + 100
    if soft != resource.RLIM_INFINITY and soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(need, hard), hard))

    ctx = None
    if a.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    request = None
    if a.get:
        hdrs = "".join(h + "\r\n" for h in a.header)
        request = f"GET {a.get} HTTP/1.1\r\nHost: {a.host}\r\n{hdrs}\r\n".encode()

    held, failures, statuses = [], {}, {}
    gate = asyncio.Semaphore(64)

    async def open_one():
        async with gate:
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(a.host, a.port, ssl=ctx,
                                            server_hostname="localhost" if ctx else None), 30)
                if request:
                    writer.write(request)
                    await writer.drain()
                    st = await asyncio.wait_for(read_answer(reader), 30)
                    statuses[st] = statuses.get(st, 0) + 1
                held.append(writer)
            except Exception as e:  # counted, not fatal
                k = type(e).__name__
                failures[k] = failures.get(k, 0) + 1

    t0 = time.monotonic()
    await asyncio.gather(*(open_one() for _ in range(a.n)))
    info = {"ok": len(held), "failed": sum(failures.values()), "failures": failures,
            "http_status": {str(k): v for k, v in statuses.items()},
            "seconds_to_open": round(time.monotonic() - t0, 2)}
    if held and ctx:
        so = held[0].get_extra_info("ssl_object")
        info["tls"] = [so.version(), so.cipher()[0]]
    line = json.dumps(info)
    print(line, flush=True)
    if a.ready:
        with open(a.ready + ".part", "w") as f:
            f.write(line + "\n")
        os.replace(a.ready + ".part", a.ready)

    end = time.monotonic() + a.max_hold
    while time.monotonic() < end and not (a.release and os.path.exists(a.release)):
        await asyncio.sleep(0.1)
    for w in held:
        w.close()
    await asyncio.gather(*(asyncio.wait_for(w.wait_closed(), 5) for w in held), return_exceptions=True)
    return 0 if info["failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
