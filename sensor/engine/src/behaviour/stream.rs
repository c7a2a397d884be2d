//! In-order byte delivery for the behaviour parsers: each role's TCP payload, deduplicated
//! and checked for holes, so a parser reads the stream exactly once and stops at a hole.

/// Where one role's stream stands.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cursor {
    /// Next expected sequence number; `None` before the first segment (the first segment
    /// then starts the stream).
    next: Option<u32>,
    /// A hole was seen (or the start is unknown): the stream position is lost.
    pub lost: bool,
}

impl Cursor {
    /// A cursor at a known position (or lost).
    pub fn new(next: Option<u32>, lost: bool) -> Cursor {
        Cursor { next, lost }
    }

    /// The new bytes of a segment (none for a retransmission; `None` once lost).
    pub fn advance<'a>(&mut self, seq: u32, payload: &'a [u8]) -> Option<&'a [u8]> {
        if self.lost {
            return None;
        }
        let skip = match self.next {
            None => 0,
            Some(n) => {
                let off = seq.wrapping_sub(n) as i32;
                if off > 0 {
                    self.lost = true;
                    return None;
                }
                off.unsigned_abs() as usize
            }
        };
        let new = payload.get(skip..).unwrap_or_default();
        if !new.is_empty() {
            self.next = Some(seq.wrapping_add(payload.len() as u32));
        }
        Some(new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedup_and_holes() {
        let mut c = Cursor::default();
        assert_eq!(c.advance(100, b"abc"), Some(&b"abc"[..]));
        assert_eq!(c.advance(101, b"bcde"), Some(&b"de"[..]));
        assert_eq!(c.advance(100, b"ab"), Some(&b""[..]));
        assert_eq!(c.advance(110, b"x"), None);
        assert!(c.lost);
        assert_eq!(c.advance(105, b"f"), None);
        let mut w = Cursor::new(Some(u32::MAX), false);
        assert_eq!(w.advance(u32::MAX, b"ab"), Some(&b"ab"[..]));
        assert_eq!(w.advance(1, b"c"), Some(&b"c"[..]));
    }
}
