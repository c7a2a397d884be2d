//! Regression cases as data: runs the real offline pipeline on every `tests/cases/<name>/`
//! with one worker and with three, and checks both alert sets against the case's
//! `expect.toml` (format, including the tolerance syntax for numbers, in
//! tests/cases/README.md).
//!
//! Cases that reference the shared corpus (`corpus = "group/file"`) are skipped with a
//! visible message when `../shared/corpus` is absent — unless `CI` is set, where a missing
//! corpus is a failure. `FARHAND_CASE=<name>[,<name>...]` runs only the named cases; a name
//! that matches no case is a failure, and so is a run in which no case ran.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a failed expectation should panic with its message"
)]

mod common;

use common::{alerts_with, ci, repo, shared};

use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    description: String,
    /// A capture in the case directory.
    input: Option<String>,
    /// A capture in the shared corpus, relative to `corpus/`.
    corpus: Option<String>,
    /// A config file in the case directory to run with (default: the built-in defaults).
    config: Option<String>,
    /// Alerts that must each match a distinct alert. The run must produce exactly these
    /// (no more) unless `at_least` is set.
    #[serde(default)]
    alert: Vec<BTreeMap<String, toml::Value>>,
    /// Allow extra alerts beyond the listed ones.
    #[serde(default)]
    at_least: bool,
}

/// A numeric range an alert field must fall in (an inline table in `expect.toml`).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Range {
    /// `{ approx = X, tol = T }`: |got - X| <= T.
    Abs { x: f64, tol: f64 },
    /// `{ approx = X, rel = R }`: |got - X| <= R * |X|.
    Rel { x: f64, rel: f64 },
    /// `{ min = A }`, `{ max = B }`, `{ min = A, max = B }` (inclusive).
    Bounds { min: Option<f64>, max: Option<f64> },
}

const RANGE_KEYS: &str = "approx + tol, approx + rel, min, max, min + max";

impl Range {
    /// Reads an inline table; the error names the offending key.
    fn parse(t: &toml::Table) -> Result<Self, String> {
        let mut num = BTreeMap::new();
        for (k, v) in t {
            if !["approx", "tol", "rel", "min", "max"].contains(&k.as_str()) {
                return Err(format!("unknown key `{k}` in the inline table (allowed: {RANGE_KEYS})"));
            }
            let n = match v {
                toml::Value::Integer(i) => *i as f64,
                toml::Value::Float(f) if f.is_finite() => *f,
                other => return Err(format!("`{k}` must be a finite number, got {other}")),
            };
            num.insert(k.as_str(), n);
        }
        let has = |k: &str| num.contains_key(k);
        let get = |k: &str| num.get(k).copied();
        let r = match (get("approx"), get("tol"), get("rel")) {
            (Some(x), Some(tol), None) if !has("min") && !has("max") => Self::Abs { x, tol },
            (Some(x), None, Some(rel)) if !has("min") && !has("max") => Self::Rel { x, rel },
            (None, None, None) if has("min") || has("max") => Self::Bounds { min: get("min"), max: get("max") },
            _ => {
                let keys: Vec<&str> = num.keys().copied().collect();
                return Err(format!("the keys {keys:?} are not a valid combination (use one of: {RANGE_KEYS})"));
            }
        };
        let (lo, hi) = r.bounds();
        if matches!(r, Self::Abs { tol, .. } if tol < 0.0) || matches!(r, Self::Rel { rel, .. } if rel < 0.0) {
            return Err("`tol`/`rel` must not be negative".into());
        }
        if lo > hi {
            return Err(format!("empty range: min {lo} > max {hi}"));
        }
        Ok(r)
    }

    /// Inclusive bounds (infinite where open).
    fn bounds(self) -> (f64, f64) {
        match self {
            Self::Abs { x, tol } => (x - tol, x + tol),
            Self::Rel { x, rel } => (x - rel * x.abs(), x + rel * x.abs()),
            Self::Bounds { min, max } => (min.unwrap_or(f64::NEG_INFINITY), max.unwrap_or(f64::INFINITY)),
        }
    }

