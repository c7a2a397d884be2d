//! Regression cases as data: runs the real offline pipeline on every `tests/cases/<name>/`
//! and compares the alerts with the case's `expect.toml` (format in tests/cases/README.md).
//!
//! Cases that reference the shared corpus (`corpus = "group/file"`) are skipped with a
//! visible message when `../shared/corpus` is absent; CI always has it. Set
//! `FARHAND_CASE=<name>` to run one case.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a failed expectation should panic with its message"
)]

use farhand::capture::Capture;
use farhand::config::Settings;
use farhand::pipeline::{RunOptions, run};
use farhand::sink::MemorySink;
use farhand::sink::json::Observer;
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    description: String,
    /// A capture in the case directory.
    input: Option<String>,
    /// A capture in the shared corpus, relative to `corpus/`.
    corpus: Option<String>,
    /// Alerts that must each match a distinct alert. The run must produce exactly these
    /// (no more) unless `at_least` is set.
    #[serde(default)]
    alert: Vec<BTreeMap<String, toml::Value>>,
    /// Allow extra alerts beyond the listed ones.
    #[serde(default)]
    at_least: bool,
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn shared() -> PathBuf {
    std::env::var_os("FARHAND_SHARED").map(PathBuf::from).unwrap_or_else(|| repo().join("../shared"))
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

fn matches(alert: &Value, want: &BTreeMap<String, toml::Value>) -> Result<(), String> {
    for (k, w) in want {
        let got = lookup(alert, k).ok_or_else(|| format!("{k}: missing"))?;
        let ok = match w {
            toml::Value::String(s) => got.as_str() == Some(s.as_str()),
            toml::Value::Integer(i) => got.as_i64() == Some(*i),
            toml::Value::Boolean(b) => got.as_bool() == Some(*b),
            toml::Value::Float(f) => got.as_f64() == Some(*f),
            toml::Value::Array(items) => {
                let want: Vec<Value> = items.iter().map(|x| serde_json::to_value(x).unwrap()).collect();
                got.as_array() == Some(&want)
            }
            other => return Err(format!("{k}: unsupported expectation {other:?}")),
        };
        if !ok {
            return Err(format!("{k}: want {w}, got {got}"));
        }
    }
    Ok(())
}

/// Runs one capture through the pipeline with `workers` workers; returns the alerts.
fn alerts_of(path: &Path, workers: usize) -> Vec<Value> {
    let mut settings = Settings::defaults();
    settings.workers = workers;
    let mut cap = Capture::open_file(path).unwrap_or_else(|e| panic!("{e}"));
    let mut sink = MemorySink::new(Observer { name: "test".into() });
    let s = run(&mut cap, &settings, &mut sink, &RunOptions::default());
    assert!(s.input_error.is_none(), "{}: {:?}", path.display(), s.input_error);
    sink.alerts
}

/// Assigns expectations to distinct alerts (small sets: backtracking is fine).
fn assign(alerts: &[Value], wants: &[BTreeMap<String, toml::Value>], used: &mut Vec<bool>) -> bool {
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
    format!(
        "{} {} {}:{} -> {}:{} conf={} fp={}",
        f["kind"],
        f["tool"],
        a["src_endpoint"]["ip"],
        a["src_endpoint"]["port"],
        a["dst_endpoint"]["ip"],
        a["dst_endpoint"]["port"],
        f["confidence"],
        f["fingerprint"]
    )
}

#[test]
fn regression_cases() {
    let root = repo().join("tests/cases");
    let only = std::env::var("FARHAND_CASE").ok();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("expect.toml").is_file())
        .collect();
    dirs.sort();
    assert!(!dirs.is_empty(), "no cases under {}", root.display());
    let (mut ran, mut skipped, mut failures) = (0, 0, Vec::new());
    for dir in dirs {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        if only.as_deref().is_some_and(|o| o != name) {
            continue;
        }
        let exp_path = dir.join("expect.toml");
        let text = std::fs::read_to_string(&exp_path).unwrap();
        let exp: Expect = toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", exp_path.display()));
        assert!(!exp.description.trim().is_empty(), "{name}: empty description");
        assert!(dir.join("README.md").is_file(), "{name}: README.md missing");
        let input = match (&exp.input, &exp.corpus) {
            (Some(i), None) => dir.join(i),
            (None, Some(c)) => {
                let p = shared().join("corpus").join(c);
                if !p.is_file() {
                    eprintln!("SKIP case {name}: {} not found (the shared corpus is absent)", p.display());
                    skipped += 1;
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
        let alerts = alerts_of(&input, 1);
        // The sharded pipeline must reach the same alerts.
        let mut a1: Vec<String> = alerts.iter().map(|a| a["finding_info"]["uid"].to_string()).collect();
        let mut a2: Vec<String> = alerts_of(&input, 3).iter().map(|a| a["finding_info"]["uid"].to_string()).collect();
        a1.sort();
        a2.sort();
        if a1 != a2 {
            failures.push(format!("{name}: 1 worker and 3 workers disagree: {a1:?} vs {a2:?}"));
        }
        ran += 1;
        let mut used = vec![false; alerts.len()];
        let count_ok = if exp.at_least { alerts.len() >= exp.alert.len() } else { alerts.len() == exp.alert.len() };
        if !count_ok || !assign(&alerts, &exp.alert, &mut used) {
            let got: Vec<String> = alerts.iter().map(summary).collect();
            let mut why = Vec::new();
            for (i, w) in exp.alert.iter().enumerate() {
                let best = alerts.iter().map(|a| matches(a, w)).find(|r| r.is_ok()).unwrap_or_else(|| {
                    alerts.iter().map(|a| matches(a, w)).next().unwrap_or(Err("no alerts at all".into()))
                });
                if let Err(e) = best {
                    why.push(format!("  expectation #{i}: {e}"));
                }
            }
            failures.push(format!(
                "{name}: expected {}{} alerts, got {}:\n    {}\n{}",
                if exp.at_least { "at least " } else { "" },
                exp.alert.len(),
                alerts.len(),
                got.join("\n    "),
                why.join("\n")
            ));
        } else {
            eprintln!("ok   case {name}: {} alert(s)", alerts.len());
        }
    }
    eprintln!("regression cases: {ran} ran, {skipped} skipped, {} failed", failures.len());
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}
