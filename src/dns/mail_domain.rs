//! "Can this domain receive mail?" for list hygiene at import, one domain
//! at a time ([`mail_domain`]) or many at once with bounded concurrency and
//! a per-domain cache ([`MailDomainChecker`]).

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use futures::StreamExt;
use serde::Serialize;

use super::resolver::{Answer, Resolver};

/// One MX record.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct MxHost {
    /// Lower is preferred.
    pub preference: u16,
    /// Lower-case host name without the trailing dot.
    pub host: String,
}

/// What DNS says about a domain's ability to receive mail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum MailDomain {
    /// MX records, sorted by preference (a null MX among others is dropped).
    Mx(Vec<MxHost>),
    /// No MX, but A/AAAA: the domain itself is the mail host (RFC 5321 §5.1).
    Implicit,
    /// A single `MX 0 .` (RFC 7505): the domain explicitly accepts no mail.
    NullMx,
    /// NXDOMAIN, or neither MX nor A/AAAA.
    NoMail,
    /// The question could not be answered now (SERVFAIL, timeout, …). This
    /// says nothing about the domain: never treat it as "no mail".
    TempFail(String),
}

impl MailDomain {
    /// True for the definite "this domain cannot receive mail" answers.
    pub fn is_undeliverable(&self) -> bool {
        matches!(self, MailDomain::NullMx | MailDomain::NoMail)
    }

    /// True when the domain can receive mail.
    pub fn accepts_mail(&self) -> bool {
        matches!(self, MailDomain::Mx(_) | MailDomain::Implicit)
    }
}

/// Sorts MX records and recognises the null MX. `None` means the records
/// amount to a null MX; an empty list cannot happen for `Found`.
pub(crate) fn classify_mx(records: Vec<(u16, String)>) -> Option<Vec<MxHost>> {
    let mut hosts: Vec<MxHost> = records.into_iter().map(|(preference, host)| MxHost { preference, host }).collect();
    // RFC 7505 §3: a null MX published next to real ones is a mistake; the
    // real ones are still the best guess of where mail goes.
    let has_null = hosts.iter().any(|h| h.host == ".");
    hosts.retain(|h| h.host != ".");
    if hosts.is_empty() && has_null {
        return None;
    }
    hosts.sort_by(|a, b| a.preference.cmp(&b.preference).then_with(|| a.host.cmp(&b.host)));
    hosts.dedup();
    Some(hosts)
}

/// Asks DNS whether `domain` can receive mail: MX first, then A/AAAA.
pub async fn mail_domain(resolver: &Resolver, domain: &str) -> MailDomain {
    match resolver.mx(domain).await {
        Err(e) if e.is_temporary() => MailDomain::TempFail(e.to_string()),
        // An invalid name can never receive mail.
        Err(_) => MailDomain::NoMail,
        Ok(Answer::NxDomain) => MailDomain::NoMail,
        Ok(Answer::Found(records)) => match classify_mx(records) {
            None => MailDomain::NullMx,
            Some(hosts) => MailDomain::Mx(hosts),
        },
        Ok(Answer::NoRecords) => match resolver.ips(domain).await {
            Ok(Answer::Found(_)) => MailDomain::Implicit,
            Ok(Answer::NoRecords | Answer::NxDomain) => MailDomain::NoMail,
            Err(e) => MailDomain::TempFail(e.to_string()),
        },
    }
}

/// Default number of domains resolved at the same time.
pub const DEFAULT_CONCURRENCY: usize = 64;
/// Default number of domains remembered.
pub const DEFAULT_CACHE_CAPACITY: usize = 200_000;

/// Resolves many domains with bounded concurrency and remembers each
/// definite answer, so an import asks about each distinct domain once.
/// Temporary failures are not remembered: the next ask tries again.
#[derive(Debug)]
pub struct MailDomainChecker {
    resolver: Resolver,
    concurrency: usize,
    capacity: usize,
    cache: Mutex<HashMap<String, MailDomain>>,
}

impl MailDomainChecker {
    /// A checker with [`DEFAULT_CONCURRENCY`] and [`DEFAULT_CACHE_CAPACITY`].
    pub fn new(resolver: Resolver) -> Self {
        Self::with_limits(resolver, DEFAULT_CONCURRENCY, DEFAULT_CACHE_CAPACITY)
    }

    /// A checker with explicit limits (each at least 1). Once the cache
    /// holds `capacity` domains, new answers are returned but not kept.
    pub fn with_limits(resolver: Resolver, concurrency: usize, capacity: usize) -> Self {
        MailDomainChecker {
            resolver,
            concurrency: concurrency.max(1),
            capacity: capacity.max(1),
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The answer for one domain (case-insensitive), from the cache when known.
    pub async fn check(&self, domain: &str) -> MailDomain {
        let key = normalise(domain);
        if let Some(hit) = self.cached(&key) {
            return hit;
        }
        let answer = mail_domain(&self.resolver, &key).await;
        self.remember(&key, &answer);
        answer
    }

    /// Answers for many domains, at most `concurrency` lookups at a time.
    /// Keys are the lower-cased domains; duplicates are asked once.
    pub async fn check_all<I, S>(&self, domains: I) -> HashMap<String, MailDomain>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut out = HashMap::new();
        let mut todo = Vec::new();
        let mut seen = HashSet::new();
        for d in domains {
            let key = normalise(d.as_ref());
            if !seen.insert(key.clone()) {
                continue;
            }
            match self.cached(&key) {
                Some(hit) => {
                    out.insert(key, hit);
                }
                None => todo.push(key),
            }
        }
        let mut answers = futures::stream::iter(todo)
            .map(|key| async move {
                let answer = mail_domain(&self.resolver, &key).await;
                (key, answer)
            })
            .buffer_unordered(self.concurrency);
        while let Some((key, answer)) = answers.next().await {
            self.remember(&key, &answer);
            out.insert(key, answer);
        }
        out
    }

    /// Number of domains remembered.
    pub fn cached_len(&self) -> usize {
        self.lock().len()
    }

    fn cached(&self, key: &str) -> Option<MailDomain> {
        self.lock().get(key).cloned()
    }

    fn remember(&self, key: &str, answer: &MailDomain) {
        if matches!(answer, MailDomain::TempFail(_)) {
            return;
        }
        let mut cache = self.lock();
        if cache.len() < self.capacity {
            cache.insert(key.to_string(), answer.clone());
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, MailDomain>> {
        // A panic while holding the lock leaves a consistent map (inserts are atomic).
        self.cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn normalise(domain: &str) -> String {
    domain.trim().trim_end_matches('.').to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mx(p: u16, h: &str) -> (u16, String) {
        (p, h.to_string())
    }

    #[test]
    fn null_mx_alone_is_null() {
        assert_eq!(classify_mx(vec![mx(0, ".")]), None);
    }

    #[test]
    fn null_mx_next_to_real_ones_is_ignored() {
        let got = classify_mx(vec![mx(20, "b.example"), mx(0, "."), mx(10, "a.example")]).unwrap();
        assert_eq!(
            got,
            vec![
                MxHost { preference: 10, host: "a.example".into() },
                MxHost { preference: 20, host: "b.example".into() }
            ]
        );
    }
}
