#!/usr/bin/env python3
"""Echo server and round-trip meter for the farhand lab (standard library only).

  rtt.py serve [--port 7]                      TCP + UDP echo on 0.0.0.0:PORT (foreground)
  rtt.py tcp HOST PORT [-n 20] [--gap 0.1]     request->reply times over ONE connection
  rtt.py udp HOST PORT [-n 20] [--gap 0.1]     the same with datagrams
  rtt.py tcp|udp HOST PORT --pipeline [-n 20] [--gap 0.005]
                                               send every GAP without waiting for replies; each
                                               reply's delay from its own send (a relay that
                                               serialises its holds makes these grow; over TCP,
                                               end to end, so does a congestion window smaller
                                               than the messages in flight)

The meters print one line: median, min, max in milliseconds and the sample count
(`--json` for a JSON object with every sample).
"""

import argparse
import json
import socket
import socketserver
import statistics
import sys
import threading
import time

PAYLOAD = b"farhand-lab-ping-%06d\n"


class TcpEcho(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while True:
            data = self.request.recv(65536)
            if not data:
                return
            self.request.sendall(data)


class UdpEcho(socketserver.BaseRequestHandler):
    def handle(self):
        data, sock = self.request
        sock.sendto(data, self.client_address)


class ThreadingTcp(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    request_queue_size = 1024
    daemon_threads = True


def serve(port):
    tcp = ThreadingTcp(("0.0.0.0", port), TcpEcho)
    udp = socketserver.UDPServer(("0.0.0.0", port), UdpEcho)
    threading.Thread(target=udp.serve_forever, daemon=True).start()
    print(f"rtt.py: echo on tcp+udp 0.0.0.0:{port}", flush=True)
    try:
        tcp.serve_forever()
    except KeyboardInterrupt:
        pass


def report(samples, as_json):
    ms = [s * 1000.0 for s in samples]
    if as_json:
        print(json.dumps({"median_ms": statistics.median(ms), "samples_ms": ms}))
    else:
        print(f"median {statistics.median(ms):.2f} ms  min {min(ms):.2f}  max {max(ms):.2f}  n={len(ms)}")


def tcp_meter(host, port, n, gap, as_json):
    s = socket.create_connection((host, port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    samples = []
    for i in range(n + 1):  # the first exchange warms up and is not counted
        msg = PAYLOAD % i
        t0 = time.perf_counter()
        s.sendall(msg)
        got = b""
        while len(got) < len(msg):
            chunk = s.recv(65536)
            if not chunk:
                sys.exit("rtt.py: connection closed early")
            got += chunk
        dt = time.perf_counter() - t0
        if got != msg:
            sys.exit(f"rtt.py: echo mismatch: {got!r}")
        if i:
            samples.append(dt)
        time.sleep(gap)
    s.shutdown(socket.SHUT_WR)
    if s.recv(1) != b"":
        sys.exit("rtt.py: expected EOF after half-close")
    s.close()
    report(samples, as_json)


def tcp_pipeline(host, port, n, gap, as_json):
    s = socket.create_connection((host, port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sent = {}

    def sender():
        for i in range(n):
            sent[i] = time.perf_counter()
            s.sendall(PAYLOAD % i)
            time.sleep(gap)

    t = threading.Thread(target=sender)
    t.start()
    samples, buf = [], b""
    while len(samples) < n:
        chunk = s.recv(65536)
        if not chunk:
            sys.exit("rtt.py: connection closed early")
        now = time.perf_counter()
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            i = int(line.rsplit(b"-", 1)[1])
            samples.append(now - sent[i])
    t.join()
    s.close()
    report(samples, as_json)


def udp_pipeline(host, port, n, gap, as_json):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((host, port))
    s.settimeout(5)
    sent = {}

    def sender():
        for i in range(n):
            sent[i] = time.perf_counter()
            s.send(PAYLOAD % i)
            time.sleep(gap)

    t = threading.Thread(target=sender)
    t.start()
    samples = []
    while len(samples) < n:
        got = s.recv(65536)
        now = time.perf_counter()
        samples.append(now - sent[int(got.strip().rsplit(b"-", 1)[1])])
    t.join()
    report(samples, as_json)


def udp_meter(host, port, n, gap, as_json):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((host, port))
    s.settimeout(5)
    samples = []
    for i in range(n + 1):
        msg = PAYLOAD % i
        t0 = time.perf_counter()
        s.send(msg)
        got = s.recv(65536)
        dt = time.perf_counter() - t0
        if got != msg:
            sys.exit(f"rtt.py: echo mismatch: {got!r}")
        if i:
            samples.append(dt)
        time.sleep(gap)
    report(samples, as_json)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    sv = sub.add_parser("serve")
    sv.add_argument("--port", type=int, default=7)
    for name in ("tcp", "udp"):
        m = sub.add_parser(name)
        m.add_argument("host")
        m.add_argument("port", type=int)
        m.add_argument("-n", type=int, default=20)
        m.add_argument("--gap", type=float, default=0.1)
        m.add_argument("--json", action="store_true")
        m.add_argument("--pipeline", action="store_true")
    a = p.parse_args()
    if a.cmd == "serve":
        serve(a.port)
    elif a.cmd == "tcp" and a.pipeline:
        tcp_pipeline(a.host, a.port, a.n, a.gap, a.json)
    elif a.cmd == "tcp":
        tcp_meter(a.host, a.port, a.n, a.gap, a.json)
    elif a.pipeline:
        udp_pipeline(a.host, a.port, a.n, a.gap, a.json)
    else:
        udp_meter(a.host, a.port, a.n, a.gap, a.json)


if __name__ == "__main__":
    main()
