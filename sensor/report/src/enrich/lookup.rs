//! The enricher: a peer address → its class and, when public, its country and owner.
//!
//! # Contract
//! - Built once from a country source and an ASN source, each given as a list of files, or
//!   from the same databases' bytes with a name each ([`Enricher::from_bytes`]: the demo's,
//!   built into the binary).
//!   Either may be absent (no files); a given file that cannot be used is one
//!   [`EnrichError`] (missing, not a MaxMind DB nor CSV, corrupt, a bad CSV line), never a
//!   panic.
//! - Each source is told by its content, not its name: a file with a MaxMind DB metadata
//!   section (and not gzip) is an MMDB and must be the only file of its source; gzip data
//!   or text is CSV, and several CSV files are merged into one range table; binary data
//!   without the metadata section is an error.
//! - Country: MMDB records of both schemas are read: GeoIP2/GeoLite2/DB-IP
//!   (`country.iso_code`, falling back to `registered_country.iso_code`) and the flat
//!   `country_code`; CSV files are `first_ip,last_ip,country_code` ([`CountryTable`]).
//! - ASN: MMDB records give `autonomous_system_number` and `autonomous_system_organization`;
//!   CSV files are `first_ip,last_ip,asn,organisation` ([`AsnTable`]).
//! - [`Enricher::lookup`] is total: special-purpose addresses
//!   ([`crate::enrich::special`]) are labelled and never looked up; IPv4-mapped and NAT64
//!   addresses are looked up as their IPv4 address; a record that cannot be decoded counts
//!   in [`Enricher::lookup_errors`] and gives no answer for that field.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use farhand_model::Health;
use maxminddb::{MaxMindDbError, Reader};
use serde::Deserialize;

use super::asn_table::AsnTable;
use super::country_table::CountryTable;
use super::error::EnrichError;
use super::special::{AddrClass, canonical, classify};

/// What enrichment says about one peer address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerInfo {
    /// The address class; only [`AddrClass::Public`] addresses carry the fields below.
    pub class: AddrClass,
    /// ISO 3166-1 alpha-2 country code, as the country database gives it.
    pub country: Option<String>,
    /// Autonomous system number.
    pub asn: Option<u32>,
    /// Organisation holding the autonomous system.
    pub org: Option<String>,
}

impl PeerInfo {
    /// The class of `ip` and nothing more (no database consulted).
    pub fn classified(ip: IpAddr) -> PeerInfo {
        PeerInfo { class: classify(ip), country: None, asn: None, org: None }
    }
}

/// The marker that starts a MaxMind DB's metadata section.
const MMDB_MARKER: &[u8] = b"\xab\xcd\xefMaxMind.com";

/// An opened MaxMind DB and where it came from.
struct Mmdb {
    path: PathBuf,
    reader: Reader<Vec<u8>>,
}

impl std::fmt::Debug for Mmdb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mmdb").field("path", &self.path).finish_non_exhaustive()
    }
}

impl Mmdb {
    fn from_bytes(path: &Path, bytes: Vec<u8>) -> Result<Mmdb, EnrichError> {
        if !has_marker(&bytes) {
            return Err(EnrichError::NotMmdb { path: path.to_path_buf() });
        }
        let reader = Reader::from_source(bytes)
            .map_err(|e| EnrichError::CorruptMmdb { path: path.to_path_buf(), reason: e.to_string() })?;
        Ok(Mmdb { path: path.to_path_buf(), reader })
    }

    /// `name (type "…", built YYYY-MM-DD, N nodes, IPv4|IPv6)`.
    fn describe(&self) -> String {
        let m = self.reader.metadata();
        let built = m
            .build_time()
            .ok()
            .map(|t| humantime::format_rfc3339_seconds(t).to_string())
            .and_then(|t| t.get(..10).map(str::to_string))
            .unwrap_or_else(|| "unknown date".to_string());
        let family = if m.ip_version == 6 { "IPv4+IPv6" } else { "IPv4" };
        format!(
            "{} (MaxMind DB type {:?}, built {built}, {} nodes, {family})",
            self.path.display(),
            m.database_type,
            m.node_count
        )
    }

