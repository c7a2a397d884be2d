//! The pcapng reader of farhand's own, for every pcapng file: blocks parsed where they lie
//! in the chunked buffer of `chunks.rs`. It reads every interface's frames with that
//! interface's own link type and timestamp resolution — libpcap reads every frame with the
//! first interface's link type and stops at the first interface that differs (a capture of
//! a gateway's Ethernet leg and its NFLOG group, `mergecap` of captures made on different
//! links).
//!
//! # Contract
//! - [`Pcapng::open`] reads the Section Header Block; [`Pcapng::next_frame`] walks the blocks
//!   (pcapng, draft-ietf-opsawg-pcapng): Section Header (a new section: byte order and
//!   interfaces start over), Interface Description (link type, snapshot length, `if_tsresol`,
//!   `if_tsoffset`), Enhanced Packet, Simple Packet (interface 0, no timestamp) and the
//!   obsolete Packet Block; every other block type is skipped.
//! - Frames of an interface whose link type farhand does not decode are skipped and counted
//!   ([`Pcapng::skipped`]); a frame naming an interface not described is an error.
//! - Every length is checked against the block before it is used: a block shorter than its
//!   fixed part, a length not a multiple of 4 or over [`MAX_BLOCK_LEN`], a trailing length
//!   that differs from the leading one, or a captured length past the block are
//!   [`CaptureError::BadFile`]; a file that ends inside a block is [`CaptureError::Truncated`],
//!   after every frame before it was delivered. Nothing here panics on file contents.
//! - Timestamps become microseconds since the Unix epoch (decimal and binary resolutions,
//!   the interface's offset added), saturating instead of wrapping.

use super::chunks::Chunks;
use super::{CaptureError, LinkType, SharedBuffer};
use farhand_model::Micros;
use std::fs::File;
use std::path::{Path, PathBuf};

/// Section Header Block type (also the file's magic).
pub const SHB: u32 = 0x0A0D_0D0A;
/// Interface Description Block type.
pub const IDB: u32 = 1;
/// The obsolete Packet Block type.
pub const PB: u32 = 2;
/// Simple Packet Block type.
pub const SPB: u32 = 3;
/// Enhanced Packet Block type.
pub const EPB: u32 = 6;
/// The byte-order magic of a Section Header Block.
pub const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;
/// Largest block accepted (libpcap's limit for a block with a maximum-size packet).
pub const MAX_BLOCK_LEN: u32 = 16 * 1024 * 1024;
/// Most interfaces a section may describe.
pub const MAX_INTERFACES: usize = 4096;
/// `if_tsresol` option code.
const OPT_TSRESOL: u16 = 9;
/// `if_tsoffset` option code.
const OPT_TSOFFSET: u16 = 14;

/// How one interface's timestamps count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resolution {
    /// Units of 10^-n seconds.
    Decimal(u8),
    /// Units of 2^-n seconds.
    Binary(u8),
}

#[derive(Debug, Clone, Copy)]
struct Interface {
    dlt: u16,
    link: Option<LinkType>,
    resolution: Resolution,
    offset_s: i64,
    snaplen: u32,
}

/// One frame's place in the reader's buffer, and what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameAt {
    /// Capture time, microseconds since the Unix epoch.
    pub ts: Micros,
    /// The interface's link type.
    pub link: LinkType,
    /// Its link-type number (for a BPF filter compiled for it).
    pub dlt: u16,
    /// Length on the wire.
    pub wire_len: u32,
    /// Where the captured bytes start in [`Pcapng::buf`].
    pub start: usize,
    /// Where they end.
    pub end: usize,
}

/// An open pcapng file read block by block.
pub struct Pcapng {
    /// The file's bytes, chunk by chunk (`chunks.rs`): blocks are read where they lie.
    chunks: Chunks,
    path: PathBuf,
    /// The current section's byte order.
    big_endian: bool,
    interfaces: Vec<Interface>,
    /// The current block's body: where it starts and ends in the chunks' buffer.
    body: (usize, usize),
    skipped: u64,
}

