//! SSH fingerprint: identification strings and the first `SSH_MSG_KEXINIT` of each side.
//!
//! # Contract
//! Works on the in-order TCP prefix of each direction, on any port. Answers `Match` once
//! both identification strings and both `SSH_MSG_KEXINIT` messages are parsed (or both
//! banners when the session is SSH-1, which has no KEXINIT), `NoMatch` when the bytes
//! contradict an identification string, and `NeedMore` otherwise. At `finished` it matches on
//! at least one valid identification string, with a confidence that grows with what was seen.
//!
//! # Facts used
//! - RFC 4253 §4.2: each side first sends `SSH-protoversion-softwareversion SP comments CR LF`,
//!   at most 255 bytes including CR LF. The server may send other lines first; they must not
//!   begin with `SSH-`. Lone LF endings are tolerated (as the RFC recommends for
//!   compatibility). Version `1.99` (RFC 4253 §5.1) means "SSH-2 and SSH-1"; `1.x` otherwise is
//!   SSH-1, whose packets are not SSH-2 binary packets.
//! - RFC 4253 §6: binary packet = `uint32 packet_length`, `byte padding_length`, payload,
//!   padding (MAC absent before the first key exchange). §6.1: implementations need not handle
//!   packets over 35000 bytes.
//! - RFC 4253 §7.1: `SSH_MSG_KEXINIT` (20) = 16-byte cookie, ten `name-list`s (RFC 4251 §5:
//!   `uint32` length + comma-separated US-ASCII names), `boolean first_kex_packet_follows`,
//!   `uint32 reserved`.
//! - HASSH (Salesforce): client `md5("kex;enc_c2s;mac_c2s;comp_c2s")` and server
//!   `md5("kex;enc_s2c;mac_s2c;comp_s2c")`, lower-case hex.

use super::{Exchange, Fingerprint, Outcome};
use farhand_model::evidence::Evidence;
use farhand_model::evidence::{SshBanner, SshEvidence};
use farhand_model::tool::{Match, Method, Tool, Transport};
use md5::{Digest, Md5};

/// Longest identification line, CR LF included (RFC 4253 §4.2).
pub const MAX_BANNER_LEN: usize = 255;
/// Most bytes of non-`SSH-` lines a server may send before its identification string.
pub const MAX_PREAMBLE_LEN: usize = 1024;
/// Largest binary packet (`packet_length` + 4) accepted (RFC 4253 §6.1).
pub const MAX_PACKET_LEN: usize = 35_000;
/// Bytes per direction this fingerprint reads: a banner plus a large KEXINIT.
pub const BYTES_WANTED: usize = 4096;
/// `SSH_MSG_KEXINIT` message number (RFC 4253 §12).
pub const MSG_KEXINIT: u8 = 20;
/// Length of the KEXINIT cookie.
const COOKIE_LEN: usize = 16;
/// Number of name-lists in a KEXINIT.
const NAME_LIST_COUNT: usize = 10;

/// Confidence: both banners and both KEXINITs parsed (or both banners of an SSH-1 session).
pub const CONFIDENCE_FULL: u8 = 98;
/// Confidence: both banners, not both KEXINITs.
pub const CONFIDENCE_BOTH_BANNERS: u8 = 95;
/// Confidence: one banner followed by a valid KEXINIT.
pub const CONFIDENCE_ONE_BANNER_KEXINIT: u8 = 90;
/// Confidence: a single banner and nothing else SSH-shaped.
pub const CONFIDENCE_ONE_BANNER: u8 = 70;

const SSH_PREFIX: &[u8] = b"SSH-";

/// A parsed identification string, borrowing the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ident<'a> {
    /// Protocol version, e.g. `2.0`, `1.99`, `1.5`.
    pub proto: &'a str,
    /// Software version, e.g. `OpenSSH_9.2p1`.
    pub software: &'a str,
    /// Comment after the first space, if any (text, not necessarily UTF-8).
    pub comment: Option<&'a [u8]>,
}

impl Ident<'_> {
    /// Whether this side speaks only SSH-1 (`1.x` other than `1.99`).
    pub fn is_ssh1_only(&self) -> bool {
        self.proto.starts_with("1.") && self.proto != "1.99"
    }
}

/// The algorithm name-lists of a `SSH_MSG_KEXINIT`, borrowing the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KexInit<'a> {
    /// `kex_algorithms`.
    pub kex: &'a str,
    /// `server_host_key_algorithms`.
    pub host_key: &'a str,
    /// `encryption_algorithms_client_to_server`.
    pub enc_c2s: &'a str,
    /// `encryption_algorithms_server_to_client`.
    pub enc_s2c: &'a str,
    /// `mac_algorithms_client_to_server`.
    pub mac_c2s: &'a str,
    /// `mac_algorithms_server_to_client`.
    pub mac_s2c: &'a str,
    /// `compression_algorithms_client_to_server`.
    pub comp_c2s: &'a str,
    /// `compression_algorithms_server_to_client`.
    pub comp_s2c: &'a str,
    /// `languages_client_to_server`.
    pub lang_c2s: &'a str,
    /// `languages_server_to_client`.
    pub lang_s2c: &'a str,
    /// `first_kex_packet_follows`.
    pub first_kex_follows: bool,
}

