//! Pipeline: the fast path's stages wired together — capture → decode → flow → detect, up to
//! the crossing (the bounded channel of findings the caller gives [`run`]; the reporting
//! plane reads the other end).
//!
//! # Contract
//! - The fast path runs on plain OS threads. With one worker everything runs inline on the
//!   reading thread (no channel, no copy). With N workers the reader picks each packet's
//!   worker by its endpoint ([`crate::flow::shard`]) and hands packets over in batches whose
//!   buffers are recycled (no allocation per packet in steady state). Where the source shares
//!   its buffer (farhand's own file reader, [`crate::capture::RawFrame::shared`]) the reader
//!   only reads a frame's two addresses ([`crate::decode::endpoints`]) and hands over a
//!   reference into that buffer; the worker decodes the frame (no copy, and decoding runs on
//!   the workers). A batch holds at most `BATCH_BUFFERS` shared buffers (it is sent early
//!   rather than keep more alive), and a frame in a buffer grown past `SHARED_BUFFER_MAX`
//!   is copied: the memory held by frames in flight stays bounded however the packets fall
//!   between workers. Otherwise (live capture, libpcap) the reader decodes and copies the
//!   payload into the batch.
//! - Findings cross to the reporting plane (verdict + sink) through one bounded channel, in
//!   batches. Offline, a full channel makes the fast path wait (nothing is lost); live, the
//!   batch is dropped and counted in [`RunSummary::findings_dropped`].
//! - [`run`] takes any [`Source`] (libpcap today, the eBPF ring buffer later), monomorphised:
//!   no virtual call per frame.
//! - [`run`] returns a [`RunSummary`] whatever happens; an input error after the capture was
//!   open (truncated file, interface gone) ends the run early, is reported in
//!   [`RunSummary::input_error`], and everything read before it is still processed.
//! - The progress bar (offline, on request) shows the source's own position in its input
//!   ([`Source::progress`]), asked every 16,384 frames, never per frame.
//! - Live counters ([`RunOptions::live`], for the metrics endpoint): the fast path keeps its
//!   own totals and *stores* a copy into the shared atomics, never an atomic operation per
//!   packet. The reader publishes frames, bytes, decode outcomes and the capture's drop
//!   counters (asking the source for [`Source::stats`]) every 16,384 frames, on every live
//!   tick and at the end; each worker publishes its flow-table and detector totals into its
//!   own slot after every batch (N workers) or at the reader's cadence (one worker), and at
//!   the end. When the run returns, the published figures equal the [`RunSummary`]'s.

use crate::capture::{CaptureError, CaptureKind, CaptureStats, LinkType, Next, RawFrame, SharedBuffer, Source};
use crate::decode::{DecodeStats, PacketView, TcpInfo, decode, endpoints};
use crate::detect::FlowTable;
use crate::detect::fingerprint::Fingerprint;
use crate::detect::{DetectStats, Engine};
use crate::flow::{FlowConfig, FlowStats, shard, shard_addrs};
use crate::indicators::Indicators;
use crossbeam_channel::{Receiver, Sender, TrySendError, bounded};
use farhand_model::Finding;
use farhand_model::Health;
use farhand_model::HomeNets;
use farhand_model::Micros;
use farhand_model::Transport;
use farhand_model::counters::{Live, WorkerCounters};
use farhand_model::net::{FlowKey, Side};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Packets per batch handed to a worker.
const BATCH: usize = 256;
/// Batches in flight per worker.
const WORKER_QUEUE: usize = 8;
/// Shared buffers one batch may hold: a worker that gets few of the packets (one endpoint
/// carrying nearly all the traffic) would otherwise keep a buffer alive for each of its
/// sparse frames. Past it the batch goes as it is.
const BATCH_BUFFERS: usize = 4;
/// Frames in a buffer larger than this (grown for an oversized record) are copied, not
/// shared: a held buffer of megabytes per frame is no saving.
const SHARED_BUFFER_MAX: usize = 1 << 20;
/// Finding batches in flight to the reporting plane: the capacity of the crossing's channel
/// ([`crossing`]).
pub const FINDING_QUEUE: usize = 64;

/// The crossing: the one bounded channel through which finding batches leave the fast path.
pub fn crossing() -> (Sender<Vec<Finding>>, Receiver<Vec<Finding>>) {
    bounded::<Vec<Finding>>(FINDING_QUEUE)
}

/// What the fast path needs of the configuration.
#[derive(Clone)]
pub struct FastPath {
    /// Worker threads (at least one is used).
    pub workers: usize,
    /// The inside networks (endpoint sharding, IP-KVM routing).
    pub home: HomeNets,
    /// Flow-table limits and timeouts, for the whole run (split between workers).
    pub flow: FlowConfig,
    /// Enabled structural fingerprints.
    pub fingerprints: Vec<&'static dyn Fingerprint>,
    /// Name-based detection with these indicators (`None`: off).
    pub names: Option<Arc<Indicators>>,
    /// DNS-tunnel watch enabled.
    pub dns_tunnel: bool,
    /// IP-KVM device watch enabled.
    pub ip_kvm: bool,
}

