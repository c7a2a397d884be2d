//! The `Source` seam: a pcapng file's progress comes from the file, not from record
//! arithmetic; and a source of our own (frames from memory) drives the whole fast path to the
//! same findings as libpcap reading the same frames from the file.

use super::*;
use crate::detect::fingerprint::registry;
use crate::flow::FlowConfig;
use crate::indicators::Indicators;
use crate::pipeline::{FastPath, RunOptions, RunSummary, crossing, run};
use crate::testutil::pcapng_block as block;
use farhand_model::{Finding, HomeNets};
use std::path::Path;
use std::sync::Arc;

/// A pcapng file (one section, one Ethernet interface) holding `frames` as Enhanced Packet
/// Blocks, every third with a comment option; returns the bytes and where each frame's block
/// ends in the file.
fn pcapng(frames: &[Vec<u8>]) -> (Vec<u8>, Vec<u64>) {
    let mut shb = Vec::new();
    shb.extend_from_slice(&0x1a2b_3c4du32.to_le_bytes());
    shb.extend_from_slice(&1u16.to_le_bytes());
    shb.extend_from_slice(&0u16.to_le_bytes());
    shb.extend_from_slice(&(-1i64).to_le_bytes());
    let mut idb = Vec::new();
    idb.extend_from_slice(&1u16.to_le_bytes()); // LINKTYPE_ETHERNET
    idb.extend_from_slice(&0u16.to_le_bytes());
    idb.extend_from_slice(&0u32.to_le_bytes());
    let mut file = block(0x0a0d_0d0a, &shb);
    file.extend(block(1, &idb));
    let mut ends = Vec::new();
    for (i, data) in frames.iter().enumerate() {
        let ts = 1_700_000_000_000_000u64 + i as u64 * 1000;
        let mut epb = Vec::new();
        epb.extend_from_slice(&0u32.to_le_bytes());
        epb.extend_from_slice(&((ts >> 32) as u32).to_le_bytes());
        epb.extend_from_slice(&(ts as u32).to_le_bytes());
        epb.extend_from_slice(&(data.len() as u32).to_le_bytes());
        epb.extend_from_slice(&(data.len() as u32).to_le_bytes());
        epb.extend_from_slice(data);
        epb.extend(std::iter::repeat_n(0u8, (4 - data.len() % 4) % 4));
        if i % 3 == 0 {
            let comment = b"frame with a comment";
            epb.extend_from_slice(&1u16.to_le_bytes()); // opt_comment
            epb.extend_from_slice(&(comment.len() as u16).to_le_bytes());
            epb.extend_from_slice(comment);
            epb.extend(std::iter::repeat_n(0u8, (4 - comment.len() % 4) % 4));
            epb.extend_from_slice(&[0; 4]); // opt_endofopt
        }
        file.extend(block(6, &epb));
        ends.push(file.len() as u64);
    }
    (file, ends)
}

