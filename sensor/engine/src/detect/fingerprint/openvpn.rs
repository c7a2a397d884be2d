//! OpenVPN fingerprint: the hard-reset packets that open the control channel, over UDP or TCP.
//!
//! # Contract
//! Works on any port. Over UDP each side is the first datagram; over TCP each side is a stream
//! of packets each prefixed by a 16-bit big-endian length, of which the first is read. Answers
//! `Match` when the initiator's client hard reset is answered by a server hard reset that
//! acknowledges it (its remote-session-id field equals the client's session id), and, once the
//! exchange is finished, on a lone well-formed hard reset. `NoMatch` as soon as the first
//! packet of a side is not a hard reset in any of the known layouts; `NeedMore` while a TCP
//! packet or the responder's answer is still missing.
//!
//! # Facts used
//! - OpenVPN `ssl_pkt.h` / `ssl.c` (2.4–2.6): byte 0 = opcode << 3 | key id. Opcodes:
//!   1 `P_CONTROL_HARD_RESET_CLIENT_V1`, 2 `P_CONTROL_HARD_RESET_SERVER_V1`,
//!   3 `P_CONTROL_SOFT_RESET_V1`, 4 `P_CONTROL_V1`, 5 `P_ACK_V1`, 6 `P_DATA_V1`,
//!   7 `P_CONTROL_HARD_RESET_CLIENT_V2`, 8 `P_CONTROL_HARD_RESET_SERVER_V2`, 9 `P_DATA_V2`,
//!   10 `P_CONTROL_HARD_RESET_CLIENT_V3` (tls-crypt-v2, wrapped client key appended),
//!   11 `P_CONTROL_WKC_V1`. Hard resets use key id 0.
//! - Control packet: opcode byte, 8-byte session id, then with `--tls-auth` an HMAC (16, 20,
//!   32, 48 or 64 bytes for MD5/SHA1/SHA256/SHA384/SHA512) and a replay packet id (u32,
//!   starting at 1) and Unix time (u32); then the ack array (u8 count ≤ 8, that many u32
//!   packet ids, and when the count is not zero the peer's 8-byte session id), then the
//!   message packet id (u32, zero for the first), then the payload. With `--tls-crypt` the replay id and time follow the session id,
//!   then a 32-byte tag, then everything from the ack array on is encrypted.
//! - A client hard reset acknowledges nothing and has message packet id 0; the server's hard
//!   reset acknowledges packet 0 and names the client's session id.
//! - OpenVPN 2.6 may append early-negotiation TLVs (u16 type, u16 length) to a hard reset.
//! - Over TCP every packet is prefixed with its length (`--proto tcp`, `link_socket` framing).
//! - XOR-obfuscated OpenVPN over UDP (the "xor" scramble patch that NordVPN's obfuscated
//!   servers and Tunnelblick use: `xormask`, `xorptrpos`, `reverse`, `obfuscate`): every mode
//!   leaves byte 0 as the opcode byte XORed with one constant (the mask's first byte, the
//!   position XOR of byte 0, or both), while session ids and everything after are scrambled.
//!   So the first bytes of a session's datagrams still spell the opcode sequence under one
//!   key: client hard reset (7), server hard reset (8), then control (4), ack (5) and data
//!   (6, 9) packets. Observed in the nDPI capture `openvpn_obfuscated.pcapng` (UDP 1214, key
//!   `0x74`). The fingerprint reads the flow's first datagrams
//!   ([`Exchange::datagrams`]) and asks for that sequence: the responder's first datagram a
//!   server hard reset under the key the initiator's first defines, then at least
//!   [`OBFUSCATED_MIN_LATER`] more datagrams, all control/ack/data opcodes with key id 0 (data
//!   any key id), with control and ack packets among them.

use super::{DatagramHead, Exchange, Fingerprint, Interest, Outcome};
use farhand_model::evidence::Evidence;
use farhand_model::evidence::OpenVpnEvidence;
use farhand_model::tool::{Match, Method, Tool, Transport};
use farhand_proto::Step;
use farhand_proto::step::{Layer, Reason};
use serde::Serialize;

/// `P_CONTROL_HARD_RESET_CLIENT_V1`.
pub const OP_HARD_RESET_CLIENT_V1: u8 = 1;
/// `P_CONTROL_HARD_RESET_SERVER_V1`.
pub const OP_HARD_RESET_SERVER_V1: u8 = 2;
/// `P_CONTROL_SOFT_RESET_V1`.
pub const OP_SOFT_RESET_V1: u8 = 3;
/// Shortest hard reset: opcode, session id, empty ack array, message packet id.
pub const MIN_RESET_LEN: usize = 1 + 8 + 1 + 4;
/// Datagrams after the two hard resets an obfuscated session must show (see the module doc).
pub const OBFUSCATED_MIN_LATER: usize = 6;
/// Confidence: the opcode sequence of an XOR-obfuscated session.
pub const CONFIDENCE_OBFUSCATED: u8 = 70;
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

