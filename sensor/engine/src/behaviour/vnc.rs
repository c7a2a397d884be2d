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
//!   parse: timing of what was read stays.
//! - A server sends a FramebufferUpdate only when asked, and a viewer asks for the next one
//!   as soon as it has drawn the last: the time from the server's last data before a request
//!   to that request is one far-leg round trip (plus the viewer's drawing time) — when the
//!   request is the client's first message after the update (automation such as vncdotool
//!   asks for the screen after its own key events, not in answer to updates).
//! - KeyEvent with down-flag 1 is a key press (its key is not kept); the server's next data
//!   (the update showing it) closes a near-side sample.

use super::keystroke::Keystrokes;
use super::stream::Cursor;
use super::{Lat, Seed};
use farhand_model::{Micros, Role};

/// Header bytes kept per client message (ClientFence's length byte is the 9th).
const HEAD: usize = 9;
/// Longest answer time taken as a sample.
pub const MAX_ANSWER_US: Micros = 1_000_000;
/// Largest ClientCutText accepted before the parse gives up.
pub const MAX_CUT_TEXT: u32 = 1 << 20;

/// Where the client stream's parse stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Client {
    /// Bytes of ProtocolVersion still to read; the minor version digit seen.
    Version { left: u8, minor: u8 },
    /// 3.7/3.8: the security choice byte.
    Choice,
    /// 3.3: waiting for the server's security type.
    AwaitServerType,
    /// Bytes to skip (an authentication response), then ClientInit.
    Skip { left: u8, then_init: bool },
    /// The ClientInit byte.
    Init,
    /// A message: header bytes gathered, bytes of the current message left once known.
    Msg { head: [u8; HEAD], have: u8, left: u32 },
    /// Parse stopped.
    Done,
}

/// VNC session timing.
#[derive(Debug, Clone)]
pub struct VncTiming {
    cursor: [Cursor; 2],
    client: Client,
    /// The server's first 16 bytes (version and, for 3.3, the security type).
    server_head: [u8; 16],
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
            client: Client::Version { left: 12, minor: 0 },
            server_head: [0; 16],
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
            v.client = Client::Done;
        }
        v.server_bytes(server);
        if v.client != Client::Done {
            v.client_bytes(seed.ts, client);
        }
        v.seeding = false;
        v
    }

    /// One TCP segment of `role`.
    pub fn on_segment(&mut self, role: Role, ts: Micros, seq: u32, payload: &[u8]) {
        if payload.is_empty() {
            return;
        }
        let new = self.cursor.get_mut(role.idx()).and_then(|c| c.advance(seq, payload));
        if role == Role::Responder {
            if let Some(b) = new {
                self.server_bytes(b);
            }
            if new.is_some_and(<[u8]>::is_empty) {
                return;
            }
            if let Some(t) = self.near_start.take()
                && ts.saturating_sub(t) <= MAX_ANSWER_US
            {
                self.near.record(ts - t);
            }
            self.server_since_request = Some(ts);
        } else {
            match new {
                Some(b) => self.client_bytes(ts, b),
                None => self.client = Client::Done,
            }
        }
    }

    fn server_bytes(&mut self, b: &[u8]) {
        for &c in b.iter().take(self.server_head.len().saturating_sub(usize::from(self.server_have))) {
            if let Some(h) = self.server_head.get_mut(usize::from(self.server_have)) {
                *h = c;
            }
            self.server_have += 1;
        }
        if self.client == Client::AwaitServerType && self.server_have >= 16 {
            let [_, _, _, _, _, _, _, _, _, _, _, _, t0, t1, t2, t3] = self.server_head;
            self.client = match u32::from_be_bytes([t0, t1, t2, t3]) {
                1 => Client::Init,
                2 => Client::Skip { left: 16, then_init: true },
                _ => Client::Done,
            };
        }
    }

    fn client_bytes(&mut self, ts: Micros, mut b: &[u8]) {
        while let Some((&c, rest)) = b.split_first() {
            self.client = match self.client {
                Client::Done | Client::AwaitServerType => return,
                Client::Version { left, minor } => {
                    b = rest;
                    // "RFB 003.008\n": the minor version's last digit is the 11th byte.
                    let minor = if left == 2 { c.wrapping_sub(b'0') } else { minor };
                    match left {
                        1 if minor >= 7 => Client::Choice,
                        1 if self.server_have >= 16 => {
                            self.client = Client::AwaitServerType;
                            self.server_bytes(&[]);
                            continue;
                        }
                        1 => Client::AwaitServerType,
                        _ => Client::Version { left: left - 1, minor },
                    }
                }
                Client::Choice => {
                    b = rest;
                    match c {
                        1 => Client::Init,
                        2 => Client::Skip { left: 16, then_init: true },
                        _ => Client::Done,
                    }
                }
                Client::Skip { left, then_init } => {
                    let n = b.len().min(usize::from(left));
                    b = b.get(n..).unwrap_or_default();
                    match (left - n as u8, then_init) {
                        (0, true) => Client::Init,
                        (l, t) => Client::Skip { left: l, then_init: t },
                    }
                }
                Client::Init => {
                    b = rest;
                    Client::Msg { head: [0; HEAD], have: 0, left: 0 }
                }
                Client::Msg { head, have, left } if left > 0 => {
                    let n = b.len().min(left as usize);
                    b = b.get(n..).unwrap_or_default();
                    Client::Msg { head, have, left: left - n as u32 }
                }
                Client::Msg { mut head, have, .. } => {
                    b = rest;
                    if let Some(h) = head.get_mut(usize::from(have)) {
                        *h = c;
                    }
                    let have = have + 1;
                    match message_len(&head, have) {
                        Err(()) => Client::Done,
                        Ok(None) => Client::Msg { head, have, left: 0 },
                        Ok(Some(total)) if total > usize::from(have) => {
                            self.message(&head, ts);
                            Client::Msg { head: [0; HEAD], have: 0, left: (total - usize::from(have)) as u32 }
                        }
                        Ok(Some(_)) => {
                            self.message(&head, ts);
                            Client::Msg { head: [0; HEAD], have: 0, left: 0 }
                        }
                    }
                }
            };
        }
    }

    /// A client message whose header is `head` began at `ts`.
    fn message(&mut self, head: &[u8; HEAD], ts: Micros) {
        if self.seeding {
            return;
        }
        // Only the client's first message after server data answers it: a request sent after
        // the client's own input (automation that asks for the screen after each key) is not
        // a reaction to the update.
        let after_update = self.server_since_request.take();
        match head {
            [3, ..] => {
                if let Some(t) = after_update
                    && ts.saturating_sub(t) <= MAX_ANSWER_US
                {
                    self.far.record(ts - t);
                }
            }
            [4, 1, ..] => {
                self.keys.key(ts);
                self.near_start = Some(ts);
                self.input = Some(ts);
            }
            [4 | 5, ..] => self.input = Some(ts),
            _ => {}
        }
    }
}

