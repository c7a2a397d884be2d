//! The reporting plane's sections: `[output]`'s network outputs and spool, `[store]`,
//! `[report]` and `[metrics]`, raw and validated.
//!
//! # Contract
//! - Every section rejects unknown keys (as the rest of the file does); each value is checked
//!   here, at load time, so that a typo in a syslog target or a store URL stops farhand at
//!   start with the file, line and key, never later in the middle of a capture.
//! - Relative paths (spool directory, store file, report directory, TLS files) are relative
//!   to the config file, as `detect.indicators_dir` and `[enrich]` are.
//! - [`Reporting`] is the validated form the binary wires up; its defaults (an empty file)
//!   are: no syslog output, spool in memory, 10 s drain, no store, no scheduled report,
//!   metrics on `127.0.0.1:9750` for live captures.

use super::Located;
use farhand_model::ConfigError;
use farhand_report::audit::Period;
use farhand_report::sink::syslog::TlsFiles;
use farhand_report::sink::syslog::forward::{Format, OutputConfig, SpoolConfig, Target, Transport};
use farhand_report::sink::syslog::{Facility, Sender};
use farhand_report::store::StoreTarget;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::Spanned;

/// The metrics endpoint's address unless configured.
pub const DEFAULT_METRICS: &str = "127.0.0.1:9750";
/// The spool's bound unless configured, MiB.
pub const DEFAULT_SPOOL_MIB: u64 = 256;
/// Seconds an offline run keeps trying to deliver its backlog unless configured.
pub const DEFAULT_DRAIN_SECS: u64 = 10;
pub use farhand_report::sink::syslog::forward::UDP_MAX_OCTETS;

/// One `[[output.syslog]]` table: a syslog collector.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyslogSection {
    /// `udp://HOST:PORT`, `tcp://HOST:PORT` or `tls://HOST:PORT`.
    pub target: Spanned<String>,
    /// `rfc5424` (default) or `cef`.
    #[serde(default = "rfc5424_name")]
    pub format: Spanned<String>,
    /// Syslog facility (`local0` default … `local7`, `daemon`, `security`, …).
    #[serde(default = "local0_name")]
    pub facility: Spanned<String>,
    /// TLS: the CA certificate(s) (PEM) the collector's certificate must chain to.
    #[serde(default)]
    pub ca: String,
    /// TLS: a client certificate (PEM) for collectors that require one.
    #[serde(default)]
    pub cert: String,
    /// TLS: the client certificate's private key (PEM).
    #[serde(default)]
    pub key: String,
    /// TLS: the name the collector's certificate must carry ("" = the target's host).
    #[serde(default)]
    pub server_name: String,
    /// The largest message, octets (0 = 2048 for UDP, no limit for TCP and TLS).
    #[serde(default)]
    pub max_message: usize,
}

fn rfc5424_name() -> Spanned<String> {
    Spanned::new(0..0, "rfc5424".into())
}

fn local0_name() -> Spanned<String> {
    Spanned::new(0..0, "local0".into())
}

/// `[store]`: where alerts, sessions and endpoints are kept for reports.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreSection {
    /// SQLite file ("" = none unless `url` is set).
    pub path: Spanned<String>,
    /// A fleet store: `postgres://user@host/db` (overrides `path`).
    pub url: Spanned<String>,
    /// Days of history to keep (0 = forever).
    pub retention_days: u64,
}

impl Default for StoreSection {
    fn default() -> Self {
        StoreSection {
            path: Spanned::new(0..0, String::new()),
            url: Spanned::new(0..0, String::new()),
            retention_days: 400,
        }
    }
}

/// `[report]`: scheduled reports written by a live sensor.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReportSection {
    /// `""` (none), `daily`, `weekly` or `monthly`.
    pub schedule: Spanned<String>,
    /// Where each period's report directory is written.
    pub dir: Spanned<String>,
}

impl Default for ReportSection {
    fn default() -> Self {
        ReportSection { schedule: Spanned::new(0..0, String::new()), dir: Spanned::new(0..0, String::new()) }
    }
}

/// `[metrics]`: the Prometheus endpoint.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsSection {
    /// `ADDR:PORT` to serve `/metrics` on while capturing live ("" = off).
    pub listen: Spanned<String>,
}

impl Default for MetricsSection {
    fn default() -> Self {
        MetricsSection { listen: Spanned::new(0..0, DEFAULT_METRICS.into()) }
    }
}

