//! `farhand`: command-line glue around the library. See `farhand --help`.

use clap::{ArgGroup, Parser};
use farhand::config::{Settings, default_workers};
use farhand::outputs::{OutputReport, Outputs};
use farhand::pipeline::{RunOptions, RunSummary, run, run_ticking};
use farhand_engine::capture::{Capture, LiveOptions, Source};
use farhand_model::counters::Live;
use farhand_report::plane::Schedule;
use farhand_report::sink::json::Observer;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use farhand::commands::{exit, fail, one_line};

/// The demo capture recorded by `scripts/record-demo.sh`, built into the binary.
const DEMO_PCAP: &[u8] = include_bytes!(env!("FARHAND_DEMO_PCAP"));

#[derive(Parser, Debug)]
#[command(
    name = "farhand",
    version,
    about = "Flags endpoints driven remotely: fingerprints remote-control sessions (SSH, RDP, VNC, ...) in traffic",
    long_about = None,
    group(ArgGroup::new("input").required(true).multiple(true).args(["read", "interface", "demo", "check_config"])),
    group(ArgGroup::new("checked").multiple(true).args(["config", "demo"])),
    subcommand_negates_reqs = true,
    args_conflicts_with_subcommands = true,
    after_help = "Alerts are JSON lines (OCSF Detection Finding with ECS fields), one per remote-control session;\n\
                  --syslog sends them to collectors too (RFC 5424 or CEF; undelivered ones wait in the --spool),\n\
                  --store keeps them (SQLite file or postgres:// URL) for `farhand report`.\n\
                  A one-line summary goes to stderr at the end, and one line per syslog output.\n\n\
                  Exit codes: 0 ok; 1 input or output could not be opened/read/written; 2 usage or config error;\n\
                  3 the input ended with an error (e.g. truncated file) after the alerts for what was read were written.\n\n\
                  The demo (--demo) brings its own configuration, built in: config/demo/farhand.toml, a policy of a\n\
                  US company (home country US, New York business hours, VNC forbidden) and tiny country and ASN\n\
                  databases that know the demo controller's network (157.90.0.0/16: DE, AS24940 Hetzner Online GmbH).\n\
                  --demo -c FILE runs the demo capture with FILE instead; --demo --check-config shows the demo's.\n\n\
                  Examples:\n  farhand -r capture.pcap\n  farhand -r capture.pcapng -o alerts.jsonl\n  \
                  farhand -i eth1 -f 'not port 53' -c /etc/farhand/farhand.toml -o /var/log/farhand/alerts.jsonl\n  \
                  farhand -i eth1 --syslog tcp://siem.example.com:514 --spool /var/lib/farhand/spool --store /var/lib/farhand/farhand.db\n  \
                  farhand --demo --store demo.db --report demo-report\n  \
                  farhand report --store /var/lib/farhand/farhand.db --period weekly --out week-48 --previous week-47\n  \
                  farhand report verify week-47 week-48\n  \
                  farhand spool flush -c /etc/farhand/farhand.toml\n  \
                  farhand --demo\n  \
                  farhand geo import-asn asn-ipv4.csv.gz asn-ipv6.csv.gz -o asn.mmdb\n  \
                  farhand geo import-country country-ipv4.csv.gz country-ipv6.csv.gz -o country.mmdb"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,

    /// Read packets from a pcap or pcapng file.
    #[arg(short = 'r', long = "read", value_name = "FILE", conflicts_with_all = ["interface", "demo", "check_config"])]
    read: Option<PathBuf>,

    /// Capture live from a network interface (needs CAP_NET_RAW, or root).
    #[arg(short = 'i', long = "interface", value_name = "IFACE", conflicts_with_all = ["demo", "check_config"])]
    interface: Option<String>,

    /// Run on the bundled demo capture (SSH, VNC and RDP sessions plus web/DNS), with the
    /// demo's own built-in configuration (policy, country and ASN databases) unless -c is
    /// given.
    #[arg(long)]
    demo: bool,

    /// Check the configuration file (-c FILE, or with --demo and no -c the demo's built-in
    /// one), print each component's health (ready or degraded, and why) and exit.
    #[arg(long = "check-config", requires = "checked")]
    check_config: bool,

    /// Configuration file (TOML; see config/farhand.toml). Built-in defaults if absent (the
    /// demo's own with --demo).
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    config: Option<PathBuf>,

    /// Write alerts here ("-" = standard output). Overrides output.alerts.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Option<String>,

    /// BPF capture filter (tcpdump syntax). Overrides capture.filter.
    #[arg(short = 'f', long = "filter", value_name = "EXPR")]
    filter: Option<String>,

    /// Live capture with -i: pcap (libpcap, every packet; the default) or ebpf (farhand's
    /// kernel program sends the first packets of each flow and the sessions' packets; needs
    /// CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON). Overrides capture.mode.
    #[arg(long = "capture", value_name = "MODE", value_parser = ["pcap", "ebpf"], requires = "interface")]
    capture: Option<String>,

    /// Fast-path worker threads (default: one per available core). Overrides sensor.workers.
    #[arg(short = 'w', long = "workers", value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    workers: Option<u16>,

    /// Also send alerts to this syslog collector: udp://HOST:PORT, tcp://HOST:PORT (RFC 6587
    /// octet counting); repeatable. TLS collectors (tls://) need a CA: configure them in
    /// [[output.syslog]].
    #[arg(long = "syslog", value_name = "URL")]
    syslog: Vec<String>,

    /// Message format of the --syslog outputs: rfc5424 (structured data) or cef.
    #[arg(long = "syslog-format", value_name = "FORMAT", default_value = "rfc5424", requires = "syslog")]
    syslog_format: String,

    /// Keep undelivered syslog messages in this directory until a collector takes them
    /// (survives restarts). Overrides output.spool_dir.
    #[arg(long = "spool", value_name = "DIR")]
    spool: Option<PathBuf>,

    /// Keep alerts, sessions and endpoints in this store: a SQLite file, or a
    /// postgres://user@host/db URL. Overrides [store].
    #[arg(long = "store", value_name = "FILE|URL")]
    store: Option<String>,

    /// At the end of the run, write the report of what it saw (from the store) into DIR
    /// (report.html, CSV, JSON, privacy statement, manifest). Needs a store.
    #[arg(long = "report", value_name = "DIR")]
    report: Option<PathBuf>,

    /// Serve Prometheus metrics on ADDR:PORT (GET /metrics). Overrides metrics.listen; live
    /// captures serve metrics.listen by default, offline runs only with this option.
    #[arg(long = "metrics", value_name = "ADDR:PORT")]
    metrics: Option<std::net::SocketAddr>,

    /// No progress bar and no summary line.
    #[arg(short = 'q', long)]
    quiet: bool,
}

