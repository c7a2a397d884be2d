//! quic metadata parser (stub: replaced by the real parser).
