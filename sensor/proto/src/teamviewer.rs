//! TeamViewer's command framing (TCP and UDP): the two frame forms, their headers, the walk
//! of a direction's frames, and the published command names.
//!
//! # Contract
//! - [`parse_header`] reads one frame header at the front of a buffer, checking every field
//!   as soon as it is there: `Invalid` on a magic other than `17 24` / `11 30`
//!   ([`Reason::BadMagic`] at 0), a command outside [`MIN_COMMAND`]..=[`MAX_COMMAND`]
//!   ([`Reason::BadType`] at 2), a data length over [`MAX_FRAME_LEN`] ([`Reason::OverLimit`]
//!   at the length field) or, in the `11 30` form, a header-offset field other than
//!   [`V2_HEADER_LEN`] ([`Reason::BadLength`] at 20); `Incomplete` while the header is
//!   consistent but short.
//! - [`parse_side`] walks the frames of one direction back to back from the first byte, at
//!   most [`MAX_FRAMES`], stopping at the first frame whose data is not all there; an
//!   anomaly in a later header is reported at its offset in the direction's bytes.
//!   [`headers`] lists the complete frames' headers of a walk.
//! - [`parse_udp`] reads the single frame of a whole UDP datagram after its
//!   [`UDP_PREFIX_LEN`]-byte header; the datagram is complete, so a short one is
//!   [`Reason::Truncated`] and a length field not ending exactly at its end is
//!   [`Reason::BadLength`].
//! - The parser decides nothing: how many frames make TeamViewer, and how sure, is the
//!   TeamViewer fingerprint's business (`farhand-engine`, `fingerprint/teamviewer.rs`, which
//!   also holds the sources of these facts).
//! - Pure, panic-free, zero-copy; nothing allocates.
//!
//! # Facts used
//! - `17 24` ("v1") frame: magic, `u8` command, `u16` little-endian data length, data.
//! - `11 30` ("v2") frame: magic, `u8` command, one byte, `u32` little-endian data length,
//!   `u32` packet id, `u32` request id, `u32` command class, `u32` header offset (the header
//!   size, 24), data.
//! - UDP: an 11-byte datagram header (counters), then one `17 24` frame whose length ends the
//!   datagram.
//! - Command codes run from 10 (`CMD_IDENTIFY`) to 113 in the published list; real flows also
//!   carry unnamed codes in range (64, 115).

use crate::step::{Layer, Reason, Step};
use farhand_model::evidence::Magic;

/// Magic of the 5-byte-header frame form.
pub const MAGIC_V1: [u8; 2] = [0x17, 0x24];
/// Magic of the 24-byte-header frame form.
pub const MAGIC_V2: [u8; 2] = [0x11, 0x30];
/// Header length of a `17 24` frame.
pub const V1_HEADER_LEN: usize = 5;
/// Header length of a `11 30` frame; also the value of its header-offset field.
pub const V2_HEADER_LEN: usize = 24;
/// Offset of the command byte in both forms.
const COMMAND_AT: usize = 2;
/// Offset of the data length in a `17 24` frame.
const V1_LENGTH_AT: usize = 3;
/// Offset of the data length in a `11 30` frame.
const V2_LENGTH_AT: usize = 4;
/// Offset of the header-offset field in a `11 30` frame.
const V2_HEADER_OFFSET_AT: usize = 20;
/// Smallest command code (`CMD_IDENTIFY`).
pub const MIN_COMMAND: u8 = 10;
/// Largest command code accepted (the highest published is 113; 115 is seen on UDP).
pub const MAX_COMMAND: u8 = 127;
/// Largest frame data length accepted (the `11 30` form has a 32-bit length field).
pub const MAX_FRAME_LEN: usize = 1 << 20;
/// Most frames walked per direction.
pub const MAX_FRAMES: usize = 64;
/// Length of the UDP datagram header before the frame.
pub const UDP_PREFIX_LEN: usize = 11;

/// Header length of a frame form.
pub fn header_len(magic: Magic) -> usize {
    match magic {
        Magic::V1 => V1_HEADER_LEN,
        Magic::V2 => V2_HEADER_LEN,
    }
}

/// A validated frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Frame form.
    pub magic: Magic,
    /// Command code.
    pub command: u8,
    /// Data length declared by the header.
    pub data_len: usize,
}

impl Header {
    /// Header plus data.
    pub fn frame_len(&self) -> usize {
        header_len(self.magic).saturating_add(self.data_len)
    }
}

