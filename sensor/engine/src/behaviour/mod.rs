//! Behaviour: timing signals of recognised sessions — transport RTT per leg, application RTT
//! on the far leg and its near-side baseline, the relay latency gap, keystroke timing.
//!
//! # Contract
//! - A [`Behaviour`] lives in a recognised session's detector state (boxed, only for the tools
//!   whose timing it reads: every remote-control tool for transport RTT, SSH, VNC and RDP (TLS) for
//!   application RTT and keystrokes, STUN/TURN for transaction RTT). It sees every later
//!   packet of the session, in capture order, with the packet time; it never sees or keeps
//!   payload beyond the protocol headers it parses (no keystroke contents, only times).
//! - Roles are the flow's: 0 = initiator (the SSH/VNC/RDP client: the controller's side), 1 =
//!   responder (the controlled endpoint's server). "Far" = beyond the sensor on the
//!   initiator's side; "near" = the endpoint's side.
//! - Per-packet work is constant time and allocation-free once a histogram exists; histograms
//!   ([`Lat`]) are allocated on their first sample.
//! - [`Behaviour::on_packet`] reports what a packet means for stepping stones ([`OnStarts`]:
//!   input, the start of a typing ON period, a keystroke); the detect engine matches them
//!   across the sessions of one host ([`stepping_stone`]).
//! - [`Behaviour::summary`] turns the state into a [`Summary`] (percentiles, gap, keystroke
//!   figures) when the flow record ends; the verdict decides on `relayed_remote_control` from
//!   it with `farhand_report::relay_latency::judge`.
//! - Nothing here panics on packet bytes: parsers use checked access only, and lose sync
//!   (stop reading) rather than guess.

pub mod keystroke;
pub mod rdp;
pub mod rtt;
pub mod ssh;
pub mod stepping_stone;
pub mod stream;
pub mod stun;
pub mod vnc;
use crate::decode::PacketView;
use farhand_model::session::{FarEstimate, LatStats, LegEstimates, LegStats, Summary};
use farhand_model::tool::{Tool, Transport};
use farhand_model::{Anomaly, Micros, Role};
use hdrhistogram::Histogram;

/// Largest latency recorded (longer samples are clamped): 60 s.
pub const MAX_LATENCY_US: u64 = 60_000_000;
pub use farhand_model::session::{AGREE_BAND, AGREE_MIN_US, AGREE_SHARE, agree_band_us, agree_half_width_us};
/// Fewest agreeing samples for a far-leg figure.
pub const MIN_AGREEING: u64 = 3;
/// Smallest share of all samples that must agree for a figure.
pub const MIN_AGREEING_SHARE: f64 = 0.4;

/// A latency distribution in microseconds (HDR histogram, 2 significant digits), allocated on
/// its first sample.
#[derive(Debug, Clone, Default)]
pub struct Lat {
    h: Option<Box<Histogram<u32>>>,
}

impl Lat {
    /// Records one sample (microseconds; clamped to [1, `MAX_LATENCY_US`]).
    pub fn record(&mut self, us: u64) {
        if self.h.is_none() {
            self.h = Histogram::new_with_bounds(1, MAX_LATENCY_US, 2).ok().map(Box::new);
        }
        if let Some(h) = self.h.as_mut() {
            // Saturation of a counter only drops the sample.
            let _ = h.record(us.clamp(1, MAX_LATENCY_US));
        }
    }

    /// Records `n` samples of the same value.
    pub fn record_n(&mut self, us: u64, n: u64) {
        if n == 0 {
            return;
        }
        if self.h.is_none() {
            self.h = Histogram::new_with_bounds(1, MAX_LATENCY_US, 2).ok().map(Box::new);
        }
        if let Some(h) = self.h.as_mut() {
            let _ = h.record_n(us.clamp(1, MAX_LATENCY_US), u32::try_from(n).unwrap_or(u32::MAX));
        }
    }

    /// Number of samples.
    pub fn len(&self) -> u64 {
        self.h.as_ref().map_or(0, |h| h.len())
    }

