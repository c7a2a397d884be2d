//! Names: recognising tools by what a flow *names* — the TLS server name (SNI), ALPN and
//! certificate names, the QUIC ClientHello's SNI, the HTTP Host and User-Agent, the DNS
//! query — matched against the [`Indicators`].
//!
//! # Contract
//! - [`NameFingerprint`] is a [`Fingerprint`] like the structural ones: pure over the
//!   [`Exchange`], decided once per flow, never panics. It parses with the metadata parsers
//!   ([`farhand_proto`]) and decides nothing on ports.
//! - Precedence within a flow: the client's own words first (SNI, ALPN, HTTP Host and
//!   User-Agent, QUIC SNI, DNS query), then the server's certificate (TLS ≤ 1.2, where it
//!   is in clear). A Tor link is recognised by structure, not by a list: over TLS ≤ 1.2 by its
//!   random names and certificate shape, over TLS 1.3 (certificate encrypted) by the client's
//!   random `www.<base32>.com` name, no ALPN, and application-data records that hold whole
//!   514-byte cells (`n·514 + 17` bytes). An HTTP CONNECT request to a `host:port` the proxy
//!   accepted (2xx) is a
//!   proxy tunnel ([`Tool::HttpConnect`]) unless its target names a tool; one the proxy
//!   refused is none, and one without a `host:port` target is no tunnel request at all.
//! - Method: [`Method::Name`] for names, [`Method::Certificate`] for certificate names.
//!   Confidence: [`CONFIDENCE_SESSION`] for a session that names a tool, lower
//!   ([`CONFIDENCE_LOOKUP`]) for a DNS lookup, which shows the tool is in use but is not
//!   itself a session.
//! - Tools named only by an indicator file (not built in) come out as [`Tool::Listed`]
//!   with their name, title and category in the evidence.

use crate::detect::fingerprint::{Exchange, Fingerprint, Interest, Outcome};
use crate::indicators::{Indicators, NameHit, ToolRef};
use farhand_model::Addr;
use farhand_model::Micros;
use farhand_model::evidence::Evidence;
use farhand_model::evidence::{NameEvidence, TlsBrief};
use farhand_model::tool::{Match, Method, Tool, Transport};
use farhand_proto::Step;
use farhand_proto::{dhcp, dns, http, quic, tls};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

/// Confidence of a session whose TLS/QUIC/HTTP names or certificate name a tool: the
/// server's certificate, or the client's own words (server name, ALPN, Host, User-Agent) once
/// the server answered them.
pub const CONFIDENCE_SESSION: u8 = 80;
/// Confidence of the client's own words naming a tool when no answer was seen (the flow ended
/// without one, or only one direction is captured): one side's word is never "high".
pub const CONFIDENCE_UNANSWERED: u8 = 70;
/// Confidence of a DNS lookup of a tool's name.
pub const CONFIDENCE_LOOKUP: u8 = 50;
/// Confidence of an HTTP CONNECT proxy tunnel the proxy accepted.
pub const CONFIDENCE_PROXY: u8 = 90;
/// Confidence of an HTTP CONNECT request whose answer the capture does not hold.
pub const CONFIDENCE_PROXY_UNANSWERED: u8 = 50;
/// Confidence of a Tor link recognised by its random names and certificate shape (TLS ≤ 1.2),
/// or by its client name and cell-sized records (TLS 1.3).
pub const CONFIDENCE_TOR: u8 = 85;

/// `www.<label>.<tld>` with a label of 4–32 lower-case letters and digits.
fn random_www(name: &str, tld: &str) -> bool {
    let Some(rest) = name.strip_prefix("www.").and_then(|r| r.strip_suffix(tld)) else { return false };
    let Some(label) = rest.strip_suffix('.') else { return false };
    (4..=32).contains(&label.len()) && label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// The Tor link handshake's shape (tor-spec, "Connections"): the client sends a random
/// `www.<random>.com` server name; the relay's link certificate is issued for a random
/// `www.<random>.net` by a random `www.<random>.com` identity, with no organisation and
/// subject different from issuer. Ordinary sites do not combine all of these.
fn tor_shaped(sni: &str, c: &tls::Certificate) -> bool {
    random_www(sni, "com")
        && c.subject_o.is_none()
        && c.issuer_o.is_none()
        && c.subject_cn.as_deref().is_some_and(|n| random_www(n, "net"))
        && c.issuer_cn.as_deref().is_some_and(|n| random_www(n, "com"))
        && c.subject_cn != c.issuer_cn
        && Some(sni) != c.issuer_cn.as_deref()
}

/// Tor's fixed-size cell with 4-byte circuit ids (tor-spec §3, link protocol 4 and later).
pub const TOR_CELL_LEN: usize = 514;
/// What TLS 1.3 adds to an unpadded record's content (RFC 8446 §5.2): the inner content type
/// byte and a 16-byte AEAD tag (AES-GCM, ChaCha20-Poly1305, AES-CCM).
pub const TLS13_RECORD_OVERHEAD: usize = 17;
/// Application-data records of whole cells (both directions together) that make a TLS 1.3
/// flow with Tor's client name a Tor link.
pub const TOR_MIN_CELL_RECORDS: usize = 3;

/// Tor's client server name (tor `tortls.c`: `crypto_random_hostname(4, 25, "www.", ".com")`):
/// `www.` + 4–25 characters of lower-case base32 (`a`–`z`, `2`–`7`) + `.com`.
fn tor_client_name(sni: &str) -> bool {
    let Some(label) = sni.strip_prefix("www.").and_then(|r| r.strip_suffix(".com")) else { return false };
    (4..=25).contains(&label.len()) && label.bytes().all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b))
}

/// Application-data records of one direction that hold whole Tor cells: `n·514 + 17` bytes.
fn cell_records(stream: &[u8]) -> usize {
    tls::record_lengths(stream)
        .filter(|&(kind, len)| {
            kind == 23
                && len >= TOR_CELL_LEN + TLS13_RECORD_OVERHEAD
                && (len - TLS13_RECORD_OVERHEAD).is_multiple_of(TOR_CELL_LEN)
        })
        .count()
}

