//! STUN/TURN transaction RTT: a request and the response carrying its transaction id are one
//! round trip on the responder's leg (RFC 8489 §5, §6: 20-byte header, first two bits zero,
//! magic cookie 0x2112A442, 96-bit transaction id; class bits 0x0110 of the type: request,
//! indication, success or error response). The header is read by [`farhand_proto::stun`].

use super::Seed;
use farhand_model::{Micros, Role};
use farhand_proto::stun::{Class, Header, TRANSACTION_ID_LEN};

/// Requests remembered per session while their responses are awaited.
pub const MAX_PENDING: usize = 8;
/// A response later than this is not paired (RFC 8489 retransmits for ~39.5 s; pairing a
/// late answer with the first transmission would overstate the RTT).
pub const MAX_TRANSACTION_US: Micros = 2_000_000;

/// STUN transaction state.
#[derive(Debug, Clone, Default)]
pub struct StunTiming {
    /// (sender role, transaction id, time) of outstanding requests.
    pending: Vec<(Role, [u8; TRANSACTION_ID_LEN], Micros)>,
}

/// (class, transaction id) of a magic-cookie STUN message: a cheap header peek (the
/// fingerprint validated the session; every datagram need not be parsed whole).
fn header(d: &[u8]) -> Option<(Class, [u8; TRANSACTION_ID_LEN])> {
    let h = Header::parse(d).done()?;
    let (_, class) = h.method_class();
    Some((class, *h.cookie_transaction_id()?))
}

impl StunTiming {
    /// State for a session recognised on its first datagrams (already paired by the caller).
    pub fn new(_seed: &Seed<'_>) -> StunTiming {
        StunTiming::default()
    }

    /// One datagram of `role`: `Some((leg, us))` when it answers a pending request (`leg` is
    /// the answering role: the round trip between the sensor and it).
    pub fn on_datagram(&mut self, role: Role, ts: Micros, d: &[u8]) -> Option<(Role, Micros)> {
        let (class, tid) = header(d)?;
        match class {
            Class::Request => {
                if self.pending.iter().any(|(r, t, _)| *r == role && *t == tid) {
                    // A retransmission: the first transmission's time would overstate.
                    self.pending.retain(|(r, t, _)| !(*r == role && *t == tid));
                    return None;
                }
                if self.pending.len() >= MAX_PENDING {
                    self.pending.remove(0);
                }
                self.pending.push((role, tid, ts));
                None
            }
            Class::Success | Class::Error => {
                let i = self.pending.iter().position(|(r, t, _)| *r != role && *t == tid)?;
                let (_, _, t0) = self.pending.remove(i);
                let us = ts.saturating_sub(t0);
                (us <= MAX_TRANSACTION_US).then_some((role, us))
            }
            Class::Indication => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use farhand_proto::stun::MAGIC_COOKIE;

    fn msg(ty: u16, tid: u8) -> Vec<u8> {
        let mut v = ty.to_be_bytes().to_vec();
        v.extend_from_slice(&[0, 0]);
        v.extend_from_slice(&MAGIC_COOKIE.to_be_bytes());
        v.extend_from_slice(&[tid; 12]);
        v
    }

    #[test]
    fn pairs_requests_with_responses() {
        let mut s = StunTiming::default();
        assert_eq!(s.on_datagram(Role::Initiator, 1_000, &msg(0x0001, 7)), None);
        assert_eq!(s.on_datagram(Role::Responder, 41_000, &msg(0x0101, 9)), None);
        assert_eq!(s.on_datagram(Role::Responder, 42_000, &msg(0x0101, 7)), Some((Role::Responder, 41_000)));
        // Allocate error response (0x0113) to a request from the other side.
        s.on_datagram(Role::Responder, 50_000, &msg(0x0003, 3));
        assert_eq!(s.on_datagram(Role::Initiator, 53_000, &msg(0x0113, 3)), Some((Role::Initiator, 3_000)));
        // Retransmitted request: not paired.
        s.on_datagram(Role::Initiator, 60_000, &msg(0x0001, 5));
        s.on_datagram(Role::Initiator, 70_000, &msg(0x0001, 5));
        assert_eq!(s.on_datagram(Role::Responder, 71_000, &msg(0x0101, 5)), None);
        // Not STUN, truncated, ChannelData.
        for d in [&b"\x40\x00\x00\x04abcd"[..], &msg(0x0001, 1)[..19], b""] {
            assert_eq!(s.on_datagram(Role::Initiator, 1, d), None);
        }
        for i in 0..20 {
            s.on_datagram(Role::Initiator, i, &msg(0x0001, i as u8));
        }
        assert!(s.pending.len() <= MAX_PENDING);
    }
}
