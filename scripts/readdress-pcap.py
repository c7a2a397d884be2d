#!/usr/bin/env python3
"""readdress-pcap.py IN OUT OLD=NEW [OLD=NEW ...] -- rewrite IPv4 addresses in a pcap.

Replaces each OLD address by NEW wherever it is the source or destination of an IPv4
packet (Ethernet, optionally one 802.1Q tag), in the payload of ARP frames, and in DNS
A-record answers carried over UDP; fixes the IPv4 header checksum and the TCP/UDP
checksums (recomputed whole). Timestamps, lengths and every other byte are kept, so the
timing a capture was recorded with survives. Classic pcap (either byte order) only.

Used for the demo capture: recorded between namespaces with a documentation address for
the controller (scripts/record-demo.sh), then moved to a public one so that enrichment
and the from-abroad verdict have something to say.
"""
import ipaddress
import struct
import sys


def csum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def rewrite_ipv4(pkt: bytearray, off: int, mapping: dict) -> None:
    ihl = (pkt[off] & 0x0F) * 4
    if len(pkt) < off + ihl or ihl < 20:
        return
    src, dst = bytes(pkt[off + 12:off + 16]), bytes(pkt[off + 16:off + 20])
    new_src, new_dst = mapping.get(src, src), mapping.get(dst, dst)
    proto = pkt[off + 9]
    total = struct.unpack("!H", pkt[off + 2:off + 4])[0]
    end = min(len(pkt), off + total)
    l4 = off + ihl
    changed = False
    # DNS answers naming an old address (A records), in UDP payloads.
    if proto == 17 and end - l4 >= 8:
        for old, new in mapping.items():
            i = pkt.find(b"\x00\x01\x00\x01", l4 + 8, end)
            while i != -1:
                rd = i + 8
                if rd + 6 <= end and pkt[rd:rd + 2] == b"\x00\x04" and bytes(pkt[rd + 2:rd + 6]) == old:
                    pkt[rd + 2:rd + 6] = new
                    changed = True
                i = pkt.find(b"\x00\x01\x00\x01", i + 1, end)
    if (new_src, new_dst) == (src, dst) and not changed:
        return
    pkt[off + 12:off + 16], pkt[off + 16:off + 20] = new_src, new_dst
    pkt[off + 10:off + 12] = b"\0\0"
    pkt[off + 10:off + 12] = struct.pack("!H", csum(bytes(pkt[off:off + ihl])))
    frag = struct.unpack("!H", pkt[off + 6:off + 8])[0]
    if frag & 0x1FFF:
        return  # a later fragment has no L4 header
    seg_len = total - ihl
    if end - l4 < seg_len:
        return  # truncated by the snap length: leave the L4 checksum as it was
    pseudo = new_src + new_dst + struct.pack("!BBH", 0, proto, seg_len)
    if proto == 6 and seg_len >= 20:
        pkt[l4 + 16:l4 + 18] = b"\0\0"
        pkt[l4 + 16:l4 + 18] = struct.pack("!H", csum(pseudo + bytes(pkt[l4:end])))
    elif proto == 17 and seg_len >= 8 and pkt[l4 + 6:l4 + 8] != b"\0\0":
        pkt[l4 + 6:l4 + 8] = b"\0\0"
        c = csum(pseudo + bytes(pkt[l4:end])) or 0xFFFF
        pkt[l4 + 6:l4 + 8] = struct.pack("!H", c)


def rewrite_frame(pkt: bytearray, mapping: dict) -> None:
    off = 12
    ethertype = struct.unpack("!H", pkt[off:off + 2])[0] if len(pkt) >= 14 else 0
    if ethertype == 0x8100 and len(pkt) >= 18:
        off += 4
        ethertype = struct.unpack("!H", pkt[off:off + 2])[0]
    off += 2
    if ethertype == 0x0800 and len(pkt) >= off + 20:
        rewrite_ipv4(pkt, off, mapping)
    elif ethertype == 0x0806 and len(pkt) >= off + 28:
        for a in (off + 14, off + 24):
            old = bytes(pkt[a:a + 4])
            if old in mapping:
                pkt[a:a + 4] = mapping[old]


def main() -> int:
    if len(sys.argv) < 4:
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        return 2
    src, dst = sys.argv[1], sys.argv[2]
    mapping = {}
    for pair in sys.argv[3:]:
        old, _, new = pair.partition("=")
        mapping[ipaddress.IPv4Address(old).packed] = ipaddress.IPv4Address(new).packed
    data = open(src, "rb").read()
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        print(f"{src}: not a classic pcap file", file=sys.stderr)
        return 1
    if struct.unpack(e + "I", data[20:24])[0] != 1:
        print(f"{src}: only Ethernet captures are rewritten", file=sys.stderr)
        return 1
    out = bytearray(data[:24])
    pos = 24
    while pos + 16 <= len(data):
        ts, tu, incl, orig = struct.unpack(e + "IIII", data[pos:pos + 16])
        frame = bytearray(data[pos + 16:pos + 16 + incl])
        rewrite_frame(frame, mapping)
        out += data[pos:pos + 16] + frame
        pos += 16 + incl
    open(dst, "wb").write(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
