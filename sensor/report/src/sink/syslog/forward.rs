//! Syslog forwarding: alerts rendered as RFC 5424 or CEF messages, queued in a durable spool
//! and sent by a background task over UDP (RFC 5426), TCP (RFC 6587 octet counting) or TLS
//! (RFC 5425).
//!
//! ```text
//! emit (any thread) ─► render ─► Spool (disk or memory, bounded) ─► sender task (tokio) ─► collector
//!                                    ▲                                   │
//!                                    └──────── ack (delivered) ──────────┘
//! ```
//!
//! # Contract
//! - [`Sink::emit`] renders and queues; it never waits for the network. A message that does
//!   not fit the spool's bound is dropped and counted ([`OutputStats::overflow`]).
//! - Messages leave in the order queued; messages spooled by an earlier run go first.
//! - A message leaves the spool only once the transport accepted it:
//!   - TCP: when the kernel's count of octets the peer has not acknowledged (Linux
//!     `SIOCOUTQ`) shows the peer's TCP stack acknowledged all of its octets;
//!   - TLS: when the underlying socket's unacknowledged count reads 0 after the message was
//!     written and flushed (conservative: acknowledgement waits for a quiet moment);
//!   - UDP: when the datagram was handed to the kernel (no better is possible: a datagram
//!     sent while the collector is down is lost).
//!
//!   A TCP or TLS acknowledgement only says the collector's kernel holds the octets: a
//!   collector that stops closes its socket with whatever it had not read yet, and those
//!   messages are gone. So a message acknowledged by TCP leaves the spool only once the
//!   connection has stayed up for [`SETTLE`] after it, or once the collector answered
//!   farhand's own close with its close (it read everything up to farhand's end of stream:
//!   how [`SyslogOutput::drain`] finishes without waiting out the window).
//!
//!   When a connection breaks, whatever was written and not yet settled is sent again on
//!   the next one (counted in [`OutputStats::resent`]): at least once at that boundary, so
//!   a collector may see a message twice. A collector that stalls longer than [`SETTLE`]
//!   with unread octets and then dies still loses them; only an application-level
//!   acknowledgement could tell.
//! - Connections are retried with a back-off of 100 ms doubling to 5 s; a collector that
//!   cannot be reached leaves the messages in the spool.
//! - [`SyslogOutput::drain`] waits at most its timeout; what is not delivered stays in the
//!   spool (on disk: sent first by the next run or by [`flush_spool`]).
//! - Never panics; configuration errors are one line (`"<what>: <what went wrong>"`).

use super::spool::{DEFAULT_MAX_BYTES, Spool};
use super::tls::{TlsFiles, client_config, server_name};
use super::{Sender, cef, rfc5424, syslog_severity, timestamp};
use crate::sink::Sink;
use crate::verdict::Alert;
use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use sha2::{Digest, Sha256};
use std::collections::VecDeque;
use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::runtime::Handle;
use tokio::sync::{Notify, watch};

/// The longest target URL [`Target::parse`] accepts.
pub const MAX_URL: usize = 300;
/// The default `max_octets` of a UDP output (RFC 5426 §3.2: receivers should take 2048).
pub const UDP_MAX_OCTETS: usize = 2048;
/// The first back-off after a failed or broken connection.
pub const MIN_BACKOFF: Duration = Duration::from_millis(100);
/// The longest back-off.
pub const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How long a connection (with its TLS handshake) may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How often the unacknowledged count is polled while messages are in flight.
const ACK_POLL: Duration = Duration::from_millis(10);
/// How long a connection must stay up after TCP acknowledged a message before the message
/// leaves the spool (see the contract above): longer than a collector takes from its last
/// read to closing its socket when it stops.
pub const SETTLE: Duration = Duration::from_secs(1);
/// How long a closing sender waits for the collector's answering close.
const CLOSE_WAIT: Duration = Duration::from_millis(500);
/// How long stopping waits for the sender task.
const STOP_WAIT: Duration = Duration::from_secs(5);
/// Messages (and octets) the sender takes from the spool at a time.
const BATCH_MSGS: usize = 256;
const BATCH_BYTES: usize = 64 << 10;

/// The transport of a syslog target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// RFC 5426: one message per datagram.
    Udp,
    /// RFC 6587: octet-counted messages over TCP.
    Tcp,
    /// RFC 5425: octet-counted messages over TLS.
    Tls,
}

impl Transport {
    /// The URL scheme (`udp`, `tcp`, `tls`).
    pub fn scheme(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
            Transport::Tls => "tls",
        }
    }

    /// The port used when the URL names none: 514 (UDP, TCP), 6514 (TLS, RFC 5425).
    pub fn default_port(self) -> u16 {
        match self {
            Transport::Udp | Transport::Tcp => 514,
            Transport::Tls => 6514,
        }
    }
}

/// Where an output sends: `udp://HOST[:PORT]`, `tcp://HOST[:PORT]` or `tls://HOST[:PORT]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    /// The transport.
    pub transport: Transport,
    /// Host name (lower case), IPv4 address, or IPv6 address (without brackets).
    pub host: String,
    /// The port.
    pub port: u16,
}

/// At most 60 characters of hostile input, quoted, for an error line.
fn shown(s: &str) -> String {
    let cut: String = s.chars().take(60).collect();
    if cut.len() < s.len() { format!("{cut:?}…") } else { format!("{cut:?}") }
}

