//! DNS message parser: what an endpoint looked up and what it was told.
//!
//! # Contract
//! - [`probe`] is a cheap header plausibility test for a UDP payload; [`parse`] decodes one
//!   message (a UDP payload); [`parse_tcp`] decodes the first message of a TCP stream.
//! - Pure, never panics, zero-copy over the input: the only allocations are the small owned
//!   [`Message`] (names as `String`, at most [`MAX_QUESTIONS`] questions and
//!   [`MAX_ANSWERS`] answers kept). Header counts are never used to size anything before the
//!   records are found in the input.
//! - Names are lower-case, without a trailing dot; the root name is the empty string. Label
//!   bytes outside printable ASCII, `.` and `\` are written as `\DDD` (decimal, as in the
//!   RFC 1035 §5.1 presentation format), so a binary tunnel label stays one label.
//! - This parser is on the per-packet path for DNS traffic, so it does one pass over the
//!   bytes, follows compression pointers without recursion and decodes names only for the
//!   records it keeps.
//!
//! # Facts used
//! - RFC 1035 §4.1.1: 12-byte header — ID, flags (QR, 4-bit OPCODE, AA, TC, RD, RA, Z, RCODE;
//!   RFC 4035 gives two of the Z bits to AD and CD, one Z bit remains and must be zero),
//!   then QDCOUNT, ANCOUNT, NSCOUNT, ARCOUNT.
//! - RFC 1035 §4.1.2–§4.1.3: a question is a name, QTYPE, QCLASS; a resource record is a
//!   name, TYPE, CLASS, 32-bit TTL, RDLENGTH and RDLENGTH bytes of RDATA.
//! - RFC 1035 §3.1 / §2.3.4: labels are at most 63 bytes; a name is at most 255 bytes in wire
//!   form (length bytes and the terminating zero included).
//! - RFC 1035 §4.1.4: a byte with the top two bits `11` starts a 2-byte compression pointer
//!   (14-bit offset from the start of the message); `01` and `10` are reserved (RFC 6891 §5
//!   retired the extended label types). Pointers here must point strictly backwards —
//!   before the start of the name for the first pointer, before the previous pointer's
//!   target afterwards — which makes loops impossible; a hop limit bounds the work besides.
//! - OPCODEs (IANA): 0 QUERY, 1 IQUERY (obsolete), 2 STATUS, 4 NOTIFY, 5 UPDATE; 3 is
//!   unassigned.
//! - RFC 1035 §3.4.1: A RDATA is 4 bytes; RFC 3596 §2.2: AAAA RDATA is 16 bytes; RFC 1035
//!   §3.3.1: CNAME RDATA is a (compressible) name, and so is PTR RDATA (§3.3.12); §3.3.14 TXT and §3.3.10 NULL carry
//!   opaque bytes (the length is what tunnel detection needs).
//! - RFC 1035 §4.2.2: over TCP each message is preceded by a 2-byte big-endian length.

use crate::step::{Layer, Reason, Step};
use serde::Serialize;
use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

/// Length of the fixed DNS header (RFC 1035 §4.1.1).
pub const HEADER_LEN: usize = 12;
/// Most questions a message may carry for [`probe`] and [`parse`] (real traffic uses 1).
pub const MAX_QUESTIONS: usize = 4;
/// Most answer records kept in [`Message::answers`]; later ones are validated, not kept.
pub const MAX_ANSWERS: usize = 32;
/// Largest header record count (per section) [`probe`] finds plausible.
pub const MAX_PROBE_RR_COUNT: u16 = 256;
/// Longest name in wire form, length bytes and root included (RFC 1035 §3.1).
pub const MAX_NAME_WIRE_LEN: usize = 255;
/// Longest label (RFC 1035 §2.3.4).
pub const MAX_LABEL_LEN: usize = 63;
/// Most compression pointers followed while reading one name.
pub const MAX_POINTER_HOPS: usize = 16;
/// Highest OPCODE accepted (5 = UPDATE).
pub const MAX_OPCODE: u8 = 5;
/// Smallest question in wire form: root name, QTYPE, QCLASS.
const MIN_QUESTION_LEN: usize = 5;
/// Smallest resource record in wire form: root name and the 10 fixed bytes.
const MIN_RR_LEN: usize = 11;
/// Fixed part of a resource record after its name: TYPE, CLASS, TTL, RDLENGTH.
const RR_FIXED_LEN: usize = 10;
/// Fixed part of a question after its name: QTYPE, QCLASS.
const QUESTION_FIXED_LEN: usize = 4;
/// Length prefix of a DNS message over TCP (RFC 1035 §4.2.2).
const TCP_PREFIX_LEN: usize = 2;
/// Initial capacity of a decoded name (most names are shorter).
const NAME_CAPACITY: usize = 64;

/// RR type A (RFC 1035).
pub const TYPE_A: u16 = 1;
/// RR type CNAME (RFC 1035).
pub const TYPE_CNAME: u16 = 5;
/// RR type PTR (RFC 1035).
pub const TYPE_PTR: u16 = 12;
/// RR type NULL (RFC 1035).
pub const TYPE_NULL: u16 = 10;
/// RR type TXT (RFC 1035).
pub const TYPE_TXT: u16 = 16;
/// RR type AAAA (RFC 3596).
pub const TYPE_AAAA: u16 = 28;

