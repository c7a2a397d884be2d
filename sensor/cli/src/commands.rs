//! The subcommands that work on what runs left behind: `farhand report` (an auditors'
//! report from a store), `farhand report verify` (the manifest chain) and `farhand spool
//! flush` (deliver spooled syslog messages).
//!
//! # Contract
//! Each command prints one line per result to stderr (`farhand: …`) and returns an exit
//! code from [`exit`]: 0 done, 1 input or output failed (a store that cannot be read, a
//! report that does not verify, messages left in the spool), 2 usage or config error.

use crate::config::Settings;
use crate::config::outputs::syslog_output;
use crate::outputs::{now_us, runtime, write_report};
use farhand_report::audit::{self, Period};
use farhand_report::sink::syslog::forward::{SpoolConfig, flush_spool};
use farhand_report::store::StoreTarget;
use std::path::PathBuf;
use std::time::Duration;

/// Exit codes (also in `farhand --help`).
pub mod exit {
    /// Done.
    pub const OK: u8 = 0;
    /// Input or output could not be opened, read or written (or did not verify).
    pub const INPUT: u8 = 1;
    /// Usage or config error.
    pub const USAGE: u8 = 2;
    /// The input ended with an error after what was read before it was reported.
    pub const PARTIAL: u8 = 3;
}

/// `farhand report`.
#[derive(clap::Args, Debug)]
#[command(
    args_conflicts_with_subcommands = true,
    after_help = "Times are RFC 3339 (2026-12-01T00:00:00Z) or dates (2026-12-01 = midnight UTC); --to is exclusive.\n\
                  --period daily|weekly|monthly takes the last complete period (UTC; weeks start on Monday).\n\n\
                  Examples:\n  farhand report --store /var/lib/farhand/farhand.db --period weekly --out /srv/reports/2026-w48\n  \
                  farhand report --store postgres://farhand@db/fleet --from 2026-11-01 --to 2026-12-01 --out nov --previous oct\n  \
                  farhand report verify oct nov"
)]
pub struct ReportArgs {
    /// `verify DIR...`.
    #[command(subcommand)]
    pub verify: Option<ReportCommand>,
    /// The store to read: a SQLite file or a postgres:// URL (default: the config's [store]).
    #[arg(long = "store", value_name = "FILE|URL")]
    pub store: Option<String>,
    /// Configuration file whose [store] to read.
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Start of the period (inclusive).
    #[arg(long = "from", value_name = "TIME", requires = "to", conflicts_with = "period")]
    pub from: Option<String>,
    /// End of the period (exclusive).
    #[arg(long = "to", value_name = "TIME", requires = "from")]
    pub to: Option<String>,
    /// The last complete day, week or month instead of --from/--to.
    #[arg(long = "period", value_name = "PERIOD")]
    pub period: Option<String>,
    /// Only these sensors (repeatable; default: every sensor in the store).
    #[arg(long = "sensor", value_name = "NAME")]
    pub sensor: Vec<String>,
    /// Write the report into this directory.
    #[arg(short = 'o', long = "out", value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// The previous report's directory: its manifest's SHA-256 goes into this one's.
    #[arg(long = "previous", value_name = "DIR")]
    pub previous: Option<PathBuf>,
}

/// `farhand report verify`.
#[derive(clap::Subcommand, Debug)]
pub enum ReportCommand {
    /// Check report directories (oldest first): every file against its manifest, and each
    /// manifest against the previous one. Names the first broken link; exit 1 if any.
    Verify {
        /// Report directories, oldest first.
        #[arg(value_name = "DIR", required = true)]
        dirs: Vec<PathBuf>,
    },
}

/// `farhand spool`.
#[derive(clap::Subcommand, Debug)]
pub enum SpoolCommand {
    /// Deliver what earlier runs left in the spool to the configured syslog collectors,
    /// oldest first; exit 1 if something is still left after the timeout.
    Flush {
        /// Configuration file (its [[output.syslog]] and output.spool_dir).
        #[arg(short = 'c', long = "config", value_name = "FILE")]
        config: Option<PathBuf>,
        /// The spool directory (overrides output.spool_dir).
        #[arg(long = "spool", value_name = "DIR")]
        spool: Option<PathBuf>,
        /// A collector (as for the sensor's --syslog; repeatable).
        #[arg(long = "syslog", value_name = "URL")]
        syslog: Vec<String>,
        /// Format of the --syslog collectors.
        #[arg(long = "syslog-format", value_name = "FORMAT", default_value = "rfc5424")]
        syslog_format: String,
        /// Seconds to keep trying (default: output.drain_timeout).
        #[arg(long = "timeout", value_name = "SECS")]
        timeout: Option<u64>,
    },
}

/// Prints `msg` as one `farhand: …` line on stderr and returns `code` (the exit code).
pub fn fail(code: u8, msg: impl std::fmt::Display) -> u8 {
    eprintln!("farhand: {}", one_line(&msg.to_string()));
    code
}

