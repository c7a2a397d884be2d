#!/usr/bin/env bash
# benches/callgrind.sh — instructions per packet, by packet class, counted by callgrind.
#
# Usage: benches/callgrind.sh [--pcap /dev/shm/bench.pcap] [--farhand target/release/farhand]
#                             [--packets 20000] [--work DIR]
#
# Counts instructions, not seconds: the same binary on the same input gives the same count
# whatever else the machine does, so a regression shows without wall-clock noise. For each
# class a small capture is cut (tcpdump filters) from the bench capture (make-bench-pcap.sh),
# from a flood (benches/flood.py) and from the project's own SSH case; farhand reads it with
# one worker under `valgrind --tool=callgrind`; the count of an empty capture (start-up,
# configuration, shutdown) is subtracted and the rest divided by the packets read.
# Classes:
#   bulk         established TCP bulk data (iperf3, port 5201, segments >= 1000 bytes)
#   new-tcp      a TCP SYN opening a flow of its own (flood)
#   new-udp      a UDP datagram with 32 bytes opening a flow of its own (flood)
#   dns          DNS over UDP port 53 (queries and answers)
#   tls-hello    TLS ClientHellos on port 443 (each one a flow's first packet seen)
#   rc-session   packets of an interactive SSH session (tests/cases/own-ssh-relayed-80ms)
# Prints a markdown table on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."

PCAP=/dev/shm/bench.pcap
FARHAND=target/release/farhand
N=20000
WORK=""
while [ $# -gt 0 ]; do
  case $1 in
    --pcap) PCAP=$2; shift 2;;
    --farhand) FARHAND=$2; shift 2;;
    --packets) N=$2; shift 2;;
    --work) WORK=$2; shift 2;;
    *) sed -n '2,5p' "$0" >&2; exit 2;;
  esac
done
for tool in valgrind tcpdump python3; do
  command -v "$tool" >/dev/null || { echo "callgrind.sh: $tool is missing" >&2; exit 1; }
done
[ -f "$PCAP" ] || { echo "callgrind.sh: $PCAP: no bench capture (../shared/peers/make-bench-pcap.sh)" >&2; exit 1; }
[ -x "$FARHAND" ] || { echo "callgrind.sh: $FARHAND: build it first (cargo build --release)" >&2; exit 1; }
WORK=${WORK:-$(mktemp -d)}
mkdir -p "$WORK"

cut() { # NAME SOURCE FILTER: the first N packets of SOURCE that pass FILTER
  tcpdump -n -q -r "$2" -c "$N" -w "$WORK/$1.pcap" "$3" 2>/dev/null || true
}
python3 benches/flood.py --packets $((4 * N)) --seed 3 "$WORK/flood.pcap" 2>/dev/null
cut bulk "$PCAP" 'tcp port 5201 and greater 1000'
cut new-tcp "$WORK/flood.pcap" 'net 198.18.0.0/15 and tcp[tcpflags] == tcp-syn'
cut new-udp "$WORK/flood.pcap" 'net 198.18.0.0/15 and udp'
cut dns "$PCAP" 'udp port 53'
cut tls-hello "$PCAP" 'tcp port 443 and tcp[((tcp[12:1] & 0xf0) >> 2):1] = 0x16 and tcp[((tcp[12:1] & 0xf0) >> 2) + 5:1] = 0x01'
cut rc-session tests/cases/own-ssh-relayed-80ms/input.pcap 'tcp port 22'
# The empty capture: the pcap header of one of them.
head -c 24 "$WORK/bulk.pcap" > "$WORK/empty.pcap"

count() { # FILE -> instructions (Ir) of one run
  local out="$WORK/callgrind.$(basename "$1" .pcap).out"
  valgrind --tool=callgrind --callgrind-out-file="$out" "$FARHAND" -r "$1" -w 1 -q -o /dev/null >/dev/null 2>&1
  awk '/^summary:/ {print $2}' "$out"
}
packets() { tcpdump -n -q -r "$1" 2>/dev/null | wc -l; }

base=$(count "$WORK/empty.pcap")
echo "| class | packets | instructions per packet |"
echo "|---|---:|---:|"
for class in bulk new-tcp new-udp dns tls-hello rc-session; do
  f="$WORK/$class.pcap"
  n=$(packets "$f")
  ir=$(count "$f")
  echo "| $class | $n | $(( (ir - base) / (n > 0 ? n : 1) )) |"
done
echo
echo "- empty capture (start-up and shutdown): $base instructions; farhand: \`$FARHAND\`, one worker; valgrind $(valgrind --version | sed 's/valgrind-//')"
echo "- classes cut from \`$PCAP\`, a seeded flood (benches/flood.py --seed 3) and tests/cases/own-ssh-relayed-80ms"
