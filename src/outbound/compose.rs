//! Composition: one contact + one step → the exact bytes to send.
//!
//! Every message is multipart/alternative (text + HTML) and carries:
//! - `Message-ID: <wb.ID.RANDOM@bounce_domain>`, ID being our message id,
//!   so a reply or a bounce quoting it maps back ([`parse_message_id`]);
//! - the VERP envelope sender `bounces+TOKEN@bounce_domain` and the same
//!   TOKEN in `X-Winback-Token` (complaint reports often keep only headers);
//! - `List-Unsubscribe` (HTTPS one-click URL and mailto) with
//!   `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058);
//! - `Feedback-ID: SEQUENCE:STEP:winback:SENDER`, STEP counted from 1;
//! - a DKIM signature when `[dkim]` is configured.
//!
//! The unsubscribe URL must be visible in both bodies. Templates place it
//! with `{{ unsubscribe_url }}`; when a rendered body does not contain it,
//! a short footer with the link is appended (before `</body>` in HTML), so
//! a forgotten variable never yields a message without a way out.
//!
//! The body filter hook runs last on both bodies (after the footers), so
//! the tracking part can add an open pixel and rewrite links.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use lettre::Message;
use lettre::message::dkim::DkimConfig as DkimSigner;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};

use super::dkim::{self, DkimKeyError};
use super::templates::{TemplateError, Templates, one_line};
use crate::bounce::{UNSUBSCRIBE_PREFIX, VERP_PREFIX};
use crate::clock::Clock;
use crate::config::{Config, SenderConfig};
use crate::domain::Contact;
use crate::token::{Keys, Purpose};

/// The two bodies of a message, as rendered (footers included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bodies {
    /// The text part.
    pub text: String,
    /// The HTML part.
    pub html: String,
}

/// The body transformation hook (tracking pixel, link rewriting).
pub type BodyFilter<'a> = &'a dyn Fn(Bodies) -> Bodies;

/// Why a message could not be composed.
#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    /// A template failed for this contact.
    #[error(transparent)]
    Template(#[from] TemplateError),
    /// An address lettre cannot put in a header.
    #[error("{what} `{value}` is not a usable address: {reason}")]
    Address {
        /// Which one (`[sender] from`, `recipient`, …).
        what: &'static str,
        /// The address as given.
        value: String,
        /// lettre's reason.
        reason: String,
    },
    /// The DKIM key cannot be used.
    #[error(transparent)]
    Dkim(#[from] DkimKeyError),
    /// lettre refused to build the message.
    #[error("cannot build the message: {0}")]
    Build(String),
}

/// One message to compose.
#[derive(Debug, Clone, Copy)]
pub struct OutgoingMessage<'a> {
    /// Our message id (store key).
    pub id: u64,
    /// The recipient.
    pub contact: &'a Contact,
    /// Sequence name.
    pub sequence: &'a str,
    /// 0-based step index in the sequence.
    pub step: usize,
    /// The step variant to send, if the step has variants.
    pub variant: Option<&'a str>,
}

/// A composed message, ready for a transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Composed {
    /// The `Message-ID` header value, with angle brackets.
    pub message_id: String,
    /// VERP envelope sender (`MAIL FROM`).
    pub envelope_from: String,
    /// Envelope recipient (`RCPT TO`).
    pub recipient: String,
    /// The RFC 5322 message, CRLF line ends, signed when DKIM is on.
    pub bytes: Vec<u8>,
}

/// Builds messages; cheap to share (`Arc`) between senders.
pub struct Composer {
    sender: SenderConfig,
    from: Mailbox,
    reply_to: Option<Mailbox>,
    keys: Keys,
    templates: Arc<Templates>,
    dkim: Option<DkimSigner>,
    clock: Clock,
}

impl std::fmt::Debug for Composer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Composer").field("from", &self.from).field("dkim", &self.dkim.is_some()).finish()
    }
}

impl Composer {
    /// Checks the sender addresses and the DKIM key once.
    pub fn new(cfg: &Config, keys: Keys, templates: Arc<Templates>) -> Result<Composer, ComposeError> {
        let s = &cfg.sender;
        let from = Mailbox::new(s.from_name.clone(), parse_addr("[sender] from", &s.from_addr)?);
        let reply_to = match &s.reply_to {
            Some(r) => Some(r.parse::<Mailbox>().map_err(|e| ComposeError::Address {
                what: "[sender] reply_to",
                value: r.clone(),
                reason: e.to_string(),
            })?),
            None => None,
        };
        // The VERP and mailto addresses must be valid too; check with a sample.
        parse_addr("[sender] bounce_domain", &format!("bounces@{}", s.bounce_domain))?;
        let dkim = cfg.dkim.as_ref().map(dkim::signer).transpose()?;
        Ok(Composer { sender: s.clone(), from, reply_to, keys, templates, dkim, clock: Clock::system() })
    }

    /// Uses `clock` for the `Date` header (tests with paused time).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The one-click unsubscribe URL of message `id`.
    pub fn unsubscribe_url(&self, id: u64) -> String {
        format!("{}/u/{}", self.sender.public_base_url, self.keys.sign(Purpose::Unsubscribe, id, 0))
    }

