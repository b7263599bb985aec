//! The classification flow: which kind of report a message is, who its
//! recipients are, and the reason for each.

use super::dsn::{self, Dsn, DsnRecipient};
use super::fold::{fold_text, normalize_text};
use super::freetext::{self, FreeText};
use super::ladder::{self, DecidedBy, SmtpCommand};
use super::memo::{Memo, Shared};
use super::multiline::incomplete;
use super::parts::{self, Parts};
use super::reading::Readings;
use super::rules::{Rules, Signals};
use super::{Action, Format, Original, Reason, Recipient, Report, arf, codes, origin, ses};

/// Classifies one raw message with the embedded rules. `None`: the message
/// is neither a bounce, a complaint nor an auto-reply.
pub fn classify(raw: &[u8]) -> Option<Report> {
    classify_with(Rules::embedded(), raw, &[])
}

/// Classifies one raw message with the given rules. `envelope` are the
/// envelope recipients the message was delivered to (for the VERP token),
/// when known.
pub fn classify_with(rules: &Rules, raw: &[u8], envelope: &[String]) -> Option<Report> {
    let norm = parts::normalize(raw);
    let parts = parts::split(&norm);
    let mut report = classify_parts(rules, &parts, &norm)?;
    report.original = origin::identify(&parts, envelope, &report);
    Some(report)
}

/// Classifies a reply received during our own SMTP transaction (a
/// synchronous rejection): the reason and whether it is a hard bounce.
pub fn classify_smtp_reply(code: u16, enhanced_status: Option<&str>, text: &str) -> (Reason, bool) {
    classify_smtp_reply_with(Rules::embedded(), code, enhanced_status, text)
}

/// [`classify_smtp_reply`] with the given rules.
pub fn classify_smtp_reply_with(rules: &Rules, code: u16, enhanced_status: Option<&str>, text: &str) -> (Reason, bool) {
    let v = classify_reply_with(rules, None, code, enhanced_status, text);
    (v.reason, v.hard)
}

/// The verdict on one SMTP reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Why.
    pub reason: Reason,
    /// A hard bounce: the address is permanently unusable.
    pub hard: bool,
    /// Which rung of the evidence ladder decided.
    pub decided_by: DecidedBy,
}

/// Classifies a reply received during our own SMTP transaction, knowing
/// which command it answered when `command` is given.
pub fn classify_reply(command: Option<SmtpCommand>, code: u16, enhanced_status: Option<&str>, text: &str) -> Verdict {
    classify_reply_with(Rules::embedded(), command, code, enhanced_status, text)
}

/// [`classify_reply`] with the given rules.
pub fn classify_reply_with(
    rules: &Rules,
    command: Option<SmtpCommand>,
    code: u16,
    enhanced_status: Option<&str>,
    text: &str,
) -> Verdict {
    let status = enhanced_status.map(str::to_string).or_else(|| codes::first_failure_status(text));
    let ev = Evidence {
        status: status.unwrap_or_default(),
        code: Some(code),
        diagnostic: text.into(),
        // Not a DSN: no delay or failure notice to read an expiry from.
        action: "reply".into(),
        command,
        ..Evidence::default()
    };
    let d = decide(rules, &ev, &mut Readings::default());
    Verdict { reason: d.reason, hard: d.hard, decided_by: d.decided_by }
}

/// What is known about one recipient before deciding.
#[derive(Debug, Default, Clone)]
pub(crate) struct Evidence {
    pub recipient: String,
    pub original_recipient: String,
    pub action: String,
    pub status: String,
    pub code: Option<u16>,
    pub diagnostic: Shared,
    /// The type of the DSN's `Diagnostic-Code` (`smtp`, `x-unix`, …).
    pub diagnostic_type: String,
    /// Further text about the recipient (free-text segment, preamble).
    pub context: Shared,
    /// Whether `context` is the recipient's own failure text (its segment of
    /// the report's human-readable part): shown as the diagnostic when the
    /// report fields carry none.
    pub context_is_own: bool,
    /// The report's own summary before it names any recipient.
    pub preamble: Shared,
    pub remote_mta: String,
    pub last_attempt: String,
    /// The command the reply answered, when the caller knows it.
    pub command: Option<SmtpCommand>,
    /// Read from a notice's words, with no report part: without words of
    /// delay (`action` empty) it is a failure notice.
    pub notice: bool,
}

