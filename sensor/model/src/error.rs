//! Errors located in an input (a configuration or indicator file).

use std::path::PathBuf;

/// A configuration problem, located in its file.
#[derive(Debug, thiserror::Error)]
#[error("{}:{line}:{col}: {msg}", file.display())]
pub struct ConfigError {
    /// The config file.
    pub file: PathBuf,
    /// 1-based line (0 when the whole file is at fault).
    pub line: usize,
    /// 1-based column.
    pub col: usize,
    /// What is wrong.
    pub msg: String,
}
