#!/usr/bin/env python3
"""Writes the captures of the IP-KVM precision cases (tests/cases/own-pi-ordinary,
tests/cases/own-pikvm-named): real protocol bytes, composed here rather than recorded,
because the point of each capture is the device's hardware address and the name it gives
itself, which a namespace recording can only fake the same way.

Each capture is a small office segment 10.50.0.0/24: a laptop 10.50.0.10
(02:00:0a:32:00:0a), a router/DHCP server/resolver 10.50.0.1 (02:00:0a:32:00:01), and a
device whose MAC carries a Raspberry Pi OUI:

- own-pi-ordinary: b8:27:eb:4d:2a:11, DHCP host name "raspberrypi" (Raspberry Pi OS's default),
  address 10.50.0.20; it looks up pool.ntp.org and pings the laptop.
- own-pikvm-named: dc:a6:32:5e:71:02, DHCP host name "pikvm" (PiKVM's default), address
  10.50.0.30; it looks up files.pikvm.org (PiKVM's package repository, used by its updates)
  and pings the laptop.

Frames (Ethernet II, IPv4, valid IPv4 header checksums, UDP checksum 0 = none, allowed for
IPv4 by RFC 768): DHCPDISCOVER from 0.0.0.0:68 to 255.255.255.255:67 (RFC 2131/2132: BOOTP
header, chaddr = the device's MAC, magic cookie, options 53 = 1, 12 = host name, 55, 255),
DHCPOFFER back, an ARP request/reply, one DNS A query and its answer (RFC 1035), three ICMP
echo request/reply pairs (RFC 792). Timestamps start at 1741000000 (2025-03-03 11:06:40 UTC).

Usage: scripts/write-ip-kvm-cases.py [OUT_DIR]   (default: tests/cases)
"""

import os
import struct
import sys

T0 = 1741000000  # 2025-03-03 11:06:40 UTC
LAPTOP = ("02:00:0a:32:00:0a", "10.50.0.10")
ROUTER = ("02:00:0a:32:00:01", "10.50.0.1")
BROADCAST = "ff:ff:ff:ff:ff:ff"


def mac(s):
    return bytes(int(b, 16) for b in s.split(":"))


def ip(s):
    return bytes(int(b) for b in s.split("."))


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def ether(dst, src, ethertype, payload):
    return mac(dst) + mac(src) + struct.pack("!H", ethertype) + payload


def ipv4(src, dst, proto, payload, ident):
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, 0, 64, proto, 0, ip(src), ip(dst))
    hdr = hdr[:10] + struct.pack("!H", checksum(hdr)) + hdr[12:]
    return hdr + payload


def udp(sport, dport, payload):
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def icmp_echo(kind, ident, seq):
    body = struct.pack("!BBHHH", kind, 0, 0, ident, seq) + b"farhand-ip-kvm-case" * 2
    return body[:2] + struct.pack("!H", checksum(body)) + body[4:]


def dhcp(op, xid, chaddr, yiaddr, msg_type, host_name=None):
    bootp = struct.pack("!BBBBIHH4s4s4s4s", op, 1, 6, 0, xid, 0, 0x8000, b"\0" * 4, ip(yiaddr), b"\0" * 4, b"\0" * 4)
    bootp += mac(chaddr) + b"\0" * 10 + b"\0" * 64 + b"\0" * 128
    opts = bytes([99, 130, 83, 99, 53, 1, msg_type])
    if host_name:
        opts += bytes([12, len(host_name)]) + host_name.encode()
    if op == 1:
        opts += bytes([55, 4, 1, 3, 6, 12])
    else:
        opts += bytes([54, 4]) + ip(ROUTER[1]) + bytes([1, 4, 255, 255, 255, 0, 51, 4]) + struct.pack("!I", 3600)
    return bootp + opts + bytes([255])


def dns(qid, name, answer=None):
    flags = 0x8180 if answer else 0x0100
    q = b"".join(bytes([len(label)]) + label.encode() for label in name.split(".")) + b"\0" + struct.pack("!HH", 1, 1)
    msg = struct.pack("!HHHHHH", qid, flags, 1, 1 if answer else 0, 0, 0) + q
    if answer:
        msg += struct.pack("!HHHIH", 0xC00C, 1, 1, 300, 4) + ip(answer)
    return msg


def arp(op, smac, sip, tmac, tip):
    return struct.pack("!HHBBH", 1, 0x0800, 6, 4, op) + mac(smac) + ip(sip) + mac(tmac) + ip(tip)


def frames(dev_mac, dev_ip, host_name, lookup, answer):
    """(seconds, frame) pairs of one device's DHCP, ARP, DNS and ICMP."""
    out = []
    t = 0.0
    xid = int.from_bytes(mac(dev_mac)[2:], "big")
    disc = dhcp(1, xid, dev_mac, "0.0.0.0", 1, host_name)
    out.append((t, ether(BROADCAST, dev_mac, 0x0800, ipv4("0.0.0.0", "255.255.255.255", 17, udp(68, 67, disc), 1))))
    t += 0.01
    offer = dhcp(2, xid, dev_mac, dev_ip, 2)
    out.append((t, ether(dev_mac, ROUTER[0], 0x0800, ipv4(ROUTER[1], dev_ip, 17, udp(67, 68, offer), 100))))
    t += 0.5
    out.append((t, ether(BROADCAST, dev_mac, 0x0806, arp(1, dev_mac, dev_ip, "00:00:00:00:00:00", ROUTER[1]))))
    t += 0.001
    out.append((t, ether(dev_mac, ROUTER[0], 0x0806, arp(2, ROUTER[0], ROUTER[1], dev_mac, dev_ip))))
    t += 0.2
    q = dns(0x4B1D, lookup)
    out.append((t, ether(ROUTER[0], dev_mac, 0x0800, ipv4(dev_ip, ROUTER[1], 17, udp(40_123, 53, q), 2))))
    t += 0.02
    r = dns(0x4B1D, lookup, answer)
    out.append((t, ether(dev_mac, ROUTER[0], 0x0800, ipv4(ROUTER[1], dev_ip, 17, udp(53, 40_123, r), 101))))
    for seq in range(1, 4):
        t += 1.0
        req = icmp_echo(8, 0x0700, seq)
        out.append((t, ether(LAPTOP[0], dev_mac, 0x0800, ipv4(dev_ip, LAPTOP[1], 1, req, 2 + seq))))
        t += 0.0004
        rep = icmp_echo(0, 0x0700, seq)
        out.append((t, ether(dev_mac, LAPTOP[0], 0x0800, ipv4(LAPTOP[1], dev_ip, 1, rep, 200 + seq))))
    return out


def write_pcap(path, pairs):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for t, frame in pairs:
            sec = T0 + int(t)
            usec = int(round((t - int(t)) * 1e6))
            f.write(struct.pack("<IIII", sec, usec, len(frame), len(frame)) + frame)


CASES = {
    "own-pi-ordinary": ("b8:27:eb:4d:2a:11", "10.50.0.20", "raspberrypi", "pool.ntp.org", "192.0.2.123"),
    "own-pikvm-named": ("dc:a6:32:5e:71:02", "10.50.0.30", "pikvm", "files.pikvm.org", "192.0.2.80"),
}


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "tests", "cases")
    for name, args in CASES.items():
        d = os.path.join(out_dir, name)
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, "input.pcap")
        write_pcap(path, frames(*args))
        sys.stdout.write(f"{path}\n")


if __name__ == "__main__":
    main()
