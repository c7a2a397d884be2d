//! The store: sessions, alerts and endpoints in SQLite (embedded) or PostgreSQL (fleet). (Being built.)
