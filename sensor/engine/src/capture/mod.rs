//! Capture: where frames come from.
//!
//! # Contract
//! - [`Capture`] yields [`RawFrame`]s, one at a time, borrowing libpcap's buffer until the
//!   next call. Offline files (pcap and pcapng, anything libpcap reads) and live interfaces
//!   (libpcap, optional BPF filter) share one type.
//! - Only link types farhand can decode are accepted ([`LinkType`]); any other is refused at
//!   open time with an error naming it, never mid-stream.
//! - Every failure is a [`CaptureError`] that names the file or interface and what went
//!   wrong. A file that ends mid-record (truncated) is reported as
//!   [`CaptureError::Truncated`] after the frames before it were delivered.
//! - Timestamps are microseconds since the Unix epoch ([`Micros`]).

use farhand_model::Micros;
use std::path::{Path, PathBuf};

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
        "{source_name}: unsupported link type {dlt} ({name}); farhand decodes Ethernet, Linux cooked (SLL, SLL2), raw IP and BSD loopback"
    )]
    UnsupportedLink {
        /// File or interface.
        source_name: String,
        /// libpcap link-type number.
        dlt: i32,
        /// libpcap's name for it.
        name: String,
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
}

/// An open capture: a file or an interface.
pub struct Capture {
    inner: pcap::Capture<dyn pcap::Activated>,
    link: LinkType,
    kind: CaptureKind,
    name: String,
    path: Option<PathBuf>,
    file_len: u64,
}

/// One step of [`Capture::next_frame`].
#[derive(Debug)]
pub enum Next<'a> {
    /// A frame.
    Frame(RawFrame<'a>),
    /// A live capture's read timeout passed with no frame (time to run timers).
    Idle,
    /// End of file.
    End,
}

impl Capture {
    /// Opens a pcap or pcapng file.
    pub fn open_file(path: &Path) -> Result<Capture, CaptureError> {
        let meta = std::fs::metadata(path).map_err(|_| CaptureError::NoSuchFile(path.to_path_buf()))?;
        if meta.is_dir() {
            return Err(CaptureError::BadFile { path: path.to_path_buf(), msg: "is a directory".into() });
        }
        let cap = pcap::Capture::from_file(path)
            .map_err(|e| CaptureError::BadFile { path: path.to_path_buf(), msg: pcap_msg(&e) })?;
        let name = path.display().to_string();
        let link = check_link(&name, cap.get_datalink())?;
        Ok(Capture {
            inner: cap.into(),
            link,
            kind: CaptureKind::File,
            name,
            path: Some(path.to_path_buf()),
            file_len: meta.len(),
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
        Ok(Capture { inner: cap.into(), link, kind: CaptureKind::Live, name, path: None, file_len: 0 })
    }

    /// File or live.
    pub fn kind(&self) -> CaptureKind {
        self.kind
    }

    /// The file path or "interface NAME", for messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Size of the file in bytes (0 for live captures).
    pub fn file_len(&self) -> u64 {
        self.file_len
    }

    /// The link type of every frame of this capture.
    pub fn link(&self) -> LinkType {
        self.link
    }

    /// Applies a BPF filter to an offline file.
    pub fn set_filter(&mut self, filter: &str) -> Result<(), CaptureError> {
        self.inner
            .filter(filter, true)
            .map_err(|e| CaptureError::BadFilter { filter: filter.to_string(), msg: pcap_msg(&e) })
    }

    /// Reads the next frame.
    pub fn next_frame(&mut self) -> Result<Next<'_>, CaptureError> {
        match self.inner.next_packet() {
            Ok(p) => {
                let h = p.header;
                let sec = u64::try_from(h.ts.tv_sec).unwrap_or(0);
                let usec = u64::try_from(h.ts.tv_usec).unwrap_or(0);
                Ok(Next::Frame(RawFrame {
                    ts: sec.saturating_mul(1_000_000).saturating_add(usec),
                    link: self.link,
                    wire_len: h.len,
                    data: p.data,
                }))
            }
            Err(pcap::Error::NoMorePackets) => Ok(Next::End),
            Err(pcap::Error::TimeoutExpired) => Ok(Next::Idle),
            Err(e) => {
                let msg = pcap_msg(&e);
                match &self.path {
                    Some(path) if msg.contains("truncated") => Err(CaptureError::Truncated { path: path.clone(), msg }),
                    _ => Err(CaptureError::Read { source_name: self.name.clone(), msg }),
                }
            }
        }
    }

    /// Kernel statistics of a live capture (zero for files).
    pub fn stats(&mut self) -> CaptureStats {
        if self.kind == CaptureKind::File {
            return CaptureStats::default();
        }
        match self.inner.stats() {
            Ok(s) => CaptureStats {
                received: u64::from(s.received),
                dropped: u64::from(s.dropped),
                if_dropped: u64::from(s.if_dropped),
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
