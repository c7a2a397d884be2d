//! How far a parser got.

pub use farhand_model::anomaly::{Anomaly, Layer, Reason};

/// Result of parsing one structure from a prefix (shared by the fingerprints' parsers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step<T> {
    /// Parsed.
    Done(T),
    /// Consistent so far, more bytes needed.
    Incomplete,
    /// Contradicts the protocol: where and why.
    Invalid(Anomaly),
}

impl<T> Step<T> {
    /// The parsed value, if parsing finished.
    pub fn done(self) -> Option<T> {
        match self {
            Step::Done(v) => Some(v),
            Step::Incomplete | Step::Invalid(_) => None,
        }
    }

    /// `Invalid` with an anomaly of `layer` at byte `offset`.
    pub const fn invalid(layer: Layer, offset: usize, reason: Reason) -> Step<T> {
        Step::Invalid(Anomaly::new(layer, offset, reason))
    }

    /// Whether the bytes contradicted the protocol.
    pub fn is_invalid(&self) -> bool {
        matches!(self, Step::Invalid(_))
    }

    /// The same outcome with the parsed value mapped.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Step<U> {
        match self {
            Step::Done(v) => Step::Done(f(v)),
            Step::Incomplete => Step::Incomplete,
            Step::Invalid(a) => Step::Invalid(a),
        }
    }
}
