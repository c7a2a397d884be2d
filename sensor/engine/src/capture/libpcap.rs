//! The libpcap [`Source`]: offline files (pcap, pcapng) and live interfaces.
//!
//! A file's progress is the offset of the descriptor libpcap reads it through (`offset.rs`);
//! where that cannot be found (not Linux, no /proc), it falls back to the captured bytes
//! delivered so far, which stays below the file's size (headers are not counted) — the
//! progress bar then finishes at the end of the run rather than at 100 %.
//!
//! A file is opened by libpcap, which checks its header and its first interface's link type
//! (the clear errors for a file that is not a capture or of a link type farhand does not
//! decode). Its records are then read by farhand's own readers: classic pcap by `pcapfile.rs`,
//! pcapng by `pcapng.rs` (every interface with its own link type and clock; libpcap would
//! stop at the first interface that differs in link type or snapshot length). Both hand out
//! frames in a buffer the workers may share (`chunks.rs`). libpcap reads any other format it
//! knows, and live interfaces. Should libpcap still meet an interface that differs, the own
//! pcapng reader takes the file over from its start, past the frames libpcap delivered
//! (through the same filter).

use super::offset::FileOffset;
use super::pcapfile::PcapFile;
use super::pcapng::Pcapng;
use super::{CaptureError, CaptureKind, CaptureStats, LinkType, LiveOptions, Next, Progress, RawFrame, Source};
use std::path::{Path, PathBuf};

/// An open libpcap capture: a file or an interface.
pub struct Capture {
    inner: pcap::Capture<dyn pcap::Activated>,
    link: LinkType,
    kind: CaptureKind,
    name: String,
    path: Option<PathBuf>,
    file_len: u64,
    /// Where libpcap is in the file (files, when found).
    offset: Option<FileOffset>,
    /// Captured bytes delivered so far: the position when `offset` is unknown.
    delivered: u64,
    /// Frames delivered so far.
    frames: u64,
    /// The offline filter, if any: the own reader filters with it too.
    filter: Option<String>,
    /// The own pcapng reader: every pcapng file from its opening, or a file libpcap stopped
    /// at (an interface that differs).
    own: Option<Box<OwnReader>>,
    /// The own classic pcap reader, which reads a classic pcap file's records once libpcap
    /// accepted its header (libpcap's handle stays open, unused).
    classic: Option<Box<Classic>>,
}

/// The own classic pcap reader and its filter program.
struct Classic {
    file: PcapFile,
    program: Option<pcap::BpfProgram>,
}

/// The own pcapng reader and the filter programs compiled per link-type number.
struct OwnReader {
    file: Pcapng,
    programs: Vec<(u16, pcap::BpfProgram)>,
}

/// `filter` compiled for a file's link-type number (`what` names it in an error). A file
/// names LINKTYPE_ values; libpcap compiles for DLT_ values, which differ only for
/// LINKTYPE_RAW (101, DLT_RAW 12) among those farhand reads.
fn compile_for(filter: &str, linktype: u16, what: &str) -> Result<pcap::BpfProgram, CaptureError> {
    let bad = |e: pcap::Error| CaptureError::BadFilter { filter: what.to_string(), msg: pcap_msg(&e) };
    let dlt = if linktype == 101 { 12 } else { i32::from(linktype) };
    pcap::Capture::dead(pcap::Linktype(dlt)).map_err(bad)?.compile(filter, true).map_err(bad)
}

/// Whether the file begins with a pcapng Section Header Block.
fn is_pcapng(path: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 4];
    std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut magic)).is_ok()
        && u32::from_le_bytes(magic) == super::pcapng::SHB
}

/// Whether libpcap stopped because a pcapng interface differs from the first (libpcap's
/// `sf-pcapng.c`: "an interface has a type/snapshot length ... different from the ... of the
/// first interface").
pub(super) fn interfaces_differ(msg: &str) -> bool {
    msg.contains("different from the") && msg.contains("first interface")
}

