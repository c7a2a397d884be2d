#!/usr/bin/env bash
# record-rustdesk.sh [OUT.pcap] — record farhand's RustDesk case: real DNS, TCP, UDP and TLS
# between two network namespaces this script creates, carrying RustDesk messages built from
# RustDesk's protocol definition (there is no RustDesk package to run here).
#
#   fhr-endpoint 10.50.0.10 (the laptop)  <== veth ==>  fhr-inet: 203.0.113.53 dnsmasq,
#                                                        203.0.113.21 "rs-ny.rustdesk.com"
# Sessions:
#   1. dig rs-ny.rustdesk.com @203.0.113.53 (answered 203.0.113.21)
#   2. UDP 21116: RendezvousMessage{register_peer{id, serial}} answered by
#      RendezvousMessage{register_peer_response{request_pk}} (bare protobuf datagrams)
#   3. TCP 21117: a relayed peer session: bytes_codec-framed Message{public_key} then opaque
#      (encrypted-looking) frames from the laptop; Message{signed_id} then opaque frames back
#   4. TLS with no server name to 203.0.113.21:443 (openssl s_client -noservername against
#      openssl s_server): nothing in it names RustDesk — only the earlier DNS answer does
# Messages are encoded by the Python below from the .proto field numbers (rendezvous.proto:
# RendezvousMessage.register_peer = 6, register_peer_response = 7, RegisterPeer.id = 1,
# serial = 2, RegisterPeerResponse.request_pk = 2; message.proto: Message.signed_id = 3,
# public_key = 4, SignedId.id = 1, PublicKey.asymmetric_value = 1, symmetric_value = 2;
# bytes_codec: 1-4 byte little-endian header, low 2 bits = header length - 1).
# Daemons are started with `ip netns exec` directly (not through a shell function) so the
# PIDs kept are the daemons' own. Needs root. Idempotent. Default OUT: tests/cases/own-rustdesk/input.pcap
set -euo pipefail
REPO=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
OUT=$(realpath -m "${1:-$REPO/tests/cases/own-rustdesk/input.pcap}")
WORK=/tmp/fhr-work
[ "$(id -u)" = 0 ] || { echo "must run as root" >&2; exit 1; }
missing=""
for p in tcpdump iproute2 dnsmasq-base bind9-dnsutils openssl python3 ethtool; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
  apt-get -o DPkg::Lock::Timeout=900 update -q && apt-get -o DPkg::Lock::Timeout=900 install -y -q --no-install-recommends $missing
fi
PIDS=()
cleanup() { set +e; for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; sleep 0.3; ip netns del fhr-endpoint 2>/dev/null; ip netns del fhr-inet 2>/dev/null; }
trap cleanup EXIT
ip netns del fhr-endpoint 2>/dev/null || true; ip netns del fhr-inet 2>/dev/null || true
rm -rf "$WORK"; mkdir -p "$WORK" "$(dirname "$OUT")"
ip netns add fhr-endpoint; ip netns add fhr-inet
ip link add fhr-ep type veth peer name fhr-in
ip link set fhr-ep netns fhr-endpoint; ip link set fhr-in netns fhr-inet
E() { ip netns exec fhr-endpoint "$@"; }; I() { ip netns exec fhr-inet "$@"; }
E ip link set lo up; I ip link set lo up
E ip link set fhr-ep address 02:00:0a:32:00:0a up; I ip link set fhr-in address 02:00:cb:00:71:15 up
E ip addr add 10.50.0.10/24 dev fhr-ep; E ip route add 203.0.113.0/24 dev fhr-ep
for a in 21 53; do I ip addr add 203.0.113.$a/32 dev fhr-in; done
I ip route add 10.50.0.0/24 dev fhr-in
for ns in fhr-endpoint fhr-inet; do ip netns exec $ns sysctl -qw net.ipv6.conf.all.disable_ipv6=1; done
E ethtool -K fhr-ep tso off gso off gro off tx off rx off >/dev/null 2>&1 || true
I ethtool -K fhr-in tso off gso off gro off tx off rx off >/dev/null 2>&1 || true