/// Bytes per direction the name parsers may need (a ClientHello and a TLS 1.2 server
/// flight with its certificate chain).
pub const BYTES_WANTED: usize = 16 * 1024;

/// Confidence of a session attributed through an earlier DNS answer.
pub const CONFIDENCE_ANSWERED: u8 = 70;
/// How long a learned answer attributes later sessions.
pub const ANSWER_TTL: Micros = 3600 * 1_000_000;
/// Most (endpoint, address) answers remembered per worker.
pub const MAX_ANSWERS: usize = 65_536;

/// Per-endpoint memory of the addresses a tool's name resolved to: a later flow from that
/// endpoint to one of them is attributed to the tool even when nothing in the flow names it
/// (encrypted, no SNI, custom port). One per worker: flows are sharded by endpoint, so an
/// endpoint's lookups and its later flows meet here without locks.
#[derive(Debug, Default)]
pub struct NameCache {
    map: HashMap<(Addr, Addr), (Box<NameEvidence>, Tool, Micros)>,
}

impl NameCache {
    /// Learns the answers of a DNS lookup that named a tool (`querier` asked).
    pub fn learn(&mut self, querier: Addr, tool: Tool, e: &NameEvidence, now: Micros) {
        for a in &e.answers {
            let Ok(ip) = a.parse::<IpAddr>() else { continue };
            if self.map.len() >= MAX_ANSWERS {
                self.map.retain(|_, (_, _, exp)| *exp > now);
                if self.map.len() >= MAX_ANSWERS {
                    self.map.clear();
                }
            }
            let mut ev = e.clone();
            ev.field = "dns_answer";
            ev.value = format!("{} -> {ip}", e.value);
            ev.answers = Vec::new();
            self.map.insert((querier, Addr::from(ip)), (Box::new(ev), tool, now.saturating_add(ANSWER_TTL)));
        }
    }

    /// The tool a flow from `endpoint` to `peer` is attributed to by an earlier lookup.
    pub fn lookup(&self, endpoint: Addr, peer: Addr, now: Micros) -> Option<Match> {
        let (ev, tool, exp) = self.map.get(&(endpoint, peer))?;
        (*exp > now).then(|| Match {
            tool: *tool,
            confidence: CONFIDENCE_ANSWERED,
            method: Method::Name,
            evidence: Evidence::Name(ev.clone()),
        })
    }

    /// Answers remembered.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// Confidence of a device named by its DHCP host name.
pub const CONFIDENCE_HOSTNAME: u8 = 70;
/// Confidence of a session attributed by the peer's address range alone.
pub const CONFIDENCE_ADDRESS: u8 = 60;

/// A match for a flow whose peer is in a tool's listed address range.
pub fn address_match(ind: &Indicators, peer: IpAddr) -> Option<Match> {
    let hit = ind.match_address(peer)?;
    match found(hit, "address", &peer.to_string(), CONFIDENCE_ADDRESS, None) {
        Outcome::Match(m) => Some(m),
        _ => None,
    }
}

/// The name/certificate fingerprint over the loaded indicators.
#[derive(Debug, Clone)]
pub struct NameFingerprint {
    indicators: Arc<Indicators>,
}

impl NameFingerprint {
    /// A name fingerprint over these indicators.
    pub fn new(indicators: Arc<Indicators>) -> NameFingerprint {
        NameFingerprint { indicators }
    }
}

fn found(hit: NameHit, field: &'static str, value: &str, confidence: u8, tls: Option<TlsBrief>) -> Outcome {
    let method = if field == "tls_certificate" { Method::Certificate } else { Method::Name };
    let tool = match &hit.tool {
        ToolRef::Builtin(t) => *t,
        ToolRef::Listed { .. } => Tool::Listed,
    };
    Outcome::Match(Match {
        tool,
        confidence,
        method,
        evidence: Evidence::Name(Box::new(NameEvidence {
            tool_name: hit.tool.name().to_string(),
            tool_title: hit.tool.title().to_string(),
            category: hit.tool.category(),
            field,
            value: value.to_string(),
            pattern: hit.pattern.to_string(),
            source: hit.source.to_string(),
            tls,
            answers: Vec::new(),
        })),
    })
}

/// What a proxy did with a CONNECT request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ProxyAnswer {
    /// A 2xx answer: the connection is a tunnel from here on.
    Accepted(u16),
    /// Any other final answer.
    Refused,
    /// No answer in the capture (the flow ended without one).
    Unanswered,
}

/// Most CONNECT requests followed on one connection (a `407`, then the retry with
/// credentials).
const MAX_CONNECT_ROUNDS: usize = 3;

/// Follows the CONNECT requests of a connection and the proxy's answers: `None` while the
/// answer is still to come.
fn proxy_answer(ex: &Exchange<'_>, first: &http::Request) -> Option<ProxyAnswer> {
    let (mut req_at, mut resp_at, mut head_len) = (0usize, 0usize, first.head_len);
    for _ in 0..MAX_CONNECT_ROUNDS {
        let resp = match http::response(ex.resp.get(resp_at..).unwrap_or_default()) {
            Step::Done(r) => r,
            Step::Incomplete if !ex.finished => return None,
            // The capture ends before the answer does (or holds one direction only).
            Step::Incomplete => return Some(ProxyAnswer::Unanswered),
            Step::Invalid(_) => return Some(ProxyAnswer::Refused),
        };
        match resp.status {
            200..=299 => return Some(ProxyAnswer::Accepted(resp.status)),
            // Interim answers (100 Continue) come before the final one.
            100..=199 => {
                resp_at += resp.head_len;
                continue;
            }
            407 => {}
            _ => return Some(ProxyAnswer::Refused),
        }
        // Proxy authentication required: the client may ask again on this connection.
        resp_at += resp.head_len + resp.content_length.unwrap_or(0);
        req_at += head_len;
        match http::request(ex.orig.get(req_at..).unwrap_or_default()) {
            Step::Done(r) if r.method == "CONNECT" => head_len = r.head_len,
            Step::Incomplete if !ex.finished => return None,
            _ => return Some(ProxyAnswer::Refused),
        }
    }
    Some(ProxyAnswer::Refused)
}

