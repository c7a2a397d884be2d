//! VNC (RFB) timing: far-leg application RTT from update → next update request, the
//! near-side baseline from key press → next update, and exact keystroke times.
//!
//! # How (RFC 6143)
//! - The client's stream is parsed in order: ProtocolVersion (12 bytes), the security
//!   choice (3.7/3.8: one byte; 3.3: the server's 4-byte type), a VNC-authentication response
//!   (16 bytes) for type 2, ClientInit (1 byte), then client messages of known lengths:
//!   SetPixelFormat (0, 20 bytes), SetEncodings (2, 4 + 4n), FramebufferUpdateRequest (3, 10),
//!   KeyEvent (4, 8), PointerEvent (5, 6), ClientCutText (6, 8 + |n|; a negative n is the
//!   Extended Clipboard form TigerVNC sends at start), and the common extensions
//!   EnableContinuousUpdates (150, 10), ClientFence (248, 9 + n), SetDesktopSize (251,
//!   8 + 16n). Any other type, or other security types (their own handshakes), stops the
//!   parse: timing of what was read stays. The framing is followed by
//!   [`farhand_proto::vnc::ClientStream`]; where the bytes break it (a message type it does
//!   not know, a ClientCutText past its limit) [`VncTiming::anomalies`] says where and why.
//! - A server sends a FramebufferUpdate only when asked, and a viewer asks for the next one
//!   as soon as it has drawn the last: the time from the server's last data before a request
//!   to that request is one far-leg round trip (plus the viewer's drawing time) — when the
//!   request is the client's first message after the update (automation such as vncdotool
//!   asks for the screen after its own key events, not in answer to updates).
//! - KeyEvent with down-flag 1 is a key press (its key is not kept); the server's next data
//!   (the update showing it) closes a near-side sample.

use super::keystroke::Keystrokes;
use super::stream::{Cursor, Fresh};
use super::{Lat, Seed};
use farhand_model::{Anomaly, Micros, Role};
use farhand_proto::vnc::{
    ClientMessage, ClientPhase, ClientStream, MSG_FRAMEBUFFER_UPDATE_REQUEST, MSG_KEY_EVENT, MSG_POINTER_EVENT,
    SECURITY_TYPE_33_LEN, VERSION_LEN,
};

/// Longest answer time taken as a sample.
pub const MAX_ANSWER_US: Micros = 1_000_000;
/// Bytes of the server's stream kept: its ProtocolVersion and, for 3.3, the security type.
const SERVER_HEAD_LEN: usize = VERSION_LEN + SECURITY_TYPE_33_LEN;

/// VNC session timing.
#[derive(Debug, Clone)]
pub struct VncTiming {
    cursor: [Cursor; 2],
    /// The client's framing.
    client: ClientStream,
    /// The server's first 16 bytes (version and, for 3.3, the security type).
    server_head: [u8; SERVER_HEAD_LEN],
    server_have: u8,
    seeding: bool,
    /// Last server data since the client's last update request.
    server_since_request: Option<Micros>,
    near_start: Option<Micros>,
    /// Far-leg samples.
    pub far: Lat,
    /// Near-side samples.
    pub near: Lat,
    /// Key presses.
    pub keys: Keystrokes,
    /// The client sent input (a key or pointer event), not yet taken.
    pub input: Option<Micros>,
}

impl VncTiming {
    /// Timing state, brought in step with the probe's bytes.
    pub fn new(seed: &Seed<'_>) -> VncTiming {
        let mut v = VncTiming {
            cursor: Role::BOTH.map(|r| seed.cursor(r)),
            client: ClientStream::new(),
            server_head: [0; SERVER_HEAD_LEN],
            server_have: 0,
            seeding: true,
            server_since_request: None,
            near_start: None,
            far: Lat::default(),
            near: Lat::default(),
            keys: Keystrokes::default(),
            input: None,
        };
        let [client, server] = seed.bufs;
        if seed.cursor(Role::Initiator).lost {
            v.client.stop();
        }
        v.server_bytes(server);
        if v.client.phase() != ClientPhase::Done {
            v.client_bytes(seed.ts, client);
        }
        v.seeding = false;
        v
    }

