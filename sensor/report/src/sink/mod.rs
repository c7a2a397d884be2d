//! Sinks: where alerts go.
//!
//! # Contract
//! - A [`Sink`] receives alerts in batches ([`Sink::emit`]) in the order the verdict made
//!   them, and writes them durably on [`Sink::flush`]. A sink never drops an alert silently:
//!   a failed write is an error the caller counts and reports.
//! - [`JsonLinesSink`] writes one JSON object per line: the OCSF Detection Finding
//!   (class 2004) at the top level, with the ECS fields an Elastic user searches for, and
//!   farhand's own measurements under `unmapped` ([`json::alert_json`]).
//! - [`syslog`] renders alerts as RFC 5424 syslog messages and CEF records (formats only;
//!   no transport yet).

pub mod json;
pub mod syslog;

use crate::verdict::Alert;
use std::io::Write;

/// A destination for alerts.
pub trait Sink: Send {
    /// Writes a batch of alerts.
    fn emit(&mut self, batch: &[Alert]) -> std::io::Result<()>;
    /// Makes everything emitted so far durable / visible.
    fn flush(&mut self) -> std::io::Result<()>;
    /// Alerts written so far.
    fn written(&self) -> u64;
}

/// One JSON object per line to a file or standard output.
pub struct JsonLinesSink {
    out: Box<dyn Write + Send>,
    observer: json::Observer,
    written: u64,
}

impl JsonLinesSink {
    /// A sink writing to `out`.
    pub fn new(out: Box<dyn Write + Send>, observer: json::Observer) -> JsonLinesSink {
        JsonLinesSink { out, observer, written: 0 }
    }

    /// Opens `path` ("-" = standard output) for writing, truncating it.
    pub fn open(path: &str, observer: json::Observer) -> std::io::Result<JsonLinesSink> {
        let out: Box<dyn Write + Send> = if path == "-" {
            Box::new(std::io::LineWriter::new(std::io::stdout()))
        } else {
            Box::new(std::io::BufWriter::new(std::fs::File::create(path)?))
        };
        Ok(JsonLinesSink::new(out, observer))
    }
}

impl Sink for JsonLinesSink {
    fn emit(&mut self, batch: &[Alert]) -> std::io::Result<()> {
        for a in batch {
            let v = json::alert_json(a, &self.observer);
            serde_json::to_writer(&mut self.out, &v)?;
            self.out.write_all(b"\n")?;
            self.written += 1;
        }
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }

    fn written(&self) -> u64 {
        self.written
    }
}

/// Keeps alerts in memory (for tests and the library API).
#[derive(Default)]
pub struct MemorySink {
    /// The alerts emitted, rendered as JSON.
    pub alerts: Vec<serde_json::Value>,
    observer: json::Observer,
}

impl MemorySink {
    /// An empty memory sink.
    pub fn new(observer: json::Observer) -> MemorySink {
        MemorySink { alerts: Vec::new(), observer }
    }
}

impl Sink for MemorySink {
    fn emit(&mut self, batch: &[Alert]) -> std::io::Result<()> {
        self.alerts.extend(batch.iter().map(|a| json::alert_json(a, &self.observer)));
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }

    fn written(&self) -> u64 {
        self.alerts.len() as u64
    }
}
