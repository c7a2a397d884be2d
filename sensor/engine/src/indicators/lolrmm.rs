//! Importer for the public LOLRMM catalogue of remote-management tools
//! (`rmm_tools.json`, the format its API serves): every tool's network domains (wildcards
//! kept) and ports become an indicator file, tagged with the tool's name.
//!
//! # Contract
//! - Input: the catalogue JSON (a list of tools with `Name`, `Category` and
//!   `Artifacts.Network[].{Domains, Ports}`); other fields are ignored.
//! - Domain entries are normalised (scheme, path and `:port` removed; regex character
//!   classes such as `[a-f0-9]{8}` become `*`) and kept only if they then form a valid
//!   pattern ([`super::Indicators`] rules); the rest (`user_managed`, placeholders) are
//!   counted in [`ImportStats::skipped_domains`].
//! - Tools farhand has a fingerprint for are written under the built-in name (`AnyDesk` →
//!   `anydesk`), so names and fingerprints attribute to the same tool; the others get a
//!   lower-case slug of their name and category `remote_control`.
//! - The output is the operator's data (it is not committed to the repository); it loads
//!   with the same validation as any indicator file.

use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Deserialize)]
struct RawTool {
    #[serde(rename = "Name", default)]
    name: String,
    #[serde(rename = "Artifacts", default)]
    artifacts: RawArtifacts,
}

#[derive(Debug, Default, Deserialize)]
struct RawArtifacts {
    #[serde(rename = "Network", default)]
    network: Option<Vec<RawNetwork>>,
}

#[derive(Debug, Deserialize)]
struct RawNetwork {
    #[serde(rename = "Domains", default)]
    domains: Option<Vec<serde_json::Value>>,
    #[serde(rename = "Ports", default)]
    ports: Option<Vec<serde_json::Value>>,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportStats {
    /// Tools in the catalogue.
    pub tools_in: usize,
    /// Tools written (with at least one domain or port).
    pub tools_out: usize,
    /// Domain patterns written.
    pub domains: usize,
    /// Domain entries that were not usable patterns.
    pub skipped_domains: usize,
    /// Ports written.
    pub ports: usize,
}

/// Why the catalogue could not be imported.
#[derive(Debug, thiserror::Error)]
#[error("not a LOLRMM rmm_tools.json catalogue: {0}")]
pub struct ImportError(String);

/// Catalogue names of tools farhand has a fingerprint or built-in indicators for.
const BUILTIN_NAMES: &[(&str, &str)] = &[
    ("anydesk", "anydesk"),
    ("teamviewer", "teamviewer"),
    ("rustdesk", "rustdesk"),
    ("splashtop", "splashtop"),
    ("splashtop remote", "splashtop"),
    ("splashtop (beta)", "splashtop"),
    ("screenconnect", "screenconnect"),
    ("connectwise control", "screenconnect"),
    ("logmein", "logmein"),
    ("logmein rescue", "logmein"),
    ("gotoassist", "logmein"),
    ("gotomypc", "logmein"),
    ("zoho assist", "zoho_assist"),
    ("nomachine", "nomachine"),
    ("radmin", "radmin"),
    ("parsec", "parsec"),
    ("chrome remote desktop", "chrome_remote_desktop"),
    ("ngrok", "ngrok"),
    ("tailscale", "tailscale"),
    ("cloudflare tunnel", "cloudflared"),
];

/// Lower-case slug of a tool name: letters and digits, other runs become `-`.
pub fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    out.truncate(64);
    out
}

/// Normalises one catalogue domain entry into a pattern, or `None` if it is not one.
pub fn normalise_domain(entry: &str) -> Option<String> {
    let mut s = entry.trim().to_ascii_lowercase();
    for scheme in ["https://", "http://", "wss://", "ws://"] {
        if let Some(rest) = s.strip_prefix(scheme) {
            s = rest.to_string();
        }
    }
    if let Some(i) = s.find('/') {
        s.truncate(i);
    }
    if let Some((host, port)) = s.rsplit_once(':')
        && !port.is_empty()
        && port.chars().all(|c| c.is_ascii_digit())
    {
        s = host.to_string();
    }
    // Regex character classes with a repeat ([a-f0-9]{8}, [0-9]+) become a glob.
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '[' {
            for d in chars.by_ref() {
                if d == ']' {
                    break;
                }
            }
            match chars.peek() {
                Some('{') => {
                    for d in chars.by_ref() {
                        if d == '}' {
                            break;
                        }
                    }
                }
                Some('+') | Some('*') => {
                    chars.next();
                }
                _ => {}
            }
            if !out.ends_with('*') {
                out.push('*');
            }
        } else {
            out.push(c);
        }
    }
    super::check_pattern(&out).ok()
}