    /// One TCP segment of `role`.
    pub fn on_segment(&mut self, role: Role, ts: Micros, seq: u32, payload: &[u8]) {
        let Some(cursor) = self.cursor.get_mut(role.idx()) else { return };
        let fresh = cursor.advance(seq, ts, payload);
        if role == Role::Responder {
            if let Fresh::New(b) = fresh {
                self.server_bytes(b);
            }
            // Server data arriving now times the near leg and the next request, whether or
            // not its bytes can be read yet.
            if fresh != Fresh::Old {
                if let Some(t) = self.near_start.take()
                    && ts.saturating_sub(t) <= MAX_ANSWER_US
                {
                    self.near.record(ts.saturating_sub(t));
                }
                self.server_since_request = Some(ts);
            }
        } else {
            match fresh {
                Fresh::New(b) => self.client_bytes(ts, b),
                Fresh::Lost => self.client.stop(),
                Fresh::Old | Fresh::Held => {}
            }
        }
        // Bytes held past a hole that this segment filled, read when they became readable.
        while let Some((t, b)) = self.cursor.get_mut(role.idx()).and_then(Cursor::release) {
            if role == Role::Responder {
                self.server_bytes(&b);
            } else {
                self.client_bytes(t, &b);
            }
        }
    }

    /// Per role, the anomaly that stopped following its framing, if any: the client's (a
    /// message type the parser does not know, a ClientCutText past its limit); the server's
    /// direction is not followed. A lost stream or an unread security handshake is none.
    pub fn anomalies(&self) -> [Option<Anomaly>; 2] {
        [self.client.anomaly(), None]
    }

    fn server_bytes(&mut self, b: &[u8]) {
        for &c in b.iter().take(self.server_head.len().saturating_sub(usize::from(self.server_have))) {
            if let Some(h) = self.server_head.get_mut(usize::from(self.server_have)) {
                *h = c;
            }
            self.server_have += 1;
        }
        if self.client.phase() == ClientPhase::AwaitServerType && usize::from(self.server_have) >= SERVER_HEAD_LEN {
            let [_, _, _, _, _, _, _, _, _, _, _, _, t0, t1, t2, t3] = self.server_head;
            self.client.server_security_type(u32::from_be_bytes([t0, t1, t2, t3]));
        }
    }

    fn client_bytes(&mut self, ts: Micros, mut b: &[u8]) {
        loop {
            if let Some(m) = self.client.next_message(&mut b) {
                self.message(m, ts);
                continue;
            }
            // 3.3: the client's version is complete; the server's type may be there already.
            if self.client.phase() != ClientPhase::AwaitServerType {
                return;
            }
            self.server_bytes(&[]);
            if self.client.phase() == ClientPhase::AwaitServerType {
                return;
            }
        }
    }

