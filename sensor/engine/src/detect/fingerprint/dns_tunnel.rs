//! DNS tunnel fingerprint: data carried in the names of DNS queries (iodine, dnscat2,
//! dns2tcp style), recognised over a flow's queries rather than one packet.
//!
//! Facts used: tunnels encode data in the labels left of a domain the tunnel operator
//! controls, so one flow's queries share one parent domain while their left-hand labels are
//! long and high-entropy (base32/base64/base128 encodings, up to 63 bytes a label, RFC 1035
//! §2.3.4); and they prefer record types that carry bulk data back — NULL (RFC 1035 §3.3.10,
//! practically unused otherwise), TXT, private-use types (65280–65534), CNAME/MX/SRV.
//! Ordinary clients ask for A/AAAA/HTTPS of short, pronounceable names, usually one query
//! per source port.
//!
//! # Contract
//! - [`starts_watch`] decides from a flow's first query whether the flow is worth watching
//!   (tunnel-shaped first query): ordinary lookups cost nothing more.
//! - [`DnsTally::add`] folds one parsed query into a small fixed-size tally (no growth with
//!   the number of queries beyond [`MAX_PARENTS`] parents); a query repeating the previous one
//!   (a retry) is not counted, so no single query, however often sent, makes a tunnel.
//! - [`verdict`] is pure: a [`Match`] when at least [`MIN_QUERIES`] queries mostly under one
//!   parent are tunnel-shaped, else `None`.
//! - [`DnsTunnelWatch`] runs all this as a flow watch (`crate::detect::watch`): started by a
//!   UDP flow's first datagram when it is a tunnel-shaped query from the initiator, fed each
//!   later query, full after [`WATCH_QUERIES`].

use super::Interest;
use crate::decode::PacketView;
use crate::detect::watch::{FlowWatch, Watching};
use farhand_model::Role;
use farhand_model::evidence::DnsTunnelEvidence;
use farhand_model::evidence::Evidence;
use farhand_model::tool::Transport;
use farhand_model::tool::{Match, Method, Tool};
use farhand_proto::dns::{self, Message, label_stats};

/// Queries a flow must carry before it can be called a tunnel.
pub const MIN_QUERIES: u16 = 6;
/// Queries after which the watch decides.
pub const WATCH_QUERIES: u16 = 16;
/// Subdomain bytes (labels left of the parent, dots excluded) that count as long.
pub const LONG_SUBDOMAIN: usize = 20;
/// Entropy (bits per character) of the subdomain that counts as high for names of at least
/// [`ENTROPY_MIN_LEN`] characters.
pub const HIGH_ENTROPY: f64 = 3.5;
/// Shortest subdomain whose entropy is considered.
pub const ENTROPY_MIN_LEN: usize = 12;
/// Parent domains tracked per flow.
pub const MAX_PARENTS: usize = 4;
/// Confidence: tunnel-shaped names and data-carrying record types.
pub const CONFIDENCE_STRONG: u8 = 90;
/// Confidence: one of the two.
pub const CONFIDENCE: u8 = 80;

/// Record types that carry bulk data back to a tunnel client.
fn data_type(qtype: u16) -> bool {
    matches!(qtype, 10 | 16 | 5 | 15 | 33 | 255) || (65280..=65534).contains(&qtype)
}

fn parent(name: &str) -> &str {
    let mut dots = name.rmatch_indices('.');
    match (dots.next(), dots.next()) {
        (Some(_), Some((i, _))) => name.get(i + 1..).unwrap_or(name),
        _ => name,
    }
}

fn tunnel_shaped(name: &str) -> bool {
    let st = label_stats(name);
    st.subdomain_len >= LONG_SUBDOMAIN
        || (st.subdomain_len >= ENTROPY_MIN_LEN && st.entropy_bits_per_char >= HIGH_ENTROPY)
}

/// Whether a flow whose first query is `m` should be watched for tunnelling.
pub fn starts_watch(m: &Message) -> bool {
    !m.response && m.questions.iter().any(|q| data_type(q.qtype) || tunnel_shaped(&q.name))
}