/// The decision for one recipient.
#[derive(Clone)]
pub(crate) struct Decision {
    pub reason: Reason,
    pub hard: bool,
    pub status: Option<String>,
    pub code: Option<u16>,
    pub decided_by: DecidedBy,
}

fn classify_parts(rules: &Rules, parts: &Parts, raw: &[u8]) -> Option<Report> {
    if let Some(r) = arf::report(parts) {
        return Some(r);
    }
    if let Some(r) = ses::report(parts, rules) {
        return Some(r);
    }
    let mut dsn = Dsn::default();
    for d in &parts.dsn {
        dsn::parse_into(d, &mut dsn);
    }
    let looks_bounce = is_bounce(rules, parts);
    if dsn.recipients.is_empty() && looks_bounce {
        for t in &parts.texts {
            if dsn::has_fields(t) {
                dsn::parse_into(t, &mut dsn);
            }
        }
    }
    if !dsn.unnamed.is_empty() {
        dsn.name_groups(&failed_recipients(parts));
    }
    let exclude = sender_addresses(parts);
    if !dsn.recipients.is_empty() {
        let known: Vec<String> = dsn.recipients.iter().map(|r| r.final_recipient.clone()).collect();
        let all = parts.all_text();
        let text = freetext::analyse(&all, &known, &exclude, rules);
        let (whole, preamble) = (Shared::capped(text.whole), Shared::capped(&text.preamble));
        let mut memo = Memo::default();
        let recipients = dsn
            .recipients
            .iter()
            .map(|r| finish(rules, &mut memo, evidence_from_dsn(r, &text, &whole, &preamble)))
            .collect();
        return Some(Report {
            format: Format::Dsn,
            recipients,
            original: Original::default(),
            reporting_mta: non_empty(&dsn.reporting_mta),
        });
    }
    if looks_bounce {
        return free_text_report(rules, parts, raw, &exclude);
    }
    arf::auto_reply(parts, rules)
}

