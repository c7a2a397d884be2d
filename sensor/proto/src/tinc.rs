//! tinc meta protocol: the ID request line each side sends first on a meta connection.
//!
//! # Contract
//! - [`id_line`] reads the first line of a direction as an ID request: `Done` with the node
//!   name and protocol version (borrowed), `Incomplete` while no line feed has come within
//!   [`MAX_LINE`] bytes and what is there still begins `0 `, `Invalid` otherwise (offset of
//!   the field that breaks the line, within the bytes given).
//! - Used by the tinc fingerprint, which decides (matching majors, confidence). Pure,
//!   panic-free, zero-copy; nothing allocates.
//!
//! # Facts used
//! - tinc protocol documentation, "meta protocol": each side of a meta connection first sends
//!   an ID request as one text line, `0 <name> <major>[.<minor>]\n` (request number 0 = ID;
//!   the node name of letters, digits and underscores; protocol major version 17 in tinc
//!   1.0/1.1), before the key exchange (`1 …` METAKEY lines in 1.0).

use crate::step::{Layer, Reason, Step};

/// Longest ID line considered (its line feed must come within this many bytes).
pub const MAX_LINE: usize = 128;
/// Longest node name accepted.
pub const MAX_NAME_LEN: usize = 64;
/// Longest protocol version accepted (`major.minor`).
pub const MAX_VERSION_LEN: usize = 6;
/// Most digits of each version part.
pub const MAX_VERSION_PART_DIGITS: usize = 2;
/// The request number of an ID request, and the separator after it.
pub const ID_REQUEST: &[u8; 2] = b"0 ";

/// An ID request line, borrowing the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdLine<'a> {
    /// The node name.
    pub name: &'a str,
    /// The protocol version as sent (`17`, `17.7`).
    pub version: &'a str,
}

impl<'a> IdLine<'a> {
    /// The protocol's major version (before the dot).
    pub fn major(&self) -> &'a str {
        self.version.split('.').next().unwrap_or_default()
    }
}

/// Read the first line of `b` as an ID request (see the module contract).
pub fn id_line(b: &[u8]) -> Step<IdLine<'_>> {
    let Some(nl) = b.iter().take(MAX_LINE).position(|&c| c == b'\n') else {
        return unfinished(b);
    };
    let line = match std::str::from_utf8(b.get(..nl).unwrap_or_default()) {
        Ok(l) => l,
        Err(e) => return Step::invalid(Layer::Tinc, e.valid_up_to(), Reason::BadValue),
    };
    let mut fields = line.split(' ');
    let (request, name, version) = (fields.next().unwrap_or_default(), fields.next(), fields.next());
    if request != "0" {
        return Step::invalid(Layer::Tinc, 0, Reason::BadType);
    }
    let (Some(name), Some(version)) = (name, version) else {
        return Step::invalid(Layer::Tinc, nl, Reason::Truncated);
    };
    let name_at = request.len() + 1;
    let version_at = name_at + name.len() + 1;
    if fields.next().is_some() {
        return Step::invalid(Layer::Tinc, version_at + version.len() + 1, Reason::BadValue);
    }
    if !name_ok(name) {
        return Step::invalid(Layer::Tinc, name_at, Reason::BadValue);
    }
    if !version_ok(version) {
        return Step::invalid(Layer::Tinc, version_at, Reason::BadVersion);
    }
    Step::Done(IdLine { name, version })
}

/// No line feed within the first [`MAX_LINE`] bytes: wait while it can still be an ID line.
fn unfinished(b: &[u8]) -> Step<IdLine<'_>> {
    let [request, separator] = *ID_REQUEST;
    if b.first().is_some_and(|&c| c != request) {
        Step::invalid(Layer::Tinc, 0, Reason::BadType)
    } else if b.get(1).is_some_and(|&c| c != separator) {
        Step::invalid(Layer::Tinc, 1, Reason::BadValue)
    } else if b.len() >= MAX_LINE {
        Step::invalid(Layer::Tinc, MAX_LINE, Reason::OverLimit)
    } else {
        Step::Incomplete
    }
}

