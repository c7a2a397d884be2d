//! The auditors' report as a real browser renders it: a week of realistic data from two
//! sensors is written with `write_report`, then Debian's Chromium (headless) takes a
//! screenshot of `report.html` and dumps its DOM.
//!
//! Asserts: Chromium exits 0, the screenshot is a PNG of more than 20 kB, Chromium logs no
//! console error (`:CONSOLE(` lines, `Uncaught`), the DOM holds every chart title and at
//! least six `<svg>` elements, and the written directory verifies. Prints the render time and
//! the report's size on one stderr line, and copies the screenshot to
//! `target/report-screenshot.png` (the empty report's to `target/report-screenshot-empty.png`,
//! the printed PDF to `target/report-print.pdf`, the page to `target/report-sample.html`) for
//! people to look at.
//!
//! Skips (one `skipped:` line on stderr) when `/usr/bin/chromium` is absent.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a failed expectation should panic with its message"
)]

mod common;

use farhand_report::audit::{ReportMeta, verify, write_report};
use farhand_report::records::{AlertRecord, EndpointRecord, ReportData, SessionRecord};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

const CHROMIUM: &str = "/usr/bin/chromium";
/// 2025-03-03T00:00:00Z, a Monday.
const T0: i64 = 1_740_960_000_000_000;
const HOUR: i64 = 3_600_000_000;
const DAY: i64 = 24 * HOUR;

/// A small deterministic generator (64-bit LCG), so the data is the same every run.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len() as u64) as usize]
    }
}

struct Laptop {
    sensor: &'static str,
    ip: &'static str,
    mac: &'static str,
    host: &'static str,
}

const LAPTOPS: [Laptop; 8] = [
    Laptop { sensor: "hq-core-1", ip: "10.41.0.120", mac: "3c:52:82:0a:11:20", host: "lt-fin-0120.corp.example" },
    Laptop { sensor: "hq-core-1", ip: "10.41.0.87", mac: "3c:52:82:0a:10:87", host: "lt-hr-0087.corp.example" },
    Laptop { sensor: "hq-core-1", ip: "10.41.2.14", mac: "f8:75:a4:22:02:14", host: "lt-dev-0214.corp.example" },
    Laptop { sensor: "hq-core-1", ip: "10.41.3.201", mac: "f8:75:a4:22:03:c9", host: "lt-sales-0321.corp.example" },
    Laptop { sensor: "branch-lyon", ip: "10.52.7.33", mac: "00:e0:4c:68:07:21", host: "lt-lyon-0733.corp.example" },
    Laptop { sensor: "branch-lyon", ip: "10.52.7.90", mac: "00:e0:4c:68:07:5a", host: "lt-lyon-0790.corp.example" },
    Laptop { sensor: "branch-lyon", ip: "10.52.8.4", mac: "a4:bb:6d:10:08:04", host: "kiosk-lyon-0804" },
    Laptop {
        sensor: "branch-lyon",
        ip: "fd00:52::1:17",
        mac: "a4:bb:6d:10:01:17",
        host: "lt-lyon-v6-0117.corp.example",
    },
];

/// Tools with their port and category.
const TOOLS: [(&str, u16); 5] = [("ssh", 22), ("anydesk", 7070), ("rdp", 3389), ("vnc", 5900), ("teamviewer", 5938)];