/// Length of a session id.
pub const SESSION_ID_LEN: usize = 8;
/// HMAC lengths tried for `--tls-auth` (MD5, SHA1, SHA256, SHA384, SHA512).
pub const HMAC_LENS: [usize; 5] = [16, 20, 32, 48, 64];
/// Length of the tls-crypt authentication tag (HMAC-SHA256).
pub const TLS_CRYPT_TAG_LEN: usize = 32;
/// Most acknowledgements in one packet (`RELIABLE_ACK_SIZE`).
pub const MAX_ACKS: usize = 8;
/// Most bytes of early-negotiation TLVs accepted after a hard reset.
pub const MAX_RESET_TLV_LEN: usize = 64;
/// Largest first packet accepted over TCP: a hard reset (a v3 reset carries a wrapped client
/// key of up to about 1 KiB).
pub const MAX_RESET_PACKET_LEN: usize = 1400;
/// Earliest plausible tls-auth / tls-crypt timestamp (2015-01-01 UTC).
pub const MIN_TIMESTAMP: u32 = 1_420_070_400;
/// Largest plausible replay packet id in a hard reset (it starts at 1; resends increase it).
pub const MAX_RESET_REPLAY_ID: u32 = 64;
/// Bytes per direction this fingerprint reads.
pub const BYTES_WANTED: usize = 1600;

/// Confidence: client hard reset answered by a server hard reset naming its session id.
pub const CONFIDENCE_HANDSHAKE: u8 = 95;
/// Confidence: client and server hard resets under tls-crypt (the ack is encrypted).
pub const CONFIDENCE_TLS_CRYPT_PAIR: u8 = 85;
/// Confidence: a lone client hard reset (exchange finished).
pub const CONFIDENCE_CLIENT_RESET: u8 = 65;
/// Confidence: a lone server hard reset acknowledging a client (capture missed the client).
pub const CONFIDENCE_SERVER_RESET: u8 = 60;

/// How the control packet is authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Auth {
    /// No `--tls-auth` / `--tls-crypt`.
    None,
    /// `--tls-auth` with an HMAC of this many bytes.
    TlsAuth(usize),
    /// `--tls-crypt` (or tls-crypt-v2): only session id, replay id and time are clear.
    TlsCrypt,
}

impl Auth {
    /// Every layout tried, in order.
    pub const ALL: [Auth; 7] = [
        Auth::None,
        Auth::TlsAuth(20),
        Auth::TlsAuth(32),
        Auth::TlsAuth(64),
        Auth::TlsAuth(16),
        Auth::TlsAuth(48),
        Auth::TlsCrypt,
    ];

    /// Name used in the evidence.
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
}

impl Reset {
    /// Whether this is a client hard reset (v1, v2 or v3).
    pub fn is_client(&self) -> bool {
        matches!(self.opcode, OP_HARD_RESET_CLIENT_V1 | OP_HARD_RESET_CLIENT_V2 | OP_HARD_RESET_CLIENT_V3)
    }
}

/// Name of an opcode for the evidence.
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

/// A tiny cursor over a packet; every read is bounds-checked.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take<const N: usize>(&mut self) -> Option<&'a [u8; N]> {
        let (head, rest) = self.0.split_first_chunk::<N>()?;
        self.0 = rest;
        Some(head)
    }
    fn skip(&mut self, n: usize) -> Option<()> {
        self.0 = self.0.get(n..)?;
        Some(())
    }
    fn u8(&mut self) -> Option<u8> {
        self.take::<1>().map(|b| b[0])
    }
    fn u32(&mut self) -> Option<u32> {
        self.take::<4>().map(|b| u32::from_be_bytes(*b))
    }
}

/// Cheap first look at a packet's first byte: a hard-reset opcode with key id 0.
pub fn probe_opcode(b0: u8) -> bool {
    b0 & 7 == 0
        && matches!(
            b0 >> 3,
            OP_HARD_RESET_CLIENT_V1
                | OP_HARD_RESET_SERVER_V1
                | OP_HARD_RESET_CLIENT_V2
                | OP_HARD_RESET_SERVER_V2
                | OP_HARD_RESET_CLIENT_V3
        )
}

/// Replay id and timestamp of tls-auth / tls-crypt: plausible for a hard reset?
fn replay_ok(c: &mut Cursor<'_>) -> Option<()> {
    let id = c.u32()?;
    let time = c.u32()?;
    ((1..=MAX_RESET_REPLAY_ID).contains(&id) && time >= MIN_TIMESTAMP).then_some(())
}

