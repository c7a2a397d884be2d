#!/usr/bin/env bash
# record-openvpn.sh [OUTDIR] — record farhand's own OpenVPN 2.6 cases: real sessions with
# tls-crypt-v2 (the client's first packet is P_CONTROL_HARD_RESET_CLIENT_V3, opcode 10, with
# the wrapped client key at its end; after the server's stateless HMAC-cookie reset the
# client repeats that key in P_CONTROL_WKC_V1, opcode 11), over UDP and TCP, IPv4 and IPv6,
# between two network namespaces this script creates. Each session comes fully up
# ("Initialization Sequence Completed"), the client pings the server's tunnel address
# 10.8.0.1 three times through the tunnel, then the client and the server stop.
# Default OUTDIR: tests/cases (relative to the repository root); writes
#   OUTDIR/own-openvpn-tls-crypt-v2-udp/input.pcap   proto udp, IPv4, port 1194
#   OUTDIR/own-openvpn-tls-crypt-v2-tcp/input.pcap   proto tcp-server/tcp-client, IPv4, port 443
#   OUTDIR/own-openvpn-tls-crypt-v2-ipv6/input.pcap  proto udp6, IPv6, port 1194
# (only input.pcap is written; each case's README.md and expect.toml are kept by hand).
# At the end the OpenVPN opcodes seen each way are printed, and the script fails if opcode
# 10 is missing, or opcode 11 in a UDP case. Over TCP there is no opcode 11: only OpenVPN's
# UDP server answers a first packet statelessly with the HMAC-cookie reset that asks the
# client to resend its wrapped key; the TCP server keeps the key it got in the first packet,
# and the client's TLS records travel in plain P_CONTROL_V1.
#
# Topology (nothing leaves the machine):
#
#   fho-endpoint "company laptop"                 fho-inet "the internet"
#   10.34.0.10/24 dev fho-ep <==== veth ====>    dev fho-in 203.0.113.1/24 (router, does not
#   2001:db8:33::10/64                                       forward)
#     route 203.0.113.0/24 dev fho-ep                        203.0.113.51/32 OpenVPN server
#     openvpn client (tun0 10.8.0.2)                         2001:db8:33::1/64 OpenVPN server
#                                                            (udp6)
#                                                 openvpn server: tun0 10.8.0.1/24
#   tcpdump -s 0 on fho-ep, one capture file per case; offloads off (wire-sized frames, valid
#   checksums). IPv6 is on only on the veth ends (and lo), with documentation addresses and no
#   DAD, no router advertisements; the tun devices have no IPv6.
#
# Throwaway PKI (EC P-256 CA, server and client certificates, made with openssl) and the
# tls-crypt-v2 server and client keys are made afresh in the scratch dir on every run; no key
# is ever written to OUTDIR.
#
# Usage (as root): scripts/record-openvpn.sh [OUTDIR]. Installs missing Debian packages
# (openvpn is started directly, never as a service).
# FHO_ONLY="case case..." records only those cases (the others' captures are left alone).
# Idempotent: removes its own leftovers (namespaces fho-*, scratch dir $FHO_WORK, default
# /tmp/fho-openvpn) first. Logs stay in the scratch dir; openvpn runs at --verb 4 unless
# FHO_VERB says otherwise (7 logs the server's HMAC-cookie exchange).
set -euo pipefail

REPO=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
OUTDIR=${1:-$REPO/tests/cases}
WORK=${FHO_WORK:-/tmp/fho-openvpn}
EP=fho-endpoint INET=fho-inet EP_IF=fho-ep INET_IF=fho-in
LAPTOP=10.34.0.10 ROUTER=203.0.113.1 VPN=203.0.113.51
LAPTOP6=2001:db8:33::10 VPN6=2001:db8:33::1
TUNNEL_SERVER=10.8.0.1
VERB=${FHO_VERB:-4}

NAME=record-openvpn ONLY=${FHO_ONLY:-}
# shellcheck source=scripts/lib/netns-record.sh
. "$REPO/scripts/lib/netns-record.sh"
[ -c /dev/net/tun ] || die "no /dev/net/tun"

PKGS="iproute2 ethtool tcpdump procps openssl python3 iputils-ping openvpn"
# shellcheck disable=SC2086
begin $PKGS

say "creating namespaces $EP ($LAPTOP, $LAPTOP6) and $INET ($ROUTER, $VPN, $VPN6)"
make_link $LAPTOP/24 $ROUTER/24 02:00:0a:22:00:0a 02:00:cb:00:71:02
ininet ip addr add $VPN/32 dev $INET_IF
inep   ip route add 203.0.113.0/24 dev $EP_IF
ininet ip route add 10.34.0.0/24 dev $INET_IF src $ROUTER