/// Total length of the client message whose first `have` header bytes are in `head`:
/// `Ok(None)` while more header bytes are needed, `Err` for a type this parser does not know.
fn message_len(head: &[u8; HEAD], have: u8) -> Result<Option<usize>, ()> {
    let [t, _, h2, h3, h4, h5, h6, h7, h8] = *head;
    let be16 = usize::from(u16::from_be_bytes([h2, h3]));
    Ok(match t {
        0 => Some(20),
        2 if have >= 4 => Some(4 + 4 * be16),
        // The second byte (incremental / down flag) is read before the message is noted.
        3 if have >= 2 => Some(10),
        4 if have >= 2 => Some(8),
        5 => Some(6),
        6 if have >= 8 => {
            // A negative length is the Extended Clipboard form: its absolute value is the
            // payload's length.
            let n = i32::from_be_bytes([h4, h5, h6, h7]).unsigned_abs();
            if n > MAX_CUT_TEXT {
                return Err(());
            }
            Some(8 + n as usize)
        }
        150 => Some(10),
        248 if have >= 9 => Some(9 + usize::from(h8)),
        251 if have >= 8 => Some(8 + 16 * usize::from(h6)),
        2 | 3 | 4 | 6 | 248 | 251 => None,
        _ => return Err(()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::behaviour::tcp_seed as seed;

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
        assert_eq!(v.client, Client::Done);
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
        assert_eq!(v.client, Client::Msg { head: [0; HEAD], have: 0, left: 0 });
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
            assert!(matches!(v.client, Client::Msg { .. }), "{cut}: {:?}", v.client);
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
            assert_eq!(v.client, Client::Msg { head: [0; HEAD], have: 0, left: 0 }, "piece {piece}");
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
        assert!(
            matches!(start(MAX_CUT_TEXT), Client::Msg { left, .. } if left == MAX_CUT_TEXT),
            "{:?}",
            start(MAX_CUT_TEXT)
        );
        assert_eq!(start(MAX_CUT_TEXT + 1), Client::Done);
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
        assert_eq!(v.client, Client::Msg { head: [0; HEAD], have: 0, left: 0 });
        // 3.3, the server's type (None) arrives after the client's version.
        let v33 = b"RFB 003.003\n";
        let mut v = VncTiming::new(&seed(v33, v33));
        assert_eq!(v.client, Client::AwaitServerType);
        v.on_segment(Role::Responder, 5, 5012, &[0, 0, 0, 1]);
        assert_eq!(v.client, Client::Init);
        let mut m = vec![1u8];
        m.extend(request);
        v.on_segment(Role::Initiator, 10, 1012, &m);
        assert_eq!(v.client, Client::Msg { head: [0; HEAD], have: 0, left: 0 });
        // 3.3 with the server's type already there when the client's version completes.
        let mut s = v33.to_vec();
        s.extend([0, 0, 0, 1]);
        let v = VncTiming::new(&seed(v33, &s));
        assert_eq!(v.client, Client::Init);
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
            assert_eq!(v.client, Client::Msg { head: [0; HEAD], have: 0, left: 0 }, "{m:?}");
        }
    }
}