impl KexInit<'_> {
    /// HASSH input string of a client KEXINIT: `kex;enc_c2s;mac_c2s;comp_c2s`.
    pub fn hassh_algorithms(&self) -> String {
        [self.kex, self.enc_c2s, self.mac_c2s, self.comp_c2s].join(";")
    }

    /// HASSHServer input string of a server KEXINIT: `kex;enc_s2c;mac_s2c;comp_s2c`.
    pub fn hassh_server_algorithms(&self) -> String {
        [self.kex, self.enc_s2c, self.mac_s2c, self.comp_s2c].join(";")
    }
}

/// What follows an identification string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KexState<'a> {
    /// A complete, valid KEXINIT.
    Parsed(KexInit<'a>),
    /// Consistent so far; more bytes could complete it.
    Pending,
    /// No KEXINIT will be found in this prefix: SSH-1, another message, bytes that are not a
    /// binary packet, or a packet too large for [`BYTES_WANTED`].
    Absent,
}

/// One direction of the exchange, parsed.
// A short-lived stack value of the zero-copy parse: boxing the borrowed fields would allocate.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side<'a> {
    /// Nothing contradicts SSH yet, but no complete identification string either.
    Incomplete,
    /// The bytes are not SSH.
    Invalid,
    /// A valid identification string and what follows it.
    Banner {
        /// The identification string.
        ident: Ident<'a>,
        /// The first binary packet, as far as it goes.
        kex: KexState<'a>,
    },
}

/// Both directions, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parsed<'a> {
    /// The client (initiator) side.
    pub client: Side<'a>,
    /// The server (responder) side.
    pub server: Side<'a>,
}

/// Cheap first look at one side: could these bytes begin an SSH identification (or, for the
/// server, a preamble line)? Reads at most 4 bytes.
pub fn probe(side: &[u8], is_server: bool) -> bool {
    let head = side.get(..SSH_PREFIX.len()).unwrap_or(side);
    SSH_PREFIX.starts_with(head) || (is_server && head.iter().all(|&b| is_line_byte(b)))
}

/// Parse both directions. Pure and zero-copy.
pub fn parse<'a>(orig: &'a [u8], resp: &'a [u8]) -> Parsed<'a> {
    Parsed { client: parse_side(orig, false), server: parse_side(resp, true) }
}

/// Parse one direction: identification (after an optional preamble if `is_server`), then the
/// first binary packet.
pub fn parse_side(buf: &[u8], is_server: bool) -> Side<'_> {
    let mut rest = buf;
    loop {
        match take_line(rest) {
            Line::Incomplete(partial) => {
                return if partial_line_ok(partial, is_server) { Side::Incomplete } else { Side::Invalid };
            }
            Line::TooLong => return Side::Invalid,
            Line::Complete(line, after) => {
                if line.starts_with(SSH_PREFIX) {
                    return match parse_ident(line) {
                        Some(ident) => Side::Banner {
                            ident,
                            kex: parse_kex(
                                after,
                                &ident,
                                BYTES_WANTED.saturating_sub(buf.len().saturating_sub(after.len())),
                            ),
                        },
                        None => Side::Invalid,
                    };
                }
                // Bytes consumed so far, all of them preamble.
                let preamble = buf.len().saturating_sub(after.len());
                if !is_server || preamble > MAX_PREAMBLE_LEN || !line.iter().all(|&b| is_line_byte(b)) {
                    return Side::Invalid;
                }
                rest = after;
            }
        }
    }
}

/// A line split off the front of a buffer.
enum Line<'a> {
    /// Line content without CR LF / LF, and the bytes after it.
    Complete(&'a [u8], &'a [u8]),
    /// No LF yet; the bytes seen so far.
    Incomplete(&'a [u8]),
    /// No LF within [`MAX_BANNER_LEN`].
    TooLong,
}

fn take_line(buf: &[u8]) -> Line<'_> {
    let window = buf.get(..MAX_BANNER_LEN).unwrap_or(buf);
    match window.iter().position(|&b| b == b'\n') {
        Some(lf) => {
            let line = buf.get(..lf).unwrap_or_default();
            let after = buf.get(lf.saturating_add(1)..).unwrap_or_default();
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            Line::Complete(line, after)
        }
        None if buf.len() >= MAX_BANNER_LEN => Line::TooLong,
        None => Line::Incomplete(buf),
    }
}

