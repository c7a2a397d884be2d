//! Range CSV files — lines `first_ip,last_ip,…` — and the sorted range table they load
//! into: the one reader and the one overlap rule behind the ASN table
//! ([`super::asn_table`]) and the country table ([`super::country_table`]).
//!
//! # Contract
//! - Input: plain text or gzip (told apart by the gzip magic bytes `1f 8b`, not by the
//!   name). Lines are RFC 4180 CSV with exactly the fields the format names; a field may be
//!   double-quoted, with `""` for a quote inside (`"LLC ""SPUTNIK"""`). A line may end in
//!   `\r\n`; blank lines are skipped; a first line starting with `first_ip,` is a header and
//!   skipped. IPv4 and IPv6 ranges may be mixed in one file.
//! - Bad input: the first bad line — or the first line the format's parser refuses — ends
//!   the reading with one [`EnrichError::BadLine`] naming the file, the line, what is wrong
//!   and the columns expected. A line longer than [`MAX_LINE`] bytes is a bad line, so
//!   memory while reading stays bounded whatever the file holds.
//! - Order and overlaps (the table): lines may come in any order. Where ranges overlap, the
//!   narrower range wins over the addresses it covers and the wider one keeps the rest (as a
//!   longest-prefix match would); between two ranges of the same width, the one read first
//!   (earlier file, then earlier line) wins. The result is the same for any order of the
//!   lines within those rules.
//! - Lookups never fail: an address no range covers has no value.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::net::IpAddr;
use std::path::Path;

use flate2::read::MultiGzDecoder;

use super::error::EnrichError;
use super::special::canonical;

/// The longest line accepted, bytes.
pub const MAX_LINE: usize = 64 * 1024;

/// Reads the lines of `input` (plain or gzip, told by the magic bytes; `path` names it in
/// errors), handing each non-blank, non-header line to `each` in file order. The first bad
/// line — or the first `Err` of `each` — ends the reading with one
/// [`EnrichError::BadLine`] that names `columns`, the fields the format expects.
pub fn read_csv(
    path: &Path,
    input: impl Read,
    columns: &'static str,
    mut each: impl FnMut(&str) -> Result<(), String>,
) -> Result<(), EnrichError> {
    let mut plain = BufReader::new(input);
    let gzip = plain.fill_buf().map(|head| head.starts_with(&[0x1f, 0x8b]));
    let gzip = gzip.map_err(|e| EnrichError::Unreadable { path: path.to_path_buf(), reason: e.to_string() })?;
    let mut input: Box<dyn BufRead> =
        if gzip { Box::new(BufReader::new(MultiGzDecoder::new(plain))) } else { Box::new(plain) };
    let mut buf = Vec::new();
    let mut line_no = 0u64;
    loop {
        buf.clear();
        line_no += 1;
        let bad = |reason: String| EnrichError::BadLine { path: path.to_path_buf(), line: line_no, reason, columns };
        let n = input
            .by_ref()
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut buf)
            .map_err(|e| bad(format!("cannot read: {e}")))?;
        if n == 0 {
            return Ok(());
        }
        if buf.len() > MAX_LINE && buf.last() != Some(&b'\n') {
            return Err(bad(format!("longer than {MAX_LINE} bytes")));
        }
        let text = std::str::from_utf8(&buf).map_err(|_| bad("not UTF-8 text".into()))?;
        let text = text.strip_suffix('\n').unwrap_or(text);
        let text = text.strip_suffix('\r').unwrap_or(text);
        if text.is_empty() || (line_no == 1 && text.starts_with("first_ip,")) {
            continue;
        }
        each(text).map_err(bad)?;
    }
}

/// Splits one CSV line into exactly `N` fields (quotes removed, `""` unescaped).
pub fn split_fields<const N: usize>(line: &str) -> Result<[Cow<'_, str>; N], String> {
    let mut fields: Vec<Cow<'_, str>> = Vec::with_capacity(N);
    let mut rest = Some(line);
    while let Some(r) = rest {
        let (field, after) = match r.strip_prefix('"') {
            Some(quoted) => quoted_field(quoted)?,
            None => {
                let (f, after) = match r.split_once(',') {
                    Some((f, after)) => (f, Some(after)),
                    None => (r, None),
                };
                if f.contains('"') {
                    return Err("a quote inside an unquoted field".into());
                }
                (Cow::Borrowed(f), after)
            }
        };
        fields.push(field);
        rest = after;
    }
    let found = fields.len();
    fields.try_into().map_err(|_| format!("{found} fields, expected {N}"))
}

