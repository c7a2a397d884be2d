//! `farhand geo import-asn` and `farhand geo import-country`: IP-range tables (CSV, plain or
//! gzip) turned into one MaxMind DB: `first_ip,last_ip,asn,organisation` into GeoLite2-ASN
//! records, `first_ip,last_ip,country_code` into country records.
//!
//! # Contract: import-asn
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
//!
//! # Contract: import-country
//! - The files are loaded as the sensor loads a country CSV source
//!   ([`CountryTable`]: the same reader, the same rules for codes — two letters,
//!   upper-cased; `ZZ`, `--` and empty are unknown and skipped — and the same overlap rule:
//!   the narrower range wins, then the one read first). Each range of that table becomes the
//!   fewest CIDR blocks covering it, so the database answers every address exactly as the
//!   CSV files do when the sensor loads them directly.
//! - Each block's record has the flat `country_code` and GeoIP2's `country.iso_code`, so
//!   both farhand and GeoIP2 readers find the country. The database is IPv6 with IPv4 at
//!   `::/96`, typed `GeoLite2-Country` (readers that check the type accept it).
//! - Bad input is one [`ImportError`] naming the file and the line; a file with no range
//!   line at all is an error too.

use farhand_report::enrich::asn_table::{AsnLine, read_lines};
use farhand_report::enrich::country_table::{self, CountryTable};
use farhand_report::enrich::error::EnrichError;
use farhand_report::enrich::mmdb_write::{IpVersion, MmdbError, MmdbWriter, Record};
use ipnet::{IpNet, Ipv4Subnets, Ipv6Subnets};
use std::fmt;
use std::io::Read;
use std::net::IpAddr;
use std::path::Path;

/// The `database_type` written in the metadata.
pub const ASN_DATABASE_TYPE: &str = "GeoLite2-ASN";

/// The `database_type` of a country database `import-country` writes.
pub const COUNTRY_DATABASE_TYPE: &str = "GeoLite2-Country";

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
    .map_err(|e| import_error(name, e))?;
    if stats.ranges == 0 {
        return Err(ImportError {
            file: name.to_string(),
            line: None,
            what: "no ranges (expected lines first_ip,last_ip,asn,organisation)".to_string(),
        });
    }
    Ok(stats)
}

/// The [`ImportError`] of a file `name` could not be read as: the line and reason of a bad
/// line, the reason of an unreadable file.
fn import_error(name: &str, e: EnrichError) -> ImportError {
    match e {
        EnrichError::BadLine { line, reason, .. } => {
            ImportError { file: name.to_string(), line: Some(line), what: reason }
        }
        EnrichError::Unreadable { reason, .. } => {
            ImportError { file: name.to_string(), line: None, what: format!("cannot read: {reason}") }
        }
        other => ImportError { file: name.to_string(), line: None, what: other.to_string() },
    }
}

/// What a country import read and built.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CountryImportStats {
    /// Range lines read, with a known country or not.
    pub lines: u64,
    /// Lines whose country was unknown (`ZZ`, `--`, empty), skipped.
    pub unknown: u64,
    /// Ranges read that begin inside another range (resolved: the narrower one wins).
    pub overlapping: usize,
    /// Disjoint ranges written (overlaps resolved, neighbours of one country joined).
    pub ranges: u64,
    /// CIDR networks inserted.
    pub networks: u64,
    /// Distinct countries.
    pub countries: usize,
}

/// A new, empty country database writer.
pub fn country_writer() -> MmdbWriter {
    let mut w = MmdbWriter::new(COUNTRY_DATABASE_TYPE, IpVersion::V6);
    w.set_description("en", "IP ranges to countries, imported by farhand geo import-country");
    w
}

/// Loads the country CSV files (plain or gzip, in the order given) and writes their ranges
/// into `writer` (module contract).
pub fn import_country(paths: &[&Path], writer: &mut MmdbWriter) -> Result<CountryImportStats, ImportError> {
    let table = CountryTable::load(paths).map_err(|e| {
        let file = match &e {
            EnrichError::BadLine { path, .. } | EnrichError::Unreadable { path, .. } => path.display().to_string(),
            _ => String::new(),
        };
        import_error(&file, e)
    })?;
    if let Some((path, _)) = table.files().iter().zip(table.lines_per_file()).find(|&(_, &n)| n == 0) {
        return Err(ImportError {
            file: path.display().to_string(),
            line: None,
            what: format!("no ranges (expected lines {})", country_table::COLUMNS),
        });
    }
    let mut stats = CountryImportStats {
        lines: table.lines_per_file().iter().sum(),
        unknown: table.unknown(),
        overlapping: table.overlapping(),
        countries: table.countries(),
        ..CountryImportStats::default()
    };
    for (first, last, code) in table.ranges() {
        let record = country_record(code.as_str());
        for net in cidrs(first, last) {
            writer.insert(net, record.clone()).map_err(|e| ImportError {
                file: table.files().iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "),
                line: None,
                what: e.to_string(),
            })?;
            stats.networks += 1;
        }
        stats.ranges += 1;
    }
    Ok(stats)
}