/// Whether `h` is a DNS host name: dot-separated labels of 1–63 letters, digits, `-`, `_`,
/// 253 octets at most.
fn host_name_ok(h: &str) -> bool {
    h.len() <= 253
        && h.split('.').all(|l| {
            !l.is_empty() && l.len() <= 63 && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

impl Target {
    /// Parses a target URL (`tls://[::1]:6514`, `tcp://siem.example.org`, ...). The scheme is
    /// case-insensitive; a missing port is the transport's default; one trailing `/` is
    /// allowed. Errors are one line quoting (at most 60 characters of) the input.
    pub fn parse(url: &str) -> Result<Target, String> {
        let bad = |why: &str| format!("syslog target {}: {why}", shown(url));
        if url.len() > MAX_URL {
            return Err(bad(&format!("longer than {MAX_URL} octets")));
        }
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| bad("expected udp://HOST[:PORT], tcp://HOST[:PORT] or tls://HOST[:PORT]"))?;
        let transport = match scheme.to_ascii_lowercase().as_str() {
            "udp" => Transport::Udp,
            "tcp" => Transport::Tcp,
            "tls" => Transport::Tls,
            _ => return Err(bad("unknown scheme (expected udp, tcp or tls)")),
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains(['/', '@', '?', '#']) || rest.chars().any(char::is_whitespace) {
            return Err(bad("only HOST[:PORT] may follow the scheme (no path, user, query or spaces)"));
        }
        let (host, port) = if let Some(r) = rest.strip_prefix('[') {
            let (h, after) = r.split_once(']').ok_or_else(|| bad("unclosed '[' of an IPv6 address"))?;
            let ip: Ipv6Addr = h.parse().map_err(|_| bad("not an IPv6 address inside [ ]"))?;
            let port = match after {
                "" => None,
                a => Some(a.strip_prefix(':').ok_or_else(|| bad("expected ':PORT' after ']'"))?),
            };
            (ip.to_string(), port)
        } else {
            let (h, port) = match rest.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (rest, None),
            };
            if port.is_some_and(|p| p.contains(':')) {
                return Err(bad("an IPv6 address must be written in brackets, as [::1]:6514"));
            }
            if h.is_empty() {
                return Err(bad("missing host"));
            }
            let host = match h.parse::<IpAddr>() {
                Ok(ip) => ip.to_string(),
                Err(_) if host_name_ok(h) => h.to_ascii_lowercase(),
                Err(_) => return Err(bad("bad host name")),
            };
            (host, port)
        };
        let port = match port {
            None => transport.default_port(),
            Some("") => return Err(bad("missing port after ':'")),
            Some(p) => match p.parse::<u16>() {
                Ok(n) if n > 0 && p.bytes().all(|b| b.is_ascii_digit()) => n,
                _ => return Err(bad("port must be a number from 1 to 65535")),
            },
        };
        Ok(Target { transport, host, port })
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = self.transport.scheme();
        if self.host.contains(':') {
            write!(f, "{scheme}://[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{scheme}://{}:{}", self.host, self.port)
        }
    }
}

/// The message format of an output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Format {
    /// RFC 5424 with farhand's structured data ([`rfc5424()`]).
    #[default]
    Rfc5424,
    /// A CEF record as the MSG of an RFC 5424 message ([`cef_syslog`]).
    Cef,
}

impl Format {
    /// Parses `rfc5424` or `cef` (case-insensitive).
    pub fn parse(s: &str) -> Result<Format, String> {
        match s.to_ascii_lowercase().as_str() {
            "rfc5424" => Ok(Format::Rfc5424),
            "cef" => Ok(Format::Cef),
            _ => Err(format!("syslog format {}: expected rfc5424 or cef", shown(s))),
        }
    }

    /// `rfc5424` or `cef`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Rfc5424 => "rfc5424",
            Format::Cef => "cef",
        }
    }
}

/// One syslog output's configuration.
#[derive(Debug, Clone)]
pub struct OutputConfig {
    /// Where to send.
    pub target: Target,
    /// What to send.
    pub format: Format,
    /// Header fields; for UDP an unset `max_octets` becomes [`UDP_MAX_OCTETS`].
    pub sender: Sender,
    /// The PEM files of a `tls://` target (required there, ignored elsewhere).
    pub tls: Option<TlsFiles>,
}

impl OutputConfig {
    /// `target` in `format`, with the default sender and no TLS files.
    pub fn new(target: Target, format: Format) -> OutputConfig {
        OutputConfig { target, format, sender: Sender::default(), tls: None }
    }
}

/// Where outputs queue their messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpoolConfig {
    /// The spool directory (one sub-directory per output, see [`spool_dir_name`]); `None`
    /// queues in memory (lost at exit).
    pub dir: Option<PathBuf>,
    /// The bound of each output's backlog, in octets (default 256 MiB).
    pub max_bytes: u64,
}

impl Default for SpoolConfig {
    fn default() -> SpoolConfig {
        SpoolConfig { dir: None, max_bytes: DEFAULT_MAX_BYTES }
    }
}

/// The name of an output's spool directory: target and format with every character other
/// than ASCII letters, digits, `.` and `-` replaced by `_` (cut to 200 characters), then `-`
/// and 8 hex digits of the SHA-256 of `TARGET FORMAT`, so distinct outputs never share one.
pub fn spool_dir_name(target: &Target, format: Format) -> String {
    let plain = format!("{}_{}_{}_{}", target.transport.scheme(), target.host, target.port, format.name());
    let safe: String = plain
        .chars()
        .take(200)
        .map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '_' })
        .collect();
    let digest = Sha256::digest(format!("{target} {}", format.name()).as_bytes());
    let hex: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    format!("{safe}-{hex}")
}