impl FastPath {
    /// The detection engine these settings describe (cloned per worker by [`run`]), and its
    /// health.
    pub fn build(&self) -> (Engine, Health) {
        let watches = if self.dns_tunnel { crate::detect::watch::registry() } else { Vec::new() };
        let mut engine =
            Engine::new(self.fingerprints.clone(), self.names.clone(), watches).identifying(self.home.clone());
        if self.ip_kvm {
            engine = engine.watching_ip_kvm(self.home.clone());
        }
        (engine, self.health())
    }

    /// The most payload bytes per direction the engine these settings describe wants of a
    /// flow's start ([`Engine::bytes_wanted`]).
    pub fn bytes_wanted(&self) -> usize {
        self.build().0.bytes_wanted()
    }

    /// The health of the engine these settings describe, without building it: degraded when
    /// nothing is enabled that can recognise a session, or when the name detector is on
    /// without a single indicator.
    pub fn health(&self) -> Health {
        let names: Vec<_> = self.fingerprints.iter().map(|f| f.name()).collect();
        let workers = self.workers.max(1);
        let mut parts = vec![format!("{workers} worker{}", if workers == 1 { "" } else { "s" })];
        parts.push(match names.len() {
            0 => "no fingerprints".to_string(),
            n => format!("{n} fingerprints ({})", names.join(", ")),
        });
        let mut empty_names = false;
        if let Some(ind) = &self.names {
            let (tools, patterns) = ind.counts();
            empty_names = patterns == 0;
            parts.push(format!("names over {patterns} indicators of {tools} tools"));
        }
        parts.extend(self.dns_tunnel.then(|| "DNS-tunnel watch".to_string()));
        parts.extend(self.ip_kvm.then(|| "IP-KVM watch".to_string()));
        let detail = parts.join("; ");
        if self.fingerprints.is_empty() && self.names.is_none() && !self.dns_tunnel && !self.ip_kvm {
            Health::degraded(
                "detect",
                format!("{detail}: nothing enabled can recognise a session (detect.fingerprints)"),
            )
        } else if empty_names {
            Health::degraded("detect", format!("{detail}: the name detector has no indicators"))
        } else {
            Health::ready("detect", detail)
        }
    }
}

/// How to run.
#[derive(Clone, Default)]
pub struct RunOptions {
    /// Show a progress bar on stderr (offline files).
    pub progress: bool,
    /// Set to stop a live capture (Ctrl-C).
    pub stop: Option<Arc<AtomicBool>>,
    /// Where to publish the running totals while the run goes on (the metrics endpoint
    /// reads them); `None`: nothing is published. Give it at least as many worker slots as
    /// [`FastPath::workers`]: a worker without a slot publishes nothing.
    pub live: Option<Arc<Live>>,
}

/// What a run did.
#[derive(Debug, Default)]
pub struct RunSummary {
    /// Frames read.
    pub packets: u64,
    /// Captured bytes (sum of caplen).
    pub bytes: u64,
    /// Decode outcomes.
    pub decode: DecodeStats,
    /// Flow-table counters, summed over workers.
    pub flows: FlowStats,
    /// Detector counters, summed over workers.
    pub detect: DetectStats,
    /// Alerts written by the sink (filled in by the caller that runs the reporting plane).
    pub alerts: u64,
    /// Finding batches dropped because the reporting plane was behind (live only).
    pub findings_dropped: u64,
    /// Sink write errors, the first one's message (filled in by the reporting plane's caller).
    pub sink_error: Option<String>,
    /// Kernel capture counters (live only).
    pub capture: CaptureStats,
    /// Wall time.
    pub elapsed: Duration,
    /// Workers used.
    pub workers: usize,
    /// Time of the first and last packet.
    pub span: (Micros, Micros),
    /// The error that ended reading early, if any.
    pub input_error: Option<CaptureError>,
}

struct Worker {
    table: FlowTable,
    engine: Engine,
    stats: DetectStats,
    findings: Vec<Finding>,
    /// Flows taken out of the table after they ended.
    ended: u64,
    /// Told of sessions claimed and ended (a source that filters in the kernel).
    tap: Option<Tap>,
}

/// Where a worker reports sessions (see [`Source::session_tap`]).
type Tap = std::sync::Arc<dyn crate::capture::SessionTap>;

impl Worker {
    fn new(flow: FlowConfig, engine: Engine, tap: Option<Tap>) -> Worker {
        Worker { table: flow.build().0, engine, stats: DetectStats::default(), findings: Vec::new(), ended: 0, tap }
    }

    /// Stores this worker's running totals into its live slot.
    fn publish(&self, slot: &WorkerCounters, findings_dropped: u64) {
        let fs = self.table.stats();
        slot.flows_created.store(fs.created, Ordering::Relaxed);
        slot.flows_active.store(self.table.len() as u64, Ordering::Relaxed);
        slot.flows_evicted.store(fs.evicted, Ordering::Relaxed);
        slot.flows_dropped_full.store(fs.dropped_full, Ordering::Relaxed);
        slot.flows_ended.store(self.ended, Ordering::Relaxed);
        slot.sessions.store(self.stats.sessions, Ordering::Relaxed);
        slot.findings_dropped.store(findings_dropped, Ordering::Relaxed);
    }

