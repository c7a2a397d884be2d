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
//! - Programs are not typists: rsync, git, scp and SFTP send keystroke-sized client packets
//!   too (a protocol's one-byte acknowledgement, the channel's closing EOF and CLOSE), but
//!   within a few milliseconds of another client packet — the client's machine writing
//!   several messages at once, or answering at once. A typed key is a packet of its own: keys
//!   are tens of milliseconds apart even at 150 words a minute, and a pasted word is one
//!   packet. A keystroke-sized packet less than [`MACHINE_GAP_US`] from the client's previous
//!   or next packet is *coupled*; when at least half of a session's keys are coupled the
//!   session is a program's, and it reports no keystrokes ([`SshTiming::keystrokes`]).
//!
//! # Message classes (when the probe saw both KEXINITs)
//! The cipher, MAC and compression each direction negotiates are in the clear-text KEXINITs
//! (RFC 4253 §7.1), and with them the exact wire size of the few messages that matter
//! ([`farhand_proto::ssh::framing`], [`Classes`]): a keystroke is a `CHANNEL_DATA` of 1 to
//! [`KEY_DATA_MAX`] bytes; OpenSSH's client keepalive (`ServerAliveInterval`) is a
//! `keepalive@openssh.com` global request, answered by a `REQUEST_FAILURE`; the server's
//! (`ClientAliveInterval`) is the same request on the session channel (or global before one
//! exists), answered by `CHANNEL_FAILURE` / `REQUEST_FAILURE`. With the classes known:
//! - only keystroke-sized client packets are keystrokes (a client keepalive is not typing,
//!   and not input for the stepping-stone matcher);
//! - after set-up, the far leg is sampled only on the server's keepalive requests and the
//!   client's reply to each — the one exchange in which the endpoint's side speaks and the
//!   controller's side must answer at once, which no chaff, echo or typing can imitate; a
//!   reply-sized client packet sooner after the request than the far leg can answer (below
//!   where its samples agree, less their window) is decided by what follows it: the server's
//!   echo or a second reply-sized packet make it a key typed while the request was on its way
//!   (the reply is the second), nothing makes it the reply (on a jittery path);
//! - set-up ends at the first client packet the size of a one-byte keystroke (smaller than
//!   any set-up message), so OpenSSH's obfuscation chaff (`ping@openssh.com`, exactly that
//!   size) never pairs with a set-up message;
//! - a client keepalive and the server's reply are a near-side sample.
//!
//! Without them (the probe missed a KEXINIT, or compression is on) the rules above fall back
//! to sizes alone: any client packet up to [`MAX_KEYSTROKE_PACKET`] is a keystroke and a
//! server message after [`SILENCE_US`] of silence is taken as a keepalive request.

use super::keystroke::Keystrokes;
use super::stream::{Cursor, Fresh};
use super::{Lat, Seed};
use farhand_model::{Anomaly, Micros, Role};
use farhand_proto::Step;
use farhand_proto::ssh::framing::{Framing, Negotiated};
use farhand_proto::ssh::{
    ClearStream, KexInit, MSG_KEX_DH_GEX_INIT, MSG_KEX_DH_GEX_REPLY, MSG_KEX_DH_GEX_REQUEST, MSG_KEXDH_INIT,
    MSG_KEXDH_REPLY, MSG_NEWKEYS,
};

/// Set-up exchanges after NEWKEYS taken as far-leg samples.
pub const SETUP_PAIRS: u8 = 8;
/// Longest answer time taken as a sample (longer: a human was involved).
pub const MAX_ANSWER_US: Micros = 1_000_000;
/// Silence before a server message that makes it a keepalive-style request.
pub const SILENCE_US: Micros = 900_000;
/// Largest client packet (TCP payload) counted as a keystroke when the message classes are
/// unknown.
pub const MAX_KEYSTROKE_PACKET: usize = 100;
/// Most data bytes of a `CHANNEL_DATA` taken as one keystroke: a key, a UTF-8 character (up to
/// 4 bytes) or a terminal escape sequence (`ESC [ 1 5 ~` is 5). More is pasted text or a
/// command sent at once, not typing.
pub const KEY_DATA_MAX: usize = 6;
/// Two client packets closer than this were written by a program, not typed key by key (a
/// key, and the next client packet, are tens of milliseconds apart even for a fast typist;
/// keyboards poll every 1–8 ms and a key is sent when it is read).
pub const MACHINE_GAP_US: Micros = 3_000;