/// The published command names, sorted by code.
pub const COMMAND_NAMES: &[(u8, &str)] = &[
    (10, "CMD_IDENTIFY"),
    (11, "CMD_REQUESTCONNECT"),
    (13, "CMD_DISCONNECT"),
    (14, "CMD_VNCDISCONNECT"),
    (15, "CMD_TVCONNECTIONFAILED"),
    (16, "CMD_PING"),
    (17, "CMD_PINGOK"),
    (18, "CMD_MASTERCOMMAND"),
    (19, "CMD_MASTERRESPONSE"),
    (20, "CMD_CHANGECONNECTION"),
    (21, "CMD_NOPARTNERCONNECT"),
    (22, "CMD_CONNECTTOWAITINGTHREAD"),
    (23, "CMD_SESSIONMODE"),
    (24, "CMD_REQUESTROUTINGSESSION"),
    (25, "CMD_TIMEOUT"),
    (26, "CMD_JAVACONNECT"),
    (27, "CMD_KEEPALIVEBEEP"),
    (28, "CMD_REQUESTKEEPALIVE"),
    (29, "CMD_MASTERCOMMAND_ENCRYPTED"),
    (30, "CMD_MASTERRESPONSE_ENCRYPTED"),
    (31, "CMD_REQUESTRECONNECT"),
    (32, "CMD_RECONNECTTOWAITINGTHREAD"),
    (33, "CMD_STARTLOGGING"),
    (34, "CMD_SERVERAVAILABLE"),
    (35, "CMD_KEEPALIVEREQUEST"),
    (36, "CMD_OK"),
    (37, "CMD_FAILED"),
    (38, "CMD_PING_PERFORMANCE"),
    (39, "CMD_PING_PERFORMANCE_RESPONSE"),
    (40, "CMD_REQUESTKEEPALIVE2"),
    (41, "CMD_DISCONNECT_SWITCHEDTOUDP"),
    (42, "CMD_SENDMODE_UDP"),
    (43, "CMD_KEEPALIVEREQUEST_ANSWER"),
    (44, "CMD_ROUTE_CMD_TO_CLIENT"),
    (45, "CMD_NEW_MASTERLOGIN"),
    (46, "CMD_BUDDY"),
    (47, "CMD_ACCEPTROUTINGSESSION"),
    (48, "CMD_NEW_MASTERLOGIN_ANSWER"),
    (49, "CMD_BUDDY_ENCRYPTED"),
    (50, "CMD_REQUEST_ROUTE_BUDDY"),
    (51, "CMD_CONTACT_OTHER_MASTER"),
    (52, "CMD_REQUEST_ROUTE_ENCRYPTED"),
    (53, "CMD_ENDSESSION"),
    (54, "CMD_SESSIONID"),
    (55, "CMD_RECONNECT_TO_SESSION"),
    (56, "CMD_RECONNECT_TO_SESSION_ANSWER"),
    (57, "CMD_MEETING_CONTROL"),
    (58, "CMD_CARRIER_SWITCH"),
    (59, "CMD_MEETING_AUTHENTICATION"),
    (60, "CMD_ROUTERCMD"),
    (61, "CMD_PARTNERRECONNECT"),
    (62, "CMD_CONGRESTION_CONTROL"),
    (63, "CMD_ACK"),
    (70, "CMD_UDPREQUESTCONNECT"),
    (71, "CMD_UDPPING"),
    (72, "CMD_UDPREQUESTCONNECT_VPN"),
    (90, "CMD_DATA"),
    (91, "CMD_DATA2"),
    (92, "CMD_DATA_ENCRYPTED"),
    (93, "CMD_REQUESTENCRYPTION"),
    (94, "CMD_CONFIRMENCRYPTION"),
    (95, "CMD_ENCRYPTIONREQUESTFAILED"),
    (96, "CMD_REQUESTNOENCRYPTION"),
    (97, "CMD_UDPFLOWCONTROL"),
    (98, "CMD_DATA3"),
    (99, "CMD_DATA3_ENCRYPTED"),
    (100, "CMD_DATA3_RESENDPACKETS"),
    (101, "CMD_DATA3_ACKPACKETS"),
    (102, "CMD_AUTH_CHALLENGE"),
    (103, "CMD_AUTH_RESPONSE"),
    (104, "CMD_AUTH_RESULT"),
    (105, "CMD_RIP_MESSAGES"),
    (106, "CMD_DATA4"),
    (107, "CMD_DATASTREAM"),
    (108, "CMD_UDPHEARTBEAT"),
    (109, "CMD_DATA_DIRECTED"),
    (110, "CMD_UDP_RESENDPACKETS"),
    (111, "CMD_UDP_ACKPACKETS"),
    (112, "CMD_UDP_PROTECTEDCOMMAND"),
    (113, "CMD_FLUSHSENDBUFFER"),
];