    #[inline]
    fn process(&mut self, v: &PacketView<'_>) {
        self.engine.on_frame(v, &mut self.findings);
        if let Some(flow) = self.table.packet(v) {
            // One packet counted: the frame opened this flow.
            if flow.pkts == [1, 0] || flow.pkts == [0, 1] {
                self.engine.on_new_flow(v, &mut self.findings);
            }
            if flow.wants_packets() {
                // Only a source with a session tap pays for noticing the claim.
                let was = self.tap.is_none() || flow.state.is_session();
                self.engine.on_packet(flow, v, &mut self.stats);
                if !was
                    && flow.state.is_session()
                    && let Some(tap) = &self.tap
                {
                    tap.claim(&v.key);
                }
            }
        }
        if self.table.has_ended() {
            self.collect();
        }
    }

    fn tick(&mut self, now: Micros) {
        self.table.expire(now);
        self.collect();
    }

    fn finish(&mut self) {
        self.table.drain();
        self.collect();
    }

    fn collect(&mut self) {
        let start = self.findings.len();
        for mut rec in self.table.take_ended() {
            self.ended += 1;
            self.engine.finish(&mut rec, &mut self.stats);
            if let Some(tap) = &self.tap
                && rec.flow.state.is_session()
            {
                tap.release(&rec.key);
            }
            if let Some(f) = self.engine.finding(&rec) {
                self.findings.push(f);
            }
        }
        // Flows that end together (one timeout sweep, the end of input) come out of the
        // table in hash order: hand them on in the order the sessions began, so that the
        // verdict's per-endpoint history follows the capture.
        if let Some(batch) = self.findings.get_mut(start..) {
            batch.sort_by_key(|f| (f.flow.first_ts, f.flow.key.a, f.flow.key.a_port));
        }
    }
}

/// A packet as handed to a worker thread: the view's fields with the payload in the batch.
#[derive(Clone, Copy)]
struct Meta {
    ts: Micros,
    key: FlowKey,
    side: Side,
    transport: Transport,
    tcp: Option<TcpInfo>,
    off: u32,
    len: u32,
    wire_len: u32,
    truncated: bool,
    src_mac: [u8; 6],
    echo_reply: bool,
}

/// A frame handed to a worker undecoded: its place in one of the batch's shared buffers.
#[derive(Clone, Copy)]
struct FrameRef {
    ts: Micros,
    link: LinkType,
    wire_len: u32,
    /// Index into [`Batch::bufs`].
    buf: u32,
    off: u32,
    len: u32,
}

/// Packets for one worker, in capture order: either decoded by the reader with their
/// payloads copied (`metas`, `bytes`), or frames the worker decodes itself, referring into
/// buffers the source shares (`frames`, `bufs`). One batch holds one kind.
#[derive(Default)]
struct Batch {
    metas: Vec<Meta>,
    bytes: Vec<u8>,
    frames: Vec<FrameRef>,
    bufs: Vec<SharedBuffer>,
    /// Run timers at this time after the packets (live idle ticks).
    tick: Option<Micros>,
}

impl Batch {
    fn push(&mut self, v: &PacketView<'_>) {
        let off = self.bytes.len() as u32;
        self.bytes.extend_from_slice(v.payload);
        self.metas.push(Meta {
            ts: v.ts,
            key: v.key,
            side: v.side,
            transport: v.transport,
            tcp: v.tcp,
            off,
            len: v.payload.len() as u32,
            wire_len: v.wire_len,
            truncated: v.truncated,
            src_mac: v.src_mac,
            echo_reply: v.echo_reply,
        });
    }

    /// Whether a frame of `buf` would make this batch hold more than [`BATCH_BUFFERS`].
    fn holds_enough(&self, buf: &SharedBuffer) -> bool {
        self.bufs.len() >= BATCH_BUFFERS && !self.bufs.last().is_some_and(|b| SharedBuffer::ptr_eq(b, buf))
    }

    /// Adds a frame by reference to the shared buffer it lies in (`shared`: the buffer and
    /// the frame's offset in it); the buffer is held once per batch.
    fn push_ref(&mut self, f: &RawFrame<'_>, shared: (&SharedBuffer, usize)) {
        let (buf, off) = shared;
        if !self.bufs.last().is_some_and(|b| SharedBuffer::ptr_eq(b, buf)) {
            self.bufs.push(buf.clone());
        }
        self.frames.push(FrameRef {
            ts: f.ts,
            link: f.link,
            wire_len: f.wire_len,
            buf: (self.bufs.len() - 1) as u32,
            off: off as u32,
            len: f.data.len() as u32,
        });
    }

    fn len(&self) -> usize {
        self.metas.len() + self.frames.len()
    }

    fn clear(&mut self) {
        self.metas.clear();
        self.bytes.clear();
        self.frames.clear();
        self.bufs.clear();
        self.tick = None;
    }
}

fn now_micros() -> Micros {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as u64).unwrap_or(0)
}

/// Sends findings to the reporting thread; `live` drops instead of waiting.
fn ship(tx: &Sender<Vec<Finding>>, findings: &mut Vec<Finding>, live: bool, dropped: &mut u64) {
    if findings.is_empty() {
        return;
    }
    let batch = std::mem::take(findings);
    if live {
        match tx.try_send(batch) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => *dropped += 1,
        }
    } else if tx.send(batch).is_err() {
        *dropped += 1;
    }
}

