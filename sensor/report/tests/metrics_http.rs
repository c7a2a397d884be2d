//! The metrics endpoint over real sockets: a plain `std::net::TcpStream` client reads back
//! what the test stored in the live counters, the error answers, and a hostile head that
//! must not take the server down; and a real Prometheus server (when installed) scrapes the
//! endpoint and answers queries with the same figures.

#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic, reason = "test code")]

mod common;

use farhand_model::counters::Live;
use farhand_report::metrics::{CONTENT_TYPE, Metrics, OutputGauge, start};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// A server on 127.0.0.1 (port picked by the system) with a few figures stored.
struct Server {
    addr: SocketAddr,
    live: Arc<Live>,
    _rt: tokio::runtime::Runtime,
}

fn server() -> Server {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let live = Arc::new(Live::new(2));
    live.frames.store(123_456, Ordering::Relaxed);
    live.bytes.store(98_765_432, Ordering::Relaxed);
    live.capture_dropped.store(17, Ordering::Relaxed);
    live.malformed.store(3, Ordering::Relaxed);
    live.worker(0).unwrap().flows_created.store(400, Ordering::Relaxed);
    live.worker(1).unwrap().flows_created.store(55, Ordering::Relaxed);
    live.worker(1).unwrap().flows_active.store(12, Ordering::Relaxed);
    live.worker(0).unwrap().sessions.store(9, Ordering::Relaxed);
    live.count_alerts(["remote_control_session", "remote_control_session", "anonymizing_tunnel"]);
    live.add_findings(11);
    live.set_last_report(1_765_432_100);
    let metrics = Arc::new(Metrics::new(live.clone()));
    metrics.add_output(
        "tcp://siem.example:6514".into(),
        Box::new(|| OutputGauge {
            queued: 30,
            delivered: 27,
            dropped: 1,
            backlog_messages: 2,
            backlog_bytes: 512,
            reconnects: 4,
        }),
    );
    let addr = start("127.0.0.1:0".parse().unwrap(), metrics, rt.handle()).unwrap();
    Server { addr, live, _rt: rt }
}

/// An answer: status, headers (names lower-cased), body.
struct Answer {
    status: u16,
    headers: BTreeMap<String, String>,
    body: String,
}

/// Sends `request` as is and reads the answer until the server closes.
fn ask(addr: SocketAddr, request: &[u8]) -> Answer {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no head: {text:?}"));
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let status = status_line.strip_prefix("HTTP/1.1 ").unwrap().get(..3).unwrap().parse().unwrap();
    let headers = lines
        .map(|l| {
            let (k, v) = l.split_once(':').unwrap();
            (k.to_ascii_lowercase(), v.trim().to_string())
        })
        .collect::<BTreeMap<_, _>>();
    if !request.starts_with(b"HEAD ") {
        assert_eq!(headers.get("content-length").map(|l| l.parse::<usize>().unwrap()), Some(body.len()), "{text}");
    }
    assert_eq!(headers.get("connection").map(String::as_str), Some("close"), "{text}");
    Answer { status, headers, body: body.to_string() }
}

fn get(addr: SocketAddr, path: &str) -> Answer {
    ask(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: test\r\nConnection: close\r\n\r\n").as_bytes(),
    )
}

/// Every sample line of an exposition, `name{labels} value`, keyed by the series as
/// written.
fn samples(body: &str) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for line in body.lines().filter(|l| !l.starts_with('#')) {
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("not `series value`: {line:?}"));
        let name = series.split('{').next().unwrap();
        assert!(name.starts_with("farhand_"), "{line}");
        assert!(name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'), "{line}");
        if let Some(labels) = series.strip_prefix(name) {
            assert!(labels.is_empty() || (labels.starts_with('{') && labels.ends_with('}')), "{line}");
        }
        let value = value.parse().unwrap_or_else(|_| panic!("not a whole number: {line:?}"));
        assert!(out.insert(series.to_string(), value).is_none(), "series twice: {line}");
    }
    out
}

