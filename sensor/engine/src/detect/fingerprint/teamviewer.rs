//! TeamViewer fingerprint: TeamViewer's own command framing over TCP and UDP.
//!
//! # Contract
//! Works on any port (TeamViewer's default is 5938, falling back to 443 and 80; ports play no
//! part).
//! - TCP: each direction must be a chain of TeamViewer command frames laid back to back from
//!   the first byte, ending exactly at the end of the bytes seen or in a frame whose header is
//!   consistent so far. Answers `Match` once both directions hold at least one complete frame,
//!   `NoMatch` as soon as either direction contradicts the framing, and `NeedMore` otherwise.
//!   At `finished` (or once [`BYTES_WANTED`] bytes are buffered) one direction alone matches
//!   with lower confidence if it holds a complete frame followed by another valid header, or
//!   exactly one complete frame of a known command that ends exactly at the end of the stream.
//! - UDP: the first datagram of each direction must hold one TeamViewer frame after an
//!   11-byte datagram header, whose length field ends exactly at the end of the datagram.
//!   Both directions give a match; one alone only at `finished`, with lower confidence.
//! - The framing (magics, header fields, the walk of a direction, the datagram form, the
//!   command names) is read by [`farhand_proto::teamviewer`]; this file decides. A
//!   contradiction in a direction that began with a magic (TCP), or in one datagram while the
//!   other is framed (UDP), is answered with [`Outcome::Anomaly`] carrying the parser's
//!   offset and reason.
//!
//! # Why a 2-byte magic is not enough, and what is required instead
//! `17 24` at offset 0 is one chance in 65,536 on random data and is not excluded by anything
//! in ordinary traffic (a TLS record starting `17` has `03` next, never `24`). So the magic only
//! admits bytes to parsing; a match additionally needs a command byte in TeamViewer's range
//! (`MIN_COMMAND..=MAX_COMMAND`), a length no larger than `MAX_FRAME_LEN`, for the
//! 24-byte frame form the fixed header-size field, and — the part that random data cannot
//! satisfy — a length field that lands exactly on the next frame's magic or on the end of the
//! bytes. One direction alone needs one complete frame followed by the next frame's valid
//! header (or, at the end of a flow, one complete frame with a named command that ends exactly
//! where the stream ends): together about 2⁻⁴⁰ on random data, but one side's word only, so
//! below "high". Both directions framed correctly is the strongest case.
//!
//! # Facts used
//! - Optiv, "TeamViewer authentication protocol" (2013): TeamViewer speaks a custom protocol on
//!   TCP 5938 whose packets begin `0x1724`.
//! - nDPI (`protocols/teamviewer.c`): TCP payloads start `17 24`, or `11 30` on later packets;
//!   UDP: byte 0 is a counter (0 at the start), bytes 11–12 are `17 24`.
//! - A public Wireshark Lua dissector for TeamViewer (D. Pearson, "Analyzing TeamViewer", Awake
//!   Security, DEF CON 2018) and the bettercap TeamViewer parser describe the two frame forms:
//!   `17 24` ("v1"): magic, `u8` command, `u16` little-endian data length, data; `11 30` ("v2"):
//!   magic, `u8` command, one byte, `u32` little-endian data length, `u32` packet id, `u32`
//!   request id, `u32` command class, `u32` header offset (the header size, 24), data. Both
//!   list the command names (10 `CMD_IDENTIFY`, 11 `CMD_REQUESTCONNECT`, … 113), reported here.
//! - nDPI's `teamviewer.pcap` confirms this framing on every payload of its TCP flow: the client
//!   opens with `CMD_IDENTIFY` (10) in a `17 24` frame, frames sit back to back and span TCP
//!   segments, the server answers with `11 30` frames whose header-offset field is 24. Its UDP
//!   flow confirms the datagram form: an 11-byte header (counters), then a `17 24` frame whose
//!   length ends exactly at the end of the datagram. It also shows command codes missing from
//!   the published name list (64, 115), so unnamed codes in range are accepted.

