//! IP ranges → autonomous system and organisation, from `first_ip,last_ip,asn,organisation`
//! CSV files (plain or gzip), as a sorted range table searched by binary search.
//!
//! # Contract
//! - Input: one or more files read by [`super::range_csv`] (plain or gzip, RFC 4180 quoting,
//!   a header and blank lines skipped, IPv4 and IPv6 mixed), each line with exactly four
//!   fields; the organisation may be empty.
//! - Bad input: the first bad line rejects the whole file with one [`EnrichError::BadLine`]
//!   naming the file, the line and what is wrong (a half-loaded table would silently answer
//!   "unknown owner" for whatever followed the bad line).
//! - Order and overlaps: those of [`super::range_csv`]: the narrower range wins, between
//!   ranges of the same width the one read first. [`AsnTable::overlapping`] counts the
//!   overlaps found.
//! - Memory: organisation names are interned (one copy per distinct name); a range costs
//!   16 bytes (IPv4) or 48 bytes (IPv6). [`AsnTable::heap_bytes`] reports the total.
//! - Lookups never fail: an address no range covers has no owner (`None`).
//! - [`read_lines`] is the one reader of this format: the table and `farhand geo
//!   import-asn` both read through it.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::Read;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use super::error::EnrichError;
pub use super::range_csv::MAX_LINE;
use super::range_csv::{self, RangeLoader, RangeTable, parse_span, read_csv, split_fields};

/// The fields of a line, as errors name them.
pub const COLUMNS: &str = "first_ip,last_ip,asn,organisation";

/// One line of an ASN CSV: `first..=last` (same family, in order) belongs to `asn`, held by
/// `org` (empty when the file left it empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsnLine<'a> {
    /// First address of the range.
    pub first: IpAddr,
    /// Last address of the range.
    pub last: IpAddr,
    /// The autonomous system number.
    pub asn: u32,
    /// The organisation, quotes removed.
    pub org: Cow<'a, str>,
}

/// Reads the ranges of `input` (plain or gzip, told by the magic bytes; `path` names it in
/// errors), handing each to `each` in file order. Blank lines and a first-line header are
/// skipped. The first bad line — or the first `Err` of `each` — ends the reading with one
/// [`EnrichError::BadLine`].
pub fn read_lines(
    path: &Path,
    input: impl Read,
    mut each: impl FnMut(AsnLine<'_>) -> Result<(), String>,
) -> Result<(), EnrichError> {
    read_csv(path, input, COLUMNS, |text| parse_line(text).and_then(&mut each))
}

/// The range of one (non-blank) line; `Err` says what is wrong.
pub fn parse_line(line: &str) -> Result<AsnLine<'_>, String> {
    let [first, last, asn, org] = split_fields::<4>(line)?;
    let (first, last) = parse_span(&first, &last)?;
    let asn: u32 = asn.parse().map_err(|_| format!("asn {asn:?} is not a number from 0 to 4294967295"))?;
    Ok(AsnLine { first, last, asn, org })
}

/// The owner of an address as the table gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AsnHit<'a> {
    /// The autonomous system number.
    pub asn: u32,
    /// The organisation holding it (`None` when the file left the field empty).
    pub org: Option<&'a str>,
}

/// What a range holds: the AS number and its organisation (an index into the interned
/// names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Owner {
    asn: u32,
    org: u32,
}

/// A loaded ASN range table (IPv4 and IPv6).
#[derive(Debug, Clone, Default)]
pub struct AsnTable {
    ranges: RangeTable<Owner>,
    orgs: Vec<Box<str>>,
    files: Vec<PathBuf>,
}

impl AsnTable {
    /// Loads and merges the CSV files (plain or gzip), in the order given: see the module
    /// contract for the format, bad lines and overlaps.
    pub fn load(paths: &[&Path]) -> Result<AsnTable, EnrichError> {
        range_csv::load_files::<Loader>(paths)
    }

    /// Loads and merges files whose content is already in memory, in the order given
    /// (each path names its content in errors).
    pub fn from_sources<P: AsRef<Path>, B: AsRef<[u8]>>(sources: &[(P, B)]) -> Result<AsnTable, EnrichError> {
        range_csv::load_sources::<Loader, P, B>(sources)
    }

