//! The evidence ladder below the phrase rules: what an enhanced status
//! code, a basic reply code with the SMTP command it answered, and a DSN's
//! `Action` and `Status` fields say on their own.
//!
//! [`decide`](super::classify) tries the rungs in order and the first one
//! with evidence decides: (1) the phrase rules of `config/bounce-rules.toml`;
//! (2) [`by_status`], the complete RFC 3463 / IANA registry plus the
//! provider-specific codes in use; (3) [`by_reply`], the reply code and the
//! command; (4) [`by_dsn`], the DSN fields. Which rung decided is a
//! [`DecidedBy`].

use super::reason::Reason;

/// Which rung of the evidence ladder decided a recipient's reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecidedBy {
    /// A phrase rule of `config/bounce-rules.toml`, by name.
    Rule(String),
    /// The enhanced status code (RFC 3463 registry or a provider's code).
    EnhancedStatus,
    /// The basic reply code with the SMTP command it answered.
    ReplyCode,
    /// The DSN's `Action` and `Status` fields.
    DsnAction,
    /// The kind of report itself: a complaint, an auto-reply, a provider's
    /// notification type.
    Format,
    /// No evidence at all.
    None,
}

impl DecidedBy {
    /// The name written in output: the rule's name, `enhanced-status`,
    /// `reply-code`, `dsn-action`, `report-format` or `none`.
    pub fn as_str(&self) -> &str {
        match self {
            DecidedBy::Rule(name) => name,
            DecidedBy::EnhancedStatus => "enhanced-status",
            DecidedBy::ReplyCode => "reply-code",
            DecidedBy::DsnAction => "dsn-action",
            DecidedBy::Format => "report-format",
            DecidedBy::None => "none",
        }
    }
}

/// The SMTP command a reply answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SmtpCommand {
    /// The connection itself: the greeting banner.
    Connect,
    /// `EHLO` / `HELO`.
    Helo,
    /// `MAIL FROM`.
    Mail,
    /// `RCPT TO`.
    Rcpt,
    /// The `DATA` command.
    Data,
    /// The end of the message data (the final `.`).
    EndOfData,
}

impl SmtpCommand {
    /// Parses the names used in `[commands]` of the rules file:
    /// `CONN`, `HELO`, `MAIL`, `RCPT`, `DATA`, `EOD` (case-insensitive).
    pub fn parse(name: &str) -> Option<SmtpCommand> {
        Some(match name.to_ascii_uppercase().as_str() {
            "CONN" => SmtpCommand::Connect,
            "HELO" | "EHLO" => SmtpCommand::Helo,
            "MAIL" => SmtpCommand::Mail,
            "RCPT" => SmtpCommand::Rcpt,
            "DATA" => SmtpCommand::Data,
            "EOD" => SmtpCommand::EndOfData,
            _ => return None,
        })
    }

    /// The name used in `[commands]` of the rules file.
    pub fn name(self) -> &'static str {
        match self {
            SmtpCommand::Connect => "CONN",
            SmtpCommand::Helo => "HELO",
            SmtpCommand::Mail => "MAIL",
            SmtpCommand::Rcpt => "RCPT",
            SmtpCommand::Data => "DATA",
            SmtpCommand::EndOfData => "EOD",
        }
    }
}

