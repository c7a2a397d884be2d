//! SSH transport-layer wire format (RFC 4253, RFC 4251 §5): identification lines, the binary
//! packet framing of the clear-text phase, `SSH_MSG_KEXINIT` and the message numbers.
//!
//! # Contract
//! One module, two readers of the same bytes, sharing the constants and the packet-length
//! rule ([`packet_length_ok`]):
//! - **Prefix parsing** (the SSH fingerprint's view of a flow's first bytes): [`probe`] looks
//!   at the first bytes of a direction; [`identification`] finds its identification string
//!   (after the server's optional pre-banner lines) and returns the bytes after it;
//!   [`binary_packet`] splits one clear-text packet off the front of a buffer; [`kexinit`]
//!   reads the algorithm name-lists of a KEXINIT payload. Strict RFC limits:
//!   [`MAX_IDENT_LEN`], [`MAX_PREAMBLE_LEN`], [`MAX_PACKET_LEN`].
//! - **Stream following** (the timing code's view of a whole session): [`ClearStream`] follows
//!   one direction of the clear-text phase segment by segment without buffering, and reports
//!   the message number of each packet until `SSH_MSG_NEWKEYS`. Tolerant limits:
//!   [`MAX_FOLLOWED_LINE_LEN`], [`MAX_FOLLOWED_PACKET_LEN`] (it must not lose a real key
//!   exchange, whatever its size).
//!
//! `Incomplete` (or `None` / "no message yet") while the bytes are consistent but unfinished;
//! `Invalid` as soon as they contradict the format or exceed a limit. Pure, panic-free,
//! zero-copy: every result borrows the input, nothing allocates, and no length field is used
//! before it is checked against its limit and against the bytes that are there. Decides
//! nothing about tools: confidence, evidence and HASSH are the fingerprint's.
//!
//! # Facts used
//! - RFC 4253 §4.2: each side first sends `SSH-protoversion-softwareversion SP comments CR LF`,
//!   at most 255 bytes including CR LF; versions are printable US-ASCII without spaces. The
//!   server may send other lines first; they must not begin with `SSH-`. Lone LF endings are
//!   tolerated (as the RFC recommends for compatibility).
//! - RFC 4253 §5.1: version `1.99` means "SSH-2 and SSH-1"; `1.x` otherwise is SSH-1, whose
//!   packets are not SSH-2 binary packets.
//! - RFC 4253 §6: binary packet = `uint32 packet_length`, `byte padding_length`, payload
//!   (message number first), padding; the MAC is absent before the first key exchange.
//!   `packet_length` counts neither itself nor the MAC. §6.1: implementations need not handle
//!   packets over 35000 bytes.
//! - RFC 4253 §7.1: `SSH_MSG_KEXINIT` = message number, 16-byte cookie, ten `name-list`s
//!   (RFC 4251 §5: `uint32` length + comma-separated US-ASCII names),
//!   `boolean first_kex_packet_follows`, `uint32 reserved`. §7.3: after `SSH_MSG_NEWKEYS`
//!   each direction is encrypted.
//! - RFC 4253 §12, RFC 4419 §5 (group exchange), RFC 5656 §7.1 (ECDH): message numbers
//!   30–49 belong to the key-exchange method; the same number means the init or reply of
//!   each method.

pub mod framing;
use crate::step::{Anomaly, Layer, Reason, Step};

