//! Metrics: the sensor's live counters as OpenMetrics text (Prometheus), read at scrape time,
//! and the small HTTP server that serves them (`[metrics] listen`).
//!
//! The fast path and the reporting plane publish their running totals into one shared
//! [`Live`] (see `farhand_model::counters`); [`Metrics`] reads it, and the syslog outputs'
//! counters through the closures given to [`Metrics::add_output`], each time it is scraped.
//! Nothing is sampled or cached in between.
//!
//! Families (counters carry the `_total` suffix, names are `farhand_<thing>_<unit>`):
//!
//! | family | type | labels |
//! |---|---|---|
//! | `farhand_build_info` | info | `version` |
//! | `farhand_packets_total`, `farhand_bytes_total` | counter | |
//! | `farhand_drops_total` | counter | `cause`: [`DROP_CAUSES`] |
//! | `farhand_flows_active` | gauge | |
//! | `farhand_flows_total`, `farhand_flow_evictions_total`, `farhand_flows_ended_total` | counter | |
//! | `farhand_sessions_total`, `farhand_findings_total` | counter | |
//! | `farhand_alerts_total` | counter | `kind`: every alert kind, 0 until raised |
//! | `farhand_output_{queued,delivered,dropped,reconnects}_total` | counter | `output` |
//! | `farhand_output_backlog_messages`, `farhand_spool_bytes` | gauge | `output` |
//! | `farhand_last_report_timestamp_seconds` | gauge | |
//!
//! # Contract
//! - [`Metrics::encode`] returns a complete OpenMetrics 1.0 text exposition ending in
//!   `# EOF`, rendered by `prometheus-client` from the figures as they are at that moment.
//!   Label values are escaped (`\`, `"`, line feed), so an output's name cannot break the
//!   exposition. Families without samples (no outputs registered) are left out.
//! - `farhand_drops_total{cause}` counts frames, except `crossing`: finding *batches* dropped
//!   because the reporting plane was behind (live captures).
//! - [`start`] binds synchronously: a bad or busy address is one error at start,
//!   `"metrics.listen ADDR: what went wrong"`; it returns the bound address (port 0 picks
//!   one) and serves on the given runtime from then on.
//! - The server speaks just enough HTTP/1.1: it reads a request head of at most
//!   [`MAX_HEAD`] bytes within [`HEAD_TIMEOUT`]; `GET` (or `HEAD`) `/metrics` answers 200
//!   with [`CONTENT_TYPE`], `/` a short pointer to `/metrics`; another method on those
//!   paths 405, any other path 404, a malformed head 400, a head too long 431, a head too
//!   slow 408. Every answer has `Content-Length` and `Connection: close`, and the
//!   connection closes after it. At most [`MAX_CONNECTIONS`] are served at once; further
//!   clients wait in the listen backlog.
//! - Nothing here panics on what a client sends: the request parser reads only through
//!   checked slicing, and any byte sequence gets an answer or a closed connection.

use crate::verdict::{Alert, AlertKind};
use farhand_model::counters::Live;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, MetricEncoder};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The `Content-Type` of the `/metrics` answer.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// The longest request head read (request line and headers), bytes; longer gets 431.
pub const MAX_HEAD: usize = 8 * 1024;
/// How long a client has to send its request head; slower gets 408.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(5);
/// How long writing the answer may take before the connection is dropped.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections served at once.
pub const MAX_CONNECTIONS: usize = 32;
/// The `cause` label values of `farhand_drops_total`, in the order they are written.
pub const DROP_CAUSES: [&str; 9] =
    ["capture", "interface", "crossing", "flow_table", "non_ip", "other_ip", "fragment", "truncated", "malformed"];

/// After an answer, how long and how much of what the client still sends is read and thrown
/// away before closing (closing on unread bytes would reset the connection and could destroy
/// the answer in flight).
const LINGER: Duration = Duration::from_secs(1);
const LINGER_BYTES: usize = 64 * 1024;

/// One syslog output's counters as its closure reports them at scrape time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutputGauge {
    /// Messages accepted for sending (counter).
    pub queued: u64,
    /// Messages the receiver has (sent, or acknowledged where the transport says so).
    pub delivered: u64,
    /// Messages given up on (queue full, spool full, unrecoverable errors).
    pub dropped: u64,
    /// Messages waiting: in memory and spooled (gauge).
    pub backlog_messages: u64,
    /// Bytes of the on-disk spool (gauge; `farhand_spool_bytes`).
    pub backlog_bytes: u64,
    /// Connections re-established after a failure (counter).
    pub reconnects: u64,
}

/// One family per output figure: (name, help, type, the figure), in the order written.
type OutputFamily = (&'static str, &'static str, MetricType, fn(&OutputGauge) -> u64);

