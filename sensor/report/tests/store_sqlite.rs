//! The SQLite store against real SQLite files in a temp dir: batches written and read back
//! by period and sensor, upserts, endpoint merges, replays, pruning, reopening, the pragmas
//! it sets, and the errors of files that are not (or no longer) databases.

mod common;

use common::{alert, alert_times, endpoint, session, session_ids};
use farhand_report::records::{AlertRecord, EndpointRecord, Records};
use farhand_report::store::{self, Store, StoreTarget};
use std::path::{Path, PathBuf};

/// A batch as `Records::from_alerts` would make it: alerts, their session, their endpoint.
fn batch(sensor: &str, session_id: &str, times: &[i64], endpoint_ip: &str) -> Records {
    let alerts: Vec<AlertRecord> = times
        .iter()
        .enumerate()
        .map(|(i, t)| alert(sensor, session_id, if i == 0 { "create" } else { "update" }, *t, endpoint_ip))
        .collect();
    let first = times.iter().copied().min().unwrap_or_default();
    let last = times.iter().copied().max().unwrap_or_default();
    Records {
        sessions: vec![session(sensor, session_id, first, last, 1000)],
        endpoints: vec![endpoint(sensor, endpoint_ip, first, last, alerts.len() as u64)],
        alerts,
    }
}

fn db(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("farhand.db")
}

fn open(path: &Path) -> Result<Box<dyn Store>, store::StoreError> {
    store::open(&StoreTarget::Sqlite(path.to_path_buf()))
}

/// The error opening `path` (or "opened", which no test expects).
fn open_err(path: &Path) -> String {
    open(path).err().map_or_else(|| "opened".to_string(), |e| e.to_string())
}

#[test]
fn batches_read_back_by_window_and_sensor() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = open(&db(&dir)).unwrap();
    s.write(&batch("a", "s1", &[100, 300, 500], "10.0.0.10")).unwrap();
    s.write(&batch("b", "s2", &[200, 400, 900], "10.0.0.9")).unwrap();
    s.write(&batch("a", "s3", &[1000, 1100], "10.0.0.2")).unwrap();

    let all = s.read(0, 2000, &[]).unwrap();
    assert_eq!(alert_times(&all), [100, 200, 300, 400, 500, 900, 1000, 1100]);
    assert_eq!(all.sensors, ["a", "b"]);
    assert_eq!((all.from_us, all.to_us), (0, 2000));
    assert_eq!(all.alerts[0], alert("a", "s1", "create", 100, "10.0.0.10"));
    assert_eq!(session_ids(&all), ["s1", "s2", "s3"]);
    assert_eq!(all.sessions[0], session("a", "s1", 100, 500, 1000), "u32/u64 extremes and options round-trip");
    let eps: Vec<(&str, &str)> = all.endpoints.iter().map(|e| (e.sensor.as_str(), e.ip.as_str())).collect();
    assert_eq!(eps, [("a", "10.0.0.2"), ("a", "10.0.0.10"), ("b", "10.0.0.9")], "by sensor, then numeric address");

    // [300, 900): alerts raised in it; sessions and endpoints overlapping it.
    let w = s.read(300, 900, &[]).unwrap();
    assert_eq!(alert_times(&w), [300, 400, 500]);
    assert_eq!(session_ids(&w), ["s1", "s2"]);
    assert_eq!(w.endpoints.len(), 2);

    let b = s.read(0, 2000, &["b".to_string(), "b".to_string(), "c".to_string()]).unwrap();
    assert!(b.alerts.iter().all(|a| a.sensor == "b"));
    assert_eq!(b.alerts.len(), 3);
    assert_eq!(b.sessions.len(), 1);
    assert_eq!(b.endpoints.len(), 1);
    assert_eq!(b.sensors, ["b", "c"], "the sensors asked for");

    let none = s.read(2000, 3000, &[]).unwrap();
    assert!(none.alerts.is_empty() && none.sessions.is_empty() && none.endpoints.is_empty());
    assert!(none.sensors.is_empty());
}