    /// A client message `m` began at `ts`.
    fn message(&mut self, m: ClientMessage, ts: Micros) {
        if self.seeding {
            return;
        }
        // Only the client's first message after server data answers it: a request sent after
        // the client's own input (automation that asks for the screen after each key) is not
        // a reaction to the update.
        let after_update = self.server_since_request.take();
        match (m.kind, m.flag) {
            (MSG_FRAMEBUFFER_UPDATE_REQUEST, _) => {
                if let Some(t) = after_update
                    && ts.saturating_sub(t) <= MAX_ANSWER_US
                {
                    self.far.record(ts.saturating_sub(t));
                }
            }
            (MSG_KEY_EVENT, 1) => {
                self.keys.key(ts);
                self.near_start = Some(ts);
                self.input = Some(ts);
            }
            (MSG_KEY_EVENT | MSG_POINTER_EVENT, _) => self.input = Some(ts),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::behaviour::tcp_seed as seed;
    use farhand_proto::step::{Layer, Reason};
    use farhand_proto::vnc::MAX_CUT_TEXT;

    const V38: &[u8] = b"RFB 003.008\n";

    fn key(down: u8) -> [u8; 8] {
        [4, down, 0, 0, 0, 0, 0, 0x61]
    }

    #[test]
    fn updates_requests_and_keys() {
        // Probe saw: client version + choice None; server version + security types.
        let mut c = V38.to_vec();
        c.push(1);
        let mut s = V38.to_vec();
        s.extend_from_slice(&[1, 1]);
        let mut v = VncTiming::new(&seed(&c, &s));
        let (mut cs, mut ss) = (1000 + c.len() as u32, 5000 + s.len() as u32);
        let mut send = |v: &mut VncTiming, role: usize, at: u64, bytes: &[u8]| {
            let seq = if role == 0 { &mut cs } else { &mut ss };
            v.on_segment(Role::BOTH[role], at, *seq, bytes);
            *seq = seq.wrapping_add(bytes.len() as u32);
        };
        // ClientInit, SetEncodings (2 encodings) split across segments, first request.
        send(&mut v, 0, 10_000, &[1, 2, 0, 0]);
        send(&mut v, 0, 10_100, &[2, 0, 0, 0, 0, 0, 0, 0, 7]);
        send(&mut v, 0, 10_200, &[3, 0, 0, 0, 0, 0, 4, 0, 3, 0]);
        // Updates answered 80 ms later by incremental requests.
        let mut at = 20_000;
        for _ in 0..6 {
            send(&mut v, 1, at, &[0; 1400]);
            send(&mut v, 1, at + 500, &[0; 300]);
            send(&mut v, 0, at + 80_500, &[3, 1, 0, 0, 0, 0, 4, 0, 3, 0]);
            at += 200_000;
        }
        assert_eq!(v.far.len(), 6);
        assert_eq!(v.far.quantile(0.5).map(|u| u / 1000), Some(80));
        // Keys: press/release pairs 250 ms apart; each press's update 30 ms later.
        for _ in 0..5 {
            send(&mut v, 0, at, &key(1));
            send(&mut v, 0, at + 60_000, &key(0));
            send(&mut v, 1, at + 30_000, &[0; 100]);
            at += 250_000;
        }
        let k = v.keys.summary(None).unwrap();
        assert_eq!((k.keys, k.intervals), (5, 4));
        assert_eq!(v.near.len(), 5);
        // ClientCutText with a hostile length stops the parse without panicking.
        send(&mut v, 0, at, &[6, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff]);
        assert_eq!(v.client.phase(), ClientPhase::Done);
    }

    #[test]
    fn a_broken_client_stream_reports_where() {
        // Version, choice None, ClientInit, a request, then a message type RFB does not have
        // (at offset 14 + 10 = 24), or a ClientCutText past MAX_CUT_TEXT (length at 24 + 4).
        let mut c = V38.to_vec();
        c.push(1);
        let request = [3u8, 1, 0, 0, 0, 0, 4, 0, 3, 0];
        for (tail, anomaly) in [
            (vec![7u8, 0, 0, 0], Anomaly::new(Layer::Vnc, 24, Reason::BadType)),
            (vec![6, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff], Anomaly::new(Layer::Vnc, 28, Reason::OverLimit)),
        ] {
            let mut v = VncTiming::new(&seed(&c, V38));
            let bytes = [&[1u8][..], &request, &tail].concat();
            v.on_segment(Role::Initiator, 10, 1013, &bytes);
            assert_eq!(v.anomalies(), [Some(anomaly), None], "{tail:?}");
        }
        // A clean stream, a lost one and an unread security handshake: none.
        let mut v = VncTiming::new(&seed(&c, V38));
        v.on_segment(Role::Initiator, 10, 1013, &[&[1u8][..], &request, &key(1)].concat());
        assert_eq!(v.anomalies(), [None, None]);
        // Bytes past a hole are held; a hole still open after MAX_HOLD_US loses the stream.
        v.on_segment(Role::Initiator, 11, 5_000, &[7, 7, 7]);
        assert_ne!(v.client.phase(), ClientPhase::Done);
        v.on_segment(Role::Initiator, 12 + super::super::stream::MAX_HOLD_US, 5_003, &[7]);
        assert_eq!((v.client.phase(), v.anomalies()), (ClientPhase::Done, [None, None]));
        let tight = [V38, &[16]].concat();
        let v = VncTiming::new(&seed(&tight, V38));
        assert_eq!((v.client.phase(), v.anomalies()), (ClientPhase::Done, [None, None]));
    }

    #[test]
    fn keys_past_a_hole_are_read_once_it_is_filled() {
        // Five key presses, one segment each; the second is lost upstream and retransmitted
        // 300 ms later, after the third and fourth arrived: every key is counted once, in
        // order, and the stream is still followed.
        let mut c = V38.to_vec();
        c.push(1);
        let mut v = VncTiming::new(&seed(&c, V38));
        let first = [&[1u8][..], &[3, 1, 0, 0, 0, 0, 4, 0, 3, 0]].concat();
        v.on_segment(Role::Initiator, 10, 1013, &first);
        let base = 1013 + first.len() as u32;
        let seq = |i: u32| base + 8 * i;
        v.on_segment(Role::Initiator, 1_000_000, seq(0), &key(1));
        v.on_segment(Role::Initiator, 1_400_000, seq(2), &key(1));
        v.on_segment(Role::Initiator, 1_600_000, seq(3), &key(1));
        assert_eq!(v.keys.count(), 1, "keys past the hole wait");
        v.on_segment(Role::Initiator, 1_500_000, seq(1), &key(1));
        assert_eq!(v.keys.count(), 4);
        v.on_segment(Role::Initiator, 1_500_100, seq(1), &key(1));
        v.on_segment(Role::Initiator, 1_800_000, seq(4), &key(1));
        assert_eq!(v.keys.count(), 5, "a second retransmission is not a key");
        assert!(v.client.at_message_boundary(), "{:?}", v.client);
    }

    #[test]
    fn extended_clipboard_then_messages() {
        // TigerVNC's opening: ClientCutText with length -8 (Extended Clipboard caps), then a
        // request that still parses.
        let mut c = V38.to_vec();
        c.push(1);
        let mut v = VncTiming::new(&seed(&c, V38));
        let mut bytes = vec![1u8];
        bytes.extend_from_slice(&[6, 0, 0, 0, 0xff, 0xff, 0xff, 0xf8, 0x1f, 0, 0, 1, 0, 0, 0, 0]);
        bytes.extend_from_slice(&[3, 1, 0, 0, 0, 0, 4, 0, 3, 0]);
        v.on_segment(Role::Initiator, 10, 1013, &bytes);
        assert!(v.client.at_message_boundary(), "{:?}", v.client);
    }

    #[test]
    fn rfb33_and_truncation_sweep() {
        // 3.3: the server picks VNC authentication (2); the client's 16-byte response follows.
        let mut s = b"RFB 003.003\n".to_vec();
        s.extend_from_slice(&[0, 0, 0, 2]);
        s.extend_from_slice(&[0xAB; 16]);
        let mut c = b"RFB 003.003\n".to_vec();
        c.extend_from_slice(&[0xCD; 16]);
        c.push(1);
        c.extend_from_slice(&[3, 0, 0, 0, 0, 0, 4, 0, 3, 0]);
        for cut in 0..c.len() {
            let mut v = VncTiming::new(&seed(&c[..cut], &s));
            v.on_segment(Role::Initiator, 1, 1000 + cut as u32, &c[cut..]);
            assert_eq!(v.client.phase(), ClientPhase::Messages, "{cut}: {:?}", v.client);
        }
    }
    // Tests below were added from mutation testing (MUTATION.md).

    /// Feeds `bytes` as client segments of `piece` bytes from sequence `seq`; returns the next.
    fn client(v: &mut VncTiming, at: u64, seq: u32, bytes: &[u8], piece: usize) -> u32 {
        let mut seq = seq;
        for chunk in bytes.chunks(piece) {
            v.on_segment(Role::Initiator, at, seq, chunk);
            seq += chunk.len() as u32;
        }
        seq
    }

    #[test]
    fn every_known_message_keeps_the_parse_in_step() {
        let mut msgs: Vec<u8> = vec![1]; // ClientInit
        msgs.extend([0u8; 20]); // SetPixelFormat
        msgs.extend([150, 1, 0, 0, 0, 0, 4, 0, 3, 0]); // EnableContinuousUpdates
        msgs.extend([248, 0, 0, 0, 0, 0, 0, 0, 4, 9, 9, 9, 9]); // ClientFence, 4 payload bytes
        let mut size = vec![251, 0, 4, 0, 3, 0, 2, 0]; // SetDesktopSize, 2 screens
        size.extend([0u8; 32]);
        msgs.extend(size);
        msgs.extend([6, 0, 0, 0, 0, 0, 0, 3, b'a', b'b', b'c']); // ClientCutText, 3 bytes
        msgs.extend([2, 0, 0, 2, 0, 0, 0, 7, 0, 0, 0, 0]); // SetEncodings, 2
        for piece in [1, 3, 7, 200] {
            let mut c = V38.to_vec();
            c.push(1);
            let mut s = V38.to_vec();
            s.extend_from_slice(&[1, 1]);
            let mut v = VncTiming::new(&seed(&c, &s));
            let mut seq = client(&mut v, 10_000, 1013, &msgs, piece);
            assert!(v.client.at_message_boundary(), "piece {piece}");
            assert_eq!(v.input, None);
            // A pointer event is input, not a key.
            seq = client(&mut v, 20_000, seq, &[5, 0, 0, 10, 0, 20], piece);
            assert_eq!((v.input.take(), v.keys.count()), (Some(20_000), 0), "piece {piece}");
            // An update, then the viewer's request 80 ms later: a far sample.
            v.on_segment(Role::Responder, 100_000, 5014, &[0; 500]);
            seq = client(&mut v, 180_000, seq, &[3, 1, 0, 0, 0, 0, 4, 0, 3, 0], piece);
            assert_eq!(v.far.quantile(0.5).map(|u| u / 1000), Some(80), "piece {piece}");
            // A key press answered 30 ms later: a near sample of 30 ms.
            client(&mut v, 300_000, seq, &key(1), piece);
            v.on_segment(Role::Responder, 330_000, 5514, &[0; 100]);
            assert_eq!(v.keys.count(), 1);
            assert_eq!(v.near.quantile(0.5).map(|u| u / 1000), Some(30), "piece {piece}");
        }
    }

    #[test]
    fn cut_text_length_limit_is_inclusive() {
        let start = |len: u32| {
            let mut c = V38.to_vec();
            c.push(1);
            let mut v = VncTiming::new(&seed(&c, V38));
            let mut m = vec![1u8, 6, 0, 0, 0];
            m.extend(len.to_be_bytes());
            v.on_segment(Role::Initiator, 10, 1013, &m);
            v.client
        };
        assert!(start(MAX_CUT_TEXT).message_left() == Some(MAX_CUT_TEXT), "{:?}", start(MAX_CUT_TEXT));
        assert_eq!(start(MAX_CUT_TEXT + 1).phase(), ClientPhase::Done);
    }

    #[test]
    fn security_handshakes_lead_to_client_init() {
        let request = [3u8, 1, 0, 0, 0, 0, 4, 0, 3, 0];
        // 3.8, VNC authentication chosen: the 16-byte response, then ClientInit.
        let mut c = V38.to_vec();
        c.push(2);
        c.extend([0xCD; 16]);
        c.push(1);
        let v = VncTiming::new(&seed(&c, V38));
        assert!(v.client.at_message_boundary(), "{:?}", v.client);
        // 3.3, the server's type (None) arrives after the client's version.
        let v33 = b"RFB 003.003\n";
        let mut v = VncTiming::new(&seed(v33, v33));
        assert_eq!(v.client.phase(), ClientPhase::AwaitServerType);
        v.on_segment(Role::Responder, 5, 5012, &[0, 0, 0, 1]);
        assert_eq!(v.client.phase(), ClientPhase::Handshake);
        let mut m = vec![1u8];
        m.extend(request);
        v.on_segment(Role::Initiator, 10, 1012, &m);
        assert!(v.client.at_message_boundary(), "{:?}", v.client);
        // 3.3 with the server's type already there when the client's version completes.
        let mut s = v33.to_vec();
        s.extend([0, 0, 0, 1]);
        let v = VncTiming::new(&seed(v33, &s));
        assert_eq!(v.client.phase(), ClientPhase::Handshake);
    }
    #[test]
    fn each_extension_message_ends_where_it_should() {
        let fence = vec![248u8, 0, 0, 0, 0, 0, 0, 0, 4, 9, 9, 9, 9];
        let mut size = vec![251u8, 0, 4, 0, 3, 0, 2, 0];
        size.extend([0u8; 32]);
        for m in [fence, size, vec![150, 1, 0, 0, 0, 0, 4, 0, 3, 0]] {
            let mut c = V38.to_vec();
            c.push(1);
            let mut v = VncTiming::new(&seed(&c, V38));
            let mut bytes = vec![1u8];
            bytes.extend(&m);
            v.on_segment(Role::Initiator, 10, 1013, &bytes);
            assert!(v.client.at_message_boundary(), "{m:?}");
        }
    }
}
