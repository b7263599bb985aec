//! All durable state, in redb.
