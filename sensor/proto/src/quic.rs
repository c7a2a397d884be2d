//! QUIC client Initial parser: removes Initial packet protection and returns the TLS
//! ClientHello the client sent in its first flight.
//!
//! # Contract
//! - [`probe`] is a constant-time shape test of one UDP datagram; [`client_initial`]
//!   decrypts every coalesced client Initial packet in a datagram and reassembles the CRYPTO
//!   stream; [`client_initials`] does the same across several datagrams of one connection
//!   (clients whose ClientHello exceeds one datagram, e.g. with post-quantum key shares).
//! - The result holds the CRYPTO stream from offset 0 as far as it is contiguous (the
//!   ClientHello handshake message, possibly incomplete: see [`Initial::complete`]). This
//!   module does not parse TLS; `meta::tls` does.
//! - Pure and panic-free. Allocations: one copy of each packet being decrypted (bounded by
//!   the datagram) and the CRYPTO reassembly buffer, capped at [`MAX_CRYPTO_LEN`] and
//!   [`MAX_CRYPTO_FRAGMENTS`] whatever the offsets and lengths claim.
//!
//! # Facts used
//! - RFC 9000 §17.2 / §17.2.2: long header = first byte (`1` header form, `1` fixed bit,
//!   2-bit type, 4 protected bits), 32-bit version, DCID length and DCID (≤ 20 bytes in
//!   versions 1 and 2), SCID length and SCID (≤ 20); an Initial then has a varint token
//!   length and token, a varint Length (packet number and payload) and a 1–4 byte packet
//!   number.
//!   Version 1 types: Initial 0, 0-RTT 1, Handshake 2, Retry 3.
//! - RFC 9000 §16: variable-length integers, 2-bit length prefix (1, 2, 4 or 8 bytes).
//! - RFC 9000 §12.2: several long-header packets may be coalesced in one datagram; a short
//!   header packet can only be last. §14.1: a client's Initial datagram is at least 1200
//!   bytes. §12.4 / §19: frames allowed in Initial packets are PADDING (0x00), PING (0x01),
//!   ACK (0x02/0x03), CRYPTO (0x06: offset, length, data) and CONNECTION_CLOSE (0x1c);
//!   stream offsets are below 2^62.
//! - RFC 9001 §5.2: `initial_secret = HKDF-Extract(salt, client DCID)` with the version 1
//!   salt `38762cf7f55934b34d179ae6a4c80cadccbb7f0a`;
//!   `client_initial_secret = HKDF-Expand-Label(initial_secret, "client in", "", 32)`;
//!   §5.1: key (16), iv (12) and hp (16) from the labels "quic key", "quic iv", "quic hp"
//!   (TLS 1.3 HKDF-Expand-Label, RFC 8446 §7.1, label prefix "tls13 "); AEAD_AES_128_GCM.
//! - RFC 9001 §5.3: nonce = iv XOR the packet number (left-padded); associated data = the
//!   unprotected header up to and including the packet number.
//! - RFC 9001 §5.4: header protection — sample the 16 bytes starting 4 bytes after the
//!   packet number offset, mask = AES-ECB(hp, sample); the low 4 bits of a long header's
//!   first byte and the packet number bytes are XORed with the mask. The unprotected
//!   reserved bits (0x0c) must be zero.
//! - RFC 9369 §3: QUIC version 2 is `0x6b3343cf`, Initial type 0b01 (0-RTT 0b10, Handshake
//!   0b11, Retry 0b00), salt `0dede3def700a6db819381be6e269dcbf9bd2ed9`, labels
//!   "quicv2 key", "quicv2 iv", "quicv2 hp".

use ring::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey, quic as hp};
use ring::hkdf::{self, HKDF_SHA256, Prk, Salt};
use serde::Serialize;

/// QUIC version 1 (RFC 9000).
pub const VERSION_1: u32 = 0x0000_0001;
/// QUIC version 2 (RFC 9369).
pub const VERSION_2: u32 = 0x6b33_43cf;
/// Longest connection ID in versions 1 and 2 (RFC 9000 §17.2).
pub const MAX_CID_LEN: usize = 20;
/// Smallest datagram carrying a client Initial (RFC 9000 §14.1); [`probe`] requires it.
pub const MIN_CLIENT_DATAGRAM_LEN: usize = 1200;
/// Most CRYPTO stream bytes reassembled; data beyond this offset is ignored.
pub const MAX_CRYPTO_LEN: usize = 16 * 1024;
/// Most disjoint CRYPTO fragments tracked before giving up.
pub const MAX_CRYPTO_FRAGMENTS: usize = 64;
/// Most coalesced packets looked at in one datagram.
pub const MAX_PACKETS_PER_DATAGRAM: usize = 8;
/// Largest stream offset + length (RFC 9000 §19.6: below 2^62).
const MAX_STREAM_END: u64 = (1 << 62) - 1;

/// TLS handshake type ClientHello (RFC 8446 §4).
const HANDSHAKE_CLIENT_HELLO: u8 = 1;
/// TLS handshake message header: type and 24-bit length.
const HANDSHAKE_HEADER_LEN: usize = 4;
/// Header protection samples start this far after the packet number offset (§5.4.2).
const SAMPLE_OFFSET: usize = 4;
/// Header protection sample length for AES (RFC 9001 §5.4.3).
const SAMPLE_LEN: usize = 16;
/// AEAD_AES_128_GCM tag length.
const TAG_LEN: usize = 16;
const KEY_LEN: usize = 16;
const IV_LEN: usize = 12;
const HP_KEY_LEN: usize = 16;
const SECRET_LEN: usize = 32;
/// Long header bytes before the DCID: first byte, version, DCID length.
const LONG_HEADER_FIXED: usize = 6;
const FORM_LONG: u8 = 0x80;
const TYPE_SHIFT: u8 = 4;
const TYPE_MASK: u8 = 0x03;
const LONG_PROTECTED_BITS: u8 = 0x0f;
const RESERVED_BITS: u8 = 0x0c;
const PN_LEN_MASK: u8 = 0x03;

const FRAME_PADDING: u64 = 0x00;
const FRAME_PING: u64 = 0x01;
const FRAME_ACK: u64 = 0x02;
const FRAME_ACK_ECN: u64 = 0x03;
const FRAME_CRYPTO: u64 = 0x06;
const FRAME_CONNECTION_CLOSE: u64 = 0x1c;

const SALT_V1: [u8; 20] = [
    0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f,
    0x0a,
];
const SALT_V2: [u8; 20] = [
    0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93, 0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb, 0xf9, 0xbd, 0x2e,
    0xd9,
];

