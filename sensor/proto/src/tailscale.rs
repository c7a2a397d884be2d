//! Tailscale disco (peer discovery) packet framing, as sent over UDP.
//!
//! # Contract
//! - [`probe`] tells whether a datagram could begin with the disco magic; [`parse_datagram`]
//!   reads one datagram as a disco packet: magic, the sender's disco key, the box nonce and a
//!   sealed box at least [`BOX_OVERHEAD`] long. A datagram is complete, so a short one is
//!   `Invalid` (`Truncated` at its end); an empty one is `Incomplete` (nothing sent yet).
//! - The box is not opened (the key is the peers'); only its length is reported.
//! - Used by the Tailscale fingerprint, which decides. Pure, panic-free, zero-copy; nothing
//!   allocates.
//!
//! # Facts used
//! - Tailscale `disco/disco.go`: a disco packet is `magic` (`"TS💬"`, the bytes
//!   `54 53 F0 9F 92 AC`), the sender's 32-byte disco public key, a 24-byte NaCl box nonce,
//!   then the NaCl box (`crypto_box`: 16-byte Poly1305 tag followed by the encrypted message:
//!   ping, pong or call-me-maybe, each at least one type byte and one version byte).
//! - The same magic begins disco packets relayed through DERP, but those travel inside TLS and
//!   are never seen in the clear.

use crate::step::{Layer, Reason, Step};

/// Disco magic: `TS` followed by U+1F4AC SPEECH BALLOON in UTF-8.
pub const DISCO_MAGIC: [u8; 6] = [0x54, 0x53, 0xF0, 0x9F, 0x92, 0xAC];
/// Length of the sender's disco public key (Curve25519).
pub const KEY_LEN: usize = 32;
/// Length of the NaCl box nonce.
pub const NONCE_LEN: usize = 24;
/// Length of the NaCl box authenticator (Poly1305 tag).
pub const BOX_OVERHEAD: usize = 16;
/// Shortest disco packet: magic, key, nonce and an empty box.
pub const MIN_PACKET_LEN: usize = DISCO_MAGIC.len() + KEY_LEN + NONCE_LEN + BOX_OVERHEAD;

/// A parsed disco packet header, borrowing the datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Disco<'a> {
    /// The sender's disco public key.
    pub sender_key: &'a [u8; KEY_LEN],
    /// The box nonce.
    pub nonce: &'a [u8; NONCE_LEN],
    /// Length of the sealed box (tag plus ciphertext).
    pub box_len: usize,
}

/// Cheap first look: could this datagram begin with the disco magic?
pub fn probe(datagram: &[u8]) -> bool {
    let head = datagram.get(..DISCO_MAGIC.len()).unwrap_or(datagram);
    DISCO_MAGIC.starts_with(head)
}

/// Parse one datagram as a disco packet (see the module contract).
pub fn parse_datagram(datagram: &[u8]) -> Step<Disco<'_>> {
    if datagram.is_empty() {
        return Step::Incomplete;
    }
    let truncated = Step::invalid(Layer::Tailscale, datagram.len(), Reason::Truncated);
    if !probe(datagram) {
        return Step::invalid(Layer::Tailscale, 0, Reason::BadMagic);
    }
    let Some((_magic, rest)) = datagram.split_first_chunk::<6>() else {
        return truncated;
    };
    let Some((sender_key, rest)) = rest.split_first_chunk::<KEY_LEN>() else {
        return truncated;
    };
    let Some((nonce, sealed)) = rest.split_first_chunk::<NONCE_LEN>() else {
        return truncated;
    };
    if sealed.len() < BOX_OVERHEAD {
        return truncated;
    }
    Step::Done(Disco { sender_key, nonce, box_len: sealed.len() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::tailscale::disco;

    // Built from the documented format (tailscale `disco/disco.go`): magic, a 32-byte key, a
    // 24-byte nonce and a sealed box of 16-byte tag + 30-byte ping body. Key, nonce and box
    // bytes are arbitrary: nothing checks them.

    #[test]
    fn ping_fields() {
        let p = disco(0x10, BOX_OVERHEAD + 30);
        let Step::Done(d) = parse_datagram(&p) else { panic!() };
        assert_eq!((d.sender_key[0], d.sender_key[31], d.nonce[0], d.box_len), (0x10, 0x2F, 0xA0, 46));
        assert!(probe(&p) && probe(b"TS") && probe(b"") && !probe(b"TX"));
    }

    #[test]
    fn truncation_sweep() {
        let p = disco(0x10, BOX_OVERHEAD + 30);
        assert_eq!(parse_datagram(&p[..0]), Step::Incomplete);
        for len in 1..=p.len() {
            match parse_datagram(&p[..len]) {
                Step::Done(d) => assert_eq!(
                    (len >= MIN_PACKET_LEN, d.box_len),
                    (true, len - (MIN_PACKET_LEN - BOX_OVERHEAD)),
                    "{len}"
                ),
                other => assert_eq!(
                    (len < MIN_PACKET_LEN, other),
                    (true, Step::invalid(Layer::Tailscale, len, Reason::Truncated)),
                    "{len}"
                ),
            }
        }
    }

    #[test]
    fn hostile_lengths() {
        // No length field: a huge datagram is one big box, read without copying.
        let big = disco(1, 65_000);
        assert_eq!(parse_datagram(&big).done().map(|d| d.box_len), Some(65_000));
        // One byte short of the smallest box.
        assert_eq!(
            parse_datagram(&big[..MIN_PACKET_LEN - 1]),
            Step::invalid(Layer::Tailscale, MIN_PACKET_LEN - 1, Reason::Truncated)
        );
    }

    #[test]
    fn exact_anomalies() {
        let mut bad = disco(0x10, 46);
        bad[5] = 0xAD;
        assert_eq!(parse_datagram(&bad), Step::invalid(Layer::Tailscale, 0, Reason::BadMagic));
        assert_eq!(parse_datagram(b"TS"), Step::invalid(Layer::Tailscale, 2, Reason::Truncated));
        assert_eq!(parse_datagram(b"\x00\x01"), Step::invalid(Layer::Tailscale, 0, Reason::BadMagic));
    }
}