/// Every identification string begins with these bytes (RFC 4253 §4.2).
pub const IDENT_PREFIX: &[u8] = b"SSH-";
/// Longest identification line [`identification`] accepts, CR LF included (RFC 4253 §4.2:
/// "maximum length of the string is 255 characters"); it also bounds each pre-banner line,
/// so a direction that never sends a line feed is rejected after this many bytes.
pub const MAX_IDENT_LEN: usize = 255;
/// Most bytes of pre-banner lines (RFC 4253 §4.2) a server may send before its
/// identification string in [`identification`]. The RFC sets no total; real servers send a
/// short notice or none, and a bound keeps a text protocol from being read as SSH forever.
pub const MAX_PREAMBLE_LEN: usize = 1024;
/// Most digits in each part of a protocol version (`2.0`, `1.99`): every implementation
/// sends one or two.
pub const MAX_VERSION_DIGITS: usize = 3;
/// Bytes of the `packet_length` field (RFC 4253 §6).
pub const PACKET_LENGTH_LEN: usize = 4;
/// Bytes of a packet up to and including its message number: `packet_length`,
/// `padding_length` and the payload's first byte (RFC 4253 §6).
pub const PACKET_HEADER_LEN: usize = 6;
/// Bytes of the packet header after `packet_length`: `padding_length` and the message number.
const HEADER_AFTER_LENGTH: u32 = (PACKET_HEADER_LEN - PACKET_LENGTH_LEN) as u32;
/// Smallest `packet_length`: the `padding_length` byte and a message number (RFC 4253 §6).
pub const MIN_PACKET_LEN: u32 = 2;
/// Largest `packet_length` [`binary_packet`] accepts: RFC 4253 §6.1's 35000 bytes, past which
/// an implementation may refuse a packet. The fingerprint's strict bound; it applies to the
/// field (the 4 bytes of the field itself are not counted).
pub const MAX_PACKET_LEN: u32 = 35_000;
/// Longest line (pre-banner or identification) [`ClearStream`] reads before giving up on the
/// direction. More tolerant than [`MAX_IDENT_LEN`]: a timing follower only needs to find the
/// `SSH-` line's end, and losing a real session costs more than reading a long notice.
pub const MAX_FOLLOWED_LINE_LEN: u16 = 1024;
/// Largest `packet_length` [`ClearStream`] follows in the clear-text phase. Deliberately above
/// RFC 4253 §6.1's 35000 (which is only what every implementation must accept): real
/// key-exchange packets are a few KB (post-quantum ones under 4 KB), and the follower skips
/// packet bodies without reading them, so a large bound costs nothing but a lost session.
pub const MAX_FOLLOWED_PACKET_LEN: u32 = 256 * 1024;
/// Bytes of the random cookie that opens a KEXINIT after its message number (RFC 4253 §7.1).
pub const KEXINIT_COOKIE_LEN: usize = 16;
/// Number of name-lists in a KEXINIT (RFC 4253 §7.1).
pub const KEXINIT_NAME_LISTS: usize = 10;

/// `SSH_MSG_KEXINIT` (RFC 4253 §12).
pub const MSG_KEXINIT: u8 = 20;
/// `SSH_MSG_NEWKEYS` (RFC 4253 §12): the sender's next packet is encrypted.
pub const MSG_NEWKEYS: u8 = 21;
/// 30: the client's first key-exchange message: `SSH_MSG_KEXDH_INIT` (RFC 4253 §8),
/// `SSH_MSG_KEX_ECDH_INIT` (RFC 5656), `SSH_MSG_KEX_DH_GEX_REQUEST_OLD` (RFC 4419).
pub const MSG_KEXDH_INIT: u8 = 30;
/// 31: the server's answer to it: `SSH_MSG_KEXDH_REPLY` (RFC 4253 §8),
/// `SSH_MSG_KEX_ECDH_REPLY` (RFC 5656), `SSH_MSG_KEX_DH_GEX_GROUP` (RFC 4419).
pub const MSG_KEXDH_REPLY: u8 = 31;
/// `SSH_MSG_KEX_DH_GEX_INIT` (RFC 4419): the client's message after the group.
pub const MSG_KEX_DH_GEX_INIT: u8 = 32;
/// `SSH_MSG_KEX_DH_GEX_REPLY` (RFC 4419): the server's answer to it.
pub const MSG_KEX_DH_GEX_REPLY: u8 = 33;
/// `SSH_MSG_KEX_DH_GEX_REQUEST` (RFC 4419): the client asks for a group.
pub const MSG_KEX_DH_GEX_REQUEST: u8 = 34;

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
    /// Whether this side speaks only SSH-1 (`1.x` other than `1.99`, RFC 4253 §5.1).
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

/// Cheap first look at one direction: could these bytes begin an SSH identification (or, for
/// the server, a pre-banner line)? Reads at most 4 bytes.
pub fn probe(side: &[u8], is_server: bool) -> bool {
    let head = side.get(..IDENT_PREFIX.len()).unwrap_or(side);
    IDENT_PREFIX.starts_with(head) || (is_server && head.iter().all(|&b| is_line_byte(b)))
}