/// The client's first flight, decrypted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Initial {
    /// QUIC version ([`VERSION_1`] or [`VERSION_2`]).
    pub version: u32,
    /// Destination connection ID (the Initial keys are derived from it).
    pub dcid: Vec<u8>,
    /// Source connection ID.
    pub scid: Vec<u8>,
    /// The CRYPTO stream from offset 0, as far as contiguous; starts with handshake type 1.
    #[serde(skip)]
    pub client_hello: Vec<u8>,
    /// `client_hello` holds the whole ClientHello message (its 24-bit length is satisfied).
    pub complete: bool,
    /// Length of the token in the first Initial (non-zero after a Retry or with a
    /// NEW_TOKEN token).
    pub token_len: usize,
    /// Initial packets decrypted.
    pub packets: usize,
}

/// Why no ClientHello came out of a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum QuicError {
    /// Not a long-header Initial packet of version 1 or 2.
    #[error("not a QUIC v1/v2 Initial packet")]
    NotInitial,
    /// A length field points past the end of the datagram.
    #[error("packet truncated")]
    Truncated,
    /// A connection ID longer than 20 bytes.
    #[error("connection ID longer than 20 bytes")]
    ConnectionId,
    /// Packet protection could not be removed (not a client Initial, or corrupted).
    #[error("Initial packet does not decrypt")]
    Decrypt,
    /// A malformed frame, or one not allowed in Initial packets.
    #[error("bad frame in Initial packet")]
    Frame,
    /// CRYPTO data too fragmented to reassemble within the limits.
    #[error("CRYPTO stream too fragmented")]
    Fragmented,
    /// No CRYPTO data at offset 0, or it is not a ClientHello.
    #[error("no ClientHello in the CRYPTO stream")]
    NoClientHello,
}

/// Per-version constants.
struct VersionParams {
    version: u32,
    salt: &'static [u8; 20],
    key_label: &'static [u8],
    iv_label: &'static [u8],
    hp_label: &'static [u8],
    initial_type: u8,
}

const PARAMS_V1: VersionParams = VersionParams {
    version: VERSION_1,
    salt: &SALT_V1,
    key_label: b"quic key",
    iv_label: b"quic iv",
    hp_label: b"quic hp",
    initial_type: 0b00,
};
const PARAMS_V2: VersionParams = VersionParams {
    version: VERSION_2,
    salt: &SALT_V2,
    key_label: b"quicv2 key",
    iv_label: b"quicv2 iv",
    hp_label: b"quicv2 hp",
    initial_type: 0b01,
};

fn params(version: u32) -> Option<&'static VersionParams> {
    match version {
        VERSION_1 => Some(&PARAMS_V1),
        VERSION_2 => Some(&PARAMS_V2),
        _ => None,
    }
}

/// Long packet types, version-independent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PacketType {
    Initial,
    ZeroRtt,
    Handshake,
    Retry,
}

fn packet_type(p: &VersionParams, first: u8) -> PacketType {
    // Version 2 rotates the type codes by one (RFC 9369 §3.2).
    let t = ((first >> TYPE_SHIFT) & TYPE_MASK).wrapping_sub(p.initial_type) & TYPE_MASK;
    match t {
        0 => PacketType::Initial,
        1 => PacketType::ZeroRtt,
        2 => PacketType::Handshake,
        _ => PacketType::Retry,
    }
}

/// A QUIC variable-length integer at the start of `buf`: value and encoded length.
fn varint(buf: &[u8]) -> Option<(u64, usize)> {
    let first = *buf.first()?;
    let len = 1usize << (first >> 6);
    let bytes = buf.get(..len)?;
    let mut v = u64::from(first & 0x3f);
    for &b in bytes.iter().skip(1) {
        v = (v << 8) | u64::from(b);
    }
    Some((v, len))
}

/// A cursor over decrypted frame bytes.
struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Result<u64, QuicError> {
        let (v, n) = varint(self.buf).ok_or(QuicError::Frame)?;
        self.buf = self.buf.get(n..).unwrap_or_default();
        Ok(v)
    }

    fn take(&mut self, n: u64) -> Result<&'a [u8], QuicError> {
        let n = usize::try_from(n).map_err(|_| QuicError::Frame)?;
        let (head, tail) = self.buf.split_at_checked(n).ok_or(QuicError::Frame)?;
        self.buf = tail;
        Ok(head)
    }
}

/// The fixed part of a long header.
struct LongHeader<'a> {
    first: u8,
    version: u32,
    dcid: &'a [u8],
    scid: &'a [u8],
    /// Offset just after the SCID.
    rest: usize,
}

fn long_header(pkt: &[u8]) -> Result<LongHeader<'_>, QuicError> {
    let fixed: &[u8; LONG_HEADER_FIXED] = pkt.first_chunk().ok_or(QuicError::NotInitial)?;
    let [first, v0, v1, v2, v3, dcid_len] = *fixed;
    if first & FORM_LONG == 0 {
        return Err(QuicError::NotInitial);
    }
    let dcid_len = usize::from(dcid_len);
    if dcid_len > MAX_CID_LEN {
        return Err(QuicError::ConnectionId);
    }
    let dcid_end = LONG_HEADER_FIXED + dcid_len;
    let dcid = pkt.get(LONG_HEADER_FIXED..dcid_end).ok_or(QuicError::Truncated)?;
    let scid_len = usize::from(*pkt.get(dcid_end).ok_or(QuicError::Truncated)?);
    if scid_len > MAX_CID_LEN {
        return Err(QuicError::ConnectionId);
    }
    let scid = pkt.get(dcid_end + 1..dcid_end + 1 + scid_len).ok_or(QuicError::Truncated)?;
    Ok(LongHeader { first, version: u32::from_be_bytes([v0, v1, v2, v3]), dcid, scid, rest: dcid_end + 1 + scid_len })
}

/// Shape test for a client Initial datagram: at least [`MIN_CLIENT_DATAGRAM_LEN`] bytes, a
/// long header of version 1 or 2 whose type is Initial, and connection IDs of at most
/// [`MAX_CID_LEN`] bytes that fit the datagram. Does not decrypt.
pub fn probe(datagram: &[u8]) -> bool {
    if datagram.len() < MIN_CLIENT_DATAGRAM_LEN {
        return false;
    }
    match long_header(datagram) {
        Ok(h) => params(h.version).is_some_and(|p| packet_type(p, h.first) == PacketType::Initial),
        Err(_) => false,
    }
}

/// Decrypts every client Initial packet coalesced in `datagram` and returns the reassembled
/// ClientHello bytes. 0-RTT and Handshake packets are skipped; a short-header packet (or
/// trailing padding) ends the walk; Initials for another DCID are ignored.
pub fn client_initial(datagram: &[u8]) -> Result<Initial, QuicError> {
    client_initials([datagram])
}