/// A quoted field after its opening quote: the value and what follows its comma, if any.
fn quoted_field(mut q: &str) -> Result<(Cow<'_, str>, Option<&str>), String> {
    let mut owned: Option<String> = None;
    loop {
        let Some((chunk, after)) = q.split_once('"') else {
            return Err("a quoted field is not closed".into());
        };
        if let Some(after_escape) = after.strip_prefix('"') {
            let s = owned.get_or_insert_with(String::new);
            s.push_str(chunk);
            s.push('"');
            q = after_escape;
            continue;
        }
        let value = match owned {
            None => Cow::Borrowed(chunk),
            Some(mut s) => {
                s.push_str(chunk);
                Cow::Owned(s)
            }
        };
        if after.is_empty() {
            return Ok((value, None));
        }
        return match after.strip_prefix(',') {
            Some(next) => Ok((value, Some(next))),
            None => Err("text after a closing quote".into()),
        };
    }
}

/// The first and last address of a line's range: both addresses, of one family, in order.
pub fn parse_span(first: &str, last: &str) -> Result<(IpAddr, IpAddr), String> {
    let first: IpAddr = first.parse().map_err(|_| format!("first_ip {first:?} is not an IP address"))?;
    let last: IpAddr = last.parse().map_err(|_| format!("last_ip {last:?} is not an IP address"))?;
    if first.is_ipv4() != last.is_ipv4() {
        return Err(format!("first_ip {first} and last_ip {last} are not of the same IP version"));
    }
    if last < first {
        return Err(format!("last_ip {last} is before first_ip {first}"));
    }
    Ok((first, last))
}

/// One range of a table: `first..=last` has `value`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span<K, V> {
    pub(crate) first: K,
    pub(crate) last: K,
    pub(crate) value: V,
}

/// A sorted, disjoint range table of both families (module contract).
#[derive(Debug, Clone)]
pub(crate) struct RangeTable<V> {
    v4: Vec<Span<u32, V>>,
    v6: Vec<Span<u128, V>>,
    overlapping: usize,
}

impl<V> Default for RangeTable<V> {
    fn default() -> Self {
        RangeTable { v4: Vec::new(), v6: Vec::new(), overlapping: 0 }
    }
}

impl<V: Copy> RangeTable<V> {
    /// The value of the range holding `ip` (an IPv4-mapped IPv6 address is looked up as its
    /// IPv4 address).
    pub(crate) fn lookup(&self, ip: IpAddr) -> Option<&V> {
        match canonical(ip) {
            IpAddr::V4(a) => find(&self.v4, u32::from(a)),
            IpAddr::V6(a) => find(&self.v6, u128::from(a)),
        }
    }

    /// IPv4 ranges (after overlaps were resolved).
    pub(crate) fn ipv4_ranges(&self) -> usize {
        self.v4.len()
    }

    /// IPv6 ranges (after overlaps were resolved).
    pub(crate) fn ipv6_ranges(&self) -> usize {
        self.v6.len()
    }

    /// Ranges read that begin inside another range (sorted by start), 0 for a clean file.
    pub(crate) fn overlapping(&self) -> usize {
        self.overlapping
    }

    /// Heap memory the ranges hold, bytes.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.v4.capacity() * size_of::<Span<u32, V>>() + self.v6.capacity() * size_of::<Span<u128, V>>()
    }

    /// Every range, IPv4 then IPv6, each family in address order.
    pub(crate) fn ranges(&self) -> impl Iterator<Item = (IpAddr, IpAddr, &V)> {
        let v4 =
            self.v4.iter().map(|s| (IpAddr::from(s.first.to_be_bytes()), IpAddr::from(s.last.to_be_bytes()), &s.value));
        let v6 =
            self.v6.iter().map(|s| (IpAddr::from(s.first.to_be_bytes()), IpAddr::from(s.last.to_be_bytes()), &s.value));
        v4.chain(v6)
    }

    /// Joins neighbouring ranges (one ends where the next begins) of equal value.
    pub(crate) fn merge_adjacent(&mut self)
    where
        V: PartialEq,
    {
        merge(&mut self.v4);
        merge(&mut self.v6);
    }
}

