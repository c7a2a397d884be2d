//! Capture: where frames come from.
//!
//! # Contract
//! - Frames enter the fast path through one seam, the [`Source`] trait (its contract is on
//!   the trait): libpcap files and interfaces ([`Capture`]) today, the eBPF ring-buffer
//!   reader beside it later. The pipeline is generic over it (static dispatch: no virtual
//!   call per frame).
//! - [`Capture`] yields [`RawFrame`]s, one at a time, borrowing its buffer until the next
//!   call. Offline files and live interfaces (libpcap, optional BPF filter) share one type.
//!   libpcap opens a file; farhand's own readers read its records: classic pcap
//!   (`pcapfile.rs`) and pcapng (`pcapng.rs`, every interface with its own link type and
//!   clock; frames of an interface of a link type farhand does not decode are passed over and
//!   counted, [`Capture::skipped_frames`]), both over the chunked buffer of `chunks.rs`, so
//!   their frames also say where they lie in a buffer shared with the workers
//!   ([`RawFrame::shared`]: a zero-copy hand-over). libpcap reads live interfaces and any
//!   other file format it knows.
//! - Only link types farhand can decode are accepted ([`LinkType`]); any other is refused at
//!   open time with an error naming it, never mid-stream.
//! - Every failure is a [`CaptureError`] that names the file or interface and what went
//!   wrong. A file that ends mid-record (truncated) is reported as
//!   [`CaptureError::Truncated`] after the frames before it were delivered.
//! - Timestamps are microseconds since the Unix epoch ([`Micros`]).
//! - A file's progress is the position libpcap has read up to in the file, whatever its
//!   format (pcapng blocks, padding and options included), not a sum of record sizes; see
//!   [`Source::progress`] and `offset.rs`.

use farhand_model::Micros;
use std::path::PathBuf;

mod chunks;
#[cfg(target_os = "linux")]
mod ebpf;
mod libpcap;
mod offset;
pub mod pcapfile;
mod pcapng;
#[cfg(test)]
mod tests;

#[cfg(target_os = "linux")]
pub use ebpf::{EbpfCapture, EbpfOptions};
pub use libpcap::Capture;

/// One captured frame, borrowed from the capture's buffer.
#[derive(Debug, Clone, Copy)]
pub struct RawFrame<'a> {
    /// Capture timestamp.
    pub ts: Micros,
    /// Link-layer type of `data`.
    pub link: LinkType,
    /// Length of the frame on the wire (may exceed `data.len()` when snaplen cut it).
    pub wire_len: u32,
    /// The captured bytes.
    pub data: &'a [u8],
    /// Where `data` lies in a buffer the source shares, for a zero-copy hand-over to the
    /// workers; `None` when the source reuses its buffer (the consumer copies).
    pub shared: Option<Shared<'a>>,
}

/// A buffer a source fills once and then only reads, shared with the workers that decode
/// the frames in it: a worker holds it as long as it holds any of its frames, and the source
/// fills a fresh (or recycled, no longer held) buffer meanwhile.
pub type SharedBuffer = std::sync::Arc<Vec<u8>>;

/// A frame's place in a [`SharedBuffer`]: `buf[offset..offset + data.len()]` is the frame's
/// `data`.
#[derive(Debug, Clone, Copy)]
pub struct Shared<'a> {
    /// The buffer.
    pub buf: &'a SharedBuffer,
    /// Where the frame's bytes start in it.
    pub offset: usize,
}

/// Link-layer types farhand decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkType {
    /// Ethernet II (LINKTYPE_ETHERNET 1), with 802.1Q/QinQ tags.
    Ethernet,
    /// Linux cooked capture v1 (LINKTYPE_LINUX_SLL 113).
    LinuxSll,
    /// Linux cooked capture v2 (LINKTYPE_LINUX_SLL2 276).
    LinuxSll2,
    /// Raw IPv4 or IPv6 (LINKTYPE_RAW 101, DLT_RAW 12/14, LINKTYPE_IPV4 228, LINKTYPE_IPV6 229).
    RawIp,
    /// BSD loopback with a host-order address family word (LINKTYPE_NULL 0).
    Null,
    /// OpenBSD loopback with a network-order address family word (LINKTYPE_LOOP 108).
    Loop,
    /// PPP (LINKTYPE_PPP 9, LINKTYPE_PPP_HDLC 50): a PPP header, in HDLC-like framing
    /// (`FF 03` first) or not; LINKTYPE_PPP_HDLC may also hold Cisco HDLC.
    Ppp,
    /// PPPoE session packets without their Ethernet header (LINKTYPE_PPP_ETHER 51).
    PppEther,
    /// Cisco HDLC (LINKTYPE_C_HDLC 104): address, control, an Ethernet type.
    CiscoHdlc,
    /// Linux netfilter log (LINKTYPE_NFLOG 239, `iptables -j NFLOG` captured by tcpdump):
    /// a family byte, then TLVs of which the payload one holds the IP packet.
    Nflog,
    /// 802.11 behind a radiotap header (LINKTYPE_IEEE802_11_RADIOTAP 127) or bare
    /// (LINKTYPE_IEEE802_11 105): unprotected data frames with an LLC/SNAP header.
    Ieee80211 {
        /// A radiotap header comes first.
        radiotap: bool,
    },
}