#[test]
fn a_scrape_reads_back_what_was_stored() {
    let s = server();
    let a = get(s.addr, "/metrics");
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.headers.get("content-type").map(String::as_str), Some(CONTENT_TYPE));
    assert!(a.body.ends_with("# EOF\n"));
    let got = samples(&a.body);
    let want = [
        ("farhand_packets_total", 123_456),
        ("farhand_bytes_total", 98_765_432),
        ("farhand_drops_total{cause=\"capture\"}", 17),
        ("farhand_drops_total{cause=\"malformed\"}", 3),
        ("farhand_drops_total{cause=\"crossing\"}", 0),
        ("farhand_flows_total", 455),
        ("farhand_flows_active", 12),
        ("farhand_sessions_total", 9),
        ("farhand_findings_total", 11),
        ("farhand_alerts_total{kind=\"remote_control_session\"}", 2),
        ("farhand_alerts_total{kind=\"anonymizing_tunnel\"}", 1),
        ("farhand_alerts_total{kind=\"ip_kvm_suspected\"}", 0),
        ("farhand_output_queued_total{output=\"tcp://siem.example:6514\"}", 30),
        ("farhand_output_delivered_total{output=\"tcp://siem.example:6514\"}", 27),
        ("farhand_output_dropped_total{output=\"tcp://siem.example:6514\"}", 1),
        ("farhand_output_backlog_messages{output=\"tcp://siem.example:6514\"}", 2),
        ("farhand_spool_bytes{output=\"tcp://siem.example:6514\"}", 512),
        ("farhand_output_reconnects_total{output=\"tcp://siem.example:6514\"}", 4),
        ("farhand_last_report_timestamp_seconds", 1_765_432_100),
    ];
    for (series, value) in want {
        assert_eq!(got.get(series), Some(&value), "{series}");
    }
    let build = format!("farhand_build_info{{version=\"{}\"}}", env!("CARGO_PKG_VERSION"));
    assert_eq!(got.get(&build), Some(&1));

    // Read at scrape time: a new figure shows on the next scrape.
    s.live.frames.store(200_000, Ordering::Relaxed);
    assert_eq!(samples(&get(s.addr, "/metrics").body).get("farhand_packets_total"), Some(&200_000));

    let root = get(s.addr, "/");
    assert_eq!(root.status, 200);
    assert!(root.body.contains("/metrics"));
}

#[test]
fn errors_are_answered_and_the_connection_closed() {
    let s = server();
    assert_eq!(get(s.addr, "/nope").status, 404);
    assert_eq!(get(s.addr, "/metrics/x").status, 404);
    assert_eq!(ask(s.addr, b"hello there\r\n\r\n").status, 400);
    assert_eq!(ask(s.addr, b"GET /metrics HTTP/1.1\r\nno colon here\r\n\r\n").status, 400);
    assert_eq!(ask(s.addr, b"GET /metrics HTTP/3\r\n\r\n").status, 400);
    let post = ask(s.addr, b"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(post.status, 405);
    assert_eq!(post.headers.get("allow").map(String::as_str), Some("GET, HEAD"));
    let head = ask(s.addr, b"HEAD /metrics HTTP/1.0\r\n\r\n");
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
}

#[test]
fn an_oversized_head_is_refused_and_the_server_goes_on() {
    let s = server();
    let big = format!("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Filler: {}\r\n\r\n", "a".repeat(9 * 1024));
    assert!(big.len() > 9 * 1024);
    let a = ask(s.addr, big.as_bytes());
    assert!(a.status == 431 || a.status == 400, "{}", a.status);
    // A head that never ends at all.
    let a = ask(s.addr, "x".repeat(64 * 1024).as_bytes());
    assert_eq!(a.status, 431);
    // A client that sends half a head and stays silent does not hold up the next one.
    let mut idle = TcpStream::connect(s.addr).unwrap();
    idle.write_all(b"GET /metr").unwrap();
    let started = Instant::now();
    let next = get(s.addr, "/metrics");
    assert_eq!(next.status, 200);
    assert!(started.elapsed() < Duration::from_secs(2), "answered while another client dawdles");
    assert_eq!(samples(&next.body).get("farhand_packets_total"), Some(&123_456));
    drop(idle);
}

/// The first file named `name` on PATH.
fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?).map(|d| d.join(name)).find(|p| p.is_file())
}

