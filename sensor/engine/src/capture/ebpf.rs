//! The eBPF capture: farhand's TC classifier (`ebpf/probe`) attached to an interface's ingress
//! and egress, its ring buffer read as a [`Source`].
//!
//! # Contract
//! - [`EbpfCapture::open`] loads the kernel program (embedded at build time, or the file
//!   [`EbpfOptions::object`] names), writes its [`ProbeConfig`], attaches both programs (TCX
//!   where the kernel has it) and takes the ring buffer. Every failure is one
//!   [`CaptureError::Ebpf`] line saying what is missing: the program, BTF, the capabilities
//!   (CAP_BPF, CAP_NET_ADMIN, CAP_PERFMON) or the interface.
//! - Frames are what the kernel sent: the first packets of each flow and direction (whole, up
//!   to `EVENT_DATA_MAX` bytes), TCP SYN/FIN/RST packets, and every packet of the sessions the
//!   pipeline claimed through [`SessionTap`]; each is an Ethernet frame whose `wire_len` is
//!   the packet's real length and whose bytes may stop early (as with a libpcap snaplen).
//!   Bulk payload never leaves the kernel.
//! - Timestamps: the kernel's CLOCK_MONOTONIC, moved to the Unix epoch by the offset between
//!   the two clocks measured at open.
//! - The programs are detached when the capture is dropped; the kernel detaches them by
//!   itself when the process dies (TCX links and their file descriptors go with it).
//! - A record the kernel wrote with another ABI version, or shorter than its header says, is
//!   counted ([`EbpfCapture::bad_events`]) and passed over; nothing here panics on its bytes.

use super::{
    CaptureError, CaptureKind, CaptureStats, KernelCounters, LinkType, Next, Progress, RawFrame, SessionTap, Source,
};
use aya::maps::{Array, HashMap, MapData, PerCpuArray, RingBuf};
use aya::programs::{SchedClassifier, TcAttachType};
use farhand_ebpf_common as abi;
use farhand_model::{FlowKey, Micros};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

/// The kernel program as built by `scripts/build-ebpf.sh` when this crate was compiled
/// (empty when it had not been built).
static EMBEDDED: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/farhand-probe.o"));

/// How long [`EbpfCapture`] waits for the ring buffer before answering [`Next::Idle`].
const POLL_MS: i32 = 100;

/// Settings of an eBPF capture (`[capture]` in the configuration).
#[derive(Debug, Clone)]
pub struct EbpfOptions {
    /// First packets sent per flow and direction.
    pub first_packets: u32,
    /// Payload bytes sent as first packets per flow and direction (the detectors' largest
    /// interest).
    pub first_payload: u32,
    /// Payload bytes kept with a SYN/FIN/RST packet past the first ones.
    pub control_payload: u32,
    /// Payload bytes kept with each packet of a session of interest (default: whole frames up
    /// to `EVENT_DATA_MAX`, what the VNC and RDP timing parsers read).
    pub session_payload: u16,
    /// Capacity of the kernel's flow table.
    pub flows_max: u32,
    /// Size of the ring buffer in bytes (a power of two, at least a page).
    pub ring_bytes: u32,
    /// A kernel program file to load instead of the embedded one.
    pub object: Option<PathBuf>,
}

impl Default for EbpfOptions {
    fn default() -> EbpfOptions {
        EbpfOptions {
            first_packets: 32,
            first_payload: 8192,
            control_payload: 0,
            session_payload: abi::EVENT_DATA_MAX as u16,
            flows_max: abi::FLOWS_MAX,
            ring_bytes: abi::EVENTS_BYTES,
            object: None,
        }
    }
}

/// The sessions-of-interest map, shared with the workers.
struct Interest {
    map: Mutex<HashMap<MapData, abi::FlowKey, abi::SessionInterest>>,
    payload: u16,
}

impl SessionTap for Interest {
    fn claim(&self, key: &FlowKey) {
        let k = kernel_key(key);
        let v = abi::SessionInterest { payload: self.payload, ..Default::default() };
        let mut m = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        if let Err(e) = m.insert(k, v, 0) {
            tracing::debug!("session of interest not recorded in the kernel: {e}");
        }
    }

    fn release(&self, key: &FlowKey) {
        let k = kernel_key(key);
        let mut m = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        let _ = m.remove(&k);
    }
}