/// The record of a country: `country_code` and `country.iso_code`.
pub fn country_record(code: &str) -> Record {
    Record::new().with("country_code", code).with("country", Record::new().with("iso_code", code))
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

    fn write_country_db(dir: &Path, files: &[&Path]) -> (std::path::PathBuf, CountryImportStats) {
        let mut w = country_writer();
        let st = import_country(files, &mut w).unwrap();
        let mut out = Vec::new();
        w.write(&mut out).unwrap();
        let db = dir.join("country.mmdb");
        std::fs::write(&db, out).unwrap();
        (db, st)
    }

    #[test]
    fn import_country_counts_and_names_the_line_at_fault() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("c.csv");
        std::fs::write(&csv, "1.0.0.0,1.0.0.255,AU\n1.0.1.0,1.0.1.255,au\n1.0.2.0,1.0.2.7,ZZ\n1.0.0.16,1.0.0.31,NZ\n")
            .unwrap();
        let (_, st) = write_country_db(dir.path(), &[&csv]);
        // AU 1.0.0.0-15, NZ 1.0.0.16-31, AU 1.0.0.32-1.0.1.255 (joined): 1 + 1 + 4 blocks.
        assert_eq!(
            st,
            CountryImportStats { lines: 4, unknown: 1, overlapping: 1, ranges: 3, networks: 6, countries: 2 }
        );
        std::fs::write(&csv, "1.0.0.0,1.0.0.255,AU\n1.0.1.0,1.0.1.255,AUS\n").unwrap();
        let e = import_country(&[&csv], &mut country_writer()).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("{}: line 2: country_code \"AUS\" is not two letters (ISO 3166-1 alpha-2)", csv.display())
        );
        let empty = dir.path().join("empty.csv");
        std::fs::write(&empty, "first_ip,last_ip,country_code\n\n").unwrap();
        std::fs::write(&csv, "1.0.0.0,1.0.0.255,AU\n").unwrap();
        let e = import_country(&[&csv, &empty], &mut country_writer()).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("{}: no ranges (expected lines first_ip,last_ip,country_code)", empty.display())
        );
        let missing = dir.path().join("missing.csv");
        let e = import_country(&[&csv, &missing], &mut country_writer()).unwrap_err();
        assert_eq!((e.file.clone(), e.line), (missing.display().to_string(), None));
        assert!(e.what.starts_with("cannot read: "), "{e}");
    }

    #[test]
    fn the_enricher_answers_the_same_for_the_csv_and_the_database_imported_from_it() {
        use farhand_report::enrich::lookup::Enricher;
        use std::io::Write;
        use std::net::{Ipv4Addr, Ipv6Addr};
        let dir = tempfile::tempdir().unwrap();
        // Overlaps whose CIDR blocks disagree with the range widths (a wide range's small
        // block inside a narrower range), same-width duplicates, unknowns, both families.
        let v4_text = "5.0.0.0,5.0.1.127,DE\n\
            5.0.1.0,5.0.1.255,FR\n\
            5.0.2.0,5.0.2.255,IT\n\
            5.0.2.0,5.0.2.255,ES\n\
            5.0.3.0,5.0.3.255,ZZ\n\
            5.0.3.16,5.0.3.17,pl\n\
            5.0.0.100,5.0.3.200,NL\n\
            8.0.0.0,8.255.255.255,US\n\
            8.8.8.0,8.8.8.255,--\n\
            9.0.0.1,9.0.0.1,CH\n";
        let v4 = dir.path().join("country-ipv4.csv");
        std::fs::write(&v4, v4_text).unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(b"2001:200::,2001:200:ffff:ffff:ffff:ffff:ffff:ffff,JP\n2001:200:1::,2001:200:1::ff,KR\n2a00::,2a00::1:ffff,GB\n")
            .unwrap();
        let v6 = dir.path().join("country-ipv6.csv.gz");
        std::fs::write(&v6, gz.finish().unwrap()).unwrap();
        let (db, _) = write_country_db(dir.path(), &[&v4, &v6]);
        let from_csv = Enricher::open_sources(&[&v4, &v6], &[]).unwrap();
        let from_db = Enricher::open(Some(&db), None).unwrap();
        // Every range boundary and its neighbours, then a spread of addresses in between.
        let mut probes: Vec<std::net::IpAddr> = Vec::new();
        for line in v4_text.lines() {
            for f in line.split(',').take(2) {
                let a = u32::from(f.parse::<Ipv4Addr>().unwrap());
                for x in [a.wrapping_sub(1), a, a.wrapping_add(1)] {
                    probes.push(Ipv4Addr::from(x).into());
                }
            }
        }
        for a in (u32::from(Ipv4Addr::new(4, 255, 255, 0))..u32::from(Ipv4Addr::new(5, 0, 4, 16))).step_by(3) {
            probes.push(Ipv4Addr::from(a).into());
        }
        for v6 in [
            "2001:200::",
            "2001:200:0:ffff:ffff:ffff:ffff:ffff",
            "2001:200:1::",
            "2001:200:1::ff",
            "2001:200:1::100",
            "2a00::1:ffff",
            "2a00::2:0",
            "2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff",
            "2001:201::",
        ] {
            let a = u128::from(v6.parse::<Ipv6Addr>().unwrap());
            for x in [a - 1, a, a + 1] {
                probes.push(Ipv6Addr::from(x).into());
            }
        }
        let mut countries = std::collections::BTreeSet::new();
        for ip in &probes {
            let (c, d) = (from_csv.lookup(*ip), from_db.lookup(*ip));
            assert_eq!(c, d, "{ip}");
            countries.insert(c.country.unwrap_or_default());
        }
        // The probes met every country and the gaps: the comparison covered them all.
        let all: Vec<&str> = countries.iter().map(String::as_str).collect();
        assert_eq!(all, ["", "CH", "DE", "FR", "GB", "IT", "JP", "KR", "NL", "PL", "US"]);
        assert_eq!(from_db.lookup_errors(), 0);
    }
}