fn merge<K: Key, V: PartialEq>(table: &mut Vec<Span<K, V>>) {
    table.dedup_by(|next, kept| {
        let joins = kept.last != next.first && kept.last.next() == next.first && kept.value == next.value;
        if joins {
            kept.last = next.last;
        }
        joins
    });
    table.shrink_to_fit();
}

/// The range holding `a` in a sorted, disjoint table.
fn find<K: Key, V>(table: &[Span<K, V>], a: K) -> Option<&V> {
    let i = table.partition_point(|r| r.first <= a);
    let r = table.get(i.checked_sub(1)?)?;
    (a <= r.last).then_some(&r.value)
}

/// Address keys of the two families.
/// How a table is built from range CSV files: each file's bytes in turn, then the table.
pub(crate) trait TableLoader: Default {
    /// The table built.
    type Table;
    /// Takes one file's content (`path` names it in errors).
    fn add_bytes(&mut self, path: &Path, bytes: &[u8]) -> Result<(), EnrichError>;
    /// The table of everything added.
    fn finish(self) -> Self::Table;
}

/// Loads and merges CSV files (plain or gzip), in the order given.
pub(crate) fn load_files<L: TableLoader>(paths: &[&Path]) -> Result<L::Table, EnrichError> {
    let mut loader = L::default();
    for path in paths {
        let bytes = std::fs::read(path)
            .map_err(|e| EnrichError::Unreadable { path: path.to_path_buf(), reason: e.to_string() })?;
        loader.add_bytes(path, &bytes)?;
    }
    Ok(loader.finish())
}

/// Loads and merges files whose content is already in memory, in the order given (each
/// path names its content in errors).
pub(crate) fn load_sources<L: TableLoader, P: AsRef<Path>, B: AsRef<[u8]>>(
    sources: &[(P, B)],
) -> Result<L::Table, EnrichError> {
    let mut loader = L::default();
    for (path, bytes) in sources {
        loader.add_bytes(path.as_ref(), bytes.as_ref())?;
    }
    Ok(loader.finish())
}

pub(crate) trait Key: Copy + Ord {
    fn next(self) -> Self;
    fn prev(self) -> Self;
    fn width(first: Self, last: Self) -> u128;
}

impl Key for u32 {
    fn next(self) -> u32 {
        self.saturating_add(1)
    }
    fn prev(self) -> u32 {
        self.saturating_sub(1)
    }
    fn width(first: u32, last: u32) -> u128 {
        u128::from(last.saturating_sub(first))
    }
}

impl Key for u128 {
    fn next(self) -> u128 {
        self.saturating_add(1)
    }
    fn prev(self) -> u128 {
        self.saturating_sub(1)
    }
    fn width(first: u128, last: u128) -> u128 {
        last.saturating_sub(first)
    }
}

/// A range as read, with its reading order for ties.
#[derive(Debug, Clone, Copy)]
struct Read_<K, V> {
    range: Span<K, V>,
    seq: u64,
}

/// Collects ranges in reading order and resolves them into a [`RangeTable`].
#[derive(Debug)]
pub(crate) struct RangeLoader<V> {
    v4: Vec<Read_<u32, V>>,
    v6: Vec<Read_<u128, V>>,
    seq: u64,
}

impl<V> Default for RangeLoader<V> {
    fn default() -> Self {
        RangeLoader { v4: Vec::new(), v6: Vec::new(), seq: 0 }
    }
}

impl<V: Copy> RangeLoader<V> {
    /// Adds `first..=last` (one family, in order: what [`parse_span`] returns) with `value`.
    pub(crate) fn push(&mut self, first: IpAddr, last: IpAddr, value: V) {
        let seq = self.seq;
        self.seq += 1;
        match (first, last) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                self.v4.push(Read_ { range: Span { first: u32::from(a), last: u32::from(b), value }, seq });
            }
            (IpAddr::V6(a), IpAddr::V6(b)) => {
                self.v6.push(Read_ { range: Span { first: u128::from(a), last: u128::from(b), value }, seq });
            }
            // parse_span refuses mixed families.
            _ => {}
        }
    }

    /// The table, overlaps resolved (module contract).
    pub(crate) fn finish(self) -> RangeTable<V> {
        let (v4, o4) = resolve(self.v4);
        let (v6, o6) = resolve(self.v6);
        RangeTable { v4, v6, overlapping: o4 + o6 }
    }
}