/// OPCODE 3 is unassigned (IANA DNS OPCODE registry).
const OPCODE_UNASSIGNED: u8 = 3;
/// The last remaining Z bit of the flags word (must be zero, RFC 1035 §4.1.1).
const FLAG_Z: u16 = 0x0040;
const FLAG_QR: u16 = 0x8000;
const FLAG_TC: u16 = 0x0200;
const POINTER_TAG: u8 = 0xC0;
const LABEL_TYPE_MASK: u8 = 0xC0;
const POINTER_HIGH_MASK: u8 = 0x3F;

/// A decoded DNS message (the parts farhand uses).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Message {
    /// Transaction ID.
    pub id: u16,
    /// QR bit: this is a response.
    pub response: bool,
    /// OPCODE (0 QUERY … 5 UPDATE).
    pub opcode: u8,
    /// RCODE (low 4 bits of the header; 3 = NXDOMAIN).
    pub rcode: u8,
    /// The question section (at most [`MAX_QUESTIONS`]).
    pub questions: Vec<Question>,
    /// The answer section, at most [`MAX_ANSWERS`] records kept.
    pub answers: Vec<Answer>,
    /// TC bit: the sender truncated the message. Records missing from a truncated message
    /// are not an error; what was complete is returned.
    pub truncated: bool,
    /// ANCOUNT from the header (may exceed `answers.len()`).
    pub answer_count: u16,
    /// NSCOUNT from the header.
    pub authority_count: u16,
    /// ARCOUNT from the header.
    pub additional_count: u16,
}

/// One question.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Question {
    /// Queried name (lower-case, no trailing dot).
    pub name: String,
    /// QTYPE.
    pub qtype: u16,
}

/// One answer record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Answer {
    /// Owner name (lower-case, no trailing dot).
    pub name: String,
    /// TYPE.
    pub rtype: u16,
    /// TTL in seconds, as sent.
    pub ttl: u32,
    /// The decoded RDATA.
    pub data: RData,
}

/// Decoded RDATA of an answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RData {
    /// An IPv4 address (type A, class-independent).
    A(Ipv4Addr),
    /// An IPv6 address (type AAAA).
    Aaaa(Ipv6Addr),
    /// A canonical name (type CNAME).
    Cname(String),
    /// A domain name pointer (type PTR: the name of a reverse-lookup address).
    Ptr(String),
    /// Text record: RDATA length in bytes.
    Txt {
        /// RDLENGTH.
        len: usize,
    },
    /// NULL record: RDATA length in bytes.
    Null {
        /// RDLENGTH.
        len: usize,
    },
    /// Any other type: RDATA length in bytes.
    Other {
        /// RDLENGTH.
        len: usize,
    },
}

/// Why a message could not be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DnsError {
    /// The message ends inside a header, name, record or RDATA.
    #[error("message truncated")]
    Truncated,
    /// Header values outside what this parser accepts (too many questions, Z bit set).
    #[error("implausible DNS header")]
    Header,
    /// A reserved label type (`01` or `10` top bits).
    #[error("reserved label type")]
    LabelType,
    /// A name longer than 255 bytes in wire form.
    #[error("name longer than 255 bytes")]
    NameTooLong,
    /// A compression pointer that is not strictly backwards, or too many of them.
    #[error("bad compression pointer")]
    Pointer,
    /// RDATA whose length does not fit its type (A not 4 bytes, CNAME name overruns).
    #[error("RDATA inconsistent with its type")]
    Rdata,
}

/// Decoded header fields.
#[derive(Debug, Clone, Copy)]
struct Header {
    id: u16,
    flags: u16,
    qdcount: u16,
    ancount: u16,
    nscount: u16,
    arcount: u16,
}

impl Header {
    fn read(msg: &[u8]) -> Option<Self> {
        let h: &[u8; HEADER_LEN] = msg.first_chunk()?;
        let [i0, i1, f0, f1, q0, q1, a0, a1, n0, n1, r0, r1] = *h;
        Some(Self {
            id: u16::from_be_bytes([i0, i1]),
            flags: u16::from_be_bytes([f0, f1]),
            qdcount: u16::from_be_bytes([q0, q1]),
            ancount: u16::from_be_bytes([a0, a1]),
            nscount: u16::from_be_bytes([n0, n1]),
            arcount: u16::from_be_bytes([r0, r1]),
        })
    }

    fn opcode(self) -> u8 {
        // Four bits: the cast cannot lose information.
        ((self.flags >> 11) & 0x0F) as u8
    }

    fn rcode(self) -> u8 {
        (self.flags & 0x000F) as u8
    }

    /// Checks shared by [`probe`] and [`parse`].
    fn flags_plausible(self) -> bool {
        let op = self.opcode();
        op <= MAX_OPCODE && op != OPCODE_UNASSIGNED && self.flags & FLAG_Z == 0
    }
}