/// Bytes allowed in preamble lines and comments: printable text, tab, CR, and UTF-8.
fn is_line_byte(b: u8) -> bool {
    b == b'\t' || b == b'\r' || b >= 0x20 && b != 0x7f
}

/// Printable US-ASCII without space (RFC 4253 §4.2 for proto/software versions).
fn is_version_byte(b: u8) -> bool {
    (0x21..=0x7e).contains(&b)
}

/// Could `partial` (no LF yet) still become a valid identification or preamble line?
fn partial_line_ok(partial: &[u8], is_server: bool) -> bool {
    let head = partial.get(..SSH_PREFIX.len()).unwrap_or(partial);
    let tail = partial.get(SSH_PREFIX.len()..).unwrap_or_default();
    if SSH_PREFIX.starts_with(head) {
        // Identification in progress: everything so far must be banner-legal.
        let tail = tail.strip_suffix(b"\r").unwrap_or(tail);
        return tail.iter().all(|&b| is_line_byte(b) && b != b'\r');
    }
    is_server && partial.iter().all(|&b| is_line_byte(b))
}

/// Parse an identification line (without CR LF).
fn parse_ident(line: &[u8]) -> Option<Ident<'_>> {
    let body = line.strip_prefix(SSH_PREFIX)?;
    let (version_part, comment) = match body.iter().position(|&b| b == b' ') {
        Some(sp) => {
            let (v, c) = body.split_at_checked(sp)?;
            (v, Some(c.get(1..).unwrap_or_default()))
        }
        None => (body, None),
    };
    let dash = version_part.iter().position(|&b| b == b'-')?;
    let (proto, software) = version_part.split_at_checked(dash)?;
    let software = software.get(1..).unwrap_or_default();
    if !is_proto_version(proto) || !software.iter().all(|&b| is_version_byte(b)) {
        return None;
    }
    let comment = match comment {
        Some(c) if c.iter().all(|&b| is_line_byte(b) && b != b'\r') => Some(c),
        Some(_) => return None,
        None => None,
    };
    Some(Ident { proto: std::str::from_utf8(proto).ok()?, software: std::str::from_utf8(software).ok()?, comment })
}

/// `digits "." digits`, as every SSH implementation sends (`2.0`, `1.99`, `1.5`).
fn is_proto_version(v: &[u8]) -> bool {
    let mut parts = v.split(|&b| b == b'.');
    let major = parts.next().unwrap_or_default();
    let minor = parts.next().unwrap_or_default();
    let digits = |p: &[u8]| !p.is_empty() && p.len() <= 3 && p.iter().all(u8::is_ascii_digit);
    parts.next().is_none() && digits(major) && digits(minor)
}

/// Parse the first binary packet after an identification string as a KEXINIT; `room` is how
/// many bytes of this direction are left to read (out of [`BYTES_WANTED`]) from `buf` on.
fn parse_kex<'a>(buf: &'a [u8], ident: &Ident<'_>, room: usize) -> KexState<'a> {
    if ident.is_ssh1_only() {
        return KexState::Absent;
    }
    let Some((len_bytes, rest)) = buf.split_first_chunk::<4>() else {
        return KexState::Pending;
    };
    let packet_len = usize::try_from(u32::from_be_bytes(*len_bytes)).unwrap_or(usize::MAX);
    // packet_length covers padding_length, payload (at least 1 byte) and padding.
    if !(2..=MAX_PACKET_LEN).contains(&packet_len) {
        return KexState::Absent;
    }
    let Some(packet) = rest.get(..packet_len) else {
        // Wait only for a packet that can fit in what this fingerprint reads.
        return if packet_len.saturating_add(4) > room { KexState::Absent } else { KexState::Pending };
    };
    let Some((&pad_len, body)) = packet.split_first() else {
        return KexState::Absent;
    };
    let Some(payload_len) = body.len().checked_sub(usize::from(pad_len)) else {
        return KexState::Absent;
    };
    match body.get(..payload_len).and_then(parse_kexinit_payload) {
        Some(k) => KexState::Parsed(k),
        None => KexState::Absent,
    }
}

/// Parse a KEXINIT payload (message number first).
pub fn parse_kexinit_payload(payload: &[u8]) -> Option<KexInit<'_>> {
    let (&msg, rest) = payload.split_first()?;
    if msg != MSG_KEXINIT {
        return None;
    }
    let (_cookie, mut rest) = rest.split_at_checked(COOKIE_LEN)?;
    let mut lists = [""; NAME_LIST_COUNT];
    for slot in &mut lists {
        let (list, after) = name_list(rest)?;
        *slot = list;
        rest = after;
    }
    let (&follows, rest) = rest.split_first()?;
    let (_reserved, _) = rest.split_first_chunk::<4>()?;
    let [kex, host_key, enc_c2s, enc_s2c, mac_c2s, mac_s2c, comp_c2s, comp_s2c, lang_c2s, lang_s2c] = lists;
    Some(KexInit {
        kex,
        host_key,
        enc_c2s,
        enc_s2c,
        mac_c2s,
        mac_s2c,
        comp_c2s,
        comp_s2c,
        lang_c2s,
        lang_s2c,
        first_kex_follows: follows != 0,
    })
}