use super::{Exchange, Fingerprint, Interest, Outcome};
use farhand_model::evidence::Evidence;
use farhand_model::evidence::{TeamViewerEvidence, TvCommand};
use farhand_model::tool::{Match, Method, Tool, Transport};
use farhand_proto::Step;
use farhand_proto::teamviewer::{Header, Side, command_name, headers, parse_side, parse_udp, probe};

/// Bytes per direction this fingerprint reads.
pub const BYTES_WANTED: usize = 4096;
/// Most distinct command codes reported per direction.
pub const MAX_EVIDENCE_COMMANDS: usize = 16;

/// Confidence: both TCP directions framed, or both UDP datagrams.
pub const CONFIDENCE_BOTH: u8 = 95;
/// Confidence: one TCP direction with a complete frame followed by another valid header (one
/// side only).
pub const CONFIDENCE_CHAIN: u8 = 75;
/// Confidence: one TCP direction with exactly one complete, named frame ending the stream.
pub const CONFIDENCE_SINGLE: u8 = 70;
/// Confidence: one UDP datagram.
pub const CONFIDENCE_UDP_ONE: u8 = 70;

/// One direction on its own is TeamViewer: a complete frame followed by another valid
/// header, or (at the end of the stream) one complete named frame that is all it holds.
pub fn strength(side: &Side<'_>) -> Option<u8> {
    if side.frames >= 1 && side.headers >= 2 {
        Some(CONFIDENCE_CHAIN)
    } else if side.frames == 1 && side.ends_on_boundary && command_name(side.first.command).is_some() {
        Some(CONFIDENCE_SINGLE)
    } else {
        None
    }
}

/// Both TCP directions, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parsed<'a> {
    /// The client's frames.
    pub client: Step<Side<'a>>,
    /// The server's frames.
    pub server: Step<Side<'a>>,
}

/// Parse a TCP exchange. Pure and zero-copy.
pub fn parse<'a>(orig: &'a [u8], resp: &'a [u8]) -> Parsed<'a> {
    Parsed { client: parse_side(orig), server: parse_side(resp) }
}

/// Decide on a parsed TCP exchange.
pub fn fingerprint(parsed: &Parsed<'_>, finished: bool) -> Outcome {
    for side in [parsed.client, parsed.server] {
        if let Step::Invalid(a) = side {
            return Outcome::Anomaly(a);
        }
    }
    let (c, s) = (parsed.client.done(), parsed.server.done());
    let framed = |side: Option<Side<'_>>| side.is_some_and(|s| s.frames >= 1);
    let confidence = if framed(c) && framed(s) {
        CONFIDENCE_BOTH
    } else if !finished {
        return Outcome::NeedMore;
    } else {
        match c.as_ref().and_then(strength).max(s.as_ref().and_then(strength)) {
            Some(conf) => conf,
            None => return Outcome::NoMatch,
        }
    };
    let side_headers = |side: Option<Side<'_>>| side.map(|s| headers(s.bytes).collect::<Vec<_>>()).unwrap_or_default();
    let (ch, sh) = (side_headers(c), side_headers(s));
    tv_match(Transport::Tcp, confidence, &ch, &sh)
}

/// Decide on a UDP exchange (first datagram of each direction).
pub fn fingerprint_udp(orig: &[u8], resp: &[u8], finished: bool) -> Outcome {
    let (o, r) = (parse_udp(orig).done(), parse_udp(resp).done());
    let confidence = match (o, r) {
        (Some(_), Some(_)) => CONFIDENCE_BOTH,
        // One datagram framed, the other broken: the match had begun.
        (Some(_), None) if !resp.is_empty() => return udp_anomaly(resp),
        (None, Some(_)) if !orig.is_empty() => return udp_anomaly(orig),
        _ if !orig.is_empty() && o.is_none() || !resp.is_empty() && r.is_none() => return Outcome::NoMatch,
        _ if !finished => return Outcome::NeedMore,
        (Some(_), None) | (None, Some(_)) => CONFIDENCE_UDP_ONE,
        (None, None) => return Outcome::NoMatch,
    };
    tv_match(Transport::Udp, confidence, &Vec::from_iter(o), &Vec::from_iter(r))
}