/// Payload bytes (message number included) of the messages [`Classes`] sizes.
mod payload {
    /// `CHANNEL_DATA` header: message number, recipient channel, data length.
    pub const CHANNEL_DATA_HEAD: usize = 1 + 4 + 4;
    /// `GLOBAL_REQUEST "keepalive@openssh.com"` with want-reply.
    pub const GLOBAL_KEEPALIVE: usize = 1 + 4 + 21 + 1;
    /// `CHANNEL_REQUEST` of the same name on a channel, with want-reply.
    pub const CHANNEL_KEEPALIVE: usize = 1 + 4 + 4 + 21 + 1;
    /// `SERVICE_REQUEST "ssh-userauth"`: the smallest message of set-up.
    pub const SERVICE_REQUEST: usize = 1 + 4 + 12;
    /// `REQUEST_SUCCESS` / `REQUEST_FAILURE` (no data).
    pub const REQUEST_REPLY: usize = 1;
    /// `CHANNEL_SUCCESS` / `CHANNEL_FAILURE`.
    pub const CHANNEL_REPLY: usize = 1 + 4;
}

/// Wire sizes (TCP payload) of the messages that matter to timing, per the negotiated
/// framing. A size shared by two classes is resolved by context: a client packet of the
/// keepalive size is never a keystroke (AES-GCM gives 3–6-byte escape sequences that size:
/// those keys are not counted), and a reply-sized client packet is an answer only right after
/// a server keepalive request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Classes {
    /// Client keystrokes: `CHANNEL_DATA` of 1..=[`KEY_DATA_MAX`] bytes.
    pub key: [usize; KEY_DATA_MAX],
    /// Whether a one-byte keystroke is smaller than any set-up message (`SERVICE_REQUEST`, the
    /// smallest), so the first one marks the end of set-up: true for the AEAD and
    /// encrypt-then-MAC framings; a classic MAC over 16-byte blocks can pad both to one size.
    pub key_ends_setup: bool,
    /// The client's keepalive request.
    pub client_keepalive: usize,
    /// The client's replies to a server keepalive (channel, global).
    pub client_reply: [usize; 2],
    /// The server's keepalive requests (channel, global).
    pub server_keepalive: [usize; 2],
    /// The server's reply to a client keepalive.
    pub server_reply: usize,
}

impl Classes {
    /// The sizes under `n`.
    pub fn of(n: &Negotiated) -> Classes {
        let (c, s): (Framing, Framing) = (n.c2s, n.s2c);
        let mut key = [0; KEY_DATA_MAX];
        for (d, k) in (1..).zip(key.iter_mut()) {
            *k = c.wire_len(payload::CHANNEL_DATA_HEAD + d);
        }
        Classes {
            key,
            key_ends_setup: key.first().is_some_and(|&k| k < c.wire_len(payload::SERVICE_REQUEST)),
            client_keepalive: c.wire_len(payload::GLOBAL_KEEPALIVE),
            client_reply: [c.wire_len(payload::CHANNEL_REPLY), c.wire_len(payload::REQUEST_REPLY)],
            server_keepalive: [s.wire_len(payload::CHANNEL_KEEPALIVE), s.wire_len(payload::GLOBAL_KEEPALIVE)],
            server_reply: s.wire_len(payload::REQUEST_REPLY),
        }
    }

    /// Whether a client packet of `len` bytes is a keystroke.
    pub fn is_key(&self, len: usize) -> bool {
        len != self.client_keepalive && self.key.contains(&len)
    }

    /// The classes of a session whose probe gathered both KEXINITs (`bufs`: the client's and
    /// the server's first bytes).
    pub fn from_seed(bufs: [&[u8]; 2]) -> Option<Classes> {
        let [c, s] = bufs;
        let n = Negotiated::from_kexinits(&seed_kexinit(c)?, &seed_kexinit(s)?)?;
        Some(Classes::of(&n))
    }
}

