//! Amazon SES notifications (bounce, complaint, delivery) delivered as
//! JSON, bare or wrapped in an SNS envelope whose `Message` is the JSON.

use serde_json::Value;

use super::classify::{Evidence, decide};
use super::ladder::DecidedBy;
use super::parts::Parts;
use super::reading::Readings;
use super::rules::Rules;
use super::{Action, Format, Original, Reason, Recipient, Report};

/// The report, when a text body is an SES notification.
pub(crate) fn report(parts: &Parts, rules: &Rules) -> Option<Report> {
    let body = parts.texts.iter().find(|t| t.contains("\"notificationType\""))?;
    let start = body.find('{')?;
    let end = body.rfind('}')?;
    // Long lines come wrapped by MTAs as `!` + newline + space (sendmail) or a bare newline.
    let json = body.get(start..=end)?.replace("!\n ", "").replace('\n', "");
    let mut v: Value = serde_json::from_str(&json).ok()?;
    if let Some(inner) = v.get("Message").and_then(Value::as_str).and_then(|m| serde_json::from_str(m).ok()) {
        v = inner;
    }
    let kind = v.get("notificationType").or_else(|| v.get("eventType")).and_then(Value::as_str)?;
    let mut recipients = Vec::new();
    match kind {
        "Bounce" => {
            let b = v.get("bounce")?;
            let permanent = b.get("bounceType").and_then(Value::as_str) == Some("Permanent");
            for r in b.get("bouncedRecipients").and_then(Value::as_array).into_iter().flatten() {
                let s = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("").to_string();
                let diag = s("diagnosticCode");
                let (_, diag) = super::dsn::strip_type(&diag);
                let sub = b.get("bounceSubType").and_then(Value::as_str).unwrap_or("");
                let ev = Evidence {
                    recipient: super::dsn::clean_address(&s("emailAddress")),
                    action: if s("action").is_empty() && !permanent { "delayed".into() } else { s("action") },
                    status: s("status"),
                    diagnostic: diag.into(),
                    context: sub.into(),
                    ..Evidence::default()
                };
                let d = decide(rules, &ev, &mut Readings::default());
                recipients.push(Recipient {
                    recipient: ev.recipient,
                    original_recipient: None,
                    status: d.status,
                    reply_code: d.code,
                    reason: d.reason,
                    hard: d.hard,
                    decided_by: d.decided_by.as_str().to_string(),
                    action: if permanent { Action::Failed } else { Action::Delayed },
                    diagnostic: ev.diagnostic.to_string(),
                    remote_mta: None,
                    last_attempt: None,
                });
            }
        }
        "Complaint" => {
            let c = v.get("complaint")?;
            let t = c.get("complaintFeedbackType").and_then(Value::as_str).unwrap_or("abuse");
            for r in c.get("complainedRecipients").and_then(Value::as_array).into_iter().flatten() {
                let addr = r.get("emailAddress").and_then(Value::as_str).unwrap_or("");
                recipients.push(plain(addr, Reason::Feedback, Action::Complained, None, t));
            }
        }
        "Delivery" => {
            let d = v.get("delivery")?;
            let resp = d.get("smtpResponse").and_then(Value::as_str).unwrap_or("");
            let status = super::codes::first_enhanced(resp);
            for r in d.get("recipients").and_then(Value::as_array).into_iter().flatten() {
                recipients.push(plain(
                    r.as_str().unwrap_or(""),
                    Reason::Delivered,
                    Action::Delivered,
                    status.clone(),
                    resp,
                ));
            }
        }
        _ => return None,
    }
    recipients.retain(|r| !r.recipient.is_empty());
    recipients.truncate(super::MAX_RECIPIENTS);
    if recipients.is_empty() {
        return None;
    }
    let format = if kind == "Complaint" { Format::Feedback } else { Format::SesNotification };
    Some(Report { format, recipients, original: Original::default(), reporting_mta: None })
}

fn plain(addr: &str, reason: Reason, action: Action, status: Option<String>, diag: &str) -> Recipient {
    Recipient {
        recipient: super::dsn::clean_address(addr),
        original_recipient: None,
        status,
        reply_code: None,
        reason,
        hard: false,
        decided_by: DecidedBy::Format.as_str().to_string(),
        action,
        diagnostic: diag.to_string(),
        remote_mta: None,
        last_attempt: None,
    }
}
