//! A writer of MaxMind DB files (format 2.0), written from the format's public specification,
//! so that tests and `farhand geo import-asn` build the databases the sensor reads.
//!
//! # Contract
//! - [`MmdbWriter::insert`] maps a network to a [`Record`]; [`MmdbWriter::write`] emits one
//!   complete file: the binary search tree, the 16 zero bytes that separate it from the data
//!   section, the data section, and the metadata after `\xAB\xCD\xEFMaxMind.com`.
//! - Overlapping networks: **the more specific network wins**, whatever the order of the
//!   inserts (a /24 inside a /16 keeps its record, the rest of the /16 has the /16's). The
//!   same network inserted twice keeps the later record.
//! - [`IpVersion::V6`] builds an IPv6 tree where IPv4 networks live at `::/96` (the first 96
//!   bits zero), where readers look IPv4 addresses up; `::ffff:0:0/96` is not aliased to it.
//!   [`IpVersion::V4`] builds a 32-bit tree and refuses IPv6 networks.
//! - The record size (24, 28 or 32 bits) is the smallest that holds every record value.
//!   Identical records are stored once in the data section.
//! - Never panics: a record too deep or too large for the format, an IPv6 network in an IPv4
//!   tree, or a tree too large for 32-bit records is an [`MmdbError`]. Memory is proportional
//!   to the networks inserted (at most one tree node per prefix bit) and the distinct records.

use ipnet::IpNet;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::{self, Write};
use std::time::{SystemTime, UNIX_EPOCH};

/// Nesting allowed in a [`Record`] (maps inside maps); GeoIP2 records use three levels.
pub const MAX_DEPTH: usize = 16;

/// The largest size a data-section value can declare (string bytes or map entries):
/// 65,821 + 2^24 − 1, the largest the control byte's 3-byte size extension encodes.
pub const MAX_VALUE_SIZE: usize = 65_821 + (1 << 24) - 1;

/// The marker that starts the metadata section.
const METADATA_MARKER: &[u8] = b"\xAB\xCD\xEFMaxMind.com";

/// Bytes of zeros between the search tree and the data section.
const DATA_SEPARATOR: usize = 16;

/// No child (trie) / no record (trie value).
const NONE: u32 = u32::MAX;

/// Data-section type numbers of the specification.
mod ty {
    pub const STRING: u8 = 2;
    pub const UINT16: u8 = 5;
    pub const UINT32: u8 = 6;
    pub const MAP: u8 = 7;
    pub const UINT64: u8 = 9;
    pub const ARRAY: u8 = 11;
}

/// The address family of the search tree (`ip_version` in the metadata).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpVersion {
    /// A 32-bit tree: IPv4 networks only.
    V4,
    /// A 128-bit tree: IPv6 networks, and IPv4 networks at `::/96`.
    V6,
}

/// One value of a record's data.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Value {
    /// A UTF-8 string.
    Str(String),
    /// An unsigned 16-bit integer.
    U16(u16),
    /// An unsigned 32-bit integer (e.g. `autonomous_system_number`).
    U32(u32),
    /// An unsigned 64-bit integer.
    U64(u64),
    /// A nested map (e.g. GeoIP2's `country`).
    Map(Record),
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(s)
    }
}

impl From<u16> for Value {
    fn from(n: u16) -> Self {
        Value::U16(n)
    }
}

impl From<u32> for Value {
    fn from(n: u32) -> Self {
        Value::U32(n)
    }
}

impl From<u64> for Value {
    fn from(n: u64) -> Self {
        Value::U64(n)
    }
}

impl From<Record> for Value {
    fn from(r: Record) -> Self {
        Value::Map(r)
    }
}

/// The data of a network: a map of string keys to [`Value`]s, written as an MMDB map.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Record {
    fields: BTreeMap<String, Value>,
}

impl Record {
    /// An empty record.
    pub fn new() -> Self {
        Self::default()
    }

