//! `farhand-lab-relay`: emulates distance in the farhand test lab, where the kernel has no
//! netem. Three modes:
//!
//! - `tcp`: a terminating TCP relay (vendor relay, jump host). Bytes between the relay and the
//!   *listen* side are held `D/2` in each direction, so a round trip on that leg grows by `D`.
//! - `udp`: the same for UDP datagrams, one upstream socket per client address.
//! - `bridge`: a forwarding user-space L2 bridge between two interfaces (TURN, a far router):
//!   every Ethernet frame is held `D/2` in each direction.
//!
//! Each item (chunk, datagram, frame) is released at its arrival time plus the hold, FIFO per
//! direction, so spacing between items is kept and holds never add up.
//!
//! Disturbances, all drawn from `--seed` so a run repeats: `--jitter-ms J` moves every hold by
//! a uniform draw within ±J ms (order still kept: a TCP byte stream cannot reorder), and in
//! `bridge` mode `--drop-pct` drops and `--reorder-pct` reorders a share of the frames, so the
//! endpoints' TCP sees loss and retransmits.

mod bridge;
mod delay;
mod shape;
mod tcp;
mod udp;

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::shape::{Rng, Shaping};

/// Longest delay accepted, in milliseconds.
const MAX_DELAY_MS: u64 = 600_000;

/// Command line.
#[derive(Debug, Parser)]
#[command(name = "farhand-lab-relay", version, about = "Delaying relay / bridge for the farhand test lab")]
struct Cli {
    /// The mode.
    #[command(subcommand)]
    mode: Mode,
}

/// Jitter and the seed of every draw, shared by all modes.
#[derive(Debug, Clone, Copy, Args)]
pub(crate) struct Disturb {
    /// Each hold moves within ± this many milliseconds, along a smooth random process of time
    /// (a uniform draw every max(50 ms, 4 J), straight lines in between), so order is kept
    /// without an item waiting for the one before it.
    #[arg(long, value_name = "J", default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=MAX_DELAY_MS))]
    pub(crate) jitter_ms: u64,
    /// Seed of the random draws (jitter, drops, reordering): the same seed repeats them.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub(crate) seed: u64,
}

impl Disturb {
    /// Jitter only, for stream `stream` (one per connection and direction).
    pub(crate) fn jitter(&self, stream: u64) -> Shaping {
        Shaping::jitter(std::time::Duration::from_millis(self.jitter_ms), Rng::stream(self.seed, stream))
    }

    /// What the start-up line says about the disturbances (empty without any).
    pub(crate) fn describe(&self) -> String {
        if self.jitter_ms == 0 {
            String::new()
        } else {
            let knots = self.jitter(0).process.period().as_millis();
            format!("; jitter ±{} ms (a smooth process, knots every {knots} ms), seed {}", self.jitter_ms, self.seed)
        }
    }
}

/// One subcommand per mode.
#[derive(Debug, Subcommand)]
enum Mode {
    /// Terminating TCP relay: accept on --listen, connect to --connect per accepted connection.
    /// The listen leg's round trip grows by --delay-ms (D/2 held each way).
    Tcp {
        /// Address to accept controller connections on (ADDR:PORT).
        #[arg(long, value_name = "ADDR:PORT")]
        listen: SocketAddr,
        /// Target to connect to for each accepted connection (ADDR:PORT).
        #[arg(long, value_name = "ADDR:PORT")]
        connect: SocketAddr,
        /// Round-trip delay added on the listen leg, in milliseconds.
        #[arg(long, value_name = "D", value_parser = clap::value_parser!(u64).range(0..=MAX_DELAY_MS))]
        delay_ms: u64,
        /// Jitter and seed.
        #[command(flatten)]
        disturb: Disturb,
    },
    /// Terminating UDP forwarder with one upstream socket per client address.
    /// The listen leg's round trip grows by --delay-ms (D/2 held each way).
    Udp {
        /// Address to receive client datagrams on (ADDR:PORT).
        #[arg(long, value_name = "ADDR:PORT")]
        listen: SocketAddr,
        /// Target to forward to (ADDR:PORT).
        #[arg(long, value_name = "ADDR:PORT")]
        connect: SocketAddr,
        /// Round-trip delay added on the listen leg, in milliseconds.
        #[arg(long, value_name = "D", value_parser = clap::value_parser!(u64).range(0..=MAX_DELAY_MS))]
        delay_ms: u64,
        /// Seconds without traffic either way after which a client's association is dropped.
        #[arg(long, value_name = "SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
        idle_secs: u64,
        /// Jitter and seed.
        #[command(flatten)]
        disturb: Disturb,
    },
    /// Forwarding L2 bridge between two IP-less interfaces; each frame held D/2 each way.
    Bridge {
        /// First interface.
        #[arg(long, value_name = "IFACE")]
        a: String,
        /// Second interface.
        #[arg(long, value_name = "IFACE")]
        b: String,
        /// Round-trip delay added through the bridge, in milliseconds.
        #[arg(long, value_name = "D", value_parser = clap::value_parser!(u64).range(0..=MAX_DELAY_MS))]
        delay_ms: u64,
        /// Jitter and seed.
        #[command(flatten)]
        disturb: Disturb,
        /// Share of frames dropped, in percent (0-100), each direction.
        #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = shape::parse_pct)]
        drop_pct: f64,
        /// Share of frames held back for the next frame to overtake, in percent (0-100).
        #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = shape::parse_pct)]
        reorder_pct: f64,
    },
}

/// Prefix of every line this program writes.
const NAME: &str = "farhand-lab-relay";

/// Prints the one start-up line (stdout, so scripts can wait for it).
#[allow(clippy::print_stdout, reason = "the start-up line is this tool's output")]
pub(crate) fn banner(line: &str) {
    println!("{NAME}: {line}");
}

/// Logs one line to stderr.
pub(crate) fn log(line: &str) {
    eprintln!("{NAME}: {line}");
}

/// Spawns a named thread with a small stack.
pub(crate) fn spawn<F>(name: &str, f: F) -> std::io::Result<std::thread::JoinHandle<()>>
where
    F: FnOnce() + Send + 'static,
{
    std::thread::Builder::new().name(name.to_string()).stack_size(256 * 1024).spawn(f)
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            if matches!(e.kind(), ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand | ErrorKind::MissingSubcommand) {
                log("error: no mode given: tcp, udp or bridge (see --help)");
                return ExitCode::from(2);
            }
            let text = e.to_string();
            // clap's message, up to its usage block, as one line
            let msg: Vec<&str> = text.lines().map(str::trim).take_while(|l| !l.is_empty()).collect();
            let msg = msg.join(" ");
            let first = msg.strip_prefix("error: ").unwrap_or(&msg);
            log(&format!("error: {first} (see --help)"));
            return ExitCode::from(2);
        }
    };
    if let Err(e) = ctrlc::set_handler(|| {
        log("stopping on signal");
        std::process::exit(0);
    }) {
        log(&format!("error: cannot install the signal handler: {e}"));
        return ExitCode::from(1);
    }
    let result = match cli.mode {
        Mode::Tcp { listen, connect, delay_ms, disturb } => tcp::run(listen, connect, delay_ms, disturb),
        Mode::Udp { listen, connect, delay_ms, idle_secs, disturb } => {
            udp::run(listen, connect, delay_ms, idle_secs, disturb)
        }
        Mode::Bridge { a, b, delay_ms, disturb, drop_pct, reorder_pct } => {
            bridge::run(&a, &b, delay_ms, bridge::Losses { disturb, drop_pct, reorder_pct })
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            log(&format!("error: {msg}"));
            ExitCode::from(1)
        }
    }
}