/// Header plausibility of a UDP payload: at least a header, QDCOUNT 1..=[`MAX_QUESTIONS`],
/// a known OPCODE (0–5 except the unassigned 3), the Z bit clear, each record count at most
/// [`MAX_PROBE_RR_COUNT`], the counts' minimal wire size within the payload, and a first
/// question name that starts with a label length. Constant time.
pub fn probe(udp_payload: &[u8]) -> bool {
    let Some(h) = Header::read(udp_payload) else {
        return false;
    };
    if h.qdcount == 0 || usize::from(h.qdcount) > MAX_QUESTIONS || !h.flags_plausible() {
        return false;
    }
    if h.ancount > MAX_PROBE_RR_COUNT || h.nscount > MAX_PROBE_RR_COUNT || h.arcount > MAX_PROBE_RR_COUNT {
        return false;
    }
    let rrs = usize::from(h.ancount) + usize::from(h.nscount) + usize::from(h.arcount);
    let min_len = HEADER_LEN + usize::from(h.qdcount) * MIN_QUESTION_LEN + rrs * MIN_RR_LEN;
    if udp_payload.len() < min_len {
        return false;
    }
    matches!(udp_payload.get(HEADER_LEN), Some(&b) if usize::from(b) <= MAX_LABEL_LEN)
}

/// Parses one DNS message (a UDP payload, or a TCP message without its length prefix).
///
/// Questions and answers are decoded; authority and additional records are walked and
/// validated but not kept. Bytes after the last record are ignored.
pub fn parse(msg: &[u8]) -> Result<Message, DnsError> {
    let h = Header::read(msg).ok_or(DnsError::Truncated)?;
    if usize::from(h.qdcount) > MAX_QUESTIONS || !h.flags_plausible() {
        return Err(DnsError::Header);
    }
    let truncated = h.flags & FLAG_TC != 0;
    let mut out = Message {
        id: h.id,
        response: h.flags & FLAG_QR != 0,
        opcode: h.opcode(),
        rcode: h.rcode(),
        questions: Vec::with_capacity(usize::from(h.qdcount)),
        answers: Vec::new(),
        truncated,
        answer_count: h.ancount,
        authority_count: h.nscount,
        additional_count: h.arcount,
    };
    let mut pos = HEADER_LEN;
    for _ in 0..h.qdcount {
        let (name, after) = read_name(msg, pos)?;
        let fixed: &[u8; QUESTION_FIXED_LEN] =
            msg.get(after..).and_then(<[u8]>::first_chunk).ok_or(DnsError::Truncated)?;
        let [t0, t1, _, _] = *fixed;
        out.questions.push(Question { name, qtype: u16::from_be_bytes([t0, t1]) });
        pos = after + QUESTION_FIXED_LEN;
    }
    match parse_records(msg, pos, &h, &mut out) {
        Ok(()) => Ok(out),
        // RFC 2181 §9: a truncated message may lack records; keep what was complete.
        Err(DnsError::Truncated) if truncated => Ok(out),
        Err(e) => Err(e),
    }
}

/// Walks the answer, authority and additional sections, keeping the first answers.
fn parse_records(msg: &[u8], mut pos: usize, h: &Header, out: &mut Message) -> Result<(), DnsError> {
    // Capacity bounded by both the cap and what the bytes can hold.
    let room = msg.len().saturating_sub(pos) / MIN_RR_LEN;
    out.answers = Vec::with_capacity(usize::from(h.ancount).min(MAX_ANSWERS).min(room));
    for _ in 0..h.ancount {
        let keep = out.answers.len() < MAX_ANSWERS;
        let rr = read_rr(msg, pos, keep)?;
        pos = rr.next;
        if let Some(a) = rr.answer {
            out.answers.push(a);
        }
    }
    let others = u32::from(h.nscount) + u32::from(h.arcount);
    for _ in 0..others {
        pos = read_rr(msg, pos, false)?.next;
    }
    Ok(())
}

/// Parses the first DNS message of a TCP stream (2-byte length prefix, RFC 1035 §4.2.2).
///
/// `Incomplete` while the prefix or message is not all there (but `Invalid` as soon as a
/// complete header is implausible), `Invalid` when the message does not parse.
pub fn parse_tcp(stream: &[u8]) -> Step<Message> {
    let Some(&[l0, l1]) = stream.first_chunk::<TCP_PREFIX_LEN>() else {
        return Step::Incomplete;
    };
    let len = usize::from(u16::from_be_bytes([l0, l1]));
    if len < HEADER_LEN {
        return Step::invalid(Layer::Dns, 0, Reason::BadLength);
    }
    let body = stream.get(TCP_PREFIX_LEN..).unwrap_or_default();
    match body.get(..len) {
        Some(msg) => match parse(msg) {
            Ok(m) => Step::Done(m),
            Err(_) => Step::invalid(Layer::Dns, TCP_PREFIX_LEN, Reason::BadValue),
        },
        None => match Header::read(body) {
            Some(h) if usize::from(h.qdcount) > MAX_QUESTIONS => {
                Step::invalid(Layer::Dns, TCP_PREFIX_LEN + 4, Reason::OverLimit)
            }
            Some(h) if !h.flags_plausible() => Step::invalid(Layer::Dns, TCP_PREFIX_LEN + 2, Reason::BadValue),
            _ => Step::Incomplete,
        },
    }
}