/// The families every registered output has a sample in (label `output`).
const OUTPUT_FAMILIES: [OutputFamily; 6] = [
    ("farhand_output_queued", "Messages accepted for sending.", MetricType::Counter, |o| o.queued),
    ("farhand_output_delivered", "Messages delivered to the receiver.", MetricType::Counter, |o| o.delivered),
    ("farhand_output_dropped", "Messages given up on.", MetricType::Counter, |o| o.dropped),
    ("farhand_output_backlog_messages", "Messages waiting, in memory and spooled.", MetricType::Gauge, |o| {
        o.backlog_messages
    }),
    ("farhand_spool_bytes", "Bytes of the on-disk spool.", MetricType::Gauge, |o| o.backlog_bytes),
    ("farhand_output_reconnects", "Connections re-established after a failure.", MetricType::Counter, |o| o.reconnects),
];

/// A registered output's counters, asked at scrape time.
type OutputSource = Arc<dyn Fn() -> OutputGauge + Send + Sync>;
/// The registered outputs, by label.
type Outputs = Arc<Mutex<Vec<(String, OutputSource)>>>;

/// The metrics of one sensor: the live counters plus the outputs' sources, and the
/// registry that renders them.
pub struct Metrics {
    live: Arc<Live>,
    outputs: Outputs,
    registry: Registry,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").field("live", &self.live).finish_non_exhaustive()
    }
}

impl Metrics {
    /// Metrics reading `live`, with `farhand_build_info` of this build's version.
    pub fn new(live: Arc<Live>) -> Metrics {
        let outputs: Outputs = Arc::default();
        let mut registry = Registry::default();
        registry.register(
            "farhand_build",
            "The farhand build running",
            Info::new(vec![("version".to_string(), env!("CARGO_PKG_VERSION").to_string())]),
        );
        registry.register_collector(Box::new(Scrape { live: live.clone(), outputs: outputs.clone() }));
        Metrics { live, outputs, registry }
    }

    /// The live counters this reads (the same `Arc` the fast path and the reporting plane
    /// publish into).
    pub fn live(&self) -> &Arc<Live> {
        &self.live
    }

    /// Registers an output (label `output="name"`, e.g. `tcp://siem:6514`) whose counters
    /// `f` reports at every scrape. `f` should be quick: it runs on the scrape.
    pub fn add_output(&self, name: String, f: Box<dyn Fn() -> OutputGauge + Send + Sync>) {
        lock(&self.outputs).push((name, Arc::from(f)));
    }

    /// The OpenMetrics text exposition of every figure now.
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(4096);
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            // Writing to a String does not fail; the collector reports no error either.
            tracing::warn!("metrics: encoding failed: {e}");
        }
        out
    }
}

