//! DHCP (BOOTP) messages: the client's host name and vendor class, the names a device gives
//! itself on the endpoint's segment.
//!
//! Facts used: RFC 2131 §2 — a BOOTP message is a fixed 236-byte header (op, htype, hlen,
//! hops, xid, secs, flags, ciaddr, yiaddr, siaddr, giaddr, chaddr\[16\], sname\[64\], file\[128\])
//! followed, for DHCP, by the magic cookie 99.130.83.99 and options; RFC 2132 — options are
//! code/length/value, 0 is padding, 255 ends them; 53 message type, 12 host name, 60 vendor
//! class identifier.
//!
//! # Contract
//! - [`parse`] is pure, reads only within the datagram, and returns `None` for anything that
//!   is not a well-formed DHCP message. Names are lower-cased, printable, bounded.

/// Fixed BOOTP header length.
pub const HEADER_LEN: usize = 236;
/// The DHCP magic cookie.
pub const MAGIC: [u8; 4] = [99, 130, 83, 99];
/// Longest name kept.
pub const MAX_NAME: usize = 64;

/// What a DHCP message tells about the device that sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// 1 = request (from a client), 2 = reply.
    pub op: u8,
    /// DHCP message type (option 53), if present.
    pub message_type: Option<u8>,
    /// The client's hardware address (Ethernet: 6 bytes).
    pub client_mac: Option<[u8; 6]>,
    /// Host name (option 12).
    pub host_name: Option<String>,
    /// Vendor class identifier (option 60).
    pub vendor_class: Option<String>,
}

/// Whether a UDP payload looks like a DHCP message (length and magic cookie).
pub fn probe(d: &[u8]) -> bool {
    d.get(HEADER_LEN..HEADER_LEN + 4) == Some(&MAGIC[..]) && matches!(d.first(), Some(1 | 2))
}

fn text(v: &[u8]) -> String {
    v.iter().take(MAX_NAME).filter(|c| c.is_ascii_graphic()).map(|c| char::from(c.to_ascii_lowercase())).collect()
}

/// Parses a DHCP message.
pub fn parse(d: &[u8]) -> Option<Message> {
    if !probe(d) {
        return None;
    }
    let op = *d.first()?;
    let (htype, hlen) = (*d.get(1)?, *d.get(2)?);
    let client_mac =
        (htype == 1 && hlen == 6).then(|| d.get(28..34).and_then(|m| <[u8; 6]>::try_from(m).ok())).flatten();
    let mut m = Message { op, message_type: None, client_mac, host_name: None, vendor_class: None };
    let mut i = HEADER_LEN + 4;
    loop {
        match d.get(i) {
            None | Some(255) => break,
            Some(0) => i += 1,
            Some(&code) => {
                let len = usize::from(*d.get(i + 1)?);
                let v = d.get(i + 2..i + 2 + len)?;
                match code {
                    53 => m.message_type = v.first().copied(),
                    12 => m.host_name = Some(text(v)),
                    60 => m.vendor_class = Some(text(v)),
                    _ => {}
                }
                i += 2 + len;
            }
        }
    }
    Some(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A DHCPDISCOVER from 02:00:0a:28:00:32 with host name "PiKVM" and vendor class
    /// "dhcpcd-9.4.1:Linux" (RFC 2131/2132 layout).
    fn discover() -> Vec<u8> {
        let mut d = vec![0u8; HEADER_LEN];
        d[0] = 1;
        d[1] = 1;
        d[2] = 6;
        d[4..8].copy_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
        d[28..34].copy_from_slice(&[2, 0, 0x0a, 0x28, 0, 0x32]);
        d.extend_from_slice(&MAGIC);
        d.extend_from_slice(&[53, 1, 1]);
        d.extend_from_slice(&[12, 5]);
        d.extend_from_slice(b"PiKVM");
        d.extend_from_slice(&[0, 0, 60, 18]);
        d.extend_from_slice(b"dhcpcd-9.4.1:Linux");
        d.push(255);
        d
    }

    #[test]
    fn discover_with_host_name() {
        let m = parse(&discover()).unwrap();
        assert_eq!((m.op, m.message_type), (1, Some(1)));
        assert_eq!(m.host_name.as_deref(), Some("pikvm"));
        assert_eq!(m.vendor_class.as_deref(), Some("dhcpcd-9.4.1:linux"));
        assert_eq!(m.client_mac, Some([2, 0, 0x0a, 0x28, 0, 0x32]));
    }

    #[test]
    fn truncation_and_hostile_lengths() {
        let d = discover();
        for len in 0..d.len() {
            let _ = parse(&d[..len]);
        }
        let mut bad = d.clone();
        bad[HEADER_LEN + 4 + 3 + 1] = 200; // host name length past the end
        assert!(parse(&bad).is_none());
        assert!(parse(&[0u8; 300]).is_none());
        assert!(!probe(b"GET / HTTP/1.1\r\n"));
    }
}