/// Counters over a flow's queries.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DnsTally {
    /// Queries seen (a repeat of the previous query — a resolver's retry — is not counted).
    pub queries: u16,
    /// Queries for a data-carrying record type.
    pub data_types: u16,
    /// Queries with a long or high-entropy subdomain.
    pub shaped: u16,
    /// Sum of subdomain lengths.
    pub subdomain_bytes: u32,
    /// Longest label seen.
    pub longest_label: u16,
    /// Parent domains and how many queries each had.
    pub parents: Vec<(String, u16)>,
    /// The most frequent query type and its count.
    pub qtypes: Vec<(u16, u16)>,
    /// The previous query's name and type, hashed: a retry of one query adds no weight.
    last: Option<u64>,
}

impl DnsTally {
    /// Folds in one message (responses are ignored).
    pub fn add(&mut self, m: &Message) {
        if m.response {
            return;
        }
        let Some(q) = m.questions.first() else { return };
        let key = {
            use std::hash::{Hash, Hasher};
            let mut h = std::hash::DefaultHasher::new();
            (&q.name, q.qtype).hash(&mut h);
            h.finish()
        };
        if self.last.replace(key) == Some(key) {
            return;
        }
        self.queries = self.queries.saturating_add(1);
        if data_type(q.qtype) {
            self.data_types = self.data_types.saturating_add(1);
        }
        if tunnel_shaped(&q.name) {
            self.shaped = self.shaped.saturating_add(1);
        }
        let st = label_stats(&q.name);
        self.subdomain_bytes = self.subdomain_bytes.saturating_add(st.subdomain_len as u32);
        self.longest_label = self.longest_label.max(st.longest_label.min(usize::from(u16::MAX)) as u16);
        bump(&mut self.parents, parent(&q.name));
        bump(&mut self.qtypes, &q.qtype);
    }
}

/// The DNS-tunnel watch (see the module contract).
#[derive(Debug, Clone, Copy)]
pub struct DnsTunnelWatch;

/// A query of the flow's initiator, parsed (each datagram once).
fn initiator_query(v: &PacketView<'_>, role: Role) -> Option<Message> {
    if v.transport != Transport::Udp || role != Role::Initiator {
        return None;
    }
    dns::parse(v.payload).ok()
}

impl FlowWatch for DnsTunnelWatch {
    fn name(&self) -> &'static str {
        Tool::DnsTunnel.name()
    }
    fn version(&self) -> &'static str {
        "1"
    }
    fn interest(&self) -> Interest {
        Interest::udp(0)
    }
    fn start(&self, v: &PacketView<'_>, role: Role) -> Option<Box<dyn Watching>> {
        if !dns::probe(v.payload) {
            return None;
        }
        let m = initiator_query(v, role)?;
        if !starts_watch(&m) {
            return None;
        }
        let mut t = DnsTally::default();
        t.add(&m);
        Some(Box::new(t))
    }
}

impl Watching for DnsTally {
    fn on_packet(&mut self, v: &PacketView<'_>, role: Role) {
        if let Some(m) = initiator_query(v, role) {
            self.add(&m);
        }
    }
    fn full(&self) -> bool {
        self.queries >= WATCH_QUERIES
    }
    fn verdict(&self) -> Option<Match> {
        verdict(self)
    }
}

/// Counts `k` in a small bounded list (new keys beyond [`MAX_PARENTS`] are not tracked).
fn bump<K: PartialEq + ?Sized + ToOwned<Owned = O>, O: std::borrow::Borrow<K>>(list: &mut Vec<(O, u16)>, k: &K) {
    if let Some((_, c)) = list.iter_mut().find(|(n, _)| n.borrow() == k) {
        *c = c.saturating_add(1);
    } else if list.len() < MAX_PARENTS {
        list.push((k.to_owned(), 1));
    }
}