/// A peer: address, country, AS number, AS organisation.
type Peer = (&'static str, Option<&'static str>, Option<u32>, Option<&'static str>);

/// Peers with their country, AS and organisation.
const PEERS: [Peer; 9] = [
    ("203.0.113.9", Some("NL"), Some(64500), Some("Example Hosting B.V.")),
    ("198.51.100.23", Some("US"), Some(64501), Some("Example Cloud, Inc.")),
    ("192.0.2.77", Some("RU"), Some(64502), Some("Example Telecom")),
    ("203.0.113.140", Some("VN"), Some(64503), Some("Example Broadband")),
    ("198.51.100.200", Some("DE"), Some(64504), Some("Beispiel Rechenzentrum GmbH")),
    ("192.0.2.201", Some("FR"), Some(64505), Some("Exemple Réseaux SAS")),
    ("2001:db8:77::5", Some("SG"), Some(64506), Some("Example APAC, \"Pte\" Ltd")),
    ("203.0.113.66", None, None, None),
    ("192.0.2.5", Some("KP"), Some(64507), Some("=HYPERLINK(\"http://x.invalid\")")),
];

const SEVERITIES: [&str; 8] = ["Critical", "High", "High", "Medium", "Medium", "Medium", "Low", "Informational"];

const KINDS: [&str; 5] = [
    "remote_control_session",
    "remote_control_session",
    "anonymizing_tunnel",
    "location_contradicted",
    "remote_control_episode",
];

const RHYTHMS: [&str; 4] = ["human", "automated", "interactive_obfuscated", "too_few"];

fn realistic() -> ReportData {
    let mut r = Lcg(0x5eed_f00d);
    let mut sessions = Vec::new();
    for i in 0..40 {
        let lap = &LAPTOPS[i % LAPTOPS.len()];
        let (tool, port) = TOOLS[i % TOOLS.len()];
        let (peer_ip, country, asn, org) = *r.pick(&PEERS);
        let first = T0 + (r.below(7 * 24 * 60) as i64) * 60_000_000;
        let dur = (2 + r.below(120) as i64) * 60_000_000;
        let relayed = r.below(3) == 0;
        let gap = if r.below(8) == 0 {
            None
        } else if relayed {
            Some(60.0 + r.below(2400) as f64 / 10.0)
        } else {
            Some(r.below(450) as f64 / 10.0 - 5.0)
        };
        let keys = if tool == "ssh" || r.below(4) > 0 { Some(5 + r.below(3000)) } else { None };
        let rhythm = keys.map(|k| if k < 20 { "too_few" } else { *r.pick(&RHYTHMS[..3]) });
        let iki = match rhythm {
            Some("human") => Some(110.0 + r.below(900) as f64 / 10.0),
            Some("automated") => Some(5.0 + r.below(200) as f64 / 10.0),
            Some("interactive_obfuscated") => Some(250.0 + r.below(1500) as f64 / 10.0),
            _ => None,
        };
        sessions.push(SessionRecord {
            id: format!("sess-{i:03}"),
            sensor: lap.sensor.into(),
            tool: tool.into(),
            category: if i % 9 == 4 { "relay".into() } else { "remote_control".into() },
            direction: if r.below(3) == 0 { "outbound".into() } else { "inbound".into() },
            transport: if tool == "anydesk" && r.below(2) == 0 { "udp".into() } else { "tcp".into() },
            endpoint_ip: lap.ip.into(),
            peer_ip: peer_ip.into(),
            peer_port: port,
            peer_country: country.map(Into::into),
            peer_asn: asn,
            peer_org: org.map(Into::into),
            first_seen_us: first,
            last_seen_us: first + dur,
            bytes_in: 20_000 + r.below(50_000_000),
            bytes_out: 50_000 + r.below(400_000_000),
            severity: (*r.pick(&SEVERITIES[..4])).into(),
            gap_ms: gap,
            relayed: relayed && gap.is_some(),
            keys,
            iki_median_ms: iki,
            rhythm: rhythm.map(Into::into),
        });
    }
    sessions.sort_by(|a, b| a.first_seen_us.cmp(&b.first_seen_us).then(a.id.cmp(&b.id)));
    let mut alerts = Vec::new();
    for i in 0..200 {
        let s = &sessions[r.below(sessions.len() as u64) as usize];
        // Office hours are busier.
        let day = r.below(7) as i64;
        let hour = if r.below(3) == 0 { r.below(24) } else { 8 + r.below(10) } as i64;
        let time = T0 + day * DAY + hour * HOUR + r.below(3_600_000_000) as i64;
        let kind = *r.pick(&KINDS);
        let severity = *r.pick(&SEVERITIES);
        let host = LAPTOPS.iter().find(|l| l.ip == s.endpoint_ip).map(|l| l.host).unwrap_or("?");
        let message = match kind {
            "location_contradicted" => format!(
                "The peer {} answers in {} ms, too fast for its geolocation ({}); the location is contradicted.",
                s.peer_ip,
                5 + r.below(30),
                s.peer_country.as_deref().unwrap_or("unknown")
            ),
            "anonymizing_tunnel" => {
                format!("{host} ({}) keeps a tunnel to {}:{} open ({}).", s.endpoint_ip, s.peer_ip, s.peer_port, s.tool)
            }
            _ => format!(
                "{} session into {host} ({}) from {}:{}{}; {} keystrokes typed with a {} rhythm.",
                s.tool,
                s.endpoint_ip,
                s.peer_ip,
                s.peer_port,
                if s.relayed { ", the controller is beyond a relay" } else { "" },
                s.keys.unwrap_or(0),
                s.rhythm.as_deref().unwrap_or("unknown")
            ),
        };
        alerts.push(AlertRecord {
            id: format!("alert-{i:04}"),
            sensor: s.sensor.clone(),
            time_us: time,
            kind: kind.into(),
            activity: if r.below(4) == 0 { "update".into() } else { "create".into() },
            severity: severity.into(),
            tool: s.tool.clone(),
            endpoint_ip: s.endpoint_ip.clone(),
            peer_ip: s.peer_ip.clone(),
            peer_port: s.peer_port,
            peer_country: s.peer_country.clone(),
            peer_asn: s.peer_asn,
            peer_org: s.peer_org.clone(),
            gap_ms: s.gap_ms,
            message,
            json: format!("{{\"id\":\"alert-{i:04}\"}}"),
        });
    }
    // One hostile alert: a host name and message made to break out of the page.
    alerts[17].message = "<script>document.title='pwned'</script><img src=x onerror=\"alert(1)\"> \u{7}".into();
    alerts.sort_by(|a, b| a.time_us.cmp(&b.time_us).then(a.id.cmp(&b.id)));
    let mut endpoints: Vec<EndpointRecord> = LAPTOPS
        .iter()
        .map(|l| EndpointRecord {
            sensor: l.sensor.into(),
            ip: l.ip.into(),
            mac: Some(l.mac.into()),
            hostname: Some(l.host.into()),
            first_seen_us: T0,
            last_seen_us: T0 + 6 * DAY,
            alerts: alerts.iter().filter(|a| a.endpoint_ip == l.ip).count() as u64,
        })
        .collect();
    endpoints[6].hostname = Some("<script>alert('host')</script>".into());
    endpoints[3].mac = None;
    endpoints.sort_by(|a, b| a.sensor.cmp(&b.sensor).then(a.ip.cmp(&b.ip)));
    ReportData {
        from_us: T0,
        to_us: T0 + 7 * DAY,
        sensors: vec!["branch-lyon".into(), "hq-core-1".into()],
        alerts,
        sessions,
        endpoints,
    }
}

/// Runs `cmd` with a deadline; Err when it does not finish in time (it is killed).
fn run(mut cmd: Command, deadline: Duration) -> Result<Output, String> {
    let mut child =
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().map_err(|e| e.to_string())?;
    // Read both pipes on threads so a chatty browser cannot block on a full pipe.
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut b = Vec::new();
        std::io::Read::read_to_end(&mut out, &mut b).ok();
        b
    });
    let t_err = std::thread::spawn(move || {
        let mut b = Vec::new();
        std::io::Read::read_to_end(&mut err, &mut b).ok();
        b
    });
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().map_err(|e| e.to_string())? {
            break s;
        }
        if start.elapsed() > deadline {
            child.kill().ok();
            child.wait().ok();
            return Err(format!("did not finish in {deadline:?}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Ok(Output { status, stdout: t_out.join().unwrap(), stderr: t_err.join().unwrap() })
}

fn chromium(profile: &Path, extra: &[String], url: &str) -> Command {
    let mut c = Command::new(CHROMIUM);
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--enable-logging=stderr",
        "--v=0",
    ]);
    c.arg(format!("--user-data-dir={}", profile.display()));
    c.args(extra);
    c.arg(url);
    c
}