/// Early-negotiation TLVs (or nothing) after a hard reset.
fn tlvs_ok(mut rest: &[u8]) -> bool {
    if rest.len() > MAX_RESET_TLV_LEN {
        return false;
    }
    while !rest.is_empty() {
        let Some((head, tail)) = rest.split_first_chunk::<4>() else {
            return false;
        };
        let len = usize::from(u16::from_be_bytes([head[2], head[3]]));
        let Some(tail) = tail.get(len..) else {
            return false;
        };
        rest = tail;
    }
    true
}

/// Parse one whole control packet as a hard reset under one layout.
pub fn parse_reset_as(pkt: &[u8], auth: Auth) -> Option<Reset> {
    let mut c = Cursor(pkt);
    let b0 = c.u8()?;
    if !probe_opcode(b0) {
        return None;
    }
    let (opcode, key_id) = (b0 >> 3, b0 & 7);
    let session_id = *c.take::<SESSION_ID_LEN>()?;
    match auth {
        Auth::None => {}
        Auth::TlsAuth(h) => {
            c.skip(h)?;
            replay_ok(&mut c)?;
        }
        Auth::TlsCrypt => {
            replay_ok(&mut c)?;
            c.skip(TLS_CRYPT_TAG_LEN)?;
            // The rest is encrypted: at least an ack count and a message packet id.
            if c.0.len() < 5 {
                return None;
            }
            return Some(Reset { opcode, key_id, session_id, auth, acks: None, remote_session_id: None });
        }
    }
    let acks = c.u8()?;
    let is_client = matches!(opcode, OP_HARD_RESET_CLIENT_V1 | OP_HARD_RESET_CLIENT_V2 | OP_HARD_RESET_CLIENT_V3);
    if usize::from(acks) > MAX_ACKS || (is_client && acks != 0) {
        return None;
    }
    let mut remote_session_id = None;
    if acks > 0 {
        let mut acked_zero = false;
        for _ in 0..acks {
            acked_zero |= c.u32()? == 0;
        }
        if !acked_zero {
            return None;
        }
        remote_session_id = Some(*c.take::<SESSION_ID_LEN>()?);
    }
    if c.u32()? != 0 {
        return None;
    }
    // A v3 reset carries the wrapped client key; others at most early-negotiation TLVs.
    if opcode != OP_HARD_RESET_CLIENT_V3 && !tlvs_ok(c.0) {
        return None;
    }
    Some(Reset { opcode, key_id, session_id, auth, acks: Some(acks), remote_session_id })
}

/// Parse one whole control packet as a hard reset, trying every layout in [`Auth::ALL`]
/// (`prefer` first, so that a server reset is read the way its client's was).
pub fn parse_reset(pkt: &[u8], prefer: Option<Auth>) -> Option<Reset> {
    prefer.into_iter().chain(Auth::ALL).find_map(|a| parse_reset_as(pkt, a))
}

/// Split the first packet off one side: the datagram itself (UDP) or the first
/// length-prefixed packet of the stream (TCP).
pub fn first_packet(side: &[u8], transport: Transport) -> Step<&[u8]> {
    match transport {
        Transport::Tcp => {
            let Some((len, rest)) = side.split_first_chunk::<2>() else {
                return if side.first().is_some_and(|&b| b > 0x05) {
                    Step::invalid(Layer::OpenVpn, 0, Reason::BadValue)
                } else {
                    Step::Incomplete
                };
            };
            let len = usize::from(u16::from_be_bytes(*len));
            if !(1 + SESSION_ID_LEN + 5..=MAX_RESET_PACKET_LEN).contains(&len) {
                return Step::invalid(Layer::OpenVpn, 0, Reason::BadValue);
            }
            match rest.get(..len) {
                Some(p) => Step::Done(p),
                None if rest.first().is_some_and(|&b| !probe_opcode(b)) => {
                    Step::invalid(Layer::OpenVpn, 0, Reason::BadValue)
                }
                None => Step::Incomplete,
            }
        }
        _ if side.is_empty() => Step::Incomplete,
        _ => Step::Done(side),
    }
}

fn hex(b: &[u8]) -> String {
    use std::fmt::Write as _;
    b.iter().fold(String::with_capacity(2 * b.len()), |mut out, x| {
        let _ = write!(out, "{x:02x}");
        out
    })
}