#[test]
fn a_session_updated_twice_is_one_row_with_the_last_values() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = open(&db(&dir)).unwrap();
    s.write(&Records { sessions: vec![session("a", "s1", 100, 200, 10)], ..Records::default() }).unwrap();
    let mut later = session("a", "s1", 100, 300, 20);
    later.severity = "Critical".into();
    later.rhythm = None;
    let mut last = session("a", "s1", 100, 400, 30);
    last.peer_country = Some("SE".into());
    // The second update arrives in one batch with another (its last row wins).
    s.write(&Records { sessions: vec![later, last.clone()], ..Records::default() }).unwrap();
    let r = s.read(0, 1000, &[]).unwrap();
    assert_eq!(r.sessions, [last.clone()]);
    // A replayed older batch does not roll the session back.
    s.write(&Records { sessions: vec![session("a", "s1", 100, 200, 10)], ..Records::default() }).unwrap();
    assert_eq!(s.read(0, 1000, &[]).unwrap().sessions, [last]);
    // A count beyond what the store keeps is kept as i64::MAX.
    let mut huge = session("a", "s1", 100, 500, u64::MAX);
    huge.bytes_out = u64::MAX;
    s.write(&Records { sessions: vec![huge], ..Records::default() }).unwrap();
    let r = s.read(0, 1000, &[]).unwrap();
    assert_eq!((r.sessions[0].bytes_in, r.sessions[0].bytes_out), (i64::MAX as u64, i64::MAX as u64));
    // The same id from another sensor is another session.
    s.write(&Records { sessions: vec![session("b", "s1", 100, 200, 10)], ..Records::default() }).unwrap();
    assert_eq!(s.read(0, 1000, &[]).unwrap().sessions.len(), 2);
}

#[test]
fn endpoints_merge_by_sensor_and_address() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = open(&db(&dir)).unwrap();
    let mut e1 = endpoint("a", "10.0.0.5", 1000, 2000, 2);
    e1.mac = Some("aa:bb:cc:dd:ee:ff".into());
    e1.hostname = Some("old-name".into());
    s.write(&Records { endpoints: vec![e1], ..Records::default() }).unwrap();
    let mut e2 = endpoint("a", "10.0.0.5", 500, 3000, 3);
    e2.hostname = Some("laptop-17".into());
    s.write(&Records { endpoints: vec![e2], ..Records::default() }).unwrap();
    // An older sighting (last seen before the stored one) does not overwrite the identity.
    let mut e3 = endpoint("a", "10.0.0.5", 1500, 1600, 1);
    e3.hostname = Some("stale-name".into());
    s.write(&Records { endpoints: vec![e3], ..Records::default() }).unwrap();
    let r = s.read(0, 10_000, &[]).unwrap();
    let want = EndpointRecord {
        sensor: "a".into(),
        ip: "10.0.0.5".into(),
        mac: Some("aa:bb:cc:dd:ee:ff".into()),
        hostname: Some("laptop-17".into()),
        first_seen_us: 500,
        last_seen_us: 3000,
        alerts: 6,
    };
    assert_eq!(r.endpoints, [want]);
}

#[test]
fn rewriting_a_batch_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = open(&db(&dir)).unwrap();
    let b1 = batch("a", "s1", &[100, 200, 300], "10.0.0.5");
    s.write(&b1).unwrap();
    let once = s.read(0, 1000, &[]).unwrap();
    assert_eq!(once.endpoints[0].alerts, 3);
    s.write(&b1).unwrap();
    assert_eq!(s.read(0, 1000, &[]).unwrap(), once);
    // A batch holding one alert already stored and one new adds only the new one.
    let mut b2 = batch("a", "s1", &[300, 400], "10.0.0.5");
    b2.alerts[0].activity = "update".into();
    s.write(&b2).unwrap();
    let r = s.read(0, 1000, &[]).unwrap();
    assert_eq!(r.alerts.len(), 4);
    assert_eq!(r.endpoints[0].alerts, 4);
    assert_eq!(r.sessions.len(), 1);
}

#[test]
fn prune_deletes_old_rows_and_counts_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = open(&db(&dir)).unwrap();
    s.write(&batch("a", "old", &[100, 200], "10.0.0.1")).unwrap();
    s.write(&batch("a", "span", &[300, 2000], "10.0.0.2")).unwrap();
    s.write(&batch("b", "new", &[1500, 1600], "10.0.0.3")).unwrap();
    // Before 1000: alerts 100, 200, 300; session "old"; endpoint 10.0.0.1.
    assert_eq!(s.prune(1000).unwrap(), 5);
    let r = s.read(0, 10_000, &[]).unwrap();
    assert_eq!(alert_times(&r), [1500, 1600, 2000]);
    assert_eq!(session_ids(&r), ["span", "new"]);
    assert_eq!(r.endpoints.len(), 2);
    assert_eq!(s.prune(1000).unwrap(), 0);
    // Keeping 1 ms up to 2700: alerts 1500 and 1600, session "new", endpoint 10.0.0.3 go.
    let cutoff = store::retention_cutoff(2_700, std::time::Duration::from_millis(1));
    assert_eq!(cutoff, 1_700);
    assert_eq!(s.prune(cutoff).unwrap(), 4);
}

