#!/usr/bin/env python3
"""benches/flood.py -- a random 5-tuple flood around real remote-control sessions, for the
flow-table benchmarks (BENCHMARKS.md, "Flood").

Writes a classic pcap (Ethernet, microseconds) holding every frame of a base capture (by
default the demo's SSH, VNC and RDP sessions) with N flood packets spread evenly over the same
time span, merged in time order. Each flood packet opens a flow of its own: a random inside
address (10.0.0.0/8) and port to a random outside address (198.18.0.0/15) and port, half of
them TCP SYNs (54 bytes) and half UDP datagrams with a 32-byte payload (74 bytes), in a random
order. The IP checksums are left zero (farhand does not verify them). The same seed writes
the same file.

What a run over it must show: the base capture's alerts unchanged (the sessions survive the
flood), the flows created and evicted in the summary, and the packet rate.

Usage: benches/flood.py [--packets 10000000] [--base tests/cases/demo/input.pcap]
                        [--seed 1] [--udp-share 0.5] OUT.pcap
"""

import argparse
import random
import struct
import sys

ETH_IP = bytes.fromhex("020000000002" "020000000001" "0800")


def read_pcap(path):
    """The records of a classic pcap file: (ts_us, data, orig_len)."""
    with open(path, "rb") as f:
        raw = f.read()
    magic = raw[:4]
    if magic == b"\xd4\xc3\xb2\xa1":
        end, nanos = "<", False
    elif magic == b"\xa1\xb2\xc3\xd4":
        end, nanos = ">", False
    elif magic == b"\x4d\x3c\xb2\xa1":
        end, nanos = "<", True
    elif magic == b"\xa1\xb2\x3c\x4d":
        end, nanos = ">", True
    else:
        sys.exit(f"flood.py: {path}: not a classic pcap file")
    if struct.unpack(end + "I", raw[20:24])[0] & 0xFFFF != 1:
        sys.exit(f"flood.py: {path}: the base capture must be Ethernet")
    out, at = [], 24
    while at + 16 <= len(raw):
        sec, frac, cap, orig = struct.unpack(end + "IIII", raw[at : at + 16])
        data = raw[at + 16 : at + 16 + cap]
        if len(data) < cap:
            break
        out.append((sec * 1_000_000 + (frac // 1000 if nanos else frac), data, orig))
        at += 16 + cap
    return out


def flood_packet(rng, udp):
    """One flood frame: a fresh random 5-tuple."""
    src = bytes([10, rng.randrange(256), rng.randrange(256), rng.randrange(1, 255)])
    dst = bytes([198, 18 + rng.randrange(2), rng.randrange(256), rng.randrange(1, 255)])
    sport, dport = rng.randrange(1024, 65536), rng.randrange(1, 65536)
    if udp:
        payload = rng.randbytes(32)
        l4 = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
        proto = 17
    else:
        l4 = struct.pack("!HHIIBBHHH", sport, dport, rng.getrandbits(32), 0, 5 << 4, 0x02, 64240, 0, 0)
        proto = 6
    ip = struct.pack("!BBHHHBBH", 0x45, 0, 20 + len(l4), rng.getrandbits(16), 0x4000, 64, proto, 0)
    return ETH_IP + ip + src + dst + l4


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out")
    ap.add_argument("--packets", type=int, default=10_000_000)
    ap.add_argument("--base", default="tests/cases/demo/input.pcap")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--udp-share", type=float, default=0.5)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    base = read_pcap(a.base)
    if not base:
        sys.exit(f"flood.py: {a.base}: no frames")
    first, last = base[0][0], base[-1][0]
    span = max(last - first, 1)
    step = span / max(a.packets, 1)
    bi = 0
    with open(a.out, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        buf = bytearray()
        for i in range(a.packets):
            ts = first + int(i * step)
            while bi < len(base) and base[bi][0] <= ts:
                bts, data, orig = base[bi]
                buf += struct.pack("<IIII", bts // 1_000_000, bts % 1_000_000, len(data), orig) + data
                bi += 1
            pkt = flood_packet(rng, rng.random() < a.udp_share)
            buf += struct.pack("<IIII", ts // 1_000_000, ts % 1_000_000, len(pkt), len(pkt)) + pkt
            if len(buf) >= 1 << 22:
                f.write(buf)
                buf.clear()
            if i and i % 1_000_000 == 0:
                print(f"flood.py: {i:,} packets", file=sys.stderr)
        for bts, data, orig in base[bi:]:
            buf += struct.pack("<IIII", bts // 1_000_000, bts % 1_000_000, len(data), orig) + data
        f.write(buf)
    print(f"flood.py: wrote {a.out}: {len(base):,} base frames and {a.packets:,} flood packets", file=sys.stderr)


if __name__ == "__main__":
    main()
