//! SoftEther VPN fingerprint: its PACK messages and NAT-traversal keepalives over UDP, any
//! port (the NAT-T servers listen on 5004).
//!
//! # Facts used
//! - SoftEther's serialisation ("PACK", `Mayaqua/Pack.c` of the open-source SoftEther VPN):
//!   a big-endian `u32` element count, then per element a name (`u32` = name length + 1,
//!   then the name's bytes without terminator), a `u32` value type (0 int, 1 data, 2 ANSI
//!   string, 3 Unicode string, 4 int64), a `u32` value count and the values (int: 4 bytes;
//!   int64: 8 bytes; data and strings: a `u32` length, then the bytes). Names are short
//!   ASCII identifiers (`opcode`, `tran_id`, `my_ip`).
//! - The NAT-traversal servers (observed in the nDPI capture `softether.pcap`, UDP 5004):
//!   the client sends PACKs (`opcode`/`get_token`, `host_name`/`machine_key` …) answered with
//!   PACKs (`isret`, `my_ip` …), and a one-byte keepalive `A` answered with the text
//!   `IP=<client's public address>,PORT=<client's public port>`.
//!
//! # Contract
//! Match when the initiator's first datagram is a whole PACK answered by a whole PACK, or the
//! `A` keepalive answered by an `IP=…,PORT=…` line; at `finished`, a whole PACK of at least
//! two elements alone. `NoMatch` as soon as a datagram is neither. UDP only (SoftEther's TCP
//! sessions run inside TLS and are recognised by name).

use super::{Exchange, Fingerprint, Interest, Outcome};
use farhand_model::evidence::Evidence;
use farhand_model::evidence::SoftEtherEvidence;
use farhand_model::tool::{Match, Method, Tool, Transport};

/// Most elements accepted in one PACK (real messages carry a handful to a few dozen).
pub const MAX_ELEMENTS: u32 = 256;
/// Longest element name accepted (SoftEther caps names at 63 characters).
pub const MAX_NAME_LEN: usize = 63;
/// Most values per element accepted.
pub const MAX_VALUES: u32 = 1024;
/// Longest `IP=…,PORT=…` keepalive answer accepted.
pub const MAX_KEEPALIVE_ANSWER: usize = 64;
/// Largest datagram this fingerprint reads.
pub const BYTES_WANTED: usize = 2048;
/// Element names reported in the evidence, per message.
const REPORTED_NAMES: usize = 4;

/// Confidence: a PACK answered by a PACK.
pub const CONFIDENCE_PACKS: u8 = 90;
/// Confidence: the NAT-T keepalive and its answer.
pub const CONFIDENCE_KEEPALIVE: u8 = 85;
/// Confidence: one PACK alone.
pub const CONFIDENCE_PACK: u8 = 65;

/// The client's NAT-T keepalive.
const KEEPALIVE: &[u8] = b"A";

fn be32(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..)?.first_chunk::<4>().map(|c| u32::from_be_bytes(*c))
}

/// Parse a whole datagram as one PACK: `Some(element names)` when every element is well
/// formed and the PACK ends exactly at the end of the datagram.
pub fn parse_pack(d: &[u8]) -> Option<Vec<String>> {
    let count = be32(d, 0)?;
    if count == 0 || count > MAX_ELEMENTS {
        return None;
    }
    let mut at = 4usize;
    let mut names = Vec::new();
    for _ in 0..count {
        let name_field = usize::try_from(be32(d, at)?).ok()?;
        let name_len = name_field.checked_sub(1)?;
        if name_len == 0 || name_len > MAX_NAME_LEN {
            return None;
        }
        let name = d.get(at + 4..at + 4 + name_len)?;
        if !name.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'_' || c == b'.' || c == b'-') {
            return None;
        }
        at += 4 + name_len;
        let kind = be32(d, at)?;
        let values = be32(d, at + 4)?;
        if values == 0 || values > MAX_VALUES {
            return None;
        }
        at += 8;
        for _ in 0..values {
            at += match kind {
                0 => 4,
                4 => 8,
                1..=3 => 4 + usize::try_from(be32(d, at)?).ok()?,
                _ => return None,
            };
            if at > d.len() {
                return None;
            }
        }
        if names.len() < REPORTED_NAMES {
            names.push(String::from_utf8_lossy(name).into_owned());
        }
    }
    (at == d.len()).then_some(names)
}

/// Parse the NAT-T server's answer to the keepalive: `IP=<address>,PORT=<port>`.
pub fn parse_keepalive_answer(d: &[u8]) -> Option<(std::net::IpAddr, u16)> {
    if d.len() > MAX_KEEPALIVE_ANSWER {
        return None;
    }
    let text = std::str::from_utf8(d).ok()?;
    let (ip, port) = text.strip_prefix("IP=")?.split_once(",PORT=")?;
    Some((ip.parse().ok()?, port.parse().ok()?))
}

/// The SoftEther fingerprint.
#[derive(Debug, Clone, Copy, Default)]
pub struct SoftEtherFingerprint;

