//! OpenVPN control-channel wire format (OpenVPN 2.4–2.6 `ssl_pkt.h` / `ssl.c`): the opcode
//! byte, the TCP length prefix, and the hard-reset control packets that open a session under
//! each authentication layout (none, `--tls-auth`, `--tls-crypt`).
//!
//! # Contract
//! - [`first_packet`] splits the first packet off one direction: the datagram itself (UDP), or
//!   the first length-prefixed packet of the stream (TCP). Over TCP it is `Invalid` as soon as
//!   the length prefix cannot be a hard reset's ([`MIN_RESET_LEN`] ..= [`MAX_RESET_PACKET_LEN`])
//!   or the packet's first byte is not a hard-reset opcode, `Incomplete` while the packet is
//!   not all there.
//! - [`parse_reset_as`] reads one whole packet as a hard reset under one [`Auth`] layout;
//!   [`parse_reset`] tries every layout (a preferred one first) and reports the anomaly of the
//!   layout that read furthest when none fits. A whole packet is never `Incomplete`: bytes
//!   missing from it are a `Truncated` anomaly.
//! - [`probe_opcode`] is the cheap first look at a packet's first byte.
//! - Pure, panic-free, zero-copy; nothing allocates. Decides nothing: which pairs of resets
//!   make a session, confidence and the XOR-obfuscated opcode rhythm are the fingerprint's.
//!
//! # Facts used
//! - Byte 0 = opcode << 3 | key id. Opcodes: 1 `P_CONTROL_HARD_RESET_CLIENT_V1`,
//!   2 `P_CONTROL_HARD_RESET_SERVER_V1`, 3 `P_CONTROL_SOFT_RESET_V1`, 4 `P_CONTROL_V1`,
//!   5 `P_ACK_V1`, 6 `P_DATA_V1`, 7 `P_CONTROL_HARD_RESET_CLIENT_V2`,
//!   8 `P_CONTROL_HARD_RESET_SERVER_V2`, 9 `P_DATA_V2`, 10 `P_CONTROL_HARD_RESET_CLIENT_V3`
//!   (tls-crypt-v2, wrapped client key appended), 11 `P_CONTROL_WKC_V1`. Hard resets use key
//!   id 0.
//! - Control packet: opcode byte, 8-byte session id, then with `--tls-auth` an HMAC (16, 20,
//!   32, 48 or 64 bytes for MD5/SHA1/SHA256/SHA384/SHA512) and a replay packet id (u32,
//!   starting at 1) and Unix time (u32); then the ack array (u8 count ≤ 8, that many u32
//!   packet ids, and when the count is not zero the peer's 8-byte session id), then the
//!   message packet id (u32, zero for the first), then the payload. With `--tls-crypt` the
//!   replay id and time follow the session id, then a 32-byte tag, then everything from the
//!   ack array on is encrypted.
//! - A client hard reset acknowledges nothing and has message packet id 0; the server's hard
//!   reset acknowledges packet 0 and names the client's session id.
//! - OpenVPN 2.6 may append early-negotiation TLVs (u16 type, u16 length) to a hard reset.
//!   A 2.6 peer that supports early negotiation (the stateless HMAC-cookie handshake) starts
//!   its replay packet ids at [`EARLY_NEG_START`] (`0x0f000000`): its hard reset's replay id
//!   is `0x0f000001`, not 1.
//! - tls-crypt-v2 (OpenVPN 2.5+, `doc/tls-crypt-v2.txt`): the client's hard reset is
//!   `P_CONTROL_HARD_RESET_CLIENT_V3`, a tls-crypt packet with the wrapped client key WKc
//!   appended: `WKc = tag (32) || encrypted key and metadata || len`, where `len` (u16, the
//!   packet's last two bytes) is the length of WKc itself, tag and `len` included. Over UDP,
//!   after the server's cookie reset, the client sends WKc again in `P_CONTROL_WKC_V1`.
//! - Over TCP every packet is prefixed with its length (`--proto tcp`, `link_socket` framing).

use crate::step::{Anomaly, Layer, Reason, Step};
use farhand_model::tool::Transport;

