//! TLS handshake metadata: SNI, ALPN, offered parameters, JA3/JA4 of the ClientHello, the
//! ServerHello's choices and (TLS ≤ 1.2) the server certificate chain.
//!
//! # Contract
//! - Input is the first bytes of one direction of a TCP stream, in order (or, for
//!   [`client_hello_message`], one bare handshake message as QUIC CRYPTO frames carry it).
//! - Every function is pure and never panics. [`Step::Incomplete`] means "consistent so far,
//!   call again with more bytes"; [`Step::Invalid`] means the bytes contradict TLS (or a named
//!   limit was exceeded) and the flow should not be retried.
//! - Nothing is allocated in proportion to a length field before that length has been checked
//!   against the bytes actually present. At most [`MAX_RECORDS`] records and
//!   [`MAX_HANDSHAKE_BYTES`] handshake bytes are considered; a handshake message is copied only
//!   when it spans records. At most [`MAX_CERTIFICATES`] certificates are decoded; names keep
//!   at most [`MAX_NAME_LEN`] bytes and lists of names at most [`MAX_NAMES`] entries.
//! - Lists in the summaries are as sent, in wire order, GREASE values included; JA3 and JA4
//!   drop GREASE as their definitions require.
//!
//! # Facts used
//! - Record layer (RFC 5246 §6.2.1, RFC 8446 §5.1): `type(1) version(2) length(2)`; handshake
//!   type 22, alert 21, change_cipher_spec 20, application_data 23; a handshake message may be
//!   split over several records and records never carry zero-length handshake fragments; a
//!   record is at most 2^14 + 256 bytes (RFC 8446 §5.2, the ciphertext bound, the largest
//!   any version allows for what is seen here). Record versions are 0x0300 (SSL 3.0) to
//!   0x0304.
//! - Handshake message (RFC 8446 §4): `msg_type(1) length(3) body`; ClientHello = 1,
//!   ServerHello = 2 (also HelloRetryRequest in TLS 1.3), Certificate = 11.
//! - ClientHello and ServerHello bodies (RFC 5246 §7.4.1, RFC 8446 §4.1.2–4.1.3); extensions
//!   `type(2) length(2) data`: server_name 0 (RFC 6066 §3), supported_groups 10 and
//!   ec_point_formats 11 (RFC 8422 §5.1), signature_algorithms 13 (RFC 8446 §4.2.3), ALPN 16
//!   (RFC 7301 §3.1), supported_versions 43 (RFC 8446 §4.2.1). A ServerHello whose
//!   supported_versions selects 0x0304 means TLS 1.3: everything after it, the certificate
//!   included, is encrypted. In TLS ≤ 1.2 the Certificate message (RFC 5246 §7.4.2: a 3-byte
//!   list length, then 3-byte-length-prefixed DER certificates, sender's first) follows the
//!   ServerHello in clear.
//! - GREASE (RFC 8701 §2): values `0x?A?A` with both bytes equal, in cipher suites, extension
//!   types, groups, signature algorithms and versions.
//! - JA3 (Salesforce): `SSLVersion,Ciphers,Extensions,EllipticCurves,EllipticCurvePointFormats`,
//!   decimal values joined by `-` in wire order, GREASE removed, empty fields left empty; the
//!   hash is the lowercase hex MD5 of that string.
//! - JA4 (FoxIO, `technical_details/JA4.md`): `a_b_c` where `a` = `t` (TCP) or `q` (QUIC), the
//!   version (highest non-GREASE supported_versions entry if that extension is present,
//!   otherwise the legacy version; `13`,`12`,`11`,`10`,`s3`,`s2`,`d1`,`d2`,`d3`, else `00`),
//!   `d` if the server_name extension is present else `i`, the number of non-GREASE cipher
//!   suites and of non-GREASE extensions (SNI and ALPN included) as two digits capped at 99,
//!   and the first and last characters of the first ALPN value (`00` if none or empty; when
//!   either end byte is not an ASCII letter or digit, the first and last characters of that
//!   value's hex form). `b` = first 12 hex digits of SHA-256 over the sorted non-GREASE cipher
//!   suites as 4-digit lowercase hex joined by `,`; `c` = the same over the sorted non-GREASE
//!   extension types without 0x0000 and 0x0010, followed, when signature algorithms are
//!   present, by `_` and the non-GREASE signature algorithms in wire order. An empty list
//!   hashes to `000000000000`.
//! - Certificates (RFC 5280 §4.1.2.4, §4.1.2.6, §4.2.1.6): subject and issuer attributes
//!   commonName and organizationName, subjectAltName dNSName. `self_signed` here means
//!   self-issued (issuer equal to subject, RFC 5280 §6.1) with, when both key identifiers are
//!   present, the authority key identifier equal to the subject key identifier; the signature
//!   itself is not verified.

use std::borrow::Cow;
use std::fmt::Write as _;

use crate::step::{Anomaly, Layer, Reason, Step};
use md5::Md5;
use sha2::{Digest as _, Sha256};
use tls_parser::{
    SNIType, TlsExtension, TlsHandshakeType, TlsMessageHandshake, TlsRecordType, parse_tls_client_hello_extension,
    parse_tls_extension_unknown, parse_tls_handshake_client_hello, parse_tls_handshake_msg_certificate,
    parse_tls_handshake_server_hello, parse_tls_record_header, parse_tls_server_hello_extension,
};
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::X509Certificate;

/// Most records read from the start of a stream before giving up.
pub const MAX_RECORDS: usize = 64;
/// Most handshake bytes (record payloads joined) considered from the start of a stream.
pub const MAX_HANDSHAKE_BYTES: usize = 64 * 1024;
/// Largest record length accepted: 2^14 + 256 (RFC 8446 §5.2).
pub const MAX_RECORD_LEN: usize = (1 << 14) + 256;
/// Most certificates of a chain decoded (the sender's own comes first).
pub const MAX_CERTIFICATES: usize = 8;
/// Longest name kept (SNI, ALPN protocol, certificate attribute or DNS name), in bytes.
pub const MAX_NAME_LEN: usize = 255;
/// Most entries kept in a list of names (ALPN protocols, subjectAltName DNS names).
pub const MAX_NAMES: usize = 64;

/// Length of a record header: type, version, length.
const RECORD_HEADER_LEN: usize = 5;
/// Length of a handshake message header: type and 3-byte length.
const MESSAGE_HEADER_LEN: usize = 4;
/// Extension types this parser reads the contents of.
const EXT_SERVER_NAME: u16 = 0x0000;
const EXT_SUPPORTED_GROUPS: u16 = 0x000a;
const EXT_EC_POINT_FORMATS: u16 = 0x000b;
const EXT_SIGNATURE_ALGORITHMS: u16 = 0x000d;
const EXT_ALPN: u16 = 0x0010;
const EXT_SUPPORTED_VERSIONS: u16 = 0x002b;
/// TLS 1.3 as a protocol version.
pub const TLS13: u16 = 0x0304;
/// What JA4 prints for an empty list.
const JA4_EMPTY_HASH: &str = "000000000000";

/// What a ClientHello offers, with its JA3 and JA4 fingerprints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientHello {
    /// First host_name of the server_name extension, if any.
    pub sni: Option<String>,
    /// ALPN protocol names, in the client's order.
    pub alpn: Vec<String>,
    /// ClientHello legacy_version (0x0303 for TLS 1.2 and 1.3).
    pub legacy_version: u16,
    /// supported_versions extension entries, as sent.
    pub supported_versions: Vec<u16>,
    /// Cipher suites, as sent.
    pub ciphers: Vec<u16>,
    /// Extension types, as sent.
    pub extensions: Vec<u16>,
    /// signature_algorithms entries, as sent.
    pub signature_algorithms: Vec<u16>,
    /// supported_groups (formerly elliptic_curves) entries, as sent.
    pub groups: Vec<u16>,
    /// ec_point_formats entries, as sent.
    pub ec_point_formats: Vec<u8>,
    /// The first ALPN value as sent (bytes), for JA4.
    first_alpn: Option<Vec<u8>>,
    /// Carried in QUIC (JA4 starts with `q`).
    quic: bool,
}

impl ClientHello {
    /// JA3 string (computed on demand: detectors only need it for what they report).
    pub fn ja3(&self) -> String {
        ja3_string(self)
    }

    /// JA3 hash: lowercase hex MD5 of [`ClientHello::ja3`].
    pub fn ja3_hash(&self) -> String {
        hex(&Md5::digest(self.ja3().as_bytes()))
    }