/// Whether `s` is an enhanced status code: class 2, 4 or 5, then subject
/// and detail of one to three digits (`5.1.10`, not `192.0.2.1`).
pub(crate) fn is_enhanced_status(s: &str) -> bool {
    let mut parts = s.split('.');
    let ok = |p: Option<&str>, max: usize| {
        p.is_some_and(|p| (1..=max).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
    };
    matches!(parts.next(), Some("2" | "4" | "5"))
        && ok(parts.next(), 3)
        && ok(parts.next(), 3)
        && parts.next().is_none()
}

/// `5.1.10` → `(5, 1, 10)`.
fn parse_status(status: &str) -> Option<(u8, u16, u16)> {
    let mut it = status.split('.');
    let class = it.next()?.parse().ok()?;
    let subject = it.next()?.parse().ok()?;
    let detail = it.next()?.parse().ok()?;
    if it.next().is_some() || !matches!(class, 2 | 4 | 5) {
        return None;
    }
    Some((class, subject, detail))
}

/// Rung 2: what an enhanced status code says on its own. `None` for the
/// codes that carry no reason (`X.0.0`, `X.1.0`, unknown subjects).
pub fn by_status(status: &str) -> Option<Reason> {
    use Reason::*;
    let (class, subject, detail) = parse_status(status)?;
    if class == 2 {
        return Some(Delivered);
    }
    // Provider-specific codes first: they reuse registry numbers.
    if let Some(r) = provider_status(class, subject, detail) {
        return Some(r);
    }
    Some(match (subject, detail) {
        // "Other or undefined" address, mail system, network and protocol
        // status name no reason: the reply code and the DSN fields (a
        // failure after temporary errors, a local program's error) say more.
        (1 | 3 | 4 | 5, 0) => return None,
        (0, _) => return None,
        // X.1.x addressing.
        (1, 1) | (1, 3) => UserUnknown,
        (1, 2) => HostUnknown,
        (1, 4) => Filtered,
        (1, 6) => HasMoved,
        (1, 7) | (1, 8) => Rejected,
        (1, 10) => NotAccept,
        (1, _) => return None,
        // X.2.x mailbox.
        (2, 1) => Suspend,
        (2, 2) => MailboxFull,
        (2, 3) => EmailTooLarge,
        (2, 4) => SystemError,
        (2, _) => Filtered,
        // X.3.x mail system.
        (3, 1) => SystemFull,
        (3, 2) => NotAccept,
        (3, 4) => EmailTooLarge,
        (3, _) => SystemError,
        // X.4.x network and routing.
        (4, 4) if class == 5 => HostUnknown,
        (4, 5) => SystemFull,
        (4, 7) => Expired,
        (4, _) => NetworkError,
        // X.5.x protocol.
        (5, 3) => RateLimited,
        (5, _) => SyntaxError,
        // X.6.x content.
        (6, _) => ContentError,
        // X.7.x security and policy.
        (7, 2) => Rejected,
        (7, 13) => Suspend,
        (7, 15) | (7, 19) => PolicyViolation,
        (7, 16) => EmailTooLarge,
        (7, 17) | (7, 18) => HasMoved,
        (7, 20..=24) | (7, 26) | (7, 29) => AuthFailure,
        (7, 25) => RequirePtr,
        (7, 27) => Rejected,
        (7, 28) => RateLimited,
        (7, _) => SecurityError,
        _ => return None,
    })
}

/// The last resort of rung 2, once the reply code and the DSN fields have
/// said nothing: an "other or undefined" mail-system (X.3.0) or network and
/// routing (X.4.0) status still names the kind of failure. (Read before the
/// DSN fields, 4.4.0 would hide a message that expired after retries.)
pub fn by_status_class(status: &str) -> Option<Reason> {
    match parse_status(status)? {
        (4 | 5, 3, 0) => Some(Reason::SystemError),
        (4 | 5, 4, 0) => Some(Reason::NetworkError),
        _ => None,
    }
}

/// Whether an enhanced status code names a reason of its own that outranks
/// general wording: an addressing, mailbox, system, network, protocol or
/// content code (`X.1.1`, `X.2.2`, `X.3.4` …), not "other or undefined"
/// (`X.Y.0`). Security and policy codes (`X.7.*`) are not: providers use
/// them loosely (Zoho "554 5.7.7 Email policy violation detected", where the
/// registry's 5.7.7 is a message integrity failure).
pub fn is_specific(status: &str) -> bool {
    match parse_status(status) {
        Some((_, subject, detail)) => detail != 0 && subject != 7 && by_status(status).is_some(),
        None => false,
    }
}

/// Codes providers use beyond the registry (Microsoft's 5.1.10, 5.4.14,
/// 5.7.5xx–7xx; Google's 4.7.28 is the registry's own).
fn provider_status(class: u8, subject: u16, detail: u16) -> Option<Reason> {
    use Reason::*;
    Some(match (subject, detail) {
        // Microsoft: "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found".
        (1, 10) if class == 5 => UserUnknown,
        // A temporary X.7.1/X.7.2 refusal is a block of our host, not a security
        // failure: Postfix "450 4.7.1 Client host rejected", Yahoo "421 4.7.1
        // [TS03] … deferred", greylisting "451 4.7.1 Please try again later".
        (7, 1 | 2) if class == 4 => Blocked,
        // Microsoft: "5.1.90 … daily limit for message recipients".
        (1, 90) => RateLimited,
        // Microsoft: "5.2.121/5.2.122 Recipient's per hour message receive limit".
        (2, 121 | 122) => RateLimited,
        // Microsoft: "5.4.14 Routing loop detected"; "4.4.316 Connection refused".
        (4, 14) | (4, 316) => NetworkError,
        // Microsoft: "5.4.300 Message expired".
        (4, 300) => Expired,
        // Microsoft: "550 5.4.310 DNS domain b.example does not exist".
        (4, 310) if class == 5 => HostUnknown,
        // Microsoft: "5.7.501-503 Access denied, spam abuse detected / banned sender".
        (7, 501..=503) => Blocked,
        // Microsoft: "5.7.504 Recipient address rejected: Access denied".
        (7, 504) => UserUnknown,
        // Microsoft: "5.7.505 Access denied, banned recipient" (not a valid recipient).
        (7, 505) => UserUnknown,
        // Microsoft: "5.7.506 Bad HELO", "5.7.507 rejected by recipient".
        (7, 506 | 507) => Blocked,
        // Microsoft: "5.7.508 … has exceeded permitted limits".
        (7, 508) => RateLimited,
        // Microsoft: "5.7.509 … does not pass DMARC", "5.7.515 … authentication level".
        (7, 509 | 515) => AuthFailure,
        // Microsoft: "5.7.510 … does not accept email over IPv6".
        (7, 510) => PolicyViolation,
        // Microsoft: "5.7.512 message must be RFC 5322 section 3.6.2 compliant".
        (7, 512) => NotCompliantRfc,
        // Microsoft: "4.7.500-699 Access denied, please try again later" (throttling).
        (7, 500..=699) if class == 4 => RateLimited,
        // Microsoft: "5.7.511, 5.7.513, 5.7.606-649 banned sending IP / block list".
        (7, 511 | 513) | (7, 600..=699) => Blocked,
        // Microsoft: "5.7.703 blocked by your organization using Tenant Allow Block List".
        (7, 703) => PolicyViolation,
        // Microsoft: "5.7.705/5.7.708 tenant exceeded threshold / traffic not accepted",
        // "5.7.750 unregistered domains", "5.7.800 banned sender", "4.7.850-899".
        (7, 700..=899) => Blocked,
        // Microsoft: "5.7.124, 5.7.133-136 sender not allowed / not authenticated for group".
        (7, 124 | 133..=136) => Rejected,
        // Microsoft: "5.7.321-325" DANE/TLS failures of the destination.
        (7, 321..=325) => SecurityError,
        _ => return None,
    })
}

/// Rung 2 given the command the reply answered: a recipient's addressing
/// status (X.1.1 mailbox, X.1.2 system, X.1.3 syntax, X.1.6 moved, X.1.10)
/// in reply to MAIL FROM is about our sender, whose address or domain the
/// server refused: Sendmail's badmx feature "550 5.1.2 Invalid MX record for
/// host b.example", its "450 4.1.2 MX lookup failure for b.example".
pub fn by_status_at(status: &str, command: Option<SmtpCommand>) -> Option<Reason> {
    let reason = by_status(status)?;
    let addressing = matches!(parse_status(status), Some((_, 1, 1 | 2 | 3 | 6 | 10)));
    Some(if addressing && command == Some(SmtpCommand::Mail) { Reason::Rejected } else { reason })
}

/// Whether `status` is X.4.7, delivery time expired: the reporting MTA's own
/// verdict that it gave up, not the receiving server's (a 4xx reply it
/// quotes names the cause; see `classify::lower_rungs`).
pub fn is_own_expiry(status: &str) -> bool {
    matches!(parse_status(status), Some((_, 4, 7)))
}

/// Whether a report's own `status` says only what the reporting MTA
/// concluded, X.0.0 (it failed) or X.4.7 (it gave up), so that the status
/// of the server's reply it quotes names the cause better (see
/// `classify::chosen_status`).
pub fn is_reporters_verdict(status: &str) -> bool {
    matches!(parse_status(status), Some((_, 0, 0) | (_, 4, 7)))
}

/// Rung 3: what a basic reply code says, given the command it answered.
pub fn by_reply(code: u16, command: Option<SmtpCommand>) -> Option<Reason> {
    use Reason::*;
    use SmtpCommand::*;
    Some(match (code, command) {
        // RFC 7504: the host or domain never accepts mail.
        (521 | 556, _) => NotAccept,
        // RFC 4954 / RFC 3207: authentication or TLS needed.
        (454 | 530 | 534 | 535 | 538, _) => SecurityError,
        // RFC 5321: command syntax and parameters.
        (500..=504 | 455 | 555, _) => SyntaxError,
        // RFC 1870: the declared SIZE is too large.
        (552, Some(Mail)) => EmailTooLarge,
        // Refused at the greeting: our host is not welcome.
        (_, Some(Connect | Helo)) => Blocked,
        // Refused at MAIL FROM: our sender address.
        (_, Some(Mail)) => Rejected,
        // RFC 5321: "551 User not local; please try <forward-path>".
        (551, _) => HasMoved,
        // RFC 5321: "552 exceeded storage allocation".
        (552, _) => MailboxFull,
        // RFC 5321: "452 insufficient system storage".
        (452, _) => SystemFull,
        // RFC 5321: "451 local error in processing".
        (451, _) => SystemError,
        // RFC 5321: "550 mailbox unavailable", "553 mailbox name not allowed" at RCPT.
        (550 | 553, Some(Rcpt)) => UserUnknown,
        // Refused once the content was seen: a recipient-side filter.
        (_, Some(Data | EndOfData)) => Filtered,
        _ => return None,
    })
}

/// Rung 4: what the DSN fields say when nothing more specific does. A
/// `Diagnostic-Code` of type `x-unix` is a local program's error; a delay
/// notice, or a failure after temporary errors only, means the message
/// expired in the queue.
pub fn by_dsn(action: &str, status: Option<&str>, diagnostic_type: &str) -> Option<Reason> {
    if diagnostic_type.starts_with("x-unix") {
        return Some(Reason::MailerError);
    }
    let temporary = status.is_some_and(|s| s.starts_with('4'));
    if action.starts_with("delayed") || (action.starts_with("failed") && temporary) {
        return Some(Reason::Expired);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_and_provider_codes() {
        assert_eq!(by_status("5.1.1"), Some(Reason::UserUnknown));
        assert_eq!(by_status("5.1.10"), Some(Reason::UserUnknown));
        assert_eq!(by_status("4.1.10"), Some(Reason::NotAccept));
        assert_eq!(by_status("5.7.26"), Some(Reason::AuthFailure));
        assert_eq!(by_status("4.7.650"), Some(Reason::RateLimited));
        assert_eq!(by_status("5.7.606"), Some(Reason::Blocked));
        assert_eq!(by_status("4.7.1"), Some(Reason::Blocked));
        assert_eq!(by_status("5.7.1"), Some(Reason::SecurityError));
        assert_eq!(by_status("5.4.310"), Some(Reason::HostUnknown));
        assert_eq!(by_status("4.4.310"), Some(Reason::NetworkError));
        assert_eq!(by_status("5.0.0"), None);
        assert_eq!(by_status("5.1.0"), None);
        assert_eq!(by_status("5.3.0"), None);
        assert_eq!(by_status_class("5.3.0"), Some(Reason::SystemError));
        assert_eq!(by_status_class("4.4.0"), Some(Reason::NetworkError));
        assert_eq!(by_status_class("5.1.0"), None);
        assert_eq!(by_status_class("5.3.1"), None);
        assert_eq!(by_status("2.0.0"), Some(Reason::Delivered));
        assert_eq!(by_status("5.1"), None);
    }

    #[test]
    fn specific_codes_outrank_general_wording() {
        assert!(is_specific("5.2.2"));
        assert!(is_specific("5.1.1"));
        assert!(!is_specific("5.7.26"));
        assert!(!is_specific("5.7.1"));
        assert!(!is_specific("4.7.1"));
        assert!(!is_specific("5.7.0"));
        assert!(!is_specific("5.0.0"));
        assert!(!is_specific("5.1.0"));
        assert!(!is_specific("nonsense"));
    }

    #[test]
    fn a_reporters_own_verdict_is_a_failure_or_an_expiry() {
        for s in ["5.0.0", "4.0.0", "4.4.7", "5.4.7"] {
            assert!(is_reporters_verdict(s), "{s}");
        }
        for s in ["5.1.1", "4.4.1", "5.1.0", "4.7.0", "5.0", "x.0.0"] {
            assert!(!is_reporters_verdict(s), "{s}");
        }
        assert!(is_own_expiry("4.4.7") && !is_own_expiry("5.0.0"));
    }

    #[test]
    fn an_addressing_status_at_mail_from_is_our_sender() {
        let mail = Some(SmtpCommand::Mail);
        assert_eq!(by_status_at("5.1.2", mail), Some(Reason::Rejected));
        assert_eq!(by_status_at("4.1.2", mail), Some(Reason::Rejected));
        assert_eq!(by_status_at("5.1.1", mail), Some(Reason::Rejected));
        assert_eq!(by_status_at("5.1.2", Some(SmtpCommand::Rcpt)), Some(Reason::HostUnknown));
        assert_eq!(by_status_at("5.1.2", None), Some(Reason::HostUnknown));
        assert_eq!(by_status_at("5.7.1", mail), Some(Reason::SecurityError));
        assert_eq!(by_status_at("5.0.0", mail), None);
    }

    #[test]
    fn reply_codes_depend_on_the_command() {
        assert_eq!(by_reply(550, Some(SmtpCommand::Rcpt)), Some(Reason::UserUnknown));
        assert_eq!(by_reply(550, Some(SmtpCommand::Mail)), Some(Reason::Rejected));
        assert_eq!(by_reply(554, Some(SmtpCommand::Connect)), Some(Reason::Blocked));
        assert_eq!(by_reply(550, Some(SmtpCommand::EndOfData)), Some(Reason::Filtered));
        assert_eq!(by_reply(550, None), None);
        assert_eq!(by_reply(556, None), Some(Reason::NotAccept));
    }

    #[test]
    fn dsn_fields() {
        assert_eq!(by_dsn("delayed", None, ""), Some(Reason::Expired));
        assert_eq!(by_dsn("failed", Some("4.4.1"), "smtp"), Some(Reason::Expired));
        assert_eq!(by_dsn("failed", Some("5.0.0"), "x-unix"), Some(Reason::MailerError));
        assert_eq!(by_dsn("failed", Some("5.0.0"), "smtp"), None);
    }
}