/// A bounce without report fields: its recipients and their reasons from
/// the failure text. Each recipient's evidence is made as it is decided,
/// not all first: a notice listing hundreds of thousands of addresses holds
/// one evidence at a time.
fn free_text_report(rules: &Rules, parts: &Parts, raw: &[u8], exclude: &[String]) -> Option<Report> {
    let known = failed_recipients(parts);
    let all = parts.all_text();
    // Declared before `text`, which may borrow it.
    let raw_body;
    let mut text = freetext::analyse(&all, &known, exclude, rules);
    if known.is_empty() {
        // The original's own sender, named in a refusal the text quotes
        // ("SPF: … is not allowed to send mail from a@b.example"), is no
        // failed recipient, unless the text names no other.
        let mut senders = freetext::quoted_senders(text.quoted);
        senders.extend(freetext::quoted_senders(&parts.quoted.headers));
        let is_sender = |s: &freetext::Segment| senders.contains(&s.recipient);
        if text.segments.iter().any(is_sender) && !text.segments.iter().all(is_sender) {
            let more: Vec<String> = exclude.iter().cloned().chain(senders.iter().cloned()).collect();
            text = freetext::analyse(&all, &known, &more, rules);
        }
    }
    if text.segments.is_empty() && known.is_empty() {
        // The failed address may be the bounce's own To (a copy to the
        // recipient, an anonymised sample): look again without exclusions.
        text = freetext::analyse(&all, &[], &[], rules);
    }
    if text.segments.is_empty() && known.is_empty() && !parts.html_only {
        // MIME structure the parser could not follow: read the raw body.
        // The parsed text stays when the raw body names nobody either
        // (a base64 part reads as nothing raw). An HTML notice was
        // followed to its part, and its source would hide line starts
        // behind tags (a quoted "<br>To: a@b" read as a failed address).
        raw_body = parts.raw_body(raw);
        let again = freetext::analyse(&raw_body, &[], exclude, rules);
        if !again.segments.is_empty() {
            text = again;
        }
    }
    // No report part gives the action; the notice's words say whether
    // the message is still queued, else it is a failure notice (whose
    // quoted reply may well be a 4xx: the last of the retries).
    let action = if is_delay_notice(rules, parts, &text) { "delayed" } else { "" };
    if text.segments.is_empty() && known.is_empty() {
        return nested(rules, parts).or_else(|| unnamed_recipient(rules, parts, &text, action));
    }
    let (preamble, whole) = (Shared::capped(&text.preamble), Shared::capped(text.whole));
    let named = !text.segments.is_empty();
    let from_segments = std::mem::take(&mut text.segments).into_iter().map(|s| Evidence {
        recipient: s.recipient,
        diagnostic: s.text.into(),
        context: preamble.clone(),
        preamble: preamble.clone(),
        ..Evidence::default()
    });
    // Recipients named only by X-Failed-Recipients: the whole text is theirs.
    let from_header = known.iter().filter(|_| !named).map(|k| Evidence {
        recipient: k.clone(),
        diagnostic: whole.clone(),
        ..Evidence::default()
    });
    let mut memo = Memo::default();
    let recipients = from_segments
        .chain(from_header)
        .map(|ev| finish(rules, &mut memo, Evidence { action: action.into(), notice: true, ..ev }))
        .collect();
    Some(Report { format: Format::FreeText, recipients, original: Original::default(), reporting_mta: None })
}

/// A bounce that names no recipient in its report fields or failure text
/// (Postfix "--- Delivery report unavailable ---", a Sendmail transcript
/// without addresses): one entry for an unnamed recipient, when the message
/// is a delivery report or its failure text has evidence; the quoted
/// original's `To:` never stands in.
fn unnamed_recipient(rules: &Rules, parts: &Parts, text: &FreeText, action: &str) -> Option<Report> {
    let ev =
        Evidence { context: Shared::capped(text.whole), action: action.into(), notice: true, ..Evidence::default() };
    let unnamed = finish(rules, &mut Memo::default(), ev);
    let is_dsn = parts.report_type == "delivery-status";
    if !is_dsn && unnamed.decided_by == DecidedBy::None.as_str() {
        return None;
    }
    let format = if is_dsn { Format::Dsn } else { Format::FreeText };
    Some(Report { format, recipients: vec![unnamed], original: Original::default(), reporting_mta: None })
}

/// A bounce forwarded inside another message: classify the inner one.
fn nested(rules: &Rules, parts: &Parts) -> Option<Report> {
    let inner_raw = parts.nested?;
    let mut inner = parts::split(inner_raw);
    // One level only: a forwarded bounce inside a forwarded bounce is not worth a deeper stack.
    inner.nested = None;
    classify_parts(rules, &inner, inner_raw)
}

fn is_bounce(rules: &Rules, parts: &Parts) -> bool {
    parts.report_type == "delivery-status"
        || parts.header("x-failed-recipients").is_some()
        || rules.detect.bounce_from.is_match(&parts.from)
        || rules.detect.bounce_subject.is_match(&parts.subject)
        || relays_a_refusal(rules, parts)
}

/// Whether a notice without a report part says it is a delay notice (the
/// message is still queued), in its subject or its own text.
fn is_delay_notice(rules: &Rules, parts: &Parts, text: &FreeText) -> bool {
    let d = &rules.detect.delay_notice;
    d.is_match(&parts.subject) || d.is_match(&fold_text(text.whole))
}