/// One resource record read from the message.
struct Rr {
    answer: Option<Answer>,
    next: usize,
}

/// Reads the resource record at `pos`; decodes it into an [`Answer`] only when `keep`.
fn read_rr(msg: &[u8], pos: usize, keep: bool) -> Result<Rr, DnsError> {
    let (name, after) = if keep {
        let (n, a) = read_name(msg, pos)?;
        (Some(n), a)
    } else {
        (None, skip_name(msg, pos)?)
    };
    let fixed: &[u8; RR_FIXED_LEN] = msg.get(after..).and_then(<[u8]>::first_chunk).ok_or(DnsError::Truncated)?;
    let [t0, t1, _c0, _c1, l0, l1, l2, l3, r0, r1] = *fixed;
    let rtype = u16::from_be_bytes([t0, t1]);
    let rdlen = usize::from(u16::from_be_bytes([r0, r1]));
    let rd_start = after + RR_FIXED_LEN;
    let rd_end = rd_start + rdlen;
    let rdata = msg.get(rd_start..rd_end).ok_or(DnsError::Truncated)?;
    let data = match rtype {
        TYPE_A => RData::A(Ipv4Addr::from(<[u8; 4]>::try_from(rdata).map_err(|_| DnsError::Rdata)?)),
        TYPE_AAAA => RData::Aaaa(Ipv6Addr::from(<[u8; 16]>::try_from(rdata).map_err(|_| DnsError::Rdata)?)),
        TYPE_CNAME | TYPE_PTR => {
            // Names in RDATA may point anywhere earlier in the message, but must end inside
            // the RDATA exactly.
            let target = if keep {
                let (n, end) = read_name(msg, rd_start)?;
                if end != rd_end {
                    return Err(DnsError::Rdata);
                }
                n
            } else {
                if skip_name(msg, rd_start)? != rd_end {
                    return Err(DnsError::Rdata);
                }
                String::new()
            };
            if rtype == TYPE_PTR { RData::Ptr(target) } else { RData::Cname(target) }
        }
        TYPE_TXT => RData::Txt { len: rdlen },
        TYPE_NULL => RData::Null { len: rdlen },
        _ => RData::Other { len: rdlen },
    };
    let answer = name.map(|name| Answer { name, rtype, ttl: u32::from_be_bytes([l0, l1, l2, l3]), data });
    Ok(Rr { answer, next: rd_end })
}

/// Walks the name at `start`, calling `on_label` for each label in order, and returns the
/// position just after the name where it starts (after the first pointer if any).
#[inline]
fn walk_name(msg: &[u8], start: usize, mut on_label: impl FnMut(&[u8])) -> Result<usize, DnsError> {
    let mut pos = start;
    // Position after the first pointer: where the record continues.
    let mut resume: Option<usize> = None;
    // Every pointer must target strictly before this (loop protection).
    let mut limit = start;
    let mut hops = 0usize;
    let mut wire_len = 0usize;
    loop {
        let len = *msg.get(pos).ok_or(DnsError::Truncated)?;
        match len & LABEL_TYPE_MASK {
            0 => {
                let len = usize::from(len);
                wire_len += 1 + len;
                if wire_len > MAX_NAME_WIRE_LEN {
                    return Err(DnsError::NameTooLong);
                }
                if len == 0 {
                    return Ok(resume.unwrap_or(pos + 1));
                }
                let label = msg.get(pos + 1..pos + 1 + len).ok_or(DnsError::Truncated)?;
                on_label(label);
                pos += 1 + len;
            }
            POINTER_TAG => {
                let low = *msg.get(pos + 1).ok_or(DnsError::Truncated)?;
                let target = usize::from(u16::from_be_bytes([len & POINTER_HIGH_MASK, low]));
                hops += 1;
                if target >= limit || hops > MAX_POINTER_HOPS {
                    return Err(DnsError::Pointer);
                }
                resume.get_or_insert(pos + 2);
                limit = target;
                pos = target;
            }
            _ => return Err(DnsError::LabelType),
        }
    }
}

/// Validates the name at `start` without decoding it; returns the position after it.
fn skip_name(msg: &[u8], start: usize) -> Result<usize, DnsError> {
    walk_name(msg, start, |_| {})
}

/// Decodes the name at `start` (see the module docs for the text form).
fn read_name(msg: &[u8], start: usize) -> Result<(String, usize), DnsError> {
    let mut name = String::with_capacity(NAME_CAPACITY);
    let end = walk_name(msg, start, |label| {
        if !name.is_empty() {
            name.push('.');
        }
        push_label(&mut name, label);
    })?;
    Ok((name, end))
}

/// Appends one label in lower case, escaping bytes that are not plain printable ASCII.
fn push_label(out: &mut String, label: &[u8]) {
    for &b in label {
        match b {
            b'.' | b'\\' => {
                out.push('\\');
                out.push(char::from(b));
            }
            0x21..=0x7E => out.push(char::from(b.to_ascii_lowercase())),
            _ => {
                // Writing to a String cannot fail.
                let _ = write!(out, "\\{b:03}");
            }
        }
    }
}