fn quote(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// Converts catalogue JSON into indicator-file TOML.
pub fn import(json: &str, origin: &str) -> Result<(String, ImportStats), ImportError> {
    let tools: Vec<RawTool> = serde_json::from_str(json).map_err(|e| ImportError(e.to_string()))?;
    let mut stats = ImportStats { tools_in: tools.len(), ..ImportStats::default() };
    // name -> (title, domains, ports); BTreeMap keeps the output stable and merges tools
    // that map to one built-in name.
    let mut by_name: BTreeMap<String, (String, Vec<String>, Vec<u16>)> = BTreeMap::new();
    for t in &tools {
        let lower = t.name.trim().to_ascii_lowercase();
        let name = BUILTIN_NAMES
            .iter()
            .find(|(n, _)| *n == lower)
            .map(|(_, b)| (*b).to_string())
            .unwrap_or_else(|| slug(&t.name));
        if name.is_empty() {
            continue;
        }
        let entry = by_name.entry(name).or_insert_with(|| (t.name.trim().to_string(), Vec::new(), Vec::new()));
        for n in t.artifacts.network.iter().flatten() {
            for d in n.domains.iter().flatten() {
                match d.as_str().and_then(normalise_domain) {
                    Some(p) if !entry.1.contains(&p) => entry.1.push(p),
                    Some(_) => {}
                    None => stats.skipped_domains += 1,
                }
            }
            for p in n.ports.iter().flatten() {
                let port = p.as_u64().or_else(|| p.as_str().and_then(|s| s.trim().parse().ok()));
                if let Some(port) = port.and_then(|v| u16::try_from(v).ok())
                    && port != 0
                    && !entry.2.contains(&port)
                {
                    entry.2.push(port);
                }
            }
        }
    }
    let mut out = String::new();
    out.push_str("# farhand indicators imported from the LOLRMM catalogue by `farhand indicators import-lolrmm`.\n");
    out.push_str(&format!("# Input: {origin}. Regenerate rather than edit.\n"));
    out.push_str(&format!("source = {}\n", quote("lolrmm")));
    for (name, (title, domains, ports)) in &by_name {
        if domains.is_empty() && ports.is_empty() {
            continue;
        }
        stats.tools_out += 1;
        stats.domains += domains.len();
        stats.ports += ports.len();
        out.push_str("\n[[tool]]\n");
        out.push_str(&format!("name = {}\n", quote(name)));
        out.push_str(&format!("title = {}\n", quote(title)));
        if !domains.is_empty() {
            let list: Vec<String> = domains.iter().map(|d| quote(d)).collect();
            out.push_str(&format!("domains = [{}]\n", list.join(", ")));
        }
        if !ports.is_empty() {
            let list: Vec<String> = ports.iter().map(u16::to_string).collect();
            out.push_str(&format!("ports = [{}]\n", list.join(", ")));
        }
    }
    Ok((out, stats))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::Indicators;
    use std::path::Path;

    #[test]
    fn normalisation() {
        assert_eq!(
            normalise_domain("relay-[a-f0-9]{8}.net.anydesk.com:443").as_deref(),
            Some("relay-*.net.anydesk.com")
        );
        assert_eq!(normalise_domain("https://Example.COM/path?q").as_deref(), Some("example.com"));
        assert_eq!(normalise_domain("*.rmm.example").as_deref(), Some("*.rmm.example"));
        assert_eq!(normalise_domain("user_managed"), None);
        assert_eq!(normalise_domain("<operator-configured server>"), None);
        assert_eq!(normalise_domain("*.com"), None);
        assert_eq!(slug("LabTech RMM (Now ConnectWise Automate)"), "labtech-rmm-now-connectwise-automate");
    }

    #[test]
    fn small_catalogue_round_trip() {
        let json = r#"[
          {"Name": "AnyDesk", "Category": "RMM", "Artifacts": {"Network": [{"Domains": ["*.anydesk.com", "user_managed"], "Ports": [7070, "6568"]}]}},
          {"Name": "Acme Remote", "Category": "RAT", "Artifacts": {"Network": [{"Domains": ["relay-[0-9]+.acme-remote.example"], "Ports": []}]}},
          {"Name": "Disk Only", "Category": "RMM", "Artifacts": {"Disk": []}}
        ]"#;
        let (text, st) = import(json, "test").unwrap();
        assert_eq!((st.tools_in, st.tools_out, st.domains, st.skipped_domains, st.ports), (3, 2, 2, 1, 2));
        let mut ind = Indicators::default();
        ind.add_text(&text, Path::new("lolrmm.toml")).unwrap();
        assert_eq!(ind.match_name("x.anydesk.com").unwrap().tool.name(), "anydesk");
        let h = ind.match_name("relay-42.acme-remote.example").unwrap();
        assert_eq!((h.tool.name(), h.tool.title(), h.source.as_ref()), ("acme-remote", "Acme Remote", "lolrmm"));
        assert!(import("{\"not\": \"a list\"}", "x").is_err());
    }

    #[test]
    fn the_shared_catalogue_imports_and_attributes_names() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/lolrmm/rmm_tools.json");
        let Ok(json) = std::fs::read_to_string(&path) else {
            eprintln!("SKIP lolrmm import: {} not found (the shared data is absent)", path.display());
            return;
        };
        let (text, st) = import(&json, "shared").unwrap();
        assert!(st.tools_out >= 200, "{st:?}");
        assert!(st.domains >= 600, "{st:?}");
        let mut ind = Indicators::builtin();
        ind.add_text(&text, Path::new("lolrmm.toml")).unwrap();
        // Every catalogued pattern without a wildcard attributes to its tool (or a built-in
        // tool with a more specific pattern for the same name).
        let mut checked = 0;
        for line in text.lines().filter(|l| l.starts_with("domains = ")) {
            for d in line.trim_start_matches("domains = [").trim_end_matches(']').split(", ") {
                let d = d.trim_matches('"');
                if d.contains('*') {
                    continue;
                }
                assert!(ind.match_name(d).is_some(), "{d} not attributed");
                checked += 1;
            }
        }
        assert!(checked >= 300, "{checked}");
        for (name, tool) in [("x.anydesk.com", "anydesk"), ("relay-0a1b2c3d.net.anydesk.com", "anydesk")] {
            assert_eq!(ind.match_name(name).unwrap().tool.name(), tool, "{name}");
        }
    }
}
