//! What reputation is computed from: one [`Signal`] per delivery outcome or
//! recipient reaction, with the reason of a failure as a small closed set
//! ([`Reason`]) so counters keep fixed memory.

use serde::{Deserialize, Serialize};

use super::provider::ProviderKey;

/// Why a message was deferred or bounced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reason {
    /// The mailbox does not exist (5.1.1).
    BadMailbox,
    /// The domain does not exist or takes no mail (5.1.2, 5.4.4).
    BadDomain,
    /// The mailbox is full (x.2.2).
    MailboxFull,
    /// The receiver asks the sender to slow down.
    RateLimited,
    /// The sender (IP or domain) is blocked or listed.
    Blocked,
    /// The receiver names the sender's reputation.
    BadReputation,
    /// The content was judged spam.
    Content,
    /// SPF, DKIM or DMARC failed.
    Authentication,
    /// Another policy refusal (x.7.x).
    Policy,
    /// Anything else.
    Other,
}

impl Reason {
    /// Number of reasons (size of per-reason arrays).
    pub const COUNT: usize = 10;

    /// All reasons, in index order.
    pub const ALL: [Reason; Reason::COUNT] = [
        Reason::BadMailbox,
        Reason::BadDomain,
        Reason::MailboxFull,
        Reason::RateLimited,
        Reason::Blocked,
        Reason::BadReputation,
        Reason::Content,
        Reason::Authentication,
        Reason::Policy,
        Reason::Other,
    ];

    /// Stable lower-case name (as serialized).
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::BadMailbox => "badmailbox",
            Reason::BadDomain => "baddomain",
            Reason::MailboxFull => "mailboxfull",
            Reason::RateLimited => "ratelimited",
            Reason::Blocked => "blocked",
            Reason::BadReputation => "badreputation",
            Reason::Content => "content",
            Reason::Authentication => "authentication",
            Reason::Policy => "policy",
            Reason::Other => "other",
        }
    }

    /// Position in [`Reason::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// Whether the failure is about the sender rather than the recipient
    /// address: a burst of these in 5xx replies suspends a provider.
    pub fn is_sender_side(self) -> bool {
        matches!(
            self,
            Reason::RateLimited
                | Reason::Blocked
                | Reason::BadReputation
                | Reason::Content
                | Reason::Authentication
                | Reason::Policy
        )
    }

    /// A rough reason for an SMTP reply, from its code, enhanced status
    /// code and wording. Used where a reply is seen directly (the SMTP
    /// transport); bounce messages are classified by the bounce module.
    pub fn from_reply(code: u16, text: &str) -> Reason {
        let t = text.to_ascii_lowercase();
        let has = |words: &[&str]| words.iter().any(|w| t.contains(w));
        let class = if code >= 500 { '5' } else { '4' };
        let enhanced = |detail: &str| t.contains(&format!("{class}.{detail}"));
        if has(&["spf", "dkim", "dmarc", "authenticat", "5.7.26", "5.7.27", "4.7.26", "4.7.27"]) {
            Reason::Authentication
        } else if has(&["rate limit", "ratelimit", "rate-limit", "too many", "slow down", "throttl", "4.7.28"]) {
            Reason::RateLimited
        } else if has(&["reputation"]) {
            Reason::BadReputation
        } else if has(&["blocked", "blacklist", "blocklist", "denylist", "listed", "spamhaus", "access denied"]) {
            Reason::Blocked
        } else if has(&["spam", "content", "virus", "malware"]) {
            Reason::Content
        } else if enhanced("1.1")
            || has(&[
                "user unknown",
                "unknown user",
                "no such user",
                "does not exist",
                "not found",
                "invalid recipient",
            ])
        {
            Reason::BadMailbox
        } else if enhanced("1.2") || enhanced("4.4") || has(&["no such domain", "domain not found"]) {
            Reason::BadDomain
        } else if enhanced("2.2") || has(&["mailbox full", "quota", "insufficient storage"]) {
            Reason::MailboxFull
        } else if enhanced("7.") {
            Reason::Policy
        } else {
            Reason::Other
        }
    }
}

