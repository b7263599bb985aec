//! SPF record syntax (RFC 7208 §4.6, §5, §6): parse a `v=spf1` TXT record
//! into directives and modifiers. Evaluation is in [`super::spf_eval`].

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::{Ipv4Net, Ipv6Net};

/// The result a directive yields when its mechanism matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Qualifier {
    /// `+` (the default)
    Pass,
    /// `-`
    Fail,
    /// `~`
    SoftFail,
    /// `?`
    Neutral,
}

impl Qualifier {
    fn prefix(self) -> &'static str {
        match self {
            Qualifier::Pass => "",
            Qualifier::Fail => "-",
            Qualifier::SoftFail => "~",
            Qualifier::Neutral => "?",
        }
    }
}

/// A mechanism with its arguments. Domains are kept as written (they may
/// hold macros, which the evaluator reports as unsupported).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mechanism {
    /// `all`
    All,
    /// `include:domain`
    Include(String),
    /// `a[:domain][/v4][//v6]`
    A {
        /// Target domain, the current one when absent.
        domain: Option<String>,
        /// IPv4 prefix length.
        v4: u8,
        /// IPv6 prefix length.
        v6: u8,
    },
    /// `mx[:domain][/v4][//v6]`
    Mx {
        /// Target domain, the current one when absent.
        domain: Option<String>,
        /// IPv4 prefix length.
        v4: u8,
        /// IPv6 prefix length.
        v6: u8,
    },
    /// `ptr[:domain]` (deprecated by RFC 7208).
    Ptr(Option<String>),
    /// `ip4:net`
    Ip4(Ipv4Net),
    /// `ip6:net`
    Ip6(Ipv6Net),
    /// `exists:domain`
    Exists(String),
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cidr = |f: &mut fmt::Formatter<'_>, name: &str, d: &Option<String>, v4: u8, v6: u8| {
            write!(f, "{name}")?;
            if let Some(d) = d {
                write!(f, ":{d}")?;
            }
            if v4 != 32 {
                write!(f, "/{v4}")?;
            }
            if v6 != 128 {
                write!(f, "//{v6}")?;
            }
            Ok(())
        };
        match self {
            Mechanism::All => write!(f, "all"),
            Mechanism::Include(d) => write!(f, "include:{d}"),
            Mechanism::A { domain, v4, v6 } => cidr(f, "a", domain, *v4, *v6),
            Mechanism::Mx { domain, v4, v6 } => cidr(f, "mx", domain, *v4, *v6),
            Mechanism::Ptr(None) => write!(f, "ptr"),
            Mechanism::Ptr(Some(d)) => write!(f, "ptr:{d}"),
            Mechanism::Ip4(n) => write!(f, "ip4:{n}"),
            Mechanism::Ip6(n) => write!(f, "ip6:{n}"),
            Mechanism::Exists(d) => write!(f, "exists:{d}"),
        }
    }
}

/// One directive: qualifier and mechanism.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    /// What a match yields.
    pub qualifier: Qualifier,
    /// What is matched.
    pub mechanism: Mechanism,
}

impl fmt::Display for Directive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.qualifier.prefix(), self.mechanism)
    }
}

/// A parsed SPF record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpfRecord {
    /// Directives in order.
    pub directives: Vec<Directive>,
    /// `redirect=` target.
    pub redirect: Option<String>,
}

/// True for a TXT record that claims to be SPF (`v=spf1` then a space or the end).
pub fn is_spf(txt: &str) -> bool {
    let t = txt.trim_start();
    t.len() >= 6
        && t.get(..6).is_some_and(|p| p.eq_ignore_ascii_case("v=spf1"))
        && t.get(6..).is_some_and(|rest| rest.is_empty() || rest.starts_with(' '))
}

/// Parses an SPF record; the error names the bad term.
pub fn parse(txt: &str) -> Result<SpfRecord, String> {
    if !is_spf(txt) {
        return Err("does not start with v=spf1".into());
    }
    let mut record = SpfRecord { directives: Vec::new(), redirect: None };
    let mut seen_exp = false;
    for term in txt.split_ascii_whitespace().skip(1) {
        if let Some((name, value)) = modifier(term) {
            match name.to_ascii_lowercase().as_str() {
                "redirect" if record.redirect.is_some() => return Err("redirect= appears twice".into()),
                "redirect" => record.redirect = Some(domain_spec(term, value)?),
                "exp" if seen_exp => return Err("exp= appears twice".into()),
                "exp" => seen_exp = true,
                // Unknown modifiers are ignored (RFC 7208 §6).
                _ => {}
            }
            continue;
        }
        record.directives.push(directive(term)?);
    }
    Ok(record)
}

/// `name=value` when the term is a modifier (a name of letters, digits,
/// `-_.` starting with a letter, before any `:` or `/`).
fn modifier(term: &str) -> Option<(&str, &str)> {
    let (name, value) = term.split_once('=')?;
    let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    valid.then_some((name, value))
}

