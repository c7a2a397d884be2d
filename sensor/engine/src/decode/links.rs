//! Readers of the less common link layers: each finds the IP packet in a frame.
//!
//! # Contract
//! Every reader takes the frame's bytes and answers `Ok(Some(ip))` (the bytes from the IP
//! header on), `Ok(None)` (a well-formed frame that carries no IPv4/IPv6: LCP, a management
//! frame, an NFLOG record without payload) or `Err(())` (the frame breaks its own format).
//! Pure, panic-free, zero-copy; nothing allocates; every length is checked against the
//! frame.
//!
//! # Facts used
//! - PPP (RFC 1661 §2, RFC 1662 §3; LINKTYPE_PPP 9 / PPP_HDLC 50): optionally the HDLC-like
//!   address and control bytes `FF 03`, then the protocol — one byte when odd (protocol
//!   field compression), else two: 0x0021 IPv4, 0x0057 IPv6.
//! - PPPoE (RFC 2516 §4, §7): Ethernet type 0x8864 for session packets; a 6-byte header
//!   (version 1 and type 1 in one byte `0x11`, code 0 for session data, session id, payload
//!   length) and then a PPP protocol field (2 bytes) and the packet. LINKTYPE_PPP_ETHER 51 is
//!   the same without the Ethernet header.
//! - Cisco HDLC (LINKTYPE_C_HDLC 104): address `0x0F` (unicast) or `0x8F` (broadcast),
//!   control `0x00`, then an Ethernet type (0x0800, 0x86DD).
//! - NFLOG (LINKTYPE_NFLOG 239): address family (1 byte: 2 IPv4, 10 IPv6), version (0),
//!   resource id (2, big-endian), then TLVs: length (2, including the 4-byte TLV header) and
//!   type (2), both in the capturing host's byte order, each TLV padded to 4 bytes; type 9
//!   (NFULA_PAYLOAD) holds the IP packet.
//! - Radiotap: version 0, a pad byte, the header length (2, little-endian) covering
//!   the whole radiotap header. 802.11 (IEEE 802.11-2020 §9.2): frame control (type 2 =
//!   data; subtype bit 3 = QoS, which adds 2 bytes; subtype bit 2 = no data; the Protected
//!   flag 0x40 means the body is encrypted; ToDS and FromDS both set adds a fourth address,
//!   6 bytes; +HTC order bit with QoS adds 4), a 24-byte header, then LLC/SNAP
//!   `AA AA 03 00 00 00` and an Ethernet type.

/// Ethernet type of PPPoE session packets.
pub const ETHERTYPE_PPPOE_SESSION: u16 = 0x8864;
/// PPPoE header length.
const PPPOE_LEN: usize = 6;

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

/// The IP version an Ethernet type names, if any.
fn ip_ethertype(et: u16) -> bool {
    matches!(et, 0x0800 | 0x86DD)
}

/// PPP after any HDLC-like address and control bytes.
fn ppp_payload(b: &[u8]) -> Result<Option<&[u8]>, ()> {
    let b = b.strip_prefix(&[0xFF, 0x03]).unwrap_or(b);
    let (proto, rest) = match b.first() {
        Some(&p) if p & 1 == 1 => (u16::from(p), b.get(1..)),
        Some(_) => (be16(b, 0).ok_or(())?, b.get(2..)),
        None => return Err(()),
    };
    let rest = rest.ok_or(())?;
    Ok(matches!(proto, 0x0021 | 0x0057).then_some(rest))
}

/// PPP (LINKTYPE_PPP, PPP_HDLC — where Cisco HDLC may appear too).
pub fn ppp_or_hdlc(b: &[u8]) -> Result<Option<&[u8]>, ()> {
    match b.first() {
        Some(0x0F | 0x8F) if b.get(1) == Some(&0) => cisco_hdlc(b),
        _ => ppp_payload(b),
    }
}

