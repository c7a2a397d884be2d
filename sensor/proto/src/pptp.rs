//! PPTP control-connection wire format (RFC 2637 §1.4, §2): the control message header and
//! the Start-Control-Connection request and reply.
//!
//! # Contract
//! - [`fixed_fields`] checks what is there of a control message's fixed fields (the PPTP
//!   message type once both its bytes are there, the magic cookie byte by byte) at the front
//!   of a stream: `Invalid` as soon as they contradict,
//!   `Incomplete` until all eight header bytes are there, then `Done`.
//! - [`control_message`] splits the control message at the front of a stream: the same
//!   checks, then the length field (at least [`MIN_MESSAGE_LEN`]); `Incomplete` until all the
//!   bytes it covers are there; `Done` with the control message type and the message's bytes.
//! - [`Control::protocol_version`] and [`Control::host_name`] read the Start-Control-Connection
//!   fields.
//! - Pure, panic-free, zero-copy; nothing allocates. The length field is 16 bits, so nothing
//!   it says can be large. Decides nothing: which messages open a session is the fingerprint's.
//!
//! # Facts used
//! - RFC 2637 §2: every control message starts with its length (2 bytes, the whole message),
//!   the PPTP message type (2 bytes, 1 = control message), the magic cookie `0x1A2B3C4D`,
//!   then the control message type (2 bytes: 1 Start-Control-Connection-Request, 2 -Reply,
//!   7 Outgoing-Call-Request, 8 Outgoing-Call-Reply, …) and a reserved field.
//! - RFC 2637 §2.1, §2.2: the Start-Control-Connection request and reply are 156 bytes; the
//!   protocol version is at bytes 12..14, the host name (64 bytes, NUL-padded) at 28..92.
//! - RFC 2637 §4.1 (the data channel, read by [`enhanced_gre`]): PPP frames in an enhanced
//!   GRE header — flags byte C=0 R=0 K=1 S s=0 Recur=0, then A, four zero flag bits and
//!   version 1; protocol type `0x880B` (PPP); the key field holds the payload length (2
//!   bytes) and the peer's call id (2 bytes); a sequence number when S is set, an
//!   acknowledgment number when A is set; then the payload, exactly as long as said.

use crate::step::{Layer, Reason, Step};

/// The magic cookie of every PPTP control message.
pub const MAGIC: [u8; 4] = [0x1A, 0x2B, 0x3C, 0x4D];
/// PPTP message type of a control message.
pub const MESSAGE_TYPE_CONTROL: [u8; 2] = [0, 1];
/// Offset of the PPTP message type.
pub const MESSAGE_TYPE_AT: usize = 2;
/// Offset of the magic cookie.
pub const MAGIC_AT: usize = 4;
/// Offset of the control message type.
pub const CONTROL_TYPE_AT: usize = 8;
/// Shortest length field accepted: the header through the control message type.
pub const MIN_MESSAGE_LEN: usize = CONTROL_TYPE_AT + 2;
/// Control message type: Start-Control-Connection-Request.
pub const START_CONTROL_CONNECTION_REQUEST: u16 = 1;
/// Control message type: Start-Control-Connection-Reply.
pub const START_CONTROL_CONNECTION_REPLY: u16 = 2;
/// Length of the Start-Control-Connection request and reply.
pub const SCC_LEN: usize = 156;
/// Offset of the protocol version in a Start-Control-Connection message.
pub const PROTOCOL_VERSION_AT: usize = 12;
/// Offset of the host name in a Start-Control-Connection message.
pub const HOST_NAME_AT: usize = 28;
/// Length of the host name field.
pub const HOST_NAME_LEN: usize = 64;

/// A control message, borrowing the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Control<'a> {
    /// Control message type.
    pub kind: u16,
    /// The whole message, its length as its length field says.
    pub message: &'a [u8],
}

impl<'a> Control<'a> {
    /// Protocol version field of a Start-Control-Connection message (0 when too short).
    pub fn protocol_version(&self) -> u16 {
        match self.message.get(PROTOCOL_VERSION_AT..).and_then(|b| b.first_chunk::<2>()) {
            Some(v) => u16::from_be_bytes(*v),
            None => 0,
        }
    }

    /// Host name field of a Start-Control-Connection message, up to its first NUL (empty when
    /// too short).
    pub fn host_name(&self) -> &'a [u8] {
        let field = self.message.get(HOST_NAME_AT..HOST_NAME_AT + HOST_NAME_LEN).unwrap_or_default();
        field.split(|&c| c == 0).next().unwrap_or_default()
    }
}

/// Whether what is there of the field at `at` in `b` agrees with `want`.
fn agrees(b: &[u8], at: usize, want: &[u8]) -> bool {
    let there = b.get(at..).unwrap_or_default();
    let there = there.get(..want.len()).unwrap_or(there);
    want.starts_with(there)
}

