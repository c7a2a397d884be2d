//! The size an encrypted SSH message takes on the wire, from the algorithms the two
//! clear-text KEXINITs negotiate: what lets the timing code tell a keystroke from a keepalive
//! without decrypting anything.
//!
//! # Facts used
//! - RFC 4253 §6: a binary packet is `uint32 packet_length`, `byte padding_length`, the
//!   payload, at least 4 bytes of random padding, then the MAC. Padding makes the packet a
//!   multiple of the cipher's block size (at least 8); `packet_length` counts the padding
//!   length byte, the payload and the padding.
//! - In the encrypt-then-MAC modes (`*-etm@openssh.com`, RFC-less but documented in
//!   OpenSSH's PROTOCOL) and the AEAD ciphers (`chacha20-poly1305@openssh.com`,
//!   `aes*-gcm@openssh.com`, RFC 5647) the length field stays outside the block alignment;
//!   otherwise it is inside. The AEAD ciphers carry a 16-byte tag instead of a MAC.
//! - RFC 4253 §7.1: each direction's cipher and MAC are the first names on the client's list
//!   that the server also lists; an AEAD cipher makes the MAC choice moot. Compression other
//!   than `none` makes sizes unpredictable: [`Negotiated::from_kexinits`] then gives up.
//!
//! # Contract
//! Pure functions over the name-lists; unknown names give `None`, never a guess.

use super::KexInit;

/// How one direction frames its packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Framing {
    /// Cipher block size for the padding (at least 8).
    pub block: u8,
    /// Bytes of MAC or AEAD tag after the packet.
    pub mac: u8,
    /// Whether the 4-byte length is part of the block alignment (classic MAC-then-encrypt).
    pub length_aligned: bool,
}

/// Ciphers with a 16-byte tag and the length outside the alignment: (name, block).
const AEAD: &[(&str, u8)] =
    &[("chacha20-poly1305@openssh.com", 8), ("aes128-gcm@openssh.com", 16), ("aes256-gcm@openssh.com", 16)];

/// Other ciphers: (name, block).
const CIPHERS: &[(&str, u8)] = &[
    ("aes128-ctr", 16),
    ("aes192-ctr", 16),
    ("aes256-ctr", 16),
    ("aes128-cbc", 16),
    ("aes192-cbc", 16),
    ("aes256-cbc", 16),
    ("rijndael-cbc@lysator.liu.se", 16),
    ("3des-cbc", 8),
    ("3des-ctr", 8),
    ("blowfish-cbc", 8),
    ("twofish128-cbc", 16),
    ("twofish256-cbc", 16),
    ("twofish-cbc", 16),
    ("serpent128-cbc", 16),
    ("serpent256-cbc", 16),
];

/// MACs: (name without an `-etm@openssh.com` suffix, length).
const MACS: &[(&str, u8)] = &[
    ("hmac-sha2-256", 32),
    ("hmac-sha2-512", 64),
    ("hmac-sha1", 20),
    ("hmac-sha1-96", 12),
    ("hmac-md5", 16),
    ("hmac-md5-96", 12),
    ("umac-64", 8),
    ("umac-128", 16),
    ("hmac-ripemd160", 20),
];

/// Suffix of OpenSSH's encrypt-then-MAC variants.
const ETM: &str = "-etm@openssh.com";

impl Framing {
    /// The framing of `cipher` with `mac` (ignored for AEAD ciphers), if both are known.
    pub fn of(cipher: &str, mac: &str) -> Option<Framing> {
        if let Some(&(_, block)) = AEAD.iter().find(|(n, _)| *n == cipher) {
            return Some(Framing { block, mac: 16, length_aligned: false });
        }
        let &(_, block) = CIPHERS.iter().find(|(n, _)| *n == cipher)?;
        let (base, etm) = match mac.strip_suffix(ETM) {
            Some(b) => (b, true),
            None => (mac.strip_suffix("@openssh.com").unwrap_or(mac), false),
        };
        let &(_, len) = MACS.iter().find(|(n, _)| *n == base)?;
        Some(Framing { block, mac: len, length_aligned: !etm })
    }

    /// Bytes on the wire (TCP payload) of one packet whose payload — message number
    /// included — is `payload` bytes, with the least padding (OpenSSH adds no more).
    pub fn wire_len(&self, payload: usize) -> usize {
        let block = usize::from(self.block.max(8));
        let aligned = 1 + payload + if self.length_aligned { 4 } else { 0 };
        let mut pad = block - aligned % block;
        if pad < 4 {
            pad += block;
        }
        4 + 1 + payload + pad + usize::from(self.mac)
    }
}

/// The first name of `client`'s comma-separated list that `server`'s list also has.
pub fn choose<'a>(client: &'a str, server: &str) -> Option<&'a str> {
    client.split(',').find(|c| !c.is_empty() && server.split(',').any(|s| s == *c))
}

/// Both directions' framing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    /// Client to server.
    pub c2s: Framing,
    /// Server to client.
    pub s2c: Framing,
}

