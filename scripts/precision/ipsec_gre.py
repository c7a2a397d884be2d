#!/usr/bin/env python3
"""ESP, ESP over UDP and PPTP's enhanced GRE, built from their RFCs and sent from raw
sockets, for farhand's cases of tunnels seen without their key exchange or control
connection (scripts/record-precision.sh). This machine's kernel has no ESP, AH or PPP
support, so the packets are made here — with real cryptography where the protocol has it.

  esp      RFC 4303 tunnel mode: SPI, sequence number, then AES-128-CBC (RFC 3602) over the
           inner IPv4 packet with the RFC 4303 trailer (padding 1, 2, 3..., pad length, next
           header 4), and a 16-byte HMAC-SHA-256 ICV (RFC 4868) over SPI..ciphertext.
  esp-udp  the same ESP packets in UDP from and to port 4500 (RFC 3948).
  ah       RFC 4302 tunnel mode: the AH header (next header 4, payload length, SPI, sequence
           number) and a 16-byte HMAC-SHA-256 ICV (RFC 4868) computed over the outer IPv4
           header with its mutable fields zeroed, the AH header with a zero ICV, and the inner
           IPv4 packet — so the outer header is built here too (IP_HDRINCL).
  gre      PPTP's data channel (RFC 2637 §4.1): enhanced GRE (K and S set, version 1,
           protocol 0x880B, payload length and the peer's call id in the key, sequence and
           acknowledgment numbers) carrying PPP frames (RFC 1661): LCP Configure-Request
           and -Ack both ways, then IPCP (RFC 1332) and a few IPv4 packets.

Usage: ipsec_gre.py serve esp|esp-udp|ah|gre LOCAL_ADDR   (answers until killed)
       ipsec_gre.py send  esp|esp-udp|ah|gre LOCAL_ADDR PEER_ADDR COUNT
"""
import hashlib
import hmac
import os
import socket
import struct
import sys
import time

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from icmp_echo import checksum

ENC_KEY = bytes(range(16))            # lab keys: the point is the wire format
AUTH_KEY = bytes(range(32, 64))
NAT_T = 4500


def inner_ping(i, src, dst, size):
    """An IPv4 ICMP echo request src -> dst (inner addresses)."""
    icmp = struct.pack("!BBHHH", 8, 0, 0, 0x77, i) + bytes(size)
    icmp = icmp[:2] + struct.pack("!H", checksum(icmp)) + icmp[4:]
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(icmp), i, 0x4000, 64, 1, 0,
                      socket.inet_aton(src), socket.inet_aton(dst))
    return hdr[:10] + struct.pack("!H", checksum(hdr)) + hdr[12:] + icmp


def esp_packet(spi, seq, inner):
    pad = (-(len(inner) + 2)) % 16
    plain = inner + bytes(range(1, pad + 1)) + bytes([pad, 4])
    iv = os.urandom(16)
    enc = Cipher(algorithms.AES(ENC_KEY), modes.CBC(iv)).encryptor()
    body = struct.pack("!II", spi, seq) + iv + enc.update(plain) + enc.finalize()
    return body + hmac.new(AUTH_KEY, body, hashlib.sha256).digest()[:16]


def ah_packet(src, dst, spi, seq, inner):
    """A whole IPv4 packet src -> dst carrying AH (protocol 51) in tunnel mode around inner."""
    icv_len = 16
    ah_len = 12 + icv_len                                   # a multiple of 4 bytes for IPv4
    total = 20 + ah_len + len(inner)
    ident = (seq * 7919) & 0xFFFF

    def outer(ttl, csum):
        return struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, ident, 0x4000 if ttl else 0, ttl, 51, csum,
                           socket.inet_aton(src), socket.inet_aton(dst))

    def ah(icv):
        return struct.pack("!BBHII", 4, ah_len // 4 - 2, 0, spi, seq) + icv

    # RFC 4302 §3.3.3: TOS, flags and fragment offset, TTL and checksum are zero for the ICV.
    icv = hmac.new(AUTH_KEY, outer(0, 0) + ah(bytes(icv_len)) + inner, hashlib.sha256).digest()[:icv_len]
    hdr = outer(64, 0)
    hdr = hdr[:10] + struct.pack("!H", checksum(hdr)) + hdr[12:]
    return hdr + ah(icv) + inner


def gre_packet(call_id, seq, ack, ppp):
    flags, ver = 0x30, 0x01 | (0x80 if ack is not None else 0)
    head = struct.pack("!BBHHH", flags, ver, 0x880B, len(ppp), call_id) + struct.pack("!I", seq)
    if ack is not None:
        head += struct.pack("!I", ack)
    return head + ppp


def lcp(code, ident, options):
    return b"\xff\x03\xc0\x21" + struct.pack("!BBH", code, ident, 4 + len(options)) + options


def ipcp(code, ident, addr):
    opt = b"\x03\x06" + socket.inet_aton(addr)
    return b"\xff\x03\x80\x21" + struct.pack("!BBH", code, ident, 4 + len(opt)) + opt


def ppp_ip(pkt):
    return b"\xff\x03\x00\x21" + pkt


def sock(kind, local):
    if kind == "esp-udp":
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((local, NAT_T))
        return s
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, {"esp": 50, "ah": 51}.get(kind, 47))
    if kind == "ah":
        s.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)   # the ICV covers the outer header
    s.bind((local, 0))
    return s