/// The kernel's key of a flow (see [`abi::FlowKey::canonical`]).
fn kernel_key(key: &FlowKey) -> abi::FlowKey {
    let words = |a: &[u8; 16]| -> ([u32; 4], bool) {
        let w = |i: usize| a.get(i..i + 4).and_then(|s| <[u8; 4]>::try_from(s).ok()).map_or(0, u32::from_ne_bytes);
        // IPv4 lives as ::ffff:a.b.c.d in the model, in word 0 in the kernel.
        if a.get(..12) == Some(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff][..]) {
            ([w(12), 0, 0, 0], true)
        } else {
            ([w(0), w(4), w(8), w(12)], false)
        }
    };
    let (a, v4) = words(&key.a.0);
    let (b, _) = words(&key.b.0);
    let family = if v4 { abi::FAMILY_IPV4 } else { abi::FAMILY_IPV6 };
    abi::FlowKey::canonical((a, key.a_port), (b, key.b_port), key.proto(), family).0
}

/// A live capture through farhand's kernel program.
pub struct EbpfCapture {
    /// Owns the programs (attached while it lives) and the maps not taken out.
    _bpf: aya::Ebpf,
    ring: RingBuf<MapData>,
    counters: PerCpuArray<MapData, u64>,
    interest: Arc<Interest>,
    name: String,
    /// The frame handed out last.
    buf: Vec<u8>,
    /// Nanoseconds to add to a CLOCK_MONOTONIC time for the Unix epoch.
    epoch_offset_ns: i128,
    bad_events: u64,
}

impl std::fmt::Debug for EbpfCapture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EbpfCapture").field("name", &self.name).finish_non_exhaustive()
    }
}

/// One clock's time in nanoseconds.
fn clock_ns(clock: libc::clockid_t) -> i128 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes one timespec through the pointer, which points at a live,
    // initialised local.
    #[allow(unsafe_code)]
    let r = unsafe { libc::clock_gettime(clock, &mut ts) };
    if r != 0 {
        return 0;
    }
    i128::from(ts.tv_sec) * 1_000_000_000 + i128::from(ts.tv_nsec)
}

impl EbpfCapture {
    /// Loads, configures and attaches the kernel program on `iface`.
    pub fn open(iface: &str, opts: &EbpfOptions) -> Result<EbpfCapture, CaptureError> {
        let fail = |msg: String| CaptureError::Ebpf { iface: iface.to_string(), msg };
        if !std::path::Path::new("/sys/kernel/btf/vmlinux").exists() {
            return Err(fail("the kernel has no BTF (/sys/kernel/btf/vmlinux): use --capture pcap".into()));
        }
        let owned;
        let object: &[u8] = match &opts.object {
            Some(p) => {
                owned = std::fs::read(p).map_err(|e| fail(format!("{}: {e}", p.display())))?;
                &owned
            }
            None if EMBEDDED.is_empty() => {
                return Err(fail(
                    "this farhand was built without its kernel program: run scripts/build-ebpf.sh and rebuild, \
                     or set [capture] ebpf_object"
                        .into(),
                ));
            }
            None => EMBEDDED,
        };
        let perm = |e: &dyn std::fmt::Display| {
            let s = e.to_string();
            if s.contains("Operation not permitted") || s.contains("EPERM") || s.contains("permission") {
                fail(format!("{s}: loading eBPF needs CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON (or root)"))
            } else {
                fail(s)
            }
        };
        let mut bpf = aya::EbpfLoader::new()
            .map_max_entries(abi::MAP_FLOWS, opts.flows_max.max(1024))
            .map_max_entries(abi::MAP_EVENTS, opts.ring_bytes.max(4096).next_power_of_two())
            .load(object)
            .map_err(|e| perm(&flatten(&e)))?;
        let cfg = abi::ProbeConfig {
            abi: abi::ABI_VERSION,
            _pad: 0,
            first_packets: opts.first_packets,
            first_payload: opts.first_payload,
            control_payload: opts.control_payload,
        };
        {
            let map = bpf.map_mut(abi::MAP_CONFIG).ok_or_else(|| fail(format!("no map {}", abi::MAP_CONFIG)))?;
            let mut a: Array<_, abi::ProbeConfig> = Array::try_from(map).map_err(|e| fail(flatten(&e)))?;
            a.set(0, cfg, 0).map_err(|e| perm(&flatten(&e)))?;
        }
        for (prog, hook) in [(abi::PROG_INGRESS, TcAttachType::Ingress), (abi::PROG_EGRESS, TcAttachType::Egress)] {
            let p = bpf.program_mut(prog).ok_or_else(|| fail(format!("no program {prog}")))?;
            let p: &mut SchedClassifier = p.try_into().map_err(|e| fail(flatten(&e)))?;
            p.load().map_err(|e| perm(&flatten(&e)))?;
            p.attach(iface, hook).map_err(|e| {
                let s = flatten(&e);
                if s.contains("No such device") || s.contains("not found") || s.contains("unknown interface") {
                    fail(format!("no such interface ({s})"))
                } else {
                    perm(&s)
                }
            })?;
        }
        let take = |bpf: &mut aya::Ebpf, name: &str| bpf.take_map(name).ok_or_else(|| fail(format!("no map {name}")));
        let ring = RingBuf::try_from(take(&mut bpf, abi::MAP_EVENTS)?).map_err(|e| fail(flatten(&e)))?;
        let counters = PerCpuArray::try_from(take(&mut bpf, abi::MAP_COUNTERS)?).map_err(|e| fail(flatten(&e)))?;
        let interest = HashMap::try_from(take(&mut bpf, abi::MAP_INTEREST)?).map_err(|e| fail(flatten(&e)))?;
        let epoch_offset_ns = clock_ns(libc::CLOCK_REALTIME) - clock_ns(libc::CLOCK_MONOTONIC);
        Ok(EbpfCapture {
            _bpf: bpf,
            ring,
            counters,
            interest: Arc::new(Interest { map: Mutex::new(interest), payload: opts.session_payload }),
            name: format!("interface {iface}"),
            buf: Vec::with_capacity(abi::EVENT_DATA_MAX as usize),
            epoch_offset_ns,
            bad_events: 0,
        })
    }