/// Find one direction's identification string: the first line if `is_server` is false, else
/// the first line beginning `SSH-` after at most [`MAX_PREAMBLE_LEN`] bytes of pre-banner
/// lines. `Done` holds the identification and the bytes after its line (where the binary
/// packets begin); `Incomplete` while what is there could still become one.
pub fn identification(buf: &[u8], is_server: bool) -> Step<(Ident<'_>, &[u8])> {
    let mut rest = buf;
    loop {
        match take_line(rest) {
            Line::Incomplete(partial) => {
                let at = buf.len().saturating_sub(partial.len());
                return if partial_line_ok(partial, is_server) {
                    Step::Incomplete
                } else {
                    Step::invalid(Layer::Ssh, at, Reason::BadValue)
                };
            }
            Line::TooLong => return Step::invalid(Layer::Ssh, buf.len().saturating_sub(rest.len()), Reason::OverLimit),
            Line::Complete(line, after) => {
                if line.starts_with(IDENT_PREFIX) {
                    return match parse_ident(line) {
                        Some(ident) => Step::Done((ident, after)),
                        None => Step::invalid(Layer::Ssh, buf.len().saturating_sub(rest.len()), Reason::BadValue),
                    };
                }
                // Bytes consumed so far, all of them pre-banner lines.
                let preamble = buf.len().saturating_sub(after.len());
                let at = buf.len().saturating_sub(rest.len());
                if !is_server || !line.iter().all(|&b| is_line_byte(b)) {
                    return Step::invalid(Layer::Ssh, at, Reason::BadValue);
                }
                if preamble > MAX_PREAMBLE_LEN {
                    return Step::invalid(Layer::Ssh, at, Reason::OverLimit);
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
    /// No LF within [`MAX_IDENT_LEN`].
    TooLong,
}

fn take_line(buf: &[u8]) -> Line<'_> {
    let window = buf.get(..MAX_IDENT_LEN).unwrap_or(buf);
    match window.iter().position(|&b| b == b'\n') {
        Some(lf) => {
            let line = buf.get(..lf).unwrap_or_default();
            let after = buf.get(lf.saturating_add(1)..).unwrap_or_default();
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            Line::Complete(line, after)
        }
        None if buf.len() >= MAX_IDENT_LEN => Line::TooLong,
        None => Line::Incomplete(buf),
    }
}

/// Bytes allowed in pre-banner lines and comments: printable text, tab, CR, and UTF-8.
fn is_line_byte(b: u8) -> bool {
    b == b'\t' || b == b'\r' || b >= 0x20 && b != 0x7f
}

/// Printable US-ASCII without space (RFC 4253 §4.2 for versions, RFC 4251 §5 for names).
fn is_version_byte(b: u8) -> bool {
    (0x21..=0x7e).contains(&b)
}

/// Could `partial` (no LF yet) still become a valid identification or pre-banner line?
fn partial_line_ok(partial: &[u8], is_server: bool) -> bool {
    let head = partial.get(..IDENT_PREFIX.len()).unwrap_or(partial);
    let tail = partial.get(IDENT_PREFIX.len()..).unwrap_or_default();
    if IDENT_PREFIX.starts_with(head) {
        // Identification in progress: everything so far must be banner-legal.
        let tail = tail.strip_suffix(b"\r").unwrap_or(tail);
        return tail.iter().all(|&b| is_line_byte(b) && b != b'\r');
    }
    is_server && partial.iter().all(|&b| is_line_byte(b))
}

/// Parse an identification line (without CR LF).
fn parse_ident(line: &[u8]) -> Option<Ident<'_>> {
    let body = line.strip_prefix(IDENT_PREFIX)?;
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
    let digits = |p: &[u8]| !p.is_empty() && p.len() <= MAX_VERSION_DIGITS && p.iter().all(u8::is_ascii_digit);
    parts.next().is_none() && digits(major) && digits(minor)
}

/// Whether a `packet_length` field is one a reader with bound `max` follows: at least
/// [`MIN_PACKET_LEN`] and at most `max` ([`MAX_PACKET_LEN`] or [`MAX_FOLLOWED_PACKET_LEN`]).
pub fn packet_length_ok(packet_length: u32, max: u32) -> bool {
    (MIN_PACKET_LEN..=max).contains(&packet_length)
}

/// The `packet_length` field at the front of `buf`, if its 4 bytes are there.
pub fn packet_length(buf: &[u8]) -> Option<u32> {
    buf.first_chunk::<PACKET_LENGTH_LEN>().map(|b| u32::from_be_bytes(*b))
}

/// Split one clear-text binary packet (no MAC: before the first NEWKEYS) off the front of
/// `buf`: `Done((payload, rest))` with the payload (message number first, padding removed)
/// and the bytes after the packet. `Invalid` when `packet_length` is outside
/// [`MIN_PACKET_LEN`]`..=`[`MAX_PACKET_LEN`] or the padding is longer than the packet;
/// `Incomplete` while fewer bytes than the packet are there (see [`packet_length`] for how
/// many it claims).
pub fn binary_packet(buf: &[u8]) -> Step<(&[u8], &[u8])> {
    let Some((len_bytes, rest)) = buf.split_first_chunk::<PACKET_LENGTH_LEN>() else {
        return Step::Incomplete;
    };
    let packet_len = u32::from_be_bytes(*len_bytes);
    if !packet_length_ok(packet_len, MAX_PACKET_LEN) {
        return Step::invalid(
            Layer::Ssh,
            0,
            if packet_len > MAX_PACKET_LEN { Reason::OverLimit } else { Reason::BadLength },
        );
    }
    let packet_len = usize::try_from(packet_len).unwrap_or(usize::MAX);
    let Some((packet, after)) = rest.split_at_checked(packet_len) else {
        return Step::Incomplete;
    };
    let Some((&pad_len, body)) = packet.split_first() else {
        return Step::invalid(Layer::Ssh, 0, Reason::BadLength);
    };
    match body.len().checked_sub(usize::from(pad_len)).and_then(|n| body.get(..n)) {
        Some(payload) => Step::Done((payload, after)),
        None => Step::invalid(Layer::Ssh, PACKET_LENGTH_LEN, Reason::BadLength),
    }
}

/// Parse a KEXINIT payload (message number first). `None` if it is another message, or its
/// fields do not fit the bytes, or a name-list holds other than printable US-ASCII.
pub fn kexinit(payload: &[u8]) -> Option<KexInit<'_>> {
    let (&msg, rest) = payload.split_first()?;
    if msg != MSG_KEXINIT {
        return None;
    }
    let (_cookie, mut rest) = rest.split_at_checked(KEXINIT_COOKIE_LEN)?;
    let mut lists = [""; KEXINIT_NAME_LISTS];
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

/// Where a [`ClearStream`] stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClearPhase {
    /// Reading text lines, up to and including the `SSH-` line.
    Lines,
    /// Following binary packets.
    Packets,
    /// Stopped: after NEWKEYS, past a limit, or told to ([`ClearStream::stop`]).
    Done,
}

/// Follows one direction of an SSH session's clear-text phase incrementally, in stream order,
/// without buffering: the text lines up to the identification string, then each binary
/// packet's header (its body is skipped), until `SSH_MSG_NEWKEYS`. Lenient where
/// [`identification`] is strict: lines up to [`MAX_FOLLOWED_LINE_LEN`], any number of them,
/// by either side; packets up to [`MAX_FOLLOWED_PACKET_LEN`]. A line or packet length past
/// its limit stops it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClearStream {
    state: Clear,
    /// Bytes consumed so far (saturating), the offset of an anomaly.
    at: u32,
    /// Why following stopped, when the bytes broke the framing.
    broken: Option<Anomaly>,
}

