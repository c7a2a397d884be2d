//! WireGuard fingerprint (and Cloudflare WARP's WireGuard variant) on the first UDP datagram of
//! each direction.
//!
//! # Contract
//! Works on any port. Answers `Match` on a handshake initiation answered by a response (or
//! cookie reply) that names the initiation's sender index, on an initiation alone once the
//! exchange is finished, and, at lower confidence, on transport-data messages in both
//! directions (a session picked up mid-way). `NoMatch` as soon as a datagram is not a WireGuard
//! message (`Anomaly`, with the parser's offset and reason, when a standard initiation is
//! answered by a datagram that is not); `NeedMore` while only the responder's datagram is
//! missing. The message format, its sizes and the vendor variants' shapes are
//! `farhand_proto::wireguard`'s; the decisions below are this file's.
//!
//! # Facts used
//! - WireGuard paper §5.4: a response (or cookie reply) names the initiation's sender index as
//!   its receiver index; in transport data each side names the other's index.
//! - Counters restart at 0 with every handshake, and a session is rekeyed after
//!   `REKEY_AFTER_TIME` (120 s), so a counter is far below 2^32 in practice.
//! - Cloudflare WARP (observed in the nDPI capture `cloudflare-warp.pcap`, UDP 2408; nDPI's
//!   `cloudflare_warp.c` notes the same): the type byte is `0xC1`–`0xC4` instead of 1–4; the
//!   three reserved bytes are zero in the client's first message (`0xC1`, 194 bytes there,
//!   not 148) and carry a 3-byte client id in every later message of both directions; the
//!   handshake reply (`0xC2`) was 786 bytes; data (`0xC4`) keeps WireGuard's receiver index
//!   and little-endian counter but not the 16-byte padding rule.
//! - TunnelBear (nDPI capture `tunnelbear.pcap`, UDP 51820): a WireGuard handshake whose
//!   initiation is 204 bytes and response 100 (56 and 8 bytes beyond the standard sizes), with
//!   standard type bytes, zero reserved bytes, the response naming the initiation's sender
//!   index and data naming the response's. Longer-than-standard handshake messages (up to
//!   `farhand_proto::wireguard::MAX_EXTENDED_LEN`) are therefore accepted, but only when that index cross-check holds.

use super::{Exchange, Fingerprint, Interest, Outcome};
use farhand_model::evidence::Evidence;
use farhand_model::evidence::WireGuardEvidence;
use farhand_model::tool::{Match, Method, Tool, Transport};
use farhand_proto::Step;
use farhand_proto::wireguard::{Kind, Message, parse_datagram, probe};

/// Largest counter accepted for mid-session data (see the module doc on rekeying).
pub const MAX_PLAUSIBLE_COUNTER: u64 = u32::MAX as u64;
/// Bytes per direction this fingerprint reads: a whole datagram at a 1500-byte MTU (lengths
/// are checked exactly, so a datagram must not be cut short).
pub const BYTES_WANTED: usize = 2048;

/// Confidence: initiation and a response or cookie reply naming its sender index.
pub const CONFIDENCE_HANDSHAKE: u8 = 95;
/// Confidence: an initiation, nothing contradicting it, exchange finished.
pub const CONFIDENCE_INITIATION: u8 = 60;
/// Confidence: transport data in both directions with distinct, non-zero receiver indices and
/// plausible counters and sizes (mid-session pickup). Kept low: a little-endian type-4 header
/// is not rare in other UDP protocols.
pub const CONFIDENCE_DATA: u8 = 50;
/// Confidence: WARP initiation answered by a WARP handshake reply carrying a client id.
pub const CONFIDENCE_WARP_HANDSHAKE: u8 = 80;
/// Confidence: WARP data in both directions carrying the same non-zero client id and distinct
/// receiver indices.
pub const CONFIDENCE_WARP_DATA: u8 = 70;

fn idx(v: Option<u32>) -> Option<String> {
    v.map(|i| format!("{i:08x}"))
}

fn hex3(b: [u8; 3]) -> String {
    format!("{:02x}{:02x}{:02x}", b[0], b[1], b[2])
}