/// Shape of a name, for DNS-tunnel detection.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LabelStats {
    /// Length of the longest label (text form, bytes).
    pub longest_label: usize,
    /// Number of labels.
    pub labels: usize,
    /// Bytes in the labels left of the registered domain (dots excluded).
    pub subdomain_len: usize,
    /// Shannon entropy (bits per character) of the characters in the labels left of the
    /// registered domain; 0 when there are none.
    pub entropy_bits_per_char: f64,
}

/// Labels counted as the registered domain by [`label_stats`] (an approximation: no public
/// suffix list, so `example.co.uk` counts `co.uk` as the registered domain).
pub const REGISTERED_DOMAIN_LABELS: usize = 2;

/// Label statistics of a name in the text form [`parse`] produces (a trailing dot is
/// ignored). The entropy covers all but the last [`REGISTERED_DOMAIN_LABELS`] labels.
pub fn label_stats(name: &str) -> LabelStats {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() {
        return LabelStats { longest_label: 0, labels: 0, subdomain_len: 0, entropy_bits_per_char: 0.0 };
    }
    let labels = name.split('.').count();
    let longest_label = name.split('.').map(str::len).max().unwrap_or(0);
    let sub_labels = labels.saturating_sub(REGISTERED_DOMAIN_LABELS);
    let mut counts = [0usize; 256];
    let mut total = 0usize;
    for label in name.split('.').take(sub_labels) {
        for b in label.bytes() {
            if let Some(c) = counts.get_mut(usize::from(b)) {
                *c += 1;
            }
            total += 1;
        }
    }
    let mut entropy = 0.0f64;
    if total > 0 {
        let n = total as f64;
        for &c in counts.iter().filter(|&&c| c > 0) {
            let p = c as f64 / n;
            entropy -= p * p.log2();
        }
    }
    LabelStats { longest_label, labels, subdomain_len: total, entropy_bits_per_char: entropy }
}

#[cfg(test)]
mod tests {
    //! Fixtures recorded on loopback: `dnsmasq --no-daemon --no-resolv --no-hosts --port=5353
    //! --listen-address=127.0.0.1 --local-ttl=300 --address=/example.test/192.0.2.7
    //! --address=/example.test/2001:db8::7 --host-record=www.example.test,192.0.2.8,2001:db8::8
    //! --cname=alias.example.test,www.example.test
    //! --txt-record=txt.example.test,"v=farhand test record","second string"
    //! --address=/nx.test/` queried with `dig @127.0.0.1 -p 5353` (A with EDNS; AAAA, TXT and
    //! NXDOMAIN with `+noedns`; CNAME with EDNS; A over `+tcp`), captured with
    //! `tcpdump -i lo port 5353` and extracted with `tshark -e udp.payload -e tcp.payload`.
    use super::*;
    use crate::testutil::wire_name;

    const Q_A: &str = "95300120000100000000000103666f6f076578616d706c650474657374000001000100002904d000000000000c000a0008586a3bae29151a47";
    const R_A: &str = "95308580000100010000000103666f6f076578616d706c6504746573740000010001c00c000100010000012c0004c000020700002904d0000000000000";
    const Q_AAAA: &str = "349f0120000100000000000003666f6f076578616d706c65047465737400001c0001";
    const R_AAAA: &str = "349f8580000100010000000003666f6f076578616d706c65047465737400001c0001c00c001c00010000012c001020010db8000000000000000000000007";
    const Q_CNAME: &str = "b5a80120000100000000000105616c696173076578616d706c650474657374000001000100002904d000000000000c000a0008f122144411d80971";
    const R_CNAME: &str = "b5a88580000100020000000105616c696173076578616d706c6504746573740000010001c00c000500010000012c001203777777076578616d706c65047465737400c030000100010000012c0004c000020800002904d0000000000000";
    const Q_TXT: &str = "be070120000100000000000003747874076578616d706c6504746573740000100001";
    const R_TXT: &str = "be078580000100010000000003747874076578616d706c6504746573740000100001c00c001000010000012c002415763d66617268616e642074657374207265636f72640d7365636f6e6420737472696e67";
    const Q_NX: &str = "098201200001000000000000076d697373696e67026e7804746573740000010001";
    const R_NX: &str = "098281830001000000000000076d697373696e67026e7804746573740000010001";
    const TCP_Q: &str = "0039044d0120000100000000000103777777076578616d706c650474657374000001000100002904d000000000000c000a00088c7d104ad2607dc0";
    const TCP_R: &str = "003d044d8580000100010000000103777777076578616d706c6504746573740000010001c00c000100010000012c0004c000020800002904d0000000000000";

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    fn all_udp() -> Vec<Vec<u8>> {
        [Q_A, R_A, Q_AAAA, R_AAAA, Q_CNAME, R_CNAME, Q_TXT, R_TXT, Q_NX, R_NX].iter().map(|s| hex(s)).collect()
    }