/// A [`ClearStream`]'s state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Clear {
    /// Text lines: bytes of the current line so far, and its first 4 bytes.
    Lines { line_len: u16, prefix: [u8; 4] },
    /// Binary packets: bytes of the current packet still to skip, header bytes gathered.
    Packets { skip: u32, head: [u8; PACKET_HEADER_LEN], have: u8 },
    /// No more parsing.
    Done,
}

impl Default for ClearStream {
    fn default() -> Self {
        ClearStream::new()
    }
}

impl ClearStream {
    /// A follower at the start of a direction.
    pub fn new() -> ClearStream {
        ClearStream { state: Clear::Lines { line_len: 0, prefix: [0; 4] }, at: 0, broken: None }
    }

    /// Where it stands.
    pub fn phase(&self) -> ClearPhase {
        match self.state {
            Clear::Lines { .. } => ClearPhase::Lines,
            Clear::Packets { .. } => ClearPhase::Packets,
            Clear::Done => ClearPhase::Done,
        }
    }

    /// Whether it still reads the clear-text phase (not [`ClearPhase::Done`]).
    pub fn is_following(&self) -> bool {
        self.phase() != ClearPhase::Done
    }

    /// Why following stopped early, if the bytes broke the framing (a line or packet length
    /// past its limit): the anomaly and the offset in the direction's stream.
    pub fn anomaly(&self) -> Option<Anomaly> {
        self.broken
    }