/// How long a live reader sleeps when no frame is queued.
const LIVE_IDLE_SLEEP: std::time::Duration = std::time::Duration::from_millis(1);
/// How often an idle live reader lets the timers run.
const LIVE_TICK: std::time::Duration = std::time::Duration::from_millis(100);

/// Runs the fast path over a source until it ends (or `opts.stop` is set), sending finding
/// batches into `ftx` (the crossing); returns when every worker is done and `ftx` is dropped.
pub fn run<S: Source + ?Sized>(
    cap: &mut S,
    settings: &FastPath,
    opts: &RunOptions,
    ftx: Sender<Vec<Finding>>,
) -> RunSummary {
    let started = Instant::now();
    let workers = settings.workers.max(1);
    let live = cap.kind() == CaptureKind::Live;
    let (engine, _) = settings.build();
    let per_worker = FlowConfig { max_flows: (settings.flow.max_flows / workers).max(1024), ..settings.flow };
    let mut summary = RunSummary { workers, ..RunSummary::default() };

    if let Some(counters) = &opts.live
        && counters.workers() < workers
    {
        tracing::warn!(
            "live counters have {} worker slots for {workers} workers: the others publish nothing",
            counters.workers()
        );
    }

    let tap = cap.session_tap();
    let mut reader = Reader::new(cap, opts, live);
    if workers == 1 {
        run_inline(&mut reader, Worker::new(per_worker, engine, tap), &ftx, live, &mut summary);
    } else {
        run_sharded(&mut reader, &engine, (per_worker, workers, tap), &settings.home, &ftx, live, &mut summary);
    }
    drop(ftx);
    summary.capture = reader.cap.stats();
    if let Some(counters) = &opts.live {
        publish_reader(counters, &summary, &summary.decode, &summary.capture);
    }
    summary.elapsed = started.elapsed();
    summary
}

/// Stores the reader's running totals (frames, bytes, decode outcomes, capture drops).
fn publish_reader(live: &Live, s: &RunSummary, decode: &DecodeStats, capture: &CaptureStats) {
    live.frames.store(s.packets, Ordering::Relaxed);
    live.bytes.store(s.bytes, Ordering::Relaxed);
    live.non_ip.store(decode.non_ip, Ordering::Relaxed);
    live.other_ip.store(decode.other_ip, Ordering::Relaxed);
    live.fragments.store(decode.fragments, Ordering::Relaxed);
    live.truncated.store(decode.truncated, Ordering::Relaxed);
    live.malformed.store(decode.malformed, Ordering::Relaxed);
    live.capture_dropped.store(capture.dropped, Ordering::Relaxed);
    live.interface_dropped.store(capture.if_dropped, Ordering::Relaxed);
    if let Some(k) = &capture.kernel {
        live.set_kernel(farhand_ebpf_common::Counter::ALL.iter().map(|c| c.name()).zip(k.iter().copied()));
    }
}

/// One worker: everything runs inline on the reading thread (no channel, no copy).
fn run_inline<S: Source + ?Sized>(
    reader: &mut Reader<'_, S>,
    mut w: Worker,
    ftx: &Sender<Vec<Finding>>,
    live: bool,
    summary: &mut RunSummary,
) {
    let slot = reader.counters.clone();
    let slot = slot.as_deref().and_then(|l| l.worker(0));
    reader.read(summary, |event, dropped| match event {
        Event::Packet(v) => {
            w.process(v);
            ship(ftx, &mut w.findings, live, dropped);
        }
        Event::Tick(now) => {
            w.tick(now);
            ship(ftx, &mut w.findings, live, dropped);
        }
        // Never sent: the inline reader decodes every frame itself (`defer_decode` is off).
        Event::Frame(..) => {}
        Event::Publish => {
            if let Some(slot) = slot {
                w.publish(slot, *dropped);
            }
        }
    });
    w.finish();
    ship(ftx, &mut w.findings, live, &mut summary.findings_dropped);
    if let Some(slot) = slot {
        w.publish(slot, summary.findings_dropped);
    }
    summary.flows = w.table.stats();
    summary.detect = w.stats.clone();
}