# IPv6 on the veth ends only: make_link turned it off everywhere (all and default, so tun0
# comes up without it); turn it on per interface, without router advertisements or DAD.
enable_ipv6() {  # enable_ipv6 NS IF ADDR/PREFIX
  local ns=$1 ifc=$2
  ip netns exec "$ns" sysctl -qw "net.ipv6.conf.$ifc.accept_ra=0" \
    "net.ipv6.conf.$ifc.router_solicitations=0" "net.ipv6.conf.$ifc.dad_transmits=0" \
    "net.ipv6.conf.$ifc.forwarding=0"
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.lo.disable_ipv6=0 "net.ipv6.conf.$ifc.disable_ipv6=0"
  ip netns exec "$ns" ip -6 addr add "$3" dev "$ifc" nodad
  ip netns exec "$ns" ethtool -K "$ifc" tso off gso off gro off tx off rx off >/dev/null 2>&1 || true
}
enable_ipv6 $EP   $EP_IF   $LAPTOP6/64
enable_ipv6 $INET $INET_IF $VPN6/64
wait_for 10 "IPv6 address on $EP_IF" sh -c "ip netns exec $EP ip -6 addr show dev $EP_IF scope global | grep -q 'inet6 $LAPTOP6/'"

# ------------------------------------------------------------------ keys
cd "$WORK"
say "making a throwaway CA, server and client certificates and tls-crypt-v2 keys"
umask 077
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
  -subj "/CN=fho-test-ca" -keyout ca.key -out ca.crt \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  >/dev/null 2>&1
issue() {  # issue NAME CN EXTENDED-KEY-USAGE
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -subj "/CN=$2" -keyout "$1.key" -out "$1.csr" >/dev/null 2>&1
  printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=%s\n' \
    "$3" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
    -extfile "$1.ext" -out "$1.crt" >/dev/null 2>&1
}
issue server fho-vpn-server serverAuth
issue client fho-vpn-client clientAuth
openvpn --genkey tls-crypt-v2-server tc-server.key >/dev/null
openvpn --tls-crypt-v2 tc-server.key --genkey tls-crypt-v2-client tc-client.key >/dev/null
umask 022
chmod 755 "$WORK"
OPENVPN_VERSION=$(openvpn --version 2>/dev/null | head -1 || true)
say "$OPENVPN_VERSION"

# ------------------------------------------------------------------ sessions
server_conf() {  # server_conf CASE PROTO LOCAL PORT
  cat > "$WORK/$1-server.conf" <<CONF
dev tun
proto $2
local $3
port $4
server 10.8.0.0 255.255.255.0
topology subnet
ca $WORK/ca.crt
cert $WORK/server.crt
key $WORK/server.key
dh none
tls-crypt-v2 $WORK/tc-server.key
keepalive 10 60
verb $VERB
CONF
}
client_conf() {  # client_conf CASE PROTO REMOTE PORT
  cat > "$WORK/$1-client.conf" <<CONF
client
dev tun
proto $2
remote $3 $4
nobind
remote-cert-tls server
ca $WORK/ca.crt
cert $WORK/client.crt
key $WORK/client.key
tls-crypt-v2 $WORK/tc-client.key
connect-retry 1
verb $VERB
CONF
}

SRV_PID="" CLI_PID=""
stop_pid() {  # stop_pid PID: TERM, then KILL after 5 s
  local pid=$1 i
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i=0; i<50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
up() { grep -q "Initialization Sequence Completed" "$WORK/$1-client.log"; }

start_server() {  # start_server CASE PROTO LOCAL PORT: server in $INET, listening
  local case=$1 proto=$2 local=$3 port=$4 l4=udp
  server_conf "$case" "$proto" "$local" "$port"
  spawn $INET "$case-server" openvpn --config "$WORK/$case-server.conf"
  SRV_PID=$!
  case $proto in tcp*) l4=tcp ;; esac
  case $local in *:*) local="[$local]" ;; esac
  wait_for 15 "openvpn server $local:$port ($proto)" listening $INET $l4 "$local" "$port"
}
session() {  # session CASE PROTO REMOTE PORT: run while capturing
  local case=$1
  client_conf "$case" "$2" "$3" "$4"
  spawn $EP "$case-client" openvpn --config "$WORK/$case-client.conf"
  CLI_PID=$!
  wait_for 30 "the $case tunnel (see $WORK/$case-client.log)" up "$case"
  sleep 0.5
  say "  $(inep ping -c 3 -i 0.3 -W 2 $TUNNEL_SERVER | grep -E 'packets transmitted')"
  sleep 0.5
  stop_pid "$CLI_PID"; CLI_PID=""
}
stop_server() { stop_pid "$SRV_PID"; SRV_PID=""; }

# record6 CASE CMD...: as record, but IPv6 only (record filters IPv6 out by default).
record6() { RECORD_FILTER=ip6 record "$@"; }

