#!/usr/bin/env bash
# record-vpn-names.sh [OUTDIR] — record farhand's own capture of how five commercial VPN
# services' clients (Astrill, Surfshark, Private Internet Access, Windscribe, Opera's browser
# VPN) show up by NAME on the network: DNS lookups, TLS server names (SNI) and, where a client
# connects to a bare IP without SNI over TLS 1.2, the names in the server's certificate —
# all made with real software (dnsmasq, dig, openssl) between two network namespaces this
# script creates.
# Default OUTDIR: tests/cases (relative to the repository root); writes
#   OUTDIR/own-vpn-names/input.pcap, in this order, about 1 s apart:
#     1. dig (UDP) of www.astrill.com, api.surfshark.com, serverlist.piaservers.net,
#        api.windscribe.com, api2.sec-tunnel.com, and the negatives log.sec-tunnel.com (a
#        stock Opera browser looks it up at start-up even with its VPN off) and
#        www.example.org;
#     2. TLS 1.3 sessions with SNI www.astrill.com, de-fra.prod.surfshark.com,
#        us-denver.privacy.network, api.windscribe.com, eu0.sec-tunnel.com, and the negatives
#        log.sec-tunnel.com and www.example.org, to servers with a neutral self-signed
#        certificate (CN=fhv-test-server);
#     3. TLS 1.2 sessions without SNI to a bare IP, whose certificates (in clear) reproduce
#        what public captures show: Windscribe (self-signed, O=Windscribe, OU=IT Dept.,
#        CN=<the server's IP>) and Private Internet Access (CN=newjersey402 issued by the CA
#        "Private Internet Access"; the server sends the chain, leaf first).
# (only input.pcap is written; the case's README.md is kept by hand).
#
# Topology (nothing leaves the machine; no external address or resolver is ever contacted,
# there is no default route):
#
#   fhv-endpoint "company laptop"              fhv-inet "the internet"
#   10.35.0.10/24 dev fhv-ep <=== veth ===>   dev fhv-in 203.0.113.1/24 (router, does not
#     dig, openssl s_client                                forward)
#     route 203.0.113.0/24 dev fhv-ep          203.0.113.53   dnsmasq :53 (the names below)
#                                              203.0.113.61-69, .80  one openssl s_server :443
#                                                             each, neutral certificate
#                                              203.0.113.70   openssl s_server :443,
#                                                             Windscribe-like certificate
#                                              203.0.113.71   openssl s_server :443, PIA-like
#                                                             certificate chain
#   tcpdump -s 0 on fhv-ep; offloads off (wire-sized frames, valid checksums); IPv6 off in
#   both namespaces.
#
# Usage (as root): scripts/record-vpn-names.sh [OUTDIR]. Installs missing Debian packages.
# Idempotent: removes its own leftovers (namespaces fhv-*, the processes inside them, scratch
# dir $FHV_WORK, default /tmp/fhv-vpn-names) first, then overwrites input.pcap. Keys and
# certificates are made afresh in the scratch dir on every run; logs stay there.
set -euo pipefail

REPO=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
OUTDIR=${1:-$REPO/tests/cases}
WORK=${FHV_WORK:-/tmp/fhv-vpn-names}
EP=fhv-endpoint INET=fhv-inet EP_IF=fhv-ep INET_IF=fhv-in
LAPTOP=10.35.0.10 ROUTER=203.0.113.1 DNS=203.0.113.53
WINDSCRIBE=203.0.113.70 PIA=203.0.113.71

# name -> the address dnsmasq answers and the neutral TLS server listens on
NAMES=(
  www.astrill.com=203.0.113.61
  api.surfshark.com=203.0.113.62
  de-fra.prod.surfshark.com=203.0.113.63
  serverlist.piaservers.net=203.0.113.64
  us-denver.privacy.network=203.0.113.65
  api.windscribe.com=203.0.113.66
  api2.sec-tunnel.com=203.0.113.67
  eu0.sec-tunnel.com=203.0.113.68
  log.sec-tunnel.com=203.0.113.69
  www.example.org=203.0.113.80
)
DNS_NAMES="www.astrill.com api.surfshark.com serverlist.piaservers.net api.windscribe.com
  api2.sec-tunnel.com log.sec-tunnel.com www.example.org"
TLS_NAMES="www.astrill.com de-fra.prod.surfshark.com us-denver.privacy.network
  api.windscribe.com eu0.sec-tunnel.com log.sec-tunnel.com www.example.org"

NAME=record-vpn-names ONLY=
# shellcheck source=scripts/lib/netns-record.sh
. "$REPO/scripts/lib/netns-record.sh"

PKGS="iproute2 ethtool tcpdump procps openssl bind9-dnsutils dnsmasq-base"
# shellcheck disable=SC2086
begin $PKGS

