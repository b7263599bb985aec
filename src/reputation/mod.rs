//! Sender-reputation signals and the automatic protection built on them.