impl Capture {
    /// Opens a pcap or pcapng file.
    pub fn open_file(path: &Path) -> Result<Capture, CaptureError> {
        let meta = std::fs::metadata(path).map_err(|_| CaptureError::NoSuchFile(path.to_path_buf()))?;
        if meta.is_dir() {
            return Err(CaptureError::BadFile { path: path.to_path_buf(), msg: "is a directory".into() });
        }
        let (cap, offset) = FileOffset::around(path, || pcap::Capture::from_file(path));
        let cap = cap.map_err(|e| CaptureError::BadFile { path: path.to_path_buf(), msg: pcap_msg(&e) })?;
        let name = path.display().to_string();
        let link = check_link(&name, cap.get_datalink())?;
        // libpcap has checked the header and the first interface's link type; farhand's own
        // readers read the records (classic pcap: zero-copy; pcapng: every interface with
        // its own link type and clock).
        let classic = PcapFile::open(path)?.map(|file| Box::new(Classic { file, program: None }));
        let own = match classic {
            None if is_pcapng(path) => Some(OwnReader::take_over(path, 0, None, &name)?),
            _ => None,
        };
        Ok(Capture {
            inner: cap.into(),
            link,
            kind: CaptureKind::File,
            name,
            path: Some(path.to_path_buf()),
            file_len: meta.len(),
            offset: if own.is_some() { None } else { offset },
            delivered: 0,
            frames: 0,
            filter: None,
            own,
            classic,
        })
    }

    /// Opens a live interface.
    pub fn open_live(iface: &str, opts: &LiveOptions) -> Result<Capture, CaptureError> {
        let bad = |e: pcap::Error| CaptureError::BadInterface { iface: iface.to_string(), msg: pcap_msg(&e) };
        let known = pcap::Device::list().map_err(bad)?;
        if !known.iter().any(|d| d.name == iface) {
            return Err(CaptureError::BadInterface {
                iface: iface.to_string(),
                msg: "no such interface (see `ip link`)".into(),
            });
        }
        let mut cap = pcap::Capture::from_device(iface)
            .map_err(bad)?
            .promisc(opts.promiscuous)
            .snaplen(opts.snaplen)
            .buffer_size(opts.buffer_bytes)
            .timeout(100)
            .immediate_mode(true)
            .open()
            .map_err(bad)?
            // Non-blocking: on Linux (TPACKET_V3) a blocking read on an idle interface waits
            // for a packet without end, whatever the timeout, so the pipeline would never get
            // its timer ticks nor notice a stop request. `next_frame` then answers `Idle` at
            // once when nothing is queued; the reader paces itself (see `pipeline`).
            .setnonblock()
            .map_err(bad)?;
        if !opts.filter.is_empty() {
            cap.filter(&opts.filter, true)
                .map_err(|e| CaptureError::BadFilter { filter: opts.filter.clone(), msg: pcap_msg(&e) })?;
        }
        let name = format!("interface {iface}");
        let link = check_link(&name, cap.get_datalink())?;
        Ok(Capture {
            inner: cap.into(),
            link,
            kind: CaptureKind::Live,
            name,
            path: None,
            file_len: 0,
            offset: None,
            delivered: 0,
            frames: 0,
            filter: None,
            own: None,
            classic: None,
        })
    }

    /// The link type of every frame of this capture.
    pub fn link(&self) -> LinkType {
        self.link
    }

    /// Applies a BPF filter to an offline file.
    pub fn set_filter(&mut self, filter: &str) -> Result<(), CaptureError> {
        self.inner
            .filter(filter, true)
            .map_err(|e| CaptureError::BadFilter { filter: filter.to_string(), msg: pcap_msg(&e) })?;
        if let Some(c) = self.classic.as_mut() {
            c.program = Some(compile_for(filter, c.file.dlt(), filter)?);
        }
        self.filter = Some(filter.to_string());
        Ok(())
    }

    /// The own classic reader's next frame that passes the filter.
    fn classic_frame(&mut self) -> Result<Next<'_>, CaptureError> {
        let Some(c) = self.classic.as_mut() else { return Ok(Next::End) };
        loop {
            // Two lookups: the borrow of one frame may not live across the loop.
            let pass = match c.file.next_frame()? {
                None => return Ok(Next::End),
                Some(f) => c.program.as_ref().is_none_or(|p| p.filter(f.data)),
            };
            if pass {
                break;
            }
        }
        let Some(f) = c.file.last_frame() else { return Ok(Next::End) };
        self.frames += 1;
        self.delivered += f.data.len() as u64;
        Ok(Next::Frame(f))
    }

    /// Frames of interfaces whose link type farhand does not decode, passed over by the own
    /// pcapng reader (0 while libpcap reads).
    pub fn skipped_frames(&self) -> u64 {
        self.own.as_ref().map_or(0, |o| o.file.skipped())
    }

    /// The own pcapng reader's next frame.
    fn own_frame(&mut self) -> Result<Next<'_>, CaptureError> {
        let Some(own) = self.own.as_mut() else { return Ok(Next::End) };
        let Some(f) = own.next(self.filter.as_deref(), &self.name)? else { return Ok(Next::End) };
        let data = own.file.buf().get(f.start..f.end).unwrap_or_default();
        let (buf, body) = own.file.shared();
        self.frames += 1;
        self.delivered += data.len() as u64;
        let shared = Some(super::Shared { buf, offset: body + f.start });
        Ok(Next::Frame(RawFrame { ts: f.ts, link: f.link, wire_len: f.wire_len, data, shared }))
    }
}

