//! Hides the names inside a failure statement from the phrase rules:
//! mail addresses and host names are replaced by neutral stand-ins
//! (`x@x.x`, `x.x`) before the rules read the text.
//!
//! A rule reads what a server says, not whom or where it says it about:
//! "host spamfilter.b.example[192.0.2.1] said: 550 5.1.1 User unknown" is
//! an unknown user, not spam, and "550 <relay@b.example>: unknown user" is
//! not about relaying. The stand-ins keep the shape (an `@` between two
//! parts, dotted labels), so rules about the shape still match ("550
//! b.example does not exist").
//!
//! A host name is a dotted name whose last label is a top-level domain:
//! a common generic one, one of the reserved test names (RFC 2606), or two
//! letters (a country) after at least two other labels. That leaves alone
//! what only looks dotted: status codes and IP addresses (digits),
//! Exchange's `RESOLVER.ADR.RecipNotFound`, Sendmail's `mail.local`, and
//! words run together at a full stop ("full.it"). A URL keeps its host and
//! path, and so does a host written before a path ("mail.i.ua/err/07"):
//! providers put their error codes there; only the names in a URL's query
//! are replaced. A Postfix socket after a host ("mx.b.example[private/lmtp]")
//! is no path.

use std::borrow::Cow;

/// What stands in for a mail address.
const ADDRESS: &str = "x@x.x";
/// What stands in for a host name.
const HOST: &str = "x.x";

/// Generic top-level domains common in mail, and the reserved test ones.
/// (Two-letter ones are countries, taken after two other labels: "it",
/// "in", "no" are words too.)
const GENERIC_TLDS: &[&str] = &[
    "com",
    "net",
    "org",
    "edu",
    "gov",
    "mil",
    "int",
    "info",
    "biz",
    "name",
    "pro",
    "mobi",
    "asia",
    "aero",
    "coop",
    "museum",
    "jobs",
    "travel",
    "tel",
    "cat",
    "app",
    "dev",
    "cloud",
    "online",
    "site",
    "xyz",
    "top",
    "email",
    "shop",
    "store",
    "tech",
    "club",
    "live",
    "example",
    "test",
    "invalid",
    "localhost",
    "arpa",
];

/// `text` (lower-cased, whitespace collapsed) with its mail addresses and
/// host names replaced; borrowed when it has none.
pub(crate) fn mask(text: &str) -> Cow<'_, str> {
    let mut out: Option<String> = None;
    let mut done = 0;
    for_each_name_run(text, |start, end| {
        let Some(stand_in) = stand_in(&text[start..end]) else { return };
        let o = out.get_or_insert_with(|| String::with_capacity(text.len()));
        o.push_str(&text[done..start]);
        o.push_str(stand_in);
        done = end;
    });
    match out {
        None => Cow::Borrowed(text),
        Some(mut o) => {
            o.push_str(&text[done..]);
            Cow::Owned(o)
        }
    }
}

/// Calls `f` with the byte range of each run of name characters in `text`
/// that could be an address or a host (a letter and a dot or an `@` in
/// it), without leading or trailing dots and hyphens; in a URL only those
/// after its `?`. Only the places around a dot or an `@` are
/// read, each once: linear in the length of `text`.
fn for_each_name_run(text: &str, mut f: impl FnMut(usize, usize)) {
    let b = text.as_bytes();
    let name_char = |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_' | b'+' | b'@');
    let mut next = 0;
    // The word holding the last run: where it ends, and from where its
    // names count (past the `?` of a URL; its end when it has none).
    let (mut word_end, mut names_from) = (0, 0);
    for hit in memchr::memchr2_iter(b'.', b'@', b) {
        if hit < next {
            continue;
        }
        let mut start = hit;
        while start > 0 && name_char(b[start - 1]) {
            start -= 1;
        }
        let mut end = hit + 1;
        while end < b.len() && name_char(b[end]) {
            end += 1;
        }
        next = end;
        if start >= word_end {
            let from = b[word_end..start].iter().rposition(|&c| c == b' ').map_or(word_end, |p| word_end + p + 1);
            let to = b[end..].iter().position(|&c| c == b' ').map_or(b.len(), |p| end + p);
            let w = &b[from..to];
            let url = w.windows(3).any(|x| x == b"://");
            names_from = if url { w.iter().position(|&c| c == b'?').map_or(to, |q| from + q + 1) } else { from };
            word_end = to;
        }
        // A URL's host and path, or a host written before a path
        // ("mail.i.ua/err/07"), stay.
        let url_host = b.get(end) == Some(&b'/');
        if start < names_from || url_host || !b[start..end].iter().any(u8::is_ascii_alphabetic) {
            continue;
        }
        while start < end && matches!(b[start], b'.' | b'-') {
            start += 1;
        }
        while end > start && matches!(b[end - 1], b'.' | b'-') {
            end -= 1;
        }
        f(start, end);
    }
}

/// The stand-in for `run` when it is an address or a host name.
fn stand_in(run: &str) -> Option<&'static str> {
    match run.rsplit_once('@') {
        Some((local, domain)) => {
            let domain_ok = !domain.is_empty() && domain.split('.').all(is_label);
            (!local.is_empty() && !local.contains('@') && domain_ok).then_some(ADDRESS)
        }
        None => is_host(run).then_some(HOST),
    }
}

fn is_host(name: &str) -> bool {
    let Some((rest, tld)) = name.rsplit_once('.') else { return false };
    if !tld.bytes().all(|c| c.is_ascii_alphabetic()) || !rest.split('.').all(is_label) {
        return false;
    }
    GENERIC_TLDS.contains(&tld) || (tld.len() == 2 && rest.contains('.'))
}

fn is_label(l: &str) -> bool {
    !l.is_empty() && l.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
}

#[cfg(test)]
mod tests {
    use super::mask;

    #[test]
    fn addresses_and_hosts_give_way_to_stand_ins() {
        let cases = [
            (
                "host spamfilter.b.example[192.0.2.1] said: 550 5.1.1 <spam@b.example>: user unknown",
                "host x.x[192.0.2.1] said: 550 5.1.1 <x@x.x>: user unknown",
            ),
            ("relay@mx.example.co.jp. unknown", "x@x.x. unknown"),
            ("mx-gate.antispameurope.com: 550 no such user", "x.x: 550 no such user"),
            ("550 b.example does not exist", "550 x.x does not exist"),
            ("(a@b.example:blocked)", "(x@x.x:blocked)"),
            ("delivery to mail.spam.de failed", "delivery to x.x failed"),
            ("host relay.b.example[private/dovecot-lmtp] said:", "host x.x[private/dovecot-lmtp] said:"),
            (
                "see http://www.openspf.net/why?s=mfrom;id=a@b.example;r=relay.b.example",
                "see http://www.openspf.net/why?s=mfrom;id=x@x.x;r=x.x",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(mask(text), want, "{text}");
        }
    }

    #[test]
    fn what_only_looks_dotted_stays() {
        for text in [
            "550 5.1.1 resolver.adr.recipnotfound; not found",
            "mail.local: unknown user",
            "client host [192.0.2.1] blocked, see http://mail.i.ua/err/07",
            "blocked, see mail.i.ua/err/07 or openspf.net/why",
            "https://www.spamhaus.org/query/ip/192.0.2.1",
            "http://postmaster.facebook.com/response_codes?ip=192.0.2.1#rcp",
            "mailbox full.it was rejected",
            "no mx for domain",
            "queue.expired; message expired",
            "e.g. i.e. u.s.",
        ] {
            assert_eq!(mask(text), text);
        }
    }
}