/// A header field as RFC 5424 writes it: printable US-ASCII (else `_`), at most `max`
/// octets, `-` when empty.
fn header_field(s: &str, max: usize) -> String {
    let v: String = s.chars().take(max).map(|c| if c.is_ascii_graphic() { c } else { '_' }).collect();
    if v.is_empty() { "-".to_string() } else { v }
}

/// The alert as a CEF record carried in an RFC 5424 message:
/// `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID cef - CEF:0|...` (MSGID `cef`, no structured
/// data, no byte-order mark so CEF readers see `CEF:0` first). PRI and TIMESTAMP as
/// [`rfc5424()`] writes them. With `max_octets` set, the record is cut (at a character
/// boundary, never leaving half of a `\` escape) so that the message fits.
pub fn cef_syslog(a: &Alert, s: &Sender) -> String {
    let (time, _) = timestamp(a.time);
    let pri = u16::from(s.facility.code()) * 8 + u16::from(syslog_severity(a.severity));
    let mut out = format!(
        "<{pri}>1 {time} {} {} {} cef - ",
        header_field(&s.hostname, super::rfc5424::MAX_HOSTNAME),
        header_field(&s.app_name, super::rfc5424::MAX_APP_NAME),
        header_field(&s.proc_id, super::rfc5424::MAX_PROCID),
    );
    let record = cef(a);
    let room = s.max_octets.map_or(usize::MAX, |m| m.saturating_sub(out.len()));
    if record.len() <= room {
        out.push_str(&record);
        return out;
    }
    let mut end = room;
    while !record.is_char_boundary(end) {
        end -= 1;
    }
    let mut cut = record.get(..end).unwrap_or_default();
    // An odd run of trailing backslashes ends in half an escape: drop its last one.
    if cut.bytes().rev().take_while(|&b| b == b'\\').count() % 2 == 1 {
        cut = cut.get(..cut.len() - 1).unwrap_or_default();
    }
    out.push_str(cut);
    out
}

/// An output's counters, cheap to read from any thread.
#[derive(Debug, Default)]
pub struct OutputStats {
    /// Messages queued (this run).
    pub queued: AtomicU64,
    /// Messages written to the socket (resends included).
    pub sent: AtomicU64,
    /// Messages acknowledged and removed from the spool.
    pub acked: AtomicU64,
    /// Messages written again after a connection broke before acknowledging them.
    pub resent: AtomicU64,
    /// Messages dropped because the spool was full (or the disk refused them).
    pub overflow: AtomicU64,
    /// Messages in the spool (in flight included).
    pub backlog: AtomicU64,
    /// Octets in the spool (8 octets of record header per message included).
    pub backlog_bytes: AtomicU64,
    /// Connections made after the first.
    pub reconnects: AtomicU64,
    /// Messages an earlier run left in the spool, found at start.
    pub recovered: AtomicU64,
    /// Damaged spool segments found at start, plus messages that could not be read back.
    pub damaged: AtomicU64,
    /// Whether a connection is up.
    pub connected: AtomicBool,
    last_error: Mutex<String>,
}

/// The counters of [`OutputStats`] at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// See [`OutputStats::queued`].
    pub queued: u64,
    /// See [`OutputStats::sent`].
    pub sent: u64,
    /// See [`OutputStats::acked`].
    pub acked: u64,
    /// See [`OutputStats::resent`].
    pub resent: u64,
    /// See [`OutputStats::overflow`].
    pub overflow: u64,
    /// See [`OutputStats::backlog`].
    pub backlog: u64,
    /// See [`OutputStats::backlog_bytes`].
    pub backlog_bytes: u64,
    /// See [`OutputStats::reconnects`].
    pub reconnects: u64,
    /// See [`OutputStats::recovered`].
    pub recovered: u64,
    /// See [`OutputStats::damaged`].
    pub damaged: u64,
    /// See [`OutputStats::connected`].
    pub connected: bool,
    /// See [`OutputStats::last_error`].
    pub last_error: String,
}

impl OutputStats {
    /// The last error (connection, TLS, disk), empty when none happened.
    pub fn last_error(&self) -> String {
        self.last_error.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn set_error(&self, e: &str) {
        tracing::debug!("syslog output: {e}");
        *self.last_error.lock().unwrap_or_else(PoisonError::into_inner) = e.to_string();
    }

    /// Every counter, read now.
    pub fn snapshot(&self) -> StatsSnapshot {
        let r = |a: &AtomicU64| a.load(Ordering::Relaxed);
        StatsSnapshot {
            queued: r(&self.queued),
            sent: r(&self.sent),
            acked: r(&self.acked),
            resent: r(&self.resent),
            overflow: r(&self.overflow),
            backlog: r(&self.backlog),
            backlog_bytes: r(&self.backlog_bytes),
            reconnects: r(&self.reconnects),
            recovered: r(&self.recovered),
            damaged: r(&self.damaged),
            connected: self.connected.load(Ordering::Relaxed),
            last_error: self.last_error(),
        }
    }
}

/// What [`SyslogOutput::drain`] achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DrainResult {
    /// Whether the whole backlog was acknowledged in time.
    pub delivered_all: bool,
    /// Messages left in the spool.
    pub left: u64,
}

/// What the emitting side and the sender task share.
struct Shared {
    spool: Mutex<Spool>,
    notify: Notify,
    stats: Arc<OutputStats>,
    stop: watch::Sender<bool>,
    /// Messages the transport acknowledged that wait out [`SETTLE`] (still in the spool).
    settling: AtomicU64,
}

