//! Locates the demo capture embedded into the binary.
fn main() {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    let demo = std::path::Path::new(&manifest).join("../../tests/cases/demo/input.pcap");
    println!("cargo::rerun-if-changed={}", demo.display());
    println!("cargo::rustc-env=FARHAND_DEMO_PCAP={}", demo.display());
}
