//! OpenVPN fingerprint: the hard-reset packets that open the control channel, over UDP or TCP.
//!
//! # Contract
//! Works on any port. Over UDP each side is the first datagram; over TCP each side is a stream
//! of packets each prefixed by a 16-bit big-endian length, of which the first is read (the
//! wire format, its layouts and limits are `farhand_proto::openvpn`'s). Answers `Match` when
//! the initiator's client hard reset is answered by a server hard reset that acknowledges it
//! (its remote-session-id field equals the client's session id), and, once the exchange is
//! finished, on a lone well-formed hard reset. `NoMatch` as soon as the first packet of a side
//! is not a hard reset in any of the known layouts (`Anomaly`, with the parser's offset and
//! reason, when that packet is the responder's to a valid reset, or a TCP initiator's whole
//! packet whose length prefix and opcode were OpenVPN's); `NeedMore` while a TCP packet or
//! the responder's answer is still missing.
//!
//! # Facts used
//! - The control packets (`farhand_proto::openvpn`): byte 0 = opcode << 3 | key id; a client
//!   hard reset acknowledges nothing, the server's acknowledges packet 0 and names the
//!   client's session id; under tls-crypt the ack array is encrypted.
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
use farhand_proto::openvpn::{
    Auth, KEY_ID_MASK, MIN_RESET_LEN, OP_ACK_V1, OP_CONTROL_V1, OP_DATA_V1, OP_DATA_V2, OP_HARD_RESET_CLIENT_V2,
    OP_HARD_RESET_SERVER_V2, OPCODE_SHIFT, Reset, first_packet, opcode_name, parse_reset, probe_opcode,
};
use farhand_proto::step::Anomaly;

/// Datagrams after the two hard resets an obfuscated session must show (see the module doc).
pub const OBFUSCATED_MIN_LATER: usize = 6;
/// Confidence: the opcode sequence of an XOR-obfuscated session.
pub const CONFIDENCE_OBFUSCATED: u8 = 70;
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

fn hex(b: &[u8]) -> String {
    use std::fmt::Write as _;
    b.iter().fold(String::with_capacity(2 * b.len()), |mut out, x| {
        let _ = write!(out, "{x:02x}");
        out
    })
}

/// Where the packet [`first_packet`] splits off begins in its direction's bytes.
fn packet_offset(transport: Transport) -> usize {
    if transport == Transport::Tcp { farhand_proto::openvpn::TCP_LENGTH_LEN } else { 0 }
}

/// How one side's packet ends the decision before the pair is compared.
enum Ended {
    /// Wait for more bytes.
    NeedMore,
    /// Not OpenVPN.
    NoMatch,
    /// Not OpenVPN: where and why the packet broke the format.
    Anomaly(Anomaly),
}

impl From<Ended> for Outcome {
    fn from(e: Ended) -> Outcome {
        match e {
            Ended::NeedMore => Outcome::NeedMore,
            Ended::NoMatch => Outcome::NoMatch,
            Ended::Anomaly(a) => Outcome::Anomaly(a),
        }
    }
}

/// The initiator's first packet as a hard reset, or how the decision ends. Only a whole TCP
/// packet whose length prefix and opcode were OpenVPN's can have begun a match, so only its
/// anomaly is kept: a UDP datagram is whole at the first look, and a length prefix or opcode
/// that contradicts is the first thing the initiator sent (a server that speaks first leaves
/// the initiator's side empty until then).
fn initiator_reset(orig: Step<&[u8]>, transport: Transport, finished: bool) -> Result<Reset, Ended> {
    match orig {
        Step::Done(p) => match parse_reset(p, None) {
            Step::Done(r) => Ok(r),
            Step::Invalid(a) if transport == Transport::Tcp => Err(Ended::Anomaly(a.shifted(packet_offset(transport)))),
            Step::Invalid(_) | Step::Incomplete => Err(Ended::NoMatch),
        },
        Step::Incomplete if !finished => Err(Ended::NeedMore),
        Step::Incomplete | Step::Invalid(_) => Err(Ended::NoMatch),
    }
}

