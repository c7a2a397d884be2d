//! Indicators: analyst-maintained data that names tools — domain patterns, certificate
//! names, ALPN prefixes, ports — loaded from `config/indicators/*.toml` at start.
//!
//! # Contract
//! - An indicator file is TOML: an optional `source` and any number of `[[tool]]` tables
//!   (`name`, optional `title` and `category`, `domains`, `cert_names`, `alpn`,
//!   `user_agents`, `cidrs`, `hostnames`, `ports`, `note`). `cidrs` are address ranges (a relay list,
//!   a provider's ranges): a flow to them that nothing else explains is attributed to the
//!   tool.
//!   Unknown keys and malformed values are errors naming the file, line, column and key;
//!   a bad file is refused whole.
//! - `name` is a built-in tool name (`anydesk`, `teamviewer`, ...) or, for catalogued
//!   tools without a built-in fingerprint, any name: those become [`ToolRef::Listed`].
//! - Domain patterns: `example.com` matches the name and its subdomains; `*.example.com`
//!   matches subdomains only; `*` inside a label globs within that label
//!   (`relay-*.net.anydesk.com`, `plus*.site24x7.com`). Matching is case-insensitive and
//!   costs one hash lookup per label of the looked-up name plus the glob checks of the
//!   patterns filed under the matching suffix.
//! - The built-in file ([`BUILTIN`], also shipped as `config/indicators/builtin.toml`) is
//!   always loaded first; files in the indicator directory add to it.
//! - Ports are carried as data for reports; they never decide a detection on their own.

pub mod lolrmm;
use farhand_model::ConfigError;
use farhand_model::tool::{Category, Tool};
use serde::Deserialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use toml::Spanned;

/// The built-in indicator file (facts from the vendors' and public catalogues' documentation).
pub const BUILTIN: &str = include_str!("../../../../config/indicators/builtin.toml");

/// Longest domain pattern or name considered (RFC 1035: 253 characters).
pub const MAX_NAME: usize = 253;

/// A tool an indicator names: a built-in one or a catalogued name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ToolRef {
    /// A tool farhand knows.
    Builtin(Tool),
    /// A tool known only by name from an indicator file.
    Listed {
        /// Stable lower-case name.
        name: Arc<str>,
        /// Display name.
        title: Arc<str>,
        /// What kind of tool.
        category: Category,
    },
}

impl ToolRef {
    /// Stable name.
    pub fn name(&self) -> &str {
        match self {
            ToolRef::Builtin(t) => t.name(),
            ToolRef::Listed { name, .. } => name,
        }
    }

    /// Display name.
    pub fn title(&self) -> &str {
        match self {
            ToolRef::Builtin(t) => t.title(),
            ToolRef::Listed { title, .. } => title,
        }
    }

    /// Category.
    pub fn category(&self) -> Category {
        match self {
            ToolRef::Builtin(t) => t.category(),
            ToolRef::Listed { category, .. } => *category,
        }
    }
}

/// One `[[tool]]` table as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTool {
    name: Spanned<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    category: Option<Spanned<String>>,
    #[serde(default)]
    domains: Vec<Spanned<String>>,
    #[serde(default)]
    cert_names: Vec<String>,
    #[serde(default)]
    alpn: Vec<String>,
    #[serde(default)]
    user_agents: Vec<String>,
    #[serde(default)]
    cidrs: Vec<Spanned<String>>,
    #[serde(default)]
    hostnames: Vec<String>,
    #[serde(default)]
    ports: Vec<u16>,
    #[serde(default)]
    note: Option<String>,
}

/// An indicator file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    tool: Vec<RawTool>,
}

/// A compiled domain pattern.
#[derive(Debug, Clone)]
struct Pattern {
    /// Labels right to left, lower case; may contain `*`.
    labels: Vec<String>,
    /// Leading `*.`: subdomains only.
    subdomains_only: bool,
    tool: usize,
    /// The pattern as written (reported as evidence).
    text: Arc<str>,
}

