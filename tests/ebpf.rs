//! The eBPF capture for real: farhand loads its kernel program (`ebpf/probe`, built by
//! `scripts/build-ebpf.sh` and embedded in this build) onto a veth between two network
//! namespaces the test creates, and captures with `--capture ebpf` while
//! - ping and a 24 MB TCP transfer cross the veth (the packets must pass untouched: the
//!   transfer arrives whole, and its payload must stay in the kernel),
//! - the demo capture's frames are sent into the veth (its SSH, VNC and RDP sessions must be
//!   found as from libpcap).
//!
//! The programs must be attached while it runs, the kernel counters served as metrics, and
//! nothing left attached after it exits — or after it is killed (SIGKILL).
//!
//! Needs root, iproute2, python3, bpftool and the kernel program: skipped with a message otherwise —
//! except under CI (`CI` set), where a missing one is a failure.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a failed expectation should panic with its message"
)]

mod common;

use common::live::{Child, Netns, SCRAPE, interrupt, is_root, send_demo, session_tools, sh};
use common::repo;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Serves BULK bytes to one client on port 5001.
const BULK_SERVER: &str = r#"
import socket
BULK = 24 * 1000 * 1000
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(('10.77.0.1', 5001)); l.listen(1)
print('ready', flush=True)
c, _ = l.accept()
chunk = b'\x5a' * 65536
left = BULK
while left > 0:
    left -= c.send(chunk[:min(left, len(chunk))])
c.close()
"#;

/// Reads everything from port 5001 and prints the byte count.
const BULK_CLIENT: &str = r#"
import socket
s = socket.create_connection(('10.77.0.1', 5001), timeout=20)
n = 0
while True:
    b = s.recv(1 << 20)
    if not b:
        break
    n += len(b)
print(n)
"#;

/// The kernel program this build embedded (sensor/engine/build.rs reads this path).
fn probe_built() -> bool {
    repo().join("ebpf/probe/target/bpfel-unknown-none/release/farhand-probe").is_file()
}

/// A number after `name ` in the summary's kernel part.
fn kernel_counter(err: &str, name: &str) -> u64 {
    let part = err.split("kernel: ").nth(1).unwrap_or_else(|| panic!("no kernel counters: {err}"));
    let at = part.find(&format!("{name} ")).unwrap_or_else(|| panic!("no {name}: {part}"));
    // Counters are separated by ", "; human() groups thousands with "," (no space).
    let v = part[at + name.len() + 1..].split([';', '\n']).next().unwrap().split(", ").next().unwrap().trim();
    v.replace(',', "").parse().unwrap_or_else(|e| panic!("{name} {v:?}: {e}"))
}

