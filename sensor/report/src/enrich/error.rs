//! The one error of enrichment: a database that cannot be used, said in one line.
//!
//! # Contract
//! Every variant names the file and what is wrong with it; `Display` is a single line that
//! an operator can act on without reading code (`farhand --check-config` prints it as is).

use std::fmt;
use std::path::PathBuf;

/// A database that cannot be opened or loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnrichError {
    /// The file cannot be read (missing, unreadable, a directory, …).
    Unreadable {
        /// The file.
        path: PathBuf,
        /// The system's reason.
        reason: String,
    },
    /// The file is not a MaxMind DB: no metadata section (another format, or truncated).
    NotMmdb {
        /// The file.
        path: PathBuf,
    },
    /// A MaxMind DB whose structure or metadata is damaged.
    CorruptMmdb {
        /// The file.
        path: PathBuf,
        /// What the reader found wrong.
        reason: String,
    },
    /// A file given as an ASN source that is neither a MaxMind DB nor CSV text.
    NotAsnSource {
        /// The file.
        path: PathBuf,
    },
    /// An ASN MaxMind DB given together with other ASN files: it must be the only one.
    MixedAsnSources {
        /// The MaxMind DB.
        path: PathBuf,
    },
    /// A file given as a country source that is neither a MaxMind DB nor CSV text.
    NotCountrySource {
        /// The file.
        path: PathBuf,
    },
    /// A country MaxMind DB given together with other country files: it must be the only one.
    MixedCountrySources {
        /// The MaxMind DB.
        path: PathBuf,
    },
    /// A range CSV line (ASN or country) that cannot be read; the file is rejected whole.
    BadLine {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// What is wrong with the line.
        reason: String,
        /// The fields a line of this file must have (`first_ip,last_ip,asn,organisation`).
        columns: &'static str,
    },
}

impl fmt::Display for EnrichError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EnrichError::Unreadable { path, reason } => write!(f, "{}: cannot read: {reason}", path.display()),
            EnrichError::NotMmdb { path } => {
                write!(f, "{}: not a MaxMind DB (no metadata section: another format, or truncated)", path.display())
            }
            EnrichError::CorruptMmdb { path, reason } => write!(f, "{}: corrupt MaxMind DB: {reason}", path.display()),
            EnrichError::NotAsnSource { path } => {
                write!(
                    f,
                    "{}: neither a MaxMind DB nor an ASN CSV (binary data without an MMDB metadata section: truncated?)",
                    path.display()
                )
            }
            EnrichError::MixedAsnSources { path } => {
                write!(f, "{}: an ASN MaxMind DB must be the only ASN source, not one of several files", path.display())
            }
            EnrichError::NotCountrySource { path } => {
                write!(
                    f,
                    "{}: neither a MaxMind DB nor a country CSV (binary data without an MMDB metadata section: truncated?)",
                    path.display()
                )
            }
            EnrichError::MixedCountrySources { path } => {
                write!(
                    f,
                    "{}: a country MaxMind DB must be the only country source, not one of several files",
                    path.display()
                )
            }
            EnrichError::BadLine { path, line, reason, columns } => {
                write!(f, "{} line {line}: {reason} (expected {columns})", path.display())
            }
        }
    }
}

impl std::error::Error for EnrichError {}
