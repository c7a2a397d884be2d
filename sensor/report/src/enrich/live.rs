//! Enrichment as the running sensor holds it: the configured databases, opened at start and
//! reopened when their files change.
//!
//! # Contract
//! - [`EnrichConfig::open`] opens every configured file or fails with the first
//!   [`EnrichError`] (one line naming the file): a sensor never starts on a database it
//!   cannot read.
//! - [`Enrichment`] is cheap to clone (the opened databases are shared) and is owned by the
//!   verdict on the reporting thread: no lock on the lookup path.
//! - Reload: [`Enrichment::maybe_reload`] looks at the files' size and modification time at
//!   most once per [`EnrichConfig::reload_every`] and reopens all of them when one changed.
//!   A reload that fails keeps the databases in use (nothing is lost mid-run), is counted
//!   and its error kept for [`Enrichment::health`]; the next change is tried again.
//!   Replacing a database is best done by writing a new file and renaming it over the old
//!   one (`farhand geo import-asn` and `import-country` do): a reader then never sees half a
//!   file.
//! - [`Enrichment::from_memory`] holds databases given as bytes (the demo's, built into the
//!   binary): checked like files, named as given, never reloaded.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use farhand_model::Health;

use super::error::EnrichError;
use super::lookup::{Enricher, PeerInfo};

/// The `[enrich]` settings: which databases, how often to look for new ones.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EnrichConfig {
    /// Country sources: one country MaxMind DB (GeoIP2/GeoLite2/DB-IP Country or City, or
    /// the flat `country_code` schema), or any number of `first_ip,last_ip,country_code` CSV
    /// files (plain or gzip), merged.
    pub country_db: Vec<PathBuf>,
    /// ASN sources: one ASN MaxMind DB, or any number of `first_ip,last_ip,asn,organisation`
    /// CSV files (plain or gzip), merged.
    pub asn_db: Vec<PathBuf>,
    /// How often the files are checked for a change; `None` = never reloaded.
    pub reload_every: Option<Duration>,
}

impl EnrichConfig {
    /// Whether any database is configured.
    pub fn is_empty(&self) -> bool {
        self.country_db.is_empty() && self.asn_db.is_empty()
    }

    /// Every configured file.
    pub fn files(&self) -> Vec<&Path> {
        self.country_db.iter().map(PathBuf::as_path).chain(self.asn_db.iter().map(PathBuf::as_path)).collect()
    }

    /// Opens the configured databases (module contract).
    pub fn open(&self) -> Result<Enrichment, EnrichError> {
        let stamps = self.stamps();
        let enricher = self.open_enricher()?;
        Ok(Enrichment {
            config: self.clone(),
            current: Arc::new(enricher),
            stamps,
            checked: None,
            reloads: 0,
            failed_reloads: 0,
            last_failure: None,
            in_memory: false,
        })
    }

    fn open_enricher(&self) -> Result<Enricher, EnrichError> {
        let country: Vec<&Path> = self.country_db.iter().map(PathBuf::as_path).collect();
        let asn: Vec<&Path> = self.asn_db.iter().map(PathBuf::as_path).collect();
        Enricher::open_sources(&country, &asn)
    }

    /// Size and modification time of each file (`None` where it cannot be read).
    fn stamps(&self) -> Vec<Option<(u64, SystemTime)>> {
        self.files()
            .iter()
            .map(|p| std::fs::metadata(p).ok().and_then(|m| Some((m.len(), m.modified().ok()?))))
            .collect()
    }
}

/// The opened databases of a running sensor (module contract).
#[derive(Debug, Clone)]
pub struct Enrichment {
    config: EnrichConfig,
    current: Arc<Enricher>,
    stamps: Vec<Option<(u64, SystemTime)>>,
    checked: Option<Instant>,
    reloads: u64,
    failed_reloads: u64,
    last_failure: Option<String>,
    /// The databases came as bytes, not from the configured files: never reloaded.
    in_memory: bool,
}

impl Default for Enrichment {
    fn default() -> Self {
        Enrichment::none()
    }
}

impl Enrichment {
    /// No databases: addresses are classified (private, documentation, ...) and nothing more.
    pub fn none() -> Enrichment {
        Enrichment {
            config: EnrichConfig::default(),
            current: Arc::new(Enricher::default()),
            stamps: Vec::new(),
            checked: None,
            reloads: 0,
            failed_reloads: 0,
            last_failure: None,
            in_memory: false,
        }
    }