/// The validated reporting-plane settings.
#[derive(Debug, Clone)]
pub struct Reporting {
    /// Syslog collectors (the sender's host name is filled in at start).
    pub syslog: Vec<OutputConfig>,
    /// The spool (directory or memory) and its bound.
    pub spool: SpoolConfig,
    /// How long an offline run keeps trying to deliver its backlog at the end.
    pub drain_timeout: Duration,
    /// The store, if any.
    pub store: Option<StoreTarget>,
    /// History kept in the store (`None` = forever).
    pub retention: Option<Duration>,
    /// Scheduled reports: the period and the directory they go to.
    pub schedule: Option<(Period, PathBuf)>,
    /// The metrics endpoint (`None` = off).
    pub metrics: Option<SocketAddr>,
    /// `metrics` is the default address: a sensor that cannot bind it (another sensor on the
    /// host has it) warns and goes on instead of refusing to start; any other address that
    /// cannot be bound stops it.
    pub metrics_default: bool,
}

impl Default for Reporting {
    fn default() -> Self {
        Reporting {
            syslog: Vec::new(),
            spool: SpoolConfig { dir: None, max_bytes: DEFAULT_SPOOL_MIB << 20 },
            drain_timeout: Duration::from_secs(DEFAULT_DRAIN_SECS),
            store: None,
            retention: Some(Duration::from_secs(400 * 86_400)),
            schedule: None,
            metrics: DEFAULT_METRICS.parse().ok(),
            metrics_default: true,
        }
    }
}

/// A syslog output from a target URL and a format name (the command line's `--syslog`).
pub fn syslog_output(target: &str, format: &str) -> Result<OutputConfig, String> {
    let target = Target::parse(target)?;
    let format = Format::parse(format)?;
    if matches!(target.transport, Transport::Tls) {
        return Err(format!("{target}: TLS needs a CA file: configure it in [[output.syslog]] (ca = \"...\")"));
    }
    let mut sender = Sender::default();
    if matches!(target.transport, Transport::Udp) {
        sender.max_octets = Some(UDP_MAX_OCTETS);
    }
    Ok(OutputConfig { target, format, sender, tls: None })
}

/// Resolves `p` against the config file's directory when relative.
fn resolve(at: &Located<'_>, p: &str) -> PathBuf {
    let p = Path::new(p);
    if p.is_relative() { at.path.parent().unwrap_or(Path::new(".")).join(p) } else { p.to_path_buf() }
}

/// Checks the reporting plane's sections.
pub(super) fn validate(
    output: &super::OutputSection,
    store: &StoreSection,
    report: &ReportSection,
    metrics: &MetricsSection,
    at: &Located<'_>,
) -> Result<Reporting, ConfigError> {
    let mut syslog = Vec::new();
    for s in &output.syslog {
        syslog.push(syslog_section(s, at)?);
    }
    if output.spool_max_mib == 0 || output.spool_max_mib > 1 << 20 {
        return Err(at.key(
            "spool_max_mib",
            format!("output.spool_max_mib: {} is out of range (1..=1048576)", output.spool_max_mib),
        ));
    }
    if output.drain_timeout > 3600 {
        return Err(at.key(
            "drain_timeout",
            format!("output.drain_timeout: {} is out of range (0..=3600 seconds)", output.drain_timeout),
        ));
    }
    let spool_dir = output.spool_dir.get_ref();
    let spool = SpoolConfig {
        dir: (!spool_dir.is_empty()).then(|| resolve(at, spool_dir)),
        max_bytes: output.spool_max_mib << 20,
    };
    let store_target = if !store.url.get_ref().is_empty() {
        let t = StoreTarget::parse(store.url.get_ref())
            .map_err(|e| at.span(store.url.span(), format!("store.url: {e}")))?;
        if !matches!(t, StoreTarget::Postgres(_)) {
            return Err(
                at.span(store.url.span(), "store.url: not a postgres:// URL (a SQLite file goes in store.path)".into())
            );
        }
        Some(t)
    } else if !store.path.get_ref().is_empty() {
        let p = store.path.get_ref();
        if p.starts_with("postgres://") || p.starts_with("postgresql://") {
            return Err(at.span(store.path.span(), "store.path: a PostgreSQL URL goes in store.url".into()));
        }
        Some(StoreTarget::Sqlite(resolve(at, p)))
    } else {
        None
    };
    if store.retention_days > 100 * 366 {
        return Err(at.key(
            "retention_days",
            format!("store.retention_days: {} is out of range (0..=36600)", store.retention_days),
        ));
    }
    let schedule = match report.schedule.get_ref().as_str() {
        "" => None,
        name => {
            let period =
                Period::parse(name).map_err(|e| at.span(report.schedule.span(), format!("report.schedule: {e}")))?;
            if report.dir.get_ref().is_empty() {
                return Err(
                    at.span(report.schedule.span(), "report.schedule: needs report.dir (where reports go)".into())
                );
            }
            if store_target.is_none() {
                return Err(at.span(
                    report.schedule.span(),
                    "report.schedule: needs a store (store.path or store.url) to read the period from".into(),
                ));
            }
            Some((period, resolve(at, report.dir.get_ref())))
        }
    };
    let listen = metrics.listen.get_ref();
    let metrics_default = listen == DEFAULT_METRICS;
    let metrics = if listen.is_empty() {
        None
    } else {
        Some(listen.parse::<SocketAddr>().map_err(|_| {
            at.span(
                metrics.listen.span(),
                format!("metrics.listen: {listen:?} is not ADDR:PORT (like \"127.0.0.1:9750\")"),
            )
        })?)
    };
    Ok(Reporting {
        syslog,
        spool,
        drain_timeout: Duration::from_secs(output.drain_timeout),
        store: store_target,
        retention: (store.retention_days > 0).then(|| Duration::from_secs(store.retention_days * 86_400)),
        schedule,
        metrics,
        metrics_default,
    })
}