/// `P_CONTROL_HARD_RESET_CLIENT_V1`.
pub const OP_HARD_RESET_CLIENT_V1: u8 = 1;
/// `P_CONTROL_HARD_RESET_SERVER_V1`.
pub const OP_HARD_RESET_SERVER_V1: u8 = 2;
/// `P_CONTROL_SOFT_RESET_V1`.
pub const OP_SOFT_RESET_V1: u8 = 3;
/// `P_CONTROL_V1`.
pub const OP_CONTROL_V1: u8 = 4;
/// `P_ACK_V1`.
pub const OP_ACK_V1: u8 = 5;
/// `P_DATA_V1`.
pub const OP_DATA_V1: u8 = 6;
/// `P_CONTROL_HARD_RESET_CLIENT_V2`.
pub const OP_HARD_RESET_CLIENT_V2: u8 = 7;
/// `P_CONTROL_HARD_RESET_SERVER_V2`.
pub const OP_HARD_RESET_SERVER_V2: u8 = 8;
/// `P_DATA_V2`.
pub const OP_DATA_V2: u8 = 9;
/// `P_CONTROL_HARD_RESET_CLIENT_V3`.
pub const OP_HARD_RESET_CLIENT_V3: u8 = 10;
/// `P_CONTROL_WKC_V1`.
pub const OP_CONTROL_WKC_V1: u8 = 11;
/// Bits of byte 0 that carry the key id (the opcode is above them).
pub const KEY_ID_MASK: u8 = 0x07;
/// Shift of the opcode in byte 0.
pub const OPCODE_SHIFT: u8 = 3;

/// Length of a session id.
pub const SESSION_ID_LEN: usize = 8;
/// HMAC lengths tried for `--tls-auth` (MD5, SHA1, SHA256, SHA384, SHA512).
pub const HMAC_LENS: [usize; 5] = [16, 20, 32, 48, 64];
/// Length of the tls-crypt authentication tag (HMAC-SHA256).
pub const TLS_CRYPT_TAG_LEN: usize = 32;
/// Encrypted bytes a tls-crypt hard reset carries at least: an ack count and a message
/// packet id.
pub const TLS_CRYPT_MIN_SEALED: usize = 1 + 4;
/// Most acknowledgements in one packet (`RELIABLE_ACK_SIZE`).
pub const MAX_ACKS: usize = 8;
/// Most bytes of early-negotiation TLVs accepted after a hard reset.
pub const MAX_RESET_TLV_LEN: usize = 64;
/// Shortest hard reset: opcode, session id, empty ack array, message packet id.
pub const MIN_RESET_LEN: usize = 1 + SESSION_ID_LEN + 1 + 4;
/// Largest first packet accepted over TCP: a hard reset (a v3 reset carries a wrapped client
/// key of up to about 1 KiB).
pub const MAX_RESET_PACKET_LEN: usize = 1400;
/// Bytes of the TCP length prefix.
pub const TCP_LENGTH_LEN: usize = 2;
/// Earliest plausible tls-auth / tls-crypt timestamp (2015-01-01 UTC).
pub const MIN_TIMESTAMP: u32 = 1_420_070_400;
/// Largest plausible replay packet id in a hard reset (it starts at 1; resends increase it).
pub const MAX_RESET_REPLAY_ID: u32 = 64;
/// Where OpenVPN 2.6 starts the replay packet ids of a peer that supports early negotiation
/// (`EARLY_NEG_START`): its hard reset's id is this plus 1 (plus resends).
pub const EARLY_NEG_START: u32 = 0x0f00_0000;
/// Shortest wrapped client key (tls-crypt-v2 WKc): tag, at least one encrypted byte, length.
pub const MIN_WKC_LEN: usize = TLS_CRYPT_TAG_LEN + 1 + 2;

/// How the control packet is authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// No `--tls-auth` / `--tls-crypt`.
    None,
    /// `--tls-auth` with an HMAC of this many bytes.
    TlsAuth(usize),
    /// `--tls-crypt` (or tls-crypt-v2): only session id, replay id and time are clear.
    TlsCrypt,
}

impl Auth {
    /// Every layout tried by [`parse_reset`], in order.
    pub const ALL: [Auth; 7] = [
        Auth::None,
        Auth::TlsAuth(20),
        Auth::TlsAuth(32),
        Auth::TlsAuth(64),
        Auth::TlsAuth(16),
        Auth::TlsAuth(48),
        Auth::TlsCrypt,
    ];