impl LinkType {
    /// Maps a libpcap link-type number to a decodable link type.
    pub fn from_dlt(dlt: i32) -> Option<LinkType> {
        match dlt {
            1 => Some(LinkType::Ethernet),
            113 => Some(LinkType::LinuxSll),
            276 => Some(LinkType::LinuxSll2),
            12 | 14 | 101 | 228 | 229 => Some(LinkType::RawIp),
            0 => Some(LinkType::Null),
            108 => Some(LinkType::Loop),
            9 | 50 => Some(LinkType::Ppp),
            51 => Some(LinkType::PppEther),
            104 => Some(LinkType::CiscoHdlc),
            239 => Some(LinkType::Nflog),
            105 => Some(LinkType::Ieee80211 { radiotap: false }),
            127 => Some(LinkType::Ieee80211 { radiotap: true }),
            _ => None,
        }
    }
}

/// Why a capture could not be opened or read.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The file does not exist.
    #[error("{}: no such file", .0.display())]
    NoSuchFile(PathBuf),
    /// libpcap refused the file (not a capture file, unreadable, ...).
    #[error("{}: not a readable pcap/pcapng file: {msg}", path.display())]
    BadFile {
        /// The file.
        path: PathBuf,
        /// libpcap's explanation.
        msg: String,
    },
    /// The file ended in the middle of a record.
    #[error("{}: truncated capture file: {msg}", path.display())]
    Truncated {
        /// The file.
        path: PathBuf,
        /// libpcap's explanation.
        msg: String,
    },
    /// The interface could not be opened for capture.
    #[error("interface {iface}: cannot capture: {msg}")]
    BadInterface {
        /// The interface name.
        iface: String,
        /// libpcap's explanation.
        msg: String,
    },
    /// The BPF filter did not compile.
    #[error("capture filter {filter:?}: {msg}")]
    BadFilter {
        /// The filter expression.
        filter: String,
        /// libpcap's explanation.
        msg: String,
    },
    /// The link type is not one farhand decodes.
    #[error(
        "{source_name}: unsupported link type {dlt} ({name}); farhand decodes Ethernet (with VLAN tags and PPPoE), Linux cooked (SLL, SLL2), raw IP, BSD loopback, PPP, Cisco HDLC, NFLOG and 802.11 (radiotap)"
    )]
    UnsupportedLink {
        /// File or interface.
        source_name: String,
        /// libpcap link-type number.
        dlt: i32,
        /// libpcap's name for it.
        name: String,
    },
    /// The eBPF capture could not start (program, BTF, capabilities, interface).
    #[error("interface {iface}: cannot capture with eBPF: {msg}")]
    Ebpf {
        /// The interface name.
        iface: String,
        /// What is missing or failed.
        msg: String,
    },
    /// Reading failed after the capture was open.
    #[error("{source_name}: read error: {msg}")]
    Read {
        /// File or interface.
        source_name: String,
        /// libpcap's explanation.
        msg: String,
    },
}

/// Options for a live capture.
#[derive(Debug, Clone)]
pub struct LiveOptions {
    /// Bytes kept per frame.
    pub snaplen: i32,
    /// Put the interface in promiscuous mode.
    pub promiscuous: bool,
    /// Kernel buffer size in bytes.
    pub buffer_bytes: i32,
    /// BPF filter expression; empty = none.
    pub filter: String,
}

/// Whether the capture is a file or a live interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptureKind {
    /// An offline pcap/pcapng file.
    File,
    /// A live interface.
    Live,
}

