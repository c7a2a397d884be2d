//! Transport RTT of a TCP session, per leg, seen from the sensor.
//!
//! A segment carrying data (or SYN/FIN) from one side is timed when it passes the sensor; the
//! first acknowledgement from the other side that covers it closes the sample: the round
//! trip between the sensor and that other side (its leg). One segment per direction is timed
//! at a time, and a retransmission (a segment that does not advance the sender's highest
//! sequence number) cancels the timing (Karn's rule), so retransmitted data never yields a
//! sample. Delayed acknowledgements inflate single samples; the low percentiles are the
//! path's round trip.

use super::Lat;
use crate::decode::tcp_flags;
use farhand_model::{Micros, Role};

/// `a` is after `b` in sequence space.
fn seq_after(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}

/// Per-leg TCP RTT state.
#[derive(Debug, Clone, Default)]
pub struct TcpRtt {
    /// Per role: the segment being timed (its end sequence number, when it passed).
    timing: [Option<(u32, Micros)>; 2],
    /// Per role: the highest end sequence number sent.
    high: [Option<u32>; 2],
    /// Per role r: samples of the round trip between the sensor and r.
    pub legs: [Lat; 2],
}

impl TcpRtt {
    /// One segment from `role`.
    pub fn on_segment(&mut self, role: Role, ts: Micros, seq: u32, ack: u32, flags: u8, len: usize) {
        let (other, role) = (role.other().idx(), role.idx());
        if flags & tcp_flags::ACK != 0
            && let Some(slot) = self.timing.get_mut(other)
            && let Some((end, t0)) = *slot
            && !seq_after(end, ack)
        {
            if let Some(l) = self.legs.get_mut(role) {
                l.record(ts.saturating_sub(t0));
            }
            *slot = None;
        }
        let span = len as u32 + u32::from(flags & (tcp_flags::SYN | tcp_flags::FIN) != 0);
        if span == 0 {
            return;
        }
        let end = seq.wrapping_add(span);
        let (Some(high), Some(timing)) = (self.high.get_mut(role), self.timing.get_mut(role)) else { return };
        match *high {
            Some(h) if !seq_after(end, h) => *timing = None,
            _ => {
                *high = Some(end);
                if timing.is_none() {
                    *timing = Some((end, ts));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    const A: u8 = tcp_flags::ACK;

    #[test]
    fn data_ack_samples_per_leg_and_karn() {
        let mut r = TcpRtt::default();
        // Client (0) sends 100 bytes at t=0; server (1) acks at t=5 ms: leg of the server.
        r.on_segment(Role::Initiator, 0, 1000, 1, A, 100);
        r.on_segment(Role::Responder, 5_000, 1, 1100, A, 0);
        // Server sends 10 bytes at 10 ms, client acks at 70 ms: leg of the client.
        r.on_segment(Role::Responder, 10_000, 1, 1100, A, 10);
        r.on_segment(Role::Initiator, 70_000, 1100, 11, A, 0);
        assert_eq!(r.legs[1].quantile(0.5).map(|v| (v + 50) / 100), Some(50));
        assert_eq!(r.legs[0].quantile(0.5).map(|v| v / 1000), Some(60));
        // A retransmission cancels the timing: no sample from its ack.
        r.on_segment(Role::Initiator, 100_000, 1100, 11, A, 50);
        r.on_segment(Role::Initiator, 300_000, 1100, 11, A, 50);
        r.on_segment(Role::Responder, 301_000, 11, 1150, A, 0);
        assert_eq!(r.legs[1].len(), 1);
        // An ack short of the timed end does not close it.
        r.on_segment(Role::Initiator, 400_000, 1150, 11, A, 100);
        r.on_segment(Role::Responder, 401_000, 11, 1200, A, 0);
        assert_eq!(r.legs[1].len(), 1);
        r.on_segment(Role::Responder, 402_000, 11, 1250, A, 0);
        assert_eq!(r.legs[1].len(), 2);
        // Sequence wrap-around.
        let mut w = TcpRtt::default();
        w.on_segment(Role::Initiator, 0, u32::MAX - 10, 1, A, 100);
        w.on_segment(Role::Responder, 7_000, 1, 89, A, 0);
        assert_eq!(w.legs[1].len(), 1);
    }
}
