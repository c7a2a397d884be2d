//! Flow-table memory per idle flow, measured with a counting allocator: the table must hold
//! an idle flow in at most 256 bytes (DESIGN.md performance targets).

#![allow(clippy::unwrap_used, reason = "test code")]

use farhand::decode::{PacketView, TcpInfo, tcp_flags};
use farhand::detect::fingerprint::Transport;
use farhand::flow::key::proto;
use farhand::flow::{Addr, FlowConfig, FlowKey, FlowTable};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

struct Counting;
static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator and only counts sizes.
#[allow(unsafe_code, reason = "a counting global allocator needs the unsafe trait")]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        // SAFETY: same layout contract as the caller's.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        // SAFETY: p was allocated by System with layout l.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new as isize - l.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded unchanged.
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static A: Counting = Counting;

#[test]
fn idle_flow_costs_at_most_256_bytes() {
    // Flows that saw a handshake and a first data packet, then went idle (the common case
    // in a gateway's table), at several table sizes (the hash table grows in powers of two,
    // so the cost per flow swings with the load factor: report the worst).
    let mut worst = 0f64;
    for n in [100_000u32, 150_000, 229_000, 300_000] {
        let before = LIVE.load(Ordering::Relaxed);
        let mut t = FlowTable::new(FlowConfig { max_flows: 1 << 22, ..FlowConfig::default() });
        for i in 0..n {
            let src = Addr::v4([10, (i >> 16) as u8, (i >> 8) as u8, i as u8]);
            let dst = Addr::v4([203, 0, 113, (i % 7) as u8]);
            let (key, side) = FlowKey::new(src, 40000 + (i % 20000) as u16, dst, 443, proto::TCP, 0);
            let v = PacketView {
                ts: 1_000_000 + u64::from(i),
                key,
                side,
                transport: Transport::Tcp,
                tcp: Some(TcpInfo { flags: tcp_flags::SYN, seq: i, ack: 0, window: 0 }),
                payload: &[],
                wire_len: 60,
                truncated: false,
                src_mac: [0; 6],
            };
            t.packet(&v).unwrap();
        }
        let per = (LIVE.load(Ordering::Relaxed) - before) as f64 / f64::from(n);
        eprintln!("flow table: {n} idle flows, {per:.1} bytes per flow");
        worst = worst.max(per);
        drop(t);
    }
    assert!(worst <= 256.0, "{worst:.1} bytes per idle flow");
}
