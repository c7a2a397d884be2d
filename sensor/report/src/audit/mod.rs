//! Reports for auditors: one directory per period with a self-contained HTML page, CSV and
//! JSON exports, a privacy statement, and a SHA-256 manifest that chains to the previous
//! report's.
//!
//! ```text
//! ReportData + ReportMeta ─► write_report ─► out/ report.html alerts.csv sessions.csv
//!                                                 report.json privacy.txt manifest.json
//! [dir₁, dir₂, …] ─► verify ─► the first broken file or link, named
//! ```
//!
//! - [`html`]: the page (inline CSS and SVG, no script); [`svg`]: its charts
//! - [`csv`]: `alerts.csv` and `sessions.csv` (RFC 4180, formula-injection guard)
//! - [`manifest`]: the manifest, atomic writes and [`verify`]
//! - [`period`]: [`parse_time`] and [`Period`] for the command line
//!
//! # Contract
//! - [`write_report`] writes [`FILES`] and then `manifest.json` into `out`, each through a
//!   temporary file and a rename; the manifest is written last, so a directory whose manifest
//!   verifies is complete. It creates `out` when missing, and writes into an existing one
//!   only when it is empty or is a farhand report directory (a manifest of ours and nothing
//!   but report files), which it then replaces as a whole. Any other content is refused,
//!   named, and left untouched: files are never mixed.
//! - `previous` (a report directory, or its `manifest.json`) must hold a readable manifest of
//!   ours; its SHA-256 becomes the new manifest's `previous`. A report cannot be its own
//!   previous.
//! - The report carries what [`ReportData`] holds for the period and nothing else; every
//!   string from the data is escaped for its format (HTML, CSV, JSON).
//! - Never panics, whatever the data (empty, hostile strings, times beyond year 9999).

pub mod csv;
pub mod html;
pub mod manifest;
pub mod period;
mod privacy;
pub mod svg;

pub use manifest::{Manifest, ManifestFile, ManifestPeriod, VerifySummary, verify};
pub use period::{Period, parse_time};

use crate::records::ReportData;
use manifest::{MANIFEST, read_manifest, sha256_hex, sync_dir, temp_name, write_atomic};
use period::rfc3339;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The report's files besides `manifest.json`, sorted by name.
pub const FILES: [&str; 5] = ["alerts.csv", "privacy.txt", "report.html", "report.json", "sessions.csv"];

/// OCSF severity captions, most severe first (the order of the report's charts and badges).
pub const SEVERITIES: [&str; 8] = ["Fatal", "Critical", "High", "Medium", "Low", "Informational", "Unknown", "Other"];

/// Who made the report and from what.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReportMeta {
    /// The page's title (`farhand report`).
    pub title: String,
    /// When the report was generated, µs since the epoch.
    pub generated_us: i64,
    /// The sensors it covers.
    pub sensors: Vec<String>,
    /// The store it was read from, described (`sqlite /var/lib/farhand/store.db`).
    pub store: String,
    /// farhand's version.
    pub version: String,
}

/// What [`write_report`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportSummary {
    /// Every file written (the manifest included) with its size in bytes, sorted by name.
    pub files: Vec<(String, u64)>,
    /// The size of `report.html`.
    pub html_bytes: u64,
    /// The SHA-256 of `manifest.json` (hex): record it; the next report chains to it.
    pub manifest_sha256: String,
}

/// The summary figures of a report (its HTML cards and `report.json`'s `summary`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportCounts {
    /// Alerts in the period.
    pub alerts: u64,
    /// Alerts per severity caption.
    pub alerts_by_severity: BTreeMap<String, u64>,
    /// Alerts per kind.
    pub alerts_by_kind: BTreeMap<String, u64>,
    /// Alerts per peer country (`unknown` when enrichment had none).
    pub alerts_by_country: BTreeMap<String, u64>,
    /// Sessions in the period.
    pub sessions: u64,
    /// Sessions whose relay gap puts the controller beyond a relay.
    pub sessions_relayed: u64,
    /// Sessions per tool.
    pub sessions_by_tool: BTreeMap<String, u64>,
    /// Distinct inside endpoints (sensor, address) named by alerts, sessions or endpoint rows.
    pub endpoints: u64,
    /// Distinct known peer countries.
    pub peer_countries: u64,
    /// Distinct sensors (of the meta and the data).
    pub sensors: u64,
}

