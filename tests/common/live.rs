//! What the live-capture tests share (`tests/live.rs`, `tests/ebpf.rs`): commands, network
//! namespaces and processes that clean up however a test ends, and the python helpers that
//! send a capture's frames into an interface and scrape the metrics endpoint.

use std::process::{Command, Stdio};

/// Runs a command quietly; whether it succeeded.
pub fn sh(args: &[&str]) -> bool {
    let Some((cmd, rest)) = args.split_first() else { return false };
    Command::new(cmd).args(rest).stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
}

/// Whether the test runs as root.
pub fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| o.stdout == b"0\n").unwrap_or(false)
}

/// Network namespaces (and the veth pairs in them), deleted however the test ends.
pub struct Netns(pub Vec<String>);

impl Drop for Netns {
    fn drop(&mut self) {
        for n in &self.0 {
            sh(&["ip", "netns", "del", n]);
        }
    }
}

/// A child process, killed if the test fails before it ended.
pub struct Child(pub std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Sends every frame of a pcap (Ethernet, any byte order / time precision) out of an
/// interface through an AF_PACKET socket; prints the number of frames.
/// Arguments: the pcap, the interface.
pub const SENDER: &str = r#"
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

/// Fetches http://ADDR/metrics and prints the body. Argument: ADDR.
pub const SCRAPE: &str = r#"
import sys, urllib.request
print(urllib.request.urlopen('http://%s/metrics' % sys.argv[1], timeout=5).read().decode())
"#;

/// Stops a running sensor with SIGINT (as Ctrl-C), waits at most 10 s; its exit status and
/// what it printed on stderr (it must have been spawned with a piped stderr).
pub fn interrupt(sensor: &mut Child) -> (std::process::ExitStatus, String) {
    assert!(sh(&["kill", "-INT", &sensor.0.id().to_string()]), "cannot signal the sensor");
    let t0 = std::time::Instant::now();
    let status = loop {
        if let Ok(Some(s)) = sensor.0.try_wait() {
            break s;
        }
        assert!(t0.elapsed() < std::time::Duration::from_secs(10), "farhand did not stop on SIGINT");
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let mut err = String::new();
    if let Some(e) = sensor.0.stderr.as_mut() {
        let _ = std::io::Read::read_to_string(e, &mut err);
    }
    (status, err)
}

/// The tools of the remote-control sessions in an alerts file (JSON lines), sorted.
pub fn session_tools(alerts: &std::path::Path) -> Vec<String> {
    let text = std::fs::read_to_string(alerts).unwrap_or_default();
    let mut tools: Vec<String> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|a| a["unmapped"]["farhand"]["kind"] == "remote_control_session")
        .filter_map(|a| a["unmapped"]["farhand"]["tool"].as_str().map(str::to_string))
        .collect();
    tools.sort();
    tools
}

/// Sends the demo capture's frames out of `iface` in namespace `ns`; how many.
pub fn send_demo(ns: &str, iface: &str) -> u64 {
    let demo = super::repo().join("tests/cases/demo/input.pcap");
    let sent = Command::new("ip")
        .args(["netns", "exec", ns, "python3", "-c", SENDER])
        .arg(&demo)
        .arg(iface)
        .output()
        .unwrap_or_else(|e| panic!("python3: {e}"));
    assert!(sent.status.success(), "{}", String::from_utf8_lossy(&sent.stderr));
    String::from_utf8_lossy(&sent.stdout).trim().parse().unwrap_or_else(|e| panic!("frames sent: {e}"))
}
