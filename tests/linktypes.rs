//! Every supported link type end to end: the demo capture's real frames are re-encapsulated
//! (Linux cooked v1/v2, raw IP, BSD NULL/LOOP, 802.1Q and QinQ Ethernet, PPP, PPPoE, Cisco
//! HDLC, NFLOG, 802.11 with and without radiotap, pcapng) into
//! capture files that libpcap then reads, and farhand must find the same three sessions.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a failed expectation should panic with its message"
)]

use farhand::config::Settings;
use farhand::pipeline::{RunOptions, run};
use farhand_engine::capture::Capture;
use farhand_report::sink::MemorySink;
use farhand_report::sink::json::Observer;
use std::path::{Path, PathBuf};

fn demo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/cases/demo/input.pcap")
}

/// A record: timestamp seconds, microseconds, frame bytes.
type Record = (u32, u32, Vec<u8>);

/// Every record of a little-endian microsecond pcap.
fn records(path: &Path) -> Vec<Record> {
    let d = std::fs::read(path).unwrap();
    assert_eq!(&d[..4], &[0xd4, 0xc3, 0xb2, 0xa1], "demo is a little-endian microsecond pcap");
    let mut out = Vec::new();
    let mut off = 24;
    while off + 16 <= d.len() {
        let u = |i: usize| u32::from_le_bytes(d[off + i..off + i + 4].try_into().unwrap());
        let (sec, usec, caplen) = (u(0), u(4), u(8) as usize);
        out.push((sec, usec, d[off + 16..off + 16 + caplen].to_vec()));
        off += 16 + caplen;
    }
    out
}

fn write_pcap(path: &Path, linktype: u32, frames: &[Record]) {
    let mut f = Vec::new();
    f.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    f.extend_from_slice(&2u16.to_le_bytes());
    f.extend_from_slice(&4u16.to_le_bytes());
    f.extend_from_slice(&[0; 8]);
    f.extend_from_slice(&65535u32.to_le_bytes());
    f.extend_from_slice(&linktype.to_le_bytes());
    for (s, u, data) in frames {
        for v in [*s, *u, data.len() as u32, data.len() as u32] {
            f.extend_from_slice(&v.to_le_bytes());
        }
        f.extend_from_slice(data);
    }
    std::fs::write(path, f).unwrap();
}

/// The protocol crate under the name the shared test helpers use for it.
use farhand_proto as proto_crate;
/// The pcapng block writer the unit tests use too.
#[path = "../sensor/proto/src/testutil.rs"]
mod testutil;
use testutil::pcapng_block as block;

fn write_pcapng(path: &Path, frames: &[Record]) {
    let mut f = Vec::new();
    let mut shb = Vec::new();
    shb.extend_from_slice(&0x1a2b_3c4du32.to_le_bytes());
    shb.extend_from_slice(&1u16.to_le_bytes());
    shb.extend_from_slice(&0u16.to_le_bytes());
    shb.extend_from_slice(&(-1i64).to_le_bytes());
    f.extend(block(0x0a0d_0d0a, &shb));
    let mut idb = Vec::new();
    idb.extend_from_slice(&1u16.to_le_bytes()); // Ethernet
    idb.extend_from_slice(&0u16.to_le_bytes());
    idb.extend_from_slice(&0u32.to_le_bytes());
    f.extend(block(1, &idb));
    for (s, u, data) in frames {
        let ts = u64::from(*s) * 1_000_000 + u64::from(*u);
        let mut epb = Vec::new();
        epb.extend_from_slice(&0u32.to_le_bytes());
        epb.extend_from_slice(&((ts >> 32) as u32).to_le_bytes());
        epb.extend_from_slice(&(ts as u32).to_le_bytes());
        epb.extend_from_slice(&(data.len() as u32).to_le_bytes());
        epb.extend_from_slice(&(data.len() as u32).to_le_bytes());
        epb.extend_from_slice(data);
        epb.extend(std::iter::repeat_n(0u8, (4 - data.len() % 4) % 4));
        f.extend(block(6, &epb));
    }
    std::fs::write(path, f).unwrap();
}