impl OwnReader {
    /// The own reader, from the file's start, past the `frames` frames libpcap delivered.
    fn take_over(path: &Path, frames: u64, filter: Option<&str>, name: &str) -> Result<Box<OwnReader>, CaptureError> {
        let mut own = Box::new(OwnReader { file: Pcapng::open(path)?, programs: Vec::new() });
        for _ in 0..frames {
            if own.next(filter, name)?.is_none() {
                break;
            }
        }
        Ok(own)
    }

    /// The next frame that passes the filter.
    fn next(&mut self, filter: Option<&str>, name: &str) -> Result<Option<super::pcapng::FrameAt>, CaptureError> {
        loop {
            let Some(f) = self.file.next_frame()? else { return Ok(None) };
            let Some(filter) = filter else { return Ok(Some(f)) };
            let at = match self.programs.iter().position(|(d, _)| *d == f.dlt) {
                Some(at) => at,
                None => {
                    let prog = compile_for(filter, f.dlt, &format!("{filter} (for link type {} of {name})", f.dlt))?;
                    self.programs.push((f.dlt, prog));
                    self.programs.len() - 1
                }
            };
            let data = self.file.buf().get(f.start..f.end).unwrap_or_default();
            if self.programs.get(at).is_some_and(|(_, p)| p.filter(data)) {
                return Ok(Some(f));
            }
        }
    }
}

impl Source for Capture {
    fn next_frame(&mut self) -> Result<Next<'_>, CaptureError> {
        if self.own.is_some() {
            return self.own_frame();
        }
        if self.classic.is_some() {
            return self.classic_frame();
        }
        match self.inner.next_packet() {
            Ok(p) => {
                let h = p.header;
                let sec = u64::try_from(h.ts.tv_sec).unwrap_or(0);
                let usec = u64::try_from(h.ts.tv_usec).unwrap_or(0);
                self.delivered += p.data.len() as u64;
                self.frames += 1;
                Ok(Next::Frame(RawFrame {
                    ts: sec.saturating_mul(1_000_000).saturating_add(usec),
                    link: self.link,
                    wire_len: h.len,
                    data: p.data,
                    shared: None,
                }))
            }
            Err(pcap::Error::NoMorePackets) => Ok(Next::End),
            Err(pcap::Error::TimeoutExpired) => Ok(Next::Idle),
            Err(e) => {
                let msg = pcap_msg(&e);
                match self.path.clone() {
                    // The own reader takes over; the next call reads on (a file's `Idle` only
                    // loops back).
                    Some(path) if interfaces_differ(&msg) => {
                        let own = OwnReader::take_over(&path, self.frames, self.filter.as_deref(), &self.name)?;
                        self.own = Some(own);
                        self.offset = None;
                        Ok(Next::Idle)
                    }
                    Some(path) if msg.contains("truncated") => Err(CaptureError::Truncated { path, msg }),
                    _ => Err(CaptureError::Read { source_name: self.name.clone(), msg }),
                }
            }
        }
    }

    fn kind(&self) -> CaptureKind {
        self.kind
    }

    fn name(&self) -> &str {
        &self.name
    }

    /// The descriptor's offset in the file (it runs ahead of the last frame by at most
    /// stdio's buffer, and reaches the file's size once libpcap read to the end); the
    /// captured bytes delivered when the offset is not known (see the module's doc).
    fn progress(&self) -> Option<Progress> {
        if self.kind != CaptureKind::File {
            return None;
        }
        let own = self.own.as_ref().map(|o| o.file.position()).or(self.classic.as_ref().map(|c| c.file.position()));
        let position = own.or_else(|| self.offset.as_ref().and_then(FileOffset::position)).unwrap_or(self.delivered);
        Some(Progress { position: position.min(self.file_len), total: self.file_len })
    }

    fn stats(&mut self) -> CaptureStats {
        if self.kind == CaptureKind::File {
            return CaptureStats::default();
        }
        match self.inner.stats() {
            Ok(s) => CaptureStats {
                received: u64::from(s.received),
                dropped: u64::from(s.dropped),
                if_dropped: u64::from(s.if_dropped),
                kernel: None,
            },
            Err(_) => CaptureStats::default(),
        }
    }
}