/// Published name of a command code, if any.
pub fn command_name(code: u8) -> Option<&'static str> {
    let i = COMMAND_NAMES.binary_search_by_key(&code, |&(c, _)| c).ok()?;
    COMMAND_NAMES.get(i).map(|&(_, name)| name)
}

/// Cheap first look at a side: empty, or could begin with one of the magics.
pub fn probe(side: &[u8]) -> bool {
    let head = side.get(..2).unwrap_or(side);
    head.is_empty() || MAGIC_V1.starts_with(head) || MAGIC_V2.starts_with(head)
}

fn u16_le(buf: &[u8], at: usize) -> Option<usize> {
    let b = buf.get(at..)?.first_chunk::<2>()?;
    Some(usize::from(u16::from_le_bytes(*b)))
}

fn u32_le(buf: &[u8], at: usize) -> Option<usize> {
    let b = buf.get(at..)?.first_chunk::<4>()?;
    Some(usize::try_from(u32::from_le_bytes(*b)).unwrap_or(usize::MAX))
}

/// Parse a frame header at the start of `buf`, checking every field present so far.
pub fn parse_header(buf: &[u8]) -> Step<Header> {
    if buf.is_empty() {
        return Step::Incomplete;
    }
    let magic = match buf.get(..2) {
        Some(m) if m == MAGIC_V1 => Magic::V1,
        Some(m) if m == MAGIC_V2 => Magic::V2,
        Some(_) => return Step::invalid(Layer::TeamViewer, 0, Reason::BadMagic),
        None => {
            return if probe(buf) { Step::Incomplete } else { Step::invalid(Layer::TeamViewer, 0, Reason::BadMagic) };
        }
    };
    let command = buf.get(COMMAND_AT).copied();
    if command.is_some_and(|c| !(MIN_COMMAND..=MAX_COMMAND).contains(&c)) {
        return Step::invalid(Layer::TeamViewer, COMMAND_AT, Reason::BadType);
    }
    let (length_at, data_len) = match magic {
        Magic::V1 => (V1_LENGTH_AT, u16_le(buf, V1_LENGTH_AT)),
        Magic::V2 => (V2_LENGTH_AT, u32_le(buf, V2_LENGTH_AT)),
    };
    if data_len.is_some_and(|l| l > MAX_FRAME_LEN) {
        return Step::invalid(Layer::TeamViewer, length_at, Reason::OverLimit);
    }
    if magic == Magic::V2 && u32_le(buf, V2_HEADER_OFFSET_AT).is_some_and(|o| o != V2_HEADER_LEN) {
        return Step::invalid(Layer::TeamViewer, V2_HEADER_OFFSET_AT, Reason::BadLength);
    }
    match (command, data_len) {
        (Some(command), Some(data_len)) if buf.len() >= header_len(magic) => {
            Step::Done(Header { magic, command, data_len })
        }
        _ => Step::Incomplete,
    }
}

/// The frames of one direction, walked from the first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Side<'a> {
    /// Complete frames.
    pub frames: usize,
    /// Validated headers: the complete frames plus a trailing frame whose header is complete.
    pub headers: usize,
    /// The first frame's header.
    pub first: Header,
    /// Whether the bytes end exactly at the end of a frame.
    pub ends_on_boundary: bool,
    /// The bytes walked.
    pub bytes: &'a [u8],
}

/// Walk the frames of one direction: `Incomplete` while no header is complete yet,
/// `Invalid` as soon as anything contradicts the framing.
pub fn parse_side(buf: &[u8]) -> Step<Side<'_>> {
    let mut rest = buf;
    let (mut frames, mut headers, mut first) = (0usize, 0usize, None);
    let mut ends_on_boundary = false;
    while frames < MAX_FRAMES {
        if rest.is_empty() {
            ends_on_boundary = true;
            break;
        }
        let header = match parse_header(rest) {
            Step::Invalid(a) => return Step::Invalid(a.shifted(buf.len() - rest.len())),
            Step::Incomplete => break,
            Step::Done(h) => h,
        };
        headers = headers.saturating_add(1);
        first = first.or(Some(header));
        match rest.get(header.frame_len()..) {
            Some(after) => {
                frames = frames.saturating_add(1);
                rest = after;
            }
            None => break,
        }
    }
    match first {
        Some(first) => Step::Done(Side { frames, headers, first, ends_on_boundary, bytes: buf }),
        None => Step::Incomplete,
    }
}