/// The meta both reports share, for `data` generated at `generated_us`.
fn meta(data: &ReportData, generated_us: i64) -> ReportMeta {
    ReportMeta {
        title: "farhand report".into(),
        generated_us,
        sensors: data.sensors.clone(),
        store: "sqlite /var/lib/farhand/store.db".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    }
}

/// `name` in the workspace's `target/`, where a copy is kept for people to look at.
fn kept(name: &str) -> PathBuf {
    [env!("CARGO_MANIFEST_DIR"), "..", "..", "target", name].iter().collect()
}

/// Screenshots `url` into `png` with a window of `size` (`1280,2400`), in a fresh profile
/// under `tmp`: Chromium must exit 0 and log no console error. Returns how long it ran.
fn screenshot(tmp: &Path, url: &str, png: &Path, size: &str) -> Duration {
    let extra = vec![format!("--screenshot={}", png.display()), format!("--window-size={size}")];
    let started = Instant::now();
    let shot = run(chromium(&tmp.join("profile-shot"), &extra, url), Duration::from_secs(120)).unwrap();
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&shot.stderr);
    assert!(shot.status.success(), "chromium exited {:?}: {stderr}", shot.status);
    let errors = console_errors(&stderr);
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    took
}

/// Chromium's run of `--dump-dom` on `url`, in a fresh profile under `tmp`: (its exit status,
/// the DOM, its log).
fn dump_dom(tmp: &Path, url: &str) -> (ExitStatus, String, String) {
    let dom =
        run(chromium(&tmp.join("profile-dom"), &["--dump-dom".to_string()], url), Duration::from_secs(120)).unwrap();
    let text = String::from_utf8_lossy(&dom.stdout).into_owned();
    let log = String::from_utf8_lossy(&dom.stderr).into_owned();
    (dom.status, text, log)
}