/// A scratch directory for one test, removed by the test.
fn scratch(test: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("farhand-capture-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[cfg(target_os = "linux")]
#[test]
fn a_pcapng_files_position_follows_the_file_and_reaches_its_length() {
    // Odd lengths (padding), comments (options), and more bytes than stdio buffers at once.
    let frames: Vec<Vec<u8>> = (0..600).map(|i| vec![(i % 251) as u8; 61 + (i * 37) % 1400]).collect();
    let (bytes, ends) = pcapng(&frames);
    let dir = scratch("pcapng");
    let path = dir.join("frames.pcapng");
    std::fs::write(&path, &bytes).unwrap();
    let total = bytes.len() as u64;

    let mut cap = Capture::open_file(&path).unwrap();
    assert_eq!(cap.progress().map(|p| p.total), Some(total));
    let (mut seen, mut last, mut old_arithmetic) = (0usize, 0u64, 24u64);
    loop {
        let caplen = match cap.next_frame().unwrap() {
            Next::Frame(f) => f.data.len() as u64,
            Next::End => break,
            Next::Idle => panic!("a file never answers Idle"),
        };
        old_arithmetic += 16 + caplen;
        let p = cap.progress().unwrap();
        // libpcap has read at least the whole block of the frame it handed out, and never
        // past the end of the file; the position never goes back.
        assert!(
            p.position >= ends[seen],
            "frame {seen}: position {} before its block's end {}",
            p.position,
            ends[seen]
        );
        assert!(p.position <= total && p.position >= last);
        last = p.position;
        seen += 1;
    }
    assert_eq!(seen, frames.len());
    assert_eq!(
        cap.progress(),
        Some(Progress { position: total, total }),
        "all read: the position is the file's length"
    );
    assert_ne!(old_arithmetic, total, "pcap record arithmetic does not describe a pcapng file");
    assert!(old_arithmetic < total, "it falls short ({old_arithmetic} of {total}): the old bar never got to the end");
    drop(cap);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Frames from memory: the smallest source there is.
struct Frames {
    link: LinkType,
    frames: Vec<(Micros, u32, Vec<u8>)>,
    next: usize,
    total: u64,
    consumed: u64,
}

impl Source for Frames {
    fn next_frame(&mut self) -> Result<Next<'_>, CaptureError> {
        let Some((ts, wire_len, data)) = self.frames.get(self.next) else { return Ok(Next::End) };
        self.next += 1;
        self.consumed += data.len() as u64;
        Ok(Next::Frame(RawFrame { ts: *ts, link: self.link, wire_len: *wire_len, data, shared: None }))
    }

    fn kind(&self) -> CaptureKind {
        CaptureKind::File
    }

    fn name(&self) -> &str {
        "frames in memory"
    }

    fn progress(&self) -> Option<Progress> {
        Some(Progress { position: self.consumed, total: self.total })
    }

    fn stats(&mut self) -> CaptureStats {
        CaptureStats::default()
    }
}

fn demo() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/cases/demo/input.pcap")
}

/// Every frame of a capture file, copied.
fn frames_of(path: &Path) -> Frames {
    let mut cap = Capture::open_file(path).unwrap();
    let mut frames = Vec::new();
    while let Next::Frame(f) = cap.next_frame().unwrap() {
        frames.push((f.ts, f.wire_len, f.data.to_vec()));
    }
    let total = frames.iter().map(|f| f.2.len() as u64).sum();
    Frames { link: cap.link(), frames, next: 0, total, consumed: 0 }
}

/// The fast path over `source` with `workers` workers: its findings (as they crossed) and
/// summary.
fn findings_of<S: Source + ?Sized>(source: &mut S, workers: usize) -> (Vec<Finding>, RunSummary) {
    let settings = FastPath {
        workers,
        home: HomeNets::default(),
        flow: FlowConfig::default(),
        fingerprints: registry(),
        names: Some(Arc::new(Indicators::builtin())),
        dns_tunnel: true,
        ip_kvm: true,
    };
    let (tx, rx) = crossing();
    std::thread::scope(|scope| {
        let collect = scope.spawn(move || rx.iter().flatten().collect::<Vec<_>>());
        let summary = run(source, &settings, &RunOptions::default(), tx);
        (collect.join().unwrap(), summary)
    })
}

#[test]
fn a_source_from_memory_yields_the_findings_of_the_file() {
    for workers in [1, 3] {
        let mut file = Capture::open_file(&demo()).unwrap();
        let (mut from_file, fs) = findings_of(&mut file, workers);
        let mut memory = frames_of(&demo());
        // Through a trait object as well: `run` takes any `Source`, sized or not.
        let (mut from_memory, ms) = findings_of(&mut memory as &mut dyn Source, workers);
        assert!(fs.input_error.is_none() && ms.input_error.is_none());
        assert_eq!((ms.packets, ms.bytes, ms.span), (fs.packets, fs.bytes, fs.span), "{workers} workers");
        assert!(from_file.len() >= 3, "the demo's sessions were found ({} findings)", from_file.len());
        if workers > 1 {
            // Workers finish in their own order; the findings are the same set.
            from_file.sort_by_key(|f| format!("{f:?}"));
            from_memory.sort_by_key(|f| format!("{f:?}"));
        }
        assert_eq!(from_memory, from_file, "{workers} workers");
        assert_eq!(memory.progress(), Some(Progress { position: memory.total, total: memory.total }));
    }
}