impl Pcapng {
    /// Opens a pcapng file: its first block must be a Section Header.
    pub fn open(path: &Path) -> Result<Pcapng, CaptureError> {
        let f = File::open(path).map_err(|e| CaptureError::BadFile { path: path.to_path_buf(), msg: e.to_string() })?;
        let mut p = Pcapng {
            chunks: Chunks::new(f, path.to_path_buf(), 0),
            path: path.to_path_buf(),
            big_endian: false,
            interfaces: Vec::new(),
            body: (0, 0),
            skipped: 0,
        };
        match p.block()? {
            Some(SHB) => Ok(p),
            _ => Err(p.bad("does not begin with a pcapng section header")),
        }
    }

    /// The current block's bytes (a frame's are at [`FrameAt::start`]..[`FrameAt::end`]).
    pub fn buf(&self) -> &[u8] {
        self.chunks.buffer().get(self.body.0..self.body.1).unwrap_or_default()
    }

    /// The buffer the current block lies in, shared, and where [`buf`](Pcapng::buf) starts in
    /// it (a frame's place for the zero-copy hand-over).
    pub fn shared(&self) -> (&SharedBuffer, usize) {
        (self.chunks.buffer(), self.body.0)
    }

    /// Bytes of the file read so far.
    pub fn position(&self) -> u64 {
        self.chunks.position()
    }

    /// Frames skipped because their interface's link type is not one farhand decodes.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// The next frame, or `None` at the end of the file.
    pub fn next_frame(&mut self) -> Result<Option<FrameAt>, CaptureError> {
        loop {
            let Some(kind) = self.block()? else { return Ok(None) };
            let frame = match kind {
                EPB => self.packet(20, |p| (p.u32(0), p.u32(4), p.u32(8), p.u32(12), p.u32(16)))?,
                PB => self.packet(20, |p| {
                    let id = u32::from(p.u16(0).unwrap_or(0));
                    (Some(id), p.u32(4), p.u32(8), p.u32(12), p.u32(16))
                })?,
                SPB => self.simple()?,
                IDB => {
                    self.interface()?;
                    None
                }
                _ => None,
            };
            if let Some(f) = frame {
                return Ok(Some(f));
            }
        }
    }

    fn bad(&self, msg: &str) -> CaptureError {
        CaptureError::BadFile { path: self.path.clone(), msg: format!("{msg} (at byte {})", self.chunks.position()) }
    }

    fn u16(&self, at: usize) -> Option<u16> {
        let b = *self.buf().get(at..)?.first_chunk::<2>()?;
        Some(if self.big_endian { u16::from_be_bytes(b) } else { u16::from_le_bytes(b) })
    }

    fn u32(&self, at: usize) -> Option<u32> {
        let b = *self.buf().get(at..)?.first_chunk::<4>()?;
        Some(if self.big_endian { u32::from_be_bytes(b) } else { u32::from_le_bytes(b) })
    }

    fn u64(&self, at: usize) -> Option<u64> {
        let b = *self.buf().get(at..)?.first_chunk::<8>()?;
        Some(if self.big_endian { u64::from_be_bytes(b) } else { u64::from_le_bytes(b) })
    }

    /// The file ends inside a block.
    fn truncated(&self) -> CaptureError {
        CaptureError::Truncated {
            path: self.path.clone(),
            msg: format!("the file ends inside a pcapng block (at byte {})", self.chunks.position()),
        }
    }

    /// The word at `at` of the unread bytes, in the current section's byte order.
    fn unread_word(&self, at: usize) -> Option<[u8; 4]> {
        Some(*self.chunks.unread().get(at..)?.first_chunk::<4>()?)
    }