/// One RFC 4251 §5 name-list: `uint32` length, then printable US-ASCII names.
fn name_list(buf: &[u8]) -> Option<(&str, &[u8])> {
    let (len, rest) = buf.split_first_chunk::<4>()?;
    let (list, rest) = rest.split_at_checked(usize::try_from(u32::from_be_bytes(*len)).ok()?)?;
    if !list.iter().all(|&b| is_version_byte(b)) {
        return None;
    }
    Some((std::str::from_utf8(list).ok()?, rest))
}

fn banner_of(side: Side<'_>) -> Option<(Ident<'_>, KexState<'_>)> {
    match side {
        Side::Banner { ident, kex } => Some((ident, kex)),
        _ => None,
    }
}

fn kex_of(side: Side<'_>) -> Option<KexInit<'_>> {
    match side {
        Side::Banner { kex: KexState::Parsed(k), .. } => Some(k),
        _ => None,
    }
}

/// Decide on a parsed exchange.
pub fn fingerprint(parsed: &Parsed<'_>, finished: bool) -> Outcome {
    let (client, server) = (parsed.client, parsed.server);
    let (c, s) = (banner_of(client), banner_of(server));
    match (client, server) {
        (Side::Invalid, Side::Invalid) | (Side::Invalid, Side::Incomplete) | (Side::Incomplete, Side::Invalid) => {
            return Outcome::NoMatch;
        }
        _ => {}
    }
    let ssh1 = c.iter().chain(s.iter()).any(|(i, _)| i.is_ssh1_only());
    let resolved = |k: &KexState<'_>| ssh1 || !matches!(k, KexState::Pending);
    let complete = match (c, s) {
        (Some((_, ck)), Some((_, sk))) => resolved(&ck) && resolved(&sk),
        // The other side spoke something else: nothing more to wait for once ours is done.
        (Some((_, k)), None) if server == Side::Invalid => resolved(&k),
        (None, Some((_, k))) if client == Side::Invalid => resolved(&k),
        _ => false,
    };
    if !complete && !finished {
        return Outcome::NeedMore;
    }
    if c.is_none() && s.is_none() {
        return Outcome::NoMatch;
    }
    let (ck, sk) = (kex_of(client), kex_of(server));
    let confidence = match (c.is_some(), s.is_some()) {
        (true, true) if (ck.is_some() && sk.is_some()) || ssh1 => CONFIDENCE_FULL,
        (true, true) => CONFIDENCE_BOTH_BANNERS,
        _ if ck.is_some() || sk.is_some() => CONFIDENCE_ONE_BANNER_KEXINIT,
        _ => CONFIDENCE_ONE_BANNER,
    };
    let hassh_algorithms = ck.map(|k| k.hassh_algorithms());
    let hassh_server_algorithms = sk.map(|k| k.hassh_server_algorithms());
    Outcome::Match(Match {
        tool: Tool::Ssh,
        confidence,
        method: Method::PayloadStructure,
        evidence: Evidence::Ssh(SshEvidence {
            client_banner: c.map(|(i, _)| Box::new(SshBanner::from(i))),
            server_banner: s.map(|(i, _)| Box::new(SshBanner::from(i))),
            hassh: hassh_algorithms.as_deref().map(md5_hex),
            hassh_algorithms,
            hassh_server: hassh_server_algorithms.as_deref().map(md5_hex),
            hassh_server_algorithms,
        }),
    })
}

/// Lower-case hex MD5 of a string.
pub fn md5_hex(s: &str) -> String {
    use std::fmt::Write as _;
    let digest = Md5::digest(s.as_bytes());
    digest.iter().fold(String::with_capacity(32), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

impl From<Ident<'_>> for SshBanner {
    fn from(i: Ident<'_>) -> Self {
        SshBanner {
            proto: i.proto.to_owned(),
            software: i.software.to_owned(),
            comment: i.comment.map(|c| String::from_utf8_lossy(c).into_owned()),
        }
    }
}

/// The SSH fingerprint.
#[derive(Debug, Clone, Copy, Default)]
pub struct SshFingerprint;

impl Fingerprint for SshFingerprint {
    fn tool(&self) -> Tool {
        Tool::Ssh
    }
    fn version(&self) -> &'static str {
        "1"
    }
    fn wants(&self, transport: Transport) -> bool {
        transport == Transport::Tcp
    }
    fn bytes_wanted(&self) -> usize {
        BYTES_WANTED
    }
    fn inspect(&self, ex: &Exchange<'_>) -> Outcome {
        if ex.transport != Transport::Tcp || !probe(ex.orig, false) && !probe(ex.resp, true) {
            return Outcome::NoMatch;
        }
        let orig = ex.orig.get(..BYTES_WANTED).unwrap_or(ex.orig);
        let resp = ex.resp.get(..BYTES_WANTED).unwrap_or(ex.resp);
        fingerprint(&parse(orig, resp), ex.finished)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::unhex;

    // Recorded on loopback: OpenSSH_9.2p1 Debian-2+deb12u10 client and server (Debian 12
    // packages openssh-client/openssh-server 1:9.2p1-2+deb12u10), `sshd -D -f <config in /tmp>`
    // on 127.0.0.1:2222 and `ssh -p 2222 root@127.0.0.1 echo hi`, captured with
    // `tcpdump -i lo`; payload extracted with `tshark -T fields -e tcp.payload`. Each constant
    // is that direction's identification line plus its first binary packet (the KEXINIT).
    const SSH_CLIENT: &str = "5353482d322e302d4f70656e5353485f392e3270312044656269616e2d322b64656231327531300d0a0000061408\
        149f8c6a5e2f05ba39d2193300896722a700000148736e747275703736317832353531392d7368613531322c736e\
        747275703736317832353531392d736861353132406f70656e7373682e636f6d2c637572766532353531392d7368\
        613235362c637572766532353531392d736861323536406c69627373682e6f72672c656364682d736861322d6e69\
        7374703235362c656364682d736861322d6e697374703338342c656364682d736861322d6e697374703532312c64\
        69666669652d68656c6c6d616e2d67726f75702d65786368616e67652d7368613235362c6469666669652d68656c\
        6c6d616e2d67726f757031362d7368613531322c6469666669652d68656c6c6d616e2d67726f757031382d736861\
        3531322c6469666669652d68656c6c6d616e2d67726f757031342d7368613235362c6578742d696e666f2d632c6b\
        65782d7374726963742d632d763030406f70656e7373682e636f6d000001cf7373682d656432353531392d636572\
        742d763031406f70656e7373682e636f6d2c65636473612d736861322d6e697374703235362d636572742d763031\
        406f70656e7373682e636f6d2c65636473612d736861322d6e697374703338342d636572742d763031406f70656e\
        7373682e636f6d2c65636473612d736861322d6e697374703532312d636572742d763031406f70656e7373682e63\
        6f6d2c736b2d7373682d656432353531392d636572742d763031406f70656e7373682e636f6d2c736b2d65636473\
        612d736861322d6e697374703235362d636572742d763031406f70656e7373682e636f6d2c7273612d736861322d\
        3531322d636572742d763031406f70656e7373682e636f6d2c7273612d736861322d3235362d636572742d763031\
        406f70656e7373682e636f6d2c7373682d656432353531392c65636473612d736861322d6e697374703235362c65\
        636473612d736861322d6e697374703338342c65636473612d736861322d6e697374703532312c736b2d7373682d\
        65643235353139406f70656e7373682e636f6d2c736b2d65636473612d736861322d6e69737470323536406f7065\
        6e7373682e636f6d2c7273612d736861322d3531322c7273612d736861322d3235360000006c6368616368613230\
        2d706f6c7931333035406f70656e7373682e636f6d2c6165733132382d6374722c6165733139322d6374722c6165\
        733235362d6374722c6165733132382d67636d406f70656e7373682e636f6d2c6165733235362d67636d406f7065\
        6e7373682e636f6d0000006c63686163686132302d706f6c7931333035406f70656e7373682e636f6d2c61657331\
        32382d6374722c6165733139322d6374722c6165733235362d6374722c6165733132382d67636d406f70656e7373\
        682e636f6d2c6165733235362d67636d406f70656e7373682e636f6d000000d5756d61632d36342d65746d406f70\
        656e7373682e636f6d2c756d61632d3132382d65746d406f70656e7373682e636f6d2c686d61632d736861322d32\
        35362d65746d406f70656e7373682e636f6d2c686d61632d736861322d3531322d65746d406f70656e7373682e63\
        6f6d2c686d61632d736861312d65746d406f70656e7373682e636f6d2c756d61632d3634406f70656e7373682e63\
        6f6d2c756d61632d313238406f70656e7373682e636f6d2c686d61632d736861322d3235362c686d61632d736861\
        322d3531322c686d61632d73686131000000d5756d61632d36342d65746d406f70656e7373682e636f6d2c756d61\
        632d3132382d65746d406f70656e7373682e636f6d2c686d61632d736861322d3235362d65746d406f70656e7373\
        682e636f6d2c686d61632d736861322d3531322d65746d406f70656e7373682e636f6d2c686d61632d736861312d\
        65746d406f70656e7373682e636f6d2c756d61632d3634406f70656e7373682e636f6d2c756d61632d313238406f\
        70656e7373682e636f6d2c686d61632d736861322d3235362c686d61632d736861322d3531322c686d61632d7368\
        61310000001a6e6f6e652c7a6c6962406f70656e7373682e636f6d2c7a6c69620000001a6e6f6e652c7a6c696240\
        6f70656e7373682e636f6d2c7a6c6962000000000000000000000000000000000000000000";
    const SSH_SERVER: &str = "5353482d322e302d4f70656e5353485f392e3270312044656269616e2d322b64656231327531300d0a0000043c09\
        146863993c12ad825b3109cf894e4c4b760000013d736e747275703736317832353531392d7368613531322c736e\
        747275703736317832353531392d736861353132406f70656e7373682e636f6d2c637572766532353531392d7368\
        613235362c637572766532353531392d736861323536406c69627373682e6f72672c656364682d736861322d6e69\
        7374703235362c656364682d736861322d6e697374703338342c656364682d736861322d6e697374703532312c64\
        69666669652d68656c6c6d616e2d67726f75702d65786368616e67652d7368613235362c6469666669652d68656c\
        6c6d616e2d67726f757031362d7368613531322c6469666669652d68656c6c6d616e2d67726f757031382d736861\
        3531322c6469666669652d68656c6c6d616e2d67726f757031342d7368613235362c6b65782d7374726963742d73\
        2d763030406f70656e7373682e636f6d0000000b7373682d656432353531390000006c63686163686132302d706f\
        6c7931333035406f70656e7373682e636f6d2c6165733132382d6374722c6165733139322d6374722c6165733235\
        362d6374722c6165733132382d67636d406f70656e7373682e636f6d2c6165733235362d67636d406f70656e7373\
        682e636f6d0000006c63686163686132302d706f6c7931333035406f70656e7373682e636f6d2c6165733132382d\
        6374722c6165733139322d6374722c6165733235362d6374722c6165733132382d67636d406f70656e7373682e63\
        6f6d2c6165733235362d67636d406f70656e7373682e636f6d000000d5756d61632d36342d65746d406f70656e73\
        73682e636f6d2c756d61632d3132382d65746d406f70656e7373682e636f6d2c686d61632d736861322d3235362d\
        65746d406f70656e7373682e636f6d2c686d61632d736861322d3531322d65746d406f70656e7373682e636f6d2c\
        686d61632d736861312d65746d406f70656e7373682e636f6d2c756d61632d3634406f70656e7373682e636f6d2c\
        756d61632d313238406f70656e7373682e636f6d2c686d61632d736861322d3235362c686d61632d736861322d35\
        31322c686d61632d73686131000000d5756d61632d36342d65746d406f70656e7373682e636f6d2c756d61632d31\
        32382d65746d406f70656e7373682e636f6d2c686d61632d736861322d3235362d65746d406f70656e7373682e63\
        6f6d2c686d61632d736861322d3531322d65746d406f70656e7373682e636f6d2c686d61632d736861312d65746d\
        406f70656e7373682e636f6d2c756d61632d3634406f70656e7373682e636f6d2c756d61632d313238406f70656e\
        7373682e636f6d2c686d61632d736861322d3235362c686d61632d736861322d3531322c686d61632d7368613100\
        0000156e6f6e652c7a6c6962406f70656e7373682e636f6d000000156e6f6e652c7a6c6962406f70656e7373682e\
        636f6d00000000000000000000000000000000000000000000";
    /// tshark 4.0.17 `ssh.kex.hassh` / `ssh.kex.hasshserver` for the capture above.
    const TSHARK_HASSH: &str = "472b5de333ad665af5cbf10ff892c4df";
    const TSHARK_HASSH_SERVER: &str = "425d29fe50d8e4f5e37efb6e24bcf660";

    fn inspect(orig: &[u8], resp: &[u8], finished: bool) -> Outcome {
        SshFingerprint.inspect(&Exchange {
            transport: Transport::Tcp,
            orig,
            resp,
            orig_port: 40000,
            resp_port: 8443,
            finished,
            datagrams: &[],
        })
    }

    fn evidence(out: &Outcome) -> (u8, &SshEvidence) {
        match out {
            Outcome::Match(Match {
                confidence,
                method: Method::PayloadStructure,
                tool: Tool::Ssh,
                evidence: Evidence::Ssh(e),
            }) => (*confidence, e),
            other => panic!("expected an SSH match, got {other:?}"),
        }
    }

    fn banner_len(b: &[u8]) -> usize {
        b.iter().position(|&c| c == b'\n').unwrap() + 1
    }

    #[test]
    fn openssh_full_handshake_known_answer() {
        let (c, s) = (unhex(SSH_CLIENT), unhex(SSH_SERVER));
        let out = inspect(&c, &s, false);
        let (conf, e) = evidence(&out);
        assert_eq!(conf, CONFIDENCE_FULL);
        let cb = e.client_banner.as_deref().unwrap();
        assert_eq!((cb.proto.as_str(), cb.software.as_str()), ("2.0", "OpenSSH_9.2p1"));
        assert_eq!(cb.comment.as_deref(), Some("Debian-2+deb12u10"));
        assert_eq!(e.server_banner.as_deref(), Some(cb));
        assert_eq!(e.hassh.as_deref(), Some(TSHARK_HASSH));
        assert_eq!(e.hassh_server.as_deref(), Some(TSHARK_HASSH_SERVER));
        let algs = e.hassh_algorithms.as_deref().unwrap();
        assert!(algs.starts_with("sntrup761x25519-sha512,sntrup761x25519-sha512@openssh.com,"));
        assert_eq!(algs.split(';').count(), 4);
        assert!(algs.ends_with(";none,zlib@openssh.com,zlib"), "{algs}");
        assert_eq!(md5_hex(algs), TSHARK_HASSH);
        assert!(
            e.hassh_server_algorithms.as_deref().unwrap().ends_with(";none,zlib@openssh.com"),
            "server offers no plain zlib"
        );
        // Ports play no part.
        let swapped = SshFingerprint.inspect(&Exchange {
            transport: Transport::Tcp,
            orig: &c,
            resp: &s,
            orig_port: 22,
            resp_port: 53,
            finished: false,
            datagrams: &[],
        });
        assert_eq!(swapped, out);
    }

    #[test]
    fn kexinit_name_lists_parse() {
        let c = unhex(SSH_CLIENT);
        let Side::Banner { ident, kex: KexState::Parsed(k) } = parse_side(&c, false) else {
            panic!("client side did not parse");
        };
        assert_eq!(ident.proto, "2.0");
        assert!(k.host_key.contains("ssh-ed25519"));
        assert_eq!(k.enc_c2s, k.enc_s2c);
        assert_eq!(k.lang_c2s, "");
        assert!(!k.first_kex_follows);
    }

    #[test]
    fn banners_only_wait_then_match_lower() {
        let (c, s) = (unhex(SSH_CLIENT), unhex(SSH_SERVER));
        let (cb, sb) = (&c[..banner_len(&c)], &s[..banner_len(&s)]);
        assert_eq!(inspect(cb, sb, false), Outcome::NeedMore);
        let out = inspect(cb, sb, true);
        let (conf, e) = evidence(&out);
        assert_eq!(conf, CONFIDENCE_BOTH_BANNERS);
        assert!(e.hassh.is_none() && e.hassh_server.is_none());
    }

    #[test]
    fn one_direction_only() {
        let (c, s) = (unhex(SSH_CLIENT), unhex(SSH_SERVER));
        assert_eq!(inspect(&c, b"", false), Outcome::NeedMore);
        let out = inspect(&c, b"", true);
        let (conf, e) = evidence(&out);
        assert_eq!(conf, CONFIDENCE_ONE_BANNER_KEXINIT);
        assert_eq!(e.hassh.as_deref(), Some(TSHARK_HASSH));
        assert!(e.server_banner.is_none());
        let out = inspect(b"", &s[..banner_len(&s)], true);
        assert_eq!(evidence(&out).0, CONFIDENCE_ONE_BANNER);
    }

    #[test]
    fn truncation_sweep_never_panics_or_contradicts() {
        let (c, s) = (unhex(SSH_CLIENT), unhex(SSH_SERVER));
        let check = |o: &[u8], r: &[u8]| {
            // A genuine prefix is never a contradiction...
            assert_ne!(inspect(o, r, false), Outcome::NoMatch, "{} {}", o.len(), r.len());
            // ...and a finished exchange is always decided.
            assert_ne!(inspect(o, r, true), Outcome::NeedMore, "{} {}", o.len(), r.len());
        };
        for i in 0..=c.len() {
            check(&c[..i], &s);
            check(&c[..i], b"");
            check(&c[..i], &s[..banner_len(&s)]);
        }
        for j in 0..=s.len() {
            check(&c, &s[..j]);
            check(b"", &s[..j]);
            check(&c[..j.min(c.len())], &s[..j]);
        }
    }

    #[test]
    fn hostile_packet_lengths_do_not_wait_or_allocate() {
        let mut c = b"SSH-2.0-x\r\n".to_vec();
        let s = b"SSH-2.0-y\r\n\xff\xff\xff\xff\x0a\x14".to_vec();
        // Client: a packet_length within limits but larger than what is ever read.
        c.extend_from_slice(&30_000u32.to_be_bytes());
        c.extend_from_slice(&[4, MSG_KEXINIT]);
        // Nothing more can come that would change the answer: match on the banners now.
        assert_eq!(evidence(&inspect(&c, &s, false)).0, CONFIDENCE_BOTH_BANNERS);
        // A KEXINIT whose name-list claims 4 GiB is not a KEXINIT.
        let mut p = vec![MSG_KEXINIT];
        p.extend_from_slice(&[0; COOKIE_LEN]);
        p.extend_from_slice(&u32::MAX.to_be_bytes());
        p.extend_from_slice(b"curve25519-sha256");
        assert_eq!(parse_kexinit_payload(&p), None);
        // A line that never ends.
        let long = [b"SSH-2.0-".as_slice(), &[b'a'; MAX_BANNER_LEN]].concat();
        assert_eq!(inspect(&long, b"", false), Outcome::NoMatch);
        // An endless server preamble.
        let pre = b"hello\r\n".repeat(MAX_PREAMBLE_LEN / 7 + 1);
        assert_eq!(parse_side(&pre, true), Side::Invalid);
    }

    #[test]
    fn garbage_after_banner_is_still_ssh() {
        let c = b"SSH-2.0-PuTTY_Release_0.78\r\n\x00\x00\x00\x00garbage";
        let s = b"SSH-2.0-dropbear_2022.83\r\n";
        let out = inspect(c, s, true);
        assert_eq!(evidence(&out).0, CONFIDENCE_BOTH_BANNERS);
    }

    #[test]
    fn ssh1_session_matches_on_banners() {
        let out = inspect(b"SSH-1.5-OpenSSH_6.6\n", b"SSH-1.5-OpenSSH_6.6\n\x00\x00\x01\x04", false);
        let (conf, e) = evidence(&out);
        assert_eq!(conf, CONFIDENCE_FULL);
        assert_eq!(e.client_banner.as_ref().unwrap().proto, "1.5");
        assert!(e.hassh.is_none());
    }

    #[test]
    fn server_preamble_and_lf_endings() {
        let s = b"Welcome\r\nauthorised users only\nSSH-1.99-Cisco-1.25\n";
        let Side::Banner { ident, .. } = parse_side(s, true) else {
            panic!("no banner");
        };
        assert_eq!((ident.proto, ident.software, ident.comment), ("1.99", "Cisco-1.25", None));
        // The client may not send a preamble.
        assert_eq!(parse_side(b"Welcome\r\nSSH-2.0-x\r\n", false), Side::Invalid);
    }

    #[test]
    fn malformed_identification_is_rejected() {
        for bad in [b"SSH-2.0\r\n".as_slice(), b"SSH-two-x\r\n", b"SSH-2.0-a\x00b\r\n", b"SSX-2.0-x\r\n"] {
            assert_eq!(parse_side(bad, false), Side::Invalid, "{bad:?}");
        }
    }

    #[test]
    fn other_protocols_do_not_match() {
        let http_req = b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n";
        let http_resp = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(inspect(http_req, http_resp, false), Outcome::NoMatch);
        assert_eq!(inspect(http_req, b"", false), Outcome::NoMatch);
        let tls = [0x16, 0x03, 0x01, 0x00, 0x2e, 0x01, 0x00, 0x00, 0x2a, 0x03, 0x03];
        assert_eq!(inspect(&tls, b"", false), Outcome::NoMatch);
        assert_eq!(inspect(b"", b"", true), Outcome::NoMatch);
        // A server that only talks HTTP-like text never matches once finished.
        assert_eq!(inspect(b"", http_resp, true), Outcome::NoMatch);
        assert!(!SshFingerprint.wants(Transport::Udp));
        assert_eq!(SshFingerprint.bytes_wanted(), BYTES_WANTED);
    }

    #[test]
    fn byte_mutation_sweep_never_panics() {
        let (c, s) = (unhex(SSH_CLIENT), unhex(SSH_SERVER));
        for pos in 0..c.len().max(s.len()) {
            for v in [0x00, 0xFF, 0x0A, b'-'] {
                let (mut c2, mut s2) = (c.clone(), s.clone());
                if let Some(b) = c2.get_mut(pos) {
                    *b = v;
                }
                if let Some(b) = s2.get_mut(pos) {
                    *b ^= v;
                }
                let _ = inspect(&c2, &s2, false);
                assert_ne!(inspect(&c2, &s2, true), Outcome::NeedMore);
            }
        }
    }

    #[test]
    fn preamble_within_limit_is_accepted() {
        let line = [[b'x'; 98].as_slice(), b"\r\n"].concat();
        let s = [line.repeat(10), b"SSH-2.0-srv\r\n".to_vec()].concat();
        assert!(matches!(parse_side(&s, true), Side::Banner { .. }));
        assert_eq!(evidence(&inspect(b"SSH-2.0-cli\r\n", &s, true)).0, CONFIDENCE_BOTH_BANNERS);
    }
}
