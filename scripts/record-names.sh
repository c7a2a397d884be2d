#!/usr/bin/env bash
# record-names.sh [OUTDIR] — record farhand's own captures of the tools that have no public
# capture (RustDesk, Chrome Remote Desktop, Splashtop, ScreenConnect, LogMeIn/GoTo, Zoho
# Assist, Parsec, IP-KVMs, ngrok, cloudflared, Tailscale DERP, AnyDesk's ALPN, TeamViewer's
# HTTP fallback) by the NAMES they use — DNS lookups, TLS SNI/ALPN, HTTP Host/User-Agent —
# plus a real STUN/TURN relay (coturn) and a real WireGuard tunnel (wireguard-go), all made
# with real software between two network namespaces this script creates.
# Default OUTDIR: tests/cases (relative to the repository root); writes
#   OUTDIR/own-vendor-dns/input.pcap   dig of one name per vendor + 2 ordinary names
#   OUTDIR/own-vendor-tls/input.pcap   openssl s_client -> s_server with vendor SNIs / AnyDesk ALPN
#   OUTDIR/own-vendor-http/input.pcap  curl -> python http.server with TeamViewer Host / DynGate UA
#   OUTDIR/own-turn/input.pcap         coturn: STUN binding, TURN allocation relaying to a peer
#   OUTDIR/own-wireguard/input.pcap    wireguard-go in both namespaces, pings through the tunnel
# (only input.pcap is written; each case's expect.toml and README.md are kept by hand).
#
# Topology (nothing leaves the machine; no external address or resolver is ever contacted):
#
#   fhn-endpoint  "company laptop"                 fhn-inet  "the internet"
#   10.30.0.10/24  dev fhn-ep <===== veth =====>  dev fhn-in  203.0.113.1   (router/default src)
#     dig, openssl s_client, curl,                            203.0.113.53  dnsmasq: vendor names
#     turnutils_stunclient/_uclient,                                        -> 203.0.113.x below
#     wireguard-go fhn-wgep 10.99.0.1                         203.0.113.21-33 openssl s_server :443
#                                                                      (one address per vendor),
#                                                                      python http.server :80
#                                                             203.0.113.80/.82 ordinary names
#                                                             203.0.113.34  coturn turnserver :3478
#                                                             203.0.113.35  turnutils_peer :3480
#                                                             203.0.113.36  wireguard-go fhn-wgin
#                                                                           :51820, 10.99.0.2
#
#   tcpdump -s 0 on fhn-ep (what the corporate gateway sees on its inside leg), one capture
#   file per case. Offloads are off on both veth ends, so frames are wire-sized with valid
#   checksums. IPv6 is disabled in both namespaces (no ND/MLD noise); ARP stays.
#
# Usage (as root):  scripts/record-names.sh [OUTDIR]
#   Installs missing Debian packages (apt-get). Idempotent: first removes its own leftovers
#   (namespaces fhn-*, processes via pid files and inside those namespaces, wireguard-go UAPI
#   sockets /var/run/wireguard/fhn-*.sock, scratch dir $FHN_WORK, default /tmp/fhn-names),
#   then overwrites the five input.pcap files. Every daemon runs in the foreground under this
#   script with its own config in the scratch dir; all are killed on exit (trap). Logs stay in
#   the scratch dir.
set -euo pipefail

REPO=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
OUTDIR=${1:-$REPO/tests/cases}
WORK=${FHN_WORK:-/tmp/fhn-names}
EP=fhn-endpoint INET=fhn-inet
EP_IF=fhn-ep INET_IF=fhn-in
WG_EP=fhn-wgep WG_INET=fhn-wgin
LAPTOP=10.30.0.10 ROUTER=203.0.113.1 DNS=203.0.113.53
TURN=203.0.113.34 PEER=203.0.113.35 WGSRV=203.0.113.36
TURN_USER=fhn-user TURN_PASS=fhn-pass TURN_REALM=farhand.test