    /// JA4 fingerprint.
    pub fn ja4(&self) -> String {
        ja4(self, self.first_alpn.as_deref(), self.quic)
    }
}

/// What a ServerHello chose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerHello {
    /// ServerHello legacy_version.
    pub version: u16,
    /// Version selected by the supported_versions extension (TLS 1.3), if present.
    pub selected_version: Option<u16>,
    /// Chosen cipher suite.
    pub cipher: u16,
    /// ALPN protocol chosen (in clear only in TLS ≤ 1.2; TLS 1.3 sends it encrypted).
    pub alpn: Option<String>,
    /// Extension types, as sent.
    pub extensions: Vec<u16>,
}

/// The names in one X.509 certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    /// First subject commonName.
    pub subject_cn: Option<String>,
    /// First subject organizationName.
    pub subject_o: Option<String>,
    /// First issuer commonName.
    pub issuer_cn: Option<String>,
    /// First issuer organizationName.
    pub issuer_o: Option<String>,
    /// subjectAltName dNSName entries.
    pub san_dns: Vec<String>,
    /// Self-issued (issuer = subject) with consistent key identifiers; see the module doc.
    pub self_signed: bool,
}

/// What the server's first flight shows in clear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSide {
    /// The ServerHello; `None` when the server answered with an alert only.
    pub hello: Option<ServerHello>,
    /// The certificate chain, sender's first (TLS ≤ 1.2 only; empty for TLS 1.3, resumed
    /// sessions and anonymous or PSK key exchanges).
    pub certificates: Vec<Certificate>,
    /// `(level, description)` of an alert record sent instead of a ServerHello.
    pub alert: Option<(u8, u8)>,
}

/// Cheap check: do these bytes start like a TLS record (handshake content type 22, version
/// 0x0300..=0x0304, length 1..=[`MAX_RECORD_LEN`])? Needs the 5-byte record header.
#[must_use]
pub fn probe(bytes: &[u8]) -> bool {
    record_header(bytes).is_some_and(|(kind, _)| kind == 22)
}

/// A record header's content type and length, when the first 5 bytes are one: version
/// 0x0300..=0x0304, length 1..=[`MAX_RECORD_LEN`].
fn record_header(bytes: &[u8]) -> Option<(u8, usize)> {
    let &[kind, major, minor, hi, lo] = bytes.first_chunk::<RECORD_HEADER_LEN>()?;
    let len = usize::from(u16::from_be_bytes([hi, lo]));
    (major == 3 && minor <= 4 && len != 0 && len <= MAX_RECORD_LEN).then_some((kind, len))
}

/// Record headers along the first bytes of one direction: `(content type, length)` of each
/// whole record in order, at most [`MAX_RECORDS`]. Stops at the first header that is not a
/// record's (a version outside 0x0300..=0x0304, a length of 0 or over [`MAX_RECORD_LEN`])
/// and at the first record not all there. What encrypted records weigh is what a detector of
/// the protocol *inside* TLS reads (Tor's fixed-size cells, for one); nothing is decrypted.
pub fn record_lengths(stream: &[u8]) -> impl Iterator<Item = (u8, usize)> + '_ {
    let mut rest = stream;
    std::iter::from_fn(move || {
        let (kind, len) = record_header(rest)?;
        rest = rest.get(RECORD_HEADER_LEN + len..)?;
        Some((kind, len))
    })
    .take(MAX_RECORDS)
}

/// The ClientHello from the first bytes of a TCP stream (records reassembled; the hello may
/// span records). [`Step::Incomplete`] while consistent but short.
#[must_use]
pub fn client_hello(stream: &[u8]) -> Step<ClientHello> {
    let flight = match read_flight(stream, 1) {
        Ok(f) => f,
        Err(a) => return Step::Invalid(a),
    };
    let handshake: &[u8] = &flight.handshake;
    if handshake.first().is_some_and(|&kind| kind != TlsHandshakeType::ClientHello.0) {
        return Step::invalid(Layer::Tls, RECORD_HEADER_LEN, Reason::BadType);
    }
    match message_header(handshake) {
        Some((_, len)) if len > MAX_HANDSHAKE_BYTES - MESSAGE_HEADER_LEN => {
            Step::invalid(Layer::Tls, RECORD_HEADER_LEN + 1, Reason::OverLimit)
        }
        Some(_) => match take_message(handshake) {
            Some((_, body, _)) => parse_client_hello(body, false).map_or(
                Step::invalid(Layer::Tls, RECORD_HEADER_LEN + MESSAGE_HEADER_LEN, Reason::BadValue),
                Step::Done,
            ),
            None if flight.closed => Step::invalid(Layer::Tls, stream.len(), Reason::Truncated),
            None => Step::Incomplete,
        },
        None if flight.closed => Step::invalid(Layer::Tls, stream.len(), Reason::Truncated),
        None => Step::Incomplete,
    }
}

/// The ClientHello from a bare handshake message (type 1 + 3-byte length + body), as QUIC
/// carries it in CRYPTO frames; JA4 then starts with `q` instead of `t`. Bytes after the
/// message are ignored. `None` if the message is not a complete, well-formed ClientHello.
#[must_use]
pub fn client_hello_message(msg: &[u8], quic: bool) -> Option<ClientHello> {
    let (kind, body, _) = take_message(msg)?;
    if kind != TlsHandshakeType::ClientHello.0 {
        return None;
    }
    parse_client_hello(body, quic)
}

/// ServerHello and (TLS ≤ 1.2, where they are in clear) the certificate chain from the first
/// bytes of the server's stream. [`Step::Incomplete`] while the ServerHello, or a Certificate
/// message that will follow it, is not complete yet.
#[must_use]
pub fn server_side(stream: &[u8]) -> Step<ServerSide> {
    parse_server(stream, false)
}

/// Like [`server_side`], for a stream that will not grow (flow ended or buffer limit reached):
/// once the ServerHello is complete it answers [`Step::Done`] with whatever complete
/// certificates are there instead of waiting for more.
#[must_use]
pub fn server_side_at_end(stream: &[u8]) -> Step<ServerSide> {
    parse_server(stream, true)
}

/// Handshake bytes joined from the records at the start of a stream.
struct Flight<'a> {
    /// Payloads of the leading handshake records, borrowed when there is only one.
    handshake: Cow<'a, [u8]>,
    /// No further handshake bytes will be considered: a record of another type followed, or
    /// a limit was reached.
    closed: bool,
    /// `(level, description)` when the stream starts with an alert record.
    alert: Option<(u8, u8)>,
}

/// Reads the leading records of `stream` until `want` handshake messages are complete, a
/// non-handshake record arrives, the bytes run out or a limit is reached. The available part
/// of a record still arriving counts, so a handshake header is judged as soon as it is there.
/// `None` when the bytes contradict the record layer.
fn read_flight(stream: &[u8], want: usize) -> Result<Flight<'_>, Anomaly> {
    let mut flight = Flight { handshake: Cow::Borrowed(&[]), closed: false, alert: None };
    let mut rest = stream;
    for index in 0..MAX_RECORDS {
        if rest.len() < RECORD_HEADER_LEN {
            // Only the stream's first header can be judged on a few bytes.
            if index == 0 && !plausible_header_prefix(rest) {
                return Err(Anomaly::new(Layer::Tls, 0, Reason::BadType));
            }
            return Ok(flight);
        }
        let at = stream.len() - rest.len();
        let (body, header) =
            parse_tls_record_header(rest).map_err(|_| Anomaly::new(Layer::Tls, at, Reason::BadLength))?;
        let len = usize::from(header.len);
        let record_type = header.record_type;
        let version_ok = header.version.0 >> 8 == 3 && header.version.0 & 0xff <= 4;
        let handshake = record_type == TlsRecordType::Handshake;
        let alert = record_type == TlsRecordType::Alert;
        let first_ok = handshake || alert;
        let later_ok = record_type == TlsRecordType::ChangeCipherSpec || record_type == TlsRecordType::ApplicationData;
        if !(first_ok || (index > 0 && later_ok)) {
            return Err(Anomaly::new(Layer::Tls, at, Reason::BadType));
        }
        if !version_ok {
            return Err(Anomaly::new(Layer::Tls, at + 1, Reason::BadVersion));
        }
        if len > MAX_RECORD_LEN {
            return Err(Anomaly::new(Layer::Tls, at + 3, Reason::OverLimit));
        }
        if (len == 0 && record_type != TlsRecordType::ApplicationData) || (alert && index == 0 && len != 2) {
            return Err(Anomaly::new(Layer::Tls, at + 3, Reason::BadLength));
        }
        let fragment = body.get(..len).unwrap_or(body);
        let arrived = fragment.len() == len;
        rest = body.get(len..).unwrap_or_default();
        if !handshake {
            if index == 0 {
                match fragment {
                    [level, description] => flight.alert = Some((*level, *description)),
                    _ => return Ok(flight),
                }
            }
            flight.closed = true;
            return Ok(flight);
        }
        append(&mut flight.handshake, fragment);
        if flight.handshake.len() >= MAX_HANDSHAKE_BYTES {
            flight.closed = true;
            return Ok(flight);
        }
        if !arrived || complete_messages(&flight.handshake, want) {
            return Ok(flight);
        }
    }
    flight.closed = true;
    Ok(flight)
}

