//! IP ranges → country, from `first_ip,last_ip,country_code` CSV files (plain or gzip; the
//! form of the ip-location-db country files, e.g. `1.0.0.0,1.0.0.255,AU`), as a sorted range
//! table searched by binary search.
//!
//! # Contract
//! - Input: one or more files read by [`super::range_csv`] (plain or gzip, RFC 4180 quoting,
//!   a header and blank lines skipped, IPv4 and IPv6 mixed), each line with exactly three
//!   fields. The code must be two ASCII letters (ISO 3166-1 alpha-2) and is upper-cased;
//!   `ZZ`, `--` and an empty field mean "unknown": the line is valid, counted
//!   ([`CountryTable::unknown`]) and gives no range.
//! - Bad input: the first bad line (three fields, two addresses of one family in order, a
//!   code as above) rejects the whole file with one [`EnrichError::BadLine`] naming the file,
//!   the line and what is wrong.
//! - Order and overlaps: those of [`super::range_csv`]: the narrower range wins, between
//!   ranges of the same width the one read first (earlier file, then earlier line). After
//!   that, neighbouring ranges of the same country are joined.
//! - Memory: a range costs 12 bytes (IPv4) or 48 bytes (IPv6); [`CountryTable::heap_bytes`]
//!   reports the total.
//! - Lookups never fail: an address no range covers has no country (`None`).
//! - [`read_lines`] is the one reader of this format: the table and `farhand geo
//!   import-country` both read through it.

use std::io::Read;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use super::error::EnrichError;
use super::range_csv::{self, RangeLoader, RangeTable, parse_span, read_csv, split_fields};

/// The fields of a line, as errors name them.
pub const COLUMNS: &str = "first_ip,last_ip,country_code";

/// An ISO 3166-1 alpha-2 country code: two upper-case ASCII letters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CountryCode([u8; 2]);

impl CountryCode {
    /// The code of a CSV field: `Ok(None)` for an unknown country (`ZZ`, `--`, empty),
    /// `Err` for anything but two ASCII letters (which are upper-cased).
    pub fn parse(field: &str) -> Result<Option<CountryCode>, String> {
        if field.is_empty() || field == "--" {
            return Ok(None);
        }
        let code = match field.as_bytes() {
            &[a, b] if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() => {
                CountryCode([a.to_ascii_uppercase(), b.to_ascii_uppercase()])
            }
            _ => return Err(format!("country_code {field:?} is not two letters (ISO 3166-1 alpha-2)")),
        };
        Ok((code.0 != *b"ZZ").then_some(code))
    }

    /// The code as text (`"AU"`).
    pub fn as_str(&self) -> &str {
        // Always two ASCII letters (see `parse`).
        std::str::from_utf8(&self.0).unwrap_or("")
    }
}

/// One line of a country CSV: `first..=last` (same family, in order) is in `country`
/// (`None`: the file says unknown).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CountryLine {
    /// First address of the range.
    pub first: IpAddr,
    /// Last address of the range.
    pub last: IpAddr,
    /// The country, `None` when unknown.
    pub country: Option<CountryCode>,
}

/// Reads the ranges of `input` (plain or gzip, told by the magic bytes; `path` names it in
/// errors), handing each to `each` in file order — unknown countries too. Blank lines and a
/// first-line header are skipped. The first bad line — or the first `Err` of `each` — ends
/// the reading with one [`EnrichError::BadLine`].
pub fn read_lines(
    path: &Path,
    input: impl Read,
    mut each: impl FnMut(CountryLine) -> Result<(), String>,
) -> Result<(), EnrichError> {
    read_csv(path, input, COLUMNS, |text| parse_line(text).and_then(&mut each))
}

/// The range of one (non-blank) line; `Err` says what is wrong.
pub fn parse_line(line: &str) -> Result<CountryLine, String> {
    let [first, last, code] = split_fields::<3>(line)?;
    let (first, last) = parse_span(&first, &last)?;
    Ok(CountryLine { first, last, country: CountryCode::parse(&code)? })
}

/// A loaded country range table (IPv4 and IPv6).
#[derive(Debug, Clone, Default)]
pub struct CountryTable {
    ranges: RangeTable<CountryCode>,
    countries: usize,
    unknown: u64,
    files: Vec<PathBuf>,
    lines: Vec<u64>,
}