/// A PPPoE session packet (from its 6-byte header on).
pub fn pppoe(b: &[u8]) -> Result<Option<&[u8]>, ()> {
    let (Some(&vt), Some(&code), Some(len)) = (b.first(), b.get(1), be16(b, 4)) else { return Err(()) };
    if vt != 0x11 || code != 0 {
        return Err(());
    }
    let body = b.get(PPPOE_LEN..).ok_or(())?;
    // The length covers the PPP protocol field and packet; a snaplen may have cut it.
    let body = body.get(..usize::from(len)).unwrap_or(body);
    ppp_payload(body)
}

/// Cisco HDLC.
pub fn cisco_hdlc(b: &[u8]) -> Result<Option<&[u8]>, ()> {
    let (Some(&addr), Some(&control), Some(et)) = (b.first(), b.get(1), be16(b, 2)) else { return Err(()) };
    if !matches!(addr, 0x0F | 0x8F) || control != 0 {
        return Err(());
    }
    Ok(ip_ethertype(et).then(|| b.get(4..)).flatten())
}

/// Linux NFLOG: the payload TLV's bytes.
pub fn nflog(b: &[u8]) -> Result<Option<&[u8]>, ()> {
    const HEADER: usize = 4;
    const TLV_HEADER: usize = 4;
    const PAYLOAD: u16 = 9;
    let (Some(&family), Some(&version)) = (b.first(), b.get(1)) else { return Err(()) };
    if !matches!(family, 2 | 10) || version != 0 {
        return Err(());
    }
    let mut at = HEADER;
    // Little-endian hosts write these TLVs; a big-endian host's would read as lengths
    // beyond the record, so the byte order is settled at the first TLV.
    let mut little = None;
    while at + TLV_HEADER <= b.len() {
        let Some(&[l0, l1, k0, k1]) = b.get(at..at + TLV_HEADER) else { return Err(()) };
        let order = match little {
            Some(o) => o,
            None => {
                let fits = |n: u16| (TLV_HEADER..=b.len().saturating_sub(at)).contains(&usize::from(n));
                let o = match (fits(u16::from_le_bytes([l0, l1])), fits(u16::from_be_bytes([l0, l1]))) {
                    (true, _) => true,
                    (false, true) => false,
                    (false, false) => return Err(()),
                };
                *little.insert(o)
            }
        };
        let (len, kind) = if order {
            (u16::from_le_bytes([l0, l1]), u16::from_le_bytes([k0, k1]))
        } else {
            (u16::from_be_bytes([l0, l1]), u16::from_be_bytes([k0, k1]))
        };
        let len = usize::from(len);
        if len < TLV_HEADER {
            return Err(());
        }
        if kind == PAYLOAD {
            // A snaplen may cut the payload short: take what is there.
            let end = (at + len).min(b.len());
            return Ok(b.get(at + TLV_HEADER..end));
        }
        at += len.div_ceil(4) * 4;
    }
    Ok(None)
}

/// An 802.11 data frame's IP packet (behind radiotap or not).
pub fn ieee80211(b: &[u8], radiotap: bool) -> Result<Option<&[u8]>, ()> {
    let b = if radiotap {
        let (Some(&version), Some(&[l0, l1])) = (b.first(), b.get(2..4)) else { return Err(()) };
        let len = usize::from(u16::from_le_bytes([l0, l1]));
        if version != 0 || len < 8 {
            return Err(());
        }
        b.get(len..).ok_or(())?
    } else {
        b
    };
    let (Some(&fc0), Some(&fc1)) = (b.first(), b.get(1)) else { return Err(()) };
    let (kind, subtype) = ((fc0 >> 2) & 3, fc0 >> 4);
    // Not data, no data (null function), or encrypted: nothing to read.
    if kind != 2 || subtype & 0x4 != 0 || fc1 & 0x40 != 0 {
        return Ok(None);
    }
    let qos = subtype & 0x8 != 0;
    let mut header = 24;
    if fc1 & 0x03 == 0x03 {
        header += 6;
    }
    if qos {
        header += 2;
        if fc1 & 0x80 != 0 {
            header += 4;
        }
    }
    let body = b.get(header..).ok_or(())?;
    let Some(snap) = body.get(..6) else { return Err(()) };
    if snap != [0xAA, 0xAA, 0x03, 0, 0, 0] {
        return Ok(None);
    }
    let et = be16(body, 6).ok_or(())?;
    Ok(ip_ethertype(et).then(|| body.get(8..)).flatten())
}