    /// A value exactly at a bound is inside; the slack only absorbs decimal round-off
    /// (81.7 + 3.0 is 84.70000000000000284 in binary).
    fn contains(self, got: f64) -> bool {
        let (lo, hi) = self.bounds();
        let slack = |b: f64| if b.is_finite() { 1e-9 * b.abs().max(1.0) } else { 0.0 };
        got >= lo - slack(lo) && got <= hi + slack(hi)
    }

    fn describe(self) -> String {
        let (lo, hi) = self.bounds();
        match self {
            Self::Abs { x, tol } => format!("{x} ± {tol} ([{lo}, {hi}])"),
            Self::Rel { x, rel } => format!("{x} ± {}% ([{lo}, {hi}])", rel * 100.0),
            Self::Bounds { min: Some(_), max: Some(_) } => format!("[{lo}, {hi}]"),
            Self::Bounds { min: Some(_), max: None } => format!(">= {lo}"),
            Self::Bounds { .. } => format!("<= {hi}"),
        }
    }
}

/// One expected field value.
#[derive(Debug, Clone, PartialEq)]
enum Want {
    /// Strings, integers, booleans, arrays and bare floats compare exactly.
    Exact(toml::Value),
    /// A number within a range.
    Within(Range),
    /// `{ contains = ["a", "b"] }`: a string holding every one of these pieces (an alert's
    /// explanation and the figures it must state).
    Contains(Vec<String>),
    /// `{ absent = true }`: the field is missing or `null` (a figure the sensor must not
    /// claim, e.g. keystrokes in a session nobody typed in).
    Absent,
}

/// One `[[alert]]` table, checked: dotted key -> wanted value.
type Expectation = BTreeMap<String, Want>;

/// Reads `{ contains = ["piece", ...] }`: no other key, at least one non-empty piece.
fn contains(t: &toml::Table) -> Result<Vec<String>, String> {
    if let Some(k) = t.keys().find(|k| *k != "contains") {
        return Err(format!("unknown key `{k}` beside `contains`"));
    }
    let pieces: Option<Vec<String>> = t
        .get("contains")
        .and_then(|v| v.as_array())
        .map(|a| a.iter().map(|x| x.as_str().filter(|s| !s.is_empty()).map(str::to_string)).collect())
        .unwrap_or(None);
    match pieces {
        Some(p) if !p.is_empty() => Ok(p),
        _ => Err("`contains` must be a non-empty array of non-empty strings".into()),
    }
}

/// Reads `{ absent = true }`: nothing else, and only `true`.
fn absent(t: &toml::Table) -> Result<(), String> {
    if let Some(k) = t.keys().find(|k| *k != "absent") {
        return Err(format!("unknown key `{k}` beside `absent`"));
    }
    match t.get("absent") {
        Some(toml::Value::Boolean(true)) => Ok(()),
        _ => Err("`absent` takes only `true`".into()),
    }
}

/// Converts the `[[alert]]` tables; the error names the expectation index and the key.
fn expectations(tables: &[BTreeMap<String, toml::Value>]) -> Result<Vec<Expectation>, String> {
    tables
        .iter()
        .enumerate()
        .map(|(i, t)| {
            t.iter()
                .map(|(k, v)| {
                    let w = match v {
                        toml::Value::Table(inline) if inline.contains_key("absent") => {
                            absent(inline).map_err(|e| format!("expectation #{i} key `{k}`: {e}"))?;
                            Want::Absent
                        }
                        toml::Value::Table(inline) if inline.contains_key("contains") => {
                            Want::Contains(contains(inline).map_err(|e| format!("expectation #{i} key `{k}`: {e}"))?)
                        }
                        toml::Value::Table(inline) => {
                            Want::Within(Range::parse(inline).map_err(|e| format!("expectation #{i} key `{k}`: {e}"))?)
                        }
                        toml::Value::Datetime(_) => {
                            return Err(format!("expectation #{i} key `{k}`: dates are not supported"));
                        }
                        other => Want::Exact(other.clone()),
                    };
                    Ok((k.clone(), w))
                })
                .collect()
        })
        .collect()
}