    /// This record with `key` set to `value` (a builder).
    #[must_use]
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.fields.insert(key.to_string(), value.into());
        self
    }

    /// Sets `key` to `value`, replacing an earlier value.
    pub fn set(&mut self, key: &str, value: impl Into<Value>) {
        self.fields.insert(key.to_string(), value.into());
    }

    /// The value of `key`, if set.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.fields.get(key)
    }

    /// Checks that the record fits the format: nesting within [`MAX_DEPTH`], every string
    /// and map within [`MAX_VALUE_SIZE`].
    fn validate(&self, depth: usize) -> Result<(), MmdbError> {
        if depth > MAX_DEPTH {
            return Err(MmdbError::TooDeep);
        }
        if self.fields.len() > MAX_VALUE_SIZE {
            return Err(MmdbError::TooLarge("a map has too many entries"));
        }
        for (k, v) in &self.fields {
            if k.len() > MAX_VALUE_SIZE {
                return Err(MmdbError::TooLarge("a key is too long"));
            }
            match v {
                Value::Str(s) if s.len() > MAX_VALUE_SIZE => return Err(MmdbError::TooLarge("a string is too long")),
                Value::Map(m) => m.validate(depth + 1)?,
                _ => {}
            }
        }
        Ok(())
    }
}

/// Why a network could not be inserted or a database not written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MmdbError {
    /// An IPv6 network given to an [`IpVersion::V4`] writer.
    Ipv6InIpv4Tree(IpNet),
    /// A record nests maps deeper than [`MAX_DEPTH`].
    TooDeep,
    /// A string or map larger than [`MAX_VALUE_SIZE`] (what, in words).
    TooLarge(&'static str),
    /// The tree or the data section does not fit 32-bit records.
    TooManyNodes,
}

impl fmt::Display for MmdbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MmdbError::Ipv6InIpv4Tree(n) => write!(f, "{n} is an IPv6 network and the database is IPv4-only"),
            MmdbError::TooDeep => write!(f, "a record nests maps deeper than {MAX_DEPTH} levels"),
            MmdbError::TooLarge(what) => write!(f, "{what} for the MaxMind DB format"),
            MmdbError::TooManyNodes => write!(f, "the database is too large for 32-bit search-tree records"),
        }
    }
}

impl std::error::Error for MmdbError {}

impl From<MmdbError> for io::Error {
    fn from(e: MmdbError) -> Self {
        io::Error::new(io::ErrorKind::InvalidData, e)
    }
}

/// A node of the prefix trie the inserts build: children by address bit, and the record of
/// the network that ends exactly here.
#[derive(Debug, Clone, Copy)]
struct TrieNode {
    child: [u32; 2],
    value: u32,
}

impl TrieNode {
    const EMPTY: TrieNode = TrieNode { child: [NONE, NONE], value: NONE };

    fn child(&self, bit: bool) -> u32 {
        let [l, r] = self.child;
        if bit { r } else { l }
    }

    fn is_leaf(&self) -> bool {
        self.child == [NONE, NONE]
    }
}

/// One record of a search-tree node, before the node count fixes the numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rec {
    Empty,
    Node(u32),
    /// Offset in the data section.
    Data(u32),
}

/// Builds a MaxMind DB in memory; see the module's contract.
#[derive(Debug, Clone)]
pub struct MmdbWriter {
    database_type: String,
    ip_version: IpVersion,
    languages: Vec<String>,
    description: BTreeMap<String, String>,
    build_epoch: u64,
    trie: Vec<TrieNode>,
    records: Vec<Record>,
    record_ids: HashMap<Record, u32>,
    networks: u64,
}

impl MmdbWriter {
    /// An empty database of `database_type` (e.g. `"GeoLite2-ASN"`), built now, described in
    /// English as `"<database_type> built by farhand"`.
    pub fn new(database_type: &str, ip_version: IpVersion) -> Self {
        let build_epoch = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        let mut description = BTreeMap::new();
        description.insert("en".to_string(), format!("{database_type} built by farhand"));
        Self {
            database_type: database_type.to_string(),
            ip_version,
            languages: Vec::new(),
            description,
            build_epoch,
            trie: vec![TrieNode::EMPTY],
            records: Vec::new(),
            record_ids: HashMap::new(),
            networks: 0,
        }
    }