/// The complete frame headers at the start of `buf`, at most [`MAX_FRAMES`].
pub fn headers(buf: &[u8]) -> impl Iterator<Item = Header> + '_ {
    let mut rest = Some(buf);
    std::iter::from_fn(move || {
        let buf = rest?;
        match parse_header(buf) {
            Step::Done(h) => {
                rest = buf.get(h.frame_len()..);
                rest.map(|_| h)
            }
            _ => {
                rest = None;
                None
            }
        }
    })
    .take(MAX_FRAMES)
}

/// Parse the TeamViewer frame of a whole UDP datagram (see the module contract).
pub fn parse_udp(datagram: &[u8]) -> Step<Header> {
    let Some(frame) = datagram.get(UDP_PREFIX_LEN..) else {
        return Step::invalid(Layer::TeamViewer, 0, Reason::Truncated);
    };
    if frame.get(..2).is_some_and(|m| m == MAGIC_V2) {
        return Step::invalid(Layer::TeamViewer, UDP_PREFIX_LEN, Reason::BadMagic);
    }
    match parse_header(frame) {
        Step::Done(h) if h.frame_len() == frame.len() => Step::Done(h),
        Step::Done(_) => Step::invalid(Layer::TeamViewer, UDP_PREFIX_LEN + V1_LENGTH_AT, Reason::BadLength),
        Step::Incomplete => Step::invalid(Layer::TeamViewer, UDP_PREFIX_LEN, Reason::Truncated),
        Step::Invalid(a) => Step::Invalid(a.shifted(UDP_PREFIX_LEN)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::teamviewer::{udp, v1, v2};

    // Frames built from the published framing; the data is arbitrary filler.

    fn bad(offset: usize, reason: Reason) -> Step<Header> {
        Step::invalid(Layer::TeamViewer, offset, reason)
    }

    #[test]
    fn frame_layouts() {
        let f = v1(10, 32);
        assert_eq!(f.len(), 37);
        assert_eq!(&f[..5], &[0x17, 0x24, 0x0a, 0x20, 0x00]);
        assert_eq!(parse_header(&f), Step::Done(Header { magic: Magic::V1, command: 10, data_len: 32 }));
        let f = v2(54, 1, 24);
        assert_eq!(f.len(), 48);
        assert_eq!(&f[..8], &[0x11, 0x30, 0x36, 0x00, 0x18, 0x00, 0x00, 0x00]);
        assert_eq!(&f[20..24], &[0x18, 0, 0, 0]);
        assert_eq!(parse_header(&f), Step::Done(Header { magic: Magic::V2, command: 54, data_len: 24 }));
        let d = udp(0, 71, 80);
        assert_eq!(&d[11..16], &[0x17, 0x24, 0x47, 0x50, 0x00]);
        assert_eq!(parse_udp(&d), Step::Done(Header { magic: Magic::V1, command: 71, data_len: 80 }));
        // Unnamed codes in range (seen on real UDP flows) and empty frames are accepted.
        assert!(parse_udp(&udp(1, 115, 4)).done().is_some());
        assert!(parse_udp(&udp(0, 108, 0)).done().is_some());
    }

    #[test]
    fn command_names_are_a_sorted_table() {
        assert!(COMMAND_NAMES.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(COMMAND_NAMES.iter().all(|&(c, n)| (MIN_COMMAND..=MAX_COMMAND).contains(&c) && n.starts_with("CMD_")));
        assert_eq!(COMMAND_NAMES.len(), 80);
        assert_eq!(command_name(10), Some("CMD_IDENTIFY"));
        assert_eq!(command_name(54), Some("CMD_SESSIONID"));
        assert_eq!(command_name(113), Some("CMD_FLUSHSENDBUFFER"));
        assert_eq!((command_name(12), command_name(64), command_name(115), command_name(0)), (None, None, None, None));
    }

    #[test]
    fn side_walk() {
        let c = [v1(10, 32), v1(40, 24), v1(60, 32)].concat();
        let Step::Done(s) = parse_side(&c) else { panic!() };
        assert_eq!((s.frames, s.headers, s.first.command, s.ends_on_boundary), (3, 3, 10, true));
        assert_eq!(headers(&c).map(|h| h.command).collect::<Vec<_>>(), vec![10, 40, 60]);
        // A complete frame and the next header whose data is still to come.
        let Step::Done(s) = parse_side(&c[..37 + 5]) else { panic!() };
        assert_eq!((s.frames, s.headers, s.ends_on_boundary), (1, 2, false));
        assert_eq!(headers(&c[..37 + 5]).count(), 1);
        assert_eq!(parse_side(&c[..4]), Step::Incomplete);
    }

    #[test]
    fn truncation_sweep() {
        let c = [v1(10, 32), v2(54, 1, 24), v1(60, 900)].concat();
        for len in 0..=c.len() {
            let got = parse_side(&c[..len]);
            assert!(!got.is_invalid(), "{len}");
            assert_eq!(got == Step::Incomplete, len < V1_HEADER_LEN, "{len}");
        }
        let f = v2(54, 1, 24);
        for len in 0..V2_HEADER_LEN {
            assert_eq!(parse_header(&f[..len]), Step::Incomplete, "{len}");
        }
        let d = udp(0, 71, 80);
        for len in 0..d.len() {
            assert!(parse_udp(&d[..len]).is_invalid(), "{len}");
        }
    }

    #[test]
    fn hostile_lengths() {
        // A v2 header claiming 1 GB is rejected as soon as the length field is there.
        let mut f = v2(60, 1, 0);
        f[4..8].copy_from_slice(&0x4000_0000u32.to_le_bytes());
        assert_eq!(parse_header(&f[..8]), bad(4, Reason::OverLimit));
        // A v1 header claiming 65535 bytes: consistent, the walk waits for the data.
        let mut f = v1(60, 0);
        f[3..5].copy_from_slice(&u16::MAX.to_le_bytes());
        let Step::Done(s) = parse_side(&f) else { panic!() };
        assert_eq!((s.frames, s.headers), (0, 1));
        // 10,000 empty frames: the walk stops at MAX_FRAMES.
        let many = v1(60, 0).repeat(10_000);
        let Step::Done(s) = parse_side(&many) else { panic!() };
        assert_eq!((s.frames, headers(&many).count()), (MAX_FRAMES, MAX_FRAMES));
        // A UDP length field claiming more than the datagram, or less.
        let mut d = udp(0, 71, 4);
        d[14..16].copy_from_slice(&u16::MAX.to_le_bytes());
        assert_eq!(parse_udp(&d), bad(14, Reason::BadLength));
        let mut d = udp(0, 71, 80);
        d.push(0);
        assert_eq!(parse_udp(&d), bad(14, Reason::BadLength));
    }

    #[test]
    fn exact_anomalies() {
        assert_eq!(parse_header(b"\x17\x25"), bad(0, Reason::BadMagic));
        assert_eq!(parse_header(b"\x16"), bad(0, Reason::BadMagic));
        assert_eq!(parse_header(&[0x17, 0x24, 0x05, 0, 0]), bad(2, Reason::BadType));
        assert_eq!(parse_header(&[0x17, 0x24, 0x80]), bad(2, Reason::BadType));
        let mut f = v2(60, 1, 8);
        f[20] = 0x19;
        assert_eq!(parse_header(&f), bad(20, Reason::BadLength));
        // In a walk, at the offset of the broken header in the direction's bytes.
        let mut c = [v1(10, 32), v1(40, 24)].concat();
        c[37 + 2] = 0xff;
        assert_eq!(parse_side(&c).map(|_| ()), Step::invalid(Layer::TeamViewer, 39, Reason::BadType));
        let mut c = v1(10, 32);
        c.extend_from_slice(b"\x00\x00\x00\x00\x00\x00");
        assert_eq!(parse_side(&c).map(|_| ()), Step::invalid(Layer::TeamViewer, 37, Reason::BadMagic));
        // UDP: short datagram, the `11 30` form, a magic at 0 instead of 11, a bad command.
        assert_eq!(parse_udp(&[0; 10]), bad(0, Reason::Truncated));
        assert_eq!(parse_udp(&udp(0, 71, 80)[..13]), bad(11, Reason::Truncated));
        let mut d = udp(0, 71, 80);
        d[11..13].copy_from_slice(&MAGIC_V2);
        assert_eq!(parse_udp(&d), bad(11, Reason::BadMagic));
        let mut d = udp(0, 71, 80);
        d[12] = 0x25;
        assert_eq!(parse_udp(&d), bad(11, Reason::BadMagic));
        assert_eq!(parse_udp(&v1(71, 20)), bad(11, Reason::BadMagic));
        assert_eq!(parse_udp(&udp(0, 3, 80)), bad(13, Reason::BadType));
    }
}