impl ReportCounts {
    /// The figures of `data` (and `meta`'s sensors).
    pub fn of(data: &ReportData, meta: &ReportMeta) -> ReportCounts {
        let mut c = ReportCounts {
            alerts: data.alerts.len() as u64,
            sessions: data.sessions.len() as u64,
            ..Default::default()
        };
        let mut endpoints = BTreeSet::new();
        let mut countries = BTreeSet::new();
        for a in &data.alerts {
            *c.alerts_by_severity.entry(a.severity.clone()).or_default() += 1;
            *c.alerts_by_kind.entry(a.kind.clone()).or_default() += 1;
            let country = a.peer_country.clone().unwrap_or_else(|| "unknown".to_string());
            *c.alerts_by_country.entry(country).or_default() += 1;
            endpoints.insert((a.sensor.as_str(), a.endpoint_ip.as_str()));
            if let Some(k) = &a.peer_country {
                countries.insert(k.as_str());
            }
        }
        for s in &data.sessions {
            c.sessions_relayed += u64::from(s.relayed);
            *c.sessions_by_tool.entry(s.tool.clone()).or_default() += 1;
            endpoints.insert((s.sensor.as_str(), s.endpoint_ip.as_str()));
            if let Some(k) = &s.peer_country {
                countries.insert(k.as_str());
            }
        }
        for e in &data.endpoints {
            endpoints.insert((e.sensor.as_str(), e.ip.as_str()));
        }
        c.endpoints = endpoints.len() as u64;
        c.peer_countries = countries.len() as u64;
        let sensors: BTreeSet<&str> = meta.sensors.iter().chain(&data.sensors).map(String::as_str).collect();
        c.sensors = sensors.len() as u64;
        c
    }
}

/// `report.json`: the data with the meta and the summary figures.
#[derive(Serialize)]
struct ReportJson<'a> {
    format: u32,
    meta: &'a ReportMeta,
    period: ManifestPeriod,
    summary: &'a ReportCounts,
    data: &'a ReportData,
}

/// The directory a `previous` argument names (a report directory or its manifest).
fn previous_dir(p: &Path) -> PathBuf {
    if p.file_name().is_some_and(|n| n == MANIFEST) && !p.is_dir() {
        p.parent().map(Path::to_path_buf).unwrap_or_default()
    } else {
        p.to_path_buf()
    }
}

/// Makes sure `out` exists and may be written: empty, or a report directory of ours.
fn prepare_out(out: &Path) -> Result<(), String> {
    let shown = out.display();
    match std::fs::metadata(out) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return std::fs::create_dir_all(out).map_err(|e| format!("{shown}: cannot create: {e}"));
        }
        Err(e) => return Err(format!("{shown}: {e}")),
        Ok(m) if !m.is_dir() => return Err(format!("{shown}: not a directory")),
        Ok(_) => {}
    }
    let mut names = Vec::new();
    for e in std::fs::read_dir(out).map_err(|e| format!("{shown}: {e}"))? {
        let e = e.map_err(|e| format!("{shown}: {e}"))?;
        names.push(e.file_name().to_string_lossy().into_owned());
    }
    if names.is_empty() {
        return Ok(());
    }
    names.sort();
    if !names.iter().any(|n| n == MANIFEST) {
        return Err(format!(
            "{shown}: not empty and not a farhand report directory (no {MANIFEST}); refusing to mix files"
        ));
    }
    read_manifest(out).map_err(|e| format!("{e}; refusing to overwrite {shown}"))?;
    let ours =
        |n: &str| n == MANIFEST || n == temp_name(MANIFEST) || FILES.iter().any(|f| *f == n || temp_name(f) == n);
    if let Some(other) = names.iter().find(|n| !ours(n)) {
        return Err(format!("{}: not a report file; refusing to mix files in {shown}", out.join(other).display()));
    }
    Ok(())
}

