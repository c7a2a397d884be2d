//! Criterion bench of the fast path, stage by stage: reading the file (farhand's own reader,
//! the file in the page cache), routing a frame to a worker (its two addresses and the
//! endpoint hash), decode, and decode + flow-table lookup + detector dispatch, over real
//! frames held in memory.
//!
//! Frames come from `FARHAND_BENCH_PCAP` (e.g. the capture of
//! `../shared/peers/make-bench-pcap.sh`, first 20,000 frames) or, by default, the committed
//! demo capture. Run: `cargo bench -p farhand --bench fastpath`.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "bench setup: fail loudly")]
#![allow(missing_docs, reason = "criterion_group!/criterion_main! generate undocumented items")]

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use farhand_engine::capture::{Capture, LinkType, Next, RawFrame, Source};
use farhand_engine::decode::{DecodeStats, decode, endpoints};
use farhand_engine::detect::FlowTable;
use farhand_engine::detect::fingerprint::registry;
use farhand_engine::detect::watch::registry as watch_registry;
use farhand_engine::detect::{DetectStats, Engine};
use farhand_engine::flow::{FlowConfig, shard_addrs};
use farhand_model::HomeNets;
use std::hint::black_box;
use std::path::PathBuf;

/// Frames held in memory: small enough (~20 MB of the bench capture) that the bench measures
/// parsing rather than DRAM misses; in the real pipeline libpcap has just copied the frame,
/// so it is in cache.
const MAX_FRAMES: usize = 20_000;

fn bench_path() -> PathBuf {
    std::env::var_os("FARHAND_BENCH_PCAP")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/cases/demo/input.pcap"))
}

fn frames() -> (LinkType, Vec<(u64, u32, Vec<u8>)>) {
    let path = bench_path();
    let mut cap = Capture::open_file(&path).expect("bench capture");
    let link = cap.link();
    let mut out = Vec::new();
    while out.len() < MAX_FRAMES {
        match cap.next_frame() {
            Ok(Next::Frame(f)) => out.push((f.ts, f.wire_len, f.data.to_vec())),
            _ => break,
        }
    }
    eprintln!("fastpath bench: {} frames from {}", out.len(), path.display());
    (link, out)
}

fn bench(c: &mut Criterion) {
    let (link, frames) = frames();
    let mut g = c.benchmark_group("fastpath");
    g.throughput(Throughput::Elements(frames.len() as u64));
    g.bench_function("read", |b| {
        // The first MAX_FRAMES frames of the file, through the reader the pipeline uses.
        b.iter(|| {
            let mut cap = Capture::open_file(&bench_path()).expect("bench capture");
            let mut n = 0usize;
            while n < MAX_FRAMES
                && let Ok(Next::Frame(f)) = cap.next_frame()
            {
                n += black_box(f.data.len()).min(1);
            }
            n
        })
    });
    let home = HomeNets::new(vec!["10.0.0.0/8".parse().unwrap(), "192.168.0.0/16".parse().unwrap()]);
    g.bench_function("route", |b| {
        b.iter(|| {
            let mut per_worker = [0usize; 8];
            for (ts, wire_len, data) in &frames {
                let f = RawFrame { ts: *ts, link, wire_len: *wire_len, data, shared: None };
                if let Some((x, y)) = endpoints(&f)
                    && let Some(n) = per_worker.get_mut(shard_addrs(&x, &y, 8, |a| home.contains(a)))
                {
                    *n += 1;
                }
            }
            per_worker
        })
    });
    g.bench_function("decode", |b| {
        b.iter(|| {
            let mut st = DecodeStats::default();
            for (ts, wire_len, data) in &frames {
                let f = RawFrame { ts: *ts, link, wire_len: *wire_len, data, shared: None };
                black_box(decode(&f, &mut st));
            }
            st
        })
    });
    let mut engine = Engine::new(
        registry(),
        Some(std::sync::Arc::new(farhand_engine::indicators::Indicators::builtin())),
        watch_registry(),
    );
    g.bench_function("decode+flow+detect", |b| {
        b.iter_batched(
            || FlowTable::new(FlowConfig::default()),
            |mut table| {
                let mut st = DecodeStats::default();
                let mut ds = DetectStats::default();
                for (ts, wire_len, data) in &frames {
                    let f = RawFrame { ts: *ts, link, wire_len: *wire_len, data, shared: None };
                    if let Some(v) = decode(&f, &mut st)
                        && let Some(flow) = table.packet(&v)
                        && flow.wants_packets()
                    {
                        engine.on_packet(flow, &v, &mut ds);
                    }
                    table.take_ended().for_each(drop);
                }
                table
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
