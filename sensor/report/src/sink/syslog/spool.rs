//! The queue of one syslog output: messages wait here, in order, until the collector has
//! accepted them; on disk (durable across restarts) or in memory.
//!
//! On disk, an output's spool is one directory holding:
//! - segment files `NNNNNNNNNNNNNNNNNNNN.seg` (20-digit ascending ids): the 8-octet magic
//!   [`MAGIC`], then records `LEN CHECK MESSAGE`, `LEN` the message's length and `CHECK` its
//!   FNV-1a 32-bit hash, both little-endian `u32`. Segments are only ever appended to; a new
//!   one starts when the current one passes its size limit and at every open.
//! - `acked`: the position (segment id, offset) of the oldest message not yet acknowledged,
//!   as one text line `farhand-spool-ack SEG OFF`, replaced atomically (written to
//!   `acked.tmp`, fsynced, renamed over `acked`, directory fsynced).
//! - `lock`: held with an exclusive file lock while the spool is open, so two processes
//!   never share a spool.
//!
//! # Contract
//! - Messages come out ([`Spool::read`]) in the order they went in ([`Spool::push`]),
//!   those recovered from an earlier run first. A message leaves the spool only through
//!   [`Spool::ack`].
//! - Bounded: the backlog (8 octets of record header plus the message, per message) never
//!   grows past `max_bytes` through `push`; a message that does not fit is refused
//!   (`Ok(false)`), never waited for. A backlog recovered from disk is kept whole even when
//!   it exceeds a smaller new bound.
//! - Opening never panics and never fails on damaged content: a segment is read up to its
//!   first damaged record (short, too long, or failing its check) and truncated there; a
//!   segment without the magic is removed; an unreadable `acked` file means "nothing
//!   acknowledged" (messages may be sent twice, never lost). What was discarded is reported
//!   ([`Recovery`]).
//! - Durability: [`Spool::sync`] fsyncs what was appended and persists the acknowledged
//!   position; between syncs, [`Spool::ack`] hands out a [`Checkpoint`] at most every 250 ms
//!   for the caller to write outside the spool's lock (so a slow fsync never holds up
//!   [`Spool::push`]). A crash can make acknowledged messages be sent again (at least once),
//!   never drop a synced one. The acknowledged position on disk never moves backwards.

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The first eight octets of every segment file.
pub const MAGIC: &[u8; 8] = b"FHSPOOL1";
/// Octets of record header before each message (length and check).
pub const RECORD_HEADER: u64 = 8;
/// The longest message a spool keeps (1 MiB); a longer one is refused.
pub const MAX_MESSAGE: usize = 1 << 20;
/// The default bound of a spool's backlog: 256 MiB.
pub const DEFAULT_MAX_BYTES: u64 = 256 << 20;

const ACK_FILE: &str = "acked";
const ACK_TMP: &str = "acked.tmp";
const LOCK_FILE: &str = "lock";
const ACK_LINE: &str = "farhand-spool-ack";
const ACK_EVERY: Duration = Duration::from_millis(250);

/// What opening a disk spool found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Messages an earlier run left unacknowledged, now queued first.
    pub messages: u64,
    /// Their octets (record headers included).
    pub bytes: u64,
    /// Segments found damaged (truncated at the damage, or removed when not even the magic
    /// was whole).
    pub damaged_segments: u64,
    /// Octets discarded from damaged segments.
    pub discarded_bytes: u64,
}

/// Where a queued message is.
#[derive(Debug)]
enum Slot {
    /// In memory (spool without a directory).
    Mem(Vec<u8>),
    /// In segment `seg`, its record starting at offset `at`.
    Disk { seg: u64, at: u64, len: u32 },
}

impl Slot {
    fn len(&self) -> u64 {
        match self {
            Slot::Mem(m) => m.len() as u64,
            Slot::Disk { len, .. } => u64::from(*len),
        }
    }
}

/// The writer of a spool's `acked` file (shared with its [`Checkpoint`]s).
#[derive(Debug)]
struct AckFile {
    dir: PathBuf,
    /// The position last written.
    written: Option<(u64, u64)>,
}

