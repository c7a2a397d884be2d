#!/usr/bin/env python3
"""STUN dialects that real clients send, built from RFC 3489, RFC 5389 and MS-TURN, each from a
socket of its own (one flow each), to a real STUN/TURN server (coturn) — for farhand's case of
STUN flows judged by the weight of their valid messages (scripts/record-precision.sh).

  odd      an Allocate request with the magic cookie whose last attribute is not padded, so
           the length is no multiple of 4 (as WhatsApp's clients send)
  unknown  a zero-length message of a type no RFC defines first, then a valid Binding request
  classic  an RFC 3489 Binding request (no magic cookie, 128-bit transaction id)
  msturn   an MS-TURN Allocate request (classic header, MAGIC-COOKIE attribute 0x72C64BC6,
           MS-VERSION) as Microsoft Teams' clients send

Usage: stun_dialects.py SERVER_ADDR PORT odd|unknown|classic|msturn
Prints one line per datagram received back (length and message type).
"""
import os
import socket
import struct
import sys

COOKIE = 0x2112A442


def attr(kind, value, pad=True):
    a = struct.pack("!HH", kind, len(value)) + value
    return a + bytes((-len(value)) % 4) if pad else a


def message(mtype, body, tid=None, cookie=True):
    tid = tid or os.urandom(12 if cookie else 16)
    head = struct.pack("!HH", mtype, len(body))
    return head + (struct.pack("!I", COOKIE) if cookie else b"") + tid + body


def datagrams(kind):
    if kind == "odd":
        body = attr(0x0019, bytes([17, 0, 0, 0])) + attr(0x8022, b"WhApp", pad=False)
        return [message(0x0003, body)]
    if kind == "unknown":
        return [message(0x0F0F, b""), message(0x0001, b"")]
    if kind == "classic":
        return [message(0x0001, b"", cookie=False)]
    if kind == "msturn":
        body = attr(0x000F, struct.pack("!I", 0x72C64BC6)) + attr(0x8008, struct.pack("!I", 6))
        return [message(0x0003, body, cookie=False)]
    sys.exit(__doc__)


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    server, port, kind = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(1.0)
    for d in datagrams(kind):
        s.sendto(d, (server, port))
        try:
            data, _ = s.recvfrom(2048)
            print(f"{kind}: sent {len(d)} B type {d[0]:02x}{d[1]:02x}; got {len(data)} B type {data[0]:02x}{data[1]:02x}")
        except socket.timeout:
            print(f"{kind}: sent {len(d)} B type {d[0]:02x}{d[1]:02x}; no answer")


if __name__ == "__main__":
    main()