/// Whether fewer than [`RECORD_HEADER_LEN`] bytes can start a stream's first TLS record
/// (handshake or alert).
fn plausible_header_prefix(bytes: &[u8]) -> bool {
    match bytes {
        [] => true,
        [kind, ..] if *kind != 21 && *kind != 22 => false,
        [_] => true,
        [_, major, ..] if *major != 3 => false,
        [_, _] => true,
        [_, _, minor, ..] => *minor <= 4,
    }
}

/// Appends a record's payload, copying only once a second record arrives.
fn append<'a>(joined: &mut Cow<'a, [u8]>, fragment: &'a [u8]) {
    if joined.is_empty() {
        *joined = Cow::Borrowed(fragment);
        return;
    }
    let room = MAX_HANDSHAKE_BYTES.saturating_sub(joined.len());
    let kept = fragment.get(..room).unwrap_or(fragment);
    joined.to_mut().extend_from_slice(kept);
}

/// Whether `buf` starts with `want` complete handshake messages.
fn complete_messages(buf: &[u8], want: usize) -> bool {
    let mut rest = buf;
    for _ in 0..want {
        match take_message(rest) {
            Some((_, _, after)) => rest = after,
            None => return false,
        }
    }
    true
}

/// Type and body length of the handshake message at the start of `buf`, once its 4-byte
/// header is there.
fn message_header(buf: &[u8]) -> Option<(u8, usize)> {
    match buf {
        [kind, a, b, c, ..] => Some((*kind, usize::from(*a) << 16 | usize::from(*b) << 8 | usize::from(*c))),
        _ => None,
    }
}

/// The complete handshake message at the start of `buf`: type, body and the bytes after it.
fn take_message(buf: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (kind, len) = message_header(buf)?;
    let end = MESSAGE_HEADER_LEN.checked_add(len)?;
    let body = buf.get(MESSAGE_HEADER_LEN..end)?;
    let rest = buf.get(end..)?;
    Some((kind, body, rest))
}

/// Splits an extensions block into `(type, whole extension bytes)`; `None` when an extension
/// length overruns the block.
fn split_extensions(block: &[u8]) -> Option<Vec<(u16, &[u8])>> {
    let mut out = Vec::new();
    let mut rest = block;
    while !rest.is_empty() {
        let (after, ext) = parse_tls_extension_unknown(rest).ok()?;
        let TlsExtension::Unknown(kind, _) = ext else {
            return None;
        };
        let raw = rest.get(..rest.len().saturating_sub(after.len()))?;
        out.push((kind.0, raw));
        rest = after;
    }
    Some(out)
}

/// Parses a ClientHello body and computes its fingerprints.
fn parse_client_hello(body: &[u8], quic: bool) -> Option<ClientHello> {
    let (rest, hello) = parse_tls_handshake_client_hello(body).ok()?;
    // A lying extensions length leaves bytes behind (tls-parser then reports no extensions).
    if !rest.is_empty() || hello.version.0 >> 8 != 3 {
        return None;
    }
    let extensions = split_extensions(hello.ext.unwrap_or_default())?;
    let mut out = ClientHello {
        sni: None,
        alpn: Vec::new(),
        legacy_version: hello.version.0,
        supported_versions: Vec::new(),
        ciphers: hello.ciphers.iter().map(|c| c.0).collect(),
        extensions: extensions.iter().map(|(kind, _)| *kind).collect(),
        signature_algorithms: Vec::new(),
        groups: Vec::new(),
        ec_point_formats: Vec::new(),
        first_alpn: None,
        quic,
    };
    let mut first_alpn: Option<&[u8]> = None;
    let mut seen_versions = false;
    let mut seen_signatures = false;
    for (kind, raw) in &extensions {
        if !matches!(
            *kind,
            EXT_SERVER_NAME
                | EXT_SUPPORTED_GROUPS
                | EXT_EC_POINT_FORMATS
                | EXT_SIGNATURE_ALGORITHMS
                | EXT_ALPN
                | EXT_SUPPORTED_VERSIONS
        ) {
            continue;
        }
        // A malformed extension keeps its type in the lists but contributes no content.
        let Ok((_, ext)) = parse_tls_client_hello_extension(raw) else {
            continue;
        };
        match ext {
            TlsExtension::SNI(names) if out.sni.is_none() => {
                out.sni = names
                    .iter()
                    .find(|(name_type, _)| *name_type == SNIType::HostName)
                    .map(|(_, name)| bounded_text(name));
            }
            TlsExtension::ALPN(protocols) if first_alpn.is_none() => {
                first_alpn = Some(protocols.first().copied().unwrap_or_default());
                out.alpn = protocols.iter().take(MAX_NAMES).map(|p| bounded_text(p)).collect();
            }
            TlsExtension::EllipticCurves(groups) if out.groups.is_empty() => {
                out.groups = groups.iter().map(|g| g.0).collect();
            }
            TlsExtension::EcPointFormats(formats) if out.ec_point_formats.is_empty() => {
                out.ec_point_formats = formats.to_vec();
            }
            TlsExtension::SignatureAlgorithms(schemes) if !seen_signatures => {
                seen_signatures = true;
                out.signature_algorithms = schemes;
            }
            TlsExtension::SupportedVersions(versions) if !seen_versions => {
                seen_versions = true;
                out.supported_versions = versions.iter().map(|v| v.0).collect();
            }
            _ => {}
        }
    }
    out.first_alpn = first_alpn.map(<[u8]>::to_vec);
    Some(out)
}

/// RFC 8701 GREASE value: `0x?A?A` with both bytes equal.
fn is_grease(value: u16) -> bool {
    value & 0x0f0f == 0x0a0a && value >> 8 == value & 0xff
}

/// Decimal values joined by `-`, GREASE removed.
fn ja3_list(values: &[u16]) -> String {
    let mut out = String::new();
    for value in values.iter().filter(|v| !is_grease(**v)) {
        if !out.is_empty() {
            out.push('-');
        }
        let _ = write!(out, "{value}");
    }
    out
}

/// The JA3 string of a parsed ClientHello.
fn ja3_string(hello: &ClientHello) -> String {
    let formats: Vec<u16> = hello.ec_point_formats.iter().map(|f| u16::from(*f)).collect();
    format!(
        "{},{},{},{},{}",
        hello.legacy_version,
        ja3_list(&hello.ciphers),
        ja3_list(&hello.extensions),
        ja3_list(&hello.groups),
        ja3_list(&formats),
    )
}

/// The JA4 fingerprint of a parsed ClientHello; `first_alpn` is the raw first ALPN value.
fn ja4(hello: &ClientHello, first_alpn: Option<&[u8]>, quic: bool) -> String {
    let version = if hello.extensions.contains(&EXT_SUPPORTED_VERSIONS) {
        hello.supported_versions.iter().copied().filter(|v| !is_grease(*v)).max()
    } else {
        None
    }
    .unwrap_or(hello.legacy_version);
    let version = match version {
        TLS13 => "13",
        0x0303 => "12",
        0x0302 => "11",
        0x0301 => "10",
        0x0300 => "s3",
        0x0002 => "s2",
        0xfeff => "d1",
        0xfefd => "d2",
        0xfefc => "d3",
        _ => "00",
    };
    let destination = if hello.extensions.contains(&EXT_SERVER_NAME) { 'd' } else { 'i' };
    let mut ciphers: Vec<u16> = hello.ciphers.iter().copied().filter(|c| !is_grease(*c)).collect();
    let extensions: Vec<u16> = hello.extensions.iter().copied().filter(|e| !is_grease(*e)).collect();
    let mut a = format!(
        "{}{version}{destination}{:02}{:02}",
        if quic { 'q' } else { 't' },
        ciphers.len().min(99),
        extensions.len().min(99),
    );
    a.push_str(&ja4_alpn(first_alpn.unwrap_or_default()));

    ciphers.sort_unstable();
    let b = ja4_hash(&hex_list(&ciphers), ciphers.is_empty());

    let mut sorted: Vec<u16> = extensions.into_iter().filter(|e| *e != EXT_SERVER_NAME && *e != EXT_ALPN).collect();
    sorted.sort_unstable();
    let mut c_input = hex_list(&sorted);
    let signatures: Vec<u16> = hello.signature_algorithms.iter().copied().filter(|s| !is_grease(*s)).collect();
    if !signatures.is_empty() {
        c_input.push('_');
        c_input.push_str(&hex_list(&signatures));
    }
    let c = ja4_hash(&c_input, sorted.is_empty());
    format!("{a}_{b}_{c}")
}