    /// The record for `ip`, decoded as `T`: `Ok(None)` when the database has none (or
    /// cannot hold the address: IPv6 in an IPv4 database).
    fn get<'a, T: Deserialize<'a>>(&'a self, ip: IpAddr) -> Result<Option<T>, MaxMindDbError> {
        if ip.is_ipv6() && self.reader.metadata().ip_version == 4 {
            return Ok(None);
        }
        self.reader.lookup(ip)?.decode::<T>()
    }
}

fn has_marker(bytes: &[u8]) -> bool {
    bytes.windows(MMDB_MARKER.len()).rev().any(|w| w == MMDB_MARKER)
}

fn read(path: &Path) -> Result<Vec<u8>, EnrichError> {
    std::fs::read(path).map_err(|e| EnrichError::Unreadable { path: path.to_path_buf(), reason: e.to_string() })
}

/// A country record of either schema (unknown fields are skipped).
#[derive(Deserialize)]
struct CountryRecord<'a> {
    #[serde(borrow, default)]
    country: Option<IsoCode<'a>>,
    #[serde(borrow, default)]
    registered_country: Option<IsoCode<'a>>,
    #[serde(borrow, default)]
    country_code: Option<&'a str>,
}

#[derive(Deserialize)]
struct IsoCode<'a> {
    #[serde(borrow, default)]
    iso_code: Option<&'a str>,
}

impl<'a> CountryRecord<'a> {
    fn code(&self) -> Option<&'a str> {
        fn iso<'a>(c: &Option<IsoCode<'a>>) -> Option<&'a str> {
            c.as_ref().and_then(|c| c.iso_code)
        }
        iso(&self.country).or_else(|| iso(&self.registered_country)).or(self.country_code)
    }
}

/// An ASN record of the GeoIP2/GeoLite2/DB-IP ASN schema.
#[derive(Deserialize)]
struct AsnRecord<'a> {
    #[serde(default)]
    autonomous_system_number: Option<u32>,
    #[serde(borrow, default)]
    autonomous_system_organization: Option<&'a str>,
}

/// Where countries come from.
#[derive(Debug)]
enum CountrySource {
    Mmdb(Mmdb),
    Table(CountryTable),
}

/// Where owners come from.
#[derive(Debug)]
enum AsnSource {
    Mmdb(Mmdb),
    Table(AsnTable),
}

/// Country and ownership lookups for peer addresses (see the module contract).
#[derive(Debug, Default)]
pub struct Enricher {
    country: Option<CountrySource>,
    asn: Option<AsnSource>,
    errors: AtomicU64,
}

impl Enricher {
    /// Opens the country source and the ASN source, when given (one file each).
    pub fn open(country: Option<&Path>, asn: Option<&Path>) -> Result<Enricher, EnrichError> {
        Enricher::open_sources(country.as_slice(), asn.as_slice())
    }

    /// Like [`Enricher::open`], with several ASN CSV files merged into one table (e.g. the
    /// IPv4 and the IPv6 file). An ASN MaxMind DB must be the only ASN source.
    pub fn open_all(country: Option<&Path>, asn: &[&Path]) -> Result<Enricher, EnrichError> {
        Enricher::open_sources(country.as_slice(), asn)
    }

    /// Opens both sources, each from any number of files (module contract): one MaxMind DB,
    /// or CSV files merged into one range table (e.g. an IPv4 and an IPv6 file).
    pub fn open_sources(country: &[&Path], asn: &[&Path]) -> Result<Enricher, EnrichError> {
        Enricher::from_sources(read_all(country)?, read_all(asn)?)
    }

    /// Like [`Enricher::open_all`], from databases already in memory (e.g. built into the
    /// binary): each one's bytes with the name that messages and [`Enricher::health`] give it.
    /// The same checks apply, with the same errors.
    pub fn from_bytes(country: Option<(&Path, Vec<u8>)>, asn: Vec<(&Path, Vec<u8>)>) -> Result<Enricher, EnrichError> {
        Enricher::from_sources(country.into_iter().collect(), asn)
    }

