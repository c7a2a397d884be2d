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

use common::repo;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn sh(args: &[&str]) -> bool {
    Command::new(args[0])
        .args(&args[1..])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Deletes the namespace (and its veth pair) however the test ends.
struct Netns(String);

impl Drop for Netns {
    fn drop(&mut self) {
        sh(&["ip", "netns", "del", &self.0]);
    }
}

/// Kills the sensor if the test fails before it stopped.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Sends every frame of a pcap (Ethernet, any byte order / time precision) out of an
/// interface through an AF_PACKET socket.
const SENDER: &str = r#"
import socket, struct, sys, time
data = open(sys.argv[1], 'rb').read()
magic = data[:4]
end = '<' if magic in (b'\xd4\xc3\xb2\xa1', b'\x4d\x3c\xb2\xa1') else '>'
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((sys.argv[2], 0))
off, n = 24, 0
while off + 16 <= len(data):
    _, _, caplen, _ = struct.unpack(end + 'IIII', data[off:off + 16])
    s.send(data[off + 16:off + 16 + caplen])
    off += 16 + caplen
    n += 1
    if n % 50 == 0:
        time.sleep(0.001)
print(n)
"#;

/// Where the sensor serves metrics, inside the test's namespace.
const METRICS: &str = "127.0.0.1:9750";

/// Fetches http://ADDR/metrics and prints the body.
const SCRAPE: &str = r#"
import sys, urllib.request
print(urllib.request.urlopen('http://%s/metrics' % sys.argv[1], timeout=5).read().decode())
"#;

#[test]
fn live_capture_on_a_veth() {
    let root = Command::new("id").arg("-u").output().map(|o| o.stdout == b"0\n").unwrap_or(false);
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
    let ns = Netns(format!("fhlive{}", std::process::id()));
    assert!(sh(&["ip", "netns", "add", &ns.0]));
    assert!(sh(&["ip", "-n", &ns.0, "link", "add", "fhl0", "type", "veth", "peer", "name", "fhl1"]));
    assert!(sh(&["ip", "-n", &ns.0, "link", "set", "fhl0", "up"]));
    assert!(sh(&["ip", "-n", &ns.0, "link", "set", "fhl1", "up"]));
    assert!(sh(&["ip", "-n", &ns.0, "link", "set", "lo", "up"]));

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("alerts.jsonl");
    let mut sensor = Child(
        Command::new("ip")
            .args(["netns", "exec", &ns.0, env!("CARGO_BIN_EXE_farhand"), "-i", "fhl0", "--metrics", METRICS, "-o"])
            .arg(&out)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    std::thread::sleep(Duration::from_millis(1500));
    assert!(sensor.0.try_wait().unwrap().is_none(), "farhand exited early");

    let demo = repo().join("tests/cases/demo/input.pcap");
    let sent = Command::new("ip")
        .args(["netns", "exec", &ns.0, "python3", "-c", SENDER])
        .arg(&demo)
        .arg("fhl1")
        .output()
        .unwrap();
    assert!(sent.status.success(), "{}", String::from_utf8_lossy(&sent.stderr));
    let frames: u64 = String::from_utf8_lossy(&sent.stdout).trim().parse().unwrap();
    std::thread::sleep(Duration::from_millis(1000));

    // While it runs, /metrics counts what it read (published on its idle ticks).
    let scrape = Command::new("ip").args(["netns", "exec", &ns.0, "python3", "-c", SCRAPE, METRICS]).output().unwrap();
    assert!(scrape.status.success(), "{}", String::from_utf8_lossy(&scrape.stderr));
    let text = String::from_utf8_lossy(&scrape.stdout);
    let value = |name: &str| -> f64 {
        let line = text.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("{name} missing: {text}"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    assert!(value("farhand_packets_total ") >= frames as f64, "{text}");
    assert!(text.contains("farhand_build_info{version="), "{text}");

    // Ctrl-C: the sensor ends every flow, writes the alerts and its summary, exits 0.
    assert!(sh(&["kill", "-INT", &sensor.0.id().to_string()]));
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = sensor.0.try_wait().unwrap() {
            break s;
        }
        assert!(t0.elapsed() < Duration::from_secs(10), "farhand did not stop on SIGINT");
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(sensor.0.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(status.success(), "{status:?}: {err}");
    assert!(err.contains("interface fhl0"), "{err}");

    let text = std::fs::read_to_string(&out).unwrap();
    let mut tools: Vec<String> = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|a| a["unmapped"]["farhand"]["kind"] == "remote_control_session")
        .map(|a| a["unmapped"]["farhand"]["tool"].as_str().unwrap().to_string())
        .collect();
    tools.sort();
    assert_eq!(tools, ["rdp", "ssh", "vnc"], "sent {frames} frames; stderr: {err}");
}