/// Decide on the two parsed directions.
pub fn fingerprint(orig: Step<Message>, resp: Step<Message>, finished: bool) -> Outcome {
    let o = match orig {
        Step::Done(o) => o,
        Step::Incomplete if !finished => return Outcome::NeedMore,
        _ => return Outcome::NoMatch,
    };
    let r = match resp {
        Step::Done(r) => Some(r),
        Step::Incomplete if !finished => return Outcome::NeedMore,
        Step::Incomplete => None,
        // Only a standard initiation begins a session; data, and WARP's flagged type byte
        // (QUIC long headers look alike), do not make a broken answer an anomaly.
        Step::Invalid(a) if o.kind == Kind::Initiation && o.warp_client_id.is_none() => return Outcome::Anomaly(a),
        Step::Invalid(_) => return Outcome::NoMatch,
    };
    if o.warp_client_id.is_some() || r.is_some_and(|r| r.warp_client_id.is_some()) {
        return warp(o, r);
    }
    let mut ev = WireGuardEvidence {
        messages: std::iter::once(o.kind.name()).chain(r.map(|r| r.kind.name())).collect(),
        sender_index: idx(o.sender),
        responder_index: idx(r.and_then(|r| r.sender)),
        ..WireGuardEvidence::default()
    };
    let confidence = match (o.kind, r.map(|r| r.kind)) {
        (Kind::Initiation, Some(Kind::Response | Kind::CookieReply)) if r.and_then(|r| r.receiver) == o.sender => {
            ev.response_index_matched = true;
            ev.note = if o.extended || r.is_some_and(|r| r.extended) {
                "initiation answered with its sender index (longer-than-standard handshake: a vendor variant)"
            } else {
                "initiation answered with its sender index"
            };
            CONFIDENCE_HANDSHAKE
        }
        // A WireGuard-shaped answer that does not name the index (e.g. data of the previous
        // session crossing a rekey) neither confirms nor contradicts the initiation.
        // A non-standard length is only accepted with the index cross-check.
        (Kind::Initiation, _) if o.extended => return Outcome::NoMatch,
        (Kind::Initiation, _) => {
            ev.note = "initiation without a matching reply";
            CONFIDENCE_INITIATION
        }
        (Kind::Data, Some(Kind::Data)) => {
            let (ro, rr) = (o.receiver.unwrap_or(0), r.and_then(|r| r.receiver).unwrap_or(0));
            let plausible = |m: &Message| m.counter.is_some_and(|c| c <= MAX_PLAUSIBLE_COUNTER);
            if ro == 0 || rr == 0 || ro == rr || !plausible(&o) || !r.is_some_and(|r| plausible(&r)) {
                return Outcome::NoMatch;
            }
            ev.receiver_indices = vec![format!("{ro:08x}"), format!("{rr:08x}")];
            ev.note = "transport data both ways (mid-session)";
            CONFIDENCE_DATA
        }
        _ => return Outcome::NoMatch,
    };
    Outcome::Match(Match {
        tool: Tool::WireGuard,
        confidence,
        method: Method::PayloadStructure,
        evidence: Evidence::Wireguard(ev),
    })
}

/// Decide on a WARP-flavoured exchange: both directions must be WARP-shaped.
fn warp(o: Message, r: Option<Message>) -> Outcome {
    let Some(r) = r else {
        return Outcome::NoMatch;
    };
    let (Some(oid), Some(rid)) = (o.warp_client_id, r.warp_client_id) else {
        return Outcome::NoMatch;
    };
    let plausible = |m: &Message| m.counter.is_some_and(|c| c <= MAX_PLAUSIBLE_COUNTER);
    let (confidence, client_id, note) = match (o.kind, r.kind) {
        // The client's first message has zero reserved bytes; the reply carries the client id.
        (Kind::Initiation, Kind::Response) if oid == [0; 3] && rid != [0; 3] => {
            (CONFIDENCE_WARP_HANDSHAKE, rid, "WARP handshake: type 0xC1/0xC2, client id in reserved bytes")
        }
        // Each side names the other's index, so the two receiver indices differ (IKE, whose
        // 8-byte initiator SPI opens both directions, would otherwise look alike).
        (Kind::Data, Kind::Data)
            if oid == rid && oid != [0; 3] && o.receiver != r.receiver && plausible(&o) && plausible(&r) =>
        {
            (CONFIDENCE_WARP_DATA, oid, "WARP data both ways with the same client id")
        }
        _ => return Outcome::NoMatch,
    };
    Outcome::Match(Match {
        tool: Tool::CloudflareWarp,
        confidence,
        method: Method::PayloadStructure,
        evidence: Evidence::Wireguard(WireGuardEvidence {
            messages: vec![o.kind.name(), r.kind.name()],
            sender_index: idx(o.sender),
            responder_index: idx(r.sender),
            receiver_indices: [o.receiver, r.receiver].into_iter().flatten().map(|i| format!("{i:08x}")).collect(),
            response_index_matched: false,
            warp_client_id: Some(hex3(client_id)),
            note,
        }),
    })
}