    /// No samples yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Value at quantile `q` (0..=1), in microseconds.
    pub fn quantile(&self, q: f64) -> Option<u64> {
        self.h.as_ref().filter(|h| !h.is_empty()).map(|h| h.median_equivalent(h.value_at_quantile(q)))
    }

    /// Summary in milliseconds, if there are samples.
    pub fn stats(&self) -> Option<LatStats> {
        let h = self.h.as_ref().filter(|h| !h.is_empty())?;
        let ms = |us: u64| (us as f64 / 100.0).round() / 10.0;
        Some(LatStats {
            n: h.len(),
            min_ms: ms(h.median_equivalent(h.min())),
            p10_ms: ms(h.median_equivalent(h.value_at_quantile(0.10))),
            p50_ms: ms(h.median_equivalent(h.value_at_quantile(0.50))),
            p90_ms: ms(h.median_equivalent(h.value_at_quantile(0.90))),
        })
    }

    /// Where the samples agree ([`FarEstimate`]): the window of half-width
    /// max([`AGREE_MIN_US`], [`AGREE_SHARE`] × centre) around one recorded value that holds
    /// the most samples (the lower centre on a tie) finds the mode; the samples within
    /// [`agree_band_us`] of that window's median agree, and the figure is their
    /// Hodges–Lehmann centre ([`hodges_lehmann`]). `insufficient` (no figure) when fewer than
    /// [`MIN_AGREEING`] samples, or less than [`MIN_AGREEING_SHARE`] of all, agree.
    pub fn agreement(&self) -> Option<FarEstimate> {
        let h = self.h.as_ref().filter(|h| !h.is_empty())?;
        // (value, count) in ascending order: at most a few hundred distinct values at two
        // significant digits over the recorded range.
        let pts: Vec<(u64, u64)> = h
            .iter_recorded()
            .map(|v| (h.median_equivalent(v.value_iterated_to()), u64::from(v.count_at_value())))
            .collect();
        let half = agree_half_width_us;
        let mut best: Option<(u64, usize, usize)> = None; // (count, first, last index)
        let (mut lo, mut hi, mut sum) = (0usize, 0usize, 0u64);
        for &(c, _) in &pts {
            let w = half(c);
            while pts.get(lo).is_some_and(|&(v, _)| v + w < c) {
                sum -= pts.get(lo).map_or(0, |p| p.1);
                lo += 1;
            }
            while let Some(&(v, n)) = pts.get(hi)
                && v <= c + w
            {
                sum += n;
                hi += 1;
            }
            if best.is_none_or(|(b, _, _)| sum > b) {
                best = Some((sum, lo, hi));
            }
        }
        let (in_window, lo, hi) = best?;
        let mode = weighted_quantile(pts.get(lo..hi)?, in_window, 0.5)?;
        let band = agree_band_us(mode);
        let inside: Vec<(u64, u64)> =
            pts.iter().copied().filter(|&(v, _)| v + band >= mode && v <= mode + band).collect();
        let agreeing: u64 = inside.iter().map(|p| p.1).sum();
        let ms = |us: u64| (us as f64 / 100.0).round() / 10.0;
        let of = h.len();
        let ok = agreeing >= MIN_AGREEING && agreeing as f64 >= MIN_AGREEING_SHARE * of as f64;
        let at = |q: f64| weighted_quantile(&inside, agreeing, q);
        let spread = at(0.9).zip(at(0.1)).map(|(a, b)| ms(a.saturating_sub(b)));
        Some(FarEstimate {
            ms: hodges_lehmann(&inside).map(ms).filter(|_| ok),
            agreeing,
            of,
            spread_ms: spread.filter(|_| ok),
            status: if ok { "ok" } else { "insufficient" },
        })
    }

    /// The smallest sample in microseconds (within the histogram's 1 % resolution), in
    /// constant time.
    pub fn min(&self) -> Option<u64> {
        self.h.as_ref().filter(|h| !h.is_empty()).map(|h| h.median_equivalent(h.min()))
    }

    /// Mean and standard deviation in microseconds.
    pub fn mean_stdev(&self) -> Option<(f64, f64)> {
        self.h.as_ref().filter(|h| !h.is_empty()).map(|h| (h.mean(), h.stdev()))
    }
}