    /// Sets the build time written in the metadata (seconds since the Unix epoch).
    pub fn set_build_epoch(&mut self, epoch: u64) {
        self.build_epoch = epoch;
    }

    /// Sets the description in `language` (e.g. `"en"`).
    pub fn set_description(&mut self, language: &str, text: &str) {
        self.description.insert(language.to_string(), text.to_string());
    }

    /// Sets the metadata's `languages` (locale codes the records' names are given in).
    pub fn set_languages(&mut self, languages: &[&str]) {
        self.languages = languages.iter().map(|l| l.to_string()).collect();
    }

    /// Networks inserted so far (each insert counts, replaced ones too).
    pub fn networks(&self) -> u64 {
        self.networks
    }

    /// Distinct records held so far.
    pub fn distinct_records(&self) -> usize {
        self.records.len()
    }

    /// Maps `net` (its host bits ignored) to `record`. The more specific network wins over
    /// an overlapping one, whatever the order; the same network again replaces its record.
    pub fn insert(&mut self, net: IpNet, record: Record) -> Result<(), MmdbError> {
        record.validate(0)?;
        let (bits, len) = self.key(net)?;
        let id = self.record_id(record)?;
        let mut at = 0usize;
        for depth in 0..usize::from(len) {
            let bit = (bits >> (127 - depth)) & 1 == 1;
            at = self.child_or_new(at, bit)? as usize;
        }
        if let Some(node) = self.trie.get_mut(at) {
            node.value = id;
        }
        self.networks += 1;
        Ok(())
    }

    /// The network as tree bits (left-aligned in a u128) and the prefix length in the tree.
    fn key(&self, net: IpNet) -> Result<(u128, u8), MmdbError> {
        match (net, self.ip_version) {
            (IpNet::V4(n), IpVersion::V4) => Ok((u128::from(u32::from(n.network())) << 96, n.prefix_len())),
            (IpNet::V4(n), IpVersion::V6) => Ok((u128::from(u32::from(n.network())), n.prefix_len() + 96)),
            (IpNet::V6(n), IpVersion::V6) => Ok((u128::from(n.network()), n.prefix_len())),
            (IpNet::V6(_), IpVersion::V4) => Err(MmdbError::Ipv6InIpv4Tree(net)),
        }
    }

    /// The id of `record`, stored once however often it is inserted.
    fn record_id(&mut self, record: Record) -> Result<u32, MmdbError> {
        if let Some(&id) = self.record_ids.get(&record) {
            return Ok(id);
        }
        let id = u32::try_from(self.records.len()).ok().filter(|&i| i != NONE).ok_or(MmdbError::TooManyNodes)?;
        self.records.push(record.clone());
        self.record_ids.insert(record, id);
        Ok(id)
    }

    /// The child of trie node `at` on side `bit`, created if absent.
    fn child_or_new(&mut self, at: usize, bit: bool) -> Result<u32, MmdbError> {
        let existing = self.trie.get(at).map(|n| n.child(bit)).unwrap_or(NONE);
        if existing != NONE {
            return Ok(existing);
        }
        let new = u32::try_from(self.trie.len()).ok().filter(|&i| i != NONE).ok_or(MmdbError::TooManyNodes)?;
        self.trie.push(TrieNode::EMPTY);
        if let Some(node) = self.trie.get_mut(at) {
            let [l, r] = &mut node.child;
            *(if bit { r } else { l }) = new;
        }
        Ok(new)
    }