/// Like [`client_initial`] over several datagrams of one connection (in any order): the
/// connection is set by the first datagram's first packet; CRYPTO data of all of them is
/// reassembled together. Datagrams after the first that do not decrypt are skipped.
pub fn client_initials<'a, I>(datagrams: I) -> Result<Initial, QuicError>
where
    I: IntoIterator<Item = &'a [u8]>,
{
    let mut conn: Option<Conn> = None;
    let mut crypto = Reassembly::default();
    for datagram in datagrams {
        match conn.as_mut() {
            None => {
                let c = Conn::from_first_packet(datagram)?;
                let c = conn.insert(c);
                c.walk(datagram, &mut crypto, true)?;
            }
            Some(c) => {
                // Later datagrams are best-effort: their failure loses nothing already had.
                let _ = c.walk(datagram, &mut crypto, false);
            }
        }
    }
    let conn = conn.ok_or(QuicError::NotInitial)?;
    let client_hello = crypto.into_contiguous();
    if client_hello.first() != Some(&HANDSHAKE_CLIENT_HELLO) {
        return Err(QuicError::NoClientHello);
    }
    let complete = match client_hello.get(1..HANDSHAKE_HEADER_LEN) {
        Some(&[a, b, c]) => {
            let len = usize::from(a) << 16 | usize::from(b) << 8 | usize::from(c);
            client_hello.len() >= HANDSHAKE_HEADER_LEN + len
        }
        _ => false,
    };
    Ok(Initial {
        version: conn.params.version,
        dcid: conn.dcid,
        scid: conn.scid,
        client_hello,
        complete,
        token_len: conn.token_len,
        packets: conn.packets,
    })
}

/// Raw client Initial key material (RFC 9001 §5.1–§5.2).
#[derive(Debug, Clone, PartialEq, Eq)]
struct KeyMaterial {
    secret: [u8; SECRET_LEN],
    key: [u8; KEY_LEN],
    iv: [u8; IV_LEN],
    hp: [u8; HP_KEY_LEN],
}

/// Output length for ring's HKDF.
struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

/// TLS 1.3 HKDF-Expand-Label with an empty context (RFC 8446 §7.1).
fn expand_label(prk: &Prk, label: &[u8], out: &mut [u8]) -> Option<()> {
    const PREFIX: &[u8] = b"tls13 ";
    let out_len = u16::try_from(out.len()).ok()?.to_be_bytes();
    let label_len = [u8::try_from(PREFIX.len() + label.len()).ok()?];
    let info: [&[u8]; 5] = [&out_len, &label_len, PREFIX, label, &[0]];
    prk.expand(&info, Len(out.len())).ok()?.fill(out).ok()
}

fn key_material(p: &VersionParams, dcid: &[u8]) -> Option<KeyMaterial> {
    let initial = Salt::new(HKDF_SHA256, p.salt).extract(dcid);
    let mut m = KeyMaterial { secret: [0; SECRET_LEN], key: [0; KEY_LEN], iv: [0; IV_LEN], hp: [0; HP_KEY_LEN] };
    expand_label(&initial, b"client in", &mut m.secret)?;
    let client = Prk::new_less_safe(HKDF_SHA256, &m.secret);
    expand_label(&client, p.key_label, &mut m.key)?;
    expand_label(&client, p.iv_label, &mut m.iv)?;
    expand_label(&client, p.hp_label, &mut m.hp)?;
    Some(m)
}

/// Keys and identity of the connection being decoded.
struct Conn {
    params: &'static VersionParams,
    dcid: Vec<u8>,
    scid: Vec<u8>,
    aead: LessSafeKey,
    iv: [u8; IV_LEN],
    hp: hp::HeaderProtectionKey,
    token_len: usize,
    packets: usize,
}

impl Conn {
    fn from_first_packet(datagram: &[u8]) -> Result<Self, QuicError> {
        let h = long_header(datagram)?;
        let params = params(h.version).ok_or(QuicError::NotInitial)?;
        if packet_type(params, h.first) != PacketType::Initial {
            return Err(QuicError::NotInitial);
        }
        let m = key_material(params, h.dcid).ok_or(QuicError::Decrypt)?;
        let key = UnboundKey::new(&aead::AES_128_GCM, &m.key).map_err(|_| QuicError::Decrypt)?;
        let hp = hp::HeaderProtectionKey::new(&hp::AES_128, &m.hp).map_err(|_| QuicError::Decrypt)?;
        Ok(Self {
            params,
            dcid: h.dcid.to_vec(),
            scid: h.scid.to_vec(),
            aead: LessSafeKey::new(key),
            iv: m.iv,
            hp,
            token_len: 0,
            packets: 0,
        })
    }

    /// Walks the coalesced packets of one datagram. With `strict`, the first packet must
    /// decrypt and any malformation is an error; otherwise the walk just stops.
    fn walk(&mut self, datagram: &[u8], crypto: &mut Reassembly, strict: bool) -> Result<(), QuicError> {
        let mut rest = datagram;
        for index in 0..MAX_PACKETS_PER_DATAGRAM {
            if rest.first().is_none_or(|&b| b & FORM_LONG == 0) {
                break;
            }
            let step = self.packet(rest, crypto, strict && index == 0);
            match step {
                Ok(len) => rest = rest.get(len..).unwrap_or_default(),
                Err(e) if strict && index == 0 => return Err(e),
                Err(QuicError::Fragmented) => return Err(QuicError::Fragmented),
                Err(_) => break,
            }
        }
        Ok(())
    }

    /// Handles the packet at the start of `buf`; returns its length.
    fn packet(&mut self, buf: &[u8], crypto: &mut Reassembly, first: bool) -> Result<usize, QuicError> {
        let h = long_header(buf)?;
        if h.version != self.params.version {
            return Err(QuicError::NotInitial);
        }
        let ty = packet_type(self.params, h.first);
        let mut pos = h.rest;
        let mut token_len = 0;
        match ty {
            PacketType::Retry => return Err(QuicError::NotInitial),
            PacketType::Initial => {
                let (tl, n) = varint(buf.get(pos..).unwrap_or_default()).ok_or(QuicError::Truncated)?;
                token_len = usize::try_from(tl).map_err(|_| QuicError::Truncated)?;
                pos = pos
                    .checked_add(n)
                    .and_then(|p| p.checked_add(token_len))
                    .filter(|&p| p <= buf.len())
                    .ok_or(QuicError::Truncated)?;
            }
            PacketType::ZeroRtt | PacketType::Handshake => {}
        }
        let (len, n) = varint(buf.get(pos..).unwrap_or_default()).ok_or(QuicError::Truncated)?;
        let pn_offset = pos + n;
        let end = usize::try_from(len)
            .ok()
            .and_then(|l| pn_offset.checked_add(l))
            .filter(|&e| e <= buf.len())
            .ok_or(QuicError::Truncated)?;
        if ty != PacketType::Initial || h.dcid != self.dcid.as_slice() {
            return Ok(end);
        }
        let pkt = buf.get(..end).ok_or(QuicError::Truncated)?;
        let payload = self.unprotect(pkt, pn_offset)?;
        if first {
            self.token_len = token_len;
        }
        self.packets += 1;
        read_frames(&payload, crypto)?;
        Ok(end)
    }

