//! Address syntax and normalization: the one place that decides whether a
//! string is a mailbox winback will keep, and what its canonical form is.
//!
//! Accepted syntax is the RFC 5321 `Mailbox` (the part of RFC 5322's
//! addr-spec that can actually travel over SMTP):
//! - local part: a dot-atom (`atext` runs joined by single dots) or a
//!   quoted string (`"john doe"`, with `\"` and `\\` escapes, printable
//!   ASCII only: no comments, no folding white space);
//! - domain: LDH labels (letters, digits, inner hyphens), at least two of
//!   them, each ≤ 63 octets, the top-level one not all digits, the whole
//!   ≤ 253 octets; internationalized names are converted to ASCII
//!   (punycode, UTS #46);
//! - local part ≤ 64 octets, whole address ≤ 254 octets (RFC 5321's 256
//!   octet path minus the angle brackets).
//!
//! Rejected on purpose, each with its own message:
//! - `Name <addr>` forms: an import column holds bare addresses only;
//! - address literals (`user@[192.0.2.1]`, `user@[IPv6:…]`): they skip MX
//!   routing and every DNS check, large providers refuse them, and in a
//!   mailing list they are typos or traps rather than people;
//! - non-ASCII local parts: they need SMTPUTF8 end to end, which winback
//!   does not send;
//! - single-label domains (`user@localhost`) and a trailing root dot.
//!
//! Canonical form: the domain in lower-case ASCII and the local part
//! lower-cased too. RFC 5321 lets a server treat local parts
//! case-sensitively, but every major mailbox provider ignores case, and
//! lists routinely hold `Bob@` and `bob@` for one person: folding case is
//! what lets duplicates merge. Quoted local parts are the exception: they
//! are kept as written (minimally escaped), because someone who quoted one
//! meant it literally; a quoted local part that needs no quotes
//! (`"bob"@x`) is the same mailbox as the bare one (RFC 5321 §4.1.2) and is
//! written bare.

use std::fmt::Write as _;

/// Longest local part, in octets (RFC 5321 §4.5.3.1.1).
pub const MAX_LOCAL: usize = 64;
/// Longest domain, in octets, without a root dot (RFC 1035's 255 octets on
/// the wire).
pub const MAX_DOMAIN: usize = 253;
/// Longest label, in octets.
pub const MAX_LABEL: usize = 63;
/// Longest address, in octets (RFC 5321 path minus `<` and `>`).
pub const MAX_ADDRESS: usize = 254;

/// What is wrong with an address, worded for the person fixing the list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    /// Nothing there.
    #[error("the address is empty")]
    Empty,
    /// No `@` at all.
    #[error("no @ (expected local-part@domain)")]
    NoAt,
    /// More than one unquoted `@`.
    #[error("more than one @ (an @ in the local part must be inside quotes)")]
    MultipleAt,
    /// `Name <addr>` or `<addr>`.
    #[error("angle brackets: the column must hold the bare address (bob@example.com), not `Name <bob@example.com>`")]
    AngleBrackets,
    /// Space or tab outside quotes.
    #[error("white space inside the address (outside quotes)")]
    Whitespace,
    /// `@example.com`.
    #[error("nothing before the @")]
    EmptyLocal,
    /// `bob@`.
    #[error("nothing after the @")]
    EmptyDomain,
    /// Local part longer than [`MAX_LOCAL`].
    #[error("the local part is {0} characters long; the limit is 64")]
    LocalTooLong(usize),
    /// Domain longer than [`MAX_DOMAIN`].
    #[error("the domain is {0} characters long; the limit is 253")]
    DomainTooLong(usize),
    /// Address longer than [`MAX_ADDRESS`].
    #[error("the address is {0} characters long; the limit is 254")]
    TooLong(usize),
    /// `.bob@x`.
    #[error("the local part starts with a dot")]
    LocalLeadingDot,
    /// `bob.@x`.
    #[error("the local part ends with a dot")]
    LocalTrailingDot,
    /// `bo..b@x`.
    #[error("two dots in a row in the local part")]
    LocalDoubleDot,
    /// A character outside `atext` in an unquoted local part.
    #[error("character {0:?} is not allowed in an unquoted local part")]
    LocalChar(char),
    /// Internationalized local part.
    #[error("non-ASCII character {0:?} in the local part (such mailboxes need SMTPUTF8, which winback does not send)")]
    NonAsciiLocal(char),
    /// `"bob@x`.
    #[error("the quoted local part has no closing quote")]
    UnclosedQuote,
    /// `"bob"x@y`.
    #[error("text after the closing quote of the local part (expected @)")]
    AfterQuote,
    /// Control or non-ASCII character inside quotes.
    #[error("character {0:?} is not allowed inside a quoted local part")]
    QuotedChar(char),
    /// `""@x`.
    #[error("the quoted local part is empty")]
    EmptyQuoted,
    /// `bob@.example.com`.
    #[error("the domain starts with a dot")]
    DomainLeadingDot,
    /// `bob@example.com.`.
    #[error("the domain ends with a dot")]
    DomainTrailingDot,
    /// `bob@example..com`.
    #[error("two dots in a row in the domain")]
    DomainDoubleDot,
    /// A character that no domain name can hold.
    #[error("character {0:?} is not allowed in a domain name (letters, digits, hyphens and dots only)")]
    DomainChar(char),
    /// A label longer than [`MAX_LABEL`].
    #[error("domain label `{label}` is {len} characters long; the limit is 63")]
    LabelTooLong {
        /// The label (ASCII form).
        label: String,
        /// Its length in octets.
        len: usize,
    },
    /// `-x.com`, `x-.com`.
    #[error("domain label `{0}` starts or ends with a hyphen")]
    LabelHyphen(String),
    /// `bob@example.123`.
    #[error("the top-level domain `{0}` is all digits (a typo, or an IP address?)")]
    NumericTld(String),
    /// `bob@localhost`.
    #[error("domain `{0}` has no dot: a mail domain has at least two labels (like example.com)")]
    SingleLabel(String),
    /// `bob@[192.0.2.1]`.
    #[error(
        "address literal `{0}` instead of a domain name: winback mails domain names only (literals skip MX routing and DNS checks)"
    )]
    AddressLiteral(String),
    /// UTS #46 refused the internationalized domain.
    #[error("domain `{0}` is not a valid internationalized domain name (UTS #46)")]
    Idna(String),
}