fn manifest_sha(corpus_path: &str) -> Option<String> {
    let text = std::fs::read_to_string(shared().join("corpus/MANIFEST.tsv")).ok()?;
    text.lines().find_map(|l| {
        let mut f = l.split('\t');
        (f.next()? == corpus_path).then(|| f.next().map(str::to_string))?
    })
}

fn lookup<'a>(v: &'a Value, dotted: &str) -> Option<&'a Value> {
    dotted.split('.').try_fold(v, |cur, k| cur.get(k))
}

/// Checks one alert against one expectation; on mismatch, one line per failing key.
fn matches(alert: &Value, want: &Expectation) -> Result<(), Vec<String>> {
    let mut bad = Vec::new();
    for (k, w) in want {
        if matches!(w, Want::Absent) {
            if let Some(got) = lookup(alert, k).filter(|v| !v.is_null()) {
                bad.push(format!("key `{k}`: want absent or null, got {got}"));
            }
            continue;
        }
        let Some(got) = lookup(alert, k) else {
            bad.push(format!("key `{k}`: missing"));
            continue;
        };
        let (ok, wanted) = match w {
            Want::Exact(toml::Value::String(s)) => (got.as_str() == Some(s.as_str()), format!("{s:?}")),
            Want::Exact(toml::Value::Integer(i)) => (got.as_i64() == Some(*i), i.to_string()),
            Want::Exact(toml::Value::Boolean(b)) => (got.as_bool() == Some(*b), b.to_string()),
            Want::Exact(toml::Value::Float(f)) => (got.as_f64() == Some(*f), format!("exactly {f}")),
            Want::Exact(toml::Value::Array(items)) => {
                let want: Vec<Value> = items.iter().map(|x| serde_json::to_value(x).unwrap()).collect();
                (got.as_array() == Some(&want), Value::Array(want).to_string())
            }
            Want::Exact(other) => (false, format!("unsupported expectation {other}")),
            Want::Within(r) => (got.as_f64().is_some_and(|g| r.contains(g)), r.describe()),
            Want::Absent => (true, String::new()),
            Want::Contains(pieces) => {
                let missing: Vec<&String> =
                    pieces.iter().filter(|p| !got.as_str().is_some_and(|g| g.contains(p.as_str()))).collect();
                (missing.is_empty(), format!("a text containing {missing:?}"))
            }
        };
        if !ok {
            bad.push(format!("key `{k}`: want {wanted}, got {got}"));
        }
    }
    if bad.is_empty() { Ok(()) } else { Err(bad) }
}

/// Assigns expectations to distinct alerts (small sets: backtracking is fine).
fn assign(alerts: &[Value], wants: &[Expectation], used: &mut Vec<bool>) -> bool {
    let Some((first, rest)) = wants.split_first() else { return true };
    for (i, a) in alerts.iter().enumerate() {
        if !used[i] && matches(a, first).is_ok() {
            used[i] = true;
            if assign(alerts, rest, used) {
                return true;
            }
            used[i] = false;
        }
    }
    false
}

fn summary(a: &Value) -> String {
    let f = &a["unmapped"]["farhand"];
    format!("{} conf={} fp={}", short(a), f["confidence"], f["fingerprint"])
}