/// Whether an IPv6 packet's extension headers (the bytes etherparse walked, starting with
/// the header `first` names) hold an Authentication Header (RFC 8200 §4: hop-by-hop 0,
/// routing 43 and destination options 60 are `(len + 1) × 8` bytes, a fragment header 8;
/// RFC 4302 §2.2: AH 51 is `(len + 2) × 4`). Reads the chain without trusting it.
pub fn ipv6_has_ah(first: u8, exts: &[u8]) -> bool {
    const AH: u8 = 51;
    let (mut next, mut at) = (first, 0usize);
    for _ in 0..8 {
        if next == AH {
            return true;
        }
        let (Some(&nh), Some(&len)) = (exts.get(at), exts.get(at + 1)) else { return false };
        let size = match next {
            0 | 43 | 60 => (usize::from(len) + 1) * 8,
            44 => 8,
            _ => return false,
        };
        if at + size > exts.len() {
            return false;
        }
        next = nh;
        at += size;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP: [u8; 20] = [0x45, 0, 0, 20, 0, 0, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];

    fn with(prefix: &[u8]) -> Vec<u8> {
        let mut v = prefix.to_vec();
        v.extend_from_slice(&IP);
        v
    }

    #[test]
    fn ipv6_authentication_header_in_the_chain() {
        // Hop-by-hop (8 bytes) then AH.
        let hbh_then_ah = [51u8, 0, 0, 0, 0, 0, 0, 0, 4, 4, 0, 0];
        assert!(ipv6_has_ah(0, &hbh_then_ah));
        assert!(ipv6_has_ah(51, &[]));
        // A fragment header then TCP; a chain cut short; nothing.
        assert!(!ipv6_has_ah(44, &[6, 0, 0, 0, 0, 0, 0, 1]));
        assert!(!ipv6_has_ah(0, &[51]));
        assert!(!ipv6_has_ah(6, &[]));
        // A hostile length: far past the bytes.
        assert!(!ipv6_has_ah(60, &[51, 0xFF]));
    }

    #[test]
    fn ppp_framings() {
        for p in [&[0xFF, 0x03, 0x00, 0x21][..], &[0x00, 0x21], &[0x21], &[0xFF, 0x03, 0x21]] {
            assert_eq!(ppp_or_hdlc(&with(p)), Ok(Some(&IP[..])), "{p:02x?}");
        }
        // LCP is PPP, not IP; a Cisco HDLC frame on the same link type is read as one.
        assert_eq!(ppp_or_hdlc(&with(&[0xFF, 0x03, 0xC0, 0x21])), Ok(None));
        assert_eq!(ppp_or_hdlc(&with(&[0x0F, 0x00, 0x08, 0x00])), Ok(Some(&IP[..])));
        assert_eq!(ppp_or_hdlc(&[]), Err(()));
        assert_eq!(ppp_or_hdlc(&[0xFF, 0x03, 0x00]), Err(()));
    }

    #[test]
    fn pppoe_sessions() {
        let session = with(&[0x11, 0x00, 0x12, 0x34, 0x00, 22, 0x00, 0x21]);
        assert_eq!(pppoe(&session), Ok(Some(&IP[..])));
        // Discovery (code 0x09 PADI) and a wrong version are not session data.
        let mut padi = session.clone();
        padi[1] = 0x09;
        assert_eq!(pppoe(&padi), Err(()));
        let mut v2 = session.clone();
        v2[0] = 0x21;
        assert_eq!(pppoe(&v2), Err(()));
        // A length beyond the frame (a snaplen cut it): what is there.
        let mut long = session.clone();
        long[5] = 200;
        assert_eq!(pppoe(&long), Ok(Some(&IP[..])));
        for n in 0..session.len() {
            let _ = pppoe(&session[..n]);
        }
    }

    #[test]
    fn cisco_hdlc_frames() {
        assert_eq!(cisco_hdlc(&with(&[0x0F, 0x00, 0x08, 0x00])), Ok(Some(&IP[..])));
        assert_eq!(cisco_hdlc(&with(&[0x8F, 0x00, 0x86, 0xDD])), Ok(Some(&IP[..])));
        assert_eq!(cisco_hdlc(&with(&[0x0F, 0x00, 0x80, 0x35])), Ok(None), "SLARP");
        assert_eq!(cisco_hdlc(&with(&[0x0E, 0x00, 0x08, 0x00])), Err(()));
        assert_eq!(cisco_hdlc(&[0x0F, 0x00, 0x08]), Err(()));
    }

    /// An NFLOG record: header, a prefix TLV (type 10, 7 bytes padded to 8), the payload TLV.
    fn nflog_record(le: bool) -> Vec<u8> {
        let tlv = |len: u16, kind: u16| -> Vec<u8> {
            let (l, k) =
                if le { (len.to_le_bytes(), kind.to_le_bytes()) } else { (len.to_be_bytes(), kind.to_be_bytes()) };
            [l, k].concat()
        };
        let mut r = vec![2, 0, 0, 5];
        r.extend(tlv(7, 10));
        r.extend_from_slice(&[b'f', b'h', b'\0', 0]);
        r.extend(tlv(4 + IP.len() as u16, 9));
        r.extend_from_slice(&IP);
        r
    }

    #[test]
    fn nflog_records() {
        assert_eq!(nflog(&nflog_record(true)), Ok(Some(&IP[..])));
        assert_eq!(nflog(&nflog_record(false)), Ok(Some(&IP[..])));
        // No payload TLV; a wrong family; a TLV length below its header.
        assert_eq!(nflog(&nflog_record(true)[..12]), Ok(None));
        let mut fam = nflog_record(true);
        fam[0] = 7;
        assert_eq!(nflog(&fam), Err(()));
        let mut short = nflog_record(true);
        short[4] = 2;
        short[5] = 0;
        assert_eq!(nflog(&short), Err(()));
        let r = nflog_record(true);
        for n in 0..r.len() {
            let _ = nflog(&r[..n]);
        }
    }

    #[test]
    fn ieee80211_data_frames() {
        // Radiotap (8 bytes), a QoS data frame from the AP (FromDS), LLC/SNAP IPv4.
        let mut f = vec![0, 0, 8, 0, 0, 0, 0, 0];
        f.extend_from_slice(&[0x88, 0x02, 0, 0]);
        f.extend_from_slice(&[0u8; 18]);
        f.extend_from_slice(&[0, 0]); // sequence control
        f.extend_from_slice(&[0, 0]); // QoS control
        f.extend_from_slice(&[0xAA, 0xAA, 0x03, 0, 0, 0, 0x08, 0x00]);
        f.extend_from_slice(&IP);
        assert_eq!(ieee80211(&f, true), Ok(Some(&IP[..])));
        assert_eq!(ieee80211(&f[8..], false), Ok(Some(&IP[..])));
        // Protected, null data, a beacon: nothing to read.
        let mut prot = f.clone();
        prot[9] |= 0x40;
        assert_eq!(ieee80211(&prot, true), Ok(None));
        let mut null = f.clone();
        null[8] = 0xC8;
        assert_eq!(ieee80211(&null, true), Ok(None));
        let mut beacon = f.clone();
        beacon[8] = 0x80;
        assert_eq!(ieee80211(&beacon, true), Ok(None));
        // A radiotap length past the frame.
        let mut long = f.clone();
        long[2] = 0xFF;
        assert_eq!(ieee80211(&long, true), Err(()));
        for n in 0..f.len() {
            let _ = ieee80211(&f[..n], true);
        }
    }
}