/// Check the fixed fields on what is there (see the module contract).
pub fn fixed_fields(b: &[u8]) -> Step<()> {
    let message_type = b.get(MESSAGE_TYPE_AT..MESSAGE_TYPE_AT + MESSAGE_TYPE_CONTROL.len());
    if message_type.is_some_and(|t| t != MESSAGE_TYPE_CONTROL) {
        return Step::invalid(Layer::Pptp, MESSAGE_TYPE_AT, Reason::BadType);
    }
    if !agrees(b, MAGIC_AT, &MAGIC) {
        return Step::invalid(Layer::Pptp, MAGIC_AT, Reason::BadMagic);
    }
    if b.len() < MAGIC_AT + MAGIC.len() { Step::Incomplete } else { Step::Done(()) }
}

/// Split the control message at the front of `b` (see the module contract).
pub fn control_message(b: &[u8]) -> Step<Control<'_>> {
    if let Step::Invalid(a) = fixed_fields(b) {
        return Step::Invalid(a);
    }
    let Some(&len) = b.first_chunk::<2>() else {
        return Step::Incomplete;
    };
    let len = usize::from(u16::from_be_bytes(len));
    if len < MIN_MESSAGE_LEN {
        return Step::invalid(Layer::Pptp, 0, Reason::BadLength);
    }
    let Some(message) = b.get(..len) else {
        return Step::Incomplete;
    };
    match message.get(CONTROL_TYPE_AT..).and_then(|t| t.first_chunk::<2>()) {
        Some(t) => Step::Done(Control { kind: u16::from_be_bytes(*t), message }),
        None => Step::Incomplete,
    }
}

/// GRE protocol type of PPP (RFC 2637 §4.1).
pub const GRE_PROTOCOL_PPP: u16 = 0x880B;
/// Enhanced GRE version (RFC 2637 §4.1).
pub const GRE_VERSION_ENHANCED: u8 = 1;
/// Bytes of the enhanced GRE header before the optional sequence and acknowledgment numbers.
pub const GRE_FIXED_LEN: usize = 8;

/// An enhanced GRE packet of a PPTP data channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gre<'a> {
    /// The call id of the peer the packet is for.
    pub call_id: u16,
    /// Sequence number, when the packet carries a payload.
    pub seq: Option<u32>,
    /// Acknowledgment number, when present.
    pub ack: Option<u32>,
    /// The PPP frame (empty for a bare acknowledgment).
    pub payload: &'a [u8],
}

/// Parse an enhanced GRE packet (the bytes after the IP header): every fixed bit as RFC 2637
/// §4.1 has it and the payload exactly as long as the length field says; `Invalid` (where,
/// why) otherwise; `Incomplete` when the packet was cut short (a snaplen) after a valid
/// header.
pub fn enhanced_gre(b: &[u8]) -> Step<Gre<'_>> {
    let (Some(&flags), Some(&ver)) = (b.first(), b.get(1)) else {
        return Step::Incomplete;
    };
    // C, R, s and Recur zero, K set; S free.
    if flags & !0x10 != 0x20 {
        return Step::invalid(Layer::Pptp, 0, Reason::BadValue);
    }
    // A free; the four flag bits zero; version 1.
    if ver & 0x78 != 0 || ver & 0x07 != GRE_VERSION_ENHANCED {
        return Step::invalid(Layer::Pptp, 1, Reason::BadVersion);
    }
    let Some(head) = b.get(..GRE_FIXED_LEN) else { return Step::Incomplete };
    let be16 = |at: usize| match head.get(at..at + 2) {
        Some(&[a, b]) => u16::from_be_bytes([a, b]),
        _ => 0,
    };
    if be16(2) != GRE_PROTOCOL_PPP {
        return Step::invalid(Layer::Pptp, 2, Reason::BadType);
    }
    let (len, call_id) = (usize::from(be16(4)), be16(6));
    let mut at = GRE_FIXED_LEN;
    let mut word = |present: bool| -> Option<Option<u32>> {
        if !present {
            return Some(None);
        }
        let &[v0, v1, v2, v3] = b.get(at..at + 4)? else { return None };
        at += 4;
        Some(Some(u32::from_be_bytes([v0, v1, v2, v3])))
    };
    let (Some(seq), Some(ack)) = (word(flags & 0x10 != 0), word(ver & 0x80 != 0)) else {
        return Step::Incomplete;
    };
    // A payload needs a sequence number; a bare acknowledgment has none.
    if (len > 0) != seq.is_some() {
        return Step::invalid(Layer::Pptp, 4, Reason::Inconsistent);
    }
    let rest = b.get(at..).unwrap_or_default();
    match rest.len().cmp(&len) {
        std::cmp::Ordering::Equal => Step::Done(Gre { call_id, seq, ack, payload: rest }),
        std::cmp::Ordering::Less => Step::Incomplete,
        std::cmp::Ordering::Greater => Step::invalid(Layer::Pptp, 4, Reason::BadLength),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::pptp::scc;

    #[test]
    fn start_control_connection_fields() {
        let q = scc(START_CONTROL_CONNECTION_REQUEST);
        let Step::Done(c) = control_message(&q) else { panic!() };
        assert_eq!((c.kind, c.message.len(), c.protocol_version(), c.host_name()), (1, SCC_LEN, 0x0100, &b"local"[..]));
        // Bytes after the message belong to the next one.
        let mut two = q.clone();
        two.extend_from_slice(&scc(7));
        assert_eq!(control_message(&two), Step::Done(c));
        // A full 64-byte host name has no NUL.
        let mut full = q.clone();
        full[28..92].fill(b'h');
        let Step::Done(c) = control_message(&full) else { panic!() };
        assert_eq!(c.host_name().len(), HOST_NAME_LEN);
    }

    #[test]
    fn truncation_sweep() {
        let q = scc(START_CONTROL_CONNECTION_REPLY);
        for len in 0..q.len() {
            assert_eq!(control_message(&q[..len]), Step::Incomplete, "{len}");
            assert_eq!(fixed_fields(&q[..len]), if len < 8 { Step::Incomplete } else { Step::Done(()) }, "{len}");
        }
    }

    #[test]
    fn hostile_lengths() {
        let mut q = scc(START_CONTROL_CONNECTION_REQUEST);
        // The largest length field over a 156-byte stream: wait, read nothing beyond.
        q[..2].copy_from_slice(&u16::MAX.to_be_bytes());
        assert_eq!(control_message(&q), Step::Incomplete);
        for len in [0u16, 1, 9] {
            q[..2].copy_from_slice(&len.to_be_bytes());
            assert_eq!(control_message(&q), Step::invalid(Layer::Pptp, 0, Reason::BadLength), "{len}");
        }
        // The shortest accepted message has no Start-Control-Connection fields.
        q[..2].copy_from_slice(&(MIN_MESSAGE_LEN as u16).to_be_bytes());
        let Step::Done(c) = control_message(&q) else { panic!() };
        assert_eq!((c.protocol_version(), c.host_name()), (0, &b""[..]));
    }

    #[test]
    fn exact_anomalies() {
        let q = scc(START_CONTROL_CONNECTION_REQUEST);
        let mut t = q.clone();
        t[3] = 2;
        assert_eq!(control_message(&t[..4]), Step::invalid(Layer::Pptp, MESSAGE_TYPE_AT, Reason::BadType));
        let mut m = q.clone();
        m[5] = 0;
        assert_eq!(control_message(&m[..6]), Step::invalid(Layer::Pptp, MAGIC_AT, Reason::BadMagic));
        assert_eq!(fixed_fields(&m[..5]), Step::Incomplete);
        assert_eq!(fixed_fields(&t[..3]), Step::Incomplete);
        assert_eq!(
            control_message(b"GET / HTTP/1.1\r\n"),
            Step::invalid(Layer::Pptp, MESSAGE_TYPE_AT, Reason::BadType)
        );
    }
}

