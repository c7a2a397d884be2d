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
//! - `[[owner]]` tables (`name`, `kind`, `asns`, `cidrs`, optional `note` and
//!   `addresses_file`) say who owns a network — hosting, VPN, Tor exits, vendor relays,
//!   residential proxies — and fill the [`Owners`] table behind [`Indicators::owners`] (the
//!   alert's `peer.owner`). They name no tool and decide no detection. The built-in list
//!   ([`BUILTIN_OWNERS`], shipped as `config/indicators/owners.toml`) is loaded with
//!   [`BUILTIN`]; a later file's entry for the same AS number or range replaces an earlier one.
//! - `addresses_file` (relative to the indicator file) is an operator-supplied list: one
//!   address or CIDR per line, `#` comments, or the Tor Project's exit-list format (its
//!   `ExitAddress` lines are read; `ExitNode`, `Published` and `LastStatus` lines are
//!   skipped); repeated entries count once. A missing, unreadable, empty or malformed list
//!   refuses the indicator file that names it.
//! - Owner values are checked: names and notes non-empty; `kind` one of
//!   [`OwnerKind::ALL`]; AS numbers assignable (not 0, not above 4294967294, not reserved for
//!   documentation or private use: [`asn_reserved`]); ranges well-formed CIDRs without host
//!   bits and no wider than /[`MIN_PREFIX_V4`] (IPv4) or /[`MIN_PREFIX_V6`] (IPv6); an AS
//!   number or range listed twice in one file is an error.
//! - Bounds: an indicator file is read up to [`MAX_FILE_BYTES`]; an addresses file up to
//!   [`MAX_ADDRESSES_FILE_BYTES`] and [`MAX_ADDRESSES`] entries; all owner ranges together up
//!   to [`MAX_OWNER_RANGES`]. Beyond them the file is refused, never truncated silently.

pub mod lolrmm;
use farhand_model::ConfigError;
use farhand_model::owner::{Owner, OwnerKind, Owners, OwnersBuilder, asn_reserved};
use farhand_model::tool::{Category, Tool};
use serde::Deserialize;
use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use toml::Spanned;

/// The built-in indicator file (facts from the vendors' and public catalogues' documentation).
pub const BUILTIN: &str = include_str!("../../../../config/indicators/builtin.toml");

/// The built-in ownership list: hosting, VPN and vendor networks by AS number, each with the
/// public record it rests on.
pub const BUILTIN_OWNERS: &str = include_str!("../../../../config/indicators/owners.toml");

/// Longest domain pattern or name considered (RFC 1035: 253 characters).
pub const MAX_NAME: usize = 253;

/// Largest indicator file read (16 MiB); a larger one is refused.
pub const MAX_FILE_BYTES: u64 = 16 << 20;

/// Largest `addresses_file` read (64 MiB); a larger one is refused.
pub const MAX_ADDRESSES_FILE_BYTES: u64 = 64 << 20;

/// Most entries one `addresses_file` may hold (one million).
pub const MAX_ADDRESSES: usize = 1_000_000;

/// Most owner address ranges loaded from all files together (two million: about 150 MB of
/// tables at worst).
pub const MAX_OWNER_RANGES: usize = 2_000_000;

/// Widest IPv4 range an owner may list (a /8): a wider one is a typo, not one owner's network.
pub const MIN_PREFIX_V4: u8 = 8;

/// Widest IPv6 range an owner may list (a /16).
pub const MIN_PREFIX_V6: u8 = 16;

/// Longest owner name.
pub const MAX_OWNER_NAME: usize = 128;

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

/// One `[[owner]]` table as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOwner {
    name: Spanned<String>,
    kind: Spanned<String>,
    #[serde(default)]
    asns: Vec<Spanned<i64>>,
    #[serde(default)]
    cidrs: Vec<Spanned<String>>,
    #[serde(default)]
    note: Option<Spanned<String>>,
    #[serde(default)]
    addresses_file: Option<Spanned<String>>,
}

