#!/usr/bin/env bash
# scripts/test.sh — the whole test suite, as CI runs it (.ci/run calls this).
# Installs what it needs (Debian packages), then: format check, clippy with warnings as
# errors (this includes missing docs), unit tests, the regression cases over tests/cases/
# (corpus cases need ../shared; they are skipped with a message without it), the CLI tests,
# the live-capture test (root), a compile check of the benches, and the accuracy gate
# (scripts/accuracy.py: every disagreement with the reference labels explained, no alert on
# a negative capture, and the committed ACCURACY.md up to date), and the lab (tests/lab/run.py:
# real sshd/x11vnc/TigerVNC in network namespaces behind the delaying relay, farhand capturing
# live; root only; it writes LAB.md and fails on any timing assertion).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
export CARGO_TERM_COLOR=never
step() { echo; echo "=== $* ($(date +%T))"; }
# Under CI (CI set, not "false"/"0") every part must run: a missing ../shared or missing root is
# a failure, not a skip (the Rust tests follow the same rule).
strict() { [ -n "${CI:-}" ] && [ "${CI}" != false ] && [ "${CI}" != 0 ]; }
skip_or_fail() { if strict; then echo "FAIL: $* (CI is set: every part must run)"; exit 1; fi; echo "SKIP $*"; }
step "rustfmt"
cargo fmt --all --check
step "clippy"
cargo clippy --locked --workspace --all-targets -- -D warnings
step "tests"
cargo test --locked --workspace
step "benches compile"
cargo bench --locked --workspace --no-run -q
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
step "lab: timing signals on real software (tests/lab/run.py)"
if [ "$(id -u)" = 0 ]; then
  tests/lab/deps.sh
  cargo build --release --locked -q --workspace
  python3 tests/lab/run.py --out "${FARHAND_LAB_OUT:-LAB.md}"
else
  skip_or_fail "lab: needs root (network namespaces)"
fi
step "done"
