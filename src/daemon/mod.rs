//! The daemon's lifecycle and its admin API.
