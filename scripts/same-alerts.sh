#!/bin/sh
# scripts/same-alerts.sh — do two builds of farhand say the same thing?
#
#   scripts/same-alerts.sh record BIN OUTDIR [PCAP_DIR...]
#   scripts/same-alerts.sh compare OUTDIR_A OUTDIR_B
#
# `record` runs BIN (default config) with 1 and with 3 workers on every capture a test
# reads: the tests/cases/ inputs, every capture of ../shared/corpus (MANIFEST.tsv), and
# every *.pcap / *.pcapng in the PCAP_DIRs given (e.g. the lab's recordings:
# tests/lab/run.py --pcap DIR). It writes one file per capture and worker count under
# OUTDIR: the alert lines, sorted (workers may finish sessions in another order; the
# content of each line is what is compared), then the exit code and the stderr summary.
#
# `compare` diffs two such directories file by file and prints one line per capture whose
# alerts, exit code or summary differ (then the diff). Exit 0 when all are the same, 1 if
# not. Used to prove that a refactoring changed no behaviour: record with the old build,
# record with the new one, compare.
set -eu

here=$(cd "$(dirname "$0")/.." && pwd)

record_one() { # BIN OUTDIR NAME PCAP
    for w in 1 3; do
        out="$2/$3.w$w"
        mkdir -p "$(dirname "$out")"
        rc=0
        "$1" -w "$w" -r "$4" -o "$out.tmp" 2>"$out.err" || rc=$?
        # The summary line carries a wall time; everything before it is compared.
        { sort "$out.tmp"; echo "exit $rc"; sed -E 's/ in [0-9.]+ s \([^)]*\)//' "$out.err"; } >"$out"
        rm -f "$out.tmp" "$out.err"
    done
}

case "${1:-}" in
record)
    [ $# -ge 3 ] || { echo "usage: $0 record BIN OUTDIR [PCAP_DIR...]" >&2; exit 2; }
    bin=$(realpath "$2") outdir=$(realpath -m "$3"); shift 3
    mkdir -p "$outdir"
    extra=""
    for d in "$@"; do extra="$extra $(realpath "$d")"; done
    # Paths as the tests name them (relative to the checkout), so two checkouts compare.
    cd "$here"
    n=0
    for d in tests/cases/*; do
        [ -f "$d/input.pcap" ] || continue
        record_one "$bin" "$outdir" "cases/$(basename "$d")" "$d/input.pcap"; n=$((n + 1))
    done
    corpus="../shared/corpus"
    if [ -f "$corpus/MANIFEST.tsv" ]; then
        tail -n +2 "$corpus/MANIFEST.tsv" | cut -f1 | while read -r p; do
            record_one "$bin" "$outdir" "corpus/$p" "$corpus/$p"
        done
        n=$((n + $(tail -n +2 "$corpus/MANIFEST.tsv" | wc -l)))
    else
        echo "same-alerts: $corpus absent: corpus captures not recorded" >&2
    fi
    for d in $extra; do
        for p in "$d"/*.pcap "$d"/*.pcapng; do
            [ -f "$p" ] || continue
            record_one "$bin" "$outdir" "extra/$(basename "$p")" "$p"; n=$((n + 1))
        done
    done
    echo "same-alerts: recorded $n captures (1 and 3 workers) in $outdir" >&2
    ;;
compare)
    [ $# -eq 3 ] || { echo "usage: $0 compare OUTDIR_A OUTDIR_B" >&2; exit 2; }
    a=$2 b=$3 bad=0 n=0
    files=$( (cd "$a" && find . -type f; cd "$b" && find . -type f) | sort -u)
    for f in $files; do
        n=$((n + 1))
        if ! cmp -s "$a/$f" "$b/$f"; then
            bad=$((bad + 1))
            echo "DIFFERENT ${f#./}"
            diff "$a/$f" "$b/$f" | head -20 || true
        fi
    done
    alerts=$(cat "$a"/*/* "$a"/*/*/* 2>/dev/null | grep -c '^{' || true)
    echo "same-alerts: $n runs compared ($alerts alert lines in $a), $bad different"
    [ "$bad" -eq 0 ]
    ;;
*)
    sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