/// The two ALPN characters of JA4 for the first ALPN value.
fn ja4_alpn(value: &[u8]) -> String {
    let (Some(&first), Some(&last)) = (value.first(), value.last()) else {
        return "00".to_owned();
    };
    if first.is_ascii_alphanumeric() && last.is_ascii_alphanumeric() {
        [char::from(first), char::from(last)].iter().collect()
    } else {
        // First and last characters of the value's hex form: high nibble of the first byte,
        // low nibble of the last.
        format!("{:x}{:x}", first >> 4, last & 0x0f)
    }
}

/// 4-digit lowercase hex values joined by `,`.
fn hex_list(values: &[u16]) -> String {
    let mut out = String::with_capacity(values.len() * 5);
    for value in values {
        if !out.is_empty() {
            out.push(',');
        }
        let _ = write!(out, "{value:04x}");
    }
    out
}

/// First 12 hex digits of SHA-256 of `input`, or [`JA4_EMPTY_HASH`] for an empty list.
fn ja4_hash(input: &str, empty: bool) -> String {
    if empty {
        return JA4_EMPTY_HASH.to_owned();
    }
    let digest = Sha256::digest(input.as_bytes());
    hex(digest.get(..6).unwrap_or_default())
}

/// Lowercase hex of `bytes`.
fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

/// Text of at most [`MAX_NAME_LEN`] bytes, invalid UTF-8 replaced.
fn bounded_text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes.get(..MAX_NAME_LEN).unwrap_or(bytes)).into_owned()
}

/// The server flight: ServerHello, then the Certificate message in TLS ≤ 1.2.
fn parse_server(stream: &[u8], at_end: bool) -> Step<ServerSide> {
    let flight = match read_flight(stream, 2) {
        Ok(f) => f,
        Err(a) => return Step::Invalid(a),
    };
    let handshake: &[u8] = &flight.handshake;
    if handshake.is_empty() {
        if let Some(alert) = flight.alert {
            return Step::Done(ServerSide { hello: None, certificates: Vec::new(), alert: Some(alert) });
        }
        return if flight.closed {
            Step::invalid(Layer::Tls, stream.len(), Reason::Truncated)
        } else {
            Step::Incomplete
        };
    }
    if handshake.first().is_some_and(|&kind| kind != TlsHandshakeType::ServerHello.0) {
        return Step::invalid(Layer::Tls, RECORD_HEADER_LEN, Reason::BadType);
    }
    let Some((_, body, after)) = take_message(handshake) else {
        return match message_header(handshake) {
            Some((_, len)) if len > MAX_HANDSHAKE_BYTES - MESSAGE_HEADER_LEN => {
                Step::invalid(Layer::Tls, RECORD_HEADER_LEN + 1, Reason::OverLimit)
            }
            _ if flight.closed => Step::invalid(Layer::Tls, stream.len(), Reason::Truncated),
            _ => Step::Incomplete,
        };
    };
    let Some(hello) = parse_server_hello(body) else {
        return Step::invalid(Layer::Tls, RECORD_HEADER_LEN + MESSAGE_HEADER_LEN, Reason::BadValue);
    };
    let encrypted_rest = hello.selected_version.is_some_and(|v| v >= TLS13 || v >> 8 == 0x7f);
    let mut side = ServerSide { hello: Some(hello), certificates: Vec::new(), alert: None };
    if encrypted_rest {
        return Step::Done(side);
    }
    let give_up = flight.closed || at_end;
    match message_header(after) {
        Some((kind, len)) if kind == TlsHandshakeType::Certificate.0 => match take_message(after) {
            Some((_, certificates, _)) => side.certificates = parse_certificates(certificates),
            None if give_up || len > MAX_HANDSHAKE_BYTES - MESSAGE_HEADER_LEN => {}
            None => return Step::Incomplete,
        },
        // Anything else (ServerKeyExchange, ServerHelloDone, ...): no certificate is sent.
        Some(_) => {}
        None if give_up => {}
        None => return Step::Incomplete,
    }
    Step::Done(side)
}

/// Parses a ServerHello body.
fn parse_server_hello(body: &[u8]) -> Option<ServerHello> {
    let (rest, hello) = parse_tls_handshake_server_hello(body).ok()?;
    if !rest.is_empty() {
        return None;
    }
    let extensions = split_extensions(hello.ext.unwrap_or_default())?;
    let mut out = ServerHello {
        version: hello.version.0,
        selected_version: None,
        cipher: hello.cipher.0,
        alpn: None,
        extensions: extensions.iter().map(|(kind, _)| *kind).collect(),
    };
    for (kind, raw) in &extensions {
        if *kind != EXT_ALPN && *kind != EXT_SUPPORTED_VERSIONS {
            continue;
        }
        match parse_tls_server_hello_extension(raw) {
            Ok((_, TlsExtension::ALPN(protocols))) if out.alpn.is_none() => {
                out.alpn = protocols.first().map(|p| bounded_text(p));
            }
            Ok((_, TlsExtension::SupportedVersions(versions))) if out.selected_version.is_none() => {
                out.selected_version = versions.first().map(|v| v.0);
            }
            _ => {}
        }
    }
    Some(out)
}

/// Decodes the first [`MAX_CERTIFICATES`] certificates of a Certificate message body;
/// undecodable certificates are skipped.
fn parse_certificates(body: &[u8]) -> Vec<Certificate> {
    let Ok((_, TlsMessageHandshake::Certificate(contents))) = parse_tls_handshake_msg_certificate(body) else {
        return Vec::new();
    };
    contents.cert_chain.iter().take(MAX_CERTIFICATES).filter_map(|raw| parse_certificate(raw.data)).collect()
}

/// The names of one DER certificate.
fn parse_certificate(der: &[u8]) -> Option<Certificate> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let subject = cert.subject();
    let issuer = cert.issuer();
    let san_dns = match cert.subject_alternative_name() {
        Ok(Some(san)) => san
            .value
            .general_names
            .iter()
            .filter_map(|name| match name {
                GeneralName::DNSName(dns) => Some(bounded_text(dns.as_bytes())),
                _ => None,
            })
            .take(MAX_NAMES)
            .collect(),
        _ => Vec::new(),
    };
    Some(Certificate {
        subject_cn: subject.iter_common_name().next().and_then(attribute_text),
        subject_o: subject.iter_organization().next().and_then(attribute_text),
        issuer_cn: issuer.iter_common_name().next().and_then(attribute_text),
        issuer_o: issuer.iter_organization().next().and_then(attribute_text),
        san_dns,
        self_signed: self_signed(&cert),
    })
}

/// Text of a name attribute, if its string type decodes.
fn attribute_text(attr: &x509_parser::x509::AttributeTypeAndValue<'_>) -> Option<String> {
    attr.as_str().ok().map(|s| bounded_text(s.as_bytes()))
}