    /// Stable name of the layout (`tls_auth_sha256`, …).
    pub fn name(self) -> &'static str {
        match self {
            Auth::None => "none",
            Auth::TlsAuth(16) => "tls_auth_md5",
            Auth::TlsAuth(20) => "tls_auth_sha1",
            Auth::TlsAuth(32) => "tls_auth_sha256",
            Auth::TlsAuth(48) => "tls_auth_sha384",
            Auth::TlsAuth(64) => "tls_auth_sha512",
            Auth::TlsAuth(_) => "tls_auth",
            Auth::TlsCrypt => "tls_crypt",
        }
    }
}

/// A parsed hard-reset control packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reset {
    /// Opcode (1, 2, 7, 8 or 10).
    pub opcode: u8,
    /// Key id (low 3 bits of byte 0).
    pub key_id: u8,
    /// Sender's session id.
    pub session_id: [u8; SESSION_ID_LEN],
    /// Layout that parsed.
    pub auth: Auth,
    /// Number of acknowledgements (unknown under tls-crypt).
    pub acks: Option<u8>,
    /// The peer session id acknowledged (server resets, clear layouts only).
    pub remote_session_id: Option<[u8; SESSION_ID_LEN]>,
    /// Length of the wrapped client key a tls-crypt-v2 reset (v3) carries, from its trailer.
    pub wkc_len: Option<u16>,
}

impl Reset {
    /// Whether this is a client hard reset (v1, v2 or v3).
    pub fn is_client(&self) -> bool {
        is_client_reset(self.opcode)
    }
}

/// Whether an opcode is a client hard reset (v1, v2 or v3).
fn is_client_reset(op: u8) -> bool {
    matches!(op, OP_HARD_RESET_CLIENT_V1 | OP_HARD_RESET_CLIENT_V2 | OP_HARD_RESET_CLIENT_V3)
}

/// Stable name of an opcode (`hard_reset_client_v2`, …; `unknown` outside 1–11).
pub fn opcode_name(op: u8) -> &'static str {
    match op {
        OP_HARD_RESET_CLIENT_V1 => "hard_reset_client_v1",
        OP_HARD_RESET_SERVER_V1 => "hard_reset_server_v1",
        OP_SOFT_RESET_V1 => "soft_reset_v1",
        OP_CONTROL_V1 => "control_v1",
        OP_ACK_V1 => "ack_v1",
        OP_DATA_V1 => "data_v1",
        OP_HARD_RESET_CLIENT_V2 => "hard_reset_client_v2",
        OP_HARD_RESET_SERVER_V2 => "hard_reset_server_v2",
        OP_DATA_V2 => "data_v2",
        OP_HARD_RESET_CLIENT_V3 => "hard_reset_client_v3",
        OP_CONTROL_WKC_V1 => "control_wkc_v1",
        _ => "unknown",
    }
}

/// A cursor over one whole packet; every read is bounds-checked and a short read is a
/// `Truncated` anomaly at the field's offset.
struct Cursor<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn rest(&self) -> &'a [u8] {
        self.buf.get(self.at..).unwrap_or_default()
    }
    fn fail<T>(&self, reason: Reason) -> Result<T, Anomaly> {
        Err(Anomaly::new(Layer::OpenVpn, self.at, reason))
    }
    fn take<const N: usize>(&mut self) -> Result<&'a [u8; N], Anomaly> {
        match self.rest().first_chunk::<N>() {
            Some(head) => {
                self.at += N;
                Ok(head)
            }
            None => self.fail(Reason::Truncated),
        }
    }
    fn skip(&mut self, n: usize) -> Result<(), Anomaly> {
        if self.rest().len() < n {
            return self.fail(Reason::Truncated);
        }
        self.at += n;
        Ok(())
    }
    fn u8(&mut self) -> Result<u8, Anomaly> {
        self.take::<1>().map(|&[b]| b)
    }
    fn u32(&mut self) -> Result<u32, Anomaly> {
        self.take::<4>().map(|b| u32::from_be_bytes(*b))
    }
}