/// N workers: the reader shards packets by endpoint into batches, one queue per worker
/// (batch buffers recycled), and joins the workers at the end.
fn run_sharded<S: Source + ?Sized>(
    reader: &mut Reader<'_, S>,
    engine: &Engine,
    (per_worker, workers, tap): (FlowConfig, usize, Option<Tap>),
    home: &HomeNets,
    ftx: &Sender<Vec<Finding>>,
    live: bool,
    summary: &mut RunSummary,
) {
    let counters = reader.counters.clone();
    std::thread::scope(|scope| {
        let mut txs = Vec::with_capacity(workers);
        let mut free = Vec::with_capacity(workers);
        let mut handles = Vec::with_capacity(workers);
        for i in 0..workers {
            let (btx, brx) = bounded::<Batch>(WORKER_QUEUE);
            let (rtx, rrx) = bounded::<Batch>(WORKER_QUEUE + 2);
            let ftx = ftx.clone();
            let engine = engine.clone();
            let slot = counters.as_deref().and_then(|l| l.worker(i));
            let w = Worker::new(per_worker, engine, tap.clone());
            handles.push(scope.spawn(move || worker_loop(brx, rtx, ftx, w, live, slot)));
            txs.push(btx);
            free.push(rrx);
        }
        let mut cur: Vec<Batch> = (0..workers).map(|_| Batch::default()).collect();
        let send = |w: usize, cur: &mut Vec<Batch>, txs: &Vec<Sender<Batch>>, free: &Vec<Receiver<Batch>>| {
            let (Some(slot), Some(tx), Some(fr)) = (cur.get_mut(w), txs.get(w), free.get(w)) else { return };
            let next = fr.try_recv().unwrap_or_default();
            let full = std::mem::replace(slot, next);
            let _ = tx.send(full);
        };
        let mut last_flush = Instant::now();
        reader.defer_decode = true;
        reader.read(summary, |event, _| match event {
            Event::Packet(v) => {
                let w = shard(&v.key, workers, |a| home.contains(a));
                if cur.get(w).is_some_and(|b| !b.frames.is_empty()) {
                    send(w, &mut cur, &txs, &free);
                }
                if let Some(b) = cur.get_mut(w) {
                    b.push(v);
                    if b.len() >= BATCH {
                        send(w, &mut cur, &txs, &free);
                    }
                }
                if live && last_flush.elapsed() > Duration::from_millis(100) {
                    for w in 0..workers {
                        send(w, &mut cur, &txs, &free);
                    }
                    last_flush = Instant::now();
                }
            }
            Event::Frame(f, shared, (x, y)) => {
                let w = shard_addrs(&x, &y, workers, |a| home.contains(a));
                if cur.get(w).is_some_and(|b| !b.metas.is_empty() || b.holds_enough(shared.0)) {
                    send(w, &mut cur, &txs, &free);
                }
                if let Some(b) = cur.get_mut(w) {
                    b.push_ref(f, shared);
                    if b.len() >= BATCH {
                        send(w, &mut cur, &txs, &free);
                    }
                }
            }
            Event::Tick(now) => {
                for w in 0..workers {
                    if let Some(b) = cur.get_mut(w) {
                        b.tick = Some(now);
                    }
                    send(w, &mut cur, &txs, &free);
                }
                last_flush = Instant::now();
            }
            // Workers publish their own totals after every batch.
            Event::Publish => {}
        });
        for w in 0..workers {
            send(w, &mut cur, &txs, &free);
        }
        drop(txs);
        for h in handles {
            if let Ok((fs, ds, dropped, decoded)) = h.join() {
                summary.flows.add(&fs);
                summary.detect.merge(&ds);
                summary.findings_dropped += dropped;
                summary.decode.add(&decoded);
            }
        }
    });
}

fn worker_loop(
    rx: Receiver<Batch>,
    recycle: Sender<Batch>,
    ftx: Sender<Vec<Finding>>,
    mut w: Worker,
    live: bool,
    slot: Option<&WorkerCounters>,
) -> (FlowStats, DetectStats, u64, DecodeStats) {
    let mut dropped = 0u64;
    let mut decoded = DecodeStats::default();
    for mut batch in rx {
        for r in &batch.frames {
            let data = batch
                .bufs
                .get(r.buf as usize)
                .and_then(|b| b.get(r.off as usize..r.off as usize + r.len as usize))
                .unwrap_or_default();
            let f = RawFrame { ts: r.ts, link: r.link, wire_len: r.wire_len, data, shared: None };
            if let Some(v) = decode(&f, &mut decoded) {
                w.process(&v);
            }
        }
        for m in &batch.metas {
            let start = m.off as usize;
            let payload = batch.bytes.get(start..start + m.len as usize).unwrap_or_default();
            let v = PacketView {
                ts: m.ts,
                key: m.key,
                side: m.side,
                transport: m.transport,
                tcp: m.tcp,
                payload,
                wire_len: m.wire_len,
                truncated: m.truncated,
                src_mac: m.src_mac,
                echo_reply: m.echo_reply,
            };
            w.process(&v);
        }
        if let Some(now) = batch.tick {
            w.tick(now);
        }
        ship(&ftx, &mut w.findings, live, &mut dropped);
        if let Some(slot) = slot {
            w.publish(slot, dropped);
        }
        batch.clear();
        let _ = recycle.try_send(batch);
    }
    w.finish();
    ship(&ftx, &mut w.findings, live, &mut dropped);
    if let Some(slot) = slot {
        w.publish(slot, dropped);
    }
    (w.table.stats(), w.stats, dropped, decoded)
}