/// The value at quantile `q` of `(value, count)` pairs in ascending order holding `total`
/// samples (the sample of rank ⌈q × total⌉, at least the first).
fn weighted_quantile(pts: &[(u64, u64)], total: u64, q: f64) -> Option<u64> {
    let rank = ((total as f64 * q).ceil() as u64).max(1);
    let mut seen = 0u64;
    pts.iter()
        .find(|&&(_, n)| {
            seen = seen.saturating_add(n);
            seen >= rank
        })
        .map(|p| p.0)
}

/// More distinct values than this and [`hodges_lehmann`] takes the median instead: the pairs
/// grow with the square, and so many distinct values in one band come from so many samples
/// that their median is as steady.
pub const HL_MAX_DISTINCT: usize = 256;

/// The Hodges–Lehmann centre of `(value, count)` pairs in ascending order: the median of the
/// means of all pairs of samples (each sample with itself included), counts as weights —
/// robust like a median (over a quarter of the samples must be stray to carry it), but using
/// every sample's distance like a mean. The median when there are more than
/// [`HL_MAX_DISTINCT`] distinct values; `None` without samples.
pub fn hodges_lehmann(pts: &[(u64, u64)]) -> Option<u64> {
    let total: u64 = pts.iter().map(|p| p.1).sum();
    if total == 0 {
        return None;
    }
    if pts.len() > HL_MAX_DISTINCT {
        return weighted_quantile(pts, total, 0.5);
    }
    // (sum of the pair, its weight): the mean is half the sum, kept whole to stay exact.
    let mut pairs: Vec<(u64, u128)> = Vec::with_capacity(pts.len() * (pts.len() + 1) / 2);
    for (i, &(a, na)) in pts.iter().enumerate() {
        let na = u128::from(na);
        pairs.push((a.saturating_mul(2), na * (na + 1) / 2));
        for &(b, nb) in pts.get(i + 1..).unwrap_or_default() {
            pairs.push((a.saturating_add(b), na * u128::from(nb)));
        }
    }
    pairs.sort_unstable_by_key(|p| p.0);
    let all: u128 = pairs.iter().map(|p| p.1).sum();
    // the lower and upper median of an even count, averaged
    let (lo_rank, hi_rank) = (all.div_ceil(2), all / 2 + 1);
    let (mut seen, mut lo, mut hi) = (0u128, None, None);
    for &(sum, w) in &pairs {
        seen += w;
        if lo.is_none() && seen >= lo_rank {
            lo = Some(sum);
        }
        if seen >= hi_rank {
            hi = Some(sum);
            break;
        }
    }
    Some((lo?.saturating_add(hi?)) / 4)
}

/// Timing state of one recognised session.
#[derive(Debug, Clone)]
pub struct Behaviour {
    /// The tool.
    tool: Tool,
    /// Transport RTT per leg: TCP data/ACK and handshake samples, or UDP request/response
    /// pairs (STUN/TURN transactions, the first request and reply).
    rtt: rtt::TcpRtt,
    /// Protocol-specific application timing.
    app: App,
    /// Stepping-stone counts (this session as the driven, outbound one).
    pub chain: stepping_stone::ChainCount,
}

/// What a packet means for [`stepping_stone`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OnStarts {
    /// The initiator's input (SSH client data after the key exchange, VNC key or pointer
    /// event): the session as a driver of its responder.
    pub input: Option<Micros>,
    /// A keystroke after [`stepping_stone::ON_IDLE_US`] without one: a typing period of the
    /// session as possibly driven.
    pub keys: Option<Micros>,
    /// Any keystroke (the start of a period or not): one key of the session as possibly
    /// driven, matched one by one ([`stepping_stone::KeyMatch`]).
    pub key: Option<Micros>,
}

/// Protocol-specific timing.
#[derive(Debug, Clone)]
enum App {
    None,
    Ssh(Box<ssh::SshTiming>),
    Vnc(Box<vnc::VncTiming>),
    Rdp(Box<rdp::RdpTiming>),
    Stun(Box<stun::StunTiming>),
}

