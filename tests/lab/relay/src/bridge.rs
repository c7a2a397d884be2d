//! Forwarding mode: a user-space L2 bridge between two interfaces without IP addresses. Every
//! Ethernet frame received on one interface is sent out of the other `D/2` later.
//!
//! Capture uses libpcap (AF_PACKET underneath) in immediate mode, incoming direction only, so
//! the frames this program sends are not captured again. Sending uses a second handle per
//! interface whose filter matches nothing. Offloads (GSO/TSO/GRO, checksum) should be off on
//! the veths, or frames larger than the MTU, or with unfinished checksums, come up here.
//!
//! [`Losses`] disturbs each direction with its own seeded stream of draws: jitter on every
//! hold, a share of frames dropped (the endpoints' TCP retransmits), and a share held back
//! for the next frame to overtake (see [`crate::delay::DelayLine::push_held_back`]).

use std::time::Instant;

use crossbeam_channel::{Sender, bounded};
use pcap::{Active, Capture, Direction};

use crate::delay::{Flow, half_of_ms, pump};
use crate::shape::Shaping;
use crate::{Disturb, banner, log, spawn};

/// The bridge's disturbances.
#[derive(Debug, Clone, Copy)]
pub struct Losses {
    /// Jitter and seed.
    pub disturb: Disturb,
    /// Share of frames dropped, in percent.
    pub drop_pct: f64,
    /// Share of frames reordered, in percent.
    pub reorder_pct: f64,
}

impl Losses {
    /// The shaping of direction `stream` (0: a to b, 1: b to a), logging its drops and
    /// reorders now and then under `label`.
    fn shaping(&self, stream: u64, label: String) -> Shaping {
        let mut s = self.disturb.jitter(stream);
        s.drop_pct = self.drop_pct;
        s.reorder_pct = self.reorder_pct;
        s.label = label;
        s
    }

    /// What the start-up line says about the disturbances (empty without any).
    fn describe(&self) -> String {
        if self.drop_pct <= 0.0 && self.reorder_pct <= 0.0 {
            return self.disturb.describe();
        }
        format!(
            "; jitter ±{} ms, drop {} %, reorder {} %, seed {}",
            self.disturb.jitter_ms, self.drop_pct, self.reorder_pct, self.disturb.seed
        )
    }
}

/// Frames queued per direction before the capture side waits.
const QUEUE: usize = 65_536;
/// Capture length: whole frames (jumbo included).
const SNAPLEN: i32 = 65_535;
/// Kernel capture buffer per receiving handle.
const RX_BUFFER: i32 = 8 * 1024 * 1024;
/// A filter no frame passes (frames of at most one byte): the sending handles capture nothing.
const MATCH_NOTHING: &str = "less 1";

/// Opens a receiving handle (incoming frames only) on `iface`.
fn open_rx(iface: &str) -> Result<Capture<Active>, String> {
    let cap = Capture::from_device(iface)
        .and_then(|c| c.promisc(true).immediate_mode(true).snaplen(SNAPLEN).buffer_size(RX_BUFFER).timeout(200).open())
        .map_err(|e| format!("cannot capture on {iface}: {e}"))?;
    cap.direction(Direction::In).map_err(|e| format!("cannot set incoming-only capture on {iface}: {e}"))?;
    Ok(cap)
}

/// Opens a sending handle on `iface`.
fn open_tx(iface: &str) -> Result<Capture<Active>, String> {
    let mut cap = Capture::from_device(iface)
        .and_then(|c| c.snaplen(64).buffer_size(64 * 1024).timeout(200).open())
        .map_err(|e| format!("cannot open {iface} for sending: {e}"))?;
    cap.filter(MATCH_NOTHING, true).map_err(|e| format!("cannot set a filter on {iface}: {e}"))?;
    Ok(cap)
}

/// Bridges `a` and `b` forever.
pub fn run(a: &str, b: &str, delay_ms: u64, losses: Losses) -> Result<(), String> {
    if a == b {
        return Err(format!("--a and --b are the same interface ({a})"));
    }
    let half = half_of_ms(delay_ms);
    let (rx_a, rx_b) = (open_rx(a)?, open_rx(b)?);
    let (tx_a, tx_b) = (open_tx(a)?, open_tx(b)?);

    let (a2b_tx, a2b_rx) = bounded::<(Instant, Vec<u8>)>(QUEUE);
    let (b2a_tx, b2a_rx) = bounded::<(Instant, Vec<u8>)>(QUEUE);
    let start = |name: &str, f: Box<dyn FnOnce() + Send>| {
        spawn(name, f).map(|_| ()).map_err(|e| format!("cannot start a thread: {e}"))
    };
    let (a2b, b2a) = (losses.shaping(0, format!("{a} -> {b}")), losses.shaping(1, format!("{b} -> {a}")));
    start("bridge-send-b", Box::new(move || sender(&a2b_rx, tx_b, half, a2b)))?;
    start("bridge-send-a", Box::new(move || sender(&b2a_rx, tx_a, half, b2a)))?;
    let (an, bn) = (a.to_string(), b.to_string());
    start("bridge-recv-b", Box::new(move || receiver(rx_b, &bn, &b2a_tx)))?;

    banner(&format!(
        "l2 bridge {a} <-> {b}, holding {:.1} ms each way (+{delay_ms} ms round trip){}",
        half.as_secs_f64() * 1000.0,
        losses.describe()
    ));
    receiver(rx_a, &an, &a2b_tx);
    Err(format!("capture on {a} ended"))
}

/// Captures incoming frames on one interface and queues them, stamped with their arrival.
fn receiver(mut cap: Capture<Active>, iface: &str, tx: &Sender<(Instant, Vec<u8>)>) {
    let mut truncated: u64 = 0;
    loop {
        match cap.next_packet() {
            Ok(p) => {
                let now = Instant::now();
                if p.header.caplen < p.header.len {
                    truncated += 1;
                    if truncated.is_power_of_two() {
                        log(&format!("{iface}: {truncated} frame(s) over {SNAPLEN} bytes dropped"));
                    }
                    continue;
                }
                if tx.send((now, p.data.to_vec())).is_err() {
                    return;
                }
            }
            Err(pcap::Error::TimeoutExpired) => {}
            Err(e) => {
                log(&format!("capture on {iface} failed: {e}"));
                std::process::exit(1);
            }
        }
    }
}

/// Sends released frames out of one interface.
fn sender(
    rx: &crossbeam_channel::Receiver<(Instant, Vec<u8>)>,
    mut cap: Capture<Active>,
    half: std::time::Duration,
    shaping: Shaping,
) {
    let mut failures: u64 = 0;
    pump(rx, half, shaping, |frame| {
        if let Err(e) = cap.sendpacket(frame.as_slice()) {
            failures += 1;
            if failures.is_power_of_two() {
                log(&format!("send failed ({failures} so far), {} byte frame: {e}", frame.len()));
            }
        }
        Flow::Continue
    });
}
