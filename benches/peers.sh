#!/usr/bin/env bash
# benches/peers.sh — time farhand against its peers on the benchmark capture, in one sitting.
#
# Usage: benches/peers.sh [--pcap /dev/shm/bench.pcap] [--farhand PATH] [--runs 3] [--warmup 1]
#                         [--cpu 1] [--json-dir DIR]
#
# Rows, measured one after another in this order:
#   floor            pcap_floor (libpcap pcap_next_ex loop, /work/shared/peers/pcap_floor.c)
#   ndpiReader       ndpiReader -q -i PCAP                 (Debian libndpi-bin)
#   farhand 1 worker farhand -r PCAP ... --workers 1      (only with --farhand)
#   farhand default  farhand -r PCAP ...  (default workers, all cores; only with --farhand)
# All but the last run as `taskset -c CPU hyperfine -N -w WARMUP -r RUNS ...`: hyperfine itself is
# pinned and the measured command inherits the affinity. The last row is not pinned.
# Peak RSS comes from one extra run per row under /usr/bin/time -v (pinned the same way).
# Prints a markdown table on stdout; progress goes to stderr. See benches/README.md.
set -euo pipefail

# ------------------------------------------------------------------ settings
PCAP=/dev/shm/bench.pcap
FARHAND=""
RUNS=3
WARMUP=1
CPU=1
JSON_DIR=""
FLOOR_SRC=${FLOOR_SRC:-/work/shared/peers/pcap_floor.c}
# farhand's arguments after `-r PCAP`. The CLI is `farhand -r FILE -o FILE --workers N -q`
# (-q: no progress bar / summary). If the binary does not know -q, it is dropped automatically
# (see below); edit these if the CLI changes.
FARHAND_ARGS=(-o /dev/null -q)
FARHAND_ARGS_PINNED=(--workers 1)   # the "1 core" row
FARHAND_ARGS_ALL=()                 # the "all cores" row: farhand's default worker count

usage() { sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
  case $1 in
    --pcap) PCAP=$2; shift 2;;
    --farhand) FARHAND=$2; shift 2;;
    --runs) RUNS=$2; shift 2;;
    --warmup) WARMUP=$2; shift 2;;
    --cpu) CPU=$2; shift 2;;
    --json-dir) JSON_DIR=$2; shift 2;;
    -h|--help) usage;;
    *) echo "unknown argument: $1" >&2; usage;;
  esac
done
log() { echo "peers.sh: $*" >&2; }

[ -r "$PCAP" ] || { log "cannot read $PCAP (make it with make-bench-pcap.sh and copy it to /dev/shm, see benches/README.md)"; exit 1; }
PCAP=$(readlink -f "$PCAP")
if [ -n "$FARHAND" ]; then
  FARHAND=$(readlink -f "$FARHAND")
  [ -x "$FARHAND" ] || { log "not executable: $FARHAND"; exit 1; }
fi
if [ "$(stat -f -c %T "$PCAP")" != tmpfs ]; then
  log "WARNING: $PCAP is not on tmpfs; page-cache eviction on this machine makes timings noisy"
fi

