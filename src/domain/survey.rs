//! The "reasons for leaving" survey: its `[survey]` config section (one
//! question, the choices), reading an answer from the page's form, and how
//! an answer is kept in the event it becomes.
//!
//! ```toml
//! [survey]
//! question = "Why did you stop shopping with us?"
//! other_max_chars = 300
//! [[survey.choice]]
//! key = "too_many_emails"
//! label = "You sent too many emails"
//! controllable = true           # something the shop can change
//! [[survey.choice]]
//! key = "moved_away"
//! label = "I moved away"
//! suppress = true               # ends the relationship: suppressed, reason `left`
//! [[survey.choice]]
//! key = "other"
//! label = "Something else"
//! other = true                  # shows a short free-text field
//! ```
//!
//! An answer is an event of kind `survey` whose `ref` is the choice key,
//! followed by `: ` and the free text for the "other" choice
//! ([`encode`], [`decode`]).

use serde::{Deserialize, Serialize};

use crate::config::ConfigError;

/// Longest free text by default, in characters.
pub const DEFAULT_OTHER_MAX: usize = 300;
/// Longest free text that can be configured.
const MAX_OTHER_MAX: usize = 2_000;

/// `[survey]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSurvey {
    /// The question on the page.
    pub question: Option<String>,
    /// Longest free text of the "other" choice, in characters.
    pub other_max_chars: Option<usize>,
    /// The choices, in page order.
    #[serde(default, rename = "choice")]
    pub choices: Vec<RawChoice>,
}

/// One `[[survey.choice]]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawChoice {
    /// Stable key, in reports and the store: `[a-z0-9_-]+`.
    pub key: String,
    /// What the page shows.
    pub label: String,
    /// Answering it suppresses the address (reason `left`).
    #[serde(default)]
    pub suppress: bool,
    /// A reason the shop can act on (for the report).
    #[serde(default)]
    pub controllable: bool,
    /// The "other" choice, with a short free text.
    #[serde(default)]
    pub other: bool,
}

/// One validated choice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Choice {
    /// Stable key.
    pub key: String,
    /// What the page shows.
    pub label: String,
    /// Answering it suppresses the address.
    pub suppress: bool,
    /// A reason the shop can act on.
    pub controllable: bool,
    /// Takes a free text.
    pub other: bool,
}

/// `[survey]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SurveyConfig {
    /// The question.
    pub question: String,
    /// The choices, in page order.
    pub choices: Vec<Choice>,
    /// Longest free text, in characters.
    pub other_max_chars: usize,
}

impl Default for SurveyConfig {
    fn default() -> Self {
        let c = |key: &str, label: &str, suppress, controllable, other| Choice {
            key: key.into(),
            label: label.into(),
            suppress,
            controllable,
            other,
        };
        SurveyConfig {
            question: "Why did you stop shopping with us?".into(),
            choices: vec![
                c("too_many_emails", "You sent too many emails", false, true, false),
                c("better_price", "I found a better price elsewhere", false, true, false),
                c("no_longer_needed", "I no longer need what you sell", false, false, false),
                c("bad_experience", "I had a bad experience", false, true, false),
                c("moved_away", "I moved away", true, false, false),
                c("other", "Something else", false, false, true),
            ],
            other_max_chars: DEFAULT_OTHER_MAX,
        }
    }
}

/// An answer as the form sent it, checked against the choices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The choice's key.
    pub choice: String,
    /// The free text of the "other" choice, cleaned; never empty.
    pub text: Option<String>,
}

/// The form field of the choice.
pub const CHOICE_FIELD: &str = "choice";
/// The form field of the free text.
pub const TEXT_FIELD: &str = "other_text";

impl SurveyConfig {
    /// The choice with `key`.
    pub fn choice(&self, key: &str) -> Option<&Choice> {
        self.choices.iter().find(|c| c.key == key)
    }

    /// Reads a urlencoded form body; the error says what to correct.
    pub fn read_answer(&self, body: &[u8]) -> Result<Answer, String> {
        let mut choice = None;
        let mut text = None;
        for (k, v) in form_urlencoded::parse(body) {
            match k.as_ref() {
                CHOICE_FIELD => choice = Some(v.into_owned()),
                TEXT_FIELD => text = Some(v.into_owned()),
                _ => {}
            }
        }
        let key = choice.ok_or("Please choose one of the answers.")?;
        let c = self.choice(&key).ok_or("Please choose one of the answers.")?;
        let text = match (c.other, text.map(|t| clean(&t))) {
            (true, Some(t)) if t.chars().count() > self.other_max_chars => {
                return Err(format!("Please shorten your answer to {} characters.", self.other_max_chars));
            }
            (true, Some(t)) if !t.is_empty() => Some(t),
            _ => None,
        };
        Ok(Answer { choice: c.key.clone(), text })
    }
}

/// Folds control characters and runs of white space to single spaces.
fn clean(text: &str) -> String {
    text.split(|c: char| c.is_whitespace() || c.is_control()).filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" ")
}