/// Set once the sender task has ended and let go of the spool.
#[derive(Default)]
struct Done {
    flag: Mutex<bool>,
    cv: Condvar,
}

impl Shared {
    fn spool(&self) -> MutexGuard<'_, Spool> {
        self.spool.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn publish(&self, sp: &Spool) {
        self.stats.backlog.store(sp.len(), Ordering::Relaxed);
        self.stats.backlog_bytes.store(sp.bytes(), Ordering::Relaxed);
    }

    /// Acknowledges every message below index `end`; a due checkpoint is written without
    /// holding the spool.
    fn ack(&self, end: u64) {
        let checkpoint = {
            let mut sp = self.spool();
            let before = sp.head();
            let cp = sp.ack(end);
            self.stats.acked.fetch_add(sp.head() - before, Ordering::Relaxed);
            self.publish(&sp);
            cp
        };
        match checkpoint.map(|c| c.write()) {
            Some(Ok(pos)) => self.spool().checkpointed(pos),
            Some(Err(e)) => self.stats.set_error(&e),
            None => {}
        }
    }

    fn stopping(&self) -> bool {
        *self.stop.borrow()
    }
}

/// Marks the sender task finished when dropped: after the task (and its hold on the spool)
/// is gone, whether it returned or was dropped with its runtime.
struct DoneGuard(Arc<Done>);

impl Drop for DoneGuard {
    fn drop(&mut self) {
        *self.0.flag.lock().unwrap_or_else(PoisonError::into_inner) = true;
        self.0.cv.notify_all();
    }
}

/// How the sender task reaches the collector.
struct Link {
    target: Target,
    tls: Option<(Arc<ClientConfig>, ServerName<'static>)>,
}

/// An open connection.
enum Conn {
    Udp(UdpSocket),
    Tcp(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

/// Octets written to TCP socket `fd` that the peer has not acknowledged yet (Linux
/// `SIOCOUTQ`: unsent plus sent-but-unacknowledged), `None` when the kernel does not say.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn unacked(fd: std::os::fd::RawFd) -> Option<u32> {
    use std::ffi::{c_int, c_ulong};
    unsafe extern "C" {
        fn ioctl(fd: c_int, request: c_ulong, ...) -> c_int;
    }
    const SIOCOUTQ: c_ulong = 0x5411;
    let mut n: c_int = 0;
    // SAFETY: `fd` is the descriptor of a TCP socket owned by a live tokio stream borrowed by
    // the caller; SIOCOUTQ writes exactly one `int` through the pointer, which points at the
    // local `n` valid for the whole call; no other memory is touched.
    let r = unsafe { ioctl(fd, SIOCOUTQ, &mut n as *mut c_int) };
    if r == 0 { u32::try_from(n).ok() } else { None }
}

/// Elsewhere the kernel's count is not read: octets count as acknowledged once written.
#[cfg(not(target_os = "linux"))]
fn unacked(_fd: i32) -> Option<u32> {
    Some(0)
}

impl Conn {
    /// The underlying socket's unacknowledged octets (TCP and TLS).
    fn unacked(&self) -> Option<u32> {
        use std::os::fd::AsRawFd;
        match self {
            Conn::Udp(_) => Some(0),
            Conn::Tcp(s) => unacked(s.as_raw_fd()),
            Conn::Tls(s) => unacked(s.get_ref().0.as_raw_fd()),
        }
    }
}

async fn connect(link: &Link) -> Result<Conn, String> {
    let t = &link.target;
    let addrs: Vec<_> = tokio::net::lookup_host((t.host.as_str(), t.port))
        .await
        .map_err(|e| format!("{t}: cannot resolve host: {e}"))?
        .collect();
    let mut last = format!("{t}: host has no address");
    for addr in addrs {
        let res = match t.transport {
            Transport::Udp => {
                let local = if addr.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" };
                match UdpSocket::bind(local).await {
                    Ok(s) => s.connect(addr).await.map(|_| Conn::Udp(s)),
                    Err(e) => Err(e),
                }
            }
            Transport::Tcp | Transport::Tls => match TcpStream::connect(addr).await {
                Ok(s) => {
                    let _ = s.set_nodelay(true);
                    match &link.tls {
                        None => Ok(Conn::Tcp(s)),
                        Some((config, name)) => {
                            let connector = tokio_rustls::TlsConnector::from(config.clone());
                            match connector.connect(name.clone(), s).await {
                                Ok(tls) => Ok(Conn::Tls(Box::new(tls))),
                                Err(e) => {
                                    last = format!("{t}: TLS handshake with {addr}: {e}");
                                    continue;
                                }
                            }
                        }
                    }
                }
                Err(e) => Err(e),
            },
        };
        match res {
            Ok(c) => return Ok(c),
            Err(e) => last = format!("{t}: cannot connect to {addr}: {e}"),
        }
    }
    Err(last)
}

/// One connection's delivery state.
struct Session {
    /// Index of the next message to write.
    cursor: u64,
    /// Octets written on this connection (TCP: counted by the kernel's sequence numbers).
    written: u64,
    /// Messages written, not yet acknowledged: (index after the message, octets written
    /// through its end).
    inflight: VecDeque<(u64, u64)>,
    /// Messages the transport acknowledged, waiting out [`SETTLE`]: (index after the
    /// message, when the acknowledgement was seen).
    settling: VecDeque<(u64, Instant)>,
    /// Whether anything was acknowledged on this connection.
    acked_any: bool,
}

/// Why a session ended.
enum Ended {
    Stopped,
    Broken(String),
}

impl Session {
    /// Moves what the connection shows acknowledged to the settling queue, and takes out of
    /// the spool what settled.
    fn check_acks(&mut self, conn: &Conn, sh: &Shared) {
        let now = Instant::now();
        let mut end = None;
        match (conn, conn.unacked()) {
            (_, None) | (Conn::Tls(_), Some(1..)) => {}
            (Conn::Udp(_), Some(_)) => {
                // A datagram has nothing to settle: handed to the kernel is all there is.
                end = self.inflight.back().map(|f| f.0);
                self.inflight.clear();
            }
            (Conn::Tls(_), Some(0)) => {
                if let Some(&(idx_end, _)) = self.inflight.back() {
                    self.settling.push_back((idx_end, now));
                }
                self.inflight.clear();
            }
            (Conn::Tcp(_), Some(q)) => {
                let delivered = self.written.saturating_sub(u64::from(q));
                while let Some(&(idx_end, byte_end)) = self.inflight.front() {
                    if byte_end > delivered {
                        break;
                    }
                    self.settling.push_back((idx_end, now));
                    self.inflight.pop_front();
                }
            }
        }
        while let Some(&(idx_end, at)) = self.settling.front() {
            if now.duration_since(at) < SETTLE {
                break;
            }
            end = Some(idx_end);
            self.settling.pop_front();
        }
        self.publish_settling(sh);
        if let Some(end) = end {
            self.acked_any = true;
            sh.ack(end);
        }
    }