/// A message as one line (control characters, e.g. a newline in a file name, as spaces).
pub fn one_line(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

fn load(config: &Option<PathBuf>) -> Result<Settings, u8> {
    match config {
        Some(p) => Settings::load(p).map_err(|e| fail(exit::USAGE, e)),
        None => Ok(Settings::defaults()),
    }
}

/// `farhand report …`: writes a report, or verifies reports.
pub fn report(args: &ReportArgs) -> u8 {
    if let Some(ReportCommand::Verify { dirs }) = &args.verify {
        return match audit::verify(dirs) {
            Ok(v) => {
                eprintln!(
                    "farhand: {} report{} verified: {} files, {:.1} kB, every manifest linked; newest manifest SHA-256 {}",
                    v.dirs,
                    if v.dirs == 1 { "" } else { "s" },
                    v.files,
                    v.bytes as f64 / 1e3,
                    v.last_manifest_sha256
                );
                exit::OK
            }
            Err(e) => fail(exit::INPUT, format!("verification failed: {e}")),
        };
    }
    let settings = match load(&args.config) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let target = match &args.store {
        Some(s) => match StoreTarget::parse(s) {
            Ok(t) => t,
            Err(e) => return fail(exit::USAGE, format!("--store: {e}")),
        },
        None => match settings.reporting.store.clone() {
            Some(t) => t,
            None => return fail(exit::USAGE, "report: no store (--store FILE|URL, or [store] in -c FILE)"),
        },
    };
    // A report reads a store; it never creates one (a mistyped path is an error, not an
    // empty report).
    if let StoreTarget::Sqlite(path) = &target
        && !path.is_file()
    {
        return fail(exit::INPUT, format!("{}: no such store", path.display()));
    }
    let Some(out) = &args.out else {
        return fail(exit::USAGE, "report: --out DIR is required");
    };
    let (from, to) = match (&args.from, &args.to, &args.period) {
        (Some(f), Some(t), None) => match (audit::parse_time(f), audit::parse_time(t)) {
            (Ok(f), Ok(t)) if f < t => (f, t),
            (Ok(_), Ok(_)) => return fail(exit::USAGE, format!("report: --from {f} is not before --to {t}")),
            (Err(e), _) => return fail(exit::USAGE, format!("--from: {e}")),
            (_, Err(e)) => return fail(exit::USAGE, format!("--to: {e}")),
        },
        (None, None, Some(p)) => match Period::parse(p) {
            Ok(p) => p.last_complete(now_us()),
            Err(e) => return fail(exit::USAGE, format!("--period: {e}")),
        },
        _ => return fail(exit::USAGE, "report: give --from TIME --to TIME, or --period daily|weekly|monthly"),
    };
    let started = std::time::Instant::now();
    match write_report(&target, from, to, &args.sensor, out, args.previous.as_deref()) {
        Ok((html, bytes)) => {
            eprintln!(
                "farhand: report written to {} ({:.1} kB HTML, {:.2} s)",
                html.display(),
                bytes as f64 / 1e3,
                started.elapsed().as_secs_f64()
            );
            exit::OK
        }
        Err(e) => fail(exit::INPUT, e),
    }
}

/// `farhand spool …`.
pub fn spool(cmd: &SpoolCommand) -> u8 {
    let SpoolCommand::Flush { config, spool, syslog, syslog_format, timeout } = cmd;
    let settings = match load(config) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let r = &settings.reporting;
    let mut outputs = r.syslog.clone();
    for url in syslog {
        match syslog_output(url, syslog_format) {
            Ok(o) => outputs.push(o),
            Err(e) => return fail(exit::USAGE, format!("--syslog: {e}")),
        }
    }
    let dir = spool.clone().or_else(|| r.spool.dir.clone());
    let Some(dir) = dir else {
        return fail(exit::USAGE, "spool flush: no spool directory (--spool DIR, or output.spool_dir in -c FILE)");
    };
    if outputs.is_empty() {
        return fail(exit::USAGE, "spool flush: no collector (--syslog URL, or [[output.syslog]] in -c FILE)");
    }
    let host = hostname_of(&settings);
    for o in &mut outputs {
        o.sender.hostname = host.clone();
        o.sender.proc_id = std::process::id().to_string();
    }
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => return fail(exit::INPUT, e),
    };
    let cfg = SpoolConfig { dir: Some(dir), max_bytes: r.spool.max_bytes };
    let wait = timeout.map(Duration::from_secs).unwrap_or(r.drain_timeout);
    let results = match flush_spool(outputs, &cfg, wait, rt.handle()) {
        Ok(r) => r,
        Err(e) => return fail(exit::INPUT, e),
    };
    rt.shutdown_timeout(Duration::from_secs(1));
    let mut code = exit::OK;
    for (target, d) in results {
        if d.delivered_all {
            eprintln!("farhand: spool flush {target}: everything delivered");
        } else {
            eprintln!("farhand: spool flush {target}: {} messages still spooled", d.left);
            code = exit::INPUT;
        }
    }
    code
}

/// The sensor's name: `[sensor] name`, else the host name.
pub fn hostname_of(settings: &Settings) -> String {
    if settings.name.is_empty() {
        std::fs::read_to_string("/proc/sys/kernel/hostname").map(|s| s.trim().to_string()).unwrap_or_default()
    } else {
        settings.name.clone()
    }
}