/// Cheap first look at a packet's first byte: a hard-reset opcode with key id 0.
pub fn probe_opcode(b0: u8) -> bool {
    b0 & KEY_ID_MASK == 0
        && matches!(
            b0 >> OPCODE_SHIFT,
            OP_HARD_RESET_CLIENT_V1
                | OP_HARD_RESET_SERVER_V1
                | OP_HARD_RESET_CLIENT_V2
                | OP_HARD_RESET_SERVER_V2
                | OP_HARD_RESET_CLIENT_V3
        )
}

/// Replay id and timestamp of tls-auth / tls-crypt: plausible for a hard reset?
fn replay(c: &mut Cursor<'_>) -> Result<(), Anomaly> {
    let id_at = c.at;
    let id = c.u32()?;
    let id = if id > EARLY_NEG_START { id - EARLY_NEG_START } else { id };
    if !(1..=MAX_RESET_REPLAY_ID).contains(&id) {
        return Err(Anomaly::new(Layer::OpenVpn, id_at, Reason::BadValue));
    }
    let time_at = c.at;
    if c.u32()? < MIN_TIMESTAMP {
        return Err(Anomaly::new(Layer::OpenVpn, time_at, Reason::BadValue));
    }
    Ok(())
}

/// Early-negotiation TLVs (or nothing) from `c` to the end of the packet.
fn tlvs(c: &mut Cursor<'_>) -> Result<(), Anomaly> {
    if c.rest().len() > MAX_RESET_TLV_LEN {
        return c.fail(Reason::OverLimit);
    }
    while !c.rest().is_empty() {
        let &[_, _, l0, l1] = c.take::<4>()?;
        c.skip(usize::from(u16::from_be_bytes([l0, l1])))?;
    }
    Ok(())
}

/// The ack array of a clear hard reset: `(count, acknowledged session id)`.
fn ack_array(c: &mut Cursor<'_>, client: bool) -> Result<(u8, Option<[u8; SESSION_ID_LEN]>), Anomaly> {
    let count_at = c.at;
    let acks = c.u8()?;
    if usize::from(acks) > MAX_ACKS {
        return Err(Anomaly::new(Layer::OpenVpn, count_at, Reason::OverLimit));
    }
    // A client hard reset acknowledges nothing.
    if client && acks != 0 {
        return Err(Anomaly::new(Layer::OpenVpn, count_at, Reason::BadValue));
    }
    if acks == 0 {
        return Ok((0, None));
    }
    let mut acked_zero = false;
    for _ in 0..acks {
        acked_zero |= c.u32()? == 0;
    }
    // A server hard reset acknowledges the client's packet 0.
    if !acked_zero {
        return Err(Anomaly::new(Layer::OpenVpn, count_at + 1, Reason::BadValue));
    }
    Ok((acks, Some(*c.take::<SESSION_ID_LEN>()?)))
}

/// [`parse_reset_as`] as a `Result`.
fn reset_as(pkt: &[u8], auth: Auth) -> Result<Reset, Anomaly> {
    let mut c = Cursor { buf: pkt, at: 0 };
    let b0 = c.u8()?;
    if !probe_opcode(b0) {
        return Err(Anomaly::new(Layer::OpenVpn, 0, Reason::BadType));
    }
    let (opcode, key_id) = (b0 >> OPCODE_SHIFT, b0 & KEY_ID_MASK);
    let session_id = *c.take::<SESSION_ID_LEN>()?;
    match auth {
        Auth::None => {}
        Auth::TlsAuth(h) => {
            c.skip(h)?;
            replay(&mut c)?;
        }
        Auth::TlsCrypt => {
            replay(&mut c)?;
            c.skip(TLS_CRYPT_TAG_LEN)?;
            // The rest is encrypted: at least an ack count and a message packet id, and a
            // v3 reset's wrapped client key after them.
            if c.rest().len() < TLS_CRYPT_MIN_SEALED {
                return c.fail(Reason::Truncated);
            }
            let wkc_len = if opcode == OP_HARD_RESET_CLIENT_V3 { Some(wkc(&c)?) } else { None };
            return Ok(Reset { opcode, key_id, session_id, auth, acks: None, remote_session_id: None, wkc_len });
        }
    }
    let (acks, remote_session_id) = ack_array(&mut c, is_client_reset(opcode))?;
    let packet_id_at = c.at;
    if c.u32()? != 0 {
        return Err(Anomaly::new(Layer::OpenVpn, packet_id_at, Reason::BadValue));
    }
    // A v3 reset carries the wrapped client key; others at most early-negotiation TLVs.
    if opcode != OP_HARD_RESET_CLIENT_V3 {
        tlvs(&mut c)?;
    }
    Ok(Reset { opcode, key_id, session_id, auth, acks: Some(acks), remote_session_id, wkc_len: None })
}