/// What matched a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameHit {
    /// The tool.
    pub tool: ToolRef,
    /// The pattern that matched.
    pub pattern: Arc<str>,
    /// The file the pattern came from ("builtin" for the built-in file).
    pub source: Arc<str>,
}

/// All loaded indicators, ready for matching. Cheap to share (`Arc`).
#[derive(Debug, Default)]
pub struct Indicators {
    tools: Vec<(ToolRef, Arc<str>)>,
    /// Patterns filed under their rightmost label without a wildcard pair (e.g.
    /// `anydesk.com`) or, for single-label suffixes, that label.
    by_suffix: HashMap<String, Vec<Pattern>>,
    cert_names: Vec<(String, usize)>,
    alpn: Vec<(String, usize)>,
    user_agents: Vec<(String, usize)>,
    hostnames: Vec<(String, usize)>,
    /// Address ranges (relay lists, provider ranges), sorted by (family, start) for binary
    /// search: `(start, end, tool)` over 128-bit keys (IPv4 mapped into IPv6).
    cidrs: Vec<(u128, u128, usize)>,
    ports: HashMap<u16, Vec<usize>>,
    patterns: usize,
}

fn err(file: &Path, text: &str, span: std::ops::Range<usize>, msg: String) -> ConfigError {
    let before = text.get(..span.start).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map(|l| l.chars().count()).unwrap_or(0) + 1;
    ConfigError { file: file.to_path_buf(), line, col, msg }
}

fn category_of(s: &str) -> Option<Category> {
    Some(match s {
        "remote_control" => Category::RemoteControl,
        "relay" => Category::Relay,
        "vpn" => Category::Vpn,
        "tunnel" => Category::Tunnel,
        "proxy" => Category::Proxy,
        _ => return None,
    })
}

/// Checks a domain pattern: labels of letters, digits, `-`, `_` and `*`; returns it lower-cased.
fn check_pattern(p: &str) -> Result<String, String> {
    let p = p.trim().trim_end_matches('.').to_ascii_lowercase();
    if p.is_empty() || p.len() > MAX_NAME {
        return Err("empty or longer than 253 characters".into());
    }
    let labels: Vec<&str> = p.split('.').collect();
    if labels.len() < 2 {
        return Err("needs at least two labels (like example.com)".into());
    }
    for l in &labels {
        if l.is_empty() || l.len() > 63 {
            return Err(format!("bad label {l:?}"));
        }
        if !l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '*') {
            return Err(format!("label {l:?} has characters a domain cannot have"));
        }
    }
    // The last two labels must be literal: no catch-all patterns like *.com.
    if labels.iter().rev().take(2).any(|l| l.contains('*')) {
        return Err("the last two labels must not contain '*'".into());
    }
    Ok(p)
}

/// Glob match of one label (`*` = any run of characters).
fn glob(pat: &str, s: &str) -> bool {
    let Some((first, rest)) = pat.split_once('*') else { return pat == s };
    let Some(mut s) = s.strip_prefix(first) else { return false };
    let mut parts = rest.split('*').peekable();
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            return s.len() >= part.len() && s.ends_with(part);
        }
        match s.find(part) {
            Some(i) => s = s.get(i + part.len()..).unwrap_or_default(),
            None => return false,
        }
    }
    true
}

impl Indicators {
    /// The built-in indicators only.
    pub fn builtin() -> Indicators {
        let mut ind = Indicators::default();
        // The built-in file is part of the binary and checked by a test; if it were broken
        // the sensor would still run on its structural fingerprints.
        let _ = ind.add_text(BUILTIN, Path::new("builtin"));
        ind
    }

