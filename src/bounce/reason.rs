//! The bounce reason vocabulary and the hard/soft rule.

use serde::{Deserialize, Serialize};

macro_rules! reasons {
    ($($variant:ident => $name:literal),* $(,)?) => {
        /// Why a message was not delivered (or what else a report says).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "lowercase")]
        pub enum Reason {
            $(
                #[doc = concat!("`", $name, "`: see docs/bounce-reasons.md.")]
                $variant,
            )*
        }

        impl Reason {
            /// Every reason, in alphabetical order.
            pub const ALL: &'static [Reason] = &[$(Reason::$variant),*];

            /// The lower-case name used in output, rules and the store.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Reason::$variant => $name,)*
                }
            }

            /// Parses [`Self::as_str`] output (case-insensitive).
            pub fn parse(s: &str) -> Option<Reason> {
                let s = s.trim();
                Self::ALL.iter().copied().find(|r| r.as_str().eq_ignore_ascii_case(s))
            }
        }
    };
}

reasons! {
    AuthFailure => "authfailure",
    BadReputation => "badreputation",
    Blocked => "blocked",
    ContentError => "contenterror",
    Delivered => "delivered",
    EmailTooLarge => "emailtoolarge",
    Expired => "expired",
    FailedStartTls => "failedstarttls",
    Feedback => "feedback",
    Filtered => "filtered",
    HasMoved => "hasmoved",
    HostUnknown => "hostunknown",
    MailboxFull => "mailboxfull",
    MailerError => "mailererror",
    NetworkError => "networkerror",
    NoRelaying => "norelaying",
    NotAccept => "notaccept",
    NotCompliantRfc => "notcompliantrfc",
    OnHold => "onhold",
    PolicyViolation => "policyviolation",
    RateLimited => "ratelimited",
    Rejected => "rejected",
    RequirePtr => "requireptr",
    SecurityError => "securityerror",
    SpamDetected => "spamdetected",
    Suppressed => "suppressed",
    Suspend => "suspend",
    SyntaxError => "syntaxerror",
    SystemError => "systemerror",
    SystemFull => "systemfull",
    Undefined => "undefined",
    UserUnknown => "userunknown",
    Vacation => "vacation",
    VirusDetected => "virusdetected",
}

impl Reason {
    /// Whether this reason is a hard bounce: the address itself is
    /// permanently unusable. `permanent` says whether the failure was
    /// permanent (5xx, or no code at all); only `notaccept` depends on it.
    pub fn is_hard(self, permanent: bool) -> bool {
        match self {
            Reason::UserUnknown | Reason::HostUnknown | Reason::HasMoved => true,
            Reason::NotAccept => permanent,
            _ => false,
        }
    }

    /// Whether the reason is about the sending side (our IP, domain,
    /// authentication or behaviour) rather than the recipient's address:
    /// such bounces must never suppress the recipient.
    pub fn is_sender_side(self) -> bool {
        matches!(
            self,
            Reason::Blocked
                | Reason::BadReputation
                | Reason::AuthFailure
                | Reason::RequirePtr
                | Reason::RateLimited
                | Reason::SecurityError
                | Reason::FailedStartTls
                | Reason::NoRelaying
                | Reason::Rejected
        )
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_hardness() {
        assert_eq!(Reason::ALL.len(), 34);
        for r in Reason::ALL {
            assert_eq!(Reason::parse(r.as_str()), Some(*r));
        }
        assert!(Reason::UserUnknown.is_hard(false));
        assert!(Reason::NotAccept.is_hard(true));
        assert!(!Reason::NotAccept.is_hard(false));
        assert!(!Reason::MailboxFull.is_hard(true));
        assert_eq!(Reason::parse("Blocked"), Some(Reason::Blocked));
        assert_eq!(Reason::parse("nonsense"), None);
    }
}
