#!/usr/bin/env bash
# Measures the lab by hand-equivalent checks and prints one Markdown table per mode.
#
#   verify.sh [MODE...]        modes: terminating forwarding (default: both)
#   DELAYS="0 60 120 200" N=20 verify.sh
#
# Pipelined: N messages 5 ms apart without waiting for replies; each reply timed from its own
# send. A relay that serialised its holds would make these grow.
#
# Per mode: brings the topology up, starts the echo server (rtt.py) and a real sshd in the
# endpoint namespace, then for each delay restarts the relay (`topology.sh relay D`) and
# measures. Brings everything down at the end (also on failure).
set -euo pipefail

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=addrs.env
. "$LAB_DIR/addrs.env"
DELAYS=${DELAYS:-"0 60 120 200"}
N=${N:-20}
MODES=("$@")
[[ ${#MODES[@]} -gt 0 ]] || MODES=(terminating forwarding)

SSH_DIR=$(mktemp -d /tmp/fhlab-verify-ssh.XXXXXX)
ECHO_PID=
cleanup() {
    "$LAB_DIR/sshd.sh" stop "$SSH_DIR" || true
    [[ -n "$ECHO_PID" ]] && kill "$ECHO_PID" 2>/dev/null || true
    "$LAB_DIR/topology.sh" down || true
    rm -rf "$SSH_DIR"
}
trap cleanup EXIT

# median of ping's time= values, after one unmeasured warm-up ping (ARP through the relay)
ping_median() {
    local ns=$1 host=$2
    ip netns exec "$ns" ping -c 1 -W 2 "$host" >/dev/null
    ip netns exec "$ns" ping -c "$N" -i 0.1 -W 2 "$host" | grep -o 'time=[0-9.]*' | cut -d= -f2 |
        python3 -c 'import sys,statistics; v=[float(x) for x in sys.stdin]; print(f"{statistics.median(v):.2f}" if len(v) else "lost")'
}
rtt() { ip netns exec "$FHLAB_NS_CTL" python3 "$LAB_DIR/rtt.py" "$@" --json -n "$N" | python3 -c 'import json,sys; print("%.2f" % json.load(sys.stdin)["median_ms"])'; }
rtt_med_max() { ip netns exec "$FHLAB_NS_CTL" python3 "$LAB_DIR/rtt.py" "$@" --json -n "$N" | python3 -c 'import json,sys; d=json.load(sys.stdin); print("%.2f / %.2f" % (d["median_ms"], max(d["samples_ms"])))'; }

# ssh: a command round trip, wall time for a whole login+command, and 4 MiB through it intact
ssh_check() {
    local host=$1 port=$2 t0 t1 want got
    t0=$(date +%s.%N)
    "$LAB_DIR/sshd.sh" ssh "$SSH_DIR" "$host" "$port" true
    t1=$(date +%s.%N)
    head -c 4194304 /dev/urandom >"$SSH_DIR/blob"
    want=$(sha256sum <"$SSH_DIR/blob" | cut -c1-16)
    got=$("$LAB_DIR/sshd.sh" ssh "$SSH_DIR" "$host" "$port" sha256sum <"$SSH_DIR/blob" | cut -c1-16)
    local peer
    peer=$("$LAB_DIR/sshd.sh" ssh "$SSH_DIR" "$host" "$port" 'echo ${SSH_CLIENT%% *}')
    if [[ "$want" == "$got" ]]; then
        printf 'ok, login %s ms, 4 MiB intact, sshd sees %s' "$(python3 -c "print(round(($t1 - $t0) * 1000))")" "$peer"
    else
        printf 'DATA MISMATCH'
    fi
}

for mode in "${MODES[@]}"; do
    "$LAB_DIR/topology.sh" up "$mode" 0 >/dev/null
    # shellcheck disable=SC1091
    . "$FHLAB_RUN/mode.env"
    ip netns exec "$FHLAB_NS_EP" python3 "$LAB_DIR/rtt.py" serve --port 7 >"$FHLAB_RUN/echo.log" 2>&1 </dev/null &
    ECHO_PID=$!
    "$LAB_DIR/sshd.sh" start "$SSH_DIR" "$FHLAB_NS_EP" 22 >/dev/null
    sleep 0.3
    echo
    echo "### $mode mode (N=$N samples per figure, medians in ms)"
    echo
    if [[ $mode == terminating ]]; then
        echo "| D (ms) | TCP echo via relay | TCP pipelined (median / max) | UDP echo via relay | UDP pipelined (median / max) | ping gw→relay | ssh via relay:$SSH_PORT |"
        echo "|---|---|---|---|---|---|---|"
    else
        echo "| D (ms) | ping endpoint→controller | TCP echo ctl→ep | UDP echo ctl→ep | UDP pipelined (median / max) | ssh ctl→ep:22 |"
        echo "|---|---|---|---|---|---|"
    fi
    for d in $DELAYS; do
        "$LAB_DIR/topology.sh" relay "$d" 2>/dev/null
        tcp=$(rtt tcp "$ECHO_HOST" "$ECHO_PORT")
        udp=$(rtt udp "$ECHO_HOST" "$ECHO_PORT")
        up=$(rtt_med_max udp "$ECHO_HOST" "$ECHO_PORT" --pipeline --gap 0.005)
        if [[ $mode == terminating ]]; then
            # TCP pipelined only here: both TCP legs are local, so nothing but the relay's
            # holds can make replies late (end to end, the congestion window would)
            tp=$(rtt_med_max tcp "$ECHO_HOST" "$ECHO_PORT" --pipeline --gap 0.005)
            gw=$(ping_median "$FHLAB_NS_GW" "$RELAY_GW_IP")
            echo "| $d | $tcp | $tp | $udp | $up | $gw | $(ssh_check "$SSH_HOST" "$SSH_PORT") |"
        else
            p=$(ping_median "$FHLAB_NS_EP" "$CTL_IP")
            echo "| $d | $p | $tcp | $udp | $up | $(ssh_check "$SSH_HOST" "$SSH_PORT") |"
        fi
    done
    "$LAB_DIR/sshd.sh" stop "$SSH_DIR"
    kill "$ECHO_PID" 2>/dev/null || true
    ECHO_PID=
done
