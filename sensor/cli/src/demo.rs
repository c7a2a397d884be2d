//! The demo's own configuration and databases (`config/demo/`), built into the binary so that
//! `farhand --demo` shows a from-abroad peer with its country, ASN and organisation on any
//! machine, from any directory.
//!
//! # Contract
//! - [`CONFIG_TEXT`], [`COUNTRY_DB`] and [`ASN_DB`] are the files of `config/demo/` as
//!   committed, embedded at build time; nothing of the demo is read from disk at run time.
//! - [`settings`] parses and validates [`CONFIG_TEXT`] exactly as `-c config/demo/farhand.toml`
//!   would, except that the `[enrich]` paths it names are the embedded databases
//!   ([`RawConfig::validate_embedded`]), never reloaded.
//! - The committed databases are exactly what this module's generator writes (a test checks
//!   byte for byte; `FARHAND_DEMO_WRITE=1 cargo test -q -p farhand --lib demo` rewrites
//!   them): `country.mmdb` from [`DEMO_COUNTRIES`], `asn.mmdb` from `config/demo/asn.csv` by
//!   `farhand geo import-asn`'s reader and writer, both with the build time
//!   [`DEMO_BUILD_EPOCH`], so a rebuild changes no byte.

use crate::config::{RawConfig, Settings};
use farhand_model::ConfigError;
use std::path::Path;

/// `config/demo/farhand.toml`.
pub const CONFIG_TEXT: &str = include_str!("../../../config/demo/farhand.toml");

/// `config/demo/country.mmdb`: a MaxMind DB with GeoIP2-schema country records.
pub const COUNTRY_DB: &[u8] = include_bytes!("../../../config/demo/country.mmdb");

/// `config/demo/asn.mmdb`: a MaxMind DB with GeoLite2-ASN-schema records.
pub const ASN_DB: &[u8] = include_bytes!("../../../config/demo/asn.mmdb");

/// The name the demo configuration goes by in messages (`--check-config`, errors): its path
/// in the repository. Its `[enrich]` paths are relative to it, as for any config file.
pub const CONFIG_NAME: &str = "config/demo/farhand.toml";

/// The embedded files, by the path `[enrich]` names them with in [`CONFIG_TEXT`].
pub const DATABASES: &[(&str, &[u8])] = &[("country.mmdb", COUNTRY_DB), ("asn.mmdb", ASN_DB)];

/// The networks of the demo's country database and their ISO 3166-1 alpha-2 codes: the demo
/// controller's network (157.90.0.0/16, Hetzner Online GmbH, Germany: public registry data).
pub const DEMO_COUNTRIES: &[(&str, &str)] = &[("157.90.0.0/16", "DE")];

/// The build time written into the demo databases' metadata (2026-01-01T00:00:00Z), fixed so
/// that regenerating them gives the same bytes.
pub const DEMO_BUILD_EPOCH: u64 = 1_767_225_600;

/// The demo's settings: [`CONFIG_TEXT`] validated with the embedded databases (module
/// contract). An error here means the embedded files are broken (tests check they are not).
pub fn settings() -> Result<Settings, ConfigError> {
    let path = Path::new(CONFIG_NAME);
    RawConfig::parse(CONFIG_TEXT, path)?.validate_embedded(CONFIG_TEXT, path, DATABASES)
}

#[cfg(test)]
mod tests {
    use super::*;
    use farhand_report::enrich::mmdb_write::{IpVersion, MmdbWriter, Record};
    use farhand_report::enrich::special::AddrClass;
    use farhand_report::policy::Stance;
    use std::path::PathBuf;

