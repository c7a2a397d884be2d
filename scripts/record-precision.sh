#!/usr/bin/env bash
# record-precision.sh [OUTDIR] — record farhand's own precision cases: traffic that used to
# raise false alerts (binary protocols whose first bytes read as TURN ChannelData, refused
# HTTP CONNECT requests, crafted ICMP echoes carrying one IP-shaped payload) and the
# near-misses that must still be found (a CONNECT with a malformed header the proxy let
# through, an ICMP echo stream carrying IP packets) — all made with real software between
# two network namespaces this script creates.
# Default OUTDIR: tests/cases (relative to the repository root); writes
#   OUTDIR/own-neg-lookalike-binary/input.pcap  Elasticsearch transport, HiSLIP and MongoDB
#                                               look-alikes (scripts/precision/lookalike.py)
#   OUTDIR/own-connect-refused/input.pcap       tinyproxy refusing CONNECT / and a CONNECT to
#                                               a port it does not allow; accepting one
#                                               without a port
#   OUTDIR/own-connect-malformed/input.pcap     tinyproxy accepting a CONNECT with a header
#                                               line that has no colon; TLS inside
#   OUTDIR/own-icmp-crafted/input.pcap          crafted echoes (one IP packet, unanswered and
#                                               answered), ping -p, and an echo stream of IP
#                                               packets (scripts/precision/icmp_echo.py)
#   OUTDIR/own-ipsec-no-ike/input.pcap          ESP (IP 50) and ESP over UDP 4500 both ways,
#                                               no IKE exchange (scripts/precision/ipsec_gre.py)
#   OUTDIR/own-ipsec-ah/input.pcap              AH (IP 51) in tunnel mode both ways, no IKE
#                                               exchange (scripts/precision/ipsec_gre.py)
#   OUTDIR/own-stun-dialects/input.pcap         coturn answering STUN dialects: an Allocate
#                                               whose length is no multiple of 4, an unknown
#                                               zero-length message then a Binding, a classic
#                                               RFC 3489 Binding, an MS-TURN Allocate
#                                               (scripts/precision/stun_dialects.py)
#   OUTDIR/own-pptp-gre-data/input.pcap         PPTP's data channel alone: PPP (LCP, IPCP, IPv4)
#                                               in enhanced GRE (IP 47) both ways
#   OUTDIR/own-nflog/input.pcap                 a proxy tunnel (CONNECT through tinyproxy, TLS
#                                               inside) as `nft ... log group 7` hands it to
#                                               `tcpdump -i nflog:7` (link type NFLOG, 239)
# (only input.pcap is written; each case's expect.toml and README.md are kept by hand).
#
# Topology (nothing leaves the machine):
#
#   fhp-endpoint "company laptop"                fhp-inet "the internet"
#   10.31.0.10/24 dev fhp-ep <==== veth ====>   dev fhp-in 203.0.113.1 (router, answers ping,
#     clients                                    does not forward)
#     route 198.51.100.0/24 via 203.0.113.1      203.0.113.40  look-alike servers :9300 :4880
#                                                              :27017
#                                                203.0.113.41  tinyproxy :8888 (CONNECT to 443)
#                                                203.0.113.42  openssl s_server :443
#                                                203.0.113.43  ESP responder (raw socket)
#                                                203.0.113.44  ESP-over-UDP responder :4500
#                                                203.0.113.45  AH responder (raw socket)
#                                                203.0.113.46  enhanced GRE/PPP responder
#                                                203.0.113.47  coturn turnserver :3478
#   (this kernel has no ESP, AH or PPP: ipsec_gre.py builds those packets from the RFCs, with
#   real AES-CBC and HMAC-SHA-256, and sends them from raw sockets)
#   tcpdump -s 0 on fhp-ep, one capture file per case; offloads off (wire-sized frames, valid
#   checksums); IPv6 off in both namespaces.
#
# Usage (as root): scripts/record-precision.sh [OUTDIR]. Installs missing Debian packages.
# FHP_ONLY="case case..." records only those cases (the others' captures are left alone).
# Idempotent: removes its own leftovers (namespaces fhp-*, scratch dir $FHP_WORK, default
# /tmp/fhp-precision) first. Logs stay in the scratch dir.
set -euo pipefail

REPO=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
OUTDIR=${1:-$REPO/tests/cases}
WORK=${FHP_WORK:-/tmp/fhp-precision}
HELP=$REPO/scripts/precision
EP=fhp-endpoint INET=fhp-inet EP_IF=fhp-ep INET_IF=fhp-in
LAPTOP=10.31.0.10 ROUTER=203.0.113.1 LOOK=203.0.113.40 PROXY=203.0.113.41 WEB=203.0.113.42
ESP=203.0.113.43 ESPUDP=203.0.113.44 AH=203.0.113.45 GRE=203.0.113.46 TURN=203.0.113.47
NOWHERE=198.51.100.7

NAME=record-precision ONLY=${FHP_ONLY:-}
# shellcheck source=scripts/lib/netns-record.sh
. "$REPO/scripts/lib/netns-record.sh"

PKGS="iproute2 ethtool tcpdump procps openssl python3 python3-cryptography tinyproxy iputils-ping nftables coturn"
# shellcheck disable=SC2086
begin $PKGS

say "creating namespaces $EP ($LAPTOP) and $INET ($ROUTER, $LOOK, $PROXY, $WEB)"
make_link $LAPTOP/24 $ROUTER/24 02:00:0a:1f:00:0a 02:00:cb:00:71:02
for a in $LOOK $PROXY $WEB $ESP $ESPUDP $AH $GRE $TURN; do ininet ip addr add "$a/32" dev $INET_IF; done
inep   ip route add 203.0.113.0/24 dev $EP_IF
inep   ip route add 198.51.100.0/24 via $ROUTER
ininet ip route add 10.31.0.0/24 dev $INET_IF src $ROUTER

