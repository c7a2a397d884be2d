//! `farhand geo import-asn`: IP-range → AS tables (CSV `first_ip,last_ip,asn,organisation`,
//! plain or gzip) turned into one MaxMind DB with GeoLite2-ASN records.
//!
//! # Contract
//! - Input lines are `first_ip,last_ip,asn,organisation`; the organisation may be quoted
//!   (`"Cloudflare, Inc."`, `""` for a quote inside) or empty. Blank lines and a first line
//!   `first_ip,…` (a header) are skipped. A file starting with the gzip magic is decompressed.
//! - Each range becomes the fewest CIDR blocks that cover it exactly; each block is written
//!   with `autonomous_system_number` (uint32) and, when not empty,
//!   `autonomous_system_organization`. The database is IPv6 (`ip_version` 6) with IPv4 at
//!   `::/96`, typed `GeoLite2-ASN`. Overlaps follow the writer: the more specific block wins,
//!   an identical one given later replaces the earlier.
//! - The CSV is read by the sensor's own reader of this format
//!   (`farhand_report::enrich::asn_table::read_lines`), so the files `import-asn` accepts are
//!   exactly those the sensor loads as a range table.
//! - Bad input is one [`ImportError`] naming the file and the line (1-based) and what is
//!   wrong; nothing panics. Lines longer than `asn_table::MAX_LINE` bytes are refused, so
//!   memory stays proportional to the ranges read.

use farhand_report::enrich::asn_table::{AsnLine, read_lines};
use farhand_report::enrich::error::EnrichError;
use farhand_report::enrich::mmdb_write::{IpVersion, MmdbError, MmdbWriter, Record};
use ipnet::{IpNet, Ipv4Subnets, Ipv6Subnets};
use std::fmt;
use std::io::Read;
use std::net::IpAddr;
use std::path::Path;

/// The `database_type` written in the metadata.
pub const ASN_DATABASE_TYPE: &str = "GeoLite2-ASN";

/// What an import read and built.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportStats {
    /// Ranges read (lines with a range).
    pub ranges: u64,
    /// CIDR networks inserted.
    pub networks: u64,
}

/// A file that could not be imported: the file, the line when one is at fault, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportError {
    /// The file as given.
    pub file: String,
    /// The 1-based line at fault, if any.
    pub line: Option<u64>,
    /// What is wrong.
    pub what: String,
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(n) => write!(f, "{}: line {n}: {}", self.file, self.what),
            None => write!(f, "{}: {}", self.file, self.what),
        }
    }
}

impl std::error::Error for ImportError {}

/// A new, empty ASN database writer.
pub fn asn_writer() -> MmdbWriter {
    let mut w = MmdbWriter::new(ASN_DATABASE_TYPE, IpVersion::V6);
    w.set_description("en", "IP ranges to autonomous systems, imported by farhand geo import-asn");
    w
}

/// Reads the ranges of the file at `path` (plain or gzip) into `writer`.
pub fn import_file(path: &Path, writer: &mut MmdbWriter) -> Result<ImportStats, ImportError> {
    let name = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|e| ImportError {
        file: name.clone(),
        line: None,
        what: format!("cannot read: {e}"),
    })?;
    import_reader(&name, file, writer)
}

/// Reads the ranges of `input` (plain or gzip, detected by its magic bytes), named `name` in
/// errors, into `writer`. A file without any range is an error.
pub fn import_reader(name: &str, input: impl Read, writer: &mut MmdbWriter) -> Result<ImportStats, ImportError> {
    let mut stats = ImportStats::default();
    read_lines(Path::new(name), input, |l| {
        stats.networks += insert_range(writer, &l).map_err(|e| e.to_string())?;
        stats.ranges += 1;
        Ok(())
    })
    .map_err(|e| match e {
        EnrichError::BadLine { line, reason, .. } => {
            ImportError { file: name.to_string(), line: Some(line), what: reason }
        }
        EnrichError::Unreadable { reason, .. } => {
            ImportError { file: name.to_string(), line: None, what: format!("cannot read: {reason}") }
        }
        other => ImportError { file: name.to_string(), line: None, what: other.to_string() },
    })?;
    if stats.ranges == 0 {
        return Err(ImportError {
            file: name.to_string(),
            line: None,
            what: "no ranges (expected lines first_ip,last_ip,asn,organisation)".to_string(),
        });
    }
    Ok(stats)
}