    /// Writes the whole database to `out`.
    pub fn write(&self, out: &mut impl Write) -> io::Result<()> {
        let mut tree = Tree { nodes: Vec::new(), data: Vec::new(), offsets: vec![NONE; self.records.len()] };
        self.emit(&mut tree, 0, NONE)?;
        let node_count = u32::try_from(tree.nodes.len()).map_err(|_| MmdbError::TooManyNodes)?;
        let max_value = u64::from(node_count) + DATA_SEPARATOR as u64 + tree.data.len() as u64;
        let record_size: u16 = match max_value {
            v if v < 1 << 24 => 24,
            v if v < 1 << 28 => 28,
            v if v <= u64::from(u32::MAX) => 32,
            _ => return Err(MmdbError::TooManyNodes.into()),
        };
        let mut buf = Vec::with_capacity(tree.nodes.len() * usize::from(record_size) / 4);
        for [l, r] in &tree.nodes {
            let value = |rec: &Rec| match *rec {
                Rec::Empty => node_count,
                Rec::Node(n) => n,
                Rec::Data(off) => node_count + DATA_SEPARATOR as u32 + off,
            };
            put_node(&mut buf, record_size, value(l), value(r));
        }
        out.write_all(&buf)?;
        out.write_all(&[0u8; DATA_SEPARATOR])?;
        out.write_all(&tree.data)?;
        out.write_all(METADATA_MARKER)?;
        out.write_all(&self.metadata(node_count, record_size)?)?;
        out.flush()
    }

    /// Appends the search-tree node for trie node `at` (with `inherited`, the record of the
    /// nearest enclosing network) and those below it, depth first; returns its number.
    fn emit(&self, tree: &mut Tree, at: u32, inherited: u32) -> Result<u32, MmdbError> {
        let node = self.trie.get(at as usize).copied().unwrap_or(TrieNode::EMPTY);
        let here = if node.value == NONE { inherited } else { node.value };
        let number = u32::try_from(tree.nodes.len()).map_err(|_| MmdbError::TooManyNodes)?;
        tree.nodes.push([Rec::Empty, Rec::Empty]);
        let mut recs = [Rec::Empty, Rec::Empty];
        for (side, rec) in recs.iter_mut().enumerate() {
            let child = node.child(side == 1);
            *rec = match self.trie.get(child as usize) {
                None => self.data_rec(tree, here)?,
                Some(c) if c.is_leaf() => self.data_rec(tree, if c.value == NONE { here } else { c.value })?,
                Some(_) => Rec::Node(self.emit(tree, child, here)?),
            };
        }
        if let Some(slot) = tree.nodes.get_mut(number as usize) {
            *slot = recs;
        }
        Ok(number)
    }

    /// The search-tree record for record id `id` (or none), encoding it on first use.
    fn data_rec(&self, tree: &mut Tree, id: u32) -> Result<Rec, MmdbError> {
        let Some(record) = self.records.get(id as usize) else { return Ok(Rec::Empty) };
        if let Some(&off) = tree.offsets.get(id as usize).filter(|&&o| o != NONE) {
            return Ok(Rec::Data(off));
        }
        let off = u32::try_from(tree.data.len()).ok().filter(|&o| o != NONE).ok_or(MmdbError::TooManyNodes)?;
        encode_map(&mut tree.data, record)?;
        if let Some(slot) = tree.offsets.get_mut(id as usize) {
            *slot = off;
        }
        Ok(Rec::Data(off))
    }

    /// The metadata map (after the marker).
    fn metadata(&self, node_count: u32, record_size: u16) -> Result<Vec<u8>, MmdbError> {
        let mut description = Record::new();
        for (lang, text) in &self.description {
            description.set(lang, text.as_str());
        }
        let ip_version: u16 = if self.ip_version == IpVersion::V4 { 4 } else { 6 };
        let mut out = Vec::new();
        put_ctrl(&mut out, ty::MAP, 9)?;
        encode_entry(&mut out, "binary_format_major_version", &Value::U16(2))?;
        encode_entry(&mut out, "binary_format_minor_version", &Value::U16(0))?;
        encode_entry(&mut out, "build_epoch", &Value::U64(self.build_epoch))?;
        encode_entry(&mut out, "database_type", &Value::Str(self.database_type.clone()))?;
        encode_entry(&mut out, "description", &Value::Map(description))?;
        encode_entry(&mut out, "ip_version", &Value::U16(ip_version))?;
        encode_str(&mut out, "languages")?;
        put_ctrl(&mut out, ty::ARRAY, self.languages.len())?;
        for l in &self.languages {
            encode_str(&mut out, l)?;
        }
        encode_entry(&mut out, "node_count", &Value::U32(node_count))?;
        encode_entry(&mut out, "record_size", &Value::U16(record_size))?;
        Ok(out)
    }
}