/// Counts `alerts` by kind into the live counters (`farhand_alerts_total`).
pub fn record_alerts(live: &Live, alerts: &[Alert]) {
    if !alerts.is_empty() {
        live.count_alerts(alerts.iter().map(|a| a.kind.name()));
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A label value as the exposition format wants it: `\`, `"` and line feeds escaped.
fn escape_label(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// The collector: reads the atomics and the outputs on every scrape.
struct Scrape {
    live: Arc<Live>,
    outputs: Outputs,
}

impl std::fmt::Debug for Scrape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scrape").finish_non_exhaustive()
    }
}

/// `v` as one sample of a `kind` metric: a gauge, else a counter.
fn sample(kind: MetricType, v: u64, enc: MetricEncoder<'_>) -> std::fmt::Result {
    match kind {
        MetricType::Gauge => ConstGauge::new(v).encode(enc),
        _ => ConstCounter::new(v).encode(enc),
    }
}

fn counter(enc: &mut DescriptorEncoder, name: &str, help: &str, v: u64) -> std::fmt::Result {
    let kind = MetricType::Counter;
    sample(kind, v, enc.encode_descriptor(name, help, None, kind)?)
}

fn gauge(enc: &mut DescriptorEncoder, name: &str, help: &str, v: u64) -> std::fmt::Result {
    let kind = MetricType::Gauge;
    sample(kind, v, enc.encode_descriptor(name, help, None, kind)?)
}

/// One family with one label: `(value, figure)` per sample.
fn family(
    enc: &mut DescriptorEncoder,
    (name, help, kind): (&str, &str, MetricType),
    label: &str,
    samples: &[(String, u64)],
) -> std::fmt::Result {
    if samples.is_empty() {
        return Ok(());
    }
    let mut m = enc.encode_descriptor(name, help, None, kind)?;
    for (value, v) in samples {
        let labels = [(label, escape_label(value))];
        sample(kind, *v, m.encode_family(&labels)?)?;
    }
    Ok(())
}

impl Collector for Scrape {
    fn encode(&self, mut enc: DescriptorEncoder) -> std::fmt::Result {
        let s = self.live.snapshot();
        let e = &mut enc;
        counter(e, "farhand_packets", "Frames read from the capture.", s.frames)?;
        counter(e, "farhand_bytes", "Captured bytes read (the frames' captured lengths).", s.bytes)?;
        let drops = [
            s.capture_dropped,
            s.interface_dropped,
            s.findings_dropped,
            s.flows_dropped_full,
            s.non_ip,
            s.other_ip,
            s.fragments,
            s.truncated,
            s.malformed,
        ];
        let drops: Vec<(String, u64)> = DROP_CAUSES.iter().map(|c| c.to_string()).zip(drops).collect();
        family(
            e,
            (
                "farhand_drops",
                "Frames not analysed, by cause (crossing: finding batches dropped, the reporting plane behind).",
                MetricType::Counter,
            ),
            "cause",
            &drops,
        )?;
        gauge(e, "farhand_flows_active", "Flows held in the flow tables.", s.flows_active)?;
        counter(e, "farhand_flows", "Flows created.", s.flows_created)?;
        counter(e, "farhand_flow_evictions", "Flows evicted to make room in a full table.", s.flows_evicted)?;
        counter(e, "farhand_flows_ended", "Flows ended and judged.", s.flows_ended)?;
        counter(e, "farhand_sessions", "Flows recognised as remote-access sessions.", s.sessions)?;
        counter(e, "farhand_findings", "Findings received by the reporting plane.", s.findings_received)?;
        let mut alerts: Vec<(String, u64)> = AlertKind::all()
            .iter()
            .map(|k| (k.name().to_string(), s.alerts.get(k.name()).copied().unwrap_or(0)))
            .collect();
        for (kind, n) in &s.alerts {
            if !alerts.iter().any(|(k, _)| k == kind) {
                alerts.push((kind.clone(), *n));
            }
        }
        family(e, ("farhand_alerts", "Alerts raised, by kind.", MetricType::Counter), "kind", &alerts)?;
        let kernel: Vec<(String, u64)> = s.kernel.iter().map(|(n, v)| (n.to_string(), *v)).collect();
        family(
            e,
            (
                "farhand_ebpf",
                "The eBPF capture's kernel counters: packets seen, events sent, ring_full (events lost), \
                 map_full (flows not tracked), not_ip, truncated, event_bytes, unconfigured.",
                MetricType::Counter,
            ),
            "counter",
            &kernel,
        )?;

        // The outputs' closures run outside the lock.
        let outputs: Vec<(String, OutputSource)> = lock(&self.outputs).clone();
        let gauges: Vec<(String, OutputGauge)> = outputs.iter().map(|(n, f)| (n.clone(), f())).collect();
        for (name, help, kind, pick) in OUTPUT_FAMILIES {
            let samples: Vec<(String, u64)> = gauges.iter().map(|(n, o)| (n.clone(), pick(o))).collect();
            family(e, (name, help, kind), "output", &samples)?;
        }
        gauge(
            e,
            "farhand_last_report_timestamp_seconds",
            "When the last audit report was written, Unix seconds (0: none yet).",
            s.last_report_unix,
        )
    }
}

/// Binds `addr` now and serves `metrics` on `rt` from then on; returns the bound address.
/// Errors: `"metrics.listen ADDR: what went wrong"`.
pub fn start(addr: SocketAddr, metrics: Arc<Metrics>, rt: &tokio::runtime::Handle) -> Result<SocketAddr, String> {
    let fail = |what: String| format!("metrics.listen {addr}: {what}");
    let listener = std::net::TcpListener::bind(addr).map_err(|e| fail(bind_error(&e)))?;
    listener.set_nonblocking(true).map_err(|e| fail(e.to_string()))?;
    let bound = listener.local_addr().map_err(|e| fail(e.to_string()))?;
    let listener = {
        let _in_runtime = rt.enter();
        TcpListener::from_std(listener).map_err(|e| fail(e.to_string()))?
    };
    rt.spawn(serve(listener, metrics));
    Ok(bound)
}

fn bind_error(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::AddrInUse => "address in use".to_string(),
        std::io::ErrorKind::AddrNotAvailable => "address not available on this host".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => e.to_string(),
    }
}