/// Sorts the ranges read and makes them disjoint (module contract: the narrower range wins,
/// then the one read first). Returns the table and how many ranges begin inside a range
/// that begins before them (or at the same address).
fn resolve<K: Key, V: Copy>(mut read: Vec<Read_<K, V>>) -> (Vec<Span<K, V>>, usize) {
    read.sort_by_key(|r| (r.range.first, r.range.last, r.seq));
    let mut overlapping = 0usize;
    let mut reach: Option<K> = None;
    for r in &read {
        if reach.is_some_and(|end| r.range.first <= end) {
            overlapping += 1;
        }
        reach = Some(reach.map_or(r.range.last, |end| end.max(r.range.last)));
    }
    if overlapping == 0 {
        let mut table: Vec<Span<K, V>> = read.into_iter().map(|r| r.range).collect();
        table.shrink_to_fit();
        return (table, 0);
    }
    read.sort_by_key(|r| (K::width(r.range.first, r.range.last), r.seq));
    let mut covered: BTreeMap<K, Span<K, V>> = BTreeMap::new();
    for r in &read {
        fill_gaps(&mut covered, r.range);
    }
    let mut table: Vec<Span<K, V>> = covered.into_values().collect();
    table.shrink_to_fit();
    (table, overlapping)
}

/// Adds the parts of `r` that no range already in `covered` holds.
fn fill_gaps<K: Key, V: Copy>(covered: &mut BTreeMap<K, Span<K, V>>, r: Span<K, V>) {
    let mut from = r.first;
    if let Some((_, before)) = covered.range(..r.first).next_back()
        && before.last >= r.first
    {
        if before.last >= r.last {
            return;
        }
        from = before.last.next();
    }
    let inside: Vec<(K, K)> = covered.range(from..=r.last).map(|(&s, c)| (s, c.last)).collect();
    for (start, last) in inside {
        if start > from {
            covered.insert(from, Span { first: from, last: start.prev(), ..r });
        }
        if last >= r.last {
            return;
        }
        from = last.next();
    }
    covered.insert(from, Span { first: from, ..r });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(ranges: &[(&str, &str, u8)]) -> RangeTable<u8> {
        let mut l = RangeLoader::default();
        for (a, b, v) in ranges {
            l.push(a.parse().unwrap(), b.parse().unwrap(), *v);
        }
        l.finish()
    }

    #[test]
    fn split_fields_counts_and_unquotes() {
        let [a, b, c] = split_fields::<3>("1,\"x,\"\"y\"\"\",").unwrap();
        assert_eq!((&*a, &*b, &*c), ("1", "x,\"y\"", ""));
        assert_eq!(split_fields::<3>("1,2").unwrap_err(), "2 fields, expected 3");
        assert_eq!(split_fields::<2>("1,2,3").unwrap_err(), "3 fields, expected 2");
    }

    #[test]
    fn merge_adjacent_joins_only_touching_equal_neighbours() {
        let mut t = table(&[
            ("1.0.0.0", "1.0.0.255", 1),
            ("1.0.1.0", "1.0.1.255", 1),
            ("1.0.2.0", "1.0.2.255", 2),
            ("1.0.4.0", "1.0.4.255", 2),
            ("255.255.255.255", "255.255.255.255", 2),
            ("::", "::1", 3),
            ("::2", "::2", 3),
        ]);
        t.merge_adjacent();
        let ranges: Vec<String> = t.ranges().map(|(a, b, v)| format!("{a}-{b}={v}")).collect();
        assert_eq!(
            ranges,
            [
                "1.0.0.0-1.0.1.255=1",
                "1.0.2.0-1.0.2.255=2",
                "1.0.4.0-1.0.4.255=2",
                "255.255.255.255-255.255.255.255=2",
                "::-::2=3"
            ]
        );
        assert_eq!(t.lookup("1.0.1.7".parse().unwrap()), Some(&1));
        assert_eq!(t.lookup("1.0.3.0".parse().unwrap()), None);
    }
}
