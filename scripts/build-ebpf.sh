#!/usr/bin/env bash
# scripts/build-ebpf.sh — builds farhand's kernel program (ebpf/probe) for `--capture ebpf`.
#
# The kernel side is Rust (aya-ebpf) compiled for bpfel-unknown-none, which needs the standard
# library's source (-Z build-std=core) and bpf-linker built against the same LLVM:
#   - Debian 12's rustc-web/cargo-web/rust-web-src (Rust 1.96, LLVM 22; apt, idempotent);
#   - bpf-linker 0.13.0 built once against that LLVM and cached in
#     ${FARHAND_BUILD_CACHE:-$XDG_CACHE_HOME or ~/.cache/farhand}/bpf-linker-0.13.0 (reused by later runs).
# Then `cargo build` of farhand embeds the object (sensor/engine/build.rs). Prints the
# object's path. Needs root (or sudo) for the packages the first time.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh rustc-web cargo-web rust-web-src llvm-22-dev
cache="${FARHAND_BUILD_CACHE:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/farhand}"
linker_root="$cache/bpf-linker-0.13.0"
if [ ! -x "$linker_root/bin/bpf-linker" ]; then
  echo "building bpf-linker 0.13.0 against LLVM 22 (once; cached in $linker_root)" >&2
  # rustup's cargo builds it (a host tool); LLVM_PREFIX points it at Debian's LLVM 22.
  LLVM_PREFIX=/usr/lib/llvm-22 cargo install --locked -q bpf-linker@0.13.0 \
    --no-default-features --features llvm-22 --root "$linker_root"
fi
cd ebpf/probe
# Debian's cargo and rustc (their library source is what build-std compiles); RUSTC must be
# set, or /usr/bin/cargo runs the first rustc on PATH (rustup's, which has no rust-src here).
PATH="$linker_root/bin:$PATH" RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 \
  RUSTFLAGS="-C debuginfo=2 -C link-arg=--btf" \
  /usr/bin/cargo build --locked -q --release --target bpfel-unknown-none -Z build-std=core
cd ../..
# The engine's build script watches the object once it exists; the first time, wake it up.
touch sensor/engine/build.rs
echo "$PWD/ebpf/probe/target/bpfel-unknown-none/release/farhand-probe"
