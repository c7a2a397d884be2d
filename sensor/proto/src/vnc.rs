//! VNC wire format (RFB, RFC 6143): the ProtocolVersion handshake, the security-type
//! negotiation, ClientInit, and the framing of the client-to-server messages.
//!
//! # Contract
//! One module, two readers of the same bytes, sharing the constants:
//! - **Prefix parsing** (the VNC fingerprint's view of a flow's first bytes): [`probe`] looks
//!   at a direction's first bytes; [`parse_version`] reads a ProtocolVersion
//!   ([`VERSION_LEN`] bytes); [`parse_security`] reads the security negotiation after both
//!   versions (the 3.7+ list form or the 3.3 `u32` form).
//! - **Stream following** (the timing code's view of a whole session): [`ClientStream`]
//!   follows the client's direction incrementally without buffering: its ProtocolVersion, the
//!   security choice (or, for 3.3, the server's type, handed to it with
//!   [`ClientStream::server_security_type`]), a VNC-authentication response, ClientInit, then
//!   each client message, whose header it reports ([`ClientMessage`]) and whose body it skips
//!   ([`message_len`] gives each type's length; ClientCutText up to [`MAX_CUT_TEXT`]). A
//!   message type it does not know, or a length past its limit, stops it with an
//!   [`Anomaly`] ([`ClientStream::anomaly`]); a security type with its own handshake (which it
//!   does not read) stops it quietly.
//!
//! `Incomplete` while the bytes are consistent but unfinished; `Invalid` with an [`Anomaly`]
//! of [`Layer::Vnc`] at the offset, within the bytes given, of the field that broke the
//! format. Pure, panic-free, zero-copy: results borrow the input, nothing allocates, and no
//! length field is used before it is checked. Decides nothing about tools: confidence and
//! evidence are the fingerprint's, timing is the timing code's.
//!
//! # Facts used
//! - RFC 6143 §7.1.1: the server first sends ProtocolVersion, exactly 12 bytes
//!   `"RFB xxx.yyy\n"` with three-digit major and minor; the client answers in the same shape.
//!   Versions seen: 003.003, 003.007, 003.008 (RFC), 003.889 (Apple), 004.000/004.001
//!   (RealVNC), 003.005 and others (treated like 3.3 by the RFC). Any `ddd.ddd` is accepted.
//! - RFC 6143 §7.1.2 (3.7 and later): the server sends `u8 number-of-security-types` and that
//!   many `u8` types (0 is never one), or 0 followed by a failure reason; the client answers
//!   with one `u8` type. Appendix A (3.3): the server alone decides and sends a `u32` type
//!   (0 = failure, 1 = None, 2 = VNC Authentication).
//! - RFC 6143 §7.2.2: VNC Authentication's response is 16 bytes. §7.3.1: ClientInit is one
//!   byte (shared flag).
//! - RFC 6143 §7.5: client messages SetPixelFormat (0, 20 bytes), SetEncodings (2, 4 + 4n),
//!   FramebufferUpdateRequest (3, 10), KeyEvent (4, 8), PointerEvent (5, 6), ClientCutText
//!   (6, 8 + |n|; a negative n is the Extended Clipboard form TigerVNC sends at start), and
//!   the registered extensions EnableContinuousUpdates (150, 10), ClientFence (248, 9 + n),
//!   SetDesktopSize (251, 8 + 16n).

use crate::step::{Anomaly, Layer, Reason, Step};

/// Length of a ProtocolVersion message.
pub const VERSION_LEN: usize = 12;
/// Every ProtocolVersion begins with these bytes.
pub const VERSION_PREFIX: &[u8] = b"RFB ";
/// Bytes of the 3.3 server-imposed security type.
pub const SECURITY_TYPE_33_LEN: usize = 4;
/// Security type 0: invalid (a failure when the server sends it).
pub const SECURITY_INVALID: u8 = 0;
/// Security type 1: None.
pub const SECURITY_NONE: u8 = 1;
/// Security type 2: VNC Authentication.
pub const SECURITY_VNC_AUTH: u8 = 2;
/// Bytes of the client's VNC Authentication response (RFC 6143 §7.2.2).
pub const VNC_AUTH_RESPONSE_LEN: u8 = 16;

