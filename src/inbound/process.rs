//! Turns spooled reports into actions, but only reports that prove they
//! are about mail winback sent: this is the trust boundary of the bounce
//! side (docs/security.md).
//!
//! A report (DSN, free-text bounce, ARF complaint, auto-reply) is
//! attributed to one of our messages by, in order: the VERP token of the
//! envelope recipient (or of a quoted `Return-Path`), our
//! `X-Winback-Token` header quoted from the original, or a `Message-ID`
//! winback generated and recorded. Tokens are signed, Message-IDs carry a
//! random part: none can be made up. The action then applies to that
//! message's recipient only, and only when the report names that
//! recipient (a complaint may redact it); every other address a report
//! names is ignored. What each action is, and that each sent message causes
//! each kind of action at most once, is [`crate::engine::reports`].
//!
//! A report that cannot be attributed acts on nothing: no suppression, no
//! soft-bounce count, no reputation signal. It is counted (by kind and
//! reason, in `status` and `/metrics`), logged, and kept in
//! [`Quarantine`] for inspection.
//!
//! Mail to the `List-Unsubscribe` mailto address is no report: it
//! unsubscribes when its token verifies (see [`super::mailto`]).
//!
//! A message is removed from the spool only after its transaction
//! committed (and, when unattributed, after it was kept), so a crash in
//! between processes it again, which acts once.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::spool::{Spool, SpoolError};
use super::unattributed::{Quarantine, Unattributed, Why};
use crate::bounce::{Format, Recipient, Report, Rules, classify_with};
use crate::clock::{Clock, Millis};
use crate::config::Config;
use crate::config::live::Live;
use crate::domain::EventKind;
pub use crate::engine::reports::{Applied, SOFT_LIMIT, SOFT_WINDOW_MS};
use crate::engine::{self, reports};
use crate::reputation::guard::Guard;
use crate::rounds::{GaveUp, Rounds};
use crate::store::{MessageRecord, Store, StoreError};
use crate::token::{Keys, Purpose};

/// Failed rounds in a row after which the processor gives up.
pub const GIVE_UP_AFTER: u32 = 30;

/// What processing one inbound message did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Processed {
    /// Neither a report nor an unsubscribe request: nothing to do.
    Ignored,
    /// Attributed: what was done for the message's recipient.
    Applied(Applied),
    /// Not attributed: counted, acted on nothing.
    Unattributed(Unattributed),
}

