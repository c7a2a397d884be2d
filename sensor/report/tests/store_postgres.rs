//! The PostgreSQL store against a real PostgreSQL 15 the test starts itself on loopback, in a
//! temp dir (as the `postgres` user when run as root), and stops at the end, also on failure.
//! Skips with one line on stderr when the server binaries are absent.

mod common;

use common::{alert_times, endpoint};
use farhand_report::records::{AlertRecord, EndpointRecord, Records, ReportData, SessionRecord};
use farhand_report::store::{self, StoreTarget};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

const BIN: &str = "/usr/lib/postgresql/15/bin";

/// A PostgreSQL server in a temp dir, stopped when dropped.
struct Server {
    dir: tempfile::TempDir,
    port: u16,
    as_postgres: bool,
}

impl Server {
    /// Starts a server, or says why it is skipped and returns None.
    fn start() -> Result<Option<Server>, String> {
        if !Path::new(BIN).join("initdb").exists() || !Path::new(BIN).join("pg_ctl").exists() {
            common::skip(&format!("PostgreSQL 15 binaries not found in {BIN}"));
            return Ok(None);
        }
        let as_postgres = std::fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false);
        let dir = tempfile::Builder::new().prefix("farhand-pg-").tempdir_in("/tmp").map_err(|e| e.to_string())?;
        if as_postgres {
            let chown = Command::new("chown").arg("postgres:").arg(dir.path()).output().map_err(|e| e.to_string())?;
            if !chown.status.success() {
                common::skip("running as root but cannot hand the data dir to the postgres user");
                return Ok(None);
            }
        }
        let port = free_port()?;
        let server = Server { dir, port, as_postgres };
        let data = server.data();
        server
            .run("initdb", &["-D", &data, "-A", "trust", "-U", "farhand", "--no-sync", "-E", "UTF8", "--locale=C"])?;
        let dir = server.dir.path().display().to_string();
        let opts = format!("-k {dir} -p {port} -c listen_addresses=127.0.0.1");
        let log = format!("{dir}/server.log");
        server.run("pg_ctl", &["-D", &data, "-l", &log, "-w", "-t", "60", "-o", &opts, "start"])?;
        Ok(Some(server))
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    /// The server binary `bin`, to run as `postgres` when root, in `/tmp`.
    fn command(&self, bin: &str) -> Command {
        let path = PathBuf::from(BIN).join(bin);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&path);
            c
        } else {
            Command::new(&path)
        };
        cmd.current_dir("/tmp");
        cmd
    }

    /// Runs the server binary `bin`; its output when it fails.
    fn run(&self, bin: &str, args: &[&str]) -> Result<(), String> {
        let out = self.command(bin).args(args).output().map_err(|e| format!("{bin}: {e}"))?;
        if out.status.success() {
            return Ok(());
        }
        let log = std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default();
        Err(format!(
            "{bin} {args:?}: {}\n{}\n{}\nserver log:\n{log}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }

    fn url(&self, db: &str) -> String {
        format!("postgres://farhand@127.0.0.1:{}/{db}", self.port)
    }

    fn target(&self, db: &str) -> StoreTarget {
        StoreTarget::Postgres(self.url(db))
    }

    /// A plain client, to look at the tables behind the store's back.
    fn client(&self, db: &str) -> Result<postgres::Client, postgres::Error> {
        postgres::Client::connect(&self.url(db), postgres::NoTls)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let data = self.data();
        let _ = self.command("pg_ctl").args(["-D", &data, "-m", "fast", "-w", "stop"]).output();
    }
}

fn free_port() -> Result<u16, String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(l.local_addr().map_err(|e| e.to_string())?.port())
}

/// The shared alert, created (this file's alerts are all creates).
fn alert(sensor: &str, id: &str, time_us: i64, endpoint: &str) -> AlertRecord {
    common::alert(sensor, id, "create", time_us, endpoint)
}

/// The shared session without its AS, organisation, keystrokes and key timing, so PostgreSQL
/// is sent NULLs of every column type.
fn session(sensor: &str, id: &str, first: i64, last: i64, bytes: u64) -> SessionRecord {
    SessionRecord {
        peer_asn: None,
        peer_org: None,
        keys: None,
        iki_median_ms: None,
        ..common::session(sensor, id, first, last, bytes)
    }
}

/// Batch `i` of `sensor`: 20 alerts, 4 sessions (40 per sensor, each written 5 times, later
/// batches last), 5 endpoints (4 alerts each). Sensor `a` takes even times, `b` odd ones.
fn fleet_batch(sensor: &str, i: i64) -> Records {
    let odd = i64::from(sensor == "b");
    let ep = |j: i64| format!("10.0.{odd}.{}", j % 5);
    let alerts: Vec<AlertRecord> = (0..20)
        .map(|j| alert(sensor, &format!("{sensor}-{i}-{j}"), 1_000_000 + (i * 20 + j) * 2 + odd, &ep(j)))
        .collect();
    let t0 = alerts.first().map_or(0, |a| a.time_us);
    let t1 = alerts.last().map_or(0, |a| a.time_us);
    let sessions =
        (0..4).map(|m| session(sensor, &format!("{sensor}-s{}", (i * 4 + m) % 40), 1_000_000, t1, i as u64)).collect();
    let endpoints = (0..5).map(|j| endpoint(sensor, &ep(j), t0, t1, 4)).collect();
    Records { alerts, sessions, endpoints }
}

/// The (sensor, count) rows `sql` selects.
fn count(c: &mut postgres::Client, sql: &str) -> Result<Vec<(String, i64)>, postgres::Error> {
    c.query(sql, &[])?.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
}

#[test]
fn two_sensors_write_concurrently_without_losing_rows() {
    let Some(server) = Server::start().unwrap() else { return };
    let target = server.target("postgres");
    let barrier = Arc::new(Barrier::new(2));
    let writers: Vec<_> = ["a", "b"]
        .into_iter()
        .map(|sensor| {
            let (target, barrier) = (target.clone(), Arc::clone(&barrier));
            std::thread::spawn(move || {
                // Both open (and migrate) at the same moment.
                barrier.wait();
                let mut s = store::open(&target).unwrap();
                let started = Instant::now();
                let mut rows = 0;
                for i in 0..50 {
                    let b = fleet_batch(sensor, i);
                    rows += b.alerts.len() + b.sessions.len() + b.endpoints.len();
                    s.write(&b).unwrap();
                }
                (sensor, rows, started.elapsed())
            })
        })
        .collect();
    for w in writers {
        let (sensor, rows, took) = w.join().unwrap();
        eprintln!(
            "sensor {sensor}: 50 batches, {rows} rows in {:.0} ms ({:.0} rows/s, {:.1} ms/batch)",
            took.as_secs_f64() * 1e3,
            rows as f64 / took.as_secs_f64(),
            took.as_secs_f64() * 1e3 / 50.0
        );
    }

    let mut c = server.client("postgres").unwrap();
    for (what, table, each) in [
        ("count(*)", "alerts", 1000),
        ("count(*)", "sessions", 40),
        ("count(*)", "endpoints", 5),
        ("sum(alerts)", "endpoints", 1000),
    ] {
        let sql = format!("SELECT sensor, {what}::BIGINT FROM {table} GROUP BY sensor ORDER BY sensor");
        assert_eq!(count(&mut c, &sql).unwrap(), [("a".to_string(), each), ("b".to_string(), each)], "{sql}");
    }
    let versions: Vec<(i32, String)> = c
        .query("SELECT version, description FROM schema_version", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(versions.len(), 1, "{versions:?}");
    assert_eq!(versions[0].0, 1);

    let mut s = store::open(&target).unwrap();
    assert_eq!(s.schema_version().unwrap(), 1);
    assert_eq!(s.describe(), format!("PostgreSQL {} (schema 1)", server.url("postgres")));
    let n: i64 = c.query_one("SELECT count(*) FROM schema_version", &[]).unwrap().get(0);
    assert_eq!(n, 1, "reopening migrates nothing");

    // Batches 10..20 of both sensors: 2 × 200 alerts, interleaved a, b, a, b…
    let (from, to) = (1_000_000 + 400, 1_000_000 + 800);
    let started = Instant::now();
    let r = s.read(from, to, &[]).unwrap();
    eprintln!("read of a 400-alert window: {:.1} ms", started.elapsed().as_secs_f64() * 1e3);
    assert_eq!(r.sensors, ["a", "b"]);
    assert_eq!(r.alerts.len(), 400);
    assert_eq!(alert_times(&r), (from..to).collect::<Vec<_>>(), "both sensors, in time order");
    assert_eq!(r.alerts[0], alert("a", "a-10-0", from, "10.0.0.0"));
    assert_eq!(r.alerts[1].sensor, "b");
    // Every session overlaps (first seen 1 000 000, last seen after the window start).
    assert_eq!(r.sessions.len(), 80);
    let s0 = r.sessions.iter().find(|x| x.sensor == "a" && x.id == "a-s0").unwrap();
    // a-s0 is written by batches 0, 10, 20, 30, 40: the last one's values stay.
    assert_eq!(s0, &session("a", "a-s0", 1_000_000, 1_000_000 + (40 * 20 + 19) * 2, 40));
    assert_eq!(r.endpoints.len(), 10);
    let e = &r.endpoints[0];
    assert_eq!((e.sensor.as_str(), e.ip.as_str(), e.alerts), ("a", "10.0.0.0", 200));
    assert_eq!((e.first_seen_us, e.last_seen_us), (1_000_000, 1_000_000 + (49 * 20 + 19) * 2));

    let only_b = s.read(from, to, &["b".to_string()]).unwrap();
    assert_eq!(only_b.alerts.len(), 200);
    assert!(only_b.alerts.iter().all(|a| a.sensor == "b"));
}

#[test]
fn upserts_merges_replays_and_prune_agree_with_sqlite() {
    let Some(server) = Server::start().unwrap() else { return };
    let mut pg = store::open(&server.target("postgres")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut lite = store::open(&StoreTarget::Sqlite(dir.path().join("farhand.db"))).unwrap();

    let mut named = endpoint("a", "10.0.0.5", 100, 300, 0);
    named.mac = Some("aa:bb:cc:dd:ee:ff".into());
    let mut renamed = endpoint("a", "10.0.0.5", 50, 400, 0);
    renamed.hostname = Some("laptop-17".into());
    let mut stale = endpoint("a", "10.0.0.5", 60, 70, 0);
    stale.hostname = Some("stale".into());
    let first = Records {
        alerts: vec![alert("a", "x", 100, "10.0.0.5"), alert("a", "y", 300, "10.0.0.5")],
        sessions: vec![session("a", "s1", 100, 200, 1), session("a", "s1", 100, 300, 2)],
        endpoints: vec![EndpointRecord { alerts: 2, ..named }],
    };
    let second = Records {
        alerts: vec![
            alert("a", "y", 300, "10.0.0.5"),
            alert("a", "z", 400, "10.0.0.5"),
            alert("b", "x", 150, "10.9.0.1"),
        ],
        sessions: vec![session("a", "s1", 100, 400, 3), session("b", "s1", 150, 150, 9)],
        endpoints: vec![EndpointRecord { alerts: 2, ..renamed }, endpoint("b", "10.9.0.1", 150, 150, 1)],
    };
    let replay = Records {
        sessions: vec![session("a", "s1", 100, 200, 1)],
        endpoints: vec![EndpointRecord { alerts: 1, ..stale }],
        ..first.clone()
    };
    for s in [&mut pg, &mut lite] {
        for b in [&first, &first, &second, &replay] {
            s.write(b).unwrap();
        }
    }
    let got = pg.read(0, 1000, &[]).unwrap();
    assert_eq!(got, lite.read(0, 1000, &[]).unwrap(), "PostgreSQL and SQLite agree");
    let want_endpoint = EndpointRecord {
        sensor: "a".into(),
        ip: "10.0.0.5".into(),
        mac: Some("aa:bb:cc:dd:ee:ff".into()),
        hostname: Some("laptop-17".into()),
        first_seen_us: 50,
        last_seen_us: 400,
        // x and y, then z (y again adds nothing); the replays add nothing.
        alerts: 3,
    };
    assert_eq!(
        got,
        ReportData {
            from_us: 0,
            to_us: 1000,
            sensors: vec!["a".into(), "b".into()],
            alerts: vec![
                alert("a", "x", 100, "10.0.0.5"),
                alert("b", "x", 150, "10.9.0.1"),
                alert("a", "y", 300, "10.0.0.5"),
                alert("a", "z", 400, "10.0.0.5"),
            ],
            sessions: vec![session("a", "s1", 100, 400, 3), session("b", "s1", 150, 150, 9)],
            endpoints: vec![want_endpoint, endpoint("b", "10.9.0.1", 150, 150, 1)],
        }
    );
    assert_eq!(pg.read(120, 310, &["a".into()]).unwrap(), lite.read(120, 310, &["a".into()]).unwrap());
    // Before 200: alerts a/x and b/x, session b/s1, endpoint b/10.9.0.1.
    assert_eq!(pg.prune(200).unwrap(), 4);
    assert_eq!(lite.prune(200).unwrap(), 4);
    assert_eq!(pg.read(0, 1000, &[]).unwrap(), lite.read(0, 1000, &[]).unwrap());

    // NUL, which PostgreSQL text cannot hold, does not fail the batch.
    let mut nul = alert("a", "n\0ul", 500, "10.0.0.5");
    nul.message = "before\0after".into();
    pg.write(&Records { alerts: vec![nul], ..Records::default() }).unwrap();
    let r = pg.read(500, 501, &[]).unwrap();
    assert_eq!((r.alerts[0].id.as_str(), r.alerts[0].message.as_str()), ("n\u{fffd}ul", "before\u{fffd}after"));
}

#[test]
fn a_newer_schema_is_refused() {
    let Some(server) = Server::start().unwrap() else { return };
    server.client("postgres").unwrap().batch_execute("CREATE DATABASE newer").unwrap();
    drop(store::open(&server.target("newer")).unwrap());
    server
        .client("newer")
        .unwrap()
        .execute("INSERT INTO schema_version VALUES (2, 'from a later farhand', 0)", &[])
        .unwrap();
    let e = store::open(&server.target("newer")).err().map(|e| e.to_string());
    assert_eq!(
        e.as_deref(),
        Some(
            format!("{}: schema version 2 is newer than this farhand knows (1); upgrade farhand", server.url("newer"))
                .as_str()
        )
    );
}

#[test]
fn an_unreachable_server_is_one_line_without_the_password() {
    let port = free_port().unwrap();
    let url = format!("postgres://farhand:hunter2@127.0.0.1:{port}/fleet");
    let started = Instant::now();
    let e = store::open(&StoreTarget::parse(&url).unwrap()).err().map(|e| e.to_string()).unwrap_or_default();
    eprintln!("{e}");
    assert!(e.starts_with(&format!("postgres://farhand:***@127.0.0.1:{port}/fleet: ")), "{e}");
    assert!(e.contains("refused"), "{e}");
    assert!(!e.contains("hunter2") && !e.contains('\n'), "{e}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn inside_a_tokio_runtime_the_store_is_refused_not_a_panic() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let target = StoreTarget::parse("postgres://farhand@127.0.0.1:1/fleet").unwrap();
    let e = rt.block_on(async { store::open(&target).err().map(|e| e.to_string()) });
    assert_eq!(
        e.as_deref(),
        Some("postgres://farhand@127.0.0.1:1/fleet: the PostgreSQL store cannot be used inside a tokio runtime")
    );
}
