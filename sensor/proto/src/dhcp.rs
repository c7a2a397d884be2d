//! DHCP (BOOTP) messages: the client's host name and vendor class, the names a device gives
//! itself on the endpoint's segment.
//!
//! Facts used: RFC 2131 §2 — a BOOTP message is a fixed 236-byte header (op, htype, hlen,
//! hops, xid, secs, flags, ciaddr, yiaddr, siaddr, giaddr, chaddr\[16\], sname\[64\], file\[128\])
//! followed, for DHCP, by the magic cookie 99.130.83.99 and options; RFC 2132 — options are
//! code/length/value, 0 is padding, 255 ends them; 53 message type, 12 host name, 50
//! requested IP address, 60 vendor class identifier; RFC 4702 — option 81 (Client FQDN) is
//! flags, two obsolete RCODE bytes, then the domain name, in DNS wire form when flag E (0x04)
//! is set and as ASCII text otherwise.
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
/// Longest FQDN kept (option 81), in text form.
pub const MAX_FQDN: usize = 255;
/// Option 81 flag E: the name is in DNS wire form (RFC 4702 §2.1).
const FQDN_FLAG_E: u8 = 0x04;
/// Option 81's fixed part before the name: flags, RCODE1, RCODE2.
const FQDN_FIXED_LEN: usize = 3;
/// Offsets of `ciaddr` and `yiaddr` in the BOOTP header.
const CIADDR: usize = 12;
const YIADDR: usize = 16;

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
    /// The client's address as it states it (`ciaddr`; `None` when 0.0.0.0).
    pub client_addr: Option<[u8; 4]>,
    /// The address the server gives the client (`yiaddr`, in an OFFER or ACK; `None` when
    /// 0.0.0.0).
    pub your_addr: Option<[u8; 4]>,
    /// Requested IP address (option 50).
    pub requested_addr: Option<[u8; 4]>,
    /// Client FQDN (option 81), lower case, without a trailing dot.
    pub fqdn: Option<String>,
}

/// DHCP message types (option 53, RFC 2132 §9.6).
pub mod message_type {
    /// DHCPDISCOVER.
    pub const DISCOVER: u8 = 1;
    /// DHCPOFFER.
    pub const OFFER: u8 = 2;
    /// DHCPREQUEST.
    pub const REQUEST: u8 = 3;
    /// DHCPACK.
    pub const ACK: u8 = 5;
    /// DHCPINFORM.
    pub const INFORM: u8 = 8;
}

/// Whether a UDP payload looks like a DHCP message (length and magic cookie).
pub fn probe(d: &[u8]) -> bool {
    d.get(HEADER_LEN..HEADER_LEN + 4) == Some(&MAGIC[..]) && matches!(d.first(), Some(1 | 2))
}

fn text(v: &[u8]) -> String {
    v.iter().take(MAX_NAME).filter(|c| c.is_ascii_graphic()).map(|c| char::from(c.to_ascii_lowercase())).collect()
}

/// A non-zero IPv4 address from four bytes.
fn addr(v: Option<&[u8]>) -> Option<[u8; 4]> {
    v.and_then(|b| <[u8; 4]>::try_from(b).ok()).filter(|a| *a != [0; 4])
}

