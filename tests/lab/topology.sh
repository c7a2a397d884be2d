#!/usr/bin/env bash
# farhand lab network: controller — relay — gateway — endpoint, in network namespaces.
#
#   topology.sh up terminating [DELAY_MS]   relay program terminates TCP/UDP (jump host)
#   topology.sh up forwarding  [DELAY_MS]   relay program is an L2 bridge (far router / TURN)
#   topology.sh relay DELAY_MS              restart the relay program(s) with a new delay
#   topology.sh env                         print the addresses as shell variables
#   topology.sh status                      namespaces, addresses, relay processes
#   topology.sh down                        remove everything (idempotent)
#
# Addresses: addrs.env. Run-time state (pid files, logs, mode.env): $FHLAB_RUN (/tmp/fhlab).
# The relay binary: $FHLAB_RELAY_BIN, else built with cargo into
# ${CARGO_TARGET_DIR:-<repo>/target}/release/farhand-lab-relay.
# Disturbances (farhand-lab-relay options, default none): FHLAB_JITTER_MS (each hold moves
# within ±J ms, all modes, order kept), FHLAB_DROP_PCT and FHLAB_REORDER_PCT (share of frames
# dropped / overtaken, bridge only), FHLAB_RELAY_SEED (seed of those draws, default 1).
# The relay runs SCHED_FIFO (priority $FHLAB_RELAY_RT, default 10; 0 or empty: normal
# scheduling) so a busy machine (compiles) adds less jitter to its holds.
# Needs root, iproute2, ethtool (optional: offloads stay on without it), chrt (optional).
set -euo pipefail

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$LAB_DIR/../.." && pwd)
# shellcheck source=addrs.env
. "$LAB_DIR/addrs.env"

ALL_NS=("$FHLAB_NS_CTL" "$FHLAB_NS_RELAY" "$FHLAB_NS_GW" "$FHLAB_NS_EP")

die() { echo "topology.sh: $*" >&2; exit 1; }
say() { echo "topology.sh: $*" >&2; }
nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

relay_bin() {
    if [[ -n "${FHLAB_RELAY_BIN:-}" ]]; then
        [[ -x "$FHLAB_RELAY_BIN" ]] || die "FHLAB_RELAY_BIN=$FHLAB_RELAY_BIN is not executable"
        echo "$FHLAB_RELAY_BIN"
        return
    fi
    local target=${CARGO_TARGET_DIR:-$REPO_DIR/target}
    (cd "$REPO_DIR" && CARGO_TARGET_DIR=$target cargo build --quiet --release -p farhand-lab-relay) >&2 \
        || die "cargo build of farhand-lab-relay failed"
    echo "$target/release/farhand-lab-relay"
}

ns_exists() { ip netns list | awk '{print $1}' | grep -qx "$1"; }

# Offloads off so frames on the wire (and in captures) are at most MTU-sized and carry
# finished checksums: needed by the user-space bridge, and realistic for farhand.
no_offloads() {
    local ns=$1 dev=$2
    if command -v ethtool >/dev/null; then
        nsx "$ns" ethtool -K "$dev" tx off rx off gro off gso off tso off >/dev/null 2>&1 \
            || say "warning: ethtool -K $dev (in $ns) failed; offloads may be on"
    else
        say "warning: no ethtool: offloads stay on for $dev"
    fi
}

# veth pair NS1:IF1 <-> NS2:IF2, both up, offloads off.
veth() {
    local ns1=$1 if1=$2 ns2=$3 if2=$4
    nsx "$ns1" ip link add "$if1" type veth peer name "$if2" netns "$ns2"
    nsx "$ns1" ip link set "$if1" up
    nsx "$ns2" ip link set "$if2" up
    no_offloads "$ns1" "$if1"
    no_offloads "$ns2" "$if2"
}

# True while PID runs: a zombie has ended (the relays are children of an `up` that has exited,
# and PID 1 may take a second or more to reap them).
running() {
    local st
    st=$(sed -E 's/.*\) (.).*/\1/' "/proc/$1/stat" 2>/dev/null) || return 1
    [[ -n "$st" && "$st" != Z ]]
}