declare -A IP_OF
for e in "${NAMES[@]}"; do IP_OF[${e%%=*}]=${e#*=}; done
ADDRS=$(printf '%s\n' "${NAMES[@]}" | cut -d= -f2 | sort -u -t. -k4,4n)

say "creating namespaces $EP ($LAPTOP) and $INET ($ROUTER, $DNS, servers)"
make_link $LAPTOP/24 $ROUTER/24 02:00:0a:23:00:0a 02:00:cb:00:71:05
for a in $DNS $ADDRS $WINDSCRIBE $PIA; do ininet ip addr add "$a/32" dev $INET_IF; done
inep   ip route add 203.0.113.0/24 dev $EP_IF
ininet ip route add 10.35.0.0/24 dev $INET_IF src $ROUTER

# ------------------------------------------------------------------ keys and certificates
cd "$WORK"
umask 077
mkdir -p pki www
# neutral server: names no tool
openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=fhv-test-server" \
  -keyout pki/neutral.key -out pki/neutral.crt >/dev/null 2>&1
# Windscribe-like: self-signed, the server's IP as CN
openssl req -x509 -newkey rsa:2048 -nodes -days 3650 \
  -subj "/C=US/ST=CA/L=San Francisco/O=Windscribe/OU=IT Dept./CN=$WINDSCRIBE" \
  -keyout pki/windscribe.key -out pki/windscribe.crt >/dev/null 2>&1
# PIA-like: a throwaway CA issuing the server certificate
openssl req -x509 -newkey rsa:2048 -nodes -days 3650 \
  -subj "/C=US/ST=CA/L=LosAngeles/O=Private Internet Access/OU=Private Internet Access/CN=Private Internet Access" \
  -keyout pki/pia-ca.key -out pki/pia-ca.crt >/dev/null 2>&1
openssl req -new -newkey rsa:2048 -nodes -subj "/CN=newjersey402" \
  -keyout pki/pia.key -out pki/pia.csr >/dev/null 2>&1
openssl x509 -req -in pki/pia.csr -CA pki/pia-ca.crt -CAkey pki/pia-ca.key -CAcreateserial \
  -days 3650 -out pki/pia.crt >/dev/null 2>&1
umask 022
printf 'ok\n' > www/ok.txt

# ------------------------------------------------------------------ servers
DNSMASQ_ARGS=()
for e in "${NAMES[@]}"; do DNSMASQ_ARGS+=("--address=/${e%%=*}/${e#*=}"); done
spawn $INET dnsmasq dnsmasq -k --conf-file=/dev/null -u root --no-resolv --no-hosts \
  --listen-address=$DNS --bind-interfaces --pid-file="$WORK/dnsmasq.pid" --cache-size=0 \
  "${DNSMASQ_ARGS[@]}" --log-queries --log-facility="$WORK/dnsmasq-queries.log"
# -WWW: answers "GET /ok.txt" with that file and closes; serves sessions one after another
serve() {  # serve IP NAME CERT KEY [s_server options]
  local ip=$1 name=$2 crt=$3 key=$4; shift 4
  (cd "$WORK/www" && spawn $INET "s_server-$name" openssl s_server -accept "$ip:443" \
    -cert "$WORK/pki/$crt" -key "$WORK/pki/$key" -WWW -quiet "$@")
}
for a in $ADDRS; do serve "$a" "$a" neutral.crt neutral.key; done
serve $WINDSCRIBE windscribe windscribe.crt windscribe.key
serve $PIA pia pia.crt pia.key -cert_chain "$WORK/pki/pia-ca.crt"
wait_for 10 "dnsmasq" listening $INET udp $DNS 53
for a in $ADDRS $WINDSCRIBE $PIA; do wait_for 10 "s_server on $a" listening $INET tcp "$a" 443; done
say "started in $INET: dnsmasq ($DNS:53), openssl s_server on $(echo $ADDRS $WINDSCRIBE $PIA | wc -w) addresses :443"

# ------------------------------------------------------------------ the capture
lookup() {  # lookup NAME: one UDP query, the answer must be the configured address
  local a
  a=$(inep dig @$DNS +tries=1 +time=2 +short "$1" A)
  [ "$a" = "${IP_OF[$1]}" ] || die "dig $1: got '$a', want ${IP_OF[$1]}"
  say "  DNS $1 -> $a"
}
tls() {  # tls TAG IP [s_client options]: one session, "GET /ok.txt", the server closes
  local tag=$1 ip=$2; shift 2
  printf 'GET /ok.txt HTTP/1.0\r\n\r\n' | inep timeout 10 openssl s_client -connect "$ip:443" \
    -brief -ign_eof "$@" > "$WORK/s_client-$tag.out" 2> "$WORK/s_client-$tag.err" \
    || die "TLS session to $ip ($tag) failed, see $WORK/s_client-$tag.err"
  grep -q '^ok' "$WORK/s_client-$tag.out" || die "no answer from $ip ($tag)"
  say "  TLS $tag @ $ip: $(grep -m1 'Protocol version' "$WORK/s_client-$tag.err");" \
    "$(grep -m1 'Peer certificate' "$WORK/s_client-$tag.err")"
}
sessions() {
  local n
  for n in $DNS_NAMES; do lookup "$n"; sleep 1; done
  for n in $TLS_NAMES; do tls "$n" "${IP_OF[$n]}" -servername "$n"; sleep 1; done
  tls windscribe $WINDSCRIBE -noservername -tls1_2; sleep 1
  tls pia $PIA -noservername -tls1_2
}

record own-vpn-names sessions
say "versions: $(openssl version | cut -d' ' -f1-2); dnsmasq $(dnsmasq -v | head -1 | cut -d' ' -f3);" \
  "dig $(dig -v 2>&1 | cut -d' ' -f2); tcpdump $(dpkg-query -W -f='${Version}' tcpdump)"
say "done"