# ------------------------------------------------------------------ servers
cd "$WORK"
spawn $INET es     python3 "$HELP/lookalike.py" server es     $LOOK 9300
spawn $INET hislip python3 "$HELP/lookalike.py" server hislip $LOOK 4880
spawn $INET mongo  python3 "$HELP/lookalike.py" server mongo  $LOOK 27017
cat > tinyproxy.conf <<CONF
Port 8888
Listen $PROXY
Timeout 30
MaxClients 10
Allow 10.31.0.0/24
ConnectPort 443
LogLevel Info
DisableViaHeader Yes
CONF
spawn $INET tinyproxy tinyproxy -d -c "$WORK/tinyproxy.conf"
openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=fhp-test-server" \
  -keyout tls.key -out tls.crt >/dev/null 2>&1
spawn $INET s_server openssl s_server -accept $WEB:443 -cert tls.crt -key tls.key -www -quiet
spawn $INET esp    python3 "$HELP/ipsec_gre.py" serve esp $ESP
spawn $INET espudp python3 "$HELP/ipsec_gre.py" serve esp-udp $ESPUDP
spawn $INET ah     python3 "$HELP/ipsec_gre.py" serve ah $AH
spawn $INET gre    python3 "$HELP/ipsec_gre.py" serve gre $GRE
cat > turnserver.conf <<CONF
listening-ip=$TURN
relay-ip=$TURN
listening-port=3478
realm=farhand.test
lt-cred-mech
user=fhp-user:fhp-pass
fingerprint
no-tls
no-dtls
no-cli
no-rfc5780
pidfile=$WORK/turnserver.pid
userdb=$WORK/turndb.sqlite
log-file=stdout
simple-log
CONF
spawn $INET turnserver turnserver -c "$WORK/turnserver.conf"
for p in 9300 4880 27017; do wait_for 10 "look-alike :$p" listening $INET tcp $LOOK $p; done
wait_for 10 "ESP-over-UDP responder" listening $INET udp $ESPUDP 4500
wait_for 10 "tinyproxy" listening $INET tcp $PROXY 8888
wait_for 10 "s_server" listening $INET tcp $WEB 443
wait_for 10 "turnserver" listening $INET udp $TURN 3478

# ------------------------------------------------------------------ captures
lookalikes() {
  inep python3 "$HELP/lookalike.py" client es     $LOOK 9300
  inep python3 "$HELP/lookalike.py" client hislip $LOOK 4880
  inep python3 "$HELP/lookalike.py" client mongo  $LOOK 27017
}
refused() {
  local k
  for k in no-target no-port refused; do
    say "  CONNECT $k: $(inep python3 "$HELP/connect.py" $PROXY 8888 $k $WEB:22)"
  done
}
malformed() {
  say "  CONNECT malformed: $(inep python3 "$HELP/connect.py" $PROXY 8888 malformed $WEB:443)"
}
icmp() {
  inep python3 "$HELP/icmp_echo.py" $NOWHERE 4401 1          # one IP packet, unanswered
  inep python3 "$HELP/icmp_echo.py" $ROUTER 4402 1           # one IP packet, echoed back
  inep ping -q -c 3 -i 0.2 -p 4500001c0000400040110000 $ROUTER >/dev/null   # ping -p pattern
  inep python3 "$HELP/icmp_echo.py" $ROUTER 4403 6           # an echo stream of IP packets
}

ipsec() {
  inep python3 "$HELP/ipsec_gre.py" send esp $LAPTOP $ESP 5
  inep python3 "$HELP/ipsec_gre.py" send esp-udp $LAPTOP $ESPUDP 5
}
ah() {
  inep python3 "$HELP/ipsec_gre.py" send ah $LAPTOP $AH 5
}
stun_dialects() {
  local k
  for k in odd unknown classic msturn; do
    say "  $(inep python3 "$HELP/stun_dialects.py" $TURN 3478 $k | tr '\n' ' ')"
  done
}
gre() {
  inep python3 "$HELP/ipsec_gre.py" send gre $LAPTOP $GRE 4
}

record_nflog() {  # the endpoint's packets to and from the proxy, through netfilter's log
  local case=own-nflog pcap="$WORK/own-nflog.pcap"
  wanted "$case" || return 0
  mkdir -p "$OUTDIR/$case"
  inep nft -f - <<NFT
table inet fhp_log {
  chain out { type filter hook output priority 0; ip daddr $PROXY log group 7; }
  chain in  { type filter hook input priority 0;  ip saddr $PROXY log group 7; }
}
NFT
  spawn $EP tcpdump-nflog tcpdump -i nflog:7 -s 0 -U -w "$pcap"
  local tpid=$!
  sleep 1
  say "  CONNECT through NFLOG: $(inep python3 "$HELP/connect.py" $PROXY 8888 malformed $WEB:443)"
  sleep 1
  kill -INT $tpid; wait $tpid 2>/dev/null || true
  inep nft delete table inet fhp_log
  cp "$pcap" "$OUTDIR/$case/input.pcap"
  say "$case: $(stat -c %s "$OUTDIR/$case/input.pcap") bytes"
}

record own-neg-lookalike-binary lookalikes
record own-connect-refused refused
record own-connect-malformed malformed
record own-icmp-crafted icmp
record own-ipsec-no-ike ipsec
record own-ipsec-ah ah
record own-stun-dialects stun_dialects
record own-pptp-gre-data gre
record_nflog
say "done"