/// Writes the report of `data` into `out` (see the module contract); `previous` is the
/// previous report's directory (or its `manifest.json`) for the chain.
pub fn write_report(
    data: &ReportData,
    meta: &ReportMeta,
    out: &Path,
    previous: Option<&Path>,
) -> Result<ReportSummary, String> {
    let previous_sha = match previous {
        None => None,
        Some(p) => {
            let dir = previous_dir(p);
            if let (Ok(a), Ok(b)) = (dir.canonicalize(), out.canonicalize())
                && a == b
            {
                return Err(format!("{}: a report cannot be its own previous", out.display()));
            }
            Some(read_manifest(&dir)?.1)
        }
    };
    prepare_out(out)?;
    let counts = ReportCounts::of(data, meta);
    let period = ManifestPeriod { from: rfc3339(data.from_us), to: rfc3339(data.to_us) };
    let json = ReportJson { format: manifest::FORMAT, meta, period: period.clone(), summary: &counts, data };
    let mut report_json = serde_json::to_vec_pretty(&json).map_err(|e| format!("report.json: {e}"))?;
    report_json.push(b'\n');
    let contents: [(&str, Vec<u8>); 5] = [
        ("alerts.csv", csv::alerts_csv(data).into_bytes()),
        ("privacy.txt", privacy::statement(data, meta).into_bytes()),
        ("report.html", html::render(data, meta, &counts).into_bytes()),
        ("report.json", report_json),
        ("sessions.csv", csv::sessions_csv(data).into_bytes()),
    ];
    let mut files = Vec::with_capacity(contents.len());
    let mut listed = Vec::with_capacity(contents.len());
    for (name, bytes) in &contents {
        write_atomic(out, name, bytes)?;
        files.push(((*name).to_string(), bytes.len() as u64));
        listed.push(ManifestFile { name: (*name).to_string(), size: bytes.len() as u64, sha256: sha256_hex(bytes) });
    }
    listed.sort_by(|a, b| a.name.cmp(&b.name));
    let m = Manifest {
        format: manifest::FORMAT,
        generated: rfc3339(meta.generated_us),
        period,
        files: listed,
        previous: previous_sha,
    };
    let mut mbytes = serde_json::to_vec_pretty(&m).map_err(|e| format!("{MANIFEST}: {e}"))?;
    mbytes.push(b'\n');
    write_atomic(out, MANIFEST, &mbytes)?;
    sync_dir(out);
    files.push((MANIFEST.to_string(), mbytes.len() as u64));
    files.sort();
    let html_bytes = files.iter().find(|(n, _)| n == "report.html").map(|f| f.1).unwrap_or(0);
    Ok(ReportSummary { files, html_bytes, manifest_sha256: sha256_hex(&mbytes) })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::records::{AlertRecord, EndpointRecord, SessionRecord};
    use std::fs;

    /// An alert at `time_us` of `severity`, from laptop 10.41.0.120 to 203.0.113.9:5938.
    pub(crate) fn alert(time_us: i64, severity: &str) -> AlertRecord {
        AlertRecord {
            id: format!("a-{time_us}"),
            sensor: "sensor-a".into(),
            time_us,
            kind: "remote_control_session".into(),
            activity: "create".into(),
            severity: severity.into(),
            tool: "teamviewer".into(),
            endpoint_ip: "10.41.0.120".into(),
            peer_ip: "203.0.113.9".into(),
            peer_port: 5938,
            peer_country: Some("NL".into()),
            peer_asn: Some(64500),
            peer_org: Some("Example Hosting".into()),
            gap_ms: None,
            message: "TeamViewer session into the laptop".into(),
            json: "{}".into(),
        }
    }

    /// A session of `tool` from `first_us` lasting `dur_us`; `keys` = (count, median ms, rhythm).
    pub(crate) fn session(
        tool: &str,
        first_us: i64,
        dur_us: i64,
        gap_ms: Option<f64>,
        relayed: bool,
        keys: Option<(u64, f64, &str)>,
    ) -> SessionRecord {
        // Between the same laptop and peer as the alerts.
        let AlertRecord { endpoint_ip, peer_ip, peer_port, peer_country, peer_asn, peer_org, .. } =
            alert(first_us, "High");
        SessionRecord {
            id: format!("s-{tool}-{first_us}"),
            sensor: "sensor-a".into(),
            tool: tool.into(),
            category: "remote_control".into(),
            direction: "inbound".into(),
            transport: "tcp".into(),
            endpoint_ip,
            peer_ip,
            peer_port,
            peer_country,
            peer_asn,
            peer_org,
            first_seen_us: first_us,
            last_seen_us: first_us.saturating_add(dur_us),
            bytes_in: 1000,
            bytes_out: 20000,
            severity: "High".into(),
            gap_ms,
            relayed,
            keys: keys.map(|k| k.0),
            iki_median_ms: keys.map(|k| k.1),
            rhythm: keys.map(|k| k.2.to_string()),
        }
    }

    const T0: i64 = 1_740_960_000_000_000; // 2025-03-03T00:00:00Z, a Monday

    fn meta() -> ReportMeta {
        ReportMeta {
            title: "farhand report".into(),
            generated_us: T0 + 8 * period::DAY_US,
            sensors: vec!["sensor-a".into()],
            store: "sqlite test.db".into(),
            version: "0.1.0".into(),
        }
    }

    fn data() -> ReportData {
        let mut alerts = Vec::new();
        for i in 0..20 {
            alerts.push(alert(T0 + i * 8 * period::HOUR_US, ["High", "Medium", "Low"][(i % 3) as usize]));
        }
        let sessions = vec![
            session("anydesk", T0, 60_000_000, Some(80.0), true, Some((500, 140.0, "human"))),
            session("ssh", T0 + period::DAY_US, 60_000_000, Some(3.0), false, Some((60, 40.0, "automated"))),
            session("vnc", T0 + 2 * period::DAY_US, 60_000_000, None, false, None),
        ];
        let endpoints = vec![EndpointRecord {
            sensor: "sensor-a".into(),
            ip: "10.41.0.120".into(),
            mac: Some("02:00:00:00:00:01".into()),
            hostname: Some("lt-0120".into()),
            first_seen_us: T0,
            last_seen_us: T0 + 6 * period::DAY_US,
            alerts: 20,
        }];
        ReportData {
            from_us: T0,
            to_us: T0 + 7 * period::DAY_US,
            sensors: vec!["sensor-a".into()],
            alerts,
            sessions,
            endpoints,
        }
    }

    fn flip_byte(path: &Path, at: usize) {
        let mut b = fs::read(path).unwrap();
        let i = at.min(b.len() - 1);
        b[i] ^= 0x01;
        fs::write(path, b).unwrap();
    }

    /// Three chained reports in `root`/r1..r3.
    fn chain(root: &Path) -> Vec<PathBuf> {
        let dirs: Vec<PathBuf> = (1..=3).map(|i| root.join(format!("r{i}"))).collect();
        let mut prev: Option<PathBuf> = None;
        for (i, d) in dirs.iter().enumerate() {
            let mut m = meta();
            m.generated_us += i as i64;
            write_report(&data(), &m, d, prev.as_deref()).unwrap();
            prev = Some(d.clone());
        }
        dirs
    }

    /// Rewrites `dir`'s manifest with `edit` applied (as someone covering their tracks would).
    fn edit_manifest(dir: &Path, edit: impl FnOnce(&mut Manifest)) {
        let mpath = dir.join(MANIFEST);
        let mut m: Manifest = serde_json::from_slice(&fs::read(&mpath).unwrap()).unwrap();
        edit(&mut m);
        fs::write(&mpath, serde_json::to_vec_pretty(&m).unwrap()).unwrap();
    }

    #[test]
    fn writes_every_file_and_a_manifest_that_verifies() {
        let t = tempfile::tempdir().unwrap();
        let out = t.path().join("a/b/report");
        let s = write_report(&data(), &meta(), &out, None).unwrap();
        let names: Vec<&str> = s.files.iter().map(|f| f.0.as_str()).collect();
        assert_eq!(names, ["alerts.csv", "manifest.json", "privacy.txt", "report.html", "report.json", "sessions.csv"]);
        for (n, size) in &s.files {
            assert_eq!(fs::metadata(out.join(n)).unwrap().len(), *size, "{n}");
        }
        assert_eq!(s.html_bytes, fs::metadata(out.join("report.html")).unwrap().len());
        let mbytes = fs::read(out.join(MANIFEST)).unwrap();
        assert_eq!(s.manifest_sha256, sha256_hex(&mbytes));
        let m: serde_json::Value = serde_json::from_slice(&mbytes).unwrap();
        assert_eq!(m["format"], 1);
        assert_eq!(m["generated"], "2025-03-11T00:00:00.000000Z");
        assert_eq!(m["period"]["from"], "2025-03-03T00:00:00.000000Z");
        assert_eq!(m["period"]["to"], "2025-03-10T00:00:00.000000Z");
        assert!(m["previous"].is_null());
        let listed: Vec<&str> = m["files"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
        assert_eq!(listed, FILES);
        let v = verify(std::slice::from_ref(&out)).unwrap();
        assert_eq!((v.dirs, v.files), (1, 5));
        assert_eq!(v.last_manifest_sha256, s.manifest_sha256);
        // report.json carries the data back.
        let j: serde_json::Value = serde_json::from_slice(&fs::read(out.join("report.json")).unwrap()).unwrap();
        let back: ReportData = serde_json::from_value(j["data"].clone()).unwrap();
        assert_eq!(back, data());
        assert_eq!(j["summary"]["alerts"], 20);
        assert_eq!(j["summary"]["sessions_relayed"], 1);
        assert_eq!(j["meta"]["title"], "farhand report");
    }

    #[test]
    fn an_untouched_chain_verifies() {
        let t = tempfile::tempdir().unwrap();
        let dirs = chain(t.path());
        let v = verify(&dirs).unwrap();
        assert_eq!((v.dirs, v.files), (3, 15));
        assert_eq!(v.first_previous, None);
        // The links are the manifests' hashes.
        let m2: Manifest = serde_json::from_slice(&fs::read(dirs[1].join(MANIFEST)).unwrap()).unwrap();
        assert_eq!(m2.previous.unwrap(), sha256_hex(&fs::read(dirs[0].join(MANIFEST)).unwrap()));
        // A tail of the chain verifies too, and says where it links.
        let v = verify(&dirs[1..]).unwrap();
        assert_eq!(v.first_previous.unwrap(), sha256_hex(&fs::read(dirs[0].join(MANIFEST)).unwrap()));
        assert!(verify(&[]).is_err());
    }

    #[test]
    fn one_changed_byte_in_any_file_is_named() {
        for name in FILES {
            for at in [0, 1000, usize::MAX] {
                let t = tempfile::tempdir().unwrap();
                let dirs = chain(t.path());
                let path = dirs[1].join(name);
                flip_byte(&path, at);
                let e = verify(&dirs).unwrap_err();
                assert_eq!(e, format!("{}: SHA-256 mismatch", path.display()), "{name} @ {at}");
            }
        }
    }

    #[test]
    fn truncated_removed_and_added_files_are_named() {
        let t = tempfile::tempdir().unwrap();
        let dirs = chain(t.path());
        let csv = dirs[2].join("alerts.csv");
        let len = fs::metadata(&csv).unwrap().len();
        fs::OpenOptions::new().write(true).open(&csv).unwrap().set_len(len - 10).unwrap();
        let e = verify(&dirs).unwrap_err();
        assert_eq!(e, format!("{}: SHA-256 mismatch ({} bytes, the manifest says {len})", csv.display(), len - 10));

        let t = tempfile::tempdir().unwrap();
        let dirs = chain(t.path());
        fs::remove_file(dirs[0].join("privacy.txt")).unwrap();
        assert_eq!(verify(&dirs).unwrap_err(), format!("{}: missing", dirs[0].join("privacy.txt").display()));

        let t = tempfile::tempdir().unwrap();
        let dirs = chain(t.path());
        fs::write(dirs[1].join("notes.txt"), "added later").unwrap();
        assert_eq!(verify(&dirs).unwrap_err(), format!("{}: not in the manifest", dirs[1].join("notes.txt").display()));
        fs::remove_file(dirs[1].join("notes.txt")).unwrap();
        fs::create_dir(dirs[1].join("sub")).unwrap();
        assert_eq!(verify(&dirs).unwrap_err(), format!("{}: not in the manifest", dirs[1].join("sub").display()));
    }

    #[test]
    fn an_edited_manifest_is_named() {
        // Editing a manifest's period (every file still matches) breaks the next link.
        let t = tempfile::tempdir().unwrap();
        let dirs = chain(t.path());
        let mpath = dirs[0].join(MANIFEST);
        let text = fs::read_to_string(&mpath).unwrap().replace("2025-03-03T00", "2025-03-04T00");
        fs::write(&mpath, text).unwrap();
        assert_eq!(
            verify(&dirs).unwrap_err(),
            format!("{}: previous does not match {}", dirs[1].join(MANIFEST).display(), mpath.display())
        );
        // Editing a file's hash in the manifest (to cover an edit) names that file.
        let t = tempfile::tempdir().unwrap();
        let dirs = chain(t.path());
        edit_manifest(&dirs[2], |m| m.files[3].sha256 = sha256_hex(b"something else"));
        assert_eq!(verify(&dirs).unwrap_err(), format!("{}: SHA-256 mismatch", dirs[2].join("report.json").display()));
        // Removing a file from the manifest names it as unlisted.
        let t = tempfile::tempdir().unwrap();
        let dirs = chain(t.path());
        edit_manifest(&dirs[2], |m| {
            m.files.remove(0);
        });
        assert_eq!(
            verify(&dirs).unwrap_err(),
            format!("{}: not in the manifest", dirs[2].join("alerts.csv").display())
        );
    }

    #[test]
    fn a_broken_previous_link_is_named() {
        let t = tempfile::tempdir().unwrap();
        let dirs = chain(t.path());
        // r3 written again without a previous.
        write_report(&data(), &meta(), &dirs[2], None).unwrap();
        assert_eq!(
            verify(&dirs).unwrap_err(),
            format!(
                "{}: previous does not match {}",
                dirs[2].join(MANIFEST).display(),
                dirs[1].join(MANIFEST).display()
            )
        );
        // Out of order.
        let t = tempfile::tempdir().unwrap();
        let dirs = chain(t.path());
        let swapped = vec![dirs[1].clone(), dirs[0].clone(), dirs[2].clone()];
        assert_eq!(
            verify(&swapped).unwrap_err(),
            format!(
                "{}: previous does not match {}",
                dirs[0].join(MANIFEST).display(),
                dirs[1].join(MANIFEST).display()
            )
        );
    }

    #[test]
    fn garbage_manifests_are_clear_errors() {
        let t = tempfile::tempdir().unwrap();
        let dirs = chain(t.path());
        let mpath = dirs[1].join(MANIFEST);
        let good = fs::read(&mpath).unwrap();
        let shown = mpath.display().to_string();
        let replaced = |from: &str, to: &str| String::from_utf8(good.clone()).unwrap().replace(from, to).into_bytes();
        let cases: Vec<Vec<u8>> = vec![
            good[..good.len() / 2].to_vec(),
            Vec::new(),
            b"\x00\xff garbage".to_vec(),
            b"[]".to_vec(),
            replaced("\"format\": 1", "\"format\": 2"),
            replaced("\"alerts.csv\"", "\"../r1/alerts.csv\""),
            replaced("\"privacy.txt\"", "\"alerts.csv\""),
            replaced("\"format\"", "\"extra\": 1, \"format\""),
            vec![b' '; 2 << 20],
        ];
        for (i, bytes) in cases.into_iter().enumerate() {
            fs::write(&mpath, &bytes).unwrap();
            let e = verify(&dirs).unwrap_err();
            assert!(e.starts_with(&format!("{shown}: not a farhand manifest")), "case {i}: {e}");
        }
        fs::remove_file(&mpath).unwrap();
        assert_eq!(verify(&dirs).unwrap_err(), format!("{shown}: missing"));
    }

    #[test]
    fn refuses_to_mix_files() {
        let t = tempfile::tempdir().unwrap();
        let out = t.path().join("r");
        fs::create_dir(&out).unwrap();
        fs::write(out.join("holiday.jpg"), "x").unwrap();
        let e = write_report(&data(), &meta(), &out, None).unwrap_err();
        assert!(e.contains("not a farhand report directory"), "{e}");
        assert_eq!(fs::read_dir(&out).unwrap().count(), 1, "left untouched");
        // A report directory with a stranger in it.
        let out = t.path().join("r2");
        write_report(&data(), &meta(), &out, None).unwrap();
        fs::write(out.join("holiday.jpg"), "x").unwrap();
        let e = write_report(&data(), &meta(), &out, None).unwrap_err();
        assert!(e.starts_with(&format!("{}: not a report file", out.join("holiday.jpg").display())), "{e}");
        // A garbage manifest is not ours.
        let out = t.path().join("r3");
        fs::create_dir(&out).unwrap();
        fs::write(out.join(MANIFEST), "{").unwrap();
        let e = write_report(&data(), &meta(), &out, None).unwrap_err();
        assert!(e.contains("not a farhand manifest") && e.contains("refusing"), "{e}");
        // A file where the directory should be.
        let out = t.path().join("file");
        fs::write(&out, "x").unwrap();
        assert!(write_report(&data(), &meta(), &out, None).unwrap_err().ends_with("not a directory"));
        // Our own directory is replaced as a whole; a stale temporary file is ours too.
        let out = t.path().join("r4");
        write_report(&ReportData::default(), &meta(), &out, None).unwrap();
        fs::write(out.join(".report.html.tmp"), "half").unwrap();
        write_report(&data(), &meta(), &out, None).unwrap();
        assert!(!out.join(".report.html.tmp").exists());
        verify(&[out]).unwrap();
    }

    #[test]
    fn previous_must_be_a_report() {
        let t = tempfile::tempdir().unwrap();
        let a = t.path().join("a");
        let s = write_report(&data(), &meta(), &a, None).unwrap();
        // The manifest file itself is accepted too.
        let b = t.path().join("b");
        write_report(&data(), &meta(), &b, Some(&a.join(MANIFEST))).unwrap();
        let m: Manifest = serde_json::from_slice(&fs::read(b.join(MANIFEST)).unwrap()).unwrap();
        assert_eq!(m.previous.as_deref(), Some(s.manifest_sha256.as_str()));
        let e = write_report(&data(), &meta(), &t.path().join("c"), Some(&t.path().join("nope"))).unwrap_err();
        assert!(e.ends_with("nope/manifest.json: missing"), "{e}");
        assert!(!t.path().join("c").exists(), "nothing written on a bad previous");
        let e = write_report(&data(), &meta(), &a, Some(&a)).unwrap_err();
        assert!(e.contains("its own previous"), "{e}");
    }

    #[test]
    fn hostile_strings_never_reach_the_page_raw() {
        let evil = "<script>alert(\"x\")</script>\"'><img src=x onerror=alert(1)>";
        let mut d = data();
        for a in &mut d.alerts {
            a.message = evil.into();
            a.tool = evil.into();
            a.peer_country = Some(evil.into());
            a.severity = evil.into();
            a.kind = evil.into();
            a.endpoint_ip = evil.into();
            a.sensor = evil.into();
        }
        for s in &mut d.sessions {
            s.tool = evil.into();
            s.rhythm = Some(evil.into());
            s.endpoint_ip = evil.into();
        }
        d.endpoints[0].hostname = Some(evil.into());
        d.endpoints[0].mac = Some(evil.into());
        d.endpoints[0].ip = evil.into();
        let mut m = meta();
        m.title = evil.into();
        m.store = evil.into();
        m.version = evil.into();
        m.sensors = vec![evil.into()];
        let page = html::render(&d, &m, &ReportCounts::of(&d, &m));
        let lower = page.to_ascii_lowercase();
        assert!(!lower.contains("<script"), "raw <script in the page");
        assert!(!lower.contains("<img"), "raw <img in the page");
        assert!(!lower.contains("onerror=alert(1)>"), "an attribute escaped its quotes");
        assert!(page.contains("&lt;script&gt;"));
        // No outside resource (checked on a page of ordinary data: the escaped hostile text
        // above holds `src=` as harmless text).
        let page = html::render(&data(), &meta(), &ReportCounts::of(&data(), &meta()));
        let lower = page.to_ascii_lowercase();
        for bad in ["src=", "href=", "@import", "url(", "http://", "https://"] {
            let hits = lower.matches(bad).count();
            // The SVG namespace is the one allowed URL, and it is not fetched.
            let allowed =
                if bad == "http://" { lower.matches("xmlns=\"http://www.w3.org/2000/svg\"").count() } else { 0 };
            assert_eq!(hits, allowed, "{bad}");
        }
    }

    #[test]
    fn empty_period_is_a_valid_report() {
        let t = tempfile::tempdir().unwrap();
        let out = t.path().join("empty");
        let d = ReportData { from_us: T0, to_us: T0 + period::DAY_US, ..Default::default() };
        write_report(&d, &meta(), &out, None).unwrap();
        let page = fs::read_to_string(out.join("report.html")).unwrap();
        assert!(page.contains("No alerts in this period."));
        assert!(page.starts_with("<!DOCTYPE html>") && page.trim_end().ends_with("</html>"));
        assert!(page.matches("<svg").count() >= 6);
        assert_eq!(fs::read_to_string(out.join("alerts.csv")).unwrap().lines().count(), 1);
        verify(&[out]).unwrap();
        // No period at all and absurd times: still a page, no panic.
        let d = ReportData {
            from_us: i64::MAX,
            to_us: i64::MIN,
            alerts: vec![alert(i64::MIN, "High"), alert(i64::MAX, "Odd")],
            sessions: vec![session("x", i64::MAX, i64::MAX, Some(f64::NAN), true, Some((0, f64::INFINITY, "?")))],
            ..Default::default()
        };
        let page = html::render(&d, &meta(), &ReportCounts::of(&d, &meta()));
        assert!(page.contains("</html>"));
    }

    #[test]
    fn privacy_statement_says_what_is_inside() {
        let text = privacy::statement(&data(), &meta());
        for needle in [
            "IP addresses",
            "MAC addresses",
            "host names",
            "countries",
            "No packet payloads",
            "keystroke",
            "Legal basis",
            "Retention",
        ] {
            assert!(text.contains(needle), "{needle}");
        }
    }
}
