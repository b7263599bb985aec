//! What one text of a report says, read once however many recipients share
//! it ([`Reading`]): its normalised form, the first failure status and
//! reply code in it, the rules and commands that could match it, the
//! preamble rule it meets, whether it says the message was given up and
//! the multi-line replies it quotes whole.
//! [`Readings`] keeps a report's readings by text, so that the report's
//! context (up to [`SHARED_LIMIT`](super::memo::SHARED_LIMIT)) is read once
//! for all its recipients, not once for each distinct reply.

use std::cell::OnceCell;
use std::collections::HashMap;
use std::rc::Rc;

use super::classify::final_notice;
use super::codes;
use super::fold::normalize_text;
use super::memo::Shared;
use super::multiline;
use super::prefilter::Candidates;
use super::reason::Reason;
use super::rules::Rules;

/// One text and what has been read from it so far; each part is computed
/// on first use. Valid for one set of [`Rules`].
pub(crate) struct Reading {
    raw: Shared,
    text: OnceCell<String>,
    status: OnceCell<Option<String>>,
    code: OnceCell<Option<u16>>,
    candidates: OnceCell<Candidates>,
    command: OnceCell<Option<String>>,
    preamble: OnceCell<Option<(Reason, String)>>,
    gave_up: OnceCell<bool>,
    replies: OnceCell<HashMap<String, String>>,
}

impl Reading {
    pub fn new(raw: Shared) -> Self {
        Self {
            raw,
            text: OnceCell::new(),
            status: OnceCell::new(),
            code: OnceCell::new(),
            candidates: OnceCell::new(),
            command: OnceCell::new(),
            preamble: OnceCell::new(),
            gave_up: OnceCell::new(),
            replies: OnceCell::new(),
        }
    }

    /// The text lower-cased with whitespace collapsed, as rules read it.
    pub fn text(&self) -> &str {
        self.text.get_or_init(|| normalize_text(&self.raw))
    }

    /// The first failure status code (`5.1.1`) in the text.
    pub fn failure_status(&self) -> Option<&str> {
        self.status.get_or_init(|| codes::first_failure_status(self.text())).as_deref()
    }

    /// The first reply code (`550`) in the text.
    pub fn reply_code(&self) -> Option<u16> {
        *self.code.get_or_init(|| codes::first_reply_code(self.text()))
    }

    /// The rule patterns and commands that could match the text.
    pub fn candidates(&self, rules: &Rules) -> &Candidates {
        self.candidates.get_or_init(|| rules.candidates(self.text()))
    }

    /// The SMTP command the text says the failure happened at.
    pub fn command(&self, rules: &Rules) -> Option<&str> {
        self.command.get_or_init(|| rules.command(self.text(), self.candidates(rules)).map(str::to_string)).as_deref()
    }

    /// The first rule whose `preamble` patterns match the text.
    pub fn preamble_match(&self, rules: &Rules) -> Option<(Reason, &str)> {
        self.preamble
            .get_or_init(|| rules.preamble_match(self.text()).map(|(r, name)| (r, name.to_string())))
            .as_ref()
            .map(|(r, name)| (*r, name.as_str()))
    }

    /// Whether the text has words saying the MTA gave the message up.
    pub fn gave_up(&self, rules: &Rules) -> bool {
        *self.gave_up.get_or_init(|| final_notice(rules, &self.raw))
    }

    /// The whole multi-line reply the text quotes whose first line is
    /// `first` (a diagnostic that holds only that line).
    pub fn whole_reply(&self, first: &str) -> Option<String> {
        multiline::whole_reply(|| self.replies.get_or_init(|| multiline::quoted_replies(&self.raw)), first)
    }
}

/// The most texts a report keeps readings of. A report's shared texts (its
/// whole text, its preamble) come first; past this, a text is read and not
/// kept, so a report of a hundred thousand different replies costs no
/// memory for them.
const READINGS_LIMIT: usize = 1024;

/// The readings of one report's texts, by text.
#[derive(Default)]
pub(crate) struct Readings(HashMap<Shared, Rc<Reading>>);

impl Readings {
    /// The reading of `text`, kept from an earlier call when there was one.
    pub fn of(&mut self, text: &Shared) -> Rc<Reading> {
        if let Some(r) = self.0.get(text) {
            return Rc::clone(r);
        }
        let r = Rc::new(Reading::new(text.clone()));
        if self.0.len() < READINGS_LIMIT {
            self.0.insert(text.clone(), Rc::clone(&r));
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_is_read_once_and_shared() {
        let mut readings = Readings::default();
        let text = Shared::from("Delivery FAILED:  550 5.1.1 <a@b.example> user unknown (in reply to RCPT TO command)");
        let a = readings.of(&text);
        let b = readings.of(&Shared::from(text.to_string()));
        assert!(Rc::ptr_eq(&a, &b), "an equal text in another allocation gets the same reading");
        assert_eq!(a.text(), normalize_text(&text));
        assert_eq!(a.failure_status(), Some("5.1.1"));
        assert_eq!(a.reply_code(), Some(550));
        assert_eq!(a.command(Rules::embedded()), Some("RCPT"));
    }

    #[test]
    fn past_the_limit_texts_are_read_but_not_kept() {
        let mut readings = Readings::default();
        for i in 0..READINGS_LIMIT + 10 {
            let r = readings.of(&Shared::from(format!("451 4.4.1 try again later ({i})")));
            assert_eq!(r.reply_code(), Some(451));
        }
        assert_eq!(readings.0.len(), READINGS_LIMIT);
    }
}