/// Checks `raw` and returns its canonical form (see the module doc).
pub fn normalize(raw: &str) -> Result<String, AddressError> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(AddressError::Empty);
    }
    if (s.ends_with('>') && s.contains('<')) || s.starts_with('<') {
        return Err(AddressError::AngleBrackets);
    }
    let (local, domain) = split(s)?;
    let mut out = String::with_capacity(s.len());
    canonical_local(local, &mut out)?;
    if out.len() > MAX_LOCAL {
        return Err(AddressError::LocalTooLong(out.len()));
    }
    out.push('@');
    canonical_domain(domain, &mut out)?;
    if out.len() > MAX_ADDRESS {
        return Err(AddressError::TooLong(out.len()));
    }
    Ok(out)
}

/// The domain of an address (after the last `@`), or `""` without one.
pub fn domain_of(addr: &str) -> &str {
    addr.rsplit_once('@').map_or("", |(_, d)| d)
}

/// The local part of an address (before the last `@`), or all of it
/// without one.
pub fn local_of(addr: &str) -> &str {
    addr.rsplit_once('@').map_or(addr, |(l, _)| l)
}

/// Splits at the `@` that ends the local part, honouring quotes.
fn split(s: &str) -> Result<(&str, &str), AddressError> {
    let at = if s.starts_with('"') {
        let close = closing_quote(s).ok_or(AddressError::UnclosedQuote)?;
        match s[close + 1..].chars().next() {
            Some('@') => close + 1,
            None => return Err(AddressError::NoAt),
            Some(_) => return Err(AddressError::AfterQuote),
        }
    } else {
        s.find('@').ok_or(AddressError::NoAt)?
    };
    let (local, domain) = (&s[..at], &s[at + 1..]);
    if domain.contains('@') {
        return Err(AddressError::MultipleAt);
    }
    if local.is_empty() {
        return Err(AddressError::EmptyLocal);
    }
    if domain.is_empty() {
        return Err(AddressError::EmptyDomain);
    }
    Ok((local, domain))
}

/// Byte index of the quote closing the quoted string that starts `s`.
fn closing_quote(s: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in s.char_indices().skip(1) {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => return Some(i),
            _ => {}
        }
    }
    None
}

/// RFC 5322 `atext`.
fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c)
}