impl From<crate::bounce::Reason> for Reason {
    /// The reputation view of a bounce classifier reason.
    fn from(r: crate::bounce::Reason) -> Reason {
        use crate::bounce::Reason as B;
        match r {
            B::UserUnknown | B::HasMoved | B::Suspend => Reason::BadMailbox,
            B::HostUnknown => Reason::BadDomain,
            B::MailboxFull => Reason::MailboxFull,
            B::RateLimited => Reason::RateLimited,
            B::Blocked | B::RequirePtr => Reason::Blocked,
            B::BadReputation => Reason::BadReputation,
            B::SpamDetected | B::ContentError | B::VirusDetected | B::Filtered => Reason::Content,
            B::AuthFailure => Reason::Authentication,
            B::PolicyViolation | B::SecurityError | B::FailedStartTls | B::NotCompliantRfc => Reason::Policy,
            _ => Reason::Other,
        }
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SignalKind {
    /// A new message was handed to the transport (once per message, not per retry).
    Sent,
    /// The receiving server accepted a message.
    Delivered,
    /// One attempt was refused temporarily (4xx); the message will be retried.
    Deferred {
        /// SMTP reply code.
        code: u16,
        /// Why.
        reason: Reason,
    },
    /// Permanent failure (5xx reply or a failure DSN).
    HardBounce {
        /// Why.
        reason: Reason,
    },
    /// A temporary failure reported after acceptance, or a message given up after retries.
    SoftBounce {
        /// Why.
        reason: Reason,
    },
    /// The recipient reported the message as spam.
    Complaint,
    /// The recipient unsubscribed.
    Unsubscribe,
    /// The message was opened.
    Open {
        /// By a person rather than a proxy or scanner.
        human: bool,
    },
    /// A link was clicked.
    Click,
}

impl SignalKind {
    /// The outcome of a message from the final SMTP reply it got: 2xx
    /// delivered, 4xx deferred, 5xx a hard bounce (with the reason from
    /// [`Reason::from_reply`]).
    pub fn from_reply(code: u16, text: &str) -> SignalKind {
        match code {
            200..=299 => SignalKind::Delivered,
            500..=599 => SignalKind::HardBounce { reason: Reason::from_reply(code, text) },
            _ => SignalKind::Deferred { code, reason: Reason::from_reply(code, text) },
        }
    }

    /// What a classified report says about a message we sent: a complaint;
    /// a deferral for a delay notice (the relay's retry, with the quoted
    /// reply's code when there is one); a hard bounce when the classifier
    /// says so or the refusal is aimed at the sender; else a soft bounce.
    /// Auto-replies and delivery notices are not reputation signals.
    pub fn from_report(report: &crate::bounce::Recipient) -> Option<SignalKind> {
        use crate::bounce::Reason as B;
        Some(match report.reason {
            B::Feedback => SignalKind::Complaint,
            B::Vacation | B::Delivered => return None,
            r if report.is_delay() => SignalKind::Deferred { code: report.reply_code.unwrap_or(450), reason: r.into() },
            r if report.hard || r.is_sender_side() => SignalKind::HardBounce { reason: r.into() },
            r => SignalKind::SoftBounce { reason: r.into() },
        })
    }

    /// Whether a deferral asks the sender to slow down: 421, or a rate,
    /// block or reputation reason (450/451 with rate-limit wording).
    pub fn is_slow_down(&self) -> bool {
        match *self {
            SignalKind::Deferred { code, reason } => {
                code == 421 || matches!(reason, Reason::RateLimited | Reason::Blocked | Reason::BadReputation)
            }
            _ => false,
        }
    }

    /// Whether this is a sender-side permanent refusal (counts toward suspension).
    pub fn is_sender_block(&self) -> bool {
        matches!(*self, SignalKind::HardBounce { reason } if reason.is_sender_side())
    }
}

/// One outcome or reaction, attributed to the sending domain (the domain of
/// `From:`) and, when known, the recipient's provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signal {
    /// Lower-case domain the message was sent from.
    pub sending_domain: String,
    /// The recipient's provider, when known (see [`super::provider_of`]).
    pub provider: Option<ProviderKey>,
    /// What happened.
    pub kind: SignalKind,
}

impl Signal {
    /// A signal for a sending domain and provider.
    pub fn new(sending_domain: &str, provider: Option<ProviderKey>, kind: SignalKind) -> Self {
        Signal { sending_domain: sending_domain.trim().to_ascii_lowercase(), provider, kind }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_become_signals() {
        use crate::bounce::{Action, Reason as B, Recipient};
        let report = |reason, hard, action, code| Recipient {
            recipient: "a@b.example".into(),
            original_recipient: None,
            status: None,
            reply_code: code,
            reason,
            hard,
            decided_by: String::new(),
            action,
            diagnostic: String::new(),
            remote_mta: None,
            last_attempt: None,
        };
        let of = |r: Recipient| SignalKind::from_report(&r);
        assert_eq!(of(report(B::Feedback, false, Action::Failed, None)), Some(SignalKind::Complaint));
        assert_eq!(of(report(B::Vacation, false, Action::Failed, None)), None);
        assert_eq!(of(report(B::Delivered, false, Action::Delivered, None)), None);
        let slow = of(report(B::RateLimited, false, Action::Delayed, Some(421))).expect("a signal");
        assert_eq!(slow, SignalKind::Deferred { code: 421, reason: Reason::RateLimited });
        assert!(slow.is_slow_down(), "a relay's rate-limited retry slows us down");
        assert_eq!(
            of(report(B::Expired, false, Action::Delayed, None)),
            Some(SignalKind::Deferred { code: 450, reason: B::Expired.into() })
        );
        assert_eq!(
            of(report(B::MailboxFull, false, Action::Failed, Some(452))),
            Some(SignalKind::SoftBounce { reason: B::MailboxFull.into() })
        );
        assert_eq!(
            of(report(B::UserUnknown, true, Action::Delayed, Some(550))),
            Some(SignalKind::HardBounce { reason: B::UserUnknown.into() }),
            "a dead address is a hard bounce whatever the report calls itself"
        );
        assert_eq!(
            of(report(B::Blocked, false, Action::Failed, Some(554))),
            Some(SignalKind::HardBounce { reason: B::Blocked.into() })
        );
    }

    #[test]
    fn replies_are_classified() {
        let r = Reason::from_reply;
        assert_eq!(r(421, "4.7.0 Try again later, closing connection. rate limited"), Reason::RateLimited);
        assert_eq!(r(451, "4.7.28 Our system has detected an unusual rate of unsolicited mail"), Reason::RateLimited);
        assert_eq!(r(450, "4.2.1 too many messages, slow down"), Reason::RateLimited);
        assert_eq!(r(550, "5.7.1 Service unavailable; client host blocked using Spamhaus"), Reason::Blocked);
        assert_eq!(r(421, "4.7.0 [TSS04] Messages temporarily deferred due to poor reputation"), Reason::BadReputation);
        assert_eq!(r(550, "5.7.26 Unauthenticated email from x is not accepted due to DMARC"), Reason::Authentication);
        assert_eq!(r(550, "5.1.1 The email account that you tried to reach does not exist"), Reason::BadMailbox);
        assert_eq!(r(550, "5.1.1 <x@y>: Recipient address rejected"), Reason::BadMailbox);
        assert_eq!(r(552, "5.2.2 Mailbox full"), Reason::MailboxFull);
        assert_eq!(r(452, "4.2.2 over quota"), Reason::MailboxFull);
        assert_eq!(r(550, "5.1.2 bad destination"), Reason::BadDomain);
        assert_eq!(r(554, "5.7.1 Message rejected as spam"), Reason::Content);
        assert_eq!(r(550, "5.7.1 Relaying denied"), Reason::Policy);
        assert_eq!(r(451, "4.3.0 temporary local problem"), Reason::Other);
    }

    #[test]
    fn reasons_index_and_print() {
        for (i, r) in Reason::ALL.iter().enumerate() {
            assert_eq!(r.index(), i);
            let json = serde_json::to_string(r).unwrap();
            assert_eq!(json, format!("\"{r}\""));
        }
    }

    #[test]
    fn replies_become_outcomes() {
        assert_eq!(SignalKind::from_reply(250, "2.0.0 OK"), SignalKind::Delivered);
        assert_eq!(
            SignalKind::from_reply(421, "4.7.0 rate limited"),
            SignalKind::Deferred { code: 421, reason: Reason::RateLimited }
        );
        assert_eq!(
            SignalKind::from_reply(550, "5.1.1 user unknown"),
            SignalKind::HardBounce { reason: Reason::BadMailbox }
        );
        // Connection failures without a reply are deferrals to retry.
        assert_eq!(
            SignalKind::from_reply(0, "connection refused"),
            SignalKind::Deferred { code: 0, reason: Reason::Other }
        );
    }

    #[test]
    fn slow_down_and_sender_blocks() {
        let d = |code, reason| SignalKind::Deferred { code, reason };
        assert!(d(421, Reason::Other).is_slow_down());
        assert!(d(451, Reason::RateLimited).is_slow_down());
        assert!(d(450, Reason::BadReputation).is_slow_down());
        assert!(!d(451, Reason::Other).is_slow_down());
        assert!(!d(452, Reason::MailboxFull).is_slow_down());
        assert!(!SignalKind::Delivered.is_slow_down());
        assert!(SignalKind::HardBounce { reason: Reason::Blocked }.is_sender_block());
        assert!(!SignalKind::HardBounce { reason: Reason::BadMailbox }.is_sender_block());
        assert!(!SignalKind::SoftBounce { reason: Reason::Blocked }.is_sender_block());
    }
}