    /// Records passed over: another ABI version, or shorter than their header says.
    pub fn bad_events(&self) -> u64 {
        self.bad_events
    }

    /// The kernel's counters, summed over CPUs.
    pub fn kernel_counters(&self) -> KernelCounters {
        let mut out = [0u64; abi::COUNTERS as usize];
        for (i, slot) in out.iter_mut().enumerate() {
            if let Ok(v) = self.counters.get(&(i as u32), 0) {
                *slot = v.iter().sum();
            }
        }
        out
    }

    /// Copies the next well-formed record into `buf`; its header, or `None` when the ring is
    /// empty.
    fn take_record(&mut self) -> Option<abi::EventHeader> {
        while let Some(item) = self.ring.next() {
            let Some(h) = parse_header(&item) else {
                self.bad_events += 1;
                continue;
            };
            let end = abi::EVENT_HEADER_LEN + h.cap_len as usize;
            let Some(data) = item.get(abi::EVENT_HEADER_LEN..end) else {
                self.bad_events += 1;
                continue;
            };
            self.buf.clear();
            self.buf.extend_from_slice(data);
            return Some(h);
        }
        None
    }

    /// Waits up to [`POLL_MS`] for the ring buffer to have a record.
    fn wait(&self) {
        let mut pfd = libc::pollfd { fd: self.ring.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        // SAFETY: poll reads and writes one pollfd through the pointer, which points at a live
        // local; the count passed is 1.
        #[allow(unsafe_code)]
        let _ = unsafe { libc::poll(&mut pfd, 1, POLL_MS) };
    }
}

/// The header of a ring-buffer record, if it has one of this ABI version.
fn parse_header(rec: &[u8]) -> Option<abi::EventHeader> {
    let u16_at = |o: usize| rec.get(o..o + 2).and_then(|s| <[u8; 2]>::try_from(s).ok()).map(u16::from_ne_bytes);
    let u32_at = |o: usize| rec.get(o..o + 4).and_then(|s| <[u8; 4]>::try_from(s).ok()).map(u32::from_ne_bytes);
    let u64_at = |o: usize| rec.get(o..o + 8).and_then(|s| <[u8; 8]>::try_from(s).ok()).map(u64::from_ne_bytes);
    let h = abi::EventHeader {
        abi: u16_at(0)?,
        kind: *rec.get(2)?,
        hook: *rec.get(3)?,
        ifindex: u32_at(4)?,
        ts_ns: u64_at(8)?,
        wire_len: u32_at(16)?,
        cap_len: u32_at(20)?,
    };
    (h.abi == abi::ABI_VERSION && h.cap_len <= abi::EVENT_DATA_MAX && h.cap_len <= h.wire_len).then_some(h)
}

/// An error with its sources, on one line.
fn flatten(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s.replace('\n', " ")
}

impl Source for EbpfCapture {
    fn next_frame(&mut self) -> Result<Next<'_>, CaptureError> {
        let h = match self.take_record() {
            Some(h) => h,
            None => {
                self.wait();
                match self.take_record() {
                    Some(h) => h,
                    None => return Ok(Next::Idle),
                }
            }
        };
        let ns = i128::from(h.ts_ns) + self.epoch_offset_ns;
        let ts = Micros::try_from((ns / 1000).max(0)).unwrap_or(0);
        Ok(Next::Frame(RawFrame { ts, link: LinkType::Ethernet, wire_len: h.wire_len, data: &self.buf, shared: None }))
    }