    /// Reads the next block (its body, without type and lengths, becomes [`buf`](Pcapng::buf));
    /// its type, or `None` at the end of the file.
    fn block(&mut self) -> Result<Option<u32>, CaptureError> {
        if !self.chunks.ensure(8)? {
            return if self.chunks.partial() { Err(self.truncated()) } else { Ok(None) };
        }
        let (Some(raw_type), Some(raw_len)) = (self.unread_word(0), self.unread_word(4)) else {
            return Err(self.truncated());
        };
        // The fixed part before the body that must be there: a section header's byte-order
        // magic is part of its body.
        let mut fixed = 8;
        if u32::from_le_bytes(raw_type) == SHB {
            // A new section: its byte order comes from the magic that follows the length.
            if !self.chunks.ensure(12)? {
                return Err(self.truncated());
            }
            let magic = self.unread_word(8).unwrap_or_default();
            self.big_endian = match (u32::from_le_bytes(magic), u32::from_be_bytes(magic)) {
                (BYTE_ORDER_MAGIC, _) => false,
                (_, BYTE_ORDER_MAGIC) => true,
                _ => return Err(self.bad("a section header with no byte-order magic")),
            };
            self.interfaces.clear();
            fixed = 12;
        }
        let kind = self.order(raw_type);
        let len = self.order(raw_len);
        if len < fixed + 4 || !len.is_multiple_of(4) || len > MAX_BLOCK_LEN {
            return Err(self.bad(&format!("a pcapng block of impossible length {len}")));
        }
        let len = len as usize;
        if !self.chunks.ensure(len)? {
            return Err(self.truncated());
        }
        if self.unread_word(len - 4).map(|t| self.order(t)) != Some(len as u32) {
            return Err(self.bad("a pcapng block whose trailing length differs from its leading one"));
        }
        let start = self.chunks.pos();
        self.body = (start + 8, start + len - 4);
        self.chunks.consume(len);
        Ok(Some(kind))
    }

    fn order(&self, b: [u8; 4]) -> u32 {
        if self.big_endian { u32::from_be_bytes(b) } else { u32::from_le_bytes(b) }
    }

    fn interface(&mut self) -> Result<(), CaptureError> {
        let (Some(dlt), Some(snaplen)) = (self.u16(0), self.u32(4)) else {
            return Err(self.bad("an interface description block too short"));
        };
        if self.interfaces.len() >= MAX_INTERFACES {
            return Err(self.bad("more than 4096 interfaces in one section"));
        }
        let mut iface = Interface {
            dlt,
            link: LinkType::from_dlt(i32::from(dlt)),
            resolution: Resolution::Decimal(6),
            offset_s: 0,
            snaplen,
        };
        // Options: code, length, value padded to 4 bytes; end of options (code 0) or the block.
        let mut at = 8;
        while let (Some(code), Some(len)) = (self.u16(at), self.u16(at + 2)) {
            let value = at + 4;
            match code {
                0 => break,
                OPT_TSRESOL if len >= 1 => {
                    let v = self.buf().get(value).copied().unwrap_or(6);
                    iface.resolution =
                        if v & 0x80 == 0 { Resolution::Decimal(v) } else { Resolution::Binary(v & 0x7f) };
                }
                OPT_TSOFFSET if len >= 8 => {
                    iface.offset_s = self.u64(value).map_or(0, |o| o as i64);
                }
                _ => {}
            }
            at = value + usize::from(len).div_ceil(4) * 4;
        }
        self.interfaces.push(iface);
        Ok(())
    }

    /// An Enhanced Packet or (obsolete) Packet Block whose fixed part is `fixed` bytes:
    /// `fields` reads (interface, timestamp high, low, captured length, wire length).
    fn packet(
        &mut self,
        fixed: usize,
        fields: impl Fn(&Self) -> (Option<u32>, Option<u32>, Option<u32>, Option<u32>, Option<u32>),
    ) -> Result<Option<FrameAt>, CaptureError> {
        let (Some(id), Some(hi), Some(lo), Some(caplen), Some(wire)) = fields(self) else {
            return Err(self.bad("a packet block too short"));
        };
        let Some(&iface) = usize::try_from(id).ok().and_then(|i| self.interfaces.get(i)) else {
            return Err(self.bad(&format!("a packet of interface {id}, which no interface block describes")));
        };
        let end = usize::try_from(caplen).ok().and_then(|c| fixed.checked_add(c));
        let Some(end) = end.filter(|&e| e <= self.buf().len()) else {
            return Err(self.bad(&format!("a packet whose captured length {caplen} runs past its block")));
        };
        let Some(link) = iface.link else {
            self.skipped += 1;
            return Ok(None);
        };
        let units = (u64::from(hi) << 32) | u64::from(lo);
        let ts = micros(units, iface.resolution, iface.offset_s);
        Ok(Some(FrameAt { ts, link, dlt: iface.dlt, wire_len: wire, start: fixed, end }))
    }