    /// Both sources from their files' bytes (module contract).
    fn from_sources(country: Vec<(&Path, Vec<u8>)>, asn: Vec<(&Path, Vec<u8>)>) -> Result<Enricher, EnrichError> {
        let country = match open_source(country, Kind::Country)? {
            Opened::None => None,
            Opened::Mmdb(db) => Some(CountrySource::Mmdb(db)),
            Opened::Csv(files) => Some(CountrySource::Table(CountryTable::from_sources(&files)?)),
        };
        let asn = match open_source(asn, Kind::Asn)? {
            Opened::None => None,
            Opened::Mmdb(db) => Some(AsnSource::Mmdb(db)),
            Opened::Csv(files) => Some(AsnSource::Table(AsnTable::from_sources(&files)?)),
        };
        Ok(Enricher { country, asn, errors: AtomicU64::new(0) })
    }

    /// What enrichment says about `ip` (module contract).
    pub fn lookup(&self, ip: IpAddr) -> PeerInfo {
        let class = classify(ip);
        let mut info = PeerInfo { class, country: None, asn: None, org: None };
        if !class.is_public() {
            return info;
        }
        let ip = canonical(ip);
        match &self.country {
            Some(CountrySource::Table(t)) => info.country = t.lookup(ip).map(str::to_string),
            Some(CountrySource::Mmdb(db)) => match db.get::<CountryRecord<'_>>(ip) {
                Ok(rec) => info.country = rec.as_ref().and_then(CountryRecord::code).map(str::to_string),
                Err(_) => self.count_error(),
            },
            None => {}
        }
        match &self.asn {
            Some(AsnSource::Table(t)) => {
                if let Some(hit) = t.lookup(ip) {
                    info.asn = Some(hit.asn);
                    info.org = hit.org.map(str::to_string);
                }
            }
            Some(AsnSource::Mmdb(db)) => match db.get::<AsnRecord<'_>>(ip) {
                Ok(Some(rec)) => {
                    info.asn = rec.autonomous_system_number;
                    info.org = rec.autonomous_system_organization.map(str::to_string);
                }
                Ok(None) => {}
                Err(_) => self.count_error(),
            },
            None => {}
        }
        info
    }

    fn count_error(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
    }

    /// Lookups whose record could not be decoded (a damaged database), since opening.
    pub fn lookup_errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }

    /// The one-line state of enrichment for `farhand --check-config` (component `enrich`):
    /// ready with both databases, degraded (saying what is off) otherwise.
    pub fn health(&self) -> Health {
        let country = self.country.as_ref().map(|src| match src {
            CountrySource::Mmdb(db) => format!("country {}", db.describe()),
            CountrySource::Table(t) => format!("country {}", describe_country_table(t)),
        });
        let asn = self.asn.as_ref().map(|src| match src {
            AsnSource::Mmdb(db) => format!("ASN {}", db.describe()),
            AsnSource::Table(t) => format!("ASN {}", describe_table(t)),
        });
        match (country, asn) {
            (Some(c), Some(a)) => Health::ready("enrich", format!("{c}; {a}")),
            (Some(c), None) => Health::degraded("enrich", format!("no ASN database: peers get no owner; {c}")),
            (None, Some(a)) => Health::degraded("enrich", format!("no country database: peers get no country; {a}")),
            (None, None) => Health::degraded(
                "enrich",
                "no databases: peer addresses are classified (private, documentation, ...) but get no country or owner",
            ),
        }
    }
}

/// Each file's bytes, with its path.
fn read_all<'a>(paths: &[&'a Path]) -> Result<Vec<(&'a Path, Vec<u8>)>, EnrichError> {
    paths.iter().map(|&p| Ok((p, read(p)?))).collect()
}

/// Which source a list of files is (for its errors).
#[derive(Debug, Clone, Copy)]
enum Kind {
    Country,
    Asn,
}