impl Negotiated {
    /// What the two KEXINITs negotiate, when every choice is known and neither direction
    /// compresses.
    pub fn from_kexinits(client: &KexInit<'_>, server: &KexInit<'_>) -> Option<Negotiated> {
        let dir = |enc_c: &str, enc_s: &str, mac_c: &str, mac_s: &str, comp_c: &str, comp_s: &str| {
            if choose(comp_c, comp_s)? != "none" {
                return None;
            }
            let cipher = choose(enc_c, enc_s)?;
            let aead = AEAD.iter().any(|(n, _)| *n == cipher);
            let mac = if aead { "" } else { choose(mac_c, mac_s)? };
            Framing::of(cipher, mac)
        };
        Some(Negotiated {
            c2s: dir(client.enc_c2s, server.enc_c2s, client.mac_c2s, server.mac_c2s, client.comp_c2s, server.comp_c2s)?,
            s2c: dir(client.enc_s2c, server.enc_s2c, client.mac_s2c, server.mac_s2c, client.comp_s2c, server.comp_s2c)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_match_what_openssh_sends() {
        // Measured in the lab (OpenSSH 10, chacha20-poly1305): a one-byte CHANNEL_DATA (10
        // payload bytes) is 36 bytes, the keepalive@openssh.com global request (27) 52, its
        // REQUEST_FAILURE (1) 28, the server's channel keepalive request (31) 60.
        let c = Framing::of("chacha20-poly1305@openssh.com", "whatever").unwrap();
        assert_eq!([10, 27, 1, 31, 5].map(|p| c.wire_len(p)), [36, 52, 28, 60, 36]);
        // AES-GCM: 16-byte blocks, length outside.
        let g = Framing::of("aes128-gcm@openssh.com", "").unwrap();
        assert_eq!([10, 27, 1].map(|p| g.wire_len(p)), [36, 52, 36]);
        // AES-CTR with encrypt-then-MAC SHA-256: as GCM plus a 32-byte MAC.
        let e = Framing::of("aes256-ctr", "hmac-sha2-256-etm@openssh.com").unwrap();
        assert_eq!(e.wire_len(10), 52);
        // Classic MAC: the length is aligned too: 4 + 1 + 10 = 15 → 32, + 32.
        let m = Framing::of("aes128-ctr", "hmac-sha2-256").unwrap();
        assert_eq!((m.length_aligned, m.wire_len(10)), (true, 64));
        assert_eq!(Framing::of("aes128-ctr", "umac-64@openssh.com").map(|f| f.mac), Some(8));
        // Unknown names: no guess.
        assert_eq!(Framing::of("none", "none"), None);
        assert_eq!(Framing::of("aes128-ctr", "hmac-whirlpool"), None);
    }

    #[test]
    fn padding_is_at_least_four_and_aligns() {
        for f in
            [Framing { block: 8, mac: 16, length_aligned: false }, Framing { block: 16, mac: 20, length_aligned: true }]
        {
            for p in 1..200 {
                let w = f.wire_len(p);
                let aligned = w - usize::from(f.mac) - if f.length_aligned { 0 } else { 4 };
                assert_eq!(aligned % usize::from(f.block), 0, "{f:?} {p}");
                let pad = w - usize::from(f.mac) - 4 - 1 - p;
                assert!((4..4 + usize::from(f.block)).contains(&pad), "{f:?} {p} pad {pad}");
            }
        }
    }

    fn kex<'a>(enc: &'a str, mac: &'a str, comp: &'a str) -> KexInit<'a> {
        KexInit {
            kex: "curve25519-sha256",
            host_key: "ssh-ed25519",
            enc_c2s: enc,
            enc_s2c: enc,
            mac_c2s: mac,
            mac_s2c: mac,
            comp_c2s: comp,
            comp_s2c: comp,
            lang_c2s: "",
            lang_s2c: "",
            first_kex_follows: false,
        }
    }

    #[test]
    fn negotiation_takes_the_clients_first_shared_choice() {
        assert_eq!(choose("a,b,c", "c,b"), Some("b"));
        assert_eq!(choose("a", "b"), None);
        assert_eq!(choose("", ""), None);
        let client = kex("aes256-ctr,chacha20-poly1305@openssh.com", "hmac-sha2-512-etm@openssh.com,hmac-sha1", "none");
        let server = kex("chacha20-poly1305@openssh.com,aes256-ctr", "hmac-sha1", "none,zlib@openssh.com");
        let n = Negotiated::from_kexinits(&client, &server).unwrap();
        assert_eq!(n.c2s, Framing { block: 16, mac: 20, length_aligned: true });
        // The AEAD choice needs no shared MAC.
        let client = kex("chacha20-poly1305@openssh.com", "hmac-x", "none");
        let server = kex("chacha20-poly1305@openssh.com", "hmac-y", "none");
        assert_eq!(Negotiated::from_kexinits(&client, &server).map(|n| n.s2c.block), Some(8));
        // Compression on: sizes say nothing.
        let client = kex("chacha20-poly1305@openssh.com", "", "zlib@openssh.com,none");
        let server = kex("chacha20-poly1305@openssh.com", "", "zlib@openssh.com,none");
        assert_eq!(Negotiated::from_kexinits(&client, &server), None);
    }
}
