#!/usr/bin/env bash
# scripts/demo.sh — quick start: install what farhand needs, build it, and run it on the
# demo capture built into the binary (SSH, VNC and RDP sessions recorded by
# scripts/record-demo.sh, plus ordinary DNS/web traffic) with the demo's own configuration
# (config/demo/: a US company's policy, country and ASN databases that know the controller's
# network), also built in. Alerts (JSON lines) go to stdout, the summary line to stderr.
# Extra arguments are passed to farhand (e.g. -o alerts.jsonl, -q, --check-config).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cargo build --release --locked -q -p farhand
mkdir -p target/farhand-demo
rm -rf target/farhand-demo/report
exec target/release/farhand --demo --store target/farhand-demo/farhand.db --report target/farhand-demo/report "$@"
