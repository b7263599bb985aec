//! Import-time list hygiene.