fn check_link(name: &str, dl: pcap::Linktype) -> Result<LinkType, CaptureError> {
    LinkType::from_dlt(dl.0).ok_or_else(|| CaptureError::UnsupportedLink {
        source_name: name.to_string(),
        dlt: dl.0,
        name: dl.get_name().unwrap_or_else(|_| "unknown".into()),
    })
}

fn pcap_msg(e: &pcap::Error) -> String {
    match e {
        pcap::Error::PcapError(m) => m.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every pcapng file under `dir`, recursively.
    fn pcapngs(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for p in entries.flatten().map(|e| e.path()) {
            if p.is_dir() {
                pcapngs(&p, out);
            } else if is_pcapng(&p) {
                out.push(p);
            }
        }
    }

    #[test]
    fn every_pcapng_reads_with_the_own_reader_as_libpcap_reads_it() {
        // Every pcapng capture of the cases and the shared corpus whose interfaces libpcap
        // accepts: the own reader (now the default for pcapng) gives the same frames.
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut files = Vec::new();
        pcapngs(&root.join("tests/cases"), &mut files);
        let corpus = root.join("../shared/corpus");
        if corpus.is_dir() {
            pcapngs(&corpus, &mut files);
        } else {
            eprintln!("SKIP the shared corpus's pcapng files: {} is absent", corpus.display());
        }
        let mut compared = 0;
        for path in &files {
            let Ok(mut own) = Capture::open_file(path) else { continue };
            assert!(own.own.is_some(), "{}: the own reader reads pcapng", path.display());
            let mut lib = Capture::open_file(path).unwrap();
            lib.own = None;
            let mut frames = 0;
            loop {
                let a = own.next_frame().map(|n| match n {
                    Next::Frame(f) => {
                        // Where the frame lies in the shared buffer, for the hand-over.
                        let sh = f.shared.expect("own pcapng frames are shared");
                        assert_eq!(sh.buf.get(sh.offset..sh.offset + f.data.len()), Some(f.data));
                        Some((f.ts, f.link, f.wire_len, f.data.to_vec()))
                    }
                    _ => None,
                });
                let b = match lib.next_frame() {
                    // libpcap stopped at an interface of another link type and the own reader
                    // took over (the mixed-links case tests what follows).
                    Ok(Next::Idle) => break,
                    b => b.map(|n| match n {
                        Next::Frame(f) => Some((f.ts, f.link, f.wire_len, f.data.to_vec())),
                        _ => None,
                    }),
                };
                match (a, b) {
                    (Ok(Some(x)), Ok(Some(y))) => assert_eq!(x, y, "{} frame {frames}", path.display()),
                    (Ok(None), Ok(None)) => break,
                    (Err(CaptureError::Truncated { .. }), Err(CaptureError::Truncated { .. })) => break,
                    (a, b) => panic!("{} frame {frames}: own {:?} libpcap {:?}", path.display(), a.is_ok(), b.err()),
                }
                frames += 1;
            }
            compared += 1;
        }
        assert!(compared >= 5, "{compared} pcapng files compared");
    }

    #[test]
    fn without_the_descriptor_the_position_is_the_captured_bytes_delivered() {
        let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/cases/demo/input.pcap");
        let total = std::fs::metadata(&demo).unwrap().len();
        let mut cap = Capture::open_file(&demo).unwrap();
        // libpcap reading, its descriptor's offset not known.
        cap.classic = None;
        cap.offset = None;
        let mut caplens = 0;
        while let Next::Frame(f) = cap.next_frame().unwrap() {
            caplens += f.data.len() as u64;
            assert_eq!(cap.progress(), Some(Progress { position: caplens, total }));
        }
        assert!(caplens < total, "headers are not counted: the fallback stays below the file's size");
    }

    #[test]
    fn a_live_capture_has_no_progress_and_a_file_no_kernel_counters() {
        let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/cases/demo/input.pcap");
        let mut cap = Capture::open_file(&demo).unwrap();
        assert_eq!((cap.kind(), cap.name()), (CaptureKind::File, demo.display().to_string().as_str()));
        assert_eq!(cap.stats().received, 0);
        cap.kind = CaptureKind::Live;
        assert_eq!(cap.progress(), None);
    }
}