/// Self-issued, with consistent key identifiers when both are present.
fn self_signed(cert: &X509Certificate<'_>) -> bool {
    if cert.subject().as_raw() != cert.issuer().as_raw() {
        return false;
    }
    let mut subject_key = None;
    let mut authority_key = None;
    for ext in cert.iter_extensions() {
        match ext.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(id) => subject_key = Some(id.0),
            ParsedExtension::AuthorityKeyIdentifier(aki) => {
                authority_key = aki.key_identifier.as_ref().map(|id| id.0);
            }
            _ => {}
        }
    }
    match (subject_key, authority_key) {
        (Some(subject), Some(authority)) => subject == authority,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_lengths_walk_whole_records_only() {
        let rec = |kind: u8, len: usize| -> Vec<u8> {
            let mut r = vec![kind, 3, 3];
            r.extend_from_slice(&u16::try_from(len).unwrap().to_be_bytes());
            r.resize(5 + len, 0);
            r
        };
        let stream = [rec(22, 512), rec(20, 1), rec(23, 531), rec(23, 1045)].concat();
        let all: Vec<(u8, usize)> = record_lengths(&stream).collect();
        assert_eq!(all, [(22, 512), (20, 1), (23, 531), (23, 1045)]);
        // Every truncation: only the whole records before the cut, never a panic.
        for cut in 0..stream.len() {
            let got = record_lengths(&stream[..cut]).count();
            let whole = [517, 523, 1059, 2109].iter().filter(|&&end| end <= cut).count();
            assert_eq!(got, whole, "cut at {cut}");
        }
        // Hostile headers stop the walk: a length past the bound, zero, a foreign version.
        for bad in [[23, 3, 3, 0xff, 0xff], [23, 3, 3, 0, 0], [23, 2, 0, 0, 5], [23, 3, 5, 0, 5]] {
            let s = [rec(22, 4), bad.to_vec(), rec(23, 531)].concat();
            assert_eq!(record_lengths(&s).count(), 1, "{bad:?}");
        }
        // At most MAX_RECORDS.
        let many = rec(23, 1).repeat(MAX_RECORDS + 5);
        assert_eq!(record_lengths(&many).count(), MAX_RECORDS);
    }
    use crate::testutil::unhex;

    /// OpenSSL 3.0.22 `openssl s_client -connect 127.0.0.1:44301 -servername x.example -alpn h2,http/1.1 -tls1_2`:
    /// the client's first segment (one record holding the ClientHello).
    const OPENSSL_TLS12_CLIENT: &str = "
    16030100db010000d70303e55843233a3975b05809e23825e9762921800d34cde9857b0bfe7d56bdf5166b000038c02c
    c030009fcca9cca8ccaac02bc02f009ec024c028006bc023c0270067c00ac0140039c009c0130033009d009c003d003c
    0035002f00ff010000760000000e000c000009782e6578616d706c65000b000403000102000a000c000a001d0017001e
    00190018002300000010000e000c02683208687474702f312e310016000000170000000d002a00280403050306030807
    08080809080a080b080408050806040105010601030303010302040205020602
";
    /// OpenSSL 3.0.22 `openssl s_server -accept 127.0.0.1:44301 -cert cert.pem -key key.pem -alpn h2,http/1.1 -www`
    /// answering [`OPENSSL_TLS12_CLIENT`]: ServerHello, Certificate, ServerKeyExchange, ServerHelloDone.
    /// The certificate: `openssl req -x509 -newkey rsa:2048 -nodes -subj "/CN=relay.example/O=Example Org"
    /// -addext "subjectAltName=DNS:relay.example,DNS:*.relay.example"`.
    const OPENSSL_TLS12_SERVER: &str = "
    160303004a02000046030332a07943d42716f8a3d476b4eb40d0d64b5d42e7cbc8436f444f574e4752440100c0300000
    1eff01000100000b000403000102002300000010000500030268320017000016030303760b00037200036f00036c3082
    036830820250a00302010202147c1bf627c8042686fe183dafcc751c880c2bc6ad300d06092a864886f70d01010b0500
    302e3116301406035504030c0d72656c61792e6578616d706c6531143012060355040a0c0b4578616d706c65204f7267
    301e170d3236313132343233323430345a170d3336313132313233323430345a302e3116301406035504030c0d72656c
    61792e6578616d706c6531143012060355040a0c0b4578616d706c65204f726730820122300d06092a864886f70d0101
    0105000382010f003082010a0282010100b46b370359fdc8f36727a14ac53df5b0f2eb3c3575c44160286aa261459ece
    cc356a0003a1fef903aef7f18bb702382a200dd56c0012d47775284c0ae207aafc490e5fdd9c0c5b3faa65fa42d69c75
    14c036d814a9c84c50dade2555b9e8d7c77f1c8f16645ec3cba8d8b3a705a54b3e846efa2f7a8b8cf94af4f727c6ff2a
    9a4868f084bbece2d7b209535b6de1c0bcf724537c58aca20fbef63e527aa3af24dedf40e06fd8a84edea35ea1921fe8
    819be4c5f34b6eabb2e4cb05b2a524c7249b8000a8be6cc2b7dd0157fce14765cf2761afc00daf11a185ddf9af6eea19
    2e70b65acf10d80c5e095bc741fad8abb06f1c01cf5d4dbd4f1907d62c55072e730203010001a37e307c301d0603551d
    0e041604144d2b73722e8b49bbdbd598c9739d181d6ae23164301f0603551d230418301680144d2b73722e8b49bbdbd5
    98c9739d181d6ae23164300f0603551d130101ff040530030101ff30290603551d1104223020820d72656c61792e6578
    616d706c65820f2a2e72656c61792e6578616d706c65300d06092a864886f70d01010b05000382010100839ed0582425
    0d6a87e61808af16b55d9adf1d721597a2990bf362a7857981cbc695e0060bf515b7a0cd1e5ab5cfb07e796db353c96e
    fea3ff240a970966e221b634b9ab60fbe14d1ceee61fc0df360c599ae5a21e20a3763652bf2610214a3800ec96676f73
    0623912d4f9244f39eb3be8284e86bd9c3234a2ae6d226e6258224a2490615655852214821b5cd5037c121845ceea9d6
    bb83a50c6dee07f6b8515d2f3dc0354575c96b98ecea203e59c5151579e6c1bede9af7c6c62041bbf9a56a6d5509e736
    a2a9e8621bf8a6c148cc3764b57a7eae22d4b96cb394f58ece44555aff39e93cf6d7b1c6fceeaac0f87b355eb3ef5193
    2ea7d4408258d4e95457160303012c0c00012803001d20d75c9534a3f321e28846066cf632189193b287fd00f9f17c24
    f4fdbc8fdaf21a0804010062ed7d8dc6181bccb19bd93c3cd8ade1cb3d2638b4abec85eddf4e0acf6605a4240bdafa54
    523aa1236e8337f850001bf9aea80621f32607aebd645338b991cd1812a5c17d0c250382a5498d22e096ca4eed2b6143
    89655652299b019541ef192e5456cc71a06708b535e7f10c5097b70c48e6e921f48a1edbe71920e81824c5bc6f0a6d9c
    c0eb426a09b7a43a01fee7e6762f93d7bc3666366d952347489b5f7c09533113e16745584e254afaaff1ee6c7c51d9ca
    26b79120d974be1aa7b31ca75bd4b0aa7ab57978ec5d5229af3f39a9a351d100c69882d438b4c1d7708f2814ec2a6e03
    6039d31db5056c21607e783c6690b83281f7346a17517f000d3ee216030300040e000000
";
    /// OpenSSL 3.0.22 `openssl s_client -connect 127.0.0.1:44301 -servername x.example -alpn h2,http/1.1` (TLS 1.3).
    const OPENSSL_TLS13_CLIENT: &str = "
    16030101480100014403030e6ddab4d27ffc93a9418228679924296d565a41e389969bda91f9af89b7477b202911a2cd
    bedd4470c79ed7cc3f2691611cb587659f3d392845a9af87905f27b8003e130213031301c02cc030009fcca9cca8ccaa
    c02bc02f009ec024c028006bc023c0270067c00ac0140039c009c0130033009d009c003d003c0035002f00ff010000bd
    0000000e000c000009782e6578616d706c65000b000403000102000a00160014001d0017001e00190018010001010102
    01030104002300000010000e000c02683208687474702f312e310016000000170000000d002a00280403050306030807
    08080809080a080b080408050806040105010601030303010302040205020602002b0009080304030303020301002d00
    020101003300260024001d0020c6821efa802c297807cbd06b564e205b7fdc9a8b667ea012df5659ee911eff5b
";
    /// The same `openssl s_server` answering [`OPENSSL_TLS13_CLIENT`]: the first 170 bytes of its
    /// first segment (ServerHello record, ChangeCipherSpec record, first encrypted record).
    const OPENSSL_TLS13_SERVER: &str = "
    160303007a020000760303db26fdba5cfbbf449931a87c2fcd8d43693d142b7191f84c15938f1a749f0b7e202911a2cd
    bedd4470c79ed7cc3f2691611cb587659f3d392845a9af87905f27b8130200002e002b0002030400330024001d002068
    ff241a3643d3102a34c3db2b334caec1602b62838d94afeca7befd1059a3551403030001011703030020afb0641ebec5
    57dacb53fa971fd72063f691c848092597100384d599fe947232
";
    /// curl 7.88.1 (OpenSSL 3.0.22) `curl -k --resolve x.example:44301:127.0.0.1 https://x.example:44301/`.
    const CURL_TLS13_CLIENT: &str = "
    1603010200010001fc03033777dc17c01d350ce2ab222d7eb295ed91c9713b37ddde26e002fe84fa165521203845fd18
    4ae793b4400bc792608d0c945a20ec245b5cb7ccfaf97a5fba17a412003e130213031301c02cc030009fcca9cca8ccaa
    c02bc02f009ec024c028006bc023c0270067c00ac0140039c009c0130033009d009c003d003c0035002f00ff01000175
    0000000e000c000009782e6578616d706c65000b000403000102000a00160014001d0017001e00190018010001010102
    010301040010000e000c02683208687474702f312e31001600000017000000310000000d002a00280403050306030807
    08080809080a080b080408050806040105010601030303010302040205020602002b0009080304030303020301002d00
    020101003300260024001d0020068d182fdae7f3952687f3ca23bacd60ae8833832845d7fa99092268b6b1466c001500
    b40000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000
    000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000
    000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000
    00000000000000000000000000000000000000000000000000000000000000000000000000
";
    /// curl 7.88.1 (OpenSSL 3.0.22) `curl -k --tlsv1.2 --tls-max 1.2 --resolve x.example:44301:127.0.0.1 https://x.example:44301/`.
    const CURL_TLS12_CLIENT: &str = "
    16030100d7010000d303031383c868d6642d4c79f431e9b17e0fddc51d7fd9fe5de09ba4c2723b366ea6ca000038c02c
    c030009fcca9cca8ccaac02bc02f009ec024c028006bc023c0270067c00ac0140039c009c0130033009d009c003d003c
    0035002f00ff010000720000000e000c000009782e6578616d706c65000b000403000102000a000c000a001d0017001e
    001900180010000e000c02683208687474702f312e310016000000170000000d002a0028040305030603080708080809
    080a080b080408050806040105010601030303010302040205020602
";

    /// OpenSSL 3.0.22 `s_client`'s cipher suites in JA3 form (TLS 1.2 only offer).
    const OPENSSL_JA3_CIPHERS_12: &str = "49196-49200-159-52393-52392-52394-49195-49199-158-49188-\
        49192-107-49187-49191-103-49162-49172-57-49161-49171-51-157-156-61-60-53-47-255";
    /// OpenSSL 3.0.22's signature algorithms, in wire order.
    const OPENSSL_SIGNATURE_ALGORITHMS: [u16; 20] = [
        0x0403, 0x0503, 0x0603, 0x0807, 0x0808, 0x0809, 0x080a, 0x080b, 0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601,
        0x0303, 0x0301, 0x0302, 0x0402, 0x0502, 0x0602,
    ];

    fn done<T>(step: Step<T>) -> T {
        match step {
            Step::Done(value) => value,
            Step::Incomplete => panic!("incomplete"),
            Step::Invalid(a) => panic!("invalid: {a}"),
        }
    }

    fn kind<T>(step: &Step<T>) -> &'static str {
        match step {
            Step::Done(_) => "done",
            Step::Incomplete => "incomplete",
            Step::Invalid(_) => "invalid",
        }
    }

    fn record(content_type: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![content_type, 3, 3];
        out.extend_from_slice(&u16::try_from(payload.len()).unwrap().to_be_bytes());
        out.extend_from_slice(payload);
        out
    }

    /// Splits the handshake payload of a one-record stream into records of `size` bytes.
    fn refragment(stream: &[u8], size: usize) -> Vec<u8> {
        stream[RECORD_HEADER_LEN..].chunks(size).flat_map(|chunk| record(22, chunk)).collect()
    }

    fn extension(kind: u16, data: &[u8]) -> Vec<u8> {
        let mut out = kind.to_be_bytes().to_vec();
        out.extend_from_slice(&u16::try_from(data.len()).unwrap().to_be_bytes());
        out.extend_from_slice(data);
        out
    }

    fn u16_list(values: &[u16]) -> Vec<u8> {
        let mut out = u16::try_from(values.len() * 2).unwrap().to_be_bytes().to_vec();
        values.iter().for_each(|v| out.extend_from_slice(&v.to_be_bytes()));
        out
    }

    /// A ClientHello record (TLS 1.2 legacy version, zero random, no session id, null
    /// compression) with the given cipher suites and raw extensions block.
    fn hello_record(ciphers: &[u16], extensions: &[u8]) -> Vec<u8> {
        let mut body = vec![3, 3];
        body.extend_from_slice(&[0; 32]);
        body.push(0);
        body.extend_from_slice(&u16_list(ciphers));
        body.extend_from_slice(&[1, 0]);
        body.extend_from_slice(&u16::try_from(extensions.len()).unwrap().to_be_bytes());
        body.extend_from_slice(extensions);
        let mut message = vec![1];
        message.extend_from_slice(&u32::try_from(body.len()).unwrap().to_be_bytes()[1..]);
        message.extend_from_slice(&body);
        let mut out = record(22, &message);
        out[2] = 1;
        out
    }

    /// A hand-built ClientHello with GREASE in cipher suites, extension types, groups,
    /// signature algorithms and supported versions, and an AnyDesk-style ALPN.
    fn grease_hello() -> Vec<u8> {
        let name = b"grease.example";
        let mut sni = u16::try_from(name.len() + 3).unwrap().to_be_bytes().to_vec();
        sni.push(0);
        sni.extend_from_slice(&u16::try_from(name.len()).unwrap().to_be_bytes());
        sni.extend_from_slice(name);
        let protocol = b"anydesk/6.2.0/linux";
        let mut alpn = u16::try_from(protocol.len() + 1).unwrap().to_be_bytes().to_vec();
        alpn.push(u8::try_from(protocol.len()).unwrap());
        alpn.extend_from_slice(protocol);
        let extensions = [
            extension(0x1a1a, &[]),
            extension(0x0000, &sni),
            extension(0x000a, &u16_list(&[0x4a4a, 0x001d, 0x0017])),
            extension(0x000b, &[1, 0]),
            extension(0x000d, &u16_list(&[0x5a5a, 0x0403, 0x0804])),
            extension(0x0010, &alpn),
            extension(0x002b, &[6, 0x6a, 0x6a, 3, 4, 3, 3]),
            extension(0x0a0a, &[0]),
        ]
        .concat();
        hello_record(&[0x3a3a, 0x1301, 0x1302, 0xc02b, 0x00ff], &extensions)
    }

    #[test]
    fn openssl_tls12_client_hello() {
        let hello = done(client_hello(&unhex(OPENSSL_TLS12_CLIENT)));
        assert_eq!(hello.sni.as_deref(), Some("x.example"));
        assert_eq!(hello.alpn, ["h2", "http/1.1"]);
        assert_eq!(hello.legacy_version, 0x0303);
        assert!(hello.supported_versions.is_empty());
        assert_eq!(hello.ciphers.len(), 28);
        assert_eq!(hello.extensions, [0, 11, 10, 35, 16, 22, 23, 13]);
        assert_eq!(hello.groups, [29, 23, 30, 25, 24]);
        assert_eq!(hello.ec_point_formats, [0, 1, 2]);
        assert_eq!(hello.signature_algorithms, OPENSSL_SIGNATURE_ALGORITHMS);
        // tshark 4.0.17 tls.handshake.ja3_full / tls.handshake.ja3.
        assert_eq!(hello.ja3(), format!("771,{OPENSSL_JA3_CIPHERS_12},0-11-10-35-16-22-23-13,29-23-30-25-24,0-1-2"));
        assert_eq!(hello.ja3_hash(), "22558766122974704364c9c75c5cce0a");
        // FoxIO python reference (ja4.py, commit 0e54bc8).
        assert_eq!(hello.ja4(), "t12d2808h2_d943125447b4_e7e480e5a997");
    }

    #[test]
    fn openssl_tls13_client_hello() {
        let hello = done(client_hello(&unhex(OPENSSL_TLS13_CLIENT)));
        assert_eq!(hello.sni.as_deref(), Some("x.example"));
        assert_eq!(hello.alpn, ["h2", "http/1.1"]);
        assert_eq!(hello.legacy_version, 0x0303);
        assert_eq!(hello.supported_versions, [0x0304, 0x0303, 0x0302, 0x0301]);
        assert_eq!(&hello.ciphers[..3], [0x1302, 0x1303, 0x1301]);
        assert_eq!(hello.extensions, [0, 11, 10, 35, 16, 22, 23, 13, 43, 45, 51]);
        assert_eq!(hello.groups, [29, 23, 30, 25, 24, 256, 257, 258, 259, 260]);
        assert_eq!(hello.signature_algorithms, OPENSSL_SIGNATURE_ALGORITHMS);
        assert_eq!(
            hello.ja3(),
            format!(
                "771,4866-4867-4865-{OPENSSL_JA3_CIPHERS_12},0-11-10-35-16-22-23-13-43-45-51,\
                 29-23-30-25-24-256-257-258-259-260,0-1-2"
            )
        );
        assert_eq!(hello.ja3_hash(), "5a1edc7f170af1014fc65c994878e63c");
        assert_eq!(hello.ja4(), "t13d3111h2_e8f1e7e78f70_1f22a2ca17c4");
    }

    #[test]
    fn curl_client_hellos() {
        let hello = done(client_hello(&unhex(CURL_TLS13_CLIENT)));
        assert_eq!(hello.sni.as_deref(), Some("x.example"));
        assert_eq!(hello.alpn, ["h2", "http/1.1"]);
        assert_eq!(hello.extensions, [0, 11, 10, 16, 22, 23, 49, 13, 43, 45, 51, 21]);
        assert_eq!(
            hello.ja3(),
            format!(
                "771,4866-4867-4865-{OPENSSL_JA3_CIPHERS_12},0-11-10-16-22-23-49-13-43-45-51-21,\
                 29-23-30-25-24-256-257-258-259-260,0-1-2"
            )
        );
        assert_eq!(hello.ja3_hash(), "0149f47eabf9a20d0893e2a44e5a6323");
        assert_eq!(hello.ja4(), "t13d3112h2_e8f1e7e78f70_b26ce05bbdd6");

        let hello = done(client_hello(&unhex(CURL_TLS12_CLIENT)));
        assert_eq!(hello.sni.as_deref(), Some("x.example"));
        assert_eq!(hello.ja3(), format!("771,{OPENSSL_JA3_CIPHERS_12},0-11-10-16-22-23-13,29-23-30-25-24,0-1-2"));
        assert_eq!(hello.ja3_hash(), "87b9bfc7da97115ed2276737b09f8d74");
        assert_eq!(hello.ja4(), "t12d2807h2_d943125447b4_a44c6288192a");
    }

    #[test]
    fn openssl_tls12_server_side_with_certificate() {
        let side = done(server_side(&unhex(OPENSSL_TLS12_SERVER)));
        let hello = side.hello.unwrap();
        assert_eq!(hello.version, 0x0303);
        assert_eq!(hello.selected_version, None);
        assert_eq!(hello.cipher, 0xc030);
        assert_eq!(hello.alpn.as_deref(), Some("h2"));
        assert_eq!(hello.extensions, [0xff01, 11, 35, 16, 23]);
        assert_eq!(side.alert, None);
        assert_eq!(
            side.certificates,
            [Certificate {
                subject_cn: Some("relay.example".to_owned()),
                subject_o: Some("Example Org".to_owned()),
                issuer_cn: Some("relay.example".to_owned()),
                issuer_o: Some("Example Org".to_owned()),
                san_dns: vec!["relay.example".to_owned(), "*.relay.example".to_owned()],
                self_signed: true,
            }]
        );
    }

    #[test]
    fn openssl_tls13_server_side_has_no_clear_certificate() {
        let side = done(server_side(&unhex(OPENSSL_TLS13_SERVER)));
        let hello = side.hello.unwrap();
        assert_eq!(hello.version, 0x0303);
        assert_eq!(hello.selected_version, Some(0x0304));
        assert_eq!(hello.cipher, 0x1302);
        assert_eq!(hello.alpn, None);
        assert_eq!(hello.extensions, [43, 51]);
        assert!(side.certificates.is_empty());
    }

    #[test]
    fn grease_is_ignored_by_ja3_and_ja4() {
        let hello = done(client_hello(&grease_hello()));
        assert_eq!(hello.sni.as_deref(), Some("grease.example"));
        assert_eq!(hello.alpn, ["anydesk/6.2.0/linux"]);
        // Summaries keep GREASE as sent.
        assert_eq!(hello.ciphers, [0x3a3a, 0x1301, 0x1302, 0xc02b, 0x00ff]);
        assert_eq!(hello.extensions, [0x1a1a, 0, 10, 11, 13, 16, 43, 0x0a0a]);
        assert_eq!(hello.supported_versions, [0x6a6a, 0x0304, 0x0303]);
        assert_eq!(hello.signature_algorithms, [0x5a5a, 0x0403, 0x0804]);
        // Cross-checked by wrapping these bytes with text2pcap: tshark 4.0.17 ja3_full/ja3 and
        // the FoxIO python reference.
        assert_eq!(hello.ja3(), "771,4865-4866-49195-255,0-10-11-13-16-43,29-23,0");
        assert_eq!(hello.ja3_hash(), "f8dc1ea5477d8e9e3e383c2e5dae5bd2");
        assert_eq!(hello.ja4(), "t13d0406ax_d71680ff791e_fb71836bce29");
    }

    #[test]
    fn quic_handshake_message_gives_q_fingerprint() {
        let stream = unhex(OPENSSL_TLS13_CLIENT);
        let hello = client_hello_message(&stream[RECORD_HEADER_LEN..], true).unwrap();
        assert_eq!(hello.ja4(), "q13d3111h2_e8f1e7e78f70_1f22a2ca17c4");
        assert_eq!(hello.sni.as_deref(), Some("x.example"));
        let tcp = client_hello_message(&stream[RECORD_HEADER_LEN..], false).unwrap();
        assert_eq!(tcp, done(client_hello(&stream)));
        assert_eq!(client_hello_message(&stream[RECORD_HEADER_LEN..100], true), None);
        assert_eq!(client_hello_message(&stream, true), None);
    }

    #[test]
    fn hello_spanning_records_is_reassembled() {
        let stream = unhex(OPENSSL_TLS13_CLIENT);
        let whole = done(client_hello(&stream));
        for size in [1000, 100, 37, 7] {
            let split = refragment(&stream, size);
            assert_eq!(done(client_hello(&split)), whole, "fragments of {size}");
            for len in 0..split.len() {
                assert_eq!(kind(&client_hello(&split[..len])), "incomplete", "{size}/{len}");
            }
        }
        // More records than MAX_RECORDS for one hello: given up.
        assert!(client_hello(&refragment(&stream, 4)).is_invalid());
    }

    #[test]
    fn every_prefix_of_client_streams_is_incomplete() {
        for stream in [OPENSSL_TLS12_CLIENT, OPENSSL_TLS13_CLIENT, CURL_TLS13_CLIENT, CURL_TLS12_CLIENT] {
            let bytes = unhex(stream);
            for len in 0..bytes.len() {
                assert_eq!(kind(&client_hello(&bytes[..len])), "incomplete", "prefix {len}");
            }
            assert_eq!(kind(&client_hello(&bytes)), "done");
        }
        let grease = grease_hello();
        for len in 0..grease.len() {
            assert_eq!(kind(&client_hello(&grease[..len])), "incomplete", "prefix {len}");
        }
    }

    #[test]
    fn every_prefix_of_server_streams() {
        let tls12 = unhex(OPENSSL_TLS12_SERVER);
        // Records: ServerHello [0, 79), Certificate [79, 970), ServerKeyExchange, ServerHelloDone.
        for len in 0..tls12.len() {
            let step = server_side(&tls12[..len]);
            let at_end = server_side_at_end(&tls12[..len]);
            if len < 970 {
                assert_eq!(kind(&step), "incomplete", "prefix {len}");
            } else {
                assert_eq!(done(step).certificates.len(), 1, "prefix {len}");
            }
            if len < 79 {
                assert_eq!(kind(&at_end), "incomplete", "prefix {len}");
            } else {
                let side = done(at_end);
                assert!(side.hello.is_some());
                assert_eq!(side.certificates.len(), usize::from(len >= 970), "prefix {len}");
            }
        }
        let tls13 = unhex(OPENSSL_TLS13_SERVER);
        for len in 0..tls13.len() {
            let expected = if len < 127 { "incomplete" } else { "done" };
            assert_eq!(kind(&server_side(&tls13[..len])), expected, "prefix {len}");
        }
    }

    #[test]
    fn resumed_and_refused_server_sides() {
        let tls12 = unhex(OPENSSL_TLS12_SERVER);
        // Abbreviated handshake: ServerHello then ChangeCipherSpec, no certificate.
        let mut resumed = tls12[..79].to_vec();
        resumed.extend_from_slice(&record(20, &[1]));
        let side = done(server_side(&resumed));
        assert_eq!(side.hello.unwrap().cipher, 0xc030);
        assert!(side.certificates.is_empty());
        // ServerHello, then ServerKeyExchange (anonymous key exchange): no certificate.
        let mut anonymous = tls12[..79].to_vec();
        anonymous.extend_from_slice(&tls12[970..]);
        assert!(done(server_side(&anonymous)).certificates.is_empty());
        // Handshake failure alert instead of a ServerHello.
        let refused = done(server_side(&record(21, &[2, 40])));
        assert_eq!(refused.hello, None);
        assert_eq!(refused.alert, Some((2, 40)));
        // A client hello is not a server flight, and vice versa.
        assert!(server_side(&unhex(OPENSSL_TLS12_CLIENT)).is_invalid());
        assert!(client_hello(&tls12).is_invalid());
        assert!(client_hello(&record(21, &[2, 40])).is_invalid());
    }

    #[test]
    fn probe_is_a_header_check() {
        for stream in [OPENSSL_TLS12_CLIENT, OPENSSL_TLS13_CLIENT, OPENSSL_TLS12_SERVER] {
            let bytes = unhex(stream);
            assert!(probe(&bytes));
            assert!(!probe(&bytes[..4]));
        }
        assert!(!probe(b"GET / HTTP/1.1\r\nHost: x.example\r\n\r\n"));
        assert!(!probe(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n"));
        assert!(!probe(&[22, 3, 5, 0, 10]));
        assert!(!probe(&[22, 3, 1, 0, 0]));
        assert!(!probe(&[22, 3, 1, 0xff, 0xff]));
        assert!(!probe(&[23, 3, 3, 0, 10]));
        assert!(probe(&[22, 3, 1, 0x41, 0x00]));
    }

    #[test]
    fn hostile_lengths_fail_fast() {
        // Record length 0xffff (above 2^14 + 256) with 10 bytes.
        let mut huge = vec![22, 3, 1, 0xff, 0xff];
        huge.extend_from_slice(&[1; 10]);
        assert_eq!(client_hello(&huge), Step::invalid(Layer::Tls, 3, Reason::OverLimit));
        assert!(server_side(&huge).is_invalid());
        // A legal record length with few bytes: wait.
        let mut short = vec![22, 3, 1, 0x40, 0x00, 1, 0, 0x3f];
        assert_eq!(client_hello(&short), Step::Incomplete);
        // Handshake length 0xffffff: beyond MAX_HANDSHAKE_BYTES, never waited for.
        short.truncate(RECORD_HEADER_LEN);
        short.extend_from_slice(&[1, 0xff, 0xff, 0xff, 3, 3]);
        assert!(client_hello(&short).is_invalid());
        short[RECORD_HEADER_LEN] = 2;
        assert!(server_side(&short).is_invalid());
        // Zero-length handshake record.
        assert!(client_hello(&[22, 3, 1, 0, 0]).is_invalid());
        // 10,000 one-byte handshake records: given up after MAX_RECORDS.
        let tiny: Vec<u8> = (0..10_000).flat_map(|i| record(22, &[u8::from(i % 2 == 0)])).collect();
        let started = std::time::Instant::now();
        assert!(client_hello(&tiny).is_invalid());
        assert!(server_side(&tiny).is_invalid());
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }

    #[test]
    fn lying_inner_lengths_are_invalid() {
        let sni = extension(0, &[0, 5, 0, 0, 2, b'a', b'b']);
        assert_eq!(kind(&client_hello(&hello_record(&[0x1301], &sni))), "done");
        // An extension length running past the block.
        let mut overrun = sni.clone();
        overrun[3] = 200;
        assert!(client_hello(&hello_record(&[0x1301], &overrun)).is_invalid());
        // A truncated extension header inside the block.
        let mut dangling = sni.clone();
        dangling.extend_from_slice(&[0, 16, 0]);
        assert!(client_hello(&hello_record(&[0x1301], &dangling)).is_invalid());
        // Extensions block length larger than the message.
        let mut record_bytes = hello_record(&[0x1301], &sni);
        let block_len_at = record_bytes.len() - sni.len() - 2;
        record_bytes[block_len_at + 1] = 0xf0;
        assert!(client_hello(&record_bytes).is_invalid());
        // Cipher suites length running past the message.
        let mut ciphers = hello_record(&[0x1301], &sni);
        ciphers[RECORD_HEADER_LEN + MESSAGE_HEADER_LEN + 2 + 32 + 1] = 0xff;
        assert!(client_hello(&ciphers).is_invalid());
        // A malformed known extension keeps its type but gives no content.
        let bad_alpn = [sni.clone(), extension(16, &[0, 9, 3, b'h'])].concat();
        let hello = done(client_hello(&hello_record(&[0x1301], &bad_alpn)));
        assert_eq!(hello.extensions, [0, 16]);
        assert!(hello.alpn.is_empty());
        assert!(hello.ja4().starts_with("t12d010200_"));
        assert_eq!(hello.sni.as_deref(), Some("ab"));
        // No extensions at all: JA4's empty-list hash.
        let bare = done(client_hello(&hello_record(&[0x1301], &[])));
        assert_eq!(bare.ja3(), "771,4865,,,");
        assert!(bare.ja4().starts_with("t12i010000_") && bare.ja4().ends_with("_000000000000"));
    }

    #[test]
    fn long_names_are_bounded() {
        let name = vec![b'a'; 1000];
        let mut sni = u16::try_from(name.len() + 3).unwrap().to_be_bytes().to_vec();
        sni.push(0);
        sni.extend_from_slice(&u16::try_from(name.len()).unwrap().to_be_bytes());
        sni.extend_from_slice(&name);
        let hello = done(client_hello(&hello_record(&[0x1301], &extension(0, &sni))));
        assert_eq!(hello.sni.unwrap().len(), MAX_NAME_LEN);
    }

    #[test]
    fn non_tls_is_invalid() {
        for bytes in [
            &b"GET / HTTP/1.1\r\nHost: x.example\r\n\r\n"[..],
            b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n",
            b"\x16\x02",
            b"\x17\x03\x03\x00\x10",
        ] {
            assert!(client_hello(bytes).is_invalid(), "{bytes:?}");
            assert!(server_side(bytes).is_invalid(), "{bytes:?}");
            assert!(!probe(bytes));
        }
        // Pseudo-random bytes (xorshift): never a panic; not a record type byte, invalid.
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..2000 {
            let bytes: Vec<u8> = (0..64)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state.to_le_bytes()[0]
                })
                .collect();
            let client = client_hello(&bytes);
            let _ = server_side(&bytes);
            let _ = server_side_at_end(&bytes);
            if bytes[0] != 21 && bytes[0] != 22 {
                assert!(client.is_invalid());
            }
        }
    }

    #[test]
    fn ja4_alpn_characters() {
        // The examples of FoxIO's JA4.md.
        for (value, expected) in [
            (&b"h2"[..], "h2"),
            (b"http/1.1", "h1"),
            (b"a", "aa"),
            (b"", "00"),
            (&[0xab], "ab"),
            (&[0x20], "20"),
            (&[0xab, 0xcd], "ad"),
            (&[0x20, 0x61], "21"),
            (&[0x30, 0xab], "3b"),
            (&[0x61, 0x20], "60"),
            (&[0x30, 0x31, 0xab, 0xcd], "3d"),
            (&[0x30, 0xab, 0xcd, 0x31], "01"),
        ] {
            assert_eq!(ja4_alpn(value), expected, "{value:?}");
        }
    }

    #[test]
    fn grease_values() {
        assert!(is_grease(0x0a0a) && is_grease(0xfafa) && is_grease(0x3a3a));
        assert!(!is_grease(0x0a1a) && !is_grease(0x1301) && !is_grease(0x0000));
    }
}
