//! The classic pcap reader of farhand's own: records parsed where they lie in the chunked
//! buffer of `chunks.rs` (one copy from the page cache, no per-frame allocation, no
//! `unsafe`, no SIGBUS when the file is truncated under the sensor).
//!
//! # Contract
//! - [`PcapFile::open`] reads the 24-byte file header: magic `a1b2c3d4` (microsecond
//!   timestamps) or `a1b23c4d` (nanosecond), in either byte order; major version 2; the link
//!   type's low 16 bits (the upper bits carry FCS information). A link type farhand does not
//!   decode is refused here, as libpcap's path refuses it. A file that is not classic pcap
//!   (pcapng, anything else) is `Ok(None)`: the caller reads it another way.
//! - [`PcapFile::next_frame`] returns each record's frame borrowed from the buffer until the
//!   next call. A record whose captured length exceeds [`MAX_CAPLEN`] is
//!   [`CaptureError::BadFile`]; a file that ends inside a record header or its data is
//!   [`CaptureError::Truncated`], after every frame before it was delivered. Nothing here
//!   panics on file contents.
//! - Timestamps become microseconds since the Unix epoch (nanoseconds truncated), saturating.
//! - [`PcapFile::position`] is the bytes of the file consumed: the header and every record
//!   delivered.
//! - Every frame says where it lies in the reader's shared buffer ([`RawFrame::shared`]), so
//!   the pipeline can hand workers a reference instead of a copy (`chunks.rs` never writes a
//!   buffer a worker still holds).

use super::chunks::Chunks;
use super::{CaptureError, LinkType, RawFrame, Shared};
use farhand_model::Micros;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Largest captured length accepted in a record (libpcap's limit for the largest snapshot).
pub const MAX_CAPLEN: u32 = 262_144;
/// A record header's length.
const RECORD_HEADER: usize = 16;

/// An open classic pcap file.
pub struct PcapFile {
    path: PathBuf,
    /// The file's bytes, chunk by chunk (`chunks.rs`).
    chunks: Chunks,
    /// The header's fields are big-endian.
    big_endian: bool,
    /// Timestamps count nanoseconds.
    nanos: bool,
    link: LinkType,
    dlt: u16,
    /// The last frame returned: (start in the buffer, captured length, timestamp, wire length).
    last: Option<(usize, usize, Micros, u32)>,
}

impl std::fmt::Debug for PcapFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PcapFile").field("path", &self.path).field("position", &self.position()).finish()
    }
}

