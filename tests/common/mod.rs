//! What the integration tests share: where the shared data lives and whether CI demands it.

#![allow(dead_code, reason = "each test crate uses the part it needs")]
#![allow(clippy::panic, reason = "test code: a capture that cannot be opened fails the test")]

pub mod live;
pub mod servers;

use farhand::config::Settings;
use farhand::pipeline::{RunOptions, run};
use farhand_engine::capture::Capture;
use farhand_report::sink::MemorySink;
use farhand_report::sink::json::Observer;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The repository's root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs the `farhand` binary of this build with `args`.
pub fn farhand(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_farhand"))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run farhand: {e}"))
}

/// What a run printed on stderr.
pub fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// CI is set (non-empty and not "false"/"0"): every part must run, a missing prerequisite is a
/// failure, not a skip (scripts/test.sh reads it the same way).
pub fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| {
        let v = v.trim().to_ascii_lowercase();
        !v.is_empty() && v != "false" && v != "0"
    })
}

/// The shared data directory: `FARHAND_SHARED`, else `../shared` beside the repository.
pub fn shared() -> PathBuf {
    std::env::var_os("FARHAND_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"))
}

/// `path` (shared `data`, e.g. "shared corpus") is absent: panics under CI, otherwise prints a
/// visible SKIP line for the test `what`; the caller returns.
pub fn skip_unless_ci(what: &str, path: &Path, data: &str) {
    assert!(!ci(), "{what}: {} not found: CI is set, so the {data} must be present", path.display());
    eprintln!("SKIP {what}: {} not found (the {data} is absent)", path.display());
}

/// Runs one capture through the pipeline (default settings) with `workers` workers; returns
/// the alerts as JSON.
pub fn alerts_of(path: &Path, workers: usize) -> Vec<Value> {
    alerts_with(path, &Settings::defaults(), workers)
}

/// Runs one capture through the pipeline with these settings and `workers` workers; returns
/// the alerts as JSON.
pub fn alerts_with(path: &Path, settings: &Settings, workers: usize) -> Vec<Value> {
    let mut settings = settings.clone();
    settings.workers = workers;
    let mut cap = Capture::open_file(path).unwrap_or_else(|e| panic!("{e}"));
    let mut sink = MemorySink::new(Observer { name: "test".into() });
    let s = run(&mut cap, &settings, &mut sink, &RunOptions::default());
    assert!(s.input_error.is_none(), "{}: {:?}", path.display(), s.input_error);
    sink.alerts
}