/// Client message type SetPixelFormat.
pub const MSG_SET_PIXEL_FORMAT: u8 = 0;
/// Client message type SetEncodings.
pub const MSG_SET_ENCODINGS: u8 = 2;
/// Client message type FramebufferUpdateRequest.
pub const MSG_FRAMEBUFFER_UPDATE_REQUEST: u8 = 3;
/// Client message type KeyEvent.
pub const MSG_KEY_EVENT: u8 = 4;
/// Client message type PointerEvent.
pub const MSG_POINTER_EVENT: u8 = 5;
/// Client message type ClientCutText.
pub const MSG_CLIENT_CUT_TEXT: u8 = 6;
/// Client message type EnableContinuousUpdates.
pub const MSG_ENABLE_CONTINUOUS_UPDATES: u8 = 150;
/// Client message type ClientFence.
pub const MSG_CLIENT_FENCE: u8 = 248;
/// Client message type SetDesktopSize.
pub const MSG_SET_DESKTOP_SIZE: u8 = 251;
/// Header bytes [`message_len`] may need to know a client message's length (ClientFence's
/// length byte is the 9th).
pub const MESSAGE_HEAD_LEN: usize = 9;
/// Largest ClientCutText text (either form) [`ClientStream`] follows.
pub const MAX_CUT_TEXT: u32 = 1 << 20;

/// A parsed ProtocolVersion, borrowing the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Version<'a> {
    /// `xxx.yyy` as sent.
    pub text: &'a str,
    /// Major number.
    pub major: u16,
    /// Minor number.
    pub minor: u16,
}

impl Version<'_> {
    /// Whether the security handshake is the 3.7+ list form (else the 3.3 `u32` form).
    pub fn uses_type_list(&self) -> bool {
        self.major > 3 || self.major == 3 && self.minor >= 7
    }
}

/// The security negotiation, as far as it was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security<'a> {
    /// 3.7+: the server's list (empty list = failure) and the client's choice, once sent.
    List {
        /// Offered types.
        offered: &'a [u8],
        /// The client's choice, once sent.
        chosen: Option<u8>,
    },
    /// 3.3: the type the server imposed (0 = failure).
    Imposed(u8),
}

/// Cheap first look at a side: could it begin a ProtocolVersion? Reads at most 4 bytes.
pub fn probe(side: &[u8]) -> bool {
    let head = side.get(..VERSION_PREFIX.len()).unwrap_or(side);
    VERSION_PREFIX.starts_with(head)
}

/// Parse a ProtocolVersion at the start of `buf` (bytes after it are not looked at).
pub fn parse_version(buf: &[u8]) -> Step<Version<'_>> {
    let head = buf.get(..VERSION_LEN).unwrap_or(buf);
    let wrong = head.iter().enumerate().position(|(i, &b)| match i {
        0..=3 => Some(&b) != VERSION_PREFIX.get(i),
        7 => b != b'.',
        11 => b != b'\n',
        _ => !b.is_ascii_digit(),
    });
    match wrong {
        Some(i @ 0..=3) => return Step::invalid(Layer::Vnc, i, Reason::BadMagic),
        Some(i @ 4..=10) => return Step::invalid(Layer::Vnc, i, Reason::BadVersion),
        Some(i) => return Step::invalid(Layer::Vnc, i, Reason::BadValue),
        None => {}
    }
    let (Some(major), Some(minor)) = (buf.get(4..7), buf.get(8..11)) else {
        return Step::Incomplete;
    };
    if head.len() < VERSION_LEN {
        return Step::Incomplete;
    }
    let num =
        |d: &[u8]| d.iter().fold(0u16, |a, &b| a.saturating_mul(10).saturating_add(u16::from(b.wrapping_sub(b'0'))));
    match buf.get(4..11).and_then(|t| std::str::from_utf8(t).ok()) {
        Some(text) => Step::Done(Version { text, major: num(major), minor: num(minor) }),
        None => Step::invalid(Layer::Vnc, 4, Reason::BadVersion),
    }
}