    /// The built-in indicators plus every `*.toml` file of `dir` (sorted by name), except a
    /// file named `builtin.toml` (the shipped copy of the built-in file).
    pub fn load_dir(dir: &Path) -> Result<Indicators, ConfigError> {
        let mut ind = Indicators::builtin();
        let entries = std::fs::read_dir(dir).map_err(|e| ConfigError {
            file: dir.to_path_buf(),
            line: 0,
            col: 0,
            msg: format!("cannot read the indicator directory: {e}"),
        })?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension().is_some_and(|x| x == "toml") && p.file_name().is_some_and(|n| n != "builtin.toml")
            })
            .collect();
        files.sort();
        for f in files {
            ind.add_file(&f)?;
        }
        Ok(ind)
    }

    /// Adds one indicator file.
    pub fn add_file(&mut self, path: &Path) -> Result<(), ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.to_path_buf(),
            line: 0,
            col: 0,
            msg: format!("cannot read: {e}"),
        })?;
        self.add_text(&text, path)
    }

    /// Adds indicator text; `path` names it in errors and evidence.
    pub fn add_text(&mut self, text: &str, path: &Path) -> Result<(), ConfigError> {
        let raw: RawFile = toml::from_str(text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            let mut ce = err(path, text, span, e.message().trim().replace('\n', " "));
            if e.span().is_none() {
                ce.line = 0;
                ce.col = 0;
            }
            ce
        })?;
        let source: Arc<str> = raw.source.clone().unwrap_or_else(|| path.display().to_string()).into();
        // Validate everything before adding anything: a bad file is refused whole.
        let staged = raw.tool.iter().map(|t| stage(t, path, text)).collect::<Result<Vec<_>, _>>()?;
        for (tool, pats, nets, t) in staged {
            self.add_tool(tool, source.clone(), pats, nets, t);
        }
        Ok(())
    }

    /// Adds one validated tool entry with its domain patterns and networks.
    fn add_tool(&mut self, tool: ToolRef, source: Arc<str>, pats: Vec<String>, nets: Vec<ipnet::IpNet>, t: &RawTool) {
        let idx = self.tools.len();
        self.tools.push((tool, source));
        for p in pats {
            let subdomains_only = p.starts_with("*.");
            let body = p.strip_prefix("*.").unwrap_or(&p);
            let labels: Vec<String> = body.rsplit('.').map(str::to_string).collect();
            let key = suffix_key(&labels);
            self.by_suffix.entry(key).or_default().push(Pattern {
                labels,
                subdomains_only,
                tool: idx,
                text: p.clone().into(),
            });
            self.patterns += 1;
        }
        for c in &t.cert_names {
            self.cert_names.push((c.to_ascii_lowercase(), idx));
        }
        for a in &t.alpn {
            self.alpn.push((a.to_ascii_lowercase(), idx));
        }
        for u in &t.user_agents {
            self.user_agents.push((u.to_ascii_lowercase(), idx));
        }
        for h in &t.hostnames {
            self.hostnames.push((h.to_ascii_lowercase(), idx));
        }
        for n in nets {
            let (lo, hi) = range_of(&n);
            self.cidrs.push((lo, hi, idx));
        }
        self.cidrs.sort_unstable();
        for p in &t.ports {
            self.ports.entry(*p).or_default().push(idx);
        }
        let _ = &t.note;
    }

    /// Whether a loaded indicator file lists a tool of this stable name (built-in or
    /// catalogued), as alerts print it.
    pub fn lists_tool(&self, name: &str) -> bool {
        self.tools.iter().any(|(t, _)| t.name() == name)
    }

    /// Number of tools and domain patterns loaded.
    pub fn counts(&self) -> (usize, usize) {
        (self.tools.len(), self.patterns)
    }

    fn hit(&self, idx: usize, pattern: Arc<str>) -> Option<NameHit> {
        let (tool, source) = self.tools.get(idx)?;
        Some(NameHit { tool: tool.clone(), pattern, source: source.clone() })
    }

    /// The tool a DNS name, SNI or HTTP host belongs to, if any indicator names it. The most
    /// specific pattern (most labels) wins; built-in tools win ties.
    pub fn match_name(&self, name: &str) -> Option<NameHit> {
        if name.is_empty() || name.len() > MAX_NAME {
            return None;
        }
        let lower = name.trim_end_matches('.').to_ascii_lowercase();
        let labels: Vec<&str> = lower.rsplit('.').collect();
        if labels.len() < 2 {
            return None;
        }
        let key =
            format!("{}.{}", labels.get(1).copied().unwrap_or_default(), labels.first().copied().unwrap_or_default());
        let cands = self.by_suffix.get(&key)?;
        let mut best: Option<(&Pattern, usize)> = None;
        for p in cands {
            if p.labels.len() > labels.len() || (p.subdomains_only && p.labels.len() == labels.len()) {
                continue;
            }
            if p.labels.iter().zip(labels.iter()).all(|(pl, l)| glob(pl, l)) {
                let score =
                    p.labels.len() * 2 + usize::from(matches!(self.tools.get(p.tool), Some((ToolRef::Builtin(_), _))));
                if best.is_none_or(|(_, s)| score > s) {
                    best = Some((p, score));
                }
            }
        }
        let (p, _) = best?;
        self.hit(p.tool, p.text.clone())
    }

    /// The tool a certificate subject or issuer name belongs to (case-insensitive equality).
    pub fn match_cert_name(&self, cn: &str) -> Option<NameHit> {
        let lower = cn.to_ascii_lowercase();
        let (n, idx) = self.cert_names.iter().find(|(n, _)| *n == lower)?;
        self.hit(*idx, n.as_str().into())
    }

    /// The tool an ALPN protocol id belongs to (prefix match).
    pub fn match_alpn(&self, alpn: &str) -> Option<NameHit> {
        let lower = alpn.to_ascii_lowercase();
        let (n, idx) = self.alpn.iter().find(|(n, _)| lower.starts_with(n.as_str()))?;
        self.hit(*idx, n.as_str().into())
    }

    /// The tool an HTTP User-Agent belongs to (case-insensitive substring).
    pub fn match_user_agent(&self, ua: &str) -> Option<NameHit> {
        let lower = ua.to_ascii_lowercase();
        let (n, idx) = self.user_agents.iter().find(|(n, _)| lower.contains(n.as_str()))?;
        self.hit(*idx, n.as_str().into())
    }

    /// The tool whose listed address ranges contain `ip` (the narrowest range wins).
    pub fn match_address(&self, ip: std::net::IpAddr) -> Option<NameHit> {
        let k = key_of(ip);
        // Ranges starting at or before k; scan back while they could still contain it
        // (ranges are few per start; nested ranges are rare in indicator data).
        let end = self.cidrs.partition_point(|(lo, _, _)| *lo <= k);
        let (lo, hi, idx) = self
            .cidrs
            .get(..end)?
            .iter()
            .rev()
            .take(64)
            .filter(|(lo, hi, _)| *lo <= k && k <= *hi)
            .min_by_key(|(lo, hi, _)| hi - lo)?;
        let text = range_text(*lo, *hi);
        self.hit(*idx, text.into())
    }

    /// The tool a device's own host name (DHCP, mDNS) belongs to (case-insensitive prefix).
    pub fn match_hostname(&self, name: &str) -> Option<NameHit> {
        let lower = name.to_ascii_lowercase();
        let (n, idx) = self.hostnames.iter().find(|(n, _)| lower.starts_with(n.as_str()))?;
        self.hit(*idx, n.as_str().into())
    }

    /// Tools whose indicator files list this port (informational only).
    pub fn tools_on_port(&self, port: u16) -> Vec<&ToolRef> {
        self.ports
            .get(&port)
            .map(|v| v.iter().filter_map(|i| self.tools.get(*i).map(|(t, _)| t)).collect())
            .unwrap_or_default()
    }
}