    /// Stop following (the stream lost bytes, so its framing is lost too).
    pub fn stop(&mut self) {
        self.state = Clear::Done;
    }

    /// Consume `bytes` from the front up to the end of the next packet header: that packet's
    /// message number, with `bytes` left after it; `None` when `bytes` ran out first (all of
    /// them consumed) or the follower is [`ClearPhase::Done`]. Call again while it returns
    /// `Some`; a packet with [`MSG_NEWKEYS`] is reported, then the follower is done.
    pub fn next_message(&mut self, bytes: &mut &[u8]) -> Option<u8> {
        while let Some((&c, rest)) = bytes.split_first() {
            match self.state {
                Clear::Done => return None,
                Clear::Lines { line_len, prefix } => {
                    *bytes = rest;
                    self.state = line_byte(line_len, prefix, c);
                    if self.state == Clear::Done {
                        self.broken = Some(Anomaly::new(Layer::Ssh, self.at as usize, Reason::OverLimit));
                    }
                    self.at = self.at.saturating_add(1);
                }
                Clear::Packets { skip, head, have } if skip > 0 => {
                    let n = bytes.len().min(skip as usize);
                    *bytes = bytes.get(n..).unwrap_or_default();
                    self.state = Clear::Packets { skip: skip - n as u32, head, have };
                    self.at = self.at.saturating_add(n as u32);
                }
                Clear::Packets { skip: _, mut head, have } => {
                    *bytes = rest;
                    self.at = self.at.saturating_add(1);
                    if let Some(h) = head.get_mut(usize::from(have)) {
                        *h = c;
                    }
                    let have = have + 1;
                    if usize::from(have) < head.len() {
                        self.state = Clear::Packets { skip: 0, head, have };
                        continue;
                    }
                    let [l0, l1, l2, l3, _padding_length, msg] = head;
                    let len = u32::from_be_bytes([l0, l1, l2, l3]);
                    if !packet_length_ok(len, MAX_FOLLOWED_PACKET_LEN) {
                        let reason = if len > MAX_FOLLOWED_PACKET_LEN { Reason::OverLimit } else { Reason::BadLength };
                        let start = (self.at as usize).saturating_sub(PACKET_HEADER_LEN);
                        self.broken = Some(Anomaly::new(Layer::Ssh, start, reason));
                        self.state = Clear::Done;
                        continue;
                    }
                    self.state = if msg == MSG_NEWKEYS {
                        Clear::Done
                    } else {
                        // What is left of the packet after its header: `packet_length` counts
                        // the padding length and message number bytes, not itself, and no MAC
                        // follows in the clear (`len` >= MIN_PACKET_LEN = that header part).
                        Clear::Packets { skip: len - HEADER_AFTER_LENGTH, head: [0; PACKET_HEADER_LEN], have: 0 }
                    };
                    return Some(msg);
                }
            }
        }
        None
    }
}