/// Parse the security negotiation after both versions: `server_rest` and `client_rest` are the
/// bytes after each ProtocolVersion; `client` decides the form. Anomaly offsets are within
/// `server_rest`. A failure's reason string is not read.
pub fn parse_security<'a>(client: &Version<'_>, server_rest: &'a [u8], client_rest: &[u8]) -> Step<Security<'a>> {
    if client.uses_type_list() {
        let Some((&count, rest)) = server_rest.split_first() else {
            return Step::Incomplete;
        };
        if count == 0 {
            return Step::Done(Security::List { offered: &[], chosen: None });
        }
        let Some(offered) = rest.get(..usize::from(count)) else {
            return Step::Incomplete;
        };
        if let Some(i) = offered.iter().position(|&t| t == SECURITY_INVALID) {
            return Step::invalid(Layer::Vnc, 1 + i, Reason::BadValue);
        }
        Step::Done(Security::List { offered, chosen: client_rest.first().copied() })
    } else {
        match server_rest.first_chunk::<SECURITY_TYPE_33_LEN>() {
            Some(t) => match u8::try_from(u32::from_be_bytes(*t)) {
                Ok(t) => Step::Done(Security::Imposed(t)),
                Err(_) => Step::invalid(Layer::Vnc, 0, Reason::BadValue),
            },
            None => Step::Incomplete,
        }
    }
}

/// Total length of the client message whose first `have` header bytes are in `head`:
/// `Incomplete` while more header bytes are needed; `Invalid` (offsets within the message) for
/// a type this parser does not know or a ClientCutText longer than [`MAX_CUT_TEXT`].
pub fn message_len(head: &[u8; MESSAGE_HEAD_LEN], have: u8) -> Step<usize> {
    let [t, _, h2, h3, h4, h5, h6, h7, h8] = *head;
    let be16 = usize::from(u16::from_be_bytes([h2, h3]));
    let len = match t {
        MSG_SET_PIXEL_FORMAT => 20,
        MSG_SET_ENCODINGS if have >= 4 => 4 + 4 * be16,
        // The second byte (incremental / down flag) is read before the message is reported.
        MSG_FRAMEBUFFER_UPDATE_REQUEST if have >= 2 => 10,
        MSG_KEY_EVENT if have >= 2 => 8,
        MSG_POINTER_EVENT => 6,
        MSG_CLIENT_CUT_TEXT if have >= 8 => {
            // A negative length is the Extended Clipboard form: its absolute value is the
            // payload's length.
            let n = i32::from_be_bytes([h4, h5, h6, h7]).unsigned_abs();
            if n > MAX_CUT_TEXT {
                return Step::invalid(Layer::Vnc, 4, Reason::OverLimit);
            }
            8 + n as usize
        }
        MSG_ENABLE_CONTINUOUS_UPDATES => 10,
        MSG_CLIENT_FENCE if have >= 9 => 9 + usize::from(h8),
        MSG_SET_DESKTOP_SIZE if have >= 8 => 8 + 16 * usize::from(h6),
        MSG_SET_ENCODINGS
        | MSG_FRAMEBUFFER_UPDATE_REQUEST
        | MSG_KEY_EVENT
        | MSG_CLIENT_CUT_TEXT
        | MSG_CLIENT_FENCE
        | MSG_SET_DESKTOP_SIZE => return Step::Incomplete,
        _ => return Step::invalid(Layer::Vnc, 0, Reason::BadType),
    };
    Step::Done(len)
}

/// A client message whose header [`ClientStream`] has read far enough to know its length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientMessage {
    /// Message type.
    pub kind: u8,
    /// Its second byte when the type needs it read first: FramebufferUpdateRequest's
    /// incremental flag, KeyEvent's down flag (0 for the other types).
    pub flag: u8,
}

/// Where a [`ClientStream`] stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientPhase {
    /// ProtocolVersion, security choice, authentication response or ClientInit.
    Handshake,
    /// 3.3: waiting for the server's security type ([`ClientStream::server_security_type`]).
    AwaitServerType,
    /// Following client messages.
    Messages,
    /// Stopped: a security handshake it does not read, broken framing, or told to.
    Done,
}