impl Behaviour {
    /// Where the protocol follower lost the session's framing (at most one per direction):
    /// counted by the engine when the flow ends.
    pub fn anomalies(&self) -> impl Iterator<Item = Anomaly> + '_ {
        let found: [Option<Anomaly>; 2] = match &self.app {
            App::Ssh(t) => t.anomalies(),
            App::Vnc(t) => t.anomalies(),
            App::Rdp(t) => t.anomalies(),
            App::None | App::Stun(_) => [None, None],
        };
        found.into_iter().flatten()
    }
}

/// The bytes and state a session's probe gathered before recognition, to start the
/// protocol parsers in step with the streams.
#[derive(Debug, Clone, Copy)]
pub struct Seed<'a> {
    /// Transport.
    pub transport: Transport,
    /// First bytes per role, in stream order (TCP) or the first datagram (UDP).
    pub bufs: [&'a [u8]; 2],
    /// TCP handshake times (SYN, SYN/ACK, ACK); 0 = not seen.
    pub handshake: [Micros; 3],
    /// TCP: where each role's stream stands after those bytes — the next expected sequence
    /// number (`None`: unknown), lost when the probe lost the position (a hole that was not
    /// filled, the buffer limit), and the segments it holds past a hole not yet filled.
    pub cursors: [&'a stream::Cursor; 2],
    /// UDP: when the flow's first datagram was seen, and when the session was recognised
    /// (the first reply): a handshake round trip when the fingerprint matched on a
    /// request/response pair.
    pub first_ts: Micros,
    /// When the session was recognised.
    pub ts: Micros,
}

/// A TCP seed for the parsers' unit tests: client bytes from sequence number 1000, server
/// bytes from 5000, nothing lost, no handshake times.
#[cfg(test)]
pub(crate) fn tcp_seed<'a>(c: &'a [u8], s: &'a [u8]) -> Seed<'a> {
    Seed {
        transport: Transport::Tcp,
        bufs: [c, s],
        handshake: [0; 3],
        cursors: [cursor_at(1000 + c.len() as u32), cursor_at(5000 + s.len() as u32)],
        first_ts: 0,
        ts: 0,
    }
}

/// A leaked cursor at `next`, for test seeds.
#[cfg(test)]
pub(crate) fn cursor_at(next: u32) -> &'static stream::Cursor {
    Box::leak(Box::new(stream::Cursor::new(Some(next), false)))
}

impl Seed<'_> {
    /// The stream cursor of `role` after the probe's bytes: lost when the probe lost the
    /// position, or gathered bytes without a known end.
    pub fn cursor(&self, role: Role) -> stream::Cursor {
        let Some(&c) = self.cursors.get(role.idx()) else { return stream::Cursor::new(None, true) };
        let had = self.bufs.get(role.idx()).is_some_and(|b| !b.is_empty());
        if c.next().is_none() && had {
            return stream::Cursor::new(None, true);
        }
        c.clone()
    }
}

impl Behaviour {
    /// Timing state for a session of `tool`, if its timing is read.
    pub fn new(tool: Tool, seed: &Seed<'_>) -> Option<Box<Behaviour>> {
        use farhand_model::Category;
        let app = match (tool, seed.transport) {
            (Tool::Ssh, Transport::Tcp) => App::Ssh(Box::new(ssh::SshTiming::new(seed))),
            (Tool::Vnc, Transport::Tcp) => App::Vnc(Box::new(vnc::VncTiming::new(seed))),
            (Tool::Rdp, Transport::Tcp) => App::Rdp(Box::new(rdp::RdpTiming::new(seed))),
            (Tool::StunTurn | Tool::ChromeRemoteDesktop | Tool::IpKvm | Tool::Parsec, Transport::Udp) => {
                App::Stun(Box::new(stun::StunTiming::new(seed)))
            }
            (_, Transport::Icmp | Transport::Esp | Transport::Ah | Transport::Gre) => return None,
            _ if tool.category() == Category::RemoteControl => App::None,
            (Tool::WireGuard | Tool::CloudflareWarp | Tool::Rdp, Transport::Udp) => App::None,
            _ => return None,
        };
        let mut b = Behaviour { tool, rtt: rtt::TcpRtt::default(), app, chain: Default::default() };
        let [initiator_leg, responder_leg] = &mut b.rtt.legs;
        // The TCP handshake is one sample per leg.
        if let [syn, synack, ack] = seed.handshake
            && syn != 0
        {
            if synack > syn {
                responder_leg.record(synack - syn);
            }
            if ack > synack && synack != 0 {
                initiator_leg.record(ack - synack);
            }
        }
        // A UDP handshake matched on its first request and reply (WireGuard, RDP-UDP SYN,
        // STUN): that pair is one round trip on the responder's leg.
        if seed.transport == Transport::Udp
            && !seed.bufs[0].is_empty()
            && !seed.bufs[1].is_empty()
            && seed.ts > seed.first_ts
            && seed.ts - seed.first_ts < 10_000_000
        {
            responder_leg.record(seed.ts - seed.first_ts);
        }
        Some(Box::new(b))
    }