/// The anomaly of a datagram that is not one TeamViewer frame.
fn udp_anomaly(datagram: &[u8]) -> Outcome {
    match parse_udp(datagram) {
        Step::Invalid(a) => Outcome::Anomaly(a),
        Step::Done(_) | Step::Incomplete => Outcome::NoMatch,
    }
}

fn tv_match(transport: Transport, confidence: u8, client: &[Header], server: &[Header]) -> Outcome {
    let mut magics = Vec::new();
    for h in client.iter().chain(server) {
        if !magics.contains(&h.magic) {
            magics.push(h.magic);
        }
    }
    let commands = |hs: &[Header]| {
        let mut out: Vec<TvCommand> = Vec::new();
        for h in hs {
            if out.len() < MAX_EVIDENCE_COMMANDS && !out.iter().any(|c| c.code == h.command) {
                out.push(TvCommand { code: h.command, name: command_name(h.command) });
            }
        }
        out
    };
    Outcome::Match(Match {
        tool: Tool::TeamViewer,
        confidence,
        method: Method::PayloadStructure,
        evidence: Evidence::Teamviewer(TeamViewerEvidence {
            transport,
            magics,
            client_commands: commands(client),
            server_commands: commands(server),
            client_frames: client.len(),
            server_frames: server.len(),
        }),
    })
}

/// The TeamViewer fingerprint.
#[derive(Debug, Clone, Copy, Default)]
pub struct TeamViewerFingerprint;