    /// Tells [`SyslogOutput::drain`] how many spooled messages only wait out [`SETTLE`].
    fn publish_settling(&self, sh: &Shared) {
        let head = sh.spool().head();
        let n = self.settling.back().map_or(0, |&(end, _)| end.saturating_sub(head));
        sh.settling.store(n, Ordering::Relaxed);
    }

    /// Closes the connection and, when the collector answers with its own close, takes
    /// everything written out of the spool: the collector read up to farhand's end of stream.
    /// Anything else (a reset, silence, a TCP queue not empty) leaves it for the next run.
    async fn close(&mut self, conn: &mut Conn, sh: &Shared) {
        self.check_acks(conn, sh);
        let confirmed = tokio::time::timeout(CLOSE_WAIT, async {
            let shut = match conn {
                Conn::Udp(_) => return false,
                Conn::Tcp(s) => s.shutdown().await,
                Conn::Tls(s) => s.shutdown().await,
            };
            if shut.is_err() {
                return false;
            }
            let mut scratch = [0u8; 512];
            loop {
                let r = match conn {
                    Conn::Udp(_) => return false,
                    Conn::Tcp(s) => s.read(&mut scratch).await,
                    Conn::Tls(s) => s.read(&mut scratch).await,
                };
                match r {
                    // A TLS collector may close without its close_notify: its FIN still
                    // answers farhand's.
                    Ok(0) => return true,
                    Err(e) => return e.kind() == std::io::ErrorKind::UnexpectedEof,
                    Ok(_) => {}
                }
            }
        })
        .await
        .unwrap_or(false);
        if confirmed && conn.unacked() == Some(0) {
            // Everything written (in flight comes after settling; settling is cleared below).
            let last = self.inflight.back().map(|f| f.0).max(self.settling.back().map(|f| f.0));
            self.inflight.clear();
            if let Some(end) = last {
                self.acked_any = true;
                sh.ack(end);
            }
        }
        self.settling.clear();
        sh.settling.store(0, Ordering::Relaxed);
    }

    /// Writes `buf`, counting what the kernel took.
    async fn write(&mut self, conn: &mut Conn, buf: &[u8]) -> std::io::Result<()> {
        match conn {
            Conn::Udp(s) => s.send(buf).await.map(|_| ()),
            Conn::Tcp(s) => {
                let mut pos = 0;
                while let Some(rest) = buf.get(pos..).filter(|r| !r.is_empty()) {
                    let n = s.write(rest).await?;
                    if n == 0 {
                        return Err(std::io::ErrorKind::WriteZero.into());
                    }
                    pos += n;
                    self.written += n as u64;
                }
                Ok(())
            }
            Conn::Tls(s) => {
                s.write_all(buf).await?;
                s.flush().await?;
                self.written += buf.len() as u64;
                Ok(())
            }
        }
    }

    /// Waits for new messages, a stop, the next acknowledgement poll or the collector
    /// closing the connection.
    async fn idle(&mut self, conn: &mut Conn, sh: &Shared, stop: &mut watch::Receiver<bool>) -> Result<(), String> {
        let poll = match (self.inflight.is_empty(), self.settling.front()) {
            (false, _) => ACK_POLL,
            (true, Some(&(_, at))) => SETTLE.saturating_sub(at.elapsed()).max(ACK_POLL),
            (true, None) => Duration::from_secs(1),
        };
        let mut scratch = [0u8; 512];
        let read = async {
            match conn {
                Conn::Udp(_) => std::future::pending().await,
                Conn::Tcp(s) => s.read(&mut scratch).await,
                Conn::Tls(s) => s.read(&mut scratch).await,
            }
        };
        tokio::select! {
            _ = sh.notify.notified() => Ok(()),
            _ = tokio::time::sleep(poll) => Ok(()),
            _ = stop.wait_for(|&s| s) => Ok(()),
            r = read => match r {
                Ok(0) => Err("connection closed by the collector".to_string()),
                Ok(_) => Ok(()),
                Err(e) => Err(format!("connection failed: {e}")),
            },
        }
    }

