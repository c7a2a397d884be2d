//! Helpers shared by the unit tests (test builds only) of farhand-proto and farhand-engine.
#![allow(dead_code)] // included by the proto and engine crates' tests; each uses a part of it

/// Bytes from hex text; whitespace is ignored.
pub(crate) fn unhex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    digits.chunks(2).map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap()).collect()
}

/// A reproducible pseudo-random byte source (xorshift64, shifts 13/7/17; one byte per step),
/// for "random bytes never match" sweeps.
pub(crate) struct XorShift64(pub u64);

impl XorShift64 {
    /// The next byte.
    pub(crate) fn byte(&mut self) -> u8 {
        let x = &mut self.0;
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        *x as u8
    }

    /// `len` bytes.
    pub(crate) fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.byte()).collect()
    }
}
