//! What comes back: the SMTP listener for bounce domains, `winback ingest`,
//! and the Maildir watch. Each hands messages to the bounce classifier and
//! the resulting events to the store.