/// An automatic message from a notifier with neither a bounce's sender nor
/// its subject (a web host's "About your message to …") that quotes the
/// receiving server's failure reply whole ("550 5.7.1 …"): a bounce, not an
/// out-of-office reply.
fn relays_a_refusal(rules: &Rules, parts: &Parts) -> bool {
    arf::is_automatic(parts, rules) && parts.texts.iter().any(|t| codes::quotes_failure_reply(t))
}

/// Addresses of the bounce's own sender and receiver: never recipients.
fn sender_addresses(parts: &Parts) -> Vec<String> {
    let mut out = freetext::addresses(&parts.from);
    if let Some(to) = parts.header("to") {
        out.extend(freetext::addresses(&to.to_ascii_lowercase()));
    }
    out
}

fn failed_recipients(parts: &Parts) -> Vec<String> {
    parts
        .headers
        .iter()
        .filter(|(n, _)| *n == "x-failed-recipients")
        .flat_map(|(_, v)| freetext::addresses(&v.to_ascii_lowercase()))
        .take(super::MAX_RECIPIENTS)
        .collect()
}

/// The evidence for a DSN recipient: its fields, with its free-text
/// segment as context, or else the whole failure text.
fn evidence_from_dsn(r: &DsnRecipient, text: &FreeText, whole: &Shared, preamble: &Shared) -> Evidence {
    let segment = text.segment(&r.final_recipient);
    let context = segment.map_or_else(|| whole.clone(), |s| Shared::from(s.text.as_str()));
    Evidence {
        context_is_own: segment.is_some(),
        recipient: r.final_recipient.clone(),
        original_recipient: r.original_recipient.clone(),
        action: r.action.clone(),
        status: r.status.clone(),
        code: None,
        // The status comment is the reporting MTA's own reading of the
        // code ("5.2.1 (mailbox disabled)"): part of the evidence.
        diagnostic: match (r.diagnostic.is_empty(), r.status_comment.is_empty()) {
            (true, _) => r.status_comment.as_str().into(),
            (false, true) => r.diagnostic.as_str().into(),
            (false, false) => format!("{} ({})", r.diagnostic, r.status_comment).into(),
        },
        diagnostic_type: r.diagnostic_type.clone(),
        context,
        preamble: preamble.clone(),
        remote_mta: r.remote_mta.clone(),
        last_attempt: r.last_attempt.clone(),
        command: None,
        notice: false,
    }
}

fn finish(rules: &Rules, memo: &mut Memo, ev: Evidence) -> Recipient {
    let d = memo.decide(rules, &ev);
    let action = match ev.action.split_whitespace().next().unwrap_or("") {
        "delayed" if gave_up(rules, memo, &ev) => Action::Failed,
        "delayed" => Action::Delayed,
        "delivered" => Action::Delivered,
        "relayed" => Action::Relayed,
        "expanded" => Action::Expanded,
        "failed" => Action::Failed,
        _ if d.reason == Reason::Delivered => Action::Delivered,
        _ if ev.notice => Action::Failed,
        _ if d.status.as_deref().is_some_and(|s| s.starts_with('4')) => Action::Delayed,
        _ => Action::Failed,
    };
    let diagnostic = one_line(shown_diagnostic(&ev));
    Recipient {
        recipient: ev.recipient,
        original_recipient: non_empty(&ev.original_recipient),
        status: d.status,
        reply_code: d.code,
        reason: d.reason,
        hard: d.hard,
        decided_by: d.decided_by.as_str().to_string(),
        action,
        diagnostic,
        remote_mta: non_empty(&ev.remote_mta),
        last_attempt: non_empty(&ev.last_attempt),
    }
}

/// The diagnostic shown for a recipient: the report field's, or else its
/// own failure text, as CommuniGate Pro states the cause only in the text
/// part ("Failed to deliver to 'a@b' … 550 5.1.1 User unknown"). Not a text
/// that names only the address, nor one holding the report fields (a report
/// whose parts are not marked as such).
fn shown_diagnostic(ev: &Evidence) -> &str {
    if !ev.diagnostic.is_empty() || !ev.context_is_own {
        return &ev.diagnostic;
    }
    let text: &str = &ev.context;
    let says_more = text
        .split(|c: char| c.is_whitespace() || "<>'\"():,".contains(c))
        .any(|w| !w.is_empty() && !w.eq_ignore_ascii_case(&ev.recipient));
    let fields = text.to_ascii_lowercase().contains("final-recipient:");
    if says_more && !fields { text } else { "" }
}