enum Event<'a, 'b> {
    Packet(&'a PacketView<'b>),
    /// A frame left for a worker to decode (the reader's `defer_decode`): where it lies in
    /// the source's shared buffer, and its two addresses, to choose the worker.
    Frame(&'a RawFrame<'b>, (&'a SharedBuffer, usize), (farhand_model::net::Addr, farhand_model::net::Addr)),
    Tick(Micros),
    /// The reader just published its totals to the live counters: time for the inline
    /// worker to publish its own.
    Publish,
}

/// Frames between two updates of the progress bar and of the live counters (and two
/// questions to the source).
const PROGRESS_EVERY: u64 = 16384;

struct Reader<'c, S: Source + ?Sized> {
    cap: &'c mut S,
    stop: Option<Arc<AtomicBool>>,
    live: bool,
    bar: Option<indicatif::ProgressBar>,
    /// Where to publish running totals, if anywhere.
    counters: Option<Arc<Live>>,
    /// Leave decoding to the workers where the source shares its buffer ([`Event::Frame`]):
    /// the reader then only finds a frame's addresses. Decode counters of such frames are
    /// the workers', added to the summary when they are done.
    defer_decode: bool,
}

impl<'c, S: Source + ?Sized> Reader<'c, S> {
    fn new(cap: &'c mut S, opts: &RunOptions, live: bool) -> Reader<'c, S> {
        let total = cap.progress().map_or(0, |p| p.total);
        let bar = (opts.progress && !live && total > 0).then(|| {
            let b = indicatif::ProgressBar::new(total);
            b.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta} {msg}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            b
        });
        Reader { cap, stop: opts.stop.clone(), live, bar, counters: opts.live.clone(), defer_decode: false }
    }

    /// Stores the running totals into the live counters (if any), the capture's drop counters
    /// as the source reports them now.
    fn publish(&mut self, s: &RunSummary, decode: &DecodeStats) {
        if let Some(counters) = &self.counters {
            let capture = self.cap.stats();
            publish_reader(counters, s, decode, &capture);
        }
    }

    /// Moves the bar to where the source is in its input (its last update; finishing the bar
    /// at the end fills it).
    fn show_progress(&self, packets: u64) {
        if let Some(b) = &self.bar {
            if let Some(p) = self.cap.progress() {
                b.set_position(p.position);
            }
            b.set_message(format!("{}k pkts", packets / 1000));
        }
    }

    fn read(&mut self, s: &mut RunSummary, mut on: impl FnMut(Event<'_, '_>, &mut u64)) {
        let mut dstats = DecodeStats::default();
        let mut dropped = 0u64;
        let mut last_tick = Instant::now();
        // Every PROGRESS_EVERY frames: the bar, the live counters, or neither.
        let periodic = self.bar.is_some() || self.counters.is_some();
        loop {
            if self.stop.as_ref().is_some_and(|f| f.load(Ordering::Relaxed)) {
                break;
            }
            match self.cap.next_frame() {
                Ok(Next::Frame(f)) => {
                    s.packets += 1;
                    s.bytes += f.data.len() as u64;
                    if s.span.0 == 0 {
                        s.span.0 = f.ts;
                    }
                    s.span.1 = f.ts;
                    let shareable = |sh: &crate::capture::Shared<'_>| {
                        self.defer_decode && sh.buf.len() <= SHARED_BUFFER_MAX && u32::try_from(sh.offset).is_ok()
                    };
                    match f.shared.filter(shareable) {
                        Some(sh) => {
                            // The addresses choose the worker; a frame they cannot be read
                            // from cheaply is decoded here for its key (and again by the
                            // worker; its counters once, by the worker) or counted here.
                            let mut here = DecodeStats::default();
                            let addrs = endpoints(&f).or_else(|| decode(&f, &mut here).map(|v| (v.key.a, v.key.b)));
                            match addrs {
                                Some(addrs) => on(Event::Frame(&f, (sh.buf, sh.offset), addrs), &mut dropped),
                                None => dstats.add(&here),
                            }
                        }
                        None => {
                            if let Some(v) = decode(&f, &mut dstats) {
                                on(Event::Packet(&v), &mut dropped);
                            }
                        }
                    }
                    if periodic && s.packets.is_multiple_of(PROGRESS_EVERY) {
                        self.show_progress(s.packets);
                        if self.counters.is_some() {
                            self.publish(s, &dstats);
                            on(Event::Publish, &mut dropped);
                        }
                    }
                }
                Ok(Next::Idle) => {
                    if self.live {
                        // Nothing queued on a non-blocking live capture: wait a little, and
                        // give the timers a tick every LIVE_TICK.
                        std::thread::sleep(LIVE_IDLE_SLEEP);
                        if last_tick.elapsed() >= LIVE_TICK {
                            last_tick = Instant::now();
                            on(Event::Tick(now_micros()), &mut dropped);
                            if self.counters.is_some() {
                                self.publish(s, &dstats);
                                on(Event::Publish, &mut dropped);
                            }
                        }
                    }
                }
                Ok(Next::End) => break,
                Err(e) => {
                    s.input_error = Some(e);
                    break;
                }
            }
        }
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
        s.decode = dstats;
        s.findings_dropped += dropped;
        self.publish(s, &dstats);
    }
}

#[cfg(test)]
mod tests {
    //! The live counters: what the fast path publishes while it runs and when it is done,
    //! against the run's own summary, over real captures.

    use super::*;
    use crate::capture::{Capture, CaptureError, LinkType, Next, Progress, RawFrame};
    use crate::detect::fingerprint::registry;
    use farhand_model::counters::Snapshot;
    use std::path::{Path, PathBuf};

    fn case(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/cases").join(name).join("input.pcap")
    }

    fn settings(workers: usize) -> FastPath {
        FastPath {
            workers,
            home: HomeNets::default(),
            flow: FlowConfig::default(),
            fingerprints: registry(),
            names: Some(Arc::new(Indicators::builtin())),
            dns_tunnel: true,
            ip_kvm: true,
        }
    }