/// The search tree and data section being built by [`MmdbWriter::write`].
struct Tree {
    nodes: Vec<[Rec; 2]>,
    data: Vec<u8>,
    /// Data-section offset of each record id, [`NONE`] until encoded.
    offsets: Vec<u32>,
}

/// Appends one node of two records of `record_size` bits (24, 28 or 32), big-endian; with
/// 28 bits the middle byte holds the high nibbles (left's first).
fn put_node(buf: &mut Vec<u8>, record_size: u16, l: u32, r: u32) {
    let [_, l1, l2, l3] = l.to_be_bytes();
    let [_, r1, r2, r3] = r.to_be_bytes();
    match record_size {
        24 => buf.extend_from_slice(&[l1, l2, l3, r1, r2, r3]),
        28 => {
            let middle = (((l >> 24) & 0x0F) as u8) << 4 | ((r >> 24) & 0x0F) as u8;
            buf.extend_from_slice(&[l1, l2, l3, middle, r1, r2, r3]);
        }
        _ => {
            buf.extend_from_slice(&l.to_be_bytes());
            buf.extend_from_slice(&r.to_be_bytes());
        }
    }
}

/// Appends a control byte (and extended-type and size bytes) for a value of type `t` and
/// `size` (bytes or entries).
fn put_ctrl(out: &mut Vec<u8>, t: u8, size: usize) -> Result<(), MmdbError> {
    let (low, extra): (u8, Vec<u8>) = match size {
        s if s < 29 => (s as u8, Vec::new()),
        s if s < 29 + 256 => (29, vec![(s - 29) as u8]),
        s if s < 285 + 65_536 => (30, ((s - 285) as u16).to_be_bytes().to_vec()),
        s if s <= MAX_VALUE_SIZE => {
            let [_, a, b, c] = ((s - 65_821) as u32).to_be_bytes();
            (31, vec![a, b, c])
        }
        _ => return Err(MmdbError::TooLarge("a value is too large")),
    };
    if t <= 7 {
        out.push(t << 5 | low);
    } else {
        out.push(low);
        out.push(t - 7);
    }
    out.extend_from_slice(&extra);
    Ok(())
}

fn encode_str(out: &mut Vec<u8>, s: &str) -> Result<(), MmdbError> {
    put_ctrl(out, ty::STRING, s.len())?;
    out.extend_from_slice(s.as_bytes());
    Ok(())
}

/// An unsigned integer in the fewest big-endian bytes (none for zero).
fn encode_uint(out: &mut Vec<u8>, t: u8, n: u64) -> Result<(), MmdbError> {
    let bytes = n.to_be_bytes();
    let skip = (n.leading_zeros() / 8) as usize;
    let significant = bytes.get(skip..).unwrap_or_default();
    put_ctrl(out, t, significant.len())?;
    out.extend_from_slice(significant);
    Ok(())
}

fn encode_value(out: &mut Vec<u8>, v: &Value) -> Result<(), MmdbError> {
    match v {
        Value::Str(s) => encode_str(out, s),
        Value::U16(n) => encode_uint(out, ty::UINT16, u64::from(*n)),
        Value::U32(n) => encode_uint(out, ty::UINT32, u64::from(*n)),
        Value::U64(n) => encode_uint(out, ty::UINT64, *n),
        Value::Map(m) => encode_map(out, m),
    }
}

