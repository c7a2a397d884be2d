//! Enrichment end to end: every capture of the shared corpus through the pipeline with the
//! shared country and ASN databases (`../shared/geo`), and every alert's peer checked against
//! those databases read independently of farhand's own readers: the country with the
//! `maxminddb` crate directly, the AS number and organisation by a plain scan of the CSV
//! files. Special-purpose peers (private, documentation, ...) must carry no country.
//!
//! Needs `../shared` (corpus and geo): skipped with a visible message when absent, a failure
//! under CI.

#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic, reason = "test code")]

mod common;

use common::{alerts_with, shared, skip_unless_ci};
use farhand::config::Settings;
use farhand_report::enrich::live::EnrichConfig;
use std::io::{BufRead, BufReader};
use std::net::IpAddr;
use std::path::Path;

/// `first_ip,last_ip,asn,organisation` ranges of one family, sorted by start.
fn ranges(path: &Path) -> Vec<(IpAddr, IpAddr, u32, String)> {
    let f = std::fs::File::open(path).unwrap();
    let mut out = Vec::new();
    for line in BufReader::new(flate2::read::GzDecoder::new(f)).lines() {
        let line = line.unwrap();
        let mut it = line.splitn(4, ',');
        let (Some(a), Some(b), Some(n), Some(org)) = (it.next(), it.next(), it.next(), it.next()) else { continue };
        let (Ok(a), Ok(b), Ok(n)) = (a.parse::<IpAddr>(), b.parse::<IpAddr>(), n.parse::<u32>()) else { continue };
        out.push((a, b, n, org.trim_matches('"').to_string()));
    }
    out
}

/// The narrowest range holding `ip` (the files have no overlaps in practice; narrowest wins).
fn asn_of(table: &[(IpAddr, IpAddr, u32, String)], ip: IpAddr) -> Option<(u32, String)> {
    table
        .iter()
        .filter(|(a, b, _, _)| a.is_ipv4() == ip.is_ipv4() && *a <= ip && ip <= *b)
        .min_by_key(|(a, b, _, _)| match (a, b) {
            (IpAddr::V4(a), IpAddr::V4(b)) => u128::from(u32::from(*b) - u32::from(*a)),
            (IpAddr::V6(a), IpAddr::V6(b)) => u128::from(*b) - u128::from(*a),
            _ => u128::MAX,
        })
        .map(|(_, _, n, o)| (*n, o.clone()))
}

#[test]
fn every_alert_carries_its_peers_country_and_asn_as_the_databases_give_them() {
    let corpus = shared().join("corpus");
    let geo = shared().join("geo");
    if !corpus.join("MANIFEST.tsv").is_file() || !geo.is_dir() {
        skip_unless_ci("enrichment end to end", &corpus, "shared corpus and geo data");
        return;
    }
    let country_db = geo.join("geo-whois-asn-country.mmdb");
    let csvs = [geo.join("asn-ipv4.csv.gz"), geo.join("asn-ipv6.csv.gz")];
    let mut settings = Settings::defaults();
    settings.enrich = EnrichConfig { country_db: vec![country_db.clone()], asn_db: csvs.to_vec(), reload_every: None }
        .open()
        .unwrap();
    let reader = maxminddb::Reader::open_readfile(&country_db).unwrap();
    let table: Vec<_> = csvs.iter().flat_map(|p| ranges(p)).collect();
    let manifest = std::fs::read_to_string(corpus.join("MANIFEST.tsv")).unwrap();
    let (mut public, mut special, mut checked_asn) = (0, 0, 0);
    for rel in manifest.lines().skip(1).filter_map(|l| l.split('\t').next()) {
        for a in alerts_with(&corpus.join(rel), &settings, 1) {
            let peer = &a["unmapped"]["farhand"]["peer"];
            let ip: IpAddr = peer["ip"].as_str().unwrap().parse().unwrap();
            let what = format!("{rel}: {} alert, peer {ip}", a["unmapped"]["farhand"]["kind"]);
            if peer["class"] != "public" {
                special += 1;
                assert!(peer["country"].is_null() && peer["asn"].is_null(), "{what}: {peer}");
                continue;
            }
            public += 1;
            #[derive(serde::Deserialize)]
            struct Flat {
                country_code: Option<String>,
            }
            let want_cc = reader.lookup(ip).unwrap().decode::<Flat>().unwrap().and_then(|r| r.country_code);
            assert_eq!(peer["country"].as_str().map(str::to_string), want_cc, "{what}");
            let want_asn = asn_of(&table, ip);
            assert_eq!(peer["asn"].as_u64().map(|n| n as u32), want_asn.as_ref().map(|w| w.0), "{what}");
            assert_eq!(peer["org"].as_str().map(str::to_string), want_asn.as_ref().map(|w| w.1.clone()), "{what}");
            checked_asn += usize::from(want_asn.is_some());
            // ECS and OCSF carry the same on the peer's side.
            let side = if a["network"]["direction"] == "inbound" { "source" } else { "destination" };
            assert_eq!(a[side]["geo"]["country_iso_code"].as_str(), peer["country"].as_str(), "{what}");
            assert_eq!(a[side]["as"]["number"], peer["asn"], "{what}");
        }
    }
    eprintln!(
        "enrichment: {public} alerts with a public peer checked ({checked_asn} with an AS), {special} special-purpose"
    );
    // The corpus has sessions to real public addresses: a run that checked none proves nothing.
    assert!(public >= 20 && checked_asn >= 20, "only {public} public peers ({checked_asn} with an AS)");
}