/// Checks a dot-atom, returning the first problem.
fn check_dot_atom(local: &str) -> Result<(), AddressError> {
    if local.starts_with('.') {
        return Err(AddressError::LocalLeadingDot);
    }
    if local.ends_with('.') {
        return Err(AddressError::LocalTrailingDot);
    }
    if local.contains("..") {
        return Err(AddressError::LocalDoubleDot);
    }
    match local.chars().find(|&c| c != '.' && !is_atext(c)) {
        None => Ok(()),
        Some(c) if c == ' ' || c == '\t' => Err(AddressError::Whitespace),
        Some('@') => Err(AddressError::MultipleAt),
        Some(c) if !c.is_ascii() => Err(AddressError::NonAsciiLocal(c)),
        Some(c) => Err(AddressError::LocalChar(c)),
    }
}

/// Writes the canonical local part into `out`.
fn canonical_local(local: &str, out: &mut String) -> Result<(), AddressError> {
    if !local.starts_with('"') {
        check_dot_atom(local)?;
        out.extend(local.chars().map(|c| c.to_ascii_lowercase()));
        return Ok(());
    }
    // `split` guarantees the closing quote is the last character.
    let inner = &local[1..local.len() - 1];
    let mut text = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        // RFC 5321 qtextSMTP and quoted-pairSMTP: printable ASCII and space.
        let c = if c == '\\' { chars.next().unwrap_or('\\') } else { c };
        if !(' '..='~').contains(&c) {
            return Err(AddressError::QuotedChar(c));
        }
        text.push(c);
    }
    if text.is_empty() {
        return Err(AddressError::EmptyQuoted);
    }
    if check_dot_atom(&text).is_ok() {
        out.extend(text.chars().map(|c| c.to_ascii_lowercase()));
        return Ok(());
    }
    out.push('"');
    for c in text.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    Ok(())
}

/// Writes the canonical (ASCII, lower-case) domain into `out`.
fn canonical_domain(domain: &str, out: &mut String) -> Result<(), AddressError> {
    if domain.starts_with('[') {
        return Err(AddressError::AddressLiteral(domain.to_string()));
    }
    check_dots(domain)?;
    if let Some(c) = domain.chars().find(|&c| c.is_ascii() && !(c.is_ascii_alphanumeric() || c == '-' || c == '.')) {
        return Err(if c.is_ascii_whitespace() { AddressError::Whitespace } else { AddressError::DomainChar(c) });
    }
    let needs_idna =
        !domain.is_ascii() || domain.split('.').any(|l| l.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("xn--")));
    let start = out.len();
    if needs_idna {
        let ascii = idna::uts46::Uts46::new()
            .to_ascii(
                domain.as_bytes(),
                idna::uts46::AsciiDenyList::STD3,
                idna::uts46::Hyphens::CheckFirstLast,
                idna::uts46::DnsLength::Ignore,
            )
            .map_err(|_| AddressError::Idna(domain.to_string()))?;
        // UTS #46 maps some full stops (U+3002 …) to dots: check again.
        check_dots(&ascii)?;
        out.push_str(&ascii);
    } else {
        out.extend(domain.chars().map(|c| c.to_ascii_lowercase()));
    }
    check_labels(&out[start..])
}

/// Leading, trailing and doubled dots.
fn check_dots(domain: &str) -> Result<(), AddressError> {
    if domain.starts_with('.') {
        Err(AddressError::DomainLeadingDot)
    } else if domain.ends_with('.') {
        Err(AddressError::DomainTrailingDot)
    } else if domain.contains("..") {
        Err(AddressError::DomainDoubleDot)
    } else {
        Ok(())
    }
}

/// Label lengths, hyphens, label count and TLD of an ASCII domain.
fn check_labels(domain: &str) -> Result<(), AddressError> {
    if domain.len() > MAX_DOMAIN {
        return Err(AddressError::DomainTooLong(domain.len()));
    }
    for label in domain.split('.') {
        if label.len() > MAX_LABEL {
            return Err(AddressError::LabelTooLong { label: label.to_string(), len: label.len() });
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(AddressError::LabelHyphen(label.to_string()));
        }
    }
    match domain.rsplit_once('.') {
        None => Err(AddressError::SingleLabel(domain.to_string())),
        Some((_, tld)) if tld.bytes().all(|b| b.is_ascii_digit()) => Err(AddressError::NumericTld(tld.to_string())),
        Some(_) => Ok(()),
    }
}

/// Renders an address for a report line: printable, and cut to a sane
/// length (a rejected "address" can be a whole paragraph).
pub fn for_report(raw: &str) -> String {
    const MAX: usize = 120;
    let mut out = String::new();
    for (i, c) in raw.trim().chars().enumerate() {
        if i == MAX {
            out.push('…');
            break;
        }
        if c.is_control() {
            let _ = write!(out, "{}", c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests;