    /// One packet of the session, sent by `role`. Returns what the packet means for [`stepping_stone`]: as a driver, every
    /// input packet counts (the first key of a word may cross a keepalive answer and be taken
    /// for it); as the driven session only the start of a typing period counts (its own
    /// keepalive answers are not typing).
    pub fn on_packet(&mut self, v: &PacketView<'_>, role: Role) -> OnStarts {
        let mut on = OnStarts::default();
        if let Some(t) = v.tcp {
            self.rtt.on_segment(role, v.ts, t.seq, t.ack, t.flags, v.payload.len());
            match &mut self.app {
                App::Ssh(s) => {
                    s.on_segment(role, v.ts, t.seq, v.payload);
                    on = OnStarts { input: s.input.take(), keys: s.keys.take_on_start(), key: s.keys.take_key() };
                }
                App::Vnc(s) => {
                    s.on_segment(role, v.ts, t.seq, v.payload);
                    on = OnStarts { input: s.input.take(), keys: s.keys.take_on_start(), key: s.keys.take_key() };
                }
                App::Rdp(s) => {
                    // A press of the session's keyboard (the key-event size with most presses,
                    // whose count is the largest): the count grows only with a press in this
                    // packet, at its time.
                    let before = s.keys().count();
                    s.on_segment(role, v.ts, t.seq, v.payload);
                    let key = (s.keys().count() > before).then_some(v.ts);
                    on = OnStarts { input: s.input.take(), keys: s.take_on_start(), key };
                }
                App::None | App::Stun(_) => {}
            }
        } else if let App::Stun(s) = &mut self.app
            && let Some((leg, us)) = s.on_datagram(role, v.ts, v.payload)
            && let Some(l) = self.rtt.legs.get_mut(leg.idx())
        {
            l.record(us);
        }
        on
    }

    /// The smallest transport RTT between the sensor and the session's initiator, if measured
    /// (constant time). For a session the endpoint opened, the inside leg: what a key the
    /// endpoint forwards adds to its lag at the sensor ([`stepping_stone::Onsets::key`]).
    pub fn initiator_rtt_floor(&self) -> Option<Micros> {
        self.rtt.legs.first().and_then(Lat::min)
    }

    /// The session's timing figures.
    pub fn summary(&self) -> Summary {
        let mut alternatives = None;
        let (far, estimate, near, keys) = match &self.app {
            App::Ssh(s) => (s.far.stats(), s.far.agreement(), s.near.stats(), s.keystrokes()),
            App::Vnc(s) => (s.far.stats(), s.far.agreement(), s.near.stats(), s.keys.summary(None)),
            App::Rdp(s) => {
                let floor = self.rtt.legs.first().and_then(|l| l.quantile(0.0)).unwrap_or(0);
                let (far, alt, estimate) = s.far_estimate(floor);
                alternatives = Some(alt).filter(|a| !a.is_empty());
                let stats = far.stats();
                (stats, estimate, s.near.stats(), s.keys().summary(None))
            }
            App::None | App::Stun(_) => (None, None, None, None),
        };
        let [initiator, responder] = self.rtt.legs.each_ref().map(Lat::stats);
        let [init_est, resp_est] = self.rtt.legs.each_ref().map(Lat::agreement);
        Summary {
            tool: self.tool,
            transport_rtt: LegStats { initiator, responder },
            app_rtt_far: far,
            app_rtt_far_estimate: estimate,
            transport_rtt_estimate: LegEstimates { initiator: init_est, responder: resp_est },
            app_rtt_far_alternatives_ms: alternatives,
            app_rtt_near: near,
            keystrokes: keys,
            chain: self.chain.stats(),
        }
    }
}