    fn kind(&self) -> CaptureKind {
        CaptureKind::Live
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn progress(&self) -> Option<Progress> {
        None
    }

    fn stats(&mut self) -> CaptureStats {
        let k = self.kernel_counters();
        let at = |c: abi::Counter| k.get(c as usize).copied().unwrap_or(0);
        CaptureStats {
            received: at(abi::Counter::Packets),
            dropped: at(abi::Counter::RingFull),
            if_dropped: 0,
            kernel: Some(k),
        }
    }

    fn session_tap(&self) -> Option<Arc<dyn SessionTap>> {
        Some(self.interest.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(h: &abi::EventHeader, data: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&h.abi.to_ne_bytes());
        v.push(h.kind);
        v.push(h.hook);
        v.extend_from_slice(&h.ifindex.to_ne_bytes());
        v.extend_from_slice(&h.ts_ns.to_ne_bytes());
        v.extend_from_slice(&h.wire_len.to_ne_bytes());
        v.extend_from_slice(&h.cap_len.to_ne_bytes());
        v.extend_from_slice(data);
        v
    }

    #[test]
    fn headers_parse_and_hostile_ones_are_refused() {
        let h = abi::EventHeader {
            abi: abi::ABI_VERSION,
            kind: abi::kind::FIRST,
            hook: abi::hook::EGRESS,
            ifindex: 3,
            ts_ns: 42,
            wire_len: 1514,
            cap_len: 60,
        };
        let rec = record(&h, &[7; 60]);
        assert_eq!(rec.len(), abi::EVENT_HEADER_LEN + 60);
        assert_eq!(parse_header(&rec), Some(h));
        // Every truncation of the header is refused, none panics.
        for n in 0..abi::EVENT_HEADER_LEN {
            assert_eq!(parse_header(rec.get(..n).unwrap()), None, "{n}");
        }
        // Another ABI, a length past the largest event or past the packet.
        for bad in [
            abi::EventHeader { abi: abi::ABI_VERSION + 1, ..h },
            abi::EventHeader { cap_len: abi::EVENT_DATA_MAX + 1, wire_len: u32::MAX, ..h },
            abi::EventHeader { cap_len: 61, wire_len: 60, ..h },
            abi::EventHeader { cap_len: u32::MAX, ..h },
        ] {
            assert_eq!(parse_header(&record(&bad, &[])), None, "{bad:?}");
        }
    }

    #[test]
    fn kernel_keys_agree_with_the_model_whichever_way_round() {
        use farhand_model::Addr;
        let v4 = Addr::v4;
        let v6 = |s: &str| Addr::from(s.parse::<std::net::IpAddr>().unwrap());
        for (a, b) in [(v4([10, 0, 0, 1]), v4([192, 168, 1, 2])), (v6("2001:db8::1"), v6("fe80::2"))] {
            let k1 = FlowKey::new(a, 40000, b, 22, 6, 0).0;
            let k2 = FlowKey::new(b, 22, a, 40000, 6, 0).0;
            assert_eq!(kernel_key(&k1), kernel_key(&k2));
        }
        let k = kernel_key(&FlowKey::new(v4([10, 0, 0, 1]), 40000, v4([10, 0, 0, 2]), 22, 6, 0).0);
        assert_eq!(k.family, abi::FAMILY_IPV4);
        assert_eq!(k.lo_addr[1..], [0, 0, 0]);
        assert_eq!(k.proto, 6);
    }
}
