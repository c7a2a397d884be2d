#!/usr/bin/env python3
"""HTTP CONNECT requests through a proxy, for farhand's precision cases
(scripts/record-precision.sh).

Usage: connect.py PROXY_ADDR PROXY_PORT KIND [TARGET]
  no-target   "CONNECT / HTTP/1.1": no host:port (a proxy answers 400)
  no-port     "CONNECT TARGET-host HTTP/1.1": a host without a port (400)
  refused     "CONNECT TARGET HTTP/1.1" to a port the proxy does not allow (403)
  malformed   "CONNECT TARGET HTTP/1.1" with one header line that has no colon; when the proxy
              answers 2xx, a TLS handshake and one HTTP request go through the tunnel
Prints the proxy's status line.
"""
import socket
import ssl
import sys


def main():
    if len(sys.argv) not in (4, 5):
        sys.exit(__doc__)
    addr, port, kind = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    target = sys.argv[4] if len(sys.argv) == 5 else "203.0.113.42:443"
    host = target.rsplit(":", 1)[0]
    lines = {
        "no-target": ["CONNECT / HTTP/1.1", f"Host: {host}"],
        "no-port": [f"CONNECT {host} HTTP/1.1", f"Host: {host}"],
        "refused": [f"CONNECT {target} HTTP/1.1", f"Host: {target}"],
        "malformed": [f"CONNECT {target} HTTP/1.1", f"Host: {target}", "X-Lab-Note tunnel test",
                      "User-Agent: fhp-connect/1"],
    }[kind]
    s = socket.create_connection((addr, port), timeout=5)
    s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            break
        head += chunk
    status = head.split(b"\r\n", 1)[0].decode(errors="replace")
    print(status)
    if kind == "malformed" and status.split(" ")[1:2] and status.split(" ")[1].startswith("2"):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        t = ctx.wrap_socket(s, server_hostname="www.example.org")
        t.sendall(b"GET / HTTP/1.1\r\nHost: www.example.org\r\nConnection: close\r\n\r\n")
        while t.recv(4096):
            pass
        t.close()
    else:
        s.close()


if __name__ == "__main__":
    main()
