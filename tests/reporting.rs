//! The reporting plane as a user runs it, end to end through the `farhand` binary: the demo's
//! alerts into a store and a report that verifies (and stops verifying after a one-byte
//! edit), into a real rsyslog through an outage and `farhand spool flush`, and from two
//! sensors into one real PostgreSQL.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a failed expectation should panic with its message"
)]

mod common;

use common::{farhand, repo, stderr};

use common::servers::{self, Postgres, Rsyslog};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The alerts farhand printed (JSON lines on stdout).
fn alerts(o: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&o.stdout).lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect()
}

/// The demo's configuration with another sensor name and the databases named by absolute path.
fn demo_config(dir: &Path, name: &str, extra: &str) -> PathBuf {
    let demo = repo().join("config/demo");
    let text = std::fs::read_to_string(demo.join("farhand.toml"))
        .unwrap()
        .replace("name = \"farhand-demo\"", &format!("name = \"{name}\""))
        .replace("\"country.mmdb\"", &format!("{:?}", s(&demo.join("country.mmdb"))))
        .replace("\"asn.mmdb\"", &format!("{:?}", s(&demo.join("asn.mmdb"))));
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, format!("{text}\n{extra}")).unwrap();
    path
}

#[test]
fn demo_report_verifies_until_one_byte_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("farhand.db");
    let first = tmp.path().join("first");
    let o = farhand(&["--demo", "--store", s(&db), "--report", s(&first)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let printed = alerts(&o);
    let html = std::fs::canonicalize(first.join("report.html")).unwrap();
    assert!(stderr(&o).contains(&format!("report written to {}", s(&html))), "{}", stderr(&o));
    for f in ["report.html", "alerts.csv", "sessions.csv", "report.json", "manifest.json"] {
        assert!(first.join(f).is_file(), "{f} missing");
    }
    // The report holds exactly the alerts the run printed, in order.
    let json: Value = serde_json::from_slice(&std::fs::read(first.join("report.json")).unwrap()).unwrap();
    let ids: Vec<&str> = json["data"]["alerts"].as_array().unwrap().iter().map(|a| a["id"].as_str().unwrap()).collect();
    let printed_ids: Vec<&str> = printed.iter().map(|a| a["finding_info"]["uid"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), printed.len());
    let mut sorted_printed = printed_ids.clone();
    sorted_printed.sort();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(sorted, sorted_printed);

    // A second report of the same store, chained to the first.
    let second = tmp.path().join("second");
    let o = farhand(&[
        "report",
        "--store",
        s(&db),
        "--from",
        "2000-01-01",
        "--to",
        "2100-01-01",
        "--out",
        s(&second),
        "--previous",
        s(&first),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = farhand(&["report", "verify", s(&first), s(&second)]);
    assert!(o.status.success(), "{}", stderr(&o));

    // A mistyped store is an error, never an empty report (and never a new database).
    let o = farhand(&[
        "report",
        "--store",
        s(&tmp.path().join("farhnad.db")),
        "--period",
        "daily",
        "--out",
        s(&tmp.path().join("x")),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("farhnad.db: no such store"), "{}", stderr(&o));
    assert!(!tmp.path().join("farhnad.db").exists() && !tmp.path().join("x").exists());
    // --report without a store is a usage error before anything is read.
    let o = farhand(&["--demo", "--report", s(&tmp.path().join("y"))]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(o.stdout.is_empty() && stderr(&o).contains("--report needs a store"), "{}", stderr(&o));

    // One byte changed in one file: verification fails and names that file.
    let csv = first.join("alerts.csv");
    let mut bytes = std::fs::read(&csv).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    std::fs::write(&csv, bytes).unwrap();
    let o = farhand(&["report", "verify", s(&first), s(&second)]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let e = stderr(&o);
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(e.starts_with("farhand: ") && e.contains("alerts.csv"), "{e}");
}

/// The RFC 5424 messages rsyslog wrote, parsed: (MSGID, sequenceId, alert id).
fn parsed(lines: &[String]) -> Vec<(String, u64, String)> {
    lines
        .iter()
        .map(|l| {
            let m = syslog_rfc5424::parse_message(l).unwrap_or_else(|e| panic!("{l}: {e}"));
            let sd = |id: &str, p: &str| m.sd.find_tuple(id, p).cloned().unwrap_or_default();
            let seq = sd("meta", "sequenceId").parse().unwrap();
            (m.msgid.clone().unwrap_or_default(), seq, sd("farhand@32473", "alertId"))
        })
        .collect()
}

#[test]
fn syslog_gets_every_alert_across_an_outage_and_a_flush() {
    if !servers::have(servers::RSYSLOGD, "syslog end to end") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let port = servers::free_port();
    let url = format!("tcp://127.0.0.1:{port}");
    let spool = tmp.path().join("spool");

    // Collector up: every alert arrives, in the order printed, parsed back field by field.
    let mut collector = Rsyslog::start(&tmp.path().join("rsyslog"), port);
    let o = farhand(&["--demo", "--syslog", &url, "--spool", s(&spool)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("nothing left"), "{}", stderr(&o));
    let printed = alerts(&o);
    collector.stop();
    let got = parsed(&collector.received());
    let want: Vec<(String, String)> = printed
        .iter()
        .map(|a| {
            (
                a["unmapped"]["farhand"]["kind"].as_str().unwrap().to_string(),
                a["finding_info"]["uid"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(got.iter().map(|(k, _, id)| (k.clone(), id.clone())).collect::<Vec<_>>(), want);
    assert!(got.windows(2).all(|w| w[0].1 < w[1].1), "sequenceId increases: {got:?}");

    // Collector down: the run ends after the drain time with everything spooled...
    let cfg = demo_config(tmp.path(), "farhand-demo", "[output]\ndrain_timeout = 1\n");
    let o = farhand(&["--demo", "-c", s(&cfg), "--syslog", &url, "--spool", s(&spool)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains(&format!("{} left in the spool", printed.len())), "{e}");
    // ... and `farhand spool flush` delivers it once the collector is back, once.
    std::fs::remove_file(collector.out()).unwrap();
    collector.restart();
    let o = farhand(&["spool", "flush", "--spool", s(&spool), "--syslog", &url]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o2 = farhand(&["spool", "flush", "--spool", s(&spool), "--syslog", &url, "--timeout", "1"]);
    assert!(o2.status.success(), "{}", stderr(&o2));
    std::thread::sleep(std::time::Duration::from_millis(300));
    collector.stop();
    let got = parsed(&collector.received());
    assert_eq!(got.iter().map(|(k, _, id)| (k.clone(), id.clone())).collect::<Vec<_>>(), want, "after the flush");
    // CEF through the same collector: one record per alert, in order, each naming its kind.
    std::fs::remove_file(collector.out()).unwrap();
    collector.restart();
    let o = farhand(&["--demo", "--syslog", &url, "--syslog-format", "cef"]);
    assert!(o.status.success(), "{}", stderr(&o));
    collector.stop();
    let cef = collector.received();
    assert_eq!(cef.len(), want.len(), "{cef:?}");
    for (line, (kind, _)) in cef.iter().zip(&want) {
        let record = line.split_once("CEF:0|farhand|farhand|").map(|(_, r)| r).unwrap_or_else(|| panic!("{line}"));
        assert!(record.contains(&format!("|{kind}|")), "{line}");
    }
    eprintln!(
        "syslog end to end: {} alerts sent twice (collector up, then down + flush): {} + {} received, 0 lost, 0 duplicated",
        want.len(),
        want.len(),
        got.len()
    );
}

#[test]
fn two_sensors_fill_one_postgres() {
    if !servers::have(&format!("{}/initdb", servers::PG_BIN), "PostgreSQL store") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let pg = Postgres::start(&tmp.path().join("pg"));
    let url = pg.url();
    // Two sensors at once, each with its own name, into one database.
    let runs: Vec<_> = ["gw-east", "gw-west"]
        .iter()
        .map(|name| {
            let cfg = demo_config(tmp.path(), name, "");
            Command::new(env!("CARGO_BIN_EXE_farhand"))
                .args(["--demo", "-q", "-c", s(&cfg), "--store", &url])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("run farhand")
        })
        .collect();
    let mut printed = 0;
    for child in runs {
        let o = child.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        printed += alerts(&o).len();
    }
    let out = tmp.path().join("fleet");
    let o = farhand(&["report", "--store", &url, "--from", "2000-01-01", "--to", "2100-01-01", "--out", s(&out)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let json: Value = serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    let alerts = json["data"]["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), printed);
    let mut sensors: Vec<&str> = alerts.iter().map(|a| a["sensor"].as_str().unwrap()).collect();
    sensors.dedup();
    sensors.sort();
    sensors.dedup();
    assert_eq!(sensors, ["gw-east", "gw-west"]);
}
