//! The public HTTP side: open pixel, click redirect, unsubscribe, events API.