/// A child process killed (by its own handle) when the test ends.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn percent(s: &str) -> String {
    s.bytes()
        .map(|b| if b.is_ascii_alphanumeric() || b == b'_' { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

/// Asks Prometheus's HTTP API `path` and returns the JSON answer's `data`.
fn api(addr: SocketAddr, path: &str) -> serde_json::Value {
    let a = get(addr, path);
    assert_eq!(a.status, 200, "{path}: {}", a.body);
    let v: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(v["status"], "success", "{path}: {}", a.body);
    v["data"].clone()
}

/// The single value of an instant query, once Prometheus has one.
fn query(addr: SocketAddr, q: &str) -> Option<String> {
    let data = api(addr, &format!("/api/v1/query?query={}", percent(q)));
    let result = data["result"].as_array()?;
    assert!(result.len() <= 1, "{q}: {result:?}");
    result.first().map(|r| r["value"][1].as_str().unwrap().to_string())
}

#[test]
fn prometheus_scrapes_the_endpoint() {
    let Some(prometheus) = on_path("prometheus") else {
        common::skip("prometheus is not installed (Debian package `prometheus`)");
        return;
    };
    let s = server();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: farhand\n    static_configs:\n      - targets: ['{}']\n",
            s.addr
        ),
    )
    .unwrap();
    let web: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
    let _child = Child(
        std::process::Command::new(&prometheus)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
            .arg(format!("--web.listen-address={web}"))
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let log = |dir: &Path| std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default();

    // Wait for the first scrape to land.
    let deadline = Instant::now() + Duration::from_secs(60);
    let packets = loop {
        // Prometheus answers 503 until its storage is ready (slow on a loaded machine).
        if TcpStream::connect(web).is_ok()
            && get(web, "/-/ready").status == 200
            && let Some(v) = query(web, "farhand_packets_total")
        {
            break v;
        }
        assert!(Instant::now() < deadline, "no scrape within 60 s; prometheus said:\n{}", log(dir.path()));
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(packets, "123456");

    // The target is up and its last scrape had no error (the exposition parsed as
    // OpenMetrics).
    let targets = api(web, "/api/v1/targets");
    let active = targets["activeTargets"].as_array().unwrap();
    assert_eq!(active.len(), 1, "{targets}");
    assert_eq!(active[0]["health"], "up", "{targets}");
    assert_eq!(active[0]["lastError"], "", "{targets}");
    assert_eq!(query(web, "up{job=\"farhand\"}").as_deref(), Some("1"));

    let want = [
        ("farhand_bytes_total", "98765432"),
        ("farhand_drops_total{cause=\"capture\"}", "17"),
        ("farhand_flows_total", "455"),
        ("farhand_flows_active", "12"),
        ("farhand_alerts_total{kind=\"remote_control_session\"}", "2"),
        ("farhand_output_delivered_total{output=\"tcp://siem.example:6514\"}", "27"),
        ("farhand_spool_bytes{output=\"tcp://siem.example:6514\"}", "512"),
        ("farhand_last_report_timestamp_seconds", "1765432100"),
        ("farhand_build_info", "1"),
    ];
    for (q, v) in want {
        assert_eq!(query(web, q).as_deref(), Some(v), "{q}");
    }
    let build = api(web, &format!("/api/v1/query?query={}", percent("farhand_build_info")));
    assert_eq!(build["result"][0]["metric"]["version"], env!("CARGO_PKG_VERSION"), "{build}");

    // A figure stored now shows in a later scrape.
    s.live.frames.store(777_777, Ordering::Relaxed);
    let deadline = Instant::now() + Duration::from_secs(30);
    while query(web, "farhand_packets_total").as_deref() != Some("777777") {
        assert!(Instant::now() < deadline, "the new figure was never scraped");
        std::thread::sleep(Duration::from_millis(200));
    }
}
