//! How far a parser got.

/// Result of parsing one structure from a prefix (shared by the fingerprints' parsers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step<T> {
    /// Parsed.
    Done(T),
    /// Consistent so far, more bytes needed.
    Incomplete,
    /// Contradicts the protocol.
    Invalid,
}

impl<T> Step<T> {
    /// The parsed value, if parsing finished.
    pub fn done(self) -> Option<T> {
        match self {
            Step::Done(v) => Some(v),
            Step::Incomplete | Step::Invalid => None,
        }
    }
}
