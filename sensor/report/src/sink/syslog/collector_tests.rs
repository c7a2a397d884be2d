//! Syslog forwarding against a real collector: each test starts its own `rsyslogd` on
//! loopback in a temp dir (its inputs on free ports, every message received written raw to a
//! file) and asserts what rsyslog wrote to disk. Without `/usr/sbin/rsyslogd` a test says
//! `skipped: ...` and passes (under CI it fails: every part must run).
//!
//! # Contract
//! Test builds only. Every expectation comes from rsyslog's output file: messages are
//! parsed back with `syslog_rfc5424`, counted by the unique alert id each carries.

use super::forward::{Format, OutputConfig, SpoolConfig, SyslogOutput, Target, cef_syslog};
use super::rfc5424::{SD_ID, rfc5424};
use super::testutil::inbound;
use super::{Sender, TlsFiles};
use crate::sink::Sink;
use crate::verdict::Alert;
use std::collections::HashSet;
use std::fs;
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

const RSYSLOGD: &str = "/usr/sbin/rsyslogd";
const MODULE_DIRS: [&str; 4] = [
    "/usr/lib/x86_64-linux-gnu/rsyslog",
    "/usr/lib/aarch64-linux-gnu/rsyslog",
    "/usr/lib64/rsyslog",
    "/usr/lib/rsyslog",
];

/// Whether rsyslogd (and, for `tls`, its GnuTLS driver) is installed; says why not.
fn have_rsyslog(tls: bool) -> bool {
    if !Path::new(RSYSLOGD).exists() {
        skip(&format!("{RSYSLOGD} not installed"));
        return false;
    }
    if tls && !MODULE_DIRS.iter().any(|d| Path::new(d).join("lmnsd_gtls.so").exists()) {
        skip("rsyslog's GnuTLS driver (lmnsd_gtls.so) not installed");
        return false;
    }
    true
}

/// Under CI (`CI` set, not "false"/"0") every test must run: a missing collector fails the
/// test; elsewhere it is one visible `skipped:` line.
fn skip(why: &str) {
    let ci = std::env::var("CI").is_ok_and(|v| !v.trim().is_empty() && v.trim() != "false" && v.trim() != "0");
    assert!(!ci, "{why}: CI is set, so the rsyslog tests must run (scripts/test.sh installs rsyslog, rsyslog-gnutls)");
    eprintln!("skipped: {why}");
}