#[derive(clap::Subcommand, Debug)]
enum Command {
    /// Manage indicator files (domains, certificate names, ports that name tools).
    #[command(subcommand)]
    Indicators(IndicatorsCommand),
    /// Build geography and ownership databases (MaxMind DB files the sensor reads).
    #[command(subcommand)]
    Geo(GeoCommand),
    /// Write an auditors' report from a store (report.html, alerts.csv, sessions.csv,
    /// report.json, privacy statement, manifest.json chained to the previous report), or
    /// verify reports (`farhand report verify DIR...`).
    Report(farhand::commands::ReportArgs),
    /// Work on the syslog spool (`farhand spool flush`: deliver what earlier runs left).
    #[command(subcommand)]
    Spool(farhand::commands::SpoolCommand),
}

#[derive(clap::Subcommand, Debug)]
enum GeoCommand {
    /// Turn IP-range → AS tables (CSV first_ip,last_ip,asn,organisation; plain or gzip) into
    /// one MaxMind DB with GeoLite2-ASN records (autonomous_system_number,
    /// autonomous_system_organization).
    ImportAsn {
        /// The CSV files (IPv4 and IPv6 may be mixed; later files win on identical ranges).
        #[arg(value_name = "CSV", required = true)]
        files: Vec<PathBuf>,
        /// Write the database here, e.g. /etc/farhand/asn.mmdb (replaced whole when done).
        #[arg(short = 'o', long = "output", value_name = "FILE", required = true)]
        output: PathBuf,
    },
    /// Turn IP-range → country tables (CSV first_ip,last_ip,country_code, e.g.
    /// 1.0.0.0,1.0.0.255,AU; plain or gzip) into one MaxMind DB with country records
    /// (country_code and country.iso_code). Codes are two letters, upper-cased; ZZ, -- and
    /// empty mean unknown and are skipped. Where ranges overlap the narrower one wins, then
    /// the one read first: the database answers as the CSV files would as country_db.
    ImportCountry {
        /// The CSV files (IPv4 and IPv6 may be mixed; earlier files win on identical ranges).
        #[arg(value_name = "CSV", required = true)]
        files: Vec<PathBuf>,
        /// Write the database here, e.g. /etc/farhand/country.mmdb (replaced whole when done).
        #[arg(short = 'o', long = "output", value_name = "FILE", required = true)]
        output: PathBuf,
    },
}