/// Follows the client's direction of an RFB session incrementally, in stream order, without
/// buffering (see the module's contract).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientStream {
    state: Client,
    /// Bytes consumed so far (saturating), the offset of an anomaly.
    at: u32,
    /// Why following stopped, when the bytes broke the framing.
    broken: Option<Anomaly>,
}

/// A [`ClientStream`]'s state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Client {
    /// Bytes of ProtocolVersion still to read; the minor version's last digit once seen.
    Version { left: u8, minor: u8 },
    /// 3.7/3.8: the security choice byte.
    Choice,
    /// 3.3: waiting for the server's security type.
    AwaitServerType,
    /// Bytes to skip (an authentication response), then ClientInit.
    Skip { left: u8 },
    /// The ClientInit byte.
    Init,
    /// A message: header bytes gathered, bytes of the current message left once known.
    Msg { head: [u8; MESSAGE_HEAD_LEN], have: u8, left: u32 },
    /// Parse stopped.
    Done,
}

/// The state at the start of a client message.
const NEXT_MESSAGE: Client = Client::Msg { head: [0; MESSAGE_HEAD_LEN], have: 0, left: 0 };

impl Default for ClientStream {
    fn default() -> Self {
        ClientStream::new()
    }
}

impl ClientStream {
    /// A follower at the start of the client's direction.
    pub fn new() -> ClientStream {
        ClientStream { state: Client::Version { left: VERSION_LEN as u8, minor: 0 }, at: 0, broken: None }
    }

    /// Where it stands.
    pub fn phase(&self) -> ClientPhase {
        match self.state {
            Client::Version { .. } | Client::Choice | Client::Skip { .. } | Client::Init => ClientPhase::Handshake,
            Client::AwaitServerType => ClientPhase::AwaitServerType,
            Client::Msg { .. } => ClientPhase::Messages,
            Client::Done => ClientPhase::Done,
        }
    }

    /// Whether it is between two client messages (not inside one).
    pub fn at_message_boundary(&self) -> bool {
        self.state == NEXT_MESSAGE
    }

    /// Bytes of the current message still to skip, once its length is known.
    pub fn message_left(&self) -> Option<u32> {
        match self.state {
            Client::Msg { left, .. } => Some(left),
            _ => None,
        }
    }

    /// Why following stopped early, if the bytes broke the framing: the anomaly, its offset in
    /// the client's stream.
    pub fn anomaly(&self) -> Option<Anomaly> {
        self.broken
    }

    /// Stop following (the stream lost bytes, so its framing is lost too): no anomaly.
    pub fn stop(&mut self) {
        self.state = Client::Done;
    }

    /// 3.3: the server's security type (its `u32` after its ProtocolVersion). None goes on to
    /// ClientInit, VNC Authentication to its response; a failure or another type (its own
    /// handshake) stops the follower quietly. Ignored in any other phase.
    pub fn server_security_type(&mut self, t: u32) {
        if self.state == Client::AwaitServerType {
            self.state = after_security(t);
        }
    }

    /// Consume `bytes` from the front up to the end of the next client message's header (as
    /// far as [`message_len`] needs it): that message, with `bytes` left after it; `None`
    /// when `bytes` ran out first (all consumed), or the follower stopped or awaits the
    /// server's security type (then the rest of `bytes` is left).
    pub fn next_message(&mut self, bytes: &mut &[u8]) -> Option<ClientMessage> {
        while let Some((&c, rest)) = bytes.split_first() {
            let (next, used) = match self.state {
                Client::Done | Client::AwaitServerType => return None,
                Client::Version { left, minor } => {
                    // "RFB 003.008\n": the minor version's last digit is the 11th byte.
                    let minor = if left == 2 { c.wrapping_sub(b'0') } else { minor };
                    let next = match left {
                        1 if minor >= 7 => Client::Choice,
                        1 => Client::AwaitServerType,
                        _ => Client::Version { left: left - 1, minor },
                    };
                    (next, 1)
                }
                Client::Choice => (self.choice(c), 1),
                Client::Skip { left } => {
                    let n = bytes.len().min(usize::from(left));
                    let left = left - n as u8;
                    (if left == 0 { Client::Init } else { Client::Skip { left } }, n)
                }
                Client::Init => (NEXT_MESSAGE, 1),
                Client::Msg { head, have, left } if left > 0 => {
                    let n = bytes.len().min(left as usize);
                    (Client::Msg { head, have, left: left - n as u32 }, n)
                }
                Client::Msg { head, have, .. } => {
                    let (next, msg) = self.header_byte(head, have, c);
                    self.state = next;
                    self.at = self.at.saturating_add(1);
                    *bytes = rest;
                    match msg {
                        Some(m) => return Some(m),
                        None => continue,
                    }
                }
            };
            self.state = next;
            self.at = self.at.saturating_add(used as u32);
            *bytes = bytes.get(used..).unwrap_or_default();
        }
        None
    }