fn encode_entry(out: &mut Vec<u8>, key: &str, v: &Value) -> Result<(), MmdbError> {
    encode_str(out, key)?;
    encode_value(out, v)
}

fn encode_map(out: &mut Vec<u8>, m: &Record) -> Result<(), MmdbError> {
    put_ctrl(out, ty::MAP, m.fields.len())?;
    for (k, v) in &m.fields {
        encode_entry(out, k, v)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_bytes_follow_the_size_encoding() {
        let mut out = Vec::new();
        put_ctrl(&mut out, ty::STRING, 28).unwrap();
        assert_eq!(out, [0x5C]);
        out.clear();
        put_ctrl(&mut out, ty::STRING, 29).unwrap();
        assert_eq!(out, [0x5D, 0]);
        out.clear();
        put_ctrl(&mut out, ty::STRING, 500).unwrap();
        assert_eq!(out, [0x5E, 0, 215]);
        out.clear();
        put_ctrl(&mut out, ty::MAP, 70_000).unwrap();
        assert_eq!(out, [0xFF, 0, 0x10, 0x53]);
        out.clear();
        put_ctrl(&mut out, ty::UINT64, 8).unwrap();
        assert_eq!(out, [0x08, 0x02]);
        out.clear();
        assert_eq!(
            put_ctrl(&mut out, ty::STRING, MAX_VALUE_SIZE + 1),
            Err(MmdbError::TooLarge("a value is too large"))
        );
    }

    #[test]
    fn uints_use_the_fewest_bytes() {
        let mut out = Vec::new();
        encode_uint(&mut out, ty::UINT32, 0).unwrap();
        assert_eq!(out, [0xC0]);
        out.clear();
        encode_uint(&mut out, ty::UINT32, 3215).unwrap();
        assert_eq!(out, [0xC2, 0x0C, 0x8F]);
        out.clear();
        encode_uint(&mut out, ty::UINT64, u64::MAX).unwrap();
        assert_eq!(out, [0x08, 0x02, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
    }

    #[test]
    fn nodes_pack_24_28_and_32_bit_records() {
        let mut buf = Vec::new();
        put_node(&mut buf, 24, 0x0A0B0C, 0x010203);
        assert_eq!(buf, [0x0A, 0x0B, 0x0C, 0x01, 0x02, 0x03]);
        buf.clear();
        put_node(&mut buf, 28, 0x0A0B0C0D, 0x01020304);
        assert_eq!(buf, [0x0B, 0x0C, 0x0D, 0xA1, 0x02, 0x03, 0x04]);
        buf.clear();
        put_node(&mut buf, 32, 0xDEADBEEF, 1);
        assert_eq!(buf, [0xDE, 0xAD, 0xBE, 0xEF, 0, 0, 0, 1]);
    }

    #[test]
    fn rejects_what_the_format_cannot_hold() {
        let mut w = MmdbWriter::new("t", IpVersion::V4);
        let v6: IpNet = "2001:db8::/32".parse().unwrap();
        assert_eq!(w.insert(v6, Record::new()), Err(MmdbError::Ipv6InIpv4Tree(v6)));
        let mut deep = Record::new().with("x", 1u32);
        for _ in 0..=MAX_DEPTH {
            deep = Record::new().with("m", deep);
        }
        assert_eq!(w.insert("10.0.0.0/8".parse().unwrap(), deep), Err(MmdbError::TooDeep));
        assert_eq!(w.networks(), 0);
        assert_eq!(w.distinct_records(), 0);
    }

    #[test]
    fn identical_records_are_stored_once() {
        let mut w = MmdbWriter::new("t", IpVersion::V6);
        let r = Record::new().with("country_code", "FR");
        w.insert("192.0.2.0/24".parse().unwrap(), r.clone()).unwrap();
        w.insert("2001:db8::/32".parse().unwrap(), r).unwrap();
        assert_eq!((w.networks(), w.distinct_records()), (2, 1));
    }
}
