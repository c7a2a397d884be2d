//! SSH timing: application RTT on the far leg from the exchanges the client answers, the
//! near-side baseline, and keystroke timing from keystroke-sized client packets.
//!
//! # How (RFC 4253 §4.2, §6, §7; RFC 4252; OpenSSH's `ClientAliveInterval`)
//! - Until NEWKEYS each direction is clear: the identification line, then binary packets
//!   (`u32` length, padding length, message type). [`farhand_proto::ssh::ClearStream`]
//!   follows them in stream order (the framing and its limits live there) and this file notes
//!   the key-exchange messages: the server's reply (KEXDH/ECDH reply 31, GEX group 31 / reply
//!   33) → the client's next message (GEX init 32, NEWKEYS 21) is one far-leg sample (the
//!   client answers at once, after its key computation); the client's init (30, 32, 34) → the
//!   server's reply is a near-side sample (the endpoint's computation).
//! - After NEWKEYS the content is encrypted but the conversation's turn-taking is not: during
//!   authentication and session set-up ([`SETUP_PAIRS`] exchanges: SERVICE_ACCEPT →
//!   USERAUTH_REQUEST, USERAUTH_FAILURE/PK_OK → the next request, USERAUTH_SUCCESS →
//!   CHANNEL_OPEN, …) every server message is answered by the client at once; a client packet
//!   that follows server data within [`MAX_ANSWER_US`] is a far-leg sample. Later, a server
//!   message after at least [`SILENCE_US`] of silence both ways (a keepalive request, e.g.
//!   `ClientAliveInterval`) answered within the limit is one too.
//! - Keystrokes: after set-up, a small client packet ([`MAX_KEYSTROKE_PACKET`]) that is not
//!   such an answer is one keystroke (each key is sent alone in interactive sessions); the
//!   server's next data (the echo) is a near-side sample. OpenSSH ≥ 9.5 hides the rhythm
//!   behind a 20 ms cadence with chaff: recognised by [`super::keystroke`].

use super::keystroke::Keystrokes;
use super::stream::Cursor;
use super::{Lat, Seed};
use farhand_model::{Anomaly, Micros, Role};
use farhand_proto::ssh::{
    ClearStream, MSG_KEX_DH_GEX_INIT, MSG_KEX_DH_GEX_REPLY, MSG_KEX_DH_GEX_REQUEST, MSG_KEXDH_INIT, MSG_KEXDH_REPLY,
    MSG_NEWKEYS,
};

/// Set-up exchanges after NEWKEYS taken as far-leg samples.
pub const SETUP_PAIRS: u8 = 8;
/// Longest answer time taken as a sample (longer: a human was involved).
pub const MAX_ANSWER_US: Micros = 1_000_000;
/// Silence before a server message that makes it a keepalive-style request.
pub const SILENCE_US: Micros = 900_000;
/// Largest client packet (TCP payload) counted as a keystroke.
pub const MAX_KEYSTROKE_PACKET: usize = 100;

/// SSH session timing.
#[derive(Debug, Clone)]
pub struct SshTiming {
    cursor: [Cursor; 2],
    /// Each direction's clear-text phase, followed until its NEWKEYS (or a lost byte).
    clear: [ClearStream; 2],
    /// Replaying the probe's bytes: parse, but take no samples (their times are unknown).
    seeding: bool,
    near_start: Option<Micros>,
    far_start: Option<Micros>,
    /// Last server data since the client's last data, and whether that server burst began
    /// after silence.
    server_since_client: Option<(Micros, bool)>,
    last_data: Micros,
    setup_pairs: u8,
    setup_done: bool,
    /// Far-leg application RTT samples.
    pub far: Lat,
    /// Near-side samples (client message → server answer).
    pub near: Lat,
    /// Keystroke times.
    pub keys: Keystrokes,
    /// The client sent data in the encrypted phase (input of any kind: keys, answers,
    /// commands), not yet taken.
    pub input: Option<Micros>,
}

impl SshTiming {
    /// Timing state, brought in step with the bytes the probe gathered.
    pub fn new(seed: &Seed<'_>) -> SshTiming {
        let mut s = SshTiming {
            cursor: Role::BOTH.map(|r| seed.cursor(r)),
            clear: [ClearStream::new(); 2],
            seeding: true,
            near_start: None,
            far_start: None,
            server_since_client: None,
            last_data: seed.ts,
            setup_pairs: 0,
            setup_done: false,
            far: Lat::default(),
            near: Lat::default(),
            keys: Keystrokes::default(),
            input: None,
        };
        for (role, buf) in Role::BOTH.into_iter().zip(seed.bufs) {
            if seed.cursor(role).lost {
                if let Some(c) = s.clear.get_mut(role.idx()) {
                    c.stop();
                }
            } else {
                s.parse(role, seed.ts, buf);
            }
        }
        s.seeding = false;
        s
    }