def payload_of(kind, data):
    # Raw sockets deliver the IP header too.
    return data if kind == "esp-udp" else data[(data[0] & 0x0F) * 4:]


def send(s, kind, peer, b):
    s.sendto(b, (peer, NAT_T if kind == "esp-udp" else 0))


def serve(kind, local):
    s = sock(kind, local)
    spi, seq, my_call, gre_seq = 0xC7F211A0, 0, 0x8000, 0
    while True:
        data, (peer, _) = s.recvfrom(65535)
        p = payload_of(kind, data)
        if kind == "ah":
            if len(p) < 12:
                continue
            seq += 1
            send(s, kind, peer, ah_packet(local, peer, 0xA7F211A0, seq, inner_ping(seq, "10.99.0.2", "10.99.0.1", 24)))
            continue
        if kind in ("esp", "esp-udp"):
            if len(p) < 8 or p[:4] == b"\x00\x00\x00\x00" or p == b"\xff":
                continue
            seq += 1
            send(s, kind, peer, esp_packet(spi, seq, inner_ping(seq, "10.99.0.2", "10.99.0.1", 24)))
        else:
            if len(p) < 12 or p[1] & 0x07 != 1:
                continue
            (their_seq,) = struct.unpack("!I", p[8:12])
            ppp = p[16:] if p[1] & 0x80 else p[12:]
            if ppp[2:4] == b"\xc0\x21" and ppp[4] == 1:      # LCP Configure-Request -> Ack
                reply = lcp(2, ppp[5], ppp[8:])
            elif ppp[2:4] == b"\x80\x21" and ppp[4] == 1:    # IPCP Configure-Request -> Ack
                reply = ipcp(2, ppp[5], socket.inet_ntoa(ppp[10:14]))
            else:                                            # IPv4: an answer of our own
                reply = ppp_ip(inner_ping(their_seq, "10.99.0.2", "10.99.0.1", 16))
            gre_seq += 1
            send(s, kind, peer, gre_packet(my_call, gre_seq, their_seq, reply))


def client(kind, local, peer, count):
    s = sock(kind, local)
    if kind == "ah":
        for seq in range(1, count + 1):
            send(s, kind, peer, ah_packet(local, peer, 0xA15E0007, seq, inner_ping(seq, "10.99.0.1", "10.99.0.2", 8 * seq)))
            time.sleep(0.2)
        return
    if kind in ("esp", "esp-udp"):
        for seq in range(1, count + 1):
            send(s, kind, peer, esp_packet(0xC15E0007, seq, inner_ping(seq, "10.99.0.1", "10.99.0.2", 8 * seq)))
            time.sleep(0.2)
        return
    frames = [lcp(1, 1, b"\x01\x04\x05\x78\x05\x06\x1f\x2e\x3d\x4c"),
              ipcp(1, 2, "10.99.0.1")]
    frames += [ppp_ip(inner_ping(i, "10.99.0.1", "10.99.0.2", 8 * i)) for i in range(1, count + 1)]
    for seq, f in enumerate(frames, start=1):
        send(s, kind, peer, gre_packet(0x4002, seq, None, f))
        time.sleep(0.2)


if __name__ == "__main__":
    a = sys.argv[1:]
    if len(a) == 3 and a[0] == "serve" and a[1] in ("esp", "esp-udp", "ah", "gre"):
        serve(a[1], a[2])
    elif len(a) == 5 and a[0] == "send" and a[1] in ("esp", "esp-udp", "ah", "gre"):
        client(a[1], a[2], a[3], int(a[4]))
    else:
        sys.exit(__doc__)