/// The wrapped client key's length from the trailer of a v3 reset whose sealed part starts at
/// `c`: it must leave room for the sealed ack count and packet id and hold more than a tag.
fn wkc(c: &Cursor<'_>) -> Result<u16, Anomaly> {
    let rest = c.rest();
    let Some(&len) = rest.last_chunk::<2>() else { return c.fail(Reason::Truncated) };
    let len = u16::from_be_bytes(len);
    let at = c.at + rest.len().saturating_sub(2);
    if usize::from(len) < MIN_WKC_LEN {
        return Err(Anomaly::new(Layer::OpenVpn, at, Reason::BadLength));
    }
    if usize::from(len) + TLS_CRYPT_MIN_SEALED > rest.len() {
        return Err(Anomaly::new(Layer::OpenVpn, at, Reason::OverLimit));
    }
    Ok(len)
}

/// Read one whole control packet as a hard reset under one layout: `Done` or `Invalid`
/// (never `Incomplete`: the packet is whole, missing bytes are `Truncated`).
pub fn parse_reset_as(pkt: &[u8], auth: Auth) -> Step<Reset> {
    match reset_as(pkt, auth) {
        Ok(r) => Step::Done(r),
        Err(a) => Step::Invalid(a),
    }
}

/// Read one whole control packet as a hard reset, trying every layout in [`Auth::ALL`]
/// (`prefer` first, so that a server reset is read the way its client's was). When none
/// fits, the anomaly is the one of the layout that read furthest (the first such layout).
pub fn parse_reset(pkt: &[u8], prefer: Option<Auth>) -> Step<Reset> {
    let mut furthest: Option<Anomaly> = None;
    for auth in prefer.into_iter().chain(Auth::ALL) {
        match reset_as(pkt, auth) {
            Ok(r) => return Step::Done(r),
            Err(a) if furthest.is_none_or(|f| a.offset > f.offset) => furthest = Some(a),
            Err(_) => {}
        }
    }
    match furthest {
        Some(a) => Step::Invalid(a),
        None => Step::invalid(Layer::OpenVpn, 0, Reason::Truncated),
    }
}

/// Largest value of the TCP length prefix's first byte that [`MAX_RESET_PACKET_LEN`] allows.
const MAX_LENGTH_HIGH_BYTE: usize = MAX_RESET_PACKET_LEN >> 8;

