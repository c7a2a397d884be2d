//! The `Source` seam: a source of our own (frames from memory) drives the whole fast path to
//! the same findings as libpcap reading the same frames from the file.

use super::*;
use crate::detect::fingerprint::registry;
use crate::flow::FlowConfig;
use crate::indicators::Indicators;
use crate::pipeline::{FastPath, RunOptions, RunSummary, crossing, run};
use farhand_model::{Finding, HomeNets};
use std::path::Path;
use std::sync::Arc;

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
        Ok(Next::Frame(RawFrame { ts: *ts, link: self.link, wire_len: *wire_len, data }))
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