/// The tunnel verdict over a tally.
pub fn verdict(t: &DnsTally) -> Option<Match> {
    if t.queries < MIN_QUERIES {
        return None;
    }
    let (parent, top) = t.parents.iter().max_by_key(|(_, c)| *c)?;
    let share = |n: u16| u32::from(n) * 4 >= u32::from(t.queries) * 3; // ≥ 75 %
    let half = |n: u16| u32::from(n) * 2 >= u32::from(t.queries);
    if !share(*top) {
        return None;
    }
    let mean = t.subdomain_bytes / u32::from(t.queries);
    let shaped = half(t.shaped) && mean as usize >= LONG_SUBDOMAIN / 2;
    let typed = half(t.data_types);
    let confidence = match (shaped, typed) {
        (true, true) => CONFIDENCE_STRONG,
        (true, false) | (false, true) => CONFIDENCE,
        (false, false) => return None,
    };
    Some(Match {
        tool: Tool::DnsTunnel,
        confidence,
        method: Method::PayloadStructure,
        evidence: Evidence::DnsTunnel(DnsTunnelEvidence {
            parent_domain: parent.clone(),
            queries: t.queries,
            queries_to_parent: *top,
            data_type_queries: t.data_types,
            shaped_queries: t.shaped,
            mean_subdomain_len: mean,
            longest_label: t.longest_label,
            qtypes: t.qtypes.clone(),
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use farhand_proto::dns::Question;

    fn query(name: &str, qtype: u16) -> Message {
        Message {
            id: 1,
            response: false,
            opcode: 0,
            rcode: 0,
            questions: vec![Question { name: name.into(), qtype }],
            answers: vec![],
            truncated: false,
            answer_count: 0,
            authority_count: 0,
            additional_count: 0,
        }
    }

    #[test]
    fn iodine_like_flow_is_a_tunnel() {
        let mut t = DnsTally::default();
        let first = query("vaaaakardli.pirate.sea", 10);
        assert!(starts_watch(&first));
        t.add(&first);
        for i in 0..10 {
            t.add(&query(&format!("0{i}ab5xk2mqz8wq0n4t7vby3c6hdl9kr1e.pirate.sea"), 10));
        }
        let m = verdict(&t).unwrap();
        assert_eq!((m.tool, m.confidence), (Tool::DnsTunnel, CONFIDENCE_STRONG));
        let Evidence::DnsTunnel(e) = m.evidence else { panic!() };
        assert_eq!((e.parent_domain.as_str(), e.queries, e.data_type_queries), ("pirate.sea", 11, 11));
    }

    #[test]
    fn one_query_retried_is_no_tunnel() {
        // A resolver retrying one tunnel-shaped TXT query: one query's weight, however often.
        let mut t = DnsTally::default();
        let q = query("0aab5xk2mqz8wq0n4t7vby3c6hdl9kr1e.pirate.sea", 16);
        for _ in 0..12 {
            t.add(&q);
        }
        assert_eq!(t.queries, 1);
        assert!(verdict(&t).is_none());
        // Alternating two names is two queries at a time, not a retry.
        let r = query("1bbc6yl3nra9xr1o5u8wcz4d7iem0ls2f.pirate.sea", 16);
        for _ in 0..3 {
            t.add(&r);
            t.add(&q);
        }
        assert_eq!(t.queries, 7);
        assert!(verdict(&t).is_some());
    }

    #[test]
    fn ordinary_lookups_are_not() {
        for (n, t) in [("www.example.org", 1), ("mail.google.com", 28), ("_dmarc.example.org", 1)] {
            assert!(!starts_watch(&query(n, t)), "{n}");
        }
        // Many short A lookups to one domain (a browser loading a site): not a tunnel.
        let mut t = DnsTally::default();
        for i in 0..20 {
            t.add(&query(&format!("img{i}.cdn.example.net"), 1));
        }
        assert!(verdict(&t).is_none());
        // Long names spread over many parents (a resolver's upstream traffic): not a tunnel.
        let mut t = DnsTally::default();
        for i in 0..20 {
            t.add(&query(&format!("averyveryverylongsubdomainlabel.site{i}.example"), 16));
        }
        assert!(verdict(&t).is_none());
        // Too few queries.
        let mut t = DnsTally::default();
        for _ in 0..3 {
            t.add(&query("x0x0x0x0x0x0x0x0x0x0x0x0.pirate.sea", 10));
        }
        assert!(verdict(&t).is_none());
    }

    #[test]
    fn tally_is_bounded() {
        let mut t = DnsTally::default();
        for i in 0..1000u32 {
            t.add(&query(&format!("a.d{i}.example"), (i % 300) as u16));
        }
        assert!(t.parents.len() <= MAX_PARENTS && t.qtypes.len() <= MAX_PARENTS);
        assert_eq!(t.queries, 1000);
        t.add(&Message { questions: vec![], ..query("x.y", 1) });
        assert_eq!(t.queries, 1000);
    }
}