    /// The owner of `ip` (an IPv4-mapped IPv6 address is looked up as its IPv4 address).
    pub fn lookup(&self, ip: IpAddr) -> Option<AsnHit<'_>> {
        let &Owner { asn, org } = self.ranges.lookup(ip)?;
        let org = usize::try_from(org).ok().and_then(|i| self.orgs.get(i)).map(|s| &**s).filter(|s| !s.is_empty());
        Some(AsnHit { asn, org })
    }

    /// IPv4 ranges in the table (after overlaps were resolved).
    pub fn ipv4_ranges(&self) -> usize {
        self.ranges.ipv4_ranges()
    }

    /// IPv6 ranges in the table (after overlaps were resolved).
    pub fn ipv6_ranges(&self) -> usize {
        self.ranges.ipv6_ranges()
    }

    /// Distinct organisation names.
    pub fn organisations(&self) -> usize {
        self.orgs.len()
    }

    /// Ranges read that begin inside another range (sorted by start), 0 for a clean file.
    pub fn overlapping(&self) -> usize {
        self.ranges.overlapping()
    }

    /// The files the table was loaded from.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// Heap memory the table holds, bytes (ranges and organisation names).
    pub fn heap_bytes(&self) -> usize {
        self.ranges.heap_bytes()
            + self.orgs.capacity() * size_of::<Box<str>>()
            + self.orgs.iter().map(|s| s.len()).sum::<usize>()
    }
}

#[derive(Default)]
struct Loader {
    ranges: RangeLoader<Owner>,
    names: HashMap<Box<str>, u32>,
    orgs: Vec<Box<str>>,
    files: Vec<PathBuf>,
}

impl range_csv::TableLoader for Loader {
    type Table = AsnTable;

    fn add_bytes(&mut self, path: &Path, bytes: &[u8]) -> Result<(), EnrichError> {
        self.files.push(path.to_path_buf());
        read_lines(path, bytes, |l| self.add(l))
    }

    fn finish(self) -> AsnTable {
        let mut orgs = self.orgs;
        orgs.shrink_to_fit();
        AsnTable { ranges: self.ranges.finish(), orgs, files: self.files }
    }
}

impl Loader {
    fn add(&mut self, l: AsnLine<'_>) -> Result<(), String> {
        let org = self.intern(&l.org)?;
        self.ranges.push(l.first, l.last, Owner { asn: l.asn, org });
        Ok(())
    }