#[cfg(test)]
mod gre_tests {
    use super::*;

    /// A data packet: S set, A set, call id 0x4002, seq 1, ack 0, a 4-byte PPP frame.
    fn data() -> Vec<u8> {
        vec![0x30, 0x81, 0x88, 0x0B, 0x00, 0x04, 0x40, 0x02, 0, 0, 0, 1, 0, 0, 0, 0, 0xFF, 0x03, 0xC0, 0x21]
    }

    #[test]
    fn enhanced_gre_known_answers() {
        let d = data();
        assert_eq!(
            enhanced_gre(&d),
            Step::Done(Gre { call_id: 0x4002, seq: Some(1), ack: Some(0), payload: &[0xFF, 0x03, 0xC0, 0x21] })
        );
        // A bare acknowledgment: K and A, no S, no payload.
        let ack = [0x20, 0x81, 0x88, 0x0B, 0, 0, 0x40, 0x02, 0, 0, 0, 7];
        assert_eq!(enhanced_gre(&ack), Step::Done(Gre { call_id: 0x4002, seq: None, ack: Some(7), payload: &[] }));
    }

    #[test]
    fn wrong_bits_lengths_and_truncation() {
        let d = data();
        for (at, v) in [(0, 0x31u8), (0, 0x10), (0, 0xB0), (1, 0x80), (1, 0x88), (2, 0x08), (5, 0x03)] {
            let mut b = d.clone();
            b[at] = v;
            assert!(enhanced_gre(&b).is_invalid(), "byte {at} = {v:#04x}");
        }
        // Plain GRE (version 0) carrying IPv4 is not PPTP's.
        assert!(enhanced_gre(&[0x00, 0x00, 0x08, 0x00, 0x45, 0, 0, 20]).is_invalid());
        // A payload without a sequence number is inconsistent.
        let mut no_seq = d.clone();
        no_seq[0] = 0x20;
        no_seq.drain(8..12);
        assert!(enhanced_gre(&no_seq).is_invalid());
        for len in 0..d.len() {
            assert_eq!(enhanced_gre(&d[..len]), Step::Incomplete, "cut at {len}");
        }
        // Hostile length: 0xFFFF said, four bytes there.
        let mut big = d.clone();
        big[4..6].copy_from_slice(&[0xFF, 0xFF]);
        assert_eq!(enhanced_gre(&big), Step::Incomplete);
    }
}