/// The host and port of a CONNECT target in authority form (RFC 9110 §9.3.6: `host:port`,
/// an IPv6 literal in brackets; the port a number from 1 to 65535). A bare host name or
/// address without a port is returned with no port: proxies in the field (tinyproxy) accept
/// it and pick one. `None` for anything else (`/`, a URI, an empty host).
fn authority(target: &str) -> Option<(&str, Option<u16>)> {
    let name_ok = |h: &str| {
        !h.is_empty() && h.len() <= 253 && h.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
    };
    let v6 = |h: &str| h.parse::<std::net::Ipv6Addr>().is_ok();
    if let Some(inner) = target.strip_prefix('[') {
        let (host, rest) = inner.split_once(']')?;
        if !v6(host) {
            return None;
        }
        return match rest {
            "" => Some((host, None)),
            r => Some((host, Some(port_of(r.strip_prefix(':')?)?))),
        };
    }
    if v6(target) {
        return Some((target, None));
    }
    match target.rsplit_once(':') {
        Some((host, port)) if name_ok(host) => Some((host, Some(port_of(port)?))),
        Some(_) => None,
        None => name_ok(target).then_some((target, None)),
    }
}

/// A CONNECT port: decimal digits only, 1 to 65535.
fn port_of(p: &str) -> Option<u16> {
    if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    p.parse::<u16>().ok().filter(|&p| p != 0)
}

/// A tool named by the client's own words (server name, ALPN, HTTP Host or User-Agent):
/// [`CONFIDENCE_SESSION`] once the server answered anything, [`CONFIDENCE_UNANSWERED`] when the
/// flow ended without an answer; wait for one until then.
fn client_words(ex: &Exchange<'_>, hit: NameHit, field: &'static str, value: &str, tls: Option<TlsBrief>) -> Outcome {
    match (ex.resp.is_empty(), ex.finished) {
        (false, _) => found(hit, field, value, CONFIDENCE_SESSION, tls),
        (true, false) => Outcome::NeedMore,
        (true, true) => found(hit, field, value, CONFIDENCE_UNANSWERED, tls),
    }
}

/// A hit for a tool recognised by a structural rule of this module rather than an
/// indicator file (the Tor link handshake, an HTTP CONNECT proxy).
fn structural(tool: Tool, pattern: &str) -> NameHit {
    NameHit { tool: ToolRef::Builtin(tool), pattern: pattern.into(), source: "structure".into() }
}

impl NameFingerprint {
    fn tls(&self, ex: &Exchange<'_>) -> Outcome {
        let hello = match tls::client_hello(ex.orig) {
            Step::Done(h) => h,
            Step::Incomplete if !ex.finished => return Outcome::NeedMore,
            Step::Incomplete | Step::Invalid(_) => return Outcome::NoMatch,
        };
        // The handshake summary (JA3/JA4 hashing included) is built only for a match.
        let brief = |c: Option<&tls::Certificate>| TlsBrief {
            sni: hello.sni.clone(),
            alpn: hello.alpn.clone(),
            ja3: hello.ja3_hash(),
            ja4: hello.ja4(),
            cert_subject_cn: c.and_then(|c| c.subject_cn.clone()),
            cert_issuer_cn: c.and_then(|c| c.issuer_cn.clone()),
            cert_self_signed: c.map(|c| c.self_signed),
        };
        if let Some(sni) = &hello.sni
            && let Some(hit) = self.indicators.match_name(sni)
        {
            return client_words(ex, hit, "tls_sni", sni, Some(brief(None)));
        }
        for a in &hello.alpn {
            if let Some(hit) = self.indicators.match_alpn(a) {
                return client_words(ex, hit, "tls_alpn", a, Some(brief(None)));
            }
        }
        // The server's certificate (in clear up to TLS 1.2).
        let side = if ex.finished { tls::server_side_at_end(ex.resp) } else { tls::server_side(ex.resp) };
        let side = match side {
            Step::Done(s) => s,
            Step::Incomplete if !ex.finished => return Outcome::NeedMore,
            Step::Incomplete | Step::Invalid(_) => return Outcome::NoMatch,
        };
        let leaf = side.certificates.first();
        // TLS 1.3 hides the relay's certificate; the cells do not (`cell_records`).
        if let Some(sni) = &hello.sni
            && hello.alpn.is_empty()
            && side.hello.as_ref().is_some_and(|h| h.selected_version == Some(tls::TLS13))
            && tor_client_name(sni)
        {
            let cells = cell_records(ex.orig) + cell_records(ex.resp);
            if cells >= TOR_MIN_CELL_RECORDS {
                let value = format!("sni {sni}, TLS 1.3, {cells} records of whole 514-byte cells");
                let hit = structural(Tool::Tor, "www.<base32>.com SNI, no ALPN; TLS 1.3 records of n*514+17 bytes");
                return found(hit, "tls_records", &value, CONFIDENCE_TOR, Some(brief(None)));
            }
            if !ex.finished {
                return Outcome::NeedMore;
            }
        }
        if let (Some(sni), Some(c)) = (&hello.sni, leaf)
            && tor_shaped(sni, c)
        {
            let value = format!(
                "sni {sni}, subject {}, issuer {}",
                c.subject_cn.as_deref().unwrap_or(""),
                c.issuer_cn.as_deref().unwrap_or("")
            );
            let hit = structural(Tool::Tor, "www.<random>.com SNI; www.<random>.net subject, www.<random>.com issuer");
            return found(hit, "tls_certificate", &value, CONFIDENCE_TOR, Some(brief(leaf)));
        }
        for c in &side.certificates {
            for name in [&c.subject_cn, &c.issuer_cn, &c.subject_o].into_iter().flatten() {
                if let Some(hit) = self.indicators.match_cert_name(name) {
                    return found(hit, "tls_certificate", name, CONFIDENCE_SESSION, Some(brief(leaf)));
                }
            }
            for name in &c.san_dns {
                if let Some(hit) = self.indicators.match_name(name) {
                    return found(hit, "tls_certificate", name, CONFIDENCE_SESSION, Some(brief(leaf)));
                }
            }
        }
        Outcome::NoMatch
    }
}