    fn intern(&mut self, name: &str) -> Result<u32, String> {
        if let Some(&i) = self.names.get(name) {
            return Ok(i);
        }
        let i = u32::try_from(self.orgs.len()).map_err(|_| "too many organisation names".to_string())?;
        self.orgs.push(name.into());
        self.names.insert(name.into(), i);
        Ok(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn table(text: &str) -> AsnTable {
        AsnTable::from_sources(&[("t.csv", text.as_bytes())]).unwrap()
    }

    fn err(text: &str) -> String {
        AsnTable::from_sources(&[("t.csv", text.as_bytes())]).unwrap_err().to_string()
    }

    fn at(t: &AsnTable, ip: &str) -> Option<(u32, Option<String>)> {
        t.lookup(ip.parse().unwrap()).map(|h| (h.asn, h.org.map(str::to_string)))
    }

    const SAMPLE: &str = "1.0.0.0,1.0.0.255,13335,\"Cloudflare, Inc.\"\n\
        1.0.4.0,1.0.7.255,38803,Gtelecom Pty Ltd\n\
        2.26.200.0,2.26.215.255,201907,\"LLC \"\"SPUTNIK\"\"\"\r\n\
        \n\
        2001:4860::,2001:4860:4804:ffff:ffff:ffff:ffff:ffff,15169,Google LLC\n\
        9.9.9.0,9.9.9.255,19281,\n";

    #[test]
    fn quoted_fields_crlf_blank_lines_and_mixed_families() {
        let t = table(SAMPLE);
        assert_eq!(at(&t, "1.0.0.0"), Some((13335, Some("Cloudflare, Inc.".into()))));
        assert_eq!(at(&t, "1.0.0.255"), Some((13335, Some("Cloudflare, Inc.".into()))));
        assert_eq!(at(&t, "1.0.1.0"), None);
        assert_eq!(at(&t, "0.255.255.255"), None);
        assert_eq!(at(&t, "1.0.5.9"), Some((38803, Some("Gtelecom Pty Ltd".into()))));
        assert_eq!(at(&t, "2.26.215.255"), Some((201907, Some("LLC \"SPUTNIK\"".into()))));
        assert_eq!(at(&t, "2001:4860:4804::1"), Some((15169, Some("Google LLC".into()))));
        assert_eq!(at(&t, "2001:4860:4805::"), None);
        assert_eq!(at(&t, "9.9.9.9"), Some((19281, None)), "an empty organisation is no organisation");
        assert_eq!(at(&t, "::ffff:1.0.4.1"), Some((38803, Some("Gtelecom Pty Ltd".into()))));
        assert_eq!((t.ipv4_ranges(), t.ipv6_ranges(), t.organisations(), t.overlapping()), (4, 1, 5, 0));
    }

    #[test]
    fn a_header_line_is_skipped_only_first() {
        let t = table("first_ip,last_ip,asn,organisation\n1.0.0.0,1.0.0.255,1,A\n");
        assert_eq!(at(&t, "1.0.0.1"), Some((1, Some("A".into()))));
        assert_eq!(
            err("1.0.0.0,1.0.0.255,1,A\nfirst_ip,last_ip,asn,organisation\n"),
            "t.csv line 2: first_ip \"first_ip\" is not an IP address (expected first_ip,last_ip,asn,organisation)"
        );
    }

    #[test]
    fn organisations_are_interned() {
        let t = table("1.0.0.0,1.0.0.255,1,Same\n2.0.0.0,2.0.0.255,2,Same\n3.0.0.0,3.0.0.255,3,Other\n");
        assert_eq!(t.organisations(), 2);
        assert_eq!(t.ipv4_ranges(), 3);
    }

    #[test]
    fn the_first_bad_line_rejects_the_file_naming_it() {
        let good = "1.0.0.0,1.0.0.255,1,A\n";
        let cases = [
            ("1.0.0.0,1.0.0.255,1\n", "3 fields, expected 4"),
            ("1.0.0.0,1.0.0.255,1,A,B\n", "5 fields, expected 4"),
            ("1.0.0.x,1.0.0.255,1,A\n", "first_ip \"1.0.0.x\" is not an IP address"),
            ("1.0.0.0,,1,A\n", "last_ip \"\" is not an IP address"),
            ("1.0.0.0,1.0.0.255,AS1,A\n", "asn \"AS1\" is not a number from 0 to 4294967295"),
            ("1.0.0.0,1.0.0.255,4294967296,A\n", "asn \"4294967296\" is not a number from 0 to 4294967295"),
            ("1.0.0.9,1.0.0.1,1,A\n", "last_ip 1.0.0.1 is before first_ip 1.0.0.9"),
            ("1.0.0.0,::1,1,A\n", "first_ip 1.0.0.0 and last_ip ::1 are not of the same IP version"),
            ("1.0.0.0,1.0.0.255,1,\"A\n", "a quoted field is not closed"),
            ("1.0.0.0,1.0.0.255,1,\"A\"B\n", "text after a closing quote"),
            ("1.0.0.0,1.0.0.255,1,A\"B\n", "a quote inside an unquoted field"),
        ];
        for (bad, reason) in cases {
            let text = format!("{good}{bad}{good}");
            assert_eq!(
                err(&text),
                format!("t.csv line 2: {reason} (expected first_ip,last_ip,asn,organisation)"),
                "{bad:?}"
            );
        }
        let mut latin1 = good.as_bytes().to_vec();
        latin1.extend(b"1.0.1.0,1.0.1.255,2,Soci\xe9t\xe9\n");
        assert_eq!(
            AsnTable::from_sources(&[("l.csv", &latin1)]).unwrap_err().to_string(),
            "l.csv line 2: not UTF-8 text (expected first_ip,last_ip,asn,organisation)"
        );
    }

    #[test]
    fn gzip_is_told_by_content_and_damaged_gzip_is_a_line_error() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(SAMPLE.as_bytes()).unwrap();
        let bytes = gz.finish().unwrap();
        let t = AsnTable::from_sources(&[("sample.txt", &bytes)]).unwrap();
        assert_eq!(at(&t, "1.0.5.9"), Some((38803, Some("Gtelecom Pty Ltd".into()))));
        assert_eq!(t.ipv4_ranges(), 4);
        let cut = &bytes[..bytes.len() / 2];
        let e = AsnTable::from_sources(&[("cut.csv.gz", cut)]).unwrap_err();
        // The decoder hands out what it could inflate before the damage: line 1 is read.
        assert!(matches!(e, EnrichError::BadLine { line: 2, .. }), "{e}");
        assert!(e.to_string().starts_with("cut.csv.gz line 2: cannot read: "), "{e}");
    }

    #[test]
    fn unsorted_lines_give_the_same_table() {
        let a = table("3.0.0.0,3.0.0.255,3,C\n1.0.0.0,1.0.0.255,1,A\n2.0.0.0,2.0.0.255,2,B\n");
        assert_eq!(a.overlapping(), 0);
        for (ip, asn) in [("1.0.0.7", 1), ("2.0.0.7", 2), ("3.0.0.7", 3)] {
            assert_eq!(at(&a, ip).map(|h| h.0), Some(asn), "{ip}");
        }
        assert_eq!(at(&a, "2.0.1.0"), None);
    }

    #[test]
    fn overlaps_narrower_wins_then_first_read() {
        // A wide range with a narrower one inside, and two identical ranges.
        let lines = [
            "10.0.0.0,10.0.0.255,100,Wide\n",
            "10.0.0.16,10.0.0.31,200,Narrow\n",
            "10.0.1.0,10.0.1.255,300,First\n",
            "10.0.1.0,10.0.1.255,400,Second\n",
            "10.0.0.100,10.0.1.200,500,Wider straddling\n",
            "10.0.1.128,10.0.2.127,600,Tail\n",
        ];
        let expect = |t: &AsnTable| {
            assert_eq!(at(t, "10.0.0.15").map(|h| h.0), Some(100));
            assert_eq!(at(t, "10.0.0.16").map(|h| h.0), Some(200));
            assert_eq!(at(t, "10.0.0.31").map(|h| h.0), Some(200));
            assert_eq!(at(t, "10.0.0.32").map(|h| h.0), Some(100));
            assert_eq!(at(t, "10.0.0.199").map(|h| h.0), Some(100));
            // The wider straddling range (357 addresses) loses to both /24s: it keeps nothing.
            assert_eq!(at(t, "10.0.0.200").map(|h| h.0), Some(100));
            assert_eq!(at(t, "10.0.1.0").map(|h| h.0), Some(300));
            assert_eq!(at(t, "10.0.1.255").map(|h| h.0), Some(300));
            // "Tail" has the /24s' width but is read after them: it keeps what they leave.
            assert_eq!(at(t, "10.0.2.0").map(|h| h.0), Some(600));
            assert_eq!(at(t, "10.0.2.127").map(|h| h.0), Some(600));
            assert_eq!(at(t, "10.0.2.128"), None);
            assert_eq!(at(t, "9.255.255.255"), None);
        };
        let t = table(&lines.concat());
        expect(&t);
        assert_eq!(t.overlapping(), 5);
        // Same table for another order that keeps "Wide", "First", "Second", "Tail" in turn.
        let reordered = [lines[4], lines[1], lines[0], lines[2], lines[3], lines[5]].concat();
        expect(&table(&reordered));
        // A narrower straddler wins over both neighbours where it lies.
        let t = table("10.0.0.0,10.0.0.255,1,A\n10.0.1.0,10.0.1.255,2,B\n10.0.0.250,10.0.1.5,3,C\n");
        let asns: Vec<Option<u32>> =
            ["10.0.0.249", "10.0.0.250", "10.0.1.5", "10.0.1.6"].iter().map(|ip| at(&t, ip).map(|h| h.0)).collect();
        assert_eq!(asns, [Some(1), Some(3), Some(3), Some(2)]);
    }

    #[test]
    fn overlaps_at_the_ends_of_the_address_space() {
        let t = table("0.0.0.0,255.255.255.255,1,All\n255.255.255.0,255.255.255.255,2,Top\n0.0.0.0,0.0.0.0,3,Zero\n");
        let asns: Vec<Option<u32>> = ["0.0.0.0", "0.0.0.1", "255.255.254.255", "255.255.255.0", "255.255.255.255"]
            .iter()
            .map(|ip| at(&t, ip).map(|h| h.0))
            .collect();
        assert_eq!(asns, [Some(3), Some(1), Some(1), Some(2), Some(2)]);
        let t = table(
            "::,ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff,1,All\nffff::,ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff,2,Top\n",
        );
        assert_eq!(at(&t, "fffe::1").map(|h| h.0), Some(1));
        assert_eq!(at(&t, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff").map(|h| h.0), Some(2));
    }

    #[test]
    fn several_files_merge_and_a_missing_one_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.csv");
        let b = dir.path().join("b.csv");
        std::fs::write(&a, "1.0.0.0,1.0.0.255,1,A\n").unwrap();
        std::fs::write(&b, "1.0.0.0,1.0.0.255,2,B\n2001::,2001::ffff,3,C\n").unwrap();
        let t = AsnTable::load(&[&a, &b]).unwrap();
        assert_eq!(at(&t, "1.0.0.1").map(|h| h.0), Some(1), "same width: the earlier file wins");
        assert_eq!(at(&t, "2001::1").map(|h| h.0), Some(3));
        assert_eq!(t.files(), [a.clone(), b.clone()]);
        let missing = dir.path().join("missing.csv");
        let e = AsnTable::load(&[&a, &missing]).unwrap_err();
        assert!(matches!(e, EnrichError::Unreadable { ref path, .. } if *path == missing), "{e}");
    }

    #[test]
    fn heap_bytes_counts_ranges_and_names() {
        let t = table("1.0.0.0,1.0.0.255,1,Abc\n2001::,2001::ffff,3,Defgh\n");
        use crate::enrich::range_csv::Span;
        assert_eq!(size_of::<Span<u32, Owner>>(), 16);
        assert_eq!(size_of::<Span<u128, Owner>>(), 48);
        assert_eq!(t.heap_bytes(), 16 + 48 + 2 * size_of::<Box<str>>() + 3 + 5);
    }
}
