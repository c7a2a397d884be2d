#!/usr/bin/env bash
# Records a small RDP session through the terminating relay, for a regression case.
#
#   record-rdp-case.sh OUT.pcap [DELAY_MS]      (as root; DELAY_MS default 80)
#
# Brings the lab up in terminating mode with DELAY_MS added on the controller leg
# (topology.sh; FHLAB_RELAY_BIN=… to use a built relay), serves a 320x200 Xvfb on the endpoint
# with freerdp-shadow-cli3 (TLS security, no authentication; an xterm covers the screen and
# saves what is typed into it), connects xfreerdp3 from the controller (GFX pipeline), and
# has xdotool type 26 keys ("hello world rdp lab timing") at fixed human-like intervals
# (150–300 ms within words; pauses of 1.4, 1.2 and 1.15 s before three of the spaces). tcpdump
# captures everything on gw-ep, where farhand would (the endpoint sees the relay, 10.77.2.2,
# as its peer). Writes OUT.pcap and OUT.keys (one line per key: the key, then the scripted
# delay before it in ms; the first key has none), checks that the text arrived in the
# endpoint's xterm (exit 1 if not) and tears the lab down. The shadow server streams frames
# continuously (≈20 a second here), so the screen size and session length set the size
# (≈0.5–1 MB).
set -euo pipefail

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=addrs.env
. "$LAB_DIR/addrs.env"

OUT=${1:-}
DELAY=${2:-80}
[[ -n "$OUT" ]] || { echo "usage: record-rdp-case.sh OUT.pcap [DELAY_MS]" >&2; exit 2; }
[[ $EUID -eq 0 ]] || { echo "record-rdp-case.sh: needs root" >&2; exit 2; }
case "$OUT" in /*) ;; *) OUT=$PWD/$OUT ;; esac
KEYS=${OUT%.pcap}.keys

EP_DPY=:75  # run.py uses :71–:74
CTL_DPY=:76
WORK=$(mktemp -d /tmp/fhlab-rdp-case.XXXXXX)
chmod 755 "$WORK"
PIDS=()
TCPDUMP_PID=

cleanup() {
    local i
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do kill "${PIDS[$i]}" 2>/dev/null || true; done
    [[ -n "$TCPDUMP_PID" ]] && kill "$TCPDUMP_PID" 2>/dev/null || true
    sleep 0.3
    "$LAB_DIR/topology.sh" down >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

"$LAB_DIR/topology.sh" up terminating "$DELAY" >/dev/null
# shellcheck disable=SC1091
. "$FHLAB_RUN/mode.env"
[[ -n "${RDP_PORT:-}" ]] || { echo "record-rdp-case.sh: the relay exposes no RDP port (FHLAB_TCP_FORWARDS)" >&2; exit 1; }

ep() { DISPLAY=$EP_DPY ip netns exec "$FHLAB_NS_EP" "$@"; }
ctl() { DISPLAY=$CTL_DPY ip netns exec "$FHLAB_NS_CTL" "$@"; }

ip netns exec "$FHLAB_NS_EP" Xvfb "$EP_DPY" -screen 0 320x200x24 -nolisten tcp >"$WORK/xvfb-ep.log" 2>&1 &
PIDS+=($!)
ip netns exec "$FHLAB_NS_CTL" Xvfb "$CTL_DPY" -screen 0 640x480x24 -nolisten tcp >"$WORK/xvfb-ctl.log" 2>&1 &
PIDS+=($!)
sleep 1
# no window manager: keys go to the window under the pointer (the centre), so the xterm
# covers the screen; cat with the terminal non-canonical saves each key as it arrives
ep xterm -geometry 60x20+0+0 -e sh -c "stty -icanon; exec cat >$WORK/typed.txt" >"$WORK/xterm.log" 2>&1 &
PIDS+=($!)
ep freerdp-shadow-cli3 /port:3389 /sec:tls -auth /log-level:WARN >"$WORK/shadow.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 75); do
    [[ -n "$(ip netns exec "$FHLAB_NS_EP" ss -Hltn 'sport = :3389')" ]] && break
    sleep 0.2
done

rm -f "$OUT"
ip netns exec "$FHLAB_NS_GW" tcpdump -i "$GW_EP_IF" -n -s 0 -U -w "$OUT" >"$WORK/tcpdump.log" 2>&1 &
TCPDUMP_PID=$!
for _ in $(seq 50); do grep -q 'listening on' "$WORK/tcpdump.log" && break; sleep 0.1; done

ctl xfreerdp3 "/v:$RDP_HOST:$RDP_PORT" /sec:tls /cert:ignore /u:lab /p:x /gfx /size:320x200 \
    /log-level:WARN >"$WORK/client.log" 2>&1 &
CLIENT_PID=$!
PIDS+=("$CLIENT_PID")
WIN=$(timeout 30 env DISPLAY=$CTL_DPY ip netns exec "$FHLAB_NS_CTL" xdotool search --sync --name FreeRDP | head -1)
[[ -n "$WIN" ]] || { tail -5 "$WORK/client.log" >&2; echo "record-rdp-case.sh: no xfreerdp3 window" >&2; exit 1; }
sleep 1.5 # the window is mapped before the session's first frames
ctl xdotool windowfocus --sync "$WIN"
sleep 0.3

# key, delay before it (ms; the first key has none). Within words 150–300 ms.
SCRIPT="h - e 182 l 231 l 164 o 273 space 1400 w 246 o 158 r 297 l 203 d 176 space 1200 r 214 d 262 p 189
space 221 l 168 a 243 b 197 space 1150 t 229 i 171 m 256 i 183 n 214 g 238"
args=() ; : >"$KEYS"
set -- $SCRIPT
while [[ $# -gt 0 ]]; do
    key=$1 delay=$2; shift 2
    [[ $delay == - ]] || args+=(sleep "$(printf '%d.%03d' $((delay / 1000)) $((delay % 1000)))")
    args+=(key --delay 0 "$key")
    printf '%s\t%s\n' "$key" "$delay" >>"$KEYS"
done
ctl xdotool "${args[@]}"
sleep 1.5

kill "$CLIENT_PID" 2>/dev/null || true   # the client disconnects first
wait "$CLIENT_PID" 2>/dev/null || true
sleep 0.5
kill "$TCPDUMP_PID"; wait "$TCPDUMP_PID" 2>/dev/null || true
TCPDUMP_PID=

want="hello world rdp lab timing"
got=$(cat "$WORK/typed.txt" 2>/dev/null || true)
echo "record-rdp-case.sh: $OUT ($(stat -c %s "$OUT") bytes, $(grep -c . "$KEYS") keys in $KEYS); endpoint's xterm got '$got'"
[[ "$got" == "$want" ]] || { echo "record-rdp-case.sh: expected '$want'" >&2; exit 1; }