# ------------------------------------------------------------------ dependencies
need=()
command -v hyperfine  >/dev/null || need+=(hyperfine)
command -v ndpiReader >/dev/null || need+=(libndpi-bin)
command -v gcc        >/dev/null || need+=(gcc)
command -v taskset    >/dev/null || need+=(util-linux)
command -v python3    >/dev/null || need+=(python3)
[ -x /usr/bin/time ]             || need+=(time)
[ -f /usr/include/pcap/pcap.h ]  || need+=(libpcap-dev)
if [ ${#need[@]} -gt 0 ]; then
  log "installing: ${need[*]}"
  [ "$(id -u)" = 0 ] || { log "need root to install ${need[*]}"; exit 1; }
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=900 update -q >&2
  apt-get -o DPkg::Lock::Timeout=900 install -y -q --no-install-recommends "${need[@]}" >&2
fi

SCRATCH=$(mktemp -d /tmp/farhand-peers.XXXXXX)
trap 'rm -rf "$SCRATCH"' EXIT
[ -n "$JSON_DIR" ] && mkdir -p "$JSON_DIR"

gcc -O2 -o "$SCRATCH/pcap_floor" "$FLOOR_SRC" -lpcap

has_q=no; for a in "${FARHAND_ARGS[@]}"; do [ "$a" != -q ] || has_q=yes; done
if [ -n "$FARHAND" ] && [ $has_q = yes ]; then
  help=$("$FARHAND" --help 2>&1 || true)
  if ! grep -qE '(^|[^[:alnum:]-])-q([^[:alnum:]-]|$)' <<<"$help"; then
    log "farhand --help does not mention -q; running it without -q"
    args=(); for a in "${FARHAND_ARGS[@]}"; do [ "$a" = -q ] || args+=("$a"); done
    FARHAND_ARGS=("${args[@]}")
  fi
fi

# ------------------------------------------------------------------ the capture
log "counting packets in $PCAP"
floor_out=$("$SCRATCH/pcap_floor" "$PCAP")          # "N packets B bytes (x)"; B = sum of caplen
PACKETS=$(awk '{print $1}' <<<"$floor_out")
DATA_BYTES=$(awk '{print $3}' <<<"$floor_out")
FILE_BYTES=$(stat -c %s "$PCAP")
SHA256=$(sha256sum "$PCAP" | awk '{print $1}')

# ------------------------------------------------------------------ measurements
LOAD_BEFORE=$(uptime)
ROWS="$SCRATCH/rows.tsv"; : > "$ROWS"
n=0
# bench LABEL PIN(yes|no) CMD... : hyperfine + one /usr/bin/time -v run; appends a row to $ROWS
bench() {
  local label=$1 pin=$2; shift 2
  local pre=() json rss
  n=$((n+1)); json="$SCRATCH/$n.json"
  [ "$pin" = yes ] && pre=(taskset -c "$CPU")
  local cmd; cmd=$(printf '%q ' "$@"); cmd=${cmd% }
  log "[$n] $label: ${pre[*]:+${pre[*]} }hyperfine -N -w $WARMUP -r $RUNS '$cmd'"
  "${pre[@]}" hyperfine -N -w "$WARMUP" -r "$RUNS" --style basic --export-json "$json" "$cmd" >&2
  "${pre[@]}" /usr/bin/time -v -o "$SCRATCH/$n.time" "$@" >/dev/null 2>"$SCRATCH/$n.stderr" \
    || { log "[$n] RSS run failed:"; cat "$SCRATCH/$n.stderr" >&2; return 1; }
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$SCRATCH/$n.time")
  [ -n "$JSON_DIR" ] && cp "$json" "$JSON_DIR/$n.json"
  printf '%s\t%s\t%s\t%s\t%s\n' "$label" "$pin" "$cmd" "$json" "$rss" >> "$ROWS"
}

bench "floor: pcap_floor.c (libpcap pcap_next_ex)" yes "$SCRATCH/pcap_floor" "$PCAP"
NDPI_VER=$(dpkg-query -W -f='${Version}' libndpi-bin 2>/dev/null || echo "?")
bench "ndpiReader 4.2 (Debian libndpi-bin $NDPI_VER), \`-q -i\`" yes ndpiReader -q -i "$PCAP"
if [ -n "$FARHAND" ]; then
  bench "farhand, --workers 1, pinned to CPU $CPU" yes \
    "$FARHAND" -r "$PCAP" "${FARHAND_ARGS[@]}" "${FARHAND_ARGS_PINNED[@]}"
  bench "farhand, default workers, all $(nproc) CPUs (not pinned)" no \
    "$FARHAND" -r "$PCAP" "${FARHAND_ARGS[@]}" "${FARHAND_ARGS_ALL[@]}"
else
  log "no --farhand given: skipping the farhand rows"
fi
LOAD_AFTER=$(uptime)
group() { sed ':a;s/\B[0-9]\{3\}\>/,&/;ta' <<<"$1"; }   # 1234567 -> 1,234,567

# ------------------------------------------------------------------ report
MODEL=$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1)
PCAP_VER=$(dpkg-query -W -f='${Version}' libpcap0.8 2>/dev/null || echo "?")
HF_VER=$(hyperfine --version | awk '{print $2}')

PACKETS=$PACKETS DATA_BYTES=$DATA_BYTES python3 - "$ROWS" <<'EOF'
import json, os, statistics, sys
pk = int(os.environ["PACKETS"]); by = int(os.environ["DATA_BYTES"])
print("| tool | wall min s | wall median s | Mpps | Gbit/s | max RSS MiB | CPU user+sys s (mean) |")
print("|---|---|---|---|---|---|---|")
for line in open(sys.argv[1]):
    label, pin, cmd, jpath, rss = line.rstrip("\n").split("\t")
    r = json.load(open(jpath))["results"][0]
    t = r["times"]; tmin = min(t); tmed = statistics.median(t)
    rss_mib = f"{int(rss) / 1024:.1f}" if rss else "?"
    print(f"| {label} | {tmin:.3f} | {tmed:.3f} | {pk / tmed / 1e6:.3f} | {by * 8 / tmed / 1e9:.2f} "
          f"| {rss_mib} | {r['user']:.2f}+{r['system']:.2f} |")
EOF
cat <<EOF

- capture: \`$PCAP\`: $(group "$PACKETS") packets, $(group "$FILE_BYTES") file bytes, $(group "$DATA_BYTES") captured data bytes; sha256 $SHA256
- Mpps = packets / median wall; Gbit/s = captured data bytes × 8 / median wall (pcap record headers excluded)
- method: hyperfine $HF_VER \`-N -w $WARMUP -r $RUNS\`; pinned rows run hyperfine under \`taskset -c $CPU\`; max RSS from one extra run under \`/usr/bin/time -v\`
- machine: $MODEL, nproc $(nproc), kernel $(uname -r), libpcap $PCAP_VER, $(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME")
- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')
- load before: \`$(sed 's/^ *//' <<<"$LOAD_BEFORE")\`
- load after:  \`$(sed 's/^ *//' <<<"$LOAD_AFTER")\`
EOF
echo "- commands (row: [pinning] command; pcap_floor is built from $FLOOR_SRC with gcc -O2 -lpcap):"
while IFS=$'\t' read -r label pin cmd _ _; do
  [ "$pin" = yes ] && pin="taskset -c $CPU" || pin="not pinned"
  echo "  - $label: [$pin] \`${cmd//$SCRATCH\//}\`"
done < "$ROWS"
if [ -n "$FARHAND" ]; then
  echo "- farhand: \`$FARHAND\` args \`-r PCAP ${FARHAND_ARGS[*]}\` + \`${FARHAND_ARGS_PINNED[*]}\` (pinned) / \`${FARHAND_ARGS_ALL[*]:-(none)}\` (all cores)"
fi