impl PcapFile {
    /// Opens `path` if it is a classic pcap file; `Ok(None)` if it is not.
    pub fn open(path: &Path) -> Result<Option<PcapFile>, CaptureError> {
        let mut file = File::open(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => CaptureError::NoSuchFile(path.to_path_buf()),
            _ => CaptureError::BadFile { path: path.to_path_buf(), msg: e.to_string() },
        })?;
        let mut header = [0u8; 24];
        let mut got = 0;
        while got < header.len() {
            let Some(rest) = header.get_mut(got..) else { break };
            match file.read(rest) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(CaptureError::BadFile { path: path.to_path_buf(), msg: e.to_string() }),
            }
        }
        let field = |at: usize| header.get(at..at + 4).and_then(|s| <[u8; 4]>::try_from(s).ok()).unwrap_or_default();
        let (big_endian, nanos) = match field(0) {
            [0xd4, 0xc3, 0xb2, 0xa1] => (false, false),
            [0x4d, 0x3c, 0xb2, 0xa1] => (false, true),
            [0xa1, 0xb2, 0xc3, 0xd4] => (true, false),
            [0xa1, 0xb2, 0x3c, 0x4d] => (true, true),
            _ => return Ok(None),
        };
        let bad = |msg: String| CaptureError::BadFile { path: path.to_path_buf(), msg };
        if got < header.len() {
            return Err(CaptureError::Truncated { path: path.to_path_buf(), msg: "file header cut short".into() });
        }
        let word = |at: usize| {
            let b = field(at);
            if big_endian { u32::from_be_bytes(b) } else { u32::from_le_bytes(b) }
        };
        let major = match header.get(4..6).and_then(|s| <[u8; 2]>::try_from(s).ok()).unwrap_or_default() {
            b if big_endian => u16::from_be_bytes(b),
            b => u16::from_le_bytes(b),
        };
        if major != 2 {
            return Err(bad(format!("pcap version {major} is not 2")));
        }
        let dlt = (word(20) & 0xffff) as u16;
        let link = LinkType::from_dlt(i32::from(dlt)).ok_or_else(|| CaptureError::UnsupportedLink {
            source_name: path.display().to_string(),
            dlt: i32::from(dlt),
            name: format!("DLT {dlt}"),
        })?;
        Ok(Some(PcapFile {
            path: path.to_path_buf(),
            chunks: Chunks::new(file, path.to_path_buf(), 24),
            big_endian,
            nanos,
            link,
            dlt,
            last: None,
        }))
    }

    /// The file's link type.
    pub fn link(&self) -> LinkType {
        self.link
    }

    /// The file's link-type number (for a BPF filter compiled for it).
    pub fn dlt(&self) -> u16 {
        self.dlt
    }

    /// Bytes of the file consumed: the header and every record delivered.
    pub fn position(&self) -> u64 {
        self.chunks.position()
    }

    /// The `at`-th word of the unread bytes, in the file's byte order.
    fn word(&self, at: usize) -> Option<u32> {
        let b = *self.chunks.unread().get(at..)?.first_chunk::<4>()?;
        Some(if self.big_endian { u32::from_be_bytes(b) } else { u32::from_le_bytes(b) })
    }

    /// The frame [`next_frame`](PcapFile::next_frame) returned last, again (`None` before the
    /// first).
    pub fn last_frame(&self) -> Option<RawFrame<'_>> {
        let (start, caplen, ts, wire_len) = self.last?;
        let buf = self.chunks.buffer();
        let data = buf.get(start..start + caplen)?;
        Some(RawFrame { ts, link: self.link, wire_len, data, shared: Some(Shared { buf, offset: start }) })
    }

    /// The next frame, `None` at the end of the file.
    pub fn next_frame(&mut self) -> Result<Option<RawFrame<'_>>, CaptureError> {
        let truncated = |path: &Path, msg: &str| CaptureError::Truncated { path: path.to_path_buf(), msg: msg.into() };
        // Offsets into the buffer move with the next read.
        self.last = None;
        if !self.chunks.ensure(RECORD_HEADER)? {
            return if self.chunks.partial() {
                Err(truncated(&self.path, "record header cut short"))
            } else {
                Ok(None)
            };
        }
        let (Some(sec), Some(frac), Some(caplen), Some(origlen)) =
            (self.word(0), self.word(4), self.word(8), self.word(12))
        else {
            return Err(truncated(&self.path, "record header cut short"));
        };
        if caplen > MAX_CAPLEN {
            return Err(CaptureError::BadFile {
                path: self.path.clone(),
                msg: format!("invalid packet capture length {caplen}, bigger than the largest snapshot {MAX_CAPLEN}"),
            });
        }
        let total = RECORD_HEADER + caplen as usize;
        if !self.chunks.ensure(total)? {
            return Err(truncated(&self.path, "record data cut short"));
        }
        let start = self.chunks.pos() + RECORD_HEADER;
        self.chunks.consume(total);
        let micros_frac = if self.nanos { u64::from(frac) / 1000 } else { u64::from(frac) };
        let ts = Micros::from(sec).saturating_mul(1_000_000).saturating_add(micros_frac);
        let wire_len = origlen.max(caplen);
        self.last = Some((start, caplen as usize, ts, wire_len));
        Ok(self.last_frame())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::SharedBuffer;
    use crate::capture::chunks::CHUNK;
    use std::sync::Arc;

    fn header(big: bool, nanos: bool, dlt: u32) -> Vec<u8> {
        let magic: u32 = if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
        let w = |v: u32| if big { v.to_be_bytes() } else { v.to_le_bytes() };
        let h = |v: u16| if big { v.to_be_bytes() } else { v.to_le_bytes() };
        let mut out = Vec::new();
        out.extend_from_slice(&w(magic));
        out.extend_from_slice(&h(2));
        out.extend_from_slice(&h(4));
        out.extend_from_slice(&w(0));
        out.extend_from_slice(&w(0));
        out.extend_from_slice(&w(65535));
        out.extend_from_slice(&w(dlt));
        out
    }

    fn record(big: bool, sec: u32, frac: u32, data: &[u8], orig: u32) -> Vec<u8> {
        let w = |v: u32| if big { v.to_be_bytes() } else { v.to_le_bytes() };
        let mut out = Vec::new();
        for v in [sec, frac, data.len() as u32, orig] {
            out.extend_from_slice(&w(v));
        }
        out.extend_from_slice(data);
        out
    }

    fn write(bytes: &[u8]) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), bytes).unwrap();
        f
    }

    type Frames = Vec<(Micros, u32, Vec<u8>)>;

    fn read_all(path: &Path) -> (Frames, Option<CaptureError>) {
        let mut r = PcapFile::open(path).unwrap().unwrap();
        let mut out = Vec::new();
        loop {
            match r.next_frame() {
                Ok(Some(f)) => out.push((f.ts, f.wire_len, f.data.to_vec())),
                Ok(None) => return (out, None),
                Err(e) => return (out, Some(e)),
            }
        }
    }

    #[test]
    fn both_byte_orders_and_clock_units() {
        for big in [false, true] {
            for nanos in [false, true] {
                let mut f = header(big, nanos, 1);
                f.extend(record(big, 10, if nanos { 5_000_999 } else { 5_000 }, &[1, 2, 3], 60));
                f.extend(record(big, 11, 0, &[4; 70], 70));
                let file = write(&f);
                let (frames, err) = read_all(file.path());
                assert!(err.is_none(), "{err:?}");
                assert_eq!(frames, vec![(10_005_000, 60, vec![1, 2, 3]), (11_000_000, 70, vec![4; 70])]);
            }
        }
    }

    #[test]
    fn not_a_pcap_is_none_and_unknown_links_are_refused() {
        let f = write(b"\x0a\x0d\x0d\x0a not a classic pcap at all");
        assert!(PcapFile::open(f.path()).unwrap().is_none());
        let f = write(&header(false, false, 147));
        assert!(matches!(PcapFile::open(f.path()), Err(CaptureError::UnsupportedLink { dlt: 147, .. })));
    }

    #[test]
    fn truncation_sweep_keeps_the_frames_before_the_cut() {
        let mut f = header(false, false, 1);
        let first = record(false, 1, 0, &[9; 40], 40);
        f.extend(&first);
        f.extend(record(false, 2, 0, &[8; 40], 40));
        for cut in 24..f.len() {
            let file = write(&f[..cut]);
            let (frames, err) = read_all(file.path());
            let complete = usize::from(cut >= 24 + first.len()) + usize::from(cut == f.len());
            assert_eq!(frames.len(), complete, "cut at {cut}");
            let at_boundary = cut == 24 || cut == 24 + first.len();
            assert_eq!(err.is_some(), !at_boundary, "cut at {cut}: {err:?}");
            if let Some(e) = err {
                assert!(matches!(e, CaptureError::Truncated { .. }), "{e}");
            }
        }
    }

    #[test]
    fn hostile_lengths_are_one_error() {
        let mut f = header(false, false, 1);
        let mut r = record(false, 1, 0, &[], 0);
        r.get_mut(8..12).unwrap().copy_from_slice(&u32::MAX.to_le_bytes());
        f.extend(r);
        let file = write(&f);
        let (frames, err) = read_all(file.path());
        assert!(frames.is_empty());
        assert!(matches!(err, Some(CaptureError::BadFile { .. })), "{err:?}");
    }

    #[test]
    fn a_record_larger_than_the_chunk_is_read_whole() {
        // Records straddling chunk boundaries: enough frames of an odd size to cross several.
        let mut f = header(false, false, 1);
        let data: Vec<u8> = (0..1499u32).map(|i| (i % 251) as u8).collect();
        let n = 2 * CHUNK / (data.len() + 16) + 3;
        for i in 0..n {
            f.extend(record(false, i as u32, 0, &data, 1499));
        }
        let file = write(&f);
        let (frames, err) = read_all(file.path());
        assert!(err.is_none());
        assert_eq!(frames.len(), n);
        assert!(frames.iter().all(|(_, _, d)| *d == data));
    }

    #[test]
    fn frames_held_by_workers_stay_intact_and_their_buffers_are_recycled() {
        // Every frame different, over several chunks; a "worker" holds the buffer of every
        // frame until the end, then lets go, and reading on reuses a spare buffer.
        let mut f = header(false, false, 1);
        let frame = |i: usize| -> Vec<u8> { (0..1000).map(|j| ((i * 7 + j) % 253) as u8).collect() };
        let n = 3 * CHUNK / 1016 + 5;
        for i in 0..n {
            f.extend(record(false, i as u32, 0, &frame(i), 1000));
        }
        let file = write(&f);
        let mut p = PcapFile::open(file.path()).unwrap().unwrap();
        let mut held: Vec<(SharedBuffer, usize, usize)> = Vec::new();
        while let Some(fr) = p.next_frame().unwrap() {
            let sh = fr.shared.unwrap();
            assert_eq!(sh.buf.get(sh.offset..sh.offset + fr.data.len()), Some(fr.data));
            held.push((sh.buf.clone(), sh.offset, fr.data.len()));
        }
        assert_eq!(held.len(), n);
        for (i, (buf, off, len)) in held.iter().enumerate() {
            assert_eq!(buf.get(*off..off + len).unwrap(), frame(i).as_slice(), "frame {i}");
        }
        let distinct = |h: &[(SharedBuffer, usize, usize)]| {
            let mut v: Vec<*const Vec<u8>> = h.iter().map(|(b, _, _)| Arc::as_ptr(b)).collect();
            v.dedup();
            v.len()
        };
        assert!(distinct(&held) >= 3, "held buffers are never written again");
    }

    #[test]
    fn every_classic_case_capture_reads_as_libpcap_reads_it() {
        let cases = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/cases");
        let mut checked = 0;
        for dir in std::fs::read_dir(&cases).unwrap() {
            let path = dir.unwrap().path().join("input.pcap");
            let Ok(Some(mut own)) = PcapFile::open(&path) else { continue };
            let mut lib = pcap::Capture::from_file(&path).unwrap();
            loop {
                let a = own.next_frame();
                let b = lib.next_packet();
                match (a, b) {
                    (Ok(Some(f)), Ok(p)) => {
                        let ts = p.header.ts.tv_sec as u64 * 1_000_000 + p.header.ts.tv_usec as u64;
                        assert_eq!((f.ts, f.wire_len, f.data), (ts, p.header.len, p.data), "{}", path.display());
                    }
                    (Ok(None), Err(pcap::Error::NoMorePackets)) => break,
                    (a, b) => panic!("{}: own {:?} libpcap {:?}", path.display(), a.map(|f| f.map(|f| f.ts)), b.err()),
                }
            }
            checked += 1;
        }
        assert!(checked >= 30, "{checked} captures compared");
    }
}