/// The name of option 81 (after its fixed part): wire-form labels when flag E is set, else
/// ASCII text; printable bytes only, lower case, at most [`MAX_FQDN`] bytes, no trailing dot.
/// `None` for an empty name or wire form that overruns the option.
fn fqdn(v: &[u8]) -> Option<String> {
    let flags = *v.first()?;
    let name = v.get(FQDN_FIXED_LEN..)?;
    let mut out = String::new();
    let push = |label: &[u8], out: &mut String| {
        if !out.is_empty() {
            out.push('.');
        }
        out.extend(label.iter().filter(|c| c.is_ascii_graphic()).map(|c| char::from(c.to_ascii_lowercase())));
    };
    if flags & FQDN_FLAG_E != 0 {
        let mut i = 0;
        loop {
            let len = usize::from(*name.get(i)?);
            if len == 0 {
                break;
            }
            push(name.get(i + 1..i + 1 + len)?, &mut out);
            i += 1 + len;
            if out.len() > MAX_FQDN {
                return None;
            }
        }
    } else {
        push(name.get(..name.len().min(MAX_FQDN))?, &mut out);
    }
    let out = out.trim_end_matches('.').to_string();
    (!out.is_empty()).then_some(out)
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
    let mut m = Message {
        op,
        message_type: None,
        client_mac,
        host_name: None,
        vendor_class: None,
        client_addr: addr(d.get(CIADDR..CIADDR + 4)),
        your_addr: addr(d.get(YIADDR..YIADDR + 4)),
        requested_addr: None,
        fqdn: None,
    };
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
                    50 => m.requested_addr = addr(Some(v)),
                    81 => m.fqdn = fqdn(v),
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

    /// A DHCPACK giving 10.41.0.120 to 02:00:0a:29:00:42, with option 81 in wire form
    /// (flags S|E = 0x05, RCODE 255/255, "laptop-ab12.corp.example.").
    fn ack_with_fqdn() -> Vec<u8> {
        let mut d = vec![0u8; HEADER_LEN];
        d[0] = 2;
        d[1] = 1;
        d[2] = 6;
        d[16..20].copy_from_slice(&[10, 41, 0, 120]);
        d[28..34].copy_from_slice(&[2, 0, 0x0a, 0x29, 0, 0x42]);
        d.extend_from_slice(&MAGIC);
        d.extend_from_slice(&[53, 1, message_type::ACK]);
        let mut name = vec![0x05, 255, 255];
        for l in ["Laptop-AB12", "corp", "example"] {
            name.push(l.len() as u8);
            name.extend_from_slice(l.as_bytes());
        }
        name.push(0);
        d.extend_from_slice(&[81, name.len() as u8]);
        d.extend_from_slice(&name);
        d.extend_from_slice(&[50, 4, 10, 41, 0, 120]);
        d.push(255);
        d
    }

    #[test]
    fn ack_addresses_and_fqdn() {
        let m = parse(&ack_with_fqdn()).unwrap();
        assert_eq!((m.op, m.message_type), (2, Some(message_type::ACK)));
        assert_eq!(m.your_addr, Some([10, 41, 0, 120]));
        assert_eq!(m.client_addr, None);
        assert_eq!(m.requested_addr, Some([10, 41, 0, 120]));
        assert_eq!(m.fqdn.as_deref(), Some("laptop-ab12.corp.example"));
        // The same name as ASCII text (flag E clear), with a trailing dot.
        assert_eq!(fqdn(b"\x01\xff\xffLaptop.Corp.").as_deref(), Some("laptop.corp"));
        assert_eq!(fqdn(&[0x04, 0, 0]), None);
        assert_eq!(fqdn(&[0x04, 0, 0, 0]), None);
        // A label running past the option, or a label length with nothing after it.
        assert_eq!(fqdn(&[0x04, 0, 0, 9, b'a']), None);
        assert_eq!(fqdn(&[0x04, 0, 0, 1, b'a']), None);
        // Wire-form names longer than MAX_FQDN are refused.
        let mut long = vec![0x04, 0, 0];
        for _ in 0..6 {
            long.push(63);
            long.extend_from_slice(&[b'a'; 63]);
        }
        long.push(0);
        assert_eq!(fqdn(&long), None);
    }

    #[test]
    fn truncation_and_hostile_lengths() {
        let d = ack_with_fqdn();
        for len in 0..d.len() {
            let _ = parse(&d[..len]);
        }
        let mut bad = d.clone();
        bad[HEADER_LEN + 4 + 3 + 1] = 250; // option 81 length past the end
        assert!(parse(&bad).is_none());
        let mut bad = d.clone();
        bad[HEADER_LEN + 4 + 3 + 2 + 3] = 60; // a wire label inside option 81 past the option
        assert_eq!(parse(&bad).map(|m| m.fqdn), Some(None));
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
