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
