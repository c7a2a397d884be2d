#!/usr/bin/env bash
# record-tor.sh [OUTDIR] — record a real Tor client opening OR (link) connections to two
# real Tor bridges over TLS 1.3, made with Debian's tor between two network namespaces this
# script creates. Over TLS 1.3 the link certificates are encrypted: what stays visible is the
# ClientHello (Tor's random "www.<random>.com" server name, its cipher and extension list)
# and the ServerHello, on the bridges' OR ports.
# Default OUTDIR: tests/cases (relative to the repository root); writes
#   OUTDIR/own-tor-tls13/input.pcap   the tor client bootstrapping through two bridges, in
#                                     two sessions (a first start, then a restart with the
#                                     bridge descriptors cached): one OR connection (or more)
#                                     to each bridge per session, each with a full TLS
#                                     handshake, the link handshake and begindir fetches
# (only input.pcap is written; the case's README.md is kept by hand).
#
# Topology (nothing leaves the machine):
#
#   fht-endpoint "company laptop"                fht-inet "the internet"
#   10.33.0.10/24 dev fht-ep <==== veth ====>   dev fht-in 203.0.113.1 (router, does not
#     tor client (UseBridges 1, SocksPort       forward)
#     on 127.0.0.1 only, unused)                203.0.113.50  tor bridge A, ORPort 9001
#     route 203.0.113.0/24 dev fht-ep           203.0.113.51  tor bridge B, ORPort 443
#   The bridges run with AssumeReachable 1 and PublishServerDescriptor 0; neither namespace
#   has a default route, so nothing can leave: any attempt of tor's to reach the public
#   directory authorities fails with "network unreachable" before a packet is sent. The
#   client knows the bridges by address and fingerprint (read from each bridge's
#   DataDirectory), fetches their descriptors over begindir and keeps asking them for a
#   consensus they do not have (404).
#   tcpdump -s 0 on fht-ep while the client runs twice, FHT_SECONDS (default 12) each time,
#   stopped with SIGTERM; the bridges are started (and their keys made) before the capture
#   begins. Offloads off (wire-sized frames, valid checksums); IPv6 off in both namespaces.
#
# Usage (as root): scripts/record-tor.sh [OUTDIR]. Installs missing Debian packages (tor;
# the package's own service is kept from starting by a policy-rc.d, and there is no init
# system here to start it anyway). The tor processes run as root in the foreground
# (RunAsDaemon 0), each with its own torrc and DataDirectory under the scratch dir.
# Idempotent: removes its own leftovers (namespaces fht-*, scratch dir $FHT_WORK, default
# /tmp/fht-tor) first. Logs stay in the scratch dir.
set -euo pipefail

REPO=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
OUTDIR=${1:-$REPO/tests/cases}
WORK=${FHT_WORK:-/tmp/fht-tor}
SECONDS_CAPTURED=${FHT_SECONDS:-12}
EP=fht-endpoint INET=fht-inet EP_IF=fht-ep INET_IF=fht-in
LAPTOP=10.33.0.10 ROUTER=203.0.113.1 BRIDGE_A=203.0.113.50 BRIDGE_B=203.0.113.51
PORT_A=9001 PORT_B=443

NAME=record-tor ONLY=${FHT_ONLY:-}
# shellcheck source=scripts/lib/netns-record.sh
. "$REPO/scripts/lib/netns-record.sh"

PKGS="iproute2 ethtool tcpdump procps tor"
# shellcheck disable=SC2086
begin $PKGS

say "creating namespaces $EP ($LAPTOP) and $INET ($ROUTER, $BRIDGE_A, $BRIDGE_B)"
make_link $LAPTOP/24 $ROUTER/24 02:00:0a:21:00:0a 02:00:cb:00:71:03
for a in $BRIDGE_A $BRIDGE_B; do ininet ip addr add "$a/32" dev $INET_IF; done
inep   ip route add 203.0.113.0/24 dev $EP_IF
ininet ip route add 10.33.0.0/24 dev $INET_IF src $ROUTER

# ------------------------------------------------------------------ bridges
cd "$WORK"
tor --version | head -n 1 > tor-version.txt
say "$(cat tor-version.txt)"

bridge_conf() {  # bridge_conf NAME ADDR PORT: a private bridge's torrc
  local name=$1 addr=$2 port=$3
  mkdir -p "$WORK/$name"; chmod 700 "$WORK/$name"
  cat > "$WORK/$name.torrc" <<CONF
DataDirectory $WORK/$name
RunAsDaemon 0
Log notice file $WORK/$name.tor.log
SocksPort 0
ORPort $addr:$port IPv4Only
Address $addr
OutboundBindAddress $addr
Nickname fht${name//-/}
BridgeRelay 1
ExitRelay 0
ExitPolicy reject *:*
AssumeReachable 1
PublishServerDescriptor 0
ClientUseIPv6 0
CONF
}
bridge_conf bridge-a $BRIDGE_A $PORT_A
bridge_conf bridge-b $BRIDGE_B $PORT_B
# --defaults-torrc /dev/null: nothing from /etc/tor or /usr/share/tor applies
spawn $INET bridge-a tor --defaults-torrc /dev/null -f "$WORK/bridge-a.torrc"
spawn $INET bridge-b tor --defaults-torrc /dev/null -f "$WORK/bridge-b.torrc"
wait_for 60 "bridge A's ORPort" listening $INET tcp $BRIDGE_A $PORT_A
wait_for 60 "bridge B's ORPort" listening $INET tcp $BRIDGE_B $PORT_B
wait_for 60 "bridge A's fingerprint" test -s "$WORK/bridge-a/fingerprint"
wait_for 60 "bridge B's fingerprint" test -s "$WORK/bridge-b/fingerprint"
FP_A=$(awk '{print $2}' "$WORK/bridge-a/fingerprint")
FP_B=$(awk '{print $2}' "$WORK/bridge-b/fingerprint")
say "bridge A $BRIDGE_A:$PORT_A $FP_A"
say "bridge B $BRIDGE_B:$PORT_B $FP_B"
# let the bridges build their descriptors before the client asks for them
sleep 3

# ------------------------------------------------------------------ client
mkdir -p "$WORK/client"; chmod 700 "$WORK/client"
cat > "$WORK/client.torrc" <<CONF
DataDirectory $WORK/client
RunAsDaemon 0
Log notice file $WORK/client.tor.log
Log info file $WORK/client.info.log
SocksPort 127.0.0.1:9050
UseBridges 1
Bridge $BRIDGE_A:$PORT_A $FP_A
Bridge $BRIDGE_B:$PORT_B $FP_B
ClientUseIPv6 0
DormantCanceledByStartup 1
CONF

client_session() {  # client_session N: one run of the client, stopped after SECONDS_CAPTURED
  say "  client session $1 (${SECONDS_CAPTURED} s)"
  spawn $EP "client-$1" tor --defaults-torrc /dev/null -f "$WORK/client.torrc"
  local cpid=$!
  sleep "$SECONDS_CAPTURED"
  kill -TERM "$cpid" 2>/dev/null || true
  wait "$cpid" 2>/dev/null || true
}
tor_client() {  # two sessions: a first start, then a restart that has the descriptors cached
  client_session 1
  sleep 1
  client_session 2
  grep -E 'new bridge descriptor|Bootstrapped' "$WORK/client.tor.log" | tail -n 8 |
    while read -r line; do say "  client: $line"; done
}

record own-tor-tls13 tor_client
say "done"
