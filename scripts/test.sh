#!/usr/bin/env bash
# scripts/test.sh — the whole test suite, as CI runs it (.ci/run calls this with CI=true).
# Installs what it needs (Debian packages, including the rsyslog, PostgreSQL and Chromium the
# reporting-plane tests start on loopback; cargo-mutants), then: format check, the crate
# layering check (scripts/check-layers.py: dependencies only down the pipeline), clippy with
# warnings as errors (this includes missing docs), unit tests, the regression cases over
# tests/cases/ (tolerances on timing figures, 1 and 3 workers), the CLI tests, the live-capture
# test (root), the eBPF capture test (root: the kernel program built by scripts/build-ebpf.sh,
# loaded on a veth between namespaces), one run of each bench in test mode, the accuracy gate (scripts/accuracy.py: every
# disagreement listed by a note, per-tool floors and ceilings, no alert on a negative capture,
# ACCURACY.md current) and its self-test of deliberate faults, the lab checker's self-test, a
# mutation slice over the relay gap and stepping stones (0 missed), and the lab's CI slice
# (tests/lab/run.py --slice ci: real OpenSSH 10 and 9.2/x11vnc/TigerVNC/FreeRDP in network
# namespaces behind the delaying relay, plain and with jitter and loss, farhand capturing live;
# every configuration once; its assertion lines must hold and be LAB.md's for the same runs).
# Under CI a missing ../shared or missing root is a failure, not a skip.
set -euo pipefail
cd "$(dirname "$0")/.."
# The servers the reporting-plane tests start themselves on loopback: rsyslog (UDP, TCP, TLS
# through its GnuTLS driver), PostgreSQL 15 (initdb in a temporary directory), Chromium
# (headless, renders the HTML report) and Prometheus (scrapes the metrics endpoint).
scripts/deps.sh rsyslog rsyslog-gnutls postgresql chromium prometheus bpftool
export CARGO_TERM_COLOR=never
step() { echo; echo "=== $* ($(date +%T))"; }
# Under CI (CI set, not "false"/"0") every part must run: a missing ../shared or missing root is
# a failure, not a skip (the Rust tests follow the same rule).
strict() { [ -n "${CI:-}" ] && [ "${CI}" != false ] && [ "${CI}" != 0 ]; }
skip_or_fail() { if strict; then echo "FAIL: $* (CI is set: every part must run)"; exit 1; fi; echo "SKIP $*"; }
step "eBPF: the kernel program (scripts/build-ebpf.sh; the tests load it on a veth in namespaces)"
# Built before the Rust build so that farhand embeds it (sensor/engine/build.rs).
if [ "$(id -u)" = 0 ]; then
  scripts/build-ebpf.sh
else
  skip_or_fail "eBPF: building the kernel program installs Debian packages (needs root)"
fi
step "rustfmt"
cargo fmt --all --check
step "layers: our crates depend only down the pipeline (scripts/check-layers.py, ARCHITECTURE.md)"
python3 scripts/check-layers.py
step "clippy"
cargo clippy --locked --workspace --all-targets -- -D warnings
step "tests"
cargo test --locked --workspace
step "benches: each run once in test mode (the timings are BENCHMARKS.md's, never CI's)"
# Built with the test profile the steps above already compiled, not the bench profile (a
# second optimised build of everything): this proves the benches build and run.
cargo test --locked -q -p farhand --benches
step "accuracy against the corpus reference labels (scripts/accuracy.py: notes, floors, ACCURACY.md)"
if [ -d ../shared/corpus ]; then
  cargo build --release --locked -q -p farhand
  out=$(mktemp -d)
  python3 scripts/accuracy.py --out "$out/ACCURACY.md" --compare ACCURACY.md
  rm -rf "$out"
  step "accuracy gate self-test: deliberate faults must fail it (scripts/accuracy-selftest.py)"
  python3 scripts/accuracy-selftest.py
else
  skip_or_fail "accuracy: ../shared/corpus is absent"
fi
step "lab checker self-test: deliberate faults must fail it (tests/lab/test_check.py)"
python3 tests/lab/test_check.py
step "mutation slice: relay gap and the stepping-stone chain rule, 0 missed (MUTATION.md)"
if [ -d ../shared/corpus ]; then
  # A debug build of the tool: 1.5 min instead of 8 on 2 cores, and it only drives cargo.
  command -v cargo-mutants >/dev/null || cargo install --locked -q --debug cargo-mutants
  mut=$(mktemp -d)
  # The relay gap and the stepping-stone chain rule; the onset rules (Onsets) and the log-space
  # binomial arithmetic under them are left to documented runs (MUTATION.md).
  cargo mutants --in-place --baseline skip --timeout 60 --build-timeout 600 -F 'relay_latency\.rs:' \
    -F 'stepping_stone\.rs:.*in ChainCount::' -o "$mut"
  git diff --exit-code -- sensor
  rm -rf "$mut"
else
  skip_or_fail "mutation slice: ../shared/corpus is absent"
fi
step "lab: timing signals on real software, the CI slice (tests/lab/run.py --slice ci; its assertion lines must hold and be LAB.md's for the same runs)"
if [ "$(id -u)" = 0 ]; then
  tests/lab/deps.sh
  cargo build --release --locked -q --workspace
  # The slice's own table goes to a scratch file: LAB.md is the full matrix's (tests/lab/README.md).
  python3 tests/lab/run.py --slice ci --out "${FARHAND_LAB_OUT:-$(mktemp -d)/LAB-slice.md}" --expect-assertions LAB.md
else
  skip_or_fail "lab: needs root (network namespaces)"
fi
step "done"