    /// Whether the keystroke packets sit on OpenSSH's obfuscation cadence.
    pub fn keys_obfuscation(&self) -> bool {
        self.keys.on_cadence()
    }

    /// One TCP segment of `role`.
    pub fn on_segment(&mut self, role: Role, ts: Micros, seq: u32, payload: &[u8]) {
        if payload.is_empty() {
            return;
        }
        let new = self.cursor.get_mut(role.idx()).and_then(|c| c.advance(seq, payload));
        let clear = self.clear.get(role.idx()).is_some_and(ClearStream::is_following);
        if clear {
            match new {
                Some(b) => self.parse(role, ts, b),
                None => {
                    if let Some(c) = self.clear.get_mut(role.idx()) {
                        c.stop();
                    }
                }
            }
            self.last_data = ts;
            return;
        }
        // A retransmission carries nothing new.
        if new.is_some_and(<[u8]>::is_empty) {
            return;
        }
        if role == Role::Responder {
            if let Some(t) = self.near_start.take()
                && ts.saturating_sub(t) <= MAX_ANSWER_US
            {
                self.near.record(ts - t);
            }
            let after_silence =
                ts.saturating_sub(self.last_data) >= SILENCE_US || matches!(self.server_since_client, Some((_, true)));
            self.server_since_client = Some((ts, after_silence));
        } else {
            self.input = Some(ts);
            let mut answer = false;
            if let Some((t, after_silence)) = self.server_since_client.take() {
                let d = ts.saturating_sub(t);
                if d <= MAX_ANSWER_US && (!self.setup_done || after_silence) {
                    self.far.record(d);
                    answer = true;
                    if !self.setup_done {
                        self.setup_pairs += 1;
                        self.setup_done = self.setup_pairs >= SETUP_PAIRS;
                    }
                } else if d > MAX_ANSWER_US {
                    // A human-paced answer: set-up is over.
                    self.setup_done = true;
                }
            }
            if !answer && self.setup_done && payload.len() <= MAX_KEYSTROKE_PACKET {
                self.keys.key(ts);
                self.near_start = Some(ts);
            }
        }
        self.last_data = ts;
    }

    /// Where each direction's clear-text follower lost the framing, if it did.
    pub fn anomalies(&self) -> [Option<Anomaly>; 2] {
        self.clear.map(|c| c.anomaly())
    }

    /// Follow `role`'s clear-text bytes `b` (new in stream order, arrived at `ts`).
    fn parse(&mut self, role: Role, ts: Micros, mut b: &[u8]) {
        let Some(mut clear) = self.clear.get(role.idx()).copied() else { return };
        while let Some(msg) = clear.next_message(&mut b) {
            self.message(role, msg, ts);
        }
        if let Some(c) = self.clear.get_mut(role.idx()) {
            *c = clear;
        }
    }

