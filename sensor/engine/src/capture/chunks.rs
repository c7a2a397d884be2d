//! The byte layer of farhand's own file readers (`pcapfile.rs`, `pcapng.rs`): the file read
//! in large chunks into a buffer the workers may share, records parsed where they lie.
//!
//! # Contract
//! - [`Chunks::ensure`] makes the next `need` unread bytes contiguous in the buffer
//!   ([`Chunks::unread`]), reading the file as needed; `Ok(false)` when the file ends first
//!   (then [`Chunks::partial`] tells whether some bytes were left over: a record cut short).
//!   The buffer grows past [`CHUNK`] only for a record larger than that. One copy from the
//!   page cache, no per-record allocation, no `unsafe`, and no SIGBUS when the file is
//!   truncated under the sensor (what a memory map would risk).
//! - A buffer is written only while nobody else holds it. When more bytes are due and a
//!   worker still holds the current buffer (through a frame's [`super::Shared`]), reading goes
//!   on in a spare buffer nobody holds any more (or a new one), the unread bytes carried to
//!   its front. With nobody else holding it, the same buffer is refilled in place.
//! - Offsets into the buffer ([`Chunks::pos`]) stay valid until the next `ensure`.
//! - [`Chunks::position`] is the bytes of the file consumed ([`Chunks::consume`]).

use super::{CaptureError, SharedBuffer};
use std::fs::File;
use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

/// Bytes read from the file at a time: small enough that a record's bytes are still in the
/// core's cache when it is walked and decoded.
pub const CHUNK: usize = 256 << 10;
/// Buffers kept for reuse once the workers let go of them.
const SPARE_BUFFERS: usize = 64;

/// A file read in chunks.
pub struct Chunks {
    file: File,
    path: PathBuf,
    /// The buffer being read (shared with the workers that hold frames of it).
    buf: SharedBuffer,
    /// Buffers read earlier, to refill once nobody holds them.
    spare: Vec<SharedBuffer>,
    /// The first unread byte in `buf`.
    pos: usize,
    /// The end of the valid bytes in `buf`.
    have: usize,
    /// The file has no more bytes.
    eof: bool,
    /// Bytes of the file consumed before `buf[0]`.
    base: u64,
}

impl Chunks {
    /// Reads `file` from its current offset, `consumed` bytes into it.
    pub fn new(file: File, path: PathBuf, consumed: u64) -> Chunks {
        Chunks {
            file,
            path,
            buf: SharedBuffer::new(vec![0; CHUNK]),
            spare: Vec::new(),
            pos: 0,
            have: 0,
            eof: false,
            base: consumed,
        }
    }

    /// The buffer (frames are shared as references into it).
    pub fn buffer(&self) -> &SharedBuffer {
        &self.buf
    }

    /// Where the unread bytes start in [`buffer`](Chunks::buffer).
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// The unread bytes in the buffer.
    pub fn unread(&self) -> &[u8] {
        self.buf.get(self.pos..self.have).unwrap_or_default()
    }