    #[test]
    fn a_query_and_response() {
        let q = parse(&hex(Q_A)).unwrap();
        assert!(!q.response);
        assert_eq!(q.opcode, 0);
        assert_eq!(q.questions, vec![Question { name: "foo.example.test".into(), qtype: TYPE_A }]);
        assert!(q.answers.is_empty());
        assert_eq!(q.additional_count, 1); // EDNS OPT
        let r = parse(&hex(R_A)).unwrap();
        assert!(r.response);
        assert_eq!(r.id, q.id);
        assert_eq!(r.rcode, 0);
        assert!(!r.truncated);
        assert_eq!(
            r.answers,
            vec![Answer {
                name: "foo.example.test".into(),
                rtype: TYPE_A,
                ttl: 300,
                data: RData::A(Ipv4Addr::new(192, 0, 2, 7)),
            }]
        );
    }

    #[test]
    fn aaaa_response() {
        let r = parse(&hex(R_AAAA)).unwrap();
        assert_eq!(r.questions[0].qtype, TYPE_AAAA);
        assert_eq!(r.answers.len(), 1);
        assert_eq!(r.answers[0].data, RData::Aaaa("2001:db8::7".parse().unwrap()));
    }

    #[test]
    fn cname_chain_with_compression() {
        let r = parse(&hex(R_CNAME)).unwrap();
        assert_eq!(r.answers.len(), 2);
        assert_eq!(r.answers[0].name, "alias.example.test");
        assert_eq!(r.answers[0].data, RData::Cname("www.example.test".into()));
        assert_eq!(r.answers[1].name, "www.example.test");
        assert_eq!(r.answers[1].data, RData::A(Ipv4Addr::new(192, 0, 2, 8)));
    }

    #[test]
    fn txt_response() {
        let r = parse(&hex(R_TXT)).unwrap();
        assert_eq!(r.answers.len(), 1);
        // Two character-strings: 1+21 and 1+13 bytes.
        assert_eq!(r.answers[0].data, RData::Txt { len: 36 });
        assert_eq!(r.questions[0].qtype, TYPE_TXT);
    }

    #[test]
    fn nxdomain() {
        let r = parse(&hex(R_NX)).unwrap();
        assert_eq!(r.rcode, 3);
        assert!(r.answers.is_empty());
        assert_eq!(r.questions[0].name, "missing.nx.test");
    }

    /// A PTR answer for 120.0.41.10.in-addr.arpa naming "Laptop-AB12.corp.example" (owner
    /// name compressed to the question, RFC 1035 §4.1.4).
    fn ptr_response() -> Vec<u8> {
        let mut m = vec![0x43, 0x21, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0];
        m.extend_from_slice(&wire_name("120.0.41.10.in-addr.arpa"));
        m.extend_from_slice(&[0, 12, 0, 1]);
        let target = wire_name("Laptop-AB12.corp.example");
        m.extend_from_slice(&[0xc0, 12, 0, 12, 0, 1, 0, 0, 0x0e, 0x10, 0, target.len() as u8]);
        m.extend_from_slice(&target);
        m
    }

    /// An mDNS announcement (RFC 6762 §8.3): a response with no question and an A record
    /// whose class carries the cache-flush bit (0x8001).
    fn mdns_announcement() -> Vec<u8> {
        let mut m = vec![0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0];
        m.extend_from_slice(&wire_name("laptop-ab12.local"));
        m.extend_from_slice(&[0, 1, 0x80, 1, 0, 0, 0, 120, 0, 4, 10, 41, 0, 120]);
        m
    }

    #[test]
    fn ptr_answer_is_decoded() {
        let r = parse(&ptr_response()).unwrap();
        assert_eq!(r.questions[0].qtype, TYPE_PTR);
        assert_eq!(r.answers[0].name, "120.0.41.10.in-addr.arpa");
        assert_eq!(r.answers[0].data, RData::Ptr("laptop-ab12.corp.example".into()));
        // RDATA longer than the name it holds is inconsistent.
        let mut bad = ptr_response();
        let rdlen_at = bad.len() - wire_name("Laptop-AB12.corp.example").len() - 1;
        bad[rdlen_at] += 1;
        bad.push(0);
        assert_eq!(parse(&bad), Err(DnsError::Rdata));
        for n in 0..ptr_response().len() {
            assert!(parse(&ptr_response()[..n]).is_err(), "prefix {n}");
        }
    }

    #[test]
    fn mdns_announcement_without_question() {
        let r = parse(&mdns_announcement()).unwrap();
        assert!(r.response && r.questions.is_empty());
        assert_eq!(r.answers[0].name, "laptop-ab12.local");
        assert_eq!(r.answers[0].data, RData::A(Ipv4Addr::new(10, 41, 0, 120)));
        for n in 0..mdns_announcement().len() {
            assert!(parse(&mdns_announcement()[..n]).is_err(), "prefix {n}");
        }
    }

    #[test]
    fn tcp_query_and_response() {
        let Step::Done(q) = parse_tcp(&hex(TCP_Q)) else { panic!() };
        assert_eq!(q.questions[0].name, "www.example.test");
        let Step::Done(r) = parse_tcp(&hex(TCP_R)) else { panic!() };
        assert_eq!(r.answers[0].data, RData::A(Ipv4Addr::new(192, 0, 2, 8)));
        // Trailing bytes of a following message are not part of the first.
        let mut two = hex(TCP_R);
        two.extend_from_slice(&hex(TCP_Q));
        assert_eq!(parse_tcp(&two), Step::Done(r));
    }

