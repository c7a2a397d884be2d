//! The common case, decoded by hand: Ethernet (up to two VLAN tags), Linux cooked v1/v2 or
//! raw IP, then IPv4 without options or IPv6 without extension headers, whole and not a
//! fragment, then TCP or UDP. That is nearly every packet a gateway sees, and reading it
//! field by field costs a fraction of building etherparse's general slices.
//!
//! # Contract
//! - [`view`] answers `Some` only for a frame it reads completely, and then exactly the
//!   [`PacketView`] the general path (etherparse, `super::general`) gives for the same bytes:
//!   the same key, side, transport, TCP fields, payload bounds, truncation flag and source
//!   MAC. Everything else (other link types and ether types, IP options, extension headers,
//!   fragments, lengths that disagree with the bytes captured, ICMP and other protocols,
//!   malformed headers) is `None`, and the caller takes the general path, which also counts
//!   why a frame yields nothing. Tests hold the two paths to the same answers over every
//!   case capture and over truncated and mutated frames.
//! - [`endpoints`] reads only a frame's two IP addresses (see its contract).
//! - Neither panics nor allocates, whatever the bytes.

use super::{PacketView, SLL_LEN, SLL2_LEN, TcpInfo};
use crate::capture::{LinkType, RawFrame};
use farhand_model::Transport;
use farhand_model::net::{Addr, FlowKey, proto};

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;

/// Reads a big-endian u16 at `at`.
#[inline(always)]
fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(*b.get(at..)?.first_chunk::<2>()?))
}

/// Reads a big-endian u32 at `at`.
#[inline(always)]
fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(*b.get(at..)?.first_chunk::<4>()?))
}

/// The link layer of a frame: its network layer's ether type, where that layer starts, the
/// VLAN IDs (outer << 12 | inner, as the general path keeps them) and the Ethernet source.
#[inline(always)]
fn link(frame: &RawFrame<'_>) -> Option<(u16, usize, u32, [u8; 6])> {
    let data = frame.data;
    match frame.link {
        LinkType::Ethernet => {
            let src = *data.get(6..)?.first_chunk::<6>()?;
            let mut ether_type = be16(data, 12)?;
            let mut at = 14;
            let mut vlan = 0u32;
            for _ in 0..2 {
                if !matches!(ether_type, 0x8100 | 0x88a8 | 0x9100) {
                    break;
                }
                vlan = (vlan << 12) | u32::from(be16(data, at)? & 0x0fff);
                ether_type = be16(data, at + 2)?;
                at += 4;
            }
            Some((ether_type, at, vlan, src))
        }
        LinkType::LinuxSll => Some((be16(data, 14)?, SLL_LEN, 0, [0; 6])),
        LinkType::LinuxSll2 => Some((be16(data, 0)?, SLL2_LEN, 0, [0; 6])),
        LinkType::RawIp => match data.first()? >> 4 {
            4 => Some((ETHERTYPE_IPV4, 0, 0, [0; 6])),
            6 => Some((ETHERTYPE_IPV6, 0, 0, [0; 6])),
            _ => None,
        },
        _ => None,
    }
}

/// The two IP addresses of a frame's packet (source, destination), read from the outer IP
/// header as cheaply as possible, for routing the frame to a worker before it is decoded
/// (`pipeline`). `None` for framings [`view`] does not read or a header cut short; the caller
/// then decodes the frame to key it. When this returns addresses they are the ones `decode`
/// keys the packet by, if it keys it at all.
#[inline]
pub fn endpoints(frame: &RawFrame<'_>) -> Option<(Addr, Addr)> {
    let (ether_type, at, _, _) = link(frame)?;
    let ip = frame.data.get(at..)?;
    match ether_type {
        ETHERTYPE_IPV4 if ip.first()? >> 4 == 4 => {
            Some((Addr::v4(*ip.get(12..)?.first_chunk::<4>()?), Addr::v4(*ip.get(16..)?.first_chunk::<4>()?)))
        }
        ETHERTYPE_IPV6 if ip.first()? >> 4 == 6 => {
            Some((Addr::v6(*ip.get(8..)?.first_chunk::<16>()?), Addr::v6(*ip.get(24..)?.first_chunk::<16>()?)))
        }
        _ => None,
    }
}