/// A source's files as their content tells them (module contract).
enum Opened<'a> {
    None,
    Mmdb(Mmdb),
    Csv(Vec<(&'a Path, Vec<u8>)>),
}

fn open_source(sources: Vec<(&Path, Vec<u8>)>, kind: Kind) -> Result<Opened<'_>, EnrichError> {
    let several = sources.len() > 1;
    let mut csv: Vec<(&Path, Vec<u8>)> = Vec::new();
    for (p, bytes) in sources {
        let gzip = bytes.starts_with(&[0x1f, 0x8b]);
        if !gzip && has_marker(&bytes) {
            if several {
                let path = p.to_path_buf();
                return Err(match kind {
                    Kind::Country => EnrichError::MixedCountrySources { path },
                    Kind::Asn => EnrichError::MixedAsnSources { path },
                });
            }
            return Ok(Opened::Mmdb(Mmdb::from_bytes(p, bytes)?));
        }
        if !gzip && bytes.iter().take(8192).any(|&b| b == 0) {
            let path = p.to_path_buf();
            return Err(match kind {
                Kind::Country => EnrichError::NotCountrySource { path },
                Kind::Asn => EnrichError::NotAsnSource { path },
            });
        }
        csv.push((p, bytes));
    }
    Ok(if csv.is_empty() { Opened::None } else { Opened::Csv(csv) })
}

/// The files of a table, comma-separated.
fn file_list(files: &[PathBuf]) -> String {
    files.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
}

/// `, 1 overlap resolved` / `, N overlaps resolved` / nothing.
fn overlaps(n: usize) -> String {
    match n {
        0 => String::new(),
        1 => ", 1 overlap resolved".to_string(),
        n => format!(", {n} overlaps resolved"),
    }
}

/// Heap bytes as a rounded megabyte figure (display only).
#[allow(clippy::cast_precision_loss)]
fn megabytes(bytes: usize) -> f64 {
    bytes as f64 / 1e6
}

/// `v4.csv, v6.csv (CSV: N IPv4 + M IPv6 ranges, K countries, X MB in memory[, U unknown skipped][, O overlaps resolved])`.
fn describe_country_table(t: &CountryTable) -> String {
    let unknown = match t.unknown() {
        0 => String::new(),
        n => format!(", {n} without a country skipped"),
    };
    format!(
        "{} (CSV: {} IPv4 + {} IPv6 ranges, {} countries, {:.1} MB in memory{unknown}{})",
        file_list(t.files()),
        t.ipv4_ranges(),
        t.ipv6_ranges(),
        t.countries(),
        megabytes(t.heap_bytes()),
        overlaps(t.overlapping())
    )
}