/// Whether a recipient's own text, or the report's, says its message was
/// given up for good (a report that calls itself a delay notice may say so,
/// or come from an MTA that sends no delay notices).
fn gave_up(rules: &Rules, memo: &mut Memo, ev: &Evidence) -> bool {
    [&ev.diagnostic, &ev.context, &ev.preamble].into_iter().any(|t| memo.says_gave_up(rules, t))
}

/// Whether `text` has words saying the MTA gave the message up for good.
pub(crate) fn final_notice(rules: &Rules, text: &str) -> bool {
    rules.detect.final_notice.is_match(&fold_text(text))
}

/// Decides the reason of one recipient from its evidence. The report's
/// shared texts (context, preamble) are read through `readings`, once for
/// all the recipients that share them.
pub(crate) fn decide(rules: &Rules, ev: &Evidence, readings: &mut Readings) -> Decision {
    let context = readings.of(&ev.context);
    // Sendmail's Diagnostic-Code holds a multi-line reply's first line only;
    // its transcript quotes the rest.
    let whole = context.whole_reply(&ev.diagnostic);
    let diagnostic = whole.as_deref().unwrap_or(&ev.diagnostic);
    let (diag, outer_status, relayed_code) = match relayed_reply(diagnostic) {
        Some((outer, code, inner)) => (normalize_text(inner), Some(outer), code),
        None => (normalize_text(diagnostic), None, None),
    };
    let preamble = readings.of(&ev.preamble);
    let diag_status = codes::first_failure_status(&diag);
    // Whether the reply the receiving server gave, as quoted, was permanent:
    // "521 5.3.2 … does not accept mail" stays so in Postfix's report whose
    // "Status: 4.3.2" says only that it kept retrying (it skips servers that
    // greet with a 5xx).
    let quoted_permanent =
        diag_status.as_deref().map(|s| s.starts_with('5')).or_else(|| codes::first_reply_code(&diag).map(|c| c >= 500));
    let (status, status_from_context) =
        chosen_status(&ev.status, outer_status.is_some(), &diag, diag_status, context.failure_status());
    let code = ev.code.or(relayed_code).or_else(|| codes::first_reply_code(&diag)).or_else(|| context.reply_code());
    let action = ev.action.as_str();
    let diag_candidates = rules.candidates(&diag);
    let command = ev
        .command
        .map(SmtpCommand::name)
        .or_else(|| rules.command(&diag, &diag_candidates).or_else(|| context.command(rules)));
    let (reason, decided_by) = if status.as_deref().is_some_and(|s| s.starts_with("2.")) {
        (Reason::Delivered, DecidedBy::EnhancedStatus)
    } else if matches!(action, "delivered" | "relayed" | "expanded") {
        (Reason::Delivered, DecidedBy::DsnAction)
    } else {
        let sig = |text, candidates| Signals {
            status: status.as_deref(),
            code,
            text,
            command,
            action: if action.is_empty() { None } else { Some(action) },
            candidates: Some(candidates),
        };
        let (primary, primary_candidates) = if diag.is_empty() {
            (context.text(), context.candidates(rules))
        } else {
            (diag.as_str(), &diag_candidates)
        };
        // Rung 1: the phrase rules, on the summary and the diagnostic; the
        // text around it (a report's boilerplate as often as evidence) only
        // when no status code speaks for the recipient, or when the code
        // that speaks was read in that text: its words are the same
        // statement (an X.400 gateway's "MTA '192.0.2.1' gives error
        // message 5.7.1 Unable to relay for a@b.example" beside a
        // Diagnostic-Code of its own that says nothing).
        let phrase = preamble
            .preamble_match(rules)
            .or_else(|| rules.first_match(&sig(primary, primary_candidates)))
            .or_else(|| {
                let by_status = status.as_deref().and_then(ladder::by_status).is_some() && !status_from_context;
                if diag.is_empty() || (by_status && !incomplete(diagnostic)) {
                    None
                } else {
                    rules.first_match(&sig(context.text(), context.candidates(rules)))
                }
            });
        match phrase {
            Some((reason, name)) => (reason, DecidedBy::Rule(name.to_string())),
            None => lower_rungs(
                status.as_deref(),
                code,
                command.and_then(SmtpCommand::parse),
                action,
                &ev.diagnostic_type,
                diag.is_empty(),
            ),
        }
    };
    let permanent = quoted_permanent.unwrap_or(match (status.as_deref(), code) {
        (Some(s), _) => s.starts_with('5'),
        (None, Some(c)) => c >= 500,
        (None, None) => true,
    });
    Decision { reason, hard: reason.is_hard(permanent), status, code, decided_by }
}