/// Decide on the first packet of each side.
pub fn fingerprint(orig: Step<&[u8]>, resp: Step<&[u8]>, transport: Transport, finished: bool) -> Outcome {
    let o = match orig {
        Step::Done(p) => match parse_reset(p, None) {
            Some(r) => r,
            None => return Outcome::NoMatch,
        },
        Step::Incomplete if !finished => return Outcome::NeedMore,
        _ => return Outcome::NoMatch,
    };
    let r = match resp {
        Step::Done(p) => match parse_reset(p, Some(o.auth)) {
            Some(r) => Some(r),
            None => return Outcome::NoMatch,
        },
        Step::Incomplete if !finished => return Outcome::NeedMore,
        Step::Incomplete => None,
        Step::Invalid(_) => return Outcome::NoMatch,
    };
    let mut ev = OpenVpnEvidence {
        transport,
        opcodes: std::iter::once(opcode_name(o.opcode)).chain(r.map(|r| opcode_name(r.opcode))).collect(),
        key_id: o.key_id,
        client_session_id: None,
        server_session_id: None,
        session_acked: false,
        tls_auth: o.auth.name(),
        obfuscation_xor: None,
    };
    let confidence = match r {
        Some(r) if o.is_client() && !r.is_client() => {
            ev.client_session_id = Some(hex(&o.session_id));
            ev.server_session_id = Some(hex(&r.session_id));
            match (o.auth, r.auth) {
                (Auth::TlsCrypt, Auth::TlsCrypt) => CONFIDENCE_TLS_CRYPT_PAIR,
                (a, b) if a == b && r.remote_session_id == Some(o.session_id) => {
                    ev.session_acked = true;
                    CONFIDENCE_HANDSHAKE
                }
                _ => return Outcome::NoMatch,
            }
        }
        Some(_) => return Outcome::NoMatch,
        None if o.is_client() => {
            ev.client_session_id = Some(hex(&o.session_id));
            CONFIDENCE_CLIENT_RESET
        }
        // The initiator's first packet is a server reset: the client's was not captured.
        None if o.remote_session_id.is_some() => {
            ev.server_session_id = Some(hex(&o.session_id));
            ev.client_session_id = o.remote_session_id.map(|s| hex(&s));
            ev.session_acked = true;
            CONFIDENCE_SERVER_RESET
        }
        None => return Outcome::NoMatch,
    };
    Outcome::Match(Match {
        tool: Tool::OpenVpn,
        confidence,
        method: Method::PayloadStructure,
        evidence: Evidence::Openvpn(ev),
    })
}

/// Decide on the first datagrams of a UDP flow as an XOR-obfuscated OpenVPN session (see the
/// module doc).
pub fn obfuscated(heads: &[DatagramHead], finished: bool) -> Outcome {
    // No heads: the caller gathers none (not a probing engine), so there is nothing to read.
    if heads.is_empty() {
        return Outcome::NoMatch;
    }
    let mut from_orig = heads.iter().filter(|h| h.from_initiator);
    let mut from_resp = heads.iter().filter(|h| !h.from_initiator);
    let (Some(c0), r0) = (from_orig.next(), from_resp.next()) else {
        return if finished { Outcome::NoMatch } else { Outcome::NeedMore };
    };
    let key = c0.first ^ (OP_HARD_RESET_CLIENT_V2 << 3);
    // Key 0 is plain OpenVPN, which the plain path decides.
    if key == 0 || usize::from(c0.len) < MIN_RESET_LEN {
        return Outcome::NoMatch;
    }
    let Some(r0) = r0 else {
        return if finished { Outcome::NoMatch } else { Outcome::NeedMore };
    };
    if r0.first ^ key != OP_HARD_RESET_SERVER_V2 << 3 || usize::from(r0.len) < MIN_RESET_LEN {
        return Outcome::NoMatch;
    }
    let (mut later, mut control, mut ack) = (0usize, false, false);
    for h in from_orig.chain(from_resp) {
        let b = h.first ^ key;
        match b >> 3 {
            OP_CONTROL_V1 if b & 7 == 0 => control = true,
            OP_ACK_V1 if b & 7 == 0 => ack = true,
            OP_DATA_V1 | OP_DATA_V2 => {}
            _ => return Outcome::NoMatch,
        }
        later += 1;
    }
    if later < OBFUSCATED_MIN_LATER || !control || !ack {
        return if finished { Outcome::NoMatch } else { Outcome::NeedMore };
    }
    Outcome::Match(Match {
        tool: Tool::OpenVpn,
        confidence: CONFIDENCE_OBFUSCATED,
        method: Method::PayloadStructure,
        evidence: Evidence::Openvpn(OpenVpnEvidence {
            transport: Transport::Udp,
            opcodes: vec![opcode_name(OP_HARD_RESET_CLIENT_V2), opcode_name(OP_HARD_RESET_SERVER_V2)],
            key_id: 0,
            client_session_id: None,
            server_session_id: None,
            session_acked: false,
            tls_auth: "unknown",
            obfuscation_xor: Some(format!("{key:02x}")),
        }),
    })
}

/// The OpenVPN fingerprint.
#[derive(Debug, Clone, Copy, Default)]
pub struct OpenVpnFingerprint;

impl Fingerprint for OpenVpnFingerprint {
    fn tool(&self) -> Tool {
        Tool::OpenVpn
    }
    fn version(&self) -> &'static str {
        "1"
    }
    fn interest(&self) -> Interest {
        Interest::tcp_udp(BYTES_WANTED).with_datagram_heads()
    }
    fn inspect(&self, ex: &Exchange<'_>) -> Outcome {
        if ex.transport == Transport::Udp {
            let plain = self.inspect_plain(ex);
            return match plain {
                Outcome::NoMatch => obfuscated(ex.datagrams, ex.finished),
                _ => plain,
            };
        }
        self.inspect_plain(ex)
    }
}