    fn demo_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/demo")
    }

    /// The country database: GeoIP2 schema (`country.iso_code`), IPv6 tree with IPv4 at ::/96.
    fn country_db() -> Vec<u8> {
        let mut w = MmdbWriter::new("farhand-Demo-Country", IpVersion::V6);
        w.set_build_epoch(DEMO_BUILD_EPOCH);
        w.set_description("en", "Countries of the farhand demo's public addresses (config/demo)");
        for (net, cc) in DEMO_COUNTRIES {
            let record = Record::new().with("country", Record::new().with("iso_code", *cc));
            w.insert(net.parse().unwrap(), record).unwrap();
        }
        let mut out = Vec::new();
        w.write(&mut out).unwrap();
        out
    }

    /// The ASN database: `asn.csv` through `farhand geo import-asn`'s reader and writer.
    fn asn_db() -> Vec<u8> {
        let csv = std::fs::read(demo_dir().join("asn.csv")).unwrap();
        let mut w = crate::geo::asn_writer();
        w.set_build_epoch(DEMO_BUILD_EPOCH);
        crate::geo::import_reader("asn.csv", csv.as_slice(), &mut w).unwrap();
        let mut out = Vec::new();
        w.write(&mut out).unwrap();
        out
    }

    /// The committed databases are what the generator writes (and the embedded ones are the
    /// committed ones); `FARHAND_DEMO_WRITE=1` rewrites them instead.
    #[test]
    fn committed_databases_are_what_the_generator_writes() {
        let write = std::env::var("FARHAND_DEMO_WRITE").is_ok_and(|v| !v.is_empty() && v != "0");
        for (name, built, embedded) in [("country.mmdb", country_db(), COUNTRY_DB), ("asn.mmdb", asn_db(), ASN_DB)] {
            let path = demo_dir().join(name);
            if write {
                std::fs::write(&path, &built).unwrap();
                continue;
            }
            assert_eq!(built, country_or_asn_again(name), "{name}: the generator is not deterministic");
            let committed = std::fs::read(&path).unwrap();
            assert!(
                committed == built,
                "{}: differs from what the generator writes; run FARHAND_DEMO_WRITE=1 cargo test -q -p farhand --lib demo",
                path.display()
            );
            assert!(embedded == built.as_slice(), "{name}: the embedded copy is stale (rebuild)");
        }
    }

    fn country_or_asn_again(name: &str) -> Vec<u8> {
        if name == "country.mmdb" { country_db() } else { asn_db() }
    }

    #[test]
    fn the_demo_settings_know_the_controller_and_hold_a_us_policy() {
        let s = settings().unwrap();
        let info = s.enrich.lookup("157.90.0.66".parse().unwrap());
        assert_eq!(info.class, AddrClass::Public);
        assert_eq!(info.country.as_deref(), Some("DE"));
        assert_eq!(info.asn, Some(24940));
        assert_eq!(info.org.as_deref(), Some("Hetzner Online GmbH"));
        // Only the demo's range is known; the capture's other addresses are never looked up.
        assert_eq!(s.enrich.lookup("157.91.0.1".parse().unwrap()).country, None);
        assert_eq!(s.enrich.lookup("203.0.113.80".parse().unwrap()).class, AddrClass::Documentation);
        assert_eq!(s.enrich.config().country_db, [PathBuf::from("config/demo/country.mmdb")]);
        assert_eq!(s.enrich.config().reload_every, None);
        let h = s.enrich.health();
        assert!(!h.is_degraded(), "{h}");
        assert!(h.detail.contains("built into farhand"), "{h}");
        // The policy: a US company in New York.
        let p = &s.policy;
        assert_eq!(p.home_countries().collect::<Vec<_>>(), ["US"]);
        assert!(!p.is_home_country("DE"));
        assert_eq!(p.zone().name(), "America/New_York");
        assert_eq!(p.stance("vnc"), Stance::Forbidden);
        assert_eq!(p.stance("rdp"), Stance::Tolerated);
        // The SSH session's start, 2026-11-24 23:00:01.86 UTC: 18:00 on a Tuesday in New York,
        // after the demo's business hours.
        let h = p.in_business_hours(1_795_561_201_864_705).unwrap();
        assert_eq!(h.local.to_string(), "18:00 Tuesday in America/New_York");
        assert!(!h.within);
        assert_eq!(s.name, "farhand-demo");
        assert!(s.location.is_none());
    }

    #[test]
    fn the_embedded_config_is_the_file_and_loads_from_disk_the_same() {
        let on_disk = std::fs::read_to_string(demo_dir().join("farhand.toml")).unwrap();
        assert_eq!(on_disk, CONFIG_TEXT);
        let from_disk = Settings::load(&demo_dir().join("farhand.toml")).unwrap();
        let embedded = settings().unwrap();
        assert_eq!(from_disk.policy, embedded.policy);
        for ip in ["157.90.0.66", "157.90.255.255", "10.20.0.10", "8.8.8.8"] {
            let ip = ip.parse().unwrap();
            assert_eq!(from_disk.enrich.lookup(ip), embedded.enrich.lookup(ip), "{ip}");
        }
    }
}
