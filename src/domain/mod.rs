//! Domain logic with no I/O: what a contact, an event and a suppression
//! are, how addresses are checked, when a contact lapses, and how a
//! win-back sequence moves. Everything here is a pure function of its
//! inputs (time is passed in), so it is tested without a store or a clock.

pub mod address;
pub mod contact;
pub mod event;
pub mod hygiene;
pub mod import;
pub mod send_window;
pub mod sequence;
pub mod suppression;
pub mod survey;
pub mod variant;

pub use contact::{Contact, ContactState};
pub use event::{Event, EventKind, Origin};
pub use suppression::{Suppression, SuppressionReason};