    /// Delivers from the spool until the connection breaks or the task is told to stop.
    async fn run(
        &mut self,
        conn: &mut Conn,
        sh: &Shared,
        stop: &mut watch::Receiver<bool>,
        max_sent: &mut u64,
    ) -> Ended {
        let framed = !matches!(conn, Conn::Udp(_));
        loop {
            if sh.stopping() {
                self.close(conn, sh).await;
                return Ended::Stopped;
            }
            let batch = sh.spool().read(self.cursor, if framed { BATCH_MSGS } else { 1 }, BATCH_BYTES);
            if batch.is_empty() {
                self.check_acks(conn, sh);
                if let Err(e) = self.idle(conn, sh, stop).await {
                    return Ended::Broken(e);
                }
                continue;
            }
            let mut buf = Vec::with_capacity(BATCH_BYTES + 1024);
            let mut ends = Vec::with_capacity(batch.len());
            for (idx, msg) in batch {
                match msg {
                    Ok(m) if framed => {
                        buf.extend_from_slice(m.len().to_string().as_bytes());
                        buf.push(b' ');
                        buf.extend_from_slice(&m);
                    }
                    Ok(m) => buf = m,
                    Err(e) => {
                        // Unreadable from disk: passed over (acknowledged with the others).
                        sh.stats.damaged.fetch_add(1, Ordering::Relaxed);
                        sh.stats.set_error(&e);
                    }
                }
                ends.push((idx + 1, self.written + buf.len() as u64));
            }
            let Some(&(next, _)) = ends.last() else { continue };
            // TCP counts octets, so positions are known before writing; TLS and UDP
            // acknowledge only what was written whole.
            let is_tcp = matches!(conn, Conn::Tcp(_));
            if is_tcp {
                self.inflight.extend(ends.iter().copied());
            }
            let wrote = if buf.is_empty() { Ok(()) } else { self.write(conn, &buf).await };
            if let Err(e) = wrote {
                return Ended::Broken(format!("write failed: {e}"));
            }
            if !is_tcp {
                self.inflight.extend(ends.iter().copied());
            }
            let first = self.cursor;
            let n = next - first;
            let again = max_sent.saturating_sub(first).min(n);
            sh.stats.sent.fetch_add(n, Ordering::Relaxed);
            sh.stats.resent.fetch_add(again, Ordering::Relaxed);
            *max_sent = (*max_sent).max(next);
            self.cursor = next;
            self.check_acks(conn, sh);
        }
    }
}

/// The sender task: connects, delivers, reconnects with back-off, until stopped.
async fn sender_task(sh: Arc<Shared>, link: Link, mut stop: watch::Receiver<bool>) {
    deliver(&sh, &link, &mut stop).await;
    sh.stats.connected.store(false, Ordering::Relaxed);
    if let Err(e) = sh.spool().sync() {
        sh.stats.set_error(&e);
    }
}

/// The sender task's loop, until told to stop.
async fn deliver(sh: &Arc<Shared>, link: &Link, stop: &mut watch::Receiver<bool>) {
    let mut backoff = MIN_BACKOFF;
    let mut connected_before = false;
    let mut max_sent = 0u64;
    loop {
        if sh.stopping() {
            break;
        }
        if sh.spool().is_empty() {
            tokio::select! {
                _ = sh.notify.notified() => {}
                _ = stop.wait_for(|&s| s) => {}
            }
            continue;
        }
        let conn = tokio::select! {
            r = tokio::time::timeout(CONNECT_TIMEOUT, connect(link)) => r,
            _ = stop.wait_for(|&s| s) => break,
        };
        match conn {
            Ok(Ok(mut conn)) => {
                if connected_before {
                    sh.stats.reconnects.fetch_add(1, Ordering::Relaxed);
                }
                connected_before = true;
                sh.stats.connected.store(true, Ordering::Relaxed);
                let mut session = Session {
                    cursor: sh.spool().head(),
                    written: 0,
                    inflight: VecDeque::new(),
                    settling: VecDeque::new(),
                    acked_any: false,
                };
                let ended = session.run(&mut conn, sh, stop, &mut max_sent).await;
                sh.settling.store(0, Ordering::Relaxed);
                sh.stats.connected.store(false, Ordering::Relaxed);
                if session.acked_any {
                    backoff = MIN_BACKOFF;
                }
                match ended {
                    Ended::Stopped => break,
                    Ended::Broken(e) => sh.stats.set_error(&format!("{}: {e}", link.target)),
                }
            }
            Ok(Err(e)) => sh.stats.set_error(&e),
            Err(_) => sh.stats.set_error(&format!("{}: connection timed out", link.target)),
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = stop.wait_for(|&s| s) => break,
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// One syslog output: a [`Sink`] that renders alerts, queues them in its spool and has a
/// background task deliver them.
pub struct SyslogOutput {
    shared: Arc<Shared>,
    done: Arc<Done>,
    target: Target,
    format: Format,
    sender: Sender,
    sequence: u64,
    written: u64,
}

impl fmt::Debug for SyslogOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SyslogOutput").field("target", &self.target).field("format", &self.format).finish()
    }
}

impl SyslogOutput {
    /// Opens the spool (recovering what an earlier run left) and starts the sending task on
    /// `rt`. Fails (one line) on unreadable TLS files, a `tls://` target without them, or a
    /// spool directory that cannot be opened or is in use.
    pub fn start(cfg: OutputConfig, spool: &SpoolConfig, rt: &Handle) -> Result<SyslogOutput, String> {
        let OutputConfig { target, format, mut sender, tls } = cfg;
        if target.transport == Transport::Udp && sender.max_octets.is_none() {
            sender.max_octets = Some(UDP_MAX_OCTETS);
        }
        let tls = match (target.transport, tls) {
            (Transport::Tls, Some(files)) => Some((client_config(&files)?, server_name(&files, &target.host)?)),
            (Transport::Tls, None) => return Err(format!("{target}: a tls:// target needs a CA file")),
            (_, Some(_)) => {
                tracing::warn!("{target}: TLS files ignored (not a tls:// target)");
                None
            }
            (_, None) => None,
        };
        let dir = spool.dir.as_ref().map(|d| d.join(spool_dir_name(&target, format)));
        let sp = Spool::open(dir.as_deref(), spool.max_bytes).map_err(|e| format!("{target}: {e}"))?;
        let stats = Arc::new(OutputStats::default());
        let rec = sp.recovery();
        stats.recovered.store(rec.messages, Ordering::Relaxed);
        stats.damaged.store(rec.damaged_segments, Ordering::Relaxed);
        let (stop, stop_rx) = watch::channel(false);
        let shared =
            Arc::new(Shared { spool: Mutex::new(sp), notify: Notify::new(), stats, stop, settling: AtomicU64::new(0) });
        shared.publish(&shared.spool());
        let link = Link { target: target.clone(), tls };
        let done = Arc::new(Done::default());
        let guard = DoneGuard(done.clone());
        let task = sender_task(shared.clone(), link, stop_rx);
        rt.spawn(async move {
            // The task (holding the spool) is dropped before the guard says it is done.
            task.await;
            drop(guard);
        });
        Ok(SyslogOutput { shared, done, target, format, sender, sequence: 0, written: 0 })
    }

    /// The output's counters (shared: keep the `Arc` to read them later).
    pub fn stats(&self) -> Arc<OutputStats> {
        self.shared.stats.clone()
    }

    /// Where the output sends.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// The output's format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// `TARGET FORMAT`, naming the output in reports.
    pub fn label(&self) -> String {
        format!("{} {}", self.target, self.format.name())
    }

    /// The message of alert `a` as this output sends it (advancing the sequence counter).
    fn render(&mut self, a: &Alert) -> String {
        self.sequence += 1;
        match self.format {
            Format::Rfc5424 => rfc5424(a, &self.sender, self.sequence),
            Format::Cef => cef_syslog(a, &self.sender),
        }
    }

    /// Waits up to `timeout` for the backlog to be acknowledged, then stops the task; what is
    /// left stays spooled. Call it from outside the runtime's worker threads (it blocks).
    pub fn drain(self, timeout: Duration) -> DrainResult {
        let deadline = Instant::now() + timeout;
        self.shared.notify.notify_one();
        loop {
            // What only waits out the settle window is confirmed by the close below.
            let left = self.shared.stats.backlog.load(Ordering::Relaxed);
            let settling = self.shared.settling.load(Ordering::Relaxed);
            let now = Instant::now();
            if left <= settling || now >= deadline || *self.done.flag.lock().unwrap_or_else(PoisonError::into_inner) {
                break;
            }
            std::thread::sleep(deadline.saturating_duration_since(now).min(Duration::from_millis(5)));
        }
        self.stop();
        let left = self.shared.spool().len();
        DrainResult { delivered_all: left == 0, left }
    }

    /// Tells the task to stop and waits (at most 5 s) for it to end.
    fn stop(&self) {
        self.shared.stop.send_replace(true);
        self.shared.notify.notify_one();
        let done = self.done.flag.lock().unwrap_or_else(PoisonError::into_inner);
        let waited = self.done.cv.wait_timeout_while(done, STOP_WAIT, |d| !*d);
        if waited.is_ok_and(|(_, t)| t.timed_out()) {
            tracing::warn!("{}: sender task did not stop within {STOP_WAIT:?}", self.target);
        }
    }
}

impl Drop for SyslogOutput {
    fn drop(&mut self) {
        self.stop();
        if let Err(e) = self.shared.spool().sync() {
            tracing::warn!("{e}");
        }
    }
}

impl Sink for SyslogOutput {
    /// Renders and queues each alert; never waits for the network. Alerts that do not fit
    /// the spool are dropped and counted; a disk error is returned after the whole batch was
    /// tried.
    fn emit(&mut self, batch: &[Alert]) -> std::io::Result<()> {
        let msgs: Vec<String> = batch.iter().map(|a| self.render(a)).collect();
        let mut first_err = None;
        let stats = &self.shared.stats;
        {
            let mut sp = self.shared.spool();
            for m in &msgs {
                match sp.push(m.as_bytes()) {
                    Ok(true) => {
                        stats.queued.fetch_add(1, Ordering::Relaxed);
                        self.written += 1;
                    }
                    Ok(false) => {
                        stats.overflow.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        stats.overflow.fetch_add(1, Ordering::Relaxed);
                        stats.set_error(&e);
                        first_err.get_or_insert(e);
                    }
                }
            }
            self.shared.publish(&sp);
        }
        self.shared.notify.notify_one();
        match first_err {
            Some(e) => Err(std::io::Error::other(e)),
            None => Ok(()),
        }
    }

    /// Makes the on-disk spool durable (fsync, acknowledged position persisted).
    fn flush(&mut self) -> std::io::Result<()> {
        self.shared.spool().sync().map_err(std::io::Error::other)
    }

    /// Messages queued by this output.
    fn written(&self) -> u64 {
        self.written
    }
}

/// Delivers what the spools of `cfgs` hold (`farhand spool flush`): opens each output's
/// spool, waits up to `timeout` (for all outputs together) and returns each output's label
/// (`TARGET FORMAT`) with what was left.
pub fn flush_spool(
    cfgs: Vec<OutputConfig>,
    spool: &SpoolConfig,
    timeout: Duration,
    rt: &Handle,
) -> Result<Vec<(String, DrainResult)>, String> {
    if spool.dir.is_none() {
        return Err("spool flush: no spool directory configured".to_string());
    }
    let deadline = Instant::now() + timeout;
    let outs = cfgs.into_iter().map(|c| SyslogOutput::start(c, spool, rt)).collect::<Result<Vec<_>, _>>()?;
    Ok(outs
        .into_iter()
        .map(|o| {
            let label = o.label();
            (label, o.drain(deadline.saturating_duration_since(Instant::now())))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::syslog::testutil::inbound;

    #[test]
    fn targets_parse() {
        let t = |s: &str| Target::parse(s).unwrap();
        assert_eq!(t("udp://127.0.0.1"), Target { transport: Transport::Udp, host: "127.0.0.1".into(), port: 514 });
        assert_eq!(t("tcp://Siem.Example.ORG:1514/").to_string(), "tcp://siem.example.org:1514");
        assert_eq!(t("TLS://[::1]:6514"), Target { transport: Transport::Tls, host: "::1".into(), port: 6514 });
        assert_eq!(t("tls://[::1]").port, 6514);
        assert_eq!(t("tls://[::1]").to_string(), "tls://[::1]:6514");
        assert_eq!(t("tcp://[0:0::1]:99").to_string(), "tcp://[::1]:99");
        assert_eq!(t("tcp://collector_1.lan:65535").port, 65535);
        for s in ["udp://127.0.0.1", "tcp://siem:1514", "tls://[2001:db8::5]:6514"] {
            assert_eq!(Target::parse(&t(s).to_string()).unwrap(), t(s), "{s}");
        }
    }

    #[test]
    fn bad_targets_are_one_line_errors() {
        let long_host = format!("tcp://{}:514", "a".repeat(10_000));
        let long_label = format!("tcp://{}.example:514", "a".repeat(64));
        for (bad, why) in [
            ("", "expected udp"),
            ("127.0.0.1:514", "expected udp"),
            ("http://x:80", "unknown scheme"),
            ("tcp://", "missing host"),
            ("tcp://:514", "missing host"),
            ("tcp://host:", "missing port"),
            ("tcp://host:0", "1 to 65535"),
            ("tcp://host:65536", "1 to 65535"),
            ("tcp://host:+5", "1 to 65535"),
            ("tcp://host:x", "1 to 65535"),
            ("tcp://::1:514", "brackets"),
            ("tcp://[::1", "unclosed"),
            ("tcp://[::1]x", "':PORT'"),
            ("tcp://[::1]:", "missing port"),
            ("tcp://[1.2.3.4]:5", "IPv6"),
            ("tcp://user@host:5", "only HOST"),
            ("tcp://host:5/path", "only HOST"),
            ("tcp://ho st:5", "only HOST"),
            ("tcp://h\u{e9}te:5", "bad host"),
            ("tcp://a..b:5", "bad host"),
            (long_host.as_str(), "longer than 300"),
            (long_label.as_str(), "bad host"),
        ] {
            let e = Target::parse(bad).unwrap_err();
            assert!(e.contains(why), "{bad:?}: {e}");
            assert!(!e.contains('\n') && e.len() < 200, "{e}");
        }
        assert!(Format::parse("CEF").is_ok() && Format::parse("json").is_err());
    }

    #[test]
    fn spool_dir_names_are_safe_and_distinct() {
        let a = spool_dir_name(&Target::parse("tls://[::1]:6514").unwrap(), Format::Rfc5424);
        let b = spool_dir_name(&Target::parse("tls://[::1]:6514").unwrap(), Format::Cef);
        let c = spool_dir_name(&Target::parse("tcp://[::1]:6514").unwrap(), Format::Rfc5424);
        assert!(a.starts_with("tls___1_6514_rfc5424-"), "{a}");
        assert!(a != b && a != c && b != c);
        let long = Target { transport: Transport::Tcp, host: "h".repeat(253), port: 1 };
        let n = spool_dir_name(&long, Format::Cef);
        assert!(n.len() <= 209 && n.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)), "{n}");
    }

    #[test]
    fn cef_rides_in_rfc5424_and_is_cut_cleanly() {
        let a = inbound();
        let s = Sender { hostname: "sensor-1".into(), ..Sender::default() };
        let line = cef_syslog(&a, &s);
        let m = syslog_rfc5424::parse_message(&line).unwrap();
        assert_eq!(m.msgid.as_deref(), Some("cef"));
        assert_eq!(m.appname.as_deref(), Some("farhand"));
        assert_eq!(m.hostname.as_deref(), Some("sensor-1"));
        assert!(m.sd.is_empty());
        assert_eq!(m.msg, cef(&a));
        assert!(line.contains(" - cef - CEF:0|farhand|"), "{line}");
        for max in [60, 100, 150, 200] {
            let mut b = inbound();
            b.message = "a\\b=c ".repeat(100);
            let cut = cef_syslog(&b, &Sender { max_octets: Some(max), ..s.clone() });
            assert!(cut.len() <= max, "{max}: {}", cut.len());
            let tail = cut.bytes().rev().take_while(|&c| c == b'\\').count();
            assert_eq!(tail % 2, 0, "{cut}");
        }
    }
}
