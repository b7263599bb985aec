//! The mailto address of `List-Unsubscribe` (`unsubscribe+TOKEN@bounce
//! domain`, see [`crate::outbound::compose`]): mail sent to it is a request
//! to unsubscribe, not a report, and reaches winback the same ways bounces
//! do (SMTP listener, `winback ingest`, Maildir watch).
//!
//! The token is signed for [`Purpose::Unsubscribe`], so only someone who
//! received the message can unsubscribe its recipient; the sender's own
//! address is never trusted (mail clients, forwarders and aliases change
//! it). A token that does not verify changes nothing.

use crate::bounce::{UNSUBSCRIBE_PREFIX, tagged_token};
use crate::clock::Millis;
use crate::domain::SuppressionReason;
use crate::engine::{self, Applied};
use crate::store::{StoreError, Writer};
use crate::token::{Keys, Purpose};

/// Headers that name the mailbox a message was delivered to, when the
/// envelope is not known (a Maildir delivery).
const DELIVERY_HEADERS: [&str; 4] = ["delivered-to", "x-original-to", "to", "cc"];

/// The unsubscribe token the message is addressed to, if it is one. The
/// envelope recipients decide when there are any; otherwise the top-level
/// delivery headers (never the body, where a bounce quotes our own
/// `List-Unsubscribe` header).
pub fn token(raw: &[u8], envelope: &[String]) -> Option<String> {
    if !envelope.is_empty() {
        return envelope.iter().find_map(|e| tagged_token(UNSUBSCRIBE_PREFIX, e));
    }
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").or_else(|| raw.windows(2).position(|w| w == b"\n\n"));
    let head = String::from_utf8_lossy(raw.get(..end.unwrap_or(raw.len())).unwrap_or_default());
    let mut current = false;
    for line in head.lines() {
        // Folded continuation lines belong to the header above them.
        if !line.starts_with([' ', '\t']) {
            current = line
                .split_once(':')
                .is_some_and(|(name, _)| DELIVERY_HEADERS.iter().any(|h| name.trim().eq_ignore_ascii_case(h)));
        }
        if current && let Some(t) = tagged_token(UNSUBSCRIBE_PREFIX, line) {
            return Some(t);
        }
    }
    None
}

/// Suppresses the recipient of the message `token` names (reason
/// `unsubscribed`) and records an `unsubscribe` event the first time.
/// Returns nothing for a token that does not verify or names no message.
pub fn apply(w: &mut Writer<'_>, keys: &Keys, token: &str, now: Millis) -> Result<Option<Applied>, StoreError> {
    let Some(data) = keys.verify(Purpose::Unsubscribe, token) else { return Ok(None) };
    let Some(msg) = w.message(data.message)? else { return Ok(None) };
    let email = msg.email.to_ascii_lowercase();
    // Only the first unsubscribe counts, as for the one-click URL.
    if engine::unsubscribe(w, &msg, &format!("unsubscribe by mail, message {}", msg.id), now)? {
        Ok(Some(Applied::Suppressed { email, reason: SuppressionReason::Unsubscribed }))
    } else {
        Ok(Some(Applied::AlreadySuppressed { email }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOK: &str = "abcdefghijklmnopqrstuvwxyz234567ab";

    #[test]
    fn finds_the_token_in_the_envelope_or_delivery_headers_only() {
        let to = format!("unsubscribe+{TOK}@b.example.org");
        assert_eq!(token(b"Subject: x\r\n\r\n", std::slice::from_ref(&to)).as_deref(), Some(TOK));
        assert_eq!(token(b"Subject: x\r\n\r\n", &["bounces+x@b.example.org".into()]), None);
        let folded = format!("Subject: unsubscribe\r\nTo: Shop\r\n <{}>\r\n\r\nbody\r\n", to.to_uppercase());
        assert_eq!(token(folded.as_bytes(), &[]).as_deref(), Some(TOK));
        let quoted = format!("Subject: failure\nTo: bounces+q@b.example.org\n\nList-Unsubscribe: <mailto:{to}>\n");
        assert_eq!(token(quoted.as_bytes(), &[]), None, "a bounce quoting our header is no request");
        let envelope_decides = format!("To: {to}\r\n\r\n");
        assert_eq!(token(envelope_decides.as_bytes(), &["bounces+x@b.example.org".into()]), None);
    }
}