/// Serves `metrics` on `listener` until the runtime shuts down.
pub async fn serve(listener: TcpListener, metrics: Arc<Metrics>) {
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let mut warned = false;
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else { return };
        match listener.accept().await {
            Ok((stream, _)) => {
                warned = false;
                let metrics = metrics.clone();
                tokio::spawn(async move {
                    answer(stream, &metrics).await;
                    drop(permit);
                });
            }
            Err(e) => {
                // Out of descriptors and the like: say so once, back off, try again.
                if !warned {
                    tracing::warn!("metrics: accepting a connection: {e}");
                    warned = true;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// How reading a request head ended.
#[derive(Debug, PartialEq, Eq)]
enum Head {
    /// The head, up to and including its blank line.
    Complete(Vec<u8>),
    /// More than [`MAX_HEAD`] bytes without the blank line.
    TooLarge,
    /// The client closed (or failed) before the head was complete.
    Closed,
}

/// Where the head ends (after its blank line), if it has ended: `\r\n\r\n`, or bare `\n\n`.
fn head_end(buf: &[u8]) -> Option<usize> {
    let crlf = buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4);
    let lf = buf.windows(2).position(|w| w == b"\n\n").map(|i| i + 2);
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

async fn read_head<R: AsyncRead + Unpin>(r: &mut R) -> Head {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let n = match r.read(&mut chunk).await {
            Ok(0) | Err(_) => return Head::Closed,
            Ok(n) => n,
        };
        let searched = buf.len().saturating_sub(3);
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
        if let Some(end) = buf.get(searched..).and_then(head_end) {
            let end = searched + end;
            if end > MAX_HEAD {
                return Head::TooLarge;
            }
            buf.truncate(end);
            return Head::Complete(buf);
        }
        if buf.len() > MAX_HEAD {
            return Head::TooLarge;
        }
    }
}

/// A parsed request: what routing needs.
#[derive(Debug, PartialEq, Eq)]
struct Request<'a> {
    method: &'a str,
    /// The target's path (query left off).
    path: &'a str,
}

fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Parses a request head (request line and header lines, as [`read_head`] returns it).
/// `None`: not a well-formed HTTP/1.x request.
fn parse_request(head: &[u8]) -> Option<Request<'_>> {
    let text = std::str::from_utf8(head).ok()?;
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let mut parts = lines.next()?.split(' ');
    let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || !is_token(method) || !matches!(version, "HTTP/1.0" | "HTTP/1.1") {
        return None;
    }
    if !target.starts_with('/') || !target.bytes().all(|b| b.is_ascii_graphic()) {
        return None;
    }
    for line in lines.take_while(|l| !l.is_empty()) {
        let (name, _) = line.split_once(':')?;
        if !is_token(name) {
            return None;
        }
    }
    let path = target.split_once('?').map_or(target, |(p, _)| p);
    Some(Request { method, path })
}

/// An answer, before it is written.
#[derive(Debug, PartialEq, Eq)]
struct Response {
    status: u16,
    reason: &'static str,
    content_type: &'static str,
    body: String,
    /// Leave the body off (a `HEAD` request); the length still says what `GET` would send.
    head_only: bool,
    allow: bool,
}

impl Response {
    fn text(status: u16, reason: &'static str, body: &str) -> Response {
        Response {
            status,
            reason,
            content_type: "text/plain; charset=utf-8",
            body: body.to_string(),
            head_only: false,
            allow: false,
        }
    }

    fn bytes(&self) -> Vec<u8> {
        let mut head = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n",
            self.status,
            self.reason,
            self.content_type,
            self.body.len()
        );
        if self.allow {
            head.push_str("Allow: GET, HEAD\r\n");
        }
        head.push_str("\r\n");
        let mut out = head.into_bytes();
        if !self.head_only {
            out.extend_from_slice(self.body.as_bytes());
        }
        out
    }
}

/// The answer to a request head.
fn route(head: &Head, metrics: &Metrics) -> Option<Response> {
    let bytes = match head {
        Head::Closed => return None,
        Head::TooLarge => {
            return Some(Response::text(431, "Request Header Fields Too Large", "request head too large\n"));
        }
        Head::Complete(bytes) => bytes,
    };
    let Some(req) = parse_request(bytes) else {
        return Some(Response::text(400, "Bad Request", "bad request\n"));
    };
    let mut resp = match req.path {
        "/metrics" => Response {
            status: 200,
            reason: "OK",
            content_type: CONTENT_TYPE,
            body: metrics.encode(),
            head_only: false,
            allow: false,
        },
        "/" => Response::text(200, "OK", "farhand sensor metrics: GET /metrics\n"),
        _ => return Some(Response::text(404, "Not Found", "not found: GET /metrics\n")),
    };
    match req.method {
        "GET" => {}
        "HEAD" => resp.head_only = true,
        _ => {
            resp = Response::text(405, "Method Not Allowed", "method not allowed: GET /metrics\n");
            resp.allow = true;
        }
    }
    Some(resp)
}