    /// Runs the fast path over `source`, the findings drained on a thread of their own.
    fn run_counted<S: Source + ?Sized>(source: &mut S, workers: usize, live: &Arc<Live>) -> RunSummary {
        let opts = RunOptions { live: Some(live.clone()), ..RunOptions::default() };
        let (tx, rx) = crossing();
        std::thread::scope(|scope| {
            let drain = scope.spawn(move || rx.iter().map(|b| b.len()).sum::<usize>());
            let summary = run(source, &settings(workers), &opts, tx);
            drain.join().unwrap();
            summary
        })
    }

    /// Every published figure equals the summary's.
    fn assert_matches(s: &Snapshot, summary: &RunSummary, what: &str) {
        assert_eq!(s.frames, summary.packets, "{what}: frames");
        assert_eq!(s.bytes, summary.bytes, "{what}: bytes");
        let d = &summary.decode;
        assert_eq!(
            (s.non_ip, s.other_ip, s.fragments, s.truncated, s.malformed),
            (d.non_ip, d.other_ip, d.fragments, d.truncated, d.malformed),
            "{what}: decode outcomes"
        );
        assert_eq!(s.flows_created, summary.flows.created, "{what}: flows created");
        assert_eq!(s.flows_evicted, summary.flows.evicted, "{what}: evictions");
        assert_eq!(s.flows_dropped_full, summary.flows.dropped_full, "{what}: full-table drops");
        assert_eq!(s.sessions, summary.detect.sessions, "{what}: sessions");
        assert_eq!(s.findings_dropped, summary.findings_dropped, "{what}: findings dropped");
        assert_eq!(s.flows_active, 0, "{what}: every flow drained at the end");
        assert_eq!(s.flows_ended, summary.flows.created, "{what}: every flow created ended");
        assert_eq!(s.capture_dropped, summary.capture.dropped, "{what}: capture drops");
        assert_eq!(s.interface_dropped, summary.capture.if_dropped, "{what}: interface drops");
    }

    #[test]
    fn a_batch_holds_at_most_a_few_shared_buffers() {
        let bufs: Vec<SharedBuffer> = (0..6).map(|_| SharedBuffer::new(vec![7u8; 64])).collect();
        let data = [7u8; 16];
        let frame = RawFrame { ts: 1, link: LinkType::Ethernet, wire_len: 16, data: &data, shared: None };
        let mut b = Batch::default();
        for (i, buf) in bufs.iter().take(BATCH_BUFFERS).enumerate() {
            assert!(!b.holds_enough(buf), "buffer {i}");
            b.push_ref(&frame, (buf, 8));
            b.push_ref(&frame, (buf, 24));
        }
        assert_eq!(b.bufs.len(), BATCH_BUFFERS, "each buffer held once");
        // Another frame of the last buffer still fits; a frame of a new buffer does not.
        assert!(!b.holds_enough(&bufs[BATCH_BUFFERS - 1]));
        assert!(b.holds_enough(&bufs[BATCH_BUFFERS]));
        assert_eq!(SharedBuffer::strong_count(&bufs[0]), 2);
        b.clear();
        assert_eq!(SharedBuffer::strong_count(&bufs[0]), 1, "a cleared batch lets go");
    }

    #[test]
    fn published_totals_equal_the_run_summary() {
        let cases = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/cases");
        let mut pcaps: Vec<PathBuf> = std::fs::read_dir(&cases)
            .unwrap()
            .map(|e| e.unwrap().path().join("input.pcap"))
            .filter(|p| p.is_file())
            .collect();
        pcaps.sort();
        assert!(pcaps.len() >= 10, "the committed case captures ({})", pcaps.len());
        for pcap in &pcaps {
            for workers in [1, 2] {
                let live = Arc::new(Live::new(workers));
                let mut cap = Capture::open_file(pcap).unwrap();
                let summary = run_counted(&mut cap, workers, &live);
                let what = format!("{}, {workers} workers", pcap.display());
                assert!(summary.input_error.is_none(), "{what}");
                assert!(summary.packets > 0, "{what}: a real capture");
                assert_matches(&live.snapshot(), &summary, &what);
            }
        }
    }

    #[test]
    fn no_live_counters_publish_nothing_and_change_nothing() {
        let mut a = Capture::open_file(&case("demo")).unwrap();
        let (tx, rx) = crossing();
        let without = std::thread::scope(|scope| {
            let drain = scope.spawn(move || rx.iter().count());
            let s = run(&mut a, &settings(1), &RunOptions::default(), tx);
            drain.join().unwrap();
            s
        });
        let live = Arc::new(Live::new(1));
        let mut b = Capture::open_file(&case("demo")).unwrap();
        let with = run_counted(&mut b, 1, &live);
        assert_eq!(
            (with.packets, with.bytes, with.flows.created),
            (without.packets, without.bytes, without.flows.created)
        );
        assert_eq!(with.detect.sessions, without.detect.sessions);
    }