impl CountryTable {
    /// Loads and merges the CSV files (plain or gzip), in the order given: see the module
    /// contract for the format, bad lines and overlaps.
    pub fn load(paths: &[&Path]) -> Result<CountryTable, EnrichError> {
        range_csv::load_files::<Loader>(paths)
    }

    /// Loads and merges files whose content is already in memory, in the order given
    /// (each path names its content in errors).
    pub fn from_sources<P: AsRef<Path>, B: AsRef<[u8]>>(sources: &[(P, B)]) -> Result<CountryTable, EnrichError> {
        range_csv::load_sources::<Loader, P, B>(sources)
    }

    /// The country of `ip` (an IPv4-mapped IPv6 address is looked up as its IPv4 address).
    pub fn lookup(&self, ip: IpAddr) -> Option<&str> {
        self.ranges.lookup(ip).map(CountryCode::as_str)
    }

    /// Every range with its country, IPv4 then IPv6, each family in address order: disjoint,
    /// overlaps resolved and neighbours of one country joined.
    pub fn ranges(&self) -> impl Iterator<Item = (IpAddr, IpAddr, CountryCode)> {
        self.ranges.ranges().map(|(a, b, &c)| (a, b, c))
    }

    /// IPv4 ranges in the table (overlaps resolved, neighbours joined).
    pub fn ipv4_ranges(&self) -> usize {
        self.ranges.ipv4_ranges()
    }

    /// IPv6 ranges in the table (overlaps resolved, neighbours joined).
    pub fn ipv6_ranges(&self) -> usize {
        self.ranges.ipv6_ranges()
    }

    /// Distinct countries in the table.
    pub fn countries(&self) -> usize {
        self.countries
    }

    /// Lines read whose country was unknown (`ZZ`, `--`, empty): skipped.
    pub fn unknown(&self) -> u64 {
        self.unknown
    }

    /// Ranges read that begin inside another range (sorted by start), 0 for a clean file.
    pub fn overlapping(&self) -> usize {
        self.ranges.overlapping()
    }

    /// The files the table was loaded from.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// Range lines read from each file (with a known country or not), in the order of
    /// [`CountryTable::files`].
    pub fn lines_per_file(&self) -> &[u64] {
        &self.lines
    }

    /// Heap memory the table holds, bytes.
    pub fn heap_bytes(&self) -> usize {
        self.ranges.heap_bytes()
    }
}

#[derive(Default)]
struct Loader {
    ranges: RangeLoader<CountryCode>,
    unknown: u64,
    files: Vec<PathBuf>,
    lines: Vec<u64>,
}

impl range_csv::TableLoader for Loader {
    type Table = CountryTable;

    fn add_bytes(&mut self, path: &Path, bytes: &[u8]) -> Result<(), EnrichError> {
        self.files.push(path.to_path_buf());
        let mut lines = 0u64;
        read_lines(path, bytes, |l| {
            lines += 1;
            match l.country {
                Some(c) => self.ranges.push(l.first, l.last, c),
                None => self.unknown += 1,
            }
            Ok(())
        })?;
        self.lines.push(lines);
        Ok(())
    }