/// Statistics a live capture's kernel buffer reports.
#[derive(Debug, Clone, Copy, Default)]
pub struct CaptureStats {
    /// Frames received by the filter.
    pub received: u64,
    /// Frames dropped because the buffer was full.
    pub dropped: u64,
    /// Frames dropped by the interface/driver.
    pub if_dropped: u64,
    /// The eBPF capture's kernel counters.
    pub kernel: Option<KernelCounters>,
}

/// The eBPF capture's kernel counters, summed over CPUs, in `farhand_ebpf_common::Counter`
/// order.
pub type KernelCounters = [u64; farhand_ebpf_common::COUNTERS as usize];

/// What the pipeline tells a capture about sessions, so a source that filters in the kernel
/// can send the packets their timing detectors need ([`Source::session_tap`]).
pub trait SessionTap: Send + Sync {
    /// A detector claimed the flow: send its packets from now on.
    fn claim(&self, key: &farhand_model::FlowKey);
    /// The flow ended.
    fn release(&self, key: &farhand_model::FlowKey);
}

/// One step of [`Source::next_frame`].
#[derive(Debug)]
pub enum Next<'a> {
    /// A frame.
    Frame(RawFrame<'a>),
    /// A live capture's read timeout passed with no frame (time to run timers).
    Idle,
    /// End of file.
    End,
}

/// How far a source has read through its input, in bytes (files; see [`Source::progress`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Bytes of the input consumed so far (at most `total`).
    pub position: u64,
    /// Size of the input.
    pub total: u64,
}

/// Where frames enter the fast path: the one seam between a packet source (libpcap file or
/// interface today, the eBPF ring buffer later) and `pipeline::run`, which is generic over it.
///
/// # Contract
/// - **Borrowing.** [`next_frame`](Source::next_frame) hands out one frame at a time; its bytes
///   borrow the source's buffer until the next call (the borrow checker enforces it), so a
///   consumer copies whatever it keeps. Frames come in the order captured; timestamps are
///   [`Micros`] since the Unix epoch; every frame carries its [`LinkType`].
/// - **Idle.** [`Next::Idle`] means a live source has nothing queued *right now*. A source
///   must answer it at once rather than block, so the reader can run timers and notice a
///   stop request; the reader decides how long to wait before asking again. A file never
///   answers `Idle`.
/// - **End.** [`Next::End`]: no frame follows (end of file, or a live input that closed).
///   The reader stops asking.
/// - **Errors.** An `Err` is an input failure after the source was opened (truncated file,
///   interface gone); every frame before it was delivered and counts. The reader stops at
///   the first error and reports it (`RunSummary::input_error`). Errors name the input.
///   Opening a source, and refusing an undecodable link type, happen before the pipeline
///   runs, in the source's own constructor.
/// - **Kind.** [`kind`](Source::kind) decides the pipeline's loss policy: a
///   [`CaptureKind::File`] is read with back-pressure (nothing is lost, the fast path waits
///   for the reporting plane); a [`CaptureKind::Live`] source is never made to wait (a full
///   channel drops a findings batch and counts it).
/// - **Progress.** [`progress`](Source::progress) is `Some` for a file: `position` is how
///   many bytes of the input the source has consumed, `total` its size, `position <= total`,
///   and `position == total` once `End` was answered (a source that cannot tell documents its
///   approximation). It may run ahead of the last frame delivered by the source's read-ahead
///   (libpcap's stdio buffer). `None` for a live source. It may cost a system call: the
///   reader asks every few thousand frames, never per frame.
/// - **Stats.** [`stats`](Source::stats) are the kernel's counters of a live capture (frames
///   received, dropped by a full buffer, dropped by the interface), read at the end of a run;
///   zero for a file.
pub trait Source {
    /// The next frame, or `Idle`/`End`; see the trait's contract.
    fn next_frame(&mut self) -> Result<Next<'_>, CaptureError>;

    /// File or live: chooses back-pressure or drop-and-count.
    fn kind(&self) -> CaptureKind;

    /// The file path or "interface NAME", for messages.
    fn name(&self) -> &str;

    /// Bytes consumed and total for a file; `None` for a live source.
    fn progress(&self) -> Option<Progress>;

    /// Kernel counters of a live capture (zero for a file).
    fn stats(&mut self) -> CaptureStats;

    /// Where the pipeline reports the sessions its detectors claim and the flows that end, for
    /// a source that chooses in the kernel which packets to send (the eBPF capture); `None`
    /// (the default) for a source that sends every packet.
    fn session_tap(&self) -> Option<std::sync::Arc<dyn SessionTap>> {
        None
    }
}