# Vendor zones -> the address dnsmasq answers for the zone and its subdomains. The TLS and
# HTTP servers listen on every one of these addresses.
ZONES=(
  rustdesk.com=203.0.113.21
  remotedesktop.google.com=203.0.113.22 remotedesktop-pa.googleapis.com=203.0.113.22
  splashtop.com=203.0.113.23
  screenconnect.com=203.0.113.24 control.connectwise.com=203.0.113.24
  logmein.com=203.0.113.25 gotoassist.com=203.0.113.25
  zohoassist.com=203.0.113.26
  parsec.app=203.0.113.27
  jetkvm.com=203.0.113.28
  ngrok-agent.com=203.0.113.29
  trycloudflare.com=203.0.113.30 argotunnel.com=203.0.113.30
  tailscale.com=203.0.113.31
  teamviewer.com=203.0.113.32
  net.anydesk.com=203.0.113.33
  www.example.org=203.0.113.80
  mail.example.net=203.0.113.82
)
ANYDESK_RELAY=203.0.113.33

say() { printf '[record-names %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root"
mkdir -p "$OUTDIR"
OUTDIR=$(readlink -f "$OUTDIR")

# ------------------------------------------------------------------ packages
PKGS="iproute2 ethtool tcpdump procps openssl curl bind9-dnsutils dnsmasq-base python3 coturn
      wireguard-go wireguard-tools iputils-ping"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
  say "installing Debian packages:$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=900 update -q
  # shellcheck disable=SC2086
  apt-get -o DPkg::Lock::Timeout=900 install -y -q --no-install-recommends $missing
fi
[ -c /dev/net/tun ] || die "/dev/net/tun is missing (wireguard-go needs it)"

# ------------------------------------------------------------------ leftovers, cleanup
kill_ns_procs() {  # every process inside one of OUR namespaces is one this script started
  local ns=$1 sig=$2 pids
  pids=$(ip netns pids "$ns" 2>/dev/null || true)
  # shellcheck disable=SC2086
  [ -z "$pids" ] || kill "-$sig" $pids 2>/dev/null || true
}
teardown() {
  local f
  for f in "$WORK"/*.pid; do
    [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true
  done
  kill_ns_procs $EP TERM; kill_ns_procs $INET TERM
  sleep 0.5
  kill_ns_procs $EP KILL; kill_ns_procs $INET KILL
  ip netns del $EP 2>/dev/null || true
  ip netns del $INET 2>/dev/null || true
  rm -f /var/run/wireguard/$WG_EP.sock /var/run/wireguard/$WG_INET.sock
}
PIDS=()
on_exit() {
  local rc=$? i
  set +e
  for ((i=${#PIDS[@]}-1; i>=0; i--)); do kill "${PIDS[$i]}" 2>/dev/null; done
  teardown
  say "cleaned up (namespaces, processes); logs kept in $WORK"
  exit $rc
}

say "removing leftovers of earlier runs"
teardown
rm -rf "$WORK"
mkdir -p "$WORK"/{www,wg}
trap on_exit EXIT
trap 'exit 130' INT TERM

inep()   { ip netns exec $EP "$@"; }
ininet() { ip netns exec $INET "$@"; }
spawn() {  # spawn NS NAME CMD...: daemon in namespace NS, output to $WORK/NAME.log, pid kept
  local ns=$1 name=$2; shift 2
  ip netns exec "$ns" "$@" > "$WORK/$name.log" 2>&1 &
  PIDS+=($!); echo $! > "$WORK/$name.pid"
}
wait_for() {  # wait_for SECONDS DESCRIPTION CMD...: poll (without sending any packet)
  local t=$1 what=$2 i; shift 2
  for ((i=0; i<t*10; i++)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  die "timed out waiting for $what"
}
listening() {  # listening NS tcp|udp IP PORT
  ip netns exec "$1" ss -Hln --"$2" | grep -qF " $3:$4 "
}
listening_port() {  # listening_port NS tcp|udp PORT: on any address
  ip netns exec "$1" ss -Hln --"$2" | grep -qE ":$3 "
}

# ------------------------------------------------------------------ topology
ADDRS=$(printf '%s\n' "${ZONES[@]}" | cut -d= -f2 | sort -u -t. -k4,4n)
say "creating namespaces $EP ($LAPTOP) and $INET ($ROUTER, $DNS, $TURN, $PEER, $WGSRV, vendor servers)"
ip netns add $EP; ip netns add $INET
ip link add $EP_IF type veth peer name $INET_IF
ip link set $EP_IF netns $EP; ip link set $INET_IF netns $INET
for ns in $EP $INET; do
  ip netns exec $ns sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  ip netns exec $ns ip link set lo up
done
inep   ip link set $EP_IF address 02:00:0a:1e:00:0a
ininet ip link set $INET_IF address 02:00:cb:00:71:01
inep   ip addr add $LAPTOP/24 dev $EP_IF
ininet ip addr add $ROUTER/24 dev $INET_IF
for a in $DNS $TURN $PEER $WGSRV $ADDRS; do ininet ip addr add "$a/32" dev $INET_IF; done
inep   ip link set $EP_IF up
ininet ip link set $INET_IF up
inep   ip route add 203.0.113.0/24 dev $EP_IF
ininet ip route add 10.30.0.0/24 dev $INET_IF src $ROUTER
inep   ethtool -K $EP_IF tso off gso off gro off tx off rx off >/dev/null 2>&1 || true
ininet ethtool -K $INET_IF tso off gso off gro off tx off rx off >/dev/null 2>&1 || true

# ------------------------------------------------------------------ internet side: daemons
cd "$WORK"
DNSMASQ_ARGS=()
for z in "${ZONES[@]}"; do DNSMASQ_ARGS+=("--address=/${z%%=*}/${z#*=}"); done
spawn $INET dnsmasq dnsmasq -k --conf-file=/dev/null -u root --no-resolv --no-hosts \
  --listen-address=$DNS --bind-interfaces --pid-file="$WORK/dnsmasq.pid.d" --cache-size=0 \
  "${DNSMASQ_ARGS[@]}" --log-queries --log-facility="$WORK/dnsmasq-queries.log"

# one self-signed certificate for every TLS server (its name matches no indicator)
openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=fhn-test-server" \
  -keyout tls.key -out tls.crt >/dev/null 2>&1
# -www: answers one GET with a status page and closes; serves sessions one after another
spawn $INET s_server openssl s_server -accept 443 -cert tls.crt -key tls.key -www -quiet \
  -alpn anydesk/7.0.0/linux,http/1.1
printf '<!doctype html><title>fhn</title><p>hello</p>\n' > www/index.html
spawn $INET http python3 -m http.server 80 --bind 0.0.0.0 --directory "$WORK/www"

cat > turnserver.conf <<EOF
listening-ip=$TURN
relay-ip=$TURN
listening-port=3478
realm=$TURN_REALM
lt-cred-mech
user=$TURN_USER:$TURN_PASS
fingerprint
no-tls
no-dtls
no-tcp-relay
no-cli
no-multicast-peers
no-rfc5780
min-port=49152
max-port=49200
pidfile=$WORK/turnserver.pid.d
userdb=$WORK/turndb.sqlite
log-file=stdout
simple-log
verbose
EOF
spawn $INET turnserver turnserver -c "$WORK/turnserver.conf"
spawn $INET turnpeer turnutils_peer -L $PEER -p 3480

wait_for 10 "dnsmasq"     listening $INET udp $DNS 53
wait_for 10 "s_server"    listening_port $INET tcp 443
wait_for 10 "http.server" listening_port $INET tcp 80
wait_for 10 "turnserver"  listening $INET udp $TURN 3478
wait_for 10 "turnutils_peer" listening $INET udp $PEER 3480
say "started in $INET: dnsmasq ($DNS:53), openssl s_server (*:443), python http.server (*:80), turnserver ($TURN:3478), turnutils_peer ($PEER:3480)"

# ------------------------------------------------------------------ capture helpers
TCPDUMP=""
cap_start() {  # cap_start CASE
  CASE=$1; CAP=$WORK/$CASE.pcap
  ip netns exec $EP tcpdump -Z root -i $EP_IF -s 0 -n -U -w "$CAP" 2> "$WORK/tcpdump-$CASE.log" &
  TCPDUMP=$!; PIDS+=($TCPDUMP)
  wait_for 10 "tcpdump" grep -q 'listening on' "$WORK/tcpdump-$CASE.log"
  sleep 0.5
}
cap_stop() {
  local out=$OUTDIR/$CASE/input.pcap
  sleep 1
  kill -TERM "$TCPDUMP"; wait "$TCPDUMP" || true
  mkdir -p "$OUTDIR/$CASE"
  mv -f "$CAP" "$out"
  say "wrote $out: $(stat -c %s "$out") bytes, $(tcpdump -r "$out" -n 2>/dev/null | wc -l) packets"
}

# ------------------------------------------------------------------ 1. DNS lookups
DNS_NAMES="rs-ny.rustdesk.com remotedesktop-pa.googleapis.com x.relay.splashtop.com
  instance-abc.screenconnect.com control.connectwise.com secure.logmein.com gotoassist.com
  gateway.zohoassist.com kessel-api.parsec.app api.jetkvm.com connect.us.ngrok-agent.com
  abc.trycloudflare.com derp4.tailscale.com www.example.org mail.example.net"
say "1/5 own-vendor-dns: dig @$DNS of one name per vendor + 2 ordinary names"
cap_start own-vendor-dns
for n in $DNS_NAMES; do
  a=$(inep dig @$DNS +tries=1 +time=2 +short "$n" A)
  [ -n "$a" ] || die "no answer for $n"
  say "    $n -> $a"; sleep 0.2
done
cap_stop

# ------------------------------------------------------------------ 2. TLS SNI / ALPN
resolve() { inep dig @$DNS +tries=1 +time=2 +short "$1" A; }  # outside any capture
tls() {  # tls NAME|- IP [s_client options]: one TLS session, GET /, server closes
  local name=$1 ip=$2; shift 2
  local sni=(-servername "$name"); [ "$name" = - ] && sni=(-noservername)
  printf 'GET / HTTP/1.0\r\n\r\n' | inep timeout 10 openssl s_client -connect "$ip:443" \
    "${sni[@]}" -quiet "$@" > "$WORK/s_client-$name.out" 2> "$WORK/s_client-$name.err" \
    || die "TLS session to $ip ($name) failed, see $WORK/s_client-$name.err"
  grep -q 'Protocol' "$WORK/s_client-$name.out" || die "no status page from $ip ($name)"
  say "    $name @ $ip${*:+ $*} -> $(grep -m1 -o 'Protocol *: *[A-Za-z0-9.]*' "$WORK/s_client-$name.out" | tr -s ' ')"
  sleep 0.3
}
TLS_NAMES="remotedesktop.google.com rs-ny.rustdesk.com x.relay.splashtop.com
  instance-abc.screenconnect.com gateway.zohoassist.com connect.us.ngrok-agent.com
  region1.v2.argotunnel.com"
declare -A IP_OF
for n in $TLS_NAMES kessel-api.parsec.app www.example.org; do
  IP_OF[$n]=$(resolve "$n"); [ -n "${IP_OF[$n]}" ] || die "no answer for $n"
done
say "2/5 own-vendor-tls: openssl s_client -> s_server with vendor SNIs, AnyDesk ALPN without SNI"
cap_start own-vendor-tls
for n in $TLS_NAMES; do tls "$n" "${IP_OF[$n]}"; done
tls kessel-api.parsec.app "${IP_OF[kessel-api.parsec.app]}" -tls1_2
tls - $ANYDESK_RELAY -alpn anydesk/7.0.0/linux
tls www.example.org "${IP_OF[www.example.org]}"
cap_stop

# ------------------------------------------------------------------ 3. HTTP Host / User-Agent
say "3/5 own-vendor-http: curl -> python http.server: TeamViewer Host, DynGate User-Agent, ordinary Host"
TV=203.0.113.32
cap_start own-vendor-http
inep curl -sS -o /dev/null -w '    %{http_code} %{url_effective}\n' \
  --resolve master1.teamviewer.com:80:$TV 'http://master1.teamviewer.com/din.aspx?s=00000000&id=0&client=DynGate' >&2
sleep 0.3
inep curl -sS -o /dev/null -w '    %{http_code} %{url_effective} (DynGate User-Agent)\n' \
  -A 'Mozilla/4.0 (compatible; MSIE 6.0; DynGate)' "http://$TV/din.aspx?s=00000000&id=0" >&2
sleep 0.3
inep curl -sS -o /dev/null -w '    %{http_code} %{url_effective}\n' \
  --resolve www.example.org:80:203.0.113.80 http://www.example.org/ >&2
cap_stop

# ------------------------------------------------------------------ 4. STUN / TURN (coturn)
say "4/5 own-turn: STUN binding + TURN allocation ($TURN_USER) relaying to $PEER:3480"
cap_start own-turn
inep turnutils_stunclient -p 3478 $TURN > "$WORK/stunclient.log" 2>&1 \
  || die "STUN binding failed, see $WORK/stunclient.log"
sleep 0.5
# one client (-m 1), no RTCP allocation (-c), 5 messages of 100 bytes to the peer, echoed
inep timeout 20 turnutils_uclient -u $TURN_USER -w $TURN_PASS -e $PEER -r 3480 -m 1 -n 5 -l 100 -c \
  -p 3478 $TURN > "$WORK/uclient.log" 2>&1 || die "TURN client failed, see $WORK/uclient.log"
say "    STUN binding: $(grep -m1 -io 'reflexive addr.*' "$WORK/stunclient.log" || true)"
say "    $(grep -iE 'Total (transmit|lost|send)' "$WORK/uclient.log" | tr '\n' ' ')"
cap_stop

# ------------------------------------------------------------------ 5. WireGuard (wireguard-go)
say "5/5 own-wireguard: wireguard-go $WG_EP (10.99.0.1) <-> $WG_INET at $WGSRV:51820 (10.99.0.2), 3 pings"
export WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1
umask 077
wg genkey > wg/ep.key;   wg pubkey < wg/ep.key > wg/ep.pub
wg genkey > wg/inet.key; wg pubkey < wg/inet.key > wg/inet.pub
umask 022
spawn $EP   wg-ep   wireguard-go -f $WG_EP
spawn $INET wg-inet wireguard-go -f $WG_INET
wait_for 10 "wireguard-go $WG_EP"   test -S /var/run/wireguard/$WG_EP.sock
wait_for 10 "wireguard-go $WG_INET" test -S /var/run/wireguard/$WG_INET.sock
ininet wg set $WG_INET listen-port 51820 private-key wg/inet.key \
  peer "$(cat wg/ep.pub)" allowed-ips 10.99.0.1/32
inep wg set $WG_EP listen-port 51820 private-key wg/ep.key \
  peer "$(cat wg/inet.pub)" allowed-ips 10.99.0.2/32 endpoint $WGSRV:51820
ininet ip addr add 10.99.0.2/24 dev $WG_INET; ininet ip link set $WG_INET up
inep   ip addr add 10.99.0.1/24 dev $WG_EP;   inep   ip link set $WG_EP up
cap_start own-wireguard
inep ping -c 3 -i 0.5 -W 2 10.99.0.2 > "$WORK/wg-ping.log" 2>&1 \
  || die "no ping through the tunnel, see $WORK/wg-ping.log"
say "    $(grep -E 'packets transmitted' "$WORK/wg-ping.log")"
cap_stop
inep wg show $WG_EP > "$WORK/wg-show.log" 2>&1 || true

say "versions: $(openssl version | cut -d' ' -f1-2); dig $(dig -v 2>&1 | cut -d' ' -f2); $(curl -V | head -1 | cut -d' ' -f1-2);" \
  "dnsmasq $(dnsmasq -v | head -1 | cut -d' ' -f3); $(python3 -V); coturn $(dpkg-query -W -f='${Version}' coturn);" \
  "wireguard-go $(dpkg-query -W -f='${Version}' wireguard-go); wireguard-tools $(dpkg-query -W -f='${Version}' wireguard-tools);" \
  "tcpdump $(dpkg-query -W -f='${Version}' tcpdump)"