/// The KEXINIT that follows the identification line in a direction's first bytes.
fn seed_kexinit(buf: &[u8]) -> Option<KexInit<'_>> {
    // Lines before the identification (a server may send some), then the `SSH-` line.
    let mut rest = buf;
    loop {
        let end = rest.iter().position(|&b| b == b'\n')?;
        let (line, after) = rest.split_at_checked(end + 1)?;
        rest = after;
        if line.starts_with(farhand_proto::ssh::IDENT_PREFIX) {
            break;
        }
    }
    match farhand_proto::ssh::binary_packet(rest) {
        Step::Done((payload, _)) => farhand_proto::ssh::kexinit(payload),
        _ => None,
    }
}

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
    /// Message sizes, when the negotiated framing is known.
    classes: Option<Classes>,
    /// When the server's last keepalive request went out, awaiting the client's reply.
    server_keepalive: Option<Micros>,
    /// A reply-sized client packet sooner after that request than the far leg can answer: a
    /// key typed while the request was on its way (the server echoes it, or the reply follows)
    /// or the reply itself (nothing follows it); decided by what comes next.
    early_reply: Option<Micros>,
    /// When the client's last keepalive request went out, awaiting the server's reply.
    client_keepalive: Option<Micros>,
    /// When the client last sent data in the encrypted phase.
    last_client: Micros,
    /// Far-leg application RTT samples.
    pub far: Lat,
    /// Near-side samples (client message → server answer).
    pub near: Lat,
    /// Keystroke times.
    pub keys: Keystrokes,
    /// The client sent data in the encrypted phase (input of any kind: keys, answers,
    /// commands), not yet taken.
    pub input: Option<Micros>,
    /// The client's last encrypted-phase packet, and whether it was a key not yet found
    /// coupled.
    prev_client: Option<(Micros, bool)>,
    /// Keys within [`MACHINE_GAP_US`] of another client packet.
    coupled: u64,
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
            classes: Classes::from_seed(seed.bufs),
            server_keepalive: None,
            early_reply: None,
            client_keepalive: None,
            last_client: seed.ts,
            far: Lat::default(),
            near: Lat::default(),
            keys: Keystrokes::default(),
            input: None,
            prev_client: None,
            coupled: 0,
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

    /// The keystroke figures, or `None` when no key was counted or when at least half of the
    /// keys were coupled to other client packets (a program's session: see the module docs).
    pub fn keystrokes(&self) -> Option<farhand_model::session::KeystrokeStats> {
        if self.coupled.saturating_mul(2) >= self.keys.count() {
            return None;
        }
        self.keys.summary(Some(&self.keys_obfuscation()))
    }

    /// Keys counted that were within [`MACHINE_GAP_US`] of another client packet.
    pub fn coupled_keys(&self) -> u64 {
        self.coupled
    }

    /// A client packet of the encrypted phase at `ts`, a key or not: couples it and the
    /// previous one when they are closer than [`MACHINE_GAP_US`].
    fn note_client(&mut self, ts: Micros, key: bool) {
        let near = self.prev_client.filter(|(p, _)| ts.saturating_sub(*p) < MACHINE_GAP_US);
        if let Some((_, prev_key)) = near {
            self.coupled += u64::from(prev_key) + u64::from(key);
        }
        self.prev_client = Some((ts, key && near.is_none()));
    }

    /// One TCP segment of `role`.
    pub fn on_segment(&mut self, role: Role, ts: Micros, seq: u32, payload: &[u8]) {
        let Some(cursor) = self.cursor.get_mut(role.idx()) else { return };
        let fresh = cursor.advance(seq, ts, payload);
        let following = |s: &Self| s.clear.get(role.idx()).is_some_and(ClearStream::is_following);
        if following(self) {
            match fresh {
                Fresh::New(b) => self.parse(role, ts, b),
                Fresh::Lost => {
                    if let Some(c) = self.clear.get_mut(role.idx()) {
                        c.stop();
                    }
                }
                Fresh::Old | Fresh::Held => {}
            }
            // Clear-text bytes held past a hole that this segment filled.
            while following(self)
                && let Some((t, b)) = self.cursor.get_mut(role.idx()).and_then(Cursor::release)
            {
                self.parse(role, t, &b);
            }
            self.last_data = ts;
            return;
        }
        // A retransmission carries nothing new; an encrypted packet is classified when it
        // arrives, in order or not (its size is what counts), so what a filled hole releases
        // was seen already.
        if fresh == Fresh::Old {
            return;
        }
        while self.cursor.get_mut(role.idx()).and_then(Cursor::release).is_some() {}
        let keys = self.keys.count();
        match self.classes {
            Some(c) => self.classified(&c, role, ts, payload.len()),
            None => self.by_size(role, ts, payload.len()),
        }
        if role == Role::Initiator {
            self.note_client(ts, self.keys.count() > keys);
        }
        self.last_data = ts;
    }

    /// A set-up answer of the client `d` after the server spoke: a far sample while set-up
    /// lasts. Returns whether it was taken.
    fn setup_answer(&mut self, d: Micros) -> bool {
        if d > MAX_ANSWER_US {
            // A human-paced answer: set-up is over.
            self.setup_done = true;
            return false;
        }
        self.far.record(d);
        self.setup_pairs += 1;
        self.setup_done = self.setup_pairs >= SETUP_PAIRS;
        true
    }

    /// The soonest the client can answer a server message, as far as the far leg's samples
    /// tell: below where they agree by more than their agreement window
    /// ([`super::agree_half_width_us`]); 0 before there is a figure. A client packet sooner than
    /// that after sshd's keepalive request was on its way before the request reached the client.
    fn reply_floor(&self) -> Micros {
        self.far.agreement().and_then(|e| e.ms).map_or(0, |ms| {
            let centre = (ms * 1000.0) as Micros;
            centre.saturating_sub(super::agree_half_width_us(centre))
        })
    }

    /// One keystroke of the client at `ts`; its echo will be a near sample.
    fn key(&mut self, ts: Micros) {
        self.keys.key(ts);
        self.near_start = Some(ts);
    }

    /// An encrypted-phase segment when the message sizes are known (see the module docs).
    fn classified(&mut self, c: &Classes, role: Role, ts: Micros, len: usize) {
        let fresh = |t: Option<Micros>| t.filter(|t| ts.saturating_sub(*t) <= MAX_ANSWER_US);
        if role == Role::Responder {
            // sshd asks only after the client was silent for `ClientAliveInterval` (whole
            // seconds): a message of that size right after client data (a prompt after the
            // Enter key) is output.
            if c.server_keepalive.contains(&len) && ts.saturating_sub(self.last_client) >= SILENCE_US {
                // An early reply-sized packet nothing followed was the reply to the last one.
                if let Some(e) = self.early_reply.take()
                    && let Some(t) = self.server_keepalive
                {
                    self.far.record(e.saturating_sub(t));
                }
                self.server_keepalive = Some(ts);
                self.server_since_client = None;
                return;
            }
            if len == c.server_reply
                && let Some(t) = fresh(self.client_keepalive.take())
            {
                self.near.record(ts.saturating_sub(t));
                return;
            }
            // sshd answers a key (its echo), never a keepalive reply: the early packet was a key.
            if let Some(e) = self.early_reply.take() {
                self.key(e);
            }
            if let Some(t) = fresh(self.near_start.take()) {
                self.near.record(ts.saturating_sub(t));
            }
            self.server_since_client = Some((ts, false));
            return;
        }
        let request = fresh(self.server_keepalive);
        // Sooner after the request than the far leg can answer: sent before the request reached
        // the client (a key typed while it was on its way), unless it is the reply itself.
        let early = request.is_some_and(|t| ts.saturating_sub(t) < self.reply_floor());
        let reply_sized = c.client_reply.contains(&len);
        if let Some(e) = self.early_reply.take() {
            if reply_sized && request.is_some() {
                // A second reply-sized packet: the first was a key, this one is the reply.
                self.key(e);
            } else if let Some(t) = request {
                // Something else follows: the early packet was the reply.
                self.far.record(e.saturating_sub(t));
                self.server_keepalive = None;
            }
        }
        if let Some(t) = fresh(self.server_keepalive)
            && reply_sized
        {
            self.last_client = ts;
            // Still input for the stepping-stone matcher, whichever it is.
            self.input = Some(ts);
            if early {
                self.early_reply = Some(ts);
                return;
            }
            self.server_keepalive = None;
            self.far.record(ts.saturating_sub(t));
            return;
        }
        if !early {
            self.server_keepalive = None;
        }
        self.last_client = ts;
        if len == c.client_keepalive {
            self.client_keepalive = Some(ts);
            return;
        }
        self.input = Some(ts);
        let key = c.is_key(len);
        let since = self.server_since_client.take();
        if !self.setup_done {
            if c.key_ends_setup && c.key.first() == Some(&len) {
                // A one-byte keystroke (or OpenSSH's chaff, the same size) — no set-up message
                // is that small (`SERVICE_REQUEST`, the smallest, is 17 payload bytes to a
                // key's 10): typing began, set-up is over.
                self.setup_done = true;
            } else if let Some((t, _)) = since
                && (self.setup_answer(ts.saturating_sub(t)) || !self.setup_done)
            {
                return;
            }
        }
        if key && self.setup_done {
            self.key(ts);
        }
    }

    /// An encrypted-phase segment when only sizes are known: the fallback rules.
    fn by_size(&mut self, role: Role, ts: Micros, len: usize) {
        if role == Role::Responder {
            if let Some(t) = self.near_start.take()
                && ts.saturating_sub(t) <= MAX_ANSWER_US
            {
                self.near.record(ts.saturating_sub(t));
            }
            let after_silence =
                ts.saturating_sub(self.last_data) >= SILENCE_US || matches!(self.server_since_client, Some((_, true)));
            self.server_since_client = Some((ts, after_silence));
            return;
        }
        self.input = Some(ts);
        let mut answer = false;
        if let Some((t, after_silence)) = self.server_since_client.take() {
            let d = ts.saturating_sub(t);
            if !self.setup_done {
                answer = self.setup_answer(d);
            } else if after_silence && d <= MAX_ANSWER_US {
                self.far.record(d);
                answer = true;
            }
        }
        if !answer && self.setup_done && len <= MAX_KEYSTROKE_PACKET {
            self.key(ts);
        }
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
                    self.far.record(ts.saturating_sub(t));
                }
                if msg != MSG_NEWKEYS {
                    self.near_start = Some(ts);
                }
            }
            (Role::Responder, MSG_KEXDH_REPLY | MSG_KEX_DH_GEX_REPLY) => {
                if let Some(t) = self.near_start.take()
                    && ts.saturating_sub(t) <= MAX_ANSWER_US
                {
                    self.near.record(ts.saturating_sub(t));
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

    /// A session seeded with the real OpenSSH 9.2 banners and KEXINITs (chacha20-poly1305
    /// negotiated), through the key exchange and four set-up exchanges answered 120 ms later.
    fn real_session() -> (Sess, Micros) {
        use crate::testutil::ssh::{CLIENT, SERVER};
        use crate::testutil::unhex;
        let (c, srv) = (unhex(CLIENT), unhex(SERVER));
        let mut s = Sess { t: SshTiming::new(&seed(&c, &srv)), seq: [1000 + c.len() as u32, 5000 + srv.len() as u32] };
        s.send(0, 100_000, &pkt(30, 32));
        let mut reply = pkt(31, 300);
        reply.extend(pkt(21, 0));
        s.send(1, 103_000, &reply);
        s.send(0, 223_000, &pkt(21, 0));
        let mut at = 230_000;
        for _ in 0..4 {
            s.send(1, at, &[0; 100]);
            s.send(0, at + 120_000, &[0; 140]);
            at += 130_000;
        }
        (s, at)
    }

    #[test]
    fn keys_a_program_writes_with_other_packets_are_no_typing() {
        // rsync/scp/git over SSH (own-ssh-machine): keystroke-sized client packets, each within
        // MACHINE_GAP_US of another client packet (a protocol acknowledgement before the next
        // message; the channel's EOF and CLOSE back to back). No keystroke figures.
        let (mut s, mut at) = real_session();
        at += 2_000_000;
        for _ in 0..3 {
            s.send(1, at, &[0; 1448]);
            s.send(0, at + 100, &[0; 36]);
            s.send(0, at + 100 + MACHINE_GAP_US - 1, &[0; 68]);
            at += 300_000;
        }
        s.send(0, at, &[0; 36]);
        s.send(0, at + 100, &[0; 60]);
        assert_eq!((s.t.keys.count(), s.t.coupled_keys()), (4, 4));
        assert_eq!(s.t.keystrokes(), None);
        // Typing: keys tens of milliseconds apart and echoed; a couple of them land next to
        // another client packet by chance (a keepalive, a reordered pair): still typing.
        let (mut s, mut at) = real_session();
        at += 2_000_000;
        for i in 0..10u64 {
            s.send(0, at, &[0; 36]);
            s.send(1, at + 1_500, &[0; 36]);
            if i < 2 {
                s.send(0, at + MACHINE_GAP_US - 1, &[0; 36]);
            }
            at += 150_000 + i * 7_000;
        }
        assert_eq!((s.t.keys.count(), s.t.coupled_keys()), (12, 4));
        assert_eq!(s.t.keystrokes().map(|k| k.keys), Some(12));
        // Exactly MACHINE_GAP_US apart is not coupled; half the keys coupled is a program's.
        let (mut s, mut at) = real_session();
        at += 2_000_000;
        s.send(0, at, &[0; 36]);
        s.send(0, at + MACHINE_GAP_US, &[0; 36]);
        assert_eq!(s.t.coupled_keys(), 0);
        at += 500_000;
        s.send(0, at, &[0; 36]);
        s.send(0, at + 10, &[0; 36]);
        assert_eq!((s.t.keys.count(), s.t.coupled_keys()), (4, 2));
        assert_eq!(s.t.keystrokes(), None);
    }

    #[test]
    fn classes_from_the_negotiated_cipher() {
        use crate::testutil::ssh::{CLIENT, SERVER};
        use crate::testutil::unhex;
        let c = Classes::from_seed([&unhex(CLIENT), &unhex(SERVER)]).expect("chacha20-poly1305 negotiated");
        // The sizes measured in the lab (OpenSSH 10, chacha20-poly1305).
        assert_eq!(c.key, [36, 36, 44, 44, 44, 44]);
        assert_eq!(
            (c.client_keepalive, c.client_reply, c.server_keepalive, c.server_reply),
            (52, [36, 28], [60, 52], 28)
        );
        assert!(c.key_ends_setup && c.is_key(36) && c.is_key(44) && !c.is_key(52) && !c.is_key(60));
        // Every truncation of either side's first bytes: no panic, and no classes until both
        // KEXINITs are whole.
        let (cb, sb) = (unhex(CLIENT), unhex(SERVER));
        for cut in 0..cb.len() {
            assert_eq!(Classes::from_seed([&cb[..cut], &sb]), None, "client cut at {cut}");
        }
        for cut in 0..sb.len() {
            assert_eq!(Classes::from_seed([&cb, &sb[..cut]]), None, "server cut at {cut}");
        }
        // Hostile lengths: a packet length past the end, a name-list length past the packet.
        let mut huge = b"SSH-2.0-x\r\n".to_vec();
        huge.extend([0xff, 0xff, 0xff, 0xf0, 4, 20]);
        assert_eq!(Classes::from_seed([&huge, &sb]), None);
        let mut lying = b"SSH-2.0-x\r\n".to_vec();
        lying.extend([0, 0, 0, 24, 4, 20]);
        lying.extend([0; 16]);
        lying.extend([0x7f, 0xff, 0xff, 0xff, 0, 0]);
        assert_eq!(Classes::from_seed([&lying, &sb]), None);
        // No KEXINIT (or a broken one): no classes.
        assert_eq!(Classes::from_seed([b"SSH-2.0-x\r\n", b"SSH-2.0-y\r\n"]), None);
        assert_eq!(Classes::from_seed([&unhex(CLIENT), b"SSH-2.0-y\r\n\0\0\0\x05\x04\x14"]), None);
    }

    #[test]
    fn keepalives_are_neither_keystrokes_nor_stray_far_samples() {
        let (mut s, mut at) = real_session();
        assert_eq!(s.t.far.len(), 5);
        // Typing: ten keys 200 ms apart (the first ends set-up), each echoed 1 ms later; a client
        // keepalive (52 bytes, ServerAliveInterval) between two of them, answered in 0.3 ms.
        at += 2_000_000;
        for i in 0..10 {
            s.send(0, at, &[0; 36]);
            s.send(1, at + 1_000, &[0; 36]);
            if i == 4 {
                s.send(0, at + 100_000, &[0; 52]);
                s.send(1, at + 100_300, &[0; 28]);
            }
            at += 200_000;
        }
        assert!(s.t.setup_done);
        let k = s.t.keys.summary(None).unwrap();
        assert_eq!((k.keys, k.intervals), (10, 9), "the keepalive is not a key: {k:?}");
        assert_eq!(
            s.t.near.quantile(0.0).map(|v| v / 100),
            Some(3),
            "the client keepalive's 0.3 ms answer is a near sample"
        );
        assert!((k.iki_median_ms.unwrap() - 200.0).abs() < 2.0);
        assert_eq!(s.t.far.len(), 5, "no far sample from typing or the client's keepalive");
        // sshd's keepalive after 1 s of client silence, answered 120 ms later: a far sample, not
        // a key; the reply to it is still input.
        at += 1_000_000;
        s.send(1, at, &[0; 60]);
        s.t.input = None;
        s.send(0, at + 120_000, &[0; 36]);
        assert_eq!(s.t.far.len(), 6);
        assert_eq!(s.t.far.quantile(1.0).map(|v| (v + 500) / 1000), Some(120));
        assert_eq!(s.t.keys.count(), 10);
        assert!(s.t.input.is_some());
        // A 60-byte prompt right after an Enter is output, not a keepalive: the key typed 300 ms
        // later is a key and no far sample.
        at += 2_000_000;
        s.send(0, at, &[0; 36]);
        s.send(1, at + 1_000, &[0; 60]);
        s.send(0, at + 300_000, &[0; 36]);
        assert_eq!((s.t.keys.count(), s.t.far.len()), (12, 6));
        // Server data after silence that is not a keepalive request: no far sample (the
        // fallback's after-silence rule is off when sizes are known).
        at += 3_000_000;
        s.send(1, at, &[0; 100]);
        s.send(0, at + 50_000, &[0; 36]);
        assert_eq!(s.t.far.len(), 6);
    }

    #[test]
    fn a_key_that_crosses_the_keepalive_request_is_a_key_and_the_reply_follows() {
        // Set-up answered 120 ms later; typing; then, after a pause, sshd's keepalive request.
        // The controller typed the next word's first key 40 ms before the request reached it:
        // the key arrives 80 ms after the request (60 ms each way, less the 40) and is echoed,
        // the reply at 120 ms. The key is a key, the reply is the far sample, and the interval to the
        // second key is the typed one.
        let (mut s, mut at) = real_session();
        at += 2_000_000;
        for _ in 0..5 {
            s.send(0, at, &[0; 36]);
            s.send(1, at + 1_000, &[0; 36]);
            at += 200_000;
        }
        at += 1_000_000;
        s.send(1, at, &[0; 60]);
        s.send(0, at + 80_000, &[0; 36]);
        s.send(1, at + 81_000, &[0; 36]);
        s.send(0, at + 120_000, &[0; 36]);
        s.send(0, at + 290_000, &[0; 36]);
        assert_eq!(s.t.keys.count(), 7, "the crossing key and the next are keys, the reply is not");
        assert_eq!(s.t.far.len(), 6);
        assert_eq!(s.t.far.quantile(1.0).map(|v| (v + 500) / 1000), Some(120), "the reply's 120 ms");
        let k = s.t.keys.summary(None).unwrap();
        assert_eq!(k.intervals, 5, "four in the first word, one in the second: {k:?}");
        // Not echoed, the crossing key is still a key when the reply follows it.
        at += 2_000_000;
        s.send(1, at, &[0; 60]);
        s.send(0, at + 50_000, &[0; 36]);
        s.send(0, at + 121_000, &[0; 36]);
        assert_eq!((s.t.keys.count(), s.t.far.len()), (8, 7));
        // A reply sooner than the far leg answers (the path's jitter) that nothing follows is
        // the reply: no key, its sample taken when sshd asks again.
        at += 2_000_000;
        s.send(1, at, &[0; 60]);
        s.send(0, at + 70_000, &[0; 36]);
        assert_eq!((s.t.keys.count(), s.t.far.len()), (8, 7), "undecided yet");
        s.send(1, at + 1_000_000, &[0; 60]);
        assert_eq!((s.t.keys.count(), s.t.far.len()), (8, 8));
        assert_eq!(s.t.far.quantile(0.0).map(|v| (v + 500) / 1000), Some(70));
        // ... or when the client sends something else (a two-byte key) next.
        s.send(0, at + 1_060_000, &[0; 36]);
        s.send(0, at + 1_400_000, &[0; 44]);
        assert_eq!((s.t.keys.count(), s.t.far.len()), (9, 9));
        // A two-byte key (not reply-sized) crossing the request leaves it pending: the reply
        // after it is the sample, not a key.
        at += 3_000_000;
        s.send(1, at, &[0; 60]);
        s.send(0, at + 50_000, &[0; 44]);
        s.send(1, at + 51_000, &[0; 44]);
        s.send(0, at + 121_000, &[0; 36]);
        assert_eq!((s.t.keys.count(), s.t.far.len()), (10, 10));
        // A reply exactly at the floor is the reply at once.
        at += 3_000_000;
        s.send(1, at, &[0; 60]);
        let floor = s.t.reply_floor();
        assert!(floor > 0);
        s.send(0, at + floor, &[0; 36]);
        assert_eq!((s.t.keys.count(), s.t.far.len()), (10, 11));
        // Without a far-leg figure (no set-up samples) the first reply-sized packet is the
        // reply, as before.
        let (mut t, mut at) = real_session();
        assert!(t.t.reply_floor() > 90_000, "the set-up's 120 ms less its window");
        t.t.far = Lat::default();
        assert_eq!(t.t.reply_floor(), 0);
        at += 2_000_000;
        t.send(0, at, &[0; 36]);
        at += 1_000_000;
        t.send(1, at, &[0; 60]);
        t.send(0, at + 5_000, &[0; 36]);
        assert_eq!(t.t.far.len(), 1);
        assert_eq!(t.t.far.quantile(1.0).map(|v| (v + 500) / 1000), Some(5));
    }

    #[test]
    fn the_last_set_up_answer_is_no_key_whatever_its_size() {
        // Set-up answers until the last of SETUP_PAIRS, which happens to be the size of a
        // two-byte keystroke: a far sample that ends set-up, not a key.
        let (mut s, mut at) = real_session();
        while s.t.setup_pairs + 1 < SETUP_PAIRS {
            s.send(1, at, &[0; 100]);
            s.send(0, at + 120_000, &[0; 140]);
            at += 130_000;
        }
        assert!(!s.t.setup_done);
        s.send(1, at, &[0; 100]);
        s.send(0, at + 120_000, &[0; 44]);
        assert!(s.t.setup_done);
        assert_eq!(s.t.keys.count(), 0);
    }

    #[test]
    fn obfuscation_chaff_ends_set_up_and_is_never_a_far_sample() {
        let (mut s, mut at) = real_session();
        assert!(!s.t.setup_done);
        // OpenSSH >= 9.5: the first key starts a 20 ms cadence of keys and chaff (36 bytes
        // each), the server answering each at once (echo or pong). Set-up ends at the first.
        at += 1_500_000;
        for _ in 0..50 {
            s.send(0, at, &[0; 36]);
            s.send(1, at + 500, &[0; 36]);
            at += 20_000;
        }
        assert!(s.t.setup_done);
        assert_eq!(s.t.far.len(), 5, "chaff never pairs as a set-up answer");
        assert!(s.t.keys_obfuscation());
        let est = s.t.far.agreement().unwrap();
        assert_eq!((est.status, est.agreeing), ("ok", 5), "the key exchange and four set-up answers");
        assert!((est.ms.unwrap() - 120.0).abs() < 1.5, "{est:?}");
    }

    #[test]
    fn time_running_backwards_is_no_panic() {
        // A capture whose timestamps step back (hostile or merged files): answers "before"
        // their question are no samples worth a panic.
        let (mut s, at) = real_session();
        s.send(0, at + 2_000_000, &[0; 36]);
        s.send(1, at + 1_000_000, &[0; 36]);
        s.send(1, at + 5_000_000, &[0; 60]);
        s.send(0, at + 4_000_000, &[0; 36]);
        s.send(0, at + 6_000_000, &[0; 52]);
        s.send(1, at + 3_000_000, &[0; 28]);
        let mut t = SshTiming::new(&seed(b"", b""));
        t.on_segment(Role::Initiator, 5_000_000, 1000, &[0; 36]);
        t.on_segment(Role::Responder, 1_000, 5000, &[0; 36]);
        t.on_segment(Role::Initiator, 10, 1036, &[0; 36]);
    }
}