stop_relays() {
    local f pid
    for f in "$FHLAB_RUN"/relay-*.pid; do
        [[ -e "$f" ]] || continue
        pid=$(cat "$f")
        if running "$pid"; then
            kill -TERM "$pid" 2>/dev/null || true
            for _ in $(seq 50); do running "$pid" || break; sleep 0.05; done
            running "$pid" && kill -KILL "$pid" 2>/dev/null || true
        fi
        rm -f "$f"
    done
}

# Starts one relay process in the relay namespace; NAME labels its pid and log files.
start_one() {
    local name=$1; shift
    local log="$FHLAB_RUN/relay-$name.log" pid
    local rt=()
    if [[ -n "${FHLAB_RELAY_RT-10}" && "${FHLAB_RELAY_RT-10}" != 0 ]] && command -v chrt >/dev/null; then
        rt=(chrt -f "${FHLAB_RELAY_RT-10}")
    fi
    : >"$log" # truncated here, not in the child, so an old banner cannot pass for a new one
    # ip netns exec and chrt both exec: $! is the relay's own PID
    ip netns exec "$FHLAB_NS_RELAY" "${rt[@]}" "$@" >>"$log" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$FHLAB_RUN/relay-$name.pid"
    for _ in $(seq 100); do
        grep -q '^farhand-lab-relay: .*round trip' "$log" 2>/dev/null && { say "relay $name (pid $pid): $(head -1 "$log" | cut -d' ' -f2-)"; return 0; }
        running "$pid" || break
        sleep 0.05
    done
    cat "$log" >&2
    die "relay $name did not start (log: $log)"
}