/// Split the first packet off one direction (see the module contract): the datagram itself
/// (UDP) or the first length-prefixed packet of the stream (TCP).
pub fn first_packet(side: &[u8], transport: Transport) -> Step<&[u8]> {
    if transport != Transport::Tcp {
        return if side.is_empty() { Step::Incomplete } else { Step::Done(side) };
    }
    let Some((len, rest)) = side.split_first_chunk::<TCP_LENGTH_LEN>() else {
        return match side.first() {
            Some(&b) if usize::from(b) > MAX_LENGTH_HIGH_BYTE => Step::invalid(Layer::OpenVpn, 0, Reason::OverLimit),
            _ => Step::Incomplete,
        };
    };
    let len = usize::from(u16::from_be_bytes(*len));
    if len < MIN_RESET_LEN {
        return Step::invalid(Layer::OpenVpn, 0, Reason::BadLength);
    }
    if len > MAX_RESET_PACKET_LEN {
        return Step::invalid(Layer::OpenVpn, 0, Reason::OverLimit);
    }
    match rest.get(..len) {
        Some(p) => Step::Done(p),
        None if rest.first().is_some_and(|&b| !probe_opcode(b)) => {
            Step::invalid(Layer::OpenVpn, TCP_LENGTH_LEN, Reason::BadType)
        }
        None => Step::Incomplete,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::openvpn::{
        TCP_PLAIN_CLIENT, UDP_PLAIN_CLIENT, UDP_PLAIN_SERVER, UDP_TLSAUTH1_CLIENT, UDP_TLSCRYPT_CLIENT,
        UDP_TLSCRYPTV2_CLIENT, UDP_TLSCRYPTV2_SERVER,
    };
    use crate::testutil::unhex;

    // Recorded with OpenVPN 2.6.14 over loopback (see the fingerprint's tests for the set-up):
    // the first datagram of a plain client and server, a tls-auth (SHA1) client, a tls-crypt
    // client, and the first segment (with its length prefix) of a plain TCP client.

    fn inv(offset: usize, reason: Reason) -> Step<Reset> {
        Step::invalid(Layer::OpenVpn, offset, reason)
    }

    #[test]
    fn tls_crypt_v2_resets_and_early_negotiation_ids() {
        // OpenVPN 2.6.14 with tls-crypt-v2: the client's v3 reset (replay id 0x0f000001, a
        // 299-byte wrapped key) and the server's cookie reset (replay id 1).
        let c = unhex(UDP_TLSCRYPTV2_CLIENT);
        let Step::Done(r) = parse_reset(&c, None) else { panic!("{:?}", parse_reset(&c, None)) };
        assert_eq!((r.opcode, r.auth, r.wkc_len), (OP_HARD_RESET_CLIENT_V3, Auth::TlsCrypt, Some(299)));
        let Step::Done(srv) = parse_reset(&unhex(UDP_TLSCRYPTV2_SERVER), Some(Auth::TlsCrypt)) else { panic!() };
        assert_eq!((srv.opcode, srv.auth, srv.wkc_len), (OP_HARD_RESET_SERVER_V2, Auth::TlsCrypt, None));
        // Replay ids: 1..=64, or the same past EARLY_NEG_START; nothing else.
        let with_id = |id: u32| {
            let mut p = c.clone();
            p[9..13].copy_from_slice(&id.to_be_bytes());
            parse_reset_as(&p, Auth::TlsCrypt).map(|r| r.opcode)
        };
        for ok in [1, MAX_RESET_REPLAY_ID, EARLY_NEG_START + 1, EARLY_NEG_START + MAX_RESET_REPLAY_ID] {
            assert_eq!(with_id(ok), Step::Done(OP_HARD_RESET_CLIENT_V3), "{ok:#x}");
        }
        for bad in [0, MAX_RESET_REPLAY_ID + 1, EARLY_NEG_START, EARLY_NEG_START + MAX_RESET_REPLAY_ID + 1, u32::MAX] {
            assert_eq!(with_id(bad), self::Step::invalid(Layer::OpenVpn, 9, Reason::BadValue), "{bad:#x}");
        }
        // The wrapped key's trailer: more than a tag, and room for the sealed ack and id.
        let last = c.len() - 2;
        let sealed = 1 + SESSION_ID_LEN + 8 + TLS_CRYPT_TAG_LEN;
        let with_len = |len: u16| {
            let mut p = c.clone();
            p[last..].copy_from_slice(&len.to_be_bytes());
            parse_reset_as(&p, Auth::TlsCrypt).map(|r| r.wkc_len)
        };
        let inv = |at: usize, reason: Reason| -> Step<Option<u16>> { Step::invalid(Layer::OpenVpn, at, reason) };
        let most = u16::try_from(c.len() - sealed - TLS_CRYPT_MIN_SEALED).unwrap();
        assert_eq!(with_len(most), Step::Done(Some(most)));
        assert_eq!(with_len(MIN_WKC_LEN as u16), Step::Done(Some(MIN_WKC_LEN as u16)));
        assert_eq!(with_len(most + 1), inv(last, Reason::OverLimit));
        assert_eq!(with_len(u16::MAX), inv(last, Reason::OverLimit));
        assert_eq!(with_len(MIN_WKC_LEN as u16 - 1), inv(last, Reason::BadLength));
        assert_eq!(with_len(0), inv(last, Reason::BadLength));
        // Every truncation: a clean anomaly, never a panic; whole again, it parses.
        for cut in 0..c.len() {
            let _ = parse_reset(&c[..cut], None);
        }
    }

    #[test]
    fn resets_and_layouts() {
        let Step::Done(c) = parse_reset(&unhex(UDP_PLAIN_CLIENT), None) else { panic!() };
        assert_eq!(
            (c.opcode, c.key_id, c.auth, c.acks, c.remote_session_id),
            (OP_HARD_RESET_CLIENT_V2, 0, Auth::None, Some(0), None)
        );
        assert!(c.is_client());
        let Step::Done(s) = parse_reset(&unhex(UDP_PLAIN_SERVER), None) else { panic!() };
        assert_eq!((s.opcode, s.acks, s.remote_session_id), (OP_HARD_RESET_SERVER_V2, Some(1), Some(c.session_id)));
        assert!(!s.is_client());
        let t = unhex(UDP_TLSAUTH1_CLIENT);
        assert_eq!(parse_reset(&t, None).map(|r| r.auth), Step::Done(Auth::TlsAuth(20)));
        // Read without its HMAC, the tls-auth reset has a 20-byte ack count.
        assert_eq!(parse_reset_as(&t, Auth::None), inv(9, Reason::OverLimit));
        assert_eq!(
            parse_reset(&unhex(UDP_TLSCRYPT_CLIENT), None).map(|r| (r.auth, r.acks)),
            Step::Done((Auth::TlsCrypt, None))
        );
        // The preferred layout is tried first.
        assert_eq!(parse_reset(&unhex(UDP_PLAIN_CLIENT), Some(Auth::TlsCrypt)).map(|r| r.auth), Step::Done(Auth::None));
        // v1 and v3 opcodes; v3 may carry a wrapped key, others only short TLVs.
        let mut v1 = unhex(UDP_PLAIN_CLIENT);
        v1[0] = OP_HARD_RESET_CLIENT_V1 << 3;
        assert_eq!(parse_reset(&v1, None).map(|r| r.opcode), Step::Done(OP_HARD_RESET_CLIENT_V1));
        let mut v3 = unhex(UDP_PLAIN_CLIENT);
        v3[0] = OP_HARD_RESET_CLIENT_V3 << 3;
        v3.extend_from_slice(&[0xAB; 300]);
        assert_eq!(parse_reset(&v3, None).map(|r| r.opcode), Step::Done(OP_HARD_RESET_CLIENT_V3));
        let mut tlv = unhex(UDP_PLAIN_CLIENT);
        tlv.extend_from_slice(&[0x00, 0x01, 0x00, 0x02, 0x00, 0x01]);
        assert!(matches!(parse_reset(&tlv, None), Step::Done(_)));
        assert_eq!(opcode_name(OP_CONTROL_WKC_V1), "control_wkc_v1");
        assert_eq!(opcode_name(12), "unknown");
        assert_eq!(Auth::TlsAuth(32).name(), "tls_auth_sha256");
    }

    #[test]
    fn exact_anomalies() {
        let c = unhex(UDP_PLAIN_CLIENT);
        // Key id 1, or a data opcode: the opcode byte.
        for b0 in [0x39u8, OP_DATA_V2 << 3, 0x00, 0xFF] {
            let mut bad = c.clone();
            bad[0] = b0;
            assert_eq!(parse_reset(&bad, None), inv(0, Reason::BadType), "{b0:#x}");
        }
        // A client reset that acknowledges something (ack count at byte 9).
        let mut acking = c.clone();
        acking[9] = 1;
        assert_eq!(parse_reset_as(&acking, Auth::None), inv(9, Reason::BadValue));
        // A first message packet id that is not 0 (bytes 10..14).
        let mut later = c.clone();
        later[13] = 1;
        assert_eq!(parse_reset_as(&later, Auth::None), inv(10, Reason::BadValue));
        // A server reset that does not acknowledge packet 0 (ack ids from byte 10).
        let mut s = unhex(UDP_PLAIN_SERVER);
        s[13] = 5;
        assert_eq!(parse_reset_as(&s, Auth::None), inv(10, Reason::BadValue));
        // tls-auth: a replay id of 0 (at 9 + 20), then an old timestamp.
        let mut t = unhex(UDP_TLSAUTH1_CLIENT);
        t[32] = 0;
        assert_eq!(parse_reset_as(&t, Auth::TlsAuth(20)), inv(29, Reason::BadValue));
        let mut t = unhex(UDP_TLSAUTH1_CLIENT);
        t[33] = 0x01;
        assert_eq!(parse_reset_as(&t, Auth::TlsAuth(20)), inv(33, Reason::BadValue));
        // A TLV list whose length runs past the packet.
        let mut tlv = c.clone();
        tlv.extend_from_slice(&[0x00, 0x01, 0x00, 0x09, 0x00]);
        assert_eq!(parse_reset_as(&tlv, Auth::None), inv(18, Reason::Truncated));
        // TCP framing: lengths and the opcode after the prefix.
        assert_eq!(first_packet(&[0x06], Transport::Tcp), Step::invalid(Layer::OpenVpn, 0, Reason::OverLimit));
        assert_eq!(first_packet(&[0x00, 0x0D], Transport::Tcp), Step::invalid(Layer::OpenVpn, 0, Reason::BadLength));
        assert_eq!(
            first_packet(&[0x00, 0x0E, 0x17], Transport::Tcp),
            Step::invalid(Layer::OpenVpn, 2, Reason::BadType)
        );
    }

    #[test]
    fn truncation_sweep() {
        // A cut datagram is never a hard reset (a whole packet is never Incomplete).
        for text in [UDP_PLAIN_CLIENT, UDP_PLAIN_SERVER, UDP_TLSAUTH1_CLIENT] {
            let p = unhex(text);
            for len in 0..p.len() {
                assert!(parse_reset(&p[..len], None).is_invalid(), "{text} {len}");
            }
        }
        // Over TCP the first packet is Incomplete until all of it is there.
        let t = unhex(TCP_PLAIN_CLIENT);
        for len in 0..t.len() {
            assert_eq!(first_packet(&t[..len], Transport::Tcp), Step::Incomplete, "{len}");
        }
        assert_eq!(first_packet(&t, Transport::Tcp), Step::Done(&t[2..]));
        let mut more = t.clone();
        more.extend_from_slice(&[0x01, 0x2f, 0x20]);
        assert_eq!(first_packet(&more, Transport::Tcp), Step::Done(&t[2..]));
        assert_eq!(first_packet(b"", Transport::Udp), Step::Incomplete);
        assert_eq!(first_packet(&t, Transport::Udp), Step::Done(&t[..]));
    }

    #[test]
    fn hostile_lengths() {
        let t = unhex(TCP_PLAIN_CLIENT);
        for (len, reason) in [
            (0xFFFFu16, Reason::OverLimit),
            (MAX_RESET_PACKET_LEN as u16 + 1, Reason::OverLimit),
            (0, Reason::BadLength),
        ] {
            let mut bad = t.clone();
            bad[..2].copy_from_slice(&len.to_be_bytes());
            assert_eq!(first_packet(&bad, Transport::Tcp), Step::invalid(Layer::OpenVpn, 0, reason), "{len}");
        }
        // A length prefix claiming the largest packet over a short stream: wait, read nothing.
        let mut big = t.clone();
        big[..2].copy_from_slice(&(MAX_RESET_PACKET_LEN as u16).to_be_bytes());
        assert_eq!(first_packet(&big, Transport::Tcp), Step::Incomplete);
        // An ack count beyond RELIABLE_ACK_SIZE, and a TLV tail over its limit.
        let mut s = unhex(UDP_PLAIN_SERVER);
        s[9] = 200;
        assert_eq!(parse_reset_as(&s, Auth::None), inv(9, Reason::OverLimit));
        let mut tlv = unhex(UDP_PLAIN_CLIENT);
        tlv.extend_from_slice(&[0x00, 0x01, 0xFF, 0xFF]);
        tlv.resize(tlv.len() + MAX_RESET_TLV_LEN, 0);
        assert_eq!(parse_reset_as(&tlv, Auth::None), inv(MIN_RESET_LEN, Reason::OverLimit));
        let mut tlv = unhex(UDP_PLAIN_CLIENT);
        tlv.extend_from_slice(&[0x00, 0x01, 0xFF, 0xFF, 0x00]);
        assert_eq!(parse_reset_as(&tlv, Auth::None), inv(MIN_RESET_LEN + 4, Reason::Truncated));
    }
}