/// `farhand geo import-asn` / `import-country`: reads every CSV, writes the database next
/// to `output` and renames it into place, prints one summary line.
fn geo_command(cmd: &GeoCommand) -> u8 {
    let (files, output) = match cmd {
        GeoCommand::ImportAsn { files, output } => (files, output),
        GeoCommand::ImportCountry { files, output } => return import_country_command(files, output),
    };
    let mut writer = farhand::geo::asn_writer();
    let mut total = farhand::geo::ImportStats::default();
    for f in files {
        match farhand::geo::import_file(f, &mut writer) {
            Ok(st) => {
                total.ranges += st.ranges;
                total.networks += st.networks;
            }
            Err(e) => return fail(exit::INPUT, e),
        }
    }
    let size = match write_replacing(output, |out| writer.write(out)) {
        Ok(size) => size,
        Err(e) => return fail(exit::INPUT, format!("{}: cannot write: {e}", output.display())),
    };
    eprintln!(
        "farhand: imported {} ranges from {} file{} as {} networks ({} distinct AS records): {}, {:.1} MB",
        human(total.ranges),
        files.len(),
        if files.len() == 1 { "" } else { "s" },
        human(total.networks),
        human(writer.distinct_records() as u64),
        output.display(),
        size as f64 / 1e6
    );
    exit::OK
}

/// `farhand geo import-country`: loads the CSV files as the sensor would, writes the
/// database next to `output` and renames it into place, prints one summary line.
fn import_country_command(files: &[PathBuf], output: &std::path::Path) -> u8 {
    let mut writer = farhand::geo::country_writer();
    let paths: Vec<&std::path::Path> = files.iter().map(PathBuf::as_path).collect();
    let st = match farhand::geo::import_country(&paths, &mut writer) {
        Ok(st) => st,
        Err(e) => return fail(exit::INPUT, e),
    };
    let size = match write_replacing(output, |out| writer.write(out)) {
        Ok(size) => size,
        Err(e) => return fail(exit::INPUT, format!("{}: cannot write: {e}", output.display())),
    };
    let mut notes = Vec::new();
    if st.unknown > 0 {
        notes.push(format!("{} without a country skipped", human(st.unknown)));
    }
    match st.overlapping {
        0 => {}
        1 => notes.push("1 overlap resolved".to_string()),
        n => notes.push(format!("{} overlaps resolved", human(n as u64))),
    }
    let notes = if notes.is_empty() { String::new() } else { format!(" ({})", notes.join(", ")) };
    eprintln!(
        "farhand: imported {} ranges from {} file{}{notes} as {} networks of {} countries: {}, {:.1} MB",
        human(st.lines),
        files.len(),
        if files.len() == 1 { "" } else { "s" },
        human(st.networks),
        st.countries,
        output.display(),
        size as f64 / 1e6
    );
    exit::OK
}