    /// Bytes of the file consumed.
    pub fn position(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// Whether bytes are left unread (at the end of the file: a record cut short).
    pub fn partial(&self) -> bool {
        self.have > self.pos
    }

    /// Marks `n` unread bytes consumed (at most what is unread).
    pub fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.have);
    }

    /// Makes `need` unread bytes valid in the buffer if the file has them; whether it did.
    pub fn ensure(&mut self, need: usize) -> Result<bool, CaptureError> {
        while self.have - self.pos < need {
            if self.eof || self.writable(need).is_none() {
                return Ok(false);
            }
            let have = self.have;
            let Some(room) = Arc::get_mut(&mut self.buf).and_then(|b| b.get_mut(have..)) else { return Ok(false) };
            match self.file.read(room) {
                Ok(0) => self.eof = true,
                Ok(n) => self.have += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(CaptureError::Read {
                        source_name: self.path.display().to_string(),
                        msg: e.to_string(),
                    });
                }
            }
        }
        Ok(true)
    }

    /// The buffer, writable, with the unread bytes at its front and room for `need` of them
    /// (see the module's contract).
    fn writable(&mut self, need: usize) -> Option<()> {
        if Arc::get_mut(&mut self.buf).is_none() {
            let size = need.max(CHUNK);
            let free = self.spare.iter().position(|b| Arc::strong_count(b) == 1);
            let mut next = match free {
                Some(i) => self.spare.swap_remove(i),
                None => SharedBuffer::new(vec![0; size]),
            };
            let unread = self.buf.get(self.pos..self.have)?;
            let to = Arc::get_mut(&mut next)?;
            if to.len() < size {
                to.resize(size, 0);
            }
            to.get_mut(..unread.len())?.copy_from_slice(unread);
            let held = std::mem::replace(&mut self.buf, next);
            if self.spare.len() < SPARE_BUFFERS {
                self.spare.push(held);
            }
            self.unread_moved_to_front();
        } else if self.pos > 0 {
            let (pos, have) = (self.pos, self.have);
            Arc::get_mut(&mut self.buf)?.copy_within(pos..have, 0);
            self.unread_moved_to_front();
        }
        let buf = Arc::get_mut(&mut self.buf)?;
        if buf.len() < need {
            buf.resize(need, 0);
        }
        Some(())
    }

    /// Book-keeping once the unread bytes moved to the buffer's front.
    fn unread_moved_to_front(&mut self) {
        self.base += self.pos as u64;
        self.have -= self.pos;
        self.pos = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_buffer_is_never_written_and_a_free_spare_is_reused() {
        let bytes: Vec<u8> = (0..4 * CHUNK).map(|i| (i % 251) as u8).collect();
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), &bytes).unwrap();
        let mut c = Chunks::new(File::open(f.path()).unwrap(), f.path().to_path_buf(), 0);
        let ptr = |c: &Chunks| Arc::as_ptr(c.buffer());

        assert!(c.ensure(CHUNK).unwrap());
        let b0 = ptr(&c);
        let held = c.buffer().clone();
        c.consume(CHUNK);
        assert!(c.ensure(CHUNK).unwrap());
        let b1 = ptr(&c);
        assert_ne!(b0, b1, "a held buffer is not refilled");
        assert_eq!(held.get(..CHUNK), bytes.get(..CHUNK), "and its bytes stay as they were");
        assert_eq!(c.unread().get(..CHUNK), bytes.get(CHUNK..2 * CHUNK));
        assert_eq!(c.position(), CHUNK as u64);
        drop(held);

        // Nobody holds the current buffer: refilled in place.
        c.consume(CHUNK);
        assert!(c.ensure(CHUNK).unwrap());
        assert_eq!(ptr(&c), b1);
        assert_eq!(c.unread().get(..CHUNK), bytes.get(2 * CHUNK..3 * CHUNK));

        // Held again: the spare nobody holds any more (the first buffer) takes over.
        let held = c.buffer().clone();
        c.consume(CHUNK - 3);
        assert!(c.ensure(CHUNK).unwrap());
        assert_eq!(ptr(&c), b0, "the free spare is reused");
        assert_eq!(c.unread().get(..CHUNK), bytes.get(3 * CHUNK - 3..4 * CHUNK - 3), "the unread bytes carried over");
        drop(held);

        // The end of the file: what is left, then nothing; a record cut short is partial.
        c.consume(CHUNK);
        assert!(!c.ensure(4).unwrap());
        assert!(c.partial());
        assert_eq!(c.unread(), bytes.get(4 * CHUNK - 3..).unwrap());
        c.consume(3);
        assert!(!c.ensure(1).unwrap());
        assert!(!c.partial());
        assert_eq!(c.position(), bytes.len() as u64);
    }
}