#[test]
fn ebpf_capture_on_a_veth() {
    let root = is_root();
    let missing: Vec<&str> = [
        (root, "root"),
        (sh(&["ip", "-V"]), "iproute2 (ip)"),
        (sh(&["python3", "-V"]), "python3"),
        (sh(&["bpftool", "version"]), "bpftool"),
        (probe_built(), "the kernel program (scripts/build-ebpf.sh, then rebuild)"),
    ]
    .into_iter()
    .filter_map(|(ok, what)| (!ok).then_some(what))
    .collect();
    if !missing.is_empty() {
        assert!(!common::ci(), "eBPF capture: CI is set, but this run lacks {}", missing.join(", "));
        eprintln!("SKIP eBPF capture: lacks {}", missing.join(", "));
        return;
    }
    let id = std::process::id();
    let (a, b) = (format!("fhea{id}"), format!("fheb{id}"));
    let _ns = Netns(vec![a.clone(), b.clone()]);
    for n in [&a, &b] {
        assert!(sh(&["ip", "netns", "add", n]));
        assert!(sh(&["ip", "-n", n, "link", "set", "lo", "up"]));
    }
    assert!(sh(&["ip", "-n", &a, "link", "add", "fhe0", "type", "veth", "peer", "name", "fhe1", "netns", &b]));
    for (n, dev, addr) in [(&a, "fhe0", "10.77.0.1/24"), (&b, "fhe1", "10.77.0.2/24")] {
        assert!(sh(&["ip", "-n", n, "addr", "add", addr, "dev", dev]));
        assert!(sh(&["ip", "-n", n, "link", "set", dev, "up"]));
    }

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("alerts.jsonl");
    // Links other programs on this host hold (none in CI).
    let before = link_ids();
    let mut sensor = Child(
        Command::new("ip")
            .args(["netns", "exec", &a, env!("CARGO_BIN_EXE_farhand"), "-i", "fhe0", "--capture", "ebpf", "-w", "1"])
            .args(["--metrics", "127.0.0.1:9751", "-o"])
            .arg(&out)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    std::thread::sleep(Duration::from_millis(1500));
    if let Some(st) = sensor.0.try_wait().unwrap() {
        let mut err = String::new();
        std::io::Read::read_to_string(sensor.0.stderr.as_mut().unwrap(), &mut err).unwrap();
        panic!("farhand exited early ({st:?}): {err}");
    }

    // The packets pass: ping, and a bulk transfer arrives whole.
    assert!(sh(&["ip", "netns", "exec", &b, "ping", "-c", "3", "-i", "0.2", "-W", "2", "10.77.0.1"]), "ping failed");
    let mut server = Child(
        Command::new("ip")
            .args(["netns", "exec", &a, "python3", "-c", BULK_SERVER])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(server.0.stdout.as_mut().unwrap()), &mut line).unwrap();
    assert_eq!(line.trim(), "ready");
    let got = Command::new("ip").args(["netns", "exec", &b, "python3", "-c", BULK_CLIENT]).output().unwrap();
    assert!(got.status.success(), "{}", String::from_utf8_lossy(&got.stderr));
    assert_eq!(String::from_utf8_lossy(&got.stdout).trim(), "24000000", "the transfer arrived whole");
    assert!(server.0.wait().unwrap().success());

    // The demo's sessions, sent into the veth.
    let frames = send_demo(&b, "fhe1");
    std::thread::sleep(Duration::from_millis(1000));

    // While it runs: both programs attached (TCX), and /metrics carries the kernel counters.
    let net = attached(&before);
    assert!(net.contains("fh_ingress") && net.contains("fh_egress"), "{net}");
    let scrape =
        Command::new("ip").args(["netns", "exec", &a, "python3", "-c", SCRAPE, "127.0.0.1:9751"]).output().unwrap();
    assert!(scrape.status.success(), "{}", String::from_utf8_lossy(&scrape.stderr));
    let metrics = String::from_utf8_lossy(&scrape.stdout);
    let events_line = metrics.lines().find(|l| l.starts_with("farhand_ebpf_total{counter=\"events\"}"));
    let events_now: f64 = events_line.and_then(|l| l.rsplit(' ').next()?.parse().ok()).unwrap_or(0.0);
    assert!(events_now > 0.0, "{metrics}");

    let (status, err) = interrupt(&mut sensor);
    eprintln!("{err}");
    assert!(status.success(), "{status:?}: {err}");

    // The kernel saw everything, sent up little: the bulk's payload stayed in the kernel.
    let packets = kernel_counter(&err, "packets");
    let events = kernel_counter(&err, "events");
    let event_bytes = kernel_counter(&err, "event bytes");
    assert!(packets >= frames + 24_000_000 / 65_536, "kernel packets {packets}, sent {frames} demo frames: {err}");
    assert!(events > 0 && events < packets, "{err}");
    assert!(event_bytes < 2_400_000, "more than a tenth of the bulk transfer went to userspace: {err}");
    assert_eq!(kernel_counter(&err, "ring full"), 0, "{err}");

    let tools = session_tools(&out);
    assert_eq!(tools, ["rdp", "ssh", "vnc"], "sent {frames} frames; stderr: {err}");
    assert!(!attached(&before).contains("fh_"), "detached on exit: {}", attached(&before));

    // A sensor killed outright leaves nothing attached either.
    let mut killed = Child(
        Command::new("ip")
            .args(["netns", "exec", &a, env!("CARGO_BIN_EXE_farhand"), "-i", "fhe0", "--capture", "ebpf", "-q"])
            .args(["--metrics", "127.0.0.1:9752", "-o", "/dev/null"])
            .spawn()
            .unwrap(),
    );
    let t0 = Instant::now();
    while !attached(&before).contains("fh_ingress") {
        assert!(t0.elapsed() < Duration::from_secs(10), "never attached: {}", attached(&before));
        std::thread::sleep(Duration::from_millis(50));
    }
    killed.0.kill().unwrap();
    killed.0.wait().unwrap();
    let t0 = Instant::now();
    while attached(&before).contains("fh_") {
        assert!(t0.elapsed() < Duration::from_secs(5), "still attached after SIGKILL: {}", attached(&before));
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The names of the programs BPF links hold, host-wide, leaving out the links in `before`
/// (`bpftool link show` lists TCX links; Debian 12's bpftool cannot tell their interface, and
/// `net show` does not list them).
fn attached(before: &[u64]) -> String {
    let json = |args: &[&str]| -> serde_json::Value {
        let o = Command::new("bpftool").arg("-j").args(args).output().unwrap();
        serde_json::from_slice(&o.stdout).unwrap_or(serde_json::Value::Null)
    };
    let progs = json(&["prog", "show"]);
    let name_of = |id: &serde_json::Value| -> String {
        progs
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| &p["id"] == id)
            .map_or(String::new(), |p| p["name"].as_str().unwrap_or_default().to_string())
    };
    let links = json(&["link", "show"]);
    links
        .as_array()
        .into_iter()
        .flatten()
        .filter(|l| !l["id"].as_u64().is_some_and(|id| before.contains(&id)))
        .map(|l| name_of(&l["prog_id"]))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The ids of the BPF links now.
fn link_ids() -> Vec<u64> {
    let o = Command::new("bpftool").args(["-j", "link", "show"]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or(serde_json::Value::Null);
    v.as_array().into_iter().flatten().filter_map(|l| l["id"].as_u64()).collect()
}

/// Without the program's privileges the eBPF capture says so in one line and exits 1.
#[test]
fn ebpf_capture_refuses_without_privileges_in_one_line() {
    let root = is_root();
    if !root || !probe_built() || !sh(&["setpriv", "--version"]) {
        assert!(!common::ci(), "eBPF capture: CI is set, but this run lacks root, setpriv or the kernel program");
        eprintln!("SKIP eBPF privileges: needs root, setpriv and the kernel program");
        return;
    }
    // Root without any capability: what a service with a wrong unit file would have.
    let o = Command::new("setpriv")
        .args(["--inh-caps=-all", "--bounding-set=-all", "--"])
        .arg(env!("CARGO_BIN_EXE_farhand"))
        .args(["-i", "lo", "--capture", "ebpf", "-o", "/dev/null"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert_eq!(lines.len(), 1, "{err}");
    assert!(lines[0].starts_with("farhand: interface lo: cannot capture with eBPF: "), "{err}");
    assert!(lines[0].contains("CAP_BPF"), "{err}");
}
