//! Import-time list hygiene: whether a normalized address is a role account
//! or sits at a disposable-mailbox domain, and whether such a contact may be
//! enrolled in win-back sequences.
//!
//! Role accounts (`postmaster@`, `noreply@`, …) reach a function, not a
//! person: mailing them a "we miss you" message earns complaints and spam
//! traps. Disposable domains hand out throw-away inboxes that are abandoned
//! within hours. Both are kept as contacts (nothing is dropped) but not
//! enrolled unless `[hygiene] enroll_role_accounts` / `enroll_disposable`
//! say so. The lists are data files (`config/role-accounts.txt`,
//! `config/disposable-domains.txt`), loaded by the config.

use std::borrow::Cow;
use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::config::HygieneConfig;
use crate::domain::address::{domain_of, local_of};

/// What [`classify`] found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flags {
    /// The local part (without a `+tag`) is a role account.
    pub role: bool,
    /// The domain, or a parent of it, is a disposable-mailbox domain.
    pub disposable: bool,
}

/// Classifies a normalized address. Case is ignored; a `+tag` on the local
/// part is ignored (`postmaster+x@` is `postmaster@`); a subdomain of a
/// listed disposable domain counts as listed.
pub fn classify(addr: &str, cfg: &HygieneConfig) -> Flags {
    Flags {
        role: is_role(local_of(addr), &cfg.role_accounts),
        disposable: is_disposable(domain_of(addr), &cfg.disposable_domains),
    }
}

/// Whether a contact with these flags may enter sequences under `cfg`.
pub fn enroll(flags: Flags, cfg: &HygieneConfig) -> bool {
    (!flags.role || cfg.enroll_role_accounts) && (!flags.disposable || cfg.enroll_disposable)
}

/// Whether a local part names a role account in `roles` (lower-case).
pub fn is_role(local: &str, roles: &HashSet<String>) -> bool {
    // A quoted local part is literal text, never a role name from the list.
    if roles.is_empty() || local.starts_with('"') {
        return false;
    }
    let base = local.split_once('+').map_or(local, |(base, _)| base);
    roles.contains(lower(base).as_ref())
}

/// Whether `domain` or any parent domain is in `domains` (lower-case).
pub fn is_disposable(domain: &str, domains: &HashSet<String>) -> bool {
    if domains.is_empty() {
        return false;
    }
    let domain = lower(domain);
    let mut rest = domain.as_ref();
    loop {
        if domains.contains(rest) {
            return true;
        }
        match rest.split_once('.') {
            Some((_, parent)) if !parent.is_empty() => rest = parent,
            _ => return false,
        }
    }
}

/// ASCII lower-case without allocating when already lower-case (the
/// normal case: addresses arrive normalized).
fn lower(s: &str) -> Cow<'_, str> {
    if s.bytes().any(|b| b.is_ascii_uppercase()) { Cow::Owned(s.to_ascii_lowercase()) } else { Cow::Borrowed(s) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> HygieneConfig {
        let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
        HygieneConfig {
            role_accounts: set(&["postmaster", "noreply", "no-reply", "abuse"]),
            disposable_domains: set(&["mailinator.com", "guerrillamail.org"]),
            ..HygieneConfig::default()
        }
    }

    fn flags(addr: &str) -> (bool, bool) {
        let f = classify(addr, &cfg());
        (f.role, f.disposable)
    }

    #[test]
    fn role_accounts_ignore_tags_and_case() {
        assert_eq!(flags("postmaster@example.com"), (true, false));
        assert_eq!(flags("postmaster+bounces@example.com"), (true, false));
        assert_eq!(flags("PostMaster+X@Example.com"), (true, false));
        assert_eq!(flags("no-reply@shop.example"), (true, false));
        assert_eq!(flags("+x@example.com"), (false, false));
        assert_eq!(flags("postmasters@example.com"), (false, false));
        assert_eq!(flags("post.master@example.com"), (false, false));
        assert_eq!(flags("bob+postmaster@example.com"), (false, false));
        assert_eq!(flags("\"postmaster\"@example.com"), (false, false));
    }

    #[test]
    fn disposable_domains_include_subdomains() {
        assert_eq!(flags("bob@mailinator.com"), (false, true));
        assert_eq!(flags("bob@MAILINATOR.com"), (false, true));
        assert_eq!(flags("bob@eu.x.mailinator.com"), (false, true));
        assert_eq!(flags("bob@notmailinator.com"), (false, false));
        assert_eq!(flags("bob@mailinator.com.example"), (false, false));
        assert_eq!(flags("abuse@guerrillamail.org"), (true, true));
    }

    #[test]
    fn enrollment_follows_config() {
        let mut c = cfg();
        let both = Flags { role: true, disposable: true };
        let role = Flags { role: true, disposable: false };
        let disp = Flags { role: false, disposable: true };
        assert!(enroll(Flags::default(), &c));
        assert!(!enroll(role, &c) && !enroll(disp, &c) && !enroll(both, &c));
        c.enroll_role_accounts = true;
        assert!(enroll(role, &c) && !enroll(disp, &c) && !enroll(both, &c));
        c.enroll_disposable = true;
        assert!(enroll(role, &c) && enroll(disp, &c) && enroll(both, &c));
        c.enroll_role_accounts = false;
        assert!(!enroll(role, &c) && enroll(disp, &c) && !enroll(both, &c));
    }

    #[test]
    fn shipped_lists_load_and_match() {
        let cfg = crate::config::Config::from_toml("<embedded>", crate::config::EMBEDDED_DEFAULT);
        // The embedded config names the list files relative to the crate root.
        let cfg = match cfg {
            Ok(c) => c.hygiene,
            Err(e) => panic!("embedded config: {e}"),
        };
        assert!(classify("noreply+x@example.com", &cfg).role);
        assert!(classify("x@sub.mailinator.com", &cfg).disposable);
        assert!(!enroll(classify("postmaster@example.com", &cfg), &cfg));
        assert!(enroll(classify("jane@example.com", &cfg), &cfg));
    }
}