fn directive(term: &str) -> Result<Directive, String> {
    let (qualifier, rest) = match term.as_bytes().first() {
        Some(b'+') => (Qualifier::Pass, &term[1..]),
        Some(b'-') => (Qualifier::Fail, &term[1..]),
        Some(b'~') => (Qualifier::SoftFail, &term[1..]),
        Some(b'?') => (Qualifier::Neutral, &term[1..]),
        _ => (Qualifier::Pass, term),
    };
    let split = rest.find([':', '/']).unwrap_or(rest.len());
    let (name, args) = rest.split_at(split);
    let bad = |why: &str| format!("`{term}`: {why}");
    let mechanism = match name.to_ascii_lowercase().as_str() {
        "all" if args.is_empty() => Mechanism::All,
        "include" => Mechanism::Include(domain_spec(term, required_domain(term, args)?)?),
        "exists" => Mechanism::Exists(domain_spec(term, required_domain(term, args)?)?),
        "ptr" => Mechanism::Ptr(match args.strip_prefix(':') {
            Some(d) => Some(domain_spec(term, d)?),
            None if args.is_empty() => None,
            None => return Err(bad("ptr takes only :domain")),
        }),
        "a" | "mx" => {
            let (domain, v4, v6) = domain_and_cidr(term, args)?;
            if name.eq_ignore_ascii_case("a") {
                Mechanism::A { domain, v4, v6 }
            } else {
                Mechanism::Mx { domain, v4, v6 }
            }
        }
        "ip4" => {
            let net = args.strip_prefix(':').ok_or_else(|| bad("ip4 needs :address"))?;
            let (addr, len) = addr_and_len(net, 32).ok_or_else(|| bad("not an IPv4 address or network"))?;
            let addr: Ipv4Addr = addr.parse().map_err(|_| bad("not an IPv4 address"))?;
            Mechanism::Ip4(Ipv4Net::new(addr, len).map_err(|_| bad("prefix longer than 32"))?)
        }
        "ip6" => {
            let net = args.strip_prefix(':').ok_or_else(|| bad("ip6 needs :address"))?;
            let (addr, len) = addr_and_len(net, 128).ok_or_else(|| bad("not an IPv6 address or network"))?;
            let addr: Ipv6Addr = addr.parse().map_err(|_| bad("not an IPv6 address"))?;
            Mechanism::Ip6(Ipv6Net::new(addr, len).map_err(|_| bad("prefix longer than 128"))?)
        }
        _ => return Err(bad("unknown mechanism")),
    };
    Ok(Directive { qualifier, mechanism })
}

fn required_domain<'a>(term: &str, args: &'a str) -> Result<&'a str, String> {
    args.strip_prefix(':').filter(|d| !d.is_empty()).ok_or_else(|| format!("`{term}`: needs :domain"))
}

/// A domain-spec: non-empty, no spaces, no `/`; trailing dot dropped.
fn domain_spec(term: &str, d: &str) -> Result<String, String> {
    let d = d.trim_end_matches('.');
    if d.is_empty() || d.contains(['/', ' ']) {
        return Err(format!("`{term}`: `{d}` is not a domain"));
    }
    Ok(d.to_string())
}

/// `[:domain][/v4][//v6]` of `a` and `mx`.
fn domain_and_cidr(term: &str, args: &str) -> Result<(Option<String>, u8, u8), String> {
    let bad = || format!("`{term}`: expected [:domain][/prefix][//prefix6]");
    let (domain, cidr) = match args.strip_prefix(':') {
        Some(rest) => {
            let cut = rest.find('/').unwrap_or(rest.len());
            (Some(domain_spec(term, &rest[..cut])?), &rest[cut..])
        }
        None => (None, args),
    };
    let (v4, v6) = match cidr.split_once("//") {
        Some((v4, v6)) => (v4, Some(v6)),
        None => (cidr, None),
    };
    let v4 = match v4.strip_prefix('/') {
        Some(n) => n.parse::<u8>().ok().filter(|n| *n <= 32).ok_or_else(bad)?,
        None if v4.is_empty() => 32,
        None => return Err(bad()),
    };
    let v6 = match v6 {
        Some(n) => n.parse::<u8>().ok().filter(|n| *n <= 128).ok_or_else(bad)?,
        None => 128,
    };
    Ok((domain, v4, v6))
}

fn addr_and_len(net: &str, max: u8) -> Option<(&str, u8)> {
    match net.split_once('/') {
        Some((a, l)) => Some((a, l.parse::<u8>().ok().filter(|l| *l <= max)?)),
        None => Some((net, max)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_mechanism() {
        let r = parse(
            "v=spf1 +a -mx:mail.example/24 ~a:x.example/28//64 ?ip4:192.0.2.0/24 ip6:2001:db8::/32 \
             include:_spf.example ptr exists:%{i}.bl.example mx//60 ip4:198.51.100.7 redirect=other.example \
             exp=explain.example unknown-mod=whatever -all",
        )
        .unwrap();
        let shown: Vec<String> = r.directives.iter().map(|d| d.to_string()).collect();
        assert_eq!(
            shown,
            [
                "a",
                "-mx:mail.example/24",
                "~a:x.example/28//64",
                "?ip4:192.0.2.0/24",
                "ip6:2001:db8::/32",
                "include:_spf.example",
                "ptr",
                "exists:%{i}.bl.example",
                "mx//60",
                "ip4:198.51.100.7/32",
                "-all"
            ]
        );
        assert_eq!(r.redirect.as_deref(), Some("other.example"));
    }

    #[test]
    fn recognises_spf_records() {
        assert!(is_spf("v=spf1"));
        assert!(is_spf("V=SPF1 -all"));
        assert!(!is_spf("v=spf10 -all"));
        assert!(!is_spf("v=DKIM1; p=abc"));
        assert!(!is_spf("v=spf"));
    }

    #[test]
    fn rejects_bad_terms() {
        for bad in [
            "v=spf1 ip4:300.1.1.1",
            "v=spf1 ip4:192.0.2.0/33",
            "v=spf1 ip6:zz::",
            "v=spf1 include",
            "v=spf1 a/40",
            "v=spf1 frobnicate",
            "v=spf1 all:x",
            "v=spf1 redirect=a.example redirect=b.example",
        ] {
            assert!(parse(bad).is_err(), "{bad} parsed");
        }
    }
}
