#!/usr/bin/env bash
# record-identity.sh [OUT.pcap] — record a laptop that takes its address from DHCP under its
# own host name, then is controlled over SSH from outside, for the endpoint-identity case.
#
#   fhi-gw: the office gateway, 10.41.0.1 and 203.0.113.10 on one veth (fhi-g); dnsmasq
#   serves DHCP (pool 10.41.0.100-120, domain corp.example) and DNS for the lease names.
#   fhi-lap: the laptop, MAC 02:00:0a:29:00:42 on fhi-l. It asks for an address with busybox
#   udhcpc, sending option 12 "laptop-ab12" and option 81 (FQDN) and asking for option 12 in
#   the replies; looks up its own name and its own reverse name at the gateway
#   (busybox nslookup); then a controller at 203.0.113.10 opens an SSH session into it
#   (OpenSSH, tests/lab/sshd.sh) and runs a command. tcpdump records on the gateway's side,
#   as a SPAN of the access switch would.
# Needs root. Idempotent (removes namespaces fhi-*, its scratch dir). Default OUT:
# tests/cases/own-endpoint-identity/input.pcap
set -euo pipefail
REPO=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
OUT=$(realpath -m "${1:-$REPO/tests/cases/own-endpoint-identity/input.pcap}")
WORK=/tmp/fhi-work
[ "$(id -u)" = 0 ] || { echo "must run as root" >&2; exit 1; }
for p in tcpdump iproute2 busybox dnsmasq-base openssh-server openssh-client; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing="${missing:-} $p"
done
if [ -n "${missing:-}" ]; then
  apt-get -o DPkg::Lock::Timeout=900 update -q && apt-get -o DPkg::Lock::Timeout=900 install -y -q --no-install-recommends $missing
fi
PIDS=()
cleanup() {
  set +e
  "$REPO/tests/lab/sshd.sh" stop "$WORK/ssh" 2>/dev/null
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  sleep 0.3; ip netns del fhi-gw 2>/dev/null; ip netns del fhi-lap 2>/dev/null
}
trap cleanup EXIT
ip netns del fhi-gw 2>/dev/null || true; ip netns del fhi-lap 2>/dev/null || true
rm -rf "$WORK"; mkdir -p "$WORK" "$(dirname "$OUT")"
ip netns add fhi-gw; ip netns add fhi-lap
ip link add fhi-g type veth peer name fhi-l
ip link set fhi-g netns fhi-gw; ip link set fhi-l netns fhi-lap
for ns in fhi-gw fhi-lap; do
  ip netns exec $ns ip link set lo up
  ip netns exec $ns sysctl -qw net.ipv6.conf.all.disable_ipv6=1
done
ip netns exec fhi-gw ip link set fhi-g address 02:00:0a:29:00:01 up
ip netns exec fhi-lap ip link set fhi-l address 02:00:0a:29:00:42 up
ip netns exec fhi-gw ip addr add 10.41.0.1/24 dev fhi-g
ip netns exec fhi-gw ip addr add 203.0.113.10/24 dev fhi-g
# The laptop's DHCP hook: configure the address and default route it was given.
cat > "$WORK/udhcpc.sh" <<'HOOK'
#!/bin/sh
case "$1" in
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    [ -n "$router" ] && ip route replace default via "${router%% *}" dev "$interface"
    ;;
esac
exit 0
HOOK
chmod +x "$WORK/udhcpc.sh"
"$REPO/tests/lab/sshd.sh" start "$WORK/ssh" fhi-lap 22 >/dev/null
ip netns exec fhi-gw tcpdump -Z root -i fhi-g -s 0 -n -U -w "$WORK/cap.pcap" 2>/dev/null & TCPDUMP=$!; PIDS+=($TCPDUMP)
ip netns exec fhi-gw dnsmasq -k -u root --interface=fhi-g --bind-interfaces --no-resolv --no-hosts \
  --domain=corp.example --local=/corp.example/ --dhcp-fqdn --dhcp-range=10.41.0.100,10.41.0.120,1h \
  --dhcp-leasefile="$WORK/leases" --pid-file="$WORK/dnsmasq.pid" --log-facility=/dev/null & PIDS+=($!)
sleep 1.5
ip netns exec fhi-lap busybox udhcpc -i fhi-l -x hostname:laptop-ab12 -F laptop-ab12 -O hostname \
  -n -q -t 5 -T 1 -s "$WORK/udhcpc.sh" >/dev/null 2>&1
LAPTOP=$(ip netns exec fhi-lap ip -4 -o addr show dev fhi-l | awk '{split($4, a, "/"); print a[1]}')
[ -n "$LAPTOP" ] || { echo "the laptop got no address" >&2; exit 1; }
echo "laptop: $LAPTOP" >&2
sleep 0.5
ip netns exec fhi-lap busybox nslookup laptop-ab12.corp.example 10.41.0.1 >/dev/null 2>&1 || true
ip netns exec fhi-lap busybox nslookup "$LAPTOP" 10.41.0.1 >/dev/null 2>&1 || true
sleep 0.5
# shellcheck disable=SC2046
ip netns exec fhi-gw ssh $("$REPO/tests/lab/sshd.sh" opts "$WORK/ssh") -b 203.0.113.10 "root@$LAPTOP" \
  'hostname; sleep 1; echo done' >/dev/null
sleep 1
kill -INT "$TCPDUMP"; wait "$TCPDUMP" 2>/dev/null || true
mv "$WORK/cap.pcap" "$OUT"
echo "wrote $OUT ($(stat -c %s "$OUT") bytes)" >&2