/// Serves one connection: one request, one answer, close.
async fn answer(mut stream: TcpStream, metrics: &Metrics) {
    let resp = match tokio::time::timeout(HEAD_TIMEOUT, read_head(&mut stream)).await {
        Ok(head) => route(&head, metrics),
        Err(_) => Some(Response::text(408, "Request Timeout", "request head too slow\n")),
    };
    let Some(resp) = resp else { return };
    let write = async {
        stream.write_all(&resp.bytes()).await?;
        stream.shutdown().await
    };
    if !matches!(tokio::time::timeout(WRITE_TIMEOUT, write).await, Ok(Ok(()))) {
        return;
    }
    // Read what the client still sends (the rest of an oversized head), so that closing
    // does not reset the connection under the answer.
    let _ = tokio::time::timeout(LINGER, async {
        let mut sink = [0u8; 4096];
        let mut left = LINGER_BYTES;
        while left > 0 {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => left = left.saturating_sub(n),
            }
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::session;
    use crate::verdict::Verdict;
    use farhand_model::HomeNets;
    use farhand_model::tool::Tool;
    use std::collections::BTreeMap;
    use std::sync::atomic::Ordering;

    /// One sample of an exposition: name, labels, value.
    type Sample = (String, BTreeMap<String, String>, String);

    /// Reads a text exposition's samples back (label values unescaped); fails the test on a
    /// line that is not `name{labels} value`.
    fn samples(text: &str) -> Vec<Sample> {
        let mut out = Vec::new();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("no value: {line:?}"));
            let (name, labels) = match series.split_once('{') {
                None => (series, BTreeMap::new()),
                Some((name, rest)) => {
                    let body = rest.strip_suffix('}').unwrap_or_else(|| panic!("labels: {line:?}"));
                    let mut labels = BTreeMap::new();
                    let mut chars = body.chars().peekable();
                    while chars.peek().is_some() {
                        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
                        assert_eq!(chars.next(), Some('"'), "{line:?}");
                        let mut v = String::new();
                        loop {
                            match chars.next().unwrap_or_else(|| panic!("open quote: {line:?}")) {
                                '"' => break,
                                '\\' => match chars.next() {
                                    Some('n') => v.push('\n'),
                                    Some(c) => v.push(c),
                                    None => panic!("escape: {line:?}"),
                                },
                                c => v.push(c),
                            }
                        }
                        labels.insert(key, v);
                        if chars.peek() == Some(&',') {
                            chars.next();
                        }
                    }
                    (name, labels)
                }
            };
            assert!(!name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'), "{line:?}");
            out.push((name.to_string(), labels, value.to_string()));
        }
        out
    }

    /// The value of the sample `name` with exactly `labels`.
    fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<u64> {
        let want: BTreeMap<String, String> = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let found: Vec<_> = samples(text).into_iter().filter(|(n, l, _)| n == name && *l == want).collect();
        assert!(found.len() <= 1, "{name}{labels:?} appears {} times", found.len());
        found.first().map(|(_, _, v)| v.parse().unwrap())
    }

    #[test]
    fn encode_reads_the_atomics_at_scrape_time() {
        let live = Arc::new(Live::new(2));
        let m = Metrics::new(live.clone());
        let before = m.encode();
        assert_eq!(value(&before, "farhand_packets_total", &[]), Some(0));

        live.frames.store(1234, Ordering::Relaxed);
        live.bytes.store(987_654, Ordering::Relaxed);
        live.capture_dropped.store(5, Ordering::Relaxed);
        live.interface_dropped.store(6, Ordering::Relaxed);
        live.non_ip.store(7, Ordering::Relaxed);
        live.other_ip.store(8, Ordering::Relaxed);
        live.fragments.store(9, Ordering::Relaxed);
        live.truncated.store(10, Ordering::Relaxed);
        live.malformed.store(11, Ordering::Relaxed);
        for (i, base) in [(0usize, 100u64), (1, 200)] {
            let w = live.worker(i).unwrap();
            w.flows_created.store(base + 1, Ordering::Relaxed);
            w.flows_active.store(base + 2, Ordering::Relaxed);
            w.flows_evicted.store(base + 3, Ordering::Relaxed);
            w.flows_dropped_full.store(base + 4, Ordering::Relaxed);
            w.flows_ended.store(base + 5, Ordering::Relaxed);
            w.sessions.store(base + 6, Ordering::Relaxed);
            w.findings_dropped.store(base + 7, Ordering::Relaxed);
        }
        live.add_findings(42);
        live.set_last_report(1_765_000_000);

        let t = m.encode();
        assert_eq!(value(&t, "farhand_packets_total", &[]), Some(1234));
        assert_eq!(value(&t, "farhand_bytes_total", &[]), Some(987_654));
        let drops = [
            ("capture", 5),
            ("interface", 6),
            ("crossing", 307 + 7),
            ("flow_table", 304 + 4),
            ("non_ip", 7),
            ("other_ip", 8),
            ("fragment", 9),
            ("truncated", 10),
            ("malformed", 11),
        ];
        for (cause, n) in drops {
            assert_eq!(value(&t, "farhand_drops_total", &[("cause", cause)]), Some(n), "{cause}");
        }
        assert_eq!(value(&t, "farhand_flows_total", &[]), Some(302));
        assert_eq!(value(&t, "farhand_flows_active", &[]), Some(304));
        assert_eq!(value(&t, "farhand_flow_evictions_total", &[]), Some(306));
        assert_eq!(value(&t, "farhand_flows_ended_total", &[]), Some(310));
        assert_eq!(value(&t, "farhand_sessions_total", &[]), Some(312));
        assert_eq!(value(&t, "farhand_findings_total", &[]), Some(42));
        assert_eq!(value(&t, "farhand_last_report_timestamp_seconds", &[]), Some(1_765_000_000));
        // No outputs registered: no output families at all.
        assert!(!t.contains("farhand_output_") && !t.contains("farhand_spool_"), "{t}");
    }

    #[test]
    fn names_types_and_build_info_follow_the_conventions() {
        let m = Metrics::new(Arc::new(Live::new(1)));
        m.add_output("tcp://127.0.0.1:6514".into(), Box::new(OutputGauge::default));
        let t = m.encode();
        assert!(t.ends_with("# EOF\n"), "{t}");
        let version = env!("CARGO_PKG_VERSION");
        assert!(t.contains(&format!("\nfarhand_build_info{{version=\"{version}\"}} 1\n")), "{t}");
        let mut types = BTreeMap::new();
        for line in t.lines().filter_map(|l| l.strip_prefix("# TYPE ")) {
            let (family, kind) = line.split_once(' ').unwrap();
            assert!(family.starts_with("farhand_"), "{line}");
            assert!(!family.ends_with("_total"), "the encoder adds _total to counters: {line}");
            assert!(types.insert(family.to_string(), kind.to_string()).is_none(), "one TYPE per family: {line}");
        }
        for (name, ..) in samples(&t) {
            let (family, kind) = types
                .iter()
                .find(|(f, k)| match k.as_str() {
                    "counter" => name == format!("{f}_total"),
                    "info" => name == format!("{f}_info"),
                    _ => name == **f,
                })
                .unwrap_or_else(|| panic!("{name}: no TYPE line of its family"));
            if kind == "counter" {
                assert!(name.ends_with("_total"), "{family}: {name}");
            }
        }
        let want = [
            ("farhand_build", "info"),
            ("farhand_packets", "counter"),
            ("farhand_bytes", "counter"),
            ("farhand_drops", "counter"),
            ("farhand_flows_active", "gauge"),
            ("farhand_flows", "counter"),
            ("farhand_flow_evictions", "counter"),
            ("farhand_sessions", "counter"),
            ("farhand_findings", "counter"),
            ("farhand_alerts", "counter"),
            ("farhand_output_queued", "counter"),
            ("farhand_output_delivered", "counter"),
            ("farhand_output_dropped", "counter"),
            ("farhand_output_backlog_messages", "gauge"),
            ("farhand_spool_bytes", "gauge"),
            ("farhand_output_reconnects", "counter"),
            ("farhand_last_report_timestamp_seconds", "gauge"),
        ];
        for (family, kind) in want {
            assert_eq!(types.get(family).map(String::as_str), Some(kind), "{family}");
        }
    }

    #[test]
    fn outputs_are_read_at_scrape_time_and_labelled_escaped() {
        let m = Metrics::new(Arc::new(Live::new(1)));
        let delivered = Arc::new(std::sync::atomic::AtomicU64::new(3));
        let d = delivered.clone();
        m.add_output(
            "tcp://siem.example:6514".into(),
            Box::new(move || OutputGauge {
                queued: 10,
                delivered: d.load(Ordering::Relaxed),
                dropped: 2,
                backlog_messages: 5,
                backlog_bytes: 4096,
                reconnects: 1,
            }),
        );
        let hostile = "udp://x\"}\\ 1\nfarhand_fake_total 9";
        m.add_output(hostile.into(), Box::new(|| OutputGauge { queued: 77, ..OutputGauge::default() }));
        let o = [("output", "tcp://siem.example:6514")];
        let t = m.encode();
        assert_eq!(value(&t, "farhand_output_queued_total", &o), Some(10));
        assert_eq!(value(&t, "farhand_output_delivered_total", &o), Some(3));
        assert_eq!(value(&t, "farhand_output_dropped_total", &o), Some(2));
        assert_eq!(value(&t, "farhand_output_backlog_messages", &o), Some(5));
        assert_eq!(value(&t, "farhand_spool_bytes", &o), Some(4096));
        assert_eq!(value(&t, "farhand_output_reconnects_total", &o), Some(1));
        // The hostile name stays one label value; no sample is smuggled in.
        assert_eq!(value(&t, "farhand_output_queued_total", &[("output", hostile)]), Some(77));
        assert!(samples(&t).iter().all(|(n, ..)| n != "farhand_fake_total"), "{t}");
        delivered.store(8, Ordering::Relaxed);
        assert_eq!(value(&m.encode(), "farhand_output_delivered_total", &o), Some(8));
    }

    #[test]
    fn alerts_are_counted_by_kind_every_kind_shown() {
        let live = Arc::new(Live::new(1));
        let m = Metrics::new(live.clone());
        let t = m.encode();
        for k in AlertKind::all() {
            assert_eq!(value(&t, "farhand_alerts_total", &[("kind", k.name())]), Some(0), "{}", k.name());
        }
        let mut v = Verdict::new(HomeNets::new(vec!["10.0.0.0/8".parse().unwrap()]));
        let mut alerts = Vec::new();
        v.judge(&session(Tool::Vnc, ([203, 0, 113, 9], 40000), ([10, 0, 0, 5], 5900), 1_000_000), &mut alerts);
        v.judge(&session(Tool::Vnc, ([203, 0, 113, 9], 40001), ([10, 0, 0, 6], 5900), 2_000_000), &mut alerts);
        assert!(!alerts.is_empty());
        let sessions = alerts.iter().filter(|a| a.kind == AlertKind::RemoteControlSession).count() as u64;
        assert_eq!(sessions, 2, "{alerts:?}");
        record_alerts(&live, &alerts);
        record_alerts(&live, &[]);
        let t = m.encode();
        let n = value(&t, "farhand_alerts_total", &[("kind", "remote_control_session")]);
        assert_eq!(n, Some(sessions));
        let total: u64 = samples(&t)
            .iter()
            .filter(|(n, ..)| n == "farhand_alerts_total")
            .map(|(.., v)| v.parse::<u64>().unwrap())
            .sum();
        assert_eq!(total, alerts.len() as u64);
    }

    const GOOD: &[u8] = b"GET /metrics?x=1 HTTP/1.1\r\nHost: 127.0.0.1:9750\r\nAccept: application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1\r\nUser-Agent: Prometheus/2.42.0\r\nX-Prometheus-Scrape-Timeout-Seconds: 10\r\n\r\n";

    #[test]
    fn the_parser_takes_what_clients_send() {
        assert_eq!(parse_request(GOOD), Some(Request { method: "GET", path: "/metrics" }));
        assert_eq!(parse_request(b"GET / HTTP/1.0\r\n\r\n"), Some(Request { method: "GET", path: "/" }));
        assert_eq!(parse_request(b"HEAD /metrics HTTP/1.1\n\n"), Some(Request { method: "HEAD", path: "/metrics" }));
        assert_eq!(parse_request(b"POST /x HTTP/1.1\r\nA:\r\n\r\n"), Some(Request { method: "POST", path: "/x" }));
        for bad in [
            &b""[..],
            b"\r\n\r\n",
            b"GET\r\n\r\n",
            b"GET /metrics\r\n\r\n",
            b"GET /metrics HTTP/2\r\n\r\n",
            b"GET /metrics HTTP/1.1 extra\r\n\r\n",
            b"GET  /metrics HTTP/1.1\r\n\r\n",
            b"G(T /metrics HTTP/1.1\r\n\r\n",
            b"GET metrics HTTP/1.1\r\n\r\n",
            b"GET http://h/metrics HTTP/1.1\r\n\r\n",
            b"GET /met\x01rics HTTP/1.1\r\n\r\n",
            b"GET /metrics HTTP/1.1\r\nno colon\r\n\r\n",
            b"GET /metrics HTTP/1.1\r\n: empty name\r\n\r\n",
            b"GET /metrics HTTP/1.1\r\nBad Name: x\r\n\r\n",
            b"GET /\xff HTTP/1.1\r\n\r\n",
        ] {
            assert_eq!(parse_request(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn the_router_answers_each_case() {
        let m = Metrics::new(Arc::new(Live::new(1)));
        let ask = |head: &[u8]| route(&Head::Complete(head.to_vec()), &m).unwrap();
        let r = ask(GOOD);
        assert_eq!((r.status, r.content_type), (200, CONTENT_TYPE));
        assert!(r.body.contains("farhand_packets_total 0\n"));
        assert_eq!(ask(b"GET / HTTP/1.1\r\n\r\n").status, 200);
        assert_eq!(ask(b"GET /nope HTTP/1.1\r\n\r\n").status, 404);
        assert_eq!(ask(b"DELETE /nope HTTP/1.1\r\n\r\n").status, 404);
        let post = ask(b"POST /metrics HTTP/1.1\r\n\r\n");
        assert_eq!(post.status, 405);
        assert!(String::from_utf8(post.bytes()).unwrap().contains("\r\nAllow: GET, HEAD\r\n"));
        assert_eq!(ask(b"GET /metrics HTTP/9.9\r\n\r\n").status, 400);
        assert_eq!(route(&Head::TooLarge, &m).unwrap().status, 431);
        assert_eq!(route(&Head::Closed, &m), None);
        let head = ask(b"HEAD /metrics HTTP/1.1\r\n\r\n");
        let bytes = String::from_utf8(head.bytes()).unwrap();
        assert!(bytes.ends_with("\r\n\r\n"), "no body for HEAD: {bytes}");
        assert!(bytes.contains(&format!("Content-Length: {}\r\n", head.body.len())));
        let get = String::from_utf8(r.bytes()).unwrap();
        assert!(get.starts_with("HTTP/1.1 200 OK\r\n") && get.contains("\r\nConnection: close\r\n"));
        assert!(get.contains(&format!("\r\nContent-Length: {}\r\n", r.body.len())));
        assert!(get.ends_with(&format!("\r\n\r\n{}", r.body)));
    }

    #[test]
    fn truncation_sweep_of_the_request_head() {
        let m = Metrics::new(Arc::new(Live::new(1)));
        for cut in 0..GOOD.len() {
            let part = GOOD.get(..cut).unwrap();
            assert_eq!(head_end(part), None, "cut at {cut}: the head has not ended");
            // Routed anyway (as if the client had stopped there): an answer, never a panic.
            let r = route(&Head::Complete(part.to_vec()), &m).unwrap();
            assert!(r.status == 400 || r.status == 200, "cut at {cut}: {}", r.status);
            let mut crlf = part.to_vec();
            crlf.extend_from_slice(b"\r\n\r\n");
            let _ = parse_request(&crlf);
        }
        assert_eq!(head_end(GOOD), Some(GOOD.len()));
    }

    #[test]
    fn hostile_lengths_and_bytes_do_not_panic() {
        let long_target = [&b"GET /"[..], &vec![b'a'; 1 << 20], b" HTTP/1.1\r\n\r\n"].concat();
        assert_eq!(parse_request(&long_target).map(|r| r.path.len()), Some((1 << 20) + 1));
        let many_headers = [&b"GET /metrics HTTP/1.1\r\n"[..], &b"A: b\r\n".repeat(200_000), b"\r\n"].concat();
        assert!(parse_request(&many_headers).is_some());
        let spaces = vec![b' '; 1 << 20];
        assert_eq!(parse_request(&spaces), None);
        let colons = [&b"GET / HTTP/1.1\r\n"[..], &vec![b':'; 1 << 20]].concat();
        assert_eq!(parse_request(&colons), None);
        let mut x: u32 = 0x1234_5678;
        for len in [1usize, 3, 17, 255, 4096, 65_536] {
            let noise: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x as u8
                })
                .collect();
            let _ = parse_request(&noise);
            let _ = head_end(&noise);
        }
    }

    #[tokio::test]
    async fn the_head_reader_stops_at_the_limit() {
        use tokio::io::AsyncWriteExt as _;
        // One byte at a time: the head still ends where it ends.
        let (mut client, mut server) = tokio::io::duplex(64);
        let writer = tokio::spawn(async move {
            for b in GOOD.iter().chain(b"trailing body") {
                client.write_all(&[*b]).await.unwrap();
            }
            client
        });
        assert_eq!(read_head(&mut server).await, Head::Complete(GOOD.to_vec()));
        drop(writer.await.unwrap());

        // Exactly MAX_HEAD bytes: read; one more: too large.
        for (len, want_complete) in [(MAX_HEAD, true), (MAX_HEAD + 1, false), (9 * 1024, false)] {
            let filler = len - b"GET / HTTP/1.1\r\nX: \r\n\r\n".len();
            let head = [&b"GET / HTTP/1.1\r\nX: "[..], &vec![b'a'; filler], b"\r\n\r\n"].concat();
            assert_eq!(head.len(), len);
            let (mut client, mut server) = tokio::io::duplex(64 * 1024);
            client.write_all(&head).await.unwrap();
            let got = read_head(&mut server).await;
            assert_eq!(matches!(got, Head::Complete(_)), want_complete, "{len} bytes: {got:?}");
            if !want_complete {
                assert_eq!(got, Head::TooLarge);
            }
        }

        // A head that never ends, and a client that leaves early.
        let (mut client, mut server) = tokio::io::duplex(64 * 1024);
        client.write_all(&vec![b'x'; 20_000]).await.unwrap();
        assert_eq!(read_head(&mut server).await, Head::TooLarge);
        let (mut client, mut server) = tokio::io::duplex(1024);
        client.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
        drop(client);
        assert_eq!(read_head(&mut server).await, Head::Closed);
    }

    #[test]
    fn a_busy_address_is_one_clear_error() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let m = Arc::new(Metrics::new(Arc::new(Live::new(1))));
        let bound = start("127.0.0.1:0".parse().unwrap(), m.clone(), rt.handle()).unwrap();
        assert_ne!(bound.port(), 0);
        let err = start(bound, m, rt.handle()).unwrap_err();
        assert_eq!(err, format!("metrics.listen {bound}: address in use"));
    }
}
