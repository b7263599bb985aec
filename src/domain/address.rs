//! Address syntax and normalization.
