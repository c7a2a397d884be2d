//! The libpcap [`Source`]: offline files (pcap, pcapng) and live interfaces.
//!
//! A file's progress is the captured bytes delivered so far, which stays below the file's
//! size (headers are not counted): the progress bar finishes at the end of the run.

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
    /// Captured bytes delivered so far: the position in a file.
    delivered: u64,
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
            delivered: 0,
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
        Ok(Capture { inner: cap.into(), link, kind: CaptureKind::Live, name, path: None, file_len: 0, delivered: 0 })
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
}

impl Source for Capture {
    fn next_frame(&mut self) -> Result<Next<'_>, CaptureError> {
        match self.inner.next_packet() {
            Ok(p) => {
                let h = p.header;
                let sec = u64::try_from(h.ts.tv_sec).unwrap_or(0);
                let usec = u64::try_from(h.ts.tv_usec).unwrap_or(0);
                self.delivered += p.data.len() as u64;
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

    fn kind(&self) -> CaptureKind {
        self.kind
    }

    fn name(&self) -> &str {
        &self.name
    }

    /// The captured bytes delivered (see the module's doc).
    fn progress(&self) -> Option<Progress> {
        if self.kind != CaptureKind::File {
            return None;
        }
        Some(Progress { position: self.delivered.min(self.file_len), total: self.file_len })
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