/// Kind, tool and endpoints: enough to tell which alert an expectation was compared with.
fn short(a: &Value) -> String {
    let f = &a["unmapped"]["farhand"];
    format!(
        "{} {} {}:{} -> {}:{}",
        f["kind"],
        f["tool"],
        a["src_endpoint"]["ip"],
        a["src_endpoint"]["port"],
        a["dst_endpoint"]["ip"],
        a["dst_endpoint"]["port"]
    )
}

/// Checks one run's alerts against the case's expectations; the error names the case, the
/// worker count, and for each unmet expectation its index, the keys, the wanted values and
/// what the closest alert has.
fn check(name: &str, workers: usize, exp: &[Expectation], at_least: bool, alerts: &[Value]) -> Result<(), String> {
    let mut used = vec![false; alerts.len()];
    let count_ok = if at_least { alerts.len() >= exp.len() } else { alerts.len() == exp.len() };
    if count_ok && assign(alerts, exp, &mut used) {
        return Ok(());
    }
    let mut why = Vec::new();
    for (i, w) in exp.iter().enumerate() {
        // The alert with the fewest failing keys is the one the expectation was meant for.
        let closest =
            alerts.iter().map(|a| (matches(a, w), a)).min_by_key(|(r, _)| r.as_ref().err().map_or(0, Vec::len));
        match closest {
            None => why.push(format!("  expectation #{i}: no alerts at all")),
            Some((Ok(()), _)) => {}
            Some((Err(bad), a)) => {
                why.push(format!("  expectation #{i} (closest alert: {}):", short(a)));
                why.extend(bad.iter().map(|b| format!("    {b}")));
            }
        }
    }
    if why.is_empty() && count_ok {
        why.push("  every expectation matches some alert, but not each a distinct one".into());
    }
    let got: Vec<String> = alerts.iter().map(summary).collect();
    Err(format!(
        "{name} ({workers} worker{}): expected {}{} alerts, got {}:\n    {}\n{}",
        if workers == 1 { "" } else { "s" },
        if at_least { "at least " } else { "" },
        exp.len(),
        alerts.len(),
        got.join("\n    "),
        why.join("\n")
    ))
}

/// Case names within a small edit distance of (or containing, or contained in) `want`.
fn close_matches<'a>(want: &str, names: &'a [String]) -> Vec<&'a str> {
    fn distance(a: &str, b: &str) -> usize {
        let b: Vec<char> = b.chars().collect();
        let mut row: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.chars().enumerate() {
            let mut prev = row[0];
            row[0] = i + 1;
            for (j, cb) in b.iter().enumerate() {
                let cur = row[j + 1];
                row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
                prev = cur;
            }
        }
        row[b.len()]
    }
    names
        .iter()
        .filter(|n| distance(want, n) <= 3 || (want.len() >= 3 && (n.contains(want) || want.contains(n.as_str()))))
        .map(String::as_str)
        .collect()
}