/// The status that speaks for the recipient, and whether it was read in the
/// text around the diagnostic (the report's context) rather than in the
/// diagnostic itself. `report` is the report's own `Status`, `relayed`
/// whether the diagnostic is a relay's wrapping of another server's reply,
/// `quoted` the status the diagnostic quotes, `around` the one the context
/// quotes.
fn chosen_status(
    report: &str,
    relayed: bool,
    diag: &str,
    quoted: Option<String>,
    around: Option<&str>,
) -> (Option<String>, bool) {
    let in_context = quoted.is_none();
    let text_status = quoted.or_else(|| around.map(str::to_string));
    // A relay's own code stands in only when the quoted reply has none, and
    // the report's own status only when the reporting MTA could read the
    // reply's: "550 #5.7.1 …" under Sendmail's "Status: 5.1.1" is a 5.7.1.
    let reply_status_missed = codes::hash_marked_status(diag).is_some();
    let own_status = if (relayed && text_status.is_some()) || reply_status_missed { "" } else { report };
    match (own_status, text_status) {
        ("", t) => (t, in_context),
        // A generic X.0.0, or the reporting MTA's own X.4.7 (it gave up),
        // gives way to the status of the server's reply the report quotes;
        // of any class when the diagnostic itself quotes it. Exim's "Status:
        // 5.0.0" over "421 4.4.2 … timeout exceeded: retry timeout exceeded"
        // (the server's 4.4.2 names the cause, the 5 only that Exim gave
        // up); Sendmail's "Status: 4.4.7" over a Diagnostic-Code "450 4.1.2
        // … Domain not found", or over a transcript's "<<< 421 4.3.1 Out of
        // disk space for temp file".
        (s, Some(t)) if ladder::is_reporters_verdict(s) && (t.get(..1) == s.get(..1) || !in_context) => {
            (Some(t), in_context)
        }
        (s, _) => (Some(s.to_string()), false),
    }
}

/// Rungs 2 to 4 of the ladder (see [`super::ladder`]), then `onhold`, or
/// `undefined` when there is not even a diagnostic.
fn lower_rungs(
    status: Option<&str>,
    code: Option<u16>,
    command: Option<SmtpCommand>,
    action: &str,
    diagnostic_type: &str,
    no_text: bool,
) -> (Reason, DecidedBy) {
    // A 4xx reply quoted under the reporting MTA's own expiry status is the
    // server's, and names the cause: Sendmail's "Status: 4.4.7" over "<<< 451
    // Error while writing spool file".
    let own_expiry = status.is_some_and(ladder::is_own_expiry);
    if let Some(r) = code.filter(|c| own_expiry && (400..500).contains(c)).and_then(|c| ladder::by_reply(c, command)) {
        return (r, DecidedBy::ReplyCode);
    }
    if let Some(r) = status.and_then(|s| ladder::by_status_at(s, command)) {
        return (r, DecidedBy::EnhancedStatus);
    }
    if let Some(r) = code.and_then(|c| ladder::by_reply(c, command)) {
        return (r, DecidedBy::ReplyCode);
    }
    if let Some(r) = ladder::by_dsn(action, status, diagnostic_type) {
        return (r, DecidedBy::DsnAction);
    }
    if let Some(r) = status.and_then(ladder::by_status_class) {
        return (r, DecidedBy::EnhancedStatus);
    }
    (if no_text && status.is_none() && code.is_none() { Reason::Undefined } else { Reason::OnHold }, DecidedBy::None)
}