    /// Databases given as bytes rather than files (e.g. built into the binary), each with the
    /// name [`Enrichment::config`] and [`Enrichment::health`] give it; checked as
    /// [`EnrichConfig::open`] checks files, with the same errors, and never reloaded.
    pub fn from_memory(
        country: Option<(&Path, Vec<u8>)>,
        asn: Vec<(&Path, Vec<u8>)>,
    ) -> Result<Enrichment, EnrichError> {
        let config = EnrichConfig {
            country_db: country.iter().map(|(p, _)| p.to_path_buf()).collect(),
            asn_db: asn.iter().map(|(p, _)| p.to_path_buf()).collect(),
            reload_every: None,
        };
        let enricher = Enricher::from_bytes(country, asn)?;
        Ok(Enrichment { config, current: Arc::new(enricher), in_memory: true, ..Enrichment::none() })
    }

    /// The settings these databases were opened from.
    pub fn config(&self) -> &EnrichConfig {
        &self.config
    }

    /// What the databases in use say about `ip`.
    pub fn lookup(&self, ip: IpAddr) -> PeerInfo {
        self.current.lookup(ip)
    }

    /// The databases in use.
    pub fn enricher(&self) -> &Enricher {
        &self.current
    }

    /// Reloads the databases when a file changed and the check is due at `now` (module
    /// contract). Returns `None` when nothing was tried, else the reload's outcome.
    pub fn maybe_reload(&mut self, now: Instant) -> Option<Result<(), EnrichError>> {
        let every = self.config.reload_every?;
        if self.config.is_empty() || self.checked.is_some_and(|t| now.saturating_duration_since(t) < every) {
            return None;
        }
        self.checked = Some(now);
        self.reload_if_changed()
    }

    /// Reloads the databases now if a file changed since they were opened (for a reload on
    /// request). Returns `None` when nothing changed.
    pub fn reload_if_changed(&mut self) -> Option<Result<(), EnrichError>> {
        if self.in_memory {
            return None;
        }
        let stamps = self.config.stamps();
        if stamps == self.stamps {
            return None;
        }
        self.stamps = stamps;
        Some(match self.config.open_enricher() {
            Ok(e) => {
                self.current = Arc::new(e);
                self.reloads += 1;
                Ok(())
            }
            Err(e) => {
                self.failed_reloads += 1;
                self.last_failure = Some(e.to_string());
                Err(e)
            }
        })
    }

    /// Successful reloads since start.
    pub fn reloads(&self) -> u64 {
        self.reloads
    }

    /// Reloads that failed (the databases in use were kept).
    pub fn failed_reloads(&self) -> u64 {
        self.failed_reloads
    }

    /// One line for `--check-config` and the start-up warnings: the databases' state, the
    /// reload interval, and the last failed reload if the one in use is older. No databases
    /// configured is ready (a choice); one of the two missing is degraded.
    pub fn health(&self) -> Health {
        if self.config.is_empty() {
            // A deliberate choice, not a fault: no warning at every start.
            return Health::ready(
                "enrich",
                "no databases configured ([enrich]): peer addresses are classified (private, documentation, ...) \
                 but get no country or owner",
            );
        }
        let h = self.current.health();
        let reload = match self.config.reload_every {
            _ if self.in_memory => "; built into farhand, never reloaded".to_string(),
            Some(d) if !self.config.is_empty() => format!("; reloaded on change (checked every {} s)", d.as_secs()),
            _ => String::new(),
        };
        match &self.last_failure {
            Some(e) => Health::degraded(
                "enrich",
                format!("{}{reload}; the last reload failed, databases in use kept: {e}", h.detail),
            ),
            None => Health { detail: format!("{}{reload}", h.detail), ..h },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enrich::mmdb_write::{IpVersion, MmdbWriter, Record, Value as Val};

    fn country_db(cc: &str) -> Vec<u8> {
        let mut w = MmdbWriter::new("Test-Country", IpVersion::V6);
        w.set_build_epoch(1_750_000_000);
        w.insert("1.1.1.0/24".parse().unwrap(), Record::new().with("country_code", Val::Str(cc.into()))).unwrap();
        let mut out = Vec::new();
        w.write(&mut out).unwrap();
        out
    }

    fn one() -> IpAddr {
        "1.1.1.1".parse().unwrap()
    }

    #[test]
    fn opens_reads_and_reloads_when_the_file_changes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.mmdb");
        std::fs::write(&path, country_db("AU")).unwrap();
        let cfg = EnrichConfig {
            country_db: vec![path.clone()],
            asn_db: vec![],
            reload_every: Some(Duration::from_secs(30)),
        };
        let mut e = cfg.open().unwrap();
        assert_eq!(e.lookup(one()).country.as_deref(), Some("AU"));
        let t0 = Instant::now();
        // Nothing changed: the first check looks and finds nothing.
        assert!(e.maybe_reload(t0).is_none());
        // A new file renamed over the old one (different size: the record is longer).
        let tmp = dir.path().join("c.mmdb.new");
        std::fs::write(&tmp, country_db("NZL")).unwrap();
        std::fs::rename(&tmp, &path).unwrap();
        // Not due yet: not even looked at.
        assert!(e.maybe_reload(t0 + Duration::from_secs(10)).is_none());
        assert_eq!(e.lookup(one()).country.as_deref(), Some("AU"));
        // Due: reloaded.
        assert!(matches!(e.maybe_reload(t0 + Duration::from_secs(31)), Some(Ok(()))));
        assert_eq!(e.lookup(one()).country.as_deref(), Some("NZL"));
        assert_eq!((e.reloads(), e.failed_reloads()), (1, 0));
        let h = e.health().to_string();
        assert!(h.contains("reloaded on change (checked every 30 s)") && !h.contains("failed"), "{h}");
    }

    #[test]
    fn a_failed_reload_keeps_the_databases_in_use_and_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.mmdb");
        std::fs::write(&path, country_db("AU")).unwrap();
        let cfg = EnrichConfig { country_db: vec![path.clone()], asn_db: vec![], reload_every: Some(Duration::ZERO) };
        let mut e = cfg.open().unwrap();
        std::fs::write(&path, b"not a database at all").unwrap();
        let r = e.maybe_reload(Instant::now());
        // Text is read as a country CSV, and refused at its first line.
        assert!(matches!(r, Some(Err(EnrichError::BadLine { line: 1, .. }))), "{r:?}");
        assert_eq!(e.lookup(one()).country.as_deref(), Some("AU"));
        assert_eq!(e.failed_reloads(), 1);
        let h = e.health();
        assert!(h.is_degraded() && h.detail.contains("the last reload failed"), "{h}");
        // Fixed again: the next check reloads.
        std::fs::write(&path, country_db("NZL")).unwrap();
        assert!(matches!(e.maybe_reload(Instant::now()), Some(Ok(()))));
        assert_eq!(e.lookup(one()).country.as_deref(), Some("NZL"));
    }