#[test]
fn regression_cases() {
    let root = repo().join("tests/cases");
    let mut dirs: Vec<PathBuf> =
        std::fs::read_dir(&root).unwrap().filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_dir()).collect();
    dirs.sort();
    // A case directory without expect.toml would be skipped in silence: refuse it.
    let unjudged: Vec<String> = dirs
        .iter()
        .filter(|d| !d.join("expect.toml").is_file())
        .map(|d| d.file_name().unwrap().to_string_lossy().to_string())
        .collect();
    assert!(unjudged.is_empty(), "case directories without expect.toml: {}", unjudged.join(", "));
    assert!(!dirs.is_empty(), "no cases under {}", root.display());
    let names: Vec<String> = dirs.iter().map(|d| d.file_name().unwrap().to_string_lossy().to_string()).collect();

    // FARHAND_CASE=a,b,c: every listed name must be a case.
    let only: Option<Vec<String>> = std::env::var("FARHAND_CASE")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.split(',').map(|n| n.trim().to_string()).filter(|n| !n.is_empty()).collect());
    if let Some(only) = &only {
        let unknown: Vec<String> = only
            .iter()
            .filter(|o| !names.contains(o))
            .map(|o| match close_matches(o, &names).as_slice() {
                [] => format!("`{o}` (no case is close; the cases are: {})", names.join(", ")),
                close => format!("`{o}` (did you mean {}?)", close.join(", ")),
            })
            .collect();
        assert!(unknown.is_empty(), "FARHAND_CASE names no such case: {}", unknown.join("; "));
    }

    let ci = ci();
    let (mut ran, mut skipped, mut failures, mut absent) = (0, 0, Vec::new(), Vec::new());
    for (dir, name) in dirs.iter().zip(&names) {
        // Every expect.toml is read and checked, also those the filter leaves out.
        let exp_path = dir.join("expect.toml");
        let text = std::fs::read_to_string(&exp_path).unwrap();
        let exp: Expect = match toml::from_str(&text) {
            Ok(e) => e,
            Err(e) => {
                failures.push(format!("{name}: {}: {e}", exp_path.display()));
                continue;
            }
        };
        let wants = match expectations(&exp.alert) {
            Ok(w) => w,
            Err(e) => {
                failures.push(format!("{name}: {}: {e}", exp_path.display()));
                continue;
            }
        };
        assert!(!exp.description.trim().is_empty(), "{name}: empty description");
        assert!(dir.join("README.md").is_file(), "{name}: README.md missing");
        if only.as_ref().is_some_and(|o| !o.contains(name)) {
            continue;
        }
        let input = match (&exp.input, &exp.corpus) {
            (Some(i), None) => dir.join(i),
            (None, Some(c)) => {
                let p = shared().join("corpus").join(c);
                if !p.is_file() {
                    if ci {
                        absent.push(name.as_str());
                    } else {
                        eprintln!("SKIP case {name}: {} not found (the shared corpus is absent)", p.display());
                        skipped += 1;
                    }
                    continue;
                }
                let want = manifest_sha(c).unwrap_or_else(|| panic!("{name}: {c} is not in MANIFEST.tsv"));
                let got: String =
                    Sha256::digest(std::fs::read(&p).unwrap()).iter().map(|b| format!("{b:02x}")).collect();
                assert_eq!(got, want, "{name}: {c} differs from the manifest");
                p
            }
            _ => panic!("{name}: set exactly one of `input` or `corpus`"),
        };
        let settings = match &exp.config {
            Some(c) => match farhand::config::Settings::load(&dir.join(c)) {
                Ok(s) => s,
                Err(e) => {
                    failures.push(format!("{name}: config: {e}"));
                    continue;
                }
            },
            None => farhand::config::Settings::defaults(),
        };
        ran += 1;
        let one = alerts_with(&input, &settings, 1);
        let three = alerts_with(&input, &settings, 3);
        // The sharded pipeline must reach the same alerts (same ids) and meet the same
        // expectations (the figures too, not only the ids).
        let ids = |v: &[Value]| {
            let mut ids: Vec<String> = v.iter().map(|a| a["finding_info"]["uid"].to_string()).collect();
            ids.sort();
            ids
        };
        let (id1, id3) = (ids(&one), ids(&three));
        let mut ok = true;
        if id1 != id3 {
            failures.push(format!("{name}: 1 worker and 3 workers disagree: {id1:?} vs {id3:?}"));
            ok = false;
        }
        for (workers, alerts) in [(1, &one), (3, &three)] {
            if let Err(e) = check(name, workers, &wants, exp.at_least, alerts) {
                failures.push(e);
                ok = false;
            }
        }
        if ok {
            eprintln!("ok   case {name}: {} alert(s), 1 and 3 workers", one.len());
        }
    }
    if !absent.is_empty() {
        failures.push(format!(
            "CI is set, so the shared corpus must be present, but {} corpus cases cannot run: their \
             captures are not under {} (put the corpus at ../shared or point FARHAND_SHARED at it): {}",
            absent.len(),
            shared().join("corpus").display(),
            absent.join(", ")
        ));
    }
    eprintln!("regression cases: {ran} ran, {skipped} skipped, {} failed", failures.len());
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    assert!(
        ran > 0,
        "no regression case ran ({skipped} skipped{}): a run that checks nothing is not a pass",
        if only.is_some() { ", FARHAND_CASE set" } else { "" }
    );
}