/// An indicator file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    tool: Vec<RawTool>,
    #[serde(default)]
    owner: Vec<RawOwner>,
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
    /// Every owner entry loaded so far (rebuilt into `owners` after each file).
    owner_entries: OwnersBuilder,
    owners: Arc<Owners>,
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
        let _ = ind.add_text(BUILTIN_OWNERS, Path::new("builtin"));
        ind
    }

    /// The ownership table: built-in owners plus every `[[owner]]` of the loaded files.
    pub fn owners(&self) -> Arc<Owners> {
        self.owners.clone()
    }

    /// The built-in indicators plus every `*.toml` file of `dir` (sorted by name), except
    /// files named `builtin.toml` and `owners.toml` (the shipped copies of the built-in files).
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
                p.extension().is_some_and(|x| x == "toml")
                    && p.file_name().is_some_and(|n| n != "builtin.toml" && n != "owners.toml")
            })
            .collect();
        files.sort();
        for f in files {
            ind.add_file(&f)?;
        }
        Ok(ind)
    }

    /// Adds one indicator file (at most [`MAX_FILE_BYTES`]).
    pub fn add_file(&mut self, path: &Path) -> Result<(), ConfigError> {
        let text = read_bounded(path, MAX_FILE_BYTES).map_err(|msg| ConfigError {
            file: path.to_path_buf(),
            line: 0,
            col: 0,
            msg: format!("cannot read: {msg}"),
        })?;
        self.add_text(&text, path)
    }

    /// Adds indicator text; `path` names it in errors and evidence.
    pub fn add_text(&mut self, text: &str, path: &Path) -> Result<(), ConfigError> {
        let raw: RawFile = toml::from_str(text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            let msg = e.message().trim().replace('\n', " ");
            let msg = match key_path_at(text, span.clone()) {
                Some(key) if e.span().is_some() => format!("{key}: {msg}"),
                _ => msg,
            };
            let mut ce = err(path, text, span, msg);
            if e.span().is_none() {
                ce.line = 0;
                ce.col = 0;
            }
            ce
        })?;
        let source: Arc<str> = raw.source.clone().unwrap_or_else(|| path.display().to_string()).into();
        // Validate everything before adding anything: a bad file is refused whole.
        let staged = raw.tool.iter().map(|t| stage(t, path, text)).collect::<Result<Vec<_>, _>>()?;
        let owners = stage_owners(&raw.owner, path, text, &source)?;
        let ranges: usize = owners.iter().map(|(_, _, nets)| nets.len()).sum();
        if self.owner_entries.range_count().saturating_add(ranges) > MAX_OWNER_RANGES {
            return Err(ConfigError {
                file: path.to_path_buf(),
                line: 0,
                col: 0,
                msg: format!("owner: more than {MAX_OWNER_RANGES} address ranges in all indicator files together"),
            });
        }
        for (tool, pats, nets, t) in staged {
            self.add_tool(tool, source.clone(), pats, nets, t);
        }
        if !owners.is_empty() {
            for (owner, asns, nets) in owners {
                self.owner_entries.add(owner, &asns, &nets);
            }
            self.owners = Arc::new(self.owner_entries.build());
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

/// The `table.key` a TOML error at `span` concerns, for its message: the key itself when the
/// span is a key (an unknown key), the table when it is a table header (a missing key), else
/// the nearest `key =` at or above the span and the table header above that.
fn key_path_at(text: &str, span: std::ops::Range<usize>) -> Option<String> {
    let is_ident = |k: &str| !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    let table_of = |line: &str| line.trim().trim_start_matches('[').split(']').next().map(|t| t.trim().to_string());
    let here = text.get(span.clone())?;
    if here.starts_with('[') {
        return table_of(here.lines().next()?);
    }
    let mut key = None;
    if text.get(span.end..).is_some_and(|rest| rest.trim_start().starts_with('=')) && is_ident(here.trim()) {
        key = Some(here.trim().to_string());
    }
    let before = text.get(..span.start)?;
    for line in before.rsplit('\n') {
        let t = line.trim_start();
        if t.starts_with('[') {
            let table = table_of(t)?;
            return Some(match key {
                Some(k) => format!("{table}.{k}"),
                None => table,
            });
        }
        if key.is_none()
            && let Some((k, _)) = t.split_once('=')
            && is_ident(k.trim())
        {
            key = Some(k.trim().to_string());
        }
    }
    key
}

/// Reads a file of at most `limit` bytes as UTF-8 text.
fn read_bounded(path: &Path, limit: u64) -> Result<String, String> {
    let f = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let too_big = |n: u64| format!("{n} bytes or more, above the limit of {limit} bytes");
    if let Ok(m) = f.metadata()
        && m.len() > limit
    {
        return Err(too_big(m.len()));
    }
    let mut bytes = Vec::new();
    f.take(limit.saturating_add(1)).read_to_end(&mut bytes).map_err(|e| e.to_string())?;
    if bytes.len() as u64 > limit {
        return Err(too_big(bytes.len() as u64));
    }
    String::from_utf8(bytes).map_err(|e| format!("not UTF-8 text (byte {})", e.utf8_error().valid_up_to()))
}

/// An owner's range: a CIDR or a single address, without host bits, not absurdly wide.
fn parse_owner_net(v: &str) -> Result<ipnet::IpNet, String> {
    if v.trim().is_empty() {
        return Err("empty string".into());
    }
    let net: ipnet::IpNet = v
        .trim()
        .parse()
        .or_else(|_| v.trim().parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("{v:?} is not an address or CIDR (like 192.0.2.0/24)"))?;
    if net.trunc() != net {
        return Err(format!("{v:?} has host bits set (the network is {})", net.trunc()));
    }
    let min = match net {
        ipnet::IpNet::V4(_) => MIN_PREFIX_V4,
        ipnet::IpNet::V6(_) => MIN_PREFIX_V6,
    };
    if net.prefix_len() < min {
        return Err(format!("{v:?} is wider than /{min}: too wide to be one owner's network"));
    }
    Ok(net)
}

/// 1-based column of `part` (a sub-slice of `line`).
fn col_in(line: &str, part: &str) -> usize {
    let off = (part.as_ptr() as usize).saturating_sub(line.as_ptr() as usize);
    line.get(..off).map_or(0, |s| s.chars().count()) + 1
}

/// Reads an operator-supplied address list: one address or CIDR per line, `#` comments, or
/// the Tor Project's exit-list format. Repeated entries count once; more than `max` distinct
/// entries refuse the file.
fn read_addresses(file: &Path, owner: &str, listed_in: &Path, max: usize) -> Result<Vec<ipnet::IpNet>, ConfigError> {
    let at = |line: usize, col: usize, msg: String| ConfigError {
        file: file.to_path_buf(),
        line,
        col,
        msg: format!("owner.addresses_file ({owner:?} in {}): {msg}", listed_in.display()),
    };
    let text = read_bounded(file, MAX_ADDRESSES_FILE_BYTES).map_err(|m| at(0, 0, format!("cannot read: {m}")))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut seen: HashSet<ipnet::IpNet> = HashSet::new();
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let content = line.split('#').next().unwrap_or_default();
        let mut words = content.split_whitespace();
        let Some(first) = words.next() else { continue };
        let token = match first {
            // The exit-list format: "ExitAddress" SP address SP date SP time.
            "ExitAddress" => match words.next() {
                Some(a) => a,
                None => return Err(at(n + 1, col_in(line, first), "ExitAddress without an address".into())),
            },
            "ExitNode" | "Published" | "LastStatus" => continue,
            _ => {
                if let Some(extra) = words.next() {
                    return Err(at(
                        n + 1,
                        col_in(line, extra),
                        format!("{extra:?}: one address or CIDR per line (or the Tor exit-list format)"),
                    ));
                }
                first
            }
        };
        let net = parse_owner_net(token).map_err(|m| at(n + 1, col_in(line, token), m))?;
        if seen.insert(net) {
            if out.len() >= max {
                return Err(at(n + 1, 1, format!("more than {max} entries")));
            }
            out.push(net);
        }
    }
    if out.is_empty() {
        return Err(at(0, 0, "lists no address".into()));
    }
    Ok(out)
}