/// The `ref` of the event an answer becomes.
pub fn encode(answer: &Answer) -> String {
    match &answer.text {
        Some(t) => format!("{}: {t}", answer.choice),
        None => answer.choice.clone(),
    }
}

/// The choice key and free text of a survey event's `ref`.
pub fn decode(reference: &str) -> (&str, Option<&str>) {
    match reference.split_once(": ") {
        Some((k, t)) => (k, Some(t)),
        None => (reference, None),
    }
}

/// Validates `[survey]`; `file` names the config file in errors. Without
/// choices, the default ones.
pub fn validate(file: &str, raw: RawSurvey) -> Result<SurveyConfig, ConfigError> {
    let err = |key: String, message: String| ConfigError { file: file.to_string(), key, message };
    let default = SurveyConfig::default();
    let other_max_chars = raw.other_max_chars.unwrap_or(DEFAULT_OTHER_MAX);
    if !(1..=MAX_OTHER_MAX).contains(&other_max_chars) {
        return Err(err("[survey] other_max_chars".into(), format!("write a number from 1 to {MAX_OTHER_MAX}")));
    }
    let question = raw.question.map(|q| q.trim().to_string()).unwrap_or(default.question);
    if question.is_empty() {
        return Err(err("[survey] question".into(), "write the question the page asks".into()));
    }
    if raw.choices.is_empty() {
        return Ok(SurveyConfig { question, choices: default.choices, other_max_chars });
    }
    if raw.choices.len() < 2 {
        return Err(err("[survey] choice".into(), "give at least two choices".into()));
    }
    let mut choices: Vec<Choice> = Vec::with_capacity(raw.choices.len());
    for (i, rc) in raw.choices.into_iter().enumerate() {
        let key = |k: &str| format!("survey.choice[{i}].{k}");
        if !crate::config::valid_kind(&rc.key) {
            return Err(err(key("key"), format!("`{}`: keys are lower-case letters, digits, `_` and `-`", rc.key)));
        }
        if choices.iter().any(|c| c.key == rc.key) {
            return Err(err(key("key"), format!("`{}` is used by an earlier choice; keys must differ", rc.key)));
        }
        let label = rc.label.trim().to_string();
        if label.is_empty() || label.chars().count() > 200 {
            return Err(err(key("label"), "write what the page shows, 1 to 200 characters".into()));
        }
        if rc.other && choices.iter().any(|c| c.other) {
            return Err(err(key("other"), "only one choice can be the \"other\" choice with a free text".into()));
        }
        choices.push(Choice {
            key: rc.key,
            label,
            suppress: rc.suppress,
            controllable: rc.controllable,
            other: rc.other,
        });
    }
    Ok(SurveyConfig { question, choices, other_max_chars })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<SurveyConfig, ConfigError> {
        validate("t.toml", toml::from_str(text).unwrap_or_else(|e| panic!("{e}")))
    }

    #[test]
    fn defaults_and_checks() {
        assert_eq!(parse("").ok(), Some(SurveyConfig::default()));
        let two = "[[choice]]\nkey = \"a\"\nlabel = \"A\"\nsuppress = true\n[[choice]]\nkey = \"b\"\nlabel = \"B\"\nother = true\n";
        let c = parse(two).unwrap_or_default();
        assert_eq!(c.choices.len(), 2);
        assert!(c.choices[0].suppress && c.choices[1].other);
        let dup = two.replace("key = \"b\"", "key = \"a\"");
        assert!(parse(&dup).is_err_and(|e| e.key == "survey.choice[1].key"));
        assert!(parse(&two.replace("\"a\"", "\"A b\"")).is_err_and(|e| e.key == "survey.choice[0].key"));
        assert!(parse("other_max_chars = 0").is_err_and(|e| e.key == "[survey] other_max_chars"));
        let one = "[[choice]]\nkey = \"a\"\nlabel = \"A\"\n";
        assert!(parse(one).is_err());
    }

    #[test]
    fn answers_are_read_checked_and_kept_in_the_ref() {
        let c = SurveyConfig { other_max_chars: 20, ..SurveyConfig::default() };
        let a = c.read_answer(b"choice=moved_away&other_text=ignored").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a, Answer { choice: "moved_away".into(), text: None });
        let o = c.read_answer(b"choice=other&other_text=too%0Aslow+%20site").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(o.text.as_deref(), Some("too slow site"));
        assert_eq!(encode(&o), "other: too slow site");
        assert_eq!(decode(&encode(&o)), ("other", Some("too slow site")));
        assert_eq!(decode("moved_away"), ("moved_away", None));
        assert!(
            c.read_answer(b"choice=other&other_text=much+too+long+a+text+here")
                .is_err_and(|e| e.contains("20 characters"))
        );
        assert!(c.read_answer(b"choice=nope").is_err());
        assert!(c.read_answer(b"").is_err());
        assert_eq!(c.read_answer(b"choice=other&other_text=+").map(|a| a.text), Ok(None));
    }
}
