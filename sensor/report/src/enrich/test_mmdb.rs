//! A minimal MaxMind DB writer for tests only: builds small databases whose records the
//! tests choose, so that lookups can be asserted exactly.
//!
//! # Contract
//! Test-only (`#[cfg(test)]`). IPv6 trees (`ip_version` 6, 24-bit records) with IPv4
//! networks placed at `::a.b.c.d`, as the MaxMind DB spec lays them out; networks must not
//! nest. Each network gets its own copy of its record (no pointers, no deduplication).

use std::net::IpAddr;

/// A value of the MaxMind DB data section.
pub enum Val {
    /// UTF-8 string.
    Str(String),
    /// Unsigned 16-bit integer.
    U16(u16),
    /// Unsigned 32-bit integer.
    U32(u32),
    /// Unsigned 64-bit integer.
    U64(u64),
    /// Map with string keys.
    Map(Vec<(String, Val)>),
    /// Array.
    Arr(Vec<Val>),
}

/// A string value.
pub fn s(v: &str) -> Val {
    Val::Str(v.to_string())
}

/// A map value.
pub fn map(pairs: Vec<(&str, Val)>) -> Val {
    Val::Map(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

fn control(out: &mut Vec<u8>, kind: u8, size: usize) {
    let (low, extra): (u8, Vec<u8>) = match size {
        0..=28 => (size as u8, vec![]),
        29..=284 => (29, vec![(size - 29) as u8]),
        285..=65820 => (30, ((size - 285) as u16).to_be_bytes().to_vec()),
        _ => (31, ((size - 65821) as u32).to_be_bytes()[1..].to_vec()),
    };
    if kind <= 7 {
        out.push(kind << 5 | low);
    } else {
        out.push(low);
        out.push(kind - 7);
    }
    out.extend(extra);
}

/// An unsigned integer in as few big-endian bytes as it needs (zero in none).
fn uint(out: &mut Vec<u8>, kind: u8, v: u64) {
    let used: Vec<u8> = v.to_be_bytes().into_iter().skip_while(|&b| b == 0).collect();
    control(out, kind, used.len());
    out.extend(used);
}

fn encode(out: &mut Vec<u8>, v: &Val) {
    match v {
        Val::Str(t) => {
            control(out, 2, t.len());
            out.extend(t.as_bytes());
        }
        Val::U16(n) => uint(out, 5, u64::from(*n)),
        Val::U32(n) => uint(out, 6, u64::from(*n)),
        Val::U64(n) => uint(out, 9, *n),
        Val::Map(pairs) => {
            control(out, 7, pairs.len());
            for (k, v) in pairs {
                encode(out, &Val::Str(k.clone()));
                encode(out, v);
            }
        }
        Val::Arr(items) => {
            control(out, 11, items.len());
            for v in items {
                encode(out, v);
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Rec {
    Empty,
    Node(usize),
    Data(usize),
}

/// A database of type `db_type` holding `(network in CIDR notation, record)` pairs.
pub fn build(db_type: &str, networks: Vec<(&str, Val)>) -> Vec<u8> {
    let mut nodes: Vec<[Rec; 2]> = vec![[Rec::Empty; 2]];
    let mut data = Vec::new();
    for (cidr, record) in networks {
        let (addr, len) = cidr.split_once('/').unwrap();
        let len: u32 = len.parse().unwrap();
        let (bits, len) = match addr.parse::<IpAddr>().unwrap() {
            IpAddr::V4(a) => (u128::from(u32::from(a)), len + 96),
            IpAddr::V6(a) => (u128::from(a), len),
        };
        let offset = data.len();
        encode(&mut data, &record);
        let mut node = 0;
        for depth in 0..len {
            let bit = ((bits >> (127 - depth)) & 1) as usize;
            if depth == len - 1 {
                nodes[node][bit] = Rec::Data(offset);
            } else {
                node = match nodes[node][bit] {
                    Rec::Node(n) => n,
                    Rec::Empty => {
                        nodes.push([Rec::Empty; 2]);
                        let n = nodes.len() - 1;
                        nodes[node][bit] = Rec::Node(n);
                        n
                    }
                    Rec::Data(_) => panic!("test_mmdb: nested networks are not supported"),
                };
            }
        }
    }
    let count = nodes.len();
    let mut out = Vec::new();
    for pair in &nodes {
        for rec in pair {
            let v = match *rec {
                Rec::Empty => count,
                Rec::Node(n) => n,
                Rec::Data(off) => count + 16 + off,
            };
            out.extend(&(v as u32).to_be_bytes()[1..]);
        }
    }
    out.extend([0u8; 16]);
    out.extend(&data);
    out.extend(b"\xab\xcd\xefMaxMind.com");
    let meta = map(vec![
        ("binary_format_major_version", Val::U16(2)),
        ("binary_format_minor_version", Val::U16(0)),
        ("build_epoch", Val::U64(1_750_000_000)),
        ("database_type", s(db_type)),
        ("description", map(vec![("en", s("farhand test database"))])),
        ("ip_version", Val::U16(6)),
        ("languages", Val::Arr(vec![s("en")])),
        ("node_count", Val::U32(count as u32)),
        ("record_size", Val::U16(24)),
    ]);
    encode(&mut out, &meta);
    out
}
