//! The report directory's `manifest.json`: every file's size and SHA-256, and the SHA-256 of
//! the previous report's manifest, so a series of reports forms a chain.
//!
//! # Contract
//! - [`Manifest`] is `{"format": 1, "generated": RFC 3339, "period": {"from", "to"},
//!   "files": [{"name", "size", "sha256"}…] sorted by name, "previous": hex | null}`; the
//!   manifest never lists itself.
//! - [`write_atomic`] writes a file beside its final name (`.<name>.tmp`), syncs it and
//!   renames it into place: a reader sees the old file or the new one, never half of one.
//! - [`verify`] checks directories in chronological order and stops at the FIRST broken link,
//!   naming it: `<dir>/manifest.json: missing` or `…: not a farhand manifest: …` (garbage,
//!   truncation, a name that is not a plain file name, a duplicate); `<dir>/manifest.json:
//!   previous does not match <prevdir>/manifest.json`; `<dir>/<file>: missing`;
//!   `<dir>/<file>: SHA-256 mismatch` (with the sizes when they differ too); `<dir>/<file>:
//!   not in the manifest`. It reads only files the manifest names inside the directory
//!   (never a path outside it) and never panics.
//! - What the chain proves: an edit anywhere but the newest manifest breaks a hash. The newest
//!   manifest is only as safe as the place its SHA-256 is recorded (the writer's summary, a
//!   log, the next report): [`VerifySummary::last_manifest_sha256`] is there to compare.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// The manifest's file name.
pub const MANIFEST: &str = "manifest.json";
/// The manifest format this code writes and reads.
pub const FORMAT: u32 = 1;
/// The largest manifest [`verify`] reads (a real one is well under 2 kB).
const MAX_MANIFEST: u64 = 1 << 20;

/// The period a report covers, RFC 3339 UTC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestPeriod {
    /// Start (inclusive).
    pub from: String,
    /// End (exclusive).
    pub to: String,
}

/// One file of the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestFile {
    /// Its name in the report directory (a plain file name).
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its SHA-256, lower-case hex.
    pub sha256: String,
}

/// A report directory's manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: u32,
    /// When the report was written, RFC 3339 UTC.
    pub generated: String,
    /// The period the report covers.
    pub period: ManifestPeriod,
    /// The report's files (not the manifest), sorted by name.
    pub files: Vec<ManifestFile>,
    /// The SHA-256 (hex) of the previous report's `manifest.json`, `None` for the first.
    pub previous: Option<String>,
}

/// What [`verify`] checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifySummary {
    /// Directories checked.
    pub dirs: usize,
    /// Files checked (manifests not counted).
    pub files: usize,
    /// Bytes hashed (manifests not counted).
    pub bytes: u64,
    /// The first directory's `previous` (a link to a report before the chain checked).
    pub first_previous: Option<String>,
    /// SHA-256 of the newest manifest: compare it with the one recorded when it was written.
    pub last_manifest_sha256: String,
}

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS.get(usize::from(b >> 4)).copied().unwrap_or(b'0')));
        s.push(char::from(DIGITS.get(usize::from(b & 15)).copied().unwrap_or(b'0')));
    }
    s
}

/// SHA-256 of `bytes`, hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// SHA-256 and size of the file at `path`, streamed.
fn hash_file(path: &Path) -> std::io::Result<(String, u64)> {
    let mut f = File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(buf.get(..n).unwrap_or_default());
        size += n as u64;
    }
    Ok((hex(&h.finalize()), size))
}

/// Whether `name` is a plain file name (no separator, not `.`/`..`, not empty).
pub(crate) fn plain_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\\', '\0'])
}

/// The temporary name [`write_atomic`] uses for `name`.
pub(crate) fn temp_name(name: &str) -> String {
    format!(".{name}.tmp")
}

/// Writes `bytes` to `dir/name` atomically (temporary file, sync, rename). Err is
/// `"<path>: <what went wrong>"`.
pub fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), String> {
    let tmp = dir.join(temp_name(name));
    let path = dir.join(name);
    let write = || -> std::io::Result<()> {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()
    };
    if let Err(e) = write() {
        let _ = std::fs::remove_file(&tmp);
        return Err(format!("{}: {e}", tmp.display()));
    }
    std::fs::rename(&tmp, &path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("{}: {e}", path.display())
    })
}