/// The state after byte `c` of a text line of which `line_len` bytes (first ones in
/// `prefix`) were read.
fn line_byte(line_len: u16, mut prefix: [u8; 4], c: u8) -> Clear {
    if let Some(p) = prefix.get_mut(usize::from(line_len)) {
        *p = c;
    }
    let line_len = line_len.saturating_add(1);
    if c == b'\n' {
        if prefix.as_slice() == IDENT_PREFIX {
            Clear::Packets { skip: 0, head: [0; PACKET_HEADER_LEN], have: 0 }
        } else {
            Clear::Lines { line_len: 0, prefix: [0; 4] }
        }
    } else if line_len > MAX_FOLLOWED_LINE_LEN {
        Clear::Done
    } else {
        Clear::Lines { line_len, prefix }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::ssh::{CLIENT, SERVER, packet as pkt};
    use crate::testutil::unhex;

    /// Length of the identification line (LF included) at the front of `b`.
    fn line_len(b: &[u8]) -> usize {
        b.iter().position(|&c| c == b'\n').unwrap() + 1
    }

    /// All message numbers a follower reports for `chunks` fed one after the other.
    fn follow(chunks: &[&[u8]]) -> (Vec<u8>, ClearStream) {
        let mut s = ClearStream::new();
        let mut msgs = Vec::new();
        for chunk in chunks {
            let mut b = *chunk;
            while let Some(m) = s.next_message(&mut b) {
                msgs.push(m);
            }
            assert!(b.is_empty() || s.phase() == ClearPhase::Done);
        }
        (msgs, s)
    }

    #[test]
    fn openssh_identification_and_kexinit_known_answer() {
        let c = unhex(CLIENT);
        let Step::Done((ident, after)) = identification(&c, false) else { panic!("no identification") };
        assert_eq!((ident.proto, ident.software), ("2.0", "OpenSSH_9.2p1"));
        assert_eq!(ident.comment, Some(b"Debian-2+deb12u10".as_slice()));
        assert!(!ident.is_ssh1_only());
        assert_eq!(after.len(), c.len() - line_len(&c));
        let Step::Done((payload, rest)) = binary_packet(after) else { panic!("no packet") };
        assert!(rest.is_empty());
        let k = kexinit(payload).unwrap();
        assert!(k.kex.starts_with("sntrup761x25519-sha512,sntrup761x25519-sha512@openssh.com,"));
        assert!(k.host_key.contains("ssh-ed25519"));
        assert_eq!(k.enc_c2s, k.enc_s2c);
        assert_eq!(k.comp_c2s, "none,zlib@openssh.com,zlib");
        assert_eq!(k.lang_c2s, "");
        assert!(!k.first_kex_follows);
        let s = unhex(SERVER);
        let Step::Done((_, after)) = identification(&s, true) else { panic!("no server identification") };
        let Step::Done((payload, _)) = binary_packet(after) else { panic!("no server packet") };
        assert_eq!(kexinit(payload).unwrap().comp_s2c, "none,zlib@openssh.com");
    }

    #[test]
    fn truncation_sweeps_never_give_a_wrong_done() {
        for (hex, is_server) in [(CLIENT, false), (SERVER, true)] {
            let b = unhex(hex);
            let Step::Done((full, after)) = identification(&b, is_server) else { panic!() };
            let line = line_len(&b);
            for i in 0..=b.len() {
                match identification(&b[..i], is_server) {
                    Step::Incomplete => assert!(i < line, "{i}"),
                    Step::Done((ident, _)) => assert!(i >= line && ident == full, "{i}"),
                    Step::Invalid(_) => panic!("prefix {i} rejected"),
                }
                assert!(probe(&b[..i], is_server));
            }
            for i in 0..after.len() {
                assert_eq!(binary_packet(&after[..i]), Step::Incomplete, "{i}");
            }
            let Step::Done((payload, _)) = binary_packet(after) else { panic!() };
            for i in 0..payload.len() {
                assert_eq!(kexinit(&payload[..i]), None, "{i}");
            }
        }
        // A server's pre-banner lines, cut anywhere, only ever wait.
        let s = b"Welcome\r\nauthorised users only\nSSH-2.0-srv\r\n";
        for i in 0..s.len() {
            assert_eq!(identification(&s[..i], true), Step::Incomplete, "{i}");
        }
    }

    #[test]
    fn hostile_lengths_are_refused_without_waiting_or_allocating() {
        // packet_length out of bounds, whatever follows.
        for len in [0, 1, MAX_PACKET_LEN + 1, u32::MAX] {
            let mut p = len.to_be_bytes().to_vec();
            p.extend_from_slice(&[4, MSG_KEXINIT, 0, 0, 0, 0]);
            assert!(binary_packet(&p).is_invalid(), "{len}");
        }
        // Within bounds but longer than the input: only more bytes can tell.
        let mut p = MAX_PACKET_LEN.to_be_bytes().to_vec();
        p.extend_from_slice(&[4, MSG_KEXINIT]);
        assert_eq!(binary_packet(&p), Step::Incomplete);
        assert_eq!(packet_length(&p), Some(MAX_PACKET_LEN));
        // Padding longer than the packet.
        assert_eq!(binary_packet(&[0, 0, 0, 2, 9, MSG_KEXINIT]), Step::invalid(Layer::Ssh, 4, Reason::BadLength));
        assert_eq!(binary_packet(&[0, 0, 0, 3, 1, MSG_KEXINIT, 0, 7]), Step::Done((&[MSG_KEXINIT][..], &[7][..])));
        // A name-list claiming 4 GiB, or one byte more than there is.
        let mut k = vec![MSG_KEXINIT];
        k.extend_from_slice(&[0; KEXINIT_COOKIE_LEN]);
        let body = b"curve25519-sha256";
        for claim in [u32::MAX, body.len() as u32 + 1] {
            let mut p = k.clone();
            p.extend_from_slice(&claim.to_be_bytes());
            p.extend_from_slice(body);
            assert_eq!(kexinit(&p), None, "{claim}");
        }
        // A line that never ends, and an endless server preamble.
        let long = [b"SSH-2.0-".as_slice(), &[b'a'; MAX_IDENT_LEN]].concat();
        assert_eq!(identification(&long, false), Step::invalid(Layer::Ssh, 0, Reason::OverLimit));
        let pre = b"hello\r\n".repeat(MAX_PREAMBLE_LEN / 7 + 1);
        assert!(identification(&pre, true).is_invalid());
    }

    #[test]
    fn preamble_within_limit_and_lf_endings() {
        let line = [[b'x'; 98].as_slice(), b"\r\n"].concat();
        let s = [line.repeat(10), b"SSH-2.0-srv\r\n".to_vec()].concat();
        assert!(matches!(identification(&s, true), Step::Done(_)));
        let s = b"Welcome\r\nauthorised users only\nSSH-1.99-Cisco-1.25\n";
        let Step::Done((ident, after)) = identification(s, true) else { panic!("no banner") };
        assert_eq!((ident.proto, ident.software, ident.comment), ("1.99", "Cisco-1.25", None));
        assert!(after.is_empty() && !ident.is_ssh1_only());
        // The client may not send a preamble.
        assert!(identification(b"Welcome\r\nSSH-2.0-x\r\n", false).is_invalid());
        let Step::Done((ident, _)) = identification(b"SSH-1.5-OpenSSH_6.6\n", false) else { panic!() };
        assert!(ident.is_ssh1_only());
    }

    #[test]
    fn malformed_identification_is_rejected() {
        for bad in
            [b"SSH-2.0\r\n".as_slice(), b"SSH-two-x\r\n", b"SSH-2.0-a\x00b\r\n", b"SSX-2.0-x\r\n", b"SSH-2.1000-x\n"]
        {
            assert!(identification(bad, false).is_invalid(), "{bad:?}");
        }
        assert!(!probe(b"GET ", false) && probe(b"GET ", true) && !probe(b"\x16\x03", true));
    }

    #[test]
    fn follower_reports_each_message_until_newkeys() {
        let mut c = b"SSH-2.0-OpenSSH_9.2\r\n".to_vec();
        for (msg, body) in [(MSG_KEXINIT, 1_500), (MSG_KEXDH_INIT, 1_300), (MSG_NEWKEYS, 0)] {
            c.extend(pkt(msg, body));
        }
        c.extend_from_slice(b"encrypted from here");
        let (msgs, s) = follow(&[&c]);
        assert_eq!(msgs, [MSG_KEXINIT, MSG_KEXDH_INIT, MSG_NEWKEYS]);
        assert_eq!(s.phase(), ClearPhase::Done);
        // Pre-banner lines, by either side, and LF endings.
        let pre = [b"Welcome\nnotice\r\n".as_slice(), &pkt(MSG_KEXINIT, 0)].concat();
        let (msgs, s) = follow(&[&pre]);
        assert_eq!((msgs.len(), s.phase()), (0, ClearPhase::Lines), "no SSH- line yet");
        let (msgs, s) = follow(&[b"note\nSSH-2.0-x\n", &pkt(MSG_KEXINIT, 0)]);
        assert_eq!((msgs, s.phase()), (vec![MSG_KEXINIT], ClearPhase::Packets));
        let mut stopped = ClearStream::default();
        stopped.stop();
        assert!(!stopped.is_following());
        assert_eq!(stopped.next_message(&mut c.as_slice()), None);
    }

    #[test]
    fn follower_truncation_and_split_sweep() {
        let mut full = b"SSH-2.0-x\r\n".to_vec();
        let mut header_ends = Vec::new();
        for (msg, body) in [(MSG_KEXINIT, 40), (MSG_KEXDH_INIT, 40), (MSG_NEWKEYS, 0)] {
            header_ends.push((full.len() + PACKET_HEADER_LEN, msg));
            full.extend(pkt(msg, body));
        }
        for cut in 0..=full.len() {
            // Every prefix reports exactly the messages whose header is complete in it.
            let (msgs, s) = follow(&[&full[..cut]]);
            let want: Vec<u8> = header_ends.iter().filter(|(end, _)| *end <= cut).map(|(_, m)| *m).collect();
            assert_eq!(msgs, want, "{cut}");
            assert_eq!(s.phase() == ClearPhase::Done, want.len() == 3, "{cut}");
            // Fed in two pieces anywhere: the same as whole.
            assert_eq!(follow(&[&full[..cut], &full[cut..]]).0, [MSG_KEXINIT, MSG_KEXDH_INIT, MSG_NEWKEYS], "{cut}");
        }
    }

    #[test]
    fn follower_hostile_lengths_stop_it() {
        for len in [0, 1, MAX_FOLLOWED_PACKET_LEN + 1, u32::MAX] {
            let mut b = b"SSH-2.0-x\r\n".to_vec();
            b.extend_from_slice(&len.to_be_bytes());
            b.extend_from_slice(&[4, MSG_KEXDH_INIT, 1, 2, 3]);
            let (msgs, s) = follow(&[&b]);
            assert_eq!((msgs.len(), s.phase()), (0, ClearPhase::Done), "{len}");
            let reason = if len > MAX_FOLLOWED_PACKET_LEN { Reason::OverLimit } else { Reason::BadLength };
            assert_eq!(s.anomaly(), Some(Anomaly::new(Layer::Ssh, 11, reason)), "{len}");
        }
        // The largest followed packet is skipped whole, even when it claims more than is there.
        let mut b = b"SSH-2.0-x\r\n".to_vec();
        b.extend_from_slice(&MAX_FOLLOWED_PACKET_LEN.to_be_bytes());
        b.extend_from_slice(&[4, MSG_KEXINIT]);
        let (msgs, mut s) = follow(&[&b]);
        assert_eq!((msgs, s.phase()), (vec![MSG_KEXINIT], ClearPhase::Packets));
        let rest = vec![0u8; MAX_FOLLOWED_PACKET_LEN as usize - 2];
        let mut r = rest.as_slice();
        assert_eq!(s.next_message(&mut r), None);
        // NEWKEYS is reported and ends the clear text: what follows its header is left.
        let mut next = pkt(MSG_NEWKEYS, 0);
        next.push(0xAA);
        let mut n = next.as_slice();
        assert_eq!((s.next_message(&mut n), n), (Some(MSG_NEWKEYS), &[0, 0, 0, 0, 0xAA][..]));
        assert_eq!(s.phase(), ClearPhase::Done);
    }

    #[test]
    fn follower_lines_up_to_the_limit() {
        // A line of MAX_FOLLOWED_LINE_LEN bytes before its newline is read; one byte more stops
        // the follower.
        let line = |n: usize| {
            let mut v = vec![b'x'; n];
            v.extend_from_slice(b"\nSSH-2.0-x\r\n");
            v
        };
        let limit = usize::from(MAX_FOLLOWED_LINE_LEN);
        assert_eq!(follow(&[&line(limit)]).1.phase(), ClearPhase::Packets);
        let (_, over) = follow(&[&line(limit + 1)]);
        assert_eq!(over.phase(), ClearPhase::Done);
        assert_eq!(over.anomaly(), Some(Anomaly::new(Layer::Ssh, limit, Reason::OverLimit)));
        // A stream that ends or is stopped is no anomaly.
        let (_, mut done) = follow(&[&line(limit)]);
        done.stop();
        assert_eq!(done.anomaly(), None);
        // An identification line longer than MAX_IDENT_LEN is still followed.
        assert_eq!(follow(&[&[b"SSH-2.0-".as_slice(), &[b'a'; 900], b"\r\n"].concat()]).1.phase(), ClearPhase::Packets);
    }
}