#[test]
fn reopening_keeps_the_data_and_the_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = db(&dir);
    let before = {
        let mut s = open(&path).unwrap();
        s.write(&batch("a", "s1", &[100, 200], "10.0.0.5")).unwrap();
        s.read(0, 1000, &[]).unwrap()
    };
    let mut s = open(&path).unwrap();
    assert_eq!(s.read(0, 1000, &[]).unwrap(), before);
    assert_eq!(s.schema_version().unwrap(), 1);
    assert_eq!(s.describe(), format!("SQLite {} (schema 1)", path.display()));
}

#[test]
fn the_database_is_in_wal_mode_at_schema_1_with_its_tables() {
    let dir = tempfile::tempdir().unwrap();
    let path = db(&dir);
    let s = open(&path).unwrap();
    let c = rusqlite::Connection::open(&path).unwrap();
    let mode: String = c.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
    let version: i64 = c.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    assert_eq!(version, 1);
    let mut names: Vec<String> = c
        .prepare("SELECT name FROM sqlite_master WHERE type IN ('table', 'index') AND name NOT LIKE 'sqlite_%'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "alerts",
            "alerts_sensor_time",
            "alerts_time",
            "endpoints",
            "endpoints_last_seen",
            "sessions",
            "sessions_first_seen",
            "sessions_last_seen",
            "sessions_sensor_first_seen"
        ]
    );
    drop(s);
}

#[test]
fn two_connections_writing_one_file_both_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let path = db(&dir);
    let threads: Vec<_> = ["a", "b"]
        .into_iter()
        .map(|sensor| {
            let path = path.clone();
            std::thread::spawn(move || {
                let mut s = open(&path).unwrap();
                for i in 0..100 {
                    let t = i * 10;
                    s.write(&batch(sensor, &format!("s{i}"), &[t, t + 1], "10.0.0.5")).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let r = open(&path).unwrap().read(0, i64::MAX, &[]).unwrap();
    assert_eq!(r.alerts.len(), 400);
    assert_eq!(r.sessions.len(), 200);
    assert_eq!(r.endpoints.iter().map(|e| e.alerts).collect::<Vec<_>>(), [200, 200]);
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = db(&dir);
    drop(open(&path).unwrap());
    rusqlite::Connection::open(&path).unwrap().pragma_update(None, "user_version", 2).unwrap();
    let e = open_err(&path);
    assert_eq!(
        e,
        format!("{}: schema version 2 is newer than this farhand knows (1); upgrade farhand", path.display())
    );
}

#[test]
fn a_file_that_is_not_a_database_is_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    std::fs::write(&path, "these are not the pages you are looking for\n".repeat(200)).unwrap();
    let e = open_err(&path);
    assert_eq!(e, format!("{}: file is not a database", path.display()));
}

#[test]
fn a_missing_directory_is_named_and_not_created() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nowhere/farhand.db");
    let e = open_err(&path);
    assert_eq!(e, format!("{}: directory {} does not exist", path.display(), dir.path().join("nowhere").display()));
    assert!(!dir.path().join("nowhere").exists());
}

#[test]
fn a_truncated_database_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = db(&dir);
    {
        let mut s = open(&path).unwrap();
        for i in 0..200 {
            s.write(&batch("a", &format!("s{i}"), &[i * 10, i * 10 + 1], "10.0.0.5")).unwrap();
        }
    }
    let len = std::fs::metadata(&path).unwrap().len();
    assert!(len > 64 * 1024, "{len} bytes: several pages");
    for keep in [len / 2, 4096 + 100, 50] {
        let cut = dir.path().join(format!("cut-{keep}.db"));
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&cut, &bytes[..keep as usize]).unwrap();
        let name = cut.display().to_string();
        let e = match store::open(&StoreTarget::Sqlite(cut.clone())) {
            Err(e) => e.to_string(),
            Ok(mut s) => match s.read(0, i64::MAX, &[]) {
                Err(e) => e.to_string(),
                Ok(r) => panic!("{keep} bytes kept: read {} alerts from a truncated file", r.alerts.len()),
            },
        };
        assert!(e.starts_with(&format!("{name}: ")), "{e}");
        assert!(!e.contains('\n'), "{e}");
        eprintln!("{keep} bytes kept: {e}");
    }
}