    /// Removes header and packet protection (RFC 9001 §5.3–§5.4); returns the plaintext.
    fn unprotect(&self, pkt: &[u8], pn_offset: usize) -> Result<Vec<u8>, QuicError> {
        let sample_start = pn_offset + SAMPLE_OFFSET;
        let sample = pkt.get(sample_start..sample_start + SAMPLE_LEN).ok_or(QuicError::Truncated)?;
        let mask = self.hp.new_mask(sample).map_err(|_| QuicError::Decrypt)?;
        let [m0, pn_mask @ ..] = mask;
        let first = pkt.first().ok_or(QuicError::Truncated)? ^ (m0 & LONG_PROTECTED_BITS);
        let pn_len = usize::from(first & PN_LEN_MASK) + 1;
        let header_len = pn_offset + pn_len;
        let mut header = pkt.get(..header_len).ok_or(QuicError::Truncated)?.to_vec();
        let mut pn: u64 = 0;
        if let Some(b) = header.first_mut() {
            *b = first;
        }
        for (b, m) in header.iter_mut().skip(pn_offset).zip(pn_mask) {
            *b ^= m;
            pn = (pn << 8) | u64::from(*b);
        }
        // The first packet of a connection has no largest acknowledged packet: the
        // truncated packet number is the packet number (RFC 9000 §17.1, Appendix A.3).
        let mut nonce = self.iv;
        for (n, p) in nonce.iter_mut().rev().zip(pn.to_le_bytes()) {
            *n ^= p;
        }
        let mut body = pkt.get(header_len..).ok_or(QuicError::Truncated)?.to_vec();
        if body.len() < TAG_LEN {
            return Err(QuicError::Truncated);
        }
        let plain_len = self
            .aead
            .open_in_place(Nonce::assume_unique_for_key(nonce), Aad::from(&header), &mut body)
            .map_err(|_| QuicError::Decrypt)?
            .len();
        if first & RESERVED_BITS != 0 {
            return Err(QuicError::Frame);
        }
        body.truncate(plain_len);
        Ok(body)
    }
}

/// Reads the frames of a decrypted Initial payload, feeding CRYPTO data to `crypto`.
fn read_frames(payload: &[u8], crypto: &mut Reassembly) -> Result<(), QuicError> {
    let mut r = Reader { buf: payload };
    while !r.buf.is_empty() {
        match r.varint()? {
            FRAME_PADDING => {
                // Runs of PADDING are common: skip them in one go.
                let zeros = r.buf.iter().take_while(|&&b| b == 0).count();
                r.buf = r.buf.get(zeros..).unwrap_or_default();
            }
            FRAME_PING => {}
            t @ (FRAME_ACK | FRAME_ACK_ECN) => {
                let _largest = r.varint()?;
                let _delay = r.varint()?;
                let ranges = r.varint()?;
                let _first_range = r.varint()?;
                // Each range costs at least two bytes, so the loop ends with the input.
                for _ in 0..ranges {
                    r.varint()?;
                    r.varint()?;
                }
                if t == FRAME_ACK_ECN {
                    for _ in 0..3 {
                        r.varint()?;
                    }
                }
            }
            FRAME_CRYPTO => {
                let offset = r.varint()?;
                let len = r.varint()?;
                let data = r.take(len)?;
                crypto.add(offset, data)?;
            }
            FRAME_CONNECTION_CLOSE => {
                r.varint()?;
                r.varint()?;
                let reason = r.varint()?;
                r.take(reason)?;
            }
            _ => return Err(QuicError::Frame),
        }
    }
    Ok(())
}

/// CRYPTO stream reassembly within [`MAX_CRYPTO_LEN`].
#[derive(Default)]
struct Reassembly {
    buf: Vec<u8>,
    /// Disjoint, sorted, non-adjacent `[start, end)` ranges present in `buf`.
    ranges: Vec<(usize, usize)>,
}

impl Reassembly {
    fn add(&mut self, offset: u64, data: &[u8]) -> Result<(), QuicError> {
        let len = u64::try_from(data.len()).map_err(|_| QuicError::Frame)?;
        if offset.checked_add(len).is_none_or(|end| end > MAX_STREAM_END) {
            return Err(QuicError::Frame);
        }
        // Offsets past the cap cannot join the prefix: ignore them.
        let Some(start) = usize::try_from(offset).ok().filter(|&s| s < MAX_CRYPTO_LEN) else {
            return Ok(());
        };
        let keep = data.len().min(MAX_CRYPTO_LEN - start);
        let (Some(data), end) = (data.get(..keep), start + keep) else {
            return Ok(());
        };
        if data.is_empty() {
            return Ok(());
        }
        if self.buf.len() < end {
            self.buf.resize(end, 0);
        }
        if let Some(dst) = self.buf.get_mut(start..end) {
            dst.copy_from_slice(data);
        }
        self.insert(start, end)
    }

    fn insert(&mut self, start: usize, end: usize) -> Result<(), QuicError> {
        // Merge with every range that overlaps or touches [start, end).
        let first = self.ranges.partition_point(|&(_, e)| e < start);
        let last = self.ranges.partition_point(|&(s, _)| s <= end);
        let (mut s, mut e) = (start, end);
        if let Some(merged) = self.ranges.get(first..last) {
            for &(rs, re) in merged {
                s = s.min(rs);
                e = e.max(re);
            }
        }
        if first >= last && self.ranges.len() >= MAX_CRYPTO_FRAGMENTS {
            return Err(QuicError::Fragmented);
        }
        self.ranges.splice(first..last.max(first), [(s, e)]);
        Ok(())
    }

    fn into_contiguous(mut self) -> Vec<u8> {
        let prefix = match self.ranges.first() {
            Some(&(0, end)) => end,
            _ => 0,
        };
        self.buf.truncate(prefix);
        self.buf
    }
}

#[cfg(test)]
mod tests {
    //! Known answers: RFC 9001 Appendix A.1–A.2 and RFC 9369 Appendix A.1–A.2 (public test
    //! vectors, copied from the RFC text). Hostile and multi-packet cases are built by the
    //! `protect` helper below, which applies Initial protection with the same key schedule.
    use super::*;