impl AckFile {
    /// Writes `pos` (temp file, fsync, rename, directory fsync) unless a position as new or
    /// newer is already there.
    fn write(&mut self, pos: (u64, u64)) -> Result<(), String> {
        if self.written.is_some_and(|w| w >= pos) {
            return Ok(());
        }
        let tmp = self.dir.join(ACK_TMP);
        let line = format!("{ACK_LINE} {} {}\n", pos.0, pos.1);
        File::create(&tmp)
            .and_then(|mut f| f.write_all(line.as_bytes()).and_then(|_| f.sync_all()))
            .and_then(|_| fs::rename(&tmp, self.dir.join(ACK_FILE)))
            .map_err(|e| format!("{}: cannot persist acknowledged position: {e}", tmp.display()))?;
        sync_dir(&self.dir)?;
        self.written = Some(pos);
        Ok(())
    }
}

/// An acknowledged position due to be made durable: [`Checkpoint::write`] it without holding
/// the spool, then tell the spool with [`Spool::checkpointed`].
#[derive(Debug)]
#[must_use]
pub struct Checkpoint {
    file: Arc<Mutex<AckFile>>,
    pos: (u64, u64),
}

impl Checkpoint {
    /// Writes the position to the `acked` file; returns it for [`Spool::checkpointed`].
    pub fn write(self) -> Result<(u64, u64), String> {
        self.file.lock().unwrap_or_else(PoisonError::into_inner).write(self.pos)?;
        Ok(self.pos)
    }
}

/// The on-disk side of a spool.
#[derive(Debug)]
struct Disk {
    dir: PathBuf,
    /// Held (locked) while open.
    _lock: File,
    /// Segment ids on disk, ascending (the writer's last).
    segments: VecDeque<u64>,
    writer: File,
    wseg: u64,
    woff: u64,
    seg_limit: u64,
    /// Appended since the last fsync.
    dirty: bool,
    /// Finished segments not fsynced yet.
    unsynced: Vec<File>,
    /// Directory entries changed since the last directory fsync.
    dir_dirty: bool,
    reader: Option<(u64, File)>,
    /// The oldest unacknowledged position, and the one last handed out to be persisted.
    acked: (u64, u64),
    checkpoint: (u64, u64),
    last_checkpoint: Instant,
    ack_file: Arc<Mutex<AckFile>>,
}

/// A bounded FIFO of messages, on disk or in memory (see the module docs).
#[derive(Debug)]
pub struct Spool {
    disk: Option<Disk>,
    slots: VecDeque<Slot>,
    /// Index of the oldest queued message (indices grow by one per push, from 0 at open).
    head: u64,
    bytes: u64,
    max_bytes: u64,
    recovery: Recovery,
}

/// FNV-1a, 32 bits: the record check.
fn check(b: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for &x in b {
        h ^= u32::from(x);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// The little-endian `u32` at `at` of `b`.
fn le32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes(s.try_into().ok()?))
}

/// The records of segment content `buf` from offset `start`: (record offset, message
/// length) of each whole, checked record, and the offset where reading stopped (the end of
/// the last good record; less than `buf.len()` when the rest is damaged).
fn scan(buf: &[u8], start: usize) -> (Vec<(u64, u32)>, usize) {
    let mut at = start;
    let mut out = Vec::new();
    while at < buf.len() {
        let (Some(len), Some(sum)) = (le32(buf, at), le32(buf, at + 4)) else { break };
        if len as usize > MAX_MESSAGE {
            break;
        }
        let body = at + RECORD_HEADER as usize;
        let Some(msg) = buf.get(body..body + len as usize) else { break };
        if check(msg) != sum {
            break;
        }
        out.push((at as u64, len));
        at = body + len as usize;
    }
    (out, at)
}

fn seg_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{id:020}.seg"))
}

/// The segment id of file name `name` (`NNNNNNNNNNNNNNNNNNNN.seg`).
fn seg_id(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".seg")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The position an `acked` file holds, `None` when it is not one.
fn parse_ack(text: &str) -> Option<(u64, u64)> {
    let mut it = text.split_ascii_whitespace();
    if it.next()? != ACK_LINE {
        return None;
    }
    let seg = it.next()?.parse().ok()?;
    let off = it.next()?.parse().ok()?;
    it.next().is_none().then_some((seg, off))
}