    #[test]
    fn databases_from_memory_answer_like_files_and_are_never_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        // A file of that name exists and changes: the in-memory databases ignore it.
        let name = dir.path().join("c.mmdb");
        std::fs::write(&name, country_db("NZL")).unwrap();
        let csv = b"1.1.1.0,1.1.1.255,13335,Cloudflare\n".to_vec();
        let mut e =
            Enrichment::from_memory(Some((&name, country_db("AU"))), vec![(Path::new("asn.csv"), csv)]).unwrap();
        let info = e.lookup(one());
        assert_eq!(
            (info.country.as_deref(), info.asn, info.org.as_deref()),
            (Some("AU"), Some(13335), Some("Cloudflare"))
        );
        assert_eq!(e.config().country_db, std::slice::from_ref(&name));
        assert_eq!(e.config().asn_db, [PathBuf::from("asn.csv")]);
        std::fs::write(&name, country_db("AUS")).unwrap();
        assert!(e.reload_if_changed().is_none());
        assert!(e.maybe_reload(Instant::now()).is_none());
        assert_eq!(e.lookup(one()).country.as_deref(), Some("AU"));
        let h = e.health();
        assert!(!h.is_degraded(), "{h}");
        assert!(h.detail.starts_with(&format!("country {} (MaxMind DB type", name.display())), "{h}");
        assert!(h.detail.ends_with("; ASN asn.csv (CSV: 1 IPv4 + 0 IPv6 ranges, 1 organisations, 0.0 MB in memory); built into farhand, never reloaded"), "{h}");
        // Bad bytes: the same error as the file would give, naming it (binary data without a
        // MaxMind DB metadata section is neither an MMDB nor CSV text).
        let err =
            Enrichment::from_memory(Some((Path::new("demo.mmdb"), b"not\0a database".to_vec())), vec![]).unwrap_err();
        assert_eq!(err, EnrichError::NotCountrySource { path: PathBuf::from("demo.mmdb") });
    }

    #[test]
    fn never_reloads_without_an_interval_and_a_missing_file_fails_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.mmdb");
        std::fs::write(&path, country_db("AU")).unwrap();
        let cfg = EnrichConfig { country_db: vec![path.clone()], asn_db: vec![], reload_every: None };
        let mut e = cfg.open().unwrap();
        std::fs::write(&path, country_db("NZL")).unwrap();
        assert!(e.maybe_reload(Instant::now()).is_none());
        assert_eq!(e.lookup(one()).country.as_deref(), Some("AU"));
        let missing = EnrichConfig { country_db: vec![dir.path().join("none.mmdb")], ..cfg };
        let err = missing.open().unwrap_err();
        assert!(err.to_string().contains("none.mmdb: cannot read"), "{err}");
    }
}