    /// RFC 9001 Appendix A.2: the protected client Initial (1200 bytes).
    const RFC9001_A2_PACKET: &str = concat!(
        "c000000001088394c8f03e5157080000449e7b9aec34d1b1c98dd7689fb8ec11d242b123dc9bd8ba",
        "b936b47d92ec356c0bab7df5976d27cd449f63300099f3991c260ec4c60d17b31f8429157bb35a12",
        "82a643a8d2262cad67500cadb8e7378c8eb7539ec4d4905fed1bee1fc8aafba17c750e2c7ace01e6",
        "005f80fcb7df621230c83711b39343fa028cea7f7fb5ff89eac2308249a02252155e2347b63d58c5",
        "457afd84d05dfffdb20392844ae812154682e9cf012f9021a6f0be17ddd0c2084dce25ff9b06cde5",
        "35d0f920a2db1bf362c23e596d11a4f5a6cf3948838a3aec4e15daf8500a6ef69ec4e3feb6b1d98e",
        "610ac8b7ec3faf6ad760b7bad1db4ba3485e8a94dc250ae3fdb41ed15fb6a8e5eba0fc3dd60bc8e3",
        "0c5c4287e53805db059ae0648db2f64264ed5e39be2e20d82df566da8dd5998ccabdae053060ae6c",
        "7b4378e846d29f37ed7b4ea9ec5d82e7961b7f25a9323851f681d582363aa5f89937f5a67258bf63",
        "ad6f1a0b1d96dbd4faddfcefc5266ba6611722395c906556be52afe3f565636ad1b17d508b73d874",
        "3eeb524be22b3dcbc2c7468d54119c7468449a13d8e3b95811a198f3491de3e7fe942b330407abf8",
        "2a4ed7c1b311663ac69890f4157015853d91e923037c227a33cdd5ec281ca3f79c44546b9d90ca00",
        "f064c99e3dd97911d39fe9c5d0b23a229a234cb36186c4819e8b9c5927726632291d6a418211cc29",
        "62e20fe47feb3edf330f2c603a9d48c0fcb5699dbfe5896425c5bac4aee82e57a85aaf4e2513e4f0",
        "5796b07ba2ee47d80506f8d2c25e50fd14de71e6c418559302f939b0e1abd576f279c4b2e0feb85c",
        "1f28ff18f58891ffef132eef2fa09346aee33c28eb130ff28f5b766953334113211996d20011a198",
        "e3fc433f9f2541010ae17c1bf202580f6047472fb36857fe843b19f5984009ddc324044e847a4f4a",
        "0ab34f719595de37252d6235365e9b84392b061085349d73203a4a13e96f5432ec0fd4a1ee65accd",
        "d5e3904df54c1da510b0ff20dcc0c77fcb2c0e0eb605cb0504db87632cf3d8b4dae6e705769d1de3",
        "54270123cb11450efc60ac47683d7b8d0f811365565fd98c4c8eb936bcab8d069fc33bd801b03ade",
        "a2e1fbc5aa463d08ca19896d2bf59a071b851e6c239052172f296bfb5e72404790a2181014f3b94a",
        "4e97d117b438130368cc39dbb2d198065ae3986547926cd2162f40a29f0c3c8745c0f50fba3852e5",
        "66d44575c29d39a03f0cda721984b6f440591f355e12d439ff150aab7613499dbd49adabc8676eef",
        "023b15b65bfc5ca06948109f23f350db82123535eb8a7433bdabcb909271a6ecbcb58b936a88cd4e",
        "8f2e6ff5800175f113253d8fa9ca8885c2f552e657dc603f252e1a8e308f76f0be79e2fb8f5d5fbb",
        "e2e30ecadd220723c8c0aea8078cdfcb3868263ff8f0940054da48781893a7e49ad5aff4af300cd8",
        "04a6b6279ab3ff3afb64491c85194aab760d58a606654f9f4400e8b38591356fbf6425aca26dc852",
        "44259ff2b19c41b9f96f3ca9ec1dde434da7d2d392b905ddf3d1f9af93d1af5950bd493f5aa731b4",
        "056df31bd267b6b90a079831aaf579be0a39013137aac6d404f518cfd46840647e78bfe706ca4cf5",
        "e9c5453e9f7cfd2b8b4c8d169a44e55c88d4a9a7f9474241e221af44860018ab0856972e194cd934",
    );
    /// RFC 9369 Appendix A.2: the protected version 2 client Initial (1200 bytes).
    const RFC9369_A2_PACKET: &str = concat!(
        "d76b3343cf088394c8f03e5157080000449ea0c95e82ffe67b6abcdb4298b485dd04de806071bf03",
        "dceebfa162e75d6c96058bdbfb127cdfcbf903388e99ad049f9a3dd4425ae4d0992cfff18ecf0fdb",
        "5a842d09747052f17ac2053d21f57c5d250f2c4f0e0202b70785b7946e992e58a59ac52dea6774d4",
        "f03b55545243cf1a12834e3f249a78d395e0d18f4d766004f1a2674802a747eaa901c3f10cda5500",
        "cb9122faa9f1df66c392079a1b40f0de1c6054196a11cbea40afb6ef5253cd6818f6625efce3b6de",
        "f6ba7e4b37a40f7732e093daa7d52190935b8da58976ff3312ae50b187c1433c0f028edcc4c2838b",
        "6a9bfc226ca4b4530e7a4ccee1bfa2a3d396ae5a3fb512384b2fdd851f784a65e03f2c4fbe11a53c",
        "7777c023462239dd6f7521a3f6c7d5dd3ec9b3f233773d4b46d23cc375eb198c63301c21801f6520",
        "bcfb7966fc49b393f0061d974a2706df8c4a9449f11d7f3d2dcbb90c6b877045636e7c0c0fe4eb0f",
        "697545460c806910d2c355f1d253bc9d2452aaa549e27a1fac7cf4ed77f322e8fa894b6a83810a34",
        "b361901751a6f5eb65a0326e07de7c1216ccce2d0193f958bb3850a833f7ae432b65bc5a53975c15",
        "5aa4bcb4f7b2c4e54df16efaf6ddea94e2c50b4cd1dfe06017e0e9d02900cffe1935e0491d77ffb4",
        "fdf85290fdd893d577b1131a610ef6a5c32b2ee0293617a37cbb08b847741c3b8017c25ca9052ca1",
        "079d8b78aebd47876d330a30f6a8c6d61dd1ab5589329de714d19d61370f8149748c72f132f0fc99",
        "f34d766c6938597040d8f9e2bb522ff99c63a344d6a2ae8aa8e51b7b90a4a806105fcbca31506c44",
        "6151adfeceb51b91abfe43960977c87471cf9ad4074d30e10d6a7f03c63bd5d4317f68ff325ba3bd",
        "80bf4dc8b52a0ba031758022eb025cdd770b44d6d6cf0670f4e990b22347a7db848265e3e5eb72df",
        "e8299ad7481a408322cac55786e52f633b2fb6b614eaed18d703dd84045a274ae8bfa73379661388",
        "d6991fe39b0d93debb41700b41f90a15c4d526250235ddcd6776fc77bc97e7a417ebcb31600d01e5",
        "7f32162a8560cacc7e27a096d37a1a86952ec71bd89a3e9a30a2a26162984d7740f81193e8238e61",
        "f6b5b984d4d3dfa033c1bb7e4f0037febf406d91c0dccf32acf423cfa1e7071010d3f270121b493c",
        "e85054ef58bada42310138fe081adb04e2bd901f2f13458b3d6758158197107c14ebb193230cd115",
        "7380aa79cae1374a7c1e5bbcb80ee23e06ebfde206bfb0fcbc0edc4ebec309661bdd908d532eb0c6",
        "adc38b7ca7331dce8dfce39ab71e7c32d318d136b6100671a1ae6a6600e3899f31f0eed19e3417d1",
        "34b90c9058f8632c798d4490da4987307cba922d61c39805d072b589bd52fdf1e86215c2d54e6670",
        "e07383a27bbffb5addf47d66aa85a0c6f9f32e59d85a44dd5d3b22dc2be80919b490437ae4f36a0a",
        "e55edf1d0b5cb4e9a3ecabee93dfc6e38d209d0fa6536d27a5d6fbb17641cde27525d61093f1b280",
        "72d111b2b4ae5f89d5974ee12e5cf7d5da4d6a31123041f33e61407e76cffcdcfd7e19ba58cf4b53",
        "6f4c4938ae79324dc402894b44faf8afbab35282ab659d13c93f70412e85cb199a37ddec60054547",
        "3cfb5a05e08d0b209973b2172b4d21fb69745a262ccde96ba18b2faa745b6fe189cf772a9f84cbfc",
    );
    /// RFC 9001 / RFC 9369 Appendix A.2: the CRYPTO frame in both packets (the rest is PADDING).
    const RFC_A2_CRYPTO_FRAME: &str = concat!(
        "060040f1010000ed0303ebf8fa56f12939b9584a3896472ec40bb863cfd3e86804fe3a47f06a2b69",
        "484c00000413011302010000c000000010000e00000b6578616d706c652e636f6dff01000100000a",
        "00080006001d0017001800100007000504616c706e000500050100000000003300260024001d0020",
        "9370b2c9caa47fbabaf4559fedba753de171fa71f50f1ce15d43e994ec74d748002b000302030400",
        "0d0010000e0403050306030203080408050806002d00020101001c00024001003900320408ffffff",
        "ffffffffff05048000ffff07048000ffff0801100104800075300901100f088394c8f03e51570806",
        "048000ffff",
    );

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    const RFC_DCID: &str = "8394c8f03e515708";