impl Fingerprint for TeamViewerFingerprint {
    fn tool(&self) -> Tool {
        Tool::TeamViewer
    }
    fn version(&self) -> &'static str {
        "1"
    }
    fn interest(&self) -> Interest {
        Interest::tcp_udp(BYTES_WANTED)
    }
    fn inspect(&self, ex: &Exchange<'_>) -> Outcome {
        match ex.transport {
            Transport::Icmp | Transport::Esp | Transport::Ah | Transport::Gre => Outcome::NoMatch,
            Transport::Udp => fingerprint_udp(ex.orig, ex.resp, ex.finished),
            Transport::Tcp => {
                if !probe(ex.orig) || !probe(ex.resp) {
                    return Outcome::NoMatch;
                }
                let orig = ex.orig.get(..BYTES_WANTED).unwrap_or(ex.orig);
                let resp = ex.resp.get(..BYTES_WANTED).unwrap_or(ex.resp);
                // Past BYTES_WANTED nothing more is read: decide as if finished.
                let full = ex.orig.len() >= BYTES_WANTED || ex.resp.len() >= BYTES_WANTED;
                fingerprint(&parse(orig, resp), ex.finished || full)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::teamviewer::{udp, v1, v2};
    use farhand_model::anomaly::{Anomaly, Layer, Reason};
    use farhand_model::evidence::Magic;
    use farhand_proto::teamviewer::{MAGIC_V1, MAX_FRAMES};

    // No TeamViewer build is installable here (not packaged for Debian), so test frames are
    // built from the published framing with `v1`/`v2`/`udp` (`crate::testutil::teamviewer`); the data is arbitrary
    // filler of the sizes a real session uses. The TCP session mirrors the opening of a client
    // connecting to a TeamViewer router: client CMD_IDENTIFY (10, 32 data bytes), then
    // CMD_REQUESTKEEPALIVE2 (40, 24 bytes) and CMD_ROUTERCMD (60) frames in the `17 24` form;
    // server CMD_SESSIONID (54) and CMD_ROUTERCMD frames in the `11 30` form.

    fn client() -> Vec<u8> {
        [v1(10, 32), v1(40, 24), v1(60, 32), v1(60, 900)].concat()
    }

    fn server() -> Vec<u8> {
        [v2(54, 1, 24), v2(60, 2, 123), v2(60, 3, 700)].concat()
    }

    fn inspect(transport: Transport, orig: &[u8], resp: &[u8], finished: bool) -> Outcome {
        TeamViewerFingerprint.inspect(&Exchange {
            transport,
            orig,
            resp,
            orig_port: 35732,
            resp_port: 443,
            finished,
            datagrams: &[],
        })
    }

    fn tcp(orig: &[u8], resp: &[u8], finished: bool) -> Outcome {
        inspect(Transport::Tcp, orig, resp, finished)
    }

    fn evidence(out: &Outcome) -> (u8, &TeamViewerEvidence) {
        match out {
            Outcome::Match(Match {
                confidence,
                method: Method::PayloadStructure,
                tool: Tool::TeamViewer,
                evidence: Evidence::Teamviewer(e),
            }) => (*confidence, e),
            other => panic!("expected a TeamViewer match, got {other:?}"),
        }
    }

    #[test]
    fn tcp_session_known_answer() {
        let out = tcp(&client(), &server(), false);
        let (conf, e) = evidence(&out);
        assert_eq!(conf, CONFIDENCE_BOTH);
        assert_eq!(e.transport, Transport::Tcp);
        assert_eq!(e.magics, vec![Magic::V1, Magic::V2]);
        let codes: Vec<u8> = e.client_commands.iter().map(|c| c.code).collect();
        assert_eq!(codes, vec![10, 40, 60]);
        assert_eq!(e.client_commands[0].name, Some("CMD_IDENTIFY"));
        assert_eq!(e.server_commands[0], TvCommand { code: 54, name: Some("CMD_SESSIONID") });
        assert_eq!((e.client_frames, e.server_frames), (4, 3));
        let json = serde_json::to_string(e).unwrap();
        assert!(json.contains(r#""magics":["1724","1130"]"#), "{json}");
        // Ports play no part.
        let other = TeamViewerFingerprint.inspect(&Exchange {
            transport: Transport::Tcp,
            orig: &client(),
            resp: &server(),
            orig_port: 5938,
            resp_port: 22,
            finished: false,
            datagrams: &[],
        });
        assert_eq!(other, out);
    }

    #[test]
    fn one_direction_needs_a_chain_or_a_named_complete_frame() {
        let c = client();
        // One frame only, more may come: wait.
        assert_eq!(tcp(&c[..37], b"", false), Outcome::NeedMore);
        // Finished with exactly one complete named frame.
        assert_eq!(evidence(&tcp(&c[..37], b"", true)).0, CONFIDENCE_SINGLE);
        // A complete frame followed by a valid header.
        assert_eq!(evidence(&tcp(&c[..37 + 5], b"", true)).0, CONFIDENCE_CHAIN);
        assert_eq!(evidence(&tcp(&c, b"", true)).0, CONFIDENCE_CHAIN);
        assert_eq!(evidence(&tcp(b"", &server(), true)).0, CONFIDENCE_CHAIN);
        // A lone frame with an unnamed command, or a frame followed by a partial header: no.
        assert_eq!(tcp(&v1(12, 4), b"", true), Outcome::NoMatch);
        assert_eq!(tcp(&c[..37 + 3], b"", true), Outcome::NoMatch);
        // The magic alone, or a header whose data never arrives: no.
        assert_eq!(tcp(&MAGIC_V1, b"", true), Outcome::NoMatch);
        assert_eq!(tcp(&c[..20], b"", true), Outcome::NoMatch);
        // A full buffer is decided without `finished`.
        let big = [client(), v1(60, 4000)].concat();
        assert_eq!(evidence(&tcp(&big, b"", false)).0, CONFIDENCE_CHAIN);
    }

    #[test]
    fn udp_known_answer() {
        let out = inspect(Transport::Udp, &udp(0, 71, 80), &udp(0, 71, 80), false);
        let (conf, e) = evidence(&out);
        assert_eq!(conf, CONFIDENCE_BOTH);
        assert_eq!(e.transport, Transport::Udp);
        assert_eq!(e.client_commands, vec![TvCommand { code: 71, name: Some("CMD_UDPPING") }]);
        assert_eq!((e.client_frames, e.server_frames), (1, 1));
        // Unnamed codes in range (seen on real UDP flows) and empty frames are accepted.
        assert_eq!(evidence(&inspect(Transport::Udp, &udp(1, 115, 4), &udp(0, 108, 0), false)).0, CONFIDENCE_BOTH);
        // One direction: wait, then match lower.
        assert_eq!(inspect(Transport::Udp, &udp(0, 71, 80), b"", false), Outcome::NeedMore);
        assert_eq!(evidence(&inspect(Transport::Udp, &udp(0, 71, 80), b"", true)).0, CONFIDENCE_UDP_ONE);
        // Length not landing on the end of the datagram (the frame layouts and the datagram
        // parser's anomalies: proto::teamviewer's tests).
        let mut d = udp(0, 71, 80);
        d.push(0);
        assert_eq!(inspect(Transport::Udp, &d, b"", true), Outcome::NoMatch);
        assert_eq!(
            inspect(Transport::Udp, &udp(0, 71, 80), &d, true),
            Outcome::Anomaly(Anomaly::new(Layer::TeamViewer, 14, Reason::BadLength))
        );
        // A valid datagram answered by something else.
        let dns = b"\x12\x34\x81\x80\x00\x01";
        assert_eq!(
            inspect(Transport::Udp, &udp(0, 71, 80), dns, false),
            Outcome::Anomaly(Anomaly::new(Layer::TeamViewer, 0, Reason::Truncated))
        );
    }

    #[test]
    fn truncation_sweep_never_panics_or_contradicts() {
        let (c, s) = (client(), server());
        let mut lens: Vec<usize> = (0..=c.len().max(s.len())).step_by(7).collect();
        lens.extend([0, 1, 2, 3, 4, 5, 36, 37, 38, 41, 42, 47, 48, 49, c.len(), s.len()]);
        for &i in &lens {
            for &j in &lens {
                let (o, r) = (&c[..i.min(c.len())], &s[..j.min(s.len())]);
                assert_ne!(tcp(o, r, false), Outcome::NoMatch, "{i} {j}");
                assert_ne!(tcp(o, r, true), Outcome::NeedMore, "{i} {j}");
            }
        }
        for i in 0..=c.len() {
            assert_ne!(tcp(&c[..i], b"", false), Outcome::NoMatch, "{i}");
            assert_ne!(tcp(&c[..i], &s, true), Outcome::NeedMore, "{i}");
        }
        for j in 0..=s.len() {
            assert_ne!(tcp(b"", &s[..j], false), Outcome::NoMatch, "{j}");
            assert_ne!(tcp(&c, &s[..j], true), Outcome::NeedMore, "{j}");
        }
        let d = udp(0, 71, 80);
        for i in 1..d.len() {
            assert!(matches!(inspect(Transport::Udp, &d, &d[..i], true), Outcome::Anomaly(_)), "{i}");
        }
    }

    #[test]
    fn structure_is_enforced() {
        // Command out of range, v2 header-offset field other than 24 (each header field's
        // anomaly: proto::teamviewer's tests).
        let bad = |at, reason| Outcome::Anomaly(Anomaly::new(Layer::TeamViewer, at, reason));
        assert_eq!(tcp(&[0x17, 0x24, 0x05, 0, 0], b"", false), bad(2, Reason::BadType));
        let mut f = v2(60, 1, 8);
        f[20] = 0x19;
        assert_eq!(tcp(&client(), &f, false), bad(20, Reason::BadLength));
        // A frame whose length does not land on another frame.
        let mut c = v1(10, 32);
        c.extend_from_slice(b"\x00\x00\x00\x00\x00\x00");
        assert_eq!(tcp(&c, b"", true), bad(37, Reason::BadMagic));
        assert_eq!(tcp(&c, &server(), false), bad(37, Reason::BadMagic));
        // The other direction contradicting.
        assert_eq!(tcp(&client(), b"HTTP/1.1 200 OK\r\n", false), Outcome::NoMatch);
    }

    #[test]
    fn hostile_lengths() {
        // A v2 header claiming 1 GB is rejected at once.
        let mut f = v2(60, 1, 0);
        f[4..8].copy_from_slice(&0x4000_0000u32.to_le_bytes());
        assert_eq!(tcp(&f, b"", false), Outcome::Anomaly(Anomaly::new(Layer::TeamViewer, 4, Reason::OverLimit)));
        // A v1 header claiming 65535 bytes: consistent, waits, and is not a match on its own.
        let f = v1(60, 0);
        let mut f = f;
        f[3..5].copy_from_slice(&u16::MAX.to_le_bytes());
        assert_eq!(tcp(&f, b"", false), Outcome::NeedMore);
        assert_eq!(tcp(&f, b"", true), Outcome::NoMatch);
        // 10,000 empty frames: the walk stops at MAX_FRAMES, the evidence stays bounded.
        let many = v1(60, 0).repeat(10_000);
        let out = tcp(&many, &server(), false);
        let (conf, e) = evidence(&out);
        assert_eq!(conf, CONFIDENCE_BOTH);
        assert_eq!(e.client_frames, MAX_FRAMES);
        assert_eq!(e.client_commands.len(), 1);
        // A UDP length field claiming more than the datagram.
        let mut d = udp(0, 71, 4);
        d[14..16].copy_from_slice(&u16::MAX.to_le_bytes());
        assert_eq!(
            inspect(Transport::Udp, &udp(0, 71, 4), &d, true),
            Outcome::Anomaly(Anomaly::new(Layer::TeamViewer, 14, Reason::BadLength))
        );
    }

    #[test]
    fn other_protocols_do_not_match() {
        // ICMP exchanges and other protocols in general: fingerprint::tests (every fingerprint).
        let http_req = b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n";
        let http_resp = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(tcp(http_req, http_resp, false), Outcome::NoMatch);
        // TLS application data starts 17 03, never 17 24.
        let tls = [0x17, 0x03, 0x03, 0x00, 0x20, 0x01, 0x00, 0x00, 0x2a, 0x03, 0x03];
        assert_eq!(tcp(&tls, b"", false), Outcome::NoMatch);
        assert_eq!(tcp(b"", b"SSH-2.0-OpenSSH_9.2p1\r\n", false), Outcome::NoMatch);
        assert_eq!(tcp(b"", b"", true), Outcome::NoMatch);
        assert_eq!(inspect(Transport::Udp, b"", b"", true), Outcome::NoMatch);
        let dns = [0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 3, b'w', b'w', b'w', 0, 0, 1, 0, 1];
        assert_eq!(inspect(Transport::Udp, &dns, b"", true), Outcome::NoMatch);
    }

    #[test]
    fn random_bytes_do_not_match() {
        let mut state = 0xD1B5_4A32_D192_ED03u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        };
        let mut matches = 0;
        for round in 0..4000 {
            let len = round % 600;
            let mut buf: Vec<u8> = (0..len).map(|_| next()).collect();
            // Half get a real magic (and command) so the parser goes deeper.
            if round % 2 == 0 && buf.len() > 3 {
                buf[..3].copy_from_slice(&[0x17, 0x24, 60]);
            }
            if round % 4 == 1 && buf.len() > 14 {
                buf[11..14].copy_from_slice(&[0x17, 0x24, 71]);
            }
            let (a, b) = buf.split_at(buf.len() / 2);
            for out in [
                tcp(&buf, b"", true),
                tcp(a, b, true),
                inspect(Transport::Udp, &buf, b"", true),
                inspect(Transport::Udp, a, b, false),
            ] {
                if matches!(out, Outcome::Match(_)) {
                    matches += 1;
                }
            }
        }
        assert_eq!(matches, 0);
    }

    #[test]
    fn byte_mutation_sweep_never_panics() {
        let (c, s) = (client(), server());
        for pos in (0..c.len().max(s.len())).step_by(3) {
            for v in [0x00, 0xFF, 0x17, 0x24] {
                let (mut c2, mut s2) = (c.clone(), s.clone());
                if let Some(b) = c2.get_mut(pos) {
                    *b = v;
                }
                if let Some(b) = s2.get_mut(pos) {
                    *b ^= v;
                }
                let _ = tcp(&c2, &s2, false);
                assert_ne!(tcp(&c2, &s2, true), Outcome::NeedMore);
            }
        }
    }
}