/// The WireGuard fingerprint (also reports Cloudflare WARP).
#[derive(Debug, Clone, Copy, Default)]
pub struct WireGuardFingerprint;

impl Fingerprint for WireGuardFingerprint {
    fn tool(&self) -> Tool {
        Tool::WireGuard
    }
    fn version(&self) -> &'static str {
        "1"
    }
    fn interest(&self) -> Interest {
        Interest::udp(BYTES_WANTED)
    }
    fn inspect(&self, ex: &Exchange<'_>) -> Outcome {
        if ex.transport != Transport::Udp || !ex.orig.is_empty() && !probe(ex.orig) {
            return Outcome::NoMatch;
        }
        fingerprint(parse_datagram(ex.orig), parse_datagram(ex.resp), ex.finished)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::unhex;
    use farhand_proto::step::{Anomaly, Layer, Reason};
    use farhand_proto::wireguard::{
        COOKIE_REPLY_LEN, INITIATION_LEN, MAX_EXTENDED_LEN, MIN_DATA_LEN, RESPONSE_LEN, TYPE_COOKIE_REPLY, TYPE_DATA,
        TYPE_INITIATION, TYPE_RESPONSE, WARP_TYPE_FLAGS,
    };

    // Recorded in two network namespaces joined by a veth pair: wireguard-go 0.0.20220316
    // (Debian 12, `WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1 wireguard-go -f`), configured
    // with `wg set` (wireguard-tools 1.0.20210914, fresh `wg genkey` keys), then
    // `ping 10.88.0.2` through the tunnel; captured with tcpdump on the veth, payloads
    // extracted with `tshark -T fields -e udp.payload`. Initiation (sender 0x47b4feef), response
    // (sender 0x418f6661, receiver 0x47b4feef), then the first data message each way
    // (an ICMP echo request and reply, 128 bytes).
    const WG_INITIATION: &str = "01000000effeb4470b38a9bda3e4bdae20bdc1102c70bdbff4d68a7c4a1331b63097e03d72c923259289d1323bb1\
        bbcee970661cb57237a7ea6bcf8afeb78e887bd18866c272e785e594a526ca510e28e7ffe4f668720595969ca95c\
        2ae26df5e2b834cd1ae3c3f29ac38c3b5eab185374e28d181076a0ca922a999731d8af3d39898771000000000000\
        00000000000000000000";
    const WG_RESPONSE: &str = "0200000061668f41effeb447e4a9ca32a2919a6b7b91c825b735d76bae09d900f155c9452d5c61bf61380b12d82f\
        ea7fb202880f154ee1372105bf3c7ff1251700ae321aa5af28395be445cd00000000000000000000000000000000";
    const WG_DATA_ORIG: &str = "0400000061668f410000000000000000459d86253b70f41f11f1b059385d4f5796a9ae251633278b63e71d613258\
        289f66e3e5fef420e84c03581a08c7a0354b2433b83d6e776a2b7fb8ef6ef32d3b0cc826feb4846bebd6806c1cf6\
        9c40653688be318f7513df196080d24bf1645129823336f42872a3b0118339389d739a72";
    const WG_DATA_RESP: &str = "04000000effeb447000000000000000074417e099359e019b2c64ddcf93343ea143fa78c4706e001a3aba878f6cf\
        02f11dcf092050ec7028d3e419bbd3a56a84cb528d9060a7041d67054779db8a1567e33004d7c68beb8266f206a0\
        d5b01e4cb9f0e1d60a2fc7b000ba3ecc510be90da60132ca95cee576e41e893e9343e4db";

    fn inspect(orig: &[u8], resp: &[u8], finished: bool) -> Outcome {
        WireGuardFingerprint.inspect(&Exchange {
            transport: Transport::Udp,
            orig,
            resp,
            orig_port: 51820,
            resp_port: 51821,
            finished,
            datagrams: &[],
        })
    }

    fn evidence(out: &Outcome, tool: Tool) -> (u8, &WireGuardEvidence) {
        match out {
            Outcome::Match(Match {
                confidence,
                tool: t,
                method: Method::PayloadStructure,
                evidence: Evidence::Wireguard(e),
            }) if *t == tool => (*confidence, e),
            other => panic!("expected a {tool:?} match, got {other:?}"),
        }
    }

    /// A WARP-shaped message: type `0xC0 | kind`, client id, index, counter, filler. Built
    /// from the layout seen in the nDPI capture (no WARP client in the lab); the capture's
    /// own bytes are not copied.
    fn warp_msg(kind: u8, client_id: [u8; 3], index: u32, counter: u64, len: usize) -> Vec<u8> {
        let mut m = vec![WARP_TYPE_FLAGS | kind];
        m.extend_from_slice(&client_id);
        m.extend_from_slice(&index.to_le_bytes());
        m.extend_from_slice(&counter.to_le_bytes());
        m.resize(len, 0x5A);
        m
    }

    #[test]
    fn recorded_handshake_matches_high() {
        let (i, r) = (unhex(WG_INITIATION), unhex(WG_RESPONSE));
        assert_eq!((i.len(), r.len()), (INITIATION_LEN, RESPONSE_LEN));
        let out = inspect(&i, &r, false);
        let (conf, e) = evidence(&out, Tool::WireGuard);
        assert_eq!(conf, CONFIDENCE_HANDSHAKE);
        assert!(e.response_index_matched);
        assert_eq!(e.messages, ["handshake_initiation", "handshake_response"]);
        assert_eq!(e.sender_index.as_deref(), Some("47b4feef"));
        assert_eq!(e.responder_index.as_deref(), Some("418f6661"));
        assert!(e.warp_client_id.is_none());
        // Ports play no part.
        let swapped = WireGuardFingerprint.inspect(&Exchange {
            transport: Transport::Udp,
            orig: &i,
            resp: &r,
            orig_port: 443,
            resp_port: 53,
            finished: false,
            datagrams: &[],
        });
        assert_eq!(swapped, out);
    }

    #[test]
    fn initiation_alone_waits_then_matches_medium() {
        let i = unhex(WG_INITIATION);
        assert_eq!(inspect(&i, b"", false), Outcome::NeedMore);
        let out = inspect(&i, b"", true);
        let (conf, e) = evidence(&out, Tool::WireGuard);
        assert_eq!(conf, CONFIDENCE_INITIATION);
        assert!(!e.response_index_matched);
    }

    #[test]
    fn response_with_another_index_is_not_a_confirmation() {
        let (i, mut r) = (unhex(WG_INITIATION), unhex(WG_RESPONSE));
        r[8] ^= 1;
        assert_eq!(evidence(&inspect(&i, &r, false), Tool::WireGuard).0, CONFIDENCE_INITIATION);
        // A non-WireGuard reply contradicts: its type byte.
        let bad_type = Outcome::Anomaly(Anomaly::new(Layer::WireGuard, 0, Reason::BadType));
        assert_eq!(inspect(&i, b"\x17\x03\x03\x00\x10hello", false), bad_type);
    }

    #[test]
    fn cookie_reply_confirms() {
        let i = unhex(WG_INITIATION);
        let mut c = vec![TYPE_COOKIE_REPLY, 0, 0, 0];
        c.extend_from_slice(&i[4..8]);
        c.resize(COOKIE_REPLY_LEN, 0x33);
        let out = inspect(&i, &c, false);
        let (conf, e) = evidence(&out, Tool::WireGuard);
        assert_eq!(conf, CONFIDENCE_HANDSHAKE);
        assert_eq!(e.messages, ["handshake_initiation", "cookie_reply"]);
    }

    #[test]
    fn recorded_data_both_ways_is_low_confidence() {
        let (a, b) = (unhex(WG_DATA_ORIG), unhex(WG_DATA_RESP));
        let out = inspect(&a, &b, false);
        let (conf, e) = evidence(&out, Tool::WireGuard);
        assert_eq!(conf, CONFIDENCE_DATA);
        assert_eq!(e.receiver_indices, ["418f6661", "47b4feef"]);
        // One direction of data is never enough.
        assert_eq!(inspect(&a, b"", true), Outcome::NoMatch);
        // Same receiver index both ways, zero index, or an implausible counter: no.
        assert_eq!(inspect(&a, &a, false), Outcome::NoMatch);
        let mut z = b.clone();
        z[4..8].fill(0);
        assert_eq!(inspect(&a, &z, false), Outcome::NoMatch);
        let mut big = b.clone();
        big[15] = 1;
        assert_eq!(inspect(&a, &big, false), Outcome::NoMatch);
        // Keepalives (32 bytes) are data.
        let mut k = a[..MIN_DATA_LEN].to_vec();
        k[8..16].copy_from_slice(&7u64.to_le_bytes());
        assert_eq!(evidence(&inspect(&k, &b, false), Tool::WireGuard).0, CONFIDENCE_DATA);
    }

    #[test]
    fn exact_lengths_and_reserved_bytes_are_enforced() {
        let (i, r) = (unhex(WG_INITIATION), unhex(WG_RESPONSE));
        for len in 0..i.len() {
            // Truncated datagrams are not WireGuard (a datagram is whole).
            assert_ne!(inspect(&i[..len], b"", true), Outcome::NeedMore);
        }
        // A cut response to a standard initiation broke the handshake: the parser says where.
        for len in 1..r.len() {
            let at = Outcome::Anomaly(Anomaly::new(Layer::WireGuard, len, Reason::Truncated));
            assert_eq!(inspect(&i, &r[..len], false), at, "{len}");
        }
        // Longer than standard: accepted only with the index cross-check, never on its own.
        let mut long = i.clone();
        long.push(0);
        assert_eq!(inspect(&long, b"", true), Outcome::NoMatch);
        long.resize(MAX_EXTENDED_LEN + 1, 0);
        assert_eq!(inspect(&long, &r, false), Outcome::NoMatch);
        for pos in 1..4 {
            let mut bad = i.clone();
            bad[pos] = 1;
            assert_eq!(inspect(&bad, &r, false), Outcome::NoMatch, "{pos}");
            let mut bad = r.clone();
            bad[pos] = 1;
            assert_eq!(
                inspect(&i, &bad, false),
                Outcome::Anomaly(Anomaly::new(Layer::WireGuard, 1, Reason::BadMagic)),
                "{pos}"
            );
        }
        // A broken answer to data or to a WARP-typed first message is no anomaly.
        let d = unhex(WG_DATA_ORIG);
        assert_eq!(inspect(&d, &r[..20], false), Outcome::NoMatch);
        let mut warp = i.clone();
        warp[0] |= WARP_TYPE_FLAGS;
        assert_eq!(inspect(&warp, &r[..20], false), Outcome::NoMatch);
    }

    #[test]
    fn longer_handshake_with_index_cross_check_matches() {
        // TunnelBear's shape (nDPI capture tunnelbear.pcap): a 204-byte initiation with sender
        // 0xac186631, answered by a 100-byte response naming it (first 16 bytes as captured,
        // the sealed rest zero-filled here).
        let mut init = unhex("01000000316618ac09ad0e1ccda196d9");
        init.resize(204, 0);
        let mut resp = unhex("0200000002ca1a00316618ac0a000533");
        resp.resize(100, 0);
        let out = inspect(&init, &resp, false);
        let (conf, ev) = evidence(&out, Tool::WireGuard);
        assert_eq!(conf, CONFIDENCE_HANDSHAKE);
        assert!(ev.response_index_matched && ev.note.contains("vendor variant"), "{ev:?}");
        // The same lengths without the cross-check are not WireGuard.
        resp[8] ^= 1;
        assert_eq!(inspect(&init, &resp, false), Outcome::NoMatch);
        assert_eq!(inspect(&init, b"", true), Outcome::NoMatch);
    }

    #[test]
    fn warp_handshake_and_data() {
        let id = [0x02, 0x78, 0x00];
        let init = warp_msg(TYPE_INITIATION, [0; 3], 0x0183_9000, 0, 194);
        let reply = warp_msg(TYPE_RESPONSE, id, 0x00ee_8468, 0, 786);
        let out = inspect(&init, &reply, false);
        let (conf, e) = evidence(&out, Tool::CloudflareWarp);
        assert_eq!(conf, CONFIDENCE_WARP_HANDSHAKE);
        assert_eq!(e.warp_client_id.as_deref(), Some("027800"));
        let (a, b) = (warp_msg(TYPE_DATA, id, 0x00ee_8468, 1, 92), warp_msg(TYPE_DATA, id, 0x0183_9068, 0, 92));
        assert_eq!(evidence(&inspect(&a, &b, false), Tool::CloudflareWarp).0, CONFIDENCE_WARP_DATA);
        // Client ids must agree, be non-zero, and counters must be plausible.
        let other = warp_msg(TYPE_DATA, [9, 9, 9], 0x0183_9068, 0, 92);
        assert_eq!(inspect(&a, &other, false), Outcome::NoMatch);
        let zero = (warp_msg(TYPE_DATA, [0; 3], 1, 1, 92), warp_msg(TYPE_DATA, [0; 3], 2, 1, 92));
        assert_eq!(inspect(&zero.0, &zero.1, false), Outcome::NoMatch);
        let wild = warp_msg(TYPE_DATA, id, 0x0183_9068, u64::MAX, 92);
        assert_eq!(inspect(&a, &wild, false), Outcome::NoMatch);
        // The same receiver index both ways is not WARP (found in an IKE capture: the
        // initiator SPI opens both directions and began with 0xC4).
        let same = warp_msg(TYPE_DATA, id, 0x00ee_8468, 0, 200);
        assert_eq!(inspect(&a, &same, false), Outcome::NoMatch);
        // A lone WARP message is not enough; nor is a reply without a client id (QUIC v1
        // long headers look like `0xC? 00 00 00 01` in both directions).
        assert_eq!(inspect(&init, b"", true), Outcome::NoMatch);
        let quicish = warp_msg(TYPE_RESPONSE, [0; 3], 1, 0, 1200);
        assert_eq!(inspect(&init, &quicish, false), Outcome::NoMatch);
        // Mixing a standard initiation with a WARP reply is not WARP either.
        assert_eq!(inspect(&unhex(WG_INITIATION), &reply, false), Outcome::NoMatch);
    }

    #[test]
    fn random_and_other_protocols_do_not_match() {
        let mut rng = crate::testutil::XorShift64(0x9E37_79B9_7F4A_7C15);
        let mut rnd = |len: usize| rng.bytes(len);
        for len in [1usize, 4, 32, 48, 64, 92, 148, 200, 1200] {
            for _ in 0..50 {
                let (a, b) = (rnd(len), rnd(len));
                assert_eq!(inspect(&a, &b, true), Outcome::NoMatch, "{a:02x?}");
            }
        }
        // DNS query / QUIC v1 Initial first bytes.
        let dns = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x03com\x00\x00\x01\x00\x01";
        assert_eq!(inspect(dns, b"", true), Outcome::NoMatch);
        let mut quic = vec![0xC1, 0, 0, 0, 1, 8];
        quic.resize(1200, 0x42);
        let mut quic_resp = vec![0xC2, 0, 0, 0, 1, 0];
        quic_resp.resize(1200, 0x24);
        assert_eq!(inspect(&quic, &quic_resp, true), Outcome::NoMatch);
        assert!(!WireGuardFingerprint.wants(Transport::Tcp));
        assert_eq!(inspect(b"", b"", false), Outcome::NeedMore);
        assert_eq!(inspect(b"", b"", true), Outcome::NoMatch);
    }
}