fn tools_of(path: &Path) -> Vec<String> {
    let mut settings = Settings::defaults();
    settings.workers = 1;
    let mut cap = Capture::open_file(path).unwrap_or_else(|e| panic!("{e}"));
    let mut sink = MemorySink::new(Observer::default());
    let s = run(&mut cap, &settings, &mut sink, &RunOptions::default());
    assert!(s.input_error.is_none());
    let mut t: Vec<String> = sink
        .alerts
        .iter()
        .filter(|a| a["unmapped"]["farhand"]["kind"] == "remote_control_session")
        .map(|a| a["unmapped"]["farhand"]["tool"].as_str().unwrap().to_string())
        .collect();
    t.sort();
    t
}

#[test]
fn every_link_type_finds_the_demo_sessions() {
    let eth = records(&demo());
    let ip_of = |f: &Vec<u8>| f[14..].to_vec();
    let ethertype = |f: &Vec<u8>| [f[12], f[13]];
    let dir = tempfile::tempdir().unwrap();
    let variants: Vec<(&str, u32, Vec<Record>)> = vec![
        ("ethernet", 1, eth.clone()),
        (
            "vlan",
            1,
            eth.iter()
                .map(|(s, u, f)| {
                    let mut g = f[..12].to_vec();
                    g.extend_from_slice(&[0x81, 0x00, 0x00, 0x64]); // 802.1Q, VLAN 100
                    g.extend_from_slice(&f[12..]);
                    (*s, *u, g)
                })
                .collect(),
        ),
        (
            "qinq",
            1,
            eth.iter()
                .map(|(s, u, f)| {
                    let mut g = f[..12].to_vec();
                    g.extend_from_slice(&[0x88, 0xa8, 0x00, 0x0a, 0x81, 0x00, 0x00, 0x64]); // 802.1ad 10 / 802.1Q 100
                    g.extend_from_slice(&f[12..]);
                    (*s, *u, g)
                })
                .collect(),
        ),
        (
            "linux-sll",
            113,
            eth.iter()
                .map(|(s, u, f)| {
                    let mut g = vec![0, 0, 0, 1, 0, 6];
                    g.extend_from_slice(&f[6..12]);
                    g.extend_from_slice(&[0, 0]);
                    g.extend_from_slice(&ethertype(f));
                    g.extend_from_slice(&f[14..]);
                    (*s, *u, g)
                })
                .collect(),
        ),
        (
            "linux-sll2",
            276,
            eth.iter()
                .map(|(s, u, f)| {
                    let mut g = ethertype(f).to_vec();
                    g.extend_from_slice(&[0, 0, 0, 0, 0, 2, 0, 1, 0, 6]);
                    g.extend_from_slice(&f[6..12]);
                    g.extend_from_slice(&[0, 0]);
                    g.extend_from_slice(&f[14..]);
                    (*s, *u, g)
                })
                .collect(),
        ),
        (
            "raw-ip",
            101,
            eth.iter().filter(|(_, _, f)| ethertype(f) == [8, 0]).map(|(s, u, f)| (*s, *u, ip_of(f))).collect(),
        ),
        (
            "bsd-null",
            0,
            eth.iter()
                .filter(|(_, _, f)| ethertype(f) == [8, 0])
                .map(|(s, u, f)| {
                    let mut g = 2u32.to_le_bytes().to_vec();
                    g.extend(ip_of(f));
                    (*s, *u, g)
                })
                .collect(),
        ),
        (
            "openbsd-loop",
            108,
            eth.iter()
                .filter(|(_, _, f)| ethertype(f) == [8, 0])
                .map(|(s, u, f)| {
                    let mut g = 2u32.to_be_bytes().to_vec();
                    g.extend(ip_of(f));
                    (*s, *u, g)
                })
                .collect(),
        ),
    ];
    // The link types a gateway also sees, each built from its specification around the same
    // IPv4 packets (see sensor/engine/src/decode/links.rs for the facts).
    let v4: Vec<(u32, u32, Vec<u8>)> =
        eth.iter().filter(|(_, _, f)| ethertype(f) == [8, 0]).map(|(s, u, f)| (*s, *u, ip_of(f))).collect();
    let wrap = |prefix: &[u8]| -> Vec<Record> {
        v4.iter()
            .map(|(s, u, ip)| {
                let mut g = prefix.to_vec();
                g.extend_from_slice(ip);
                (*s, *u, g)
            })
            .collect()
    };
    let pppoe = |ip: &[u8]| -> Vec<u8> {
        let mut g = vec![0x11, 0x00, 0x12, 0x34];
        g.extend_from_slice(&((ip.len() + 2) as u16).to_be_bytes());
        g.extend_from_slice(&[0x00, 0x21]);
        g.extend_from_slice(ip);
        g
    };
    let nflog = |ip: &[u8]| -> Vec<u8> {
        let mut g = vec![2, 0, 0, 1];
        g.extend_from_slice(&8u16.to_le_bytes()); // NFULA_PACKET_HDR: hw protocol, hook, pad
        g.extend_from_slice(&1u16.to_le_bytes());
        g.extend_from_slice(&[0x08, 0x00, 3, 0]);
        g.extend_from_slice(&((ip.len() + 4) as u16).to_le_bytes()); // NFULA_PAYLOAD
        g.extend_from_slice(&9u16.to_le_bytes());
        g.extend_from_slice(ip);
        g.extend(std::iter::repeat_n(0u8, (4 - ip.len() % 4) % 4));
        g
    };
    let radiotap = |ip: &[u8]| -> Vec<u8> {
        let mut g = vec![0, 0, 8, 0, 0, 0, 0, 0];
        g.extend_from_slice(&[0x08, 0x01, 0, 0]); // data, ToDS
        g.extend_from_slice(&[0u8; 20]);
        g.extend_from_slice(&[0xAA, 0xAA, 0x03, 0, 0, 0, 0x08, 0x00]);
        g.extend_from_slice(ip);
        g
    };
    let mapped =
        |f: &dyn Fn(&[u8]) -> Vec<u8>| -> Vec<Record> { v4.iter().map(|(s, u, ip)| (*s, *u, f(ip))).collect() };
    let more: Vec<(&str, u32, Vec<Record>)> = vec![
        ("ppp-hdlc-framing", 9, wrap(&[0xFF, 0x03, 0x00, 0x21])),
        ("ppp-bare", 9, wrap(&[0x00, 0x21])),
        ("ppp-serial", 50, wrap(&[0xFF, 0x03, 0x00, 0x21])),
        ("cisco-hdlc", 104, wrap(&[0x0F, 0x00, 0x08, 0x00])),
        ("ppp-ether", 51, mapped(&pppoe)),
        (
            "pppoe-in-ethernet",
            1,
            mapped(&|ip: &[u8]| {
                let mut g = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x88, 0x64];
                g.extend(pppoe(ip));
                g
            }),
        ),
        ("nflog", 239, mapped(&nflog)),
        ("radiotap-802.11", 127, mapped(&radiotap)),
        ("802.11", 105, mapped(&|ip: &[u8]| radiotap(ip)[8..].to_vec())),
    ];
    let variants: Vec<_> = variants.into_iter().chain(more).collect();
    for (name, lt, frames) in &variants {
        let p = dir.path().join(format!("{name}.pcap"));
        write_pcap(&p, *lt, frames);
        assert_eq!(tools_of(&p), ["rdp", "ssh", "vnc"], "{name}");
    }
    let p = dir.path().join("demo.pcapng");
    write_pcapng(&p, &eth);
    assert_eq!(tools_of(&p), ["rdp", "ssh", "vnc"], "pcapng");
}

#[test]
fn unsupported_link_type_is_refused_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("token-ring.pcap");
    write_pcap(&p, 6, &[(1, 0, vec![0u8; 40])]);
    let e = Capture::open_file(&p).err().expect("refused").to_string();
    assert!(e.contains("unsupported link type 6"), "{e}");
}