impl Fingerprint for SoftEtherFingerprint {
    fn tool(&self) -> Tool {
        Tool::SoftEther
    }
    fn version(&self) -> &'static str {
        "1"
    }
    fn interest(&self) -> Interest {
        Interest::udp(BYTES_WANTED)
    }
    fn inspect(&self, ex: &Exchange<'_>) -> Outcome {
        if ex.transport != Transport::Udp {
            return Outcome::NoMatch;
        }
        let keepalive = ex.orig == KEEPALIVE;
        let client = if keepalive { None } else { parse_pack(ex.orig) };
        if !keepalive && client.is_none() {
            return Outcome::NoMatch;
        }
        let mut ev = SoftEtherEvidence { client_elements: client.clone().unwrap_or_default(), ..Default::default() };
        let confidence = if ex.resp.is_empty() {
            match client {
                _ if !ex.finished => return Outcome::NeedMore,
                Some(names) if names.len() >= 2 => {
                    ev.note = "a PACK message alone";
                    CONFIDENCE_PACK
                }
                _ => return Outcome::NoMatch,
            }
        } else if keepalive {
            let Some((ip, port)) = parse_keepalive_answer(ex.resp) else {
                return Outcome::NoMatch;
            };
            ev.reported_public_address = Some(std::net::SocketAddr::new(ip, port).to_string());
            ev.note = "NAT-T keepalive answered with the client's public address";
            CONFIDENCE_KEEPALIVE
        } else {
            let Some(server) = parse_pack(ex.resp) else {
                return Outcome::NoMatch;
            };
            ev.server_elements = server;
            ev.note = "PACK messages both ways";
            CONFIDENCE_PACKS
        };
        Outcome::Match(Match {
            tool: Tool::SoftEther,
            confidence,
            method: Method::PayloadStructure,
            evidence: Evidence::Softether(ev),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex<'a>(o: &'a [u8], r: &'a [u8], fin: bool) -> Exchange<'a> {
        Exchange {
            transport: Transport::Udp,
            orig: o,
            resp: r,
            orig_port: 51381,
            resp_port: 5004,
            finished: fin,
            datagrams: &[],
        }
    }

    /// A PACK built from the format: `(name, type, values)`.
    fn pack(elems: &[(&str, u32, &[&[u8]])]) -> Vec<u8> {
        let mut d = (elems.len() as u32).to_be_bytes().to_vec();
        for (name, kind, values) in elems {
            d.extend_from_slice(&(name.len() as u32 + 1).to_be_bytes());
            d.extend_from_slice(name.as_bytes());
            d.extend_from_slice(&kind.to_be_bytes());
            d.extend_from_slice(&(values.len() as u32).to_be_bytes());
            for v in *values {
                if matches!(kind, 1..=3) {
                    d.extend_from_slice(&(v.len() as u32).to_be_bytes());
                }
                d.extend_from_slice(v);
            }
        }
        d
    }

    fn client() -> Vec<u8> {
        pack(&[("opcode", 2, &[b"get_token"]), ("tran_id", 4, &[&[0, 0, 0, 1, 0x55, 0xca, 0x10, 0x20]])])
    }

    fn server() -> Vec<u8> {
        pack(&[("isret", 0, &[&[0, 0, 0, 1]]), ("my_ip", 2, &[b"130.158.6.105"])])
    }

    #[test]
    fn packs_both_ways_match() {
        let out = SoftEtherFingerprint.inspect(&ex(&client(), &server(), false));
        let Outcome::Match(m) = out else { panic!("{out:?}") };
        assert_eq!((m.tool, m.confidence), (Tool::SoftEther, CONFIDENCE_PACKS));
        let Evidence::Softether(e) = m.evidence else { panic!() };
        assert_eq!(e.client_elements, ["opcode", "tran_id"]);
        assert_eq!(e.server_elements, ["isret", "my_ip"]);
        assert_eq!(SoftEtherFingerprint.inspect(&ex(&client(), b"", false)), Outcome::NeedMore);
        assert!(matches!(SoftEtherFingerprint.inspect(&ex(&client(), b"", true)), Outcome::Match(_)));
        assert_eq!(SoftEtherFingerprint.inspect(&ex(&client(), b"HTTP/1.1 200 OK\r\n", false)), Outcome::NoMatch);
    }

    #[test]
    fn keepalive_and_answer_match() {
        let out = SoftEtherFingerprint.inspect(&ex(b"A", b"IP=192.0.2.7,PORT=51381", false));
        let Outcome::Match(m) = out else { panic!("{out:?}") };
        assert_eq!(m.confidence, CONFIDENCE_KEEPALIVE);
        let Evidence::Softether(e) = m.evidence else { panic!() };
        assert_eq!(e.reported_public_address.as_deref(), Some("192.0.2.7:51381"));
        for bad in [&b"IP=192.0.2.7"[..], b"IP=300.0.2.7,PORT=1", b"IP=192.0.2.7,PORT=70000", b"B"] {
            assert_eq!(SoftEtherFingerprint.inspect(&ex(b"A", bad, false)), Outcome::NoMatch, "{bad:?}");
        }
        // A lone one-byte datagram is not evidence.
        assert_eq!(SoftEtherFingerprint.inspect(&ex(b"A", b"", true)), Outcome::NoMatch);
    }

    #[test]
    fn truncation_and_hostile_lengths() {
        let (c, s) = (client(), server());
        for len in 0..c.len() {
            assert_eq!(parse_pack(&c[..len]), None, "{len}");
            assert_ne!(SoftEtherFingerprint.inspect(&ex(&c[..len], &s, true)), Outcome::NeedMore);
        }
        let mut trailing = c.clone();
        trailing.push(0);
        assert_eq!(parse_pack(&trailing), None);
        // Element count, name length and value length at their extremes.
        for (at, v) in [(0usize, u32::MAX), (0, 0), (4, 0), (4, u32::MAX), (22, u32::MAX)] {
            let mut bad = c.clone();
            bad[at..at + 4].copy_from_slice(&v.to_be_bytes());
            assert_eq!(parse_pack(&bad), None, "{at} {v:#x}");
        }
        assert_eq!(parse_pack(&pack(&[("bad name", 0, &[&[0, 0, 0, 1]])])), None);
        assert_eq!(parse_pack(&pack(&[("x", 9, &[&[0, 0, 0, 1]])])), None);
    }
}