/// Console errors in Chromium's log: `…:CONSOLE(line)] "message", source: …` and uncaught
/// exceptions.
fn console_errors(stderr: &str) -> Vec<&str> {
    stderr.lines().filter(|l| l.contains(":CONSOLE(") || l.contains("Uncaught")).collect()
}

#[test]
fn chromium_renders_the_report() {
    if !have_chromium() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("report-2025-w10");
    let data = realistic();
    assert_eq!((data.alerts.len(), data.sessions.len()), (200, 40));
    let summary = write_report(&data, &meta(&data, T0 + 7 * DAY + 2 * HOUR), &out, None).unwrap();
    verify(std::slice::from_ref(&out)).unwrap();
    let url = format!("file://{}", out.join("report.html").display());

    // Screenshot.
    let png = tmp.path().join("report.png");
    let render = screenshot(tmp.path(), &url, &png, "1280,2400");
    let png_bytes = std::fs::read(&png).unwrap();
    assert!(png_bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    assert!(png_bytes.len() > 20_000, "screenshot of {} bytes: a blank page?", png_bytes.len());
    let keep = kept("report-screenshot.png");
    if let Err(e) = std::fs::copy(&png, &keep) {
        eprintln!("note: could not keep the screenshot at {}: {e}", keep.display());
    }
    std::fs::copy(out.join("report.html"), kept("report-sample.html")).ok();

    // The DOM as the browser built it.
    let (status, dom, dom_err) = dump_dom(tmp.path(), &url);
    assert!(status.success(), "chromium --dump-dom exited {status:?}: {dom_err}");
    let errors = console_errors(&dom_err);
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    for title in [
        "Alerts over time",
        "Alerts by kind",
        "Sessions by tool",
        "Peer countries",
        "Relay-gap distribution",
        "Keystroke rhythm",
        "Typing-rhythm labels",
        "Alerts by hour of day",
        "Top endpoints",
    ] {
        assert!(dom.contains(&format!(">{title}</h2>")), "no chart titled {title:?}");
    }
    let svgs = dom.matches("<svg").count();
    assert!(svgs >= 6, "{svgs} <svg> elements");
    // The hostile strings arrived as text: no element the data made, and the title untouched.
    assert!(!dom.contains("<script"), "a <script> element in the DOM");
    assert!(!dom.contains("<img"), "an <img> element in the DOM");
    assert!(
        dom.contains("&lt;script&gt;document.title='pwned'&lt;/script&gt;"),
        "the hostile message is shown as text"
    );
    assert!(dom.contains("<title>farhand report — "), "the page title changed");
    // Every alert is in the table (200 < the 500 cap), every laptop in the endpoints table.
    assert_eq!(dom.matches("<span class=\"badge sev-").count() - count_summary_badges(&dom), 200);
    assert!(dom.contains("lt-lyon-v6-0117.corp.example") && dom.contains("[2001:db8:77::5]:"));

    // Printed (the print stylesheet): a PDF of a few A4 pages.
    let pdf = tmp.path().join("report.pdf");
    let extra = vec![format!("--print-to-pdf={}", pdf.display()), "--no-pdf-header-footer".to_string()];
    let printed = run(chromium(&tmp.path().join("profile-pdf"), &extra, &url), Duration::from_secs(120)).unwrap();
    assert!(printed.status.success(), "chromium --print-to-pdf exited {:?}", printed.status);
    let pdf_bytes = std::fs::read(&pdf).unwrap();
    assert!(pdf_bytes.starts_with(b"%PDF-"), "not a PDF");
    // Page objects (`/Type /Page`, not the `/Type /Pages` tree).
    let text = String::from_utf8_lossy(&pdf_bytes);
    let pages =
        text.match_indices("/Type /Page").filter(|(i, m)| text.as_bytes().get(i + m.len()) != Some(&b's')).count();
    assert!(pages >= 2, "{pages} PDF pages");
    std::fs::copy(&pdf, kept("report-print.pdf")).ok();

    let total: u64 = summary.files.iter().map(|f| f.1).sum();
    eprintln!(
        "report_chromium: render {} ms (screenshot, wall), report.html {} bytes, report total {} bytes, \
         screenshot {} bytes, {} svg, PDF {} bytes, {} A4 pages",
        render.as_millis(),
        summary.html_bytes,
        total,
        png_bytes.len(),
        svgs,
        pdf_bytes.len(),
        pages
    );
}

#[test]
fn chromium_renders_an_empty_report() {
    if !have_chromium() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("report-empty");
    let data = ReportData { from_us: T0, to_us: T0 + DAY, sensors: vec!["hq-core-1".into()], ..Default::default() };
    write_report(&data, &meta(&data, T0 + DAY + HOUR), &out, None).unwrap();
    let url = format!("file://{}", out.join("report.html").display());
    let png = tmp.path().join("empty.png");
    screenshot(tmp.path(), &url, &png, "1280,1600");
    assert!(std::fs::metadata(&png).unwrap().len() > 10_000);
    std::fs::copy(&png, kept("report-screenshot-empty.png")).ok();
    let (status, dom, _) = dump_dom(tmp.path(), &url);
    assert!(status.success());
    assert!(dom.contains("No alerts in this period."), "the empty report does not say so");
    assert!(dom.matches("<svg").count() >= 6);
    assert!(dom.contains(">Alerts over time</h2>"));
}

/// The severity badges of the summary row (before the charts).
fn count_summary_badges(dom: &str) -> usize {
    let end = dom.find("<section class=\"charts\"").unwrap_or(0);
    dom[..end].matches("<span class=\"badge sev-").count()
}

/// Whether Chromium is installed; says why not.
fn have_chromium() -> bool {
    let there = Path::new(CHROMIUM).exists();
    if !there {
        common::skip(&format!("{CHROMIUM} is not installed"));
    }
    there
}
