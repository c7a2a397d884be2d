#!/usr/bin/env python3
"""merge-pcap.py [--mac OLD=NEW ...] OUT FIRST.pcap OTHER.pcap@SECONDS [...] -- merge pcaps.

Writes one classic pcap (microsecond timestamps, the byte order and link type of FIRST)
holding every packet record of the inputs, sorted by time (stable: records with equal
times keep input order). FIRST keeps its timestamps; each OTHER is moved in time so that
its first record lies SECONDS after FIRST's first record (a decimal, may be negative), and
keeps its own spacing. `--mac OLD=NEW` replaces an Ethernet address (aa:bb:cc:dd:ee:ff) in
the destination and source fields of every frame and in the sender and target hardware
fields of ARP payloads, so that captures recorded with different MACs can show one host.
Everything else in a record (lengths, bytes) is kept.

Classic pcap only (either byte order, micro- or nanosecond timestamps), link type Ethernet
(1) for every input: anything else stops with one error line.

Used for tests/cases/abroad-vpn-and-control: a WireGuard capture moved onto the demo
laptop's addresses with scripts/readdress-pcap.py, then merged into the demo capture.
"""
import struct
import sys

MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", 1_000_000),
    b"\xa1\xb2\xc3\xd4": (">", 1_000_000),
    b"\x4d\x3c\xb2\xa1": ("<", 1_000_000_000),
    b"\xa1\xb2\x3c\x4d": (">", 1_000_000_000),
}
LINKTYPE_ETHERNET = 1


def fail(msg: str) -> None:
    sys.stderr.write(f"merge-pcap.py: {msg}\n")
    sys.exit(1)


def mac(text: str) -> bytes:
    parts = text.split(":")
    if len(parts) != 6:
        fail(f"{text!r} is not a MAC address (aa:bb:cc:dd:ee:ff)")
    try:
        return bytes(int(p, 16) for p in parts)
    except ValueError:
        fail(f"{text!r} is not a MAC address (aa:bb:cc:dd:ee:ff)")
    return b""


def read(path: str):
    """(byte order, snaplen, [(time in µs, orig_len, data)]) of a classic Ethernet pcap."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        fail(f"{path}: {e.strerror}")
    if len(raw) < 24 or raw[:4] not in MAGICS:
        fail(f"{path}: not a classic pcap file")
    order, per_second = MAGICS[raw[:4]]
    snaplen, link = struct.unpack(order + "II", raw[16:24])
    if link != LINKTYPE_ETHERNET:
        fail(f"{path}: link type {link}, only Ethernet (1) is supported")
    recs = []
    off = 24
    while off < len(raw):
        if off + 16 > len(raw):
            fail(f"{path}: truncated record header at byte {off}")
        sec, frac, incl, orig = struct.unpack(order + "IIII", raw[off:off + 16])
        data = raw[off + 16:off + 16 + incl]
        if len(data) != incl:
            fail(f"{path}: truncated record at byte {off}")
        us = sec * 1_000_000 + frac * 1_000_000 // per_second
        recs.append((us, orig, bytearray(data)))
        off += 16 + incl
    if not recs:
        fail(f"{path}: no packets")
    return order, snaplen, recs


def remac(frame: bytearray, mapping: dict) -> None:
    for start in (0, 6):
        old = bytes(frame[start:start + 6])
        if old in mapping:
            frame[start:start + 6] = mapping[old]
    # ARP over Ethernet/IPv4 (optionally behind one 802.1Q tag): sender and target MACs.
    eth = 14
    ethertype = struct.unpack("!H", frame[12:14])[0] if len(frame) >= 14 else 0
    if ethertype == 0x8100 and len(frame) >= 18:
        ethertype = struct.unpack("!H", frame[16:18])[0]
        eth = 18
    if ethertype == 0x0806 and len(frame) >= eth + 28:
        for start in (eth + 8, eth + 18):
            old = bytes(frame[start:start + 6])
            if old in mapping:
                frame[start:start + 6] = mapping[old]


def main(argv: list) -> None:
    mapping = {}
    args = []
    i = 0
    while i < len(argv):
        if argv[i] == "--mac":
            if i + 1 >= len(argv) or "=" not in argv[i + 1]:
                fail("--mac needs OLD=NEW")
            old, new = argv[i + 1].split("=", 1)
            mapping[mac(old)] = mac(new)
            i += 2
        else:
            args.append(argv[i])
            i += 1
    if len(args) < 3:
        fail("usage: merge-pcap.py [--mac OLD=NEW ...] OUT FIRST.pcap OTHER.pcap@SECONDS [...]")
    out, first, others = args[0], args[1], args[2:]
    order, snaplen, base = read(first)
    t0 = base[0][0]
    merged = [(t, 0, n, o, d) for n, (t, o, d) in enumerate(base)]
    for k, spec in enumerate(others, start=1):
        path, sep, secs = spec.rpartition("@")
        if not sep:
            fail(f"{spec}: give the offset as FILE@SECONDS")
        try:
            offset_us = round(float(secs) * 1_000_000)
        except ValueError:
            fail(f"{spec}: {secs!r} is not a number of seconds")
        _, other_snap, recs = read(path)
        snaplen = max(snaplen, other_snap)
        shift = t0 + offset_us - recs[0][0]
        merged += [(t + shift, k, n, o, d) for n, (t, o, d) in enumerate(recs)]
    merged.sort(key=lambda r: (r[0], r[1], r[2]))
    if merged[0][0] < 0:
        fail("an offset moves a record before 1970")
    with open(out, "wb") as f:
        f.write(struct.pack(order + "IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, LINKTYPE_ETHERNET))
        for t, _, _, orig, data in merged:
            remac(data, mapping)
            f.write(struct.pack(order + "IIII", t // 1_000_000, t % 1_000_000, len(data), orig))
            f.write(data)


if __name__ == "__main__":
    main(sys.argv[1:])