    fn finish(self) -> CountryTable {
        let mut ranges = self.ranges.finish();
        ranges.merge_adjacent();
        let mut codes: Vec<CountryCode> = ranges.ranges().map(|(_, _, &c)| c).collect();
        codes.sort_unstable();
        codes.dedup();
        CountryTable { ranges, countries: codes.len(), unknown: self.unknown, files: self.files, lines: self.lines }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn table(text: &str) -> CountryTable {
        CountryTable::from_sources(&[("c.csv", text.as_bytes())]).unwrap()
    }

    fn err(text: &str) -> String {
        CountryTable::from_sources(&[("c.csv", text.as_bytes())]).unwrap_err().to_string()
    }

    fn at(t: &CountryTable, ip: &str) -> Option<String> {
        t.lookup(ip.parse().unwrap()).map(str::to_string)
    }

    const SAMPLE: &str = "1.0.0.0,1.0.0.255,AU\n\
        1.0.1.0,1.0.3.255,cn\r\n\
        \n\
        1.0.4.0,1.0.7.255,ZZ\n\
        \"1.0.8.0\",1.0.15.255,\"Cn\"\n\
        2001:200::,2001:200:ffff:ffff:ffff:ffff:ffff:ffff,JP\n\
        2001:201::,2001:201::ffff,--\n\
        2001:202::,2001:202::ffff,\n";

    #[test]
    fn codes_are_upper_cased_unknown_ones_skipped_and_ipv6_read() {
        let t = table(SAMPLE);
        assert_eq!(at(&t, "1.0.0.0").as_deref(), Some("AU"));
        assert_eq!(at(&t, "1.0.0.255").as_deref(), Some("AU"));
        assert_eq!(at(&t, "1.0.1.0").as_deref(), Some("CN"));
        assert_eq!(at(&t, "1.0.3.255").as_deref(), Some("CN"));
        assert_eq!(at(&t, "1.0.4.0"), None, "ZZ is unknown");
        assert_eq!(at(&t, "1.0.8.1").as_deref(), Some("CN"), "quoted fields");
        assert_eq!(at(&t, "0.255.255.255"), None);
        assert_eq!(at(&t, "1.0.16.0"), None);
        assert_eq!(at(&t, "::ffff:1.0.0.7").as_deref(), Some("AU"), "IPv4-mapped looked up as IPv4");
        assert_eq!(at(&t, "2001:200:1::1").as_deref(), Some("JP"));
        assert_eq!(at(&t, "2001:201::1"), None, "-- is unknown");
        assert_eq!(at(&t, "2001:202::1"), None, "empty is unknown");
        assert_eq!(at(&t, "2001:203::"), None);
        assert_eq!((t.ipv4_ranges(), t.ipv6_ranges(), t.countries(), t.unknown(), t.overlapping()), (3, 1, 3, 3, 0));
        assert_eq!(t.lines_per_file(), [7]);
    }

    #[test]
    fn a_header_line_is_skipped_only_first() {
        let t = table("first_ip,last_ip,country_code\n1.0.0.0,1.0.0.255,AU\n");
        assert_eq!(at(&t, "1.0.0.1").as_deref(), Some("AU"));
        assert_eq!(
            err("1.0.0.0,1.0.0.255,AU\nfirst_ip,last_ip,country_code\n"),
            "c.csv line 2: first_ip \"first_ip\" is not an IP address (expected first_ip,last_ip,country_code)"
        );
    }

    #[test]
    fn the_first_bad_line_rejects_the_file_naming_it() {
        let good = "1.0.0.0,1.0.0.255,AU\n";
        let cases = [
            ("1.0.0.0,1.0.0.255\n", "2 fields, expected 3"),
            ("1.0.0.0,1.0.0.255,13335,Cloudflare\n", "4 fields, expected 3"),
            ("1.0.0.x,1.0.0.255,AU\n", "first_ip \"1.0.0.x\" is not an IP address"),
            ("1.0.0.9,1.0.0.1,AU\n", "last_ip 1.0.0.1 is before first_ip 1.0.0.9"),
            ("1.0.0.0,::1,AU\n", "first_ip 1.0.0.0 and last_ip ::1 are not of the same IP version"),
            ("1.0.0.0,1.0.0.255,AUS\n", "country_code \"AUS\" is not two letters (ISO 3166-1 alpha-2)"),
            ("1.0.0.0,1.0.0.255,A\n", "country_code \"A\" is not two letters (ISO 3166-1 alpha-2)"),
            ("1.0.0.0,1.0.0.255,A1\n", "country_code \"A1\" is not two letters (ISO 3166-1 alpha-2)"),
            ("1.0.0.0,1.0.0.255, AU\n", "country_code \" AU\" is not two letters (ISO 3166-1 alpha-2)"),
            ("1.0.0.0,1.0.0.255,Ü\n", "country_code \"Ü\" is not two letters (ISO 3166-1 alpha-2)"),
            ("1.0.0.0,1.0.0.255,\"AU\n", "a quoted field is not closed"),
        ];
        for (bad, reason) in cases {
            let text = format!("{good}{bad}{good}");
            assert_eq!(
                err(&text),
                format!("c.csv line 2: {reason} (expected first_ip,last_ip,country_code)"),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn gzip_is_told_by_content() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(SAMPLE.as_bytes()).unwrap();
        let bytes = gz.finish().unwrap();
        let t = CountryTable::from_sources(&[("sample.txt", &bytes)]).unwrap();
        assert_eq!(at(&t, "2001:200::5").as_deref(), Some("JP"));
        assert_eq!(t.ipv4_ranges(), 3);
        let e = CountryTable::from_sources(&[("cut.csv.gz", &bytes[..bytes.len() / 2])]).unwrap_err();
        assert!(matches!(e, EnrichError::BadLine { .. }), "{e}");
        assert!(e.to_string().starts_with("cut.csv.gz line "), "{e}");
    }

    #[test]
    fn overlaps_narrower_wins_then_first_read_and_neighbours_join() {
        let lines = [
            "10.0.0.0,10.0.0.255,DE\n",
            "10.0.0.16,10.0.0.31,FR\n",
            "10.0.1.0,10.0.1.255,IT\n",
            "10.0.1.0,10.0.1.255,ES\n",
            "10.0.0.100,10.0.1.200,PL\n",
            "10.0.1.128,10.0.2.127,NL\n",
        ];
        let expect = |t: &CountryTable| {
            let got: Vec<Option<String>> = [
                "10.0.0.15",
                "10.0.0.16",
                "10.0.0.31",
                "10.0.0.32",
                "10.0.0.200",
                "10.0.1.0",
                "10.0.1.255",
                "10.0.2.0",
                "10.0.2.127",
                "10.0.2.128",
            ]
            .iter()
            .map(|ip| at(t, ip))
            .collect();
            let want = ["DE", "FR", "FR", "DE", "DE", "IT", "IT", "NL", "NL"].map(|c| Some(c.to_string()));
            assert_eq!(got[..9], want);
            assert_eq!(got[9], None);
        };
        let t = table(&lines.concat());
        expect(&t);
        assert_eq!(t.overlapping(), 5);
        expect(&table(&[lines[4], lines[1], lines[0], lines[2], lines[3], lines[5]].concat()));
        // An unknown narrower range does not hide the wider one: it is skipped.
        let t = table("10.0.0.0,10.0.0.255,DE\n10.0.0.16,10.0.0.31,ZZ\n");
        assert_eq!(at(&t, "10.0.0.20").as_deref(), Some("DE"));
        // DE, then FR inside, then DE again: three ranges; touching ranges of one country join.
        let t = table("10.0.0.0,10.0.0.255,DE\n10.0.0.16,10.0.0.31,FR\n10.0.1.0,10.0.1.255,DE\n");
        assert_eq!((t.ipv4_ranges(), t.countries()), (3, 2));
        let ranges: Vec<String> = t.ranges().map(|(a, b, c)| format!("{a}-{b} {}", c.as_str())).collect();
        assert_eq!(ranges, ["10.0.0.0-10.0.0.15 DE", "10.0.0.16-10.0.0.31 FR", "10.0.0.32-10.0.1.255 DE"]);
    }

    #[test]
    fn several_files_merge_and_a_missing_one_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("v4.csv");
        let b = dir.path().join("v6.csv");
        std::fs::write(&a, "1.0.0.0,1.0.0.255,AU\n").unwrap();
        std::fs::write(&b, "1.0.0.0,1.0.0.255,NZ\n2001::,2001::ffff,US\n").unwrap();
        let t = CountryTable::load(&[&a, &b]).unwrap();
        assert_eq!(at(&t, "1.0.0.1").as_deref(), Some("AU"), "same width: the earlier file wins");
        assert_eq!(at(&t, "2001::1").as_deref(), Some("US"));
        assert_eq!(t.files(), [a.clone(), b.clone()]);
        assert_eq!(t.lines_per_file(), [1, 2]);
        let missing = dir.path().join("missing.csv");
        let e = CountryTable::load(&[&a, &missing]).unwrap_err();
        assert!(matches!(e, EnrichError::Unreadable { ref path, .. } if *path == missing), "{e}");
    }

    #[test]
    fn heap_bytes_counts_ranges() {
        use crate::enrich::range_csv::Span;
        let t = table("1.0.0.0,1.0.0.255,AU\n2001::,2001::ffff,US\n");
        assert_eq!(size_of::<Span<u32, CountryCode>>(), 12);
        assert_eq!(size_of::<Span<u128, CountryCode>>(), 48);
        assert_eq!(t.heap_bytes(), 12 + 48);
    }
}