    /// The ClientHello inside the RFC CRYPTO frame (type, offset 0, 2-byte length 0xf1).
    fn rfc_client_hello() -> Vec<u8> {
        let frame = hex(RFC_A2_CRYPTO_FRAME);
        assert_eq!(&frame[..4], &[0x06, 0x00, 0x40, 0xf1]);
        frame[4..].to_vec()
    }

    #[test]
    fn rfc9001_a1_keys() {
        let m = key_material(&PARAMS_V1, &hex(RFC_DCID)).unwrap();
        assert_eq!(m.secret.to_vec(), hex("c00cf151ca5be075ed0ebfb5c80323c42d6b7db67881289af4008f1f6c357aea"));
        assert_eq!(m.key.to_vec(), hex("1f369613dd76d5467730efcbe3b1a22d"));
        assert_eq!(m.iv.to_vec(), hex("fa044b2f42a3fd3b46fb255c"));
        assert_eq!(m.hp.to_vec(), hex("9f50449e04a0e810283a1e9933adedd2"));
    }

    #[test]
    fn rfc9369_a1_keys() {
        let m = key_material(&PARAMS_V2, &hex(RFC_DCID)).unwrap();
        assert_eq!(m.secret.to_vec(), hex("14ec9d6eb9fd7af83bf5a668bc17a7e283766aade7ecd0891f70f9ff7f4bf47b"));
        assert_eq!(m.key.to_vec(), hex("8b1a0bc121284290a29e0971b5cd045d"));
        assert_eq!(m.iv.to_vec(), hex("91f73e2351d8fa91660e909f"));
        assert_eq!(m.hp.to_vec(), hex("45b95e15235d6f45a6b19cbcb0294ba9"));
    }

    #[test]
    fn rfc_header_protection_masks() {
        for (p, sample, mask) in [
            (&PARAMS_V1, "d1b1c98dd7689fb8ec11d242b123dc9b", "437b9aec36"),
            (&PARAMS_V2, "ffe67b6abcdb4298b485dd04de806071", "94a0c95e80"),
        ] {
            let m = key_material(p, &hex(RFC_DCID)).unwrap();
            let key = hp::HeaderProtectionKey::new(&hp::AES_128, &m.hp).unwrap();
            assert_eq!(key.new_mask(&hex(sample)).unwrap().to_vec(), hex(mask));
        }
    }

    #[test]
    fn rfc9001_a2_client_initial_decrypts() {
        let pkt = hex(RFC9001_A2_PACKET);
        assert_eq!(pkt.len(), 1200);
        assert!(probe(&pkt));
        let i = client_initial(&pkt).unwrap();
        assert_eq!(i.version, VERSION_1);
        assert_eq!(i.dcid, hex(RFC_DCID));
        assert!(i.scid.is_empty());
        assert_eq!(i.client_hello, rfc_client_hello());
        assert_eq!(i.client_hello[0], 1);
        assert!(i.complete);
        assert_eq!((i.token_len, i.packets), (0, 1));
        // The SNI is in there: "example.com".
        assert!(i.client_hello.windows(11).any(|w| w == b"example.com"));
    }

    #[test]
    fn rfc9369_a2_client_initial_decrypts() {
        let pkt = hex(RFC9369_A2_PACKET);
        assert!(probe(&pkt));
        let i = client_initial(&pkt).unwrap();
        assert_eq!(i.version, VERSION_2);
        assert_eq!(i.dcid, hex(RFC_DCID));
        assert_eq!(i.client_hello, rfc_client_hello());
        assert!(i.complete);
    }

