//! Config validation tests.