fn sync_dir(dir: &Path) -> Result<(), String> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| format!("{}: fsync: {e}", dir.display()))
}

/// Creates segment `id` holding only the magic.
fn create_segment(dir: &Path, id: u64) -> Result<File, String> {
    let path = seg_path(dir, id);
    let mut f = OpenOptions::new()
        .create_new(true)
        .append(true)
        .open(&path)
        .map_err(|e| format!("{}: cannot create segment: {e}", path.display()))?;
    f.write_all(MAGIC).map_err(|e| format!("{}: write: {e}", path.display()))?;
    Ok(f)
}

impl Disk {
    /// Opens (or creates) the spool in `dir`, returning the recovered slots.
    fn open(dir: &Path, max_bytes: u64) -> Result<(Disk, VecDeque<Slot>, Recovery), String> {
        let d = dir.display();
        fs::create_dir_all(dir).map_err(|e| format!("{d}: cannot create spool directory: {e}"))?;
        let lock_path = dir.join(LOCK_FILE);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| format!("{}: {e}", lock_path.display()))?;
        lock.try_lock().map_err(|e| format!("{d}: spool is in use by another process ({e})"))?;
        let acked = match fs::read_to_string(dir.join(ACK_FILE)) {
            Ok(text) => parse_ack(&text).unwrap_or_else(|| {
                tracing::warn!("{d}/{ACK_FILE}: unreadable acknowledged position; resending the whole spool");
                (0, 0)
            }),
            Err(_) => (0, 0),
        };
        let _ = fs::remove_file(dir.join(ACK_TMP));
        let mut ids = Vec::new();
        let entries = fs::read_dir(dir).map_err(|e| format!("{d}: cannot list spool directory: {e}"))?;
        for entry in entries.flatten() {
            if let Some(id) = entry.file_name().to_str().and_then(seg_id) {
                ids.push(id);
            }
        }
        ids.sort_unstable();
        let mut recovery = Recovery::default();
        let mut slots = VecDeque::new();
        let mut segments = VecDeque::new();
        for &id in &ids {
            let path = seg_path(dir, id);
            if id < acked.0 {
                let _ = fs::remove_file(&path);
                continue;
            }
            let buf = fs::read(&path).map_err(|e| format!("{}: cannot read segment: {e}", path.display()))?;
            if buf.get(..MAGIC.len()) != Some(MAGIC.as_slice()) {
                tracing::warn!("{}: not a spool segment (no magic); removed", path.display());
                recovery.damaged_segments += 1;
                recovery.discarded_bytes += buf.len() as u64;
                let _ = fs::remove_file(&path);
                continue;
            }
            let from = if id == acked.0 { acked.1.max(MAGIC.len() as u64) } else { MAGIC.len() as u64 };
            let from = usize::try_from(from).unwrap_or(usize::MAX).min(buf.len());
            let (records, end) = scan(&buf, from);
            if end < buf.len() {
                tracing::warn!("{}: damaged at offset {end}; {} octets discarded", path.display(), buf.len() - end);
                recovery.damaged_segments += 1;
                recovery.discarded_bytes += (buf.len() - end) as u64;
                OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .and_then(|f| f.set_len(end as u64).and_then(|_| f.sync_all()))
                    .map_err(|e| format!("{}: cannot truncate damaged segment: {e}", path.display()))?;
            }
            for (at, len) in records {
                recovery.messages += 1;
                recovery.bytes += RECORD_HEADER + u64::from(len);
                slots.push_back(Slot::Disk { seg: id, at, len });
            }
            segments.push_back(id);
        }
        let wseg = ids.last().copied().unwrap_or(0).max(acked.0) + 1;
        let writer = create_segment(dir, wseg)?;
        segments.push_back(wseg);
        sync_dir(dir)?;
        let woff = MAGIC.len() as u64;
        let acked = match slots.front() {
            Some(Slot::Disk { seg, at, .. }) => (*seg, *at),
            _ => (wseg, woff),
        };
        let disk = Disk {
            dir: dir.to_path_buf(),
            _lock: lock,
            segments,
            writer,
            wseg,
            woff,
            seg_limit: (max_bytes / 8).clamp(64 << 10, 16 << 20),
            dirty: false,
            unsynced: Vec::new(),
            dir_dirty: false,
            reader: None,
            acked,
            checkpoint: (0, 0),
            last_checkpoint: Instant::now(),
            ack_file: Arc::new(Mutex::new(AckFile { dir: dir.to_path_buf(), written: None })),
        };
        Ok((disk, slots, recovery))
    }

    /// Appends `msg` as a record, starting a new segment when the current one is full.
    fn append(&mut self, msg: &[u8], len: u32) -> Result<Slot, String> {
        let size = RECORD_HEADER + u64::from(len);
        if self.woff > MAGIC.len() as u64 && self.woff + size > self.seg_limit {
            let next = self.wseg + 1;
            let old = std::mem::replace(&mut self.writer, create_segment(&self.dir, next)?);
            if self.dirty {
                self.unsynced.push(old);
            }
            self.wseg = next;
            self.woff = MAGIC.len() as u64;
            self.segments.push_back(next);
            self.dir_dirty = true;
        }
        let mut rec = Vec::with_capacity(size as usize);
        rec.extend_from_slice(&len.to_le_bytes());
        rec.extend_from_slice(&check(msg).to_le_bytes());
        rec.extend_from_slice(msg);
        if let Err(e) = self.writer.write_all(&rec) {
            // Take back a partial record so the segment stays readable.
            let _ = self.writer.set_len(self.woff);
            return Err(format!("{}: append: {e}", seg_path(&self.dir, self.wseg).display()));
        }
        let slot = Slot::Disk { seg: self.wseg, at: self.woff, len };
        self.woff += size;
        self.dirty = true;
        Ok(slot)
    }

    /// The message of the record of `len` octets at `at` in segment `seg`, checked.
    fn read(&mut self, seg: u64, at: u64, len: u32) -> Result<Vec<u8>, String> {
        if self.reader.as_ref().map(|r| r.0) != Some(seg) {
            let path = seg_path(&self.dir, seg);
            let f = File::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            self.reader = Some((seg, f));
        }
        let Some((_, f)) = &self.reader else { return Err("spool reader vanished".to_string()) };
        let mut rec = vec![0u8; RECORD_HEADER as usize + len as usize];
        f.read_exact_at(&mut rec, at)
            .map_err(|e| format!("{}: read at {at}: {e}", seg_path(&self.dir, seg).display()))?;
        let (head_len, sum) = (le32(&rec, 0), le32(&rec, 4));
        let msg = rec.split_off(RECORD_HEADER as usize);
        if head_len != Some(len) || sum != Some(check(&msg)) {
            return Err(format!("{}: record at {at} damaged since it was written", seg_path(&self.dir, seg).display()));
        }
        Ok(msg)
    }

    /// Removes the segments wholly before `pos` (persisted as acknowledged).
    fn forget_before(&mut self, pos: (u64, u64)) {
        while let Some(&id) = self.segments.front() {
            if id >= pos.0 || id == self.wseg {
                break;
            }
            self.segments.pop_front();
            if self.reader.as_ref().map(|r| r.0) == Some(id) {
                self.reader = None;
            }
            let _ = fs::remove_file(seg_path(&self.dir, id));
        }
    }

    fn sync(&mut self) -> Result<(), String> {
        for f in self.unsynced.drain(..) {
            f.sync_data().map_err(|e| format!("{}: fsync: {e}", self.dir.display()))?;
        }
        if self.dirty {
            self.writer.sync_data().map_err(|e| format!("{}: fsync: {e}", seg_path(&self.dir, self.wseg).display()))?;
            self.dirty = false;
        }
        if self.dir_dirty {
            sync_dir(&self.dir)?;
            self.dir_dirty = false;
        }
        let pos = self.acked;
        self.ack_file.lock().unwrap_or_else(PoisonError::into_inner).write(pos)?;
        self.checkpoint = pos;
        self.last_checkpoint = Instant::now();
        self.forget_before(pos);
        Ok(())
    }
}