fn key_of(ip: std::net::IpAddr) -> u128 {
    match ip {
        std::net::IpAddr::V4(v4) => u128::from(v4.to_ipv6_mapped()),
        std::net::IpAddr::V6(v6) => u128::from(v6),
    }
}

fn range_of(n: &ipnet::IpNet) -> (u128, u128) {
    (key_of(n.network()), key_of(n.broadcast()))
}

fn range_text(lo: u128, hi: u128) -> String {
    let ip = |k: u128| {
        let v6 = std::net::Ipv6Addr::from(k);
        v6.to_ipv4_mapped().map_or(v6.to_string(), |v4| v4.to_string())
    };
    format!("{}-{}", ip(lo), ip(hi))
}

/// The last two labels (right to left input), as `second.first`.
fn suffix_key(labels_rtl: &[String]) -> String {
    format!(
        "{}.{}",
        labels_rtl.get(1).map(String::as_str).unwrap_or_default(),
        labels_rtl.first().map(String::as_str).unwrap_or_default()
    )
}

/// One tool entry of a file, validated: the tool, its domain patterns and its networks.
type Staged<'t> = (ToolRef, Vec<String>, Vec<ipnet::IpNet>, &'t RawTool);

/// Validates one tool entry of the file at `path` (text `text`, for error positions).
fn stage<'t>(t: &'t RawTool, path: &Path, text: &str) -> Result<Staged<'t>, ConfigError> {
    let name = t.name.get_ref().trim().to_ascii_lowercase();
    if name.is_empty() || name.len() > 64 {
        return Err(err(path, text, t.name.span(), "tool.name: empty or longer than 64 characters".into()));
    }
    let tool = match Tool::from_name(&name) {
        Some(b) => ToolRef::Builtin(b),
        None => {
            let category = match &t.category {
                None => Category::RemoteControl,
                Some(c) => category_of(c.get_ref()).ok_or_else(|| {
                    err(
                        path,
                        text,
                        c.span(),
                        format!(
                            "tool.category: unknown category {:?} (known: remote_control, relay, vpn, tunnel, proxy)",
                            c.get_ref()
                        ),
                    )
                })?,
            };
            let title: Arc<str> = t.title.clone().unwrap_or_else(|| t.name.get_ref().clone()).into();
            ToolRef::Listed { name: name.into(), title, category }
        }
    };
    let mut nets = Vec::new();
    for c in &t.cidrs {
        let v = c.get_ref();
        let net: ipnet::IpNet = v
            .parse()
            .or_else(|_| v.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
            .map_err(|_| err(path, text, c.span(), format!("tool.cidrs: {v:?} is not a CIDR (like 192.0.2.0/24)")))?;
        nets.push(net);
    }
    let mut pats = Vec::new();
    for d in &t.domains {
        let p = check_pattern(d.get_ref())
            .map_err(|m| err(path, text, d.span(), format!("tool.domains: {:?}: {m}", d.get_ref())))?;
        pats.push(p);
    }
    Ok((tool, pats, nets, t))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ind(text: &str) -> Indicators {
        let mut i = Indicators::default();
        i.add_text(text, Path::new("t.toml")).unwrap();
        i
    }

    #[test]
    fn builtin_file_loads_and_names_the_tools() {
        let mut i = Indicators::default();
        i.add_text(BUILTIN, Path::new("builtin")).unwrap();
        let (tools, pats) = i.counts();
        assert!(tools >= 15 && pats >= 40, "{tools} tools, {pats} patterns");
        for (name, tool) in [
            ("relay-3f2a9c1d.net.anydesk.com", "anydesk"),
            ("boot.net.anydesk.com", "anydesk"),
            ("router15.teamviewer.com", "teamviewer"),
            ("remotedesktop-pa.googleapis.com", "chrome_remote_desktop"),
            ("rs-ny.rustdesk.com", "rustdesk"),
            ("derp4.tailscale.com", "tailscale"),
            ("abc.trycloudflare.com", "cloudflared"),
            ("connect.us.ngrok-agent.com", "ngrok"),
            ("x.relay.splashtop.com", "splashtop"),
            ("gateway.zohoassist.com", "zoho_assist"),
        ] {
            assert_eq!(i.match_name(name).map(|h| h.tool.name().to_string()).as_deref(), Some(tool), "{name}");
        }
        for name in ["www.google.com", "googleapis.com", "example.com", "anydesk.com.evil.example", "com", ""] {
            assert!(i.match_name(name).is_none(), "{name}");
        }
        assert_eq!(i.match_cert_name("AnyNet Relay").unwrap().tool.name(), "anydesk");
        assert_eq!(i.match_alpn("anydesk/6.2.0/linux").unwrap().tool.name(), "anydesk");
    }

    #[test]
    fn shipped_copy_equals_builtin() {
        let shipped =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/indicators/builtin.toml"))
                .unwrap();
        assert_eq!(shipped, BUILTIN);
    }

    #[test]
    fn patterns_and_specificity() {
        let i = ind(r#"
[[tool]]
name = "acme-rmm"
title = "Acme RMM"
domains = ["*.acme.example", "plus*.acme-cdn.example", "relay-*-x.acme.example"]
[[tool]]
name = "acme-tunnel"
category = "tunnel"
domains = ["t.acme.example"]
"#);
        assert_eq!(i.match_name("a.b.acme.example").unwrap().tool.name(), "acme-rmm");
        assert!(i.match_name("acme.example").is_none(), "*. means subdomains only");
        assert_eq!(i.match_name("t.acme.example").unwrap().tool.name(), "acme-tunnel");
        assert_eq!(i.match_name("x.t.acme.example").unwrap().tool.name(), "acme-tunnel");
        assert_eq!(i.match_name("relay-12-x.acme.example").unwrap().pattern.as_ref(), "relay-*-x.acme.example");
        assert!(i.match_name("plus7.acme-cdn.example").is_some());
        assert!(i.match_name("minus7.acme-cdn.example").is_none());
        assert!(i.match_name("PLUS7.ACME-CDN.EXAMPLE.").is_some());
        assert_eq!(i.match_name("t.acme.example").unwrap().tool.category(), Category::Tunnel);
    }

    #[test]
    fn bad_files_name_line_and_key() {
        let mut i = Indicators::default();
        let e = i.add_text("[[tool]]\nname = \"x\"\ndomain = [\"a.example\"]\n", Path::new("f.toml")).unwrap_err();
        assert_eq!(e.line, 3, "{e}");
        assert!(e.to_string().contains("domain"), "{e}");
        let e = i
            .add_text("[[tool]]\nname = \"x\"\ndomains = [\"ok.example\", \"*.com\"]\n", Path::new("f.toml"))
            .unwrap_err();
        assert_eq!(e.line, 3, "{e}");
        assert!(e.to_string().contains("*.com"), "{e}");
        let e = i.add_text("[[tool]]\nname = \"x\"\ncategory = \"vpm\"\n", Path::new("f.toml")).unwrap_err();
        assert!(e.to_string().contains("vpm") && e.line == 3, "{e}");
        let e = i
            .add_text("[[tool]]\nname = \"x\"\ndomains = [\"bad domain.example\"]\n", Path::new("f.toml"))
            .unwrap_err();
        assert!(e.to_string().contains("bad domain.example"), "{e}");
        // Nothing of a refused file was added.
        assert_eq!(i.counts(), (0, 0));
    }

    #[test]
    fn address_ranges() {
        let i = ind(r#"
[[tool]]
name = "tor"
cidrs = ["192.0.2.0/24", "2001:db8:7::/48"]
[[tool]]
name = "acme-vpn"
category = "vpn"
cidrs = ["192.0.2.128/25", "198.51.100.7"]
"#);
        let m = |s: &str| i.match_address(s.parse().unwrap()).map(|h| h.tool.name().to_string());
        assert_eq!(m("192.0.2.5").as_deref(), Some("tor"));
        assert_eq!(m("192.0.2.200").as_deref(), Some("acme-vpn"), "the narrower range wins");
        assert_eq!(m("198.51.100.7").as_deref(), Some("acme-vpn"));
        assert_eq!(m("2001:db8:7::1").as_deref(), Some("tor"));
        assert_eq!(m("198.51.100.8"), None);
        assert_eq!(m("::ffff:192.0.2.5").as_deref(), Some("tor"));
        let mut j = Indicators::default();
        let e = j.add_text("[[tool]]\nname = \"x\"\ncidrs = [\"10.0.0.0/33\"]\n", Path::new("f.toml")).unwrap_err();
        assert_eq!(e.line, 3, "{e}");
    }

    #[test]
    fn glob_edge_cases() {
        assert!(glob("a*", "a"));
        assert!(glob("*b", "ab"));
        assert!(glob("a*b*c", "axxbyyc"));
        assert!(!glob("a*b*c", "axxbyy"));
        assert!(glob("*", "anything"));
        assert!(!glob("ab", "abc"));
    }
}
