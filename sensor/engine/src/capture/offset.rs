//! Where libpcap is in an offline file: the offset of the descriptor it reads the file through.
//!
//! libpcap reads files through stdio, and the `pcap` crate exposes neither the stream nor its
//! descriptor for an offline capture (and this workspace has no `unsafe`). Linux shows both
//! without either: `/proc/self/fd/N` links to the file descriptor `N` has open, and
//! `/proc/self/fdinfo/N` holds its offset (`pos:`). [`FileOffset::around`] runs the open call
//! and finds the one descriptor on the file that appeared during it; [`FileOffset::position`]
//! reads that descriptor's offset.
//!
//! The offset is where stdio has read up to, so it runs ahead of the last frame libpcap
//! handed out by at most stdio's buffer, and it is the file's size once libpcap reached the
//! end: right for a progress bar, whatever the file's format.
//!
//! When the descriptor cannot be told apart (no /proc, the file opened twice during the call
//! by someone else, a link that does not name the file) there is no `FileOffset`, and the
//! caller falls back (see `libpcap.rs`). Opens through `around` are serialised within the
//! process, so two captures of the same file opened at once (parallel tests) cannot take each
//! other's descriptor.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Serialises [`FileOffset::around`] within the process.
static OPENING: Mutex<()> = Mutex::new(());

/// The descriptor a capture reads its file through, by its /proc/self/fdinfo entry.
#[derive(Debug)]
pub(crate) struct FileOffset {
    fdinfo: PathBuf,
}

impl FileOffset {
    /// Runs `open`, which opens `path` and keeps it open, and finds the descriptor it left on
    /// the file: exactly one descriptor on `path` that was not there before, or none found.
    pub(crate) fn around<T>(path: &Path, open: impl FnOnce() -> T) -> (T, Option<FileOffset>) {
        let _one_at_a_time = OPENING.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let Ok(file) = std::fs::canonicalize(path) else { return (open(), None) };
        let before = descriptors_on(&file);
        let opened = open();
        let (Some(before), Some(after)) = (before, descriptors_on(&file)) else { return (opened, None) };
        let mut new = after.difference(&before);
        let found = match (new.next(), new.next()) {
            (Some(fd), None) => Some(FileOffset { fdinfo: PathBuf::from(format!("/proc/self/fdinfo/{fd}")) }),
            _ => None,
        };
        (opened, found)
    }

    /// The descriptor's offset in bytes, or `None` if it cannot be read.
    pub(crate) fn position(&self) -> Option<u64> {
        let info = std::fs::read_to_string(&self.fdinfo).ok()?;
        pos_of(&info)
    }
}

/// The descriptors of this process whose /proc link names `file` (canonical); `None` without
/// /proc.
fn descriptors_on(file: &Path) -> Option<HashSet<u32>> {
    let dir = std::fs::read_dir("/proc/self/fd").ok()?;
    let mut out = HashSet::new();
    for entry in dir.flatten() {
        let Some(fd) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        if std::fs::read_link(entry.path()).is_ok_and(|target| target == file) {
            out.insert(fd);
        }
    }
    Some(out)
}

/// The `pos:` field of an fdinfo text.
fn pos_of(info: &str) -> Option<u64> {
    info.lines().find_map(|l| l.strip_prefix("pos:")).and_then(|v| v.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pos_is_read_from_fdinfo_text() {
        assert_eq!(pos_of("pos:\t4096\nflags:\t0100000\nmnt_id:\t29\nino:\t123\n"), Some(4096));
        assert_eq!(pos_of("flags:\t02\npos:\t0\n"), Some(0));
        assert_eq!(pos_of("flags:\t02\n"), None);
        assert_eq!(pos_of("pos:\tlots\n"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn finds_the_descriptor_an_open_left_and_follows_its_offset() {
        use std::io::Read;
        let dir = std::env::temp_dir().join(format!("farhand-offset-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("ten-kib");
        std::fs::write(&path, vec![7u8; 10_240]).unwrap();
        let (file, off) = FileOffset::around(&path, || std::fs::File::open(&path));
        let (mut file, off) = (file.unwrap(), off.expect("the one new descriptor on the file"));
        assert_eq!(off.position(), Some(0));
        let mut buf = [0u8; 1000];
        file.read_exact(&mut buf).unwrap();
        assert_eq!(off.position(), Some(1000));
        // An open that leaves nothing open on the file: no descriptor to follow.
        let (_, none) = FileOffset::around(&path, || std::fs::read(&path));
        assert!(none.is_none());
        drop(file);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