/// `a.csv.gz, b.csv.gz (CSV: N IPv4 + M IPv6 ranges, K organisations, X MB in memory[, O overlaps resolved])`.
fn describe_table(t: &AsnTable) -> String {
    format!(
        "{} (CSV: {} IPv4 + {} IPv6 ranges, {} organisations, {:.1} MB in memory{})",
        file_list(t.files()),
        t.ipv4_ranges(),
        t.ipv6_ranges(),
        t.organisations(),
        megabytes(t.heap_bytes()),
        overlaps(t.overlapping())
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enrich::mmdb_write::{IpVersion, MmdbWriter, Record, Value as Val};

    fn s(v: &str) -> Val {
        Val::Str(v.to_string())
    }

    fn map(pairs: Vec<(&str, Val)>) -> Val {
        Val::Map(pairs.into_iter().fold(Record::new(), |r, (k, v)| r.with(k, v)))
    }

    /// A database of `db_type` holding `networks`, each with its record (a map).
    fn build(db_type: &str, networks: Vec<(&str, Val)>) -> Vec<u8> {
        let mut w = MmdbWriter::new(db_type, IpVersion::V6);
        w.set_build_epoch(1_750_000_000);
        for (net, record) in networks {
            let Val::Map(record) = record else { panic!("{net}: a record is a map") };
            w.insert(net.parse().unwrap(), record).unwrap();
        }
        let mut out = Vec::new();
        w.write(&mut out).unwrap();
        out
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    /// A GeoIP2-schema country database: one network with `country`, one with only
    /// `registered_country`, one with both (and names, which are skipped).
    fn geoip2_country() -> Vec<u8> {
        let iso = |c: &str| map(vec![("iso_code", s(c)), ("geoname_id", Val::U32(1))]);
        build(
            "GeoLite2-Country",
            vec![
                ("81.2.69.0/24", map(vec![("country", iso("GB")), ("continent", map(vec![("code", s("EU"))]))])),
                ("89.160.20.0/24", map(vec![("registered_country", iso("SE"))])),
                ("2a02:cf40::/32", map(vec![("country", iso("NO")), ("registered_country", iso("SE"))])),
                ("2.125.160.0/24", map(vec![("continent", map(vec![("code", s("EU"))]))])),
            ],
        )
    }

    fn flat_country() -> Vec<u8> {
        build("country ipvAll", vec![("1.0.0.0/24", map(vec![("country_code", s("AU"))]))])
    }

    fn asn_mmdb() -> Vec<u8> {
        build(
            "GeoLite2-ASN",
            vec![
                (
                    "1.128.0.0/11",
                    map(vec![
                        ("autonomous_system_number", Val::U32(1221)),
                        ("autonomous_system_organization", s("Telstra Pty Ltd")),
                    ]),
                ),
                ("2600:6000::/20", map(vec![("autonomous_system_number", Val::U32(237))])),
            ],
        )
    }

    fn info(class: AddrClass, country: Option<&str>, asn: Option<u32>, org: Option<&str>) -> PeerInfo {
        PeerInfo { class, country: country.map(str::to_string), asn, org: org.map(str::to_string) }
    }

    #[test]
    fn geoip2_schema_country_with_registered_country_fallback() {
        let dir = tempfile::tempdir().unwrap();
        let c = write(dir.path(), "country.mmdb", &geoip2_country());
        let e = Enricher::open(Some(&c), None).unwrap();
        let country = |a: &str| e.lookup(ip(a)).country;
        assert_eq!(country("81.2.69.160").as_deref(), Some("GB"));
        assert_eq!(country("::ffff:81.2.69.1").as_deref(), Some("GB"));
        assert_eq!(country("64:ff9b::81.2.69.1").as_deref(), Some("GB"));
        assert_eq!(country("89.160.20.128").as_deref(), Some("SE"), "registered_country fallback");
        assert_eq!(country("2a02:cf40::1").as_deref(), Some("NO"), "country before registered_country");
        assert_eq!(country("2.125.160.216"), None, "a record without any country");
        assert_eq!(country("81.2.70.1"), None, "no record");
        assert_eq!(e.lookup_errors(), 0);
    }

    #[test]
    fn flat_schema_country_and_asn_mmdb() {
        let dir = tempfile::tempdir().unwrap();
        let c = write(dir.path(), "flat.mmdb", &flat_country());
        let a = write(dir.path(), "asn.bin", &asn_mmdb());
        let e = Enricher::open(Some(&c), Some(&a)).unwrap();
        assert_eq!(e.lookup(ip("1.0.0.1")), info(AddrClass::Public, Some("AU"), None, None));
        assert_eq!(e.lookup(ip("1.130.0.1")), info(AddrClass::Public, None, Some(1221), Some("Telstra Pty Ltd")));
        assert_eq!(e.lookup(ip("2600:6000::1")), info(AddrClass::Public, None, Some(237), None));
        assert_eq!(e.lookup(ip("1.1.1.1")), info(AddrClass::Public, None, None, None));
    }

    #[test]
    fn country_csv_files_are_a_country_source() {
        let dir = tempfile::tempdir().unwrap();
        let v4 = write(
            dir.path(),
            "country-ipv4.csv",
            b"1.0.0.0,1.0.0.255,AU\n1.0.1.0,1.0.3.255,cn\n10.0.0.0,10.255.255.255,XX\n",
        );
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut gz, b"2001:200::,2001:200:ffff:ffff:ffff:ffff:ffff:ffff,JP\n").unwrap();
        let v6 = write(dir.path(), "country-ipv6.csv.gz", &gz.finish().unwrap());
        let a = write(dir.path(), "asn.bin", &asn_mmdb());
        let e = Enricher::open_sources(&[&v4, &v6], &[&a]).unwrap();
        assert_eq!(e.lookup(ip("1.0.0.1")), info(AddrClass::Public, Some("AU"), None, None));
        assert_eq!(e.lookup(ip("::ffff:1.0.2.1")), info(AddrClass::Public, Some("CN"), None, None));
        assert_eq!(e.lookup(ip("2001:200::1")), info(AddrClass::Public, Some("JP"), None, None));
        assert_eq!(e.lookup(ip("10.0.0.1")), info(AddrClass::Private, None, None, None), "never looked up");
        assert_eq!(e.lookup(ip("1.0.4.1")), info(AddrClass::Public, None, None, None));
        let h = e.health();
        assert!(!h.is_degraded(), "{h}");
        assert!(
            h.detail.starts_with(&format!(
                "country {}, {} (CSV: 3 IPv4 + 1 IPv6 ranges, 4 countries, 0.0 MB in memory); ASN ",
                v4.display(),
                v6.display()
            )),
            "{h}"
        );
        // A country CSV with unknown lines and an overlap says so.
        let c = write(dir.path(), "c.csv", b"1.0.0.0,1.0.0.255,AU\n1.0.0.0,1.0.0.15,NZ\n2.0.0.0,2.0.0.255,ZZ\n");
        let h = Enricher::open(Some(&c), None).unwrap().health();
        assert!(
            h.detail.ends_with(&format!(
                "country {} (CSV: 2 IPv4 + 0 IPv6 ranges, 2 countries, 0.0 MB in memory, 1 without a country skipped, \
                 1 overlap resolved)",
                c.display()
            )),
            "{h}"
        );
    }

    #[test]
    fn special_addresses_are_labelled_not_looked_up() {
        let dir = tempfile::tempdir().unwrap();
        // A database that (wrongly) holds a country for private and documentation space.
        let db = build(
            "country ipvAll",
            vec![
                ("10.0.0.0/8", map(vec![("country_code", s("XX"))])),
                ("192.0.2.0/24", map(vec![("country_code", s("XX"))])),
            ],
        );
        let c = write(dir.path(), "c.mmdb", &db);
        let a = write(dir.path(), "a.csv", b"10.0.0.0,10.255.255.255,64512,Private Org\n");
        let e = Enricher::open(Some(&c), Some(&a)).unwrap();
        assert_eq!(e.lookup(ip("10.1.2.3")), info(AddrClass::Private, None, None, None));
        assert_eq!(e.lookup(ip("::ffff:10.1.2.3")), info(AddrClass::Private, None, None, None));
        assert_eq!(e.lookup(ip("192.0.2.7")), info(AddrClass::Documentation, None, None, None));
        assert_eq!(e.lookup(ip("fe80::1")), info(AddrClass::LinkLocal, None, None, None));
    }

    #[test]
    fn no_databases_classifies_only() {
        let e = Enricher::open(None, None).unwrap();
        assert_eq!(e.lookup(ip("8.8.8.8")), info(AddrClass::Public, None, None, None));
        assert_eq!(e.lookup(ip("100.64.0.1")), info(AddrClass::Cgnat, None, None, None));
        assert_eq!(
            e.health().to_string(),
            "enrich: degraded: no databases: peer addresses are classified (private, documentation, ...) but get no country or owner"
        );
    }

    #[test]
    fn errors_name_the_file_and_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.mmdb");
        let e = Enricher::open(Some(&missing), None).unwrap_err();
        assert!(matches!(e, EnrichError::Unreadable { ref path, .. } if *path == missing), "{e}");
        assert!(e.to_string().starts_with(&format!("{}: cannot read: ", missing.display())), "{e}");

        // Text is a country CSV: read as one, and refused at its first bad line.
        let text = write(dir.path(), "notes.txt", b"country_db = here\n");
        assert_eq!(
            Enricher::open(Some(&text), None).unwrap_err().to_string(),
            format!("{} line 1: 1 fields, expected 3 (expected first_ip,last_ip,country_code)", text.display())
        );

        let db = geoip2_country();
        let half = write(dir.path(), "half.mmdb", &db[..db.len() / 2]);
        assert_eq!(
            Enricher::open(Some(&half), None).unwrap_err().to_string(),
            format!(
                "{}: neither a MaxMind DB nor a country CSV (binary data without an MMDB metadata section: truncated?)",
                half.display()
            )
        );
        let country_csv = write(dir.path(), "c.csv", b"1.0.0.0,1.0.0.255,AU\n");
        let flat = write(dir.path(), "flat.mmdb", &flat_country());
        assert_eq!(
            Enricher::open_sources(&[&country_csv, &flat], &[]).unwrap_err(),
            EnrichError::MixedCountrySources { path: flat.clone() }
        );
        // Cut inside the metadata: the marker is there, the metadata is not whole.
        let cut = write(dir.path(), "cut.mmdb", &db[..db.len() - 20]);
        let e = Enricher::open(Some(&cut), None).unwrap_err();
        assert!(matches!(e, EnrichError::CorruptMmdb { .. }), "{e}");
        assert!(e.to_string().starts_with(&format!("{}: corrupt MaxMind DB: ", cut.display())), "{e}");

        // As an ASN source: half an MMDB is binary, neither MMDB nor CSV.
        assert_eq!(
            Enricher::open(None, Some(&half)).unwrap_err().to_string(),
            format!(
                "{}: neither a MaxMind DB nor an ASN CSV (binary data without an MMDB metadata section: truncated?)",
                half.display()
            )
        );
        let bad = write(dir.path(), "bad.csv", b"1.0.0.0,1.0.0.255,13335,Cloudflare\n1.0.4.0,1.0.7.255,AS38803,G\n");
        assert_eq!(
            Enricher::open(None, Some(&bad)).unwrap_err().to_string(),
            format!(
                "{} line 2: asn \"AS38803\" is not a number from 0 to 4294967295 (expected first_ip,last_ip,asn,organisation)",
                bad.display()
            )
        );
        let asn = write(dir.path(), "asn.mmdb", &asn_mmdb());
        let csv = write(dir.path(), "ok.csv", b"1.0.0.0,1.0.0.255,13335,Cloudflare\n");
        assert_eq!(
            Enricher::open_all(None, &[&csv, &asn]).unwrap_err(),
            EnrichError::MixedAsnSources { path: asn.clone() }
        );
    }

    #[test]
    fn health_describes_both_databases() {
        let dir = tempfile::tempdir().unwrap();
        let c = write(dir.path(), "c.mmdb", &flat_country());
        let a4 = write(dir.path(), "a4.csv", b"1.0.0.0,1.0.0.255,13335,Cloudflare\n1.0.0.0,1.0.0.127,1,X\n");
        let a6 = write(dir.path(), "a6.csv", b"2001::,2001::ffff,6939,Hurricane Electric LLC\n");
        let e = Enricher::open_all(Some(&c), &[&a4, &a6]).unwrap();
        let h = e.health();
        assert!(!h.is_degraded());
        // The nested range takes the first half of the /24, the wider one keeps the second.
        let bytes = 2 * 16 + 48 + 3 * size_of::<Box<str>>() + "Cloudflare".len() + 1 + "Hurricane Electric LLC".len();
        assert_eq!(
            h.to_string(),
            format!(
                "enrich: ready: country {} (MaxMind DB type \"country ipvAll\", built 2025-06-15, {} nodes, IPv4+IPv6); \
                 ASN {}, {} (CSV: 2 IPv4 + 1 IPv6 ranges, 3 organisations, {:.1} MB in memory, 1 overlap resolved)",
                c.display(),
                Reader::from_source(flat_country()).unwrap().metadata().node_count,
                a4.display(),
                a6.display(),
                bytes as f64 / 1e6
            )
        );
        let only_country = Enricher::open(Some(&c), None).unwrap().health();
        assert!(only_country.is_degraded());
        assert!(only_country.detail.starts_with("no ASN database: peers get no owner; country "), "{only_country}");
        let only_asn = Enricher::open(None, Some(&a6)).unwrap().health();
        assert!(only_asn.detail.starts_with("no country database: peers get no country; ASN "), "{only_asn}");
    }
}