/// One owner entry of a file, validated: the owner, its AS numbers and its ranges.
type StagedOwner = (Owner, Vec<u32>, Vec<ipnet::IpNet>);

/// Validates the `[[owner]]` tables of the file at `path` (text `text`, for error positions),
/// reading their address files.
fn stage_owners(raw: &[RawOwner], path: &Path, text: &str, source: &Arc<str>) -> Result<Vec<StagedOwner>, ConfigError> {
    let mut asns_seen: HashMap<u32, Arc<str>> = HashMap::new();
    let mut nets_seen: HashMap<ipnet::IpNet, Arc<str>> = HashMap::new();
    let mut out = Vec::with_capacity(raw.len());
    for o in raw {
        let name = o.name.get_ref().trim();
        if name.is_empty() || name.chars().count() > MAX_OWNER_NAME || name.chars().any(char::is_control) {
            return Err(err(
                path,
                text,
                o.name.span(),
                format!("owner.name: {name:?} is empty, has control characters or is longer than {MAX_OWNER_NAME}"),
            ));
        }
        let name: Arc<str> = name.into();
        let kind = OwnerKind::from_name(o.kind.get_ref().trim()).ok_or_else(|| {
            let known: Vec<&str> = OwnerKind::ALL.iter().map(|k| k.name()).collect();
            err(
                path,
                text,
                o.kind.span(),
                format!("owner.kind: unknown kind {:?} (known: {})", o.kind.get_ref(), known.join(", ")),
            )
        })?;
        let note = match &o.note {
            Some(n) if n.get_ref().trim().is_empty() => {
                return Err(err(path, text, n.span(), "owner.note: empty string".into()));
            }
            Some(n) => Some(Arc::from(n.get_ref().trim())),
            None => None,
        };
        let mut asns = Vec::with_capacity(o.asns.len());
        for a in &o.asns {
            let v = *a.get_ref();
            let asn = u32::try_from(v).map_err(|_| {
                err(path, text, a.span(), format!("owner.asns: {v} is not an AS number (1 to 4294967294)"))
            })?;
            if let Some(why) = asn_reserved(asn) {
                return Err(err(path, text, a.span(), format!("owner.asns: {asn}: {why}")));
            }
            if let Some(other) = asns_seen.insert(asn, name.clone()) {
                return Err(err(path, text, a.span(), format!("owner.asns: AS{asn} is already listed for {other:?}")));
            }
            asns.push(asn);
        }
        let mut nets = Vec::with_capacity(o.cidrs.len());
        for c in &o.cidrs {
            let net =
                parse_owner_net(c.get_ref()).map_err(|m| err(path, text, c.span(), format!("owner.cidrs: {m}")))?;
            if let Some(other) = nets_seen.insert(net, name.clone()) {
                return Err(err(path, text, c.span(), format!("owner.cidrs: {net} is already listed for {other:?}")));
            }
            nets.push(net);
        }
        if let Some(f) = &o.addresses_file {
            let rel = f.get_ref().trim();
            if rel.is_empty() {
                return Err(err(path, text, f.span(), "owner.addresses_file: empty string".into()));
            }
            let file = path.parent().unwrap_or(Path::new("")).join(rel);
            if !file.is_file() {
                return Err(err(
                    path,
                    text,
                    f.span(),
                    format!("owner.addresses_file: {} is not a readable file", file.display()),
                ));
            }
            nets.extend(read_addresses(&file, &name, path, MAX_ADDRESSES)?);
        }
        if asns.is_empty() && nets.is_empty() {
            return Err(err(
                path,
                text,
                o.name.span(),
                format!("owner.name: {name:?} lists no asns, cidrs or addresses_file"),
            ));
        }
        let owner = Owner { name, kind, note, source: Some(source.clone()) };
        out.push((owner, asns, nets));
    }
    Ok(out)
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

    /// A scratch directory under the system's temporary directory, removed on drop.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(tag: &str) -> Scratch {
            let d = std::env::temp_dir().join(format!("farhand-owners-{tag}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&d);
            std::fs::create_dir_all(&d).unwrap();
            Scratch(d)
        }
        fn write(&self, name: &str, text: &str) -> PathBuf {
            let p = self.0.join(name);
            std::fs::write(&p, text).unwrap();
            p
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn owner_of(i: &Indicators, ip: &str, asn: Option<u32>) -> Option<(String, OwnerKind, &'static str)> {
        i.owners().lookup(ip.parse().unwrap(), asn).map(|m| (m.name.to_string(), m.kind, m.by.as_str()))
    }

    #[test]
    fn shipped_owners_load_and_classify_known_networks() {
        let mut i = Indicators::default();
        i.add_text(BUILTIN_OWNERS, Path::new("builtin")).unwrap();
        let o = i.owners();
        assert!(o.count(OwnerKind::Hosting) >= 30, "{}", o.count(OwnerKind::Hosting));
        assert!(o.count(OwnerKind::Vpn) >= 3 && o.count(OwnerKind::VendorRelay) >= 2);
        assert!(o.asn_count() >= 100, "{}", o.asn_count());
        // The built-in set includes them.
        assert_eq!(Indicators::builtin().owners().len(), o.len());
        let any = "203.0.113.10";
        for (asn, name, kind) in [
            (14061, "DigitalOcean", OwnerKind::Hosting),
            (16509, "Amazon Web Services", OwnerKind::Hosting),
            (396982, "Google Cloud", OwnerKind::Hosting),
            (24940, "Hetzner", OwnerKind::Hosting),
            (20473, "Vultr", OwnerKind::Hosting),
            (9009, "M247", OwnerKind::Hosting),
            (216025, "Mullvad VPN", OwnerKind::Vpn),
            (62371, "Proton VPN", OwnerKind::Vpn),
            (43304, "TeamViewer", OwnerKind::VendorRelay),
        ] {
            assert_eq!(owner_of(&i, any, Some(asn)), Some((name.to_string(), kind, "asn")), "AS{asn}");
        }
        // Deliberately left out: Google's own services, a CDN, a residential ISP, and the
        // unrelated "Proton66".
        for asn in [15169, 13335, 20940, 3320, 198953] {
            assert_eq!(owner_of(&i, any, Some(asn)), None, "AS{asn}");
        }
        assert_eq!(owner_of(&i, any, None), None);
    }

    #[test]
    fn owner_tables_with_ranges_and_address_files() {
        let d = Scratch::new("files");
        d.write(
            "tor-exits.txt",
            "ExitNode 0011BD2485AD45D984EC4159C88FC066E5E3300E\nPublished 2026-01-01 10:00:00\n\
             LastStatus 2026-01-01 11:00:00\nExitAddress 198.51.100.7 2026-01-01 11:05:14\n\
             ExitNode 0B0BAD6B4E81B5F5E5AB8D1A4E4A5B1C2D3E4F50\nPublished 2026-01-01 10:00:00\n\
             LastStatus 2026-01-01 11:00:00\nExitAddress 198.51.100.7 2026-01-01 11:06:00\n\
             ExitAddress 2001:db8:7::9 2026-01-01 11:07:00\n",
        );
        d.write(
            "proxies.txt",
            "\u{feff}# residential exits\n192.0.2.0/25   # a block\n\n  192.0.2.200\r\n2001:db8:9::/48\n",
        );
        let f = d.write(
            "local.toml",
            r#"
[[owner]]
name = "Acme Hosting"
kind = "hosting"
asns = [14061]
cidrs = ["198.51.100.0/24", "192.0.2.0/24"]

[[owner]]
name = "Tor exits"
kind = "tor_exit"
addresses_file = "tor-exits.txt"

[[owner]]
name = "Proxy provider"
kind = "residential_proxy"
addresses_file = "proxies.txt"
note = "operator's list"
"#,
        );
        let mut i = Indicators::builtin();
        let before = i.owners().len();
        i.add_file(&f).unwrap();
        let o = i.owners();
        assert_eq!(o.len(), before + 3);
        assert_eq!((o.count(OwnerKind::TorExit), o.count(OwnerKind::ResidentialProxy)), (1, 1));
        let tor = ("Tor exits".to_string(), OwnerKind::TorExit, "cidr");
        assert_eq!(owner_of(&i, "198.51.100.7", None), Some(tor.clone()), "the /32 inside the /24 wins");
        assert_eq!(owner_of(&i, "198.51.100.7", Some(14061)), Some(tor.clone()), "a range wins over the AS");
        assert_eq!(owner_of(&i, "2001:db8:7::9", None), Some(tor));
        assert_eq!(owner_of(&i, "198.51.100.8", None), Some(("Acme Hosting".into(), OwnerKind::Hosting, "cidr")));
        let proxy = ("Proxy provider".to_string(), OwnerKind::ResidentialProxy, "cidr");
        assert_eq!(owner_of(&i, "192.0.2.5", None), Some(proxy.clone()));
        assert_eq!(owner_of(&i, "192.0.2.200", None), Some(proxy.clone()));
        assert_eq!(owner_of(&i, "192.0.2.199", None), Some(("Acme Hosting".into(), OwnerKind::Hosting, "cidr")));
        assert_eq!(owner_of(&i, "2001:db8:9::1", None), Some(proxy));
        // The later file's entry for AS14061 replaces the built-in one.
        assert_eq!(owner_of(&i, "203.0.113.1", Some(14061)), Some(("Acme Hosting".into(), OwnerKind::Hosting, "asn")));
        let m = o.lookup("192.0.2.5".parse().unwrap(), None).unwrap();
        assert_eq!(m.source.as_deref(), Some(f.display().to_string().as_str()));
    }

    /// Every bad value is refused with the file, line, column and key, and refuses the file.
    #[test]
    fn bad_owner_tables_name_file_line_column_and_key() {
        let d = Scratch::new("bad");
        let head = "[[owner]]\nname = \"X\"\nkind = \"hosting\"\n";
        let cases: &[(&str, usize, usize, &str)] = &[
            ("asn = [14061]\n", 4, 1, "owner.asn: unknown field `asn`"),
            ("asns = [0]\n", 4, 9, "owner.asns: 0"),
            ("asns = [14061, 4294967295]\n", 4, 16, "owner.asns: 4294967295"),
            ("asns = [4294967296]\n", 4, 9, "owner.asns: 4294967296"),
            ("asns = [-5]\n", 4, 9, "owner.asns: -5"),
            ("asns = [64512]\n", 4, 9, "private use"),
            ("asns = [64500]\n", 4, 9, "documentation"),
            ("asns = [23456]\n", 4, 9, "AS_TRANS"),
            ("asns = [\"AS14061\"]\n", 4, 9, "owner.asns: invalid type"),
            ("asns = [14061, 14061]\n", 4, 16, "owner.asns: AS14061 is already listed"),
            ("cidrs = [\"10.0.0.0/33\"]\n", 4, 10, "owner.cidrs: \"10.0.0.0/33\""),
            ("cidrs = [\"\"]\n", 4, 10, "owner.cidrs: empty"),
            ("cidrs = [\"10.1.2.3/8\"]\n", 4, 10, "owner.cidrs: \"10.1.2.3/8\" has host bits"),
            ("cidrs = [\"0.0.0.0/0\"]\n", 4, 10, "owner.cidrs: \"0.0.0.0/0\" is wider"),
            ("cidrs = [\"2000::/8\"]\n", 4, 10, "owner.cidrs: \"2000::/8\" is wider"),
            ("cidrs = [\"192.0.2.0/24\", \"192.0.2.0/24\"]\n", 4, 26, "already listed"),
            ("note = \"\"\n", 4, 8, "owner.note: empty"),
            ("addresses_file = \"\"\n", 4, 18, "owner.addresses_file: empty"),
            ("addresses_file = \"missing.txt\"\n", 4, 18, "owner.addresses_file: "),
            ("\n", 2, 8, "owner.name: \"X\" lists no asns"),
        ];
        let mut i = Indicators::builtin();
        let before = i.owners().len();
        for (n, (tail, line, col, want)) in cases.iter().enumerate() {
            let f = d.write(&format!("bad{n}.toml"), &format!("{head}{tail}"));
            let e = i.add_file(&f).unwrap_err();
            assert_eq!((e.file.as_path(), e.line, e.col), (f.as_path(), *line, *col), "{tail:?}: {e}");
            assert!(e.to_string().contains(want), "{tail:?}: {e}");
            assert!(e.to_string().starts_with(&format!("{}:{line}:{col}: ", f.display())), "{e}");
        }
        for (text, line, col, want) in [
            ("[[owner]]\nname = \"\"\nkind = \"vpn\"\nasns = [1]\n", 2, 8, "owner.name"),
            ("[[owner]]\nname = \"X\"\nkind = \"vpm\"\nasns = [1]\n", 3, 8, "owner.kind: unknown kind \"vpm\""),
            ("[[owner]]\nname = \"X\"\nasns = [1]\n", 1, 1, "owner: missing field `kind`"),
            (
                "[[owner]]\nname = \"X\"\nkind = \"vpn\"\ncidrs = [\n  \"192.0.2.0/24\",\n  7,\n]\n",
                6,
                3,
                "owner.cidrs: invalid type",
            ),
        ] {
            let f = d.write("other.toml", text);
            let e = i.add_file(&f).unwrap_err();
            assert_eq!((e.line, e.col), (line, col), "{e}");
            assert!(e.to_string().contains(want), "{e}");
        }
        // A bad second entry refuses the good first one too.
        let f = d.write(
            "half.toml",
            "[[owner]]\nname = \"Good\"\nkind = \"vpn\"\nasns = [1]\n[[owner]]\nname = \"Bad\"\nkind = \"vpn\"\nasns = [0]\n",
        );
        assert_eq!(i.add_file(&f).unwrap_err().line, 8);
        assert_eq!(i.owners().len(), before);
        assert!(i.owners().lookup("203.0.113.1".parse().unwrap(), Some(1)).is_none());
    }

    #[test]
    fn bad_address_files_name_their_own_line_and_column() {
        let d = Scratch::new("addr");
        let toml = "[[owner]]\nname = \"Tor exits\"\nkind = \"tor_exit\"\naddresses_file = \"list.txt\"\n";
        for (list, line, col, want) in [
            ("192.0.2.1\n# c\n  192.0.2.300\n", 3, 3, "\"192.0.2.300\" is not an address"),
            ("192.0.2.1 192.0.2.2\n", 1, 11, "one address or CIDR per line"),
            ("ExitNode AB\nExitAddress\n", 2, 1, "ExitAddress without an address"),
            ("ExitAddress 192.0.2.999 2026-01-01 00:00:00\n", 1, 13, "192.0.2.999"),
            ("10.9.0.0/8\n", 1, 1, "host bits"),
            ("# nothing yet\n", 0, 0, "lists no address"),
        ] {
            let l = d.write("list.txt", list);
            let f = d.write("tor.toml", toml);
            let e = Indicators::default().add_file(&f).unwrap_err();
            assert_eq!((e.file.as_path(), e.line, e.col), (l.as_path(), line, col), "{list:?}: {e}");
            let s = e.to_string();
            assert!(s.contains(want) && s.contains("owner.addresses_file") && s.contains("tor.toml"), "{s}");
        }
        // Non-UTF-8 and oversized lists are refused, not read in part.
        let l = d.write("list.txt", "");
        std::fs::write(&l, b"192.0.2.1\n\xff\xfe\n").unwrap();
        let e = Indicators::default().add_file(&d.write("tor.toml", toml)).unwrap_err();
        assert!(e.to_string().contains("not UTF-8"), "{e}");
        assert!(read_bounded(&l, 4).unwrap_err().contains("above the limit of 4 bytes"));
        let many: String = (0..20).map(|n| format!("192.0.2.{n}\n")).collect();
        let l = d.write("many.txt", &many);
        let e = read_addresses(&l, "x", Path::new("t.toml"), 10).unwrap_err();
        assert_eq!(e.line, 11, "{e}");
        assert!(e.to_string().contains("more than 10 entries"), "{e}");
        assert_eq!(read_addresses(&l, "x", Path::new("t.toml"), 20).unwrap().len(), 20);
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
