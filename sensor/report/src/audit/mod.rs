//! Reports for auditors: self-contained HTML, CSV and JSON with a SHA-256 manifest chain. (Being built.)