cat > "$WORK/rd.py" <<'PY'
import socket, sys, time
def varint(v):
    out = bytearray()
    while True:
        b = v & 0x7f; v >>= 7
        out.append(b | (0x80 if v else 0))
        if not v: return bytes(out)
def ld(field, data): return varint(field << 3 | 2) + varint(len(data)) + data
def vi(field, v): return varint(field << 3) + varint(v)
def frame(p):
    n = len(p)
    if n <= 0x3f: h = bytes([n << 2])
    elif n <= 0x3fff: h = ((n << 2) | 1).to_bytes(2, 'little')
    else: h = ((n << 2) | 2).to_bytes(3, 'little')
    return h + p
def opaque(n, seed): return bytes((i * 31 + seed) & 0xff for i in range(n))
register_peer = ld(6, ld(1, b"123456789") + vi(2, 1))
register_peer_response = ld(7, vi(2, 1))
public_key = ld(4, ld(1, bytes([0x11]) * 32) + ld(2, bytes([0x22]) * 48))
signed_id = ld(3, ld(1, bytes([0xA5]) * 96))
role = sys.argv[1]
if role == "udp-server":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("203.0.113.21", 21116))
    data, peer = s.recvfrom(2048); s.sendto(register_peer_response, peer)
elif role == "udp-client":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(3)
    s.sendto(register_peer, ("203.0.113.21", 21116)); s.recvfrom(2048)
elif role == "tcp-server":
    l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind(("203.0.113.21", 21117)); l.listen(1); c, _ = l.accept()
    c.recv(4096); c.sendall(frame(signed_id)); time.sleep(0.2)
    for n in (60, 1000, 300): c.recv(65536); c.sendall(frame(opaque(n, 3))); time.sleep(0.1)
    c.close()
elif role == "tcp-client":
    c = socket.create_connection(("203.0.113.21", 21117), timeout=3)
    c.sendall(frame(public_key)); c.recv(4096)
    for n in (40, 200, 120): c.sendall(frame(opaque(n, 7))); time.sleep(0.05); c.recv(65536)
    c.close()
PY
openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=relay.example" -keyout "$WORK/k.pem" -out "$WORK/c.pem" >/dev/null 2>&1
ip netns exec fhr-inet dnsmasq -k -u root --no-resolv --no-hosts --listen-address=203.0.113.53 --bind-interfaces --port=53 \
  --address=/rs-ny.rustdesk.com/203.0.113.21 --pid-file="$WORK/dnsmasq.pid" --log-facility=/dev/null & PIDS+=($!)
ip netns exec fhr-inet python3 "$WORK/rd.py" udp-server & PIDS+=($!)
ip netns exec fhr-inet python3 "$WORK/rd.py" tcp-server & PIDS+=($!)
ip netns exec fhr-inet openssl s_server -quiet -accept 203.0.113.21:443 -cert "$WORK/c.pem" -key "$WORK/k.pem" -naccept 1 >/dev/null 2>&1 & PIDS+=($!)
ip netns exec fhr-endpoint tcpdump -Z root -i fhr-ep -s 0 -n -U -w "$WORK/cap.pcap" 2>/dev/null & TCPDUMP=$!; PIDS+=($TCPDUMP)
sleep 1.5
echo "dns: $(E dig +short @203.0.113.53 rs-ny.rustdesk.com)" >&2
E python3 "$WORK/rd.py" udp-client
E python3 "$WORK/rd.py" tcp-client
echo | E timeout 5 openssl s_client -connect 203.0.113.21:443 -noservername >/dev/null 2>&1 || true
sleep 1
kill -INT $TCPDUMP; wait $TCPDUMP 2>/dev/null || true
mv "$WORK/cap.pcap" "$OUT"
echo "wrote $OUT ($(stat -c %s "$OUT") bytes)" >&2