    /// The state after the 3.7+ security choice byte `c`.
    fn choice(&mut self, c: u8) -> Client {
        if c == SECURITY_INVALID {
            self.broken = Some(Anomaly::new(Layer::Vnc, self.at as usize, Reason::BadValue));
            return Client::Done;
        }
        after_security(u32::from(c))
    }

    /// Byte `c` of a message header of which `have` bytes were gathered: the next state, and
    /// the message once its length is known.
    fn header_byte(&mut self, mut head: [u8; MESSAGE_HEAD_LEN], have: u8, c: u8) -> (Client, Option<ClientMessage>) {
        if let Some(h) = head.get_mut(usize::from(have)) {
            *h = c;
        }
        let have = have + 1;
        let total = match message_len(&head, have) {
            Step::Invalid(a) => {
                // `self.at` is the offset of this byte, the message's `have`-th.
                let start = (self.at as usize).saturating_sub(usize::from(have) - 1);
                self.broken = Some(a.shifted(start));
                return (Client::Done, None);
            }
            Step::Incomplete => return (Client::Msg { head, have, left: 0 }, None),
            Step::Done(total) => total,
        };
        let [kind, flag, ..] = head;
        let left = total.saturating_sub(usize::from(have)) as u32;
        (Client::Msg { head: [0; MESSAGE_HEAD_LEN], have: 0, left }, Some(ClientMessage { kind, flag }))
    }
}