/// The matcher itself: a harness that accepted everything would make every case green.
#[test]
fn matcher_tolerances() {
    let parse = |s: &str| -> Result<Vec<Expectation>, String> {
        let t: BTreeMap<String, toml::Value> = toml::from_str(s).map_err(|e| e.to_string())?;
        expectations(&[t])
    };
    let alert = |v: f64| serde_json::json!({ "b": { "gap_ms": v, "keys": 26, "tool": "rdp", "relayed": true } });
    let ok = |rule: &str, v: f64| matches(&alert(v), &parse(&format!("\"b.gap_ms\" = {rule}")).unwrap()[0]).is_ok();

    // Absolute tolerance: both bounds inclusive (also where decimal round-off would
    // otherwise exclude them), 0.01 beyond fails.
    let abs = "{ approx = 81.7, tol = 3.0 }";
    assert!(ok(abs, 81.7) && ok(abs, 84.7) && ok(abs, 78.7));
    assert!(!ok(abs, 84.71) && !ok(abs, 78.69) && !ok(abs, 81.7 + 35.0));
    // Relative: 5 % of 200 = 10.
    let rel = "{ approx = 200, rel = 0.05 }";
    assert!(ok(rel, 190.0) && ok(rel, 210.0) && ok(rel, 200.0));
    assert!(!ok(rel, 210.01) && !ok(rel, 189.99));
    // Bounds, either or both.
    assert!(ok("{ min = 5 }", 5.0) && !ok("{ min = 5 }", 4.99) && ok("{ min = 5 }", 1e9));
    assert!(ok("{ max = 1.5 }", 1.5) && !ok("{ max = 1.5 }", 1.51) && ok("{ max = 1.5 }", -3.0));
    assert!(ok("{ min = 79, max = 85 }", 79.0) && ok("{ min = 79, max = 85 }", 85.0));
    assert!(!ok("{ min = 79, max = 85 }", 78.9) && !ok("{ min = 79, max = 85 }", 85.1));
    // Text pieces: all must be there; a non-string never contains anything.
    let msg = serde_json::json!({ "m": "gap 81.7 ms, 3900-7800 km beyond 10.77.2.2", "n": 3 });
    let has = |rule: &str| matches(&msg, &parse(&format!("\"m\" = {rule}")).unwrap()[0]).is_ok();
    assert!(has("{ contains = [\"81.7 ms\", \"3900-7800 km\"] }"));
    assert!(!has("{ contains = [\"81.7 ms\", \"4000 km\"] }"));
    assert!(matches(&msg, &parse("\"n\" = { contains = [\"3\"] }").unwrap()[0]).is_err());
    for bad in ["{ contains = [] }", "{ contains = [\"\"] }", "{ contains = \"x\" }", "{ contains = [\"x\"], tol = 1 }"]
    {
        assert!(parse(&format!("\"m\" = {bad}")).is_err(), "{bad} must be refused");
    }
    // Absent: a missing key or null passes, any value (0 and false included) fails.
    let doc = serde_json::json!({ "k": { "keys": 0, "none": null, "flag": false } });
    let gone = |key: &str| matches(&doc, &parse(&format!("\"{key}\" = {{ absent = true }}")).unwrap()[0]);
    assert!(gone("k.none").is_ok() && gone("k.missing").is_ok() && gone("nothing.at.all").is_ok());
    assert_eq!(gone("k.keys"), Err(vec!["key `k.keys`: want absent or null, got 0".to_string()]));
    assert!(gone("k.flag").is_err() && gone("k").is_err());
    for bad in ["{ absent = false }", "{ absent = 1 }", "{ absent = true, min = 0 }"] {
        assert!(parse(&format!("\"m\" = {bad}")).is_err(), "{bad} must be refused");
    }
    // A bare float is still exact; a non-number never satisfies a range.
    assert!(ok("81.7", 81.7) && !ok("81.7", 81.71));
    let exp = parse("\"b.tool\" = { min = 0 }").unwrap();
    assert!(matches(&alert(1.0), &exp[0]).is_err());
    let exp = parse("\"b.missing\" = { min = 0 }").unwrap();
    assert_eq!(matches(&alert(1.0), &exp[0]), Err(vec!["key `b.missing`: missing".to_string()]));

    // Failure text names the key, the wanted range and what was got.
    let exp = parse("\"b.gap_ms\" = { approx = 81.7, tol = 3.0 }\n\"b.keys\" = 26").unwrap();
    let err = matches(&alert(116.7), &exp[0]).unwrap_err();
    assert_eq!(err, vec!["key `b.gap_ms`: want 81.7 ± 3 ([78.7, 84.7]), got 116.7".to_string()]);

    // Malformed inline tables are rejected, naming the expectation and the key.
    for (bad, says) in [
        ("{ approx = 81.7, tolerance = 3.0 }", "unknown key `tolerance`"),
        ("{ approx = 81.7 }", "not a valid combination"),
        ("{ tol = 3.0 }", "not a valid combination"),
        ("{ approx = 1, tol = 1, rel = 0.1 }", "not a valid combination"),
        ("{ approx = 1, tol = 1, max = 3 }", "not a valid combination"),
        ("{ min = 5, max = 4 }", "empty range"),
        ("{ approx = 1, tol = -1 }", "must not be negative"),
        ("{ min = \"5\" }", "must be a finite number"),
        ("{}", "not a valid combination"),
    ] {
        let e = parse(&format!("\"b.gap_ms\" = {bad}")).unwrap_err();
        assert!(e.contains("expectation #0 key `b.gap_ms`") && e.contains(says), "{bad}: {e}");
    }

    // check(): the message names the case, the worker count, the expectation and the key;
    // the count of alerts and the distinctness of the assignment are enforced.
    let exp = parse("\"b.gap_ms\" = { approx = 81.7, tol = 3.0 }").unwrap();
    assert!(check("c", 3, &exp, false, &[alert(82.0)]).is_ok());
    let e = check("c", 3, &exp, false, &[alert(116.7)]).unwrap_err();
    assert!(e.starts_with("c (3 workers): expected 1 alerts, got 1"), "{e}");
    assert!(
        e.contains("expectation #0") && e.contains("key `b.gap_ms`: want 81.7 ± 3 ([78.7, 84.7]), got 116.7"),
        "{e}"
    );
    assert!(check("c", 1, &exp, false, &[alert(82.0), alert(82.0)]).is_err());
    assert!(check("c", 1, &exp, true, &[alert(82.0), alert(1.0)]).is_ok());
    let two = [exp[0].clone(), exp[0].clone()];
    let e = check("c", 1, &two, true, &[alert(82.0), alert(1.0)]).unwrap_err();
    assert!(e.contains("not each a distinct one"), "{e}");
    assert!(check("c", 1, &[], false, &[]).is_ok());
    assert!(check("c", 1, &[], false, &[alert(1.0)]).is_err());

    // Close names for a mistyped filter.
    let names: Vec<String> = ["demo", "own-rdp-relayed-80ms", "ssh-v1-and-v2"].map(String::from).to_vec();
    assert_eq!(close_matches("demoo", &names), ["demo"]);
    assert_eq!(close_matches("rdp-relayed", &names), ["own-rdp-relayed-80ms"]);
    assert!(close_matches("zzzzzzzz", &names).is_empty());
}