impl NameFingerprint {
    fn http(&self, ex: &Exchange<'_>) -> Outcome {
        let req = match http::request(ex.orig) {
            Step::Done(r) => r,
            Step::Incomplete if !ex.finished => return Outcome::NeedMore,
            Step::Incomplete | Step::Invalid(_) => return Outcome::NoMatch,
        };
        if req.method == "CONNECT" {
            return self.connect(ex, &req);
        }
        if let Some(host) = &req.host {
            let h = host
                .rsplit_once(':')
                .map_or(host.as_str(), |(h, p)| if p.chars().all(|c| c.is_ascii_digit()) { h } else { host });
            if let Some(hit) = self.indicators.match_name(h) {
                return client_words(ex, hit, "http_host", host, None);
            }
        }
        if let Some(ua) = &req.user_agent
            && let Some(hit) = self.indicators.match_user_agent(ua)
        {
            return client_words(ex, hit, "http_user_agent", ua, None);
        }
        Outcome::NoMatch
    }

    /// An HTTP CONNECT request: a tunnel when its target is a host (`host:port`, or a bare
    /// host some proxies accept) and the proxy let it through (a 2xx answer, after any `407`
    /// and retries on the same connection). Refused (any other answer) it is no tunnel —
    /// unless its target names a tool, which then is reported as a lookup is: in use, no
    /// session ([`CONFIDENCE_LOOKUP`]). Unanswered (the flow ended, or only one direction is
    /// seen) a `host:port` request is a tunnel request at [`CONFIDENCE_PROXY_UNANSWERED`] (one
    /// naming a tool: [`CONFIDENCE_UNANSWERED`]); one without a port is nothing.
    fn connect(&self, ex: &Exchange<'_>, first: &http::Request) -> Outcome {
        let Some((host, port)) = authority(&first.target) else { return Outcome::NoMatch };
        let answer = match proxy_answer(ex, first) {
            Some(a) => a,
            None => return Outcome::NeedMore,
        };
        // Without a port only the proxy's acceptance makes it a tunnel.
        if port.is_none() && answer == ProxyAnswer::Unanswered {
            return Outcome::NoMatch;
        }
        if let Some(hit) = self.indicators.match_name(host) {
            let c = match answer {
                ProxyAnswer::Refused => CONFIDENCE_LOOKUP,
                ProxyAnswer::Unanswered => CONFIDENCE_UNANSWERED,
                ProxyAnswer::Accepted(_) => CONFIDENCE_SESSION,
            };
            return found(hit, "http_connect_target", &first.target, c, None);
        }
        let (confidence, pattern) = match answer {
            ProxyAnswer::Accepted(status) => (CONFIDENCE_PROXY, format!("CONNECT answered {status}")),
            ProxyAnswer::Unanswered => (CONFIDENCE_PROXY_UNANSWERED, "CONNECT, no answer seen".to_owned()),
            ProxyAnswer::Refused => return Outcome::NoMatch,
        };
        match found(structural(Tool::HttpConnect, &pattern), "http_connect_target", &first.target, confidence, None) {
            Outcome::Match(m) => Outcome::Match(Match { method: Method::PayloadStructure, ..m }),
            other => other,
        }
    }

    fn quic(&self, ex: &Exchange<'_>) -> Outcome {
        let Ok(init) = quic::client_initial(ex.orig) else { return Outcome::NoMatch };
        let Some(hello) = tls::client_hello_message(&init.client_hello, true) else { return Outcome::NoMatch };
        let brief = || TlsBrief {
            sni: hello.sni.clone(),
            alpn: hello.alpn.clone(),
            ja3: hello.ja3_hash(),
            ja4: hello.ja4(),
            ..TlsBrief::default()
        };
        if let Some(sni) = &hello.sni
            && let Some(hit) = self.indicators.match_name(sni)
        {
            return client_words(ex, hit, "quic_sni", sni, Some(brief()));
        }
        for a in &hello.alpn {
            if let Some(hit) = self.indicators.match_alpn(a) {
                return client_words(ex, hit, "quic_alpn", a, Some(brief()));
            }
        }
        Outcome::NoMatch
    }

    /// The host name a DHCP client gives itself (PiKVM, TinyPilot and JetKVM devices keep
    /// their product name unless someone renames them).
    fn dhcp(&self, ex: &Exchange<'_>) -> Outcome {
        let Some(m) = dhcp::parse(ex.orig) else { return Outcome::NoMatch };
        match m.host_name.as_deref().and_then(|h| self.indicators.match_hostname(h).map(|hit| (hit, h))) {
            Some((hit, h)) if m.op == 1 => {
                let value = match m.client_mac {
                    Some(mac) => format!("{h} (client {})", crate::detect::fingerprint::ip_kvm::mac_text(&mac)),
                    None => h.to_string(),
                };
                found(hit, "dhcp_hostname", &value, CONFIDENCE_HOSTNAME, None)
            }
            _ => Outcome::NoMatch,
        }
    }

    /// DNS over TCP (RFC 1035 §4.2.2: a two-byte length before each message).
    fn dns_tcp(&self, ex: &Exchange<'_>) -> Outcome {
        let query = match dns::parse_tcp(ex.orig) {
            Step::Done(q) => q,
            Step::Incomplete if !ex.finished => return Outcome::NeedMore,
            Step::Incomplete | Step::Invalid(_) => return Outcome::NoMatch,
        };
        self.lookup(&query)
    }