fn free_tcp_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Asks `done` every `step` until it says yes (true) or `limit` has passed (false, after one
/// last ask).
fn poll(limit: Duration, step: Duration, mut done: impl FnMut() -> bool) -> bool {
    let t0 = Instant::now();
    loop {
        if done() {
            return true;
        }
        if t0.elapsed() > limit {
            return false;
        }
        std::thread::sleep(step);
    }
}

/// The PEM files of a TLS collector (server side).
struct ServerTls {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
    /// Whether clients must present a certificate from the CA.
    mutual: bool,
}

/// One rsyslogd in its own temp dir.
struct Rsyslog {
    dir: PathBuf,
    conf: PathBuf,
    out: PathBuf,
    /// The port probed for readiness (a TCP input).
    probe: u16,
    child: Option<Child>,
}

impl Rsyslog {
    /// A collector with a plain TCP input on `tcp`, optionally a UDP input, optionally TLS on
    /// the TCP input.
    fn new(dir: &Path, tcp: u16, udp: Option<u16>, tls: Option<&ServerTls>) -> Rsyslog {
        let work = dir.join("work");
        fs::create_dir_all(&work).unwrap();
        let out = dir.join("received.log");
        let mut conf = String::new();
        match tls {
            None => conf += &format!("global(workDirectory=\"{}\")\n", work.display()),
            Some(t) => {
                conf += &format!(
                    "global(workDirectory=\"{}\" DefaultNetstreamDriver=\"gtls\" DefaultNetstreamDriverCAFile=\"{}\" \
                     DefaultNetstreamDriverCertFile=\"{}\" DefaultNetstreamDriverKeyFile=\"{}\")\n",
                    work.display(),
                    t.ca.display(),
                    t.cert.display(),
                    t.key.display()
                );
                let mode = if t.mutual { "x509/certvalid" } else { "anon" };
                conf += &format!(
                    "module(load=\"imtcp\" StreamDriver.Name=\"gtls\" StreamDriver.Mode=\"1\" StreamDriver.AuthMode=\"{mode}\")\n"
                );
            }
        }
        if tls.is_none() {
            conf += "module(load=\"imtcp\")\n";
        }
        conf += &format!("input(type=\"imtcp\" port=\"{tcp}\" address=\"127.0.0.1\")\n");
        if let Some(udp) = udp {
            conf += &format!("module(load=\"imudp\")\ninput(type=\"imudp\" port=\"{udp}\" address=\"127.0.0.1\")\n");
        }
        conf += "template(name=\"raw\" type=\"string\" string=\"%rawmsg%\\n\")\n";
        conf += &format!(
            "if $inputname == \"imtcp\" or $inputname == \"imudp\" then {{\n  action(type=\"omfile\" file=\"{}\" template=\"raw\")\n}}\n",
            out.display()
        );
        let path = dir.join("rsyslog.conf");
        fs::write(&path, conf).unwrap();
        Rsyslog { dir: dir.to_path_buf(), conf: path, out, probe: tcp, child: None }
    }

    /// Starts rsyslogd and waits until its TCP input accepts.
    fn start(&mut self) {
        assert!(self.child.is_none());
        let log = fs::OpenOptions::new().create(true).append(true).open(self.dir.join("rsyslogd.stderr")).unwrap();
        let child = Command::new(RSYSLOGD)
            .arg("-n")
            .arg("-f")
            .arg(&self.conf)
            .arg("-i")
            .arg(self.dir.join("rsyslogd.pid"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let listening = poll(Duration::from_secs(10), Duration::from_millis(20), || {
            if TcpStream::connect(("127.0.0.1", self.probe)).is_ok() {
                return true;
            }
            if let Some(st) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("rsyslogd exited ({st}): {}", fs::read_to_string(self.dir.join("rsyslogd.stderr")).unwrap());
            }
            false
        });
        assert!(listening, "rsyslogd did not listen on {}", self.probe);
    }

    /// Stops rsyslogd with SIGTERM (it writes out what it received) and waits for it.
    fn stop(&mut self) {
        let Some(mut child) = self.child.take() else { return };
        let st = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status().unwrap();
        assert!(st.success());
        if !poll(Duration::from_secs(10), Duration::from_millis(10), || child.try_wait().unwrap().is_some()) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The lines rsyslog wrote so far.
    fn lines(&self) -> Vec<String> {
        fs::read_to_string(&self.out).map(|s| s.lines().map(str::to_string).collect()).unwrap_or_default()
    }

    /// The lines, once at least `n` are there (or after 10 s).
    fn wait_lines(&self, n: usize) -> Vec<String> {
        let mut l = Vec::new();
        poll(Duration::from_secs(10), Duration::from_millis(20), || {
            l = self.lines();
            l.len() >= n
        });
        l
    }
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap()
}

/// Alert number `n`: its id is `t-n`, its message names `n`.
fn alert(n: usize) -> Alert {
    let mut a = inbound();
    a.id = format!("t-{n}");
    a.message = format!("test alert number {n}");
    a.time += n as u64 * 1000;
    a
}

/// The alert number of an RFC 5424 line rsyslog wrote.
fn number(line: &str) -> usize {
    let m = syslog_rfc5424::parse_message(line).unwrap_or_else(|e| panic!("{e:?}: {line}"));
    let id = m.sd.find_tuple(SD_ID, "alertId").unwrap_or_else(|| panic!("no alertId: {line}"));
    id.strip_prefix("t-").unwrap().parse().unwrap()
}

/// Counts of a run: (unique, duplicated, lost, in order ignoring duplicates).
fn tally(lines: &[String], sent: usize) -> (usize, usize, usize, bool) {
    let mut seen = HashSet::new();
    let mut firsts = Vec::new();
    for l in lines {
        let n = number(l);
        if seen.insert(n) {
            firsts.push(n);
        }
    }
    let in_order = firsts.windows(2).all(|w| w[0] < w[1]);
    let lost = (0..sent).filter(|n| !seen.contains(n)).count();
    (seen.len(), lines.len() - seen.len(), lost, in_order)
}

fn sender() -> Sender {
    Sender { hostname: "sensor-7".into(), proc_id: "99".into(), ..Sender::default() }
}

/// Sends 40 alerts in RFC 5424 and CEF to `target`, and checks what `rs` wrote: every
/// message exactly as rendered, fields parsing back, sequence ids in order.
fn deliver_both_formats(rs: &Rsyslog, target: &str, tls: Option<TlsFiles>, max_octets: Option<usize>) {
    let rt = runtime();
    let t = Target::parse(target).unwrap();
    let cfg = |format| OutputConfig { target: t.clone(), format, sender: sender(), tls: tls.clone() };
    let mut a = SyslogOutput::start(cfg(Format::Rfc5424), &SpoolConfig::default(), rt.handle()).unwrap();
    let mut c = SyslogOutput::start(cfg(Format::Cef), &SpoolConfig::default(), rt.handle()).unwrap();
    let alerts: Vec<Alert> = (0..40).map(alert).collect();
    for chunk in alerts.chunks(7) {
        a.emit(chunk).unwrap();
        c.emit(chunk).unwrap();
    }
    let (sa, sc) = (a.stats(), c.stats());
    assert_eq!(a.drain(Duration::from_secs(10)).left, 0, "{:?}", sa.snapshot());
    assert_eq!(c.drain(Duration::from_secs(10)).left, 0, "{:?}", sc.snapshot());
    assert_eq!(sa.snapshot().acked, 40);
    let lines = rs.wait_lines(80);
    assert_eq!(lines.len(), 80, "{target}: {lines:#?}");
    let s = Sender { max_octets, ..sender() };
    let (rfc, cef): (Vec<&String>, Vec<&String>) = lines.iter().partition(|l| !l.contains(" cef - CEF:0|"));
    assert_eq!(rfc.len(), 40);
    for (i, l) in rfc.iter().enumerate() {
        assert_eq!(**l, rfc5424(&alerts[i], &s, i as u64 + 1), "{target}: message {i} arrived as rendered");
        let m = syslog_rfc5424::parse_message(l.as_str()).unwrap();
        assert_eq!(m.msgid.as_deref(), Some("remote_control_session"));
        assert_eq!(m.hostname.as_deref(), Some("sensor-7"));
        assert_eq!(m.sd.find_tuple(SD_ID, "alertId").map(String::as_str), Some(alerts[i].id.as_str()));
        assert_eq!(m.sd.find_tuple(SD_ID, "tool").map(String::as_str), Some("vnc"));
        assert_eq!(m.sd.find_tuple("meta", "sequenceId"), Some(&(i + 1).to_string()), "in order");
        assert_eq!(m.msg, format!("\u{feff}test alert number {i}"));
    }
    assert_eq!(cef.len(), 40);
    for (i, l) in cef.iter().enumerate() {
        assert_eq!(**l, cef_syslog(&alerts[i], &s), "{target}: CEF {i} intact");
        let m = syslog_rfc5424::parse_message(l.as_str()).unwrap();
        assert_eq!(m.msgid.as_deref(), Some("cef"));
        assert!(m.msg.starts_with("CEF:0|farhand|farhand|") && m.msg.contains("externalId=t-"), "{}", m.msg);
        assert!(m.msg.ends_with(&format!("msg=test alert number {i}")), "{}", m.msg);
    }
}

/// [`deliver_both_formats`] through a plain collector, over UDP (messages of at most 2048
/// octets) or TCP (no limit).
fn deliver_plain(udp: bool) {
    if !have_rsyslog(false) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let tcp = free_tcp_port();
    let udp = udp.then(free_udp_port);
    let mut rs = Rsyslog::new(dir.path(), tcp, udp, None);
    rs.start();
    match udp {
        Some(udp) => deliver_both_formats(&rs, &format!("udp://127.0.0.1:{udp}"), None, Some(2048)),
        None => deliver_both_formats(&rs, &format!("tcp://127.0.0.1:{tcp}"), None, None),
    }
    rs.stop();
}

#[test]
fn udp_delivers_every_alert() {
    deliver_plain(true);
}

#[test]
fn tcp_delivers_every_alert() {
    deliver_plain(false);
}

/// A CA, a server certificate for localhost / 127.0.0.1 and a client certificate, as PEM
/// files in `dir`: (ca, server cert, server key, client cert, client key).
fn pki(dir: &Path) -> [PathBuf; 5] {
    use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "farhand test CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let leaf = |names: Vec<String>, cn: &str, usage| {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(names).unwrap();
        p.distinguished_name.push(DnType::CommonName, cn);
        p.extended_key_usages = vec![usage];
        (p.signed_by(&key, &issuer).unwrap().pem(), key.serialize_pem())
    };
    let (srv, srv_key) =
        leaf(vec!["localhost".into(), "127.0.0.1".into()], "collector", ExtendedKeyUsagePurpose::ServerAuth);
    let (cli, cli_key) = leaf(vec!["sensor-7.test".into()], "sensor-7", ExtendedKeyUsagePurpose::ClientAuth);
    let files = ["ca.pem", "server.pem", "server.key", "client.pem", "client.key"].map(|f| dir.join(f));
    for (path, pem) in files.iter().zip([ca_cert.pem(), srv, srv_key, cli, cli_key]) {
        fs::write(path, pem).unwrap();
    }
    files
}

#[test]
fn tls_delivers_every_alert_with_mutual_authentication() {
    if !have_rsyslog(true) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let [ca, cert, key, client_cert, client_key] = pki(dir.path());
    let port = free_tcp_port();
    let server = ServerTls { ca: ca.clone(), cert, key, mutual: true };
    let mut rs = Rsyslog::new(dir.path(), port, None, Some(&server));
    rs.start();
    let files = TlsFiles { ca: ca.clone(), cert: Some(client_cert), key: Some(client_key), server_name: None };
    deliver_both_formats(&rs, &format!("tls://127.0.0.1:{port}"), Some(files.clone()), None);

    // A collector certificate from another CA (of the same name) is refused: nothing is
    // sent, the alert stays queued and the error says why.
    let other = tempfile::tempdir().unwrap();
    let [other_ca, ..] = pki(other.path());
    let rt = runtime();
    let bad = OutputConfig {
        target: Target::parse(&format!("tls://localhost:{port}")).unwrap(),
        format: Format::Rfc5424,
        sender: sender(),
        tls: Some(TlsFiles { ca: other_ca, ..files }),
    };
    let mut out = SyslogOutput::start(bad, &SpoolConfig::default(), rt.handle()).unwrap();
    out.emit(&[alert(1000)]).unwrap();
    let stats = out.stats();
    let r = out.drain(Duration::from_millis(800));
    assert_eq!((r.delivered_all, r.left), (false, 1));
    let s = stats.snapshot();
    assert_eq!((s.sent, s.acked), (0, 0));
    assert!(
        s.last_error.contains("TLS handshake") && s.last_error.contains("invalid peer certificate"),
        "{}",
        s.last_error
    );
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(rs.lines().len(), 80, "nothing more arrived");
    rs.stop();
}

/// An RFC 5424 output to a plain TCP collector on 127.0.0.1:`port`.
fn tcp_rfc5424(port: u16) -> OutputConfig {
    OutputConfig::new(Target::parse(&format!("tcp://127.0.0.1:{port}")).unwrap(), Format::Rfc5424)
}

/// What the spool tests share: in one temp dir, a TCP collector (`collector/`, not yet
/// started), a disk spool (`spool/`) and an RFC 5424 output to that collector.
struct SpoolRig {
    /// Holds the temp dir.
    _dir: tempfile::TempDir,
    port: u16,
    rs: Rsyslog,
    rt: tokio::runtime::Runtime,
    spool: SpoolConfig,
    cfg: OutputConfig,
}

/// The [`SpoolRig`], or None (after the `skipped:` line) without rsyslog.
fn spool_rig() -> Option<SpoolRig> {
    if !have_rsyslog(false) {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_tcp_port();
    let rs = Rsyslog::new(&dir.path().join("collector"), port, None, None);
    let spool = SpoolConfig { dir: Some(dir.path().join("spool")), ..SpoolConfig::default() };
    Some(SpoolRig { port, rs, rt: runtime(), spool, cfg: tcp_rfc5424(port), _dir: dir })
}

/// Emits alerts `range` one every `every`, on schedule.
fn emit_steadily(out: &mut SyslogOutput, range: std::ops::Range<usize>, every: Duration) {
    let t0 = Instant::now();
    for (k, n) in range.enumerate() {
        let due = t0 + every * k as u32;
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let before = Instant::now();
        out.emit(&[alert(n)]).unwrap();
        assert!(before.elapsed() < Duration::from_millis(100), "emit blocked for {:?}", before.elapsed());
    }
}

#[test]
fn tcp_outages_lose_nothing_and_keep_order() {
    let Some(SpoolRig { _dir, mut rs, rt, spool, cfg, .. }) = spool_rig() else { return };
    rs.start();
    let mut out = SyslogOutput::start(cfg, &spool, rt.handle()).unwrap();
    let stats = out.stats();
    let n = 1200;
    let t0 = Instant::now();
    // Two outages of about 1 s while alerts keep coming (one per 5 ms for 6 s).
    let control = std::thread::spawn(move || {
        for at in [1500, 3800] {
            std::thread::sleep(Duration::from_millis(at).saturating_sub(t0.elapsed()));
            rs.stop();
            std::thread::sleep(Duration::from_millis(1000));
            rs.start();
        }
        rs
    });
    emit_steadily(&mut out, 0..n, Duration::from_millis(5));
    out.flush().unwrap();
    let rs = control.join().unwrap();
    let drained = out.drain(Duration::from_secs(15));
    let lines = rs.wait_lines(n);
    let (unique, dup, lost, in_order) = tally(&lines, n);
    let s = stats.snapshot();
    eprintln!(
        "tcp outages: queued {} sent {} received {} unique {unique} duplicated {dup} lost {lost} resent {} reconnects {} \
         drained {drained:?} in {:.1} s",
        s.queued,
        s.sent,
        lines.len(),
        s.resent,
        s.reconnects,
        t0.elapsed().as_secs_f64()
    );
    assert!(drained.delivered_all, "{s:?}");
    assert_eq!(s.queued, n as u64);
    assert_eq!(s.overflow, 0);
    assert!(s.reconnects >= 2, "{s:?}");
    assert_eq!(lost, 0, "lost messages");
    assert!(in_order, "order kept");
    assert_eq!(s.acked, n as u64);
}

#[test]
fn a_farhand_restart_sends_the_spooled_alerts_first() {
    let Some(SpoolRig { _dir, mut rs, rt, spool, cfg, .. }) = spool_rig() else { return };
    rs.start();

    // First run: 100 alerts delivered, then the collector goes down and 100 more are spooled.
    let mut first = SyslogOutput::start(cfg.clone(), &spool, rt.handle()).unwrap();
    let alerts: Vec<Alert> = (0..100).map(alert).collect();
    first.emit(&alerts).unwrap();
    let stats = first.stats();
    let sent = poll(Duration::from_secs(10), Duration::from_millis(10), || stats.backlog.load(Ordering::Relaxed) == 0);
    assert!(sent, "{:?}", stats.snapshot());
    assert_eq!(rs.wait_lines(100).len(), 100);
    rs.stop();
    let alerts: Vec<Alert> = (100..200).map(alert).collect();
    first.emit(&alerts).unwrap();
    first.flush().unwrap();
    let r = first.drain(Duration::from_millis(300));
    assert_eq!(r, super::DrainResult { delivered_all: false, left: 100 });

    // Second run on the same spool: 50 newer alerts, then the collector comes back.
    let mut second = SyslogOutput::start(cfg.clone(), &spool, rt.handle()).unwrap();
    let stats = second.stats();
    assert_eq!(stats.recovered.load(Ordering::Relaxed), 100);
    let alerts: Vec<Alert> = (200..250).map(alert).collect();
    second.emit(&alerts).unwrap();
    rs.start();
    let r = second.drain(Duration::from_secs(10));
    assert_eq!(r, super::DrainResult { delivered_all: true, left: 0 }, "{:?}", stats.snapshot());
    let lines = rs.wait_lines(250);
    let (unique, dup, lost, in_order) = tally(&lines, 250);
    eprintln!("farhand restart: received {} unique {unique} duplicated {dup} lost {lost}", lines.len());
    assert_eq!(lost, 0);
    assert!(in_order, "spooled (older) alerts before newer ones");

    // Nothing is left for a third run, and `flush_spool` says so.
    let res = super::flush_spool(vec![cfg], &spool, Duration::from_secs(1), rt.handle()).unwrap();
    assert_eq!(res.len(), 1);
    assert_eq!(res[0].1, super::DrainResult { delivered_all: true, left: 0 });
    rs.stop();
}

#[test]
fn flush_spool_delivers_what_an_earlier_run_left() {
    let Some(SpoolRig { _dir, port, mut rs, rt, spool, cfg }) = spool_rig() else { return };
    // Collector down: everything stays spooled.
    let mut out = SyslogOutput::start(cfg.clone(), &spool, rt.handle()).unwrap();
    out.emit(&(0..30).map(alert).collect::<Vec<_>>()).unwrap();
    assert_eq!(out.drain(Duration::from_millis(200)).left, 30);
    rs.start();
    let res = super::flush_spool(vec![cfg], &spool, Duration::from_secs(10), rt.handle()).unwrap();
    assert_eq!(res[0].0, format!("tcp://127.0.0.1:{port} rfc5424"));
    assert!(res[0].1.delivered_all, "{res:?}");
    let lines = rs.wait_lines(30);
    assert_eq!(tally(&lines, 30), (30, 0, 0, true));
    rs.stop();
}

#[test]
fn a_full_spool_drops_and_counts_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    // Nobody listens on this port: the collector is down.
    let port = free_tcp_port();
    for disk in [true, false] {
        let spool = SpoolConfig { dir: disk.then(|| dir.path().join("spool")), max_bytes: 4096 };
        let mut out = SyslogOutput::start(tcp_rfc5424(port), &spool, rt.handle()).unwrap();
        let t0 = Instant::now();
        for n in 0..200 {
            out.emit(&[alert(n)]).unwrap();
        }
        let took = t0.elapsed();
        let s = out.stats().snapshot();
        assert!(took < Duration::from_secs(2), "emitting 200 alerts took {took:?}");
        assert!(s.queued > 0 && s.overflow > 0, "{s:?}");
        assert_eq!(s.queued + s.overflow, 200);
        assert_eq!(out.written(), s.queued);
        assert!(s.backlog_bytes <= 4096 && s.backlog == s.queued, "{s:?}");
        assert_eq!(s.acked, 0);
        let stats = out.stats();
        let r = out.drain(Duration::from_millis(300));
        assert_eq!((r.delivered_all, r.left), (false, s.queued));
        let e = stats.last_error();
        assert!(e.contains("cannot connect") && e.contains("refused"), "{e}");
        eprintln!("full spool (disk {disk}): queued {} overflow {} in {took:?}", s.queued, s.overflow);
    }
}

/// The messages of an octet-counted (RFC 6587) stream, read until the peer closes or `limit`.
fn read_framed(mut s: TcpStream, limit: Duration) -> Vec<String> {
    use std::io::Read;
    s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    let t0 = Instant::now();
    let mut raw = Vec::new();
    let mut chunk = [0u8; 8192];
    while t0.elapsed() < limit {
        match s.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&chunk[..n]),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(e) => panic!("{e}"),
        }
    }
    let mut msgs = Vec::new();
    let mut rest = &raw[..];
    while let Some(sp) = rest.iter().position(|&b| b == b' ') {
        let len: usize = std::str::from_utf8(&rest[..sp]).unwrap().parse().unwrap();
        msgs.push(String::from_utf8(rest[sp + 1..sp + 1 + len].to_vec()).unwrap());
        rest = &rest[sp + 1 + len..];
    }
    msgs
}

