//! The `farhand` binary as a user meets it: inputs, errors, exit codes, outputs.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a failed expectation should panic with its message"
)]

mod common;

use common::{farhand, repo, stderr};

use std::process::{Command, Output};

/// Exactly one line on stderr, starting "farhand: ", naming `what`.
fn one_clear_line(o: &Output, what: &str) {
    let e = stderr(o);
    let lines: Vec<&str> = e.lines().collect();
    assert_eq!(lines.len(), 1, "want one line, got: {e}");
    assert!(lines[0].starts_with("farhand: "), "{e}");
    assert!(lines[0].contains(what), "{e} should name {what}");
    assert!(!e.contains("panicked"), "{e}");
}

#[test]
fn help_and_version() {
    let o = farhand(&["--help"]);
    assert!(o.status.success());
    let h = String::from_utf8_lossy(&o.stdout);
    for want in [
        "-r, --read",
        "-i, --interface",
        "-c, --config",
        "-o, --output",
        "--workers",
        "--demo",
        "Exit codes",
        "farhand geo import-asn",
        "config/demo/farhand.toml",
        "--demo --check-config",
    ] {
        assert!(h.contains(want), "--help lacks {want}");
    }
    let o = farhand(&["--version"]);
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("farhand "));
}

#[test]
fn no_input_is_a_usage_error() {
    let o = farhand(&[]);
    assert_eq!(o.status.code(), Some(2));
    let o = farhand(&["-r", "a.pcap", "-i", "eth0"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn missing_file() {
    let o = farhand(&["-r", "/nonexistent/capture.pcap"]);
    assert_eq!(o.status.code(), Some(1));
    one_clear_line(&o, "/nonexistent/capture.pcap: no such file");
}

#[test]
fn not_a_pcap() {
    let p = repo().join("Cargo.toml");
    let o = farhand(&["-r", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    one_clear_line(&o, "not a readable pcap/pcapng file");
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.pcap");
    std::fs::write(&empty, b"").unwrap();
    let o = farhand(&["-r", empty.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    one_clear_line(&o, "empty.pcap");
    let o = farhand(&["-r", dir.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    one_clear_line(&o, "is a directory");
}

/// The demo capture's records: (offset of the record header, whether the frame is TCP to or
/// from port 3389). Classic little-endian pcap, Ethernet, IPv4.
fn demo_records(pcap: &[u8]) -> Vec<(usize, bool)> {
    let u32le = |o: usize| u32::from_le_bytes(pcap[o..o + 4].try_into().unwrap()) as usize;
    assert_eq!(&pcap[..4], &[0xd4, 0xc3, 0xb2, 0xa1], "classic little-endian pcap");
    let mut out = Vec::new();
    let mut off = 24;
    while off + 16 <= pcap.len() {
        let caplen = u32le(off + 8);
        let f = &pcap[off + 16..off + 16 + caplen];
        let rdp = f.len() > 38 && f[12..14] == [8, 0] && f[23] == 6 && {
            let l4 = 14 + usize::from(f[14] & 15) * 4;
            let port = |o: usize| u16::from_be_bytes([f[l4 + o], f[l4 + o + 1]]);
            port(0) == 3389 || port(2) == 3389
        };
        out.push((off, rdp));
        off += 16 + caplen;
    }
    assert_eq!(off, pcap.len(), "whole records");
    out
}

/// (kind, tool, source port, destination port) of each alert line.
fn alert_list(jsonl: &str) -> Vec<(String, String, u64, u64)> {
    jsonl
        .lines()
        .map(|l| {
            let a: serde_json::Value = serde_json::from_str(l).expect("JSON line");
            let f = &a["unmapped"]["farhand"];
            (
                f["kind"].as_str().unwrap().to_string(),
                f["tool"].as_str().unwrap().to_string(),
                a["src_endpoint"]["port"].as_u64().unwrap(),
                a["dst_endpoint"]["port"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn truncated_pcap_keeps_what_was_read() {
    // The demo capture (453 records): SSH (records 68-178, closed), VNC (179-331, closed), RDP
    // (332-440, closed), then ordinary traffic to the end. Its alerts (with the demo's own
    // policy): per session its alert and remote_control_from_abroad, the laptop's episode
    // (created after SSH, updated after VNC and RDP), and two multiple_remote_tools (VNC, then
    // RDP, each a further tool on the laptop).
    let demo = std::fs::read(repo().join("tests/cases/demo/input.pcap")).unwrap();
    let records = demo_records(&demo);
    assert_eq!(records.len(), 453);
    let full = farhand(&["--demo", "-q"]);
    assert!(full.status.success(), "{}", stderr(&full));
    let full_alerts = String::from_utf8_lossy(&full.stdout).to_string();
    assert_eq!(
        alert_list(&full_alerts),
        [
            ("remote_control_session".into(), "ssh".into(), 54561, 22),
            ("remote_control_from_abroad".into(), "ssh".into(), 54561, 22),
            ("remote_control_episode".into(), "ssh".into(), 54561, 22),
            ("remote_control_session".into(), "vnc".into(), 57916, 5900),
            ("multiple_remote_tools".into(), "vnc".into(), 57916, 5900),
            ("remote_control_from_abroad".into(), "vnc".into(), 57916, 5900),
            ("remote_control_episode".into(), "vnc".into(), 57916, 5900),
            ("remote_control_session".into(), "rdp".into(), 60400, 3389),
            ("multiple_remote_tools".into(), "rdp".into(), 60400, 3389),
            ("remote_control_from_abroad".into(), "rdp".into(), 60400, 3389),
            ("remote_control_episode".into(), "rdp".into(), 60400, 3389),
        ]
    );
    let dir = tempfile::tempdir().unwrap();
    // --demo runs with the demo's own configuration: the cut files too, from its file.
    let demo_config = repo().join("config/demo/farhand.toml");
    let run_cut = |name: &str, len: usize| {
        let cut = dir.path().join(name);
        std::fs::write(&cut, &demo[..len]).unwrap();
        let out = dir.path().join(format!("{name}.jsonl"));
        let o = farhand(&[
            "-r",
            cut.to_str().unwrap(),
            "-c",
            demo_config.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "-q",
        ]);
        assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
        (o, std::fs::read_to_string(&out).unwrap())
    };

    // Cut in the middle of the last record, after every session ended: all 452 whole records
    // are read and every alert is written, the same as from the whole file.
    let (o, got) = run_cut("end.pcap", demo.len() - 37);
    one_clear_line(&o, "truncated");
    assert!(stderr(&o).contains("stopped after 452 packets"), "{}", stderr(&o));
    assert_eq!(alert_list(&got), alert_list(&full_alerts), "cut in the last record: the whole file's alerts");
    assert!(got == full_alerts, "cut in the last record: the alerts' fields differ from the whole file's");

    // Cut in the middle of the RDP session's first record (its SYN, record 332): SSH and VNC
    // were complete before the cut, RDP never began. Exactly the SSH and VNC alerts (session,
    // from abroad, episode; the VNC multiple_remote_tools alert); nothing for RDP.
    let (first_rdp, _) = *records.iter().find(|(_, rdp)| *rdp).unwrap();
    assert_eq!(records.iter().position(|r| r.0 == first_rdp), Some(332));
    let (o, got) = run_cut("mid.pcap", first_rdp + 16 + 30);
    one_clear_line(&o, "truncated");
    assert!(stderr(&o).contains("stopped after 332 packets"), "{}", stderr(&o));
    assert_eq!(alert_list(&got), alert_list(&full_alerts)[..7], "cut before RDP began: {got}");
}

#[test]
fn bad_interface() {
    let o = farhand(&["-i", "nosuchif0"]);
    assert_eq!(o.status.code(), Some(1));
    one_clear_line(&o, "interface nosuchif0");
}

#[test]
fn bad_filter() {
    let demo = repo().join("tests/cases/demo/input.pcap");
    let o = farhand(&["-r", demo.to_str().unwrap(), "-f", "port and and"]);
    assert_eq!(o.status.code(), Some(2));
    one_clear_line(&o, "capture filter");
}

#[test]
fn bad_config_names_file_line_key() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("farhand.toml");
    std::fs::write(&cfg, "[sensor]\nworkers = 2\nhome_netwrks = []\n").unwrap();
    let o = farhand(&["-c", cfg.to_str().unwrap(), "--demo"]);
    assert_eq!(o.status.code(), Some(2));
    one_clear_line(&o, "farhand.toml:3:1");
    assert!(stderr(&o).contains("home_netwrks"));
    let o = farhand(&["-c", "/nonexistent.toml", "--demo"]);
    assert_eq!(o.status.code(), Some(2));
    one_clear_line(&o, "/nonexistent.toml");
    let shipped = repo().join("config/farhand.toml");
    let o = farhand(&["-c", shipped.to_str().unwrap(), "--check-config"]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn check_config_reports_each_component_and_runs_warn_when_degraded() {
    let shipped = repo().join("config/farhand.toml");
    let o = farhand(&["-c", shipped.to_str().unwrap(), "--check-config"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    for component in ["flow", "detect", "enrich", "verdict", "policy", "output"] {
        let line = format!("farhand: {component}: ready: ");
        assert_eq!(out.lines().filter(|l| l.starts_with(&line)).count(), 1, "{component}: {out}");
    }
    assert!(out.contains("18 fingerprints (ssh, rdp, vnc,"), "{out}");
    // A config that switches everything off and has no inside: valid, but two components
    // say why they are degraded, at --check-config and as warnings when a run starts.
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("off.toml");
    std::fs::write(&cfg, "[sensor]\nworkers = 2\nhome_networks = []\n[detect]\nfingerprints = []\n").unwrap();
    let o = farhand(&["-c", cfg.to_str().unwrap(), "--check-config"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("farhand: detect: degraded: 2 workers; no fingerprints"), "{out}");
    assert!(out.contains("farhand: verdict: degraded: 0 inside networks;"), "{out}");
    let o = farhand(&["-c", cfg.to_str().unwrap(), "--demo", "-q"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
    let warnings: Vec<_> =
        stderr(&o).lines().filter(|l| l.starts_with("farhand: warning: ")).map(str::to_owned).collect();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings[0].contains("detect: degraded") && warnings[1].contains("verdict: degraded"), "{warnings:?}");
}

#[test]
fn enrich_databases_missing_corrupt_and_partial() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("geo.toml");
    // Missing: one line naming the file, exit 2, nothing run.
    std::fs::write(&cfg, "[enrich]\ncountry_db = \"nowhere/country.mmdb\"\n").unwrap();
    let o = farhand(&["-c", cfg.to_str().unwrap(), "--demo"]);
    assert_eq!(o.status.code(), Some(2));
    one_clear_line(&o, "country.mmdb: cannot read");
    assert!(o.stdout.is_empty());
    // Corrupt: a truncated MaxMind DB (the metadata section cut off).
    let good = std::fs::read(repo().join("../shared/geo/geo-whois-asn-country.mmdb")).unwrap_or_default();
    let db = dir.path().join("country.mmdb");
    std::fs::write(&db, good.get(..good.len() / 2).unwrap_or(b"MMDB?")).unwrap();
    std::fs::write(&cfg, "[enrich]\ncountry_db = \"country.mmdb\"\n").unwrap();
    let o = farhand(&["-c", cfg.to_str().unwrap(), "--check-config"]);
    assert_eq!(o.status.code(), Some(2));
    one_clear_line(&o, "country.mmdb: neither a MaxMind DB nor a country CSV");
    // Only an ASN table: runs, and says what is missing once, as a warning.
    std::fs::write(dir.path().join("asn.csv"), "1.1.1.0,1.1.1.255,13335,Cloudflare\n").unwrap();
    std::fs::write(&cfg, "[enrich]\nasn_db = [\"asn.csv\"]\n").unwrap();
    let o = farhand(&["-c", cfg.to_str().unwrap(), "--demo", "-q"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let warnings: Vec<_> =
        stderr(&o).lines().filter(|l| l.starts_with("farhand: warning: ")).map(str::to_owned).collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("enrich: degraded: no country database"), "{warnings:?}");
}

#[test]
fn unwritable_output() {
    let o = farhand(&["--demo", "-o", "/nonexistent-dir/alerts.jsonl"]);
    assert_eq!(o.status.code(), Some(1));
    one_clear_line(&o, "/nonexistent-dir/alerts.jsonl");
}

#[test]
fn demo_alerts_and_summary() {
    // From a directory with nothing of the repository in it: the capture, the configuration
    // and the databases are all built in.
    let elsewhere = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_farhand")).arg("--demo").current_dir(elsewhere.path()).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    let alerts: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).expect("JSON line")).collect();
    // Every alert names the controller's country, AS and organisation (the demo's databases:
    // 157.90.0.0/16 is Hetzner Online GmbH, AS24940, Germany) and the demo's observer name.
    assert_eq!(alerts.len(), 11, "{out}");
    for a in &alerts {
        let peer = &a["unmapped"]["farhand"]["peer"];
        assert_eq!(peer["ip"], "157.90.0.66", "{a}");
        assert_eq!(peer["country"], "DE", "{a}");
        assert_eq!(peer["asn"], 24940, "{a}");
        assert_eq!(peer["org"], "Hetzner Online GmbH", "{a}");
        assert_eq!(a["source"]["geo"]["country_iso_code"], "DE", "{a}");
        assert_eq!(a["source"]["as"]["number"], 24940, "{a}");
        assert_eq!(a["observer"]["hostname"], "farhand-demo", "{a}");
    }
    let kind = |a: &serde_json::Value| a["unmapped"]["farhand"]["kind"].as_str().unwrap().to_string();
    let mut tools: Vec<&str> = alerts
        .iter()
        .filter(|a| kind(a) == "remote_control_session")
        .map(|a| a["unmapped"]["farhand"]["tool"].as_str().unwrap())
        .collect();
    tools.sort();
    assert_eq!(tools, ["rdp", "ssh", "vnc"]);
    assert_eq!(alerts.iter().filter(|a| kind(a) == "multiple_remote_tools").count(), 2);
    // The demo's policy (home country US) makes every session one from abroad, and the
    // laptop's episode is reported once and updated twice under one id.
    assert_eq!(alerts.iter().filter(|a| kind(a) == "remote_control_from_abroad").count(), 3);
    let episodes: Vec<&serde_json::Value> = alerts.iter().filter(|a| kind(a) == "remote_control_episode").collect();
    assert_eq!(episodes.len(), 3);
    assert!(episodes.iter().all(|e| e["finding_info"]["uid"] == episodes[0]["finding_info"]["uid"]));
    let e = stderr(&o);
    assert!(e.contains("packets") && e.contains("3 sessions, 11 alerts") && e.contains("Mpps"), "{e}");
    // Same alerts through a file and with several workers.
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("a.jsonl");
    let o = farhand(&["--demo", "-q", "--workers", "3", "-o", f.to_str().unwrap()]);
    assert!(o.status.success());
    assert!(o.stderr.is_empty(), "-q must print nothing: {}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&f).unwrap().lines().count(), 11);
}

/// The quick start in README.md shows the demo's alerts, one line each through a `jq`
/// projection; they are what the binary prints.
#[test]
fn readme_quick_start_shows_the_demo_output() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let mut lines = readme.lines().skip_while(|l| !l.starts_with("$ scripts/demo.sh -q | jq -c '["));
    let command = lines.next().expect("README.md: the quick start's demo output block");
    let shown: Vec<&str> = lines.take_while(|l| !l.starts_with("```")).collect();
    // The projection the README's jq command makes: its paths, in order.
    let paths: Vec<&str> = command
        .split_once("'[")
        .and_then(|(_, rest)| rest.split_once("]'"))
        .unwrap()
        .0
        .split(',')
        .map(|p| p.trim().trim_start_matches('.'))
        .collect();
    let o = farhand(&["--demo", "-q"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let printed: Vec<String> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| {
            let a: serde_json::Value = serde_json::from_str(l).unwrap();
            let row: Vec<serde_json::Value> =
                paths.iter().map(|p| p.split('.').fold(&a, |v, k| &v[k]).clone()).collect();
            serde_json::to_string(&row).unwrap()
        })
        .collect();
    assert_eq!(shown, printed, "README.md's quick start output differs from `farhand --demo`");
}

#[test]
fn demo_configuration_check_and_override() {
    // --demo --check-config: the demo's built-in configuration, its databases and policy.
    let o = farhand(&["--demo", "--check-config"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.first(), Some(&"farhand: config/demo/farhand.toml (the demo's, built in): ok"), "{out}");
    let enrich = lines.iter().find(|l| l.starts_with("farhand: enrich: ")).unwrap();
    assert!(enrich.starts_with("farhand: enrich: ready: country config/demo/country.mmdb"), "{enrich}");
    assert!(enrich.ends_with("built into farhand, never reloaded"), "{enrich}");
    let policy = lines.iter().find(|l| l.starts_with("farhand: policy: ")).unwrap();
    assert!(policy.contains("home countries US;"), "{policy}");
    assert!(policy.contains("forbidden: vnc"), "{policy}");
    assert!(policy.contains("business hours 09:00-17:00 mon-fri in America/New_York"), "{policy}");
    // --check-config needs something to check.
    let o = farhand(&["--check-config"]);
    assert_eq!(o.status.code(), Some(2));
    // --demo -c FILE: FILE, not the demo's configuration (the shipped defaults have no
    // databases: no country).
    let shipped = repo().join("config/farhand.toml");
    let o = farhand(&["--demo", "-q", "-c", shipped.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(out.lines().count(), 5, "{out}");
    for l in out.lines() {
        let a: serde_json::Value = serde_json::from_str(l).unwrap();
        assert_eq!(a["unmapped"]["farhand"]["peer"]["class"], "public", "{a}");
        assert!(a["unmapped"]["farhand"]["peer"].get("country").is_none_or(|c| c.is_null()), "{a}");
    }
    let o = farhand(&["--demo", "--check-config", "-c", shipped.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).starts_with(&format!("farhand: {}: ok\n", shipped.display())));
}

#[test]
fn lolrmm_import_and_indicator_check() {
    let shared = common::shared();
    let cat = shared.join("lolrmm/rmm_tools.json");
    if !cat.is_file() {
        common::skip_unless_ci("lolrmm import", &cat, "shared data");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("lolrmm.toml");
    let o = farhand(&["indicators", "import-lolrmm", cat.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("domain patterns"), "{}", stderr(&o));
    let o = farhand(&["indicators", "check", dir.path().to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    // A broken indicator file is refused with its file, line and key.
    std::fs::write(dir.path().join("zz-bad.toml"), "[[tool]]\nname = \"x\"\ndomians = []\n").unwrap();
    let o = farhand(&["indicators", "check", dir.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    one_clear_line(&o, "zz-bad.toml:3:1");
    let o = farhand(&["indicators", "import-lolrmm", "/nonexistent.json"]);
    assert_eq!(o.status.code(), Some(1));
    one_clear_line(&o, "/nonexistent.json");
}

#[test]
fn operator_address_ranges_attribute_flows() {
    let shared = common::shared();
    let pcap = shared.join("corpus/circumvention/ultrasurf.pcap");
    if !pcap.is_file() {
        common::skip_unless_ci("address ranges", &pcap, "shared corpus");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ind = dir.path().join("indicators");
    std::fs::create_dir(&ind).unwrap();
    // An operator-supplied server list for a circumvention tool (here: the address the
    // capture's client talks to). Two of its three connections are TLS 1.3 without a server
    // name: nothing in them names the tool; the third opens with UltraSurf's constant.
    std::fs::write(
        ind.join("servers.toml"),
        "[[tool]]\nname = \"ultrasurf-servers\"\ntitle = \"UltraSurf servers\"\ncategory = \"tunnel\"\ncidrs = [\"65.49.68.25/32\"]\n",
    )
    .unwrap();
    let cfg = dir.path().join("farhand.toml");
    std::fs::write(&cfg, "[detect]\nindicators_dir = \"indicators\"\n").unwrap();
    let o = farhand(&["-c", cfg.to_str().unwrap(), "-q", "-r", pcap.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let alerts: Vec<serde_json::Value> =
        String::from_utf8_lossy(&o.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let tool = |a: &serde_json::Value| a["unmapped"]["farhand"]["tool"].as_str().unwrap_or_default().to_string();
    let hits: Vec<&serde_json::Value> = alerts.iter().filter(|a| tool(a) == "ultrasurf-servers").collect();
    assert_eq!(hits.len(), 2, "{alerts:#?}");
    for h in &hits {
        assert_eq!(h["unmapped"]["farhand"]["kind"], "anonymizing_tunnel");
        assert_eq!(h["unmapped"]["farhand"]["fingerprint"]["field"], "address");
    }
    // Without the file, only the structural match remains.
    let o = farhand(&["-q", "-r", pcap.to_str().unwrap()]);
    let alone: Vec<String> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| tool(&serde_json::from_str::<serde_json::Value>(l).unwrap()))
        .collect();
    assert_eq!(alone, ["ultrasurf"]);
}

/// The AS number and organisation the database at `db` gives `addr` (None: no record).
fn asn_of(db: &maxminddb::Reader<Vec<u8>>, addr: &str) -> Option<(u32, String)> {
    let a: maxminddb::geoip2::Asn = db.lookup(addr.parse().unwrap()).unwrap().decode().unwrap()?;
    Some((a.autonomous_system_number.unwrap(), a.autonomous_system_organization.unwrap_or_default().to_string()))
}

#[test]
fn geo_import_asn_builds_a_database_of_the_ranges() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let v4 = dir.path().join("v4.csv");
    std::fs::write(
        &v4,
        "1.0.0.0,1.0.0.255,13335,\"Cloudflare, Inc.\"\n\
         2.26.200.0,2.26.215.255,201907,\"LLC \"\"SPUTNIK\"\"\"\n\
         80.12.80.0,80.12.95.255,3215,Orange S.A.\n\
         80.12.84.0,80.12.84.255,64512,\n",
    )
    .unwrap();
    let v6 = dir.path().join("v6.csv.gz");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(b"2001:200::,2001:200:1b9:ffff:ffff:ffff:ffff:ffff,2500,WIDE Project\r\n").unwrap();
    std::fs::write(&v6, gz.finish().unwrap()).unwrap();
    let out = dir.path().join("asn.mmdb");
    let o = farhand(&["geo", "import-asn", v4.to_str().unwrap(), v6.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let size = std::fs::metadata(&out).unwrap().len();
    // 2.26.200.0–2.26.215.255 is two /21s; the WIDE range six blocks.
    assert_eq!(
        stderr(&o),
        format!(
            "farhand: imported 5 ranges from 2 files as 11 networks (5 distinct AS records): {}, {:.1} MB\n",
            out.display(),
            size as f64 / 1e6
        )
    );
    let db = maxminddb::Reader::open_readfile(&out).unwrap();
    db.verify().unwrap();
    assert_eq!(db.metadata().database_type, "GeoLite2-ASN");
    assert_eq!(db.metadata().ip_version, 6);
    assert_eq!(asn_of(&db, "1.0.0.1"), Some((13335, "Cloudflare, Inc.".into())));
    assert_eq!(asn_of(&db, "2.26.215.255"), Some((201907, "LLC \"SPUTNIK\"".into())));
    assert_eq!(asn_of(&db, "80.12.95.1"), Some((3215, "Orange S.A.".into())));
    // A more specific range inside another keeps its own AS; an empty organisation is absent.
    assert_eq!(asn_of(&db, "80.12.84.7"), Some((64512, String::new())));
    assert_eq!(asn_of(&db, "2001:200:1b9::1"), Some((2500, "WIDE Project".into())));
    for miss in ["1.0.1.0", "2.26.216.0", "2001:200:1ba::", "10.0.0.1"] {
        assert_eq!(asn_of(&db, miss), None, "{miss}");
    }
}

#[test]
fn geo_import_asn_refuses_bad_input_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "1.0.0.0,1.0.0.255,13335,x\n1.0.4.0,1.0.3.255,38803,y\n").unwrap();
    let out = dir.path().join("asn.mmdb");
    let o = farhand(&["geo", "import-asn", bad.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    one_clear_line(&o, "bad.csv: line 2: last_ip 1.0.3.255 is before first_ip 1.0.4.0");
    assert!(!out.exists(), "no database is written from bad input");
    let o = farhand(&["geo", "import-asn", "/nonexistent/asn.csv", "-o", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    one_clear_line(&o, "/nonexistent/asn.csv: cannot read");
    let o = farhand(&["geo", "import-asn", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "-o is required");
    let o = farhand(&["geo", "import-asn", "-o", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "a CSV is required");
    let good = dir.path().join("good.csv");
    std::fs::write(&good, "1.0.0.0,1.0.0.255,13335,x\n").unwrap();
    let o = farhand(&["geo", "import-asn", good.to_str().unwrap(), "-o", "/nonexistent/dir/asn.mmdb"]);
    assert_eq!(o.status.code(), Some(1));
    one_clear_line(&o, "/nonexistent/dir/asn.mmdb: cannot write");
}

/// The country the database at `db` gives `addr`, read both ways: GeoIP2's
/// `country.iso_code` and the flat `country_code` (None: no record).
fn country_of(db: &maxminddb::Reader<Vec<u8>>, addr: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Flat {
        country_code: String,
    }
    let ip: std::net::IpAddr = addr.parse().unwrap();
    let geoip2: Option<maxminddb::geoip2::Country> = db.lookup(ip).unwrap().decode().unwrap();
    let flat: Option<Flat> = db.lookup(ip).unwrap().decode().unwrap();
    let iso = geoip2.and_then(|c| c.country.iso_code.map(str::to_string));
    assert_eq!(iso, flat.as_ref().map(|f| f.country_code.clone()), "{addr}: both schemas agree");
    iso
}

#[test]
fn geo_import_country_builds_a_database_of_the_ranges() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let v4 = dir.path().join("country-ipv4.csv");
    std::fs::write(
        &v4,
        "1.0.0.0,1.0.0.255,AU\n1.0.1.0,1.0.3.255,cn\n1.0.4.0,1.0.7.255,ZZ\n80.12.80.0,80.12.95.255,FR\n\
         80.12.84.0,80.12.84.255,RE\n",
    )
    .unwrap();
    let v6 = dir.path().join("country-ipv6.csv.gz");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(b"2001:200::,2001:200:1b9:ffff:ffff:ffff:ffff:ffff,JP\r\n").unwrap();
    std::fs::write(&v6, gz.finish().unwrap()).unwrap();
    let out = dir.path().join("country.mmdb");
    let o =
        farhand(&["geo", "import-country", v4.to_str().unwrap(), v6.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let size = std::fs::metadata(&out).unwrap().len();
    // FR is split around RE: 80.12.80.0/22, 80.12.85.0/24, 80.12.86.0/23, 80.12.88.0/21; CN
    // is 1.0.1.0/24 + 1.0.2.0/23; JP six blocks.
    assert_eq!(
        stderr(&o),
        format!(
            "farhand: imported 6 ranges from 2 files (1 without a country skipped, 1 overlap resolved) as 14 networks \
             of 5 countries: {}, {:.1} MB\n",
            out.display(),
            size as f64 / 1e6
        )
    );
    let db = maxminddb::Reader::open_readfile(&out).unwrap();
    db.verify().unwrap();
    assert_eq!(db.metadata().database_type, "GeoLite2-Country");
    assert_eq!(db.metadata().ip_version, 6);
    for (addr, want) in [
        ("1.0.0.1", Some("AU")),
        ("1.0.3.255", Some("CN")),
        ("80.12.83.255", Some("FR")),
        ("80.12.84.7", Some("RE")),
        ("80.12.85.0", Some("FR")),
        ("2001:200:1b9::1", Some("JP")),
        ("1.0.4.1", None),
        ("1.0.8.0", None),
        ("80.12.96.0", None),
        ("2001:200:1ba::", None),
        ("10.0.0.1", None),
    ] {
        assert_eq!(country_of(&db, addr).as_deref(), want, "{addr}");
    }
    let o = farhand(&["geo", "import-country", "--help"]);
    assert!(o.status.success());
    let help = String::from_utf8_lossy(&o.stdout);
    assert!(help.contains("first_ip,last_ip,country_code") && help.contains("--output <FILE>"), "{help}");
}

#[test]
fn geo_import_country_refuses_bad_input_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "1.0.0.0,1.0.0.255,AU\n1.0.4.0,1.0.7.255,AUS\n").unwrap();
    let out = dir.path().join("country.mmdb");
    let o = farhand(&["geo", "import-country", bad.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    one_clear_line(&o, "bad.csv: line 2: country_code \"AUS\" is not two letters (ISO 3166-1 alpha-2)");
    assert!(!out.exists(), "no database is written from bad input");
    // An ASN table is not a country table.
    let asn = dir.path().join("asn.csv");
    std::fs::write(&asn, "1.0.0.0,1.0.0.255,13335,Cloudflare\n").unwrap();
    let o = farhand(&["geo", "import-country", asn.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    one_clear_line(&o, "asn.csv: line 1: 4 fields, expected 3");
    let o = farhand(&["geo", "import-country", "/nonexistent/country.csv", "-o", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    one_clear_line(&o, "/nonexistent/country.csv: cannot read");
    let o = farhand(&["geo", "import-country", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "-o is required");
    let good = dir.path().join("good.csv");
    std::fs::write(&good, "1.0.0.0,1.0.0.255,AU\n").unwrap();
    let o = farhand(&["geo", "import-country", good.to_str().unwrap(), "-o", "/nonexistent/dir/country.mmdb"]);
    assert_eq!(o.status.code(), Some(1));
    one_clear_line(&o, "/nonexistent/dir/country.mmdb: cannot write");
    assert!(!out.exists());
}

#[test]
fn geo_import_asn_of_the_shared_ipv4_table() {
    let csv = common::shared().join("geo/asn-ipv4.csv.gz");
    if !csv.is_file() {
        common::skip_unless_ci("geo import-asn of the shared table", &csv, "shared data");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("asn.mmdb");
    let started = std::time::Instant::now();
    let o = farhand(&["geo", "import-asn", csv.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    eprintln!("geo import-asn of {}: {:.1} s", csv.display(), started.elapsed().as_secs_f64());
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).starts_with("farhand: imported 411,961 ranges from 1 file as "), "{}", stderr(&o));
    let db = maxminddb::Reader::open_readfile(&out).unwrap();
    for (addr, want) in [
        ("1.1.1.1", Some((13335, "Cloudflare, Inc."))),
        ("8.8.8.8", Some((15169, "Google LLC"))),
        ("9.9.9.9", Some((19281, "Quad9"))),
        ("80.12.80.1", Some((3215, "Orange S.A."))),
        ("80.12.72.255", Some((37037, "Orange Madagascar"))),
        ("2.26.200.0", Some((201907, "LLC \"SPUTNIK\""))),
        ("223.255.254.255", Some((55415, "Marina Bay Sands Pte Ltd"))),
        ("1.0.1.0", None),
        ("10.0.0.1", None),
        ("192.168.1.1", None),
    ] {
        assert_eq!(asn_of(&db, addr), want.map(|(n, o)| (n, o.to_string())), "{addr}");
    }
}

#[test]
fn indicator_check_counts_owners_and_refuses_bad_address_lists() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("tor-exits.txt"),
        "ExitNode 0011BD2485AD45D984EC4159C88FC066E5E3300E\nPublished 2026-01-01 10:00:00\n\
         LastStatus 2026-01-01 11:00:00\nExitAddress 198.51.100.7 2026-01-01 11:05:14\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("local.toml"),
        "[[owner]]\nname = \"Tor exits\"\nkind = \"tor_exit\"\naddresses_file = \"tor-exits.txt\"\n",
    )
    .unwrap();
    let o = farhand(&["indicators", "check", dir.path().to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains(" owners: ") && e.contains("1 tor_exit") && e.contains("0 residential_proxy"), "{e}");
    // A malformed line of the operator's list is refused with its own file, line and column.
    std::fs::write(dir.path().join("tor-exits.txt"), "198.51.100.7\n198.51.100.300\n").unwrap();
    let o = farhand(&["indicators", "check", dir.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    one_clear_line(&o, "tor-exits.txt:2:1: owner.addresses_file");
}