/// The common case's [`PacketView`]; `None`: take the general path (see the contract).
#[inline]
pub fn view<'a>(frame: &RawFrame<'a>) -> Option<PacketView<'a>> {
    let (ether_type, at, vlan, src_mac) = link(frame)?;
    let ip = frame.data.get(at..)?;
    let (src, dst, ipn, l4) = match ether_type {
        ETHERTYPE_IPV4 => {
            // Version 4, no options, the whole packet captured, not a fragment.
            if *ip.first()? != 0x45 {
                return None;
            }
            let total = usize::from(be16(ip, 2)?);
            if total > ip.len() || be16(ip, 6)? & 0x3fff != 0 {
                return None;
            }
            let src = Addr::v4(*ip.get(12..)?.first_chunk::<4>()?);
            let dst = Addr::v4(*ip.get(16..)?.first_chunk::<4>()?);
            (src, dst, *ip.get(9)?, ip.get(20..total)?)
        }
        ETHERTYPE_IPV6 => {
            if ip.first()? >> 4 != 6 {
                return None;
            }
            // No extension headers, a payload length that is neither 0 (jumbogram) nor
            // longer than what was captured.
            let len = usize::from(be16(ip, 4)?);
            if len == 0 || 40 + len > ip.len() {
                return None;
            }
            let src = Addr::v6(*ip.get(8..)?.first_chunk::<16>()?);
            let dst = Addr::v6(*ip.get(24..)?.first_chunk::<16>()?);
            (src, dst, *ip.get(6)?, ip.get(40..40 + len)?)
        }
        _ => return None,
    };
    let (sport, dport, transport, tcp, payload) = match ipn {
        proto::TCP => {
            let offset = usize::from(*l4.get(12)? >> 4) * 4;
            if offset < 20 {
                return None;
            }
            let tcp =
                TcpInfo { flags: *l4.get(13)? & 0x1f, seq: be32(l4, 4)?, ack: be32(l4, 8)?, window: be16(l4, 14)? };
            (be16(l4, 0)?, be16(l4, 2)?, Transport::Tcp, Some(tcp), l4.get(offset..)?)
        }
        proto::UDP => {
            // As etherparse's lax UDP: the length field bounds the payload when it fits what
            // the IP layer holds and covers the header; else the IP payload does.
            let len = usize::from(be16(l4, 4)?);
            let end = if (8..=l4.len()).contains(&len) { len } else { l4.len() };
            (be16(l4, 0)?, be16(l4, 2)?, Transport::Udp, None, l4.get(8..end)?)
        }
        _ => return None,
    };
    let (key, side) = FlowKey::new(src, sport, dst, dport, ipn, vlan);
    Some(PacketView {
        ts: frame.ts,
        key,
        side,
        transport,
        tcp,
        payload,
        wire_len: frame.wire_len,
        truncated: false,
        src_mac,
        echo_reply: false,
    })
}

#[cfg(test)]
mod tests {
    //! The hand-written path against etherparse's, frame by frame: every frame of every case
    //! capture (and of the shared corpus when present), then truncations and byte mutations
    //! of frames the fast path reads.

    use super::*;
    use crate::capture::{Capture, Next, Source};
    use crate::decode::{DecodeStats, general};
    use std::path::{Path, PathBuf};

    /// Every capture file under `dir` (recursively).
    fn captures(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                captures(&p, out);
            } else if p.extension().is_some_and(|e| e == "pcap" || e == "pcapng" || e == "cap") {
                out.push(p);
            }
        }
    }

    /// Holds both paths to one answer for `f`: when the fast path reads it, the general path
    /// gives the same view, and `endpoints` the same addresses. Whether the fast path read it.
    fn agree(f: &RawFrame<'_>) -> bool {
        let fast = view(f);
        let general = general(f, &mut DecodeStats::default());
        if let Some(v) = fast {
            assert_eq!(Some(v), general, "fast and general paths differ on {:02x?}", f.data);
        }
        if let (Some((x, y)), Some(v)) = (endpoints(f), general) {
            let (a, b) = if x <= y { (x, y) } else { (y, x) };
            assert_eq!((a, b), (v.key.a, v.key.b), "endpoints differ from the key on {:02x?}", f.data);
        }
        fast.is_some()
    }

    /// Calls `each` with every frame of every capture under the cases (and the corpus).
    fn every_frame(mut each: impl FnMut(&RawFrame<'_>)) -> usize {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut files = Vec::new();
        captures(&root.join("tests/cases"), &mut files);
        let corpus = root.join("../shared/corpus");
        if corpus.is_dir() {
            captures(&corpus, &mut files);
        } else {
            eprintln!("SKIP the shared corpus in the decode comparison: {} is absent", corpus.display());
        }
        for path in &files {
            let Ok(mut cap) = Capture::open_file(path) else { continue };
            while let Ok(Next::Frame(f)) = cap.next_frame() {
                each(&f);
            }
        }
        files.len()
    }

    #[test]
    fn the_fast_path_gives_the_general_paths_view_of_every_captured_frame() {
        let (mut frames, mut fast) = (0u64, 0u64);
        let files = every_frame(|f| {
            frames += 1;
            fast += u64::from(agree(f));
        });
        assert!(files >= 40, "{files} capture files");
        // Most real traffic is the common case: the fast path must be the one taken.
        assert!(fast * 10 >= frames * 7, "fast path read {fast} of {frames} frames");
    }

    fn frame(link: LinkType, data: &[u8]) -> RawFrame<'_> {
        RawFrame { ts: 7, link, wire_len: 1500, data, shared: None }
    }

    #[test]
    fn truncated_and_mutated_frames_get_the_same_answer_from_both_paths() {
        let mut taken = 0usize;
        let mut sample: Vec<(LinkType, Vec<u8>)> = Vec::new();
        every_frame(|f| {
            // Every 50th frame the fast path reads, at most 400.
            if sample.len() < 400 && view(f).is_some() {
                taken += 1;
                if taken % 50 == 1 {
                    sample.push((f.link, f.data.to_vec()));
                }
            }
        });
        assert!(sample.len() >= 100, "{} sample frames", sample.len());
        for (link, data) in &sample {
            for cut in 0..data.len() {
                agree(&frame(*link, data.get(..cut).unwrap_or_default()));
            }
            let mut m = data.clone();
            for at in 0..m.len().min(96) {
                let orig = m.get(at).copied().unwrap_or_default();
                for v in [0x00, 0xff, orig ^ 0x01, orig ^ 0x80, orig ^ 0x40, orig.wrapping_add(1)] {
                    if let Some(b) = m.get_mut(at) {
                        *b = v;
                    }
                    agree(&frame(*link, &m));
                }
                if let Some(b) = m.get_mut(at) {
                    *b = orig;
                }
            }
        }
    }
}