/// The responder's first packet as a hard reset read the way the initiator's was (`None`
/// when it never came), or how the decision ends.
fn responder_reset(resp: Step<&[u8]>, o: &Reset, transport: Transport, finished: bool) -> Result<Option<Reset>, Ended> {
    match resp {
        Step::Done(p) => match parse_reset(p, Some(o.auth)) {
            Step::Done(r) => Ok(Some(r)),
            Step::Invalid(a) => Err(Ended::Anomaly(a.shifted(packet_offset(transport)))),
            Step::Incomplete => Err(Ended::NoMatch),
        },
        Step::Incomplete if !finished => Err(Ended::NeedMore),
        Step::Incomplete => Ok(None),
        Step::Invalid(a) => Err(Ended::Anomaly(a)),
    }
}

/// Decide on the first packet of each side.
pub fn fingerprint(orig: Step<&[u8]>, resp: Step<&[u8]>, transport: Transport, finished: bool) -> Outcome {
    let o = match initiator_reset(orig, transport, finished) {
        Ok(o) => o,
        Err(end) => return end.into(),
    };
    let r = match responder_reset(resp, &o, transport, finished) {
        Ok(r) => r,
        Err(end) => return end.into(),
    };
    let mut ev = OpenVpnEvidence {
        transport,
        opcodes: std::iter::once(opcode_name(o.opcode)).chain(r.map(|r| opcode_name(r.opcode))).collect(),
        key_id: o.key_id,
        client_session_id: None,
        server_session_id: None,
        session_acked: false,
        tls_auth: if o.wkc_len.is_some() { "tls_crypt_v2" } else { o.auth.name() },
        wrapped_client_key_len: o.wkc_len,
        obfuscation_xor: None,
    };
    let Some(confidence) = pair_confidence(&o, r.as_ref(), &mut ev) else {
        return Outcome::NoMatch;
    };
    Outcome::Match(Match {
        tool: Tool::OpenVpn,
        confidence,
        method: Method::PayloadStructure,
        evidence: Evidence::Openvpn(ev),
    })
}

