# netns-record.sh — shared by the recording scripts that build an "endpoint" and an
# "internet" network namespace joined by a veth pair and capture on the endpoint's leg
# (scripts/record-precision.sh, scripts/record-negatives.sh). Source it after setting:
#   NAME      the script's name for its log lines
#   EP INET   the two namespaces; EP_IF INET_IF the veth ends in them
#   WORK      the scratch dir (logs, configuration, raw captures)
# It defines say/die, package installation, the namespaces' setup and teardown, daemons in
# a namespace, waits, and one capture per case. Nothing here leaves the machine.

say() { printf '[%s %s] %s\n' "$NAME" "$(date +%T)" "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

# ensure_packages PKG...: install the Debian packages that are missing. While it does, a
# policy-rc.d that forbids starting services is put in place if there is none, so packaged
# servers do not start on the host; it is removed afterwards.
ensure_packages() {
  local p missing="" policy=""
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing="$missing $p"
  done
  [ -n "$missing" ] || return 0
  say "installing Debian packages:$missing"
  export DEBIAN_FRONTEND=noninteractive
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod 755 "$policy"
  fi
  apt-get -o DPkg::Lock::Timeout=900 update -q
  # shellcheck disable=SC2086
  apt-get -o DPkg::Lock::Timeout=900 install -y -q --no-install-recommends $missing
  [ -z "$policy" ] || rm -f "$policy"
}

kill_ns_procs() {  # kill_ns_procs NS SIGNAL: every process inside one of OUR namespaces
  local pids
  pids=$(ip netns pids "$1" 2>/dev/null || true)
  # shellcheck disable=SC2086
  [ -z "$pids" ] || kill "-$2" $pids 2>/dev/null || true
}
teardown() {
  kill_ns_procs "$EP" TERM; kill_ns_procs "$INET" TERM
  sleep 1
  kill_ns_procs "$EP" KILL; kill_ns_procs "$INET" KILL
  ip netns del "$EP" 2>/dev/null || true
  ip netns del "$INET" 2>/dev/null || true
}
on_exit() { local rc=$?; set +e; teardown; say "cleaned up; logs kept in $WORK"; exit $rc; }

# fresh_start: remove leftovers of earlier runs, make the scratch dir, clean up on exit.
fresh_start() {
  say "removing leftovers of earlier runs"
  teardown
  rm -rf "$WORK"; mkdir -p "$WORK"; chmod 755 "$WORK"
  trap on_exit EXIT
  trap 'exit 130' INT TERM
}

# begin PKG...: the opening every recording script shares — root, the output directory made
# and made absolute, the Debian packages installed, the leftovers of earlier runs removed.
begin() {
  [ "$(id -u)" = 0 ] || die "must run as root"
  mkdir -p "$OUTDIR"; OUTDIR=$(readlink -f "$OUTDIR")
  ensure_packages "$@"
  fresh_start
}

inep()   { ip netns exec "$EP" "$@"; }
ininet() { ip netns exec "$INET" "$@"; }
spawn() {  # spawn NS NAME CMD...: daemon in NS (its own session), output to $WORK/NAME.log
  local ns=$1 name=$2; shift 2
  ip netns exec "$ns" setsid "$@" > "$WORK/$name.log" 2>&1 &
}
wait_for() {  # wait_for SECONDS DESCRIPTION CMD...: poll (without sending any packet)
  local t=$1 what=$2 i; shift 2
  for ((i=0; i<t*10; i++)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  die "timed out waiting for $what"
}
listening() { ip netns exec "$1" ss -Hln --"$2" | grep -qF " $3:$4 "; }

# make_link LAPTOP/24 ROUTER/24 EP_MAC INET_MAC: the namespaces and the veth between them,
# IPv6 off, the router not forwarding, offloads off (wire-sized frames, valid checksums).
make_link() {
  local laptop=$1 router=$2
  ip netns add "$EP"; ip netns add "$INET"
  ip link add "$EP_IF" type veth peer name "$INET_IF"
  ip link set "$EP_IF" netns "$EP"; ip link set "$INET_IF" netns "$INET"
  local ns
  for ns in "$EP" "$INET"; do
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    ip netns exec "$ns" ip link set lo up
  done
  ininet sysctl -qw net.ipv4.ip_forward=0
  inep   ip link set "$EP_IF" address "$3"
  ininet ip link set "$INET_IF" address "$4"
  inep   ip addr add "$laptop" dev "$EP_IF"
  ininet ip addr add "$router" dev "$INET_IF"
  inep ip link set "$EP_IF" up; ininet ip link set "$INET_IF" up
  inep   ethtool -K "$EP_IF" tso off gso off gro off tx off rx off >/dev/null 2>&1 || true
  ininet ethtool -K "$INET_IF" tso off gso off gro off tx off rx off >/dev/null 2>&1 || true
}

# wanted CASE: whether CASE is to be recorded ($ONLY empty: all of them).
wanted() { [ -z "${ONLY:-}" ] || [[ " $ONLY " == *" $1 "* ]]; }

# record CASE CMD...: capture on the endpoint's leg (tcpdump -s 0; the filter $RECORD_FILTER,
# by default "not ip6": IPv4 only) while CMD runs, into $OUTDIR/CASE/input.pcap.
record() {
  local case=$1; shift
  wanted "$case" || return 0
  mkdir -p "$OUTDIR/$case"
  local pcap="$WORK/$case.pcap"
  # shellcheck disable=SC2086
  spawn "$EP" "tcpdump-$case" tcpdump -i "$EP_IF" -s 0 -U -w "$pcap" ${RECORD_FILTER:-not ip6}
  local tpid=$!
  sleep 1
  "$@"
  sleep 1
  kill -INT "$tpid"; wait "$tpid" 2>/dev/null || true
  cp "$pcap" "$OUTDIR/$case/input.pcap"
  say "$case: $(stat -c %s "$OUTDIR/$case/input.pcap") bytes"
}