/// Syncs the directory itself, so renames in it survive a crash (best effort).
pub(crate) fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Reads and parses `dir/manifest.json`; returns it with the SHA-256 of its bytes.
pub fn read_manifest(dir: &Path) -> Result<(Manifest, String), String> {
    let path = dir.join(MANIFEST);
    let shown = path.display();
    let f = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(format!("{shown}: missing")),
        Err(e) => return Err(format!("{shown}: {e}")),
    };
    let mut bytes = Vec::new();
    f.take(MAX_MANIFEST + 1).read_to_end(&mut bytes).map_err(|e| format!("{shown}: {e}"))?;
    if bytes.len() as u64 > MAX_MANIFEST {
        return Err(format!("{shown}: not a farhand manifest: larger than {MAX_MANIFEST} bytes"));
    }
    let m: Manifest = serde_json::from_slice(&bytes).map_err(|e| format!("{shown}: not a farhand manifest: {e}"))?;
    if m.format != FORMAT {
        return Err(format!("{shown}: not a farhand manifest: format {} (this farhand reads {FORMAT})", m.format));
    }
    let mut names = BTreeSet::new();
    for f in &m.files {
        if !plain_name(&f.name) || f.name == MANIFEST {
            return Err(format!("{shown}: not a farhand manifest: {:?} is not a report file name", f.name));
        }
        if !names.insert(f.name.as_str()) {
            return Err(format!("{shown}: not a farhand manifest: {:?} listed twice", f.name));
        }
    }
    if let Some(p) = &m.previous
        && (p.len() != 64 || !p.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        return Err(format!("{shown}: not a farhand manifest: previous is not a SHA-256"));
    }
    Ok((m, sha256_hex(&bytes)))
}

/// Checks one directory against its manifest: every listed file's size and SHA-256, then that
/// nothing else is there. Returns (files, bytes).
fn verify_files(dir: &Path, m: &Manifest) -> Result<(usize, u64), String> {
    let mut bytes = 0u64;
    for f in &m.files {
        let path = dir.join(&f.name);
        let (sha, size) = match hash_file(&path) {
            Ok(x) => x,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(format!("{}: missing", path.display()));
            }
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        if !sha.eq_ignore_ascii_case(&f.sha256) {
            let sizes =
                if size != f.size { format!(" ({size} bytes, the manifest says {})", f.size) } else { String::new() };
            return Err(format!("{}: SHA-256 mismatch{sizes}", path.display()));
        }
        if size != f.size {
            return Err(format!("{}: size {size} bytes, the manifest says {}", path.display(), f.size));
        }
        bytes += size;
    }
    let listed: BTreeSet<&str> = m.files.iter().map(|f| f.name.as_str()).collect();
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut extra = Vec::new();
    for e in entries {
        let e = e.map_err(|e| format!("{}: {e}", dir.display()))?;
        let name = e.file_name().to_string_lossy().into_owned();
        if name != MANIFEST && !listed.contains(name.as_str()) {
            extra.push(name);
        }
    }
    extra.sort();
    if let Some(name) = extra.first() {
        return Err(format!("{}: not in the manifest", dir.join(name).display()));
    }
    Ok((m.files.len(), bytes))
}

/// Checks a chain of report directories, oldest first (see the module contract for the
/// errors). An empty list is an error.
pub fn verify(dirs: &[PathBuf]) -> Result<VerifySummary, String> {
    let mut summary =
        VerifySummary { dirs: 0, files: 0, bytes: 0, first_previous: None, last_manifest_sha256: String::new() };
    let mut prev: Option<(&PathBuf, String)> = None;
    for dir in dirs {
        let (m, sha) = read_manifest(dir)?;
        match &prev {
            None => summary.first_previous = m.previous.clone(),
            Some((pdir, psha)) => {
                if !m.previous.as_deref().is_some_and(|p| p.eq_ignore_ascii_case(psha)) {
                    return Err(format!(
                        "{}: previous does not match {}",
                        dir.join(MANIFEST).display(),
                        pdir.join(MANIFEST).display()
                    ));
                }
            }
        }
        let (files, bytes) = verify_files(dir, &m)?;
        summary.dirs += 1;
        summary.files += files;
        summary.bytes += bytes;
        summary.last_manifest_sha256 = sha.clone();
        prev = Some((dir, sha));
    }
    if summary.dirs == 0 {
        return Err("no report directories to verify".to_string());
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_and_sha256() {
        assert_eq!(hex(&[0, 1, 0xab, 0xff]), "0001abff");
        // FIPS 180-2 test vector.
        assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn plain_names_only() {
        assert!(plain_name("report.html"));
        for bad in ["", ".", "..", "../x", "/etc/passwd", "a/b", "a\\b"] {
            assert!(!plain_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn atomic_write_replaces() {
        let d = tempfile::tempdir().unwrap();
        write_atomic(d.path(), "x.txt", b"one").unwrap();
        write_atomic(d.path(), "x.txt", b"two").unwrap();
        assert_eq!(std::fs::read(d.path().join("x.txt")).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1, "no temporary file left");
        let e = write_atomic(&d.path().join("nope"), "x.txt", b"").unwrap_err();
        assert!(e.contains("nope/.x.txt.tmp: "), "{e}");
    }
}
