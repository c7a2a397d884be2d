//! Real servers the reporting-plane tests start on loopback, in a temporary directory, and
//! stop when dropped: rsyslog (TCP/UDP listener writing what it receives to a file) and
//! PostgreSQL 15 (a fresh cluster, trust authentication on 127.0.0.1).
//!
//! A server whose binary is absent is a SKIP line, or a failure under CI ([`super::ci`]).

#![allow(dead_code, reason = "each test crate uses the part it needs")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "test code: a server that cannot start fails the test"
)]

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free TCP port on 127.0.0.1 (bound and released: a small race the tests accept).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

/// Waits until `addr` accepts TCP connections.
pub fn wait_for_port(addr: SocketAddr, within: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < within {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// `bin` exists, or the test is skipped (a failure under CI).
pub fn have(bin: &str, what: &str) -> bool {
    if Path::new(bin).exists() {
        return true;
    }
    super::skip_unless_ci(what, Path::new(bin), "Debian package (scripts/test.sh installs it)");
    false
}

/// The rsyslog daemon.
pub const RSYSLOGD: &str = "/usr/sbin/rsyslogd";

/// rsyslogd listening on TCP `port` (RFC 6587 framing, octet counting or LF), writing
/// every message it receives, raw, one per line to [`Rsyslog::out`].
pub struct Rsyslog {
    dir: PathBuf,
    /// The TCP port it listens on.
    pub port: u16,
    child: Option<Child>,
}

impl Rsyslog {
    /// Starts rsyslogd in `dir` on TCP `port` and waits until it accepts connections.
    pub fn start(dir: &Path, port: u16) -> Rsyslog {
        std::fs::create_dir_all(dir.join("work")).unwrap();
        let conf = format!(
            "global(workDirectory=\"{work}\")\n\
             module(load=\"imtcp\")\n\
             template(name=\"raw\" type=\"string\" string=\"%rawmsg%\\n\")\n\
             input(type=\"imtcp\" port=\"{port}\" address=\"127.0.0.1\")\n\
             action(type=\"omfile\" file=\"{out}\" template=\"raw\" flushOnTXEnd=\"on\" asyncWriting=\"off\")\n",
            work = dir.join("work").display(),
            out = dir.join("received.log").display(),
        );
        std::fs::write(dir.join("rsyslog.conf"), conf).unwrap();
        let mut r = Rsyslog { dir: dir.to_path_buf(), port, child: None };
        r.restart();
        r
    }

    /// (Re)starts the daemon on the same port and file.
    pub fn restart(&mut self) {
        self.stop();
        let child = Command::new(RSYSLOGD)
            .args(["-n", "-f"])
            .arg(self.dir.join("rsyslog.conf"))
            .arg("-i")
            .arg(self.dir.join("rsyslogd.pid"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start rsyslogd");
        self.child = Some(child);
        let addr: SocketAddr = ([127, 0, 0, 1], self.port).into();
        assert!(wait_for_port(addr, Duration::from_secs(10)), "rsyslogd did not listen on {addr}");
    }

    /// Stops the daemon (SIGTERM: it writes what it has, then exits).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill").arg("-TERM").arg(c.id().to_string()).status();
            let _ = c.wait();
        }
    }

    /// The file of received messages.
    pub fn out(&self) -> PathBuf {
        self.dir.join("received.log")
    }

    /// The messages received so far, one per line.
    pub fn received(&self) -> Vec<String> {
        std::fs::read_to_string(self.out()).unwrap_or_default().lines().map(str::to_string).collect()
    }
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The PostgreSQL 15 server binaries (Debian's postgresql-15).
pub const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

/// A PostgreSQL cluster of its own on 127.0.0.1, user `farhand`, trust authentication.
pub struct Postgres {
    dir: PathBuf,
    /// The port it listens on.
    pub port: u16,
}

impl Postgres {
    /// `initdb` in `dir` and start the server (as the `postgres` user when run as root).
    pub fn start(dir: &Path) -> Postgres {
        let port = free_port();
        let data = dir.join("data");
        std::fs::create_dir_all(dir).unwrap();
        let root = nix_is_root();
        if root {
            // The server runs as `postgres`: it must reach its directory (temporary
            // directories are 0700) and own it.
            if let Some(parent) = dir.parent() {
                let _ = Command::new("chmod").arg("755").arg(parent).status();
            }
            let _ = Command::new("chown").args(["-R", "postgres:postgres"]).arg(dir).status();
        }
        let run = |args: &[&str]| {
            let mut c = if root {
                let mut c = Command::new("runuser");
                c.args(["-u", "postgres", "--"]);
                c
            } else {
                Command::new(args[0])
            };
            if root {
                c.args(args);
            } else {
                c.args(&args[1..]);
            }
            let o = c.output().expect("run a PostgreSQL tool");
            assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
        };
        let initdb = format!("{PG_BIN}/initdb");
        let pg_ctl = format!("{PG_BIN}/pg_ctl");
        let data_s = data.display().to_string();
        run(&[&initdb, "-D", &data_s, "-U", "farhand", "-A", "trust", "--no-sync"]);
        let opts = format!("-p {port} -c listen_addresses=127.0.0.1 -k {} -c fsync=off", dir.display());
        let log = dir.join("pg.log").display().to_string();
        run(&[&pg_ctl, "-D", &data_s, "-o", &opts, "-l", &log, "-w", "start"]);
        let pg = Postgres { dir: dir.to_path_buf(), port };
        assert!(wait_for_port(([127, 0, 0, 1], port).into(), Duration::from_secs(20)), "PostgreSQL did not start");
        pg
    }

    /// A URL of database `postgres` as user `farhand`.
    pub fn url(&self) -> String {
        format!("postgres://farhand@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.dir.join("data").display().to_string();
        let pg_ctl = format!("{PG_BIN}/pg_ctl");
        let mut c = if nix_is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--", &pg_ctl]);
            c
        } else {
            Command::new(&pg_ctl)
        };
        let _ = c.args(["-D", &data, "-m", "immediate", "stop"]).output();
    }
}

/// Whether this process runs as root.
fn nix_is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}