/// The "done means", on the corpus with the shared databases: with home countries that
/// exclude a remote-control session's peer country, the session raises
/// `remote_control_from_abroad` naming that country; with that country at home, it does not.
/// (Peers whose location the physics check contradicts cannot occur here: no sensor location.)
#[test]
fn home_countries_decide_from_abroad_on_real_public_peers() {
    use farhand_report::policy::Policy;
    use std::collections::{BTreeMap, BTreeSet};
    use std::sync::Arc;
    let corpus = shared().join("corpus");
    let geo = shared().join("geo");
    if !corpus.join("MANIFEST.tsv").is_file() || !geo.is_dir() {
        skip_unless_ci("from abroad on the corpus", &corpus, "shared corpus and geo data");
        return;
    }
    let mut settings = Settings::defaults();
    settings.enrich = EnrichConfig {
        country_db: vec![geo.join("geo-whois-asn-country.mmdb")],
        asn_db: vec![geo.join("asn-ipv4.csv.gz")],
        reload_every: None,
    }
    .open()
    .unwrap();
    let manifest = std::fs::read_to_string(corpus.join("MANIFEST.tsv")).unwrap();
    let files: Vec<_> = manifest.lines().skip(1).filter_map(|l| l.split('\t').next()).map(|p| corpus.join(p)).collect();
    let f = |a: &serde_json::Value, k: &str| a["unmapped"]["farhand"][k].clone();
    // Antarctica at home: every remote-control session with a public, geolocated peer is from
    // abroad (its community id gets a from-abroad alert naming the peer's country).
    settings.policy = Arc::new(Policy::default().with_home_countries(["AQ".to_string()]));
    let mut sessions: BTreeMap<(String, String), String> = BTreeMap::new();
    let mut abroad: BTreeMap<(String, String), String> = BTreeMap::new();
    for file in &files {
        for a in alerts_with(file, &settings, 1) {
            let key = (file.display().to_string(), a["network"]["community_id"].to_string());
            let cc = f(&a, "peer")["country"].as_str().unwrap_or_default().to_string();
            match f(&a, "kind").as_str() {
                Some("remote_control_session")
                    if f(&a, "category") == "remote_control"
                        && f(&a, "peer")["class"] == "public"
                        && !cc.is_empty() =>
                {
                    sessions.insert(key, cc);
                }
                Some("remote_control_from_abroad") if f(&a, "abroad")["who"] != "turn_peer" => {
                    abroad.insert(key, f(&a, "abroad")["country"].as_str().unwrap_or_default().to_string());
                }
                _ => {}
            }
        }
    }
    eprintln!("from abroad: {} remote-control sessions with geolocated public peers", sessions.len());
    assert!(sessions.len() >= 5, "too few sessions to prove anything: {sessions:?}");
    for (k, cc) in &sessions {
        assert_eq!(abroad.get(k), Some(cc), "{k:?}: a session to a peer in {cc} must be from abroad");
    }
    // Every country seen at home: not one from-abroad alert.
    let seen: BTreeSet<String> = sessions.values().cloned().collect();
    settings.policy = Arc::new(Policy::default().with_home_countries(seen.iter().cloned()));
    for file in &files {
        for a in alerts_with(file, &settings, 1) {
            let k = (file.display().to_string(), a["network"]["community_id"].to_string());
            if sessions.contains_key(&k) {
                assert_ne!(f(&a, "kind"), "remote_control_from_abroad", "{k:?}: its country is at home");
            }
        }
    }
}