# Options for the relay program from FHLAB_JITTER_MS / FHLAB_RELAY_SEED (and, for the bridge,
# FHLAB_DROP_PCT / FHLAB_REORDER_PCT). $2 (a listen port, terminating relays): each relay
# process draws from its own seed, derived from the run's seed and that port; with one seed for
# all, every relay's first connection drew the same jitter, so concurrent sessions through
# different relays moved together and a run held one draw, not one per session.
disturb_opts() {
    local kind=$1 port=${2:-0} j=${FHLAB_JITTER_MS:-0} seed=${FHLAB_RELAY_SEED:-1} drop=${FHLAB_DROP_PCT:-0} reorder=${FHLAB_REORDER_PCT:-0}
    [[ "$j" =~ ^[0-9]+$ ]] || die "FHLAB_JITTER_MS must be a whole number of milliseconds, not '$j'"
    [[ "$seed" =~ ^[0-9]+$ ]] || die "FHLAB_RELAY_SEED must be a whole number, not '$seed'"
    [[ "$drop" =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "FHLAB_DROP_PCT must be a percentage, not '$drop'"
    [[ "$reorder" =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "FHLAB_REORDER_PCT must be a percentage, not '$reorder'"
    echo "--jitter-ms $j --seed $(( (seed + port * 1000003) & 0x7fffffffffffffff ))"
    [[ $kind == bridge ]] && echo "--drop-pct $drop --reorder-pct $reorder"
    return 0
}

start_relays() {
    local delay=$1 bin mode map
    [[ "$delay" =~ ^[0-9]+$ ]] || die "DELAY_MS must be a whole number of milliseconds, not '$delay'"
    [[ -f "$FHLAB_RUN/mode" ]] || die "the lab is not up (topology.sh up MODE)"
    mode=$(cat "$FHLAB_RUN/mode")
    bin=$(relay_bin)
    stop_relays
    case "$mode" in
    terminating)
        local opts
        for map in $FHLAB_TCP_FORWARDS; do
            opts=$(disturb_opts tcp "${map%%:*}")
            # shellcheck disable=SC2086 # $opts: separate words
            start_one "tcp-${map%%:*}" "$bin" tcp --listen "$RELAY_CTL_IP:${map%%:*}" \
                --connect "$EP_IP:${map##*:}" --delay-ms "$delay" $opts
        done
        for map in $FHLAB_UDP_FORWARDS; do
            opts=$(disturb_opts udp "${map%%:*}")
            # shellcheck disable=SC2086
            start_one "udp-${map%%:*}" "$bin" udp --listen "$RELAY_CTL_IP:${map%%:*}" \
                --connect "$EP_IP:${map##*:}" --delay-ms "$delay" $opts
        done
        ;;
    forwarding)
        local opts
        opts=$(disturb_opts bridge)
        # shellcheck disable=SC2086
        start_one bridge "$bin" bridge --a "$RELAY_CTL_IF" --b "$RELAY_GW_IF" --delay-ms "$delay" $opts
        ;;
    *) die "unknown mode in $FHLAB_RUN/mode: $mode" ;;
    esac
    sed -i -e "s/^DELAY_MS=.*/DELAY_MS=$delay/" -e "s/^JITTER_MS=.*/JITTER_MS=${FHLAB_JITTER_MS:-0}/" \
        -e "s/^DROP_PCT=.*/DROP_PCT=${FHLAB_DROP_PCT:-0}/" -e "s/^REORDER_PCT=.*/REORDER_PCT=${FHLAB_REORDER_PCT:-0}/" \
        "$FHLAB_RUN/mode.env"
}

# The relay port that FHLAB_TCP_FORWARDS maps to endpoint port $1 (empty if none).
relay_port_for() {
    local map
    for map in $FHLAB_TCP_FORWARDS; do
        [[ ${map##*:} == "$1" ]] && { echo "${map%%:*}"; return; }
    done
}

write_mode_env() {
    local mode=$1 delay=$2
    {
        echo "# written by topology.sh up $mode"
        echo "FHLAB_MODE=$mode"
        echo "DELAY_MS=$delay"
        echo "JITTER_MS=${FHLAB_JITTER_MS:-0}"
        echo "DROP_PCT=${FHLAB_DROP_PCT:-0}      # bridge (forwarding) only"
        echo "REORDER_PCT=${FHLAB_REORDER_PCT:-0}   # bridge (forwarding) only"
        if [[ $mode == terminating ]]; then
            echo "GW_RELAY_IP=$GW_RELAY_IP_TERM"
            echo "EP_PEER_IP=$RELAY_GW_IP      # the address the endpoint (and farhand on gw-ep) sees"
            echo "SSH_HOST=$RELAY_CTL_IP       # where the controller connects for the endpoint's sshd"
            echo "SSH_PORT=${FHLAB_TCP_FORWARDS%%:*}"
            echo "ECHO_HOST=$RELAY_CTL_IP      # tcp+udp echo on the endpoint, port 7, via the relay"
            echo "ECHO_PORT=7007"
            echo "RDP_HOST=$RELAY_CTL_IP       # where the controller connects for the endpoint's RDP server (3389)"
            echo "RDP_PORT=$(relay_port_for 3389)      # the relay port FHLAB_TCP_FORWARDS maps to 3389 (empty if none)"
        else
            echo "GW_RELAY_IP=$GW_RELAY_IP_FWD"
            echo "EP_PEER_IP=$CTL_IP"
            echo "SSH_HOST=$EP_IP"
            echo "SSH_PORT=22"
            echo "ECHO_HOST=$EP_IP"
            echo "ECHO_PORT=7"
            echo "RDP_HOST=$EP_IP"
            echo "RDP_PORT=3389"
        fi
    } >"$FHLAB_RUN/mode.env"
}

cmd_up() {
    local mode=${1:-} delay=${2:-${DELAY_MS:-0}}
    [[ $mode == terminating || $mode == forwarding ]] || die "usage: topology.sh up terminating|forwarding [DELAY_MS]"
    [[ "$delay" =~ ^[0-9]+$ ]] || die "DELAY_MS must be a whole number of milliseconds, not '$delay'"
    [[ $EUID -eq 0 ]] || die "needs root"
    cmd_down quiet
    mkdir -p "$FHLAB_RUN"
    local ns
    for ns in "${ALL_NS[@]}"; do
        ip netns add "$ns"
        nsx "$ns" ip link set lo up
        # no IPv6: keeps router solicitations / MLD / DAD out of the captures, and the
        # bridge ports in the relay namespace silent
        nsx "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    done
    veth "$FHLAB_NS_CTL" "$CTL_IF" "$FHLAB_NS_RELAY" "$RELAY_CTL_IF"
    veth "$FHLAB_NS_RELAY" "$RELAY_GW_IF" "$FHLAB_NS_GW" "$GW_RELAY_IF"
    veth "$FHLAB_NS_GW" "$GW_EP_IF" "$FHLAB_NS_EP" "$EP_IF"

    # gateway: plain kernel router; endpoint behind it
    nsx "$FHLAB_NS_GW" sysctl -qw net.ipv4.ip_forward=1
    nsx "$FHLAB_NS_GW" ip addr add "$GW_EP_IP/24" dev "$GW_EP_IF"
    nsx "$FHLAB_NS_EP" ip addr add "$EP_IP/24" dev "$EP_IF"
    nsx "$FHLAB_NS_EP" ip route add default via "$GW_EP_IP"
    nsx "$FHLAB_NS_CTL" ip addr add "$CTL_IP/24" dev "$CTL_IF"

    if [[ $mode == terminating ]]; then
        # relay: an address on each side, no forwarding (ip_forward stays 0), so the controller
        # reaches the endpoint only through the relay program
        nsx "$FHLAB_NS_RELAY" ip addr add "$RELAY_CTL_IP/24" dev "$RELAY_CTL_IF"
        nsx "$FHLAB_NS_RELAY" ip addr add "$RELAY_GW_IP/24" dev "$RELAY_GW_IF"
        nsx "$FHLAB_NS_RELAY" ip route add "${EP_IP%.*}.0/24" via "$GW_RELAY_IP_TERM"
        nsx "$FHLAB_NS_GW" ip addr add "$GW_RELAY_IP_TERM/24" dev "$GW_RELAY_IF"
    else
        # relay: two IP-less ports bridged by the relay program; controller and gw-relay share
        # one subnet through it, the gateway routes controller <-> endpoint
        nsx "$FHLAB_NS_GW" ip addr add "$GW_RELAY_IP_FWD/24" dev "$GW_RELAY_IF"
        nsx "$FHLAB_NS_CTL" ip route add default via "$GW_RELAY_IP_FWD"
    fi
    echo "$mode" >"$FHLAB_RUN/mode"
    write_mode_env "$mode" "$delay"
    start_relays "$delay"
    say "up ($mode, +$delay ms round trip); addresses:"
    cmd_env
}

cmd_env() {
    grep -v '^\s*#' "$LAB_DIR/addrs.env" | grep -v '^\s*$' | sed 's/\s*#.*//' | while IFS= read -r line; do
        # print resolved values
        local name=${line%%=*}
        printf '%s=%q\n' "$name" "${!name}"
    done
    [[ -f "$FHLAB_RUN/mode.env" ]] && grep -v '^#' "$FHLAB_RUN/mode.env" | sed 's/\s*#.*//'
    return 0
}

cmd_status() {
    local ns
    for ns in "${ALL_NS[@]}"; do
        if ns_exists "$ns"; then
            echo "== $ns"
            nsx "$ns" ip -br addr | grep -v '^lo '
        else
            echo "== $ns: absent"
        fi
    done
    [[ -f "$FHLAB_RUN/mode.env" ]] && { echo "== mode"; grep -E '^(FHLAB_MODE|DELAY_MS)=' "$FHLAB_RUN/mode.env"; }
    local f
    for f in "$FHLAB_RUN"/relay-*.pid; do
        [[ -e "$f" ]] || continue
        local pid; pid=$(cat "$f")
        if running "$pid"; then echo "relay $(basename "$f" .pid) pid $pid running"; else echo "relay $(basename "$f" .pid) pid $pid gone"; fi
    done
    return 0
}

cmd_down() {
    local quiet=${1:-} ns pid
    stop_relays
    for ns in "${ALL_NS[@]}"; do
        ns_exists "$ns" || continue
        # anything else the lab started in there (sshd, echo servers): stop it by PID, or the
        # namespace and its veths would outlive `ip netns del`
        for pid in $(ip netns pids "$ns" 2>/dev/null); do
            say "stopping pid $pid ($(tr '\0' ' ' </proc/"$pid"/cmdline 2>/dev/null | cut -c1-60)) left in $ns"
            kill -TERM "$pid" 2>/dev/null || true
        done
        sleep 0.2
        for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
        ip netns del "$ns"
    done
    rm -f "$FHLAB_RUN/mode" "$FHLAB_RUN/mode.env"
    [[ -n "$quiet" ]] || say "down"
}

case "${1:-}" in
up) shift; cmd_up "$@" ;;
relay) shift; [[ $# -eq 1 ]] || die "usage: topology.sh relay DELAY_MS"; start_relays "$1" ;;
env) cmd_env ;;
status) cmd_status ;;
down) cmd_down ;;
*) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2; exit 2 ;;
esac
