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
