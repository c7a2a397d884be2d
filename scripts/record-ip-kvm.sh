#!/usr/bin/env bash
# record-ip-kvm.sh [OUT.pcap] — record a small capture of a Raspberry-Pi-class device (the
# usual hardware of PiKVM/TinyPilot IP-KVMs) next to a laptop, for the ip_kvm regression case.
#
#   fhk-seg: the office segment. 10.40.0.10 "laptop" (02:00:0a:28:00:0a) and 10.40.0.50
#   "pikvm" whose interface has a Raspberry Pi OUI (dc:a6:32:12:34:56), joined by a veth pair
#   (one end in a second namespace fhk-kvm). The device asks for an address with DHCP under
#   its product name (busybox udhcpc -x hostname:pikvm, answered by dnsmasq's DHCP server on
#   the laptop side), pings the laptop and fetches a page from a web server on the laptop
#   (python3 -m http.server); tcpdump records on the laptop's side, as a SPAN of the access
#   switch would.
# Needs root. Idempotent (removes namespaces fhk-*, its scratch dir). Default OUT:
# tests/cases/own-ip-kvm/input.pcap
set -euo pipefail
REPO=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
OUT=$(realpath -m "${1:-$REPO/tests/cases/own-ip-kvm/input.pcap}")
WORK=/tmp/fhk-work
[ "$(id -u)" = 0 ] || { echo "must run as root" >&2; exit 1; }
for p in tcpdump iproute2 curl python3 iputils-ping busybox dnsmasq-base; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing="${missing:-} $p"
done
if [ -n "${missing:-}" ]; then
  apt-get -o DPkg::Lock::Timeout=900 update -q && apt-get -o DPkg::Lock::Timeout=900 install -y -q --no-install-recommends $missing
fi
PIDS=()
cleanup() { set +e; for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; sleep 0.3; ip netns del fhk-seg 2>/dev/null; ip netns del fhk-kvm 2>/dev/null; }
trap cleanup EXIT
ip netns del fhk-seg 2>/dev/null || true; ip netns del fhk-kvm 2>/dev/null || true
rm -rf "$WORK"; mkdir -p "$WORK" "$(dirname "$OUT")"
ip netns add fhk-seg; ip netns add fhk-kvm
ip link add fhk-l type veth peer name fhk-k
ip link set fhk-l netns fhk-seg; ip link set fhk-k netns fhk-kvm
ip netns exec fhk-seg ip link set lo up; ip netns exec fhk-kvm ip link set lo up
ip netns exec fhk-seg ip link set fhk-l address 02:00:0a:28:00:0a up
ip netns exec fhk-kvm ip link set fhk-k address dc:a6:32:12:34:56 up
ip netns exec fhk-seg ip addr add 10.40.0.10/24 dev fhk-l
ip netns exec fhk-kvm ip addr add 10.40.0.50/24 dev fhk-k
for ns in fhk-seg fhk-kvm; do ip netns exec $ns sysctl -qw net.ipv6.conf.all.disable_ipv6=1; done
echo "hello" > "$WORK/index.html"
ip netns exec fhk-seg python3 -m http.server 8080 --bind 10.40.0.10 --directory "$WORK" >/dev/null 2>&1 & PIDS+=($!)
ip netns exec fhk-seg tcpdump -Z root -i fhk-l -s 0 -n -U -w "$WORK/cap.pcap" 2>/dev/null & TCPDUMP=$!; PIDS+=($TCPDUMP)
ip netns exec fhk-seg dnsmasq -k -u root --port=0 --interface=fhk-l --bind-interfaces --no-resolv --no-hosts \
  --dhcp-range=10.40.0.100,10.40.0.150,1h --dhcp-leasefile="$WORK/leases" --pid-file="$WORK/dnsmasq.pid" \
  --log-facility=/dev/null & PIDS+=($!)
sleep 1.5
ip netns exec fhk-kvm busybox udhcpc -i fhk-k -x hostname:pikvm -n -q -t 3 -T 1 -s /bin/true >/dev/null 2>&1 || true
ip netns exec fhk-kvm ping -c 3 -i 0.2 10.40.0.10 >/dev/null
ip netns exec fhk-kvm curl -s -o /dev/null http://10.40.0.10:8080/index.html
sleep 1
kill -INT "$TCPDUMP"; wait "$TCPDUMP" 2>/dev/null || true
mv "$WORK/cap.pcap" "$OUT"
echo "wrote $OUT ($(stat -c %s "$OUT") bytes)" >&2
