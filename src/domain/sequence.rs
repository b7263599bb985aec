//! The win-back sequence state machine.