    #[test]
    fn versions_do_not_cross_decrypt() {
        // A v1 packet relabelled as v2 has the wrong keys and type bits.
        let mut pkt = hex(RFC9001_A2_PACKET);
        pkt[1..5].copy_from_slice(&VERSION_2.to_be_bytes());
        assert!(client_initial(&pkt).is_err());
        pkt[0] = (pkt[0] & 0xcf) | 0x10; // v2 Initial type bits
        assert_eq!(client_initial(&pkt), Err(QuicError::Decrypt));
    }

    #[test]
    fn every_prefix_fails_without_panic() {
        for vector in [RFC9001_A2_PACKET, RFC9369_A2_PACKET] {
            let pkt = hex(vector);
            for n in 0..pkt.len() {
                assert!(client_initial(&pkt[..n]).is_err(), "prefix {n}");
                assert!(!probe(&pkt[..n]));
            }
        }
    }

    #[test]
    fn every_bit_flip_in_payload_fails_authentication() {
        let pkt = hex(RFC9001_A2_PACKET);
        for i in (22..pkt.len()).step_by(37) {
            let mut p = pkt.clone();
            p[i] ^= 0x01;
            assert!(client_initial(&p).is_err(), "byte {i}");
        }
    }

    #[test]
    fn hostile_header_fields() {
        let pkt = hex(RFC9001_A2_PACKET);
        // DCID length 255.
        let mut p = pkt.clone();
        p[5] = 255;
        assert_eq!(client_initial(&p), Err(QuicError::ConnectionId));
        assert!(!probe(&p));
        // SCID length 21.
        let mut p = pkt.clone();
        p[14] = 21;
        assert_eq!(client_initial(&p), Err(QuicError::ConnectionId));
        // Length varint claiming 2^62-1 bytes: 8-byte varint in place of token len + length
        // would shift the header; instead lie with the 2-byte length field.
        let mut p = pkt.clone();
        assert_eq!(&p[16..18], &[0x44, 0x9e]);
        p[16] = 0x7f;
        p[17] = 0xff;
        assert_eq!(client_initial(&p), Err(QuicError::Truncated));
        // Token length larger than the datagram.
        let mut p = pkt.clone();
        p[15] = 0x7f; // 2-byte varint 0x3f44
        assert_eq!(client_initial(&p), Err(QuicError::Truncated));
        // Token length as an 8-byte varint near 2^62.
        let mut p = pkt[..15].to_vec();
        p.extend_from_slice(&[0xff; 8]);
        p.extend_from_slice(&pkt[15..]);
        assert_eq!(client_initial(&p), Err(QuicError::Truncated));
    }

    #[test]
    fn probe_rejects_other_traffic() {
        let pkt = hex(RFC9001_A2_PACKET);
        assert!(!probe(&[]));
        assert!(!probe(&[0u8; 1500]));
        assert!(!probe(&[0xff; 1500]));
        // Short header.
        let mut p = pkt.clone();
        p[0] = 0x40;
        assert!(!probe(&p));
        // Version negotiation (version 0) and an unknown version.
        for v in [0u32, 0xff00_001d, 0x5130_3433 /* gQUIC "Q043" */] {
            let mut p = pkt.clone();
            p[1..5].copy_from_slice(&v.to_be_bytes());
            assert!(!probe(&p));
            assert_eq!(client_initial(&p), Err(QuicError::NotInitial));
        }
        // Version 1 Handshake type.
        let mut p = pkt.clone();
        p[0] = 0xe0;
        assert!(!probe(&p));
        assert_eq!(client_initial(&p), Err(QuicError::NotInitial));
        // A gQUIC-style public header.
        let mut g = vec![0x0d, 1, 2, 3, 4, 5, 6, 7, 8, b'Q', b'0', b'4', b'3'];
        g.resize(1350, 0);
        assert!(!probe(&g));
    }

    // ---- Packets built with Initial protection, for cases the RFC does not cover. ----