/// Inserts the CIDR blocks covering `r`; returns how many.
pub fn insert_range(writer: &mut MmdbWriter, r: &AsnLine<'_>) -> Result<u64, MmdbError> {
    let mut record = Record::new().with("autonomous_system_number", r.asn);
    if !r.org.is_empty() {
        record.set("autonomous_system_organization", r.org.as_ref());
    }
    let mut n = 0;
    for net in cidrs(r.first, r.last) {
        writer.insert(net, record.clone())?;
        n += 1;
    }
    Ok(n)
}

/// The fewest CIDR blocks covering `first..=last` exactly (none if the families differ).
pub fn cidrs(first: IpAddr, last: IpAddr) -> Vec<IpNet> {
    match (first, last) {
        (IpAddr::V4(a), IpAddr::V4(b)) => Ipv4Subnets::new(a, b, 0).map(IpNet::V4).collect(),
        (IpAddr::V6(a), IpAddr::V6(b)) => Ipv6Subnets::new(a, b, 0).map(IpNet::V6).collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(a: &str, b: &str) -> Vec<String> {
        cidrs(a.parse().unwrap(), b.parse().unwrap()).iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn ranges_become_the_fewest_cidrs() {
        assert_eq!(nets("1.0.0.0", "1.0.0.255"), ["1.0.0.0/24"]);
        assert_eq!(nets("1.0.4.0", "1.0.7.255"), ["1.0.4.0/22"]);
        assert_eq!(nets("1.0.128.0", "1.0.196.255"), ["1.0.128.0/18", "1.0.192.0/22", "1.0.196.0/24"]);
        assert_eq!(nets("9.9.9.9", "9.9.9.9"), ["9.9.9.9/32"]);
        assert_eq!(nets("0.0.0.0", "255.255.255.255"), ["0.0.0.0/0"]);
        assert_eq!(nets("2001:200::", "2001:200:1b9:ffff:ffff:ffff:ffff:ffff").len(), 6);
        assert_eq!(nets("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), ["::/0"]);
        assert_eq!(nets("1.2.3.4", "::1"), Vec::<String>::new());
    }

    #[test]
    fn readers_name_the_line_at_fault() {
        let mut w = asn_writer();
        let csv = "first_ip,last_ip,asn,organisation\n1.0.0.0,1.0.0.255,13335,x\r\n\n1.0.0.0,1.0.0.255,x,y\n";
        let e = import_reader("t.csv", csv.as_bytes(), &mut w).unwrap_err();
        assert_eq!(e.to_string(), "t.csv: line 4: asn \"x\" is not a number from 0 to 4294967295");
        let e = import_reader("e.csv", &b""[..], &mut w).unwrap_err();
        assert_eq!(e.to_string(), "e.csv: no ranges (expected lines first_ip,last_ip,asn,organisation)");
        let e = import_reader("b.csv", &b"1.0.0.0,1.0.0.1,1,\xFF\n"[..], &mut w).unwrap_err();
        assert_eq!(e.to_string(), "b.csv: line 1: not UTF-8 text");
        use farhand_report::enrich::asn_table::MAX_LINE;
        let long = format!("1.0.0.0,1.0.0.1,1,{}\n", "a".repeat(MAX_LINE));
        let e = import_reader("l.csv", long.as_bytes(), &mut w).unwrap_err();
        assert_eq!(e.to_string(), format!("l.csv: line 1: longer than {MAX_LINE} bytes"));
        let st = import_reader("ok.csv", &b"1.0.0.0,1.0.0.2,1,a\n::,::1,2,b"[..], &mut w).unwrap();
        assert_eq!(st, ImportStats { ranges: 2, networks: 3 });
    }

    #[test]
    fn gzip_is_detected_and_a_corrupt_one_names_the_line() {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(b"10.0.0.0,10.255.255.255,64512,Private\n").unwrap();
        let bytes = gz.finish().unwrap();
        let mut w = asn_writer();
        assert_eq!(import_reader("g.gz", bytes.as_slice(), &mut w), Ok(ImportStats { ranges: 1, networks: 1 }));
        let cut = &bytes[..bytes.len() - 6];
        let e = import_reader("cut.gz", cut, &mut w).unwrap_err();
        // Line 1 decompresses whole; the cut trailer is met reading what would be line 2.
        assert_eq!((e.file.as_str(), e.line), ("cut.gz", Some(2)));
        assert!(e.what.starts_with("cannot read: "), "{e}");
    }
}
