//! `kind = "mx"`: direct delivery to each recipient domain's MX hosts.
//!
//! Per message: the MX hosts with their addresses in preference order
//! ([`mx_targets`]: A/AAAA fallback for a domain without MX; a null MX or
//! a domain that does not exist is a permanent 5.1.2 failure, a DNS error
//! a deferral). Each address is tried in turn until one answers; a
//! connection that cannot be made (refused, timed out, a 421 greeting)
//! moves on to the next, while any reply to the transaction itself (2xx,
//! 4xx, 5xx) is the outcome: RFC 5321 §5.1 only asks to try the next host
//! when a host cannot be reached.
//!
//! Connections are pooled per MX host address ([`SmtpTransport::mx_host`]:
//! opportunistic STARTTLS, a cap on messages per connection) and capped per
//! provider (the MX host group of [`crate::reputation::ProviderTable`]):
//! a provider like Google, whose MX hosts serve millions of domains, sees
//! at most `connections_per_provider` connections from us. Its message
//! rate is the throttle's, which the sender keys by the same provider.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Semaphore;

use super::SendOutcome;
use super::smtp::SmtpTransport;
use crate::config::MxDelivery;
use crate::dns::{DnsError, Resolver, mx_targets};
use crate::reputation::{ProviderKey, ProviderTable};

/// Host pools kept before idle ones are dropped.
const MAX_HOSTS: usize = 10_000;

/// The direct-delivery transport.
pub struct MxTransport {
    resolver: Resolver,
    providers: ProviderTable,
    settings: MxDelivery,
    helo: String,
    timeout: Duration,
    hosts: Mutex<HashMap<(String, SocketAddr), Arc<SmtpTransport>>>,
    groups: Mutex<HashMap<ProviderKey, Arc<Semaphore>>>,
}

impl std::fmt::Debug for MxTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MxTransport").field("port", &self.settings.port).finish_non_exhaustive()
    }
}

impl MxTransport {
    /// Direct delivery through `resolver`, grouping MX hosts by `providers`.
    pub fn new(
        resolver: Resolver,
        providers: ProviderTable,
        settings: MxDelivery,
        helo: &str,
        timeout: Duration,
    ) -> Self {
        MxTransport {
            resolver,
            providers,
            settings,
            helo: helo.to_string(),
            timeout,
            hosts: Mutex::new(HashMap::new()),
            groups: Mutex::new(HashMap::new()),
        }
    }

    /// Delivers one message to one recipient's MX hosts.
    pub async fn send(&self, envelope_from: &str, recipient: &str, bytes: &[u8]) -> SendOutcome {
        let Some((_, domain)) = recipient.rsplit_once('@') else {
            return SendOutcome::Failed {
                code: 553,
                enhanced: Some("5.1.3".into()),
                text: format!("winback: recipient address `{recipient}` has no domain"),
            };
        };
        let targets = match mx_targets(&self.resolver, domain).await {
            Ok(t) => t,
            Err(e) => return dns_outcome(domain, &e),
        };
        let hosts: Vec<String> = targets.iter().map(|t| t.host.clone()).collect();
        let group = self.group(&self.providers.provider_of(&hosts));
        // Closed only when dropped with the transport: acquiring cannot fail.
        let Ok(_slot) = group.acquire_owned().await else {
            return SendOutcome::deferred("winback: shutting down");
        };
        let mut last = SendOutcome::deferred(format!("{domain}: no MX host could be reached"));
        for target in &targets {
            for ip in &target.addrs {
                let addr = SocketAddr::new(*ip, self.settings.port);
                let pool = match self.host(&target.host, addr) {
                    Ok(p) => p,
                    Err(outcome) => return outcome,
                };
                let outcome = pool.send(envelope_from, recipient, bytes).await;
                if !unreachable(&outcome) {
                    return outcome;
                }
                tracing::debug!(host = %target.host, %addr, "MX host not reachable, trying the next: {outcome:?}");
                last = outcome;
            }
        }
        last
    }

    /// Closes every pooled connection.
    pub async fn shutdown(&self) {
        let pools: Vec<Arc<SmtpTransport>> = self.lock_hosts().drain().map(|(_, p)| p).collect();
        for p in pools {
            p.shutdown().await;
        }
    }

    fn group(&self, key: &ProviderKey) -> Arc<Semaphore> {
        let mut groups = self.groups.lock().unwrap_or_else(|p| p.into_inner());
        let permits = self.settings.connections_per_provider;
        groups.entry(key.clone()).or_insert_with(|| Arc::new(Semaphore::new(permits))).clone()
    }

    fn host(&self, host: &str, addr: SocketAddr) -> Result<Arc<SmtpTransport>, SendOutcome> {
        let mut hosts = self.lock_hosts();
        if let Some(p) = hosts.get(&(host.to_string(), addr)) {
            return Ok(p.clone());
        }
        if hosts.len() >= MAX_HOSTS {
            // Pools not in use right now hold only idle connections.
            hosts.retain(|_, p| Arc::strong_count(p) > 1);
        }
        let pool = SmtpTransport::mx_host(
            host,
            addr,
            self.timeout,
            &self.helo,
            self.settings.connections_per_provider,
            self.settings.messages_per_connection,
        )
        .map(Arc::new)
        .map_err(|e| SendOutcome::deferred(format!("winback: {e}")))?;
        hosts.insert((host.to_string(), addr), pool.clone());
        Ok(pool)
    }

    fn lock_hosts(&self) -> std::sync::MutexGuard<'_, HashMap<(String, SocketAddr), Arc<SmtpTransport>>> {
        self.hosts.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Whether an outcome says the host could not be reached (try the next):
/// no reply at all, or a 421 (service not available, closing).
fn unreachable(o: &SendOutcome) -> bool {
    matches!(o, SendOutcome::Deferred { code: None | Some(421), .. })
}

/// The outcome of a domain whose mail hosts cannot be found.
fn dns_outcome(domain: &str, e: &DnsError) -> SendOutcome {
    if e.is_temporary() {
        SendOutcome::deferred(format!("{domain}: {e}"))
    } else {
        SendOutcome::Failed { code: 550, enhanced: Some("5.1.2".into()), text: format!("{domain}: {e}") }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unreachable_hosts_move_on() {
        assert!(unreachable(&SendOutcome::deferred("connection refused")));
        assert!(unreachable(&SendOutcome::Deferred { code: Some(421), enhanced: None, text: "bye".into() }));
        assert!(!unreachable(&SendOutcome::Deferred { code: Some(451), enhanced: None, text: "later".into() }));
        assert!(!unreachable(&SendOutcome::Failed { code: 550, enhanced: None, text: "no".into() }));
        assert!(!unreachable(&SendOutcome::Sent { reply: "250 ok".into() }));
    }

    #[test]
    fn dns_failures_defer_or_fail() {
        let gone = DnsError::NullMx { domain: "x.test".into() };
        assert!(matches!(dns_outcome("x.test", &gone), SendOutcome::Failed { code: 550, .. }));
        let nx = DnsError::NoSuchDomain { domain: "x.test".into() };
        assert!(matches!(dns_outcome("x.test", &nx), SendOutcome::Failed { .. }));
    }
}