/// Writes `path` through a temporary file beside it, renamed over `path` once complete, so
/// that a sensor watching `path` never reads half a file. Returns the bytes written.
fn write_replacing(
    path: &std::path::Path,
    fill: impl FnOnce(&mut std::io::BufWriter<std::fs::File>) -> std::io::Result<()>,
) -> std::io::Result<u64> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp-{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let result = std::fs::File::create(&tmp).and_then(|f| {
        let mut out = std::io::BufWriter::new(f);
        fill(&mut out)?;
        let f = out.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()?;
        let size = f.metadata()?.len();
        std::fs::rename(&tmp, path)?;
        Ok(size)
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[derive(clap::Subcommand, Debug)]
enum IndicatorsCommand {
    /// Turn the LOLRMM catalogue (rmm_tools.json, as its API serves it) into an indicator file.
    ImportLolrmm {
        /// The catalogue JSON.
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Write the indicator file here (default: standard output), e.g.
        /// /etc/farhand/indicators/lolrmm.toml.
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Load and validate indicator files (the built-in ones plus every *.toml of DIR); prints
    /// the tool, pattern and owner counts.
    Check {
        /// Directory of indicator files.
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
}

fn indicators_command(cmd: &IndicatorsCommand) -> u8 {
    match cmd {
        IndicatorsCommand::ImportLolrmm { file, output } => {
            let json = match std::fs::read_to_string(file) {
                Ok(j) => j,
                Err(e) => return fail(exit::INPUT, format!("{}: cannot read: {e}", file.display())),
            };
            let (text, st) = match farhand_engine::indicators::lolrmm::import(&json, &file.display().to_string()) {
                Ok(r) => r,
                Err(e) => return fail(exit::INPUT, format!("{}: {e}", file.display())),
            };
            let written = match output {
                Some(o) => std::fs::write(o, &text).map_err(|e| format!("{}: cannot write: {e}", o.display())),
                None => std::io::Write::write_all(&mut std::io::stdout(), text.as_bytes()).map_err(|e| e.to_string()),
            };
            if let Err(e) = written {
                return fail(exit::INPUT, e);
            }
            eprintln!(
                "farhand: imported {} of {} catalogue tools: {} domain patterns, {} ports ({} entries were not domain patterns)",
                st.tools_out, st.tools_in, st.domains, st.ports, st.skipped_domains
            );
            exit::OK
        }
        IndicatorsCommand::Check { dir } => match farhand_engine::indicators::Indicators::load_dir(dir) {
            Ok(ind) => {
                let (tools, patterns) = ind.counts();
                let owners = ind.owners();
                let kinds: Vec<String> = farhand_model::OwnerKind::ALL
                    .iter()
                    .map(|k| format!("{} {}", owners.count(*k), k.name()))
                    .collect();
                eprintln!(
                    "farhand: {}: ok ({tools} tools, {patterns} domain patterns; {} owners: {}; {} ASNs, {} address ranges; built-in included)",
                    dir.display(),
                    owners.len(),
                    kinds.join(", "),
                    owners.asn_count(),
                    owners.range_count()
                );
                exit::OK
            }
            Err(e) => fail(exit::USAGE, e),
        },
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("FARHAND_LOG").unwrap_or_else(|_| "warn".into()))
        .init();
    ExitCode::from(main_inner(cli))
}

fn main_inner(cli: Cli) -> u8 {
    match &cli.command {
        Some(Command::Indicators(cmd)) => return indicators_command(cmd),
        Some(Command::Geo(cmd)) => return geo_command(cmd),
        Some(Command::Report(args)) => return farhand::commands::report(args),
        Some(Command::Spool(cmd)) => return farhand::commands::spool(cmd),
        None => {}
    }
    let loaded = match &cli.config {
        Some(path) => Settings::load(path),
        None if cli.demo => farhand::demo::settings(),
        None => Ok(Settings::defaults()),
    };
    let mut settings = match loaded {
        Ok(s) => s,
        Err(e) => return fail(exit::USAGE, e),
    };
    if cli.check_config {
        let mut report = String::new();
        match &cli.config {
            Some(path) => report += &format!("farhand: {}: ok\n", path.display()),
            None => report += &format!("farhand: {} (the demo's, built in): ok\n", farhand::demo::CONFIG_NAME),
        }
        for h in settings.health() {
            report += &format!("farhand: {h}\n");
        }
        return match std::io::Write::write_all(&mut std::io::stdout(), report.as_bytes()) {
            Ok(()) => exit::OK,
            Err(e) => fail(exit::INPUT, format!("cannot write to standard output: {e}")),
        };
    }
    if let Err(e) = apply_overrides(&cli, &mut settings) {
        return fail(exit::USAGE, e);
    }
    for h in settings.health().iter().filter(|h| h.is_degraded()) {
        eprintln!("farhand: warning: {h}");
    }
    let (mut cap, _demo_file) = match open_capture(&cli, &settings) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let observer = Observer { name: farhand::commands::hostname_of(&settings) };
    let mut sink = match Outputs::open(&settings, &observer, cli.interface.is_some()) {
        Ok(s) => s,
        Err(e) => return fail(exit::INPUT, e),
    };

    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        let _ = ctrlc::set_handler(move || stop.store(true, Ordering::Relaxed));
    }
    let live = Arc::new(Live::new(settings.workers));
    if let Some(addr) = settings.reporting.metrics {
        match sink.serve_metrics(addr, live.clone()) {
            Ok(bound) => tracing::info!("metrics on http://{bound}/metrics"),
            // The default address taken (a second sensor on this host): go on without.
            Err(e) if settings.reporting.metrics_default => {
                eprintln!("farhand: warning: {} (no metrics; set metrics.listen)", one_line(&e))
            }
            Err(e) => return fail(exit::INPUT, e),
        }
    }
    let opts = RunOptions {
        progress: !cli.quiet && std::io::stderr().is_terminal(),
        stop: Some(stop),
        live: Some(live.clone()),
    };
    let name = if cli.demo { "demo capture".to_string() } else { cap.name().to_string() };
    let summary = match (&settings.reporting.schedule, &settings.reporting.store, &cli.interface) {
        // A live sensor writes each completed period's report (checked every minute).
        (Some((period, dir)), Some(store), Some(_)) => {
            let mut schedule = Schedule::new(*period, dir.clone(), store.clone(), observer.name.clone());
            let mut tick = move || match schedule.tick(farhand::outputs::now_us()) {
                Ok(Some(dir)) => {
                    live.set_last_report((farhand::outputs::now_us() / 1_000_000).max(0) as u64);
                    tracing::info!("report written to {}", dir.display())
                }
                Ok(None) => {}
                Err(e) => tracing::warn!("scheduled report: {e}"),
            };
            run_ticking(&mut *cap, &settings, &mut sink, &opts, std::time::Duration::from_secs(60), &mut tick)
        }
        _ => run(&mut *cap, &settings, &mut sink, &opts),
    };
    if !cli.quiet {
        eprintln!("farhand: {name}: {}", summary_line(&summary));
    }
    // The run's report covers the whole hours its packets (or, failing that, its alerts) span.
    let packets = (summary.span.0 > 0).then_some((summary.span.0 as i64, summary.span.1 as i64));
    let span = packets.or(sink.stored_span());
    let delivered = sink.finish(settings.reporting.drain_timeout);
    let mut code = exit_code(&summary, &settings);
    if !cli.quiet {
        for d in &delivered {
            eprintln!("farhand: {}", output_line(d));
        }
    }
    if let Some(dir) = &cli.report {
        code = code.max(run_report(&settings, &observer, span, dir, cli.quiet));
    }
    code
}

/// One line on a syslog output at the end of a run.
fn output_line(d: &OutputReport) -> String {
    let st = d.stats.snapshot();
    let left = if d.drain.delivered_all {
        "nothing left".to_string()
    } else {
        format!("{} left in the spool (farhand spool flush delivers them)", human(d.drain.left))
    };
    let dropped =
        if st.overflow > 0 { format!(", {} dropped (spool full)", human(st.overflow)) } else { String::new() };
    format!(
        "syslog {}: {} queued, {} delivered, {} resent after reconnects, {left}{dropped}",
        d.target,
        human(st.queued),
        human(st.acked),
        human(st.resent)
    )
}

/// `--report DIR`: the report of what this run stored (its alerts' time span).
fn run_report(
    settings: &Settings,
    observer: &Observer,
    span: Option<(i64, i64)>,
    dir: &std::path::Path,
    quiet: bool,
) -> u8 {
    let Some(store) = &settings.reporting.store else {
        return fail(exit::USAGE, "--report needs a store (--store FILE or [store] in the config)");
    };
    // Whole hours around the span (an empty input: the hour of the run).
    const HOUR: i64 = 3_600_000_000;
    let now = farhand::outputs::now_us();
    let (lo, hi) = span.unwrap_or((now, now));
    let from = lo.div_euclid(HOUR).saturating_mul(HOUR);
    let to = (hi.div_euclid(HOUR).saturating_add(1)).saturating_mul(HOUR);
    match farhand::outputs::write_report(store, from, to, std::slice::from_ref(&observer.name), dir, None) {
        Ok((html, bytes)) => {
            if !quiet {
                // Where to open it: an absolute path, whatever the working directory.
                let html = std::fs::canonicalize(&html).unwrap_or(html);
                eprintln!(
                    "farhand: report written to {} ({:.1} kB; open it in a browser)",
                    html.display(),
                    bytes as f64 / 1e3
                );
            }
            exit::OK
        }
        Err(e) => fail(exit::INPUT, format!("{}: cannot write the report: {e}", dir.display())),
    }
}

/// The command line's overrides of the configured settings (`Err`: a bad value).
fn apply_overrides(cli: &Cli, settings: &mut Settings) -> Result<(), String> {
    if let Some(m) = &cli.capture {
        settings.capture.mode = m.clone();
    }
    if let Some(w) = cli.workers {
        settings.workers = usize::from(w);
    } else if settings.workers == 0 {
        settings.workers = default_workers();
    }
    if let Some(f) = &cli.filter {
        settings.capture.filter = f.clone();
    }
    if let Some(o) = &cli.output {
        settings.alerts = o.clone();
    }
    let r = &mut settings.reporting;
    for url in &cli.syslog {
        r.syslog.push(
            farhand::config::outputs::syslog_output(url, &cli.syslog_format).map_err(|e| format!("--syslog: {e}"))?,
        );
    }
    if let Some(dir) = &cli.spool {
        r.spool.dir = Some(dir.clone());
    }
    if let Some(s) = &cli.store {
        r.store = Some(farhand_report::store::StoreTarget::parse(s).map_err(|e| format!("--store: {e}"))?);
    }
    if cli.report.is_some() && r.store.is_none() {
        return Err("--report needs a store (--store FILE|URL, or [store] in the config)".into());
    }
    if cli.metrics.is_some() {
        r.metrics = cli.metrics;
        r.metrics_default = false;
    } else if cli.interface.is_none() {
        // Offline runs serve metrics only when asked.
        r.metrics = None;
    }
    Ok(())
}

/// The capture the command line names: a file, an interface, or the embedded demo capture
/// (unpacked to a temporary directory, removed when the returned guard drops), with the
/// capture filter applied to files. `Err` is the exit code, the error already printed.
fn open_capture(cli: &Cli, settings: &Settings) -> Result<(Box<dyn Source>, Option<TempDir>), u8> {
    if let Some(iface) = &cli.interface
        && settings.capture.mode == "ebpf"
    {
        match open_ebpf(iface, settings) {
            Ok(c) => return Ok((c, None)),
            Err(e) if settings.capture.fallback == "pcap" => {
                eprintln!("farhand: warning: {e}; capturing with libpcap instead (capture.fallback)");
            }
            Err(e) => {
                return Err(fail(exit::INPUT, format!("{e} (capture.fallback = \"pcap\" falls back to libpcap)")));
            }
        }
    }
    let mut demo_file = None;
    let mut cap = if let Some(path) = &cli.read {
        Capture::open_file(path).map_err(|e| fail(exit::INPUT, e))?
    } else if let Some(iface) = &cli.interface {
        let opts = LiveOptions {
            snaplen: settings.capture.snaplen as i32,
            promiscuous: settings.capture.promiscuous,
            buffer_bytes: (settings.capture.buffer_mib.min(2047) * 1024 * 1024) as i32,
            filter: settings.capture.filter.clone(),
        };
        Capture::open_live(iface, &opts).map_err(|e| fail(exit::INPUT, e))?
    } else {
        // --demo: libpcap reads files, so unpack the embedded capture to a temporary file.
        let dir = std::env::temp_dir().join(format!("farhand-demo-{}", std::process::id()));
        let path = dir.join("demo.pcap");
        if let Err(e) = std::fs::create_dir_all(&dir).and_then(|_| std::fs::write(&path, DEMO_PCAP)) {
            return Err(fail(exit::INPUT, format!("{}: cannot write the demo capture: {e}", path.display())));
        }
        let c = Capture::open_file(&path).map_err(|e| fail(exit::INPUT, e))?;
        demo_file = Some(TempDir(dir));
        c
    };
    if cli.interface.is_none() && !settings.capture.filter.is_empty() {
        let f = settings.capture.filter.clone();
        cap.set_filter(&f).map_err(|e| fail(exit::USAGE, e))?;
    }
    Ok((Box::new(cap), demo_file))
}

/// The eBPF capture on `iface` (`Err`: one line saying what is missing).
#[cfg(target_os = "linux")]
fn open_ebpf(iface: &str, settings: &Settings) -> Result<Box<dyn Source>, String> {
    use farhand_engine::capture::{EbpfCapture, EbpfOptions};
    if !settings.capture.filter.is_empty() {
        return Err("capture.filter (-f) applies to libpcap captures; the eBPF capture has none yet".into());
    }
    let object = (!settings.capture.ebpf_object.is_empty()).then(|| PathBuf::from(&settings.capture.ebpf_object));
    // The kernel sends each flow direction's first payload bytes, as many as the enabled
    // detectors' interest() asks for.
    let wanted = settings.fast_path().bytes_wanted();
    let opts = EbpfOptions {
        object,
        first_payload: u32::try_from(wanted).unwrap_or(u32::MAX).max(1),
        ..EbpfOptions::default()
    };
    tracing::debug!("eBPF capture: first {} payload bytes of each flow direction", opts.first_payload);
    EbpfCapture::open(iface, &opts).map(|c| Box::new(c) as Box<dyn Source>).map_err(|e| e.to_string())
}

/// The eBPF capture exists on Linux only.
#[cfg(not(target_os = "linux"))]
fn open_ebpf(_iface: &str, _settings: &Settings) -> Result<Box<dyn Source>, String> {
    Err("the eBPF capture needs Linux".into())
}

/// The exit code of a finished run (errors printed): a sink that failed, an input that
/// ended early, or success. A closed stdout (`| head`) is not an error of ours.
fn exit_code(summary: &RunSummary, settings: &Settings) -> u8 {
    if let Some(e) = &summary.sink_error {
        if settings.alerts == "-" && e.contains("Broken pipe") {
            return exit::OK;
        }
        // The error names its output (the JSON-lines file, a syslog spool, the store).
        return fail(exit::INPUT, format!("writing alerts failed: {e}"));
    }
    if let Some(e) = &summary.input_error {
        return fail(
            exit::PARTIAL,
            format!("{e} (stopped after {} packets; alerts for them were written)", summary.packets),
        );
    }
    exit::OK
}

/// Removes the demo's temporary directory when dropped.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn human(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn summary_line(s: &RunSummary) -> String {
    let secs = s.elapsed.as_secs_f64().max(1e-9);
    let drops = s.capture.dropped + s.capture.if_dropped;
    let anomalies = &s.detect.anomalies;
    let anomalies = match anomalies.total() {
        0 => String::new(),
        n => format!("; parser anomalies: {} ({anomalies})", human(n)),
    };
    format!(
        "{} packets, {:.1} MB in {:.2} s ({:.2} Mpps, {:.2} Gbit/s, {} worker{}); {} flows, {} sessions, {} alerts; \
         drops: {} capture, {} flow-table, {} findings; not decoded: {} non-IP, {} other IP, {} fragments, {} truncated, {} malformed",
        human(s.packets),
        s.bytes as f64 / 1e6,
        secs,
        s.packets as f64 / secs / 1e6,
        s.bytes as f64 * 8.0 / secs / 1e9,
        s.workers,
        if s.workers == 1 { "" } else { "s" },
        human(s.flows.created),
        human(s.detect.sessions),
        human(s.alerts),
        human(drops),
        human(s.flows.dropped_full),
        human(s.findings_dropped),
        human(s.decode.non_ip),
        human(s.decode.other_ip),
        human(s.decode.fragments),
        human(s.decode.truncated),
        human(s.decode.malformed),
    ) + &anomalies
        + &kernel_line(s)
}

/// The eBPF capture's kernel counters, for the summary line ("" for other captures).
fn kernel_line(s: &RunSummary) -> String {
    let Some(k) = &s.capture.kernel else { return String::new() };
    let parts: Vec<String> = farhand_ebpf_common::Counter::ALL
        .iter()
        .zip(k.iter())
        .map(|(c, v)| format!("{} {}", c.name().replace('_', " "), human(*v)))
        .collect();
    format!("; kernel: {}", parts.join(", "))
}