/// Why spool processing stopped.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// The spool failed.
    #[error(transparent)]
    Spool(#[from] SpoolError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An unattributed report could not be kept.
    #[error("cannot keep an unattributed report in {path}: {source}")]
    Keep {
        /// The folder.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
}

/// Where a processor takes its rules from.
#[derive(Clone)]
enum RulesIn {
    Fixed(&'static Rules),
    Config(Live<Config>),
}

/// Applies reports to the store.
#[derive(Clone)]
pub struct Processor {
    store: Store,
    keys: Keys,
    rules: RulesIn,
    guard: Option<Arc<Guard>>,
    quarantine: Option<Quarantine>,
}

impl Processor {
    /// With the embedded rules.
    pub fn new(store: Store, keys: Keys) -> Self {
        Processor { store, keys, rules: RulesIn::Fixed(Rules::embedded()), guard: None, quarantine: None }
    }

    /// With the rules of the configuration in force (`[bounce]`), taken
    /// per message: a reload's new rules apply to the next report.
    pub fn with_config_rules(mut self, cfg: Live<Config>) -> Self {
        self.rules = RulesIn::Config(cfg);
        self
    }

    /// Tells the reputation guard every bounce and complaint applied.
    pub fn with_guard(mut self, guard: Arc<Guard>) -> Self {
        self.guard = Some(guard);
        self
    }

    /// Keeps unattributed reports in `quarantine` when draining the spool.
    pub fn with_quarantine(mut self, quarantine: Quarantine) -> Self {
        self.quarantine = Some(quarantine);
        self
    }

    /// Classifies one message and applies it when it is attributed;
    /// `envelope` are its envelope recipients (never read from the message).
    pub fn process(&self, raw: &[u8], envelope: &[String], now: Millis) -> Result<Processed, StoreError> {
        if let Some(token) = super::mailto::token(raw, envelope) {
            return self.unsubscribe(&token, now);
        }
        let cfg;
        let rules = match &self.rules {
            RulesIn::Fixed(r) => *r,
            RulesIn::Config(live) => {
                cfg = live.get();
                cfg.bounce.rules()
            }
        };
        let Some(report) = classify_with(rules, raw, envelope) else { return Ok(Processed::Ignored) };
        let Some(first) = report.recipients.first() else { return Ok(Processed::Ignored) };
        if report.capped() {
            tracing::warn!(
                kind = format_name(report.format),
                limit = crate::bounce::MAX_RECIPIENTS,
                "report names more recipients than are read; the rest are not"
            );
        }
        let unattributed = |why: Why| {
            Processed::Unattributed(Unattributed {
                kind: format_name(report.format).into(),
                reason: first.reason.to_string(),
                why,
                named: report.recipients.iter().map(|r| r.recipient.clone()).collect(),
            })
        };
        let (message, entry) = match self.attribute(&report)? {
            Err(why) => return self.count(unattributed(why)),
            Ok(m) => match entry_for(&report, &m) {
                Some(entry) => (m, entry.clone()),
                None => return self.count(unattributed(Why::OtherRecipient)),
            },
        };
        let applied = self.store.write(|w| reports::apply_report(w, &message, &entry, now))?;
        tracing::debug!(message = message.id, outcome = ?applied, "report applied");
        if let (true, Some(g)) = (applied.is_new(), &self.guard) {
            g.record_report(&message.email, &entry);
        }
        Ok(Processed::Applied(applied))
    }

    /// Mail to the unsubscribe address: acts when its token verifies.
    fn unsubscribe(&self, token: &str, now: Millis) -> Result<Processed, StoreError> {
        let done = self.store.write(|w| super::mailto::apply(w, &self.keys, token, now))?;
        match done {
            None => self.count(Processed::Unattributed(Unattributed {
                kind: "unsubscribe".into(),
                reason: "-".into(),
                why: Why::BadToken,
                named: Vec::new(),
            })),
            Some(applied) => {
                if let (Applied::Suppressed { email, .. }, Some(g)) = (&applied, &self.guard) {
                    g.record_event(email, &EventKind::Unsubscribe, true);
                }
                Ok(Processed::Applied(applied))
            }
        }
    }

    /// Counts an unattributed report (through the engine) and logs it.
    fn count(&self, p: Processed) -> Result<Processed, StoreError> {
        if let Processed::Unattributed(u) = &p {
            tracing::warn!(
                kind = %u.kind, reason = %u.reason, why = u.why.as_str(), named = u.named.len(),
                "report not attributed to a message we sent: no action"
            );
            self.store.write(|w| engine::count_unattributed(w, &u.kind, &u.reason))?;
        }
        Ok(p)
    }

    /// Our message the report is about, or why it cannot be told.
    fn attribute(&self, report: &Report) -> Result<Result<MessageRecord, Why>, StoreError> {
        let reader = self.store.read()?;
        let o = &report.original;
        let mut why = Why::NoProof;
        for (via, token) in [("verp", &o.verp_token), ("token header", &o.token)] {
            let Some(token) = token else { continue };
            match self.keys.verify(Purpose::Message, token) {
                None => why = Why::BadToken,
                Some(data) => match reader.message(data.message)? {
                    Some(m) => {
                        tracing::debug!(message = m.id, via, "report attributed");
                        return Ok(Ok(m));
                    }
                    None => why = Why::UnknownMessage,
                },
            }
        }
        if let Some(mid) = &o.message_id {
            if let Some(m) = reader.message_by_message_id(mid)? {
                tracing::debug!(message = m.id, via = "message-id", "report attributed");
                return Ok(Ok(m));
            }
            if why == Why::NoProof && crate::outbound::compose::parse_message_id(mid).is_some() {
                why = Why::UnknownMessage;
            }
        }
        Ok(Err(why))
    }

    /// Processes every spooled message (left-over claims first); returns how
    /// many were processed.
    pub fn drain(&self, spool: &Spool, now: Millis) -> Result<usize, ProcessError> {
        let mut ids = spool.claimed()?;
        ids.extend(spool.list()?);
        let mut n = 0;
        for id in ids {
            let claimed = spool.claim(&id)?;
            let processed = self.process(&claimed.raw, &claimed.envelope, now)?;
            match &processed {
                Processed::Unattributed(u) => {
                    if let Some(q) = &self.quarantine {
                        q.keep(id.as_str(), &claimed.envelope, &claimed.raw, u, now)
                            .map_err(|source| ProcessError::Keep { path: q.dir().display().to_string(), source })?;
                    }
                    tracing::info!(spool_id = %id, "unattributed report kept for inspection");
                }
                p => tracing::info!(spool_id = %id, outcome = ?p, "report processed"),
            }
            spool.remove(&id)?;
            n += 1;
        }
        if n > 0 {
            // What reading the reports took (a hostile one: 100 MB) goes back.
            crate::memory::release_freed();
        }
        if let Some(q) = &self.quarantine {
            match q.prune(now) {
                Ok(0) => {}
                Ok(pruned) => tracing::info!(pruned, "unattributed reports past their keeping time removed"),
                Err(e) => tracing::warn!("cannot prune {}: {e}", q.dir().display()),
            }
        }
        Ok(n)
    }

    /// Drains the spool every `interval` until `cancel` fires. A failed
    /// round is retried; [`GIVE_UP_AFTER`] failed rounds in a row end the
    /// task with the last error (the supervisor then stops the daemon).
    pub async fn run(
        self,
        spool: Arc<Spool>,
        clock: Clock,
        interval: Duration,
        cancel: CancellationToken,
    ) -> Result<(), GaveUp<String>> {
        let mut rounds = Rounds::new(GIVE_UP_AFTER);
        loop {
            let (p, s, now) = (self.clone(), spool.clone(), clock.now());
            let failure = match tokio::task::spawn_blocking(move || p.drain(&s, now)).await {
                Ok(Ok(_)) => None,
                Ok(Err(e)) => Some(e.to_string()),
                Err(e) => Some(format!("the processing task failed: {e}")),
            };
            match failure {
                None => rounds.ok(),
                Some(e) => {
                    let n = rounds.failed(e.clone())?;
                    tracing::error!(error = %e, failed_rounds = n, "bounce processing failed; retrying");
                }
            }
            tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                _ = tokio::time::sleep(interval) => {}
            }
        }
    }
}

/// The report's entry for the recipient of `m`: the one that names that
/// address (as final or original recipient). A complaint is about the
/// message whatever address it shows (feedback loops redact it), so its
/// first entry stands for the message's recipient.
fn entry_for<'r>(report: &'r Report, m: &MessageRecord) -> Option<&'r Recipient> {
    let ours = |a: &str| a.trim().eq_ignore_ascii_case(m.email.trim());
    report
        .recipients
        .iter()
        .find(|r| ours(&r.recipient) || r.original_recipient.as_deref().is_some_and(ours))
        .or_else(|| report.recipients.first().filter(|_| report.format == Format::Feedback))
}

/// The lower-case name of a report format, for counters and listings.
fn format_name(f: Format) -> &'static str {
    match f {
        Format::Dsn => "dsn",
        Format::FreeText => "free_text",
        Format::Feedback => "feedback",
        Format::SesNotification => "ses_notification",
        Format::AutoReply => "auto_reply",
    }
}