impl OpenVpnFingerprint {
    fn inspect_plain(&self, ex: &Exchange<'_>) -> Outcome {
        let cheap_no = match ex.transport {
            Transport::Udp => ex.orig.first().is_some_and(|&b| !probe_opcode(b)),
            Transport::Tcp => ex.orig.get(2).is_some_and(|&b| !probe_opcode(b)),
            Transport::Icmp => true,
        };
        if cheap_no {
            return Outcome::NoMatch;
        }
        fingerprint(first_packet(ex.orig, ex.transport), first_packet(ex.resp, ex.transport), ex.transport, ex.finished)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::unhex;

    // Recorded on loopback with OpenVPN 2.6.14 (Debian 12 package 2.6.14-0+deb12u2), p2p TLS
    // mode over `--dev null`: server `openvpn --dev null --proto udp|tcp-server --tls-server
    // --ca --cert --key --dh none`, client `--proto udp|tcp-client --remote 127.0.0.1 PORT
    // --tls-client --remote-cert-tls server` (throwaway EC certificates made with openssl),
    // plus `--tls-auth ta.key` (SHA1 default), `--tls-auth ta.key --auth SHA256`, or
    // `--tls-crypt tc.key` (keys from `openvpn --genkey secret`). Captured with
    // `tcpdump -i lo`; payloads from `tshark -T fields -e udp.payload` / `-e tcp.payload`. Each
    // constant is the first datagram (UDP) or first segment (TCP, with its length prefix) of
    // the client and of the server.
    const UDP_PLAIN_CLIENT: &str = "3844dc381dc46638140000000000";
    const UDP_PLAIN_SERVER: &str = "4019787662cc03fa8a010000000044dc381dc466381400000000";
    const UDP_TLSAUTH1_CLIENT: &str =
        "3872356b19d86b443d6d5af91511b9185faecb57f4975862df65db30df000000016b0620170000000000";
    const UDP_TLSAUTH1_SERVER: &str = "40fa637e6d54ce13182e89d78d25498f88b3db6537d975d67abc9557fd000000016b062017010000000072356b19\
        d86b443d00000000";
    const UDP_TLSAUTH256_CLIENT: &str = "38b6fed87784266e800e401ebc66f1a673a0395838f561ca1a199147d9f595d22e6b4952f65eac1011000000016b\
        061ff10000000000";
    const UDP_TLSAUTH256_SERVER: &str = "404d5630116aea55707c4dbe6522dee12cda6f25bf28488d9baa786ec1366a5d5b088119edf352bd73000000016b\
        061ff10100000000b6fed87784266e8000000000";
    const UDP_TLSCRYPT_CLIENT: &str = "38e8292d29ecf118e5000000016b061ff95a0e353667f1755013aeb1ea9ff46b1ba97f10a3b4aefe757aa281b842\
        72bced6bb65d78e8";
    const UDP_TLSCRYPT_SERVER: &str = "40502f06a5237ef738000000016b061ff9cd75905dbd48290e54f45994323c6105f47a6faf7e7df4a7fe0cd5e4ef\
        55e9babd382f46566078743940b2843014d3768a";
    const TCP_PLAIN_CLIENT: &str = "000e38ec79b005c28286a90000000000";
    const TCP_PLAIN_SERVER: &str = "001a400d56ee2c970cead30100000000ec79b005c28286a900000000";
    const TCP_TLSAUTH_CLIENT: &str = "00363848d4c5b87d1d3889d0817b122fe0053dee0d56b7f6d990651959df47b7e8d0893996e383f5a889cd000000\
        016b0620090000000000";
    const TCP_TLSAUTH_SERVER: &str = "004240a84aad8d37cfe5f9525876e1f988849ab816f6c5a458e2374045d4fb62e85aaf534ff55e276e0d92000000\
        016b06200a010000000048d4c5b87d1d388900000000";
    const TCP_TLSCRYPT_CLIENT: &str = "003638673609e5529f1064000000016b06201f7298c0ff24b1ff4941e03c24f224fc0e419ce172823951dbba4de7\
        c1245324daf743e2c241";
    const TCP_TLSCRYPT_SERVER: &str = "004240227be890a1e29faa000000016b062020b9c0d5a1abdcfe89527c73d14d0e3b97a7a33ff714a5256dbc6fc1\
        4503ebb2ff7b8a6534a426fff6885bb90f957fc9be95";

    fn inspect(transport: Transport, orig: &[u8], resp: &[u8], finished: bool) -> Outcome {
        OpenVpnFingerprint.inspect(&Exchange {
            transport,
            orig,
            resp,
            orig_port: 40000,
            resp_port: 1194,
            finished,
            datagrams: &[],
        })
    }

    fn evidence(out: &Outcome) -> (u8, &OpenVpnEvidence) {
        match out {
            Outcome::Match(Match {
                confidence,
                tool: Tool::OpenVpn,
                method: Method::PayloadStructure,
                evidence: Evidence::Openvpn(e),
            }) => (*confidence, e),
            other => panic!("expected an OpenVPN match, got {other:?}"),
        }
    }

    /// (transport, client, server, expected tls_auth, expected confidence)
    type Case = (Transport, Vec<u8>, Vec<u8>, &'static str, u8);

    fn recorded() -> Vec<Case> {
        vec![
            (Transport::Udp, unhex(UDP_PLAIN_CLIENT), unhex(UDP_PLAIN_SERVER), "none", CONFIDENCE_HANDSHAKE),
            (
                Transport::Udp,
                unhex(UDP_TLSAUTH1_CLIENT),
                unhex(UDP_TLSAUTH1_SERVER),
                "tls_auth_sha1",
                CONFIDENCE_HANDSHAKE,
            ),
            (
                Transport::Udp,
                unhex(UDP_TLSAUTH256_CLIENT),
                unhex(UDP_TLSAUTH256_SERVER),
                "tls_auth_sha256",
                CONFIDENCE_HANDSHAKE,
            ),
            (
                Transport::Udp,
                unhex(UDP_TLSCRYPT_CLIENT),
                unhex(UDP_TLSCRYPT_SERVER),
                "tls_crypt",
                CONFIDENCE_TLS_CRYPT_PAIR,
            ),
            (Transport::Tcp, unhex(TCP_PLAIN_CLIENT), unhex(TCP_PLAIN_SERVER), "none", CONFIDENCE_HANDSHAKE),
            (
                Transport::Tcp,
                unhex(TCP_TLSAUTH_CLIENT),
                unhex(TCP_TLSAUTH_SERVER),
                "tls_auth_sha256",
                CONFIDENCE_HANDSHAKE,
            ),
            (
                Transport::Tcp,
                unhex(TCP_TLSCRYPT_CLIENT),
                unhex(TCP_TLSCRYPT_SERVER),
                "tls_crypt",
                CONFIDENCE_TLS_CRYPT_PAIR,
            ),
        ]
    }

    #[test]
    fn recorded_handshakes_match() {
        for (t, c, s, auth, conf) in recorded() {
            let out = inspect(t, &c, &s, false);
            let (got, e) = evidence(&out);
            assert_eq!((got, e.tls_auth), (conf, auth), "{t:?} {auth}");
            assert_eq!(e.transport, t);
            assert_eq!(e.opcodes, ["hard_reset_client_v2", "hard_reset_server_v2"]);
            assert_eq!(e.key_id, 0);
            assert_eq!(e.session_acked, conf == CONFIDENCE_HANDSHAKE);
            let off = if t == Transport::Tcp { 3 } else { 1 };
            assert_eq!(e.client_session_id.as_deref().map(unhex).as_deref(), Some(&c[off..off + 8]));
            assert_eq!(e.server_session_id.as_deref().map(unhex).as_deref(), Some(&s[off..off + 8]));
        }
        // Known answer for the plain UDP pair.
        let out = inspect(Transport::Udp, &unhex(UDP_PLAIN_CLIENT), &unhex(UDP_PLAIN_SERVER), false);
        assert_eq!(evidence(&out).1.client_session_id.as_deref(), Some("44dc381dc4663814"));
    }

    #[test]
    fn client_alone_waits_then_matches_lower() {
        for (t, c, _, auth, _) in recorded() {
            assert_eq!(inspect(t, &c, b"", false), Outcome::NeedMore, "{auth}");
            let out = inspect(t, &c, b"", true);
            let (conf, e) = evidence(&out);
            assert_eq!((conf, e.tls_auth), (CONFIDENCE_CLIENT_RESET, auth));
        }
        // A server reset seen first (the client's was missed) at finished.
        let out = inspect(Transport::Udp, &unhex(UDP_PLAIN_SERVER), b"", true);
        let (conf, e) = evidence(&out);
        assert_eq!(conf, CONFIDENCE_SERVER_RESET);
        assert_eq!(e.client_session_id.as_deref(), Some("44dc381dc4663814"));
    }

    #[test]
    fn server_must_ack_the_clients_session() {
        let (c, mut s) = (unhex(UDP_PLAIN_CLIENT), unhex(UDP_PLAIN_SERVER));
        s[20] ^= 0xFF; // inside the remote session id
        assert_eq!(inspect(Transport::Udp, &c, &s, false), Outcome::NoMatch);
        // Two client resets are not a handshake.
        assert_eq!(inspect(Transport::Udp, &c, &c, false), Outcome::NoMatch);
        // A non-OpenVPN reply contradicts.
        assert_eq!(inspect(Transport::Udp, &c, b"\x16\xfe\xfd\x00\x00", false), Outcome::NoMatch);
    }

    #[test]
    fn udp_truncation_sweep() {
        for (t, c, s, auth, _) in recorded() {
            if t != Transport::Udp {
                continue;
            }
            // A datagram is whole: a cut one is not a hard reset, and never makes us wait.
            for len in 1..c.len() {
                let out = inspect(t, &c[..len], &s, false);
                assert_ne!(out, Outcome::NeedMore, "{auth} {len}");
                if auth != "tls_crypt" {
                    assert_eq!(out, Outcome::NoMatch, "{auth} {len}");
                }
            }
        }
    }

    #[test]
    fn tcp_truncation_sweep() {
        for (t, c, s, auth, conf) in recorded() {
            if t != Transport::Tcp {
                continue;
            }
            for len in 0..c.len() {
                assert_eq!(inspect(t, &c[..len], &s, false), Outcome::NeedMore, "{auth} {len}");
                assert_ne!(inspect(t, &c[..len], &s, true), Outcome::NeedMore, "{auth} {len}");
            }
            for len in 0..s.len() {
                assert_eq!(inspect(t, &c, &s[..len], false), Outcome::NeedMore, "{auth} {len}");
                assert_eq!(evidence(&inspect(t, &c, &s[..len], true)).0, CONFIDENCE_CLIENT_RESET);
            }
            // Bytes after the first packet (the TLS ClientHello in P_CONTROL_V1) change nothing.
            let mut more = c.clone();
            more.extend_from_slice(&[0x01, 0x2f, 0x20, 0x11, 0x22]);
            assert_eq!(evidence(&inspect(t, &more, &s, false)).0, conf);
        }
    }

    #[test]
    fn hostile_tcp_lengths() {
        let c = unhex(TCP_PLAIN_CLIENT);
        let mut huge = c.clone();
        huge[..2].copy_from_slice(&0xFFFFu16.to_be_bytes());
        assert_eq!(inspect(Transport::Tcp, &huge, b"", false), Outcome::NoMatch);
        let mut zero = c.clone();
        zero[..2].copy_from_slice(&0u16.to_be_bytes());
        assert_eq!(inspect(Transport::Tcp, &zero, b"", false), Outcome::NoMatch);
        // A length that covers more than the packet: the next bytes are not a TLV list.
        let mut longer = c.clone();
        longer[1] += 4;
        longer.extend_from_slice(&[0xFF, 0xFF, 0xFF, 0xFF]);
        assert_eq!(inspect(Transport::Tcp, &longer, b"", true), Outcome::NoMatch);
        // Ack count beyond RELIABLE_ACK_SIZE.
        let mut s = unhex(UDP_PLAIN_SERVER);
        s[9] = 200;
        assert_eq!(parse_reset(&s, None), None);
    }

    #[test]
    fn layouts_and_opcodes() {
        let c = unhex(UDP_TLSAUTH1_CLIENT);
        assert_eq!(parse_reset(&c, None).map(|r| r.auth), Some(Auth::TlsAuth(20)));
        assert_eq!(parse_reset_as(&c, Auth::None), None);
        // Key id must be 0, opcode a hard reset.
        for b0 in [0x39u8, 0x20, 0x48, 0x30, 0x00, 0xFF] {
            let mut bad = unhex(UDP_PLAIN_CLIENT);
            bad[0] = b0;
            assert_eq!(inspect(Transport::Udp, &bad, b"", true), Outcome::NoMatch, "{b0:#x}");
        }
        // v1 and v3 opcodes parse; v3 may carry a wrapped key.
        let mut v1 = unhex(UDP_PLAIN_CLIENT);
        v1[0] = OP_HARD_RESET_CLIENT_V1 << 3;
        assert_eq!(evidence(&inspect(Transport::Udp, &v1, b"", true)).1.opcodes, ["hard_reset_client_v1"]);
        let mut v3 = unhex(UDP_PLAIN_CLIENT);
        v3[0] = OP_HARD_RESET_CLIENT_V3 << 3;
        v3.extend_from_slice(&[0xAB; 300]);
        assert_eq!(evidence(&inspect(Transport::Udp, &v3, b"", true)).1.opcodes, ["hard_reset_client_v3"]);
        // 2.6 early-negotiation TLV after a reset.
        let mut tlv = unhex(UDP_PLAIN_CLIENT);
        tlv.extend_from_slice(&[0x00, 0x01, 0x00, 0x02, 0x00, 0x01]);
        assert!(parse_reset(&tlv, None).is_some());
        // Data packets are never a first packet we recognise.
        let mut data = vec![OP_DATA_V2 << 3, 0, 0, 1];
        data.extend_from_slice(&[0x77; 60]);
        assert_eq!(inspect(Transport::Udp, &data, &data, true), Outcome::NoMatch);
        assert_eq!(opcode_name(OP_CONTROL_WKC_V1), "control_wkc_v1");
    }

    #[test]
    fn random_and_other_protocols_do_not_match() {
        let mut rng = crate::testutil::XorShift64(0x0123_4567_89AB_CDEF);
        let mut rnd = |len: usize| rng.bytes(len);
        for len in [1usize, 14, 26, 42, 54, 86, 98, 300] {
            for _ in 0..100 {
                let (mut a, b) = (rnd(len), rnd(len));
                a[0] = OP_HARD_RESET_CLIENT_V2 << 3;
                assert_eq!(inspect(Transport::Udp, &a, &b, true), Outcome::NoMatch);
                let mut t = (len as u16).to_be_bytes().to_vec();
                t.extend_from_slice(&a);
                assert_eq!(inspect(Transport::Tcp, &t, &b, true), Outcome::NoMatch);
            }
        }
        let http = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        assert_eq!(inspect(Transport::Tcp, http, b"", true), Outcome::NoMatch);
        let tls = [0x16, 0x03, 0x01, 0x00, 0x2e, 0x01, 0x00, 0x00, 0x2a, 0x03, 0x03];
        assert_eq!(inspect(Transport::Tcp, &tls, b"", false), Outcome::NoMatch);
        assert!(!OpenVpnFingerprint.wants(Transport::Icmp));
        assert_eq!(inspect(Transport::Udp, b"", b"", true), Outcome::NoMatch);
    }

    #[test]
    fn byte_mutation_sweep_never_panics() {
        for (t, c, s, _, _) in recorded() {
            for pos in 0..c.len().max(s.len()) {
                for v in [0x00, 0xFF, 0x01, 0x80] {
                    let (mut c2, mut s2) = (c.clone(), s.clone());
                    if let Some(b) = c2.get_mut(pos) {
                        *b = v;
                    }
                    if let Some(b) = s2.get_mut(pos) {
                        *b ^= v;
                    }
                    let _ = inspect(t, &c2, &s2, false);
                    assert_ne!(inspect(t, &c2, &s2, true), Outcome::NeedMore);
                }
            }
        }
    }

    fn heads(seq: &[(bool, u8)]) -> Vec<DatagramHead> {
        seq.iter().map(|&(from_initiator, first)| DatagramHead { from_initiator, first, len: 100 }).collect()
    }

    #[test]
    fn obfuscated_opcode_sequence() {
        // Key 0x74 as in the public capture: client reset 0x4c, server reset 0x34, control
        // 0x54, ack 0x5c, data v2 0x3c.
        let seq = [
            (true, 0x4c),
            (false, 0x34),
            (true, 0x54),
            (false, 0x5c),
            (false, 0x54),
            (false, 0x54),
            (true, 0x5c),
            (true, 0x5c),
            (true, 0x3c),
        ];
        let out = obfuscated(&heads(&seq), false);
        let (conf, ev) = evidence(&out);
        assert_eq!(conf, CONFIDENCE_OBFUSCATED);
        assert_eq!(ev.obfuscation_xor.as_deref(), Some("74"));
        // Too few datagrams yet: wait; at the end: no.
        assert_eq!(obfuscated(&heads(&seq[..5]), false), Outcome::NeedMore);
        assert_eq!(obfuscated(&heads(&seq[..5]), true), Outcome::NoMatch);
        assert_eq!(obfuscated(&heads(&seq[..1]), false), Outcome::NeedMore);
        // A responder that does not start with a server reset under the key.
        let mut bad = seq;
        bad[1].1 = 0x35;
        assert_eq!(obfuscated(&heads(&bad), false), Outcome::NoMatch);
        // A later datagram outside the opcode set.
        let mut bad = seq;
        bad[4].1 = 0x74;
        assert_eq!(obfuscated(&heads(&bad), false), Outcome::NoMatch);
        // Key 0 (plain) is not this path's.
        let plain: Vec<_> = seq.iter().map(|&(d, b)| (d, b ^ 0x74)).collect();
        assert_eq!(obfuscated(&heads(&plain), false), Outcome::NoMatch);
        // Constant first bytes (RTP-like, same in both directions) and random first bytes.
        assert_eq!(obfuscated(&heads(&[(true, 0x80), (false, 0x80), (true, 0x80)]), true), Outcome::NoMatch);
        let mut x: u32 = 0x1234_5678;
        let mut matched = 0;
        for _ in 0..20_000 {
            let seq: Vec<(bool, u8)> = (0..16)
                .map(|i| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    (i % 2 == 0 || x & 0x100 != 0, x as u8)
                })
                .collect();
            matched += usize::from(matches!(obfuscated(&heads(&seq), true), Outcome::Match(_)));
        }
        assert_eq!(matched, 0);
    }
}