impl Spool {
    /// Opens a spool bounded to `max_bytes` of backlog: on disk in `dir` (created when
    /// missing; what an earlier run left is recovered and queued first), or in memory when
    /// `dir` is `None`.
    pub fn open(dir: Option<&Path>, max_bytes: u64) -> Result<Spool, String> {
        let (disk, slots, recovery) = match dir {
            Some(dir) => {
                let (disk, slots, recovery) = Disk::open(dir, max_bytes)?;
                (Some(disk), slots, recovery)
            }
            None => (None, VecDeque::new(), Recovery::default()),
        };
        let bytes = slots.iter().map(|s| RECORD_HEADER + s.len()).sum();
        Ok(Spool { disk, slots, head: 0, bytes, max_bytes, recovery })
    }

    /// Queues `msg`: `Ok(true)` when queued, `Ok(false)` when refused because it does not
    /// fit the bound (or is longer than [`MAX_MESSAGE`]); `Err` when the disk refused it
    /// (the message is not queued).
    pub fn push(&mut self, msg: &[u8]) -> Result<bool, String> {
        let Some(len) = u32::try_from(msg.len()).ok().filter(|&l| l as usize <= MAX_MESSAGE) else {
            return Ok(false);
        };
        let size = RECORD_HEADER + u64::from(len);
        if self.bytes.saturating_add(size) > self.max_bytes {
            return Ok(false);
        }
        let slot = match &mut self.disk {
            None => Slot::Mem(msg.to_vec()),
            Some(d) => d.append(msg, len)?,
        };
        self.slots.push_back(slot);
        self.bytes += size;
        Ok(true)
    }

