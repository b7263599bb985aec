//! A survey answer: recorded as an event of kind `survey` on the message's
//! contact (engagement, so it reactivates a contact in a sequence like a
//! click would), and, for a choice with `suppress = true`, the address
//! suppressed with reason `left`.

use crate::clock::Millis;
use crate::config::Config;
use crate::domain::survey::{Answer, encode};
use crate::domain::{Event, EventKind, SuppressionReason};
use crate::store::{MessageRecord, StoreError, Writer};

/// What an answer did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SurveyOutcome {
    /// It ended the contact's sequence as reactivated.
    pub reactivated: bool,
    /// It suppressed the address now.
    pub suppressed: bool,
}

/// Records `answer` to the survey of `message` at `now`.
pub fn survey_answer(
    w: &mut Writer<'_>,
    cfg: &Config,
    message: &MessageRecord,
    answer: &Answer,
    now: Millis,
) -> Result<SurveyOutcome, StoreError> {
    let email = message.email.to_ascii_lowercase();
    let mut event = Event::new(email.clone(), EventKind::Survey, now);
    event.message = Some(message.id);
    event.reference = Some(encode(answer));
    let reactivated = super::record_event(w, cfg, &event, false)? == super::EventResult::Reactivated;
    let suppress = cfg.survey.choice(&answer.choice).is_some_and(|c| c.suppress);
    let suppressed = suppress
        && super::suppress(
            w,
            &email,
            SuppressionReason::Left,
            &format!("survey answer `{}`, message {}", answer.choice, message.id),
            now,
        )?;
    Ok(SurveyOutcome { reactivated, suppressed })
}