/// A collector whose kernel acknowledged the messages but which closed its socket before
/// reading them (what a stopping collector does) loses nothing: they were not yet settled,
/// so they go again on the next connection; a drain then ends on the collector's answering
/// close without waiting out the settle window.
#[test]
fn acknowledged_but_unread_messages_go_again() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let rt = runtime();
    let mut out = SyslogOutput::start(tcp_rfc5424(port), &SpoolConfig::default(), rt.handle()).unwrap();
    let stats = out.stats();
    // The sender connects once it has something to send.
    out.emit(&(0..50).map(alert).collect::<Vec<_>>()).unwrap();
    let (first, _) = listener.accept().unwrap_or_else(|e| panic!("{e}"));
    assert!(poll(Duration::from_secs(5), Duration::from_millis(5), || stats.sent.load(Ordering::Relaxed) == 50));
    // Long enough for the kernel's acknowledgements, well inside the settle window.
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(stats.acked.load(Ordering::Relaxed), 0, "acknowledged before settling");
    drop(first); // unread octets: the kernel resets the connection
    let (second, _) = listener.accept().unwrap_or_else(|e| panic!("{e}"));
    let reader = std::thread::spawn(move || read_framed(second, Duration::from_secs(10)));
    assert!(poll(Duration::from_secs(5), Duration::from_millis(5), || stats.sent.load(Ordering::Relaxed) >= 100));
    let t0 = Instant::now();
    let drained = out.drain(Duration::from_secs(5));
    let took = t0.elapsed();
    let msgs = reader.join().unwrap();
    let numbers: Vec<usize> = msgs.iter().map(|m| number(m)).collect();
    let s = stats.snapshot();
    eprintln!(
        "unread then reset: resent {} received again {} drained {drained:?} in {took:?}",
        s.resent,
        numbers.len()
    );
    assert_eq!(numbers, (0..50).collect::<Vec<_>>());
    assert_eq!(s.resent, 50);
    assert_eq!(drained, super::DrainResult { delivered_all: true, left: 0 });
    assert!(took < super::forward::SETTLE, "the answering close confirmed the delivery");
    assert_eq!(s.acked, 50);
}