    /// Up to `max_msgs` messages (and about `max_bytes` octets, at least one message) from
    /// index `from` on, with their indices. A message that cannot be read back from disk is
    /// returned as an `Err` in its place (the caller acknowledges it to move past it).
    pub fn read(&mut self, from: u64, max_msgs: usize, max_bytes: usize) -> Vec<(u64, Result<Vec<u8>, String>)> {
        let from = from.max(self.head);
        let skip = usize::try_from(from - self.head).unwrap_or(usize::MAX);
        let mut out = Vec::new();
        let mut total = 0usize;
        let Spool { slots, disk, .. } = self;
        for (i, slot) in slots.iter().enumerate().skip(skip) {
            if out.len() >= max_msgs || (total >= max_bytes && !out.is_empty()) {
                break;
            }
            let msg = match (slot, disk.as_mut()) {
                (Slot::Mem(m), _) => Ok(m.clone()),
                (Slot::Disk { seg, at, len }, Some(d)) => d.read(*seg, *at, *len),
                (Slot::Disk { .. }, None) => Err("disk slot in a memory spool".to_string()),
            };
            total += msg.as_ref().map_or(0, Vec::len);
            out.push((from - skip as u64 + i as u64, msg));
        }
        out
    }

    /// Removes every message of index below `end` (they were delivered). On disk, when the
    /// last checkpoint is 250 ms old or more, returns the new acknowledged position to be
    /// written ([`Checkpoint::write`], outside the lock of the spool).
    pub fn ack(&mut self, end: u64) -> Option<Checkpoint> {
        let n = end.saturating_sub(self.head).min(self.slots.len() as u64);
        for _ in 0..n {
            if let Some(s) = self.slots.pop_front() {
                self.bytes = self.bytes.saturating_sub(RECORD_HEADER + s.len());
            }
        }
        self.head += n;
        if let Some(d) = &mut self.disk {
            d.acked = match self.slots.front() {
                Some(Slot::Disk { seg, at, .. }) => (*seg, *at),
                _ => (d.wseg, d.woff),
            };
            if d.acked != d.checkpoint && d.last_checkpoint.elapsed() >= ACK_EVERY {
                d.checkpoint = d.acked;
                d.last_checkpoint = Instant::now();
                return Some(Checkpoint { file: d.ack_file.clone(), pos: d.acked });
            }
        }
        None
    }

    /// Takes note that `pos` (from a [`Checkpoint`]) is on disk: the segments before it are
    /// removed.
    pub fn checkpointed(&mut self, pos: (u64, u64)) {
        if let Some(d) = &mut self.disk {
            d.forget_before(pos);
        }
    }