// Tests added from mutation testing (MUTATION.md): each pins a result a mutant of this file
// changed without any other test noticing.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lat_counts_and_emptiness() {
        let mut l = Lat::default();
        assert!(l.is_empty());
        assert_eq!((l.len(), l.quantile(0.5), l.stats(), l.mean_stdev()), (0, None, None, None));
        l.record(1_500);
        l.record_n(2_500, 0);
        assert!(!l.is_empty());
        assert_eq!(l.len(), 1);
        l.record_n(2_500, 3);
        assert_eq!(l.len(), 4);
        let s = l.stats().unwrap();
        assert_eq!((s.n, s.min_ms, s.p90_ms), (4, 1.5, 2.5), "{s:?}");
    }

    #[test]
    fn seed_cursors_follow_the_probe() {
        // Known end, nothing lost: the next segment at that sequence number is read.
        let s = tcp_seed(b"abc", b"");
        let mut c = s.cursor(Role::Initiator);
        assert!(!c.lost);
        assert_eq!(c.advance(1003, 0, b"x"), stream::Fresh::New(b"x"));
        // A segment past a hole after the seeded bytes is held (a default cursor would take
        // it as the start).
        let mut c = s.cursor(Role::Initiator);
        assert_eq!(c.advance(1010, 0, b"x"), stream::Fresh::Held);
        // Lost by the probe, even with a known end.
        let gone: &'static stream::Cursor = Box::leak(Box::new(stream::Cursor::new(Some(1003), true)));
        let lost = Seed { cursors: [gone, cursor_at(5003)], ..tcp_seed(b"abc", b"def") };
        assert!(lost.cursor(Role::Initiator).lost);
        assert!(!lost.cursor(Role::Responder).lost);
        // Bytes without a known end: lost; no bytes and no end: the first segment starts it.
        let none: &'static stream::Cursor = Box::leak(Box::default());
        let unknown = Seed { cursors: [none, none], ..tcp_seed(b"abc", b"") };
        assert!(unknown.cursor(Role::Initiator).lost);
        assert!(!unknown.cursor(Role::Responder).lost);
    }

    #[test]
    fn vnc_and_rdp_followers_report_where_they_lost_the_framing() {
        use farhand_model::anomaly::{Layer, Reason};
        let found = |tool: Tool, c: &[u8], s: &[u8]| -> Vec<Anomaly> {
            Behaviour::new(tool, &tcp_seed(c, s)).unwrap().anomalies().collect()
        };
        // VNC: version, choice None, ClientInit, then a message type RFB does not have.
        let v38 = b"RFB 003.008\n";
        let broken = [v38.as_slice(), &[1, 1, 7]].concat();
        assert_eq!(found(Tool::Vnc, &broken, v38), [Anomaly::new(Layer::Vnc, 14, Reason::BadType)]);
        assert_eq!(found(Tool::Vnc, &broken[..14], v38), []);
        // RDP: a TPKT shorter than its header from the client, a bad TLS record type from the
        // server after its Confirm.
        let cc = [3u8, 0, 0, 11, 6, 0xd0, 0, 0, 0x12, 0x34, 0];
        let server = [cc.as_slice(), &[99, 3, 3, 0, 1]].concat();
        assert_eq!(
            found(Tool::Rdp, &[3, 0, 0, 2], &server),
            [Anomaly::new(Layer::Rdp, 2, Reason::BadLength), Anomaly::new(Layer::Rdp, 11, Reason::BadType)]
        );
        assert_eq!(found(Tool::Rdp, &[3, 0, 0, 7, 2, 0xf0, 0x80], &cc), []);
    }

    #[test]
    fn rdp_summary_without_alternatives_reports_none() {
        let b = Behaviour::new(Tool::Rdp, &tcp_seed(b"", b"")).unwrap();
        let s = b.summary();
        assert_eq!(s.app_rtt_far_alternatives_ms, None);
        assert_eq!((s.app_rtt_far, s.keystrokes), (None, None));
    }

    #[test]
    fn agreement_resists_stray_samples() {
        let ms = |v: f64| (v * 1000.0) as u64;
        // Eight set-up answers at ~200 ms and one mismatched pair at 61 ms: 200 ms, 8 of 9.
        let mut l = Lat::default();
        for v in [199.5, 200.1, 200.2, 200.6, 201.0, 199.8, 200.3, 202.0, 61.0] {
            l.record(ms(v));
        }
        let e = l.agreement().unwrap();
        assert_eq!((e.status, e.agreeing, e.of), ("ok", 8, 9));
        assert!((e.ms.unwrap() - 200.3).abs() < 1.0, "{e:?}");
        assert!(e.spread_ms.unwrap() < 4.0, "{e:?}");
        // A low percentile would have read the stray one.
        assert!(l.stats().unwrap().p10_ms < 62.0);
        // Chaff-like pairs spread over 0-20 ms against five answers at 120 ms: 120 ms.
        let mut l = Lat::default();
        for v in [0.4, 3.0, 7.5, 11.0, 15.2, 19.0, 120.2, 120.6, 119.9, 121.0, 120.4] {
            l.record(ms(v));
        }
        let e = l.agreement().unwrap();
        assert_eq!((e.status, e.agreeing), ("ok", 5), "{e:?}");
        assert!((e.ms.unwrap() - 120.4).abs() < 1.0, "{e:?}");
        // Jitter of +-15 ms around 60 ms: all samples agree (the band widens with the figure),
        // and their centre stays at the delay.
        let mut l = Lat::default();
        for v in [47.0, 52.0, 58.0, 60.0, 61.0, 66.0, 71.0, 74.0] {
            l.record(ms(v));
        }
        let e = l.agreement().unwrap();
        assert_eq!((e.status, e.agreeing), ("ok", 8), "within 60 +- 24 ms: {e:?}");
        assert!((e.ms.unwrap() - 60.0).abs() < 3.0, "{e:?}");
    }

    #[test]
    fn agreement_reads_between_two_groups_of_one_jittery_path() {
        let ms = |v: f64| (v * 1000.0) as u64;
        // Seven set-up answers 120 ms behind a relay whose holds move by +-20 ms along a smooth
        // process: three early ones low, four later ones high (the lab's jitter20 relay). The
        // densest window holds only the four high ones (their median reads 148 ms); every
        // sample is within the band, and the centre reads between the groups.
        let mut l = Lat::default();
        for v in [96.0, 111.3, 112.8, 142.8, 147.9, 147.9, 148.9] {
            l.record(ms(v));
        }
        let e = l.agreement().unwrap();
        assert_eq!((e.status, e.agreeing, e.of), ("ok", 7, 7), "{e:?}");
        assert!((e.ms.unwrap() - 129.7).abs() < 1.5, "{e:?}");
        // Beyond the band (two window widths from the mode) a sample is not the path's: a late
        // answer at twice the round trip stays out.
        let mut l = Lat::default();
        for v in [100.0, 101.0, 99.0, 100.5, 99.5, 137.0, 200.0] {
            l.record(ms(v));
        }
        let e = l.agreement().unwrap();
        assert_eq!((e.agreeing, e.of), (6, 7), "137 is within 100 +- 40 ms, 200 is not: {e:?}");
        assert!((e.ms.unwrap() - 100.5).abs() < 1.0, "{e:?}");
    }

    #[test]
    fn agreement_ties_go_to_the_lower_window() {
        let ms = |v: f64| (v * 1000.0) as u64;
        // Two windows of three: the lower one is the mode (a tie goes to the lower centre).
        let mut l = Lat::default();
        for v in [50.0, 50.0, 50.0, 150.0, 150.0, 150.0] {
            l.record(ms(v));
        }
        let e = l.agreement().unwrap();
        assert_eq!((e.status, e.agreeing, e.of), ("ok", 3, 6), "{e:?}");
        assert!((e.ms.unwrap() - 50.0).abs() < 1.0, "{e:?}");
    }

    #[test]
    fn hodges_lehmann_is_the_median_of_pairwise_means() {
        assert_eq!(hodges_lehmann(&[]), None);
        assert_eq!(hodges_lehmann(&[(7, 0)]), None);
        assert_eq!(hodges_lehmann(&[(40, 1)]), Some(40));
        // 10, 20: pairwise means 10, 15, 20 -> 15.
        assert_eq!(hodges_lehmann(&[(10, 1), (20, 1)]), Some(15));
        // 0, 10, 100: means 0, 5, 50, 10, 55, 100 -> the middle two (10, 50) averaged: 30.
        assert_eq!(hodges_lehmann(&[(0, 1), (10, 1), (100, 1)]), Some(30));
        // Counts are samples: 10 twice and 40 once = 10, 10, 40: means 10, 10, 10, 25, 25, 40.
        assert_eq!(hodges_lehmann(&[(10, 2), (40, 1)]), Some(17));
        assert_eq!(hodges_lehmann(&[(10, 1), (10, 1), (40, 1)]), Some(17));
        // 10 once and 40 twice: means 10, 25, 25, 40, 40, 40 -> (25 + 40) / 2.
        assert_eq!(hodges_lehmann(&[(10, 1), (40, 2)]), Some(32));
        // One stray far off among nine: the centre stays with the nine.
        let mut pts: Vec<(u64, u64)> = (0..9).map(|i| (100 + i, 1)).collect();
        pts.push((10_000, 1));
        assert!(hodges_lehmann(&pts).is_some_and(|c| (100..=110).contains(&c)));
        // Past HL_MAX_DISTINCT distinct values: the median.
        let many: Vec<(u64, u64)> = (0..=HL_MAX_DISTINCT as u64).map(|i| (i * i, 1)).collect();
        let mid = many.get(many.len() / 2).map(|p| p.0);
        assert_eq!(hodges_lehmann(&many), mid);
        let at_cap: Vec<(u64, u64)> = (0..HL_MAX_DISTINCT as u64).map(|i| (i * i, 1)).collect();
        assert_ne!(hodges_lehmann(&at_cap), weighted_quantile(&at_cap, HL_MAX_DISTINCT as u64, 0.5));
    }

    #[test]
    fn weighted_quantile_takes_the_sample_of_that_rank() {
        let pts = [(5, 2), (9, 1), (20, 3)];
        assert_eq!(weighted_quantile(&pts, 6, 0.0), Some(5));
        assert_eq!(weighted_quantile(&pts, 6, 0.34), Some(9));
        assert_eq!(weighted_quantile(&pts, 6, 0.5), Some(9));
        assert_eq!(weighted_quantile(&pts, 6, 0.51), Some(20));
        assert_eq!(weighted_quantile(&pts, 6, 1.0), Some(20));
        assert_eq!(weighted_quantile(&[], 0, 0.5), None);
    }

    #[test]
    fn agreement_is_insufficient_without_a_majority() {
        let ms = |v: f64| (v * 1000.0) as u64;
        assert_eq!(Lat::default().agreement(), None);
        // Two samples: too few whatever they say.
        let mut l = Lat::default();
        l.record(ms(80.0));
        l.record(ms(80.2));
        let e = l.agreement().unwrap();
        assert_eq!((e.status, e.ms, e.spread_ms, e.agreeing, e.of), ("insufficient", None, None, 2, 2));
        // Five samples that agree on nothing.
        let mut l = Lat::default();
        for v in [0.5, 30.0, 90.0, 300.0, 900.0] {
            l.record(ms(v));
        }
        assert_eq!(l.agreement().unwrap().status, "insufficient");
        // Three of ten agree: under MIN_AGREEING_SHARE.
        let mut l = Lat::default();
        for v in [100.0, 100.5, 101.0, 1.0, 20.0, 40.0, 200.0, 350.0, 600.0, 900.0] {
            l.record(ms(v));
        }
        let e = l.agreement().unwrap();
        assert_eq!((e.status, e.agreeing, e.of), ("insufficient", 3, 10), "{e:?}");
    }
}