    /// The demo capture's frames replayed `rounds` times (each round later by the capture's
    /// span plus a minute), as a file or as a live source (stamped from now on, so that the
    /// tick's wall-clock time does not time every flow out) that goes idle for `idle` after
    /// `idle_after` frames and reports made-up kernel drop counters. It looks at the live
    /// counters while the run goes on: at `peek_at` frames, and after the idle spell.
    struct Replay {
        link: LinkType,
        frames: Vec<(Micros, u32, Vec<u8>)>,
        rounds: usize,
        span: Micros,
        /// Added to every timestamp (a live source's frames are stamped now).
        shift: Micros,
        next: usize,
        kind: CaptureKind,
        idle_after: usize,
        idle: Duration,
        idle_since: Option<Instant>,
        idle_done: bool,
        peek_at: usize,
        live: Arc<Live>,
        peeks: Vec<Snapshot>,
    }

    impl Replay {
        fn new(rounds: usize, kind: CaptureKind, live: &Arc<Live>) -> Replay {
            let mut cap = Capture::open_file(&case("demo")).unwrap();
            let link = cap.link();
            let mut frames = Vec::new();
            while let Next::Frame(f) = cap.next_frame().unwrap() {
                frames.push((f.ts, f.wire_len, f.data.to_vec()));
            }
            let first = frames.first().unwrap().0;
            let span = frames.last().unwrap().0 - first + 60_000_000;
            let shift = if kind == CaptureKind::Live { now_micros() - first } else { 0 };
            Replay {
                link,
                frames,
                rounds,
                span,
                shift,
                next: 0,
                kind,
                idle_after: usize::MAX,
                idle: Duration::ZERO,
                idle_since: None,
                idle_done: false,
                peek_at: usize::MAX,
                live: live.clone(),
                peeks: Vec::new(),
            }
        }
    }

    impl Source for Replay {
        fn next_frame(&mut self) -> Result<Next<'_>, CaptureError> {
            if self.next == self.idle_after && !self.idle_done {
                let since = *self.idle_since.get_or_insert_with(Instant::now);
                if since.elapsed() < self.idle {
                    return Ok(Next::Idle);
                }
                self.idle_done = true;
                self.peeks.push(self.live.snapshot());
            }
            if self.next == self.peek_at {
                self.peeks.push(self.live.snapshot());
            }
            let n = self.frames.len();
            if self.next >= n * self.rounds {
                return Ok(Next::End);
            }
            let round = (self.next / n) as u64;
            let Some((ts, wire_len, data)) = self.frames.get(self.next % n) else { return Ok(Next::End) };
            self.next += 1;
            Ok(Next::Frame(RawFrame {
                ts: ts + round * self.span + self.shift,
                link: self.link,
                wire_len: *wire_len,
                data,
                shared: None,
            }))
        }

        fn kind(&self) -> CaptureKind {
            self.kind
        }

        fn name(&self) -> &str {
            "demo replayed"
        }

        fn progress(&self) -> Option<Progress> {
            None
        }

        fn stats(&mut self) -> CaptureStats {
            match self.kind {
                CaptureKind::File => CaptureStats::default(),
                CaptureKind::Live => {
                    CaptureStats { received: self.next as u64, dropped: 7, if_dropped: 3, kernel: None }
                }
            }
        }
    }

    #[test]
    fn the_reader_publishes_every_progress_interval() {
        for workers in [1, 2] {
            let live = Arc::new(Live::new(workers));
            let mut src = Replay::new(1, CaptureKind::File, &live);
            src.rounds = (3 * PROGRESS_EVERY as usize) / src.frames.len() + 1;
            // Between the second and the third publication.
            src.peek_at = 2 * PROGRESS_EVERY as usize + 100;
            let summary = run_counted(&mut src, workers, &live);
            let what = format!("{workers} workers");
            let mid = src.peeks.first().unwrap();
            assert_eq!(mid.frames, 2 * PROGRESS_EVERY, "{what}: published at the last multiple, not per frame");
            assert!(mid.bytes > 0 && mid.bytes < summary.bytes, "{what}");
            assert!(mid.flows_created > 0, "{what}: the workers published while the run went on");
            assert!(mid.flows_created <= summary.flows.created, "{what}");
            assert_matches(&live.snapshot(), &summary, &what);
        }
    }

    #[test]
    fn a_live_tick_publishes_the_totals_and_the_kernel_drops() {
        for workers in [1, 2] {
            let live = Arc::new(Live::new(workers));
            let mut src = Replay::new(1, CaptureKind::Live, &live);
            src.idle_after = src.frames.len();
            src.idle = LIVE_TICK * 3;
            let summary = run_counted(&mut src, workers, &live);
            let what = format!("{workers} workers");
            // Fewer frames than one progress interval: only the tick can have published.
            assert!((src.frames.len() as u64) < PROGRESS_EVERY);
            let mid = src.peeks.first().unwrap();
            assert_eq!(mid.frames, src.frames.len() as u64, "{what}: every frame before the idle spell");
            assert_eq!((mid.capture_dropped, mid.interface_dropped), (7, 3), "{what}: the source's drop counters");
            assert!(
                mid.flows_created > 0 && mid.flows_active > 0,
                "{what}: the workers' tables, published on the tick"
            );
            assert_eq!(mid.flows_created, summary.flows.created, "{what}: one round, every flow already seen");
            assert_matches(&live.snapshot(), &summary, &what);
        }
    }
}