    /// The survey page URL of message `id`.
    pub fn survey_url(&self, id: u64) -> String {
        format!("{}/s/{}", self.sender.public_base_url, self.keys.sign(Purpose::Survey, id, 0))
    }

    /// The VERP envelope sender of message `id`.
    pub fn envelope_from(&self, id: u64) -> String {
        format!("{VERP_PREFIX}{}@{}", self.keys.sign(Purpose::Message, id, 0), self.sender.bounce_domain)
    }

    /// Renders and builds one message; `filter` transforms the bodies
    /// last.
    pub fn compose(&self, msg: &OutgoingMessage<'_>, filter: Option<BodyFilter<'_>>) -> Result<Composed, ComposeError> {
        let url = self.unsubscribe_url(msg.id);
        let survey = self.survey_url(msg.id);
        let links = super::templates::Links { unsubscribe: &url, survey: &survey };
        let rendered = self.templates.render_variant(
            msg.sequence,
            msg.step,
            msg.variant,
            msg.contact,
            &links,
            self.clock.now(),
        )?;
        let mut bodies =
            Bodies { text: with_text_footer(rendered.text, &url), html: with_html_footer(rendered.html, &url) };
        if let Some(filter) = filter {
            bodies = filter(bodies);
        }
        let Bodies { text, html } = bodies;

        // lettre refuses (by panicking) to format a name with CR/LF in it.
        let name = msg.contact.name.as_deref().map(one_line).filter(|n| !n.is_empty());
        let to = Mailbox::new(name, parse_addr("recipient", &msg.contact.email)?);
        let message_id = message_id(msg.id, &self.sender.bounce_domain);
        let token = self.keys.sign(Purpose::Message, msg.id, 0);
        let unsub_token = self.keys.sign(Purpose::Unsubscribe, msg.id, 0);
        let date = SystemTime::UNIX_EPOCH + Duration::from_millis(u64::try_from(self.clock.now()).unwrap_or(0));

        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .date(date)
            .subject(rendered.subject)
            .message_id(Some(message_id.clone()))
            .raw_header(header(
                "List-Unsubscribe",
                format!("<{url}>, <mailto:{UNSUBSCRIBE_PREFIX}{unsub_token}@{}>", self.sender.bounce_domain),
            ))
            .raw_header(header("List-Unsubscribe-Post", "List-Unsubscribe=One-Click".into()))
            .raw_header(header(
                "Feedback-ID",
                format!("{}:{}:winback:{}", msg.sequence, msg.step + 1, self.sender.feedback_id),
            ))
            .raw_header(header("X-Winback-Token", token.clone()));
        if let Some(r) = &self.reply_to {
            builder = builder.reply_to(r.clone());
        }
        let body = MultiPart::alternative().singlepart(SinglePart::plain(text)).singlepart(SinglePart::html(html));
        let mut message = builder.multipart(body).map_err(|e| ComposeError::Build(e.to_string()))?;
        if let Some(signer) = &self.dkim {
            message.sign(signer);
        }
        Ok(Composed {
            message_id,
            envelope_from: format!("{VERP_PREFIX}{token}@{}", self.sender.bounce_domain),
            recipient: msg.contact.email.clone(),
            bytes: message.formatted(),
        })
    }
}

/// `<wb.ID.RANDOM@domain>` for message `id`.
pub fn message_id(id: u64, domain: &str) -> String {
    format!("<wb.{id}.{:016x}@{domain}>", rand::random::<u64>())
}

/// Our message id from a `Message-ID` (or `In-Reply-To`/`References`
/// entry) we generated; `None` for anything else.
pub fn parse_message_id(value: &str) -> Option<u64> {
    let inner = value.trim().trim_start_matches('<').trim_end_matches('>');
    let (local, _domain) = inner.split_once('@')?;
    let rest = local.strip_prefix("wb.")?;
    let (id, random) = rest.split_once('.')?;
    if random.len() != 16 || !random.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    id.parse().ok()
}

fn parse_addr(what: &'static str, value: &str) -> Result<lettre::Address, ComposeError> {
    value.parse().map_err(|e: lettre::address::AddressError| ComposeError::Address {
        what,
        value: value.to_string(),
        reason: e.to_string(),
    })
}

fn header(name: &'static str, value: String) -> HeaderValue {
    HeaderValue::new(HeaderName::new_from_ascii_str(name), value)
}

fn with_text_footer(mut text: String, url: &str) -> String {
    if !text.contains(url) {
        if !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&format!("\n--\nUnsubscribe with one click: {url}\n"));
    }
    text
}

fn with_html_footer(mut html: String, url: &str) -> String {
    let escaped = super::templates::html_attr_escape(url);
    if html.contains(&escaped) || html.contains(url) {
        return html;
    }
    let footer = format!("<p style=\"font-size: small\"><a href=\"{escaped}\">Unsubscribe</a> with one click.</p>\n");
    match html.to_ascii_lowercase().rfind("</body>") {
        Some(at) => html.insert_str(at, &footer),
        None => html.push_str(&footer),
    }
    html
}

#[cfg(test)]
#[path = "compose_tests.rs"]
mod tests;