/// Confidence of the two hard resets as one session's (`None`: they are not), filling the
/// session ids the evidence reports.
fn pair_confidence(o: &Reset, r: Option<&Reset>, ev: &mut OpenVpnEvidence) -> Option<u8> {
    Some(match r {
        Some(r) if o.is_client() && !r.is_client() => {
            ev.client_session_id = Some(hex(&o.session_id));
            ev.server_session_id = Some(hex(&r.session_id));
            match (o.auth, r.auth) {
                (Auth::TlsCrypt, Auth::TlsCrypt) => CONFIDENCE_TLS_CRYPT_PAIR,
                (a, b) if a == b && r.remote_session_id == Some(o.session_id) => {
                    ev.session_acked = true;
                    CONFIDENCE_HANDSHAKE
                }
                _ => return None,
            }
        }
        Some(_) => return None,
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
        None => return None,
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
    let key = c0.first ^ (OP_HARD_RESET_CLIENT_V2 << OPCODE_SHIFT);
    // Key 0 is plain OpenVPN, which the plain path decides.
    if key == 0 || usize::from(c0.len) < MIN_RESET_LEN {
        return Outcome::NoMatch;
    }
    let Some(r0) = r0 else {
        return if finished { Outcome::NoMatch } else { Outcome::NeedMore };
    };
    if r0.first ^ key != OP_HARD_RESET_SERVER_V2 << OPCODE_SHIFT || usize::from(r0.len) < MIN_RESET_LEN {
        return Outcome::NoMatch;
    }
    let (mut later, mut control, mut ack) = (0usize, false, false);
    for h in from_orig.chain(from_resp) {
        let b = h.first ^ key;
        match b >> OPCODE_SHIFT {
            OP_CONTROL_V1 if b & KEY_ID_MASK == 0 => control = true,
            OP_ACK_V1 if b & KEY_ID_MASK == 0 => ack = true,
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
            wrapped_client_key_len: None,
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
            // A plain path that ended on an anomaly keeps it unless the obfuscated path goes on.
            let plain = self.inspect_plain(ex);
            return match plain {
                Outcome::NoMatch | Outcome::Anomaly(_) => match obfuscated(ex.datagrams, ex.finished) {
                    Outcome::NoMatch => plain,
                    other => other,
                },
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
            Transport::Icmp | Transport::Esp | Transport::Ah | Transport::Gre => true,
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
    use crate::testutil::openvpn::{
        TCP_PLAIN_CLIENT, UDP_PLAIN_CLIENT, UDP_PLAIN_SERVER, UDP_TLSAUTH1_CLIENT, UDP_TLSCRYPT_CLIENT,
    };
    use crate::testutil::unhex;
    use farhand_proto::openvpn::{OP_HARD_RESET_CLIENT_V1, OP_HARD_RESET_CLIENT_V3};
    use farhand_proto::step::{Layer, Reason};

    // Recorded on loopback with OpenVPN 2.6.14 (Debian 12 package 2.6.14-0+deb12u2), p2p TLS
    // mode over `--dev null`: server `openvpn --dev null --proto udp|tcp-server --tls-server
    // --ca --cert --key --dh none`, client `--proto udp|tcp-client --remote 127.0.0.1 PORT
    // --tls-client --remote-cert-tls server` (throwaway EC certificates made with openssl),
    // plus `--tls-auth ta.key` (SHA1 default), `--tls-auth ta.key --auth SHA256`, or
    // `--tls-crypt tc.key` (keys from `openvpn --genkey secret`). Captured with
    // `tcpdump -i lo`; payloads from `tshark -T fields -e udp.payload` / `-e tcp.payload`. Each
    // constant is the first datagram (UDP) or first segment (TCP, with its length prefix) of
    // the client and of the server.
    const UDP_TLSAUTH1_SERVER: &str = "40fa637e6d54ce13182e89d78d25498f88b3db6537d975d67abc9557fd000000016b062017010000000072356b19\
        d86b443d00000000";
    const UDP_TLSAUTH256_CLIENT: &str = "38b6fed87784266e800e401ebc66f1a673a0395838f561ca1a199147d9f595d22e6b4952f65eac1011000000016b\
        061ff10000000000";
    const UDP_TLSAUTH256_SERVER: &str = "404d5630116aea55707c4dbe6522dee12cda6f25bf28488d9baa786ec1366a5d5b088119edf352bd73000000016b\
        061ff10100000000b6fed87784266e8000000000";
    const UDP_TLSCRYPT_SERVER: &str = "40502f06a5237ef738000000016b061ff9cd75905dbd48290e54f45994323c6105f47a6faf7e7df4a7fe0cd5e4ef\
        55e9babd382f46566078743940b2843014d3768a";
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
        // A non-OpenVPN reply contradicts: the responder's opcode byte.
        let bad_type = Outcome::Anomaly(Anomaly::new(Layer::OpenVpn, 0, Reason::BadType));
        assert_eq!(inspect(Transport::Udp, &c, b"\x16\xfe\xfd\x00\x00", false), bad_type);
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
        let at = |offset, reason| Outcome::Anomaly(Anomaly::new(Layer::OpenVpn, offset, reason));
        assert_eq!(inspect(Transport::Tcp, &huge, b"", false), Outcome::NoMatch);
        let mut zero = c.clone();
        zero[..2].copy_from_slice(&0u16.to_be_bytes());
        assert_eq!(inspect(Transport::Tcp, &zero, b"", false), Outcome::NoMatch);
        // A client that answers a server's banner with a line: its first bytes never began as
        // OpenVPN (the length prefix 0x0d0a is over the limit), so no anomaly.
        assert_eq!(inspect(Transport::Tcp, b"\r\n", b"SSH-2.0-x\r\n", false), Outcome::NoMatch);
        // A length that covers more than the packet: the next bytes are not a TLV list.
        let mut longer = c.clone();
        longer[1] += 4;
        longer.extend_from_slice(&[0xFF, 0xFF, 0xFF, 0xFF]);
        assert_eq!(inspect(Transport::Tcp, &longer, b"", true), at(20, Reason::Truncated));
        // A UDP client reset answered by a cut server reset: the responder's packet broke it.
        let (c, s) = (unhex(UDP_PLAIN_CLIENT), unhex(UDP_PLAIN_SERVER));
        assert_eq!(inspect(Transport::Udp, &c, &s[..20], false), at(14, Reason::Truncated));
        // A UDP initiator that never was a reset is plain NoMatch (nothing had begun).
        assert_eq!(inspect(Transport::Udp, &c[..5], b"", false), Outcome::NoMatch);
    }

    #[test]
    fn layouts_and_opcodes() {
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
        // Data packets are never a first packet we recognise.
        let mut data = vec![OP_DATA_V2 << 3, 0, 0, 1];
        data.extend_from_slice(&[0x77; 60]);
        assert_eq!(inspect(Transport::Udp, &data, &data, true), Outcome::NoMatch);
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
                assert!(matches!(inspect(Transport::Tcp, &t, &b, true), Outcome::NoMatch | Outcome::Anomaly(_)));
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
