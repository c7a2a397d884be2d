#!/usr/bin/env python3
"""Send ICMP echo requests whose payloads are whole IPv4 packets (as an IP-over-ICMP tunnel
client does), from a raw socket, for farhand's precision cases (scripts/record-precision.sh).

Usage: icmp_echo.py DST IDENT COUNT [INTERVAL]
  COUNT 1: one request whose payload is a 28-byte IPv4/UDP packet (a crafted probe).
  COUNT n: n requests with the same identifier carrying IPv4/UDP packets of varying sizes
           (tunnelled traffic).
The echo replies (if any) are left to the capture; this program does not wait for them.
"""
import socket
import struct
import sys
import time


def checksum(b):
    if len(b) % 2:
        b += b"\x00"
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def inner_packet(i, data_len):
    """An IPv4 packet 10.99.0.1 -> 10.99.0.2 carrying a UDP datagram of data_len bytes."""
    data = bytes((i + k) & 0xFF for k in range(data_len))
    udp = struct.pack("!HHHH", 40000 + i, 53, 8 + data_len, 0) + data
    total = 20 + len(udp)
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, 0x1000 + i, 0x4000, 64, 17, 0,
                      bytes([10, 99, 0, 1]), bytes([10, 99, 0, 2]))
    hdr = hdr[:10] + struct.pack("!H", checksum(hdr)) + hdr[12:]
    return hdr + udp


def echo_request(ident, seq, payload):
    head = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
    c = checksum(head + payload)
    return struct.pack("!BBHHH", 8, 0, c, ident, seq) + payload


def main():
    if len(sys.argv) not in (4, 5):
        sys.exit(__doc__)
    dst, ident, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    interval = float(sys.argv[4]) if len(sys.argv) == 5 else 0.2
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    sizes = [0] if count == 1 else [(i * 47) % 400 for i in range(count)]
    for seq, n in enumerate(sizes, start=1):
        s.sendto(echo_request(ident, seq, inner_packet(seq, n)), (dst, 0))
        time.sleep(interval)


if __name__ == "__main__":
    main()
