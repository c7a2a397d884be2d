//! In-order byte delivery for the behaviour parsers: each role's TCP payload, deduplicated,
//! with a bounded hold for segments that arrive ahead of a hole, so a parser reads the stream
//! exactly once and in order.
//!
//! Contract: [`Cursor::advance`] says what a segment brings ([`Fresh`]); segments past a hole
//! are held (at most [`MAX_HELD_BYTES`] and [`MAX_HELD_SEGMENTS`], for at most
//! [`MAX_HOLD_US`]) until the missing bytes arrive — a retransmission or a reordered segment —
//! and are then handed out by [`Cursor::release`], in order, each with the later of its own
//! arrival time and the time the hole was filled (the time the receiving application could
//! first read it). Past any bound the position is lost for good, as a capture that never saw
//! the missing bytes cannot be followed further.

use farhand_model::Micros;

/// Most bytes held past a hole, per direction: the probe's own window. The direction a hole
/// appears in at a gateway is the one coming in from far away, the controller's input (small
/// messages); a hostile peer that opens holes on many sessions holds at most this each.
pub const MAX_HELD_BYTES: usize = 16 * 1024;
/// Most segments held past a hole, per direction.
pub const MAX_HELD_SEGMENTS: usize = 64;
/// Longest a hole may stay open (from the first held segment) before the stream is given up:
/// several retransmission timeouts, far beyond a reordering.
pub const MAX_HOLD_US: Micros = 3_000_000;

/// What one segment brings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fresh<'a> {
    /// Bytes next in order (then any bytes this made deliverable wait in [`Cursor::release`]).
    New(&'a [u8]),
    /// Nothing new: a retransmission of bytes already delivered.
    Old,
    /// Bytes past a hole, held until the hole is filled.
    Held,
    /// The stream position is lost (now or before): nothing more is delivered.
    Lost,
}

/// One held segment: where it starts, when it arrived, its bytes.
#[derive(Debug, Clone)]
struct Held {
    seq: u32,
    ts: Micros,
    bytes: Vec<u8>,
}

/// Segments past a hole (allocated only while there is one).
#[derive(Debug, Clone, Default)]
struct Hold {
    /// Segments past the hole, in arrival order.
    segs: Vec<Held>,
    /// Bytes in `segs`.
    bytes: usize,
    /// When the hole was filled: released bytes are read no earlier.
    filled_at: Micros,
}

/// Where one role's stream stands.
#[derive(Debug, Clone, Default)]
pub struct Cursor {
    /// Next expected sequence number; `None` before the first segment (the first segment
    /// then starts the stream).
    next: Option<u32>,
    /// The stream position is lost (a hole that was never filled, or an unknown start).
    pub lost: bool,
    /// What waits past a hole.
    hold: Option<Box<Hold>>,
}

impl Cursor {
    /// A cursor at a known position (or lost).
    pub fn new(next: Option<u32>, lost: bool) -> Cursor {
        Cursor { next, lost, hold: None }
    }

    /// The next expected sequence number, if known.
    pub fn next(&self) -> Option<u32> {
        self.next
    }

    /// Bytes held past a hole now.
    pub fn held_bytes(&self) -> usize {
        self.hold.as_ref().map_or(0, |h| h.bytes)
    }

    /// Loses the stream position and frees what was held.
    pub fn lose(&mut self) {
        self.lost = true;
        self.hold = None;
    }

