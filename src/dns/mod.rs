//! The DNS questions winback asks, through one configurable resolver.