/// A node name: 1 to [`MAX_NAME_LEN`] letters, digits and underscores.
fn name_ok(name: &str) -> bool {
    !name.is_empty() && name.len() <= MAX_NAME_LEN && name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

/// A version: `major` or `major.minor`, each 1 to [`MAX_VERSION_PART_DIGITS`] digits.
fn version_ok(ver: &str) -> bool {
    !ver.is_empty()
        && ver.len() <= MAX_VERSION_LEN
        && ver
            .split('.')
            .all(|p| !p.is_empty() && p.len() <= MAX_VERSION_PART_DIGITS && p.bytes().all(|c| c.is_ascii_digit()))
        && ver.split('.').count() <= 2
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bad(at: usize, reason: Reason) -> Step<IdLine<'static>> {
        Step::invalid(Layer::Tinc, at, reason)
    }

    #[test]
    fn id_lines() {
        let c = b"0 alpha 17\n1 429 672 0 0 2CDA\n";
        assert_eq!(id_line(c), Step::Done(IdLine { name: "alpha", version: "17" }));
        let s = id_line(b"0 beta_2 17.7\n").done().unwrap();
        assert_eq!((s.name, s.version, s.major()), ("beta_2", "17.7", "17"));
    }

    #[test]
    fn truncation_sweep() {
        let c = b"0 alpha 17\n";
        for len in 0..c.len() {
            assert_eq!(id_line(&c[..len]), Step::Incomplete, "{len}");
        }
        // A line that ends early is truncated where it ends.
        assert_eq!(id_line(b"0 alpha\n"), bad(7, Reason::Truncated));
        assert_eq!(id_line(b"0\n"), bad(1, Reason::Truncated));
    }

    #[test]
    fn hostile_lengths() {
        // No line feed within MAX_LINE bytes: refused at the limit, not waited for.
        let mut long = b"0 ".to_vec();
        long.resize(MAX_LINE, b'a');
        assert_eq!(id_line(&long[..MAX_LINE - 1]), Step::Incomplete);
        assert_eq!(id_line(&long), bad(MAX_LINE, Reason::OverLimit));
        long.push(b'\n');
        assert_eq!(id_line(&long), bad(MAX_LINE, Reason::OverLimit));
        // A name over MAX_NAME_LEN, a version over MAX_VERSION_LEN.
        let name = "n".repeat(MAX_NAME_LEN + 1);
        assert_eq!(id_line(format!("0 {name} 17\n").as_bytes()), bad(2, Reason::BadValue));
        assert_eq!(
            id_line(format!("0 {} 17\n", &name[1..]).as_bytes()).done().map(|l| l.name.len()),
            Some(MAX_NAME_LEN)
        );
        assert_eq!(id_line(b"0 a 17.777\n"), bad(4, Reason::BadVersion));
        assert_eq!(id_line(&[b'0'; 300]), bad(1, Reason::BadValue));
    }

    #[test]
    fn exact_anomalies() {
        assert_eq!(id_line(b"GET / HTTP/1.1\r\n"), bad(0, Reason::BadType));
        assert_eq!(id_line(b"SSH-2.0-x"), bad(0, Reason::BadType));
        assert_eq!(id_line(b"0 a b c\n"), bad(6, Reason::BadValue));
        assert_eq!(id_line(b"0 na-me 17\n"), bad(2, Reason::BadValue));
        assert_eq!(id_line(b"0 name 1.2.3\n"), bad(7, Reason::BadVersion));
        assert_eq!(id_line(b"0 name x\n"), bad(7, Reason::BadVersion));
        assert_eq!(id_line(b"0 n\xffme 17\n"), bad(3, Reason::BadValue));
        assert_eq!(id_line(b"0-"), bad(1, Reason::BadValue));
    }
}