    /// A query whose name a tool's indicators name.
    fn lookup(&self, query: &dns::Message) -> Outcome {
        if query.response {
            return Outcome::NoMatch;
        }
        query
            .questions
            .iter()
            .find_map(|q| self.indicators.match_name(&q.name).map(|hit| (hit, &q.name)))
            .map_or(Outcome::NoMatch, |(hit, name)| found(hit, "dns_query", name, CONFIDENCE_LOOKUP, None))
    }

    fn dns(&self, ex: &Exchange<'_>) -> Outcome {
        let Ok(query) = dns::parse(ex.orig) else { return Outcome::NoMatch };
        let mut out = self.lookup(&query);
        if let (Outcome::Match(m), Ok(resp)) = (&mut out, dns::parse(ex.resp))
            && let Evidence::Name(e) = &mut m.evidence
        {
            e.answers = resp
                .answers
                .iter()
                .filter_map(|a| match &a.data {
                    dns::RData::A(ip) => Some(ip.to_string()),
                    dns::RData::Aaaa(ip) => Some(ip.to_string()),
                    dns::RData::Cname(n) => Some(n.clone()),
                    _ => None,
                })
                .collect();
        }
        out
    }
}

impl Fingerprint for NameFingerprint {
    fn tool(&self) -> Tool {
        Tool::Listed
    }
    fn name(&self) -> &'static str {
        "names"
    }
    fn version(&self) -> &'static str {
        "1"
    }
    fn interest(&self) -> Interest {
        Interest::tcp_udp(BYTES_WANTED)
    }
    fn inspect(&self, ex: &Exchange<'_>) -> Outcome {
        match ex.transport {
            Transport::Tcp if tls::probe(ex.orig) => self.tls(ex),
            Transport::Tcp if http::probe(ex.orig) => self.http(ex),
            Transport::Tcp if ex.orig.get(2..).is_some_and(dns::probe) => self.dns_tcp(ex),
            // Long enough for a record header and the longest method ("OPTIONS ").
            Transport::Tcp if ex.orig.len() < 8 && !ex.finished => Outcome::NeedMore,
            Transport::Udp if quic::probe(ex.orig) => self.quic(ex),
            Transport::Udp if dhcp::probe(ex.orig) => self.dhcp(ex),
            // The lookup is decided with the answer when it comes (for its addresses).
            Transport::Udp if dns::probe(ex.orig) && ex.resp.is_empty() && !ex.finished => Outcome::NeedMore,
            Transport::Udp if dns::probe(ex.orig) => self.dns(ex),
            _ => Outcome::NoMatch,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use farhand_model::Category;

    /// A TLS 1.2 ClientHello record with SNI `relay-0a1b2c3d.net.anydesk.com` and no ALPN,
    /// built from RFC 5246 §7.4.1.2 / RFC 6066 §3.
    fn client_hello(sni: &str, alpn: Option<&str>) -> Vec<u8> {
        let mut ext = Vec::new();
        let name = sni.as_bytes();
        let mut sn = vec![0u8];
        sn.extend_from_slice(&(name.len() as u16).to_be_bytes());
        sn.extend_from_slice(name);
        let mut list = (sn.len() as u16).to_be_bytes().to_vec();
        list.extend(sn);
        ext.extend_from_slice(&0u16.to_be_bytes());
        ext.extend_from_slice(&(list.len() as u16).to_be_bytes());
        ext.extend(list);
        if let Some(a) = alpn {
            let mut p = vec![a.len() as u8];
            p.extend_from_slice(a.as_bytes());
            let mut l = (p.len() as u16).to_be_bytes().to_vec();
            l.extend(p);
            ext.extend_from_slice(&16u16.to_be_bytes());
            ext.extend_from_slice(&(l.len() as u16).to_be_bytes());
            ext.extend(l);
        }
        let mut body = vec![3, 3];
        body.extend_from_slice(&[7u8; 32]);
        body.push(0);
        body.extend_from_slice(&[0, 2, 0xc0, 0x2f]);
        body.extend_from_slice(&[1, 0]);
        body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
        body.extend(ext);
        let mut hs = vec![1];
        hs.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        hs.extend(body);
        let mut rec = vec![22, 3, 1];
        rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
        rec.extend(hs);
        rec
    }

    fn ex<'a>(orig: &'a [u8], resp: &'a [u8], finished: bool) -> Exchange<'a> {
        Exchange { transport: Transport::Tcp, orig, resp, orig_port: 50000, resp_port: 443, finished, datagrams: &[] }
    }

    #[test]
    fn sni_names_a_builtin_tool() {
        let f = NameFingerprint::new(Arc::new(Indicators::builtin()));
        let ch = client_hello("relay-0a1b2c3d.net.anydesk.com", None);
        // The client's word alone: wait for the server; answered, a session; never answered
        // (the flow ended, or one direction is captured), below "high".
        assert_eq!(f.inspect(&ex(&ch, b"", false)), Outcome::NeedMore);
        let Outcome::Match(m) = f.inspect(&ex(&ch, b"", true)) else { panic!("no match") };
        assert_eq!((m.tool, m.confidence), (Tool::AnyDesk, CONFIDENCE_UNANSWERED));
        let Outcome::Match(m) = f.inspect(&ex(&ch, b"\x16\x03\x03", false)) else { panic!("no match") };
        assert_eq!((m.tool, m.method, m.confidence), (Tool::AnyDesk, Method::Name, CONFIDENCE_SESSION));
        let Evidence::Name(e) = &m.evidence else { panic!() };
        assert_eq!(
            (e.field, e.value.as_str(), e.pattern.as_str()),
            ("tls_sni", "relay-0a1b2c3d.net.anydesk.com", "net.anydesk.com")
        );
        assert!(e.tls.as_ref().is_some_and(|t| t.ja4.starts_with("t12d")));
    }

    #[test]
    fn alpn_and_listed_tools() {
        let mut ind = Indicators::builtin();
        ind.add_text("[[tool]]\nname = \"acme-rmm\"\ntitle = \"Acme RMM\"\ncategory = \"tunnel\"\ndomains = [\"acme-rmm.example\"]\n", std::path::Path::new("x.toml"))
            .unwrap();
        let f = NameFingerprint::new(Arc::new(ind));
        let ch = client_hello("www.example.org", Some("anydesk/6.2.0/linux"));
        let Outcome::Match(m) = f.inspect(&ex(&ch, b"", true)) else { panic!() };
        assert_eq!(m.tool, Tool::AnyDesk);
        let ch = client_hello("eu.acme-rmm.example", None);
        let Outcome::Match(m) = f.inspect(&ex(&ch, b"", true)) else { panic!() };
        assert_eq!(
            (m.tool, m.tool_name(), m.tool_title(), m.category()),
            (Tool::Listed, "acme-rmm", "Acme RMM", Category::Tunnel)
        );
    }

    #[test]
    fn http_host_user_agent_and_connect() {
        let f = NameFingerprint::new(Arc::new(Indicators::builtin()));
        let get = b"GET /din.aspx HTTP/1.1\r\nHost: router15.teamviewer.com\r\nUser-Agent: x\r\n\r\n";
        assert_eq!(f.inspect(&ex(get, b"", false)), Outcome::NeedMore);
        let Outcome::Match(m) = f.inspect(&ex(get, b"HTTP/1.1 200 OK\r\n\r\n", false)) else { panic!() };
        assert_eq!((m.tool, m.tool_name(), m.confidence), (Tool::TeamViewer, "teamviewer", CONFIDENCE_SESSION));
        let ua = b"GET /dout.aspx HTTP/1.0\r\nHost: 192.0.2.9\r\nUser-Agent: Mozilla/4.0 (compatible; MSIE 6.0; DynGate)\r\n\r\n";
        let Outcome::Match(m) = f.inspect(&ex(ua, b"", true)) else { panic!() };
        assert_eq!((m.tool, m.confidence), (Tool::TeamViewer, CONFIDENCE_UNANSWERED));
        let connect = b"CONNECT www.example.org:443 HTTP/1.1\r\nHost: www.example.org:443\r\n\r\n";
        assert_eq!(f.inspect(&ex(connect, b"", false)), Outcome::NeedMore, "the proxy's answer decides");
        let Outcome::Match(m) = f.inspect(&ex(connect, b"HTTP/1.1 200 Connection established\r\n\r\n", false)) else {
            panic!()
        };
        assert_eq!((m.tool, m.category(), m.confidence), (Tool::HttpConnect, Category::Proxy, CONFIDENCE_PROXY));
        let plain = b"GET / HTTP/1.1\r\nHost: www.example.org\r\n\r\n";
        assert_eq!(f.inspect(&ex(plain, b"", false)), Outcome::NoMatch);
        assert_eq!(f.inspect(&ex(&plain[..10], b"", false)), Outcome::NeedMore);
    }

    #[test]
    fn connect_is_a_tunnel_only_when_the_proxy_lets_it_through() {
        let f = NameFingerprint::new(Arc::new(Indicators::builtin()));
        let conf = |o: Outcome| match o {
            Outcome::Match(m) => Some((m.tool, m.confidence)),
            _ => None,
        };
        let req = b"CONNECT 192.0.2.5:3389 HTTP/1.1\r\nHost: 192.0.2.5:3389\r\n\r\n";
        let ok = b"HTTP/1.0 200 Connection established\r\n\r\n\x03\x00\x00\x13";
        assert_eq!(conf(f.inspect(&ex(req, ok, false))), Some((Tool::HttpConnect, CONFIDENCE_PROXY)));
        // Refused: no tunnel, whatever the reason.
        for refused in [
            &b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"[..],
            b"HTTP/1.1 403 Forbidden\r\n\r\n",
            b"SSH-2.0-x\r\n",
        ] {
            assert_eq!(f.inspect(&ex(req, refused, false)), Outcome::NoMatch);
        }
        // A target that is no host is no tunnel request (the proxy answers 400 or 500).
        for target in
            ["/", "192.0.2.5:0", "192.0.2.5:65536", "a b:1", ":443", "[::1:443", "[zz]:443", "host:+80", "http://a/"]
        {
            let r = format!("CONNECT {target} HTTP/1.1\r\n\r\n");
            let r: &'static [u8] = Box::leak(r.into_bytes().into_boxed_slice());
            assert_eq!(f.inspect(&ex(r, ok, false)), Outcome::NoMatch, "{target}");
        }
        let v6 = b"CONNECT [2001:db8::5]:22 HTTP/1.1\r\n\r\n";
        assert_eq!(conf(f.inspect(&ex(v6, ok, false))), Some((Tool::HttpConnect, CONFIDENCE_PROXY)));
        // A bare host (tinyproxy accepts it and picks the port): a tunnel only when accepted.
        let bare = b"CONNECT 192.0.2.5 HTTP/1.1\r\n\r\n";
        assert_eq!(conf(f.inspect(&ex(bare, ok, false))), Some((Tool::HttpConnect, CONFIDENCE_PROXY)));
        assert_eq!(f.inspect(&ex(bare, b"", true)), Outcome::NoMatch);
        assert_eq!(authority("[2001:db8::5]"), Some(("2001:db8::5", None)));
        assert_eq!(authority("2001:db8::5"), Some(("2001:db8::5", None)));
        assert_eq!(authority("a.test:443"), Some(("a.test", Some(443))));
        // Unanswered once the flow ended (or one direction captured): a request, no more.
        assert_eq!(conf(f.inspect(&ex(req, b"", true))), Some((Tool::HttpConnect, CONFIDENCE_PROXY_UNANSWERED)));
        assert_eq!(
            conf(f.inspect(&ex(req, b"HTTP/1.1 200 Conn", true))),
            Some((Tool::HttpConnect, CONFIDENCE_PROXY_UNANSWERED))
        );
        assert_eq!(f.inspect(&ex(req, b"HTTP/1.1 200 Conn", false)), Outcome::NeedMore);
        // 407, then the retry with credentials on the same connection.
        let mut two = req.to_vec();
        two.extend_from_slice(b"CONNECT 192.0.2.5:3389 HTTP/1.1\r\nProxy-Authorization: Basic eDp5\r\n\r\n");
        let mut answers = b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 4\r\n\r\nauth".to_vec();
        assert_eq!(f.inspect(&ex(&two, &answers, false)), Outcome::NeedMore);
        assert_eq!(f.inspect(&ex(req, &answers, false)), Outcome::NeedMore, "the retry may still come");
        assert_eq!(f.inspect(&ex(req, &answers, true)), Outcome::NoMatch);
        answers.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n");
        assert_eq!(conf(f.inspect(&ex(&two, &answers, false))), Some((Tool::HttpConnect, CONFIDENCE_PROXY)));
        // A header line without a colon, answered 200: the proxy let it through.
        let odd = b"CONNECT 192.0.2.5:3389 HTTP/1.1\r\nHost 192.0.2.5\r\n\r\n";
        assert_eq!(conf(f.inspect(&ex(odd, ok, false))), Some((Tool::HttpConnect, CONFIDENCE_PROXY)));
        // A target naming a tool: a session when let through, a lookup's weight when refused.
        let named = b"CONNECT relay.net.anydesk.com:443 HTTP/1.1\r\n\r\n";
        assert_eq!(conf(f.inspect(&ex(named, ok, false))), Some((Tool::AnyDesk, CONFIDENCE_SESSION)));
        let no = b"HTTP/1.1 403 Forbidden\r\n\r\n";
        assert_eq!(conf(f.inspect(&ex(named, no, false))), Some((Tool::AnyDesk, CONFIDENCE_LOOKUP)));
    }

    #[test]
    fn dns_lookup_of_a_tool_name() {
        let f = NameFingerprint::new(Arc::new(Indicators::builtin()));
        // A query for boot.net.anydesk.com (type A), RFC 1035 §4.1.
        let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        for label in ["boot", "net", "anydesk", "com"] {
            q.push(label.len() as u8);
            q.extend_from_slice(label.as_bytes());
        }
        q.extend_from_slice(&[0, 0, 1, 0, 1]);
        let mut r = q.clone();
        r[2] = 0x81;
        r[3] = 0x80;
        r[7] = 1;
        r.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 7]);
        let dns_ex = |o: &'static [u8], r: &'static [u8], fin| Exchange {
            transport: Transport::Udp,
            orig: o,
            resp: r,
            orig_port: 5353,
            resp_port: 53,
            finished: fin,
            datagrams: &[],
        };
        let q: &'static [u8] = Box::leak(q.into_boxed_slice());
        let r: &'static [u8] = Box::leak(r.into_boxed_slice());
        assert_eq!(f.inspect(&dns_ex(q, b"", false)), Outcome::NeedMore);
        let Outcome::Match(m) = f.inspect(&dns_ex(q, r, false)) else { panic!() };
        assert_eq!((m.tool, m.confidence), (Tool::AnyDesk, CONFIDENCE_LOOKUP));
        let Evidence::Name(e) = &m.evidence else { panic!() };
        assert_eq!((e.field, e.answers.as_slice()), ("dns_query", &["192.0.2.7".to_string()][..]));
        assert!(matches!(f.inspect(&dns_ex(q, b"", true)), Outcome::Match(_)));
    }

    #[test]
    fn answers_attribute_later_flows_of_the_same_endpoint() {
        let e = NameEvidence {
            tool_name: "rustdesk".into(),
            tool_title: "RustDesk".into(),
            category: Category::RemoteControl,
            field: "dns_query",
            value: "rs-ny.rustdesk.com".into(),
            pattern: "rustdesk.com".into(),
            source: "builtin".into(),
            tls: None,
            answers: vec!["203.0.113.21".into(), "rs-ny.example".into()],
        };
        let mut c = NameCache::default();
        let laptop = Addr::v4([10, 30, 0, 10]);
        c.learn(laptop, Tool::RustDesk, &e, 1_000);
        assert_eq!(c.len(), 1);
        let m = c.lookup(laptop, Addr::v4([203, 0, 113, 21]), 2_000).unwrap();
        assert_eq!((m.tool, m.confidence, m.method), (Tool::RustDesk, CONFIDENCE_ANSWERED, Method::Name));
        let Evidence::Name(n) = &m.evidence else { panic!() };
        assert_eq!((n.field, n.value.as_str()), ("dns_answer", "rs-ny.rustdesk.com -> 203.0.113.21"));
        assert!(c.lookup(Addr::v4([10, 30, 0, 11]), Addr::v4([203, 0, 113, 21]), 2_000).is_none(), "other endpoint");
        assert!(c.lookup(laptop, Addr::v4([203, 0, 113, 21]), 1_000 + ANSWER_TTL).is_none(), "expired");
        for i in 0..(MAX_ANSWERS as u32 + 5) {
            let mut e2 = e.clone();
            e2.answers = vec![std::net::Ipv4Addr::from(i).to_string()];
            c.learn(laptop, Tool::RustDesk, &e2, 5_000);
        }
        assert!(c.len() <= MAX_ANSWERS);
    }

    #[test]
    fn dns_over_tcp() {
        let f = NameFingerprint::new(Arc::new(Indicators::builtin()));
        let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        for label in ["router7", "teamviewer", "com"] {
            q.push(label.len() as u8);
            q.extend_from_slice(label.as_bytes());
        }
        q.extend_from_slice(&[0, 0, 1, 0, 1]);
        let mut stream = (q.len() as u16).to_be_bytes().to_vec();
        stream.extend_from_slice(&q);
        let Outcome::Match(m) = f.inspect(&ex(&stream, b"", false)) else { panic!() };
        assert_eq!(m.tool, Tool::TeamViewer);
        for len in 0..stream.len() {
            assert_ne!(f.inspect(&ex(&stream[..len], b"", true)), Outcome::NeedMore);
        }
    }

    #[test]
    fn tor_names() {
        let cert = |s: &str, i: &str, o: Option<&str>| tls::Certificate {
            subject_cn: Some(s.into()),
            subject_o: o.map(Into::into),
            issuer_cn: Some(i.into()),
            issuer_o: None,
            san_dns: vec![],
            self_signed: false,
        };
        assert!(tor_shaped("www.q4vxd3ifp2b.com", &cert("www.m7a5jlz3.net", "www.ukxq2gvtfmd.com", None)));
        assert!(!tor_shaped("www.example.com", &cert("www.example.com", "www.digicert.com", Some("DigiCert"))));
        assert!(!tor_shaped("www.q4vxd3ifp2b.com", &cert("www.m7a5jlz3.net", "www.m7a5jlz3.net", None)));
        assert!(!tor_shaped("mail.q4vxd3ifp2b.com", &cert("www.m7a5jlz3.net", "www.ukxq2gvtfmd.com", None)));
        assert!(!random_www("www.Example.com", "com"));
    }

    /// A TLS 1.3 ServerHello record (RFC 8446 §4.1.3: supported_versions selects 0x0304; or
    /// without the extension, a TLS 1.2 one),
    /// then the change_cipher_spec record a middlebox-compatible server sends.
    fn server_hello13(tls13: bool) -> Vec<u8> {
        let mut body = vec![3, 3];
        body.extend_from_slice(&[9u8; 32]);
        body.push(0);
        body.extend_from_slice(&[0x13, 0x02, 0]);
        if tls13 {
            body.extend_from_slice(&[0, 6, 0, 0x2b, 0, 2, 3, 4]);
        }
        let mut hs = vec![2];
        hs.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        hs.extend(body);
        let mut rec = vec![22, 3, 3];
        rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
        rec.extend(hs);
        rec.extend_from_slice(&[20, 3, 3, 0, 1, 1]);
        rec
    }

    /// Application-data records of these lengths.
    fn app_records(lens: &[usize]) -> Vec<u8> {
        lens.iter()
            .flat_map(|&l| {
                let mut r = vec![23, 3, 3];
                r.extend_from_slice(&(l as u16).to_be_bytes());
                r.resize(5 + l, 0xa5);
                r
            })
            .collect()
    }

    #[test]
    fn tor_over_tls13_by_its_name_and_its_cells() {
        // As tor 0.4.9 does (tests/cases/own-tor-tls13): random www.<base32>.com, no ALPN,
        // TLS 1.3; then records of 1, 2 and 4 cells (531, 1045, 2073 bytes).
        let f = NameFingerprint::new(Arc::new(Indicators::builtin()));
        let sh = server_hello13(true);
        let server = [sh.clone(), app_records(&[23, 605, 281, 69, 74, 74, 2063])].concat();
        let client =
            |sni: &str, alpn: Option<&str>, lens: &[usize]| [client_hello(sni, alpn), app_records(lens)].concat();
        let tor = client("www.ptn3msddu3t5pxta3ob2tt3t.com", None, &[69, 28, 1045, 2073, 531]);
        let Outcome::Match(m) = f.inspect(&ex(&tor, &server, false)) else { panic!("no match") };
        assert_eq!((m.tool, m.confidence), (Tool::Tor, CONFIDENCE_TOR));
        let Evidence::Name(e) = &m.evidence else { panic!() };
        assert_eq!(e.field, "tls_records");
        // Two cell records so far: wait; at the end of the flow: no.
        let short = client("www.lg7i5.com", None, &[69, 28, 1045, 531]);
        assert_eq!(f.inspect(&ex(&short, &server, false)), Outcome::NeedMore);
        assert_eq!(f.inspect(&ex(&short, &server, true)), Outcome::NoMatch);
        // The server's cells count too.
        let more = [server.clone(), app_records(&[531])].concat();
        assert!(matches!(f.inspect(&ex(&short, &more, false)), Outcome::Match(m) if m.tool == Tool::Tor));
        // Not Tor: an ALPN, a name outside Tor's alphabet or length, a cell-free stream, or
        // records one byte off the cell size.
        for (sni, alpn, lens) in [
            ("www.lg7i5.com", Some("h2"), &[1045usize, 1045, 531][..]),
            ("www.lg8i9.com", None, &[1045, 1045, 531]),
            ("www.abc.com", None, &[1045, 1045, 531]),
            ("www.abcdefghijklmnopqrstuvwxyz.com", None, &[1045, 1045, 531]),
            ("www.lg7i5.net", None, &[1045, 1045, 531]),
            ("www.lg7i5.com", None, &[1046, 1044, 530, 532, 514, 17]),
        ] {
            let c = client(sni, alpn, lens);
            let got = f.inspect(&ex(&c, &server, true));
            assert!(!matches!(got, Outcome::Match(ref m) if m.tool == Tool::Tor), "{sni} {alpn:?} {lens:?}: {got:?}");
        }
        // TLS 1.2 (no supported_versions in the answer): the certificate rule's, not this one.
        let sh12 = server_hello13(false);
        let c = client("www.lg7i5.com", None, &[1045, 1045, 531]);
        assert!(!matches!(f.inspect(&ex(&c, &sh12, true)), Outcome::Match(ref m) if m.tool == Tool::Tor));
        assert!(
            tor_client_name("www.2345.com") && !tor_client_name("www.LG7I5.com") && !tor_client_name("www.lg7i5.com.")
        );
    }

    #[test]
    fn unnamed_tls_waits_for_the_server_then_gives_up() {
        let f = NameFingerprint::new(Arc::new(Indicators::builtin()));
        let ch = client_hello("www.example.org", Some("h2"));
        assert_eq!(f.inspect(&ex(&ch, b"", false)), Outcome::NeedMore);
        assert_eq!(f.inspect(&ex(&ch, b"", true)), Outcome::NoMatch);
        for len in 0..ch.len() {
            let _ = f.inspect(&ex(&ch[..len], &ch[..len], true));
            assert_ne!(f.inspect(&ex(&ch[..len], b"", true)), Outcome::NeedMore);
        }
        assert_eq!(f.inspect(&ex(b"SSH-2.0-OpenSSH_9.2\r\n", b"", false)), Outcome::NoMatch);
    }
}
