#!/usr/bin/env bash
# scripts/test.sh — the whole test suite, as CI runs it (.ci/run calls this).
# Installs what it needs (Debian packages), then: format check, clippy with warnings as
# errors (this includes missing docs), unit tests, the regression cases over tests/cases/
# (corpus cases need ../shared; they are skipped with a message without it), the CLI tests,
# and a compile check of the benches.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
export CARGO_TERM_COLOR=never
step() { echo; echo "=== $* ($(date +%T))"; }
step "rustfmt"
cargo fmt --all --check
step "clippy"
cargo clippy --locked --workspace --all-targets -- -D warnings
step "tests"
cargo test --locked --workspace
step "benches compile"
cargo bench --locked --workspace --no-run -q
step "done"