/// The state after the security type `t` (chosen by the client, or imposed by a 3.3 server).
fn after_security(t: u32) -> Client {
    match t {
        1 => Client::Init,
        2 => Client::Skip { left: VNC_AUTH_RESPONSE_LEN },
        _ => Client::Done,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V38: &[u8] = b"RFB 003.008\n";

    /// Every message a follower reports for `chunks`, fed in order.
    fn follow(stream: &mut ClientStream, chunks: &[&[u8]]) -> Vec<ClientMessage> {
        let mut out = Vec::new();
        for chunk in chunks {
            let mut b = *chunk;
            while let Some(m) = stream.next_message(&mut b) {
                out.push(m);
            }
        }
        out
    }

    /// A 3.8 client that chose None and sent ClientInit, then `msgs`.
    fn session(msgs: &[u8]) -> Vec<u8> {
        [V38, &[SECURITY_NONE, 1], msgs].concat()
    }

    /// One of each client message the follower knows.
    fn every_message() -> Vec<u8> {
        let mut m = vec![0u8; 20]; // SetPixelFormat
        m.extend([2, 0, 0, 2, 0, 0, 0, 7, 0, 0, 0, 0]); // SetEncodings, 2
        m.extend([3, 1, 0, 0, 0, 0, 4, 0, 3, 0]); // FramebufferUpdateRequest
        m.extend([4, 1, 0, 0, 0, 0, 0, 0x61]); // KeyEvent
        m.extend([5, 0, 0, 10, 0, 20]); // PointerEvent
        m.extend([6, 0, 0, 0, 0, 0, 0, 3, b'a', b'b', b'c']); // ClientCutText
        m.extend([6, 0, 0, 0, 0xff, 0xff, 0xff, 0xf8, 0x1f, 0, 0, 1, 0, 0, 0, 0]); // extended
        m.extend([150, 1, 0, 0, 0, 0, 4, 0, 3, 0]); // EnableContinuousUpdates
        m.extend([248, 0, 0, 0, 0, 0, 0, 0, 4, 9, 9, 9, 9]); // ClientFence
        m.extend([251, 0, 4, 0, 3, 0, 2, 0]); // SetDesktopSize, 2 screens
        m.extend([0u8; 32]);
        m
    }

    #[test]
    fn x11vnc_versions_and_security() {
        let Step::Done(v) = parse_version(V38) else { panic!() };
        assert_eq!((v.text, v.major, v.minor, v.uses_type_list()), ("003.008", 3, 8, true));
        let offer = [1, SECURITY_VNC_AUTH];
        assert_eq!(parse_security(&v, &offer, &[2]), Step::Done(Security::List { offered: &[2], chosen: Some(2) }));
        let Step::Done(v33) = parse_version(b"RFB 003.003\n") else { panic!() };
        assert_eq!(parse_security(&v33, &[0, 0, 0, 2], &[]), Step::Done(Security::Imposed(2)));
        assert_eq!(
            parse_security(&v, &[0, 0, 0, 0, 9], &[]),
            Step::Done(Security::List { offered: &[], chosen: None })
        );
        assert!(probe(b"RFB") && probe(b"") && !probe(b"RFX "));
        for (v, text, list) in [
            (b"RFB 003.889\n", "003.889", true),
            (b"RFB 004.001\n", "004.001", true),
            (b"RFB 003.005\n", "003.005", false),
        ] {
            let Step::Done(p) = parse_version(v) else { panic!("{v:?}") };
            assert_eq!((p.text, p.uses_type_list()), (text, list));
        }
    }

    #[test]
    fn truncation_sweep() {
        for i in 0..VERSION_LEN {
            assert_eq!(parse_version(&V38[..i]), Step::Incomplete, "{i}");
        }
        let Step::Done(v) = parse_version(V38) else { panic!() };
        let offer = [3, 1, 2, 16];
        for i in 0..offer.len() {
            assert_eq!(parse_security(&v, &offer[..i], &[]), Step::Incomplete, "{i}");
        }
        // The follower: every cut, fed in two pieces, reports the same messages.
        let full = session(&every_message());
        let whole = follow(&mut ClientStream::new(), &[&full]);
        let kinds: Vec<u8> = whole.iter().map(|m| m.kind).collect();
        assert_eq!(kinds, [0, 2, 3, 4, 5, 6, 6, 150, 248, 251]);
        assert_eq!(whole[3], ClientMessage { kind: MSG_KEY_EVENT, flag: 1 });
        for cut in 0..=full.len() {
            let mut s = ClientStream::new();
            assert_eq!(follow(&mut s, &[&full[..cut], &full[cut..]]), whole, "{cut}");
            assert!(s.at_message_boundary() && s.anomaly().is_none(), "{cut}");
        }
    }

    #[test]
    fn hostile_lengths() {
        // A failure (count 0) whose reason claims 4 GiB is decided at once; 255 types
        // announced and 3 present wait; a 3.3 type that does not fit a byte is refused.
        let Step::Done(v) = parse_version(V38) else { panic!() };
        let fail = [&[0u8][..], &u32::MAX.to_be_bytes()].concat();
        assert_eq!(parse_security(&v, &fail, &[]), Step::Done(Security::List { offered: &[], chosen: None }));
        assert_eq!(parse_security(&v, &[255, 1, 2, 16], &[]), Step::Incomplete);
        let Step::Done(v33) = parse_version(b"RFB 003.003\n") else { panic!() };
        assert_eq!(parse_security(&v33, &u32::MAX.to_be_bytes(), &[]), Step::invalid(Layer::Vnc, 0, Reason::BadValue));
        // ClientCutText up to the limit is skipped; one byte more, or 2^31 in the extended
        // form, stops the follower at the length field.
        let prefix = session(&[]).len();
        for (len, broken) in
            [(MAX_CUT_TEXT, None), (MAX_CUT_TEXT + 1, Some(prefix + 4)), (0x8000_0000, Some(prefix + 4))]
        {
            let mut s = ClientStream::new();
            let msg = [&[MSG_CLIENT_CUT_TEXT, 0, 0, 0][..], &len.to_be_bytes()].concat();
            follow(&mut s, &[&session(&msg)]);
            match broken {
                None => assert_eq!(s.message_left(), Some(MAX_CUT_TEXT)),
                Some(at) => {
                    assert_eq!(s.phase(), ClientPhase::Done);
                    assert_eq!(s.anomaly(), Some(Anomaly::new(Layer::Vnc, at, Reason::OverLimit)), "{len}");
                }
            }
        }
        // SetEncodings with 65535 encodings and SetDesktopSize with 255 screens are only
        // skipped, never buffered.
        let mut s = ClientStream::new();
        follow(&mut s, &[&session(&[2, 0, 0xff, 0xff])]);
        assert_eq!(s.message_left(), Some(4 * 65535));
    }

    #[test]
    fn exact_anomalies() {
        assert_eq!(parse_version(b"RFX"), Step::invalid(Layer::Vnc, 2, Reason::BadMagic));
        assert_eq!(parse_version(b"RFB 03.008\n\n"), Step::invalid(Layer::Vnc, 6, Reason::BadVersion));
        assert_eq!(parse_version(b"RFB 003.008\r"), Step::invalid(Layer::Vnc, 11, Reason::BadValue));
        let Step::Done(v) = parse_version(V38) else { panic!() };
        assert_eq!(parse_security(&v, &[2, 1, 0], &[]), Step::invalid(Layer::Vnc, 2, Reason::BadValue));
        // An unknown message type after three known ones; a choice of type 0.
        let msgs = [[3u8, 1, 0, 0, 0, 0, 4, 0, 3, 0].as_slice(), &[5, 0, 0, 1, 0, 1], &[4, 0, 0, 0, 0, 0, 0, 1], &[7]]
            .concat();
        let full = session(&msgs);
        let mut s = ClientStream::new();
        assert_eq!(follow(&mut s, &[&full]).len(), 3);
        assert_eq!(s.anomaly(), Some(Anomaly::new(Layer::Vnc, full.len() - 1, Reason::BadType)));
        assert_eq!(message_len(&[7; MESSAGE_HEAD_LEN], 1), Step::invalid(Layer::Vnc, 0, Reason::BadType));
        let mut s = ClientStream::new();
        follow(&mut s, &[V38, &[0, 1]]);
        assert_eq!((s.phase(), s.anomaly()), (ClientPhase::Done, Some(Anomaly::new(Layer::Vnc, 12, Reason::BadValue))));
        // Another security type (its own handshake), a 3.3 failure and a stop are no anomaly.
        for stopped in [follow_to(&[V38, &[16, 1]]), {
            let mut s = follow_to(&[b"RFB 003.003\n"]);
            s.server_security_type(0);
            s
        }] {
            assert_eq!((stopped.phase(), stopped.anomaly()), (ClientPhase::Done, None));
        }
        let mut s = ClientStream::default();
        s.stop();
        assert_eq!((s.phase(), s.anomaly(), s.next_message(&mut &V38[..])), (ClientPhase::Done, None, None));
    }

    fn follow_to(chunks: &[&[u8]]) -> ClientStream {
        let mut s = ClientStream::new();
        follow(&mut s, chunks);
        s
    }

    #[test]
    fn security_handshakes_lead_to_client_init() {
        // 3.8 with VNC Authentication: the 16-byte response, then ClientInit.
        let s = follow_to(&[V38, &[SECURITY_VNC_AUTH], &[0xCD; 16], &[1]]);
        assert!(s.at_message_boundary());
        // 3.3: the client waits for the server's type, leaving its bytes.
        let mut s = follow_to(&[b"RFB 003.003\n"]);
        assert_eq!(s.phase(), ClientPhase::AwaitServerType);
        let mut rest = &[1u8, 3][..];
        assert_eq!((s.next_message(&mut rest), rest.len()), (None, 2));
        s.server_security_type(2);
        assert_eq!(s.phase(), ClientPhase::Handshake);
        s.server_security_type(1); // ignored outside AwaitServerType
        assert_eq!(follow(&mut s, &[&[0xAB; 16], &[1], &[3, 0, 0, 0, 0, 0, 4, 0, 3, 0]]).len(), 1);
        assert!(s.at_message_boundary());
    }
}