    /// A clear-text message of `role` began at `ts`.
    fn message(&mut self, role: Role, msg: u8, ts: Micros) {
        if self.seeding {
            return;
        }
        match (role, msg) {
            (Role::Initiator, MSG_KEXDH_INIT | MSG_KEX_DH_GEX_INIT | MSG_KEX_DH_GEX_REQUEST | MSG_NEWKEYS) => {
                if let Some(t) = self.far_start.take()
                    && ts.saturating_sub(t) <= MAX_ANSWER_US
                {
                    self.far.record(ts - t);
                }
                if msg != MSG_NEWKEYS {
                    self.near_start = Some(ts);
                }
            }
            (Role::Responder, MSG_KEXDH_REPLY | MSG_KEX_DH_GEX_REPLY) => {
                if let Some(t) = self.near_start.take()
                    && ts.saturating_sub(t) <= MAX_ANSWER_US
                {
                    self.near.record(ts - t);
                }
                self.far_start = Some(ts);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::behaviour::tcp_seed as seed;
    use crate::testutil::ssh::packet as pkt;

    #[test]
    fn kex_setup_keepalive_and_keystrokes() {
        // Probe saw both banners and KEXINITs.
        let mut c = b"SSH-2.0-OpenSSH_9.2\r\n".to_vec();
        c.extend(pkt(20, 1000));
        let mut s = b"SSH-2.0-OpenSSH_9.2\r\n".to_vec();
        s.extend(pkt(20, 900));
        let mut t = SshTiming::new(&seed(&c, &s));
        let (mut cs, mut ss) = (1000 + c.len() as u32, 5000 + s.len() as u32);
        let ms = |m: u64| m * 1000;
        let mut send = |t: &mut SshTiming, role: usize, at: u64, bytes: &[u8]| {
            let seq = if role == 0 { &mut cs } else { &mut ss };
            t.on_segment(Role::BOTH[role], at, *seq, bytes);
            *seq = seq.wrapping_add(bytes.len() as u32);
        };
        // ECDH init at 100 ms, reply (+ NEWKEYS) at 103 ms, client NEWKEYS at 165 ms.
        send(&mut t, 0, ms(100), &pkt(30, 32));
        let mut reply = pkt(31, 300);
        reply.extend(pkt(21, 0));
        send(&mut t, 1, ms(103), &reply);
        send(&mut t, 0, ms(165), &pkt(21, 0));
        assert_eq!(t.near.quantile(0.5).map(|v| (v + 50) / 1000), Some(3));
        assert_eq!(t.far.quantile(0.5).map(|v| (v + 500) / 1000), Some(62));
        // Encrypted set-up: the client sends SERVICE_REQUEST unprompted, then answers each
        // server message 60 ms later.
        send(&mut t, 0, ms(166), &[0; 52]);
        let mut at = ms(170);
        for _ in 0..SETUP_PAIRS {
            send(&mut t, 1, at, &[0; 80]);
            send(&mut t, 0, at + ms(60), &[0; 300]);
            at += ms(70);
        }
        assert_eq!(t.far.len(), 1 + u64::from(SETUP_PAIRS));
        assert!(t.setup_done);
        // Typing: 10 keys 200 ms apart, each echoed 1 ms later: keystrokes and near samples,
        // no far samples.
        at += ms(2000);
        for _ in 0..10 {
            send(&mut t, 0, at, &[0; 36]);
            send(&mut t, 1, at + ms(1), &[0; 36]);
            at += ms(200);
        }
        assert_eq!(t.far.len(), 1 + u64::from(SETUP_PAIRS));
        let k = t.keys.summary(None).unwrap();
        assert_eq!((k.keys, k.intervals), (10, 9));
        assert!((k.iki_median_ms.unwrap() - 200.0).abs() < 2.0);
        // A keepalive after silence, answered in 61 ms: a far sample, not a keystroke.
        at += ms(3000);
        send(&mut t, 1, at, &[0; 60]);
        send(&mut t, 0, at + ms(61), &[0; 36]);
        assert_eq!(t.far.len(), 2 + u64::from(SETUP_PAIRS));
        assert_eq!(t.keys.summary(None).unwrap().keys, 10);
    }

    #[test]
    fn hostile_and_truncated_streams() {
        // Absurd packet length, endless line, holes: parsing stops, nothing panics.
        let mut t = SshTiming::new(&seed(b"SSH-2.0-x\r\n", b"SSH-2.0-y\r\n"));
        t.on_segment(Role::Initiator, 1, 1000 + 11, &[0xff, 0xff, 0xff, 0xff, 4, 30]);
        assert!(!t.clear[0].is_following());
        let mut t = SshTiming::new(&seed(b"", b""));
        t.on_segment(Role::Responder, 1, 5000, &vec![b'a'; 5000]);
        assert!(!t.clear[1].is_following());
        let full = {
            let mut v = b"SSH-2.0-x\r\n".to_vec();
            v.extend(pkt(30, 40));
            v.extend(pkt(21, 0));
            v
        };
        for cut in 0..full.len() {
            let mut t = SshTiming::new(&seed(b"", b""));
            t.on_segment(Role::Initiator, 1, 1000, &full[..cut]);
            t.on_segment(Role::Initiator, 2, 1000 + cut as u32 + 3, &full[cut..]);
            t.on_segment(Role::Responder, 3, 5000, &[1, 2, 3]);
        }
    }
    // Tests below were added from mutation testing (MUTATION.md).

    /// An SSH session with sequence counters.
    struct Sess {
        t: SshTiming,
        seq: [u32; 2],
    }

    impl Sess {
        /// After banners and KEXINITs of `kexinit` body bytes each (seen by the probe).
        fn new(kexinit: usize) -> Sess {
            let mut c = b"SSH-2.0-OpenSSH_9.2\r\n".to_vec();
            c.extend(pkt(20, kexinit));
            let mut s = b"SSH-2.0-OpenSSH_9.2\r\n".to_vec();
            s.extend(pkt(20, kexinit));
            Sess { t: SshTiming::new(&seed(&c, &s)), seq: [1000 + c.len() as u32, 5000 + s.len() as u32] }
        }
        /// Send `bytes` as role index `role` (0 the client).
        fn send(&mut self, role: usize, at: Micros, bytes: &[u8]) {
            self.t.on_segment(Role::BOTH[role], at, self.seq[role], bytes);
            self.seq[role] = self.seq[role].wrapping_add(bytes.len() as u32);
        }
        /// Key exchange (far sample 62 ms) and SETUP_PAIRS set-up exchanges; returns the time.
        fn through_setup(&mut self) -> Micros {
            self.send(0, 100_000, &pkt(30, 32));
            let mut reply = pkt(31, 300);
            reply.extend(pkt(21, 0));
            self.send(1, 103_000, &reply);
            self.send(0, 165_000, &pkt(21, 0));
            self.send(0, 166_000, &[0; 52]);
            let mut at = 170_000;
            for _ in 0..SETUP_PAIRS {
                self.send(1, at, &[0; 80]);
                self.send(0, at + 60_000, &[0; 300]);
                at += 70_000;
            }
            assert!(self.t.setup_done);
            at + 2_000_000
        }
    }

    #[test]
    fn kex_packets_over_a_kilobyte_are_followed() {
        // Real KEXINITs are 1-2 KB (and post-quantum key exchange messages over 1 KB): the
        // parse follows them to the key exchange.
        let mut s = Sess::new(2_000);
        s.send(0, 100_000, &pkt(30, 1_300));
        let mut reply = pkt(31, 1_500);
        reply.extend(pkt(21, 0));
        s.send(1, 103_000, &reply);
        s.send(0, 165_000, &pkt(21, 0));
        assert_eq!(s.t.near.len(), 1);
        assert_eq!(s.t.far.quantile(0.5).map(|v| (v + 500) / 1000), Some(62));
    }

    #[test]
    fn echoes_are_near_samples_and_the_cadence_is_seen() {
        let mut s = Sess::new(1_000);
        let mut at = s.through_setup();
        // Human typing, each key echoed 1.5 ms later: near samples of 1.5 ms (and the key
        // exchange's 3 ms).
        for d in [180_000u64, 240_000, 95_000, 400_000, 130_000, 310_000, 220_000, 160_000, 600_000, 205_000] {
            s.send(0, at, &[0; 36]);
            s.send(1, at + 1_500, &[0; 36]);
            at += d;
        }
        let near = s.t.near.stats().unwrap();
        assert_eq!(near.n, 11, "{near:?}");
        assert!((near.p50_ms - 1.5).abs() < 0.1, "{near:?}");
        assert!(!s.t.keys_obfuscation());
        // An echo over MAX_ANSWER_US after its key is not a sample.
        s.send(0, at, &[0; 36]);
        s.send(1, at + MAX_ANSWER_US + 1, &[0; 36]);
        assert_eq!(s.t.near.len(), 11);
        // OpenSSH's 20 ms cadence (keys and chaff, no echo between): obfuscated.
        let mut s = Sess::new(1_000);
        let mut at = s.through_setup();
        for _ in 0..30 {
            s.send(0, at, &[0; 36]);
            at += 20_000;
        }
        assert!(s.t.keys_obfuscation());
    }
    #[test]
    fn a_human_paced_answer_ends_the_set_up() {
        // Three set-up exchanges, then a password prompt answered 2 s later: set-up is over
        // (that answer is not a far sample), and the next small packets are keystrokes.
        let mut s = Sess::new(1_000);
        s.send(0, 100_000, &pkt(30, 32));
        let mut reply = pkt(31, 300);
        reply.extend(pkt(21, 0));
        s.send(1, 103_000, &reply);
        s.send(0, 165_000, &pkt(21, 0));
        let mut at = 170_000;
        for _ in 0..3 {
            s.send(1, at, &[0; 80]);
            s.send(0, at + 60_000, &[0; 300]);
            at += 70_000;
        }
        assert!(!s.t.setup_done);
        s.send(1, at, &[0; 80]);
        s.send(0, at + 2_000_000, &[0; 120]);
        assert!(s.t.setup_done);
        assert_eq!(s.t.far.len(), 4);
        at += 2_500_000;
        for _ in 0..3 {
            s.send(0, at, &[0; 36]);
            at += 200_000;
        }
        assert_eq!(s.t.keys.count(), 3);
        assert_eq!(s.t.far.len(), 4);
    }
}