/// One `[[output.syslog]]`.
fn syslog_section(s: &SyslogSection, at: &Located<'_>) -> Result<OutputConfig, ConfigError> {
    let target = Target::parse(s.target.get_ref())
        .map_err(|e| at.span(s.target.span(), format!("output.syslog.target: {e}")))?;
    let format = Format::parse(s.format.get_ref())
        .map_err(|e| at.span(s.format.span(), format!("output.syslog.format: {e}")))?;
    let facility = Facility::from_name(s.facility.get_ref()).ok_or_else(|| {
        at.span(
            s.facility.span(),
            format!(
                "output.syslog.facility: unknown facility {:?} (local0 … local7, daemon, auth, …)",
                s.facility.get_ref()
            ),
        )
    })?;
    let tls = match target.transport {
        Transport::Tls => {
            if s.ca.is_empty() {
                return Err(
                    at.span(s.target.span(), format!("output.syslog: {target} needs ca (the collector's CA, PEM)"))
                );
            }
            if s.cert.is_empty() != s.key.is_empty() {
                return Err(at.span(s.target.span(), "output.syslog: cert and key go together".into()));
            }
            let file = |p: &str| {
                let path = resolve(at, p);
                match std::fs::metadata(&path) {
                    Ok(m) if m.is_file() => Ok(path),
                    Ok(_) => Err(at.span(s.target.span(), format!("output.syslog: {}: not a file", path.display()))),
                    Err(e) => Err(at.span(s.target.span(), format!("output.syslog: {}: {e}", path.display()))),
                }
            };
            Some(TlsFiles {
                ca: file(&s.ca)?,
                cert: if s.cert.is_empty() { None } else { Some(file(&s.cert)?) },
                key: if s.key.is_empty() { None } else { Some(file(&s.key)?) },
                server_name: (!s.server_name.is_empty()).then(|| s.server_name.clone()),
            })
        }
        _ => {
            if !(s.ca.is_empty() && s.cert.is_empty() && s.key.is_empty() && s.server_name.is_empty()) {
                return Err(at.span(
                    s.target.span(),
                    format!("output.syslog: ca, cert, key and server_name are for tls:// targets, not {target}"),
                ));
            }
            None
        }
    };
    let mut sender = Sender { facility, ..Sender::default() };
    sender.max_octets = match (s.max_message, &target.transport) {
        (0, Transport::Udp) => Some(UDP_MAX_OCTETS),
        (0, _) => None,
        (n, _) if n < 480 => {
            return Err(at.span(
                s.target.span(),
                format!("output.syslog.max_message: {n} is too small (at least 480, RFC 5426)"),
            ));
        }
        (n, _) => Some(n),
    };
    Ok(OutputConfig { target, format, sender, tls })
}