    #[test]
    fn tcp_every_prefix_is_incomplete() {
        for full in [hex(TCP_Q), hex(TCP_R)] {
            for n in 0..full.len() {
                assert_eq!(parse_tcp(&full[..n]), Step::Incomplete, "prefix {n}");
            }
        }
    }

    #[test]
    fn tcp_bad_prefix_or_header_is_invalid() {
        assert_eq!(parse_tcp(&[0, 5, 1, 2, 3, 4, 5]), Step::invalid(Layer::Dns, 0, Reason::BadLength));
        let mut m = hex(TCP_Q);
        m[4] = 0x18; // opcode 3
        assert!(parse_tcp(&m[..16]).is_invalid());
    }

    #[test]
    fn probe_accepts_recorded_messages() {
        for m in all_udp() {
            assert!(probe(&m));
        }
    }

    #[test]
    fn probe_rejects_non_dns() {
        assert!(!probe(b""));
        assert!(!probe(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
        assert!(!probe(&[0u8; 64])); // qdcount 0
        assert!(!probe(&[0xFF; 64]));
        // WireGuard initiation shape.
        let mut wg = [0u8; 148];
        wg[0] = 1;
        assert!(!probe(&wg));
        let mut m = hex(Q_A);
        m[2] |= 0x18; // opcode 3
        assert!(!probe(&m));
        let mut m = hex(Q_A);
        m[5] = 5; // qdcount 5
        assert!(!probe(&m));
        let mut m = hex(R_A);
        m[6] = 0xFF; // ancount 65280
        m[7] = 0xFF;
        assert!(!probe(&m));
        let mut m = hex(Q_A);
        m[3] |= 0x40; // Z bit
        assert!(!probe(&m));
    }

    #[test]
    fn every_prefix_errors_without_panic() {
        for m in all_udp() {
            for n in 0..m.len() {
                let r = parse(&m[..n]);
                // The header counts every record, so every strict prefix is an error.
                assert!(r.is_err(), "prefix {n} of {m:02x?}");
            }
        }
    }

    #[test]
    fn truncated_flag_keeps_complete_records() {
        let mut m = hex(R_CNAME);
        m[2] |= 0x02; // TC
        let full = parse(&m).unwrap();
        assert!(full.truncated);
        // Cut inside the second answer: the first is kept.
        let cut = parse(&m[..m.len() - 20]).unwrap();
        assert_eq!(cut.answers.len(), 1);
        assert_eq!(cut.answers[0], full.answers[0]);
    }

    /// A message with one question whose name bytes are `name` (then QTYPE A, QCLASS IN).
    fn query_with_raw_name(name: &[u8]) -> Vec<u8> {
        let mut m = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        m.extend_from_slice(name);
        m.extend_from_slice(&[0, 1, 0, 1]);
        m
    }

    #[test]
    fn pointer_to_itself_is_rejected() {
        let m = query_with_raw_name(&[0xC0, 12]);
        assert_eq!(parse(&m), Err(DnsError::Pointer));
    }

    #[test]
    fn compression_loop_is_rejected() {
        // Answer name at 29: label "a" then pointer to 29 (itself) – a loop.
        let mut m = hex(R_A);
        m.truncate(12 + 18 + 4); // header + question
        m[7] = 1; // ancount 1
        m[11] = 0; // arcount 0
        m.extend_from_slice(&[1, b'a', 0xC0, 34]);
        m.extend_from_slice(&[0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 1, 2, 3, 4]);
        assert_eq!(parse(&m), Err(DnsError::Pointer));
        // Two pointers pointing at each other.
        let mut m = query_with_raw_name(&[0xC0, 14, 0xC0, 12]);
        m[5] = 2;
        assert!(parse(&m).is_err());
        // Forward pointer.
        let m = query_with_raw_name(&[1, b'a', 0xC0, 20, 0]);
        assert_eq!(parse(&m), Err(DnsError::Pointer));
    }

    #[test]
    fn long_backward_pointer_chain_hits_hop_limit() {
        // 40 pointers each pointing at the previous one, then a name pointing at the last.
        let mut m = hex(Q_A)[..34].to_vec(); // header + "foo.example.test" A IN
        m[11] = 0;
        m[7] = 1; // ancount 1
        // The chain lives in the RDATA of a NULL record owned by the root name; it starts
        // after the root name and the 10 fixed bytes.
        let mut rr = vec![0, 0, 10, 0, 1, 0, 0, 0, 0];
        rr.extend_from_slice(&80u16.to_be_bytes());
        let base = 34 + 1 + 10;
        let mut chain = Vec::new();
        let mut prev = 12usize;
        for i in 0..40 {
            chain.extend_from_slice(&[0xC0 | (prev >> 8) as u8, prev as u8]);
            prev = base + 2 * i;
        }
        m.extend_from_slice(&rr);
        m.extend_from_slice(&chain);
        assert!(parse(&m).is_ok(), "NULL RDATA is opaque");
        // A second answer whose name points at the end of the chain.
        m[7] = 2;
        m.extend_from_slice(&[0xC0 | (prev >> 8) as u8, prev as u8, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 1, 2, 3, 4]);
        assert_eq!(parse(&m), Err(DnsError::Pointer));
    }

    #[test]
    fn name_longer_than_255_is_rejected() {
        let mut name = Vec::new();
        for _ in 0..5 {
            name.push(63);
            name.extend_from_slice(&[b'x'; 63]);
        }
        name.push(0);
        assert_eq!(parse(&query_with_raw_name(&name)), Err(DnsError::NameTooLong));
        // Exactly 255 bytes is fine: 3×(1+63) + (1+61) + root.
        let mut name = Vec::new();
        for _ in 0..3 {
            name.push(63);
            name.extend_from_slice(&[b'x'; 63]);
        }
        name.push(61);
        name.extend_from_slice(&[b'y'; 61]);
        name.push(0);
        assert_eq!(name.len(), 255);
        let m = parse(&query_with_raw_name(&name)).unwrap();
        assert_eq!(m.questions[0].name.len(), 253);
    }

    #[test]
    fn label_over_255_via_pointers_is_rejected() {
        // Each question repeats a 63-byte label before pointing at the previous question:
        // the fourth name is 4×64 + ... > 255 bytes.
        let mut m = vec![0, 1, 1, 0, 0, 4, 0, 0, 0, 0, 0, 0];
        let mut prev: Option<usize> = None;
        for _ in 0..4 {
            let here = m.len();
            m.push(63);
            m.extend_from_slice(&[b'z'; 63]);
            match prev {
                Some(p) => m.extend_from_slice(&[0xC0, p as u8]),
                None => m.push(0),
            }
            m.extend_from_slice(&[0, 1, 0, 1]);
            prev = Some(here);
        }
        assert_eq!(parse(&m), Err(DnsError::NameTooLong));
    }

    #[test]
    fn reserved_label_types_are_rejected() {
        assert_eq!(parse(&query_with_raw_name(&[0x41, 0])), Err(DnsError::LabelType));
        assert_eq!(parse(&query_with_raw_name(&[0x80, 0])), Err(DnsError::LabelType));
    }

    #[test]
    fn counts_of_65535_fail_fast() {
        let mut m = hex(R_A);
        m[6..12].fill(0xFF);
        assert_eq!(parse(&m), Err(DnsError::Truncated));
        let mut m = hex(R_A);
        m[4] = 0xFF;
        m[5] = 0xFF;
        assert_eq!(parse(&m), Err(DnsError::Header));
    }

    #[test]
    fn lying_rdlength() {
        // R_A: the A answer's RDLENGTH is at offset 12+22+2+2+2+4 = 44.
        let base = hex(R_A);
        assert_eq!(&base[44..46], &[0, 4]);
        let mut m = base.clone();
        m[44] = 0xFF;
        assert_eq!(parse(&m), Err(DnsError::Truncated));
        let mut m = base.clone();
        m[45] = 3;
        assert!(parse(&m).is_err());
        // CNAME whose name overruns its RDATA.
        let mut m = hex(R_CNAME);
        let rd = 12 + 24 + 2 + 8;
        assert_eq!(u16::from_be_bytes([m[rd], m[rd + 1]]), 18);
        m[rd + 1] = 10;
        assert!(parse(&m).is_err());
    }

    #[test]
    fn many_answers_are_capped() {
        let mut m = hex(R_A)[..34].to_vec();
        m[11] = 0;
        let n = 200u16;
        m[6..8].copy_from_slice(&n.to_be_bytes());
        for i in 0..n {
            m.extend_from_slice(&[0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 0, (i >> 8) as u8, i as u8]);
        }
        let r = parse(&m).unwrap();
        assert_eq!(r.answers.len(), MAX_ANSWERS);
        assert_eq!(r.answer_count, n);
        assert!(r.answers.capacity() <= MAX_ANSWERS);
    }

    #[test]
    fn binary_labels_are_escaped_and_lowercased() {
        let m = query_with_raw_name(&[4, b'A', 0x00, b'.', 0xFF, 3, b'C', b'o', b'M', 0]);
        let q = parse(&m).unwrap();
        assert_eq!(q.questions[0].name, "a\\000\\.\\255.com");
    }

    #[test]
    fn root_name_is_empty() {
        let q = parse(&query_with_raw_name(&[0])).unwrap();
        assert_eq!(q.questions[0].name, "");
    }

    #[test]
    fn label_stats_shape() {
        let s = label_stats("foo.example.test");
        assert_eq!((s.labels, s.longest_label, s.subdomain_len), (3, 7, 3));
        assert!((s.entropy_bits_per_char - 0.918_295_8).abs() < 1e-6);
        let s = label_stats("example.com.");
        assert_eq!((s.labels, s.subdomain_len), (2, 0));
        assert_eq!(s.entropy_bits_per_char, 0.0);
        let s = label_stats("");
        assert_eq!(s.labels, 0);
        // 16 distinct characters, each once: 4 bits per char.
        let s = label_stats("0123456789abcdef.t.example.com");
        assert_eq!(s.subdomain_len, 17);
        assert!(s.entropy_bits_per_char > 3.9);
        assert_eq!(s.longest_label, 16);
    }
}