    /// Makes the spool durable: fsyncs appended records and persists the acknowledged
    /// position. Nothing to do in memory.
    pub fn sync(&mut self) -> Result<(), String> {
        match &mut self.disk {
            Some(d) => d.sync(),
            None => Ok(()),
        }
    }

    /// Index of the oldest queued message.
    pub fn head(&self) -> u64 {
        self.head
    }

    /// Index the next pushed message gets.
    pub fn tail(&self) -> u64 {
        self.head + self.slots.len() as u64
    }

    /// Messages queued.
    pub fn len(&self) -> u64 {
        self.slots.len() as u64
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Octets queued (record headers included).
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// What opening found on disk.
    pub fn recovery(&self) -> Recovery {
        self.recovery
    }

    /// The spool's directory (`None` in memory).
    pub fn dir(&self) -> Option<&Path> {
        self.disk.as_ref().map(|d| d.dir.as_path())
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        if let Err(e) = self.sync() {
            tracing::warn!("{e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msgs(n: usize) -> Vec<Vec<u8>> {
        (0..n).map(|i| format!("message {i} {}", "x".repeat(i % 37)).into_bytes()).collect()
    }

    fn drain_all(s: &mut Spool) -> Vec<Vec<u8>> {
        let got: Vec<_> = s.read(0, usize::MAX, usize::MAX).into_iter().map(|(_, m)| m.unwrap()).collect();
        got
    }

    #[test]
    fn memory_spool_is_fifo_and_bounded() {
        let mut s = Spool::open(None, 100).unwrap();
        assert!(s.push(b"0123456789").unwrap()); // 18 octets with the header
        assert!(s.push(&[7u8; 70]).unwrap()); // 78: 96 in all
        assert!(!s.push(b"ab").unwrap(), "98 > 100? no: 96 + 10 = 106 > 100");
        assert_eq!((s.len(), s.bytes()), (2, 96));
        let got = s.read(0, 10, 1 << 20);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].0, 0);
        assert_eq!(got[1].0, 1);
        let _ = s.ack(1);
        assert_eq!((s.head(), s.len(), s.bytes()), (1, 1, 78));
        assert!(s.push(b"ab").unwrap());
        assert_eq!(s.read(1, 10, 1 << 20).len(), 2);
        assert_eq!(s.read(2, 10, 1 << 20)[0].1.as_deref().unwrap(), b"ab");
        assert!(!s.push(&vec![0u8; MAX_MESSAGE + 1]).unwrap());
    }

    #[test]
    fn disk_spool_survives_reopen_and_acks_persist() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out");
        let all = msgs(50);
        {
            let mut s = Spool::open(Some(&p), 1 << 20).unwrap();
            for m in &all {
                assert!(s.push(m).unwrap());
            }
            let _ = s.ack(20);
            s.sync().unwrap();
        }
        let mut s = Spool::open(Some(&p), 1 << 20).unwrap();
        assert_eq!(s.recovery().messages, 30);
        assert_eq!(s.recovery().damaged_segments, 0);
        assert!(s.push(b"newer").unwrap());
        let got = drain_all(&mut s);
        assert_eq!(got.len(), 31);
        assert_eq!(&got[..30], &all[20..]);
        assert_eq!(got[30], b"newer");
        let _ = s.ack(s.tail());
        s.sync().unwrap();
        drop(s);
        let s = Spool::open(Some(&p), 1 << 20).unwrap();
        assert!(s.is_empty());
        // Old segments are removed once passed: only the new writer segment and at most one
        // more remain.
        let segs =
            fs::read_dir(&p).unwrap().filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "seg"));
        assert!(segs.count() <= 2);
    }

    #[test]
    fn segments_roll_and_are_removed_when_acked() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out");
        let mut s = Spool::open(Some(&p), 1 << 20).unwrap(); // 128 KiB segments (the minimum 64 KiB)
        let big = vec![b'z'; 4000];
        for _ in 0..100 {
            assert!(s.push(&big).unwrap());
        }
        let count = || {
            fs::read_dir(&p)
                .unwrap()
                .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "seg"))
                .count()
        };
        assert!(count() >= 3, "{}", count());
        let _ = s.ack(100);
        s.sync().unwrap();
        assert_eq!(count(), 1);
    }

    #[test]
    fn a_second_open_of_the_same_spool_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let _a = Spool::open(Some(dir.path()), 1 << 20).unwrap();
        let e = Spool::open(Some(dir.path()), 1 << 20).unwrap_err();
        assert!(e.contains("in use"), "{e}");
    }

    /// Writes `all` to a fresh spool in `p` and returns its one data segment's path.
    fn written(p: &Path, all: &[Vec<u8>]) -> PathBuf {
        let mut s = Spool::open(Some(p), 1 << 20).unwrap();
        for m in all {
            assert!(s.push(m).unwrap());
        }
        s.sync().unwrap();
        let seg = seg_path(p, s.disk.as_ref().unwrap().wseg);
        drop(s);
        seg
    }

    /// Reopens `p` and checks that what comes out is a prefix of `all`, at least the
    /// records wholly before offset `damage`.
    fn recovered_prefix(p: &Path, all: &[Vec<u8>], damage: usize) -> usize {
        let mut s = Spool::open(Some(p), 1 << 20).unwrap();
        let got = drain_all(&mut s);
        assert!(got.len() <= all.len());
        assert_eq!(&got[..], &all[..got.len()], "damage at {damage}: recovered a prefix");
        let mut end = MAGIC.len();
        let mut whole = 0;
        for m in all {
            end += RECORD_HEADER as usize + m.len();
            if end <= damage {
                whole += 1;
            }
        }
        assert!(got.len() >= whole, "damage at {damage}: {} < {whole}", got.len());
        got.len()
    }

    #[test]
    fn truncation_sweep_recovers_up_to_the_cut() {
        let all = msgs(7);
        let dir = tempfile::tempdir().unwrap();
        let master = dir.path().join("master");
        let seg = written(&master, &all);
        let bytes = fs::read(&seg).unwrap();
        for cut in 0..=bytes.len() {
            let p = dir.path().join(format!("cut{cut}"));
            fs::create_dir(&p).unwrap();
            fs::write(p.join(seg.file_name().unwrap()), &bytes[..cut]).unwrap();
            let n = recovered_prefix(&p, &all, cut);
            let mut end = MAGIC.len();
            let exact = all.iter().take_while(|m| {
                end += RECORD_HEADER as usize + m.len();
                end <= cut
            });
            assert_eq!(n, exact.count(), "cut at {cut}");
            // Reopening the repaired spool gives the same.
            let again = recovered_prefix(&p, &all, cut);
            assert_eq!(again, n);
            fs::remove_dir_all(&p).unwrap();
        }
    }

    #[test]
    fn corruption_at_random_bytes_recovers_up_to_the_damage() {
        let all = msgs(12);
        let dir = tempfile::tempdir().unwrap();
        let seg = written(&dir.path().join("master"), &all);
        let bytes = fs::read(&seg).unwrap();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for round in 0..300 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let at = (x % bytes.len() as u64) as usize;
            let mut bad = bytes.clone();
            bad[at] ^= (x >> 32) as u8 | 1;
            let p = dir.path().join(format!("r{round}"));
            fs::create_dir(&p).unwrap();
            fs::write(p.join(seg.file_name().unwrap()), &bad).unwrap();
            let n = recovered_prefix(&p, &all, at);
            assert!(n < all.len(), "flipped byte {at} went unnoticed");
            fs::remove_dir_all(&p).unwrap();
        }
    }

    #[test]
    fn a_garbage_ack_file_resends_everything() {
        let all = msgs(5);
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s");
        written(&p, &all);
        fs::write(p.join(ACK_FILE), b"\xff\xfe garbage 1 2 3").unwrap();
        let mut s = Spool::open(Some(&p), 1 << 20).unwrap();
        assert_eq!(drain_all(&mut s), all);
        assert_eq!(parse_ack("farhand-spool-ack 3 99\n"), Some((3, 99)));
        assert_eq!(parse_ack("farhand-spool-ack 3"), None);
        assert_eq!(parse_ack("farhand-spool-ack 3 4 5"), None);
        assert_eq!(seg_id("00000000000000000042.seg"), Some(42));
        assert_eq!(seg_id("42.seg"), None);
    }
}