    /// Protects `frames` as a client Initial of `version` with a 4-byte packet number,
    /// padding the plaintext to at least `min_payload` bytes.
    fn protect(version: u32, dcid: &[u8], pn: u32, token: &[u8], frames: &[u8], min_payload: usize) -> Vec<u8> {
        let p = params(version).unwrap();
        let m = key_material(p, dcid).unwrap();
        let mut plain = frames.to_vec();
        if plain.len() < min_payload {
            plain.resize(min_payload, 0);
        }
        let first = 0xc0 | (p.initial_type << 4) | 0x03;
        let mut header = vec![first];
        header.extend_from_slice(&version.to_be_bytes());
        header.push(dcid.len() as u8);
        header.extend_from_slice(dcid);
        header.push(0);
        if token.len() < 64 {
            header.push(token.len() as u8);
        } else {
            header.extend_from_slice(&(0x4000 | token.len() as u16).to_be_bytes());
        }
        header.extend_from_slice(token);
        let len = 4 + plain.len() + TAG_LEN;
        header.extend_from_slice(&(0x4000 | len as u16).to_be_bytes());
        let pn_offset = header.len();
        header.extend_from_slice(&pn.to_be_bytes());
        let mut nonce = m.iv;
        for (n, b) in nonce.iter_mut().rev().zip(u64::from(pn).to_le_bytes()) {
            *n ^= b;
        }
        let key = LessSafeKey::new(UnboundKey::new(&aead::AES_128_GCM, &m.key).unwrap());
        key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(&header), &mut plain).unwrap();
        let mut pkt = header;
        pkt.extend_from_slice(&plain);
        let hpk = hp::HeaderProtectionKey::new(&hp::AES_128, &m.hp).unwrap();
        let mask = hpk.new_mask(&pkt[pn_offset + 4..pn_offset + 20]).unwrap();
        pkt[0] ^= mask[0] & 0x0f;
        for i in 0..4 {
            pkt[pn_offset + i] ^= mask[1 + i];
        }
        pkt
    }

    fn crypto_frame(offset: u64, data: &[u8]) -> Vec<u8> {
        let mut f = vec![0x06];
        f.extend_from_slice(&(0xc000_0000_0000_0000 | offset).to_be_bytes());
        f.extend_from_slice(&(0x4000 | data.len() as u16).to_be_bytes());
        f.extend_from_slice(data);
        f
    }

    const DCID: &[u8] = &[0xde, 0xad, 0xbe, 0xef, 0x00, 0x11, 0x22, 0x33];

    #[test]
    fn helper_reproduces_rfc_vector() {
        let frames = hex(RFC_A2_CRYPTO_FRAME);
        let built = protect(VERSION_1, &hex(RFC_DCID), 2, &[], &frames, 1162);
        assert_eq!(built, hex(RFC9001_A2_PACKET));
        let built = protect(VERSION_2, &hex(RFC_DCID), 2, &[], &frames, 1162);
        assert_eq!(built, hex(RFC9369_A2_PACKET));
    }

    #[test]
    fn out_of_order_crypto_with_ack_ping_and_token() {
        let ch = rfc_client_hello();
        let mut frames = vec![0x01]; // PING
        frames.extend_from_slice(&[0x03, 0x05, 0x00, 0x01, 0x00, 0x02, 0x01, 0x00, 0x00, 0x00, 0x00]); // ACK_ECN
        frames.extend(crypto_frame(100, &ch[100..]));
        frames.extend_from_slice(&[0x00; 7]);
        frames.extend(crypto_frame(0, &ch[..60]));
        frames.extend(crypto_frame(40, &ch[40..120])); // overlaps both
        let pkt = protect(VERSION_1, DCID, 66_029, &[0xaa; 50], &frames, 1100);
        let i = client_initial(&pkt).unwrap();
        assert_eq!(i.client_hello, ch);
        assert!(i.complete);
        assert_eq!(i.token_len, 50);
    }

    #[test]
    fn gap_leaves_an_incomplete_prefix() {
        let ch = rfc_client_hello();
        let mut frames = crypto_frame(0, &ch[..50]);
        frames.extend(crypto_frame(60, &ch[60..]));
        let i = client_initial(&protect(VERSION_2, DCID, 0, &[], &frames, 1100)).unwrap();
        assert_eq!(i.client_hello, &ch[..50]);
        assert!(!i.complete);
    }

    #[test]
    fn coalesced_packets_and_split_datagrams() {
        let ch = rfc_client_hello();
        let mut dgram = protect(VERSION_1, DCID, 0, &[], &crypto_frame(0, &ch[..100]), 200);
        // A Handshake-typed packet (skipped by length), then the second Initial.
        dgram.extend_from_slice(&[0xe0, 0, 0, 0, 1, 8]);
        dgram.extend_from_slice(DCID);
        dgram.extend_from_slice(&[0, 0x40, 30]);
        dgram.extend_from_slice(&[0x55; 30]);
        dgram.extend(protect(VERSION_1, DCID, 1, &[], &crypto_frame(100, &ch[100..]), 200));
        dgram.resize(1250, 0); // zero padding after the packets
        let i = client_initial(&dgram).unwrap();
        assert_eq!(i.packets, 2);
        assert_eq!(i.client_hello, ch);

        // The same ClientHello over two datagrams, second one first.
        let d1 = protect(VERSION_1, DCID, 0, &[], &crypto_frame(0, &ch[..100]), 1100);
        let d2 = protect(VERSION_1, DCID, 1, &[], &crypto_frame(100, &ch[100..]), 1100);
        let i = client_initial(&d1).unwrap();
        assert!(!i.complete);
        let i = client_initials([d1.as_slice(), d2.as_slice()]).unwrap();
        assert!(i.complete);
        assert_eq!(i.client_hello, ch);
        // A second datagram for another connection is ignored.
        let other = protect(VERSION_1, &[1; 8], 1, &[], &crypto_frame(100, &ch[100..]), 1100);
        let i = client_initials([d1.as_slice(), other.as_slice()]).unwrap();
        assert!(!i.complete);
    }

    #[test]
    fn huge_crypto_offsets_are_ignored_or_rejected() {
        let ch = rfc_client_hello();
        // Beyond the cap: ignored, nothing at offset 0.
        let frames = crypto_frame(1 << 40, &ch);
        assert_eq!(client_initial(&protect(VERSION_1, DCID, 0, &[], &frames, 1100)), Err(QuicError::NoClientHello));
        // Offset + length past 2^62 - 1: a protocol violation.
        let frames = crypto_frame((1 << 62) - 10, &ch[..20]);
        assert_eq!(client_initial(&protect(VERSION_1, DCID, 0, &[], &frames, 1100)), Err(QuicError::Frame));
        // Just below the cap: stored without growing past it; the prefix still works.
        let mut frames = crypto_frame(MAX_CRYPTO_LEN as u64 - 5, &ch[..20]);
        frames.extend(crypto_frame(0, &ch));
        let i = client_initial(&protect(VERSION_1, DCID, 0, &[], &frames, 1100)).unwrap();
        assert_eq!(i.client_hello, ch);
    }

    #[test]
    fn crypto_length_past_payload_and_unknown_frames_are_errors() {
        let mut f = vec![0x06, 0x00, 0x7f, 0xff];
        f.extend_from_slice(&[1; 20]);
        assert_eq!(client_initial(&protect(VERSION_1, DCID, 0, &[], &f, 1100)), Err(QuicError::Frame));
        // A STREAM frame is not allowed in Initial packets.
        let f = [0x08, 0x00, 0x01, 0x02];
        assert_eq!(client_initial(&protect(VERSION_1, DCID, 0, &[], &f, 1100)), Err(QuicError::Frame));
        // ACK with a range count of 2^62 - 1 runs out of bytes.
        let mut f = vec![0x02, 0x00, 0x00];
        f.extend_from_slice(&[0xff; 8]);
        f.extend_from_slice(&[0x00; 3]);
        let pkt = protect(VERSION_1, DCID, 0, &[], &f, 0);
        assert_eq!(client_initial(&pkt), Err(QuicError::Frame));
        // Only padding: no ClientHello.
        assert_eq!(client_initial(&protect(VERSION_1, DCID, 0, &[], &[], 1100)), Err(QuicError::NoClientHello));
        // CRYPTO data that is not a ClientHello.
        let f = crypto_frame(0, &[2, 0, 0, 1, 0]);
        assert_eq!(client_initial(&protect(VERSION_1, DCID, 0, &[], &f, 1100)), Err(QuicError::NoClientHello));
    }

    #[test]
    fn fragment_cap() {
        // Every other byte: disjoint fragments beyond the cap are refused.
        let mut f = Vec::new();
        for i in 0..(MAX_CRYPTO_FRAGMENTS as u64 + 1) {
            f.extend(crypto_frame(1 + 2 * i, &[0x42]));
        }
        assert_eq!(client_initial(&protect(VERSION_1, DCID, 0, &[], &f, 1100)), Err(QuicError::Fragmented));
    }

    #[test]
    fn reassembly_merges_ranges() {
        let mut r = Reassembly::default();
        r.add(10, &[1; 5]).unwrap();
        r.add(20, &[2; 5]).unwrap();
        r.add(15, &[3; 5]).unwrap(); // touches both
        assert_eq!(r.ranges, vec![(10, 25)]);
        r.add(0, &[4; 10]).unwrap();
        assert_eq!(r.ranges, vec![(0, 25)]);
        r.add(3, &[5; 2]).unwrap(); // inside
        assert_eq!(r.ranges, vec![(0, 25)]);
        assert_eq!(r.into_contiguous().len(), 25);
    }
}
