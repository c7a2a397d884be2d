//! The alert schema, pinned: every field path that farhand's alerts carry, per alert kind
//! and, under the fingerprint, per protocol.
//!
//! The alerts are built in the reporting crate from model types (ARCHITECTURE.md); a renamed
//! or dropped field there changes what a SOC's parsers receive. This test runs every capture
//! of `tests/cases/` and of `../shared/corpus` (MANIFEST.tsv) through the pipeline, collects
//! the field paths of each alert (object keys joined by `.`, array elements as `[]`) and
//! compares the set with `tests/schema/alert-fields.txt`: a path that disappears or a new one
//! fails the test with the difference. After a deliberate schema change, rewrite the file
//! with `FARHAND_SCHEMA_WRITE=1 cargo test --test schema` and review its diff.
//!
//! Runs with the shared country and ASN databases (`../shared/geo`) so that the peer's
//! geography fields are pinned as well. Needs `../shared/corpus` (the corpus holds most protocols): skipped with a visible message
//! when it is absent, a failure under CI.

#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic, reason = "test code")]

mod common;

use common::{alerts_with, shared, skip_unless_ci};
use farhand::config::Settings;
use farhand_report::enrich::live::EnrichConfig;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Adds `prefix`'s field paths in `v` to `out`, each line prefixed with `group`.
fn paths(group: &str, prefix: &str, v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(o) => {
            for (k, x) in o {
                let p = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                paths(group, &p, x, out);
            }
        }
        Value::Array(items) => {
            let p = format!("{prefix}[]");
            if items.iter().all(|i| !i.is_object() && !i.is_array()) {
                out.insert(format!("{group}\t{p}"));
            }
            for i in items {
                if i.is_object() || i.is_array() {
                    paths(group, &p, i, out);
                }
            }
        }
        _ => {
            out.insert(format!("{group}\t{prefix}"));
        }
    }
}

/// The schema lines of one alert: the envelope per kind; the fingerprint (and the OCSF
/// evidence data, its copy) per protocol.
fn schema_of(alert: &Value, out: &mut BTreeSet<String>) {
    let kind = alert["unmapped"]["farhand"]["kind"].as_str().unwrap_or("?").to_string();
    let mut envelope = alert.clone();
    let fingerprint = envelope["unmapped"]["farhand"].as_object_mut().and_then(|f| f.remove("fingerprint"));
    let data = envelope["evidences"]
        .as_array_mut()
        .and_then(|e| e.first_mut())
        .and_then(|e| e.as_object_mut())
        .and_then(|e| e.remove("data"));
    paths(&kind, "", &envelope, out);
    for (v, at) in [(fingerprint, "unmapped.farhand.fingerprint"), (data, "evidences[].data")] {
        if let Some(v) = v {
            // The evidence's protocol tag; tinc's evidence has a field of the same name (its
            // protocol version) that overwrites the tag, so such alerts go by their tool.
            let group = match v["protocol"].as_str() {
                Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') => p.to_string(),
                _ => format!("tool:{}", alert["unmapped"]["farhand"]["tool"].as_str().unwrap_or("?")),
            };
            paths(&format!("fingerprint/{group}"), at, &v, out);
        }
    }
}

fn captures(repo: &Path, corpus: &Path) -> Vec<PathBuf> {
    let mut list: Vec<PathBuf> = std::fs::read_dir(repo.join("tests/cases"))
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path().join("input.pcap")).filter(|p| p.is_file()).collect())
        .unwrap_or_default();
    let manifest = std::fs::read_to_string(corpus.join("MANIFEST.tsv")).unwrap_or_default();
    list.extend(manifest.lines().skip(1).filter_map(|l| l.split('\t').next()).map(|p| corpus.join(p)));
    list.sort();
    list
}

#[test]
fn alert_fields_are_the_pinned_schema() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let corpus = shared().join("corpus");
    if !corpus.join("MANIFEST.tsv").is_file() {
        skip_unless_ci("alert schema", &corpus, "shared corpus");
        return;
    }
    // With the shared country and ASN databases, so that the peer's geography fields (present
    // only when known) are pinned too.
    let geo = shared().join("geo");
    let mut settings = Settings::defaults();
    settings.enrich = EnrichConfig {
        country_db: vec![geo.join("geo-whois-asn-country.mmdb")],
        asn_db: vec![geo.join("asn-ipv4.csv.gz"), geo.join("asn-ipv6.csv.gz")],
        reload_every: None,
    }
    .open()
    .unwrap_or_else(|e| panic!("the shared geography databases: {e}"));
    let mut got = BTreeSet::new();
    let files = captures(&repo, &corpus);
    let mut alerts = 0;
    for f in &files {
        for a in alerts_with(f, &settings, 1) {
            schema_of(&a, &mut got);
            alerts += 1;
        }
    }
    let pinned_path = repo.join("tests/schema/alert-fields.txt");
    let header = "# The alert schema: one line per field path (tab-separated: alert kind or\n\
                  # fingerprint/<protocol>, then the path). Written by\n\
                  # FARHAND_SCHEMA_WRITE=1 cargo test --test schema; checked by tests/schema.rs.\n";
    if std::env::var_os("FARHAND_SCHEMA_WRITE").is_some() {
        let body: String = got.iter().map(|l| format!("{l}\n")).collect();
        std::fs::write(&pinned_path, format!("{header}{body}")).unwrap();
        eprintln!("wrote {} ({} paths from {alerts} alerts)", pinned_path.display(), got.len());
        return;
    }
    let text = std::fs::read_to_string(&pinned_path).unwrap_or_else(|e| panic!("{}: {e}", pinned_path.display()));
    let pinned: BTreeSet<String> =
        text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()).map(str::to_string).collect();
    let gone: Vec<&String> = pinned.difference(&got).collect();
    let new: Vec<&String> = got.difference(&pinned).collect();
    assert!(
        gone.is_empty() && new.is_empty(),
        "the alert schema changed ({} captures, {alerts} alerts): {} path(s) gone, {} new.\n\
         gone:\n  {}\nnew:\n  {}\nIf deliberate: FARHAND_SCHEMA_WRITE=1 cargo test --test schema, and say so in the \
         README's Alerts section.",
        files.len(),
        gone.len(),
        new.len(),
        gone.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\n  "),
        new.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\n  "),
    );
    eprintln!("alert schema: {} paths over {alerts} alerts from {} captures, as pinned", got.len(), files.len());
}
