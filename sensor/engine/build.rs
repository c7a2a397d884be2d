//! Embeds the kernel program (`ebpf/probe`, built by `scripts/build-ebpf.sh`) when it has been
//! built, so `--capture ebpf` needs no file at run time. Without it the engine builds all the
//! same and the eBPF capture says how to get the program (or takes `[capture] ebpf_object`).
//! `FARHAND_EBPF_PROBE=<path>` names another object.
//!
//! `build.rs` of a library is build tooling, not sensor code: it may fail loudly.

use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let default = manifest.join("../../ebpf/probe/target/bpfel-unknown-none/release/farhand-probe");
    println!("cargo::rerun-if-env-changed=FARHAND_EBPF_PROBE");
    let probe = std::env::var_os("FARHAND_EBPF_PROBE").map(PathBuf::from).unwrap_or(default);
    // A path that does not exist would make cargo rerun this script (and rebuild the engine)
    // on every build: watch the program only once it exists; scripts/build-ebpf.sh touches
    // this file after building it the first time.
    if probe.exists() {
        println!("cargo::rerun-if-changed={}", probe.display());
    } else {
        println!("cargo::rerun-if-changed=build.rs");
    }
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default()).join("farhand-probe.o");
    let bytes = std::fs::read(&probe).unwrap_or_default();
    if let Err(e) = std::fs::write(&out, &bytes) {
        println!("cargo::warning=cannot write {}: {e}", out.display());
    }
}
