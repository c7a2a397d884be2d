//! Live capture for real: farhand captures with libpcap on a veth inside a network namespace
//! the test creates, while the demo capture's frames are sent into the other end of the veth;
//! its Prometheus endpoint is scraped while it runs.
//! Needs root, iproute2 and python3 (CI has them): skipped with a message otherwise — except
//! when `CI` is set (non-empty, not `false` or `0`), where missing any of them is a failure.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a failed expectation should panic with its message"
)]

mod common;

use common::live::{Child, Netns, SCRAPE, interrupt, is_root, send_demo, session_tools, sh};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Where the sensor serves metrics, inside the test's namespace.
const METRICS: &str = "127.0.0.1:9750";

#[test]
fn live_capture_on_a_veth() {
    let root = is_root();
    let missing: Vec<&str> =
        [(root, "root"), (sh(&["ip", "-V"]), "iproute2 (ip)"), (sh(&["python3", "-V"]), "python3")]
            .into_iter()
            .filter_map(|(ok, what)| (!ok).then_some(what))
            .collect();
    if !missing.is_empty() {
        assert!(
            !common::ci(),
            "live capture: CI is set, but this run lacks {}: run it as root with iproute2 and python3",
            missing.join(", ")
        );
        eprintln!("SKIP live capture: lacks {} (needs root, iproute2 and python3)", missing.join(", "));
        return;
    }
    let ns = format!("fhlive{}", std::process::id());
    let _ns = Netns(vec![ns.clone()]);
    assert!(sh(&["ip", "netns", "add", &ns]));
    assert!(sh(&["ip", "-n", &ns, "link", "add", "fhl0", "type", "veth", "peer", "name", "fhl1"]));
    assert!(sh(&["ip", "-n", &ns, "link", "set", "fhl0", "up"]));
    assert!(sh(&["ip", "-n", &ns, "link", "set", "fhl1", "up"]));
    assert!(sh(&["ip", "-n", &ns, "link", "set", "lo", "up"]));

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("alerts.jsonl");
    let mut sensor = Child(
        Command::new("ip")
            .args(["netns", "exec", &ns, env!("CARGO_BIN_EXE_farhand"), "-i", "fhl0", "--metrics", METRICS, "-o"])
            .arg(&out)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    std::thread::sleep(Duration::from_millis(1500));
    assert!(sensor.0.try_wait().unwrap().is_none(), "farhand exited early");

    let frames = send_demo(&ns, "fhl1");
    std::thread::sleep(Duration::from_millis(1000));

    // While it runs, /metrics counts what it read (published on its idle ticks).
    let scrape = Command::new("ip").args(["netns", "exec", &ns, "python3", "-c", SCRAPE, METRICS]).output().unwrap();
    assert!(scrape.status.success(), "{}", String::from_utf8_lossy(&scrape.stderr));
    let text = String::from_utf8_lossy(&scrape.stdout);
    let value = |name: &str| -> f64 {
        let line = text.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("{name} missing: {text}"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    assert!(value("farhand_packets_total ") >= frames as f64, "{text}");
    assert!(text.contains("farhand_build_info{version="), "{text}");

    // Ctrl-C: the sensor ends every flow, writes the alerts and its summary, exits 0.
    let (status, err) = interrupt(&mut sensor);
    assert!(status.success(), "{status:?}: {err}");
    assert!(err.contains("interface fhl0"), "{err}");

    let tools = session_tools(&out);
    assert_eq!(tools, ["rdp", "ssh", "vnc"], "sent {frames} frames; stderr: {err}");
}