/// A relay's verdict wrapping the remote server's reply, as Amazon SES
/// writes it: `5.1.0 - Unknown address error 550-'5.7.1 … Access denied'
/// (delivery attempts: 0)`. Returns the relay's status, the reply code and
/// the quoted reply, which is the better evidence: the relay's category
/// is a guess.
fn relayed_reply(diag: &str) -> Option<(&str, Option<u16>, &str)> {
    let (outer, rest) = diag.trim_start().split_once(" - ")?;
    let is_status = outer.split('.').count() == 3 && outer.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    if !is_status {
        return None;
    }
    let open = rest.find(|c: char| c.is_ascii_digit())?;
    let (category, reply) = rest.split_at(open);
    if !category.bytes().all(|b| b.is_ascii_alphabetic() || b == b' ') {
        return None;
    }
    let reply = reply.split(" (delivery attempts:").next().unwrap_or(reply);
    // `550-'…'`: the reply code, a dash or space, the reply in quotes.
    let code = reply.get(..3).and_then(|c| c.parse().ok());
    let quoted = reply.get(4..)?.trim();
    Some((outer, code, quoted.strip_prefix('\'').unwrap_or(quoted).trim_end_matches('\'')))
}

/// The most of a diagnostic kept for output. Real ones are shorter (the
/// longest in the development corpus has 1,588 bytes); a notice that pastes
/// pages of text would otherwise repeat them for each of its recipients.
const DIAGNOSTIC_LIMIT: usize = 2000;

/// The diagnostic on one line, cut after [`DIAGNOSTIC_LIMIT`] bytes.
fn one_line(s: &str) -> String {
    let mut out = String::new();
    for w in s.split_whitespace() {
        if out.len() + 1 + w.len() > DIAGNOSTIC_LIMIT {
            if out.is_empty() {
                out.push_str(w.get(..w.floor_char_boundary(DIAGNOSTIC_LIMIT)).unwrap_or(""));
            }
            out.push_str(" …");
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    out
}

fn non_empty(s: &str) -> Option<String> {
    if s.is_empty() { None } else { Some(s.to_string()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_diagnostic_is_one_line_and_bounded() {
        assert_eq!(one_line("550 5.1.1\n   user\tunknown "), "550 5.1.1 user unknown");
        let long = "word ".repeat(1000);
        let cut = one_line(&long);
        assert!(cut.ends_with(" …") && cut.len() <= DIAGNOSTIC_LIMIT + " …".len(), "{}", cut.len());
        assert!(cut.starts_with("word word"));
        // One enormous token keeps its start rather than vanishing.
        let token = "é".repeat(DIAGNOSTIC_LIMIT);
        let cut = one_line(&token);
        assert!(cut.starts_with("éé") && cut.ends_with(" …") && cut.len() <= DIAGNOSTIC_LIMIT + " …".len());
    }

    #[test]
    fn typographic_quotes_read_as_ascii_ones() {
        assert_eq!(
            normalize_text("The account  Doesn\u{2019}t exist: \u{201c}No\u{201d}"),
            "the account doesn't exist: \"no\""
        );
        let (reason, hard) = classify_smtp_reply(550, None, "Sorry, that mailbox doesn\u{2019}t exist here");
        assert_eq!((reason.as_str(), hard), ("userunknown", true));
        // The words decide, not the code.
        assert_ne!(classify_smtp_reply(550, None, "Sorry, that mailbox is here").0.as_str(), "userunknown");
    }
}