    /// A Simple Packet Block: interface 0, no timestamp, captured length what the block and
    /// the interface's snapshot length allow.
    fn simple(&mut self) -> Result<Option<FrameAt>, CaptureError> {
        let Some(wire) = self.u32(0) else { return Err(self.bad("a simple packet block too short")) };
        let Some(&iface) = self.interfaces.first() else {
            return Err(self.bad("a simple packet block before any interface block"));
        };
        let Some(link) = iface.link else {
            self.skipped += 1;
            return Ok(None);
        };
        let room = self.buf().len().saturating_sub(4);
        let snap = if iface.snaplen == 0 { usize::MAX } else { iface.snaplen as usize };
        let caplen = (wire as usize).min(snap).min(room);
        Ok(Some(FrameAt { ts: 0, link, dlt: iface.dlt, wire_len: wire, start: 4, end: 4 + caplen }))
    }
}

/// A timestamp of `units` at `resolution`, plus `offset_s` seconds, in microseconds.
fn micros(units: u64, resolution: Resolution, offset_s: i64) -> Micros {
    let us: u128 = match resolution {
        Resolution::Decimal(n) if n <= 6 => u128::from(units) * 10u128.pow(u32::from(6 - n)),
        Resolution::Decimal(n) => u128::from(units) / 10u128.checked_pow(u32::from(n - 6)).unwrap_or(u128::MAX),
        Resolution::Binary(n) => (u128::from(units) * 1_000_000) >> n.min(127),
    };
    let off = i128::from(offset_s) * 1_000_000;
    let t = (us as i128).saturating_add(off).clamp(0, i128::from(u64::MAX));
    t as Micros
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(t: u32, body: &[u8]) -> Vec<u8> {
        let len = (12 + body.len().div_ceil(4) * 4) as u32;
        let mut b = t.to_le_bytes().to_vec();
        b.extend(len.to_le_bytes());
        b.extend(body);
        b.resize(len as usize - 4, 0);
        b.extend(len.to_le_bytes());
        b
    }

    fn shb() -> Vec<u8> {
        let mut body = BYTE_ORDER_MAGIC.to_le_bytes().to_vec();
        body.extend([1, 0, 0, 0]);
        body.extend(u64::MAX.to_le_bytes());
        block(SHB, &body)
    }

    fn idb(dlt: u16, opts: &[(u16, &[u8])]) -> Vec<u8> {
        let mut b = dlt.to_le_bytes().to_vec();
        b.extend([0, 0]);
        b.extend(65535u32.to_le_bytes());
        for (code, v) in opts {
            b.extend(code.to_le_bytes());
            b.extend((v.len() as u16).to_le_bytes());
            b.extend(*v);
            b.resize(b.len().div_ceil(4) * 4, 0);
        }
        b.extend([0, 0, 0, 0]);
        block(IDB, &b)
    }

    fn epb(id: u32, units: u64, data: &[u8]) -> Vec<u8> {
        let mut b = id.to_le_bytes().to_vec();
        b.extend(((units >> 32) as u32).to_le_bytes());
        b.extend((units as u32).to_le_bytes());
        b.extend((data.len() as u32).to_le_bytes());
        b.extend((data.len() as u32 + 4).to_le_bytes());
        b.extend(data);
        block(EPB, &b)
    }

    /// A little-endian pcapng file: a section, an Ethernet interface (µs), a NFLOG interface
    /// (ns, offset 10 s), an unsupported interface (DLT 147), and one frame on each, an
    /// unknown block and a simple packet.
    fn sample() -> Vec<u8> {
        let mut f = shb();
        f.extend(idb(1, &[]));
        f.extend(idb(239, &[(OPT_TSRESOL, &[9]), (OPT_TSOFFSET, &10u64.to_le_bytes())]));
        f.extend(idb(147, &[]));
        f.extend(epb(0, 1_700_000_000_000_001, &[0xaa; 14]));
        f.extend(epb(1, 1_700_000_000_000_002_999, &[2, 0, 0, 0, 9]));
        f.extend(epb(2, 5, &[7; 3]));
        f.extend(block(0x0BAD, &[1, 2, 3, 4]));
        let mut spb = 20u32.to_le_bytes().to_vec();
        spb.extend([0x55; 20]);
        f.extend(block(SPB, &spb));
        f
    }

    fn write(bytes: &[u8]) -> tempfile::NamedTempFile {
        use std::io::Write;
        let mut t = tempfile::NamedTempFile::new().unwrap();
        t.write_all(bytes).unwrap();
        t
    }

    /// Frames read: time, link type, wire length, captured bytes.
    type Frames = Vec<(Micros, LinkType, u32, Vec<u8>)>;

    fn read_all(p: &mut Pcapng) -> (Frames, Option<CaptureError>) {
        let mut out = Vec::new();
        loop {
            match p.next_frame() {
                Ok(Some(f)) => out.push((f.ts, f.link, f.wire_len, p.buf()[f.start..f.end].to_vec())),
                Ok(None) => return (out, None),
                Err(e) => return (out, Some(e)),
            }
        }
    }

    #[test]
    fn every_interface_with_its_own_link_type_and_clock() {
        let t = write(&sample());
        let mut p = Pcapng::open(t.path()).unwrap();
        let (frames, err) = read_all(&mut p);
        assert!(err.is_none(), "{err:?}");
        assert_eq!(
            frames,
            [
                (1_700_000_000_000_001, LinkType::Ethernet, 18, vec![0xaa; 14]),
                (1_700_000_010_000_002, LinkType::Nflog, 9, vec![2, 0, 0, 0, 9]),
                (0, LinkType::Ethernet, 20, vec![0x55; 20]),
            ]
        );
        assert_eq!(p.skipped(), 1, "the DLT 147 frame");
        assert_eq!(p.position(), sample().len() as u64);
    }

    #[test]
    fn big_endian_sections_and_clock_units() {
        assert_eq!(micros(1_500, Resolution::Decimal(3), 0), 1_500_000);
        assert_eq!(micros(1_500, Resolution::Decimal(9), 0), 1);
        assert_eq!(micros(1 << 20, Resolution::Binary(20), 0), 1_000_000);
        assert_eq!(micros(5, Resolution::Decimal(6), -10), 0, "before the epoch: clamped");
        assert_eq!(micros(u64::MAX, Resolution::Decimal(0), i64::MAX), u64::MAX, "saturates");
        assert_eq!(micros(7, Resolution::Decimal(200), 0), 0);
        assert_eq!(micros(7, Resolution::Binary(127), 0), 0);
        // The same file with every field big-endian: the section's magic tells.
        let mut be = BYTE_ORDER_MAGIC.to_be_bytes().to_vec();
        be.extend([0, 1, 0, 0]);
        be.extend(u64::MAX.to_be_bytes());
        let mut f = SHB.to_be_bytes().to_vec();
        f.extend(28u32.to_be_bytes());
        f.extend(&be);
        f.extend(28u32.to_be_bytes());
        let mut idb = IDB.to_be_bytes().to_vec();
        idb.extend(20u32.to_be_bytes());
        idb.extend(101u16.to_be_bytes());
        idb.extend([0, 0]);
        idb.extend(0u32.to_be_bytes());
        idb.extend(20u32.to_be_bytes());
        f.extend(idb);
        let mut epb = EPB.to_be_bytes().to_vec();
        epb.extend(36u32.to_be_bytes());
        for v in [0u32, 0, 42, 4, 4] {
            epb.extend(v.to_be_bytes());
        }
        epb.extend([0x45, 0, 0, 4]);
        epb.extend(36u32.to_be_bytes());
        f.extend(epb);
        let t = write(&f);
        let (frames, err) = read_all(&mut Pcapng::open(t.path()).unwrap());
        assert!(err.is_none(), "{err:?}");
        assert_eq!(frames, [(42, LinkType::RawIp, 4, vec![0x45, 0, 0, 4])]);
    }

    #[test]
    fn truncation_sweep_keeps_the_frames_before_the_cut() {
        let full = sample();
        let whole = {
            let t = write(&full);
            read_all(&mut Pcapng::open(t.path()).unwrap()).0
        };
        for cut in 0..full.len() {
            let t = write(&full[..cut]);
            let Ok(mut p) = Pcapng::open(t.path()) else { continue };
            let (frames, err) = read_all(&mut p);
            assert!(whole.starts_with(&frames), "cut {cut}");
            if frames.len() < whole.len() {
                assert!(matches!(err, Some(CaptureError::Truncated { .. })) || err.is_none(), "cut {cut}: {err:?}");
            }
        }
    }

    #[test]
    fn hostile_lengths_are_refused_in_one_error() {
        let full = sample();
        let shb_len = 28;
        let idb_at = shb_len;
        let bad = |at: usize, v: u32| {
            let mut f = full.clone();
            f[at..at + 4].copy_from_slice(&v.to_le_bytes());
            let t = write(&f);
            match Pcapng::open(t.path()) {
                Ok(mut p) => read_all(&mut p).1,
                Err(e) => Some(e),
            }
        };
        // Block lengths: too short, not a multiple of 4, huge, trailer mismatch.
        for v in [0, 4, 13, u32::MAX, MAX_BLOCK_LEN + 4] {
            assert!(
                matches!(bad(idb_at + 4, v), Some(CaptureError::BadFile { .. } | CaptureError::Truncated { .. })),
                "{v}"
            );
        }
        // An EPB's captured length past its block, and an undescribed interface.
        let epb_at = idb_at + 24 + 44 + 24;
        assert!(matches!(bad(epb_at + 20, 1000), Some(CaptureError::BadFile { .. })));
        assert!(matches!(bad(epb_at + 20, u32::MAX), Some(CaptureError::BadFile { .. })));
        assert!(matches!(bad(epb_at + 8, 9), Some(CaptureError::BadFile { .. })));
        // Not pcapng at all.
        let t = write(b"\xd4\xc3\xb2\xa1 not pcapng");
        assert!(Pcapng::open(t.path()).is_err());
    }

    /// Every frame of a capture through the [`Capture`](crate::capture::Capture) seam.
    fn through_capture(path: &Path, filter: Option<&str>) -> (Vec<(Micros, LinkType, usize)>, u64) {
        use crate::capture::{Capture, Next, Source};
        let mut cap = Capture::open_file(path).unwrap();
        if let Some(f) = filter {
            cap.set_filter(f).unwrap();
        }
        let mut got = Vec::new();
        loop {
            match cap.next_frame().unwrap() {
                Next::Frame(f) => got.push((f.ts, f.link, f.data.len())),
                Next::Idle => {}
                Next::End => return (got, cap.skipped_frames()),
            }
        }
    }

    #[test]
    fn libpcap_refuses_mixed_interfaces_and_the_own_reader_takes_over() {
        // libpcap alone stops at the second interface, before any frame.
        let t = write(&sample());
        let mut raw = pcap::Capture::from_file(t.path()).unwrap();
        let e = raw.next_packet().map(|_| ()).unwrap_err();
        assert!(super::super::libpcap::interfaces_differ(&e.to_string()), "{e}");
        let (got, skipped) = through_capture(t.path(), None);
        assert_eq!(
            got,
            [
                (1_700_000_000_000_001, LinkType::Ethernet, 14),
                (1_700_000_010_000_002, LinkType::Nflog, 5),
                (0, LinkType::Ethernet, 20)
            ]
        );
        assert_eq!(skipped, 1);
        // The offline filter applies to the own reader's frames, per link type.
        assert_eq!(through_capture(t.path(), Some("len >= 15")).0, [(0, LinkType::Ethernet, 20)]);
        // libpcap delivers what precedes the differing interface; the own reader goes on
        // after those frames, none twice.
        let mut f = shb();
        f.extend(idb(1, &[]));
        f.extend(epb(0, 1_000_000, &[1; 14]));
        f.extend(epb(0, 2_000_000, &[2; 14]));
        f.extend(idb(101, &[]));
        f.extend(epb(1, 3_000_000, &[0x45; 20]));
        f.extend(epb(0, 4_000_000, &[4; 14]));
        let t = write(&f);
        let (got, _) = through_capture(t.path(), None);
        assert_eq!(
            got,
            [
                (1_000_000, LinkType::Ethernet, 14),
                (2_000_000, LinkType::Ethernet, 14),
                (3_000_000, LinkType::RawIp, 20),
                (4_000_000, LinkType::Ethernet, 14)
            ]
        );
        let (got, _) = through_capture(t.path(), Some("len <= 14"));
        assert_eq!(got.len(), 3, "{got:?}");
    }
}