    /// What the segment at `seq` arriving at `ts` brings. After [`Fresh::New`], call
    /// [`Cursor::release`] until it returns `None` for what the segment made deliverable.
    pub fn advance<'a>(&mut self, seq: u32, ts: Micros, payload: &'a [u8]) -> Fresh<'a> {
        if payload.is_empty() {
            return Fresh::Old;
        }
        if self.lost {
            return Fresh::Lost;
        }
        let expired =
            self.hold.as_ref().and_then(|h| h.segs.first()).is_some_and(|h| ts.saturating_sub(h.ts) > MAX_HOLD_US);
        if expired {
            self.lose();
            return Fresh::Lost;
        }
        let Some(next) = self.next else {
            self.next = Some(seq.wrapping_add(payload.len() as u32));
            return Fresh::New(payload);
        };
        let off = seq.wrapping_sub(next) as i32;
        if off > 0 {
            return self.hold(seq, ts, payload);
        }
        let new = payload.get(off.unsigned_abs() as usize..).unwrap_or_default();
        if new.is_empty() {
            return Fresh::Old;
        }
        self.next = Some(seq.wrapping_add(payload.len() as u32));
        if let Some(h) = self.hold.as_mut() {
            h.filled_at = ts;
        }
        Fresh::New(new)
    }

    /// Keeps a segment past the hole, or loses the stream past a bound.
    fn hold(&mut self, seq: u32, ts: Micros, payload: &[u8]) -> Fresh<'static> {
        let h = self.hold.get_or_insert_with(Box::default);
        if h.segs.iter().any(|x| x.seq == seq && x.bytes.len() >= payload.len()) {
            return Fresh::Held;
        }
        if h.segs.len() >= MAX_HELD_SEGMENTS || h.bytes.saturating_add(payload.len()) > MAX_HELD_BYTES {
            self.lose();
            return Fresh::Lost;
        }
        h.bytes += payload.len();
        h.segs.push(Held { seq, ts, bytes: payload.to_vec() });
        Fresh::Held
    }

    /// The next held bytes that are now in order, with the time they became readable; `None`
    /// when nothing held is deliverable. Held bytes already delivered are dropped, and the
    /// hold is freed once empty.
    pub fn release(&mut self) -> Option<(Micros, Vec<u8>)> {
        let next = self.next?;
        let h = self.hold.as_mut()?;
        // The held segment that starts at or before the expected byte and reaches past it.
        let pos = h.segs.iter().position(|x| {
            let off = next.wrapping_sub(x.seq) as i32;
            off >= 0 && (off.unsigned_abs() as usize) < x.bytes.len()
        });
        let Some(pos) = pos else {
            // Drop what is wholly delivered already; keep what is still past a hole.
            h.segs.retain(|x| (x.seq.wrapping_add(x.bytes.len() as u32).wrapping_sub(next) as i32) > 0);
            h.bytes = h.segs.iter().map(|x| x.bytes.len()).sum();
            if h.segs.is_empty() {
                self.hold = None;
            }
            return None;
        };
        let x = h.segs.swap_remove(pos);
        h.bytes = h.bytes.saturating_sub(x.bytes.len());
        let skip = next.wrapping_sub(x.seq) as usize;
        let mut bytes = x.bytes;
        bytes.drain(..skip.min(bytes.len()));
        self.next = Some(next.wrapping_add(bytes.len() as u32));
        Some((x.ts.max(h.filled_at), bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(c: &mut Cursor) -> Vec<(Micros, Vec<u8>)> {
        std::iter::from_fn(|| c.release()).collect()
    }

    #[test]
    fn dedup_and_retransmissions() {
        let mut c = Cursor::default();
        assert_eq!(c.advance(100, 1, b"abc"), Fresh::New(b"abc"));
        assert_eq!(c.advance(101, 2, b"bcde"), Fresh::New(b"de"));
        assert_eq!(c.advance(100, 3, b"ab"), Fresh::Old);
        assert!(all(&mut c).is_empty());
        let mut w = Cursor::new(Some(u32::MAX), false);
        assert_eq!(w.advance(u32::MAX, 1, b"ab"), Fresh::New(b"ab"));
        assert_eq!(w.advance(1, 2, b"c"), Fresh::New(b"c"));
    }

    #[test]
    fn a_reordered_segment_is_held_then_released_in_order() {
        let mut c = Cursor::new(Some(100), false);
        assert_eq!(c.advance(103, 10, b"def"), Fresh::Held);
        assert_eq!(c.advance(106, 11, b"gh"), Fresh::Held);
        assert_eq!(c.held_bytes(), 5);
        assert!(all(&mut c).is_empty(), "nothing is deliverable before the hole is filled");
        assert_eq!(c.advance(100, 12, b"abc"), Fresh::New(b"abc"));
        // Released in sequence order, each no earlier than the fill.
        assert_eq!(all(&mut c), vec![(12, b"def".to_vec()), (12, b"gh".to_vec())]);
        assert_eq!(c.held_bytes(), 0);
        assert_eq!(c.advance(108, 20, b"i"), Fresh::New(b"i"));
        assert!(!c.lost);
    }

    #[test]
    fn overlapping_fills_and_duplicate_holds() {
        let mut c = Cursor::new(Some(0), false);
        assert_eq!(c.advance(4, 5, b"efgh"), Fresh::Held);
        assert_eq!(c.advance(4, 6, b"efgh"), Fresh::Held, "a duplicate of a held segment");
        assert_eq!(c.advance(10, 7, b"kl"), Fresh::Held);
        assert_eq!(c.held_bytes(), 6);
        // A retransmission that covers part of a held segment: the rest of it is released.
        assert_eq!(c.advance(0, 8, b"abcdef"), Fresh::New(b"abcdef"));
        assert_eq!(all(&mut c), vec![(8, b"gh".to_vec())]);
        assert_eq!(c.held_bytes(), 2, "past the second hole");
        assert_eq!(c.advance(8, 30, b"ij"), Fresh::New(b"ij"));
        assert_eq!(all(&mut c), vec![(30, b"kl".to_vec())]);
        // A held segment wholly covered by a later fill is dropped, not delivered twice.
        assert_eq!(c.advance(14, 31, b"op"), Fresh::Held);
        assert_eq!(c.advance(12, 32, b"mnop"), Fresh::New(b"mnop"));
        assert!(all(&mut c).is_empty());
        assert_eq!(c.held_bytes(), 0);
    }

    #[test]
    fn an_unfilled_hole_loses_the_stream_past_each_bound() {
        // Too many segments.
        let mut c = Cursor::new(Some(0), false);
        for i in 0..MAX_HELD_SEGMENTS as u32 {
            assert_eq!(c.advance(10 + i, 1, b"x"), Fresh::Held);
        }
        assert_eq!(c.advance(200, 1, b"x"), Fresh::Lost);
        assert!(c.lost);
        assert_eq!(c.held_bytes(), 0);
        assert_eq!(c.advance(0, 2, b"abc"), Fresh::Lost, "lost for good");
        // Too many bytes.
        let mut c = Cursor::new(Some(0), false);
        let big = vec![0u8; MAX_HELD_BYTES];
        assert_eq!(c.advance(1, 1, &big), Fresh::Held);
        assert_eq!(c.advance(1 + MAX_HELD_BYTES as u32, 1, b"x"), Fresh::Lost);
        // Too long.
        let mut c = Cursor::new(Some(0), false);
        assert_eq!(c.advance(5, 1_000, b"x"), Fresh::Held);
        assert_eq!(c.advance(0, 1_000 + MAX_HOLD_US, b"abcde"), Fresh::New(b"abcde"));
        assert_eq!(all(&mut c), vec![(1_000 + MAX_HOLD_US, b"x".to_vec())]);
        assert_eq!(c.advance(9, 2_000, b"x"), Fresh::Held);
        assert_eq!(c.advance(6, 2_001 + MAX_HOLD_US, b"abc"), Fresh::Lost);
        // A start that is not known.
        assert_eq!(Cursor::new(None, true).advance(0, 0, b"a"), Fresh::Lost);
        // A segment without payload brings nothing, lost or not.
        assert_eq!(Cursor::new(None, true).advance(0, 0, b""), Fresh::Old);
        assert_eq!(Cursor::new(Some(0), false).advance(9, 0, b""), Fresh::Old);
    }

    #[test]
    fn hostile_sequence_numbers_never_panic() {
        let mut c = Cursor::new(Some(u32::MAX - 1), false);
        for (seq, len) in [(0u32, 3usize), (u32::MAX, 0), (i32::MAX as u32, 5), (u32::MAX - 1, 1), (1, 70_000)] {
            let _ = c.advance(seq, 0, &vec![7u8; len]);
            while c.release().is_some() {}
        }
    }
}