# opcodes CASE OPCODE...: the OpenVPN opcodes each way (UDP: first byte >> 3; TCP: the same
# after each 2-byte length prefix, reassembled per direction), the sizes of the first three
# packets each way, and whether the packets with opcode 10 or 11 end with the client's wrapped
# key (the WKc: the client key file less its first 256 bytes); fails if one of the OPCODEs
# given is missing.
opcodes() {
  local case=$1; shift
  wanted "$case" || return 0
  python3 - "$OUTDIR/$case/input.pcap" "$case" "$WORK/tc-client.key" "$@" <<'PY' >&2
import base64, struct, sys
path, case, keyfile, need = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
key = base64.b64decode("".join(open(keyfile).read().split("-----")[2].split()))
wkc = key[256:]
data = open(path, "rb").read()
e = "<" if data[:4] == b"\xd4\xc3\xb2\xa1" else ">"
off, seen, streams = 24, {}, {}
while off + 16 <= len(data):
    incl = struct.unpack(e + "I", data[off + 8:off + 12])[0]
    f = data[off + 16:off + 16 + incl]; off += 16 + incl
    if len(f) < 14: continue
    et = struct.unpack(">H", f[12:14])[0]; p = f[14:]
    if et == 0x0800:
        proto = p[9]; l4 = p[(p[0] & 15) * 4:struct.unpack(">H", p[2:4])[0]]
    elif et == 0x86DD:
        proto = p[6]; l4 = p[40:40 + struct.unpack(">H", p[4:6])[0]]
    else:
        continue
    if proto == 17 and len(l4) >= 9:
        sp, dp = struct.unpack(">HH", l4[:4])
        if 1194 not in (sp, dp): continue
        d = "client->server" if dp == 1194 else "server->client"
        seen.setdefault(d, []).append(l4[8:])
    elif proto == 6 and len(l4) >= 20:
        sp, dp = struct.unpack(">HH", l4[:4])
        if 443 not in (sp, dp): continue
        d = "client->server" if dp == 443 else "server->client"
        buf = streams.get(d, b"") + l4[(l4[12] >> 4) * 4:]
        while len(buf) >= 3:
            n = struct.unpack(">H", buf[:2])[0]
            if len(buf) < 2 + n: break
            seen.setdefault(d, []).append(buf[2:2 + n]); buf = buf[2 + n:]
        streams[d] = buf
names = {3: "SOFT_RESET_V1", 4: "CONTROL_V1", 5: "ACK_V1", 6: "DATA_V1",
         7: "HARD_RESET_CLIENT_V2", 8: "HARD_RESET_SERVER_V2", 9: "DATA_V2",
         10: "HARD_RESET_CLIENT_V3", 11: "CONTROL_WKC_V1"}
allops = set()
for d in ("client->server", "server->client"):
    pkts = seen.get(d, []); allops |= {m[0] >> 3 for m in pkts}
    print(f"  {case} {d}: {len(pkts)} messages, opcodes {' '.join(str(m[0] >> 3) for m in pkts)}")
    print(f"  {case} {d}: first 3: " + ", ".join(
        f"{names.get(m[0] >> 3, m[0] >> 3)} {len(m)} B" for m in pkts[:3]))
    for m in pkts:
        if m[0] >> 3 in (10, 11):
            print(f"  {case} {d}: {names[m[0] >> 3]} {len(m)} B "
                  + (f"ends with the client's WKc ({len(wkc)} B)" if m.endswith(wkc)
                     else "does NOT end with the client's WKc"))
missing = {int(o) for o in need} - allops
if missing:
    sys.exit(f"  {case}: opcode(s) {sorted(missing)} not seen")
PY
}

udp4() {
  start_server own-openvpn-tls-crypt-v2-udp udp $VPN 1194
  record own-openvpn-tls-crypt-v2-udp session own-openvpn-tls-crypt-v2-udp udp $VPN 1194
  stop_server
}
tcp4() {
  start_server own-openvpn-tls-crypt-v2-tcp tcp-server $VPN 443
  record own-openvpn-tls-crypt-v2-tcp session own-openvpn-tls-crypt-v2-tcp tcp-client $VPN 443
  stop_server
}
udp6() {
  start_server own-openvpn-tls-crypt-v2-ipv6 udp6 $VPN6 1194
  record6 own-openvpn-tls-crypt-v2-ipv6 session own-openvpn-tls-crypt-v2-ipv6 udp6 $VPN6 1194
  stop_server
}

if wanted own-openvpn-tls-crypt-v2-udp;  then udp4; fi
if wanted own-openvpn-tls-crypt-v2-tcp;  then tcp4; fi
if wanted own-openvpn-tls-crypt-v2-ipv6; then udp6; fi
# Over TCP the server keeps state from the first packet on (no HMAC-cookie reset, which only
# the UDP server sends), so the client does not resend its WKc: no opcode 11 there.
opcodes own-openvpn-tls-crypt-v2-udp  10 11
opcodes own-openvpn-tls-crypt-v2-tcp  10
opcodes own-openvpn-tls-crypt-v2-ipv6 10 11
say "done ($OPENVPN_VERSION)"
